// libFuzzer target: distribution filenames on arbitrary bytes.
// Input "filename" or "filename\tproject". Every parser runs with and without the project, and
// the results are checked against each other (the filename is kept, the project is the
// normalized name part, a PEP 625 name parses as an sdist with a valid canonical version).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "model/filename.h"
#include "model/project_name.h"

namespace {

using pydepot::model::DistFilename;
using pydepot::model::NormalizeProjectName;

void CheckResult(const pydepot::StatusOr<DistFilename>& result, std::string_view filename,
                 std::string_view project) {
  if (!result.has_value()) {
    PYDEPOT_CHECK(result.error().code() == pydepot::StatusCode::kInvalidArgument);
    PYDEPOT_CHECK(!result.error().message().empty());
    return;
  }
  PYDEPOT_CHECK(result->filename == filename);
  PYDEPOT_CHECK(!result->name_part.empty());
  PYDEPOT_CHECK(result->project == NormalizeProjectName(result->name_part));
  PYDEPOT_CHECK(filename.ends_with(result->extension));
  PYDEPOT_CHECK(result->version.original() == result->version_part);
  PYDEPOT_CHECK(!result->version_part.empty());
  (void)pydepot::model::DistKindFiletype(result->kind);
  if (!project.empty()) {
    PYDEPOT_CHECK(result->project == NormalizeProjectName(project));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t tab = input.find('\t');
  const std::string_view filename = input.substr(0, tab);
  const std::string_view project =
      tab == std::string_view::npos ? std::string_view() : input.substr(tab + 1);

  for (std::string_view p : {std::string_view(), project}) {
    CheckResult(pydepot::model::ParseDistFilename(filename, p), filename, p);
    CheckResult(pydepot::model::ParseSdistFilename(filename, p), filename, p);
  }
  auto wheel = pydepot::model::ParseWheelFilename(filename);
  CheckResult(wheel, filename, {});
  if (wheel.has_value()) {
    PYDEPOT_CHECK(wheel->version.is_valid());
    PYDEPOT_CHECK(!wheel->python_tags.empty() && !wheel->abi_tags.empty() &&
                  !wheel->platform_tags.empty());
  }
  if (pydepot::model::IsPep625SdistFilename(filename)) {
    auto sdist = pydepot::model::ParseSdistFilename(filename);
    PYDEPOT_CHECK(sdist.has_value());
    PYDEPOT_CHECK(sdist->version.is_valid());
    PYDEPOT_CHECK(sdist->version.Canonical() == sdist->version_part);
    auto with_project = pydepot::model::ParseSdistFilename(filename, sdist->project);
    PYDEPOT_CHECK(with_project.has_value());
    PYDEPOT_CHECK(with_project->version_part == sdist->version_part);
  }
  return 0;
}
