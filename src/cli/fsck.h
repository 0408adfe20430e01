// `pydepot fsck --storage URL [--repair] [--json]`: checks a store with index::Fsck and prints
// one line per problem (or a JSON report); see docs/fsck.md. Exit code: 0 when no problem is
// left (none found, or every one repaired), 1 when some are, 2 when the store cannot be used.
#pragma once

#include <cstdint>
#include <string>

#include "index/fsck.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}  // namespace CLI

namespace pydepot::cli {

struct FsckFlags {
  std::string storage;
  bool repair = false;
  bool json = false;
  std::int64_t orphan_age_seconds = 3600;
  int jobs = 4;
};

// The human-readable report: a header, one line per problem, a summary line.
std::string FormatFsckReport(const index::FsckReport& report, const std::string& storage,
                             bool repair);
// The same as one JSON object.
std::string FormatFsckJson(const index::FsckReport& report, const std::string& storage,
                           bool repair);

// Runs the check and prints the report; returns the exit code.
int RunFsck(const FsckFlags& flags);

// Adds the `fsck` subcommand to `app`; when it runs, its exit code is stored in `rc`.
void AddFsckCommand(CLI::App& app, int& rc);

}  // namespace pydepot::cli
