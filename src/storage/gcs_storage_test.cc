// The GCS backend against the stand-in (tests/gcs/standin.py), one private stand-in per test:
// object-name encoding, resumable uploads and their recovery, chunked lazy reads, retries and
// error mapping, lost replies of conditional writes, tokens, signed URLs, connection reuse. Every
// test ends by checking that the stand-in recorded no protocol violation. A last test runs the
// real gcloud CLI against the stand-in, where gcloud is installed.
//
// When the conformance suite runs against a shared stand-in (PYDEPOT_TEST_GCS_URL and
// STORAGE_EMULATOR_HOST set), ExternalStandIn checks that stand-in's violations too, after every
// test of this binary.

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/gcs_test_util.h"
#include "storage/storage.h"
#include "storage/storage_gcs.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage {
namespace {

using ::pydepot::storage::gcs::HttpClient;
using ::pydepot::storage::gcs::HttpRequest;
using ::pydepot::storage::gcs::testing::FastRetry;
using ::pydepot::storage::gcs::testing::MapEnv;
using ::pydepot::storage::gcs::testing::StandIn;
using ::pydepot::storage::gcs::testing::WriteServiceAccountKey;
using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IncrementCounter;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::ReadAll;
using ::pydepot::storage::testing::TempDir;
using ::pydepot::storage::testing::TestBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kEmail = "pydepot@standin.iam.gserviceaccount.com";

// The bytes, or the etag, of `key`; a failure of the test (and "<error>") when it cannot be read.
std::string DataOf(Storage& store, std::string_view key) {
  auto got = store.Get(key);
  if (!got.has_value()) {
    ADD_FAILURE() << key << ": " << got.error();
    return "<error>";
  }
  return got->data;
}
std::string EtagOf(Storage& store, std::string_view key) {
  auto head = store.Head(key);
  if (!head.has_value()) {
    ADD_FAILURE() << key << ": " << head.error();
    return "<error>";
  }
  return head->etag;
}

GcsOptions TestOptions() {
  GcsOptions options;
  options.retry = FastRetry();
  return options;
}

class GcsStorageTest : public ::testing::Test {
 protected:
  // Starts a stand-in that requires tokens and knows the test's service-account key.
  void SetUp() override { Start({}); }

  void Start(std::vector<std::string> extra_args) {
    key_path_ = dir_.path() / "key.json";
    WriteServiceAccountKey(key_path_, kEmail, "http://placeholder/token");
    std::vector<std::string> args = {"--require-auth", "--service-account-key", key_path_.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    standin_ = std::make_unique<StandIn>(args);
    if (!standin_->ok()) {
      GTEST_SKIP() << "the stand-in needs " << gcs::testing::kPython;
    }
    WriteServiceAccountKey(key_path_, kEmail, standin_->token_uri());
  }

  void TearDown() override {
    if (standin_ != nullptr && standin_->ok() && expect_no_violations_) {
      EXPECT_THAT(standin_->Violations(), IsEmpty());
    }
  }

  // The metadata server's credentials (GCE_METADATA_HOST: the stand-in), as on Cloud Run.
  std::map<std::string, std::string> MetadataEnv() {
    return {{"STORAGE_EMULATOR_HOST", standin_->url()}, {"GCE_METADATA_HOST", standin_->host()}};
  }
  std::map<std::string, std::string> KeyFileEnv() {
    return {{"STORAGE_EMULATOR_HOST", standin_->url()},
            {"GOOGLE_APPLICATION_CREDENTIALS", key_path_.string()}};
  }

  std::unique_ptr<Storage> Open(const std::string& url = "gs://pydepot-test/t",
                                std::map<std::string, std::string> env = {},
                                GcsOptions options = TestOptions()) {
    if (env.empty()) {
      env = MetadataEnv();
    }
    GcsConfig config;
    config.env = MapEnv(std::move(env));
    config.options = options;
    auto store = NewGcsStorage(url, std::move(config));
    EXPECT_THAT(store, IsOk());
    return store.has_value() ? std::move(*store) : nullptr;
  }

  std::filesystem::path WriteSource(const std::string& name, const std::string& data) {
    std::filesystem::path path = dir_.path() / name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }

  // Paths of the logged requests with `method` whose path contains `part`.
  std::vector<std::string> LoggedPaths(const std::string& method, const std::string& part) {
    std::vector<std::string> paths;
    for (const boost::json::object& entry : standin_->Log()) {
      std::string path(entry.at("path").as_string());
      if (entry.at("method").as_string() == method && path.find(part) != std::string::npos) {
        paths.push_back(path);
      }
    }
    return paths;
  }

  TempDir dir_;
  std::filesystem::path key_path_;
  std::unique_ptr<StandIn> standin_;
  bool expect_no_violations_ = true;
};

TEST_F(GcsStorageTest, DescribeAndFactoryErrors) {
  auto store = Open("gs://pydepot-test/some/prefix/");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Describe(), "gs://pydepot-test/some/prefix");
  EXPECT_EQ(Open("gs://pydepot-test")->Describe(), "gs://pydepot-test");

  GcsConfig misaligned;
  misaligned.env = MapEnv({{"PYDEPOT_GCS_UPLOAD_CHUNK_SIZE", "300000"}});
  EXPECT_THAT(NewGcsStorage("gs://pydepot-test", misaligned),
              HasCode(StatusCode::kInvalidArgument));
  GcsConfig not_a_number;
  not_a_number.env = MapEnv({{"PYDEPOT_GCS_READ_CHUNK_SIZE", "8M"}});
  EXPECT_THAT(NewGcsStorage("gs://pydepot-test", not_a_number),
              HasCode(StatusCode::kInvalidArgument));
  GcsConfig bad_emulator;
  bad_emulator.env = MapEnv({{"STORAGE_EMULATOR_HOST", "https://127.0.0.1:1"}});
  EXPECT_THAT(NewGcsStorage("gs://pydepot-test", bad_emulator),
              HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(NewGcsStorage("gs://Bad_Bucket", GcsConfig{}), HasCode(StatusCode::kInvalidArgument));
}

TEST_F(GcsStorageTest, ObjectNamesArePercentEncoded) {
  auto store = Open();
  const std::string keys[] = {"files/foo/foo-1.0+local!2_x~y.tar.gz", "files/foo/foo-1!2.0.tar.gz",
                              "index/projects/foo.json"};
  for (const std::string& key : keys) {
    ASSERT_THAT(store->PutIfAbsent(key, "bytes of " + key), IsOk()) << key;
    auto got = store->Get(key);
    ASSERT_THAT(got, IsOk()) << key;
    EXPECT_EQ(got->data, "bytes of " + key);
    EXPECT_THAT(store->Head(key), IsOk());
  }
  auto listed = store->List("files/foo/");
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(*listed,
              ElementsAre("files/foo/foo-1!2.0.tar.gz", "files/foo/foo-1.0+local!2_x~y.tar.gz"));
  // '/' inside the object name travels as %2F, '+' as %2B, '!' as %21 (the stand-in also flags
  // anything unencoded, which TearDown checks).
  EXPECT_THAT(LoggedPaths("GET", "/o/t%2Ffiles%2Ffoo%2Ffoo-1.0%2Blocal%212_x~y.tar.gz?alt=media"),
              ::testing::SizeIs(1));
  EXPECT_THAT(LoggedPaths("GET", "prefix=t%2Ffiles%2Ffoo%2F&"), ::testing::SizeIs(1));
}

TEST_F(GcsStorageTest, PrefixesKeepStoresApart) {
  auto one = Open("gs://pydepot-test/p1");
  auto other = Open("gs://pydepot-test/p1x");
  auto root = Open("gs://pydepot-test");
  ASSERT_THAT(one->PutIfAbsent("k", "1"), IsOk());
  ASSERT_THAT(other->PutIfAbsent("k", "2"), IsOk());
  EXPECT_EQ(DataOf(*one, "k"), "1");
  EXPECT_EQ(DataOf(*other, "k"), "2");
  EXPECT_THAT(one->List("").value(), ElementsAre("k"));
  EXPECT_THAT(root->List("").value(), ElementsAre("p1/k", "p1x/k"));
}

TEST_F(GcsStorageTest, ListFollowsPageTokens) {
  Start({"--page-size", "7"});  // GCS may return fewer items than maxResults, too
  auto store = Open();
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back("files/p/f-" + std::to_string(100 + i));
    ASSERT_THAT(store->PutIfAbsent(expected.back(), ""), IsOk());
  }
  ASSERT_THAT(store->PutIfAbsent("files/q", ""), IsOk());
  auto listed = store->List("files/p/");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(*listed, expected);
  EXPECT_EQ(standin_->Stat("list"), 3);
}

TEST_F(GcsStorageTest, LargeFileGoesUpInAlignedResumableChunks) {
  GcsOptions options = TestOptions();
  options.resumable_threshold = 1 << 20;
  options.upload_chunk_size = std::int64_t{256} * 1024;
  auto store = Open("gs://pydepot-test/t", {}, options);
  const std::string data = TestBytes((1 << 20) + 1000, 5);
  auto put = store->PutFileIfAbsent("files/big/big-1.0.tar.gz", WriteSource("big", data));
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(standin_->Stat("resumable-init"), 1);
  EXPECT_EQ(standin_->Stat("resumable-chunk"), 5);  // 4 x 256 KiB + 1000 bytes
  EXPECT_EQ(standin_->Stat("upload-multipart"), 0);
  auto got = store->Get("files/big/big-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);
  EXPECT_EQ(got->info.etag, put->etag);
  EXPECT_EQ(got->info.modified_micros, put->modified_micros);

  // A second upload of the name is refused before any session starts.
  EXPECT_THAT(store->PutFileIfAbsent("files/big/big-1.0.tar.gz", WriteSource("other", data)),
              HasCode(StatusCode::kAlreadyExists));
  EXPECT_EQ(standin_->Stat("resumable-init"), 1);
}

TEST_F(GcsStorageTest, TuningFromTheEnvironment) {
  auto env = MetadataEnv();
  env["PYDEPOT_GCS_RESUMABLE_THRESHOLD"] = "300000";
  env["PYDEPOT_GCS_UPLOAD_CHUNK_SIZE"] = "262144";
  env["PYDEPOT_GCS_READ_CHUNK_SIZE"] = "100000";
  auto store = Open("gs://pydepot-test/t", env);
  const std::string data = TestBytes(600000, 6);
  ASSERT_THAT(store->PutFileIfAbsent("f", WriteSource("f", data)), IsOk());
  EXPECT_EQ(standin_->Stat("resumable-chunk"), 3);
  auto stream = store->Open("f");
  ASSERT_THAT(stream, IsOk());
  auto all = ReadAll(**stream);
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(*all == data);
  EXPECT_EQ(standin_->Stat("media-range"), 6);
}

TEST_F(GcsStorageTest, ResumableUploadRecoversFromLostAndPartialChunks) {
  GcsOptions options = TestOptions();
  options.resumable_threshold = 0;
  options.upload_chunk_size = std::int64_t{512} * 1024;
  auto store = Open("gs://pydepot-test/t", {}, options);
  const std::string data = TestBytes((3 << 20) + 17, 8);
  // The server keeps only half of one chunk (and says so), loses the reply to another after
  // storing it, drops the connection before a third, and answers 503 to a fourth.
  standin_->InjectFaults(R"([{"op": "resumable-chunk", "mode": "partial"},
                             {"op": "resumable-chunk", "mode": "close-after"},
                             {"op": "resumable-chunk", "mode": "close"},
                             {"op": "resumable-chunk", "status": 503}])");
  auto put = store->PutFileIfAbsent("files/big/big-2.0.tar.gz", WriteSource("big", data));
  ASSERT_THAT(put, IsOk());
  EXPECT_GE(standin_->Stat("resumable-status"), 3);
  auto got = store->Get("files/big/big-2.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);
}

TEST_F(GcsStorageTest, ResumableUploadWhoseFinalReplyIsLost) {
  GcsOptions options = TestOptions();
  options.resumable_threshold = 0;
  options.upload_chunk_size = std::int64_t{256} * 1024;
  auto store = Open("gs://pydepot-test/t", {}, options);
  // One chunk, the last: stored and the object created, but the reply is lost.
  standin_->InjectFaults(R"([{"op": "resumable-chunk", "mode": "after", "status": 503}])");
  const std::string data = TestBytes(200000, 10);
  auto put = store->PutFileIfAbsent("g", WriteSource("g", data));
  ASSERT_THAT(put, IsOk()) << "the status query finds the finished upload";
  EXPECT_EQ(standin_->Stat("resumable-status"), 1);
  EXPECT_EQ(DataOf(*store, "g"), data);
  EXPECT_EQ(EtagOf(*store, "g"), put->etag);
}

TEST_F(GcsStorageTest, ReadsAreLazyChunkedAndPinnedToOneGeneration) {
  GcsOptions options = TestOptions();
  options.read_chunk_size = std::int64_t{64} * 1024;
  auto store = Open("gs://pydepot-test/t", {}, options);
  const std::string data = TestBytes(300000, 11);
  auto v1 = store->PutIfMatch("doc", data, "");
  ASSERT_THAT(v1, IsOk());

  auto stream = store->Open("doc", 1000, 200000);
  ASSERT_THAT(stream, IsOk());
  EXPECT_EQ(standin_->Stat("media-range"), 1) << "Open fetches the first chunk only";
  auto part = ReadAll(**stream, 4096);
  ASSERT_THAT(part, IsOk());
  EXPECT_TRUE(*part == data.substr(1000, 200000));
  EXPECT_EQ(standin_->Stat("media-range"), 4);  // ceil(200000 / 65536)
  for (const std::string& path : LoggedPaths("GET", "alt=media&generation=")) {
    EXPECT_THAT(path, HasSubstr("generation=" + v1->etag));
  }
  EXPECT_EQ(LoggedPaths("GET", "alt=media&generation=").size(), 3U);

  // Replaced while being read: the stream fails instead of mixing two versions (GCS keeps no
  // old generation without object versioning).
  auto old_stream = store->Open("doc");
  ASSERT_THAT(old_stream, IsOk());
  ASSERT_THAT(store->PutIfMatch("doc", "new", v1->etag), IsOk());
  std::string buffer(std::size_t{64} * 1024, '\0');
  EXPECT_THAT((*old_stream)->Read(buffer.data(), buffer.size()), IsOk());
  auto failed = (*old_stream)->Read(buffer.data(), buffer.size());
  EXPECT_THAT(failed, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(failed.error().message(), HasSubstr("replaced or deleted"));
}

TEST_F(GcsStorageTest, TransientFailuresAreRetried) {
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  standin_->InjectFaults(R"([{"op": "media", "status": 503}, {"op": "media", "status": 429},
                             {"op": "media", "mode": "close"}])");
  auto got = store->Get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "v");
  standin_->InjectFaults(R"([{"op": "list", "status": 500, "count": 2},
                             {"op": "metadata", "status": 502}])");
  EXPECT_THAT(store->List(""), IsOk());
  EXPECT_THAT(store->Head("k"), IsOk());
}

TEST_F(GcsStorageTest, ErrorMapping) {
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  EXPECT_THAT(store->Head("absent"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store->Get("absent"), HasCode(StatusCode::kNotFound));

  standin_->InjectFaults(
      R"([{"op": "metadata", "status": 403, "message": "pydepot@x lacks storage.objects.get"}])");
  auto denied = store->Head("k");
  EXPECT_THAT(denied, HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(denied.error().message(), HasSubstr("lacks storage.objects.get"));
  EXPECT_THAT(denied.error().message(), HasSubstr("gs://pydepot-test/t/k"));

  // 401 twice: the token is renewed once, then the refusal stands.
  standin_->InjectFaults(R"([{"op": "media", "status": 401, "count": 2}])");
  EXPECT_THAT(store->Get("k"), HasCode(StatusCode::kPermissionDenied));
  EXPECT_EQ(standin_->Stat("metadata-token"), 2);

  standin_->InjectFaults(R"([{"op": "metadata", "status": 400, "message": "Invalid bucket"}])");
  EXPECT_THAT(store->Head("k"), HasCode(StatusCode::kInvalidArgument));

  // 503 on every attempt (FastRetry: 4).
  standin_->InjectFaults(R"([{"op": "media", "status": 503, "count": 4}])");
  auto unavailable = store->Get("k");
  EXPECT_THAT(unavailable, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(unavailable.error().message(), HasSubstr("HTTP 503"));

  auto nowhere = Open("gs://pydepot-test/t", {{"STORAGE_EMULATOR_HOST", "http://127.0.0.1:1"}});
  auto refused = nowhere->Head("k");
  EXPECT_THAT(refused, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(refused.error().message(), HasSubstr("attempts"));
}

TEST_F(GcsStorageTest, RetriesAreBoundedByThePolicy) {
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  std::size_t before = LoggedPaths("GET", "/o/t%2Fk?alt=media").size();
  standin_->InjectFaults(R"([{"op": "media", "status": 503, "count": 10}])");
  EXPECT_THAT(store->Get("k"), HasCode(StatusCode::kUnavailable));
  EXPECT_EQ(LoggedPaths("GET", "/o/t%2Fk?alt=media").size() - before, 4U);  // FastRetry(): 4
}

TEST_F(GcsStorageTest, LostReplyOfACreateOnlyWriteIsRecognisedAsOurs) {
  auto store = Open();
  // The object is created, but the reply is lost (503, then a dropped connection): the retry
  // meets 412, and the write id in the object's metadata shows it is our own.
  standin_->InjectFaults(R"([{"op": "upload", "mode": "after", "status": 503}])");
  auto put = store->PutIfAbsent("files/a/a-1.0.tar.gz", "mine");
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(EtagOf(*store, "files/a/a-1.0.tar.gz"), put->etag);
  EXPECT_EQ(standin_->Stat("upload-multipart"), 2);

  standin_->InjectFaults(R"([{"op": "upload", "mode": "close-after"}])");
  auto put2 = store->PutFileIfAbsent("files/a/a-2.0.tar.gz", WriteSource("a2", "file bytes"));
  ASSERT_THAT(put2, IsOk());
  EXPECT_EQ(DataOf(*store, "files/a/a-2.0.tar.gz"), "file bytes");
}

TEST_F(GcsStorageTest, RetriedCreateOnlyWriteStillLosesToAnotherWriter) {
  auto store = Open();
  auto other = Open();
  ASSERT_THAT(other->PutIfAbsent("files/a/a-1.0.tar.gz", "theirs"), IsOk());
  standin_->InjectFaults(R"([{"op": "upload", "status": 503}])");
  EXPECT_THAT(store->PutIfAbsent("files/a/a-1.0.tar.gz", "mine"),
              HasCode(StatusCode::kAlreadyExists));
  EXPECT_EQ(DataOf(*store, "files/a/a-1.0.tar.gz"), "theirs");
}

TEST_F(GcsStorageTest, LostReplyOfACompareAndSwapIsNotAppliedTwice) {
  auto store = Open();
  ASSERT_THAT(IncrementCounter(*store, "index/counter.json"), IsOk());
  for (int i = 0; i < 5; ++i) {
    standin_->InjectFaults(R"([{"op": "upload", "mode": "after", "status": 503}])");
    auto conflicts = IncrementCounter(*store, "index/counter.json");
    ASSERT_THAT(conflicts, IsOk());
    EXPECT_EQ(*conflicts, 0) << "the lost reply must not look like a conflict";
  }
  EXPECT_EQ(DataOf(*store, "index/counter.json"), "6");
  EXPECT_THAT(store->PutIfMatch("index/counter.json", "x", "not-a-generation"),
              HasCode(StatusCode::kFailedPrecondition));
}

TEST_F(GcsStorageTest, DeleteIsConditionalAndSafeToRetry) {
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  standin_->InjectFaults(R"([{"op": "delete", "mode": "after", "status": 503}])");
  EXPECT_THAT(store->Delete("k"), IsOk());
  EXPECT_THAT(store->Head("k"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store->Delete("k"), HasCode(StatusCode::kNotFound));
  std::vector<std::string> deletes = LoggedPaths("DELETE", "/o/t%2Fk");
  ASSERT_EQ(deletes.size(), 2U);
  EXPECT_THAT(deletes[0], HasSubstr("ifGenerationMatch="));
}

TEST_F(GcsStorageTest, OneTokenForManyRequestsAndANewOneAfterRevocation) {
  auto store = Open();
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(store->PutIfAbsent("k" + std::to_string(i), "v"), IsOk());
  }
  EXPECT_EQ(standin_->Stat("metadata-token"), 1);
  standin_->Post("/_standin/revoke-tokens", "");
  EXPECT_THAT(store->Head("k1"), IsOk()) << "a 401 fetches a fresh token and retries";
  EXPECT_EQ(standin_->Stat("metadata-token"), 2);
}

TEST_F(GcsStorageTest, ShortLivedTokensAreRefreshedBeforeTheyExpire) {
  Start({"--token-lifetime", "2"});
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_THAT(store->Head("k"), IsOk());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(standin_->Stat("metadata-token"), 3);
  // TearDown: no expired token was ever sent.
}

TEST_F(GcsStorageTest, ServiceAccountKeyTokensAndSignedUrls) {
  auto store = Open("gs://pydepot-test/t", KeyFileEnv());
  ASSERT_THAT(store->PutIfAbsent("files/foo/foo-1.0+1.tar.gz", "signed bytes"), IsOk());
  EXPECT_EQ(standin_->Stat("token"), 1);
  EXPECT_EQ(standin_->Stat("metadata-token"), 0);

  auto url = store->PresignedGetUrl("files/foo/foo-1.0+1.tar.gz", std::chrono::seconds(300));
  ASSERT_THAT(url, IsOk());
  EXPECT_THAT(*url, ::testing::StartsWith(standin_->url() +
                                          "/pydepot-test/t/files/foo/foo-1.0%2B1.tar.gz?"));
  HttpClient anyone;
  HttpRequest request;
  request.url = *url;
  auto fetched = anyone.Send(request);
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(fetched->body, "signed bytes");

  request.url = url->substr(0, url->size() - 2) + (url->back() == '0' ? "11" : "00");
  auto tampered = anyone.Send(request);
  ASSERT_THAT(tampered, IsOk());
  EXPECT_EQ(tampered->status, 403);

  EXPECT_THAT(store->PresignedGetUrl("files/foo/foo-1.0+1.tar.gz", std::chrono::hours(24 * 8)),
              HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store->PresignedGetUrl("../x", std::chrono::seconds(60)),
              HasCode(StatusCode::kInvalidArgument));
}

TEST_F(GcsStorageTest, SignedUrlsNeedAKeyFile) {
  auto store = Open();
  auto url = store->PresignedGetUrl("k", std::chrono::seconds(60));
  EXPECT_THAT(url, HasCode(StatusCode::kUnimplemented));
  EXPECT_THAT(url.error().message(), HasSubstr("metadata server"));
}

TEST_F(GcsStorageTest, NoCredentialsAgainstAServerThatWantsThem) {
  auto store = Open("gs://pydepot-test/t", {{"STORAGE_EMULATOR_HOST", standin_->url()}});
  EXPECT_THAT(store->Head("k"), HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(standin_->Violations(), ::testing::SizeIs(1));
  expect_no_violations_ = false;
}

TEST_F(GcsStorageTest, ConnectionsAreReused) {
  auto store = Open();
  ASSERT_THAT(store->PutIfAbsent("k", "v"), IsOk());
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(store->Head("k"), IsOk());
  }
  // Every request of the store, and the token fetch, went over one or two connections (the
  // stand-in's own control requests in this test add one each).
  EXPECT_LE(standin_->Stat("connections"), 4);
}

TEST_F(GcsStorageTest, ManyThreadsShareOneStore) {
  auto store = Open();
  auto other = Open();
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::atomic<int> winners{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Storage& mine = t % 2 == 0 ? *store : *other;
      if (mine.PutIfAbsent("race", std::to_string(t)).has_value()) {
        ++winners;
      }
      for (int i = 0; i < 10; ++i) {
        EXPECT_THAT(IncrementCounter(mine, "counter"), IsOk());
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(DataOf(*store, "counter"), "80");
}

// The stand-in's checks are real: each of these raw requests breaks a rule pydepot keeps, and
// each is recorded.
TEST_F(GcsStorageTest, StandInRecordsProtocolViolations) {
  expect_no_violations_ = false;
  HttpClient raw;
  auto send = [&](std::string method, const std::string& path, std::vector<std::string> headers,
                  std::string body) {
    HttpRequest request;
    request.method = std::move(method);
    request.url = standin_->url() + path;
    request.headers = std::move(headers);
    request.body = std::move(body);
    auto response = raw.Send(request);
    return response.has_value() ? response->status : -1;
  };
  // No token at all.
  EXPECT_EQ(send("GET", "/storage/v1/b/pydepot-test/o/x", {}, ""), 401);
  // A token it never issued.
  EXPECT_EQ(send("GET", "/storage/v1/b/pydepot-test/o/x", {"Authorization: Bearer forged"}, ""),
            401);
  auto source = gcs::NewMetadataServerTokenSource(standin_->host(), std::make_shared<HttpClient>(),
                                                  gcs::SystemWallClock(), FastRetry());
  auto fetched = source->Fetch();
  ASSERT_THAT(fetched, IsOk());
  std::string token = "Authorization: Bearer " + fetched->value;
  // An unconditional upload.
  EXPECT_EQ(send("POST", "/upload/storage/v1/b/pydepot-test/o?uploadType=media&name=x",
                 {token, "Content-Type: application/octet-stream"}, "bytes"),
            400);
  // A raw '+' in the query (a space to Google).
  EXPECT_EQ(
      send("POST",
           "/upload/storage/v1/b/pydepot-test/o?uploadType=media&name=a+b&ifGenerationMatch=0",
           {token}, "bytes"),
      200);
  // A resumable chunk that is not a multiple of 256 KiB and not the last.
  auto started = raw.Send([&] {
    HttpRequest request;
    request.method = "POST";
    request.url =
        standin_->url() +
        "/upload/storage/v1/b/pydepot-test/o?uploadType=resumable&name=r&ifGenerationMatch=0";
    request.headers = {token, "X-Upload-Content-Length: 1000000"};
    return request;
  }());
  ASSERT_THAT(started, IsOk());
  std::string session = started->Header("location");
  ASSERT_FALSE(session.empty());
  EXPECT_EQ(send("PUT", session.substr(standin_->url().size()),
                 {"Content-Range: bytes 0-99999/1000000"}, std::string(100000, 'x')),
            400);
  // A Content-Range that does not match the body.
  EXPECT_EQ(send("PUT", session.substr(standin_->url().size()),
                 {"Content-Range: bytes 0-262143/1000000"}, std::string(1000, 'x')),
            400);
  std::vector<std::string> violations = standin_->Violations();
  ASSERT_EQ(violations.size(), 6U);
  EXPECT_THAT(violations[0], HasSubstr("no Authorization"));
  EXPECT_THAT(violations[1], HasSubstr("never issued"));
  EXPECT_THAT(violations[2], HasSubstr("without ifGenerationMatch"));
  EXPECT_THAT(violations[3], HasSubstr("raw '+'"));
  EXPECT_THAT(violations[4], HasSubstr("not a multiple of 256 KiB"));
  EXPECT_THAT(violations[5], HasSubstr("covers 262144 bytes but the body has 1000"));
}

// gcloud, Google's own client, speaks to the same stand-in: what it writes pydepot reads, what
// pydepot writes it reads, and the stand-in finds nothing wrong in either. gcloud is not a
// Debian package (Google's apt repository): where it is missing, this test is skipped.
TEST_F(GcsStorageTest, GcloudInterop) {
  if (std::system("command -v gcloud >/dev/null 2>&1") != 0) {  // NOLINT(cert-env33-c)
    GTEST_SKIP() << "gcloud is not installed (it comes from Google's apt repository, not Debian)";
  }
  // gcloud sends no token here (auth/disable_credentials); this stand-in requires none.
  standin_ = std::make_unique<StandIn>(std::vector<std::string>{});
  ASSERT_TRUE(standin_->ok());
  std::filesystem::path config = dir_.path() / "gcloud";
  std::filesystem::create_directories(config / "configurations");
  std::ofstream(config / "active_config") << "default";
  std::ofstream(config / "configurations" / "config_default")
      << "[core]\nproject = standin-project\ndisable_usage_reporting = True\n"
         "check_gce_metadata = False\n"
         "[auth]\ndisable_credentials = True\n"
         "[component_manager]\ndisable_update_check = True\n"
         "[api_endpoint_overrides]\nstorage = "
      << standin_->url() << "/\n";
  auto gcloud = [&](const std::string& args) {
    // Its "am I on GCE?" probe goes to a closed local port instead of metadata.google.internal.
    std::string command = "CLOUDSDK_CONFIG=" + config.string() +
                          " GCE_METADATA_ROOT=127.0.0.1:1 GCE_METADATA_HOST=127.0.0.1:1" +
                          " CLOUDSDK_CORE_DISABLE_PROMPTS=1 timeout 120 gcloud storage " + args +
                          " >" + (dir_.path() / "gcloud.out").string() + " 2>&1";
    return std::system(command.c_str());  // NOLINT(cert-env33-c)
  };
  auto store = Open("gs://pydepot-test/t", {{"STORAGE_EMULATOR_HOST", standin_->url()}});

  const std::string from_gcloud = TestBytes(3000, 12);
  std::filesystem::path source = WriteSource("from-gcloud.tar.gz", from_gcloud);
  ASSERT_EQ(gcloud("cp --if-generation-match=0 " + source.string() +
                   " gs://pydepot-test/t/files/g/g-1.0+x.tar.gz"),
            0);
  auto got = store->Get("files/g/g-1.0+x.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == from_gcloud);

  ASSERT_THAT(store->PutIfAbsent("files/g/g-2.0!1.tar.gz", "from pydepot"), IsOk());
  ASSERT_EQ(gcloud("cat gs://pydepot-test/t/files/g/g-2.0!1.tar.gz"), 0);
  std::ifstream out(dir_.path() / "gcloud.out");
  std::string printed((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(printed, "from pydepot");

  ASSERT_EQ(gcloud("rm gs://pydepot-test/t/files/g/g-1.0+x.tar.gz"), 0);
  EXPECT_THAT(store->Head("files/g/g-1.0+x.tar.gz"), HasCode(StatusCode::kNotFound));
  EXPECT_THAT(store->List("").value(), ElementsAre("files/g/g-2.0!1.tar.gz"));
}

// --- The shared stand-in of a conformance run -----------------------------------------------

// The stand-in named by STORAGE_EMULATOR_HOST when PYDEPOT_TEST_GCS_URL is set, else "".
std::string ExternalStandInUrl() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before and after the tests' threads
  const char* url = std::getenv("PYDEPOT_TEST_GCS_URL");
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* host = std::getenv("STORAGE_EMULATOR_HOST");
  if (url == nullptr || *url == '\0' || host == nullptr || *host == '\0') {
    return {};
  }
  std::string base = host;
  return base.rfind("http://", 0) == 0 ? base : "http://" + base;
}

std::string ExternalViolations(const std::string& base) {
  HttpClient client;
  HttpRequest request;
  request.url = base + "/_standin/violations";
  request.timeout = std::chrono::seconds(30);
  auto response = client.Send(request);
  if (!response.has_value()) {
    return "cannot ask the stand-in: " + response.error().message();
  }
  return response->body;
}

TEST(ExternalStandIn, RecordedNoViolations) {
  std::string base = ExternalStandInUrl();
  if (base.empty()) {
    GTEST_SKIP() << "PYDEPOT_TEST_GCS_URL / STORAGE_EMULATOR_HOST not set";
  }
  EXPECT_EQ(ExternalViolations(base), "[]");
}

// Runs after all tests of the process (ctest runs each test in its own process, so after each).
class ExternalStandInCheck : public ::testing::Environment {
 public:
  void TearDown() override {
    std::string base = ExternalStandInUrl();
    if (!base.empty()) {
      EXPECT_EQ(ExternalViolations(base), "[]")
          << "the GCS stand-in at " << base << " recorded protocol violations";
    }
  }
};

[[maybe_unused]] ::testing::Environment* const kExternalStandInCheck =
    ::testing::AddGlobalTestEnvironment(new ExternalStandInCheck);

}  // namespace
}  // namespace pydepot::storage
