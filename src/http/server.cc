#include "http/server.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <iostream>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace pydepot::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

constexpr std::size_t kChunkBytes = 256 * 1024;

RequestHead MakeHead(const bhttp::request_parser<bhttp::buffer_body>& parser,
                     const std::string& remote) {
  const auto& req = parser.get();
  RequestHead head;
  head.method = std::string(req.method_string());
  head.target = std::string(req.target());
  head.remote_address = remote;
  head.headers.reserve(8);
  for (const auto& field : req) {
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return head;
}

// Runs `fn` on the blocking pool and resumes the calling coroutine on its own executor with the
// result: storage round trips, password hashes and upload hashing never hold a network thread.
template <typename F>
awaitable<std::invoke_result_t<F&>> OnPool(asio::thread_pool& pool, F fn) {
  using Result = std::invoke_result_t<F&>;
  co_return co_await asio::co_spawn(
      pool, [&fn]() -> awaitable<Result> { co_return fn(); }, use_awaitable);
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
  // Values are ours, but some quote input (Location): never let one end the header.
  for (char c : value) {
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  }
}

// Writes the status line and headers of `res` into `out` (reused across requests, so a
// response head costs no allocation once the buffer has grown).
void SerializeHead(const Response& res, bool keep_alive, bool http10, bool no_body,
                   std::string& out) {
  out.clear();
  out += "HTTP/1.1 ";
  std::array<char, 8> code{};
  auto [end, ec] = std::to_chars(code.data(), code.data() + code.size(), res.status);
  out.append(code.data(), end);
  out += ' ';
  if (!res.reason.empty()) {
    AppendHeaderValue(out, res.reason);
  } else {
    auto reason = bhttp::obsolete_reason(bhttp::int_to_status(res.status));
    out.append(reason.data(), reason.size());
  }
  out += "\r\nServer: pydepot\r\nDate: ";
  out += HttpDate();
  out += "\r\n";
  for (const auto& [name, value] : res.headers) {
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Connection")) {
      continue;
    }
    out += name;
    out += ": ";
    AppendHeaderValue(out, value);
    out += "\r\n";
  }
  if (!no_body) {
    out += "Content-Length: ";
    std::array<char, 24> length{};
    auto [lend, lec] =
        std::to_chars(length.data(), length.data() + length.size(), res.ContentLength());
    out.append(length.data(), lend);
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

// Waits until the socket can take more bytes, or `timeout` passes (false).
awaitable<bool> WaitWritable(tcp::socket& socket, std::chrono::seconds timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto result =
      co_await (socket.async_wait(tcp::socket::wait_write, kTuple) || timer.async_wait(kTuple));
  if (result.index() != 0) {
    co_return false;
  }
  auto [ec] = std::get<0>(result);
  co_return !ec;
}

// Sends `length` bytes of `fd` from `offset` with sendfile(2): the kernel copies from the page
// cache to the socket, the bytes never enter this process.
awaitable<bool> SendFile(beast::tcp_stream& stream, int fd, std::int64_t offset,
                         std::int64_t length, std::chrono::seconds timeout) {
  tcp::socket& socket = stream.socket();
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
    if (!co_await WaitWritable(socket, timeout)) {
      co_return false;
    }
  }
  co_return true;
}

// Writes `res`: the head and an in-memory body in one gathered write, a local file with
// sendfile, a store stream in chunks read on the blocking pool.
awaitable<bool> WriteResponse(beast::tcp_stream& stream, Response& res, bool keep_alive,
                              bool http10, std::chrono::seconds timeout, std::string& head_buffer,
                              asio::thread_pool& pool) {
  const bool no_body =
      res.status == 304 || res.status == 204 || (res.status >= 100 && res.status < 200);
  keep_alive = keep_alive && !res.close;
  SerializeHead(res, keep_alive, http10, no_body, head_buffer);
  const std::int64_t length = no_body ? 0 : res.ContentLength();
  const bool inline_body = !res.head_only && length > 0 && !res.stream && !res.file.valid();
  std::string_view body;
  if (inline_body) {
    body = res.page_owner ? res.page : std::string_view(res.body);
  }
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_buffer),
                                            asio::buffer(body.data(), body.size())};
  stream.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, buffers, kTuple);
  if (ec) {
    co_return false;
  }
  if (no_body || res.head_only || length == 0 || inline_body) {
    co_return true;
  }
  if (res.file.valid()) {
    co_return co_await SendFile(stream, res.file.get(), res.file_offset, res.stream_length,
                                timeout);
  }
  std::vector<char> buffer(kChunkBytes);
  std::int64_t left = res.stream_length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(left, kChunkBytes));
    auto got = co_await OnPool(pool, [&] { return res.stream->Read(buffer.data(), want); });
    if (!got.has_value() || *got == 0) {
      co_return false;  // the length is promised: a short body must end the connection
    }
    stream.expires_after(timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(buffer.data(), *got), kTuple);
    if (wec) {
      co_return false;
    }
    left -= static_cast<std::int64_t>(*got);
  }
  co_return true;
}

struct Shared {
  Handlers& handlers;
  ServerOptions options;
  asio::thread_pool& pool;
};

awaitable<void> Session(tcp::socket socket, Shared& shared) {
  Handlers& handlers = shared.handlers;
  const ServerOptions& options = shared.options;
  std::string remote;
  {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (!ec) {
      remote = endpoint.address().to_string();
    }
  }
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  std::array<std::vector<char>, 2> chunks;  // upload body chunks, allocated by the first upload
  std::string head_buffer;
  head_buffer.reserve(1024);
  while (true) {
    bhttp::request_parser<bhttp::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    // No body limit while the head is read: Beast would refuse a large Content-Length as a
    // parse error, and the handlers answer that with a proper 413 (or read no body at all).
    parser.body_limit(boost::none);
    stream.expires_after(options.header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::eof || ec == asio::error::connection_reset) {
        break;
      }
      // A malformed head: answer once, then drop the connection.
      Response bad =
          ErrorResponse(ec == bhttp::error::header_limit ? 431 : 400,
                        ec == bhttp::error::header_limit ? "Request header fields too large."
                                                         : "Malformed HTTP request.");
      bad.close = true;
      co_await WriteResponse(stream, bad, false, false, options.header_timeout, head_buffer,
                             shared.pool);
      break;
    }
    RequestHead head = MakeHead(parser, remote);
    const bool keep_alive = parser.get().keep_alive();
    const bool http10 = parser.get().version() == 10;
    Response res;
    parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
    if (Handlers::IsUpload(head)) {
      auto start = co_await OnPool(shared.pool, [&] { return handlers.BeginUpload(head); });
      if (start.reject) {
        res = std::move(*start.reject);
        res.close = !parser.is_done();
      } else {
        if (beast::iequals(head.Header("Expect"), "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          stream.expires_after(options.body_timeout);
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
          co_return co_await OnPool(shared.pool, [&, index, bytes] {
            return handlers.FeedUpload(*start.body, {chunks[index].data(), bytes});
          });
        };
        auto read = [&](int index) -> awaitable<std::pair<boost::system::error_code, std::size_t>> {
          parser.get().body().data = chunks[index].data();
          parser.get().body().size = kChunkBytes;
          stream.expires_after(options.body_timeout);
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
              res.close = true;
              failed = true;
              break;
            }
            co_return;  // the client went away or stalled: nothing to answer
          }
        }
        if (!failed) {
          res = co_await OnPool(shared.pool,
                                [&] { return handlers.FinishUpload(*start.body, head); });
        }
      }
    } else {
      // Most requests are answered from memory right here; the rest wait on the pool.
      if (auto fast = handlers.TryHandleInMemory(head)) {
        res = *std::move(fast);
      } else {
        res = co_await OnPool(shared.pool, [&] { return handlers.Handle(head); });
      }
      if (!parser.is_done()) {
        // A body we do not read: the connection cannot be reused.
        res.close = true;
      }
    }
    const bool ok = co_await WriteResponse(stream, res, keep_alive, http10, options.body_timeout,
                                           head_buffer, shared.pool);
    if (!ok || res.close || !keep_alive) {
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> Listen(tcp::acceptor& acceptor, Shared& shared) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), Session(std::move(socket), shared),
                   [](const std::exception_ptr& error) {
                     if (error) {
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         std::cerr << "connection error: " << e.what() << "\n";
                       }
                     }
                   });
  }
}

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Handlers& handlers)
      : options_(std::move(options)),
        handlers_(handlers),
        io_(std::max(1, options_.io_threads)),
        pool_(static_cast<std::size_t>(std::max(1, options_.threads))),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        shared_{handlers_, options_, pool_} {}

  Status Bind() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
      return InvalidArgumentError("listen address '" + options_.host + "': " + ec.message());
    }
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return UnavailableError("cannot listen on " + options_.host + ":" +
                              std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return OkStatus();
  }

  std::uint16_t port() const override { return port_; }
  const std::string& host() const override { return options_.host; }

  void Run() override {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) {
        Stop();
      }
    });
    asio::co_spawn(io_, Listen(acceptor_, shared_), asio::detached);
    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) {
      threads.emplace_back([this] { io_.run(); });
    }
    io_.run();
    for (auto& thread : threads) {
      thread.join();
    }
    pool_.stop();
    pool_.join();
  }

  void Stop() override {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      io_.stop();
    });
  }

 private:
  ServerOptions options_;
  Handlers& handlers_;
  asio::io_context io_;
  asio::thread_pool pool_;  // blocking work: storage calls, password hashes, upload hashing
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  Shared shared_;
  std::uint16_t port_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, Handlers& handlers) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.io_threads <= 0) {
    options.io_threads = cores;  // network threads never block: one per core is enough
  }
  if (options.threads <= 0) {
    // Blocking work waits on the store far more than it computes: many threads per core.
    options.threads = std::max(16, 4 * cores);
  }
  auto server = std::make_unique<ServerImpl>(std::move(options), handlers);
  if (Status s = server->Bind(); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace pydepot::http
