#include "cli/delete.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/audit.h"
#include "doc/project.h"
#include "index/index.h"
#include "model/project_name.h"
#include "model/version.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {
namespace {

// 0 when `flags` make sense, else prints why to `err` and returns 2.
int CheckUsage(const DeleteFlags& flags, std::ostream& err) {
  if (!flags.version.empty() && !flags.file.empty()) {
    err << "pydepot delete: give VERSION (a release) or --file (one file), not both\n";
    return 2;
  }
  if (!model::IsValidProjectName(flags.project)) {
    err << "pydepot delete: '" << flags.project.substr(0, 100) << "' is not a project name\n";
    return 2;
  }
  return 0;
}

// The filenames the deletion would remove from `doc` as it is now.
std::vector<std::string> Matching(const doc::ProjectDoc& doc, const DeleteFlags& flags) {
  const std::string release_key =
      flags.version.empty() ? "" : model::Version::ParseLenient(flags.version).ReleaseKey();
  std::vector<std::string> names;
  for (const doc::FileEntry& file : doc.files) {
    if ((!flags.file.empty() && file.filename != flags.file) ||
        (!flags.version.empty() && file.release_key != release_key)) {
      continue;
    }
    names.push_back(file.filename);
  }
  return names;
}

// The refusal without --yes: what would go, as far as the store tells (`index` may be null when
// the store cannot be opened).
int Refuse(const DeleteFlags& flags, index::Index* index, const std::string& where,
           std::ostream& err) {
  err << "pydepot delete: this would delete " << DescribeDeletion(flags) << " from " << where;
  if (index != nullptr) {
    auto view = index->GetProject(model::NormalizeProjectName(flags.project));
    std::vector<std::string> names;
    if (view.has_value()) {
      names = Matching((*view)->doc, flags);
    }
    if (!names.empty()) {
      err << ":\n";
      for (const std::string& name : names) {
        err << "  " << name << "\n";
      }
    } else if (!view.has_value() && view.error().code() != StatusCode::kNotFound) {
      err << " (the store cannot be read now: " << view.error().message() << ")\n";
    } else {
      err << " (nothing matches now)\n";
    }
  } else {
    err << "\n";
  }
  err << "Deleted filenames can never be uploaded again, not even with the same bytes. Run again "
         "with --yes to delete.\n";
  return 2;
}

// Opening a local store creates its directory: a mistyped path must not pass as an empty store.
// The path of a local store URL that names no directory, else "".
std::string MissingLocalDirectory(std::string_view url) {
  const bool file_url = url.starts_with("file://");
  if (file_url) {
    url.remove_prefix(7);
    if (url.starts_with("localhost/")) {
      url.remove_prefix(9);
    }
  }
  if (file_url || (url.find("://") == std::string_view::npos && !url.starts_with("mem"))) {
    std::error_code ec;
    if (!url.empty() && !std::filesystem::is_directory(std::filesystem::path(url), ec)) {
      return std::string(url);
    }
  }
  return "";
}

}  // namespace

std::string DescribeDeletion(const DeleteFlags& flags) {
  const std::string project = model::NormalizeProjectName(flags.project);
  if (!flags.file.empty()) {
    return "the file " + flags.file + " of the project " + project;
  }
  if (!flags.version.empty()) {
    return "release " + flags.version + " of the project " + project + " (every file of it)";
  }
  return "the project " + project + " (every file of it)";
}

int RunDelete(const DeleteFlags& flags, storage::Storage& storage, std::ostream& out,
              std::ostream& err) {
  if (const int rc = CheckUsage(flags, err); rc != 0) {
    return rc;
  }
  auto index = index::Index::Create(storage);
  if (!flags.yes) {
    return Refuse(flags, index.get(), storage.Describe(), err);
  }
  const std::string project = model::NormalizeProjectName(flags.project);
  Status status;
  if (!flags.file.empty()) {
    status = index->DeleteFile(project, flags.file);
  } else if (!flags.version.empty()) {
    status = index->DeleteRelease(project, flags.version);
  } else {
    status = index->DeleteProject(project);
  }
  if (!status.ok()) {
    err << "pydepot delete: " << status.message() << "\n";
    if (status.code() == StatusCode::kNotFound) {
      err << "Nothing was deleted.\n";
    }
    return 1;
  }
  RecordCliAudit(storage,
                 !flags.file.empty()      ? "delete-file"
                 : !flags.version.empty() ? "delete-release"
                                          : "delete-project",
                 project + (!flags.file.empty()      ? "/" + flags.file
                            : !flags.version.empty() ? " " + flags.version
                                                     : ""));
  out << "deleted " << DescribeDeletion(flags) << " from " << storage.Describe() << "\n";
  return 0;
}

int RunDelete(const DeleteFlags& flags) {
  if (const int rc = CheckUsage(flags, std::cerr); rc != 0) {
    return rc;
  }
  Status unusable;
  std::unique_ptr<storage::Storage> storage;
  if (const std::string missing = MissingLocalDirectory(flags.storage); !missing.empty()) {
    unusable = NotFoundError(missing + ": no such directory");
  } else if (auto opened = storage::OpenStorage(flags.storage); opened.has_value()) {
    storage = *std::move(opened);
  } else {
    unusable = opened.error();
  }
  if (!storage) {
    if (!flags.yes) {
      std::cerr << "pydepot delete: " << unusable.message() << "\n";
      return Refuse(flags, nullptr, flags.storage, std::cerr);
    }
    std::cerr << "pydepot delete: " << unusable.message() << "\n";
    return 1;
  }
  return RunDelete(flags, *storage, std::cout, std::cerr);
}

void AddDeleteCommand(CLI::App& app, int& rc) {
  auto flags = std::make_shared<DeleteFlags>();
  auto* command = app.add_subcommand(
      "delete",
      "Delete a project, a release (VERSION) or one file (--file); its filenames can never be "
      "uploaded again (exit 0 deleted, 1 not found or store error, 2 usage or no --yes)");
  command
      ->add_option("--storage", flags->storage,
                   "The store: a directory, file://PATH, s3://BUCKET[/PREFIX], gs://...")
      ->required();
  command->add_option("PROJECT", flags->project, "The project (any spelling of its name)")
      ->required();
  auto* version = command->add_option(
      "VERSION", flags->version, "Delete this release (every file of it), not the whole project");
  command->add_option("--file", flags->file, "Delete only this file (a filename of the project)")
      ->excludes(version);
  command->add_flag("--yes", flags->yes,
                    "Really delete (without it, only say what would be deleted)");
  command->callback([flags, &rc] { rc = RunDelete(*flags); });
}

}  // namespace pydepot::cli
