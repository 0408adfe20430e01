// Authenticator: the users document cached in memory and revalidated by etag, compare-and-swap
// updates of it, the verified-credential cache in front of argon2id, API tokens (SHA-256 of a
// random secret, checked from memory) and signed browser sessions.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "auth/credential_cache.h"
#include "auth/password_hash.h"
#include "auth/users_doc.h"
#include "base/check.h"
#include "base/hash.h"
#include "base/status_macros.h"
#include "storage/keys.h"

namespace pydepot::auth {
namespace {

using internal::CredentialCache;
using internal::TokenRecord;
using internal::UserRecord;
using internal::UsersDoc;
using SteadyClock = std::chrono::steady_clock;

// Compare-and-swap attempts per update before giving up with kUnavailable.
constexpr int kMaxUpdateAttempts = 20;

constexpr char kInvalidCredentials[] = "invalid credentials";
constexpr char kSessionEnded[] = "session expired or ended";

// The token text: "pydepot-<16 hex id>-<64 hex secret>".
constexpr std::string_view kTokenPrefix = "pydepot-";
constexpr std::size_t kTokenTextLength =
    kTokenPrefix.size() + internal::kTokenIdLength + 1 + internal::kTokenSecretLength;

constexpr std::size_t kSessionKeyBytes = crypto_auth_hmacsha256_KEYBYTES;
// Base64url without padding of an HMAC-SHA256.
constexpr std::size_t kMacTextLength = (crypto_auth_hmacsha256_BYTES * 4 + 2) / 3;
// Longest session lifetime StartSession accepts (keeps expiry arithmetic far from overflow).
constexpr std::chrono::seconds kMaxSessionLifetime = std::chrono::hours(24 * 366 * 10);

std::int64_t SystemNowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view AsChars(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

const unsigned char* AsBytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// Equal length and bytes, compared in constant time (libsodium).
bool SecretEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Sha256(std::string_view bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256(out.data(), AsBytes(bytes), bytes.size());
  return std::string(AsChars(out.data(), out.size()));
}

// The stored form of a token secret: SHA-256 of its hex text, in lowercase hex.
std::string TokenSecretHash(std::string_view secret_hex) { return HexEncode(Sha256(secret_hex)); }

std::string HmacSha256(std::string_view key, std::string_view message) {
  PYDEPOT_CHECK(key.size() == crypto_auth_hmacsha256_KEYBYTES);
  std::array<unsigned char, crypto_auth_hmacsha256_BYTES> out{};
  crypto_auth_hmacsha256(out.data(), AsBytes(message), message.size(), AsBytes(key));
  return std::string(AsChars(out.data(), out.size()));
}

std::string Base64Url(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), AsBytes(bytes), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// Random sleep before retrying a lost compare-and-swap, so racing writers spread out.
void BackOff(int attempt) {
  const std::uint32_t cap_ms = std::min<std::uint32_t>(1U << std::min(attempt, 6), 50U);
  std::this_thread::sleep_for(std::chrono::milliseconds(randombytes_uniform(cap_ms + 1)));
}

Status ValidateAccountRole(Role role, const std::vector<std::string>& upload_projects) {
  if (role != Role::kRead && role != Role::kUpload && role != Role::kAdmin) {
    return InvalidArgumentError("role: must be read, upload or admin");
  }
  if (!upload_projects.empty() && role != Role::kUpload) {
    return InvalidArgumentError(
        "upload projects: only a user with the upload role can be limited to projects");
  }
  return OkStatus();
}

std::string JoinProjects(const std::vector<std::string>& projects) {
  std::string out;
  for (const std::string& project : projects) {
    out += (out.empty() ? "" : ", ") + project;
  }
  return out;
}

// One parsed version of the users document, with lookups by user name and token id built once.
class UsersSnapshot {
 public:
  // `cost`: the configured cost of new hashes (for the unknown-user check, UnknownUserHash).
  UsersSnapshot(UsersDoc doc, internal::PasswordHashCost cost) : doc_(std::move(doc)) {
    users_.reserve(doc_.users.size());
    std::vector<std::string_view> hashes;
    hashes.reserve(doc_.users.size());
    for (const UserRecord& user : doc_.users) {
      users_.emplace(user.name, &user);
      hashes.emplace_back(user.hash);
    }
    tokens_.reserve(doc_.tokens.size());
    for (const TokenRecord& token : doc_.tokens) {
      tokens_.emplace(token.info.id, &token);
    }
    const internal::PasswordHashCost dearest = internal::UnknownUserCost(cost, hashes);
    if (dearest != internal::MaxCost(cost, cost)) {
      if (StatusOr<std::string> hash = internal::UnmatchableHash(dearest); hash.has_value()) {
        unknown_user_hash_ = *std::move(hash);
      }
    }
  }
  UsersSnapshot(const UsersSnapshot&) = delete;
  UsersSnapshot& operator=(const UsersSnapshot&) = delete;

  const UsersDoc& doc() const { return doc_; }
  const UserRecord* User(std::string_view name) const {
    auto it = users_.find(name);
    return it == users_.end() ? nullptr : it->second;
  }
  const TokenRecord* Token(std::string_view id) const {
    auto it = tokens_.find(id);
    return it == tokens_.end() ? nullptr : it->second;
  }
  // What a password for a user not in the document is checked against: `configured` (an
  // unmatchable hash of the configured cost) unless a stored hash costs more.
  const std::string& UnknownUserHash(const std::string& configured) const {
    return unknown_user_hash_.empty() ? configured : unknown_user_hash_;
  }

 private:
  std::string unknown_user_hash_;  // "" when the configured cost is the dearest
  const UsersDoc doc_;
  std::unordered_map<std::string_view, const UserRecord*> users_;    // keys point into doc_
  std::unordered_map<std::string_view, const TokenRecord*> tokens_;  // keys point into doc_
};

// One version of the users document with the etag it was read under ("" when absent).
struct UsersVersion {
  std::shared_ptr<const UsersSnapshot> doc;
  std::string etag;
};

// What an account may do by itself (a password or a session).
Access UserAccess(const UserRecord& user) {
  Access access;
  access.user = user.name;
  if (user.role == Role::kUpload && !user.upload_projects.empty()) {
    access.everywhere = Role::kRead;
    for (const std::string& project : user.upload_projects) {
      access.per_project.emplace(project, Role::kUpload);
    }
  } else {
    access.everywhere = user.role;
  }
  return access;
}

// Records `role` for `project` unless it is what applies everywhere anyway, so an Access whose
// projects all have the same role is Uniform().
void SetProjectRole(Access& access, const std::string& project, Role role) {
  if (role != access.everywhere) {
    access.per_project.emplace(project, role);
  }
}

// What a token may do: its scope, on its projects when it names some, never more than `owner`.
Access TokenAccess(const TokenRecord& token, const UserRecord& owner) {
  const Access own = UserAccess(owner);
  const Role scope = token.info.scope;
  Access access;
  access.user = owner.name;
  access.token_id = token.info.id;
  if (token.info.projects.empty()) {
    access.everywhere = std::min(own.everywhere, scope);
    for (const auto& [project, role] : own.per_project) {
      SetProjectRole(access, project, std::min(role, scope));
    }
  } else {
    access.everywhere = Role::kNone;
    for (const std::string& project : token.info.projects) {
      SetProjectRole(access, project, std::min(own.On(project), scope));
    }
  }
  return access;
}

struct TokenText {
  std::string_view id;
  std::string_view secret;
};

std::optional<TokenText> SplitTokenText(std::string_view text) {
  if (text.size() != kTokenTextLength || text.substr(0, kTokenPrefix.size()) != kTokenPrefix ||
      text[kTokenPrefix.size() + internal::kTokenIdLength] != '-') {
    return std::nullopt;
  }
  TokenText parts{text.substr(kTokenPrefix.size(), internal::kTokenIdLength),
                  text.substr(kTokenPrefix.size() + internal::kTokenIdLength + 1)};
  if (!internal::IsTokenId(parts.id) || !IsLowerHex(parts.secret)) {
    return std::nullopt;
  }
  return parts;
}

// The rights of the token `text` in `users` at `now_micros`; "invalid credentials" when it is
// malformed, unknown, wrong, expired, or its account is gone. SHA-256 only: no argon2id.
StatusOr<Access> CheckToken(const UsersSnapshot& users, std::string_view text,
                            std::int64_t now_micros) {
  const std::optional<TokenText> parts = SplitTokenText(text);
  if (!parts.has_value()) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  // Hashed before the lookup, so an unknown id costs what a known one does.
  const std::string hash = TokenSecretHash(parts->secret);
  const TokenRecord* token = users.Token(parts->id);
  if (token == nullptr || !SecretEquals(hash, token->hash)) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  if (token->info.expires_micros != 0 && now_micros >= token->info.expires_micros) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  const UserRecord* owner = users.User(token->info.user);
  if (owner == nullptr) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  return TokenAccess(*token, *owner);
}

// A session cookie value "<user>.<expiry seconds>.<mac>", split at its last two dots.
struct SessionCookie {
  std::string_view user;
  std::int64_t expiry = 0;
  std::string_view mac;
};

std::optional<SessionCookie> ParseSessionCookie(std::string_view value) {
  if (value.size() > internal::kMaxUserNameLength + 21 + kMacTextLength) {
    return std::nullopt;
  }
  const std::size_t last = value.rfind('.');
  if (last == std::string_view::npos || last == 0) {
    return std::nullopt;
  }
  const std::size_t middle = value.rfind('.', last - 1);
  if (middle == std::string_view::npos) {
    return std::nullopt;
  }
  SessionCookie cookie;
  cookie.user = value.substr(0, middle);
  const std::string_view expiry = value.substr(middle + 1, last - middle - 1);
  cookie.mac = value.substr(last + 1);
  if (!internal::ValidateUserName(cookie.user).ok() || cookie.mac.size() != kMacTextLength ||
      expiry.empty() || expiry.size() > 18 ||
      !std::all_of(expiry.begin(), expiry.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::from_chars(expiry.data(), expiry.data() + expiry.size(), cookie.expiry);
  return cookie;
}

// The MAC of a session of `user` until `expiry`: it covers the user's session epoch and a
// fingerprint of its password hash and role, so changing any of them ends the session.
std::string SessionMac(std::string_view key, const UserRecord& user, std::int64_t expiry) {
  std::string fingerprint_input = "pydepot-user-fingerprint";
  fingerprint_input += '\0';
  fingerprint_input += user.hash;
  fingerprint_input += '\0';
  fingerprint_input += RoleName(user.role);
  std::string message = "pydepot-session-v1";
  message += '\0';
  message += user.name;
  message += '\0';
  message += std::to_string(expiry);
  message += '\0';
  message += std::to_string(user.session_epoch);
  message += '\0';
  message += Sha256(fingerprint_input);
  return Base64Url(HmacSha256(key, message));
}

StatusOr<Access> CheckSession(const UsersSnapshot& users, std::string_view key,
                              std::string_view cookie_value, std::int64_t now_micros) {
  const std::optional<SessionCookie> cookie = ParseSessionCookie(cookie_value);
  if (!cookie.has_value() || now_micros / 1000000 >= cookie->expiry) {
    return UnauthenticatedError(kSessionEnded);
  }
  const UserRecord* user = users.User(cookie->user);
  if (user == nullptr || !SecretEquals(SessionMac(key, *user, cookie->expiry), cookie->mac)) {
    return UnauthenticatedError(kSessionEnded);
  }
  Access access = UserAccess(*user);
  access.session = true;
  return access;
}

class AuthenticatorImpl final : public Authenticator {
 public:
  AuthenticatorImpl(storage::Storage& storage, AuthenticatorOptions options, std::string dummy_hash)
      : storage_(storage),
        options_(std::move(options)),
        users_key_(storage::UsersKey()),
        session_key_key_(storage::SessionKeyKey()),
        dummy_hash_(std::move(dummy_hash)),
        credentials_(options_.credential_cache_ttl, options_.credential_cache_size) {}

  StatusOr<Access> Authenticate(std::string_view user, std::string_view password) override;
  std::optional<StatusOr<Access>> AuthenticateCached(std::string_view user,
                                                     std::string_view password) override;
  StatusOr<std::string> StartSession(std::string_view user, std::string_view password,
                                     std::chrono::seconds lifetime) override;
  StatusOr<Access> AuthenticateSession(std::string_view cookie_value) override;
  std::optional<StatusOr<Access>> AuthenticateSessionCached(std::string_view cookie_value) override;
  StatusOr<std::string> CsrfToken(std::string_view cookie_value) override;
  Status EndSessions(std::string_view user) override;
  Status AddUser(std::string_view name, std::string_view password, Role role,
                 std::vector<std::string> upload_projects) override;
  Status RemoveUser(std::string_view name) override;
  Status SetPassword(std::string_view name, std::string_view password) override;
  Status SetRole(std::string_view name, Role role,
                 std::vector<std::string> upload_projects) override;
  StatusOr<std::vector<UserInfo>> ListUsers() override;
  StatusOr<bool> NoUsers() override;
  StatusOr<NewToken> CreateToken(std::string_view user, std::string_view name, Role scope,
                                 std::vector<std::string> projects,
                                 std::int64_t expires_micros) override;
  StatusOr<std::vector<TokenInfo>> ListTokens(std::string_view user) override;
  StatusOr<TokenInfo> GetToken(std::string_view id) override;
  Status RevokeToken(std::string_view id) override;

 private:
  struct Verified {
    UsersVersion users;        // the document the password was checked against
    const UserRecord* record;  // points into users.doc
  };

  std::int64_t Now() const {
    return options_.now_micros ? options_.now_micros() : SystemNowMicros();
  }
  // Checks a password (not a token) against the current document: the argon2id path with the
  // credential cache in front.
  StatusOr<Verified> VerifyUserPassword(std::string_view user, std::string_view password);
  // The users document, from memory while it is younger than users_ttl, else revalidated.
  StatusOr<UsersVersion> CurrentUsers();
  // The users document when memory has a fresh one; nullopt when it is due for a check.
  std::optional<UsersVersion> FreshUsers();
  // Reads the document from the store (an absent one is empty).
  StatusOr<UsersVersion> ReadUsers();
  // Read-modify-write of the document by compare-and-swap; `mutate` may run several times.
  Status UpdateUsers(const std::function<Status(UsersDoc&)>& mutate);
  // Makes `version` (read under `generation`) the cached document; skipped if another install or
  // an invalidation came in between, so a slow read cannot replace a newer document with an older
  // one. Remembered credentials stay: each is tied to the password hash it was verified against,
  // so only a change of that user's password (or its removal) makes it miss.
  void Install(UsersVersion version, std::uint64_t generation);
  // After this instance wrote the document: revalidate on the next request. The written version is
  // not installed directly, because two racing writers of this instance could install theirs out of
  // order; a re-read is always at least as new.
  void Invalidate();
  // The session key: from memory once read; else read from the store, and created there
  // (create-only) when absent and `create` is true. nullopt when absent and not created.
  StatusOr<std::optional<std::string>> SessionKey(bool create);
  std::optional<std::string> CachedSessionKey();
  internal::PasswordHashCost Cost() const {
    return {options_.argon2_ops_limit, options_.argon2_mem_limit};
  }

  storage::Storage& storage_;
  const AuthenticatorOptions options_;
  const std::string users_key_;
  const std::string session_key_key_;
  // Verified against when the user does not exist, so both cases cost one argon2id verify.
  const std::string dummy_hash_;
  CredentialCache credentials_;

  std::mutex mu_;
  UsersVersion users_;               // guarded by mu_; doc null until first loaded
  SteadyClock::time_point checked_;  // guarded by mu_: when users_ was last known current
  bool stale_ = false;               // guarded by mu_: revalidate now, whatever checked_ says
  std::uint64_t generation_ = 0;     // guarded by mu_: bumped by every Install and Invalidate

  std::mutex key_mu_;
  std::string session_key_;  // guarded by key_mu_; empty until read (it never changes after)
};

StatusOr<AuthenticatorImpl::Verified> AuthenticatorImpl::VerifyUserPassword(
    std::string_view user, std::string_view password) {
  // Names that cannot exist and oversized passwords are refused without hashing; that reveals
  // nothing about which users exist.
  if (!internal::ValidateUserName(user).ok() || password.empty() ||
      password.size() > internal::kMaxPasswordLength) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, CurrentUsers());
  const UserRecord* record = users.doc->User(user);
  if (record != nullptr &&
      credentials_.Lookup(user, password, record->hash, SteadyClock::now()).has_value()) {
    return Verified{std::move(users), record};
  }
  if (record == nullptr) {
    (void)internal::VerifyPassword(users.doc->UnknownUserHash(dummy_hash_), password);
    return UnauthenticatedError(kInvalidCredentials);
  }
  if (!internal::VerifyPassword(record->hash, password)) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  credentials_.Insert(user, password, record->role, record->hash, SteadyClock::now());
  return Verified{std::move(users), record};
}

StatusOr<Access> AuthenticatorImpl::Authenticate(std::string_view user, std::string_view password) {
  if (user == internal::kTokenUserName) {
    if (!SplitTokenText(password).has_value()) {
      return UnauthenticatedError(kInvalidCredentials);
    }
    PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, CurrentUsers());
    return CheckToken(*users.doc, password, Now());
  }
  PYDEPOT_ASSIGN_OR_RETURN(Verified verified, VerifyUserPassword(user, password));
  return UserAccess(*verified.record);
}

std::optional<StatusOr<Access>> AuthenticatorImpl::AuthenticateCached(std::string_view user,
                                                                      std::string_view password) {
  if (user == internal::kTokenUserName) {
    if (!SplitTokenText(password).has_value()) {
      return StatusOr<Access>(UnauthenticatedError(kInvalidCredentials));
    }
    std::optional<UsersVersion> users = FreshUsers();
    if (!users.has_value()) {
      return std::nullopt;
    }
    return CheckToken(*users->doc, password, Now());
  }
  if (!internal::ValidateUserName(user).ok() || password.empty() ||
      password.size() > internal::kMaxPasswordLength) {
    return StatusOr<Access>(UnauthenticatedError(kInvalidCredentials));
  }
  std::optional<UsersVersion> users = FreshUsers();
  if (!users.has_value()) {
    return std::nullopt;
  }
  const UserRecord* record = users->doc->User(user);
  if (record != nullptr &&
      credentials_.Lookup(user, password, record->hash, SteadyClock::now()).has_value()) {
    return StatusOr<Access>(UserAccess(*record));
  }
  // Not remembered: only an argon2id verify can tell (and a wrong password must cost as much as
  // a right one), so this is not answered from memory.
  return std::nullopt;
}

StatusOr<std::string> AuthenticatorImpl::StartSession(std::string_view user,
                                                      std::string_view password,
                                                      std::chrono::seconds lifetime) {
  if (lifetime <= std::chrono::seconds::zero() || lifetime > kMaxSessionLifetime) {
    return InvalidArgumentError("session lifetime: must be positive and at most 10 years");
  }
  if (user == internal::kTokenUserName) {
    return UnauthenticatedError(kInvalidCredentials);
  }
  PYDEPOT_ASSIGN_OR_RETURN(Verified verified, VerifyUserPassword(user, password));
  PYDEPOT_ASSIGN_OR_RETURN(std::optional<std::string> key, SessionKey(/*create=*/true));
  const std::int64_t expiry = Now() / 1000000 + lifetime.count();
  return verified.record->name + "." + std::to_string(expiry) + "." +
         SessionMac(*key, *verified.record, expiry);
}

StatusOr<Access> AuthenticatorImpl::AuthenticateSession(std::string_view cookie_value) {
  if (!ParseSessionCookie(cookie_value).has_value()) {
    return UnauthenticatedError(kSessionEnded);
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, CurrentUsers());
  // No key yet: no session was ever started on this store.
  PYDEPOT_ASSIGN_OR_RETURN(std::optional<std::string> key, SessionKey(/*create=*/false));
  if (!key.has_value()) {
    return UnauthenticatedError(kSessionEnded);
  }
  return CheckSession(*users.doc, *key, cookie_value, Now());
}

std::optional<StatusOr<Access>> AuthenticatorImpl::AuthenticateSessionCached(
    std::string_view cookie_value) {
  if (!ParseSessionCookie(cookie_value).has_value()) {
    return StatusOr<Access>(UnauthenticatedError(kSessionEnded));
  }
  std::optional<UsersVersion> users = FreshUsers();
  if (!users.has_value()) {
    return std::nullopt;
  }
  std::optional<std::string> key = CachedSessionKey();
  if (!key.has_value()) {
    return std::nullopt;
  }
  return CheckSession(*users->doc, *key, cookie_value, Now());
}

StatusOr<std::string> AuthenticatorImpl::CsrfToken(std::string_view cookie_value) {
  PYDEPOT_ASSIGN_OR_RETURN(std::optional<std::string> key, SessionKey(/*create=*/true));
  std::string message = "pydepot-csrf-v1";
  message += '\0';
  message += cookie_value;
  return Base64Url(HmacSha256(*key, message));
}

Status AuthenticatorImpl::EndSessions(std::string_view user) {
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    UserRecord* record = internal::FindUser(doc, user);
    if (record == nullptr) {
      return NotFoundError("user " + std::string(user) + ": no such user");
    }
    ++record->session_epoch;
    return OkStatus();
  });
}

Status AuthenticatorImpl::AddUser(std::string_view name, std::string_view password, Role role,
                                  std::vector<std::string> upload_projects) {
  PYDEPOT_RETURN_IF_ERROR(internal::ValidateUserName(name));
  PYDEPOT_RETURN_IF_ERROR(internal::ValidatePassword(password));
  PYDEPOT_ASSIGN_OR_RETURN(std::vector<std::string> projects,
                           internal::NormalizeProjectNames(std::move(upload_projects)));
  PYDEPOT_RETURN_IF_ERROR(ValidateAccountRole(role, projects));
  // Hash once, outside the retry loop: it is the expensive part.
  PYDEPOT_ASSIGN_OR_RETURN(std::string hash, internal::HashPassword(password, Cost()));
  const std::int64_t created = Now();
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    if (internal::FindUser(doc, name) != nullptr) {
      return AlreadyExistsError("user " + std::string(name) + ": already exists");
    }
    UserRecord user;
    user.name = std::string(name);
    user.role = role;
    user.hash = hash;
    user.created_micros = created;
    user.upload_projects = projects;
    doc.users.push_back(std::move(user));
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
    std::erase_if(doc.tokens, [&](const TokenRecord& token) { return token.info.user == name; });
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

Status AuthenticatorImpl::SetRole(std::string_view name, Role role,
                                  std::vector<std::string> upload_projects) {
  PYDEPOT_ASSIGN_OR_RETURN(std::vector<std::string> projects,
                           internal::NormalizeProjectNames(std::move(upload_projects)));
  PYDEPOT_RETURN_IF_ERROR(ValidateAccountRole(role, projects));
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    UserRecord* user = internal::FindUser(doc, name);
    if (user == nullptr) {
      return NotFoundError("user " + std::string(name) + ": no such user");
    }
    user->role = role;
    user->upload_projects = projects;
    return OkStatus();
  });
}

StatusOr<std::vector<UserInfo>> AuthenticatorImpl::ListUsers() {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  std::vector<UserInfo> infos;
  infos.reserve(users.doc->doc().users.size());
  for (const UserRecord& user : users.doc->doc().users) {
    infos.push_back(UserInfo{user.name, user.role, user.created_micros, user.upload_projects});
  }
  std::sort(infos.begin(), infos.end(),
            [](const UserInfo& a, const UserInfo& b) { return a.name < b.name; });
  return infos;
}

StatusOr<bool> AuthenticatorImpl::NoUsers() {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  return users.doc->doc().users.empty();
}

StatusOr<NewToken> AuthenticatorImpl::CreateToken(std::string_view user, std::string_view name,
                                                  Role scope, std::vector<std::string> projects,
                                                  std::int64_t expires_micros) {
  if (scope != Role::kRead && scope != Role::kUpload) {
    return InvalidArgumentError("token scope: must be read or upload");
  }
  PYDEPOT_RETURN_IF_ERROR(internal::ValidateTokenName(name));
  PYDEPOT_ASSIGN_OR_RETURN(std::vector<std::string> normalized,
                           internal::NormalizeProjectNames(std::move(projects)));
  const std::int64_t now = Now();
  if (expires_micros < 0 || (expires_micros != 0 && expires_micros <= now)) {
    return InvalidArgumentError("token expiry: must be in the future (or 0 for never)");
  }
  const std::string secret = HexEncode(RandomBytes(internal::kTokenSecretLength / 2));
  TokenRecord record;
  record.info.user = std::string(user);
  record.info.name = std::string(name);
  record.info.scope = scope;
  record.info.projects = std::move(normalized);
  record.info.created_micros = now;
  record.info.expires_micros = expires_micros;
  record.hash = TokenSecretHash(secret);
  PYDEPOT_RETURN_IF_ERROR(UpdateUsers([&](UsersDoc& doc) -> Status {
    const UserRecord* owner = internal::FindUser(doc, user);
    if (owner == nullptr) {
      return NotFoundError("user " + std::string(user) + ": no such user");
    }
    if (scope > owner->role) {
      return PermissionDeniedError(
          "user " + owner->name + " has the role " + std::string(RoleName(owner->role)) +
          ": a token cannot have more rights than its user (make a " +
          std::string(RoleName(owner->role)) + " token, or give the user a higher role first)");
    }
    if (scope == Role::kUpload && owner->role == Role::kUpload && !owner->upload_projects.empty()) {
      const std::string allowed = JoinProjects(owner->upload_projects);
      if (record.info.projects.empty()) {
        return PermissionDeniedError("user " + owner->name + " may upload only to " + allowed +
                                     ": an upload token must name some of these projects");
      }
      for (const std::string& project : record.info.projects) {
        if (!std::binary_search(owner->upload_projects.begin(), owner->upload_projects.end(),
                                project)) {
          return PermissionDeniedError("user " + owner->name + " may not upload to " + project +
                                       " (only to " + allowed +
                                       "): leave it out of the token's projects");
        }
      }
    }
    do {
      record.info.id = HexEncode(RandomBytes(internal::kTokenIdLength / 2));
    } while (internal::FindToken(doc, record.info.id) != nullptr);
    doc.tokens.push_back(record);
    return OkStatus();
  }));
  NewToken token;
  token.info = record.info;
  token.secret = std::string(kTokenPrefix) + record.info.id + "-" + secret;
  return token;
}

StatusOr<std::vector<TokenInfo>> AuthenticatorImpl::ListTokens(std::string_view user) {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  std::vector<TokenInfo> infos;
  for (const TokenRecord& token : users.doc->doc().tokens) {
    if (user.empty() || token.info.user == user) {
      infos.push_back(token.info);
    }
  }
  std::sort(infos.begin(), infos.end(), [](const TokenInfo& a, const TokenInfo& b) {
    return a.created_micros != b.created_micros ? a.created_micros < b.created_micros : a.id < b.id;
  });
  return infos;
}

StatusOr<TokenInfo> AuthenticatorImpl::GetToken(std::string_view id) {
  PYDEPOT_ASSIGN_OR_RETURN(UsersVersion users, ReadUsers());
  const TokenRecord* token = users.doc->Token(id);
  if (token == nullptr) {
    return NotFoundError("token " + std::string(id) + ": no such token");
  }
  return token->info;
}

Status AuthenticatorImpl::RevokeToken(std::string_view id) {
  return UpdateUsers([&](UsersDoc& doc) -> Status {
    if (std::erase_if(doc.tokens, [&](const TokenRecord& token) { return token.info.id == id; }) ==
        0) {
      return NotFoundError("token " + std::string(id) + ": no such token");
    }
    return OkStatus();
  });
}

std::optional<UsersVersion> AuthenticatorImpl::FreshUsers() {
  const SteadyClock::time_point now = SteadyClock::now();
  std::lock_guard lock(mu_);
  if (users_.doc == nullptr || stale_ || now - checked_ >= options_.users_ttl) {
    return std::nullopt;
  }
  return users_;
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
      return UsersVersion{std::make_shared<const UsersSnapshot>(UsersDoc{}, Cost()), ""};
    }
    return object.error();
  }
  PYDEPOT_ASSIGN_OR_RETURN(UsersDoc doc, internal::ParseUsersDoc(object->data));
  return UsersVersion{std::make_shared<const UsersSnapshot>(std::move(doc), Cost()),
                      object->info.etag};
}

Status AuthenticatorImpl::UpdateUsers(const std::function<Status(UsersDoc&)>& mutate) {
  for (int attempt = 0; attempt < kMaxUpdateAttempts; ++attempt) {
    if (attempt > 0) {
      BackOff(attempt);
    }
    PYDEPOT_ASSIGN_OR_RETURN(UsersVersion current, ReadUsers());
    UsersDoc doc = current.doc->doc();
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
  users_ = std::move(version);
  checked_ = SteadyClock::now();
  stale_ = false;
  ++generation_;
}

void AuthenticatorImpl::Invalidate() {
  std::lock_guard lock(mu_);
  stale_ = true;
  ++generation_;
}

std::optional<std::string> AuthenticatorImpl::CachedSessionKey() {
  std::lock_guard lock(key_mu_);
  if (session_key_.empty()) {
    return std::nullopt;
  }
  return session_key_;
}

StatusOr<std::optional<std::string>> AuthenticatorImpl::SessionKey(bool create) {
  if (std::optional<std::string> key = CachedSessionKey()) {
    return key;
  }
  // Every instance must sign with the same key: the first to need one creates it create-only,
  // and whoever loses that race reads the winner's.
  StatusOr<storage::Object> object = storage_.Get(session_key_key_);
  if (!object.has_value() && object.error().code() == StatusCode::kNotFound) {
    if (!create) {
      return std::optional<std::string>();
    }
    std::string fresh = RandomBytes(kSessionKeyBytes);
    StatusOr<storage::ObjectInfo> put = storage_.PutIfAbsent(session_key_key_, fresh);
    if (put.has_value()) {
      object = storage::Object{std::move(fresh), *put};
    } else if (put.error().code() == StatusCode::kAlreadyExists) {
      object = storage_.Get(session_key_key_);
    } else {
      return put.error();
    }
  }
  if (!object.has_value()) {
    return object.error();
  }
  if (object->data.size() != kSessionKeyBytes) {
    return InternalError(session_key_key_ + ": not a " + std::to_string(kSessionKeyBytes) +
                         "-byte key (remove it to make a new one; that ends every session)");
  }
  std::lock_guard lock(key_mu_);
  if (session_key_.empty()) {
    session_key_ = std::move(object->data);
  }
  return std::optional<std::string>(session_key_);
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
  return std::make_unique<AuthenticatorImpl>(storage, std::move(options), std::move(dummy_hash));
}

}  // namespace pydepot::auth
