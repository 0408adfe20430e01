#include "upstream/proxy.h"

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "base/hash.h"
#include "base/status_macros.h"
#include "doc/project.h"
#include "model/filename.h"
#include "storage/keys.h"

namespace pydepot::upstream {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::int64_t kMicrosPerSecond = 1'000'000;

// After a failed revalidation the stale page is served without asking the upstream again for
// this long (at most the ttl): an outage costs one failed request per project per interval, not
// one per install.
constexpr std::int64_t kRetryAfterFailureMicros = 30 * kMicrosPerSecond;

// The stored page's format (upstream/projects/<name>.json), for later changes.
constexpr std::int64_t kStoredPageFormat = 1;

constexpr std::string_view kMetadataSuffix = ".metadata";

std::int64_t SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsSha256Hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The upstream project as a project document: one FileEntry per file pydepot can serve (a
// sha256 to check it against, a distribution filename of the project, a usable key), in the
// order local documents keep, with a minimal ReleaseInfo per release.
doc::ProjectDoc ToProjectDoc(const UpstreamProject& project) {
  doc::ProjectDoc doc;
  doc.name = project.name;
  doc.display_name = project.name;
  std::set<std::string, std::less<>> seen;
  for (const UpstreamFile& file : project.files) {
    if (!IsSha256Hex(file.sha256) || !storage::UpstreamFileKey(project.name, file.filename) ||
        seen.contains(file.filename)) {
      continue;
    }
    auto parsed = model::ParseDistFilename(file.filename, project.name);
    if (!parsed.has_value() || parsed->project != project.name) {
      continue;
    }
    seen.insert(file.filename);
    doc::FileEntry& entry = doc.files.emplace_back();
    entry.filename = file.filename;
    entry.version = parsed->version.Canonical();
    entry.release_key = parsed->version.ReleaseKey();
    entry.filetype = std::string(model::DistKindFiletype(parsed->kind));
    entry.python_version = model::PyVersionField(*parsed);
    entry.size = file.size;  // -1 when the upstream did not say: pages leave it out
    entry.sha256 = file.sha256;
    entry.upload_time_micros = file.upload_time_micros;
    entry.requires_python = file.requires_python;
    // Without a sha256 the metadata cannot be checked, so it is not offered at all.
    if (file.metadata && IsSha256Hex(file.metadata_sha256)) {
      entry.metadata_sha256 = file.metadata_sha256;
    }
    entry.yanked = file.yanked;
  }
  doc.SortFiles();
  for (const doc::FileEntry& file : doc.files) {
    auto [it, inserted] = doc.releases.try_emplace(file.release_key);
    if (inserted) {
      it->second.version = file.version;
      it->second.created_micros = file.upload_time_micros;
    } else if (file.upload_time_micros != 0 &&
               (it->second.created_micros == 0 ||
                file.upload_time_micros < it->second.created_micros)) {
      it->second.created_micros = file.upload_time_micros;
    }
  }
  return doc;
}

// --- The stored page: the parsed upstream project, its ETag and when it was fetched. ---

std::string EncodeStoredPage(const UpstreamProject& project, const std::string& etag,
                             std::int64_t fetched_micros) {
  json::object out;
  out["format"] = kStoredPageFormat;
  out["name"] = project.name;
  out["etag"] = etag;
  out["fetched_micros"] = fetched_micros;
  json::array files;
  files.reserve(project.files.size());
  for (const UpstreamFile& file : project.files) {
    json::object entry;
    entry["filename"] = file.filename;
    entry["url"] = file.url;
    entry["sha256"] = file.sha256;
    entry["requires_python"] = file.requires_python;
    if (file.yanked.has_value()) {
      entry["yanked"] = *file.yanked;
    }
    entry["size"] = file.size;
    entry["upload_time_micros"] = file.upload_time_micros;
    entry["metadata"] = file.metadata;
    entry["metadata_sha256"] = file.metadata_sha256;
    files.emplace_back(std::move(entry));
  }
  out["files"] = std::move(files);
  return json::serialize(out);
}

struct StoredPage {
  UpstreamProject project;
  std::string etag;
  std::int64_t fetched_micros = 0;
};

bool GetString(const json::object& object, std::string_view key, std::string& out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return false;
  }
  out.assign(value->get_string().data(), value->get_string().size());
  return true;
}

bool GetInt(const json::object& object, std::string_view key, std::int64_t& out) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_int64()) {
    return false;
  }
  out = value->get_int64();
  return true;
}

// The stored page of `name`, or nullopt when it is not one this binary can read (it is then
// fetched again, and overwritten).
std::optional<StoredPage> DecodeStoredPage(std::string_view text, std::string_view name) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  const json::object* object = ec ? nullptr : root.if_object();
  if (object == nullptr) {
    return std::nullopt;
  }
  StoredPage page;
  std::int64_t format = 0;
  const json::value* files = object->if_contains("files");
  if (!GetInt(*object, "format", format) || format != kStoredPageFormat ||
      !GetString(*object, "name", page.project.name) || page.project.name != name ||
      !GetString(*object, "etag", page.etag) ||
      !GetInt(*object, "fetched_micros", page.fetched_micros) || files == nullptr ||
      !files->is_array()) {
    return std::nullopt;
  }
  for (const json::value& element : files->get_array()) {
    const json::object* entry = element.if_object();
    if (entry == nullptr) {
      return std::nullopt;
    }
    UpstreamFile& file = page.project.files.emplace_back();
    const json::value* metadata = entry->if_contains("metadata");
    if (!GetString(*entry, "filename", file.filename) || !GetString(*entry, "url", file.url) ||
        !GetString(*entry, "sha256", file.sha256) ||
        !GetString(*entry, "requires_python", file.requires_python) ||
        !GetInt(*entry, "size", file.size) ||
        !GetInt(*entry, "upload_time_micros", file.upload_time_micros) || metadata == nullptr ||
        !metadata->is_bool() || !GetString(*entry, "metadata_sha256", file.metadata_sha256)) {
      return std::nullopt;
    }
    file.metadata = metadata->get_bool();
    if (entry->contains("yanked")) {
      std::string reason;
      if (!GetString(*entry, "yanked", reason)) {
        return std::nullopt;
      }
      file.yanked = std::move(reason);
    }
  }
  return page;
}

// --- Cached state ---

// One upstream project as known to this instance. Immutable once made; changes replace it.
struct PageState {
  std::string name;                                // normalized
  std::shared_ptr<const UpstreamProject> project;  // nullptr: upstream has no such project
  std::shared_ptr<const index::ProjectView> view;  // set exactly when `project` is
  std::string etag;                                // upstream's ETag of the page
  std::int64_t fetched_micros = 0;  // when the upstream last confirmed it (200, 304 or 404)
  std::int64_t retry_micros = 0;    // stale, but not asked again before this (after a failure)
  std::string stored_etag;          // the stored page's version this state was read or written as
  std::size_t bytes = 0;            // approximate memory held
};

std::size_t ProjectBytes(const UpstreamProject& project) {
  std::size_t bytes = sizeof(project) + project.name.size();
  for (const UpstreamFile& file : project.files) {
    bytes += sizeof(file) + file.filename.size() + file.url.size() + file.sha256.size() +
             file.requires_python.size() + file.metadata_sha256.size() +
             (file.yanked ? file.yanked->size() : 0);
  }
  return bytes;
}

std::shared_ptr<const PageState> MakeState(std::string name,
                                           std::shared_ptr<const UpstreamProject> project,
                                           std::string etag, std::int64_t fetched_micros,
                                           std::string stored_etag) {
  auto state = std::make_shared<PageState>();
  state->bytes = sizeof(PageState) + 128 + name.size() + etag.size() + stored_etag.size();
  state->name = std::move(name);
  if (project) {
    state->view = index::MakeProjectView(ToProjectDoc(*project));
    state->bytes += ProjectBytes(*project) + state->view->bytes;
  }
  state->project = std::move(project);
  state->etag = std::move(etag);
  state->fetched_micros = fetched_micros;
  state->stored_etag = std::move(stored_etag);
  return state;
}

// Runs one call per key at a time: callers that arrive while a call for their key is running
// wait for it and share its result (so a cold project or file is fetched once, not once per
// concurrent request).
template <typename T>
class Coalescer {
 public:
  template <typename Fn>
  T Run(const std::string& key, Fn&& fn) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      std::unique_lock lock(mu_);
      auto [it, inserted] = calls_.try_emplace(key);
      if (inserted) {
        it->second = std::make_shared<Call>();
      }
      leader = inserted;
      call = it->second;
      if (!leader) {
        cv_.wait(lock, [&] { return call->result.has_value(); });
        return *call->result;
      }
    }
    T result = fn();
    {
      std::lock_guard lock(mu_);
      call->result = result;
      calls_.erase(key);
    }
    cv_.notify_all();
    return result;
  }

 private:
  struct Call {
    std::optional<T> result;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::shared_ptr<Call>> calls_;
};

// Removes a temp file when it goes out of scope.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  ~TempFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class ProxyImpl final : public Proxy {
 public:
  ProxyImpl(storage::Storage& storage, Client& client, ProxyOptions options)
      : storage_(storage), client_(client), options_(std::move(options)) {
    if (!options_.now_micros) {
      options_.now_micros = SystemNowMicros;
    }
    if (options_.temp_dir.empty()) {
      options_.temp_dir = storage_.SpoolDirectory().value_or(fs::temp_directory_path());
    }
    ttl_micros_ = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(options_.ttl).count());
  }

  StatusOr<std::shared_ptr<const index::ProjectView>> GetProject(std::string_view name) override {
    PYDEPOT_ASSIGN_OR_RETURN(std::shared_ptr<const PageState> state, GetState(name));
    return Answer(*state);
  }

  std::optional<StatusOr<std::shared_ptr<const index::ProjectView>>> PeekProject(
      std::string_view name) override {
    if (auto key = storage::UpstreamPageKey(name); !key.has_value()) {
      return key.error();
    }
    std::lock_guard lock(mu_);
    if (std::shared_ptr<const PageState> state = FreshLocked(std::string(name), Now())) {
      return Answer(*state);
    }
    return std::nullopt;
  }

  StatusOr<std::string> EnsureFile(std::string_view name, std::string_view filename) override {
    PYDEPOT_ASSIGN_OR_RETURN(std::string key, storage::UpstreamFileKey(name, filename));
    // Fetched once (by any instance): always served, also while the upstream is down.
    auto head = storage_.Head(key);
    if (head.has_value()) {
      return key;
    }
    if (head.error().code() != StatusCode::kNotFound) {
      return head.error();
    }
    return files_.Run(key, [&] { return FetchFile(name, filename, key); });
  }

  std::shared_ptr<const index::ProjectView> Merge(
      std::shared_ptr<const index::ProjectView> local) override {
    if (local == nullptr || !local->doc.upstream_allowed) {
      return local;
    }
    const std::string& name = local->doc.name;
    auto state = GetState(name);
    if (!state.has_value() || (*state)->view == nullptr) {
      return local;
    }
    const std::shared_ptr<const index::ProjectView>& upstream = (*state)->view;
    {
      std::lock_guard lock(mu_);
      if (auto it = merged_.find(name); it != merged_.end() &&
                                        it->second.local_serial == local->doc.serial &&
                                        it->second.upstream == upstream) {
        it->second.last_used = ++use_counter_;
        return it->second.view;
      }
    }
    doc::ProjectDoc merged = local->doc;
    std::set<std::string_view> taken;
    for (const doc::FileEntry& file : local->doc.files) {
      taken.insert(file.filename);
    }
    // A filename deleted here stays deleted: the upstream's file of that name is not served
    // either.
    for (const std::string& filename : local->doc.deleted_filenames) {
      taken.insert(filename);
    }
    for (const doc::FileEntry& file : upstream->doc.files) {
      if (!taken.contains(file.filename)) {
        merged.files.push_back(file);
        if (const auto release = upstream->doc.releases.find(file.release_key);
            release != upstream->doc.releases.end()) {
          merged.releases.try_emplace(file.release_key, release->second);
        }
      }
    }
    merged.SortFiles();
    std::shared_ptr<const index::ProjectView> view = index::MakeProjectView(std::move(merged));
    std::lock_guard lock(mu_);
    MergedEntry& entry = merged_[name];
    cached_bytes_ -= entry.bytes;
    entry = MergedEntry{local->doc.serial, upstream, view, view->bytes + sizeof(MergedEntry),
                        ++use_counter_};
    cached_bytes_ += entry.bytes;
    EvictLocked(name);
    return view;
  }

 private:
  struct PageEntry {
    std::shared_ptr<const PageState> state;
    std::uint64_t last_used = 0;
  };
  struct MergedEntry {
    std::int64_t local_serial = 0;
    std::shared_ptr<const index::ProjectView> upstream;
    std::shared_ptr<const index::ProjectView> view;
    std::size_t bytes = 0;
    std::uint64_t last_used = 0;
  };

  std::int64_t Now() const { return options_.now_micros(); }

  bool Fresh(const PageState& state, std::int64_t now) const {
    return now - state.fetched_micros < ttl_micros_ || now < state.retry_micros;
  }

  static StatusOr<std::shared_ptr<const index::ProjectView>> Answer(const PageState& state) {
    if (state.project == nullptr) {
      return NotFoundError("the upstream index has no project \"" + state.name + "\"");
    }
    if (state.view->doc.files.empty()) {
      // Nothing pydepot could verify (no sha256 anywhere): as good as no project, and a view of
      // a document without files has no pages (index::IsDeletedProject).
      return NotFoundError("the upstream index lists no file of \"" + state.name +
                           "\" with a sha256");
    }
    return state.view;
  }

  // The cached state of `name` when it may be used without asking anyone, else nullptr.
  // REQUIRES: mu_ held.
  std::shared_ptr<const PageState> FreshLocked(const std::string& name, std::int64_t now) {
    auto it = pages_.find(name);
    if (it == pages_.end() || !Fresh(*it->second.state, now)) {
      return nullptr;
    }
    it->second.last_used = ++use_counter_;
    return it->second.state;
  }

  std::shared_ptr<const PageState> Cached(const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = pages_.find(name);
    return it == pages_.end() ? nullptr : it->second.state;
  }

  StatusOr<std::shared_ptr<const PageState>> GetState(std::string_view name_view) {
    PYDEPOT_ASSIGN_OR_RETURN(std::string key, storage::UpstreamPageKey(name_view));
    std::string name(name_view);
    {
      std::lock_guard lock(mu_);
      if (std::shared_ptr<const PageState> state = FreshLocked(name, Now())) {
        return state;
      }
    }
    return pages_in_flight_.Run(name, [&] { return Load(name, key); });
  }

  // Brings the state of `name` up to date: from the store when another instance (or this one
  // before a restart) fetched it recently, else from the upstream (revalidating what is known).
  StatusOr<std::shared_ptr<const PageState>> Load(const std::string& name, const std::string& key) {
    const std::int64_t now = Now();
    std::shared_ptr<const PageState> current = Cached(name);
    if (current && Fresh(*current, now)) {
      return current;  // loaded by a call that finished just before this one started
    }
    std::string stored_etag;  // the stored page's version as last seen ("" when absent)
    current = ReadStored(name, key, std::move(current), stored_etag);
    if (current && Fresh(*current, now)) {
      return Install(name, current);
    }

    const std::string sent_etag = current && current->project ? current->etag : "";
    auto fetch = client_.FetchPage(name, sent_etag);
    if (!fetch.has_value()) {
      return Failed(name, current, fetch.error().message(), now);
    }
    switch (fetch->status) {
      case 200: {
        const std::string page_url =
            fetch->url.empty() ? client_.index_url() + name + "/" : fetch->url;
        auto parsed = fetch->json ? ParseSimpleJson(fetch->body, page_url, name)
                                  : ParseSimpleHtml(fetch->body, page_url, name);
        if (!parsed.has_value()) {
          return Failed(name, current, "its page cannot be read: " + parsed.error().message(), now);
        }
        parsed->name = name;
        auto project = std::make_shared<const UpstreamProject>(*std::move(parsed));
        // Kept for every instance and every restart. Overwritten only as the version last seen:
        // a racing instance's write (a fetch as fresh as this one) wins, and nothing is torn.
        auto put =
            storage_.PutIfMatch(key, EncodeStoredPage(*project, fetch->etag, now), stored_etag);
        return Install(name, MakeState(name, std::move(project), fetch->etag, now,
                                       put.has_value() ? put->etag : ""));
      }
      case 304:
        if (current && current->project && !sent_etag.empty()) {
          auto state = std::make_shared<PageState>(*current);
          state->fetched_micros = now;
          state->retry_micros = 0;
          return Install(name, std::move(state));
        }
        return Failed(name, current, "it answered 304 to a request without an ETag", now);
      case 404:
        // Gone upstream (or never there): a page stored earlier must not come back while the
        // upstream is down. Its files stay: they are only served when a page lists them.
        if (!stored_etag.empty()) {
          (void)storage_.Delete(key);
        }
        return Install(name, MakeState(name, nullptr, "", now, ""));
      default:
        return Failed(name, current, "it answered HTTP " + std::to_string(fetch->status), now);
    }
  }

  // `current`, or the stored page when it is newer (fetched later) than `current`. Sets
  // `stored_etag` to the stored page's version ("" when there is none or the store failed).
  std::shared_ptr<const PageState> ReadStored(const std::string& name, const std::string& key,
                                              std::shared_ptr<const PageState> current,
                                              std::string& stored_etag) {
    auto head = storage_.Head(key);
    if (!head.has_value()) {
      return current;
    }
    stored_etag = head->etag;
    if (current && current->stored_etag == head->etag) {
      return current;
    }
    auto object = storage_.Get(key);
    if (!object.has_value()) {
      stored_etag = object.error().code() == StatusCode::kNotFound ? "" : stored_etag;
      return current;
    }
    stored_etag = object->info.etag;
    std::optional<StoredPage> page = DecodeStoredPage(object->data, name);
    if (!page.has_value() || (current && current->fetched_micros >= page->fetched_micros)) {
      return current;
    }
    return MakeState(name, std::make_shared<const UpstreamProject>(std::move(page->project)),
                     std::move(page->etag), page->fetched_micros, stored_etag);
  }

  // The upstream failed: what is known is served however old (not asking again for a while);
  // kUnavailable when nothing is.
  StatusOr<std::shared_ptr<const PageState>> Failed(const std::string& name,
                                                    const std::shared_ptr<const PageState>& current,
                                                    const std::string& what, std::int64_t now) {
    if (current == nullptr) {
      return UnavailableError("upstream index " + client_.index_url() + " failed for \"" + name +
                              "\": " + what);
    }
    auto state = std::make_shared<PageState>(*current);
    state->retry_micros = now + std::min(ttl_micros_, kRetryAfterFailureMicros);
    return Install(name, std::move(state));
  }

  std::shared_ptr<const PageState> Install(const std::string& name,
                                           std::shared_ptr<const PageState> state) {
    std::lock_guard lock(mu_);
    PageEntry& entry = pages_[name];
    if (entry.state) {
      cached_bytes_ -= entry.state->bytes;
    }
    entry.state = state;
    entry.last_used = ++use_counter_;
    cached_bytes_ += state->bytes;
    EvictLocked(name);
    return state;
  }

  // Drops the least recently used pages and merged views until the cache holds at most 7/8 of
  // its budget, never those of `keep`. REQUIRES: mu_ held.
  void EvictLocked(const std::string& keep) {
    if (cached_bytes_ <= options_.cache_bytes) {
      return;
    }
    struct Victim {
      std::uint64_t last_used;
      bool merged;
      std::string name;
    };
    std::vector<Victim> victims;
    for (const auto& [name, entry] : pages_) {
      if (name != keep) {
        victims.push_back({entry.last_used, false, name});
      }
    }
    for (const auto& [name, entry] : merged_) {
      if (name != keep) {
        victims.push_back({entry.last_used, true, name});
      }
    }
    std::sort(victims.begin(), victims.end(),
              [](const Victim& a, const Victim& b) { return a.last_used < b.last_used; });
    const std::size_t target = options_.cache_bytes - options_.cache_bytes / 8;
    for (const Victim& victim : victims) {
      if (cached_bytes_ <= target) {
        break;
      }
      if (victim.merged) {
        auto it = merged_.find(victim.name);
        cached_bytes_ -= it->second.bytes;
        merged_.erase(it);
      } else {
        auto it = pages_.find(victim.name);
        cached_bytes_ -= it->second.state->bytes;
        pages_.erase(it);
      }
    }
  }

  fs::path TempPath() const {
    return options_.temp_dir / ("upstream-" + HexEncode(RandomBytes(12)) + ".part");
  }

  // Fetches `filename` of `name` (a distribution or "<distribution>.metadata") as the page
  // lists it, checks its sha256 and stores it create-only under `key`.
  StatusOr<std::string> FetchFile(std::string_view name, std::string_view filename,
                                  const std::string& key) {
    // Stored by a call that finished just before this one started?
    if (storage_.Head(key).has_value()) {
      return key;
    }
    PYDEPOT_ASSIGN_OR_RETURN(std::shared_ptr<const PageState> state, GetState(name));
    PYDEPOT_ASSIGN_OR_RETURN(std::shared_ptr<const index::ProjectView> view, Answer(*state));
    const bool metadata = filename.ends_with(kMetadataSuffix);
    const std::string_view base =
        metadata ? filename.substr(0, filename.size() - kMetadataSuffix.size()) : filename;
    const doc::FileEntry* entry = view->doc.FindFile(base);
    const UpstreamFile* source = nullptr;
    for (const UpstreamFile& file : state->project->files) {
      if (file.filename == base) {
        source = &file;
        break;
      }
    }
    if (entry == nullptr || source == nullptr) {
      return NotFoundError("the upstream index lists no file \"" + std::string(base) + "\" of \"" +
                           std::string(name) + "\"");
    }
    std::string url = source->url;
    std::string expected = entry->sha256;
    if (metadata) {
      if (entry->metadata_sha256.empty()) {
        return NotFoundError("the upstream index offers no metadata with a sha256 for \"" +
                             std::string(base) + "\"");
      }
      url += kMetadataSuffix;
      expected = entry->metadata_sha256;
    } else if (source->size > options_.max_file_bytes) {
      return ResourceExhaustedError("upstream file \"" + std::string(base) + "\" has " +
                                    std::to_string(source->size) + " bytes, more than the " +
                                    std::to_string(options_.max_file_bytes) + " allowed");
    }

    TempFile temp(TempPath());
    auto sha256 = client_.FetchFile(url, temp.path(), options_.max_file_bytes);
    if (!sha256.has_value()) {
      const Status& error = sha256.error();
      if (error.code() == StatusCode::kResourceExhausted) {
        return error;
      }
      // A file the page lists that the upstream cannot deliver is the upstream failing.
      return UnavailableError("fetching \"" + std::string(filename) +
                              "\" from the upstream: " + error.message());
    }
    if (*sha256 != expected) {
      return UnavailableError("the upstream sent \"" + std::string(filename) + "\" with sha256 " +
                              *sha256 + ", but its page lists " + expected +
                              ": refused, nothing stored");
    }
    // Create-only: when several instances race on a first download, one write wins and every
    // one of them checked the same sha256, so the others use the stored bytes.
    auto put = storage_.MoveFileIfAbsent(key, temp.path());
    if (!put.has_value() && put.error().code() != StatusCode::kAlreadyExists) {
      return put.error();
    }
    return key;
  }

  storage::Storage& storage_;
  Client& client_;
  ProxyOptions options_;
  std::int64_t ttl_micros_ = 0;

  Coalescer<StatusOr<std::shared_ptr<const PageState>>> pages_in_flight_;
  Coalescer<StatusOr<std::string>> files_;

  std::mutex mu_;  // guards everything below; never held during I/O
  std::unordered_map<std::string, PageEntry> pages_;
  std::unordered_map<std::string, MergedEntry> merged_;
  std::size_t cached_bytes_ = 0;
  std::uint64_t use_counter_ = 0;
};

}  // namespace

std::unique_ptr<Proxy> Proxy::Create(storage::Storage& storage, Client& client,
                                     ProxyOptions options) {
  return std::make_unique<ProxyImpl>(storage, client, std::move(options));
}

}  // namespace pydepot::upstream
