#include "model/version.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace pydepot::model {
namespace {

// clang-tidy 14 does not see uses of user-defined literals.
using std::string_view_literals::operator""sv;  // NOLINT(misc-unused-using-decls)

// Expected values in the tables below were produced by Debian 12's python3-packaging 23.0:
// str(Version(s)) and packaging.utils.canonicalize_version(s).

Version V(std::string_view text) { return Version::ParseLenient(text); }

TEST(VersionTest, StandardsNormalizationTable) {
  // STANDARDS.md VER-01.
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {"V1.0", "1.0"},
      {"1.0-alpha.1", "1.0a1"},
      {"1.0C1", "1.0rc1"},
      {"1.0.post", "1.0.post0"},
      {"1.0-1", "1.0.post1"},
      {"1.0_dev_3", "1.0.dev3"},
      {"1.0+Ubuntu-1", "1.0+ubuntu.1"},
      {"1!2.0", "1!2.0"},
      {" 1.0 ", "1.0"},
  };
  for (const auto& [input, canonical] : cases) {
    StatusOr<Version> v = Version::Parse(input);
    ASSERT_TRUE(v.has_value()) << input;
    EXPECT_EQ(v->Canonical(), canonical) << input;
  }
}

struct NormalizationCase {
  std::string_view input;
  std::string_view canonical;    // str(Version(input))
  std::string_view release_key;  // canonicalize_version(input)
};

TEST(VersionTest, CanonicalAndReleaseKeyMatchPackaging) {
  const std::vector<NormalizationCase> cases = {
      {"V1.0"sv, "1.0", "1"},
      {"v1.0"sv, "1.0", "1"},
      {"1.0-alpha.1"sv, "1.0a1", "1a1"},
      {"1.0C1"sv, "1.0rc1", "1rc1"},
      {"1.0.post"sv, "1.0.post0", "1.post0"},
      {"1.0-1"sv, "1.0.post1", "1.post1"},
      {"1.0_dev_3"sv, "1.0.dev3", "1.dev3"},
      {"1.0+Ubuntu-1"sv, "1.0+ubuntu.1", "1+ubuntu.1"},
      {"1!2.0"sv, "1!2.0", "1!2"},
      {" 1.0 "sv, "1.0", "1"},
      {"1.0-r4"sv, "1.0.post4", "1.post4"},
      {"1.0.RC1"sv, "1.0rc1", "1rc1"},
      {"1.0c1"sv, "1.0rc1", "1rc1"},
      {"1.0-c1"sv, "1.0rc1", "1rc1"},
      {"1.0pre1"sv, "1.0rc1", "1rc1"},
      {"1.0-pre1"sv, "1.0rc1", "1rc1"},
      {"1.0preview1"sv, "1.0rc1", "1rc1"},
      {"1.0.preview.1"sv, "1.0rc1", "1rc1"},
      {"1.0PREVIEW2"sv, "1.0rc2", "1rc2"},
      {"1.0a"sv, "1.0a0", "1a0"},
      {"1.0alpha"sv, "1.0a0", "1a0"},
      {"1.0b"sv, "1.0b0", "1b0"},
      {"1.0beta"sv, "1.0b0", "1b0"},
      {"1.0beta2"sv, "1.0b2", "1b2"},
      {"1.0-beta.2"sv, "1.0b2", "1b2"},
      {"1.0_b_2"sv, "1.0b2", "1b2"},
      {"1.0rc"sv, "1.0rc0", "1rc0"},
      {"1.0c"sv, "1.0rc0", "1rc0"},
      {"1.0pre"sv, "1.0rc0", "1rc0"},
      {"1.0preview"sv, "1.0rc0", "1rc0"},
      {"1.0a1"sv, "1.0a1", "1a1"},
      {"1.0a.1"sv, "1.0a1", "1a1"},
      {"1.0.a.1"sv, "1.0a1", "1a1"},
      {"1.0-a-1"sv, "1.0a1", "1a1"},
      {"1.0_a_1"sv, "1.0a1", "1a1"},
      {"1.0A1"sv, "1.0a1", "1a1"},
      {"1.0RC1"sv, "1.0rc1", "1rc1"},
      {"1.0Rc1"sv, "1.0rc1", "1rc1"},
      {"1.0post1"sv, "1.0.post1", "1.post1"},
      {"1.0.post1"sv, "1.0.post1", "1.post1"},
      {"1.0-post1"sv, "1.0.post1", "1.post1"},
      {"1.0_post_1"sv, "1.0.post1", "1.post1"},
      {"1.0-post-1"sv, "1.0.post1", "1.post1"},
      {"1.0.post.1"sv, "1.0.post1", "1.post1"},
      {"1.0post"sv, "1.0.post0", "1.post0"},
      {"1.0-post"sv, "1.0.post0", "1.post0"},
      {"1.0.POST1"sv, "1.0.post1", "1.post1"},
      {"1.0r"sv, "1.0.post0", "1.post0"},
      {"1.0r1"sv, "1.0.post1", "1.post1"},
      {"1.0-r"sv, "1.0.post0", "1.post0"},
      {"1.0.r"sv, "1.0.post0", "1.post0"},
      {"1.0rev"sv, "1.0.post0", "1.post0"},
      {"1.0rev1"sv, "1.0.post1", "1.post1"},
      {"1.0-rev-1"sv, "1.0.post1", "1.post1"},
      {"1.0.REV3"sv, "1.0.post3", "1.post3"},
      {"1.0-r-"sv, "1.0.post0", "1.post0"},
      {"1.0dev"sv, "1.0.dev0", "1.dev0"},
      {"1.0.dev"sv, "1.0.dev0", "1.dev0"},
      {"1.0-dev"sv, "1.0.dev0", "1.dev0"},
      {"1.0_dev"sv, "1.0.dev0", "1.dev0"},
      {"1.0dev1"sv, "1.0.dev1", "1.dev1"},
      {"1.0.dev1"sv, "1.0.dev1", "1.dev1"},
      {"1.0-dev1"sv, "1.0.dev1", "1.dev1"},
      {"1.0.dev.1"sv, "1.0.dev1", "1.dev1"},
      {"1.0-dev-"sv, "1.0.dev0", "1.dev0"},
      {"1.0DEV7"sv, "1.0.dev7", "1.dev7"},
      {"1.0-1dev"sv, "1.0.post1.dev0", "1.post1.dev0"},
      {"1.0-1-dev"sv, "1.0.post1.dev0", "1.post1.dev0"},
      {"1.0-1.dev1"sv, "1.0.post1.dev1", "1.post1.dev1"},
      {"1.0-1_dev_2"sv, "1.0.post1.dev2", "1.post1.dev2"},
      {"1.0a."sv, "1.0a0", "1a0"},
      {"1.0a-"sv, "1.0a0", "1a0"},
      {"1.0a--1"sv, "1.0a0.post1", "1a0.post1"},
      {"1.0a-.post1"sv, "1.0a0.post1", "1a0.post1"},
      {"1.0a1-1"sv, "1.0a1.post1", "1a1.post1"},
      {"1.0a-1"sv, "1.0a1", "1a1"},
      {"1.0-a1"sv, "1.0a1", "1a1"},
      {"1.0.a-1.post-2.dev-3"sv, "1.0a1.post2.dev3", "1a1.post2.dev3"},
      {"1.0a_post1"sv, "1.0a0.post1", "1a0.post1"},
      {"1.0rc.dev"sv, "1.0rc0.dev0", "1rc0.dev0"},
      {"1.0a1.post1.dev1+x"sv, "1.0a1.post1.dev1+x", "1a1.post1.dev1+x"},
      {"1.0.post-dev"sv, "1.0.post0.dev0", "1.post0.dev0"},
      {"1.0.post.+abc"sv, "1.0.post0+abc", "1.post0+abc"},
      {"1.0a1.dev1"sv, "1.0a1.dev1", "1a1.dev1"},
      {"1.0b2.post345.dev456"sv, "1.0b2.post345.dev456", "1b2.post345.dev456"},
      {"1.0rc1.post1"sv, "1.0rc1.post1", "1rc1.post1"},
      {"1.0rc1.dev0"sv, "1.0rc1.dev0", "1rc1.dev0"},
      {"1.0.post456.dev34"sv, "1.0.post456.dev34", "1.post456.dev34"},
      {"0"sv, "0", "0"},
      {"00"sv, "0", "0"},
      {"0.0"sv, "0.0", "0"},
      {"0.0.0"sv, "0.0.0", "0"},
      {"1"sv, "1", "1"},
      {"01"sv, "1", "1"},
      {"1.00"sv, "1.0", "1"},
      {"1.0.0"sv, "1.0.0", "1"},
      {"1.0.0.0.0"sv, "1.0.0.0.0", "1"},
      {"1.2.3.4.5.6.7.8.9.10"sv, "1.2.3.4.5.6.7.8.9.10", "1.2.3.4.5.6.7.8.9.10"},
      {"010.020.030"sv, "10.20.30", "10.20.30"},
      {"1.0.10"sv, "1.0.10", "1.0.10"},
      {"10.0"sv, "10.0", "10"},
      {"2.0.0.0"sv, "2.0.0.0", "2"},
      {"1.4.0.0.0"sv, "1.4.0.0.0", "1.4"},
      {"0.0.1"sv, "0.0.1", "0.0.1"},
      {"0!1.0"sv, "1.0", "1"},
      {"00!1.0"sv, "1.0", "1"},
      {"01!1.0"sv, "1!1.0", "1!1"},
      {"1!1.0"sv, "1!1.0", "1!1"},
      {"10!0"sv, "10!0", "10!0"},
      {"v1!2"sv, "1!2", "1!2"},
      {"V1!2.0"sv, "1!2.0", "1!2"},
      {"1.0+abc"sv, "1.0+abc", "1+abc"},
      {"1.0+ABC"sv, "1.0+abc", "1+abc"},
      {"1.0+abc.5"sv, "1.0+abc.5", "1+abc.5"},
      {"1.0+abc-5"sv, "1.0+abc.5", "1+abc.5"},
      {"1.0+abc_5"sv, "1.0+abc.5", "1+abc.5"},
      {"1.0+5"sv, "1.0+5", "1+5"},
      {"1.0+05"sv, "1.0+5", "1+5"},
      {"1.0+01.abc.00"sv, "1.0+1.abc.0", "1+1.abc.0"},
      {"1.0+0"sv, "1.0+0", "1+0"},
      {"1.0+a.b.c.d"sv, "1.0+a.b.c.d", "1+a.b.c.d"},
      {"1.0+1abc"sv, "1.0+1abc", "1+1abc"},
      {"1.0+abc1"sv, "1.0+abc1", "1+abc1"},
      {"1.0+Ubuntu-1_2.ZZ"sv, "1.0+ubuntu.1.2.zz", "1+ubuntu.1.2.zz"},
      {"1.0a1+local"sv, "1.0a1+local", "1a1+local"},
      {"1.0.post1+local.7"sv, "1.0.post1+local.7", "1.post1+local.7"},
      {"1.0.dev1+x"sv, "1.0.dev1+x", "1.dev1+x"},
      {"1!1.0.0+AbC.01"sv, "1!1.0.0+abc.1", "1!1+abc.1"},
      {"\t1.0\n"sv, "1.0", "1"},
      {"1.0\r\n"sv, "1.0", "1"},
      {"\v1.0\f"sv, "1.0", "1"},
      {"\x1c"
       "1.0\x1f"sv,
       "1.0", "1"},
      {"\u00a01.0\u3000"sv, "1.0", "1"},
      {"\u20281.0\u2029"sv, "1.0", "1"},
      {"\xc2\x85"
       "1.0\u205f"sv,
       "1.0", "1"},
      {"\u16801.0\u202f"sv, "1.0", "1"},
      {"\u20001.0\u200a"sv, "1.0", "1"},
      {"1.0\u2005"sv, "1.0", "1"},
      {"18446744073709551616"sv, "18446744073709551616", "18446744073709551616"},
      {"1.18446744073709551616"sv, "1.18446744073709551616", "1.18446744073709551616"},
      {"99999999999999999999999999999999999.0"sv, "99999999999999999999999999999999999.0",
       "99999999999999999999999999999999999"},
      {"1.0a18446744073709551617"sv, "1.0a18446744073709551617", "1a18446744073709551617"},
      {"1.0.post000000000000000000000000000000000001"sv, "1.0.post1", "1.post1"},
      {"1.0+000000000000000000000000000000000000123"sv, "1.0+123", "1+123"},
      {"2012.10"sv, "2012.10", "2012.10"},
      {"2012.4"sv, "2012.4", "2012.4"},
      {"1.0.dev456"sv, "1.0.dev456", "1.dev456"},
      {"1.dev0"sv, "1.dev0", "1.dev0"},
  };
  for (const NormalizationCase& c : cases) {
    SCOPED_TRACE(std::string(c.input));
    StatusOr<Version> v = Version::Parse(c.input);
    ASSERT_TRUE(v.has_value());
    EXPECT_TRUE(v->is_valid());
    EXPECT_EQ(v->original(), c.input);
    EXPECT_EQ(v->Canonical(), c.canonical);
    EXPECT_EQ(v->ReleaseKey(), c.release_key);
    EXPECT_EQ(v->Public(), c.canonical.substr(0, c.canonical.find('+')));
    // The canonical form is a fixed point and names an equal version.
    StatusOr<Version> again = Version::Parse(v->Canonical());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->Canonical(), c.canonical);
    EXPECT_EQ(*again, *v);
  }
}

TEST(VersionTest, RejectsWhatPackagingRejects) {
  const std::vector<std::string_view> cases = {
      ""sv,
      " "sv,
      "v"sv,
      "V"sv,
      "vv1.0"sv,
      "1.0."sv,
      ".1.0"sv,
      "1..0"sv,
      "1.0..1"sv,
      "1.0-"sv,
      "1.0+"sv,
      "1.0+."sv,
      "1.0+a."sv,
      "1.0+.a"sv,
      "1.0+a..b"sv,
      "1.0+a-_b"sv,
      "1.0+a+b"sv,
      "1.0 +abc"sv,
      "1.0+ab c"sv,
      "1 .0"sv,
      "1. 0"sv,
      "1!"sv,
      "!1.0"sv,
      "1!1!1"sv,
      "1!v2"sv,
      "1.0a1b1"sv,
      "1.0a1a1"sv,
      "1.0.post1.post2"sv,
      "1.0dev1dev2"sv,
      "1.0.dev1.post1"sv,
      "1.0.dev1a1"sv,
      "1.0-1-1"sv,
      "1.0prev1"sv,
      "1.0alph1"sv,
      "1.0gamma1"sv,
      "1.0_"sv,
      "1.0.*"sv,
      "1.0.x"sv,
      "1.0a1.*"sv,
      "abc"sv,
      "1.0abc"sv,
      "1.0-foo"sv,
      "one"sv,
      "1,0"sv,
      "1.0;"sv,
      "-1.0"sv,
      "+1.0"sv,
      "1.0\x00"sv,
      "\x00"
      "1.0"sv,
      "1\x00.0"sv,
      "1.0\u200b"sv,
      "\u200b1.0"sv,
      "1.0\u00a0abc"sv,
      "1\u00a0.0"sv,
      "1.0.post-1-2"sv,
      "1.0-post1-1"sv,
      "1.0rc1rc1"sv,
      "1.0c.c"sv,
      "1.0--1"sv,
      "1.0__1"sv,
      "1.0.-1"sv,
      "1.0r-1x"sv,
      "1.0.dev-1-1"sv,
      "1.0\u017f"sv,
      "1.0\ufeff"sv,
      "\uff11.\uff10"sv,
  };
  for (std::string_view input : cases) {
    SCOPED_TRACE(std::string(input));
    StatusOr<Version> parsed = Version::Parse(input);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument);
    const Version v = Version::ParseLenient(input);
    EXPECT_FALSE(v.is_valid());
    EXPECT_EQ(v.original(), input);
    EXPECT_EQ(v.Canonical(), input);
    EXPECT_EQ(v.Public(), input);
    EXPECT_EQ(v.ReleaseKey(), input);
    EXPECT_FALSE(v.IsPrerelease());
    EXPECT_FALSE(v.IsPostrelease());
    EXPECT_FALSE(v.IsDevrelease());
    EXPECT_FALSE(v.HasLocal());
  }
}

TEST(VersionTest, ParseErrorNamesTheText) {
  StatusOr<Version> v = Version::Parse("1.0-foo");
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message().find("'1.0-foo'"), std::string::npos) << v.error();
}

// Deliberate difference: Python's re.IGNORECASE folds U+017F (long s), U+212A (Kelvin sign),
// U+0130 and U+0131 onto s, k and i, so packaging 23.0 accepts these (str() gives 1.0.post1,
// 1.0+k, 1.0+\u017f, 1.0previ\u0307ew1, 1.0prev\u0131ew1, and 1.0.po\u017ft1 is not even equal
// to 1.0.post1). PEP 440 is about ASCII letters; we reject them.
TEST(VersionTest, NonAsciiCaseFoldingIsRejected) {
  for (std::string_view input : {"1.0.po\u017ft1"sv, "1.0+\u212a"sv, "1.0+\u017f"sv,
                                 "1.0prev\u0130ew1"sv, "1.0prev\u0131ew1"sv}) {
    EXPECT_FALSE(V(input).is_valid()) << input;
  }
}

TEST(VersionTest, SpecOrderingList) {
  // STANDARDS.md VER-02, strictly increasing.
  const std::vector<std::string_view> ordered = {
      "1.dev0",
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0rc1.dev456",
      "1.0rc1",
      "1.0",
      "1.0+abc.5",
      "1.0+abc.7",
      "1.0+5",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.0.15",
      "1.1.dev1",
  };
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      EXPECT_EQ(V(ordered[i]) <=> V(ordered[j]), i <=> j) << ordered[i] << " vs " << ordered[j];
    }
  }
  std::vector<Version> shuffled;
  shuffled.reserve(ordered.size());
  for (std::string_view s : ordered) {
    shuffled.push_back(V(s));
  }
  std::mt19937 rng(440);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(shuffled.begin(), shuffled.end());
  for (size_t i = 0; i < ordered.size(); ++i) {
    EXPECT_EQ(shuffled[i].original(), ordered[i]);
  }
}

TEST(VersionTest, OrderingMatchesPackaging) {
  // sorted(..., key=Version) with equal versions grouped, from packaging 23.0.
  const std::vector<std::vector<std::string_view>> groups = {
      {"0.dev0"},
      {"0a0"},
      {"0", "0.0"},
      {"0.post0"},
      {"0.0.0.1"},
      {"1.0.dev0", "1.dev0"},
      {"1.0.dev1"},
      {"1.0.dev2"},
      {"1.0.dev10"},
      {"1.0.dev456"},
      {"1.0a", "1.0a0"},
      {"1.0a1.dev1"},
      {"1.0a1"},
      {"1.0a1+x"},
      {"1.0a1.post1.dev1"},
      {"1.0a1.post1"},
      {"1.0a1.post2"},
      {"1.0a2.dev456"},
      {"1.0a12.dev456"},
      {"1.0a12"},
      {"1.0b0"},
      {"1.0b1.dev456"},
      {"1.0b2"},
      {"1.0b2.post345.dev456"},
      {"1.0b2.post345"},
      {"1.0rc1.dev456"},
      {"1.0c1", "1.0pre1", "1.0rc1"},
      {"1.0rc1+x"},
      {"1", "1.0", "1.0.0", "1.0.0.0"},
      {"1.0+1a"},
      {"1.0+a"},
      {"1.0+a1"},
      {"1.0+abc"},
      {"1.0+abc.z"},
      {"1.0+ABC.5", "1.0+abc.05", "1.0+abc.5"},
      {"1.0+abc.5.0"},
      {"1.0+abc.7"},
      {"1.0+b"},
      {"1.0+0"},
      {"1.0+5"},
      {"1.0+5.abc"},
      {"1.0+6"},
      {"1.0+10"},
      {"1.0.post0.dev0"},
      {"1.0.post0"},
      {"1.0.post1.dev0+x"},
      {"1.0-1"},
      {"1.0.post1+x"},
      {"1.0.post456.dev34"},
      {"1.0.post456"},
      {"1.0.1.dev0"},
      {"1.0.1a1"},
      {"1.0.1"},
      {"1.0.15"},
      {"1.1.dev1"},
      {"1.1"},
      {"1.09", "1.9"},
      {"1.10"},
      {"0!2.0", "2"},
      {"9"},
      {"10"},
      {"18446744073709551615"},
      {"18446744073709551616"},
      {"99999999999999999999"},
      {"100000000000000000000"},
      {"1!0.dev0"},
      {"1!0"},
      {"1!1.0"},
      {"2!0.1"},
      {"10!0"},
  };
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    for (size_t gj = 0; gj < groups.size(); ++gj) {
      for (std::string_view a : groups[gi]) {
        for (std::string_view b : groups[gj]) {
          const Version va = V(a);
          const Version vb = V(b);
          ASSERT_TRUE(va.is_valid() && vb.is_valid()) << a << " " << b;
          EXPECT_EQ(va <=> vb, gi <=> gj) << a << " vs " << b;
          EXPECT_EQ(va == vb, gi == gj) << a << " vs " << b;
        }
      }
    }
  }
}

TEST(VersionTest, TrailingZerosAreEqualButKeptInCanonical) {
  EXPECT_EQ(V("1.0"), V("1.0.0"));
  EXPECT_EQ(V("1"), V("1.0.0.0.0"));
  EXPECT_EQ(V("1.0a1"), V("1.0.0a1"));
  EXPECT_EQ(V("1!2.0.post1"), V("1!2.post1"));
  EXPECT_NE(V("1.0.1"), V("1.0"));
  EXPECT_EQ(V("1.0.0").Canonical(), "1.0.0");
  EXPECT_EQ(V("1.0.0").ReleaseKey(), "1");
}

TEST(VersionTest, LocalOrdering) {
  // Numeric pieces beat alphanumeric ones, numbers compare as integers, and a shorter local
  // sorts first when it is a prefix of the longer one.
  EXPECT_LT(V("1.0"), V("1.0+0"));
  EXPECT_LT(V("1.0+abc"), V("1.0+0"));
  EXPECT_LT(V("1.0+zzz"), V("1.0+1"));
  EXPECT_LT(V("1.0+2"), V("1.0+10"));
  EXPECT_EQ(V("1.0+010"), V("1.0+10"));
  EXPECT_LT(V("1.0+1a"), V("1.0+a"));  // both alphanumeric: compared as text
  EXPECT_LT(V("1.0+abc"), V("1.0+abc.0"));
  EXPECT_LT(V("1.0+abc.z"), V("1.0+abc.1"));
  EXPECT_EQ(V("1.0+ABC-1"), V("1.0+abc_1"));
  EXPECT_LT(V("1.0+99999999999999999999999"), V("1.0+100000000000000000000000"));
  // A local never lifts a version past the next public one.
  EXPECT_LT(V("1.0+zzz.999"), V("1.0.post0.dev0"));
  EXPECT_LT(V("1.0rc1+999"), V("1.0"));
}

TEST(VersionTest, InvalidVersionsSortFirstByText) {
  EXPECT_LT(V("zzz"), V("0.dev0"));
  EXPECT_LT(V("not a version"), V("0"));
  EXPECT_LT(V(""), V("a"));
  EXPECT_LT(V("a"), V("b"));
  EXPECT_LT(V("1.0-foo"), V("1.0-goo"));
  EXPECT_EQ(V("foo"), V("foo"));
  EXPECT_NE(V("foo"), V("FOO"));
  EXPECT_EQ(V("foo") <=> V("foo"), std::strong_ordering::equal);
  EXPECT_EQ(Version(), V(""));
  EXPECT_LT(Version(), V("0"));
  EXPECT_FALSE(Version().is_valid());
  EXPECT_EQ(Version().Canonical(), "");

  std::vector<Version> versions = {V("2.0"), V("junk"), V("1.0"), V("1.0-foo"), V("0.1")};
  std::sort(versions.begin(), versions.end());
  std::vector<std::string> order;
  order.reserve(versions.size());
  for (const Version& v : versions) {
    order.push_back(v.original());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1.0-foo", "junk", "0.1", "1.0", "2.0"}));
}

TEST(VersionTest, HugeNumbersCompareExactly) {
  EXPECT_LT(V("18446744073709551615"), V("18446744073709551616"));
  EXPECT_LT(V("9"), V("10"));
  EXPECT_LT(V("99999999999999999999"), V("100000000000000000000"));
  EXPECT_EQ(V("000000000000000000000000000000001"), V("1"));
  EXPECT_EQ(V("1.0a0000000000000000000000000000000000000007").Canonical(), "1.0a7");
  EXPECT_LT(V("1.0.post18446744073709551616"), V("1.0.post18446744073709551617"));
  EXPECT_LT(V("18446744073709551616!0"), V("18446744073709551617!0"));
  EXPECT_GT(V("18446744073709551616!0"), V("99999999999999999999.0"));

  // CPython refuses int() of more than 4300 digits (ValueError, not InvalidVersion), so
  // packaging cannot answer here; we keep the digits and compare them exactly.
  const std::string big(5000, '7');
  const Version huge = V(big + ".0");
  ASSERT_TRUE(huge.is_valid());
  EXPECT_EQ(huge.Canonical(), big + ".0");
  EXPECT_EQ(huge.ReleaseKey(), big);
  EXPECT_LT(V(big), V("1" + std::string(5000, '0')));
  EXPECT_GT(V(big), V(std::string(4999, '9')));
  EXPECT_EQ(V(std::string(3000, '0') + "5"), V("5"));
}

TEST(VersionTest, Components) {
  const Version v = V("01!2.0B3-Post4_DEV5+Ab.01");
  ASSERT_TRUE(v.is_valid());
  EXPECT_EQ(v.epoch(), "1");
  EXPECT_EQ(v.release(), (std::vector<std::string>{"2", "0"}));
  ASSERT_TRUE(v.pre().has_value());
  EXPECT_EQ(v.pre()->first, Version::PreKind::kBeta);
  EXPECT_EQ(v.pre()->second, "3");
  EXPECT_EQ(v.post(), "4");
  EXPECT_EQ(v.dev(), "5");
  EXPECT_EQ(v.local(), (std::vector<std::string>{"ab", "1"}));
  EXPECT_EQ(v.Canonical(), "1!2.0b3.post4.dev5+ab.1");
  EXPECT_EQ(v.Public(), "1!2.0b3.post4.dev5");
  EXPECT_EQ(v.ReleaseKey(), "1!2b3.post4.dev5+ab.1");

  const Version plain = V("2.0.0");
  EXPECT_EQ(plain.epoch(), "0");
  EXPECT_EQ(plain.release(), (std::vector<std::string>{"2", "0", "0"}));
  EXPECT_FALSE(plain.pre().has_value());
  EXPECT_FALSE(plain.post().has_value());
  EXPECT_FALSE(plain.dev().has_value());
  EXPECT_TRUE(plain.local().empty());

  EXPECT_EQ(V("1.0a1").pre()->first, Version::PreKind::kAlpha);
  EXPECT_EQ(V("1.0c").pre()->first, Version::PreKind::kRc);
  EXPECT_EQ(V("1.0c").pre()->second, "0");
  EXPECT_EQ(V("1.0preview3").pre()->first, Version::PreKind::kRc);
}

TEST(VersionTest, PrereleasePostDevFlags) {
  // STANDARDS.md VER-04: a, b, rc and dev make a pre-release; post does not.
  struct Case {
    std::string_view input;
    bool pre, post, dev, local;
  };
  for (const Case& c : std::vector<Case>{
           {"1.0a1", true, false, false, false},
           {"1.0.dev1", true, false, true, false},
           {"1.0.post1", false, true, false, false},
           {"1.0", false, false, false, false},
           {"1.0rc1.post1", true, true, false, false},
           {"1.0.post1.dev1", true, true, true, false},
           {"1!2.0b3.post4.dev5+ab.1", true, true, true, true},
           {"1.0+abc", false, false, false, true},
           {"1.0c1", true, false, false, false},
       }) {
    const Version v = V(c.input);
    EXPECT_EQ(v.IsPrerelease(), c.pre) << c.input;
    EXPECT_EQ(v.IsPostrelease(), c.post) << c.input;
    EXPECT_EQ(v.IsDevrelease(), c.dev) << c.input;
    EXPECT_EQ(v.HasLocal(), c.local) << c.input;
  }
}

TEST(VersionTest, ReleaseKeyIdentifiesTheRelease) {
  // STANDARDS.md VER-03: foo-1.0.tar.gz and foo-1.0.0-py3-none-any.whl are one release.
  EXPECT_EQ(V("1.0").ReleaseKey(), V("1.0.0").ReleaseKey());
  EXPECT_EQ(V("1.4.0.0.0").ReleaseKey(), "1.4");
  EXPECT_EQ(V("0").ReleaseKey(), "0");
  EXPECT_EQ(V("0.0.0").ReleaseKey(), "0");
  EXPECT_EQ(V("1.0.10").ReleaseKey(), "1.0.10");
  EXPECT_EQ(V("1.0.0rc1").ReleaseKey(), "1rc1");
  EXPECT_NE(V("1.0").ReleaseKey(), V("1.0.post0").ReleaseKey());
  EXPECT_NE(V("1.0").ReleaseKey(), V("1.0+local").ReleaseKey());
  EXPECT_EQ(V("not-a-version").ReleaseKey(), "not-a-version");
}

TEST(VersionTest, EveryByteIsSafe) {
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    for (const std::string& text : {byte, "1.0" + byte, byte + "1.0", "1.0" + byte + "1",
                                    "1.0+" + byte, "1.0a" + byte, "1" + byte + "0"}) {
      const Version v = V(text);
      // Only the bytes the grammar names can make a valid version.
      if (v.is_valid()) {
        EXPECT_EQ(V(v.Canonical()), v) << text;
      }
      EXPECT_EQ(v <=> v, std::strong_ordering::equal);
    }
  }
  EXPECT_TRUE(V("1.0\t"sv).is_valid());
  EXPECT_FALSE(V("1.0\0"sv).is_valid());
  EXPECT_FALSE(V("\0"sv).is_valid());
  EXPECT_EQ(V("1\0"sv).original(), "1\0"sv);
  EXPECT_LT(V("1\0"sv), V("1\0a"sv));
}

// Random strings over the grammar's own tokens (so that many are valid) plus a few stray bytes.
// Checks the invariants that do not need an oracle.
TEST(VersionTest, RandomInputsKeepInvariants) {
  const std::vector<std::string_view> tokens = {
      "1",       "0",    "12",   "007",    ".",      "-",    "_",     "!",       "+",
      "v",       "V",    "a",    "b",      "c",      "rc",   "alpha", "beta",    "pre",
      "preview", "post", "rev",  "r",      "dev",    "DEV",  "abc",   "Z",       " ",
      "\t",      "*",    "\0"sv, "\u00a0", "\u2000", "\xff", "\xc2",  "\xe2\x80"};
  std::mt19937 rng(20240440);
  std::vector<Version> seen;
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 9);
    for (int j = 0; j < n; ++j) {
      text += tokens[rng() % tokens.size()];
    }
    const Version v = V(text);
    EXPECT_EQ(v.original(), text);
    if (v.is_valid()) {
      ++valid;
      const Version canonical = V(v.Canonical());
      ASSERT_TRUE(canonical.is_valid()) << text;
      EXPECT_EQ(canonical.Canonical(), v.Canonical()) << text;
      EXPECT_EQ(canonical, v) << text;
      EXPECT_TRUE(V(v.ReleaseKey()).is_valid()) << text;
      EXPECT_EQ(V(v.ReleaseKey()), v) << text;  // only trailing zeros were removed
    } else {
      EXPECT_EQ(v.Canonical(), text);
    }
    if (seen.size() < 300) {
      seen.push_back(v);
    }
  }
  EXPECT_GT(valid, 500);
  // A strict weak order (in fact total): antisymmetric and transitive on a sample.
  for (const Version& a : seen) {
    for (const Version& b : seen) {
      EXPECT_EQ(a<b, b> a) << a.original() << " vs " << b.original();
      EXPECT_EQ(a == b, b == a) << a.original() << " vs " << b.original();
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST(VersionTest, LongInputsParseInLinearTime) {
  const size_t n = 1 << 17;
  std::string many_components = "1";
  while (many_components.size() < n) {
    many_components += ".0";
  }
  std::string long_local = "1.0+a";
  while (long_local.size() < n) {
    long_local += ".b";
  }
  const auto start = std::chrono::steady_clock::now();
  const Version many = V(many_components);
  EXPECT_TRUE(many.is_valid());
  EXPECT_EQ(many, V("1"));
  EXPECT_EQ(many.ReleaseKey(), "1");
  EXPECT_EQ(many.Canonical().size(), many_components.size());
  EXPECT_TRUE(V(long_local).is_valid());
  EXPECT_EQ(V(long_local).Canonical(), long_local);
  EXPECT_TRUE(V(std::string(n, '9')).is_valid());
  EXPECT_TRUE(V(std::string(n, ' ') + "1.0" + std::string(n, ' ')).is_valid());
  EXPECT_TRUE(V("1.0a" + std::string(n, '0') + "1").is_valid());
  EXPECT_FALSE(V("1.0" + std::string(n, '-')).is_valid());
  EXPECT_FALSE(V(many_components + "x").is_valid());
  EXPECT_FALSE(V(std::string(n, '1') + "!").is_valid());
  EXPECT_FALSE(V(std::string(n, 'v')).is_valid());
  // Generous: a quadratic parser needs minutes on these 128 KiB inputs; this one takes about a
  // second with sanitizers on a busy machine.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace pydepot::model
