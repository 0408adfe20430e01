#include "auth/password_hash.h"

#include <sodium.h>

#include <gtest/gtest.h>

#include "base/hash.h"

namespace pydepot::auth::internal {
namespace {

// The cheapest cost libsodium allows, so the test runs fast.
constexpr PasswordHashCost kCheap{crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                  crypto_pwhash_argon2id_MEMLIMIT_MIN};

TEST(PasswordHashTest, UnmatchableHashIsWellFormedWithTheCostAndMatchesNothing) {
  ASSERT_TRUE(InitCrypto().ok());
  auto hash = UnmatchableHash(kCheap);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m="));
  // libsodium reads it as an argon2id string with exactly this cost (0: no rehash needed; -1
  // would mean malformed), so verifying against it runs the full hash.
  EXPECT_EQ(crypto_pwhash_str_needs_rehash(hash->c_str(), kCheap.ops_limit, kCheap.mem_limit), 0);
  const auto before = PasswordVerificationsForTest();
  EXPECT_FALSE(VerifyPassword(*hash, "any password"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_EQ(PasswordVerificationsForTest(), before + 2);
  // Random salt and digest: two are never equal.
  EXPECT_NE(*hash, *UnmatchableHash(kCheap));
}

TEST(PasswordHashTest, CostOutsideLimitsIsRefused) {
  EXPECT_FALSE(UnmatchableHash({1, crypto_pwhash_argon2id_MEMLIMIT_MIN - 1}).has_value());
  EXPECT_FALSE(HashPassword("password", {1, crypto_pwhash_argon2id_MEMLIMIT_MIN - 1}).has_value());
}

TEST(PasswordHashTest, HashThenVerify) {
  ASSERT_TRUE(InitCrypto().ok());
  auto hash = HashPassword("correct horse", kCheap);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horsE"));
}

}  // namespace
}  // namespace pydepot::auth::internal
