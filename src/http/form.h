// Small request-data parsers for the web UI and the admin API: URL-encoded forms and query
// strings (through Boost.URL), and the Cookie header. Thread-compatible (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pydepot::http {

// `s` without leading and trailing spaces and tabs (optional whitespace in HTTP fields).
std::string_view TrimBlanks(std::string_view s);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool IsUtf8(std::string_view text);

// Decoded name/value pairs of an application/x-www-form-urlencoded body or a query string ('+'
// is a space), in order. nullopt when the text is not valid percent-encoding or not UTF-8.
using FormFields = std::vector<std::pair<std::string, std::string>>;
std::optional<FormFields> ParseUrlEncoded(std::string_view text);

// The first value of `name` in `fields`, or "" when absent.
std::string_view FormValue(const FormFields& fields, std::string_view name);

// The query string of a request target ("" when none): the part after the first '?'.
std::string_view QueryOf(std::string_view target);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "" when absent. Values are
// returned as sent (pydepot's own cookies need no decoding).
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace pydepot::http
