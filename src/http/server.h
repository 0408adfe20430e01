// The HTTP/1.1 front: an acceptor and one coroutine per connection (the only coroutine code),
// reading request heads, streaming upload bodies into the handlers, and writing responses with
// explicit limits (header size, body size, timeouts). Handlers do the rest without sockets.
// Start/Run/Stop may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/handlers.h"

namespace pydepot::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port
  int io_threads = 0;         // network threads, which never block (0: one per core)
  int threads = 0;  // blocking threads: storage calls, password hashes (0: 4 per core, >= 16)
  std::size_t max_header_bytes = 16 * 1024;
  std::int64_t max_body_bytes = (std::int64_t{1} << 30) + (1 << 20);
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds body_timeout{120};  // between two body reads, and for each write
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

  // Serves until Stop() or SIGINT/SIGTERM; returns when every thread has finished.
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

}  // namespace pydepot::http
