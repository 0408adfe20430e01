#include "storage/s3_credentials.h"

#include <time.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "base/status_macros.h"

namespace pydepot::storage::s3 {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

// Temporary credentials are renewed this long before they expire.
constexpr auto kRefreshBefore = std::chrono::minutes(5);
// ...but not more often than this when the source keeps handing out soon-to-expire ones.
constexpr auto kMinRefreshInterval = std::chrono::seconds(30);

using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  std::optional<std::string> value = env(name);
  if (value.has_value() && value->empty()) {
    return std::nullopt;
  }
  return value;
}

// The AWS config/credentials INI dialect: [section], key = value, # and ; comments. Indented
// lines continue a nested setting (e.g. "s3 =" blocks) and are skipped.
IniFile ParseIni(std::istream& in) {
  IniFile file;
  IniSection* section = nullptr;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    std::string text = Trim(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') {
      continue;
    }
    if (text.front() == '[' && text.back() == ']') {
      std::string_view view = text;
      section = &file[Trim(view.substr(1, view.size() - 2))];
      continue;
    }
    std::size_t eq = text.find('=');
    if (section == nullptr || indented || eq == std::string::npos) {
      continue;
    }
    std::string_view view = text;
    (*section)[Trim(view.substr(0, eq))] = Trim(view.substr(eq + 1));
  }
  return file;
}

std::string ExpandHome(const EnvLookup& env, std::string path) {
  if (path.size() >= 2 && path[0] == '~' && path[1] == '/') {
    return env("HOME").value_or("") + path.substr(1);
  }
  return path;
}

// Reads the INI file `path`; a missing file is empty unless `must_exist`.
StatusOr<IniFile> ReadIni(const std::string& path, bool must_exist) {
  std::ifstream in(path);
  if (!in) {
    if (must_exist) {
      return InvalidArgumentError("AWS config file " + path + " cannot be read");
    }
    return IniFile();
  }
  return ParseIni(in);
}

struct Profile {
  std::string name;
  bool explicit_name = false;
  std::string credentials_path;
  std::string config_path;
  const IniSection* credentials = nullptr;  // from the credentials file, if there
  const IniSection* config = nullptr;       // from the config file, if there
};

struct ProfileFiles {
  IniFile credentials;
  IniFile config;
};

StatusOr<Profile> FindProfile(const EnvLookup& env, ProfileFiles& files) {
  Profile profile;
  std::optional<std::string> name = NonEmpty(env, "AWS_PROFILE");
  if (!name.has_value()) {
    name = NonEmpty(env, "AWS_DEFAULT_PROFILE");
  }
  profile.explicit_name = name.has_value();
  profile.name = name.value_or("default");
  std::optional<std::string> credentials_path = NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE");
  std::optional<std::string> config_path = NonEmpty(env, "AWS_CONFIG_FILE");
  profile.credentials_path = ExpandHome(env, credentials_path.value_or("~/.aws/credentials"));
  profile.config_path = ExpandHome(env, config_path.value_or("~/.aws/config"));
  if (env("HOME").value_or("").empty() && (!credentials_path || !config_path)) {
    // No home directory (some containers): only explicitly named files exist.
    if (!credentials_path) {
      profile.credentials_path.clear();
    }
    if (!config_path) {
      profile.config_path.clear();
    }
  }
  if (!profile.credentials_path.empty()) {
    PYDEPOT_ASSIGN_OR_RETURN(files.credentials,
                             ReadIni(profile.credentials_path, credentials_path.has_value()));
  }
  if (!profile.config_path.empty()) {
    PYDEPOT_ASSIGN_OR_RETURN(files.config, ReadIni(profile.config_path, config_path.has_value()));
  }
  if (auto it = files.credentials.find(profile.name); it != files.credentials.end()) {
    profile.credentials = &it->second;
  }
  std::string config_section = profile.name == "default" ? "default" : "profile " + profile.name;
  if (auto it = files.config.find(config_section); it != files.config.end()) {
    profile.config = &it->second;
  }
  if (profile.explicit_name && profile.credentials == nullptr && profile.config == nullptr) {
    return InvalidArgumentError("AWS profile \"" + profile.name +
                                "\" (AWS_PROFILE) is in neither " + profile.credentials_path +
                                " nor " + profile.config_path);
  }
  return profile;
}

std::optional<std::string> Setting(const IniSection* section, const std::string& key) {
  if (section == nullptr) {
    return std::nullopt;
  }
  auto it = section->find(key);
  if (it == section->end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

class StaticCredentials final : public CredentialsProvider {
 public:
  StaticCredentials(Credentials credentials, std::string description)
      : credentials_(std::move(credentials)), description_(std::move(description)) {}

  StatusOr<Credentials> Get() override { return credentials_; }
  std::string Describe() const override { return description_; }

 private:
  const Credentials credentials_;
  const std::string description_;
};

struct TimedCredentials {
  Credentials credentials;
  std::optional<Clock::time_point> expiration;
};

using FetchCredentials = std::function<StatusOr<TimedCredentials>()>;

// Temporary credentials from a metadata service, renewed before they expire. Thread-safe: mu_
// guards the cache, and one caller at a time fetches.
class RefreshingCredentials final : public CredentialsProvider {
 public:
  RefreshingCredentials(FetchCredentials fetch, std::string description, TimedCredentials first)
      : fetch_(std::move(fetch)), description_(std::move(description)) {
    Store(std::move(first), Clock::now());
  }

  StatusOr<Credentials> Get() override {
    std::lock_guard<std::mutex> lock(mu_);
    Clock::time_point now = Clock::now();
    if (now < next_refresh_) {
      return current_.credentials;
    }
    StatusOr<TimedCredentials> fresh = fetch_();
    if (fresh.has_value()) {
      Store(*std::move(fresh), now);
      return current_.credentials;
    }
    if (!current_.expiration.has_value() || now < *current_.expiration) {
      // Still valid: keep using them and try again shortly.
      next_refresh_ = now + kMinRefreshInterval;
      return current_.credentials;
    }
    return fresh.error().WithPrefix("renewing AWS credentials from " + description_);
  }

  void Invalidate() override {
    std::lock_guard<std::mutex> lock(mu_);
    next_refresh_ = Clock::now();
  }

  std::string Describe() const override { return description_; }

 private:
  // REQUIRES: mu_ held (or construction).
  void Store(TimedCredentials fresh, Clock::time_point now) {
    current_ = std::move(fresh);
    if (!current_.expiration.has_value()) {
      next_refresh_ = Clock::time_point::max();
      return;
    }
    Clock::time_point expiration = *current_.expiration;
    next_refresh_ = expiration - kRefreshBefore;
    if (next_refresh_ < now + kMinRefreshInterval) {
      // The source hands out credentials that expire soon: ask again shortly, not at every call,
      // but always once they have expired.
      next_refresh_ = std::min(now + kMinRefreshInterval, expiration);
    }
  }

  const FetchCredentials fetch_;
  const std::string description_;
  std::mutex mu_;
  TimedCredentials current_;
  Clock::time_point next_refresh_;
};

// The JSON both metadata services answer: AccessKeyId, SecretAccessKey, Token, Expiration.
StatusOr<TimedCredentials> ParseCredentialsJson(std::string_view source, std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(body.data(), body.size()), ec);
  const json::object* object = ec ? nullptr : value.if_object();
  if (object == nullptr) {
    return UnavailableError(std::string(source) + ": the answer is not a JSON object");
  }
  auto field = [object](std::string_view name) -> std::string {
    const json::value* v = object->if_contains(json::string_view(name.data(), name.size()));
    const json::string* s = v == nullptr ? nullptr : v->if_string();
    return s == nullptr ? std::string() : std::string(s->data(), s->size());
  };
  if (std::string code = field("Code"); !code.empty() && code != "Success") {
    return UnavailableError(std::string(source) + ": " + code + " " + field("Message"));
  }
  TimedCredentials out;
  out.credentials.access_key_id = field("AccessKeyId");
  out.credentials.secret_access_key = field("SecretAccessKey");
  out.credentials.session_token = field("Token");
  if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty()) {
    return UnavailableError(std::string(source) + ": no AccessKeyId/SecretAccessKey in the answer");
  }
  if (std::string expiration = field("Expiration"); !expiration.empty()) {
    out.expiration = ParseIso8601(expiration);
    if (!out.expiration.has_value()) {
      return UnavailableError(std::string(source) + ": bad Expiration \"" + expiration + "\"");
    }
  }
  return out;
}

// Sends a metadata request; any status but 200 is an error naming `source`.
StatusOr<std::string> MetadataGet(HttpClient& http, std::string_view source, HttpRequest request) {
  request.no_proxy = true;
  PYDEPOT_ASSIGN_OR_RETURN(HttpResponse response, http.Send(request));
  if (response.status != 200) {
    std::string body = response.body.substr(0, 200);
    Status status = response.status == 401 || response.status == 403 ? PermissionDeniedError("")
                                                                     : UnavailableError("");
    return Status(status.code(), std::string(source) + ": " + request.method + " " + request.url +
                                     ": HTTP " + std::to_string(response.status) +
                                     (body.empty() ? "" : " " + body));
  }
  return response.body;
}

std::string UrlHost(std::string_view url) {
  std::size_t start = url.find("://");
  if (start == std::string_view::npos) {
    return "";
  }
  url.remove_prefix(start + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (std::size_t at = url.rfind('@'); at != std::string_view::npos) {
    url.remove_prefix(at + 1);
  }
  if (!url.empty() && url.front() == '[') {
    return std::string(url.substr(0, url.find(']') + 1));
  }
  return std::string(url.substr(0, url.find(':')));
}

// The SDKs allow plain http for the full container URI only to these hosts.
bool IsAllowedHttpContainerHost(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" ||
         host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

StatusOr<FetchCredentials> ContainerSource(const EnvLookup& env,
                                           const std::shared_ptr<HttpClient>& http,
                                           const MetadataHosts& hosts) {
  std::string url;
  if (auto relative = NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url = hosts.container + *relative;
  } else if (auto full = NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    url = *full;
    bool https = url.rfind("https://", 0) == 0;
    bool http_ok = url.rfind("http://", 0) == 0 && IsAllowedHttpContainerHost(UrlHost(url));
    if (!https && !http_ok) {
      return InvalidArgumentError("AWS_CONTAINER_CREDENTIALS_FULL_URI " + url +
                                  ": plain http is allowed only to a loopback or the ECS/EKS "
                                  "credential addresses; use https");
    }
  }
  std::optional<std::string> token_file = NonEmpty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  std::optional<std::string> token = NonEmpty(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  return FetchCredentials([url, token_file, token, http]() -> StatusOr<TimedCredentials> {
    HttpRequest request{"GET", url};
    request.total_timeout = std::chrono::seconds(5);
    if (token_file.has_value()) {
      // Re-read each time: the platform rotates it.
      std::ifstream in(*token_file);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        return UnavailableError("container credentials: cannot read " + *token_file);
      }
      request.headers.emplace_back("Authorization", Trim(text.str()));
    } else if (token.has_value()) {
      request.headers.emplace_back("Authorization", *token);
    }
    PYDEPOT_ASSIGN_OR_RETURN(std::string body,
                             MetadataGet(*http, "container credentials", std::move(request)));
    return ParseCredentialsJson("container credentials " + url, body);
  });
}

FetchCredentials ImdsSource(const EnvLookup& env, const std::shared_ptr<HttpClient>& http,
                            const MetadataHosts& hosts) {
  std::string base = hosts.imds;
  if (auto endpoint = NonEmpty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    base = *endpoint;
  } else if (NonEmpty(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("") == "IPv6") {
    base = "http://[fd00:ec2::254]";
  }
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  std::chrono::milliseconds timeout = hosts.imds_timeout;
  return [base, timeout, http]() -> StatusOr<TimedCredentials> {
    auto request = [&](const std::string& method, const std::string& path) {
      HttpRequest r{method, base + path};
      r.connect_timeout = timeout;
      r.total_timeout = timeout * 2;
      return r;
    };
    HttpRequest token_request = request("PUT", "/latest/api/token");
    token_request.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    PYDEPOT_ASSIGN_OR_RETURN(std::string token,
                             MetadataGet(*http, "EC2 instance metadata", token_request));
    HttpRequest roles_request = request("GET", "/latest/meta-data/iam/security-credentials/");
    roles_request.headers.emplace_back("X-aws-ec2-metadata-token", token);
    PYDEPOT_ASSIGN_OR_RETURN(std::string roles,
                             MetadataGet(*http, "EC2 instance role", roles_request));
    std::string_view listing = roles;
    std::string role = Trim(listing.substr(0, listing.find('\n')));
    if (role.empty()) {
      return UnavailableError("EC2 instance metadata: the instance has no IAM role");
    }
    HttpRequest role_request = request("GET", "/latest/meta-data/iam/security-credentials/" + role);
    role_request.headers.emplace_back("X-aws-ec2-metadata-token", token);
    PYDEPOT_ASSIGN_OR_RETURN(std::string body,
                             MetadataGet(*http, "EC2 instance role " + role, role_request));
    return ParseCredentialsJson("EC2 instance role " + role, body);
  };
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in pydepot sets variables after start-up
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

std::unique_ptr<CredentialsProvider> NewStaticCredentials(Credentials credentials,
                                                          std::string description) {
  return std::make_unique<StaticCredentials>(std::move(credentials), std::move(description));
}

std::optional<Clock::time_point> ParseIso8601(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n",  // NOLINT(cert-err34-c)
                  &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                  &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front())) != 0) {
      rest.remove_prefix(1);
    }
  }
  if (rest != "Z" && rest != "+00:00" && rest != "z") {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t seconds = timegm(&tm);
  if (seconds == -1) {
    return std::nullopt;
  }
  return Clock::from_time_t(seconds);
}

StatusOr<AwsSettings> LoadAwsSettings(const EnvLookup& env) {
  ProfileFiles files;
  PYDEPOT_ASSIGN_OR_RETURN(Profile profile, FindProfile(env, files));
  AwsSettings settings;
  settings.profile = profile.name;
  settings.region =
      NonEmpty(env, "AWS_REGION")
          .value_or(NonEmpty(env, "AWS_DEFAULT_REGION")
                        .value_or(Setting(profile.config, "region").value_or("us-east-1")));
  std::optional<std::string> endpoint = NonEmpty(env, "AWS_ENDPOINT_URL_S3");
  if (!endpoint) {
    endpoint = NonEmpty(env, "AWS_ENDPOINT_URL");
  }
  if (!endpoint) {
    endpoint = Setting(profile.config, "endpoint_url");
  }
  settings.endpoint = endpoint.value_or("");
  return settings;
}

StatusOr<std::shared_ptr<CredentialsProvider>> ResolveCredentials(
    const EnvLookup& env, const std::shared_ptr<HttpClient>& http, const MetadataHosts& hosts) {
  // 1. Environment.
  std::optional<std::string> key_id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (key_id.has_value() != secret.has_value()) {
    return InvalidArgumentError(
        std::string("AWS credentials: ") +
        (key_id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
  }
  if (key_id.has_value()) {
    return std::shared_ptr<CredentialsProvider>(NewStaticCredentials(
        Credentials{*key_id, *secret, NonEmpty(env, "AWS_SESSION_TOKEN").value_or("")},
        "environment (AWS_ACCESS_KEY_ID)"));
  }

  // 2. Shared files.
  ProfileFiles files;
  PYDEPOT_ASSIGN_OR_RETURN(Profile profile, FindProfile(env, files));
  for (const auto& [section, path] : {std::pair{profile.credentials, profile.credentials_path},
                                      std::pair{profile.config, profile.config_path}}) {
    auto id = Setting(section, "aws_access_key_id");
    auto key = Setting(section, "aws_secret_access_key");
    if (id.has_value() != key.has_value()) {
      return InvalidArgumentError("AWS profile \"" + profile.name + "\" in " + path +
                                  " has only one of aws_access_key_id and aws_secret_access_key");
    }
    if (id.has_value()) {
      return std::shared_ptr<CredentialsProvider>(NewStaticCredentials(
          Credentials{*id, *key, Setting(section, "aws_session_token").value_or("")},
          "profile " + profile.name + " in " + path));
    }
  }
  for (const char* unsupported : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                                  "web_identity_token_file"}) {
    if (Setting(profile.config, unsupported) || Setting(profile.credentials, unsupported)) {
      return UnimplementedError("AWS profile \"" + profile.name + "\" uses " + unsupported +
                                ", which pydepot does not support: export AWS_ACCESS_KEY_ID, "
                                "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead (e.g. "
                                "`eval \"$(aws configure export-credentials --format env)\"`)");
    }
  }
  if (profile.explicit_name) {
    return InvalidArgumentError("AWS profile \"" + profile.name + "\" has no credentials");
  }

  // 3. Container credentials.
  if (NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
      NonEmpty(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    PYDEPOT_ASSIGN_OR_RETURN(FetchCredentials fetch, ContainerSource(env, http, hosts));
    PYDEPOT_ASSIGN_OR_RETURN(TimedCredentials first, fetch());
    return std::shared_ptr<CredentialsProvider>(std::make_shared<RefreshingCredentials>(
        std::move(fetch), "container credentials", std::move(first)));
  }
  if (NonEmpty(env, "AWS_WEB_IDENTITY_TOKEN_FILE")) {
    return UnimplementedError(
        "AWS credentials: AWS_WEB_IDENTITY_TOKEN_FILE (web identity / IRSA) is not supported; "
        "use EKS Pod Identity (container credentials) or static keys");
  }

  // 4. EC2 instance role.
  std::string tried = "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile \"" + profile.name +
                      "\" in " +
                      (profile.credentials_path.empty() ? "(no home)" : profile.credentials_path) +
                      " and " + (profile.config_path.empty() ? "(no home)" : profile.config_path) +
                      ", container credentials (AWS_CONTAINER_CREDENTIALS_*)";
  std::string disabled = NonEmpty(env, "AWS_EC2_METADATA_DISABLED").value_or("");
  for (char& c : disabled) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (disabled == "true") {
    return FailedPreconditionError("no AWS credentials found: tried " + tried +
                                   "; the EC2 instance role is disabled "
                                   "(AWS_EC2_METADATA_DISABLED=true)");
  }
  FetchCredentials fetch = ImdsSource(env, http, hosts);
  StatusOr<TimedCredentials> first = fetch();
  if (!first.has_value()) {
    return FailedPreconditionError("no AWS credentials found: tried " + tried +
                                   " and the EC2 instance role (" + first.error().message() + ")");
  }
  return std::shared_ptr<CredentialsProvider>(std::make_shared<RefreshingCredentials>(
      std::move(fetch), "EC2 instance role", *std::move(first)));
}

}  // namespace pydepot::storage::s3
