#include "auth/password_hash.h"

#include <sodium.h>

#include <array>
#include <atomic>
#include <cstring>

#include "base/hash.h"
#include "base/status_macros.h"

namespace pydepot::auth::internal {
namespace {

std::atomic<std::uint64_t> verifications{0};

}  // namespace

namespace {

struct ResolvedCost {
  unsigned long long ops;  // NOLINT(google-runtime-int): libsodium's type
  std::size_t mem;
};

StatusOr<ResolvedCost> Resolve(PasswordHashCost cost) {
  const unsigned long long ops =  // NOLINT(google-runtime-int): libsodium's type
      cost.ops_limit != 0 ? cost.ops_limit : crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  const std::size_t mem =
      cost.mem_limit != 0 ? cost.mem_limit : crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return InvalidArgumentError("argon2id: cost outside libsodium's limits");
  }
  return ResolvedCost{ops, mem};
}

std::string Base64NoPadding(const std::string& bytes) {
  std::string out(
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

}  // namespace

StatusOr<std::string> UnmatchableHash(PasswordHashCost cost) {
  PYDEPOT_ASSIGN_OR_RETURN(ResolvedCost resolved, Resolve(cost));
  // libsodium's own encoding: memory in KiB, one lane, 16-byte salt, 32-byte digest.
  return "$argon2id$v=19$m=" + std::to_string(resolved.mem / 1024) +
         ",t=" + std::to_string(resolved.ops) + ",p=1$" + Base64NoPadding(RandomBytes(16)) + "$" +
         Base64NoPadding(RandomBytes(32));
}

StatusOr<std::string> HashPassword(std::string_view password, PasswordHashCost cost) {
  PYDEPOT_ASSIGN_OR_RETURN(ResolvedCost resolved, Resolve(cost));
  const unsigned long long ops = resolved.ops;  // NOLINT(google-runtime-int): libsodium's type
  const std::size_t mem = resolved.mem;
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), ops, mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return ResourceExhaustedError("argon2id: cannot allocate the hashing memory");
  }
  return std::string(out.data());
}

bool VerifyPassword(const std::string& hash, std::string_view password) {
  verifications.fetch_add(1, std::memory_order_relaxed);
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::uint64_t PasswordVerificationsForTest() {
  return verifications.load(std::memory_order_relaxed);
}

}  // namespace pydepot::auth::internal
