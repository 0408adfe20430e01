#include "base/time.h"

#include <cstdint>
#include <optional>

#include "gtest/gtest.h"

namespace pydepot {
namespace {

TEST(ParseRfc3339MicrosTest, Variants) {
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14T22:13:20Z"), 1'700'000'000'000'000);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14t22:13:20.5z"), 1'700'000'000'500'000);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14 22:13:20.123456789Z"), 1'700'000'000'123'456);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-15T00:13:20+02:00"), 1'700'000'000'000'000);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14T20:43:20-01:30"), 1'700'000'000'000'000);
  for (const char* bad :
       {"", "2023-11-14", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk",
        "2023-11-14T22:13:20+0200", "2023/11/14T22:13:20Z", "20231114T221320Z"}) {
    EXPECT_EQ(ParseRfc3339Micros(bad), std::nullopt) << bad;
  }
  EXPECT_TRUE(ParseRfc3339Micros("2024-02-29T00:00:00Z").has_value());
}

TEST(ParseRfc3339MicrosTest, GcsObjectTimesAndLeapSeconds) {
  EXPECT_EQ(ParseRfc3339Micros("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Micros("2019-02-01T09:00:00.123Z"), 1549011600123000);
  // A leap second is the last microsecond of its minute, before the next minute begins.
  EXPECT_EQ(ParseRfc3339Micros("2016-12-31T23:59:60Z"), 1483228799999999);
  EXPECT_EQ(ParseRfc3339Micros("2017-01-01T00:00:00Z"), 1483228800000000);
  EXPECT_EQ(ParseRfc3339Micros("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14T22:13:20+24:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Micros("2023-11-14T22:13:20+02:60"), std::nullopt);
}

}  // namespace
}  // namespace pydepot
