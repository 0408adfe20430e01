#include "base/gzip.h"

#include <string>

#include <gtest/gtest.h>

namespace pydepot {
namespace {

TEST(GzipTest, RoundTripsAndShrinksRepetitiveText) {
  std::string page;
  for (int i = 0; i < 2000; ++i) {
    page += "<a href=\"/simple/project-" + std::to_string(i) + "/\">project-" + std::to_string(i) +
            "</a>\n";
  }
  auto packed = GzipCompress(page);
  ASSERT_TRUE(packed.has_value());
  EXPECT_LT(packed->size(), page.size() / 4);
  // RFC 1952 magic, deflate method.
  ASSERT_GE(packed->size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
  EXPECT_EQ((*packed)[2], 8);
  auto unpacked = GzipDecompress(*packed, page.size());
  ASSERT_TRUE(unpacked.has_value());
  EXPECT_EQ(*unpacked, page);
}

TEST(GzipTest, SameInputSameBytes) {
  // The output is a pure function of the input: no timestamp, so a page's gzip ETag is stable
  // across instances.
  EXPECT_EQ(*GzipCompress("hello hello hello"), *GzipCompress("hello hello hello"));
}

TEST(GzipTest, EmptyInput) {
  auto packed = GzipCompress("");
  ASSERT_TRUE(packed.has_value());
  EXPECT_EQ(*GzipDecompress(*packed, 10), "");
}

TEST(GzipTest, DecompressRefusesGarbageTruncationAndBombs) {
  EXPECT_FALSE(GzipDecompress("not gzip at all", 100).has_value());
  std::string big(100000, 'a');
  auto packed = *GzipCompress(big);
  EXPECT_FALSE(GzipDecompress(packed.substr(0, packed.size() / 2), big.size()).has_value());
  EXPECT_FALSE(GzipDecompress(packed, big.size() - 1).has_value());
  EXPECT_TRUE(GzipDecompress(packed, big.size()).has_value());
}

}  // namespace
}  // namespace pydepot
