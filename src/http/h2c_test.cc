#include "http/h2c.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "auth/auth.h"
#include "base/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/handlers.h"
#include "http/server.h"
#include "http/socket_test_util.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/storage.h"

#include <nghttp2/nghttp2.h>

namespace pydepot::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(MatchH2cPrefaceTest, WholePartialAndOther) {
  EXPECT_EQ(MatchH2cPreface(kH2cPreface), PrefaceMatch::kYes);
  EXPECT_EQ(MatchH2cPreface(std::string(kH2cPreface) + "\0\0\0\4"), PrefaceMatch::kYes);
  EXPECT_EQ(MatchH2cPreface("P"), PrefaceMatch::kPartial);
  EXPECT_EQ(MatchH2cPreface("PRI * HTTP/2.0\r\n"), PrefaceMatch::kPartial);
  EXPECT_EQ(MatchH2cPreface("POST /legacy/ HTTP/1.1\r\n"), PrefaceMatch::kNo);
  EXPECT_EQ(MatchH2cPreface("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), PrefaceMatch::kNo);
  EXPECT_EQ(MatchH2cPreface("GET / HTTP/1.1\r\n"), PrefaceMatch::kNo);
  EXPECT_EQ(MatchH2cPreface(""), PrefaceMatch::kNo);
}

// True when Debian's curl speaks HTTP/2 (it does: libcurl is built with nghttp2).
bool CurlHasHttp2() {
  FILE* pipe = ::popen("curl -V 2>/dev/null", "r");
  if (pipe == nullptr) {
    return false;
  }
  std::string out;
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    out.append(buffer.data(), n);
  }
  ::pclose(pipe);
  return out.find("HTTP2") != std::string::npos;
}

// Runs `command` with the shell; its standard output.
std::string RunCommand(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return {};
  }
  std::string out;
  std::array<char, 65536> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    out.append(buffer.data(), n);
  }
  ::pclose(pipe);
  return out;
}

// A minimal front with h2c only: accepts connections on a strand each, reads the first bytes
// and hands them to MaybeServeH2c, as the real server's session does; a connection that is not
// h2c gets "HTTP/1.1 418" and the number of bytes it had sent.
class H2cHarness {
 public:
  H2cHarness(Handlers& handlers, ServerOptions options)
      : options_(std::move(options)), handlers_(handlers), acceptor_(io_) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~H2cHarness() {
    stopping_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // GOAWAY to idle clients
    io_.stop();
    thread_.join();
    pool_.join();
  }
  H2cHarness(const H2cHarness&) = delete;
  H2cHarness& operator=(const H2cHarness&) = delete;

  std::uint16_t port() const { return port_; }
  int recorded() const { return recorded_.load(); }

 private:
  asio::awaitable<void> Accept() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_),
                                                          asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, Connection(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Connection(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    auto [ec, n] =
        co_await socket.async_read_some(buffer.prepare(512), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      co_return;
    }
    buffer.commit(n);
    H2cContext context{
        .handlers = handlers_,
        .options = options_,
        .pool = pool_,
        .remote = "127.0.0.1",
        .trusted_peer = false,
        .stopping = stopping_,
        .security_headers =
            "X-Content-Type-Options: nosniff\r\n"
            "X-Frame-Options: DENY\r\n",
        .record = [this](const RequestHead&, const Response&, std::string_view,
                         std::chrono::steady_clock::time_point, bool) { ++recorded_; },
        .on_start = {}};
    if (co_await MaybeServeH2c(socket, buffer, context)) {
      co_return;
    }
    const std::string answer =
        "HTTP/1.1 418 Not h2c\r\nContent-Length: 0\r\nX-Bytes: " + std::to_string(buffer.size()) +
        "\r\nConnection: close\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(answer), asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }

  ServerOptions options_;
  Handlers& handlers_;
  asio::io_context io_;
  asio::thread_pool pool_{2};
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> recorded_{0};
  std::uint16_t port_ = 0;
  std::thread thread_;
};

class H2cTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CurlHasHttp2()) {
      GTEST_SKIP() << "curl without HTTP/2";
    }
  }

  void Start(std::int64_t max_upload_bytes = std::int64_t{1} << 30) {
    auth_ = testing::CheapAuthenticator(*storage_);
    ASSERT_NE(auth_, nullptr);
    ASSERT_TRUE(auth_->AddUser("reader", "reader-password", auth::Role::kRead).ok());
    ASSERT_TRUE(auth_->AddUser("uploader", "uploader-password", auth::Role::kUpload).ok());
    HandlerOptions handler_options;
    handler_options.temp_dir = spool_.path();
    handler_options.max_upload_bytes = max_upload_bytes;
    handlers_ = std::make_unique<Handlers>(*index_, *auth_, handler_options);
    ServerOptions options;
    options.idle_timeout = std::chrono::seconds(2);
    harness_ = std::make_unique<H2cHarness>(*handlers_, options);
  }

  void TearDown() override { harness_.reset(); }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(harness_->port()) + std::string(path);
  }

  // curl over h2c: "<http_version> <status>" and the response headers and body in files.
  std::string Curl(const std::string& args) {
    return RunCommand(std::string(std::getenv("H2C_CURL_DEBUG") ? "curl -v " : "curl ") +
                      "-sS --max-time 60 --http2-prior-knowledge -D " +
                      (work_.path() / "headers").string() + " -o " +
                      (work_.path() / "body").string() + " -w '%{http_version} %{http_code}' " +
                      args + " 2>&1");
  }
  std::string Headers() { return index::testing::ReadWholeFile(work_.path() / "headers"); }
  std::string Body() { return index::testing::ReadWholeFile(work_.path() / "body"); }

  // A wheel of about `size` bytes that does not compress.
  static std::string BigWheel(std::size_t size) {
    std::mt19937_64 random(42);
    std::string payload(size, '\0');
    for (char& c : payload) {
      c = static_cast<char>(random());
    }
    return index::testing::Wheel("demo", "1.0", index::testing::Metadata("demo", "1.0"), payload);
  }

  std::string UploadArgs(const std::filesystem::path& file, std::string_view sha256) {
    return "-u uploader:uploader-password -F :action=file_upload -F protocol_version=1 "
           "-F name=demo -F version=1.0 -F filetype=bdist_wheel -F pyversion=py3 "
           "-F metadata_version=2.1 -F sha256_digest=" +
           std::string(sha256) + " -F 'content=@" + file.string() + "' " + Url("/legacy/");
  }

  index::testing::TempDir spool_;
  index::testing::TempDir work_;
  std::unique_ptr<storage::Storage> storage_ = storage::NewMemStorage();
  std::unique_ptr<index::Index> index_ = index::Index::Create(*storage_);
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<H2cHarness> harness_;
};

TEST_F(H2cTest, GetOverHttp2WithTheSecurityHeaders) {
  Start();
  EXPECT_EQ(Curl(Url("/healthz")), "2 200");
  const std::string headers = Headers();
  EXPECT_THAT(headers, StartsWith("HTTP/2 200"));
  EXPECT_THAT(headers, HasSubstr("x-content-type-options: nosniff\r\n"));
  EXPECT_THAT(headers, HasSubstr("x-frame-options: DENY\r\n"));
  EXPECT_THAT(headers, HasSubstr("x-request-id: "));
  EXPECT_THAT(headers, HasSubstr("server: pydepot\r\n"));
  EXPECT_THAT(headers, Not(HasSubstr("connection:")));
  // Credentials are checked as over HTTP/1.1.
  EXPECT_EQ(Curl(Url("/simple/")), "2 401");
  EXPECT_EQ(Curl("-u reader:reader-password " + Url("/simple/")), "2 200");
  EXPECT_THAT(Body(), HasSubstr("<html"));
  EXPECT_EQ(Curl("-I -u reader:reader-password " + Url("/simple/")), "2 200");
  EXPECT_THAT(Headers(), HasSubstr("content-length: "));
  EXPECT_THAT(Headers(), Not(HasSubstr("<html")));
}

TEST_F(H2cTest, UploadStreamsThroughFlowControlAndDownloadsMatch) {
  Start();
  const std::string wheel = BigWheel(12 << 20);  // three times the upload window
  const auto file = work_.path() / "demo-1.0-py3-none-any.whl";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(wheel.data(), static_cast<std::streamsize>(wheel.size()));
  }
  const std::string sha256 = ComputeDigests(wheel).sha256;
  EXPECT_EQ(Curl(UploadArgs(file, sha256)), "2 200") << Body();
  // Listed, with its hash.
  EXPECT_EQ(Curl("-u reader:reader-password -H 'Accept: application/vnd.pypi.simple.v1+json' " +
                 Url("/simple/demo/")),
            "2 200");
  EXPECT_THAT(Body(), HasSubstr(sha256));
  // Downloaded byte for byte (a store stream: read on the pool as the window allows).
  EXPECT_EQ(Curl("-u reader:reader-password " + Url("/files/demo/demo-1.0-py3-none-any.whl")),
            "2 200");
  EXPECT_TRUE(Body() == wheel) << Body().size() << " bytes";
  // The same bytes again: 200, nothing changes.
  EXPECT_EQ(Curl(UploadArgs(file, sha256)), "2 200") << Body();
}

// nghttp (Debian's nghttp2-client): curl 7.88 cannot reuse a prior-knowledge connection
// (curl issue 10634).
TEST_F(H2cTest, StreamsOfOneConnectionRunTogether) {
  if (RunCommand("command -v nghttp").empty()) {
    GTEST_SKIP() << "no nghttp";
  }
  Start();
  std::string urls;
  for (int i = 0; i < 20; ++i) {
    urls += " " + Url((i % 2 == 0 ? "/healthz?" : "/simple/?") + std::to_string(i));
  }
  const std::string out = RunCommand(
      "timeout 60 nghttp -nv -H 'authorization: Basic cmVhZGVyOnJlYWRlci1wYXNzd29yZA==' " + urls +
      " 2>&1");
  int answered = 0;
  int connects = 0;
  for (std::size_t pos = out.find(":status: 200"); pos != std::string::npos;
       pos = out.find(":status: 200", pos + 1)) {
    ++answered;
  }
  for (std::size_t pos = out.find("] Connected"); pos != std::string::npos;
       pos = out.find("] Connected", pos + 1)) {
    ++connects;
  }
  EXPECT_EQ(answered, 20) << out;
  EXPECT_EQ(connects, 1);
}

TEST_F(H2cTest, UploadAboveTheLimitIs413AndTheConnectionLivesOn) {
  Start(1 << 20);
  const std::string wheel = BigWheel(3 << 20);
  const auto file = work_.path() / "demo-1.0-py3-none-any.whl";
  {
    std::ofstream out(file, std::ios::binary);
    out.write(wheel.data(), static_cast<std::streamsize>(wheel.size()));
  }
  EXPECT_EQ(Curl(UploadArgs(file, ComputeDigests(wheel).sha256)), "2 413");
  EXPECT_THAT(Body(), HasSubstr("too large"));
  EXPECT_EQ(Curl("-u reader:reader-password " + Url("/simple/demo/")), "2 404");
}

class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) : fd_(testing::ConnectLoopback(port)) {
    EXPECT_GE(fd_, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }
  ~RawSocket() { ::close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void Send(std::string_view data) {
    ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }
  // Sends what the server takes before it closes the connection (it may, on a protocol error).
  void SendAllowingClose(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // What arrives until nothing has for `quiet`, or the connection closes.
  std::string ReadUntilQuiet(std::chrono::milliseconds quiet) {
    std::string out;
    std::array<char, 4096> buffer{};
    while (true) {
      pollfd poll_fd{fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(quiet.count())) <= 0) {
        break;
      }
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        break;
      }
      out.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return out;
  }
  std::string ReadAll() {
    std::string out;
    std::array<char, 4096> buffer{};
    while (true) {
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) {
        break;
      }
      out.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
};

TEST_F(H2cTest, APrefaceInPiecesIsWaitedFor) {
  Start();
  RawSocket socket(harness_->port());
  socket.Send(kH2cPreface.substr(0, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  socket.Send(kH2cPreface.substr(5));
  socket.Send(std::string_view("\0\0\0\4\0\0\0\0\0", 9));  // an empty SETTINGS frame
  // The server's SETTINGS, then (idle for 2 s) a GOAWAY, then the close.
  const std::string answer = socket.ReadAll();
  ASSERT_GE(answer.size(), 9U);
  EXPECT_EQ(answer[3], '\4');
  EXPECT_NE(answer.find(std::string_view("\x07\0\0\0\0\0", 6)), std::string::npos);
}

TEST_F(H2cTest, OtherBytesAreLeftForHttp1) {
  Start();
  RawSocket socket(harness_->port());
  socket.Send("PR");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  socket.Send("OPFIND / HTTP/1.1\r\n\r\n");
  const std::string answer = socket.ReadAll();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 418"));
  EXPECT_THAT(answer, HasSubstr("X-Bytes: 23\r\n"));  // every byte read stays in the buffer
}

TEST_F(H2cTest, GarbageAfterThePrefaceEndsWithGoaway) {
  Start();
  RawSocket socket(harness_->port());
  socket.Send(std::string(kH2cPreface) + "this is not a frame at all, not at all");
  const std::string answer = socket.ReadAll();
  // SETTINGS, then a GOAWAY frame (type 7), then the close.
  EXPECT_NE(answer.find(std::string_view("\x07\0\0\0\0\0", 6)), std::string::npos);
}

// One HTTP/2 frame: 9-byte header (length, type, flags, stream id) and the payload.
std::string Frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  std::string out;
  const auto length = static_cast<std::uint32_t>(payload.size());
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((stream >> 24) & 0x7f));
  out.push_back(static_cast<char>((stream >> 16) & 0xff));
  out.push_back(static_cast<char>((stream >> 8) & 0xff));
  out.push_back(static_cast<char>(stream & 0xff));
  out.append(payload);
  return out;
}

// An HPACK header block for a request, from the connection's encoder (nghttp2's, so it is
// valid for a decoder that saw the same earlier blocks).
std::string HeaderBlock(nghttp2_hd_deflater* deflater,
                        const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [name, value] : fields) {
    nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  std::string out(nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size()), '\0');
  const ssize_t n = nghttp2_hd_deflate_hd(deflater, reinterpret_cast<std::uint8_t*>(out.data()),
                                          out.size(), nva.data(), nva.size());
  EXPECT_GE(n, 0);
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

// The h2c glue is not built for libFuzzer (clang 14 cannot instrument the coroutine code), so
// this runs a seeded stream of hostile frame sequences through a live connection each: valid
// requests (GET, HEAD, uploads) mixed with frames of every type, on random streams, with random
// flags, lengths and payloads, truncated HPACK, RST_STREAM and WINDOW_UPDATE of open streams,
// DATA on closed ones, CONTINUATION without HEADERS. Under ASan+UBSan (make test) any memory
// error fails the run; the server must still answer a normal request afterwards.
TEST_F(H2cTest, HostileFrameSequencesNeverBreakTheServer) {
  Start(/*max_upload_bytes=*/1 << 20);
  std::mt19937 random(20261126);
  auto pick = [&](std::uint32_t below) { return static_cast<std::uint32_t>(random() % below); };
  auto bytes = [&](std::size_t n) {
    std::string out(n, '\0');
    for (char& c : out) {
      c = static_cast<char>(random());
    }
    return out;
  };
  const std::vector<std::vector<std::pair<std::string, std::string>>> requests = {
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/healthz"}, {":authority", "h"}},
      {{":method", "HEAD"}, {":scheme", "http"}, {":path", "/simple/"}, {":authority", "h"}},
      {{":method", "GET"},
       {":scheme", "http"},
       {":path", "/simple/demo/"},
       {"authorization", "Basic cmVhZGVyOnJlYWRlci1wYXNzd29yZA=="},
       {"accept", "application/vnd.pypi.simple.v1+json"}},
      {{":method", "POST"},
       {":scheme", "http"},
       {":path", "/legacy/"},
       {"authorization", "Basic dXBsb2FkZXI6dXBsb2FkZXItcGFzc3dvcmQ="},
       {"content-type", "multipart/form-data; boundary=b"}},
      {{":method", "POST"}, {":scheme", "http"}, {":path", "/login"}, {":authority", "h"}},
      {{":method", "GET"}, {":path", "/no-scheme"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", std::string(9000, 'a')}},
  };
  constexpr int kConnections = 80;
  int goaways = 0;
  std::size_t answered_bytes = 0;
  for (int connection = 0; connection < kConnections; ++connection) {
    std::string wire(kH2cPreface);
    wire += Frame(4, 0, 0, "");  // SETTINGS
    // Mostly well-formed traffic (new streams in order, one HPACK encoder per connection,
    // DATA only on streams still sending, frames of the right sizes), so requests reach the
    // handlers, with a hostile frame now and then, after which the server may end the
    // connection.
    nghttp2_hd_deflater* deflater = nullptr;
    ASSERT_EQ(nghttp2_hd_deflate_new(&deflater, 4096), 0);
    std::uint32_t next_stream = 1;
    std::vector<std::uint32_t> sending;  // opened without END_STREAM, not reset
    auto any_opened = [&] { return next_stream > 1 ? 1 + 2 * pick((next_stream - 1) / 2) : 0; };
    const int frames = 1 + static_cast<int>(pick(24));
    for (int i = 0; i < frames; ++i) {
      const bool hostile = pick(25) == 0;
      switch (pick(12)) {
        case 0:
        case 1:
        case 2: {  // a request's HEADERS, whole or (hostile) cut, with or without END_STREAM
          std::string block = HeaderBlock(deflater, requests[pick(requests.size())]);
          if (hostile) {
            block.resize(pick(static_cast<std::uint32_t>(block.size()) + 1));
          }
          const bool end_stream = pick(2) == 0;
          const std::uint32_t stream = hostile && pick(2) ? pick(16) : next_stream;
          wire += Frame(1, static_cast<std::uint8_t>(0x4 | (end_stream ? 0x1 : 0)), stream, block);
          if (stream == next_stream) {
            if (!end_stream) {
              sending.push_back(stream);
            }
            next_stream += 2;
          }
          break;
        }
        case 3:
        case 4: {  // DATA of an upload, maybe END_STREAM, (hostile) on any stream, badly padded
          if (sending.empty() && !hostile) {
            wire += Frame(6, 0, 0, bytes(8));  // nothing to send on: a PING instead
            break;
          }
          const std::size_t which = sending.empty() ? 0 : pick(sending.size());
          const std::uint32_t stream = hostile || sending.empty() ? pick(16) : sending[which];
          const bool end_stream = pick(3) == 0;
          wire += Frame(0, static_cast<std::uint8_t>((end_stream ? 1 : 0) | (hostile ? 0x8 : 0)),
                        stream,
                        pick(3) == 0 ? "--b\r\nContent-Disposition: form-data; name=x\r\n\r\n1"
                                     : bytes(pick(3000)));
          if (end_stream && !sending.empty() && stream == sending[which]) {
            sending.erase(sending.begin() + static_cast<std::ptrdiff_t>(which));
          }
          break;
        }
        case 5: {  // RST_STREAM of an opened stream (hostile: any, odd sizes)
          const std::uint32_t stream = hostile ? pick(16) : any_opened();
          if (stream == 0 && !hostile) {
            break;
          }
          wire += Frame(3, 0, stream, hostile ? bytes(pick(6)) : std::string("\0\0\0\x08", 4));
          std::erase(sending, stream);
          break;
        }
        case 6:  // WINDOW_UPDATE of the connection or an opened stream (hostile: zero, huge, odd)
          wire += Frame(8, 0, hostile ? pick(16) : any_opened(),
                        hostile ? bytes(pick(8)) : std::string("\0\0\x10\0", 4));
          break;
        case 7:  // SETTINGS, (hostile) an ACK with a payload or an odd length
          wire += Frame(4, static_cast<std::uint8_t>(hostile ? pick(2) : 0), 0,
                        hostile ? bytes(6 * pick(4) + 1) : std::string("\0\x04\0\x01\0\0", 6));
          break;
        case 8:  // PING
          wire += Frame(6, 0, 0, bytes(hostile ? pick(16) : 8));
          break;
        case 9:  // PRIORITY of some stream (hostile: odd sizes, on itself)
          wire +=
              Frame(2, 0, 1 + pick(30), hostile ? bytes(pick(10)) : std::string("\0\0\0\0\x10", 5));
          break;
        case 10:  // an unknown frame type (ignored); (hostile) CONTINUATION alone, PUSH_PROMISE
          wire += Frame(static_cast<std::uint8_t>(hostile ? (pick(2) ? 9 : 5) : 0x20 + pick(200)),
                        static_cast<std::uint8_t>(pick(256)), pick(16), bytes(pick(50)));
          break;
        default:  // (hostile) anything at all; else a client's GOAWAY, last of the connection
          if (hostile) {
            wire += bytes(pick(64));
          } else if (i + 1 == frames) {
            wire += Frame(7, 0, 0, std::string(8, '\0'));
          }
          break;
      }
    }
    nghttp2_hd_deflate_del(deflater);
    // H2C_HOSTILE_DUMP=/tmp/h2c- writes each connection's bytes to /tmp/h2c-<n>, to replay.
    if (const char* dump = std::getenv("H2C_HOSTILE_DUMP")) {
      std::ofstream(std::string(dump) + std::to_string(connection), std::ios::binary) << wire;
    }
    RawSocket socket(harness_->port());
    socket.SendAllowingClose(wire);
    // Whatever the server answers: first while it works on the streams, then until it closes.
    std::string answer = socket.ReadUntilQuiet(std::chrono::milliseconds(100));
    socket.ShutdownWrite();
    answer += socket.ReadAll();
    answered_bytes += answer.size();
    goaways += answer.find(std::string_view("\x07\0\0\0\0\0", 6)) != std::string::npos ? 1 : 0;
  }
  std::printf(
      "hostile h2c: %d connections, %d ended with GOAWAY, %zu bytes answered, %d requests "
      "handled\n",
      kConnections, goaways, answered_bytes, harness_->recorded());
  EXPECT_GT(harness_->recorded(), 0);  // requests did reach the handlers
  // The server lives on and serves a normal request.
  EXPECT_EQ(Curl(Url("/healthz")), "2 200");
}

// The real server: h2c and HTTP/1.1 on one port, and h2c connections end with the shutdown.
TEST_F(H2cTest, TheServerSpeaksBothOnOnePort) {
  Start();
  ServerOptions options;
  options.port = 0;
  options.io_threads = 2;
  options.threads = 2;
  options.shutdown_timeout = std::chrono::seconds(10);
  auto server = Server::Create(options, *handlers_);
  ASSERT_TRUE(server.has_value()) << server.error();
  std::thread thread([&] { (*server)->Run(); });
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  EXPECT_EQ(
      RunCommand("curl -sS --max-time 60 --http2-prior-knowledge -o /dev/null -w '%{http_version} "
                 "%{http_code}' -u reader:reader-password " +
                 base + "/simple/ 2>&1"),
      "2 200");
  EXPECT_EQ(
      RunCommand(
          "curl -sS --max-time 60 --http1.1 -o /dev/null -w '%{http_version} %{http_code}' -u "
          "reader:reader-password " +
          base + "/simple/ 2>&1"),
      "1.1 200");
  // An idle h2c connection does not hold up the shutdown (GOAWAY, then the close).
  RawSocket idle((*server)->port());
  idle.Send(kH2cPreface);
  idle.Send(std::string_view("\0\0\0\4\0\0\0\0\0", 9));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto stop_started = std::chrono::steady_clock::now();
  (*server)->Stop();
  const std::string answer = idle.ReadAll();
  EXPECT_NE(answer.find(std::string_view("\x07\0\0\0\0\0", 6)), std::string::npos);
  thread.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace pydepot::http
