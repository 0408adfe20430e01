// `pydepot import SOURCE --storage URL` ("moving in"): brings the distributions of an existing
// index into a pydepot store through Index::Import, from a plain directory of distributions (the
// pypiserver layout) or a GAEPyPI layout (`packages/<name>/<version>/<file>`), either on a local
// disk or in a bucket (any storage URL: s3://, gs://, file://). Safe to re-run: files already
// listed with the same bytes are counted as already present. Single-threaded; the functions here
// are pure but for RunImport.
#pragma once

#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's own name
class App;
}  // namespace CLI

namespace pydepot::cli {

enum class ImportLayout {
  kAuto,     // GAEPyPI when there is a top-level packages/ directory, else flat
  kFlat,     // pypiserver: distributions anywhere in the tree
  kGaepypi,  // packages/<name>/<version>/<file> (or <name>/<version>/<file> without packages/)
};

// What to do with one file of the source.
struct PlannedFile {
  enum class Action {
    kImport,  // a distribution: Index::Import(filename, project_hint)
    kSkip,    // not a distribution (README, .asc, .md5, index.html, ...)
    kFail,    // a distribution that the layout says is misplaced; `reason` says why
  };
  std::string path;          // '/'-separated, relative to the source's root
  std::string filename;      // the last part of `path`
  std::string project_hint;  // "" when the layout names no project
  Action action = Action::kImport;
  std::string reason;  // for kSkip and kFail
};

// The layout `paths` (relative, '/'-separated) are in, when `requested` is kAuto.
ImportLayout DetectLayout(const std::vector<std::string>& paths, ImportLayout requested);

// Decides from the paths alone what happens to each file, in the order given. Distributions are
// recognised by extension (the ones model::ParseDistFilename knows); everything else is skipped.
// Flat: a file's directory name is its project hint when the filename parses with it (files in
// per-project subdirectories, as pypiserver allows), else there is none. GAEPyPI: the name
// directory is the hint, and the filename must parse with it and have the version of the
// version directory (PEP 440 equality); other places under packages/ fail; files outside
// packages/ are skipped.
std::vector<PlannedFile> PlanImport(const std::vector<std::string>& paths, ImportLayout layout);

struct ImportFlags {
  std::string source;   // a directory, or a storage URL (s3://, gs://, file://)
  std::string storage;  // the pydepot store to import into
  std::string layout = "auto";
  std::string uploader = "import";
  bool verbose = false;
};

// Runs the import and prints a summary; returns the exit code: 0 when nothing failed, 1 when a
// file failed or the source or the store could not be used.
int RunImport(const ImportFlags& flags);

// Adds the `import` subcommand to `app`; when it runs, its exit code is stored in `rc`.
void AddImportCommand(CLI::App& app, int& rc);

}  // namespace pydepot::cli
