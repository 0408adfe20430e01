// gzip (RFC 1952) compression of whole buffers, for pages that are prepared once per change and
// then served many times to clients that accept Content-Encoding: gzip. Uses zlib.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace pydepot {

// `data` as one gzip member (no file name, mtime 0, so the output depends only on the input and
// `level`). `level` is zlib's 1 (fast) .. 9 (small).
StatusOr<std::string> GzipCompress(std::string_view data, int level = 6);

// The bytes of a gzip stream (every member), for tests and tools. kInvalidArgument when `data`
// is not valid gzip or inflates to more than `max_bytes`.
StatusOr<std::string> GzipDecompress(std::string_view data, std::size_t max_bytes);

}  // namespace pydepot
