#include "doc/upload_form.h"

namespace pydepot::doc {
namespace {

// distutils writes "UNKNOWN" for metadata it does not have; twine <= 6.1 and uv send empty
// fields. Both mean "not given" (STANDARDS UP-04).
bool IsPresent(const std::string& value) { return !value.empty() && value != "UNKNOWN"; }

}  // namespace

std::string UploadForm::Get(std::string_view name) const {
  auto it = fields.find(std::string(name));
  if (it != fields.end()) {
    for (const std::string& value : it->second) {
      if (IsPresent(value)) {
        return value;
      }
    }
  }
  return "";
}

std::vector<std::string> UploadForm::GetAll(std::string_view name) const {
  std::vector<std::string> values;
  auto it = fields.find(std::string(name));
  if (it != fields.end()) {
    for (const std::string& value : it->second) {
      if (IsPresent(value)) {
        values.push_back(value);
      }
    }
  }
  return values;
}

}  // namespace pydepot::doc
