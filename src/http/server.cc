#include "http/server.h"

#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "auth/throttle.h"
#include "http/coro_util.h"
#include "http/form.h"
#include "http/h2c.h"
#include "http/tls.h"
#include "ops/log.h"
#include "ops/metrics.h"

namespace pydepot::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

// The stream a session reads and writes: the socket itself (plain HTTP/1.1), or TLS over it
// (beast's ssl_stream: asio's, with small gathered writes coalesced into one record). The
// Connection owns the socket either way; a TLS stream refers to it.
using TlsStream = beast::ssl_stream<tcp::socket&>;
template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, tcp::socket>;

constexpr std::size_t kChunkBytes = 256 * 1024;
// After an error answer that leaves request bytes unread, the connection is drained this long
// (and at most kLingerBytes) before it is closed, so the client reads the answer instead of a
// reset. A connection refused for the connection limits lingers less: it holds a descriptor
// outside the limits.
constexpr std::chrono::milliseconds kLinger{2000};
constexpr std::chrono::milliseconds kRefusedLinger{250};
constexpr std::size_t kLingerBytes = 1 << 20;
// TLS: a connection refused for the connection limits gets this long for its handshake (its
// 503 goes out encrypted); a session's close_notify waits this long for the client's.
constexpr std::chrono::milliseconds kRefusedHandshake{2000};
constexpr std::chrono::milliseconds kCloseNotifyWait{1000};

// Sent with every response. Pages load only pydepot's own stylesheet (and images from the same
// site); no page runs a script, and forms post only to pydepot itself. One policy fits the HTML
// pages and everything else (docs/web-ui.md).
constexpr std::string_view kSecurityHeaders =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n";

// An IP address as text, IPv4-mapped IPv6 addresses as IPv4; "" when `text` is not an address.
std::string NormalizeAddress(std::string_view text) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(text), ec);
  if (ec) {
    return {};
  }
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

RequestHead MakeHead(const bhttp::request_parser<bhttp::buffer_body>& parser,
                     const std::string& remote, int& transfer_encodings) {
  const auto& req = parser.get();
  RequestHead head;
  head.method = std::string(req.method_string());
  head.target = std::string(req.target());
  head.remote_address = remote;
  head.headers.reserve(8);
  transfer_encodings = 0;
  for (const auto& field : req) {
    transfer_encodings += field.name() == bhttp::field::transfer_encoding ? 1 : 0;
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return head;
}

// The current time as an IMF-fixdate for the Date header, formatted at most once a second per
// thread.
std::string_view HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local std::array<char, 64> cached{};
  thread_local std::size_t cached_length = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    cached_length = std::strftime(cached.data(), cached.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {cached.data(), cached_length};
}

void AppendHeaderValue(std::string& out, std::string_view value) {
  // Values are ours, but some quote input (Location): never let one end the header. Appended
  // in one piece when clean (always, in practice): this runs for every header of every response.
  const std::size_t start = out.size();
  out.append(value);
  // Two memchr scans: find_first_of would call memchr once per character of the value.
  if (value.find('\r') != std::string_view::npos || value.find('\n') != std::string_view::npos) {
    for (std::size_t i = start; i < out.size(); ++i) {
      if (out[i] == '\r' || out[i] == '\n') {
        out[i] = ' ';
      }
    }
  }
}

// One connection's socket and its watchdog. A single timer per connection enforces whichever
// deadline is current: moving the deadline later is a store (the timer wakes at its old expiry,
// sees the new deadline and sleeps again), so requests on a busy connection cost no timer
// operations. When a read's deadline passes, the socket's receiving side is shut down (pending
// and later reads end at once, also those a composed operation has yet to start) but not its
// sending side, so the session can still answer 408; when a write's deadline passes, both sides
// are. The socket and the timer run on the connection's strand, which serializes the watchdog
// with the session.
struct Connection {
  enum class Wait { kRead, kWrite };

  explicit Connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  // The pending and next socket operations (reads or writes) must finish within `timeout`.
  void SetDeadline(Clock::duration timeout, Wait kind) {
    deadline = Clock::now() + timeout;
    waiting = kind;
    expired = false;
    if (deadline < timer.expiry()) {
      timer.cancel();  // the watchdog wakes and waits again, for the earlier deadline
    }
  }
  // No deadline (while the request is processed, which is not the client's doing).
  void ClearDeadline() { deadline = Clock::time_point::max(); }
  // True when the operation that just failed with `ec` failed because its deadline passed.
  bool TimedOut(const boost::system::error_code& ec) const { return expired && ec; }

  tcp::socket socket;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  Wait waiting = Wait::kRead;
  bool expired = false;  // the deadline passed and the socket was shut down
  bool done = false;     // the session ended: the watchdog stops
  // Waiting for the first byte of a request (a new or kept-alive connection): a shutdown
  // closes it at once.
  bool idle = false;
};

// Closes `conn` if it is idle; run on its strand.
void CloseIfIdle(const std::shared_ptr<Connection>& conn) {
  if (conn->idle && !conn->done) {
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.cancel(ignored);
  }
}

void Watch(std::shared_ptr<Connection> conn) {
  asio::steady_timer& timer = conn->timer;
  timer.expires_at(conn->deadline);
  timer.async_wait([conn = std::move(conn)](const boost::system::error_code&) mutable {
    if (conn->done) {
      return;
    }
    if (conn->deadline <= Clock::now()) {
      conn->expired = true;
      conn->deadline = Clock::time_point::max();
      boost::system::error_code ignored;
      conn->socket.shutdown(conn->waiting == Connection::Wait::kRead ? tcp::socket::shutdown_receive
                                                                     : tcp::socket::shutdown_both,
                            ignored);
      conn->socket.cancel(ignored);
    }
    Watch(std::move(conn));
  });
}

// Waits until the socket can take more bytes (false when the deadline passed or it failed).
awaitable<bool> WaitWritable(tcp::socket& socket) {
  auto [ec] = co_await socket.async_wait(tcp::socket::wait_write, kTuple);
  co_return !ec;
}

// Sends `length` bytes of `fd` from `offset` with sendfile(2): the kernel copies from the page
// cache to the socket, the bytes never enter this process. Each wait for the socket must end
// within `timeout`.
awaitable<bool> SendFile(Connection& conn, int fd, std::int64_t offset, std::int64_t length,
                         std::chrono::seconds timeout) {
  tcp::socket& socket = conn.socket;
  boost::system::error_code ec;
  socket.native_non_blocking(true, ec);
  if (ec) {
    co_return false;
  }
  off_t position = static_cast<off_t>(offset);
  std::int64_t left = length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(left, 1 << 30));
    const ssize_t sent = ::sendfile(socket.native_handle(), fd, &position, want);
    if (sent > 0) {
      left -= sent;
      continue;
    }
    if (sent == 0) {
      co_return false;  // the file is shorter than promised: end the connection
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      co_return false;
    }
    conn.SetDeadline(timeout, Connection::Wait::kWrite);
    if (!co_await WaitWritable(socket)) {
      co_return false;
    }
  }
  co_return true;
}

// TLS: the bytes of a local file must pass through this process to be encrypted, so instead of
// sendfile they are read with pread(2) (on the network thread, as sendfile reads them: the page
// cache, or the disk as sendfile would) into a buffer and written through the stream. Each write
// must end within `timeout`.
awaitable<bool> CopyFile(Connection& conn, TlsStream& stream, int fd, std::int64_t offset,
                         std::int64_t length, std::chrono::seconds timeout) {
  std::vector<char> buffer(
      static_cast<std::size_t>(std::min<std::int64_t>(length, std::int64_t{kChunkBytes})));
  std::int64_t position = offset;
  std::int64_t left = length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::int64_t>(left, static_cast<std::int64_t>(buffer.size())));
    const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(position));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      co_return false;  // the file is shorter than promised, or unreadable: end the connection
    }
    conn.SetDeadline(timeout, Connection::Wait::kWrite);
    auto [ec, n] = co_await asio::async_write(
        stream, asio::buffer(buffer.data(), static_cast<std::size_t>(got)), kTuple);
    if (ec) {
      co_return false;
    }
    position += got;
    left -= got;
  }
  co_return true;
}

// Writes `res`: the head and an in-memory body in one gathered write, a local file with
// sendfile (plain) or pread and writes (TLS), a store stream in chunks read on the blocking
// pool.
template <class Stream>
awaitable<bool> WriteResponse(Connection& conn, Stream& stream, Response& res, bool keep_alive,
                              bool http10, std::chrono::seconds timeout, std::string& head_buffer,
                              asio::thread_pool& pool) {
  const bool no_body =
      res.status == 304 || res.status == 204 || (res.status >= 100 && res.status < 200);
  keep_alive = keep_alive && !res.close;
  SerializeResponseHead(res, keep_alive, http10, no_body, head_buffer);
  const std::int64_t length = no_body ? 0 : res.ContentLength();
  const bool inline_body = !res.head_only && length > 0 && !res.stream && !res.file.valid();
  std::string_view body;
  if (inline_body) {
    body = res.page_owner ? res.page : std::string_view(res.body);
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_buffer),
                                            asio::buffer(body.data(), body.size())};
  if constexpr (!kIsTls<Stream>) {
    if (res.file.valid() && !res.head_only && !no_body && length > 0) {
      // The head of a sendfile body goes out with MSG_MORE, so the kernel sends it in one
      // segment with the first bytes of the file instead of a small packet of its own (the
      // socket has TCP_NODELAY). Whatever the socket does not take at once is written below.
      const ssize_t sent = ::send(conn.socket.native_handle(), head_buffer.data(),
                                  head_buffer.size(), MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        buffers[0] += static_cast<std::size_t>(sent);
      }
    }
  }
  conn.SetDeadline(timeout, Connection::Wait::kWrite);
  auto [ec, n] = co_await asio::async_write(stream, buffers, kTuple);
  if (ec) {
    co_return false;
  }
  if (no_body || res.head_only || length == 0 || inline_body) {
    co_return true;
  }
  if (res.file.valid()) {
    if constexpr (kIsTls<Stream>) {
      co_return co_await CopyFile(conn, stream, res.file.get(), res.file_offset, res.stream_length,
                                  timeout);
    } else {
      co_return co_await SendFile(conn, res.file.get(), res.file_offset, res.stream_length,
                                  timeout);
    }
  }
  std::vector<char> buffer(kChunkBytes);
  std::int64_t left = res.stream_length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(left, kChunkBytes));
    conn.ClearDeadline();
    auto got = co_await OnPool(pool, [&] { return res.stream->Read(buffer.data(), want); });
    if (!got.has_value() || *got == 0) {
      co_return false;  // the length is promised: a short body must end the connection
    }
    conn.SetDeadline(timeout, Connection::Wait::kWrite);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(buffer.data(), *got), kTuple);
    if (wec) {
      co_return false;
    }
    left -= static_cast<std::int64_t>(*got);
  }
  co_return true;
}

// Ends a connection whose request was not read to its end: stops sending, then reads and drops
// what the client still sends for a little while, so the answer is not lost to a reset.
awaitable<void> Linger(Connection& conn, Clock::duration linger = kLinger) {
  boost::system::error_code ec;
  conn.socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  std::array<char, 4096> sink{};
  std::size_t drained = 0;
  conn.SetDeadline(linger, Connection::Wait::kRead);
  while (drained < kLingerBytes) {
    auto [rec, n] = co_await conn.socket.async_read_some(asio::buffer(sink), kTuple);
    if (rec) {
      break;
    }
    drained += n;
  }
}

// The answer to a request head Beast could not parse.
Response MalformedHead(const boost::system::error_code& ec,
                       const bhttp::request_parser<bhttp::buffer_body>& parser,
                       const ServerOptions& options) {
  if (ec == bhttp::error::header_limit) {
    // The parser has a method once it has read the request line: without one, the request line
    // alone is too long (a URL), else the headers are.
    if (parser.get().method_string().empty()) {
      return ErrorResponse(414, "Request target too long: the limit is " +
                                    std::to_string(options.max_target_bytes) + " bytes.");
    }
    return ErrorResponse(431, "Request header fields too large: the limit is " +
                                  std::to_string(options.max_header_bytes) +
                                  " bytes for the request line and headers together.");
  }
  std::string_view message = "Malformed HTTP request.";
  if (ec == bhttp::error::bad_method) {
    message = "Malformed request line: bad method.";
  } else if (ec == bhttp::error::bad_target) {
    message =
        "Malformed request line: the target holds a character URLs may not (a space, a control "
        "character or a byte above 127): percent-encode it.";
  } else if (ec == bhttp::error::bad_version) {
    message =
        "Malformed request line: it must end with HTTP/1.1 (or HTTP/1.0) and CRLF; no other "
        "HTTP version is spoken here.";
  } else if (ec == bhttp::error::bad_field) {
    message = "Malformed header name.";
  } else if (ec == bhttp::error::bad_value) {
    message = "Malformed header value: NUL and control characters are not allowed.";
  } else if (ec == bhttp::error::bad_line_ending) {
    message = "Malformed request: lines must end with CRLF.";
  } else if (ec == bhttp::error::bad_content_length) {
    message =
        "Invalid Content-Length, or Content-Length together with Transfer-Encoding: refused "
        "(send one of them).";
  } else if (ec == bhttp::error::multiple_content_length) {
    message = "Conflicting Content-Length headers: send one.";
  } else if (ec == bhttp::error::bad_transfer_encoding) {
    message =
        "Transfer-Encoding together with Content-Length, or Transfer-Encoding sent twice: "
        "refused (send one of them, once).";
  }
  return ErrorResponse(400, message);
}

// The answer to a head that parsed but frames its body in a way we refuse (request smuggling):
// any Transfer-Encoding other than one "chunked". nullopt when the framing is fine.
std::optional<Response> RefusedFraming(const RequestHead& head, int transfer_encodings,
                                       bool chunked, bool http10) {
  if (transfer_encodings == 0) {
    return std::nullopt;
  }
  if (transfer_encodings > 1) {
    return ErrorResponse(400, "Transfer-Encoding sent more than once: refused.");
  }
  if (http10) {
    return ErrorResponse(400, "Transfer-Encoding in an HTTP/1.0 request: refused.");
  }
  if (!chunked) {
    return ErrorResponse(
        400, "Transfer-Encoding must end with chunked: refused (send Content-Length instead).");
  }
  if (!beast::iequals(TrimBlanks(head.Header("Transfer-Encoding")), "chunked")) {
    return ErrorResponse(501, "Only 'Transfer-Encoding: chunked' is supported: no other codings.");
  }
  return std::nullopt;
}

// How many connections are open, in all and per client; see ServerOptions.
class ConnectionCounter {
 public:
  ConnectionCounter(std::size_t max_total, std::size_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}

  enum class Admission { kAdmitted, kServerFull, kClientFull };

  Admission Add(const std::string& client, bool exempt) {
    std::lock_guard lock(mu_);
    if (total_ >= max_total_) {
      return Admission::kServerFull;
    }
    if (!exempt && max_per_client_ > 0) {
      std::size_t& count = per_client_[client];  // an absent client starts at 0
      if (count >= max_per_client_) {
        return Admission::kClientFull;
      }
      ++count;
    }
    ++total_;
    return Admission::kAdmitted;
  }

  void Remove(const std::string& client, bool exempt) {
    std::lock_guard lock(mu_);
    --total_;
    if (!exempt && max_per_client_ > 0) {
      auto it = per_client_.find(client);
      if (it != per_client_.end() && --it->second == 0) {
        per_client_.erase(it);
      }
    }
  }

 private:
  const std::size_t max_total_;
  const std::size_t max_per_client_;
  std::mutex mu_;
  std::size_t total_ = 0;                                    // guarded by mu_
  std::unordered_map<std::string, std::size_t> per_client_;  // guarded by mu_
};

struct Shared {
  Handlers& handlers;
  ServerOptions options;
  asio::thread_pool& pool;
  ConnectionCounter connections;
  // Set when the shutdown begins: sessions finish the request under way and end.
  std::atomic<bool> stopping{false};
  // Every open connection, for the shutdown: it closes the idle ones and waits for the rest.
  std::mutex live_mu;
  std::unordered_set<std::shared_ptr<Connection>> live;  // guarded by live_mu
  // The main listener's TLS context (nullptr: plain HTTP).
  TlsConfig* tls = nullptr;

  std::size_t LiveCount() {
    std::lock_guard lock(live_mu);
    return live.size();
  }
};

// Keeps a connection in Shared::live while its session runs.
struct LiveRegistration {
  LiveRegistration(Shared& s, std::shared_ptr<Connection> c) : shared(s), conn(std::move(c)) {
    std::lock_guard lock(shared.live_mu);
    shared.live.insert(conn);
  }
  LiveRegistration(const LiveRegistration&) = delete;
  LiveRegistration& operator=(const LiveRegistration&) = delete;
  ~LiveRegistration() {
    std::lock_guard lock(shared.live_mu);
    shared.live.erase(conn);
  }
  Shared& shared;
  std::shared_ptr<Connection> conn;
};

// Counts a request in pydepot_http_requests_in_flight while it is handled.
struct InFlight {
  InFlight() { ops::Metrics::Global().in_flight().Add(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { ops::Metrics::Global().in_flight().Add(-1); }
};

// Records one answered request: metrics, and the access log line.
void RecordRequest(const RequestHead& head, const Response& res, std::string_view request_id,
                   Clock::time_point start, bool written) {
  const bool no_body =
      res.status == 304 || res.status == 204 || (res.status >= 100 && res.status < 200);
  const std::uint64_t bytes =
      written && !no_body && !res.head_only ? static_cast<std::uint64_t>(res.ContentLength()) : 0;
  const auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
  const ops::Route route = ops::RouteOf(head.method, head.target);
  ops::Metrics& metrics = ops::Metrics::Global();
  metrics.RecordRequest(route, head.method, res.status, bytes, latency);
  if (route == ops::Route::kUpload && res.status >= 400) {
    // Stored and duplicate uploads are counted by FinishUpload, with their sizes.
    metrics.RecordUpload(
        res.status >= 500 ? ops::UploadResult::kFailed : ops::UploadResult::kRejected, 0);
  }
  ops::LogAccess({.method = head.method,
                  .target = head.target,
                  .status = res.status,
                  .response_bytes = bytes,
                  .latency = latency,
                  .remote_address = head.remote_address,
                  .user_agent = head.Header("User-Agent"),
                  .request_id = request_id});
}

// Undoes the bookkeeping of a session however its coroutine ends.
struct SessionGuard {
  SessionGuard(std::shared_ptr<Connection> c, ConnectionCounter& counter_, std::string client_,
               bool exempt_)
      : conn(std::move(c)), counter(counter_), client(std::move(client_)), exempt(exempt_) {}
  SessionGuard(const SessionGuard&) = delete;
  SessionGuard& operator=(const SessionGuard&) = delete;
  ~SessionGuard() {
    conn->done = true;
    conn->timer.cancel();
    if (admitted) {
      counter.Remove(client, exempt);
    }
  }
  std::shared_ptr<Connection> conn;
  ConnectionCounter& counter;
  std::string client;
  bool exempt = false;
  bool admitted = false;
};

// Reads the body of a request Handlers::TakesBody accepts into `out`: at most
// Handlers::kMaxFormBytes, within the body timeout. nullopt when it was read whole, else the
// response that refuses it (413, 408, 400); the caller then closes the connection.
template <class Stream>
awaitable<std::optional<Response>> ReadSmallBody(Connection& conn, Stream& stream,
                                                 beast::flat_buffer& buffer,
                                                 bhttp::request_parser<bhttp::buffer_body>& parser,
                                                 const ServerOptions& options, std::string& out) {
  const auto too_large = [] {
    return ErrorResponse(413,
                         "Request body too large: forms and admin API calls may send at "
                         "most " +
                             std::to_string(Handlers::kMaxFormBytes / 1024) + " KiB.");
  };
  if (auto length = parser.content_length(); length && *length > Handlers::kMaxFormBytes) {
    co_return too_large();
  }
  std::array<char, 8192> chunk{};
  conn.SetDeadline(options.body_timeout, Connection::Wait::kRead);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    out.append(chunk.data(), chunk.size() - parser.get().body().size);
    if (out.size() > Handlers::kMaxFormBytes) {
      conn.ClearDeadline();
      co_return too_large();
    }
    if (ec && ec != bhttp::error::need_buffer) {
      conn.ClearDeadline();
      if (conn.TimedOut(ec)) {
        co_return ErrorResponse(408, "Request body stalled: no data for " +
                                         std::to_string(options.body_timeout.count()) +
                                         " seconds.");
      }
      co_return ErrorResponse(400, "Request body truncated or malformed.");
    }
  }
  conn.ClearDeadline();
  co_return std::nullopt;
}

// True when the client's first byte cannot start a TLS handshake (a record of type 22) but
// could start an HTTP request (a method's upper-case letter): plain HTTP sent to the TLS port.
// Waits for that byte under the connection's current deadline; false when none came.
awaitable<bool> SentPlainHttp(Connection& conn) {
  auto [ec] = co_await conn.socket.async_wait(tcp::socket::wait_read, kTuple);
  if (ec) {
    co_return false;
  }
  unsigned char first = 0;
  const ssize_t n =
      ::recv(conn.socket.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT | MSG_NOSIGNAL);
  co_return n == 1 && first >= 'A' && first <= 'Z';
}

// A TLS session's own parts, absent from the plain instantiation: the context it was accepted
// with (kept alive while it runs, whatever a reload does) and the stream over its socket.
template <bool kTls>
struct TlsParts {};
template <>
struct TlsParts<true> {
  std::shared_ptr<asio::ssl::context> context;
  std::optional<TlsStream> stream;
};

// What a session reads and writes: the socket itself, or the TLS stream over it.
template <bool kTls>
auto& StreamOf(Connection& conn, TlsParts<kTls>& tls) {
  if constexpr (kTls) {
    return *tls.stream;
  } else {
    return conn.socket;
  }
}

// One connection, plain (kTls false: reads and writes go to the socket itself; sendfile,
// MSG_MORE, h2c) or TLS (the handshake first, under the header timeout; then the same code over
// the encrypted stream; file bodies through pread; no h2c).
// A new connection's peer and its place within the connection limits, decided where it was
// accepted, in the order of arrival (the sessions then start on their loops in any order).
struct Arrival {
  std::string remote;         // the peer's address ("" when unknown)
  std::string client;         // the address group the per-address limit counts
  bool trusted_peer = false;  // a --trusted-proxy: exempt from the per-address limit
  ConnectionCounter::Admission admission = ConnectionCounter::Admission::kAdmitted;
};

template <class Socket>
Arrival Admit(const Socket& socket, Shared& shared) {
  Arrival arrival;
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (!ec) {
    const asio::ip::address address = endpoint.address();
    arrival.remote =
        address.is_v6() && address.to_v6().is_v4_mapped()
            ? asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string()
            : address.to_string();
  }
  const auto& proxies = shared.options.trusted_proxies;
  arrival.trusted_peer = std::find(proxies.begin(), proxies.end(), arrival.remote) != proxies.end();
  arrival.client = auth::AddressGroup(arrival.remote);
  arrival.admission = shared.connections.Add(arrival.client, arrival.trusted_peer);
  return arrival;
}

template <bool kTls>
awaitable<void> Session(tcp::socket socket, Shared& shared, bool ops_only, Arrival arrival) {
  Handlers& handlers = shared.handlers;
  const ServerOptions& options = shared.options;
  const std::string remote = std::move(arrival.remote);
  const bool trusted_peer = arrival.trusted_peer;
  auto conn = std::make_shared<Connection>(std::move(socket));
  LiveRegistration registration(shared, conn);
  SessionGuard guard(conn, shared.connections, std::move(arrival.client), trusted_peer);
  const auto admission = arrival.admission;
  guard.admitted = admission == ConnectionCounter::Admission::kAdmitted;
  Watch(conn);
  std::string head_buffer;
  head_buffer.reserve(1024);

  TlsParts<kTls> tls;
  if constexpr (kTls) {
    tls.context = shared.tls->Current();
    tls.stream.emplace(conn->socket, *tls.context);
  }
  auto& stream = StreamOf(*conn, tls);
  if constexpr (kTls) {
    // A new connection: idle (a shutdown closes it) until its handshake is done. Its first byte
    // must come within the idle timeout, the rest of the handshake within the header timeout
    // (a refused connection's, sooner).
    conn->SetDeadline(guard.admitted ? Clock::duration(options.idle_timeout) : kRefusedHandshake,
                      Connection::Wait::kWrite);
    conn->idle = true;
    const bool plain_http = co_await SentPlainHttp(*conn);
    conn->SetDeadline(guard.admitted ? Clock::duration(options.header_timeout) : kRefusedHandshake,
                      Connection::Wait::kWrite);
    if (plain_http) {
      conn->idle = false;
      // Answered in plain text, so that curl or a browser shows why.
      Response plain = ErrorResponse(
          400, "This port speaks HTTPS: plain HTTP was sent to it. Use an https:// URL.");
      plain.close = true;
      if (co_await WriteResponse(*conn, conn->socket, plain, false, false, options.header_timeout,
                                 head_buffer, shared.pool)) {
        co_await Linger(*conn, kRefusedLinger);
      }
      co_return;
    }
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    conn->idle = false;
    conn->ClearDeadline();
    if (hec) {
      co_return;  // not TLS, no common protocol or cipher, or gone: nothing to answer
    }
  }
  if (!guard.admitted) {
    Response busy = ErrorResponse(
        503, admission == ConnectionCounter::Admission::kServerFull
                 ? "Too many connections to this server; retry in a few seconds."
                 : "Too many connections from your address; close some, or retry in a few "
                   "seconds.");
    busy.SetHeader("Retry-After", "5");
    busy.close = true;
    if (co_await WriteResponse(*conn, stream, busy, false, false, options.header_timeout,
                               head_buffer, shared.pool)) {
      co_await Linger(*conn, kRefusedLinger);
    }
    co_return;
  }

  beast::flat_buffer buffer;
  std::array<std::vector<char>, 2> chunks;  // upload body chunks, allocated by the first upload
  // h2c (h2c.h): the HTTP/2 preface may only open a plain connection.
  bool first_read = !ops_only && !kTls;
  while (true) {
    if (shared.stopping.load()) {
      break;  // shutting down: no further request on this connection
    }
    if (buffer.size() == 0) {
      // Idle: nothing of the next request has arrived. This read is the one the head parser
      // would make first anyway, under the idle deadline instead of the header one.
      conn->SetDeadline(options.idle_timeout, Connection::Wait::kRead);
      const std::size_t room = std::clamp<std::size_t>(buffer.capacity(), 512, 65536);
      conn->idle = true;
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), kTuple);
      conn->idle = false;
      if (ec) {
        break;  // closed, reset or idle too long: nothing to answer
      }
      buffer.commit(n);
      // HTTP/2 with prior knowledge: the connection is served as h2c until it ends (it stays
      // in shared.live, and sends GOAWAY when shared.stopping is set).
      // (A named context: GCC 12 miscompiles a braced temporary inside co_await.)
      if constexpr (!kTls) {
        if (std::exchange(first_read, false)) {
          const H2cContext h2c{.handlers = handlers,
                               .options = options,
                               .pool = shared.pool,
                               .remote = remote,
                               .trusted_peer = trusted_peer,
                               .stopping = shared.stopping,
                               .security_headers = kSecurityHeaders,
                               .record = RecordRequest,
                               .on_start = [&conn] { conn->ClearDeadline(); }};
          if (co_await MaybeServeH2c(conn->socket, buffer, h2c)) {
            co_return;
          }
        }
      }
    }
    bhttp::request_parser<bhttp::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    // No body limit while the head is read: Beast would refuse a large Content-Length as a
    // parse error, and the handlers answer that with a proper 413 (or read no body at all).
    parser.body_limit(boost::none);
    conn->SetDeadline(options.header_timeout, Connection::Wait::kRead);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    conn->ClearDeadline();
    if (ec) {
      Response bad;
      if (conn->TimedOut(ec)) {
        // The watchdog shut the receiving side: the answer can still go out.
        bad = ErrorResponse(408, "Request head not received within " +
                                     std::to_string(options.header_timeout.count()) + " seconds.");
      } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
                 ec == asio::error::eof || ec == asio::error::connection_reset ||
                 ec == asio::error::operation_aborted) {
        break;
      } else {
        bad = MalformedHead(ec, parser, options);  // answered once, then the connection ends
      }
      bad.close = true;
      if (co_await WriteResponse(*conn, stream, bad, false, false, options.header_timeout,
                                 head_buffer, shared.pool)) {
        co_await Linger(*conn);
      }
      co_return;
    }
    int transfer_encodings = 0;
    RequestHead head = MakeHead(parser, remote, transfer_encodings);
    // Secure: over TLS; behind a trusted proxy, as its X-Forwarded-Proto says (the client's
    // own scheme), or TLS when it says nothing.
    head.secure = kTls;
    if (trusted_peer) {
      head.remote_address = ForwardedClientAddress(remote, head, options.trusted_proxies);
      const std::string_view proto = TrimBlanks(head.Header("X-Forwarded-Proto"));
      if (!kTls || !proto.empty()) {
        head.secure = beast::iequals(proto, "https");
      }
    }
    const Clock::time_point started = Clock::now();
    const InFlight in_flight;
    const std::string request_id =
        ops::RequestIdFrom(head.Header("X-Request-Id"), head.Header("X-Cloud-Trace-Context"));
    // The handlers' log lines carry the request id: set on whichever thread runs them.
    auto with_id = [&request_id](auto fn) {
      return [&request_id, fn = std::move(fn)]() mutable {
        const ops::RequestIdScope scope(request_id);
        return fn();
      };
    };
    const bool keep_alive = parser.get().keep_alive();
    const bool http10 = parser.get().version() == 10;
    Response res;
    bool refused_early = false;
    if (head.target.size() > options.max_target_bytes) {
      res = ErrorResponse(414, "Request target too long: the limit is " +
                                   std::to_string(options.max_target_bytes) + " bytes.");
      refused_early = true;
    } else if (auto framing = RefusedFraming(head, transfer_encodings, parser.chunked(), http10)) {
      res = *std::move(framing);
      refused_early = true;
    }
    parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
    if (refused_early) {
      res.close = true;
    } else if (!ops_only && Handlers::IsUpload(head)) {
      auto start =
          co_await OnPool(shared.pool, with_id([&] { return handlers.BeginUpload(head); }));
      if (start.reject) {
        res = std::move(*start.reject);
        res.close = !parser.is_done();
      } else {
        if (beast::iequals(head.Header("Expect"), "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          conn->SetDeadline(options.body_timeout, Connection::Wait::kWrite);
          auto [cec, cn] = co_await asio::async_write(
              stream, asio::buffer(kContinue.data(), kContinue.size()), kTuple);
          if (cec) {
            break;
          }
        }
        // Beast reads at most the buffer's free capacity per call (at least 512 bytes): grown
        // only to the request head, it would cost a system call per half kilobyte of body.
        buffer.reserve(kChunkBytes);
        // Two chunks in flight: the next one is read from the socket while the pool spools and
        // hashes the previous one.
        for (auto& c : chunks) {
          c.resize(kChunkBytes);
        }
        int cur = 0;
        std::size_t pending = 0;  // bytes of chunks[1 - cur] read but not yet fed
        auto feed = [&](int index, std::size_t bytes) -> awaitable<std::optional<Response>> {
          co_return co_await OnPool(
              shared.pool, with_id([&, index, bytes] {
                return handlers.FeedUpload(*start.body, {chunks[index].data(), bytes});
              }));
        };
        auto read = [&](int index) -> awaitable<std::pair<boost::system::error_code, std::size_t>> {
          parser.get().body().data = chunks[index].data();
          parser.get().body().size = kChunkBytes;
          conn->SetDeadline(options.body_timeout, Connection::Wait::kRead);
          auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
          if (bec == bhttp::error::need_buffer) {
            bec = {};
          }
          co_return std::pair{bec, kChunkBytes - parser.get().body().size};
        };
        bool failed = false;
        while (!parser.is_done() || pending > 0) {
          std::optional<Response> refused;
          boost::system::error_code bec;
          std::size_t got = 0;
          if (!parser.is_done() && pending > 0) {
            auto [fed, got_read] = co_await (feed(1 - cur, pending) && read(cur));
            refused = std::move(fed);
            std::tie(bec, got) = got_read;
          } else if (pending > 0) {
            refused = co_await feed(1 - cur, pending);
          } else {
            std::tie(bec, got) = co_await read(cur);
          }
          pending = 0;
          if (refused) {
            res = std::move(*refused);
            res.close = true;
            failed = true;
            break;
          }
          if (got > 0) {
            pending = got;
            cur = 1 - cur;
          }
          if (bec) {
            if (bec == bhttp::error::body_limit) {
              res = ErrorResponse(413, "File too large for this index.");
            } else if (conn->TimedOut(bec)) {
              res = ErrorResponse(408, "Request body stalled: no data for " +
                                           std::to_string(options.body_timeout.count()) +
                                           " seconds. Nothing was stored.");
            } else if (bec == bhttp::error::partial_message) {
              res = ErrorResponse(400,
                                  "Request body truncated: the connection ended before "
                                  "the body did. Nothing was stored.");
            } else if (bec.category() ==
                       bhttp::make_error_code(bhttp::error::bad_chunk).category()) {
              res = ErrorResponse(400, "Malformed chunked request body. Nothing was stored.");
            } else {
              co_return;  // the client went away: nothing to answer
            }
            res.close = true;
            failed = true;
            break;
          }
        }
        conn->ClearDeadline();
        if (!failed) {
          res = co_await OnPool(shared.pool,
                                with_id([&] { return handlers.FinishUpload(*start.body, head); }));
        }
      }
    } else {
      if (!ops_only && !parser.is_done() && Handlers::TakesBody(head)) {
        // A form post or admin API call: its small body is read whole first.
        if (auto refused =
                co_await ReadSmallBody(*conn, stream, buffer, parser, options, head.body)) {
          res = *std::move(refused);
          res.close = true;
          res.SetHeader("X-Request-Id", request_id);
          const bool written =
              co_await WriteResponse(*conn, stream, res, keep_alive, http10, options.body_timeout,
                                     head_buffer, shared.pool);
          RecordRequest(head, res, request_id, started, written);
          if (written && !parser.is_done()) {
            co_await Linger(*conn);
          }
          co_return;
        }
      }
      if (ops_only) {
        // The metrics listener: /metrics, /healthz, /readyz only.
        res =
            co_await OnPool(shared.pool, with_id([&] { return handlers.HandleOpsListener(head); }));
      } else if (auto fast = with_id([&] { return handlers.TryHandleInMemory(head); })()) {
        // Most requests are answered from memory right here; the rest wait on the pool.
        res = *std::move(fast);
      } else {
        res = co_await OnPool(shared.pool, with_id([&] { return handlers.Handle(head); }));
      }
      if (!parser.is_done()) {
        // A body we do not read: the connection cannot be reused.
        res.close = true;
      }
    }
    res.SetHeader("X-Request-Id", request_id);
    // Shutting down: this is the connection's last answer, and the client is told so.
    const bool stay = keep_alive && !shared.stopping.load();
    const bool ok = co_await WriteResponse(*conn, stream, res, stay, http10, options.body_timeout,
                                           head_buffer, shared.pool);
    RecordRequest(head, res, request_id, started, ok);
    if (ok && res.close && !parser.is_done()) {
      co_await Linger(*conn);
      co_return;
    }
    if (!ok || res.close || !stay) {
      break;
    }
  }
  if constexpr (kTls) {
    // close_notify, so the client sees a clean end; its own is awaited briefly (a client
    // that closed, or a receiving side already shut, ends this at once).
    conn->SetDeadline(kCloseNotifyWait, Connection::Wait::kWrite);
    auto [sec] = co_await stream.async_shutdown(kTuple);
    conn->ClearDeadline();
  }
  boost::system::error_code ignored;
  conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

// The network threads' event loops, one per thread: a connection lives on one of them from
// accept to close. One loop shared by all the threads cost more than it gave: the threads
// contended for its queue and handed a connection's events back and forth (with two threads,
// warm pages varied from 55k to 85k req/s between runs; one loop per thread holds the top).
class NetworkLoops {
 public:
  explicit NetworkLoops(int count) {
    for (int i = 0; i < std::max(1, count); ++i) {
      loops_.push_back(std::make_unique<asio::io_context>(1));
    }
  }

  asio::io_context& main() { return *loops_.front(); }
  std::size_t size() const { return loops_.size(); }
  asio::io_context& at(std::size_t i) { return *loops_[i]; }
  // The loop for the next connection: each in turn.
  asio::io_context& Next() { return *loops_[next_++ % loops_.size()]; }

 private:
  std::vector<std::unique_ptr<asio::io_context>> loops_;
  std::size_t next_ = 0;  // only the main loop's thread accepts
};

awaitable<void> Listen(tcp::acceptor& acceptor, NetworkLoops& loops, Shared& shared,
                       bool ops_only) {
  asio::steady_timer pause(acceptor.get_executor());
  while (true) {
    // Each connection runs on a strand of its own (its session and its watchdog never run at
    // once), on one of the network loops.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(loops.Next()), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE) {
        // Out of descriptors: the connection stays in the backlog, and accepting again at once
        // would fail again at once. Wait for sessions to end instead of spinning.
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(kTuple);
      }
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    auto on_error = [](const std::exception_ptr& error) {
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          ops::Log(ops::Severity::kError, std::string("connection error: ") + e.what());
        }
      }
    };
    Arrival arrival = Admit(socket, shared);
    if (shared.tls != nullptr && !ops_only) {
      asio::co_spawn(executor,
                     Session<true>(std::move(socket), shared, ops_only, std::move(arrival)),
                     on_error);
    } else {
      asio::co_spawn(executor,
                     Session<false>(std::move(socket), shared, ops_only, std::move(arrival)),
                     on_error);
    }
  }
}

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Handlers& handlers, std::unique_ptr<TlsConfig> tls)
      : options_(std::move(options)),
        tls_(std::move(tls)),
        handlers_(handlers),
        pool_(static_cast<std::size_t>(std::max(1, options_.threads))),
        shared_{handlers_,
                options_,
                pool_,
                ConnectionCounter(options_.max_connections, options_.max_connections_per_address),
                {false},
                {},
                {},
                tls_.get()},
        loops_(options_.io_threads),
        io_(loops_.main()),
        acceptor_(io_),
        metrics_acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        hangup_(io_, SIGHUP),
        drain_timer_(io_) {}

  Status Bind() {
    auto port = BindOne(acceptor_, options_.host, options_.port);
    if (!port.has_value()) {
      return port.error();
    }
    port_ = *port;
    if (!options_.metrics_host.empty()) {
      auto metrics_port = BindOne(metrics_acceptor_, options_.metrics_host, options_.metrics_port);
      if (!metrics_port.has_value()) {
        return metrics_port.error();
      }
      metrics_port_ = *metrics_port;
    }
    return OkStatus();
  }

  std::uint16_t port() const override { return port_; }
  const std::string& host() const override { return options_.host; }
  std::uint16_t metrics_port() const override { return metrics_port_; }
  bool tls() const override { return tls_ != nullptr; }
  std::string tls_summary() const override { return tls_ ? tls_->info().Summary() : ""; }

  Status ReloadTls() override {
    if (!tls_) {
      return FailedPreconditionError("no TLS: pydepot serves plain HTTP (no --tls-cert)");
    }
    auto info = tls_->Reload();
    if (!info.has_value()) {
      return info.error();
    }
    return OkStatus();
  }

  void Run() override {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) {
        BeginShutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
      }
    });
    WaitForHangup();
    asio::co_spawn(io_, Listen(acceptor_, loops_, shared_, false), asio::detached);
    if (metrics_acceptor_.is_open()) {
      asio::co_spawn(io_, Listen(metrics_acceptor_, loops_, shared_, true), asio::detached);
    }
    // The other loops wait for connections until the shutdown stops them (StopLoops).
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < loops_.size(); ++i) {
      threads.emplace_back([loop = &loops_.at(i)] {
        auto idle = asio::make_work_guard(*loop);
        loop->run();
      });
    }
    io_.run();
    for (auto& thread : threads) {
      thread.join();
    }
    pool_.stop();
    pool_.join();
  }

  void Stop() override {
    asio::post(io_, [this] { BeginShutdown("Stop()"); });
  }

 private:
  StatusOr<std::uint16_t> BindOne(tcp::acceptor& acceptor, const std::string& host,
                                  std::uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
      return InvalidArgumentError("listen address '" + host + "': " + ec.message());
    }
    tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return UnavailableError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                              ec.message());
    }
    return acceptor.local_endpoint().port();
  }

  // Runs on io_: stops accepting, closes idle connections, and waits (bounded) for the
  // requests under way.
  void BeginShutdown(std::string_view why) {
    if (shared_.stopping.exchange(true)) {
      return;
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    metrics_acceptor_.close(ignored);
    signals_.cancel(ignored);
    hangup_.cancel(ignored);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(shared_.live_mu);
      live.assign(shared_.live.begin(), shared_.live.end());
    }
    ops::Log(ops::Severity::kInfo, "shutting down (" + std::string(why) +
                                       "): no longer accepting; " + std::to_string(live.size()) +
                                       " connection(s) open, waiting up to " +
                                       std::to_string(options_.shutdown_timeout.count()) +
                                       " s for the requests under way");
    for (auto& conn : live) {
      // On the connection's strand, where its session runs.
      asio::post(conn->socket.get_executor(), [conn] { CloseIfIdle(conn); });
    }
    drain_deadline_ = Clock::now() + options_.shutdown_timeout;
    WaitForDrain();
  }

  // SIGHUP: the TLS files are read again (certificate renewals need no restart). Runs on io_.
  void WaitForHangup() {
    hangup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) {
        return;  // cancelled: shutting down
      }
      if (!tls_) {
        ops::Log(ops::Severity::kInfo, "SIGHUP: nothing to reload (no TLS files)");
      } else if (auto info = tls_->Reload(); info.has_value()) {
        ops::Log(
            info->expired || info->not_yet_valid ? ops::Severity::kWarning : ops::Severity::kInfo,
            "SIGHUP: reloaded the TLS certificate " + tls_->cert_file() +
                " and key; new connections use it: " + info->Summary());
      } else {
        ops::Log(ops::Severity::kError,
                 "SIGHUP: TLS reload failed, still using the previous certificate: " +
                     info.error().message());
      }
      WaitForHangup();
    });
  }

  void StopLoops() {
    for (std::size_t i = 0; i < loops_.size(); ++i) {
      loops_.at(i).stop();
    }
  }

  void WaitForDrain() {
    const std::size_t left = shared_.LiveCount();
    if (left == 0) {
      ops::Log(ops::Severity::kInfo, "shutdown complete: every request finished");
      StopLoops();
      return;
    }
    if (Clock::now() >= drain_deadline_) {
      ops::Log(ops::Severity::kWarning,
               "shutdown: " + std::to_string(left) + " connection(s) still busy after " +
                   std::to_string(options_.shutdown_timeout.count()) + " s: closing them");
      StopLoops();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(50));
    drain_timer_.async_wait([this](const boost::system::error_code&) { WaitForDrain(); });
  }

  ServerOptions options_;
  std::unique_ptr<TlsConfig> tls_;  // nullptr: plain HTTP
  Handlers& handlers_;
  asio::thread_pool pool_;  // blocking work: storage calls, password hashes, upload hashing
  // Declared before the loops, so the sessions that a loop destroys (a shutdown that timed out)
  // can still unregister from it.
  Shared shared_;
  NetworkLoops loops_;
  asio::io_context& io_;  // the main loop: listeners, signals, the shutdown
  tcp::acceptor acceptor_;
  tcp::acceptor metrics_acceptor_;
  asio::signal_set signals_;
  asio::signal_set hangup_;
  asio::steady_timer drain_timer_;
  Clock::time_point drain_deadline_;
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
};

// Raises the soft limit on open descriptors to the hard one; returns the soft limit.
std::size_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 1024;
  }
  const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, rlim_t{1} << 20);
  if (limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace

void SerializeResponseHead(const Response& res, bool keep_alive, bool http10, bool no_body,
                           std::string& out) {
  // Every piece is appended with its length known (a literal appended as `const char*` costs a
  // strlen and an out-of-line call): this runs for every response.
  using namespace std::string_view_literals;
  out.clear();
  out.append("HTTP/1.1 "sv);
  std::array<char, 8> code{};
  auto [end, ec] = std::to_chars(code.data(), code.data() + code.size(), res.status);
  out.append(code.data(), end);
  out.push_back(' ');
  if (!res.reason.empty()) {
    AppendHeaderValue(out, res.reason);
  } else {
    auto reason = bhttp::obsolete_reason(bhttp::int_to_status(res.status));
    out.append(reason.data(), reason.size());
  }
  out.append("\r\nServer: pydepot\r\nDate: "sv);
  out.append(HttpDate());
  out.append("\r\n"sv);
  out.append(kSecurityHeaders);
  for (const auto& [name, value] : res.headers) {
    if (beast::iequals(name, "Content-Length"sv) || beast::iequals(name, "Connection"sv)) {
      continue;
    }
    out.append(name);
    out.append(": "sv);
    AppendHeaderValue(out, value);
    out.append("\r\n"sv);
  }
  if (!no_body) {
    out.append("Content-Length: "sv);
    std::array<char, 24> length{};
    auto [lend, lec] =
        std::to_chars(length.data(), length.data() + length.size(), res.ContentLength());
    out.append(length.data(), lend);
    out.append("\r\n"sv);
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n"sv);
  } else if (http10) {
    out.append("Connection: keep-alive\r\n"sv);
  }
  out.append("\r\n"sv);
}

std::string ForwardedClientAddress(std::string_view peer, const RequestHead& head,
                                   const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&](const std::string& address) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), address) !=
           trusted_proxies.end();
  };
  std::string client(peer);
  if (!trusted(client)) {
    return client;
  }
  // Right to left over every X-Forwarded-For line (the last line holds the nearest hops).
  for (auto it = head.headers.rbegin(); it != head.headers.rend(); ++it) {
    if (!beast::iequals(it->first, "X-Forwarded-For")) {
      continue;
    }
    std::string_view list = it->second;
    while (true) {
      const std::size_t comma = list.rfind(',');
      const std::string_view entry =
          TrimBlanks(comma == std::string_view::npos ? list : list.substr(comma + 1));
      std::string address = NormalizeAddress(entry);
      if (address.empty()) {
        return client;  // not an address: stop at the last hop we trust
      }
      if (!trusted(address)) {
        return address;
      }
      client = std::move(address);
      if (comma == std::string_view::npos) {
        break;
      }
      list = list.substr(0, comma);
    }
  }
  return client;
}

StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, Handlers& handlers) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.io_threads <= 0) {
    options.io_threads = cores;  // network threads never block: one per core is enough
  }
  if (options.threads <= 0) {
    // Blocking work waits on the store far more than it computes: many threads per core.
    options.threads = std::max(16, 4 * cores);
  }
  const std::size_t descriptors = RaiseDescriptorLimit();
  if (options.max_connections == 0) {
    // A quarter of the descriptors stay for store files, spool files and refusing connections.
    options.max_connections = std::clamp<std::size_t>(descriptors / 4 * 3, 16, 10000);
  }
  for (std::string& proxy : options.trusted_proxies) {
    std::string normalized = NormalizeAddress(proxy);
    if (normalized.empty()) {
      return InvalidArgumentError("trusted proxy '" + proxy + "' is not an IP address");
    }
    proxy = std::move(normalized);
  }
  std::unique_ptr<TlsConfig> tls;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    auto loaded = TlsConfig::Load(options.tls_cert_file, options.tls_key_file);
    if (!loaded.has_value()) {
      return loaded.error();
    }
    tls = *std::move(loaded);
    const TlsCertificateInfo info = tls->info();
    if (info.expired || info.not_yet_valid) {
      ops::Log(ops::Severity::kWarning, "the TLS certificate " + options.tls_cert_file +
                                            (info.expired ? " has expired" : " is not valid yet") +
                                            ": clients will refuse it (" + info.Summary() + ")");
    }
  }
  auto server = std::make_unique<ServerImpl>(std::move(options), handlers, std::move(tls));
  if (Status s = server->Bind(); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace pydepot::http
