// Placeholder until the S3 backend lands.
#include "storage/storage.h"

namespace pydepot::storage {

StatusOr<std::unique_ptr<Storage>> OpenS3Storage(std::string_view url) {
  return UnimplementedError("storage URL " + std::string(url) + ": s3:// is not supported yet");
}

}  // namespace pydepot::storage
