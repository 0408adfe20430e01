#include "index/index.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "doc/project.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index_test_util.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "storage/storage_wrapper.h"

namespace pydepot::index {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeForm;
using testing::Metadata;
using testing::ReservedPhraseIn;
using testing::Sdist;
using ::testing::StartsWith;
using testing::TakeFailure;
using testing::TempDir;
using ::testing::UnorderedElementsAre;
using testing::Wheel;

constexpr std::int64_t kNow = 1700000000123456;
constexpr char kWheelName[] = "foo-1.0-py3-none-any.whl";
constexpr char kSdistName[] = "foo-1.0.tar.gz";
constexpr char kExtra[] = "Summary: A test package\nRequires-Python: >=3.8\n";

template <typename T>
std::string ErrorOf(const StatusOr<T>& result) {
  return result.has_value() ? std::string("(ok)") : result.error().ToString();
}

// A memory store whose compare-and-swap writes of project documents or of the project list, and
// whose deletes, can be made to fail a given number of times (a crash or an outage between the
// steps of an upload or a delete), with a hook that runs once just before the next write of the
// project list (another instance's write landing in between).
class FaultInjectionStorage final : public storage::StorageWrapper {
 public:
  FaultInjectionStorage() : StorageWrapper(storage::NewMemStorage()) {}

  std::atomic<int> fail_project_doc_puts{0};
  std::atomic<int> fail_project_list_puts{0};
  std::atomic<int> fail_deletes{0};
  std::atomic<int> heads{0};              // Head calls so far
  std::function<void()> before_list_put;  // set only while no other thread uses the store
  // Each read and write of the project list takes this long (a round trip to a cloud store).
  std::atomic<int> list_latency_micros{0};

  std::string Describe() const override { return "faulty " + target().Describe(); }
  StatusOr<storage::Object> Get(std::string_view key) override {
    if (key == storage::ProjectListKey()) {
      Wait(list_latency_micros);
    }
    return target().Get(key);
  }
  StatusOr<storage::ObjectInfo> Head(std::string_view key) override {
    heads.fetch_add(1);
    return target().Head(key);
  }
  StatusOr<storage::ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view expected_etag) override {
    const bool list = key == storage::ProjectListKey();
    const bool project_doc = !list && storage::ClassifyKey(key) == storage::KeyKind::kProjectDoc;
    if ((project_doc && TakeFailure(fail_project_doc_puts)) ||
        (list && TakeFailure(fail_project_list_puts))) {
      return UnavailableError("injected failure writing " + std::string(key));
    }
    if (list) {
      Wait(list_latency_micros);
    }
    if (list && before_list_put) {
      auto hook = std::exchange(before_list_put, nullptr);  // once
      hook();
    }
    return target().PutIfMatch(key, data, expected_etag);
  }
  Status Delete(std::string_view key) override {
    if (TakeFailure(fail_deletes)) {
      return UnavailableError("injected failure deleting " + std::string(key));
    }
    return target().Delete(key);
  }

 private:
  static void Wait(const std::atomic<int>& micros) {
    if (const int us = micros.load(); us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
  }
};

IndexOptions TestOptions(std::chrono::milliseconds ttl = std::chrono::milliseconds(2000)) {
  IndexOptions options;
  options.cache_ttl = ttl;
  options.now_micros = [] { return kNow; };
  return options;
}

// Runs upload(i) for each i below `count`, on as many threads released at the same moment; the
// statuses in order.
std::vector<Status> UploadAtOnce(int count,
                                 const std::function<StatusOr<UploadOutcome>(int)>& upload) {
  std::latch start(count);
  std::vector<Status> results(static_cast<std::size_t>(count));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto outcome = upload(i);
      results[static_cast<std::size_t>(i)] = outcome.has_value() ? OkStatus() : outcome.error();
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  return results;
}

class IndexTest : public ::testing::Test {
 protected:
  // The wheel foo-<version>-py3-none-any.whl (name part `foo`), its METADATA naming `name`.
  std::string FooWheel(std::string_view version = "1.0", std::string_view payload = "",
                       std::string_view name = "Foo") {
    return Wheel("foo", version, Metadata(name, version, kExtra), payload);
  }
  std::string FooSdist(std::string_view version = "1.0", std::string_view payload = "",
                       std::string_view name = "Foo") {
    return Sdist("foo-" + std::string(version), Metadata(name, version, kExtra), payload);
  }
  doc::UploadForm Form(const std::string& filename, const std::string& bytes,
                       std::string_view name = "foo", std::string_view version = "1.0") {
    return MakeForm(dir_, filename, bytes, name, version);
  }

  StatusOr<UploadOutcome> Upload(const std::string& filename, const std::string& bytes,
                                 Index* index = nullptr) {
    std::string version = filename.substr(4, filename.find('-', 4) - 4);
    if (filename.ends_with(".tar.gz")) {
      version = filename.substr(4, filename.size() - 4 - 7);
    }
    return (index ? index : index_.get())->Upload(Form(filename, bytes, "foo", version), "alice");
  }

  std::shared_ptr<const ProjectView> Project(Index* index = nullptr,
                                             std::string_view name = "foo") {
    auto view = (index ? index : index_.get())->GetProject(name);
    EXPECT_TRUE(view.has_value()) << ErrorOf(view);
    return view.has_value() ? *view : nullptr;
  }

  // The project document as stored (not through any cache).
  doc::ProjectDoc StoredDoc(std::string_view name = "foo") {
    auto object = storage_->Get(*storage::ProjectDocKey(name));
    EXPECT_TRUE(object.has_value()) << ErrorOf(object);
    if (!object.has_value()) {
      return {};
    }
    auto decoded = doc::DecodeProjectDoc(object->data);
    EXPECT_TRUE(decoded.has_value());
    return decoded.has_value() ? *decoded : doc::ProjectDoc{};
  }

  std::string StoredBytes(const std::string& key) {
    auto object = storage_->Get(key);
    EXPECT_TRUE(object.has_value()) << key << ": " << ErrorOf(object);
    return object.has_value() ? object->data : std::string();
  }

  TempDir dir_;
  std::unique_ptr<FaultInjectionStorage> storage_ = std::make_unique<FaultInjectionStorage>();
  std::unique_ptr<Index> index_ = Index::Create(*storage_, TestOptions());
};

// --- Uploads ----------------------------------------------------------------------------------

TEST_F(IndexTest, FirstUploadCreatesProject) {
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  const std::string wheel = FooWheel();
  auto outcome = Upload(kWheelName, wheel);
  ASSERT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  EXPECT_TRUE(outcome->created);
  EXPECT_EQ(outcome->project, "foo");
  EXPECT_EQ(outcome->filename, kWheelName);

  auto view = Project();
  ASSERT_NE(view, nullptr);
  const doc::ProjectDoc& doc = view->doc;
  EXPECT_EQ(doc.name, "foo");
  EXPECT_EQ(doc.display_name, "Foo");  // the metadata's Name, not the form's
  EXPECT_EQ(doc.serial, 1);
  ASSERT_EQ(doc.files.size(), 1U);
  const doc::FileEntry& file = doc.files[0];
  const Digests digests = ComputeDigests(wheel);
  const std::string metadata = Metadata("Foo", "1.0", kExtra);
  EXPECT_EQ(file.filename, kWheelName);
  EXPECT_EQ(file.version, "1.0");
  EXPECT_EQ(file.release_key, "1");
  EXPECT_EQ(file.filetype, "bdist_wheel");
  EXPECT_EQ(file.python_version, "py3");
  EXPECT_EQ(file.size, static_cast<std::int64_t>(wheel.size()));
  EXPECT_EQ(file.sha256, digests.sha256);
  EXPECT_EQ(file.md5, digests.md5);
  EXPECT_EQ(file.blake2b_256, digests.blake2b_256);
  EXPECT_EQ(file.upload_time_micros, kNow);
  EXPECT_EQ(file.requires_python, ">=3.8");
  EXPECT_EQ(file.metadata_sha256, Sha256Hex(metadata));
  EXPECT_EQ(file.uploader, "alice");

  ASSERT_EQ(doc.releases.count("1"), 1U);
  const doc::ReleaseInfo& release = doc.releases.at("1");
  EXPECT_EQ(release.version, "1.0");
  EXPECT_EQ(release.summary, "A test package");
  EXPECT_EQ(release.requires_python, ">=3.8");
  EXPECT_EQ(release.metadata_version, "2.1");
  EXPECT_EQ(release.created_micros, kNow);
  EXPECT_TRUE(doc.yanked.empty());

  // The file and its METADATA are stored byte for byte.
  EXPECT_EQ(StoredBytes(*storage::FileKey("foo", kWheelName)), wheel);
  EXPECT_EQ(StoredBytes(*storage::MetadataKey("foo", kWheelName)), metadata);

  // The pages carry the file, and the project is listed.
  EXPECT_THAT(view->simple_html.body, HasSubstr(kWheelName));
  EXPECT_THAT(view->simple_json.body, HasSubstr(digests.sha256));
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ((*root)->list.projects.size(), 1U);
  EXPECT_EQ((*root)->list.projects[0].name, "foo");
  EXPECT_EQ((*root)->list.projects[0].display_name, "Foo");
  EXPECT_THAT((*root)->simple_html.body, HasSubstr("foo/"));
}

TEST_F(IndexTest, SdistHasNoMetadataFile) {
  const std::string sdist = FooSdist();
  auto outcome = Upload(kSdistName, sdist);
  ASSERT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  auto view = Project();
  ASSERT_EQ(view->doc.files.size(), 1U);
  const doc::FileEntry& file = view->doc.files[0];
  EXPECT_EQ(file.filetype, "sdist");
  EXPECT_EQ(file.python_version, "source");
  EXPECT_EQ(file.requires_python, ">=3.8");
  EXPECT_EQ(file.metadata_sha256, "");
  EXPECT_EQ(storage_->Head(*storage::MetadataKey("foo", kSdistName)).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(StoredBytes(*storage::FileKey("foo", kSdistName)), sdist);
}

TEST_F(IndexTest, WheelAndSdistOfOneRelease) {
  ASSERT_TRUE(Upload(kSdistName, FooSdist()).has_value());
  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  auto doc = Project()->doc;
  EXPECT_EQ(doc.files.size(), 2U);
  EXPECT_EQ(doc.releases.size(), 1U);
  EXPECT_EQ(doc.serial, 2);
}

TEST_F(IndexTest, IdenticalReuploadChangesNothing) {
  const std::string wheel = FooWheel();
  ASSERT_TRUE(Upload(kWheelName, wheel).has_value());
  auto before = storage_->Head(*storage::ProjectDocKey("foo"));
  auto list_before = storage_->Head(storage::ProjectListKey());
  ASSERT_TRUE(before.has_value() && list_before.has_value());

  auto again = Upload(kWheelName, wheel);
  ASSERT_TRUE(again.has_value()) << ErrorOf(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(Project()->doc.serial, 1);
  EXPECT_EQ(storage_->Head(*storage::ProjectDocKey("foo"))->etag, before->etag);
  EXPECT_EQ(storage_->Head(storage::ProjectListKey())->etag, list_before->etag);
  EXPECT_EQ(StoredDoc().files.size(), 1U);
}

TEST_F(IndexTest, DifferentBytesUnderOneFilenameAreRefused) {
  const std::string wheel = FooWheel("1.0", "first");
  ASSERT_TRUE(Upload(kWheelName, wheel).has_value());
  auto other = Upload(kWheelName, FooWheel("1.0", "second"));
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(other.error().message(),
              StartsWith("File already exists ('" + std::string(kWheelName) +
                         "', with blake2_256 hash '" + ComputeDigests(wheel).blake2b_256 + "')"));
  EXPECT_EQ(StoredBytes(*storage::FileKey("foo", kWheelName)), wheel);
  EXPECT_EQ(StoredDoc().serial, 1);
}

TEST_F(IndexTest, OneSdistPerRelease) {
  ASSERT_TRUE(Upload(kSdistName, FooSdist()).has_value());
  // 1.0.0 is the same release as 1.0 (VER-03).
  auto second = index_->Upload(
      Form("foo-1.0.0.tar.gz", Sdist("foo-1.0.0", Metadata("foo", "1.0.0")), "foo", "1.0.0"),
      "alice");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(second.error().message(), "Only one sdist may be uploaded per release.");
  // A zip sdist of the same release too.
  auto zip = index_->Upload(
      Form("foo-1.0.zip",
           testing::BuildArchive(true, {{"foo-1.0/PKG-INFO", Metadata("foo", "1.0")}})),
      "alice");
  ASSERT_FALSE(zip.has_value());
  EXPECT_EQ(zip.error().message(), "Only one sdist may be uploaded per release.");
  // Another release is fine.
  EXPECT_TRUE(Upload("foo-1.1.tar.gz", FooSdist("1.1")).has_value());
}

TEST_F(IndexTest, ZipSdistIsAccepted) {
  auto outcome = index_->Upload(
      Form("foo-1.0.zip",
           testing::BuildArchive(true, {{"foo-1.0/PKG-INFO", Metadata("foo", "1.0")}})),
      "alice");
  EXPECT_TRUE(outcome.has_value()) << ErrorOf(outcome);
}

TEST_F(IndexTest, NameAndVersionMismatches) {
  struct Case {
    const char* what;
    doc::UploadForm form;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({"form name vs filename", Form(kWheelName, FooWheel(), "bar", "1.0"),
                   "Start filename for 'bar' with 'bar'."});
  cases.push_back({"form version vs filename", Form(kWheelName, FooWheel(), "foo", "1.1"),
                   "Version in filename should be '1.1' not '1.0'."});
  cases.push_back({"metadata name vs filename", Form(kWheelName, FooWheel("1.0", "", "bar")),
                   "The name in the file's metadata ('bar') does not match the project 'foo'."});
  cases.push_back(
      {"metadata version vs filename",
       Form(kWheelName, Wheel("foo", "1.0", Metadata("foo", "1.1"))),
       "The version in the file's metadata ('1.1') does not match the filename's version '1.0'."});
  cases.push_back({"sdist metadata name", Form(kSdistName, FooSdist("1.0", "", "bar")),
                   "The name in the file's metadata ('bar') does not match the project 'foo'."});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto result = index_->Upload(c.form, "alice");
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.error().message(), c.message);
  }
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(storage_->Head(*storage::FileKey("foo", kWheelName)).error().code(),
            StatusCode::kNotFound);
}

TEST_F(IndexTest, VersionsCompareAsPep440) {
  // The metadata says 1.0.0, the filename 1.0: equal versions (FN-W03).
  auto outcome =
      index_->Upload(Form(kWheelName, Wheel("foo", "1.0", Metadata("foo", "1.0.0"))), "alice");
  EXPECT_TRUE(outcome.has_value()) << ErrorOf(outcome);
}

TEST_F(IndexTest, BrokenArchiveIsInvalid) {
  auto result = Upload(kWheelName, "not a zip at all");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.error().message(), StartsWith("Invalid distribution file. "));
}

TEST_F(IndexTest, DeletedFilenameCannotBeReused) {
  doc::ProjectDoc doc;
  doc.name = "foo";
  doc.display_name = "foo";
  doc.deleted_filenames = {kWheelName};
  ASSERT_TRUE(storage_->PutIfMatch(*storage::ProjectDocKey("foo"), doc::EncodeProjectDoc(doc), "")
                  .has_value());
  auto result = Upload(kWheelName, FooWheel());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.error().message(),
              StartsWith("This filename was previously used by a file that has since been "
                         "deleted."));
}

TEST_F(IndexTest, SpellingsOfOneNameLandInOneProject) {
  ASSERT_TRUE(index_
                  ->Upload(Form("foo_bar-1.0-py3-none-any.whl",
                                Wheel("foo_bar", "1.0", Metadata("Foo.Bar", "1.0")), "Foo.Bar"),
                           "alice")
                  .has_value());
  auto second =
      index_->Upload(Form("foo_bar-1.1.tar.gz", Sdist("foo_bar-1.1", Metadata("foo_bar", "1.1")),
                          "foo-bar", "1.1"),
                     "alice");
  ASSERT_TRUE(second.has_value()) << ErrorOf(second);
  auto view = Project(nullptr, "foo-bar");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.files.size(), 2U);
  EXPECT_EQ(view->doc.display_name, "foo_bar");  // as the latest upload spelled it
}

// UP-14: every refusal other than the duplicate one stays clear of the phrases clients read as
// "already exists" (and of "was ever registered").
TEST_F(IndexTest, Up14OnlyTheDuplicateReadsAsAlreadyExists) {
  ASSERT_TRUE(Upload(kSdistName, FooSdist()).has_value());
  doc::ProjectDoc with_deleted = StoredDoc();
  with_deleted.deleted_filenames = {"foo-0.1.tar.gz"};
  ASSERT_TRUE(storage_
                  ->PutIfMatch(*storage::ProjectDocKey("foo"), doc::EncodeProjectDoc(with_deleted),
                               storage_->Head(*storage::ProjectDocKey("foo"))->etag)
                  .has_value());

  std::vector<doc::UploadForm> forms;
  auto add = [&](doc::UploadForm form, const std::function<void(doc::UploadForm&)>& edit) {
    edit(form);
    forms.push_back(std::move(form));
  };
  const std::string wheel = FooWheel("2.0");
  auto wheel_form = [&] { return Form("foo-2.0-py3-none-any.whl", wheel, "foo", "2.0"); };
  auto none = [](doc::UploadForm&) {};
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["protocol_version"] = {"2"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.file_fields = {"description"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["metadata_version"] = {"3.0"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields.erase("name"); });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["name"] = {"-foo"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields.erase("version"); });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["version"] = {"x y"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["filetype"] = {"bdist_egg"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields.erase("pyversion"); });
  add(wheel_form(), [](doc::UploadForm& f) { f.content.reset(); });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->filename = "../x.whl"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->filename = "foo-2.0\x01.whl"; });
  add(wheel_form(),
      [](doc::UploadForm& f) { f.content->filename = std::string(300, 'a') + ".whl"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->filename = "foo-2.0.exe"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->filename = "foo-2.0.tar.gz"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->content_type = "image/png"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.content->filename = "foo-2.0-py3-none.whl"; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["name"] = {"bar"}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["version"] = {"2.1"}; });
  add(wheel_form(), [](doc::UploadForm& f) {
    f.fields.erase("md5_digest");
    f.fields.erase("sha256_digest");
    f.fields.erase("blake2_256_digest");
  });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["sha256_digest"] = {std::string(64, '0')}; });
  add(wheel_form(), [](doc::UploadForm& f) { f.fields["version"] = {"2.0+local"}; });
  add(Form("foo-1.0.0.tar.gz", FooSdist("1.0.0"), "foo", "1.0.0"), none);  // second sdist
  add(Form("foo-0.1.tar.gz", FooSdist("0.1"), "foo", "0.1"), none);        // deleted filename
  add(Form("foo-2.0-py3-none-any.whl", "garbage", "foo", "2.0"), none);    // not a zip
  add(Form("foo-2.0-py3-none-any.whl", FooWheel("2.0", "", "bar"), "foo", "2.0"), none);
  add(Form("foo-2.0-py3-none-any.whl", Wheel("foo", "2.0", Metadata("foo", "2.1")), "foo", "2.0"),
      none);
  add(Form("foo-2.0-py3-none-any.whl",
           Wheel("foo", "2.0",
                 "Metadata-Version: 3.0\nName: foo\n"
                 "Version: 2.0\n"),
           "foo", "2.0"),
      none);
  add(Form("foo-2.0-py3-none-any.whl", testing::BuildArchive(true, {{"x", ""}}), "foo", "2.0"),
      none);  // no dist-info
  // Values the messages quote, carrying the reserved phrases themselves.
  for (const std::string& phrase : testing::ReservedPhrases()) {
    add(wheel_form(), [&](doc::UploadForm& f) { f.fields["version"] = {"2.0 " + phrase}; });
    add(wheel_form(), [&](doc::UploadForm& f) { f.fields["name"] = {phrase}; });
    add(wheel_form(), [&](doc::UploadForm& f) { f.file_fields = {phrase}; });
    add(Form("foo-2.0-py3-none-any.whl", Wheel("foo", "2.0", Metadata("foo " + phrase, "2.0")),
             "foo", "2.0"),
        none);
    add(Form("foo-2.0-py3-none-any.whl", Wheel("foo", "2.0", Metadata("foo", "2.0 " + phrase)),
             "foo", "2.0"),
        none);
    add(Form("foo-2.0-py3-none-any.whl",
             testing::BuildArchive(true, {{"a " + phrase + "/x", ""}, {"b/y", ""}}), "foo", "2.0"),
        none);
  }

  for (const doc::UploadForm& form : forms) {
    auto result = index_->Upload(form, "alice");
    ASSERT_FALSE(result.has_value())
        << "accepted " << (form.content ? form.content->filename : "(no content)");
    EXPECT_NE(result.error().code(), StatusCode::kAlreadyExists) << result.error();
    EXPECT_EQ(ReservedPhraseIn(result.error().message()), "") << result.error();
  }

  // The duplicate itself does use the phrase.
  auto duplicate = Upload(kSdistName, FooSdist("1.0", "other bytes"));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(ReservedPhraseIn(duplicate.error().message()), "already exist");
}

// --- Yanks ------------------------------------------------------------------------------------

TEST_F(IndexTest, YankAndUnyankByReleaseKey) {
  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  ASSERT_TRUE(Upload(kSdistName, FooSdist()).has_value());
  ASSERT_TRUE(Upload("foo-1.1.tar.gz", FooSdist("1.1")).has_value());

  ASSERT_TRUE(index_->Yank("foo", "1.0.0", "broken build").ok());
  auto view = Project();
  EXPECT_EQ(view->doc.serial, 4);
  ASSERT_EQ(view->doc.yanked.count("1"), 1U);
  EXPECT_EQ(view->doc.yanked.at("1"), "broken build");
  for (const auto& file : view->doc.files) {
    const std::string* reason = view->doc.YankReason(file);
    if (file.version == "1.0") {
      ASSERT_NE(reason, nullptr) << file.filename;
      EXPECT_EQ(*reason, "broken build");
    } else {
      EXPECT_EQ(reason, nullptr) << file.filename;
    }
  }
  EXPECT_THAT(view->simple_html.body, HasSubstr("data-yanked=\"broken build\""));
  EXPECT_EQ(StoredDoc().yanked.at("1"), "broken build");

  // Yanking again with the same reason changes nothing.
  ASSERT_TRUE(index_->Yank("Foo", "1.0", "broken build").ok());
  EXPECT_EQ(Project()->doc.serial, 4);

  ASSERT_TRUE(index_->Unyank("foo", "1").ok());
  view = Project();
  EXPECT_TRUE(view->doc.yanked.empty());
  EXPECT_EQ(view->doc.serial, 5);
  EXPECT_TRUE(index_->Unyank("foo", "1.0").ok());  // not yanked: nothing to do
  EXPECT_EQ(Project()->doc.serial, 5);
}

TEST_F(IndexTest, YankUnknownReleaseOrProjectIsNotFound) {
  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  EXPECT_EQ(index_->Yank("foo", "2.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Unyank("foo", "2.0").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Yank("bar", "1.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Yank("../etc", "1.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Yank("", "1.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredDoc().serial, 1);
}

// --- Cache ------------------------------------------------------------------------------------

TEST_F(IndexTest, OwnUploadIsVisibleAtOnce) {
  // A cached 404 and a cached root must not hide the upload, whatever the TTL.
  auto index = Index::Create(*storage_, TestOptions(std::chrono::hours(1)));
  EXPECT_EQ(index->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE((*index->GetRoot())->list.projects.empty());
  ASSERT_TRUE(Upload(kWheelName, FooWheel(), index.get()).has_value());
  auto view = Project(index.get());
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.files.size(), 1U);
  EXPECT_EQ((*index->GetRoot())->list.projects.size(), 1U);

  ASSERT_TRUE(Upload(kSdistName, FooSdist(), index.get()).has_value());
  EXPECT_EQ(Project(index.get())->doc.files.size(), 2U);
  ASSERT_TRUE(index->Yank("foo", "1.0", "x").ok());
  EXPECT_EQ(Project(index.get())->doc.yanked.size(), 1U);
}

TEST_F(IndexTest, OtherInstancesChangesAreSeenWithZeroTtl) {
  auto a = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  auto b = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  EXPECT_EQ(b->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE((*b->GetRoot())->list.projects.empty());

  ASSERT_TRUE(Upload(kWheelName, FooWheel(), a.get()).has_value());
  auto seen = Project(b.get());
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->doc.files.size(), 1U);
  EXPECT_EQ((*b->GetRoot())->list.projects.size(), 1U);

  ASSERT_TRUE(b->Yank("foo", "1.0", "bad").ok());
  auto yanked = Project(a.get());
  ASSERT_NE(yanked, nullptr);
  EXPECT_EQ(yanked->doc.yanked.count("1"), 1U);
  ASSERT_TRUE(a->Unyank("foo", "1.0").ok());
  EXPECT_TRUE(Project(b.get())->doc.yanked.empty());

  // Unchanged documents are served from the cache (same view object).
  auto first = Project(b.get());
  auto second = Project(b.get());
  EXPECT_EQ(first.get(), second.get());
}

TEST_F(IndexTest, ManyNotFoundProbesStayNotFound) {
  // Random names probed again and again (the negative cache is bounded; no answer changes).
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(index_->GetProject("nope-" + std::to_string(i)).error().code(),
              StatusCode::kNotFound);
  }
  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  EXPECT_EQ(index_->GetProject("nope-1").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->GetProject("nope-9999").error().code(), StatusCode::kNotFound);
  EXPECT_NE(Project(), nullptr);
}

TEST_F(IndexTest, InvalidNamesAreNotFound) {
  for (const char* name : {"", "Foo", "../index", "foo/bar", "a--b", "-a"}) {
    EXPECT_EQ(index_->GetProject(name).error().code(), StatusCode::kNotFound) << name;
  }
}

// --- Concurrency ------------------------------------------------------------------------------

TEST_F(IndexTest, ConcurrentDistinctUploadsThroughTwoInstances) {
  constexpr int kThreads = 8;
  auto a = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  auto b = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  std::vector<doc::UploadForm> forms;
  for (int i = 0; i < kThreads; ++i) {
    const std::string version = "1." + std::to_string(i);
    forms.push_back(
        Form("foo-" + version + "-py3-none-any.whl", FooWheel(version), "foo", version));
  }
  const std::vector<Status> results = UploadAtOnce(
      kThreads, [&](int i) { return (i % 2 == 0 ? a : b)->Upload(forms[i], "alice"); });
  for (const Status& status : results) {
    EXPECT_TRUE(status.ok()) << status;
  }
  doc::ProjectDoc stored = StoredDoc();
  EXPECT_EQ(stored.files.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(stored.serial, kThreads);
  for (Index* index : {a.get(), b.get()}) {
    auto view = Project(index);
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(view->doc.files.size(), static_cast<std::size_t>(kThreads));
    EXPECT_EQ(view->doc.serial, kThreads);
    EXPECT_EQ((*index->GetRoot())->list.projects.size(), 1U);
  }
}

// Every upload writes the project list (the project's latest upload time), so uploads to
// different projects at the same moment contend for that one object. With a round trip to the
// store between the read and the compare-and-swap, retrying at once let about one writer in per
// round: of 200 uploads at once through three instances, some gave up with "too much
// contention" (a 503, which twine does not retry). Lost swaps now back off with jitter.
TEST_F(IndexTest, ManySimultaneousUploadsToDifferentProjectsAllGetIntoTheList) {
  constexpr int kThreads = 200;
  constexpr int kInstances = 3;
  storage_->list_latency_micros = 1000;
  std::vector<std::unique_ptr<Index>> instances;
  for (int i = 0; i < kInstances; ++i) {
    instances.push_back(Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0))));
  }
  std::vector<doc::UploadForm> forms;
  for (int i = 0; i < kThreads; ++i) {
    const std::string name = "proj" + std::to_string(i);
    forms.push_back(MakeForm(dir_, name + "-1.0-py3-none-any.whl",
                             Wheel(name, "1.0", Metadata(name, "1.0", kExtra), ""), name, "1.0"));
  }
  const std::vector<Status> results = UploadAtOnce(
      kThreads, [&](int i) { return instances[i % kInstances]->Upload(forms[i], "alice"); });
  int failed = 0;
  for (const Status& status : results) {
    failed += status.ok() ? 0 : 1;
    EXPECT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(failed, 0);
  storage_->list_latency_micros = 0;
  for (auto& index : instances) {
    EXPECT_EQ((*index->GetRoot())->list.projects.size(), static_cast<std::size_t>(kThreads));
  }
}

TEST_F(IndexTest, ConcurrentUploadsThroughOneInstanceAreAllVisible) {
  // The writes' own cache updates can arrive out of order; the newest document must win even
  // with a long TTL.
  constexpr int kThreads = 8;
  auto index = Index::Create(*storage_, TestOptions(std::chrono::hours(1)));
  std::vector<doc::UploadForm> forms;
  for (int i = 0; i < kThreads; ++i) {
    const std::string version = "2." + std::to_string(i);
    forms.push_back(Form("foo-" + version + ".tar.gz", FooSdist(version), "foo", version));
  }
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      if (index->Upload(forms[i], "alice").has_value()) {
        ++ok;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(ok.load(), kThreads);
  auto view = Project(index.get());
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.files.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(view->doc.serial, kThreads);
}

TEST_F(IndexTest, ConcurrentConflictingUploadsOfOneFilename) {
  constexpr int kThreads = 8;
  auto a = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  auto b = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  std::vector<doc::UploadForm> forms;
  std::vector<std::string> hashes;
  for (int i = 0; i < kThreads; ++i) {
    const std::string wheel = FooWheel("1.0", "variant " + std::to_string(i));
    hashes.push_back(ComputeDigests(wheel).sha256);
    forms.push_back(Form(kWheelName, wheel));
  }
  ASSERT_EQ(std::set<std::string>(hashes.begin(), hashes.end()).size(),
            static_cast<std::size_t>(kThreads));
  std::latch start(kThreads);
  std::vector<StatusOr<UploadOutcome>> results(kThreads, InternalError("not run"));
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = (i % 2 == 0 ? a : b)->Upload(forms[i], "alice");
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  int winner = -1;
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].has_value()) {
      EXPECT_EQ(winner, -1) << "two winners";
      EXPECT_TRUE(results[i]->created);
      winner = i;
    } else {
      EXPECT_EQ(results[i].error().code(), StatusCode::kAlreadyExists) << results[i].error();
      EXPECT_THAT(results[i].error().message(), StartsWith("File already exists"));
    }
  }
  ASSERT_NE(winner, -1);
  doc::ProjectDoc stored = StoredDoc();
  ASSERT_EQ(stored.files.size(), 1U);
  EXPECT_EQ(stored.files[0].sha256, hashes[winner]);
  EXPECT_EQ(stored.serial, 1);
  EXPECT_EQ(Sha256Hex(StoredBytes(*storage::FileKey("foo", kWheelName))), stored.files[0].sha256);
}

// --- Crash and retry --------------------------------------------------------------------------

TEST_F(IndexTest, RetryAfterFailedDocumentUpdateConverges) {
  const std::string wheel = FooWheel();
  storage_->fail_project_doc_puts = 1;
  auto failed = Upload(kWheelName, wheel);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  // The file was stored, but nothing lists it.
  EXPECT_EQ(StoredBytes(*storage::FileKey("foo", kWheelName)), wheel);
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);

  auto retry = Upload(kWheelName, wheel);
  ASSERT_TRUE(retry.has_value()) << ErrorOf(retry);
  EXPECT_TRUE(retry->created);
  auto view = Project();
  ASSERT_EQ(view->doc.files.size(), 1U);
  EXPECT_EQ(view->doc.files[0].sha256, ComputeDigests(wheel).sha256);
  EXPECT_EQ(view->doc.files[0].metadata_sha256, Sha256Hex(Metadata("Foo", "1.0", kExtra)));
  EXPECT_EQ((*index_->GetRoot())->list.projects.size(), 1U);
}

TEST_F(IndexTest, StoredBytesWinAfterFailedDocumentUpdate) {
  const std::string wheel = FooWheel("1.0", "first");
  storage_->fail_project_doc_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, wheel).has_value());

  auto other = Upload(kWheelName, FooWheel("1.0", "second"));
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(other.error().message(),
              StartsWith("File already exists ('" + std::string(kWheelName) +
                         "', with blake2_256 hash '" + ComputeDigests(wheel).blake2b_256 + "')"));
  EXPECT_EQ(StoredBytes(*storage::FileKey("foo", kWheelName)), wheel);

  // The original bytes still converge.
  auto retry = Upload(kWheelName, wheel);
  ASSERT_TRUE(retry.has_value()) << ErrorOf(retry);
  EXPECT_EQ(Project()->doc.files.at(0).sha256, ComputeDigests(wheel).sha256);
}

TEST_F(IndexTest, RetryAfterFailedProjectListUpdateListsTheProject) {
  const std::string wheel = FooWheel();
  storage_->fail_project_list_puts = 1;
  auto failed = Upload(kWheelName, wheel);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE((*index_->GetRoot())->list.projects.empty());

  // The document already lists the file: the retry is an identical re-upload, and it must
  // still get the project into the list.
  auto retry = Upload(kWheelName, wheel);
  ASSERT_TRUE(retry.has_value()) << ErrorOf(retry);
  EXPECT_FALSE(retry->created);
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ((*root)->list.projects.size(), 1U);
  EXPECT_EQ((*root)->list.projects[0].name, "foo");
  auto fresh = Index::Create(*storage_, TestOptions());
  EXPECT_EQ((*fresh->GetRoot())->list.projects.size(), 1U);
}

TEST_F(IndexTest, StoreOutageIsUnavailable) {
  storage_->fail_project_doc_puts = 1000;
  auto result = Upload(kWheelName, FooWheel());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(result.error().message(), HasSubstr("injected failure"));
}

}  // namespace
}  // namespace pydepot::index

namespace pydepot::index {
namespace {

// --- The cache's memory budget -----------------------------------------------------------------

TEST_F(IndexTest, CacheDropsLeastRecentlyUsedProjectsPastItsBudget) {
  // Twenty projects stored through a first index; a second index with a small budget reads them.
  for (int i = 0; i < 20; ++i) {
    const std::string name = "proj" + std::to_string(i);
    auto outcome =
        index_->Upload(MakeForm(dir_, name + "-1.0.tar.gz",
                                Sdist(name + "-1.0", Metadata(name, "1.0")), name, "1.0"),
                       "alice");
    ASSERT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  }
  IndexOptions options = TestOptions(std::chrono::hours(1));
  auto probe = Index::Create(*storage_, options);
  const std::size_t one_view = (*probe->GetProject("proj0"))->bytes;
  ASSERT_GT(one_view, 0U);
  options.cache_bytes = one_view * 5;  // room for about five views
  auto index = Index::Create(*storage_, options);

  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(index->GetProject("proj" + std::to_string(i)).has_value());
    // proj0 is used all the time: it must stay.
    ASSERT_TRUE(index->PeekProject("proj0").has_value()) << "after proj" << i;
  }
  int cached = 0;
  for (int i = 0; i < 20; ++i) {
    cached += index->PeekProject("proj" + std::to_string(i)).has_value() ? 1 : 0;
  }
  EXPECT_LE(cached, 5);
  EXPECT_GE(cached, 2);
  EXPECT_TRUE(index->PeekProject("proj19").has_value()) << "the newest stays";
  EXPECT_FALSE(index->PeekProject("proj1").has_value()) << "an old one went";
  // A dropped project is read again from the store when asked for.
  auto again = index->GetProject("proj1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->doc.name, "proj1");
  EXPECT_TRUE(index->PeekProject("proj1").has_value());
}

TEST_F(IndexTest, PeekAnswersFromMemoryOnly) {
  ASSERT_TRUE(Upload("foo-1.0.tar.gz", FooSdist()).has_value());
  auto other = Index::Create(*storage_, TestOptions());
  EXPECT_FALSE(other->PeekProject("foo").has_value()) << "never read";
  EXPECT_FALSE(other->PeekRoot().has_value());
  const auto heads = storage_->heads.load();
  ASSERT_TRUE(other->GetProject("foo").has_value());
  ASSERT_TRUE(other->GetRoot().has_value());
  EXPECT_GT(storage_->heads.load(), heads);
  const auto after = storage_->heads.load();
  auto peeked = other->PeekProject("foo");
  ASSERT_TRUE(peeked.has_value());
  ASSERT_TRUE(peeked->has_value());
  EXPECT_EQ((**peeked)->doc.name, "foo");
  EXPECT_TRUE(other->PeekRoot().has_value());
  EXPECT_EQ(storage_->heads.load(), after) << "a peek never touches the store";
  // An absent project, once looked up, is remembered as absent.
  EXPECT_FALSE(other->GetProject("bar").has_value());
  auto absent = other->PeekProject("bar");
  ASSERT_TRUE(absent.has_value());
  EXPECT_EQ(absent->error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace pydepot::index

namespace pydepot::index {
namespace {

TEST(SealedBytesTest, HoldsTheBytesReadOnly) {
  std::string bytes;
  for (int i = 0; i < 20000; ++i) {
    bytes += "line " + std::to_string(i) + "\n";
  }
  auto sealed = SealedBytes::Create(bytes);
  ASSERT_NE(sealed, nullptr);
  EXPECT_EQ(sealed->size(), bytes.size());
  std::string back(bytes.size(), '\0');
  ASSERT_EQ(::pread(sealed->fd(), back.data(), back.size(), 0), static_cast<ssize_t>(bytes.size()));
  EXPECT_EQ(back, bytes);
  // Sealed: neither this process nor anyone holding the descriptor can change it.
  EXPECT_LT(::pwrite(sealed->fd(), "X", 1, 0), 0);
  EXPECT_NE(::ftruncate(sealed->fd(), 1), 0);
}

}  // namespace
}  // namespace pydepot::index

namespace pydepot::index {
namespace {

// --- Deleting ---------------------------------------------------------------------------------

constexpr char kWheel2Name[] = "foo-2.0-py3-none-any.whl";

class DeleteTest : public IndexTest {
 protected:
  void MustUpload(const std::string& filename, const std::string& bytes, Index* index = nullptr) {
    auto outcome = Upload(filename, bytes, index);
    ASSERT_TRUE(outcome.has_value()) << filename << ": " << ErrorOf(outcome);
  }

  bool Stored(const StatusOr<std::string>& key) {
    return key.has_value() && storage_->Head(*key).has_value();
  }
  bool FileStored(std::string_view filename, std::string_view project = "foo") {
    return Stored(storage::FileKey(project, filename));
  }
  bool MetadataStored(std::string_view filename, std::string_view project = "foo") {
    return Stored(storage::MetadataKey(project, filename));
  }

  // The names in the project list as stored.
  std::vector<std::string> ListedProjects() {
    auto object = storage_->Get(storage::ProjectListKey());
    if (!object.has_value()) {
      EXPECT_EQ(object.error().code(), StatusCode::kNotFound);
      return {};
    }
    auto list = doc::DecodeProjectList(object->data);
    EXPECT_TRUE(list.has_value());
    return list.has_value() ? Names(*list) : std::vector<std::string>{};
  }
  static std::vector<std::string> Names(const doc::ProjectList& list) {
    std::vector<std::string> names;
    for (const doc::ProjectListEntry& entry : list.projects) {
      names.push_back(entry.name);
    }
    return names;
  }
  std::vector<std::string> RootNames(Index& index) {
    auto root = index.GetRoot();
    EXPECT_TRUE(root.has_value()) << ErrorOf(root);
    return root.has_value() ? Names((*root)->list) : std::vector<std::string>{};
  }
  static std::vector<std::string> Filenames(const doc::ProjectDoc& doc) {
    std::vector<std::string> names;
    for (const doc::FileEntry& file : doc.files) {
      names.push_back(file.filename);
    }
    return names;
  }

  // What a delete must keep true whatever failed or ran beside it: every listed file is stored
  // (with its .metadata when it has one) and is not a deleted filename; release metadata and
  // yanks belong to releases with files; the project is listed exactly when it has files.
  void ExpectConsistent(std::string_view project = "foo") {
    const doc::ProjectDoc doc = StoredDoc(project);
    for (const doc::FileEntry& file : doc.files) {
      EXPECT_TRUE(FileStored(file.filename, project)) << file.filename << " listed without bytes";
      if (!file.metadata_sha256.empty()) {
        EXPECT_TRUE(MetadataStored(file.filename, project)) << file.filename;
      }
      EXPECT_EQ(
          std::count(doc.deleted_filenames.begin(), doc.deleted_filenames.end(), file.filename), 0)
          << file.filename << " listed and deleted";
    }
    auto has_files = [&](const std::string& key) {
      return std::any_of(doc.files.begin(), doc.files.end(),
                         [&](const doc::FileEntry& file) { return file.release_key == key; });
    };
    for (const auto& [key, release] : doc.releases) {
      EXPECT_TRUE(has_files(key)) << "release " << key << " without files";
    }
    for (const auto& [key, reason] : doc.yanked) {
      EXPECT_TRUE(has_files(key)) << "yank of " << key << " without files";
    }
    const std::vector<std::string> listed = ListedProjects();
    EXPECT_EQ(std::count(listed.begin(), listed.end(), std::string(project)),
              doc.files.empty() ? 0 : 1)
        << project << " has " << doc.files.size() << " files";
  }
};

TEST_F(DeleteTest, DeleteFileRemovesOnlyThatFile) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kSdistName, FooSdist());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  ASSERT_EQ(Project()->doc.files.size(), 3U);  // cached before the delete

  ASSERT_TRUE(index_->DeleteFile("foo", kWheelName).ok());
  const doc::ProjectDoc doc = StoredDoc();
  EXPECT_EQ(doc.serial, 4);
  EXPECT_THAT(Filenames(doc), ElementsAre(kSdistName, kWheel2Name));
  EXPECT_THAT(doc.deleted_filenames, ElementsAre(kWheelName));
  EXPECT_EQ(doc.releases.count("1"), 1U) << "the sdist is left in release 1.0";
  EXPECT_FALSE(FileStored(kWheelName));
  EXPECT_FALSE(MetadataStored(kWheelName));
  EXPECT_TRUE(FileStored(kSdistName));
  EXPECT_TRUE(FileStored(kWheel2Name));
  EXPECT_TRUE(MetadataStored(kWheel2Name));

  // This instance serves the change at once, whatever its TTL.
  auto view = Project();
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.serial, 4);
  EXPECT_THAT(view->simple_html.body, ::testing::Not(HasSubstr(kWheelName)));
  EXPECT_THAT(view->simple_html.body, HasSubstr(kSdistName));
  EXPECT_THAT(ListedProjects(), ElementsAre("foo"));
  ExpectConsistent();
}

TEST_F(DeleteTest, DeleteFileOfUnknownFileOrProjectIsNotFound) {
  MustUpload(kWheelName, FooWheel());
  EXPECT_EQ(index_->DeleteFile("foo", "foo-9.0-py3-none-any.whl").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteFile("foo", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteFile("bar", kWheelName).code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteFile("../etc", kWheelName).code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteFile("", kWheelName).code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredDoc().serial, 1) << "nothing changed";
  EXPECT_FALSE(storage_->Head(*storage::ProjectDocKey("bar")).has_value());

  ASSERT_TRUE(index_->DeleteFile("Foo", kWheelName).ok());
  const Status again = index_->DeleteFile("foo", kWheelName);
  EXPECT_EQ(again.code(), StatusCode::kNotFound) << again;
}

TEST_F(DeleteTest, LastFileOfAReleaseTakesItsMetadataAndYank) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kSdistName, FooSdist());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  ASSERT_TRUE(index_->Yank("foo", "1.0", "broken").ok());
  ASSERT_TRUE(index_->Yank("foo", "2.0", "old").ok());

  ASSERT_TRUE(index_->DeleteFile("foo", kWheelName).ok());
  doc::ProjectDoc doc = StoredDoc();
  EXPECT_EQ(doc.releases.count("1"), 1U);
  EXPECT_EQ(doc.yanked.count("1"), 1U) << "the sdist is still yanked";

  ASSERT_TRUE(index_->DeleteFile("foo", kSdistName).ok());
  doc = StoredDoc();
  EXPECT_EQ(doc.releases.count("1"), 0U);
  EXPECT_EQ(doc.yanked.count("1"), 0U);
  EXPECT_EQ(doc.releases.count("2"), 1U);
  EXPECT_EQ(doc.yanked.at("2"), "old");
  EXPECT_THAT(doc.deleted_filenames, ElementsAre(kWheelName, kSdistName));
  EXPECT_EQ(Project()->doc.releases.size(), 1U);
  // The release is gone: yanking or deleting it finds nothing.
  EXPECT_EQ(index_->Yank("foo", "1.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteRelease("foo", "1.0").code(), StatusCode::kNotFound);
  ExpectConsistent();
}

TEST_F(DeleteTest, DeleteReleaseByReleaseKey) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kSdistName, FooSdist());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  ASSERT_TRUE(index_->Yank("foo", "1.0", "broken").ok());

  ASSERT_TRUE(index_->DeleteRelease("foo", "1.0.0").ok());
  const doc::ProjectDoc doc = StoredDoc();
  EXPECT_THAT(Filenames(doc), ElementsAre(kWheel2Name));
  EXPECT_THAT(doc.deleted_filenames, UnorderedElementsAre(kWheelName, kSdistName));
  EXPECT_EQ(doc.releases.size(), 1U);
  EXPECT_EQ(doc.releases.count("2"), 1U);
  EXPECT_THAT(doc.yanked, IsEmpty());
  EXPECT_EQ(doc.serial, 5);
  EXPECT_FALSE(FileStored(kWheelName));
  EXPECT_FALSE(MetadataStored(kWheelName));
  EXPECT_FALSE(FileStored(kSdistName));
  EXPECT_TRUE(FileStored(kWheel2Name));
  EXPECT_THAT(Filenames(Project()->doc), ElementsAre(kWheel2Name));

  EXPECT_EQ(index_->DeleteRelease("foo", "1.0").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteRelease("foo", "3.0").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteRelease("bar", "2.0").code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredDoc().serial, 5);
  ExpectConsistent();
}

TEST_F(DeleteTest, DeletedFilenamesAreRefusedOnUploadAndImport) {
  const std::string wheel = FooWheel();
  MustUpload(kWheelName, wheel);
  MustUpload(kSdistName, FooSdist());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  ASSERT_TRUE(index_->DeleteRelease("foo", "1.0").ok());

  for (const auto& [filename, bytes] : std::vector<std::pair<std::string, std::string>>{
           {kWheelName, wheel}, {kWheelName, FooWheel("1.0", "other")}, {kSdistName, FooSdist()}}) {
    auto upload = Upload(filename, bytes);
    ASSERT_FALSE(upload.has_value()) << filename;
    EXPECT_EQ(upload.error().code(), StatusCode::kFailedPrecondition) << upload.error();
    EXPECT_THAT(upload.error().message(),
                StartsWith("This filename was previously used by a file that has since been "
                           "deleted."));
    EXPECT_EQ(ReservedPhraseIn(upload.error().message()), "");
  }
  auto imported = index_->Import(dir_.Write(wheel), kWheelName, "", 0, "importer");
  ASSERT_FALSE(imported.has_value());
  EXPECT_EQ(imported.error().code(), StatusCode::kFailedPrecondition) << imported.error();
  auto imported_sdist = index_->Import(dir_.Write(FooSdist()), kSdistName, "foo", 0, "importer");
  ASSERT_FALSE(imported_sdist.has_value());
  EXPECT_EQ(imported_sdist.error().code(), StatusCode::kFailedPrecondition);

  // Refused before anything was stored.
  EXPECT_FALSE(FileStored(kWheelName));
  EXPECT_FALSE(FileStored(kSdistName));
  EXPECT_THAT(Filenames(StoredDoc()), ElementsAre(kWheel2Name));
  ExpectConsistent();
}

TEST_F(DeleteTest, DeletedProjectIsNotFoundEverywhere) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kSdistName, FooSdist());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  ASSERT_TRUE(index_->Yank("foo", "2.0", "old").ok());
  ASSERT_TRUE(index_
                  ->Upload(MakeForm(dir_, "bar-1.0.tar.gz",
                                    Sdist("bar-1.0", Metadata("Bar", "1.0")), "bar", "1.0"),
                           "alice")
                  .has_value());
  // Another instance that revalidates on every request, with the project cached.
  auto other = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  ASSERT_TRUE(other->GetProject("foo").has_value());
  ASSERT_THAT(RootNames(*other), ElementsAre("bar", "foo"));

  ASSERT_TRUE(index_->DeleteProject("foo").ok());
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  auto peeked = index_->PeekProject("foo");
  ASSERT_TRUE(peeked.has_value()) << "answered from memory";
  ASSERT_FALSE(peeked->has_value());
  EXPECT_EQ(peeked->error().code(), StatusCode::kNotFound);
  EXPECT_THAT(RootNames(*index_), ElementsAre("bar"));
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  EXPECT_THAT((*root)->simple_html.body, ::testing::Not(HasSubstr("foo")));
  EXPECT_THAT(ListedProjects(), ElementsAre("bar"));

  EXPECT_EQ(other->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_THAT(RootNames(*other), ElementsAre("bar"));

  // The document stays, with every filename refused from now on; the bytes are gone.
  const doc::ProjectDoc doc = StoredDoc();
  EXPECT_THAT(doc.files, IsEmpty());
  EXPECT_THAT(doc.releases, IsEmpty());
  EXPECT_THAT(doc.yanked, IsEmpty());
  EXPECT_THAT(doc.deleted_filenames, UnorderedElementsAre(kWheelName, kSdistName, kWheel2Name));
  EXPECT_TRUE(IsDeletedProject(doc));
  for (const char* filename : {kWheelName, kSdistName, kWheel2Name}) {
    EXPECT_FALSE(FileStored(filename)) << filename;
    EXPECT_FALSE(MetadataStored(filename)) << filename;
  }

  // After a restart, read from the store.
  auto fresh = Index::Create(*storage_, TestOptions());
  EXPECT_EQ(fresh->GetProject("foo").error().code(), StatusCode::kNotFound);
  auto fresh_peek = fresh->PeekProject("foo");
  ASSERT_TRUE(fresh_peek.has_value());
  EXPECT_FALSE(fresh_peek->has_value());
  EXPECT_THAT(RootNames(*fresh), ElementsAre("bar"));
  EXPECT_TRUE(fresh->GetProject("bar").has_value());

  // Nothing is left to delete or yank.
  EXPECT_EQ(index_->DeleteProject("foo").code(), StatusCode::kNotFound);
  EXPECT_EQ(fresh->DeleteProject("foo").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteRelease("foo", "2.0").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteFile("foo", kWheel2Name).code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->Yank("foo", "2.0", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteProject("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(index_->DeleteProject("").code(), StatusCode::kNotFound);
  EXPECT_EQ(StoredDoc().serial, doc.serial);
  ExpectConsistent("foo");
  ExpectConsistent("bar");
}

TEST_F(DeleteTest, DeletingTheLastFileDeletesTheProject) {
  MustUpload(kWheelName, FooWheel());
  ASSERT_TRUE(index_->DeleteFile("foo", kWheelName).ok());
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_THAT(RootNames(*index_), IsEmpty());
  EXPECT_THAT(ListedProjects(), IsEmpty());
  ExpectConsistent();
}

TEST_F(DeleteTest, DeletedProjectsNameTakesNewFilenames) {
  MustUpload(kWheelName, FooWheel());
  ASSERT_TRUE(index_->DeleteProject("foo").ok());

  auto again = Upload(kWheel2Name, FooWheel("2.0", "", "FOO"));
  ASSERT_TRUE(again.has_value()) << ErrorOf(again);
  EXPECT_TRUE(again->created);
  auto view = Project();
  ASSERT_NE(view, nullptr);
  EXPECT_THAT(Filenames(view->doc), ElementsAre(kWheel2Name));
  EXPECT_EQ(view->doc.display_name, "FOO");
  EXPECT_THAT(view->doc.deleted_filenames, ElementsAre(kWheelName));
  EXPECT_EQ(view->doc.releases.size(), 1U);
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ((*root)->list.projects.size(), 1U);
  EXPECT_EQ((*root)->list.projects[0].display_name, "FOO");
  EXPECT_THAT(ListedProjects(), ElementsAre("foo"));

  // An import of a new filename works too; the deleted one stays refused.
  auto imported = index_->Import(dir_.Write(FooSdist("3.0")), "foo-3.0.tar.gz", "", 0, "importer");
  ASSERT_TRUE(imported.has_value()) << ErrorOf(imported);
  EXPECT_TRUE(imported->created);
  EXPECT_EQ(Upload(kWheelName, FooWheel()).error().code(), StatusCode::kFailedPrecondition);

  auto fresh = Index::Create(*storage_, TestOptions());
  auto seen = Project(fresh.get());
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->doc.files.size(), 2U);
  EXPECT_THAT(RootNames(*fresh), ElementsAre("foo"));
  ExpectConsistent();
}

// --- Private names and the upstream setting (docs/upstream.md) ---------------------------------

// A memory store whose Head fails (a store outage met by the private-name check).
class HeadFailingStorage final : public storage::StorageWrapper {
 public:
  HeadFailingStorage() : StorageWrapper(storage::NewMemStorage()) {}
  std::atomic<bool> fail_heads{false};
  StatusOr<storage::ObjectInfo> Head(std::string_view key) override {
    if (fail_heads) {
      return UnavailableError("injected failure reading " + std::string(key));
    }
    return target().Head(key);
  }
};

bool IsPrivate(Index& index, std::string_view name) {
  auto answer = index.IsPrivateName(name);
  EXPECT_TRUE(answer.has_value()) << name << ": " << ErrorOf(answer);
  return answer.has_value() && *answer;
}

TEST_F(IndexTest, ClaimReservesANameThatServesNothing) {
  EXPECT_FALSE(IsPrivate(*index_, "my-tool"));
  auto claimed = index_->Claim("My.Tool");
  ASSERT_TRUE(claimed.has_value()) << ErrorOf(claimed);
  EXPECT_TRUE(*claimed);
  EXPECT_TRUE(IsPrivate(*index_, "my-tool"));

  // An empty document under the normalized name, keeping the spelling it was claimed with.
  const doc::ProjectDoc doc = StoredDoc("my-tool");
  EXPECT_EQ(doc.name, "my-tool");
  EXPECT_EQ(doc.display_name, "My.Tool");
  EXPECT_EQ(doc.serial, 1);
  EXPECT_THAT(doc.files, IsEmpty());
  EXPECT_THAT(doc.releases, IsEmpty());
  EXPECT_THAT(doc.deleted_filenames, IsEmpty());
  EXPECT_FALSE(doc.upstream_allowed);
  // It serves nothing and is not listed.
  EXPECT_EQ(index_->GetProject("my-tool").error().code(), StatusCode::kNotFound);
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  EXPECT_THAT((*root)->list.projects, IsEmpty());
  EXPECT_FALSE(storage_->Head(storage::ProjectListKey()).has_value());

  // Claimed already, in any spelling: false, and the document is left as it was.
  for (const char* spelling : {"my-tool", "MY_TOOL", "My.Tool"}) {
    auto again = index_->Claim(spelling);
    ASSERT_TRUE(again.has_value()) << spelling << ": " << ErrorOf(again);
    EXPECT_FALSE(*again) << spelling;
  }
  EXPECT_EQ(StoredDoc("my-tool").serial, 1);
  EXPECT_EQ(StoredDoc("my-tool").display_name, "My.Tool");

  // Another instance (and a restart) sees the claim in the store.
  auto other = Index::Create(*storage_, TestOptions());
  EXPECT_TRUE(IsPrivate(*other, "my-tool"));
  auto other_claim = other->Claim("my-tool");
  ASSERT_TRUE(other_claim.has_value());
  EXPECT_FALSE(*other_claim);
}

TEST_F(IndexTest, AClaimedNameTakesItsFirstUpload) {
  ASSERT_TRUE(index_->Claim("Foo").has_value());
  auto outcome = Upload(kWheelName, FooWheel());
  ASSERT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  EXPECT_TRUE(outcome->created);
  auto view = Project();
  ASSERT_NE(view, nullptr);
  ASSERT_EQ(view->doc.files.size(), 1U);
  EXPECT_EQ(view->doc.files[0].filename, kWheelName);
  EXPECT_EQ(view->doc.serial, 2);
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  ASSERT_EQ((*root)->list.projects.size(), 1U);
  EXPECT_EQ((*root)->list.projects[0].name, "foo");
  EXPECT_TRUE(IsPrivate(*index_, "foo"));
}

TEST_F(IndexTest, ClaimRefusesInvalidNamesAndLeavesUploadedProjectsAlone) {
  for (const char* bad : {"", "-foo", "foo-", "../etc", "a/b", "foo bar", "f\xc3\xb6\xc3\xb6"}) {
    auto claimed = index_->Claim(bad);
    ASSERT_FALSE(claimed.has_value()) << bad;
    EXPECT_EQ(claimed.error().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(claimed.error().message(), HasSubstr("not a valid project name")) << bad;
  }
  auto listed = storage_->List("");
  ASSERT_TRUE(listed.has_value());
  EXPECT_THAT(*listed, IsEmpty()) << "a refused claim stores nothing";

  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  const doc::ProjectDoc before = StoredDoc();
  auto claimed = index_->Claim("Foo");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_FALSE(*claimed);
  const doc::ProjectDoc after = StoredDoc();
  EXPECT_EQ(after.serial, before.serial);
  EXPECT_EQ(after.files.size(), 1U);
  EXPECT_EQ(after.display_name, before.display_name);
}

TEST_F(IndexTest, IsPrivateNameReadsTheStoreAndFailsClosed) {
  EXPECT_FALSE(IsPrivate(*index_, "foo"));
  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  EXPECT_TRUE(IsPrivate(*index_, "foo"));
  EXPECT_FALSE(IsPrivate(*index_, "bar"));
  // Another instance's claim counts at once, whatever this instance has cached.
  auto other = Index::Create(*storage_, TestOptions());
  ASSERT_TRUE(other->Claim("bar").has_value());
  EXPECT_TRUE(IsPrivate(*index_, "bar"));
  // Not a name: an error, never "public".
  auto invalid = index_->IsPrivateName("../etc");
  EXPECT_FALSE(invalid.has_value());

  // A store that cannot answer: kUnavailable, never "public" (callers must not go upstream).
  HeadFailingStorage failing;
  auto index = Index::Create(failing, TestOptions());
  ASSERT_TRUE(index->Claim("foo").has_value());
  failing.fail_heads = true;
  for (const char* name : {"foo", "bar"}) {
    auto answer = index->IsPrivateName(name);
    ASSERT_FALSE(answer.has_value()) << name;
    EXPECT_EQ(answer.error().code(), StatusCode::kUnavailable) << name;
  }
}

TEST_F(IndexTest, SetUpstreamAllowedNeedsADocument) {
  const Status missing = index_->SetUpstreamAllowed("foo", true);
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("claim the name or upload to it first"));
  EXPECT_FALSE(IsPrivate(*index_, "foo")) << "refusing created nothing";

  ASSERT_TRUE(Upload(kWheelName, FooWheel()).has_value());
  ASSERT_NE(Project(), nullptr);  // cached before the change
  ASSERT_TRUE(index_->SetUpstreamAllowed("foo", true).ok());
  EXPECT_TRUE(StoredDoc().upstream_allowed);
  EXPECT_EQ(StoredDoc().serial, 2);
  auto view = Project();
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->doc.upstream_allowed) << "this instance serves the change at once";
  EXPECT_EQ(view->doc.files.size(), 1U);
  // Setting what is set writes nothing.
  ASSERT_TRUE(index_->SetUpstreamAllowed("foo", true).ok());
  EXPECT_EQ(StoredDoc().serial, 2);

  ASSERT_TRUE(index_->SetUpstreamAllowed("foo", false).ok());
  EXPECT_FALSE(StoredDoc().upstream_allowed);
  EXPECT_EQ(StoredDoc().serial, 3);
  EXPECT_FALSE(Project()->doc.upstream_allowed);

  // A claimed name can be opened before its first upload.
  ASSERT_TRUE(index_->Claim("bar").has_value());
  ASSERT_TRUE(index_->SetUpstreamAllowed("bar", true).ok());
  EXPECT_TRUE(StoredDoc("bar").upstream_allowed);
  EXPECT_TRUE(StoredDoc("bar").files.empty());
}

TEST_F(DeleteTest, DeletedProjectsNameStaysPrivate) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kSdistName, FooSdist());
  ASSERT_TRUE(index_->DeleteProject("foo").ok());
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(IsPrivate(*index_, "foo"));
  auto fresh = Index::Create(*storage_, TestOptions());
  EXPECT_TRUE(IsPrivate(*fresh, "foo"));
  // It stays taken: a claim finds it so.
  auto claimed = index_->Claim("foo");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_FALSE(*claimed);

  // Deleting the last file of a project is deleting the project: private too.
  ASSERT_TRUE(index_
                  ->Upload(MakeForm(dir_, "bar-1.0.tar.gz",
                                    Sdist("bar-1.0", Metadata("Bar", "1.0")), "bar", "1.0"),
                           "alice")
                  .has_value());
  ASSERT_TRUE(index_->DeleteFile("bar", "bar-1.0.tar.gz").ok());
  EXPECT_EQ(index_->GetProject("bar").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(IsPrivate(*index_, "bar"));
  EXPECT_THAT(ListedProjects(), IsEmpty());
}

// --- Deleting: failures and races --------------------------------------------------------------

TEST_F(DeleteTest, FailedDocumentUpdateDeletesNothing) {
  MustUpload(kWheelName, FooWheel());
  MustUpload(kWheel2Name, FooWheel("2.0"));
  const std::vector<std::function<Status()>> deletes = {
      [&] { return index_->DeleteFile("foo", kWheelName); },
      [&] { return index_->DeleteRelease("foo", "1.0"); },
      [&] { return index_->DeleteProject("foo"); },
  };
  for (const auto& remove : deletes) {
    storage_->fail_project_doc_puts = 1;
    const Status status = remove();
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), HasSubstr("injected failure"));
    const doc::ProjectDoc doc = StoredDoc();
    EXPECT_EQ(doc.files.size(), 2U);
    EXPECT_THAT(doc.deleted_filenames, IsEmpty());
    EXPECT_TRUE(FileStored(kWheelName));
    EXPECT_TRUE(MetadataStored(kWheelName));
    EXPECT_EQ(Project()->doc.files.size(), 2U);
    ExpectConsistent();
  }
  // Retried, each goes through.
  ASSERT_TRUE(index_->DeleteFile("foo", kWheelName).ok());
  ASSERT_TRUE(index_->DeleteProject("foo").ok());
  ExpectConsistent();
}

TEST_F(DeleteTest, FailedByteDeletesLeaveOrphansNeverAListedFileWithoutBytes) {
  const std::string wheel = FooWheel();
  MustUpload(kWheelName, wheel);
  MustUpload(kSdistName, FooSdist());
  storage_->fail_deletes = 1;  // the wheel's bytes stay; its .metadata goes
  const Status status = index_->DeleteFile("foo", kWheelName);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("fsck --repair"));
  const doc::ProjectDoc doc = StoredDoc();
  EXPECT_THAT(Filenames(doc), ElementsAre(kSdistName));
  EXPECT_THAT(doc.deleted_filenames, ElementsAre(kWheelName));
  EXPECT_TRUE(FileStored(kWheelName)) << "an orphan for fsck --repair";
  EXPECT_FALSE(MetadataStored(kWheelName));
  EXPECT_THAT(Filenames(Project()->doc), ElementsAre(kSdistName));
  // The file is gone for every purpose: deleting it again finds nothing, and its bytes do not
  // make its filename usable.
  EXPECT_EQ(index_->DeleteFile("foo", kWheelName).code(), StatusCode::kNotFound);
  EXPECT_EQ(Upload(kWheelName, wheel).error().code(), StatusCode::kFailedPrecondition);
  ExpectConsistent();

  // A whole project, every delete failing: the document is updated, the bytes stay as orphans.
  storage_->fail_deletes = 1000;
  const Status project = index_->DeleteProject("foo");
  EXPECT_EQ(project.code(), StatusCode::kUnavailable) << project;
  storage_->fail_deletes = 0;
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(FileStored(kSdistName));
  EXPECT_THAT(ListedProjects(), IsEmpty());
  ExpectConsistent();
}

TEST_F(DeleteTest, FailedListUpdateOfADeletedProjectConvergesOnRetry) {
  MustUpload(kWheelName, FooWheel());
  ASSERT_TRUE(index_
                  ->Upload(MakeForm(dir_, "bar-1.0.tar.gz",
                                    Sdist("bar-1.0", Metadata("Bar", "1.0")), "bar", "1.0"),
                           "alice")
                  .has_value());
  storage_->fail_project_list_puts = 1;
  const Status status = index_->DeleteProject("foo");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  // The document update is done, and the bytes are deleted, but the list still names foo.
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_FALSE(FileStored(kWheelName));
  EXPECT_THAT(ListedProjects(), ElementsAre("bar", "foo"));

  // Repeating the delete answers kNotFound (nothing left to delete) and finishes the list.
  EXPECT_EQ(index_->DeleteProject("foo").code(), StatusCode::kNotFound);
  EXPECT_THAT(ListedProjects(), ElementsAre("bar"));
  EXPECT_THAT(RootNames(*index_), ElementsAre("bar"));
  ExpectConsistent("foo");
  ExpectConsistent("bar");
}

TEST_F(DeleteTest, SyncProjectListEntryTreatsADeletedProjectAsAbsent) {
  MustUpload(kWheelName, FooWheel());
  storage_->fail_project_list_puts = 1;
  ASSERT_EQ(index_->DeleteProject("foo").code(), StatusCode::kUnavailable);
  ASSERT_THAT(ListedProjects(), ElementsAre("foo"));
  auto changed = index_->SyncProjectListEntry("foo");
  ASSERT_TRUE(changed.has_value()) << ErrorOf(changed);
  EXPECT_TRUE(*changed);
  EXPECT_THAT(ListedProjects(), IsEmpty());
  changed = index_->SyncProjectListEntry("foo");
  ASSERT_TRUE(changed.has_value());
  EXPECT_FALSE(*changed) << "a deleted project is never listed again";
  EXPECT_THAT(ListedProjects(), IsEmpty());
  ExpectConsistent();
}

// An upload through another instance lists its file after the delete read the document, and
// reads the project list before the delete writes it: it finds the project listed and leaves the
// list alone (same display name, no later time). The delete must notice and list it again.
TEST_F(DeleteTest, UploadBetweenTheListReadAndWriteOfADeleteStaysListed) {
  auto other = Index::Create(*storage_, TestOptions());
  MustUpload(kWheelName, FooWheel());
  storage_->before_list_put = [&] {
    auto outcome = Upload(kWheel2Name, FooWheel("2.0"), other.get());
    EXPECT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  };
  ASSERT_TRUE(index_->DeleteProject("foo").ok());
  EXPECT_TRUE(storage_->before_list_put == nullptr) << "the hook ran";
  EXPECT_THAT(Filenames(StoredDoc()), ElementsAre(kWheel2Name));
  EXPECT_THAT(ListedProjects(), ElementsAre("foo"));
  EXPECT_THAT(RootNames(*index_), ElementsAre("foo"));
  auto view = Project();
  ASSERT_NE(view, nullptr);
  EXPECT_THAT(Filenames(view->doc), ElementsAre(kWheel2Name));
  ExpectConsistent();
}

// An instance whose cached project list still names a project deleted elsewhere must not take
// it for listed when a retried upload finds its file already in the recreated project.
TEST_F(DeleteTest, RetryOnAnInstanceWithAStaleListListsARecreatedProject) {
  std::atomic<std::int64_t> clock{kNow};
  IndexOptions options = TestOptions(std::chrono::hours(1));
  options.now_micros = [&clock] { return clock.fetch_add(1000); };
  auto a = Index::Create(*storage_, options);
  auto b = Index::Create(*storage_, options);
  MustUpload(kWheelName, FooWheel(), a.get());
  ASSERT_THAT(RootNames(*a), ElementsAre("foo"));

  ASSERT_TRUE(b->DeleteProject("foo").ok());
  const std::string wheel = FooWheel("2.0");
  storage_->fail_project_list_puts = 1;
  ASSERT_FALSE(Upload(kWheel2Name, wheel, b.get()).has_value());
  ASSERT_THAT(ListedProjects(), IsEmpty());

  auto retry = Upload(kWheel2Name, wheel, a.get());
  ASSERT_TRUE(retry.has_value()) << ErrorOf(retry);
  EXPECT_FALSE(retry->created);
  EXPECT_THAT(ListedProjects(), ElementsAre("foo"));
  ExpectConsistent();
}

// Uploads of new files and deletes of other files of one project, through two instances at
// once: every upload is kept, exactly the deleted files go.
TEST_F(DeleteTest, ConcurrentUploadsAndDeletesThroughTwoInstancesLoseNothingElse) {
  constexpr int kUploads = 8;
  auto a = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  auto b = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  std::vector<std::string> doomed;
  for (int i = 0; i < 4; ++i) {
    doomed.push_back("foo-0." + std::to_string(i) + "-py3-none-any.whl");
    MustUpload(doomed.back(), FooWheel("0." + std::to_string(i)), a.get());
  }
  std::vector<doc::UploadForm> forms;
  std::vector<std::string> kept;
  for (int i = 0; i < kUploads; ++i) {
    const std::string version = "1." + std::to_string(i);
    kept.push_back("foo-" + version + "-py3-none-any.whl");
    forms.push_back(Form(kept.back(), FooWheel(version), "foo", version));
  }
  std::latch start(kUploads + 1);
  std::vector<Status> uploads(kUploads);
  std::vector<Status> deletes;
  std::vector<std::thread> threads;
  threads.reserve(kUploads + 1);
  for (int i = 0; i < kUploads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto outcome = (i % 2 == 0 ? a : b)->Upload(forms[i], "alice");
      uploads[i] = outcome.has_value() ? OkStatus() : outcome.error();
    });
  }
  threads.emplace_back([&] {
    start.arrive_and_wait();
    deletes.push_back(b->DeleteRelease("foo", "0.0"));
    deletes.push_back(a->DeleteFile("foo", doomed[1]));
    deletes.push_back(b->DeleteFile("foo", doomed[2]));
    deletes.push_back(a->DeleteRelease("foo", "0.3"));
  });
  for (auto& thread : threads) {
    thread.join();
  }
  for (const Status& status : uploads) {
    EXPECT_TRUE(status.ok()) << status;
  }
  for (const Status& status : deletes) {
    EXPECT_TRUE(status.ok()) << status;
  }
  const doc::ProjectDoc doc = StoredDoc();
  EXPECT_THAT(Filenames(doc), ::testing::UnorderedElementsAreArray(kept));
  EXPECT_THAT(doc.deleted_filenames, ::testing::UnorderedElementsAreArray(doomed));
  EXPECT_EQ(doc.serial, 4 + kUploads + 4);
  for (const std::string& filename : doomed) {
    EXPECT_FALSE(FileStored(filename)) << filename;
  }
  for (Index* index : {a.get(), b.get()}) {
    auto view = Project(index);
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(view->doc.serial, doc.serial);
    EXPECT_THAT(RootNames(*index), ElementsAre("foo"));
  }
  ExpectConsistent();
}

// Uploads racing a delete of the whole project: each accepted upload is either listed (it came
// after the delete) or deleted with the project (it came before), and the project is listed
// exactly when files are left.
TEST_F(DeleteTest, ConcurrentUploadsAndDeleteProjectStayConsistent) {
  constexpr int kRounds = 4;
  constexpr int kUploads = 6;
  auto a = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  auto b = Index::Create(*storage_, TestOptions(std::chrono::milliseconds(0)));
  for (int round = 0; round < kRounds; ++round) {
    const std::string project = "p" + std::to_string(round);
    auto form = [&](const std::string& version) {
      return MakeForm(dir_, project + "-" + version + "-py3-none-any.whl",
                      Wheel(project, version, Metadata(project, version)), project, version);
    };
    ASSERT_TRUE(a->Upload(form("0.1"), "alice").has_value());
    std::vector<doc::UploadForm> forms;
    for (int i = 0; i < kUploads; ++i) {
      forms.push_back(form("1." + std::to_string(i)));
    }
    std::latch start(kUploads + 1);
    std::vector<Status> uploads(kUploads);
    Status deleted;
    std::vector<std::thread> threads;
    threads.reserve(kUploads + 1);
    for (int i = 0; i < kUploads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        auto outcome = (i % 2 == 0 ? a : b)->Upload(forms[i], "alice");
        uploads[i] = outcome.has_value() ? OkStatus() : outcome.error();
      });
    }
    threads.emplace_back([&] {
      start.arrive_and_wait();
      deleted = (round % 2 == 0 ? a : b)->DeleteProject(project);
    });
    for (auto& thread : threads) {
      thread.join();
    }
    EXPECT_TRUE(deleted.ok()) << deleted;
    const doc::ProjectDoc doc = StoredDoc(project);
    EXPECT_THAT(doc.deleted_filenames, ::testing::Contains(project + "-0.1-py3-none-any.whl"));
    for (int i = 0; i < kUploads; ++i) {
      EXPECT_TRUE(uploads[i].ok()) << uploads[i];
      const std::string& filename = forms[i].content->filename;
      const bool listed = doc.FindFile(filename) != nullptr;
      const bool gone =
          std::count(doc.deleted_filenames.begin(), doc.deleted_filenames.end(), filename) == 1;
      EXPECT_NE(listed, gone) << filename;
    }
    for (Index* index : {a.get(), b.get()}) {
      const bool served = index->GetProject(project).has_value();
      EXPECT_EQ(served, !doc.files.empty()) << project;
    }
    ExpectConsistent(project);
  }
}

}  // namespace
}  // namespace pydepot::index
