// Helpers shared by the render/*.cc files (not part of the module's interface): UTF-8 repair,
// JSON serialization, file URLs, and a per-release view of a project document. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "doc/project.h"
#include "model/version.h"

namespace pydepot::render::internal {

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, so served JSON and HTML are
// always valid UTF-8 whatever bytes reached a stored field.
std::string ValidUtf8(std::string_view text);

// A JSON string holding ValidUtf8(text).
boost::json::string JsonString(std::string_view text);
// JsonString(text), or null when `text` is empty (PyPI's JSON API uses null for absent fields).
boost::json::value JsonStringOrNull(std::string_view text);
// Compact serialization; object keys keep their insertion order, so output is deterministic.
std::string ToJson(const boost::json::value& value);

// "files/<percent-encoded project>/<percent-encoded filename>": the file's path below the site
// root, without a leading slash.
std::string FilePath(std::string_view project, std::string_view filename);

// The display name of a project, falling back to the normalized name when none was recorded.
const std::string& DisplayName(const doc::ProjectDoc& doc);

// One release of a project, as the PyPI JSON API and the project page show it.
struct ReleaseView {
  std::string key;        // release key (doc.releases key, FileEntry::release_key)
  std::string version;    // ReleaseInfo::version, else the first file's version, else `key`
  model::Version parsed;  // ParseLenient(version)
  const doc::ReleaseInfo* info = nullptr;    // nullptr when the document has no metadata for it
  const std::string* yank_reason = nullptr;  // nullptr when not yanked
  std::vector<const doc::FileEntry*> files;  // sorted by filename
};

// Every release of `doc` (those in doc.releases and those only named by files), in ascending
// PEP 440 order. The views point into `doc`, which must outlive them.
std::vector<ReleaseView> CollectReleases(const doc::ProjectDoc& doc);

// The release PyPI's JSON API shows as latest (STANDARDS PJ-05): the newest by PEP 440,
// preferring non-yanked over yanked and then final releases over pre-releases. nullptr when
// `releases` is empty.
const ReleaseView* ChooseLatest(const std::vector<ReleaseView>& releases);

}  // namespace pydepot::render::internal
