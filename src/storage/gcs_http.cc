#include "storage/gcs_http.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include <boost/json.hpp>

#include "base/strings.h"
#include "storage/curl_global.h"

#include <curl/curl.h>

namespace pydepot::storage::gcs {
namespace {

constexpr long kConnectTimeoutSeconds = 10;  // NOLINT(google-runtime-int)
// A transfer below 1 byte/s for this long has stalled.
constexpr long kStallSeconds = 60;  // NOLINT(google-runtime-int)

// The URL without its query, for messages: session URIs carry their upload id there.
std::string_view WithoutQuery(std::string_view url) { return url.substr(0, url.find('?')); }

// What one transfer needs in libcurl's callbacks.
struct Transfer {
  const HttpRequest* request = nullptr;
  std::size_t body_offset = 0;
  Status reader_error;
  HttpResponse response;
};

std::size_t OnWrite(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  transfer->response.body.append(data, size * count);
  return size * count;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response begins (after a "100 Continue", say): keep only the final one's headers.
    transfer->response.headers.clear();
    return size * count;
  }
  std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response.headers.emplace_back(AsciiLower(TrimHeaderBlanks(line.substr(0, colon))),
                                            std::string(TrimHeaderBlanks(line.substr(colon + 1))));
  }
  return size * count;
}

std::size_t OnRead(char* buf, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const HttpRequest& request = *transfer->request;
  std::size_t n = size * count;
  if (request.body_reader) {
    StatusOr<std::size_t> got = request.body_reader(buf, n);
    if (!got.has_value()) {
      transfer->reader_error = got.error();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  std::size_t left = request.body.size() - transfer->body_offset;
  std::size_t take = std::min(n, left);
  std::memcpy(buf, request.body.data() + transfer->body_offset, take);
  transfer->body_offset += take;
  return take;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
// Idle handles kept for reuse (each with its connections); more concurrent requests than this
// still work, their handles are closed afterwards.
constexpr std::size_t kMaxIdleHandles = 16;

}  // namespace

struct HttpClient::Share {
  CURLSH* handle = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  // Idle easy handles. Each keeps its own open connections, so taking one back reuses them;
  // libcurl's shared connection cache is not safe across concurrent threads (curl_share_setopt:
  // CURL_LOCK_DATA_CONNECT), so only DNS and TLS sessions are shared.
  std::mutex pool_mu;
  std::vector<CURL*> idle;

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!idle.empty()) {
        CURL* easy = idle.back();
        idle.pop_back();
        return easy;  // reset when released: options gone, connections and caches kept
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* easy) {
    curl_easy_reset(easy);  // drop pointers into the finished request
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (idle.size() < kMaxIdleHandles) {
        idle.push_back(easy);
        return;
      }
    }
    curl_easy_cleanup(easy);
  }

  static void Lock(CURL* /*easy*/, curl_lock_data data, curl_lock_access /*access*/, void* user) {
    static_cast<Share*>(user)->locks.at(static_cast<std::size_t>(data)).lock();
  }
  static void Unlock(CURL* /*easy*/, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->locks.at(static_cast<std::size_t>(data)).unlock();
  }
};

HttpClient::HttpClient() : share_(std::make_unique<Share>()) {
  if (CurlGlobalInit() != CURLE_OK) {
    return;  // Send reports it
  }
  share_->handle = curl_share_init();
  if (share_->handle == nullptr) {
    return;
  }
  curl_share_setopt(share_->handle, CURLSHOPT_LOCKFUNC, &Share::Lock);
  curl_share_setopt(share_->handle, CURLSHOPT_UNLOCKFUNC, &Share::Unlock);
  curl_share_setopt(share_->handle, CURLSHOPT_USERDATA, share_.get());
  curl_share_setopt(share_->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

HttpClient::~HttpClient() {
  for (CURL* easy : share_->idle) {
    curl_easy_cleanup(easy);
  }
  if (share_->handle != nullptr) {
    curl_share_cleanup(share_->handle);
  }
}

StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  std::string what = request.method + " " + std::string(WithoutQuery(request.url));
  if (share_->handle == nullptr) {
    return InternalError(what + ": libcurl could not be initialised");
  }
  CURL* h = share_->Acquire();
  if (h == nullptr) {
    return InternalError(what + ": curl_easy_init failed");
  }
  // Back to the pool however this ends.
  std::unique_ptr<CURL, std::function<void(CURL*)>> easy(h,
                                                         [this](CURL* e) { share_->Release(e); });
  Transfer transfer;
  transfer.request = &request;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& header) {
    headers.reset(curl_slist_append(headers.release(), header.c_str()));
  };
  for (const std::string& header : request.headers) {
    add_header(header);
  }
  add_header("Expect:");  // no 100-continue round trip

  curl_easy_setopt(h, CURLOPT_SHARE, share_->handle);
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  if (request.timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));  // NOLINT
  }
  if (request.no_proxy) {
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  }
  curl_easy_setopt(h, CURLOPT_USERAGENT, "pydepot (gcs)");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);

  auto body_size =
      static_cast<curl_off_t>(request.body_reader ? request.body_size : request.body.size());
  if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, body_size);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, body_size);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  CURLcode code = curl_easy_perform(h);
  if (!transfer.reader_error.ok()) {
    return transfer.reader_error;
  }
  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(code);
    return UnavailableError(what + ": " + std::string(TrimHeaderBlanks(detail)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  return std::move(transfer.response);
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return {};
}

bool IsRetryableStatus(long status) {  // NOLINT(google-runtime-int)
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

void Backoff(const RetryPolicy& policy, int retry) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto cap = policy.initial_backoff;
  for (int i = 1; i < retry && cap < policy.max_backoff; ++i) {
    cap *= 2;
  }
  cap = std::min(cap, policy.max_backoff);
  std::uniform_int_distribution<std::int64_t> pick(cap.count() / 2,
                                                   std::max<std::int64_t>(cap.count(), 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(pick(random)));
}

StatusOr<RetriedResponse> SendWithRetry(HttpClient& client,
                                        const std::function<StatusOr<HttpRequest>()>& make,
                                        const RetryPolicy& policy, bool idempotent) {
  int max_attempts = idempotent ? std::max(policy.max_attempts, 1) : 1;
  Status last_error;
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) {
      Backoff(policy, attempt - 1);
    }
    StatusOr<HttpRequest> request = make();
    if (!request.has_value()) {
      return request.error();
    }
    StatusOr<HttpResponse> response = client.Send(*request);
    if (response.has_value()) {
      if (!IsRetryableStatus(response->status) || attempt >= max_attempts) {
        return RetriedResponse{*std::move(response), attempt};
      }
      continue;
    }
    if (response.error().code() != StatusCode::kUnavailable) {
      return response.error();  // a body reader's error: not the network's
    }
    if (attempt >= max_attempts) {
      std::string suffix =
          attempt > 1 ? " (after " + std::to_string(attempt) + " attempts)" : std::string();
      return UnavailableError(response.error().message() + suffix);
    }
  }
}

Status HttpError(std::string_view what, const HttpResponse& response) {
  std::string message;
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(response.body, ec);
  if (!ec && json.is_object()) {
    const boost::json::object& object = json.get_object();
    if (const boost::json::value* error = object.if_contains("error")) {
      if (error->is_object()) {  // the JSON API: {"error": {"code": 403, "message": "..."}}
        if (const boost::json::value* text = error->get_object().if_contains("message");
            text != nullptr && text->is_string()) {
          message = text->get_string();
        }
      } else if (error->is_string()) {  // OAuth2: {"error": "invalid_grant", ...}
        message = error->get_string();
        if (const boost::json::value* text = object.if_contains("error_description");
            text != nullptr && text->is_string()) {
          message += ": " + std::string(text->get_string());
        }
      }
    }
  }
  if (message.empty()) {
    message = response.body.substr(0, 200);
    for (char& c : message) {
      if (c == '\n' || c == '\r') {
        c = ' ';
      }
    }
  }
  std::string text = std::string(what) + ": HTTP " + std::to_string(response.status) +
                     (message.empty() ? std::string() : " " + message);
  long status = response.status;  // NOLINT(google-runtime-int)
  if (status == 401 || status == 403) {
    return PermissionDeniedError(std::move(text));
  }
  if (status == 404) {
    return NotFoundError(std::move(text));
  }
  if (status == 412) {
    return FailedPreconditionError(std::move(text));
  }
  if (IsRetryableStatus(status)) {
    return UnavailableError(std::move(text));
  }
  if (status == 400) {
    return InvalidArgumentError(std::move(text));
  }
  return InternalError(std::move(text));
}

}  // namespace pydepot::storage::gcs
