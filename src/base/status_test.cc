#include "base/status.h"

#include <stdexcept>

#include "base/status_macros.h"
#include "gtest/gtest.h"

namespace pydepot {
namespace {

StatusOr<int> Half(int n) {
  if (n % 2 != 0) {
    return InvalidArgumentError("odd: " + std::to_string(n));
  }
  return n / 2;
}

StatusOr<int> Quarter(int n) {
  PYDEPOT_ASSIGN_OR_RETURN(int half, Half(n));
  PYDEPOT_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int n) {
  PYDEPOT_RETURN_IF_ERROR(Half(n));
  return OkStatus();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, CodeAndMessage) {
  Status s = NotFoundError("packages/foo-1.0.tar.gz: no such key");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: packages/foo-1.0.tar.gz: no such key");
  EXPECT_EQ(s.WithPrefix("get").message(), "get: packages/foo-1.0.tar.gz: no such key");
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "odd: 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

TEST(StatusTest, ValueOnErrorThrows) {
  auto r = Half(3);
  EXPECT_THROW((void)r.value(), std::runtime_error);
}

}  // namespace
}  // namespace pydepot
