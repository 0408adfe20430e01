#include "model/project_name.h"

#include "gtest/gtest.h"

namespace pydepot::model {
namespace {

TEST(ProjectNameTest, SpecExamplesNormalizeToFriendlyBard) {
  for (const char* name : {"friendly-bard", "Friendly-Bard", "FRIENDLY-BARD", "friendly.bard",
                           "friendly_bard", "friendly--bard", "FrIeNdLy-._.-bArD"}) {
    EXPECT_EQ(NormalizeProjectName(name), "friendly-bard") << name;
    EXPECT_TRUE(IsValidProjectName(name)) << name;
  }
}

TEST(ProjectNameTest, Validity) {
  for (const char* ok :
       {"a", "A1", "foo.bar", "foo_bar", "foo-bar", "9", "zope.interface", "Foo__Bar", "x.-_y"}) {
    EXPECT_TRUE(IsValidProjectName(ok)) << ok;
  }
  for (const char* bad : {"", "-foo", "foo-", ".foo", "foo.", "_foo", "foo_", "foo\n", "f\xc3\xb6",
                          "foo bar", "foo/bar", "foo+bar", "foo!", "\x01"}) {
    EXPECT_FALSE(IsValidProjectName(bad)) << bad;
  }
}

TEST(ProjectNameTest, NormalizedCheck) {
  EXPECT_TRUE(IsNormalizedProjectName("foo-bar"));
  EXPECT_FALSE(IsNormalizedProjectName("foo_bar"));
  EXPECT_FALSE(IsNormalizedProjectName("Foo"));
  EXPECT_FALSE(IsNormalizedProjectName("foo--bar"));
  EXPECT_FALSE(IsNormalizedProjectName("-foo"));
}

TEST(ProjectNameTest, NormalizationKeepsOtherBytes) {
  EXPECT_EQ(NormalizeProjectName("F\xc3\xb6O"), "f\xc3\xb6o");
  EXPECT_EQ(NormalizeProjectName("--"), "-");
  EXPECT_EQ(NormalizeProjectName(""), "");
}

}  // namespace
}  // namespace pydepot::model
