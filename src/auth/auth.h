// Accounts and authentication. Users live in the store (auth/users.json), so every instance on
// one store sees the same accounts; the document is updated by compare-and-swap and re-read
// after a short TTL. Passwords are argon2id hashes. A verified credential is cached (keyed hash,
// constant-time compare, bounded lifetime) because pip sends credentials on every request.
// Authenticator is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
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

// Ordered: each role includes the rights of the ones before it.
enum class Role { kRead = 1, kUpload = 2, kAdmin = 3 };

std::string_view RoleName(Role role);                   // "read", "upload", "admin"
StatusOr<Role> ParseRole(std::string_view name);        // kInvalidArgument on unknown
std::ostream& operator<<(std::ostream& os, Role role);  // RoleName, for logs and tests

struct UserInfo {
  std::string name;
  Role role = Role::kRead;
  std::int64_t created_micros = 0;
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
  // cache. Any change of the users document drops every remembered pair.
  std::chrono::seconds credential_cache_ttl{300};
  // Most cached credentials (one per user); the oldest go first. 0 disables the cache.
  std::size_t credential_cache_size = 10000;
  // How long the users document is trusted before it is revalidated against the store (a HEAD,
  // and a GET only when the etag changed). So changes made through another instance take effect
  // within this bound; changes made through this instance take effect at once.
  std::chrono::milliseconds users_ttl{2000};
  // argon2id cost; tests lower it. Defaults: libsodium's INTERACTIVE limits.
  std::uint64_t argon2_ops_limit = 0;  // 0: crypto_pwhash_OPSLIMIT_INTERACTIVE
  std::size_t argon2_mem_limit = 0;    // 0: crypto_pwhash_MEMLIMIT_INTERACTIVE
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
  virtual StatusOr<Role> Authenticate(std::string_view user, std::string_view password) = 0;

  // As Authenticate, answered from memory alone: nullopt when the answer needs the store or a
  // password hash (the credential is not remembered, or the users document is due for a
  // check). Never blocks, so the server calls it on its network threads.
  virtual std::optional<StatusOr<Role>> AuthenticateCached(std::string_view user,
                                                           std::string_view password) = 0;

  // Account management (CLI and admin API). Names: 1-64 chars of [A-Za-z0-9._@-], compared
  // case-sensitively; "__token__" is reserved. Passwords: 8 to 1024 bytes.
  // kInvalidArgument on a bad name/password, kAlreadyExists / kNotFound as expected.
  // Each change is a compare-and-swap of the users document, retried on conflicts; kUnavailable
  // after 20 lost races in a row. ListUsers (sorted by name) and NoUsers read the store directly.
  virtual Status AddUser(std::string_view name, std::string_view password, Role role) = 0;
  virtual Status RemoveUser(std::string_view name) = 0;
  virtual Status SetPassword(std::string_view name, std::string_view password) = 0;
  virtual Status SetRole(std::string_view name, Role role) = 0;
  virtual StatusOr<std::vector<UserInfo>> ListUsers() = 0;
  // True when no user exists yet (first start creates "admin").
  virtual StatusOr<bool> NoUsers() = 0;
};

}  // namespace pydepot::auth
