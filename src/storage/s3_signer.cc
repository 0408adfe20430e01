#include "storage/s3_signer.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/check.h"

namespace pydepot::storage::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string Hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

std::string HexOf(std::string_view raw) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Trims and collapses runs of spaces, as SigV4's canonical header values want.
std::string TrimAll(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out.push_back(' ');
      space = false;
    }
    out.push_back(c);
  }
  return out;
}

std::string DateStamp(std::string_view amz_date) { return std::string(amz_date.substr(0, 8)); }

std::string Scope(std::string_view amz_date, std::string_view region, std::string_view service) {
  return DateStamp(amz_date) + "/" + std::string(region) + "/" + std::string(service) +
         "/aws4_request";
}

std::string SigningKey(const Credentials& credentials, std::string_view amz_date,
                       std::string_view region, std::string_view service) {
  std::string date_key = HmacSha256("AWS4" + credentials.secret_access_key, DateStamp(amz_date));
  std::string region_key = HmacSha256(date_key, region);
  std::string service_key = HmacSha256(region_key, service);
  return HmacSha256(service_key, "aws4_request");
}

struct CanonicalHeaders {
  std::string text;          // "name:value\n" lines
  std::string signed_names;  // "name;name"
};

CanonicalHeaders Canonicalize(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    lowered.emplace_back(Lower(name), TrimAll(value));
  }
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    if (i > 0 && lowered[i].first == lowered[i - 1].first) {
      out.text.back() = ',';  // repeated header: values joined by commas
      out.text += lowered[i].second + "\n";
      continue;
    }
    if (!out.signed_names.empty()) {
      out.signed_names += ";";
    }
    out.signed_names += lowered[i].first;
    out.text += lowered[i].first + ":" + lowered[i].second + "\n";
  }
  return out;
}

std::string CanonicalRequest(std::string_view method, std::string_view canonical_uri,
                             std::string_view canonical_query, const CanonicalHeaders& headers,
                             std::string_view payload_hash) {
  std::string out;
  out.append(method).append("\n");
  out.append(canonical_uri.empty() ? "/" : canonical_uri).append("\n");
  out.append(canonical_query).append("\n");
  out.append(headers.text).append("\n");
  out.append(headers.signed_names).append("\n");
  out.append(payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         Sha256Hex(canonical_request);
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~' ||
        (c == '/' && keep_slash)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0xf]);
    }
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  PYDEPOT_CHECK(
      EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) == 1);
  return Hex(digest.data(), size);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  // cppcheck-suppress invalidLifetime ; HMAC's result points into `mac`, not into `key`
  const unsigned char* result = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes,
                                     data.size(), mac.data(), &size);
  PYDEPOT_CHECK(result != nullptr);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return std::string(reinterpret_cast<const char*>(mac.data()), size);
}

std::string AmzDate(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> buffer{};
  std::size_t n = std::strftime(buffer.data(), buffer.size(), "%Y%m%dT%H%M%SZ", &utc);
  return std::string(buffer.data(), n);
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) {
      out += "&";
    }
    out.append(name).append("=").append(value);
  }
  return out;
}

Signature SignRequest(const SignableRequest& request, const Credentials& credentials,
                      std::string_view region, std::string_view service,
                      std::chrono::system_clock::time_point now) {
  Signature out;
  std::string amz_date = AmzDate(now);
  out.headers.emplace_back("x-amz-date", amz_date);
  out.headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  if (!credentials.session_token.empty()) {
    out.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  std::vector<std::pair<std::string, std::string>> all = request.headers;
  all.insert(all.end(), out.headers.begin(), out.headers.end());
  CanonicalHeaders headers = Canonicalize(all);
  out.canonical_request =
      CanonicalRequest(request.method, request.canonical_uri, CanonicalQuery(request.query),
                       headers, request.payload_hash);
  std::string scope = Scope(amz_date, region, service);
  out.string_to_sign = StringToSign(amz_date, scope, out.canonical_request);
  std::string signature =
      HexOf(HmacSha256(SigningKey(credentials, amz_date, region, service), out.string_to_sign));
  out.headers.emplace_back("authorization", std::string(kAlgorithm) +
                                                " Credential=" + credentials.access_key_id + "/" +
                                                scope + ",SignedHeaders=" + headers.signed_names +
                                                ",Signature=" + signature);
  return out;
}

std::string PresignUrl(const SignableRequest& request, std::string_view scheme_and_host,
                       const Credentials& credentials, std::string_view region,
                       std::string_view service, std::chrono::system_clock::time_point now,
                       std::chrono::seconds expires) {
  std::string amz_date = AmzDate(now);
  std::string scope = Scope(amz_date, region, service);
  CanonicalHeaders headers = Canonicalize(request.headers);
  std::vector<std::pair<std::string, std::string>> query = request.query;
  query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + scope);
  query.emplace_back("X-Amz-Date", amz_date);
  query.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
  if (!credentials.session_token.empty()) {
    query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  query.emplace_back("X-Amz-SignedHeaders", headers.signed_names);
  std::string canonical_query = CanonicalQuery(query);
  std::string canonical_request = CanonicalRequest(request.method, request.canonical_uri,
                                                   canonical_query, headers, kUnsignedPayload);
  std::string signature = HexOf(HmacSha256(SigningKey(credentials, amz_date, region, service),
                                           StringToSign(amz_date, scope, canonical_request)));
  return std::string(scheme_and_host) +
         (request.canonical_uri.empty() ? "/" : request.canonical_uri) + "?" + canonical_query +
         "&X-Amz-Signature=" + signature;
}

}  // namespace pydepot::storage::s3
