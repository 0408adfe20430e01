// The server's log (docs/operations.md): messages and the access log on stderr, as plain text
// lines (the default) or as one JSON object per line in the field names Google Cloud Logging
// reads from a container's output (severity, message, time, httpRequest; our requestId).
//
// Nothing logged here may carry a secret: callers pass messages they wrote, and the access log
// takes only the method, the target (with any user:password@ part of an absolute URL removed),
// the status, sizes, the client address and the User-Agent — never Authorization, Cookie or a
// form body. Thread-safe: each line is written with one write(2).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pydepot::ops {

enum class Severity { kDebug, kInfo, kWarning, kError };
std::string_view SeverityName(Severity severity);  // "INFO", ... as Cloud Logging names them

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  // One line per request. Off by default in text mode (quiet on a terminal), on in JSON mode
  // (a log collector wants it); --access-log / --no-access-log say otherwise.
  bool access_log = false;
};

// Set once at start, before any thread logs.
void ConfigureLog(LogOptions options);
const LogOptions& CurrentLogOptions();

// Where lines go: stderr by default. Tests capture them; nullptr restores stderr.
void SetLogSinkForTesting(std::function<void(std::string_view line)> sink);

// Logs `message` with the request id of the current thread's request scope, if any.
void Log(Severity severity, std::string_view message);

// One answered request, for the access log.
struct AccessRecord {
  std::string_view method;
  std::string_view target;
  unsigned status = 0;
  std::uint64_t response_bytes = 0;
  std::chrono::nanoseconds latency{0};
  std::string_view remote_address;
  std::string_view user_agent;
  std::string_view request_id;
};
// Logs it when the access log is on.
void LogAccess(const AccessRecord& record);

// The lines as they are written (without the newline), exposed for tests. `time_micros` since
// the Unix epoch.
std::string FormatLogLine(LogFormat format, Severity severity, std::string_view message,
                          std::string_view request_id, std::int64_t time_micros);
std::string FormatAccessLine(LogFormat format, const AccessRecord& record,
                             std::int64_t time_micros);

// RFC 3339 UTC with microseconds: "2024-05-01T12:00:00.123456Z".
std::string Rfc3339(std::int64_t time_micros);

// The request id of a request: a client's X-Request-Id, else the trace id of
// X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1"), when it is 1 to 128 printable ASCII characters
// without spaces or quotes; else a new random one (32 hex digits).
std::string RequestIdFrom(std::string_view x_request_id, std::string_view cloud_trace_context);
bool IsAcceptableRequestId(std::string_view id);

// Sets the current thread's request id (for Log) until the scope ends. Only around synchronous
// code: a coroutine must not hold one across a suspension.
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string_view id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string_view previous_;
};
std::string_view CurrentRequestId();

// The target with the user:password@ of an absolute-form URL removed, and cut to at most 2048
// bytes.
std::string RedactTarget(std::string_view target);

}  // namespace pydepot::ops
