// A stand-in HTTP server on 127.0.0.1 for the S3 backend's tests (not part of the library): it
// records each request and answers with whatever the test's handler returns, one request per
// connection. Used in place of S3, the container credentials endpoint and EC2's IMDS, so no test
// talks to anything beyond loopback.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/s3_credentials.h"

namespace pydepot::storage::s3::testing {

// An environment for the S3 configuration code made of exactly these variables.
using Vars = std::map<std::string, std::string, std::less<>>;

inline EnvLookup EnvOf(const Vars& vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

struct RecordedRequest {
  std::string method;
  std::string target;                                        // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  std::optional<std::string> Header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) {
        return value;
      }
    }
    return std::nullopt;
  }
};

struct CannedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

// A listening socket on 127.0.0.1 and a free port: {fd, port}, or {fd or -1, 0} on failure.
inline std::pair<int, int> ListenOnLoopback(int backlog) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof(address);
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    return {fd, 0};
  }
  return {fd, ntohs(address.sin_port)};
}

class StandInServer {
 public:
  using Handler = std::function<CannedResponse(const RecordedRequest&)>;

  explicit StandInServer(Handler handler) : handler_(std::move(handler)) {
    std::tie(listener_, port_) = ListenOnLoopback(64);
    if (port_ != 0) {
      thread_ = std::thread([this] { Serve(); });
    }
  }
  StandInServer(const StandInServer&) = delete;
  StandInServer& operator=(const StandInServer&) = delete;
  StandInServer(StandInServer&&) = delete;
  StandInServer& operator=(StandInServer&&) = delete;
  ~StandInServer() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    if (listener_ >= 0) {
      ::close(listener_);
    }
  }

  // 0 when the server could not start.
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_.load()) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) {
        continue;
      }
      int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection >= 0) {
        HandleConnection(connection);
        ::close(connection);
      }
    }
  }

  void HandleConnection(int connection) {
    std::string data;
    std::size_t head_end = std::string::npos;
    char buffer[65536];
    while (head_end == std::string::npos) {
      ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return;
      }
      data.append(buffer, static_cast<std::size_t>(n));
      head_end = data.find("\r\n\r\n");
    }
    RecordedRequest request;
    std::size_t line_end = data.find("\r\n");
    std::string line = data.substr(0, line_end);
    std::size_t space1 = line.find(' ');
    std::size_t space2 = line.find(' ', space1 + 1);
    request.method = line.substr(0, space1);
    request.target = line.substr(space1 + 1, space2 - space1 - 1);
    std::size_t content_length = 0;
    std::size_t pos = line_end + 2;
    while (pos < head_end) {
      std::size_t end = data.find("\r\n", pos);
      std::string header = data.substr(pos, end - pos);
      pos = end + 2;
      std::size_t colon = header.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      std::string name = header.substr(0, colon);
      for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      std::string value = header.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") {
        content_length = std::stoul(value);
      }
      request.headers.emplace_back(name, value);
    }
    request.body = data.substr(head_end + 4);
    while (request.body.size() < content_length) {
      ssize_t n = ::recv(connection, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        return;
      }
      request.body.append(buffer, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
    }
    CannedResponse response = handler_(request);
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Canned\r\n";
    for (const auto& [name, value] : response.headers) {
      out.append(name).append(": ").append(value).append("\r\n");
    }
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (request.method != "HEAD") {
      out += response.body;
    }
    std::size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(connection, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace pydepot::storage::s3::testing
