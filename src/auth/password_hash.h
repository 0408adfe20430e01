// argon2id password hashes (libsodium's crypto_pwhash_str format, "$argon2id$v=19$..."). Internal
// to src/auth. Thread-safe: plain functions over their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace pydepot::auth::internal {

// The argon2id cost of new hashes; 0 picks the default of each (kDefaultOpsLimit,
// kDefaultMemLimit).
struct PasswordHashCost {
  std::uint64_t ops_limit = 0;
  std::size_t mem_limit = 0;

  bool operator==(const PasswordHashCost&) const = default;
};

// OWASP's recommended argon2id minimum (Password Storage Cheat Sheet): 19 MiB, 2 passes, one
// lane. libsodium's INTERACTIVE limits (64 MiB, 2 passes) cost over three times as much: 80 ms
// of a serverless instance's cold start instead of about 25, and 64 MiB per concurrent first
// check. Hashes keep the cost they were made with; changing this changes new hashes only.
inline constexpr std::uint64_t kDefaultOpsLimit = 2;
inline constexpr std::size_t kDefaultMemLimit = std::size_t{19} << 20;

// The cost `hash` was made with ("$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$..."), or nullopt
// when it is not such a string.
std::optional<PasswordHashCost> CostOf(std::string_view hash);

// Each of the two limits at the larger of `a`'s and `b`'s (0 counting as the default).
PasswordHashCost MaxCost(PasswordHashCost a, PasswordHashCost b);

// The cost at which a password for an unknown user is checked: the dearest of `configured` and
// of every hash in `stored` (hashes made before the default changed, or under another
// configuration, keep their own cost), so the time a failed login takes never tells whether the
// name exists. Each limit is capped (8 passes, 256 MiB), so a hand-edited users document cannot
// make every unknown-user check allocate gigabytes. Never below `configured` (with defaults).
PasswordHashCost UnknownUserCost(PasswordHashCost configured,
                                 const std::vector<std::string_view>& stored);

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
