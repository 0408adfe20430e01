#include "ops/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>

#include <boost/json.hpp>

#include "base/hash.h"

namespace pydepot::ops {
namespace {

namespace json = boost::json;

LogOptions g_options;
std::mutex g_sink_mu;
std::function<void(std::string_view)>* g_sink = nullptr;  // guarded by g_sink_mu
thread_local std::string_view t_request_id;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void WriteLine(std::string line) {
  {
    std::lock_guard lock(g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(line);
      return;
    }
  }
  line += '\n';
  // One write per line, so lines of several threads never interleave (stderr is unbuffered).
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Control characters of a text line shown as spaces: a message never starts a second line.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = ' ';
    }
  }
  return out;
}

std::string Latency(std::chrono::nanoseconds latency) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6fs", std::chrono::duration<double>(latency).count());
  return buffer;
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kDebug:
      return "DEBUG";
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kError:
      return "ERROR";
  }
  return "DEFAULT";
}

void ConfigureLog(LogOptions options) { g_options = options; }

const LogOptions& CurrentLogOptions() { return g_options; }

void SetLogSinkForTesting(std::function<void(std::string_view line)> sink) {
  std::lock_guard lock(g_sink_mu);
  delete g_sink;
  g_sink = sink ? new std::function<void(std::string_view)>(std::move(sink)) : nullptr;
}

std::string Rfc3339(std::int64_t time_micros) {
  const std::time_t seconds = static_cast<std::time_t>(time_micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%06dZ", static_cast<int>(time_micros % 1000000));
  return std::string(text, length) + fraction;
}

std::string FormatLogLine(LogFormat format, Severity severity, std::string_view message,
                          std::string_view request_id, std::int64_t time_micros) {
  if (format == LogFormat::kText) {
    std::string line;
    if (severity >= Severity::kWarning) {
      line.append(SeverityName(severity)).append(": ");
    }
    return line + OneLine(message);
  }
  json::object out;
  out["severity"] = SeverityName(severity);
  out["message"] = message;
  out["time"] = Rfc3339(time_micros);
  if (!request_id.empty()) {
    out["requestId"] = request_id;
  }
  return json::serialize(out);
}

std::string RedactTarget(std::string_view target) {
  std::string out(target.substr(0, 2048));
  // An absolute-form target (a request to a proxy) may carry user:password@ before the host.
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos && out.find('/') > scheme) {
    const std::size_t host_start = scheme + 3;
    const std::size_t host_end = out.find_first_of("/?#", host_start);
    const std::size_t at = out.rfind('@', host_end == std::string::npos ? out.size() : host_end);
    if (at != std::string::npos && at >= host_start) {
      out.erase(host_start, at + 1 - host_start);
    }
  }
  return out;
}

std::string FormatAccessLine(LogFormat format, const AccessRecord& record,
                             std::int64_t time_micros) {
  const std::string url = RedactTarget(record.target);
  const std::string_view agent = record.user_agent.substr(0, 512);
  if (format == LogFormat::kText) {
    return OneLine(std::string(record.remote_address) + " \"" +
                   std::string(record.method.substr(0, 32)) + " " + url + "\" " +
                   std::to_string(record.status) + " " + std::to_string(record.response_bytes) +
                   " " + Latency(record.latency) + " id=" + std::string(record.request_id) + " \"" +
                   std::string(agent) + "\"");
  }
  json::object http;
  http["requestMethod"] = record.method.substr(0, 32);
  http["requestUrl"] = url;
  http["status"] = record.status;
  http["responseSize"] = std::to_string(record.response_bytes);  // a string, as in LogEntry
  http["latency"] = Latency(record.latency);
  http["remoteIp"] = record.remote_address;
  http["userAgent"] = agent;
  json::object out;
  out["severity"] = record.status >= 500 ? "ERROR" : "INFO";
  out["message"] =
      std::string(record.method.substr(0, 32)) + " " + url + " " + std::to_string(record.status);
  out["time"] = Rfc3339(time_micros);
  out["requestId"] = record.request_id;
  out["httpRequest"] = std::move(http);
  return json::serialize(out);
}

void Log(Severity severity, std::string_view message) {
  WriteLine(FormatLogLine(g_options.format, severity, message, t_request_id, NowMicros()));
}

void LogAccess(const AccessRecord& record) {
  if (!g_options.access_log) {
    return;
  }
  WriteLine(FormatAccessLine(g_options.format, record, NowMicros()));
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    // Printable ASCII without space, quotes or backslash: safe in headers, logs and JSON.
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '\'') {
      return false;
    }
  }
  return true;
}

std::string RequestIdFrom(std::string_view x_request_id, std::string_view cloud_trace_context) {
  if (IsAcceptableRequestId(x_request_id)) {
    return std::string(x_request_id);
  }
  const std::string_view trace = cloud_trace_context.substr(0, cloud_trace_context.find('/'));
  if (IsAcceptableRequestId(trace)) {
    return std::string(trace);
  }
  // A new id: 16 random hex digits drawn once per thread, then the thread's request counter in
  // 16 more. Unique (within the process by the counter, across processes and threads by the
  // random part) without a system call for randomness on every request.
  struct Generator {
    std::string prefix = HexEncode(RandomBytes(8));
    std::uint64_t counter = 0;
  };
  thread_local Generator generator;
  std::string id = generator.prefix;
  id.resize(32);
  std::uint64_t n = ++generator.counter;
  for (std::size_t i = 32; i-- > 16; n >>= 4) {
    id[i] = "0123456789abcdef"[n & 0xf];
  }
  return id;
}

RequestIdScope::RequestIdScope(std::string_view id) : previous_(t_request_id) { t_request_id = id; }

RequestIdScope::~RequestIdScope() { t_request_id = previous_; }

std::string_view CurrentRequestId() { return t_request_id; }

}  // namespace pydepot::ops
