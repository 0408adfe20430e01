// pydepot_model_tool: a line-oriented front end to the model library for the differential test
// against Python's packaging (tests/diff/test_packaging_diff.py).
//
// Each input line is a JSON array [command, args...]; each output line is one JSON object, in
// the same order. JSON keeps tabs, newlines and any Unicode in generated inputs intact.
//   ["version", text]            -> valid, canonical, public, release_key, is_prerelease, ...
//   ["cmp", a, b]                -> cmp: -1, 0 or 1 (ParseLenient on both)
//   ["sort", [texts...]]         -> order: indices of a stable sort by Version (ParseLenient)
//   ["name", text]               -> valid, normalized, is_normalized
//   ["wheel", filename]          -> ParseWheelFilename's fields, or valid false and error
//   ["sdist", filename, project] -> ParseSdistFilename (project "" for none)
//   ["dist", filename, project]  -> ParseDistFilename
//   ["pep625", filename]         -> pep625: IsPep625SdistFilename
//   ["spec", specifiers, version?] -> valid, error, str, contains (null without a valid version)
//   ["python", specifiers, major, minor, micro] -> valid, matches (SpecifierSet::MatchesPython)
// A malformed line gets {"error": "..."}.
#include <algorithm>
#include <compare>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "model/filename.h"
#include "model/project_name.h"
#include "model/specifier.h"
#include "model/version.h"

namespace json = boost::json;

namespace pydepot::model {
namespace {

std::string_view View(const json::string& s) { return std::string_view(s.data(), s.size()); }

json::value OptionalString(const std::optional<std::string>& s) {
  if (!s) {
    return nullptr;
  }
  return json::string(*s);
}

json::array Strings(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& item : items) {
    out.emplace_back(item);
  }
  return out;
}

std::string_view PreKindName(Version::PreKind kind) {
  switch (kind) {
    case Version::PreKind::kAlpha:
      return "a";
    case Version::PreKind::kBeta:
      return "b";
    case Version::PreKind::kRc:
      return "rc";
  }
  return "?";
}

json::object DescribeVersion(std::string_view text) {
  json::object out;
  auto parsed = Version::Parse(text);
  Version lenient = Version::ParseLenient(text);
  out["valid"] = parsed.has_value();
  out["lenient_valid"] = lenient.is_valid();
  if (!parsed.has_value()) {
    out["error"] = parsed.error().message();
  }
  out["original"] = lenient.original();
  out["canonical"] = lenient.Canonical();
  out["public"] = lenient.Public();
  out["release_key"] = lenient.ReleaseKey();
  out["is_prerelease"] = lenient.IsPrerelease();
  out["is_postrelease"] = lenient.IsPostrelease();
  out["is_devrelease"] = lenient.IsDevrelease();
  out["has_local"] = lenient.HasLocal();
  if (lenient.is_valid()) {
    out["epoch"] = lenient.epoch();
    out["release"] = Strings(lenient.release());
    if (lenient.pre()) {
      out["pre"] = json::array{json::string(PreKindName(lenient.pre()->first)),
                               json::string(lenient.pre()->second)};
    } else {
      out["pre"] = nullptr;
    }
    out["post"] = OptionalString(lenient.post());
    out["dev"] = OptionalString(lenient.dev());
    out["local"] = Strings(lenient.local());
  }
  return out;
}

int Sign(std::strong_ordering order) {
  if (std::is_lt(order)) {
    return -1;
  }
  return std::is_gt(order) ? 1 : 0;
}

json::object DescribeDist(const StatusOr<DistFilename>& parsed) {
  json::object out;
  out["valid"] = parsed.has_value();
  if (!parsed.has_value()) {
    out["error"] = parsed.error().message();
    out["code"] = StatusCodeName(parsed.error().code());
    return out;
  }
  const DistFilename& dist = *parsed;
  out["filename"] = dist.filename;
  out["filetype"] = DistKindFiletype(dist.kind);
  out["name_part"] = dist.name_part;
  out["project"] = dist.project;
  out["version_part"] = dist.version_part;
  out["version_valid"] = dist.version.is_valid();
  out["version"] = dist.version.Canonical();
  out["extension"] = dist.extension;
  if (dist.build) {
    out["build"] = json::array{json::string(dist.build->number), json::string(dist.build->suffix)};
  } else {
    out["build"] = nullptr;
  }
  out["python_tags"] = Strings(dist.python_tags);
  out["abi_tags"] = Strings(dist.abi_tags);
  out["platform_tags"] = Strings(dist.platform_tags);
  out["legacy_python"] = dist.legacy_python;
  out["legacy_platform"] = dist.legacy_platform;
  out["legacy_release"] = dist.legacy_release;
  return out;
}

json::object Error(std::string_view message) {
  json::object out;
  out["error"] = message;
  return out;
}

// Returns the string at args[i], or nullptr when it is missing or not a string.
const json::string* Arg(const json::array& args, std::size_t i) {
  return i < args.size() ? args[i].if_string() : nullptr;
}

json::object Run(const json::array& args) {
  const json::string* command = Arg(args, 0);
  if (command == nullptr) {
    return Error("expected [command, args...]");
  }
  const std::string_view cmd = View(*command);
  const json::string* a = Arg(args, 1);
  const json::string* b = Arg(args, 2);
  if (cmd == "version" && a != nullptr) {
    return DescribeVersion(View(*a));
  }
  if (cmd == "cmp" && a != nullptr && b != nullptr) {
    json::object out;
    out["cmp"] = Sign(Version::ParseLenient(View(*a)) <=> Version::ParseLenient(View(*b)));
    out["eq"] = Version::ParseLenient(View(*a)) == Version::ParseLenient(View(*b));
    return out;
  }
  if (cmd == "sort" && args.size() == 2 && args[1].is_array()) {
    std::vector<Version> versions;
    for (const json::value& item : args[1].get_array()) {
      const json::string* text = item.if_string();
      if (text == nullptr) {
        return Error("sort takes a list of strings");
      }
      versions.push_back(Version::ParseLenient(View(*text)));
    }
    std::vector<std::size_t> order(versions.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&versions](std::size_t x, std::size_t y) {
      return versions[x] < versions[y];
    });
    json::array indices;
    for (std::size_t i : order) {
      indices.emplace_back(static_cast<std::uint64_t>(i));
    }
    json::object out;
    out["order"] = std::move(indices);
    return out;
  }
  if (cmd == "name" && a != nullptr) {
    json::object out;
    out["valid"] = IsValidProjectName(View(*a));
    out["normalized"] = NormalizeProjectName(View(*a));
    out["is_normalized"] = IsNormalizedProjectName(View(*a));
    return out;
  }
  if (cmd == "wheel" && a != nullptr) {
    return DescribeDist(ParseWheelFilename(View(*a)));
  }
  if ((cmd == "sdist" || cmd == "dist") && a != nullptr) {
    std::string_view project = b != nullptr ? View(*b) : std::string_view();
    return DescribeDist(cmd == "sdist" ? ParseSdistFilename(View(*a), project)
                                       : ParseDistFilename(View(*a), project));
  }
  if (cmd == "pep625" && a != nullptr) {
    json::object out;
    out["pep625"] = IsPep625SdistFilename(View(*a));
    return out;
  }
  if (cmd == "spec" && a != nullptr) {
    json::object out;
    auto set = SpecifierSet::Parse(View(*a));
    out["valid"] = set.has_value();
    out["contains"] = nullptr;
    if (!set.has_value()) {
      out["error"] = set.error().message();
      return out;
    }
    out["str"] = set->ToString();
    if (b != nullptr) {
      Version version = Version::ParseLenient(View(*b));
      if (version.is_valid()) {
        out["contains"] = set->Contains(version);
      }
    }
    return out;
  }
  if (cmd == "python" && a != nullptr && args.size() == 5 && args[2].is_int64() &&
      args[3].is_int64() && args[4].is_int64()) {
    json::object out;
    auto set = SpecifierSet::Parse(View(*a));
    out["valid"] = set.has_value();
    if (set.has_value()) {
      out["matches"] = set->MatchesPython(static_cast<int>(args[2].get_int64()),
                                          static_cast<int>(args[3].get_int64()),
                                          static_cast<int>(args[4].get_int64()));
    }
    return out;
  }
  return Error("unknown command or wrong arguments");
}

}  // namespace
}  // namespace pydepot::model

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    boost::system::error_code ec;
    json::value input = json::parse(line, ec);
    json::object output;
    if (ec || !input.is_array()) {
      output = pydepot::model::Error("line is not a JSON array");
    } else {
      output = pydepot::model::Run(input.get_array());
    }
    std::cout << json::serialize(output) << '\n';
  }
  std::cout.flush();
  return 0;
}
