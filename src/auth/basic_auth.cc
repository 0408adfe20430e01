// ParseBasicAuthorization (RFC 7617). The header carries a password, so no error message ever
// quotes it, and the decoded buffer is wiped.
#include <sodium.h>

#include <vector>

#include "auth/auth.h"

namespace pydepot::auth {
namespace {

// Far above any valid credential (a 64-byte name and a 1024-byte password encode to ~1.5 KB);
// anything longer is rejected before decoding.
constexpr std::size_t kMaxEncodedLength = 4096;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

Status Malformed() { return UnauthenticatedError("malformed Basic authorization header"); }

// Standard base64, with or without the '=' padding. False on anything else.
bool DecodeBase64(std::string_view encoded, std::vector<unsigned char>& out) {
  out.assign(encoded.size() / 4 * 3 + 3, 0);
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING}) {
    std::size_t length = 0;
    // A null end pointer makes libsodium fail unless the whole input is consumed.
    if (sodium_base642bin(out.data(), out.size(), encoded.data(), encoded.size(), nullptr, &length,
                          nullptr, variant) == 0) {
      sodium_memzero(out.data() + length, out.size() - length);
      out.resize(length);
      return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<BasicCredentials> ParseBasicAuthorization(std::string_view header_value) {
  const std::string_view value = Trim(header_value);
  std::size_t space = 0;
  while (space < value.size() && !IsSpace(value[space])) {
    ++space;
  }
  if (!EqualsIgnoreCase(value.substr(0, space), "basic")) {
    return UnauthenticatedError("authorization scheme is not Basic");
  }
  const std::string_view encoded = Trim(value.substr(space));
  if (encoded.empty() || encoded.size() > kMaxEncodedLength) {
    return Malformed();
  }
  std::vector<unsigned char> decoded;
  const bool ok = DecodeBase64(encoded, decoded);
  const std::string_view text(reinterpret_cast<const char*>(decoded.data()), decoded.size());
  const std::size_t colon = text.find(':');
  StatusOr<BasicCredentials> result = Malformed();
  if (ok && colon != std::string_view::npos) {
    result =
        BasicCredentials{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  }
  sodium_memzero(decoded.data(), decoded.size());
  return result;
}

}  // namespace pydepot::auth
