#include "auth/password_hash.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
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

PasswordHashCost WithDefaults(PasswordHashCost cost) {
  return {cost.ops_limit != 0 ? cost.ops_limit : kDefaultOpsLimit,
          cost.mem_limit != 0 ? cost.mem_limit : kDefaultMemLimit};
}

StatusOr<ResolvedCost> Resolve(PasswordHashCost cost) {
  cost = WithDefaults(cost);
  const unsigned long long ops = cost.ops_limit;  // NOLINT(google-runtime-int): libsodium's type
  const std::size_t mem = cost.mem_limit;
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

std::optional<PasswordHashCost> CostOf(std::string_view hash) {
  constexpr std::string_view kPrefix = "$argon2id$v=19$m=";
  if (!hash.starts_with(kPrefix)) {
    return std::nullopt;
  }
  hash.remove_prefix(kPrefix.size());
  std::uint64_t kib = 0;
  std::uint64_t passes = 0;
  auto [after_m, m_error] = std::from_chars(hash.data(), hash.data() + hash.size(), kib);
  const std::string_view rest(after_m,
                              static_cast<std::size_t>(hash.data() + hash.size() - after_m));
  if (m_error != std::errc() || !rest.starts_with(",t=")) {
    return std::nullopt;
  }
  auto [after_t, t_error] = std::from_chars(rest.data() + 3, rest.data() + rest.size(), passes);
  if (t_error != std::errc() || after_t == rest.data() + rest.size() || *after_t != ',' ||
      kib == 0 || passes == 0 || kib > (std::uint64_t{1} << 32)) {
    return std::nullopt;
  }
  return PasswordHashCost{passes, static_cast<std::size_t>(kib) * 1024};
}

PasswordHashCost MaxCost(PasswordHashCost a, PasswordHashCost b) {
  a = WithDefaults(a);
  b = WithDefaults(b);
  return {std::max(a.ops_limit, b.ops_limit), std::max(a.mem_limit, b.mem_limit)};
}

PasswordHashCost UnknownUserCost(PasswordHashCost configured,
                                 const std::vector<std::string_view>& stored) {
  constexpr std::uint64_t kMaxOps = 8;
  constexpr std::size_t kMaxMem = std::size_t{256} << 20;
  const PasswordHashCost floor = WithDefaults(configured);
  PasswordHashCost dearest = floor;
  for (std::string_view hash : stored) {
    if (std::optional<PasswordHashCost> made = CostOf(hash)) {
      dearest = MaxCost(dearest, *made);
    }
  }
  dearest.ops_limit = std::max(std::min(dearest.ops_limit, kMaxOps), floor.ops_limit);
  dearest.mem_limit = std::max(std::min(dearest.mem_limit, kMaxMem), floor.mem_limit);
  return dearest;
}

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
