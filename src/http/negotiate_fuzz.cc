// libFuzzer target: content negotiation (NegotiateSimpleFormat, PrefersJsonErrors, AcceptsGzip)
// on arbitrary header values. The whole input is the header value. Checked for each function:
//  - it agrees with a reference written from the contract in negotiate.h alone, which splits
//    the header its own way and keeps q-values as integer thousandths (no floating point);
//  - ASCII case never matters (media types, codings and the "q" name are case-insensitive);
//  - blanks (SP or HTAB) added around ',' and ';' never matter;
//  - listing every item twice (value + "," + value) never matters;
//  - an answer other than the default names what the header asked for ("json", "gzip", ...).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "http/negotiate.h"

namespace {

using pydepot::http::AcceptsGzip;
using pydepot::http::NegotiateSimpleFormat;
using pydepot::http::PrefersJsonErrors;
using pydepot::http::SimpleFormat;

// --- The reference ------------------------------------------------------------------------

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerString(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), LowerAscii);
  return out;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view StripBlanks(std::string_view s) {
  std::size_t first = 0;
  std::size_t last = s.size();
  while (first < last && IsBlank(s[first])) {
    ++first;
  }
  while (last > first && IsBlank(s[last - 1])) {
    --last;
  }
  return s.substr(first, last - first);
}

// Every piece of `s` between `sep`s, empty ones included.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  return out;
}

// RFC 9110 qvalue in thousandths: "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"].
std::optional<int> QThousandths(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) {
    return std::nullopt;
  }
  if (text.size() == 1) {
    return text[0] == '1' ? 1000 : 0;
  }
  if (text[1] != '.' || text.size() > 5) {
    return std::nullopt;
  }
  int fraction = 0;
  int scale = 100;
  for (char c : text.substr(2)) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    fraction += (c - '0') * scale;
    scale /= 10;
  }
  if (text[0] == '1') {
    return fraction == 0 ? std::optional<int>(1000) : std::nullopt;
  }
  return fraction;
}

struct RefRange {
  std::string type;
  std::string subtype;
  int q = 1000;
};

// Accept: items without a '/', with an empty type or subtype, or with a malformed q are
// dropped; the last q parameter counts; at most the first 64 valid ranges are used.
std::vector<RefRange> RefParseAccept(std::string_view accept) {
  std::vector<RefRange> ranges;
  for (std::string_view item : Split(accept, ',')) {
    if (ranges.size() == 64) {
      break;
    }
    const std::vector<std::string_view> pieces = Split(item, ';');
    const std::string_view media = StripBlanks(pieces[0]);
    const std::size_t slash = media.find('/');
    if (slash == std::string_view::npos) {
      continue;
    }
    RefRange range{LowerString(StripBlanks(media.substr(0, slash))),
                   LowerString(StripBlanks(media.substr(slash + 1))), 1000};
    bool valid = !range.type.empty() && !range.subtype.empty();
    for (std::size_t i = 1; i < pieces.size() && valid; ++i) {
      const std::string_view param = StripBlanks(pieces[i]);
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos || LowerString(StripBlanks(param.substr(0, eq))) != "q") {
        continue;
      }
      const std::optional<int> q = QThousandths(StripBlanks(param.substr(eq + 1)));
      valid = q.has_value();
      range.q = q.value_or(0);
    }
    if (valid) {
      ranges.push_back(std::move(range));
    }
  }
  return ranges;
}

struct Offer {
  SimpleFormat format;
  std::string_view type;
  std::string_view subtype;
  std::string_view latest_subtype;
};

// NEG: each offer takes the q of its most specific matching range (the first of equally
// specific ones); the highest q wins among explicitly named offers, ties in the order JSON,
// v1+html, text/html; text/html when no named offer reaches the highest q.
SimpleFormat RefNegotiate(std::string_view accept) {
  const std::vector<RefRange> ranges = RefParseAccept(accept);
  static constexpr Offer kOffers[] = {
      {SimpleFormat::kJson, "application", "vnd.pypi.simple.v1+json",
       "vnd.pypi.simple.latest+json"},
      {SimpleFormat::kHtmlV1, "application", "vnd.pypi.simple.v1+html",
       "vnd.pypi.simple.latest+html"},
      {SimpleFormat::kHtml, "text", "html", "html"},
  };
  int q[3] = {0, 0, 0};
  int specificity[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    for (const RefRange& range : ranges) {
      int s = 0;
      if (range.type == "*" && range.subtype == "*") {
        s = 1;
      } else if (range.type == kOffers[i].type && range.subtype == "*") {
        s = 2;
      } else if (range.type == kOffers[i].type && (range.subtype == kOffers[i].subtype ||
                                                   range.subtype == kOffers[i].latest_subtype)) {
        s = 3;
      }
      if (s > specificity[i]) {
        specificity[i] = s;
        q[i] = range.q;
      }
    }
  }
  int best = 0;
  for (int i = 0; i < 3; ++i) {
    if (specificity[i] > 0) {
      best = std::max(best, q[i]);
    }
  }
  if (best == 0) {
    return SimpleFormat::kHtml;
  }
  for (int i = 0; i < 3; ++i) {
    if (specificity[i] == 3 && q[i] == best) {
      return kOffers[i].format;
    }
  }
  return SimpleFormat::kHtml;
}

bool RefPrefersJsonErrors(std::string_view accept) {
  int json = 0;
  int text = 0;
  for (const RefRange& range : RefParseAccept(accept)) {
    if (range.type == "application" && range.subtype == "json") {
      json = std::max(json, range.q);
    } else if (range.type == "text") {
      text = std::max(text, range.q);
    }
  }
  return json > 0 && json >= text;
}

// Accept-Encoding: gzip and x-gzip take their highest q; "*" the q of its last listing and only
// when gzip is not named; a malformed q parameter counts as 0 until a later valid one.
bool RefAcceptsGzip(std::string_view accept_encoding) {
  std::optional<int> gzip;
  std::optional<int> any;
  for (std::string_view item : Split(accept_encoding, ',')) {
    const std::vector<std::string_view> pieces = Split(item, ';');
    const std::string coding = LowerString(StripBlanks(pieces[0]));
    int q = 1000;
    for (std::size_t i = 1; i < pieces.size(); ++i) {
      const std::string_view param = StripBlanks(pieces[i]);
      if (param.size() > 2 && LowerAscii(param[0]) == 'q' && param[1] == '=') {
        q = QThousandths(StripBlanks(param.substr(2))).value_or(0);
      }
    }
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = std::max(gzip.value_or(0), q);
    } else if (coding == "*") {
      any = q;
    }
  }
  return gzip ? *gzip > 0 : any.value_or(0) > 0;
}

// --- Transformations that must not change any answer ---------------------------------------

std::string SwapCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// A blank on both sides of every ',' and ';' (SP or HTAB, alternating from `first_tab`).
std::string PadSeparators(std::string_view s, bool first_tab) {
  std::string out;
  bool tab = first_tab;
  for (char c : s) {
    if (c == ',' || c == ';') {
      out += tab ? '\t' : ' ';
      out += c;
      out += tab ? ' ' : '\t';
      tab = !tab;
    } else {
      out += c;
    }
  }
  return out;
}

struct Answers {
  SimpleFormat format;
  bool json_errors;
  bool gzip;

  bool operator==(const Answers&) const = default;
};

Answers Ask(std::string_view header) {
  return {NegotiateSimpleFormat(header), PrefersJsonErrors(header), AcceptsGzip(header)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const Answers answers = Ask(header);

  PYDEPOT_CHECK(answers.format == RefNegotiate(header));
  // The per-thread cache: a second ask (a hit, when short enough) and the uncached parse agree.
  PYDEPOT_CHECK(NegotiateSimpleFormat(header) == answers.format);
  PYDEPOT_CHECK(pydepot::http::NegotiateSimpleFormatUncached(header) == answers.format);
  PYDEPOT_CHECK(answers.json_errors == RefPrefersJsonErrors(header));
  PYDEPOT_CHECK(answers.gzip == RefAcceptsGzip(header));

  PYDEPOT_CHECK(Ask(SwapCase(header)) == answers);
  PYDEPOT_CHECK(Ask(PadSeparators(header, size % 2 == 0)) == answers);
  PYDEPOT_CHECK(Ask(std::string(header) + "," + std::string(header)) == answers);

  const std::string lower = LowerString(header);
  if (answers.format == SimpleFormat::kJson) {
    PYDEPOT_CHECK(lower.find("+json") != std::string::npos);
  }
  if (answers.format == SimpleFormat::kHtmlV1) {
    PYDEPOT_CHECK(lower.find("+html") != std::string::npos);
  }
  if (answers.json_errors) {
    PYDEPOT_CHECK(lower.find("json") != std::string::npos);
  }
  if (answers.gzip) {
    PYDEPOT_CHECK(lower.find("gzip") != std::string::npos ||
                  header.find('*') != std::string_view::npos);
  }
  return 0;
}
