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
// kNotFound when `path` does not exist.
//
// Wheels must be zip files, read from the central directory (as Python's zipfile does). The
// member is `{name_part}-{version_part}.dist-info/METADATA` exactly; when no such directory
// exists, a single top-level `*.dist-info` directory whose `{name}-{version}` normalizes to the
// same (PEP 503 rules: case-insensitive, runs of '-', '_', '.' equal) is used instead, as
// older tools spelled it differently; two such directories are an error. DistMetadata.member
// says which was read. WHEEL and RECORD must sit next to METADATA.
// Sdists may be tar (ustar, pax, GNU; plain or gzip, bzip2, xz, lzma, lzip, zstd, compress)
// or zip, whatever the extension says. The first path part of every member (after "./") must
// be the same directory `{top}`, and `{top}/PKG-INFO` must exist once; `{top}` itself is not
// compared with the filename.
// Every member of either kind is checked, whichever is read: besides the path rules above, the
// archive is refused for a symbolic link whose target is absolute, leaves the archive or goes
// through another link, a member inside a symbolic link, a hard link to an unsafe path, device
// files, FIFOs, sparse or encrypted members, and paths that are not valid in their encoding.
// Bombs: the sum of the declared sizes (known without decompressing) and the bytes actually
// decompressed are both held to max_ratio once past ratio_threshold_bytes. max_uncompressed_bytes
// bounds the bytes decompressed and, for tar, whose members must all be decompressed to walk
// past them, the declared sizes too. Memory stays bounded by max_metadata_bytes plus
// libarchive's own buffers (for a zip, its index of the central directory).
StatusOr<DistMetadata> ReadDistMetadata(const std::filesystem::path& path,
                                        const model::DistFilename& name,
                                        const ArchiveLimits& limits = {});

// The same from bytes in memory.
StatusOr<DistMetadata> ReadDistMetadataFromMemory(std::string_view bytes,
                                                  const model::DistFilename& name,
                                                  const ArchiveLimits& limits = {});

}  // namespace pydepot::archive
