// Command-line entry point: parses argv and runs one command. The composition root: the only
// code that picks concrete implementations.
#pragma once

namespace pydepot::cli {

// Runs the command named by argv[1]; returns the process exit code (0 ok, 1 failure, 2 usage).
int Run(int argc, char** argv);

}  // namespace pydepot::cli
