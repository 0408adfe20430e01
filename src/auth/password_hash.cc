#include "auth/password_hash.h"

#include <sodium.h>

#include <array>
#include <atomic>

namespace pydepot::auth::internal {
namespace {

std::atomic<std::uint64_t> verifications{0};

}  // namespace

StatusOr<std::string> HashPassword(std::string_view password, PasswordHashCost cost) {
  const unsigned long long ops =  // NOLINT(google-runtime-int): libsodium's type
      cost.ops_limit != 0 ? cost.ops_limit : crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  const std::size_t mem =
      cost.mem_limit != 0 ? cost.mem_limit : crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return InvalidArgumentError("argon2id: cost outside libsodium's limits");
  }
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
