// GCS credentials: base64, RS256 signing and the JWT (verified here with OpenSSL and the public
// key alone), credentials files, the token cache (with a fake clock), the order in which
// credentials are picked, and each token source against the stand-in, which verifies the JWT's
// signature itself.

#include "storage/gcs_auth.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/gcs_test_util.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage::gcs {
namespace {

using ::pydepot::storage::gcs::testing::FastRetry;
using ::pydepot::storage::gcs::testing::MapEnv;
using ::pydepot::storage::gcs::testing::StandIn;
using ::pydepot::storage::gcs::testing::TestRsaKeyPem;
using ::pydepot::storage::gcs::testing::WriteServiceAccountKey;
using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using TimePoint = std::chrono::system_clock::time_point;

std::string Base64UrlDecode(std::string text) {
  for (char& c : text) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  std::size_t padding = (4 - text.size() % 4) % 4;
  text.append(padding, '=');
  std::string out(text.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n) - padding);
  return out;
}

// Verifies an RS256 signature with only the public half of `private_pem`.
bool VerifyWithPublicKey(const std::string& private_pem, std::string_view data,
                         std::string_view signature) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* private_key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  BIO* public_pem = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(public_pem, private_key);
  EVP_PKEY_free(private_key);
  EVP_PKEY* public_key = PEM_read_bio_PUBKEY(public_pem, nullptr, nullptr, nullptr);
  BIO_free(public_pem);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = public_key != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, public_key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(public_key);
  return ok;
}

TEST(Base64Test, StandardAndUrlSafe) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
}

TEST(RsaSignerTest, SignsWhatThePublicKeyVerifies) {
  const std::string& pem = TestRsaKeyPem();
  auto signer = RsaSigner::FromPem(pem);
  ASSERT_THAT(signer, IsOk());
  auto signature = (*signer)->Sign("message");
  ASSERT_THAT(signature, IsOk());
  EXPECT_EQ(signature->size(), 256U);  // 2048-bit key
  EXPECT_TRUE(VerifyWithPublicKey(pem, "message", *signature));
  EXPECT_FALSE(VerifyWithPublicKey(pem, "messagE", *signature));
}

TEST(RsaSignerTest, RejectsWhatIsNotAnRsaPrivateKey) {
  EXPECT_THAT(RsaSigner::FromPem(""), HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaSigner::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
              HasCode(StatusCode::kInvalidArgument));
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
  std::string ec_pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  auto result = RsaSigner::FromPem(ec_pem);
  EXPECT_THAT(result, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(result.error().message(), HasSubstr("RSA"));
}

TEST(JwtTest, HeaderClaimsAndSignature) {
  ServiceAccountKey key;
  key.client_email = "pydepot@project.iam.gserviceaccount.com";
  key.private_key_id = "abc123";
  key.private_key = TestRsaKeyPem();
  key.token_uri = "https://oauth2.googleapis.com/token";
  auto signer = RsaSigner::FromPem(key.private_key);
  ASSERT_THAT(signer, IsOk());
  TimePoint now{std::chrono::seconds(1700000000)};
  auto jwt = MakeJwtAssertion(key, **signer, kStorageScope, now);
  ASSERT_THAT(jwt, IsOk());

  std::size_t first = jwt->find('.');
  std::size_t second = jwt->find('.', first + 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(jwt->find_first_of("=+/"), std::string::npos) << "base64url without padding";
  boost::json::value header = boost::json::parse(Base64UrlDecode(jwt->substr(0, first)));
  boost::json::value claims =
      boost::json::parse(Base64UrlDecode(jwt->substr(first + 1, second - first - 1)));
  EXPECT_EQ(header.at("alg"), "RS256");
  EXPECT_EQ(header.at("typ"), "JWT");
  EXPECT_EQ(header.at("kid"), "abc123");
  EXPECT_EQ(claims.at("iss"), "pydepot@project.iam.gserviceaccount.com");
  EXPECT_EQ(claims.at("scope"), "https://www.googleapis.com/auth/devstorage.read_write");
  EXPECT_EQ(claims.at("aud"), "https://oauth2.googleapis.com/token");
  EXPECT_EQ(claims.at("iat").to_number<std::int64_t>(), 1700000000);
  EXPECT_EQ(claims.at("exp").to_number<std::int64_t>(), 1700003600);

  std::string signature = Base64UrlDecode(jwt->substr(second + 1));
  EXPECT_TRUE(VerifyWithPublicKey(key.private_key, jwt->substr(0, second), signature));
}

TEST(CredentialsFileTest, ServiceAccountAndAuthorizedUser) {
  auto sa = ParseCredentialsFile(
      R"({"type": "service_account", "client_email": "a@b", "private_key": "PEM",
          "private_key_id": "k1"})",
      "key.json");
  ASSERT_THAT(sa, IsOk());
  EXPECT_EQ(sa->type, "service_account");
  EXPECT_EQ(sa->service_account.client_email, "a@b");
  EXPECT_EQ(sa->service_account.private_key_id, "k1");
  EXPECT_EQ(sa->service_account.token_uri, "https://oauth2.googleapis.com/token");

  auto user = ParseCredentialsFile(
      R"({"type": "authorized_user", "client_id": "id", "client_secret": "s",
          "refresh_token": "r", "token_uri": "http://127.0.0.1:1/token"})",
      "adc.json");
  ASSERT_THAT(user, IsOk());
  EXPECT_EQ(user->authorized_user.refresh_token, "r");
  EXPECT_EQ(user->authorized_user.token_uri, "http://127.0.0.1:1/token");
}

TEST(CredentialsFileTest, Rejects) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{"not json", "not a JSON object"},
           Case{"[]", "not a JSON object"},
           Case{R"({"type": "service_account", "private_key": "x"})", "client_email"},
           Case{R"({"type": "service_account", "client_email": "x"})", "private_key"},
           Case{R"({"type": "authorized_user", "client_id": "x", "client_secret": "y"})",
                "refresh_token"},
           Case{R"({"type": "external_account"})", "external_account"},
           Case{R"({})", "is not supported"},
       }) {
    auto result = ParseCredentialsFile(c.json, "f.json");
    EXPECT_THAT(result, HasCode(StatusCode::kInvalidArgument)) << c.json;
    if (!result.has_value()) {
      EXPECT_THAT(result.error().message(), HasSubstr(c.message));
      EXPECT_THAT(result.error().message(), HasSubstr("f.json"));
    }
  }
}

// --- The token cache -------------------------------------------------------------------------

class FakeClock {
 public:
  TimePoint Now() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(std::chrono::seconds by) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += by;
  }
  WallClock AsWallClock() {
    return [this] { return Now(); };
  }

 private:
  std::mutex mu_;
  TimePoint now_{std::chrono::seconds(1700000000)};
};

// Hands out "token-1", "token-2", ... living `lifetime`; fails while `fail` is set.
class FakeSource final : public TokenSource {
 public:
  FakeSource(FakeClock& clock, std::chrono::seconds lifetime, std::atomic<int>& fetches,
             std::atomic<bool>& fail)
      : clock_(clock), lifetime_(lifetime), fetches_(fetches), fail_(fail) {}

  StatusOr<AccessToken> Fetch() override {
    int n = ++fetches_;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (fail_) {
      return UnavailableError("token service down");
    }
    return AccessToken{"token-" + std::to_string(n), clock_.Now() + lifetime_};
  }
  std::string Describe() const override { return "fake"; }

 private:
  FakeClock& clock_;
  std::chrono::seconds lifetime_;
  std::atomic<int>& fetches_;
  std::atomic<bool>& fail_;
};

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCache MakeCache(std::chrono::seconds lifetime) {
    return TokenCache(std::make_unique<FakeSource>(clock_, lifetime, fetches_, fail_),
                      clock_.AsWallClock());
  }
  FakeClock clock_;
  std::atomic<int> fetches_{0};
  std::atomic<bool> fail_{false};
};

TEST_F(TokenCacheTest, CachesUntilTheRefreshMargin) {
  TokenCache cache = MakeCache(std::chrono::seconds(3600));
  EXPECT_EQ(cache.Token().value(), "token-1");
  clock_.Advance(std::chrono::seconds(3600 - 301));
  EXPECT_EQ(cache.Token().value(), "token-1");
  EXPECT_EQ(fetches_, 1);
  clock_.Advance(std::chrono::seconds(2));  // within 5 minutes of expiry
  EXPECT_EQ(cache.Token().value(), "token-2");
  EXPECT_EQ(cache.Token().value(), "token-2");
  EXPECT_EQ(fetches_, 2);
}

TEST_F(TokenCacheTest, ShortLivedTokensRefreshAtHalfLife) {
  TokenCache cache = MakeCache(std::chrono::seconds(60));
  EXPECT_EQ(cache.Token().value(), "token-1");
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_EQ(cache.Token().value(), "token-1");
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(cache.Token().value(), "token-2");
}

TEST_F(TokenCacheTest, KeepsAValidTokenWhenARefreshFails) {
  TokenCache cache = MakeCache(std::chrono::seconds(3600));
  EXPECT_EQ(cache.Token().value(), "token-1");
  fail_ = true;
  clock_.Advance(std::chrono::seconds(3400));  // refresh due, token still valid
  EXPECT_EQ(cache.Token().value(), "token-1");
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(std::chrono::seconds(200));  // expired
  EXPECT_THAT(cache.Token(), HasCode(StatusCode::kUnavailable));
  fail_ = false;
  EXPECT_EQ(cache.Token().value(), "token-4");
}

TEST_F(TokenCacheTest, InvalidateDropsOnlyTheRefusedToken) {
  TokenCache cache = MakeCache(std::chrono::seconds(3600));
  EXPECT_EQ(cache.Token().value(), "token-1");
  cache.Invalidate("token-0");  // an older token: nothing changes
  EXPECT_EQ(cache.Token().value(), "token-1");
  cache.Invalidate("token-1");
  EXPECT_EQ(cache.Token().value(), "token-2");
  EXPECT_EQ(fetches_, 2);
}

TEST_F(TokenCacheTest, ConcurrentCallersShareOneFetch) {
  TokenCache cache = MakeCache(std::chrono::seconds(3600));
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto token = cache.Token();
        if (!token.has_value() || *token != "token-1") {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(fetches_, 1);
}

// --- Which credentials --------------------------------------------------------------------

class SelectCredentialsTest : public ::testing::Test {
 protected:
  StatusOr<Credentials> Select(std::map<std::string, std::string> env, bool emulator) {
    return SelectCredentials(MapEnv(std::move(env)), emulator, http_, SystemWallClock(),
                             FastRetry());
  }
  std::string WriteFile(const std::string& relative, const std::string& contents) {
    std::filesystem::path path = dir_.path() / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << contents;
    return path.string();
  }
  std::string AuthorizedUserJson() {
    return R"({"type": "authorized_user", "client_id": "id", "client_secret": "s",
               "refresh_token": "r"})";
  }

  TempDir dir_;
  std::shared_ptr<HttpClient> http_ = std::make_shared<HttpClient>();
};

TEST_F(SelectCredentialsTest, KeyFileFromTheEnvironmentComesFirst) {
  auto key = WriteServiceAccountKey(dir_.path() / "key.json", "sa@p.iam.gserviceaccount.com",
                                    "http://127.0.0.1:1/token");
  std::string adc = WriteFile("gcloud/application_default_credentials.json", AuthorizedUserJson());
  auto credentials = Select({{"GOOGLE_APPLICATION_CREDENTIALS", key.path},
                             {"CLOUDSDK_CONFIG", (dir_.path() / "gcloud").string()},
                             {"GCE_METADATA_HOST", "127.0.0.1:1"}},
                            /*emulator=*/false);
  ASSERT_THAT(credentials, IsOk());
  EXPECT_THAT(credentials->description, HasSubstr("service account sa@p.iam.gserviceaccount.com"));
  EXPECT_NE(credentials->tokens, nullptr);
  EXPECT_NE(credentials->signer, nullptr);
  EXPECT_EQ(credentials->signer_email, "sa@p.iam.gserviceaccount.com");
}

TEST_F(SelectCredentialsTest, ThenGcloudsApplicationDefaultCredentials) {
  WriteFile("gcloud/application_default_credentials.json", AuthorizedUserJson());
  auto from_config = Select({{"GOOGLE_APPLICATION_CREDENTIALS", ""},
                             {"CLOUDSDK_CONFIG", (dir_.path() / "gcloud").string()},
                             {"GCE_METADATA_HOST", "127.0.0.1:1"}},
                            /*emulator=*/false);
  ASSERT_THAT(from_config, IsOk());
  EXPECT_THAT(from_config->description, HasSubstr("authorized user"));
  EXPECT_EQ(from_config->signer, nullptr) << "a user's credentials cannot sign URLs";

  WriteFile("home/.config/gcloud/application_default_credentials.json", AuthorizedUserJson());
  auto from_home = Select({{"HOME", (dir_.path() / "home").string()}}, /*emulator=*/false);
  ASSERT_THAT(from_home, IsOk());
  EXPECT_THAT(from_home->description, HasSubstr("authorized user"));
}

TEST_F(SelectCredentialsTest, ThenTheMetadataServer) {
  auto default_host = Select({{"HOME", dir_.path().string()}}, /*emulator=*/false);
  ASSERT_THAT(default_host, IsOk());
  EXPECT_EQ(default_host->description, "the metadata server at metadata.google.internal");
  EXPECT_NE(default_host->tokens, nullptr);
  EXPECT_EQ(default_host->signer, nullptr);

  auto overridden = Select({{"GCE_METADATA_HOST", "127.0.0.1:8080"}}, /*emulator=*/false);
  ASSERT_THAT(overridden, IsOk());
  EXPECT_EQ(overridden->description, "the metadata server at 127.0.0.1:8080");
}

TEST_F(SelectCredentialsTest, EmulatorUsesOnlyExplicitCredentials) {
  WriteFile("home/.config/gcloud/application_default_credentials.json", AuthorizedUserJson());
  auto anonymous = Select({{"HOME", (dir_.path() / "home").string()}}, /*emulator=*/true);
  ASSERT_THAT(anonymous, IsOk());
  EXPECT_EQ(anonymous->tokens, nullptr) << anonymous->description;

  auto metadata =
      Select({{"HOME", (dir_.path() / "home").string()}, {"GCE_METADATA_HOST", "127.0.0.1:8080"}},
             /*emulator=*/true);
  ASSERT_THAT(metadata, IsOk());
  EXPECT_EQ(metadata->description, "the metadata server at 127.0.0.1:8080");

  auto key = WriteServiceAccountKey(dir_.path() / "key.json", "sa@p", "http://127.0.0.1:1/token");
  auto keyed = Select({{"GOOGLE_APPLICATION_CREDENTIALS", key.path}}, /*emulator=*/true);
  ASSERT_THAT(keyed, IsOk());
  EXPECT_THAT(keyed->description, HasSubstr("service account sa@p"));
}

TEST_F(SelectCredentialsTest, BadKeyFileIsAnErrorNotAFallback) {
  for (const std::string& contents :
       {std::string("{"), std::string(R"({"type": "impersonated_service_account"})"),
        std::string(R"({"type": "service_account", "client_email": "a@b",
                        "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"})")}) {
    std::string path = WriteFile("bad.json", contents);
    auto result = Select({{"GOOGLE_APPLICATION_CREDENTIALS", path}, {"GCE_METADATA_HOST", "x:1"}},
                         /*emulator=*/false);
    EXPECT_THAT(result, HasCode(StatusCode::kInvalidArgument)) << contents;
    EXPECT_THAT(result.error().message(), HasSubstr("bad.json"));
  }
  auto missing = Select({{"GOOGLE_APPLICATION_CREDENTIALS", (dir_.path() / "nope.json").string()}},
                        /*emulator=*/false);
  EXPECT_THAT(missing, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(missing.error().message(), HasSubstr("GOOGLE_APPLICATION_CREDENTIALS"));
}

// --- Token sources against the stand-in ----------------------------------------------------

class TokenSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_path_ = dir_.path() / "key.json";
    // The stand-in learns the key's public half from the file at start; the token_uri in the
    // file is then rewritten to the stand-in's own.
    WriteServiceAccountKey(key_path_, kEmail, "http://placeholder/token");
    standin_ = std::make_unique<StandIn>(
        std::vector<std::string>{"--service-account-key", key_path_.string(), "--authorized-user",
                                 WriteAuthorizedUser().string()});
    if (!standin_->ok()) {
      GTEST_SKIP() << "the stand-in needs " << testing::kPython;
    }
    WriteKey(kEmail);
  }
  static constexpr const char* kEmail = "pydepot@standin.iam.gserviceaccount.com";

  std::filesystem::path WriteAuthorizedUser() {
    std::filesystem::path path = dir_.path() / "user.json";
    std::ofstream(path) << R"({"type": "authorized_user", "client_id": "cid",
                               "client_secret": "secret", "refresh_token": "refresh-1"})";
    return path;
  }
  // Writes the key now that the stand-in's URL (its token_uri) is known.
  testing::TestKeyFile WriteKey(const std::string& email, int bits = 2048) {
    return WriteServiceAccountKey(key_path_, email, standin_->token_uri(), bits);
  }

  TempDir dir_;
  std::filesystem::path key_path_;
  std::unique_ptr<StandIn> standin_;
  std::shared_ptr<HttpClient> http_ = std::make_shared<HttpClient>();
};

TEST_F(TokenSourceTest, ServiceAccountJwtIsAcceptedByTheStandIn) {
  auto credentials =
      SelectCredentials(MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", key_path_.string()}}),
                        /*emulator=*/false, http_, SystemWallClock(), FastRetry());
  ASSERT_THAT(credentials, IsOk());
  auto token = credentials->tokens->Token();
  ASSERT_THAT(token, IsOk());
  EXPECT_THAT(*token, ::testing::StartsWith("standin-"));
  EXPECT_EQ(credentials->tokens->Token().value(), *token);
  EXPECT_EQ(standin_->Stat("tokens-issued"), 1);
  EXPECT_THAT(standin_->Violations(), IsEmpty());
}

TEST_F(TokenSourceTest, UnknownServiceAccountIsPermissionDenied) {
  WriteKey("stranger@elsewhere.iam.gserviceaccount.com");
  auto credentials =
      SelectCredentials(MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", key_path_.string()}}),
                        /*emulator=*/false, http_, SystemWallClock(), FastRetry());
  ASSERT_THAT(credentials, IsOk());
  auto token = credentials->tokens->Token();
  EXPECT_THAT(token, HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(token.error().message(), HasSubstr("invalid_grant"));
  EXPECT_THAT(standin_->Violations(), IsEmpty()) << "a refusal, not a protocol error";
}

// The stand-in really checks signatures: a JWT for a known account signed with another key is
// refused and recorded.
TEST_F(TokenSourceTest, StandInCatchesABadSignature) {
  WriteKey(kEmail, /*bits=*/1024);  // another key for the same account
  auto credentials =
      SelectCredentials(MapEnv({{"GOOGLE_APPLICATION_CREDENTIALS", key_path_.string()}}),
                        /*emulator=*/false, http_, SystemWallClock(), FastRetry());
  ASSERT_THAT(credentials, IsOk());
  EXPECT_THAT(credentials->tokens->Token(), HasCode(StatusCode::kPermissionDenied));
  auto violations = standin_->Violations();
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_THAT(violations[0], HasSubstr("signature does not verify"));
}

TEST_F(TokenSourceTest, MetadataServer) {
  auto source =
      NewMetadataServerTokenSource(standin_->host(), http_, SystemWallClock(), FastRetry());
  auto token = source->Fetch();
  ASSERT_THAT(token, IsOk());
  EXPECT_THAT(token->value, ::testing::StartsWith("standin-"));
  EXPECT_GT(token->expiry, std::chrono::system_clock::now() + std::chrono::seconds(3000));
  EXPECT_EQ(standin_->Stat("metadata-token"), 1);
  EXPECT_THAT(standin_->Violations(), IsEmpty());

  // Without "Metadata-Flavor: Google" the stand-in, like the real server, refuses.
  HttpRequest bare;
  bare.url = standin_->url() + "/computeMetadata/v1/instance/service-accounts/default/token";
  auto refused = http_->Send(bare);
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(standin_->Violations().size(), 1U);
}

TEST_F(TokenSourceTest, MetadataServerRetriesTransientFailures) {
  standin_->InjectFaults(R"([{"op": "metadata-token", "status": 503, "count": 2},
                             {"op": "metadata-token", "mode": "close", "count": 1}])");
  auto source =
      NewMetadataServerTokenSource(standin_->host(), http_, SystemWallClock(), FastRetry());
  EXPECT_THAT(source->Fetch(), IsOk());
}

// The metadata server is reached directly even when a proxy is configured (it is link-local
// on Google Cloud; a proxy cannot reach it).
TEST_F(TokenSourceTest, MetadataServerBypassesProxies) {
  // NOLINTBEGIN(concurrency-mt-unsafe): no other thread of this test runs
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  ::setenv("no_proxy", "", 1);
  ::setenv("NO_PROXY", "", 1);
  auto source =
      NewMetadataServerTokenSource(standin_->host(), http_, SystemWallClock(), FastRetry(1));
  auto token = source->Fetch();
  HttpRequest proxied;
  proxied.url = standin_->url() + "/_standin/stats";
  auto through_proxy = http_->Send(proxied);
  ::unsetenv("http_proxy");
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  // NOLINTEND(concurrency-mt-unsafe)
  EXPECT_THAT(token, IsOk());
  EXPECT_THAT(through_proxy, HasCode(StatusCode::kUnavailable)) << "the proxy setting was used";
}

TEST_F(TokenSourceTest, MetadataServerUnreachable) {
  auto source = NewMetadataServerTokenSource("127.0.0.1:1", http_, SystemWallClock(), FastRetry(2));
  auto token = source->Fetch();
  EXPECT_THAT(token, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(token.error().message(), HasSubstr("GOOGLE_APPLICATION_CREDENTIALS"));
}

TEST_F(TokenSourceTest, AuthorizedUserRefreshToken) {
  AuthorizedUser user{"cid", "secret", "refresh-1", standin_->token_uri()};
  auto source =
      NewAuthorizedUserTokenSource(user, "user.json", http_, SystemWallClock(), FastRetry());
  EXPECT_THAT(source->Fetch(), IsOk());
  AuthorizedUser revoked{"cid", "secret", "refresh-2", standin_->token_uri()};
  auto refused =
      NewAuthorizedUserTokenSource(revoked, "user.json", http_, SystemWallClock(), FastRetry());
  EXPECT_THAT(refused->Fetch(), HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(standin_->Violations(), IsEmpty());
}

}  // namespace
}  // namespace pydepot::storage::gcs
