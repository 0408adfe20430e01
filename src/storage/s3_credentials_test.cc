// The AWS credential chain and settings: environment, profile files in a temp HOME, and the
// container and EC2 metadata services played by a stand-in server on 127.0.0.1.

#include "storage/s3_credentials.h"

#include <time.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <string>

#include "base/check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/s3_test_server.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage::s3 {
namespace {

using ::pydepot::storage::s3::testing::CannedResponse;
using ::pydepot::storage::s3::testing::RecordedRequest;
using ::pydepot::storage::s3::testing::StandInServer;
using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;
using ::pydepot::storage::testing::TempDir;
using ::testing::HasSubstr;

using ::pydepot::storage::s3::testing::EnvOf;
using ::pydepot::storage::s3::testing::Vars;

std::shared_ptr<HttpClient> Http() {
  auto http = HttpClient::Create({});
  PYDEPOT_CHECK(http.has_value());
  return *http;
}

// Metadata hosts that never leave loopback: the container host is `container`, IMDS a closed
// port unless the variables say otherwise.
MetadataHosts LoopbackHosts(const std::string& container = "http://127.0.0.1:9") {
  MetadataHosts hosts;
  hosts.container = container;
  hosts.imds = "http://127.0.0.1:9";
  hosts.imds_timeout = std::chrono::milliseconds(500);
  return hosts;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string IsoTime(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string CredentialsJson(const std::string& key, std::chrono::system_clock::time_point expires) {
  return R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" + key +
         R"(","SecretAccessKey":"secret-)" + key + R"(","Token":"token-)" + key +
         R"(","Expiration":")" + IsoTime(expires) + R"("})";
}

TEST(ParseIso8601Test, Forms) {
  auto base = ParseIso8601("2024-05-01T12:00:00Z");
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*base), 1714564800);
  EXPECT_EQ(ParseIso8601("2024-05-01T12:00:00.123Z"), base);
  EXPECT_EQ(ParseIso8601("2024-05-01T12:00:00+00:00"), base);
  EXPECT_FALSE(ParseIso8601("2024-05-01 12:00").has_value());
  EXPECT_FALSE(ParseIso8601("2024-05-01T12:00:00+02:00").has_value());
}

TEST(CredentialChainTest, EnvironmentFirst) {
  TempDir home;
  WriteFile(home.path() / ".aws/credentials",
            "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n");
  auto provider = ResolveCredentials(EnvOf({{"HOME", home.path()},
                                            {"AWS_ACCESS_KEY_ID", "AKENV"},
                                            {"AWS_SECRET_ACCESS_KEY", "secret"},
                                            {"AWS_SESSION_TOKEN", "tok"}}),
                                     Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  auto credentials = (*provider)->Get();
  ASSERT_THAT(credentials, IsOk());
  EXPECT_EQ(credentials->access_key_id, "AKENV");
  EXPECT_EQ(credentials->secret_access_key, "secret");
  EXPECT_EQ(credentials->session_token, "tok");
  EXPECT_THAT((*provider)->Describe(), HasSubstr("environment"));
}

TEST(CredentialChainTest, HalfSetEnvironmentIsAnError) {
  auto provider =
      ResolveCredentials(EnvOf({{"AWS_ACCESS_KEY_ID", "AKENV"}}), Http(), LoopbackHosts());
  EXPECT_THAT(provider, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider.error().message(), HasSubstr("AWS_SECRET_ACCESS_KEY is not"));
}

TEST(CredentialChainTest, DefaultProfileFromHome) {
  TempDir home;
  WriteFile(home.path() / ".aws/credentials",
            "# comment\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = "
            "s3cr3t\n\n[other]\naws_access_key_id=AKOTHER\naws_secret_access_key=o\n"
            "aws_session_token = otok\n");
  auto provider = ResolveCredentials(EnvOf({{"HOME", home.path()}}), Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKDEFAULT");
  EXPECT_EQ((*provider)->Get()->secret_access_key, "s3cr3t");
  EXPECT_THAT((*provider)->Describe(), HasSubstr("profile default"));

  auto other = ResolveCredentials(EnvOf({{"HOME", home.path()}, {"AWS_PROFILE", "other"}}), Http(),
                                  LoopbackHosts());
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ((*other)->Get()->access_key_id, "AKOTHER");
  EXPECT_EQ((*other)->Get()->session_token, "otok");
}

TEST(CredentialChainTest, ProfileInConfigFileAndExplicitPaths) {
  TempDir dir;
  WriteFile(dir.path() / "config",
            "[profile ci]\nregion = eu-west-3\naws_access_key_id = AKCONFIG\n"
            "aws_secret_access_key = c\ns3 =\n  addressing_style = path\n");
  WriteFile(dir.path() / "creds",
            "[default]\naws_access_key_id = AKX\naws_secret_access_key = x\n");
  Vars vars = {{"HOME", "/nonexistent"},
               {"AWS_PROFILE", "ci"},
               {"AWS_CONFIG_FILE", (dir.path() / "config").string()},
               {"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "creds").string()}};
  auto provider = ResolveCredentials(EnvOf(vars), Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKCONFIG");
  auto settings = LoadAwsSettings(EnvOf(vars));
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->region, "eu-west-3");
  EXPECT_EQ(settings->profile, "ci");
}

TEST(CredentialChainTest, MissingNamedProfileIsAnError) {
  TempDir home;
  WriteFile(home.path() / ".aws/credentials",
            "[default]\naws_access_key_id = A\n"
            "aws_secret_access_key = B\n");
  auto provider = ResolveCredentials(EnvOf({{"HOME", home.path()}, {"AWS_PROFILE", "nope"}}),
                                     Http(), LoopbackHosts());
  EXPECT_THAT(provider, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider.error().message(), HasSubstr("\"nope\""));
}

TEST(CredentialChainTest, UnsupportedProfileFeaturesSaySo) {
  TempDir home;
  WriteFile(home.path() / ".aws/config",
            "[profile sso]\nsso_session = corp\n[profile role]\nrole_arn = arn:aws:iam::1:role/x\n"
            "source_profile = default\n");
  for (const char* profile : {"sso", "role"}) {
    auto provider = ResolveCredentials(EnvOf({{"HOME", home.path()}, {"AWS_PROFILE", profile}}),
                                       Http(), LoopbackHosts());
    EXPECT_THAT(provider, HasCode(StatusCode::kUnimplemented)) << profile;
    EXPECT_THAT(provider.error().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  }
}

TEST(AwsSettingsTest, RegionAndEndpointPrecedence) {
  TempDir home;
  WriteFile(home.path() / ".aws/config",
            "[default]\nregion = ap-south-1\nendpoint_url = https://config.example\n");
  Vars vars = {{"HOME", home.path()}};
  auto settings = LoadAwsSettings(EnvOf(vars));
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->region, "ap-south-1");
  EXPECT_EQ(settings->endpoint, "https://config.example");

  vars["AWS_DEFAULT_REGION"] = "us-west-1";
  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1";
  EXPECT_EQ(LoadAwsSettings(EnvOf(vars))->region, "us-west-1");
  EXPECT_EQ(LoadAwsSettings(EnvOf(vars))->endpoint, "http://127.0.0.1:1");
  vars["AWS_REGION"] = "eu-north-1";
  vars["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:2";
  EXPECT_EQ(LoadAwsSettings(EnvOf(vars))->region, "eu-north-1");
  EXPECT_EQ(LoadAwsSettings(EnvOf(vars))->endpoint, "http://127.0.0.1:2");

  auto bare = LoadAwsSettings(EnvOf({}));
  ASSERT_THAT(bare, IsOk());
  EXPECT_EQ(bare->region, "us-east-1");
  EXPECT_EQ(bare->endpoint, "");
}

TEST(CredentialChainTest, ContainerFullUriWithToken) {
  StandInServer server([](const RecordedRequest& request) {
    if (request.target != "/creds" || request.Header("authorization") != "Bearer abc") {
      return CannedResponse{401};
    }
    return CannedResponse{
        200,
        {},
        CredentialsJson("AKCONTAINER", std::chrono::system_clock::now() + std::chrono::hours(6))};
  });
  ASSERT_NE(server.port(), 0);
  TempDir dir;
  WriteFile(dir.path() / "token", "Bearer abc\n");
  Vars vars = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url() + "/creds"},
               {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc"}};
  auto provider = ResolveCredentials(EnvOf(vars), Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  auto credentials = (*provider)->Get();
  ASSERT_THAT(credentials, IsOk());
  EXPECT_EQ(credentials->access_key_id, "AKCONTAINER");
  EXPECT_EQ(credentials->session_token, "token-AKCONTAINER");
  EXPECT_THAT((*provider)->Describe(), HasSubstr("container"));

  // The token file wins over the variable, and is read at each fetch.
  vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer wrong";
  vars["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = (dir.path() / "token").string();
  EXPECT_THAT(ResolveCredentials(EnvOf(vars), Http(), LoopbackHosts()), IsOk());
  vars.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  auto refused = ResolveCredentials(EnvOf(vars), Http(), LoopbackHosts());
  EXPECT_THAT(refused, HasCode(StatusCode::kPermissionDenied));
  EXPECT_THAT(refused.error().message(), HasSubstr("HTTP 401"));
}

TEST(CredentialChainTest, ContainerRelativeUri) {
  StandInServer server([](const RecordedRequest& request) {
    if (request.target != "/v2/credentials/abc-123") {
      return CannedResponse{404};
    }
    return CannedResponse{
        200,
        {},
        CredentialsJson("AKECS", std::chrono::system_clock::now() + std::chrono::hours(6))};
  });
  auto provider = ResolveCredentials(
      EnvOf({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123"}}), Http(),
      LoopbackHosts(server.url()));
  ASSERT_THAT(provider, IsOk());
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKECS");
}

TEST(CredentialChainTest, ContainerFullUriMustBeLoopbackOrHttps) {
  auto provider =
      ResolveCredentials(EnvOf({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds"}}),
                         Http(), LoopbackHosts());
  EXPECT_THAT(provider, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(provider.error().message(), HasSubstr("use https"));
}

// IMDSv2: a token from PUT, then the role name, then its credentials, each with the token.
class FakeImds {
 public:
  FakeImds() : server_([this](const RecordedRequest& request) { return Answer(request); }) {}

  std::string url() const { return server_.url(); }
  int credential_fetches() const { return fetches_.load(); }
  std::vector<RecordedRequest> requests() const { return server_.requests(); }
  // Expiration of the next credentials handed out.
  std::atomic<int> expires_in_seconds{6 * 3600};
  std::atomic<bool> fail{false};

 private:
  CannedResponse Answer(const RecordedRequest& request) {
    if (fail.load()) {
      return CannedResponse{500};
    }
    if (request.method == "PUT" && request.target == "/latest/api/token") {
      if (request.Header("x-aws-ec2-metadata-token-ttl-seconds") != "21600") {
        return CannedResponse{400};
      }
      return CannedResponse{200, {}, "imds-token"};
    }
    if (request.Header("x-aws-ec2-metadata-token") != "imds-token") {
      return CannedResponse{401};
    }
    if (request.target == "/latest/meta-data/iam/security-credentials/") {
      return CannedResponse{200, {}, "pydepot-role\n"};
    }
    if (request.target == "/latest/meta-data/iam/security-credentials/pydepot-role") {
      int n = fetches_.fetch_add(1) + 1;
      return CannedResponse{200,
                            {},
                            CredentialsJson("AKIMDS" + std::to_string(n),
                                            std::chrono::system_clock::now() +
                                                std::chrono::seconds(expires_in_seconds.load()))};
    }
    return CannedResponse{404};
  }

  std::atomic<int> fetches_{0};
  StandInServer server_;
};

TEST(CredentialChainTest, InstanceRoleThroughImdsV2) {
  FakeImds imds;
  auto provider = ResolveCredentials(
      EnvOf({{"HOME", "/nonexistent"}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}}),
      Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  auto credentials = (*provider)->Get();
  ASSERT_THAT(credentials, IsOk());
  EXPECT_EQ(credentials->access_key_id, "AKIMDS1");
  EXPECT_EQ(credentials->session_token, "token-AKIMDS1");
  EXPECT_THAT((*provider)->Describe(), HasSubstr("EC2 instance role"));
  // Valid for hours: served from the cache.
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKIMDS1");
  EXPECT_EQ(imds.credential_fetches(), 1);
  EXPECT_EQ(imds.requests().front().method, "PUT");
  // The server refused them as expired: the next call fetches new ones.
  (*provider)->Invalidate();
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKIMDS2");
}

TEST(CredentialChainTest, ExpiredCredentialsAreRefreshedAndKeptWhileValid) {
  FakeImds imds;
  imds.expires_in_seconds = -60;  // already expired when handed out
  auto provider = ResolveCredentials(EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}),
                                     Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  imds.expires_in_seconds = 6 * 3600;
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKIMDS2");
  EXPECT_EQ((*provider)->Get()->access_key_id, "AKIMDS2");

  // A failed renewal keeps credentials that are still valid.
  imds.fail = true;
  (*provider)->Invalidate();
  auto kept = (*provider)->Get();
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->access_key_id, "AKIMDS2");
}

TEST(CredentialChainTest, ExpiredAndUnrenewableIsAnError) {
  FakeImds imds;
  imds.expires_in_seconds = -60;
  auto provider = ResolveCredentials(EnvOf({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}),
                                     Http(), LoopbackHosts());
  ASSERT_THAT(provider, IsOk());
  imds.fail = true;
  auto credentials = (*provider)->Get();
  EXPECT_THAT(credentials, HasCode(StatusCode::kUnavailable));
  EXPECT_THAT(credentials.error().message(), HasSubstr("renewing AWS credentials"));
}

TEST(CredentialChainTest, NothingFoundListsWhatWasTried) {
  TempDir home;
  auto disabled =
      ResolveCredentials(EnvOf({{"HOME", home.path()}, {"AWS_EC2_METADATA_DISABLED", "true"}}),
                         Http(), LoopbackHosts());
  EXPECT_THAT(disabled, HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(disabled.error().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  EXPECT_THAT(disabled.error().message(), HasSubstr("AWS_EC2_METADATA_DISABLED"));

  // IMDS at a closed loopback port: tried, and its failure reported.
  auto unreachable = ResolveCredentials(EnvOf({{"HOME", home.path()}}), Http(), LoopbackHosts());
  EXPECT_THAT(unreachable, HasCode(StatusCode::kFailedPrecondition));
  EXPECT_THAT(unreachable.error().message(), HasSubstr("EC2 instance role"));
}

}  // namespace
}  // namespace pydepot::storage::s3
