// Key validation and OpenStorage URL parsing, which every backend shares.

#include "storage/storage.h"

#include <stdlib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage {
namespace {

using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::TempDir;
using ::testing::HasSubstr;

TEST(IsValidKeyTest, AcceptsKeyCharactersInSegments) {
  EXPECT_TRUE(IsValidKey("a"));
  EXPECT_TRUE(IsValidKey("files/foo/foo-1.0+local!2_x~y.tar.gz"));
  EXPECT_TRUE(IsValidKey("index/projects.json"));
  EXPECT_TRUE(IsValidKey("a.."));
  EXPECT_TRUE(IsValidKey(std::string(255, 'x')));
  EXPECT_TRUE(IsValidKey(std::string(255, 'x') + "/" + std::string(255, 'y') + "/" +
                         std::string(255, 'z') + "/" + std::string(255, 'w')));
}

TEST(IsValidKeyTest, RejectsPathTricksAndOddCharacters) {
  for (const std::string& key :
       {std::string(),           std::string("/"),       std::string("/abs"),
        std::string("a/"),       std::string("a//b"),    std::string("."),
        std::string(".."),       std::string("../x"),    std::string("a/./b"),
        std::string("a/../b"),   std::string(".hidden"), std::string("a/.tmp"),
        std::string("a\\b"),     std::string("a\0b", 3), std::string("a b"),
        std::string("a:b"),      std::string("a%2Fb"),   std::string("a\x7f"),
        std::string("\xc3\xa9"), std::string(256, 'x')}) {
    EXPECT_FALSE(IsValidKey(key)) << key;
  }
}

TEST(IsValidKeyTest, LengthLimits) {
  EXPECT_TRUE(IsValidKey(std::string(kMaxKeySegmentLength, 'a')));
  EXPECT_FALSE(IsValidKey(std::string(kMaxKeySegmentLength + 1, 'a')));
  EXPECT_FALSE(IsValidKey("a/" + std::string(kMaxKeySegmentLength + 1, 'a')));
  // Five 204-byte segments and four slashes: exactly kMaxKeyLength.
  std::string longest = std::string(204, 'a');
  for (int i = 0; i < 4; ++i) {
    longest += "/" + std::string(204, 'b');
  }
  ASSERT_EQ(longest.size(), kMaxKeyLength);
  EXPECT_TRUE(IsValidKey(longest));
  EXPECT_FALSE(IsValidKey(longest + "c"));
}

TEST(IsValidKeyPrefixTest, CompleteSegmentsMustBeValid) {
  EXPECT_TRUE(IsValidKeyPrefix(""));
  EXPECT_TRUE(IsValidKeyPrefix("files/"));
  EXPECT_TRUE(IsValidKeyPrefix("files/fo"));
  EXPECT_TRUE(IsValidKeyPrefix("index/projects"));
  EXPECT_FALSE(IsValidKeyPrefix("files/foo/."));  // no segment starts with a dot
  EXPECT_FALSE(IsValidKeyPrefix("/"));
  EXPECT_FALSE(IsValidKeyPrefix("files//"));
  EXPECT_FALSE(IsValidKeyPrefix("../"));
  EXPECT_FALSE(IsValidKeyPrefix(".tmp/"));
  EXPECT_FALSE(IsValidKeyPrefix("a b"));
}

TEST(OpenStorageTest, Memory) {
  for (const char* url : {"memory:", "mem://"}) {
    auto store = OpenStorage(url);
    ASSERT_THAT(store, IsOk()) << url;
    EXPECT_EQ((*store)->Describe(), "memory");
  }
  EXPECT_THAT(OpenStorage("memory:foo"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenStorage("memory://"), HasCode(StatusCode::kInvalidArgument));
}

TEST(OpenStorageTest, LocalPathsAndFileUrls) {
  TempDir dir;
  std::string path = (dir.path() / "store").string();
  auto plain = OpenStorage(path);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ((*plain)->Describe(), "file://" + path);

  auto url = OpenStorage("file://" + path);
  ASSERT_THAT(url, IsOk());
  EXPECT_EQ((*url)->Describe(), "file://" + path);

  auto localhost = OpenStorage("file://localhost" + path);
  ASSERT_THAT(localhost, IsOk());
  EXPECT_EQ((*localhost)->Describe(), "file://" + path);

  // The same directory, however it was named.
  ASSERT_THAT((*plain)->PutIfAbsent("k", "v"), IsOk());
  auto got = (*url)->Get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "v");
}

// s3:// opens where AWS credentials are configured, else says what is missing (never a network
// call beyond loopback: the EC2 metadata service is switched off here).
TEST(OpenStorageTest, S3OpensOrNamesTheMissingCredentials) {
  ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);  // NOLINT(concurrency-mt-unsafe)
  auto store = OpenStorage("s3://bucket/prefix");
  if (store.has_value()) {
    EXPECT_THAT((*store)->Describe(), ::testing::StartsWith("s3://bucket/prefix at "));
  } else {
    EXPECT_THAT(store.error().code(),
                ::testing::AnyOf(StatusCode::kFailedPrecondition, StatusCode::kInvalidArgument,
                                 StatusCode::kUnimplemented));
    EXPECT_THAT(store.error().message(), HasSubstr("AWS"));
  }
  EXPECT_THAT(OpenStorage("s3://"), HasCode(StatusCode::kInvalidArgument));
}

// gs:// opens the GCS backend, which sends nothing until the first call; only a bad setting in
// the environment (a broken GOOGLE_APPLICATION_CREDENTIALS, say) can stop it here.
TEST(OpenStorageTest, GcsUrlsOpenTheGcsBackend) {
  auto store = OpenStorage("gs://pydepot-test/some/prefix/");
  if (store.has_value()) {
    EXPECT_EQ((*store)->Describe(), "gs://pydepot-test/some/prefix");
  } else {
    EXPECT_THAT(store, HasCode(StatusCode::kInvalidArgument));
  }
  auto bad = OpenStorage("gs://Not_A_Bucket");
  EXPECT_THAT(bad, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad.error().message(), HasSubstr("not a GCS bucket name"));
}

TEST(OpenStorageTest, RejectsOtherUrls) {
  EXPECT_THAT(OpenStorage(""), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenStorage("file://"), HasCode(StatusCode::kInvalidArgument));
  auto http = OpenStorage("http://example.com/store");
  EXPECT_THAT(http, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(http.error().message(), HasSubstr("unknown scheme \"http\""));
  EXPECT_THAT(http.error().message(), HasSubstr("file:///"));
}

TEST(StorageTest, LocalPathIsUnimplementedByDefault) {
  auto store = NewMemStorage();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  EXPECT_THAT(store->LocalPath("k"), HasCode(StatusCode::kUnimplemented));
}

}  // namespace
}  // namespace pydepot::storage
