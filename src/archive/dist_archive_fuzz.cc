// libFuzzer target: reading the metadata out of untrusted archive bytes.
// The first input byte picks the distribution the rest is read as: even, the wheel
// demo_pkg-1.0-py3-none-any.whl; odd, the sdist demo_pkg-1.0.tar.gz (the seeds in
// tests/fuzz/corpus/dist_archive_fuzz/ are built by tests/fuzz/make_seeds.py).
// Limits are lowered from the defaults so that one input stays within the fuzzer's time budget.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "archive/dist_archive.h"
#include "base/check.h"
#include "model/filename.h"

namespace {

pydepot::model::DistFilename Fixed(std::string_view filename) {
  auto parsed = pydepot::model::ParseDistFilename(filename);
  PYDEPOT_CHECK(parsed.has_value());
  return *parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pydepot::model::DistFilename kWheel = Fixed("demo_pkg-1.0-py3-none-any.whl");
  static const pydepot::model::DistFilename kSdist = Fixed("demo_pkg-1.0.tar.gz");
  if (size == 0) {
    return 0;
  }
  pydepot::archive::ArchiveLimits limits;
  limits.max_metadata_bytes = 1 << 20;
  limits.max_entries = 10000;
  limits.max_uncompressed_bytes = 64 << 20;
  limits.ratio_threshold_bytes = 1 << 20;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto& name = (data[0] & 1) == 0 ? kWheel : kSdist;
  auto metadata = pydepot::archive::ReadDistMetadataFromMemory(bytes, name, limits);
  if (metadata.has_value()) {
    PYDEPOT_CHECK(metadata->contents.size() <= static_cast<std::size_t>(limits.max_metadata_bytes));
    PYDEPOT_CHECK(!metadata->member.empty());
  }
  return 0;
}
