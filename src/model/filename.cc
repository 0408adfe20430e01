#include "model/filename.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "model/project_name.h"

namespace pydepot::model {
namespace {

constexpr std::string_view kWheelGrammar =
    "{name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl";

// Longest first where one is a suffix of another (none are today, but keep it that way).
constexpr std::array<std::string_view, 12> kSdistExtensions = {
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.lzma", ".tar.lz", ".tar.Z",
    ".tgz",    ".tbz",     ".txz",    ".tlz",      ".zip",    ".tar",
};

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The filename for an error message: single-quoted, bytes outside printable ASCII (and the
// quote and backslash) escaped, long names cut, so that messages are safe in logs and in an
// HTTP status line whatever the client sent.
std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 200;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\'' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += static_cast<char>(byte);
    }
  }
  out += '\'';
  if (text.size() > kMaxShown) {
    out += "...";
  }
  return out;
}

Status InvalidWheel(std::string_view filename, std::string_view why) {
  std::string message = "invalid wheel filename " + Quote(filename) + ": ";
  message += why;
  return InvalidArgumentError(std::move(message));
}

Status Invalid(std::string_view what, std::string_view filename, std::string_view why) {
  std::string message = "invalid ";
  message += what;
  message += " filename " + Quote(filename) + ": ";
  message += why;
  return InvalidArgumentError(std::move(message));
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// packaging's check on a wheel's name part (`"__" in name or not re.match(r"^[\w\d._]*$")`),
// restricted to ASCII, and requiring a name.
bool IsValidWheelNamePart(std::string_view name) {
  if (name.empty() || name.find("__") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    if (!IsAsciiDigit(c) && !IsAsciiAlpha(c) && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::string StripLeadingZeros(std::string_view digits) {
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string_view::npos) {
    return "0";
  }
  return std::string(digits.substr(first));
}

// Splits a '.'-joined tag set ("py2.py3"); every tag must be non-empty.
StatusOr<std::vector<std::string>> ParseTagSet(std::string_view filename, std::string_view what,
                                               std::string_view set) {
  std::vector<std::string> tags;
  for (std::string_view tag : Split(set, '.')) {
    if (tag.empty()) {
      std::string why = "empty ";
      why += what;
      why += " tag in " + Quote(set);
      return InvalidWheel(filename, why);
    }
    tags.emplace_back(tag);
  }
  return tags;
}

// pip's _find_name_version_sep: the first '-' in `stem` whose prefix normalizes to
// `canonical_project`. The prefix is normalized incrementally (normalization is a left-to-right
// stream), so this is linear in the input.
std::optional<std::size_t> FindNameVersionSep(std::string_view stem,
                                              std::string_view canonical_project) {
  std::string normalized;
  bool in_separator_run = false;
  for (std::size_t i = 0; i < stem.size(); ++i) {
    const char c = stem[i];
    if (c == '-' && normalized == canonical_project) {
      return i;
    }
    if (c == '-' || c == '_' || c == '.') {
      if (!in_separator_run) {
        normalized.push_back('-');
      }
      in_separator_run = true;
    } else {
      in_separator_run = false;
      normalized.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    if (normalized.size() > canonical_project.size() + 1) {
      return std::nullopt;  // Only grows from here.
    }
  }
  return std::nullopt;
}

// Without a project, legacy binaries split at the first '-' followed by a digit (project names
// rarely contain one; their platform suffixes often contain '-'), else at the first '-'.
std::optional<std::size_t> GuessNameVersionSep(std::string_view stem) {
  for (std::size_t i = 0; i + 1 < stem.size(); ++i) {
    if (stem[i] == '-' && IsAsciiDigit(stem[i + 1])) {
      return i;
    }
  }
  std::size_t dash = stem.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  return dash;
}

// pip's `-py([123]\.?[0-9]?)$` on a version part: the Python version a bdist_dumb-style archive
// (foo-1.0-py2.7.tar.gz) was built for. Returns the match ("-py2.7"), or "" for none.
std::string_view PythonSuffix(std::string_view text) {
  for (std::size_t len : {6, 5, 4}) {  // "-py2.7"; "-py27", "-py2."; "-py2"
    if (text.size() < len) {
      continue;
    }
    std::string_view tail = text.substr(text.size() - len);
    if (!tail.starts_with("-py") || tail[3] < '1' || tail[3] > '3') {
      continue;
    }
    std::string_view rest = tail.substr(4);  // after the major digit
    if (!rest.empty() && rest.front() == '.') {
      rest.remove_prefix(1);
    }
    if (rest.size() > 1 || (rest.size() == 1 && !IsAsciiDigit(rest.front()))) {
      continue;
    }
    return tail;
  }
  return {};
}

struct NameSplit {
  std::string_view name;
  std::string_view rest;
};

// Splits "{name}-{rest}" with the project when there is one (pip), otherwise with `fallback`.
template <typename Fallback>
StatusOr<NameSplit> SplitName(std::string_view what, std::string_view filename,
                              std::string_view stem, std::string_view project, Fallback fallback) {
  std::optional<std::size_t> sep;
  if (!project.empty()) {
    std::string canonical = NormalizeProjectName(project);
    sep = FindNameVersionSep(stem, canonical);
    if (!sep) {
      return InvalidArgumentError(std::string(what) + " filename " + Quote(filename) +
                                  " does not start with a name of project " + Quote(canonical) +
                                  " followed by '-'");
    }
  } else {
    sep = fallback(stem);
    if (!sep) {
      return Invalid(what, filename, "expected {name}-{version}, found no '-'");
    }
  }
  NameSplit split{stem.substr(0, *sep), stem.substr(*sep + 1)};
  if (split.name.empty()) {
    return Invalid(what, filename, "the project name before the version is empty");
  }
  return split;
}

DistFilename StartResult(std::string_view filename, DistKind kind, std::string_view extension,
                         std::string_view name_part) {
  DistFilename result;
  result.filename = std::string(filename);
  result.kind = kind;
  result.extension = std::string(extension);
  result.name_part = std::string(name_part);
  result.project = NormalizeProjectName(name_part);
  return result;
}

void SetVersion(DistFilename& result, std::string_view version_part) {
  result.version_part = std::string(version_part);
  result.version = Version::ParseLenient(version_part);
}

std::optional<std::string_view> SdistExtension(std::string_view filename) {
  for (std::string_view ext : kSdistExtensions) {
    if (filename.size() > ext.size() && filename.ends_with(ext)) {
      return ext;
    }
  }
  return std::nullopt;
}

// `{name}-{version}(-py{X.Y}(-{platform})?)?.egg`, as setuptools writes it: '-' inside the name
// and version is written '_', so the first '-' ends the name unless a project says otherwise.
StatusOr<DistFilename> ParseEggFilename(std::string_view filename, std::string_view project) {
  constexpr std::string_view kExt = ".egg";
  std::string_view stem = filename.substr(0, filename.size() - kExt.size());
  auto split = SplitName("egg", filename, stem, project, [](std::string_view s) {
    std::size_t dash = s.find('-');
    return dash == std::string_view::npos ? std::nullopt : std::optional<std::size_t>(dash);
  });
  if (!split.has_value()) {
    return split.error();
  }
  DistFilename result = StartResult(filename, DistKind::kEgg, kExt, split->name);
  std::vector<std::string_view> parts = Split(split->rest, '-');
  if (parts[0].empty()) {
    return Invalid("egg", filename, "expected {name}-{version}(-py{X.Y}(-{platform})?)?.egg");
  }
  SetVersion(result, parts[0]);
  if (parts.size() >= 2) {
    std::string_view py = parts[1];
    if (py.size() < 3 || (py[0] != 'p' && py[0] != 'P') || (py[1] != 'y' && py[1] != 'Y')) {
      return Invalid("egg", filename,
                     "expected {name}-{version}(-py{X.Y}(-{platform})?)?.egg, found " + Quote(py) +
                         " where -py{X.Y} belongs");
    }
    result.legacy_python = std::string(py.substr(2));
  }
  if (parts.size() >= 3) {
    std::size_t platform_start = parts[0].size() + 1 + parts[1].size() + 1;
    std::string_view platform = split->rest.substr(platform_start);
    if (platform.empty()) {
      return Invalid("egg", filename, "empty platform after -py" + result.legacy_python);
    }
    result.legacy_platform = std::string(platform);
  }
  return result;
}

// "{version}.{platform}" as bdist_wininst/bdist_msi/bdist_dmg write it: the longest prefix that
// is a PEP 440 version and is followed by '.' and a letter, unless the whole is a version.
std::pair<std::string_view, std::string_view> SplitVersionPlatform(std::string_view text) {
  if (Version::Parse(text).has_value()) {
    return {text, {}};
  }
  std::optional<std::size_t> first_candidate;
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '.' || !IsAsciiAlpha(text[i + 1])) {
      continue;
    }
    if (!first_candidate) {
      first_candidate = i;
    }
    if (Version::Parse(text.substr(0, i)).has_value()) {
      best = i;
    }
  }
  std::optional<std::size_t> cut = best ? best : first_candidate;
  if (!cut) {
    return {text, {}};
  }
  return {text.substr(0, *cut), text.substr(*cut + 1)};
}

// bdist_wininst (.exe), bdist_msi (.msi) and bdist_dmg (.dmg):
//   foo-1.0.win32.exe, foo-1.0.win-amd64-py2.7.exe, foo-1.0.win32-py2.7.msi,
//   foo-1.0.macosx-10.6.dmg, foo-1.0-py2.7-macosx10.6.dmg (bdist_mpkg).
StatusOr<DistFilename> ParseWindowsOrMacFilename(std::string_view filename, DistKind kind,
                                                 std::string_view ext, std::string_view project) {
  std::string_view stem = filename.substr(0, filename.size() - ext.size());
  auto split = SplitName(DistKindFiletype(kind), filename, stem, project, GuessNameVersionSep);
  if (!split.has_value()) {
    return split.error();
  }
  DistFilename result = StartResult(filename, kind, ext, split->name);
  std::string_view rest = split->rest;
  std::string_view trailing_platform;
  for (std::size_t i = 0; i + 3 < rest.size(); ++i) {
    if (rest.substr(i, 3) == "-py" && IsAsciiDigit(rest[i + 3])) {
      std::string_view after = rest.substr(i + 3);
      std::size_t dash = after.find('-');
      result.legacy_python = std::string(after.substr(0, dash));
      if (dash != std::string_view::npos) {
        trailing_platform = after.substr(dash + 1);
      }
      rest = rest.substr(0, i);
      break;
    }
  }
  auto [version, platform] = SplitVersionPlatform(rest);
  if (version.empty()) {
    return Invalid(DistKindFiletype(kind), filename, "empty version after the project name");
  }
  SetVersion(result, version);
  result.legacy_platform = std::string(platform.empty() ? trailing_platform : platform);
  return result;
}

// bdist_rpm: {name}-{version}-{release}.{arch}.rpm, e.g. foo-1.0-1.noarch.rpm.
StatusOr<DistFilename> ParseRpmFilename(std::string_view filename, std::string_view project) {
  constexpr std::string_view kExt = ".rpm";
  std::string_view stem = filename.substr(0, filename.size() - kExt.size());
  auto split = SplitName("bdist_rpm", filename, stem, project, GuessNameVersionSep);
  if (!split.has_value()) {
    return split.error();
  }
  DistFilename result = StartResult(filename, DistKind::kRpm, kExt, split->name);
  std::string_view rest = split->rest;
  if (std::size_t dot = rest.rfind('.'); dot != std::string_view::npos) {
    result.legacy_platform = std::string(rest.substr(dot + 1));
    rest = rest.substr(0, dot);
  }
  if (std::size_t dash = rest.rfind('-'); dash != std::string_view::npos) {
    result.legacy_release = std::string(rest.substr(dash + 1));
    rest = rest.substr(0, dash);
  }
  if (rest.empty()) {
    return Invalid("bdist_rpm", filename, "expected {name}-{version}-{release}.{arch}.rpm");
  }
  SetVersion(result, rest);
  return result;
}

}  // namespace

std::string_view DistKindFiletype(DistKind kind) {
  switch (kind) {
    case DistKind::kWheel:
      return "bdist_wheel";
    case DistKind::kSdist:
      return "sdist";
    case DistKind::kEgg:
      return "bdist_egg";
    case DistKind::kWininst:
      return "bdist_wininst";
    case DistKind::kMsi:
      return "bdist_msi";
    case DistKind::kDmg:
      return "bdist_dmg";
    case DistKind::kRpm:
      return "bdist_rpm";
  }
  return "unknown";
}

StatusOr<DistFilename> ParseWheelFilename(std::string_view filename) {
  constexpr std::string_view kExt = ".whl";
  if (!filename.ends_with(kExt)) {
    return InvalidWheel(filename, "must end in '.whl'");
  }
  std::string_view stem = filename.substr(0, filename.size() - kExt.size());
  std::vector<std::string_view> parts = Split(stem, '-');
  if (parts.size() != 5 && parts.size() != 6) {
    return InvalidWheel(filename, "expected " + std::string(kWheelGrammar) +
                                      " (4 or 5 '-', found " + std::to_string(parts.size() - 1) +
                                      ")");
  }
  const std::string_view name_part = parts[0];
  if (!IsValidWheelNamePart(name_part)) {
    return InvalidWheel(filename, "project name " + Quote(name_part) +
                                      " must be non-empty ASCII letters, digits, '.' and '_' "
                                      "without '__' (write '-' as '_')");
  }
  auto version = Version::Parse(parts[1]);
  if (!version.has_value()) {
    return InvalidWheel(filename, Quote(parts[1]) + " is not a valid PEP 440 version");
  }
  DistFilename result = StartResult(filename, DistKind::kWheel, kExt, name_part);
  result.version_part = std::string(parts[1]);
  result.version = *std::move(version);
  if (parts.size() == 6) {
    std::string_view build = parts[2];
    std::size_t digits = 0;
    while (digits < build.size() && IsAsciiDigit(build[digits])) {
      ++digits;
    }
    if (digits == 0) {
      return InvalidWheel(filename, "build tag " + Quote(build) + " must start with a digit");
    }
    result.build =
        BuildTag{StripLeadingZeros(build.substr(0, digits)), std::string(build.substr(digits))};
  }
  const std::size_t tags = parts.size() - 3;
  PYDEPOT_ASSIGN_OR_RETURN(result.python_tags, ParseTagSet(filename, "python", parts[tags]));
  PYDEPOT_ASSIGN_OR_RETURN(result.abi_tags, ParseTagSet(filename, "abi", parts[tags + 1]));
  PYDEPOT_ASSIGN_OR_RETURN(result.platform_tags,
                           ParseTagSet(filename, "platform", parts[tags + 2]));
  return result;
}

StatusOr<DistFilename> ParseSdistFilename(std::string_view filename, std::string_view project) {
  std::optional<std::string_view> ext = SdistExtension(filename);
  if (!ext) {
    return Invalid("sdist", filename,
                   "expected {name}-{version}.tar.gz (or .zip; legacy: .tgz, .tar.bz2, .tbz, "
                   ".tar.xz, .txz, .tlz, .tar.lz, .tar.lzma, .tar, .tar.Z)");
  }
  std::string_view stem = filename.substr(0, filename.size() - ext->size());
  // A bdist_dumb-style "-pyX.Y" after the version names the Python version; pip drops it from
  // the version. Without a project it must go before splitting on the last '-'.
  std::string_view python_suffix;
  if (project.empty()) {
    python_suffix = PythonSuffix(stem);
    stem.remove_suffix(python_suffix.size());
  }
  auto split = SplitName("sdist", filename, stem, project, [](std::string_view s) {
    std::size_t dash = s.rfind('-');
    return dash == std::string_view::npos ? std::nullopt : std::optional<std::size_t>(dash);
  });
  if (!split.has_value()) {
    return split.error();
  }
  std::string_view version = split->rest;
  if (!project.empty()) {
    python_suffix = PythonSuffix(version);
    version.remove_suffix(python_suffix.size());
  }
  if (version.empty()) {
    return Invalid("sdist", filename, "the version after the project name is empty");
  }
  DistFilename result = StartResult(filename, DistKind::kSdist, *ext, split->name);
  SetVersion(result, version);
  if (!python_suffix.empty()) {
    result.legacy_python = std::string(python_suffix.substr(3));
  }
  return result;
}

StatusOr<DistFilename> ParseDistFilename(std::string_view filename, std::string_view project) {
  if (filename.ends_with(".whl")) {
    PYDEPOT_ASSIGN_OR_RETURN(DistFilename wheel, ParseWheelFilename(filename));
    if (!project.empty() && wheel.project != NormalizeProjectName(project)) {
      return InvalidArgumentError("wheel filename " + Quote(filename) + " is for project " +
                                  Quote(wheel.project) + ", not " +
                                  Quote(NormalizeProjectName(project)));
    }
    return wheel;
  }
  struct LegacyBinary {
    std::string_view ext;
    DistKind kind;
  };
  static constexpr std::array<LegacyBinary, 3> kWindowsOrMac = {{
      {".exe", DistKind::kWininst},
      {".msi", DistKind::kMsi},
      {".dmg", DistKind::kDmg},
  }};
  if (filename.ends_with(".egg")) {
    return ParseEggFilename(filename, project);
  }
  for (const LegacyBinary& binary : kWindowsOrMac) {
    if (filename.ends_with(binary.ext)) {
      return ParseWindowsOrMacFilename(filename, binary.kind, binary.ext, project);
    }
  }
  if (filename.ends_with(".rpm")) {
    return ParseRpmFilename(filename, project);
  }
  if (SdistExtension(filename)) {
    return ParseSdistFilename(filename, project);
  }
  return InvalidArgumentError(
      "unknown distribution filename " + Quote(filename) +
      ": expected a wheel (.whl), an sdist (.tar.gz or .zip; legacy .tgz, .tar.bz2, .tbz, "
      ".tar.xz, .txz, .tlz, .tar.lz, .tar.lzma, .tar, .tar.Z) or a legacy binary (.egg, .exe, "
      ".msi, .dmg, .rpm)");
}

bool IsPep625SdistFilename(std::string_view filename) {
  constexpr std::string_view kExt = ".tar.gz";
  if (!filename.ends_with(kExt)) {
    return false;
  }
  std::string_view stem = filename.substr(0, filename.size() - kExt.size());
  std::size_t dash = stem.find('-');
  if (dash == std::string_view::npos || stem.find('-', dash + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view name = stem.substr(0, dash);
  std::string_view version_part = stem.substr(dash + 1);
  if (!IsValidProjectName(name)) {
    return false;
  }
  std::string expected_name = NormalizeProjectName(name);
  for (char& c : expected_name) {
    if (c == '-') {
      c = '_';
    }
  }
  if (name != expected_name) {
    return false;
  }
  auto version = Version::Parse(version_part);
  return version.has_value() && version->Canonical() == version_part;
}

std::string PyVersionField(const DistFilename& name) {
  switch (name.kind) {
    case DistKind::kWheel: {
      std::string out;
      for (const std::string& tag : name.python_tags) {
        out += (out.empty() ? "" : ".") + tag;
      }
      return out;
    }
    case DistKind::kSdist:
      return "source";
    default:
      return name.legacy_python.empty() ? "any" : name.legacy_python;
  }
}

}  // namespace pydepot::model
