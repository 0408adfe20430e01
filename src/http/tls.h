// Native TLS for the HTTP listener (`serve --tls-cert FILE --tls-key FILE`, docs/deploy.md
// "Native TLS"): reading and checking the PEM files, and the OpenSSL server context new
// connections use, replaced on a reload (SIGHUP) without a restart.
//
// The context: TLS 1.2 or 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD ciphers
// (AES-GCM, ChaCha20-Poly1305), OpenSSL's TLS 1.3 suites; no compression, no renegotiation;
// ALPN answers "http/1.1" when the client offers it (and nothing otherwise: HTTP/2 over TLS is
// not served).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace pydepot::http {

// What the certificate chain file says about its first (leaf) certificate.
struct TlsCertificateInfo {
  std::string subject;             // RFC 2253, e.g. "CN=pypi.example.com"
  std::vector<std::string> names;  // subjectAltName DNS names and IP addresses
  std::string not_before;          // "2025-01-31 12:00:00 UTC"
  std::string not_after;
  bool expired = false;        // not_after has passed
  bool not_yet_valid = false;  // not_before is still to come
  int intermediates = 0;       // certificates after the leaf

  // One line for logs and `config check`: subject, names, validity, chain length.
  std::string Summary() const;
};

// Reads the certificate chain (PEM: the leaf first, then its intermediates) and the private key
// (PEM, unencrypted) and checks that the key belongs to the leaf. The error says in plain words
// which file is wrong and how: missing or unreadable, no PEM certificate or key in it, a
// malformed one, an encrypted key, a key that does not match the certificate. An expired
// certificate is not an error here (see TlsCertificateInfo::expired). Only one of the two
// given (the other "") is an error that names the missing one.
StatusOr<TlsCertificateInfo> CheckTlsFiles(const std::string& cert_file,
                                           const std::string& key_file);

// The server's TLS context, built from the two files. Thread-safe: Current() is taken by each
// new connection, Reload() may run on any thread meanwhile.
class TlsConfig {
 public:
  // Reads and checks the files (as CheckTlsFiles) and builds the context.
  static StatusOr<std::unique_ptr<TlsConfig>> Load(std::string cert_file, std::string key_file);

  // Reads the files again. On success, connections accepted from now on use the new
  // certificate and key (open ones keep theirs); on failure, the previous ones stay in use and
  // the error says why.
  StatusOr<TlsCertificateInfo> Reload();

  // The context for a new connection; the connection keeps it alive as long as it needs it.
  std::shared_ptr<boost::asio::ssl::context> Current() const;
  TlsCertificateInfo info() const;
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

 private:
  TlsConfig(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
  TlsCertificateInfo info_;                             // guarded by mu_
};

}  // namespace pydepot::http
