#include "http/negotiate.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace pydepot::http {
namespace {

// STANDARDS NEG-03, every vector.
TEST(NegotiateTest, StandardVectors) {
  struct Case {
    const char* accept;
    SimpleFormat want;
  };
  const Case cases[] = {
      {"", SimpleFormat::kHtml},
      {"*/*", SimpleFormat::kHtml},
      {"text/html", SimpleFormat::kHtml},
      {"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
       "text/html; q=0.01",
       SimpleFormat::kJson},
      {"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
       "text/html;q=0.01",
       SimpleFormat::kJson},
      {"application/vnd.pypi.simple.v1+html", SimpleFormat::kHtmlV1},
      {"application/vnd.pypi.simple.latest+json", SimpleFormat::kJson},
      {"application/vnd.pypi.simple.latest+html", SimpleFormat::kHtmlV1},
      {"application/vnd.pypi.simple.v1+json;q=0, text/html", SimpleFormat::kHtml},
      {"text/html;q=0.01, application/vnd.pypi.simple.v1+json;q=0.5", SimpleFormat::kJson},
      {"APPLICATION/VND.PYPI.SIMPLE.V1+JSON", SimpleFormat::kJson},
      {"application/vnd.pypi.simple.v2+json", SimpleFormat::kHtml},
      {"application/json", SimpleFormat::kHtml},
      {"image/png", SimpleFormat::kHtml},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(NegotiateSimpleFormat(c.accept), c.want) << c.accept;
  }
}

// The per-thread cache of recent answers: asked over and over, in turns, with more distinct
// headers than it keeps (so entries are replaced), the cached answer is always the parsed one.
TEST(NegotiateTest, CachedAnswersMatchTheParse) {
  const std::string long_json =
      std::string(300, ' ') + "application/vnd.pypi.simple.v1+json";  // too long to be kept
  const std::vector<std::pair<std::string, SimpleFormat>> headers = {
      {"application/vnd.pypi.simple.v1+json", SimpleFormat::kJson},
      {"text/html", SimpleFormat::kHtml},
      {"application/vnd.pypi.simple.v1+html", SimpleFormat::kHtmlV1},
      {"application/vnd.pypi.simple.v1+json;q=0, text/html", SimpleFormat::kHtml},
      {"application/vnd.pypi.simple.latest+json", SimpleFormat::kJson},
      {"APPLICATION/VND.PYPI.SIMPLE.V1+HTML", SimpleFormat::kHtmlV1},
      {long_json, SimpleFormat::kJson},
      {"", SimpleFormat::kHtml},
  };
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < headers.size(); ++i) {
      // Different orders per round, so hits and replacements interleave.
      const auto& [accept, want] = headers[(i * (round + 1)) % headers.size()];
      EXPECT_EQ(NegotiateSimpleFormat(accept), want) << accept;
      EXPECT_EQ(NegotiateSimpleFormat(accept), want) << accept;
      EXPECT_EQ(NegotiateSimpleFormatUncached(accept), want) << accept;
    }
  }
}

TEST(NegotiateTest, TiesPreferJsonAmongNamedTypes) {
  EXPECT_EQ(NegotiateSimpleFormat("text/html, application/vnd.pypi.simple.v1+html, "
                                  "application/vnd.pypi.simple.v1+json"),
            SimpleFormat::kJson);
  EXPECT_EQ(NegotiateSimpleFormat("text/html, application/vnd.pypi.simple.v1+html"),
            SimpleFormat::kHtmlV1);
}

TEST(NegotiateTest, WildcardsAndSpecificity) {
  // The specific q=0 wins over the wildcard for JSON.
  EXPECT_EQ(NegotiateSimpleFormat("application/*, application/vnd.pypi.simple.v1+json;q=0"),
            SimpleFormat::kHtml);
  EXPECT_EQ(NegotiateSimpleFormat("*/*;q=0.5, application/vnd.pypi.simple.v1+json"),
            SimpleFormat::kJson);
  EXPECT_EQ(NegotiateSimpleFormat("application/*"), SimpleFormat::kHtml);
}

TEST(NegotiateTest, MalformedInputIsHarmless) {
  for (const char* accept : {",,,", ";;;", "/", "a/", "/b", "text/html;q=2", "text/html;q=abc",
                             "\x01\x02", "application/vnd.pypi.simple.v1+json;q=1.0001"}) {
    (void)NegotiateSimpleFormat(accept);
  }
  EXPECT_EQ(NegotiateSimpleFormat("application/vnd.pypi.simple.v1+json;q=7"), SimpleFormat::kHtml);
  std::string huge(100000, ',');
  EXPECT_EQ(NegotiateSimpleFormat(huge), SimpleFormat::kHtml);
}

TEST(NegotiateTest, JsonErrors) {
  EXPECT_TRUE(PrefersJsonErrors("application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"));
  EXPECT_FALSE(PrefersJsonErrors("*/*"));
  EXPECT_FALSE(PrefersJsonErrors(""));
  EXPECT_FALSE(PrefersJsonErrors("text/plain, application/json;q=0.5"));
}

TEST(AcceptsGzipTest, NamedWildcardAndRefused) {
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));  // what pip (urllib3) and curl send
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("identity, *;q=0.1"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000, *"));  // named beats the wildcard
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=2"));  // malformed weight
  EXPECT_FALSE(AcceptsGzip("gzipx, deflate"));
}

}  // namespace
}  // namespace pydepot::http
