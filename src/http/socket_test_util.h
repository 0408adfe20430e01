// Test-only helpers shared by the server tests (server_test, h2c_test, tls_test): a raw loopback
// connection and an authenticator whose password hashes cost next to nothing.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "auth/auth.h"
#include "gtest/gtest.h"
#include "storage/storage.h"

namespace pydepot::http::testing {

// A TCP connection from `source` (any address of 127/8) to 127.0.0.1:`port`, with a 5 s receive
// timeout, or -1.
inline int ConnectLoopback(std::uint16_t port, const char* source = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof(remote)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// An authenticator on `storage` with libsodium's cheapest argon2id cost, so tests hash fast.
inline std::unique_ptr<auth::Authenticator> CheapAuthenticator(storage::Storage& storage) {
  auth::AuthenticatorOptions options;
  options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
  options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
  auto authenticator = auth::Authenticator::Create(storage, options);
  EXPECT_TRUE(authenticator.has_value());
  return authenticator.has_value() ? *std::move(authenticator) : nullptr;
}

}  // namespace pydepot::http::testing
