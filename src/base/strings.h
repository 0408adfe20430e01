// Small ASCII string helpers shared by the protocol code (HTTP headers, URLs, media types),
// where case rules are ASCII's and never the locale's.
#pragma once

#include <string>
#include <string_view>

namespace pydepot {

// `text` with A-Z lowered; every other byte as it is.
std::string AsciiLower(std::string_view text);

// True when `a` and `b` are equal ignoring ASCII case.
bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b);

// An HTTP header line's value or name without the blanks around it: spaces and tabs at the
// front, and spaces, tabs, CR and LF at the back (libcurl hands header lines over with CRLF).
std::string_view TrimHeaderBlanks(std::string_view text);

}  // namespace pydepot
