// Status: the result of an operation that can fail, as a code and a message ("what: why").
// StatusOr<T>: a value or a Status, boost::system::result with the std::expected accessors.
// Our code never throws; a Status travels up by value. Thread-compatible (plain values).
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <boost/system/result.hpp>

namespace pydepot {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kDeadlineExceeded,
  kUnavailable,
  kUnimplemented,
  kInternal,
};

// Returns the code's name without the k, e.g. "InvalidArgument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>"; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

inline Status OkStatus() { return Status(); }
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status UnauthenticatedError(std::string message);
Status FailedPreconditionError(std::string message);
Status ResourceExhaustedError(std::string message);
Status DeadlineExceededError(std::string message);
Status UnavailableError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);

// Called by boost::system::result::value() on an error: throws std::runtime_error with the
// status text. Found by ADL, so it must keep Boost's name.
[[noreturn]] void throw_exception_from_error(  // NOLINT(readability-identifier-naming)
    const Status& status, const boost::source_location& location);

template <typename T>
using StatusOr = boost::system::result<T, Status>;

}  // namespace pydepot
