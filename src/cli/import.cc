#include "cli/import.h"

#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/status_macros.h"
#include "index/index.h"
#include "model/filename.h"
#include "model/version.h"
#include "storage/storage.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {
namespace {

namespace fs = std::filesystem;

// The extensions model::ParseDistFilename knows (case-sensitive, as there). Anything else in a
// source is not a distribution: READMEs, signatures (.asc), checksums (.md5), index pages.
constexpr std::array<std::string_view, 18> kDistExtensions = {
    ".whl", ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tar.lzma", ".tar.lz", ".tar.Z", ".tgz",
    ".tbz", ".txz",    ".tlz", ".tar",     ".egg",    ".exe",      ".msi",    ".dmg",   ".rpm",
};

bool HasDistExtension(std::string_view filename) {
  return std::any_of(kDistExtensions.begin(), kDistExtensions.end(), [&](std::string_view ext) {
    return filename.size() > ext.size() && filename.ends_with(ext);
  });
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      return parts;
    }
    start = slash + 1;
  }
}

constexpr std::string_view kGaepypiRoot = "packages/";

bool HasGaepypiRoot(const std::vector<std::string>& paths) {
  return std::any_of(paths.begin(), paths.end(),
                     [](const std::string& p) { return p.starts_with(kGaepypiRoot); });
}

PlannedFile PlanFlat(const std::string& path, const std::vector<std::string_view>& parts) {
  PlannedFile file{path, std::string(parts.back()), "", PlannedFile::Action::kImport, ""};
  if (parts.size() >= 2) {
    // A per-project subdirectory names the project, which splits legacy names ("Foo.Bar-1.0-1")
    // as pip does. Other subdirectories (by year, by team) do not match and give no hint.
    const std::string_view dir = parts[parts.size() - 2];
    if (model::ParseDistFilename(file.filename, dir).has_value()) {
      file.project_hint = std::string(dir);
    }
  }
  return file;
}

PlannedFile PlanGaepypi(const std::string& path, std::vector<std::string_view> parts,
                        std::string_view root) {
  PlannedFile file{path, std::string(parts.back()), "", PlannedFile::Action::kImport, ""};
  if (!root.empty()) {
    parts.erase(parts.begin());  // "packages"
  }
  if (parts.size() != 3) {
    file.action = PlannedFile::Action::kFail;
    file.reason = "not at " + std::string(root) + "<name>/<version>/<file>";
    return file;
  }
  const std::string_view name = parts[0];
  const std::string_view version = parts[1];
  auto parsed = model::ParseDistFilename(file.filename, name);
  if (!parsed.has_value()) {
    file.action = PlannedFile::Action::kFail;
    file.reason = parsed.error().message();
    return file;
  }
  if (model::Version::ParseLenient(version) != parsed->version) {
    file.action = PlannedFile::Action::kFail;
    file.reason = "in the version directory '" + std::string(version) +
                  "', but the filename's version is '" + parsed->version_part + "'";
    return file;
  }
  file.project_hint = std::string(name);
  return file;
}

// A local copy of one source file, removed when this goes away if it is a temporary copy.
class FetchedFile {
 public:
  FetchedFile(fs::path path, std::int64_t modified_micros, bool temporary)
      : path_(std::move(path)), modified_micros_(modified_micros), temporary_(temporary) {}
  FetchedFile(const FetchedFile&) = delete;
  FetchedFile& operator=(const FetchedFile&) = delete;
  FetchedFile(FetchedFile&& other) noexcept
      : path_(std::move(other.path_)),
        modified_micros_(other.modified_micros_),
        temporary_(std::exchange(other.temporary_, false)) {}
  FetchedFile& operator=(FetchedFile&&) = delete;
  ~FetchedFile() {
    if (temporary_) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }

  const fs::path& path() const { return path_; }
  std::int64_t modified_micros() const { return modified_micros_; }

 private:
  fs::path path_;
  std::int64_t modified_micros_;
  bool temporary_;
};

// Where the distributions come from.
class Source {
 public:
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  Source(Source&&) = delete;
  Source& operator=(Source&&) = delete;
  virtual ~Source() = default;

  virtual std::string Describe() const = 0;
  // Every file, as '/'-separated paths relative to the root, sorted.
  virtual StatusOr<std::vector<std::string>> List() = 0;
  // The bytes of `path` in a local file, with the file's modification time.
  virtual StatusOr<FetchedFile> Fetch(const std::string& path) = 0;
};

std::int64_t ModifiedMicros(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
}

// A directory on a local disk, walked directly (so that every file is seen, whatever its name).
// Hidden files and directories are left out, and so is `exclude` (the target store, when it
// lies inside the source).
class DirectorySource final : public Source {
 public:
  DirectorySource(fs::path root, fs::path exclude)
      : root_(std::move(root)), exclude_(std::move(exclude)) {}

  std::string Describe() const override { return root_.string(); }

  StatusOr<std::vector<std::string>> List() override {
    std::vector<std::string> paths;
    std::error_code ec;
    fs::recursive_directory_iterator it(root_, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& path = it->path();
      std::error_code type_ec;
      const bool is_dir = it->is_directory(type_ec);
      if (path.filename().string().starts_with(".")) {
        if (is_dir) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (is_dir) {
        if (!exclude_.empty() && fs::equivalent(path, exclude_, type_ec)) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (it->is_regular_file(type_ec)) {
        paths.push_back(path.lexically_relative(root_).generic_string());
      }
    }
    if (ec) {
      return UnavailableError("listing " + root_.string() + ": " + ec.message());
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  StatusOr<FetchedFile> Fetch(const std::string& path) override {
    fs::path local = root_ / fs::path(path);
    struct stat st {};
    if (::stat(local.c_str(), &st) != 0) {
      return NotFoundError(local.string() + ": " + std::generic_category().message(errno));
    }
    return FetchedFile(std::move(local), ModifiedMicros(st), false);
  }

 private:
  fs::path root_;
  fs::path exclude_;
};

// A bucket (or any store pydepot opens), walked with Storage::List; each object is copied to a
// temp file before it is imported, so that the index reads it like an upload.
class StorageSource final : public Source {
 public:
  StorageSource(std::unique_ptr<storage::Storage> storage, fs::path temp_dir)
      : storage_(std::move(storage)), temp_dir_(std::move(temp_dir)) {}
  StorageSource(const StorageSource&) = delete;
  StorageSource& operator=(const StorageSource&) = delete;
  StorageSource(StorageSource&&) = delete;
  StorageSource& operator=(StorageSource&&) = delete;
  ~StorageSource() override {
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
  }

  std::string Describe() const override { return storage_->Describe(); }

  StatusOr<std::vector<std::string>> List() override { return storage_->List(""); }

  StatusOr<FetchedFile> Fetch(const std::string& path) override {
    PYDEPOT_ASSIGN_OR_RETURN(const storage::ObjectInfo info, storage_->Head(path));
    PYDEPOT_ASSIGN_OR_RETURN(auto stream, storage_->Open(path));
    // One file at a time, so one name will do; the filename is not the object's (the index is
    // told it separately).
    FetchedFile file(temp_dir_ / ("object." + std::to_string(next_++)), info.modified_micros, true);
    std::ofstream out(file.path(), std::ios::binary | std::ios::trunc);
    if (!out.is_open()) {
      return UnavailableError("cannot write " + file.path().string());
    }
    std::string buffer(1 << 20, '\0');
    while (true) {
      PYDEPOT_ASSIGN_OR_RETURN(std::size_t n, stream->Read(buffer.data(), buffer.size()));
      if (n == 0) {
        break;
      }
      out.write(buffer.data(), static_cast<std::streamsize>(n));
    }
    out.close();
    if (!out) {
      return UnavailableError("writing " + file.path().string() + " failed (disk full?)");
    }
    return file;
  }

 private:
  std::unique_ptr<storage::Storage> storage_;
  fs::path temp_dir_;
  std::int64_t next_ = 0;
};

bool IsStorageUrl(std::string_view text) { return text.find("://") != std::string_view::npos; }

// The local directory a --storage value names, or "" for a remote store.
fs::path LocalStoreDirectory(std::string_view url) {
  if (url.starts_with("file://")) {
    return fs::path(url.substr(7));
  }
  if (IsStorageUrl(url) || url.starts_with("memory:")) {
    return {};
  }
  return fs::path(url);
}

StatusOr<fs::path> MakeTempDir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) {
    base = "/tmp";
  }
  std::string pattern = (base / "pydepot-import.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return UnavailableError("cannot create a temp directory in " + base.string() + ": " +
                            std::generic_category().message(errno));
  }
  return fs::path(pattern);
}

StatusOr<std::unique_ptr<Source>> OpenSource(const std::string& source, const std::string& target) {
  if (IsStorageUrl(source)) {
    PYDEPOT_ASSIGN_OR_RETURN(auto storage, storage::OpenStorage(source));
    PYDEPOT_ASSIGN_OR_RETURN(fs::path temp_dir, MakeTempDir());
    return std::unique_ptr<Source>(std::make_unique<StorageSource>(std::move(storage), temp_dir));
  }
  std::error_code ec;
  if (!fs::is_directory(source, ec)) {
    return InvalidArgumentError(source + ": not a directory (or a storage URL: s3://, gs://, " +
                                "file://)");
  }
  fs::path exclude = LocalStoreDirectory(target);
  if (!exclude.empty() && !fs::exists(exclude, ec)) {
    exclude.clear();
  }
  return std::unique_ptr<Source>(std::make_unique<DirectorySource>(source, exclude));
}

// Progress on stderr: on a terminal, one line redrawn per file
// ("importing [=====>    ] 120/300 foo-1.0.tar.gz"); elsewhere nothing. Per-file lines
// (--verbose) go above it.
class Progress {
 public:
  Progress(bool terminal, std::size_t total) : terminal_(terminal), total_(total) {}

  // Shows that `done` files are finished and `name` (the next one) is in progress.
  void Show(std::size_t done, std::string_view name) {
    if (!terminal_ || total_ == 0) {
      return;
    }
    constexpr std::size_t kBarWidth = 30;
    const std::size_t filled = done * kBarWidth / total_;
    std::string bar(filled, '=');
    if (filled < kBarWidth) {
      bar += '>';
      bar.append(kBarWidth - filled - 1, ' ');
    }
    std::string line = "importing [" + bar + "] " + std::to_string(done + 1) + "/" +
                       std::to_string(total_) + " " + std::string(name);
    const std::size_t columns = Columns();
    if (line.size() >= columns) {
      line.resize(columns - 1);
    }
    std::cerr << "\r\033[K" << line << std::flush;
    drawn_ = true;
  }

  void Line(const std::string& text) {
    Clear();
    std::cerr << text << "\n" << std::flush;
  }

  void Clear() {
    if (drawn_) {
      std::cerr << "\r\033[K" << std::flush;
      drawn_ = false;
    }
  }

 private:
  static std::size_t Columns() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) {
      return size.ws_col;
    }
    return 80;
  }

  bool terminal_;
  std::size_t total_;
  bool drawn_ = false;
};

std::string_view LayoutName(ImportLayout layout) {
  switch (layout) {
    case ImportLayout::kAuto:
      return "auto";
    case ImportLayout::kFlat:
      return "flat";
    case ImportLayout::kGaepypi:
      return "gaepypi";
  }
  return "auto";
}

struct Failure {
  std::string path;
  std::string reason;
};

}  // namespace

ImportLayout DetectLayout(const std::vector<std::string>& paths, ImportLayout requested) {
  if (requested != ImportLayout::kAuto) {
    return requested;
  }
  return HasGaepypiRoot(paths) ? ImportLayout::kGaepypi : ImportLayout::kFlat;
}

std::vector<PlannedFile> PlanImport(const std::vector<std::string>& paths, ImportLayout layout) {
  layout = DetectLayout(paths, layout);
  const std::string_view root =
      layout == ImportLayout::kGaepypi && HasGaepypiRoot(paths) ? kGaepypiRoot : "";
  std::vector<PlannedFile> plan;
  plan.reserve(paths.size());
  for (const std::string& path : paths) {
    std::vector<std::string_view> parts = SplitPath(path);
    const std::string filename(parts.back());
    if (!HasDistExtension(filename)) {
      plan.push_back({path, filename, "", PlannedFile::Action::kSkip, "not a distribution"});
    } else if (layout == ImportLayout::kGaepypi && !path.starts_with(root)) {
      plan.push_back(
          {path, filename, "", PlannedFile::Action::kSkip, "outside " + std::string(root)});
    } else if (layout == ImportLayout::kGaepypi) {
      plan.push_back(PlanGaepypi(path, std::move(parts), root));
    } else {
      plan.push_back(PlanFlat(path, parts));
    }
  }
  return plan;
}

int RunImport(const ImportFlags& flags) {
  const auto fail = [](const Status& status) {
    std::cerr << "pydepot import: " << status.message() << "\n";
    return 1;
  };
  ImportLayout requested = ImportLayout::kAuto;
  if (flags.layout == "flat") {
    requested = ImportLayout::kFlat;
  } else if (flags.layout == "gaepypi") {
    requested = ImportLayout::kGaepypi;
  } else if (flags.layout != "auto") {
    return fail(InvalidArgumentError("--layout must be auto, flat or gaepypi"));
  }
  auto target = storage::OpenStorage(flags.storage);
  if (!target.has_value()) {
    return fail(target.error());
  }
  auto source = OpenSource(flags.source, flags.storage);
  if (!source.has_value()) {
    return fail(source.error());
  }
  auto paths = (*source)->List();
  if (!paths.has_value()) {
    return fail(paths.error().WithPrefix("listing " + (*source)->Describe()));
  }
  const ImportLayout layout = DetectLayout(*paths, requested);
  const std::vector<PlannedFile> plan = PlanImport(*paths, layout);
  const std::size_t total =
      static_cast<std::size_t>(std::count_if(plan.begin(), plan.end(), [](const PlannedFile& f) {
        return f.action == PlannedFile::Action::kImport;
      }));
  std::cerr << "importing " << total << (total == 1 ? " distribution" : " distributions")
            << " from " << (*source)->Describe() << " (" << LayoutName(layout) << " layout) into "
            << (*target)->Describe() << "\n";

  auto index = index::Index::Create(**target);
  Progress progress(isatty(STDERR_FILENO) != 0, total);
  std::size_t imported = 0;
  std::size_t without_metadata = 0;
  std::size_t present = 0;
  std::size_t skipped = 0;
  std::size_t done = 0;
  std::vector<Failure> failures;
  const auto verbose_line = [&](const std::string& text) {
    if (flags.verbose) {
      progress.Line(text);
    }
  };
  for (const PlannedFile& file : plan) {
    if (file.action == PlannedFile::Action::kSkip) {
      ++skipped;
      verbose_line("skipped " + file.path + " (" + file.reason + ")");
      continue;
    }
    if (file.action == PlannedFile::Action::kFail) {
      failures.push_back({file.path, file.reason});
      verbose_line("failed " + file.path + ": " + file.reason);
      continue;
    }
    progress.Show(done, file.filename);
    ++done;
    auto fetched = (*source)->Fetch(file.path);
    if (!fetched.has_value()) {
      failures.push_back({file.path, fetched.error().message()});
      verbose_line("failed " + file.path + ": " + fetched.error().message());
      continue;
    }
    auto outcome = index->Import(fetched->path(), file.filename, file.project_hint,
                                 fetched->modified_micros(), flags.uploader);
    if (!outcome.has_value()) {
      failures.push_back({file.path, outcome.error().message()});
      verbose_line("failed " + file.path + ": " + outcome.error().message());
      continue;
    }
    if (!outcome->created) {
      ++present;
      verbose_line("present " + file.path + " (" + outcome->project + ")");
      continue;
    }
    ++imported;
    std::string line = "imported " + file.path + " (" + outcome->project + ")";
    if (!outcome->metadata_problem.empty()) {
      ++without_metadata;
      line += " without metadata: " + outcome->metadata_problem;
    }
    verbose_line(line);
  }
  progress.Clear();

  std::cout << "imported " << imported;
  if (without_metadata > 0) {
    std::cout << " (" << without_metadata << " without metadata)";
  }
  std::cout << ", already present " << present << ", skipped " << skipped
            << " (not distributions), failed " << failures.size() << "\n";
  if (!failures.empty()) {
    std::cout << "failed:\n";
    for (const Failure& failure : failures) {
      std::cout << "  " << failure.path << ": " << failure.reason << "\n";
    }
  }
  std::cout << std::flush;
  return failures.empty() ? 0 : 1;
}

void AddImportCommand(CLI::App& app, int& rc) {
  // The flags live as long as the subcommand's callback, which owns them.
  auto flags = std::make_shared<ImportFlags>();
  auto* command = app.add_subcommand(
      "import",
      "Bring existing distributions into pydepot (moving in): from a directory of files "
      "(pypiserver), a GAEPyPI layout packages/<name>/<version>/<file>, or either in a bucket");
  command
      ->add_option("SOURCE", flags->source,
                   "A directory, or a storage URL (s3://BUCKET[/PREFIX], gs://..., file://PATH)")
      ->required();
  command->add_option("--storage", flags->storage, "The pydepot storage to import into")
      ->required();
  command
      ->add_option("--layout", flags->layout,
                   "auto (GAEPyPI when SOURCE has a top-level packages/ directory), flat or "
                   "gaepypi")
      ->check(CLI::IsMember({"auto", "flat", "gaepypi"}));
  command->add_option("--uploader", flags->uploader,
                      "The user name recorded as the files' uploader (default: import)");
  command->add_flag("-v,--verbose", flags->verbose, "One line per file");
  command->callback([flags, &rc] { rc = RunImport(*flags); });
}

}  // namespace pydepot::cli
