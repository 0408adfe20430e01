#include <string>

#include "auth/auth.h"
#include "gtest/gtest.h"

namespace pydepot::auth {
namespace {

void ExpectCredentials(std::string_view header, std::string_view user, std::string_view password) {
  StatusOr<BasicCredentials> parsed = ParseBasicAuthorization(header);
  ASSERT_TRUE(parsed.has_value()) << header << ": " << parsed.error();
  EXPECT_EQ(parsed->user, user);
  EXPECT_EQ(parsed->password, password);
}

void ExpectRejected(std::string_view header) {
  StatusOr<BasicCredentials> parsed = ParseBasicAuthorization(header);
  ASSERT_FALSE(parsed.has_value()) << header;
  EXPECT_EQ(parsed.error().code(), StatusCode::kUnauthenticated) << header;
}

TEST(BasicAuthTest, Good) {
  // base64("alice:secret-pass")
  ExpectCredentials("Basic YWxpY2U6c2VjcmV0LXBhc3M=", "alice", "secret-pass");
  // RFC 7617's example.
  ExpectCredentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame");
}

TEST(BasicAuthTest, SchemeIsCaseInsensitive) {
  ExpectCredentials("basic YWxpY2U6c2VjcmV0LXBhc3M=", "alice", "secret-pass");
  ExpectCredentials("BASIC YWxpY2U6c2VjcmV0LXBhc3M=", "alice", "secret-pass");
  ExpectCredentials("bAsIc YWxpY2U6c2VjcmV0LXBhc3M=", "alice", "secret-pass");
}

TEST(BasicAuthTest, ExtraSpacesTolerated) {
  ExpectCredentials("  Basic    YWxpY2U6c2VjcmV0LXBhc3M=  ", "alice", "secret-pass");
  ExpectCredentials("Basic\tYWxpY2U6c2VjcmV0LXBhc3M=\t", "alice", "secret-pass");
}

TEST(BasicAuthTest, MissingPaddingAccepted) {
  ExpectCredentials("Basic YWxpY2U6c2VjcmV0LXBhc3M", "alice", "secret-pass");
  ExpectCredentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", "Aladdin", "open sesame");
}

TEST(BasicAuthTest, EmptyPassword) {
  ExpectCredentials("Basic YWxpY2U6", "alice", "");  // "alice:"
}

TEST(BasicAuthTest, EmptyUser) {
  ExpectCredentials("Basic OnNlY3JldA==", "", "secret");  // ":secret"
}

TEST(BasicAuthTest, PasswordWithColonSplitsAtFirst) {
  ExpectCredentials("Basic YWxpY2U6YTpiOmM=", "alice", "a:b:c");  // "alice:a:b:c"
}

TEST(BasicAuthTest, TokenUser) {
  // "__token__:pypi-AgEIcHlwaS5vcmc"
  ExpectCredentials("Basic X190b2tlbl9fOnB5cGktQWdFSWNIbHdhUzV2Y21j", "__token__",
                    "pypi-AgEIcHlwaS5vcmc");
}

TEST(BasicAuthTest, BinaryBytesSurvive) {
  // "u:p\0\xff"
  ExpectCredentials("Basic dTpwAP8=", "u", std::string("p\0\xff", 3));
}

TEST(BasicAuthTest, NoColon) {
  ExpectRejected("Basic YWxpY2U=");  // "alice"
  ExpectRejected("Basic ");          // nothing after the scheme
}

TEST(BasicAuthTest, BadBase64) {
  ExpectRejected("Basic YWxpY2U6c2VjcmV0LXBhc3M=!");  // stray character
  ExpectRejected("Basic YWxp Y2U6c2VjcmV0");          // space inside the token
  ExpectRejected("Basic YWxpY2U6c2VjcmV0LXBhc3M-");   // URL-safe alphabet
  ExpectRejected("Basic Y");                          // impossible length
  ExpectRejected("Basic YWxpY2U6c2VjcmV0LXBhc3M==");  // too much padding
  ExpectRejected("Basic =YWxpY2U6");                  // padding first
}

TEST(BasicAuthTest, WrongScheme) {
  ExpectRejected("");
  ExpectRejected("   ");
  ExpectRejected("Basic");
  ExpectRejected("Bearer YWxpY2U6c2VjcmV0LXBhc3M=");
  ExpectRejected("BasicYWxpY2U6c2VjcmV0LXBhc3M=");
  ExpectRejected("Digest username=\"alice\"");
  ExpectRejected("YWxpY2U6c2VjcmV0LXBhc3M=");
}

TEST(BasicAuthTest, OversizedRejected) { ExpectRejected("Basic " + std::string(8192, 'A')); }

TEST(BasicAuthTest, ErrorNeverQuotesTheHeader) {
  StatusOr<BasicCredentials> parsed = ParseBasicAuthorization("Basic c2VjcmV0LXBhc3N3b3Jk");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message().find("c2VjcmV0"), std::string::npos);
  EXPECT_EQ(parsed.error().message().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace pydepot::auth
