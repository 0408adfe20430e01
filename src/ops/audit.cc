#include "ops/audit.h"

#include <cstdlib>
#include <utility>

#include <boost/json.hpp>

#include "base/hash.h"
#include "ops/log.h"
#include "storage/keys.h"

namespace pydepot::ops {
namespace {

namespace json = boost::json;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Fields quoted from requests are bounded: an event stays small.
std::string Bounded(std::string_view text) { return std::string(text.substr(0, 512)); }

}  // namespace

std::string AuditActor(std::string_view user, std::string_view token_id) {
  if (!token_id.empty()) {
    return "__token__:" + std::string(token_id);
  }
  return std::string(user);
}

std::string CliActor() {
  const char* user = std::getenv("USER");
  return "cli:" + std::string(user != nullptr && *user != '\0' ? user : "unknown");
}

std::string EncodeAuditEvent(const AuditEvent& event) {
  json::object out;
  out["time"] = Rfc3339(event.time_micros);
  out["time_micros"] = event.time_micros;
  out["actor"] = Bounded(event.actor);
  out["action"] = Bounded(event.action);
  out["target"] = Bounded(event.target);
  out["address"] = Bounded(event.address);
  return json::serialize(out);
}

StatusOr<AuditEvent> DecodeAuditEvent(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return InvalidArgumentError("audit event: not a JSON object");
  }
  const json::object& object = value.get_object();
  AuditEvent event;
  auto string_field = [&](std::string_view name, std::string& out) {
    if (const json::value* v = object.if_contains(name); v != nullptr && v->is_string()) {
      out = std::string(v->get_string());
    }
  };
  string_field("actor", event.actor);
  string_field("action", event.action);
  string_field("target", event.target);
  string_field("address", event.address);
  if (const json::value* v = object.if_contains("time_micros"); v != nullptr && v->is_int64()) {
    event.time_micros = v->get_int64();
  }
  if (event.action.empty()) {
    return InvalidArgumentError("audit event: no action");
  }
  return event;
}

Status WriteAuditEvent(storage::Storage& store, AuditEvent event) {
  if (event.time_micros == 0) {
    event.time_micros = NowMicros();
  }
  // 8 random bytes: two events of one microsecond (two instances) never share a key; a
  // collision would be kAlreadyExists, and the write is retried with a new nonce.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto key = storage::AuditKey(event.time_micros, HexEncode(RandomBytes(8)));
    if (!key.has_value()) {
      return key.error();
    }
    auto written = store.PutIfAbsent(*key, EncodeAuditEvent(event));
    if (written.has_value()) {
      return OkStatus();
    }
    if (written.error().code() != StatusCode::kAlreadyExists) {
      return written.error();
    }
  }
  return InternalError("audit event: no free key after 3 attempts");
}

void RecordAudit(storage::Storage& store, AuditEvent event) {
  const std::string what = event.action + " " + event.target.substr(0, 200) + " by " + event.actor;
  if (Status s = WriteAuditEvent(store, std::move(event)); !s.ok()) {
    Log(Severity::kWarning, "audit: could not record " + what + ": " + s.message());
  }
}

StatusOr<std::vector<AuditEvent>> ListAuditEvents(storage::Storage& store, std::string_view since,
                                                  int* skipped) {
  std::string since_prefix;
  if (!since.empty()) {
    auto prefix = storage::AuditDayPrefix(since);
    if (!prefix.has_value()) {
      return prefix.error();
    }
    since_prefix = *std::move(prefix);
  }
  auto keys = store.List(storage::AuditPrefix());
  if (!keys.has_value()) {
    return keys.error();
  }
  std::vector<AuditEvent> events;
  int bad = 0;
  for (const std::string& key : *keys) {
    if (!since_prefix.empty() && key < since_prefix) {
      continue;  // keys sort by day, then time
    }
    auto object = store.Get(key);
    if (!object.has_value()) {
      if (object.error().code() == StatusCode::kNotFound) {
        continue;
      }
      return object.error();
    }
    auto event = DecodeAuditEvent(object->data);
    if (!event.has_value()) {
      ++bad;
      continue;
    }
    events.push_back(*std::move(event));
  }
  if (skipped != nullptr) {
    *skipped = bad;
  }
  return events;
}

}  // namespace pydepot::ops
