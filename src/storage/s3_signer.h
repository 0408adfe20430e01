// AWS Signature Version 4 for S3 (internal to the S3 backend): canonical requests, the
// Authorization header and presigned URLs, as pure functions of their inputs and the time, so
// they are tested against AWS's published examples. Thread-safe (no state).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pydepot::storage::s3 {

// One set of AWS credentials; `session_token` is empty for long-term keys.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// "x-amz-content-sha256" value for a body that is not hashed (presigned URLs, HTTPS only).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// sha256 of the empty string, the payload hash of GET, HEAD and DELETE.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Percent-encodes `text` as SigV4 wants: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX
// (uppercase hex); '/' is kept when `keep_slash` (object paths) and encoded otherwise.
std::string UriEncode(std::string_view text, bool keep_slash);

// Lowercase hex sha256 of `bytes`, and raw HMAC-SHA256.
std::string Sha256Hex(std::string_view bytes);
std::string HmacSha256(std::string_view key, std::string_view data);

// "20130524T000000Z" (x-amz-date) for `time`, UTC.
std::string AmzDate(std::chrono::system_clock::time_point time);

// The parts of a request that SigV4 covers.
struct SignableRequest {
  std::string method;         // "GET"
  std::string canonical_uri;  // already percent-encoded path, e.g. "/bucket/a%2Bb"
  // Query parameters, not encoded (the signer encodes them); order does not matter.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign, any case and order; must include "host". x-amz-date and
  // x-amz-content-sha256 are added by SignRequest.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // lowercase hex sha256 of the body, or kUnsignedPayload
};

struct Signature {
  // Every header to send besides the caller's: x-amz-date, x-amz-content-sha256,
  // x-amz-security-token (with a session token) and authorization.
  std::vector<std::pair<std::string, std::string>> headers;
  // Intermediate strings, for tests and debugging.
  std::string canonical_request;
  std::string string_to_sign;
};

// Signs `request` for `service` ("s3") in `region` at `now`.
Signature SignRequest(const SignableRequest& request, const Credentials& credentials,
                      std::string_view region, std::string_view service,
                      std::chrono::system_clock::time_point now);

// The canonical query string: names and values encoded, sorted, joined by '&'.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// A presigned URL for `request` (method, canonical_uri, query; headers must be just "host"):
// `scheme_and_host` + canonical_uri + "?" + the query with the X-Amz-* parameters, valid for
// `expires` seconds (1..604800) from `now`, with an unsigned payload.
std::string PresignUrl(const SignableRequest& request, std::string_view scheme_and_host,
                       const Credentials& credentials, std::string_view region,
                       std::string_view service, std::chrono::system_clock::time_point now,
                       std::chrono::seconds expires);

}  // namespace pydepot::storage::s3
