// Reading the core metadata out of a distribution archive (wheel: {name}-{version}.dist-info/
// METADATA; sdist: {top}/PKG-INFO) with libarchive, bounded against hostile archives.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"
#include "model/filename.h"

namespace pydepot::archive {

struct ArchiveLimits {
  // Largest metadata member accepted (METADATA / PKG-INFO).
  std::int64_t max_metadata_bytes = 8 << 20;
  // Most members scanned before giving up.
  std::int64_t max_entries = 200000;
  // Most bytes decompressed while scanning (tar streams must be decompressed to be walked).
  std::int64_t max_uncompressed_bytes = std::int64_t{4} << 30;
  // An archive that unpacks to more than this many times its packed size, once past
  // ratio_threshold_bytes, is a bomb (PyPI: 50x past 64 MiB).
  std::int64_t max_ratio = 50;
  std::int64_t ratio_threshold_bytes = std::int64_t{64} << 20;
};

struct DistMetadata {
  std::string member;    // the path inside the archive it was read from
  std::string contents;  // its bytes, exactly
};

// Reads the metadata member of the distribution `name` describes (its kind, name part and
// version part pick the member) from the file at `path`.
// Errors (all kInvalidArgument, message starting with what is wrong, e.g. "wheel has no
// foo-1.0.dist-info/METADATA"): not an archive, corrupt or truncated, the member missing or
// present twice, a wheel without WHEEL or RECORD, an sdist without a single top-level directory,
// a member path that is absolute or contains "..", a member larger than the limits, more data
// or entries than the limits, an unsupported kind (eggs and other legacy binaries).
StatusOr<DistMetadata> ReadDistMetadata(const std::filesystem::path& path,
                                        const model::DistFilename& name,
                                        const ArchiveLimits& limits = {});

// The same from bytes in memory.
StatusOr<DistMetadata> ReadDistMetadataFromMemory(std::string_view bytes,
                                                  const model::DistFilename& name,
                                                  const ArchiveLimits& limits = {});

}  // namespace pydepot::archive
