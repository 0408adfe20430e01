#include "http/server.h"

#include <algorithm>
#include <array>
#include <iostream>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
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
constexpr auto kTuple = asio::as_tuple(use_awaitable);

constexpr std::size_t kChunkBytes = 256 * 1024;

RequestHead MakeHead(const bhttp::request_parser<bhttp::buffer_body>& parser,
                     const std::string& remote) {
  const auto& req = parser.get();
  RequestHead head;
  head.method = std::string(req.method_string());
  head.target = std::string(req.target());
  head.remote_address = remote;
  for (const auto& field : req) {
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return head;
}

// Writes `res`: the head through Beast's serializer, then the body bytes.
awaitable<bool> WriteResponse(beast::tcp_stream& stream, Response& res, bool keep_alive,
                              std::chrono::seconds timeout) {
  bhttp::response<bhttp::empty_body> header;
  header.version(11);
  header.result(res.status);
  if (!res.reason.empty()) {
    header.reason(res.reason);
  }
  header.set(bhttp::field::server, "pydepot");
  for (const auto& [name, value] : res.headers) {
    if (!beast::iequals(name, "Content-Length")) {
      header.set(name, value);
    }
  }
  const bool no_body =
      res.status == 304 || res.status == 204 || (res.status >= 100 && res.status < 200);
  const std::int64_t length = res.ContentLength();
  if (!no_body) {
    header.content_length(static_cast<std::uint64_t>(length));
  }
  header.keep_alive(keep_alive && !res.close);

  bhttp::response_serializer<bhttp::empty_body> serializer(header);
  stream.expires_after(timeout);
  auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, kTuple);
  if (ec) {
    co_return false;
  }
  if (no_body || res.head_only || length == 0) {
    co_return true;
  }
  if (res.stream) {
    std::vector<char> buffer(kChunkBytes);
    std::int64_t left = res.stream_length;
    while (left > 0) {
      auto got = res.stream->Read(
          buffer.data(), static_cast<std::size_t>(std::min<std::int64_t>(left, kChunkBytes)));
      if (!got.has_value() || *got == 0) {
        co_return false;  // the length is promised: a short body must end the connection
      }
      stream.expires_after(timeout);
      auto [wec, wn] =
          co_await asio::async_write(stream, asio::buffer(buffer.data(), *got), kTuple);
      if (wec) {
        co_return false;
      }
      left -= static_cast<std::int64_t>(*got);
    }
    co_return true;
  }
  std::string_view body = res.page_owner ? res.page : std::string_view(res.body);
  stream.expires_after(timeout);
  auto [wec, wn] =
      co_await asio::async_write(stream, asio::buffer(body.data(), body.size()), kTuple);
  co_return !wec;
}

awaitable<void> Session(tcp::socket socket, Handlers& handlers, ServerOptions options) {
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
  std::vector<char> chunk(kChunkBytes);
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
      co_await WriteResponse(stream, bad, false, options.header_timeout);
      break;
    }
    RequestHead head = MakeHead(parser, remote);
    const bool keep_alive = parser.get().keep_alive();
    Response res;
    parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
    if (Handlers::IsUpload(head)) {
      auto start = handlers.BeginUpload(head);
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
        bool failed = false;
        while (!parser.is_done()) {
          parser.get().body().data = chunk.data();
          parser.get().body().size = chunk.size();
          stream.expires_after(options.body_timeout);
          auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
          if (bec == bhttp::error::need_buffer) {
            bec = {};
          }
          std::size_t got = chunk.size() - parser.get().body().size;
          if (got > 0) {
            if (auto refused = handlers.FeedUpload(*start.body, {chunk.data(), got})) {
              res = std::move(*refused);
              res.close = true;
              failed = true;
              break;
            }
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
          res = handlers.FinishUpload(*start.body, head);
        }
      }
    } else {
      res = handlers.Handle(head);
      if (!parser.is_done()) {
        // A body we do not read: the connection cannot be reused.
        res.close = true;
      }
    }
    const bool ok = co_await WriteResponse(stream, res, keep_alive, options.body_timeout);
    if (!ok || res.close || !keep_alive) {
      break;
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> Listen(tcp::acceptor& acceptor, Handlers& handlers, ServerOptions options) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), Session(std::move(socket), handlers, options),
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
        io_(std::max(1, options_.threads)),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM) {}

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
    asio::co_spawn(io_, Listen(acceptor_, handlers_, options_), asio::detached);
    std::vector<std::thread> threads;
    for (int i = 1; i < options_.threads; ++i) {
      threads.emplace_back([this] { io_.run(); });
    }
    io_.run();
    for (auto& thread : threads) {
      thread.join();
    }
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
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  std::uint16_t port_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, Handlers& handlers) {
  if (options.threads <= 0) {
    // Handlers may block on storage; a few threads per core keep requests flowing meanwhile.
    options.threads = static_cast<int>(std::max(4u, 4 * std::thread::hardware_concurrency()));
  }
  auto server = std::make_unique<ServerImpl>(std::move(options), handlers);
  if (Status s = server->Bind(); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace pydepot::http
