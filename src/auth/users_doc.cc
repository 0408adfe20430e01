#include "auth/users_doc.h"

#include <sodium.h>

#include <algorithm>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "storage/keys.h"

namespace pydepot::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kUpload:
      return "upload";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

StatusOr<Role> ParseRole(std::string_view name) {
  for (Role role : {Role::kRead, Role::kUpload, Role::kAdmin}) {
    if (name == RoleName(role)) {
      return role;
    }
  }
  return InvalidArgumentError("role: must be read, upload or admin");
}

std::ostream& operator<<(std::ostream& os, Role role) { return os << RoleName(role); }

namespace internal {
namespace {

namespace json = boost::json;

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '-';
}

Status DocError(std::string_view why) {
  return InternalError(storage::UsersKey() + ": " + std::string(why));
}

const json::value* Field(const json::object& object, std::string_view name) {
  return object.if_contains(name);
}

StatusOr<UserRecord> ParseUser(const json::value& value, std::size_t index) {
  const std::string where = "users[" + std::to_string(index) + "]";
  const json::object* object = value.if_object();
  if (object == nullptr) {
    return DocError(where + ": not an object");
  }
  UserRecord user;
  const json::value* name = Field(*object, "name");
  if (name == nullptr || !name->is_string()) {
    return DocError(where + ".name: missing or not a string");
  }
  user.name = std::string(name->get_string());
  if (Status s = ValidateUserName(user.name); !s.ok()) {
    return DocError(where + ".name: " + s.message());
  }
  const json::value* role = Field(*object, "role");
  if (role == nullptr || !role->is_string()) {
    return DocError(where + ".role: missing or not a string");
  }
  StatusOr<Role> parsed_role = ParseRole(role->get_string());
  if (!parsed_role.has_value()) {
    return DocError(where + ".role: " + parsed_role.error().message());
  }
  user.role = *parsed_role;
  const json::value* hash = Field(*object, "hash");
  if (hash == nullptr || !hash->is_string() || hash->get_string().empty() ||
      hash->get_string().size() >= crypto_pwhash_STRBYTES) {
    return DocError(where + ".hash: missing or not a password hash string");
  }
  user.hash = std::string(hash->get_string());
  const json::value* created = Field(*object, "created");
  if (created == nullptr) {
    return DocError(where + ".created: missing");
  }
  json::error_code ec;
  user.created_micros = created->to_number<std::int64_t>(ec);
  if (ec) {
    return DocError(where + ".created: not an integer");
  }
  return user;
}

}  // namespace

Status ValidateUserName(std::string_view name) {
  if (name == kTokenUserName) {
    return InvalidArgumentError("user name: \"__token__\" is reserved for API tokens");
  }
  if (name.empty() || name.size() > kMaxUserNameLength ||
      !std::all_of(name.begin(), name.end(), IsNameChar)) {
    return InvalidArgumentError("user name: must be 1-64 characters of A-Z a-z 0-9 . _ @ -");
  }
  return OkStatus();
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return InvalidArgumentError("password: must be 8 to 1024 bytes long");
  }
  return OkStatus();
}

StatusOr<UsersDoc> ParseUsersDoc(std::string_view text) {
  json::error_code ec;
  const json::value root = json::parse(text, ec);
  if (ec) {
    return DocError("not valid JSON: " + ec.message());
  }
  const json::object* object = root.if_object();
  if (object == nullptr) {
    return DocError("not a JSON object");
  }
  const json::value* version = Field(*object, "version");
  if (version == nullptr || !version->is_int64() || version->get_int64() != kUsersDocVersion) {
    return DocError("unsupported version (want 1)");
  }
  const json::value* users = Field(*object, "users");
  if (users == nullptr || !users->is_array()) {
    return DocError("users: missing or not an array");
  }
  UsersDoc doc;
  std::set<std::string, std::less<>> names;
  const json::array& array = users->get_array();
  doc.users.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    StatusOr<UserRecord> user = ParseUser(array[i], i);
    if (!user.has_value()) {
      return user.error();
    }
    if (!names.insert(user->name).second) {
      return DocError("users[" + std::to_string(i) + "]: duplicate name " + user->name);
    }
    doc.users.push_back(*std::move(user));
  }
  return doc;
}

std::string SerializeUsersDoc(const UsersDoc& doc) {
  json::array users;
  users.reserve(doc.users.size());
  for (const UserRecord& user : doc.users) {
    users.push_back(json::object{
        {"name", user.name},
        {"role", RoleName(user.role)},
        {"hash", user.hash},
        {"created", user.created_micros},
    });
  }
  json::object root{{"version", kUsersDocVersion}, {"users", std::move(users)}};
  return json::serialize(root);
}

const UserRecord* FindUser(const UsersDoc& doc, std::string_view name) {
  auto it = std::find_if(doc.users.begin(), doc.users.end(),
                         [name](const UserRecord& user) { return user.name == name; });
  return it == doc.users.end() ? nullptr : &*it;
}

UserRecord* FindUser(UsersDoc& doc, std::string_view name) {
  auto it = std::find_if(doc.users.begin(), doc.users.end(),
                         [name](const UserRecord& user) { return user.name == name; });
  return it == doc.users.end() ? nullptr : &*it;
}

}  // namespace internal
}  // namespace pydepot::auth
