// PEP 440 version specifier sets, as used by Requires-Python: parsed enough to validate them and
// to answer "does this version (or Python X.Y[.Z]) match". Immutable; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/version.h"

namespace pydepot::model {

struct Specifier {
  // One of "~=", "==", "!=", "<=", ">=", "<", ">", "===".
  std::string op;
  // The version text as written after the operator, whitespace removed (may end in ".*" for ==
  // and !=).
  std::string version;
};

class SpecifierSet {
 public:
  // Parses a comma-separated list of specifiers (whitespace allowed anywhere between tokens, an
  // empty string is the empty set which matches everything). Rejects what packaging's
  // SpecifierSet rejects: unknown operators, ".*" outside == and !=, "~=" with a single release
  // component, local labels outside == / != / ===, invalid versions.
  // Returns kInvalidArgument naming the offending specifier.
  static StatusOr<SpecifierSet> Parse(std::string_view text);

  SpecifierSet() = default;

  const std::vector<Specifier>& specifiers() const { return specifiers_; }

  // True when `version` satisfies every specifier, with PEP 440 semantics (prefix matching
  // for ".*", zero padding, exclusive ordered comparisons that do not match pre/post releases
  // of the named version, local labels ignored except by ===). Pre-releases are accepted (as
  // packaging's contains(v, prereleases=True)).
  bool Contains(const Version& version) const;

  // True when Python `major.minor.micro` satisfies the set (what pip does with
  // Requires-Python and the running interpreter).
  bool MatchesPython(int major, int minor, int micro = 0) const;

  // The specifiers joined by ",", in the order given.
  std::string ToString() const;

 private:
  std::vector<Specifier> specifiers_;
};

}  // namespace pydepot::model
