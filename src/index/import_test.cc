// Index::Import: bringing existing distributions in (`pydepot import`).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "doc/project.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "render/render.h"
#include "storage/keys.h"
#include "storage/storage.h"

namespace pydepot::index {
namespace {

using testing::BuildArchive;
using ::testing::HasSubstr;
using testing::MakeForm;
using testing::Metadata;
using testing::Sdist;
using ::testing::StartsWith;
using testing::TempDir;
using testing::Wheel;

constexpr std::int64_t kNow = 1700000000123456;
constexpr std::int64_t kThen = 1300000000000000;  // 2011, when the file was first published
constexpr char kExtra[] = "Summary: An old package\nRequires-Python: >=2.7\n";

template <typename T>
std::string ErrorOf(const StatusOr<T>& result) {
  return result.has_value() ? std::string("(ok)") : result.error().ToString();
}

// An egg as setuptools wrote it: a zip with EGG-INFO/PKG-INFO.
std::string Egg(const std::string& pkg_info) {
  return BuildArchive(true, {{"EGG-INFO/PKG-INFO", pkg_info}, {"foo/__init__.py", "\n"}});
}

class ImportTest : public ::testing::Test {
 protected:
  ImportTest() {
    IndexOptions options;
    options.now_micros = [] { return kNow; };
    index_ = Index::Create(*storage_, options);
  }

  StatusOr<UploadOutcome> Import(const std::string& filename, const std::string& bytes,
                                 std::string_view hint = "", std::int64_t when = kThen) {
    return index_->Import(dir_.Write(bytes), filename, hint, when, "importer");
  }

  // Imports and expects a new file.
  UploadOutcome Imported(const std::string& filename, const std::string& bytes,
                         std::string_view hint = "", std::int64_t when = kThen) {
    auto outcome = Import(filename, bytes, hint, when);
    EXPECT_TRUE(outcome.has_value()) << filename << ": " << ErrorOf(outcome);
    if (!outcome.has_value()) {
      return {};
    }
    EXPECT_TRUE(outcome->created) << filename;
    return *outcome;
  }

  doc::ProjectDoc Doc(std::string_view name = "foo") {
    auto view = index_->GetProject(name);
    EXPECT_TRUE(view.has_value()) << name << ": " << ErrorOf(view);
    return view.has_value() ? (*view)->doc : doc::ProjectDoc{};
  }

  const doc::FileEntry* File(const doc::ProjectDoc& doc, std::string_view filename) {
    const doc::FileEntry* file = doc.FindFile(filename);
    EXPECT_NE(file, nullptr) << filename;
    return file;
  }

  std::string FooWheel(std::string_view version = "1.0", std::string_view payload = "") {
    return Wheel("foo", version, Metadata("Foo", version, kExtra), payload);
  }

  TempDir dir_;
  std::unique_ptr<storage::Storage> storage_ = storage::NewMemStorage();
  std::unique_ptr<Index> index_;
};

TEST_F(ImportTest, WheelIsListedWithItsMetadataAndTime) {
  const std::string wheel = FooWheel();
  UploadOutcome outcome = Imported("foo-1.0-py3-none-any.whl", wheel);
  EXPECT_EQ(outcome.project, "foo");
  EXPECT_EQ(outcome.metadata_problem, "");

  const doc::ProjectDoc doc = Doc();
  EXPECT_EQ(doc.display_name, "Foo");
  const doc::FileEntry* file = File(doc, "foo-1.0-py3-none-any.whl");
  ASSERT_NE(file, nullptr);
  const Digests digests = ComputeDigests(wheel);
  const std::string metadata = Metadata("Foo", "1.0", kExtra);
  EXPECT_EQ(file->sha256, digests.sha256);
  EXPECT_EQ(file->md5, digests.md5);
  EXPECT_EQ(file->blake2b_256, digests.blake2b_256);
  EXPECT_EQ(file->size, static_cast<std::int64_t>(wheel.size()));
  EXPECT_EQ(file->filetype, "bdist_wheel");
  EXPECT_EQ(file->python_version, "py3");
  EXPECT_EQ(file->upload_time_micros, kThen);  // the source's time, not now
  EXPECT_EQ(file->uploader, "importer");
  EXPECT_EQ(file->requires_python, ">=2.7");
  EXPECT_EQ(file->metadata_sha256, Sha256Hex(metadata));
  ASSERT_EQ(doc.releases.count("1"), 1U);
  EXPECT_EQ(doc.releases.at("1").summary, "An old package");
  EXPECT_EQ(doc.releases.at("1").created_micros, kThen);

  auto stored = storage_->Get(*storage::FileKey("foo", "foo-1.0-py3-none-any.whl"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->data, wheel);
  auto stored_metadata = storage_->Get(*storage::MetadataKey("foo", "foo-1.0-py3-none-any.whl"));
  ASSERT_TRUE(stored_metadata.has_value());
  EXPECT_EQ(stored_metadata->data, metadata);

  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ((*root)->list.projects.size(), 1U);
  EXPECT_EQ((*root)->list.projects[0].name, "foo");
  EXPECT_EQ((*root)->list.projects[0].display_name, "Foo");
  EXPECT_EQ((*root)->list.projects[0].updated_micros, kThen);
}

TEST_F(ImportTest, ReimportChangesNothing) {
  const std::string wheel = FooWheel();
  Imported("foo-1.0-py3-none-any.whl", wheel);
  const std::int64_t serial = Doc().serial;
  auto again = Import("foo-1.0-py3-none-any.whl", wheel, "", kThen + 5);
  ASSERT_TRUE(again.has_value()) << ErrorOf(again);
  EXPECT_FALSE(again->created);
  const doc::ProjectDoc doc = Doc();
  EXPECT_EQ(doc.serial, serial);
  EXPECT_EQ(doc.files.size(), 1U);
  EXPECT_EQ(doc.files[0].upload_time_micros, kThen);

  // A fresh Index (another run of the command) agrees.
  auto other = Index::Create(*storage_);
  auto third = other->Import(dir_.Write(wheel), "foo-1.0-py3-none-any.whl", "", kThen, "x");
  ASSERT_TRUE(third.has_value()) << ErrorOf(third);
  EXPECT_FALSE(third->created);
}

TEST_F(ImportTest, OtherBytesUnderAListedFilenameAreRefused) {
  Imported("foo-1.0-py3-none-any.whl", FooWheel("1.0", "one"));
  auto other = Import("foo-1.0-py3-none-any.whl", FooWheel("1.0", "two"));
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(other.error().message(), StartsWith("File already exists"));
  EXPECT_EQ(Doc().files.size(), 1U);
}

TEST_F(ImportTest, OtherBytesStoredButNotListedAreRefused) {
  // A crash between storing and listing left other bytes under the name.
  ASSERT_TRUE(
      storage_->PutIfAbsent(*storage::FileKey("foo", "foo-1.0.tar.gz"), "other").has_value());
  auto outcome = Import("foo-1.0.tar.gz", Sdist("foo-1.0", Metadata("foo", "1.0")), "", kThen);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), StatusCode::kAlreadyExists);
}

TEST_F(ImportTest, SameBytesStoredButNotListedConverge) {
  const std::string sdist = Sdist("foo-1.0", Metadata("foo", "1.0"));
  ASSERT_TRUE(storage_->PutIfAbsent(*storage::FileKey("foo", "foo-1.0.tar.gz"), sdist).has_value());
  Imported("foo-1.0.tar.gz", sdist);
  EXPECT_EQ(Doc().files.size(), 1U);
}

TEST_F(ImportTest, LegacySdistNameIsSplitByTheHint) {
  const std::string sdist = Sdist("Foo.Bar-1.0-1", Metadata("Foo.Bar", "1.0-1"));
  UploadOutcome outcome = Imported("Foo.Bar-1.0-1.tar.gz", sdist, "Foo.Bar");
  EXPECT_EQ(outcome.project, "foo-bar");
  const doc::ProjectDoc doc = Doc("foo-bar");
  const doc::FileEntry* file = File(doc, "Foo.Bar-1.0-1.tar.gz");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->version, "1.0.post1");
  EXPECT_EQ(file->filetype, "sdist");
  EXPECT_EQ(file->python_version, "source");
  EXPECT_EQ(file->metadata_sha256, "");  // sdists get no .metadata file
  EXPECT_EQ(doc.display_name, "Foo.Bar");
}

TEST_F(ImportTest, LegacySdistNameIsSplitByItsOwnMetadataWithoutAHint) {
  const std::string sdist = Sdist("Foo.Bar-1.0-1", Metadata("Foo.Bar", "1.0-1", kExtra));
  UploadOutcome outcome = Imported("Foo.Bar-1.0-1.tar.gz", sdist);
  EXPECT_EQ(outcome.project, "foo-bar");
  EXPECT_EQ(outcome.metadata_problem, "");
  const doc::ProjectDoc doc = Doc("foo-bar");
  ASSERT_EQ(doc.files.size(), 1U);
  EXPECT_EQ(doc.files[0].version, "1.0.post1");
  EXPECT_EQ(doc.files[0].requires_python, ">=2.7");
  EXPECT_EQ(doc.releases.at("1.post1").summary, "An old package");
}

TEST_F(ImportTest, UnreadableLegacySdistIsSplitOnTheLastDash) {
  UploadOutcome outcome = Imported("Foo.Bar-1.0-1.tar.gz", "not an archive");
  EXPECT_EQ(outcome.project, "foo-bar-1-0");  // as packaging's parse_sdist_filename
  EXPECT_NE(outcome.metadata_problem, "");
  const doc::ProjectDoc doc = Doc("foo-bar-1-0");
  ASSERT_EQ(doc.files.size(), 1U);
  EXPECT_EQ(doc.files[0].version, "1");
  EXPECT_EQ(doc.display_name, "Foo.Bar-1.0");
}

TEST_F(ImportTest, HintThatDoesNotMatchTheFilenameIsInvalid) {
  auto outcome = Import("foo-1.0.tar.gz", Sdist("foo-1.0", Metadata("foo", "1.0")), "bar");
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(ImportTest, NonDistributionFilenamesAreInvalid) {
  for (const char* name : {"README.txt", "foo-1.0.tar.gz.asc", "index.html", "foo.tar.gz"}) {
    auto outcome = Import(name, "text");
    ASSERT_FALSE(outcome.has_value()) << name;
    EXPECT_EQ(outcome.error().code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST_F(ImportTest, MissingFileIsNotFound) {
  auto outcome = index_->Import(dir_.path() / "absent", "foo-1.0.tar.gz", "", kThen, "importer");
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code(), StatusCode::kNotFound);
}

TEST_F(ImportTest, InvalidVersionIsKeptAsTextAndSortsFirst) {
  Imported("foo-2.0-py3-none-any.whl", FooWheel("2.0"));
  UploadOutcome outcome =
      Imported("foo-2004d.tar.gz", Sdist("foo-2004d", Metadata("foo", "2004d", kExtra)), "foo");
  EXPECT_EQ(outcome.metadata_problem, "");
  const doc::ProjectDoc doc = Doc();
  ASSERT_EQ(doc.files.size(), 2U);
  EXPECT_EQ(doc.files[0].filename, "foo-2004d.tar.gz");  // invalid versions sort first
  EXPECT_EQ(doc.files[0].version, "2004d");
  EXPECT_EQ(doc.files[0].release_key, "2004d");
  EXPECT_EQ(doc.files[0].requires_python, ">=2.7");
  EXPECT_EQ(doc.releases.at("2004d").summary, "An old package");

  // Every page renders it; the latest release stays the valid one.
  auto view = index_->GetProject("foo");
  ASSERT_TRUE(view.has_value());
  EXPECT_THAT((*view)->simple_html.body, HasSubstr("foo-2004d.tar.gz"));
  EXPECT_THAT((*view)->simple_json.body, HasSubstr("\"2004d\""));
  EXPECT_THAT((*view)->pypi_json.body, HasSubstr("\"version\":\"2.0\""));
  EXPECT_THAT((*view)->human_html.body, HasSubstr("2004d"));
}

TEST_F(ImportTest, EggIsListedAsAnEggWithoutMetadata) {
  const std::string egg = Egg(Metadata("foo", "1.0"));
  UploadOutcome outcome = Imported("foo-1.0-py2.7.egg", egg);
  EXPECT_EQ(outcome.project, "foo");
  EXPECT_THAT(outcome.metadata_problem, HasSubstr("bdist_egg"));
  doc::ProjectDoc doc = Doc();
  const doc::FileEntry* file = File(doc, "foo-1.0-py2.7.egg");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->filetype, "bdist_egg");
  EXPECT_EQ(file->python_version, "2.7");
  EXPECT_EQ(file->version, "1.0");
  EXPECT_EQ(file->metadata_sha256, "");
  EXPECT_EQ(file->sha256, Sha256Hex(egg));
  EXPECT_EQ(doc.display_name, "foo");
  ASSERT_EQ(doc.releases.count("1"), 1U);
  EXPECT_EQ(doc.releases.at("1").summary, "");
  EXPECT_FALSE(storage_->Head(*storage::MetadataKey("foo", "foo-1.0-py2.7.egg")).has_value());

  // A later file of the release that has metadata describes the release, and its spelling of
  // the name wins; the release keeps the egg's (earlier) creation time.
  Imported("foo-1.0-py3-none-any.whl", FooWheel(), "", kThen + 10);
  doc = Doc();
  EXPECT_EQ(doc.releases.at("1").summary, "An old package");
  EXPECT_EQ(doc.releases.at("1").created_micros, kThen);
  EXPECT_EQ(doc.display_name, "Foo");
}

TEST_F(ImportTest, LegacyBinariesAreListedAsTheirKinds) {
  Imported("foo-1.0.win32-py2.7.exe", "MZ...");
  Imported("foo-1.0-1.noarch.rpm", "rpm");
  const doc::ProjectDoc doc = Doc();
  const doc::FileEntry* exe = File(doc, "foo-1.0.win32-py2.7.exe");
  const doc::FileEntry* rpm = File(doc, "foo-1.0-1.noarch.rpm");
  ASSERT_NE(exe, nullptr);
  ASSERT_NE(rpm, nullptr);
  EXPECT_EQ(exe->filetype, "bdist_wininst");
  EXPECT_EQ(exe->python_version, "2.7");
  EXPECT_EQ(rpm->filetype, "bdist_rpm");
  EXPECT_EQ(rpm->python_version, "any");
  EXPECT_EQ(rpm->version, "1.0");
}

TEST_F(ImportTest, MetadataOfAnotherVersionIsNotUsed) {
  const std::string wheel = Wheel("foo", "1.0", Metadata("foo", "9.9", kExtra));
  UploadOutcome outcome = Imported("foo-1.0-py3-none-any.whl", wheel);
  EXPECT_THAT(outcome.metadata_problem, HasSubstr("9.9"));
  const doc::ProjectDoc doc = Doc();
  ASSERT_EQ(doc.files.size(), 1U);
  EXPECT_EQ(doc.files[0].metadata_sha256, "");
  EXPECT_EQ(doc.files[0].requires_python, "");
  EXPECT_EQ(doc.releases.at("1").summary, "");
}

TEST_F(ImportTest, SeveralSdistsOfOneReleaseAndTheEarliestTimeCreatesIt) {
  Imported("foo-1.0.zip", BuildArchive(true, {{"foo-1.0/PKG-INFO", Metadata("foo", "1.0")}}), "",
           kThen + 100);
  Imported("foo-1.0.tar.gz", Sdist("foo-1.0", Metadata("foo", "1.0")), "", kThen);
  const doc::ProjectDoc doc = Doc();
  ASSERT_EQ(doc.files.size(), 2U);
  EXPECT_EQ(File(doc, "foo-1.0.zip")->upload_time_micros, kThen + 100);
  EXPECT_EQ(File(doc, "foo-1.0.tar.gz")->upload_time_micros, kThen);
  EXPECT_EQ(doc.releases.at("1").created_micros, kThen);
}

TEST_F(ImportTest, ZeroTimeMeansNow) {
  Imported("foo-1.0-py3-none-any.whl", FooWheel(), "", 0);
  EXPECT_EQ(Doc().files[0].upload_time_micros, kNow);
}

TEST_F(ImportTest, OlderImportDoesNotTakeOverTheDisplayName) {
  Imported("foo-2.0-py3-none-any.whl", FooWheel("2.0"), "", kThen + 10);
  Imported("foo-1.0.tar.gz", Sdist("foo-1.0", Metadata("FOO", "1.0")), "", kThen);
  EXPECT_EQ(Doc().display_name, "Foo");
  Imported("foo-3.0.tar.gz", Sdist("foo-3.0", Metadata("fOO", "3.0")), "", kThen + 20);
  EXPECT_EQ(Doc().display_name, "fOO");
}

TEST_F(ImportTest, UploadAfterImportUsesTheSameRules) {
  const std::string wheel = FooWheel();
  Imported("foo-1.0-py3-none-any.whl", wheel);
  // The identical bytes uploaded: accepted, nothing changes.
  auto same = index_->Upload(MakeForm(dir_, "foo-1.0-py3-none-any.whl", wheel, "foo", "1.0"), "a");
  ASSERT_TRUE(same.has_value()) << ErrorOf(same);
  EXPECT_FALSE(same->created);
  // Other bytes: refused as for any existing file.
  auto other = index_->Upload(
      MakeForm(dir_, "foo-1.0-py3-none-any.whl", FooWheel("1.0", "x"), "foo", "1.0"), "a");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), StatusCode::kAlreadyExists);
  // An imported egg release gets its metadata from a later upload.
  Imported("foo-2.0-py2.7.egg", Egg(Metadata("foo", "2.0")));
  auto upload = index_->Upload(
      MakeForm(dir_, "foo-2.0-py3-none-any.whl", FooWheel("2.0"), "foo", "2.0"), "a");
  ASSERT_TRUE(upload.has_value()) << ErrorOf(upload);
  const doc::ProjectDoc doc = Doc();
  EXPECT_EQ(doc.releases.at("2").summary, "An old package");
  EXPECT_EQ(doc.releases.at("2").created_micros, kThen);
}

TEST_F(ImportTest, FilenameThatCannotBeAKeyIsInvalid) {
  auto outcome = Import("foo-1.0+a~b.tar.gz", Sdist("foo-1.0+a~b", Metadata("foo", "1.0+a~b")));
  // '~' is a valid key character, so this one is fine; a name with a space is not.
  EXPECT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  auto spaced = Import("foo-1.0 final.tar.gz", "x", "foo");
  ASSERT_FALSE(spaced.has_value());
  EXPECT_EQ(spaced.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pydepot::index
