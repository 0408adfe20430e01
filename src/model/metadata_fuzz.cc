// libFuzzer target: core metadata (METADATA / PKG-INFO) on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/check.h"
#include "model/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  auto metadata = pydepot::model::CoreMetadata::Parse(raw);
  if (!metadata.has_value()) {
    PYDEPOT_CHECK(metadata.error().code() == pydepot::StatusCode::kInvalidArgument);
    return 0;
  }
  PYDEPOT_CHECK(metadata->raw() == raw);
  PYDEPOT_CHECK(!metadata->name().empty());
  PYDEPOT_CHECK(!metadata->version().empty());
  PYDEPOT_CHECK(!metadata->metadata_version().empty());
  PYDEPOT_CHECK(metadata->Has("Name"));
  PYDEPOT_CHECK(metadata->Has("metadata-version"));
  for (const auto& [field, value] : metadata->fields()) {
    PYDEPOT_CHECK(metadata->Has(field));
    PYDEPOT_CHECK(!metadata->GetAll(field).empty());
  }
  (void)metadata->Get("Summary");
  (void)metadata->GetAll("Requires-Dist");
  (void)metadata->description();
  return 0;
}
