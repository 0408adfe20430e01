#include "http/handlers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <iostream>

#include <boost/json.hpp>

#include "http/form.h"
#include "http/handlers_internal.h"
#include "http/multipart.h"
#include "http/negotiate.h"
#include "index/upload_validation.h"
#include "model/project_name.h"
#include "model/version.h"
#include "ops/audit.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "render/render.h"
#include "storage/keys.h"
#include "upstream/proxy.h"

namespace pydepot::http {

namespace json = boost::json;
using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {
// ASCII only, as header names are (std::tolower is a call into the locale per character: this
// runs for every header lookup of every request).
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  constexpr auto lower = [](unsigned char c) {
    return static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [&](unsigned char x, unsigned char y) { return lower(x) == lower(y); });
}
}  // namespace

std::string_view RequestHead::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return {};
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::int64_t Response::ContentLength() const {
  if (declared_length) {
    return *declared_length;
  }
  if (stream || file.valid()) {
    return stream_length;
  }
  if (page_owner) {
    return static_cast<std::int64_t>(page.size());
  }
  return static_cast<std::int64_t>(body.size());
}

void Response::SetHeader(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      existing = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

namespace internal {

constexpr std::string_view kOctetStream = "application/octet-stream";

std::string ReasonPhraseSafe(std::string_view message) {
  std::string out;
  out.reserve(std::min<std::size_t>(message.size(), 400));
  for (unsigned char c : message) {
    if (out.size() >= 400) {
      break;
    }
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

std::string_view StandardTitle(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
// Decodes %XX escapes of a path segment. nullopt, with `why` set to a message for the client,
// for a broken escape and for what no pydepot URL holds: NUL and other control characters,
// '/' and '\\' (plain or encoded), bytes that are not UTF-8.
std::optional<std::string> DecodeSegment(std::string_view segment, std::string_view& why) {
  std::string out;
  out.reserve(segment.size());
  bool high = false;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '%') {
      // from_chars alone would take a sign ("%-1").
      if (i + 2 >= segment.size()) {
        why = "Malformed path: a '%' that does not start a %XX escape.";
        return std::nullopt;
      }
      if (!std::isxdigit(static_cast<unsigned char>(segment[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(segment[i + 2]))) {
        why = "Malformed path: a '%' that does not start a %XX escape.";
        return std::nullopt;
      }
      unsigned value = 0;
      std::from_chars(segment.data() + i + 1, segment.data() + i + 3, value, 16);
      c = static_cast<char>(value);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      why = "Malformed path: NUL and control characters are not allowed in URLs.";
      return std::nullopt;
    }
    if (c == '/' || c == '\\') {
      why = "Malformed path: an encoded '/' or a '\\' is not allowed in URLs.";
      return std::nullopt;
    }
    high = high || u >= 0x80;
    out.push_back(c);
  }
  if (high && !IsUtf8(out)) {
    why = "Malformed path: the URL is not valid UTF-8 once decoded.";
    return std::nullopt;
  }
  return out;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;  // "/a/b/" -> {"a", "b", ""}
}

namespace {

Response RedirectResponse(unsigned status, std::string location, std::string cache_control) {
  Response res;
  res.status = status;
  res.SetHeader("Location", std::move(location));
  // The request may have carried credentials: no shared cache keeps the answer.
  res.SetHeader("Cache-Control", std::move(cache_control));
  res.SetHeader("Content-Type", "text/plain; charset=utf-8");
  res.body = status == 301 ? "Moved\n" : "See other\n";
  return res;
}

}  // namespace

Response Redirect(std::string location) {
  return RedirectResponse(301, std::move(location), "private, no-cache");
}

Response SeeOther(std::string location) {
  return RedirectResponse(303, std::move(location), "private, no-store");
}

std::string RootOf(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  const auto slashes = std::count(path.begin(), path.end(), '/');
  std::string root;
  for (std::ptrdiff_t i = 1; i < slashes; ++i) {
    root += "../";
  }
  return root;
}

Response LoginRedirect(const RequestHead& head) {
  // Back to the same page after logging in: `next` is the page's path relative to the site
  // root (the login form only ever redirects within the site).
  std::string_view target = head.target;
  target.remove_prefix(target.empty() ? 0 : 1);
  return SeeOther(RootOf(head.target) + "login?next=" + render::PercentEncode(target));
}

Response HtmlResponse(unsigned status, std::string body) {
  Response res;
  res.status = status;
  res.body = std::move(body);
  res.SetHeader("Content-Type", std::string(render::kContentTypeHtml));
  res.SetHeader("Cache-Control", "private, no-store");
  return res;
}

Response JsonResponse(unsigned status, std::string body) {
  Response res;
  res.status = status;
  res.body = std::move(body);
  res.SetHeader("Content-Type", "application/json");
  res.SetHeader("Cache-Control", "private, no-store");
  return res;
}

Response MethodNotAllowed(std::string allow, std::string_view message) {
  Response res = ErrorResponse(405, message);
  res.SetHeader("Allow", std::move(allow));
  return res;
}

// True when If-None-Match lists `etag` (or is "*"); weak comparison as RFC 9110 asks for GET.
bool IfNoneMatchHits(std::string_view header, std::string_view etag) {
  if (header.empty()) {
    return false;
  }
  std::string_view strong = etag;
  std::size_t start = 0;
  while (start < header.size()) {
    std::size_t comma = header.find(',', start);
    std::string_view item = header.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? header.size() : comma + 1;
    while (!item.empty() && item.front() == ' ') {
      item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
      item.remove_suffix(1);
    }
    if (item == "*") {
      return true;
    }
    if (item.starts_with("W/")) {
      item.remove_prefix(2);
    }
    if (item == strong) {
      return true;
    }
  }
  return false;
}

// A page from the cache: 304 when the client holds it, else the bytes (shared, not copied).
// A page from the cache: 304 when the client holds it, else the bytes (shared, not copied),
// gzip-compressed when the page has a compressed form and the client accepts it.
Response PageResponse(const RequestHead& head, std::shared_ptr<const void> owner,
                      const index::Page& page, std::string_view content_type,
                      std::string_view cache_control, bool vary_accept) {
  const bool compressible = !page.gzip.empty();
  const bool gzip = compressible && AcceptsGzip(head.Header("Accept-Encoding"));
  const std::string& etag = gzip ? page.gzip_etag : page.etag;
  Response res;
  // A fresh response: the headers are appended, not looked up first (the hot path of every
  // page). Room for the caller's X-PyPI-Last-Serial and the server's X-Request-Id.
  res.headers.reserve(8);
  res.headers.emplace_back("ETag", etag);
  res.headers.emplace_back("Cache-Control", cache_control);
  if (vary_accept) {
    res.headers.emplace_back(
        "Vary", compressible ? "Accept, Authorization, Accept-Encoding" : "Accept, Authorization");
  } else if (compressible) {
    res.headers.emplace_back("Vary", "Accept-Encoding");
  }
  if (IfNoneMatchHits(head.Header("If-None-Match"), etag)) {
    res.status = 304;
    return res;
  }
  res.headers.emplace_back("Content-Type", content_type);
  if (gzip) {
    res.headers.emplace_back("Content-Encoding", "gzip");
  }
  // A large page goes out with sendfile from its sealed memfd: one copy fewer than write(2).
  const auto& sealed = gzip ? page.gzip_file : page.body_file;
  if (sealed) {
    FileDescriptor file(::dup(sealed->fd()));
    if (file.valid()) {
      res.file = std::move(file);
      res.file_offset = 0;
      res.stream_length = static_cast<std::int64_t>(sealed->size());
      return res;
    }
  }
  res.page_owner = std::move(owner);
  res.page = gzip ? std::string_view(page.gzip) : std::string_view(page.body);
  return res;
}

struct ByteRange {
  std::int64_t first = 0;
  std::int64_t length = 0;
};

// Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range against `size`. nullopt: ignore
// the header (malformed or multi-range: send the whole file); a range with length -1 means
// unsatisfiable (416).
std::optional<ByteRange> ParseRange(std::string_view header, std::int64_t size) {
  if (!header.starts_with("bytes=")) {
    return std::nullopt;
  }
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  auto parse = [](std::string_view text, std::int64_t* out) {
    if (text.empty()) {
      return false;
    }
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && ptr == text.data() + text.size() && *out >= 0;
  };
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::string_view a = spec.substr(0, dash);
  std::string_view b = spec.substr(dash + 1);
  if (a.empty()) {
    std::int64_t suffix = 0;
    if (!parse(b, &suffix)) {
      return std::nullopt;
    }
    if (suffix == 0 || size == 0) {
      return ByteRange{0, -1};
    }
    suffix = std::min(suffix, size);
    return ByteRange{size - suffix, suffix};
  }
  if (!parse(a, &first)) {
    return std::nullopt;
  }
  if (b.empty()) {
    last = size - 1;
  } else if (!parse(b, &last) || last < first) {
    return std::nullopt;
  }
  if (first >= size) {
    return ByteRange{0, -1};
  }
  last = std::min(last, size - 1);
  return ByteRange{first, last - first + 1};
}

}  // namespace internal

Response ErrorResponse(unsigned status, std::string_view message, std::string_view accept) {
  Response res;
  res.status = status;
  res.reason = ReasonPhraseSafe(message);
  if (!accept.empty() && PrefersJsonErrors(accept)) {
    json::object body;
    body["message"] = message;
    body["code"] = std::to_string(status) + " " + res.reason;
    body["title"] = StandardTitle(status);
    res.body = json::serialize(body);
    res.SetHeader("Content-Type", "application/json");
  } else {
    res.body = std::string(message) + "\n";
    res.SetHeader("Content-Type", "text/plain; charset=utf-8");
  }
  res.SetHeader("Cache-Control", "private, no-store");
  return res;
}

unsigned HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 503;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

Handlers::Handlers(index::Index& index, auth::Authenticator& authenticator, HandlerOptions options)
    : index_(index),
      authenticator_(authenticator),
      options_(std::move(options)),
      throttle_(options_.throttle) {}

Handlers::~Handlers() = default;

bool Handlers::IsUpload(const RequestHead& head) {
  if (head.method != "POST") {
    return false;
  }
  std::string_view path = head.target;
  path = path.substr(0, path.find('?'));
  return path == "/" || path == "/legacy/" || path == "/legacy";
}

namespace {

// 429 for a client past the throttle's limits (auth/throttle.h).
Response TooManyFailures(const auth::LoginThrottle::Verdict& verdict, std::string_view accept) {
  const std::string seconds = std::to_string(verdict.retry_after.count());
  Response res =
      ErrorResponse(429,
                    std::string(verdict.by_address ? "Too many failed logins from your address"
                                                   : "Too many failed logins for this user name") +
                        "; retry in " + seconds + " seconds.",
                    accept);
  res.SetHeader("Retry-After", seconds);
  return res;
}

}  // namespace

std::variant<Handlers::Principal, Response> Handlers::Identify(const RequestHead& head,
                                                               Mode& mode) {
  std::string_view authorization = head.Header("Authorization");
  if (authorization.empty()) {
    const std::string_view cookie = CookieValue(head.Header("Cookie"), kSessionCookie);
    if (!cookie.empty()) {
      std::optional<StatusOr<auth::Access>> session;
      if (mode.memory_only) {
        session = authenticator_.AuthenticateSessionCached(cookie);
        if (!session) {
          mode.would_block = true;
          return ErrorResponse(503, "retry");
        }
      } else {
        session = authenticator_.AuthenticateSession(cookie);
      }
      if (session->has_value()) {
        return **std::move(session);
      }
      if (session->error().code() != StatusCode::kUnauthenticated) {
        return ErrorResponse(503, "Cannot check your session right now; retry.",
                             head.Header("Accept"));
      }
      // An ended or expired session: the visitor is anonymous (pages send it to the login).
    }
    Principal anonymous;
    anonymous.everywhere = options_.public_read ? auth::Role::kRead : auth::Role::kNone;
    return anonymous;
  }
  auto credentials = auth::ParseBasicAuthorization(authorization);
  StatusOr<auth::Access> access = UnauthenticatedError("no credentials");
  const auto now = auth::LoginThrottle::Clock::now();
  if (!credentials.has_value()) {
    access = credentials.error();
  } else if (auto verdict = throttle_.Check(head.remote_address, credentials->user, now);
             !verdict.allowed) {
    // Too many failures: refused without looking at the password, cached or not (a cache hit
    // would otherwise answer guesses at full speed).
    return TooManyFailures(verdict, head.Header("Accept"));
  } else if (mode.memory_only) {
    auto cached = authenticator_.AuthenticateCached(credentials->user, credentials->password);
    if (!cached) {
      mode.would_block = true;
      return ErrorResponse(503, "retry");
    }
    access = *std::move(cached);
  } else {
    access = authenticator_.Authenticate(credentials->user, credentials->password);
  }
  if (!access.has_value()) {
    if (access.error().code() != StatusCode::kUnauthenticated) {
      return ErrorResponse(503, "Cannot check credentials right now; retry.",
                           head.Header("Accept"));
    }
    if (credentials.has_value()) {
      throttle_.RecordFailure(head.remote_address, credentials->user, now);
    }
    // One message whatever was wrong (the user name, the password or the token): no
    // enumeration.
    Response res = ErrorResponse(401, "Invalid user name or password.", head.Header("Accept"));
    res.SetHeader("WWW-Authenticate", std::string(kRealm));
    return res;
  }
  return *std::move(access);
}

std::optional<Response> Handlers::Require(const RequestHead& head, const Principal& who,
                                          auth::Role needed, std::string_view project,
                                          bool browser) const {
  const auth::Role held = project.empty() ? who.everywhere : who.On(project);
  if (held >= needed) {
    return std::nullopt;
  }
  if (who.user.empty()) {
    if (browser) {
      return LoginRedirect(head);
    }
    Response res = ErrorResponse(401,
                                 "Authentication required: send your user name and password "
                                 "(HTTP basic auth).",
                                 head.Header("Accept"));
    res.SetHeader("WWW-Authenticate", std::string(kRealm));
    return res;
  }
  std::string what = needed == auth::Role::kUpload  ? "upload"
                     : needed == auth::Role::kAdmin ? "do this (admin only)"
                                                    : "read this";
  if (!project.empty()) {
    what += " (project '" + std::string(project) + "')";
  }
  const std::string who_text =
      who.token_id.empty()
          ? "User '" + who.user + "' (role " + std::string(auth::RoleName(who.everywhere)) + ")"
          : "This API token (of user '" + who.user + "')";
  return ErrorResponse(403, who_text + " may not " + what + ".", head.Header("Accept"));
}

std::variant<Handlers::Principal, Response> Handlers::Authorize(const RequestHead& head,
                                                                auth::Role needed, Mode& mode,
                                                                std::string_view project) {
  auto who = Identify(head, mode);
  if (auto* principal = std::get_if<Principal>(&who)) {
    if (auto refused = Require(head, *principal, needed, project)) {
      return *std::move(refused);
    }
  }
  return who;
}

namespace internal {

// True when `doc` has a release whose key matches `version`'s (1.0.0 finds 1.0).
bool HasRelease(const doc::ProjectDoc& doc, std::string_view version) {
  const std::string key = model::Version::ParseLenient(version).ReleaseKey();
  if (doc.releases.contains(key)) {
    return true;
  }
  return std::any_of(doc.files.begin(), doc.files.end(),
                     [&](const doc::FileEntry& file) { return file.release_key == key; });
}

std::string UnavailableMessage(const Status& status) {
  if (status.message().starts_with("upstream")) {
    // The upstream's own words (docs/upstream.md): which index failed and how.
    return "The upstream index is unavailable and this was never fetched from it: " +
           status.message();
  }
  return "Index unavailable; retry.";
}

std::string_view PageCacheControl(bool authenticated) {
  // Pages change on upload and yank: clients must revalidate (cheap: 304 on the ETag).
  return authenticated ? "private, no-cache" : "public, no-cache";
}

std::string_view FileCacheControl(bool authenticated) {
  // Files never change once stored (FILE-03).
  return authenticated ? "private, max-age=365000000, immutable"
                       : "public, max-age=365000000, immutable";
}

}  // namespace internal

Response Handlers::Handle(const RequestHead& head) {
  Mode mode;
  return Route(head, mode);
}

std::optional<Response> Handlers::TryHandleInMemory(const RequestHead& head) {
  Mode mode{.memory_only = true};
  Response res = Route(head, mode);
  if (mode.would_block) {
    return std::nullopt;
  }
  return res;
}

StatusOr<std::shared_ptr<const index::ProjectView>> Handlers::LookupProject(std::string_view name,
                                                                            Mode& mode) {
  if (!mode.memory_only) {
    return index_.GetProject(name);
  }
  auto cached = index_.PeekProject(name);
  if (!cached) {
    mode.would_block = true;
    return UnavailableError("not in memory");
  }
  return *std::move(cached);
}

StatusOr<Handlers::Served> Handlers::LookupServed(std::string_view name, Mode& mode) {
  auto local = LookupProject(name, mode);
  upstream::Proxy* proxy = options_.upstream;
  if (local.has_value()) {
    if (proxy == nullptr || !(*local)->doc.upstream_allowed) {
      return Served{*local, *local};
    }
    if (mode.memory_only) {
      mode.would_block = true;
      return UnavailableError("not in memory");
    }
    return Served{proxy->Merge(*local), *local};
  }
  if (proxy == nullptr || local.error().code() != StatusCode::kNotFound || mode.would_block) {
    return local.error();
  }
  // Dependency confusion: a name with a project document (uploaded, deleted or claimed) is
  // private, and the upstream is never even asked about it. That needs the store, so upstream
  // projects are served from the blocking pool.
  if (mode.memory_only) {
    mode.would_block = true;
    return UnavailableError("not in memory");
  }
  auto is_private = index_.IsPrivateName(name);
  if (!is_private.has_value()) {
    return is_private.error();
  }
  if (*is_private) {
    return NotFoundError("no such project");
  }
  auto remote = proxy->GetProject(name);
  if (!remote.has_value()) {
    return remote.error();
  }
  return Served{*std::move(remote), nullptr};
}

StatusOr<std::shared_ptr<const index::ProjectView>> Handlers::LookupView(std::string_view name,
                                                                         Mode& mode) {
  auto served = LookupServed(name, mode);
  if (!served.has_value()) {
    return served.error();
  }
  return std::move(served->view);
}

StatusOr<std::shared_ptr<const index::RootView>> Handlers::LookupRoot(Mode& mode) {
  if (!mode.memory_only) {
    return index_.GetRoot();
  }
  auto cached = index_.PeekRoot();
  if (!cached) {
    mode.would_block = true;
    return UnavailableError("not in memory");
  }
  return *std::move(cached);
}

bool Handlers::TakesBody(const RequestHead& head) {
  if (head.method != "POST" && head.method != "PUT" && head.method != "PATCH" &&
      head.method != "DELETE") {
    return false;
  }
  std::string_view path = head.target;
  path = path.substr(0, path.find('?'));
  return path == "/login" || path == "/logout" || path.starts_with("/account/") ||
         path.starts_with("/manage/") || path.starts_with("/api/");
}

Response Handlers::Route(const RequestHead& head, Mode& mode) {
  std::string_view target = head.target;
  std::string_view path = target.substr(0, target.find('?'));
  if (path.empty() || path.front() != '/') {
    return ErrorResponse(400, "Request target must be an absolute path.");
  }
  if (auto ops = RouteOps(head, path, mode)) {  // /healthz, /readyz, /metrics (ops_handlers.cc)
    return *std::move(ops);
  }
  const bool is_get = head.method == "GET" || head.method == "HEAD";
  if (!is_get && !TakesBody(head)) {
    if (path.starts_with("/simple")) {
      return MethodNotAllowed("GET, HEAD",
                              "Method not allowed on the simple index. Upload to /legacy/.");
    }
    return MethodNotAllowed(
        path == "/" || path.starts_with("/legacy") ? "GET, HEAD, POST" : "GET, HEAD",
        "Method " + head.method.substr(0, 32) + " is not allowed here.");
  }

  std::vector<std::string_view> parts = SplitPath(path);
  std::vector<std::string> segments;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view why;
    auto decoded = DecodeSegment(parts[i], why);
    if (!decoded) {
      return ErrorResponse(400, why, head.Header("Accept"));
    }
    if (*decoded == "." || *decoded == "..") {
      return ErrorResponse(400, "Malformed path: '.' and '..' segments are not allowed in URLs.",
                           head.Header("Accept"));
    }
    if (decoded->empty() && i + 1 != parts.size()) {
      return ErrorResponse(400, "Malformed path: empty segment ('//').", head.Header("Accept"));
    }
    segments.push_back(*std::move(decoded));
  }
  const bool trailing_slash = !segments.empty() && segments.back().empty();
  if (trailing_slash) {
    segments.pop_back();
  }

  Response res;
  if (!segments.empty() && segments[0] == "api") {
    res = RouteApi(head, segments, mode);
    res.head_only = head.method == "HEAD";
    return res;
  }
  if (auto ui = RouteUi(head, segments, trailing_slash, mode)) {
    res = *std::move(ui);
    res.head_only = head.method == "HEAD";
    return res;
  }
  if (!is_get) {
    return MethodNotAllowed("GET, HEAD",
                            "Method " + head.method.substr(0, 32) + " is not allowed here.");
  }

  // Identifies the caller, checks `needed` on `project` ("" for all), and runs `fn`.
  auto run = [&](std::string_view project, bool browser, auto&& fn) {
    auto who = Identify(head, mode);
    if (auto* refused = std::get_if<Response>(&who)) {
      return std::move(*refused);
    }
    const Principal& principal = std::get<Principal>(who);
    if (auto refused = Require(head, principal, auth::Role::kRead, project, browser)) {
      return *std::move(refused);
    }
    return fn(principal);
  };

  if (segments.empty()) {
    res = run("", true, [&](const Principal& who) { return HumanRoot(head, who, mode); });
  } else if (segments[0] == "simple") {
    if (segments.size() == 1) {
      res = trailing_slash
                ? run("", false, [&](const Principal& who) { return SimpleRoot(head, who, mode); })
                : Redirect("/simple/");
    } else if (segments.size() == 2) {
      const std::string normalized = model::NormalizeProjectName(segments[1]);
      if (!trailing_slash || normalized != segments[1]) {
        res = Redirect("/simple/" + render::PercentEncode(normalized) + "/");
      } else {
        res = run(normalized, false,
                  [&](const Principal& who) { return SimpleProject(head, normalized, who, mode); });
      }
    } else {
      res = ErrorResponse(404, "Not found.");
    }
  } else if (segments[0] == "files" && segments.size() == 3 && !trailing_slash) {
    res = run(model::NormalizeProjectName(segments[1]), false, [&](const Principal& who) {
      return File(head, segments[1], segments[2], who, mode);
    });
  } else if (segments[0] == "pypi" && segments.size() >= 3 && segments.size() <= 4 &&
             segments.back() == "json") {
    const std::string normalized = model::NormalizeProjectName(segments[1]);
    if (normalized != segments[1]) {
      std::string location = "/pypi/" + render::PercentEncode(normalized) + "/";
      if (segments.size() == 4) {
        location += render::PercentEncode(segments[2]) + "/";
      }
      res = Redirect(location + "json");
    } else {
      std::optional<std::string_view> version;
      if (segments.size() == 4) {
        version = segments[2];
      }
      res = run(normalized, false, [&](const Principal& who) {
        return PypiJson(head, normalized, version, who, mode);
      });
    }
  } else if (segments[0] == "project" && (segments.size() == 2 || segments.size() == 3)) {
    // /project/<name>/ and /project/<name>/<version>/ (PyPI JSON's release_url).
    const std::string normalized = model::NormalizeProjectName(segments[1]);
    std::optional<std::string_view> version;
    std::string location = "/project/" + render::PercentEncode(normalized) + "/";
    if (segments.size() == 3) {
      version = segments[2];
      location += render::PercentEncode(segments[2]) + "/";
    }
    if (!trailing_slash || normalized != segments[1]) {
      res = Redirect(location);
    } else {
      res = run(normalized, true, [&](const Principal& who) {
        return HumanProject(head, normalized, version, who, mode);
      });
    }
  } else {
    res = ErrorResponse(404, "Not found.");
  }
  res.head_only = head.method == "HEAD";
  return res;
}

Response Handlers::SimpleRoot(const RequestHead& head, const Principal& who, Mode& mode) {
  auto root = LookupRoot(mode);
  if (!root.has_value()) {
    return ErrorResponse(HttpStatusFor(root.error()), "Index unavailable; retry.");
  }
  SimpleFormat format = NegotiateSimpleFormat(head.Header("Accept"));
  const auto& view = **root;
  const index::Page& page = format == SimpleFormat::kJson ? view.simple_json : view.simple_html;
  std::string_view type = format == SimpleFormat::kJson     ? render::kContentTypeJson
                          : format == SimpleFormat::kHtmlV1 ? render::kContentTypeHtmlV1
                                                            : render::kContentTypeHtml;
  return PageResponse(head, *root, page, type, PageCacheControl(!who.user.empty()), true);
}

Response Handlers::SimpleProject(const RequestHead& head, std::string_view name,
                                 const Principal& who, Mode& mode) {
  auto project = LookupView(name, mode);
  if (!project.has_value()) {
    if (project.error().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "Project '" + std::string(name) + "' not found.");
    }
    return ErrorResponse(503, UnavailableMessage(project.error()));
  }
  SimpleFormat format = NegotiateSimpleFormat(head.Header("Accept"));
  const auto& view = **project;
  const index::Page& page = format == SimpleFormat::kJson ? view.simple_json : view.simple_html;
  std::string_view type = format == SimpleFormat::kJson     ? render::kContentTypeJson
                          : format == SimpleFormat::kHtmlV1 ? render::kContentTypeHtmlV1
                                                            : render::kContentTypeHtml;
  Response res =
      PageResponse(head, *project, page, type, PageCacheControl(!who.user.empty()), true);
  res.headers.emplace_back("X-PyPI-Last-Serial", std::to_string(view.doc.serial));
  return res;
}

namespace {

// A listed file the store cannot give: 404 when it is missing (the index and the store
// disagree; retrying will not help), else 503.
Response FileUnavailable(const Status& status) {
  if (status.code() == StatusCode::kNotFound) {
    return ErrorResponse(404, "File not found.");
  }
  ops::Log(ops::Severity::kError, "serving a file failed: " + status.ToString());
  return ErrorResponse(503, "File unavailable; retry.");
}

}  // namespace

Response Handlers::File(const RequestHead& head, std::string_view project,
                        std::string_view filename, const Principal& who, Mode& mode) {
  if (model::NormalizeProjectName(project) != project) {
    return ErrorResponse(404, "Not found.");
  }
  auto served = LookupServed(project, mode);
  if (!served.has_value()) {
    return ErrorResponse(served.error().code() == StatusCode::kNotFound ? 404 : 503,
                         served.error().code() == StatusCode::kNotFound
                             ? "File not found."
                             : UnavailableMessage(served.error()));
  }
  const doc::ProjectDoc& doc = served->view->doc;
  bool metadata = false;
  const doc::FileEntry* entry = doc.FindFile(filename);
  if (!entry && filename.ends_with(".metadata")) {
    entry = doc.FindFile(filename.substr(0, filename.size() - 9));
    metadata = entry != nullptr && !entry->metadata_sha256.empty();
    if (!metadata) {
      entry = nullptr;
    }
  }
  if (!entry) {
    return ErrorResponse(404, "File not found.");
  }
  storage::Storage& storage = index_.storage();
  const std::string etag = "\"" + (metadata ? entry->metadata_sha256 : entry->sha256) + "\"";
  Response res;
  res.SetHeader("ETag", etag);
  res.SetHeader("Cache-Control", std::string(FileCacheControl(!who.user.empty())));
  res.SetHeader("Accept-Ranges", "bytes");
  if (IfNoneMatchHits(head.Header("If-None-Match"), etag)) {
    res.status = 304;
    return res;
  }
  res.SetHeader("Content-Type", std::string(metadata ? "text/plain; charset=utf-8" : kOctetStream));
  // A file of the upstream (an upstream project, or one an admin mixed into a local project)
  // lives under its own key, fetched and checked on first download (docs/upstream.md).
  const bool from_upstream =
      served->local == nullptr || served->local->doc.FindFile(entry->filename) == nullptr;
  const std::string stored_name = metadata ? entry->filename + ".metadata" : entry->filename;
  auto key_or = from_upstream ? storage::UpstreamFileKey(project, stored_name)
                : metadata    ? storage::MetadataKey(project, entry->filename)
                              : storage::FileKey(project, entry->filename);
  if (!key_or.has_value()) {
    return ErrorResponse(404, "File not found.");
  }
  const std::string& key = *key_or;
  if (from_upstream) {
    auto fetched = StatusOr<std::string>(key);
    if (mode.memory_only) {
      // Served from here only when a local store already holds it.
      auto path = storage.LocalPath(key);
      struct stat st {};
      if (!path.has_value() || ::stat(path->c_str(), &st) != 0) {
        mode.would_block = true;
        return res;
      }
    } else if (options_.upstream != nullptr) {
      fetched = options_.upstream->EnsureFile(project, stored_name);
    }
    if (!fetched.has_value()) {
      const StatusCode code = fetched.error().code();
      return ErrorResponse(
          code == StatusCode::kNotFound            ? 404
          : code == StatusCode::kResourceExhausted ? 413
                                                   : 503,
          code == StatusCode::kNotFound ? "File not found." : UnavailableMessage(fetched.error()));
    }
  }

  // Picks the byte range of a `size`-byte file from the Range header: sets first/length (and
  // the 206 status and Content-Range), or returns the 416 answer.
  std::int64_t first = 0;
  std::int64_t length = 0;
  auto select_range = [&](std::int64_t size) -> std::optional<Response> {
    first = 0;
    length = size;
    std::string_view range_header = head.Header("Range");
    std::string_view if_range = head.Header("If-Range");
    if (range_header.empty() || (!if_range.empty() && if_range != etag)) {
      return std::nullopt;
    }
    auto range = ParseRange(range_header, size);
    if (!range) {
      return std::nullopt;
    }
    if (range->length < 0) {
      Response unsatisfiable = ErrorResponse(416, "Requested range not satisfiable.");
      unsatisfiable.SetHeader("Content-Range", "bytes */" + std::to_string(size));
      return unsatisfiable;
    }
    first = range->first;
    length = range->length;
    res.status = 206;
    res.SetHeader("Content-Range", "bytes " + std::to_string(first) + "-" +
                                       std::to_string(first + length - 1) + "/" +
                                       std::to_string(size));
    return std::nullopt;
  };

  // A local store: the file is opened here and sent with sendfile(2), without a store round
  // trip, so this works on the network threads too.
  auto local = storage.LocalPath(key);
  if (local.has_value()) {
    FileDescriptor file(::open(local->c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!file.valid() || ::fstat(file.get(), &st) != 0) {
      return FileUnavailable(errno == ENOENT ? NotFoundError(key)
                                             : UnavailableError(key + ": cannot open"));
    }
    if (auto refused = select_range(static_cast<std::int64_t>(st.st_size))) {
      return *std::move(refused);
    }
    if (head.method == "HEAD") {
      res.declared_length = length;
      return res;
    }
    res.file = std::move(file);
    res.file_offset = first;
    res.stream_length = length;
    return res;
  }
  if (local.error().code() != StatusCode::kUnimplemented) {
    return FileUnavailable(local.error());
  }
  if (mode.memory_only) {
    mode.would_block = true;  // a remote store: Head, presign and Open go over the network
    return res;
  }
  std::int64_t size = entry->size;
  if (metadata || from_upstream) {  // upstream HTML pages give no sizes
    auto info = storage.Head(key);
    if (!info.has_value()) {
      return FileUnavailable(info.error());
    }
    size = info->size;
  }
  if (auto refused = select_range(size)) {
    return *std::move(refused);
  }
  if (!metadata && options_.redirect_downloads_ttl.count() > 0 && head.method == "GET") {
    auto url = storage.PresignedGetUrl(key, options_.redirect_downloads_ttl);
    if (url.has_value()) {
      Response redirect;
      redirect.status = 307;
      redirect.SetHeader("Location", *std::move(url));
      // The URL expires: nobody may cache the redirect for long.
      redirect.SetHeader("Cache-Control", "private, max-age=60");
      redirect.SetHeader("Content-Type", "text/plain; charset=utf-8");
      redirect.body = "Redirecting to the storage.\n";
      return redirect;
    }
    if (url.error().code() != StatusCode::kUnimplemented) {
      return FileUnavailable(url.error());
    }
  }
  if (head.method == "HEAD") {
    res.declared_length = length;
    return res;
  }
  auto stream = storage.Open(key, first, length);
  if (!stream.has_value()) {
    return FileUnavailable(stream.error());
  }
  res.stream = *std::move(stream);
  res.stream_length = length;
  return res;
}

Response Handlers::PypiJson(const RequestHead& head, std::string_view project,
                            std::optional<std::string_view> version, const Principal& who,
                            Mode& mode) {
  auto view = LookupView(project, mode);
  if (!view.has_value()) {
    return ErrorResponse(view.error().code() == StatusCode::kNotFound ? 404 : 503,
                         view.error().code() == StatusCode::kNotFound
                             ? "Project not found."
                             : UnavailableMessage(view.error()));
  }
  const doc::ProjectDoc& doc = (*view)->doc;
  if (doc.releases.empty() && doc.files.empty()) {
    return ErrorResponse(404, "Project has no releases.");  // as PyPI answers
  }
  Response res;
  if (!version) {
    res = PageResponse(head, *view, (*view)->pypi_json, "application/json",
                       PageCacheControl(!who.user.empty()), false);
  } else {
    auto body = render::PypiReleaseJson((*view)->doc, *version, "");
    if (!body.has_value()) {
      return ErrorResponse(404, "Release not found.");
    }
    res.SetHeader("Content-Type", "application/json");
    res.SetHeader("Cache-Control", std::string(PageCacheControl(!who.user.empty())));
    res.body = *std::move(body);
  }
  res.SetHeader("X-PyPI-Last-Serial", std::to_string((*view)->doc.serial));
  return res;
}

Response Handlers::HumanRoot(const RequestHead& head, const Principal& who, Mode& mode) {
  auto root = LookupRoot(mode);
  if (!root.has_value()) {
    return ErrorResponse(503, "Index unavailable; retry.");
  }
  return PageResponse(head, *root, (*root)->human_html, render::kContentTypeHtml,
                      PageCacheControl(!who.user.empty()), false);
}

Response Handlers::HumanProject(const RequestHead& head, std::string_view name,
                                std::optional<std::string_view> version, const Principal& who,
                                Mode& mode) {
  auto view = LookupView(name, mode);
  if (!view.has_value()) {
    return ErrorResponse(view.error().code() == StatusCode::kNotFound ? 404 : 503,
                         view.error().code() == StatusCode::kNotFound
                             ? "Project not found."
                             : UnavailableMessage(view.error()));
  }
  if (version) {
    auto page = render::ReleasePageHtml((*view)->doc, *version);
    if (!page.has_value()) {
      return ErrorResponse(404, "Release not found.");
    }
    Response res = HtmlResponse(200, *std::move(page));
    res.SetHeader("Cache-Control", std::string(PageCacheControl(!who.user.empty())));
    return res;
  }
  return PageResponse(head, *view, (*view)->human_html, render::kContentTypeHtml,
                      PageCacheControl(!who.user.empty()), false);
}

namespace {

// A failed upload: the status mapped, and a message safe to send. Only the duplicate-file
// refusal may read as "already exists" (UP-14: the multipart parser and the collector quote
// field names); server-side failures are logged, and the client gets no paths or store details.
Response UploadErrorResponse(const Status& status, std::string_view accept) {
  const unsigned code = HttpStatusFor(status);
  if (code >= 500) {
    ops::Log(ops::Severity::kError, "upload failed: " + status.ToString());
    return ErrorResponse(code,
                         code == 503 ? "The package store is unavailable right now; retry the "
                                       "upload."
                                     : "Internal error while storing the upload.",
                         accept);
  }
  if (status.code() == StatusCode::kAlreadyExists) {
    return ErrorResponse(code, status.message(), accept);
  }
  return ErrorResponse(code, index::WithoutReservedPhrases(status.message()), accept);
}

}  // namespace

namespace {

// Fields that hold one value. A form that sends one of them twice with different values is
// ambiguous (which one would a proxy or scanner in front of the index have checked?): refused.
// Repeats of the same value, and empty or UNKNOWN repeats (which count as absent), are fine.
Status CheckSingleValuedFields(const doc::UploadForm& form) {
  static constexpr std::string_view kSingle[] = {
      ":action",       "protocol_version",  "metadata_version", "name",
      "version",       "filetype",          "pyversion",        "md5_digest",
      "sha256_digest", "blake2_256_digest", "requires_python"};
  for (std::string_view name : kSingle) {
    auto it = form.fields.find(std::string(name));
    if (it == form.fields.end() || it->second.size() < 2) {
      continue;
    }
    const std::vector<std::string> values = form.GetAll(name);
    for (const std::string& value : values) {
      if (value != values.front()) {
        return InvalidArgumentError("Field '" + std::string(name) +
                                    "' was sent more than once with different values; send it "
                                    "once.");
      }
    }
  }
  return OkStatus();
}

}  // namespace

std::int64_t Handlers::UploadBodyLimit() const {
  // Multipart framing and the form fields add a little to the file itself; allow for it.
  return options_.max_upload_bytes + (std::int64_t{1} << 20);
}

std::string Handlers::TooLargeMessage() const {
  return "File too large. The limit of this index is " + std::to_string(options_.max_upload_bytes) +
         " bytes.";
}

Handlers::UploadStart Handlers::BeginUpload(const RequestHead& head) {
  UploadStart start;
  std::string_view accept = head.Header("Accept");
  Mode mode;
  auto who = Identify(head, mode);
  if (auto* refused = std::get_if<Response>(&who)) {
    start.reject = std::move(*refused);
    return start;
  }
  {
    // The project is only known once the form is read (FinishUpload checks it); here the
    // caller must be able to upload somewhere.
    const Principal& principal = std::get<Principal>(who);
    const bool uploads_somewhere =
        principal.everywhere >= auth::Role::kUpload ||
        std::any_of(principal.per_project.begin(), principal.per_project.end(),
                    [](const auto& entry) { return entry.second >= auth::Role::kUpload; });
    if (!uploads_somewhere) {
      if (auto refused = Require(head, principal, auth::Role::kUpload, "")) {
        start.reject = *std::move(refused);
        return start;
      }
    }
  }
  std::string_view length_header = head.Header("Content-Length");
  std::int64_t length = -1;
  if (!length_header.empty()) {
    auto [ptr, ec] =
        std::from_chars(length_header.data(), length_header.data() + length_header.size(), length);
    if (ec != std::errc() || ptr != length_header.data() + length_header.size() || length < 0) {
      start.reject = ErrorResponse(400, "Invalid Content-Length.", accept);
      return start;
    }
  }
  if (length > UploadBodyLimit()) {
    start.reject = ErrorResponse(413, TooLargeMessage(), accept);
    return start;
  }
  auto boundary = MultipartBoundary(head.Header("Content-Type"));
  if (!boundary.has_value()) {
    start.reject = ErrorResponse(400,
                                 "Uploads must be multipart/form-data (the legacy upload API): " +
                                     boundary.error().message(),
                                 accept);
    return start;
  }
  start.body = std::make_unique<UploadBody>(*std::move(boundary), options_.temp_dir,
                                            std::get<Principal>(who).user);
  start.body->access = std::get<Principal>(who);
  start.body->accept = std::string(accept);
  start.body->max_bytes = UploadBodyLimit();
  return start;
}

std::optional<Response> Handlers::FeedUpload(UploadBody& body, std::string_view chunk) {
  body.received += static_cast<std::int64_t>(chunk.size());
  if (body.max_bytes >= 0 && body.received > body.max_bytes) {
    return ErrorResponse(413, TooLargeMessage(), body.accept);
  }
  Status status = body.parser.Feed(chunk);
  if (!status.ok()) {
    return UploadErrorResponse(status, body.accept);
  }
  return std::nullopt;
}

Response Handlers::FinishUpload(UploadBody& body, const RequestHead& head) {
  std::string_view accept = head.Header("Accept");
  if (Status status = body.parser.Finish(); !status.ok()) {
    return UploadErrorResponse(status, accept);
  }
  const doc::UploadForm& form = body.collector.form();
  if (Status conflict = CheckSingleValuedFields(form); !conflict.ok()) {
    return UploadErrorResponse(conflict, accept);
  }
  // :action may come in the body or, as PyPI also accepts, in the query string.
  std::string action = form.Get(":action");
  if (action.empty()) {
    std::string_view target = head.target;
    std::size_t pos = target.find(":action=");
    if (pos != std::string_view::npos) {
      action = std::string(target.substr(pos + 8, target.find('&', pos) - pos - 8));
    }
  }
  if (action == "submit" || action == "submit_pkg_info") {
    return ErrorResponse(410,
                         "Project pre-registration is no longer required or supported, upload "
                         "your files instead.",
                         accept);
  }
  if (action == "doc_upload") {
    return ErrorResponse(410, "Uploading documentation is no longer supported.", accept);
  }
  if (action != "file_upload") {
    return ErrorResponse(400,
                         action.empty() ? "Missing :action field: use :action=file_upload."
                                        : "Unknown :action; use :action=file_upload.",
                         accept);
  }
  const std::string project = model::NormalizeProjectName(form.Get("name"));
  if (auto refused = Require(head, body.access, auth::Role::kUpload, project)) {
    return *std::move(refused);
  }
  auto outcome = index_.Upload(form, body.user);
  if (!outcome.has_value()) {
    return UploadErrorResponse(outcome.error(), accept);
  }
  ops::Metrics::Global().RecordUpload(
      outcome->created ? ops::UploadResult::kStored : ops::UploadResult::kDuplicate,
      form.content ? static_cast<std::uint64_t>(form.content->size) : 0);
  if (outcome->created) {
    ops::RecordAudit(index_.storage(),
                     {.actor = ops::AuditActor(body.access.user, body.access.token_id),
                      .action = "upload",
                      .target = outcome->project + "/" + outcome->filename,
                      .address = head.remote_address});
  }
  Response res;
  res.SetHeader("Content-Type", "text/plain; charset=utf-8");
  res.body = outcome->created ? "OK: stored " + outcome->filename + "\n"
                              : "OK: " + outcome->filename +
                                    " was already stored with the "
                                    "same bytes\n";
  return res;
}

}  // namespace pydepot::http
