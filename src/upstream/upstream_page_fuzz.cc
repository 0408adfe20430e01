// libFuzzer target: the upstream page parsers (ParseSimpleHtml, ParseSimpleJson) and
// ResolveUrl on arbitrary bytes. Byte 0 picks the parser (even: HTML, odd: JSON); the rest is the
// page, as fetched from https://upstream.example/simple/demo/ for project "demo".
//
// Checked on every page that parses: each file has a 64-digit lowercase hex sha256, an
// http(s) URL without a fragment, a filename that is a distribution filename of "demo" with no
// path separator or control character (it becomes a storage key), unique filenames, and a
// metadata sha256 that is empty or 64 lowercase hex digits. ResolveUrl never crashes and its
// result is absolute: the base's scheme, or the reference's own.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "base/check.h"
#include "model/filename.h"
#include "upstream/upstream.h"

namespace {

constexpr std::string_view kPageUrl = "https://upstream.example/simple/demo/";

bool IsLowerHex64(std::string_view text) {
  if (text.size() != 64) {
    return false;
  }
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto page = (data[0] & 1) != 0 ? pydepot::upstream::ParseSimpleJson(body, kPageUrl, "demo")
                                 : pydepot::upstream::ParseSimpleHtml(body, kPageUrl, "demo");
  if (page.has_value()) {
    std::set<std::string> seen;
    for (const auto& file : page->files) {
      PYDEPOT_CHECK(IsLowerHex64(file.sha256));
      PYDEPOT_CHECK(file.url.starts_with("http://") || file.url.starts_with("https://"));
      PYDEPOT_CHECK(file.url.find('#') == std::string::npos);
      PYDEPOT_CHECK(!file.filename.empty());
      for (unsigned char c : file.filename) {
        PYDEPOT_CHECK(c >= 0x20 && c != 0x7f && c != '/' && c != '\\');
      }
      PYDEPOT_CHECK(pydepot::model::ParseDistFilename(file.filename, "demo").has_value());
      PYDEPOT_CHECK(seen.insert(file.filename).second);
      PYDEPOT_CHECK(file.metadata_sha256.empty() || IsLowerHex64(file.metadata_sha256));
    }
  }
  // A reference resolves against the https base, unless it names a scheme of its own (then the
  // result starts with that scheme, which the parsers drop unless it is http or https).
  const std::string resolved = pydepot::upstream::ResolveUrl(kPageUrl, body.substr(0, 512));
  if (!resolved.starts_with("https://") && !resolved.starts_with("http://")) {
    const std::size_t colon = resolved.find(':');
    PYDEPOT_CHECK(colon != std::string::npos && colon > 0);
    PYDEPOT_CHECK(std::isalpha(static_cast<unsigned char>(resolved[0])));
    for (std::size_t i = 0; i < colon; ++i) {
      const auto c = static_cast<unsigned char>(resolved[i]);
      PYDEPOT_CHECK(std::isalnum(c) || c == '+' || c == '-' || c == '.');
    }
  }
  return 0;
}
