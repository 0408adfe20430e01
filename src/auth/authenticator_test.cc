#include <sodium.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "auth/password_hash.h"
#include "auth/users_doc.h"
#include "base/hash.h"
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

// The role an authentication grants everywhere, or its error, for EXPECT_EQ.
StatusOr<Role> RoleOf(const StatusOr<Access>& access) {
  if (!access.has_value()) {
    return access.error();
  }
  return access->everywhere;
}

void ExpectInvalidCredentials(const StatusOr<Access>& result) {
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
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kRead);
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
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kRead);
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
  EXPECT_EQ(RoleOf(auth_->Authenticate("reader", "password-r")), Role::kRead);
  EXPECT_EQ(RoleOf(auth_->Authenticate("uploader", "password-u")), Role::kUpload);
  EXPECT_EQ(RoleOf(auth_->Authenticate("admin", "password-a")), Role::kAdmin);
  // Another user's password does not work.
  ExpectInvalidCredentials(auth_->Authenticate("admin", "password-r"));
}

TEST_F(AuthenticatorTest, WrongPasswordAndUnknownUserLookAlike) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  StatusOr<Access> wrong_password = auth_->Authenticate("alice", "password-2");
  const std::uint64_t after_wrong = PasswordVerificationsForTest();
  StatusOr<Access> unknown_user = auth_->Authenticate("mallory", "password-1");
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
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 1U);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kUpload);
  }
  EXPECT_EQ(PasswordVerificationsForTest() - before, 1U);
  // A wrong password is never answered from the cache.
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-2"));
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
  // And does not evict the right one.
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
}

TEST_F(AuthenticatorTest, OtherChangesKeepRememberedPasswords) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-2", Role::kRead).ok());
  ASSERT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kUpload);
  const std::uint64_t before = PasswordVerificationsForTest();
  // Logouts, tokens, other accounts and alice's own role change the document, not her password.
  ASSERT_TRUE(auth_->EndSessions("bob").ok());
  ASSERT_TRUE(auth_->CreateToken("bob", "", Role::kRead, {}, 0).has_value());
  ASSERT_TRUE(auth_->AddUser("carol", "password-3", Role::kRead).ok());
  ASSERT_TRUE(auth_->SetPassword("bob", "password-4").ok());
  ASSERT_TRUE(auth_->SetRole("alice", Role::kUpload, {"alpha"}).ok());
  StatusOr<Access> access = auth_->Authenticate("alice", "password-1");
  ASSERT_TRUE(access.has_value());
  // The role change applies at once, without hashing again.
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_EQ(access->On("alpha"), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest(), before);
  std::optional<StatusOr<Access>> cached = auth_->AuthenticateCached("alice", "password-1");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(RoleOf(*cached), Role::kRead);
  EXPECT_EQ(PasswordVerificationsForTest(), before);
}

TEST_F(AuthenticatorTest, CacheCanBeDisabled) {
  AuthenticatorOptions options = FastOptions();
  options.credential_cache_size = 0;
  std::unique_ptr<Authenticator> uncached = NewAuthenticator(*store_, options);
  ASSERT_TRUE(uncached->AddUser("alice", "password-1", Role::kUpload).ok());
  const std::uint64_t before = PasswordVerificationsForTest();
  EXPECT_EQ(RoleOf(uncached->Authenticate("alice", "password-1")), Role::kUpload);
  EXPECT_EQ(RoleOf(uncached->Authenticate("alice", "password-1")), Role::kUpload);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 2U);
}

TEST_F(AuthenticatorTest, PasswordChangeInvalidatesCacheAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "old-password", Role::kUpload).ok());
  ASSERT_EQ(RoleOf(auth_->Authenticate("alice", "old-password")), Role::kUpload);  // now cached
  ASSERT_TRUE(auth_->SetPassword("alice", "new-password").ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "old-password"));
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "new-password")), Role::kUpload);
}

TEST_F(AuthenticatorTest, RoleChangeAppliesAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ASSERT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kAdmin);
  ASSERT_TRUE(auth_->SetRole("alice", Role::kRead).ok());
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kRead);
  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_EQ((*users)[0].role, Role::kRead);
}

TEST_F(AuthenticatorTest, RemovedUserFailsAtOnce) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ASSERT_EQ(RoleOf(auth_->Authenticate("alice", "password-1")), Role::kAdmin);
  ASSERT_TRUE(auth_->RemoveUser("alice").ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-1"));
  // Re-adding the name with another password does not revive the old one.
  ASSERT_TRUE(auth_->AddUser("alice", "password-2", Role::kRead).ok());
  ExpectInvalidCredentials(auth_->Authenticate("alice", "password-1"));
  EXPECT_EQ(RoleOf(auth_->Authenticate("alice", "password-2")), Role::kRead);
}

TEST(AuthenticatorSharedStoreTest, InstancesSeeEachOthersChangesAfterTtl) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  AuthenticatorOptions options = FastOptions();
  options.users_ttl = std::chrono::milliseconds(0);
  std::unique_ptr<Authenticator> a = NewAuthenticator(*store, options);
  std::unique_ptr<Authenticator> b = NewAuthenticator(*store, options);

  ExpectInvalidCredentials(b->Authenticate("alice", "password-1"));
  ASSERT_TRUE(a->AddUser("alice", "password-1", Role::kUpload).ok());
  EXPECT_EQ(RoleOf(b->Authenticate("alice", "password-1")), Role::kUpload);  // b caches it

  ASSERT_TRUE(a->SetPassword("alice", "password-2").ok());
  ExpectInvalidCredentials(b->Authenticate("alice", "password-1"));
  EXPECT_EQ(RoleOf(b->Authenticate("alice", "password-2")), Role::kUpload);

  ASSERT_TRUE(a->SetRole("alice", Role::kAdmin).ok());
  EXPECT_EQ(RoleOf(b->Authenticate("alice", "password-2")), Role::kAdmin);

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
  ASSERT_EQ(RoleOf(reader->Authenticate("alice", "password-1")), Role::kUpload);
  ASSERT_TRUE(writer->SetPassword("alice", "password-2").ok());
  // Within its users_ttl the reader trusts the document it has (the documented bound).
  EXPECT_EQ(RoleOf(reader->Authenticate("alice", "password-1")), Role::kUpload);
  ExpectInvalidCredentials(reader->Authenticate("alice", "password-2"));
  // Its own write refreshes it.
  ASSERT_TRUE(reader->AddUser("bob", "password-b", Role::kRead).ok());
  ExpectInvalidCredentials(reader->Authenticate("alice", "password-1"));
  EXPECT_EQ(RoleOf(reader->Authenticate("alice", "password-2")), Role::kUpload);
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
    EXPECT_EQ(RoleOf(a->Authenticate(user.name, "password-" + user.name)), Role::kUpload)
        << user.name;
    EXPECT_EQ(RoleOf(b->Authenticate(user.name, "password-" + user.name)), Role::kUpload)
        << user.name;
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
        StatusOr<Role> role = RoleOf(auth->Authenticate("alice", "password-1"));
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
  EXPECT_EQ(RoleOf(auth->Authenticate("alice", "password-1")), Role::kUpload);
}

TEST(AuthenticatorFaultTest, StoreErrorsAreNotBadCredentials) {
  FlakyStorage store;
  std::unique_ptr<Authenticator> auth = NewAuthenticator(store);
  ASSERT_TRUE(auth->AddUser("alice", "password-1", Role::kUpload).ok());
  AuthenticatorOptions options = FastOptions();
  options.users_ttl = std::chrono::milliseconds(0);
  std::unique_ptr<Authenticator> fresh = NewAuthenticator(store, options);
  store.fail_reads = true;
  StatusOr<Access> result = fresh->Authenticate("alice", "password-1");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fresh->ListUsers().error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fresh->AddUser("bob", "password-b", Role::kRead).code(), StatusCode::kUnavailable);
  store.fail_reads = false;
  EXPECT_EQ(RoleOf(fresh->Authenticate("alice", "password-1")), Role::kUpload);
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
  EXPECT_EQ(RoleOf(auth->Authenticate("alice", "password-1")).error().code(),
            StatusCode::kInternal);
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

TEST(AuthenticatorCreateTest, DefaultCostIsOwaspMinimum) {
  // One real-cost hash, so the defaults are exercised once: 19 MiB, 2 passes, one lane.
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  std::unique_ptr<Authenticator> auth = NewAuthenticator(*store, AuthenticatorOptions{});
  ASSERT_TRUE(auth->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<storage::Object> doc = store->Get(storage::UsersKey());
  ASSERT_TRUE(doc.has_value());
  EXPECT_NE(doc->data.find("$argon2id$v=19$m=19456,t=2,p=1$"), std::string::npos);
  EXPECT_EQ(RoleOf(auth->Authenticate("alice", "password-1")), Role::kRead);
}

// Hashes made at another cost (the old default, 64 MiB) keep working after the configured cost
// changes, and unknown users are still refused (checked at the stored hashes' cost:
// PasswordHashTest.UnknownUsersCostWhatTheDearestStoredHashCosts).
TEST(AuthenticatorCreateTest, HashesOfAnotherCostKeepWorking) {
  std::unique_ptr<storage::Storage> store = storage::NewMemStorage();
  {
    AuthenticatorOptions dearer;  // made under a dearer cost than FastOptions'
    dearer.argon2_ops_limit = 2;
    dearer.argon2_mem_limit = std::size_t{8} << 20;
    std::unique_ptr<Authenticator> old_auth = NewAuthenticator(*store, dearer);
    ASSERT_TRUE(old_auth->AddUser("alice", "password-1", Role::kUpload).ok());
  }
  std::unique_ptr<Authenticator> auth = NewAuthenticator(*store);
  EXPECT_EQ(RoleOf(auth->Authenticate("alice", "password-1")), Role::kUpload);
  ExpectInvalidCredentials(auth->Authenticate("alice", "wrong"));
  ExpectInvalidCredentials(auth->Authenticate("mallory", "password-1"));
  ASSERT_TRUE(auth->AddUser("bob", "password-2", Role::kRead).ok());
  EXPECT_EQ(RoleOf(auth->Authenticate("bob", "password-2")), Role::kRead);
  ExpectInvalidCredentials(auth->Authenticate("mallory", "password-2"));
}

// ---------------------------------------------------------------------------------------------
// API tokens, project-limited users and browser sessions.

constexpr std::int64_t kStartMicros = 1'700'000'000'000'000;
constexpr std::int64_t kHourMicros = 3'600'000'000;
constexpr std::chrono::seconds kTwelveHours{12 * 3600};

void ExpectSessionEnded(const StatusOr<Access>& result) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(result.error().message(), "session expired or ended");
}

bool LooksLikeTokenText(std::string_view text) {
  if (text.size() != 8 + 16 + 1 + 64 || text.substr(0, 8) != "pydepot-" || text[24] != '-') {
    return false;
  }
  for (std::size_t i = 8; i < text.size(); ++i) {
    const char c = text[i];
    if (i != 24 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// An authenticator with an injectable clock (now_), on a memory store.
class ClockedTest : public testing::Test {
 protected:
  AuthenticatorOptions Options() {
    AuthenticatorOptions options = FastOptions();
    options.now_micros = [this] { return now_.load(); };
    return options;
  }
  std::unique_ptr<Authenticator> NewInstance(std::chrono::milliseconds users_ttl) {
    AuthenticatorOptions options = Options();
    options.users_ttl = users_ttl;
    return NewAuthenticator(*store_, options);
  }
  StatusOr<Access> Token(std::string_view secret) {
    return auth_->Authenticate("__token__", secret);
  }
  // A token that must be created.
  NewToken MustCreate(std::string_view user, Role scope, std::vector<std::string> projects = {},
                      std::int64_t expires = 0) {
    StatusOr<NewToken> token =
        auth_->CreateToken(user, "label", scope, std::move(projects), expires);
    EXPECT_TRUE(token.has_value()) << token.error();
    return token.has_value() ? *token : NewToken{};
  }

  std::atomic<std::int64_t> now_{kStartMicros};
  std::unique_ptr<storage::Storage> store_ = storage::NewMemStorage();
  std::unique_ptr<Authenticator> auth_ = NewAuthenticator(*store_, Options());
};

using TokenTest = ClockedTest;

TEST_F(TokenTest, ReadTokenActsForItsUserWithReadRights) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  StatusOr<NewToken> token = auth_->CreateToken("alice", "ci on main", Role::kRead, {}, 0);
  ASSERT_TRUE(token.has_value()) << token.error();
  EXPECT_TRUE(LooksLikeTokenText(token->secret)) << token->secret;
  EXPECT_EQ(token->secret.substr(8, 16), token->info.id);
  EXPECT_EQ(token->info.user, "alice");
  EXPECT_EQ(token->info.name, "ci on main");
  EXPECT_EQ(token->info.scope, Role::kRead);
  EXPECT_TRUE(token->info.projects.empty());
  EXPECT_EQ(token->info.created_micros, kStartMicros);
  EXPECT_EQ(token->info.expires_micros, 0);

  StatusOr<Access> access = Token(token->secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->user, "alice");
  EXPECT_EQ(access->token_id, token->info.id);
  EXPECT_FALSE(access->session);
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_TRUE(access->Uniform());
  EXPECT_EQ(access->On("anything"), Role::kRead);
}

TEST_F(TokenTest, UploadTokenOfAnAdminUploadsButDoesNotAdminister) {
  ASSERT_TRUE(auth_->AddUser("root", "password-1", Role::kAdmin).ok());
  NewToken token = MustCreate("root", Role::kUpload);
  StatusOr<Access> access = Token(token.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kUpload);
  EXPECT_TRUE(access->Uniform());
  // The account's own password still gives the account's role.
  EXPECT_EQ(RoleOf(auth_->Authenticate("root", "password-1")), Role::kAdmin);
}

TEST_F(TokenTest, StoreKeepsTheSecretsHashNotTheSecret) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload);
  const std::string secret_part = token.secret.substr(25);
  StatusOr<storage::Object> doc = store_->Get(storage::UsersKey());
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->data.find(secret_part), std::string::npos);
  // SHA-256 of the secret's hex text, as computed by another implementation (OpenSSL).
  EXPECT_NE(doc->data.find("\"hash\":\"" + Sha256Hex(secret_part) + "\""), std::string::npos);
  EXPECT_NE(doc->data.find("\"id\":\"" + token.info.id + "\""), std::string::npos);
  EXPECT_NE(doc->data.find("\"version\":1"), std::string::npos);
}

TEST_F(TokenTest, CreateRefusesWhatTheUserCannotHave) {
  ASSERT_TRUE(auth_->AddUser("reader", "password-1", Role::kRead).ok());
  StatusOr<NewToken> above = auth_->CreateToken("reader", "", Role::kUpload, {}, 0);
  ASSERT_FALSE(above.has_value());
  EXPECT_EQ(above.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(above.error().message().find("reader has the role read"), std::string::npos)
      << above.error();
  EXPECT_EQ(auth_->CreateToken("reader", "", Role::kAdmin, {}, 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->CreateToken("reader", "", Role::kNone, {}, 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->CreateToken("ghost", "", Role::kRead, {}, 0).error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(auth_->CreateToken("reader", std::string(101, 'n'), Role::kRead, {}, 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->CreateToken("reader", "two\nlines", Role::kRead, {}, 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->CreateToken("reader", "", Role::kRead, {"-bad-"}, 0).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->CreateToken("reader", "", Role::kRead, {""}, 0).error().code(),
            StatusCode::kInvalidArgument);
  for (std::int64_t expires : {kStartMicros - 1, kStartMicros, std::int64_t{-5}}) {
    EXPECT_EQ(auth_->CreateToken("reader", "", Role::kRead, {}, expires).error().code(),
              StatusCode::kInvalidArgument)
        << expires;
  }
  StatusOr<std::vector<TokenInfo>> tokens = auth_->ListTokens("");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_TRUE(tokens->empty());
  // A 100-character label, and an empty one, are fine.
  EXPECT_TRUE(auth_->CreateToken("reader", std::string(100, 'n'), Role::kRead, {}, 0).has_value());
  EXPECT_TRUE(auth_->CreateToken("reader", "", Role::kRead, {}, 0).has_value());
}

TEST_F(TokenTest, ProjectLimitedTokenHasNoRightsElsewhere) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload, {"Foo_Bar", "foo.bar", "Baz"});
  EXPECT_EQ(token.info.projects, (std::vector<std::string>{"baz", "foo-bar"}));
  StatusOr<Access> access = Token(token.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kNone);
  EXPECT_FALSE(access->Uniform());
  EXPECT_EQ(access->On("foo-bar"), Role::kUpload);
  EXPECT_EQ(access->On("baz"), Role::kUpload);
  EXPECT_EQ(access->On("other"), Role::kNone);

  NewToken reader = MustCreate("alice", Role::kRead, {"baz"});
  access = Token(reader.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kNone);
  EXPECT_EQ(access->On("baz"), Role::kRead);
  EXPECT_EQ(access->On("foo-bar"), Role::kNone);
}

TEST_F(TokenTest, ProjectLimitedUserUploadsOnlyToItsProjects) {
  ASSERT_TRUE(auth_->AddUser("lim", "password-1", Role::kUpload, {"Beta", "alpha", "ALPHA"}).ok());
  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  ASSERT_EQ(users->size(), 1U);
  EXPECT_EQ((*users)[0].upload_projects, (std::vector<std::string>{"alpha", "beta"}));

  StatusOr<Access> access = auth_->Authenticate("lim", "password-1");
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->user, "lim");
  EXPECT_EQ(access->token_id, "");
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_FALSE(access->Uniform());
  EXPECT_EQ(access->On("alpha"), Role::kUpload);
  EXPECT_EQ(access->On("beta"), Role::kUpload);
  EXPECT_EQ(access->On("gamma"), Role::kRead);
  // The same answer from the credential cache.
  std::optional<StatusOr<Access>> cached = auth_->AuthenticateCached("lim", "password-1");
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->has_value());
  EXPECT_EQ((*cached)->On("alpha"), Role::kUpload);
  EXPECT_EQ((*cached)->On("gamma"), Role::kRead);
}

TEST_F(TokenTest, UploadProjectsOnlyWithTheUploadRole) {
  EXPECT_EQ(auth_->AddUser("a", "password-1", Role::kRead, {"alpha"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->AddUser("a", "password-1", Role::kAdmin, {"alpha"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->AddUser("a", "password-1", Role::kUpload, {"not a name"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->AddUser("a", "password-1", Role::kNone).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Head(storage::UsersKey()).error().code(), StatusCode::kNotFound);

  ASSERT_TRUE(auth_->AddUser("a", "password-1", Role::kUpload, {"alpha"}).ok());
  EXPECT_EQ(auth_->SetRole("a", Role::kAdmin, {"alpha"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->SetRole("a", Role::kRead, {"alpha"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->SetRole("a", Role::kUpload, {"_bad"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth_->SetRole("a", Role::kNone).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(auth_->SetRole("a", Role::kUpload, {"Gamma.Delta"}).ok());
  StatusOr<std::vector<UserInfo>> users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_EQ((*users)[0].upload_projects, std::vector<std::string>{"gamma-delta"});
  EXPECT_EQ(auth_->Authenticate("a", "password-1")->On("gamma-delta"), Role::kUpload);
  EXPECT_EQ(auth_->Authenticate("a", "password-1")->On("alpha"), Role::kRead);

  // A role change without projects lifts the limit.
  ASSERT_TRUE(auth_->SetRole("a", Role::kAdmin).ok());
  users = auth_->ListUsers();
  ASSERT_TRUE(users.has_value());
  EXPECT_TRUE((*users)[0].upload_projects.empty());
  StatusOr<Access> access = auth_->Authenticate("a", "password-1");
  ASSERT_TRUE(access.has_value());
  EXPECT_EQ(access->everywhere, Role::kAdmin);
  EXPECT_TRUE(access->Uniform());
}

TEST_F(TokenTest, LimitedUserMakesUploadTokensOnlyForItsProjects) {
  ASSERT_TRUE(auth_->AddUser("lim", "password-1", Role::kUpload, {"alpha", "beta"}).ok());
  StatusOr<NewToken> everywhere = auth_->CreateToken("lim", "", Role::kUpload, {}, 0);
  ASSERT_FALSE(everywhere.has_value());
  EXPECT_EQ(everywhere.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(everywhere.error().message().find("alpha, beta"), std::string::npos)
      << everywhere.error();
  StatusOr<NewToken> outside = auth_->CreateToken("lim", "", Role::kUpload, {"alpha", "gamma"}, 0);
  ASSERT_FALSE(outside.has_value());
  EXPECT_EQ(outside.error().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(outside.error().message().find("gamma"), std::string::npos) << outside.error();

  NewToken subset = MustCreate("lim", Role::kUpload, {"Alpha"});
  StatusOr<Access> access = Token(subset.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kNone);
  EXPECT_EQ(access->On("alpha"), Role::kUpload);
  EXPECT_EQ(access->On("beta"), Role::kNone);

  // Read tokens may name any project, or none.
  NewToken reader = MustCreate("lim", Role::kRead);
  access = Token(reader.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_EQ(access->On("alpha"), Role::kRead);
  EXPECT_TRUE(access->Uniform());
  NewToken gamma_reader = MustCreate("lim", Role::kRead, {"gamma"});
  access = Token(gamma_reader.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kNone);
  EXPECT_EQ(access->On("gamma"), Role::kRead);
}

TEST_F(TokenTest, TokenNeverExceedsItsUsersCurrentRights) {
  ASSERT_TRUE(auth_->AddUser("bob", "password-1", Role::kAdmin).ok());
  NewToken all = MustCreate("bob", Role::kUpload);
  NewToken beta = MustCreate("bob", Role::kUpload, {"beta"});
  ASSERT_EQ(RoleOf(Token(all.secret)), Role::kUpload);

  ASSERT_TRUE(auth_->SetRole("bob", Role::kRead).ok());
  EXPECT_EQ(RoleOf(Token(all.secret)), Role::kRead);
  EXPECT_EQ(Token(beta.secret)->On("beta"), Role::kRead);

  ASSERT_TRUE(auth_->SetRole("bob", Role::kUpload, {"alpha"}).ok());
  StatusOr<Access> access = Token(all.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_EQ(access->On("alpha"), Role::kUpload);
  EXPECT_EQ(access->On("beta"), Role::kRead);
  access = Token(beta.secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, Role::kNone);
  EXPECT_EQ(access->On("beta"), Role::kRead);
  EXPECT_EQ(access->On("alpha"), Role::kNone);
}

TEST_F(TokenTest, ExpiredTokenIsInvalidCredentials) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  const std::int64_t expires = kStartMicros + kHourMicros;
  NewToken token = MustCreate("alice", Role::kUpload, {}, expires);
  EXPECT_EQ(token.info.expires_micros, expires);
  EXPECT_EQ(RoleOf(Token(token.secret)), Role::kUpload);
  now_ = expires - 1;
  EXPECT_EQ(RoleOf(Token(token.secret)), Role::kUpload);
  now_ = expires;
  ExpectInvalidCredentials(Token(token.secret));
  std::optional<StatusOr<Access>> cached = auth_->AuthenticateCached("__token__", token.secret);
  ASSERT_TRUE(cached.has_value());
  ExpectInvalidCredentials(*cached);
  // Still listed, with its expiry.
  StatusOr<TokenInfo> info = auth_->GetToken(token.info.id);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->expires_micros, expires);
}

TEST_F(TokenTest, RevokedTokenStopsWorking) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload);
  NewToken other = MustCreate("alice", Role::kRead);
  ASSERT_EQ(RoleOf(Token(token.secret)), Role::kUpload);
  ASSERT_TRUE(auth_->RevokeToken(token.info.id).ok());
  ExpectInvalidCredentials(Token(token.secret));
  EXPECT_EQ(RoleOf(Token(other.secret)), Role::kRead);
  EXPECT_EQ(auth_->RevokeToken(token.info.id).code(), StatusCode::kNotFound);
  EXPECT_EQ(auth_->GetToken(token.info.id).error().code(), StatusCode::kNotFound);
  EXPECT_EQ(auth_->RevokeToken("nonsense").code(), StatusCode::kNotFound);
}

TEST_F(TokenTest, ListAndGet) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-1", Role::kRead).ok());
  NewToken first = MustCreate("bob", Role::kRead, {}, kStartMicros + kHourMicros);
  now_ += 10;
  NewToken second = MustCreate("alice", Role::kUpload, {"x"});
  now_ += 10;
  NewToken third = MustCreate("alice", Role::kRead);
  now_ += 2 * kHourMicros;  // the first has expired: still listed

  StatusOr<std::vector<TokenInfo>> all = auth_->ListTokens("");
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3U);
  EXPECT_EQ((*all)[0].id, first.info.id);
  EXPECT_EQ((*all)[1].id, second.info.id);
  EXPECT_EQ((*all)[2].id, third.info.id);
  EXPECT_EQ((*all)[1].projects, std::vector<std::string>{"x"});
  StatusOr<std::vector<TokenInfo>> alices = auth_->ListTokens("alice");
  ASSERT_TRUE(alices.has_value());
  ASSERT_EQ(alices->size(), 2U);
  EXPECT_EQ((*alices)[0].id, second.info.id);
  EXPECT_EQ((*alices)[1].id, third.info.id);
  EXPECT_TRUE(auth_->ListTokens("nobody")->empty());

  StatusOr<TokenInfo> got = auth_->GetToken(second.info.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->user, "alice");
  EXPECT_EQ(got->name, "label");
  EXPECT_EQ(got->scope, Role::kUpload);
  EXPECT_EQ(got->projects, std::vector<std::string>{"x"});
  EXPECT_EQ(got->created_micros, kStartMicros + 10);
  EXPECT_EQ(got->expires_micros, 0);
}

TEST_F(TokenTest, RemovingTheUserRevokesItsTokens) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-1", Role::kUpload).ok());
  NewToken alices = MustCreate("alice", Role::kUpload);
  NewToken bobs = MustCreate("bob", Role::kUpload);
  ASSERT_TRUE(auth_->RemoveUser("alice").ok());
  ExpectInvalidCredentials(Token(alices.secret));
  EXPECT_EQ(auth_->GetToken(alices.info.id).error().code(), StatusCode::kNotFound);
  StatusOr<std::vector<TokenInfo>> left = auth_->ListTokens("");
  ASSERT_TRUE(left.has_value());
  ASSERT_EQ(left->size(), 1U);
  EXPECT_EQ((*left)[0].id, bobs.info.id);
  // A new account with the old name does not bring the token back.
  ASSERT_TRUE(auth_->AddUser("alice", "password-2", Role::kAdmin).ok());
  ExpectInvalidCredentials(Token(alices.secret));
  EXPECT_EQ(RoleOf(Token(bobs.secret)), Role::kUpload);
}

TEST_F(TokenTest, TokenWhoseUserIsGoneIsInvalidCredentials) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload);
  // A document where the account is gone but its token is still there (edited by hand, or
  // written by an older version).
  StatusOr<storage::Object> object = store_->Get(storage::UsersKey());
  ASSERT_TRUE(object.has_value());
  StatusOr<internal::UsersDoc> doc = internal::ParseUsersDoc(object->data);
  ASSERT_TRUE(doc.has_value());
  doc->users.clear();
  ASSERT_TRUE(
      store_->PutIfMatch(storage::UsersKey(), internal::SerializeUsersDoc(*doc), object->info.etag)
          .has_value());
  std::unique_ptr<Authenticator> fresh = NewInstance(std::chrono::milliseconds(2000));
  ExpectInvalidCredentials(fresh->Authenticate("__token__", token.secret));
}

TEST_F(TokenTest, MalformedOrWrongTokensAreInvalidCredentialsWithoutHashing) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload);
  std::string wrong_secret = token.secret;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  std::string unknown_id = token.secret;
  unknown_id[8] = unknown_id[8] == '0' ? '1' : '0';
  std::string upper = token.secret;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::string other_prefix = token.secret;
  other_prefix.replace(0, 7, "pypidot");
  const std::vector<std::string> bad = {
      "",
      "pydepot-",
      token.secret.substr(0, token.secret.size() - 1),
      token.secret + "0",
      wrong_secret,
      unknown_id,
      upper.replace(0, 8, "pydepot-"),
      other_prefix,
      "pydepot-" + token.info.id + "_" + token.secret.substr(25),
      "pydepot-" + token.info.id + "-" + std::string(64, 'g'),
  };
  ASSERT_TRUE(Token(token.secret).has_value());  // loads the document
  const std::uint64_t before = PasswordVerificationsForTest();
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    ExpectInvalidCredentials(Token(text));
    std::optional<StatusOr<Access>> cached = auth_->AuthenticateCached("__token__", text);
    ASSERT_TRUE(cached.has_value());
    ExpectInvalidCredentials(*cached);
  }
  // A token is never a password for its user, and "__token__" is no account.
  ExpectInvalidCredentials(auth_->Authenticate("alice", token.secret));
  EXPECT_EQ(auth_->AddUser("__token__", "password-1", Role::kRead).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PasswordVerificationsForTest() - before, 1U);  // only the "alice" attempt
}

TEST_F(TokenTest, TokensAreAnsweredFromMemoryWithoutHashing) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  NewToken token = MustCreate("alice", Role::kUpload, {"alpha"});

  // A cold instance: nothing loaded yet, so the cached path cannot answer...
  std::unique_ptr<Authenticator> cold = NewInstance(std::chrono::hours(1));
  const std::uint64_t before = PasswordVerificationsForTest();
  EXPECT_FALSE(cold->AuthenticateCached("__token__", token.secret).has_value());
  // ...until the document is read once (no argon2id involved)...
  ASSERT_EQ(cold->Authenticate("__token__", token.secret)->On("alpha"), Role::kUpload);
  // ...then every token is answered from memory, the first use included.
  NewToken second = MustCreate("alice", Role::kRead);  // written by the other instance
  std::optional<StatusOr<Access>> cached = cold->AuthenticateCached("__token__", token.secret);
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->has_value()) << cached->error();
  EXPECT_EQ((*cached)->On("alpha"), Role::kUpload);
  EXPECT_EQ((*cached)->token_id, token.info.id);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(cold->AuthenticateCached("__token__", token.secret).has_value());
  }
  EXPECT_EQ(PasswordVerificationsForTest(), before);

  // Within users_ttl the cold instance does not know the second token yet: a refused token is
  // the documented bound (a revocation, too, takes effect within users_ttl).
  cached = cold->AuthenticateCached("__token__", second.secret);
  ASSERT_TRUE(cached.has_value());
  ExpectInvalidCredentials(*cached);

  // This instance wrote the document, so it must revalidate before answering from memory.
  EXPECT_FALSE(auth_->AuthenticateCached("__token__", token.secret).has_value());
  ASSERT_TRUE(auth_->Authenticate("__token__", second.secret).has_value());
  cached = auth_->AuthenticateCached("__token__", second.secret);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(RoleOf(*cached), Role::kRead);
  EXPECT_EQ(PasswordVerificationsForTest(), before);
}

TEST_F(TokenTest, InstancesSeeEachOthersTokens) {
  std::unique_ptr<Authenticator> other = NewInstance(std::chrono::milliseconds(0));
  std::unique_ptr<Authenticator> mine = NewInstance(std::chrono::milliseconds(0));
  ASSERT_TRUE(mine->AddUser("alice", "password-1", Role::kUpload).ok());
  StatusOr<NewToken> token = mine->CreateToken("alice", "", Role::kUpload, {}, 0);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(RoleOf(other->Authenticate("__token__", token->secret)), Role::kUpload);
  StatusOr<std::vector<TokenInfo>> listed = other->ListTokens("alice");
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1U);
  ASSERT_TRUE(other->RevokeToken(token->info.id).ok());
  ExpectInvalidCredentials(mine->Authenticate("__token__", token->secret));
}

using SessionTest = ClockedTest;

TEST_F(SessionTest, StartAndVerify) {
  ASSERT_TRUE(auth_->AddUser("a.b@c", "password-1", Role::kUpload).ok());
  StatusOr<std::string> cookie = auth_->StartSession("a.b@c", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value()) << cookie.error();
  const std::string expiry = std::to_string(kStartMicros / 1000000 + 12 * 3600);
  EXPECT_EQ(cookie->substr(0, cookie->size() - 43), "a.b@c." + expiry + ".");
  for (char c : cookie->substr(cookie->size() - 43)) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << *cookie;
  }

  StatusOr<Access> access = auth_->AuthenticateSession(*cookie);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->user, "a.b@c");
  EXPECT_TRUE(access->session);
  EXPECT_EQ(access->token_id, "");
  EXPECT_EQ(access->everywhere, Role::kUpload);
  std::optional<StatusOr<Access>> cached = auth_->AuthenticateSessionCached(*cookie);
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->has_value()) << cached->error();
  EXPECT_TRUE((*cached)->session);
  EXPECT_EQ((*cached)->everywhere, Role::kUpload);

  // The key is 32 bytes in the store, and fsck knows the key as pydepot's own.
  StatusOr<storage::Object> key = store_->Get(storage::SessionKeyKey());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->data.size(), 32U);
  EXPECT_EQ(storage::ClassifyKey(storage::SessionKeyKey()), storage::KeyKind::kUsers);
}

TEST_F(SessionTest, StartChecksThePassword) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  NewToken token = MustCreate("alice", Role::kUpload);
  for (auto [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"alice", "password-2"}, {"ghost", "password-1"}, {"__token__", token.secret}}) {
    StatusOr<std::string> cookie = auth_->StartSession(user, password, kTwelveHours);
    ASSERT_FALSE(cookie.has_value()) << user;
    EXPECT_EQ(cookie.error().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(cookie.error().message(), "invalid credentials");
  }
  EXPECT_EQ(auth_->StartSession("alice", "password-1", std::chrono::seconds(0)).error().code(),
            StatusCode::kInvalidArgument);
  // Nothing was signed, so no key was made.
  EXPECT_EQ(store_->Head(storage::SessionKeyKey()).error().code(), StatusCode::kNotFound);
}

TEST_F(SessionTest, ForgedOrMalformedCookiesAreRefused) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-2", Role::kRead).ok());
  StatusOr<std::string> cookie = auth_->StartSession("bob", "password-2", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  const std::size_t first_dot = cookie->find('.');
  const std::size_t last_dot = cookie->rfind('.');
  const std::string expiry = cookie->substr(first_dot + 1, last_dot - first_dot - 1);
  const std::string mac = cookie->substr(last_dot + 1);
  std::string flipped = *cookie;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  const std::string later = std::to_string(std::stoll(expiry) + 3600);

  // A cookie for the same user signed under another store's key.
  std::unique_ptr<storage::Storage> elsewhere = storage::NewMemStorage();
  std::unique_ptr<Authenticator> foreign = NewAuthenticator(*elsewhere, Options());
  ASSERT_TRUE(foreign->AddUser("bob", "password-2", Role::kRead).ok());
  StatusOr<std::string> foreign_cookie = foreign->StartSession("bob", "password-2", kTwelveHours);
  ASSERT_TRUE(foreign_cookie.has_value());

  const std::vector<std::string> bad = {
      "",
      "bob",
      "bob." + expiry,
      "." + expiry + "." + mac,
      "alice." + expiry + "." + mac,  // another user with bob's MAC
      "bob." + later + "." + mac,     // a later expiry
      flipped,
      "bob." + expiry + "." + mac.substr(1),
      "bob." + expiry + "." + mac + "A",
      "bob.x" + expiry + "." + mac,
      "bob.-" + expiry + "." + mac,
      "bob..." + mac,
      "bob." + expiry + "." + mac + ".",
      "b b." + expiry + "." + mac,
      *foreign_cookie,
  };
  for (const std::string& value : bad) {
    SCOPED_TRACE(value);
    ExpectSessionEnded(auth_->AuthenticateSession(value));
    std::optional<StatusOr<Access>> cached = auth_->AuthenticateSessionCached(value);
    ASSERT_TRUE(cached.has_value());
    ExpectSessionEnded(*cached);
  }
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*cookie)), Role::kRead);
}

TEST_F(SessionTest, SessionsExpire) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  const std::int64_t end = (kStartMicros / 1000000 + 12 * 3600) * 1000000;
  now_ = end - 1;
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*cookie)), Role::kRead);
  now_ = end;
  ExpectSessionEnded(auth_->AuthenticateSession(*cookie));
  std::optional<StatusOr<Access>> cached = auth_->AuthenticateSessionCached(*cookie);
  ASSERT_TRUE(cached.has_value());
  ExpectSessionEnded(*cached);
}

TEST_F(SessionTest, EndSessionsEndsEveryOneOfThatUser) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  ASSERT_TRUE(auth_->AddUser("bob", "password-2", Role::kRead).ok());
  StatusOr<std::string> first = auth_->StartSession("alice", "password-1", kTwelveHours);
  now_ += 1000000;
  StatusOr<std::string> second = auth_->StartSession("alice", "password-1", kTwelveHours);
  StatusOr<std::string> bobs = auth_->StartSession("bob", "password-2", kTwelveHours);
  ASSERT_TRUE(first.has_value() && second.has_value() && bobs.has_value());
  ASSERT_NE(*first, *second);
  ASSERT_TRUE(auth_->AuthenticateSession(*first).has_value());

  ASSERT_TRUE(auth_->EndSessions("alice").ok());
  ExpectSessionEnded(auth_->AuthenticateSession(*first));
  ExpectSessionEnded(auth_->AuthenticateSession(*second));
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*bobs)), Role::kRead);
  // A new login works again; the password itself is unchanged.
  StatusOr<std::string> again = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*again)), Role::kRead);
  EXPECT_EQ(auth_->EndSessions("ghost").code(), StatusCode::kNotFound);
}

TEST_F(SessionTest, PasswordChangeEndsSessions) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  ASSERT_TRUE(auth_->SetPassword("alice", "password-2").ok());
  ExpectSessionEnded(auth_->AuthenticateSession(*cookie));
}

TEST_F(SessionTest, RoleChangeEndsSessions) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  ASSERT_TRUE(auth_->SetRole("alice", Role::kRead).ok());
  ExpectSessionEnded(auth_->AuthenticateSession(*cookie));
  StatusOr<std::string> again = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*again)), Role::kRead);
}

TEST_F(SessionTest, RemovedUserEndsSessionsEvenIfTheNameComesBack) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  ASSERT_TRUE(auth_->RemoveUser("alice").ok());
  ExpectSessionEnded(auth_->AuthenticateSession(*cookie));
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kAdmin).ok());
  ExpectSessionEnded(auth_->AuthenticateSession(*cookie));
}

TEST_F(SessionTest, OtherChangesKeepSessions) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kUpload).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  ASSERT_TRUE(auth_->AddUser("bob", "password-2", Role::kRead).ok());
  NewToken token = MustCreate("alice", Role::kRead);
  ASSERT_TRUE(auth_->RevokeToken(token.info.id).ok());
  ASSERT_TRUE(auth_->EndSessions("bob").ok());
  EXPECT_EQ(RoleOf(auth_->AuthenticateSession(*cookie)), Role::kUpload);
}

TEST_F(SessionTest, SessionOfALimitedUserCarriesItsProjects) {
  ASSERT_TRUE(auth_->AddUser("lim", "password-1", Role::kUpload, {"alpha"}).ok());
  StatusOr<std::string> cookie = auth_->StartSession("lim", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  StatusOr<Access> access = auth_->AuthenticateSession(*cookie);
  ASSERT_TRUE(access.has_value());
  EXPECT_EQ(access->everywhere, Role::kRead);
  EXPECT_EQ(access->On("alpha"), Role::kUpload);
}

TEST_F(SessionTest, CachedPathNeedsAFreshDocumentAndTheKey) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(cookie.has_value());
  std::unique_ptr<Authenticator> cold = NewInstance(std::chrono::hours(1));
  EXPECT_FALSE(cold->AuthenticateSessionCached(*cookie).has_value());
  // A malformed value needs nothing from the store.
  std::optional<StatusOr<Access>> malformed = cold->AuthenticateSessionCached("junk");
  ASSERT_TRUE(malformed.has_value());
  ExpectSessionEnded(*malformed);
  // Having read the users document is not enough: the key is not in memory yet.
  ASSERT_TRUE(cold->Authenticate("alice", "password-1").has_value());
  EXPECT_FALSE(cold->AuthenticateSessionCached(*cookie).has_value());
  ASSERT_EQ(RoleOf(cold->AuthenticateSession(*cookie)), Role::kRead);
  std::optional<StatusOr<Access>> cached = cold->AuthenticateSessionCached(*cookie);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(RoleOf(*cached), Role::kRead);
}

TEST_F(SessionTest, VerifyingCreatesNoKey) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  ExpectSessionEnded(auth_->AuthenticateSession("alice.99999999999." + std::string(43, 'A')));
  EXPECT_EQ(store_->Head(storage::SessionKeyKey()).error().code(), StatusCode::kNotFound);
}

TEST_F(SessionTest, CorruptKeyIsInternal) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  ASSERT_TRUE(store_->PutIfAbsent(storage::SessionKeyKey(), "short").has_value());
  StatusOr<std::string> cookie = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_FALSE(cookie.has_value());
  EXPECT_EQ(cookie.error().code(), StatusCode::kInternal);
  EXPECT_EQ(auth_->CsrfToken("x").error().code(), StatusCode::kInternal);
}

TEST_F(SessionTest, InstancesShareOneKey) {
  std::unique_ptr<Authenticator> a = NewInstance(std::chrono::milliseconds(2000));
  std::unique_ptr<Authenticator> b = NewInstance(std::chrono::milliseconds(2000));
  ASSERT_TRUE(a->AddUser("alice", "password-1", Role::kUpload).ok());
  ASSERT_TRUE(a->AddUser("bob", "password-2", Role::kRead).ok());
  // Both make their first session at once: one creates the key, the other reads it.
  StatusOr<std::string> from_a = InternalError("not run");
  StatusOr<std::string> from_b = InternalError("not run");
  {
    std::latch start(2);
    std::thread ta([&] {
      start.arrive_and_wait();
      from_a = a->StartSession("alice", "password-1", kTwelveHours);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      from_b = b->StartSession("bob", "password-2", kTwelveHours);
    });
    ta.join();
    tb.join();
  }
  ASSERT_TRUE(from_a.has_value()) << from_a.error();
  ASSERT_TRUE(from_b.has_value()) << from_b.error();
  EXPECT_EQ(RoleOf(b->AuthenticateSession(*from_a)), Role::kUpload);
  EXPECT_EQ(RoleOf(a->AuthenticateSession(*from_b)), Role::kRead);
  EXPECT_EQ(RoleOf(a->AuthenticateSession(*from_a)), Role::kUpload);
  EXPECT_EQ(*a->CsrfToken(*from_a), *b->CsrfToken(*from_a));
  // A third instance started later reads the same key.
  std::unique_ptr<Authenticator> c = NewInstance(std::chrono::milliseconds(2000));
  EXPECT_EQ(RoleOf(c->AuthenticateSession(*from_b)), Role::kRead);
  // Ending sessions through one instance ends them on the others (within users_ttl; b wrote).
  ASSERT_TRUE(b->EndSessions("alice").ok());
  ExpectSessionEnded(b->AuthenticateSession(*from_a));
}

TEST_F(SessionTest, CsrfTokenIsStablePerSessionAndDiffersAcrossSessions) {
  ASSERT_TRUE(auth_->AddUser("alice", "password-1", Role::kRead).ok());
  StatusOr<std::string> first = auth_->StartSession("alice", "password-1", kTwelveHours);
  now_ += 1000000;
  StatusOr<std::string> second = auth_->StartSession("alice", "password-1", kTwelveHours);
  ASSERT_TRUE(first.has_value() && second.has_value());
  StatusOr<std::string> csrf = auth_->CsrfToken(*first);
  ASSERT_TRUE(csrf.has_value()) << csrf.error();
  EXPECT_EQ(csrf->size(), 43U);
  EXPECT_EQ(auth_->CsrfToken(*first), *csrf);
  EXPECT_NE(*auth_->CsrfToken(*second), *csrf);
  // Not the session's own MAC (which the cookie shows), and not guessable from it.
  EXPECT_EQ(first->find(*csrf), std::string::npos);
}

}  // namespace
}  // namespace pydepot::auth
