#include "index/fsck.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "doc/project.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "storage/storage_wrapper.h"

namespace pydepot::index {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeForm;
using testing::Metadata;
using testing::Sdist;
using testing::TakeFailure;
using testing::TempDir;
using testing::Wheel;

constexpr char kWheelName[] = "foo-1.0-py3-none-any.whl";
constexpr char kSdistName[] = "foo-1.0.tar.gz";

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename T>
std::string ErrorOf(const StatusOr<T>& result) {
  return result.has_value() ? std::string("(ok)") : result.error().ToString();
}

// A store (memory, or another given one) with crashes and interleavings injected: failed
// document writes and deletes, a failing Open, and hooks that run just before a delete or a
// document write.
class HookedStorage final : public storage::StorageWrapper {
 public:
  explicit HookedStorage(std::unique_ptr<storage::Storage> target = storage::NewMemStorage())
      : StorageWrapper(std::move(target)) {}

  std::atomic<int> fail_project_doc_puts{0};
  std::atomic<int> fail_project_list_puts{0};
  std::atomic<int> fail_deletes{0};
  std::atomic<bool> fail_opens{false};
  std::function<void(std::string_view key)> before_delete;
  std::function<void(std::string_view key)> before_doc_put;

  StatusOr<std::unique_ptr<storage::ReadStream>> Open(std::string_view key, std::int64_t offset,
                                                      std::int64_t length) override {
    if (fail_opens.load()) {
      return UnavailableError("injected failure opening " + std::string(key));
    }
    return target().Open(key, offset, length);
  }
  StatusOr<storage::ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view expected_etag) override {
    const bool list = key == storage::ProjectListKey();
    const bool project_doc = !list && storage::ClassifyKey(key) == storage::KeyKind::kProjectDoc;
    if ((project_doc && TakeFailure(fail_project_doc_puts)) ||
        (list && TakeFailure(fail_project_list_puts))) {
      return UnavailableError("injected failure writing " + std::string(key));
    }
    if (project_doc && before_doc_put) {
      auto hook = std::exchange(before_doc_put, nullptr);  // once
      hook(key);
    }
    return target().PutIfMatch(key, data, expected_etag);
  }
  Status Delete(std::string_view key) override {
    if (TakeFailure(fail_deletes)) {
      return UnavailableError("injected failure deleting " + std::string(key));
    }
    if (before_delete) {
      auto hook = std::exchange(before_delete, nullptr);  // once
      hook(key);
    }
    return target().Delete(key);
  }
};

class FsckTest : public ::testing::Test {
 protected:
  std::string FooWheel(std::string_view payload = "", std::string_view name = "Foo") {
    return Wheel("foo", "1.0", Metadata(name, "1.0"), payload);
  }

  StatusOr<UploadOutcome> Upload(const std::string& filename, const std::string& bytes,
                                 std::string_view project = "foo",
                                 std::string_view version = "1.0") {
    return index_->Upload(MakeForm(dir_, filename, bytes, project, version), "alice");
  }

  void MustUpload(const std::string& filename, const std::string& bytes,
                  std::string_view project = "foo", std::string_view version = "1.0") {
    auto outcome = Upload(filename, bytes, project, version);
    ASSERT_TRUE(outcome.has_value()) << ErrorOf(outcome);
  }

  // Runs fsck; `hours_later` moves its clock forward (objects look that much older).
  FsckReport Check(bool repair = false, int hours_later = 0, int jobs = 4) {
    FsckOptions options;
    options.repair = repair;
    options.jobs = jobs;
    options.temp_dir = dir_.path();
    options.now_micros = [hours_later] {
      return NowMicros() + std::int64_t{hours_later} * 3600 * 1'000'000;
    };
    auto report = Fsck(*index_, options);
    EXPECT_TRUE(report.has_value()) << ErrorOf(report);
    return report.has_value() ? *std::move(report) : FsckReport{};
  }

  static std::vector<std::string> Kinds(const FsckReport& report) {
    std::vector<std::string> kinds;
    for (const FsckProblem& problem : report.problems) {
      kinds.push_back(std::string(FsckProblemKindName(problem.kind)) + " " + problem.key);
    }
    return kinds;
  }

  std::string Stored(const std::string& key) {
    auto object = storage_->Get(key);
    return object.has_value() ? object->data : "(absent: " + object.error().message() + ")";
  }

  bool Exists(const std::string& key) { return storage_->Head(key).has_value(); }

  // Replaces `key`'s bytes behind the index's back (as damage from outside would).
  void Overwrite(const std::string& key, std::string_view bytes) {
    auto head = storage_->Head(key);
    ASSERT_TRUE(head.has_value()) << ErrorOf(head);
    ASSERT_TRUE(storage_->PutIfMatch(key, bytes, head->etag).has_value());
  }

  doc::ProjectList StoredList() {
    auto object = storage_->Get(storage::ProjectListKey());
    EXPECT_TRUE(object.has_value()) << ErrorOf(object);
    if (!object.has_value()) {
      return {};
    }
    auto list = doc::DecodeProjectList(object->data);
    EXPECT_TRUE(list.has_value());
    return list.has_value() ? *list : doc::ProjectList{};
  }

  const std::string file_key_ = *storage::FileKey("foo", kWheelName);
  const std::string metadata_key_ = *storage::MetadataKey("foo", kWheelName);
  const std::string doc_key_ = *storage::ProjectDocKey("foo");
  TempDir dir_;
  std::unique_ptr<HookedStorage> storage_ = std::make_unique<HookedStorage>();
  std::unique_ptr<Index> index_ = Index::Create(*storage_);
};

TEST_F(FsckTest, CleanStoreChecksEveryListedFile) {
  const std::string wheel = FooWheel();
  const std::string sdist = Sdist("foo-1.0", Metadata("Foo", "1.0"));
  MustUpload(kWheelName, wheel);
  MustUpload(kSdistName, sdist);
  const std::string bar = Wheel("bar", "2.0", Metadata("Bar", "2.0"));
  MustUpload("bar-2.0-py3-none-any.whl", bar, "bar", "2.0");

  FsckReport report = Check();
  EXPECT_TRUE(report.problems.empty()) << ::testing::PrintToString(Kinds(report));
  EXPECT_EQ(report.projects, 2);
  EXPECT_EQ(report.files, 3);
  EXPECT_EQ(report.bytes, static_cast<std::int64_t>(wheel.size() + sdist.size() + bar.size()));
  // 3 files, 2 .metadata, 2 documents, the project list.
  EXPECT_EQ(report.objects, 8);
  EXPECT_EQ(report.Remaining(), 0);
}

TEST_F(FsckTest, EmptyStoreIsClean) {
  FsckReport report = Check(true);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.projects, 0);
  EXPECT_EQ(report.objects, 0);
}

// A crash between storing the file and listing it leaves orphans; --repair deletes them once
// they are older than the grace period, and then the filename takes other bytes again.
TEST_F(FsckTest, OrphansOfAnUnansweredUploadAreDeletedOnlyWhenOld) {
  const std::string wheel = FooWheel("first");
  storage_->fail_project_doc_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, wheel).has_value());
  ASSERT_TRUE(Exists(file_key_));
  ASSERT_TRUE(Exists(metadata_key_));

  FsckReport report = Check();
  EXPECT_THAT(Kinds(report),
              ElementsAre("orphan-file " + file_key_, "orphan-metadata " + metadata_key_));
  EXPECT_EQ(report.problems[0].project, "foo");
  EXPECT_THAT(report.problems[0].found, HasSubstr("no project document lists it"));
  EXPECT_THAT(report.problems[0].repair, HasSubstr("deletes it once it is 1 h old"));
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kNone);
  EXPECT_EQ(report.Remaining(), 2);

  // Young: an upload may be in flight, so --repair leaves them.
  report = Check(true);
  ASSERT_EQ(report.problems.size(), 2U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kSkipped);
  EXPECT_THAT(report.problems[0].outcome, HasSubstr("younger than"));
  EXPECT_EQ(report.Remaining(), 2);
  EXPECT_EQ(Sha256Hex(Stored(file_key_)), Sha256Hex(wheel));

  // The filename is blocked by the orphan meanwhile.
  auto blocked = Upload(kWheelName, FooWheel("second"));
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code(), StatusCode::kAlreadyExists);

  report = Check(true, 2);
  ASSERT_EQ(report.problems.size(), 2U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired);
  EXPECT_EQ(report.problems[0].outcome, "deleted");
  EXPECT_EQ(report.problems[1].outcome, "deleted");
  EXPECT_EQ(report.Remaining(), 0);
  EXPECT_FALSE(Exists(file_key_));
  EXPECT_FALSE(Exists(metadata_key_));
  EXPECT_TRUE(Check().problems.empty());
  // No fsck scratch copy is left behind.
  EXPECT_TRUE(std::none_of(std::filesystem::directory_iterator(dir_.path()),
                           std::filesystem::directory_iterator(), [](const auto& entry) {
                             return entry.path().filename().string().starts_with("pydepot-fsck");
                           }));

  const std::string second = FooWheel("second");
  MustUpload(kWheelName, second);
  EXPECT_EQ(Sha256Hex(Stored(file_key_)), Sha256Hex(second));
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, OrphanOfAProjectWithOtherFilesIsFound) {
  MustUpload(kSdistName, Sdist("foo-1.0", Metadata("Foo", "1.0")));
  storage_->fail_project_doc_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, FooWheel()).has_value());
  FsckReport report = Check(true, 2);
  EXPECT_THAT(Kinds(report),
              ElementsAre("orphan-file " + file_key_, "orphan-metadata " + metadata_key_));
  EXPECT_EQ(report.Remaining(), 0);
  // The listed sdist is untouched.
  EXPECT_TRUE(Exists(*storage::FileKey("foo", kSdistName)));
  EXPECT_TRUE(Check().problems.empty());
}

// fsck deletes an orphan just as a retry of the same upload lists it (the retry found the bytes
// stored and listed them before the delete landed): fsck puts the bytes back.
TEST_F(FsckTest, OrphanListedWhileBeingDeletedIsPutBack) {
  const std::string wheel = FooWheel();
  storage_->fail_project_doc_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, wheel).has_value());
  storage_->before_delete = [&](std::string_view key) {
    EXPECT_EQ(key, file_key_);
    auto retry = Upload(kWheelName, wheel);
    EXPECT_TRUE(retry.has_value()) << ErrorOf(retry);
  };
  FsckReport report = Check(true, 2);
  ASSERT_EQ(report.problems.size(), 2U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired);
  EXPECT_EQ(report.problems[0].outcome, "listed meanwhile by an upload; put back");
  // The .metadata was checked after the retry listed its wheel.
  EXPECT_EQ(report.problems[1].outcome, "listed meanwhile by an upload; kept");
  EXPECT_EQ(Sha256Hex(Stored(file_key_)), Sha256Hex(wheel));
  EXPECT_EQ(Stored(metadata_key_), Metadata("Foo", "1.0"));
  EXPECT_TRUE(Check().problems.empty()) << ::testing::PrintToString(Kinds(Check()));
}

// The other order: fsck deletes the orphan after the retry checked the stored bytes but before
// the retry listed them. The upload notices the file is gone and stores it again.
TEST_F(FsckTest, UploadRestoresAnOrphanDeletedBeforeItWasListed) {
  const std::string wheel = FooWheel();
  storage_->fail_project_doc_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, wheel).has_value());
  storage_->before_doc_put = [&](std::string_view) {
    ASSERT_TRUE(storage_->Delete(file_key_).ok());
    ASSERT_TRUE(storage_->Delete(metadata_key_).ok());
  };
  auto retry = Upload(kWheelName, wheel);
  ASSERT_TRUE(retry.has_value()) << ErrorOf(retry);
  EXPECT_TRUE(retry->created);
  EXPECT_EQ(Sha256Hex(Stored(file_key_)), Sha256Hex(wheel));
  EXPECT_EQ(Stored(metadata_key_), Metadata("Foo", "1.0"));
  EXPECT_TRUE(Check().problems.empty()) << ::testing::PrintToString(Kinds(Check()));
}

TEST_F(FsckTest, UnlistedProjectIsAddedToTheList) {
  storage_->fail_project_list_puts = 1;
  ASSERT_FALSE(Upload(kWheelName, FooWheel()).has_value());
  ASSERT_FALSE(Exists(storage::ProjectListKey()));

  FsckReport report = Check();
  EXPECT_THAT(Kinds(report), ElementsAre("unlisted-project " + doc_key_));
  report = Check(true);
  ASSERT_EQ(report.problems.size(), 1U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired);
  doc::ProjectList list = StoredList();
  ASSERT_EQ(list.projects.size(), 1U);
  EXPECT_EQ(list.projects[0].name, "foo");
  EXPECT_EQ(list.projects[0].display_name, "Foo");
  EXPECT_GT(list.projects[0].updated_micros, 0);
  EXPECT_TRUE(Check().problems.empty());
  // The index that repaired serves the new list at once.
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ((*root)->list.projects.size(), 1U);
}

TEST_F(FsckTest, DisplayNameMismatchTakesTheDocumentsSpelling) {
  MustUpload(kWheelName, FooWheel());
  storage_->fail_project_list_puts = 1;
  ASSERT_FALSE(
      Upload("foo-2.0-py3-none-any.whl", Wheel("foo", "2.0", Metadata("FOO", "2.0")), "foo", "2.0")
          .has_value());
  FsckReport report = Check();
  EXPECT_THAT(Kinds(report), ElementsAre("display-name-mismatch " + storage::ProjectListKey()));
  EXPECT_THAT(report.problems[0].found, HasSubstr("'Foo', its document 'FOO'"));
  EXPECT_EQ(Check(true).Remaining(), 0);
  EXPECT_EQ(StoredList().projects.at(0).display_name, "FOO");
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, ListedProjectWithoutDocumentIsRemovedFromTheList) {
  MustUpload(kWheelName, FooWheel());
  MustUpload("bar-2.0-py3-none-any.whl", Wheel("bar", "2.0", Metadata("Bar", "2.0")), "bar", "2.0");
  ASSERT_TRUE(storage_->Delete(doc_key_).ok());
  FsckReport report = Check();
  EXPECT_THAT(Kinds(report),
              ElementsAre("listed-without-document " + storage::ProjectListKey(),
                          "orphan-file " + file_key_, "orphan-metadata " + metadata_key_));
  EXPECT_EQ(Check(true, 2).Remaining(), 0);
  doc::ProjectList list = StoredList();
  ASSERT_EQ(list.projects.size(), 1U);
  EXPECT_EQ(list.projects[0].name, "bar");
  EXPECT_TRUE(Check().problems.empty());
}

// A deleted project keeps its document (no files, its deleted filenames) and is not in the
// project list: nothing to report, and --repair must not list it again.
TEST_F(FsckTest, DeletedProjectIsCleanAndNeverListedAgain) {
  MustUpload(kWheelName, FooWheel());
  MustUpload("bar-2.0-py3-none-any.whl", Wheel("bar", "2.0", Metadata("Bar", "2.0")), "bar", "2.0");
  ASSERT_TRUE(index_->DeleteProject("foo").ok());
  ASSERT_TRUE(Exists(doc_key_));

  FsckReport report = Check();
  EXPECT_TRUE(report.problems.empty()) << ::testing::PrintToString(Kinds(report));
  EXPECT_EQ(report.projects, 2);
  EXPECT_EQ(report.files, 1);
  report = Check(true, 2);
  EXPECT_TRUE(report.problems.empty()) << ::testing::PrintToString(Kinds(report));
  doc::ProjectList list = StoredList();
  ASSERT_EQ(list.projects.size(), 1U);
  EXPECT_EQ(list.projects[0].name, "bar");
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
}

// A delete that stopped after unlisting its files (here: the byte deletes failed) leaves
// orphans, which --repair deletes once old enough; the filename stays refused.
TEST_F(FsckTest, BytesOfAStoppedDeleteAreOrphans) {
  const std::string wheel = FooWheel();
  MustUpload(kWheelName, wheel);
  MustUpload(kSdistName, Sdist("foo-1.0", Metadata("Foo", "1.0")));
  storage_->fail_deletes = 2;
  const Status deleted = index_->DeleteFile("foo", kWheelName);
  ASSERT_EQ(deleted.code(), StatusCode::kUnavailable) << deleted;
  ASSERT_TRUE(Exists(file_key_));
  ASSERT_TRUE(Exists(metadata_key_));

  FsckReport report = Check();
  EXPECT_THAT(Kinds(report),
              ElementsAre("orphan-file " + file_key_, "orphan-metadata " + metadata_key_));
  EXPECT_THAT(report.problems[0].found, HasSubstr("the bytes of a deleted file"));
  EXPECT_THAT(report.problems[1].found, HasSubstr("the .metadata of a deleted file"));
  EXPECT_THAT(report.problems[0].meaning, HasSubstr("can never be used again"));

  report = Check(true, 2);
  ASSERT_EQ(report.problems.size(), 2U);
  EXPECT_EQ(report.problems[0].outcome, "deleted");
  EXPECT_EQ(report.problems[1].outcome, "deleted");
  EXPECT_FALSE(Exists(file_key_));
  EXPECT_FALSE(Exists(metadata_key_));
  EXPECT_TRUE(Exists(*storage::FileKey("foo", kSdistName)));
  EXPECT_TRUE(Check().problems.empty());
  auto again = Upload(kWheelName, wheel);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Check().problems.empty());
}

// A project delete that stopped before updating the project list: the list names a project
// that answers 404, and --repair removes the entry.
TEST_F(FsckTest, ListedDeletedProjectIsRemovedFromTheList) {
  MustUpload(kWheelName, FooWheel());
  storage_->fail_project_list_puts = 1;
  ASSERT_EQ(index_->DeleteProject("foo").code(), StatusCode::kUnavailable);
  ASSERT_EQ(StoredList().projects.size(), 1U);

  FsckReport report = Check();
  EXPECT_THAT(Kinds(report), ElementsAre("listed-without-document " + storage::ProjectListKey()));
  EXPECT_THAT(report.problems[0].found, HasSubstr("the project was deleted"));
  EXPECT_EQ(report.problems[0].project, "foo");
  report = Check(true);
  ASSERT_EQ(report.problems.size(), 1U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired);
  EXPECT_EQ(report.problems[0].outcome, "project list updated");
  EXPECT_TRUE(StoredList().projects.empty());
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, MissingAndDamagedFilesAreReportedAndNeverTouched) {
  const std::string wheel = FooWheel();
  const std::string sdist = Sdist("foo-1.0", Metadata("Foo", "1.0"));
  MustUpload(kWheelName, wheel);
  MustUpload(kSdistName, sdist);
  const std::string sdist_key = *storage::FileKey("foo", kSdistName);
  ASSERT_TRUE(storage_->Delete(sdist_key).ok());
  Overwrite(file_key_, "not the wheel");

  FsckReport report = Check(true, 2);
  // The wheel's .metadata is intact (it has its listed sha256): nothing to say about it.
  EXPECT_THAT(Kinds(report), ElementsAre("damaged-file " + file_key_, "missing-file " + sdist_key));
  EXPECT_THAT(report.problems[0].found, HasSubstr("stored with 13 bytes"));
  EXPECT_THAT(report.problems[0].repair, HasSubstr("does nothing: restore it from a backup"));
  EXPECT_THAT(report.problems[1].found, HasSubstr("listed in " + doc_key_));
  for (const FsckProblem& problem : report.problems) {
    EXPECT_EQ(problem.repaired, FsckRepair::kNone);
  }
  EXPECT_EQ(report.Remaining(), 2);
  EXPECT_EQ(Stored(file_key_), "not the wheel");
  EXPECT_FALSE(Exists(sdist_key));
  EXPECT_EQ(StoredList().projects.size(), 1U);
}

TEST_F(FsckTest, MissingMetadataIsRecreatedFromTheWheel) {
  MustUpload(kWheelName, FooWheel());
  const std::string metadata = Stored(metadata_key_);
  ASSERT_TRUE(storage_->Delete(metadata_key_).ok());
  FsckReport report = Check();
  EXPECT_THAT(Kinds(report), ElementsAre("missing-metadata " + metadata_key_));
  report = Check(true);
  ASSERT_EQ(report.problems.size(), 1U);
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired) << report.problems[0].outcome;
  EXPECT_EQ(report.problems[0].outcome, "recreated from foo-1.0.dist-info/METADATA");
  EXPECT_EQ(Stored(metadata_key_), metadata);
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, DamagedMetadataIsReplacedFromTheWheel) {
  MustUpload(kWheelName, FooWheel());
  const std::string metadata = Stored(metadata_key_);
  Overwrite(metadata_key_, "Metadata-Version: 2.1\nName: Evil\n");
  FsckReport report = Check(true);
  EXPECT_THAT(Kinds(report), ElementsAre("damaged-metadata " + metadata_key_));
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kRepaired) << report.problems[0].outcome;
  EXPECT_EQ(Stored(metadata_key_), metadata);
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, MetadataIsNotRecreatedFromADamagedWheel) {
  MustUpload(kWheelName, FooWheel());
  ASSERT_TRUE(storage_->Delete(metadata_key_).ok());
  Overwrite(file_key_, FooWheel("other bytes, same metadata"));
  FsckReport report = Check(true);
  EXPECT_THAT(Kinds(report),
              ElementsAre("damaged-file " + file_key_, "missing-metadata " + metadata_key_));
  EXPECT_THAT(report.problems[1].repair, HasSubstr("does nothing while the wheel itself"));
  EXPECT_EQ(report.Remaining(), 2);
  EXPECT_FALSE(Exists(metadata_key_));
}

TEST_F(FsckTest, UnreadableDocumentKeepsItsFilesFromBeingOrphans) {
  MustUpload(kWheelName, FooWheel());
  Overwrite(doc_key_, "{not json");
  FsckReport report = Check(true, 48);
  EXPECT_THAT(Kinds(report), ElementsAre("bad-document " + doc_key_));
  EXPECT_THAT(report.problems[0].found, HasSubstr("does not decode"));
  EXPECT_EQ(report.problems[0].repaired, FsckRepair::kNone);
  EXPECT_EQ(report.Remaining(), 1);
  EXPECT_TRUE(Exists(file_key_));
  EXPECT_TRUE(Exists(metadata_key_));
  EXPECT_EQ(Stored(doc_key_), "{not json");
}

TEST_F(FsckTest, DocumentUnderAnotherProjectsKeyIsBad) {
  MustUpload(kWheelName, FooWheel());
  const std::string bar_key = *storage::ProjectDocKey("bar");
  ASSERT_TRUE(storage_->PutIfAbsent(bar_key, Stored(doc_key_)).has_value());
  FsckReport report = Check();
  EXPECT_THAT(Kinds(report), ElementsAre("bad-document " + bar_key));
  EXPECT_THAT(report.problems[0].found, HasSubstr("names the project 'foo'"));
}

TEST_F(FsckTest, UnreadableProjectListIsLeftAloneAndRebuiltOnceMovedAside) {
  MustUpload(kWheelName, FooWheel());
  MustUpload("bar-2.0-py3-none-any.whl", Wheel("bar", "2.0", Metadata("Bar", "2.0")), "bar", "2.0");
  Overwrite(storage::ProjectListKey(), "[]");
  FsckReport report = Check(true);
  EXPECT_THAT(Kinds(report), ElementsAre("bad-document " + storage::ProjectListKey()));
  EXPECT_THAT(report.problems[0].repair, HasSubstr("move it aside"));
  EXPECT_EQ(Stored(storage::ProjectListKey()), "[]");

  ASSERT_TRUE(storage_->Delete(storage::ProjectListKey()).ok());
  report = Check(true);
  EXPECT_THAT(Kinds(report), ElementsAre("unlisted-project index/projects/bar.json",
                                         "unlisted-project " + doc_key_));
  EXPECT_EQ(report.Remaining(), 0);
  doc::ProjectList list = StoredList();
  ASSERT_EQ(list.projects.size(), 2U);
  EXPECT_EQ(list.projects[0].display_name, "Bar");
  EXPECT_EQ(list.projects[1].display_name, "Foo");
  EXPECT_TRUE(Check().problems.empty());
}

TEST_F(FsckTest, StrayObjectsAreReportedOnly) {
  MustUpload(kWheelName, FooWheel());
  ASSERT_TRUE(storage_->PutIfAbsent("backup/notes.txt", "hello").has_value());
  // Under files/, but no distribution's name: nothing pydepot stored, so never deleted.
  ASSERT_TRUE(storage_->PutIfAbsent("files/foo/README.txt", "hi").has_value());
  FsckReport report = Check(true, 48);
  EXPECT_THAT(Kinds(report),
              ElementsAre("stray-object backup/notes.txt", "stray-object files/foo/README.txt"));
  EXPECT_EQ(report.problems[0].repair, "does nothing: remove it by hand if nothing needs it");
  EXPECT_EQ(report.Remaining(), 2);
  EXPECT_EQ(Stored("backup/notes.txt"), "hello");
  EXPECT_EQ(Stored("files/foo/README.txt"), "hi");
}

// The upstream proxy's cache (docs/upstream.md) is neither an orphan nor a stray, whatever is
// in it and however old: fsck leaves it alone, with or without --repair.
TEST_F(FsckTest, UpstreamCacheIsNeitherReportedNorRepaired) {
  MustUpload(kWheelName, FooWheel());
  const std::string page = *storage::UpstreamPageKey("requests");
  const std::string file = *storage::UpstreamFileKey("requests", "requests-2.0-py3-none-any.whl");
  const std::string metadata =
      *storage::UpstreamFileKey("requests", "requests-2.0-py3-none-any.whl.metadata");
  // Also an upstream copy of a local project's filename: a cache, not an orphan of "foo".
  const std::string shadow = *storage::UpstreamFileKey("foo", "foo-9.0.tar.gz");
  for (const std::string& key : {page, file, metadata, shadow, std::string("upstream/odd")}) {
    ASSERT_TRUE(storage_->PutIfAbsent(key, "cached").has_value()) << key;
  }
  FsckReport report = Check(true, 48);
  EXPECT_TRUE(report.problems.empty()) << ::testing::PrintToString(Kinds(report));
  EXPECT_EQ(report.projects, 1);
  EXPECT_EQ(report.files, 1);
  for (const std::string& key : {page, file, metadata, shadow, std::string("upstream/odd")}) {
    EXPECT_EQ(Stored(key), "cached") << key;
  }
}

TEST_F(FsckTest, StoreFailureIsAnError) {
  MustUpload(kWheelName, FooWheel());
  storage_->fail_opens = true;
  FsckOptions options;
  auto report = Fsck(*index_, options);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(report.error().message(), HasSubstr(file_key_));
}

TEST_F(FsckTest, ManyFilesCheckedInParallelFindTheDamagedOne) {
  std::vector<std::string> keys;
  for (int i = 0; i < 24; ++i) {
    const std::string version = "1." + std::to_string(i);
    const std::string filename = "foo-" + version + "-py3-none-any.whl";
    MustUpload(filename, Wheel("foo", version, Metadata("Foo", version)), "foo", version);
    keys.push_back(*storage::FileKey("foo", filename));
  }
  Overwrite(keys[17], "damaged");
  FsckReport report = Check(false, 0, 8);
  EXPECT_EQ(report.files, 24);
  EXPECT_THAT(Kinds(report), ElementsAre("damaged-file " + keys[17]));
  FsckReport serial = Check(false, 0, 1);
  EXPECT_EQ(serial.bytes, report.bytes);
  EXPECT_EQ(Kinds(serial), Kinds(report));
}

// A local store's temp files (left by a killed server) are reported, and deleted when old.
TEST(FsckLocalTest, TempFilesOfALocalStore) {
  TempDir root;
  auto local = storage::NewLocalStorage(root.path() / "store");
  ASSERT_TRUE(local.has_value()) << ErrorOf(local);
  auto index = Index::Create(**local);
  const std::filesystem::path spool = *(*local)->SpoolDirectory();
  { std::ofstream(spool / "upload-left-behind") << "partial upload"; }
  FsckOptions options;
  options.repair = true;
  options.temp_dir = root.path();
  auto report = Fsck(*index, options);
  ASSERT_TRUE(report.has_value()) << ErrorOf(report);
  ASSERT_EQ(report->problems.size(), 1U);
  EXPECT_EQ(report->problems[0].kind, FsckProblemKind::kTempFile);
  EXPECT_EQ(report->problems[0].key, (spool / "upload-left-behind").string());
  EXPECT_THAT(report->problems[0].found, HasSubstr("14 bytes"));
  EXPECT_EQ(report->problems[0].repaired, FsckRepair::kSkipped);
  EXPECT_EQ(report->temp_files, 1);
  EXPECT_TRUE(std::filesystem::exists(spool / "upload-left-behind"));

  options.now_micros = [] { return NowMicros() + std::int64_t{2} * 3600 * 1'000'000; };
  report = Fsck(*index, options);
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->problems.size(), 1U);
  EXPECT_EQ(report->problems[0].repaired, FsckRepair::kRepaired);
  EXPECT_FALSE(std::filesystem::exists(spool / "upload-left-behind"));
  report = Fsck(*index, options);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->problems.empty());
}

TEST(FsckKindTest, NamesAreDistinct) {
  std::vector<std::string> names;
  for (int k = 0; k <= static_cast<int>(FsckProblemKind::kTempFile); ++k) {
    names.emplace_back(FsckProblemKindName(static_cast<FsckProblemKind>(k)));
  }
  EXPECT_EQ(names.front(), "bad-document");
  EXPECT_EQ(names.back(), "temp-file");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
}

}  // namespace
}  // namespace pydepot::index
