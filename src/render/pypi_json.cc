// PyPI's own JSON API, /pypi/<project>/json and /pypi/<project>/<version>/json (STANDARDS §13).
// Keys are written in alphabetical order, as pypi.org serves them.
#include "base/status_macros.h"
#include "render/internal.h"
#include "render/render.h"

namespace pydepot::render {
namespace {

namespace json = boost::json;
using internal::JsonString;
using internal::JsonStringOrNull;
using internal::ReleaseView;

json::value StringListOrNull(const std::vector<std::string>& values) {
  if (values.empty()) {
    return nullptr;
  }
  json::array out;
  for (const std::string& value : values) {
    out.emplace_back(JsonString(value));
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) {
    return {};
  }
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// Warehouse's project_urls: Homepage and Download first, then each "Label, URL" entry; a later
// label replaces an earlier one in place. null when there are none.
json::value ProjectUrls(const doc::ReleaseInfo& info) {
  json::object urls;
  if (!info.home_page.empty()) {
    urls["Homepage"] = JsonString(info.home_page);
  }
  if (!info.download_url.empty()) {
    urls["Download"] = JsonString(info.download_url);
  }
  for (const std::string_view entry : info.project_urls) {
    const std::size_t comma = entry.find(',');
    const std::string_view label = Trim(entry.substr(0, comma));
    const std::string_view url =
        comma == std::string_view::npos ? std::string_view() : Trim(entry.substr(comma + 1));
    urls[internal::ValidUtf8(label)] = JsonString(url);
  }
  if (urls.empty()) {
    return nullptr;
  }
  return urls;
}

std::string Join(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty()) {
      out += separator;
    }
    out += value;
  }
  return out;
}

json::object Info(const doc::ProjectDoc& doc, const ReleaseView* release, std::string_view origin) {
  static const doc::ReleaseInfo kEmpty;
  const doc::ReleaseInfo& info =
      release != nullptr && release->info != nullptr ? *release->info : kEmpty;
  const std::string version = release != nullptr ? release->version : "";
  const std::string project_url = std::string(origin) + "/project/" + PercentEncode(doc.name) + "/";

  json::object out;
  out["author"] = JsonStringOrNull(info.author);
  out["author_email"] = JsonStringOrNull(info.author_email);
  out["bugtrack_url"] = nullptr;
  json::array classifiers;
  for (const std::string& classifier : info.classifiers) {
    classifiers.emplace_back(JsonString(classifier));
  }
  out["classifiers"] = std::move(classifiers);
  out["description"] = JsonString(info.description);
  out["description_content_type"] = JsonStringOrNull(info.description_content_type);
  out["docs_url"] = nullptr;
  out["download_url"] = JsonStringOrNull(info.download_url);
  out["downloads"] = {{"last_day", -1}, {"last_month", -1}, {"last_week", -1}};
  out["dynamic"] = StringListOrNull(info.dynamic);
  out["home_page"] = JsonStringOrNull(info.home_page);
  out["keywords"] = JsonStringOrNull(info.keywords);
  out["license"] = JsonStringOrNull(info.license);
  out["license_expression"] = JsonStringOrNull(info.license_expression);
  out["license_files"] = StringListOrNull(info.license_files);
  out["maintainer"] = JsonStringOrNull(info.maintainer);
  out["maintainer_email"] = JsonStringOrNull(info.maintainer_email);
  out["name"] = JsonString(internal::DisplayName(doc));
  out["package_url"] = JsonString(project_url);
  out["platform"] = JsonStringOrNull(Join(info.platforms, ", "));
  out["project_url"] = JsonString(project_url);
  out["project_urls"] = ProjectUrls(info);
  out["provides_extra"] = StringListOrNull(info.provides_extra);
  out["release_url"] = JsonString(project_url + PercentEncode(version) + "/");
  out["requires_dist"] = StringListOrNull(info.requires_dist);
  out["requires_python"] = JsonStringOrNull(info.requires_python);
  out["summary"] = JsonStringOrNull(info.summary);
  out["version"] = JsonString(version);
  const bool yanked = release != nullptr && release->yank_reason != nullptr;
  out["yanked"] = yanked;
  out["yanked_reason"] = yanked ? JsonStringOrNull(*release->yank_reason) : json::value(nullptr);
  return out;
}

json::object File(const doc::ProjectDoc& doc, const doc::FileEntry& file, std::string_view origin) {
  const std::string upload_time = doc::FormatUploadTime(file.upload_time_micros);
  json::object out;
  out["comment_text"] = "";
  if (file.metadata_sha256.empty()) {
    out["core-metadata"] = false;
  } else {
    out["core-metadata"] = {{"sha256", JsonString(file.metadata_sha256)}};
  }
  // An upstream's files come with a sha256 only: the other digests, and a size or upload time
  // an HTML page did not state, are null rather than values the file does not have.
  out["digests"] = {{"blake2b_256", JsonStringOrNull(file.blake2b_256)},
                    {"md5", JsonStringOrNull(file.md5)},
                    {"sha256", JsonString(file.sha256)}};
  out["downloads"] = -1;
  out["filename"] = JsonString(file.filename);
  out["has_sig"] = false;
  out["md5_digest"] = JsonStringOrNull(file.md5);
  out["packagetype"] = JsonString(file.filetype);
  out["python_version"] = JsonString(file.python_version);
  out["requires_python"] = JsonStringOrNull(file.requires_python);
  out["size"] = file.size >= 0 ? json::value(file.size) : json::value(nullptr);
  if (file.upload_time_micros > 0) {
    out["upload_time"] = upload_time.substr(0, 19);  // no fraction, no zone
    out["upload_time_iso_8601"] = upload_time;
  } else {
    out["upload_time"] = nullptr;
    out["upload_time_iso_8601"] = nullptr;
  }
  out["url"] = JsonString(std::string(origin) + "/" + internal::FilePath(doc.name, file.filename));
  // A file yanked by itself (upstream files: PEP 592 per file) or with its release.
  const std::string* yank_reason = doc.YankReason(file);
  out["yanked"] = yank_reason != nullptr;
  out["yanked_reason"] =
      yank_reason != nullptr ? JsonStringOrNull(*yank_reason) : json::value(nullptr);
  return out;
}

json::array Files(const doc::ProjectDoc& doc, const ReleaseView& release, std::string_view origin) {
  json::array out;
  out.reserve(release.files.size());
  for (const doc::FileEntry* file : release.files) {
    out.emplace_back(File(doc, *file, origin));
  }
  return out;
}

// The document for `chosen` (which points into `releases`, or is nullptr for a project without
// releases); `releases` is written only when `with_releases`.
std::string Render(const doc::ProjectDoc& doc, const std::vector<ReleaseView>& releases,
                   const ReleaseView* chosen, bool with_releases, std::string_view origin) {
  json::object root;
  root["info"] = Info(doc, chosen, origin);
  root["last_serial"] = doc.serial;
  if (with_releases) {
    json::object map;
    for (const ReleaseView& release : releases) {
      map[internal::ValidUtf8(release.version)] = Files(doc, release, origin);
    }
    root["releases"] = std::move(map);
  }
  root["urls"] = chosen != nullptr ? Files(doc, *chosen, origin) : json::array();
  root["vulnerabilities"] = json::array();
  return internal::ToJson(root);
}

}  // namespace

std::string PypiProjectJson(const doc::ProjectDoc& doc, std::string_view origin) {
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  return Render(doc, releases, internal::ChooseLatest(releases), /*with_releases=*/true, origin);
}

StatusOr<std::string> PypiReleaseJson(const doc::ProjectDoc& doc, std::string_view version,
                                      std::string_view origin) {
  const std::string key = model::Version::ParseLenient(version).ReleaseKey();
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  for (const ReleaseView& release : releases) {
    if (release.key == key) {
      return Render(doc, releases, &release, /*with_releases=*/false, origin);
    }
  }
  return NotFoundError("release " + std::string(version) + " of " + doc.name + ": not found");
}

}  // namespace pydepot::render
