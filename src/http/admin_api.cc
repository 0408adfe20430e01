// The JSON admin API under /api/ (docs/admin-api.md). Requests and answers are JSON; errors are
// {"message","code","title"} as for every other route. Authentication as everywhere (basic auth
// with a password, or a browser session plus the X-CSRF-Token header for changes); API tokens
// are refused here, since they are for installing and uploading.
#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <optional>

#include <boost/json.hpp>

#include "base/strings.h"
#include "doc/project.h"
#include "http/form.h"
#include "http/handlers.h"
#include "http/handlers_internal.h"
#include "model/project_name.h"
#include "ops/audit.h"

namespace pydepot::http {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace json = boost::json;

namespace {

constexpr std::string_view kJson = "application/json";

Response ApiError(unsigned status, std::string_view message) {
  return ErrorResponse(status, message, kJson);
}

Response NoContent() {
  Response res;
  res.status = 204;
  res.SetHeader("Cache-Control", "private, no-store");
  return res;
}

Response ApiStatus(const Status& status) {
  const unsigned code = HttpStatusFor(status);
  if (code >= 500) {
    return ApiError(code, "The store is unavailable right now; retry.");
  }
  return ApiError(code, status.message());
}

json::array ToJson(const std::vector<std::string>& values) {
  json::array out;
  for (const std::string& v : values) {
    out.emplace_back(v);
  }
  return out;
}

json::value TimeOrNull(std::int64_t micros) {
  return micros <= 0 ? json::value(nullptr) : json::value(doc::FormatUploadTime(micros));
}

json::object UserJson(const auth::UserInfo& user) {
  return {{"name", user.name},
          {"role", auth::RoleName(user.role)},
          {"upload_projects", ToJson(user.upload_projects)},
          {"created", TimeOrNull(user.created_micros)}};
}

json::object TokenJson(const auth::TokenInfo& token) {
  return {{"id", token.id},
          {"user", token.user},
          {"name", token.name},
          {"scope", auth::RoleName(token.scope)},
          {"projects", ToJson(token.projects)},
          {"created", TimeOrNull(token.created_micros)},
          {"expires", TimeOrNull(token.expires_micros)}};
}

// "application/json", in any case, with or without parameters such as a charset.
bool IsJsonMediaType(std::string_view content_type) {
  return AsciiEqualsIgnoreCase(TrimHeaderBlanks(content_type.substr(0, content_type.find(';'))),
                               kJson);
}

// The request body as a JSON object. An empty body is an empty object.
StatusOr<json::object> BodyObject(const RequestHead& head) {
  if (head.body.empty()) {
    return json::object();
  }
  json::error_code ec;
  json::value value = json::parse(head.body, ec);
  if (ec || !value.is_object()) {
    return InvalidArgumentError("The request body must be a JSON object.");
  }
  return std::move(value.as_object());
}

// Reads an optional string field: "" when absent; kInvalidArgument when not a string.
StatusOr<std::string> StringField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) {
    return std::string();
  }
  if (!value->is_string()) {
    return InvalidArgumentError(std::string(name) + ": must be a string");
  }
  return std::string(value->get_string());
}

// Reads an optional list of strings.
StatusOr<std::vector<std::string>> StringList(const json::object& object, std::string_view name) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) {
    return out;
  }
  if (!value->is_array()) {
    return InvalidArgumentError(std::string(name) + ": must be a list of strings");
  }
  for (const json::value& item : value->get_array()) {
    if (!item.is_string()) {
      return InvalidArgumentError(std::string(name) + ": must be a list of strings");
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

// The first error among the fields read (a StatusOr's error() is OK when it holds a value).
Status FirstError(std::initializer_list<Status> statuses) {
  for (const Status& s : statuses) {
    if (!s.ok()) {
      return s;
    }
  }
  return OkStatus();
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Response Handlers::RouteApi(const RequestHead& head, const std::vector<std::string>& segments,
                            Mode& mode) {
  if (mode.memory_only) {
    mode.would_block = true;
    return ErrorResponse(503, "retry");
  }
  auto identified = Identify(head, mode);
  if (auto* refused = std::get_if<Response>(&identified)) {
    return std::move(*refused);
  }
  const Principal& who = std::get<Principal>(identified);
  if (who.user.empty()) {
    Response res = ApiError(401,
                            "Authentication required: send your user name and password "
                            "(HTTP basic auth).");
    res.SetHeader("WWW-Authenticate", std::string(kRealm));
    return res;
  }
  if (!who.token_id.empty()) {
    return ApiError(403, "API tokens cannot use the admin API: use a password.");
  }
  const std::string& method = head.method;
  const bool is_get = method == "GET" || method == "HEAD";
  if (!is_get) {
    if (auto refused = CheckCsrf(head, who, head.Header("X-CSRF-Token"))) {
      return ApiError(403, "Missing or wrong X-CSRF-Token header, or a cross-site request.");
    }
  }
  // A form another site posts always names its own media type (urlencoded, multipart or
  // text/plain, whose body can be made to look like JSON), and browsers send such posts with
  // the basic credentials they remember; JSON from another site needs a CORS preflight, which
  // this server never grants. So a change's media type, when named, must be JSON. curl -X POST
  // without a body names none and keeps working.
  if (!is_get && !head.Header("Content-Type").empty() &&
      !IsJsonMediaType(head.Header("Content-Type"))) {
    return ApiError(415,
                    "Send the request body as JSON, with the header Content-Type: "
                    "application/json (curl: -H 'Content-Type: application/json' or --json).");
  }
  auto body = BodyObject(head);
  if (!body.has_value()) {
    return ApiStatus(body.error());
  }
  const bool admin = who.everywhere >= auth::Role::kAdmin;
  const std::size_t n = segments.size();
  // The audit trail (docs/operations.md): each change, once it succeeded.
  auto audit = [&](std::string action, std::string target) {
    ops::RecordAudit(index_.storage(), {.actor = ops::AuditActor(who.user, who.token_id),
                                        .action = std::move(action),
                                        .target = std::move(target),
                                        .address = head.remote_address});
  };

  // Tokens: any account manages its own; administrators everyone's.
  if (n >= 2 && segments[1] == "tokens") {
    if (n == 2 && is_get) {
      auto query = ParseUrlEncoded(QueryOf(head.target));
      std::string user = query ? std::string(FormValue(*query, "user")) : std::string();
      if (!admin) {
        user = who.user;
      }
      auto tokens = authenticator_.ListTokens(user);
      if (!tokens.has_value()) {
        return ApiStatus(tokens.error());
      }
      json::array out;
      for (const auth::TokenInfo& token : *tokens) {
        out.push_back(TokenJson(token));
      }
      return JsonResponse(200, json::serialize(json::object{{"tokens", std::move(out)}}));
    }
    if (n == 2 && method == "POST") {
      auto user = StringField(*body, "user");
      auto name = StringField(*body, "name");
      auto scope_text = StringField(*body, "scope");
      auto projects = StringList(*body, "projects");
      if (Status bad =
              FirstError({user.error(), name.error(), scope_text.error(), projects.error()});
          !bad.ok()) {
        return ApiStatus(bad);
      }
      std::string owner = user->empty() ? who.user : *user;
      if (owner != who.user && !admin) {
        return ApiError(403, "Only administrators can create tokens for other users.");
      }
      auto scope = auth::ParseRole(scope_text->empty() ? "read" : *scope_text);
      if (!scope.has_value()) {
        return ApiStatus(scope.error());
      }
      std::int64_t expires = 0;
      if (const json::value* days = body->if_contains("expires_days");
          days != nullptr && !days->is_null()) {
        if (!days->is_int64() || days->get_int64() < 1 || days->get_int64() > 3650) {
          return ApiError(400, "expires_days: a whole number from 1 to 3650 (or null: never)");
        }
        expires = NowMicros() + days->get_int64() * std::int64_t{86400} * 1000000;
      }
      auto created = authenticator_.CreateToken(owner, *name, *scope, *projects, expires);
      if (!created.has_value()) {
        return ApiStatus(created.error());
      }
      audit("token-create", created->info.id + " (user " + owner + ")");
      json::object out = TokenJson(created->info);
      out["token"] = created->secret;
      return JsonResponse(201, json::serialize(out));
    }
    if (n == 3 && (is_get || method == "DELETE")) {
      auto token = authenticator_.GetToken(segments[2]);
      if (!token.has_value() || (token->user != who.user && !admin)) {
        return token.has_value() || token.error().code() == StatusCode::kNotFound
                   ? ApiError(404, "No such token.")
                   : ApiStatus(token.error());
      }
      if (is_get) {
        return JsonResponse(200, json::serialize(TokenJson(*token)));
      }
      if (Status revoked = authenticator_.RevokeToken(segments[2]); !revoked.ok()) {
        return ApiStatus(revoked);
      }
      audit("token-revoke", segments[2] + " (user " + token->user + ")");
      return NoContent();
    }
    return ApiError(n <= 3 ? 405 : 404, n <= 3 ? "Method not allowed here." : "Not found.");
  }

  // Everything else is for administrators.
  if (!admin) {
    return ApiError(403, "User '" + who.user + "' may not do this (admin only).");
  }

  if (n >= 2 && segments[1] == "users") {
    if (n == 2 && is_get) {
      auto users = authenticator_.ListUsers();
      if (!users.has_value()) {
        return ApiStatus(users.error());
      }
      json::array out;
      for (const auth::UserInfo& user : *users) {
        out.push_back(UserJson(user));
      }
      return JsonResponse(200, json::serialize(json::object{{"users", std::move(out)}}));
    }
    auto role_text = StringField(*body, "role");
    auto password = StringField(*body, "password");
    auto projects = StringList(*body, "upload_projects");
    if (Status bad = FirstError({role_text.error(), password.error(), projects.error()});
        !bad.ok()) {
      return ApiStatus(bad);
    }
    if (n == 2 && method == "POST") {
      auto name = StringField(*body, "name");
      if (!name.has_value()) {
        return ApiStatus(name.error());
      }
      auto role = auth::ParseRole(role_text->empty() ? "read" : *role_text);
      if (!role.has_value()) {
        return ApiStatus(role.error());
      }
      if (Status added = authenticator_.AddUser(*name, *password, *role, *projects); !added.ok()) {
        return ApiStatus(added);
      }
      audit("user-add", *name);
      return JsonResponse(201, json::serialize(json::object{{"name", *name}}));
    }
    if (n == 3 && method == "PATCH") {
      // Every field is checked before any is applied: a refused request changes nothing.
      const bool change_role = !role_text->empty() || body->contains("upload_projects");
      std::optional<auth::Role> role;
      std::vector<std::string> limit;
      if (change_role) {
        auto users = authenticator_.ListUsers();
        if (!users.has_value()) {
          return ApiStatus(users.error());
        }
        auto it = std::find_if(users->begin(), users->end(),
                               [&](const auth::UserInfo& u) { return u.name == segments[2]; });
        if (it == users->end()) {
          return ApiError(404, "No such user.");
        }
        auto parsed =
            role_text->empty() ? StatusOr<auth::Role>(it->role) : auth::ParseRole(*role_text);
        if (!parsed.has_value()) {
          return ApiStatus(parsed.error());
        }
        role = *parsed;
        limit = body->contains("upload_projects") ? *projects : it->upload_projects;
        if (*role != auth::Role::kUpload) {
          limit.clear();
        }
      }
      if (!password->empty()) {
        if (Status set = authenticator_.SetPassword(segments[2], *password); !set.ok()) {
          return ApiStatus(set);
        }
        audit("user-password", segments[2]);
      }
      if (role.has_value()) {
        if (Status set = authenticator_.SetRole(segments[2], *role, limit); !set.ok()) {
          return ApiStatus(set);
        }
        audit("user-role", segments[2] + " " + std::string(auth::RoleName(*role)));
      }
      return NoContent();
    }
    if (n == 3 && method == "DELETE") {
      if (segments[2] == who.user) {
        return ApiError(400, "You cannot delete the account you are using.");
      }
      if (Status removed = authenticator_.RemoveUser(segments[2]); !removed.ok()) {
        return ApiStatus(removed);
      }
      audit("user-remove", segments[2]);
      return NoContent();
    }
    return ApiError(n <= 3 ? 405 : 404, n <= 3 ? "Method not allowed here." : "Not found.");
  }

  if (n >= 3 && segments[1] == "projects") {
    const std::string project = model::NormalizeProjectName(segments[2]);
    if (n == 3 && method == "DELETE") {
      Status done = index_.DeleteProject(project);
      if (done.ok()) {
        audit("delete-project", project);
      }
      return done.ok() ? NoContent() : ApiStatus(done);
    }
    if (n == 4 && segments[3] == "claim" && method == "POST") {
      auto created = index_.Claim(segments[2]);
      if (!created.has_value()) {
        return ApiStatus(created.error());
      }
      if (*created) {
        audit("claim", project);
      }
      return JsonResponse(*created ? 201 : 200,
                          json::serialize(json::object{{"name", project}, {"claimed", *created}}));
    }
    if (n == 4 && segments[3] == "upstream" && (method == "POST" || method == "PUT")) {
      const json::value* allowed = body->if_contains("allowed");
      if (allowed == nullptr || !allowed->is_bool()) {
        return ApiError(400, "Send {\"allowed\": true} or {\"allowed\": false}.");
      }
      Status done = index_.SetUpstreamAllowed(project, allowed->get_bool());
      return done.ok() ? NoContent() : ApiStatus(done);
    }
    if (n == 3 && is_get) {
      auto view = index_.GetProject(project);
      if (!view.has_value()) {
        return ApiStatus(view.error());
      }
      return JsonResponse(200, doc::EncodeProjectDoc((*view)->doc));
    }
    if (n == 5 && segments[3] == "files" && method == "DELETE") {
      Status done = index_.DeleteFile(project, segments[4]);
      if (done.ok()) {
        audit("delete-file", project + "/" + segments[4]);
      }
      return done.ok() ? NoContent() : ApiStatus(done);
    }
    if (n == 5 && segments[3] == "releases" && method == "DELETE") {
      Status done = index_.DeleteRelease(project, segments[4]);
      if (done.ok()) {
        audit("delete-release", project + " " + segments[4]);
      }
      return done.ok() ? NoContent() : ApiStatus(done);
    }
    if (n == 6 && segments[3] == "releases" && method == "POST" &&
        (segments[5] == "yank" || segments[5] == "unyank")) {
      auto reason = StringField(*body, "reason");
      if (!reason.has_value()) {
        return ApiStatus(reason.error());
      }
      Status done = segments[5] == "yank" ? index_.Yank(project, segments[4], *reason)
                                          : index_.Unyank(project, segments[4]);
      if (done.ok()) {
        audit(segments[5], project + " " + segments[4]);
      }
      return done.ok() ? NoContent() : ApiStatus(done);
    }
    return ApiError(404, "Not found, or not allowed with this method.");
  }
  return ApiError(404, "Not found: see docs/admin-api.md for the routes.");
}

}  // namespace pydepot::http
