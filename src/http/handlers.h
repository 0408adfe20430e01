// Request handlers: a request head (and, for uploads, a body fed in chunks) in, a Response out.
// No sockets here (Beast's handle_request seam), so every route is testable without a server.
// Handlers is thread-safe: one instance serves every connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "auth/auth.h"
#include "auth/throttle.h"
#include "base/status.h"
#include "http/multipart.h"
#include "index/index.h"
#include "render/ui.h"
#include "storage/storage.h"

namespace pydepot::upstream {
class Proxy;
}  // namespace pydepot::upstream

namespace pydepot::http {

struct RequestHead {
  std::string method;  // upper case as sent: "GET", "HEAD", "POST", ...
  std::string target;  // as sent: path plus optional query
  std::vector<std::pair<std::string, std::string>> headers;
  // The client's address: the socket's peer, or, behind a trusted proxy, the address the proxy
  // reports (ServerOptions::trusted_proxies). Password checks are throttled per address.
  std::string remote_address;
  // True when the client reached pydepot over HTTPS (a TLS listener, or a trusted proxy's
  // X-Forwarded-Proto: https): session cookies are then marked Secure.
  bool secure = false;
  // The body of a small non-upload request (a form post or an admin API call; see
  // Handlers::TakesBody), read whole by the server before Handle; "" otherwise.
  std::string body;

  // The first value of header `name` (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
};

// An open file descriptor, closed when the owner goes away. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct Response {
  unsigned status = 200;
  std::string reason;  // custom reason phrase; "" for the standard one
  std::vector<std::pair<std::string, std::string>> headers;

  // The body is exactly one of these (or none):
  std::string body;                             // owned bytes
  std::shared_ptr<const void> page_owner;       // keeps `page` alive
  std::string_view page;                        // cached bytes owned by page_owner
  std::unique_ptr<storage::ReadStream> stream;  // a file range, stream_length bytes
  std::int64_t stream_length = 0;
  FileDescriptor file;  // a local file: stream_length bytes from file_offset, sent with sendfile
  std::int64_t file_offset = 0;

  // The length a HEAD answer declares when no body is attached (files answer HEAD without
  // opening them).
  std::optional<std::int64_t> declared_length;

  bool head_only = false;  // HEAD: send headers (with the real Content-Length) only
  bool close = false;      // close the connection after this response

  std::int64_t ContentLength() const;
  void SetHeader(std::string name, std::string value);
};

struct HandlerOptions {
  bool public_read = false;
  std::int64_t max_upload_bytes = std::int64_t{1} << 30;
  std::filesystem::path temp_dir;  // upload spool directory
  // When positive and the store can presign (S3, GCS), a file download (never a page, never a
  // .metadata file) is answered with a 307 to a URL valid this long, so the bytes flow from the
  // store to the client directly. The index keeps linking pydepot's own URLs.
  std::chrono::seconds redirect_downloads_ttl{0};
  // The upstream proxy (--upstream; docs/upstream.md), or nullptr. Must outlive the Handlers.
  upstream::Proxy* upstream = nullptr;
  // Brute-force throttling of password checks, per client address and per user name: past the
  // limits a request with credentials is answered 429 with Retry-After, without checking them.
  auth::ThrottleLimits throttle;
};

// The body sink of one upload: multipart framing into a form collector. One per request.
class UploadBody {
 public:
  UploadBody(std::string boundary, std::filesystem::path temp_dir, std::string uploader)
      : collector(std::move(temp_dir)),
        parser(std::move(boundary), collector),
        user(std::move(uploader)) {}

  UploadFormCollector collector;
  MultipartParser parser;
  std::string user;
  auth::Access access;          // what the uploader may do (checked on the form's project)
  std::string accept;           // the request's Accept header, for the error format
  std::int64_t max_bytes = -1;  // most body bytes FeedUpload takes (-1: no limit)
  std::int64_t received = 0;    // body bytes fed so far
};

class Handlers {
 public:
  // The index, authenticator and storage must outlive the Handlers.
  Handlers(index::Index& index, auth::Authenticator& authenticator, HandlerOptions options);
  ~Handlers();
  Handlers(const Handlers&) = delete;
  Handlers& operator=(const Handlers&) = delete;
  Handlers(Handlers&&) = delete;
  Handlers& operator=(Handlers&&) = delete;

  // True when the request is an upload (POST to /, /legacy/ or /legacy): its body goes through
  // BeginUpload / UploadBody::Feed / FinishUpload instead of Handle.
  static bool IsUpload(const RequestHead& head);

  // Most bytes of a body TakesBody requests may have; a longer one is answered 413.
  static constexpr std::size_t kMaxFormBytes = 64 * 1024;
  // True when the request is a form post or admin API call whose body (at most kMaxFormBytes)
  // the server reads into RequestHead::body before calling Handle: a POST, PUT, PATCH or
  // DELETE under /login, /logout, /account/, /manage/ or /api/.
  static bool TakesBody(const RequestHead& head);

  // Every request that is not an upload.
  Response Handle(const RequestHead& head);

  // As Handle, when the answer can be given from memory and local files alone (a cached page,
  // a remembered credential, a file of a local store); nullopt when it would wait on the store
  // or hash a password: then call Handle on a thread that may block. Never blocks on I/O.
  std::optional<Response> TryHandleInMemory(const RequestHead& head);

  // The separate metrics listener (--metrics-listen; ops_handlers.cc): /metrics without
  // credentials, /healthz and /readyz; 404 for anything else. May block (readyz asks the store).
  Response HandleOpsListener(const RequestHead& head);

  // Checks an upload before its body is read: credentials and role, Content-Length against the
  // limit (413), a multipart Content-Type. Returns the body sink, or the response that refuses
  // the upload (the caller then closes the connection without reading the body).
  struct UploadStart {
    std::unique_ptr<UploadBody> body;
    std::optional<Response> reject;
  };
  UploadStart BeginUpload(const RequestHead& head);

  // Feeds the next body chunk; a non-OK result is the response to send (then close). A body
  // longer than the upload limit (a chunked one has no Content-Length to check up front) is
  // answered 413.
  std::optional<Response> FeedUpload(UploadBody& body, std::string_view chunk);

  // The body ended: validates and stores the upload.
  Response FinishUpload(UploadBody& body, const RequestHead& head);

 private:
  using Principal = auth::Access;
  // How one request may get what it needs. With memory_only, a lookup that would block sets
  // would_block and fails; the response built from it is then thrown away.
  struct Mode {
    bool memory_only = false;
    bool would_block = false;
  };

  Response Route(const RequestHead& head, Mode& mode);
  // Who is asking: from basic credentials (a password or an API token), else a session cookie,
  // else anonymous (read everywhere with --public-read, nothing otherwise). The response is a
  // refusal of the credentials themselves (401, 429 throttled, 503 store trouble).
  std::variant<Principal, Response> Identify(const RequestHead& head, Mode& mode);
  // nullopt when `who` holds `needed` on `project` ("" for everything: the project list, admin
  // pages), else the 401 (anonymous) or 403 response. `browser`: an anonymous visitor of a page
  // is sent to the login form instead of getting 401.
  std::optional<Response> Require(const RequestHead& head, const Principal& who, auth::Role needed,
                                  std::string_view project, bool browser = false) const;
  // Identify and Require in one, for the routes that need one role everywhere (or on one
  // project).
  std::variant<Principal, Response> Authorize(const RequestHead& head, auth::Role needed,
                                              Mode& mode, std::string_view project = {});
  StatusOr<std::shared_ptr<const index::ProjectView>> LookupProject(std::string_view name,
                                                                    Mode& mode);
  StatusOr<std::shared_ptr<const index::RootView>> LookupRoot(Mode& mode);
  // The view to serve for project `name`: the local project, the local project with upstream
  // files mixed in (an admin allowed it), or, for a name that is not private, the upstream's.
  struct Served {
    std::shared_ptr<const index::ProjectView> view;
    std::shared_ptr<const index::ProjectView> local;  // nullptr for an upstream project
  };
  StatusOr<Served> LookupServed(std::string_view name, Mode& mode);
  StatusOr<std::shared_ptr<const index::ProjectView>> LookupView(std::string_view name, Mode& mode);

  Response SimpleRoot(const RequestHead& head, const Principal& who, Mode& mode);
  Response SimpleProject(const RequestHead& head, std::string_view name, const Principal& who,
                         Mode& mode);
  Response File(const RequestHead& head, std::string_view project, std::string_view filename,
                const Principal& who, Mode& mode);
  Response PypiJson(const RequestHead& head, std::string_view project,
                    std::optional<std::string_view> version, const Principal& who, Mode& mode);
  Response HumanRoot(const RequestHead& head, const Principal& who, Mode& mode);
  // `version`: the page of one release (PyPI JSON's info.release_url); 404 when it has none.
  Response HumanProject(const RequestHead& head, std::string_view name,
                        std::optional<std::string_view> version, const Principal& who, Mode& mode);

  // The web UI beyond the cached pages (ui_handlers.cc): static files, search, login and
  // logout, the account page (tokens), the manage pages. `segments` are the decoded path
  // segments; nullopt when the path is not one of these routes.
  std::optional<Response> RouteUi(const RequestHead& head, const std::vector<std::string>& segments,
                                  bool trailing_slash, Mode& mode);
  // The JSON admin API under /api/ (admin_api.cc).
  Response RouteApi(const RequestHead& head, const std::vector<std::string>& segments, Mode& mode);
  // /healthz, /readyz and /metrics (ops_handlers.cc); nullopt for any other path.
  std::optional<Response> RouteOps(const RequestHead& head, std::string_view path, Mode& mode);
  // Checks a state-changing browser request: its Origin (when sent) must be this server, and a
  // request authenticated by a session must carry the session's CSRF token (`csrf`: the form
  // field or the X-CSRF-Token header). nullopt when it may go on, else the 403.
  std::optional<Response> CheckCsrf(const RequestHead& head, const Principal& who,
                                    std::string_view csrf);
  // The viewer of a dynamic page.
  render::Viewer ViewerOf(const RequestHead& head, const Principal& who);

  // Most body bytes an upload may send (the file limit plus room for the form), and the 413
  // message that names the file limit.
  std::int64_t UploadBodyLimit() const;
  std::string TooLargeMessage() const;

  index::Index& index_;
  auth::Authenticator& authenticator_;
  HandlerOptions options_;
  auth::LoginThrottle throttle_;
};

// An error response: the message goes into the reason phrase (made ISO-8859-1 safe) and the body,
// as text, or as JSON {"message","code","title"} when the client prefers application/json.
// Errors are never stored by any cache: Cache-Control: private, no-store.
Response ErrorResponse(unsigned status, std::string_view message, std::string_view accept = {});

// The HTTP status for a Status code (the only place that maps them).
unsigned HttpStatusFor(const Status& status);

}  // namespace pydepot::http
