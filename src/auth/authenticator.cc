// Authenticator: the users document cached in memory and revalidated by etag, compare-and-swap
// updates of it, and the verified-credential cache in front of argon2id.
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "auth/credential_cache.h"
#include "auth/password_hash.h"
#include "auth/users_doc.h"
#include "base/hash.h"
#include "base/status_macros.h"
#include "storage/keys.h"

namespace pydepot::auth {
namespace {

using internal::CredentialCache;
using internal::UserRecord;
using internal::UsersDoc;
using SteadyClock = std::chrono::steady_clock;

// Compare-and-swap attempts per update before giving up with kUnavailable.
constexpr int kMaxUpdateAttempts = 20;

constexpr char kInvalidCredentials[] = "invalid credentials";

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Random sleep before retrying a lost compare-and-swap, so racing writers spread out.
void BackOff(int attempt) {
  const std::uint32_t cap_ms = std::min<std::uint32_t>(1U << std::min(attempt, 6), 50U);
  std::this_thread::sleep_for(std::chrono::milliseconds(randombytes_uniform(cap_ms + 1)));
}

// One version of the users document with the etag it was read under ("" when absent).
struct UsersVersion {
  std::shared_ptr<const UsersDoc> doc;
  std::string etag;
};

class AuthenticatorImpl final : public Authenticator {
 public:
  AuthenticatorImpl(storage::Storage& storage, const AuthenticatorOptions& options,
                    std::string dummy_hash)
      : storage_(storage),
        options_(options),
        users_key_(storage::UsersKey()),
        dummy_hash_(std::move(dummy_hash)),
        credentials_(options.credential_cache_ttl, options.credential_cache_size) {}

  StatusOr<Role> Authenticate(std::string_view user, std::string_view password) override;
  std::optional<StatusOr<Role>> AuthenticateCached(std::string_view user,
                                                   std::string_view password) override;
  Status AddUser(std::string_view name, std::string_view password, Role role) override;
  Status RemoveUser(std::string_view name) override;
  Status SetPassword(std::string_view name, std::string_view password) override;
  Status SetRole(std::string_view name, Role role) override;
  StatusOr<std::vector<UserInfo>> ListUsers() override;
  StatusOr<bool> NoUsers() override;

 private:
  // The users document, from memory while it is younger than users_ttl, else revalidated.
  StatusOr<UsersVersion> CurrentUsers();
  // Reads the document from the store (an absent one is empty).
  StatusOr<UsersVersion> ReadUsers();
  // Read-modify-write of the document by compare-and-swap; `mutate` may run several times.
  Status UpdateUsers(const std::function<Status(UsersDoc&)>& mutate);
  // Makes `version` (read under `generation`) the cached document, dropping remembered
  // credentials if it changed; skipped if another install or an invalidation came in between, so a
  // slow read cannot replace a newer document with an older one.
  void Install(UsersVersion version, std::uint64_t generation);
  // After this instance wrote the document: forget credentials and revalidate on the next
  // request. The written version is not installed directly, because two racing writers of this
  // instance could install theirs out of order; a re-read is always at least as new.
  void Invalidate();
  internal::PasswordHashCost Cost() const {
    return {options_.argon2_ops_limit, options_.argon2_mem_limit};
  }

  storage::Storage& storage_;
  const AuthenticatorOptions options_;
  const std::string users_key_;
  // Verified against when the user does not exist, so both cases cost one argon2id verify.
  const std::string dummy_hash_;
  CredentialCache credentials_;

  std::mutex mu_;
  UsersVersion users_;               // guarded by mu_; doc null until first loaded
  SteadyClock::time_point checked_;  // guarded by mu_: when users_ was last known current
  bool stale_ = false;               // guarded by mu_: revalidate now, whatever checked_ says
  std::uint64_t generation_ = 0;     // guarded by mu_: bumped by every Install and Invalidate
};

StatusOr<Role> AuthenticatorImpl::Authenticate(std::string_view user, std::string_view password) {
  // Names that cannot exist and oversized passwords are refused without hashing; that reveals
  // nothing about which users exist.
  if (!internal::ValidateUserName(user).ok() || password.empty() ||
      password.size() > internal::kMaxPasswordLength) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, CurrentUsers());
  if (std::optional<Role> role =
          credentials_.Lookup(user, password, users.etag, SteadyClock::now())) {
    return *role;
  }
  const UserRecord* record = internal::FindUser(*users.doc, user);
  if (record == nullptr) {
    (void)internal::VerifyPassword(dummy_hash_, password);
    return UnauthenticatedError(kInvalidCredentials);
  }
  if (!internal::VerifyPassword(record->hash, password)) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  credentials_.Insert(user, password, record->role, users.etag, SteadyClock::now());
  return record->role;
}

Status AuthenticatorImpl::AddUser(std::string_view name, std::string_view password, Role role) {
  PYDEPOT_RETURN_IF_ERROR(internal::ValidateUserName(name));
  PYDEPOT_RETURN_IF_ERROR(internal::ValidatePassword(password));
  // Hash once, outside the retry loop: it is the expensive part.
  PYDEPOT_ASSIGN_OR_RETURN(std::string hash, internal::HashPassword(password, Cost()));
  const std::int64_t created = NowMicros();
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    if (internal::FindUser(doc, name) != nullptr) {
      return AlreadyExistsError("user " + std::string(name) + ": already exists");
    }
    doc.users.push_back(UserRecord{std::string(name), role, hash, created});
    return OkStatus();
  });
}

Status AuthenticatorImpl::RemoveUser(std::string_view name) {
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    auto it = std::find_if(doc.users.begin(), doc.users.end(),
                           [&](const UserRecord& user) { return user.name == name; });
    if (it == doc.users.end()) {
      return NotFoundError("user " + std::string(name) + ": no such user");
    }
    doc.users.erase(it);
    return OkStatus();
  });
}

Status AuthenticatorImpl::SetPassword(std::string_view name, std::string_view password) {
  PYDEPOT_RETURN_IF_ERROR(internal::ValidatePassword(password));
  PYDEPOT_ASSIGN_OR_RETURN(std::string hash, internal::HashPassword(password, Cost()));
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    UserRecord* user = internal::FindUser(doc, name);
    if (user == nullptr) {
      return NotFoundError("user " + std::string(name) + ": no such user");
    }
    user->hash = hash;
    return OkStatus();
  });
}

Status AuthenticatorImpl::SetRole(std::string_view name, Role role) {
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    UserRecord* user = internal::FindUser(doc, name);
    if (user == nullptr) {
      return NotFoundError("user " + std::string(name) + ": no such user");
    }
    user->role = role;
    return OkStatus();
  });
}

StatusOr<std::vector<UserInfo>> AuthenticatorImpl::ListUsers() {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  std::vector<UserInfo> infos;
  infos.reserve(users.doc->users.size());
  for (const UserRecord& user : users.doc->users) {
    infos.push_back(UserInfo{user.name, user.role, user.created_micros});
  }
  std::sort(infos.begin(), infos.end(),
            [](const UserInfo& a, const UserInfo& b) { return a.name < b.name; });
  return infos;
}

StatusOr<bool> AuthenticatorImpl::NoUsers() {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  return users.doc->users.empty();
}

std::optional<StatusOr<Role>> AuthenticatorImpl::AuthenticateCached(std::string_view user,
                                                                    std::string_view password) {
  if (!internal::ValidateUserName(user).ok() || password.empty() ||
      password.size() > internal::kMaxPasswordLength) {
    return StatusOr<Role>(UnauthenticatedError(kInvalidCredentials));
  }
  std::string etag;
  const SteadyClock::time_point now = SteadyClock::now();
  {
    std::lock_guard lock(mu_);
    if (users_.doc == nullptr || stale_ || now - checked_ >= options_.users_ttl) {
      return std::nullopt;
    }
    etag = users_.etag;
  }
  if (std::optional<Role> role = credentials_.Lookup(user, password, etag, now)) {
    return StatusOr<Role>(*role);
  }
  // Not remembered: only an argon2id verify can tell (and a wrong password must cost as much as
  // a right one), so this is not answered from memory.
  return std::nullopt;
}

StatusOr<UsersVersion> AuthenticatorImpl::CurrentUsers() {
  UsersVersion cached;
  std::uint64_t generation = 0;
  const SteadyClock::time_point now = SteadyClock::now();
  {
    std::lock_guard lock(mu_);
    if (users_.doc != nullptr && !stale_ && now - checked_ < options_.users_ttl) {
      return users_;
    }
    cached = users_;
    generation = generation_;
  }
  // Storage calls run unlocked so one slow store round trip does not serialise every request.
  if (cached.doc != nullptr) {
    StatusOr<storage::ObjectInfo> head = storage_.Head(users_key_);
    bool unchanged = false;
    if (head.has_value()) {
      unchanged = head->etag == cached.etag;
    } else if (head.error().code() == StatusCode::kNotFound) {
      unchanged = cached.etag.empty();
    } else {
      return head.error();
    }
    if (unchanged) {
      std::lock_guard lock(mu_);
      if (generation_ == generation) {
        checked_ = now;
        stale_ = false;
      }
      return cached;
    }
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion fresh, ReadUsers());
  Install(fresh, generation);
  return fresh;
}

StatusOr<UsersVersion> AuthenticatorImpl::ReadUsers() {
  StatusOr<storage::Object> object = storage_.Get(users_key_);
  if (!object.has_value()) {
    if (object.error().code() == StatusCode::kNotFound) {
      return UsersVersion{std::make_shared<const UsersDoc>(), ""};
    }
    return object.error();
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersDoc doc, internal::ParseUsersDoc(object->data));
  return UsersVersion{std::make_shared<const UsersDoc>(std::move(doc)), object->info.etag};
}

Status AuthenticatorImpl::UpdateUsers(const std::function<Status(UsersDoc&)>& mutate) {
  for (int attempt = 0; attempt < kMaxUpdateAttempts; ++attempt) {
    if (attempt > 0) {
      BackOff(attempt);
    }
    PYDEPOT_ASSIGN_OR_RETURN(UsersVersion current, ReadUsers());
    UsersDoc doc = *current.doc;
    PYDEPOT_RETURN_IF_ERROR(mutate(doc));
    StatusOr<storage::ObjectInfo> put =
        storage_.PutIfMatch(users_key_, internal::SerializeUsersDoc(doc), current.etag);
    if (put.has_value()) {
      Invalidate();
      return OkStatus();
    }
    if (put.error().code() != StatusCode::kFailedPrecondition) {
      Invalidate();  // the write may have landed (a timeout, say): re-read before trusting memory
      return put.error();
    }
  }
  return UnavailableError(users_key_ + ": too many concurrent updates, gave up after " +
                          std::to_string(kMaxUpdateAttempts) + " attempts");
}

void AuthenticatorImpl::Install(UsersVersion version, std::uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_) {
    return;
  }
  if (users_.doc == nullptr || version.etag != users_.etag) {
    credentials_.Clear();
  }
  users_ = std::move(version);
  checked_ = SteadyClock::now();
  stale_ = false;
  ++generation_;
}

void AuthenticatorImpl::Invalidate() {
  std::lock_guard lock(mu_);
  credentials_.Clear();
  stale_ = true;
  ++generation_;
}

}  // namespace

StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(storage::Storage& storage,
                                                               AuthenticatorOptions options) {
  PYDEPOT_RETURN_IF_ERROR(InitCrypto());
  // A hash of a random password nobody knows, with the configured cost, so an unknown user
  // costs the same verify as a known one.
  PYDEPOT_ASSIGN_OR_RETURN(
      std::string dummy_hash,
      internal::UnmatchableHash({options.argon2_ops_limit, options.argon2_mem_limit}));
  return std::make_unique<AuthenticatorImpl>(storage, options, std::move(dummy_hash));
}

}  // namespace pydepot::auth
