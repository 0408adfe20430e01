#include "storage/keys.h"

#include <cstdio>
#include <ctime>
#include <string>
#include <utility>

#include "base/status_macros.h"

namespace pydepot::storage {
namespace {

constexpr std::string_view kFilesPrefix = "files/";
constexpr std::string_view kMetadataSuffix = ".metadata";
constexpr std::string_view kProjectDocsPrefix = "index/projects/";
constexpr std::string_view kJsonSuffix = ".json";
constexpr std::string_view kUpstreamPrefix = "upstream/";
constexpr std::string_view kUpstreamPagesPrefix = "upstream/projects/";
constexpr std::string_view kUpstreamFilesPrefix = "upstream/files/";
constexpr std::string_view kAuditPrefix = "audit/";

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The PEP 503 normal form is lowercase with each run of [-_.] collapsed to one '-'; names start
// and end with a letter or digit.
bool IsNormalizedProject(std::string_view project) {
  if (project.empty() || project.size() > kMaxProjectLength) {
    return false;
  }
  if (!IsLowerAlnum(project.front()) || !IsLowerAlnum(project.back())) {
    return false;
  }
  char previous = 'a';
  for (char c : project) {
    if (c == '-' && previous == '-') {
      return false;
    }
    if (c != '-' && !IsLowerAlnum(c)) {
      return false;
    }
    previous = c;
  }
  return true;
}

Status CheckProject(std::string_view project) {
  if (!IsNormalizedProject(project)) {
    return InvalidArgumentError("project name \"" + std::string(project) +
                                "\" is not a PEP 503 normalized name usable in a key");
  }
  return OkStatus();
}

Status CheckFilename(std::string_view filename) {
  if (filename.size() > kMaxFilenameLength) {
    return InvalidArgumentError("filename is too long for storage (" +
                                std::to_string(filename.size()) + " bytes, at most " +
                                std::to_string(kMaxFilenameLength) + ")");
  }
  if (filename.find('/') != std::string_view::npos || !IsValidKey(filename)) {
    return InvalidArgumentError("filename \"" + std::string(filename) +
                                "\" cannot be a storage key segment");
  }
  if (EndsWith(filename, kMetadataSuffix)) {
    return InvalidArgumentError("filename \"" + std::string(filename) + "\" ends in " +
                                std::string(kMetadataSuffix));
  }
  return OkStatus();
}

// Splits "files/<project>/<name>" into project and name, without validating them.
bool SplitFilesKey(std::string_view key, std::string_view& project, std::string_view& name) {
  if (!StartsWith(key, kFilesPrefix)) {
    return false;
  }
  key.remove_prefix(kFilesPrefix.size());
  std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  project = key.substr(0, slash);
  name = key.substr(slash + 1);
  return true;
}

Status NotA(std::string_view what, std::string_view key) {
  return InvalidArgumentError("\"" + std::string(key) + "\" is not " + std::string(what));
}

}  // namespace

StatusOr<std::string> FileKey(std::string_view project, std::string_view filename) {
  PYDEPOT_RETURN_IF_ERROR(CheckProject(project));
  PYDEPOT_RETURN_IF_ERROR(CheckFilename(filename));
  std::string key(kFilesPrefix);
  key.append(project).append("/").append(filename);
  return key;
}

StatusOr<std::string> MetadataKey(std::string_view project, std::string_view filename) {
  PYDEPOT_ASSIGN_OR_RETURN(std::string key, FileKey(project, filename));
  key.append(kMetadataSuffix);
  return key;
}

StatusOr<std::string> ProjectDocKey(std::string_view project) {
  PYDEPOT_RETURN_IF_ERROR(CheckProject(project));
  std::string key(kProjectDocsPrefix);
  key.append(project).append(kJsonSuffix);
  return key;
}

StatusOr<std::string> UpstreamPageKey(std::string_view project) {
  PYDEPOT_RETURN_IF_ERROR(CheckProject(project));
  std::string key(kUpstreamPagesPrefix);
  key.append(project).append(kJsonSuffix);
  return key;
}

StatusOr<std::string> UpstreamFileKey(std::string_view project, std::string_view filename) {
  PYDEPOT_RETURN_IF_ERROR(CheckProject(project));
  std::string_view base = filename;
  if (EndsWith(base, kMetadataSuffix)) {
    base.remove_suffix(kMetadataSuffix.size());
  }
  PYDEPOT_RETURN_IF_ERROR(CheckFilename(base));
  std::string key(kUpstreamFilesPrefix);
  key.append(project).append("/").append(filename);
  return key;
}

std::string ProjectListKey() { return "index/projects.json"; }

std::string UsersKey() { return "auth/users.json"; }

std::string SessionKeyKey() { return "auth/session-key"; }

std::string AllFilesPrefix() { return std::string(kFilesPrefix); }

std::string ProjectDocsPrefix() { return std::string(kProjectDocsPrefix); }

std::string UpstreamPrefix() { return std::string(kUpstreamPrefix); }

std::string AuditPrefix() { return std::string(kAuditPrefix); }

StatusOr<std::string> AuditDayPrefix(std::string_view day) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool ok = day.size() == 10 && day[4] == '-' && day[7] == '-';
  for (std::size_t i = 0; ok && i < day.size(); ++i) {
    ok = i == 4 || i == 7 || digit(day[i]);
  }
  if (!ok) {
    return InvalidArgumentError("not a day (YYYY-MM-DD): '" + std::string(day.substr(0, 64)) + "'");
  }
  return std::string(kAuditPrefix) + std::string(day) + "/";
}

StatusOr<std::string> AuditKey(std::int64_t time_micros, std::string_view nonce) {
  if (nonce.empty() || nonce.size() > 64 ||
      nonce.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return InvalidArgumentError("audit key: the nonce must be 1 to 64 lowercase hex digits");
  }
  // 253402300800: 10000-01-01T00:00:00Z.
  if (time_micros < 0 || time_micros >= std::int64_t{253402300800} * 1000000) {
    return InvalidArgumentError("audit key: time out of range");
  }
  const std::time_t seconds = static_cast<std::time_t>(time_micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char day[16];
  char stamp[48];
  std::strftime(day, sizeof day, "%Y-%m-%d", &utc);
  const std::size_t length = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H%M%S", &utc);
  std::snprintf(stamp + length, sizeof stamp - length, ".%06dZ",
                static_cast<int>(time_micros % 1000000));
  return std::string(kAuditPrefix) + day + "/" + stamp + "-" + std::string(nonce) + ".json";
}

StatusOr<std::string> ProjectFilesPrefix(std::string_view project) {
  PYDEPOT_RETURN_IF_ERROR(CheckProject(project));
  std::string prefix(kFilesPrefix);
  prefix.append(project).append("/");
  return prefix;
}

StatusOr<FileKeyParts> ParseFileKey(std::string_view key) {
  std::string_view project;
  std::string_view filename;
  if (!SplitFilesKey(key, project, filename) || !CheckProject(project).ok() ||
      !CheckFilename(filename).ok()) {
    return NotA("a distribution file key (files/<project>/<filename>)", key);
  }
  return FileKeyParts{std::string(project), std::string(filename)};
}

StatusOr<FileKeyParts> ParseMetadataKey(std::string_view key) {
  std::string_view project;
  std::string_view name;
  if (!SplitFilesKey(key, project, name) || !EndsWith(name, kMetadataSuffix)) {
    return NotA("a metadata key (files/<project>/<filename>.metadata)", key);
  }
  std::string_view filename = name.substr(0, name.size() - kMetadataSuffix.size());
  if (!CheckProject(project).ok() || !CheckFilename(filename).ok()) {
    return NotA("a metadata key (files/<project>/<filename>.metadata)", key);
  }
  return FileKeyParts{std::string(project), std::string(filename)};
}

StatusOr<std::string> ParseProjectDocKey(std::string_view key) {
  if (!StartsWith(key, kProjectDocsPrefix) || !EndsWith(key, kJsonSuffix) ||
      key.size() < kProjectDocsPrefix.size() + kJsonSuffix.size()) {
    return NotA("a project document key (index/projects/<project>.json)", key);
  }
  std::string_view project = key.substr(
      kProjectDocsPrefix.size(), key.size() - kProjectDocsPrefix.size() - kJsonSuffix.size());
  if (!CheckProject(project).ok()) {
    return NotA("a project document key (index/projects/<project>.json)", key);
  }
  return std::string(project);
}

KeyKind ClassifyKey(std::string_view key) {
  if (key == ProjectListKey()) {
    return KeyKind::kProjectList;
  }
  if (key == UsersKey() || key == SessionKeyKey()) {
    return KeyKind::kUsers;
  }
  if (StartsWith(key, kUpstreamPrefix)) {
    return KeyKind::kUpstream;
  }
  if (StartsWith(key, kAuditPrefix)) {
    return KeyKind::kAudit;
  }
  if (ParseFileKey(key).has_value()) {
    return KeyKind::kFile;
  }
  if (ParseMetadataKey(key).has_value()) {
    return KeyKind::kMetadata;
  }
  if (ParseProjectDocKey(key).has_value()) {
    return KeyKind::kProjectDoc;
  }
  return KeyKind::kUnknown;
}

}  // namespace pydepot::storage
