// Accounts and authentication. Users live in the store (auth/users.json), so every instance on
// one store sees the same accounts; the document is updated by compare-and-swap and re-read
// after a short TTL. Passwords are argon2id hashes. A verified credential is cached (keyed hash,
// constant-time compare, bounded lifetime) because pip sends credentials on every request.
// Authenticator is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/storage.h"

namespace pydepot::auth {

// Ordered: each role includes the rights of the ones before it. kNone (no access) only appears
// in Access (a token limited to named projects has no rights elsewhere); accounts and tokens
// never have it.
enum class Role { kNone = 0, kRead = 1, kUpload = 2, kAdmin = 3 };

std::string_view RoleName(Role role);                   // "none", "read", "upload", "admin"
StatusOr<Role> ParseRole(std::string_view name);        // kInvalidArgument on unknown or "none"
std::ostream& operator<<(std::ostream& os, Role role);  // RoleName, for logs and tests

struct UserInfo {
  std::string name;
  Role role = Role::kRead;
  std::int64_t created_micros = 0;
  // Role kUpload only: when not empty, the user may upload to these projects (normalized names,
  // sorted) and only reads the others. Empty: the role applies to every project.
  std::vector<std::string> upload_projects;
};

// What one authenticated request may do. Built by the Authenticator from an account, a token or
// a session; plain value.
struct Access {
  std::string user;      // the account ("" for anonymous access)
  std::string token_id;  // the API token used, "" when none (a password or a session)
  bool session = false;  // authenticated by a browser session cookie
  Role everywhere = Role::kNone;
  // Per-project roles that replace `everywhere` for that project (normalized name -> role).
  std::map<std::string, Role, std::less<>> per_project;

  // The role on `project` (a normalized name).
  Role On(std::string_view project) const;
  // True when the same role applies to every project (no per_project entries).
  bool Uniform() const { return per_project.empty(); }
};

// An API token, as listed (never its secret; the store keeps only a hash of it).
struct TokenInfo {
  std::string id;            // public identifier, 16 hex digits; part of the token text
  std::string user;          // the account it acts for; its rights never exceed the account's
  std::string name;          // a label for people ("ci on main"), 0-100 printable characters
  Role scope = Role::kRead;  // kRead or kUpload
  std::vector<std::string> projects;  // normalized, sorted; empty: every project
  std::int64_t created_micros = 0;
  std::int64_t expires_micros = 0;  // 0: never
};

struct NewToken {
  TokenInfo info;
  std::string secret;  // the whole token text, "pydepot-<16 hex id>-<64 hex secret>", shown once
};

// Decodes an `Authorization: Basic base64(user:pass)` header value. kUnauthenticated when the
// scheme is not Basic or the encoding is broken. The scheme is matched case-insensitively;
// surrounding blanks are tolerated; standard base64 with or without '=' padding; the decoded
// text is split at the first ':' (the password may hold more), and an empty user or password is
// returned as is (Authenticate refuses it). Error messages never quote the header.
struct BasicCredentials {
  std::string user;
  std::string password;
};
StatusOr<BasicCredentials> ParseBasicAuthorization(std::string_view header_value);

struct AuthenticatorOptions {
  // How long a verified user:password pair is trusted without hashing it again. 0 disables the
  // cache. A pair is remembered with the password hash it was verified against, so changing the
  // user's password or removing the user drops it; other changes of the users document (roles,
  // tokens, other users, logouts) keep it and take effect at once.
  std::chrono::seconds credential_cache_ttl{300};
  // Most cached credentials (one per user); the oldest go first. 0 disables the cache.
  std::size_t credential_cache_size = 10000;
  // How long the users document is trusted before it is revalidated against the store (a HEAD,
  // and a GET only when the etag changed). So changes made through another instance take effect
  // within this bound; changes made through this instance take effect at once.
  std::chrono::milliseconds users_ttl{2000};
  // argon2id cost of new hashes; tests lower it. Defaults: OWASP's minimum (19 MiB, 2 passes;
  // auth/password_hash.h says why).
  std::uint64_t argon2_ops_limit = 0;  // 0: 2 passes
  std::size_t argon2_mem_limit = 0;    // 0: 19 MiB
  // Current time, microseconds since the epoch (token expiry, sessions); injectable for tests.
  std::function<std::int64_t()> now_micros;
};

class Authenticator {
 public:
  // `storage` must outlive the Authenticator. kInternal if libsodium cannot start,
  // kInvalidArgument if the argon2 cost is outside libsodium's limits. Hashes nothing: unknown
  // users are checked against an unmatchable hash of the configured cost, built at once.
  static StatusOr<std::unique_ptr<Authenticator>> Create(storage::Storage& storage,
                                                         AuthenticatorOptions options = {});
  Authenticator() = default;
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;
  Authenticator(Authenticator&&) = delete;
  Authenticator& operator=(Authenticator&&) = delete;
  virtual ~Authenticator() = default;

  // The user's role when `user`/`password` are right. kUnauthenticated otherwise, with the same
  // message ("invalid credentials") and about the same time whether the user exists or not (no
  // enumeration). A store failure is passed on (kUnavailable, ...), and a corrupt users document
  // is kInternal: neither is reported as bad credentials.
  //
  // The user "__token__" authenticates with an API token as the password (as on PyPI): the
  // token's rights are its scope, limited to its projects when it names some, and never more
  // than its account's. An expired or revoked token, or one whose account is gone, is
  // kUnauthenticated with the same message. Tokens are 256-bit random secrets, so they are
  // checked with SHA-256 (fast), not argon2id.
  virtual StatusOr<Access> Authenticate(std::string_view user, std::string_view password) = 0;

  // As Authenticate, answered from memory alone: nullopt when the answer needs the store or a
  // password hash (the credential is not remembered, or the users document is due for a
  // check). Never blocks, so the server calls it on its network threads. Tokens are always
  // answered here once the users document is fresh.
  virtual std::optional<StatusOr<Access>> AuthenticateCached(std::string_view user,
                                                             std::string_view password) = 0;

  // Browser sessions (docs/web-ui.md). A session is a signed cookie value
  // "<user>.<expiry seconds>.<mac>" (base64url MAC, HMAC-SHA256 with a key kept in the store at
  // auth/session-key, created create-only on first use so every instance shares it). The MAC
  // covers the user, the expiry, the user's session epoch and a fingerprint of the user's
  // password hash: a password change, a role change, removing the user, or EndSessions ends
  // every session of that user.
  // StartSession checks the password as Authenticate does (same errors; tokens are refused with
  // kUnauthenticated) and returns the cookie value, valid for `lifetime` (kInvalidArgument unless
  // it is positive and at most 10 years).
  virtual StatusOr<std::string> StartSession(std::string_view user, std::string_view password,
                                             std::chrono::seconds lifetime) = 0;
  // The session's access. kUnauthenticated ("session expired or ended") when the value is
  // malformed, forged, expired or ended. May read the store (users document, key).
  virtual StatusOr<Access> AuthenticateSession(std::string_view cookie_value) = 0;
  // From memory alone, as AuthenticateCached.
  virtual std::optional<StatusOr<Access>> AuthenticateSessionCached(
      std::string_view cookie_value) = 0;
  // The CSRF token bound to a session: HMAC of the cookie value under the session key,
  // base64url. Forms carry it; a POST made with a session cookie must present it.
  virtual StatusOr<std::string> CsrfToken(std::string_view cookie_value) = 0;
  // Ends every session of `user` (bumps the user's session epoch by compare-and-swap). Logging
  // out does this: a stolen cookie stops working too.
  virtual Status EndSessions(std::string_view user) = 0;

  // Account management (CLI and admin API). Names: 1-64 chars of [A-Za-z0-9._@-], compared
  // case-sensitively; "__token__" is reserved. Passwords: 8 to 1024 bytes.
  // kInvalidArgument on a bad name/password, kAlreadyExists / kNotFound as expected.
  // Each change is a compare-and-swap of the users document, retried on conflicts; kUnavailable
  // after 20 lost races in a row. ListUsers (sorted by name) and NoUsers read the store directly.
  // `upload_projects` (any spelling; stored normalized, sorted, unique) is only allowed with
  // Role::kUpload (kInvalidArgument otherwise, and for a name that is not a valid project name).
  // Removing a user revokes its tokens.
  virtual Status AddUser(std::string_view name, std::string_view password, Role role,
                         std::vector<std::string> upload_projects = {}) = 0;
  virtual Status RemoveUser(std::string_view name) = 0;
  virtual Status SetPassword(std::string_view name, std::string_view password) = 0;
  virtual Status SetRole(std::string_view name, Role role,
                         std::vector<std::string> upload_projects = {}) = 0;
  virtual StatusOr<std::vector<UserInfo>> ListUsers() = 0;
  // True when no user exists yet (first start creates "admin").
  virtual StatusOr<bool> NoUsers() = 0;

  // API tokens, kept in the users document beside the accounts. CreateToken: `user` must exist
  // (kNotFound); `scope` kRead or kUpload and not above the user's own role (an upload user
  // limited to projects may only make upload tokens for a subset of them): kInvalidArgument /
  // kPermissionDenied otherwise, with a message saying what to change. `expires_micros` 0 for
  // never, else in the future. Project names any spelling (stored normalized).
  virtual StatusOr<NewToken> CreateToken(std::string_view user, std::string_view name, Role scope,
                                         std::vector<std::string> projects,
                                         std::int64_t expires_micros) = 0;
  // Every token ("" user) or one user's, sorted by creation time. Expired ones are listed too.
  virtual StatusOr<std::vector<TokenInfo>> ListTokens(std::string_view user) = 0;
  // The token `id`. kNotFound when there is none.
  virtual StatusOr<TokenInfo> GetToken(std::string_view id) = 0;
  // Revokes the token `id` (it stops working on every instance within users_ttl). kNotFound.
  virtual Status RevokeToken(std::string_view id) = 0;
};

}  // namespace pydepot::auth
