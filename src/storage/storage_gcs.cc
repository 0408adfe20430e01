// Google Cloud Storage through its JSON API v1, over libcurl (gcs_http.h), with the credentials
// of where pydepot runs (gcs_auth.h).
//
// How the Storage contract maps onto GCS:
//   etag            the object's generation, as a decimal string
//   modified time   "updated", to the second (a media GET only has Last-Modified, and Get, Head
//                   and the writes must agree)
//   PutIfAbsent     upload with ifGenerationMatch=0; 412 -> kAlreadyExists
//   PutIfMatch      upload with ifGenerationMatch=<etag> (0 for an empty one); 412 ->
//                   kFailedPrecondition
//   Get             one media GET;  Open: ranged media GETs of read_chunk_size bytes, the first
//                   at once (a small object is then wholly read, whatever happens to it later)
//                   and the rest lazily, pinned to the generation first seen
//   Delete          metadata GET, then DELETE with ifGenerationMatch=<that generation>
//   List            objects.list with prefix and pageToken
//   PresignedGetUrl V4 signing with the service-account key (no key: kUnimplemented)
//
// Every write is conditional, so a retry can never overwrite anything. A write whose answer was
// lost (a reset, a 503) is retried; if the retry then meets 412, the object may be our own
// first attempt: each write carries a random id in its custom metadata
// ("pydepot-write-id"), so a metadata GET tells our own write (success) from another writer's
// (412 as usual). That is why single-request uploads use uploadType=multipart (metadata plus
// bytes) rather than uploadType=media, which cannot carry metadata.
//
// Thread-safe: the state shared by calls is immutable, apart from the HTTP client and the token
// cache, which lock themselves.

#include "storage/storage_gcs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <openssl/evp.h>

#include "base/hash.h"
#include "base/status_macros.h"
#include "storage/gcs_util.h"

namespace pydepot::storage {
namespace {

namespace json = boost::json;
using gcs::HttpRequest;
using gcs::HttpResponse;
using gcs::RetriedResponse;

constexpr std::int64_t kChunkAlign = std::int64_t{256} * 1024;
// Metadata requests are small: a minute is plenty. Media transfers have no total limit (the
// HTTP client fails those that stall).
constexpr std::chrono::seconds kMetadataTimeout{60};
constexpr std::string_view kWriteIdKey = "pydepot-write-id";
// Restarts of a resumable upload whose session vanished (404/410), before giving up.
constexpr int kMaxSessionRestarts = 2;

Status CheckKey(std::string_view key) {
  if (!IsValidKey(key)) {
    return InvalidArgumentError("invalid storage key \"" + std::string(key) + "\"");
  }
  return OkStatus();
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

bool IsDecimal(std::string_view text) {
  return !text.empty() && text.size() <= 20 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::int64_t WholeSeconds(std::int64_t micros) {
  std::int64_t rest = micros % 1000000;
  return micros - (rest < 0 ? rest + 1000000 : rest);
}

std::string RandomHex(std::size_t bytes) { return HexEncode(RandomBytes(bytes)); }

// MD5, base64 (GCS's md5Hash), computed incrementally.
class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
  ~Md5() { EVP_MD_CTX_free(ctx_); }
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  Md5(Md5&&) = delete;
  Md5& operator=(Md5&&) = delete;

  void Update(std::string_view bytes) {
    if (ctx_ != nullptr) {
      EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
    }
  }
  // Base64 of the digest; empty if OpenSSL could not compute it (then nothing is checked).
  std::string Finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (ctx_ == nullptr || EVP_DigestFinal_ex(ctx_, digest, &length) != 1) {
      return {};
    }
    return gcs::Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string Md5Base64(std::string_view bytes) {
  Md5 md5;
  md5.Update(bytes);
  return md5.Finish();
}

// The md5 in an x-goog-hash header ("crc32c=...,md5=..."), or "".
std::string Md5FromGoogHash(std::string_view header) {
  while (!header.empty()) {
    std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    if (item.substr(0, 4) == "md5=") {
      return std::string(item.substr(4));
    }
    if (comma == std::string_view::npos) {
      break;
    }
    header.remove_prefix(comma + 1);
  }
  return {};
}

// A local file being uploaded: read with pread, so readers at different offsets may coexist.
class SourceFile {
 public:
  static StatusOr<std::unique_ptr<SourceFile>> Open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      return InvalidArgumentError("source " + path.string() + ": " + ErrnoMessage(err));
    }
    auto file = std::unique_ptr<SourceFile>(new SourceFile(fd, path.string()));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      return InvalidArgumentError("source " + path.string() + ": " + ErrnoMessage(err));
    }
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("source " + path.string() + " is not a regular file");
    }
    file->size_ = st.st_size;
    return file;
  }
  ~SourceFile() { ::close(fd_); }
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;
  SourceFile(SourceFile&&) = delete;
  SourceFile& operator=(SourceFile&&) = delete;

  std::int64_t size() const { return size_; }

  // Reads up to `n` bytes at `offset`; 0 at the end of the file.
  StatusOr<std::size_t> ReadAt(char* buf, std::size_t n, std::int64_t offset) const {
    while (true) {
      ssize_t got = ::pread(fd_, buf, n, offset);
      if (got >= 0) {
        return static_cast<std::size_t>(got);
      }
      if (errno != EINTR) {
        int err = errno;
        return InternalError("source " + path_ + ": " + ErrnoMessage(err));
      }
    }
  }

  StatusOr<std::string> Md5Base64() const {
    Md5 md5;
    std::string buffer(std::size_t{1} << 20, '\0');
    for (std::int64_t offset = 0; offset < size_;) {
      PYDEPOT_ASSIGN_OR_RETURN(std::size_t n, ReadAt(buffer.data(), buffer.size(), offset));
      if (n == 0) {
        return InternalError("source " + path_ + " shrank while being uploaded");
      }
      md5.Update(std::string_view(buffer.data(), n));
      offset += static_cast<std::int64_t>(n);
    }
    return md5.Finish();
  }

 private:
  SourceFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  std::int64_t size_ = 0;
};

// One piece of a request body: bytes in memory, or a range of a source file.
struct BodyPart {
  std::string_view bytes;
  const SourceFile* file = nullptr;
  std::int64_t file_offset = 0;
  std::int64_t file_length = 0;

  std::int64_t size() const {
    return file != nullptr ? file_length : static_cast<std::int64_t>(bytes.size());
  }
};

BodyPart MemoryPart(std::string_view bytes) {
  BodyPart part;
  part.bytes = bytes;
  return part;
}

BodyPart FilePart(const SourceFile& file, std::int64_t offset, std::int64_t length) {
  BodyPart part;
  part.file = &file;
  part.file_offset = offset;
  part.file_length = length;
  return part;
}

std::int64_t TotalSize(const std::vector<BodyPart>& parts) {
  std::int64_t total = 0;
  for (const BodyPart& part : parts) {
    total += part.size();
  }
  return total;
}

// A body reader over `parts` in order. The parts' memory and files must outlive the request.
gcs::BodyReader ConcatReader(std::vector<BodyPart> parts) {
  struct State {
    std::vector<BodyPart> parts;
    std::size_t index = 0;
    std::int64_t offset = 0;  // within parts[index]
  };
  auto state = std::make_shared<State>();
  state->parts = std::move(parts);
  return [state](char* buf, std::size_t n) -> StatusOr<std::size_t> {
    while (state->index < state->parts.size()) {
      const BodyPart& part = state->parts[state->index];
      std::int64_t left = part.size() - state->offset;
      if (left <= 0) {
        ++state->index;
        state->offset = 0;
        continue;
      }
      std::size_t take =
          static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(n)));
      std::size_t got = 0;
      if (part.file != nullptr) {
        PYDEPOT_ASSIGN_OR_RETURN(got,
                                 part.file->ReadAt(buf, take, part.file_offset + state->offset));
        if (got == 0) {
          return InternalError("upload source shrank while being uploaded");
        }
      } else {
        std::memcpy(buf, part.bytes.data() + state->offset, take);
        got = take;
      }
      state->offset += static_cast<std::int64_t>(got);
      return got;
    }
    return std::size_t{0};
  };
}

struct ObjectMeta {
  ObjectInfo info;
  std::string write_id;
  std::string md5;
};

std::string JsonString(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

// An object resource (the JSON of objects.get, an upload's answer).
StatusOr<ObjectMeta> ParseObjectResource(std::string_view what, std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    return InternalError(std::string(what) + ": the answer is not a JSON object");
  }
  const json::object& object = value.get_object();
  ObjectMeta meta;
  meta.info.etag = JsonString(object, "generation");
  std::optional<std::int64_t> size = ParseInt(JsonString(object, "size"));
  std::optional<std::int64_t> updated = gcs::ParseRfc3339Micros(JsonString(object, "updated"));
  if (!IsDecimal(meta.info.etag) || !size.has_value() || !updated.has_value()) {
    return InternalError(std::string(what) +
                         ": the object resource lacks a generation, size or updated time");
  }
  meta.info.size = *size;
  meta.info.modified_micros = WholeSeconds(*updated);
  meta.md5 = JsonString(object, "md5Hash");
  if (const json::value* custom = object.if_contains("metadata");
      custom != nullptr && custom->is_object()) {
    meta.write_id = JsonString(custom->get_object(), kWriteIdKey);
  }
  return meta;
}

// What the GCS backend shares with its read streams.
class GcsClient {
 public:
  GcsClient(gcs::GcsLocation location, gcs::Endpoints endpoints, GcsOptions options,
            std::shared_ptr<gcs::HttpClient> http, gcs::Credentials credentials,
            gcs::WallClock clock)
      : location_(std::move(location)),
        endpoints_(std::move(endpoints)),
        options_(options),
        http_(std::move(http)),
        credentials_(std::move(credentials)),
        clock_(std::move(clock)) {}

  const gcs::GcsLocation& location() const { return location_; }
  const gcs::Endpoints& endpoints() const { return endpoints_; }
  const GcsOptions& options() const { return options_; }
  const gcs::Credentials& credentials() const { return credentials_; }
  gcs::WallClock clock() const { return clock_; }

  std::string ObjectName(std::string_view key) const { return location_.prefix + std::string(key); }
  // "gs://bucket/name", for messages.
  std::string Uri(std::string_view name) const {
    return "gs://" + location_.bucket + "/" + std::string(name);
  }

  std::string ObjectUrl(std::string_view name) const {
    return endpoints_.json_api + "/b/" + gcs::PercentEncode(location_.bucket) + "/o/" +
           gcs::PercentEncode(name);
  }
  std::string UploadUrl() const {
    return endpoints_.upload_api + "/b/" + gcs::PercentEncode(location_.bucket) + "/o";
  }
  std::string ListUrl() const {
    return endpoints_.json_api + "/b/" + gcs::PercentEncode(location_.bucket) + "/o";
  }

  // Sends what `make` builds, with a bearer token when there are credentials, retrying
  // transient failures of `idempotent` requests. A 401 drops the cached token and sends once
  // more with a fresh one (a refused request was not carried out).
  StatusOr<RetriedResponse> Call(const std::function<HttpRequest()>& make, bool idempotent) const {
    int earlier_attempts = 0;
    for (int round = 0;; ++round) {
      std::string token_used;
      auto make_with_auth = [&]() -> StatusOr<HttpRequest> {
        HttpRequest request = make();
        if (credentials_.tokens != nullptr) {
          StatusOr<std::string> token = credentials_.tokens->Token();
          if (!token.has_value()) {
            return Status(token.error().code(), "gcs credentials: " + token.error().message());
          }
          token_used = *token;
          request.headers.push_back("Authorization: Bearer " + *token);
        }
        return request;
      };
      PYDEPOT_ASSIGN_OR_RETURN(
          RetriedResponse result,
          gcs::SendWithRetry(*http_, make_with_auth, options_.retry, idempotent));
      result.attempts += earlier_attempts;
      if (result.response.status == 401 && !token_used.empty() && round == 0) {
        credentials_.tokens->Invalidate(token_used);
        earlier_attempts = result.attempts;
        continue;
      }
      return result;
    }
  }

  // As Call, for a request without a streamed body (sent as it is on every attempt).
  StatusOr<RetriedResponse> Call(const HttpRequest& request, bool idempotent) const {
    return Call([&request] { return request; }, idempotent);
  }

  // objects.get: the object's metadata.
  StatusOr<ObjectMeta> GetMetadata(std::string_view name) const {
    HttpRequest request;
    request.url = ObjectUrl(name);
    request.timeout = kMetadataTimeout;
    PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse result, Call(request, /*idempotent=*/true));
    std::string what = "gcs objects.get " + Uri(name);
    if (result.response.status != 200) {
      return gcs::HttpError(what, result.response);
    }
    return ParseObjectResource(what, result.response.body);
  }

  // A media GET of bytes [offset, offset+length) of `name` (pinned to `generation` unless
  // empty); length -1: no Range header, the whole object.
  StatusOr<HttpResponse> GetMedia(std::string_view name, std::string_view generation,
                                  std::int64_t offset, std::int64_t length) const {
    HttpRequest request;
    request.url = ObjectUrl(name) + "?alt=media";
    if (!generation.empty()) {
      request.url += "&generation=" + std::string(generation);
    }
    if (length >= 0) {
      request.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                                std::to_string(offset + length - 1));
    }
    PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse result, Call(request, /*idempotent=*/true));
    return std::move(result.response);
  }

 private:
  gcs::GcsLocation location_;
  gcs::Endpoints endpoints_;
  GcsOptions options_;
  std::shared_ptr<gcs::HttpClient> http_;
  gcs::Credentials credentials_;
  gcs::WallClock clock_;
};

// The bytes and total size of a 206 answer ("Content-Range: bytes A-B/TOTAL"); checks that it
// starts at `offset`.
struct RangeAnswer {
  std::int64_t total = 0;
};
StatusOr<RangeAnswer> CheckContentRange(std::string_view what, const HttpResponse& response,
                                        std::int64_t offset) {
  std::string header = response.Header("content-range");
  std::string_view text = header;
  std::size_t dash = text.find('-');
  std::size_t slash = text.find('/');
  if (text.substr(0, 6) != "bytes " || dash == std::string_view::npos ||
      slash == std::string_view::npos || slash < dash) {
    return InternalError(std::string(what) + ": bad Content-Range \"" + header + "\"");
  }
  std::optional<std::int64_t> first = ParseInt(text.substr(6, dash - 6));
  std::optional<std::int64_t> last = ParseInt(text.substr(dash + 1, slash - dash - 1));
  std::optional<std::int64_t> total = ParseInt(text.substr(slash + 1));
  if (!first || !last || !total || *first != offset ||
      *last - *first + 1 != static_cast<std::int64_t>(response.body.size())) {
    return InternalError(std::string(what) + ": Content-Range \"" + header +
                         "\" does not match the request or the " +
                         std::to_string(response.body.size()) + " bytes received");
  }
  return RangeAnswer{*total};
}

Status OutsidePrefix(const std::string& what, const std::string& name) {
  return InternalError(what + ": the answer lists an object outside the prefix: " + name);
}

// The bytes a resumable session holds, from a 308's "Range: bytes=0-N" (none: 0); nullopt when
// malformed.
std::optional<std::int64_t> PersistedBytes(std::string_view range) {
  constexpr std::string_view kStart = "bytes=0-";
  if (range.empty()) {
    return 0;
  }
  if (range.substr(0, kStart.size()) != kStart) {
    return std::nullopt;
  }
  std::optional<std::int64_t> last = ParseInt(range.substr(kStart.size()));
  if (!last.has_value() || *last < 0) {
    return std::nullopt;
  }
  return *last + 1;
}

Status BadPersistedRange(const std::string& what, const std::string& range) {
  return InternalError(what + ": a 308 with the bad Range \"" + range + "\"");
}

class GcsReadStream final : public ReadStream {
 public:
  GcsReadStream(std::shared_ptr<const GcsClient> client, std::string name, std::string generation,
                std::string first_bytes, std::int64_t next, std::int64_t end)
      : client_(std::move(client)),
        name_(std::move(name)),
        generation_(std::move(generation)),
        buffer_(std::move(first_bytes)),
        next_(next),
        end_(end) {}

  StatusOr<std::size_t> Read(char* buf, std::size_t n) override {
    if (used_ == buffer_.size()) {
      if (next_ >= end_) {
        return std::size_t{0};
      }
      PYDEPOT_RETURN_IF_ERROR(Refill());
    }
    std::size_t take = std::min(n, buffer_.size() - used_);
    std::memcpy(buf, buffer_.data() + used_, take);
    used_ += take;
    return take;
  }

 private:
  Status Refill() {
    std::int64_t want = std::min(client_->options().read_chunk_size, end_ - next_);
    std::string what = "gcs read " + client_->Uri(name_) + " bytes " + std::to_string(next_) + "+" +
                       std::to_string(want);
    PYDEPOT_ASSIGN_OR_RETURN(HttpResponse response,
                             client_->GetMedia(name_, generation_, next_, want));
    if (response.status == 404) {
      return UnavailableError(what + ": generation " + generation_ +
                              " is gone: the object was replaced or deleted while being read");
    }
    if (response.status == 206) {
      PYDEPOT_RETURN_IF_ERROR(CheckContentRange(what, response, next_));
      buffer_ = std::move(response.body);
    } else if (response.status == 200 &&
               static_cast<std::int64_t>(response.body.size()) >= next_ + want) {
      buffer_ = response.body.substr(static_cast<std::size_t>(next_),
                                     static_cast<std::size_t>(want));  // Range ignored
    } else {
      return gcs::HttpError(what, response);
    }
    if (buffer_.empty()) {
      return InternalError(what + ": no bytes in the answer");
    }
    used_ = 0;
    next_ += static_cast<std::int64_t>(buffer_.size());
    return OkStatus();
  }

  std::shared_ptr<const GcsClient> client_;
  std::string name_;
  std::string generation_;
  std::string buffer_;
  std::size_t used_ = 0;
  std::int64_t next_;  // the first byte not yet fetched
  std::int64_t end_;
};

class GcsStorage final : public Storage {
 public:
  explicit GcsStorage(std::shared_ptr<const GcsClient> client) : client_(std::move(client)) {}

  std::string Describe() const override {
    const gcs::GcsLocation& location = client_->location();
    std::string prefix = location.prefix;
    if (!prefix.empty()) {
      prefix.pop_back();
    }
    return "gs://" + location.bucket + (prefix.empty() ? "" : "/" + prefix);
  }

  StatusOr<ObjectInfo> Head(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, client_->GetMetadata(client_->ObjectName(key)));
    return meta.info;
  }

  StatusOr<Object> Get(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string name = client_->ObjectName(key);
    std::string what = "gcs get " + client_->Uri(name);
    PYDEPOT_ASSIGN_OR_RETURN(HttpResponse response, client_->GetMedia(name, "", 0, -1));
    if (response.status != 200) {
      return gcs::HttpError(what, response);
    }
    Object object;
    object.info.etag = response.Header("x-goog-generation");
    object.info.size = static_cast<std::int64_t>(response.body.size());
    if (!IsDecimal(object.info.etag)) {
      return InternalError(what + ": no x-goog-generation in the answer");
    }
    std::string stored = response.Header("x-goog-stored-content-length");
    if (!stored.empty() && ParseInt(stored) != object.info.size) {
      return UnavailableError(what + ": got " + std::to_string(object.info.size) + " bytes of " +
                              stored);
    }
    std::string md5 = Md5FromGoogHash(response.Header("x-goog-hash"));
    if (!md5.empty() && md5 != Md5Base64(response.body)) {
      return UnavailableError(what + ": the bytes received do not match the object's MD5");
    }
    std::optional<std::int64_t> modified =
        gcs::ParseHttpDateMicros(response.Header("last-modified"));
    if (modified.has_value()) {
      object.info.modified_micros = *modified;
    } else {
      // No Last-Modified: ask for this generation's metadata.
      PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, client_->GetMetadata(name));
      if (meta.info.etag != object.info.etag) {
        return UnavailableError(what + ": the object was replaced while being read; try again");
      }
      object.info.modified_micros = meta.info.modified_micros;
    }
    object.data = std::move(response.body);
    return object;
  }

  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string name = client_->ObjectName(key);
    std::string what = "gcs open " + client_->Uri(name);
    auto bad_range = [&](std::int64_t size) {
      return InvalidArgumentError(what + ": range " + std::to_string(offset) + "+" +
                                  std::to_string(length) + " is outside the object's " +
                                  std::to_string(size) + " bytes");
    };
    if (offset < 0 || length < -1) {
      return bad_range(-1);
    }
    auto empty_stream = [&]() -> std::unique_ptr<ReadStream> {
      return std::make_unique<GcsReadStream>(client_, name, "", "", 0, 0);
    };
    if (length == 0) {
      PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, client_->GetMetadata(name));
      if (offset > meta.info.size) {
        return bad_range(meta.info.size);
      }
      return empty_stream();
    }
    std::int64_t first = length == -1 ? client_->options().read_chunk_size
                                      : std::min(client_->options().read_chunk_size, length);
    for (int attempt = 0;; ++attempt) {
      PYDEPOT_ASSIGN_OR_RETURN(HttpResponse response, client_->GetMedia(name, "", offset, first));
      if (response.status == 416) {
        // At or past the end (or an empty object): the size decides.
        PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, client_->GetMetadata(name));
        if (offset == meta.info.size) {
          return empty_stream();
        }
        if (offset > meta.info.size) {
          return bad_range(meta.info.size);
        }
        if (attempt < 2) {
          continue;  // the object grew in between
        }
        return UnavailableError(what + ": the object keeps changing size");
      }
      std::string generation = response.Header("x-goog-generation");
      if ((response.status == 200 || response.status == 206) && !IsDecimal(generation)) {
        return InternalError(what + ": no x-goog-generation in the answer");
      }
      std::int64_t size = 0;
      std::string bytes;
      if (response.status == 206) {
        PYDEPOT_ASSIGN_OR_RETURN(RangeAnswer range, CheckContentRange(what, response, offset));
        size = range.total;
        bytes = std::move(response.body);
      } else if (response.status == 200) {  // the Range was ignored: the whole object came
        size = static_cast<std::int64_t>(response.body.size());
        if (offset > size) {
          return bad_range(size);
        }
        std::int64_t take = std::min(first, size - offset);
        bytes =
            response.body.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(take));
      } else {
        return gcs::HttpError(what, response);
      }
      std::int64_t end = length == -1 ? size : std::min(size, offset + length);
      std::int64_t next = offset + static_cast<std::int64_t>(bytes.size());
      if (next > end) {  // never hand out more than asked for
        bytes.resize(static_cast<std::size_t>(end - offset));
        next = end;
      }
      return std::unique_ptr<ReadStream>(std::make_unique<GcsReadStream>(
          client_, name, std::move(generation), std::move(bytes), next, end));
    }
  }

  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    return UploadInOneRequest(client_->ObjectName(key), {MemoryPart(data)}, Md5Base64(data), "0",
                              StatusCode::kAlreadyExists);
  }

  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    PYDEPOT_ASSIGN_OR_RETURN(std::unique_ptr<SourceFile> file, SourceFile::Open(source));
    std::string name = client_->ObjectName(key);
    PYDEPOT_ASSIGN_OR_RETURN(std::string md5, file->Md5Base64());
    if (file->size() <= client_->options().resumable_threshold) {
      return UploadInOneRequest(name, {FilePart(*file, 0, file->size())}, md5, "0",
                                StatusCode::kAlreadyExists);
    }
    // A duplicate should not cost a big upload; the precondition decides anyway.
    StatusOr<ObjectMeta> existing = client_->GetMetadata(name);
    if (existing.has_value()) {
      return AlreadyExistsError(client_->Uri(name) + " already exists");
    }
    if (existing.error().code() != StatusCode::kNotFound) {
      return existing.error();
    }
    return UploadResumable(name, *file, md5);
  }

  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string name = client_->ObjectName(key);
    if (!expected_etag.empty() && !IsDecimal(expected_etag)) {
      // Not a generation: it matches no version of any object.
      return FailedPreconditionError(client_->Uri(name) + ": etag \"" + std::string(expected_etag) +
                                     "\" is not a GCS generation");
    }
    std::string generation = expected_etag.empty() ? "0" : std::string(expected_etag);
    return UploadInOneRequest(name, {MemoryPart(data)}, Md5Base64(data), generation,
                              StatusCode::kFailedPrecondition);
  }

  Status Delete(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string name = client_->ObjectName(key);
    std::string what = "gcs objects.delete " + client_->Uri(name);
    for (int round = 0;; ++round) {
      PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, client_->GetMetadata(name));
      // Conditional on the generation just seen, so a retried DELETE cannot remove a newer
      // object written meanwhile.
      HttpRequest request;
      request.method = "DELETE";
      request.url = client_->ObjectUrl(name) + "?ifGenerationMatch=" + meta.info.etag;
      request.timeout = kMetadataTimeout;
      PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse result, client_->Call(request, /*idempotent=*/true));
      long status = result.response.status;  // NOLINT(google-runtime-int)
      if (status == 200 || status == 204) {
        return OkStatus();
      }
      if (status == 404) {
        // Gone since the metadata GET: our own earlier attempt, or another deleter. Either way
        // the object this call saw is deleted.
        return OkStatus();
      }
      if (status == 412 && round < 5) {
        continue;  // replaced since the metadata GET: delete the new one
      }
      return gcs::HttpError(what, result.response);
    }
  }

  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    if (!IsValidKeyPrefix(prefix)) {
      return InvalidArgumentError("invalid storage key prefix \"" + std::string(prefix) + "\"");
    }
    const std::string& store_prefix = client_->location().prefix;
    std::string full_prefix = store_prefix + std::string(prefix);
    std::string what = "gcs objects.list " + client_->Uri(full_prefix);
    std::vector<std::string> keys;
    std::string page_token;
    while (true) {
      std::string url =
          client_->ListUrl() + "?prefix=" + gcs::PercentEncode(full_prefix) +
          "&maxResults=1000&fields=" + gcs::PercentEncode("items(name),nextPageToken");
      if (!page_token.empty()) {
        url += "&pageToken=" + gcs::PercentEncode(page_token);
      }
      HttpRequest request;
      request.url = url;
      request.timeout = kMetadataTimeout;
      PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse result, client_->Call(request, /*idempotent=*/true));
      if (result.response.status != 200) {
        return gcs::HttpError(what, result.response);
      }
      boost::system::error_code ec;
      json::value page = json::parse(result.response.body, ec);
      if (ec || !page.is_object()) {
        return InternalError(what + ": the answer is not a JSON object");
      }
      if (const json::value* items = page.get_object().if_contains("items")) {
        if (!items->is_array()) {
          return InternalError(what + ": \"items\" is not a list");
        }
        for (const json::value& item : items->get_array()) {
          std::string name = item.is_object() ? JsonString(item.get_object(), "name") : "";
          if (name.compare(0, full_prefix.size(), full_prefix) != 0) {
            return OutsidePrefix(what, name);
          }
          std::string key = name.substr(store_prefix.size());
          // Objects that are no key (a console's "folder/" placeholder) are not the store's.
          if (IsValidKey(key)) {
            keys.push_back(std::move(key));
          }
        }
      }
      page_token = JsonString(page.get_object(), "nextPageToken");
      if (page_token.empty()) {
        break;
      }
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    const gcs::Credentials& credentials = client_->credentials();
    if (credentials.signer == nullptr) {
      return UnimplementedError("presigned URLs: " + Describe() +
                                " signs URLs only with a service-account key file "
                                "(GOOGLE_APPLICATION_CREDENTIALS); the credentials in use are " +
                                credentials.description);
    }
    gcs::SignedUrlParams params;
    params.base_url = client_->endpoints().signing_base;
    params.host = client_->endpoints().signing_host;
    params.bucket = client_->location().bucket;
    params.object = client_->ObjectName(key);
    params.signer_email = credentials.signer_email;
    params.now = client_->clock()();
    params.ttl = ttl;
    std::shared_ptr<const gcs::RsaSigner> signer = credentials.signer;
    return gcs::MakeV4SignedGetUrl(params,
                                   [&signer](std::string_view data) { return signer->Sign(data); });
  }

 private:
  // After a retried write met 412: whether the object there is our own first attempt.
  StatusOr<std::optional<ObjectInfo>> OurOwnWrite(const std::string& name,
                                                  const std::string& write_id) {
    StatusOr<ObjectMeta> meta = client_->GetMetadata(name);
    if (!meta.has_value()) {
      if (meta.error().code() == StatusCode::kNotFound) {
        return std::optional<ObjectInfo>();
      }
      return meta.error();
    }
    if (meta->write_id == write_id) {
      return std::optional<ObjectInfo>(meta->info);
    }
    return std::optional<ObjectInfo>();
  }

  Status PreconditionFailed(const std::string& name, const std::string& generation,
                            StatusCode code) {
    std::string message = generation == "0" ? client_->Uri(name) + " already exists"
                                            : client_->Uri(name) + ": generation is not " +
                                                  generation + " (replaced or deleted meanwhile)";
    return Status(code, message);
  }

  std::string ObjectResourceJson(const std::string& name, const std::string& write_id,
                                 const std::string& md5) {
    json::object metadata;
    metadata[kWriteIdKey] = write_id;
    json::object resource;
    resource["name"] = name;
    resource["contentType"] = "application/octet-stream";
    resource["metadata"] = std::move(metadata);
    if (!md5.empty()) {
      resource["md5Hash"] = md5;  // GCS checks the bytes against it
    }
    return json::serialize(resource);
  }

  // uploadType=multipart: the object resource and the bytes in one request.
  StatusOr<ObjectInfo> UploadInOneRequest(const std::string& name, std::vector<BodyPart> data,
                                          const std::string& md5, const std::string& generation,
                                          StatusCode conflict_code) {
    std::string what = "gcs upload " + client_->Uri(name);
    std::string write_id = RandomHex(16);
    // 128 random bits: the odds that the bytes contain the boundary are nil.
    std::string boundary = "pydepot-" + RandomHex(16);
    std::string head = "--" + boundary +
                       "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" +
                       ObjectResourceJson(name, write_id, md5) + "\r\n--" + boundary +
                       "\r\nContent-Type: application/octet-stream\r\n\r\n";
    std::string tail = "\r\n--" + boundary + "--\r\n";
    std::int64_t data_size = TotalSize(data);
    std::vector<BodyPart> parts;
    parts.push_back(MemoryPart(head));
    parts.insert(parts.end(), data.begin(), data.end());
    parts.push_back(MemoryPart(tail));
    std::string url =
        client_->UploadUrl() + "?uploadType=multipart&ifGenerationMatch=" + generation;
    // A fresh body reader for every attempt.
    auto make = [&] {
      HttpRequest request;
      request.method = "POST";
      request.url = url;
      request.headers.push_back("Content-Type: multipart/related; boundary=" + boundary);
      request.body_size = TotalSize(parts);
      request.body_reader = ConcatReader(parts);
      return request;
    };
    PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse result, client_->Call(make, /*idempotent=*/true));
    return FinishUpload(what, name, result, write_id, md5, data_size, generation, conflict_code);
  }

  // The outcome of the request that completed an upload.
  StatusOr<ObjectInfo> FinishUpload(const std::string& what, const std::string& name,
                                    const RetriedResponse& result, const std::string& write_id,
                                    const std::string& md5, std::int64_t size,
                                    const std::string& generation, StatusCode conflict_code) {
    long status = result.response.status;  // NOLINT(google-runtime-int)
    if (status == 200 || status == 201) {
      PYDEPOT_ASSIGN_OR_RETURN(ObjectMeta meta, ParseObjectResource(what, result.response.body));
      if (meta.info.size != size || (!md5.empty() && !meta.md5.empty() && meta.md5 != md5)) {
        return InternalError(what + ": the stored object (" + std::to_string(meta.info.size) +
                             " bytes, md5 " + meta.md5 + ") is not what was sent (" +
                             std::to_string(size) + " bytes, md5 " + md5 + ")");
      }
      return meta.info;
    }
    if (status == 412) {
      if (result.attempts > 1) {
        PYDEPOT_ASSIGN_OR_RETURN(std::optional<ObjectInfo> ours, OurOwnWrite(name, write_id));
        if (ours.has_value()) {
          return *ours;  // an earlier attempt succeeded; its answer was lost
        }
      }
      return PreconditionFailed(name, generation, conflict_code);
    }
    return gcs::HttpError(what, result.response);
  }

  // A resumable upload of `file` (create-only), chunk by chunk, resuming after failures from
  // what the server reports as persisted.
  StatusOr<ObjectInfo> UploadResumable(const std::string& name, const SourceFile& file,
                                       const std::string& md5) {
    std::string what = "gcs resumable upload " + client_->Uri(name);
    const GcsOptions& options = client_->options();
    std::int64_t total = file.size();
    std::string write_id = RandomHex(16);
    int sent_requests = 0;
    for (int restart = 0;; ++restart) {
      // Start a session.
      HttpRequest start;
      start.method = "POST";
      start.url = client_->UploadUrl() + "?uploadType=resumable&ifGenerationMatch=0";
      start.headers = {"Content-Type: application/json; charset=UTF-8",
                       "X-Upload-Content-Type: application/octet-stream",
                       "X-Upload-Content-Length: " + std::to_string(total)};
      start.body = ObjectResourceJson(name, write_id, md5);
      start.timeout = kMetadataTimeout;
      PYDEPOT_ASSIGN_OR_RETURN(RetriedResponse started, client_->Call(start, /*idempotent=*/true));
      if (started.response.status == 412) {
        return AlreadyExistsError(client_->Uri(name) + " already exists");
      }
      if (started.response.status != 200 && started.response.status != 201) {
        return gcs::HttpError(what + " (start)", started.response);
      }
      std::string session = started.response.Header("location");
      if (session.empty()) {
        return InternalError(what + ": the start answer has no Location");
      }

      std::int64_t offset = 0;
      int failures = 0;
      bool session_lost = false;
      while (!session_lost) {
        std::int64_t length = std::min(options.upload_chunk_size, total - offset);
        std::string range = "Content-Range: bytes " + std::to_string(offset) + "-" +
                            std::to_string(offset + length - 1) + "/" + std::to_string(total);
        ++sent_requests;
        auto make_chunk = [&] {
          HttpRequest request;
          request.method = "PUT";
          request.url = session;
          request.headers = {range};
          request.body_size = length;
          request.body_reader = ConcatReader({FilePart(file, offset, length)});
          return request;
        };
        // Not retried as it is: after a failure the session says what it holds (below).
        StatusOr<RetriedResponse> put = client_->Call(make_chunk, /*idempotent=*/false);
        bool failed = !put.has_value() ? put.error().code() == StatusCode::kUnavailable
                                       : gcs::IsRetryableStatus(put->response.status);
        if (!put.has_value() && !failed) {
          return put.error();
        }
        if (failed) {
          // The chunk may or may not have arrived: ask the session what it holds.
          if (++failures >= options.retry.max_attempts) {
            return put.has_value() ? gcs::HttpError(what, put->response)
                                   : UnavailableError(what + ": " + put.error().message());
          }
          gcs::Backoff(options.retry, failures);
          ++sent_requests;
          HttpRequest query;
          query.method = "PUT";
          query.url = session;
          query.headers = {"Content-Range: bytes */" + std::to_string(total)};
          query.timeout = kMetadataTimeout;
          put = client_->Call(query, /*idempotent=*/true);
          if (!put.has_value()) {
            return put.error();
          }
          if (gcs::IsRetryableStatus(put->response.status)) {
            return gcs::HttpError(what + " (status)", put->response);
          }
        }
        const HttpResponse& response = put->response;
        if (response.status == 308) {
          std::optional<std::int64_t> persisted = PersistedBytes(response.Header("range"));
          if (!persisted.has_value() || *persisted > total) {
            return BadPersistedRange(what, response.Header("range"));
          }
          if (*persisted > offset) {
            failures = 0;  // progress
          }
          offset = *persisted;
          continue;
        }
        if (response.status == 404 || response.status == 410) {
          session_lost = true;  // expired or cancelled: start over
          continue;
        }
        RetriedResponse final_answer = *put;
        final_answer.attempts = sent_requests;
        return FinishUpload(what, name, final_answer, write_id, md5, total, "0",
                            StatusCode::kAlreadyExists);
      }
      if (restart >= kMaxSessionRestarts) {
        return UnavailableError(what + ": the upload session was lost " +
                                std::to_string(restart + 1) + " times");
      }
    }
  }

  std::shared_ptr<const GcsClient> client_;
};

// Reads a byte count from the environment into `value`.
Status ReadSizeKnob(const gcs::EnvLookup& env, std::string_view name, std::int64_t minimum,
                    std::int64_t& value) {
  std::optional<std::string> text = env(name);
  if (!text.has_value() || text->empty()) {
    return OkStatus();
  }
  std::optional<std::int64_t> parsed = ParseInt(*text);
  if (!parsed.has_value() || *parsed < minimum) {
    return InvalidArgumentError(std::string(name) + "=" + *text +
                                ": want a byte count of at least " + std::to_string(minimum));
  }
  value = *parsed;
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Storage>> NewGcsStorage(std::string_view url, GcsConfig config) {
  PYDEPOT_RETURN_IF_ERROR(InitCrypto());  // RandomBytes needs it
  PYDEPOT_ASSIGN_OR_RETURN(gcs::GcsLocation location, gcs::ParseGcsUrl(url));
  GcsOptions options = config.options;
  PYDEPOT_RETURN_IF_ERROR(
      ReadSizeKnob(config.env, "PYDEPOT_GCS_RESUMABLE_THRESHOLD", 0, options.resumable_threshold));
  PYDEPOT_RETURN_IF_ERROR(ReadSizeKnob(config.env, "PYDEPOT_GCS_UPLOAD_CHUNK_SIZE", kChunkAlign,
                                       options.upload_chunk_size));
  PYDEPOT_RETURN_IF_ERROR(
      ReadSizeKnob(config.env, "PYDEPOT_GCS_READ_CHUNK_SIZE", 1, options.read_chunk_size));
  if (options.upload_chunk_size <= 0 || options.upload_chunk_size % kChunkAlign != 0) {
    return InvalidArgumentError("gcs: the upload chunk size " +
                                std::to_string(options.upload_chunk_size) +
                                " is not a multiple of 256 KiB (262144), as GCS requires");
  }
  if (options.read_chunk_size <= 0 || options.resumable_threshold < 0) {
    return InvalidArgumentError("gcs: read chunk size and resumable threshold must be positive");
  }
  std::optional<std::string> emulator_host = config.env("STORAGE_EMULATOR_HOST");
  PYDEPOT_ASSIGN_OR_RETURN(gcs::Endpoints endpoints,
                           gcs::MakeEndpoints(emulator_host.value_or("")));
  auto http = std::make_shared<gcs::HttpClient>();
  PYDEPOT_ASSIGN_OR_RETURN(
      gcs::Credentials credentials,
      gcs::SelectCredentials(config.env, endpoints.emulator, http, config.clock, options.retry));
  auto client = std::make_shared<const GcsClient>(std::move(location), std::move(endpoints),
                                                  options, std::move(http), std::move(credentials),
                                                  std::move(config.clock));
  return std::unique_ptr<Storage>(std::make_unique<GcsStorage>(std::move(client)));
}

StatusOr<std::unique_ptr<Storage>> OpenGcsStorage(std::string_view url) {
  return NewGcsStorage(url, GcsConfig{});
}

}  // namespace pydepot::storage
