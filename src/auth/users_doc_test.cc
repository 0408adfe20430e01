#include "auth/users_doc.h"

#include <string>

#include "gtest/gtest.h"

namespace pydepot::auth::internal {
namespace {

constexpr char kHash[] = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA";

TEST(RoleTest, NamesRoundTrip) {
  for (Role role : {Role::kRead, Role::kUpload, Role::kAdmin}) {
    StatusOr<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(RoleName(Role::kUpload), "upload");
  EXPECT_EQ(ParseRole("Admin").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRole("").error().code(), StatusCode::kInvalidArgument);
  EXPECT_LT(Role::kRead, Role::kUpload);
  EXPECT_LT(Role::kUpload, Role::kAdmin);
}

TEST(UserNameTest, Rules) {
  EXPECT_TRUE(ValidateUserName("alice").ok());
  EXPECT_TRUE(ValidateUserName("ci-bot_2.0@example.org").ok());
  EXPECT_TRUE(ValidateUserName("A").ok());
  EXPECT_TRUE(ValidateUserName(std::string(64, 'x')).ok());
  EXPECT_FALSE(ValidateUserName("").ok());
  EXPECT_FALSE(ValidateUserName(std::string(65, 'x')).ok());
  EXPECT_FALSE(ValidateUserName("al ice").ok());
  EXPECT_FALSE(ValidateUserName("alice:").ok());
  EXPECT_FALSE(ValidateUserName("al/ice").ok());
  EXPECT_FALSE(ValidateUserName(std::string("al\0ice", 6)).ok());
  EXPECT_FALSE(ValidateUserName("\xc3\xa9").ok());
  Status reserved = ValidateUserName("__token__");
  EXPECT_EQ(reserved.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reserved.message().find("reserved"), std::string::npos);
  EXPECT_TRUE(ValidateUserName("__token__x").ok());
}

TEST(PasswordRuleTest, Lengths) {
  EXPECT_FALSE(ValidatePassword("").ok());
  EXPECT_FALSE(ValidatePassword("1234567").ok());
  EXPECT_TRUE(ValidatePassword("12345678").ok());
  EXPECT_TRUE(ValidatePassword(std::string(1024, 'p')).ok());
  Status too_long = ValidatePassword(std::string(1025, 'p'));
  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_long.message().find("ppp"), std::string::npos);
}

TEST(UsersDocTest, RoundTrip) {
  UsersDoc doc;
  doc.users.push_back(UserRecord{"alice", Role::kAdmin, kHash, 1700000000000000});
  doc.users.push_back(UserRecord{"bob", Role::kRead, kHash, 42});
  const std::string json = SerializeUsersDoc(doc);
  EXPECT_NE(json.find("\"version\":1"), std::string::npos);
  StatusOr<UsersDoc> parsed = ParseUsersDoc(json);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  ASSERT_EQ(parsed->users.size(), 2U);
  EXPECT_EQ(parsed->users[0].name, "alice");
  EXPECT_EQ(parsed->users[0].role, Role::kAdmin);
  EXPECT_EQ(parsed->users[0].hash, kHash);
  EXPECT_EQ(parsed->users[0].created_micros, 1700000000000000);
  EXPECT_EQ(parsed->users[1].name, "bob");
  EXPECT_EQ(parsed->users[1].role, Role::kRead);
  EXPECT_EQ(SerializeUsersDoc(*parsed), json);
}

TEST(UsersDocTest, EmptyDoc) {
  StatusOr<UsersDoc> parsed = ParseUsersDoc(SerializeUsersDoc(UsersDoc{}));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->users.empty());
}

TEST(UsersDocTest, UnknownFieldsIgnored) {
  StatusOr<UsersDoc> parsed = ParseUsersDoc(
      R"({"version":1,"extra":true,"users":[{"name":"a","role":"upload","hash":"$argon2id$x",)"
      R"("created":5,"note":"hi"}]})");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->users[0].role, Role::kUpload);
}

TEST(UsersDocTest, FindUser) {
  UsersDoc doc;
  doc.users.push_back(UserRecord{"alice", Role::kAdmin, kHash, 1});
  ASSERT_NE(FindUser(doc, "alice"), nullptr);
  EXPECT_EQ(FindUser(doc, "Alice"), nullptr);  // case-sensitive
  FindUser(doc, "alice")->role = Role::kRead;
  EXPECT_EQ(doc.users[0].role, Role::kRead);
}

TEST(UsersDocTest, MalformedIsInternal) {
  const char* bad[] = {
      "",
      "not json",
      "[]",
      R"({"users":[]})",
      R"({"version":2,"users":[]})",
      R"({"version":"1","users":[]})",
      R"({"version":1})",
      R"({"version":1,"users":{}})",
      R"({"version":1,"users":[1]})",
      R"({"version":1,"users":[{"role":"read","hash":"h","created":1}]})",
      R"({"version":1,"users":[{"name":"a b","role":"read","hash":"h","created":1}]})",
      R"({"version":1,"users":[{"name":"a","role":"root","hash":"h","created":1}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"","created":1}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":7,"created":1}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h"}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":"x"}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":1.5}]})",
      (R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":1},)"
       R"({"name":"a","role":"admin","hash":"h","created":2}]})"),
  };
  for (const char* text : bad) {
    StatusOr<UsersDoc> parsed = ParseUsersDoc(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInternal) << text;
    EXPECT_EQ(parsed.error().message().rfind("auth/users.json: ", 0), 0U) << parsed.error();
  }
}

}  // namespace
}  // namespace pydepot::auth::internal
