#include "cli/config.h"

#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "base/status.h"
#include "http/tls.h"
#include "storage/storage.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

extern char** environ;

namespace pydepot::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kEnvPrefix = "PYDEPOT_";
constexpr std::string_view kConfigEnv = "PYDEPOT_CONFIG";

// Variables pydepot reads besides the settings (docs/cloud-storage.md, docs/upstream.md).
constexpr std::string_view kOtherVariables[] = {
    "PYDEPOT_UPSTREAM_PASSWORD",
    "PYDEPOT_S3_MULTIPART_THRESHOLD",
    "PYDEPOT_S3_PART_SIZE",
    "PYDEPOT_S3_CLAIM_STALE_SECONDS",
    "PYDEPOT_GCS_RESUMABLE_THRESHOLD",
    "PYDEPOT_GCS_UPLOAD_CHUNK_SIZE",
    "PYDEPOT_GCS_READ_CHUNK_SIZE",
};

// A value whose name says it is a secret is never printed.
bool IsSecretName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view word : {"password", "secret", "token"}) {
    if (lower.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> GetEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr || *value == '\0') {
    return std::nullopt;  // empty counts as unset, as CLI11 does
  }
  return std::string(value);
}

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::string Join(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    out += (out.empty() ? "" : std::string(separator)) + value;
  }
  return out;
}

// One option of serve, as the layers see it.
struct Setting {
  CLI::Option* option = nullptr;
  std::string key;        // "max-upload-size"
  std::string flag;       // "--max-upload-size"
  std::string env;        // "PYDEPOT_MAX_UPLOAD_SIZE"
  bool is_flag = false;   // takes no value: true/false
  bool multiple = false;  // repeatable: an array in the file, commas in the environment
};

// Every option of serve but --help and --config.
std::vector<Setting> Settings(CLI::App& serve) {
  std::vector<Setting> out;
  for (CLI::Option* option : serve.get_options()) {
    if (option == serve.get_help_ptr() || option == serve.get_help_all_ptr() ||
        option->get_lnames().empty() || option->get_lnames().front() == "config") {
      continue;
    }
    Setting setting;
    setting.option = option;
    setting.key = option->get_lnames().front();
    setting.flag = "--" + setting.key;
    setting.env = EnvName(setting.key);
    setting.is_flag = option->get_expected_max() == 0;
    setting.multiple = option->get_expected_max() > 1;
    out.push_back(std::move(setting));
  }
  return out;
}

// The settings of a TOML file, as the strings a flag would carry.
struct ConfigFile {
  std::string path;
  std::map<std::string, std::vector<std::string>> values;
};

std::string TomlScalar(const toml::node& node) {
  if (const auto* s = node.as_string()) {
    return s->get();
  }
  if (const auto* i = node.as_integer()) {
    return std::to_string(i->get());
  }
  if (const auto* b = node.as_boolean()) {
    return b->get() ? "true" : "false";
  }
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  if (node.is_table()) {
    return "a table";
  }
  if (node.is_array()) {
    return "an array";
  }
  return "a date or time";
}

// Reads `path`. Every key must be a setting (at the top level or in [serve]); values must be
// strings, integers, booleans, or arrays of them for repeatable settings. Returns the
// problems, one line each, naming the file and the key.
std::vector<std::string> ReadConfigFile(const std::string& path,
                                        const std::vector<Setting>& settings, ConfigFile& out) {
  out.path = path;
  std::vector<std::string> problems;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec(errno, std::generic_category());
    return {"config file " + path + ": cannot read it: " + ec.message()};
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table root;
  try {
    root = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    return {"config file " + path + ", line " + std::to_string(e.source().begin.line) + ": " +
            std::string(e.description())};
  }
  auto where = [&](const std::string& key, const toml::node& node) {
    return "config file " + path + ", line " + std::to_string(node.source().begin.line) + ": " +
           key;
  };
  auto take = [&](const std::string& key, const toml::node& node) {
    auto setting = std::find_if(settings.begin(), settings.end(),
                                [&](const Setting& s) { return s.key == key; });
    if (setting == settings.end()) {
      std::string hint = key == "config" ? ": a config file cannot name another one"
                                         : ": unknown key (the keys are serve's flags without "
                                           "the dashes; see pydepot serve --help)";
      problems.push_back(where(key, node) + hint);
      return;
    }
    if (out.values.count(key) != 0) {
      problems.push_back(where(key, node) + ": set twice (at the top level and in [serve])");
      return;
    }
    std::vector<std::string> values;
    auto scalar = [&](const toml::node& item) -> bool {
      if (setting->is_flag && !item.is_boolean()) {
        problems.push_back(where(key, node) + ": true or false expected, not " + TomlScalar(item));
        return false;
      }
      if (!item.is_string() && !item.is_integer() && !item.is_boolean()) {
        problems.push_back(where(key, node) +
                           ": a string, an integer or true/false expected, not " +
                           TomlScalar(item));
        return false;
      }
      values.push_back(TomlScalar(item));
      return true;
    };
    if (const auto* array = node.as_array()) {
      if (!setting->multiple) {
        problems.push_back(where(key, node) + ": takes one value, not an array");
        return;
      }
      for (const toml::node& item : *array) {
        if (!scalar(item)) {
          return;
        }
      }
    } else if (node.is_table()) {
      problems.push_back(where(key, node) + ": a value expected, not a table");
      return;
    } else if (!scalar(node)) {
      return;
    }
    out.values[key] = std::move(values);
  };
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "serve" && node.is_table()) {
      for (const auto& [sub_key, sub_node] : *node.as_table()) {
        take(std::string(sub_key.str()), sub_node);
      }
      continue;
    }
    if (node.is_table()) {
      problems.push_back(where("[" + name + "]", node) + ": unknown table (only [serve] is read)");
      continue;
    }
    take(name, node);
  }
  return problems;
}

// The environment variable's values: comma-separated for repeatable settings.
std::vector<std::string> EnvValues(const Setting& setting, const std::string& value) {
  if (!setting.multiple) {
    return {value};
  }
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string::npos) {
      comma = value.size();
    }
    std::string item = Trim(std::string_view(value).substr(start, comma - start));
    if (!item.empty()) {
      out.push_back(std::move(item));
    }
    start = comma + 1;
  }
  return out;
}

enum class Source { kDefault, kFile, kEnv, kFlag };

struct Layered {
  Source source = Source::kDefault;
  std::string origin;  // "PYDEPOT_LISTEN", "config file F", "--listen"
  std::vector<std::string> values;
};

// The environment, then the file. nullopt: neither sets it.
std::optional<Layered> LowerLayers(const Setting& setting, const ConfigFile& file) {
  if (auto env = GetEnv(setting.env)) {
    return Layered{Source::kEnv, setting.env, EnvValues(setting, *env)};
  }
  auto it = file.values.find(setting.key);
  if (it != file.values.end()) {
    return Layered{Source::kFile, "config file " + file.path + ": " + setting.key, it->second};
  }
  return std::nullopt;
}

// Gives the option these values as if they were on the command line: CLI11 converts and
// validates them (ranges, types) and sets the variable. Returns CLI11's complaint.
std::optional<std::string> Feed(CLI::Option& option, const std::vector<std::string>& values) {
  option.clear();
  try {
    for (const std::string& value : values) {
      option.add_result(value);
    }
    option.run_callback();
  } catch (const CLI::Error& e) {
    option.clear();
    return std::string(e.what());
  }
  return std::nullopt;
}

std::string Describe(const Layered& layer) {
  return layer.origin + " = " + Join(layer.values, ",");
}

std::string ConfigPathFromEnv() { return GetEnv(kConfigEnv).value_or(""); }

// ---- config check ----

struct Report {
  std::vector<std::string> problems;
  void Add(std::string line) { problems.push_back(std::move(line)); }
};

std::optional<std::int64_t> ParseInt(const std::string& text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

void CheckListen(const std::string& listen, const std::string& origin, Report& report) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    report.Add("listen: '" + listen + "' (" + origin +
               ") is not HOST:PORT, e.g. 0.0.0.0:8080 or [::]:8080");
    return;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = ParseInt(listen.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) {
    report.Add("listen: '" + listen + "' (" + origin + ") has no valid port (0 to 65535)");
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    report.Add("listen: cannot resolve the host '" + host + "' (" + origin +
               "): " + gai_strerror(rc));
    return;
  }
  freeaddrinfo(found);
}

// Writable: a file can be created in it (access(2) says yes to root on a read-only mount).
std::optional<std::string> ProbeWritable(const fs::path& dir) {
  std::string pattern = (dir / ".pydepot-config-check-XXXXXX").string();
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return std::error_code(errno, std::generic_category()).message();
  }
  ::close(fd);
  ::unlink(pattern.c_str());
  return std::nullopt;
}

// A directory serve would create: the nearest existing ancestor must be writable.
void CheckDirectory(const std::string& what, const fs::path& dir, Report& report) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      report.Add(what + ": " + dir.string() + " is not a directory");
      return;
    }
    if (auto error = ProbeWritable(dir)) {
      report.Add(what + ": " + dir.string() + " is not writable: " + *error);
    }
    return;
  }
  fs::path parent = fs::absolute(dir, ec).parent_path();
  while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) {
    parent = parent.parent_path();
  }
  if (!fs::is_directory(parent, ec)) {
    report.Add(what + ": cannot create " + dir.string() + ": " + parent.string() +
               " is not a directory");
    return;
  }
  if (auto error = ProbeWritable(parent)) {
    report.Add(what + ": cannot create " + dir.string() + ": " + parent.string() +
               " is not writable: " + *error);
  }
}

// "" for a URL that is not a local directory, else the directory.
std::string LocalPath(const std::string& url) {
  std::size_t scheme_end = url.find("://");
  if (url == "memory:" || url.rfind("mem:", 0) == 0 || url.rfind("memory:", 0) == 0) {
    return "";
  }
  if (scheme_end == std::string::npos) {
    return url;
  }
  if (url.compare(0, scheme_end, "file") == 0) {
    std::string path = url.substr(scheme_end + 3);
    if (path.rfind("localhost/", 0) == 0) {
      path = path.substr(std::string_view("localhost").size());
    }
    return path;
  }
  return "";
}

// Opens the store and reads the one object every server reads first. A local directory that
// does not exist yet is not created: its parent must be writable.
void CheckStorage(const std::string& url, const std::string& temp_dir, Report& report) {
  const std::string local = LocalPath(url);
  std::error_code ec;
  std::optional<fs::path> spool;
  if (!local.empty() && !fs::exists(local, ec)) {
    CheckDirectory("storage", local, report);
    spool = fs::path(local) / ".tmp";
  } else {
    auto store = storage::OpenStorage(url);
    if (!store.has_value()) {
      report.Add("storage: cannot open " + url + ": " + store.error().message());
      return;
    }
    auto users = (*store)->Head("auth/users.json");
    if (!users.has_value() && users.error().code() != StatusCode::kNotFound) {
      report.Add("storage: cannot reach " + url + ": " + users.error().message());
    }
    spool = (*store)->SpoolDirectory();
  }
  if (temp_dir.empty()) {
    CheckDirectory("temp-dir (default)",
                   spool ? *spool : fs::temp_directory_path(ec) / "pydepot-uploads", report);
  }
}

void CheckUpstream(const std::string& url, const std::string& origin, Report& report) {
  std::size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https") {
    report.Add("upstream: '" + url + "' (" + origin +
               ") is not an http:// or https:// URL of a simple index, e.g. "
               "https://pypi.org/simple/");
    return;
  }
  std::string rest = url.substr(scheme_end + 3);
  if (rest.empty() || rest.front() == '/') {
    report.Add("upstream: '" + url + "' (" + origin + ") has no host");
  }
}

// Native TLS: both files or neither; readable PEM; the key the certificate's; not expired.
void CheckTls(const std::string& cert, const std::string& cert_origin, const std::string& key,
              const std::string& key_origin, Report& report) {
  if (cert.empty() && key.empty()) {
    return;
  }
  if (cert.empty() || key.empty()) {
    report.Add(cert.empty() ? "tls-key: set (" + key_origin +
                                  ") but tls-cert is not: native TLS needs the certificate "
                                  "chain (tls-cert) and its private key (tls-key), or neither"
                            : "tls-cert: set (" + cert_origin +
                                  ") but tls-key is not: native TLS needs the certificate "
                                  "chain (tls-cert) and its private key (tls-key), or neither");
    return;
  }
  auto info = http::CheckTlsFiles(cert, key);
  if (!info.has_value()) {
    report.Add(info.error().message());
    return;
  }
  std::cout << "  TLS certificate: " << info->Summary() << "\n";
  if (info->expired) {
    report.Add("tls-cert " + cert + ": the certificate expired on " + info->not_after +
               "; clients refuse it: renew it (then SIGHUP reloads it)");
  } else if (info->not_yet_valid) {
    report.Add("tls-cert " + cert + ": the certificate is not valid before " + info->not_before +
               "; clients refuse it until then (or the clock is wrong)");
  }
}

// Ranges CLI11's own checks on the options do not cover.
struct RangeRule {
  std::string_view key;
  std::int64_t min;
  std::int64_t max;
  std::string_view why;
};
constexpr RangeRule kRanges[] = {
    {"max-upload-size", 1, std::int64_t{1} << 50, "bytes"},
    {"cache-ttl-ms", 0, 86400000, "milliseconds"},
    {"threads", 0, 1024, "0 picks one per core"},
    {"blocking-threads", 0, 4096, "0 picks 4 per core, at least 16"},
    {"redirect-downloads", 0, 604800, "seconds, at most 7 days (presigned URLs)"},
    {"max-connections", 0, 10000000, "0 picks the default"},
};

std::string SourceName(const Layered& layer) {
  switch (layer.source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return "file";
    case Source::kEnv:
      return "env " + layer.origin;
    case Source::kFlag:
      return "flag";
  }
  return "";
}

int ConfigCheck(CLI::App& serve, const std::map<std::string, CLI::Option*>& mirrors,
                const std::map<std::string, std::string>& defaults) {
  std::vector<Setting> settings = Settings(serve);
  Report report;
  // The config file: --config, else PYDEPOT_CONFIG.
  std::string config_path;
  std::string config_origin;
  if (auto it = mirrors.find("config"); it != mirrors.end() && it->second->count() > 0) {
    config_path = it->second->results().back();
    config_origin = "--config";
  } else if (auto env = GetEnv(kConfigEnv)) {
    config_path = *env;
    config_origin = std::string(kConfigEnv);
  }
  ConfigFile file;
  if (!config_path.empty()) {
    for (std::string& problem : ReadConfigFile(config_path, settings, file)) {
      report.Add(std::move(problem));
    }
    std::cout << "config file: " << config_path << " (" << config_origin << ")\n";
  } else {
    std::cout << "config file: none (--config FILE or " << kConfigEnv << ")\n";
  }

  std::map<std::string, Layered> effective;
  std::size_t width = 0;
  for (const Setting& setting : settings) {
    width = std::max(width, setting.key.size());
  }
  for (const Setting& setting : settings) {
    Layered layer;
    auto mirror = mirrors.find(setting.key);
    if (mirror != mirrors.end() && mirror->second->count() > 0) {
      layer = Layered{Source::kFlag, setting.flag, mirror->second->results()};
    } else if (auto lower = LowerLayers(setting, file)) {
      layer = *std::move(lower);
    } else {
      auto it = defaults.find(setting.key);
      std::string value = it == defaults.end() ? "" : it->second;
      if (setting.is_flag && value.empty()) {
        value = "false";
      }
      layer.values = {value};
    }
    if (layer.source != Source::kDefault) {
      if (auto error = Feed(*setting.option, layer.values)) {
        report.Add(setting.key + ": '" + Join(layer.values, ",") + "' (" + SourceName(layer) +
                   ") is not valid: " + *error);
      }
      setting.option->clear();
    }
    std::string shown = Join(layer.values, ", ");
    if (IsSecretName(setting.key) && layer.source != Source::kDefault) {
      shown = "(set)";
    } else if (shown.empty() || shown == "[]") {
      shown = "(none)";
    }
    std::cout << "  " << setting.key << std::string(width - setting.key.size(), ' ') << " = "
              << shown << "  (" << SourceName(layer) << ")\n";
    effective[setting.key] = std::move(layer);
  }
  // Variables read besides the settings, and PYDEPOT_ names nothing reads (typos).
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view var(*entry);
    std::size_t eq = var.find('=');
    std::string_view name = var.substr(0, eq);
    if (name.substr(0, kEnvPrefix.size()) != kEnvPrefix || name == kConfigEnv ||
        std::any_of(settings.begin(), settings.end(),
                    [&](const Setting& s) { return s.env == name; })) {
      continue;
    }
    bool known = std::find(std::begin(kOtherVariables), std::end(kOtherVariables), name) !=
                 std::end(kOtherVariables);
    std::string value = eq == std::string_view::npos ? "" : std::string(var.substr(eq + 1));
    if (IsSecretName(name)) {
      value = "(set)";
    }
    std::cout << "  " << name << " = " << value
              << (known ? "  (env)" : "  (env; not read by pydepot serve)") << "\n";
  }

  auto value_of = [&](std::string_view key) -> std::string {
    auto it = effective.find(std::string(key));
    if (it == effective.end() || it->second.values.empty()) {
      return "";
    }
    return it->second.values.back();
  };
  auto origin_of = [&](std::string_view key) -> std::string {
    auto it = effective.find(std::string(key));
    return it == effective.end() ? "" : SourceName(it->second);
  };

  // listen, as serve picks it.
  std::string listen = value_of("listen");
  std::string listen_origin = origin_of("listen");
  if (listen.empty()) {
    auto port = GetEnv("PORT");
    listen = port ? "0.0.0.0:" + *port : "127.0.0.1:8080";
    listen_origin = port ? "from PORT" : "default";
    std::cout << "  listening on " << listen << " (" << listen_origin << ")\n";
  }
  CheckListen(listen, listen_origin, report);

  const std::string temp_dir = value_of("temp-dir");
  if (!temp_dir.empty()) {
    CheckDirectory("temp-dir", temp_dir, report);
  }
  const std::string storage_url = value_of("storage");
  if (storage_url.empty()) {
    report.Add("storage: not set; give --storage, " + EnvName("storage") +
               " or storage = \"...\" in the config file");
  } else {
    CheckStorage(storage_url, temp_dir, report);
  }
  const std::string upstream = value_of("upstream");
  if (!upstream.empty()) {
    CheckUpstream(upstream, origin_of("upstream"), report);
  }
  if (!value_of("upstream-user").empty() && upstream.empty()) {
    report.Add("upstream-user: set, but there is no upstream");
  }
  CheckTls(value_of("tls-cert"), origin_of("tls-cert"), value_of("tls-key"), origin_of("tls-key"),
           report);
  for (const RangeRule& rule : kRanges) {
    auto it = effective.find(std::string(rule.key));
    if (it == effective.end() || it->second.source == Source::kDefault) {
      continue;
    }
    auto number = ParseInt(it->second.values.empty() ? "" : it->second.values.back());
    if (number && (*number < rule.min || *number > rule.max)) {
      report.Add(std::string(rule.key) + ": " + std::to_string(*number) + " (" +
                 SourceName(it->second) + ") is out of range: " + std::to_string(rule.min) +
                 " to " + std::to_string(rule.max) + " (" + std::string(rule.why) + ")");
    }
  }

  if (report.problems.empty()) {
    std::cout << "configuration ok\n";
    return 0;
  }
  for (const std::string& problem : report.problems) {
    std::cerr << problem << "\n";
  }
  std::cout << report.problems.size() << (report.problems.size() == 1 ? " problem" : " problems")
            << "\n";
  return 1;
}

}  // namespace

std::string EnvName(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') {
    flag.remove_prefix(1);
  }
  std::string out(kEnvPrefix);
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

void AddServeConfig(CLI::App& serve) {
  struct State {
    std::string config_path;
    CLI::Option* config_option = nullptr;
    std::vector<Setting> settings;
    std::vector<Setting> required;
  };
  auto state = std::make_shared<State>();
  state->config_option = serve.add_option(
      "--config", state->config_path,
      "A TOML file of settings: keys are these flags without the dashes (storage = "
      "\"gs://bucket\", public-read = true, trusted-proxy = [\"10.0.0.1\"]), at the top level "
      "or in [serve] (default: $PYDEPOT_CONFIG)");
  serve.footer(
      "Every flag can also be given in the environment as PYDEPOT_<FLAG> (--max-upload-size: "
      "PYDEPOT_MAX_UPLOAD_SIZE; lists comma-separated) or in the --config file. A flag wins over "
      "the environment, which wins over the file. Check a configuration with: pydepot config "
      "check.\n");
  // Before serve's arguments are parsed: the options as they are then (so options declared
  // after this call are covered too); a required one may come from any layer.
  serve.preparse_callback([&serve, state](std::size_t) {
    state->settings = Settings(serve);
    state->required.clear();
    for (const Setting& setting : state->settings) {
      if (setting.option->get_required()) {
        setting.option->required(false);
        state->required.push_back(setting);
      }
    }
  });
  // Once serve's own arguments are parsed (and the given flags converted), before serve's
  // callback runs: fills in what the flags did not set.
  serve.parse_complete_callback([state] {
    std::string path = state->config_option->count() > 0 ? state->config_path : ConfigPathFromEnv();
    ConfigFile file;
    std::vector<std::string> problems;
    if (!path.empty()) {
      problems = ReadConfigFile(path, state->settings, file);
    }
    for (const Setting& setting : state->settings) {
      if (setting.option->count() > 0) {
        continue;  // a flag
      }
      auto layer = LowerLayers(setting, file);
      if (!layer) {
        continue;
      }
      if (auto error = Feed(*setting.option, layer->values)) {
        problems.push_back(Describe(*layer) + ": " + *error);
      }
    }
    for (const Setting& setting : state->required) {
      if (setting.option->count() == 0) {
        problems.push_back(setting.flag + " is required (or " + setting.env +
                           " in the environment, or " + setting.key + " in the config file)");
      }
    }
    if (!problems.empty()) {
      throw CLI::ValidationError(Join(problems, "\n"));
    }
  });
}

void AddConfigCommand(CLI::App& app, int& rc) {
  CLI::App* serve = app.get_subcommand("serve");
  auto* config = app.add_subcommand("config", "Check the configuration of pydepot serve");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check",
      "Print every setting serve would use (flags, PYDEPOT_* variables, --config file, "
      "defaults) and where it came from, then check them: listen address, storage reachable, "
      "temp dir writable, upstream URL, TLS files, ranges. Exit 0 if fine, 1 with one line per "
      "problem");
  // The same flags as serve, taken as text: their values are checked by serve's own options.
  auto mirrors = std::make_shared<std::map<std::string, CLI::Option*>>();
  auto defaults = std::make_shared<std::map<std::string, std::string>>();
  for (CLI::Option* option : serve->get_options()) {
    if (option == serve->get_help_ptr() || option == serve->get_help_all_ptr() ||
        option->get_lnames().empty()) {
      continue;
    }
    const std::string key = option->get_lnames().front();
    CLI::Option* mirror =
        option->get_expected_max() == 0
            ? check->add_flag("--" + key, option->get_description())
            : check->add_option("--" + key, option->get_description())
                  ->expected(option->get_expected_min(), option->get_expected_max())
                  ->multi_option_policy(option->get_multi_option_policy());
    (*mirrors)[key] = mirror;
    // The default is the bound variable's value now, before anything is parsed.
    const std::string shown_default = option->get_default_str();
    option->capture_default_str();
    (*defaults)[key] = option->get_default_str();
    option->default_str(shown_default);
  }
  check->callback(
      [serve, mirrors, defaults, &rc] { rc = ConfigCheck(*serve, *mirrors, *defaults); });
}

}  // namespace pydepot::cli
