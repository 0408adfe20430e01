#include "model/version.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "model/python_text.h"

namespace pydepot::model {
namespace {

using internal::StripPythonSpace;

// Reference behaviour: packaging 23.0 (Debian 12's python3-packaging) on CPython 3.11.
//
// Deliberate differences, both about input packaging handles only by accident:
// - Letters are matched case-insensitively in ASCII only. Python's re.IGNORECASE also folds
//   U+017F (long s), U+212A (Kelvin sign), U+0130 and U+0131 onto s/k/i, so packaging accepts
//   "1.0.po\u017ft1" (printed as 1.0.post1 yet unequal to it) and "1.0+\u017f" (a non-ASCII
//   canonical form). PEP 440 speaks of ASCII letters only; we reject these.
// - Numbers longer than 4300 digits parse here; CPython raises ValueError in int() for them.

// int, so that Parser::Peek()'s end-of-text value needs no cast.
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsAlnum(char c) { return IsDigit(c) || (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z'); }
bool IsSeparator(char c) { return c == '.' || c == '-' || c == '_'; }

// Python's int(): digits without leading zeros, "0" for all zeros.
std::string NormalizeNumber(std::string_view digits) {
  const size_t first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? std::string("0") : std::string(digits.substr(first));
}

// Numbers are normalized digit strings, so the longer one is larger.
std::strong_ordering CompareNumbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return a.size() <=> b.size();
  }
  return a.compare(b) <=> 0;
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

struct Components {
  std::string epoch = "0";
  std::vector<std::string> release;
  std::optional<std::pair<Version::PreKind, std::string>> pre;
  std::optional<std::string> post;
  std::optional<std::string> dev;
  std::vector<std::string> local;
};

// A hand-written matcher for packaging's VERSION_PATTERN (anchored, surrounding whitespace
// already removed). Each optional group is taken greedily and rolled back only when its keyword
// is missing. That finds the regex's match: a separator eaten at the end of a group is never
// needed by what follows, since later groups' separators are optional and the regex also reads
// "1.0a-1" as 1.0a1 rather than 1.0a0.post1. Keywords are case-insensitive. Every step moves
// forward and a rollback rescans at most a separator and a keyword, so parsing is linear.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool Parse(Components& out) {
    if (pos_ < text_.size() && AsciiLower(text_[pos_]) == 'v') {
      ++pos_;
    }
    if (std::string digits; ConsumeDigits(digits)) {
      if (Peek() == '!') {
        ++pos_;
        out.epoch = NormalizeNumber(digits);
      } else {
        pos_ -= digits.size();
      }
    }
    std::string component;
    if (!ConsumeDigits(component)) {
      return false;
    }
    out.release.push_back(NormalizeNumber(component));
    while (Peek() == '.' && IsDigit(Peek(1))) {
      ++pos_;
      ConsumeDigits(component);
      out.release.push_back(NormalizeNumber(component));
    }
    ParsePre(out);
    ParsePost(out);
    ParseDev(out);
    if (Peek() == '+' && !ParseLocal(out)) {
      return false;
    }
    return pos_ == text_.size();
  }

 private:
  // -1 past the end, so that a NUL byte in the input is just another invalid character.
  int Peek(size_t offset = 0) const {
    return pos_ + offset < text_.size() ? text_[pos_ + offset] : -1;
  }

  void ConsumeOptionalSeparator() {
    if (pos_ < text_.size() && IsSeparator(text_[pos_])) {
      ++pos_;
    }
  }

  bool ConsumeDigits(std::string& out) {
    const size_t start = pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) {
      ++pos_;
    }
    out.assign(text_.substr(start, pos_ - start));
    return pos_ > start;
  }

  // Consumes the longest of `words` (lower case) found at pos_, case-insensitively, and returns
  // its index. The longest wins because no keyword can be followed by the rest of a longer one
  // ("a" + "lpha", "pre" + "view", "r" + "ev") in a valid version.
  template <size_t N>
  std::optional<size_t> ConsumeKeyword(const std::array<std::string_view, N>& words) {
    std::optional<size_t> best;
    for (size_t i = 0; i < N; ++i) {
      const std::string_view word = words[i];
      if (text_.size() - pos_ < word.size() || (best && words[*best].size() >= word.size())) {
        continue;
      }
      bool match = true;
      for (size_t j = 0; j < word.size() && match; ++j) {
        match = AsciiLower(text_[pos_ + j]) == word[j];
      }
      if (match) {
        best = i;
      }
    }
    if (best) {
      pos_ += words[*best].size();
    }
    return best;
  }

  // The number after a pre, post or dev keyword: optional separator, optional digits, and an
  // implicit 0 ("1.0a" is 1.0a0).
  std::string ConsumeImplicitNumber() {
    ConsumeOptionalSeparator();
    std::string digits;
    ConsumeDigits(digits);
    return NormalizeNumber(digits);
  }

  void ParsePre(Components& out) {
    static constexpr std::array<std::string_view, 8> kWords = {"a", "alpha", "b",   "beta",
                                                               "c", "rc",    "pre", "preview"};
    static constexpr std::array<Version::PreKind, 8> kKinds = {
        Version::PreKind::kAlpha, Version::PreKind::kAlpha, Version::PreKind::kBeta,
        Version::PreKind::kBeta,  Version::PreKind::kRc,    Version::PreKind::kRc,
        Version::PreKind::kRc,    Version::PreKind::kRc};
    const size_t start = pos_;
    ConsumeOptionalSeparator();
    const std::optional<size_t> word = ConsumeKeyword(kWords);
    if (!word) {
      pos_ = start;
      return;
    }
    out.pre.emplace(kKinds[*word], ConsumeImplicitNumber());
  }

  void ParsePost(Components& out) {
    // "1.0-1" is the implicit post-release spelling; it needs the dash and a number.
    if (Peek() == '-' && IsDigit(Peek(1))) {
      ++pos_;
      std::string digits;
      ConsumeDigits(digits);
      out.post = NormalizeNumber(digits);
      return;
    }
    static constexpr std::array<std::string_view, 3> kWords = {"post", "rev", "r"};
    const size_t start = pos_;
    ConsumeOptionalSeparator();
    if (!ConsumeKeyword(kWords)) {
      pos_ = start;
      return;
    }
    out.post = ConsumeImplicitNumber();
  }

  void ParseDev(Components& out) {
    static constexpr std::array<std::string_view, 1> kWords = {"dev"};
    const size_t start = pos_;
    ConsumeOptionalSeparator();
    if (!ConsumeKeyword(kWords)) {
      pos_ = start;
      return;
    }
    out.dev = ConsumeImplicitNumber();
  }

  // "+" then alphanumeric pieces joined by single separators.
  bool ParseLocal(Components& out) {
    ++pos_;  // '+'
    while (true) {
      const size_t start = pos_;
      std::string piece;
      while (pos_ < text_.size() && IsAlnum(text_[pos_])) {
        piece.push_back(AsciiLower(text_[pos_]));
        ++pos_;
      }
      if (pos_ == start) {
        return false;
      }
      out.local.push_back(IsAllDigits(piece) ? NormalizeNumber(piece) : std::move(piece));
      if (pos_ == text_.size() || !IsSeparator(text_[pos_])) {
        return true;
      }
      ++pos_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// packaging's _cmpkey fills missing pre, post and dev parts with -infinity or +infinity (a
// release without a pre-release sorts after its pre-releases, except that a dev-only release
// sorts before them); Rank orders those against present values.
enum class Rank { kNegativeInfinity, kValue, kInfinity };

std::string_view ComponentOrZero(const std::vector<std::string>& release, size_t i) {
  return i < release.size() ? std::string_view{release[i]} : std::string_view{"0"};
}

std::strong_ordering CompareReleases(const std::vector<std::string>& a,
                                     const std::vector<std::string>& b) {
  // Zero padding is the same as packaging's stripping of trailing zeros.
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (auto c = CompareNumbers(ComponentOrZero(a, i), ComponentOrZero(b, i)); std::is_neq(c)) {
      return c;
    }
  }
  return std::strong_ordering::equal;
}

std::strong_ordering CompareLocals(const std::vector<std::string>& a,
                                   const std::vector<std::string>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const bool a_numeric = IsAllDigits(a[i]);
    const bool b_numeric = IsAllDigits(b[i]);
    if (a_numeric != b_numeric) {
      // Alphanumeric pieces sort before numeric ones.
      return a_numeric ? std::strong_ordering::greater : std::strong_ordering::less;
    }
    const std::strong_ordering c =
        a_numeric ? CompareNumbers(a[i], b[i]) : a[i].compare(b[i]) <=> 0;
    if (std::is_neq(c)) {
      return c;
    }
  }
  // Also covers "no local sorts before any local": the empty vector is the shorter one.
  return a.size() <=> b.size();
}

Rank PreRank(const Version& v) {
  if (!v.pre() && !v.post() && v.dev()) {
    return Rank::kNegativeInfinity;
  }
  return v.pre() ? Rank::kValue : Rank::kInfinity;
}

std::strong_ordering CompareOptionalNumbers(const std::optional<std::string>& a,
                                            const std::optional<std::string>& b,
                                            Rank missing_rank) {
  const Rank ra = a ? Rank::kValue : missing_rank;
  const Rank rb = b ? Rank::kValue : missing_rank;
  if (ra != rb) {
    return ra <=> rb;
  }
  return a && b ? CompareNumbers(*a, *b) : std::strong_ordering::equal;
}

}  // namespace

StatusOr<Version> Version::Parse(std::string_view text) {
  Version version = ParseLenient(text);
  if (!version.is_valid()) {
    return InvalidArgumentError("invalid version '" + std::string(text) +
                                "': not a PEP 440 version");
  }
  return version;
}

Version Version::ParseLenient(std::string_view text) {
  Version version;
  version.original_ = std::string(text);
  Components parts;
  if (!Parser(StripPythonSpace(text)).Parse(parts)) {
    return version;
  }
  version.valid_ = true;
  version.epoch_ = std::move(parts.epoch);
  version.release_ = std::move(parts.release);
  version.pre_ = std::move(parts.pre);
  version.post_ = std::move(parts.post);
  version.dev_ = std::move(parts.dev);
  version.local_ = std::move(parts.local);
  return version;
}

std::string Version::Public() const {
  if (!valid_) {
    return original_;
  }
  std::string out;
  if (epoch_ != "0") {
    out += epoch_ + "!";
  }
  for (size_t i = 0; i < release_.size(); ++i) {
    out += (i == 0 ? "" : ".") + release_[i];
  }
  if (pre_) {
    static constexpr std::array<std::string_view, 3> kLetters = {"a", "b", "rc"};
    out += kLetters[static_cast<size_t>(pre_->first)];
    out += pre_->second;
  }
  if (post_) {
    out += ".post" + *post_;
  }
  if (dev_) {
    out += ".dev" + *dev_;
  }
  return out;
}

std::string Version::Canonical() const {
  std::string out = Public();
  if (!valid_) {
    return out;
  }
  for (size_t i = 0; i < local_.size(); ++i) {
    out += (i == 0 ? "+" : ".") + local_[i];
  }
  return out;
}

// Matches canonicalize_version(v) of packaging 23.0, the copy /usr/bin/python3 imports on
// Debian 12: it strips trailing ".0"s from the release segment by default
// (strip_trailing_zero=True) and normalizes the rest: 1.0.0 -> 1, 0.0 -> 0, 1.0.0rc1 -> 1rc1,
// 1!2.0+Local -> 1!2+local.
std::string Version::ReleaseKey() const {
  if (!valid_) {
    return original_;
  }
  Version stripped = *this;
  while (stripped.release_.size() > 1 && stripped.release_.back() == "0") {
    stripped.release_.pop_back();
  }
  return stripped.Canonical();
}

bool Version::IsPrerelease() const { return valid_ && (pre_.has_value() || dev_.has_value()); }

std::strong_ordering Version::operator<=>(const Version& other) const {
  if (!valid_ || !other.valid_) {
    if (valid_ != other.valid_) {
      return valid_ ? std::strong_ordering::greater : std::strong_ordering::less;
    }
    return original_.compare(other.original_) <=> 0;
  }
  if (auto c = CompareNumbers(epoch_, other.epoch_); std::is_neq(c)) {
    return c;
  }
  if (auto c = CompareReleases(release_, other.release_); std::is_neq(c)) {
    return c;
  }
  const Rank pre_rank = PreRank(*this);
  const Rank other_pre_rank = PreRank(other);
  if (pre_rank != other_pre_rank) {
    return pre_rank <=> other_pre_rank;
  }
  if (pre_rank == Rank::kValue) {
    if (pre_->first != other.pre_->first) {
      return pre_->first <=> other.pre_->first;
    }
    if (auto c = CompareNumbers(pre_->second, other.pre_->second); std::is_neq(c)) {
      return c;
    }
  }
  if (auto c = CompareOptionalNumbers(post_, other.post_, Rank::kNegativeInfinity);
      std::is_neq(c)) {
    return c;
  }
  if (auto c = CompareOptionalNumbers(dev_, other.dev_, Rank::kInfinity); std::is_neq(c)) {
    return c;
  }
  return CompareLocals(local_, other.local_);
}

bool Version::operator==(const Version& other) const { return std::is_eq(*this <=> other); }

}  // namespace pydepot::model
