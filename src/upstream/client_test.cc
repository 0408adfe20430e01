// Client against tiny HTTP servers on 127.0.0.1 (a blocking accept loop on its own thread that
// answers each request with a canned response and closes the connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool Has(const std::string& name) const { return headers.count(name) != 0; }
};

// A canned HTTP/1.1 response that closes the connection. Without `length`, no Content-Length
// is sent and the body ends with the connection.
std::string Response(int status, const std::string& body,
                     const std::vector<std::string>& headers = {}, bool length = true) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\n";
  for (const std::string& header : headers) {
    out += header + "\r\n";
  }
  if (length) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  return out + body;
}

class TestServer {
 public:
  using Handler = std::function<std::string(const Request&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  ~TestServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes the blocked accept()
    thread_.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Run() {
    while (!stopping_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) {
          return;
        }
        continue;
      }
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          break;
        }
        head.append(buffer, static_cast<std::size_t>(n));
      }
      Request request = Parse(head);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      const std::string response = handler_(request);
      std::size_t sent = 0;
      while (sent < response.size()) {
        ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
          break;
        }
        sent += static_cast<std::size_t>(n);
      }
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
    }
  }

  static Request Parse(const std::string& head) {
    Request request;
    std::istringstream in(head);
    std::string line;
    std::getline(in, line);
    std::istringstream first(line);
    first >> request.method >> request.target;
    while (std::getline(in, line) && line != "\r") {
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      std::string name = line.substr(0, colon);
      for (char& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (!value.empty() && value.back() == '\r') {
        value.pop_back();
      }
      request.headers[name] = value;
    }
    return request;
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

constexpr const char* kBasicUserSecret = "Basic dXNlcjpzZWNyZXQ=";  // user:secret

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Loopback requests must not go through a proxy configured in the environment.
    ::setenv("no_proxy", "127.0.0.1", 1);
    ::setenv("NO_PROXY", "127.0.0.1", 1);
  }

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("upstream_client_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::unique_ptr<Client> MakeClient(const std::string& index_url,
                                            const std::string& user = "",
                                            const std::string& password = "",
                                            std::int64_t max_page_bytes = 1 << 20) {
    ClientOptions options;
    options.index_url = index_url;
    options.user = user;
    options.password = password;
    options.connect_timeout = std::chrono::seconds(5);
    options.timeout = std::chrono::seconds(10);
    options.max_page_bytes = max_page_bytes;
    auto client = Client::Create(options);
    EXPECT_TRUE(client.has_value()) << (client.has_value() ? Status() : client.error());
    return client.has_value() ? std::move(*client) : nullptr;
  }

  static std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir_;
};

TEST_F(ClientTest, CreateValidatesAndNormalizesTheIndexUrl) {
  for (const char* bad : {"", "pypi.org/simple/", "ftp://pypi.org/simple/", "file:///simple/",
                          "https:///simple/", "https://pypi.org/simple/?x=1",
                          "https://pypi.org/simple/#f", "https://pypi.org/sim ple/"}) {
    ClientOptions options;
    options.index_url = bad;
    auto client = Client::Create(options);
    ASSERT_FALSE(client.has_value()) << bad;
    EXPECT_EQ(client.error().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto client = MakeClient("https://pypi.org/simple");
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->index_url(), "https://pypi.org/simple/");

  // Credentials in the URL are taken out of it.
  ClientOptions options;
  options.index_url = "https://us%40er:p%3Ass@pypi.example.org/simple/";
  auto with_userinfo = Client::Create(options);
  ASSERT_TRUE(with_userinfo.has_value());
  EXPECT_EQ((*with_userinfo)->index_url(), "https://pypi.example.org/simple/");
}

TEST_F(ClientTest, FetchPageJson) {
  const std::string body = R"({"meta": {"api-version": "1.1"}, "name": "foo", "files": []})";
  TestServer server([&](const Request& request) {
    if (request.target != "/simple/foo/") {
      return Response(404, "");
    }
    return Response(200, body,
                    {"Content-Type: application/vnd.pypi.simple.v1+json", "ETag: \"v1\""});
  });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("foo", "");
  ASSERT_TRUE(page.has_value()) << page.error();
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(page->json);
  EXPECT_EQ(page->body, body);
  EXPECT_EQ(page->etag, "\"v1\"");
  EXPECT_EQ(page->url, server.Url("/simple/foo/"));

  ASSERT_EQ(server.requests().size(), 1u);
  const Request request = server.requests()[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.Header("accept"), "application/vnd.pypi.simple.v1+json, text/html;q=0.1");
  EXPECT_FALSE(request.Has("if-none-match"));
  EXPECT_FALSE(request.Has("authorization"));
  EXPECT_EQ(request.Header("user-agent"), "pydepot");
}

TEST_F(ClientTest, FetchPageHtml) {
  const std::string body = "<!DOCTYPE html><html><body><a href='x'>x</a></body></html>";
  TestServer server([&](const Request&) {
    return Response(200, body, {"Content-Type: text/html; charset=utf-8"});
  });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("foo", "");
  ASSERT_TRUE(page.has_value()) << page.error();
  EXPECT_EQ(page->status, 200);
  EXPECT_FALSE(page->json);
  EXPECT_EQ(page->body, body);
  EXPECT_EQ(page->etag, "");
}

TEST_F(ClientTest, FetchPageNotModified) {
  TestServer server([](const Request& request) {
    if (request.Header("if-none-match") == "\"v1\"") {
      return Response(304, "", {"ETag: \"v1\""});
    }
    return Response(200, "{}", {"ETag: \"v1\""});
  });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("foo", "\"v1\"");
  ASSERT_TRUE(page.has_value()) << page.error();
  EXPECT_EQ(page->status, 304);
  EXPECT_EQ(page->etag, "\"v1\"");
  EXPECT_EQ(page->body, "");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].Header("if-none-match"), "\"v1\"");
}

TEST_F(ClientTest, FetchPageNotFound) {
  TestServer server([](const Request&) { return Response(404, "Not Found"); });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("missing", "");
  ASSERT_TRUE(page.has_value()) << page.error();
  EXPECT_EQ(page->status, 404);
  EXPECT_EQ(page->body, "");
}

TEST_F(ClientTest, FetchPageServerErrorIsUnavailable) {
  TestServer server([](const Request&) { return Response(500, "boom"); });
  auto client = MakeClient(server.Url("/simple/"), "user", "secret");
  auto page = client->FetchPage("foo", "");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(page.error().message(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(page.error().message(), HasSubstr("500"));
  EXPECT_THAT(page.error().message(), Not(HasSubstr("secret")));
}

TEST_F(ClientTest, FetchPageRejectsNamesThatAreNotNormalized) {
  auto client = MakeClient("http://127.0.0.1:1/simple/");
  for (const char* name : {"", "Foo", "..", ".", "a_b", "a.b", "../x", "a/b", "a b", "a?b"}) {
    auto page = client->FetchPage(name, "");
    ASSERT_FALSE(page.has_value()) << name;
    EXPECT_EQ(page.error().code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST_F(ClientTest, CredentialsOnlyForTheIndexOrigin) {
  TestServer other(
      [](const Request&) { return Response(200, "<html></html>", {"Content-Type: text/html"}); });
  TestServer index([&](const Request& request) {
    if (request.target == "/simple/moved/") {
      return Response(302, "", {"Location: " + other.Url("/elsewhere/moved/")});
    }
    if (request.target == "/simple/local/") {
      return Response(301, "", {"Location: /renamed/local/"});
    }
    return Response(200, "<html></html>", {"Content-Type: text/html"});
  });
  auto client = MakeClient(index.Url("/simple/"), "user", "secret");

  // Redirected to another port: the credentials stay behind.
  auto moved = client->FetchPage("moved", "");
  ASSERT_TRUE(moved.has_value()) << moved.error();
  EXPECT_EQ(moved->status, 200);
  EXPECT_EQ(moved->url, other.Url("/elsewhere/moved/"));
  ASSERT_EQ(index.requests().size(), 1u);
  EXPECT_EQ(index.requests()[0].Header("authorization"), kBasicUserSecret);
  ASSERT_EQ(other.requests().size(), 1u);
  EXPECT_FALSE(other.requests()[0].Has("authorization"));

  // Redirected on the index's own host and port: they follow.
  auto local = client->FetchPage("local", "");
  ASSERT_TRUE(local.has_value()) << local.error();
  EXPECT_EQ(local->url, index.Url("/renamed/local/"));
  ASSERT_EQ(index.requests().size(), 3u);
  EXPECT_EQ(index.requests()[1].Header("authorization"), kBasicUserSecret);
  EXPECT_EQ(index.requests()[2].target, "/renamed/local/");
  EXPECT_EQ(index.requests()[2].Header("authorization"), kBasicUserSecret);

  // Files: on the index origin with credentials, elsewhere without.
  ASSERT_TRUE(client->FetchFile(index.Url("/files/a.tar.gz"), dir_ / "a", 1 << 20).has_value());
  EXPECT_EQ(index.requests().back().Header("authorization"), kBasicUserSecret);
  ASSERT_TRUE(client->FetchFile(other.Url("/files/b.tar.gz"), dir_ / "b", 1 << 20).has_value());
  EXPECT_FALSE(other.requests().back().Has("authorization"));
}

TEST_F(ClientTest, CredentialsFromTheIndexUrl) {
  TestServer index([](const Request&) { return Response(404, ""); });
  auto client =
      MakeClient("http://user:secret@127.0.0.1:" + std::to_string(index.port()) + "/simple/");
  EXPECT_EQ(client->index_url(), index.Url("/simple/"));
  ASSERT_TRUE(client->FetchPage("foo", "").has_value());
  ASSERT_EQ(index.requests().size(), 1u);
  EXPECT_EQ(index.requests()[0].Header("authorization"), kBasicUserSecret);
}

TEST_F(ClientTest, RedirectLoopIsUnavailable) {
  TestServer server([](const Request& request) {
    return Response(302, "", {"Location: " + request.target + "x/"});
  });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("foo", "");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kUnavailable);
  EXPECT_LE(server.requests().size(), 11u);
}

TEST_F(ClientTest, RedirectToAnotherSchemeIsRefused) {
  TestServer server(
      [](const Request&) { return Response(302, "", {"Location: file:///etc/passwd"}); });
  auto client = MakeClient(server.Url("/simple/"));
  auto page = client->FetchPage("foo", "");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kUnavailable);
}

TEST_F(ClientTest, PageTooLarge) {
  const std::string big(4096, 'x');
  TestServer server([&](const Request& request) {
    // With a Content-Length it is refused at the head; without, while it arrives.
    return Response(200, big, {"Content-Type: text/html"},
                    /*length=*/request.target == "/simple/announced/");
  });
  auto client = MakeClient(server.Url("/simple/"), "", "", /*max_page_bytes=*/1000);
  for (const char* name : {"announced", "streamed"}) {
    auto page = client->FetchPage(name, "");
    ASSERT_FALSE(page.has_value()) << name;
    EXPECT_EQ(page.error().code(), StatusCode::kUnavailable) << name;
    EXPECT_THAT(page.error().message(), HasSubstr("larger than 1000 bytes")) << name;
  }
  auto exact = MakeClient(server.Url("/simple/"), "", "", 4096)->FetchPage("streamed", "");
  ASSERT_TRUE(exact.has_value()) << exact.error();
  EXPECT_EQ(exact->body.size(), 4096u);
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailable) {
  // A port that was just free: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);

  auto client = MakeClient("http://127.0.0.1:" + std::to_string(port) + "/simple/");
  auto page = client->FetchPage("foo", "");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(page.error().message(), HasSubstr("127.0.0.1"));

  auto file = client->FetchFile("http://127.0.0.1:" + std::to_string(port) + "/f", dir_ / "f", 100);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error().code(), StatusCode::kUnavailable);
}

TEST_F(ClientTest, SlowPageTimesOut) {
  TestServer server([](const Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return Response(200, "late");
  });
  ClientOptions options;
  options.index_url = server.Url("/simple/");
  options.timeout = std::chrono::seconds(1);
  auto client = Client::Create(options);
  ASSERT_TRUE(client.has_value());
  auto page = (*client)->FetchPage("foo", "");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(page.error().message(), HasSubstr("timed out"));
}

TEST_F(ClientTest, FetchFileWritesAndHashes) {
  std::string content;
  for (int i = 0; i < 100'000; ++i) {
    content.push_back(static_cast<char>(i * 7 % 251));
  }
  TestServer server([&](const Request& request) {
    if (request.target == "/packages/foo-1.0.tar.gz") {
      return Response(200, content, {"Content-Type: application/octet-stream"});
    }
    return Response(404, "no such file");
  });
  auto client = MakeClient("https://pypi.example.org/simple/");
  const auto dest = dir_ / "foo-1.0.tar.gz";
  auto sha = client->FetchFile(server.Url("/packages/foo-1.0.tar.gz"), dest, 1 << 20);
  ASSERT_TRUE(sha.has_value()) << sha.error();
  EXPECT_EQ(*sha, Sha256Hex(content));
  EXPECT_EQ(ReadFile(dest), content);
  // No Accept-Encoding: the bytes hashed are the file's own.
  EXPECT_FALSE(server.requests().back().Has("accept-encoding"));

  // The destination must be new.
  auto again = client->FetchFile(server.Url("/packages/foo-1.0.tar.gz"), dest, 1 << 20);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), StatusCode::kInternal);
}

TEST_F(ClientTest, FetchFileNotFound) {
  TestServer server([](const Request&) { return Response(404, "no such file"); });
  auto client = MakeClient("https://pypi.example.org/simple/");
  const auto dest = dir_ / "missing.tar.gz";
  auto sha = client->FetchFile(server.Url("/packages/missing.tar.gz"), dest, 1 << 20);
  ASSERT_FALSE(sha.has_value());
  EXPECT_EQ(sha.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadFile(dest), "");  // the error page is not written
}

TEST_F(ClientTest, FetchFileOverMaxBytes) {
  const std::string content(1000, 'z');
  TestServer server([&](const Request& request) {
    return Response(200, content, {}, /*length=*/request.target == "/announced");
  });
  auto client = MakeClient("https://pypi.example.org/simple/");
  for (const char* path : {"/announced", "/streamed"}) {
    auto sha = client->FetchFile(server.Url(path), dir_ / (std::string(path + 1) + "-small"), 999);
    ASSERT_FALSE(sha.has_value()) << path;
    EXPECT_EQ(sha.error().code(), StatusCode::kResourceExhausted) << path;
    auto exact =
        client->FetchFile(server.Url(path), dir_ / (std::string(path + 1) + "-exact"), 1000);
    ASSERT_TRUE(exact.has_value()) << path << ": " << exact.error();
    EXPECT_EQ(*exact, Sha256Hex(content));
  }
}

TEST_F(ClientTest, FetchFileServerErrorIsUnavailable) {
  TestServer server([](const Request&) { return Response(503, "later"); });
  auto client = MakeClient("https://pypi.example.org/simple/");
  auto sha = client->FetchFile(server.Url("/f.tar.gz"), dir_ / "f", 100);
  ASSERT_FALSE(sha.has_value());
  EXPECT_EQ(sha.error().code(), StatusCode::kUnavailable);
  EXPECT_THAT(sha.error().message(), HasSubstr("503"));

  auto ftp = client->FetchFile("ftp://127.0.0.1/f.tar.gz", dir_ / "g", 100);
  ASSERT_FALSE(ftp.has_value());
  EXPECT_EQ(ftp.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pydepot::upstream
