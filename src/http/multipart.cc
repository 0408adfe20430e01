#include "http/multipart.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/hash.h"
#include "base/status_macros.h"

namespace pydepot::http {
namespace {

// Transport padding longer than this after a boundary is not taken for padding.
constexpr std::size_t kMaxPadding = 64;
constexpr std::size_t kMaxBoundary = 70;
// The file part is gathered into a buffer of this size and written a buffer at a time, so that
// every write is aligned as O_DIRECT requires (offset, length and memory: kDirectAlign).
constexpr std::size_t kWriteBufferBytes = std::size_t{1} << 20;
constexpr std::size_t kDirectAlign = 4096;
static_assert(kWriteBufferBytes % kDirectAlign == 0);
// Without O_DIRECT: how much of a spooled upload may be written before its disk writes are
// started.
constexpr off_t kWritebackBytes = off_t{8} << 20;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }  // NOLINT(cppcoreguidelines-no-malloc)
};

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpaceOrTab(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsSpaceOrTab(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// RFC 2046 bcharsnospace, plus space (allowed inside, not last).
bool IsBoundaryChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

struct Param {
  std::string name;  // lower-cased
  std::string value;
};

// Parses `; name=value; name="quoted \" value"` (the part of a header after its main value).
// Unquoted values run to the next ';' and are trimmed, which tolerates unquoted file names
// with spaces. In quoted strings only \" and \\ are escapes, so a Windows-style path keeps its
// backslashes (urllib3 and browsers do not escape them).
StatusOr<std::vector<Param>> ParseParams(std::string_view s) {
  std::vector<Param> params;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && IsSpaceOrTab(s[i])) {
      ++i;
    }
  };
  while (true) {
    skip_space();
    if (i == s.size()) {
      return params;
    }
    if (s[i] != ';') {
      return InvalidArgumentError("expected ';' between parameters");
    }
    ++i;
    skip_space();
    if (i == s.size()) {
      return params;  // a trailing ';'
    }
    const std::size_t name_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';') {
      ++i;
    }
    std::string_view name = Trim(s.substr(name_start, i - name_start));
    if (name.empty() || i == s.size() || s[i] != '=') {
      return InvalidArgumentError("malformed parameter (expected name=value)");
    }
    ++i;  // '='
    skip_space();
    Param param;
    param.name.reserve(name.size());
    for (char c : name) {
      param.name.push_back(AsciiLower(c));
    }
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < s.size() && (s[i] == '"' || s[i] == '\\')) {
          param.value.push_back(s[i++]);
        } else {
          param.value.push_back(c);
        }
      }
      if (!closed) {
        return InvalidArgumentError("unterminated quoted parameter value");
      }
    } else {
      const std::size_t value_start = i;
      while (i < s.size() && s[i] != ';') {
        ++i;
      }
      param.value = std::string(Trim(s.substr(value_start, i - value_start)));
    }
    params.push_back(std::move(param));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decodes an RFC 8187 ext-value, `charset'language'percent-encoded`, to UTF-8.
StatusOr<std::string> DecodeExtValue(std::string_view param, std::string_view value) {
  const std::size_t first = value.find('\'');
  const std::size_t second = first == std::string_view::npos ? first : value.find('\'', first + 1);
  if (second == std::string_view::npos) {
    return InvalidArgumentError(std::string(param) + "= is not charset'language'value");
  }
  const std::string_view charset = value.substr(0, first);
  const bool latin1 = EqualsIgnoreCase(charset, "iso-8859-1");
  if (!latin1 && !EqualsIgnoreCase(charset, "utf-8")) {
    return InvalidArgumentError(std::string(param) + "= has an unsupported charset (use UTF-8)");
  }
  std::string out;
  const std::string_view encoded = value.substr(second + 1);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    auto byte = static_cast<unsigned char>(encoded[i]);
    if (encoded[i] == '%') {
      const int hi = i + 2 < encoded.size() ? HexValue(encoded[i + 1]) : -1;
      const int lo = i + 2 < encoded.size() ? HexValue(encoded[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return InvalidArgumentError(std::string(param) + "= has a bad percent escape");
      }
      byte = static_cast<unsigned char>(hi * 16 + lo);
      i += 2;
    }
    if (latin1 && byte >= 0x80) {
      out.push_back(static_cast<char>(0xc0 | (byte >> 6)));
      out.push_back(static_cast<char>(0x80 | (byte & 0x3f)));
    } else {
      out.push_back(static_cast<char>(byte));
    }
  }
  return out;
}

// Content-Disposition: form-data; name="..."[; filename="..."][; filename*=...]
StatusOr<PartHeaders> ParseContentDisposition(std::string_view value) {
  const std::size_t semi = value.find(';');
  if (!EqualsIgnoreCase(Trim(value.substr(0, semi)), "form-data")) {
    return InvalidArgumentError("Content-Disposition is not form-data");
  }
  if (semi == std::string_view::npos) {
    return InvalidArgumentError("Content-Disposition has no name");
  }
  auto params = ParseParams(value.substr(semi));
  if (!params.has_value()) {
    return InvalidArgumentError("Content-Disposition: " + params.error().message());
  }
  std::optional<std::string> name;
  std::optional<std::string> name_ext;
  std::optional<std::string> filename;
  std::optional<std::string> filename_ext;
  for (Param& param : *params) {
    std::optional<std::string>* slot = nullptr;
    if (param.name == "name") {
      slot = &name;
    } else if (param.name == "name*") {
      slot = &name_ext;
    } else if (param.name == "filename") {
      slot = &filename;
    } else if (param.name == "filename*") {
      slot = &filename_ext;
    } else {
      continue;
    }
    if (slot->has_value()) {
      return InvalidArgumentError("Content-Disposition has " + param.name + " twice");
    }
    *slot = std::move(param.value);
  }
  PartHeaders headers;
  if (name_ext.has_value()) {  // reqwest (uv) sends name*= for names it must escape
    PYDEPOT_ASSIGN_OR_RETURN(headers.name, DecodeExtValue("name*", *name_ext));
  } else if (name.has_value()) {
    headers.name = *std::move(name);
  }
  if (headers.name.empty()) {
    return InvalidArgumentError("Content-Disposition has no name");
  }
  if (filename_ext.has_value()) {
    PYDEPOT_ASSIGN_OR_RETURN(headers.filename, DecodeExtValue("filename*", *filename_ext));
  } else {
    headers.filename = std::move(filename);
  }
  if (HasControlCharacter(headers.name) ||
      (headers.filename.has_value() && HasControlCharacter(*headers.filename))) {
    return InvalidArgumentError("Content-Disposition has a control character in a name");
  }
  return headers;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      lo = c == 0xe0 ? 0xa0 : 0x80;
      hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      lo = c == 0xf0 ? 0x90 : 0x80;
      hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
      return false;
    }
    if (s.size() - i < len) {
      return false;
    }
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) {
      return false;
    }
    for (std::size_t k = 2; k < len; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if (next < 0x80 || next > 0xbf) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

// A field name for an error message: short, cut at a character boundary.
std::string Quoted(std::string_view name) {
  constexpr std::size_t kMax = 64;
  if (name.size() <= kMax) {
    return "'" + std::string(name) + "'";
  }
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) {
    --cut;
  }
  return "'" + std::string(name.substr(0, cut)) + "...'";
}

// A full disk is the client's to hear about (without our paths); anything else is kInternal,
// whose details are only logged.
Status FileError(std::string_view what, const std::filesystem::path& path, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return ResourceExhaustedError("upload: no space left to store the file");
  }
  return InternalError("upload temp file " + path.string() + ": " + std::string(what) + ": " +
                       std::strerror(err));
}

}  // namespace

StatusOr<std::string> MultipartBoundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (!EqualsIgnoreCase(Trim(content_type.substr(0, semi)), "multipart/form-data")) {
    return InvalidArgumentError("Content-Type is not multipart/form-data");
  }
  if (semi == std::string_view::npos) {
    return InvalidArgumentError("Content-Type has no boundary");
  }
  auto params = ParseParams(content_type.substr(semi));
  if (!params.has_value()) {
    return InvalidArgumentError("Content-Type: " + params.error().message());
  }
  std::optional<std::string> boundary;
  for (Param& param : *params) {
    if (param.name == "boundary") {
      if (boundary.has_value()) {
        return InvalidArgumentError("Content-Type has two boundaries");
      }
      boundary = std::move(param.value);
    }
  }
  if (!boundary.has_value()) {
    return InvalidArgumentError("Content-Type has no boundary");
  }
  if (boundary->empty() || boundary->size() > kMaxBoundary || boundary->back() == ' ' ||
      !std::all_of(boundary->begin(), boundary->end(), IsBoundaryChar)) {
    return InvalidArgumentError(
        "Content-Type has an invalid boundary (RFC 2046: 1-70 letters, digits or '()+_,-./:=?)");
  }
  return *std::move(boundary);
}

// --- MultipartParser ---------------------------------------------------------------------

MultipartParser::MultipartParser(std::string boundary, MultipartHandler& handler,
                                 MultipartLimits limits)
    : delimiter_("\n--" + std::move(boundary)), handler_(handler), limits_(limits) {
  // The search relies on '\n' starting the delimiter and appearing nowhere else in it.
  PYDEPOT_CHECK(delimiter_.size() > 3 && delimiter_.size() <= kMaxBoundary + 3 &&
                delimiter_.find_first_of("\r\n", 1) == std::string::npos);
  // The first delimiter may open the body without a line break before it.
  carry_ = "\n";
}

Status MultipartParser::Feed(std::string_view chunk) {
  if (!error_.ok()) {
    return error_;
  }
  error_ = FeedChunk(chunk);
  return error_;
}

Status MultipartParser::Finish() {
  if (!error_.ok()) {
    return error_;
  }
  if (state_ != State::kEpilogue) {
    error_ = InvalidArgumentError(
        state_ == State::kPreamble ? "upload body: boundary '" + delimiter_.substr(3) +
                                         "' not found (does the body match its Content-Type?)"
                                   : std::string("upload body: truncated (no closing boundary)"));
  }
  return error_;
}

Status MultipartParser::FeedChunk(std::string_view chunk) {
  if (!carry_.empty()) {
    // Process the held-back bytes together with just enough of the chunk to decide them: a
    // delimiter's worth plus one. Whatever is still held back after that lies in the chunk.
    const std::size_t take = std::min(chunk.size(), delimiter_.size() + 1);
    carry_.append(chunk.substr(0, take));
    PYDEPOT_ASSIGN_OR_RETURN(const std::size_t consumed, Consume(carry_));
    const std::size_t held = carry_.size() - consumed;
    if (take == chunk.size()) {
      carry_.erase(0, consumed);
      PYDEPOT_CHECK(carry_.size() <= delimiter_.size());
      return OkStatus();
    }
    PYDEPOT_CHECK(held <= take);
    chunk.remove_prefix(take - held);
    carry_.clear();
  }
  PYDEPOT_ASSIGN_OR_RETURN(const std::size_t consumed, Consume(chunk));
  carry_.assign(chunk.substr(consumed));
  PYDEPOT_CHECK(carry_.size() <= delimiter_.size());
  return OkStatus();
}

StatusOr<std::size_t> MultipartParser::Consume(std::string_view input) {
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::string_view rest = input.substr(pos);
    switch (state_) {
      case State::kPreamble:
      case State::kData: {
        PYDEPOT_ASSIGN_OR_RETURN(const std::size_t n, ConsumeSearch(rest));
        pos += n;
        if (state_ != State::kBoundaryTail) {
          return pos;  // the rest (if any) may start a delimiter: hold it back
        }
        break;
      }
      case State::kBoundaryTail: {
        PYDEPOT_ASSIGN_OR_RETURN(const std::size_t n, ConsumeBoundaryTail(rest));
        pos += n;
        break;
      }
      case State::kHeaders: {
        PYDEPOT_ASSIGN_OR_RETURN(const std::size_t n, ConsumeHeaders(rest));
        pos += n;
        break;
      }
      case State::kEpilogue:
        return input.size();
    }
  }
  return pos;
}

// Finds the next "\n--boundary". memchr jumps to each LF and a compare rules it in or out; the
// compare stops at the next LF at the latest (the boundary holds none), so the scan is linear
// whatever the data.
StatusOr<std::size_t> MultipartParser::ConsumeSearch(std::string_view input) {
  std::size_t from = 0;
  while (true) {
    const void* hit =
        from < input.size() ? std::memchr(input.data() + from, '\n', input.size() - from) : nullptr;
    if (hit == nullptr) {
      // A trailing CR may belong to a delimiter that starts in the next chunk.
      const std::size_t end =
          !input.empty() && input.back() == '\r' ? input.size() - 1 : input.size();
      PYDEPOT_RETURN_IF_ERROR(EmitData(input.substr(0, end)));
      return end;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - input.data());
    const std::size_t available = std::min(input.size() - lf, delimiter_.size());
    if (input.compare(lf, available, delimiter_, 0, available) != 0) {
      from = lf + 1;
      continue;
    }
    // A full delimiter, or the start of one at the end of the input: the data ends before it
    // (and before the CR that precedes it, if any).
    const std::size_t data_end = lf > 0 && input[lf - 1] == '\r' ? lf - 1 : lf;
    PYDEPOT_RETURN_IF_ERROR(EmitData(input.substr(0, data_end)));
    if (available < delimiter_.size()) {
      return data_end;
    }
    delimiter_had_cr_ = data_end != lf;
    boundary_tail_.clear();
    state_ = State::kBoundaryTail;
    return lf + delimiter_.size();
  }
}

// After "\n--boundary": "--" closes the body; optional spaces/tabs then CRLF or LF start a
// part; anything else means the delimiter was part data after all, and is replayed as such.
StatusOr<std::size_t> MultipartParser::ConsumeBoundaryTail(std::string_view input) {
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    const std::string& tail = boundary_tail_;
    bool fits = false;
    if (tail.empty()) {
      fits = c == '-' || IsSpaceOrTab(c) || c == '\r' || c == '\n';
    } else if (tail == "-") {
      fits = c == '-';
    } else if (tail.back() == '\r') {
      fits = c == '\n';
    } else {  // padding so far
      fits = (IsSpaceOrTab(c) && tail.size() < kMaxPadding) || c == '\r' || c == '\n';
    }
    if (!fits) {
      // Not a delimiter. Replay it without `c`, which cannot continue the replayed bytes into
      // a delimiter but may start one, so the search sees it again.
      state_ = in_part_ ? State::kData : State::kPreamble;
      if (delimiter_had_cr_) {
        PYDEPOT_RETURN_IF_ERROR(EmitData("\r"));
      }
      PYDEPOT_RETURN_IF_ERROR(EmitData(delimiter_));
      PYDEPOT_RETURN_IF_ERROR(EmitData(boundary_tail_));
      return i;
    }
    boundary_tail_.push_back(c);
    if (boundary_tail_ == "--") {
      if (in_part_) {
        in_part_ = false;
        PYDEPOT_RETURN_IF_ERROR(handler_.OnPartEnd());
      }
      state_ = State::kEpilogue;
      return i + 1;
    }
    if (c == '\n') {
      if (in_part_) {
        in_part_ = false;
        PYDEPOT_RETURN_IF_ERROR(handler_.OnPartEnd());
      }
      if (parts_ >= limits_.max_parts) {
        return InvalidArgumentError("upload body: too many parts (the limit is " +
                                    std::to_string(limits_.max_parts) + ")");
      }
      state_ = State::kHeaders;
      line_.clear();
      header_.clear();
      header_bytes_ = 0;
      disposition_.reset();
      content_type_.reset();
      return i + 1;
    }
  }
  return input.size();
}

StatusOr<std::size_t> MultipartParser::ConsumeHeaders(std::string_view input) {
  std::size_t pos = 0;
  while (pos < input.size()) {
    const void* hit = std::memchr(input.data() + pos, '\n', input.size() - pos);
    const std::size_t end =
        hit == nullptr ? input.size()
                       : static_cast<std::size_t>(static_cast<const char*>(hit) - input.data());
    const std::size_t piece = end - pos + (hit == nullptr ? 0 : 1);
    if (piece > limits_.max_part_header_bytes - header_bytes_) {
      return PartError("part headers too large (the limit is " +
                       std::to_string(limits_.max_part_header_bytes) + " bytes)");
    }
    header_bytes_ += piece;
    line_.append(input.data() + pos, end - pos);
    pos += piece;
    if (hit == nullptr) {
      break;
    }
    if (!line_.empty() && line_.back() == '\r') {
      line_.pop_back();
    }
    if (line_.empty()) {
      PYDEPOT_RETURN_IF_ERROR(BeginPart());
      return pos;
    }
    PYDEPOT_RETURN_IF_ERROR(HeaderLine());
    line_.clear();
  }
  return pos;
}

Status MultipartParser::HeaderLine() {
  if (HasControlCharacter(line_)) {
    return PartError("control character in a part header");
  }
  if (IsSpaceOrTab(line_.front())) {  // obsolete folding: continues the previous line
    if (header_.empty()) {
      return PartError("part header block starts with a continuation line");
    }
    header_ += line_;
    return OkStatus();
  }
  PYDEPOT_RETURN_IF_ERROR(FlushHeader());
  header_.swap(line_);
  return OkStatus();
}

Status MultipartParser::FlushHeader() {
  if (header_.empty()) {
    return OkStatus();
  }
  const std::string_view header = header_;
  const std::size_t colon = header.find(':');
  const std::string_view name =
      colon == std::string_view::npos ? std::string_view() : Trim(header.substr(0, colon));
  if (name.empty()) {
    return PartError("malformed part header line (expected Name: value)");
  }
  const std::string_view value = Trim(header.substr(colon + 1));
  std::optional<std::string>* slot = nullptr;
  if (EqualsIgnoreCase(name, "content-disposition")) {
    slot = &disposition_;
  } else if (EqualsIgnoreCase(name, "content-type")) {
    slot = &content_type_;
  }
  if (slot != nullptr) {
    if (slot->has_value()) {
      return PartError("part has two " + std::string(name) + " headers");
    }
    *slot = std::string(value);
  }
  header_.clear();
  return OkStatus();
}

Status MultipartParser::BeginPart() {
  PYDEPOT_RETURN_IF_ERROR(FlushHeader());
  if (!disposition_.has_value()) {
    return PartError("part has no Content-Disposition header");
  }
  auto headers = ParseContentDisposition(*disposition_);
  if (!headers.has_value()) {
    return PartError(headers.error().message());
  }
  headers->content_type = content_type_.value_or("");
  ++parts_;
  state_ = State::kData;
  in_part_ = true;
  return handler_.OnPartBegin(*headers);
}

Status MultipartParser::EmitData(std::string_view bytes) {
  if (state_ != State::kData || bytes.empty()) {
    return OkStatus();
  }
  return handler_.OnPartData(bytes);
}

Status MultipartParser::PartError(std::string_view what) const {
  return InvalidArgumentError("upload body: part " + std::to_string(parts_ + 1) + ": " +
                              std::string(what));
}

// --- UploadFormCollector -----------------------------------------------------------------

struct UploadFormCollector::Impl {
  enum class Kind { kNone, kText, kContent, kDiscard };

  Kind kind = Kind::kNone;
  std::string name;   // of the current part
  std::string value;  // of the current text part
  std::size_t fields_total = 0;

  // The content part.
  bool content_seen = false;
  std::string filename;
  std::string content_type;
  std::filesystem::path temp_path;  // "" until created
  bool released = false;
  int fd = -1;
  std::optional<Hasher> hasher;
  std::int64_t size = 0;
  // kWriteBufferBytes aligned to kDirectAlign; holds `buffered` bytes not yet written.
  std::unique_ptr<char[], FreeDeleter> write_buffer;
  std::size_t buffered = 0;
  // The file is open with O_DIRECT: its bytes go from the buffer to the disk, not through the
  // page cache (docs/performance.md, "Uploads", step 4). Off where the file system refuses it.
  bool direct = false;
  off_t written = 0;         // bytes written to the temp file
  off_t writeback_from = 0;  // disk writes were started for the bytes before this offset

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;
  ~Impl() {
    CloseFile();
    if (!temp_path.empty() && !released) {
      ::unlink(temp_path.c_str());
    }
  }

  Status AddToTotal(std::size_t n, const FormLimits& limits) {
    if (n > limits.max_fields_total - fields_total) {
      return InvalidArgumentError(
          "upload body: the text fields are too large together (the limit is " +
          std::to_string(limits.max_fields_total) + " bytes)");
    }
    fields_total += n;
    return OkStatus();
  }

  int CloseFile() {
    int err = 0;
    if (fd >= 0 && ::close(fd) != 0) {
      err = errno;
    }
    fd = -1;
    return err;
  }

  Status CreateTempFile(const std::filesystem::path& dir) {
    // A random name opened with O_EXCL cannot collide with, or follow a link planted by,
    // anyone else using the directory.
    constexpr int kAttempts = 8;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      std::filesystem::path path = dir / ("upload-" + HexEncode(RandomBytes(16)) + ".part");
      const int new_fd =
          ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (new_fd >= 0) {
        fd = new_fd;
        temp_path = std::move(path);
        // Set after the create, so a file system without O_DIRECT (EINVAL) still gets its file.
        const int flags = ::fcntl(fd, F_GETFL);
        direct = flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
        return OkStatus();
      }
      if (errno != EEXIST) {
        return FileError("create", path, errno);
      }
    }
    return InternalError("upload temp file: no free name in " + dir.string());
  }

  Status AllocateBuffer() {
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): freed by FreeDeleter
    write_buffer.reset(static_cast<char*>(std::aligned_alloc(kDirectAlign, kWriteBufferBytes)));
    if (write_buffer == nullptr) {
      return InternalError("upload: no memory for the write buffer");
    }
    buffered = 0;
    return OkStatus();
  }

  // Leaves O_DIRECT: for the last, unaligned bytes, or where the file system refused a write.
  Status EndDirect() {
    direct = false;
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) {
      return FileError("fcntl", temp_path, errno);
    }
    return OkStatus();
  }

  // Writes the buffer out and empties it.
  Status WriteBuffer() {
    std::string_view bytes(write_buffer.get(), buffered);
    if (direct && bytes.size() % kDirectAlign != 0) {
      PYDEPOT_RETURN_IF_ERROR(EndDirect());
    }
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno == EINVAL && direct) {
          PYDEPOT_RETURN_IF_ERROR(EndDirect());
          continue;
        }
        return FileError("write", temp_path, errno);
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      written += n;
      // A short direct write leaves the rest unaligned only if it was not whole blocks.
      if (direct && !bytes.empty() && static_cast<std::size_t>(n) % kDirectAlign != 0) {
        PYDEPOT_RETURN_IF_ERROR(EndDirect());
      }
    }
    buffered = 0;
    // The store fsyncs the file before listing it. Starting the disk writes of the page cache
    // as the body arrives (sync_file_range only queues them; it waits for nothing) leaves that
    // fsync little to do, instead of a gigabyte of dirty pages after the last byte.
    if (!direct && written - writeback_from >= kWritebackBytes) {
      ::sync_file_range(fd, writeback_from, written - writeback_from, SYNC_FILE_RANGE_WRITE);
      writeback_from = written;
    }
    return OkStatus();
  }

  Status Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const std::size_t n = std::min(bytes.size(), kWriteBufferBytes - buffered);
      std::memcpy(write_buffer.get() + buffered, bytes.data(), n);
      buffered += n;
      bytes.remove_prefix(n);
      if (buffered == kWriteBufferBytes) {
        PYDEPOT_RETURN_IF_ERROR(WriteBuffer());
      }
    }
    return OkStatus();
  }

  Status Flush() {
    Status status = buffered > 0 ? WriteBuffer() : OkStatus();
    write_buffer.reset();
    return status;
  }
};

UploadFormCollector::UploadFormCollector(std::filesystem::path temp_dir, FormLimits limits)
    : temp_dir_(std::move(temp_dir)), limits_(limits), impl_(std::make_unique<Impl>()) {}

UploadFormCollector::~UploadFormCollector() = default;

Status UploadFormCollector::OnPartBegin(const PartHeaders& headers) {
  Impl& impl = *impl_;
  PYDEPOT_CHECK(impl.kind == Impl::Kind::kNone);
  if (!IsValidUtf8(headers.name)) {
    return InvalidArgumentError("upload body: a field name is not valid UTF-8");
  }
  // Names count too: up to max_parts of them, each up to a header block's size.
  PYDEPOT_RETURN_IF_ERROR(impl.AddToTotal(headers.name.size(), limits_));
  impl.name = headers.name;
  if (!headers.filename.has_value()) {
    if (headers.name == "content") {
      return InvalidArgumentError(
          "upload field 'content' must be a file (its part has no filename)");
    }
    impl.kind = Impl::Kind::kText;
    impl.value.clear();
    return OkStatus();
  }
  if (headers.name != "content") {
    if (headers.name != "gpg_signature" &&
        std::find(form_.file_fields.begin(), form_.file_fields.end(), headers.name) ==
            form_.file_fields.end()) {
      form_.file_fields.push_back(headers.name);
    }
    impl.kind = Impl::Kind::kDiscard;
    return OkStatus();
  }
  if (impl.content_seen) {
    return InvalidArgumentError("upload body: more than one 'content' part");
  }
  if (!IsValidUtf8(*headers.filename)) {
    return InvalidArgumentError("upload body: the file name is not valid UTF-8");
  }
  impl.content_seen = true;
  impl.filename = *headers.filename;
  impl.content_type = headers.content_type;
  PYDEPOT_RETURN_IF_ERROR(impl.CreateTempFile(temp_dir_));
  impl.hasher.emplace();
  impl.size = 0;
  PYDEPOT_RETURN_IF_ERROR(impl.AllocateBuffer());
  impl.kind = Impl::Kind::kContent;
  return OkStatus();
}

Status UploadFormCollector::OnPartData(std::string_view bytes) {
  Impl& impl = *impl_;
  switch (impl.kind) {
    case Impl::Kind::kText:
      if (bytes.size() > limits_.max_field_bytes - impl.value.size()) {
        return InvalidArgumentError("upload field " + Quoted(impl.name) +
                                    " is too large (the limit is " +
                                    std::to_string(limits_.max_field_bytes) + " bytes)");
      }
      PYDEPOT_RETURN_IF_ERROR(impl.AddToTotal(bytes.size(), limits_));
      impl.value.append(bytes);
      return OkStatus();
    case Impl::Kind::kContent:
      impl.hasher->Update(bytes);
      impl.size += static_cast<std::int64_t>(bytes.size());
      return impl.Write(bytes);
    case Impl::Kind::kDiscard:
      return OkStatus();
    case Impl::Kind::kNone:
      break;
  }
  // The parser calls OnPartData only between OnPartBegin and OnPartEnd.
  PYDEPOT_CHECK(impl.kind != Impl::Kind::kNone);
  return OkStatus();
}

Status UploadFormCollector::OnPartEnd() {
  Impl& impl = *impl_;
  const Impl::Kind kind = impl.kind;
  impl.kind = Impl::Kind::kNone;
  switch (kind) {
    case Impl::Kind::kText:
      if (!IsValidUtf8(impl.value)) {
        return InvalidArgumentError("upload field " + Quoted(impl.name) + " is not valid UTF-8");
      }
      if (impl.value.find('\0') != std::string::npos) {
        return InvalidArgumentError("upload field " + Quoted(impl.name) +
                                    " contains a NUL character");
      }
      form_.fields[impl.name].push_back(std::move(impl.value));
      impl.value.clear();
      return OkStatus();
    case Impl::Kind::kContent: {
      PYDEPOT_RETURN_IF_ERROR(impl.Flush());
      if (const int err = impl.CloseFile(); err != 0) {
        return FileError("close", impl.temp_path, err);
      }
      doc::UploadedFile file;
      file.filename = std::move(impl.filename);
      file.content_type = std::move(impl.content_type);
      file.path = impl.temp_path;
      file.size = impl.size;
      file.digests = impl.hasher->Finish();
      impl.hasher.reset();
      form_.content = std::move(file);
      return OkStatus();
    }
    case Impl::Kind::kDiscard:
      return OkStatus();
    case Impl::Kind::kNone:
      break;
  }
  // The parser calls OnPartEnd only after OnPartBegin.
  PYDEPOT_CHECK(kind != Impl::Kind::kNone);
  return OkStatus();
}

doc::UploadForm UploadFormCollector::Release() {
  if (form_.content.has_value() && form_.content->path == impl_->temp_path) {
    impl_->released = true;
  }
  doc::UploadForm form = std::move(form_);
  form_ = doc::UploadForm();
  return form;
}

}  // namespace pydepot::http
