#include "doc/project.h"

#include <algorithm>
#include <cinttypes>
#include <compare>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>

#include <boost/json.hpp>

#include "base/status_macros.h"
#include "model/version.h"

namespace pydepot::doc {
namespace {

namespace json = boost::json;

// Index documents must always be valid JSON, whatever bytes reached a field (metadata is
// supposed to be UTF-8, but old or broken uploads exist): ill-formed UTF-8 sequences become
// U+FFFD instead of poisoning the whole document for the strict UTF-8 check on decode.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t min = 0;
    if (byte < 0x80) {
      out += text[i++];
      continue;
    } else if (byte >= 0xC2 && byte <= 0xDF) {
      length = 2;
      min = 0x80;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      length = 3;
      min = 0x800;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      length = 4;
      min = 0x10000;
    }
    char32_t code = length == 0 ? 0 : byte & (0xFF >> (length + 1));
    std::size_t n = 1;
    while (length != 0 && n < length && i + n < text.size() &&
           (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      code = (code << 6) | (static_cast<unsigned char>(text[i + n]) & 0x3F);
      ++n;
    }
    if (length != 0 && n == length && code >= min && code <= 0x10FFFF &&
        (code < 0xD800 || code > 0xDFFF)) {
      out.append(text.substr(i, n));
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += n;
  }
  return out;
}

json::string Str(std::string_view text) { return json::string(ValidUtf8(text)); }

json::array StrArray(const std::vector<std::string>& values) {
  json::array out;
  out.reserve(values.size());
  for (const std::string& value : values) {
    out.emplace_back(Str(value));
  }
  return out;
}

std::string_view KindName(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// Reads typed fields out of one JSON object. Missing keys leave the destination untouched (older
// documents lack newer fields); unknown keys are ignored (newer documents have fields this
// binary does not know); a key of the wrong type is an error. The first error sticks and is
// returned by status(), so a decoder reads every field and checks once.
class FieldReader {
 public:
  FieldReader(const json::object& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  void String(std::string_view key, std::string& out) {
    const json::value* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (const json::string* s = value->if_string()) {
      out.assign(s->data(), s->size());
    } else {
      Fail(key, "a string", *value);
    }
  }

  void RequiredString(std::string_view key, std::string& out) {
    if (ok() && object_.find(key) == object_.end()) {
      status_ = InvalidArgumentError(Where(key) + ": missing");
      return;
    }
    String(key, out);
    if (ok() && out.empty()) {
      status_ = InvalidArgumentError(Where(key) + ": must not be empty");
    }
  }

  void Int(std::string_view key, std::int64_t& out) {
    const json::value* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (const std::int64_t* i = value->if_int64()) {
      out = *i;
    } else if (const std::uint64_t* u = value->if_uint64()) {
      if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        status_ = InvalidArgumentError(Where(key) + ": integer out of range");
        return;
      }
      out = static_cast<std::int64_t>(*u);
    } else {
      Fail(key, "an integer", *value);
    }
  }

  void Bool(std::string_view key, bool& out) {
    const json::value* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (const bool* b = value->if_bool()) {
      out = *b;
    } else {
      Fail(key, "a boolean", *value);
    }
  }

  void StringList(std::string_view key, std::vector<std::string>& out) {
    const json::array* array = Array(key);
    if (array == nullptr) {
      return;
    }
    std::vector<std::string> values;
    values.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
      const json::string* s = (*array)[i].if_string();
      if (s == nullptr) {
        Fail(std::string(key) + "[" + std::to_string(i) + "]", "a string", (*array)[i]);
        return;
      }
      values.emplace_back(s->data(), s->size());
    }
    out = std::move(values);
  }

  // The array or object under `key`, or nullptr when missing or on a type error.
  const json::array* Array(std::string_view key) {
    const json::value* value = Find(key);
    if (value == nullptr) {
      return nullptr;
    }
    if (const json::array* array = value->if_array()) {
      return array;
    }
    Fail(key, "an array", *value);
    return nullptr;
  }
  const json::object* Object(std::string_view key) {
    const json::value* value = Find(key);
    if (value == nullptr) {
      return nullptr;
    }
    if (const json::object* object = value->if_object()) {
      return object;
    }
    Fail(key, "an object", *value);
    return nullptr;
  }

  // Records an error found by the caller in a nested value.
  void Merge(const Status& status) {
    if (ok() && !status.ok()) {
      status_ = status;
    }
  }

  std::string Where(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

 private:
  const json::value* Find(std::string_view key) const {
    if (!ok()) {
      return nullptr;
    }
    return object_.if_contains(key);
  }
  void Fail(std::string_view key, std::string_view expected, const json::value& got) {
    if (ok()) {
      status_ = InvalidArgumentError(Where(key) + ": expected " + std::string(expected) + ", got " +
                                     std::string(KindName(got)));
    }
  }

  const json::object& object_;
  std::string path_;
  Status status_;
};

StatusOr<json::object> ParseObject(std::string_view text, std::string_view what) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) {
    return InvalidArgumentError(std::string(what) + ": not valid JSON: " + ec.message());
  }
  json::object* object = value.if_object();
  if (object == nullptr) {
    return InvalidArgumentError(std::string(what) + ": expected a JSON object, got " +
                                std::string(KindName(value)));
  }
  return std::move(*object);
}

// The object at `element` of an array named `path`, or nullptr after recording an error.
const json::object* ElementObject(FieldReader& reader, const json::value& element,
                                  const std::string& path) {
  const json::object* object = element.if_object();
  if (object == nullptr) {
    reader.Merge(
        InvalidArgumentError(path + ": expected an object, got " + std::string(KindName(element))));
  }
  return object;
}

json::object EncodeFile(const FileEntry& file) {
  json::object out;
  out["filename"] = Str(file.filename);
  out["version"] = Str(file.version);
  out["release_key"] = Str(file.release_key);
  out["filetype"] = Str(file.filetype);
  out["python_version"] = Str(file.python_version);
  out["size"] = file.size;
  out["sha256"] = Str(file.sha256);
  out["md5"] = Str(file.md5);
  out["blake2b_256"] = Str(file.blake2b_256);
  out["upload_time_micros"] = file.upload_time_micros;
  out["requires_python"] = Str(file.requires_python);
  out["metadata_sha256"] = Str(file.metadata_sha256);
  out["uploader"] = Str(file.uploader);
  if (file.yanked.has_value()) {  // only when set, so older documents re-encode unchanged
    out["yanked"] = Str(*file.yanked);
  }
  return out;
}

Status DecodeFile(const json::object& object, const std::string& path, FileEntry& file) {
  FieldReader r(object, path);
  r.RequiredString("filename", file.filename);
  r.String("version", file.version);
  r.String("release_key", file.release_key);
  r.String("filetype", file.filetype);
  r.String("python_version", file.python_version);
  r.Int("size", file.size);
  r.String("sha256", file.sha256);
  r.String("md5", file.md5);
  r.String("blake2b_256", file.blake2b_256);
  r.Int("upload_time_micros", file.upload_time_micros);
  r.String("requires_python", file.requires_python);
  r.String("metadata_sha256", file.metadata_sha256);
  r.String("uploader", file.uploader);
  if (object.contains("yanked")) {
    std::string reason;
    r.String("yanked", reason);
    if (r.ok()) {
      file.yanked = std::move(reason);
    }
  }
  return r.status();
}

// Release metadata is mostly empty, so only non-empty fields are written; decoding treats a
// missing field as empty, which makes the two forms equivalent.
json::object EncodeRelease(const ReleaseInfo& release) {
  json::object out;
  auto put = [&out](std::string_view key, const std::string& value) {
    if (!value.empty()) {
      out[key] = Str(value);
    }
  };
  auto put_list = [&out](std::string_view key, const std::vector<std::string>& values) {
    if (!values.empty()) {
      out[key] = StrArray(values);
    }
  };
  out["version"] = Str(release.version);
  out["created_micros"] = release.created_micros;
  put("metadata_version", release.metadata_version);
  put("summary", release.summary);
  put("description", release.description);
  put("description_content_type", release.description_content_type);
  put("author", release.author);
  put("author_email", release.author_email);
  put("maintainer", release.maintainer);
  put("maintainer_email", release.maintainer_email);
  put("license", release.license);
  put("license_expression", release.license_expression);
  put("keywords", release.keywords);
  put("home_page", release.home_page);
  put("download_url", release.download_url);
  put("requires_python", release.requires_python);
  put_list("classifiers", release.classifiers);
  put_list("requires_dist", release.requires_dist);
  put_list("provides_extra", release.provides_extra);
  put_list("project_urls", release.project_urls);
  put_list("platforms", release.platforms);
  put_list("dynamic", release.dynamic);
  put_list("license_files", release.license_files);
  return out;
}

Status DecodeRelease(const json::object& object, const std::string& path, ReleaseInfo& release) {
  FieldReader r(object, path);
  r.String("version", release.version);
  r.Int("created_micros", release.created_micros);
  r.String("metadata_version", release.metadata_version);
  r.String("summary", release.summary);
  r.String("description", release.description);
  r.String("description_content_type", release.description_content_type);
  r.String("author", release.author);
  r.String("author_email", release.author_email);
  r.String("maintainer", release.maintainer);
  r.String("maintainer_email", release.maintainer_email);
  r.String("license", release.license);
  r.String("license_expression", release.license_expression);
  r.String("keywords", release.keywords);
  r.String("home_page", release.home_page);
  r.String("download_url", release.download_url);
  r.String("requires_python", release.requires_python);
  r.StringList("classifiers", release.classifiers);
  r.StringList("requires_dist", release.requires_dist);
  r.StringList("provides_extra", release.provides_extra);
  r.StringList("project_urls", release.project_urls);
  r.StringList("platforms", release.platforms);
  r.StringList("dynamic", release.dynamic);
  r.StringList("license_files", release.license_files);
  return r.status();
}

// Howard Hinnant's days_from_civil inverse: the proleptic Gregorian date of a day count since
// 1970-01-01, valid for the whole int64 microsecond range (unlike std::chrono::year).
struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
CivilDate CivilFromDays(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

const FileEntry* ProjectDoc::FindFile(std::string_view filename) const {
  for (const FileEntry& file : files) {
    if (file.filename == filename) {
      return &file;
    }
  }
  return nullptr;
}

const std::string* ProjectDoc::YankReason(const FileEntry& file) const {
  if (file.yanked.has_value()) {
    return &*file.yanked;
  }
  auto it = yanked.find(file.release_key);
  return it == yanked.end() ? nullptr : &it->second;
}

void ProjectDoc::SortFiles() {
  std::vector<model::Version> versions;
  versions.reserve(files.size());
  for (const FileEntry& file : files) {
    versions.push_back(model::Version::ParseLenient(file.version));
  }
  std::vector<std::size_t> order(files.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (const std::strong_ordering c = versions[a] <=> versions[b]; std::is_neq(c)) {
      return std::is_lt(c);
    }
    return files[a].filename < files[b].filename;
  });
  std::vector<FileEntry> sorted;
  sorted.reserve(files.size());
  for (std::size_t i : order) {
    sorted.push_back(std::move(files[i]));
  }
  files = std::move(sorted);
}

std::string EncodeProjectDoc(const ProjectDoc& doc) {
  json::object out;
  out["name"] = Str(doc.name);
  out["display_name"] = Str(doc.display_name);
  out["serial"] = doc.serial;
  json::array files;
  files.reserve(doc.files.size());
  for (const FileEntry& file : doc.files) {
    files.emplace_back(EncodeFile(file));
  }
  out["files"] = std::move(files);
  json::object releases;
  for (const auto& [key, release] : doc.releases) {
    releases[ValidUtf8(key)] = EncodeRelease(release);
  }
  out["releases"] = std::move(releases);
  json::object yanked;
  for (const auto& [key, reason] : doc.yanked) {
    yanked[ValidUtf8(key)] = Str(reason);
  }
  out["yanked"] = std::move(yanked);
  out["deleted_filenames"] = StrArray(doc.deleted_filenames);
  if (doc.upstream_allowed) {  // only when set, so older documents re-encode unchanged
    out["upstream_allowed"] = true;
  }
  return json::serialize(out);
}

StatusOr<ProjectDoc> DecodeProjectDoc(std::string_view text) {
  static constexpr std::string_view kWhat = "project document";
  PYDEPOT_ASSIGN_OR_RETURN(json::object object, ParseObject(text, kWhat));
  ProjectDoc doc;
  FieldReader r(object, "");
  r.RequiredString("name", doc.name);
  r.String("display_name", doc.display_name);
  r.Int("serial", doc.serial);
  r.StringList("deleted_filenames", doc.deleted_filenames);
  r.Bool("upstream_allowed", doc.upstream_allowed);
  if (const json::array* files = r.Array("files")) {
    doc.files.reserve(files->size());
    for (std::size_t i = 0; i < files->size() && r.ok(); ++i) {
      const std::string path = "files[" + std::to_string(i) + "]";
      if (const json::object* file = ElementObject(r, (*files)[i], path)) {
        r.Merge(DecodeFile(*file, path, doc.files.emplace_back()));
      }
    }
  }
  if (const json::object* releases = r.Object("releases")) {
    for (const auto& entry : *releases) {
      if (!r.ok()) {
        break;
      }
      const std::string key(entry.key());
      const std::string path = "releases." + key;
      if (const json::object* release = ElementObject(r, entry.value(), path)) {
        r.Merge(DecodeRelease(*release, path, doc.releases[key]));
      }
    }
  }
  if (const json::object* yanked = r.Object("yanked")) {
    for (const auto& entry : *yanked) {
      if (!r.ok()) {
        break;
      }
      if (const json::string* reason = entry.value().if_string()) {
        doc.yanked[std::string(entry.key())] = std::string(*reason);
      } else {
        r.Merge(InvalidArgumentError("yanked." + std::string(entry.key()) +
                                     ": expected a string, got " +
                                     std::string(KindName(entry.value()))));
      }
    }
  }
  if (!r.ok()) {
    return r.status().WithPrefix(kWhat);
  }
  return doc;
}

std::string EncodeProjectList(const ProjectList& list) {
  json::object out;
  out["serial"] = list.serial;
  json::array projects;
  projects.reserve(list.projects.size());
  for (const ProjectListEntry& entry : list.projects) {
    json::object project;
    project["name"] = Str(entry.name);
    project["display_name"] = Str(entry.display_name);
    project["updated_micros"] = entry.updated_micros;
    projects.emplace_back(std::move(project));
  }
  out["projects"] = std::move(projects);
  return json::serialize(out);
}

StatusOr<ProjectList> DecodeProjectList(std::string_view text) {
  static constexpr std::string_view kWhat = "project list";
  PYDEPOT_ASSIGN_OR_RETURN(json::object object, ParseObject(text, kWhat));
  ProjectList list;
  FieldReader r(object, "");
  r.Int("serial", list.serial);
  if (const json::array* projects = r.Array("projects")) {
    list.projects.reserve(projects->size());
    for (std::size_t i = 0; i < projects->size() && r.ok(); ++i) {
      const std::string path = "projects[" + std::to_string(i) + "]";
      if (const json::object* project = ElementObject(r, (*projects)[i], path)) {
        ProjectListEntry& entry = list.projects.emplace_back();
        FieldReader pr(*project, path);
        pr.RequiredString("name", entry.name);
        pr.String("display_name", entry.display_name);
        pr.Int("updated_micros", entry.updated_micros);
        r.Merge(pr.status());
      }
    }
  }
  if (!r.ok()) {
    return r.status().WithPrefix(kWhat);
  }
  return list;
}

std::string FormatUploadTime(std::int64_t micros) {
  constexpr std::int64_t kMicrosPerDay = std::int64_t{86'400} * 1'000'000;
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {  // floor, so times before 1970 still count forward within their day
    rest += kMicrosPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const std::int64_t seconds = rest / 1'000'000;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer),
                "%04" PRId64 "-%02u-%02uT%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%06" PRId64 "Z",
                date.year, date.month, date.day, seconds / 3600, seconds / 60 % 60, seconds % 60,
                rest % 1'000'000);
  return buffer;
}

}  // namespace pydepot::doc
