#include <sodium.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "auth/password_hash.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "storage/storage.h"
#include "storage/storage_wrapper.h"

namespace pydepot::auth {
namespace {

using internal::PasswordVerificationsForTest;

// A memory store whose reads or compare-and-swap writes can be made to fail, and which can run
// a hook (another writer) just before one compare-and-swap.
class FlakyStorage final : public storage::StorageWrapper {
 public:
  FlakyStorage() : StorageWrapper(storage::NewMemStorage()) {}

  std::atomic<bool> fail_reads{false};
  std::atomic<bool> conflict_writes{false};
  std::atomic<int> conflicts{0};
  // Sleeps before each compare-and-swap, as a remote store's latency would, so racing
  // read-modify-write loops overlap.
  std::atomic<bool> slow_writes{false};
  std::function<void()> before_next_put;  // runs once, then is cleared

  std::string Describe() const override { return "flaky " + target().Describe(); }
  StatusOr<storage::ObjectInfo> Head(std::string_view key) override {
    if (fail_reads) {
      return UnavailableError("head: store down");
    }
    return target().Head(key);
  }
  StatusOr<storage::Object> Get(std::string_view key) override {
    if (fail_reads) {
      return UnavailableError("get: store down");
    }
    return target().Get(key);
  }
  StatusOr<storage::ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view expected_etag) override {
    if (before_next_put) {
      std::function<void()> hook = std::exchange(before_next_put, nullptr);
      hook();
    }
    if (slow_writes) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (conflict_writes) {
      ++conflicts;
      return FailedPreconditionError("etag mismatch (injected)");
    }
    StatusOr<storage::ObjectInfo> put = target().PutIfMatch(key, data, expected_etag);
    if (!put.has_value() && put.error().code() == StatusCode::kFailedPrecondition) {
      ++conflicts;
    }
    return put;
  }
};

AuthenticatorOptions FastOptions() {
  AuthenticatorOptions options;
  options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
  options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
  return options;
}

std::unique_ptr<Authenticator> NewAuthenticator(storage::Storage& store,
                                                AuthenticatorOptions options = FastOptions()) {
  StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::Create(store, options);
  EXPECT_TRUE(auth.has_value());
  return *std::move(auth);
}

void ExpectInvalidCredentials(const StatusOr<Role>& result) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(result.error().message(), "invalid credentials");
}

class AuthenticatorTest : public testing::Test {
 protected:
  std::unique_ptr<storage::Storage> store_ = storage::NewMemStorage();
  std::unique_ptr<Authenticator> auth_ = NewAuthenticator(*store_);
};

TEST_F(AuthenticatorTest, EmptyStoreHasNoUsers) {
  EXPECT_EQ(auth_->NoUsers(), true);
  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_TRUE(users->empty());
  ExpectInvalidCredentials(auth_->Authenticate("admin", "password1"));
}

TEST_F(AuthenticatorTest, AddListRemove) {
  ASSERT_TRUE(auth_->AddUser("zed", "password-z", Role::kRead).ok());
  ASSERT_TRUE(auth_->AddUser("alice", "password-a", Role::kAdmin).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-b", Role::kUpload).ok());
  EXPECT_EQ(auth_->NoUsers(), false);

  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  ASSERT_EQ(users->size(), 3U);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ((*users)[0].role, Role::kAdmin);
  EXPECT_GT((*users)[0].created_micros, 0);
  EXPECT_EQ((*users)[1].name, "bob");
  EXPECT_EQ((*users)[1].role, Role::kUpload);
  EXPECT_EQ((*users)[2].name, "zed");

  ASSERT_TRUE(auth_->RemoveUser("bob").ok());
  users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  ASSERT_EQ(users->size(), 2U);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ((*users)[1].name, "zed");
  EXPECT_EQ(auth_->RemoveUser("bob").code(), StatusCode::kNotFound);

  ASSERT_TRUE(auth_->RemoveUser("alice").ok());
  ASSERT_TRUE(auth_->RemoveUser("zed").ok());
  EXPECT_EQ(auth_->NoUsers(), true);
}

TEST_F(AuthenticatorTest, StoredDocumentHoldsHashesNotPasswords) {
  ASSERT_TRUE(auth_->AddUser("alice", "correct horse battery", Role::kUpload).ok());
  StatusOr<storage::Object> doc = store_->Get(storage::UsersKey());
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->data.find("correct horse"), std::string::npos);
  EXPECT_NE(doc->data.find("\"version\":1"), std::string::npos);
  EXPECT_NE(doc->data.find("\"name\":\"alice\""), std::string::npos);
  EXPECT_NE(doc->data.find("\"role\":\"upload\""), std::string::npos);
  EXPECT_NE(doc->data.find("\"hash\":\"$argon2id$"), std::string::npos);
}

TEST_F(AuthenticatorTest, DuplicateAddIsAlreadyExists) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  EXPECT_EQ(auth_->AddUser("alice", "password-2", Role::kAdmin).code(), StatusCode::kAlreadyExists);
  // Names are case-sensitive.
  EXPECT_TRUE(auth_->AddUser("Alice", "password-2", Role::kAdmin).ok());
  EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kRead);
}

TEST_F(AuthenticatorTest, BadNamesAndPasswordsRejected) {
  for (const std::string& name : {std::string(), std::string("__token__"), std::string("a b"),
                                  std::string("a:b"), std::string(65, 'n')}) {
    EXPECT_EQ(auth_->AddUser(name, "password-1", Role::kRead).code(), StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(auth_->AddUser("alice", "short", Role::kRead).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->AddUser("alice", std::string(1025, 'p'), Role::kRead).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Head(storage::UsersKey()).error().code(), StatusCode::kNotFound);

  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  EXPECT_EQ(auth_->SetPassword("alice", "short").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kRead);
}

TEST_F(AuthenticatorTest, ChangesOfUnknownUsersAreNotFound) {
  EXPECT_EQ(auth_->SetPassword("ghost", "password-1").code(), StatusCode::kNotFound);
  EXPECT_EQ(auth_->SetRole("ghost", Role::kAdmin).code(), StatusCode::kNotFound);
  EXPECT_EQ(auth_->RemoveUser("ghost").code(), StatusCode::kNotFound);
}

TEST_F(AuthenticatorTest, AuthenticateReturnsRole) {
  ASSERT_TRUE(auth_->AddUser("reader", "password-r", Role::kRead).ok());
  ASSERT_TRUE(auth_->AddUser("uploader", "password-u", Role::kUpload).ok());
  ASSERT_TRUE(auth_->AddUser("admin", "password-a", Role::kAdmin).ok());
  EXPECT_EQ(auth_->Authenticate("reader", "password-r"), Role::kRead);
  EXPECT_EQ(auth_->Authenticate("uploader", "password-u"), Role::kUpload);
  EXPECT_EQ(auth_->Authenticate("admin", "password-a"), Role::kAdmin);
  // Another user's password does not work.
  ExpectInvalidCredentials(auth_->Authenticate("admin", "password-r"));
}

TEST_F(AuthenticatorTest, WrongPasswordAndUnknownUserLookAlike) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  StatusOr<Role> wrong_password = auth_->Authenticate("alice", "password-2");
  const std::uint64_t after_wrong = PasswordVerificationsForTest();
  StatusOr<Role> unknown_user = auth_->Authenticate("mallory", "password-1");
  const std::uint64_t after_unknown = PasswordVerificationsForTest();

  ExpectInvalidCredentials(wrong_password);
  ExpectInvalidCredentials(unknown_user);
  EXPECT_EQ(wrong_password.error(), unknown_user.error());
  // Each costs exactly one argon2id verify: the unknown user is checked against a dummy hash.
  EXPECT_EQ(after_wrong - before, 1U);
  EXPECT_EQ(after_unknown - after_wrong, 1U);
}

TEST_F(AuthenticatorTest, ImpossibleInputsAreRejectedWithoutHashing) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  ExpectInvalidCredentials(auth_->Authenticate("", "password-1"));
  ExpectInvalidCredentials(auth_->Authenticate("__token__", "pypi-token-value"));
  ExpectInvalidCredentials(auth_->Authenticate("alice", ""));
  ExpectInvalidCredentials(auth_->Authenticate("alice", std::string(1 << 20, 'p')));
  EXPECT_EQ(PasswordVerificationsForTest(), before);
}

TEST_F(AuthenticatorTest, CacheHitDoesNotHashAgain) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 1U);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kUpload);
  }
  EXPECT_EQ(PasswordVerificationsForTest() - before, 1U);
  // A wrong password is never answered from the cache.
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-2"));
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
  // And does not evict the right one.
  EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
}

TEST_F(AuthenticatorTest, CacheCanBeDisabled) {
  AuthenticatorOptions options = FastOptions();
  options.credential_cache_size = 0;
  std::unique_ptr<Authenticator> uncached = NewAuthenticator(*store_, options);
  ASSERT_TRUE(uncached->AddUser("alice", "password-1", Role::kUpload).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  EXPECT_EQ(uncached->Authenticate("alice", "password-1"), Role::kUpload);
  EXPECT_EQ(uncached->Authenticate("alice", "password-1"), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
}

TEST_F(AuthenticatorTest, PasswordChangeInvalidatesCacheAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "old-password", Role::kUpload).ok());
  ASSERT_EQ(auth_->Authenticate("alice", "old-password"), Role::kUpload);  // now cached
  ASSERT_TRUE(auth_->SetPassword("alice", "new-password").ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "old-password"));
  EXPECT_EQ(auth_->Authenticate("alice", "new-password"), Role::kUpload);
}

TEST_F(AuthenticatorTest, RoleChangeAppliesAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ASSERT_EQ(auth_->Authenticate("alice", "password-1"), Role::kAdmin);
  ASSERT_TRUE(auth_->SetRole("alice", Role::kRead).ok());
  EXPECT_EQ(auth_->Authenticate("alice", "password-1"), Role::kRead);
  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_EQ((*users)[0].role, Role::kRead);
}

TEST_F(AuthenticatorTest, RemovedUserFailsAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ASSERT_EQ(auth_->Authenticate("alice", "password-1"), Role::kAdmin);
  ASSERT_TRUE(auth_->RemoveUser("alice").ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-1"));
  // Re-adding the name with another password does not revive the old one.
  ASSERT_TRUE(auth_->AddUser("alice", "password-2", Role::kRead).ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-1"));
  EXPECT_EQ(auth_->Authenticate("alice", "password-2"), Role::kRead);
}

TEST(AuthenticatorSharedStoreTest, InstancesSeeEachOthersChangesAfterTtl) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  AuthenticatorOptions options = FastOptions();
  options.users_ttl = std::chrono::milliseconds(0);
  std::unique_ptr<Authenticator> a = NewAuthenticator(*store, options);
  std::unique_ptr<Authenticator> b = NewAuthenticator(*store, options);

  ExpectInvalidCredentials(b->Authenticate("alice", "password-1"));
  ASSERT_TRUE(a->AddUser("alice", "password-1", Role::kUpload).ok());
  EXPECT_EQ(b->Authenticate("alice", "password-1"), Role::kUpload);  // b caches it

  ASSERT_TRUE(a->SetPassword("alice", "password-2").ok());
  ExpectInvalidCredentials(b->Authenticate("alice", "password-1"));
  EXPECT_EQ(b->Authenticate("alice", "password-2"), Role::kUpload);

  ASSERT_TRUE(a->SetRole("alice", Role::kAdmin).ok());
  EXPECT_EQ(b->Authenticate("alice", "password-2"), Role::kAdmin);

  ASSERT_TRUE(b->RemoveUser("alice").ok());
  ExpectInvalidCredentials(a->Authenticate("alice", "password-2"));
  EXPECT_EQ(a->NoUsers(), true);
}

TEST(AuthenticatorSharedStoreTest, ChangesByOthersWaitForTheTtl) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  AuthenticatorOptions slow = FastOptions();
  slow.users_ttl = std::chrono::hours(1);
  std::unique_ptr<Authenticator> writer = NewAuthenticator(*store);
  std::unique_ptr<Authenticator> reader = NewAuthenticator(*store, slow);

  ASSERT_TRUE(writer->AddUser("alice", "password-1", Role::kUpload).ok());
  ASSERT_EQ(reader->Authenticate("alice", "password-1"), Role::kUpload);
  ASSERT_TRUE(writer->SetPassword("alice", "password-2").ok());
  // Within its users_ttl the reader trusts the document it has (the documented bound).
  EXPECT_EQ(reader->Authenticate("alice", "password-1"), Role::kUpload);
  ExpectInvalidCredentials(reader->Authenticate("alice", "password-2"));
  // Its own write refreshes it.
  ASSERT_TRUE(reader->AddUser("bob", "password-b", Role::kRead).ok());
  ExpectInvalidCredentials(reader->Authenticate("alice", "password-1"));
  EXPECT_EQ(reader->Authenticate("alice", "password-2"), Role::kUpload);
}

TEST(AuthenticatorSharedStoreTest, LostCompareAndSwapIsRetried) {
  FlakyStorage store;
  std::unique_ptr<Authenticator> a = NewAuthenticator(store);
  std::unique_ptr<Authenticator> b = NewAuthenticator(store);
  ASSERT_TRUE(a->AddUser("alice", "password-a", Role::kAdmin).ok());
  // b reads the document, then a writes before b's compare-and-swap: b must re-read and retry.
  store.before_next_put = [&] { ASSERT_TRUE(a->AddUser("carol", "password-c", Role::kRead).ok()); };
  ASSERT_TRUE(b->AddUser("bob", "password-b", Role::kUpload).ok());
  EXPECT_EQ(store.conflicts.load(), 1);
  StatusOr<std::vector<UserInfo>> users = a->ListUsers();
  ASSERT_TRUE(users.has_value());
  ASSERT_EQ(users->size(), 3U);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ((*users)[1].name, "bob");
  EXPECT_EQ((*users)[2].name, "carol");
}

TEST(AuthenticatorSharedStoreTest, ConcurrentAddsLoseNoUser) {
  FlakyStorage store;
  store.slow_writes = true;
  std::unique_ptr<Authenticator> a = NewAuthenticator(store);
  std::unique_ptr<Authenticator> b = NewAuthenticator(store);
  constexpr int kThreads = 8;  // half through each instance
  constexpr int kUsersPerThread = 5;

  std::atomic<int> failures{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Authenticator& auth = t % 2 == 0 ? *a : *b;
    threads.emplace_back([&auth, &failures, &start, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kUsersPerThread; ++i) {
        const std::string name = "user-" + std::to_string(t) + "-" + std::to_string(i);
        if (!auth.AddUser(name, "password-" + name, Role::kUpload).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);

  StatusOr<std::vector<UserInfo>> users = a->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_EQ(users->size(), std::size_t{kThreads} * kUsersPerThread);
  // Each instance sees every user at once, including its own latest writes (its cached
  // document never goes back to a version older than one it wrote).
  for (const UserInfo& user : *users) {
    EXPECT_EQ(a->Authenticate(user.name, "password-" + user.name), Role::kUpload) << user.name;
    EXPECT_EQ(b->Authenticate(user.name, "password-" + user.name), Role::kUpload) << user.name;
  }
  // The store serialises nothing for us: the loops really raced and retried.
  EXPECT_GT(store.conflicts.load(), 0);
  RecordProperty("cas_conflicts", store.conflicts.load());
}

TEST(AuthenticatorSharedStoreTest, ConcurrentAuthenticateAndChanges) {
  // Readers hammer Authenticate while a writer changes the document; run under TSan/ASan this
  // checks the locking, and every answer must be one of the two valid states.
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  AuthenticatorOptions options = FastOptions();
  options.users_ttl = std::chrono::milliseconds(0);
  std::unique_ptr<Authenticator> auth = NewAuthenticator(*store, options);
  ASSERT_TRUE(auth->AddUser("alice", "password-1", Role::kUpload).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  constexpr int kReaders = 3;
  std::vector<std::thread> readers;
  readers.reserve(kReaders);
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        StatusOr<Role> role = auth->Authenticate("alice", "password-1");
        if (role.has_value() ? *role != Role::kUpload && *role != Role::kAdmin
                             : role.error().code() != StatusCode::kUnauthenticated) {
          ++bad;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(auth->SetRole("alice", i % 2 == 0 ? Role::kAdmin : Role::kUpload).ok());
  }
  stop = true;
  for (std::thread& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(auth->Authenticate("alice", "password-1"), Role::kUpload);
}

TEST(AuthenticatorFaultTest, StoreErrorsAreNotBadCredentials) {
  FlakyStorage store;
  std::unique_ptr<Authenticator> auth = NewAuthenticator(store);
  ASSERT_TRUE(auth->AddUser("alice", "password-1", Role::kUpload).ok());
  AuthenticatorOptions options = FastOptions();
  options.users_ttl = std::chrono::milliseconds(0);
  std::unique_ptr<Authenticator> fresh = NewAuthenticator(store, options);
  store.fail_reads = true;
  StatusOr<Role> result = fresh->Authenticate("alice", "password-1");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fresh->ListUsers().error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fresh->AddUser("bob", "password-b", Role::kRead).code(), StatusCode::kUnavailable);
  store.fail_reads = false;
  EXPECT_EQ(fresh->Authenticate("alice", "password-1"), Role::kUpload);
}

TEST(AuthenticatorFaultTest, EndlessConflictsGiveUpAsUnavailable) {
  FlakyStorage store;
  std::unique_ptr<Authenticator> auth = NewAuthenticator(store);
  store.conflict_writes = true;
  Status status = auth->AddUser("alice", "password-1", Role::kUpload);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  store.conflict_writes = false;
  EXPECT_EQ(auth->NoUsers(), true);
  EXPECT_TRUE(auth->AddUser("alice", "password-1", Role::kUpload).ok());
}

TEST(AuthenticatorFaultTest, CorruptDocumentIsInternal) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  ASSERT_TRUE(store->PutIfAbsent(storage::UsersKey(), "{not json").has_value());
  std::unique_ptr<Authenticator> auth = NewAuthenticator(*store);
  EXPECT_EQ(auth->Authenticate("alice", "password-1").error().code(), StatusCode::kInternal);
  EXPECT_EQ(auth->AddUser("alice", "password-1", Role::kAdmin).code(), StatusCode::kInternal);
  EXPECT_EQ(auth->ListUsers().error().code(), StatusCode::kInternal);
  EXPECT_EQ(auth->NoUsers().error().code(), StatusCode::kInternal);
}

TEST(AuthenticatorCreateTest, BadCostIsInvalidArgument) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  AuthenticatorOptions options;
  options.argon2_mem_limit = 1;  // below libsodium's minimum
  StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::Create(*store, options);
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code(), StatusCode::kInvalidArgument);
}

TEST(AuthenticatorCreateTest, DefaultCostHashesAreInteractive) {
  // One real-cost hash, so the defaults are exercised once.
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  std::unique_ptr<Authenticator> auth = NewAuthenticator(*store, AuthenticatorOptions{});
  ASSERT_TRUE(auth->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<storage::Object> doc = store->Get(storage::UsersKey());
  ASSERT_TRUE(doc.has_value());
  EXPECT_NE(doc->data.find("$argon2id$v=19$m=65536,t=2,p=1$"), std::string::npos);
  EXPECT_EQ(auth->Authenticate("alice", "password-1"), Role::kRead);
}

}  // namespace
}  // namespace pydepot::auth
