#include "storage/curl_global.h"

namespace pydepot::storage {

CURLcode CurlGlobalInit() {
  static const CURLcode kResult = curl_global_init(CURL_GLOBAL_ALL);
  return kResult;
}

}  // namespace pydepot::storage
