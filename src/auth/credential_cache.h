// The verified-credential cache: pip sends credentials on every request, and an argon2id verify
// costs tens of milliseconds, so a user:password pair that verified is remembered for a while.
// Internal to src/auth. Thread-safe.
//
// Nothing secret is kept in the clear: an entry holds a keyed BLAKE2b digest of
// user + '\0' + password under a random per-process key, and a lookup compares digests in
// constant time. Entries are indexed by user name (one remembered password per user), carry the
// version of what they were verified against (the Authenticator passes the user's password hash,
// so a lookup after a password change misses), expire after a fixed TTL, and the oldest are
// evicted first once the cache is full.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/auth.h"

namespace pydepot::auth::internal {

class CredentialCache {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_entries` 0 or a zero `ttl` disable the cache. REQUIRES: InitCrypto() succeeded.
  CredentialCache(Clock::duration ttl, std::size_t max_entries);
  CredentialCache(const CredentialCache&) = delete;
  CredentialCache& operator=(const CredentialCache&) = delete;
  CredentialCache(CredentialCache&&) = delete;
  CredentialCache& operator=(CredentialCache&&) = delete;
  ~CredentialCache();

  // The role remembered for exactly this user and password, verified under `etag` (an opaque
  // version string) and not expired at `now`; nullopt otherwise.
  std::optional<Role> Lookup(std::string_view user, std::string_view password,
                             std::string_view etag, Clock::time_point now);

  // Remembers that `user`/`password` verified as `role` under `etag` at `now`, replacing any
  // entry for `user`.
  void Insert(std::string_view user, std::string_view password, Role role, std::string_view etag,
              Clock::time_point now);

  // Forgets every entry (the users document changed).
  void Clear();

  std::size_t size() const;

 private:
  struct Entry {
    std::string user;
    std::string digest;
    Role role;
    std::string etag;
    Clock::time_point expires;
  };
  using EntryList = std::list<Entry>;

  std::string Digest(std::string_view user, std::string_view password) const;
  void EraseLocked(EntryList::iterator it);

  const Clock::duration ttl_;
  const std::size_t max_entries_;
  const std::string key_;  // random BLAKE2b key, never leaves the process

  mutable std::mutex mu_;
  EntryList entries_;  // oldest first; guarded by mu_
  std::unordered_map<std::string_view, EntryList::iterator> by_user_;  // guarded by mu_
};

}  // namespace pydepot::auth::internal
