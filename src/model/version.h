// PEP 440 versions: parsing (including the permissive spellings the spec normalizes), the
// canonical string, ordering, and release identity. Values are immutable; thread-compatible.
//
// A string that is not a valid PEP 440 version is still a Version: it is kept as text
// (is_valid() false), never crashes anything, and sorts below every valid version (and among
// other invalid ones by its text). Numbers are kept as decimal digit strings, so versions with
// components larger than 64 bits parse and compare exactly as Python's int would.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pydepot::model {

class Version {
 public:
  enum class PreKind { kAlpha, kBeta, kRc };

  // Parses `text` with the packaging VERSION_PATTERN semantics: case-insensitive, surrounding
  // whitespace allowed, optional leading 'v', alternate spellings (alpha, beta, c, pre, preview,
  // rev, r, '-N' post releases), optional separators, implicit zeros, local labels.
  // Returns kInvalidArgument (message names the text) when it is not a PEP 440 version.
  static StatusOr<Version> Parse(std::string_view text);

  // As Parse, but never fails: an invalid string becomes an invalid (legacy) Version.
  static Version ParseLenient(std::string_view text);

  // An invalid, empty version (sorts lowest).
  Version() = default;

  bool is_valid() const { return valid_; }
  // The text as given to Parse/ParseLenient.
  const std::string& original() const { return original_; }

  // The canonical form, Python's str(packaging.version.Version(text)):
  // [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]. For an invalid version, the original text.
  std::string Canonical() const;
  // The canonical form without the local label.
  std::string Public() const;
  // packaging.utils.canonicalize_version: Canonical() with trailing ".0" release components
  // removed (1.0.0 -> 1, 1.4.0.0 -> 1.4, 0 stays 0). Two files belong to the same release
  // exactly when these are equal. For an invalid version, the original text.
  std::string ReleaseKey() const;

  // a, b, rc or dev present (dev releases are pre-releases). False for invalid versions.
  bool IsPrerelease() const;
  bool IsPostrelease() const { return post_.has_value(); }
  bool IsDevrelease() const { return dev_.has_value(); }
  bool HasLocal() const { return !local_.empty(); }

  // Components, valid versions only. Numbers are decimal digit strings without leading zeros.
  const std::string& epoch() const { return epoch_; }
  const std::vector<std::string>& release() const { return release_; }
  const std::optional<std::pair<PreKind, std::string>>& pre() const { return pre_; }
  const std::optional<std::string>& post() const { return post_; }
  const std::optional<std::string>& dev() const { return dev_; }
  // Local label pieces, lower-cased, separators removed ("ubuntu", "1").
  const std::vector<std::string>& local() const { return local_; }

  // PEP 440 order; invalid versions sort before all valid ones. 1.0 == 1.0.0.
  std::strong_ordering operator<=>(const Version& other) const;
  bool operator==(const Version& other) const;

 private:
  bool valid_ = false;
  std::string original_;
  std::string epoch_ = "0";
  std::vector<std::string> release_;
  std::optional<std::pair<PreKind, std::string>> pre_;
  std::optional<std::string> post_;
  std::optional<std::string> dev_;
  std::vector<std::string> local_;
};

}  // namespace pydepot::model
