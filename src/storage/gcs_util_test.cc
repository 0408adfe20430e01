// gs:// URLs, endpoints, object-name encoding, GCS timestamps and V4 signed URLs (checked
// against Google's own published signing vectors).

#include "storage/gcs_util.h"

#include <string>

#include <boost/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/gcs_auth.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage::gcs {
namespace {

using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;
using ::testing::HasSubstr;

TEST(ParseGcsUrlTest, BucketAndPrefix) {
  auto bare = ParseGcsUrl("gs://my-bucket");
  ASSERT_THAT(bare, IsOk());
  EXPECT_EQ(bare->bucket, "my-bucket");
  EXPECT_EQ(bare->prefix, "");

  auto slash = ParseGcsUrl("gs://my-bucket/");
  ASSERT_THAT(slash, IsOk());
  EXPECT_EQ(slash->prefix, "");

  auto prefixed = ParseGcsUrl("gs://my_bucket.example.com/pydepot/prod/");
  ASSERT_THAT(prefixed, IsOk());
  EXPECT_EQ(prefixed->bucket, "my_bucket.example.com");
  EXPECT_EQ(prefixed->prefix, "pydepot/prod/");
}

TEST(ParseGcsUrlTest, RejectsBadBucketsAndPrefixes) {
  for (const char* url :
       {"gs://", "gs:///x", "gs://ab", "gs://Upper", "gs://-start", "gs://end-", "gs://has space",
        "gs://b/a//b", "gs://b/../x", "gs://b/.hidden", "s3://bucket", "gs:/bucket"}) {
    EXPECT_THAT(ParseGcsUrl(url), HasCode(StatusCode::kInvalidArgument)) << url;
  }
  EXPECT_THAT(ParseGcsUrl("gs://" + std::string(64, 'a')), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGcsUrl("gs://" + std::string(63, 'a')), IsOk());
}

TEST(MakeEndpointsTest, RealServiceAndEmulator) {
  auto real = MakeEndpoints("");
  ASSERT_THAT(real, IsOk());
  EXPECT_FALSE(real->emulator);
  EXPECT_EQ(real->json_api, "https://storage.googleapis.com/storage/v1");
  EXPECT_EQ(real->upload_api, "https://storage.googleapis.com/upload/storage/v1");
  EXPECT_EQ(real->signing_host, "storage.googleapis.com");

  for (const char* host : {"http://127.0.0.1:9023", "127.0.0.1:9023", "http://127.0.0.1:9023/"}) {
    auto emulator = MakeEndpoints(host);
    ASSERT_THAT(emulator, IsOk()) << host;
    EXPECT_TRUE(emulator->emulator);
    EXPECT_EQ(emulator->json_api, "http://127.0.0.1:9023/storage/v1");
    EXPECT_EQ(emulator->upload_api, "http://127.0.0.1:9023/upload/storage/v1");
    EXPECT_EQ(emulator->signing_base, "http://127.0.0.1:9023");
    EXPECT_EQ(emulator->signing_host, "127.0.0.1:9023");
  }
  EXPECT_THAT(MakeEndpoints("https://x:1"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeEndpoints("ftp://x:1"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeEndpoints("http://"), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeEndpoints("http://x:1/path"), HasCode(StatusCode::kInvalidArgument));
}

TEST(PercentEncodeTest, ObjectNames) {
  // '+' must never travel raw: in a query string Google reads it as a space.
  EXPECT_EQ(PercentEncode("files/foo/foo-1.0+local!2_x~y.tar.gz"),
            "files%2Ffoo%2Ffoo-1.0%2Blocal%212_x~y.tar.gz");
  EXPECT_EQ(PercentEncode("a/b+c", /*keep_slash=*/true), "a/b%2Bc");
  EXPECT_EQ(PercentEncode("caf\xc3\xa9 &="), "caf%C3%A9%20%26%3D");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(TimeTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339Micros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Micros("2019-02-01T09:00:00.123Z"), 1549011600123000);
  EXPECT_EQ(ParseRfc3339Micros("2019-02-01T09:00:00.123456Z"), 1549011600123456);
  EXPECT_EQ(ParseRfc3339Micros("2019-02-01T10:30:00+01:30"), 1549011600000000);
  EXPECT_EQ(ParseRfc3339Micros("2024-02-29T23:59:59Z"), 1709251199000000);
  for (const char* bad :
       {"", "2019-02-01", "2019-02-30T00:00:00Z", "2019-02-01T09:00:00", "2019-02-01T09:00:00.Z",
        "2019-02-01T24:00:00Z", "2019-02-01T09:00:00Zjunk"}) {
    EXPECT_EQ(ParseRfc3339Micros(bad), std::nullopt) << bad;
  }
}

TEST(TimeTest, HttpDate) {
  EXPECT_EQ(ParseHttpDateMicros("Fri, 01 Feb 2019 09:00:00 GMT"), 1549011600000000);
  EXPECT_EQ(ParseHttpDateMicros("not a date"), std::nullopt);
}

std::chrono::system_clock::time_point At(std::int64_t seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

TEST(SignedUrlTest, EncodesObjectNamesAndLimitsLifetime) {
  SignedUrlParams params;
  params.base_url = "http://127.0.0.1:9";
  params.host = "127.0.0.1:9";
  params.bucket = "b";
  params.object = "prefix/files/foo/foo-1.0+local!1.tar.gz";
  params.signer_email = "sa@p.iam.gserviceaccount.com";
  params.now = At(1549011600);
  params.ttl = std::chrono::seconds(300);
  std::string signed_data;
  auto sign = [&signed_data](std::string_view data) -> StatusOr<std::string> {
    signed_data = std::string(data);
    return std::string("\x01\xff", 2);
  };
  auto url = MakeV4SignedGetUrl(params, sign);
  ASSERT_THAT(url, IsOk());
  EXPECT_THAT(*url,
              ::testing::StartsWith(
                  "http://127.0.0.1:9/b/prefix/files/foo/foo-1.0%2Blocal%211.tar.gz?"
                  "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam."
                  "gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&"
                  "X-Goog-Date=20190201T090000Z&X-Goog-Expires=300&X-Goog-SignedHeaders=host"));
  EXPECT_THAT(*url, ::testing::EndsWith("&X-Goog-Signature=01ff"));
  EXPECT_THAT(signed_data,
              ::testing::StartsWith("GOOG4-RSA-SHA256\n20190201T090000Z\n20190201/auto/storage/"
                                    "goog4_request\n"));

  params.ttl = std::chrono::seconds(0);
  EXPECT_THAT(MakeV4SignedGetUrl(params, sign), HasCode(StatusCode::kInvalidArgument));
  params.ttl = std::chrono::seconds(7 * 24 * 3600 + 1);
  auto too_long = MakeV4SignedGetUrl(params, sign);
  EXPECT_THAT(too_long, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(too_long.error().message(), HasSubstr("7 days"));
  params.ttl = std::chrono::seconds(7 * 24 * 3600);
  EXPECT_THAT(MakeV4SignedGetUrl(params, sign), IsOk());
}

}  // namespace
}  // namespace pydepot::storage::gcs
