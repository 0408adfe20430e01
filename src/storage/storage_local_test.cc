// What only the local backend promises: its on-disk layout, crash leftovers, and its guarantees
// between real processes (fork), which threads in one process cannot show.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage {
namespace {

namespace fs = std::filesystem;
using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IncrementCounter;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << data;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class LocalStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() / "store";
    auto store = NewLocalStorage(root_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  Storage& store() { return *store_; }
  const fs::path& root() const { return root_; }

 private:
  TempDir dir_;
  fs::path root_;
  std::unique_ptr<Storage> store_;
};

TEST_F(LocalStorageTest, ObjectsArePlainFilesUnderRoot) {
  ASSERT_THAT(store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "sdist"), IsOk());
  auto v1 = store().PutIfMatch("index/projects/foo.json", "{}", "");
  ASSERT_THAT(v1, IsOk());
  ASSERT_THAT(store().PutIfMatch("index/projects/foo.json", "{\"a\":1}", v1->etag), IsOk());
  EXPECT_EQ(ReadFile(root() / "files/foo/foo-1.0.tar.gz"), "sdist");
  EXPECT_EQ(ReadFile(root() / "index/projects/foo.json"), "{\"a\":1}");
  auto path = store().LocalPath("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(path, IsOk());
  EXPECT_EQ(*path, root() / "files/foo/foo-1.0.tar.gz");
}

TEST_F(LocalStorageTest, WritesLeaveNoTempFiles) {
  ASSERT_THAT(store().PutIfAbsent("a", "1"), IsOk());
  EXPECT_THAT(store().PutIfAbsent("a", "2"), HasCode(StatusCode::kAlreadyExists));
  auto v1 = store().PutIfMatch("b", "1", "");
  ASSERT_THAT(v1, IsOk());
  ASSERT_THAT(store().PutIfMatch("b", "2", v1->etag), IsOk());
  EXPECT_THAT(store().PutIfMatch("b", "3", v1->etag), HasCode(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(fs::is_empty(root() / ".tmp"));
}

TEST_F(LocalStorageTest, TempFilesAreNeverObjects) {
  // What a writer that crashed before its link or rename leaves behind.
  WriteFile(root() / ".tmp/3f2a9c", "half an upload");
  WriteFile(root() / ".tmp/files/foo/foo-1.0.tar.gz", "odd, but still not an object");
  auto keys = store().List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, IsEmpty());
  EXPECT_THAT(store().Head(".tmp/3f2a9c"), HasCode(StatusCode::kInvalidArgument));
}

TEST_F(LocalStorageTest, StaleTempFilesAreRemovedOnOpen) {
  WriteFile(root() / ".tmp/old", "crashed two days ago");
  WriteFile(root() / ".tmp/fresh", "being written by another process");
  auto two_days_ago = fs::file_time_type::clock::now() - std::chrono::hours(48);
  fs::last_write_time(root() / ".tmp/old", two_days_ago);
  auto reopened = NewLocalStorage(root());
  ASSERT_THAT(reopened, IsOk());
  EXPECT_FALSE(fs::exists(root() / ".tmp/old"));
  EXPECT_TRUE(fs::exists(root() / ".tmp/fresh"));
}

TEST_F(LocalStorageTest, HandPlacedFilesWithBadNamesAreSkipped) {
  WriteFile(root() / "files/foo/bad name.tar.gz", "x");
  WriteFile(root() / "files/foo/.hidden", "x");
  WriteFile(root() / "files/foo/good.tar.gz", "x");
  auto keys = store().List("files/");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, ElementsAre("files/foo/good.tar.gz"));
}

TEST_F(LocalStorageTest, DataAndEtagsSurviveReopen) {
  auto put = store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "kept");
  ASSERT_THAT(put, IsOk());
  auto reopened = NewLocalStorage(root());
  ASSERT_THAT(reopened, IsOk());
  auto got = (*reopened)->Get("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "kept");
  EXPECT_EQ(got->info.etag, put->etag);
}

TEST_F(LocalStorageTest, KeyCannotBeBothObjectAndDirectory) {
  ASSERT_THAT(store().PutIfAbsent("a/b", "x"), IsOk());
  EXPECT_THAT(store().Head("a"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Get("a"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Open("a"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Delete("a"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().PutIfAbsent("a", "y"), HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().PutIfMatch("a", "y", ""), HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().PutIfAbsent("a/b/c", "y"), HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().PutIfMatch("a/b/c", "y", ""), HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().Get("a/b/c"), HasCode(StatusCode::kNotFound));
}

TEST_F(LocalStorageTest, DescribeNamesAbsoluteDirectory) {
  fs::path relative = fs::relative(root());
  ASSERT_FALSE(relative.is_absolute());
  auto store = NewLocalStorage(relative.string() + "/");
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ((*store)->Describe(), "file://" + root().string());
}

TEST(LocalStorageOpenTest, RootMustBeADirectory) {
  TempDir dir;
  WriteFile(dir.path() / "file", "x");
  EXPECT_THAT(NewLocalStorage(dir.path() / "file"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(NewLocalStorage(dir.path() / "file/below"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(NewLocalStorage(""), HasCode(StatusCode::kInvalidArgument));
}

TEST(LocalStorageOpenTest, CreatesMissingRoot) {
  TempDir dir;
  auto store = NewLocalStorage(dir.path() / "a/b/c");
  ASSERT_THAT(store, IsOk());
  EXPECT_TRUE(fs::is_directory(dir.path() / "a/b/c/.tmp"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "a/b/c/.locks"));
}

// --- Separate processes --------------------------------------------------------------------

constexpr int kProcesses = 4;

// Forks kProcesses children that each open their own store on `root`, wait for a common start
// and run body(store, i); a child's exit code is body's result (or 100 if it cannot start).
// Returns the exit codes.
std::vector<int> RunInProcesses(const fs::path& root,
                                const std::function<int(Storage&, int)>& body) {
  int gate[2];
  if (::pipe(gate) != 0) {
    ADD_FAILURE() << "pipe failed";
    return {};
  }
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      auto store = NewLocalStorage(root);
      char byte;
      // Blocks until the parent closes its end: all children start together.
      while (::read(gate[0], &byte, 1) < 0 && errno == EINTR) {
      }
      ::_exit(store.has_value() ? body(**store, i) : 100);
    }
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      break;
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  std::vector<int> codes;
  for (pid_t pid : children) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

TEST(LocalStorageProcessTest, RacingPutIfAbsentHasOneWinner) {
  TempDir dir;
  constexpr int kWon = 10;
  constexpr int kLost = 11;
  for (int round = 0; round < 3; ++round) {
    std::string key = "files/race/race-" + std::to_string(round) + ".whl";
    std::vector<int> codes = RunInProcesses(dir.path(), [&key](Storage& store, int i) {
      auto put = store.PutIfAbsent(key, "process " + std::to_string(i));
      if (put.has_value()) {
        return kWon;
      }
      return put.error().code() == StatusCode::kAlreadyExists ? kLost : 1;
    });
    ASSERT_EQ(codes.size(), static_cast<std::size_t>(kProcesses));
    EXPECT_EQ(std::count(codes.begin(), codes.end(), kWon), 1) << key;
    EXPECT_EQ(std::count(codes.begin(), codes.end(), kLost), kProcesses - 1) << key;
    auto store = NewLocalStorage(dir.path());
    ASSERT_THAT(store, IsOk());
    auto got = (*store)->Get(key);
    ASSERT_THAT(got, IsOk());
    auto winner = std::find(codes.begin(), codes.end(), kWon) - codes.begin();
    EXPECT_EQ(got->data, "process " + std::to_string(winner));
  }
}

TEST(LocalStorageProcessTest, CasIncrementsLoseNothing) {
  TempDir dir;
  constexpr int kIncrements = 25;
  std::vector<int> codes = RunInProcesses(dir.path(), [](Storage& store, int) {
    for (int n = 0; n < kIncrements; ++n) {
      if (!IncrementCounter(store, "index/counter.json").has_value()) {
        return 1;
      }
    }
    return 0;
  });
  EXPECT_THAT(codes, ::testing::Each(0));
  auto store = NewLocalStorage(dir.path());
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("index/counter.json");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, std::to_string(kProcesses * kIncrements));
}

}  // namespace
}  // namespace pydepot::storage
