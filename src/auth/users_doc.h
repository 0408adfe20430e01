// The users document (auth/users.json) as a value: parsing, serialising and the name and password
// rules. Internal to src/auth. Thread-compatible (plain values and functions).
//
//   {"version":1,"users":[{"name":"alice","role":"upload","hash":"$argon2id$...",
//                          "created":1700000000000000}]}
#pragma once

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

struct UserRecord {
  std::string name;
  Role role = Role::kRead;
  std::string hash;  // crypto_pwhash_str format
  std::int64_t created_micros = 0;
};

struct UsersDoc {
  std::vector<UserRecord> users;  // in insertion order, names unique
};

// OK when `name` is 1-64 characters of [A-Za-z0-9._@-] and not reserved; kInvalidArgument
// otherwise.
Status ValidateUserName(std::string_view name);
// OK when `password` has 8 to 1024 bytes; kInvalidArgument otherwise. Never echoes the password.
Status ValidatePassword(std::string_view password);

// The document lives at storage::UsersKey() ("auth/users.json").
// kInternal "auth/users.json: <why>" when the bytes are not a well-formed version-1 document
// (bad JSON, missing or mistyped fields, bad names or roles, duplicate names).
StatusOr<UsersDoc> ParseUsersDoc(std::string_view json);
std::string SerializeUsersDoc(const UsersDoc& doc);

// The record named `name`, or nullptr.
const UserRecord* FindUser(const UsersDoc& doc, std::string_view name);
UserRecord* FindUser(UsersDoc& doc, std::string_view name);

}  // namespace pydepot::auth::internal
