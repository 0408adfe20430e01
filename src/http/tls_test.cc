// Native TLS: loading and checking the PEM files (tls.h), and a real server on a loopback port
// speaking TLS (server.cc), talked to by an asio ssl client. Certificates are made at test time
// (tls_test_util.h).
#include "http/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>

#include "auth/auth.h"
#include "base/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/handlers.h"
#include "http/server.h"
#include "http/socket_test_util.h"
#include "http/tls_test_util.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/storage.h"

namespace pydepot::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using index::testing::Metadata;
using index::testing::TempDir;
using index::testing::Wheel;
using testing::CertPem;
using ::testing::HasSubstr;
using testing::KeyPem;
using testing::MakeCert;
using testing::MakeKey;
using testing::SelfSigned;
using ::testing::StartsWith;

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// --- Loading the files -------------------------------------------------------------------------

class TlsFilesTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = dir_.path() / name;
    WriteFile(path, text);
    return path.string();
  }
  TempDir dir_;
};

TEST_F(TlsFilesTest, AGoodPairLoads) {
  const auto pair = SelfSigned("pypi.test");
  const std::string cert = Write("cert.pem", pair.cert_pem);
  const std::string key = Write("key.pem", pair.key_pem);
  auto info = CheckTlsFiles(cert, key);
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_EQ(info->subject, "CN=pypi.test");
  EXPECT_THAT(info->names, ::testing::ElementsAre("127.0.0.1", "localhost"));
  EXPECT_FALSE(info->expired);
  EXPECT_FALSE(info->not_yet_valid);
  EXPECT_EQ(info->intermediates, 0);
  EXPECT_THAT(info->Summary(), HasSubstr("CN=pypi.test for 127.0.0.1, localhost; valid "));
  auto config = TlsConfig::Load(cert, key);
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_NE((*config)->Current(), nullptr);
}

TEST_F(TlsFilesTest, AChainWithIntermediatesLoads) {
  auto ca_key = MakeKey();
  auto ca = MakeCert("Test CA", ca_key.get(), nullptr, nullptr, true);
  auto key = MakeKey();
  auto leaf = MakeCert("pypi.test", key.get(), ca.get(), ca_key.get());
  auto info = CheckTlsFiles(Write("chain.pem", CertPem(leaf.get()) + CertPem(ca.get())),
                            Write("key.pem", KeyPem(key.get())));
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_EQ(info->subject, "CN=pypi.test");
  EXPECT_EQ(info->intermediates, 1);
  // The intermediate first: the leaf is the first certificate, and the key is not its.
  auto swapped = CheckTlsFiles(Write("swapped.pem", CertPem(ca.get()) + CertPem(leaf.get())),
                               Write("key2.pem", KeyPem(key.get())));
  ASSERT_FALSE(swapped.has_value());
  EXPECT_THAT(swapped.error().message(), HasSubstr("does not match the certificate"));
}

TEST_F(TlsFilesTest, AKeyThatDoesNotMatchIsRefused) {
  const auto one = SelfSigned("one");
  const auto two = SelfSigned("two");
  const std::string cert = Write("cert.pem", one.cert_pem);
  const std::string key = Write("key.pem", two.key_pem);
  auto info = CheckTlsFiles(cert, key);
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().message(), "tls-key " + key + " does not match the certificate in " +
                                        cert +
                                        " (the key is not the one the certificate was issued for)");
  EXPECT_FALSE(TlsConfig::Load(cert, key).has_value());
}

TEST_F(TlsFilesTest, MissingFilesAreNamed) {
  const auto pair = SelfSigned("x");
  const std::string cert = Write("cert.pem", pair.cert_pem);
  const std::string key = Write("key.pem", pair.key_pem);
  const std::string missing = (dir_.path() / "nope.pem").string();
  auto no_cert = CheckTlsFiles(missing, key);
  ASSERT_FALSE(no_cert.has_value());
  EXPECT_EQ(no_cert.error().message(),
            "tls-cert " + missing + ": cannot read it: No such file or directory");
  auto no_key = CheckTlsFiles(cert, missing);
  ASSERT_FALSE(no_key.has_value());
  EXPECT_EQ(no_key.error().message(),
            "tls-key " + missing + ": cannot read it: No such file or directory");
  auto directory = CheckTlsFiles(dir_.path().string(), key);
  ASSERT_FALSE(directory.has_value());
  EXPECT_THAT(directory.error().message(), StartsWith("tls-cert " + dir_.path().string() + ": "));
}

TEST_F(TlsFilesTest, GarbageIsRefusedInPlainWords) {
  const auto pair = SelfSigned("x");
  const std::string cert = Write("cert.pem", pair.cert_pem);
  const std::string key = Write("key.pem", pair.key_pem);
  const std::string garbage = Write("garbage.pem", "this is not PEM at all\n\x01\x02\x03");
  const std::string empty = Write("empty.pem", "");

  for (const std::string& bad : {garbage, empty, key}) {
    SCOPED_TRACE(bad);
    auto info = CheckTlsFiles(bad, key);
    ASSERT_FALSE(info.has_value());
    EXPECT_THAT(info.error().message(), StartsWith("tls-cert " + bad + ": no PEM certificate"));
  }
  auto no_key = CheckTlsFiles(cert, garbage);
  ASSERT_FALSE(no_key.has_value());
  EXPECT_THAT(no_key.error().message(), StartsWith("tls-key " + garbage + ": no PEM private key"));
  // A certificate where the key should be.
  auto cert_as_key = CheckTlsFiles(cert, cert);
  ASSERT_FALSE(cert_as_key.has_value());
  EXPECT_THAT(cert_as_key.error().message(),
              StartsWith("tls-key " + cert + ": no readable PEM private key"));
  // A certificate block cut short.
  const std::string truncated =
      Write("truncated.pem",
            pair.cert_pem.substr(0, pair.cert_pem.size() / 2) + "\n-----END CERTIFICATE-----\n");
  auto broken = CheckTlsFiles(truncated, key);
  ASSERT_FALSE(broken.has_value());
  EXPECT_THAT(broken.error().message(),
              StartsWith("tls-cert " + truncated + ": certificate 1 of the file is malformed"));
  // An encrypted key: no passphrase is ever asked for.
  auto raw_key = MakeKey();
  auto own = MakeCert("enc", raw_key.get(), nullptr, nullptr);
  auto encrypted = CheckTlsFiles(Write("own.pem", CertPem(own.get())),
                                 Write("enc.pem", KeyPem(raw_key.get(), "passphrase")));
  ASSERT_FALSE(encrypted.has_value());
  EXPECT_THAT(encrypted.error().message(), HasSubstr("the private key is encrypted"));
}

TEST_F(TlsFilesTest, AnExpiredCertificateLoadsButSaysSo) {
  const auto old = SelfSigned("old", -7200, -3600);
  auto info = CheckTlsFiles(Write("cert.pem", old.cert_pem), Write("key.pem", old.key_pem));
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_TRUE(info->expired);
  EXPECT_THAT(info->Summary(), HasSubstr("(EXPIRED)"));
  const auto future = SelfSigned("future", 3600, 7200);
  info = CheckTlsFiles(Write("cert2.pem", future.cert_pem), Write("key2.pem", future.key_pem));
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_TRUE(info->not_yet_valid);
}

// --- A TLS client ----------------------------------------------------------------------------

struct TlsExchange {
  bool connected = false;
  std::string error;         // handshake or transport error, "" when none
  std::string alpn;          // the protocol the server selected
  std::string peer_subject;  // the server certificate's subject
  int peer_chain = 0;        // certificates the server sent
  std::string response;      // every byte read until the server closed
};

struct ClientOptions {
  std::string trust_pem;  // trusted certificates; "" verifies nothing
  std::vector<std::string> alpn = {"http/1.1"};
  int max_version = 0;  // e.g. TLS1_1_VERSION; 0: any
};

ClientOptions Alpn(std::vector<std::string> protocols) {
  ClientOptions options;
  options.alpn = std::move(protocols);
  return options;
}
ClientOptions Trust(std::string pem) {
  ClientOptions options;
  options.trust_pem = std::move(pem);
  return options;
}
ClientOptions MaxVersion(int version) {
  ClientOptions options;
  options.max_version = version;
  return options;
}

// Connects to 127.0.0.1:port over TLS, sends `request` and reads until the server closes (or 15
// seconds pass).
TlsExchange Https(std::uint16_t port, const std::string& request, const ClientOptions& options) {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  if (options.max_version != 0) {
    SSL_CTX_set_max_proto_version(ctx.native_handle(), options.max_version);
  }
  if (!options.trust_pem.empty()) {
    ctx.set_verify_mode(ssl::verify_peer);
    ctx.add_certificate_authority(asio::buffer(options.trust_pem));
  }
  ssl::stream<tcp::socket> stream(io, ctx);
  if (!options.trust_pem.empty()) {
    stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  }
  std::string protos;
  for (const std::string& proto : options.alpn) {
    protos += static_cast<char>(proto.size());
    protos += proto;
  }
  if (!protos.empty()) {
    SSL_set_alpn_protos(stream.native_handle(),
                        reinterpret_cast<const unsigned char*>(protos.data()),
                        static_cast<unsigned int>(protos.size()));
  }
  TlsExchange out;
  auto run = [&]() -> asio::awaitable<void> {
    constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
    auto [cec] = co_await stream.next_layer().async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
    if (cec) {
      out.error = "connect: " + cec.message();
      co_return;
    }
    out.connected = true;
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      out.error = "handshake: " + hec.message();
      co_return;
    }
    const unsigned char* selected = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &selected, &length);
    out.alpn.assign(reinterpret_cast<const char*>(selected), length);
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
      char name[256] = {};
      X509_NAME_oneline(X509_get_subject_name(peer), name, sizeof(name));
      out.peer_subject = name;
      X509_free(peer);
    }
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(stream.native_handle())) {
      out.peer_chain = sk_X509_num(chain);
    }
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), kTuple);
    if (wec) {
      out.error = "write: " + wec.message();
      co_return;
    }
    std::vector<char> buffer(65536);
    while (true) {
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(buffer), kTuple);
      out.response.append(buffer.data(), n);
      if (rec) {
        if (rec != asio::error::eof && rec != ssl::error::stream_truncated) {
          out.error = "read: " + rec.message();
        }
        break;
      }
    }
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run_for(std::chrono::seconds(15));
  if (!io.stopped()) {
    out.error = "timed out";
  }
  return out;
}

// The status line, headers and body of the one response in `text` (Content-Length framed).
struct Parsed {
  std::string head;
  std::string body;
};
Parsed Split(const std::string& text) {
  const std::size_t end = text.find("\r\n\r\n");
  if (end == std::string::npos) {
    return {text, ""};
  }
  return {text.substr(0, end + 2), text.substr(end + 4)};
}

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "Connection: close\r\n\r\n";
}

// --- A real server over TLS ------------------------------------------------------------------

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::NewLocalStorage(dir_.path() / "store");
    ASSERT_TRUE(store.has_value()) << store.error();
    storage_ = *std::move(store);
    index_ = index::Index::Create(*storage_);
    auth_ = testing::CheapAuthenticator(*storage_);
    ASSERT_NE(auth_, nullptr);
    ASSERT_TRUE(auth_->AddUser("uploader", "uploader-password", auth::Role::kUpload).ok());
    pair_ = SelfSigned("first");
    cert_file_ = (dir_.path() / "fullchain.pem").string();
    key_file_ = (dir_.path() / "privkey.pem").string();
    WriteFile(cert_file_, pair_.cert_pem);
    WriteFile(key_file_, pair_.key_pem);
  }

  void Start(ServerOptions options = {}) {
    HandlerOptions handler_options;
    handler_options.public_read = true;
    handler_options.temp_dir = spool_.path();
    handlers_ = std::make_unique<Handlers>(*index_, *auth_, handler_options);
    options.port = 0;
    options.io_threads = 2;
    options.threads = 2;
    options.tls_cert_file = cert_file_;
    options.tls_key_file = key_file_;
    auto server = Server::Create(options, *handlers_);
    ASSERT_TRUE(server.has_value()) << server.error();
    server_ = *std::move(server);
    EXPECT_TRUE(server_->tls());
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }

  TlsExchange Exchange(const std::string& request, ClientOptions options = {}) {
    if (options.trust_pem.empty()) {
      options.trust_pem = pair_.cert_pem;
    }
    return Https(server_->port(), request, options);
  }

  // A plain TCP connection to the server, or -1.
  int ConnectPlain() const { return testing::ConnectLoopback(server_->port()); }

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

  // Stores foo 1.0 as a wheel of about `payload` random bytes; returns its bytes.
  std::string UploadFoo(std::size_t payload) {
    std::mt19937_64 random(42);
    std::string noise(payload, '\0');
    for (char& c : noise) {
      c = static_cast<char>(random());
    }
    std::string wheel = Wheel("foo", "1.0", Metadata("foo", "1.0"), noise);
    auto outcome = index_->Upload(
        index::testing::MakeForm(dir_, "foo-1.0-py3-none-any.whl", wheel, "foo", "1.0"), "x");
    EXPECT_TRUE(outcome.has_value()) << outcome.error();
    return wheel;
  }

  TempDir dir_;
  TempDir spool_;
  testing::TestPair pair_;
  std::string cert_file_;
  std::string key_file_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<index::Index> index_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(TlsServerTest, PagesAndFilesOverTls) {
  const std::string wheel = UploadFoo(3 << 20);  // several pread chunks
  Start();
  // The project page (answered from memory), over HTTP/1.1 chosen by ALPN.
  TlsExchange page = Exchange(Get("/simple/foo/"));
  ASSERT_EQ(page.error, "");
  EXPECT_EQ(page.alpn, "http/1.1");
  EXPECT_EQ(page.peer_subject, "/CN=first");
  Parsed parsed = Split(page.response);
  EXPECT_THAT(parsed.head, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(parsed.body, HasSubstr("foo-1.0-py3-none-any.whl#sha256="));
  EXPECT_THAT(Split(Exchange(Get("/project/foo/")).response).head, StartsWith("HTTP/1.1 200 "));

  // The file: a local store's file, which plain HTTP sends with sendfile, goes through pread
  // and the TLS stream.
  TlsExchange file = Exchange(Get("/files/foo/foo-1.0-py3-none-any.whl"));
  ASSERT_EQ(file.error, "");
  parsed = Split(file.response);
  EXPECT_THAT(parsed.head, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(parsed.head, HasSubstr("\r\nContent-Length: " + std::to_string(wheel.size())));
  ASSERT_EQ(parsed.body.size(), wheel.size());
  EXPECT_TRUE(parsed.body == wheel);
  // A range of it (a file offset), and HEAD.
  parsed =
      Split(Exchange(Get("/files/foo/foo-1.0-py3-none-any.whl", "Range: bytes=1000-300999\r\n"))
                .response);
  EXPECT_THAT(parsed.head, StartsWith("HTTP/1.1 206 "));
  EXPECT_TRUE(parsed.body == wheel.substr(1000, 300000));
  parsed =
      Split(Exchange("HEAD /files/foo/foo-1.0-py3-none-any.whl HTTP/1.1\r\nHost: x\r\nConnection: "
                     "close\r\n\r\n")
                .response);
  EXPECT_THAT(parsed.head, HasSubstr("\r\nContent-Length: " + std::to_string(wheel.size())));
  EXPECT_EQ(parsed.body, "");

  // Requests over TLS are secure: a login's session cookie is marked Secure.
  const std::string form = "user=uploader&password=uploader-password&next=./";
  parsed = Split(Exchange("POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/x-www-form-urlencoded\r\nContent-Length: " +
                          std::to_string(form.size()) + "\r\nConnection: close\r\n\r\n" + form)
                     .response);
  EXPECT_THAT(parsed.head, StartsWith("HTTP/1.1 303 "));
  const std::size_t cookie = parsed.head.find("\r\nSet-Cookie: ");
  ASSERT_NE(cookie, std::string::npos) << parsed.head;
  EXPECT_THAT(parsed.head.substr(cookie + 2, parsed.head.find("\r\n", cookie + 2) - cookie - 2),
              HasSubstr("; Secure"));

  // Pipelined requests on one connection are answered in order.
  TlsExchange pipelined =
      Exchange("GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n" +
               Get("/healthz"));
  ASSERT_EQ(pipelined.error, "");
  const std::string& all = pipelined.response;
  const std::size_t first = all.find("HTTP/1.1 200 ");
  const std::size_t second = all.find("HTTP/1.1 404 ");
  const std::size_t third = all.find("HTTP/1.1 200 ", second);
  EXPECT_EQ(first, 0U) << all;
  EXPECT_NE(second, std::string::npos) << all;
  EXPECT_NE(third, std::string::npos) << all;
}

TEST_F(TlsServerTest, UploadsStreamOverTls) {
  Start();
  std::mt19937_64 random(7);
  std::string noise(2 << 20, '\0');
  for (char& c : noise) {
    c = static_cast<char>(random());
  }
  const std::string wheel = Wheel("foo", "1.0", Metadata("foo", "1.0"), noise);
  const Digests digests = ComputeDigests(wheel);
  const std::string boundary = "tls-test-boundary";
  std::string body;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{":action", "file_upload"},
                                                        {"protocol_version", "1"},
                                                        {"metadata_version", "2.1"},
                                                        {"name", "foo"},
                                                        {"version", "1.0"},
                                                        {"filetype", "bdist_wheel"},
                                                        {"pyversion", "py3"},
                                                        {"sha256_digest", digests.sha256}}) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
            value + "\r\n";
  }
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"content\"; "
          "filename=\"foo-1.0-py3-none-any.whl\"\r\nContent-Type: "
          "application/octet-stream\r\n\r\n" +
          wheel + "\r\n--" + boundary + "--\r\n";
  // uploader:uploader-password
  const std::string request =
      "POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
      "dXBsb2FkZXI6dXBsb2FkZXItcGFzc3dvcmQ=\r\nContent-Type: multipart/form-data; boundary=" +
      boundary + "\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  TlsExchange upload = Exchange(request);
  ASSERT_EQ(upload.error, "");
  EXPECT_THAT(upload.response, StartsWith("HTTP/1.1 200 ")) << upload.response;
  auto project = index_->GetProject("foo");
  ASSERT_TRUE(project.has_value()) << project.error();
  // And it comes back byte for byte.
  const Parsed file = Split(Exchange(Get("/files/foo/foo-1.0-py3-none-any.whl")).response);
  EXPECT_TRUE(file.body == wheel);
}

TEST_F(TlsServerTest, WhatTheHandshakeAcceptsAndRefuses) {
  Start();
  // A client offering only h2 gets no protocol from ALPN, and HTTP/1.1 works.
  TlsExchange h2 = Exchange(Get("/healthz"), Alpn({"h2"}));
  ASSERT_EQ(h2.error, "");
  EXPECT_EQ(h2.alpn, "");
  EXPECT_THAT(h2.response, StartsWith("HTTP/1.1 200 "));
  // No ALPN at all; both offered: http/1.1.
  EXPECT_THAT(Exchange(Get("/healthz"), Alpn({})).response, StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(Exchange(Get("/healthz"), Alpn({"h2", "http/1.1"})).alpn, "http/1.1");
  // TLS 1.1 is refused.
  TlsExchange old = Exchange(Get("/healthz"), MaxVersion(TLS1_1_VERSION));
  EXPECT_THAT(old.error, StartsWith("handshake: "));
  // A client that trusts another certificate refuses this one.
  TlsExchange untrusted = Exchange(Get("/healthz"), Trust(SelfSigned("other").cert_pem));
  EXPECT_THAT(untrusted.error, StartsWith("handshake: "));
  EXPECT_THAT(untrusted.error, HasSubstr("certificate verify failed"));
  // The server is still fine.
  EXPECT_THAT(Exchange(Get("/healthz")).response, StartsWith("HTTP/1.1 200 "));
}

TEST_F(TlsServerTest, PlainHttpToTheTlsPortGets400AndGarbageIsClosed) {
  Start();
  int fd = ConnectPlain();
  ASSERT_GE(fd, 0);
  const std::string request = Get("/simple/");
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  const std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, HasSubstr("Use an https:// URL."));

  // Bytes that are neither TLS nor HTTP: closed without an answer.
  fd = ConnectPlain();
  ASSERT_GE(fd, 0);
  const std::string junk("\x16\x03\x01\x00\x05garbagegarbage\x00\xff", 21);
  ASSERT_EQ(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL), static_cast<ssize_t>(junk.size()));
  const std::string closed = ReadAll(fd);
  ::close(fd);
  EXPECT_THAT(closed, ::testing::Not(HasSubstr("HTTP/1.1")));
  EXPECT_THAT(Exchange(Get("/healthz")).response, StartsWith("HTTP/1.1 200 "));
}

TEST_F(TlsServerTest, TimeoutsApplyOverTls) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  options.header_timeout = std::chrono::seconds(1);
  Start(options);
  // A connection that never starts its handshake is closed.
  const int silent = ConnectPlain();
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadAll(silent), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  ::close(silent);
  // A head that stalls after the handshake is answered 408, encrypted.
  TlsExchange slow = Exchange("GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  ASSERT_EQ(slow.error, "");
  EXPECT_THAT(slow.response, StartsWith("HTTP/1.1 408 "));
}

// A connection past the limits is refused as over plain HTTP: the handshake (within a short
// window), then the 503 with Retry-After, encrypted, so the client can read why.
TEST_F(TlsServerTest, ConnectionsPastTheLimitsGet503OverTls) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(30);
  options.header_timeout = std::chrono::seconds(30);
  options.max_connections = 8;
  options.max_connections_per_address = 2;
  Start(options);
  std::vector<int> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(ConnectPlain());  // counted from accept, handshake or not
    ASSERT_GE(held.back(), 0);
  }
  TlsExchange refused = Exchange(Get("/simple/"));
  ASSERT_EQ(refused.error, "");
  EXPECT_THAT(refused.response, StartsWith("HTTP/1.1 503 Too many connections from your address"));
  EXPECT_THAT(refused.response, HasSubstr("\r\nRetry-After: 5\r\n"));
  for (int fd : held) {
    ::close(fd);
  }
  // Once they are gone (their sessions end a moment after the close), the client is served.
  std::string again;
  for (int attempt = 0; attempt < 50 && !again.starts_with("HTTP/1.1 200"); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    again = Exchange(Get("/simple/")).response;
  }
  EXPECT_THAT(again, StartsWith("HTTP/1.1 200 "));
}

TEST_F(TlsServerTest, SighupReloadsTheCertificate) {
  Start();
  ASSERT_EQ(Exchange(Get("/healthz")).peer_subject, "/CN=first");
  EXPECT_THAT(server_->tls_summary(), StartsWith("CN=first for 127.0.0.1, localhost; valid "));

  // Renewed files in place, then SIGHUP: new connections get the new certificate.
  const auto renewed = SelfSigned("second");
  WriteFile(cert_file_, renewed.cert_pem);
  WriteFile(key_file_, renewed.key_pem);
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  std::string subject;
  for (int attempt = 0; attempt < 100 && subject != "/CN=second"; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    subject = Exchange(Get("/healthz"), Trust(renewed.cert_pem)).peer_subject;
  }
  EXPECT_EQ(subject, "/CN=second");
  EXPECT_THAT(server_->tls_summary(), StartsWith("CN=second"));

  // A reload that fails (a key of another certificate, then a missing file) keeps the
  // certificate in use.
  WriteFile(key_file_, SelfSigned("third").key_pem);
  Status failed = server_->ReloadTls();
  EXPECT_THAT(failed.message(), HasSubstr("does not match the certificate"));
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  std::filesystem::remove(cert_file_);
  EXPECT_THAT(server_->ReloadTls().message(), HasSubstr("cannot read it"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  TlsExchange still = Exchange(Get("/healthz"), Trust(renewed.cert_pem));
  ASSERT_EQ(still.error, "");
  EXPECT_EQ(still.peer_subject, "/CN=second");
  EXPECT_THAT(still.response, StartsWith("HTTP/1.1 200 "));

  // ReloadTls does what SIGHUP does.
  const auto third = SelfSigned("third");
  WriteFile(cert_file_, third.cert_pem);
  WriteFile(key_file_, third.key_pem);
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_EQ(Exchange(Get("/healthz"), Trust(third.cert_pem)).peer_subject, "/CN=third");
}

TEST_F(TlsServerTest, CreateRefusesBadFilesBeforeListening) {
  HandlerOptions handler_options;
  handler_options.temp_dir = spool_.path();
  Handlers handlers(*index_, *auth_, handler_options);
  ServerOptions options;
  options.port = 0;
  options.tls_cert_file = cert_file_;
  auto only_cert = Server::Create(options, handlers);
  ASSERT_FALSE(only_cert.has_value());
  EXPECT_THAT(only_cert.error().message(), HasSubstr("--tls-cert is set but --tls-key"));
  options.tls_key_file = (dir_.path() / "missing.pem").string();
  auto missing = Server::Create(options, handlers);
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().message(), HasSubstr("cannot read it"));
}

TEST_F(TlsServerTest, ShutdownClosesIdleTlsConnections) {
  Start();
  // An idle TLS connection (handshake done, no request) is closed at once by Stop.
  std::promise<TlsExchange> idle;
  std::thread client([&] { idle.set_value(Exchange("")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto stop_started = std::chrono::steady_clock::now();
  server_->Stop();
  thread_.join();
  server_.reset();
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(5));
  TlsExchange result = idle.get_future().get();
  EXPECT_EQ(result.response, "");
}

}  // namespace
}  // namespace pydepot::http
