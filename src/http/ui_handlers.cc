// The dynamic web UI routes (docs/web-ui.md): the stylesheet, search, login and logout, the
// account page (API tokens) and the manage pages (yank, delete, users). The cached pages (home,
// project) are served by handlers.cc.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>

#include "base/hash.h"
#include "http/form.h"
#include "http/handlers.h"
#include "http/handlers_internal.h"
#include "model/project_name.h"
#include "ops/audit.h"
#include "ops/log.h"
#include "render/render.h"
#include "render/ui.h"

namespace pydepot::http {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr std::chrono::seconds kSessionLifetime{12 * 3600};
constexpr std::int64_t kMicrosPerDay = std::int64_t{86400} * 1000000;

// The page a login returns to: a path relative to the site root, as LoginRedirect sends it.
// Anything that could leave the site (a scheme, "//", a backslash, control characters) gives
// the home page.
std::string SafeNext(std::string_view next) {
  if (next.empty() || next.front() == '/' || next.find("//") != std::string_view::npos ||
      next.find('\\') != std::string_view::npos ||
      std::any_of(next.begin(), next.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return "./";
  }
  const std::size_t colon = next.find(':');
  if (colon != std::string_view::npos && colon < next.find_first_of("/?#")) {
    return "./";  // "javascript:..." or "http:..." before any path separator
  }
  return std::string(next);
}

// The fixed notices a redirect after a form post may ask for (?done=<code>); unknown codes
// show nothing, so no text from a URL is ever shown as a notice.
std::string_view DoneMessage(std::string_view code) {
  static constexpr std::pair<std::string_view, std::string_view> kMessages[] = {
      {"yanked", "Release yanked: installers skip it unless asked for it exactly."},
      {"unyanked", "Yank undone."},
      {"deleted-file", "File deleted. Its filename can never be uploaded again."},
      {"deleted-release", "Release deleted. Its filenames can never be uploaded again."},
      {"token-revoked", "Token revoked."},
      {"user-added", "User added."},
      {"user-updated", "User updated."},
      {"password-set", "Password set. The user's sessions have ended."},
      {"user-deleted", "User deleted, with their tokens."},
  };
  for (const auto& [key, text] : kMessages) {
    if (key == code) {
      return text;
    }
  }
  return {};
}

std::string DoneOf(const RequestHead& head) {
  auto query = ParseUrlEncoded(QueryOf(head.target));
  return query ? std::string(DoneMessage(FormValue(*query, "done"))) : std::string();
}

// Project names separated by blanks or commas.
std::vector<std::string> SplitNames(std::string_view text) {
  std::vector<std::string> names;
  std::string current;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!current.empty()) {
        names.push_back(std::move(current));
        current.clear();
      }
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) {
    names.push_back(std::move(current));
  }
  return names;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string SessionCookie(std::string_view value, bool secure, std::int64_t max_age) {
  std::string cookie = std::string(kSessionCookie) + "=" + std::string(value) +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (secure) {
    cookie += "; Secure";
  }
  return cookie;
}

// True when the browser says a request came from one of this server's own pages:
// `Sec-Fetch-Site: same-origin`, or an Origin naming the host the request was sent to (its Host
// header), with an https origin when the request came over HTTPS. Browsers send both with every
// form post; curl and other scripts send neither, and "Origin: null" proves nothing.
bool ProvenSameOrigin(const RequestHead& head) {
  if (EqualsIgnoreCase(head.Header("Sec-Fetch-Site"), "same-origin")) {
    return true;
  }
  const std::string_view origin = head.Header("Origin");
  const std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) {
    return false;
  }
  const std::string_view scheme = origin.substr(0, scheme_end);
  const std::string_view host = origin.substr(scheme_end + 3);
  const bool scheme_fits =
      EqualsIgnoreCase(scheme, "https") || (!head.secure && EqualsIgnoreCase(scheme, "http"));
  return scheme_fits && !host.empty() && EqualsIgnoreCase(host, head.Header("Host"));
}

// A refusal shown as a page (the browser shows the message), with the status of `status`.
Response StatusPage(const RequestHead& head, const Status& status) {
  const unsigned code = HttpStatusFor(status);
  if (code >= 500) {
    ops::Log(ops::Severity::kError, "ui: " + status.ToString());
    return HtmlResponse(code, render::MessagePageHtml(RootOf(head.target), "Try again",
                                                      "The package store is unavailable right "
                                                      "now; try again in a moment."));
  }
  return HtmlResponse(code,
                      render::MessagePageHtml(RootOf(head.target), "Not done", status.message()));
}

}  // namespace

render::Viewer Handlers::ViewerOf(const RequestHead& head, const Principal& who) {
  render::Viewer viewer;
  viewer.user = who.user;
  viewer.role = who.everywhere;
  viewer.session = who.session;
  if (who.session) {
    auto csrf = authenticator_.CsrfToken(CookieValue(head.Header("Cookie"), kSessionCookie));
    if (csrf.has_value()) {
      viewer.csrf = *std::move(csrf);
    }
  }
  return viewer;
}

std::optional<Response> Handlers::CheckCsrf(const RequestHead& head, const Principal& who,
                                            std::string_view csrf) {
  const std::string root = RootOf(head.target);
  auto refuse = [&](std::string_view why) {
    return HtmlResponse(403, render::MessagePageHtml(root, "Request refused", why));
  };
  // Browsers send Origin with every POST; a request started by another site names that site.
  const std::string_view origin = head.Header("Origin");
  if (!origin.empty()) {
    const std::size_t scheme_end = origin.find("://");
    const std::string_view host =
        scheme_end == std::string_view::npos ? std::string_view() : origin.substr(scheme_end + 3);
    if (host.empty() || !EqualsIgnoreCase(host, head.Header("Host"))) {
      return refuse("Cross-site request refused: this form only works from pydepot's own pages.");
    }
  }
  if (EqualsIgnoreCase(head.Header("Sec-Fetch-Site"), "cross-site")) {
    return refuse("Cross-site request refused: this form only works from pydepot's own pages.");
  }
  if (who.session) {
    auto expected = authenticator_.CsrfToken(CookieValue(head.Header("Cookie"), kSessionCookie));
    if (!expected.has_value() || csrf.empty() || !ConstantTimeEquals(*expected, csrf)) {
      return refuse(
          "The form has expired or did not come from this site: reload the page and "
          "try again.");
    }
  }
  return std::nullopt;
}

std::optional<Response> Handlers::RouteUi(const RequestHead& head,
                                          const std::vector<std::string>& segments,
                                          bool trailing_slash, Mode& mode) {
  if (segments.empty()) {
    return std::nullopt;
  }
  const std::string& first = segments[0];
  const bool is_get = head.method == "GET" || head.method == "HEAD";
  const bool is_post = head.method == "POST";

  if (first == "static") {
    if (segments.size() != 2 || segments[1] != "style.css" || trailing_slash) {
      return ErrorResponse(404, "Not found.");
    }
    if (!is_get) {
      return MethodNotAllowed("GET, HEAD", "The stylesheet is read-only.");
    }
    static const std::shared_ptr<const index::Page> kStyle = [] {
      auto page = std::make_shared<index::Page>();
      page->body = std::string(render::StyleSheet());
      page->etag = "\"style-" + std::to_string(std::hash<std::string>{}(page->body)) + "\"";
      return page;
    }();
    // Public: the login page needs it before anyone is logged in; it holds nothing private.
    return PageResponse(head, kStyle, *kStyle, render::kContentTypeCss, "public, max-age=3600",
                        false);
  }
  const bool known = first == "search" || first == "login" || first == "logout" ||
                     first == "account" || first == "manage";
  if (!known) {
    return std::nullopt;
  }
  // Every dynamic page may wait on the store or a password hash: the blocking pool serves it.
  if (mode.memory_only) {
    mode.would_block = true;
    return ErrorResponse(503, "retry");
  }
  if (!is_get && !is_post) {
    return MethodNotAllowed("GET, HEAD, POST",
                            "Method " + head.method.substr(0, 32) + " is not allowed here.");
  }
  const std::string root = RootOf(head.target);

  // The login form is for anyone; everything else needs to know who is asking.
  if (first == "login" && segments.size() == 1 && !trailing_slash) {
    if (is_get) {
      auto query = ParseUrlEncoded(QueryOf(head.target));
      return HtmlResponse(
          200, render::LoginPageHtml(query ? SafeNext(FormValue(*query, "next")) : "./", ""));
    }
    Principal anonymous;
    if (auto refused = CheckCsrf(head, anonymous, "")) {
      return refused;
    }
    auto form = ParseUrlEncoded(head.body);
    if (!form) {
      return HtmlResponse(400, render::LoginPageHtml("./", "The form could not be read."));
    }
    const std::string user(FormValue(*form, "user"));
    const std::string password(FormValue(*form, "password"));
    const std::string next = SafeNext(FormValue(*form, "next"));
    const auto now = auth::LoginThrottle::Clock::now();
    if (auto verdict = throttle_.Check(head.remote_address, user, now); !verdict.allowed) {
      Response res = HtmlResponse(
          429, render::LoginPageHtml(next, "Too many failed logins; try again in " +
                                               std::to_string(verdict.retry_after.count()) +
                                               " seconds."));
      res.SetHeader("Retry-After", std::to_string(verdict.retry_after.count()));
      return res;
    }
    auto session = authenticator_.StartSession(user, password, kSessionLifetime);
    if (!session.has_value()) {
      if (session.error().code() == StatusCode::kUnauthenticated) {
        throttle_.RecordFailure(head.remote_address, user, now);
        // 403, not 401: a 401 must carry a WWW-Authenticate challenge, and that would make the
        // browser open its own password prompt over the form.
        return HtmlResponse(403, render::LoginPageHtml(next, "Invalid user name or password."));
      }
      return StatusPage(head, session.error());
    }
    Response res = SeeOther(next);
    res.SetHeader("Set-Cookie", SessionCookie(*session, head.secure, kSessionLifetime.count()));
    return res;
  }

  auto identified = Identify(head, mode);
  if (auto* refused = std::get_if<Response>(&identified)) {
    return std::move(*refused);
  }
  const Principal& who = std::get<Principal>(identified);
  // A browser that once answered the basic-auth prompt (the simple API asks for it) sends those
  // credentials with every request to this site, including a form another site posts, and with
  // no session there is no CSRF token to check. So a form posted with basic credentials (a
  // password or a token) must prove it came from pydepot's own pages.
  if (is_post && !who.user.empty() && !who.session && !ProvenSameOrigin(head)) {
    return HtmlResponse(
        403, render::MessagePageHtml(
                 root, "Log in with the form",
                 "This form was sent with basic-auth credentials, and nothing shows that it "
                 "came from pydepot's own pages (no Sec-Fetch-Site: same-origin, no Origin "
                 "naming this server), so nothing was changed. Log in with the form at /login "
                 "to use the manage and account pages (scripts: use the JSON API under "
                 "/api/)."));
  }
  auto form = is_post ? ParseUrlEncoded(head.body) : std::optional<FormFields>(FormFields{});
  if (!form) {
    return HtmlResponse(400, render::MessagePageHtml(root, "Bad form",
                                                     "The form could not be read (it must be "
                                                     "URL-encoded UTF-8)."));
  }
  if (is_post) {
    if (auto refused = CheckCsrf(head, who, FormValue(*form, "csrf"))) {
      return refused;
    }
  }

  if (first == "logout" && segments.size() == 1 && !trailing_slash) {
    if (!is_post) {
      return MethodNotAllowed("POST", "Log out with the button on your account page.");
    }
    if (who.session) {
      if (Status ended = authenticator_.EndSessions(who.user); !ended.ok()) {
        return StatusPage(head, ended);
      }
    }
    Response res = SeeOther("./");
    res.SetHeader("Set-Cookie", SessionCookie("", head.secure, 0));
    return res;
  }

  if (first == "search" && segments.size() == 1 && !trailing_slash) {
    if (!is_get) {
      return MethodNotAllowed("GET, HEAD", "Search with GET.");
    }
    if (auto refused = Require(head, who, auth::Role::kRead, "", true)) {
      return refused;
    }
    auto root_view = LookupRoot(mode);
    if (!root_view.has_value()) {
      return StatusPage(head, root_view.error());
    }
    auto query = ParseUrlEncoded(QueryOf(head.target));
    const std::string q = query ? std::string(FormValue(*query, "q")) : std::string();
    return HtmlResponse(200, render::SearchPageHtml((*root_view)->list, q, ViewerOf(head, who)));
  }

  // The account page and the manage pages need an account.
  if (who.user.empty()) {
    if (is_get) {
      return LoginRedirect(head);
    }
    return HtmlResponse(403, render::MessagePageHtml(root, "Log in first",
                                                     "Log in to do this (your session may have "
                                                     "ended)."));
  }

  if (first == "account") {
    if (!who.token_id.empty()) {
      return HtmlResponse(403, render::MessagePageHtml(
                                   root, "Not with a token",
                                   "API tokens cannot manage tokens: log in with your password."));
    }
    if (segments.size() == 1) {
      if (!trailing_slash) {
        return Redirect("account/");
      }
      if (!is_get) {
        return MethodNotAllowed("GET, HEAD", "Use the forms on the page.");
      }
      auto tokens = authenticator_.ListTokens(who.user);
      if (!tokens.has_value()) {
        return StatusPage(head, tokens.error());
      }
      return HtmlResponse(200,
                          render::AccountPageHtml(ViewerOf(head, who), *tokens, "", DoneOf(head)));
    }
    if (!is_post) {
      return MethodNotAllowed("POST", "Use the forms on your account page.");
    }
    if (segments.size() == 2 && segments[1] == "tokens") {
      StatusOr<auth::Role> scope = auth::ParseRole(FormValue(*form, "scope"));
      std::int64_t expires = 0;
      const std::string_view days_text = FormValue(*form, "expires_days");
      Status problem;
      if (!scope.has_value()) {
        problem = scope.error();
      } else if (!days_text.empty()) {
        int days = 0;
        auto [ptr, ec] =
            std::from_chars(days_text.data(), days_text.data() + days_text.size(), days);
        if (ec != std::errc() || ptr != days_text.data() + days_text.size() || days < 1 ||
            days > 3650) {
          problem = InvalidArgumentError(
              "expires in: a whole number of days from 1 to 3650, or "
              "empty for never");
        } else {
          expires = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() +
                    days * kMicrosPerDay;
        }
      }
      StatusOr<auth::NewToken> created = problem;
      if (problem.ok()) {
        created = authenticator_.CreateToken(who.user, FormValue(*form, "name"), *scope,
                                             SplitNames(FormValue(*form, "projects")), expires);
      }
      auto tokens = authenticator_.ListTokens(who.user);
      if (!tokens.has_value()) {
        return StatusPage(head, tokens.error());
      }
      if (!created.has_value()) {
        if (HttpStatusFor(created.error()) >= 500) {
          return StatusPage(head, created.error());
        }
        return HtmlResponse(
            HttpStatusFor(created.error()),
            render::AccountPageHtml(ViewerOf(head, who), *tokens, "", created.error().message()));
      }
      ops::RecordAudit(index_.storage(), {.actor = ops::AuditActor(who.user, who.token_id),
                                          .action = "token-create",
                                          .target = created->info.id + " (user " + who.user + ")",
                                          .address = head.remote_address});
      // Shown once, in this answer: no redirect, the secret is not kept anywhere.
      return HtmlResponse(
          200, render::AccountPageHtml(ViewerOf(head, who), *tokens, created->secret,
                                       "Token created. Copy it now: it is not shown again."));
    }
    if (segments.size() == 4 && segments[1] == "tokens" && segments[3] == "revoke") {
      auto token = authenticator_.GetToken(segments[2]);
      const bool admin = who.everywhere >= auth::Role::kAdmin;
      if (!token.has_value() || (token->user != who.user && !admin)) {
        if (token.has_value() || token.error().code() == StatusCode::kNotFound) {
          return HtmlResponse(
              404, render::MessagePageHtml(root, "No such token", "There is no such token."));
        }
        return StatusPage(head, token.error());
      }
      if (Status revoked = authenticator_.RevokeToken(segments[2]); !revoked.ok()) {
        return StatusPage(head, revoked);
      }
      ops::RecordAudit(index_.storage(), {.actor = ops::AuditActor(who.user, who.token_id),
                                          .action = "token-revoke",
                                          .target = segments[2] + " (user " + token->user + ")",
                                          .address = head.remote_address});
      return SeeOther(token->user == who.user ? "../../?done=token-revoked"
                                              : "../../../manage/users/?done=token-revoked");
    }
    return ErrorResponse(404, "Not found.");
  }

  // first == "manage": administrators only.
  if (auto refused = Require(head, who, auth::Role::kAdmin, "", true)) {
    return HtmlResponse(refused->status,
                        render::MessagePageHtml(root, "Administrators only",
                                                "Only administrators can manage the index."));
  }
  if (segments.size() >= 3 && segments[1] == "project") {
    const std::string project = model::NormalizeProjectName(segments[2]);
    if (segments.size() == 3) {
      if (project != segments[2] || !trailing_slash) {
        return Redirect(RootOf(head.target) + "manage/project/" + render::PercentEncode(project) +
                        "/");
      }
      if (!is_get) {
        return MethodNotAllowed("GET, HEAD", "Use the forms on the page.");
      }
      auto view = index_.GetProject(project);
      if (!view.has_value()) {
        return StatusPage(head, view.error());
      }
      return HtmlResponse(
          200, render::ManageProjectPageHtml(ViewerOf(head, who), (*view)->doc, DoneOf(head)));
    }
    if (segments.size() != 4 || trailing_slash || !is_post) {
      return ErrorResponse(404, "Not found.");
    }
    const std::string& action = segments[3];
    Status done;
    std::string code;
    if (action == "yank") {
      done = index_.Yank(project, FormValue(*form, "version"), FormValue(*form, "reason"));
      code = "yanked";
    } else if (action == "unyank") {
      done = index_.Unyank(project, FormValue(*form, "version"));
      code = "unyanked";
    } else if (action == "delete-file") {
      done = index_.DeleteFile(project, FormValue(*form, "filename"));
      code = "deleted-file";
    } else if (action == "delete-release") {
      done = index_.DeleteRelease(project, FormValue(*form, "version"));
      code = "deleted-release";
    } else if (action == "delete-project") {
      if (model::NormalizeProjectName(FormValue(*form, "confirm")) != project) {
        done = InvalidArgumentError("To delete the project, type its name (" + project +
                                    ") in the box.");
      } else {
        done = index_.DeleteProject(project);
        code = "deleted-project";
      }
    } else {
      return ErrorResponse(404, "Not found.");
    }
    if (!done.ok()) {
      if (HttpStatusFor(done) >= 500 || done.code() == StatusCode::kNotFound) {
        return StatusPage(head, done);
      }
      auto view = index_.GetProject(project);
      if (!view.has_value()) {
        return StatusPage(head, done);
      }
      return HtmlResponse(
          HttpStatusFor(done),
          render::ManageProjectPageHtml(ViewerOf(head, who), (*view)->doc, done.message()));
    }
    const std::string_view audit_target = action == "delete-file" ? FormValue(*form, "filename")
                                          : action == "delete-project"
                                              ? std::string_view()
                                              : FormValue(*form, "version");
    ops::RecordAudit(index_.storage(), {.actor = ops::AuditActor(who.user, who.token_id),
                                        .action = action,
                                        .target = project + (audit_target.empty() ? "" : " ") +
                                                  std::string(audit_target),
                                        .address = head.remote_address});
    if (code == "deleted-project") {
      return HtmlResponse(
          200, render::MessagePageHtml(root, "Project deleted",
                                       "Project " + project +
                                           " was deleted. Its filenames can never be uploaded "
                                           "again; the name itself can be used again."));
    }
    return SeeOther("./?done=" + code);
  }
  if (segments.size() >= 2 && segments[1] == "users") {
    if (segments.size() == 2) {
      if (!trailing_slash) {
        return Redirect("users/");
      }
      if (!is_get) {
        return MethodNotAllowed("GET, HEAD", "Use the forms on the page.");
      }
      auto users = authenticator_.ListUsers();
      if (!users.has_value()) {
        return StatusPage(head, users.error());
      }
      auto tokens = authenticator_.ListTokens("");
      if (!tokens.has_value()) {
        return StatusPage(head, tokens.error());
      }
      return HtmlResponse(
          200, render::ManageUsersPageHtml(ViewerOf(head, who), *users, *tokens, DoneOf(head)));
    }
    if (!is_post || trailing_slash) {
      return ErrorResponse(404, "Not found.");
    }
    Status done;
    std::string back = "./?done=";
    if (segments.size() == 3 && segments[2] == "add") {
      StatusOr<auth::Role> role = auth::ParseRole(FormValue(*form, "role"));
      done = role.has_value()
                 ? authenticator_.AddUser(FormValue(*form, "name"), FormValue(*form, "password"),
                                          *role, SplitNames(FormValue(*form, "projects")))
                 : role.error();
      back += "user-added";
    } else if (segments.size() == 4 && segments[3] == "role") {
      StatusOr<auth::Role> role = auth::ParseRole(FormValue(*form, "role"));
      done = role.has_value() ? authenticator_.SetRole(segments[2], *role,
                                                       SplitNames(FormValue(*form, "projects")))
                              : role.error();
      back = "../?done=user-updated";
    } else if (segments.size() == 4 && segments[3] == "password") {
      done = authenticator_.SetPassword(segments[2], FormValue(*form, "password"));
      back = "../?done=password-set";
    } else if (segments.size() == 4 && segments[3] == "delete") {
      done = segments[2] == who.user ? InvalidArgumentError(
                                           "You cannot delete your own account while logged in "
                                           "with it.")
                                     : authenticator_.RemoveUser(segments[2]);
      back = "../?done=user-deleted";
    } else {
      return ErrorResponse(404, "Not found.");
    }
    if (!done.ok()) {
      if (HttpStatusFor(done) >= 500) {
        return StatusPage(head, done);
      }
      auto users = authenticator_.ListUsers();
      auto tokens = authenticator_.ListTokens("");
      if (!users.has_value() || !tokens.has_value()) {
        return StatusPage(head, done);
      }
      return HtmlResponse(
          HttpStatusFor(done),
          render::ManageUsersPageHtml(ViewerOf(head, who), *users, *tokens, done.message()));
    }
    ops::RecordAudit(
        index_.storage(),
        {.actor = ops::AuditActor(who.user, who.token_id),
         .action = segments.size() == 3        ? "user-add"
                   : segments[3] == "role"     ? "user-role"
                   : segments[3] == "password" ? "user-password"
                                               : "user-remove",
         .target = segments.size() == 3 ? std::string(FormValue(*form, "name")) : segments[2],
         .address = head.remote_address});
    return SeeOther(back);
  }
  return ErrorResponse(404, "Not found.");
}

}  // namespace pydepot::http
