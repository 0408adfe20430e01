#include "base/hash.h"

#include <sodium.h>

#include <array>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/check.h"

namespace pydepot {
namespace {

constexpr std::size_t kBlake2b256Bytes = 32;

// The CSPRNG and BLAKE2b need libsodium started; a process that cannot start it cannot hash
// uploads safely, so the void/string-returning helpers treat that as a broken invariant.
void RequireSodium() { PYDEPOT_CHECK(InitCrypto().ok()); }

// An EVP digest context that frees itself. Allocation failure is OOM, which is fatal.
class EvpDigest {
 public:
  explicit EvpDigest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    PYDEPOT_CHECK(ctx_ != nullptr);
    PYDEPOT_CHECK(EVP_DigestInit_ex(ctx_, md, nullptr) == 1);
  }
  ~EvpDigest() { EVP_MD_CTX_free(ctx_); }
  EvpDigest(const EvpDigest&) = delete;
  EvpDigest& operator=(const EvpDigest&) = delete;
  EvpDigest(EvpDigest&&) = delete;
  EvpDigest& operator=(EvpDigest&&) = delete;

  void Update(std::string_view bytes) {
    PYDEPOT_CHECK(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1);
  }

  std::string FinishHex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    PYDEPOT_CHECK(EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1);
    return HexEncode(std::string_view(reinterpret_cast<const char*>(out.data()), len));
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

Status InitCrypto() {
  // sodium_init() is itself idempotent; the static makes the one-time start explicit and lets
  // every caller see the same result without taking libsodium's lock again.
  static const int kInitResult = sodium_init();
  if (kInitResult < 0) {
    return InternalError("libsodium: sodium_init failed");
  }
  return OkStatus();
}

// Large updates hash MD5 and BLAKE2b on two helper threads while the caller does SHA-256: the
// three digests cost about 3 ns a byte together on one core, which alone would cap an upload
// near 330 MB/s. The helpers start with the first large update, so small inputs never pay.
class DigestHelper {
 public:
  explicit DigestHelper(std::function<void(std::string_view)> update)
      : update_(std::move(update)), thread_([this] { Run(); }) {}
  ~DigestHelper() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  DigestHelper(const DigestHelper&) = delete;
  DigestHelper& operator=(const DigestHelper&) = delete;
  DigestHelper(DigestHelper&&) = delete;
  DigestHelper& operator=(DigestHelper&&) = delete;

  // Starts hashing `bytes` (not empty), which must stay valid until Wait() returns.
  void Start(std::string_view bytes) {
    {
      std::lock_guard lock(mu_);
      job_ = bytes;
    }
    cv_.notify_all();
  }

  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return job_.empty(); });
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return quit_ || !job_.empty(); });
      if (quit_) {
        return;
      }
      std::string_view job = job_;
      lock.unlock();
      update_(job);
      lock.lock();
      job_ = {};
      cv_.notify_all();
    }
  }

  const std::function<void(std::string_view)> update_;  // runs only between Start and Wait
  std::mutex mu_;
  std::condition_variable cv_;
  std::string_view job_;  // guarded by mu_: the queued or running job, empty when idle
  bool quit_ = false;     // guarded by mu_
  std::thread thread_;
};

// Updates at least this large go to the helper threads.
constexpr std::size_t kParallelBytes = 64 * 1024;

struct Hasher::State {
  EvpDigest sha256{EVP_sha256()};
  EvpDigest md5{EVP_md5()};
  crypto_generichash_state blake2b{};
  bool finished = false;
  // Started by the first large update; declared last so they stop before the states go.
  std::unique_ptr<DigestHelper> md5_helper;
  std::unique_ptr<DigestHelper> blake2b_helper;

  void UpdateBlake2b(std::string_view bytes) {
    PYDEPOT_CHECK(crypto_generichash_update(&blake2b,
                                            reinterpret_cast<const unsigned char*>(bytes.data()),
                                            bytes.size()) == 0);
  }
};

Hasher::Hasher() : state_(std::make_unique<State>()) {
  RequireSodium();
  PYDEPOT_CHECK(crypto_generichash_init(&state_->blake2b, nullptr, 0, kBlake2b256Bytes) == 0);
}

Hasher::~Hasher() = default;

void Hasher::Update(std::string_view bytes) {
  State& state = *state_;
  PYDEPOT_CHECK(!state.finished);
  if (bytes.size() < kParallelBytes) {
    state.sha256.Update(bytes);
    state.md5.Update(bytes);
    state.UpdateBlake2b(bytes);
    return;
  }
  if (!state.md5_helper) {
    state.md5_helper =
        std::make_unique<DigestHelper>([&state](std::string_view b) { state.md5.Update(b); });
    state.blake2b_helper =
        std::make_unique<DigestHelper>([&state](std::string_view b) { state.UpdateBlake2b(b); });
  }
  state.md5_helper->Start(bytes);
  state.blake2b_helper->Start(bytes);
  state.sha256.Update(bytes);
  state.md5_helper->Wait();
  state.blake2b_helper->Wait();
}

Digests Hasher::Finish() {
  PYDEPOT_CHECK(!state_->finished);
  state_->finished = true;
  Digests digests;
  digests.sha256 = state_->sha256.FinishHex();
  digests.md5 = state_->md5.FinishHex();
  std::array<unsigned char, kBlake2b256Bytes> blake2b{};
  PYDEPOT_CHECK(crypto_generichash_final(&state_->blake2b, blake2b.data(), blake2b.size()) == 0);
  digests.blake2b_256 =
      HexEncode(std::string_view(reinterpret_cast<const char*>(blake2b.data()), blake2b.size()));
  return digests;
}

Digests ComputeDigests(std::string_view bytes) {
  Hasher hasher;
  hasher.Update(bytes);
  return hasher.Finish();
}

std::string Sha256Hex(std::string_view bytes) {
  EvpDigest sha256(EVP_sha256());
  sha256.Update(bytes);
  return sha256.FinishHex();
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The lengths are public (digest sizes); only the bytes must not leak through timing.
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomBytes(std::size_t n) {
  RequireSodium();
  std::string bytes(n, '\0');
  if (n > 0) {
    randombytes_buf(bytes.data(), n);
  }
  return bytes;
}

std::string RandomPassword(std::size_t length) {
  // 64 symbols, so the low 6 bits of a random byte pick one without modulo bias.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  static_assert(sizeof(kAlphabet) - 1 == 64);
  std::string password = RandomBytes(length);
  for (char& c : password) {
    c = kAlphabet[static_cast<unsigned char>(c) & 0x3f];
  }
  return password;
}

}  // namespace pydepot
