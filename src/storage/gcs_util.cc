#include "storage/gcs_util.h"

#include <cctype>
#include <ctime>

#include "base/hash.h"
#include "base/status_macros.h"
#include "storage/storage.h"

#include <curl/curl.h>

namespace pydepot::storage::gcs {
namespace {

constexpr std::string_view kGoogleBase = "https://storage.googleapis.com";
constexpr std::string_view kGoogleHost = "storage.googleapis.com";
constexpr std::chrono::seconds kMaxSignedUrlTtl{7 * 24 * 3600};

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsValidBucketName(std::string_view name) {
  bool has_dot = name.find('.') != std::string_view::npos;
  if (name.size() < 3 || name.size() > (has_dot ? 222U : 63U)) {
    return false;
  }
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// "20190201T090000Z", the basic ISO 8601 form V4 signing uses.
std::string BasicIsoTime(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buffer, n);
}

}  // namespace

StatusOr<GcsLocation> ParseGcsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "gs://";
  std::string what = "storage URL " + std::string(url);
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgumentError(what + ": not gs://BUCKET[/PREFIX]");
  }
  std::string_view rest = url.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  std::string_view prefix =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (!IsValidBucketName(bucket)) {
    return InvalidArgumentError(what + ": \"" + std::string(bucket) +
                                "\" is not a GCS bucket name (3-63 characters of a-z, 0-9, "
                                "'-', '_' and '.', starting and ending with a letter or digit)");
  }
  if (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  if (!prefix.empty() && !IsValidKey(prefix)) {
    return InvalidArgumentError(what + ": the prefix \"" + std::string(prefix) +
                                "\" is not made of valid key segments ([A-Za-z0-9._+!~-], "
                                "none empty or starting with '.')");
  }
  GcsLocation location;
  location.bucket = std::string(bucket);
  location.prefix = prefix.empty() ? std::string() : std::string(prefix) + "/";
  return location;
}

StatusOr<Endpoints> MakeEndpoints(std::string_view emulator_host) {
  Endpoints endpoints;
  std::string base;
  if (emulator_host.empty()) {
    base = kGoogleBase;
    endpoints.signing_host = kGoogleHost;
  } else {
    std::string_view host = emulator_host;
    if (host.substr(0, 7) == "http://") {
      host.remove_prefix(7);
    } else if (host.substr(0, 8) == "https://") {
      return InvalidArgumentError("STORAGE_EMULATOR_HOST " + std::string(emulator_host) +
                                  ": an emulator is spoken to over http://");
    } else if (host.find("://") != std::string_view::npos) {
      return InvalidArgumentError("STORAGE_EMULATOR_HOST " + std::string(emulator_host) +
                                  ": give http://host:port");
    }
    while (!host.empty() && host.back() == '/') {
      host.remove_suffix(1);
    }
    if (host.empty() || host.find('/') != std::string_view::npos) {
      return InvalidArgumentError("STORAGE_EMULATOR_HOST " + std::string(emulator_host) +
                                  ": give http://host:port");
    }
    base = "http://" + std::string(host);
    endpoints.signing_host = std::string(host);
    endpoints.emulator = true;
  }
  endpoints.json_api = base + "/storage/v1";
  endpoints.upload_api = base + "/upload/storage/v1";
  endpoints.signing_base = base;
  return endpoints;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::optional<std::int64_t> ParseHttpDateMicros(std::string_view text) {
  std::string copy(text);
  std::time_t seconds = curl_getdate(copy.c_str(), nullptr);
  if (seconds == -1) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(seconds) * 1000000;
}

StatusOr<std::string> MakeV4SignedGetUrl(const SignedUrlParams& params,
                                         const RsaSha256Signer& sign) {
  if (params.ttl < std::chrono::seconds(1) || params.ttl > kMaxSignedUrlTtl) {
    return InvalidArgumentError("signed URL: the lifetime must be 1 s to 7 days, not " +
                                std::to_string(params.ttl.count()) + " s");
  }
  std::string datetime = BasicIsoTime(params.now);
  std::string scope = datetime.substr(0, 8) + "/auto/storage/goog4_request";
  std::string path = "/" + params.bucket + "/" + PercentEncode(params.object, /*keep_slash=*/true);
  // Already in the canonical (sorted) order.
  std::string query =
      "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=" +
      PercentEncode(params.signer_email + "/" + scope) + "&X-Goog-Date=" + datetime +
      "&X-Goog-Expires=" + std::to_string(params.ttl.count()) + "&X-Goog-SignedHeaders=host";
  std::string canonical_request =
      "GET\n" + path + "\n" + query + "\nhost:" + params.host + "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string string_to_sign =
      "GOOG4-RSA-SHA256\n" + datetime + "\n" + scope + "\n" + Sha256Hex(canonical_request);
  PYDEPOT_ASSIGN_OR_RETURN(std::string signature, sign(string_to_sign));
  return params.base_url + path + "?" + query + "&X-Goog-Signature=" + HexEncode(signature);
}

}  // namespace pydepot::storage::gcs
