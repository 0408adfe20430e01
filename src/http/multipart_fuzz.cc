// libFuzzer target: the multipart parser and the upload collector on untrusted bodies.
// The first input byte picks the chunk size the rest is fed in (0: one chunk, n: n bytes), so
// delimiters and header lines get split everywhere. The boundary is fixed, "fuzzb" (the seeds
// in tests/fuzz/corpus/multipart_fuzz/ use it). Checked:
//  - chunking never changes the outcome: the parts, their bytes and the status equal a
//    one-chunk parse;
//  - the collector's content file holds exactly `size` bytes, and is gone once the collector
//    is destroyed, whatever happened.
// Temp files go to a per-process directory under /tmp. Limits are lowered from the defaults.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "base/check.h"
#include "base/status.h"
#include "http/multipart.h"

namespace {

using pydepot::OkStatus;
using pydepot::Status;
using pydepot::http::FormLimits;
using pydepot::http::MultipartHandler;
using pydepot::http::MultipartLimits;
using pydepot::http::MultipartParser;
using pydepot::http::PartHeaders;
using pydepot::http::UploadFormCollector;

constexpr char kBoundary[] = "fuzzb";

MultipartLimits Limits() {
  MultipartLimits limits;
  limits.max_part_header_bytes = 1024;
  limits.max_parts = 64;
  return limits;
}

// Writes every event into one string, so two parses compare with ==.
class Transcript : public MultipartHandler {
 public:
  Status OnPartBegin(const PartHeaders& headers) override {
    text += "<begin " + headers.name + "|" + headers.filename.value_or("(none)") + "|" +
            headers.content_type + ">";
    return OkStatus();
  }
  Status OnPartData(std::string_view bytes) override {
    PYDEPOT_CHECK(!bytes.empty());
    text += bytes;
    return OkStatus();
  }
  Status OnPartEnd() override {
    text += "<end>";
    return OkStatus();
  }

  std::string text;
};

Status Run(std::string_view body, std::size_t chunk, MultipartHandler& handler) {
  MultipartParser parser(kBoundary, handler, Limits());
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    if (Status status = parser.Feed(body.substr(at, chunk)); !status.ok()) {
      return status;
    }
  }
  return parser.Finish();
}

const std::filesystem::path& TempDir() {
  static const std::filesystem::path kDir = [] {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("pydepot_multipart_fuzz_" + std::to_string(::getpid()));
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    PYDEPOT_CHECK(!ec);
    return path;
  }();
  return kDir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t chunk = data[0] == 0 ? body.size() + 1 : data[0];

  Transcript whole;
  const Status whole_status = Run(body, body.size() + 1, whole);
  Transcript chunked;
  const Status chunked_status = Run(body, chunk, chunked);
  PYDEPOT_CHECK(whole_status == chunked_status);
  PYDEPOT_CHECK(whole.text == chunked.text);

  std::filesystem::path content_path;
  {
    FormLimits form_limits;
    form_limits.max_field_bytes = 64 << 10;
    form_limits.max_fields_total = 256 << 10;
    UploadFormCollector collector(TempDir(), form_limits);
    const Status status = Run(body, chunk, collector);
    if (status.ok() && collector.form().content.has_value()) {
      const pydepot::doc::UploadedFile& content = *collector.form().content;
      content_path = content.path;
      std::error_code ec;
      PYDEPOT_CHECK(std::filesystem::file_size(content_path, ec) ==
                    static_cast<std::uintmax_t>(content.size));
      PYDEPOT_CHECK(!ec);
    }
  }
  std::error_code ec;
  PYDEPOT_CHECK(content_path.empty() || !std::filesystem::exists(content_path, ec));
  return 0;
}
