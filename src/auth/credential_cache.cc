#include "auth/credential_cache.h"

#include <sodium.h>

#include <array>

#include "base/check.h"
#include "base/hash.h"

namespace pydepot::auth::internal {

CredentialCache::CredentialCache(Clock::duration ttl, std::size_t max_entries)
    : ttl_(ttl), max_entries_(max_entries), key_(RandomBytes(crypto_generichash_KEYBYTES)) {}

CredentialCache::~CredentialCache() = default;

std::string CredentialCache::Digest(std::string_view user, std::string_view password) const {
  crypto_generichash_state state;
  std::array<unsigned char, crypto_generichash_BYTES> out{};
  PYDEPOT_CHECK(crypto_generichash_init(&state, reinterpret_cast<const unsigned char*>(key_.data()),
                                        key_.size(), out.size()) == 0);
  // User names cannot contain NUL, so the separator makes the input unambiguous.
  const unsigned char separator = 0;
  PYDEPOT_CHECK(crypto_generichash_update(
                    &state, reinterpret_cast<const unsigned char*>(user.data()), user.size()) == 0);
  PYDEPOT_CHECK(crypto_generichash_update(&state, &separator, 1) == 0);
  PYDEPOT_CHECK(crypto_generichash_update(&state,
                                          reinterpret_cast<const unsigned char*>(password.data()),
                                          password.size()) == 0);
  PYDEPOT_CHECK(crypto_generichash_final(&state, out.data(), out.size()) == 0);
  sodium_memzero(&state, sizeof(state));
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

std::optional<Role> CredentialCache::Lookup(std::string_view user, std::string_view password,
                                            std::string_view etag, Clock::time_point now) {
  if (max_entries_ == 0 || ttl_ <= Clock::duration::zero()) {
    return std::nullopt;
  }
  const std::string digest = Digest(user, password);
  std::lock_guard lock(mu_);
  auto found = by_user_.find(user);
  if (found == by_user_.end()) {
    return std::nullopt;
  }
  const Entry& entry = *found->second;
  if (now >= entry.expires || entry.etag != etag) {
    EraseLocked(found->second);
    return std::nullopt;
  }
  // A wrong password leaves the entry alone, so guessing cannot evict a real user's entry.
  if (!ConstantTimeEquals(digest, entry.digest)) {
    return std::nullopt;
  }
  return entry.role;
}

void CredentialCache::Insert(std::string_view user, std::string_view password, Role role,
                             std::string_view etag, Clock::time_point now) {
  if (max_entries_ == 0 || ttl_ <= Clock::duration::zero()) {
    return;
  }
  std::string digest = Digest(user, password);
  std::lock_guard lock(mu_);
  if (auto found = by_user_.find(user); found != by_user_.end()) {
    EraseLocked(found->second);
  }
  // Every entry lives for the same TTL, so the oldest expire first.
  while (!entries_.empty() &&
         (entries_.front().expires <= now || entries_.size() >= max_entries_)) {
    EraseLocked(entries_.begin());
  }
  entries_.push_back(
      Entry{std::string(user), std::move(digest), role, std::string(etag), now + ttl_});
  auto it = std::prev(entries_.end());
  by_user_.emplace(it->user, it);
}

void CredentialCache::Clear() {
  std::lock_guard lock(mu_);
  by_user_.clear();
  entries_.clear();
}

std::size_t CredentialCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void CredentialCache::EraseLocked(EntryList::iterator it) {
  by_user_.erase(it->user);
  entries_.erase(it);
}

}  // namespace pydepot::auth::internal
