#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/handlers.h"
#include "http/socket_test_util.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/storage.h"

namespace pydepot::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// --- The response head ------------------------------------------------------------------------

TEST(SerializeResponseHeadTest, EveryResponseCarriesTheSecurityHeaders) {
  for (unsigned status : {200U, 304U, 401U, 404U, 429U, 503U}) {
    SCOPED_TRACE(status);
    Response res = status >= 400 ? ErrorResponse(status, "message") : Response{};
    res.status = status;
    std::string head;
    SerializeResponseHead(res, true, false, status == 304, head);
    EXPECT_THAT(head, StartsWith("HTTP/1.1 " + std::to_string(status) + " "));
    EXPECT_THAT(head, HasSubstr("\r\nX-Content-Type-Options: nosniff\r\n"));
    EXPECT_THAT(head, HasSubstr("\r\nX-Frame-Options: DENY\r\n"));
    EXPECT_THAT(head, HasSubstr("\r\nReferrer-Policy: no-referrer\r\n"));
    EXPECT_THAT(head, HasSubstr("\r\nContent-Security-Policy: default-src 'none'; "
                                "style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'\r\n"));
    EXPECT_THAT(head, Not(HasSubstr("Connection:")));
    EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  }
}

TEST(SerializeResponseHeadTest, LengthAndConnectionAreTheServersOwn) {
  Response res;
  res.body = "hello";
  res.SetHeader("Content-Length", "999");
  res.SetHeader("Connection", "upgrade");
  res.SetHeader("Location", "/a\r\nSet-Cookie: x=1");
  std::string head;
  SerializeResponseHead(res, false, false, false, head);
  EXPECT_THAT(head, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("999")));
  EXPECT_THAT(head, HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("upgrade")));
  EXPECT_THAT(head, Not(HasSubstr("\r\nSet-Cookie")));
}

// --- Client addresses behind proxies ------------------------------------------------------------

RequestHead WithForwardedFor(std::vector<std::string> values) {
  RequestHead head;
  head.method = "GET";
  head.target = "/";
  for (auto& value : values) {
    head.headers.emplace_back("X-Forwarded-For", std::move(value));
  }
  return head;
}

TEST(ForwardedClientAddressTest, OnlyTrustedPeersAreBelieved) {
  const std::vector<std::string> trusted = {"10.0.0.1", "10.0.0.2"};
  // An untrusted peer's header is ignored, whatever it says.
  EXPECT_EQ(ForwardedClientAddress("192.0.2.7", WithForwardedFor({"1.2.3.4"}), trusted),
            "192.0.2.7");
  EXPECT_EQ(ForwardedClientAddress("192.0.2.7", WithForwardedFor({}), {}), "192.0.2.7");
  // Through a trusted proxy: the rightmost address that is not a trusted proxy.
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"1.2.3.4"}), trusted), "1.2.3.4");
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"6.6.6.6, 1.2.3.4 , 10.0.0.2"}),
                                   trusted),
            "1.2.3.4");
  // Several header lines are one list, in order.
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"6.6.6.6", "1.2.3.4"}), trusted),
            "1.2.3.4");
  // A client that forges entries cannot hide behind them: its own address is appended last.
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"10.0.0.2, 5.5.5.5"}), trusted),
            "5.5.5.5");
  // IPv4-mapped IPv6 is IPv4; IPv6 is normalized.
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"::ffff:1.2.3.4"}), trusted),
            "1.2.3.4");
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"2001:DB8::1"}), trusted),
            "2001:db8::1");
  // Garbage stops the walk at the last trusted hop; no header leaves the proxy itself.
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({"unknown"}), trusted), "10.0.0.1");
  EXPECT_EQ(
      ForwardedClientAddress("10.0.0.1", WithForwardedFor({"1.2.3.4, 10.0.0.2, junk"}), trusted),
      "10.0.0.1");
  EXPECT_EQ(ForwardedClientAddress("10.0.0.1", WithForwardedFor({}), trusted), "10.0.0.1");
}

// --- A real server on a loopback port
// -------------------------------------------------------------

class RealServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    auth_ = testing::CheapAuthenticator(*storage_);
    ASSERT_NE(auth_, nullptr);
    HandlerOptions handler_options;
    handler_options.public_read = true;
    handler_options.temp_dir = spool_.path();
    handlers_ = std::make_unique<Handlers>(*index_, *auth_, handler_options);
    options.port = 0;
    options.io_threads = 2;
    options.threads = 2;
    auto server = Server::Create(options, *handlers_);
    ASSERT_TRUE(server.has_value()) << server.error();
    server_ = *std::move(server);
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }

  // A connected socket from `source` (any address of 127/8), or -1.
  int Connect(const char* source = "127.0.0.1") const {
    return testing::ConnectLoopback(server_->port(), source);
  }

  static void Send(int fd, std::string_view data) {
    ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }

  // Everything the server sends until it closes the connection (or 5 s pass).
  static std::string ReadAll(int fd) {
    std::string out;
    char buffer[4096];
    while (true) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

  static std::vector<std::string> StatusLines(const std::string& text) {
    std::vector<std::string> lines;
    for (std::size_t pos = text.find("HTTP/1.1 "); pos != std::string::npos;
         pos = text.find("HTTP/1.1 ", pos + 1)) {
      lines.push_back(text.substr(pos, text.find("\r\n", pos) - pos));
    }
    return lines;
  }

  index::testing::TempDir spool_;
  std::unique_ptr<storage::Storage> storage_ = storage::NewMemStorage();
  std::unique_ptr<index::Index> index_ = index::Index::Create(*storage_);
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(RealServerTest, ShutdownClosesIdleConnectionsAndFinishesTheRequestUnderWay) {
  ServerOptions options;
  options.shutdown_timeout = std::chrono::seconds(10);
  Start(options);
  const int idle = Connect();  // no request: closed at once
  const int busy = Connect();
  ASSERT_GE(idle, 0);
  ASSERT_GE(busy, 0);
  Send(busy, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: shutdown-1\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server_->Stop();
  char c = 0;
  EXPECT_EQ(::recv(idle, &c, 1, 0), 0);  // closed without an answer
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Connect(), -1);  // the listener is closed: refused
  Send(busy, "\r\n");        // the request under way completes and is answered
  const std::string answer = ReadAll(busy);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, HasSubstr("X-Request-Id: shutdown-1\r\n"));
  thread_.join();  // Run returned
  server_.reset();
  ::close(idle);
  ::close(busy);
}

TEST_F(RealServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start({});
  const int fd = Connect();
  ASSERT_GE(fd, 0);
  Send(fd,
       "GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n"
       "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
       "BREW /simple/ HTTP/1.1\r\nHost: x\r\n\r\n"
       "HEAD /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string answer = ReadAll(fd);
  ::close(fd);
  auto lines = StatusLines(answer);
  ASSERT_EQ(lines.size(), 4U) << answer;
  EXPECT_THAT(lines[0], StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(lines[1], StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(lines[2], StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(lines[3], StartsWith("HTTP/1.1 200"));
}

TEST_F(RealServerTest, AmbiguousFramingIsRefusedAndTheConnectionClosed) {
  Start({});
  for (const char* request : {
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
           "chunked\r\n\r\n0\r\n\r\nGET /simple/ HTTP/1.1\r\n\r\n",
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
           "4\r\n\r\n0\r\n\r\nGET /simple/ HTTP/1.1\r\n\r\n",
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nGET / "
           "HTTP/1.1\r\n\r\n",
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
           "POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x\r\nTransfer-Encoding: "
           "chunked\r\n\r\n0\r\n\r\n",
       }) {
    SCOPED_TRACE(request);
    const int fd = Connect();
    ASSERT_GE(fd, 0);
    Send(fd, request);
    const std::string answer = ReadAll(fd);
    ::close(fd);
    auto lines = StatusLines(answer);
    ASSERT_EQ(lines.size(), 1U) << answer;  // the smuggled request is never answered
    EXPECT_THAT(lines[0], StartsWith("HTTP/1.1 400"));
    EXPECT_THAT(answer, HasSubstr("\r\nConnection: close\r\n"));
  }
}

TEST_F(RealServerTest, SlowHeadIsAnswered408AndIdleConnectionsClosed) {
  ServerOptions options;
  options.header_timeout = std::chrono::seconds(1);
  options.idle_timeout = std::chrono::seconds(1);
  Start(options);
  const int slow = Connect();
  const int idle = Connect();
  ASSERT_GE(slow, 0);
  ASSERT_GE(idle, 0);
  Send(slow, "GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = ReadAll(slow);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 408 "));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(4));
  // A connection that never sent a byte is closed without an answer.
  EXPECT_EQ(ReadAll(idle), "");
  ::close(slow);
  ::close(idle);
}

TEST_F(RealServerTest, ConnectionsPastTheLimitsGet503AndOthersAreServed) {
  ServerOptions options;
  options.header_timeout = std::chrono::seconds(30);
  options.idle_timeout = std::chrono::seconds(30);
  options.max_connections = 6;
  options.max_connections_per_address = 3;
  Start(options);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect("127.0.0.1"));
    Send(held.back(), "GET /simple/ HTTP/1.1\r\n");  // half a head, then nothing
  }
  const int over = Connect("127.0.0.1");
  const std::string refused = ReadAll(over);
  ::close(over);
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503 Too many connections from your address"));
  EXPECT_THAT(refused, HasSubstr("\r\nRetry-After: "));
  // Another client is served meanwhile.
  const int other = Connect("127.0.0.2");
  Send(other, "GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(ReadAll(other), StartsWith("HTTP/1.1 200 "));
  ::close(other);
  // The server counts `other` until its session has ended, a moment after it closed the
  // socket; counted, it would make the next connections miscount (a flake under load).
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // Past the server's own limit, every new connection is refused.
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect(("127.0.0." + std::to_string(3 + i)).c_str()));
    Send(held.back(), "GET /simple/ HTTP/1.1\r\n");
  }
  const int full = Connect("127.0.0.9");
  EXPECT_THAT(ReadAll(full), StartsWith("HTTP/1.1 503 Too many connections to this server"));
  ::close(full);
  for (int fd : held) {
    ::close(fd);
  }
  // Once they are gone, the client is served again.
  std::string again;
  for (int attempt = 0; attempt < 50 && !again.starts_with("HTTP/1.1 200"); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int fd = Connect("127.0.0.1");
    Send(fd, "GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    again = ReadAll(fd);
    ::close(fd);
  }
  EXPECT_THAT(again, StartsWith("HTTP/1.1 200 "));
}

TEST_F(RealServerTest, StalledUploadBodyIsAnswered408AndNothingIsStored) {
  ServerOptions options;
  options.body_timeout = std::chrono::seconds(1);
  Start(options);
  ASSERT_TRUE(auth_->AddUser("uploader", "uploader-password", auth::Role::kUpload).ok());
  const int fd = Connect();
  // uploader:uploader-password
  Send(fd,
       "POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
       "dXBsb2FkZXI6dXBsb2FkZXItcGFzc3dvcmQ=\r\nContent-Type: multipart/form-data; "
       "boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; "
       "name=\"content\"; filename=\"foo-1.0.tar.gz\"\r\n\r\nsome bytes");
  const std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 408 Request body stalled"));
  EXPECT_TRUE(std::filesystem::is_empty(spool_.path()));
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
}

TEST_F(RealServerTest, StopsWithConnectionsOpen) {
  // The partial request holds the shutdown until the timeout cuts it.
  ServerOptions options;
  options.shutdown_timeout = std::chrono::seconds(1);
  Start(options);
  const int idle = Connect();
  const int partial = Connect();
  Send(partial, "GET /simple/ HTTP/1.1\r\nHost: x\r\n");
  const int done = Connect();
  Send(done, "GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n");
  char buffer[16];
  ASSERT_GT(::recv(done, buffer, sizeof(buffer), 0), 0);
  // Stopped and destroyed while the three are open: nothing may leak or crash.
  const auto stop_started = std::chrono::steady_clock::now();
  server_->Stop();
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(5));
  server_.reset();
  EXPECT_EQ(ReadAll(idle), "");
  for (int fd : {idle, partial, done}) {
    ::close(fd);
  }
}

}  // namespace
}  // namespace pydepot::http
