// libcurl's process-wide initialisation, shared by every libcurl user in pydepot (the S3 and
// GCS backends, the upstream proxy's client).
#pragma once

#include <curl/curl.h>

namespace pydepot::storage {

// Runs curl_global_init once per process, before the first handle, and returns its result
// every time. curl_global_init is not thread-safe on every build; this is.
CURLcode CurlGlobalInit();

}  // namespace pydepot::storage
