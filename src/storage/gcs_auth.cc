#include "storage/gcs_auth.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include <boost/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/status_macros.h"

namespace pydepot::storage::gcs {
namespace {

namespace json = boost::json;

constexpr std::chrono::seconds kTokenRequestTimeout{30};
constexpr std::chrono::seconds kJwtLifetime{3600};

// Form encoding (application/x-www-form-urlencoded) of one value: all but unreserved escaped.
std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string StringField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_string()) {
    return {};
  }
  return std::string(value->get_string());
}

// Reads a token answer: {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}.
StatusOr<AccessToken> ParseTokenAnswer(std::string_view what, const HttpResponse& response,
                                       std::chrono::system_clock::time_point now) {
  if (response.status != 200) {
    Status status = HttpError(what, response);
    // The token service refusing the credentials is 400 (invalid_grant) or 401.
    if (response.status == 400 || response.status == 401 || response.status == 403) {
      return PermissionDeniedError(status.message());
    }
    return status;
  }
  boost::system::error_code ec;
  json::value answer = json::parse(response.body, ec);
  if (ec || !answer.is_object()) {
    return InternalError(std::string(what) + ": the answer is not a JSON object");
  }
  const json::object& object = answer.get_object();
  AccessToken token;
  token.value = StringField(object, "access_token");
  const json::value* expires_in = object.if_contains("expires_in");
  if (token.value.empty() || expires_in == nullptr || !expires_in->is_number()) {
    return InternalError(std::string(what) + ": no access_token and expires_in in the answer");
  }
  std::int64_t seconds = expires_in->is_int64() ? expires_in->get_int64()
                         : expires_in->is_uint64()
                             ? static_cast<std::int64_t>(expires_in->get_uint64())
                             : static_cast<std::int64_t>(expires_in->get_double());
  token.expiry = now + std::chrono::seconds(seconds);
  return token;
}

class ServiceAccountTokenSource final : public TokenSource {
 public:
  ServiceAccountTokenSource(ServiceAccountKey key, std::shared_ptr<const RsaSigner> signer,
                            std::string origin, std::shared_ptr<HttpClient> http, WallClock clock,
                            RetryPolicy retry)
      : key_(std::move(key)),
        signer_(std::move(signer)),
        origin_(std::move(origin)),
        http_(std::move(http)),
        clock_(std::move(clock)),
        retry_(retry) {}

  StatusOr<AccessToken> Fetch() override {
    std::string what = "gcs token for " + key_.client_email + " from " + key_.token_uri;
    std::chrono::system_clock::time_point sent;
    auto make = [&]() -> StatusOr<HttpRequest> {
      sent = clock_();  // a fresh iat for every attempt
      PYDEPOT_ASSIGN_OR_RETURN(std::string jwt,
                               MakeJwtAssertion(key_, *signer_, kStorageScope, sent));
      HttpRequest request;
      request.method = "POST";
      request.url = key_.token_uri;
      request.headers = {"Content-Type: application/x-www-form-urlencoded"};
      request.body = "grant_type=" + FormEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                     "&assertion=" + FormEncode(jwt);
      request.timeout = kTokenRequestTimeout;
      return request;
    };
    PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse answer,
                             SendWithRetry(*http_, make, retry_, /*idempotent=*/true));
    return ParseTokenAnswer(what, answer.response, sent);
  }

  std::string Describe() const override {
    return "service account " + key_.client_email + " (key file " + origin_ + ")";
  }

 private:
  ServiceAccountKey key_;
  std::shared_ptr<const RsaSigner> signer_;
  std::string origin_;
  std::shared_ptr<HttpClient> http_;
  WallClock clock_;
  RetryPolicy retry_;
};

class AuthorizedUserTokenSource final : public TokenSource {
 public:
  AuthorizedUserTokenSource(AuthorizedUser user, std::string origin,
                            std::shared_ptr<HttpClient> http, WallClock clock, RetryPolicy retry)
      : user_(std::move(user)),
        origin_(std::move(origin)),
        http_(std::move(http)),
        clock_(std::move(clock)),
        retry_(retry) {}

  StatusOr<AccessToken> Fetch() override {
    std::string what = "gcs token (refresh token of " + origin_ + ") from " + user_.token_uri;
    std::chrono::system_clock::time_point sent = clock_();
    auto make = [&]() -> StatusOr<HttpRequest> {
      HttpRequest request;
      request.method = "POST";
      request.url = user_.token_uri;
      request.headers = {"Content-Type: application/x-www-form-urlencoded"};
      request.body = "grant_type=refresh_token&client_id=" + FormEncode(user_.client_id) +
                     "&client_secret=" + FormEncode(user_.client_secret) +
                     "&refresh_token=" + FormEncode(user_.refresh_token);
      request.timeout = kTokenRequestTimeout;
      return request;
    };
    PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse answer,
                             SendWithRetry(*http_, make, retry_, /*idempotent=*/true));
    return ParseTokenAnswer(what, answer.response, sent);
  }

  std::string Describe() const override { return "authorized user (" + origin_ + ")"; }

 private:
  AuthorizedUser user_;
  std::string origin_;
  std::shared_ptr<HttpClient> http_;
  WallClock clock_;
  RetryPolicy retry_;
};

class MetadataServerTokenSource final : public TokenSource {
 public:
  MetadataServerTokenSource(std::string host, std::shared_ptr<HttpClient> http, WallClock clock,
                            RetryPolicy retry)
      : host_(std::move(host)), http_(std::move(http)), clock_(std::move(clock)), retry_(retry) {}

  StatusOr<AccessToken> Fetch() override {
    std::string what = "gcs token from the metadata server at " + host_;
    std::chrono::system_clock::time_point sent = clock_();
    auto make = [&]() -> StatusOr<HttpRequest> {
      HttpRequest request;
      request.url =
          "http://" + host_ + "/computeMetadata/v1/instance/service-accounts/default/token";
      request.headers = {"Metadata-Flavor: Google"};
      request.timeout = kTokenRequestTimeout;
      request.no_proxy = true;
      return request;
    };
    StatusOr<RetriedResponse> answer = SendWithRetry(*http_, make, retry_, /*idempotent=*/true);
    if (!answer.has_value()) {
      return UnavailableError(
          what +
          " did not answer (not on Google Cloud? then set GOOGLE_APPLICATION_CREDENTIALS "
          "to a service-account key file): " +
          answer.error().message());
    }
    return ParseTokenAnswer(what, answer->response, sent);
  }

  std::string Describe() const override { return "the metadata server at " + host_; }

 private:
  std::string host_;
  std::shared_ptr<HttpClient> http_;
  WallClock clock_;
  RetryPolicy retry_;
};

StatusOr<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError(std::string(what) + " " + path + ": cannot be read");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return InvalidArgumentError(std::string(what) + " " + path + ": read error");
  }
  return contents.str();
}

// Credentials from a key or authorized-user file.
StatusOr<Credentials> CredentialsFromFile(const std::string& path, std::string_view what,
                                          const std::shared_ptr<HttpClient>& http,
                                          const WallClock& clock, const RetryPolicy& retry) {
  PYDEPOT_ASSIGN_OR_RETURN(std::string contents, ReadFile(path, what));
  PYDEPOT_ASSIGN_OR_RETURN(CredentialsFile file, ParseCredentialsFile(contents, path));
  Credentials credentials;
  std::unique_ptr<TokenSource> source;
  if (file.type == "service_account") {
    StatusOr<std::unique_ptr<RsaSigner>> signer =
        RsaSigner::FromPem(file.service_account.private_key);
    if (!signer.has_value()) {
      return InvalidArgumentError(std::string(what) + " " + path +
                                  ": private_key: " + signer.error().message());
    }
    credentials.signer = std::move(*signer);
    credentials.signer_email = file.service_account.client_email;
    source = NewServiceAccountTokenSource(std::move(file.service_account), credentials.signer, path,
                                          http, clock, retry);
  } else {
    source =
        NewAuthorizedUserTokenSource(std::move(file.authorized_user), path, http, clock, retry);
  }
  credentials.description = source->Describe();
  credentials.tokens = std::make_shared<TokenCache>(std::move(source), clock);
  return credentials;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read at open, nothing here sets variables
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

WallClock SystemWallClock() {
  return [] { return std::chrono::system_clock::now(); };
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out = Base64Encode(bytes);
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return out;
}

struct RsaSigner::Key {
  EVP_PKEY* pkey = nullptr;
  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  Key(Key&&) = delete;
  Key& operator=(Key&&) = delete;
  ~Key() { EVP_PKEY_free(pkey); }
};

RsaSigner::RsaSigner(std::unique_ptr<Key> key) : key_(std::move(key)) {}
RsaSigner::~RsaSigner() = default;

StatusOr<std::unique_ptr<RsaSigner>> RsaSigner::FromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) {
    return InternalError("BIO_new_mem_buf failed");
  }
  auto key = std::make_unique<Key>();
  // A null passphrase callback with an empty passphrase: an encrypted key fails, never prompts.
  key->pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, const_cast<char*>(""));
  BIO_free(bio);
  if (key->pkey == nullptr) {
    return InvalidArgumentError("not a PEM private key");
  }
  if (EVP_PKEY_base_id(key->pkey) != EVP_PKEY_RSA) {
    return InvalidArgumentError("not an RSA key (service-account keys are RSA)");
  }
  return std::unique_ptr<RsaSigner>(new RsaSigner(std::move(key)));
}

StatusOr<std::string> RsaSigner::Sign(std::string_view data) const {
  std::lock_guard<std::mutex> lock(mu_);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    return InternalError("RS256: EVP_MD_CTX_new failed");
  }
  std::string signature;
  std::size_t length = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    return InternalError("RS256: signing failed in OpenSSL");
  }
  return signature;
}

StatusOr<CredentialsFile> ParseCredentialsFile(std::string_view text, std::string_view origin) {
  std::string where = "credentials file " + std::string(origin);
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return InvalidArgumentError(where + ": not a JSON object");
  }
  const json::object& object = value.get_object();
  CredentialsFile file;
  file.type = StringField(object, "type");
  auto require = [&](std::string_view field) -> StatusOr<std::string> {
    std::string text_value = StringField(object, field);
    if (text_value.empty()) {
      return InvalidArgumentError(where + ": no \"" + std::string(field) + "\"");
    }
    return text_value;
  };
  std::string token_uri = StringField(object, "token_uri");
  if (token_uri.empty()) {
    token_uri = kDefaultTokenUri;
  }
  if (file.type == "service_account") {
    ServiceAccountKey& key = file.service_account;
    PYDEPOT_ASSIGN_OR_RETURN(key.client_email, require("client_email"));
    PYDEPOT_ASSIGN_OR_RETURN(key.private_key, require("private_key"));
    key.private_key_id = StringField(object, "private_key_id");
    key.token_uri = token_uri;
    return file;
  }
  if (file.type == "authorized_user") {
    AuthorizedUser& user = file.authorized_user;
    PYDEPOT_ASSIGN_OR_RETURN(user.client_id, require("client_id"));
    PYDEPOT_ASSIGN_OR_RETURN(user.client_secret, require("client_secret"));
    PYDEPOT_ASSIGN_OR_RETURN(user.refresh_token, require("refresh_token"));
    user.token_uri = token_uri;
    return file;
  }
  return InvalidArgumentError(where + ": type \"" + file.type +
                              "\" is not supported (use a service-account key, \"type\": "
                              "\"service_account\", or an authorized_user file)");
}

StatusOr<std::string> MakeJwtAssertion(const ServiceAccountKey& key, const RsaSigner& signer,
                                       std::string_view scope,
                                       std::chrono::system_clock::time_point now) {
  json::object header;
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  if (!key.private_key_id.empty()) {
    header["kid"] = key.private_key_id;
  }
  std::int64_t iat =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::object claims;
  claims["iss"] = key.client_email;
  claims["scope"] = scope;
  claims["aud"] = key.token_uri;
  claims["iat"] = iat;
  claims["exp"] = iat + kJwtLifetime.count();
  std::string signing_input =
      Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(claims));
  PYDEPOT_ASSIGN_OR_RETURN(std::string signature, signer.Sign(signing_input));
  return signing_input + "." + Base64UrlEncode(signature);
}

std::unique_ptr<TokenSource> NewServiceAccountTokenSource(ServiceAccountKey key,
                                                          std::shared_ptr<const RsaSigner> signer,
                                                          std::string origin,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry) {
  return std::make_unique<ServiceAccountTokenSource>(std::move(key), std::move(signer),
                                                     std::move(origin), std::move(http),
                                                     std::move(clock), retry);
}

std::unique_ptr<TokenSource> NewAuthorizedUserTokenSource(AuthorizedUser user, std::string origin,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry) {
  return std::make_unique<AuthorizedUserTokenSource>(std::move(user), std::move(origin),
                                                     std::move(http), std::move(clock), retry);
}

std::unique_ptr<TokenSource> NewMetadataServerTokenSource(std::string host,
                                                          std::shared_ptr<HttpClient> http,
                                                          WallClock clock, RetryPolicy retry) {
  return std::make_unique<MetadataServerTokenSource>(std::move(host), std::move(http),
                                                     std::move(clock), retry);
}

TokenCache::TokenCache(std::unique_ptr<TokenSource> source, WallClock clock,
                       std::chrono::seconds refresh_margin)
    : source_(std::move(source)), clock_(std::move(clock)), margin_(refresh_margin) {}

StatusOr<std::string> TokenCache::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_();
  if (token_.has_value() && now < refresh_at_) {
    return token_->value;
  }
  StatusOr<AccessToken> fresh = source_->Fetch();
  if (!fresh.has_value()) {
    if (token_.has_value() && now < token_->expiry - std::chrono::seconds(10)) {
      return token_->value;  // still good for a while: the next call tries again
    }
    return fresh.error();
  }
  // Refresh at the margin before expiry, or at half the token's life if that comes later.
  auto life = fresh->expiry - now;
  auto margin = std::min<std::chrono::system_clock::duration>(margin_, life / 2);
  refresh_at_ = fresh->expiry - margin;
  token_ = *std::move(fresh);
  return token_->value;
}

void TokenCache::Invalidate(std::string_view token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_.has_value() && token_->value == token) {
    token_.reset();
  }
}

StatusOr<Credentials> SelectCredentials(const EnvLookup& env, bool emulator,
                                        std::shared_ptr<HttpClient> http, WallClock clock,
                                        RetryPolicy retry) {
  auto get = [&env](std::string_view name) -> std::string {
    std::optional<std::string> value = env(name);
    return value.has_value() ? *value : std::string();
  };
  if (std::string path = get("GOOGLE_APPLICATION_CREDENTIALS"); !path.empty()) {
    return CredentialsFromFile(path, "GOOGLE_APPLICATION_CREDENTIALS", http, clock, retry);
  }
  if (!emulator) {
    std::filesystem::path adc;
    if (std::string config = get("CLOUDSDK_CONFIG"); !config.empty()) {
      adc = std::filesystem::path(config) / "application_default_credentials.json";
    } else if (std::string home = get("HOME"); !home.empty()) {
      adc = std::filesystem::path(home) / ".config/gcloud/application_default_credentials.json";
    }
    std::error_code ec;
    if (!adc.empty() && std::filesystem::is_regular_file(adc, ec)) {
      return CredentialsFromFile(adc.string(), "application default credentials", http, clock,
                                 retry);
    }
  }
  std::string host = get("GCE_METADATA_HOST");
  if (host.empty() && emulator) {
    Credentials anonymous;
    anonymous.description = "no credentials (emulator)";
    return anonymous;
  }
  if (host.empty()) {
    host = kDefaultMetadataHost;
  }
  Credentials credentials;
  std::unique_ptr<TokenSource> source =
      NewMetadataServerTokenSource(host, std::move(http), clock, retry);
  credentials.description = source->Describe();
  credentials.tokens = std::make_shared<TokenCache>(std::move(source), std::move(clock));
  return credentials;
}

}  // namespace pydepot::storage::gcs
