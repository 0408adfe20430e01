#include "ops/log.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::ops {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kTime = 1714564800123456;  // 2024-05-01T12:00:00.123456Z

TEST(LogTest, JsonLineHasCloudLoggingFields) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, Severity::kWarning, "store \"slow\"\n", "req-1", kTime);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json::value v = json::parse(line);
  EXPECT_EQ(v.at("severity").as_string(), "WARNING");
  EXPECT_EQ(v.at("message").as_string(), "store \"slow\"\n");
  EXPECT_EQ(v.at("time").as_string(), "2024-05-01T12:00:00.123456Z");
  EXPECT_EQ(v.at("requestId").as_string(), "req-1");
  json::value no_id = json::parse(FormatLogLine(LogFormat::kJson, Severity::kInfo, "x", "", kTime));
  EXPECT_EQ(no_id.at("severity").as_string(), "INFO");
  EXPECT_FALSE(no_id.as_object().contains("requestId"));
}

TEST(LogTest, TextLineIsOneLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, Severity::kInfo, "hello", "id", kTime), "hello");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, Severity::kError, "a\nb", "id", kTime), "ERROR: a b");
}

TEST(LogTest, AccessLineCarriesRequestAndNoSecrets) {
  AccessRecord record{.method = "GET",
                      .target = "http://alice:s3cret@host/simple/foo/",
                      .status = 200,
                      .response_bytes = 1234,
                      .latency = std::chrono::milliseconds(12),
                      .remote_address = "10.0.0.1",
                      .user_agent = "pip/23.2",
                      .request_id = "abc"};
  const std::string line = FormatAccessLine(LogFormat::kJson, record, kTime);
  EXPECT_THAT(line, Not(HasSubstr("s3cret")));
  EXPECT_THAT(line, Not(HasSubstr("alice")));
  json::value v = json::parse(line);
  EXPECT_EQ(v.at("severity").as_string(), "INFO");
  EXPECT_EQ(v.at("requestId").as_string(), "abc");
  const json::object& http = v.at("httpRequest").as_object();
  EXPECT_EQ(http.at("requestMethod").as_string(), "GET");
  EXPECT_EQ(http.at("requestUrl").as_string(), "http://host/simple/foo/");
  EXPECT_EQ(http.at("status").as_int64(), 200);
  EXPECT_EQ(http.at("responseSize").as_string(), "1234");
  EXPECT_EQ(http.at("latency").as_string(), "0.012000s");
  EXPECT_EQ(http.at("remoteIp").as_string(), "10.0.0.1");
  EXPECT_EQ(http.at("userAgent").as_string(), "pip/23.2");

  record.status = 503;
  EXPECT_EQ(json::parse(FormatAccessLine(LogFormat::kJson, record, kTime)).at("severity"), "ERROR");
  const std::string text = FormatAccessLine(LogFormat::kText, record, kTime);
  EXPECT_THAT(text, HasSubstr("\"GET http://host/simple/foo/\" 503 1234"));
  EXPECT_THAT(text, Not(HasSubstr("s3cret")));
}

TEST(LogTest, RedactsOnlyUserinfo) {
  EXPECT_EQ(RedactTarget("/simple/a@b/"), "/simple/a@b/");
  EXPECT_EQ(RedactTarget("/files/x?u=http://a:b@c/"), "/files/x?u=http://a:b@c/");
  EXPECT_EQ(RedactTarget("https://u:p@h:8080/x@y"), "https://h:8080/x@y");
  EXPECT_EQ(RedactTarget(std::string(5000, 'a')).size(), 2048u);
}

TEST(LogTest, RequestIds) {
  EXPECT_EQ(RequestIdFrom("abc-123", ""), "abc-123");
  EXPECT_EQ(RequestIdFrom("", "105445aa7843bc8bf206b12000100000/1;o=1"),
            "105445aa7843bc8bf206b12000100000");
  // Refused: too long, spaces, quotes, control characters, non-ASCII: a new one instead.
  for (const std::string& bad : {std::string(129, 'a'), std::string("a b"), std::string("a\"b"),
                                 std::string("a\nb"), std::string("\xc3\xa9")}) {
    const std::string id = RequestIdFrom(bad, "");
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsAcceptableRequestId(id));
  }
  EXPECT_NE(RequestIdFrom("", ""), RequestIdFrom("", ""));
}

TEST(LogTest, NewRequestIdsAreUniqueAcrossThreads) {
  std::vector<std::string> ids[4];
  std::vector<std::thread> threads;
  for (auto& out : ids) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 1000; ++i) {
        out.push_back(RequestIdFrom("", ""));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::set<std::string> all;
  for (const auto& out : ids) {
    for (const auto& id : out) {
      EXPECT_EQ(id.size(), 32u);
      EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), 4000u);
}

TEST(LogTest, LogUsesTheScopedRequestIdAndTheConfiguredFormat) {
  std::vector<std::string> lines;
  SetLogSinkForTesting([&](std::string_view line) { lines.emplace_back(line); });
  const LogOptions saved = CurrentLogOptions();
  ConfigureLog({.format = LogFormat::kJson, .access_log = false});
  {
    const RequestIdScope scope("rid-7");
    Log(Severity::kError, "upload failed: disk full");
  }
  Log(Severity::kInfo, "outside");
  LogAccess({.method = "GET",
             .target = "/",
             .status = 200,
             .response_bytes = 0,
             .latency = {},
             .remote_address = "",
             .user_agent = "",
             .request_id = ""});  // access log off: nothing
  ConfigureLog(saved);
  SetLogSinkForTesting(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  json::value first = json::parse(lines[0]);
  EXPECT_EQ(first.at("severity").as_string(), "ERROR");
  EXPECT_EQ(first.at("requestId").as_string(), "rid-7");
  EXPECT_FALSE(json::parse(lines[1]).as_object().contains("requestId"));
}

}  // namespace
}  // namespace pydepot::ops
