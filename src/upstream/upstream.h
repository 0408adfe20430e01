// Reading another simple-API index (the "upstream", e.g. https://pypi.org/simple/): fetching a
// project's page (PEP 691 JSON when offered, else PEP 503 HTML) with ETag revalidation, parsing
// it, and downloading its files with their sha256 checked. See docs/upstream.md.
//
// Parsing is pure (thread-safe); Client is thread-safe (one libcurl easy handle per call).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace pydepot::upstream {

// One file as the upstream page lists it.
struct UpstreamFile {
  std::string filename;  // the last path segment of the URL, percent-decoded
  std::string url;       // absolute, without the fragment
  std::string sha256;    // lowercase hex; "" when upstream gave no sha256 (such files are dropped
                         // by the parsers: pydepot serves only what it can verify)
  std::string requires_python;          // "" when none
  std::optional<std::string> yanked;    // the reason ("" when none) when yanked
  std::int64_t size = -1;               // -1 when unknown (HTML pages do not say)
  std::int64_t upload_time_micros = 0;  // 0 when unknown
  // PEP 658/714: the upstream offers <url>.metadata. Its sha256 ("" when offered without one).
  bool metadata = false;
  std::string metadata_sha256;
};

struct UpstreamProject {
  std::string name;                 // normalized
  std::vector<UpstreamFile> files;  // in page order
};

// Parses a PEP 691 JSON project page fetched from `page_url` (relative file URLs are resolved
// against it). Files without a sha256 hash, with a filename that is not a distribution filename
// of `name` (model::ParseDistFilename), or with a URL that is not http or https are dropped.
// kInvalidArgument when the body is not such a page (or says its meta.api-version has a major
// version other than 1: clients must refuse those, PEP 629). Unreadable entries are skipped.
StatusOr<UpstreamProject> ParseSimpleJson(std::string_view body, std::string_view page_url,
                                          std::string_view name);
// Parses a PEP 503 HTML project page: every <a href> (attribute values entity-decoded; the
// sha256 from the URL fragment "#sha256=<hex>"; data-requires-python, data-yanked,
// data-core-metadata / data-dist-info-metadata ("true" or "sha256=<hex>")). Relative hrefs
// resolve against the first <base href>, as pip does, else `page_url`. The same files are
// dropped as for JSON. Tolerant of what real indexes send (no closing tags, upper-case tags,
// single-quoted or unquoted attributes). A valueless data-yanked is a yank without a reason
// (PEP 592). kInvalidArgument only for a pypi:repository-version meta tag whose major is not 1.
StatusOr<UpstreamProject> ParseSimpleHtml(std::string_view body, std::string_view page_url,
                                          std::string_view name);

// Resolves `ref` against the absolute URL `base` (RFC 3986 section 5), without the fragment.
// Tolerant of what pages contain: leading and trailing spaces and control characters of `ref`
// are dropped, tabs and newlines inside it removed (as browsers do), and bytes that may not
// appear in a URL (space, controls, non-ASCII, `"<>\^`{|}`) percent-encoded. The scheme is
// lower-cased; nothing else is normalized.
std::string ResolveUrl(std::string_view base, std::string_view ref);

// Helpers shared by the parsers, the client and the proxy.

// The last segment of the URL's path, percent-decoded ("" when the path ends in "/").
std::string UrlFilename(std::string_view url);

// Where a request to an http or https URL goes: scheme and host lower-cased, the port filled in
// (80 or 443 when the URL names none). Credentials are sent only where this equals the index's.
struct UrlOrigin {
  std::string scheme;
  std::string host;  // an IPv6 address keeps its brackets
  int port = 0;
  friend bool operator==(const UrlOrigin&, const UrlOrigin&) = default;
};
// nullopt when `url` is not an absolute http or https URL with a host and a valid port.
std::optional<UrlOrigin> HttpOrigin(std::string_view url);

// `url` without its userinfo ("https://user:pw@host/x" -> "https://host/x"), for messages.
std::string RedactUrl(std::string_view url);

// Upload times in JSON pages are RFC 3339 (base/time.h).
using ::pydepot::ParseRfc3339Micros;

struct ClientOptions {
  // The upstream simple index, ending in "/" (added when missing). Credentials written in it
  // ("https://user:pw@host/simple/") are taken as `user` and `password` when `user` is empty,
  // and removed from the URL either way (so index_url() and messages never carry them).
  std::string index_url;
  // Basic credentials for the upstream, sent only to the index's own scheme, host and port
  // (never to a file host elsewhere, such as PyPI's files.pythonhosted.org). "" for none.
  std::string user;
  std::string password;
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds timeout{60};        // a whole page fetch
  std::int64_t max_page_bytes = 64 << 20;  // a larger page is an error
  std::string user_agent = "pydepot";
};

struct PageFetch {
  int status = 0;     // 200, 304 (not modified) or 404 (no such project upstream)
  std::string etag;   // the page's ETag ("" when none)
  std::string body;   // 200 only
  bool json = false;  // the body is PEP 691 JSON (else HTML)
  std::string url;    // the page's final URL, after redirects (to resolve file URLs)
};

class Client {
 public:
  // kInvalidArgument when index_url is not an http or https URL.
  static StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  virtual ~Client() = default;

  // GET <index_url><name>/ with Accept: application/vnd.pypi.simple.v1+json, text/html;q=0.1
  // and, when `etag` is not empty, If-None-Match. Follows redirects. 200, 304 and 404 are
  // results; anything else (other statuses, timeouts, refused connections, a page over
  // max_page_bytes) is kUnavailable with a message naming the upstream and what happened.
  virtual StatusOr<PageFetch> FetchPage(std::string_view normalized_name,
                                        std::string_view etag) = 0;

  // Downloads `url` into the new file `dest` (the caller removes it), at most `max_bytes`, and
  // returns the sha256 (lowercase hex) of what was written. kNotFound on 404, kResourceExhausted
  // past max_bytes, kUnavailable otherwise. (Local failures, such as `dest` that cannot be
  // created or written, are kInternal; a `url` that is not http or https is kInvalidArgument.)
  // A transfer that stalls (no byte for `timeout`) fails; a slow but moving one does not.
  virtual StatusOr<std::string> FetchFile(std::string_view url, const std::filesystem::path& dest,
                                          std::int64_t max_bytes) = 0;

  virtual const std::string& index_url() const = 0;
};

}  // namespace pydepot::upstream
