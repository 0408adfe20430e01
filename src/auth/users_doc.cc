#include "auth/users_doc.h"

#include <sodium.h>

#include <algorithm>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "model/project_name.h"
#include "storage/keys.h"

namespace pydepot::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
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

Role Access::On(std::string_view project) const {
  auto it = per_project.find(project);
  return it == per_project.end() ? everywhere : it->second;
}

namespace internal {
namespace {

namespace json = boost::json;

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '-';
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status DocError(std::string_view why) {
  return InternalError(storage::UsersKey() + ": " + std::string(why));
}

const json::value* Field(const json::object& object, std::string_view name) {
  return object.if_contains(name);
}

// Reads an integer field into `out`; an absent field is an error when `required`, else leaves
// `out` as it is.
Status ReadInt(const json::object& object, std::string_view name, const std::string& where,
               bool required, std::int64_t& out) {
  const json::value* value = Field(object, name);
  if (value == nullptr) {
    if (required) {
      return DocError(where + "." + std::string(name) + ": missing");
    }
    return OkStatus();
  }
  json::error_code ec;
  out = value->to_number<std::int64_t>(ec);
  if (ec) {
    return DocError(where + "." + std::string(name) + ": not an integer");
  }
  return OkStatus();
}

// An optional array of normalized project names; stored sorted and unique.
Status ReadProjects(const json::object& object, std::string_view name, const std::string& where,
                    std::vector<std::string>& out) {
  const json::value* value = Field(object, name);
  if (value == nullptr) {
    return OkStatus();
  }
  const std::string field = where + "." + std::string(name);
  if (!value->is_array()) {
    return DocError(field + ": not an array");
  }
  for (const json::value& item : value->get_array()) {
    if (!item.is_string() || !model::IsNormalizedProjectName(item.get_string())) {
      return DocError(field + ": not a normalized project name");
    }
    out.emplace_back(item.get_string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return OkStatus();
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
  if (Status s = ReadInt(*object, "created", where, true, user.created_micros); !s.ok()) {
    return s;
  }
  if (Status s = ReadProjects(*object, "upload_projects", where, user.upload_projects); !s.ok()) {
    return s;
  }
  if (!user.upload_projects.empty() && user.role != Role::kUpload) {
    return DocError(where + ".upload_projects: only a user with the upload role has them");
  }
  if (Status s = ReadInt(*object, "session_epoch", where, false, user.session_epoch); !s.ok()) {
    return s;
  }
  if (user.session_epoch < 0) {
    return DocError(where + ".session_epoch: negative");
  }
  return user;
}

StatusOr<TokenRecord> ParseToken(const json::value& value, std::size_t index) {
  const std::string where = "tokens[" + std::to_string(index) + "]";
  const json::object* object = value.if_object();
  if (object == nullptr) {
    return DocError(where + ": not an object");
  }
  TokenRecord token;
  const json::value* id = Field(*object, "id");
  if (id == nullptr || !id->is_string() || !IsTokenId(id->get_string())) {
    return DocError(where + ".id: missing or not 16 lowercase hex digits");
  }
  token.info.id = std::string(id->get_string());
  const json::value* user = Field(*object, "user");
  if (user == nullptr || !user->is_string() || !ValidateUserName(user->get_string()).ok()) {
    return DocError(where + ".user: missing or not a user name");
  }
  token.info.user = std::string(user->get_string());
  if (const json::value* name = Field(*object, "name"); name != nullptr) {
    if (!name->is_string() || !ValidateTokenName(name->get_string()).ok()) {
      return DocError(where + ".name: not a token name");
    }
    token.info.name = std::string(name->get_string());
  }
  const json::value* scope = Field(*object, "scope");
  StatusOr<Role> parsed_scope = InvalidArgumentError("");
  if (scope != nullptr && scope->is_string()) {
    parsed_scope = ParseRole(scope->get_string());
  }
  if (!parsed_scope.has_value() || *parsed_scope == Role::kAdmin) {
    return DocError(where + ".scope: missing or not read or upload");
  }
  token.info.scope = *parsed_scope;
  if (Status s = ReadProjects(*object, "projects", where, token.info.projects); !s.ok()) {
    return s;
  }
  const json::value* hash = Field(*object, "hash");
  if (hash == nullptr || !hash->is_string() ||
      hash->get_string().size() != 2 * crypto_hash_sha256_BYTES ||
      !IsLowerHex(hash->get_string())) {
    return DocError(where + ".hash: missing or not a SHA-256 hex digest");
  }
  token.hash = std::string(hash->get_string());
  if (Status s = ReadInt(*object, "created", where, true, token.info.created_micros); !s.ok()) {
    return s;
  }
  if (Status s = ReadInt(*object, "expires", where, false, token.info.expires_micros); !s.ok()) {
    return s;
  }
  if (token.info.expires_micros < 0) {
    return DocError(where + ".expires: negative");
  }
  return token;
}

json::array ProjectsJson(const std::vector<std::string>& projects) {
  json::array out;
  out.reserve(projects.size());
  for (const std::string& project : projects) {
    out.emplace_back(project);
  }
  return out;
}

// Decodes one UTF-8 sequence at `text[i]`, advancing `i`; false on a malformed sequence
// (overlong forms, surrogates and values above U+10FFFF included).
bool NextCodePoint(std::string_view text, std::size_t& i, char32_t& out) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    out = lead;
    ++i;
    return true;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    out = lead & 0x1F;
    min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    out = lead & 0x0F;
    min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    out = lead & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (text.size() - i < length) {
    return false;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return false;
    }
    out = (out << 6) | (byte(i + k) & 0x3F);
  }
  if (out < min || out > 0x10FFFF || (out >= 0xD800 && out <= 0xDFFF)) {
    return false;
  }
  i += length;
  return true;
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

Status ValidateTokenName(std::string_view name) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < name.size();) {
    char32_t c = 0;
    if (!NextCodePoint(name, i, c) || c < 0x20 || (c >= 0x7F && c <= 0x9F) ||
        ++count > kMaxTokenNameLength) {
      return InvalidArgumentError(
          "token name: must be at most 100 printable characters (UTF-8, no control characters)");
    }
  }
  return OkStatus();
}

bool IsTokenId(std::string_view text) { return text.size() == kTokenIdLength && IsLowerHex(text); }

StatusOr<std::vector<std::string>> NormalizeProjectNames(std::vector<std::string> names) {
  for (std::string& name : names) {
    if (!model::IsValidProjectName(name)) {
      std::string shown = name.size() > 100 ? name.substr(0, 100) + "..." : name;
      return InvalidArgumentError("project '" + shown +
                                  "': not a valid project name (letters, digits, '.', '_' and "
                                  "'-', starting and ending with a letter or digit)");
    }
    name = model::NormalizeProjectName(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
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
  if (const json::value* tokens = Field(*object, "tokens"); tokens != nullptr) {
    if (!tokens->is_array()) {
      return DocError("tokens: not an array");
    }
    std::set<std::string, std::less<>> ids;
    doc.tokens.reserve(tokens->get_array().size());
    for (std::size_t i = 0; i < tokens->get_array().size(); ++i) {
      StatusOr<TokenRecord> token = ParseToken(tokens->get_array()[i], i);
      if (!token.has_value()) {
        return token.error();
      }
      if (!ids.insert(token->info.id).second) {
        return DocError("tokens[" + std::to_string(i) + "]: duplicate id " + token->info.id);
      }
      doc.tokens.push_back(*std::move(token));
    }
  }
  return doc;
}

std::string SerializeUsersDoc(const UsersDoc& doc) {
  json::array users;
  users.reserve(doc.users.size());
  for (const UserRecord& user : doc.users) {
    json::object entry{
        {"name", user.name},
        {"role", RoleName(user.role)},
        {"hash", user.hash},
        {"created", user.created_micros},
    };
    if (!user.upload_projects.empty()) {
      entry["upload_projects"] = ProjectsJson(user.upload_projects);
    }
    if (user.session_epoch != 0) {
      entry["session_epoch"] = user.session_epoch;
    }
    users.push_back(std::move(entry));
  }
  json::object root{{"version", kUsersDocVersion}, {"users", std::move(users)}};
  if (!doc.tokens.empty()) {
    json::array tokens;
    tokens.reserve(doc.tokens.size());
    for (const TokenRecord& token : doc.tokens) {
      tokens.push_back(json::object{
          {"id", token.info.id},
          {"user", token.info.user},
          {"name", token.info.name},
          {"scope", RoleName(token.info.scope)},
          {"projects", ProjectsJson(token.info.projects)},
          {"hash", token.hash},
          {"created", token.info.created_micros},
          {"expires", token.info.expires_micros},
      });
    }
    root["tokens"] = std::move(tokens);
  }
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

const TokenRecord* FindToken(const UsersDoc& doc, std::string_view id) {
  auto it = std::find_if(doc.tokens.begin(), doc.tokens.end(),
                         [id](const TokenRecord& token) { return token.info.id == id; });
  return it == doc.tokens.end() ? nullptr : &*it;
}

}  // namespace internal
}  // namespace pydepot::auth
