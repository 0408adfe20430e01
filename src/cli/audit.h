// `pydepot audit --storage URL [--since YYYY-MM-DD] [--json]`: prints the audit trail kept in
// the store (docs/operations.md), oldest first. Exit code 0, or 1 when the store cannot be
// read. Also the helper the CLI's changing commands record their events with.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "ops/audit.h"
#include "storage/storage.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}  // namespace CLI

namespace pydepot::cli {

struct AuditFlags {
  std::string storage;
  std::string since;  // YYYY-MM-DD, "" for everything
  bool json = false;
};

// One line per event (time, actor, action, target, address; tab-separated), or a JSON array.
std::string FormatAuditEvents(const std::vector<ops::AuditEvent>& events, bool json);

// Lists the trail of `storage` into `out`; returns the exit code.
int RunAudit(const AuditFlags& flags, storage::Storage& storage, std::ostream& out,
             std::ostream& err);

// Records an event of a CLI command (actor "cli:<$USER>"); a failure only warns on stderr.
void RecordCliAudit(storage::Storage& storage, std::string action, std::string target);

// Adds the `audit` subcommand to `app`; when it runs, its exit code is stored in `rc`.
void AddAuditCommand(CLI::App& app, int& rc);

}  // namespace pydepot::cli
