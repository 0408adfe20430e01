// The S3 HTTP client under many threads at once, against a keep-alive server that drops
// connections at random (what radosgw and S3 do to idle and busy connections alike).
#include "storage/s3_http.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/s3_test_server.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage::s3 {
namespace {

using ::pydepot::storage::testing::IsOk;

// Answers every GET with its own path, keeps connections alive for a few requests each, then
// closes them: with "Connection: close" or, every third time, silently (the client finds out
// when it next writes or reads). One thread per connection.
class KeepAliveServer {
 public:
  KeepAliveServer() {
    std::tie(listener_, port_) = testing::ListenOnLoopback(256);
    if (port_ != 0) {
      acceptor_ = std::thread([this] { Accept(); });
    }
  }
  KeepAliveServer(const KeepAliveServer&) = delete;
  KeepAliveServer& operator=(const KeepAliveServer&) = delete;
  KeepAliveServer(KeepAliveServer&&) = delete;
  KeepAliveServer& operator=(KeepAliveServer&&) = delete;
  ~KeepAliveServer() {
    stop_.store(true);
    if (acceptor_.joinable()) {
      acceptor_.join();
    }
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mu_);
      workers.swap(workers_);
    }
    for (auto& worker : workers) {
      worker.join();
    }
    if (listener_ >= 0) {
      ::close(listener_);
    }
  }

  int port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Accept() {
    unsigned seed = 1;
    while (!stop_.load()) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 20) <= 0) {
        continue;
      }
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      connections_.fetch_add(1);
      const int keep_for = 1 + static_cast<int>(seed % 4);  // requests on this connection
      const bool silent = seed % 3 == 0;
      ++seed;
      std::lock_guard lock(mu_);
      workers_.emplace_back([this, fd, keep_for, silent] { Serve(fd, keep_for, silent); });
    }
  }

  void Serve(int fd, int keep_for, bool silent) {
    std::string data;
    char buffer[4096];
    for (int served = 0; served < keep_for && !stop_.load();) {
      const std::size_t end = data.find("\r\n\r\n");
      if (end == std::string::npos) {
        pollfd ready{fd, POLLIN, 0};
        if (::poll(&ready, 1, 20) <= 0) {
          continue;
        }
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          break;
        }
        data.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      const std::size_t space1 = data.find(' ');
      const std::string path = data.substr(space1 + 1, data.find(' ', space1 + 1) - space1 - 1);
      data.erase(0, end + 4);
      ++served;
      const bool last = served == keep_for && !silent;
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(path.size()) + "\r\n" +
          (last ? "Connection: close\r\n" : "") + "\r\n" + path;
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(response.size())) {
        break;
      }
    }
    ::close(fd);
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;  // guarded by mu_
};

// libcurl does not support one connection cache shared by concurrent threads (CURLSHOPT_SHARE,
// CURL_LOCK_DATA_CONNECT). With it shared, this never crashed here, but almost every request
// opened a connection of its own (2391 for 2400): the last assertion failed. Every request must
// get its own answer, and connections must be reused.
TEST(S3HttpClientTest, ManyThreadsOverConnectionsThatComeAndGo) {
  KeepAliveServer server;
  ASSERT_NE(server.port(), 0);
  auto client = HttpClient::Create({});
  ASSERT_THAT(client, IsOk());
  constexpr int kThreads = 16;
  constexpr int kRequests = 150;
  std::atomic<int> wrong{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const std::string path = "/t" + std::to_string(t) + "/r" + std::to_string(i);
        HttpRequest request{"GET", "http://127.0.0.1:" + std::to_string(server.port()) + path};
        request.total_timeout = std::chrono::seconds(20);
        auto response = (*client)->Send(request);
        if (!response.has_value()) {
          std::lock_guard lock(failures_mu);
          failures.push_back(path + ": " + response.error().ToString());
        } else if (response->status != 200 || response->body != path) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_THAT(failures, ::testing::IsEmpty());
  // Each connection serves 1 to 4 requests (2.5 on average): reuse works, but within bounds.
  EXPECT_LT(server.connections(), kThreads * kRequests * 3 / 4);
}

}  // namespace
}  // namespace pydepot::storage::s3
