#include "base/strings.h"

#include "gtest/gtest.h"

namespace pydepot {
namespace {

TEST(StringsTest, AsciiLowerTouchesOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("Content-Type: TEXT/Html"), "content-type: text/html");
  EXPECT_EQ(AsciiLower(""), "");
  // Bytes of UTF-8 text are never changed (std::tolower under some locales would).
  EXPECT_EQ(AsciiLower("\xC3\x89T\xC3\xA9"), "\xC3\x89t\xC3\xA9");
}

TEST(StringsTest, AsciiEqualsIgnoreCase) {
  EXPECT_TRUE(AsciiEqualsIgnoreCase("ETag", "etag"));
  EXPECT_TRUE(AsciiEqualsIgnoreCase("", ""));
  EXPECT_FALSE(AsciiEqualsIgnoreCase("ETag", "ETags"));
  EXPECT_FALSE(AsciiEqualsIgnoreCase("a-b", "a_b"));
  EXPECT_FALSE(AsciiEqualsIgnoreCase("\xC3\x89", "\xC3\xA9"));
}

TEST(StringsTest, TrimHeaderBlanks) {
  EXPECT_EQ(TrimHeaderBlanks(" \tvalue \t\r\n"), "value");
  EXPECT_EQ(TrimHeaderBlanks("a b"), "a b");
  EXPECT_EQ(TrimHeaderBlanks("\r\n"), "");
  // A CR or LF at the front is not a blank of the value: kept, so a malformed line shows.
  EXPECT_EQ(TrimHeaderBlanks("\r\nx"), "\r\nx");
}

}  // namespace
}  // namespace pydepot
