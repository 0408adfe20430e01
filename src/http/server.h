// The HTTP/1.1 front: an acceptor and one coroutine per connection (the only coroutine code),
// reading request heads, streaming upload bodies into the handlers, and writing responses with
// explicit limits (header size, body size, timeouts). Handlers do the rest without sockets.
// The main listener speaks plain HTTP/1.1 (and h2c, h2c.h), or HTTPS when TLS files are given
// (tls.h): the same session code, a template on the stream, runs over both.
// Start/Run/Stop may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "http/handlers.h"

namespace pydepot::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port
  int io_threads = 0;         // network threads, which never block (0: one per core)
  int threads = 0;  // blocking threads: storage calls, password hashes (0: 4 per core, >= 16)
  // The request line and headers together; past it, 431 (414 when the request line alone is too
  // long) and close.
  std::size_t max_header_bytes = 16 * 1024;
  // The request target (path and query); past it, 414 and close.
  std::size_t max_target_bytes = 8 * 1024;
  std::int64_t max_body_bytes = (std::int64_t{1} << 30) + (1 << 20);
  // Timeouts. A connection with no request under way (a new one, or one kept alive) is closed
  // after idle_timeout without an answer. Once the first byte of a request arrived, its head
  // must be complete within header_timeout, else 408 and close. A body must keep coming: no
  // byte for body_timeout is 408 and close (nothing is stored); each write must make progress
  // within body_timeout too, else the connection is closed.
  std::chrono::seconds idle_timeout{15};
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds body_timeout{120};
  // Connections open at once, and from one client (an IPv4 address, an IPv6 /64); past either,
  // a new connection is answered 503 with Retry-After and closed. max_connections 0: 10000, or
  // 3/4 of the process's file descriptor limit if that is lower (the soft limit is raised to
  // the hard one at start). max_connections_per_address 0: no per-client limit. Trusted
  // proxies have no per-client limit.
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 512;
  // Peers (IP addresses) whose X-Forwarded-For is believed: a request through one of them comes
  // from the rightmost X-Forwarded-For address that is not itself a trusted proxy. Everyone
  // else's client address is the socket's peer, whatever headers it sends.
  std::vector<std::string> trusted_proxies;
  // Graceful shutdown (SIGTERM, SIGINT or Stop()): the listeners close at once (new connections
  // are refused), idle keep-alive connections are closed, and requests under way may finish
  // (each answered with Connection: close) for at most this long; then the rest are cut.
  std::chrono::seconds shutdown_timeout{30};
  // A second listener that serves only /metrics (without credentials), /healthz and /readyz
  // (--metrics-listen), for a scraper on a private network. metrics_host empty: none.
  std::string metrics_host;
  std::uint16_t metrics_port = 0;  // 0: any free port
  // Native TLS on the main listener (--tls-cert, --tls-key; docs/deploy.md "Native TLS"): the
  // certificate chain (PEM, the leaf first, then intermediates) and its private key (PEM). Both
  // or neither. Read by Create (an error there: nothing listens) and again on SIGHUP or
  // ReloadTls(). The metrics listener stays plain; h2c is served on plain connections only.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  // Binds and listens (not yet serving). kUnavailable when the address cannot be bound.
  // `handlers` must outlive the server.
  static StatusOr<std::unique_ptr<Server>> Create(ServerOptions options, Handlers& handlers);
  virtual ~Server() = default;

  // The bound port (the real one when options.port was 0) and host.
  virtual std::uint16_t port() const = 0;
  virtual const std::string& host() const = 0;
  // The metrics listener's bound port; 0 when there is none.
  virtual std::uint16_t metrics_port() const = 0;
  // True when the main listener speaks TLS; then a one-line description of the certificate in
  // use (subject, names, validity), else "".
  virtual bool tls() const = 0;
  virtual std::string tls_summary() const = 0;

  // Reads the TLS files again, as SIGHUP does: connections accepted from now on use the new
  // certificate and key, open ones keep theirs. On failure the previous ones stay in use and
  // the error is returned (SIGHUP logs it). kFailedPrecondition without TLS.
  virtual Status ReloadTls() = 0;

  // Serves until Stop() or SIGINT/SIGTERM, then shuts down gracefully (see
  // ServerOptions::shutdown_timeout); returns when every thread has finished. SIGHUP meanwhile
  // reloads the TLS files (ReloadTls); without TLS it is logged and ignored.
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

// The client address of `head`, which came from the socket peer `peer`: `peer` itself unless it is
// one of `trusted_proxies` (normalized IP address strings); then the rightmost address of the
// X-Forwarded-For headers (all of them, in order) that is not a trusted proxy. An entry that is
// not an IP address ends the walk: the last trusted hop is used.
std::string ForwardedClientAddress(std::string_view peer, const RequestHead& head,
                                   const std::vector<std::string>& trusted_proxies);

// Writes the status line and headers of `res` into `out`: the response's own headers, Server,
// Date, Content-Length (unless no_body), Connection when needed, and the security headers every
// response carries (nosniff, no framing, no referrer, a Content-Security-Policy that allows
// nothing to load). Exposed for tests.
void SerializeResponseHead(const Response& res, bool keep_alive, bool http10, bool no_body,
                           std::string& out);

}  // namespace pydepot::http
