#include "cli/commands.h"

#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "auth/auth.h"
#include "storage/storage.h"

namespace pydepot::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

int RunArgs(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  return Run(static_cast<int>(argv.size()), argv.data());
}

struct Output {
  int rc = 0;
  std::string out;
  std::string err;
};

// Runs the command with stdout and stderr captured.
Output RunCaptured(std::vector<std::string> args) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Output output;
  output.rc = RunArgs(std::move(args));
  output.out = testing::internal::GetCapturedStdout();
  output.err = testing::internal::GetCapturedStderr();
  return output;
}

TEST(CommandsTest, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(RunArgs({"pydepot", "fsck"}), 2);                     // --storage missing
  EXPECT_EQ(RunArgs({"pydepot", "serve", "--no-such-flag"}), 2);  // unknown flag
  EXPECT_EQ(RunArgs({"pydepot", "no-such-command"}), 2);
  EXPECT_EQ(RunArgs({"pydepot", "--help"}), 0);
  EXPECT_EQ(RunArgs({"pydepot", "version"}), 0);
}

// A local store in a fresh directory, with accounts made through a cheap-to-hash Authenticator.
class AccountCommandsTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("pydepot-commands-test-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = storage::OpenStorage(dir_.string());
    ASSERT_TRUE(store.has_value()) << store.error();
    store_ = *std::move(store);
    auth::AuthenticatorOptions options;
    options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
    options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
    options.users_ttl = std::chrono::milliseconds(0);
    auto auth = auth::Authenticator::Create(*store_, options);
    ASSERT_TRUE(auth.has_value()) << auth.error();
    auth_ = *std::move(auth);
  }
  void TearDown() override {
    auth_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string Storage() const { return dir_.string(); }

  fs::path dir_;
  std::unique_ptr<storage::Storage> store_;
  std::unique_ptr<auth::Authenticator> auth_;
};

using TokenCommandsTest = AccountCommandsTest;

TEST_F(TokenCommandsTest, CreateListRevoke) {
  ASSERT_TRUE(auth_->AddUser("ci", "password-1", auth::Role::kUpload).ok());
  Output created = RunCaptured({"pydepot", "token", "create", "--storage", Storage(), "--user",
                                "ci", "--scope", "upload", "--project", "Foo_Bar", "--project",
                                "baz", "--expires-days", "30", "--name", "release job"});
  ASSERT_EQ(created.rc, 0) << created.err;
  // stdout holds the token alone.
  ASSERT_EQ(created.out.size(), 8U + 16 + 1 + 64 + 1) << created.out;
  EXPECT_EQ(created.out.substr(0, 8), "pydepot-");
  EXPECT_EQ(created.out.back(), '\n');
  const std::string secret = created.out.substr(0, created.out.size() - 1);
  const std::string id = secret.substr(8, 16);
  EXPECT_NE(created.err.find("shown only this once"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find(id), std::string::npos) << created.err;
  EXPECT_EQ(created.err.find(secret), std::string::npos) << created.err;

  StatusOr<auth::Access> access = auth_->Authenticate("__token__", secret);
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->user, "ci");
  EXPECT_EQ(access->everywhere, auth::Role::kNone);
  EXPECT_EQ(access->On("foo-bar"), auth::Role::kUpload);
  EXPECT_EQ(access->On("baz"), auth::Role::kUpload);
  StatusOr<auth::TokenInfo> info = auth_->GetToken(id);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "release job");
  const std::int64_t days = (info->expires_micros - info->created_micros) / 86'400'000'000;
  EXPECT_TRUE(days == 29 || days == 30) << days;

  Output listed = RunCaptured({"pydepot", "token", "list", "--storage", Storage()});
  ASSERT_EQ(listed.rc, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind(id + "\tci\tupload\tbaz,foo-bar\t", 0), 0U) << listed.out;
  EXPECT_NE(listed.out.find("\trelease job\n"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(secret.substr(25)), std::string::npos);

  Output as_json =
      RunCaptured({"pydepot", "token", "list", "--storage", Storage(), "--user", "ci", "--json"});
  ASSERT_EQ(as_json.rc, 0) << as_json.err;
  json::value parsed = json::parse(as_json.out);
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.as_array().size(), 1U);
  const json::object& entry = parsed.as_array()[0].as_object();
  EXPECT_EQ(entry.at("id").as_string(), id);
  EXPECT_EQ(entry.at("user").as_string(), "ci");
  EXPECT_EQ(entry.at("scope").as_string(), "upload");
  EXPECT_EQ(entry.at("name").as_string(), "release job");
  EXPECT_EQ(entry.at("projects").as_array().size(), 2U);
  EXPECT_EQ(entry.at("expires_micros").as_int64(), info->expires_micros);
  EXPECT_EQ(entry.at("expired").as_bool(), false);

  Output others =
      RunCaptured({"pydepot", "token", "list", "--storage", Storage(), "--user", "nobody"});
  EXPECT_EQ(others.rc, 0);
  EXPECT_EQ(others.out, "");

  Output revoked = RunCaptured({"pydepot", "token", "revoke", "--storage", Storage(), id});
  ASSERT_EQ(revoked.rc, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "revoked token " + id + "\n");
  EXPECT_FALSE(auth_->Authenticate("__token__", secret).has_value());
  Output again = RunCaptured({"pydepot", "token", "revoke", "--storage", Storage(), id});
  EXPECT_EQ(again.rc, 1);
  EXPECT_NE(again.err.find("no such token"), std::string::npos) << again.err;
}

TEST_F(TokenCommandsTest, DefaultsToAReadTokenThatNeverExpires) {
  ASSERT_TRUE(auth_->AddUser("ci", "password-1", auth::Role::kAdmin).ok());
  Output created =
      RunCaptured({"pydepot", "token", "create", "--user", "ci", "--storage", Storage()});
  ASSERT_EQ(created.rc, 0) << created.err;
  StatusOr<auth::Access> access =
      auth_->Authenticate("__token__", created.out.substr(0, created.out.size() - 1));
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->everywhere, auth::Role::kRead);
  EXPECT_TRUE(access->Uniform());
  Output listed = RunCaptured({"pydepot", "token", "list", "--storage", Storage()});
  EXPECT_NE(listed.out.find("\tci\tread\t*\t"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\tnever\t\n"), std::string::npos) << listed.out;
}

TEST_F(TokenCommandsTest, UsageErrorsAndRefusals) {
  ASSERT_TRUE(auth_->AddUser("reader", "password-1", auth::Role::kRead).ok());
  const std::string storage = Storage();
  EXPECT_EQ(RunCaptured({"pydepot", "token"}).rc, 2);
  EXPECT_EQ(RunCaptured({"pydepot", "token", "create", "--storage", storage}).rc, 2);
  EXPECT_EQ(RunCaptured({"pydepot", "token", "create", "--storage", storage, "--user", "reader",
                         "--scope", "admin"})
                .rc,
            2);
  EXPECT_EQ(RunCaptured({"pydepot", "token", "create", "--storage", storage, "--user", "reader",
                         "--expires-days", "0"})
                .rc,
            2);
  EXPECT_EQ(RunCaptured({"pydepot", "token", "revoke", "--storage", storage}).rc, 2);
  EXPECT_EQ(RunCaptured({"pydepot", "token", "list"}).rc, 2);

  Output above = RunCaptured({"pydepot", "token", "create", "--storage", storage, "--user",
                              "reader", "--scope", "upload"});
  EXPECT_EQ(above.rc, 1);
  EXPECT_EQ(above.out, "");
  EXPECT_NE(above.err.find("pydepot token create: user reader has the role read"),
            std::string::npos)
      << above.err;
  Output ghost =
      RunCaptured({"pydepot", "token", "create", "--storage", storage, "--user", "ghost"});
  EXPECT_EQ(ghost.rc, 1);
  EXPECT_NE(ghost.err.find("no such user"), std::string::npos) << ghost.err;
  Output bad_project = RunCaptured({"pydepot", "token", "create", "--storage", storage, "--user",
                                    "reader", "--project", "not a name"});
  EXPECT_EQ(bad_project.rc, 1);
  EXPECT_NE(bad_project.err.find("not a valid project name"), std::string::npos) << bad_project.err;
  EXPECT_TRUE(auth_->ListTokens("")->empty());
}

using UserCommandsTest = AccountCommandsTest;

// Feeds `text` to the command's standard input (the password of `user add`).
class StdinFrom {
 public:
  StdinFrom(const fs::path& file, const std::string& text) {
    std::ofstream(file) << text;
    EXPECT_NE(std::freopen(file.c_str(), "r", stdin), nullptr);
    std::cin.clear();
  }
  StdinFrom(const StdinFrom&) = delete;
  StdinFrom& operator=(const StdinFrom&) = delete;
  ~StdinFrom() {
    EXPECT_NE(std::freopen("/dev/null", "r", stdin), nullptr);
    std::cin.clear();
  }
};

TEST_F(UserCommandsTest, ProjectLimitsOnAddAndRole) {
  const std::string storage = Storage();
  {
    StdinFrom stdin_from(dir_ / "password.txt", "a-long-password\n");
    Output added = RunCaptured({"pydepot", "user", "add", "lim", "--role", "upload", "--projects",
                                "alpha,Beta", "--storage", storage});
    ASSERT_EQ(added.rc, 0) << added.err;
    EXPECT_EQ(added.out, "added user 'lim' with role upload (uploads only to alpha, beta)\n");
  }
  Output listed = RunCaptured({"pydepot", "user", "list", "--storage", storage});
  EXPECT_EQ(listed.out, "lim\tupload\talpha,beta\n");
  StatusOr<auth::Access> access = auth_->Authenticate("lim", "a-long-password");
  ASSERT_TRUE(access.has_value()) << access.error();
  EXPECT_EQ(access->On("beta"), auth::Role::kUpload);
  EXPECT_EQ(access->On("gamma"), auth::Role::kRead);

  // Only the upload role has project limits: a usage error, before any password is read.
  Output read_limited = RunCaptured({"pydepot", "user", "add", "x", "--role", "read", "--projects",
                                     "alpha", "--storage", storage});
  EXPECT_EQ(read_limited.rc, 2);
  EXPECT_NE(read_limited.err.find("--role upload"), std::string::npos) << read_limited.err;
  EXPECT_EQ(RunCaptured({"pydepot", "user", "role", "lim", "--role", "admin", "--projects", "alpha",
                         "--storage", storage})
                .rc,
            2);
  Output bad_name = RunCaptured({"pydepot", "user", "add", "y", "--role", "upload", "--projects",
                                 "not a name", "--storage", storage});
  EXPECT_EQ(bad_name.rc, 1);
  EXPECT_NE(bad_name.err.find("not a valid project name"), std::string::npos) << bad_name.err;

  Output changed = RunCaptured({"pydepot", "user", "role", "lim", "--role", "upload", "--projects",
                                "gamma", "--storage", storage});
  ASSERT_EQ(changed.rc, 0) << changed.err;
  EXPECT_EQ(RunCaptured({"pydepot", "user", "list", "--storage", storage}).out,
            "lim\tupload\tgamma\n");
  ASSERT_EQ(
      RunCaptured({"pydepot", "user", "role", "lim", "--role", "upload", "--storage", storage}).rc,
      0);
  EXPECT_EQ(RunCaptured({"pydepot", "user", "list", "--storage", storage}).out, "lim\tupload\n");
}

TEST_F(UserCommandsTest, RemovingAUserRevokesItsTokens) {
  ASSERT_TRUE(auth_->AddUser("ci", "password-1", auth::Role::kUpload).ok());
  ASSERT_TRUE(auth_->CreateToken("ci", "", auth::Role::kUpload, {}, 0).has_value());
  Output removed = RunCaptured({"pydepot", "user", "remove", "ci", "--storage", Storage()});
  ASSERT_EQ(removed.rc, 0) << removed.err;
  EXPECT_TRUE(auth_->ListTokens("")->empty());
}

}  // namespace
}  // namespace pydepot::cli
