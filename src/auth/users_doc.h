// The users document (auth/users.json) as a value: parsing, serialising and the name and password
// rules. Internal to src/auth. Thread-compatible (plain values and functions).
//
//   {"version":1,
//    "users":[{"name":"alice","role":"upload","hash":"$argon2id$...","created":1700000000000000,
//              "upload_projects":["foo","bar-baz"],"session_epoch":3}],
//    "tokens":[{"id":"0123456789abcdef","user":"alice","name":"ci","scope":"upload",
//               "projects":["foo"],"hash":"<sha256 hex>","created":1700000000000000,
//               "expires":0}]}
//
// "upload_projects" (role upload only), "session_epoch" and "tokens" are optional and left out
// when empty or 0, so documents written before they existed parse unchanged. A token's "hash" is
// the SHA-256 (lowercase hex) of the 64-hex-digit secret part of the token text, as ASCII.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "base/status.h"

namespace pydepot::auth::internal {

inline constexpr int kUsersDocVersion = 1;
inline constexpr std::size_t kMaxUserNameLength = 64;
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 1024;
// Reserved for API tokens (username "__token__", token as the password; STANDARDS AUTH-01).
inline constexpr std::string_view kTokenUserName = "__token__";
// Token labels: at most this many characters (UTF-8 code points).
inline constexpr std::size_t kMaxTokenNameLength = 100;
// Hex digits of a token id and of a token secret (the token text is
// "pydepot-<id>-<secret>").
inline constexpr std::size_t kTokenIdLength = 16;
inline constexpr std::size_t kTokenSecretLength = 64;

struct UserRecord {
  std::string name;
  Role role = Role::kRead;
  std::string hash;  // crypto_pwhash_str format
  std::int64_t created_micros = 0;
  // Role kUpload only (empty otherwise): normalized project names, sorted, unique.
  std::vector<std::string> upload_projects = {};
  // Bumped to end every browser session of the user (Authenticator::EndSessions).
  std::int64_t session_epoch = 0;
};

struct TokenRecord {
  TokenInfo info;    // id: kTokenIdLength lowercase hex digits; scope kRead or kUpload
  std::string hash;  // SHA-256 of the secret part, 64 lowercase hex digits
};

struct UsersDoc {
  std::vector<UserRecord> users;    // in insertion order, names unique
  std::vector<TokenRecord> tokens;  // in creation order, ids unique; a token's user may be gone
};

// OK when `name` is 1-64 characters of [A-Za-z0-9._@-] and not reserved; kInvalidArgument
// otherwise.
Status ValidateUserName(std::string_view name);
// OK when `password` has 8 to 1024 bytes; kInvalidArgument otherwise. Never echoes the password.
Status ValidatePassword(std::string_view password);
// OK when `name` is valid UTF-8 of at most kMaxTokenNameLength characters with no control
// characters (C0, DEL, C1); kInvalidArgument otherwise.
Status ValidateTokenName(std::string_view name);
// True when `text` is kTokenIdLength lowercase hex digits.
bool IsTokenId(std::string_view text);

// Project names as callers give them (any spelling), normalized (PEP 503), sorted and unique.
// kInvalidArgument naming the first one that is not a valid project name.
StatusOr<std::vector<std::string>> NormalizeProjectNames(std::vector<std::string> names);

// The document lives at storage::UsersKey() ("auth/users.json").
// kInternal "auth/users.json: <why>" when the bytes are not a well-formed version-1 document
// (bad JSON, missing or mistyped fields, bad names, roles or project names, upload_projects on
// a user whose role is not upload, duplicate user names or token ids).
StatusOr<UsersDoc> ParseUsersDoc(std::string_view json);
std::string SerializeUsersDoc(const UsersDoc& doc);

// The record named `name`, or nullptr.
const UserRecord* FindUser(const UsersDoc& doc, std::string_view name);
UserRecord* FindUser(UsersDoc& doc, std::string_view name);
// The token with id `id`, or nullptr.
const TokenRecord* FindToken(const UsersDoc& doc, std::string_view id);

}  // namespace pydepot::auth::internal
