// Propagation helpers for Status and StatusOr, usable in functions returning either.
//   PYDEPOT_RETURN_IF_ERROR(DoThing());
//   PYDEPOT_ASSIGN_OR_RETURN(Version v, Version::Parse(text));
#pragma once

#include "base/status.h"

namespace pydepot::internal {
inline Status AsStatus(Status status) { return status; }
template <typename T>
Status AsStatus(const StatusOr<T>& result) {
  return result.has_value() ? Status() : result.error();
}
}  // namespace pydepot::internal

#define PYDEPOT_CONCAT_INNER(a, b) a##b
#define PYDEPOT_CONCAT(a, b) PYDEPOT_CONCAT_INNER(a, b)

#define PYDEPOT_RETURN_IF_ERROR(expr)                                           \
  do {                                                                          \
    if (::pydepot::Status pydepot_status = ::pydepot::internal::AsStatus(expr); \
        !pydepot_status.ok()) {                                                 \
      return pydepot_status;                                                    \
    }                                                                           \
  } while (false)

// `lhs` is a declaration, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PYDEPOT_ASSIGN_OR_RETURN(lhs, expr) \
  PYDEPOT_ASSIGN_OR_RETURN_IMPL(PYDEPOT_CONCAT(pydepot_result_, __LINE__), lhs, expr)
#define PYDEPOT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.has_value()) {                             \
    return tmp.error();                               \
  }                                                   \
  lhs = *std::move(tmp)
// NOLINTEND(bugprone-macro-parentheses)
