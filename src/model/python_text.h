// Python's notion of whitespace (str.isspace(), which re's \s and str.strip() use) over UTF-8
// text, shared by the version and specifier parsers so both strip input as packaging does.
// Internal to src/model. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace pydepot::model::internal {

// Length of the Python whitespace character starting at text[pos], or 0 when there is none.
std::size_t SpaceLengthAt(std::string_view text, std::size_t pos);

// Length of the whitespace character that ends `text`, or 0.
std::size_t SpaceLengthBefore(std::string_view text);

// `text` without leading and trailing Python whitespace.
std::string_view StripPythonSpace(std::string_view text);

}  // namespace pydepot::model::internal
