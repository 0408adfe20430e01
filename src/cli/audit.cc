#include "cli/audit.h"

#include <iostream>
#include <memory>
#include <utility>

#include <boost/json.hpp>

#include "ops/log.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {

namespace json = boost::json;

std::string FormatAuditEvents(const std::vector<ops::AuditEvent>& events, bool as_json) {
  if (as_json) {
    json::array out;
    for (const ops::AuditEvent& event : events) {
      out.push_back(json::parse(ops::EncodeAuditEvent(event)));
    }
    return json::serialize(out) + "\n";
  }
  std::string out;
  for (const ops::AuditEvent& event : events) {
    out += ops::Rfc3339(event.time_micros) + "\t" + event.actor + "\t" + event.action + "\t" +
           event.target + "\t" + (event.address.empty() ? "-" : event.address) + "\n";
  }
  return out;
}

int RunAudit(const AuditFlags& flags, storage::Storage& storage, std::ostream& out,
             std::ostream& err) {
  int skipped = 0;
  auto events = ops::ListAuditEvents(storage, flags.since, &skipped);
  if (!events.has_value()) {
    err << "pydepot audit: " << events.error().message() << "\n";
    return 1;
  }
  out << FormatAuditEvents(*events, flags.json) << std::flush;
  if (skipped > 0) {
    err << "pydepot audit: skipped " << skipped << " unreadable event(s)\n";
  }
  return 0;
}

void RecordCliAudit(storage::Storage& storage, std::string action, std::string target) {
  ops::AuditEvent event{.actor = ops::CliActor(),
                        .action = std::move(action),
                        .target = std::move(target),
                        .address = {}};
  if (Status s = ops::WriteAuditEvent(storage, std::move(event)); !s.ok()) {
    std::cerr << "warning: the audit trail could not record this: " << s.message() << "\n";
  }
}

void AddAuditCommand(CLI::App& app, int& rc) {
  auto flags = std::make_shared<AuditFlags>();
  auto* command = app.add_subcommand(
      "audit",
      "Print the audit trail: uploads, yanks, deletions, account and token changes, oldest "
      "first (docs/operations.md)");
  command
      ->add_option("--storage", flags->storage,
                   "The store: a directory, file://PATH, s3://BUCKET[/PREFIX], gs://...")
      ->required();
  command->add_option("--since", flags->since, "Only events of this day (YYYY-MM-DD, UTC) on");
  command->add_flag("--json", flags->json, "Print the events as one JSON array");
  command->callback([flags, &rc] {
    auto storage = storage::OpenStorage(flags->storage);
    if (!storage.has_value()) {
      std::cerr << "pydepot audit: " << storage.error().message() << "\n";
      rc = 1;
      return;
    }
    rc = RunAudit(*flags, **storage, std::cout, std::cerr);
  });
}

}  // namespace pydepot::cli
