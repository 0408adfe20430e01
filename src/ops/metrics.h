// Prometheus metrics (docs/operations.md): a small registry written here, because Debian ships no
// Prometheus client library for C++ (prometheus-cpp is not packaged), and the set of metrics is
// small and fixed. Every metric has a fixed label set whose values come from short enums (never a
// raw path or user name), so each series is a preallocated atomic and the hot path is a relaxed
// fetch_add: no lock, no allocation. Rendered as the text exposition format 0.0.4.
//
// One process-wide registry (Metrics::Global()), as Prometheus clients keep one; tests may build
// their own and read the values back.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pydepot::ops {

// The route of a request, for labels: a small fixed set derived from the path.
enum class Route {
  kSimpleRoot,     // /simple/
  kSimpleProject,  // /simple/<project>/
  kFiles,          // /files/...
  kPypiJson,       // /pypi/<project>/json
  kUi,       // the web UI: /, /project/, /search, /login, /logout, /account/, /manage/, /static/
  kApi,      // /api/...
  kUpload,   // POST to /, /legacy, /legacy/
  kHealth,   // /healthz, /readyz
  kMetrics,  // /metrics
  kOther,    // anything else
};
inline constexpr std::size_t kRouteCount = 10;
std::string_view RouteName(Route route);
// The route of a request with this method and target (path and optional query).
Route RouteOf(std::string_view method, std::string_view target);

// Request methods as labels; anything unusual is "other".
inline constexpr std::size_t kMethodCount = 7;
std::size_t MethodIndex(std::string_view method);
std::string_view MethodName(std::size_t index);

// Storage operations, one per Storage method (and "read" for ReadStream::Read failures).
enum class StorageOp {
  kHead,
  kGet,
  kOpen,
  kRead,
  kPutIfAbsent,
  kPutFileIfAbsent,
  kMoveFileIfAbsent,
  kPutIfMatch,
  kDelete,
  kList,
  kLocalPath,
  kPresignedGetUrl,
};
inline constexpr std::size_t kStorageOpCount = 12;
std::string_view StorageOpName(StorageOp op);

enum class UploadResult {
  kStored,     // a new file was stored
  kDuplicate,  // the identical file was already there: 200, nothing changed
  kRejected,   // a client error (4xx): validation, credentials, size
  kFailed,     // a server error (5xx): the store
};
inline constexpr std::size_t kUploadResultCount = 4;
std::string_view UploadResultName(UploadResult result);

enum class Cache { kProject, kRoot };
inline constexpr std::size_t kCacheCount = 2;
std::string_view CacheName(Cache cache);

// A monotonically increasing count.
class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Latency in seconds over fixed buckets (upper bounds, inclusive as Prometheus's "le"). The sum
// is kept in nanoseconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};
  void Observe(std::chrono::nanoseconds duration);
  // Observations in bucket i alone (i == kBounds.size(): above the last bound).
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const {
    return static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_nanos_{0};
};

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The process-wide registry.
  static Metrics& Global();

  // One request answered: its route, method, status, body bytes sent and time taken.
  void RecordRequest(Route route, std::string_view method, unsigned status,
                     std::uint64_t response_bytes, std::chrono::nanoseconds latency);
  void RecordUpload(UploadResult result, std::uint64_t bytes);
  void RecordStorageCall(StorageOp op, bool error);
  void RecordCacheLookup(Cache cache, bool hit);
  // Requests being handled right now (for the shutdown drain, and as a gauge).
  Gauge& in_flight() { return in_flight_; }
  void SetVersion(std::string_view version);

  // Read back, for tests and the e2e checks.
  std::uint64_t requests(Route route, std::string_view method, unsigned status) const;
  std::uint64_t storage_calls(StorageOp op) const;
  std::uint64_t storage_errors(StorageOp op) const;
  std::uint64_t cache_lookups(Cache cache, bool hit) const;
  std::uint64_t uploads(UploadResult result) const;
  const Histogram& latency(Route route) const;

  // Every metric in the Prometheus text exposition format 0.0.4 (Content-Type
  // kPrometheusContentType). Series never touched are left out, except the ones a dashboard
  // wants from the start (build info, start time, in-flight).
  std::string RenderPrometheus() const;

 private:
  // Status codes 100..599 each have a slot; anything else shares slot 0 (rendered as "other").
  static constexpr std::size_t kStatusSlots = 600;
  static std::size_t StatusSlot(unsigned status) {
    return status >= 100 && status < kStatusSlots ? status : 0;
  }

  std::array<std::array<std::array<Counter, kStatusSlots>, kMethodCount>, kRouteCount> requests_;
  std::array<Histogram, kRouteCount> latency_;
  std::array<Counter, kRouteCount> response_bytes_;
  std::array<Counter, kUploadResultCount> uploads_;
  Counter upload_bytes_;
  std::array<Counter, kStorageOpCount> storage_calls_;
  std::array<Counter, kStorageOpCount> storage_errors_;
  std::array<std::array<Counter, 2>, kCacheCount> cache_lookups_;  // [cache][hit]
  Gauge in_flight_;
  std::string version_ = "unknown";
  double start_time_seconds_ = 0;
};

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// A label value escaped for the text format: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// The hook the index calls on each project-page or root-page lookup: counts into the global
// registry (index depends on nothing else of ops).
inline void CountCacheLookup(Cache cache, bool hit) {
  Metrics::Global().RecordCacheLookup(cache, hit);
}

}  // namespace pydepot::ops
