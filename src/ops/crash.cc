#include "ops/crash.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>

namespace pydepot::ops {
namespace {

constexpr std::array<int, 5> kFatalSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr int kMaxFrames = 64;

void WriteText(int fd, const char* text) {
  std::size_t left = ::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(fd, text, left);
    if (n <= 0) {
      return;
    }
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

void OnFatalSignal(int signo) {
  WriteCrashReport(STDERR_FILENO, signo);
  // The default action now: the process ends as the signal says (and dumps core where enabled).
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

}  // namespace

void WriteCrashReport(int fd, int signo) {
  // strsignal is not async-signal-safe; sigabbrev_np (glibc 2.32) returns a constant.
  const char* name = ::sigabbrev_np(signo);
  char number[12] = {};
  int value = signo;
  int at = sizeof(number) - 1;
  do {
    number[--at] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && at > 0);
  WriteText(fd, "pydepot: fatal signal ");
  WriteText(fd, number + at);
  if (name != nullptr) {
    WriteText(fd, " (SIG");
    WriteText(fd, name);
    WriteText(fd, ")");
  }
  WriteText(fd, "; stack (addr2line -e pydepot -f -C turns each +0x offset into a function):\n");
  std::array<void*, kMaxFrames> frames{};
  const int count = ::backtrace(frames.data(), kMaxFrames);
  ::backtrace_symbols_fd(frames.data(), count, fd);
}

void InstallCrashHandler() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) {
    return;
  }
  // backtrace() loads libgcc on its first call, which allocates: do that now, not in a handler.
  std::array<void*, 2> warm{};
  ::backtrace(warm.data(), static_cast<int>(warm.size()));
  // This thread's alternate stack, so that its stack overflowing can still be reported.
  static std::array<char, 64 * 1024> alternate{};
  stack_t stack{};
  stack.ss_sp = alternate.data();
  stack.ss_size = alternate.size();
  ::sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  action.sa_flags = SA_ONSTACK | SA_RESETHAND;
  ::sigemptyset(&action.sa_mask);
  for (int signo : kFatalSignals) {
    ::sigaction(signo, &action, nullptr);
  }
}

}  // namespace pydepot::ops
