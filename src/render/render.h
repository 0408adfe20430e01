// Rendering the index as bytes: the simple API (PEP 503 HTML, PEP 691 JSON, api-version 1.1 with
// PEP 700 fields, PEP 592 yanks, PEP 658/714 metadata), the PyPI JSON API, and (render/ui.h,
// included here) the web UI pages. Pure functions of their inputs: the index calls them once per
// change and caches the result. Thread-safe.
//
// URLs: a file is served at /files/<project>/<percent-encoded filename>. Simple pages link to
// files relative to the page ("../../files/<project>/<file>#sha256=<hex>"), so the index works
// behind a reverse proxy that mounts it under a path prefix.
//
// Output is deterministic (ETags derive from it) and always valid UTF-8: ill-formed sequences in
// stored fields are rendered as U+FFFD.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "doc/project.h"
#include "render/ui.h"  // IWYU pragma: export

namespace pydepot::render {

inline constexpr std::string_view kApiVersion = "1.1";
inline constexpr std::string_view kContentTypeJson = "application/vnd.pypi.simple.v1+json";
inline constexpr std::string_view kContentTypeHtmlV1 = "application/vnd.pypi.simple.v1+html";
inline constexpr std::string_view kContentTypeHtml = "text/html; charset=utf-8";

// Escapes &, <, >, " and ' for HTML text and attribute values. Ill-formed UTF-8 and control
// characters other than tab, CR, LF and FF (parse errors in HTML5) become U+FFFD.
std::string HtmlEscape(std::string_view text);
// Percent-encodes everything but unreserved characters (RFC 3986), so '+' and '!' round-trip.
std::string PercentEncode(std::string_view segment);

// GET /simple/: one anchor per project, href "<normalized>/", text the display name.
std::string SimpleRootHtml(const doc::ProjectList& list);
// {"meta": {"api-version": "1.1", "_last-serial": n}, "projects": [{"name": display}]}
std::string SimpleRootJson(const doc::ProjectList& list);

// GET /simple/<project>/: one anchor per file with #sha256, data-requires-python (escaped),
// data-yanked="reason" (always with a value), and both data-core-metadata and
// data-dist-info-metadata="sha256=<hex>" for files with a .metadata file.
std::string SimpleProjectHtml(const doc::ProjectDoc& doc);
// {"meta": {...}, "name": normalized, "versions": [...], "files": [{filename, url, hashes,
// requires-python?, core-metadata?, yanked?, size, upload-time}]}. Never "dist-info-metadata".
std::string SimpleProjectJson(const doc::ProjectDoc& doc);

// GET /pypi/<project>/json: PyPI's shape (STANDARDS §13). `origin` prefixes URLs
// ("http://host:port", may be empty for host-relative URLs).
// Keys are in alphabetical order, as pypi.org sends them. `info` comes from the ReleaseInfo of
// the release chosen per PJ-05 (newest by PEP 440, non-yanked first, then final releases first);
// empty metadata strings and lists are null, as PyPI sends absent fields. `releases` has every
// release (doc.releases and any release only files name), keyed by its canonical version, in
// PEP 440 order, files sorted by filename. For a project without releases, info.version is ""
// and `releases` and `urls` are empty (callers may prefer to answer 404, as PyPI does).
std::string PypiProjectJson(const doc::ProjectDoc& doc, std::string_view origin);
// GET /pypi/<project>/<version>/json, version matched by release key (1.0.0 finds 1.0).
// Same shape as PypiProjectJson for that release, without `releases`.
// kNotFound when there is no such release.
StatusOr<std::string> PypiReleaseJson(const doc::ProjectDoc& doc, std::string_view version,
                                      std::string_view origin);

}  // namespace pydepot::render
