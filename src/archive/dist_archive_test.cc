#include "archive/dist_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/filename.h"
#include "model/metadata.h"
#include "model/project_name.h"

namespace pydepot::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kMetadata[] = "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n\nA description.\n";
constexpr char kPkgInfo[] = "Metadata-Version: 2.2\nName: foo\nVersion: 1.0\n";

// ---------------------------------------------------------------------------------------------
// Building archives in memory with libarchive's writer, so hostile inputs need no binary fixture.

enum class Format {
  kZip,        // deflate
  kZipStored,  // no compression
  kPaxTarGz,   // what PEP 625 asks for
  kUstarTar,   // no compression
  kGnuTarBz2,
  kPaxTarXz,
  kPaxTarZstd,
  kPaxTarLzma,
  kPaxTarLzip,
  kUstarTarZ,  // compress(1)
};

struct TestMember {
  std::string path;
  std::string data;
  unsigned int type = AE_IFREG;
  std::string link;        // symlink target
  std::string hardlink;    // hard link target
  std::int64_t zeros = 0;  // that many zero bytes after `data`, streamed, never held in memory
  bool sparse = false;     // one hole before `data` (tar only)
  bool encrypted = false;  // zip only
};

TestMember File(std::string path, std::string data) {
  TestMember member;
  member.path = std::move(path);
  member.data = std::move(data);
  return member;
}

TestMember Zeros(std::string path, std::int64_t count) {
  TestMember member;
  member.path = std::move(path);
  member.zeros = count;
  return member;
}

TestMember Dir(std::string path) {
  TestMember member;
  member.path = std::move(path);
  member.type = AE_IFDIR;
  return member;
}

TestMember Symlink(std::string path, std::string target) {
  TestMember member;
  member.path = std::move(path);
  member.type = AE_IFLNK;
  member.link = std::move(target);
  return member;
}

TestMember Hardlink(std::string path, std::string target) {
  TestMember member;
  member.path = std::move(path);
  member.hardlink = std::move(target);
  return member;
}

la_ssize_t AppendToString(struct archive* /*writer*/, void* client, const void* buffer,
                          size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

void Check(struct archive* writer, int rc, const char* what) {
  ASSERT_GE(rc, ARCHIVE_WARN) << what << ": " << archive_error_string(writer);
}

void WriteZeros(struct archive* writer, std::int64_t count) {
  static const std::string kZeros(std::size_t{1} << 20, '\0');
  while (count > 0) {
    const std::size_t n = count < static_cast<std::int64_t>(kZeros.size())
                              ? static_cast<std::size_t>(count)
                              : kZeros.size();
    ASSERT_EQ(archive_write_data(writer, kZeros.data(), n), static_cast<la_ssize_t>(n));
    count -= static_cast<std::int64_t>(n);
  }
}

std::string Build(Format format, const std::vector<TestMember>& members) {
  std::string out;
  struct archive* writer = archive_write_new();
  switch (format) {
    case Format::kZip:
    case Format::kZipStored:
      archive_write_set_format_zip(writer);
      if (format == Format::kZipStored) {
        archive_write_set_options(writer, "zip:compression=store");
      }
      break;
    case Format::kPaxTarGz:
      archive_write_set_format_pax_restricted(writer);
      archive_write_add_filter_gzip(writer);
      break;
    case Format::kUstarTar:
      archive_write_set_format_ustar(writer);
      break;
    case Format::kGnuTarBz2:
      archive_write_set_format_gnutar(writer);
      archive_write_add_filter_bzip2(writer);
      break;
    case Format::kPaxTarXz:
      archive_write_set_format_pax_restricted(writer);
      archive_write_add_filter_xz(writer);
      break;
    case Format::kPaxTarZstd:
      archive_write_set_format_pax_restricted(writer);
      archive_write_add_filter_zstd(writer);
      break;
    case Format::kPaxTarLzma:
      archive_write_set_format_pax_restricted(writer);
      archive_write_add_filter_lzma(writer);
      break;
    case Format::kPaxTarLzip:
      archive_write_set_format_pax_restricted(writer);
      archive_write_add_filter_lzip(writer);
      break;
    case Format::kUstarTarZ:
      archive_write_set_format_ustar(writer);
      archive_write_add_filter_compress(writer);
      break;
  }
  if (std::any_of(members.begin(), members.end(),
                  [](const TestMember& m) { return m.encrypted; })) {
    Check(writer, archive_write_set_options(writer, "zip:encryption=zipcrypt"), "encryption");
    Check(writer, archive_write_set_passphrase(writer, "secret"), "passphrase");
  }
  archive_write_set_bytes_in_last_block(writer, 1);
  Check(writer, archive_write_open(writer, &out, nullptr, AppendToString, nullptr), "open");
  for (const TestMember& member : members) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.path.c_str());
    archive_entry_set_filetype(entry, member.type);
    archive_entry_set_perm(entry, member.type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(entry, 1700000000, 0);
    if (!member.link.empty()) {
      archive_entry_set_symlink(entry, member.link.c_str());
    }
    if (!member.hardlink.empty()) {
      archive_entry_set_hardlink(entry, member.hardlink.c_str());
    }
    const std::int64_t hole = member.sparse ? 1 << 20 : 0;
    if (member.type == AE_IFREG && member.hardlink.empty()) {
      archive_entry_set_size(entry,
                             hole + static_cast<std::int64_t>(member.data.size()) + member.zeros);
    }
    if (member.sparse) {
      archive_entry_sparse_add_entry(entry, hole, static_cast<std::int64_t>(member.data.size()));
    }
    Check(writer, archive_write_header(writer, entry), "header");
    WriteZeros(writer, hole);  // the writer drops the bytes of a hole
    if (!member.data.empty()) {
      EXPECT_EQ(archive_write_data(writer, member.data.data(), member.data.size()),
                static_cast<la_ssize_t>(member.data.size()));
    }
    WriteZeros(writer, member.zeros);
    archive_entry_free(entry);
  }
  Check(writer, archive_write_close(writer), "close");
  archive_write_free(writer);
  return out;
}

// The members every wheel has, under `dist_info`.
std::vector<TestMember> WheelMembers(const std::string& dist_info,
                                     const std::string& metadata = kMetadata) {
  return {
      File("foo/__init__.py", ""),
      File(dist_info + "/METADATA", metadata),
      File(dist_info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
      File(dist_info + "/RECORD", ""),
  };
}

model::DistFilename WheelName(std::string name_part = "foo", std::string version_part = "1.0") {
  model::DistFilename name;
  name.filename = name_part + "-" + version_part + "-py3-none-any.whl";
  name.kind = model::DistKind::kWheel;
  name.name_part = std::move(name_part);
  name.project = model::NormalizeProjectName(name.name_part);
  name.version_part = std::move(version_part);
  name.extension = ".whl";
  return name;
}

model::DistFilename SdistName(std::string name_part = "foo", std::string version_part = "1.0",
                              std::string extension = ".tar.gz") {
  model::DistFilename name;
  name.filename = name_part + "-" + version_part + extension;
  name.kind = model::DistKind::kSdist;
  name.name_part = std::move(name_part);
  name.project = model::NormalizeProjectName(name.name_part);
  name.version_part = std::move(version_part);
  name.extension = std::move(extension);
  return name;
}

// Expects kInvalidArgument with `substring` in the message.
void ExpectInvalid(const StatusOr<DistMetadata>& result, std::string_view substring) {
  ASSERT_FALSE(result.has_value()) << "read " << result->member;
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument) << result.error();
  EXPECT_THAT(result.error().message(), HasSubstr(std::string(substring)));
}

StatusOr<DistMetadata> ReadWheel(const std::string& bytes, const ArchiveLimits& limits = {}) {
  return ReadDistMetadataFromMemory(bytes, WheelName(), limits);
}

StatusOr<DistMetadata> ReadSdist(const std::string& bytes, const ArchiveLimits& limits = {}) {
  return ReadDistMetadataFromMemory(bytes, SdistName(), limits);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fresh directory for one test, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "dist_archive_test.XXXXXX").string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A second, independent read of one zip member by exact name: the streaming and seekable zip
// readers both enabled, nothing of the code under test.
std::string ReadZipMember(const fs::path& path, const std::string& member) {
  struct archive* reader = archive_read_new();
  archive_read_support_format_zip(reader);
  std::string contents;
  int found = 0;
  if (archive_read_open_filename(reader, path.c_str(), 10240) == ARCHIVE_OK) {
    struct archive_entry* entry = nullptr;
    int rc = ARCHIVE_OK;
    while ((rc = archive_read_next_header(reader, &entry)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
      const char* name = archive_entry_pathname(entry);
      if (name != nullptr && member == name) {
        ++found;
        char buffer[4096];
        la_ssize_t n = 0;
        while ((n = archive_read_data(reader, buffer, sizeof buffer)) > 0) {
          contents.append(buffer, static_cast<std::size_t>(n));
        }
      }
    }
  }
  archive_read_free(reader);
  EXPECT_EQ(found, 1) << member;
  return contents;
}

// ---------------------------------------------------------------------------------------------
// Real distributions.

// Wheels nobody here wrote: Debian's python3-pip-whl, python3-setuptools-whl, python3-wheel-whl.
TEST(DistArchiveTest, DebianWheels) {
  const fs::path dir = "/usr/share/python-wheels";
  std::vector<fs::path> wheels;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".whl") {
      wheels.push_back(entry.path());
    }
  }
  if (wheels.empty()) {
    GTEST_SKIP() << "no wheels in " << dir;
  }
  for (const fs::path& path : wheels) {
    SCOPED_TRACE(path.string());
    // {name}-{version}-...: enough of the filename grammar for these three.
    const std::string filename = path.filename().string();
    const std::size_t dash1 = filename.find('-');
    const std::size_t dash2 = filename.find('-', dash1 + 1);
    model::DistFilename name =
        WheelName(filename.substr(0, dash1), filename.substr(dash1 + 1, dash2 - dash1 - 1));
    name.filename = filename;

    const StatusOr<DistMetadata> from_file = ReadDistMetadata(path, name);
    ASSERT_TRUE(from_file.has_value()) << from_file.error();
    const std::string member = name.name_part + "-" + name.version_part + ".dist-info/METADATA";
    EXPECT_EQ(from_file->member, member);
    EXPECT_THAT(from_file->contents, StartsWith("Metadata-Version:"));
    EXPECT_EQ(from_file->contents, ReadZipMember(path, member));

    const StatusOr<DistMetadata> from_memory = ReadDistMetadataFromMemory(ReadFile(path), name);
    ASSERT_TRUE(from_memory.has_value()) << from_memory.error();
    EXPECT_EQ(from_memory->member, from_file->member);
    EXPECT_EQ(from_memory->contents, from_file->contents);

    const StatusOr<model::CoreMetadata> metadata = model::CoreMetadata::Parse(from_file->contents);
    ASSERT_TRUE(metadata.has_value()) << metadata.error();
    EXPECT_EQ(model::NormalizeProjectName(metadata->name()), name.project);
    EXPECT_EQ(metadata->version(), name.version_part);
    EXPECT_FALSE(metadata->description().empty());
    EXPECT_EQ(metadata->raw(), from_file->contents);
  }
}

// Archives written by Python's zipfile and tarfile (tests/testdata/archives/make_fixtures.py),
// each with the member bytes Python wrote next to it.
TEST(DistArchiveTest, PythonWrittenFixtures) {
  const fs::path dir = fs::path(PYDEPOT_SOURCE_DIR) / "tests/testdata/archives";
  struct Fixture {
    std::string file;
    model::DistFilename name;
    std::string member;
  };
  const Fixture fixtures[] = {
      {"demo_pkg-1.0-py3-none-any.whl", WheelName("demo_pkg", "1.0"),
       "demo_pkg-1.0.dist-info/METADATA"},
      {"demo_pkg-1.0.tar.gz", SdistName("demo_pkg", "1.0"), "demo_pkg-1.0/PKG-INFO"},
      {"Demo.Pkg-1.0.zip", SdistName("Demo.Pkg", "1.0", ".zip"), "Demo.Pkg-1.0/PKG-INFO"},
  };
  for (const Fixture& fixture : fixtures) {
    SCOPED_TRACE(fixture.file);
    const fs::path path = dir / fixture.file;
    const std::string expected = ReadFile(dir / (fixture.file + ".metadata"));
    ASSERT_FALSE(expected.empty());

    const StatusOr<DistMetadata> from_file = ReadDistMetadata(path, fixture.name);
    ASSERT_TRUE(from_file.has_value()) << from_file.error();
    EXPECT_EQ(from_file->member, fixture.member);
    EXPECT_EQ(from_file->contents, expected);

    const StatusOr<DistMetadata> from_memory =
        ReadDistMetadataFromMemory(ReadFile(path), fixture.name);
    ASSERT_TRUE(from_memory.has_value()) << from_memory.error();
    EXPECT_EQ(from_memory->contents, expected);

    const StatusOr<model::CoreMetadata> metadata = model::CoreMetadata::Parse(expected);
    ASSERT_TRUE(metadata.has_value()) << metadata.error();
    EXPECT_EQ(metadata->name(), "demo-pkg");
    EXPECT_EQ(metadata->Get("Author"), "Zo\xc3\xab Example");
  }
}

// ---------------------------------------------------------------------------------------------
// Wheels.

TEST(DistArchiveTest, WheelMetadataIsReadExactly) {
  for (Format format : {Format::kZip, Format::kZipStored}) {
    const StatusOr<DistMetadata> result =
        ReadWheel(Build(format, WheelMembers("foo-1.0.dist-info")));
    ASSERT_TRUE(result.has_value()) << result.error();
    EXPECT_EQ(result->member, "foo-1.0.dist-info/METADATA");
    EXPECT_EQ(result->contents, kMetadata);
  }
}

TEST(DistArchiveTest, WheelMetadataWithEveryByteValue) {
  std::string metadata(kMetadata);
  for (int i = 0; i < 256; ++i) {
    metadata += static_cast<char>(i);
  }
  metadata += std::string(300000, 'x');  // several read chunks
  const StatusOr<DistMetadata> result =
      ReadWheel(Build(Format::kZip, WheelMembers("foo-1.0.dist-info", metadata)));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->contents, metadata);
}

TEST(DistArchiveTest, WheelFromFile) {
  TempDir dir;
  const fs::path path = dir.path() / "foo-1.0-py3-none-any.whl";
  std::ofstream(path, std::ios::binary) << Build(Format::kZip, WheelMembers("foo-1.0.dist-info"));
  const StatusOr<DistMetadata> result = ReadDistMetadata(path, WheelName());
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->contents, kMetadata);
}

TEST(DistArchiveTest, MissingFileIsNotFound) {
  TempDir dir;
  const StatusOr<DistMetadata> result =
      ReadDistMetadata(dir.path() / "foo-1.0-py3-none-any.whl", WheelName());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kNotFound);
}

TEST(DistArchiveTest, DirectoryIsNotAnArchive) {
  TempDir dir;
  const StatusOr<DistMetadata> result = ReadDistMetadata(dir.path(), WheelName());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
}

TEST(DistArchiveTest, WheelDistInfoNamedFromTheFilenameAsWritten) {
  // Name and version parts as written: "Foo.Bar-1.0.dist-info", not the normalized spelling.
  const std::string bytes = Build(Format::kZip, WheelMembers("Foo.Bar-1.0.dist-info"));
  const StatusOr<DistMetadata> result =
      ReadDistMetadataFromMemory(bytes, WheelName("Foo.Bar", "1.0"));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->member, "Foo.Bar-1.0.dist-info/METADATA");
}

TEST(DistArchiveTest, WheelDistInfoWithAnEquivalentName) {
  // Older tools spelled the directory differently from the filename.
  for (const char* dir : {"Foo.Bar-1.0.dist-info", "foo-bar-1.0.dist-info",
                          "FOO__bar-1.0.dist-info", "foo_bar-1_0.dist-info"}) {
    SCOPED_TRACE(dir);
    const StatusOr<DistMetadata> result = ReadDistMetadataFromMemory(
        Build(Format::kZip, WheelMembers(dir)), WheelName("foo_bar", "1.0"));
    ASSERT_TRUE(result.has_value()) << result.error();
    EXPECT_EQ(result->member, std::string(dir) + "/METADATA");
  }
}

TEST(DistArchiveTest, WheelExactDistInfoWinsOverEquivalentOnes) {
  std::vector<TestMember> members = WheelMembers("foo_bar-1.0.dist-info");
  for (TestMember& member : WheelMembers("Foo.Bar-1.0.dist-info", "decoy")) {
    members.push_back(std::move(member));
  }
  const StatusOr<DistMetadata> result =
      ReadDistMetadataFromMemory(Build(Format::kZip, members), WheelName("foo_bar", "1.0"));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->member, "foo_bar-1.0.dist-info/METADATA");
  EXPECT_EQ(result->contents, kMetadata);
}

TEST(DistArchiveTest, WheelWithTwoEquivalentDistInfosIsAmbiguous) {
  std::vector<TestMember> members = WheelMembers("Foo.Bar-1.0.dist-info");
  for (TestMember& member : WheelMembers("foo-bar-1.0.dist-info")) {
    members.push_back(std::move(member));
  }
  ExpectInvalid(
      ReadDistMetadataFromMemory(Build(Format::kZip, members), WheelName("foo_bar", "1.0")),
      "more than one .dist-info directory");
}

TEST(DistArchiveTest, WheelDistInfoOfAnotherVersionDoesNotCount) {
  ExpectInvalid(ReadWheel(Build(Format::kZip, WheelMembers("foo-1.1.dist-info"))),
                "wheel has no foo-1.0.dist-info/METADATA");
}

TEST(DistArchiveTest, WheelWithoutMetadata) {
  ExpectInvalid(
      ReadWheel(Build(Format::kZip, {File("foo/__init__.py", ""),
                                     File("foo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"),
                                     File("foo-1.0.dist-info/RECORD", "")})),
      "wheel has no foo-1.0.dist-info/METADATA");
  ExpectInvalid(ReadWheel(Build(Format::kZip, {File("foo/__init__.py", "")})),
                "wheel has no foo-1.0.dist-info/METADATA");
}

TEST(DistArchiveTest, WheelMetadataNestedTooDeepDoesNotCount) {
  ExpectInvalid(ReadWheel(Build(Format::kZip, WheelMembers("pkg/foo-1.0.dist-info"))),
                "wheel has no foo-1.0.dist-info/METADATA");
}

TEST(DistArchiveTest, WheelWithDuplicateMetadata) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members.push_back(File("foo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: evil\n"));
  ExpectInvalid(ReadWheel(Build(Format::kZip, members)),
                "wheel has more than one foo-1.0.dist-info/METADATA");
}

TEST(DistArchiveTest, WheelWithoutWheelOrRecordFile) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  std::vector<TestMember> no_wheel;
  std::vector<TestMember> no_record;
  for (TestMember& member : members) {
    if (!member.path.ends_with("/WHEEL")) {
      no_wheel.push_back(member);
    }
    if (!member.path.ends_with("/RECORD")) {
      no_record.push_back(member);
    }
  }
  ExpectInvalid(ReadWheel(Build(Format::kZip, no_wheel)), "wheel has no foo-1.0.dist-info/WHEEL");
  ExpectInvalid(ReadWheel(Build(Format::kZip, no_record)), "wheel has no foo-1.0.dist-info/RECORD");
}

TEST(DistArchiveTest, WheelMetadataThatIsNotAFile) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members[1] = Symlink("foo-1.0.dist-info/METADATA", "WHEEL");
  ExpectInvalid(ReadWheel(Build(Format::kZip, members)), "is not a regular file");
}

TEST(DistArchiveTest, WheelThatIsATarball) {
  ExpectInvalid(ReadWheel(Build(Format::kPaxTarGz, WheelMembers("foo-1.0.dist-info"))),
                "not a valid zip archive");
}

TEST(DistArchiveTest, WheelWithNonAsciiMemberNames) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members.push_back(File("foo/caf\xc3\xa9.txt", "x"));
  members.push_back(File("foo/\xff\xfe.bin", "x"));
  const StatusOr<DistMetadata> result = ReadWheel(Build(Format::kZip, members));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->contents, kMetadata);
}

// ---------------------------------------------------------------------------------------------
// Sdists.

TEST(DistArchiveTest, SdistInEveryFormat) {
  const std::vector<TestMember> members = {
      Dir("foo-1.0"),
      File("foo-1.0/PKG-INFO", kPkgInfo),
      File("foo-1.0/pyproject.toml", "[project]\nname = \"foo\"\n"),
      File("foo-1.0/src/foo/__init__.py", ""),
  };
  for (Format format : {Format::kPaxTarGz, Format::kUstarTar, Format::kGnuTarBz2, Format::kPaxTarXz,
                        Format::kPaxTarZstd, Format::kPaxTarLzma, Format::kPaxTarLzip,
                        Format::kUstarTarZ, Format::kZip, Format::kZipStored}) {
    SCOPED_TRACE(static_cast<int>(format));
    const StatusOr<DistMetadata> result = ReadSdist(Build(format, members));
    ASSERT_TRUE(result.has_value()) << result.error();
    EXPECT_EQ(result->member, "foo-1.0/PKG-INFO");
    EXPECT_EQ(result->contents, kPkgInfo);
  }
}

TEST(DistArchiveTest, SdistWithoutDirectoryEntries) {
  const StatusOr<DistMetadata> result = ReadSdist(
      Build(Format::kPaxTarGz, {File("foo-1.0/setup.py", ""), File("foo-1.0/PKG-INFO", kPkgInfo)}));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->contents, kPkgInfo);
}

TEST(DistArchiveTest, SdistWithDotSlashPaths) {
  // `tar czf foo-1.0.tar.gz ./foo-1.0` and `tar -C dir .` write these.
  const StatusOr<DistMetadata> result = ReadSdist(
      Build(Format::kPaxTarGz, {Dir("./"), Dir("./foo-1.0"), File("./foo-1.0/PKG-INFO", kPkgInfo),
                                File("foo-1.0//setup.py", "")}));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->member, "./foo-1.0/PKG-INFO");
}

TEST(DistArchiveTest, SdistTopLevelDirectoryNameIsNotChecked) {
  // Legacy sdists do not always name it {name}-{version}; PyPI does not check it either.
  const StatusOr<DistMetadata> result =
      ReadSdist(Build(Format::kPaxTarGz, {File("Foo-1.0.0/PKG-INFO", kPkgInfo)}));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->member, "Foo-1.0.0/PKG-INFO");
}

TEST(DistArchiveTest, SdistWithTwoTopLevelDirectories) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                                    File("bar-1.0/PKG-INFO", kPkgInfo)})),
                "more than one top-level directory");
  ExpectInvalid(
      ReadSdist(Build(Format::kZip, {File("foo-1.0/PKG-INFO", kPkgInfo), File("README", "")})),
      "more than one top-level directory");
}

TEST(DistArchiveTest, SdistWithoutTopLevelDirectory) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("PKG-INFO", kPkgInfo)})),
                "no top-level directory");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {})), "no top-level directory");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {Dir("./")})), "no top-level directory");
}

TEST(DistArchiveTest, SdistWithoutPkgInfo) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/setup.py", "")})),
                "sdist has no foo-1.0/PKG-INFO");
  ExpectInvalid(
      ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/foo.egg-info/PKG-INFO", kPkgInfo)})),
      "sdist has no foo-1.0/PKG-INFO");
}

TEST(DistArchiveTest, SdistWithDuplicatePkgInfo) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                                    File("foo-1.0/PKG-INFO", "evil")})),
                "more than one foo-1.0/PKG-INFO");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                                    File("./foo-1.0/PKG-INFO", "evil")})),
                "more than one foo-1.0/PKG-INFO");
}

TEST(DistArchiveTest, SdistPkgInfoThatIsNotAFile) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {Dir("foo-1.0/PKG-INFO")})),
                "is not a regular file");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/setup.py", "x"),
                                                    Symlink("foo-1.0/PKG-INFO", "setup.py")})),
                "is not a regular file");
  ExpectInvalid(
      ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/setup.py", "x"),
                                          Hardlink("foo-1.0/PKG-INFO", "foo-1.0/setup.py")})),
      "is not a regular file");
}

TEST(DistArchiveTest, SdistLinksInsideAreAccepted) {
  const StatusOr<DistMetadata> result = ReadSdist(Build(
      Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), File("foo-1.0/LICENSE", "MIT"),
                          Symlink("foo-1.0/docs/LICENSE", "../LICENSE"),
                          Symlink("foo-1.0/docs/LICENSE2", "LICENSE"),  // a link to a link
                          Symlink("foo-1.0/self", "."), Symlink("foo-1.0/up", "../foo-1.0/x/.."),
                          Hardlink("foo-1.0/COPYING", "foo-1.0/LICENSE")}));
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->contents, kPkgInfo);
}

TEST(DistArchiveTest, SdistSymlinkToEtcPasswd) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                                    Symlink("foo-1.0/passwd", "/etc/passwd")})),
                "points outside the archive");
}

TEST(DistArchiveTest, SdistSymlinksPointingOutside) {
  for (const char* target :
       {"../../etc/passwd", "../..", "a/../../..", "../foo-1.0/../..", "C:/Windows", "..\\..\\x"}) {
    SCOPED_TRACE(target);
    ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                                      Symlink("foo-1.0/link", target)})),
                  "points outside the archive");
  }
}

TEST(DistArchiveTest, SdistSymlinkInZipPointingOutside) {
  ExpectInvalid(ReadSdist(Build(Format::kZip, {File("foo-1.0/PKG-INFO", kPkgInfo),
                                               Symlink("foo-1.0/passwd", "/etc/passwd")})),
                "points outside the archive");
}

TEST(DistArchiveTest, SdistChainedSymlinks) {
  // Each link alone resolves inside, but "deep/l" is the directory foo-1.0, so "x" really points
  // two levels above foo-1.0.
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz,
                                {File("foo-1.0/PKG-INFO", kPkgInfo), Dir("foo-1.0/deep/deeper"),
                                 Symlink("foo-1.0/deep/deeper/l", "../.."),
                                 Symlink("foo-1.0/x", "deep/deeper/l/../../etc")})),
                "goes through another symbolic link");
}

TEST(DistArchiveTest, SdistMemberInsideASymlink) {
  // The classic: a link to a directory outside, then a file written through it. Here the link
  // itself resolves inside, but a later member must not be written through any link.
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz,
                                {File("foo-1.0/PKG-INFO", kPkgInfo), Dir("foo-1.0/real"),
                                 Symlink("foo-1.0/link", "real"), File("foo-1.0/link/file", "x")})),
                "is inside a symbolic link");
}

TEST(DistArchiveTest, SdistHardlinksPointingOutside) {
  for (const char* target : {"/etc/passwd", "../etc/passwd", "foo-1.0/../../x"}) {
    SCOPED_TRACE(target);
    const StatusOr<DistMetadata> result = ReadSdist(Build(
        Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), Hardlink("foo-1.0/h", target)}));
    ASSERT_FALSE(result.has_value());
    EXPECT_THAT(result.error().message(), HasSubstr("hard link"));
  }
}

TEST(DistArchiveTest, SdistHardlinkThroughASymlink) {
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz,
                                {File("foo-1.0/PKG-INFO", kPkgInfo), Symlink("foo-1.0/l", "."),
                                 Hardlink("foo-1.0/h", "foo-1.0/l/PKG-INFO")})),
                "goes through a symbolic link");
}

TEST(DistArchiveTest, SdistDeviceFiles) {
  for (unsigned int type : {AE_IFCHR, AE_IFBLK, AE_IFIFO}) {
    TestMember device = Dir("foo-1.0/dev");
    device.type = type;
    ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), device})),
                  "device, FIFO or socket");
  }
}

TEST(DistArchiveTest, SdistSparseMember) {
  TestMember sparse = File("foo-1.0/sparse.bin", "data");
  sparse.sparse = true;
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), sparse})),
                "sparse");
}

// ---------------------------------------------------------------------------------------------
// Hostile member paths, in both kinds.

TEST(DistArchiveTest, UnsafeMemberPaths) {
  struct Case {
    const char* path;
    const char* message;
  };
  const Case cases[] = {
      {"../evil", "has a '..' component"},    {"foo-1.0/../../evil", "has a '..' component"},
      {"foo-1.0/..", "has a '..' component"}, {"foo-1.0\\..\\..\\evil", "has a '..' component"},
      {"/abs/path", "is an absolute path"},   {"//server/share", "is an absolute path"},
      {"\\abs\\path", "is an absolute path"}, {"C:/Windows/evil", "is an absolute path"},
      {"c:evil", "is an absolute path"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    std::vector<TestMember> wheel = WheelMembers("foo-1.0.dist-info");
    wheel.push_back(File(c.path, "x"));
    ExpectInvalid(ReadWheel(Build(Format::kZip, wheel)), c.message);
    ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz,
                                  {File("foo-1.0/PKG-INFO", kPkgInfo), File(c.path, "x")})),
                  c.message);
    ExpectInvalid(
        ReadSdist(Build(Format::kZip, {File("foo-1.0/PKG-INFO", kPkgInfo), File(c.path, "x")})),
        c.message);
  }
}

TEST(DistArchiveTest, OverlongMemberPath) {
  std::vector<TestMember> wheel = WheelMembers("foo-1.0.dist-info");
  wheel.push_back(File("foo/" + std::string(5000, 'a'), "x"));
  ExpectInvalid(ReadWheel(Build(Format::kZip, wheel)), "is longer than 4096 bytes");
}

TEST(DistArchiveTest, MessagesQuoteMemberPathsSafely) {
  std::vector<TestMember> wheel = WheelMembers("foo-1.0.dist-info");
  wheel.push_back(File("/x\n\x1b[31m'", "x"));
  const StatusOr<DistMetadata> result = ReadWheel(Build(Format::kZip, wheel));
  ASSERT_FALSE(result.has_value());
  EXPECT_THAT(result.error().message(), HasSubstr("'/x\\x0a\\x1b[31m\\x27'"));
}

// ---------------------------------------------------------------------------------------------
// Bombs and limits.

TEST(DistArchiveTest, ZipBomb) {
  // 100 MB of zeros deflate to about 100 KB: past the 64 MiB threshold and 50 times the size.
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members.push_back(Zeros("foo/zeros.bin", 100'000'000));
  const std::string bytes = Build(Format::kZip, members);
  ASSERT_LT(bytes.size(), 1'000'000u);
  ExpectInvalid(ReadWheel(bytes), "decompression bomb");
}

TEST(DistArchiveTest, ZipBombSpreadOverManyMembers) {
  // No member is large; their sum is. Scaled down 100 times with the threshold.
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  for (int i = 0; i < 100; ++i) {
    members.push_back(Zeros("foo/zeros" + std::to_string(i), 10'000));
  }
  ArchiveLimits limits;
  limits.ratio_threshold_bytes = 640 << 10;
  ExpectInvalid(ReadWheel(Build(Format::kZip, members), limits), "decompression bomb");
}

TEST(DistArchiveTest, HugeMetadataMemberOfZeros) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members[1] = Zeros("foo-1.0.dist-info/METADATA", 100'000'000);
  ExpectInvalid(ReadWheel(Build(Format::kZip, members)), "decompression bomb");
}

TEST(DistArchiveTest, MetadataLargerThanTheLimit) {
  // Below the bomb threshold, so the metadata size limit is what refuses it.
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members[1] = Zeros("foo-1.0.dist-info/METADATA", 9 << 20);
  ExpectInvalid(ReadWheel(Build(Format::kZip, members)),
                "'foo-1.0.dist-info/METADATA' is larger than 8388608 bytes");

  ArchiveLimits limits;
  limits.max_metadata_bytes = 10;
  ExpectInvalid(ReadWheel(Build(Format::kZip, WheelMembers("foo-1.0.dist-info")), limits),
                "is larger than 10 bytes");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo)}), limits),
                "is larger than 10 bytes");
}

TEST(DistArchiveTest, MetadataExactlyAtTheLimit) {
  ArchiveLimits limits;
  limits.max_metadata_bytes = static_cast<std::int64_t>(sizeof(kMetadata) - 1);
  const StatusOr<DistMetadata> result =
      ReadWheel(Build(Format::kZip, WheelMembers("foo-1.0.dist-info")), limits);
  ASSERT_TRUE(result.has_value()) << result.error();
}

// Overwrites the uncompressed size of every zip header (local and central) for `member`.
void SetDeclaredZipSize(std::string& zip, const std::string& member, std::uint32_t size) {
  const auto put32 = [&zip](std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) {
      zip[at + static_cast<std::size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
    }
  };
  int patched = 0;
  for (std::size_t at = zip.find(member); at != std::string::npos; at = zip.find(member, at + 1)) {
    if (at >= 46 && zip.compare(at - 46, 4, "PK\x01\x02") == 0) {
      put32(at - 46 + 24, size);
      ++patched;
    } else if (at >= 30 && zip.compare(at - 30, 4, "PK\x03\x04") == 0) {
      put32(at - 30 + 22, size);
      ++patched;
    }
  }
  ASSERT_GE(patched, 1);
}

TEST(DistArchiveTest, MetadataWhoseDeclaredSizeLies) {
  // The central directory says 100 bytes; the deflate stream holds 9 MiB. Reading is capped by
  // what arrives, not by what is declared (or libarchive notices the mismatch first).
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members[1] = Zeros("foo-1.0.dist-info/METADATA", 9 << 20);
  std::string zip = Build(Format::kZip, members);
  SetDeclaredZipSize(zip, "foo-1.0.dist-info/METADATA", 100);
  const StatusOr<DistMetadata> result = ReadWheel(zip);
  ASSERT_FALSE(result.has_value()) << result->contents.size();
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
}

TEST(DistArchiveTest, TarGzBomb) {
  const std::string bytes = Build(
      Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), Zeros("foo-1.0/zeros", 100'000'000)});
  ASSERT_LT(bytes.size(), 1'000'000u);
  ExpectInvalid(ReadSdist(bytes), "decompression bomb");
}

TEST(DistArchiveTest, BombRatioIsConfigurable) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members.push_back(Zeros("foo/zeros.bin", 2'000'000));
  const std::string bytes = Build(Format::kZip, members);
  ASSERT_TRUE(ReadWheel(bytes).has_value());  // under the 64 MiB threshold
  ArchiveLimits limits;
  limits.ratio_threshold_bytes = 1'000'000;
  ExpectInvalid(ReadWheel(bytes, limits), "more than 50 times its size");
  limits.max_ratio = 100'000;
  EXPECT_TRUE(ReadWheel(bytes, limits).has_value());
}

TEST(DistArchiveTest, UncompressedBudget) {
  // Incompressible data, so the ratio check stays quiet and the budget is what stops it.
  std::string noise(3 << 20, '\0');
  std::uint32_t state = 12345;
  for (char& c : noise) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  const std::string bytes =
      Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), File("foo-1.0/noise", noise)});
  ASSERT_TRUE(ReadSdist(bytes).has_value());
  ArchiveLimits limits;
  limits.max_uncompressed_bytes = 1 << 20;
  ExpectInvalid(ReadSdist(bytes, limits), "unpacks to more than 1048576 bytes");
}

TEST(DistArchiveTest, TooManyEntries) {
  std::vector<TestMember> wheel = WheelMembers("foo-1.0.dist-info");
  std::vector<TestMember> sdist = {File("foo-1.0/PKG-INFO", kPkgInfo)};
  for (int i = 0; i < 20; ++i) {
    wheel.push_back(File("foo/" + std::to_string(i), ""));
    sdist.push_back(File("foo-1.0/" + std::to_string(i), ""));
  }
  ArchiveLimits limits;
  limits.max_entries = 10;
  ExpectInvalid(ReadWheel(Build(Format::kZip, wheel), limits), "more than 10 members");
  ExpectInvalid(ReadSdist(Build(Format::kPaxTarGz, sdist), limits), "more than 10 members");
  limits.max_entries = 24;
  EXPECT_TRUE(ReadWheel(Build(Format::kZip, wheel), limits).has_value());
  limits.max_entries = 21;
  EXPECT_TRUE(ReadSdist(Build(Format::kPaxTarGz, sdist), limits).has_value());
}

// ---------------------------------------------------------------------------------------------
// Corrupt input.

TEST(DistArchiveTest, TruncatedZip) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  members.push_back(File("foo/big.txt", std::string(100000, 'y')));
  const std::string bytes = Build(Format::kZip, members);
  ExpectInvalid(ReadWheel(bytes.substr(0, bytes.size() / 2)), "not a valid zip archive");
  ExpectInvalid(ReadWheel(bytes.substr(0, bytes.size() - 1)), "");
}

TEST(DistArchiveTest, TruncatedTarGz) {
  std::string noise(200000, '\0');
  std::uint32_t state = 1;
  for (char& c : noise) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  const std::string bytes =
      Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), File("foo-1.0/noise", noise)});
  ExpectInvalid(ReadSdist(bytes.substr(0, bytes.size() / 2)), "corrupt or truncated archive");
  ExpectInvalid(ReadSdist(bytes.substr(0, bytes.size() - 4)), "corrupt or truncated archive");
}

TEST(DistArchiveTest, TruncatedSdistZip) {
  const std::string bytes = Build(Format::kZip, {File("foo-1.0/PKG-INFO", kPkgInfo)});
  ExpectInvalid(ReadSdist(bytes.substr(0, bytes.size() / 2)), "not a valid tar or zip archive");
}

TEST(DistArchiveTest, CorruptedMetadataBytesInZip) {
  std::string zip = Build(Format::kZipStored, WheelMembers("foo-1.0.dist-info"));
  const std::size_t at = zip.find("A description.");
  ASSERT_NE(at, std::string::npos);
  zip[at] = 'B';  // the CRC no longer matches
  ExpectInvalid(ReadWheel(zip), "corrupt or truncated archive");
}

TEST(DistArchiveTest, GarbageBytes) {
  std::string garbage(4096, '\0');
  std::uint32_t state = 99;
  for (char& c : garbage) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  ExpectInvalid(ReadWheel(garbage), "not a valid zip archive");
  ExpectInvalid(ReadSdist(garbage), "not a valid tar or zip archive");
  ExpectInvalid(ReadWheel(""), "not a valid zip archive");
  ExpectInvalid(ReadSdist(""), "not a valid tar or zip archive");
  ExpectInvalid(ReadSdist("PK\x05\x06"), "");
  ExpectInvalid(ReadSdist(std::string(10240, '\0')), "");
}

TEST(DistArchiveTest, EncryptedMember) {
  std::vector<TestMember> members = WheelMembers("foo-1.0.dist-info");
  for (TestMember& member : members) {
    member.encrypted = true;
  }
  ExpectInvalid(ReadWheel(Build(Format::kZip, members)), "is encrypted");
}

TEST(DistArchiveTest, EveryTruncationOfASmallWheelFailsCleanly) {
  const std::string bytes = Build(Format::kZip, WheelMembers("foo-1.0.dist-info"));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const StatusOr<DistMetadata> result = ReadWheel(bytes.substr(0, size));
    ASSERT_FALSE(result.has_value()) << size;
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
  }
}

TEST(DistArchiveTest, EveryByteFlipOfASmallSdistIsHandled) {
  const std::string bytes =
      Build(Format::kPaxTarGz, {File("foo-1.0/PKG-INFO", kPkgInfo), File("foo-1.0/a", "b")});
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    const StatusOr<DistMetadata> result = ReadSdist(flipped);
    if (!result.has_value()) {
      EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kinds.

TEST(DistArchiveTest, LegacyKindsAreRefused) {
  const std::string bytes = Build(Format::kZip, WheelMembers("foo-1.0.dist-info"));
  for (model::DistKind kind :
       {model::DistKind::kEgg, model::DistKind::kWininst, model::DistKind::kMsi,
        model::DistKind::kDmg, model::DistKind::kRpm}) {
    model::DistFilename name = WheelName();
    name.kind = kind;
    ExpectInvalid(ReadDistMetadataFromMemory(bytes, name), "cannot read metadata from bdist_");
  }
}

TEST(DistArchiveTest, FilenameWithoutNameOrVersion) {
  const std::string bytes = Build(Format::kZip, WheelMembers("foo-1.0.dist-info"));
  ExpectInvalid(ReadDistMetadataFromMemory(bytes, WheelName("", "1.0")), "no name or version");
  ExpectInvalid(ReadDistMetadataFromMemory(bytes, SdistName("foo", "")), "no name or version");
}

}  // namespace
}  // namespace pydepot::archive
