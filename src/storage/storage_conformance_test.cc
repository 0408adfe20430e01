// The contract of storage.h, run against every backend. A backend that needs a server joins
// when the variable naming it is set (scripts/test.sh starts the servers and sets them):
//   PYDEPOT_TEST_S3_URL   s3://bucket/prefix on a real S3 server (radosgw), AWS_* credentials
//   PYDEPOT_TEST_GCS_URL  gs://bucket/prefix on the GCS stand-in (STORAGE_EMULATOR_HOST)
// Each test gets its own prefix below the given one, named after its scratch directory.
// PYDEPOT_REQUIRE_CLOUD_BACKENDS=1 turns a missing variable into a failure, so CI cannot
// silently skip them.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage {
namespace {

using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IncrementCounter;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::ReadAll;
using ::pydepot::storage::testing::TempDir;
using ::pydepot::storage::testing::TestBytes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Backend {
  std::string name;
  // A store whose data lives in (or is named after) `scratch`, a fresh directory per test.
  // Called twice with one scratch, it must return two instances of one store when
  // `instances_share_store` (as two processes, or two hosts, would open it).
  std::function<StatusOr<std::unique_ptr<Storage>>(const std::filesystem::path& scratch)> open;
  bool instances_share_store = false;
  bool has_local_path = false;
};

// gtest names the parameter of a failed test with this.
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// A backend opened from a URL taken from the environment, one fresh prefix per test.
Backend CloudBackend(std::string name, std::string base_url) {
  return Backend{std::move(name),
                 [base_url](const std::filesystem::path& scratch) {
                   return OpenStorage(base_url + "/" + scratch.filename().string());
                 },
                 /*instances_share_store=*/true, /*has_local_path=*/false};
}

std::vector<Backend> Backends() {
  std::vector<Backend> backends = {
      Backend{
          "Local",
          [](const std::filesystem::path& scratch) { return NewLocalStorage(scratch / "store"); },
          /*instances_share_store=*/true, /*has_local_path=*/true},
      Backend{"Memory",
              [](const std::filesystem::path&) -> StatusOr<std::unique_ptr<Storage>> {
                return NewMemStorage();
              },
              /*instances_share_store=*/false, /*has_local_path=*/false},
  };
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any test thread starts
  if (const char* url = std::getenv("PYDEPOT_TEST_S3_URL"); url != nullptr && *url != '\0') {
    backends.push_back(CloudBackend("S3", url));
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* url = std::getenv("PYDEPOT_TEST_GCS_URL"); url != nullptr && *url != '\0') {
    backends.push_back(CloudBackend("Gcs", url));
  }
  return backends;
}

// CI sets PYDEPOT_REQUIRE_CLOUD_BACKENDS=1: then a cloud backend left out is a failure.
TEST(StorageConformanceSetup, CloudBackendsPresentWhenRequired) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* required = std::getenv("PYDEPOT_REQUIRE_CLOUD_BACKENDS");
  if (required == nullptr || std::string_view(required) != "1") {
    return;
  }
  std::vector<std::string> names;
  for (const Backend& backend : Backends()) {
    names.push_back(backend.name);
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"S3", "Gcs"}));
}

std::vector<Backend> SharedBackends() {
  std::vector<Backend> shared;
  for (Backend& backend : Backends()) {
    if (backend.instances_share_store) {
      shared.push_back(std::move(backend));
    }
  }
  return shared;
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

class StorageConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    auto store = OpenInstance();
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  StatusOr<std::unique_ptr<Storage>> OpenInstance() { return GetParam().open(scratch_.path()); }

  Storage& store() { return *store_; }
  const std::filesystem::path& scratch() const { return scratch_.path(); }

  // Writes `data` to a local file in the scratch directory and returns its path.
  std::filesystem::path WriteSource(const std::string& name, const std::string& data) {
    std::filesystem::path path = scratch() / name;
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    return path;
  }

 private:
  TempDir scratch_;
  std::unique_ptr<Storage> store_;
};

// --- Reads of absent keys ------------------------------------------------------------------

TEST_P(StorageConformanceTest, AbsentKeyIsNotFound) {
  EXPECT_THAT(store().Head("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Get("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Open("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Delete("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  auto keys = store().List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, IsEmpty());
}

TEST_P(StorageConformanceTest, DescribeIsNotEmpty) { EXPECT_FALSE(store().Describe().empty()); }

// --- Create-only writes --------------------------------------------------------------------

TEST_P(StorageConformanceTest, PutIfAbsentCreatesOnce) {
  auto before = std::chrono::system_clock::now();
  auto put = store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "first");
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, 5);
  EXPECT_FALSE(put->etag.empty());
  std::int64_t before_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                   before.time_since_epoch() - std::chrono::seconds(2))
                                   .count();
  EXPECT_GE(put->modified_micros, before_micros);

  auto again = store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "second, longer");
  EXPECT_THAT(again, HasCode(StatusCode::kAlreadyExists));

  auto got = store().Get("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "first");
  EXPECT_EQ(got->info.etag, put->etag);
  EXPECT_EQ(got->info.size, 5);
  EXPECT_EQ(got->info.modified_micros, put->modified_micros);

  auto head = store().Head("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->size, 5);
}

TEST_P(StorageConformanceTest, EmptyObject) {
  ASSERT_THAT(store().PutIfAbsent("empty", ""), IsOk());
  auto got = store().Get("empty");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "");
  EXPECT_EQ(got->info.size, 0);
  auto stream = store().Open("empty");
  ASSERT_THAT(stream, IsOk());
  auto all = ReadAll(**stream);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(*all, "");
}

TEST_P(StorageConformanceTest, PutFileIfAbsentStreamsLargeFile) {
  const std::string data = TestBytes((5 << 20) + 123, 7);
  std::filesystem::path source = WriteSource("upload.bin", data);

  auto put = store().PutFileIfAbsent("files/big/big-1.0-py3-none-any.whl", source);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, static_cast<std::int64_t>(data.size()));
  EXPECT_TRUE(std::filesystem::exists(source)) << "the source belongs to the caller";

  auto head = store().Head("files/big/big-1.0-py3-none-any.whl");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->size, static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(head->etag, put->etag);

  auto got = store().Get("files/big/big-1.0-py3-none-any.whl");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);

  auto stream = store().Open("files/big/big-1.0-py3-none-any.whl");
  ASSERT_THAT(stream, IsOk());
  auto streamed = ReadAll(**stream, 100000);
  ASSERT_THAT(streamed, IsOk());
  EXPECT_TRUE(*streamed == data);

  std::filesystem::path other = WriteSource("other.bin", "other bytes");
  EXPECT_THAT(store().PutFileIfAbsent("files/big/big-1.0-py3-none-any.whl", other),
              HasCode(StatusCode::kAlreadyExists));
  auto kept = store().Head("files/big/big-1.0-py3-none-any.whl");
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->etag, put->etag);
}

TEST_P(StorageConformanceTest, PutFileIfAbsentRejectsBadSource) {
  EXPECT_THAT(store().PutFileIfAbsent("a", scratch() / "does-not-exist"),
              HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().PutFileIfAbsent("a", scratch()), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Head("a"), HasCode(StatusCode::kNotFound));
}

TEST_P(StorageConformanceTest, PutFileIfAbsentEmptyFile) {
  std::filesystem::path source = WriteSource("empty.bin", "");
  auto put = store().PutFileIfAbsent("empty", source);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, 0);
}

TEST_P(StorageConformanceTest, MoveFileIfAbsentFromTheSpoolDirectory) {
  // Uploads spool into SpoolDirectory() (where the store has one) and are moved into place.
  std::filesystem::path dir = store().SpoolDirectory().value_or(scratch());
  const std::string data = TestBytes((1 << 20) + 5, 11);
  std::filesystem::path source = dir / "upload-conformance.part";
  {
    std::ofstream out(source, std::ios::binary);
    out << data;
  }
  auto put = store().MoveFileIfAbsent("files/mv/mv-1.0.tar.gz", source);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, static_cast<std::int64_t>(data.size()));
  // The caller removes the spool name; the object stays whole.
  std::filesystem::remove(source);
  auto got = store().Get("files/mv/mv-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);
  auto head = store().Head("files/mv/mv-1.0.tar.gz");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->etag, put->etag);

  std::filesystem::path other = WriteSource("other.part", "other bytes");
  EXPECT_THAT(store().MoveFileIfAbsent("files/mv/mv-1.0.tar.gz", other),
              HasCode(StatusCode::kAlreadyExists));
  auto kept = store().Get("files/mv/mv-1.0.tar.gz");
  ASSERT_THAT(kept, IsOk());
  EXPECT_TRUE(kept->data == data);
  EXPECT_THAT(store().MoveFileIfAbsent("x", scratch() / "does-not-exist"),
              HasCode(StatusCode::kInvalidArgument));
}

TEST_P(StorageConformanceTest, MoveFileIfAbsentFromAnotherDirectoryStillStores) {
  std::filesystem::path source = WriteSource("elsewhere.bin", "bytes from elsewhere");
  auto put = store().MoveFileIfAbsent("files/mv/mv-2.0.tar.gz", source);
  ASSERT_THAT(put, IsOk());
  std::filesystem::remove(source);
  auto got = store().Get("files/mv/mv-2.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "bytes from elsewhere");
}

// --- Compare-and-swap ----------------------------------------------------------------------

TEST_P(StorageConformanceTest, PutIfMatchEmptyEtagCreatesOnlyIfAbsent) {
  auto created = store().PutIfMatch("index/projects/foo.json", "{}", "");
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(store().PutIfMatch("index/projects/foo.json", "{\"x\":1}", ""),
              HasCode(StatusCode::kFailedPrecondition));
  auto got = store().Get("index/projects/foo.json");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "{}");
  EXPECT_EQ(got->info.etag, created->etag);
}

TEST_P(StorageConformanceTest, PutIfMatchOnAbsentKeyWithEtagFails) {
  EXPECT_THAT(store().PutIfMatch("index/projects.json", "[]", "some-etag"),
              HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().Head("index/projects.json"), HasCode(StatusCode::kNotFound));
}

TEST_P(StorageConformanceTest, PutIfMatchReplacesOnlyCurrentVersion) {
  auto v1 = store().PutIfMatch("auth/users.json", "version one", "");
  ASSERT_THAT(v1, IsOk());
  auto v2 = store().PutIfMatch("auth/users.json", "version two!", v1->etag);
  ASSERT_THAT(v2, IsOk());
  EXPECT_NE(v2->etag, v1->etag);
  EXPECT_EQ(v2->size, 12);

  EXPECT_THAT(store().PutIfMatch("auth/users.json", "stale writer", v1->etag),
              HasCode(StatusCode::kFailedPrecondition));
  auto got = store().Get("auth/users.json");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "version two!");
  EXPECT_EQ(got->info.etag, v2->etag);
  auto head = store().Head("auth/users.json");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->etag, v2->etag);
}

// Same-size rewrites in quick succession are where inode reuse plus coarse timestamps would
// repeat an etag and let a stale compare-and-swap through.
TEST_P(StorageConformanceTest, EtagsNeverRepeatAcrossRewrites) {
  auto first = store().PutIfMatch("doc", "00", "");
  ASSERT_THAT(first, IsOk());
  std::vector<std::string> etags = {first->etag};
  for (int i = 1; i <= 100; ++i) {
    auto put = store().PutIfMatch("doc", i % 2 == 0 ? "00" : "11", etags.back());
    ASSERT_THAT(put, IsOk()) << "rewrite " << i;
    etags.push_back(put->etag);
  }
  EXPECT_EQ(std::set<std::string>(etags.begin(), etags.end()).size(), etags.size());
  for (std::size_t i = 0; i + 1 < etags.size(); ++i) {
    EXPECT_THAT(store().PutIfMatch("doc", "stale", etags[i]),
                HasCode(StatusCode::kFailedPrecondition))
        << "etag of version " << i;
  }
}

TEST_P(StorageConformanceTest, EtagFromBeforeDeleteDoesNotMatchRecreatedKey) {
  auto old_version = store().PutIfMatch("doc", "same", "");
  ASSERT_THAT(old_version, IsOk());
  ASSERT_THAT(store().Delete("doc"), IsOk());
  auto recreated = store().PutIfMatch("doc", "same", "");
  ASSERT_THAT(recreated, IsOk());
  EXPECT_NE(recreated->etag, old_version->etag);
  EXPECT_THAT(store().PutIfMatch("doc", "stale", old_version->etag),
              HasCode(StatusCode::kFailedPrecondition));
}

TEST_P(StorageConformanceTest, PutIfMatchAcceptsEtagOfPutIfAbsent) {
  auto created = store().PutIfAbsent("doc", "a");
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(store().PutIfMatch("doc", "b", created->etag), IsOk());
}

// --- Ranged reads --------------------------------------------------------------------------

TEST_P(StorageConformanceTest, OpenReadsRanges) {
  const std::string data = TestBytes(1000, 3);
  ASSERT_THAT(store().PutIfAbsent("blob", data), IsOk());
  struct Case {
    std::int64_t offset;
    std::int64_t length;
    std::string expected;
  };
  const Case cases[] = {
      {0, -1, data},
      {0, 1000, data},
      {10, 20, data.substr(10, 20)},
      {999, -1, data.substr(999)},
      {990, 100, data.substr(990)},  // past the end: clamped
      {1000, -1, ""},
      {1000, 5, ""},
      {0, 0, ""},
      {500, 0, ""},
  };
  for (const Case& c : cases) {
    auto stream = store().Open("blob", c.offset, c.length);
    ASSERT_THAT(stream, IsOk()) << c.offset << "+" << c.length;
    auto got = ReadAll(**stream, 7);
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(*got == c.expected) << c.offset << "+" << c.length;
  }
}

TEST_P(StorageConformanceTest, OpenRejectsBadRanges) {
  ASSERT_THAT(store().PutIfAbsent("blob", "0123456789"), IsOk());
  EXPECT_THAT(store().Open("blob", 11), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Open("blob", -1), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Open("blob", 0, -2), HasCode(StatusCode::kInvalidArgument));
}

TEST_P(StorageConformanceTest, OpenStreamKeepsVersionItOpened) {
  auto v1 = store().PutIfMatch("doc", "old bytes", "");
  ASSERT_THAT(v1, IsOk());
  auto stream = store().Open("doc");
  ASSERT_THAT(stream, IsOk());
  ASSERT_THAT(store().PutIfMatch("doc", "new bytes, longer", v1->etag), IsOk());
  auto got = ReadAll(**stream, 3);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "old bytes");
}

// --- Delete and List -----------------------------------------------------------------------

TEST_P(StorageConformanceTest, DeleteRemovesAndAllowsRecreate) {
  ASSERT_THAT(store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "one"), IsOk());
  ASSERT_THAT(store().Delete("files/foo/foo-1.0.tar.gz"), IsOk());
  EXPECT_THAT(store().Head("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Get("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store().Delete("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
  auto keys = store().List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, IsEmpty());
  ASSERT_THAT(store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "two"), IsOk());
  auto got = store().Get("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "two");
}

TEST_P(StorageConformanceTest, ListByPrefixSorted) {
  for (const char* key : {"index/projects/b.json", "files/b/b-1.0.tar.gz", "files/a/a-2.0.zip",
                          "files/ab/ab-1.0.tar.gz", "files/a/a-1.0.tar.gz", "index/projects.json",
                          "index/projects/a.json", "auth/users.json"}) {
    ASSERT_THAT(store().PutIfAbsent(key, "x"), IsOk()) << key;
  }
  auto all = store().List("");
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(*all,
              ElementsAre("auth/users.json", "files/a/a-1.0.tar.gz", "files/a/a-2.0.zip",
                          "files/ab/ab-1.0.tar.gz", "files/b/b-1.0.tar.gz", "index/projects.json",
                          "index/projects/a.json", "index/projects/b.json"));

  auto project_a = store().List("files/a/");
  ASSERT_THAT(project_a, IsOk());
  EXPECT_THAT(*project_a, ElementsAre("files/a/a-1.0.tar.gz", "files/a/a-2.0.zip"));

  auto string_prefix = store().List("files/a");
  ASSERT_THAT(string_prefix, IsOk());
  EXPECT_THAT(*string_prefix,
              ElementsAre("files/a/a-1.0.tar.gz", "files/a/a-2.0.zip", "files/ab/ab-1.0.tar.gz"));

  auto index = store().List("index/projects");
  ASSERT_THAT(index, IsOk());
  EXPECT_THAT(*index,
              ElementsAre("index/projects.json", "index/projects/a.json", "index/projects/b.json"));

  auto partial = store().List("files/a/a-2");
  ASSERT_THAT(partial, IsOk());
  EXPECT_THAT(*partial, ElementsAre("files/a/a-2.0.zip"));

  auto exact = store().List("auth/users.json");
  ASSERT_THAT(exact, IsOk());
  EXPECT_THAT(*exact, ElementsAre("auth/users.json"));

  auto none = store().List("nothing/here/");
  ASSERT_THAT(none, IsOk());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_P(StorageConformanceTest, ListRejectsBadPrefixes) {
  for (const char* prefix : {"../", "/", "/files", "files//", "a/./", "a/../", ".tmp/", "a b"}) {
    EXPECT_THAT(store().List(prefix), HasCode(StatusCode::kInvalidArgument)) << prefix;
  }
}

// --- Keys ------------------------------------------------------------------------------------

TEST_P(StorageConformanceTest, InvalidKeysAreRejectedEverywhere) {
  std::filesystem::path source = WriteSource("source.bin", "bytes");
  const std::string bad_keys[] = {
      "",
      "../x",
      "/abs",
      "a//b",
      "a/./b",
      "a/../b",
      "..",
      ".",
      "a/",
      "a\\b",
      std::string("a\0b", 3),
      ".tmp/x",
      ".locks/x",
      "files/.hidden",
      "a b",
      "a\nb",
      "caf\xc3\xa9",
      std::string(256, 'a'),
      std::string(1025, 'a'),
  };
  for (const std::string& key : bad_keys) {
    SCOPED_TRACE("key \"" + key + "\"");
    EXPECT_THAT(store().Head(key), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().Get(key), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().Open(key), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().PutIfAbsent(key, "x"), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().PutFileIfAbsent(key, source), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().PutIfMatch(key, "x", ""), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(store().Delete(key), HasCode(StatusCode::kInvalidArgument));
    if (GetParam().has_local_path) {
      EXPECT_THAT(store().LocalPath(key), HasCode(StatusCode::kInvalidArgument));
    }
  }
  auto keys = store().List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, IsEmpty());
  // Nothing escaped the store's directory either.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(scratch()),
                          std::filesystem::directory_iterator()),
            GetParam().has_local_path ? 2 : 1);  // source.bin (+ the local store)
}

TEST_P(StorageConformanceTest, UnusualButValidKeys) {
  const std::string keys[] = {
      "files/foo/foo-1.0+local.7!x-py3-none-any.whl",
      "files/foo/foo-1!2.0.tar.gz",
      "a",
      "A~b_c-d.e+f!g",
      "x.",
      "files/foo/foo..bar",  // only a leading dot is reserved
      std::string(255, 'a') + "/" + std::string(255, 'b') + "/" + std::string(255, 'c') + "/" +
          std::string(255, 'd'),  // 1023 bytes
  };
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    auto created = store().PutIfAbsent(key, key);
    ASSERT_THAT(created, IsOk());
    auto replaced = store().PutIfMatch(key, "replaced", created->etag);
    ASSERT_THAT(replaced, IsOk());
    auto got = store().Get(key);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->data, "replaced");
  }
  auto listed = store().List("");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), std::size(keys));
}

// --- Local paths ---------------------------------------------------------------------------

TEST_P(StorageConformanceTest, LocalPath) {
  ASSERT_THAT(store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "sendfile me"), IsOk());
  auto path = store().LocalPath("files/foo/foo-1.0.tar.gz");
  if (!GetParam().has_local_path) {
    EXPECT_THAT(path, HasCode(StatusCode::kUnimplemented));
    return;
  }
  ASSERT_THAT(path, IsOk());
  std::ifstream in(*path, std::ios::binary);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "sendfile me");
  EXPECT_THAT(store().LocalPath("files/foo/absent.tar.gz"), HasCode(StatusCode::kNotFound));
}

// --- Concurrency ---------------------------------------------------------------------------

constexpr int kThreads = 8;

// Runs body(i) on kThreads threads that start together.
void RunConcurrently(const std::function<void(int)>& body) {
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&start, &body, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
}

// Every thread races to create the same keys; exactly one wins each, the rest see
// kAlreadyExists, and the stored bytes are the winner's.
void ExpectOneWinnerPerKey(const std::vector<Storage*>& instances) {
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::string key = "files/race/race-" + std::to_string(round) + ".tar.gz";
    std::atomic<int> winners{0};
    std::atomic<int> losers{0};
    std::atomic<int> winner_id{-1};
    RunConcurrently([&](int i) {
      Storage& store = *instances[static_cast<std::size_t>(i) % instances.size()];
      auto put = store.PutIfAbsent(key, "writer " + std::to_string(i));
      if (put.has_value()) {
        winners.fetch_add(1);
        winner_id.store(i);
      } else if (put.error().code() == StatusCode::kAlreadyExists) {
        losers.fetch_add(1);
      } else {
        ADD_FAILURE() << put.error();
      }
    });
    EXPECT_EQ(winners.load(), 1) << key;
    EXPECT_EQ(losers.load(), kThreads - 1) << key;
    auto got = instances[0]->Get(key);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->data, "writer " + std::to_string(winner_id.load()));
  }
}

// Every thread adds to one counter document by compare-and-swap with retries; no increment may
// be lost. The counter starts absent, so creating it races too.
void ExpectNoLostIncrements(const std::vector<Storage*>& instances) {
  constexpr int kIncrementsPerThread = 25;
  std::atomic<int> conflicts{0};
  RunConcurrently([&](int i) {
    Storage& store = *instances[static_cast<std::size_t>(i) % instances.size()];
    for (int n = 0; n < kIncrementsPerThread; ++n) {
      auto retried = IncrementCounter(store, "index/counter.json");
      if (!retried.has_value()) {
        ADD_FAILURE() << retried.error();
        return;
      }
      conflicts.fetch_add(*retried);
    }
  });
  for (Storage* store : instances) {
    auto got = store->Get("index/counter.json");
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->data, std::to_string(kThreads * kIncrementsPerThread));
  }
  // Not an assertion: with 8 threads there are usually many conflicts, which is the point.
  ::testing::Test::RecordProperty("conflicts", conflicts.load());
}

TEST_P(StorageConformanceTest, RacingPutIfAbsentHasOneWinner) { ExpectOneWinnerPerKey({&store()}); }

TEST_P(StorageConformanceTest, ConcurrentCasIncrementsLoseNothing) {
  ExpectNoLostIncrements({&store()});
}

TEST_P(StorageConformanceTest, ConcurrentReadersSeeWholeVersions) {
  const std::string a(100000, 'a');
  const std::string b(150000, 'b');
  ASSERT_THAT(store().PutIfAbsent("doc", a), IsOk());
  std::atomic<bool> done{false};
  RunConcurrently([&](int i) {
    if (i == 0) {
      for (int n = 0; n < 30; ++n) {
        auto current = store().Head("doc");
        ASSERT_THAT(current, IsOk());
        ASSERT_THAT(store().PutIfMatch("doc", n % 2 == 0 ? b : a, current->etag), IsOk());
      }
      done.store(true);
      return;
    }
    while (!done.load()) {
      auto got = store().Get("doc");
      ASSERT_THAT(got, IsOk());
      ASSERT_TRUE(got->data == a || got->data == b) << "a torn read of " << got->data.size();
      EXPECT_EQ(got->info.size, static_cast<std::int64_t>(got->data.size()));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StorageConformanceTest, ::testing::ValuesIn(Backends()),
                         BackendName);

// --- Several instances on one store (as several processes or hosts) ------------------------

class SharedStoreConformanceTest : public StorageConformanceTest {};

TEST_P(SharedStoreConformanceTest, InstancesSeeEachOthersWrites) {
  auto other = OpenInstance();
  ASSERT_THAT(other, IsOk());
  auto put = store().PutIfAbsent("files/foo/foo-1.0.tar.gz", "bytes");
  ASSERT_THAT(put, IsOk());
  auto got = (*other)->Get("files/foo/foo-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "bytes");
  EXPECT_EQ(got->info.etag, put->etag);
  EXPECT_THAT((*other)->PutIfAbsent("files/foo/foo-1.0.tar.gz", "other"),
              HasCode(StatusCode::kAlreadyExists));
  auto replaced = (*other)->PutIfMatch("files/foo/foo-1.0.tar.gz", "new", put->etag);
  ASSERT_THAT(replaced, IsOk());
  EXPECT_THAT(store().PutIfMatch("files/foo/foo-1.0.tar.gz", "stale", put->etag),
              HasCode(StatusCode::kFailedPrecondition));
  ASSERT_THAT(store().Delete("files/foo/foo-1.0.tar.gz"), IsOk());
  EXPECT_THAT((*other)->Head("files/foo/foo-1.0.tar.gz"), HasCode(StatusCode::kNotFound));
}

TEST_P(SharedStoreConformanceTest, RacingPutIfAbsentAcrossInstancesHasOneWinner) {
  auto other = OpenInstance();
  ASSERT_THAT(other, IsOk());
  ExpectOneWinnerPerKey({&store(), other->get()});
}

TEST_P(SharedStoreConformanceTest, CasIncrementsAcrossInstancesLoseNothing) {
  auto other = OpenInstance();
  ASSERT_THAT(other, IsOk());
  ExpectNoLostIncrements({&store(), other->get()});
}

INSTANTIATE_TEST_SUITE_P(SharedBackends, SharedStoreConformanceTest,
                         ::testing::ValuesIn(SharedBackends()), BackendName);

}  // namespace
}  // namespace pydepot::storage
