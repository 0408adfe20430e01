#include "model/specifier.h"

#include <array>
#include <cstddef>
#include <utility>

#include "model/python_text.h"

namespace pydepot::model {
namespace {

using internal::SpaceLengthAt;
using internal::StripPythonSpace;

// Reference behaviour: packaging 23.0's SpecifierSet (Debian 12) with contains(v,
// prereleases=True). Deliberate differences, each where packaging 23.0 contradicts PEP 440:
// - "==V.*" / "!=V.*" compare the epoch on its own. 23.0 glued it to the first release number
//   (packaging issue #683, fixed in 23.2), so 1!1.0 did not match ==1!1.0.* while 1!5 matched
//   ==0.*.
// - "~=V" drops the last number of V's parsed release segment (PEP 440; packaging 26 does the
//   same). 23.0 split the raw text at dots and took every piece before the first one starting
//   with dev, a, b, rc or post as release, so ~=1.4.5.c1 meant ==1.4.5.* and ~=1.0dev.0 meant
//   ==1.0dev.* rather than ==1.*.
// - A version that is not PEP 440 matches only "===" specifiers equal to its text (and the empty
//   set); 23.0 raises InvalidVersion instead.

bool ContainsPythonSpace(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (SpaceLengthAt(text, i) > 0) {
      return true;
    }
  }
  return false;
}

bool IsDigit(int c) { return c >= '0' && c <= '9'; }

// Longest first, so "===" wins over "==" and "<=" over "<".
constexpr std::array<std::string_view, 8> kOperators = {
    "===", "~=", "==", "!=", "<=", ">=", "<", ">"};

// v?(N!)?N(.N)*: the only thing allowed before a ".*" wildcard.
bool IsPlainRelease(std::string_view text) {
  size_t pos = 0;
  const auto consume_digits = [&] {
    const size_t start = pos;
    while (pos < text.size() && IsDigit(text[pos])) {
      ++pos;
    }
    return pos > start;
  };
  if (pos < text.size() && (text[pos] == 'v' || text[pos] == 'V')) {
    ++pos;
  }
  if (!consume_digits()) {
    return false;
  }
  if (pos < text.size() && text[pos] == '!') {
    ++pos;
    if (!consume_digits()) {
      return false;
    }
  }
  while (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!consume_digits()) {
      return false;
    }
  }
  return pos == text.size();
}

bool IsWildcard(const Specifier& spec) {
  return (spec.op == "==" || spec.op == "!=") && spec.version.ends_with(".*");
}

// Checks one comma-separated item (already stripped) and splits it into operator and version.
StatusOr<Specifier> ParseSpecifier(std::string_view item) {
  const auto error = [&](std::string_view why) {
    return InvalidArgumentError("invalid version specifier '" + std::string(item) +
                                "': " + std::string(why));
  };
  Specifier spec;
  for (std::string_view op : kOperators) {
    if (item.starts_with(op)) {
      spec.op = std::string(op);
      break;
    }
  }
  if (spec.op.empty()) {
    return error("expected one of ~= == != <= >= < > ===");
  }
  const std::string_view version = StripPythonSpace(item.substr(spec.op.size()));
  spec.version = std::string(version);

  if (spec.op == "===") {
    // Arbitrary equality takes any text up to whitespace, ';' or ')', even none.
    if (ContainsPythonSpace(version) || version.find_first_of(";)") != std::string_view::npos) {
      return error("=== takes a single word");
    }
    return spec;
  }
  if (version.ends_with(".*")) {
    if (!IsWildcard(spec)) {
      return error(".* is only allowed with == and !=");
    }
    if (!IsPlainRelease(version.substr(0, version.size() - 2))) {
      return error(".* must follow a plain release segment");
    }
    return spec;
  }
  // `version` has no surrounding whitespace and a valid version none inside, so the stripping
  // ParseLenient does cannot let whitespace through.
  const Version parsed = Version::ParseLenient(version);
  if (!parsed.is_valid()) {
    return error("not a PEP 440 version");
  }
  if (parsed.HasLocal() && spec.op != "==" && spec.op != "!=") {
    return error("a local version label is only allowed with ==, != and ===");
  }
  if (spec.op == "~=" && parsed.release().size() < 2) {
    return error("~= needs at least two release components");
  }
  return spec;
}

// Python's str.lower() as far as it can matter when one side is a canonical (ASCII) version:
// ASCII letters, and U+212A KELVIN SIGN, the one non-ASCII character that lowers to ASCII ('k').
std::string LowerForArbitraryEquality(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (text.substr(i, 3) == "\xe2\x84\xaa") {
      out.push_back('k');
      i += 2;
    } else {
      out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  return out;
}

// Release numbers are normalized digit strings, so equal numbers are equal strings.
bool ReleaseStartsWith(const Version& version, const std::vector<std::string>& prefix) {
  const std::vector<std::string>& release = version.release();
  for (size_t i = 0; i < prefix.size(); ++i) {
    const std::string_view component =
        i < release.size() ? std::string_view{release[i]} : std::string_view{"0"};
    if (component != prefix[i]) {
      return false;
    }
  }
  return true;
}

// packaging's Version(v.base_version) == Version(spec.base_version): same epoch and the same
// release segment up to trailing zeros.
bool SameBaseVersion(const Version& a, const Version& b) {
  const std::vector<std::string>& longer =
      a.release().size() >= b.release().size() ? a.release() : b.release();
  const Version& shorter = a.release().size() >= b.release().size() ? b : a;
  return a.epoch() == b.epoch() && ReleaseStartsWith(shorter, longer);
}

// ==V.*: same epoch, and V's release is a prefix of the candidate's zero-padded release.
// Pre, post, dev and local parts of the candidate do not matter (1.0.* matches 1.0rc1).
bool MatchesPrefix(const Version& candidate, const Version& prefix) {
  return candidate.epoch() == prefix.epoch() && ReleaseStartsWith(candidate, prefix.release());
}

bool Matches(const Specifier& spec, const Version& candidate) {
  if (spec.op == "===") {
    const std::string& text = candidate.is_valid() ? candidate.Canonical() : candidate.original();
    return LowerForArbitraryEquality(text) == LowerForArbitraryEquality(spec.version);
  }
  if (!candidate.is_valid()) {
    return false;
  }
  if (IsWildcard(spec)) {
    const Version prefix =
        Version::ParseLenient(std::string_view{spec.version}.substr(0, spec.version.size() - 2));
    return MatchesPrefix(candidate, prefix) == (spec.op == "==");
  }
  const Version target = Version::ParseLenient(spec.version);
  // Ordered comparisons and local-less equality look at the public version only.
  const Version candidate_public =
      candidate.HasLocal() ? Version::ParseLenient(candidate.Public()) : candidate;
  if (spec.op == "==" || spec.op == "!=") {
    const bool equal = (target.HasLocal() ? candidate : candidate_public) == target;
    return equal == (spec.op == "==");
  }
  if (spec.op == "<=") {
    return candidate_public <= target;
  }
  if (spec.op == ">=") {
    return candidate_public >= target;
  }
  if (spec.op == "~=") {
    const std::vector<std::string> prefix(target.release().begin(), target.release().end() - 1);
    return candidate_public >= target && candidate.epoch() == target.epoch() &&
           ReleaseStartsWith(candidate, prefix);
  }
  if (spec.op == "<") {
    // <3.1 must not pick 3.1rc1 or 3.1.dev0, unless the bound is a pre-release itself.
    return candidate < target && !(!target.IsPrerelease() && candidate.IsPrerelease() &&
                                   SameBaseVersion(candidate, target));
  }
  // ">": >3.1 must not pick 3.1.post1 (unless the bound is a post-release) nor 3.1+local.
  return candidate > target &&
         !(!target.IsPostrelease() && candidate.IsPostrelease() &&
           SameBaseVersion(candidate, target)) &&
         !(candidate.HasLocal() && SameBaseVersion(candidate, target));
}

}  // namespace

StatusOr<SpecifierSet> SpecifierSet::Parse(std::string_view text) {
  SpecifierSet set;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      comma = text.size();
    }
    // packaging skips empty items, so ",>=3.8,," is just >=3.8.
    if (const std::string_view item = StripPythonSpace(text.substr(start, comma - start));
        !item.empty()) {
      StatusOr<Specifier> spec = ParseSpecifier(item);
      if (!spec.has_value()) {
        return spec.error();
      }
      set.specifiers_.push_back(*std::move(spec));
    }
    start = comma + 1;
  }
  return set;
}

bool SpecifierSet::Contains(const Version& version) const {
  for (const Specifier& spec : specifiers_) {
    if (!Matches(spec, version)) {
      return false;
    }
  }
  return true;
}

// pip asks `Version(".".join(map(str, sys.version_info[:3]))) in SpecifierSet(requires_python)`,
// i.e. with the running interpreter's exact micro version. We do the same: MatchesPython(3, 11)
// means Python 3.11.0, so ">3.11" is false for it but true for (3, 11, 7); callers that know
// the micro version should pass it. Negative numbers cannot be a Python version: false.
bool SpecifierSet::MatchesPython(int major, int minor, int micro) const {
  if (major < 0 || minor < 0 || micro < 0) {
    return false;
  }
  return Contains(Version::ParseLenient(std::to_string(major) + "." + std::to_string(minor) + "." +
                                        std::to_string(micro)));
}

std::string SpecifierSet::ToString() const {
  std::string out;
  for (const Specifier& spec : specifiers_) {
    if (!out.empty()) {
      out += ",";
    }
    out += spec.op + spec.version;
  }
  return out;
}

}  // namespace pydepot::model
