// argon2id password hashes (libsodium's crypto_pwhash_str format, "$argon2id$v=19$..."). Internal
// to src/auth. Thread-safe: plain functions over their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pydepot::auth::internal {

// The argon2id cost of new hashes; 0 picks libsodium's INTERACTIVE limit.
struct PasswordHashCost {
  std::uint64_t ops_limit = 0;
  std::size_t mem_limit = 0;
};

// A new "$argon2id$..." string for `password` with a random salt. kInvalidArgument when the cost
// is outside libsodium's limits; kResourceExhausted when the memory cannot be allocated.
StatusOr<std::string> HashPassword(std::string_view password, PasswordHashCost cost);

// A well-formed "$argon2id$..." string with the given cost, a random salt and a random digest:
// verifying any password against it costs a full argon2id run and fails. Unknown users are
// checked against it, so they cost what known users cost; built without hashing, so starting
// the server costs no argon2id run. kInvalidArgument as HashPassword.
StatusOr<std::string> UnmatchableHash(PasswordHashCost cost);

// True when `password` matches `hash` (any argon2 string libsodium reads, with its own embedded
// cost). False on a mismatch or a malformed hash.
bool VerifyPassword(const std::string& hash, std::string_view password);

// The number of VerifyPassword calls in this process, so tests can see that a cached credential
// was not hashed again.
std::uint64_t PasswordVerificationsForTest();

}  // namespace pydepot::auth::internal
