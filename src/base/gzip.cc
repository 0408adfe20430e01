#include "base/gzip.h"

#include <zlib.h>

#include <limits>

namespace pydepot {
namespace {

// zlib's windowBits: 15 (32 KiB window) + 16 asks for the gzip wrapper instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
// zlib's default memory level for deflate.
constexpr int kMemLevel = 8;

}  // namespace

StatusOr<std::string> GzipCompress(std::string_view data, int level) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return InvalidArgumentError("gzip: input too large");
  }
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return InternalError("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return InternalError("gzip: deflate did not finish");
  }
  out.resize(produced);
  return out;
}

StatusOr<std::string> GzipDecompress(std::string_view data, std::size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
    return InternalError("gzip: inflateInit2 failed");
  }
  std::string out;
  char buffer[16384];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      return InvalidArgumentError("gzip: output larger than the limit");
    }
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) {
        break;
      }
      // Another member follows.
      if (inflateReset(&zs) != Z_OK) {
        break;
      }
      continue;
    }
    if (rc != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) {
      inflateEnd(&zs);
      return InvalidArgumentError("gzip: invalid or truncated stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace pydepot
