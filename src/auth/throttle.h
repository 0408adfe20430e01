// Brute-force throttling of password checks, per client address and per user name. Thread-safe.
//
// Each key (a client address, or a user name) has a rate limit of `limit` failed checks per
// `window`, kept as a GCRA ("generic cell rate algorithm") cell: one timestamp per key, the
// "theoretical arrival time" (tat). A failure moves tat to max(tat, now) + window / limit; a key
// is blocked while tat - now > window - window / limit. So a burst of `limit` failures is allowed,
// then one more every window / limit, which is exactly "at most `limit` failures in any window".
// Successes are never recorded. Check tells whether a check may run and, if not, when it may.
//
// Memory is fixed at construction: each kind of key has a table of `table_entries` slots in
// buckets of 8, indexed by a keyed hash (SipHash with a random per-process key, so nobody can
// aim keys at one bucket). A new key takes the bucket's slot with the oldest tat, that is the
// key with the fewest recent failures: a flood of new keys (random addresses or user names, one
// failure each) displaces other single failures, never a key that has reached its limit unless
// every slot of its bucket holds a key at least as far over.
//
// Addresses are grouped the way one client usually holds them: an IPv4 address alone (an
// IPv4-mapped IPv6 address counts as that IPv4 address), an IPv6 address by its /64 prefix.
// Anything else (a name) is used as it is.
//
// Check costs one relaxed atomic load while no key is blocked; only then does it hash and look.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pydepot::auth {

struct ThrottleLimits {
  int per_address = 10;  // failed checks per window from one client address; 0: unlimited
  int per_user = 5;      // failed checks per window for one user name; 0: unlimited
  std::chrono::seconds window{60};
  std::size_t table_entries = 16384;  // slots per table (address, user); rounded up to 8
};

// The client an address stands for, as bytes: an IPv4 address (also IPv4-mapped IPv6), an IPv6
// address's /64 prefix; anything that is not an address, as it is. For per-client limits.
std::string AddressGroup(std::string_view address);

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // REQUIRES: InitCrypto() succeeded (the hash key is random).
  explicit LoginThrottle(ThrottleLimits limits = {});
  LoginThrottle(const LoginThrottle&) = delete;
  LoginThrottle& operator=(const LoginThrottle&) = delete;
  LoginThrottle(LoginThrottle&&) = delete;
  LoginThrottle& operator=(LoginThrottle&&) = delete;
  ~LoginThrottle();

  struct Verdict {
    bool allowed = true;
    bool by_address = false;             // when refused: the address's limit (else the user's)
    std::chrono::seconds retry_after{};  // when refused: whole seconds until a check may run
  };
  // Whether a password check for `user` from `address` may run at `now`.
  Verdict Check(std::string_view address, std::string_view user, Clock::time_point now) const;

  // A password check for `user` from `address` failed at `now`.
  void RecordFailure(std::string_view address, std::string_view user, Clock::time_point now);

  // Bytes held by the tables: fixed at construction, whatever is recorded.
  std::size_t MemoryBytes() const;

  const ThrottleLimits& limits() const { return limits_; }

 private:
  class Table;
  const ThrottleLimits limits_;
  const std::string key_;  // SipHash key
  std::unique_ptr<Table> addresses_;
  std::unique_ptr<Table> users_;
};

}  // namespace pydepot::auth
