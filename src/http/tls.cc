#include "http/tls.h"

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace pydepot::http {
namespace {

namespace ssl = boost::asio::ssl;

// A chain or key file is a few KiB; anything this large is not one.
constexpr std::size_t kMaxPemBytes = 1 << 20;

// TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher, the current
// "intermediate" recommendation without the DHE suites. TLS 1.3 keeps OpenSSL's defaults
// (AES-GCM and ChaCha20-Poly1305).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The reason of OpenSSL's most recent error (the queue is cleared), or `fallback`.
std::string OpenSslReason(std::string_view fallback) {
  const unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  if (error == 0) {
    return std::string(fallback);
  }
  const char* reason = ERR_reason_error_string(error);
  return reason != nullptr ? std::string(reason) : std::string(fallback);
}

StatusOr<std::string> ReadPemFile(std::string_view what, const std::string& path) {
  if (path.empty()) {
    return InvalidArgumentError(std::string(what) + ": no file given");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::error_code ec(errno, std::generic_category());
    return InvalidArgumentError(std::string(what) + " " + path +
                                ": cannot read it: " + ec.message());
  }
  std::string text;
  std::array<char, 8192> chunk{};
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPemBytes) {
      return InvalidArgumentError(std::string(what) + " " + path +
                                  ": larger than 1 MiB: not a PEM file");
    }
  }
  if (in.bad()) {
    return InvalidArgumentError(std::string(what) + " " + path + ": cannot read it");
  }
  return text;
}

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Keys are never asked a passphrase for (OpenSSL's default would prompt on the terminal).
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

std::string FormatTime(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return "(unknown)";
  }
  std::array<char, 32> out{};
  const std::size_t n = std::strftime(out.data(), out.size(), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(out.data(), n);
}

std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    return "";
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return length > 0 ? std::string(data, static_cast<std::size_t>(length)) : std::string();
}

std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) {
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<std::size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      std::array<char, INET6_ADDRSTRLEN> text{};
      if ((length == 4 || length == 16) &&
          ::inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text.data(),
                      text.size()) != nullptr) {
        out.emplace_back(text.data());
      }
    }
  }
  return out;
}

// The two files, parsed and checked against each other.
struct Parsed {
  X509Ptr leaf;
  std::vector<X509Ptr> intermediates;
  PkeyPtr key;
  TlsCertificateInfo info;
};

StatusOr<Parsed> Parse(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) {
    return InvalidArgumentError(std::string(cert_file.empty()
                                                ? "--tls-key is set but --tls-cert is not"
                                                : "--tls-cert is set but --tls-key is not") +
                                ": native TLS needs the certificate chain and its private key");
  }
  ERR_clear_error();
  auto cert_text = ReadPemFile("tls-cert", cert_file);
  if (!cert_text.has_value()) {
    return cert_text.error();
  }
  auto key_text = ReadPemFile("tls-key", key_file);
  if (!key_text.has_value()) {
    return key_text.error();
  }
  Parsed parsed;
  {
    BioPtr bio = MemoryBio(*cert_text);
    std::vector<X509Ptr> certs;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      certs.emplace_back(cert);
    }
    // The loop ends at the end of the file (no further BEGIN line), or at a broken block.
    const unsigned long error = ERR_peek_last_error();
    const bool clean_end = error == 0 || (ERR_GET_LIB(error) == ERR_LIB_PEM &&
                                          ERR_GET_REASON(error) == PEM_R_NO_START_LINE);
    if (!clean_end) {
      return InvalidArgumentError("tls-cert " + cert_file + ": certificate " +
                                  std::to_string(certs.size() + 1) +
                                  " of the file is malformed: " + OpenSslReason("bad PEM"));
    }
    ERR_clear_error();
    if (certs.empty()) {
      return InvalidArgumentError(
          "tls-cert " + cert_file +
          ": no PEM certificate in it (expected -----BEGIN CERTIFICATE-----: the server's "
          "certificate first, then its intermediates)");
    }
    parsed.leaf = std::move(certs.front());
    for (std::size_t i = 1; i < certs.size(); ++i) {
      parsed.intermediates.push_back(std::move(certs[i]));
    }
  }
  {
    BioPtr bio = MemoryBio(*key_text);
    parsed.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!parsed.key) {
      ERR_clear_error();
      if (key_text->find("ENCRYPTED") != std::string::npos) {
        return InvalidArgumentError("tls-key " + key_file +
                                    ": the private key is encrypted; pydepot reads unencrypted "
                                    "keys only (decrypt it: openssl pkey -in KEY -out KEY.pem)");
      }
      if (key_text->find("-----BEGIN") == std::string::npos) {
        return InvalidArgumentError("tls-key " + key_file +
                                    ": no PEM private key in it (expected -----BEGIN PRIVATE "
                                    "KEY----- or -----BEGIN RSA/EC PRIVATE KEY-----)");
      }
      return InvalidArgumentError("tls-key " + key_file +
                                  ": no readable PEM private key in it (a certificate, or a "
                                  "malformed key?)");
    }
  }
  if (X509_check_private_key(parsed.leaf.get(), parsed.key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("tls-key " + key_file + " does not match the certificate in " +
                                cert_file +
                                " (the key is not the one the certificate was issued for)");
  }
  TlsCertificateInfo& info = parsed.info;
  info.subject = Subject(parsed.leaf.get());
  info.names = AltNames(parsed.leaf.get());
  info.not_before = FormatTime(X509_get0_notBefore(parsed.leaf.get()));
  info.not_after = FormatTime(X509_get0_notAfter(parsed.leaf.get()));
  info.expired = X509_cmp_current_time(X509_get0_notAfter(parsed.leaf.get())) < 0;
  info.not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(parsed.leaf.get())) > 0;
  info.intermediates = static_cast<int>(parsed.intermediates.size());
  ERR_clear_error();
  return parsed;
}

// ALPN: "http/1.1" when the client offers it; otherwise no protocol is selected and the
// handshake goes on (a client offering only h2 finds out from the answer).
int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void* /*arg*/) {
  constexpr std::string_view kHttp11 = "http/1.1";
  unsigned int at = 0;
  while (at < inlen) {
    const unsigned int length = in[at];
    if (length == 0 || at + 1 + length > inlen) {
      break;  // malformed list
    }
    const std::string_view offered(reinterpret_cast<const char*>(in + at + 1), length);
    if (offered == kHttp11) {
      *out = in + at + 1;
      *outlen = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

StatusOr<std::shared_ptr<ssl::context>> BuildContext(const Parsed& parsed,
                                                     const std::string& cert_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    return InternalError("TLS: cannot create an OpenSSL context: " + OpenSslReason("?"));
  }
  // Owns ctx from here on.
  auto context = std::make_shared<ssl::context>(ctx);
  const auto fail = [&](std::string_view what) {
    return InvalidArgumentError("tls-cert " + cert_file + ": " + std::string(what) + ": " +
                                OpenSslReason("OpenSSL refused it"));
  };
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return fail("cannot require TLS 1.2");
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Idle keep-alive connections hold no record buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return fail("cannot set the TLS 1.2 ciphers");
  }
  static constexpr unsigned char kSessionContext[] = "pydepot";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate(ctx, parsed.leaf.get()) != 1) {
    return fail("the certificate cannot be used");
  }
  for (const X509Ptr& cert : parsed.intermediates) {
    if (SSL_CTX_add1_chain_cert(ctx, cert.get()) != 1) {
      return fail("an intermediate certificate cannot be used");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, parsed.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return fail("the private key cannot be used with it");
  }
  ERR_clear_error();
  return context;
}

}  // namespace

std::string TlsCertificateInfo::Summary() const {
  std::string out = subject.empty() ? "(no subject)" : subject;
  if (!names.empty()) {
    out += " for ";
    for (std::size_t i = 0; i < names.size(); ++i) {
      out += (i == 0 ? "" : ", ") + names[i];
    }
  }
  out += "; valid " + not_before + " to " + not_after;
  if (expired) {
    out += " (EXPIRED)";
  } else if (not_yet_valid) {
    out += " (NOT YET VALID)";
  }
  out += intermediates == 0 ? "; no intermediates"
                            : "; " + std::to_string(intermediates) + " intermediate(s)";
  return out;
}

StatusOr<TlsCertificateInfo> CheckTlsFiles(const std::string& cert_file,
                                           const std::string& key_file) {
  auto parsed = Parse(cert_file, key_file);
  if (!parsed.has_value()) {
    return parsed.error();
  }
  return std::move(parsed->info);
}

StatusOr<std::unique_ptr<TlsConfig>> TlsConfig::Load(std::string cert_file, std::string key_file) {
  std::unique_ptr<TlsConfig> config(new TlsConfig(std::move(cert_file), std::move(key_file)));
  auto info = config->Reload();
  if (!info.has_value()) {
    return info.error();
  }
  return config;
}

StatusOr<TlsCertificateInfo> TlsConfig::Reload() {
  auto parsed = Parse(cert_file_, key_file_);
  if (!parsed.has_value()) {
    return parsed.error();
  }
  auto context = BuildContext(*parsed, cert_file_);
  if (!context.has_value()) {
    return context.error();
  }
  std::lock_guard lock(mu_);
  current_ = *std::move(context);
  info_ = parsed->info;
  return info_;
}

std::shared_ptr<boost::asio::ssl::context> TlsConfig::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

TlsCertificateInfo TlsConfig::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

}  // namespace pydepot::http
