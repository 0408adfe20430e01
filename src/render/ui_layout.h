// Building blocks shared by the web UI pages (render/ui.h): the page shell (head, site header,
// footer), notices, forms' CSRF field, sizes and times for people, and URL scheme checks.
// Not part of the module's interface. Pure functions; thread-safe.
//
// Functions named Append* write HTML into `out`; every argument is raw text, escaped here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "render/ui.h"

namespace pydepot::render::ui_internal {

// What the site header shows.
struct PageShell {
  std::string_view root;   // relative path to the site root ("", "../", "../../", ...)
  std::string_view title;  // raw; the <title> is "<title> · pydepot" (just "pydepot" when empty)
  // Dynamic pages pass their viewer (the header then shows who is logged in); cached pages pass
  // nullptr and show links to both the login and the account page.
  const Viewer* viewer = nullptr;
  bool login_page = false;  // the login page itself (no account links)
  // When false the header has no search form, because the page shows its own (home, search);
  // so the form with id "search" is unique on every page.
  bool header_search = true;
};

// "<!DOCTYPE html>" up to the opening <main>.
void AppendPageStart(std::string& out, const PageShell& shell);
// Closes <main>, adds the footer, closes the document.
void AppendPageEnd(std::string& out, std::string_view root);

// The search form (id "search"): GET <root>search with input "q" prefilled with `query`.
// `large` is the prominent variant shown in the page body.
void AppendSearchForm(std::string& out, std::string_view root, std::string_view query, bool large);

// A notice with id "message" (role "status"), or nothing when `message` is empty.
void AppendMessage(std::string& out, std::string_view message);

// <input type="hidden" name="csrf" value="...">
void AppendCsrfField(std::string& out, const Viewer& viewer);

// Opens <form method="post" action="<root><path>" class="..."> followed by the CSRF field.
// `path` is already percent-encoded where needed; it is HTML-escaped here.
void AppendPostFormStart(std::string& out, const Viewer& viewer, std::string_view root,
                         std::string_view path, std::string_view css_class = "");

// "1.2 MB": SI units (1 kB = 1000 bytes), one decimal below 100 of a unit, bytes exactly below
// 1000. Negative sizes count as 0.
std::string HumanSize(std::int64_t bytes);
// <span class="size" title="1234567 bytes">1.2 MB</span>
void AppendSize(std::string& out, std::int64_t bytes);

// <time datetime="2024-01-02T03:04:05Z" title="2024-01-02T03:04:05.123456Z">2024-01-02
// 03:04</time>; "" for 0 (unknown).
void AppendTime(std::string& out, std::int64_t micros);

// The scheme of `url` as a browser's URL parser would see it, lowercased: tabs and newlines
// anywhere and leading and trailing C0 controls and spaces are ignored. "" when `url` has no
// scheme (a relative URL).
std::string UrlScheme(std::string_view url);
// `url` without what UrlScheme ignores at its ends (leading and trailing C0 controls and spaces).
std::string_view TrimUrl(std::string_view url);
// True for absolute http and https URLs.
bool IsWebUrl(std::string_view url);

// `url` as a link when IsWebUrl (rel nofollow, noopener, noreferrer), else as escaped text.
// `text` is the link text (raw); when empty, the URL itself.
void AppendExternalLink(std::string& out, std::string_view url, std::string_view text);

// The href of a project page, a release page and the manage page, from the site root.
std::string ProjectHref(std::string_view root, std::string_view project);
std::string ReleaseHref(std::string_view root, std::string_view project, std::string_view version);
std::string ManageProjectHref(std::string_view root, std::string_view project);

}  // namespace pydepot::render::ui_internal
