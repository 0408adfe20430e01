// The HTTP layer of the GCS backend: a small blocking client over libcurl, retries with
// exponential backoff, and the mapping of GCS error answers to Status codes. Internal to
// src/storage (storage_gcs.cc and gcs_auth.cc use it; tests include it).
//
// HttpClient keeps a pool of libcurl handles, each with its open connections, so requests from
// any thread reuse connections, and shares DNS answers and TLS sessions between them through a
// locked libcurl share. TLS certificates and host names are always verified; connecting times
// out after 10 s; a transfer that moves no byte for 60 s fails. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace pydepot::storage::gcs {

// Supplies a request body piece by piece: fills up to `n` bytes of `buf` and returns how many
// (0 only at the end). An error aborts the request and is returned by Send.
using BodyReader = std::function<StatusOr<std::size_t>(char* buf, std::size_t n)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // The body, when `body_reader` is empty. Sent with Content-Length for POST and PUT.
  std::string body;
  // A streamed body of exactly `body_size` bytes (then `body` is ignored).
  BodyReader body_reader;
  std::int64_t body_size = 0;
  // Limit on the whole exchange; zero means none (big transfers rely on the stall limit).
  std::chrono::seconds timeout{0};
  // Never through a proxy (http_proxy and friends are honoured otherwise): for the metadata
  // server, which is only reachable directly.
  bool no_proxy = false;
};

struct HttpResponse {
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  // Of the final response only (not of a "100 Continue"); names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of header `name` (lower case), or "" when absent.
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) = delete;
  HttpClient& operator=(HttpClient&&) = delete;

  // Sends one request and returns whatever HTTP answer came back (a 404 or 503 is a response,
  // not an error). Transport failures (refused, reset, timed out, DNS, TLS) are kUnavailable;
  // a body reader's error is returned as it is.
  StatusOr<HttpResponse> Send(const HttpRequest& request);

 private:
  struct Share;
  std::unique_ptr<Share> share_;
};

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{8000};
};

// True for answers worth retrying: 408, 429 and 5xx.
bool IsRetryableStatus(long status);  // NOLINT(google-runtime-int)

// Sleeps before retry number `retry` (1 for the first retry): a random time between half and
// all of initial_backoff * 2^(retry-1), capped at max_backoff.
void Backoff(const RetryPolicy& policy, int retry);

struct RetriedResponse {
  HttpResponse response;
  int attempts = 0;  // requests sent; above 1, an earlier one may have taken effect unseen
};

// Sends the request `make` builds (called again for every attempt, so streamed bodies start
// over) until the answer is not retryable or the policy's attempts are spent; transport errors
// are retried as well. A request that is not `idempotent` is sent once. The last answer is
// returned even when it is retryable (map it with HttpError); when every attempt failed in
// transport, that kUnavailable error.
StatusOr<RetriedResponse> SendWithRetry(HttpClient& client,
                                        const std::function<StatusOr<HttpRequest>()>& make,
                                        const RetryPolicy& policy, bool idempotent);

// The Status for a GCS (or OAuth2) error answer: 401 and 403 kPermissionDenied, 404 kNotFound,
// 412 kFailedPrecondition, 408, 429 and 5xx kUnavailable, 400 kInvalidArgument, anything else
// kInternal. The message is "<what>: <status> <the server's message>", the server's message
// taken from a JSON error body when there is one.
Status HttpError(std::string_view what, const HttpResponse& response);

}  // namespace pydepot::storage::gcs
