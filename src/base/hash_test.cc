#include "base/hash.h"

#include <algorithm>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace pydepot {
namespace {

constexpr char kSha256Empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSha256Abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kMd5Empty[] = "d41d8cd98f00b204e9800998ecf8427e";
constexpr char kMd5Abc[] = "900150983cd24fb0d6963f7d28e17f72";
constexpr char kBlake2bEmpty[] = "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8";
constexpr char kBlake2bAbc[] = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";

TEST(HashTest, InitCryptoSucceedsRepeatedly) {
  EXPECT_TRUE(InitCrypto().ok());
  EXPECT_TRUE(InitCrypto().ok());
}

TEST(HashTest, EmptyInput) {
  Digests d = ComputeDigests("");
  EXPECT_EQ(d.sha256, kSha256Empty);
  EXPECT_EQ(d.md5, kMd5Empty);
  EXPECT_EQ(d.blake2b_256, kBlake2bEmpty);
  EXPECT_EQ(Sha256Hex(""), kSha256Empty);
}

TEST(HashTest, Abc) {
  Digests d = ComputeDigests("abc");
  EXPECT_EQ(d.sha256, kSha256Abc);
  EXPECT_EQ(d.md5, kMd5Abc);
  EXPECT_EQ(d.blake2b_256, kBlake2bAbc);
  EXPECT_EQ(Sha256Hex("abc"), kSha256Abc);
}

TEST(HashTest, HasherWithNoUpdateIsEmptyDigest) {
  Hasher hasher;
  Digests d = hasher.Finish();
  EXPECT_EQ(d.sha256, kSha256Empty);
  EXPECT_EQ(d.md5, kMd5Empty);
  EXPECT_EQ(d.blake2b_256, kBlake2bEmpty);
}

TEST(HashTest, BytesAreNotTreatedAsText) {
  // An embedded NUL and high bytes are hashed like any other byte.
  const std::string bytes("a\0b\xff", 4);
  EXPECT_NE(Sha256Hex(bytes), Sha256Hex("a"));
  EXPECT_EQ(ComputeDigests(bytes).sha256, Sha256Hex(bytes));
}

TEST(HashTest, ChunkedMegabyteEqualsOneShot) {
  std::string data(1 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 131 + 7) % 251);
  }
  const Digests one_shot = ComputeDigests(data);

  Hasher hasher;
  std::size_t offset = 0;
  std::size_t chunk = 1;
  while (offset < data.size()) {
    const std::size_t n = std::min(chunk, data.size() - offset);
    hasher.Update(std::string_view{data}.substr(offset, n));
    offset += n;
    chunk = chunk * 3 + 1;  // 1, 4, 13, 40, ... odd and even sizes across block boundaries
    if (chunk > 70000) {
      chunk = 7;
    }
  }
  hasher.Update("");  // an empty update changes nothing
  const Digests chunked = hasher.Finish();
  EXPECT_EQ(chunked.sha256, one_shot.sha256);
  EXPECT_EQ(chunked.md5, one_shot.md5);
  EXPECT_EQ(chunked.blake2b_256, one_shot.blake2b_256);
  EXPECT_EQ(Sha256Hex(data), one_shot.sha256);
  EXPECT_EQ(one_shot.sha256.size(), 64U);
  EXPECT_EQ(one_shot.md5.size(), 32U);
  EXPECT_EQ(one_shot.blake2b_256.size(), 64U);
}

TEST(HashTest, LargeUpdatesHashedInParallelMatchSmallUpdates) {
  // Updates of 64 KiB and more run MD5 on a helper thread; the digests must not change.
  std::string data(3 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 7919 + 13) % 253);
  }
  Hasher small;
  for (std::size_t offset = 0; offset < data.size(); offset += 4096) {
    small.Update(std::string_view{data}.substr(offset, 4096));
  }
  const Digests expected = small.Finish();
  Hasher large;
  const std::size_t sizes[] = {65536, 1, 262144, 65535, 1 << 20, 65537};
  std::size_t offset = 0;
  for (std::size_t i = 0; offset < data.size(); ++i) {
    const std::size_t n = std::min(sizes[i % std::size(sizes)], data.size() - offset);
    large.Update(std::string_view{data}.substr(offset, n));
    offset += n;
  }
  const Digests got = large.Finish();
  EXPECT_EQ(got.sha256, expected.sha256);
  EXPECT_EQ(got.md5, expected.md5);
  EXPECT_EQ(got.blake2b_256, expected.blake2b_256);
}

TEST(HashTest, HexEncode) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x7f\x80\xfe\xff", 6)), "00017f80feff");
  EXPECT_EQ(HexEncode("abc"), "616263");
}

TEST(HashTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(HashTest, RandomBytes) {
  EXPECT_TRUE(RandomBytes(0).empty());
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32U);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure
}

TEST(HashTest, RandomPasswordUsesUrlSafeAlphabet) {
  EXPECT_TRUE(RandomPassword(0).empty());
  std::set<char> seen;
  for (int i = 0; i < 64; ++i) {
    const std::string password = RandomPassword(24);
    ASSERT_EQ(password.size(), 24U);
    for (char c : password) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      ASSERT_TRUE(ok) << "unexpected character " << static_cast<int>(c);
      seen.insert(c);
    }
  }
  // 1536 draws from 64 symbols: all but a few appear (a loose check that it is not constant).
  EXPECT_GT(seen.size(), 50U);
  EXPECT_NE(RandomPassword(24), RandomPassword(24));
}

}  // namespace
}  // namespace pydepot
