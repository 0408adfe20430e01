// Object keys: the one place that builds and parses them (docs/architecture.md, "Keys"), as
// LevelDB's db/filename.h is for file names. Every other module goes through these functions.
//
//   files/<project>/<filename>            a distribution file, exactly as uploaded
//   files/<project>/<filename>.metadata   a wheel's METADATA, byte for byte (PEP 658)
//   index/projects/<project>.json         the project document
//   index/projects.json                   the list of projects
//   auth/users.json                       users, roles, password hashes and API tokens
//   auth/session-key                      the key that signs browser sessions (32 random bytes)
//   upstream/projects/<project>.json      an upstream project's page, as the proxy cached it
//   upstream/files/<project>/<filename>   an upstream file (or its ".metadata"), as fetched
//   audit/<YYYY-MM-DD>/<time>-<hex>.json  one audit event (src/ops/audit.h), written create-only
//
// Everything under upstream/ is a cache of the upstream index (docs/upstream.md): the proxy
// rebuilds it on demand, and fsck neither reports nor repairs it.
//
// <project> is always the PEP 503 normalized name. Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/storage.h"

namespace pydepot::storage {

// The longest distribution filename a key can hold: a key segment has at most 255 bytes, and the
// file's ".metadata" key must fit as well. Upload validation rejects longer names up front.
inline constexpr std::size_t kMaxFilenameLength = kMaxKeySegmentLength - 9;  // ".metadata"

// The longest normalized project name a key can hold (its document key adds ".json").
inline constexpr std::size_t kMaxProjectLength = kMaxKeySegmentLength - 5;

// Builders. kInvalidArgument when `project` is not a PEP 503 normalized name (runs of [a-z0-9]
// joined by single '-', at most kMaxProjectLength bytes), or `filename` is not one key segment
// (see storage.h; '+' and '!' are fine), is longer than kMaxFilenameLength, or ends in
// ".metadata" (that suffix belongs to MetadataKey).
StatusOr<std::string> FileKey(std::string_view project, std::string_view filename);
// The key of the METADATA of the distribution `filename` (not of the ".metadata" name itself).
StatusOr<std::string> MetadataKey(std::string_view project, std::string_view filename);
StatusOr<std::string> ProjectDocKey(std::string_view project);
std::string ProjectListKey();
std::string UsersKey();
// Created create-only by the first instance that needs it, then only read (src/auth).
std::string SessionKeyKey();

// The upstream proxy's cache (src/upstream). kInvalidArgument for `project` as FileKey, and for
// `filename` as FileKey except that it may end in ".metadata" (the metadata of the file named by
// the rest, which must itself be a valid filename).
StatusOr<std::string> UpstreamPageKey(std::string_view project);
StatusOr<std::string> UpstreamFileKey(std::string_view project, std::string_view filename);

// Prefixes for Storage::List in maintenance commands (import, fsck, reindex).
std::string AllFilesPrefix();     // "files/": files and metadata of every project
std::string ProjectDocsPrefix();  // "index/projects/": every project document
// "files/<project>/". kInvalidArgument as FileKey for `project`.
StatusOr<std::string> ProjectFilesPrefix(std::string_view project);
std::string UpstreamPrefix();  // "upstream/": the upstream proxy's cache

// The audit trail (docs/operations.md): one object per event, never rewritten.
// audit/<YYYY-MM-DD>/<YYYY-MM-DD>T<HHMMSS>.<micros>Z-<nonce>.json: the time in ISO 8601 basic
// form (':' is not allowed in keys), so keys sort by time. kInvalidArgument when `nonce` is not
// 1 to 64 lowercase hex digits or the time is before 1970 or after 9999.
StatusOr<std::string> AuditKey(std::int64_t time_micros, std::string_view nonce);
std::string AuditPrefix();  // "audit/"
// "audit/<day>/". kInvalidArgument unless `day` is YYYY-MM-DD.
StatusOr<std::string> AuditDayPrefix(std::string_view day);

// What a key names, for walking a List result.
enum class KeyKind {
  kFile,         // FileKey
  kMetadata,     // MetadataKey
  kProjectDoc,   // ProjectDocKey
  kProjectList,  // ProjectListKey
  kUsers,        // UsersKey or SessionKeyKey: the auth objects
  kUpstream,     // anything under UpstreamPrefix(): the upstream proxy's cache
  kAudit,        // anything under AuditPrefix(): the audit trail
  kUnknown,      // none of the above: a stray object (fsck reports it)
};
KeyKind ClassifyKey(std::string_view key);

struct FileKeyParts {
  std::string project;   // normalized
  std::string filename;  // the distribution's filename (for a metadata key too)
};

// The inverses of the builders: each accepts exactly the keys its builder makes, so
// Parse(Build(x)) == x. kInvalidArgument for any other key.
StatusOr<FileKeyParts> ParseFileKey(std::string_view key);
StatusOr<FileKeyParts> ParseMetadataKey(std::string_view key);
StatusOr<std::string> ParseProjectDocKey(std::string_view key);  // the project

}  // namespace pydepot::storage
