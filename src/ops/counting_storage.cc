#include "ops/counting_storage.h"

#include <utility>

#include "storage/storage_wrapper.h"

namespace pydepot::ops {
namespace {

using storage::ObjectInfo;

class CountingReadStream final : public storage::ReadStream {
 public:
  CountingReadStream(std::unique_ptr<storage::ReadStream> target, Metrics& metrics)
      : target_(std::move(target)), metrics_(metrics) {}

  StatusOr<std::size_t> Read(char* buf, std::size_t n) override {
    auto got = target_->Read(buf, n);
    // Reads of a stream are many per download: only their failures are counted.
    if (!got.has_value()) {
      metrics_.RecordStorageCall(StorageOp::kRead, IsStorageError(got.error()));
    }
    return got;
  }

 private:
  std::unique_ptr<storage::ReadStream> target_;
  Metrics& metrics_;
};

class CountingStorage final : public storage::StorageWrapper {
 public:
  CountingStorage(std::unique_ptr<storage::Storage> target, Metrics& metrics)
      : StorageWrapper(std::move(target)), metrics_(metrics) {}

  StatusOr<ObjectInfo> Head(std::string_view key) override {
    return Count(StorageOp::kHead, target().Head(key));
  }
  StatusOr<storage::Object> Get(std::string_view key) override {
    return Count(StorageOp::kGet, target().Get(key));
  }
  StatusOr<std::unique_ptr<storage::ReadStream>> Open(std::string_view key, std::int64_t offset,
                                                      std::int64_t length) override {
    auto stream = Count(StorageOp::kOpen, target().Open(key, offset, length));
    if (!stream.has_value()) {
      return stream;
    }
    return std::unique_ptr<storage::ReadStream>(
        std::make_unique<CountingReadStream>(*std::move(stream), metrics_));
  }
  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    return Count(StorageOp::kPutIfAbsent, target().PutIfAbsent(key, data));
  }
  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    return Count(StorageOp::kPutFileIfAbsent, target().PutFileIfAbsent(key, source));
  }
  StatusOr<ObjectInfo> MoveFileIfAbsent(std::string_view key,
                                        const std::filesystem::path& source) override {
    return Count(StorageOp::kMoveFileIfAbsent, target().MoveFileIfAbsent(key, source));
  }
  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    return Count(StorageOp::kPutIfMatch, target().PutIfMatch(key, data, expected_etag));
  }
  Status Delete(std::string_view key) override {
    Status s = target().Delete(key);
    metrics_.RecordStorageCall(StorageOp::kDelete, IsStorageError(s));
    return s;
  }
  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    return Count(StorageOp::kList, target().List(prefix));
  }
  StatusOr<std::filesystem::path> LocalPath(std::string_view key) override {
    return Count(StorageOp::kLocalPath, target().LocalPath(key));
  }
  StatusOr<std::string> PresignedGetUrl(std::string_view key, std::chrono::seconds ttl) override {
    return Count(StorageOp::kPresignedGetUrl, target().PresignedGetUrl(key, ttl));
  }

 private:
  template <typename T>
  StatusOr<T> Count(StorageOp op, StatusOr<T> result) {
    metrics_.RecordStorageCall(op, !result.has_value() && IsStorageError(result.error()));
    return result;
  }

  Metrics& metrics_;
};

}  // namespace

bool IsStorageError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnimplemented:
      return false;
    default:
      return true;
  }
}

std::unique_ptr<storage::Storage> NewCountingStorage(std::unique_ptr<storage::Storage> target,
                                                     Metrics& metrics) {
  return std::make_unique<CountingStorage>(std::move(target), metrics);
}

}  // namespace pydepot::ops
