#include "index/index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/gzip.h"
#include "base/hash.h"
#include "base/status_macros.h"
#include "index/upload_validation.h"
#include "model/filename.h"
#include "model/metadata.h"
#include "model/project_name.h"
#include "model/version.h"
#include "ops/metrics.h"
#include "render/render.h"
#include "storage/keys.h"

namespace pydepot::index {

std::shared_ptr<const SealedBytes> SealedBytes::Create(std::string_view bytes) {
  const int fd = ::memfd_create("pydepot-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    return nullptr;
  }
  auto sealed = std::make_shared<const SealedBytes>(fd, bytes.size());
  std::string_view rest = bytes;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return nullptr;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  // Nobody, this process included, can change the bytes once they are served.
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return nullptr;
  }
  return sealed;
}

SealedBytes::~SealedBytes() { ::close(fd_); }

bool IsDeletedProject(const doc::ProjectDoc& doc) {
  return doc.files.empty() && doc.releases.empty();
}

namespace {

// Compare-and-swap retries before a contended document update gives up (each retry re-reads).
constexpr int kMaxCasAttempts = 50;

// After a lost compare-and-swap: a random pause below min(cap, 1 ms * 2^attempt) ("full jitter").
// Retrying at once let one writer in per round trip while the others re-read in lockstep: 200
// uploads to different projects at once (all write the project list) ran out of attempts. Spread
// out, they take turns; the cap keeps the worst case for one update near 50 x 128 ms.
void BackOffAfterLostSwap(int attempt) {
  if (attempt + 1 >= kMaxCasAttempts) {
    return;  // the last attempt: no retry to wait for
  }
  constexpr auto kFirst = std::chrono::microseconds(1000);
  constexpr auto kCap = std::chrono::microseconds(128000);
  const auto ceiling =
      std::min<std::chrono::microseconds>(kCap, kFirst * (1LL << std::min(attempt, 7)));
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
  std::this_thread::sleep_for(std::chrono::microseconds(pick(random)));
}

// Most "no such project" answers remembered at once. Each 404 probe of a new name adds one, so
// without a bound random names would grow the cache forever; past the bound every remembered
// negative is dropped (they are cheap to learn again: one HEAD each).
constexpr std::size_t kMaxNegativeEntries = 4096;

std::int64_t SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Pages smaller than this are sent as they are: gzip would save a few hundred bytes at best.
constexpr std::size_t kMinGzipBytes = 1024;

// Pages at least this large are also kept as sealed memfds for sendfile.
constexpr std::size_t kSealedPageBytes = 64 * 1024;

Page MakePage(std::string body) {
  Page page;
  page.etag = "\"" + Sha256Hex(body).substr(0, 32) + "\"";
  if (body.size() >= kMinGzipBytes) {
    // Compressed once per change, served many times: the default level is worth its time.
    auto packed = GzipCompress(body);
    if (packed.has_value() && packed->size() < body.size() - body.size() / 8) {
      page.gzip = *std::move(packed);
      page.gzip_etag = page.etag.substr(0, page.etag.size() - 1) + "-gzip\"";
    }
  }
  page.body = std::move(body);
  if (page.body.size() >= kSealedPageBytes) {
    page.body_file = SealedBytes::Create(page.body);
  }
  if (page.gzip.size() >= kSealedPageBytes) {
    page.gzip_file = SealedBytes::Create(page.gzip);
  }
  return page;
}

std::size_t PageBytes(const Page& page) {
  return page.body.capacity() + page.gzip.capacity() + page.etag.size() + page.gzip_etag.size() +
         (page.body_file ? page.body_file->size() : 0) +
         (page.gzip_file ? page.gzip_file->size() : 0);
}

// What a project document holds in memory, roughly: its strings plus per-element overhead.
std::size_t DocBytes(const doc::ProjectDoc& doc) {
  std::size_t bytes = sizeof(doc) + doc.name.size() + doc.display_name.size();
  for (const doc::FileEntry& file : doc.files) {
    bytes += sizeof(file) + file.filename.size() + file.requires_python.size() + 3 * 64;
  }
  for (const auto& [key, release] : doc.releases) {
    bytes += sizeof(release) + 64 + key.size() + release.description.size() +
             release.summary.size() + release.license.size() + release.keywords.size();
    for (const auto* list : {&release.classifiers, &release.requires_dist, &release.provides_extra,
                             &release.project_urls}) {
      for (const std::string& item : *list) {
        bytes += sizeof(item) + item.size();
      }
    }
  }
  for (const auto& [key, reason] : doc.yanked) {
    bytes += 64 + key.size() + reason.size();
  }
  for (const std::string& name : doc.deleted_filenames) {
    bytes += sizeof(name) + name.size();
  }
  return bytes;
}

// A deleted project's view keeps its document (its serial and etag keep the cache in order) but
// no pages: it is never served (GetProject and PeekProject answer kNotFound).
std::shared_ptr<const ProjectView> BuildProjectView(doc::ProjectDoc doc) {
  auto view = std::make_shared<ProjectView>();
  if (!IsDeletedProject(doc)) {
    view->simple_html = MakePage(render::SimpleProjectHtml(doc));
    view->simple_json = MakePage(render::SimpleProjectJson(doc));
    view->pypi_json = MakePage(render::PypiProjectJson(doc, ""));
    view->human_html = MakePage(render::ProjectPageHtml(doc));
  }
  view->bytes = sizeof(ProjectView) + DocBytes(doc) + PageBytes(view->simple_html) +
                PageBytes(view->simple_json) + PageBytes(view->pypi_json) +
                PageBytes(view->human_html);
  view->doc = std::move(doc);
  return view;
}

std::shared_ptr<const RootView> BuildRootView(doc::ProjectList list) {
  auto view = std::make_shared<RootView>();
  view->simple_html = MakePage(render::SimpleRootHtml(list));
  view->simple_json = MakePage(render::SimpleRootJson(list));
  view->human_html = MakePage(render::HomePageHtml(list));
  view->list = std::move(list);
  return view;
}

// A cached document: what the store held at `etag` when last checked at `checked`.
template <typename View>
struct CacheEntry {
  std::shared_ptr<const View> view;  // nullptr: the document does not exist
  std::string etag;
  std::chrono::steady_clock::time_point checked;
  std::uint64_t last_used = 0;  // the cache's use counter at the last hit (projects only)
};

// The digests of a stored object, streamed (used only when a create-only write finds the key
// taken, to tell a retry of the same upload from a conflicting one).
StatusOr<Digests> StoredDigests(storage::Storage& storage, std::string_view key) {
  PYDEPOT_ASSIGN_OR_RETURN(auto stream, storage.Open(key));
  Hasher hasher;
  std::string buffer(1 << 16, '\0');
  while (true) {
    PYDEPOT_ASSIGN_OR_RETURN(std::size_t n, stream->Read(buffer.data(), buffer.size()));
    if (n == 0) {
      break;
    }
    hasher.Update(std::string_view(buffer.data(), n));
  }
  return hasher.Finish();
}

std::string AlreadyExistsMessage(const std::string& filename, const std::string& blake2) {
  return "File already exists ('" + filename + "', with blake2_256 hash '" + blake2 + "').";
}

// What a file's core metadata contributes to the index.
struct ArchiveFacts {
  std::string metadata_bytes;   // wheels only (served as .metadata)
  std::string metadata_sha256;  // "" for other kinds
  std::string requires_python;
  std::string display_name;  // the metadata's Name: twine sends a mangled one in the form
  doc::ReleaseInfo release;
};

ArchiveFacts FactsFromMetadata(const model::CoreMetadata& metadata,
                               const model::DistFilename& name) {
  ArchiveFacts facts;
  facts.requires_python = metadata.Get("Requires-Python");
  facts.display_name = metadata.name();
  facts.release = ReleaseInfoFromMetadata(metadata, name.version.Canonical());
  if (name.kind == model::DistKind::kWheel) {
    facts.metadata_sha256 = Sha256Hex(metadata.raw());
    facts.metadata_bytes = metadata.raw();
  }
  return facts;
}

// The index entry of a file, but for what its metadata adds (see StoreAndList).
doc::FileEntry MakeFileEntry(const model::DistFilename& name, std::string filename,
                             std::string python_version, std::int64_t size, const Digests& digests,
                             std::int64_t upload_time_micros, std::string_view user) {
  doc::FileEntry entry;
  entry.filename = std::move(filename);
  entry.version = name.version.Canonical();
  entry.release_key = name.version.ReleaseKey();
  entry.filetype = std::string(model::DistKindFiletype(name.kind));
  entry.python_version = std::move(python_version);
  entry.size = size;
  entry.sha256 = digests.sha256;
  entry.md5 = digests.md5;
  entry.blake2b_256 = digests.blake2b_256;
  entry.upload_time_micros = upload_time_micros;
  entry.uploader = std::string(user);
  return entry;
}

// The digests and size of a local file, streamed.
StatusOr<std::pair<Digests, std::int64_t>> FileDigests(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return NotFoundError(path.string() + ": no such file");
    }
    return InvalidArgumentError(path.string() + ": cannot be read");
  }
  Hasher hasher;
  std::int64_t size = 0;
  std::string buffer(1 << 16, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize n = in.gcount();
    hasher.Update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    size += n;
  }
  if (in.bad()) {
    return InvalidArgumentError(path.string() + ": read error");
  }
  return std::make_pair(hasher.Finish(), size);
}

// An imported file's metadata, or why there is none.
struct ImportedMetadata {
  std::optional<model::CoreMetadata> metadata;
  std::string problem;  // why `metadata` is empty
  bool missing_file = false;
};

ImportedMetadata ReadImportedMetadata(const std::filesystem::path& path,
                                      const model::DistFilename& name,
                                      const archive::ArchiveLimits& limits) {
  ImportedMetadata result;
  auto member = archive::ReadDistMetadata(path, name, limits);
  if (!member.has_value()) {
    result.missing_file = member.error().code() == StatusCode::kNotFound;
    result.problem = member.error().message();
    return result;
  }
  auto metadata = model::CoreMetadata::Parse(member->contents);
  if (!metadata.has_value()) {
    result.problem = member->member + ": " + metadata.error().message();
    return result;
  }
  result.metadata = *std::move(metadata);
  return result;
}

// Drops metadata that names another project or version than the filename: what installers see
// is the filename, and the index must not describe the file as something else.
void CheckImportedMetadata(const model::DistFilename& name, ImportedMetadata& imported) {
  if (!imported.metadata) {
    return;
  }
  const model::CoreMetadata& metadata = *imported.metadata;
  if (model::NormalizeProjectName(metadata.name()) != name.project) {
    imported.problem = "its metadata names the project '" + metadata.name().substr(0, 100) +
                       "', not '" + name.project + "'";
  } else if (model::Version::ParseLenient(metadata.version()) != name.version) {
    imported.problem = "its metadata names the version '" + metadata.version().substr(0, 100) +
                       "', not '" + name.version_part + "'";
  } else {
    return;
  }
  imported.metadata.reset();
}

class IndexImpl final : public Index {
 public:
  IndexImpl(storage::Storage& storage, IndexOptions options)
      : storage_(storage), options_(std::move(options)) {
    if (!options_.now_micros) {
      options_.now_micros = SystemNowMicros;
    }
  }

  StatusOr<std::shared_ptr<const ProjectView>> GetProject(std::string_view name) override {
    if (auto cached = PeekProject(name)) {
      return *std::move(cached);
    }
    ops::CountCacheLookup(ops::Cache::kProject, false);  // the hits are counted in PeekProject
    auto doc_key = storage::ProjectDocKey(name);
    if (!doc_key.has_value()) {
      return NotFoundError("project '" + std::string(name.substr(0, 100)) + "' not found");
    }
    const std::string& key = *doc_key;
    std::shared_ptr<const ProjectView> view;
    PYDEPOT_ASSIGN_OR_RETURN(view, Revalidate<ProjectView>(key, std::string(name)));
    if (!view || IsDeletedProject(view->doc)) {
      return NotFoundError("project '" + std::string(name) + "' not found");
    }
    return view;
  }

  std::optional<StatusOr<std::shared_ptr<const ProjectView>>> PeekProject(
      std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = projects_.find(name);
    if (it == projects_.end() || !Fresh(it->second.checked)) {
      return std::nullopt;
    }
    ops::CountCacheLookup(ops::Cache::kProject, true);
    if (!it->second.view || IsDeletedProject(it->second.view->doc)) {
      return NotFoundError("project '" + std::string(name) + "' not found");
    }
    it->second.last_used = ++use_counter_;
    return it->second.view;
  }

  std::optional<std::shared_ptr<const RootView>> PeekRoot() override {
    std::lock_guard lock(mu_);
    if (root_.view && Fresh(root_.checked)) {
      ops::CountCacheLookup(ops::Cache::kRoot, true);
      return root_.view;
    }
    return std::nullopt;
  }

  StatusOr<std::shared_ptr<const RootView>> GetRoot() override {
    if (auto cached = PeekRoot()) {
      return *std::move(cached);
    }
    ops::CountCacheLookup(ops::Cache::kRoot, false);
    PYDEPOT_ASSIGN_OR_RETURN(auto view, Revalidate<RootView>(storage::ProjectListKey(), ""));
    if (!view) {
      return BuildRootView(doc::ProjectList{});
    }
    return view;
  }

  StatusOr<UploadOutcome> Upload(const doc::UploadForm& form, std::string_view user) override {
    StatusOr<UploadOutcome> outcome = DoUpload(form, user);
    // Only the duplicate-file refusal may read as "already exists" to a client (UP-14); the
    // others may quote what the client or the archive said.
    if (!outcome.has_value() && outcome.error().code() != StatusCode::kAlreadyExists) {
      return Status(outcome.error().code(), WithoutReservedPhrases(outcome.error().message()));
    }
    return outcome;
  }

  StatusOr<bool> IsPrivateName(std::string_view project) override {
    PYDEPOT_ASSIGN_OR_RETURN(const std::string key, storage::ProjectDocKey(project));
    auto info = storage_.Head(key);
    if (info.has_value()) {
      return true;
    }
    if (info.error().code() == StatusCode::kNotFound) {
      return false;
    }
    return UnavailableError("reading index of " + std::string(project) + ": " +
                            info.error().message());
  }

  StatusOr<bool> Claim(std::string_view project_name) override {
    if (!model::IsValidProjectName(project_name)) {
      return InvalidArgumentError("'" + std::string(project_name) +
                                  "' is not a valid project name");
    }
    const std::string project = model::NormalizeProjectName(project_name);
    bool created = false;
    PYDEPOT_RETURN_IF_ERROR(
        UpdateProjectDoc(project, [&](std::optional<doc::ProjectDoc>& doc) -> StatusOr<bool> {
          created = false;  // a lost race retries with what the winner stored
          if (doc) {
            return false;
          }
          doc.emplace();
          doc->name = project;
          doc->display_name = std::string(project_name);
          doc->serial = 1;
          created = true;
          return true;
        }));
    return created;
  }

  Status SetUpstreamAllowed(std::string_view project, bool allowed) override {
    return UpdateProjectDoc(std::string(project),
                            [&](std::optional<doc::ProjectDoc>& doc) -> StatusOr<bool> {
                              if (!doc) {
                                return NotFoundError("no project '" + std::string(project) +
                                                     "': claim the name or upload to it first");
                              }
                              if (doc->upstream_allowed == allowed) {
                                return false;
                              }
                              doc->upstream_allowed = allowed;
                              ++doc->serial;
                              return true;
                            });
  }

  Status Yank(std::string_view project, std::string_view version,
              std::string_view reason) override {
    return SetYank(project, version, std::string(reason), true);
  }

  Status Unyank(std::string_view project, std::string_view version) override {
    return SetYank(project, version, "", false);
  }

  StatusOr<bool> SyncProjectListEntry(std::string_view project_name) override {
    const std::string project(project_name);
    PYDEPOT_RETURN_IF_ERROR(storage::ProjectDocKey(project));
    bool changed = false;
    bool removed = false;
    PYDEPOT_RETURN_IF_ERROR(UpdateProjectList([&](doc::ProjectList& list) -> StatusOr<bool> {
      changed = false;
      removed = false;
      // Read after the list, so an upload that creates the project meanwhile either shows here
      // or changes the list's etag and makes this attempt retry.
      PYDEPOT_ASSIGN_OR_RETURN(LoadedDoc loaded, LoadProjectDoc(project));
      auto it = FindListEntry(list, project);
      const bool listed = it != list.projects.end() && it->name == project;
      if (!loaded.doc || IsDeletedProject(*loaded.doc)) {
        if (!listed) {
          return false;
        }
        list.projects.erase(it);
        removed = true;
      } else if (!listed) {
        list.projects.insert(it, doc::ProjectListEntry{project, loaded.doc->display_name,
                                                       LatestUploadMicros(*loaded.doc)});
      } else if (it->display_name != loaded.doc->display_name) {
        it->display_name = loaded.doc->display_name;
      } else {
        return false;
      }
      list.serial++;
      changed = true;
      return true;
    }));
    if (removed) {
      PYDEPOT_RETURN_IF_ERROR(RelistIfRevived(project));
    }
    return changed;
  }

  Status DeleteFile(std::string_view project, std::string_view filename_view) override {
    const std::string filename(filename_view);
    return DeleteEntries(
        project, [&](doc::ProjectDoc& doc, std::vector<doc::FileEntry>& removed) -> Status {
          RemoveFiles(
              doc, [&](const doc::FileEntry& file) { return file.filename == filename; }, {},
              removed);
          if (removed.empty()) {
            return NotFoundError("no file '" + filename.substr(0, 200) + "' in project '" +
                                 doc.name + "'");
          }
          return OkStatus();
        });
  }

  Status DeleteRelease(std::string_view project, std::string_view version) override {
    const std::string key = model::Version::ParseLenient(version).ReleaseKey();
    return DeleteEntries(
        project, [&](doc::ProjectDoc& doc, std::vector<doc::FileEntry>& removed) -> Status {
          // A release is its files, but a ReleaseInfo without any (no write leaves one) goes too.
          const bool described = doc.releases.contains(key);
          RemoveFiles(
              doc, [&](const doc::FileEntry& file) { return file.release_key == key; }, {key},
              removed);
          if (removed.empty() && !described) {
            return NotFoundError("no release " + std::string(version.substr(0, 100)) +
                                 " of project '" + doc.name + "'");
          }
          return OkStatus();
        });
  }

  Status DeleteProject(std::string_view project) override {
    return DeleteEntries(
        project, [&](doc::ProjectDoc& doc, std::vector<doc::FileEntry>& removed) -> Status {
          std::set<std::string> releases;
          for (const auto& [key, release] : doc.releases) {
            releases.insert(key);
          }
          for (const auto& [key, reason] : doc.yanked) {
            releases.insert(key);
          }
          RemoveFiles(
              doc, [](const doc::FileEntry&) { return true; }, std::move(releases), removed);
          return OkStatus();
        });
  }

  storage::Storage& storage() override { return storage_; }

 private:
  struct LoadedDoc {
    std::optional<doc::ProjectDoc> doc;
    std::string etag;  // "" when absent
  };

  // A file that passed its write path's checks, ready for StoreAndList.
  struct NewFile {
    std::string project;         // normalized
    std::filesystem::path path;  // the local file holding its bytes
    doc::FileEntry entry;        // requires_python and metadata_sha256 come from `facts`
    ArchiveFacts facts;          // empty (but for release.version) when no metadata was read
    // The project's display name as this file spells it: its metadata's Name, else (imports
    // without metadata) the filename's name part, which only names a project that has none.
    std::string display_name;
    bool metadata_read = true;
    bool newest = true;                 // uploads are; imports come in any order
    bool one_sdist_per_release = true;  // PyPI's rule for uploads; old indexes break it
    // Uploads: `path` is a spool file the store may take over (MoveFileIfAbsent); imports copy
    // the source's own files.
    bool consume_source = false;
  };

  StatusOr<UploadOutcome> DoUpload(const doc::UploadForm& form, std::string_view user) {
    PYDEPOT_ASSIGN_OR_RETURN(ValidatedUpload upload,
                             ValidateUploadForm(form, options_.allow_local_versions));
    const doc::UploadedFile& content = *form.content;
    UploadOutcome outcome{upload.project, content.filename, false, ""};

    NewFile file;
    file.project = upload.project;
    file.path = content.path;
    file.consume_source = true;
    file.entry = MakeFileEntry(upload.filename, content.filename, upload.python_version,
                               content.size, content.digests, options_.now_micros(), user);

    // Duplicate and reuse checks come before the archive is opened (PyPI's order), so an
    // identical re-upload always succeeds, even of a file the current rules would refuse.
    PYDEPOT_ASSIGN_OR_RETURN(const bool listed, CheckAgainstStored(file));
    if (listed) {
      return outcome;
    }
    PYDEPOT_ASSIGN_OR_RETURN(file.facts, ReadArchive(upload, content));
    file.display_name = file.facts.display_name;
    PYDEPOT_ASSIGN_OR_RETURN(outcome.created, StoreAndList(file));
    return outcome;
  }

  StatusOr<UploadOutcome> Import(const std::filesystem::path& path, std::string_view filename,
                                 std::string_view project_hint, std::int64_t upload_time_micros,
                                 std::string_view uploader) override {
    auto parsed = model::ParseDistFilename(filename, project_hint);
    if (!parsed.has_value()) {
      return InvalidArgumentError(parsed.error().message());
    }
    ImportedMetadata metadata = ReadImportedMetadata(path, *parsed, options_.archive_limits);
    if (metadata.missing_file) {
      return NotFoundError(path.string() + ": no such file");
    }
    // Without a hint, an sdist's own Name is the best guide to where its name ends: the last
    // '-' is wrong for legacy names such as Foo.Bar-1.0-1.tar.gz.
    if (project_hint.empty() && parsed->kind == model::DistKind::kSdist && metadata.metadata &&
        model::NormalizeProjectName(metadata.metadata->name()) != parsed->project) {
      if (auto by_name = model::ParseSdistFilename(filename, metadata.metadata->name());
          by_name.has_value()) {
        parsed = *std::move(by_name);
      }
    }
    CheckImportedMetadata(*parsed, metadata);
    PYDEPOT_RETURN_IF_ERROR(storage::FileKey(parsed->project, filename));
    PYDEPOT_RETURN_IF_ERROR(storage::MetadataKey(parsed->project, filename));
    PYDEPOT_ASSIGN_OR_RETURN(auto digests, FileDigests(path));

    NewFile file;
    file.project = parsed->project;
    file.path = path;
    file.newest = false;
    file.one_sdist_per_release = false;
    const std::int64_t when = upload_time_micros > 0 ? upload_time_micros : options_.now_micros();
    file.entry = MakeFileEntry(*parsed, std::string(filename), model::PyVersionField(*parsed),
                               digests.second, digests.first, when, uploader);
    UploadOutcome outcome{parsed->project, std::string(filename), false, ""};
    PYDEPOT_ASSIGN_OR_RETURN(const bool listed, CheckAgainstStored(file));
    if (listed) {
      return outcome;
    }
    if (metadata.metadata) {
      file.facts = FactsFromMetadata(*metadata.metadata, *parsed);
    } else {
      file.facts.release.version = file.entry.version;
    }
    file.display_name =
        metadata.metadata ? file.facts.display_name : std::string(parsed->name_part);
    file.metadata_read = metadata.metadata.has_value();
    PYDEPOT_ASSIGN_OR_RETURN(outcome.created, StoreAndList(file));
    if (outcome.created) {
      outcome.metadata_problem = metadata.problem;
    }
    return outcome;
  }

  // The checks against the store's current document made before the archive is read or
  // anything is stored. True when an identical file is already listed: nothing is left to do
  // (but to make sure the project is in the project list, so that a retry after a failure
  // between the document update and the project list update converges).
  StatusOr<bool> CheckAgainstStored(const NewFile& file) {
    PYDEPOT_ASSIGN_OR_RETURN(auto current, LoadProjectDoc(file.project));
    if (!current.doc) {
      return false;
    }
    if (const doc::FileEntry* existing = current.doc->FindFile(file.entry.filename)) {
      if (!ConstantTimeEquals(existing->sha256, file.entry.sha256)) {
        return AlreadyExistsError(AlreadyExistsMessage(existing->filename, existing->blake2b_256));
      }
      PYDEPOT_RETURN_IF_ERROR(EnsureListed(*current.doc, *existing));
      return true;
    }
    PYDEPOT_RETURN_IF_ERROR(CheckNotDeleted(*current.doc, file.entry.filename));
    if (file.one_sdist_per_release) {
      PYDEPOT_RETURN_IF_ERROR(CheckOneSdistPerRelease(*current.doc, file.entry));
    }
    return false;
  }

  // The write shared by uploads and imports: stores the file create-only and its .metadata,
  // lists it in the project document by compare-and-swap, then records the project in the
  // project list. Returns true when this call listed the file, false when an identical one was
  // listed meanwhile. If the create-only write finds the key taken, a previous attempt of this
  // same file (or a racing identical one) stored it, or somebody stored other bytes: the hash
  // decides (kAlreadyExists).
  StatusOr<bool> StoreAndList(NewFile& file) {
    file.entry.requires_python = file.facts.requires_python;
    file.entry.metadata_sha256 = file.facts.metadata_sha256;
    const doc::FileEntry& entry = file.entry;
    PYDEPOT_ASSIGN_OR_RETURN(const std::string file_key,
                             storage::FileKey(file.project, entry.filename));
    PYDEPOT_ASSIGN_OR_RETURN(const std::string metadata_key,
                             storage::MetadataKey(file.project, entry.filename));
    auto put = file.consume_source ? storage_.MoveFileIfAbsent(file_key, file.path)
                                   : storage_.PutFileIfAbsent(file_key, file.path);
    if (!put.has_value()) {
      if (put.error().code() != StatusCode::kAlreadyExists) {
        return UnavailableError("storing " + entry.filename + ": " + put.error().message());
      }
      auto stored = StoredDigests(storage_, file_key);
      if (!stored.has_value()) {
        return UnavailableError("reading " + entry.filename + ": " + stored.error().message());
      }
      if (stored->sha256 != entry.sha256) {
        return AlreadyExistsError(AlreadyExistsMessage(entry.filename, stored->blake2b_256));
      }
    }
    bool metadata_was_stored = false;  // by an earlier attempt
    if (!file.facts.metadata_sha256.empty()) {
      auto meta = storage_.PutIfAbsent(metadata_key, file.facts.metadata_bytes);
      if (!meta.has_value() && meta.error().code() != StatusCode::kAlreadyExists) {
        return UnavailableError("storing metadata: " + meta.error().message());
      }
      metadata_was_stored = !meta.has_value();
    }

    bool created = false;
    std::optional<doc::FileEntry> listed;  // an identical file listed meanwhile
    std::string display_name;
    Status refused;
    PYDEPOT_RETURN_IF_ERROR(
        UpdateProjectDoc(file.project, [&](std::optional<doc::ProjectDoc>& doc) -> StatusOr<bool> {
          if (!doc) {
            doc.emplace();
            doc->name = file.project;
          }
          display_name = doc->display_name;
          // The checks made before the file was stored, again against the latest document:
          // another instance may have changed it since.
          if (const doc::FileEntry* existing = doc->FindFile(entry.filename)) {
            if (existing->sha256 != entry.sha256) {
              refused = AlreadyExistsError(
                  AlreadyExistsMessage(existing->filename, existing->blake2b_256));
            } else {
              listed = *existing;
            }
            return false;
          }
          refused = CheckNotDeleted(*doc, entry.filename);
          if (refused.ok() && file.one_sdist_per_release) {
            refused = CheckOneSdistPerRelease(*doc, entry);
          }
          if (!refused.ok()) {
            return false;
          }
          // The display name is the latest file's spelling; imports come in any order, and a
          // name guessed from a filename never replaces one read from metadata.
          if (doc->display_name.empty() || IsDeletedProject(*doc) ||
              (file.metadata_read &&
               (file.newest || entry.upload_time_micros >= LatestUploadMicros(*doc)))) {
            doc->display_name = file.display_name;
          }
          display_name = doc->display_name;
          doc->files.push_back(entry);
          AddToRelease(*doc, file);
          doc->SortFiles();
          doc->serial++;
          created = true;
          return true;
        }));
    PYDEPOT_RETURN_IF_ERROR(refused);
    if (created) {
      // Objects an earlier, unanswered attempt left were orphans until now, which `pydepot fsck
      // --repair` may have deleted meanwhile: put back what is gone, from these same bytes.
      if (!put.has_value()) {
        PYDEPOT_RETURN_IF_ERROR(RestoreIfDeleted(file_key, [&] {
          return file.consume_source ? storage_.MoveFileIfAbsent(file_key, file.path)
                                     : storage_.PutFileIfAbsent(file_key, file.path);
        }));
      }
      if (metadata_was_stored) {
        PYDEPOT_RETURN_IF_ERROR(RestoreIfDeleted(metadata_key, [&] {
          return storage_.PutIfAbsent(metadata_key, file.facts.metadata_bytes);
        }));
      }
      PYDEPOT_RETURN_IF_ERROR(
          TouchProjectList(file.project, display_name, entry.upload_time_micros));
    } else if (listed) {
      PYDEPOT_RETURN_IF_ERROR(
          TouchProjectList(file.project, display_name, listed->upload_time_micros, true));
    }
    return created;
  }

  // Stores `key` again with `put` when it no longer exists.
  Status RestoreIfDeleted(const std::string& key,
                          const std::function<StatusOr<storage::ObjectInfo>()>& put) {
    auto head = storage_.Head(key);
    if (head.has_value()) {
      return OkStatus();
    }
    if (head.error().code() == StatusCode::kNotFound) {
      auto stored = put();
      if (stored.has_value() || stored.error().code() == StatusCode::kAlreadyExists) {
        return OkStatus();
      }
      return UnavailableError("storing " + key + ": " + stored.error().message());
    }
    return UnavailableError("storing " + key + ": " + head.error().message());
  }

  // Records `file` in its release: the first file of a release describes it (PyPI), unless it
  // had no metadata (an egg) and this one has. The release was created with its earliest file,
  // which for imports need not be the first one listed.
  static void AddToRelease(doc::ProjectDoc& doc, const NewFile& file) {
    const std::int64_t when = file.entry.upload_time_micros;
    auto [release, inserted] = doc.releases.try_emplace(file.entry.release_key, file.facts.release);
    if (inserted) {
      release->second.created_micros = when;
      return;
    }
    const std::int64_t created = std::min(release->second.created_micros, when);
    if (release->second.metadata_version.empty() && !file.facts.release.metadata_version.empty()) {
      release->second = file.facts.release;
    }
    release->second.created_micros = created;
  }

  static std::int64_t LatestUploadMicros(const doc::ProjectDoc& doc) {
    std::int64_t latest = 0;
    for (const doc::FileEntry& file : doc.files) {
      latest = std::max(latest, file.upload_time_micros);
    }
    return latest;
  }

  // Makes sure the project list names `doc`'s project (see TouchProjectList's only_if_missing).
  // The cached list answers when it is fresh and names the project with an update time no
  // earlier than `file`'s upload. The stored list drops a project only when it is deleted; for
  // `file` to be listed after such a delete, it must have been uploaded after it, so after that
  // entry was read and later than its time (unless clocks disagree or an import gave the file
  // an old time; even then only within the TTL, and fsck --repair lists the project again).
  // Otherwise the stored list is read.
  Status EnsureListed(const doc::ProjectDoc& doc, const doc::FileEntry& file) {
    {
      std::lock_guard lock(mu_);
      if (root_.view && Fresh(root_.checked)) {
        const auto& projects = root_.view->list.projects;
        auto it = std::lower_bound(
            projects.begin(), projects.end(), doc.name,
            [](const doc::ProjectListEntry& e, const std::string& n) { return e.name < n; });
        if (it != projects.end() && it->name == doc.name &&
            it->updated_micros >= file.upload_time_micros) {
          return OkStatus();
        }
      }
    }
    return TouchProjectList(doc.name, doc.display_name, file.upload_time_micros, true);
  }

  bool Fresh(std::chrono::steady_clock::time_point checked) const {
    return std::chrono::steady_clock::now() - checked < options_.cache_ttl;
  }

  static std::int64_t SerialOf(const ProjectView& view) { return view.doc.serial; }
  static std::int64_t SerialOf(const RootView& view) { return view.list.serial; }

  // Re-reads the document at `key` if its etag changed since it was cached, and caches the
  // result. `name` is the project ("" for the project list). The store is read and the pages
  // are rendered outside the lock, so one slow read does not hold up every other request.
  template <typename View>
  StatusOr<std::shared_ptr<const View>> Revalidate(const std::string& key,
                                                   const std::string& name) {
    const auto started = std::chrono::steady_clock::now();
    std::string cached_etag;
    {
      std::lock_guard lock(mu_);
      if (const CacheEntry<View>* entry = FindEntry<View>(name); entry && entry->view) {
        cached_etag = entry->etag;
      }
    }
    auto head = storage_.Head(key);
    if (!head.has_value()) {
      if (head.error().code() != StatusCode::kNotFound) {
        return head.error();
      }
      return Install<View>(name, nullptr, "", started);
    }
    if (!cached_etag.empty() && head->etag == cached_etag) {
      std::lock_guard lock(mu_);
      CacheEntry<View>* entry = FindEntry<View>(name);
      if (entry && entry->view && entry->etag == cached_etag) {
        entry->checked = std::max(entry->checked, started);
        return entry->view;
      }
    }
    auto object = storage_.Get(key);
    if (!object.has_value()) {
      if (object.error().code() != StatusCode::kNotFound) {
        return object.error();
      }
      return Install<View>(name, nullptr, "", started);
    }
    std::shared_ptr<const View> view;
    if constexpr (std::is_same_v<View, ProjectView>) {
      PYDEPOT_ASSIGN_OR_RETURN(doc::ProjectDoc doc, doc::DecodeProjectDoc(object->data));
      view = BuildProjectView(std::move(doc));
    } else {
      PYDEPOT_ASSIGN_OR_RETURN(doc::ProjectList list, doc::DecodeProjectList(object->data));
      view = BuildRootView(std::move(list));
    }
    return Install<View>(name, std::move(view), object->info.etag, started);
  }

  // The cache entry of `name` ("" for the project list), or nullptr. REQUIRES: mu_ held.
  template <typename View>
  CacheEntry<View>* FindEntry(const std::string& name) {
    if constexpr (std::is_same_v<View, ProjectView>) {
      auto it = projects_.find(name);
      return it == projects_.end() ? nullptr : &it->second;
    } else {
      return &root_;
    }
  }

  // Caches what the store held at `etag` as of `as_of` (`view` nullptr: no such document) and
  // returns what the cache then holds. Reads and writes race: an answer never replaces a newer
  // one (a higher serial), and "absent" never replaces a document cached after `as_of`.
  template <typename View>
  std::shared_ptr<const View> Install(const std::string& name, std::shared_ptr<const View> view,
                                      std::string etag,
                                      std::chrono::steady_clock::time_point as_of) {
    std::lock_guard lock(mu_);
    if (const CacheEntry<View>* entry = FindEntry<View>(name); entry && entry->view) {
      const bool newer = view ? SerialOf(*entry->view) > SerialOf(*view) : entry->checked >= as_of;
      if (newer) {
        return entry->view;
      }
    }
    if constexpr (std::is_same_v<View, ProjectView>) {
      SetProjectEntry(name, CacheEntry<View>{view, std::move(etag), as_of});
    } else {
      root_ = CacheEntry<View>{view, std::move(etag), as_of};
    }
    return view;
  }

  // Replaces the cache entry of project `name`, keeping the number of negative entries bounded.
  // REQUIRES: mu_ held.
  void SetProjectEntry(const std::string& name, CacheEntry<ProjectView> entry) {
    auto [it, inserted] = projects_.try_emplace(name);
    if (!inserted) {
      if (it->second.view) {
        cached_bytes_ -= it->second.view->bytes;
      } else {
        --negative_entries_;
      }
    }
    if (!entry.view) {
      if (negative_entries_ >= kMaxNegativeEntries) {
        std::erase_if(projects_,
                      [&](const auto& item) { return !item.second.view && item.first != name; });
        negative_entries_ = 0;
      }
      ++negative_entries_;
    } else {
      cached_bytes_ += entry.view->bytes;
    }
    entry.last_used = ++use_counter_;
    it->second = std::move(entry);
    if (cached_bytes_ > options_.cache_bytes) {
      EvictLeastRecentlyUsed(name);
    }
  }

  // Drops the least recently used project views until the cache holds at most 7/8 of its
  // budget (so evictions come in batches, each a pass over the cache), never `keep`.
  // REQUIRES: mu_ held.
  void EvictLeastRecentlyUsed(const std::string& keep) {
    std::vector<std::pair<std::uint64_t, decltype(projects_)::iterator>> by_age;
    by_age.reserve(projects_.size());
    for (auto it = projects_.begin(); it != projects_.end(); ++it) {
      if (it->second.view && it->first != keep) {
        by_age.emplace_back(it->second.last_used, it);
      }
    }
    std::sort(by_age.begin(), by_age.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::size_t target = options_.cache_bytes - options_.cache_bytes / 8;
    for (auto& [age, it] : by_age) {
      if (cached_bytes_ <= target) {
        break;
      }
      cached_bytes_ -= it->second.view->bytes;
      projects_.erase(it);
    }
  }

  // Installs a document this instance just wrote or read, so it is served at once.
  void CacheProject(const doc::ProjectDoc& doc, const std::string& etag) {
    {
      std::lock_guard lock(mu_);
      if (CacheEntry<ProjectView>* entry = FindEntry<ProjectView>(doc.name);
          entry && entry->view && entry->etag == etag) {
        entry->checked = std::chrono::steady_clock::now();
        return;  // already rendered
      }
    }
    Install<ProjectView>(doc.name, BuildProjectView(doc), etag, std::chrono::steady_clock::now());
  }

  void CacheRoot(const doc::ProjectList& list, const std::string& etag) {
    {
      std::lock_guard lock(mu_);
      if (root_.view && root_.etag == etag) {
        root_.checked = std::chrono::steady_clock::now();
        return;
      }
    }
    Install<RootView>("", BuildRootView(list), etag, std::chrono::steady_clock::now());
  }

  StatusOr<LoadedDoc> LoadProjectDoc(const std::string& project) {
    LoadedDoc loaded;
    PYDEPOT_ASSIGN_OR_RETURN(const std::string key, storage::ProjectDocKey(project));
    auto object = storage_.Get(key);
    if (!object.has_value()) {
      if (object.error().code() == StatusCode::kNotFound) {
        return loaded;
      }
      return UnavailableError("reading index of " + project + ": " + object.error().message());
    }
    PYDEPOT_ASSIGN_OR_RETURN(doc::ProjectDoc doc, doc::DecodeProjectDoc(object->data));
    loaded.doc = std::move(doc);
    loaded.etag = object->info.etag;
    return loaded;
  }

  // Read-modify-write of a project document by compare-and-swap. `mutate` returns true when it
  // changed the document (false: leave the stored one as it is).
  Status UpdateProjectDoc(
      const std::string& project,
      const std::function<StatusOr<bool>(std::optional<doc::ProjectDoc>&)>& mutate) {
    for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
      PYDEPOT_ASSIGN_OR_RETURN(LoadedDoc loaded, LoadProjectDoc(project));
      PYDEPOT_ASSIGN_OR_RETURN(bool changed, mutate(loaded.doc));
      if (!changed) {
        if (loaded.doc) {
          CacheProject(*loaded.doc, loaded.etag);
        }
        return OkStatus();
      }
      PYDEPOT_ASSIGN_OR_RETURN(const std::string key, storage::ProjectDocKey(project));
      auto put = storage_.PutIfMatch(key, doc::EncodeProjectDoc(*loaded.doc), loaded.etag);
      if (put.has_value()) {
        CacheProject(*loaded.doc, put->etag);
        return OkStatus();
      }
      if (put.error().code() != StatusCode::kFailedPrecondition) {
        return UnavailableError("updating index of " + project + ": " + put.error().message());
      }
      BackOffAfterLostSwap(attempt);
    }
    return UnavailableError("updating index of " + project + ": too much contention, retry");
  }

  // Records an upload to `project` in the project list: adds the project, or updates its
  // display name and time. With `only_if_missing`, a project already listed is left alone.
  // A project is added only while its document lists files: the upload's file may have been
  // deleted with the project since it was listed, and the delete may have taken the project out
  // of the list already. The document is read after the list, so a delete that lands meanwhile
  // either shows here or changes the list's etag (this attempt then retries).
  Status TouchProjectList(const std::string& project, const std::string& display_name,
                          std::int64_t when, bool only_if_missing = false) {
    return UpdateProjectList([&](doc::ProjectList& list) -> StatusOr<bool> {
      auto it = FindListEntry(list, project);
      if (it != list.projects.end() && it->name == project) {
        if (only_if_missing || (it->display_name == display_name && it->updated_micros >= when)) {
          return false;
        }
        it->display_name = display_name;
        it->updated_micros = std::max(it->updated_micros, when);
      } else {
        PYDEPOT_ASSIGN_OR_RETURN(LoadedDoc loaded, LoadProjectDoc(project));
        if (!loaded.doc || IsDeletedProject(*loaded.doc)) {
          return false;
        }
        list.projects.insert(it, doc::ProjectListEntry{project, display_name, when});
      }
      list.serial++;
      return true;
    });
  }

  // Where `project` is, or would be inserted, in the sorted `list`.
  static std::vector<doc::ProjectListEntry>::iterator FindListEntry(doc::ProjectList& list,
                                                                    const std::string& project) {
    return std::lower_bound(
        list.projects.begin(), list.projects.end(), project,
        [](const doc::ProjectListEntry& e, const std::string& n) { return e.name < n; });
  }

  // Read-modify-write of the project list by compare-and-swap (an absent list reads as empty).
  // `mutate` returns true when it changed the list (and bumped its serial); it runs again on
  // every retry, against the list as then stored.
  Status UpdateProjectList(const std::function<StatusOr<bool>(doc::ProjectList&)>& mutate) {
    const std::string key = storage::ProjectListKey();
    for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
      doc::ProjectList list;
      std::string etag;
      auto object = storage_.Get(key);
      if (object.has_value()) {
        PYDEPOT_ASSIGN_OR_RETURN(list, doc::DecodeProjectList(object->data));
        etag = object->info.etag;
      } else if (object.error().code() != StatusCode::kNotFound) {
        return UnavailableError("reading project list: " + object.error().message());
      }
      PYDEPOT_ASSIGN_OR_RETURN(const bool changed, mutate(list));
      if (!changed) {
        if (!etag.empty()) {
          CacheRoot(list, etag);
        }
        return OkStatus();
      }
      auto put = storage_.PutIfMatch(key, doc::EncodeProjectList(list), etag);
      if (put.has_value()) {
        CacheRoot(list, put->etag);
        return OkStatus();
      }
      if (put.error().code() != StatusCode::kFailedPrecondition) {
        return UnavailableError("updating project list: " + put.error().message());
      }
      BackOffAfterLostSwap(attempt);
    }
    return UnavailableError("updating project list: too much contention, retry");
  }

  static Status CheckNotDeleted(const doc::ProjectDoc& doc, const std::string& filename) {
    for (const auto& deleted : doc.deleted_filenames) {
      if (deleted == filename) {
        return FailedPreconditionError(
            "This filename was previously used by a file that has since been deleted. Use a "
            "different version.");
      }
    }
    return OkStatus();
  }

  static Status CheckOneSdistPerRelease(const doc::ProjectDoc& doc, const doc::FileEntry& entry) {
    if (entry.filetype != "sdist") {
      return OkStatus();
    }
    for (const auto& file : doc.files) {
      if (file.filetype == "sdist" && file.release_key == entry.release_key) {
        return InvalidArgumentError("Only one sdist may be uploaded per release.");
      }
    }
    return OkStatus();
  }

  StatusOr<ArchiveFacts> ReadArchive(const ValidatedUpload& upload,
                                     const doc::UploadedFile& content) const {
    auto member = archive::ReadDistMetadata(content.path, upload.filename, options_.archive_limits);
    if (!member.has_value()) {
      return InvalidArgumentError("Invalid distribution file. " + member.error().message());
    }
    auto metadata = model::CoreMetadata::Parse(member->contents);
    if (!metadata.has_value()) {
      return InvalidArgumentError("Invalid distribution file. " + member->member + ": " +
                                  metadata.error().message());
    }
    PYDEPOT_RETURN_IF_ERROR(CheckMetadataAgainstUpload(*metadata, upload));
    return FactsFromMetadata(*metadata, upload.filename);
  }

  Status SetYank(std::string_view project_name, std::string_view version, const std::string& reason,
                 bool yank) {
    const std::string project = model::NormalizeProjectName(project_name);
    if (!storage::ProjectDocKey(project).has_value()) {
      return NotFoundError("no project '" + project.substr(0, 100) + "'");
    }
    const std::string key = model::Version::ParseLenient(version).ReleaseKey();
    bool found = false;
    PYDEPOT_RETURN_IF_ERROR(
        UpdateProjectDoc(project, [&](std::optional<doc::ProjectDoc>& doc) -> StatusOr<bool> {
          if (!doc) {
            return false;
          }
          bool has_release = doc->releases.contains(key);
          for (const auto& file : doc->files) {
            has_release = has_release || file.release_key == key;
          }
          if (!has_release) {
            return false;
          }
          found = true;
          auto it = doc->yanked.find(key);
          if (yank) {
            if (it != doc->yanked.end() && it->second == reason) {
              return false;
            }
            doc->yanked[key] = reason;
          } else {
            if (it == doc->yanked.end()) {
              return false;
            }
            doc->yanked.erase(it);
          }
          doc->serial++;
          return true;
        }));
    if (!found) {
      return NotFoundError("no release " + std::string(version) + " of project '" + project + "'");
    }
    return OkStatus();
  }

  // What a delete does to a project document that is not deleted: moves the entries to delete
  // into `removed` (RemoveFiles), or answers kNotFound when they are not there.
  using RemoveFn = std::function<Status(doc::ProjectDoc&, std::vector<doc::FileEntry>&)>;

  // The write shared by the deletes (docs/consistency.md, "Deleting"). `remove` runs against the
  // document as stored, by compare-and-swap, again on every retry; then a project left without
  // files leaves the project list; only then are the removed files' bytes and .metadata deleted.
  // A crash or failure after the document update leaves the files unlisted and their filenames
  // refused forever; what remains in the store is orphans for fsck --repair, never a listed file
  // without bytes.
  Status DeleteEntries(std::string_view project_name, const RemoveFn& remove) {
    const std::string project = model::NormalizeProjectName(project_name);
    const Status no_project = NotFoundError("no project '" + project.substr(0, 100) + "'");
    if (!storage::ProjectDocKey(project).has_value()) {
      return no_project;
    }
    std::vector<doc::FileEntry> removed;
    Status refused;
    bool deleted = false;  // the project is left without files (or was deleted before)
    PYDEPOT_RETURN_IF_ERROR(
        UpdateProjectDoc(project, [&](std::optional<doc::ProjectDoc>& doc) -> StatusOr<bool> {
          removed.clear();
          refused = OkStatus();
          deleted = false;
          if (!doc) {
            refused = no_project;
            return false;
          }
          if (IsDeletedProject(*doc)) {
            deleted = true;
            refused = NotFoundError("no project '" + project + "' (it was deleted)");
            return false;
          }
          refused = remove(*doc, removed);
          if (!refused.ok()) {
            return false;
          }
          deleted = IsDeletedProject(*doc);
          doc->serial++;
          return true;
        }));
    // A deleted project leaves the project list, also when it was deleted before: repeating a
    // delete whose list update failed finishes it.
    Status unlisted = deleted ? Unlist(project) : OkStatus();
    Status bytes = DeleteStoredFiles(project, removed);
    if (!unlisted.ok()) {
      return unlisted;
    }
    return refused.ok() ? bytes : refused;
  }

  // Moves the files `selects` picks from doc.files to `removed`, records their filenames as
  // deleted, and drops the ReleaseInfo and yank mark of every release left without a file among
  // the removed files' releases and `releases`.
  static void RemoveFiles(doc::ProjectDoc& doc,
                          const std::function<bool(const doc::FileEntry&)>& selects,
                          std::set<std::string> releases, std::vector<doc::FileEntry>& removed) {
    std::vector<doc::FileEntry> kept;
    kept.reserve(doc.files.size());
    for (doc::FileEntry& file : doc.files) {
      if (!selects(file)) {
        kept.push_back(std::move(file));
        continue;
      }
      releases.insert(file.release_key);
      if (std::find(doc.deleted_filenames.begin(), doc.deleted_filenames.end(), file.filename) ==
          doc.deleted_filenames.end()) {
        doc.deleted_filenames.push_back(file.filename);
      }
      removed.push_back(std::move(file));
    }
    doc.files = std::move(kept);
    for (const std::string& key : releases) {
      const bool has_files =
          std::any_of(doc.files.begin(), doc.files.end(),
                      [&](const doc::FileEntry& f) { return f.release_key == key; });
      if (!has_files) {
        doc.releases.erase(key);
        doc.yanked.erase(key);
      }
    }
  }

  // Takes a deleted project out of the project list. The document is read after the list on
  // every attempt (as SyncProjectListEntry does), and once more afterwards (RelistIfRevived).
  Status Unlist(const std::string& project) {
    bool removed = false;
    PYDEPOT_RETURN_IF_ERROR(UpdateProjectList([&](doc::ProjectList& list) -> StatusOr<bool> {
      removed = false;
      auto it = FindListEntry(list, project);
      if (it == list.projects.end() || it->name != project) {
        return false;
      }
      PYDEPOT_ASSIGN_OR_RETURN(LoadedDoc loaded, LoadProjectDoc(project));
      if (loaded.doc && !IsDeletedProject(*loaded.doc)) {
        return false;  // an upload brought it back meanwhile
      }
      list.projects.erase(it);
      list.serial++;
      removed = true;
      return true;
    }));
    return removed ? RelistIfRevived(project) : OkStatus();
  }

  // Called after `project` was taken out of the project list. An upload that listed a file in
  // its document after this instance read the document, but read the list before this instance
  // wrote it, found the project still listed and may have left the list alone. Its file is in
  // the document by now, so this read finds it and lists the project again; an upload that
  // lists its file later reads the list later too, finds the project missing and adds it.
  Status RelistIfRevived(const std::string& project) {
    PYDEPOT_ASSIGN_OR_RETURN(LoadedDoc loaded, LoadProjectDoc(project));
    if (!loaded.doc || IsDeletedProject(*loaded.doc)) {
      return OkStatus();
    }
    CacheProject(*loaded.doc, loaded.etag);  // the project is back: serve it so at once
    return TouchProjectList(project, loaded.doc->display_name, LatestUploadMicros(*loaded.doc),
                            true);
  }

  // Deletes the stored bytes and .metadata of `files`, which no document lists any more (an
  // absent object is fine). Tries every one and returns the first failure.
  Status DeleteStoredFiles(const std::string& project, const std::vector<doc::FileEntry>& files) {
    Status first;
    for (const doc::FileEntry& file : files) {
      for (const auto& key : {storage::FileKey(project, file.filename),
                              storage::MetadataKey(project, file.filename)}) {
        if (!key.has_value()) {
          continue;  // cannot be stored under such a name
        }
        const Status deleted = storage_.Delete(*key);
        if (!deleted.ok() && deleted.code() != StatusCode::kNotFound && first.ok()) {
          first = UnavailableError(
              "'" + file.filename + "' is deleted from the index, but removing " + *key +
              " failed (" + deleted.message() + "); pydepot fsck --repair removes what is left");
        }
      }
    }
    return first;
  }

  storage::Storage& storage_;
  IndexOptions options_;
  std::mutex mu_;
  // Looked up by string_view on every request: hashed, without building a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::unordered_map<std::string, CacheEntry<ProjectView>, NameHash, std::equal_to<>>
      projects_;                      // guarded by mu_
  std::size_t negative_entries_ = 0;  // entries of projects_ without a view; guarded by mu_
  std::size_t cached_bytes_ = 0;      // sum of the cached views' bytes; guarded by mu_
  std::uint64_t use_counter_ = 0;     // bumped by every hit and install; guarded by mu_
  CacheEntry<RootView> root_;         // guarded by mu_
};

}  // namespace

std::shared_ptr<const ProjectView> MakeProjectView(doc::ProjectDoc doc) {
  return BuildProjectView(std::move(doc));
}

std::unique_ptr<Index> Index::Create(storage::Storage& storage, IndexOptions options) {
  return std::make_unique<IndexImpl>(storage, std::move(options));
}

}  // namespace pydepot::index
