// AWS settings and credentials, found the way the AWS CLI and SDKs find them (internal to the S3
// backend):
//   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   2. the profile AWS_PROFILE (else "default") in AWS_SHARED_CREDENTIALS_FILE
//      (~/.aws/credentials), then in AWS_CONFIG_FILE (~/.aws/config)
//   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS) or
//      AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE) (EKS Pod
//      Identity and others)
//   4. the EC2 instance role through IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the
//      address; AWS_EC2_METADATA_DISABLED=true skips it)
// Temporary credentials (3, 4) are refreshed five minutes before they expire. Region: AWS_REGION,
// AWS_DEFAULT_REGION, the profile's `region`, else us-east-1. Endpoint: AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, the profile's `endpoint_url`, else AWS itself.
// Providers are thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/s3_http.h"
#include "storage/s3_signer.h"

namespace pydepot::storage::s3 {

// Reads an environment variable: nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnvironment();

class CredentialsProvider {
 public:
  CredentialsProvider() = default;
  CredentialsProvider(const CredentialsProvider&) = delete;
  CredentialsProvider& operator=(const CredentialsProvider&) = delete;
  CredentialsProvider(CredentialsProvider&&) = delete;
  CredentialsProvider& operator=(CredentialsProvider&&) = delete;
  virtual ~CredentialsProvider() = default;

  // Credentials valid for at least a few more minutes when they expire at all. kUnavailable or
  // kPermissionDenied when temporary ones could not be renewed in time.
  virtual StatusOr<Credentials> Get() = 0;

  // The server rejected the credentials as expired: the next Get() fetches new ones.
  virtual void Invalidate() {}

  // Where the credentials come from, for messages: "environment", "profile default".
  virtual std::string Describe() const = 0;
};

std::unique_ptr<CredentialsProvider> NewStaticCredentials(Credentials credentials,
                                                          std::string description);

struct AwsSettings {
  std::string region;    // never empty
  std::string endpoint;  // empty: AWS
  std::string profile;   // the profile read, for messages
};

// Where the well-known metadata services live; tests point them at 127.0.0.1.
struct MetadataHosts {
  std::string container = "http://169.254.170.2";
  std::string imds = "http://169.254.169.254";
  std::chrono::milliseconds imds_timeout{1000};
};

// Region and endpoint from the environment and the profile's config. kInvalidArgument for an
// unreadable or malformed explicitly named file.
StatusOr<AwsSettings> LoadAwsSettings(const EnvLookup& env);

// The first credentials source of the chain above that is configured. kInvalidArgument for a
// half-set or unusable configuration, kUnimplemented for profile features not supported
// (role_arn, credential_process, SSO, web identity), kFailedPrecondition when none is found
// (the message lists what was tried), or the error of the source that was configured but failed.
StatusOr<std::shared_ptr<CredentialsProvider>> ResolveCredentials(
    const EnvLookup& env, const std::shared_ptr<HttpClient>& http, const MetadataHosts& hosts = {});

// "2024-05-01T12:00:00Z" (fractional seconds and a +00:00 offset accepted) as a time point.
std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text);

}  // namespace pydepot::storage::s3
