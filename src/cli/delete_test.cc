#include "cli/delete.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "storage/storage_wrapper.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {
namespace {

using index::testing::MakeForm;
using index::testing::Metadata;
using index::testing::Sdist;
using index::testing::TakeFailure;
using index::testing::TempDir;
using index::testing::Wheel;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kWheel1[] = "foo-1.0-py3-none-any.whl";
constexpr char kSdist1[] = "foo-1.0.tar.gz";
constexpr char kWheel2[] = "foo-2.0-py3-none-any.whl";

// A memory store whose project document writes can be made to fail.
class FailingStorage final : public storage::StorageWrapper {
 public:
  FailingStorage() : StorageWrapper(storage::NewMemStorage()) {}
  std::atomic<int> fail_doc_puts{0};
  StatusOr<storage::ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view etag) override {
    if (storage::ClassifyKey(key) == storage::KeyKind::kProjectDoc && TakeFailure(fail_doc_puts)) {
      return UnavailableError("injected failure writing " + std::string(key));
    }
    return target().PutIfMatch(key, data, etag);
  }
};

// Uploads foo 1.0 (a wheel and an sdist) and foo 2.0 (a wheel) into `storage`.
void Populate(storage::Storage& storage, TempDir& dir) {
  auto index = index::Index::Create(storage);
  for (const auto& [filename, bytes, version] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {kWheel1, Wheel("foo", "1.0", Metadata("Foo", "1.0")), "1.0"},
           {kSdist1, Sdist("foo-1.0", Metadata("Foo", "1.0")), "1.0"},
           {kWheel2, Wheel("foo", "2.0", Metadata("Foo", "2.0")), "2.0"}}) {
    auto outcome = index->Upload(MakeForm(dir, filename, bytes, "foo", version), "alice");
    ASSERT_TRUE(outcome.has_value()) << filename << ": " << outcome.error();
  }
}

// The filenames the store lists for foo, read by a fresh index (none when it is not found).
std::vector<std::string> Listed(storage::Storage& storage) {
  auto view = index::Index::Create(storage)->GetProject("foo");
  std::vector<std::string> names;
  if (view.has_value()) {
    for (const doc::FileEntry& file : (*view)->doc.files) {
      names.push_back(file.filename);
    }
  }
  return names;
}

DeleteFlags Flags(std::string project, std::string version = "", std::string file = "",
                  bool yes = false) {
  DeleteFlags flags;
  flags.project = std::move(project);
  flags.version = std::move(version);
  flags.file = std::move(file);
  flags.yes = yes;
  return flags;
}

class RunDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override { Populate(*storage_, dir_); }

  int Run(DeleteFlags flags) {
    flags.storage = "memory:";
    out_.str("");
    err_.str("");
    return RunDelete(flags, *storage_, out_, err_);
  }

  TempDir dir_;
  std::unique_ptr<FailingStorage> storage_ = std::make_unique<FailingStorage>();
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST(DescribeDeletionTest, SaysWhatGoes) {
  EXPECT_EQ(DescribeDeletion(Flags("Foo_Bar")), "the project foo-bar (every file of it)");
  EXPECT_EQ(DescribeDeletion(Flags("foo", "1.0")),
            "release 1.0 of the project foo (every file of it)");
  EXPECT_EQ(DescribeDeletion(Flags("foo", "", kWheel1)),
            "the file foo-1.0-py3-none-any.whl of the project foo");
}

TEST_F(RunDeleteTest, WithoutYesItOnlySaysWhatWouldGo) {
  EXPECT_EQ(Run(Flags("Foo")), 2);
  const std::string err = err_.str();
  EXPECT_THAT(err, HasSubstr("would delete the project foo (every file of it)"));
  EXPECT_THAT(err, HasSubstr(kWheel1));
  EXPECT_THAT(err, HasSubstr(kSdist1));
  EXPECT_THAT(err, HasSubstr(kWheel2));
  EXPECT_THAT(err, HasSubstr("can never be uploaded again"));
  EXPECT_THAT(err, HasSubstr("--yes"));
  EXPECT_THAT(out_.str(), IsEmpty());

  EXPECT_EQ(Run(Flags("foo", "1.0.0")), 2);
  EXPECT_THAT(err_.str(), HasSubstr(kSdist1));
  EXPECT_THAT(err_.str(), Not(HasSubstr(kWheel2)));
  EXPECT_EQ(Run(Flags("foo", "", kWheel2)), 2);
  EXPECT_THAT(err_.str(), HasSubstr(kWheel2));
  EXPECT_THAT(err_.str(), Not(HasSubstr(kSdist1)));
  EXPECT_EQ(Run(Flags("bar")), 2);
  EXPECT_THAT(err_.str(), HasSubstr("nothing matches now"));

  EXPECT_EQ(Listed(*storage_).size(), 3U) << "nothing was deleted";
}

TEST_F(RunDeleteTest, DeletesAFileThenAReleaseThenTheProject) {
  EXPECT_EQ(Run(Flags("foo", "", kSdist1, true)), 0) << err_.str();
  EXPECT_EQ(out_.str(), "deleted the file foo-1.0.tar.gz of the project foo from memory\n");
  EXPECT_THAT(Listed(*storage_), ::testing::ElementsAre(kWheel1, kWheel2));

  EXPECT_EQ(Run(Flags("foo", "1.0", "", true)), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("deleted release 1.0 of the project foo"));
  EXPECT_THAT(Listed(*storage_), ::testing::ElementsAre(kWheel2));

  EXPECT_EQ(Run(Flags("FOO", "", "", true)), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("deleted the project foo"));
  EXPECT_THAT(Listed(*storage_), IsEmpty());
  EXPECT_FALSE(storage_->Head(*storage::FileKey("foo", kWheel2)).has_value());
}

TEST_F(RunDeleteTest, NothingToDeleteExitsOne) {
  EXPECT_EQ(Run(Flags("bar", "", "", true)), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no project 'bar'"));
  EXPECT_THAT(err_.str(), HasSubstr("Nothing was deleted"));
  EXPECT_EQ(Run(Flags("foo", "3.0", "", true)), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no release 3.0"));
  EXPECT_EQ(Run(Flags("foo", "", "foo-9.0.tar.gz", true)), 1);
  EXPECT_THAT(err_.str(), HasSubstr("foo-9.0.tar.gz"));
  EXPECT_EQ(Run(Flags("foo", "", "", true)), 0);
  EXPECT_EQ(Run(Flags("foo", "", "", true)), 1) << "already deleted";
  EXPECT_THAT(out_.str(), IsEmpty());
}

TEST_F(RunDeleteTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Run(Flags("foo", "1.0", kWheel1, true)), 2);
  EXPECT_THAT(err_.str(), HasSubstr("not both"));
  EXPECT_EQ(Run(Flags("../foo", "", "", true)), 2);
  EXPECT_THAT(err_.str(), HasSubstr("not a project name"));
  EXPECT_EQ(Listed(*storage_).size(), 3U);
}

TEST_F(RunDeleteTest, StoreFailureExitsOneAndDeletesNothing) {
  storage_->fail_doc_puts = 1;
  EXPECT_EQ(Run(Flags("foo", "", "", true)), 1);
  EXPECT_THAT(err_.str(), HasSubstr("injected failure"));
  EXPECT_EQ(Listed(*storage_).size(), 3U);
}

// The subcommand as `pydepot` parses it (usage errors exit 2, as in commands.cc).
int Command(std::vector<std::string> args) {
  CLI::App app{"pydepot"};
  app.require_subcommand(1);
  int rc = 0;
  AddDeleteCommand(app, rc);
  args.insert(args.begin(), "pydepot");
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return rc;
}

TEST(DeleteCommandTest, ParsesAndDeletesInALocalStore) {
  TempDir dir;
  TempDir spool;
  const std::string root = (dir.path() / "store").string();
  {
    auto storage = storage::NewLocalStorage(root);
    ASSERT_TRUE(storage.has_value()) << storage.error();
    Populate(**storage, spool);
  }
  EXPECT_EQ(Command({"delete", "--storage", root}), 2) << "PROJECT missing";
  EXPECT_EQ(Command({"delete", "--storage", root, "foo", "1.0", "--file", kWheel1, "--yes"}), 2);
  EXPECT_EQ(Command({"delete", "--storage", root, "foo"}), 2) << "no --yes";
  EXPECT_EQ(Command({"delete", "--storage", root, "foo", "--file", kWheel1, "--yes"}), 0);
  EXPECT_EQ(Command({"delete", "--storage", root, "foo", "1.0", "--yes"}), 0);
  EXPECT_EQ(Command({"delete", "--storage", root, "foo", "1.0", "--yes"}), 1);
  {
    auto storage = storage::NewLocalStorage(root);
    ASSERT_TRUE(storage.has_value());
    EXPECT_THAT(Listed(**storage), ::testing::ElementsAre(kWheel2));
  }
  EXPECT_EQ(Command({"delete", "--yes", "--storage", "file://" + root, "foo"}), 0);
  {
    auto storage = storage::NewLocalStorage(root);
    ASSERT_TRUE(storage.has_value());
    EXPECT_THAT(Listed(**storage), IsEmpty());
  }

  // A mistyped store is an error, and is not created.
  const std::string missing = (dir.path() / "nope").string();
  EXPECT_EQ(Command({"delete", "--storage", missing, "foo", "--yes"}), 1);
  EXPECT_EQ(Command({"delete", "--storage", missing, "foo"}), 2);
  EXPECT_FALSE(std::filesystem::exists(missing));
}

}  // namespace
}  // namespace pydepot::cli
