#include "cli/fsck.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json.hpp>

#include "index/index.h"
#include "storage/storage.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {
namespace {

namespace json = boost::json;

std::string_view RepairName(index::FsckRepair repair) {
  switch (repair) {
    case index::FsckRepair::kNone:
      return "none";
    case index::FsckRepair::kRepaired:
      return "repaired";
    case index::FsckRepair::kSkipped:
      return "left";
  }
  return "none";
}

std::string Plural(std::int64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

std::string FormatFsckReport(const index::FsckReport& report, const std::string& storage,
                             bool repair) {
  std::string out = "pydepot fsck " + storage + ": " + Plural(report.projects, "project") + ", " +
                    Plural(report.files, "file") + " (" + std::to_string(report.bytes) +
                    " bytes hashed), " + Plural(report.objects, "object") + " checked\n";
  int repaired = 0;
  for (const index::FsckProblem& problem : report.problems) {
    out += std::string(index::FsckProblemKindName(problem.kind)) + " " + problem.key + ": " +
           problem.found + "; " + problem.meaning + ". --repair " + problem.repair + ".";
    if (repair) {
      if (problem.repaired == index::FsckRepair::kRepaired) {
        out += " => repaired: " + problem.outcome;
        ++repaired;
      } else if (problem.repaired == index::FsckRepair::kSkipped) {
        out += " => left: " + problem.outcome;
      } else {
        out += " => left";
      }
    }
    out += "\n";
  }
  if (report.problems.empty()) {
    out += "clean: no problems found\n";
  } else if (repair) {
    out += Plural(static_cast<std::int64_t>(report.problems.size()), "problem") + " found, " +
           std::to_string(repaired) + " repaired, " + std::to_string(report.Remaining()) +
           " left\n";
  } else {
    out += Plural(static_cast<std::int64_t>(report.problems.size()), "problem") +
           " found (run with --repair to fix what can be fixed safely)\n";
  }
  return out;
}

std::string FormatFsckJson(const index::FsckReport& report, const std::string& storage,
                           bool repair) {
  json::object out;
  out["storage"] = storage;
  out["repair"] = repair;
  out["projects"] = report.projects;
  out["files"] = report.files;
  out["bytes"] = report.bytes;
  out["objects"] = report.objects;
  json::array problems;
  for (const index::FsckProblem& problem : report.problems) {
    json::object item;
    item["kind"] = index::FsckProblemKindName(problem.kind);
    item["key"] = problem.key;
    item["project"] = problem.project;
    item["found"] = problem.found;
    item["meaning"] = problem.meaning;
    item["repair"] = problem.repair;
    item["outcome"] = RepairName(problem.repaired);
    item["outcome_detail"] = problem.outcome;
    problems.emplace_back(std::move(item));
  }
  out["problems"] = std::move(problems);
  out["remaining"] = report.Remaining();
  out["clean"] = report.Remaining() == 0;
  return json::serialize(out) + "\n";
}

int RunFsck(const FsckFlags& flags) {
  // Opening a local store creates its directory: a mistyped path must not pass as a clean store.
  std::string_view path = flags.storage;
  const bool file_url = path.starts_with("file://");
  if (file_url) {
    path.remove_prefix(7);
    if (path.starts_with("localhost/")) {
      path.remove_prefix(9);
    }
  }
  if (file_url || (path.find("://") == std::string_view::npos && !path.starts_with("mem"))) {
    std::error_code ec;
    if (!path.empty() && !std::filesystem::is_directory(std::filesystem::path(path), ec)) {
      std::cerr << "pydepot fsck: " << path << ": no such directory\n";
      return 2;
    }
  }
  auto storage = storage::OpenStorage(flags.storage);
  if (!storage.has_value()) {
    std::cerr << "pydepot fsck: " << storage.error().message() << "\n";
    return 2;
  }
  auto index = index::Index::Create(**storage);
  index::FsckOptions options;
  options.repair = flags.repair;
  options.orphan_age = std::chrono::seconds(flags.orphan_age_seconds);
  options.jobs = flags.jobs;
  auto report = index::Fsck(*index, options);
  if (!report.has_value()) {
    std::cerr << "pydepot fsck: " << (*storage)->Describe() << ": " << report.error().message()
              << "\n";
    return 2;
  }
  const std::string where = (*storage)->Describe();
  std::cout << (flags.json ? FormatFsckJson(*report, where, flags.repair)
                           : FormatFsckReport(*report, where, flags.repair))
            << std::flush;
  return report->Remaining() == 0 ? 0 : 1;
}

void AddFsckCommand(CLI::App& app, int& rc) {
  auto flags = std::make_shared<FsckFlags>();
  auto* command = app.add_subcommand(
      "fsck",
      "Check a store: every listed file present with its size and sha256, .metadata files, "
      "the project list, orphans (exit 0 clean, 1 problems left, 2 store error)");
  command
      ->add_option("--storage", flags->storage,
                   "The store: a directory, file://PATH, s3://BUCKET[/PREFIX], gs://...")
      ->required();
  command->add_flag("--repair", flags->repair,
                    "Fix what is safe: the project list, missing or damaged .metadata, orphans "
                    "and temp files older than --orphan-age. Never changes a listed file");
  command->add_flag("--json", flags->json, "Print the report as one JSON object");
  command
      ->add_option("--orphan-age", flags->orphan_age_seconds,
                   "Seconds an orphan or temp file must be old before --repair deletes it "
                   "(default 3600; uploads in flight are younger)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  command->add_option("--jobs", flags->jobs, "Files checked at once (default 4)")
      ->check(CLI::Range(1, 64));
  command->callback([flags, &rc] { rc = RunFsck(*flags); });
}

}  // namespace pydepot::cli
