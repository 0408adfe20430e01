// Storage: the only way pydepot reads and writes persistent state. Backends (local directory,
// memory, later S3 and GCS) implement these primitives with the store's own guarantees; the
// index builds create-only file writes and compare-and-swap document updates on top of them.
//
// Keys are '/'-separated relative paths of [A-Za-z0-9._+!~-] segments (see keys.h); no segment
// is empty or starts with '.' (so no "." or "..", and names such as the local backend's ".tmp"
// stay private), a segment has at most 255 bytes and a key at most 1024. A key must not also be
// the directory of another key ("a" and "a/b"): the local backend cannot hold both. Every method
// rejects a malformed key with kInvalidArgument, before touching the store.
//
// Every method is thread-safe, and the operations on one key are atomic as seen by other
// instances on the same store: a reader sees a whole old object or a whole new one, never a mix.
// I/O failures are kUnavailable (likely transient), kResourceExhausted (disk full) or kInternal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pydepot::storage {

struct ObjectInfo {
  std::int64_t size = 0;
  // Opaque version token of the stored bytes: changes whenever the object is replaced (S3 ETag,
  // GCS generation, local: inode+mtime+size). Used for compare-and-swap and HTTP validators.
  std::string etag;
  // Last modification time, microseconds since the Unix epoch.
  std::int64_t modified_micros = 0;
};

struct Object {
  std::string data;
  ObjectInfo info;
};

// A sequential reader over a range of one object. Not thread-safe; one reader per stream.
class ReadStream {
 public:
  ReadStream() = default;
  ReadStream(const ReadStream&) = delete;
  ReadStream& operator=(const ReadStream&) = delete;
  ReadStream(ReadStream&&) = delete;
  ReadStream& operator=(ReadStream&&) = delete;
  virtual ~ReadStream() = default;
  // Reads up to `n` bytes into `buf`. Returns the number read; 0 means the range is exhausted.
  // kUnavailable / kInternal on I/O failures.
  virtual StatusOr<std::size_t> Read(char* buf, std::size_t n) = 0;
};

class Storage {
 public:
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage(Storage&&) = delete;
  Storage& operator=(Storage&&) = delete;
  virtual ~Storage() = default;

  // A short description for logs and errors: "file:///srv/pydepot", "memory".
  virtual std::string Describe() const = 0;

  // Size, etag and time of `key`. kNotFound when absent.
  virtual StatusOr<ObjectInfo> Head(std::string_view key) = 0;

  // The whole object. Meant for small objects (index documents, metadata files).
  // kNotFound when absent.
  virtual StatusOr<Object> Get(std::string_view key) = 0;

  // Streams bytes [offset, offset+length) of `key` (length -1, or a range past the end: to the
  // end). The stream reads the object as it was when opened, even if it is replaced meanwhile.
  // REQUIRES: 0 <= offset <= size, length >= -1 (else kInvalidArgument). kNotFound when absent.
  virtual StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset = 0,
                                                     std::int64_t length = -1) = 0;

  // Creates `key` with `data` only if it does not exist. Returns the new object's info.
  // kAlreadyExists when the key exists (its bytes are left untouched).
  virtual StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) = 0;

  // As PutIfAbsent, with the bytes of the local file `source` (streamed, any size). The source
  // file is left in place (the caller removes it). kInvalidArgument when `source` cannot be
  // read as a regular file.
  virtual StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                               const std::filesystem::path& source) = 0;

  // As PutFileIfAbsent, but the store may take the source file itself instead of copying it
  // (local: a hard link when `source` is on the store's filesystem, e.g. in SpoolDirectory()),
  // so the caller must not change the source afterwards; it still removes the source's name.
  // The default copies (PutFileIfAbsent).
  virtual StatusOr<ObjectInfo> MoveFileIfAbsent(std::string_view key,
                                                const std::filesystem::path& source);

  // Optional capability: a directory on the store's own filesystem for temp files that will be
  // handed to MoveFileIfAbsent (upload spooling), so that storing them costs no copy. Files left
  // there by a crash are removed after a day. nullopt (the default) for remote stores.
  virtual std::optional<std::filesystem::path> SpoolDirectory();

  // Compare-and-swap: replaces `key` with `data` only if its current etag equals
  // `expected_etag`; an empty `expected_etag` means "only if absent". Returns the new info.
  // kFailedPrecondition when the etag does not match (or the key exists / is absent against
  // the expectation): the caller re-reads and retries.
  virtual StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                          std::string_view expected_etag) = 0;

  // Removes `key`. kNotFound when absent.
  virtual Status Delete(std::string_view key) = 0;

  // Every key that starts with `prefix` (a plain string prefix: "files/foo" also matches
  // "files/foobar/x"), sorted bytewise. kInvalidArgument unless IsValidKeyPrefix(prefix).
  // For maintenance commands only (import, fsck, reindex): no request handler may call it.
  virtual StatusOr<std::vector<std::string>> List(std::string_view prefix) = 0;

  // Optional capability: a local file path holding `key`'s bytes, so the server can send it
  // with sendfile. kNotFound when absent; kUnimplemented for stores without local files (the
  // default). The path names the current version: open it once and serve from that descriptor.
  virtual StatusOr<std::filesystem::path> LocalPath(std::string_view key);

  // Optional capability: a URL from which anyone holding it can GET `key` for `ttl` (S3 presigned
  // URL, GCS signed URL), for answering downloads with a redirect. kUnimplemented by default.
  virtual StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl);
};

// A local directory. Objects are files under `root` (the key is the relative path); writes go
// to `root`/.tmp and become visible by link(2) (create-only) or rename(2) (compare-and-swap,
// under an flock(2) on a per-key lock file in `root`/.locks, kept forever) after fsync, so a
// crash never leaves a partial object visible, and several processes, even on several hosts of
// a shared filesystem with working flock, may use one directory at once. Etags are the file's
// inode, size and nanosecond mtime, which every write sets to a fresh, per-key increasing value.
// Creates `root` if missing; removes temp files older than a day left by crashed writers.
// kInvalidArgument / kUnavailable when the directory cannot be used (not a directory, not
// writable, or a filesystem that drops nanosecond timestamps).
StatusOr<std::unique_ptr<Storage>> NewLocalStorage(const std::filesystem::path& root);

// In memory, for tests and ephemeral runs: each instance is its own empty store. Etags are
// per-instance counters, never reused.
std::unique_ptr<Storage> NewMemStorage();

// Opens a storage URL: a directory path or file://PATH (taken literally, no percent-decoding;
// file:///srv/x is /srv/x) for NewLocalStorage; "memory:" or "mem://" for NewMemStorage;
// s3://BUCKET[/PREFIX] for OpenS3Storage; gs://BUCKET[/PREFIX] for OpenGcsStorage.
// kInvalidArgument for an empty URL or any other scheme; else as the backend's factory.
StatusOr<std::unique_ptr<Storage>> OpenStorage(std::string_view url);

// Amazon S3 or an S3-compatible store, configured from `url` (s3://BUCKET[/PREFIX]) and the
// environment the way AWS tools read it (see storage_s3.cc and docs/cloud-storage.md).
StatusOr<std::unique_ptr<Storage>> OpenS3Storage(std::string_view url);

// Google Cloud Storage, configured from `url` (gs://BUCKET[/PREFIX]) and the credentials of
// where it runs (see storage_gcs.cc and docs/cloud-storage.md).
StatusOr<std::unique_ptr<Storage>> OpenGcsStorage(std::string_view url);

inline constexpr std::size_t kMaxKeyLength = 1024;
inline constexpr std::size_t kMaxKeySegmentLength = 255;

// True when `key` is well formed (see the header comment).
bool IsValidKey(std::string_view key);

// True when some well-formed key could start with `prefix` (the empty prefix included): every
// complete segment (followed by '/') is valid, and the rest could begin a segment.
bool IsValidKeyPrefix(std::string_view prefix);

}  // namespace pydepot::storage
