// pydepot_bench_gen: writes a pydepot local-storage directory with many realistic projects, for
// the benchmarks in bench/ (see bench/README.md).
//
//   pydepot_bench_gen --out DIR --projects 100000 [--versions 3] [--seed 1] [--threads 2]
//                     [--big-file-sizes 1048576,104857600]
//
// DIR/storage is a storage directory `pydepot serve --storage DIR/storage` reads as it is;
// DIR/manifest.json says what was generated (counts, sizes, the big files' URLs, the time it
// took). The documents are encoded by pydepot's own doc module and placed under the keys of
// storage/keys.h, so the layout is exactly what the server reads.
//
// Cheap on purpose (100k projects, 600k files, in well under two minutes on two cores):
//   - files are written with plain write(2), without the storage's temp file, fsync and link;
//   - distribution files are hard links into two pools of pseudo-random blobs (wheels, sdists)
//     whose sizes follow a log-normal law, so every listed file exists with its listed size and
//     digests, but files share bytes (and digests) with other files of the same pool. Their
//     contents are random bytes, not real archives: they download, they do not install;
//   - wheels get a real METADATA as their PEP 658 .metadata file (distinct per release);
//   - one extra project, bench-big-files, holds one wheel per --big-file-sizes entry, each with
//     its own random bytes.
// Everything is a function of --seed and --projects: two runs write identical documents.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <numbers>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/hash.h"
#include "doc/project.h"
#include "model/filename.h"
#include "model/project_name.h"
#include "model/version.h"
#include "storage/keys.h"

#include <CLI/CLI.hpp>

namespace pydepot::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Bump whenever the generated repository changes (names, sizes, document fields): run.sh keys
// its cache on it.
constexpr int kGeneratorVersion = 1;

constexpr std::string_view kBigProject = "bench-big-files";
constexpr std::string_view kUploader = "bench";
constexpr int kPoolBlobs = 256;
// 2016-01-01T00:00:00Z and about nine years after it.
constexpr std::int64_t kEpochStartMicros = 1451606400LL * 1000000;
constexpr std::int64_t kDayMicros = 86400LL * 1000000;

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "pydepot_bench_gen: " << message << "\n";
  std::exit(1);
}

template <typename T>
T Check(StatusOr<T> value, std::string_view what) {
  if (!value.has_value()) {
    Die(std::string(what) + ": " + value.error().message());
  }
  return *std::move(value);
}

// xoshiro256** seeded through splitmix64: fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (std::uint64_t& word : state_) {
      seed += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      word = z ^ (z >> 31);
    }
  }

  std::uint64_t Next() {
    const std::uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n).
  std::uint64_t Below(std::uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Uniform in [lo, hi].
  int Between(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  double Real() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Real() < p; }
  // Standard normal (Box-Muller).
  double Normal() {
    const double u = 1.0 - Real();
    const double v = Real();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }
  template <typename C>
  const auto& Pick(const C& items) {
    return items[Below(std::size(items))];
  }

  void Fill(char* out, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const std::uint64_t word = Next();
      std::memcpy(out + i, &word, 8);
    }
    if (i < n) {
      const std::uint64_t word = Next();
      std::memcpy(out + i, &word, n - i);
    }
  }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

// Word pieces real PyPI names are made of.
constexpr std::string_view kWords[] = {
    "py",      "django",    "flask",     "data",     "client",     "sdk",      "api",
    "tools",   "utils",     "lib",       "core",     "async",      "aws",      "azure",
    "google",  "cloud",     "test",      "plugin",   "pytest",     "json",     "yaml",
    "http",    "web",       "auth",      "db",       "sql",        "ml",       "torch",
    "tensor",  "vision",    "text",      "parser",   "config",     "logging",  "cli",
    "kit",     "io",        "net",       "stream",   "graph",      "cache",    "queue",
    "mock",    "types",     "schema",    "model",    "server",     "agent",    "metrics",
    "jupyter", "notebook",  "openapi",   "grpc",     "proto",      "redis",    "kafka",
    "mongo",   "postgres",  "mysql",     "s3",       "lambda",     "docker",   "k8s",
    "helm",    "terraform", "ansible",   "celery",   "fast",       "simple",   "easy",
    "super",   "micro",     "mini",      "open",     "smart",      "auto",     "deep",
    "learn",   "nlp",       "image",     "audio",    "video",      "geo",      "map",
    "time",    "date",      "math",      "stats",    "plot",       "chart",    "dash",
    "pandas",  "numpy",     "scipy",     "arrow",    "frame",      "table",    "excel",
    "csv",     "xml",       "html",      "markdown", "pdf",        "doc",      "docs",
    "sphinx",  "theme",     "ext",       "contrib",  "extras",     "backend",  "frontend",
    "admin",   "rest",      "framework", "router",   "middleware", "signals",  "events",
    "tasks",   "jobs",      "worker",    "pipeline", "flow",       "runner",   "build",
    "deploy",  "ops",       "monitor",   "trace",    "profiler",   "bench",    "check",
    "lint",    "format",    "style",     "typing",   "stubs",      "compat",   "helpers",
    "common",  "base",      "toolkit",   "client2",  "wrapper",    "bindings", "native",
    "crypto",  "hash",      "secure",    "token",    "oauth",      "jwt",      "session",
    "storage", "files",     "fs",        "sync",     "bot",        "chat",     "slack",
    "discord", "telegram",  "email",     "sms",
};

constexpr std::string_view kSyllables[] = {"ka",  "zo",  "ri",  "mu",  "te",  "lan", "vex", "qua",
                                           "dor", "pi",  "nex", "tor", "bel", "sy",  "ra",  "go",
                                           "lu",  "fen", "mi",  "tas", "ul",  "ox",  "ae",  "ny"};

std::string Capitalized(std::string_view word) {
  std::string out(word);
  if (!out.empty()) {
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  }
  return out;
}

// A project name as people write them: "django-rest-cache", "data_tools", "acme.core",
// "FlaskCache", "Flask-SQLCache", "ujson3", "zorbix".
std::string MakeName(Rng& rng) {
  const int words = rng.Chance(0.25) ? 1 : (rng.Chance(0.7) ? 2 : 3);
  std::vector<std::string_view> parts;
  for (int i = 0; i < words; ++i) {
    parts.push_back(rng.Pick(kWords));
  }
  const double style = rng.Real();
  std::string name;
  auto join = [&](std::string_view sep, bool capitalize) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) {
        name += sep;
      }
      name += capitalize ? Capitalized(parts[i]) : std::string(parts[i]);
    }
  };
  if (style < 0.40) {
    join("-", false);
  } else if (style < 0.55) {
    join("_", false);
  } else if (style < 0.60) {
    join(".", false);
  } else if (style < 0.72) {
    join("", true);
  } else if (style < 0.82) {
    join("-", true);
  } else if (style < 0.92) {
    join("", false);
    name += std::to_string(rng.Between(2, 9));
  } else {
    const int syllables = rng.Between(2, 4);
    for (int i = 0; i < syllables; ++i) {
      name += rng.Pick(kSyllables);
    }
    if (rng.Chance(0.3)) {
      name = Capitalized(name);
    }
  }
  return name;
}

// `count` distinct (after normalization) valid names.
std::vector<std::string> MakeNames(std::uint64_t seed, int count) {
  Rng rng(seed ^ 0x6E616D6573ULL);
  std::set<std::string> taken{std::string(kBigProject)};
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(count));
  while (static_cast<int>(names.size()) < count) {
    std::string name = MakeName(rng);
    std::string normalized = model::NormalizeProjectName(name);
    while (taken.contains(normalized)) {
      name += rng.Chance(0.5) ? "-" + std::string(rng.Pick(kWords))
                              : std::to_string(rng.Between(0, 99));
      normalized = model::NormalizeProjectName(name);
    }
    if (!model::IsValidProjectName(name) || normalized.size() > storage::kMaxProjectLength) {
      continue;
    }
    taken.insert(normalized);
    names.push_back(std::move(name));
  }
  return names;
}

constexpr std::string_view kPreReleases[] = {"rc1", "b2", "a1", "rc2"};

// `n` increasing version strings: mostly semantic versions, some two-part and calendar ones,
// now and then a pre-release last.
std::vector<std::string> MakeVersions(Rng& rng, int n) {
  std::vector<std::string> out;
  const double scheme = rng.Real();
  if (scheme < 0.10) {
    int year = rng.Between(2019, 2023);
    int month = rng.Between(1, 12);
    for (int i = 0; i < n; ++i) {
      out.push_back(std::to_string(year) + "." + std::to_string(month) + "." +
                    std::to_string(rng.Between(0, 28)));
      month += rng.Between(1, 4);
      if (month > 12) {
        month -= 12;
        ++year;
      }
    }
    return out;
  }
  const bool two_part = scheme < 0.25;
  int major = rng.Chance(0.5) ? 0 : rng.Between(1, 3);
  int minor = rng.Between(0, 25);
  int patch = rng.Between(0, 12);
  for (int i = 0; i < n; ++i) {
    std::string version = std::to_string(major) + "." + std::to_string(minor);
    if (!two_part) {
      version += "." + std::to_string(patch);
    }
    if (i == n - 1 && rng.Chance(0.06)) {
      version += rng.Pick(kPreReleases);
    }
    out.push_back(version);
    const double bump = rng.Real();
    if (two_part || bump < 0.3) {
      ++minor;
      patch = 0;
    } else if (bump < 0.9) {
      patch += rng.Between(1, 3);
    } else {
      ++major;
      minor = 0;
      patch = 0;
    }
  }
  return out;
}

constexpr std::string_view kRequiresPython[] = {
    "",       ">=3.7", ">=3.8", ">=3.9", ">=3.8,<4", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*",
    ">=3.10", ">=3.6"};

constexpr std::string_view kClassifiers[] = {
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: Python :: 3.9",
    "Programming Language :: Python :: 3.10",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "License :: OSI Approved :: MIT License",
    "License :: OSI Approved :: Apache Software License",
    "Operating System :: OS Independent",
    "Development Status :: 4 - Beta",
    "Development Status :: 5 - Production/Stable",
    "Intended Audience :: Developers",
    "Topic :: Software Development :: Libraries :: Python Modules",
    "Typing :: Typed"};

constexpr std::string_view kDependencies[] = {"requests>=2.25",
                                              "typing-extensions>=4.0; python_version < \"3.11\"",
                                              "click>=8.0",
                                              "pydantic<3,>=1.10",
                                              "urllib3<3,>=1.26",
                                              "attrs>=21.3",
                                              "packaging>=21",
                                              "numpy>=1.22",
                                              "python-dateutil>=2.8",
                                              "pyyaml>=5.4",
                                              "importlib-metadata>=4; python_version < \"3.10\"",
                                              "rich>=12; extra == \"cli\""};

constexpr std::string_view kLicenses[] = {"MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-or-later"};

// One pool of blobs: distribution files are hard links to them.
struct Blob {
  fs::path path;
  std::int64_t size = 0;
  Digests digests;
};

void WriteAll(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      Die("writing " + path.string() + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void WriteFile(const fs::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    Die("creating " + path.string() + ": " + std::strerror(errno));
  }
  WriteAll(fd, data, path);
  if (::close(fd) != 0) {
    Die("closing " + path.string() + ": " + std::strerror(errno));
  }
}

void MakeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    Die("creating " + dir.string() + ": " + ec.message());
  }
}

std::vector<Blob> MakePool(Rng& rng, const fs::path& dir, std::string_view prefix,
                           double median_bytes) {
  std::vector<Blob> pool;
  std::string bytes;
  for (int i = 0; i < kPoolBlobs; ++i) {
    // Log-normal sizes, as package sizes are: most are tens of KB, a few are megabytes.
    const double size = median_bytes * std::exp(1.3 * rng.Normal());
    Blob blob;
    blob.size = std::clamp<std::int64_t>(std::llround(size), 900, 4 << 20);
    bytes.resize(static_cast<std::size_t>(blob.size));
    rng.Fill(bytes.data(), bytes.size());
    blob.digests = ComputeDigests(bytes);
    blob.path = dir / (std::string(prefix) + std::to_string(i));
    WriteFile(blob.path, bytes);
    pool.push_back(std::move(blob));
  }
  return pool;
}

void Link(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    Die("linking " + to.string() + ": " + std::strerror(errno));
  }
}

// The wheel's METADATA (core metadata 2.1), from the release it describes.
std::string MetadataText(const std::string& display_name, const doc::ReleaseInfo& release) {
  std::string out = "Metadata-Version: 2.1\nName: " + display_name +
                    "\nVersion: " + release.version + "\nSummary: " + release.summary +
                    "\nHome-page: " + release.home_page + "\nAuthor: " + release.author +
                    "\nAuthor-email: " + release.author_email + "\nLicense: " + release.license +
                    "\nKeywords: " + release.keywords + "\n";
  for (const std::string& url : release.project_urls) {
    out += "Project-URL: " + url + "\n";
  }
  for (const std::string& classifier : release.classifiers) {
    out += "Classifier: " + classifier + "\n";
  }
  if (!release.requires_python.empty()) {
    out += "Requires-Python: " + release.requires_python + "\n";
  }
  for (const std::string& extra : release.provides_extra) {
    out += "Provides-Extra: " + extra + "\n";
  }
  for (const std::string& dep : release.requires_dist) {
    out += "Requires-Dist: " + dep + "\n";
  }
  out += "Description-Content-Type: " + release.description_content_type + "\n\n" +
         release.description;
  return out;
}

std::string Sentence(Rng& rng, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) {
    out += (i == 0 ? Capitalized(rng.Pick(kWords)) : " " + std::string(rng.Pick(kWords)));
  }
  return out + ".";
}

struct Context {
  fs::path storage;
  int versions = 3;
  std::vector<Blob> wheels;
  std::vector<Blob> sdists;
};

struct ProjectResult {
  doc::ProjectListEntry entry;
  std::int64_t files = 0;
  std::int64_t file_bytes = 0;
};

std::string WheelDistName(std::string_view normalized) {
  std::string out(normalized);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

// Writes one project: its files (links into the pools), the wheels' .metadata and its document.
ProjectResult WriteProject(const Context& ctx, const std::string& display_name,
                           std::uint64_t seed) {
  Rng rng(seed);
  const std::string normalized = model::NormalizeProjectName(display_name);
  const std::string dist = WheelDistName(normalized);
  doc::ProjectDoc doc;
  doc.name = normalized;
  doc.display_name = display_name;

  // Wheel tags: mostly pure Python, some CPython binaries with long manylinux tags.
  std::string python_tag = "py3";
  std::string wheel_tags = "py3-none-any";
  const double kind = rng.Real();
  if (kind > 0.90) {
    const std::string cp = "cp3" + std::to_string(rng.Between(8, 12));
    python_tag = cp;
    wheel_tags = cp + "-" + cp + "-manylinux_2_17_x86_64.manylinux2014_x86_64";
  } else if (kind > 0.80) {
    python_tag = "py2.py3";
    wheel_tags = "py2.py3-none-any";
  }
  const std::string requires_python(rng.Pick(kRequiresPython));
  const std::string license(rng.Pick(kLicenses));
  const std::string author = Capitalized(rng.Pick(kSyllables)) + std::string(rng.Pick(kSyllables)) +
                             " " + Capitalized(rng.Pick(kWords));
  std::vector<std::string> classifiers;
  for (int i = rng.Between(2, 6); i > 0; --i) {
    classifiers.emplace_back(rng.Pick(kClassifiers));
  }
  std::sort(classifiers.begin(), classifiers.end());
  classifiers.erase(std::unique(classifiers.begin(), classifiers.end()), classifiers.end());
  std::vector<std::string> deps;
  for (int i = rng.Between(0, 4); i > 0; --i) {
    deps.emplace_back(rng.Pick(kDependencies));
  }
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  const std::string summary = Sentence(rng, rng.Between(3, 10));
  std::string description = "# " + display_name + "\n\n";
  for (int i = rng.Between(1, 3); i > 0; --i) {
    description += Sentence(rng, rng.Between(8, 20)) + " ";
  }
  description += "\n";

  const fs::path files_dir = ctx.storage / "files" / normalized;
  MakeDirs(files_dir);
  std::int64_t when = kEpochStartMicros + static_cast<std::int64_t>(rng.Below(2500)) * kDayMicros +
                      static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(kDayMicros)));
  ProjectResult result;
  for (const std::string& text : MakeVersions(rng, ctx.versions)) {
    const model::Version version = Check(model::Version::Parse(text), "version " + text);
    const std::string canonical = version.Canonical();
    doc::ReleaseInfo release;
    release.version = canonical;
    release.created_micros = when;
    release.metadata_version = "2.1";
    release.summary = summary;
    release.description = description;
    release.description_content_type = "text/markdown";
    release.author = author;
    release.author_email = "dev@" + dist + ".example.org";
    release.license = license;
    release.keywords = std::string(rng.Pick(kWords)) + "," + std::string(rng.Pick(kWords));
    release.home_page = "https://github.com/example/" + normalized;
    release.project_urls = {"Source, https://github.com/example/" + normalized,
                            "Documentation, https://" + normalized + ".example.org/"};
    release.requires_python = requires_python;
    release.classifiers = classifiers;
    release.requires_dist = deps;
    if (!deps.empty() && deps.back().find("extra ==") != std::string::npos) {
      release.provides_extra = {"cli"};
    }
    const std::string metadata = MetadataText(display_name, release);
    doc.releases[version.ReleaseKey()] = release;

    auto add = [&](const std::string& filename, const Blob& blob, std::string_view filetype,
                   std::string_view python_version, std::string metadata_sha256) {
      Check(model::ParseDistFilename(filename, normalized), "filename " + filename);
      const std::string key = Check(storage::FileKey(normalized, filename), "key " + filename);
      Link(blob.path, ctx.storage / key);
      doc::FileEntry file;
      file.filename = filename;
      file.version = canonical;
      file.release_key = version.ReleaseKey();
      file.filetype = std::string(filetype);
      file.python_version = std::string(python_version);
      file.size = blob.size;
      file.sha256 = blob.digests.sha256;
      file.md5 = blob.digests.md5;
      file.blake2b_256 = blob.digests.blake2b_256;
      file.upload_time_micros = when;
      file.requires_python = requires_python;
      file.metadata_sha256 = std::move(metadata_sha256);
      file.uploader = std::string(kUploader);
      doc.files.push_back(std::move(file));
      result.files += 1;
      result.file_bytes += blob.size;
      when += static_cast<std::int64_t>(rng.Below(600)) * 1000000;
    };
    add(dist + "-" + canonical + ".tar.gz", rng.Pick(ctx.sdists), "sdist", "source", "");
    const std::string wheel = dist + "-" + canonical + "-" + wheel_tags + ".whl";
    const std::string metadata_key =
        Check(storage::MetadataKey(normalized, wheel), "metadata key " + wheel);
    WriteFile(ctx.storage / metadata_key, metadata);
    add(wheel, rng.Pick(ctx.wheels), "bdist_wheel", python_tag, Sha256Hex(metadata));
    when += (1 + static_cast<std::int64_t>(rng.Below(200))) * kDayMicros;
  }
  doc.serial = result.files;
  doc.SortFiles();
  const std::string doc_key = Check(storage::ProjectDocKey(normalized), "doc key " + normalized);
  WriteFile(ctx.storage / doc_key, doc::EncodeProjectDoc(doc));
  std::int64_t latest = 0;
  for (const doc::FileEntry& file : doc.files) {
    latest = std::max(latest, file.upload_time_micros);
  }
  result.entry = {normalized, display_name, latest};
  return result;
}

struct BigFile {
  std::string url;
  std::string filename;
  std::int64_t size = 0;
  std::string sha256;
};

// bench-big-files: one wheel per size, version 1.0, 2.0, ... with its own random bytes.
ProjectResult WriteBigProject(const fs::path& storage_dir, const std::vector<std::int64_t>& sizes,
                              std::uint64_t seed, std::vector<BigFile>& big) {
  const std::string name(kBigProject);
  const std::string dist = WheelDistName(name);
  MakeDirs(storage_dir / "files" / name);
  doc::ProjectDoc doc;
  doc.name = name;
  doc.display_name = name;
  Rng rng(seed ^ 0x626967ULL);
  std::vector<char> buffer(std::size_t{1} << 20);
  std::int64_t when = kEpochStartMicros + 3000 * kDayMicros;
  ProjectResult result;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::string version = std::to_string(i + 1) + ".0";
    const std::string filename = dist + "-" + version + "-py3-none-any.whl";
    const std::string key = Check(storage::FileKey(name, filename), "key " + filename);
    const fs::path path = storage_dir / key;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      Die("creating " + path.string() + ": " + std::strerror(errno));
    }
    Hasher hasher;
    for (std::int64_t left = sizes[i]; left > 0;) {
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::int64_t>(left, static_cast<std::int64_t>(buffer.size())));
      rng.Fill(buffer.data(), n);
      const std::string_view chunk(buffer.data(), n);
      hasher.Update(chunk);
      WriteAll(fd, chunk, path);
      left -= static_cast<std::int64_t>(n);
    }
    ::close(fd);
    const Digests digests = hasher.Finish();

    doc::ReleaseInfo release;
    release.version = version;
    release.created_micros = when;
    release.metadata_version = "2.1";
    release.summary = "Big files for the download benchmarks.";
    release.license = "MIT";
    const std::string metadata = MetadataText(name, release);
    WriteFile(storage_dir / Check(storage::MetadataKey(name, filename), "metadata key"), metadata);
    doc.releases[version] = release;

    doc::FileEntry file;
    file.filename = filename;
    file.version = version;
    file.release_key = version;
    file.filetype = "bdist_wheel";
    file.python_version = "py3";
    file.size = sizes[i];
    file.sha256 = digests.sha256;
    file.md5 = digests.md5;
    file.blake2b_256 = digests.blake2b_256;
    file.upload_time_micros = when;
    file.metadata_sha256 = Sha256Hex(metadata);
    file.uploader = std::string(kUploader);
    doc.files.push_back(file);
    big.push_back({"/files/" + name + "/" + filename, filename, sizes[i], digests.sha256});
    result.files += 1;
    result.file_bytes += sizes[i];
    when += kDayMicros;
  }
  doc.serial = result.files;
  doc.SortFiles();
  WriteFile(storage_dir / Check(storage::ProjectDocKey(name), "doc key"),
            doc::EncodeProjectDoc(doc));
  result.entry = {name, name, when - kDayMicros};
  return result;
}

struct Options {
  std::string out;
  int projects = 1000;
  int versions = 3;
  std::uint64_t seed = 1;
  int threads = 2;
  std::vector<std::int64_t> big_sizes = {std::int64_t{1} << 20, std::int64_t{100} << 20};
  bool force = false;
};

int Generate(const Options& options) {
  const auto started = std::chrono::steady_clock::now();
  if (const Status crypto = InitCrypto(); !crypto.ok()) {
    Die("libsodium: " + crypto.message());
  }
  const fs::path out(options.out);
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!options.force) {
      Die(out.string() + " exists; remove it or pass --force");
    }
    fs::remove_all(out, ec);
    if (ec) {
      Die("removing " + out.string() + ": " + ec.message());
    }
  }
  Context ctx;
  ctx.storage = out / "storage";
  ctx.versions = options.versions;
  const fs::path pool_dir = out / "pool";
  MakeDirs(pool_dir);
  MakeDirs(ctx.storage / "files");
  MakeDirs(ctx.storage / "index" / "projects");

  Rng pool_rng(options.seed ^ 0x706F6F6CULL);
  ctx.wheels = MakePool(pool_rng, pool_dir, "wheel-", 30000);
  ctx.sdists = MakePool(pool_rng, pool_dir, "sdist-", 40000);

  const std::vector<std::string> names = MakeNames(options.seed, options.projects);
  std::vector<ProjectResult> results(names.size());
  std::atomic<std::size_t> next{0};
  constexpr std::size_t kBatch = 256;
  auto work = [&] {
    for (;;) {
      const std::size_t begin = next.fetch_add(kBatch);
      if (begin >= names.size()) {
        return;
      }
      const std::size_t end = std::min(names.size(), begin + kBatch);
      for (std::size_t i = begin; i < end; ++i) {
        results[i] = WriteProject(ctx, names[i], options.seed * 1000003ULL + i);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, options.threads); ++t) {
    threads.emplace_back(work);
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  std::vector<BigFile> big;
  if (!options.big_sizes.empty()) {
    results.push_back(WriteBigProject(ctx.storage, options.big_sizes, options.seed, big));
  }

  doc::ProjectList list;
  std::int64_t files = 0;
  std::int64_t file_bytes = 0;
  for (const ProjectResult& result : results) {
    list.projects.push_back(result.entry);
    files += result.files;
    file_bytes += result.file_bytes;
  }
  std::sort(list.projects.begin(), list.projects.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  list.serial = static_cast<std::int64_t>(list.projects.size());
  WriteFile(ctx.storage / storage::ProjectListKey(), doc::EncodeProjectList(list));

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json::object manifest;
  manifest["generator_version"] = kGeneratorVersion;
  manifest["projects"] = static_cast<std::int64_t>(list.projects.size());
  manifest["generated_projects"] = static_cast<std::int64_t>(names.size());
  manifest["versions_per_project"] = options.versions;
  manifest["seed"] = options.seed;
  manifest["files"] = files;
  manifest["file_bytes"] = file_bytes;
  manifest["seconds"] = seconds;
  manifest["storage"] = "storage";
  manifest["big_project"] = std::string(kBigProject);
  json::array big_json;
  for (const BigFile& file : big) {
    big_json.push_back(json::object{{"url", file.url},
                                    {"filename", file.filename},
                                    {"size", file.size},
                                    {"sha256", file.sha256}});
  }
  manifest["big_files"] = std::move(big_json);
  const std::string text = json::serialize(manifest);
  WriteFile(out / "manifest.json", text + "\n");
  std::cout << text << std::endl;
  return 0;
}

std::vector<std::int64_t> ParseSizes(const std::string& text) {
  std::vector<std::int64_t> sizes;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || end != item.c_str() + item.size() || value <= 0) {
      Die("--big-file-sizes: bad size '" + item + "'");
    }
    sizes.push_back(value);
    start = comma + 1;
  }
  return sizes;
}

}  // namespace
}  // namespace pydepot::bench

int main(int argc, char** argv) {
  using namespace pydepot::bench;  // NOLINT(google-build-using-namespace)
  CLI::App app{"Writes a pydepot storage directory with many realistic projects (bench/)"};
  Options options;
  std::string big_sizes = "1048576,104857600";
  bool version = false;
  app.add_flag("--version", version, "Print the generator version (the cache key) and exit");
  app.add_option("--out", options.out, "Directory to create (DIR/storage is the storage)");
  app.add_option("--projects", options.projects, "Number of projects (besides bench-big-files)")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--versions", options.versions, "Releases per project (a wheel and an sdist each)")
      ->check(CLI::Range(1, 100));
  app.add_option("--seed", options.seed, "Seed of every random choice");
  app.add_option("--threads", options.threads, "Writer threads")->check(CLI::Range(1, 64));
  app.add_option("--big-file-sizes", big_sizes,
                 "Comma-separated sizes in bytes of the bench-big-files wheels (\"\" for none)");
  app.add_flag("--force", options.force, "Replace --out if it exists");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::cout << kGeneratorVersion << "\n";
    return 0;
  }
  if (options.out.empty()) {
    std::cerr << "pydepot_bench_gen: --out is required\n";
    return 2;
  }
  options.big_sizes = big_sizes.empty() ? std::vector<std::int64_t>{} : ParseSizes(big_sizes);
  return Generate(options);
}
