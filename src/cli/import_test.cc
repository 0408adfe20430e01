#include "cli/import.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pydepot::cli {
namespace {

using Action = PlannedFile::Action;

const PlannedFile& Find(const std::vector<PlannedFile>& plan, const std::string& path) {
  for (const PlannedFile& file : plan) {
    if (file.path == path) {
      return file;
    }
  }
  ADD_FAILURE() << path << " not planned";
  static const PlannedFile kNone;
  return kNone;
}

TEST(DetectLayoutTest, PackagesDirectoryMeansGaepypi) {
  EXPECT_EQ(DetectLayout({"packages/foo/1.0/foo-1.0.tar.gz"}, ImportLayout::kAuto),
            ImportLayout::kGaepypi);
  EXPECT_EQ(DetectLayout({"foo-1.0.tar.gz", "foo/foo-1.1.tar.gz"}, ImportLayout::kAuto),
            ImportLayout::kFlat);
  EXPECT_EQ(DetectLayout({"packagesx/foo-1.0.tar.gz"}, ImportLayout::kAuto), ImportLayout::kFlat);
  EXPECT_EQ(DetectLayout({"packages/foo/1.0/foo-1.0.tar.gz"}, ImportLayout::kFlat),
            ImportLayout::kFlat);
  EXPECT_EQ(DetectLayout({}, ImportLayout::kAuto), ImportLayout::kFlat);
}

TEST(PlanImportTest, FlatSkipsWhatIsNotADistribution) {
  const std::vector<PlannedFile> plan = PlanImport(
      {"README.txt", "foo-1.0.tar.gz.asc", "foo-1.0.tar.gz.md5", "index.html", "foo-1.0.tar.gz",
       "foo-1.0-py3-none-any.whl", "foo-1.0-py2.7.egg", "foo-1.0.win32.exe", "foo-1.0.zip"},
      ImportLayout::kAuto);
  ASSERT_EQ(plan.size(), 9U);
  for (const char* skipped :
       {"README.txt", "foo-1.0.tar.gz.asc", "foo-1.0.tar.gz.md5", "index.html"}) {
    EXPECT_EQ(Find(plan, skipped).action, Action::kSkip) << skipped;
  }
  for (const char* imported : {"foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl", "foo-1.0-py2.7.egg",
                               "foo-1.0.win32.exe", "foo-1.0.zip"}) {
    EXPECT_EQ(Find(plan, imported).action, Action::kImport) << imported;
    EXPECT_EQ(Find(plan, imported).project_hint, "") << imported;
  }
}

TEST(PlanImportTest, FlatTakesTheHintFromAMatchingDirectory) {
  const std::vector<PlannedFile> plan =
      PlanImport({"Foo.Bar/Foo.Bar-1.0-1.tar.gz", "2019/Foo.Bar-1.0-2.tar.gz",
                  "a/b/foo-bar/Foo.Bar-1.0-3.tar.gz", "foo/foo-1.0-py3-none-any.whl"},
                 ImportLayout::kFlat);
  EXPECT_EQ(Find(plan, "Foo.Bar/Foo.Bar-1.0-1.tar.gz").project_hint, "Foo.Bar");
  EXPECT_EQ(Find(plan, "Foo.Bar/Foo.Bar-1.0-1.tar.gz").filename, "Foo.Bar-1.0-1.tar.gz");
  EXPECT_EQ(Find(plan, "2019/Foo.Bar-1.0-2.tar.gz").project_hint, "");
  EXPECT_EQ(Find(plan, "a/b/foo-bar/Foo.Bar-1.0-3.tar.gz").project_hint, "foo-bar");
  EXPECT_EQ(Find(plan, "foo/foo-1.0-py3-none-any.whl").project_hint, "foo");
}

TEST(PlanImportTest, GaepypiChecksNameAndVersionDirectories) {
  const std::vector<PlannedFile> plan = PlanImport(
      {
          "packages/foo.bar/1.0-1/Foo.Bar-1.0-1.tar.gz",  // legacy name, hint from directory
          "packages/foo/1.0.0/foo-1.0-py3-none-any.whl",  // 1.0.0 == 1.0
          "packages/foo/2.0/foo-1.0.tar.gz",              // wrong version directory
          "packages/bar/1.0/foo-1.0.tar.gz",              // wrong name directory
          "packages/foo/foo-1.0.tar.gz",                  // no version directory
          "packages/foo/1.0/extra/foo-1.0.tar.gz",        // too deep
          "packages/foo/1.0/index.html",                  // not a distribution
          "other/foo-1.0.tar.gz",                         // outside packages/
          "packages/foo/2004d/foo-2004d.tar.gz",          // a legacy version, as text
      },
      ImportLayout::kAuto);
  const PlannedFile& legacy = Find(plan, "packages/foo.bar/1.0-1/Foo.Bar-1.0-1.tar.gz");
  EXPECT_EQ(legacy.action, Action::kImport);
  EXPECT_EQ(legacy.project_hint, "foo.bar");
  EXPECT_EQ(Find(plan, "packages/foo/1.0.0/foo-1.0-py3-none-any.whl").action, Action::kImport);
  EXPECT_EQ(Find(plan, "packages/foo/2004d/foo-2004d.tar.gz").action, Action::kImport);
  for (const char* failed :
       {"packages/foo/2.0/foo-1.0.tar.gz", "packages/bar/1.0/foo-1.0.tar.gz",
        "packages/foo/foo-1.0.tar.gz", "packages/foo/1.0/extra/foo-1.0.tar.gz"}) {
    EXPECT_EQ(Find(plan, failed).action, Action::kFail) << failed;
    EXPECT_NE(Find(plan, failed).reason, "") << failed;
  }
  EXPECT_EQ(Find(plan, "packages/foo/1.0/index.html").action, Action::kSkip);
  EXPECT_EQ(Find(plan, "other/foo-1.0.tar.gz").action, Action::kSkip);
}

TEST(PlanImportTest, GaepypiWithoutPackagesDirectoryStartsAtTheRoot) {
  const std::vector<PlannedFile> plan =
      PlanImport({"foo/1.0/foo-1.0.tar.gz", "foo-1.0.tar.gz"}, ImportLayout::kGaepypi);
  EXPECT_EQ(Find(plan, "foo/1.0/foo-1.0.tar.gz").action, Action::kImport);
  EXPECT_EQ(Find(plan, "foo/1.0/foo-1.0.tar.gz").project_hint, "foo");
  EXPECT_EQ(Find(plan, "foo-1.0.tar.gz").action, Action::kFail);
}

}  // namespace
}  // namespace pydepot::cli
