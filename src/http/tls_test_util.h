// Test support for TLS (http_test, cli_test; header-only, not part of the module): keys and
// short-lived certificates made at test time with OpenSSL's C API, as PEM text. No key is ever
// checked in.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gtest/gtest.h"

namespace pydepot::http::testing {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Cert = std::unique_ptr<X509, X509Deleter>;

// A fresh P-256 key (fast to make).
inline Pkey MakeKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  EVP_PKEY* key = nullptr;
  EXPECT_NE(ctx, nullptr);
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1), 1);
  EXPECT_EQ(EVP_PKEY_keygen(ctx, &key), 1);
  EVP_PKEY_CTX_free(ctx);
  return Pkey(key);
}

inline void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `common_name` and `key`, valid from now + not_before_seconds to now +
// not_after_seconds, signed by `issuer`/`issuer_key` (both null: self-signed). A CA when `ca`;
// else a server certificate for 127.0.0.1 and localhost.
inline Cert MakeCert(const std::string& common_name, EVP_PKEY* key, X509* issuer,
                     EVP_PKEY* issuer_key, bool ca = false, long not_before_seconds = -60,
                     long not_after_seconds = 3600) {
  static std::atomic<long> serial{1000};
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_seconds);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer != nullptr ? issuer : cert;
  if (ca) {
    AddExtension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert, signer, NID_basic_constraints, "CA:FALSE");
    AddExtension(cert, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    AddExtension(cert, signer, NID_ext_key_usage, "serverAuth");
  }
  AddExtension(cert, signer, NID_subject_key_identifier, "hash");
  EXPECT_GT(X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return Cert(cert);
}

inline std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_X509(bio, cert), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return out;
}

// The key as PEM (PKCS#8); encrypted with AES-256 under `passphrase` when one is given.
inline std::string KeyPem(EVP_PKEY* key, const std::string& passphrase = "") {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase.empty()) {
    EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  } else {
    EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase.data(),
                                            static_cast<int>(passphrase.size()), nullptr, nullptr),
              1);
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return out;
}

// A self-signed server certificate and its key, as PEM.
struct TestPair {
  std::string cert_pem;
  std::string key_pem;
};
inline TestPair SelfSigned(const std::string& common_name, long not_before_seconds = -60,
                           long not_after_seconds = 3600) {
  Pkey key = MakeKey();
  Cert cert = MakeCert(common_name, key.get(), nullptr, nullptr, false, not_before_seconds,
                       not_after_seconds);
  return {CertPem(cert.get()), KeyPem(key.get())};
}

}  // namespace pydepot::http::testing
