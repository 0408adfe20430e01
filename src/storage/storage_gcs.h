// The GCS backend's factory with what OpenGcsStorage reads from the process (environment, clock,
// tuning) passed in, so tests can point it at the stand-in with their own settings. Internal to
// src/storage; everything else opens gs:// URLs through OpenStorage.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "storage/gcs_auth.h"
#include "storage/gcs_http.h"
#include "storage/storage.h"

namespace pydepot::storage {

struct GcsOptions {
  // PutFileIfAbsent sends files larger than this as a resumable upload, in chunks of
  // upload_chunk_size (a multiple of 256 KiB, as GCS requires); smaller ones in one request.
  // Either way the file is streamed from disk, never held in memory.
  std::int64_t resumable_threshold = std::int64_t{8} << 20;
  std::int64_t upload_chunk_size = std::int64_t{8} << 20;
  // A ReadStream fetches this many bytes per ranged GET (and holds at most that many).
  std::int64_t read_chunk_size = std::int64_t{8} << 20;
  gcs::RetryPolicy retry;
};

struct GcsConfig {
  gcs::EnvLookup env = gcs::ProcessEnv();
  gcs::WallClock clock = gcs::SystemWallClock();
  GcsOptions options;
};

// Opens gs://BUCKET[/PREFIX]. From `config.env`: STORAGE_EMULATOR_HOST (an emulator or the
// stand-in, spoken to over http), the credentials (gcs::SelectCredentials), and the tuning
// variables PYDEPOT_GCS_RESUMABLE_THRESHOLD, PYDEPOT_GCS_UPLOAD_CHUNK_SIZE and
// PYDEPOT_GCS_READ_CHUNK_SIZE (bytes), which override `config.options`. kInvalidArgument for a
// bad URL, setting or key file. Nothing is sent until the first call.
StatusOr<std::unique_ptr<Storage>> NewGcsStorage(std::string_view url, GcsConfig config);

}  // namespace pydepot::storage
