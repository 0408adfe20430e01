// NewMemStorage: a map under one mutex. Objects hold their bytes in shared immutable strings, so
// Open hands out a snapshot without copying and a later replace cannot change what it reads.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "base/status_macros.h"
#include "storage/storage.h"

namespace pydepot::storage {
namespace {

Status CheckKey(std::string_view key) {
  if (!IsValidKey(key)) {
    return InvalidArgumentError("invalid storage key \"" + std::string(key) + "\"");
  }
  return OkStatus();
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// The whole of the local file `path`, read in 1 MiB chunks.
StatusOr<std::string> ReadSourceFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return InvalidArgumentError("source " + path.string() + ": " + ErrnoMessage(err));
  }
  std::string data;
  std::string chunk(std::size_t{1} << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return InvalidArgumentError("source " + path.string() + ": " + ErrnoMessage(err));
    }
    if (n == 0) {
      break;
    }
    data.append(chunk.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

class MemReadStream final : public ReadStream {
 public:
  MemReadStream(std::shared_ptr<const std::string> data, std::size_t offset, std::size_t end)
      : data_(std::move(data)), position_(offset), end_(end) {}

  StatusOr<std::size_t> Read(char* buf, std::size_t n) override {
    std::size_t count = std::min(n, end_ - position_);
    std::memcpy(buf, data_->data() + position_, count);
    position_ += count;
    return count;
  }

 private:
  std::shared_ptr<const std::string> data_;
  std::size_t position_;
  std::size_t end_;
};

// Thread-safe: every member function takes mu_.
class MemStorage final : public Storage {
 public:
  std::string Describe() const override { return "memory"; }

  StatusOr<ObjectInfo> Head(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::lock_guard<std::mutex> lock(mu_);
    PYDEPOT_ASSIGN_OR_RETURN(const Entry* entry, Find(key));
    return entry->info;
  }

  StatusOr<Object> Get(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::shared_ptr<const std::string> data;
    ObjectInfo info;
    {
      std::lock_guard<std::mutex> lock(mu_);
      PYDEPOT_ASSIGN_OR_RETURN(const Entry* entry, Find(key));
      data = entry->data;
      info = entry->info;
    }
    // Copied outside the lock: the bytes are immutable and kept alive by `data`.
    return Object{*data, std::move(info)};
  }

  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::lock_guard<std::mutex> lock(mu_);
    PYDEPOT_ASSIGN_OR_RETURN(const Entry* entry, Find(key));
    std::int64_t size = entry->info.size;
    if (offset < 0 || offset > size || length < -1) {
      return InvalidArgumentError("open " + std::string(key) + ": range " + std::to_string(offset) +
                                  "+" + std::to_string(length) + " is outside the object's " +
                                  std::to_string(size) + " bytes");
    }
    std::int64_t end = (length == -1 || length > size - offset) ? size : offset + length;
    return std::unique_ptr<ReadStream>(std::make_unique<MemReadStream>(
        entry->data, static_cast<std::size_t>(offset), static_cast<std::size_t>(end)));
  }

  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::lock_guard<std::mutex> lock(mu_);
    if (objects_.find(key) != objects_.end()) {
      return AlreadyExistsError(std::string(key) + " already exists");
    }
    return Store(key, data);
  }

  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    PYDEPOT_ASSIGN_OR_RETURN(std::string data, ReadSourceFile(source));
    return PutIfAbsent(key, data);
  }

  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(key);
    std::string_view current = it == objects_.end() ? std::string_view() : it->second.info.etag;
    if (current != expected_etag) {
      return FailedPreconditionError(std::string(key) + ": etag \"" + std::string(current) +
                                     "\" does not match the expected \"" +
                                     std::string(expected_etag) + "\"");
    }
    return Store(key, data);
  }

  Status Delete(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    objects_.erase(it);
    return OkStatus();
  }

  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    if (!IsValidKeyPrefix(prefix)) {
      return InvalidArgumentError("invalid storage key prefix \"" + std::string(prefix) + "\"");
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> keys;
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      keys.push_back(it->first);
    }
    return keys;
  }

 private:
  struct Entry {
    std::shared_ptr<const std::string> data;
    ObjectInfo info;
  };

  StatusOr<const Entry*> Find(std::string_view key) const {
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    return &it->second;
  }

  // REQUIRES: mu_ held.
  ObjectInfo Store(std::string_view key, std::string_view data) {
    Entry entry;
    entry.data = std::make_shared<const std::string>(data);
    entry.info.size = static_cast<std::int64_t>(data.size());
    entry.info.etag = "mem-" + std::to_string(++generation_);
    entry.info.modified_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    ObjectInfo info = entry.info;
    objects_.insert_or_assign(std::string(key), std::move(entry));
    return info;
  }

  std::mutex mu_;
  // std::less<> lets lookups take a string_view without building a string.
  std::map<std::string, Entry, std::less<>> objects_;
  std::uint64_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Storage> NewMemStorage() { return std::make_unique<MemStorage>(); }

}  // namespace pydepot::storage
