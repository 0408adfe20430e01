#include "cli/fsck.h"

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

index::FsckReport TwoProblems() {
  index::FsckReport report;
  report.projects = 2;
  report.files = 3;
  report.bytes = 4096;
  report.objects = 9;
  report.problems.push_back({index::FsckProblemKind::kOrphanFile, "files/foo/foo-1.0.tar.gz", "foo",
                             "stored, but no project document lists it (1 KiB, 5 s old)",
                             "an upload that stopped", "deletes it once it is 1 h old",
                             index::FsckRepair::kSkipped, "younger than 1 h (--orphan-age)"});
  report.problems.push_back({index::FsckProblemKind::kUnlistedProject, "index/projects/foo.json",
                             "foo", "has a document", "/simple/ does not list it",
                             "adds it to the project list", index::FsckRepair::kRepaired,
                             "project list updated"});
  return report;
}

TEST(FormatFsckReportTest, CleanStore) {
  index::FsckReport report;
  report.projects = 1;
  report.files = 1;
  report.bytes = 10;
  report.objects = 3;
  EXPECT_THAT(Lines(FormatFsckReport(report, "file:///srv/x", false)),
              ElementsAre("pydepot fsck file:///srv/x: 1 project, 1 file (10 bytes hashed), 3 "
                          "objects checked",
                          "clean: no problems found"));
}

TEST(FormatFsckReportTest, OneLinePerProblemWithMeaningAndRepair) {
  const std::vector<std::string> lines =
      Lines(FormatFsckReport(TwoProblems(), "s3://bucket/idx", false));
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(lines[1],
            "orphan-file files/foo/foo-1.0.tar.gz: stored, but no project document lists it (1 "
            "KiB, 5 s old); an upload that stopped. --repair deletes it once it is 1 h old.");
  EXPECT_THAT(lines[2], HasSubstr("unlisted-project index/projects/foo.json: "));
  EXPECT_EQ(lines[3], "2 problems found (run with --repair to fix what can be fixed safely)");
}

TEST(FormatFsckReportTest, RepairOutcomes) {
  const std::vector<std::string> lines =
      Lines(FormatFsckReport(TwoProblems(), "s3://bucket/idx", true));
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_THAT(lines[1], HasSubstr(" => left: younger than 1 h (--orphan-age)"));
  EXPECT_THAT(lines[2], HasSubstr(" => repaired: project list updated"));
  EXPECT_EQ(lines[3], "2 problems found, 1 repaired, 1 left");
}

TEST(FormatFsckJsonTest, EveryFieldOfEveryProblem) {
  const boost::json::value value =
      boost::json::parse(FormatFsckJson(TwoProblems(), "s3://bucket/idx", true));
  const boost::json::object& out = value.as_object();
  EXPECT_EQ(out.at("storage").as_string(), "s3://bucket/idx");
  EXPECT_EQ(out.at("files").as_int64(), 3);
  EXPECT_EQ(out.at("bytes").as_int64(), 4096);
  EXPECT_EQ(out.at("remaining").as_int64(), 1);
  EXPECT_FALSE(out.at("clean").as_bool());
  const boost::json::array& problems = out.at("problems").as_array();
  ASSERT_EQ(problems.size(), 2U);
  const boost::json::object& first = problems[0].as_object();
  EXPECT_EQ(first.at("kind").as_string(), "orphan-file");
  EXPECT_EQ(first.at("key").as_string(), "files/foo/foo-1.0.tar.gz");
  EXPECT_EQ(first.at("project").as_string(), "foo");
  EXPECT_EQ(first.at("repair").as_string(), "deletes it once it is 1 h old");
  EXPECT_EQ(first.at("outcome").as_string(), "left");
  EXPECT_EQ(problems[1].as_object().at("outcome").as_string(), "repaired");
  EXPECT_EQ(problems[1].as_object().at("outcome_detail").as_string(), "project list updated");
}

}  // namespace
}  // namespace pydepot::cli
