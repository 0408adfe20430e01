// A streaming multipart/form-data parser (RFC 7578) for legacy-API uploads, and the collector
// that turns a body into an doc::UploadForm: text fields to memory (bounded), the `content`
// file part to a temp file while its digests are computed, so memory stays flat whatever the
// file size. Not thread-safe: one parser and one collector per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "doc/upload_form.h"

namespace pydepot::http {

// What the parser read from one part's header block. Header names are case-insensitive;
// headers other than Content-Disposition and Content-Type are ignored.
struct PartHeaders {
  std::string name;                     // Content-Disposition name (never empty)
  std::optional<std::string> filename;  // filename= (or filename*=UTF-8''...) when present
  std::string content_type;             // "" when the part has no Content-Type
};

// Receives the parts of a body in order: OnPartBegin, OnPartData zero or more times (each call
// a piece of the part's bytes, in order, never buffered whole by the parser), OnPartEnd. A
// non-OK Status stops the parser, which returns it from Feed/Finish.
class MultipartHandler {
 public:
  MultipartHandler() = default;
  MultipartHandler(const MultipartHandler&) = delete;
  MultipartHandler& operator=(const MultipartHandler&) = delete;
  MultipartHandler(MultipartHandler&&) = delete;
  MultipartHandler& operator=(MultipartHandler&&) = delete;
  virtual ~MultipartHandler() = default;
  virtual Status OnPartBegin(const PartHeaders& headers) = 0;
  virtual Status OnPartData(std::string_view bytes) = 0;
  virtual Status OnPartEnd() = 0;
};

struct MultipartLimits {
  std::size_t max_part_header_bytes = 16384;  // all header lines of one part
  std::size_t max_parts = 2000;
};

// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type (quoted or not).
// The type and the parameter name are case-insensitive; the boundary must be 1-70 characters
// of RFC 2046 `bchars` not ending in a space. kInvalidArgument, with a short message meant to
// follow "Uploads must be multipart/form-data: ", when the type is not multipart/form-data or
// has no valid boundary.
StatusOr<std::string> MultipartBoundary(std::string_view content_type);

// Splits a body into parts with a state machine that accepts any chunking. Between Feed calls
// it keeps at most boundary length + 3 bytes (a possible "\r\n--boundary" start), up to 66
// bytes after a boundary (transport padding), and the current part's header block (bounded by
// max_part_header_bytes); part bytes reach the handler as views into the fed chunks, so memory
// stays bounded whatever the part sizes. The delimiter search is linear in the input: only the
// held-back bytes are examined again, once, with the next chunk.
//
// What it accepts, beyond RFC 2046 with CRLF line breaks:
//  - a preamble before the first delimiter (distutils' leading CRLF, or any text) and an
//    epilogue after the closing "--boundary--" are ignored;
//  - spaces and tabs after a boundary (transport padding);
//  - bare-LF framing as Python 2.7 distutils sends it: a delimiter is "\n--boundary" with an
//    optional CR before it, and header lines may end in LF alone. (A part that really ends in
//    CR followed by a bare-LF delimiter loses that CR; Python 2.7 distutils guards against it.)
//  - "\n--boundary" followed by anything but "--", padding and a line break is part data;
//  - obsolete header folding (a line starting with a space or tab continues the previous one);
//  - Content-Disposition parameters quoted (with \" and \\ escapes) or unquoted, in any order,
//    and `filename*=UTF-8''percent-encoded` (or ISO-8859-1, converted to UTF-8), which wins
//    over `filename=` (RFC 6266); likewise `name*=` (reqwest sends it for names it escapes).
//    File names are passed on as sent (urllib3's `%22` for a quote stays `%22`); checking them
//    (slashes, "..") is the validator's job.
// What it rejects with kInvalidArgument ("upload body: ..."): a part without a form-data
// Content-Disposition and a non-empty name, duplicate Content-Disposition/Content-Type headers
// or parameters, control characters in headers, a header block above max_part_header_bytes,
// more than max_parts parts, and a body that ends before the closing boundary.
class MultipartParser {
 public:
  // REQUIRES: `boundary` is 1-70 characters without CR or LF (as MultipartBoundary returns).
  MultipartParser(std::string boundary, MultipartHandler& handler, MultipartLimits limits = {});

  // Feeds the next chunk of the body (any size, any split point). Returns the first error from
  // the framing (kInvalidArgument with a message a person can act on) or from the handler;
  // after an error the parser must not be fed again (it returns that error again if it is).
  Status Feed(std::string_view chunk);
  // The body ended: kInvalidArgument unless the closing boundary was seen ("upload body:
  // truncated (no closing boundary)", or "upload body: boundary ... not found" when not even
  // the first boundary was seen).
  Status Finish();

 private:
  enum class State {
    kPreamble,      // before the first delimiter: bytes are discarded
    kBoundaryTail,  // after "\n--boundary": "--", transport padding and the line break decide
    kHeaders,       // reading a part's header lines
    kData,          // a part's body, streamed to the handler
    kEpilogue,      // after the closing delimiter: bytes are discarded
  };

  Status FeedChunk(std::string_view chunk);
  // Each Consume* returns how many bytes of `input` it used. Only the delimiter search leaves
  // bytes unused (a possible delimiter start at the end of the input): they become carry_.
  StatusOr<std::size_t> Consume(std::string_view input);
  StatusOr<std::size_t> ConsumeSearch(std::string_view input);
  StatusOr<std::size_t> ConsumeBoundaryTail(std::string_view input);
  StatusOr<std::size_t> ConsumeHeaders(std::string_view input);
  Status HeaderLine();
  Status FlushHeader();
  Status BeginPart();
  Status EmitData(std::string_view bytes);
  Status PartError(std::string_view what) const;

  std::string delimiter_;  // "\n--" + boundary; the CR before it is optional (bare-LF bodies)
  MultipartHandler& handler_;
  MultipartLimits limits_;
  State state_ = State::kPreamble;
  Status error_;                   // the first error; returned by every later call
  std::string carry_;              // held-back bytes: at most delimiter_.size()
  bool in_part_ = false;           // a part's headers were delivered and its end was not
  bool delimiter_had_cr_ = false;  // the delimiter being examined was preceded by CR
  std::string boundary_tail_;      // bytes after the delimiter, while they are undecided
  std::string line_;               // the header line being read
  std::string header_;             // the last complete header line, until folding is ruled out
  std::size_t header_bytes_ = 0;   // bytes of this part's header block so far
  std::optional<std::string> disposition_;
  std::optional<std::string> content_type_;
  std::size_t parts_ = 0;
};

// Bounds on the text fields of one upload (the file part is bounded by the request size).
struct FormLimits {
  std::size_t max_field_bytes = 4 << 20;    // one text field (a long description fits)
  std::size_t max_fields_total = 16 << 20;  // all text fields and all part names together
};

// Collects an upload body: feed it to a MultipartParser.
//  - Text parts go to form().fields[name], in arrival order. Names and values must be UTF-8
//    without NUL; each value is bounded by max_field_bytes (kInvalidArgument "upload field
//    '<name>' is too large ...") and all values plus all part names by max_fields_total. The
//    part's own Content-Type is ignored: values are UTF-8 whatever it says.
//  - The `content` part must be a file part (a filename, possibly ""). It streams into a new
//    temp file in `temp_dir` (created exclusively with a random name, mode 0600) while its
//    sha256, md5 and blake2b-256 are computed; form().content is set when the part ends. A
//    second `content` part is kInvalidArgument.
//  - A `gpg_signature` file part is discarded (PyPI ignores it too).
//  - Any other file part is discarded and its name recorded once in form().file_fields, for
//    the validator to answer "<field>: Should not be a tuple.".
// Temp file ownership: the collector owns the temp file, and its destructor removes it (also a
// partial one after an error), so a caller that only reads or copies form().content->path
// needs to do nothing. A caller that wants to keep the file (rename it into place) calls
// Release(), after which the file is the caller's to move or remove.
// Errors creating or writing the temp file are kInternal (kResourceExhausted when the disk is
// full). Not thread-safe.
class UploadFormCollector : public MultipartHandler {
 public:
  explicit UploadFormCollector(std::filesystem::path temp_dir, FormLimits limits = {});
  ~UploadFormCollector() override;
  UploadFormCollector(const UploadFormCollector&) = delete;
  UploadFormCollector& operator=(const UploadFormCollector&) = delete;
  UploadFormCollector(UploadFormCollector&&) = delete;
  UploadFormCollector& operator=(UploadFormCollector&&) = delete;

  Status OnPartBegin(const PartHeaders& headers) override;
  Status OnPartData(std::string_view bytes) override;
  Status OnPartEnd() override;

  // The collected form. REQUIRES: the parser finished without error.
  doc::UploadForm& form() { return form_; }

  // Moves the form out and hands over the temp file named by its content->path: the
  // destructor will no longer remove it. A partial temp file (an error mid-part) stays the
  // collector's and is still removed. After it, form() is empty.
  // REQUIRES: the parser finished without error.
  doc::UploadForm Release();

 private:
  struct Impl;
  std::filesystem::path temp_dir_;
  FormLimits limits_;
  doc::UploadForm form_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pydepot::http
