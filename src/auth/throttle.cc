#include "auth/throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "base/check.h"
#include "base/hash.h"

namespace pydepot::auth {
namespace {

std::int64_t Nanos(LoginThrottle::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// One kind of key: a fixed array of GCRA cells in buckets of kWays, locked by shards.
class LoginThrottle::Table {
 public:
  Table(int limit, std::chrono::seconds window, std::size_t entries)
      : limit_(std::max(0, limit)),
        interval_(limit_ > 0
                      ? std::chrono::duration_cast<std::chrono::nanoseconds>(window).count() /
                            limit_
                      : 0),
        tolerance_(limit_ > 0
                       ? std::chrono::duration_cast<std::chrono::nanoseconds>(window).count() -
                             interval_
                       : 0),
        buckets_(limit_ > 0 ? std::max<std::size_t>(1, (entries + kWays - 1) / kWays) : 0),
        slots_(buckets_ * kWays) {}

  bool enabled() const { return limit_ > 0 && interval_ > 0; }

  // False when no key can be blocked at `now` (the common case: one atomic load, no hashing).
  bool MayBlock(std::int64_t now) const {
    return enabled() && now < hot_until_.load(std::memory_order_relaxed);
  }

  // Nanoseconds until `key` may fail once more (0: now).
  std::int64_t BlockedFor(std::uint64_t key, std::int64_t now) const {
    if (!MayBlock(now)) {
      return 0;
    }
    const std::size_t bucket = key % buckets_;
    std::lock_guard lock(locks_[bucket % kLocks]);
    for (std::size_t i = 0; i < kWays; ++i) {
      const Slot& slot = slots_[bucket * kWays + i];
      if (slot.key == key) {
        return std::max<std::int64_t>(0, slot.tat - tolerance_ - now);
      }
    }
    return 0;
  }

  void Record(std::uint64_t key, std::int64_t now) {
    if (!enabled()) {
      return;
    }
    const std::size_t bucket = key % buckets_;
    std::int64_t tat = 0;
    {
      std::lock_guard lock(locks_[bucket % kLocks]);
      Slot* target = nullptr;
      Slot* emptiest = nullptr;
      for (std::size_t i = 0; i < kWays; ++i) {
        Slot& slot = slots_[bucket * kWays + i];
        if (slot.key == key) {
          target = &slot;
          break;
        }
        if (emptiest == nullptr || slot.tat < emptiest->tat) {
          emptiest = &slot;
        }
      }
      if (target == nullptr) {
        // The slot with the oldest tat: a free one (tat 0), an expired one, or the key with the
        // fewest recent failures.
        target = emptiest;
        target->key = key;
        target->tat = 0;
      }
      target->tat = std::max(target->tat, now) + interval_;
      tat = target->tat;
    }
    // From now until tat - tolerance this key may be blocked: Check must look until then.
    const std::int64_t until = tat - tolerance_;
    std::int64_t seen = hot_until_.load(std::memory_order_relaxed);
    while (seen < until &&
           !hot_until_.compare_exchange_weak(seen, until, std::memory_order_relaxed)) {
    }
  }

  std::size_t MemoryBytes() const { return sizeof(*this) + slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint64_t key = 0;  // keyed hash; 0: free
    std::int64_t tat = 0;   // theoretical arrival time, steady-clock nanoseconds
  };
  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kLocks = 64;

  const int limit_;
  const std::int64_t interval_;   // window / limit
  const std::int64_t tolerance_;  // window - interval: how far tat may run ahead of now
  const std::size_t buckets_;
  std::vector<Slot> slots_;
  mutable std::array<std::mutex, kLocks> locks_;
  // No key is blocked at or after this time (the latest tat - tolerance ever recorded).
  std::atomic<std::int64_t> hot_until_{0};
};

namespace {

std::uint64_t KeyedHash(std::string_view key, const void* bytes, std::size_t size) {
  std::array<unsigned char, crypto_shorthash_BYTES> out{};
  crypto_shorthash(out.data(), static_cast<const unsigned char*>(bytes), size,
                   reinterpret_cast<const unsigned char*>(key.data()));
  std::uint64_t value = 0;
  std::memcpy(&value, out.data(), sizeof(value));
  return value == 0 ? 1 : value;  // 0 marks a free slot
}

// Writes the bytes of the client `address` stands for into `out`; their length, or 0 when it is
// not an address.
std::size_t GroupBytes(std::string_view address, std::array<unsigned char, 16>& out) {
  std::array<char, INET6_ADDRSTRLEN + 1> text{};
  if (address.size() >= text.size()) {
    return 0;
  }
  std::memcpy(text.data(), address.data(), address.size());
  if (::inet_pton(AF_INET, text.data(), out.data()) == 1) {
    return 4;
  }
  if (::inet_pton(AF_INET6, text.data(), out.data()) == 1) {
    static constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                              0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped.begin(), kMapped.end(), out.begin())) {
      std::memmove(out.data(), out.data() + 12, 4);
      return 4;
    }
    return 8;
  }
  return 0;
}

// The hash of the client an address stands for: IPv4 alone, IPv6 by its /64.
std::uint64_t AddressHash(std::string_view key, std::string_view address) {
  std::array<unsigned char, 16> bytes{};
  if (const std::size_t n = GroupBytes(address, bytes); n > 0) {
    return KeyedHash(key, bytes.data(), n);
  }
  return KeyedHash(key, address.data(), address.size());
}

}  // namespace

std::string AddressGroup(std::string_view address) {
  std::array<unsigned char, 16> bytes{};
  if (const std::size_t n = GroupBytes(address, bytes); n > 0) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), n);
  }
  return std::string(address);
}

LoginThrottle::LoginThrottle(ThrottleLimits limits)
    : limits_(limits),
      key_(RandomBytes(crypto_shorthash_KEYBYTES)),
      addresses_(std::make_unique<Table>(limits.per_address, limits.window, limits.table_entries)),
      users_(std::make_unique<Table>(limits.per_user, limits.window, limits.table_entries)) {
  PYDEPOT_CHECK(key_.size() == crypto_shorthash_KEYBYTES);
}

LoginThrottle::~LoginThrottle() = default;

LoginThrottle::Verdict LoginThrottle::Check(std::string_view address, std::string_view user,
                                            Clock::time_point now) const {
  const std::int64_t t = Nanos(now);
  std::int64_t by_address = 0;
  std::int64_t by_user = 0;
  if (addresses_->MayBlock(t)) {
    by_address = addresses_->BlockedFor(AddressHash(key_, address), t);
  }
  if (users_->MayBlock(t)) {
    by_user = users_->BlockedFor(KeyedHash(key_, user.data(), user.size()), t);
  }
  Verdict verdict;
  const std::int64_t wait = std::max(by_address, by_user);
  if (wait > 0) {
    verdict.allowed = false;
    verdict.by_address = by_address >= by_user;
    constexpr std::int64_t kSecond = 1000000000;
    verdict.retry_after = std::chrono::seconds((wait + kSecond - 1) / kSecond);
  }
  return verdict;
}

void LoginThrottle::RecordFailure(std::string_view address, std::string_view user,
                                  Clock::time_point now) {
  const std::int64_t t = Nanos(now);
  if (addresses_->enabled()) {
    addresses_->Record(AddressHash(key_, address), t);
  }
  if (users_->enabled()) {
    users_->Record(KeyedHash(key_, user.data(), user.size()), t);
  }
}

std::size_t LoginThrottle::MemoryBytes() const {
  return addresses_->MemoryBytes() + users_->MemoryBytes();
}

}  // namespace pydepot::auth
