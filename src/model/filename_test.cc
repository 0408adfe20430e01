#include "model/filename.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// STANDARDS.md FN-W01.
TEST(WheelFilenameTest, StandardsTable) {
  auto plain = ParseWheelFilename("foo-1.0-py3-none-any.whl");
  ASSERT_TRUE(plain.has_value()) << plain.error();
  EXPECT_EQ(plain->kind, DistKind::kWheel);
  EXPECT_EQ(plain->name_part, "foo");
  EXPECT_EQ(plain->project, "foo");
  EXPECT_EQ(plain->version_part, "1.0");
  EXPECT_EQ(plain->version.Canonical(), "1.0");
  EXPECT_EQ(plain->extension, ".whl");
  EXPECT_FALSE(plain->build.has_value());
  EXPECT_THAT(plain->python_tags, ElementsAre("py3"));
  EXPECT_THAT(plain->abi_tags, ElementsAre("none"));
  EXPECT_THAT(plain->platform_tags, ElementsAre("any"));

  auto build = ParseWheelFilename("foo-1.0-1-py3-none-any.whl");
  ASSERT_TRUE(build.has_value()) << build.error();
  EXPECT_EQ(build->build, (BuildTag{"1", ""}));

  EXPECT_FALSE(ParseWheelFilename("foo-1.0-x1-py3-none-any.whl").has_value());
  EXPECT_FALSE(ParseWheelFilename("foo-1.0-py3-none.whl").has_value());

  auto multi =
      ParseWheelFilename("foo_bar-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
  ASSERT_TRUE(multi.has_value()) << multi.error();
  EXPECT_EQ(multi->project, "foo-bar");
  EXPECT_THAT(multi->platform_tags, ElementsAre("manylinux_2_17_x86_64", "manylinux2014_x86_64"));
}

// STANDARDS.md FN-W02.
TEST(WheelFilenameTest, NamePart) {
  auto dotted = ParseWheelFilename("Foo.Bar-1.0-py3-none-any.whl");
  ASSERT_TRUE(dotted.has_value()) << dotted.error();
  EXPECT_EQ(dotted->name_part, "Foo.Bar");
  EXPECT_EQ(dotted->project, "foo-bar");
  for (const char* bad : {"foo__bar-1.0-py3-none-any.whl", "-1.0-py3-none-any.whl",
                          "f\xc3\xb6o-1.0-py3-none-any.whl", "foo+bar-1.0-py3-none-any.whl",
                          "foo bar-1.0-py3-none-any.whl", "foo\n-1.0-py3-none-any.whl"}) {
    auto result = ParseWheelFilename(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_THAT(result.error().message(), HasSubstr("project name")) << bad;
  }
  // packaging accepts these odd but ASCII names; so do we.
  EXPECT_TRUE(ParseWheelFilename("_foo_-1.0-py3-none-any.whl").has_value());
  EXPECT_TRUE(ParseWheelFilename("a..b-1.0-py3-none-any.whl").has_value());
}

TEST(WheelFilenameTest, VersionMustBePep440) {
  auto result = ParseWheelFilename("foo-1.0beta-py3-none-any.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version.Canonical(), "1.0b0");
  auto bad = ParseWheelFilename("foo-latest-py3-none-any.whl");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(),
            "invalid wheel filename 'foo-latest-py3-none-any.whl': 'latest' is not a valid PEP "
            "440 version");
}

TEST(WheelFilenameTest, BuildTags) {
  auto result = ParseWheelFilename("foo-1.0-0042abc-py3-none-any.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->build, (BuildTag{"42", "abc"}));
  result = ParseWheelFilename("foo-1.0-000-py3-none-any.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->build, (BuildTag{"0", ""}));
  // Larger than any integer type: kept as digits.
  result = ParseWheelFilename("foo-1.0-123456789012345678901234567890_x-py3-none-any.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->build, (BuildTag{"123456789012345678901234567890", "_x"}));

  auto bad = ParseWheelFilename("foo-1.0--py3-none-any.whl");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("build tag '' must start with a digit"));
}

TEST(WheelFilenameTest, CompressedTagSets) {
  auto result = ParseWheelFilename("six-1.16.0-py2.py3-none-any.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_THAT(result->python_tags, ElementsAre("py2", "py3"));
  result = ParseWheelFilename("x-1-CP39.cp310-ABI3-Linux_X86_64.whl");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_THAT(result->python_tags, ElementsAre("CP39", "cp310"));  // as written
  EXPECT_THAT(result->abi_tags, ElementsAre("ABI3"));

  for (const char* bad : {"foo-1.0-py3.-none-any.whl", "foo-1.0-py3--any.whl",
                          "foo-1.0-py3-none-.whl", "foo-1.0-.py3-none-any.whl"}) {
    auto r = ParseWheelFilename(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_THAT(r.error().message(), HasSubstr("empty")) << bad;
  }
}

TEST(WheelFilenameTest, ErrorMessagesSayWhatIsExpected) {
  auto result = ParseWheelFilename("foo-1.0.whl");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message(),
            "invalid wheel filename 'foo-1.0.whl': expected {name}-{version}(-{build tag})?-"
            "{python tag}-{abi tag}-{platform tag}.whl (4 or 5 '-', found 1)");
  result = ParseWheelFilename("foo-1.0-py3-none-any.WHL");
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message(), HasSubstr("must end in '.whl'"));
  result = ParseWheelFilename("a-b-c-d-e-f-g.whl");
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message(), HasSubstr("found 6"));
}

TEST(WheelFilenameTest, MessagesEscapeControlBytesAndAreBounded) {
  auto result = ParseWheelFilename(std::string("a\n\x01'\\\xff.whl"));
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message(), HasSubstr("'a\\n\\x01\\'\\\\\\xff.whl'"));
  auto long_result = ParseWheelFilename(std::string(100000, 'x') + ".whl");
  ASSERT_FALSE(long_result.has_value());
  EXPECT_LT(long_result.error().message().size(), 400u);
}

// STANDARDS.md FN-S01.
TEST(SdistFilenameTest, Pep625) {
  auto result = ParseSdistFilename("foo_bar-1.0.tar.gz");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->kind, DistKind::kSdist);
  EXPECT_EQ(result->project, "foo-bar");
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->extension, ".tar.gz");
  EXPECT_TRUE(result->version.is_valid());
  EXPECT_TRUE(IsPep625SdistFilename("foo_bar-1.0.tar.gz"));
}

// STANDARDS.md FN-S03.
TEST(SdistFilenameTest, LegacyNamesWithProject) {
  auto result = ParseSdistFilename("foo-bar-1.0-1.tar.gz", "foo-bar");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->name_part, "foo-bar");
  EXPECT_EQ(result->project, "foo-bar");
  EXPECT_EQ(result->version_part, "1.0-1");
  EXPECT_EQ(result->version.Canonical(), "1.0.post1");

  result = ParseSdistFilename("Django-1.0.tar.gz", "django");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->name_part, "Django");
  EXPECT_EQ(result->version_part, "1.0");

  result = ParseSdistFilename("zope.interface-4.0.zip", "Zope_Interface");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->project, "zope-interface");
  EXPECT_EQ(result->extension, ".zip");

  // pip's docstring example: the name part is longer than the canonical name.
  result = ParseSdistFilename("foo__bar-1.0.tar.gz", "foo-bar");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->name_part, "foo__bar");

  auto other = ParseSdistFilename("foobar-1.0.tar.gz", "foo-bar");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().message(),
            "sdist filename 'foobar-1.0.tar.gz' does not start with a name of project "
            "'foo-bar' followed by '-'");
}

TEST(SdistFilenameTest, WithoutProjectSplitsOnLastDash) {
  auto result = ParseSdistFilename("foo-bar-1.0-1.tar.gz");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->project, "foo-bar-1-0");
  EXPECT_EQ(result->version_part, "1");

  result = ParseSdistFilename("Django-1.0.tar.gz");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->project, "django");
}

TEST(SdistFilenameTest, InvalidVersionIsKeptAsText) {
  auto result = ParseSdistFilename("foo-2.0-SNAPSHOT.tar.gz", "foo");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "2.0-SNAPSHOT");
  EXPECT_FALSE(result->version.is_valid());
  EXPECT_EQ(result->version.Canonical(), "2.0-SNAPSHOT");
}

TEST(SdistFilenameTest, EveryLegacyExtension) {
  for (const char* ext : {".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz",
                          ".tar.lz", ".tar.lzma", ".tar", ".tar.Z"}) {
    std::string filename = std::string("foo-1.0") + ext;
    auto result = ParseSdistFilename(filename);
    ASSERT_TRUE(result.has_value()) << result.error();
    EXPECT_EQ(result->extension, ext);
    EXPECT_EQ(result->version_part, "1.0") << filename;
    auto any = ParseDistFilename(filename, "foo");
    ASSERT_TRUE(any.has_value()) << any.error();
    EXPECT_EQ(any->kind, DistKind::kSdist);
  }
  // Case-sensitive, as pip and packaging.
  for (const char* bad :
       {"foo-1.0.TAR.GZ", "foo-1.0.Zip", "foo-1.0.tar.z", "foo-1.0.tar.bz", "foo-1.0", ".tar.gz"}) {
    auto result = ParseSdistFilename(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_THAT(result.error().message(), HasSubstr("expected {name}-{version}.tar.gz")) << bad;
  }
}

TEST(SdistFilenameTest, EmptyPartsAreRejected) {
  EXPECT_FALSE(ParseSdistFilename("-1.0.tar.gz").has_value());
  EXPECT_FALSE(ParseSdistFilename("foo-.tar.gz").has_value());
  EXPECT_FALSE(ParseSdistFilename("foo-.tar.gz", "foo").has_value());
  EXPECT_FALSE(ParseSdistFilename("foo.tar.gz").has_value());
  EXPECT_FALSE(ParseSdistFilename("-1.0.tar.gz", "-").has_value());
}

TEST(SdistFilenameTest, PythonSuffixAsPip) {
  auto result = ParseSdistFilename("foo-1.0-py2.7.tar.gz", "foo");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->legacy_python, "2.7");
  result = ParseSdistFilename("foo-1.0-py27.zip");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->legacy_python, "27");
  // Not pip's pattern: kept in the version.
  result = ParseSdistFilename("foo-1.0-py3.10.tar.gz", "foo");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "1.0-py3.10");
  EXPECT_EQ(result->legacy_python, "");
}

TEST(SdistFilenameTest, Pep625Check) {
  EXPECT_TRUE(IsPep625SdistFilename("foo-1.0.tar.gz"));
  EXPECT_TRUE(IsPep625SdistFilename("foo_bar-1.0.post1+local.1.tar.gz"));
  EXPECT_TRUE(IsPep625SdistFilename("foo-1!2.0rc1.tar.gz"));
  for (const char* bad :
       {"Foo-1.0.tar.gz", "foo.bar-1.0.tar.gz", "foo-bar-1.0.tar.gz", "foo__bar-1.0.tar.gz",
        "_foo-1.0.tar.gz", "foo-1.0.0-1.tar.gz", "foo-1.0-1.tar.gz", "foo-1.0a.tar.gz",
        "foo-1.0.zip", "foo-v1.0.tar.gz", "foo-1.0.tgz", "-1.0.tar.gz", "foo-.tar.gz"}) {
    EXPECT_FALSE(IsPep625SdistFilename(bad)) << bad;
  }
}

TEST(EggFilenameTest, Forms) {
  auto result = ParseDistFilename("foo_bar-1.0-py2.7.egg");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->kind, DistKind::kEgg);
  EXPECT_EQ(result->project, "foo-bar");
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->legacy_python, "2.7");
  EXPECT_EQ(result->legacy_platform, "");

  result = ParseDistFilename("lxml-2.3-py2.6-linux-x86_64.egg", "LXML");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->legacy_python, "2.6");
  EXPECT_EQ(result->legacy_platform, "linux-x86_64");

  result = ParseDistFilename("foo-1.0.egg");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "1.0");

  // An unescaped hyphenated name, split with the project.
  result = ParseDistFilename("foo-bar-1.0-py3.4-macosx-10.9-x86_64.egg", "foo.bar");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->name_part, "foo-bar");
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->legacy_platform, "macosx-10.9-x86_64");

  for (const char* bad : {"foo.egg", "foo-.egg", "-1.0.egg", "foo-1.0-x2.7.egg",
                          "foo-1.0-py2.7-.egg", "foo-1.0-py.egg"}) {
    EXPECT_FALSE(ParseDistFilename(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseDistFilename("foo-1.0.egg", "bar").has_value());
}

TEST(LegacyBinaryTest, Wininst) {
  auto result = ParseDistFilename("foo-1.0.win32-py2.7.exe");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->kind, DistKind::kWininst);
  EXPECT_EQ(DistKindFiletype(result->kind), "bdist_wininst");
  EXPECT_EQ(result->project, "foo");
  EXPECT_EQ(result->version_part, "1.0");
  EXPECT_EQ(result->legacy_platform, "win32");
  EXPECT_EQ(result->legacy_python, "2.7");

  result = ParseDistFilename("Foo-Bar-1.0.post1.win-amd64-py3.4.exe");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->project, "foo-bar");
  EXPECT_EQ(result->version_part, "1.0.post1");
  EXPECT_EQ(result->legacy_platform, "win-amd64");
  EXPECT_EQ(result->legacy_python, "3.4");

  result = ParseDistFilename("foo-1.0.dev1.exe", "foo");
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->version_part, "1.0.dev1");
  EXPECT_EQ(result->legacy_platform, "");
}

TEST(LegacyBinaryTest, MsiDmgRpm) {
  auto msi = ParseDistFilename("foo-1.0.win32.msi");
  ASSERT_TRUE(msi.has_value()) << msi.error();
  EXPECT_EQ(msi->kind, DistKind::kMsi);
  EXPECT_EQ(msi->version_part, "1.0");
  EXPECT_EQ(msi->legacy_platform, "win32");

  auto dmg = ParseDistFilename("foo-1.0.macosx-10.6.dmg");
  ASSERT_TRUE(dmg.has_value()) << dmg.error();
  EXPECT_EQ(dmg->kind, DistKind::kDmg);
  EXPECT_EQ(dmg->version_part, "1.0");
  EXPECT_EQ(dmg->legacy_platform, "macosx-10.6");

  auto mpkg = ParseDistFilename("foo-1.0-py2.7-macosx10.6.dmg");
  ASSERT_TRUE(mpkg.has_value()) << mpkg.error();
  EXPECT_EQ(mpkg->version_part, "1.0");
  EXPECT_EQ(mpkg->legacy_python, "2.7");
  EXPECT_EQ(mpkg->legacy_platform, "macosx10.6");

  auto rpm = ParseDistFilename("foo-1.0-1.noarch.rpm");
  ASSERT_TRUE(rpm.has_value()) << rpm.error();
  EXPECT_EQ(rpm->kind, DistKind::kRpm);
  EXPECT_EQ(rpm->version_part, "1.0");
  EXPECT_EQ(rpm->legacy_release, "1");
  EXPECT_EQ(rpm->legacy_platform, "noarch");

  rpm = ParseDistFilename("python-foo-2.0-3.el7.src.rpm", "python-foo");
  ASSERT_TRUE(rpm.has_value()) << rpm.error();
  EXPECT_EQ(rpm->version_part, "2.0");
  EXPECT_EQ(rpm->legacy_release, "3.el7");
  EXPECT_EQ(rpm->legacy_platform, "src");
}

TEST(DistFilenameTest, ChoosesByExtensionAndChecksProject) {
  auto wheel = ParseDistFilename("Foo_Bar-1.0-py3-none-any.whl", "foo-bar");
  ASSERT_TRUE(wheel.has_value()) << wheel.error();
  EXPECT_EQ(wheel->kind, DistKind::kWheel);
  auto other = ParseDistFilename("foo-1.0-py3-none-any.whl", "bar");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().message(),
            "wheel filename 'foo-1.0-py3-none-any.whl' is for project 'foo', not 'bar'");
  auto unknown = ParseDistFilename("foo-1.0.rar");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_THAT(unknown.error().message(), HasSubstr("unknown distribution filename 'foo-1.0.rar'"));
  EXPECT_EQ(DistKindFiletype(DistKind::kSdist), "sdist");
  EXPECT_EQ(DistKindFiletype(DistKind::kWheel), "bdist_wheel");
  EXPECT_EQ(DistKindFiletype(DistKind::kEgg), "bdist_egg");
}

TEST(DistFilenameTest, NeverCrashesOnOddInput) {
  std::vector<std::string> inputs = {
      "",          "-",       ".whl",       "-.whl",        "----.whl",
      "-----.whl", ".egg",    ".exe",       ".rpm",         "-.rpm",
      "a-.rpm",    "a-b.rpm", "a-1-.rpm",   ".tar.gz",      "-.tar.gz",
      "a-b.exe",   "a-.exe",  "a-1-py.exe", "a-1-py2-.dmg", std::string("\0-1.0.tar.gz", 12)};
  for (const std::string& input : inputs) {
    for (const char* project : {"", "a", "-"}) {
      auto result = ParseDistFilename(input, project);
      if (!result.has_value()) {
        EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument) << input;
      }
    }
  }
}

TEST(PyVersionFieldTest, AsPyPiListsFiles) {
  EXPECT_EQ(PyVersionField(*ParseDistFilename("foo-1.0-py2.py3-none-any.whl")), "py2.py3");
  EXPECT_EQ(PyVersionField(*ParseDistFilename("foo-1.0.tar.gz")), "source");
  EXPECT_EQ(PyVersionField(*ParseDistFilename("foo-1.0-py2.7.egg")), "2.7");
  EXPECT_EQ(PyVersionField(*ParseDistFilename("foo-1.0.win32.exe", "foo")), "any");
}

}  // namespace
}  // namespace pydepot::model
