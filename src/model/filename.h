// Distribution filenames: wheels, sdists (PEP 625 and legacy), eggs and the old binary formats
// (recognised so that stored files can be listed; uploads accept only wheels and sdists).
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/version.h"

namespace pydepot::model {

enum class DistKind {
  kWheel,    // .whl (bdist_wheel)
  kSdist,    // .tar.gz, .zip and the legacy sdist extensions
  kEgg,      // .egg (bdist_egg)
  kWininst,  // .exe (bdist_wininst)
  kMsi,      // .msi (bdist_msi)
  kDmg,      // .dmg (bdist_dmg)
  kRpm,      // .rpm (bdist_rpm)
};

// The upload form's filetype for a kind: "bdist_wheel", "sdist", "bdist_egg", ...
std::string_view DistKindFiletype(DistKind kind);

// Wheel build tag: leading digits (as a number string without leading zeros) plus the rest.
struct BuildTag {
  std::string number;
  std::string suffix;
  friend bool operator==(const BuildTag&, const BuildTag&) = default;
};

struct DistFilename {
  std::string filename;  // as given
  DistKind kind = DistKind::kSdist;
  std::string name_part;     // the project name as written in the filename
  std::string project;       // NormalizeProjectName(name_part)
  std::string version_part;  // the version as written in the filename
  Version version;           // Version::ParseLenient(version_part)
  std::string extension;     // ".whl", ".tar.gz", ".zip", ".egg", ... as written
  // Wheels: the build tag and the '.'-separated tag sets, in the order written.
  std::optional<BuildTag> build;
  std::vector<std::string> python_tags;
  std::vector<std::string> abi_tags;
  std::vector<std::string> platform_tags;
  // Eggs and other legacy binaries: the python version ("2.7") and platform, when written.
  // Sdists: legacy_python is set from a bdist_dumb-style "-pyX.Y" suffix (pip drops it).
  std::string legacy_python;
  std::string legacy_platform;
  // bdist_rpm only: the RPM release ("1" in foo-1.0-1.noarch.rpm; legacy_platform is "noarch").
  std::string legacy_release;
};

// Parses `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl` as packaging's
// parse_wheel_filename does (accepting '.' and upper case in the name part, rejecting '__'
// and characters outside [A-Za-z0-9._]; the version must be valid PEP 440; the build tag
// must start with a digit). kInvalidArgument with a message a person can act on otherwise.
// Deliberately stricter than packaging 23 (docs/differential-testing.md): the name part must be
// non-empty ASCII, the build number ASCII digits, and every tag in a tag set non-empty. Tags
// are kept as written (packaging lower-cases them); the build number as a digit string.
StatusOr<DistFilename> ParseWheelFilename(std::string_view filename);

// Parses an sdist filename. With `project` (any spelling; compared normalized), the name and
// version are split as pip does: the first '-' where the prefix normalizes to the project.
// Without it, as packaging's parse_sdist_filename: split on the last '-'. Extensions: .tar.gz,
// .tgz, .zip, .tar.bz2, .tbz, .tar.xz, .txz, .tlz, .tar.lz, .tar.lzma, .tar, .tar.Z.
// A version that is not PEP 440 is kept as text (version.is_valid() false), since old stored
// files have such versions; callers that accept uploads must check it.
// Extensions are matched case-sensitively, as pip and packaging do (`.TAR.GZ` is not an sdist;
// `.tar.Z` is the compress(1) extension). A "-pyX.Y" after the version (pip's
// `-py([123]\.?[0-9]?)$`) goes to legacy_python, as pip drops it. An empty name or version part
// is kInvalidArgument; so is a filename that does not match `project`.
StatusOr<DistFilename> ParseSdistFilename(std::string_view filename, std::string_view project = {});

// Any known kind, chosen by extension (case-sensitive); `project` as for ParseSdistFilename
// (also used for eggs and legacy binaries). With a project, a wheel whose name part does not
// normalize to it is kInvalidArgument too.
// Legacy binaries are parsed best effort, so that stored files can be listed:
//   egg     {name}-{version}(-py{X.Y}(-{platform})?)?.egg (the name ends at the first '-')
//   exe/msi {name}-{version}.{platform}(-py{X.Y})?.exe  e.g. foo-1.0.win-amd64-py2.7.exe
//   dmg     {name}-{version}.{platform}.dmg, or {name}-{version}-py{X.Y}-{platform}.dmg
//   rpm     {name}-{version}-{release}.{arch}.rpm       e.g. foo-1.0-1.noarch.rpm
// Without a project, exe/msi/dmg/rpm names end at the first '-' followed by a digit. The
// version of an exe/msi/dmg is the longest prefix that is a PEP 440 version and is followed by
// '.' and a letter (the platform), unless the whole is a version.
StatusOr<DistFilename> ParseDistFilename(std::string_view filename, std::string_view project = {});

// The upload form's pyversion for `name`, as PyPI lists files: the wheel's python tags joined
// by '.', "source" for sdists, the Python version a legacy binary names, else "any".
std::string PyVersionField(const DistFilename& name);

// True when `filename` is a PEP 625 sdist name: `{normalized_name with _}-{canonical version}`
// followed by ".tar.gz".
bool IsPep625SdistFilename(std::string_view filename);

}  // namespace pydepot::model
