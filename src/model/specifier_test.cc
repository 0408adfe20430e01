#include "model/specifier.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace pydepot::model {
namespace {

// clang-tidy 14 does not see uses of user-defined literals.
using std::string_view_literals::operator""sv;  // NOLINT(misc-unused-using-decls)

// Expected values were produced by Debian 12's python3-packaging 23.0: SpecifierSet(text) for
// validity, Specifier(item).operator + .version for each item, and
// SpecifierSet(spec).contains(version, prereleases=True) for matching.

SpecifierSet Set(std::string_view text) {
  StatusOr<SpecifierSet> set = SpecifierSet::Parse(text);
  EXPECT_TRUE(set.has_value()) << text;
  return set.has_value() ? *set : SpecifierSet();
}

bool Contains(std::string_view spec, std::string_view version) {
  return Set(spec).Contains(Version::ParseLenient(version));
}

struct ParseCase {
  std::string_view input;
  std::string_view joined;  // each item's operator + version, joined by ","
};

TEST(SpecifierSetTest, ParsesWhatPackagingParses) {
  const std::vector<ParseCase> cases = {
      {""sv, ""},
      {" "sv, ""},
      {","sv, ""},
      {" , ,"sv, ""},
      {">=3.8"sv, ">=3.8"},
      {">= 3.8"sv, ">=3.8"},
      {" >=3.8 "sv, ">=3.8"},
      {">=3.8,<4"sv, ">=3.8,<4"},
      {">=3.8, <4"sv, ">=3.8,<4"},
      {",>=3.8,,"sv, ">=3.8"},
      {">=2.7,!=3.0.*,!=3.1.*,!=3.2.*"sv, ">=2.7,!=3.0.*,!=3.1.*,!=3.2.*"},
      {"~=3.8"sv, "~=3.8"},
      {"~= 3.8.1"sv, "~=3.8.1"},
      {"~=1!2.0"sv, "~=1!2.0"},
      {"~=2.2.post3"sv, "~=2.2.post3"},
      {"~=1.4.5a4"sv, "~=1.4.5a4"},
      {"~=v1.0"sv, "~=v1.0"},
      {"==1.0"sv, "==1.0"},
      {"== 1.0"sv, "==1.0"},
      {"==v1.0"sv, "==v1.0"},
      {"==1.0.*"sv, "==1.0.*"},
      {"==1.*"sv, "==1.*"},
      {"== 1.0.*"sv, "==1.0.*"},
      {"!=1.0.*"sv, "!=1.0.*"},
      {"==1!1.0.*"sv, "==1!1.0.*"},
      {"==1.0+local"sv, "==1.0+local"},
      {"!=1.0+Local.7"sv, "!=1.0+Local.7"},
      {"==1.0a1"sv, "==1.0a1"},
      {"==1.0-1"sv, "==1.0-1"},
      {"<1.0"sv, "<1.0"},
      {"<=1.0"sv, "<=1.0"},
      {">1.0"sv, ">1.0"},
      {">=1.0"sv, ">=1.0"},
      {"<1.0a1"sv, "<1.0a1"},
      {"<=1.0.post1"sv, "<=1.0.post1"},
      {">1.0.dev1"sv, ">1.0.dev1"},
      {">=1.0RC1"sv, ">=1.0RC1"},
      {"===1.0"sv, "===1.0"},
      {"=== 1.0"sv, "===1.0"},
      {"===foobar"sv, "===foobar"},
      {"===1.0+abc"sv, "===1.0+abc"},
      {"==="sv, "==="},
      {"====1.0"sv, "====1.0"},
      {"===a(b"sv, "===a(b"},
      {"===\u00e9"sv, "===\u00e9"},
      {">=3.8\t,\t<4"sv, ">=3.8,<4"},
      {"\u00a0>=3.8\u3000"sv, ">=3.8"},
      {">=\u00a03.8"sv, ">=3.8"},
      {">=3.6, !=3.7.0, !=3.7.1"sv, ">=3.6,!=3.7.0,!=3.7.1"},
      {"==2.7.*, >=3.6"sv, "==2.7.*,>=3.6"},
      {"<4,>=3.7"sv, "<4,>=3.7"},
      {">=1.0.dev0"sv, ">=1.0.dev0"},
      {"<1!2"sv, "<1!2"},
      {"==1.0_dev_3"sv, "==1.0_dev_3"},
      {"==1.0-alpha.1"sv, "==1.0-alpha.1"},
      {">=1.0C1"sv, ">=1.0C1"},
      {"==1.0.post"sv, "==1.0.post"},
      {"~=1.0.0rc1.post2.dev3"sv, "~=1.0.0rc1.post2.dev3"},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(std::string(c.input));
    StatusOr<SpecifierSet> set = SpecifierSet::Parse(c.input);
    ASSERT_TRUE(set.has_value()) << set.error();
    EXPECT_EQ(set->ToString(), c.joined);
    // The string form parses back to the same specifiers.
    StatusOr<SpecifierSet> again = SpecifierSet::Parse(set->ToString());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->ToString(), c.joined);
  }
}

TEST(SpecifierSetTest, SplitsOperatorAndVersion) {
  const SpecifierSet set = Set(" >= 3.8 , !=3.9.*,~=3.10.1, ===  odd(1 , < 4 ");
  ASSERT_EQ(set.specifiers().size(), 5u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {">=", "3.8"}, {"!=", "3.9.*"}, {"~=", "3.10.1"}, {"===", "odd(1"}, {"<", "4"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(set.specifiers()[i].op, expected[i].first);
    EXPECT_EQ(set.specifiers()[i].version, expected[i].second);
  }
  EXPECT_EQ(set.ToString(), ">=3.8,!=3.9.*,~=3.10.1,===odd(1,<4");
  // ')' and ';' end an arbitrary version (they close a marker in a requirement).
  EXPECT_FALSE(SpecifierSet::Parse("=== odd(1)").has_value());
}

TEST(SpecifierSetTest, RejectsWhatPackagingRejects) {
  const std::vector<std::string_view> cases = {
      "3.8"sv,
      "=3.8"sv,
      "=>3.8"sv,
      "=<3.8"sv,
      "> =3.8"sv,
      "< =3.8"sv,
      "== =1.0"sv,
      ">==1.0"sv,
      "!1.0"sv,
      "~1.0"sv,
      "~=1"sv,
      "~=1.*"sv,
      "~=1.0.*"sv,
      "~=1.0+abc"sv,
      "~=1!2"sv,
      ">=1.0+abc"sv,
      "<1.0+abc"sv,
      ">1.0.*"sv,
      "<=1.0.*"sv,
      ">=1.*"sv,
      "==1.0a1.*"sv,
      "==1.0.post1.*"sv,
      "==1.0+abc.*"sv,
      "==1.*.*"sv,
      "==1.*.0"sv,
      "==*"sv,
      "==1.0 .*"sv,
      "==1.0. *"sv,
      "== 1.0 extra"sv,
      ">=3.8 <4"sv,
      ">=3.8;"sv,
      ">=3.8)"sv,
      "=== a b"sv,
      "===a;b"sv,
      "===a)b"sv,
      ">="sv,
      "=="sv,
      "~="sv,
      "<"sv,
      "!="sv,
      ">=foo"sv,
      ">=1.0-"sv,
      ">=1..0"sv,
      ">=3.8,,<="sv,
      ">=3.8,foo"sv,
      "python>=3.8"sv,
      ">=3.8 and <4"sv,
      "(>=3.8)"sv,
      ">=\u200b3.8"sv,
      ">=3.8\x00"sv,
      "\x00"sv,
      ">=1.0.po\u017ft1"sv,
      "==1.0+\u212a"sv,
      ">=v"sv,
      ">=1!"sv,
      "== 1.0+"sv,
      "==1.0+a_"sv,
      "!="sv,
      "<>1.0"sv,
  };
  for (std::string_view input : cases) {
    StatusOr<SpecifierSet> set = SpecifierSet::Parse(input);
    ASSERT_FALSE(set.has_value()) << input;
    EXPECT_EQ(set.error().code(), StatusCode::kInvalidArgument) << input;
  }
}

TEST(SpecifierSetTest, ErrorNamesTheSpecifier) {
  StatusOr<SpecifierSet> set = SpecifierSet::Parse(">=3.8, >=1.0+abc");
  ASSERT_FALSE(set.has_value());
  EXPECT_NE(set.error().message().find("'>=1.0+abc'"), std::string::npos) << set.error();
  EXPECT_EQ(SpecifierSet::Parse("~=1").error().code(), StatusCode::kInvalidArgument);
}

TEST(SpecifierSetTest, EmptySetMatchesEverything) {
  for (std::string_view text : {""sv, " "sv, ","sv, " , , "sv}) {
    const SpecifierSet set = Set(text);
    EXPECT_TRUE(set.specifiers().empty());
    EXPECT_EQ(set.ToString(), "");
    EXPECT_TRUE(set.Contains(Version::ParseLenient("1.0")));
    EXPECT_TRUE(set.Contains(Version::ParseLenient("1.0a1")));
    EXPECT_TRUE(set.Contains(Version::ParseLenient("not a version")));
    EXPECT_TRUE(set.MatchesPython(2, 7, 18));
  }
  EXPECT_TRUE(SpecifierSet().Contains(Version()));
}

TEST(SpecifierSetTest, ContainsMatchesPackaging) {
  const std::vector<std::string_view> versions = {
      "0.9",           "0.9+abc",     "1.0.dev0",  "1.0.dev1",      "1.0.dev2",       "1.0a1",
      "1.0a1+abc",     "1.0a1.post1", "1.0a2",     "1.0b1",         "1.0rc1",         "1.0",
      "1.0.0",         "1.0+abc",     "1.0+ABC",   "1.0+xyz",       "1.0.post1.dev0", "1.0.post1",
      "1.0.post1+abc", "1.0.0.post1", "1.0.post2", "1.0.post2+abc", "1.0.1",          "1.0.1a1",
      "1.1.dev0",      "1.1",         "1.4.4",     "1.4.5a4",       "1.4.5a5",        "1.4.5",
      "1.4.5.post1",   "1.4.6",       "1.5",       "2.0",           "2.2.post3",      "2.2.post4",
      "2.3",           "3.0",         "1!0.5",     "1!1.0",         "1!1.0+abc",
  };
  // One row per specifier: character i is contains(versions[i]).
  const std::vector<std::pair<std::string_view, std::string_view>> rows = {
      {"==1.0", "00000000000111110000000000000000000000000"},
      {"==1.0.0", "00000000000111110000000000000000000000000"},
      {"==1.0+abc", "00000000000001100000000000000000000000000"},
      {"==1.0+ABC", "00000000000001100000000000000000000000000"},
      {"!=1.0", "11111111111000001111111111111111111111111"},
      {"!=1.0+abc", "11111111111110011111111111111111111111111"},
      {"==1.*", "00111111111111111111111111111111100000000"},
      {"==1.0.*", "00111111111111111111111100000000000000000"},
      {"==1.0.0.*", "00111111111111111111110000000000000000000"},
      {"==1.0.0.0.*", "00111111111111111111110000000000000000000"},
      {"!=1.0.*", "11000000000000000000000011111111111111111"},
      {"==2.*", "00000000000000000000000000000000011110000"},
      {"==1.0a1", "00000110000000000000000000000000000000000"},
      {"==1.0.post1", "00000000000000000111000000000000000000000"},
      {"<1.0", "11000000000000000000000000000000000000000"},
      {"<=1.0", "11111111111111110000000000000000000000000"},
      {">1.0", "00000000000000000000001111111111111111111"},
      {">=1.0", "00000000000111111111111111111111111111111"},
      {"<1.0.0", "11000000000000000000000000000000000000000"},
      {">1.0.0", "00000000000000000000001111111111111111111"},
      {"<1.1", "11111111111111111111111100000000000000000"},
      {"<1.0a1", "11111000000000000000000000000000000000000"},
      {">1.0a1", "00000000111110000000001111111111111111111"},
      {"<1.0a2", "11111111000000000000000000000000000000000"},
      {"<1.0.post1", "11000000000111110000000000000000000000000"},
      {">1.0.post1", "00000000000000000000101111111111111111111"},
      {"<=1.0.post1", "11111111111111111111000000000000000000000"},
      {">=1.0.post1", "00000000000000000111111111111111111111111"},
      {">1.0.dev1", "00001100111110000000001111111111111111111"},
      {"<1.0.dev1", "11100000000000000000000000000000000000000"},
      {">=1.0a1", "00000111111111111111111111111111111111111"},
      {"<=1.0a1", "11111110000000000000000000000000000000000"},
      {"~=1.0", "00000000000111111111111111111111100000000"},
      {"~=1.0.0", "00000000000111111111111100000000000000000"},
      {"~=1.4.5", "00000000000000000000000000000111000000000"},
      {"~=1.4.5a4", "00000000000000000000000000011111000000000"},
      {"~=1.4.5.post1", "00000000000000000000000000000011000000000"},
      {"~=2.2.post3", "00000000000000000000000000000000001110000"},
      {"~=1.0.dev1", "00011111111111111111111111111111100000000"},
      {"~=1.1", "00000000000000000000000001111111100000000"},
      {">=1!1.0", "00000000000000000000000000000000000000011"},
      {"<1!0", "11111111111111111111111111111111111111000"},
      {">1!1.0", "00000000000000000000000000000000000000000"},
      {"===1.0", "00000000000100000000000000000000000000000"},
      {"===1.0.0", "00000000000010000000000000000000000000000"},
      {"===1.0+ABC", "00000000000001100000000000000000000000000"},
      {"===1.0+abc", "00000000000001100000000000000000000000000"},
  };
  for (const auto& [spec, expected] : rows) {
    ASSERT_EQ(expected.size(), versions.size());
    const SpecifierSet set = Set(spec);
    for (size_t i = 0; i < versions.size(); ++i) {
      EXPECT_EQ(set.Contains(Version::ParseLenient(versions[i])), expected[i] == '1')
          << spec << " contains " << versions[i];
    }
  }
}

TEST(SpecifierSetTest, SetsAreIntersections) {
  EXPECT_TRUE(Contains(">=3.8,<4", "3.8"));
  EXPECT_TRUE(Contains(">=3.8,<4", "3.12.1"));
  EXPECT_FALSE(Contains(">=3.8,<4", "4.0"));
  EXPECT_FALSE(Contains(">=3.8,<4", "3.7.9"));
  EXPECT_FALSE(Contains(">=3.8,<4", "4.0.dev0"));  // <4 excludes pre-releases of 4
  EXPECT_TRUE(Contains(">=2.7,!=3.0.*,!=3.1.*", "2.7.18"));
  EXPECT_FALSE(Contains(">=2.7,!=3.0.*,!=3.1.*", "3.1.4"));
  EXPECT_TRUE(Contains(">=2.7,!=3.0.*,!=3.1.*", "3.2"));
  EXPECT_FALSE(Contains("==1.0,!=1.0", "1.0"));
}

TEST(SpecifierSetTest, PrefixMatchingPadsWithZeros) {
  EXPECT_TRUE(Contains("==1.0.*", "1"));
  EXPECT_TRUE(Contains("==1.0.0.*", "1.0"));
  EXPECT_TRUE(Contains("==1.0.*", "1.0.5"));
  EXPECT_FALSE(Contains("==1.0.*", "1.1"));
  EXPECT_FALSE(Contains("==1.1.*", "1.10"));
  EXPECT_TRUE(Contains("==1.0.*", "1.0rc1"));
  EXPECT_TRUE(Contains("==1.0.*", "1.0.post3"));
  EXPECT_TRUE(Contains("==1.0.*", "1.0.dev0+local"));
  EXPECT_TRUE(Contains("==v01.00.*", "1.0"));
  EXPECT_FALSE(Contains("!=1.0.*", "1.0.0.1"));
  EXPECT_TRUE(Contains("!=1.0.*", "0.9"));
}

TEST(SpecifierSetTest, ExclusiveComparisons) {
  // >V excludes V's post-releases unless V is one, and any local version of V's release.
  EXPECT_TRUE(Contains(">1.7", "1.7.1.post0"));
  EXPECT_FALSE(Contains(">1.7", "1.7.post2"));
  EXPECT_TRUE(Contains(">1.7", "1.7.1"));
  EXPECT_TRUE(Contains(">1.7.post2", "1.7.post3"));
  EXPECT_FALSE(Contains(">1.7", "1.7+local"));
  EXPECT_FALSE(Contains(">1.7", "1.7.0+local"));
  // <V excludes V's pre-releases unless V is one.
  EXPECT_FALSE(Contains("<3.1", "3.1.dev0"));
  EXPECT_FALSE(Contains("<3.1", "3.1rc1"));
  EXPECT_TRUE(Contains("<3.1", "3.0.dev0"));
  EXPECT_TRUE(Contains("<3.1rc1", "3.1b2"));
  EXPECT_TRUE(Contains("<3.1rc1", "3.1.dev0"));
  // Inclusive comparisons ignore local labels.
  EXPECT_TRUE(Contains("<=1.0", "1.0+local"));
  EXPECT_TRUE(Contains(">=1.0", "1.0+local"));
  // packaging 23.0 compares base versions (release only) in these exclusions, so a
  // post-release of 1.0 is not ">1.0a1" and a pre-release of 1.0 is not "<1.0.post1".
  EXPECT_FALSE(Contains(">1.0a1", "1.0.post1"));
  EXPECT_FALSE(Contains("<1.0.post1", "1.0a1"));
  EXPECT_FALSE(Contains(">1.0a1", "1.0+local"));
}

TEST(SpecifierSetTest, EqualityAndLocalLabels) {
  EXPECT_TRUE(Contains("==1.0", "1.0.0"));
  EXPECT_TRUE(Contains("==1.0", "1.0+anything"));
  EXPECT_TRUE(Contains("==1.0+abc", "1.0+ABC"));
  EXPECT_FALSE(Contains("==1.0+abc", "1.0"));
  EXPECT_FALSE(Contains("==1.0+abc", "1.0+abc.1"));
  EXPECT_TRUE(Contains("!=1.0+abc", "1.0+def"));
  EXPECT_FALSE(Contains("!=1.0", "1.0+def"));
  EXPECT_TRUE(Contains("==1.0-1", "1.0.post1"));
  EXPECT_TRUE(Contains("==1.0C1", "1.0rc1"));
}

TEST(SpecifierSetTest, CompatibleRelease) {
  EXPECT_TRUE(Contains("~=2.2", "2.3"));
  EXPECT_TRUE(Contains("~=2.2", "2.2"));
  EXPECT_FALSE(Contains("~=2.2", "3.0"));
  EXPECT_FALSE(Contains("~=2.2", "2.1"));
  EXPECT_TRUE(Contains("~=1.4.5", "1.4.9"));
  EXPECT_FALSE(Contains("~=1.4.5", "1.5.0"));
  EXPECT_TRUE(Contains("~=2.2.post3", "2.2.post4"));
  EXPECT_TRUE(Contains("~=2.2.post3", "2.9"));
  EXPECT_TRUE(Contains("~=1.4.5a4", "1.4.5"));
  EXPECT_FALSE(Contains("~=1.4.5a4", "1.4.5a3"));
  EXPECT_TRUE(Contains("~=2.2.0", "2.2.0+local"));
  EXPECT_TRUE(Contains("~=1!2.2", "1!2.5"));
  EXPECT_FALSE(Contains("~=1!2.2", "2.5"));
}

// Deliberate difference: packaging 23.0 glued the epoch to the first release number when
// prefix matching (packaging issue #683, fixed in 23.2). We compare the epoch on its own.
TEST(SpecifierSetTest, WildcardComparesEpochSeparately) {
  EXPECT_TRUE(Contains("==1!1.0.*", "1!1.0"));    // 23.0: false
  EXPECT_TRUE(Contains("==1!1.0.*", "1!1"));      // 23.0: false
  EXPECT_TRUE(Contains("==1!1.*", "1!1a1"));      // 23.0: false
  EXPECT_TRUE(Contains("~=1!1.0.0", "1!1.0.0"));  // 23.0: false
  EXPECT_FALSE(Contains("==0.*", "1!1.0"));       // 23.0: true
  EXPECT_FALSE(Contains("==0.0.*", "1!0.5"));     // 23.0: true
  EXPECT_TRUE(Contains("!=0.*", "1!1.0"));        // 23.0: false
  // Cases 23.0 already got right.
  EXPECT_TRUE(Contains("==1!1.*", "1!1.5"));
  EXPECT_FALSE(Contains("==1!1.*", "1.5"));
  EXPECT_FALSE(Contains("==1.*", "1!1.5"));
  EXPECT_TRUE(Contains("==0.*", "0!0.5"));
}

// Deliberate difference: ~=V takes its prefix from V's parsed release segment, as PEP 440
// says and packaging 26 does. 23.0 split the raw text at dots and only recognised suffixes
// starting with dev, a, b, rc or post, so for these it kept the last release number.
TEST(SpecifierSetTest, CompatibleReleaseIgnoresEverySuffixSpelling) {
  for (std::string_view spec :
       {"~=1.4.5.c1"sv, "~=1.4.5c1"sv, "~=1.4.5.pre1"sv, "~=1.4.5.preview1"sv, "~=1.4.5.r1"sv,
        "~=1.4.5.rev1"sv, "~=1.4.5.RC1"sv, "~=1.4.5.DEV1"sv, "~=1.4.5.A1"sv}) {
    EXPECT_TRUE(Contains(spec, "1.4.6")) << spec;  // 23.0: false
    EXPECT_FALSE(Contains(spec, "1.5")) << spec;
  }
  EXPECT_TRUE(Contains("~=1.4.5.dev1", "1.4.6"));  // 23.0 agrees
  EXPECT_TRUE(Contains("~=1.0dev.0", "1.5"));      // 23.0: false (it read ==1.0dev.*)
  EXPECT_FALSE(Contains("~=1.0dev.0", "2.0"));
}

TEST(SpecifierSetTest, ArbitraryEquality) {
  EXPECT_TRUE(Contains("===1.0", "1.0"));
  EXPECT_FALSE(Contains("===1.0", "1.0.0"));
  EXPECT_FALSE(Contains("===1.0", "1.0+local"));
  // The candidate's canonical form is compared, case-insensitively.
  EXPECT_TRUE(Contains("===1.0", "v1.0"));
  EXPECT_TRUE(Contains("===1.0RC1", "1.0c1"));
  EXPECT_FALSE(Contains("===v1.0", "v1.0"));
  EXPECT_TRUE(Contains("===1.0+ABC", "1.0+abc"));
  // U+212A KELVIN SIGN lowers to 'k' in Python.
  EXPECT_TRUE(Contains("===1.0+\u212a", "1.0+k"));
  EXPECT_FALSE(Contains("===", "1.0"));
  // Deliberate difference: 23.0 raises InvalidVersion for these; we match the raw text.
  EXPECT_TRUE(Contains("===foobar", "foobar"));
  EXPECT_TRUE(Contains("===FooBar", "fOObAR"));
  EXPECT_FALSE(Contains("===foobar", " foobar"));
  EXPECT_TRUE(Contains("===", ""));
}

TEST(SpecifierSetTest, InvalidVersionsMatchOnlyArbitraryEquality) {
  const Version junk = Version::ParseLenient("1.0-junk");
  for (std::string_view spec : {">=0"sv, "<999"sv, "!=1.0"sv, "!=1.*"sv, "==1.0"sv, "~=1.0"sv,
                                ">0"sv, "<=999"sv, "===1.0-junk,>=0"sv}) {
    EXPECT_FALSE(Set(spec).Contains(junk)) << spec;
  }
  EXPECT_TRUE(Set("===1.0-JUNK").Contains(junk));
  EXPECT_FALSE(Set(">=0").Contains(Version()));
}

TEST(SpecifierSetTest, MatchesPython) {
  struct Case {
    std::string_view spec;
    bool py3110, py3117, py3120, py2718, py300, py400;
  };
  // Version(f"{major}.{minor}.{micro}") in SpecifierSet(spec), as pip does.
  const std::vector<Case> cases = {
      {">=3.8", true, true, true, false, false, true},
      {">3.11", false, true, true, false, false, true},
      {">=3.11", true, true, true, false, false, true},
      {"<3.12", true, true, false, true, true, false},
      {"~=3.11", true, true, true, false, false, false},
      {"~=3.11.0", true, true, false, false, false, false},
      {"==3.11.*", true, true, false, false, false, false},
      {"!=3.11.*", false, false, true, true, true, true},
      {">=3.8,<4", true, true, true, false, false, false},
      {">=3.7,!=3.11.0", false, true, true, false, false, true},
      {"==3.*", true, true, true, false, true, false},
      {"<3.11.7", true, false, false, true, true, false},
      {">=3.11.7", false, true, true, false, false, true},
      {"==3.11", true, false, false, false, false, false},
      {"===3.11.0", true, false, false, false, false, false},
      {">3.11.0", false, true, true, false, false, true},
      {">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*", true, true, true, true, false, true},
      {"<3.11.0rc1", false, false, false, true, true, false},
      {">3.11.0rc1", true, true, true, false, false, true},
      {"==3.11.0rc1", false, false, false, false, false, false},
      {">=3.11.0a1", true, true, true, false, false, true},
      {"<=3.11", true, false, false, true, true, false},
  };
  for (const Case& c : cases) {
    const SpecifierSet set = Set(c.spec);
    EXPECT_EQ(set.MatchesPython(3, 11, 0), c.py3110) << c.spec;
    EXPECT_EQ(set.MatchesPython(3, 11), c.py3110) << c.spec;
    EXPECT_EQ(set.MatchesPython(3, 11, 7), c.py3117) << c.spec;
    EXPECT_EQ(set.MatchesPython(3, 12, 0), c.py3120) << c.spec;
    EXPECT_EQ(set.MatchesPython(2, 7, 18), c.py2718) << c.spec;
    EXPECT_EQ(set.MatchesPython(3, 0, 0), c.py300) << c.spec;
    EXPECT_EQ(set.MatchesPython(4, 0, 0), c.py400) << c.spec;
  }
  EXPECT_FALSE(Set(">=0").MatchesPython(-1, 0, 0));
  EXPECT_FALSE(Set("").MatchesPython(3, -1, 0));
}

TEST(SpecifierSetTest, GarbageDoesNotCrash) {
  const std::vector<std::string_view> tokens = {
      ">=",   "<=",  "==", "!=", "~=", "===", "<", ">",    "=",      "!",    "~",
      ",",    " ",   ".*", "*",  "1",  "0",   ".", "-",    "+",      "a",    "rc",
      "post", "dev", "v",  "!",  ";",  ")",   "(", "\0"sv, "\u00a0", "\xff", "abc"};
  std::mt19937 rng(508);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 8);
    for (int j = 0; j < n; ++j) {
      text += tokens[rng() % tokens.size()];
    }
    StatusOr<SpecifierSet> set = SpecifierSet::Parse(text);
    if (!set.has_value()) {
      continue;
    }
    ++valid;
    // Whatever parses prints back to something that parses the same way and matches the same.
    StatusOr<SpecifierSet> again = SpecifierSet::Parse(set->ToString());
    ASSERT_TRUE(again.has_value()) << text;
    EXPECT_EQ(again->ToString(), set->ToString());
    for (std::string_view v : {"1"sv, "1.0a1"sv, "0.post1"sv, "1!1+a"sv, "junk"sv}) {
      const Version version = Version::ParseLenient(v);
      EXPECT_EQ(set->Contains(version), again->Contains(version)) << text << " " << v;
    }
    (void)set->MatchesPython(3, 11, 7);
  }
  EXPECT_GT(valid, 100);
  const std::string long_text = ">=" + std::string(1 << 16, '1') + "," + std::string(1 << 16, ',');
  EXPECT_TRUE(SpecifierSet::Parse(long_text).has_value());
}

}  // namespace
}  // namespace pydepot::model
