#include "cli/commands.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pydepot::cli {
namespace {

int RunArgs(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  return Run(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandsTest, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(RunArgs({"pydepot", "fsck"}), 2);                     // --storage missing
  EXPECT_EQ(RunArgs({"pydepot", "serve", "--no-such-flag"}), 2);  // unknown flag
  EXPECT_EQ(RunArgs({"pydepot", "no-such-command"}), 2);
  EXPECT_EQ(RunArgs({"pydepot", "--help"}), 0);
  EXPECT_EQ(RunArgs({"pydepot", "version"}), 0);
}

}  // namespace
}  // namespace pydepot::cli
