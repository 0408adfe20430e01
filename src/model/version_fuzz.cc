// libFuzzer target: PEP 440 versions and specifier sets on arbitrary bytes.
// The input is split at its first '\n' into A and B. A and B are parsed as versions (Parse,
// ParseLenient, every accessor, Canonical/ReleaseKey round trips, ordering laws); A is also
// parsed as a SpecifierSet and asked about B and a few Python versions.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "model/specifier.h"
#include "model/version.h"

namespace {

using pydepot::model::SpecifierSet;
using pydepot::model::Version;

Version CheckVersion(std::string_view text) {
  auto parsed = Version::Parse(text);
  Version version = Version::ParseLenient(text);
  PYDEPOT_CHECK(parsed.has_value() == version.is_valid());
  PYDEPOT_CHECK(version.original() == text);
  PYDEPOT_CHECK(version == version);
  PYDEPOT_CHECK(std::is_eq(version <=> version));
  const std::string canonical = version.Canonical();
  const std::string release_key = version.ReleaseKey();
  const std::string public_version = version.Public();
  (void)version.IsPrerelease();
  (void)version.IsPostrelease();
  (void)version.IsDevrelease();
  (void)version.HasLocal();
  if (!version.is_valid()) {
    PYDEPOT_CHECK(canonical == text);
    PYDEPOT_CHECK(release_key == text);
    return version;
  }
  PYDEPOT_CHECK(*parsed == version);
  // The canonical form is a fixed point and names the same version; so does the release key
  // (it only drops trailing zeros) and the public form of a version without a local label.
  auto again = Version::Parse(canonical);
  PYDEPOT_CHECK(again.has_value());
  PYDEPOT_CHECK(*again == version);
  PYDEPOT_CHECK(again->Canonical() == canonical);
  auto key = Version::Parse(release_key);
  PYDEPOT_CHECK(key.has_value());
  PYDEPOT_CHECK(*key == version);
  PYDEPOT_CHECK(key->ReleaseKey() == release_key);
  auto public_parsed = Version::Parse(public_version);
  PYDEPOT_CHECK(public_parsed.has_value());
  PYDEPOT_CHECK(!public_parsed->HasLocal());
  PYDEPOT_CHECK(version.HasLocal() || *public_parsed == version);
  return version;
}

int Sign(std::strong_ordering order) {
  if (std::is_lt(order)) {
    return -1;
  }
  return std::is_gt(order) ? 1 : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view a = input.substr(0, newline);
  const std::string_view b =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  const Version va = CheckVersion(a);
  const Version vb = CheckVersion(b);
  PYDEPOT_CHECK(Sign(va <=> vb) == -Sign(vb <=> va));
  PYDEPOT_CHECK((va == vb) == std::is_eq(va <=> vb));
  if (va.is_valid() != vb.is_valid()) {
    PYDEPOT_CHECK((va < vb) == vb.is_valid());  // invalid versions sort first
  }

  auto set = SpecifierSet::Parse(a);
  if (set.has_value()) {
    (void)set->Contains(vb);
    (void)set->Contains(va);
    (void)set->MatchesPython(3, 11, 2);
    (void)set->MatchesPython(2, 7);
    auto reparsed = SpecifierSet::Parse(set->ToString());
    PYDEPOT_CHECK(reparsed.has_value());
    PYDEPOT_CHECK(reparsed->specifiers().size() == set->specifiers().size());
    if (vb.is_valid()) {
      PYDEPOT_CHECK(reparsed->Contains(vb) == set->Contains(vb));
    }
  }
  return 0;
}
