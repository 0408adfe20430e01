// HTTP/2 over cleartext TCP with prior knowledge (h2c, RFC 9113 section 3.3) on the HTTP/1.1
// port: a connection whose first bytes are the HTTP/2 connection preface is served by an
// nghttp2 server session (framing, HPACK, flow control) instead of the HTTP/1.1 parser. This is
// what Cloud Run sends with "end-to-end HTTP/2", which lifts its 32 MiB cap on request bodies
// (docs/deploy.md). There is no HTTP/1.1 "Upgrade: h2c" and no TLS/ALPN.
//
// Each stream becomes a RequestHead handled exactly as an HTTP/1.1 request: uploads stream
// their DATA through BeginUpload/FeedUpload/FinishUpload on the blocking pool, small form and
// API bodies are collected into RequestHead::body, everything else goes through
// TryHandleInMemory and then Handle on the pool. Streams of one connection are handled
// concurrently (each in a coroutine on the connection's strand; every nghttp2 call runs there).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "http/handlers.h"
#include "http/server.h"

namespace pydepot::http {

// The client connection preface (RFC 9113 section 3.4).
inline constexpr std::string_view kH2cPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch { kNo, kPartial, kYes };
// kYes when `bytes` start with the whole preface, kPartial when they are a shorter prefix of it
// (more bytes must be read to decide), kNo otherwise.
PrefaceMatch MatchH2cPreface(std::string_view bytes);

// What an h2c connection needs from the server that accepted it.
struct H2cContext {
  Handlers& handlers;
  const ServerOptions& options;
  boost::asio::thread_pool& pool;  // blocking work, as for HTTP/1.1
  std::string remote;              // the socket's peer address
  bool trusted_peer = false;       // a trusted proxy: X-Forwarded-For/-Proto are believed
  // Set when a graceful shutdown begins: the connection sends GOAWAY (no new streams), lets the
  // streams under way finish, and ends.
  const std::atomic<bool>& stopping;
  // The security headers every response carries, as HTTP/1.1 lines ("Name: value\r\n").
  std::string_view security_headers;
  // Records one answered request (metrics and the access log); may be empty.
  std::function<void(const RequestHead&, const Response&, std::string_view request_id,
                     std::chrono::steady_clock::time_point started, bool written)>
      record;
  // Called once the connection is known to be h2c, before it is served: the caller drops the
  // read deadline of its own watchdog (an h2c connection keeps its own deadlines).
  std::function<void()> on_start;
};

// If the connection's first bytes (in `buffer`; more are read while they are a strict prefix
// of the preface) are the HTTP/2 preface, serves the connection as HTTP/2 until it ends and
// returns true. Otherwise returns false and leaves every byte read in `buffer` for the
// HTTP/1.1 parser. Runs on the connection's strand (the socket's executor).
//
// Limits (ServerOptions): SETTINGS_MAX_CONCURRENT_STREAMS 100; a header block above
// max_header_bytes is 431, a :path above max_target_bytes 414; upload bodies are capped by the
// handlers (413); an upload stream sending nothing for body_timeout is answered 408; a
// connection with no stream open and nothing received for idle_timeout is closed with GOAWAY,
// one with streams open but no byte moving either way (and no handler at work) for
// body_timeout is closed. Flow control keeps memory flat: a request body is acknowledged
// (WINDOW_UPDATE) only as the handlers consume it, so an upload buffers at most 4 MiB and a
// connection at most 16 MiB.
boost::asio::awaitable<bool> MaybeServeH2c(boost::asio::ip::tcp::socket& socket,
                                           boost::beast::flat_buffer& buffer,
                                           const H2cContext& context);

}  // namespace pydepot::http
