#include "storage/s3_http.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>

#include "storage/curl_global.h"

#include <curl/curl.h>

namespace pydepot::storage::s3 {
namespace {

// One transfer's state, reached from libcurl's callbacks.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  std::int64_t sent = 0;  // body bytes handed to libcurl
  bool too_large = false;
  int read_errno = 0;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (transfer->response->body.size() + n > transfer->request->max_response_bytes) {
    transfer->too_large = true;
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  transfer->response->body.append(data, n);
  return n;
}

std::size_t WriteHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    transfer->response->headers.clear();  // a 100 Continue or a redirect came first
    return n;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return n;
  }
  std::string name(line.substr(0, colon));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  transfer->response->headers.emplace_back(std::move(name), std::string(value));
  return n;
}

std::size_t ReadBody(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const HttpBody& body = transfer->request->body;
  std::int64_t left = body.size() - transfer->sent;
  auto n = static_cast<std::size_t>(
      std::min<std::int64_t>(left, static_cast<std::int64_t>(size * count)));
  if (n == 0) {
    return 0;
  }
  if (body.fd < 0) {
    std::memcpy(buffer, body.bytes.data() + transfer->sent, n);
    transfer->sent += static_cast<std::int64_t>(n);
    return n;
  }
  while (true) {
    ssize_t got = ::pread(body.fd, buffer, n, body.offset + transfer->sent);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      transfer->read_errno = got < 0 ? errno : EIO;  // a file that shrank is an I/O error
      return CURL_READFUNC_ABORT;
    }
    transfer->sent += got;
    return static_cast<std::size_t>(got);
  }
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || offset > transfer->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  transfer->sent = offset;
  return CURL_SEEKFUNC_OK;
}

void LockShare(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/, void* user);
void UnlockShare(CURL* /*handle*/, curl_lock_data data, void* user);

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view lowercase_name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == lowercase_name) {
      return it->second;
    }
  }
  return std::nullopt;
}

struct HttpClient::Shared {
  HttpClientOptions options;
  CURLSH* share = nullptr;
  // One mutex per kind of shared data libcurl locks.
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  std::mutex pool_mu;
  std::vector<CURL*> pool;  // idle easy handles, guarded by pool_mu

  Shared() = default;
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  Shared(Shared&&) = delete;
  Shared& operator=(Shared&&) = delete;
  ~Shared() {
    for (CURL* handle : pool) {
      curl_easy_cleanup(handle);
    }
    if (share != nullptr) {
      curl_share_cleanup(share);
    }
  }
};

namespace {

void LockShare(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).lock();
}

void UnlockShare(CURL* /*handle*/, curl_lock_data data, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).unlock();
}

}  // namespace

StatusOr<std::shared_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  if (const CURLcode init = CurlGlobalInit(); init != CURLE_OK) {
    return InternalError(std::string("libcurl init: ") + curl_easy_strerror(init));
  }
  auto shared = std::make_unique<Shared>();
  shared->options = std::move(options);
  shared->share = curl_share_init();
  if (shared->share == nullptr) {
    return InternalError("libcurl: curl_share_init failed");
  }
  curl_share_setopt(shared->share, CURLSHOPT_LOCKFUNC, LockShare);
  curl_share_setopt(shared->share, CURLSHOPT_UNLOCKFUNC, UnlockShare);
  curl_share_setopt(shared->share, CURLSHOPT_USERDATA, &shared->locks);
  // Not the connection cache: libcurl does not support sharing it between concurrent threads
  // (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT). Each pooled easy handle keeps its own connection
  // instead, which curl_easy_reset leaves open, so requests still reuse warm connections.
  for (curl_lock_data data : {CURL_LOCK_DATA_DNS, CURL_LOCK_DATA_SSL_SESSION}) {
    curl_share_setopt(shared->share, CURLSHOPT_SHARE, data);
  }
  return std::shared_ptr<HttpClient>(new HttpClient(std::move(shared)));
}

HttpClient::HttpClient(std::unique_ptr<Shared> shared) : shared_(std::move(shared)) {}

HttpClient::~HttpClient() = default;

StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  CURL* handle = nullptr;
  {
    std::lock_guard<std::mutex> lock(shared_->pool_mu);
    if (!shared_->pool.empty()) {
      handle = shared_->pool.back();
      shared_->pool.pop_back();
    }
  }
  if (handle == nullptr) {
    handle = curl_easy_init();
    if (handle == nullptr) {
      return InternalError("libcurl: curl_easy_init failed");
    }
  } else {
    curl_easy_reset(handle);
  }

  HttpResponse response;
  Transfer transfer{&request, &response};
  std::array<char, CURL_ERROR_SIZE> error{};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name;
    line.append(": ").append(value);
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" (a second of waiting on servers that ignore it), and no default
  // Content-Type on POST: both would otherwise be added by libcurl.
  headers = curl_slist_append(headers, "Expect:");
  bool has_content_type = std::any_of(request.headers.begin(), request.headers.end(),
                                      [](const auto& h) { return h.first == "content-type"; });
  if (!has_content_type) {
    headers = curl_slist_append(headers, "Content-Type:");
  }

  curl_easy_setopt(handle, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));  // NOLINT
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request.total_timeout.count()));  // NOLINT
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, shared_->options.low_speed_limit);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(shared_->options.low_speed_time.count()));  // NOLINT
  if (!shared_->options.ca_bundle.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, shared_->options.ca_bundle.c_str());
  }
  if (request.no_proxy) {
    curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  }
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);

  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(handle, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(handle, CURLOPT_SEEKDATA, &transfer);
    if (request.method == "PUT") {
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    } else {
      curl_easy_setopt(handle, CURLOPT_POST, 1L);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  {
    std::lock_guard<std::mutex> lock(shared_->pool_mu);
    shared_->pool.push_back(handle);
  }

  if (code == CURLE_OK) {
    return response;
  }
  std::string what = request.method + " " + request.url.substr(0, request.url.find('?')) + ": ";
  if (transfer.too_large) {
    return InternalError(what + "response larger than " +
                         std::to_string(request.max_response_bytes) + " bytes");
  }
  if (transfer.read_errno != 0) {
    return InternalError(what + "reading the body: " +
                         std::error_code(transfer.read_errno, std::generic_category()).message());
  }
  std::string detail = error[0] != '\0' ? std::string(error.data()) : curl_easy_strerror(code);
  return UnavailableError(what + detail);
}

}  // namespace pydepot::storage::s3
