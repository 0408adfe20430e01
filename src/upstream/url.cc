// URL helpers for the upstream client: RFC 3986 reference resolution, origins, filenames.
//
// Written by hand rather than with Boost.URL: boost::urls::resolve() needs both URLs to parse
// strictly as RFC 3986 references, and the hrefs real index pages carry (spaces, non-ASCII
// bytes, stray backslashes) often do not, while pip and browsers accept them. Resolution itself
// (RFC 3986 section 5.2) is a few dozen lines; the tests check it against section 5.4.
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {
namespace {

// A URI reference split as in RFC 3986 appendix B, without its fragment.
struct Parts {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

bool IsSchemeStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool IsSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
}

Parts Split(std::string_view ref) {
  Parts parts;
  if (std::size_t hash = ref.find('#'); hash != std::string_view::npos) {
    ref = ref.substr(0, hash);
  }
  // A scheme is ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") followed by ':' before any '/', '?'.
  std::size_t colon = ref.find_first_of(":/?");
  if (colon != std::string_view::npos && ref[colon] == ':' && colon > 0 && IsSchemeStart(ref[0])) {
    bool valid = true;
    for (std::size_t i = 1; i < colon; ++i) {
      valid = valid && IsSchemeChar(ref[i]);
    }
    if (valid) {
      parts.scheme = ref.substr(0, colon);
      ref.remove_prefix(colon + 1);
    }
  }
  if (ref.starts_with("//")) {
    ref.remove_prefix(2);
    std::size_t end = ref.find_first_of("/?");
    parts.authority = ref.substr(0, end);
    ref = end == std::string_view::npos ? std::string_view() : ref.substr(end);
  }
  std::size_t question = ref.find('?');
  parts.path = ref.substr(0, question);
  if (question != std::string_view::npos) {
    parts.query = ref.substr(question + 1);
  }
  return parts;
}

// RFC 3986 section 5.2.4.
std::string RemoveDotSegments(std::string_view input) {
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) {  // A
      input.remove_prefix(3);
    } else if (input.starts_with("./")) {
      input.remove_prefix(2);
    } else if (input.starts_with("/./")) {  // B
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.starts_with("/../") || input == "/..") {  // C
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      std::size_t last = output.rfind('/');
      output.resize(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {  // D
      input = {};
    } else {  // E: the first segment, with its leading '/', moves to the output
      std::size_t next = input.find('/', 1);
      output.append(input.substr(0, next));
      input = next == std::string_view::npos ? std::string_view() : input.substr(next);
    }
  }
  return output;
}

// RFC 3986 section 5.2.3.
std::string Merge(const Parts& base, std::string_view ref_path) {
  if (base.authority && base.path.empty()) {
    return "/" + std::string(ref_path);
  }
  std::size_t slash = base.path.rfind('/');
  if (slash == std::string_view::npos) {
    return std::string(ref_path);
  }
  return std::string(base.path.substr(0, slash + 1)) + std::string(ref_path);
}

bool IsAsciiSpaceOrControl(char c) { return static_cast<unsigned char>(c) <= 0x20; }

// What browsers do before parsing an href: trim C0 controls and spaces, drop tabs and newlines.
std::string CleanRef(std::string_view ref) {
  while (!ref.empty() && IsAsciiSpaceOrControl(ref.front())) {
    ref.remove_prefix(1);
  }
  while (!ref.empty() && IsAsciiSpaceOrControl(ref.back())) {
    ref.remove_suffix(1);
  }
  std::string out;
  out.reserve(ref.size());
  for (char c : ref) {
    if (c != '\t' && c != '\n' && c != '\r') {
      out.push_back(c);
    }
  }
  return out;
}

// Percent-encodes the bytes that may not appear in a URL at all; everything else is kept.
std::string EncodeInvalid(std::string_view url) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(url.size());
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
        c == '`' || c == '{' || c == '|' || c == '}') {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

std::string ResolveUrl(std::string_view base_url, std::string_view ref_text) {
  const std::string cleaned = CleanRef(ref_text);
  const Parts base = Split(base_url);
  const Parts ref = Split(cleaned);
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string path;
  std::optional<std::string_view> query;
  if (ref.scheme) {
    scheme = ref.scheme;
    authority = ref.authority;
    path = RemoveDotSegments(ref.path);
    query = ref.query;
  } else {
    scheme = base.scheme;
    if (ref.authority) {
      authority = ref.authority;
      path = RemoveDotSegments(ref.path);
      query = ref.query;
    } else {
      authority = base.authority;
      if (ref.path.empty()) {
        path = std::string(base.path);
        query = ref.query ? ref.query : base.query;
      } else {
        path = RemoveDotSegments(ref.path.starts_with('/') ? std::string(ref.path)
                                                           : Merge(base, ref.path));
        query = ref.query;
      }
    }
  }
  // Section 5.3, component recomposition.
  std::string out;
  if (scheme) {
    out += AsciiLower(*scheme);
    out += ':';
  }
  if (authority) {
    out += "//";
    out += *authority;
  }
  out += path;
  if (query) {
    out += '?';
    out += *query;
  }
  return EncodeInvalid(out);
}

std::string UrlFilename(std::string_view url) {
  const Parts parts = Split(url);
  std::size_t slash = parts.path.rfind('/');
  return PercentDecode(slash == std::string_view::npos ? parts.path : parts.path.substr(slash + 1));
}

std::optional<UrlOrigin> HttpOrigin(std::string_view url) {
  const Parts parts = Split(url);
  if (!parts.scheme || !parts.authority) {
    return std::nullopt;
  }
  UrlOrigin origin;
  origin.scheme = AsciiLower(*parts.scheme);
  if (origin.scheme == "http") {
    origin.port = 80;
  } else if (origin.scheme == "https") {
    origin.port = 443;
  } else {
    return std::nullopt;
  }
  std::string_view host_port = *parts.authority;
  if (std::size_t at = host_port.rfind('@'); at != std::string_view::npos) {
    host_port.remove_prefix(at + 1);
  }
  std::string_view host = host_port;
  std::string_view port;
  if (host_port.starts_with('[')) {
    std::size_t close = host_port.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = host_port.substr(0, close + 1);
    std::string_view rest = host_port.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else if (std::size_t colon = host_port.find(':'); colon != std::string_view::npos) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (host.empty()) {
    return std::nullopt;
  }
  for (char c : host) {
    if (IsAsciiSpaceOrControl(c) || c == '/' || c == '\\' || c == '%' ||
        static_cast<unsigned char>(c) >= 0x7F) {
      return std::nullopt;
    }
  }
  if (!port.empty()) {
    int value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value <= 0 || value > 65535) {
      return std::nullopt;
    }
    origin.port = value;
  }
  origin.host = AsciiLower(host);
  return origin;
}

std::string RedactUrl(std::string_view url) {
  std::size_t start = url.find("//");
  if (start == std::string_view::npos) {
    return std::string(url);
  }
  start += 2;
  std::size_t end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? end : end - start);
  std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, start)) + std::string(url.substr(start + at + 1));
}

}  // namespace pydepot::upstream
