// The S3 backend beyond the conformance suite: its wire protocol against a stand-in server
// (signing, key encoding, retries, ambiguous conditional writes, error messages), its URL and
// addressing rules, and, when PYDEPOT_TEST_S3_URL names a real S3 server (radosgw in
// scripts/test.sh), multipart uploads, the create-only guard of large uploads, presigned URLs,
// chunked reads and a wrong secret key.

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/s3_http.h"
#include "storage/s3_signer.h"
#include "storage/s3_storage.h"
#include "storage/s3_test_server.h"
#include "storage/storage.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage::s3 {
namespace {

using ::pydepot::storage::s3::testing::CannedResponse;
using ::pydepot::storage::s3::testing::RecordedRequest;
using ::pydepot::storage::s3::testing::StandInServer;
using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::ReadAll;
using ::pydepot::storage::testing::TempDir;
using ::pydepot::storage::testing::TestBytes;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::pydepot::storage::s3::testing::EnvOf;
using ::pydepot::storage::s3::testing::Vars;

MetadataHosts LoopbackHosts() {
  MetadataHosts hosts;
  hosts.container = "http://127.0.0.1:9";
  hosts.imds = "http://127.0.0.1:9";
  hosts.imds_timeout = std::chrono::milliseconds(200);
  return hosts;
}

Vars StaticKeys() {
  return {{"AWS_ACCESS_KEY_ID", "AKTEST"},
          {"AWS_SECRET_ACCESS_KEY", "secret"},
          {"AWS_EC2_METADATA_DISABLED", "true"},
          {"HOME", "/nonexistent"}};
}

StatusOr<std::unique_ptr<Storage>> Open(const std::string& url, const Vars& vars) {
  return OpenS3StorageWithEnvironment(url, EnvOf(vars), LoopbackHosts());
}

std::filesystem::path WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}

// --- URLs, addressing, presigning (no network) ----------------------------------------------

TEST(S3UrlTest, RejectsMalformedUrlsAndSettings) {
  for (const char* url : {"s3://", "s3://ab", "s3://Upper", "s3://bucket//x", "s3://bucket/a/../b",
                          "s3://bucket/.hidden", "s3://bu cket"}) {
    EXPECT_THAT(Open(url, StaticKeys()), HasCode(StatusCode::kInvalidArgument)) << url;
  }
  Vars bad_endpoint = StaticKeys();
  bad_endpoint["AWS_ENDPOINT_URL"] = "ftp://127.0.0.1";
  auto store = Open("s3://bucket", bad_endpoint);
  EXPECT_THAT(store, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(store.error().message(), HasSubstr("AWS_ENDPOINT_URL"));
  Vars bad_size = StaticKeys();
  bad_size["PYDEPOT_S3_PART_SIZE"] = "1000";
  EXPECT_THAT(Open("s3://bucket", bad_size), HasCode(StatusCode::kInvalidArgument));
}

TEST(S3UrlTest, RefusesGcsXmlApi) {
  Vars vars = StaticKeys();
  vars["AWS_ENDPOINT_URL"] = "https://storage.googleapis.com";
  auto store = Open("s3://bucket/p", vars);
  EXPECT_THAT(store, HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store.error().message(), HasSubstr("use gs://bucket"));
}

TEST(S3UrlTest, DescribeNamesBucketPrefixAndEndpoint) {
  Vars vars = StaticKeys();
  auto aws = Open("s3://my-bucket/some/prefix/", vars);
  ASSERT_THAT(aws, IsOk());
  EXPECT_EQ((*aws)->Describe(), "s3://my-bucket/some/prefix at AWS us-east-1");
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000/";
  auto local = Open("s3://my-bucket", vars);
  ASSERT_THAT(local, IsOk());
  EXPECT_EQ((*local)->Describe(), "s3://my-bucket at http://127.0.0.1:9000");
}

TEST(S3UrlTest, MissingCredentialsAreAClearError) {
  auto store =
      Open("s3://bucket", {{"HOME", "/nonexistent"}, {"AWS_EC2_METADATA_DISABLED", "true"}});
  EXPECT_THAT(store, HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store.error().message(), HasSubstr("no AWS credentials found"));
  EXPECT_THAT(store.error().message(), HasSubstr("s3://bucket"));
}

TEST(S3PresignTest, VirtualHostedOnAwsPathStyleWithEndpoint) {
  Vars vars = StaticKeys();
  vars["AWS_REGION"] = "eu-west-1";
  auto aws = Open("s3://my-bucket/pre", vars);
  ASSERT_THAT(aws, IsOk());
  auto url = (*aws)->PresignedGetUrl("files/foo/foo-1.0+local.tar.gz", std::chrono::seconds(300));
  ASSERT_THAT(url, IsOk());
  EXPECT_THAT(*url, StartsWith("https://my-bucket.s3.eu-west-1.amazonaws.com/pre/files/foo/"
                               "foo-1.0%2Blocal.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"));
  EXPECT_THAT(*url, HasSubstr("X-Amz-Credential=AKTEST%2F"));
  EXPECT_THAT(*url, HasSubstr("%2Feu-west-1%2Fs3%2Faws4_request"));
  EXPECT_THAT(*url, HasSubstr("&X-Amz-Expires=300&"));

  auto dotted = Open("s3://my.dotted.bucket", vars);
  ASSERT_THAT(dotted, IsOk());
  EXPECT_THAT(*(*dotted)->PresignedGetUrl("k", std::chrono::seconds(60)),
              StartsWith("https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k?"));

  vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000/base";
  auto local = Open("s3://my-bucket", vars);
  ASSERT_THAT(local, IsOk());
  EXPECT_THAT(*(*local)->PresignedGetUrl("k", std::chrono::seconds(60)),
              StartsWith("http://127.0.0.1:9000/base/my-bucket/k?"));
  EXPECT_THAT((*local)->PresignedGetUrl("k", std::chrono::seconds(0)),
              HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT((*local)->PresignedGetUrl("k", std::chrono::seconds(604801)),
              HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT((*local)->PresignedGetUrl("../k", std::chrono::seconds(60)),
              HasCode(StatusCode::kInvalidArgument));
}

// --- The wire protocol, against a stand-in ---------------------------------------------------

// A store on a stand-in server at s3://bucket/pre.
class StandInTest : public ::testing::Test {
 protected:
  StatusOr<std::unique_ptr<Storage>> OpenOn(const StandInServer& server, const Vars& extra = {}) {
    Vars vars = StaticKeys();
    vars["AWS_ENDPOINT_URL"] = server.url();
    vars["AWS_SESSION_TOKEN"] = "session-token";
    for (auto& [name, value] : extra) {
      vars[name] = value;
    }
    return Open("s3://bucket/pre", vars);
  }
};

CannedResponse ObjectResponse(const std::string& body, const std::string& version = "v1") {
  return CannedResponse{200,
                        {{"ETag", "\"0123abcd\""},
                         {"Last-Modified", "Thu, 26 Nov 2026 03:27:25 GMT"},
                         {"x-amz-meta-pydepot-version", version}},
                        body};
}

CannedResponse ErrorResponse(int status, const std::string& code, const std::string& message) {
  return CannedResponse{status,
                        {{"Content-Type", "application/xml"}},
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                            "</Code><Message>" + message + "</Message></Error>"};
}

TEST_F(StandInTest, SignsRequestsAndEncodesKeys) {
  StandInServer server([](const RecordedRequest&) { return ObjectResponse("hello"); });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("files/foo/foo-1.0+local!x.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "hello");
  EXPECT_EQ(got->info.etag, "0123abcd:v1");
  EXPECT_EQ(got->info.size, 5);
  EXPECT_EQ(got->info.modified_micros, std::int64_t{1795663645} * 1000000);

  std::vector<RecordedRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& request = requests[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/bucket/pre/files/foo/foo-1.0%2Blocal%21x.tar.gz");
  EXPECT_EQ(request.Header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(request.Header("x-amz-content-sha256"), std::string(kEmptySha256));
  EXPECT_EQ(request.Header("x-amz-security-token"), "session-token");
  std::string authorization = request.Header("authorization").value_or("");
  EXPECT_THAT(authorization, StartsWith("AWS4-HMAC-SHA256 Credential=AKTEST/"));
  EXPECT_THAT(authorization, HasSubstr("/us-east-1/s3/aws4_request,SignedHeaders=host;"
                                       "x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
}

TEST_F(StandInTest, PutSignsTheBodyAndSendsConditions) {
  std::mutex mu;
  std::string version;
  StandInServer server([&](const RecordedRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    if (request.method == "PUT") {
      version = request.Header("x-amz-meta-pydepot-version").value_or("");
      return CannedResponse{200, {{"ETag", "\"0123abcd\""}}};
    }
    if (request.target.find("/.pydepot/claims/") != std::string::npos) {
      return CannedResponse{404};
    }
    return ObjectResponse("data", version);
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto put = (*store)->PutIfAbsent("a", "data");
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->etag, "0123abcd:" + version);
  auto requests = server.requests();
  ASSERT_GE(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].body, "data");
  EXPECT_EQ(requests[0].Header("if-none-match"), "*");
  EXPECT_EQ(requests[0].Header("x-amz-content-sha256"), Sha256Hex("data"));
  EXPECT_THAT(requests[0].Header("authorization").value_or(""), HasSubstr("if-none-match;"));

  auto swapped = (*store)->PutIfMatch("a", "new", "feed");  // a foreign etag: no version
  ASSERT_THAT(swapped, IsOk());
  requests = server.requests();
  EXPECT_EQ(requests.back().Header("if-match"), "feed");  // unquoted, for radosgw
}

TEST_F(StandInTest, RetriesTransientErrorsForReads) {
  std::atomic<int> calls{0};
  StandInServer server([&](const RecordedRequest&) {
    int n = calls.fetch_add(1);
    if (n == 0) {
      return ErrorResponse(503, "SlowDown", "Please reduce your request rate.");
    }
    if (n == 1) {
      return ErrorResponse(500, "InternalError", "We encountered an internal error.");
    }
    return ObjectResponse("third time");
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("k");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "third time");
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(StandInTest, GivesUpAfterMaxAttempts) {
  StandInServer server(
      [](const RecordedRequest&) { return ErrorResponse(503, "ServiceUnavailable", "down"); });
  auto store = OpenOn(server, {{"AWS_MAX_ATTEMPTS", "2"}});
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("k");
  EXPECT_THAT(got, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(got.error().message(), HasSubstr("503 ServiceUnavailable: down"));
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(StandInTest, ConnectionRefusedIsUnavailable) {
  Vars vars = StaticKeys();
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9";
  vars["AWS_MAX_ATTEMPTS"] = "1";
  auto store = Open("s3://bucket", vars);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->Head("k"), HasCode(StatusCode::kUnavailable));
}

// The first PUT dies with a 500 (it may have landed), the retry gets 412: the object's version
// tells whether it was ours.
void AmbiguousCreate(bool first_attempt_landed) {
  std::mutex mu;
  std::string first_version;
  int puts = 0;
  StandInServer server([&](const RecordedRequest& request) {
    std::lock_guard<std::mutex> lock(mu);
    if (request.method == "PUT") {
      if (++puts == 1) {
        first_version = request.Header("x-amz-meta-pydepot-version").value_or("");
        return ErrorResponse(500, "InternalError", "oops");
      }
      return ErrorResponse(412, "PreconditionFailed", "At least one precondition failed");
    }
    if (request.target.find("/.pydepot/claims/") != std::string::npos) {
      return CannedResponse{404};
    }
    return ObjectResponse("x", first_attempt_landed ? first_version : "someone-else");
  });
  Vars vars = StaticKeys();
  vars["AWS_ENDPOINT_URL"] = server.url();
  auto store = Open("s3://bucket", vars);
  ASSERT_THAT(store, IsOk());
  auto put = (*store)->PutIfAbsent("k", "x");
  if (first_attempt_landed) {
    ASSERT_THAT(put, IsOk());
    EXPECT_EQ(put->etag, "0123abcd:" + first_version);
  } else {
    EXPECT_THAT(put, HasCode(StatusCode::kAlreadyExists));
  }
  EXPECT_EQ(puts, 2);
}

TEST_F(StandInTest, AmbiguousCreateThatLandedIsOurs) { AmbiguousCreate(true); }
TEST_F(StandInTest, AmbiguousCreateRefusedIsAlreadyExists) { AmbiguousCreate(false); }

TEST_F(StandInTest, ConditionalRequestConflictIsRetried) {
  std::atomic<int> puts{0};
  StandInServer server([&](const RecordedRequest& request) {
    if (request.method == "PUT") {
      if (puts.fetch_add(1) == 0) {
        return ErrorResponse(409, "ConditionalRequestConflict", "try again");
      }
      return CannedResponse{200, {{"ETag", "\"e\""}}};
    }
    return CannedResponse{404};
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->PutIfMatch("k", "v", ""), IsOk());
  EXPECT_EQ(puts.load(), 2);
}

TEST_F(StandInTest, PermissionDeniedCarriesS3Message) {
  StandInServer server([](const RecordedRequest&) {
    return ErrorResponse(403, "AccessDenied", "Access Denied by bucket policy");
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("files/x");
  EXPECT_THAT(got, HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(got.error().message(),
              HasSubstr("s3 GetObject files/x (s3://bucket/pre at http://127.0.0.1:"));
  EXPECT_THAT(got.error().message(), HasSubstr("403 AccessDenied: Access Denied by bucket policy"));
  EXPECT_THAT(got.error().message(), HasSubstr("credentials: environment"));
  EXPECT_EQ(server.requests().size(), 1u) << "403 is not retried";
}

TEST_F(StandInTest, WrongRegionSaysWhichRegion) {
  StandInServer server([](const RecordedRequest&) {
    CannedResponse response = ErrorResponse(301, "PermanentRedirect", "Use the right endpoint.");
    response.headers.emplace_back("x-amz-bucket-region", "eu-central-1");
    return response;
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("k");
  EXPECT_THAT(got, HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(got.error().message(), HasSubstr("AWS_REGION=eu-central-1"));
}

TEST_F(StandInTest, ListFollowsContinuationTokensAndHidesPrivateNames) {
  StandInServer server([](const RecordedRequest& request) {
    if (request.target.find("prefix=pre%2F.pydepot%2Flong%2F") != std::string::npos) {
      return CannedResponse{
          200, {}, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"};
    }
    if (request.target.find("continuation-token=next%2Bpage") == std::string::npos) {
      return CannedResponse{200,
                            {},
                            "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                            "<IsTruncated>true</IsTruncated>"
                            "<NextContinuationToken>next+page</NextContinuationToken>"
                            "<Contents><Key>pre/z</Key></Contents>"
                            "<Contents><Key>pre/.pydepot/claims/abc</Key></Contents>"
                            "</ListBucketResult>"};
    }
    return CannedResponse{200,
                          {},
                          "<ListBucketResult><IsTruncated>false</IsTruncated>"
                          "<Contents><Key>pre/a/b</Key></Contents></ListBucketResult>"};
  });
  auto store = OpenOn(server);
  ASSERT_THAT(store, IsOk());
  auto keys = (*store)->List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, ::testing::ElementsAre("a/b", "z"));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/bucket?list-type=2&prefix=pre%2F");
}

// --- Against a real S3 server (PYDEPOT_TEST_S3_URL) -----------------------------------------

// The variables of the real server, and a fresh prefix below PYDEPOT_TEST_S3_URL.
class RealS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): tests read the environment before any thread
    const char* url = std::getenv("PYDEPOT_TEST_S3_URL");
    if (url == nullptr || *url == '\0') {
      GTEST_SKIP() << "PYDEPOT_TEST_S3_URL is not set (scripts/s3/start-radosgw.sh)";
    }
    base_url_ = url;
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "HOME"}) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe)
      if (const char* value = std::getenv(name); value != nullptr) {
        vars_[name] = value;
      }
    }
    vars_["AWS_EC2_METADATA_DISABLED"] = "true";
    ASSERT_FALSE(scratch_.path().empty());
    url_ = base_url_ + "/" + scratch_.path().filename().string();
  }

  StatusOr<std::unique_ptr<Storage>> OpenStore(const Vars& extra = {}) {
    Vars vars = vars_;
    for (const auto& [name, value] : extra) {
      vars[name] = value;
    }
    return Open(url_, vars);
  }

  // Writes an object under this test's prefix behind the backend's back (e.g. a claim).
  void RawPut(const std::string& name, const std::string& body) {
    std::string rest = url_.substr(5);  // after s3://
    std::string bucket = rest.substr(0, rest.find('/'));
    std::string object = rest.substr(rest.find('/') + 1) + "/" + name;
    std::string endpoint = vars_["AWS_ENDPOINT_URL"];
    ASSERT_FALSE(endpoint.empty());
    std::string host = endpoint.substr(endpoint.find("://") + 3);
    std::string path = "/" + bucket + "/" + UriEncode(object, true);
    SignableRequest signable{"PUT", path, {}, {{"host", host}}, Sha256Hex(body)};
    Signature signature = SignRequest(
        signable, Credentials{vars_["AWS_ACCESS_KEY_ID"], vars_["AWS_SECRET_ACCESS_KEY"], ""},
        vars_.count("AWS_REGION") > 0 ? vars_["AWS_REGION"] : "us-east-1", "s3",
        std::chrono::system_clock::now());
    HttpRequest request{"PUT", endpoint + path};
    request.headers = signable.headers;
    request.headers.insert(request.headers.end(), signature.headers.begin(),
                           signature.headers.end());
    request.body.bytes = body;
    auto http = HttpClient::Create({});
    ASSERT_THAT(http, IsOk());
    auto response = (*http)->Send(request);
    ASSERT_THAT(response, IsOk());
    ASSERT_EQ(response->status, 200) << response->body;
  }

  const std::filesystem::path& scratch() const { return scratch_.path(); }

  std::string base_url_;
  std::string url_;
  Vars vars_;

 private:
  TempDir scratch_;
};

// moto accepts any signature; start-moto.sh says so with PYDEPOT_TEST_S3_CHECKS_SIGNATURES=0.
bool ChecksSignatures() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* checks = std::getenv("PYDEPOT_TEST_S3_CHECKS_SIGNATURES");
  return checks == nullptr || std::string_view(checks) != "0";
}

const Vars kSmallParts = {{"PYDEPOT_S3_MULTIPART_THRESHOLD", "1048576"},
                          {"PYDEPOT_S3_PART_SIZE", "5242880"}};

TEST_F(RealS3Test, MultipartUploadInParts) {
  auto store = OpenStore(kSmallParts);
  ASSERT_THAT(store, IsOk());
  const std::string data = TestBytes((11 << 20) + 7, 11);  // three parts: 5, 5, 1 MiB + 7
  auto put =
      (*store)->PutFileIfAbsent("files/big/big-1.0.tar.gz", WriteFile(scratch() / "big.bin", data));
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->size, static_cast<std::int64_t>(data.size()));
  EXPECT_THAT(put->etag, HasSubstr("-3:")) << "a three-part upload's ETag";
  auto head = (*store)->Head("files/big/big-1.0.tar.gz");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->modified_micros, put->modified_micros);
  auto got = (*store)->Get("files/big/big-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);

  // Create-only, whichever path the loser takes; the claim is gone and never listed.
  const std::string other = TestBytes((6 << 20) + 1, 12);
  EXPECT_THAT((*store)->PutFileIfAbsent("files/big/big-1.0.tar.gz",
                                        WriteFile(scratch() / "other.bin", other)),
              HasCode(StatusCode::kAlreadyExists));
  EXPECT_THAT((*store)->PutIfAbsent("files/big/big-1.0.tar.gz", "small"),
              HasCode(StatusCode::kAlreadyExists));
  EXPECT_EQ((*store)->Head("files/big/big-1.0.tar.gz")->etag, put->etag);
  auto listed = (*store)->List("");
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(*listed, ::testing::ElementsAre("files/big/big-1.0.tar.gz"));
}

TEST_F(RealS3Test, OpenStreamsLargeObjectInChunks) {
  auto store = OpenStore();
  ASSERT_THAT(store, IsOk());
  const std::string data = TestBytes((17 << 20) + 5, 13);  // three 8 MiB ranged reads
  ASSERT_THAT((*store)->PutFileIfAbsent("blob", WriteFile(scratch() / "blob.bin", data)), IsOk());
  auto stream = (*store)->Open("blob", 100);
  ASSERT_THAT(stream, IsOk());
  auto all = ReadAll(**stream, 1 << 20);
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(*all == data.substr(100));

  // Replaced between two chunks: the stream refuses to mix versions.
  auto first = (*store)->Head("blob");
  ASSERT_THAT(first, IsOk());
  auto reader = (*store)->Open("blob");
  ASSERT_THAT(reader, IsOk());
  std::string buffer(8 << 20, '\0');
  ASSERT_THAT((*reader)->Read(buffer.data(), buffer.size()), IsOk());
  ASSERT_THAT((*store)->PutIfMatch("blob", "replaced", first->etag), IsOk());
  EXPECT_THAT((*reader)->Read(buffer.data(), buffer.size()), HasCode(StatusCode::kUnavailable));

  // A stream may outlive the Storage that opened it.
  ASSERT_THAT((*store)->PutFileIfAbsent("blob2", WriteFile(scratch() / "blob2.bin", data)), IsOk());
  auto orphan = (*store)->Open("blob2");
  ASSERT_THAT(orphan, IsOk());
  store->reset();
  auto rest = ReadAll(**orphan, 1 << 20);
  ASSERT_THAT(rest, IsOk());
  EXPECT_TRUE(*rest == data);
}

// Large (multipart) and small (single PUT) uploads of different bytes race for one key: exactly
// one is told it won, and the stored bytes are the winner's.
TEST_F(RealS3Test, RacingLargeAndSmallUploadsHaveOneWinner) {
  constexpr int kWriters = 4;
  std::vector<std::unique_ptr<Storage>> stores;
  for (int i = 0; i < kWriters; ++i) {
    auto store = OpenStore(kSmallParts);
    ASSERT_THAT(store, IsOk());
    stores.push_back(*std::move(store));
  }
  std::vector<std::string> contents;
  std::vector<std::filesystem::path> sources;
  for (int i = 0; i < kWriters; ++i) {
    // Writers 0 and 1 go multipart (two parts), 2 and 3 a single PUT.
    contents.push_back(i < 2 ? TestBytes((6 << 20) + i, 100 + i) : "small " + std::to_string(i));
    sources.push_back(WriteFile(scratch() / ("w" + std::to_string(i)), contents.back()));
  }
  for (int round = 0; round < 4; ++round) {
    std::string key = "files/race/race-" + std::to_string(round) + ".tar.gz";
    std::atomic<int> winners{0};
    std::atomic<int> winner{-1};
    std::vector<std::thread> threads;
    threads.reserve(kWriters);
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        auto put = i == 3 ? stores[i]->PutIfAbsent(key, contents[i])
                          : stores[i]->PutFileIfAbsent(key, sources[i]);
        if (put.has_value()) {
          winners.fetch_add(1);
          winner.store(i);
        } else if (put.error().code() != StatusCode::kAlreadyExists) {
          ADD_FAILURE() << put.error();
        }
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    ASSERT_EQ(winners.load(), 1) << key;
    auto got = stores[0]->Get(key);
    ASSERT_THAT(got, IsOk());
    EXPECT_TRUE(got->data == contents[static_cast<std::size_t>(winner.load())])
        << key << " holds other bytes than its winner's (" << winner.load() << ")";
  }
}

TEST_F(RealS3Test, StaleClaimIsTakenOver) {
  auto store = OpenStore(
      {{"PYDEPOT_S3_MULTIPART_THRESHOLD", "1048576"}, {"PYDEPOT_S3_CLAIM_STALE_SECONDS", "3"}});
  ASSERT_THAT(store, IsOk());
  // A claim left by a writer that crashed mid-upload.
  RawPut(".pydepot/claims/" + Sha256Hex("files/c/c-1.0.tar.gz"), "abandoned");
  auto keys = (*store)->List("");
  ASSERT_THAT(keys, IsOk());
  EXPECT_THAT(*keys, ::testing::IsEmpty()) << "claims are not keys";

  const std::string data = TestBytes(2 << 20, 21);
  auto start = std::chrono::steady_clock::now();
  auto put = (*store)->PutFileIfAbsent("files/c/c-1.0.tar.gz", WriteFile(scratch() / "c", data));
  ASSERT_THAT(put, IsOk());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(2))
      << "waited for the claim to go stale";
  auto got = (*store)->Get("files/c/c-1.0.tar.gz");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->data == data);
}

// A writer holding a live claim (here: a fake one) is uploading the key in parts. Other
// creators wait for it; when the key appears meanwhile (its Complete landed), they lose.
TEST_F(RealS3Test, LiveClaimMakesOtherCreatorsWaitAndYield) {
  auto store = OpenStore(
      {{"PYDEPOT_S3_MULTIPART_THRESHOLD", "1048576"}, {"PYDEPOT_S3_CLAIM_STALE_SECONDS", "3"}});
  ASSERT_THAT(store, IsOk());
  for (bool large : {false, true}) {
    SCOPED_TRACE(large ? "multipart creator" : "single-PUT creator");
    std::string key = large ? "files/l/l-1.0.tar.gz" : "files/s/s-1.0.tar.gz";
    RawPut(".pydepot/claims/" + Sha256Hex(key), "held by a large upload in progress");
    std::filesystem::path source =
        WriteFile(scratch() / "src", large ? TestBytes(2 << 20, 31) : std::string("mine"));
    auto start = std::chrono::steady_clock::now();
    StatusOr<ObjectInfo> put = InternalError("not run");
    std::thread creator([&] { put = (*store)->PutFileIfAbsent(key, source); });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    RawPut(key, "the claim holder's bytes");  // its Complete lands, overwriting
    creator.join();
    EXPECT_THAT(put, HasCode(StatusCode::kAlreadyExists));
    if (!large) {
      EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(2))
          << "the single PUT waited for the claim before judging";
    }
    auto got = (*store)->Get(key);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->data, "the claim holder's bytes");
  }
}

TEST_F(RealS3Test, WrongSecretIsPermissionDenied) {
  if (!ChecksSignatures()) {
    GTEST_SKIP() << "this S3 server accepts any signature";
  }
  auto store = OpenStore({{"AWS_SECRET_ACCESS_KEY", "not-the-secret"}});
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->Get("anything");
  EXPECT_THAT(got, HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(got.error().message(), HasSubstr("403 SignatureDoesNotMatch"));
  EXPECT_THAT(got.error().message(), HasSubstr("credentials: environment"));
  EXPECT_THAT((*store)->PutIfAbsent("anything", "x"), HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT((*store)->Head("anything"), HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT((*store)->List(""), HasCode(StatusCode::kPermissionDenied));
}

TEST_F(RealS3Test, PresignedUrlFetchesTheObject) {
  auto store = OpenStore();
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->PutIfAbsent("files/p/p-1.0+x.tar.gz", "presigned bytes"), IsOk());
  auto url = (*store)->PresignedGetUrl("files/p/p-1.0+x.tar.gz", std::chrono::seconds(60));
  ASSERT_THAT(url, IsOk());
  auto http = HttpClient::Create({});
  ASSERT_THAT(http, IsOk());
  auto response = (*http)->Send(HttpRequest{"GET", *url});
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->body, "presigned bytes");

  std::string tampered = *url;
  tampered.replace(tampered.find("p-1.0"), 5, "p-2.0");
  auto refused = (*http)->Send(HttpRequest{"GET", tampered});
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, ChecksSignatures() ? 403 : 404);
}

}  // namespace
}  // namespace pydepot::storage::s3
