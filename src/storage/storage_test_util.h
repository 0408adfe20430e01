// Helpers shared by the storage tests (not part of the library): temp directories, reading a
// stream whole, the compare-and-swap counter the index's update loop is modelled on, and
// matchers on a Status or StatusOr code.
#pragma once

#include <stdlib.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "base/status.h"
#include "gmock/gmock.h"
#include "storage/storage.h"

namespace pydepot {

// How gtest prints a StatusOr (found by ADL through Status). Without it gtest would pick
// boost's operator<<, which does not compile for a T without one.
template <typename T>
void PrintTo(const StatusOr<T>& result, std::ostream* os) {
  if (result.has_value()) {
    *os << "a value";
  } else {
    *os << result.error();
  }
}

}  // namespace pydepot

namespace pydepot::storage::testing {

inline StatusCode CodeOf(const Status& status) { return status.code(); }
template <typename T>
StatusCode CodeOf(const StatusOr<T>& result) {
  return result.has_value() ? StatusCode::kOk : result.error().code();
}
inline std::string MessageOf(const Status& status) { return status.message(); }
template <typename T>
std::string MessageOf(const StatusOr<T>& result) {
  return result.has_value() ? std::string() : result.error().message();
}

// Matches a Status or StatusOr whose code is `code`; explains a mismatch with the message.
class CodeMatcher {
 public:
  explicit CodeMatcher(StatusCode code) : code_(code) {}

  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    StatusCode actual = CodeOf(value);
    *listener << "whose code is " << StatusCodeName(actual) << " (" << MessageOf(value) << ")";
    return actual == code_;
  }
  void DescribeTo(std::ostream* os) const { *os << "has code " << StatusCodeName(code_); }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have code " << StatusCodeName(code_);
  }

 private:
  StatusCode code_;
};

inline ::testing::PolymorphicMatcher<CodeMatcher> HasCode(StatusCode code) {
  return ::testing::MakePolymorphicMatcher(CodeMatcher(code));
}
inline ::testing::PolymorphicMatcher<CodeMatcher> IsOk() { return HasCode(StatusCode::kOk); }

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = ::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): tests, one thread
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pydepot-storage-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  // Empty when the directory could not be made.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Reads `stream` to its end, `chunk` bytes at a time.
inline StatusOr<std::string> ReadAll(ReadStream& stream,
                                     std::size_t chunk = std::size_t{64} * 1024) {
  std::string out;
  std::string buffer(chunk, '\0');
  while (true) {
    StatusOr<std::size_t> n = stream.Read(buffer.data(), buffer.size());
    if (!n.has_value()) {
      return n.error();
    }
    if (*n == 0) {
      return out;
    }
    out.append(buffer.data(), *n);
  }
}

// `size` deterministic pseudo-random bytes (xorshift), different for each `seed`.
inline std::string TestBytes(std::size_t size, std::uint64_t seed = 1) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  return out;
}

// Adds one to the decimal counter at `key` (absent counts as 0) by read-modify-write with
// compare-and-swap, retrying on conflicts: the loop every index document update uses.
// Returns the number of conflicts it retried.
inline StatusOr<int> IncrementCounter(Storage& store, std::string_view key) {
  for (int conflicts = 0;; ++conflicts) {
    std::int64_t value = 0;
    std::string etag;
    StatusOr<Object> current = store.Get(key);
    if (current.has_value()) {
      const std::string& text = current->data;
      if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc()) {
        return InternalError(std::string(key) + ": not a counter: " + text);
      }
      etag = current->info.etag;
    } else if (current.error().code() != StatusCode::kNotFound) {
      return current.error();
    }
    StatusOr<ObjectInfo> put = store.PutIfMatch(key, std::to_string(value + 1), etag);
    if (put.has_value()) {
      return conflicts;
    }
    if (put.error().code() != StatusCode::kFailedPrecondition) {
      return put.error();
    }
  }
}

}  // namespace pydepot::storage::testing
