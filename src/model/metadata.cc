#include "model/metadata.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status_macros.h"

namespace pydepot::model {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;

// One physical line: [begin, content_end) is its text, [content_end, end) its terminator. Lines
// end at "\r\n", "\r" or "\n", as in the StringIO(newline='') that email.feedparser reads with.
struct Line {
  std::size_t begin = 0;
  std::size_t content_end = 0;
  std::size_t end = 0;
};

Line LineAt(std::string_view text, std::size_t pos) {
  Line line{pos, text.size(), text.size()};
  const std::size_t brk = text.find_first_of("\r\n", pos);
  if (brk != kNpos) {
    line.content_end = brk;
    line.end = brk + 1;
    if (text[brk] == '\r' && brk + 1 < text.size() && text[brk + 1] == '\n') {
      line.end = brk + 2;
    }
  }
  return line;
}

std::string_view Content(std::string_view text, const Line& line) {
  return text.substr(line.begin, line.content_end - line.begin);
}

std::string_view Terminator(std::string_view text, const Line& line) {
  return text.substr(line.content_end, line.end - line.content_end);
}

bool IsFoldWhitespace(char c) { return c == ' ' || c == '\t'; }

// feedparser's headerRE: r'^(From |[\041-\071\073-\176]*:|[\t ])'. Since ':' is outside the
// name class, the name alternative matches exactly when the first byte outside the class is ':'.
bool MatchesHeaderPattern(std::string_view content) {
  if (content.starts_with("From ")) {
    return true;
  }
  if (!content.empty() && IsFoldWhitespace(content.front())) {
    return true;
  }
  for (char c : content) {
    if (c == ':') {
      return true;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7e) {
      return false;
    }
  }
  return false;
}

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF are errors, as in Python's strict decoder), or kNpos.
std::size_t FindInvalidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    std::uint32_t smallest = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1Fu;
      smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0Fu;
      smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07u;
      smallest = 0x10000;
    } else {
      return i;
    }
    if (s.size() - i < length) {
      return i;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) {
        return i;
      }
      code_point = (code_point << 6) | (next & 0x3Fu);
    }
    if (code_point < smallest || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return kNpos;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::string_view StripFoldWhitespace(std::string_view s) {
  while (!s.empty() && IsFoldWhitespace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsFoldWhitespace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// The Description field keeps its line breaks; each continuation line loses the indentation that
// producers add: "       |" (the core metadata spec) or eight spaces (distutils/setuptools
// rfc822_escape). Other indentation is content (e.g. an indented code block in reST) and stays.
std::string UnfoldDescription(std::string_view text, const std::vector<Line>& lines,
                              std::size_t first, std::size_t last, std::string_view first_value) {
  std::string value(first_value);
  for (std::size_t i = first + 1; i <= last; ++i) {
    value.append(Terminator(text, lines[i - 1]));
    std::string_view content = Content(text, lines[i]);
    if (content.starts_with("       |") || content.starts_with("        ")) {
      content.remove_prefix(8);
    }
    value.append(content);
  }
  return value;
}

// Any other field is unfolded into one line: each line break plus the continuation's leading
// whitespace becomes a single space, and whitespace-only continuation lines vanish. This is what
// PyPI stores (pkginfo joins the stripped lines with spaces) and what a one-line field means.
std::string UnfoldField(std::string_view text, const std::vector<Line>& lines, std::size_t first,
                        std::size_t last, std::string_view first_value) {
  std::string value(first_value);
  for (std::size_t i = first + 1; i <= last; ++i) {
    std::string_view content = Content(text, lines[i]);
    while (!content.empty() && IsFoldWhitespace(content.front())) {
      content.remove_prefix(1);
    }
    if (content.empty()) {
      continue;
    }
    if (!value.empty()) {
      value.push_back(' ');
    }
    value.append(content);
  }
  return value;
}

// "major.minor", digits only. 1.x and 2.x are accepted (any minor: consumers should only warn on a
// newer minor version); a newer major version must be refused.
Status CheckMetadataVersion(std::string_view version) {
  const std::size_t dot = version.find('.');
  const auto all_digits = [](std::string_view s) {
    if (s.empty()) {
      return false;
    }
    for (char c : s) {
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  };
  if (dot == kNpos || !all_digits(version.substr(0, dot)) || !all_digits(version.substr(dot + 1))) {
    return InvalidArgumentError("metadata has an invalid Metadata-Version '" +
                                std::string(version) + "': expected 1.x or 2.x");
  }
  std::string_view major = version.substr(0, dot);
  while (major.size() > 1 && major.front() == '0') {
    major.remove_prefix(1);
  }
  if (major == "1" || major == "2") {
    return OkStatus();
  }
  if (major == "0") {
    return InvalidArgumentError("metadata has an invalid Metadata-Version '" +
                                std::string(version) + "': expected 1.x or 2.x");
  }
  return InvalidArgumentError("metadata has an unsupported Metadata-Version '" +
                              std::string(version) + "': only 1.x and 2.x can be read");
}

}  // namespace

StatusOr<CoreMetadata> CoreMetadata::Parse(std::string raw) {
  const std::string_view text = raw;
  if (const std::size_t bad = FindInvalidUtf8(text); bad != kNpos) {
    return InvalidArgumentError("metadata is not valid UTF-8 (invalid byte at offset " +
                                std::to_string(bad) + ")");
  }
  if (text.starts_with("\xEF\xBB\xBF")) {
    return InvalidArgumentError("metadata starts with a UTF-8 byte order mark");
  }

  // The header block runs to the first line that is neither a header nor a continuation. A blank
  // line there is the separator and is dropped; any other line is the first line of the body.
  std::vector<Line> lines;
  std::size_t pos = 0;
  std::size_t body_begin = text.size();
  while (pos < text.size()) {
    const Line line = LineAt(text, pos);
    const std::string_view content = Content(text, line);
    if (!MatchesHeaderPattern(content)) {
      body_begin = content.empty() ? line.end : line.begin;
      break;
    }
    lines.push_back(line);
    pos = line.end;
  }
  if (const std::size_t nul = text.find('\0'); nul != kNpos) {
    return InvalidArgumentError(std::string("metadata contains a NUL byte in the ") +
                                (nul < pos ? "headers" : "body") + " (offset " +
                                std::to_string(nul) + ")");
  }

  CoreMetadata metadata;
  // The rest mirrors FeedParser._parse_headers with policy compat32, defects included: a
  // continuation with no field to continue is dropped, as is a line starting with ':', and a
  // "From " line is the mbox envelope on the first line, pushed back into the body on the last
  // line and ignored elsewhere.
  std::string body_prefix;
  std::size_t field_first = kNpos;
  std::size_t field_last = kNpos;
  const auto flush = [&]() {
    if (field_first == kNpos) {
      return;
    }
    const std::string_view content = Content(text, lines[field_first]);
    const std::size_t colon = content.find(':');
    const std::string_view name = content.substr(0, colon);
    std::string_view first_value = content.substr(colon + 1);
    while (!first_value.empty() && IsFoldWhitespace(first_value.front())) {
      first_value.remove_prefix(1);
    }
    std::string value = EqualsIgnoreCase(name, "Description")
                            ? UnfoldDescription(text, lines, field_first, field_last, first_value)
                            : UnfoldField(text, lines, field_first, field_last, first_value);
    metadata.fields_.emplace_back(std::string(name), std::move(value));
    field_first = kNpos;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view content = Content(text, lines[i]);
    if (IsFoldWhitespace(content.front())) {
      if (field_first != kNpos) {
        field_last = i;
      }
      continue;
    }
    flush();
    if (content.starts_with("From ")) {
      if (i != 0 && i + 1 == lines.size()) {
        body_prefix = text.substr(lines[i].begin, lines[i].end - lines[i].begin);
      }
      continue;
    }
    if (content.front() == ':') {
      continue;
    }
    field_first = i;
    field_last = i;
  }
  flush();

  std::string body = body_prefix;
  body.append(text.substr(body_begin));

  // Single-use fields that identify the distribution must be unambiguous: Python's get() takes
  // the first, but packaging refuses a repeated single-use field, and an index must not pick one.
  const auto required = [&metadata](std::string_view field, std::string& out) -> Status {
    int count = 0;
    for (const auto& [name, value] : metadata.fields_) {
      if (EqualsIgnoreCase(name, field)) {
        ++count;
        out = std::string(StripFoldWhitespace(value));
      }
    }
    if (count == 0) {
      return InvalidArgumentError("metadata has no " + std::string(field) + " field");
    }
    if (count > 1) {
      return InvalidArgumentError("metadata has more than one " + std::string(field) + " field");
    }
    if (out.empty()) {
      return InvalidArgumentError("metadata has an empty " + std::string(field) + " field");
    }
    return OkStatus();
  };
  PYDEPOT_RETURN_IF_ERROR(required("Metadata-Version", metadata.metadata_version_));
  PYDEPOT_RETURN_IF_ERROR(CheckMetadataVersion(metadata.metadata_version_));
  PYDEPOT_RETURN_IF_ERROR(required("Name", metadata.name_));
  PYDEPOT_RETURN_IF_ERROR(required("Version", metadata.version_));

  metadata.description_ = body.empty() ? metadata.Get("Description") : std::move(body);
  metadata.raw_ = std::move(raw);
  return metadata;
}

std::string CoreMetadata::Get(std::string_view field) const {
  for (const auto& [name, value] : fields_) {
    if (EqualsIgnoreCase(name, field)) {
      return value;
    }
  }
  return "";
}

std::vector<std::string> CoreMetadata::GetAll(std::string_view field) const {
  std::vector<std::string> values;
  for (const auto& [name, value] : fields_) {
    if (EqualsIgnoreCase(name, field)) {
      values.push_back(value);
    }
  }
  return values;
}

bool CoreMetadata::Has(std::string_view field) const {
  for (const auto& [name, value] : fields_) {
    if (EqualsIgnoreCase(name, field)) {
      return true;
    }
  }
  return false;
}

}  // namespace pydepot::model
