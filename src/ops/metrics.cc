#include "ops/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pydepot::ops {
namespace {

constexpr std::array<std::string_view, kRouteCount> kRouteNames = {
    "simple_root", "simple_project", "files",  "pypi_json", "ui",
    "api",         "upload",         "health", "metrics",   "other"};
constexpr std::array<std::string_view, kMethodCount> kMethodNames = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "other"};
constexpr std::array<std::string_view, kStorageOpCount> kStorageOpNames = {"head",
                                                                           "get",
                                                                           "open",
                                                                           "read",
                                                                           "put_if_absent",
                                                                           "put_file_if_absent",
                                                                           "move_file_if_absent",
                                                                           "put_if_match",
                                                                           "delete",
                                                                           "list",
                                                                           "local_path",
                                                                           "presigned_get_url"};
constexpr std::array<std::string_view, kUploadResultCount> kUploadResultNames = {
    "stored", "duplicate", "rejected", "failed"};
constexpr std::array<std::string_view, kCacheCount> kCacheNames = {"project", "root"};

// The first path segment of `path` ("" for "/").
std::string_view FirstSegment(std::string_view path) {
  path.remove_prefix(1);
  return path.substr(0, path.find('/'));
}

// A number as the text format writes it: integers without a fraction, others with enough digits.
std::string FormatDouble(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

std::string_view RouteName(Route route) { return kRouteNames[static_cast<std::size_t>(route)]; }

Route RouteOf(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.empty() || path.front() != '/') {
    return Route::kOther;
  }
  if (method == "POST" && (path == "/" || path == "/legacy" || path == "/legacy/")) {
    return Route::kUpload;
  }
  if (path == "/healthz" || path == "/readyz") {
    return Route::kHealth;
  }
  if (path == "/metrics") {
    return Route::kMetrics;
  }
  const std::string_view first = FirstSegment(path);
  if (first == "simple") {
    const std::string_view rest = path.substr(std::min(path.size(), std::size_t{7}));  // "/simple"
    return rest.empty() || rest == "/" ? Route::kSimpleRoot : Route::kSimpleProject;
  }
  if (first == "files") {
    return Route::kFiles;
  }
  if (first == "pypi") {
    return Route::kPypiJson;
  }
  if (first == "api") {
    return Route::kApi;
  }
  if (path == "/" || first == "project" || first == "search" || first == "login" ||
      first == "logout" || first == "account" || first == "manage" || first == "static") {
    return Route::kUi;
  }
  return Route::kOther;
}

std::size_t MethodIndex(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodNames.size(); ++i) {
    if (kMethodNames[i] == method) {
      return i;
    }
  }
  return kMethodNames.size() - 1;
}

std::string_view MethodName(std::size_t index) { return kMethodNames[index]; }

std::string_view StorageOpName(StorageOp op) {
  return kStorageOpNames[static_cast<std::size_t>(op)];
}

std::string_view UploadResultName(UploadResult result) {
  return kUploadResultNames[static_cast<std::size_t>(result)];
}

std::string_view CacheName(Cache cache) { return kCacheNames[static_cast<std::size_t>(cache)]; }

void Histogram::Observe(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                       std::memory_order_relaxed);
}

Metrics::Metrics()
    : start_time_seconds_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

Metrics& Metrics::Global() {
  static Metrics* const metrics = new Metrics();  // never destroyed: used until exit
  return *metrics;
}

void Metrics::RecordRequest(Route route, std::string_view method, unsigned status,
                            std::uint64_t response_bytes, std::chrono::nanoseconds latency) {
  const auto r = static_cast<std::size_t>(route);
  requests_[r][MethodIndex(method)][StatusSlot(status)].Add();
  latency_[r].Observe(latency);
  if (response_bytes > 0) {
    response_bytes_[r].Add(response_bytes);
  }
}

void Metrics::RecordUpload(UploadResult result, std::uint64_t bytes) {
  uploads_[static_cast<std::size_t>(result)].Add();
  if (result == UploadResult::kStored) {
    upload_bytes_.Add(bytes);
  }
}

void Metrics::RecordStorageCall(StorageOp op, bool error) {
  const auto i = static_cast<std::size_t>(op);
  storage_calls_[i].Add();
  if (error) {
    storage_errors_[i].Add();
  }
}

void Metrics::RecordCacheLookup(Cache cache, bool hit) {
  cache_lookups_[static_cast<std::size_t>(cache)][hit ? 1 : 0].Add();
}

void Metrics::SetVersion(std::string_view version) { version_ = std::string(version); }

std::uint64_t Metrics::requests(Route route, std::string_view method, unsigned status) const {
  return requests_[static_cast<std::size_t>(route)][MethodIndex(method)][StatusSlot(status)]
      .value();
}

std::uint64_t Metrics::storage_calls(StorageOp op) const {
  return storage_calls_[static_cast<std::size_t>(op)].value();
}

std::uint64_t Metrics::storage_errors(StorageOp op) const {
  return storage_errors_[static_cast<std::size_t>(op)].value();
}

std::uint64_t Metrics::cache_lookups(Cache cache, bool hit) const {
  return cache_lookups_[static_cast<std::size_t>(cache)][hit ? 1 : 0].value();
}

std::uint64_t Metrics::uploads(UploadResult result) const {
  return uploads_[static_cast<std::size_t>(result)].value();
}

const Histogram& Metrics::latency(Route route) const {
  return latency_[static_cast<std::size_t>(route)];
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(8192);

  Header(out, "pydepot_build_info", "gauge", "pydepot's version; the value is always 1.");
  out += "pydepot_build_info{version=\"" + EscapeLabelValue(version_) + "\"} 1\n";
  Header(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch, in seconds.");
  out += "process_start_time_seconds " + FormatDouble(std::floor(start_time_seconds_)) + "\n";
  Header(out, "pydepot_http_requests_in_flight", "gauge", "HTTP requests being handled now.");
  out += "pydepot_http_requests_in_flight " + std::to_string(in_flight_.value()) + "\n";

  Header(out, "pydepot_http_requests_total", "counter",
         "HTTP requests answered, by route, method and status.");
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    for (std::size_t m = 0; m < kMethodCount; ++m) {
      for (std::size_t s = 0; s < kStatusSlots; ++s) {
        const std::uint64_t n = requests_[r][m][s].value();
        if (n == 0) {
          continue;
        }
        out.append("pydepot_http_requests_total{route=\"")
            .append(kRouteNames[r])
            .append("\",method=\"")
            .append(kMethodNames[m])
            .append("\",status=\"")
            .append(s == 0 ? std::string("other") : std::to_string(s))
            .append("\"} ")
            .append(std::to_string(n))
            .append("\n");
      }
    }
  }

  Header(out, "pydepot_http_request_duration_seconds", "histogram",
         "Time from a request's head to the end of its answer, by route.");
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    const Histogram& h = latency_[r];
    const std::uint64_t count = h.count();
    if (count == 0) {
      continue;
    }
    const std::string label = "route=\"" + std::string(kRouteNames[r]) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
      cumulative += h.bucket(i);
      const std::string le =
          i < Histogram::kBounds.size() ? FormatDouble(Histogram::kBounds[i]) : "+Inf";
      out +=
          "pydepot_http_request_duration_seconds_bucket{" + label + ",le=\"" + le + "\"} " +
          std::to_string(i < Histogram::kBounds.size() ? cumulative : std::max(cumulative, count)) +
          "\n";
    }
    // Buckets, sum and count are read one after another while requests go on: the count is
    // read first and +Inf made at least it, so +Inf == count never decreases between scrapes.
    out += "pydepot_http_request_duration_seconds_sum{" + label + "} " +
           FormatDouble(h.sum_seconds()) + "\n";
    out += "pydepot_http_request_duration_seconds_count{" + label + "} " +
           std::to_string(std::max(cumulative, count)) + "\n";
  }

  Header(out, "pydepot_http_response_bytes_total", "counter",
         "Body bytes sent in answers, by route.");
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    if (const std::uint64_t n = response_bytes_[r].value(); n > 0) {
      out += "pydepot_http_response_bytes_total{route=\"" + std::string(kRouteNames[r]) + "\"} " +
             std::to_string(n) + "\n";
    }
  }

  Header(out, "pydepot_uploads_total", "counter",
         "Uploads by result: stored, duplicate (identical file already there), rejected (4xx), "
         "failed (5xx).");
  for (std::size_t i = 0; i < kUploadResultCount; ++i) {
    out += "pydepot_uploads_total{result=\"" + std::string(kUploadResultNames[i]) + "\"} " +
           std::to_string(uploads_[i].value()) + "\n";
  }
  Header(out, "pydepot_upload_bytes_total", "counter", "Bytes of distribution files stored.");
  out += "pydepot_upload_bytes_total " + std::to_string(upload_bytes_.value()) + "\n";

  Header(out, "pydepot_storage_calls_total", "counter", "Calls to the store, by operation.");
  for (std::size_t i = 0; i < kStorageOpCount; ++i) {
    if (const std::uint64_t n = storage_calls_[i].value(); n > 0) {
      out += "pydepot_storage_calls_total{op=\"" + std::string(kStorageOpNames[i]) + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  Header(out, "pydepot_storage_errors_total", "counter",
         "Store calls that failed (not counting the expected answers: not found, already "
         "exists, etag mismatch, unsupported capability), by operation.");
  for (std::size_t i = 0; i < kStorageOpCount; ++i) {
    if (const std::uint64_t n = storage_errors_[i].value(); n > 0) {
      out += "pydepot_storage_errors_total{op=\"" + std::string(kStorageOpNames[i]) + "\"} " +
             std::to_string(n) + "\n";
    }
  }

  Header(out, "pydepot_cache_lookups_total", "counter",
         "Lookups of the in-memory page cache: hit (answered from memory) or miss (read from "
         "the store).");
  for (std::size_t c = 0; c < kCacheCount; ++c) {
    for (int hit = 1; hit >= 0; --hit) {
      out += "pydepot_cache_lookups_total{cache=\"" + std::string(kCacheNames[c]) + "\",result=\"" +
             (hit ? "hit" : "miss") + "\"} " +
             std::to_string(cache_lookups_[c][static_cast<std::size_t>(hit)].value()) + "\n";
    }
  }
  return out;
}

}  // namespace pydepot::ops
