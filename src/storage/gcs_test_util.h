// Helpers for the GCS backend's tests (not part of the library): a private stand-in server per
// test (tests/gcs/standin.py, started on port 0 and killed at the end), service-account key
// files made with a fresh RSA key, and an environment held in a map.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "storage/gcs_auth.h"
#include "storage/gcs_http.h"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace pydepot::storage::gcs::testing {

inline constexpr const char* kPython = "/usr/bin/python3";

inline std::string StandInScript() {
  return std::string(PYDEPOT_SOURCE_DIR) + "/tests/gcs/standin.py";
}

// A stand-in server of its own for one test.
class StandIn {
 public:
  explicit StandIn(const std::vector<std::string>& args = {}) {
    if (::access(kPython, X_OK) != 0) {
      return;
    }
    // stdout: the server's URL. stdin: held open by this process alone, so the server (run with
    // --exit-with-stdin) exits when the test does, even if the test crashes.
    int out[2];
    int in[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      return;
    }
    if (::pipe2(in, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return;
    }
    std::vector<std::string> argv_strings = {kPython, StandInScript(), "--port", "0",
                                             "--exit-with-stdin"};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_strings.size() + 1);
    for (std::string& arg : argv_strings) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    int spawned = posix_spawn(&pid_, kPython, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(in[0]);
    stdin_fd_ = in[1];
    if (spawned != 0) {
      pid_ = -1;
      ::close(out[0]);
      return;
    }
    // The first line is the URL; the pipe stays open (and unread) until the server exits.
    std::string line;
    char c = 0;
    while (::read(out[0], &c, 1) == 1 && c != '\n') {
      line += c;
    }
    stdout_fd_ = out[0];
    if (line.rfind("http://", 0) == 0) {
      url_ = line;
    }
  }
  ~StandIn() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
    }
    if (stdin_fd_ >= 0) {
      ::close(stdin_fd_);
    }
  }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;
  StandIn(StandIn&&) = delete;
  StandIn& operator=(StandIn&&) = delete;

  bool ok() const { return !url_.empty(); }
  const std::string& url() const { return url_; }      // http://127.0.0.1:PORT
  std::string host() const { return url_.substr(7); }  // 127.0.0.1:PORT
  std::string token_uri() const { return url_ + "/token"; }

  boost::json::value Get(std::string_view path) { return Send("GET", path, ""); }
  boost::json::value Post(std::string_view path, std::string body) {
    return Send("POST", path, std::move(body));
  }

  // The problems recorded so far.
  std::vector<std::string> Violations() {
    std::vector<std::string> problems;
    boost::json::value list = Get("/_standin/violations");
    if (list.is_array()) {
      for (const boost::json::value& entry : list.get_array()) {
        problems.push_back(boost::json::serialize(entry));
      }
    }
    return problems;
  }
  void ClearViolations() { Post("/_standin/violations/clear", ""); }

  // A request counter of /_standin/stats (0 when absent).
  std::int64_t Stat(std::string_view name) {
    boost::json::value stats = Get("/_standin/stats");
    if (!stats.is_object()) {
      return -1;
    }
    const boost::json::value* value = stats.get_object().if_contains(name);
    return value != nullptr && value->is_int64() ? value->get_int64() : 0;
  }

  // Queues faults, e.g. R"([{"op": "media", "status": 503, "count": 2}])" (standin.py: Fault).
  void InjectFaults(std::string json) { Post("/_standin/faults", std::move(json)); }

  // The requests seen, as the stand-in logged them.
  std::vector<boost::json::object> Log() {
    std::vector<boost::json::object> entries;
    boost::json::value log = Get("/_standin/log");
    if (log.is_array()) {
      for (const boost::json::value& entry : log.get_array()) {
        if (entry.is_object()) {
          entries.push_back(entry.get_object());
        }
      }
    }
    return entries;
  }

 private:
  boost::json::value Send(const char* method, std::string_view path, std::string body) {
    HttpRequest request;
    request.method = method;
    request.url = url_ + std::string(path);
    request.body = std::move(body);
    request.timeout = std::chrono::seconds(30);
    StatusOr<HttpResponse> response = http_.Send(request);
    if (!response.has_value()) {
      return nullptr;
    }
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(response->body, ec);
    return ec ? boost::json::value(nullptr) : value;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;
  std::string url_;
  HttpClient http_;
};

// A PEM (PKCS#8) RSA private key, made once per process per size and shared by the tests.
inline const std::string& TestRsaKeyPem(int bits = 2048) {
  static std::map<int, std::string>* keys = new std::map<int, std::string>();
  auto it = keys->find(bits);
  if (it != keys->end()) {
    return it->second;
  }
  std::string pem;
  EVP_PKEY* pkey = EVP_RSA_gen(static_cast<unsigned int>(bits));
  BIO* bio = BIO_new(BIO_s_mem());
  if (pkey != nullptr && bio != nullptr &&
      PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
    pem.assign(data, static_cast<std::size_t>(length));
  }
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return keys->emplace(bits, std::move(pem)).first->second;
}

struct TestKeyFile {
  std::string path;
  std::string email;
};

// Writes a service-account key file (with TestRsaKeyPem(bits)) to `path`.
inline TestKeyFile WriteServiceAccountKey(const std::filesystem::path& path,
                                          const std::string& email, const std::string& token_uri,
                                          int bits = 2048) {
  boost::json::object key;
  key["type"] = "service_account";
  key["project_id"] = "standin-project";
  key["private_key_id"] = "0123456789abcdef";
  key["private_key"] = TestRsaKeyPem(bits);
  key["client_email"] = email;
  key["client_id"] = "1234567890";
  key["token_uri"] = token_uri;
  std::ofstream(path) << boost::json::serialize(key);
  return TestKeyFile{path.string(), email};
}

// An environment of exactly `vars`.
inline EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](std::string_view name) -> std::optional<std::string> {
    auto it = shared->find(std::string(name));
    if (it == shared->end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

// Retries without the production waits.
inline RetryPolicy FastRetry(int attempts = 4) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.initial_backoff = std::chrono::milliseconds(1);
  policy.max_backoff = std::chrono::milliseconds(10);
  return policy;
}

}  // namespace pydepot::storage::gcs::testing
