#include "storage/storage.h"

#include <string>
#include <utility>

namespace pydepot::storage {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '!' || c == '~' || c == '-';
}

// A segment may be a partial one (the tail of a prefix), which may be empty.
bool IsValidSegment(std::string_view segment, bool complete) {
  if (segment.size() > kMaxKeySegmentLength) {
    return false;
  }
  if (complete && segment.empty()) {
    return false;
  }
  if (!segment.empty() && segment.front() == '.') {
    return false;
  }
  for (char c : segment) {
    if (!IsKeyChar(c)) {
      return false;
    }
  }
  return true;
}

// True when `text` splits on '/' into valid segments; the last one may be partial (and empty)
// when `last_complete` is false.
bool HasValidSegments(std::string_view text, bool last_complete) {
  if (text.size() > kMaxKeyLength) {
    return false;
  }
  while (true) {
    std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) {
      return IsValidSegment(text, last_complete);
    }
    if (!IsValidSegment(text.substr(0, slash), /*complete=*/true)) {
      return false;
    }
    text.remove_prefix(slash + 1);
  }
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "scheme" of "scheme://rest" (RFC 3986 scheme characters), or empty when `url` has none.
std::string_view UrlScheme(std::string_view url) {
  std::size_t end = url.find("://");
  if (end == std::string_view::npos || end == 0) {
    return {};
  }
  std::string_view scheme = url.substr(0, end);
  for (char c : scheme) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.';
    if (!ok) {
      return {};
    }
  }
  return scheme;
}

}  // namespace

StatusOr<ObjectInfo> Storage::MoveFileIfAbsent(std::string_view key,
                                               const std::filesystem::path& source) {
  return PutFileIfAbsent(key, source);
}

std::optional<std::filesystem::path> Storage::SpoolDirectory() { return std::nullopt; }

StatusOr<std::filesystem::path> Storage::LocalPath(std::string_view key) {
  return UnimplementedError(Describe() + ": no local file for " + std::string(key) +
                            " (the store is not a local directory)");
}

StatusOr<std::string> Storage::PresignedGetUrl(std::string_view key, std::chrono::seconds /*ttl*/) {
  return UnimplementedError("presigned URLs: " + Describe() + " cannot make them (key " +
                            std::string(key) + ")");
}

bool IsValidKey(std::string_view key) { return HasValidSegments(key, /*last_complete=*/true); }

bool IsValidKeyPrefix(std::string_view prefix) {
  return HasValidSegments(prefix, /*last_complete=*/false);
}

StatusOr<std::unique_ptr<Storage>> OpenStorage(std::string_view url) {
  constexpr std::string_view kHelp =
      "use a directory path, file:///absolute/path, s3://bucket[/prefix], gs://bucket[/prefix] "
      "or memory:";
  if (url.empty()) {
    return InvalidArgumentError("storage URL is empty: " + std::string(kHelp));
  }
  if (url == "memory:" || url == "mem://") {
    return NewMemStorage();
  }
  if (StartsWith(url, "memory:") || StartsWith(url, "mem:")) {
    return InvalidArgumentError("storage URL " + std::string(url) +
                                ": a memory store takes no name or path; use \"memory:\"");
  }
  std::string_view scheme = UrlScheme(url);
  if (scheme.empty()) {
    return NewLocalStorage(std::filesystem::path(url));
  }
  if (scheme == "file") {
    std::string_view path = url.substr(scheme.size() + 3);
    // RFC 8089 allows a "localhost" authority; other hosts cannot be a local directory.
    if (StartsWith(path, "localhost/")) {
      path.remove_prefix(std::string_view("localhost").size());
    }
    if (path.empty()) {
      return InvalidArgumentError("storage URL " + std::string(url) +
                                  " has no path: " + std::string(kHelp));
    }
    return NewLocalStorage(std::filesystem::path(path));
  }
  if (scheme == "s3") {
    return OpenS3Storage(url);
  }
  if (scheme == "gs") {
    return OpenGcsStorage(url);
  }
  return InvalidArgumentError("storage URL " + std::string(url) + ": unknown scheme \"" +
                              std::string(scheme) + "\"; " + std::string(kHelp));
}

}  // namespace pydepot::storage
