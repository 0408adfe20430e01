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

TEST(PasswordHashTest, CostOfReadsTheEncodedCost) {
  auto cheap = HashPassword("pw", kCheap);
  ASSERT_TRUE(cheap.has_value());
  EXPECT_EQ(CostOf(*cheap), kCheap);
  const PasswordHashCost dear{3, std::size_t{20} << 20};
  EXPECT_EQ(CostOf(*UnmatchableHash(dear)), dear);
  // The default is OWASP's minimum: 19 MiB, 2 passes.
  EXPECT_EQ(CostOf(*UnmatchableHash({})), (PasswordHashCost{2, std::size_t{19} << 20}));
  for (const char* bad :
       {"", "$argon2i$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA",
        "$argon2id$v=19$m=", "$argon2id$v=19$m=x,t=2,p=1$", "$argon2id$v=19$m=65536,t=,p=1$",
        "$argon2id$v=19$m=65536,t=2", "$argon2id$v=19$m=0,t=2,p=1$s$h", "plain text"}) {
    EXPECT_EQ(CostOf(bad), std::nullopt) << bad;
  }
}

// A store whose hashes were made at a dearer cost than the configured one (the default changed,
// or another configuration made them): unknown users are checked at that cost, capped.
TEST(PasswordHashTest, UnknownUsersCostWhatTheDearestStoredHashCosts) {
  const std::string old_default = *UnmatchableHash({2, std::size_t{64} << 20});
  const std::string cheap = *UnmatchableHash(kCheap);
  EXPECT_EQ(UnknownUserCost({}, {}), (PasswordHashCost{kDefaultOpsLimit, kDefaultMemLimit}));
  EXPECT_EQ(UnknownUserCost({}, {cheap}), (PasswordHashCost{kDefaultOpsLimit, kDefaultMemLimit}));
  EXPECT_EQ(UnknownUserCost({}, {cheap, old_default, "garbage"}),
            (PasswordHashCost{2, std::size_t{64} << 20}));
  EXPECT_EQ(UnknownUserCost(kCheap, {cheap}), kCheap);
  // Each limit is taken from whichever hash has the larger.
  const std::string many_passes = *UnmatchableHash({5, kCheap.mem_limit});
  EXPECT_EQ(UnknownUserCost(kCheap, {many_passes, old_default}),
            (PasswordHashCost{5, std::size_t{64} << 20}));
  // Capped: a hand-edited 4 GiB, 100-pass hash is checked at 256 MiB and 8 passes.
  EXPECT_EQ(UnknownUserCost({}, {"$argon2id$v=19$m=4194304,t=100,p=1$c2FsdA$aGFzaA"}),
            (PasswordHashCost{8, std::size_t{256} << 20}));
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
