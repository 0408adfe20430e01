// SigV4 against the examples AWS publishes in "Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk" and "Query String Authentication" of the S3 API
// reference (credentials AKIAIOSFODNN7EXAMPLE, 2013-05-24, bucket examplebucket).

#include "storage/s3_signer.h"

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::storage::s3 {
namespace {

using ::testing::HasSubstr;

const Credentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

std::chrono::system_clock::time_point May24() {
  // 2013-05-24T00:00:00Z
  return std::chrono::system_clock::time_point(std::chrono::seconds(1369353600));
}

std::string HeaderValue(const Signature& signature, std::string_view name) {
  for (const auto& [key, value] : signature.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

TEST(UriEncodeTest, EncodesAllButUnreserved) {
  EXPECT_EQ(UriEncode("files/foo/foo-1.0+local!x_y~z.tar.gz", true),
            "files/foo/foo-1.0%2Blocal%21x_y~z.tar.gz");
  EXPECT_EQ(UriEncode("a/b c", false), "a%2Fb%20c");
  EXPECT_EQ(UriEncode("caf\xc3\xa9", true), "caf%C3%A9");
  EXPECT_EQ(UriEncode("test$file.text", true), "test%24file.text");
}

TEST(AmzDateTest, FormatsUtc) { EXPECT_EQ(AmzDate(May24()), "20130524T000000Z"); }

TEST(SignRequestTest, AwsExampleGetObject) {
  SignableRequest request{"GET", "/test.txt", {}, {}, std::string(kEmptySha256)};
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  Signature signature = SignRequest(request, kExample, "us-east-1", "s3", May24());
  EXPECT_EQ(signature.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(signature.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(HeaderValue(signature, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(signature, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(HeaderValue(signature, "x-amz-security-token"), "");
}

TEST(SignRequestTest, AwsExamplePutObject) {
  const std::string body = "Welcome to Amazon S3.";
  SignableRequest request{"PUT", UriEncode("/test$file.text", true), {}, {}, Sha256Hex(body)};
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  EXPECT_EQ(request.payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  Signature signature = SignRequest(request, kExample, "us-east-1", "s3", May24());
  EXPECT_THAT(signature.canonical_request, HasSubstr("PUT\n/test%24file.text\n\n"));
  EXPECT_EQ(HeaderValue(signature, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SignRequestTest, AwsExampleGetBucketLifecycle) {
  SignableRequest request{"GET", "/", {{"lifecycle", ""}}, {}, std::string(kEmptySha256)};
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  Signature signature = SignRequest(request, kExample, "us-east-1", "s3", May24());
  EXPECT_THAT(signature.canonical_request, HasSubstr("GET\n/\nlifecycle=\n"));
  EXPECT_THAT(
      HeaderValue(signature, "authorization"),
      HasSubstr("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
}

TEST(SignRequestTest, AwsExampleListObjects) {
  SignableRequest request{
      "GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}, std::string(kEmptySha256)};
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  Signature signature = SignRequest(request, kExample, "us-east-1", "s3", May24());
  EXPECT_THAT(signature.canonical_request, HasSubstr("GET\n/\nmax-keys=2&prefix=J\n"));
  EXPECT_THAT(
      HeaderValue(signature, "authorization"),
      HasSubstr("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

TEST(SignRequestTest, SessionTokenIsSigned) {
  Credentials temporary = kExample;
  temporary.session_token = "token/with+chars";
  SignableRequest request{"GET", "/test.txt", {}, {{"host", "h"}}, std::string(kEmptySha256)};
  Signature signature = SignRequest(request, temporary, "us-east-1", "s3", May24());
  EXPECT_EQ(HeaderValue(signature, "x-amz-security-token"), "token/with+chars");
  EXPECT_THAT(signature.canonical_request, HasSubstr("x-amz-security-token:token/with+chars\n"));
  EXPECT_THAT(
      HeaderValue(signature, "authorization"),
      HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
}

TEST(SignRequestTest, HeaderValuesAreTrimmedAndNamesLowered) {
  SignableRequest request{"GET", "/", {}, {}, std::string(kEmptySha256)};
  request.headers = {{"HOST", "h"}, {"X-Amz-Meta-A", "  one   two  "}};
  Signature signature = SignRequest(request, kExample, "us-east-1", "s3", May24());
  EXPECT_THAT(signature.canonical_request, HasSubstr("host:h\nx-amz-content-sha256:"));
  EXPECT_THAT(signature.canonical_request, HasSubstr("x-amz-meta-a:one two\n"));
}

TEST(CanonicalQueryTest, EncodesAndSorts) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "a/b+c"}, {"list-type", "2"}, {"continuation-token", "x="}}),
            "continuation-token=x%3D&list-type=2&prefix=a%2Fb%2Bc");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}}), "uploads=");
}

TEST(PresignUrlTest, AwsExample) {
  SignableRequest request{"GET", "/test.txt", {}, {{"host", "examplebucket.s3.amazonaws.com"}}, ""};
  std::string url = PresignUrl(request, "https://examplebucket.s3.amazonaws.com", kExample,
                               "us-east-1", "s3", May24(), std::chrono::seconds(86400));
  EXPECT_EQ(url,
            "https://examplebucket.s3.amazonaws.com/test.txt"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(PresignUrlTest, SessionTokenGoesIntoTheQuery) {
  Credentials temporary = kExample;
  temporary.session_token = "abc/def";
  SignableRequest request{"GET", "/b/k", {}, {{"host", "127.0.0.1:9000"}}, ""};
  std::string url = PresignUrl(request, "http://127.0.0.1:9000", temporary, "us-east-1", "s3",
                               May24(), std::chrono::seconds(60));
  EXPECT_THAT(url, HasSubstr("http://127.0.0.1:9000/b/k?X-Amz-Algorithm="));
  EXPECT_THAT(url, HasSubstr("&X-Amz-Security-Token=abc%2Fdef&X-Amz-SignedHeaders=host"));
}

}  // namespace
}  // namespace pydepot::storage::s3
