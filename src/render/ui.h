// The web UI (docs/web-ui.md): server-rendered HTML5 pages, no scripts, no external resources,
// one stylesheet served by pydepot itself (/static/style.css). Every piece of user data is
// escaped; package descriptions are rendered safely (Markdown through cmark-gfm without raw HTML
// and with unsafe link schemes dropped; reStructuredText and plain text as preformatted text).
//
// Links are relative, so a path prefix added by a reverse proxy keeps working: each page takes
// `root`, the relative path from the page to the site root ("" for "/", "../../" for
// "/project/x/"), and builds every link and form action from it.
//
// Dynamic pages live at the fixed paths given with each below and compute their own `root`;
// only MessagePageHtml takes it.
//
// Two kinds of pages:
//  - cached pages (home, project, release), pure functions of the index data, rendered once per
//    change by the index and served to everyone; they show nothing about who is looking;
//  - dynamic pages (search, login, account, manage), rendered per request for one viewer; forms
//    that change something carry the viewer's CSRF token in a hidden field named "csrf".
//
// Form contract (the handlers read exactly these names; tests drive them in Chromium):
//   GET  search?q=                                          search form: input name="q"
//   POST login            user, password, next              login form (no csrf: see docs)
//   POST logout           csrf
//   POST account/tokens   csrf, name, scope (read|upload), projects (names separated by blanks
//                         or commas; empty: all), expires_days (empty: never)
//   POST account/tokens/<id>/revoke                 csrf
//   POST manage/project/<p>/yank            csrf, version, reason
//   POST manage/project/<p>/unyank          csrf, version
//   POST manage/project/<p>/delete-file     csrf, filename
//   POST manage/project/<p>/delete-release  csrf, version
//   POST manage/project/<p>/delete-project  csrf, confirm (must equal the project's name)
//   POST manage/users/add                   csrf, name, password, role, projects
//   POST manage/users/<name>/role           csrf, role, projects
//   POST manage/users/<name>/password       csrf, password
//   POST manage/users/<name>/delete         csrf
// Element ids the browser tests rely on: "search" (the search form), "recent" (recent uploads
// list), "description" (the rendered description), "versions" (versions list), "files" (files
// table), "pip-install" (the install command), "new-token" (the <code> holding a token just
// created), "message" (a notice or error shown after an action).
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "base/status.h"
#include "doc/project.h"

namespace pydepot::render {

inline constexpr std::string_view kContentTypeCss = "text/css; charset=utf-8";

// The stylesheet served at /static/style.css (light and dark, readable on a phone).
std::string_view StyleSheet();

// A package description as safe HTML. `content_type` is the Description-Content-Type:
// text/markdown (any variant= parameter) renders GitHub-flavoured Markdown with cmark-gfm
// (tables, strikethrough, autolinks, task lists; raw HTML omitted, tag filter on; links and
// images whose scheme is not http, https or mailto, or relative, are dropped); text/x-rst and
// text/plain, or anything else, are shown escaped in <pre>. Empty text gives "". To bound the
// cost of hostile input, Markdown over 512 KiB is shown as <pre> too, and tables are rendered as
// plain text when they would make more than 50000 cells or 1000 columns (Debian's cmark-gfm pads
// table rows with empty cells, so a few KB can ask for millions).
std::string DescriptionHtml(std::string_view text, std::string_view content_type);

// Who is looking at a dynamic page.
struct Viewer {
  std::string user;  // "" when not logged in
  auth::Role role = auth::Role::kNone;
  bool session = false;  // logged in with a session (shows the logout button)
  std::string csrf;      // the session's CSRF token ("" without a session)
  // Now, in microseconds since the epoch, to tell expired tokens; 0: the system clock.
  std::int64_t now_micros = 0;
};

// Cached pages.
// "/": a search form, the 20 most recently updated projects (id "recent", newest first, with
// their upload time), and every project. Links to login/account.
std::string HomePageHtml(const doc::ProjectList& list);
// "/project/<p>/": name and latest version, summary, the pip install command (id "pip-install"),
// the rendered description of the latest release (id "description"), the metadata people look
// for (Requires-Python, licence, dependencies, extras, classifiers, project URLs (as links only
// for http and https), author, maintainer, keywords), every version newest first (id "versions";
// yanked ones marked with their reason, each linking to its release page), the latest release's
// files (id "files": name linking to the file, type, size, sha256, upload time), and a link to
// the manage page.
std::string ProjectPageHtml(const doc::ProjectDoc& doc);
// "/project/<p>/<v>/": the same for one release (its own description, metadata and files),
// with a yank notice and reason when yanked. kNotFound when there is no such release (matched by
// release key).
StatusOr<std::string> ReleasePageHtml(const doc::ProjectDoc& doc, std::string_view version);

// Dynamic pages. `message` is shown in an element with id "message" when not empty (escaped).
// "search?q=": projects whose normalized or display name contains the query's normalized words
// (case-insensitive), exact matches first, at most 100, with a count.
std::string SearchPageHtml(const doc::ProjectList& list, std::string_view query,
                           const Viewer& viewer);
// "login": user and password fields, `next` in a hidden field.
std::string LoginPageHtml(std::string_view next, std::string_view message);
// "account/": who is logged in and with what role, a logout button, the user's tokens (id,
// name, scope, projects, created, expiry, expired or not) each with a revoke button, and the
// form that creates one. `new_token` (when not empty) is shown once in <code id="new-token">
// with a note that it will not be shown again. For admins, a link to manage users.
std::string AccountPageHtml(const Viewer& viewer, const std::vector<auth::TokenInfo>& tokens,
                            std::string_view new_token, std::string_view message);
// "manage/project/<p>/" (admins): per release, yank (with a reason field) or unyank, and
// delete; per file, delete; delete the whole project (typing its name to confirm). Each
// destructive form says what cannot be undone (a deleted filename can never be uploaded again).
std::string ManageProjectPageHtml(const Viewer& viewer, const doc::ProjectDoc& doc,
                                  std::string_view message);
// "manage/users/" (admins): every user with role and upload projects, forms to change role and
// projects, set a password, delete; a form to add a user; every token (all users) with revoke.
std::string ManageUsersPageHtml(const Viewer& viewer, const std::vector<auth::UserInfo>& users,
                                const std::vector<auth::TokenInfo>& tokens,
                                std::string_view message);
// A page for an error or notice met in the browser (403 on a manage page, ...), with a link
// home. `title` and `message` are escaped.
std::string MessagePageHtml(std::string_view root, std::string_view title,
                            std::string_view message);

}  // namespace pydepot::render
