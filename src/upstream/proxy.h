// The upstream proxy (docs/upstream.md): projects that do not exist in pydepot are served from
// the upstream index, with their pages cached (in memory, and in the store so every instance and
// every restart has them) and their files fetched on first download, checked against upstream's
// sha256, stored, and served from the store afterwards.
//
// The proxy never decides whether a name is private: the caller (the handlers) asks the index
// first and only comes here for names no project document exists for (docs/upstream.md,
// "Dependency confusion"). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "index/index.h"
#include "storage/storage.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {

struct ProxyOptions {
  // How long a fetched upstream page is used before it is revalidated (If-None-Match). A
  // project upstream does not have is remembered as absent for as long.
  std::chrono::seconds ttl{600};
  // Largest upstream file fetched; larger ones are answered kResourceExhausted.
  std::int64_t max_file_bytes = std::int64_t{4} << 30;
  // Where files are spooled while they are fetched and checked (a local store's own .tmp lets
  // the store link them into place).
  std::filesystem::path temp_dir;
  // Most memory the cached upstream views may hold (least recently used dropped first).
  std::size_t cache_bytes = std::size_t{64} << 20;
  // Current time, microseconds since the epoch (injectable for tests).
  std::function<std::int64_t()> now_micros;
};

class Proxy {
 public:
  // `storage` and `client` must outlive the Proxy.
  static std::unique_ptr<Proxy> Create(storage::Storage& storage, Client& client,
                                       ProxyOptions options = {});
  Proxy() = default;
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;
  virtual ~Proxy() = default;

  // The upstream project `name` (normalized) as a view: doc::ProjectDoc with one FileEntry per
  // upstream file (version, release key and filetype from the filename; sha256, size,
  // upload time, requires-python, metadata sha256 and per-file yanks carried over), and its
  // pages rendered by the render module exactly as for a local project, so file links point at
  // pydepot's own /files/<name>/<filename>.
  //  - Fresh in memory (fetched less than ttl ago): answered from memory.
  //  - Otherwise the page stored at storage::UpstreamPageKey(name) (another instance's, or from
  //    before a restart) is revalidated with its ETag; a 200 replaces it, a 304 keeps it.
  //  - Upstream down or failing: the stored page is served however old, so builds keep working;
  //    kUnavailable only when nothing was ever fetched.
  //  - kNotFound when upstream has no such project (remembered for ttl).
  virtual StatusOr<std::shared_ptr<const index::ProjectView>> GetProject(std::string_view name) = 0;
  // As GetProject from memory alone: nullopt when it would fetch or read the store.
  virtual std::optional<StatusOr<std::shared_ptr<const index::ProjectView>>> PeekProject(
      std::string_view name) = 0;

  // The storage key holding upstream file `filename` of `name` (or, for "<file>.metadata", that
  // file's metadata), fetching it first when it is not stored yet: streamed to temp_dir, its
  // sha256 checked against the page's (the metadata's against the page's metadata sha256),
  // then stored create-only under storage::UpstreamFileKey. Concurrent first downloads of one
  // file on several instances are safe (one create wins; the others find it).
  //   kNotFound            the page does not list the file (or offers no metadata for it);
  //   kUnavailable         upstream failed, or sent bytes with another sha256 (nothing stored);
  //   kResourceExhausted   larger than max_file_bytes.
  virtual StatusOr<std::string> EnsureFile(std::string_view name, std::string_view filename) = 0;

  // For a local project an admin allowed upstream files for (doc::ProjectDoc::upstream_allowed):
  // a view with the local files and the upstream files whose filenames are not local (local
  // wins). Cached until either side changes. kUnavailable / kNotFound from upstream are not
  // errors here: the local view alone is returned.
  virtual std::shared_ptr<const index::ProjectView> Merge(
      std::shared_ptr<const index::ProjectView> local) = 0;
};

}  // namespace pydepot::upstream
