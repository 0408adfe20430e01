// The fields of a legacy-API upload (multipart/form-data), as collected from the request body
// by http/ and validated by the index. Plain value; thread-compatible.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/hash.h"

namespace pydepot::doc {

// The `content` part: already written to a temp file while its digests were computed.
struct UploadedFile {
  std::string filename;        // from Content-Disposition, as sent
  std::string content_type;    // the part's Content-Type, "" when none was sent
  std::filesystem::path path;  // temp file holding the bytes (owned by the caller)
  std::int64_t size = 0;
  Digests digests;
};

struct UploadForm {
  // Text fields in arrival order per name. Empty strings and "UNKNOWN" are kept here; the
  // validator treats them as absent (STANDARDS UP-04).
  std::map<std::string, std::vector<std::string>> fields;
  // Names of non-content fields that arrived as file parts (rejected: "Should not be a tuple").
  std::vector<std::string> file_fields;
  std::optional<UploadedFile> content;

  // The first non-empty, non-"UNKNOWN" value of `name`, or "".
  std::string Get(std::string_view name) const;
  // Every non-empty, non-"UNKNOWN" value of `name`.
  std::vector<std::string> GetAll(std::string_view name) const;
};

}  // namespace pydepot::doc
