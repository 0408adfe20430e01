// The upstream client: libcurl, one easy handle per call (so calls share nothing and the client
// is thread-safe).
//
// Credentials: they are set on a handle only when the request URL's scheme, host and port are
// the index's (UrlOrigin). Redirects are followed by libcurl (CURLOPT_FOLLOWLOCATION, at most
// kMaxRedirects, http and https only), with CURLOPT_UNRESTRICTED_AUTH left off: libcurl then
// sends the Authorization it builds from CURLOPT_USERNAME/PASSWORD only while the host, port
// and scheme equal those of the first request (its allow_auth_to_host(), since 7.83), so a
// redirect to a file host, another port or plain http gets no credentials. client_test checks
// both sides against a server on another port. No Authorization header is ever passed through
// CURLOPT_HTTPHEADER: custom headers follow every redirect.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <openssl/evp.h>

#include "base/hash.h"
#include "base/strings.h"
#include "model/project_name.h"
#include "storage/curl_global.h"
#include "upstream/upstream.h"

#include <curl/curl.h>

namespace pydepot::upstream {
namespace {

constexpr long kMaxRedirects = 10;  // NOLINT(google-runtime-int)
constexpr std::string_view kJsonType = "application/vnd.pypi.simple.v1+json";
constexpr std::string_view kJsonLatestType = "application/vnd.pypi.simple.latest+json";

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    int value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, CurlDeleter>;

struct EvpDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// What one transfer collects in libcurl's callbacks. The body goes to `page` or to `fd` (with
// its sha256), and only for a 200: 404 pages and the like are dropped.
struct Transfer {
  long status = 0;  // NOLINT(google-runtime-int): the final response's, from its status line
  std::string content_type;
  std::string content_encoding;
  std::string etag;
  std::int64_t content_length = -1;

  std::int64_t max_bytes = 0;
  std::int64_t received = 0;
  bool too_large = false;

  std::string* page = nullptr;
  int fd = -1;
  EVP_MD_CTX* sha256 = nullptr;
  int write_errno = 0;  // a failed write(2) to `fd`
};

std::size_t OnHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new response begins (a redirect's target, or after "100 Continue"): only the final
    // response's headers count.
    transfer->status = 0;
    transfer->content_type.clear();
    transfer->content_encoding.clear();
    transfer->etag.clear();
    transfer->content_length = -1;
    std::size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      std::string_view code = line.substr(space + 1, 3);
      std::from_chars(code.data(), code.data() + code.size(), transfer->status);
    }
    return n;
  }
  if (TrimHeaderBlanks(line).empty()) {
    // The end of the head: refuse a body announced too large before reading any of it (a
    // compressed page's length says nothing about its decoded size).
    if (transfer->status == 200 && transfer->content_encoding.empty() &&
        transfer->content_length > transfer->max_bytes) {
      transfer->too_large = true;
      return 0;
    }
    return n;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return n;
  }
  const std::string name = AsciiLower(TrimHeaderBlanks(line.substr(0, colon)));
  const std::string_view value = TrimHeaderBlanks(line.substr(colon + 1));
  if (name == "content-type") {
    transfer->content_type = std::string(value);
  } else if (name == "content-encoding") {
    transfer->content_encoding = AsciiLower(value);
    if (transfer->content_encoding == "identity") {
      transfer->content_encoding.clear();
    }
  } else if (name == "etag") {
    transfer->etag = std::string(value);
  } else if (name == "content-length") {
    std::int64_t length = -1;
    if (std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc()) {
      transfer->content_length = length;
    }
  }
  return n;
}

std::size_t OnWrite(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (transfer->status != 200) {
    return n;  // an error page: not kept
  }
  if (transfer->received + static_cast<std::int64_t>(n) > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  transfer->received += static_cast<std::int64_t>(n);
  if (transfer->page != nullptr) {
    transfer->page->append(data, n);
    return n;
  }
  EVP_DigestUpdate(transfer->sha256, data, n);
  std::size_t done = 0;
  while (done < n) {
    ssize_t written = ::write(transfer->fd, data + done, n - done);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      transfer->write_errno = errno;
      return 0;
    }
    done += static_cast<std::size_t>(written);
  }
  return n;
}

bool IsJsonContentType(std::string_view content_type) {
  const std::string media =
      AsciiLower(TrimHeaderBlanks(content_type.substr(0, content_type.find(';'))));
  return media == kJsonType || media == kJsonLatestType;
}

class CurlClient final : public Client {
 public:
  CurlClient(ClientOptions options, UrlOrigin origin)
      : options_(std::move(options)), origin_(std::move(origin)) {}

  StatusOr<PageFetch> FetchPage(std::string_view normalized_name, std::string_view etag) override {
    if (!model::IsNormalizedProjectName(normalized_name)) {
      return InvalidArgumentError("upstream: not a normalized project name: " +
                                  std::string(normalized_name));
    }
    const std::string url = options_.index_url + std::string(normalized_name) + "/";
    std::string body;
    Transfer transfer;
    transfer.max_bytes = options_.max_page_bytes;
    transfer.page = &body;

    HeaderList headers(
        curl_slist_append(nullptr, "Accept: application/vnd.pypi.simple.v1+json, text/html;q=0.1"));
    // As pip does for index pages: a cache between us and the upstream must revalidate too.
    headers.reset(curl_slist_append(headers.release(), "Cache-Control: max-age=0"));
    if (!etag.empty() && etag.find_first_of("\r\n") == std::string_view::npos) {
      headers.reset(
          curl_slist_append(headers.release(), ("If-None-Match: " + std::string(etag)).c_str()));
    }
    std::string effective_url;
    Status status = Perform(url, headers.get(), transfer, /*page=*/true, effective_url);
    if (!status.ok()) {
      return status;
    }
    PageFetch fetch;
    fetch.url = effective_url;
    fetch.status = static_cast<int>(transfer.status);
    switch (transfer.status) {
      case 200:
        fetch.etag = transfer.etag;
        fetch.body = std::move(body);
        fetch.json = IsJsonContentType(transfer.content_type);
        return fetch;
      case 304:
        fetch.etag = transfer.etag.empty() ? std::string(etag) : transfer.etag;
        return fetch;
      case 404:
        return fetch;
      default:
        return UnavailableError(Describe(effective_url) + ": HTTP " +
                                std::to_string(transfer.status));
    }
  }

  StatusOr<std::string> FetchFile(std::string_view url, const std::filesystem::path& dest,
                                  std::int64_t max_bytes) override {
    if (!HttpOrigin(url)) {
      return InvalidArgumentError("upstream: not an http or https URL: " + RedactUrl(url));
    }
    const int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      return InternalError("upstream: creating " + dest.string() + ": " + std::strerror(errno));
    }
    std::unique_ptr<EVP_MD_CTX, EvpDeleter> sha256(EVP_MD_CTX_new());
    if (sha256 == nullptr || EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr) != 1) {
      ::close(fd);
      return InternalError("upstream: cannot start a sha256 digest");
    }
    Transfer transfer;
    transfer.max_bytes = max_bytes;
    transfer.fd = fd;
    transfer.sha256 = sha256.get();
    std::string effective_url;
    Status status = Perform(std::string(url), nullptr, transfer, /*page=*/false, effective_url);
    if (::close(fd) != 0 && status.ok()) {
      return InternalError("upstream: writing " + dest.string() + ": " + std::strerror(errno));
    }
    if (!status.ok()) {
      return status;
    }
    if (transfer.status == 404 || transfer.status == 410) {
      return NotFoundError(Describe(effective_url) + ": HTTP " + std::to_string(transfer.status));
    }
    if (transfer.status != 200) {
      return UnavailableError(Describe(effective_url) + ": HTTP " +
                              std::to_string(transfer.status));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(sha256.get(), digest, &length) != 1) {
      return InternalError("upstream: cannot finish a sha256 digest");
    }
    return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
  }

  const std::string& index_url() const override { return options_.index_url; }

 private:
  // "upstream https://host/path" for messages (never with credentials).
  static std::string Describe(std::string_view url) { return "upstream " + RedactUrl(url); }

  // Runs one GET of `url`. OK when a response arrived (whatever its status); otherwise the
  // error the contract asks for.
  Status Perform(const std::string& url, curl_slist* headers, Transfer& transfer, bool page,
                 std::string& effective_url) {
    if (CURLcode init = storage::CurlGlobalInit(); init != CURLE_OK) {
      return InternalError(std::string("libcurl init: ") + curl_easy_strerror(init));
    }
    CurlHandle handle(curl_easy_init());
    if (handle == nullptr) {
      return InternalError("libcurl: curl_easy_init failed");
    }
    CURL* h = handle.get();
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
    if (!options_.user.empty() && HttpOrigin(url) == origin_) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));  // NOLINT
      curl_easy_setopt(h, CURLOPT_USERNAME, options_.user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, options_.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options_.connect_timeout.count()));  // NOLINT
    if (page) {
      curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout.count()));  // NOLINT
      curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // any encoding libcurl can decode
    } else {
      // Files are any size: no deadline for the whole, but one that stalls for `timeout` fails.
      // No Accept-Encoding: the bytes hashed must be the file's own.
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                       static_cast<long>(options_.timeout.count()));  // NOLINT
    }
    if (headers != nullptr) {
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnWrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);

    const CURLcode code = curl_easy_perform(h);
    char* final_url = nullptr;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &final_url);
    // libcurl writes the credentials into the effective URL after a redirect on the same
    // origin ("http://user:pw@host/..."): they must not reach a PageFetch or a message.
    effective_url = RedactUrl(final_url != nullptr ? std::string_view(final_url) : url);
    if (code == CURLE_OK) {
      return OkStatus();
    }
    const std::string where = Describe(effective_url);
    if (transfer.too_large) {
      if (page) {
        return UnavailableError(where + ": page larger than " + std::to_string(transfer.max_bytes) +
                                " bytes");
      }
      return ResourceExhaustedError(where + ": file larger than " +
                                    std::to_string(transfer.max_bytes) + " bytes");
    }
    if (transfer.write_errno != 0) {
      return InternalError(where +
                           ": writing the download: " + std::strerror(transfer.write_errno));
    }
    std::string what = curl_easy_strerror(code);
    if (error[0] != '\0') {
      what += " (";
      what += TrimHeaderBlanks(error);
      what += ")";
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      what = "timed out: " + what;
    }
    return UnavailableError(where + ": " + what);
  }

  ClientOptions options_;
  UrlOrigin origin_;
};

}  // namespace

StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  std::string& url = options.index_url;
  const std::optional<UrlOrigin> origin = HttpOrigin(url);
  if (!origin) {
    return InvalidArgumentError("upstream index URL must be an http or https URL with a host: " +
                                RedactUrl(url));
  }
  if (url.find_first_of("?#") != std::string::npos) {
    return InvalidArgumentError("upstream index URL must not have a query or fragment: " +
                                RedactUrl(url));
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      return InvalidArgumentError("upstream index URL has a space, control or non-ASCII byte");
    }
  }
  // Credentials in the URL: taken out, and used when none were given separately.
  const std::size_t authority = url.find("//") + 2;
  const std::size_t path = url.find('/', authority);
  const std::size_t at = url.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= authority) {
    const std::string_view userinfo = std::string_view(url).substr(authority, at - authority);
    if (options.user.empty()) {
      const std::size_t colon = userinfo.find(':');
      options.user = PercentDecode(userinfo.substr(0, colon));
      options.password =
          colon == std::string_view::npos ? "" : PercentDecode(userinfo.substr(colon + 1));
    }
    url.erase(authority, at + 1 - authority);
  }
  if (!url.ends_with('/')) {
    url.push_back('/');
  }
  if (options.max_page_bytes <= 0) {
    return InvalidArgumentError("upstream: max_page_bytes must be positive");
  }
  if (CURLcode init = storage::CurlGlobalInit(); init != CURLE_OK) {
    return InternalError(std::string("libcurl init: ") + curl_easy_strerror(init));
  }
  return std::unique_ptr<Client>(new CurlClient(std::move(options), *origin));
}

}  // namespace pydepot::upstream
