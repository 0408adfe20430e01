// A last word when the server dies of a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT):
// one line naming the signal and the raw stack, written to stderr with async-signal-safe calls,
// then the signal's default action (a core dump where the system keeps them). Without it a
// crashed instance leaves nothing in its log; with it, `addr2line -e pydepot -f -C OFFSET...`
// turns the offsets of the "pydepot(+0x...)" frames into functions and lines.
#pragma once

namespace pydepot::ops {

// Installs the handler for the fatal signals. The calling thread gets an alternate signal stack,
// so its own stack overflowing is reported too (other threads' overflows are not). Call once,
// early, on the main thread; later calls do nothing.
void InstallCrashHandler();

// What the handler writes for `signo`, to `fd`: usable from a signal handler.
void WriteCrashReport(int fd, int signo);

}  // namespace pydepot::ops
