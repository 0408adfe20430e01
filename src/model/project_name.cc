#include "model/project_name.h"

namespace pydepot::model {
namespace {

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsSeparator(char c) { return c == '-' || c == '_' || c == '.'; }

}  // namespace

bool IsValidProjectName(std::string_view name) {
  if (name.empty() || !IsAsciiAlnum(name.front()) || !IsAsciiAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!IsAsciiAlnum(c) && !IsSeparator(c)) {
      return false;
    }
  }
  return true;
}

std::string NormalizeProjectName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool in_separator_run = false;
  for (char c : name) {
    if (IsSeparator(c)) {
      if (!in_separator_run) {
        out.push_back('-');
      }
      in_separator_run = true;
      continue;
    }
    in_separator_run = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool IsNormalizedProjectName(std::string_view name) {
  return IsValidProjectName(name) && NormalizeProjectName(name) == name;
}

}  // namespace pydepot::model
