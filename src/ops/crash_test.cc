#include "ops/crash.h"

#include <signal.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::ops {
namespace {

TEST(CrashReportTest, NamesTheSignalAndListsTheStack) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  WriteCrashReport(fds[1], SIGSEGV);
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  EXPECT_THAT(text, ::testing::StartsWith("pydepot: fatal signal 11 (SIGSEGV); stack"));
  // At least this test's own frames, one per line, as "binary(+offset)[address]".
  EXPECT_THAT(text, ::testing::ContainsRegex("ops_test\\(\\+0x[0-9a-f]+\\)\\[0x[0-9a-f]+\\]"));
}

// The whole path: the handler reports, then the process dies of the same signal. SIGILL, since
// the sanitizers take over SIGSEGV, SIGBUS and SIGFPE in their builds.
TEST(CrashReportDeathTest, ReportsThenDiesOfTheSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        InstallCrashHandler();
        ::raise(SIGILL);
      },
      ::testing::KilledBySignal(SIGILL), "pydepot: fatal signal 4 \\(SIGILL\\); stack");
}

}  // namespace
}  // namespace pydepot::ops
