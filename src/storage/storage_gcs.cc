// Placeholder until the GCS backend lands.
#include "storage/storage.h"

namespace pydepot::storage {

StatusOr<std::unique_ptr<Storage>> OpenGcsStorage(std::string_view url) {
  return UnimplementedError("storage URL " + std::string(url) + ": gs:// is not supported yet");
}

}  // namespace pydepot::storage
