// Credentials of the GCS backend, found where pydepot runs, as Google's own client libraries
// find them: a key file named by GOOGLE_APPLICATION_CREDENTIALS (a service-account key, whose
// RS256-signed JWT is exchanged at the key's token_uri, or an authorized-user file with a
// refresh token), gcloud's application-default credentials file, or the metadata server of GCE,
// Cloud Run and App Engine. Access tokens are cached and refreshed before they expire.
// Internal to src/storage. TokenCache and RsaSigner are thread-safe; the functions are too.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/gcs_http.h"

namespace pydepot::storage::gcs {

// The OAuth2 scope pydepot asks for: read and write objects, nothing else.
inline constexpr std::string_view kStorageScope =
    "https://www.googleapis.com/auth/devstorage.read_write";
inline constexpr std::string_view kDefaultTokenUri = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view kDefaultMetadataHost = "metadata.google.internal";
// A cached token is replaced this long before it expires (or at half its life, if shorter).
inline constexpr std::chrono::seconds kTokenRefreshMargin{300};

using WallClock = std::function<std::chrono::system_clock::time_point()>;
// Looks up an environment variable; nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();
WallClock SystemWallClock();

// Standard base64 with padding, and the URL-safe alphabet without padding (JWTs).
std::string Base64Encode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);

// An RSA private key that signs with RSASSA-PKCS1-v1_5 over SHA-256 (JWT "RS256", GCS V4
// "GOOG4-RSA-SHA256"). Thread-safe.
class RsaSigner {
 public:
  // From a PEM private key (PKCS#8 "BEGIN PRIVATE KEY", as in service-account keys, or PKCS#1).
  // kInvalidArgument when it is not an RSA private key.
  static StatusOr<std::unique_ptr<RsaSigner>> FromPem(std::string_view pem);
  ~RsaSigner();
  RsaSigner(const RsaSigner&) = delete;
  RsaSigner& operator=(const RsaSigner&) = delete;
  RsaSigner(RsaSigner&&) = delete;
  RsaSigner& operator=(RsaSigner&&) = delete;

  // The raw signature of `data`. kInternal if OpenSSL fails.
  StatusOr<std::string> Sign(std::string_view data) const;

 private:
  struct Key;
  explicit RsaSigner(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
  mutable std::mutex mu_;
};

struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_id;
  std::string private_key;  // PEM
  std::string token_uri;    // kDefaultTokenUri when the file has none
};

struct AuthorizedUser {
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
  std::string token_uri;
};

// A credentials JSON file: "type" is "service_account" (then `service_account` is filled) or
// "authorized_user" (`authorized_user`). kInvalidArgument for anything else, naming `origin`.
struct CredentialsFile {
  std::string type;
  ServiceAccountKey service_account;
  AuthorizedUser authorized_user;
};
StatusOr<CredentialsFile> ParseCredentialsFile(std::string_view json, std::string_view origin);

// The signed JWT a service account trades for an access token (RFC 7523): header
// {"alg":"RS256","typ":"JWT","kid":private_key_id}, claims iss=client_email, scope, aud=token_uri,
// iat=now, exp=now+1h.
StatusOr<std::string> MakeJwtAssertion(const ServiceAccountKey& key, const RsaSigner& signer,
                                       std::string_view scope,
                                       std::chrono::system_clock::time_point now);

struct AccessToken {
  std::string value;
  std::chrono::system_clock::time_point expiry;
};

// Where access tokens come from. Fetch is called by TokenCache under its lock, so an
// implementation need not be thread-safe on its own.
class TokenSource {
 public:
  TokenSource() = default;
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;
  TokenSource(TokenSource&&) = delete;
  TokenSource& operator=(TokenSource&&) = delete;
  virtual ~TokenSource() = default;
  // A new token. kPermissionDenied when the credentials are refused; kUnavailable when the
  // token service cannot be reached or fails (after retries); kInternal for an odd answer.
  virtual StatusOr<AccessToken> Fetch() = 0;
  // "service account NAME (key file PATH)", "the metadata server at HOST", ...
  virtual std::string Describe() const = 0;
};

std::unique_ptr<TokenSource> NewServiceAccountTokenSource(ServiceAccountKey key,
                                                          std::shared_ptr<const RsaSigner> signer,
                                                          std::string origin,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry);
std::unique_ptr<TokenSource> NewAuthorizedUserTokenSource(AuthorizedUser user, std::string origin,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry);
// `host` is "host[:port]", as GCE_METADATA_HOST holds it.
std::unique_ptr<TokenSource> NewMetadataServerTokenSource(std::string host,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry);

// Caches one token from `source`. Thread-safe: one caller fetches while the others wait for it.
class TokenCache {
 public:
  TokenCache(std::unique_ptr<TokenSource> source, WallClock clock,
             std::chrono::seconds refresh_margin = kTokenRefreshMargin);

  // A token that is not close to expiry, fetched when the cached one is within the margin of
  // it (or at half its life, for short-lived tokens). If that fetch fails while the cached
  // token is still valid, the cached token is returned; otherwise the fetch's error.
  StatusOr<std::string> Token();

  // Drops `token` if it is the cached one (the server refused it), so the next Token() fetches.
  void Invalidate(std::string_view token);

  std::string Describe() const { return source_->Describe(); }

 private:
  std::unique_ptr<TokenSource> source_;
  WallClock clock_;
  std::chrono::seconds margin_;
  std::mutex mu_;  // held across a fetch
  std::optional<AccessToken> token_;
  std::chrono::system_clock::time_point refresh_at_;
};

struct Credentials {
  std::shared_ptr<TokenCache> tokens;  // null: send no Authorization (emulator only)
  // With a service-account key: signs V4 URLs as `signer_email`.
  std::shared_ptr<const RsaSigner> signer;
  std::string signer_email;
  std::string description;  // what was chosen, for Describe() and messages
};

// Picks the credentials, in this order:
//  1. GOOGLE_APPLICATION_CREDENTIALS, when set and not empty: that file, which must be a
//     service-account key or an authorized-user file (else kInvalidArgument, no fallback);
//  2. gcloud's application-default credentials, $CLOUDSDK_CONFIG or $HOME/.config/gcloud
//     /application_default_credentials.json, when the file exists (skipped with `emulator`:
//     tests must never send real credentials to Google);
//  3. the metadata server at $GCE_METADATA_HOST, else metadata.google.internal (with
//     `emulator`, only when GCE_METADATA_HOST is set; otherwise no credentials at all).
// Nothing is fetched here: the first request fetches the first token.
StatusOr<Credentials> SelectCredentials(const EnvLookup& env, bool emulator,
                                        std::shared_ptr<HttpClient> http, WallClock clock,
                                        RetryPolicy retry);

}  // namespace pydepot::storage::gcs
