// Checking a store (`pydepot fsck`): every file a project document lists is stored with its
// listed size and sha256, every wheel's .metadata with its listed sha256; the project list and
// the project documents agree; no object is left that nothing lists (an orphan: an upload that
// stopped between storing its file and listing it, docs/consistency.md); every document
// decodes. With repair, fixes what can be fixed without losing or changing anything accepted
// (docs/fsck.md): it never writes a listed file or a document, and deletes only orphans and
// temp files older than a grace period. Safe to run beside live servers. Thread-safe: each call
// is independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/dist_archive.h"
#include "base/status.h"
#include "index/index.h"
#include "storage/storage.h"

namespace pydepot::index {

enum class FsckProblemKind {
  kBadDocument,            // a project document or the project list that cannot be used
  kMissingFile,            // listed, but not stored
  kDamagedFile,            // stored with another size or sha256 than listed
  kMissingMetadata,        // a wheel listed with a metadata hash, but no .metadata stored
  kDamagedMetadata,        // .metadata stored with another sha256 than listed
  kUnlistedProject,        // a project document that the project list does not name
  kListedWithoutDocument,  // a project list entry without a project document, or of a deleted one
  kDisplayNameMismatch,    // the list spells the project otherwise than its document
  kOrphanFile,             // files/<project>/<filename> that no document lists
  kOrphanMetadata,         // the .metadata of a distribution that no document lists
  kStrayObject,            // a key pydepot never writes
  kTempFile,               // a local store's temp file (.tmp/) left by an unfinished write
};

// "missing-file", "orphan-file", ...: stable names for output and scripts.
std::string_view FsckProblemKindName(FsckProblemKind kind);

enum class FsckRepair {
  kNone,      // no repair was attempted (not asked for, or nothing can be done safely)
  kRepaired,  // fixed
  kSkipped,   // asked for, but left alone (too young, changed meanwhile, or failed): see outcome
};

struct FsckProblem {
  FsckProblemKind kind = FsckProblemKind::kStrayObject;
  std::string key;      // the object concerned (a temp file: its path)
  std::string project;  // normalized; "" when none
  std::string found;    // what is wrong, in a few words
  std::string meaning;  // what it means for the index and its users
  std::string repair;   // what --repair does about it ("nothing: ..." when it cannot)
  FsckRepair repaired = FsckRepair::kNone;
  std::string outcome;  // with repair: what was done, or why not
};

struct FsckOptions {
  bool repair = false;
  // Orphans and temp files younger than this are reported but never deleted: an upload in
  // flight stores its file a moment before it lists it.
  std::chrono::seconds orphan_age{3600};
  // Files checked at once (each streamed and hashed).
  int jobs = 4;
  // Where a wheel is copied to read its METADATA, and an orphan before it is deleted (so it can
  // be put back if an upload lists it meanwhile). "" for the system's temp directory.
  std::filesystem::path temp_dir;
  archive::ArchiveLimits archive_limits;
  // Current time, microseconds since the epoch (injectable for tests).
  std::function<std::int64_t()> now_micros;
};

struct FsckReport {
  int projects = 0;          // project documents read
  int files = 0;             // listed files checked
  std::int64_t bytes = 0;    // bytes hashed
  std::int64_t objects = 0;  // keys in the store
  int temp_files = 0;        // temp files seen (local stores)
  std::vector<FsckProblem> problems;

  // Problems not repaired (all of them without repair).
  int Remaining() const;
};

// Checks the store `index` reads and writes (repairs go through `index` and its storage).
// Problems are reported in the order: documents, then each project's files, list entries,
// orphans, stray objects, temp files. Errors: kUnavailable / kInternal when the store fails
// (nothing can be concluded then); a failed repair is reported on its problem instead.
StatusOr<FsckReport> Fsck(Index& index, const FsckOptions& options = {});

}  // namespace pydepot::index
