#include "http/form.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::http {
namespace {

TEST(FormTest, DecodesUrlEncodedFields) {
  auto fields = ParseUrlEncoded("user=al%20ice&password=a+b%2Bc&empty=&flag&user=second");
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(FormValue(*fields, "user"), "al ice");  // the first value wins
  EXPECT_EQ(FormValue(*fields, "password"), "a b+c");
  EXPECT_EQ(FormValue(*fields, "empty"), "");
  EXPECT_EQ(FormValue(*fields, "missing"), "");
  EXPECT_EQ(fields->size(), 5U);
}

TEST(FormTest, RefusesBrokenEscapesAndInvalidUtf8) {
  EXPECT_FALSE(ParseUrlEncoded("a=%zz").has_value());
  EXPECT_FALSE(ParseUrlEncoded("a=%ff").has_value());
  EXPECT_FALSE(ParseUrlEncoded("a=%c0%af").has_value());  // overlong '/'
  auto ok = ParseUrlEncoded("a=%e2%82%ac");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(FormValue(*ok, "a"), "\xe2\x82\xac");
  EXPECT_TRUE(ParseUrlEncoded("").has_value());
}

TEST(FormTest, QueryOfTakesThePartAfterTheFirstQuestionMark) {
  EXPECT_EQ(QueryOf("/search?q=a?b"), "q=a?b");
  EXPECT_EQ(QueryOf("/search"), "");
}

TEST(FormTest, FindsCookiesByExactName) {
  EXPECT_EQ(CookieValue("a=1; pydepot_session=abc.1.x; b=2", "pydepot_session"), "abc.1.x");
  EXPECT_EQ(CookieValue("xpydepot_session=1", "pydepot_session"), "");
  EXPECT_EQ(CookieValue("pydepot_session=\"q\"", "pydepot_session"), "q");
  EXPECT_EQ(CookieValue("", "a"), "");
  EXPECT_EQ(CookieValue(";;  a=1 ;", "a"), "1");
}

}  // namespace
}  // namespace pydepot::http
