#include "ops/metrics.h"

#include <cctype>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pydepot::ops {
namespace {

using ::testing::HasSubstr;

// A small parser of the text exposition format, strict enough to catch malformed output: every
// sample line is name{labels} value, every metric has HELP and TYPE before its samples, label
// values are quoted with \\, \" and \n escapes.
struct Parsed {
  std::map<std::string, std::string> types;  // metric family -> type
  // "name{a="x",b="y"}" with labels sorted as written -> value
  std::map<std::string, double> samples;
  std::vector<std::string> errors;
};

Parsed ParseExposition(const std::string& text) {
  Parsed out;
  std::istringstream lines(text);
  std::string line;
  std::map<std::string, bool> helped;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      helped[line.substr(7, line.find(' ', 7) - 7)] = true;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::size_t space = line.find(' ', 7);
      const std::string name = line.substr(7, space - 7);
      if (!helped[name]) {
        out.errors.push_back("TYPE before HELP: " + line);
      }
      out.types[name] = line.substr(space + 1);
      continue;
    }
    if (line.empty() || line[0] == '#') {
      out.errors.push_back("unexpected line: " + line);
      continue;
    }
    std::size_t i = 0;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) ||
                               line[i] == '_' || line[i] == ':')) {
      ++i;
    }
    std::string name = line.substr(0, i);
    std::string key = name;
    if (i < line.size() && line[i] == '{') {
      key += '{';
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          out.errors.push_back("bad label: " + line);
          break;
        }
        key += line.substr(i, eq - i) + "=\"";
        std::size_t j = eq + 2;
        std::string value;
        while (j < line.size() && line[j] != '"') {
          if (line[j] == '\\' && j + 1 < line.size()) {
            const char e = line[j + 1];
            if (e != '\\' && e != '"' && e != 'n') {
              out.errors.push_back("bad escape: " + line);
            }
            value += e == 'n' ? '\n' : e;
            j += 2;
            continue;
          }
          value += line[j++];
        }
        key += value + "\"";
        i = j + 1;
        if (i < line.size() && line[i] == ',') {
          key += ',';
          ++i;
        }
      }
      key += '}';
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      out.errors.push_back("no value: " + line);
      continue;
    }
    const std::string value = line.substr(i + 1);
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (family.size() > s.size() && family.ends_with(s) &&
          out.types.contains(family.substr(0, family.size() - s.size()))) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    if (!out.types.contains(family)) {
      out.errors.push_back("sample without TYPE: " + line);
    }
    out.samples[key] = value == "+Inf" ? 1e300 : std::stod(value);
  }
  return out;
}

TEST(RouteTest, FixedSetFromThePath) {
  EXPECT_EQ(RouteOf("GET", "/simple/"), Route::kSimpleRoot);
  EXPECT_EQ(RouteOf("GET", "/simple"), Route::kSimpleRoot);
  EXPECT_EQ(RouteOf("GET", "/simple/foo/"), Route::kSimpleProject);
  EXPECT_EQ(RouteOf("GET", "/files/foo/foo-1.0.tar.gz?x=1"), Route::kFiles);
  EXPECT_EQ(RouteOf("GET", "/pypi/foo/json"), Route::kPypiJson);
  EXPECT_EQ(RouteOf("GET", "/"), Route::kUi);
  EXPECT_EQ(RouteOf("GET", "/project/foo/"), Route::kUi);
  EXPECT_EQ(RouteOf("POST", "/manage/users/add"), Route::kUi);
  EXPECT_EQ(RouteOf("GET", "/api/users"), Route::kApi);
  EXPECT_EQ(RouteOf("POST", "/legacy/"), Route::kUpload);
  EXPECT_EQ(RouteOf("POST", "/"), Route::kUpload);
  EXPECT_EQ(RouteOf("GET", "/healthz"), Route::kHealth);
  EXPECT_EQ(RouteOf("GET", "/readyz"), Route::kHealth);
  EXPECT_EQ(RouteOf("GET", "/metrics"), Route::kMetrics);
  EXPECT_EQ(RouteOf("GET", "/wp-admin/x"), Route::kOther);
  EXPECT_EQ(RouteOf("GET", "http://evil/"), Route::kOther);
  EXPECT_EQ(RouteOf("GET", "/simplex/"), Route::kOther);
}

TEST(MetricsTest, RendersParseableTextWithCounts) {
  Metrics metrics;
  metrics.SetVersion("1.2.3");
  metrics.RecordRequest(Route::kSimpleProject, "GET", 200, 1000, std::chrono::milliseconds(3));
  metrics.RecordRequest(Route::kSimpleProject, "GET", 200, 500, std::chrono::milliseconds(30));
  metrics.RecordRequest(Route::kSimpleProject, "GET", 304, 0, std::chrono::microseconds(10));
  metrics.RecordRequest(Route::kFiles, "BREW", 999, 0, std::chrono::seconds(100));
  metrics.RecordUpload(UploadResult::kStored, 4096);
  metrics.RecordUpload(UploadResult::kRejected, 0);
  metrics.RecordStorageCall(StorageOp::kGet, false);
  metrics.RecordStorageCall(StorageOp::kGet, true);
  metrics.RecordCacheLookup(Cache::kProject, true);
  metrics.RecordCacheLookup(Cache::kProject, false);
  metrics.RecordCacheLookup(Cache::kProject, true);

  const std::string text = metrics.RenderPrometheus();
  Parsed parsed = ParseExposition(text);
  EXPECT_THAT(parsed.errors, ::testing::IsEmpty()) << text;
  EXPECT_EQ(parsed.types["pydepot_http_requests_total"], "counter");
  EXPECT_EQ(parsed.types["pydepot_http_request_duration_seconds"], "histogram");
  EXPECT_EQ(parsed.types["pydepot_build_info"], "gauge");
  auto& s = parsed.samples;
  EXPECT_EQ(s["pydepot_build_info{version=\"1.2.3\"}"], 1);
  EXPECT_EQ(
      s["pydepot_http_requests_total{route=\"simple_project\",method=\"GET\",status=\"200\"}"], 2);
  EXPECT_EQ(
      s["pydepot_http_requests_total{route=\"simple_project\",method=\"GET\",status=\"304\"}"], 1);
  // Unusual methods and statuses share fixed label values.
  EXPECT_EQ(s["pydepot_http_requests_total{route=\"files\",method=\"other\",status=\"other\"}"], 1);
  EXPECT_EQ(s["pydepot_http_response_bytes_total{route=\"simple_project\"}"], 1500);
  EXPECT_EQ(s["pydepot_uploads_total{result=\"stored\"}"], 1);
  EXPECT_EQ(s["pydepot_uploads_total{result=\"rejected\"}"], 1);
  EXPECT_EQ(s["pydepot_upload_bytes_total"], 4096);
  EXPECT_EQ(s["pydepot_storage_calls_total{op=\"get\"}"], 2);
  EXPECT_EQ(s["pydepot_storage_errors_total{op=\"get\"}"], 1);
  EXPECT_EQ(s["pydepot_cache_lookups_total{cache=\"project\",result=\"hit\"}"], 2);
  EXPECT_EQ(s["pydepot_cache_lookups_total{cache=\"project\",result=\"miss\"}"], 1);
  EXPECT_GT(s["process_start_time_seconds"], 1.6e9);
  EXPECT_THAT(text, ::testing::EndsWith("\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndInCount) {
  Metrics metrics;
  const auto route = Route::kFiles;
  metrics.RecordRequest(route, "GET", 200, 0, std::chrono::microseconds(500));  // <= 0.001
  metrics.RecordRequest(route, "GET", 200, 0, std::chrono::milliseconds(1));    // == 0.001
  metrics.RecordRequest(route, "GET", 200, 0, std::chrono::milliseconds(7));    // <= 0.01
  metrics.RecordRequest(route, "GET", 200, 0, std::chrono::seconds(45));        // +Inf only
  Parsed parsed = ParseExposition(metrics.RenderPrometheus());
  ASSERT_THAT(parsed.errors, ::testing::IsEmpty());
  auto bucket = [&](const std::string& le) {
    return parsed
        .samples["pydepot_http_request_duration_seconds_bucket{route=\"files\",le=\"" + le + "\"}"];
  };
  EXPECT_EQ(bucket("0.001"), 2);  // "le" is inclusive
  EXPECT_EQ(bucket("0.005"), 2);
  EXPECT_EQ(bucket("0.01"), 3);
  EXPECT_EQ(bucket("30"), 3);
  EXPECT_EQ(bucket("+Inf"), 4);
  EXPECT_EQ(parsed.samples["pydepot_http_request_duration_seconds_count{route=\"files\"}"], 4);
  EXPECT_NEAR(parsed.samples["pydepot_http_request_duration_seconds_sum{route=\"files\"}"], 45.0085,
              1e-6);
  double previous = 0;
  for (double bound : Histogram::kBounds) {
    std::ostringstream le;
    le << bound;
    EXPECT_GE(bucket(le.str()), previous) << bound;
    previous = bucket(le.str());
  }
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics metrics;
  metrics.SetVersion("1.0 \"quoted\"\\\nnext");
  Parsed parsed = ParseExposition(metrics.RenderPrometheus());
  EXPECT_THAT(parsed.errors, ::testing::IsEmpty());
  EXPECT_EQ(parsed.samples["pydepot_build_info{version=\"1.0 \"quoted\"\\\nnext\"}"], 1);
}

TEST(MetricsTest, ThreadsCountWithoutLoss) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        metrics.RecordRequest(Route::kFiles, "GET", 200, 1, std::chrono::microseconds(1));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(metrics.requests(Route::kFiles, "GET", 200), 40000u);
  EXPECT_EQ(metrics.latency(Route::kFiles).count(), 40000u);
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr("pydepot_http_response_bytes_total{route=\"files\"} 40000\n"));
}

}  // namespace
}  // namespace pydepot::ops
