// ResolveUrl against RFC 3986 section 5.4, and the other URL and time helpers of upstream.h.
#include <optional>
#include <string>

#include "doc/project.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {
namespace {

constexpr const char* kRfcBase = "http://a/b/c/d;p?q";

struct Example {
  const char* ref;
  const char* expected;  // RFC 3986's result, without its fragment
};

// Section 5.4.1.
TEST(ResolveUrlTest, Rfc3986NormalExamples) {
  const Example examples[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"g#s", "http://a/b/c/g"},
      {"g?y#s", "http://a/b/c/g?y"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  for (const Example& example : examples) {
    EXPECT_EQ(ResolveUrl(kRfcBase, example.ref), example.expected) << example.ref;
  }
}

// Section 5.4.2 (strict parser: "http:g" keeps its scheme).
TEST(ResolveUrlTest, Rfc3986AbnormalExamples) {
  const Example examples[] = {
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g"},
      {"g#s/../x", "http://a/b/c/g"},
      {"http:g", "http:g"},
  };
  for (const Example& example : examples) {
    EXPECT_EQ(ResolveUrl(kRfcBase, example.ref), example.expected) << example.ref;
  }
}

TEST(ResolveUrlTest, IndexPageLinks) {
  const char* page = "https://pypi.org/simple/requests/";
  EXPECT_EQ(ResolveUrl(page,
                       "https://files.pythonhosted.org/packages/ab/cd/"
                       "requests-2.31.0.tar.gz#sha256=abc"),
            "https://files.pythonhosted.org/packages/ab/cd/requests-2.31.0.tar.gz");
  EXPECT_EQ(ResolveUrl(page, "../../files/requests/requests-2.31.0.tar.gz#sha256=abc"),
            "https://pypi.org/files/requests/requests-2.31.0.tar.gz");
  EXPECT_EQ(ResolveUrl(page, "//mirror.example.org/r.tar.gz"),
            "https://mirror.example.org/r.tar.gz");
  EXPECT_EQ(ResolveUrl(page, "/x/r.tar.gz?a=1&b=2#frag"), "https://pypi.org/x/r.tar.gz?a=1&b=2");
  EXPECT_EQ(ResolveUrl(page, "HTTPS://Files.Example.org/R.tar.gz"),
            "https://Files.Example.org/R.tar.gz");
  // What browsers do with messy hrefs: trim, drop newlines, encode what cannot be in a URL.
  EXPECT_EQ(ResolveUrl(page, "  r 1.tar.gz\n"), "https://pypi.org/simple/requests/r%201.tar.gz");
  EXPECT_EQ(ResolveUrl(page, "r\n-1.tar\t.gz"), "https://pypi.org/simple/requests/r-1.tar.gz");
  EXPECT_EQ(ResolveUrl(page, "caf\xC3\xA9.tar.gz"),
            "https://pypi.org/simple/requests/caf%C3%A9.tar.gz");
  // A base with an authority and an empty path (RFC 3986 section 5.2.3).
  EXPECT_EQ(ResolveUrl("http://host", "x.whl"), "http://host/x.whl");
  EXPECT_EQ(ResolveUrl("http://host?q", "?r"), "http://host?r");
}

TEST(UrlFilenameTest, LastSegmentPercentDecoded) {
  EXPECT_EQ(UrlFilename("https://h/p/foo-1.0.tar.gz"), "foo-1.0.tar.gz");
  EXPECT_EQ(UrlFilename("https://h/p/foo-1.0%2Bcpu-py3-none-any.whl?x=1"),
            "foo-1.0+cpu-py3-none-any.whl");
  EXPECT_EQ(UrlFilename("https://h/p/..%2F..%2Fx"), "../../x");
  EXPECT_EQ(UrlFilename("https://h/p/bad%zz%4"), "bad%zz%4");
  EXPECT_EQ(UrlFilename("https://h/p/"), "");
  EXPECT_EQ(UrlFilename("https://h"), "");
}

TEST(HttpOriginTest, SchemeHostPort) {
  auto origin = HttpOrigin("HTTPS://User:Pw@PyPI.org/simple/");
  ASSERT_TRUE(origin.has_value());
  EXPECT_EQ(origin->scheme, "https");
  EXPECT_EQ(origin->host, "pypi.org");
  EXPECT_EQ(origin->port, 443);
  EXPECT_EQ(HttpOrigin("http://h/")->port, 80);
  EXPECT_EQ(HttpOrigin("http://h:8080")->port, 8080);
  EXPECT_EQ(HttpOrigin("http://[::1]:8080/x")->host, "[::1]");
  EXPECT_EQ(HttpOrigin("http://[::1]:8080/x")->port, 8080);
  EXPECT_EQ(HttpOrigin("https://h:443/a"), HttpOrigin("https://H/b"));
  EXPECT_NE(HttpOrigin("http://h/a"), HttpOrigin("https://h/a"));
  EXPECT_NE(HttpOrigin("http://h/a"), HttpOrigin("http://h:81/a"));
  for (const char* bad :
       {"ftp://h/x", "file:///etc/passwd", "http:///x", "http://h:0/", "http://h:65536/",
        "http://h:1x/", "/relative", "http://[::1/", "http://h h/", "mailto:a@b"}) {
    EXPECT_FALSE(HttpOrigin(bad).has_value()) << bad;
  }
}

TEST(RedactUrlTest, RemovesUserinfo) {
  EXPECT_EQ(RedactUrl("https://user:secret@h/simple/"), "https://h/simple/");
  EXPECT_EQ(RedactUrl("https://h/a@b"), "https://h/a@b");
  EXPECT_EQ(RedactUrl("https://h/simple/"), "https://h/simple/");
}

TEST(ParseRfc3339MicrosTest, RoundTripsFormatUploadTime) {
  for (std::int64_t micros : {std::int64_t{0}, std::int64_t{1'700'000'000'123'456},
                              std::int64_t{951'782'400'000'001}, std::int64_t{-1}}) {
    EXPECT_EQ(ParseRfc3339Micros(doc::FormatUploadTime(micros)), micros);
  }
}

}  // namespace
}  // namespace pydepot::upstream
