// The stored index data of one project (index/projects/<project>.json) and of the project list
// (index/projects.json): plain values, with their JSON encoding. Documents are only ever
// replaced by compare-and-swap (see index.h). Thread-compatible values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pydepot::doc {

// One distribution file, as accepted at upload.
struct FileEntry {
  std::string filename;
  std::string version;         // canonical PEP 440 version of the file (Version::Canonical())
  std::string release_key;     // Version::ReleaseKey(): files with equal keys form one release
  std::string filetype;        // "sdist" or "bdist_wheel" (legacy kinds for imported files)
  std::string python_version;  // "source" for sdists, the wheel's python tag set ("py3")
  std::int64_t size = 0;       // -1: unknown (an upstream's file listed on an HTML page)
  std::string sha256;          // lowercase hex
  std::string md5;
  std::string blake2b_256;
  std::int64_t upload_time_micros = 0;  // UTC, microseconds since the epoch
  std::string requires_python;          // from the file's own metadata; "" when none
  std::string metadata_sha256;  // sha256 of <filename>.metadata when served (wheels), else ""
  std::string uploader;         // user name
  // A yank of this one file with its reason ("" when none given), as upstream pages have
  // (local yanks are per release: ProjectDoc::yanked). Encoded only when set.
  std::optional<std::string> yanked;
};

// Core metadata of a release, from the first file uploaded for it (PyPI semantics).
struct ReleaseInfo {
  std::string version;  // canonical version of that first file
  std::int64_t created_micros = 0;
  std::string metadata_version;
  std::string summary;
  std::string description;
  std::string description_content_type;
  std::string author;
  std::string author_email;
  std::string maintainer;
  std::string maintainer_email;
  std::string license;
  std::string license_expression;
  std::string keywords;
  std::string home_page;
  std::string download_url;
  std::string requires_python;
  std::vector<std::string> classifiers;
  std::vector<std::string> requires_dist;
  std::vector<std::string> provides_extra;
  std::vector<std::string> project_urls;  // "Label, URL" as written
  std::vector<std::string> platforms;
  std::vector<std::string> dynamic;
  std::vector<std::string> license_files;
};

struct ProjectDoc {
  std::string name;          // normalized (PEP 503)
  std::string display_name;  // as the latest upload spelled it
  std::int64_t serial = 0;   // +1 on every change
  // Sorted by (version order, filename); see SortFiles.
  std::vector<FileEntry> files;
  // Keyed by release key.
  std::map<std::string, ReleaseInfo> releases;
  // Yanked releases: release key -> reason ("" when none given).
  std::map<std::string, std::string> yanked;
  // Filenames that were deleted; they can never be uploaded again.
  std::vector<std::string> deleted_filenames;
  // An admin allowed upstream files (of other filenames) to be served together with this local
  // project's own (docs/upstream.md). Encoded only when true.
  bool upstream_allowed = false;

  const FileEntry* FindFile(std::string_view filename) const;
  // The yank reason of `file` itself (FileEntry::yanked) when set, else that of its release;
  // nullptr when neither is yanked.
  const std::string* YankReason(const FileEntry& file) const;
  // Puts files in PEP 440 order of their version, then by filename.
  void SortFiles();
};

struct ProjectListEntry {
  std::string name;  // normalized
  std::string display_name;
  std::int64_t updated_micros = 0;  // last upload
};

struct ProjectList {
  std::int64_t serial = 0;
  std::vector<ProjectListEntry> projects;  // sorted by name
};

std::string EncodeProjectDoc(const ProjectDoc& doc);
StatusOr<ProjectDoc> DecodeProjectDoc(std::string_view json);
std::string EncodeProjectList(const ProjectList& list);
StatusOr<ProjectList> DecodeProjectList(std::string_view json);

// "2024-01-02T03:04:05.123456Z" (RFC 3339, UTC, microseconds).
std::string FormatUploadTime(std::int64_t micros);

}  // namespace pydepot::doc
