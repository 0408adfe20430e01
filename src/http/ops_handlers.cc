// Operations routes (docs/operations.md): /healthz (the process answers), /readyz (the store
// answers), /metrics (Prometheus text; administrators, or anyone on the separate metrics
// listener).
#include <string>

#include "http/handlers.h"
#include "http/handlers_internal.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "storage/keys.h"

namespace pydepot::http {
namespace {

Response PlainText(unsigned status, std::string body) {
  Response res;
  res.status = status;
  res.SetHeader("Content-Type", "text/plain; charset=utf-8");
  // Probes must see the state of now, never a cached answer.
  res.SetHeader("Cache-Control", "no-store");
  res.body = std::move(body);
  return res;
}

Response Healthz() { return PlainText(200, "ok\n"); }

// Ready when the store answers a Head of the users document (found or not found: both mean the
// store is reachable and readable). The reason of a failure is its status code; the store's
// own message (which may name buckets and hosts) goes to the log only.
Response Readyz(storage::Storage& store) {
  auto info = store.Head(storage::UsersKey());
  if (info.has_value() || info.error().code() == StatusCode::kNotFound) {
    return PlainText(200, "ready\n");
  }
  ops::Log(ops::Severity::kWarning, "readyz: the store did not answer: " + info.error().ToString());
  Response res = PlainText(503, "not ready: the store did not answer (" +
                                    std::string(StatusCodeName(info.error().code())) + ")\n");
  res.reason = "Storage unavailable";
  res.SetHeader("Retry-After", "5");
  return res;
}

Response MetricsPage() {
  Response res = PlainText(200, ops::Metrics::Global().RenderPrometheus());
  res.SetHeader("Content-Type", std::string(ops::kPrometheusContentType));
  return res;
}

bool IsOpsPath(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

}  // namespace

std::optional<Response> Handlers::RouteOps(const RequestHead& head, std::string_view path,
                                           Mode& mode) {
  if (!IsOpsPath(path)) {
    return std::nullopt;
  }
  if (head.method != "GET" && head.method != "HEAD") {
    return internal::MethodNotAllowed("GET, HEAD", "Only GET and HEAD are allowed here.");
  }
  Response res;
  if (path == "/healthz") {
    res = Healthz();
  } else if (path == "/readyz") {
    if (mode.memory_only) {
      mode.would_block = true;  // asks the store: on the blocking pool
      return ErrorResponse(503, "retry");
    }
    res = Readyz(index_.storage());
  } else {
    auto who = Authorize(head, auth::Role::kAdmin, mode);
    if (auto* refused = std::get_if<Response>(&who)) {
      return std::move(*refused);
    }
    res = MetricsPage();
  }
  res.head_only = head.method == "HEAD";
  return res;
}

Response Handlers::HandleOpsListener(const RequestHead& head) {
  std::string_view path = head.target;
  path = path.substr(0, path.find('?'));
  if (!IsOpsPath(path)) {
    return ErrorResponse(404, "Not found: this listener serves /metrics, /healthz and /readyz.");
  }
  if (head.method != "GET" && head.method != "HEAD") {
    return internal::MethodNotAllowed("GET, HEAD", "Only GET and HEAD are allowed here.");
  }
  Response res = path == "/healthz"  ? Healthz()
                 : path == "/readyz" ? Readyz(index_.storage())
                                     : MetricsPage();
  res.head_only = head.method == "HEAD";
  return res;
}

}  // namespace pydepot::http
