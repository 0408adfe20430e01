// StorageWrapper forwards every call to another Storage (LevelDB's EnvWrapper), so a decorator
// (fault injection in tests; metrics or caching later) overrides only the calls it changes.
// Thread-safe when the target is.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace pydepot::storage {

class StorageWrapper : public Storage {
 public:
  // REQUIRES: target is not null.
  explicit StorageWrapper(std::unique_ptr<Storage> target) : target_(std::move(target)) {}

  std::string Describe() const override { return target_->Describe(); }
  StatusOr<ObjectInfo> Head(std::string_view key) override { return target_->Head(key); }
  StatusOr<Object> Get(std::string_view key) override { return target_->Get(key); }
  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length) override {
    return target_->Open(key, offset, length);
  }
  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    return target_->PutIfAbsent(key, data);
  }
  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    return target_->PutFileIfAbsent(key, source);
  }
  StatusOr<ObjectInfo> MoveFileIfAbsent(std::string_view key,
                                        const std::filesystem::path& source) override {
    return target_->MoveFileIfAbsent(key, source);
  }
  std::optional<std::filesystem::path> SpoolDirectory() override {
    return target_->SpoolDirectory();
  }
  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    return target_->PutIfMatch(key, data, expected_etag);
  }
  Status Delete(std::string_view key) override { return target_->Delete(key); }
  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return target_->List(prefix);
  }
  StatusOr<std::filesystem::path> LocalPath(std::string_view key) override {
    return target_->LocalPath(key);
  }
  StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl) override {
    return target_->PresignedGetUrl(key, ttl);
  }

 protected:
  Storage& target() { return *target_; }
  const Storage& target() const { return *target_; }

 private:
  std::unique_ptr<Storage> target_;
};

}  // namespace pydepot::storage
