// The audit trail (docs/operations.md): who changed what, kept in the store itself, so every
// instance and the CLI write to one trail. Each event is one small JSON object under its own
// key (storage::AuditKey), written create-only: no read-modify-write, no contention between
// instances, and nothing written is ever changed. Recording never fails the action it records:
// a failed write is logged as a warning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/storage.h"

namespace pydepot::ops {

struct AuditEvent {
  std::int64_t time_micros = 0;  // 0: now, when written
  // A user name, "__token__:<token id>" (AuditActor), or "cli:<$USER>" (CliActor).
  std::string actor;
  // upload, yank, unyank, delete-file, delete-release, delete-project, claim, user-add,
  // user-remove, user-password, user-role, token-create, token-revoke.
  std::string action;
  // What it acted on: "project/filename", "project version", "project", a user name, a token id.
  std::string target;
  std::string address;  // the client's address ("" from the CLI)
};

// The actor of a request made with a password or session (`token_id` empty) or an API token.
std::string AuditActor(std::string_view user, std::string_view token_id);
// "cli:<$USER>" ("cli:unknown" without $USER).
std::string CliActor();

std::string EncodeAuditEvent(const AuditEvent& event);
StatusOr<AuditEvent> DecodeAuditEvent(std::string_view json);

// Writes `event` (time filled in when 0) under a new key. The store's error on failure.
Status WriteAuditEvent(storage::Storage& store, AuditEvent event);
// As WriteAuditEvent, but a failure is only logged (a warning): for the actions themselves.
void RecordAudit(storage::Storage& store, AuditEvent event);

// Every event from day `since` (YYYY-MM-DD, "" for all) on, oldest first. Lists the store: for
// maintenance commands only (`pydepot audit`). Unreadable events are skipped and counted in
// `skipped` when given.
StatusOr<std::vector<AuditEvent>> ListAuditEvents(storage::Storage& store, std::string_view since,
                                                  int* skipped = nullptr);

}  // namespace pydepot::ops
