#include "http/negotiate.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "http/form.h"

namespace pydepot::http {
namespace {

struct MediaRange {
  std::string type;     // lower case, e.g. "application"
  std::string subtype;  // lower case, e.g. "vnd.pypi.simple.v1+json"
  double q = 1.0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); anything else makes the range invalid.
bool ParseQ(std::string_view text, double* q) {
  if (text.empty() || text.size() > 5 || (text[0] != '0' && text[0] != '1')) {
    return false;
  }
  if (text.size() > 1 && text[1] != '.') {
    return false;
  }
  double value = text[0] - '0';
  double scale = 0.1;
  for (std::size_t i = 2; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
    value += (text[i] - '0') * scale;
    scale /= 10;
  }
  if (value > 1.0) {
    return false;
  }
  *q = value;
  return true;
}

std::vector<MediaRange> ParseAccept(std::string_view accept) {
  std::vector<MediaRange> ranges;
  std::size_t start = 0;
  // Bounded: a hostile header cannot make us build more than this many ranges.
  constexpr std::size_t kMaxRanges = 64;
  while (start <= accept.size() && ranges.size() < kMaxRanges) {
    std::size_t comma = accept.find(',', start);
    std::string_view item = accept.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? accept.size() + 1 : comma + 1;
    std::size_t semi = item.find(';');
    std::string_view media = TrimBlanks(item.substr(0, semi));
    std::size_t slash = media.find('/');
    if (media.empty() || slash == std::string_view::npos) {
      continue;
    }
    MediaRange range{Lower(TrimBlanks(media.substr(0, slash))),
                     Lower(TrimBlanks(media.substr(slash + 1))), 1.0};
    bool valid = !range.type.empty() && !range.subtype.empty();
    while (semi != std::string_view::npos && valid) {
      std::size_t next = item.find(';', semi + 1);
      std::string_view param = TrimBlanks(item.substr(
          semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1));
      semi = next;
      std::size_t eq = param.find('=');
      if (eq == std::string_view::npos) {
        continue;
      }
      if (Lower(TrimBlanks(param.substr(0, eq))) == "q") {
        valid = ParseQ(TrimBlanks(param.substr(eq + 1)), &range.q);
      }
    }
    if (valid) {
      ranges.push_back(std::move(range));
    }
  }
  return ranges;
}

// How well `range` matches the offer type/subtype: 3 exact, 2 type/*, 1 */*, 0 no match.
int Specificity(const MediaRange& range, std::string_view type,
                std::initializer_list<std::string_view> subtypes) {
  if (range.type == "*" && range.subtype == "*") {
    return 1;
  }
  if (range.type != type) {
    return 0;
  }
  if (range.subtype == "*") {
    return 2;
  }
  for (std::string_view subtype : subtypes) {
    if (range.subtype == subtype) {
      return 3;
    }
  }
  return 0;
}

struct OfferScore {
  double q = 0;
  int specificity = 0;
};

OfferScore Score(const std::vector<MediaRange>& ranges, std::string_view type,
                 std::initializer_list<std::string_view> subtypes) {
  OfferScore best;
  for (const auto& range : ranges) {
    int s = Specificity(range, type, subtypes);
    if (s > best.specificity) {
      best = OfferScore{range.q, s};
    }
  }
  return best;
}

}  // namespace

SimpleFormat NegotiateSimpleFormatUncached(std::string_view accept) {
  std::vector<MediaRange> ranges = ParseAccept(accept);
  if (ranges.empty()) {
    return SimpleFormat::kHtml;
  }
  // In tie-break preference order.
  const std::array<std::pair<SimpleFormat, OfferScore>, 3> offers = {{
      {SimpleFormat::kJson,
       Score(ranges, "application", {"vnd.pypi.simple.v1+json", "vnd.pypi.simple.latest+json"})},
      {SimpleFormat::kHtmlV1,
       Score(ranges, "application", {"vnd.pypi.simple.v1+html", "vnd.pypi.simple.latest+html"})},
      {SimpleFormat::kHtml, Score(ranges, "text", {"html"})},
  }};
  double best_q = 0;
  for (const auto& [format, score] : offers) {
    if (score.specificity > 0) {
      best_q = std::max(best_q, score.q);
    }
  }
  if (best_q <= 0) {
    return SimpleFormat::kHtml;
  }
  for (const auto& [format, score] : offers) {
    if (score.specificity == 3 && score.q == best_q) {
      return format;
    }
  }
  return SimpleFormat::kHtml;
}

SimpleFormat NegotiateSimpleFormat(std::string_view accept) {
  // Clients send a handful of distinct Accept headers (pip's, uv's, a browser's), each on every
  // request: the last few answers are kept per thread, so a warm page costs a string compare
  // instead of a parse (which allocates). Long headers are never kept.
  struct Entry {
    std::string accept;
    SimpleFormat format = SimpleFormat::kHtml;
    bool used = false;
  };
  constexpr std::size_t kEntries = 4;
  constexpr std::size_t kLongest = 256;
  thread_local std::array<Entry, kEntries> cache;
  thread_local std::size_t next = 0;
  for (const Entry& entry : cache) {
    if (entry.used && entry.accept == accept) {
      return entry.format;
    }
  }
  const SimpleFormat format = NegotiateSimpleFormatUncached(accept);
  if (accept.size() <= kLongest) {
    Entry& entry = cache[next];
    next = (next + 1) % kEntries;
    entry.accept.assign(accept);
    entry.format = format;
    entry.used = true;
  }
  return format;
}

bool PrefersJsonErrors(std::string_view accept) {
  std::vector<MediaRange> ranges = ParseAccept(accept);
  double json_q = 0;
  double text_q = 0;
  for (const auto& range : ranges) {
    if (range.type == "application" && range.subtype == "json") {
      json_q = std::max(json_q, range.q);
    } else if (range.type == "text") {
      text_q = std::max(text_q, range.q);
    }
  }
  return json_q > 0 && json_q >= text_q;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<double> gzip_q;
  std::optional<double> any_q;
  std::size_t start = 0;
  while (start < accept_encoding.size()) {
    std::size_t comma = accept_encoding.find(',', start);
    std::string_view item = accept_encoding.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? accept_encoding.size() : comma + 1;
    std::size_t semi = item.find(';');
    std::string_view coding = TrimBlanks(item.substr(0, semi));
    double q = 1.0;
    while (semi != std::string_view::npos) {
      std::size_t next = item.find(';', semi + 1);
      std::string_view param = TrimBlanks(item.substr(
          semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1));
      semi = next;
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=' &&
          !ParseQ(TrimBlanks(param.substr(2)), &q)) {
        q = 0;  // a malformed weight does not accept
      }
    }
    auto equals = [&](std::string_view name) {
      return coding.size() == name.size() &&
             std::equal(coding.begin(), coding.end(), name.begin(),
                        [](unsigned char a, unsigned char b) { return std::tolower(a) == b; });
    };
    if (equals("gzip") || equals("x-gzip")) {
      gzip_q = std::max(gzip_q.value_or(0.0), q);
    } else if (coding == "*") {
      any_q = q;
    }
  }
  if (gzip_q) {
    return *gzip_q > 0;
  }
  return any_q.value_or(0.0) > 0;
}

}  // namespace pydepot::http
