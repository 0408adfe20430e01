#include "ops/counting_storage.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage_wrapper.h"

namespace pydepot::ops {
namespace {

// Fails every Get with kUnavailable when `fail` is set.
class FlakyStorage : public storage::StorageWrapper {
 public:
  explicit FlakyStorage(bool* fail) : StorageWrapper(storage::NewMemStorage()), fail_(fail) {}
  StatusOr<storage::Object> Get(std::string_view key) override {
    if (*fail_) {
      return UnavailableError("store down");
    }
    return StorageWrapper::Get(key);
  }

 private:
  bool* fail_;
};

TEST(CountingStorageTest, CountsCallsAndErrorsPerOperation) {
  Metrics metrics;
  bool fail = false;
  auto store = NewCountingStorage(std::make_unique<FlakyStorage>(&fail), metrics);
  ASSERT_TRUE(store->PutIfAbsent("a/b", "x").has_value());
  // kAlreadyExists, kNotFound and a failed compare-and-swap are answers, not errors.
  EXPECT_EQ(store->PutIfAbsent("a/b", "y").error().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->Get("a/missing").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->PutIfMatch("a/b", "z", "\"nope\"").error().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store->Get("a/b").has_value());
  fail = true;
  EXPECT_EQ(store->Get("a/b").error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(store->Head("a/b").has_value());
  auto stream = store->Open("a/b", 0, -1);
  ASSERT_TRUE(stream.has_value());
  char buffer[4];
  EXPECT_EQ(*(*stream)->Read(buffer, sizeof buffer), 1u);
  EXPECT_TRUE(store->Delete("a/b").ok());
  EXPECT_EQ(store->Delete("a/b").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->List("a/").has_value());
  EXPECT_EQ(store->Describe(), "memory");

  EXPECT_EQ(metrics.storage_calls(StorageOp::kPutIfAbsent), 2u);
  EXPECT_EQ(metrics.storage_errors(StorageOp::kPutIfAbsent), 0u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kGet), 3u);
  EXPECT_EQ(metrics.storage_errors(StorageOp::kGet), 1u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kPutIfMatch), 1u);
  EXPECT_EQ(metrics.storage_errors(StorageOp::kPutIfMatch), 0u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kHead), 1u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kOpen), 1u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kDelete), 2u);
  EXPECT_EQ(metrics.storage_errors(StorageOp::kDelete), 0u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kList), 1u);
  EXPECT_EQ(metrics.storage_calls(StorageOp::kRead), 0u);  // only failed reads are counted
}

TEST(CountingStorageTest, ExpectedAnswersAreNotErrors) {
  EXPECT_FALSE(IsStorageError(OkStatus()));
  EXPECT_FALSE(IsStorageError(NotFoundError("x")));
  EXPECT_FALSE(IsStorageError(UnimplementedError("x")));
  EXPECT_TRUE(IsStorageError(UnavailableError("x")));
  EXPECT_TRUE(IsStorageError(InternalError("x")));
  EXPECT_TRUE(IsStorageError(InvalidArgumentError("x")));
}

}  // namespace
}  // namespace pydepot::ops
