// Streaming digests of uploaded files: sha256 and md5 (OpenSSL) and blake2b-256 (libsodium),
// computed in one pass, plus hex helpers and a constant-time compare. Hasher is not thread-safe
// (one per stream); the free functions are.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace pydepot {

// Starts libsodium once per process (thread-safe, cheap after the first call). kInternal when it
// cannot start. Hasher and the Random* functions call it and abort if it fails; callers that can
// report an error, such as a factory, call it first to fail cleanly instead.
Status InitCrypto();

struct Digests {
  std::string sha256;       // lowercase hex, 64 chars
  std::string md5;          // lowercase hex, 32 chars
  std::string blake2b_256;  // lowercase hex, 64 chars
};

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher(Hasher&&) = delete;
  Hasher& operator=(Hasher&&) = delete;

  void Update(std::string_view bytes);
  // Finishes every digest. REQUIRES: called once; no Update() after it.
  Digests Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Every digest of `bytes` at once.
Digests ComputeDigests(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);

std::string HexEncode(std::string_view bytes);

// Equal length and equal bytes, in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` bytes from the system CSPRNG, and a random password of `length` characters drawn uniformly
// from the URL-safe base64 alphabet [A-Za-z0-9_-] (6 bits each: use 20 or more characters).
std::string RandomBytes(std::size_t n);
std::string RandomPassword(std::size_t length);

}  // namespace pydepot
