// `pydepot delete --storage URL PROJECT [VERSION] [--file FILENAME] --yes`: deletes a project
// (PROJECT alone), a release (with VERSION) or one file (with --file) through Index::DeleteProject,
// DeleteRelease and DeleteFile (docs/web-ui.md, "Administration"; docs/consistency.md,
// "Deleting"). Deleted filenames can never be uploaded again, so without --yes it only says what
// would be deleted. Exit code: 0 deleted; 1 nothing to delete (kNotFound) or the store failed;
// 2 usage errors (VERSION and --file together, an invalid project name, no --yes).
#pragma once

#include <ostream>
#include <string>

#include "storage/storage.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}  // namespace CLI

namespace pydepot::cli {

struct DeleteFlags {
  std::string storage;
  std::string project;
  std::string version;  // "": not a release
  std::string file;     // "": not one file
  bool yes = false;
};

// What `flags` deletes, in words: "the project foo (every file of it)", "release 1.0 of the
// project foo (every file of it)", "the file foo-1.0.tar.gz of the project foo". The project is
// given normalized.
std::string DescribeDeletion(const DeleteFlags& flags);

// Runs the delete on `storage` (flags.storage is used only in messages): the result to `out`,
// refusals and errors to `err`. Returns the exit code.
int RunDelete(const DeleteFlags& flags, storage::Storage& storage, std::ostream& out,
              std::ostream& err);

// Opens flags.storage (a local directory must exist) and runs the delete; returns the exit code.
int RunDelete(const DeleteFlags& flags);

// Adds the `delete` subcommand to `app`; when it runs, its exit code is stored in `rc`.
void AddDeleteCommand(CLI::App& app, int& rc);

}  // namespace pydepot::cli
