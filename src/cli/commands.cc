#include "cli/commands.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "archive/dist_archive.h"
#include "auth/auth.h"
#include "base/hash.h"
#include "cli/audit.h"
#include "cli/config.h"
#include "cli/delete.h"
#include "cli/fsck.h"
#include "cli/import.h"
#include "http/handlers.h"
#include "http/server.h"
#include "http/tls.h"
#include "index/index.h"
#include "model/filename.h"
#include "model/metadata.h"
#include "model/project_name.h"
#include "ops/counting_storage.h"
#include "ops/crash.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "storage/storage.h"
#include "upstream/proxy.h"
#include "upstream/upstream.h"

#include <CLI/CLI.hpp>

namespace pydepot::cli {
namespace {

namespace json = boost::json;

constexpr const char* kVersion = "0.1.0";

json::array ToJson(const std::vector<std::string>& values) {
  json::array out;
  for (const auto& v : values) {
    out.emplace_back(v);
  }
  return out;
}

int Fail(std::string_view command, const Status& status) {
  std::cerr << "pydepot " << command << ": " << status.message() << "\n";
  return 1;
}

// `pydepot inspect FILE`: what pydepot makes of a distribution file, as JSON. The same code
// path the upload handler uses, so a user can check a file before publishing it.
int Inspect(const std::string& path, const std::string& project) {
  std::string filename = std::filesystem::path(path).filename().string();
  auto name = model::ParseDistFilename(filename, project);
  if (!name.has_value()) {
    return Fail("inspect", name.error());
  }
  json::object out;
  out["filename"] = filename;
  out["filetype"] = std::string(model::DistKindFiletype(name->kind));
  out["project"] = name->project;
  out["version"] = name->version.Canonical();
  out["version_valid"] = name->version.is_valid();
  if (name->kind == model::DistKind::kWheel) {
    out["python_tags"] = ToJson(name->python_tags);
    out["abi_tags"] = ToJson(name->abi_tags);
    out["platform_tags"] = ToJson(name->platform_tags);
    if (name->build.has_value()) {
      out["build"] = name->build->number + name->build->suffix;
    }
  }
  int rc = 0;
  auto metadata_file = archive::ReadDistMetadata(path, *name);
  if (!metadata_file.has_value()) {
    out["error"] = metadata_file.error().message();
    rc = 1;
  } else {
    out["metadata_member"] = metadata_file->member;
    auto metadata = model::CoreMetadata::Parse(metadata_file->contents);
    if (!metadata.has_value()) {
      out["error"] = metadata.error().message();
      rc = 1;
    } else {
      json::object md;
      md["metadata_version"] = metadata->metadata_version();
      md["name"] = metadata->name();
      md["version"] = metadata->version();
      md["summary"] = metadata->Get("Summary");
      md["requires_python"] = metadata->Get("Requires-Python");
      md["requires_dist"] = ToJson(metadata->GetAll("Requires-Dist"));
      out["metadata"] = std::move(md);
    }
  }
  std::cout << json::serialize(out) << "\n";
  return rc;
}

// Reads a password: one line from stdin when it is not a terminal (scripts, CI), else asked
// twice with echo off.
StatusOr<std::string> ReadPassword() {
  if (!isatty(STDIN_FILENO)) {
    std::string line;
    if (!std::getline(std::cin, line)) {
      return InvalidArgumentError("expected the password on standard input");
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    return line;
  }
  auto ask = [](const char* prompt) {
    std::cerr << prompt << std::flush;
    termios old_mode{};
    tcgetattr(STDIN_FILENO, &old_mode);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
    std::cerr << "\n";
    return line;
  };
  std::string first = ask("Password: ");
  std::string second = ask("Password (again): ");
  if (first != second) {
    return InvalidArgumentError("the passwords do not match");
  }
  return first;
}

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

StatusOr<ListenAddress> ParseListen(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError("--listen wants HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return InvalidArgumentError("--listen: bad port in '" + std::string(text) + "'");
  }
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

struct ServeFlags {
  std::string storage;
  std::string listen;
  bool public_read = false;
  std::int64_t max_upload_size = std::int64_t{1} << 30;
  int cache_ttl_ms = 2000;
  int threads = 0;
  int blocking_threads = 0;
  std::int64_t cache_mb = 128;
  std::string temp_dir;
  int redirect_downloads = 0;
  // Hostile clients (http::ServerOptions, auth::ThrottleLimits).
  int idle_timeout = 15;
  int header_timeout = 30;
  int body_timeout = 120;
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 512;
  std::vector<std::string> trusted_proxies;
  int max_auth_failures_per_address = 10;
  int max_auth_failures_per_user = 5;
  // The upstream proxy (docs/upstream.md).
  std::string upstream;
  std::string upstream_user;
  int upstream_ttl = 600;
  // Operations (docs/operations.md).
  std::string log_format = "text";
  int access_log = -1;  // -1: on with --log-format json, off with text
  std::string metrics_listen;
  int shutdown_timeout = 30;
  // Native TLS (docs/deploy.md, "Native TLS").
  std::string tls_cert;
  std::string tls_key;
};

int Serve(const ServeFlags& flags) {
  // A client that goes away during a sendfile(2) download would raise SIGPIPE (sendfile has no
  // MSG_NOSIGNAL) and kill the server; the write's EPIPE error ends that connection instead.
  std::signal(SIGPIPE, SIG_IGN);
  // A crash leaves the signal and the stack in the log, not just a missing process.
  ops::InstallCrashHandler();
  const bool json_log = flags.log_format == "json";
  ops::ConfigureLog({.format = json_log ? ops::LogFormat::kJson : ops::LogFormat::kText,
                     .access_log = flags.access_log < 0 ? json_log : flags.access_log == 1});
  ops::Metrics::Global().SetVersion(kVersion);
  std::string listen = flags.listen;
  if (listen.empty()) {
    const char* port = std::getenv("PORT");
    listen = port && *port ? std::string("0.0.0.0:") + port : "127.0.0.1:8080";
  }
  auto address = ParseListen(listen);
  if (!address.has_value()) {
    return Fail("serve", address.error());
  }
  // The TLS files are checked before anything else is opened (the server reads them again when
  // it starts): a wrong file stops serve at once, with one line saying what is wrong.
  if (!flags.tls_cert.empty() || !flags.tls_key.empty()) {
    auto checked = http::CheckTlsFiles(flags.tls_cert, flags.tls_key);
    if (!checked.has_value()) {
      return Fail("serve", checked.error());
    }
  }
  auto storage = storage::OpenStorage(flags.storage);
  if (!storage.has_value()) {
    return Fail("serve", storage.error());
  }
  // Every store call is counted (pydepot_storage_calls_total, ..._errors_total).
  *storage = ops::NewCountingStorage(std::move(*storage), ops::Metrics::Global());
  auto authenticator = auth::Authenticator::Create(**storage);
  if (!authenticator.has_value()) {
    return Fail("serve", authenticator.error());
  }
  std::string admin_password;
  auto no_users = (*authenticator)->NoUsers();
  if (!no_users.has_value()) {
    return Fail("serve", no_users.error());
  }
  if (*no_users) {
    admin_password = RandomPassword(24);
    Status added = (*authenticator)->AddUser("admin", admin_password, auth::Role::kAdmin);
    if (!added.ok() && added.code() != StatusCode::kAlreadyExists) {
      return Fail("serve", added);
    }
    if (!added.ok()) {
      admin_password.clear();  // another instance created it first
    }
  }

  // Uploads spool where the store can take them over without a copy (a local store's own temp
  // directory), else in the system's temp directory.
  std::filesystem::path temp_dir = flags.temp_dir;
  if (temp_dir.empty()) {
    auto spool = (*storage)->SpoolDirectory();
    temp_dir = spool ? *spool : std::filesystem::temp_directory_path() / "pydepot-uploads";
  }
  std::error_code ec;
  std::filesystem::create_directories(temp_dir, ec);
  if (ec) {
    return Fail("serve", InvalidArgumentError("cannot create upload spool directory " +
                                              temp_dir.string() + ": " + ec.message()));
  }

  index::IndexOptions index_options;
  index_options.cache_ttl = std::chrono::milliseconds(flags.cache_ttl_ms);
  index_options.cache_bytes = static_cast<std::size_t>(std::max<std::int64_t>(flags.cache_mb, 1))
                              << 20;
  auto index = index::Index::Create(**storage, index_options);
  std::unique_ptr<upstream::Client> upstream_client;
  std::unique_ptr<upstream::Proxy> proxy;
  if (!flags.upstream.empty()) {
    upstream::ClientOptions client_options;
    client_options.index_url = flags.upstream;
    client_options.user = flags.upstream_user;
    if (const char* password = std::getenv("PYDEPOT_UPSTREAM_PASSWORD")) {
      client_options.password = password;
    }
    auto client = upstream::Client::Create(client_options);
    if (!client.has_value()) {
      return Fail("serve", client.error());
    }
    upstream_client = *std::move(client);
    upstream::ProxyOptions proxy_options;
    proxy_options.ttl = std::chrono::seconds(flags.upstream_ttl);
    proxy_options.temp_dir = temp_dir;
    proxy = upstream::Proxy::Create(**storage, *upstream_client, proxy_options);
  }
  http::HandlerOptions handler_options;
  handler_options.upstream = proxy.get();
  handler_options.public_read = flags.public_read;
  handler_options.max_upload_bytes = flags.max_upload_size;
  handler_options.temp_dir = temp_dir;
  handler_options.redirect_downloads_ttl = std::chrono::seconds(flags.redirect_downloads);
  handler_options.throttle.per_address = flags.max_auth_failures_per_address;
  handler_options.throttle.per_user = flags.max_auth_failures_per_user;
  http::Handlers handlers(*index, **authenticator, handler_options);
  http::ServerOptions server_options;
  server_options.host = address->host;
  server_options.port = address->port;
  server_options.io_threads = flags.threads;
  server_options.threads = flags.blocking_threads;
  server_options.max_body_bytes = flags.max_upload_size + (1 << 20);
  server_options.idle_timeout = std::chrono::seconds(flags.idle_timeout);
  server_options.header_timeout = std::chrono::seconds(flags.header_timeout);
  server_options.body_timeout = std::chrono::seconds(flags.body_timeout);
  server_options.max_connections = flags.max_connections;
  server_options.max_connections_per_address = flags.max_connections_per_address;
  server_options.trusted_proxies = flags.trusted_proxies;
  server_options.shutdown_timeout = std::chrono::seconds(flags.shutdown_timeout);
  server_options.tls_cert_file = flags.tls_cert;
  server_options.tls_key_file = flags.tls_key;
  if (!flags.metrics_listen.empty()) {
    auto metrics_address = ParseListen(flags.metrics_listen);
    if (!metrics_address.has_value()) {
      return Fail("serve", InvalidArgumentError("--metrics-listen wants HOST:PORT"));
    }
    server_options.metrics_host = metrics_address->host;
    server_options.metrics_port = metrics_address->port;
  }
  auto server = http::Server::Create(server_options, handlers);
  if (!server.has_value()) {
    return Fail("serve", server.error());
  }
  const std::string host =
      address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
  const std::string scheme = (*server)->tls() ? "https://" : "http://";
  const std::string url = scheme + host + ":" + std::to_string((*server)->port());
  std::cout << "listening on " << url << std::endl;
  std::cout << "storage: " << (*storage)->Describe() << std::endl;
  if ((*server)->tls()) {
    std::cout << "tls: " << flags.tls_cert << ": " << (*server)->tls_summary()
              << " (SIGHUP reloads it)" << std::endl;
  }
  if ((*server)->metrics_port() != 0) {
    std::cout << "metrics on http://" << server_options.metrics_host << ":"
              << (*server)->metrics_port() << "/metrics" << std::endl;
  }
  if (!admin_password.empty()) {
    std::cout << "\nFirst start: created the user 'admin' with the password\n\n    "
              << admin_password
              << "\n\nIt is shown only this once. Use it like this:\n\n"
                 "  pip install --index-url "
              << scheme << "admin:PASSWORD@" << host << ":" << (*server)->port()
              << "/simple/ PACKAGE\n"
                 "  twine upload --repository-url "
              << url
              << "/legacy/ -u admin -p PASSWORD dist/*\n\n"
                 "or put it in ~/.config/pip/pip.conf and ~/.pypirc (see README.md). In a "
                 "browser, open "
              << url
              << "/ and log in as admin. Add users there (Users) or with: pydepot user add NAME "
                 "--role upload --storage "
              << flags.storage << "\n"
              << std::endl;
  }
  if (admin_password.empty()) {
    std::cout << "log in with the accounts in the storage (pydepot user list --storage "
              << flags.storage << "); index URL " << url << "/simple/, upload URL " << url
              << "/legacy/" << std::endl;
  }
  (*server)->Run();
  return 0;
}

struct UserFlags {
  std::string storage;
  std::string name;
  std::string role = "read";
  std::vector<std::string> projects;  // --projects, comma-separated or repeated
};

// "a, b" for people.
std::string JoinComma(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    out += (out.empty() ? "" : std::string(separator)) + value;
  }
  return out;
}

// " (uploads only to a, b)" for a project-limited account, as the store keeps the names.
std::string UploadLimit(const std::vector<std::string>& projects) {
  if (projects.empty()) {
    return "";
  }
  std::vector<std::string> normalized;
  for (const std::string& project : projects) {
    normalized.push_back(model::NormalizeProjectName(project));
  }
  std::sort(normalized.begin(), normalized.end());
  normalized.erase(std::unique(normalized.begin(), normalized.end()), normalized.end());
  return " (uploads only to " + JoinComma(normalized, ", ") + ")";
}

StatusOr<std::unique_ptr<auth::Authenticator>> OpenAuthenticator(
    const std::string& storage_url, std::unique_ptr<storage::Storage>& storage) {
  auto opened = storage::OpenStorage(storage_url);
  if (!opened.has_value()) {
    return opened.error();
  }
  storage = *std::move(opened);
  return auth::Authenticator::Create(*storage);
}

int UserCommand(const std::string& action, const UserFlags& flags) {
  // Checked before the password is asked for.
  if ((action == "add" || action == "role") && !flags.projects.empty() &&
      flags.role != auth::RoleName(auth::Role::kUpload)) {
    std::cerr << "pydepot user " << action
              << ": --projects limits an account with --role upload; other roles have no "
                 "project limits\n";
    return 2;
  }
  std::unique_ptr<storage::Storage> storage;
  auto authenticator = OpenAuthenticator(flags.storage, storage);
  if (!authenticator.has_value()) {
    return Fail("user", authenticator.error());
  }
  auth::Authenticator& users = **authenticator;
  const std::string& name = flags.name;
  if (action == "list") {
    auto list = users.ListUsers();
    if (!list.has_value()) {
      return Fail("user list", list.error());
    }
    for (const auto& user : *list) {
      std::cout << user.name << "\t" << auth::RoleName(user.role);
      if (!user.upload_projects.empty()) {
        std::cout << "\t" << JoinComma(user.upload_projects, ",");
      }
      std::cout << "\n";
    }
    return 0;
  }
  if (action == "remove") {
    Status s = users.RemoveUser(name);
    if (!s.ok()) {
      return Fail("user remove", s);
    }
    RecordCliAudit(*storage, "user-remove", name);
    std::cout << "removed user '" << name << "' and its API tokens\n";
    return 0;
  }
  if (action == "role") {
    auto role = auth::ParseRole(flags.role);
    if (!role.has_value()) {
      return Fail("user role", role.error());
    }
    Status s = users.SetRole(name, *role, flags.projects);
    if (!s.ok()) {
      return Fail("user role", s);
    }
    RecordCliAudit(*storage, "user-role", name + " " + std::string(auth::RoleName(*role)));
    std::cout << "user '" << name << "' now has the role " << auth::RoleName(*role)
              << UploadLimit(flags.projects) << "\n";
    return 0;
  }
  if (action == "add") {
    // The role and projects are checked before the password is asked for.
    auto role = auth::ParseRole(flags.role);
    if (!role.has_value()) {
      return Fail("user add", role.error());
    }
    std::vector<std::string> projects = flags.projects;
    for (const std::string& project : projects) {
      if (!model::IsValidProjectName(project)) {
        return Fail("user add", InvalidArgumentError("--projects: '" + project +
                                                     "' is not a valid project name"));
      }
    }
    auto password = ReadPassword();
    if (!password.has_value()) {
      return Fail("user add", password.error());
    }
    Status s = users.AddUser(name, *password, *role, std::move(projects));
    if (!s.ok()) {
      return Fail("user add", s);
    }
    RecordCliAudit(*storage, "user-add", name);
    std::cout << "added user '" << name << "' with role " << auth::RoleName(*role)
              << UploadLimit(flags.projects) << "\n";
    return 0;
  }
  auto password = ReadPassword();
  if (!password.has_value()) {
    return Fail("user " + action, password.error());
  }
  Status s = users.SetPassword(name, *password);
  if (!s.ok()) {
    return Fail("user passwd", s);
  }
  RecordCliAudit(*storage, "user-password", name);
  std::cout << "changed the password of '" << name << "'\n";
  return 0;
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2024-05-01T12:00:00Z".
std::string FormatTime(std::int64_t micros) {
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, length);
}

struct TokenFlags {
  std::string storage;
  std::string user;  // create: the account; list: a filter ("" for every account)
  std::string name;
  std::string scope = "read";
  std::vector<std::string> projects;
  int expires_days = 0;  // 0: never
  bool json = false;
  std::string id;
};

int TokenCreate(const TokenFlags& flags) {
  std::unique_ptr<storage::Storage> storage;
  auto authenticator = OpenAuthenticator(flags.storage, storage);
  if (!authenticator.has_value()) {
    return Fail("token create", authenticator.error());
  }
  auto scope = auth::ParseRole(flags.scope);
  if (!scope.has_value()) {
    return Fail("token create", scope.error());
  }
  const std::int64_t expires =
      flags.expires_days > 0 ? NowMicros() + std::int64_t{flags.expires_days} * 86400 * 1000000 : 0;
  auto token =
      (*authenticator)->CreateToken(flags.user, flags.name, *scope, flags.projects, expires);
  if (!token.has_value()) {
    return Fail("token create", token.error());
  }
  // The token alone on stdout, so `TOKEN=$(pydepot token create ...)` works; the rest on stderr.
  RecordCliAudit(*storage, "token-create", token->info.id + " (user " + token->info.user + ")");
  std::cout << token->secret << std::endl;
  const auth::TokenInfo& info = token->info;
  std::cerr << "created token " << info.id << " for user '" << info.user << "': scope "
            << auth::RoleName(info.scope) << ", "
            << (info.projects.empty() ? "every project"
                                      : "projects " + JoinComma(info.projects, ", "))
            << ", "
            << (info.expires_micros == 0 ? "never expires"
                                         : "expires " + FormatTime(info.expires_micros))
            << ".\nIt is shown only this once: store it now. Use it with the user name "
               "__token__.\n";
  return 0;
}

int TokenList(const TokenFlags& flags) {
  std::unique_ptr<storage::Storage> storage;
  auto authenticator = OpenAuthenticator(flags.storage, storage);
  if (!authenticator.has_value()) {
    return Fail("token list", authenticator.error());
  }
  auto tokens = (*authenticator)->ListTokens(flags.user);
  if (!tokens.has_value()) {
    return Fail("token list", tokens.error());
  }
  const std::int64_t now = NowMicros();
  if (flags.json) {
    json::array out;
    for (const auth::TokenInfo& info : *tokens) {
      out.push_back(json::object{
          {"id", info.id},
          {"user", info.user},
          {"name", info.name},
          {"scope", auth::RoleName(info.scope)},
          {"projects", ToJson(info.projects)},
          {"created_micros", info.created_micros},
          {"expires_micros", info.expires_micros},
          {"expired", info.expires_micros != 0 && info.expires_micros <= now},
      });
    }
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  for (const auth::TokenInfo& info : *tokens) {
    std::cout << info.id << "\t" << info.user << "\t" << auth::RoleName(info.scope) << "\t"
              << (info.projects.empty() ? "*" : JoinComma(info.projects, ",")) << "\t"
              << FormatTime(info.created_micros) << "\t"
              << (info.expires_micros == 0 ? std::string("never")
                                           : FormatTime(info.expires_micros) +
                                                 (info.expires_micros <= now ? " (expired)" : ""))
              << "\t" << info.name << "\n";
  }
  return 0;
}

int TokenRevoke(const TokenFlags& flags) {
  std::unique_ptr<storage::Storage> storage;
  auto authenticator = OpenAuthenticator(flags.storage, storage);
  if (!authenticator.has_value()) {
    return Fail("token revoke", authenticator.error());
  }
  Status s = (*authenticator)->RevokeToken(flags.id);
  if (!s.ok()) {
    return Fail("token revoke", s);
  }
  RecordCliAudit(*storage, "token-revoke", flags.id);
  std::cout << "revoked token " << flags.id << "\n";
  return 0;
}

int YankCommand(bool yank, const std::string& storage_url, const std::string& project,
                const std::string& version, const std::string& reason) {
  auto storage = storage::OpenStorage(storage_url);
  if (!storage.has_value()) {
    return Fail(yank ? "yank" : "unyank", storage.error());
  }
  auto index = index::Index::Create(**storage);
  Status s = yank ? index->Yank(project, version, reason) : index->Unyank(project, version);
  if (!s.ok()) {
    return Fail(yank ? "yank" : "unyank", s);
  }
  RecordCliAudit(**storage, yank ? "yank" : "unyank",
                 model::NormalizeProjectName(project) + " " + version);
  std::cout << (yank ? "yanked " : "unyanked ") << project << " " << version << "\n";
  return 0;
}

int ClaimCommand(const std::string& storage_url, const std::string& project) {
  auto storage = storage::OpenStorage(storage_url);
  if (!storage.has_value()) {
    return Fail("claim", storage.error());
  }
  auto index = index::Index::Create(**storage);
  auto created = index->Claim(project);
  if (!created.has_value()) {
    return Fail("claim", created.error());
  }
  if (*created) {
    RecordCliAudit(**storage, "claim", model::NormalizeProjectName(project));
  }
  std::cout << (*created ? "claimed " : "already private: ") << model::NormalizeProjectName(project)
            << "\n";
  return 0;
}

int UpstreamCommand(const std::string& storage_url, const std::string& project, bool allow) {
  const char* command = allow ? "project allow-upstream" : "project deny-upstream";
  auto storage = storage::OpenStorage(storage_url);
  if (!storage.has_value()) {
    return Fail(command, storage.error());
  }
  auto index = index::Index::Create(**storage);
  Status s = index->SetUpstreamAllowed(model::NormalizeProjectName(project), allow);
  if (!s.ok()) {
    return Fail(command, s);
  }
  std::cout << model::NormalizeProjectName(project)
            << (allow ? ": upstream files are served with the local ones\n"
                      : ": served from pydepot alone\n");
  return 0;
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{"pydepot: a private Python package index"};
  app.require_subcommand(1);
  int rc = 0;

  app.add_subcommand("version", "Print the pydepot version")->callback([] {
    std::cout << "pydepot " << kVersion << "\n";
  });

  std::string inspect_path;
  std::string inspect_project;
  auto* inspect =
      app.add_subcommand("inspect", "Show what pydepot reads from a wheel or sdist (JSON)");
  inspect->add_option("FILE", inspect_path, "A .whl, .tar.gz or .zip file")->required();
  inspect->add_option("--project", inspect_project,
                      "The project name, to split legacy sdist names as pip does");
  inspect->callback([&] { rc = Inspect(inspect_path, inspect_project); });

  ServeFlags serve_flags;
  auto* serve = app.add_subcommand("serve", "Run the index server");
  serve->add_option("--storage", serve_flags.storage, "Storage: a directory, or file://PATH")
      ->required();
  serve->add_option("--listen", serve_flags.listen,
                    "HOST:PORT to listen on (default: 0.0.0.0:$PORT if PORT is set, else "
                    "127.0.0.1:8080; port 0 picks a free port)");
  serve->add_flag("--public-read", serve_flags.public_read,
                  "Let anyone install without credentials (uploads still need them)");
  serve->add_option("--max-upload-size", serve_flags.max_upload_size,
                    "Largest accepted file in bytes (default 1 GiB)");
  serve->add_option("--cache-ttl-ms", serve_flags.cache_ttl_ms,
                    "How long cached index pages are trusted before checking the storage "
                    "(default 2000)");
  serve->add_option("--threads", serve_flags.threads,
                    "Network threads; they never wait on the storage (default: one per core)");
  serve->add_option("--blocking-threads", serve_flags.blocking_threads,
                    "Threads for storage calls and password checks (default: 4 per core, at "
                    "least 16)");
  serve
      ->add_option("--cache-size", serve_flags.cache_mb,
                   "Memory for cached project pages, in MiB (default 128); the least recently "
                   "used are dropped past it")
      ->check(CLI::Range(1, 1 << 20));
  serve->add_option(
      "--temp-dir", serve_flags.temp_dir,
      "Where uploads are spooled before they are stored (default: the local storage's own temp "
      "directory, else $TMPDIR/pydepot-uploads)");
  serve->add_option("--redirect-downloads", serve_flags.redirect_downloads,
                    "Answer file downloads with a redirect to a presigned storage URL valid "
                    "this many seconds (S3 and GCS; 0, the default, streams through pydepot)");
  serve
      ->add_option("--idle-timeout", serve_flags.idle_timeout,
                   "Close a connection with no request under way after this many seconds "
                   "(default 15)")
      ->check(CLI::Range(1, 86400));
  serve
      ->add_option("--header-timeout", serve_flags.header_timeout,
                   "A request head must arrive within this many seconds of its first byte, else "
                   "408 (default 30)")
      ->check(CLI::Range(1, 86400));
  serve
      ->add_option("--body-timeout", serve_flags.body_timeout,
                   "An upload body that sends nothing for this many seconds is answered 408 and "
                   "dropped; a response write that makes no progress as long ends the connection "
                   "(default 120)")
      ->check(CLI::Range(1, 86400));
  serve->add_option("--max-connections", serve_flags.max_connections,
                    "Connections open at once; past it new ones get 503 (default: 10000, or 3/4 "
                    "of the file descriptor limit if lower)");
  serve->add_option("--max-connections-per-address", serve_flags.max_connections_per_address,
                    "Connections open at once from one client address (IPv6: one /64); past it "
                    "new ones get 503 (default 512; 0: no limit; trusted proxies have none)");
  serve->add_option("--trusted-proxy", serve_flags.trusted_proxies,
                    "IP address of a reverse proxy whose X-Forwarded-For names the client "
                    "(repeat for several); without it the client is the socket's peer");
  serve
      ->add_option("--max-auth-failures-per-address", serve_flags.max_auth_failures_per_address,
                   "Failed password checks per minute from one client address (IPv6: one /64) "
                   "before 429 with Retry-After (default 10; 0: no limit)")
      ->check(CLI::Range(0, 1000000));
  serve
      ->add_option("--max-auth-failures-per-user", serve_flags.max_auth_failures_per_user,
                   "Failed password checks per minute for one user name, from anywhere, before "
                   "429 with Retry-After (default 5; 0: no limit)")
      ->check(CLI::Range(0, 1000000));
  serve->add_option("--upstream", serve_flags.upstream,
                    "Serve projects that do not exist here from this simple index (e.g. "
                    "https://pypi.org/simple/), caching its files in the storage "
                    "(docs/upstream.md)");
  serve->add_option("--upstream-user", serve_flags.upstream_user,
                    "User name for the upstream (password: PYDEPOT_UPSTREAM_PASSWORD)");
  serve
      ->add_option("--upstream-ttl", serve_flags.upstream_ttl,
                   "Seconds an upstream page is used before it is revalidated (default 600)")
      ->check(CLI::Range(0, 86400 * 30));
  serve
      ->add_option("--log-format", serve_flags.log_format,
                   "text (plain lines, the default) or json (one object per line, in Cloud "
                   "Logging's fields) on stderr")
      ->check(CLI::IsMember({"text", "json"}));
  serve->add_flag_callback(
      "--access-log", [&] { serve_flags.access_log = 1; },
      "Log a line per request (the default with --log-format json)");
  serve->add_flag_callback(
      "--no-access-log", [&] { serve_flags.access_log = 0; },
      "No line per request (the default with --log-format text)");
  serve->add_option("--metrics-listen", serve_flags.metrics_listen,
                    "Also listen on HOST:PORT for /metrics without credentials (and /healthz, "
                    "/readyz); on the main address /metrics needs an admin");
  serve
      ->add_option("--shutdown-timeout", serve_flags.shutdown_timeout,
                   "Seconds requests under way may take to finish after SIGTERM (default 30)")
      ->check(CLI::Range(0, 3600));
  serve->add_option("--tls-cert", serve_flags.tls_cert,
                    "Serve HTTPS: the certificate chain, PEM (the server's certificate first, "
                    "then its intermediates; e.g. Let's Encrypt's fullchain.pem). With "
                    "--tls-key; SIGHUP reloads both");
  serve->add_option("--tls-key", serve_flags.tls_key,
                    "The private key of --tls-cert, PEM, unencrypted (e.g. privkey.pem)");
  serve->callback([&] { rc = Serve(serve_flags); });
  // PYDEPOT_<FLAG> and --config FILE for every serve option, even ones declared after this.
  AddServeConfig(*serve);

  auto* user = app.add_subcommand("user", "Manage users (stored in the storage)");
  user->require_subcommand(1);
  UserFlags user_flags;
  auto add_storage = [&](CLI::App* cmd) {
    cmd->add_option("--storage", user_flags.storage, "Storage: a directory, or file://PATH")
        ->required();
  };
  auto add_projects = [&](CLI::App* cmd) {
    cmd->add_option("--projects", user_flags.projects,
                    "With --role upload: the only projects the user may upload to "
                    "(comma-separated); it reads every project. Without it: every project")
        ->delimiter(',');
  };
  auto* user_add = user->add_subcommand("add",
                                        "Add a user; the password is read from stdin "
                                        "(or asked twice on a terminal)");
  user_add->add_option("NAME", user_flags.name)->required();
  user_add->add_option("--role", user_flags.role, "read, upload or admin")->required();
  add_projects(user_add);
  add_storage(user_add);
  user_add->callback([&] { rc = UserCommand("add", user_flags); });
  auto* user_remove = user->add_subcommand("remove", "Remove a user and its API tokens");
  user_remove->add_option("NAME", user_flags.name)->required();
  add_storage(user_remove);
  user_remove->callback([&] { rc = UserCommand("remove", user_flags); });
  auto* user_list = user->add_subcommand(
      "list", "List users and their roles (and the projects of project-limited uploaders)");
  add_storage(user_list);
  user_list->callback([&] { rc = UserCommand("list", user_flags); });
  auto* user_passwd = user->add_subcommand("passwd", "Change a user's password");
  user_passwd->add_option("NAME", user_flags.name)->required();
  add_storage(user_passwd);
  user_passwd->callback([&] { rc = UserCommand("passwd", user_flags); });
  auto* user_setrole = user->add_subcommand(
      "role", "Change a user's role (and project limit: none unless --projects is given)");
  user_setrole->add_option("NAME", user_flags.name)->required();
  user_setrole->add_option("--role", user_flags.role, "read, upload or admin")->required();
  add_projects(user_setrole);
  add_storage(user_setrole);
  user_setrole->callback([&] { rc = UserCommand("role", user_flags); });

  auto* token = app.add_subcommand(
      "token", "Manage API tokens (user name __token__, the token as the password)");
  token->require_subcommand(1);
  TokenFlags token_flags;
  auto add_token_storage = [&](CLI::App* cmd) {
    cmd->add_option("--storage", token_flags.storage, "Storage: a directory, or file://PATH")
        ->required();
  };
  auto* token_create = token->add_subcommand(
      "create",
      "Create a token: prints it alone on stdout (it is shown only this once), details on "
      "stderr");
  token_create->add_option("--user", token_flags.user, "The account it acts for")->required();
  token_create->add_option("--name", token_flags.name,
                           "A label for people, up to 100 characters (\"release job\")");
  token_create
      ->add_option("--scope", token_flags.scope,
                   "read (install) or upload (and install); never more than the account's role "
                   "(default read)")
      ->check(CLI::IsMember({"read", "upload"}));
  token_create->add_option("--project", token_flags.projects,
                           "Limit it to this project (repeat for several); it then has no "
                           "rights on any other project");
  token_create
      ->add_option("--expires-days", token_flags.expires_days,
                   "Stop working after this many days (default: never)")
      ->check(CLI::Range(1, 36500));
  add_token_storage(token_create);
  token_create->callback([&] { rc = TokenCreate(token_flags); });
  auto* token_list = token->add_subcommand(
      "list",
      "List tokens, oldest first: id, user, scope, projects (* for every project), created, "
      "expires, name; tab-separated (never the secret)");
  token_list->add_option("--user", token_flags.user, "Only this account's tokens");
  token_list->add_flag("--json", token_flags.json, "As a JSON array");
  add_token_storage(token_list);
  token_list->callback([&] { rc = TokenList(token_flags); });
  auto* token_revoke = token->add_subcommand(
      "revoke", "Revoke a token: every instance refuses it within the users TTL (2 s)");
  token_revoke->add_option("ID", token_flags.id, "The token's id (16 hex digits, see token list)")
      ->required();
  add_token_storage(token_revoke);
  token_revoke->callback([&] { rc = TokenRevoke(token_flags); });

  std::string yank_storage;
  std::string yank_project;
  std::string yank_version;
  std::string yank_reason;
  auto* yank = app.add_subcommand("yank",
                                  "Yank a release (PEP 592): installers skip it "
                                  "unless pinned");
  yank->add_option("PROJECT", yank_project)->required();
  yank->add_option("VERSION", yank_version)->required();
  yank->add_option("--reason", yank_reason, "Shown to people installing it");
  yank->add_option("--storage", yank_storage)->required();
  yank->callback(
      [&] { rc = YankCommand(true, yank_storage, yank_project, yank_version, yank_reason); });
  auto* unyank = app.add_subcommand("unyank", "Undo a yank");
  unyank->add_option("PROJECT", yank_project)->required();
  unyank->add_option("VERSION", yank_version)->required();
  unyank->add_option("--storage", yank_storage)->required();
  unyank->callback([&] { rc = YankCommand(false, yank_storage, yank_project, yank_version, ""); });

  std::string claim_storage;
  std::string claim_project;
  auto* claim = app.add_subcommand(
      "claim",
      "Reserve a project name before its first upload: it is private from then on and never "
      "served from the upstream (docs/upstream.md)");
  claim->add_option("PROJECT", claim_project)->required();
  claim->add_option("--storage", claim_storage)->required();
  claim->callback([&] { rc = ClaimCommand(claim_storage, claim_project); });
  auto* project_cmd = app.add_subcommand("project", "Per-project settings");
  project_cmd->require_subcommand(1);
  for (const bool allow : {true, false}) {
    auto* sub = project_cmd->add_subcommand(
        allow ? "allow-upstream" : "deny-upstream",
        allow ? "Serve this local project's files together with the upstream's files of other "
                "filenames (off by default: docs/upstream.md)"
              : "Serve this local project from pydepot alone again (the default)");
    sub->add_option("PROJECT", claim_project)->required();
    sub->add_option("--storage", claim_storage)->required();
    sub->callback([&, allow] { rc = UpstreamCommand(claim_storage, claim_project, allow); });
  }

  AddImportCommand(app, rc);
  AddFsckCommand(app, rc);
  AddAuditCommand(app, rc);
  AddDeleteCommand(app, rc);
  AddConfigCommand(app, rc);  // after serve: it mirrors serve's options

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that exit 0; real usage errors exit 2, as documented,
    // not with CLI11's own codes (106, 109, ...).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}

}  // namespace pydepot::cli
