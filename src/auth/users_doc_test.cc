#include "auth/users_doc.h"

#include <iterator>
#include <string>
#include <utility>
#include <vector>

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

TEST(RoleTest, NoneIsNamedButNeverParsed) {
  EXPECT_EQ(RoleName(Role::kNone), "none");
  EXPECT_LT(Role::kNone, Role::kRead);
  StatusOr<Role> parsed = ParseRole("none");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument);
}

TEST(AccessTest, PerProjectReplacesEverywhere) {
  Access access;
  EXPECT_EQ(access.On("foo"), Role::kNone);
  EXPECT_TRUE(access.Uniform());
  access.everywhere = Role::kRead;
  access.per_project.emplace("foo", Role::kUpload);
  access.per_project.emplace("bar", Role::kNone);
  EXPECT_FALSE(access.Uniform());
  EXPECT_EQ(access.On("foo"), Role::kUpload);
  EXPECT_EQ(access.On("bar"), Role::kNone);
  EXPECT_EQ(access.On("baz"), Role::kRead);
  EXPECT_EQ(access.On(""), Role::kRead);
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

TEST(UsersDocTest, DocumentWithoutTheNewFieldsParsesUnchanged) {
  // As written before tokens, project limits and sessions existed.
  const std::string old =
      R"({"version":1,"users":[{"name":"alice","role":"upload","hash":"$argon2id$x",)"
      R"("created":5},{"name":"bob","role":"admin","hash":"$argon2id$y","created":6}]})";
  StatusOr<UsersDoc> parsed = ParseUsersDoc(old);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  ASSERT_EQ(parsed->users.size(), 2U);
  EXPECT_TRUE(parsed->users[0].upload_projects.empty());
  EXPECT_EQ(parsed->users[0].session_epoch, 0);
  EXPECT_TRUE(parsed->tokens.empty());
  // Nothing new is written for them either.
  EXPECT_EQ(SerializeUsersDoc(*parsed), old);
}

TEST(UsersDocTest, NewFieldsRoundTrip) {
  UsersDoc doc;
  UserRecord alice{"alice", Role::kUpload, kHash, 1};
  alice.upload_projects = {"alpha", "beta-gamma"};
  alice.session_epoch = 7;
  doc.users.push_back(alice);
  doc.users.push_back(UserRecord{"bob", Role::kRead, kHash, 2});
  TokenRecord token;
  token.info =
      TokenInfo{"0123456789abcdef", "alice", "ci on \xc3\xa9", Role::kUpload, {"alpha"}, 10, 20};
  token.hash = std::string(64, 'a');
  doc.tokens.push_back(token);
  TokenRecord orphan;  // its user is gone: kept as it is
  orphan.info = TokenInfo{"fedcba9876543210", "ghost", "", Role::kRead, {}, 11, 0};
  orphan.hash = std::string(64, 'b');
  doc.tokens.push_back(orphan);

  const std::string json = SerializeUsersDoc(doc);
  EXPECT_NE(json.find(R"("upload_projects":["alpha","beta-gamma"])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("session_epoch":7)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("scope":"upload")"), std::string::npos) << json;
  StatusOr<UsersDoc> parsed = ParseUsersDoc(json);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  ASSERT_EQ(parsed->users.size(), 2U);
  EXPECT_EQ(parsed->users[0].upload_projects, alice.upload_projects);
  EXPECT_EQ(parsed->users[0].session_epoch, 7);
  EXPECT_TRUE(parsed->users[1].upload_projects.empty());
  ASSERT_EQ(parsed->tokens.size(), 2U);
  const TokenInfo& info = parsed->tokens[0].info;
  EXPECT_EQ(info.id, "0123456789abcdef");
  EXPECT_EQ(info.user, "alice");
  EXPECT_EQ(info.name, "ci on \xc3\xa9");
  EXPECT_EQ(info.scope, Role::kUpload);
  EXPECT_EQ(info.projects, std::vector<std::string>{"alpha"});
  EXPECT_EQ(info.created_micros, 10);
  EXPECT_EQ(info.expires_micros, 20);
  EXPECT_EQ(parsed->tokens[0].hash, std::string(64, 'a'));
  EXPECT_EQ(parsed->tokens[1].info.user, "ghost");
  EXPECT_EQ(SerializeUsersDoc(*parsed), json);
  ASSERT_NE(FindToken(*parsed, "fedcba9876543210"), nullptr);
  EXPECT_EQ(FindToken(*parsed, "fedcba9876543210")->info.scope, Role::kRead);
  EXPECT_EQ(FindToken(*parsed, "0000000000000000"), nullptr);
}

TEST(UsersDocTest, OptionalTokenFieldsDefault) {
  StatusOr<UsersDoc> parsed = ParseUsersDoc(
      R"({"version":1,"users":[],"tokens":[{"id":"0123456789abcdef","user":"a","scope":"read",)"
      R"("hash":")" +
      std::string(64, '0') + R"(","created":1}]})");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  ASSERT_EQ(parsed->tokens.size(), 1U);
  EXPECT_EQ(parsed->tokens[0].info.name, "");
  EXPECT_TRUE(parsed->tokens[0].info.projects.empty());
  EXPECT_EQ(parsed->tokens[0].info.expires_micros, 0);
}

TEST(TokenNameTest, Rules) {
  EXPECT_TRUE(ValidateTokenName("").ok());
  EXPECT_TRUE(ValidateTokenName("ci on main").ok());
  EXPECT_TRUE(ValidateTokenName(std::string(100, 'x')).ok());
  std::string accented;
  for (int i = 0; i < 100; ++i) {
    accented += "\xc3\xa9";  // 100 characters, 200 bytes
  }
  EXPECT_TRUE(ValidateTokenName(accented).ok());
  EXPECT_TRUE(ValidateTokenName("\xe2\x82\xac \xf0\x9f\x94\x91").ok());
  for (const std::string& bad :
       {std::string(101, 'x'), accented + "x", std::string("a\nb"), std::string("tab\t"),
        std::string("nul\0", 4), std::string("del\x7f"), std::string("c1\xc2\x85"),
        std::string("\xff"), std::string("\xc3"), std::string("\xc0\xaf"),
        std::string("\xed\xa0\x80")}) {
    Status status = ValidateTokenName(bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TokenIdTest, Rules) {
  EXPECT_TRUE(IsTokenId("0123456789abcdef"));
  EXPECT_FALSE(IsTokenId("0123456789ABCDEF"));
  EXPECT_FALSE(IsTokenId("0123456789abcde"));
  EXPECT_FALSE(IsTokenId("0123456789abcdefa"));
  EXPECT_FALSE(IsTokenId("0123456789abcdeg"));
}

TEST(ProjectNamesTest, NormalizedSortedUnique) {
  StatusOr<std::vector<std::string>> names =
      NormalizeProjectNames({"Foo_Bar", "foo.bar", "zeta", "FOO--bar", "a"});
  ASSERT_TRUE(names.has_value()) << names.error();
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "foo-bar", "zeta"}));
  EXPECT_TRUE(NormalizeProjectNames({})->empty());
  for (const char* bad : {"", "-foo", "foo-", "foo bar", "f\xc3\xb6o", "foo\n"}) {
    StatusOr<std::vector<std::string>> result = NormalizeProjectNames({"ok", bad});
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument) << bad;
  }
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
      // Project limits, session epochs.
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":1,)"
      R"("upload_projects":["x"]}]})",
      R"({"version":1,"users":[{"name":"a","role":"admin","hash":"h","created":1,)"
      R"("upload_projects":["x"]}]})",
      R"({"version":1,"users":[{"name":"a","role":"upload","hash":"h","created":1,)"
      R"("upload_projects":"x"}]})",
      R"({"version":1,"users":[{"name":"a","role":"upload","hash":"h","created":1,)"
      R"("upload_projects":["Foo"]}]})",
      R"({"version":1,"users":[{"name":"a","role":"upload","hash":"h","created":1,)"
      R"("upload_projects":[1]}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":1,)"
      R"("session_epoch":"1"}]})",
      R"({"version":1,"users":[{"name":"a","role":"read","hash":"h","created":1,)"
      R"("session_epoch":-1}]})",
      // Tokens.
      R"({"version":1,"users":[],"tokens":{}})",
      R"({"version":1,"users":[],"tokens":[1]})",
  };
  for (const std::string& text : std::vector<std::string>(std::begin(bad), std::end(bad))) {
    StatusOr<UsersDoc> parsed = ParseUsersDoc(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInternal) << text;
    EXPECT_EQ(parsed.error().message().rfind("auth/users.json: ", 0), 0U) << parsed.error();
  }
}

TEST(UsersDocTest, MalformedTokensAreInternal) {
  const std::string hash = std::string(64, 'a');
  // A good token with one field replaced (or removed, with a null replacement).
  auto with = [&](const std::string& field, const std::string& replacement) {
    std::vector<std::pair<std::string, std::string>> fields = {{"id", R"("0123456789abcdef")"},
                                                               {"user", R"("alice")"},
                                                               {"name", R"("ci")"},
                                                               {"scope", R"("read")"},
                                                               {"projects", R"(["x"])"},
                                                               {"hash", "\"" + hash + "\""},
                                                               {"created", "1"},
                                                               {"expires", "0"}};
    std::string token = "{";
    for (const auto& [name, value] : fields) {
      const std::string& shown = name == field ? replacement : value;
      if (shown == "null") {
        continue;
      }
      token += (token.size() > 1 ? "," : "") + ("\"" + name + "\":") + shown;
    }
    return R"({"version":1,"users":[],"tokens":[)" + token + "}]}";
  };
  ASSERT_TRUE(ParseUsersDoc(with("", "")).has_value()) << ParseUsersDoc(with("", "")).error();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"id", "null"},
      {"id", R"("0123456789ABCDEF")"},
      {"id", R"("0123")"},
      {"id", "5"},
      {"user", "null"},
      {"user", R"("a b")"},
      {"user", R"("__token__")"},
      {"name", R"("a\nb")"},
      {"name", "3"},
      {"scope", "null"},
      {"scope", R"("admin")"},
      {"scope", R"("none")"},
      {"projects", R"(["X"])"},
      {"projects", R"("x")"},
      {"hash", "null"},
      {"hash", R"("abc")"},
      {"hash", "\"" + std::string(64, 'A') + "\""},
      {"created", "null"},
      {"created", R"("1")"},
      {"expires", "-1"},
      {"expires", "1.5"},
  };
  for (const auto& [field, value] : bad) {
    const std::string text = with(field, value);
    StatusOr<UsersDoc> parsed = ParseUsersDoc(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInternal) << text;
    EXPECT_EQ(parsed.error().message().rfind("auth/users.json: tokens[0]", 0), 0U)
        << parsed.error();
  }
  // Duplicate ids.
  std::string twice = with("", "");
  const std::size_t open = twice.find("[{");
  const std::size_t close = twice.rfind("}]");
  const std::string token = twice.substr(open + 1, close - open);
  twice.insert(close + 1, "," + token);
  StatusOr<UsersDoc> parsed = ParseUsersDoc(twice);
  ASSERT_FALSE(parsed.has_value()) << twice;
  EXPECT_NE(parsed.error().message().find("duplicate id"), std::string::npos) << parsed.error();
}

}  // namespace
}  // namespace pydepot::auth::internal
