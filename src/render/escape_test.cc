#include "gtest/gtest.h"
#include "render/internal.h"
#include "render/render.h"

namespace pydepot::render {
namespace {

TEST(HtmlEscapeTest, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(HtmlEscape(R"(a&b<c>d"e'f)"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(HtmlEscape(">=3.8,<4"), "&gt;=3.8,&lt;4");
  EXPECT_EQ(HtmlEscape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("plain text 1.0"), "plain text 1.0");
}

TEST(HtmlEscapeTest, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(HtmlEscape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x8D"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x8D");
  EXPECT_EQ(HtmlEscape("a\xFF"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(HtmlEscape("a\xC3"), "a\xEF\xBF\xBD");                                // truncated
  EXPECT_EQ(HtmlEscape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(HtmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(HtmlEscapeTest, ReplacesControlCharactersButNotWhitespace) {
  EXPECT_EQ(HtmlEscape(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(HtmlEscape("a\x01\x7F"
                       "b"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(HtmlEscape("a\xC2\x85"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");  // U+0085, a C1 control
  EXPECT_EQ(HtmlEscape("a\xC2\xA0"
                       "b"),
            "a\xC2\xA0"
            "b");  // U+00A0 is fine
  EXPECT_EQ(HtmlEscape("a\tb\nc\r\n"), "a\tb\nc\r\n");
}

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(PercentEncode("foo_bar-1.0~x.tar.gz"), "foo_bar-1.0~x.tar.gz");
  EXPECT_EQ(PercentEncode("foo-1.0+local.1-py3-none-any.whl"),
            "foo-1.0%2Blocal.1-py3-none-any.whl");
  EXPECT_EQ(PercentEncode("foo-1!2.0.tar.gz"), "foo-1%212.0.tar.gz");
  EXPECT_EQ(PercentEncode("a b/c?d#e%f&g\"h<i"), "a%20b%2Fc%3Fd%23e%25f%26g%22h%3Ci");
  EXPECT_EQ(PercentEncode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(ValidUtf8Test, ReplacesEachBadByte) {
  EXPECT_EQ(internal::ValidUtf8("ok"), "ok");
  EXPECT_EQ(internal::ValidUtf8("\xF4\x90\x80\x80"),  // above U+10FFFF
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(internal::ValidUtf8("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

}  // namespace
}  // namespace pydepot::render
