#include "auth/credential_cache.h"

#include <chrono>
#include <string>

#include "base/hash.h"
#include "gtest/gtest.h"

namespace pydepot::auth::internal {
namespace {

using std::chrono::seconds;
using Clock = CredentialCache::Clock;

class CredentialCacheTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(CredentialCacheTest, HitOnlyForTheSamePasswordAndEtag) {
  CredentialCache cache(seconds(60), 10);
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice", "e1", t0_).has_value());
  cache.Insert("alice", "pw-alice", Role::kUpload, "e1", t0_);
  EXPECT_EQ(cache.Lookup("alice", "pw-alice", "e1", t0_ + seconds(1)), Role::kUpload);
  EXPECT_FALSE(cache.Lookup("alice", "pw-alicf", "e1", t0_).has_value());
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice ", "e1", t0_).has_value());
  EXPECT_FALSE(cache.Lookup("bob", "pw-alice", "e1", t0_).has_value());
  // A wrong password does not evict the entry.
  EXPECT_EQ(cache.Lookup("alice", "pw-alice", "e1", t0_), Role::kUpload);
  // Another document version misses and drops the entry.
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice", "e2", t0_).has_value());
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice", "e1", t0_).has_value());
  EXPECT_EQ(cache.size(), 0U);
}

TEST_F(CredentialCacheTest, UserAndPasswordBoundaryIsUnambiguous) {
  CredentialCache cache(seconds(60), 10);
  cache.Insert("ab", "cdefghij", Role::kRead, "e", t0_);
  EXPECT_FALSE(cache.Lookup("a", "bcdefghij", "e", t0_).has_value());
  EXPECT_FALSE(cache.Lookup("abc", "defghij", "e", t0_).has_value());
}

TEST_F(CredentialCacheTest, Expires) {
  CredentialCache cache(seconds(10), 10);
  cache.Insert("alice", "pw-alice", Role::kRead, "e", t0_);
  EXPECT_TRUE(cache.Lookup("alice", "pw-alice", "e", t0_ + seconds(9)).has_value());
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice", "e", t0_ + seconds(10)).has_value());
  EXPECT_EQ(cache.size(), 0U);
}

TEST_F(CredentialCacheTest, ReinsertReplaces) {
  CredentialCache cache(seconds(60), 10);
  cache.Insert("alice", "old-password", Role::kRead, "e1", t0_);
  cache.Insert("alice", "new-password", Role::kAdmin, "e2", t0_);
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_FALSE(cache.Lookup("alice", "old-password", "e2", t0_).has_value());
  EXPECT_EQ(cache.Lookup("alice", "new-password", "e2", t0_), Role::kAdmin);
}

TEST_F(CredentialCacheTest, BoundedEvictsOldestFirst) {
  CredentialCache cache(seconds(60), 3);
  for (int i = 0; i < 5; ++i) {
    cache.Insert("user" + std::to_string(i), "password", Role::kRead, "e", t0_ + seconds(i));
  }
  EXPECT_EQ(cache.size(), 3U);
  const Clock::time_point later = t0_ + seconds(5);
  EXPECT_FALSE(cache.Lookup("user0", "password", "e", later).has_value());
  EXPECT_FALSE(cache.Lookup("user1", "password", "e", later).has_value());
  EXPECT_TRUE(cache.Lookup("user2", "password", "e", later).has_value());
  EXPECT_TRUE(cache.Lookup("user3", "password", "e", later).has_value());
  EXPECT_TRUE(cache.Lookup("user4", "password", "e", later).has_value());
}

TEST_F(CredentialCacheTest, InsertDropsExpiredEntries) {
  CredentialCache cache(seconds(10), 100);
  cache.Insert("a", "password", Role::kRead, "e", t0_);
  cache.Insert("b", "password", Role::kRead, "e", t0_ + seconds(5));
  cache.Insert("c", "password", Role::kRead, "e", t0_ + seconds(12));
  EXPECT_EQ(cache.size(), 2U);
}

TEST_F(CredentialCacheTest, Clear) {
  CredentialCache cache(seconds(60), 10);
  cache.Insert("alice", "pw-alice", Role::kRead, "e", t0_);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_FALSE(cache.Lookup("alice", "pw-alice", "e", t0_).has_value());
}

TEST_F(CredentialCacheTest, DisabledBySizeOrTtl) {
  CredentialCache no_room(seconds(60), 0);
  no_room.Insert("alice", "pw-alice", Role::kRead, "e", t0_);
  EXPECT_FALSE(no_room.Lookup("alice", "pw-alice", "e", t0_).has_value());
  CredentialCache no_time(seconds(0), 10);
  no_time.Insert("alice", "pw-alice", Role::kRead, "e", t0_);
  EXPECT_FALSE(no_time.Lookup("alice", "pw-alice", "e", t0_).has_value());
}

}  // namespace
}  // namespace pydepot::auth::internal
