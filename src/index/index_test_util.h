// Test support for index_test and http_test (header-only; not part of the module): small real
// wheels and sdists built with libarchive's writer, a temp directory per test, and upload forms
// filled by hand with the digests of the bytes they carry.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "doc/upload_form.h"
#include "gtest/gtest.h"

namespace pydepot::index::testing {

// Takes one of `counter`'s remaining injected failures: true (and one fewer left) while any
// remain. For fault-injecting test stores.
inline bool TakeFailure(std::atomic<int>& counter) {
  int n = counter.load();
  while (n > 0) {
    if (counter.compare_exchange_weak(n, n - 1)) {
      return true;
    }
  }
  return false;
}

struct ArchiveMember {
  std::string path;
  std::string data;
};

inline la_ssize_t AppendToString(struct archive* /*writer*/, void* client, const void* buffer,
                                 size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// A zip (`zip` true, deflate) or a pax tar.gz of `members`, with a fixed mtime so that the same
// members always give the same bytes.
inline std::string BuildArchive(bool zip, const std::vector<ArchiveMember>& members) {
  std::string out;
  struct archive* writer = archive_write_new();
  if (zip) {
    archive_write_set_format_zip(writer);
  } else {
    archive_write_set_format_pax_restricted(writer);
    archive_write_add_filter_gzip(writer);
  }
  archive_write_set_bytes_in_last_block(writer, 1);
  EXPECT_EQ(archive_write_open(writer, &out, nullptr, AppendToString, nullptr), ARCHIVE_OK)
      << archive_error_string(writer);
  for (const ArchiveMember& member : members) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.path.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_size(entry, static_cast<la_int64_t>(member.data.size()));
    EXPECT_GE(archive_write_header(writer, entry), ARCHIVE_WARN) << archive_error_string(writer);
    if (!member.data.empty()) {
      EXPECT_EQ(archive_write_data(writer, member.data.data(), member.data.size()),
                static_cast<la_ssize_t>(member.data.size()));
    }
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(writer), ARCHIVE_OK) << archive_error_string(writer);
  archive_write_free(writer);
  return out;
}

// Core metadata for `name` and `version`, with `extra` header lines (each ending in "\n").
inline std::string Metadata(std::string_view name, std::string_view version,
                            std::string_view extra = "") {
  return "Metadata-Version: 2.1\nName: " + std::string(name) +
         "\nVersion: " + std::string(version) + "\n" + std::string(extra) + "\nA description.\n";
}

// A wheel whose dist-info directory is `{name_part}-{version_part}.dist-info`, holding
// `metadata`; `payload` goes into a module file, so different payloads give different bytes.
inline std::string Wheel(std::string_view name_part, std::string_view version_part,
                         const std::string& metadata, std::string_view payload = "") {
  const std::string dist_info =
      std::string(name_part) + "-" + std::string(version_part) + ".dist-info";
  return BuildArchive(true, {
                                {"pkg/__init__.py", "# " + std::string(payload) + "\n"},
                                {dist_info + "/METADATA", metadata},
                                {dist_info + "/WHEEL",
                                 "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
                                {dist_info + "/RECORD", ""},
                            });
}

// A PEP 625 sdist (tar.gz) with top directory `top` holding PKG-INFO = `pkg_info`.
inline std::string Sdist(std::string_view top, const std::string& pkg_info,
                         std::string_view payload = "") {
  const std::string dir(top);
  return BuildArchive(false, {
                                 {dir + "/PKG-INFO", pkg_info},
                                 {dir + "/pyproject.toml", "[project]\n"},
                                 {dir + "/src/pkg.py", "# " + std::string(payload) + "\n"},
                             });
}

// A fresh directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "index_test.XXXXXX").string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `bytes` to a new file in the directory and returns its path.
  std::filesystem::path Write(std::string_view bytes) {
    std::filesystem::path file = path_ / ("upload." + std::to_string(counter_++));
    std::ofstream out(file, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good());
    return file;
  }

 private:
  std::filesystem::path path_;
  std::atomic<int> counter_{0};
};

inline std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A legacy-API upload form as twine sends it for `filename` holding `bytes` (written to a file
// in `dir`), with every digest. `name` and `version` go into the form as given.
inline doc::UploadForm MakeForm(TempDir& dir, std::string filename, std::string_view bytes,
                                std::string_view name, std::string_view version) {
  doc::UploadForm form;
  const bool wheel = filename.ends_with(".whl");
  const Digests digests = ComputeDigests(bytes);
  form.fields[":action"] = {"file_upload"};
  form.fields["protocol_version"] = {"1"};
  form.fields["metadata_version"] = {"2.1"};
  form.fields["name"] = {std::string(name)};
  form.fields["version"] = {std::string(version)};
  form.fields["filetype"] = {wheel ? "bdist_wheel" : "sdist"};
  form.fields["pyversion"] = {wheel ? "py3" : "source"};
  form.fields["md5_digest"] = {digests.md5};
  form.fields["sha256_digest"] = {digests.sha256};
  form.fields["blake2_256_digest"] = {digests.blake2b_256};
  doc::UploadedFile content;
  content.filename = std::move(filename);
  content.content_type = "application/octet-stream";
  content.path = dir.Write(bytes);
  content.size = static_cast<std::int64_t>(bytes.size());
  content.digests = digests;
  form.content = std::move(content);
  return form;
}

// The phrases clients read as "the file already exists" (STANDARDS UP-14), and the one poetry
// reads as "register first" (UP-02). Only the duplicate-file error may contain the first ones.
inline const std::vector<std::string>& ReservedPhrases() {
  static const std::vector<std::string> kPhrases = {"already exist", "updating asset",
                                                    "already been taken", "overwrite artifact",
                                                    "was ever registered"};
  return kPhrases;
}

// The first reserved phrase `message` contains (case-insensitive), or "".
inline std::string ReservedPhraseIn(std::string_view message) {
  std::string lower(message);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  for (const std::string& phrase : ReservedPhrases()) {
    if (lower.find(phrase) != std::string::npos) {
      return phrase;
    }
  }
  return "";
}

}  // namespace pydepot::index::testing
