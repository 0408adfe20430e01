#include "model/python_text.h"

namespace pydepot::model::internal {

// Length of the Python whitespace character (str.isspace(), which is what re's \s and
// str.strip() use) starting at text[pos] in UTF-8, or 0 when there is none.
std::size_t SpaceLengthAt(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) {
    return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : 0u;
  };
  const unsigned b0 = byte(0);
  if ((b0 >= 0x09 && b0 <= 0x0d) || (b0 >= 0x1c && b0 <= 0x20)) {
    return 1;
  }
  if (b0 == 0xc2 && (byte(1) == 0x85 || byte(1) == 0xa0)) {  // NEL, NO-BREAK SPACE
    return 2;
  }
  const unsigned b1 = byte(1);
  const unsigned b2 = byte(2);
  if (b0 == 0xe1 && b1 == 0x9a && b2 == 0x80) {  // U+1680
    return 3;
  }
  if (b0 == 0xe2 && b1 == 0x80 &&
      ((b2 >= 0x80 && b2 <= 0x8a) || b2 == 0xa8 || b2 == 0xa9 || b2 == 0xaf)) {
    return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
  }
  if ((b0 == 0xe2 && b1 == 0x81 && b2 == 0x9f) || (b0 == 0xe3 && b1 == 0x80 && b2 == 0x80)) {
    return 3;  // U+205F, U+3000
  }
  return 0;
}

// Length of the whitespace character that ends text, or 0. Each candidate is a complete
// character, so this agrees with a forward scan on valid UTF-8.
std::size_t SpaceLengthBefore(std::string_view text) {
  for (std::size_t length = 1; length <= 3 && length <= text.size(); ++length) {
    if (SpaceLengthAt(text, text.size() - length) == length) {
      return length;
    }
  }
  return 0;
}

std::string_view StripPythonSpace(std::string_view text) {
  while (std::size_t n = SpaceLengthAt(text, 0)) {
    text.remove_prefix(n);
  }
  while (std::size_t n = SpaceLengthBefore(text)) {
    text.remove_suffix(n);
  }
  return text;
}

}  // namespace pydepot::model::internal
