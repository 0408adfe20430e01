// The dynamic pages of the web UI (render/ui.h), rendered per request for one viewer: search,
// login, account, the manage pages, and notices. Every form that changes something carries the
// viewer's CSRF token and posts to the path the handlers expect (the form contract in ui.h).
#include <algorithm>
#include <chrono>
#include <vector>

#include "model/project_name.h"
#include "render/internal.h"
#include "render/render.h"
#include "render/ui.h"
#include "render/ui_layout.h"

namespace pydepot::render {
namespace {

using internal::ReleaseView;
using ui_internal::AppendMessage;
using ui_internal::AppendPostFormStart;
using ui_internal::AppendSize;
using ui_internal::AppendTime;

constexpr std::size_t kMaxSearchResults = 100;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

std::int64_t NowMicros(const Viewer& viewer) {
  if (viewer.now_micros != 0) {
    return viewer.now_micros;
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Search ----

// The query's words (split at blanks and commas), each PEP 503-normalized.
std::vector<std::string> SearchWords(std::string_view query) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < query.size()) {
    const std::size_t end = std::min(query.find_first_of(" \t\r\n\f\v,", start), query.size());
    if (end > start) {
      words.push_back(model::NormalizeProjectName(query.substr(start, end - start)));
    }
    start = end + 1;
  }
  return words;
}

struct SearchHit {
  int rank;  // 0: exact match, 1: the name starts with the first word, 2: the rest
  const doc::ProjectListEntry* project;
};

// Projects whose normalized or (lowercased) display name contains every word, best first.
std::vector<SearchHit> Search(const doc::ProjectList& list, const std::vector<std::string>& words) {
  std::vector<SearchHit> hits;
  if (words.empty()) {
    return hits;
  }
  const std::string whole = Join(words, "-");
  for (const doc::ProjectListEntry& project : list.projects) {
    const std::string display = Lower(project.display_name);
    const bool all = std::all_of(words.begin(), words.end(), [&](const std::string& word) {
      return project.name.find(word) != std::string::npos ||
             display.find(word) != std::string::npos;
    });
    if (!all) {
      continue;
    }
    const int rank = project.name == whole || display == whole ? 0
                     : project.name.starts_with(words.front()) ? 1
                                                               : 2;
    hits.push_back({rank, &project});
  }
  // The list is sorted by name, so equal ranks stay in name order.
  std::stable_sort(hits.begin(), hits.end(),
                   [](const SearchHit& a, const SearchHit& b) { return a.rank < b.rank; });
  return hits;
}

// ---- Account and users ----

void AppendRoleOptions(std::string& out, auth::Role selected, auth::Role highest) {
  for (const auth::Role role : {auth::Role::kRead, auth::Role::kUpload, auth::Role::kAdmin}) {
    if (role > highest) {
      break;
    }
    out += "<option value=\"";
    out += auth::RoleName(role);
    out += "\"";
    if (role == selected) {
      out += " selected";
    }
    out += ">";
    out += auth::RoleName(role);
    out += "</option>";
  }
}

// The tokens table; `with_user` adds the account column (the admin's list of every token).
void AppendTokenTable(std::string& out, const Viewer& viewer, std::string_view root,
                      const std::vector<auth::TokenInfo>& tokens, bool with_user) {
  if (tokens.empty()) {
    out += with_user ? "<p class=\"empty\">No tokens.</p>\n"
                     : "<p class=\"empty\">You have no tokens.</p>\n";
    return;
  }
  const std::int64_t now = NowMicros(viewer);
  out += "<div class=\"table-wrap\">\n<table class=\"tokens stack-sm\">\n<thead><tr>";
  if (with_user) {
    out += "<th scope=\"col\">User</th>";
  }
  out +=
      "<th scope=\"col\">Name</th><th scope=\"col\">ID</th><th scope=\"col\">Scope</th>"
      "<th scope=\"col\">Projects</th><th scope=\"col\">Created</th>"
      "<th scope=\"col\">Expires</th><th scope=\"col\"><span class=\"visually-hidden\">"
      "Actions</span></th></tr></thead>\n<tbody>\n";
  for (const auth::TokenInfo& token : tokens) {
    const bool expired = token.expires_micros != 0 && token.expires_micros <= now;
    out += expired ? "<tr class=\"expired\">" : "<tr>";
    if (with_user) {
      out += "<td data-label=\"User\">";
      out += HtmlEscape(token.user);
      out += "</td>";
    }
    out += "<td data-label=\"Name\">";
    out += HtmlEscape(token.name);
    out += "</td><td data-label=\"ID\"><code>";
    out += HtmlEscape(token.id);
    out += "</code></td><td data-label=\"Scope\">";
    out += auth::RoleName(token.scope);
    out += "</td><td data-label=\"Projects\">";
    out += token.projects.empty() ? std::string("all") : HtmlEscape(Join(token.projects, ", "));
    out += "</td><td data-label=\"Created\">";
    AppendTime(out, token.created_micros);
    out += "</td><td data-label=\"Expires\">";
    if (token.expires_micros == 0) {
      out += "never";
    } else {
      AppendTime(out, token.expires_micros);
      if (expired) {
        out += " <span class=\"badge badge-warn\">expired</span>";
      }
    }
    out += "</td><td class=\"actions\">";
    AppendPostFormStart(out, viewer, root, "account/tokens/" + PercentEncode(token.id) + "/revoke",
                        "inline");
    out += "<button type=\"submit\" class=\"danger\">Revoke</button></form></td></tr>\n";
  }
  out += "</tbody>\n</table>\n</div>\n";
}

void AppendNewToken(std::string& out, std::string_view new_token) {
  out +=
      "<div class=\"notice success\" role=\"status\">\n<p><strong>Your new token</strong> "
      "(copy it now: it will not be shown again):</p>\n<p><code id=\"new-token\" "
      "class=\"secret\">";
  out += HtmlEscape(new_token);
  out +=
      "</code></p>\n<p>Use it as the password, with <code>__token__</code> as the user "
      "name.</p>\n</div>\n";
}

void AppendCreateTokenForm(std::string& out, const Viewer& viewer, std::string_view root) {
  out += "<section class=\"card\" aria-labelledby=\"h-create-token\">\n";
  out += "<h2 id=\"h-create-token\">Create a token</h2>\n";
  AppendPostFormStart(out, viewer, root, "account/tokens", "stack");
  out +=
      "\n<label for=\"token-name\">Name</label>"
      "<input id=\"token-name\" name=\"name\" required maxlength=\"100\" "
      "placeholder=\"ci on main\" autocomplete=\"off\">\n"
      "<label for=\"token-scope\">Scope</label><select id=\"token-scope\" name=\"scope\">";
  AppendRoleOptions(out, auth::Role::kRead, std::min(viewer.role, auth::Role::kUpload));
  out +=
      "</select>\n<label for=\"token-projects\">Projects</label>"
      "<input id=\"token-projects\" name=\"projects\" placeholder=\"all projects\" "
      "autocomplete=\"off\" spellcheck=\"false\" aria-describedby=\"token-projects-help\">"
      "<small id=\"token-projects-help\" class=\"help\">Project names separated by blanks or "
      "commas; empty for every project.</small>\n"
      "<label for=\"token-expires\">Expires after (days)</label>"
      "<input id=\"token-expires\" name=\"expires_days\" type=\"number\" min=\"1\" "
      "inputmode=\"numeric\" placeholder=\"never\" aria-describedby=\"token-expires-help\">"
      "<small id=\"token-expires-help\" class=\"help\">Empty: the token never expires.</small>\n"
      "<div class=\"actions\"><button type=\"submit\">Create token</button></div>\n"
      "</form>\n</section>\n";
}

// ---- Manage a project ----

std::string ManagePath(const doc::ProjectDoc& doc, std::string_view action) {
  return "manage/project/" + PercentEncode(doc.name) + "/" + std::string(action);
}

void AppendVersionField(std::string& out, const ReleaseView& release) {
  out += "<input type=\"hidden\" name=\"version\" value=\"";
  out += HtmlEscape(release.version);
  out += "\">";
}

void AppendManageRelease(std::string& out, const Viewer& viewer, std::string_view root,
                         const doc::ProjectDoc& doc, const ReleaseView& release,
                         std::size_t index) {
  const std::string version = HtmlEscape(release.version);
  out += "<section class=\"card release-card\" aria-labelledby=\"h-release-";
  out += std::to_string(index);
  out += "\">\n<h2 id=\"h-release-";
  out += std::to_string(index);
  out += "\"><a href=\"";
  out += HtmlEscape(ui_internal::ReleaseHref(root, doc.name, release.version));
  out += "\">";
  out += version;
  out += "</a>";
  if (release.yank_reason != nullptr) {
    out += " <span class=\"badge badge-warn\">yanked</span>";
  }
  out += "</h2>\n";

  if (release.yank_reason != nullptr) {
    out += "<p>Yanked";
    if (!release.yank_reason->empty()) {
      out += ": ";
      out += HtmlEscape(*release.yank_reason);
    }
    out += "</p>\n";
    AppendPostFormStart(out, viewer, root, ManagePath(doc, "unyank"), "inline");
    AppendVersionField(out, release);
    out += "<button type=\"submit\">Unyank ";
    out += version;
    out += "</button></form>\n";
  } else {
    const std::string field_id = "yank-reason-" + std::to_string(index);
    AppendPostFormStart(out, viewer, root, ManagePath(doc, "yank"), "row");
    AppendVersionField(out, release);
    out += "<label for=\"";
    out += field_id;
    out += "\">Yank reason</label><input id=\"";
    out += field_id;
    out +=
        "\" name=\"reason\" maxlength=\"500\" placeholder=\"optional\" autocomplete=\"off\">"
        "<button type=\"submit\">Yank ";
    out += version;
    out +=
        "</button></form>\n<p class=\"help\">A yanked release stays installable only when "
        "pinned exactly (<code>==</code>); yanking can be undone.</p>\n";
  }

  if (release.files.empty()) {
    out += "<p class=\"empty\">No files.</p>\n";
  } else {
    out +=
        "<div class=\"table-wrap\">\n<table class=\"files stack-sm\">\n<thead><tr>"
        "<th scope=\"col\">File</th><th scope=\"col\">Size</th><th scope=\"col\">Uploaded</th>"
        "<th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead>\n"
        "<tbody>\n";
    for (const doc::FileEntry* file : release.files) {
      out += "<tr><td class=\"filename\">";
      out += HtmlEscape(file->filename);
      out += "</td><td data-label=\"Size\">";
      AppendSize(out, file->size);
      out += "</td><td data-label=\"Uploaded\">";
      AppendTime(out, file->upload_time_micros);
      out += "</td><td class=\"actions\">";
      AppendPostFormStart(out, viewer, root, ManagePath(doc, "delete-file"), "inline");
      out += "<input type=\"hidden\" name=\"filename\" value=\"";
      out += HtmlEscape(file->filename);
      out += "\"><button type=\"submit\" class=\"danger\">Delete file</button></form></td></tr>\n";
    }
    out += "</tbody>\n</table>\n</div>\n";
  }

  AppendPostFormStart(out, viewer, root, ManagePath(doc, "delete-release"), "inline");
  AppendVersionField(out, release);
  out += "<button type=\"submit\" class=\"danger\">Delete release ";
  out += version;
  out += "</button></form>\n<p class=\"help\">Deleting cannot be undone";
  if (release.files.size() == 1) {
    out += ": its file is removed, and its filename can never be uploaded again";
  } else if (!release.files.empty()) {
    out += ": its " + std::to_string(release.files.size()) +
           " files are removed, and their filenames can never be uploaded again";
  }
  out += ".</p>\n</section>\n";
}

// ---- Manage users ----

void AppendProjectsField(std::string& out, std::string_view id, std::string_view value) {
  out += "<label for=\"";
  out += id;
  out += "\">Upload projects</label><input id=\"";
  out += id;
  out +=
      "\" name=\"projects\" placeholder=\"all projects\" autocomplete=\"off\" "
      "spellcheck=\"false\"";
  if (!value.empty()) {
    out += " value=\"";
    out += HtmlEscape(value);
    out += "\"";
  }
  out += ">";
}

void AppendUser(std::string& out, const Viewer& viewer, std::string_view root,
                const auth::UserInfo& user, std::size_t index) {
  const std::string n = std::to_string(index);
  const std::string path = "manage/users/" + PercentEncode(user.name) + "/";
  out += "<section class=\"card user-card\" aria-labelledby=\"h-user-";
  out += n;
  out += "\">\n<h3 id=\"h-user-";
  out += n;
  out += "\">";
  out += HtmlEscape(user.name);
  if (user.name == viewer.user) {
    out += " <span class=\"muted\">(you)</span>";
  }
  out += " <span class=\"badge\">";
  out += auth::RoleName(user.role);
  out += "</span></h3>\n<p class=\"muted\">";
  if (user.created_micros != 0) {
    out += "Created ";
    AppendTime(out, user.created_micros);
    out += ". ";
  }
  if (user.role == auth::Role::kUpload) {
    out += user.upload_projects.empty()
               ? std::string("Uploads to every project.")
               : "Uploads only to: " + HtmlEscape(Join(user.upload_projects, ", ")) + ".";
  }
  out += "</p>\n";

  AppendPostFormStart(out, viewer, root, path + "role", "row");
  out += "<label for=\"role-";
  out += n;
  out += "\">Role</label><select id=\"role-";
  out += n;
  out += "\" name=\"role\">";
  AppendRoleOptions(out, user.role, auth::Role::kAdmin);
  out += "</select>";
  AppendProjectsField(out, "projects-" + n, Join(user.upload_projects, " "));
  out += "<button type=\"submit\">Change role</button></form>\n";

  AppendPostFormStart(out, viewer, root, path + "password", "row");
  out += "<label for=\"password-";
  out += n;
  out += "\">New password</label><input id=\"password-";
  out += n;
  out +=
      "\" name=\"password\" type=\"password\" required minlength=\"8\" maxlength=\"1024\" "
      "autocomplete=\"new-password\"><button type=\"submit\">Set password</button></form>\n";

  AppendPostFormStart(out, viewer, root, path + "delete", "inline");
  out += "<button type=\"submit\" class=\"danger\">Delete ";
  out += HtmlEscape(user.name);
  out +=
      "</button></form>\n<p class=\"help\">Deleting a user cannot be undone; it revokes the "
      "user's tokens and ends their sessions.</p>\n</section>\n";
}

void AppendAddUserForm(std::string& out, const Viewer& viewer, std::string_view root) {
  out += "<section class=\"card\" aria-labelledby=\"h-add-user\">\n";
  out += "<h2 id=\"h-add-user\">Add a user</h2>\n";
  AppendPostFormStart(out, viewer, root, "manage/users/add", "stack");
  out +=
      "\n<label for=\"new-user-name\">Name</label><input id=\"new-user-name\" name=\"name\" "
      "required maxlength=\"64\" pattern=\"[A-Za-z0-9._@\\-]+\" autocomplete=\"off\" "
      "autocapitalize=\"none\" spellcheck=\"false\">\n"
      "<label for=\"new-user-password\">Password</label><input id=\"new-user-password\" "
      "name=\"password\" type=\"password\" required minlength=\"8\" maxlength=\"1024\" "
      "autocomplete=\"new-password\">\n"
      "<label for=\"new-user-role\">Role</label><select id=\"new-user-role\" name=\"role\">";
  AppendRoleOptions(out, auth::Role::kRead, auth::Role::kAdmin);
  out += "</select>\n";
  AppendProjectsField(out, "new-user-projects", "");
  out +=
      "<small class=\"help\">Upload role only: project names separated by blanks or commas "
      "limit uploads to them; empty for every project.</small>\n"
      "<div class=\"actions\"><button type=\"submit\">Add user</button></div>\n"
      "</form>\n</section>\n";
}

}  // namespace

std::string SearchPageHtml(const doc::ProjectList& list, std::string_view query,
                           const Viewer& viewer) {
  const std::vector<std::string> words = SearchWords(query);
  std::string title = "Search";
  if (!words.empty()) {
    title += ": ";
    title += query;
  }
  std::string out;
  ui_internal::AppendPageStart(
      out, {.root = "", .title = title, .viewer = &viewer, .header_search = false});
  out += "<h1>Search projects</h1>\n";
  ui_internal::AppendSearchForm(out, "", query, /*large=*/true);
  if (words.empty()) {
    out += "<p class=\"empty\">Type part of a project's name.</p>\n";
    ui_internal::AppendPageEnd(out, "");
    return out;
  }
  const std::vector<SearchHit> hits = Search(list, words);
  out += "<p class=\"result-count\">";
  out += hits.empty()       ? std::string("No projects match")
         : hits.size() == 1 ? std::string("1 project matches")
                            : std::to_string(hits.size()) + " projects match";
  out += " \xE2\x80\x9C";  // U+201C
  out += HtmlEscape(query);
  out += "\xE2\x80\x9D.";  // U+201D
  if (hits.size() > kMaxSearchResults) {
    out += " Showing the first ";
    out += std::to_string(kMaxSearchResults);
    out += ".";
  }
  out += "</p>\n";
  if (!hits.empty()) {
    out += "<ol id=\"results\" class=\"results\">\n";
    for (std::size_t i = 0; i < hits.size() && i < kMaxSearchResults; ++i) {
      const doc::ProjectListEntry& project = *hits[i].project;
      out += "<li><a href=\"";
      out += HtmlEscape(ui_internal::ProjectHref("", project.name));
      out += "\">";
      out += HtmlEscape(project.display_name.empty() ? project.name : project.display_name);
      out += "</a>";
      if (project.updated_micros != 0) {
        out += " <span class=\"muted\">updated ";
        AppendTime(out, project.updated_micros);
        out += "</span>";
      }
      out += "</li>\n";
    }
    out += "</ol>\n";
  }
  ui_internal::AppendPageEnd(out, "");
  return out;
}

std::string LoginPageHtml(std::string_view next, std::string_view message) {
  std::string out;
  ui_internal::AppendPageStart(out, {.root = "", .title = "Log in", .login_page = true});
  out += "<div class=\"card narrow\">\n<h1>Log in</h1>\n";
  AppendMessage(out, message);
  out +=
      "<form id=\"login\" method=\"post\" action=\"login\" class=\"stack\">\n"
      "<label for=\"login-user\">User name</label><input id=\"login-user\" name=\"user\" "
      "required autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" "
      "autofocus>\n"
      "<label for=\"login-password\">Password</label><input id=\"login-password\" "
      "name=\"password\" type=\"password\" required autocomplete=\"current-password\">\n"
      "<input type=\"hidden\" name=\"next\" value=\"";
  out += HtmlEscape(next);
  out +=
      "\">\n<div class=\"actions\"><button type=\"submit\">Log in</button></div>\n</form>\n"
      "<p class=\"help\">Package installers and scripts log in with HTTP basic authentication "
      "or an API token instead.</p>\n</div>\n";
  ui_internal::AppendPageEnd(out, "");
  return out;
}

std::string AccountPageHtml(const Viewer& viewer, const std::vector<auth::TokenInfo>& tokens,
                            std::string_view new_token, std::string_view message) {
  constexpr std::string_view kRoot = "../";
  std::string out;
  ui_internal::AppendPageStart(out, {.root = kRoot, .title = "Account", .viewer = &viewer});
  out += "<h1>Your account</h1>\n";
  AppendMessage(out, message);
  if (!new_token.empty()) {
    AppendNewToken(out, new_token);
  }
  out += "<section class=\"card\">\n";
  if (viewer.user.empty()) {
    out += "<p>You are not logged in. <a href=\"";
    out += kRoot;
    out += "login\">Log in</a>.</p>\n</section>\n";
    ui_internal::AppendPageEnd(out, kRoot);
    return out;
  }
  out += "<p>Logged in as <strong>";
  out += HtmlEscape(viewer.user);
  out += "</strong>, with the <strong>";
  out += auth::RoleName(viewer.role);
  out += "</strong> role.</p>\n";
  if (viewer.session) {
    AppendPostFormStart(out, viewer, kRoot, "logout", "inline");
    out += "<button type=\"submit\">Log out</button></form>\n";
  } else {
    out +=
        "<p class=\"help\">You are logged in with HTTP basic authentication: your browser "
        "keeps those credentials until it is closed.</p>\n";
  }
  if (viewer.role == auth::Role::kAdmin) {
    out += "<p><a href=\"";
    out += kRoot;
    out += "manage/users/\">Manage users and tokens</a></p>\n";
  }
  out +=
      "</section>\n<section aria-labelledby=\"h-tokens\">\n<h2 id=\"h-tokens\">API tokens</h2>\n";
  out +=
      "<p class=\"help\">For CI and scripts: use a token as the password with the user name "
      "<code>__token__</code>, in pip, twine, uv or poetry. A token never has more rights than "
      "your account.</p>\n";
  AppendTokenTable(out, viewer, kRoot, tokens, /*with_user=*/false);
  out += "</section>\n";
  AppendCreateTokenForm(out, viewer, kRoot);
  ui_internal::AppendPageEnd(out, kRoot);
  return out;
}

std::string ManageProjectPageHtml(const Viewer& viewer, const doc::ProjectDoc& doc,
                                  std::string_view message) {
  constexpr std::string_view kRoot = "../../../";
  const std::string name = HtmlEscape(internal::DisplayName(doc));
  std::string out;
  ui_internal::AppendPageStart(
      out, {.root = kRoot, .title = "Manage " + internal::DisplayName(doc), .viewer = &viewer});
  out += "<p class=\"breadcrumb\"><a href=\"";
  out += HtmlEscape(ui_internal::ProjectHref(kRoot, doc.name));
  out += "\">";
  out += name;
  out += "</a> / manage</p>\n<h1>Manage ";
  out += name;
  out += "</h1>\n";
  AppendMessage(out, message);
  out +=
      "<p class=\"help\">Yanking hides a release from installers unless it is pinned exactly, "
      "and can be undone. Deleting cannot be undone, and a deleted file's name can never be "
      "uploaded again.</p>\n";
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  if (releases.empty()) {
    out += "<p class=\"empty\">No releases.</p>\n";
  }
  std::size_t index = 0;
  for (auto it = releases.rbegin(); it != releases.rend(); ++it) {  // newest first
    AppendManageRelease(out, viewer, kRoot, doc, *it, index++);
  }
  out +=
      "<section class=\"card danger-zone\" aria-labelledby=\"h-delete-project\">\n"
      "<h2 id=\"h-delete-project\">Delete the project</h2>\n<p>Deletes every release and file "
      "of ";
  out += name;
  out +=
      ". This cannot be undone. The project's name can be used again, but none of its "
      "filenames can ever be uploaded again.</p>\n";
  AppendPostFormStart(out, viewer, kRoot, ManagePath(doc, "delete-project"), "row");
  out += "<label for=\"confirm\">Type <code>";
  out += HtmlEscape(doc.name);
  out +=
      "</code> to confirm</label><input id=\"confirm\" name=\"confirm\" required "
      "autocomplete=\"off\" autocapitalize=\"none\" spellcheck=\"false\">"
      "<button type=\"submit\" class=\"danger\">Delete project</button></form>\n</section>\n";
  ui_internal::AppendPageEnd(out, kRoot);
  return out;
}

std::string ManageUsersPageHtml(const Viewer& viewer, const std::vector<auth::UserInfo>& users,
                                const std::vector<auth::TokenInfo>& tokens,
                                std::string_view message) {
  constexpr std::string_view kRoot = "../../";
  std::string out;
  ui_internal::AppendPageStart(out, {.root = kRoot, .title = "Users", .viewer = &viewer});
  out += "<h1>Users</h1>\n";
  AppendMessage(out, message);
  AppendAddUserForm(out, viewer, kRoot);
  out += "<section aria-labelledby=\"h-users\">\n<h2 id=\"h-users\">Accounts</h2>\n";
  if (users.empty()) {
    out += "<p class=\"empty\">No users.</p>\n";
  }
  for (std::size_t i = 0; i < users.size(); ++i) {
    AppendUser(out, viewer, kRoot, users[i], i);
  }
  out += "</section>\n<section aria-labelledby=\"h-all-tokens\">\n";
  out += "<h2 id=\"h-all-tokens\">Every API token</h2>\n";
  AppendTokenTable(out, viewer, kRoot, tokens, /*with_user=*/true);
  out += "</section>\n";
  ui_internal::AppendPageEnd(out, kRoot);
  return out;
}

std::string MessagePageHtml(std::string_view root, std::string_view title,
                            std::string_view message) {
  std::string out;
  ui_internal::AppendPageStart(out, {.root = root, .title = title});
  out += "<div class=\"card narrow\">\n<h1>";
  out += HtmlEscape(title);
  out += "</h1>\n";
  AppendMessage(out, message);
  out += "<p><a href=\"";
  out += root.empty() ? std::string("./") : HtmlEscape(root);
  out += "\">Back to the home page</a></p>\n</div>\n";
  ui_internal::AppendPageEnd(out, root);
  return out;
}

}  // namespace pydepot::render
