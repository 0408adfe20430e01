// Project names (PEP 503 / the name-normalization spec): validity and normalization.
// Pure functions of their input; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pydepot::model {

// True when `name` is ASCII letters and digits plus '.', '_' and '-', non-empty, and starts and
// ends with a letter or digit (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z`, case-insensitive).
// A trailing newline or any non-ASCII byte makes it invalid.
bool IsValidProjectName(std::string_view name);

// PEP 503 normalization: lower-case, and every run of '-', '_' or '.' becomes one '-'
// (Python: re.sub(r"[-_.]+", "-", name).lower()). Works on any input, valid or not; bytes other
// than A-Z are kept as they are.
std::string NormalizeProjectName(std::string_view name);

// True when `name` is valid and equal to its normalization.
bool IsNormalizedProjectName(std::string_view name);

}  // namespace pydepot::model
