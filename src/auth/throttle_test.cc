#include "auth/throttle.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "gtest/gtest.h"

namespace pydepot::auth {
namespace {

using Clock = LoginThrottle::Clock;
using std::chrono::seconds;

class ThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
  // An arbitrary, fixed point of the steady clock, so tests do not depend on the real one.
  const Clock::time_point t0_ = Clock::time_point(std::chrono::hours(1000));
};

TEST_F(ThrottleTest, UserIsBlockedAfterItsLimitWithRetryAfter) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 10, .per_user = 5});
  // Each failure from another address, so only the user's limit applies.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(throttle.Check("10.0.0." + std::to_string(i), "alice", t0_).allowed) << i;
    throttle.RecordFailure("10.0.0." + std::to_string(i), "alice", t0_);
  }
  LoginThrottle::Verdict verdict = throttle.Check("10.0.0.99", "alice", t0_);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_FALSE(verdict.by_address);
  EXPECT_EQ(verdict.retry_after, seconds(12));  // 5 per minute: one more every 12 s
  // Other users are not affected, from any address.
  EXPECT_TRUE(throttle.Check("10.0.0.99", "bob", t0_).allowed);
  EXPECT_TRUE(throttle.Check("10.0.0.1", "bob", t0_).allowed);
}

TEST_F(ThrottleTest, AddressIsBlockedAfterItsLimit) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 10, .per_user = 5});
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(throttle.Check("192.0.2.7", "user" + std::to_string(i), t0_).allowed) << i;
    throttle.RecordFailure("192.0.2.7", "user" + std::to_string(i), t0_);
  }
  LoginThrottle::Verdict verdict = throttle.Check("192.0.2.7", "someone-else", t0_);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_TRUE(verdict.by_address);
  EXPECT_EQ(verdict.retry_after, seconds(6));
  EXPECT_TRUE(throttle.Check("192.0.2.8", "someone-else", t0_).allowed);
}

TEST_F(ThrottleTest, WindowSlides) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 0, .per_user = 5});
  for (int i = 0; i < 5; ++i) {
    throttle.RecordFailure("a", "alice", t0_);
  }
  EXPECT_FALSE(throttle.Check("a", "alice", t0_ + seconds(11)).allowed);
  EXPECT_EQ(throttle.Check("a", "alice", t0_ + seconds(11)).retry_after, seconds(1));
  // One window / limit later, one more check may run...
  EXPECT_TRUE(throttle.Check("a", "alice", t0_ + seconds(12)).allowed);
  throttle.RecordFailure("a", "alice", t0_ + seconds(12));
  // ...and a failure blocks again for the same interval.
  EXPECT_EQ(throttle.Check("a", "alice", t0_ + seconds(12)).retry_after, seconds(12));
  // A whole quiet window gives the whole burst back.
  const Clock::time_point later = t0_ + seconds(12 + 60);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(throttle.Check("a", "alice", later).allowed) << i;
    throttle.RecordFailure("a", "alice", later);
  }
  EXPECT_FALSE(throttle.Check("a", "alice", later).allowed);
}

TEST_F(ThrottleTest, SpreadOutFailuresNeverBlock) {
  // Ten a minute is allowed, forever: a failure every 6 s never reaches the limit.
  LoginThrottle throttle(ThrottleLimits{.per_address = 10, .per_user = 0});
  for (int i = 0; i < 100; ++i) {
    const Clock::time_point now = t0_ + seconds(6 * i);
    ASSERT_TRUE(throttle.Check("198.51.100.1", "x", now).allowed) << i;
    throttle.RecordFailure("198.51.100.1", "x", now);
  }
}

TEST_F(ThrottleTest, RetryAfterIsRoundedUpToWholeSeconds) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 0, .per_user = 1});
  throttle.RecordFailure("a", "alice", t0_);
  auto verdict = throttle.Check("a", "alice", t0_ + std::chrono::milliseconds(59001));
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.retry_after, seconds(1));
  EXPECT_TRUE(throttle.Check("a", "alice", t0_ + seconds(60)).allowed);
}

TEST_F(ThrottleTest, AddressesAreGroupedAsClientsHoldThem) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 2, .per_user = 0});
  // One IPv6 /64 is one client.
  throttle.RecordFailure("2001:db8:1:2::1", "u", t0_);
  throttle.RecordFailure("2001:db8:1:2:ffff:ffff:ffff:ffff", "u", t0_);
  EXPECT_FALSE(throttle.Check("2001:db8:1:2::abcd", "u", t0_).allowed);
  EXPECT_TRUE(throttle.Check("2001:db8:1:3::1", "u", t0_).allowed);
  // An IPv4-mapped IPv6 address (a dual-stack listener) is the IPv4 address.
  throttle.RecordFailure("203.0.113.5", "u", t0_);
  throttle.RecordFailure("::ffff:203.0.113.5", "u", t0_);
  EXPECT_FALSE(throttle.Check("203.0.113.5", "u", t0_).allowed);
  EXPECT_FALSE(throttle.Check("::ffff:203.0.113.5", "u", t0_).allowed);
  EXPECT_TRUE(throttle.Check("203.0.113.6", "u", t0_).allowed);
  // Whatever is not an address is a key of its own.
  throttle.RecordFailure("not an address", "u", t0_);
  EXPECT_TRUE(throttle.Check("not an address", "u", t0_).allowed);
  throttle.RecordFailure("not an address", "u", t0_);
  EXPECT_FALSE(throttle.Check("not an address", "u", t0_).allowed);
}

TEST_F(ThrottleTest, AddressGroupIsTheClient) {
  EXPECT_EQ(AddressGroup("192.0.2.1"), std::string("\xc0\x00\x02\x01", 4));
  EXPECT_EQ(AddressGroup("::ffff:192.0.2.1"), AddressGroup("192.0.2.1"));
  EXPECT_EQ(AddressGroup("2001:db8:1:2::1"), AddressGroup("2001:db8:1:2:ffff::9"));
  EXPECT_NE(AddressGroup("2001:db8:1:2::1"), AddressGroup("2001:db8:1:3::1"));
  EXPECT_EQ(AddressGroup("2001:db8:1:2::1").size(), 8U);
  EXPECT_EQ(AddressGroup("not an address"), "not an address");
  EXPECT_EQ(AddressGroup(""), "");
}

TEST_F(ThrottleTest, UserNamesAreCaseSensitiveAsAccountsAre) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 0, .per_user = 1});
  throttle.RecordFailure("a", "Alice", t0_);
  EXPECT_FALSE(throttle.Check("a", "Alice", t0_).allowed);
  EXPECT_TRUE(throttle.Check("a", "alice", t0_).allowed);
}

TEST_F(ThrottleTest, ZeroLimitsDisable) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 0, .per_user = 0});
  for (int i = 0; i < 1000; ++i) {
    throttle.RecordFailure("a", "alice", t0_);
  }
  EXPECT_TRUE(throttle.Check("a", "alice", t0_).allowed);
}

TEST_F(ThrottleTest, FloodOfNewKeysNeitherGrowsMemoryNorFreesABlockedKey) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 10, .per_user = 5, .table_entries = 256});
  const std::size_t bytes = throttle.MemoryBytes();
  for (int i = 0; i < 5; ++i) {
    throttle.RecordFailure("203.0.113.1", "victim", t0_);
  }
  ASSERT_FALSE(throttle.Check("198.51.100.1", "victim", t0_).allowed);
  for (int i = 0; i < 10; ++i) {
    throttle.RecordFailure("203.0.113.66", "u" + std::to_string(i), t0_);
  }
  ASSERT_FALSE(throttle.Check("203.0.113.66", "x", t0_).allowed);
  // 200,000 random addresses and user names, one failure each, against 256 slots per table.
  for (int i = 0; i < 200000; ++i) {
    const std::string address = "10." + std::to_string((i >> 16) & 255) + "." +
                                std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
    throttle.RecordFailure(address, "random-" + std::to_string(i), t0_ + seconds(1));
  }
  EXPECT_EQ(throttle.MemoryBytes(), bytes);
  EXPECT_FALSE(throttle.Check("198.51.100.1", "victim", t0_ + seconds(1)).allowed);
  EXPECT_FALSE(throttle.Check("203.0.113.66", "x", t0_ + seconds(1)).allowed);
}

TEST_F(ThrottleTest, CheckIsCheapWhileNothingIsBlocked) {
  LoginThrottle throttle;
  // Nothing failed recently: each check is one relaxed atomic load per table, no hashing.
  const auto start = std::chrono::steady_clock::now();
  std::size_t allowed = 0;
  for (int i = 0; i < 1000000; ++i) {
    allowed += throttle.Check("127.0.0.1", "reader", t0_ + std::chrono::nanoseconds(i)).allowed;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(allowed, 1000000U);
  // A relaxed atomic load per check: far below a microsecond each, even in sanitizer builds.
  EXPECT_LT(elapsed, seconds(2));
}

TEST_F(ThrottleTest, ConcurrentUseIsSafe) {
  LoginThrottle throttle(ThrottleLimits{.per_address = 3, .per_user = 3, .table_entries = 64});
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string address = "10.0." + std::to_string(t) + "." + std::to_string(i % 50);
        const std::string user = "user" + std::to_string(i % 70);
        const Clock::time_point now = t0_ + std::chrono::milliseconds(i);
        if (!throttle.Check(address, user, now).allowed) {
          refused.fetch_add(1);
        } else {
          throttle.RecordFailure(address, user, now);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_GT(refused.load(), 0);
}

}  // namespace
}  // namespace pydepot::auth
