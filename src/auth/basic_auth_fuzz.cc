// libFuzzer target: ParseBasicAuthorization on arbitrary header values. Every failure is
// kUnauthenticated with a fixed message (never an echo of the header), and every success
// round-trips: encoding user:password again parses back to the same pair.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "base/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const pydepot::StatusOr<pydepot::auth::BasicCredentials> parsed =
      pydepot::auth::ParseBasicAuthorization(input);
  if (!parsed.has_value()) {
    PYDEPOT_CHECK(parsed.error().code() == pydepot::StatusCode::kUnauthenticated);
    PYDEPOT_CHECK(parsed.error().message() == "authorization scheme is not Basic" ||
                  parsed.error().message() == "malformed Basic authorization header");
    return 0;
  }
  const std::string plain = parsed->user + ":" + parsed->password;
  PYDEPOT_CHECK(parsed->user.find(':') == std::string::npos);
  std::vector<char> encoded(
      sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(encoded.data(), encoded.size(),
                    reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  const auto again = pydepot::auth::ParseBasicAuthorization("Basic " + std::string(encoded.data()));
  PYDEPOT_CHECK(again.has_value());
  PYDEPOT_CHECK(again->user == parsed->user && again->password == parsed->password);
  return 0;
}
