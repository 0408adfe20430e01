#include "index/fsck.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "base/hash.h"
#include "base/status_macros.h"
#include "doc/project.h"
#include "model/filename.h"
#include "storage/keys.h"

namespace pydepot::index {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunk = std::size_t{1} << 20;
constexpr std::int64_t kMicrosPerSecond = 1'000'000;

std::int64_t SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "532 bytes", "12.5 KiB", "3.0 GiB".
std::string HumanBytes(std::int64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  }
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  const auto tenths = static_cast<std::int64_t>(value * 10 + 0.5);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[unit];
}

// "40 s", "12 min", "3 h", "5 d" (rounded down).
std::string HumanAge(std::int64_t micros) {
  const std::int64_t seconds = std::max<std::int64_t>(micros, 0) / kMicrosPerSecond;
  if (seconds < 120) {
    return std::to_string(seconds) + " s";
  }
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + " min";
  }
  if (seconds < 2 * 86400) {
    return std::to_string(seconds / 3600) + " h";
  }
  return std::to_string(seconds / 86400) + " d";
}

std::string Short(std::string_view hex) { return std::string(hex.substr(0, 12)) + "..."; }

struct StoredDigest {
  std::int64_t size = 0;
  std::string sha256;
};

// Streams `key` through sha256. kNotFound when it is absent. `out`, when given, receives the
// bytes too.
StatusOr<StoredDigest> HashObject(storage::Storage& storage, const std::string& key,
                                  std::ofstream* out = nullptr) {
  PYDEPOT_ASSIGN_OR_RETURN(auto stream, storage.Open(key));
  Hasher hasher;
  StoredDigest digest;
  std::string buffer(kChunk, '\0');
  while (true) {
    PYDEPOT_ASSIGN_OR_RETURN(std::size_t n, stream->Read(buffer.data(), buffer.size()));
    if (n == 0) {
      break;
    }
    hasher.Update(std::string_view(buffer.data(), n));
    digest.size += static_cast<std::int64_t>(n);
    if (out != nullptr) {
      out->write(buffer.data(), static_cast<std::streamsize>(n));
    }
  }
  digest.sha256 = hasher.Finish().sha256;
  return digest;
}

// A local copy of an object, removed when it goes out of scope.
class ScratchCopy {
 public:
  ScratchCopy() = default;
  ScratchCopy(const ScratchCopy&) = delete;
  ScratchCopy& operator=(const ScratchCopy&) = delete;
  ScratchCopy(ScratchCopy&& other) noexcept
      : path_(std::exchange(other.path_, {})), digest_(std::move(other.digest_)) {}
  ScratchCopy& operator=(ScratchCopy&&) = delete;
  ~ScratchCopy() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }

  // Copies `key` into a new file in `dir`. kNotFound when the object is absent.
  static StatusOr<ScratchCopy> Make(storage::Storage& storage, const std::string& key,
                                    const fs::path& dir) {
    std::string pattern = (dir / "pydepot-fsck.XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      const int err = errno;
      return InternalError("creating a temp file in " + dir.string() + ": " +
                           std::error_code(err, std::generic_category()).message());
    }
    ::close(fd);
    ScratchCopy copy;
    copy.path_ = pattern;
    std::ofstream out(copy.path_, std::ios::binary | std::ios::trunc);
    PYDEPOT_ASSIGN_OR_RETURN(copy.digest_, HashObject(storage, key, &out));
    out.close();
    if (!out) {
      return InternalError("writing " + copy.path_.string());
    }
    return copy;
  }

  const fs::path& path() const { return path_; }
  const StoredDigest& digest() const { return digest_; }

 private:
  fs::path path_;
  StoredDigest digest_;
};

// What the check of one listed file found.
struct FileCheck {
  enum class State { kOk, kMissing, kDamaged };
  State file = State::kOk;
  StoredDigest stored;
  State metadata = State::kOk;  // kOk too when the file has no metadata hash
  std::string metadata_sha256;  // as stored
  std::string metadata_etag;
};

// One project document as read.
struct DocState {
  std::string key;
  std::optional<doc::ProjectDoc> doc;  // nullopt: it cannot be used (reported)
};

class Checker {
 public:
  Checker(Index& index, const FsckOptions& options)
      : index_(index), storage_(index.storage()), options_(options) {
    if (!options_.now_micros) {
      options_.now_micros = SystemNowMicros;
    }
    if (options_.temp_dir.empty()) {
      options_.temp_dir = fs::temp_directory_path();
    }
    options_.jobs = std::clamp(options_.jobs, 1, 64);
  }

  StatusOr<FsckReport> Run() {
    PYDEPOT_ASSIGN_OR_RETURN(std::vector<std::string> keys, storage_.List(""));
    report_.objects = static_cast<std::int64_t>(keys.size());
    std::vector<std::string> file_keys;
    std::vector<std::string> metadata_keys;
    for (std::string& key : keys) {
      switch (storage::ClassifyKey(key)) {
        case storage::KeyKind::kProjectDoc:
          docs_[*storage::ParseProjectDocKey(key)].key = key;
          break;
        case storage::KeyKind::kFile:
          file_keys.push_back(std::move(key));
          break;
        case storage::KeyKind::kMetadata:
          metadata_keys.push_back(std::move(key));
          break;
        case storage::KeyKind::kUnknown:
          strays_.push_back(std::move(key));
          break;
        case storage::KeyKind::kProjectList:
        case storage::KeyKind::kUsers:
          break;
        case storage::KeyKind::kUpstream:
          // The upstream proxy's cache (docs/upstream.md): rebuilt on demand, checked by the
          // proxy itself when fetched; neither an orphan nor a stray.
          break;
        case storage::KeyKind::kAudit:
          // The audit trail (docs/operations.md): kept as written, never checked or repaired.
          break;
      }
    }
    PYDEPOT_RETURN_IF_ERROR(ReadDocuments());
    PYDEPOT_RETURN_IF_ERROR(CheckFiles());
    PYDEPOT_RETURN_IF_ERROR(CheckProjectList());
    PYDEPOT_RETURN_IF_ERROR(CheckOrphans(file_keys, false));
    PYDEPOT_RETURN_IF_ERROR(CheckOrphans(metadata_keys, true));
    std::sort(strays_.begin(), strays_.end());
    for (const std::string& key : strays_) {
      Add(FsckProblemKind::kStrayObject, key, "", "not a key pydepot writes",
          "pydepot ignores it; something else put it there",
          "does nothing: remove it by hand if nothing needs it");
    }
    CheckTempFiles();
    if (options_.repair) {
      for (std::size_t i = 0; i < report_.problems.size(); ++i) {
        if (repairs_[i]) {
          repairs_[i](report_.problems[i]);
        }
      }
    }
    return std::move(report_);
  }

 private:
  using RepairFn = std::function<void(FsckProblem&)>;

  void Add(FsckProblemKind kind, std::string key, std::string project, std::string found,
           std::string meaning, std::string repair, RepairFn fn = nullptr) {
    report_.problems.push_back(FsckProblem{kind, std::move(key), std::move(project),
                                           std::move(found), std::move(meaning), std::move(repair),
                                           FsckRepair::kNone, ""});
    repairs_.push_back(std::move(fn));
  }

  static void Done(FsckProblem& problem, std::string outcome) {
    problem.repaired = FsckRepair::kRepaired;
    problem.outcome = std::move(outcome);
  }
  static void Left(FsckProblem& problem, std::string why) {
    problem.repaired = FsckRepair::kSkipped;
    problem.outcome = std::move(why);
  }

  std::string OrphanAgeText() const {
    return HumanAge(static_cast<std::int64_t>(options_.orphan_age.count()) * kMicrosPerSecond);
  }

  bool OldEnough(std::int64_t modified_micros) const {
    return options_.now_micros() - modified_micros >=
           static_cast<std::int64_t>(options_.orphan_age.count()) * kMicrosPerSecond;
  }

  // --- Documents --------------------------------------------------------------------------

  Status ReadDocuments() {
    for (auto& [project, state] : docs_) {
      auto object = storage_.Get(state.key);
      if (!object.has_value()) {
        if (object.error().code() == StatusCode::kNotFound) {
          continue;  // removed since the listing: nothing to check
        }
        return object.error();
      }
      ++report_.projects;
      auto decoded = doc::DecodeProjectDoc(object->data);
      if (!decoded.has_value()) {
        BadProjectDoc(state.key, project, "does not decode: " + decoded.error().message());
        continue;
      }
      if (decoded->name != project) {
        BadProjectDoc(state.key, project,
                      "names the project '" + decoded->name.substr(0, 100) + "'");
        continue;
      }
      state.doc = *std::move(decoded);
    }
    return OkStatus();
  }

  void BadProjectDoc(const std::string& key, const std::string& project, std::string found) {
    Add(FsckProblemKind::kBadDocument, key, project, std::move(found),
        "the project's pages cannot be served and uploads to it fail; its files are neither "
        "checked nor taken for orphans",
        "does nothing: restore the document from a backup or fix it by hand (fsck never rewrites "
        "a document it cannot read)");
  }

  // --- Listed files -----------------------------------------------------------------------

  struct FileTask {
    const std::string* project;
    const doc::FileEntry* entry;
    FileCheck result;
  };

  Status CheckFiles() {
    std::vector<FileTask> tasks;
    for (const auto& [project, state] : docs_) {
      if (state.doc) {
        for (const doc::FileEntry& entry : state.doc->files) {
          tasks.push_back(FileTask{&project, &entry, {}});
        }
      }
    }
    std::atomic<std::size_t> next{0};
    std::atomic<std::int64_t> bytes{0};
    std::mutex mu;
    Status failure;
    auto work = [&] {
      while (true) {
        const std::size_t i = next.fetch_add(1);
        if (i >= tasks.size()) {
          return;
        }
        Status status = CheckFile(*tasks[i].project, *tasks[i].entry, tasks[i].result);
        if (!status.ok()) {
          std::lock_guard lock(mu);
          if (failure.ok()) {
            failure = std::move(status);
          }
          next.store(tasks.size());
          return;
        }
        bytes.fetch_add(tasks[i].result.stored.size);
      }
    };
    std::vector<std::thread> threads;
    const std::size_t extra =
        std::min<std::size_t>(static_cast<std::size_t>(options_.jobs), tasks.size());
    for (std::size_t t = 1; t < extra; ++t) {
      threads.emplace_back(work);
    }
    work();
    for (std::thread& thread : threads) {
      thread.join();
    }
    PYDEPOT_RETURN_IF_ERROR(failure);
    report_.files = static_cast<int>(tasks.size());
    report_.bytes = bytes.load();
    for (const FileTask& task : tasks) {
      ReportFile(*task.project, *task.entry, task.result);
    }
    return OkStatus();
  }

  // Fills `out`; errors only when the store fails.
  Status CheckFile(const std::string& project, const doc::FileEntry& entry, FileCheck& out) {
    auto file_key = storage::FileKey(project, entry.filename);
    if (!file_key.has_value()) {
      out.file = FileCheck::State::kMissing;  // no key can hold it
      return OkStatus();
    }
    auto stored = HashObject(storage_, *file_key);
    if (!stored.has_value()) {
      if (stored.error().code() != StatusCode::kNotFound) {
        return stored.error().WithPrefix("reading " + *file_key);
      }
      out.file = FileCheck::State::kMissing;
    } else {
      out.stored = *stored;
      if (stored->size != entry.size || stored->sha256 != entry.sha256) {
        out.file = FileCheck::State::kDamaged;
      }
    }
    if (entry.metadata_sha256.empty()) {
      return OkStatus();
    }
    PYDEPOT_ASSIGN_OR_RETURN(const std::string metadata_key,
                             storage::MetadataKey(project, entry.filename));
    auto metadata = storage_.Get(metadata_key);
    if (!metadata.has_value()) {
      if (metadata.error().code() != StatusCode::kNotFound) {
        return metadata.error().WithPrefix("reading " + metadata_key);
      }
      out.metadata = FileCheck::State::kMissing;
      return OkStatus();
    }
    out.metadata_sha256 = Sha256Hex(metadata->data);
    out.metadata_etag = metadata->info.etag;
    if (out.metadata_sha256 != entry.metadata_sha256) {
      out.metadata = FileCheck::State::kDamaged;
    }
    return OkStatus();
  }

  void ReportFile(const std::string& project, const doc::FileEntry& entry, const FileCheck& check) {
    const std::string doc_key = docs_.at(project).key;
    auto file_key = storage::FileKey(project, entry.filename);
    const std::string key = file_key.has_value() ? *file_key : entry.filename;
    const std::string restore =
        "does nothing: restore it from a backup (fsck never writes a listed file)";
    if (!file_key.has_value()) {
      Add(FsckProblemKind::kBadDocument, doc_key, project,
          "lists '" + entry.filename.substr(0, 100) + "', which cannot be a storage key (" +
              file_key.error().message() + ")",
          "the file cannot be served", "does nothing: fix the document by hand");
      return;
    }
    if (check.file == FileCheck::State::kMissing) {
      Add(FsckProblemKind::kMissingFile, key, project, "listed in " + doc_key + ", not stored",
          "downloads of it fail with 404; pydepot never deletes a listed file, so it was lost "
          "outside pydepot",
          restore);
    } else if (check.file == FileCheck::State::kDamaged) {
      Add(FsckProblemKind::kDamagedFile, key, project,
          "stored with " + std::to_string(check.stored.size) + " bytes and sha256 " +
              Short(check.stored.sha256) + ", listed with " + std::to_string(entry.size) +
              " bytes and sha256 " + Short(entry.sha256),
          "installers reject the download (hash mismatch); pydepot never rewrites a stored "
          "file, so it changed outside pydepot",
          restore);
    }
    if (entry.metadata_sha256.empty() || check.metadata == FileCheck::State::kOk) {
      return;
    }
    const std::string metadata_key = *storage::MetadataKey(project, entry.filename);
    const bool wheel_ok = check.file == FileCheck::State::kOk;
    const bool missing = check.metadata == FileCheck::State::kMissing;
    std::string repair = wheel_ok
                             ? std::string(missing ? "recreates" : "replaces") +
                                   " it from the wheel's METADATA, if that has the listed sha256"
                             : "does nothing while the wheel itself is missing or damaged";
    RepairFn fn;
    if (wheel_ok) {
      fn = [this, project, entry, etag = check.metadata_etag](FsckProblem& problem) {
        RepairMetadata(problem, project, entry, etag);
      };
    }
    if (missing) {
      Add(FsckProblemKind::kMissingMetadata, metadata_key, project,
          "the wheel is listed with a metadata sha256, but its .metadata is not stored",
          "installers that read PEP 658 metadata (pip, uv) fail to resolve this wheel",
          std::move(repair), std::move(fn));
    } else {
      Add(FsckProblemKind::kDamagedMetadata, metadata_key, project,
          "stored with sha256 " + Short(check.metadata_sha256) + ", listed with " +
              Short(entry.metadata_sha256),
          "installers that read PEP 658 metadata reject it (hash mismatch)", std::move(repair),
          std::move(fn));
    }
  }

  // Writes the wheel's METADATA as its .metadata: create-only when `etag` is empty (it was
  // missing), else by compare-and-swap on the damaged one, so nothing newer is overwritten.
  void RepairMetadata(FsckProblem& problem, const std::string& project, const doc::FileEntry& entry,
                      const std::string& etag) {
    const std::string file_key = *storage::FileKey(project, entry.filename);
    auto name = model::ParseDistFilename(entry.filename, project);
    if (!name.has_value()) {
      return Left(problem, "the filename does not parse: " + name.error().message());
    }
    std::optional<ScratchCopy> copy;
    fs::path path;
    if (auto local = storage_.LocalPath(file_key); local.has_value()) {
      path = *local;
    } else {
      auto made = ScratchCopy::Make(storage_, file_key, options_.temp_dir);
      if (!made.has_value()) {
        return Left(problem, "reading the wheel: " + made.error().message());
      }
      if (made->digest().sha256 != entry.sha256) {
        return Left(problem, "the wheel no longer has its listed sha256");
      }
      copy.emplace(*std::move(made));
      path = copy->path();
    }
    auto member = archive::ReadDistMetadata(path, *name, options_.archive_limits);
    if (!member.has_value()) {
      return Left(problem, "reading the wheel's METADATA: " + member.error().message());
    }
    if (Sha256Hex(member->contents) != entry.metadata_sha256) {
      return Left(problem, "the wheel's METADATA has sha256 " + Short(Sha256Hex(member->contents)) +
                               ", not the listed one");
    }
    const std::string& key = problem.key;
    if (etag.empty()) {
      auto put = storage_.PutIfAbsent(key, member->contents);
      if (put.has_value()) {
        return Done(problem, "recreated from " + member->member);
      }
      if (put.error().code() == StatusCode::kAlreadyExists) {
        return Left(problem, "it was stored meanwhile; run fsck again to check it");
      }
      return Left(problem, "writing it: " + put.error().message());
    }
    auto put = storage_.PutIfMatch(key, member->contents, etag);
    if (put.has_value()) {
      return Done(problem, "replaced by " + member->member);
    }
    if (put.error().code() == StatusCode::kFailedPrecondition) {
      return Left(problem, "it changed meanwhile; run fsck again to check it");
    }
    return Left(problem, "writing it: " + put.error().message());
  }

  // --- The project list -------------------------------------------------------------------

  Status CheckProjectList() {
    const std::string list_key = storage::ProjectListKey();
    doc::ProjectList list;
    auto object = storage_.Get(list_key);
    if (object.has_value()) {
      auto decoded = doc::DecodeProjectList(object->data);
      if (!decoded.has_value()) {
        Add(FsckProblemKind::kBadDocument, list_key, "",
            "does not decode: " + decoded.error().message(),
            "/simple/ cannot be served and new projects cannot be added",
            "does nothing: move it aside, then run fsck --repair, which lists every project again "
            "from its document");
        return OkStatus();
      }
      list = *std::move(decoded);
    } else if (object.error().code() != StatusCode::kNotFound) {
      return object.error();
    }
    std::map<std::string, const doc::ProjectListEntry*> listed;
    for (const doc::ProjectListEntry& entry : list.projects) {
      listed.emplace(entry.name, &entry);
    }
    auto sync = [this](const std::string& project) -> RepairFn {
      return [this, project](FsckProblem& problem) { SyncListEntry(problem, project); };
    };
    for (const auto& [project, state] : docs_) {
      if (!state.doc) {
        continue;
      }
      auto it = listed.find(project);
      if (IsDeletedProject(*state.doc)) {
        // Its document stays only to keep its deleted filenames from being used again.
        if (it != listed.end()) {
          Add(FsckProblemKind::kListedWithoutDocument, list_key, project,
              "names '" + project + "', but the project was deleted (" + state.key +
                  " lists no files)",
              "/simple/ links to a project page that answers 404 (a delete stopped before "
              "updating the project list)",
              "removes the entry from the project list", sync(project));
        }
        continue;
      }
      if (it == listed.end()) {
        Add(FsckProblemKind::kUnlistedProject, state.key, project,
            "has a document, but " + list_key + " does not name it",
            "its pages and files are served, but /simple/ does not list it (an upload stopped "
            "between listing its file and updating the project list)",
            "adds it to the project list", sync(project));
      } else if (it->second->display_name != state.doc->display_name) {
        Add(FsckProblemKind::kDisplayNameMismatch, list_key, project,
            "names it '" + it->second->display_name.substr(0, 100) + "', its document '" +
                state.doc->display_name.substr(0, 100) + "'",
            "/simple/ shows an older spelling (an upload stopped before updating the project "
            "list)",
            "sets the list's spelling to the document's", sync(project));
      }
    }
    for (const doc::ProjectListEntry& entry : list.projects) {
      if (docs_.contains(entry.name)) {
        continue;
      }
      auto doc_key = storage::ProjectDocKey(entry.name);
      if (!doc_key.has_value()) {
        Add(FsckProblemKind::kListedWithoutDocument, list_key, "",
            "names '" + entry.name.substr(0, 100) + "', which is not a normalized project name",
            "/simple/ links to a page that cannot exist", "does nothing: fix the list by hand");
        continue;
      }
      auto head = storage_.Head(*doc_key);
      if (head.has_value()) {
        continue;  // created since the listing
      }
      if (head.error().code() != StatusCode::kNotFound) {
        return head.error();
      }
      Add(FsckProblemKind::kListedWithoutDocument, list_key, entry.name,
          "names '" + entry.name + "', but " + *doc_key + " does not exist",
          "/simple/ links to a project page that answers 404",
          "removes the entry from the project list", sync(entry.name));
    }
    return OkStatus();
  }

  void SyncListEntry(FsckProblem& problem, const std::string& project) {
    auto changed = index_.SyncProjectListEntry(project);
    if (!changed.has_value()) {
      return Left(problem, changed.error().message());
    }
    Done(problem, *changed ? "project list updated" : "already in line (changed meanwhile)");
  }

  // --- Orphans ----------------------------------------------------------------------------

  // Whether the document of `project` lists `filename`, as it is now in the store. An error
  // when that cannot be told (the store fails, or the document does not decode).
  StatusOr<bool> ListedNow(const std::string& project, const std::string& filename) {
    PYDEPOT_ASSIGN_OR_RETURN(const std::string doc_key, storage::ProjectDocKey(project));
    auto object = storage_.Get(doc_key);
    if (!object.has_value()) {
      if (object.error().code() == StatusCode::kNotFound) {
        return false;
      }
      return object.error();
    }
    PYDEPOT_ASSIGN_OR_RETURN(doc::ProjectDoc doc, doc::DecodeProjectDoc(object->data));
    return doc.FindFile(filename) != nullptr;
  }

  Status CheckOrphans(const std::vector<std::string>& keys, bool metadata) {
    for (const std::string& key : keys) {
      auto parts = metadata ? storage::ParseMetadataKey(key) : storage::ParseFileKey(key);
      if (!parts.has_value()) {
        continue;  // ClassifyKey said it parses
      }
      bool deleted = false;  // the bytes of a deleted file
      if (auto it = docs_.find(parts->project); it != docs_.end()) {
        if (!it->second.doc) {
          continue;  // its document is unreadable: whether it lists the file is unknown
        }
        const doc::ProjectDoc& doc = *it->second.doc;
        if (doc.FindFile(parts->filename) != nullptr) {
          continue;
        }
        deleted = std::find(doc.deleted_filenames.begin(), doc.deleted_filenames.end(),
                            parts->filename) != doc.deleted_filenames.end();
      }
      if (!model::ParseDistFilename(parts->filename, parts->project).has_value()) {
        strays_.push_back(key);  // no upload or import stores such a name: not ours to delete
        continue;
      }
      auto head = storage_.Head(key);
      if (!head.has_value()) {
        if (head.error().code() == StatusCode::kNotFound) {
          continue;  // gone since the listing
        }
        return head.error();
      }
      // Listed since the documents were read (an upload finishing): no orphan.
      PYDEPOT_ASSIGN_OR_RETURN(const bool listed, ListedNow(parts->project, parts->filename));
      if (listed) {
        continue;
      }
      const std::string age = HumanAge(options_.now_micros() - head->modified_micros);
      const std::string size_age = HumanBytes(head->size) + ", " +
                                   HumanAge(options_.now_micros() - head->modified_micros) + " old";
      std::string found;
      std::string meaning;
      if (deleted) {
        found = (metadata ? "the .metadata of a deleted file (" : "the bytes of a deleted file (") +
                size_age + ")";
        meaning =
            "left by a delete that stopped after unlisting the file; never served, and its "
            "filename can never be used again";
      } else if (metadata) {
        found = "a .metadata whose distribution no project document lists (" + size_age + ")";
        meaning = "left by an upload that stopped before it was answered; never served";
      } else {
        found = "stored, but no project document lists it (" + size_age + ")";
        meaning =
            "an upload that stopped before it was answered (no client got a 200 for it): never "
            "served, but it keeps its filename from being uploaded with other bytes";
      }
      Add(metadata ? FsckProblemKind::kOrphanMetadata : FsckProblemKind::kOrphanFile, key,
          parts->project, std::move(found), std::move(meaning),
          "deletes it once it is " + OrphanAgeText() + " old (an upload in flight stores its " +
              "file just before listing it)",
          [this, project = parts->project, filename = parts->filename](FsckProblem& problem) {
            RepairOrphan(problem, project, filename);
          });
    }
    return OkStatus();
  }

  // Deletes an orphan unless it is young or listed by now. If an upload of the same bytes lists
  // it while it is being deleted (a retry that found it stored), it is put back from a copy
  // taken first; the upload itself also stores it again if it finds it gone (Index::Upload).
  void RepairOrphan(FsckProblem& problem, const std::string& project, const std::string& filename) {
    const std::string& key = problem.key;
    auto head = storage_.Head(key);
    if (!head.has_value()) {
      if (head.error().code() == StatusCode::kNotFound) {
        return Done(problem, "already gone");
      }
      return Left(problem, head.error().message());
    }
    if (!OldEnough(head->modified_micros)) {
      return Left(problem, "younger than " + OrphanAgeText() + " (--orphan-age)");
    }
    auto listed = ListedNow(project, filename);
    if (!listed.has_value()) {
      return Left(problem, "cannot read the project document: " + listed.error().message());
    }
    if (*listed) {
      return Done(problem, "listed meanwhile by an upload; kept");
    }
    auto copy = ScratchCopy::Make(storage_, key, options_.temp_dir);
    if (!copy.has_value()) {
      return Left(problem, "copying it first: " + copy.error().message());
    }
    if (Status deleted = storage_.Delete(key);
        !deleted.ok() && deleted.code() != StatusCode::kNotFound) {
      return Left(problem, "deleting it: " + deleted.message());
    }
    listed = ListedNow(project, filename);
    if (listed.has_value() && !*listed) {
      return Done(problem, "deleted");
    }
    // Listed meanwhile, or unknown: put the same bytes back.
    auto put = storage_.PutFileIfAbsent(key, copy->path());
    if (put.has_value() || put.error().code() == StatusCode::kAlreadyExists) {
      return Done(problem, "listed meanwhile by an upload; put back");
    }
    Left(problem,
         "deleted, then listed meanwhile, and putting it back failed: " + put.error().message() +
             "; a copy is kept at " + KeepCopy(*std::move(copy)).string());
  }

  // Keeps a scratch copy's file (it would be removed with the copy), returning its path.
  fs::path KeepCopy(ScratchCopy copy) {
    fs::path kept = options_.temp_dir / ("pydepot-fsck-kept-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(kept_++));
    std::error_code ec;
    fs::copy_file(copy.path(), kept, ec);
    return kept;
  }

  // --- Temp files of a local store --------------------------------------------------------

  void CheckTempFiles() {
    const std::optional<fs::path> dir = storage_.SpoolDirectory();
    if (!dir) {
      return;
    }
    std::error_code ec;
    std::vector<fs::path> paths;
    for (fs::directory_iterator it(*dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code type_ec;
      if (it->is_regular_file(type_ec)) {
        paths.push_back(it->path());
      }
    }
    std::sort(paths.begin(), paths.end());
    for (const fs::path& path : paths) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) {
        continue;  // finished meanwhile
      }
      ++report_.temp_files;
      const std::int64_t modified =
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * kMicrosPerSecond +
          st.st_mtim.tv_nsec / 1000;
      Add(FsckProblemKind::kTempFile, path.string(), "",
          "a temp file (" + HumanBytes(st.st_size) + ", " +
              HumanAge(options_.now_micros() - modified) + " old)",
          "a write that did not finish (an upload's spool file, or a store write cut short); "
          "never visible as an object, and removed by the store itself after a day",
          "deletes it once it is " + OrphanAgeText() + " old",
          [this](FsckProblem& problem) { RemoveTempFile(problem); });
    }
  }

  void RemoveTempFile(FsckProblem& problem) {
    struct stat st {};
    if (::lstat(problem.key.c_str(), &st) != 0) {
      return Done(problem, "already gone");
    }
    const std::int64_t modified =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * kMicrosPerSecond + st.st_mtim.tv_nsec / 1000;
    if (!OldEnough(modified)) {
      return Left(problem, "younger than " + OrphanAgeText() + " (--orphan-age)");
    }
    if (::unlink(problem.key.c_str()) != 0 && errno != ENOENT) {
      const int err = errno;
      return Left(problem,
                  "deleting it: " + std::error_code(err, std::generic_category()).message());
    }
    Done(problem, "deleted");
  }

  Index& index_;
  storage::Storage& storage_;
  FsckOptions options_;
  std::map<std::string, DocState> docs_;  // by project, from the listing
  std::vector<std::string> strays_;       // keys pydepot does not write
  FsckReport report_;
  std::vector<RepairFn> repairs_;  // one per problem; empty when it has no repair
  int kept_ = 0;
};

}  // namespace

std::string_view FsckProblemKindName(FsckProblemKind kind) {
  switch (kind) {
    case FsckProblemKind::kBadDocument:
      return "bad-document";
    case FsckProblemKind::kMissingFile:
      return "missing-file";
    case FsckProblemKind::kDamagedFile:
      return "damaged-file";
    case FsckProblemKind::kMissingMetadata:
      return "missing-metadata";
    case FsckProblemKind::kDamagedMetadata:
      return "damaged-metadata";
    case FsckProblemKind::kUnlistedProject:
      return "unlisted-project";
    case FsckProblemKind::kListedWithoutDocument:
      return "listed-without-document";
    case FsckProblemKind::kDisplayNameMismatch:
      return "display-name-mismatch";
    case FsckProblemKind::kOrphanFile:
      return "orphan-file";
    case FsckProblemKind::kOrphanMetadata:
      return "orphan-metadata";
    case FsckProblemKind::kStrayObject:
      return "stray-object";
    case FsckProblemKind::kTempFile:
      return "temp-file";
  }
  return "unknown";
}

int FsckReport::Remaining() const {
  return static_cast<int>(std::count_if(problems.begin(), problems.end(), [](const auto& p) {
    return p.repaired != FsckRepair::kRepaired;
  }));
}

StatusOr<FsckReport> Fsck(Index& index, const FsckOptions& options) {
  return Checker(index, options).Run();
}

}  // namespace pydepot::index
