// OpenS3Storage: Amazon S3 and S3-compatible stores over their REST API (SigV4, libcurl).
//
// Objects live at PREFIX/<key>. Keys too long for S3's 1024-byte names once prefixed live at
// PREFIX/.pydepot/long/<sha256(key)> with the key in x-amz-meta-pydepot-key (List reads it back).
// Names under PREFIX/.pydepot/ are never keys: no key segment starts with '.'.
//
// Etags. S3's ETag is the MD5 of the bytes, so writing "a", "b", "a" would repeat an etag and let
// a stale compare-and-swap through. Every write therefore also stores a random version in
// x-amz-meta-pydepot-version, and our etag is "<S3 ETag>:<version>". PutIfMatch checks the whole
// etag with a HEAD, then sends If-Match with the S3 ETag (unquoted: radosgw matches only that, AWS
// takes both). Between the two, only a write of byte-identical content can slip in, and then the
// read-modify-write the caller did is still correct: it was based on the same bytes.
// x-amz-meta-pydepot-mtime holds the write time in microseconds, so a write knows its own
// modification time without another request.
//
// Bodies are signed with their sha256 (the server checks it: end-to-end integrity). Files are
// hashed in a first pass over the file (or over each part), then streamed from the file.
//
// Create-only. Small objects: PUT with If-None-Match: *. Files above the multipart threshold are
// uploaded in parts, and CompleteMultipartUpload is conditional on AWS but NOT on radosgw, which
// ignores If-None-Match there. So large uploads also take a claim, a small object created
// create-only at PREFIX/.pydepot/claims/<sha256(key)> and renewed by compare-and-swap while the
// upload runs; only the claim holder completes, after checking with HEAD that the key is still
// absent. A create-only PUT that succeeded then waits out any live claim and checks that the
// object is still its own (a multipart Complete can have landed between the holder's HEAD and
// its Complete): if a Complete replaced it, the PUT reports kAlreadyExists. So two writers are
// never both told they won. Residual risk: a claim not renewed for PYDEPOT_S3_CLAIM_STALE_SECONDS
// (600 s) is taken over, so a holder stalled that long between its last renewal and its Complete
// (a frozen process, a Complete request that hangs past the timeout yet lands) could still
// overwrite; on AWS the conditional Complete closes even that.
//
// Retries: GET, HEAD, LIST, DELETE and every conditional PUT are retried (4 attempts, jittered
// exponential backoff) on connection errors, timeouts, 5xx, 429 and S3's RequestTimeout and
// ConditionalRequestConflict. A conditional PUT refused with 412 after an ambiguous attempt asks
// the store whether the object now carries our own random version, which tells exactly whether
// the first attempt landed.

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/check.h"
#include "base/status_macros.h"
#include "storage/s3_credentials.h"
#include "storage/s3_http.h"
#include "storage/s3_signer.h"
#include "storage/s3_storage.h"
#include "storage/storage.h"

#include <pugixml.hpp>

namespace pydepot::storage {
namespace s3 {
namespace {

using Clock = std::chrono::system_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kDefaultMultipartThreshold = 64 * kMiB;
constexpr std::int64_t kDefaultPartSize = 16 * kMiB;
constexpr std::int64_t kMinPartSize = 5 * kMiB;  // S3's minimum for all but the last
constexpr std::int64_t kMaxSinglePut = std::int64_t{5} * 1024 * kMiB;  // S3's maximum PUT
constexpr std::int64_t kMaxParts = 10000;
constexpr std::size_t kMaxObjectName = 1024;
// Open reads this much per ranged GET, so a stream holds at most this much in memory.
constexpr std::int64_t kReadChunk = 8 * kMiB;
constexpr std::size_t kMaxErrorBody = std::size_t{64} * 1024;
constexpr std::int64_t kMaxPresignSeconds = std::int64_t{7} * 24 * 3600;
constexpr std::string_view kPrivateDir = ".pydepot/";
constexpr std::string_view kVersionHeader = "x-amz-meta-pydepot-version";
constexpr std::string_view kMtimeHeader = "x-amz-meta-pydepot-mtime";
constexpr std::string_view kKeyHeader = "x-amz-meta-pydepot-key";
// How long a create-only writer waits for another writer's upload of the same key to finish.
constexpr auto kMaxClaimWait = std::chrono::minutes(30);

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string RandomHex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  PYDEPOT_CHECK(
      RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) == 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

Status CheckKey(std::string_view key) {
  if (!IsValidKey(key)) {
    return InvalidArgumentError("invalid storage key \"" + std::string(key) + "\"");
  }
  return OkStatus();
}

std::string StripEtag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) {
    etag.erase(0, 2);
  }
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

// "<s3 etag>:<version>" -> parts; a foreign object's etag has no version.
std::pair<std::string, std::string> SplitEtag(std::string_view etag) {
  std::size_t colon = etag.rfind(':');
  if (colon == std::string_view::npos) {
    return {std::string(etag), ""};
  }
  return {std::string(etag.substr(0, colon)), std::string(etag.substr(colon + 1))};
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// An RFC 7231 date ("Thu, 26 Nov 2026 03:27:25 GMT") in seconds since the epoch.
std::optional<std::int64_t> ParseHttpDate(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) {
    return std::nullopt;
  }
  std::time_t seconds = timegm(&tm);
  if (seconds == -1) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(seconds);
}

// S3's error document: <Error><Code>..</Code><Message>..</Message></Error>.
struct S3Error {
  std::string code;
  std::string message;
};

S3Error ParseError(std::string_view body) {
  S3Error error;
  pugi::xml_document doc;
  if (body.empty() || !doc.load_buffer(body.data(), body.size())) {
    return error;
  }
  pugi::xml_node root = doc.child("Error");
  error.code = root.child_value("Code");
  error.message = root.child_value("Message");
  return error;
}

// sha256 of `length` bytes of `fd` from `offset`, read with pread.
StatusOr<std::string> HashFileRange(int fd, std::int64_t offset, std::int64_t length,
                                    const std::string& what) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  PYDEPOT_CHECK(ctx != nullptr && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1);
  std::string buffer(static_cast<std::size_t>(std::min<std::int64_t>(length, kMiB)), '\0');
  std::int64_t done = 0;
  while (done < length) {
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(length - done, kMiB));
    ssize_t n = ::pread(fd, buffer.data(), want, offset + done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      return InternalError("reading " + what + ": " +
                           (n == 0 ? std::string("file shrank") : ErrnoMessage(err)));
    }
    PYDEPOT_CHECK(EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n)) == 1);
    done += n;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  PYDEPOT_CHECK(EVP_DigestFinal_ex(ctx.get(), digest.data(), &size) == 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0xf]);
  }
  return hex;
}

// Closes a descriptor on scope exit.
class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  FileCloser(const FileCloser&) = delete;
  FileCloser& operator=(const FileCloser&) = delete;
  FileCloser(FileCloser&&) = delete;
  FileCloser& operator=(FileCloser&&) = delete;
  ~FileCloser() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

 private:
  int fd_;
};

struct Endpoint {
  std::string scheme_and_host;  // "https://bucket.s3.us-east-1.amazonaws.com"
  std::string host;             // the Host header
  std::string bucket_path;      // "" (virtual-hosted) or "/base/bucket" (path-style)
};

StatusOr<Endpoint> MakeEndpoint(const std::string& bucket, const std::string& region,
                                const std::string& endpoint_url) {
  Endpoint out;
  if (endpoint_url.empty()) {
    if (bucket.find('.') == std::string::npos) {
      out.host = bucket + ".s3." + region + ".amazonaws.com";
    } else {
      // Dotted names do not match the *.s3 certificate: path-style on the regional host.
      out.host = "s3." + region + ".amazonaws.com";
      out.bucket_path = "/" + bucket;
    }
    out.scheme_and_host = "https://" + out.host;
    return out;
  }
  std::size_t scheme_end = endpoint_url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : endpoint_url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return InvalidArgumentError("S3 endpoint \"" + endpoint_url +
                                "\" (AWS_ENDPOINT_URL): must start with http:// or https://");
  }
  std::string rest = endpoint_url.substr(scheme_end + 3);
  std::size_t slash = rest.find('/');
  out.host = rest.substr(0, slash);
  std::string base = slash == std::string::npos ? "" : rest.substr(slash);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  if (out.host.empty() || out.host.find_first_of("?#@ ") != std::string::npos ||
      base.find_first_of("?# ") != std::string::npos) {
    return InvalidArgumentError("S3 endpoint \"" + endpoint_url +
                                "\" (AWS_ENDPOINT_URL): expected scheme://host[:port][/path]");
  }
  out.scheme_and_host = scheme + "://" + out.host;
  out.bucket_path = base + "/" + bucket;
  return out;
}

struct Options {
  std::string bucket;
  std::string prefix;  // "" or "a/b/" (with the slash)
  std::string region;
  std::string endpoint_url;  // as configured, for Describe
  Endpoint endpoint;
  std::int64_t multipart_threshold = kDefaultMultipartThreshold;
  std::int64_t part_size = kDefaultPartSize;
  int max_attempts = 4;
  std::chrono::milliseconds retry_delay{100};
  std::chrono::seconds claim_stale_after{600};
};

// One S3 request, before signing.
struct Call {
  std::string op;      // "GetObject", for messages
  std::string what;    // the key or prefix, for messages
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string object;  // full object name, "" for the bucket
  Headers query{};
  Headers headers{};  // lowercase names
  HttpBody body{};
  std::string payload_hash{};  // empty: sha256 of body.bytes
  std::int64_t max_response_bytes = -1;
  std::chrono::milliseconds total_timeout{0};
};

struct Result {
  HttpResponse response;
  // An earlier attempt failed in a way that may have taken effect (the request may have been
  // processed: a lost connection, a timeout, a 5xx).
  bool ambiguous = false;
};

class S3Store;

// Ranged GETs of at most kReadChunk bytes, each checked to come from the version Open saw.
class S3ReadStream final : public ReadStream {
 public:
  S3ReadStream(std::shared_ptr<S3Store> store, std::string key, std::string s3_etag,
               std::int64_t next, std::int64_t end, std::string first_chunk)
      : store_(std::move(store)),
        key_(std::move(key)),
        s3_etag_(std::move(s3_etag)),
        next_(next),
        end_(end),
        buffer_(std::move(first_chunk)) {}

  StatusOr<std::size_t> Read(char* buf, std::size_t n) override;

 private:
  std::shared_ptr<S3Store> store_;
  std::string key_;
  std::string s3_etag_;
  std::int64_t next_;  // object offset of the byte after buffer_
  std::int64_t end_;
  std::string buffer_;
  std::size_t position_ = 0;
};

// The backend itself; S3Storage (below) forwards to it, and read streams share it, so a stream
// may outlive the Storage that opened it. Thread-safe: options are immutable; the HTTP client and
// the credentials provider are thread-safe themselves.
class S3Store final : public std::enable_shared_from_this<S3Store> {
 public:
  S3Store(Options options, std::shared_ptr<HttpClient> http,
          std::shared_ptr<CredentialsProvider> credentials)
      : options_(std::move(options)),
        http_(std::move(http)),
        credentials_(std::move(credentials)) {}

  std::string Describe() const {
    std::string where =
        options_.endpoint_url.empty() ? "AWS " + options_.region : options_.endpoint_url;
    std::string prefix =
        options_.prefix.empty() ? "" : "/" + options_.prefix.substr(0, options_.prefix.size() - 1);
    return "s3://" + options_.bucket + prefix + " at " + where;
  }

  StatusOr<ObjectInfo> Head(std::string_view key) {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    return HeadObject(ObjectName(key), key);
  }

  StatusOr<Object> Get(std::string_view key) {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    Call call{"GetObject", std::string(key), "GET", ObjectName(key)};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status != 200) {
      return ErrorFor(call, result.response);
    }
    PYDEPOT_ASSIGN_OR_RETURN(ObjectInfo info, InfoFrom(call, result.response));
    info.size = static_cast<std::int64_t>(result.response.body.size());
    return Object{std::move(result.response.body), std::move(info)};
  }

  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length);

  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    HttpBody body;
    body.bytes = data;
    return CreateSmall(key, body, Sha256Hex(data));
  }

  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key, const std::filesystem::path& source);

  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag);

  Status Delete(std::string_view key) {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string object = ObjectName(key);
    PYDEPOT_RETURN_IF_ERROR(HeadObject(object, key));
    Call call{"DeleteObject", std::string(key), "DELETE", object};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status != 204 && result.response.status != 200) {
      return ErrorFor(call, result.response);
    }
    return OkStatus();
  }

  StatusOr<std::vector<std::string>> List(std::string_view prefix);

  StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl) {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    if (ttl.count() < 1 || ttl.count() > kMaxPresignSeconds) {
      return InvalidArgumentError("presigned URL for " + std::string(key) + ": ttl " +
                                  std::to_string(ttl.count()) + " s is outside 1..604800 s");
    }
    PYDEPOT_ASSIGN_OR_RETURN(Credentials credentials, credentials_->Get());
    SignableRequest request{"GET", CanonicalUri(ObjectName(key)), {}, {{"host", Host()}}, ""};
    return PresignUrl(request, options_.endpoint.scheme_and_host, credentials, options_.region,
                      "s3", Clock::now(), ttl);
  }

  // For S3ReadStream: bytes [first, last] of `key`, which must still have `s3_etag`.
  StatusOr<std::string> ReadChunk(std::string_view key, std::string_view s3_etag,
                                  std::int64_t first, std::int64_t last) {
    Call call{"GetObject", std::string(key), "GET", ObjectName(key)};
    call.headers.emplace_back("range",
                              "bytes=" + std::to_string(first) + "-" + std::to_string(last));
    // Room for an error document too (a 416 says more than 5 bytes).
    call.max_response_bytes = last - first + 1 + static_cast<std::int64_t>(kMaxErrorBody);
    call.headers.emplace_back("if-match", "\"" + std::string(s3_etag) + "\"");
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    long status = result.response.status;  // NOLINT(google-runtime-int)
    if (status != 206 && status != 200 && status != 412 && status != 416) {
      return ErrorFor(call, result.response);
    }
    if (status == 412 || status == 416 ||
        StripEtag(result.response.Header("etag").value_or("")) != s3_etag) {
      return UnavailableError("s3 GetObject " + std::string(key) +
                              ": the object was replaced while it was being read");
    }
    if (result.response.body.empty()) {
      return InternalError("s3 GetObject " + std::string(key) + ": empty range response");
    }
    return std::move(result.response.body);
  }

 private:
  // --- Names and URLs ----------------------------------------------------------------------

  std::string ObjectName(std::string_view key) const {
    std::string name = options_.prefix + std::string(key);
    if (name.size() > kMaxObjectName) {
      return options_.prefix + std::string(kPrivateDir) + "long/" + Sha256Hex(key);
    }
    return name;
  }

  bool IsLongKey(std::string_view key) const {
    return options_.prefix.size() + key.size() > kMaxObjectName;
  }

  std::string ClaimName(std::string_view key) const {
    return options_.prefix + std::string(kPrivateDir) + "claims/" + Sha256Hex(key);
  }

  std::string CanonicalUri(const std::string& object) const {
    if (object.empty()) {
      return options_.endpoint.bucket_path.empty() ? "/" : options_.endpoint.bucket_path;
    }
    return options_.endpoint.bucket_path + "/" + UriEncode(object, /*keep_slash=*/true);
  }

  const std::string& Host() const { return options_.endpoint.host; }

  std::string Where(const Call& call) const {
    return "s3 " + call.op + " " + call.what + " (" + Describe() + ")";
  }

  // --- Sending -----------------------------------------------------------------------------

  StatusOr<HttpResponse> SendOnce(const Call& call) {
    PYDEPOT_ASSIGN_OR_RETURN(Credentials credentials, credentials_->Get());
    std::string canonical_uri = CanonicalUri(call.object);
    SignableRequest signable{call.method, canonical_uri, call.query, call.headers,
                             call.payload_hash};
    if (signable.payload_hash.empty()) {
      signable.payload_hash =
          call.body.fd >= 0 ? std::string(kUnsignedPayload) : Sha256Hex(call.body.bytes);
    }
    signable.headers.emplace_back("host", Host());
    Signature signature = SignRequest(signable, credentials, options_.region, "s3", Clock::now());
    HttpRequest request;
    request.method = call.method;
    request.url = options_.endpoint.scheme_and_host + canonical_uri;
    if (!call.query.empty()) {
      request.url += "?" + CanonicalQuery(call.query);
    }
    request.headers = std::move(signable.headers);
    request.headers.insert(request.headers.end(), signature.headers.begin(),
                           signature.headers.end());
    request.body = call.body;
    request.total_timeout = call.total_timeout;
    if (call.max_response_bytes >= 0) {
      request.max_response_bytes = static_cast<std::size_t>(call.max_response_bytes);
    }
    PYDEPOT_ASSIGN_OR_RETURN(HttpResponse response, http_->Send(request));
    if (response.status >= 300 && response.body.size() > kMaxErrorBody) {
      response.body.resize(kMaxErrorBody);
    }
    return response;
  }

  void Backoff(int attempt) {
    thread_local std::minstd_rand rng(std::random_device{}());
    auto base = options_.retry_delay * (1 << std::min(attempt, 6));
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(base * jitter(rng));
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(5)));
  }

  // Sends `call`, retrying transient failures. Returns the last response, whatever its status,
  // or the transport error of the last attempt.
  StatusOr<Result> Execute(const Call& call) {
    Result result;
    bool refreshed_credentials = false;
    for (int attempt = 1;; ++attempt) {
      StatusOr<HttpResponse> sent = SendOnce(call);
      bool last = attempt >= options_.max_attempts;
      if (!sent.has_value()) {
        if (sent.error().code() != StatusCode::kUnavailable || last) {
          return sent.error().WithPrefix(Where(call));
        }
        result.ambiguous = true;
        Backoff(attempt);
        continue;
      }
      long status = sent->status;  // NOLINT(google-runtime-int)
      bool retry = false;
      if (status >= 500 || status == 429) {
        retry = true;
        result.ambiguous = result.ambiguous || status != 503;  // 503 SlowDown: not processed
      } else if (status == 400 || status == 403 || status == 409) {
        std::string code = ParseError(sent->body).code;
        if (code == "RequestTimeout" || code == "ConditionalRequestConflict" ||
            code == "OperationAborted") {
          retry = true;
        } else if ((code == "ExpiredToken" || code == "TokenRefreshRequired") &&
                   !refreshed_credentials) {
          credentials_->Invalidate();
          refreshed_credentials = true;
          retry = true;
        }
      }
      if (!retry || last) {
        result.response = *std::move(sent);
        return result;
      }
      Backoff(attempt);
    }
  }

  // The Status for an unexpected response.
  Status ErrorFor(const Call& call, const HttpResponse& response) const {
    S3Error error = ParseError(response.body);
    std::string text = Where(call) + ": " + std::to_string(response.status);
    if (!error.code.empty()) {
      text += " " + error.code;
    }
    if (!error.message.empty()) {
      text += ": " + error.message;
    }
    switch (response.status) {
      case 401:
      case 403:
        if (error.code.empty() && call.method == "HEAD") {
          text += " Forbidden (a HEAD response carries no reason)";
        }
        return PermissionDeniedError(text + " [credentials: " + credentials_->Describe() + "]");
      case 404:
        return NotFoundError(text.empty() ? "not found" : text);
      case 301:
      case 307:
        if (auto region = response.Header("x-amz-bucket-region")) {
          text += " (the bucket is in region " + *region + ": set AWS_REGION=" + *region + ")";
        }
        return FailedPreconditionError(text);
      case 409:
      case 412:
        return FailedPreconditionError(text);
      case 429:
        return UnavailableError(text);
      default:
        if (response.status >= 500 || error.code == "RequestTimeout") {
          return UnavailableError(text);
        }
        return InternalError(text);
    }
  }

  // --- Object info -------------------------------------------------------------------------

  // Size, etag and time from a HEAD or GET response (size from Content-Length).
  StatusOr<ObjectInfo> InfoFrom(const Call& call, const HttpResponse& response) const {
    ObjectInfo info;
    std::string etag = StripEtag(response.Header("etag").value_or(""));
    if (etag.empty()) {
      return InternalError(Where(call) + ": the response has no ETag");
    }
    std::string version = response.Header(std::string(kVersionHeader)).value_or("");
    info.etag = version.empty() ? etag : etag + ":" + version;
    info.size = ParseInt(response.Header("content-length").value_or("")).value_or(0);
    if (auto mtime = ParseInt(response.Header(std::string(kMtimeHeader)).value_or(""))) {
      info.modified_micros = *mtime;
    } else if (auto seconds = ParseHttpDate(response.Header("last-modified").value_or(""))) {
      info.modified_micros = *seconds * 1'000'000;
    }
    return info;
  }

  StatusOr<ObjectInfo> HeadObject(const std::string& object, std::string_view what) {
    Call call{"HeadObject", std::string(what), "HEAD", object};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status != 200) {
      return ErrorFor(call, result.response);
    }
    return InfoFrom(call, result.response);
  }

  // HEAD `object`: its info, or nullopt when absent.
  StatusOr<std::optional<ObjectInfo>> HeadIfExists(const std::string& object,
                                                   std::string_view what) {
    StatusOr<ObjectInfo> info = HeadObject(object, what);
    if (info.has_value()) {
      return std::optional<ObjectInfo>(*std::move(info));
    }
    if (info.error().code() == StatusCode::kNotFound) {
      return std::optional<ObjectInfo>();
    }
    return info.error();
  }

  // --- Writes ------------------------------------------------------------------------------

  // Metadata headers every write carries; `version` is fresh per write.
  Headers WriteHeaders(std::string_view key, const std::string& version, std::int64_t mtime) const {
    Headers headers = {{"content-type", "application/octet-stream"},
                       {std::string(kVersionHeader), version},
                       {std::string(kMtimeHeader), std::to_string(mtime)}};
    if (IsLongKey(key)) {
      headers.emplace_back(std::string(kKeyHeader), std::string(key));
    }
    return headers;
  }

  enum class Condition { kIfNoneMatch, kIfMatch };

  struct PutOutcome {
    std::optional<ObjectInfo> info;  // set when the write happened
    bool precondition_failed = false;
  };

  // One conditional PUT of `body` at `object`. A refusal (412, or 409/404 for If-Match) is an
  // outcome, not an error; after an ambiguous attempt it is checked against our own version.
  StatusOr<PutOutcome> ConditionalPut(const std::string& op, std::string_view key,
                                      const std::string& object, const HttpBody& body,
                                      const std::string& payload_hash, Condition condition,
                                      const std::string& s3_etag) {
    std::string version = RandomHex(8);
    std::int64_t mtime = NowMicros();
    Call call{op, std::string(key), "PUT", object};
    call.headers = WriteHeaders(key, version, mtime);
    if (condition == Condition::kIfNoneMatch) {
      call.headers.emplace_back("if-none-match", "*");
    } else {
      call.headers.emplace_back("if-match", s3_etag);
    }
    call.body = body;
    call.payload_hash = payload_hash;
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    long status = result.response.status;  // NOLINT(google-runtime-int)
    PutOutcome outcome;
    if (status == 200) {
      std::string etag = StripEtag(result.response.Header("etag").value_or(""));
      if (etag.empty()) {
        // Some stores omit it: read it back (and check it is still ours).
        PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> info, HeadIfExists(object, key));
        if (!info.has_value() || SplitEtag(info->etag).second != version) {
          return UnavailableError(Where(call) + ": written, but replaced before it was read");
        }
        outcome.info = *info;
        return outcome;
      }
      outcome.info = ObjectInfo{body.size(), etag + ":" + version, mtime};
      return outcome;
    }
    bool refused =
        status == 412 || (condition == Condition::kIfMatch && (status == 409 || status == 404));
    if (!refused) {
      return ErrorFor(call, result.response);
    }
    if (result.ambiguous) {
      // Our first attempt may have landed before the connection broke.
      PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> info, HeadIfExists(object, key));
      if (info.has_value() && SplitEtag(info->etag).second == version) {
        outcome.info = *info;
        return outcome;
      }
    }
    outcome.precondition_failed = true;
    return outcome;
  }

  // A create-only single PUT, then the check that no multipart upload replaced it.
  StatusOr<ObjectInfo> CreateSmall(std::string_view key, const HttpBody& body,
                                   const std::string& payload_hash) {
    std::string object = ObjectName(key);
    PYDEPOT_ASSIGN_OR_RETURN(
        PutOutcome outcome,
        ConditionalPut("PutObject", key, object, body, payload_hash, Condition::kIfNoneMatch, ""));
    if (outcome.precondition_failed) {
      return AlreadyExistsError(std::string(key) + " already exists");
    }
    PYDEPOT_RETURN_IF_ERROR(WaitForClaims(key));
    PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> now, HeadIfExists(object, key));
    if (now.has_value() && now->etag != outcome.info->etag) {
      // Replaced, most likely by a multipart Complete that ignored If-None-Match. (A
      // compare-and-swap by someone who read ours would also land here; the caller, told
      // kAlreadyExists, compares the stored bytes with its own, as it must anyway.)
      return AlreadyExistsError(std::string(key) +
                                " already exists (a concurrent upload replaced this one)");
    }
    return *outcome.info;
  }

  StatusOr<ObjectInfo> CreateLarge(std::string_view key, int fd, std::int64_t size,
                                   const std::string& source);

  // --- Claims (see the file comment) -------------------------------------------------------

  struct Claim {
    std::string s3_etag;
  };

  // Age of `object` by the server's own clock (Date - Last-Modified), or nullopt when absent.
  StatusOr<std::optional<std::chrono::seconds>> ClaimAge(const std::string& claim,
                                                         std::string_view key,
                                                         std::string* s3_etag) {
    Call call{"HeadObject", std::string(key) + " (upload claim)", "HEAD", claim};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status == 404) {
      return std::optional<std::chrono::seconds>();
    }
    if (result.response.status != 200) {
      return ErrorFor(call, result.response);
    }
    if (s3_etag != nullptr) {
      *s3_etag = StripEtag(result.response.Header("etag").value_or(""));
    }
    auto modified = ParseHttpDate(result.response.Header("last-modified").value_or(""));
    auto now = ParseHttpDate(result.response.Header("date").value_or(""));
    if (!modified.has_value() || !now.has_value()) {
      return InternalError(Where(call) + ": no Date or Last-Modified to age the claim by");
    }
    return std::optional<std::chrono::seconds>(std::chrono::seconds(*now - *modified));
  }

  StatusOr<PutOutcome> PutClaim(std::string_view key, Condition condition,
                                const std::string& s3_etag) {
    std::string body_text =
        "pydepot upload claim\nkey: " + std::string(key) + "\nholder: " + RandomHex(16) + "\n";
    HttpBody body;
    body.bytes = body_text;
    return ConditionalPut("PutObject", std::string(key) + " (upload claim)", ClaimName(key), body,
                          Sha256Hex(body_text), condition, s3_etag);
  }

  // Takes the upload claim on `key`: kAlreadyExists when the key appears meanwhile.
  StatusOr<Claim> AcquireClaim(std::string_view key, const std::string& object) {
    auto deadline = std::chrono::steady_clock::now() + kMaxClaimWait;
    auto poll = std::chrono::milliseconds(100);
    while (true) {
      PYDEPOT_ASSIGN_OR_RETURN(PutOutcome created, PutClaim(key, Condition::kIfNoneMatch, ""));
      if (created.info.has_value()) {
        return Claim{SplitEtag(created.info->etag).first};
      }
      std::string held_etag;
      PYDEPOT_ASSIGN_OR_RETURN(std::optional<std::chrono::seconds> age,
                               ClaimAge(ClaimName(key), key, &held_etag));
      if (age.has_value() && *age > options_.claim_stale_after) {
        // Its holder stopped renewing it: take it over, by compare-and-swap so only one does.
        PYDEPOT_ASSIGN_OR_RETURN(PutOutcome taken, PutClaim(key, Condition::kIfMatch, held_etag));
        if (taken.info.has_value()) {
          return Claim{SplitEtag(taken.info->etag).first};
        }
      }
      if (!age.has_value()) {
        continue;  // released just now: try again at once
      }
      PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> existing, HeadIfExists(object, key));
      if (existing.has_value()) {
        return AlreadyExistsError(std::string(key) + " already exists");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return UnavailableError(std::string(key) + ": another upload of it is still running");
      }
      std::this_thread::sleep_for(poll);
      poll = std::min<std::chrono::milliseconds>(poll * 2, std::chrono::seconds(2));
    }
  }

  // Renews our claim; kUnavailable when it was taken over (we were too slow).
  Status RenewClaim(std::string_view key, Claim& claim) {
    PYDEPOT_ASSIGN_OR_RETURN(PutOutcome renewed, PutClaim(key, Condition::kIfMatch, claim.s3_etag));
    if (!renewed.info.has_value()) {
      return UnavailableError(std::string(key) +
                              ": the upload claim was taken over by another writer (this upload "
                              "stalled for longer than the claim timeout)");
    }
    claim.s3_etag = SplitEtag(renewed.info->etag).first;
    return OkStatus();
  }

  void ReleaseClaim(std::string_view key) {
    Call call{"DeleteObject", std::string(key) + " (upload claim)", "DELETE", ClaimName(key)};
    (void)Execute(call);  // best effort: a leftover claim only goes stale
  }

  // Waits until no live claim is held on `key` (a large upload of it in progress).
  Status WaitForClaims(std::string_view key) {
    auto deadline = std::chrono::steady_clock::now() + kMaxClaimWait;
    auto poll = std::chrono::milliseconds(100);
    while (true) {
      PYDEPOT_ASSIGN_OR_RETURN(std::optional<std::chrono::seconds> age,
                               ClaimAge(ClaimName(key), key, nullptr));
      if (!age.has_value() || *age > options_.claim_stale_after) {
        return OkStatus();
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return UnavailableError(std::string(key) + ": another upload of it is still running");
      }
      std::this_thread::sleep_for(poll);
      poll = std::min<std::chrono::milliseconds>(poll * 2, std::chrono::seconds(2));
    }
  }

  Status AbortUpload(std::string_view key, const std::string& object,
                     const std::string& upload_id) {
    Call call{"AbortMultipartUpload", std::string(key), "DELETE", object};
    call.query = {{"uploadId", upload_id}};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status != 204 && result.response.status != 200 &&
        result.response.status != 404) {
      return ErrorFor(call, result.response);
    }
    return OkStatus();
  }

  const Options options_;
  const std::shared_ptr<HttpClient> http_;
  const std::shared_ptr<CredentialsProvider> credentials_;

  friend class S3ReadStream;
};

StatusOr<std::size_t> S3ReadStream::Read(char* buf, std::size_t n) {
  if (position_ == buffer_.size()) {
    if (next_ >= end_) {
      return std::size_t{0};
    }
    std::int64_t last = std::min(end_, next_ + kReadChunk) - 1;
    PYDEPOT_ASSIGN_OR_RETURN(buffer_, store_->ReadChunk(key_, s3_etag_, next_, last));
    if (static_cast<std::int64_t>(buffer_.size()) > last - next_ + 1) {
      buffer_.resize(static_cast<std::size_t>(last - next_ + 1));
    }
    next_ += static_cast<std::int64_t>(buffer_.size());
    position_ = 0;
  }
  std::size_t count = std::min(n, buffer_.size() - position_);
  std::memcpy(buf, buffer_.data() + position_, count);
  position_ += count;
  return count;
}

StatusOr<std::unique_ptr<ReadStream>> S3Store::Open(std::string_view key, std::int64_t offset,
                                                    std::int64_t length) {
  PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
  auto bad_range = [&](std::int64_t size) {
    return InvalidArgumentError("open " + std::string(key) + ": range " + std::to_string(offset) +
                                "+" + std::to_string(length) + " is outside the object's " +
                                (size < 0 ? std::string("") : std::to_string(size) + " ") +
                                "bytes");
  };
  if (offset < 0 || length < -1) {
    return bad_range(-1);
  }
  std::string object = ObjectName(key);
  auto empty_stream = [&]() -> StatusOr<std::unique_ptr<ReadStream>> {
    PYDEPOT_ASSIGN_OR_RETURN(ObjectInfo info, HeadObject(object, key));
    if (offset > info.size) {
      return bad_range(info.size);
    }
    return std::unique_ptr<ReadStream>(
        std::make_unique<S3ReadStream>(shared_from_this(), std::string(key), "", 0, 0, ""));
  };
  if (length == 0) {
    return empty_stream();
  }
  // The first chunk is read now: it answers kNotFound and the size, and a small object is then
  // read whole from the version that existed at Open.
  std::int64_t want = length == -1 ? kReadChunk : std::min(length, kReadChunk);
  Call call{"GetObject", std::string(key), "GET", object};
  call.headers.emplace_back(
      "range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + want - 1));
  call.max_response_bytes = want + static_cast<std::int64_t>(kMaxErrorBody);
  PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
  HttpResponse& response = result.response;
  if (response.status == 416) {
    return empty_stream();  // offset at (fine) or past (bad range) the end
  }
  if (response.status != 206 && response.status != 200) {
    return ErrorFor(call, response);
  }
  std::string s3_etag = StripEtag(response.Header("etag").value_or(""));
  std::int64_t size = 0;
  if (response.status == 206) {
    std::string range = response.Header("content-range").value_or("");
    std::size_t slash = range.rfind('/');
    std::string_view range_view = range;
    std::optional<std::int64_t> total =
        slash == std::string::npos ? std::nullopt : ParseInt(range_view.substr(slash + 1));
    if (!total.has_value()) {
      return InternalError(Where(call) + ": bad Content-Range \"" + range + "\"");
    }
    size = *total;
  } else {
    // The whole object (a store that ignores Range for small objects).
    size = static_cast<std::int64_t>(response.body.size());
    if (offset > size) {
      return bad_range(size);
    }
    response.body = response.body.substr(static_cast<std::size_t>(offset));
  }
  std::int64_t end = length == -1 ? size : std::min(size, offset + length);
  if (static_cast<std::int64_t>(response.body.size()) > end - offset) {
    response.body.resize(static_cast<std::size_t>(end - offset));
  }
  std::int64_t next = offset + static_cast<std::int64_t>(response.body.size());
  return std::unique_ptr<ReadStream>(
      std::make_unique<S3ReadStream>(shared_from_this(), std::string(key), std::move(s3_etag), next,
                                     end, std::move(response.body)));
}

StatusOr<ObjectInfo> S3Store::PutFileIfAbsent(std::string_view key,
                                              const std::filesystem::path& source) {
  PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
  int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return InvalidArgumentError("source " + source.string() + ": " + ErrnoMessage(err));
  }
  FileCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return InvalidArgumentError("source " + source.string() + ": not a regular file");
  }
  std::int64_t size = st.st_size;
  if (size > options_.multipart_threshold) {
    return CreateLarge(key, fd, size, source.string());
  }
  PYDEPOT_ASSIGN_OR_RETURN(std::string hash, HashFileRange(fd, 0, size, source.string()));
  HttpBody body;
  body.fd = fd;
  body.length = size;
  return CreateSmall(key, body, hash);
}

StatusOr<ObjectInfo> S3Store::CreateLarge(std::string_view key, int fd, std::int64_t size,
                                          const std::string& source) {
  std::string object = ObjectName(key);
  PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> existing, HeadIfExists(object, key));
  if (existing.has_value()) {
    return AlreadyExistsError(std::string(key) + " already exists");
  }
  PYDEPOT_ASSIGN_OR_RETURN(Claim claim, AcquireClaim(key, object));
  std::string upload_id;
  // Everything after the claim: on any failure the upload is aborted and the claim released.
  auto upload = [&]() -> StatusOr<ObjectInfo> {
    PYDEPOT_ASSIGN_OR_RETURN(existing, HeadIfExists(object, key));
    if (existing.has_value()) {
      return AlreadyExistsError(std::string(key) + " already exists");
    }
    std::string version = RandomHex(8);
    Call initiate{"CreateMultipartUpload", std::string(key), "POST", object};
    initiate.query = {{"uploads", ""}};
    initiate.headers = WriteHeaders(key, version, NowMicros());
    PYDEPOT_ASSIGN_OR_RETURN(Result started, Execute(initiate));
    if (started.response.status != 200) {
      return ErrorFor(initiate, started.response);
    }
    pugi::xml_document doc;
    if (doc.load_buffer(started.response.body.data(), started.response.body.size())) {
      upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    }
    if (upload_id.empty()) {
      return InternalError(Where(initiate) + ": no UploadId in the answer");
    }

    std::int64_t part_size = std::max(options_.part_size, (size + kMaxParts - 1) / kMaxParts);
    part_size = (part_size + kMiB - 1) / kMiB * kMiB;
    std::string complete_xml = "<CompleteMultipartUpload>";
    auto last_renewal = std::chrono::steady_clock::now();
    auto renew_every = options_.claim_stale_after / 4;
    int part = 0;
    for (std::int64_t offset = 0; offset < size; offset += part_size) {
      ++part;
      std::int64_t length = std::min(part_size, size - offset);
      PYDEPOT_ASSIGN_OR_RETURN(std::string hash, HashFileRange(fd, offset, length, source));
      Call put{"UploadPart", std::string(key) + " part " + std::to_string(part), "PUT", object};
      put.query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}};
      put.body.fd = fd;
      put.body.offset = offset;
      put.body.length = length;
      put.payload_hash = hash;
      PYDEPOT_ASSIGN_OR_RETURN(Result sent, Execute(put));
      std::string etag = sent.response.Header("etag").value_or("");
      if (sent.response.status != 200 || etag.empty()) {
        return sent.response.status != 200 ? ErrorFor(put, sent.response)
                                           : InternalError(Where(put) + ": no ETag for the part");
      }
      complete_xml += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>\"" +
                      StripEtag(etag) + "\"</ETag></Part>";
      if (std::chrono::steady_clock::now() - last_renewal > renew_every) {
        PYDEPOT_RETURN_IF_ERROR(RenewClaim(key, claim));
        last_renewal = std::chrono::steady_clock::now();
      }
    }
    complete_xml += "</CompleteMultipartUpload>";

    // The guard: still ours, still absent. Then Complete (conditional where the store honours
    // it) within a bounded time, well inside the claim's life.
    PYDEPOT_RETURN_IF_ERROR(RenewClaim(key, claim));
    PYDEPOT_ASSIGN_OR_RETURN(existing, HeadIfExists(object, key));
    if (existing.has_value()) {
      return AlreadyExistsError(std::string(key) + " already exists");
    }
    Call complete{"CompleteMultipartUpload", std::string(key), "POST", object};
    complete.query = {{"uploadId", upload_id}};
    complete.headers = {{"content-type", "application/xml"}, {"if-none-match", "*"}};
    complete.body.bytes = complete_xml;
    complete.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min<std::chrono::seconds>(options_.claim_stale_after / 4, std::chrono::minutes(2)));
    PYDEPOT_ASSIGN_OR_RETURN(Result done, Execute(complete));
    long status = done.response.status;  // NOLINT(google-runtime-int)
    S3Error error = ParseError(done.response.body);
    if (status == 412) {
      return AlreadyExistsError(std::string(key) + " already exists");
    }
    bool landed_earlier = done.ambiguous && status == 404 && error.code == "NoSuchUpload";
    if (!landed_earlier && (status != 200 || !error.code.empty())) {
      // A 200 can still carry an <Error> (S3 reports late failures that way).
      if (status == 200) {
        done.response.status = 500;
      }
      return ErrorFor(complete, done.response);
    }
    upload_id.clear();  // completed: nothing to abort
    PYDEPOT_ASSIGN_OR_RETURN(ObjectInfo info, HeadObject(object, key));
    if (SplitEtag(info.etag).second != version) {
      return AlreadyExistsError(std::string(key) + " already exists (another upload won)");
    }
    return info;
  };
  StatusOr<ObjectInfo> result = upload();
  if (!upload_id.empty()) {
    (void)AbortUpload(key, object, upload_id);
  }
  // A claim taken over by another writer is theirs now: leave it.
  if (result.has_value() || result.error().message().find("taken over") == std::string::npos) {
    ReleaseClaim(key);
  }
  return result;
}

StatusOr<ObjectInfo> S3Store::PutIfMatch(std::string_view key, std::string_view data,
                                         std::string_view expected_etag) {
  PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
  std::string object = ObjectName(key);
  HttpBody body;
  body.bytes = data;
  auto mismatch = [&](std::string_view current) {
    return FailedPreconditionError(std::string(key) + ": etag \"" + std::string(current) +
                                   "\" does not match the expected \"" +
                                   std::string(expected_etag) + "\"");
  };
  if (expected_etag.empty()) {
    PYDEPOT_ASSIGN_OR_RETURN(PutOutcome outcome,
                             ConditionalPut("PutObject", key, object, body, Sha256Hex(data),
                                            Condition::kIfNoneMatch, ""));
    if (outcome.precondition_failed) {
      return mismatch("(exists)");
    }
    return *outcome.info;
  }
  auto [s3_etag, version] = SplitEtag(expected_etag);
  if (!version.empty()) {
    PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> current, HeadIfExists(object, key));
    if (!current.has_value()) {
      return mismatch("(absent)");
    }
    if (current->etag != expected_etag) {
      return mismatch(current->etag);
    }
  }
  PYDEPOT_ASSIGN_OR_RETURN(PutOutcome outcome,
                           ConditionalPut("PutObject", key, object, body, Sha256Hex(data),
                                          Condition::kIfMatch, s3_etag));
  if (outcome.precondition_failed) {
    return mismatch("(changed)");
  }
  return *outcome.info;
}

StatusOr<std::vector<std::string>> S3Store::List(std::string_view prefix) {
  if (!IsValidKeyPrefix(prefix)) {
    return InvalidArgumentError("invalid storage key prefix \"" + std::string(prefix) + "\"");
  }
  // Every object name under `list_prefix`, in pages of up to 1000.
  auto list_all = [this, prefix](const std::string& list_prefix,
                                 std::vector<std::string>& names) -> Status {
    std::string token;
    while (true) {
      Call call{"ListObjectsV2", std::string(prefix), "GET", ""};
      call.query = {{"list-type", "2"}, {"prefix", list_prefix}};
      if (!token.empty()) {
        call.query.emplace_back("continuation-token", token);
      }
      PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
      if (result.response.status != 200) {
        return ErrorFor(call, result.response);
      }
      pugi::xml_document doc;
      if (!doc.load_buffer(result.response.body.data(), result.response.body.size())) {
        return InternalError(Where(call) + ": the answer is not XML");
      }
      pugi::xml_node root = doc.child("ListBucketResult");
      for (pugi::xml_node entry : root.children("Contents")) {
        names.emplace_back(entry.child_value("Key"));
      }
      token = root.child_value("NextContinuationToken");
      if (std::string_view(root.child_value("IsTruncated")) != "true" || token.empty()) {
        return OkStatus();
      }
    }
  };
  std::vector<std::string> keys;
  std::vector<std::string> names;
  if (options_.prefix.size() + prefix.size() <= kMaxObjectName) {
    PYDEPOT_RETURN_IF_ERROR(list_all(options_.prefix + std::string(prefix), names));
  }
  for (std::string& name : names) {
    std::string key = name.substr(std::min(name.size(), options_.prefix.size()));
    if (name.rfind(options_.prefix, 0) == 0 && IsValidKey(key)) {
      keys.push_back(std::move(key));
    }
  }
  // Keys too long to be names: their real key is in the metadata.
  names.clear();
  PYDEPOT_RETURN_IF_ERROR(list_all(options_.prefix + std::string(kPrivateDir) + "long/", names));
  for (const std::string& name : names) {
    Call call{"HeadObject", name, "HEAD", name};
    PYDEPOT_ASSIGN_OR_RETURN(Result result, Execute(call));
    if (result.response.status == 404) {
      continue;  // deleted meanwhile
    }
    if (result.response.status != 200) {
      return ErrorFor(call, result.response);
    }
    std::string key = result.response.Header(std::string(kKeyHeader)).value_or("");
    if (IsValidKey(key) && key.rfind(prefix, 0) == 0) {
      keys.push_back(std::move(key));
    }
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The Storage: a handle on the shared S3Store.
class S3Storage final : public Storage {
 public:
  explicit S3Storage(std::shared_ptr<S3Store> store) : store_(std::move(store)) {}

  std::string Describe() const override { return store_->Describe(); }
  StatusOr<ObjectInfo> Head(std::string_view key) override { return store_->Head(key); }
  StatusOr<Object> Get(std::string_view key) override { return store_->Get(key); }
  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length) override {
    return store_->Open(key, offset, length);
  }
  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    return store_->PutIfAbsent(key, data);
  }
  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    return store_->PutFileIfAbsent(key, source);
  }
  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    return store_->PutIfMatch(key, data, expected_etag);
  }
  Status Delete(std::string_view key) override { return store_->Delete(key); }
  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return store_->List(prefix);
  }
  StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl) override {
    return store_->PresignedGetUrl(key, ttl);
  }

 private:
  const std::shared_ptr<S3Store> store_;
};

// Parses s3://BUCKET[/PREFIX] into options.bucket and options.prefix.
Status ParseUrl(std::string_view url, Options& options) {
  constexpr std::string_view kScheme = "s3://";
  auto bad = [url](std::string_view why) {
    return InvalidArgumentError("storage URL " + std::string(url) + ": " + std::string(why) +
                                " (expected s3://BUCKET[/PREFIX])");
  };
  if (url.substr(0, kScheme.size()) != kScheme) {
    return bad("not an s3:// URL");
  }
  std::string_view rest = url.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  options.bucket = std::string(rest.substr(0, slash));
  if (options.bucket.size() < 3 || options.bucket.size() > 255 ||
      !std::all_of(options.bucket.begin(), options.bucket.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
      })) {
    return bad("bad bucket name \"" + options.bucket + "\"");
  }
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  if (!prefix.empty() && !IsValidKey(prefix)) {
    return bad("bad prefix \"" + std::string(prefix) + "\"");
  }
  options.prefix = prefix.empty() ? "" : std::string(prefix) + "/";
  return OkStatus();
}

StatusOr<std::int64_t> SizeSetting(const EnvLookup& env, std::string_view name,
                                   std::int64_t fallback, std::int64_t min, std::int64_t max) {
  std::optional<std::string> text = env(name);
  if (!text.has_value() || text->empty()) {
    return fallback;
  }
  std::optional<std::int64_t> value = ParseInt(*text);
  if (!value.has_value() || *value < min || *value > max) {
    return InvalidArgumentError(std::string(name) + "=" + *text + ": expected a number from " +
                                std::to_string(min) + " to " + std::to_string(max));
  }
  return *value;
}

}  // namespace

StatusOr<std::unique_ptr<Storage>> OpenS3StorageWithEnvironment(std::string_view url,
                                                                const EnvLookup& env,
                                                                const MetadataHosts& hosts) {
  Options options;
  PYDEPOT_RETURN_IF_ERROR(ParseUrl(url, options));
  PYDEPOT_ASSIGN_OR_RETURN(AwsSettings settings, LoadAwsSettings(env));
  options.region = settings.region;
  options.endpoint_url = settings.endpoint;
  while (!options.endpoint_url.empty() && options.endpoint_url.back() == '/') {
    options.endpoint_url.pop_back();
  }
  PYDEPOT_ASSIGN_OR_RETURN(options.endpoint,
                           MakeEndpoint(options.bucket, options.region, options.endpoint_url));
  std::string host = options.endpoint.host.substr(0, options.endpoint.host.rfind(':'));
  if (host == "storage.googleapis.com" || host.ends_with(".storage.googleapis.com")) {
    // GCS's XML API honours If-None-Match / If-Match only on reads: create-only writes and
    // compare-and-swap would silently overwrite.
    return FailedPreconditionError("storage URL " + std::string(url) + " at " +
                                   options.endpoint_url +
                                   ": Google Cloud Storage ignores S3 conditional writes, which "
                                   "pydepot needs; use gs://" +
                                   options.bucket + " instead");
  }
  PYDEPOT_ASSIGN_OR_RETURN(options.multipart_threshold,
                           SizeSetting(env, "PYDEPOT_S3_MULTIPART_THRESHOLD",
                                       kDefaultMultipartThreshold, 0, kMaxSinglePut));
  PYDEPOT_ASSIGN_OR_RETURN(
      options.part_size,
      SizeSetting(env, "PYDEPOT_S3_PART_SIZE", kDefaultPartSize, kMinPartSize, kMaxSinglePut));
  PYDEPOT_ASSIGN_OR_RETURN(std::int64_t attempts,
                           SizeSetting(env, "AWS_MAX_ATTEMPTS", options.max_attempts, 1, 20));
  options.max_attempts = static_cast<int>(attempts);
  PYDEPOT_ASSIGN_OR_RETURN(std::int64_t stale,
                           SizeSetting(env, "PYDEPOT_S3_CLAIM_STALE_SECONDS",
                                       options.claim_stale_after.count(), 1, kMaxPresignSeconds));
  options.claim_stale_after = std::chrono::seconds(stale);

  HttpClientOptions http_options;
  http_options.ca_bundle = env("AWS_CA_BUNDLE").value_or("");
  PYDEPOT_ASSIGN_OR_RETURN(std::shared_ptr<HttpClient> http,
                           HttpClient::Create(std::move(http_options)));
  StatusOr<std::shared_ptr<CredentialsProvider>> credentials = ResolveCredentials(env, http, hosts);
  if (!credentials.has_value()) {
    return credentials.error().WithPrefix("storage URL " + std::string(url));
  }
  return std::unique_ptr<Storage>(std::make_unique<S3Storage>(
      std::make_shared<S3Store>(std::move(options), std::move(http), *std::move(credentials))));
}

}  // namespace s3

StatusOr<std::unique_ptr<Storage>> OpenS3Storage(std::string_view url) {
  return s3::OpenS3StorageWithEnvironment(url, s3::ProcessEnvironment());
}

}  // namespace pydepot::storage
