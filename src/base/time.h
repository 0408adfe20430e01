// Time stamps as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pydepot {

// An RFC 3339 date-time ("2024-01-02T03:04:05.123456Z", "...+02:00"; 't' and ' ' accepted for
// 'T', 'z' for 'Z'; a leap second ":60" is the last microsecond of its minute) as microseconds
// since the Unix epoch, UTC. Digits past microseconds are dropped. nullopt when malformed. Reads
// GCS object times and the upload times of upstream indexes.
std::optional<std::int64_t> ParseRfc3339Micros(std::string_view text);

}  // namespace pydepot
