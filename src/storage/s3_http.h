// A small blocking HTTP client on libcurl for the S3 backend and its credential sources: one
// request in, one response out, bodies from memory or from a range of a file. Easy handles are
// pooled and each keeps its connection, so consecutive requests reuse warm connections; DNS
// answers and TLS sessions are shared by every request of one client (a CURLSH with its locks).
// The connection cache is not shared: libcurl does not support that across threads. TLS is
// always verified.
// Thread-safe: any number of threads may call Send at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pydepot::storage::s3 {

// Where a request body comes from: `bytes`, or `length` bytes of the open file `fd` from
// `offset` (read with pread, so one descriptor may serve several requests).
struct HttpBody {
  std::string_view bytes;
  int fd = -1;
  std::int64_t offset = 0;
  std::int64_t length = 0;

  std::int64_t size() const { return fd >= 0 ? length : static_cast<std::int64_t>(bytes.size()); }
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers{};
  HttpBody body{};  // sent for PUT and POST (possibly empty)
  std::chrono::milliseconds connect_timeout{10000};
  // Whole request; zero means none (a stalled transfer still ends by the low-speed limit).
  std::chrono::milliseconds total_timeout{0};
  // Responses whose body would exceed this fail with kInternal.
  std::size_t max_response_bytes = std::numeric_limits<std::size_t>::max();
  // Talk to the host directly, ignoring http_proxy and friends (metadata services).
  bool no_proxy = false;
};

struct HttpResponse {
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  // Header names are lowercased; the last occurrence wins in Header().
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> Header(std::string_view lowercase_name) const;
};

struct HttpClientOptions {
  std::string ca_bundle;  // a PEM file to trust instead of the system store (AWS_CA_BUNDLE)
  // A transfer slower than this many bytes per second for low_speed_time fails.
  long low_speed_limit = 1;  // NOLINT(google-runtime-int)
  std::chrono::seconds low_speed_time{60};
};

class HttpClient {
 public:
  static StatusOr<std::shared_ptr<HttpClient>> Create(HttpClientOptions options);

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) = delete;
  HttpClient& operator=(HttpClient&&) = delete;
  ~HttpClient();

  // Sends `request` and reads the whole response. Any HTTP status is a response; kUnavailable
  // when no response arrived (connect, TLS, timeouts, resets), kInternal when the body file could
  // not be read or the response was too large.
  StatusOr<HttpResponse> Send(const HttpRequest& request);

 private:
  struct Shared;
  explicit HttpClient(std::unique_ptr<Shared> shared);
  std::unique_ptr<Shared> shared_;
};

}  // namespace pydepot::storage::s3
