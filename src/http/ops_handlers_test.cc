// /healthz, /readyz and /metrics (ops_handlers.cc).
#include <sodium.h>

#include <memory>
#include <string>

#include "auth/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/handlers.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/storage_wrapper.h"

namespace pydepot::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Base64 of admin:admin-password and reader:reader-password.
constexpr char kAdminAuth[] = "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ=";
constexpr char kReaderAuth[] = "Basic cmVhZGVyOnJlYWRlci1wYXNzd29yZA==";

// A store whose Head can be made to fail, and that counts Heads.
class SwitchableStorage : public storage::StorageWrapper {
 public:
  SwitchableStorage() : StorageWrapper(storage::NewMemStorage()) {}
  StatusOr<storage::ObjectInfo> Head(std::string_view key) override {
    ++heads;
    if (down) {
      return UnavailableError("connect to bucket.example: refused");
    }
    return StorageWrapper::Head(key);
  }
  bool down = false;
  int heads = 0;
};

class OpsHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth::AuthenticatorOptions options;
    options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
    options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
    auto authenticator = auth::Authenticator::Create(store_, options);
    ASSERT_TRUE(authenticator.has_value());
    auth_ = *std::move(authenticator);
    ASSERT_TRUE(auth_->AddUser("admin", "admin-password", auth::Role::kAdmin).ok());
    ASSERT_TRUE(auth_->AddUser("reader", "reader-password", auth::Role::kRead).ok());
    index_ = index::Index::Create(store_);
    HandlerOptions handler_options;
    handler_options.temp_dir = spool_.path();
    handlers_ = std::make_unique<Handlers>(*index_, *auth_, handler_options);
  }

  RequestHead Get(std::string target, std::string authorization = "") {
    RequestHead head;
    head.method = "GET";
    head.target = std::move(target);
    head.remote_address = "127.0.0.1";
    if (!authorization.empty()) {
      head.headers.emplace_back("Authorization", std::move(authorization));
    }
    return head;
  }

  SwitchableStorage store_;
  index::testing::TempDir spool_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<index::Index> index_;
  std::unique_ptr<Handlers> handlers_;
};

TEST_F(OpsHandlersTest, HealthzNeedsNoCredentialsAndNeverTouchesTheStore) {
  store_.down = true;
  const int heads = store_.heads;
  auto fast = handlers_->TryHandleInMemory(Get("/healthz"));
  ASSERT_TRUE(fast.has_value());  // answered on the network thread
  EXPECT_EQ(fast->status, 200u);
  EXPECT_EQ(fast->body, "ok\n");
  EXPECT_EQ(store_.heads, heads);
  RequestHead head = Get("/healthz");
  head.method = "HEAD";
  Response res = handlers_->Handle(head);
  EXPECT_EQ(res.status, 200u);
  EXPECT_TRUE(res.head_only);
  head.method = "POST";
  EXPECT_EQ(handlers_->Handle(head).status, 405u);
}

TEST_F(OpsHandlersTest, ReadyzAsksTheStore) {
  EXPECT_FALSE(handlers_->TryHandleInMemory(Get("/readyz")).has_value());  // blocks: the pool
  Response ok = handlers_->Handle(Get("/readyz"));
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, "ready\n");
  store_.down = true;
  Response down = handlers_->Handle(Get("/readyz"));
  EXPECT_EQ(down.status, 503u);
  EXPECT_THAT(down.body, HasSubstr("Unavailable"));
  EXPECT_THAT(down.body, Not(HasSubstr("bucket.example")));  // store details stay in the log
  bool no_store = false;
  for (const auto& [name, value] : down.headers) {
    no_store = no_store || (name == "Cache-Control" && value == "no-store");
  }
  EXPECT_TRUE(no_store);
}

TEST_F(OpsHandlersTest, MetricsNeedAnAdministrator) {
  EXPECT_EQ(handlers_->Handle(Get("/metrics")).status, 401u);
  EXPECT_EQ(handlers_->Handle(Get("/metrics", kReaderAuth)).status, 403u);
  Response res = handlers_->Handle(Get("/metrics", kAdminAuth));
  EXPECT_EQ(res.status, 200u);
  EXPECT_THAT(res.body, HasSubstr("# TYPE pydepot_http_requests_total counter"));
  bool prometheus_type = false;
  for (const auto& [name, value] : res.headers) {
    prometheus_type = prometheus_type ||
                      (name == "Content-Type" && value.starts_with("text/plain; version=0.0.4"));
  }
  EXPECT_TRUE(prometheus_type);
}

TEST_F(OpsHandlersTest, TheMetricsListenerServesOnlyOpsRoutesWithoutCredentials) {
  EXPECT_EQ(handlers_->HandleOpsListener(Get("/metrics")).status, 200u);
  EXPECT_EQ(handlers_->HandleOpsListener(Get("/healthz")).status, 200u);
  EXPECT_EQ(handlers_->HandleOpsListener(Get("/readyz")).status, 200u);
  EXPECT_EQ(handlers_->HandleOpsListener(Get("/simple/")).status, 404u);
  EXPECT_EQ(handlers_->HandleOpsListener(Get("/api/users")).status, 404u);
}

}  // namespace
}  // namespace pydepot::http
