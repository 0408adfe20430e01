// Content negotiation for the simple API (PEP 691, STANDARDS NEG-01..06): which of the three
// media types to send for an Accept header. Pure function; thread-safe.
#pragma once

#include <string_view>

namespace pydepot::http {

enum class SimpleFormat {
  kHtml,    // text/html (also the answer for no Accept, wildcards only, or nothing servable)
  kHtmlV1,  // application/vnd.pypi.simple.v1+html
  kJson,    // application/vnd.pypi.simple.v1+json
};

// RFC 9110 q-values; each offer's q comes from its most specific matching range ("latest" counts
// as v1); q=0 refuses. The highest q wins; ties between explicitly named types prefer JSON, then
// v1+html, then text/html; when only wildcards matched, or nothing is acceptable, the answer is
// text/html (PyPI's fallback, never 406).
// Answers for recent Accept headers are cached per thread; the same as
// NegotiateSimpleFormatUncached, which always parses.
SimpleFormat NegotiateSimpleFormat(std::string_view accept);
SimpleFormat NegotiateSimpleFormatUncached(std::string_view accept);

// True when the client asked for JSON errors (`application/json` with a q above every text type
// it named), as uv does for upload errors (STANDARDS UP-11).
bool PrefersJsonErrors(std::string_view accept);

// True when an Accept-Encoding header accepts gzip: "gzip" or "x-gzip" with a q above 0, or "*"
// with a q above 0 when gzip is not named. Absent or empty: false (identity).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace pydepot::http
