// Names, URLs and times of the GCS backend: parsing gs:// URLs, the service endpoints (or an
// emulator's, from STORAGE_EMULATOR_HOST), percent-encoding object names, the timestamps GCS
// sends, and V4 signed URLs. Internal to src/storage. Pure functions: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"

namespace pydepot::storage::gcs {

struct GcsLocation {
  std::string bucket;
  std::string prefix;  // "" or "some/prefix/": prepended to every key to name its object
};

// Parses gs://BUCKET[/PREFIX] (a trailing '/' is ignored). The bucket must be a valid GCS
// bucket name (3-63 characters of [a-z0-9_.-], up to 222 with dots, starting and ending with a
// letter or digit); PREFIX must be made of valid key segments (storage.h). kInvalidArgument
// otherwise.
StatusOr<GcsLocation> ParseGcsUrl(std::string_view url);

struct Endpoints {
  std::string json_api;      // "https://storage.googleapis.com/storage/v1"
  std::string upload_api;    // "https://storage.googleapis.com/upload/storage/v1"
  std::string signing_base;  // "https://storage.googleapis.com": signed URLs start with it
  std::string signing_host;  // "storage.googleapis.com": the Host a signed URL is signed for
  bool emulator = false;
};

// The real service when `emulator_host` is empty; else that emulator, given as
// "http://host:port" or "host:port" (as Google's libraries read STORAGE_EMULATOR_HOST).
// kInvalidArgument for another scheme or an empty host.
StatusOr<Endpoints> MakeEndpoints(std::string_view emulator_host);

// Percent-encodes every byte but the unreserved [A-Za-z0-9-._~], and '/' too unless
// `keep_slash`: "files/a+b!" -> "files%2Fa%2Bb%21".
std::string PercentEncode(std::string_view text, bool keep_slash = false);

// "2024-05-01T12:34:56.789Z" (RFC 3339, as GCS writes "updated"): base/time.h.
using ::pydepot::ParseRfc3339Micros;

// "Wed, 01 May 2024 12:34:56 GMT" (an HTTP date, as in Last-Modified) in microseconds since
// the Unix epoch; nullopt when malformed.
std::optional<std::int64_t> ParseHttpDateMicros(std::string_view text);

// Signs `data` with RSASSA-PKCS1-v1_5 SHA-256 and returns the raw signature.
using RsaSha256Signer = std::function<StatusOr<std::string>(std::string_view data)>;

struct SignedUrlParams {
  std::string base_url;  // Endpoints::signing_base
  std::string host;      // Endpoints::signing_host
  std::string bucket;
  std::string object;
  std::string signer_email;  // the service account whose key signs
  std::chrono::system_clock::time_point now;
  std::chrono::seconds ttl{0};
};

// A V4 signed URL for GET of `object` (GOOG4-RSA-SHA256, region "auto", signed header "host",
// unsigned payload), path-style: base_url/bucket/object?X-Goog-...&X-Goog-Signature=hex.
// kInvalidArgument unless 1 s <= ttl <= 7 days (GCS's limit); else the signer's error.
StatusOr<std::string> MakeV4SignedGetUrl(const SignedUrlParams& params,
                                         const RsaSha256Signer& sign);

}  // namespace pydepot::storage::gcs
