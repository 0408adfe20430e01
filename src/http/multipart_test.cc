#include "http/multipart.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::http {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Matches an OK Status, or (with a code) an error whose message contains `substring`.
class StatusMatcher : public ::testing::MatcherInterface<const Status&> {
 public:
  StatusMatcher(StatusCode code, std::string substring)
      : code_(code), substring_(std::move(substring)) {}

  bool MatchAndExplain(const Status& status,
                       ::testing::MatchResultListener* listener) const override {
    *listener << status.ToString();
    return status.code() == code_ && status.message().find(substring_) != std::string::npos;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is " << StatusCodeName(code_) << " containing \"" << substring_ << "\"";
  }

 private:
  StatusCode code_;
  std::string substring_;
};

::testing::Matcher<const Status&> IsOk() {
  return ::testing::MakeMatcher(new StatusMatcher(StatusCode::kOk, ""));
}

::testing::Matcher<const Status&> IsInvalidArgument(std::string substring) {
  return ::testing::MakeMatcher(
      new StatusMatcher(StatusCode::kInvalidArgument, std::move(substring)));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path TestDataDir() { return fs::path(PYDEPOT_SOURCE_DIR) / "tests/testdata/multipart"; }

// --- A handler that records what the parser delivered -------------------------------------

struct Part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string data;
  bool ended = false;

  friend bool operator==(const Part&, const Part&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Part& p) {
    return os << "{name=" << p.name << " filename=" << p.filename.value_or("<none>")
              << " type=" << p.content_type << " data=" << ::testing::PrintToString(p.data)
              << (p.ended ? "" : " (not ended)") << "}";
  }
};

Part TextPart(std::string name, std::string data) {
  return Part{std::move(name), std::nullopt, "", std::move(data), true};
}

Part FilePart(std::string name, std::string filename, std::string content_type, std::string data) {
  return Part{std::move(name), std::move(filename), std::move(content_type), std::move(data), true};
}

class Recorder : public MultipartHandler {
 public:
  Status OnPartBegin(const PartHeaders& headers) override {
    EXPECT_TRUE(parts.empty() || parts.back().ended);
    parts.push_back(Part{headers.name, headers.filename, headers.content_type, "", false});
    return OkStatus();
  }
  Status OnPartData(std::string_view bytes) override {
    EXPECT_FALSE(bytes.empty());
    EXPECT_TRUE(!parts.empty() && !parts.back().ended);
    parts.back().data.append(bytes);
    return OkStatus();
  }
  Status OnPartEnd() override {
    EXPECT_TRUE(!parts.empty() && !parts.back().ended);
    parts.back().ended = true;
    return OkStatus();
  }

  std::vector<Part> parts;
};

struct ParseResult {
  Status status;
  std::vector<Part> parts;
};

// Feeds `body` in pieces cut at the ascending offsets `cuts`, then finishes.
ParseResult Parse(std::string_view body, const std::string& boundary,
                  const std::vector<std::size_t>& cuts = {}, MultipartLimits limits = {}) {
  Recorder recorder;
  MultipartParser parser(boundary, recorder, limits);
  ParseResult result;
  std::size_t previous = 0;
  for (std::size_t cut : cuts) {
    result.status = parser.Feed(body.substr(previous, cut - previous));
    previous = cut;
    if (!result.status.ok()) {
      result.parts = recorder.parts;
      return result;
    }
  }
  result.status = parser.Feed(body.substr(previous));
  if (result.status.ok()) {
    result.status = parser.Finish();
  }
  result.parts = recorder.parts;
  return result;
}

ParseResult ParseBytewise(std::string_view body, const std::string& boundary) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < body.size(); ++i) {
    cuts.push_back(i);
  }
  return Parse(body, boundary, cuts);
}

// A CRLF body framed as requests/urllib3 frame it.
class BodyBuilder {
 public:
  explicit BodyBuilder(std::string boundary) : boundary_(std::move(boundary)) {}

  BodyBuilder& Raw(std::string_view headers, std::string_view data) {
    out_ += "--" + boundary_ + "\r\n";
    out_ += headers;
    out_ += "\r\n\r\n";
    out_ += data;
    out_ += "\r\n";
    return *this;
  }
  BodyBuilder& Field(std::string_view name, std::string_view value) {
    return Raw("Content-Disposition: form-data; name=\"" + std::string(name) + "\"", value);
  }
  BodyBuilder& File(std::string_view name, std::string_view filename, std::string_view data,
                    std::string_view content_type = "") {
    std::string headers = "Content-Disposition: form-data; name=\"" + std::string(name) +
                          "\"; filename=\"" + std::string(filename) + "\"";
    if (!content_type.empty()) {
      headers += "\r\nContent-Type: " + std::string(content_type);
    }
    return Raw(headers, data);
  }
  // The body so far, without the closing delimiter.
  const std::string& Unclosed() const { return out_; }
  std::string Close() const { return out_ + "--" + boundary_ + "--\r\n"; }

 private:
  std::string boundary_;
  std::string out_;
};

constexpr char kB[] = "b4ac6c109ce48b0959dec0f04d6fbb64";

// --- MultipartBoundary --------------------------------------------------------------------

TEST(MultipartBoundaryTest, TokenAndQuoted) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc123").value(), "abc123");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=\"abc 123\"").value(), "abc 123");
  EXPECT_EQ(MultipartBoundary("multipart/form-data;boundary=x").value(), "x");
  EXPECT_EQ(MultipartBoundary("  multipart/form-data ;  boundary = \"q:/=?\" ").value(), "q:/=?");
}

TEST(MultipartBoundaryTest, CaseInsensitiveTypeAndParameter) {
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data; BOUNDARY=AbC").value(), "AbC");
}

TEST(MultipartBoundaryTest, OtherParametersInAnyOrder) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; charset=utf-8; boundary=zz").value(), "zz");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=zz; charset=\"utf-8\"").value(), "zz");
}

TEST(MultipartBoundaryTest, LengthLimits) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=" + std::string(70, 'a')).value(),
            std::string(70, 'a'));
  EXPECT_FALSE(
      MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).has_value());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=").has_value());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=\"\"").has_value());
}

TEST(MultipartBoundaryTest, Rejects) {
  for (const char* content_type : {
           "",
           "application/x-www-form-urlencoded",
           "multipart/mixed; boundary=abc",
           "multipart/form-data",
           "multipart/form-data; charset=utf-8",
           "multipart/form-data; boundary=abc; boundary=def",
           "multipart/form-data; boundary=\"abc",
           "multipart/form-data; boundary=\"abc \"",  // ends in a space
           "multipart/form-data; boundary=a\"b",
           "multipart/form-data; boundary=a{b}",
           "multipart/form-data; boundary=\"a\rb\"",
           "multipart/form-data; boundary",
       }) {
    auto result = MultipartBoundary(content_type);
    ASSERT_FALSE(result.has_value()) << content_type;
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument) << content_type;
  }
  EXPECT_THAT(MultipartBoundary("text/plain").error(), IsInvalidArgument("multipart/form-data"));
  EXPECT_THAT(MultipartBoundary("multipart/form-data").error(), IsInvalidArgument("no boundary"));
}

TEST(MultipartBoundaryTest, CapturedClients) {
  for (const auto& entry : fs::directory_iterator(TestDataDir())) {
    if (entry.path().extension() != ".content_type") {
      continue;
    }
    std::string content_type = ReadFile(entry.path());
    content_type.erase(content_type.find_last_not_of('\n') + 1);
    auto boundary = MultipartBoundary(content_type);
    ASSERT_TRUE(boundary.has_value()) << entry.path();
    EXPECT_EQ(content_type.substr(content_type.size() - boundary->size()), *boundary);
  }
}

// --- MultipartParser: framing -------------------------------------------------------------

TEST(MultipartParserTest, FieldsAndFile) {
  std::string body = BodyBuilder(kB)
                         .Field(":action", "file_upload")
                         .Field("name", "foo")
                         .File("content", "foo-1.0.tar.gz", "\x1f\x8b bytes", "application/gzip")
                         .Close();
  ParseResult result = Parse(body, kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart(":action", "file_upload"), TextPart("name", "foo"),
                                        FilePart("content", "foo-1.0.tar.gz", "application/gzip",
                                                 "\x1f\x8b bytes")));
}

// A body that exercises every state: preamble, padding, folding, lookalikes, epilogue.
std::string TrickyBody() {
  return std::string("preamble\r\n") + "--" + kB + " \t\r\n" +
         "content-disposition: form-data;\r\n name=\"a\"\r\n\r\n" + "x\r\n--" + kB +
         "y\r\n--\r\n\r" + "\r\n--" + kB + "\r\n" +
         "Content-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n" +
         "Content-Type: application/octet-stream\r\n\r\n" + "\r\n\r\n--" +
         std::string(kB).substr(0, 10) + "\r" + "\r\n--" + kB + "--\r\nepilogue\r\n--" + kB +
         "\r\n";
}

std::vector<Part> TrickyParts() {
  return {TextPart("a", std::string("x\r\n--") + kB + "y\r\n--\r\n\r"),
          FilePart("f", "f.bin", "application/octet-stream",
                   "\r\n\r\n--" + std::string(kB).substr(0, 10) + "\r")};
}

TEST(MultipartParserTest, TrickyBodyInOneChunk) {
  ParseResult result = Parse(TrickyBody(), kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.parts, TrickyParts());
}

TEST(MultipartParserTest, EverySplitPosition) {
  const std::string body = TrickyBody();
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    ParseResult result = Parse(body, kB, {cut});
    ASSERT_THAT(result.status, IsOk()) << "cut at " << cut;
    ASSERT_EQ(result.parts, TrickyParts()) << "cut at " << cut;
  }
}

TEST(MultipartParserTest, EveryPairOfSplitPositions) {
  const std::string boundary = "xyz";
  const std::string body =
      "\r\n--xyz \r\nContent-Disposition: form-data; name=a\r\n\r\n"
      "1\r\n--xy\n--xyz-\r\r\n--xyz\nContent-Disposition: form-data; "
      "name=b; filename=c\n\n\r\n\r\n--xyz--";
  const std::vector<Part> expected = {TextPart("a", "1\r\n--xy\n--xyz-\r"),
                                      FilePart("b", "c", "", "\r\n")};
  for (std::size_t i = 0; i <= body.size(); ++i) {
    for (std::size_t j = i; j <= body.size(); ++j) {
      ParseResult result = Parse(body, boundary, {i, j});
      ASSERT_THAT(result.status, IsOk()) << "cuts at " << i << ", " << j;
      ASSERT_EQ(result.parts, expected) << "cuts at " << i << ", " << j;
    }
  }
}

TEST(MultipartParserTest, ByteAtATime) {
  ParseResult result = ParseBytewise(TrickyBody(), kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.parts, TrickyParts());
}

TEST(MultipartParserTest, DistutilsLeadingCrlf) {
  const std::string boundary = "--------------GHSKFJDLGDS7543FJKLFHRE75642756743254";
  const std::string body = "\r\n--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\n"
                           "file_upload\r\n--" +
                           boundary + "--\r\n";
  ParseResult result = Parse(body, boundary);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart(":action", "file_upload")));
}

TEST(MultipartParserTest, PreambleAndEpilogueIgnored) {
  const std::string body = std::string("This is a preamble.\r\nIt has --") + kB + " in it.\r\n--" +
                           kB + "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" + kB +
                           "--  \r\nAn epilogue, with a boundary:\r\n--" + kB + "\r\n";
  ParseResult result = Parse(body, kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart("a", "v")));
}

TEST(MultipartParserTest, ClosingDelimiterWithoutLineBreak) {
  std::string body = BodyBuilder(kB).Field("a", "v").Close();
  body.resize(body.size() - 2);
  ParseResult result = Parse(body, kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart("a", "v")));
}

TEST(MultipartParserTest, TransportPadding) {
  const std::string body = std::string("--") + kB + " \t \r\n" +
                           "Content-Disposition: form-data; name=a\r\n\r\nv\r\n--" + kB +
                           "\t\r\nContent-Disposition: form-data; name=b\r\n\r\nw\r\n--" + kB +
                           "--\r\n";
  ParseResult result = Parse(body, kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart("a", "v"), TextPart("b", "w")));
}

TEST(MultipartParserTest, OnlyTheClosingDelimiter) {
  ParseResult result = Parse(std::string("--") + kB + "--\r\n", kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_TRUE(result.parts.empty());
}

TEST(MultipartParserTest, EmptyPartsAndValues) {
  std::string body = BodyBuilder(kB)
                         .Field("requires_python", "")
                         .File("content", "", "")
                         .Field("comment", "")
                         .Close();
  ParseResult result = Parse(body, kB);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart("requires_python", ""),
                                        FilePart("content", "", "", ""), TextPart("comment", "")));
}

// "\r\n--boundary" followed by something other than "--", padding and a line break is data.
TEST(MultipartParserTest, DelimiterLookalikesAreData) {
  for (const std::string& data : {
           std::string("a\r\n--") + kB + "x",
           std::string("a\r\n--") + kB + "-x",
           std::string("a\r\n--") + kB + "-\r\n",
           std::string("a\r\n--") + kB + " x\r\n",
           std::string("a\r\n--") + kB + "\rx",
           std::string("a\r\n--") + kB + "\r\r",
           std::string("a\r\n--") + kB + std::string(65, ' ') + "\r\n",
           std::string("--") + kB + "\r\n",
           std::string("a--") + kB + "--\r\n",
           std::string("\r\n-") + kB,
           std::string("\r\r\r\n\n\n--\r\n--") + std::string(kB).substr(1),
           std::string("ends with CR\r"),
           std::string("ends with CRLF\r\n"),
           std::string("ends with LF-dash-dash\n--"),
           std::string("\0\xff", 2),
       }) {
    std::string body = BodyBuilder(kB).Field("a", data).Field("b", "after").Close();
    ParseResult result = Parse(body, kB);
    ASSERT_THAT(result.status, IsOk()) << ::testing::PrintToString(data);
    EXPECT_THAT(result.parts, ElementsAre(TextPart("a", data), TextPart("b", "after")))
        << ::testing::PrintToString(data);
    EXPECT_EQ(ParseBytewise(body, kB).parts, result.parts) << ::testing::PrintToString(data);
  }
}

// Python 2.7 distutils frames with bare LF; the parser tolerates it (STANDARDS UP-03).
TEST(MultipartParserTest, BareLfFraming) {
  const std::string boundary = "--------------GHSKFJDLGDS7543FJKLFHRE75642756743254";
  const std::string body = "\n--" + boundary + "\nContent-Disposition: form-data; name=\"a\"\n\n" +
                           "line1\r\nline2" + "\n--" + boundary +
                           "\nContent-Disposition: form-data; name=\"content\";"
                           "filename=\"x.zip\"\n\nPK\n\x03\x04" +
                           "\n--" + boundary + "--\n";
  ParseResult result = Parse(body, boundary);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(TextPart("a", "line1\r\nline2"),
                                        FilePart("content", "x.zip", "", "PK\n\x03\x04")));
  EXPECT_EQ(ParseBytewise(body, boundary).parts, result.parts);
}

// --- MultipartParser: part headers --------------------------------------------------------

ParseResult ParseOnePart(std::string_view headers, std::string_view data = "v") {
  return Parse(BodyBuilder(kB).Raw(headers, data).Close(), kB);
}

TEST(MultipartParserTest, HeaderNamesAndParametersAreCaseInsensitive) {
  ParseResult result = ParseOnePart(
      "CONTENT-DISPOSITION: Form-Data; NAME=\"content\"; FileName=\"F.whl\"\r\n"
      "content-TYPE: Application/Octet-Stream");
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts,
              ElementsAre(FilePart("content", "F.whl", "Application/Octet-Stream", "v")));
}

TEST(MultipartParserTest, ParameterForms) {
  struct Case {
    const char* disposition = "";
    const char* name = "";
    std::optional<std::string> filename;
  };
  const Case cases[] = {
      {"form-data; name=plain", "plain", std::nullopt},
      {"form-data;name=\"q\";filename=\"f\"", "q", "f"},
      {"form-data ; filename = \"first.whl\" ; name = \"content\" ", "content", "first.whl"},
      {"form-data; name=\"with;semi\"; filename=\"a;b.whl\"", "with;semi", "a;b.whl"},
      {"form-data; name=\"esc\\\"aped\"; filename=\"back\\\\slash\"", "esc\"aped", "back\\slash"},
      {"form-data; name=\"win\"; filename=\"C:\\temp\\f.whl\"", "win", "C:\\temp\\f.whl"},
      {"form-data; name=unquoted; filename=my file.whl", "unquoted", "my file.whl"},
      {"form-data; name=\"u\"; filename=\"pdt\xc3\xabst.whl\"", "u", "pdt\xc3\xabst.whl"},
      {"form-data; name=\"u\"; filename=\"x\"; filename*=UTF-8''na%C3%AFve%20%E2%9C%93.whl", "u",
       "na\xc3\xafve \xe2\x9c\x93.whl"},
      {"form-data; name=\"u\"; filename*=utf-8'en'a%2fb", "u", "a/b"},
      {"form-data; name=\"u\"; filename*=ISO-8859-1''caf%E9", "u", "caf\xc3\xa9"},
      {"form-data; name*=utf-8''%3Aaction", ":action", std::nullopt},
      {"form-data; name=\"e\"; filename=\"\"", "e", ""},
      {"form-data; name=\"x\"; size=12; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\";", "x",
       std::nullopt},
  };
  for (const Case& c : cases) {
    ParseResult result = ParseOnePart(std::string("Content-Disposition: ") + c.disposition);
    ASSERT_THAT(result.status, IsOk()) << c.disposition;
    ASSERT_EQ(result.parts.size(), 1u);
    EXPECT_EQ(result.parts[0].name, c.name) << c.disposition;
    EXPECT_EQ(result.parts[0].filename, c.filename) << c.disposition;
  }
}

TEST(MultipartParserTest, FoldedAndUnknownHeaders) {
  ParseResult result = ParseOnePart(
      "X-Whatever: 1\r\nContent-Disposition: form-data;\r\n\tname=\"a\";\r\n"
      "  filename=\"b\"\r\nContent-Transfer-Encoding: binary\r\nContent-Type:text/plain");
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(result.parts, ElementsAre(FilePart("a", "b", "text/plain", "v")));
}

TEST(MultipartParserTest, BadPartHeaders) {
  struct Case {
    const char* headers = "";
    const char* error = "";
  };
  const Case cases[] = {
      {"Content-Type: text/plain", "no Content-Disposition"},
      {"", "no Content-Disposition"},
      {"Content-Disposition: attachment; name=\"a\"", "not form-data"},
      {"Content-Disposition: form-data", "no name"},
      {"Content-Disposition: form-data; filename=\"f\"", "no name"},
      {"Content-Disposition: form-data; name=\"\"", "no name"},
      {"Content-Disposition: form-data; name=\"a", "unterminated"},
      {"Content-Disposition: form-data; name=\"a\" x", "expected ';'"},
      {"Content-Disposition: form-data; name", "name=value"},
      {"Content-Disposition: form-data; name=a; NAME=b", "name twice"},
      {"Content-Disposition: form-data; name=a; filename=b; filename=c", "filename twice"},
      {"Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b",
       "two Content-Disposition"},
      {"Content-Disposition: form-data; name=a\r\nContent-Type: a\r\nContent-Type: b",
       "two Content-Type"},
      {"Content-Disposition: form-data; name=a\r\nno colon here", "malformed part header"},
      {"Content-Disposition: form-data; name=a\r\n: empty name", "malformed part header"},
      {" folded: first", "continuation"},
      {"Content-Disposition: form-data; name=\"a\rb\"", "control character"},
      {"Content-Disposition: form-data; name=a; filename*=UTF-8''%0A.whl", "control character"},
      {"Content-Disposition: form-data; name=a; filename*=UTF-8''%zz", "bad percent escape"},
      {"Content-Disposition: form-data; name=a; filename*=UTF-8''%4", "bad percent escape"},
      {"Content-Disposition: form-data; name=a; filename*=koi8-r''x", "unsupported charset"},
      {"Content-Disposition: form-data; name=a; filename*=x.whl", "charset'language'value"},
  };
  for (const Case& c : cases) {
    ParseResult result = ParseOnePart(c.headers);
    EXPECT_THAT(result.status, IsInvalidArgument(c.error)) << c.headers;
    EXPECT_THAT(result.status, IsInvalidArgument("upload body: part 1: ")) << c.headers;
    EXPECT_TRUE(result.parts.empty()) << c.headers;
  }
  ParseResult nul = ParseOnePart(std::string("Content-Disposition: form-data; name=\"a\0b\"", 42));
  EXPECT_THAT(nul.status, IsInvalidArgument("control character"));
}

TEST(MultipartParserTest, PartHeaderSizeLimit) {
  MultipartLimits limits;
  limits.max_part_header_bytes = 100;
  // The header block is the header lines with their CRLFs plus the blank line's CRLF.
  auto body_with_header_block = [](std::size_t size) {
    const std::string prefix = "Content-Disposition: form-data; name=a\r\nX: ";
    std::string headers = prefix + std::string(size - prefix.size() - 4, 'x');
    return BodyBuilder(kB).Raw(headers, "v").Close();
  };
  EXPECT_THAT(Parse(body_with_header_block(100), kB, {}, limits).status, IsOk());
  ParseResult too_large = Parse(body_with_header_block(101), kB, {}, limits);
  EXPECT_THAT(too_large.status, IsInvalidArgument("upload body: part 1: part headers too large"));
  // An endless header line is stopped at the limit, however it is chunked.
  Recorder recorder;
  MultipartParser in_headers(kB, recorder, limits);
  Status status = in_headers.Feed(std::string("--") + kB + "\r\nX: ");
  ASSERT_THAT(status, IsOk());
  for (int i = 0; i < 1000 && status.ok(); ++i) {
    status = in_headers.Feed("yyyyyyyyyy");
  }
  EXPECT_THAT(status, IsInvalidArgument("part headers too large"));
}

TEST(MultipartParserTest, PartCountLimit) {
  MultipartLimits limits;
  limits.max_parts = 3;
  BodyBuilder builder(kB);
  builder.Field("a", "1").Field("b", "2").Field("c", "3");
  EXPECT_THAT(Parse(builder.Close(), kB, {}, limits).status, IsOk());
  builder.Field("d", "4");
  ParseResult result = Parse(builder.Close(), kB, {}, limits);
  EXPECT_THAT(result.status, IsInvalidArgument("upload body: too many parts"));
  EXPECT_EQ(result.parts.size(), 3u);
}

// --- MultipartParser: truncation and errors -----------------------------------------------

TEST(MultipartParserTest, Truncated) {
  const std::string body = BodyBuilder(kB).Field("a", "v").File("content", "f", "data").Close();
  // Every proper prefix that got past the first boundary line is "truncated".
  const std::size_t first_line = std::string("--").size() + std::strlen(kB) + 2;
  for (std::size_t size = first_line; size + 2 < body.size(); ++size) {
    ParseResult result = Parse(body.substr(0, size), kB);
    EXPECT_THAT(result.status, IsInvalidArgument("upload body: truncated (no closing boundary)"))
        << "size " << size;
  }
}

TEST(MultipartParserTest, WrongBoundaryOrEmptyBody) {
  const std::string body = BodyBuilder(kB).Field("a", "v").Close();
  EXPECT_THAT(Parse(body, "other-boundary").status,
              IsInvalidArgument("upload body: boundary 'other-boundary' not found"));
  EXPECT_THAT(Parse("", kB).status, IsInvalidArgument("not found"));
  // A boundary that is a prefix of the real one does not match it.
  EXPECT_THAT(Parse(body, std::string(kB).substr(0, 8)).status, IsInvalidArgument("not found"));
}

class FailingHandler : public Recorder {
 public:
  Status OnPartData(std::string_view /*bytes*/) override {
    ++data_calls;
    return InvalidArgumentError("handler says no");
  }
  int data_calls = 0;
};

TEST(MultipartParserTest, HandlerErrorStopsTheParserForGood) {
  FailingHandler handler;
  MultipartParser parser(kB, handler);
  const std::string body = BodyBuilder(kB).Field("a", "v").Field("b", "w").Close();
  EXPECT_THAT(parser.Feed(body), IsInvalidArgument("handler says no"));
  EXPECT_THAT(parser.Feed(body), IsInvalidArgument("handler says no"));
  EXPECT_THAT(parser.Finish(), IsInvalidArgument("handler says no"));
  EXPECT_EQ(handler.data_calls, 1);
  EXPECT_EQ(handler.parts.size(), 1u);
}

TEST(MultipartParserTest, FramingErrorIsSticky) {
  Recorder recorder;
  MultipartParser parser(kB, recorder);
  EXPECT_THAT(parser.Feed(std::string("--") + kB + "\r\nBad header\r\n\r\n"),
              IsInvalidArgument("malformed"));
  EXPECT_THAT(parser.Feed(BodyBuilder(kB).Field("a", "v").Close()), IsInvalidArgument("malformed"));
  EXPECT_THAT(parser.Finish(), IsInvalidArgument("malformed"));
  EXPECT_TRUE(recorder.parts.empty());
}

// --- MultipartParser: streaming -----------------------------------------------------------

// Counts bytes and checks them against a periodic pattern without keeping them.
class PatternChecker : public MultipartHandler {
 public:
  explicit PatternChecker(const std::string& doubled_pattern)
      : pattern_(doubled_pattern), period_(doubled_pattern.size() / 2) {}

  Status OnPartBegin(const PartHeaders& headers) override {
    name = headers.name;
    return OkStatus();
  }
  Status OnPartData(std::string_view bytes) override {
    ++calls;
    largest_call = std::max(largest_call, bytes.size());
    while (!bytes.empty()) {
      const std::size_t n = std::min(bytes.size(), period_);
      if (std::memcmp(bytes.data(), pattern_.data() + total % period_, n) != 0) {
        mismatches++;
      }
      total += n;
      bytes.remove_prefix(n);
    }
    return OkStatus();
  }
  Status OnPartEnd() override {
    ++ended;
    return OkStatus();
  }

  std::string name;
  std::uint64_t total = 0;
  std::size_t calls = 0;
  std::size_t largest_call = 0;
  int mismatches = 0;
  int ended = 0;

 private:
  const std::string& pattern_;
  std::size_t period_;
};

TEST(MultipartParserTest, HundredMegabytePartStreamsInBoundedPieces) {
  // Data full of near-delimiters: "\r\n--" plus all but the last character of the boundary.
  const std::string near = std::string("\r\n--") + std::string(kB).substr(0, 31);
  std::string period;
  std::mt19937 rng(42);
  while (period.size() < 4093) {  // prime, so chunk cuts fall everywhere in it
    period += near.substr(0, rng() % near.size() + 1);
    const auto byte = static_cast<char>(rng() % 256);
    period += byte == kB[31] ? '~' : byte;  // never complete the boundary
  }
  period.resize(4093);
  const std::string doubled = period + period;

  PatternChecker checker(doubled);
  MultipartParser parser(kB, checker);
  ASSERT_THAT(parser.Feed(std::string("--") + kB +
                          "\r\nContent-Disposition: form-data; name=content; filename=big\r\n\r\n"),
              IsOk());
  constexpr std::uint64_t kTotal = 100ull << 20;
  constexpr std::size_t kChunk = 65521;
  std::string chunk;
  std::uint64_t sent = 0;
  while (sent < kTotal) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, kTotal - sent));
    chunk.clear();
    std::size_t offset = sent % period.size();
    while (chunk.size() < n) {
      const std::size_t take = std::min(n - chunk.size(), period.size() - offset);
      chunk.append(period, offset, take);
      offset = 0;
    }
    ASSERT_THAT(parser.Feed(chunk), IsOk());
    sent += n;
  }
  ASSERT_THAT(parser.Feed(std::string("\r\n--") + kB + "--\r\n"), IsOk());
  ASSERT_THAT(parser.Finish(), IsOk());
  EXPECT_EQ(checker.name, "content");
  EXPECT_EQ(checker.total, kTotal);
  EXPECT_EQ(checker.mismatches, 0);
  EXPECT_EQ(checker.ended, 1);
  // Each delivery is a view of one fed chunk (plus at most the held-back delimiter start).
  EXPECT_LE(checker.largest_call, kChunk);
  EXPECT_GE(checker.calls, kTotal / kChunk);
}

// --- Captured client bodies through the parser --------------------------------------------

struct Captured {
  std::string content_type;
  std::string boundary;
  std::string body;
};

Captured LoadCaptured(const std::string& name) {
  Captured c;
  c.body = ReadFile(TestDataDir() / (name + ".body"));
  c.content_type = ReadFile(TestDataDir() / (name + ".content_type"));
  c.content_type.erase(c.content_type.find_last_not_of('\n') + 1);
  c.boundary = MultipartBoundary(c.content_type).value();
  return c;
}

const char* const kCapturedBodies[] = {
    "twine-4.0.2-wheel", "twine-4.0.2-sdist",    "flit-3.8.0-wheel",     "poetry-1.3.2-wheel",
    "curl-7.88.1-wheel", "distutils-3.11-sdist", "requests-2.28.1-edge",
};

TEST(MultipartParserTest, CapturedBodiesParseTheSameWhateverTheChunking) {
  for (const char* name : kCapturedBodies) {
    Captured c = LoadCaptured(name);
    ASSERT_FALSE(c.body.empty()) << name;
    ParseResult whole = Parse(c.body, c.boundary);
    ASSERT_THAT(whole.status, IsOk()) << name;
    EXPECT_GE(whole.parts.size(), 5u) << name;
    EXPECT_EQ(ParseBytewise(c.body, c.boundary).parts, whole.parts) << name;
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
      std::vector<std::size_t> cuts;
      for (std::size_t at = rng() % 97; at < c.body.size(); at += 1 + rng() % 300) {
        cuts.push_back(at);
      }
      ASSERT_EQ(Parse(c.body, c.boundary, cuts).parts, whole.parts) << name;
    }
  }
}

TEST(MultipartParserTest, CapturedRequestsEdgeCases) {
  constexpr char kEdgeFile[] = "\r\n--not-the-boundary\r\n\0\xff binary\r";
  Captured c = LoadCaptured("requests-2.28.1-edge");
  ParseResult result = Parse(c.body, c.boundary);
  ASSERT_THAT(result.status, IsOk());
  EXPECT_THAT(
      result.parts,
      ElementsAre(TextPart(":action", "file_upload"),
                  TextPart("comment",
                           "say \"hi\"\r\nline 2 \xe2\x80\x93 \xc3\xbcn\xc3\xaf"
                           "code"),
                  TextPart("keywords", "a"), TextPart("keywords", "b"),
                  // urllib3 sends '"' in a file name as %22 (HTML5 style); it is kept as sent.
                  FilePart("content", "pdt\xc3\xabst %22q%22.whl", "",
                           std::string(kEdgeFile, sizeof(kEdgeFile) - 1)),
                  FilePart("gpg_signature", "pdt\xc3\xabst.whl.asc", "application/pgp-signature",
                           "-----BEGIN PGP SIGNATURE-----\n")));
}

// --- UploadFormCollector ------------------------------------------------------------------

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("multipart_test_" + HexEncode(RandomBytes(8)) + "_" + test);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<fs::path> TempFiles() const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      files.push_back(entry.path());
    }
    return files;
  }

  // Feeds `body` through a parser into `collector`, in chunks of `chunk` bytes (0: one).
  static Status Collect(UploadFormCollector& collector, std::string_view body,
                        const std::string& boundary, std::size_t chunk = 0,
                        MultipartLimits limits = {}) {
    MultipartParser parser(boundary, collector, limits);
    if (chunk == 0) {
      chunk = std::max<std::size_t>(body.size(), 1);
    }
    for (std::size_t at = 0; at < body.size(); at += chunk) {
      if (Status s = parser.Feed(body.substr(at, chunk)); !s.ok()) {
        return s;
      }
    }
    return parser.Finish();
  }

  fs::path dir_;
};

std::string One(const doc::UploadForm& form, const std::string& name) {
  auto it = form.fields.find(name);
  if (it == form.fields.end() || it->second.size() != 1) {
    return "<" + std::to_string(it == form.fields.end() ? 0 : it->second.size()) + " values>";
  }
  return it->second[0];
}

struct ClientCase {
  const char* body = "";
  const char* name = "";
  const char* version = "";
  const char* filename = "";
  const char* content_type = "";
};

class CapturedClientTest : public CollectorTest,
                           public ::testing::WithParamInterface<ClientCase> {};

TEST_P(CapturedClientTest, CollectsTheForm) {
  const ClientCase& param = GetParam();
  Captured c = LoadCaptured(param.body);
  fs::path temp_path;
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    UploadFormCollector collector(dir_);
    ASSERT_THAT(Collect(collector, c.body, c.boundary, chunk), IsOk()) << chunk;
    const doc::UploadForm& form = collector.form();
    EXPECT_EQ(One(form, ":action"), "file_upload");
    EXPECT_EQ(One(form, "protocol_version"), "1");
    EXPECT_EQ(One(form, "name"), param.name);
    EXPECT_EQ(One(form, "version"), param.version);
    EXPECT_TRUE(form.file_fields.empty());
    ASSERT_TRUE(form.content.has_value());
    const doc::UploadedFile& file = *form.content;
    EXPECT_EQ(file.filename, param.filename);
    EXPECT_EQ(file.content_type, param.content_type);
    EXPECT_EQ(file.path.parent_path(), dir_);
    ASSERT_TRUE(fs::exists(file.path));
    EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(file.path)), file.size);
    EXPECT_GT(file.size, 100);
    // The digests the client computed agree with ours, and with the bytes on disk.
    EXPECT_EQ(One(form, "sha256_digest"), file.digests.sha256);
    if (form.fields.count("md5_digest") != 0) {
      EXPECT_EQ(One(form, "md5_digest"), file.digests.md5);
    }
    if (std::string_view(param.body).starts_with("distutils")) {
      // CPython's distutils (3.11 too) sends hashlib.blake2b()'s default 512-bit digest under
      // this name, so it can never match a BLAKE2b-256; PyPI rejects its length.
      EXPECT_EQ(One(form, "blake2_256_digest").size(), 128u);
    } else if (form.fields.count("blake2_256_digest") != 0) {
      EXPECT_EQ(One(form, "blake2_256_digest"), file.digests.blake2b_256);
    }
    EXPECT_EQ(ComputeDigests(ReadFile(file.path)).sha256, file.digests.sha256);
    temp_path = file.path;
  }
  EXPECT_FALSE(fs::exists(temp_path));  // the collector removed it
  EXPECT_TRUE(TempFiles().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Clients, CapturedClientTest,
    ::testing::Values(
        ClientCase{"twine-4.0.2-wheel", "pdtest", "0.1.0", "pdtest-0.1.0-py3-none-any.whl",
                   "application/octet-stream"},
        ClientCase{"twine-4.0.2-sdist", "pdtest", "0.1.0", "pdtest-0.1.0.tar.gz",
                   "application/octet-stream"},
        ClientCase{"flit-3.8.0-wheel", "pdtest", "0.1.0", "pdtest-0.1.0-py3-none-any.whl", ""},
        ClientCase{"poetry-1.3.2-wheel", "pdpoetry", "0.2.0", "pdpoetry-0.2.0-py3-none-any.whl",
                   "application/octet-stream"},
        ClientCase{"distutils-3.11-sdist", "pddistutils", "0.3", "pddistutils-0.3.tar.gz", ""},
        ClientCase{"curl-7.88.1-wheel", "pdtest", "0.1.0", "pdtest-0.1.0-py3-none-any.whl",
                   "application/octet-stream"}),
    [](const ::testing::TestParamInfo<ClientCase>& case_info) {
      std::string name = case_info.param.body;
      std::replace_if(
          name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
      return name;
    });

TEST_F(CollectorTest, TwineFieldsAsLists) {
  Captured c = LoadCaptured("twine-4.0.2-wheel");
  UploadFormCollector collector(dir_);
  ASSERT_THAT(Collect(collector, c.body, c.boundary), IsOk());
  const doc::UploadForm& form = collector.form();
  EXPECT_THAT(form.fields.at("classifiers"), ElementsAre("Programming Language :: Python :: 3",
                                                         "License :: OSI Approved :: MIT License"));
  EXPECT_THAT(form.fields.at("requires_dist"),
              ElementsAre("requests>=2.0", "tomli; python_version < '3.11'"));
  EXPECT_EQ(One(form, "maintainer"), "");  // twine 4 sends empty values; kept here
  EXPECT_THAT(One(form, "description"), HasSubstr("\xc3\x9cn\xc3\xaf"
                                                  "code: \xe2\x9c\x93"));
}

// uv publish (reqwest): `:action` first, no part Content-Type, requires_python even if empty.
TEST_F(CollectorTest, UvStyleBody) {
  const std::string boundary =
      "5b1b04c7a0e2e3f1-9c1e0d2b7a6f4e38-0a9d8c7b6e5f4a3b-1c2d3e4f5a6b7c8d";
  const std::string wheel = "PK\x03\x04 pretend wheel \r\n-- bytes";
  const Digests digests = ComputeDigests(wheel);
  std::string body = BodyBuilder(boundary)
                         .Field(":action", "file_upload")
                         .Field("sha256_digest", digests.sha256)
                         .Field("protocol_version", "1")
                         .Field("metadata_version", "2.4")
                         .Field("name", "Foo_Bar")
                         .Field("version", "1.0.0")
                         .Field("filetype", "bdist_wheel")
                         .Field("pyversion", "py3")
                         .Field("requires_python", "")
                         .Field("keywords", "a,b")
                         .File("content", "foo_bar-1.0.0-py3-none-any.whl", wheel)
                         .Close();
  auto content_type = MultipartBoundary("multipart/form-data; boundary=" + boundary);
  ASSERT_TRUE(content_type.has_value());
  UploadFormCollector collector(dir_);
  ASSERT_THAT(Collect(collector, body, *content_type, 5), IsOk());
  const doc::UploadForm& form = collector.form();
  EXPECT_EQ(One(form, "name"), "Foo_Bar");
  EXPECT_EQ(One(form, "requires_python"), "");
  ASSERT_TRUE(form.content.has_value());
  EXPECT_EQ(form.content->content_type, "");
  EXPECT_EQ(form.content->digests.sha256, digests.sha256);
  EXPECT_EQ(form.content->digests.md5, digests.md5);
  EXPECT_EQ(form.content->digests.blake2b_256, digests.blake2b_256);
  EXPECT_EQ(form.content->size, static_cast<std::int64_t>(wheel.size()));
}

// Python 2.7 distutils: bare LF framing, leading LF, misspelled protcol_version.
TEST_F(CollectorTest, Python27DistutilsBody) {
  const std::string boundary = "--------------GHSKFJDLGDS7543FJKLFHRE75642756743254";
  const std::string sdist = "\x1f\x8b\x08 pretend sdist\nwith LF\n";
  std::string body;
  auto part = [&](const std::string& name, const std::string& value, const std::string& fn) {
    body += "\n--" + boundary + "\nContent-Disposition: form-data; name=\"" + name + "\"" + fn +
            "\n\n" + value;
  };
  part(":action", "file_upload", "");
  part("protcol_version", "1", "");
  part("name", "old", "");
  part("version", "1.0", "");
  part("content", sdist, ";filename=\"old-1.0.tar.gz\"");
  part("filetype", "sdist", "");
  part("md5_digest", ComputeDigests(sdist).md5, "");
  part("license", "UNKNOWN", "");
  body += "\n--" + boundary + "--\n";
  UploadFormCollector collector(dir_);
  ASSERT_THAT(Collect(collector, body, boundary, 3), IsOk());
  const doc::UploadForm& form = collector.form();
  EXPECT_EQ(One(form, "protcol_version"), "1");
  EXPECT_EQ(One(form, "license"), "UNKNOWN");
  ASSERT_TRUE(form.content.has_value());
  EXPECT_EQ(form.content->filename, "old-1.0.tar.gz");
  EXPECT_EQ(ReadFile(form.content->path), sdist);
  EXPECT_EQ(form.content->digests.md5, One(form, "md5_digest"));
}

TEST_F(CollectorTest, GpgSignatureDiscardedOtherFilePartsRecorded) {
  {
    Captured c = LoadCaptured("requests-2.28.1-edge");
    UploadFormCollector collector(dir_);
    ASSERT_THAT(Collect(collector, c.body, c.boundary), IsOk());
    EXPECT_EQ(collector.form().fields.count("gpg_signature"), 0u);
    EXPECT_TRUE(collector.form().file_fields.empty());
    EXPECT_THAT(collector.form().fields.at("keywords"), ElementsAre("a", "b"));
    EXPECT_EQ(ReadFile(collector.form().content->path),
              std::string("\r\n--not-the-boundary\r\n\0\xff binary\r", 32));
  }

  std::string body = BodyBuilder(kB)
                         .File("name", "n.txt", "foo")
                         .File("version", "v.txt", "1.0")
                         .File("name", "again.txt", "foo")
                         .Field("name", "text")
                         .Close();
  UploadFormCollector other(dir_);
  ASSERT_THAT(Collect(other, body, kB), IsOk());
  EXPECT_THAT(other.form().file_fields, ElementsAre("name", "version"));
  EXPECT_THAT(other.form().fields.at("name"), ElementsAre("text"));
  EXPECT_FALSE(other.form().content.has_value());
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(CollectorTest, TempFileIsPrivateAndReleaseHandsItOver) {
  std::string body = BodyBuilder(kB).File("content", "f.whl", "bytes").Close();
  fs::path kept;
  {
    UploadFormCollector collector(dir_);
    ASSERT_THAT(Collect(collector, body, kB), IsOk());
    const fs::path path = collector.form().content->path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_THAT(path.filename().string(), HasSubstr("upload-"));
    doc::UploadForm form = collector.Release();
    ASSERT_TRUE(form.content.has_value());
    EXPECT_EQ(form.content->path, path);
    EXPECT_FALSE(collector.form().content.has_value());
    kept = path;
  }
  EXPECT_EQ(ReadFile(kept), "bytes");
  fs::remove(kept);
}

TEST_F(CollectorTest, PartialTempFileRemovedAfterError) {
  UploadFormCollector collector(dir_);
  MultipartParser parser(kB, collector);
  ASSERT_THAT(
      parser.Feed(std::string("--") + kB +
                  "\r\nContent-Disposition: form-data; name=content; filename=f\r\n\r\nhalf"),
      IsOk());
  EXPECT_THAT(parser.Finish(), IsInvalidArgument("truncated"));
  EXPECT_FALSE(collector.form().content.has_value());
  EXPECT_EQ(TempFiles().size(), 1u);
  EXPECT_FALSE(collector.Release().content.has_value());
  {
    UploadFormCollector scoped(dir_);
    MultipartParser scoped_parser(kB, scoped);
    ASSERT_THAT(scoped_parser.Feed(std::string("--") + kB +
                                   "\r\nContent-Disposition: form-data; name=content; "
                                   "filename=f\r\n\r\nhalf"),
                IsOk());
    EXPECT_EQ(TempFiles().size(), 2u);
  }
  EXPECT_EQ(TempFiles().size(), 1u);  // `collector` is still alive and owns one
}

TEST_F(CollectorTest, DuplicateContent) {
  std::string body =
      BodyBuilder(kB).File("content", "a.whl", "1").File("content", "b.whl", "2").Close();
  UploadFormCollector collector(dir_);
  EXPECT_THAT(Collect(collector, body, kB), IsInvalidArgument("more than one 'content' part"));
}

TEST_F(CollectorTest, ContentMustBeAFilePart) {
  std::string body = BodyBuilder(kB).Field("content", "not a file").Close();
  UploadFormCollector collector(dir_);
  EXPECT_THAT(Collect(collector, body, kB), IsInvalidArgument("'content' must be a file"));
}

TEST_F(CollectorTest, FieldSizeLimits) {
  FormLimits limits;
  limits.max_field_bytes = 10;
  limits.max_fields_total = 29;  // "a" + 10 + "b" + 10 + "content"
  {
    UploadFormCollector collector(dir_, limits);
    std::string body = BodyBuilder(kB)
                           .Field("a", std::string(10, 'x'))
                           .Field("b", std::string(10, 'x'))
                           .File("content", "f", std::string(1000, 'z'))
                           .Close();
    EXPECT_THAT(Collect(collector, body, kB, 3), IsOk());
  }
  {
    UploadFormCollector collector(dir_, limits);
    std::string body = BodyBuilder(kB).Field("description", std::string(11, 'x')).Close();
    EXPECT_THAT(Collect(collector, body, kB, 4),
                IsInvalidArgument("upload field 'description' is too large"));
  }
  {
    UploadFormCollector collector(dir_, limits);
    std::string body = BodyBuilder(kB)
                           .Field("a", std::string(10, 'x'))
                           .Field("b", std::string(10, 'x'))
                           .Field("c", std::string(10, 'x'))
                           .Close();
    EXPECT_THAT(Collect(collector, body, kB), IsInvalidArgument("too large together"));
  }
  {
    // Names count toward the total, so many parts with long names cannot pile up.
    UploadFormCollector collector(dir_, limits);
    std::string body =
        BodyBuilder(kB).Field(std::string(15, 'n'), "").File(std::string(15, 'm'), "f", "").Close();
    EXPECT_THAT(Collect(collector, body, kB), IsInvalidArgument("too large together"));
  }
  {
    FormLimits small_field;
    small_field.max_field_bytes = 10;
    UploadFormCollector collector(dir_, small_field);
    std::string body = BodyBuilder(kB).Field(std::string(200, 'n'), std::string(11, 'x')).Close();
    Status status = Collect(collector, body, kB);
    EXPECT_THAT(status, IsInvalidArgument("is too large"));
    EXPECT_LT(status.message().size(), 150u);  // the name is shortened in the message
  }
}

TEST_F(CollectorTest, Utf8) {
  const std::string valid[] = {
      "plain",       "caf\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x90\x8d", "\xf4\x8f\xbf\xbf",
      "\xed\x9f\xbf"};
  for (const std::string& value : valid) {
    UploadFormCollector collector(dir_);
    EXPECT_THAT(Collect(collector, BodyBuilder(kB).Field("f", value).Close(), kB), IsOk())
        << ::testing::PrintToString(value);
  }
  const std::string invalid[] = {"\xff",
                                 "\xc3",
                                 "\xc3x",
                                 "\xc0\x80",  // overlong
                                 "\xe0\x80\xaf",
                                 "\xed\xa0\x80",      // surrogate
                                 "\xf4\x90\x80\x80",  // > U+10FFFF
                                 "\xf0\x9f\x90",
                                 "\x80",
                                 "\xf8\x88\x80\x80\x80",
                                 "ok\xe2\x9c"};
  for (const std::string& value : invalid) {
    UploadFormCollector collector(dir_);
    EXPECT_THAT(Collect(collector, BodyBuilder(kB).Field("summary", value).Close(), kB),
                IsInvalidArgument("upload field 'summary' is not valid UTF-8"))
        << ::testing::PrintToString(value);
  }
  UploadFormCollector bad_name(dir_);
  EXPECT_THAT(Collect(bad_name, BodyBuilder(kB).Field("na\xffme", "v").Close(), kB),
              IsInvalidArgument("field name is not valid UTF-8"));
  UploadFormCollector bad_filename(dir_);
  EXPECT_THAT(Collect(bad_filename, BodyBuilder(kB).File("content", "f\xff.whl", "v").Close(), kB),
              IsInvalidArgument("file name is not valid UTF-8"));
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(CollectorTest, NulInTextField) {
  UploadFormCollector collector(dir_);
  EXPECT_THAT(
      Collect(collector, BodyBuilder(kB).Field("summary", std::string("a\0b", 3)).Close(), kB),
      IsInvalidArgument("upload field 'summary' contains a NUL character"));
}

TEST_F(CollectorTest, MissingTempDir) {
  UploadFormCollector collector(dir_ / "missing");
  Status status = Collect(collector, BodyBuilder(kB).File("content", "f", "v").Close(), kB);
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("create"));
}

// Whether `dir`'s file system takes O_DIRECT (the collector then writes the file part past the
// page cache).
bool TakesDirectIo(const fs::path& dir) {
  const fs::path probe = dir / "direct-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  const bool direct = flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  ::close(fd);
  fs::remove(probe);
  return direct;
}

// How many of the first `bytes` of `path` are in the page cache, in pages.
std::size_t ResidentPages(const fs::path& path, std::size_t bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(map, MAP_FAILED);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  EXPECT_EQ(::mincore(map, bytes, resident.data()), 0);
  ::munmap(map, bytes);
  return static_cast<std::size_t>(std::count_if(resident.begin(), resident.end(),
                                                [](unsigned char r) { return (r & 1) != 0; }));
}

// The file part is written a 1 MiB buffer at a time, with O_DIRECT where the file system takes
// it, and its last, unaligned bytes through the page cache: every size around those edges
// comes out whole, on the test's temp directory and on tmpfs.
TEST_F(CollectorTest, EverySizeAroundTheWriteBufferAndBlockEdges) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  std::mt19937 rng(7);
  std::string data(3 * kMiB + 4096 + 123, '\0');
  for (char& c : data) {
    c = static_cast<char>(rng());
  }
  std::vector<fs::path> dirs = {dir_};
  const fs::path shm = fs::path("/dev/shm") / dir_.filename();
  if (fs::is_directory("/dev/shm") && fs::create_directory(shm)) {
    dirs.push_back(shm);
  }
  for (const fs::path& dir : dirs) {
    for (std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
          kMiB - 1, kMiB, kMiB + 1, 2 * kMiB + 4096, data.size()}) {
      SCOPED_TRACE(dir.string() + ", " + std::to_string(size) + " bytes");
      const std::string_view content = std::string_view(data).substr(0, size);
      std::string body = BodyBuilder(kB)
                             .Field(":action", "file_upload")
                             .File("content", "f.whl", std::string(content), "")
                             .Close();
      UploadFormCollector collector(dir);
      ASSERT_THAT(Collect(collector, body, kB, 1 + rng() % 300000), IsOk());
      const doc::UploadForm& form = collector.form();
      ASSERT_TRUE(form.content.has_value());
      EXPECT_EQ(form.content->size, static_cast<std::int64_t>(size));
      EXPECT_EQ(form.content->digests.sha256, ComputeDigests(content).sha256);
      if (size >= 2 * kMiB && dir == dir_ && TakesDirectIo(dir)) {
        // The whole buffers went past the page cache.
        EXPECT_EQ(ResidentPages(form.content->path, 2 * kMiB), 0u);
      }
      EXPECT_TRUE(ReadFile(form.content->path) == content);
    }
  }
  fs::remove_all(shm);
}

TEST_F(CollectorTest, LargeFileInOddChunks) {
  std::mt19937 rng(1);
  std::string data(8 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); i += 4) {
    const std::uint32_t word = rng();
    std::memcpy(&data[i], &word, 4);
  }
  std::string body = BodyBuilder(kB)
                         .Field(":action", "file_upload")
                         .File("content", "big.whl", data, "application/octet-stream")
                         .Field("after", "content")
                         .Close();
  UploadFormCollector collector(dir_);
  MultipartParser parser(kB, collector);
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t n = std::min<std::size_t>(body.size() - at, 1 + rng() % 100000);
    ASSERT_THAT(parser.Feed(std::string_view(body).substr(at, n)), IsOk());
    at += n;
  }
  ASSERT_THAT(parser.Finish(), IsOk());
  const doc::UploadForm& form = collector.form();
  ASSERT_TRUE(form.content.has_value());
  EXPECT_EQ(form.content->size, static_cast<std::int64_t>(data.size()));
  const Digests expected = ComputeDigests(data);
  EXPECT_EQ(form.content->digests.sha256, expected.sha256);
  EXPECT_EQ(form.content->digests.md5, expected.md5);
  EXPECT_EQ(form.content->digests.blake2b_256, expected.blake2b_256);
  EXPECT_TRUE(ReadFile(form.content->path) == data);
  EXPECT_EQ(One(form, "after"), "content");
}

}  // namespace
}  // namespace pydepot::http
