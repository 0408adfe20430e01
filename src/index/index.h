// The live index: projects, releases and files as stored documents, kept in memory as ready pages
// with their ETags, refreshed when the store changes; and the write paths (upload, import, yank,
// delete) that keep the documents consistent with many instances on one store (create-only file
// writes, compare-and-swap document updates with retry). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "archive/dist_archive.h"
#include "base/status.h"
#include "doc/project.h"
#include "doc/upload_form.h"
#include "storage/storage.h"

namespace pydepot::index {

// A page's bytes in a sealed, read-only memfd, so the server can send a large page with
// sendfile(2) straight from memory the kernel holds (write(2) would copy it into the socket
// first). Closes the descriptor when the last owner goes.
class SealedBytes {
 public:
  // nullptr when the kernel cannot make one (the page is then written from its string).
  static std::shared_ptr<const SealedBytes> Create(std::string_view bytes);
  explicit SealedBytes(int fd, std::size_t size) : fd_(fd), size_(size) {}
  ~SealedBytes();
  SealedBytes(const SealedBytes&) = delete;
  SealedBytes& operator=(const SealedBytes&) = delete;
  SealedBytes(SealedBytes&&) = delete;
  SealedBytes& operator=(SealedBytes&&) = delete;

  int fd() const { return fd_; }
  std::size_t size() const { return size_; }

 private:
  int fd_;
  std::size_t size_;
};

// A rendered representation, immutable once built.
struct Page {
  std::string body;
  std::string etag;  // strong, quoted: "\"<hex>\""
  // The body gzip-compressed (Content-Encoding: gzip) with its own strong ETag, prepared with the
  // page; both empty when compression would not pay (small pages).
  std::string gzip;
  std::string gzip_etag;
  // Pages (or gzip forms) of 64 KiB or more, such as the root list of a large index, also as
  // sealed memfds; nullptr for smaller ones.
  std::shared_ptr<const SealedBytes> body_file;
  std::shared_ptr<const SealedBytes> gzip_file;
};

// One project as served: its document and every representation, built once per change.
struct ProjectView {
  doc::ProjectDoc doc;
  Page simple_html;
  Page simple_json;
  Page pypi_json;  // host-relative URLs
  Page human_html;
  std::size_t bytes = 0;  // approximate memory held, for the cache budget
};

// The project list as served.
struct RootView {
  doc::ProjectList list;
  Page simple_html;
  Page simple_json;
  Page human_html;
};

// True for the document of a deleted project: it lists no files and no releases, only its
// deleted filenames (and its name). Such a project is served as no project at all (404) and is
// not in the project list; an upload of a new filename brings it back.
bool IsDeletedProject(const doc::ProjectDoc& doc);

// A view of `doc` with its pages rendered, as the index builds its own (src/upstream uses it for
// upstream projects). A deleted project's view (IsDeletedProject) has no pages.
std::shared_ptr<const ProjectView> MakeProjectView(doc::ProjectDoc doc);

struct IndexOptions {
  // How long a cached document is trusted before it is revalidated against the store (a HEAD;
  // the document is read again only when its etag changed). Changes made through this Index are
  // visible at once; changes made by other instances within this bound.
  std::chrono::milliseconds cache_ttl{2000};
  // Most memory the cached project views may hold (approximately); past it the least recently
  // used are dropped (and rendered again from the store when next asked for). The project list
  // is always kept.
  std::size_t cache_bytes = std::size_t{128} << 20;
  // Accept local version labels (1.0+cu118) on upload. PyPI refuses them; a private index
  // commonly needs them.
  bool allow_local_versions = true;
  archive::ArchiveLimits archive_limits;
  // Current time, microseconds since the epoch (injectable for tests).
  std::function<std::int64_t()> now_micros;
};

// What an accepted upload (or import) did.
struct UploadOutcome {
  std::string project;  // normalized
  std::string filename;
  bool created = false;  // false: an identical file was already there, nothing changed
  // Import only: why the file was listed without metadata from its archive (an egg or other
  // legacy binary, an unreadable archive, metadata naming another project or version); "" when
  // the metadata was read, or when nothing was created.
  std::string metadata_problem;
};

class Index {
 public:
  // `storage` must outlive the Index.
  static std::unique_ptr<Index> Create(storage::Storage& storage, IndexOptions options = {});
  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;
  Index(Index&&) = delete;
  Index& operator=(Index&&) = delete;
  virtual ~Index() = default;

  // The project `normalized_name`. kNotFound when there is no such project; kUnavailable /
  // kInternal when the store fails.
  virtual StatusOr<std::shared_ptr<const ProjectView>> GetProject(
      std::string_view normalized_name) = 0;

  // The project list (an empty list when nothing was ever uploaded).
  virtual StatusOr<std::shared_ptr<const RootView>> GetRoot() = 0;

  // As GetProject and GetRoot, answered from memory alone: nullopt when the answer would need
  // the store (not cached, or cached longer ago than the TTL). Never blocks on I/O, so the
  // server calls them on its network threads and hands only the misses to blocking threads.
  virtual std::optional<StatusOr<std::shared_ptr<const ProjectView>>> PeekProject(
      std::string_view normalized_name) = 0;
  virtual std::optional<std::shared_ptr<const RootView>> PeekRoot() = 0;

  // Validates and stores an upload (STANDARDS §11, in PyPI's order). The form's content temp
  // file goes to Storage::MoveFileIfAbsent (a local store may link it into place instead of
  // copying it): the caller must not change it afterwards, and removes its name. Errors, each
  // with a message fit for the HTTP reason phrase:
  //   kInvalidArgument     bad form, filename, digest, archive or metadata (HTTP 400);
  //   kAlreadyExists       other bytes under an existing filename: the message starts with
  //                        "File already exists" (HTTP 400); no other error contains that
  //                        phrase or any other of STANDARDS UP-14, even when it quotes input;
  //   kFailedPrecondition  the filename belonged to a deleted file (HTTP 400);
  //   kUnavailable         the store failed or stayed contended (HTTP 503).
  // An upload of bytes identical to a stored file succeeds with created == false (and makes sure
  // the project is in the project list, so a retry after a partial failure converges).
  virtual StatusOr<UploadOutcome> Upload(const doc::UploadForm& form, std::string_view user) = 0;

  // Brings in a distribution that exists elsewhere (`pydepot import`): the local `file` holds the
  // bytes of `filename` (read, not moved; the caller removes it). Unlike Upload there is no form
  // and fewer rules, since the file was already published and must not be lost in the move:
  //   - the project and version come from the filename. `project_hint` (any spelling; "" when
  //     unknown), e.g. the directory the file was found in, splits legacy names as pip does
  //     ("Foo.Bar-1.0-1.tar.gz" with "foo-bar": version 1.0-1); without it an sdist's own PKG-INFO
  //     Name splits it when the filename starts with that name, else the last '-' does (as
  //     packaging's parse_sdist_filename);
  //   - every kind ParseDistFilename knows is accepted: wheels, sdists of every legacy extension,
  //     eggs and the other legacy binaries (listed with their own filetype, "bdist_egg", ...);
  //   - a version that is not PEP 440 is kept as text (it sorts below every valid version);
  //   - the metadata (wheel METADATA, sdist PKG-INFO) is read when possible and must name the
  //     same project and version; wheels then get their .metadata file, and the file and release
  //     their Requires-Python and release fields. When it cannot be read or does not match, the
  //     file is listed without it and UploadOutcome::metadata_problem says why;
  //   - several sdists of one release are allowed (old indexes hold .tar.gz and .zip side by side);
  //   - the file's upload time is `upload_time_micros` (the source's file or object time; <= 0:
  //     now); a release's creation time is its earliest file's; `uploader` is recorded as its
  //     uploader.
  // As Upload, the file is stored create-only and the document updated by compare-and-swap, so
  // an import is safe to repeat and to run beside live uploads: a file already listed with the
  // same sha256 succeeds with created == false and changes nothing.
  // Errors: kInvalidArgument when `filename` is not a distribution filename (or does not match
  // `project_hint`) or cannot be a storage key; kAlreadyExists ("File already exists ...") when
  // other bytes are stored under `filename`; kFailedPrecondition when the filename belonged to a
  // deleted file; kNotFound / kInvalidArgument when `file` cannot be read; kUnavailable when the
  // store failed or stayed contended.
  virtual StatusOr<UploadOutcome> Import(const std::filesystem::path& file,
                                         std::string_view filename, std::string_view project_hint,
                                         std::int64_t upload_time_micros,
                                         std::string_view uploader) = 0;

  // Marks every file of the release `version` (matched by release key) yanked with `reason`,
  // or clears the mark. kNotFound when the project or release does not exist.
  virtual Status Yank(std::string_view project, std::string_view version,
                      std::string_view reason) = 0;
  virtual Status Unyank(std::string_view project, std::string_view version) = 0;

  // Deleting (docs/web-ui.md). Each removes entries from the project document by
  // compare-and-swap, adds their filenames to deleted_filenames (so they can never be uploaded
  // or imported again), and only then deletes the stored files and their .metadata files (a
  // crash in between leaves orphans that fsck --repair removes, never a listed file without
  // bytes). A release's ReleaseInfo and yank mark go with its last file. `project` is a
  // normalized name; `version` is matched by release key (1.0.0 finds 1.0).
  //   DeleteFile     one file; kNotFound when the project or file does not exist.
  //   DeleteRelease  every file of the release; kNotFound when there is no such release.
  //   DeleteProject  every file; the project leaves the project list, and its pages answer
  //                  404 as for a project never uploaded. The document stays with its
  //                  deleted_filenames, so the name can be used again but not the filenames.
  //                  kNotFound when the project does not exist (or was already deleted).
  // kUnavailable when the store fails or stays contended.
  virtual Status DeleteFile(std::string_view project, std::string_view filename) = 0;
  virtual Status DeleteRelease(std::string_view project, std::string_view version) = 0;
  virtual Status DeleteProject(std::string_view project) = 0;

  // Brings the project list entry of `project` (a normalized name) in line with its project
  // document, for `pydepot fsck --repair`: adds a missing entry (dated by the latest upload),
  // sets a display name that differs to the document's, and removes the entry of a project that
  // has no document or was deleted (IsDeletedProject). By compare-and-swap, as uploads update
  // the list, re-reading the document on every attempt (and once more after removing an entry,
  // putting it back if an upload listed a file meanwhile). Returns true when the list changed.
  // kInvalidArgument when `project` is not a normalized name or its document cannot be decoded (the
  // list is then left alone); kUnavailable when the store fails or stays contended.
  virtual StatusOr<bool> SyncProjectListEntry(std::string_view project) = 0;

  // Private names and the upstream proxy (docs/upstream.md). `project` is a normalized name.
  // IsPrivateName: true when a project document exists for `project`: any upload ever made, a
  // deleted project, or a claimed name. Such a name is never served from, nor asked of, the
  // upstream. Reads the store (kUnavailable when it fails: callers must then not go upstream).
  virtual StatusOr<bool> IsPrivateName(std::string_view project) = 0;
  // Claims `project` before its first upload: creates an empty project document when none
  // exists (create-only; the name serves nothing until an upload). True when it created one,
  // false when the name was already taken. kInvalidArgument for an invalid name.
  virtual StatusOr<bool> Claim(std::string_view project) = 0;
  // Sets ProjectDoc::upstream_allowed (mix upstream files into this local project). kNotFound
  // when no document exists for the name (claim it first).
  virtual Status SetUpstreamAllowed(std::string_view project, bool allowed) = 0;

  virtual storage::Storage& storage() = 0;
};

}  // namespace pydepot::index
