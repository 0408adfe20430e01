// The page shell and small building blocks of the web UI (render/ui_layout.h).
#include "render/ui_layout.h"

#include <cmath>

#include "doc/project.h"
#include "render/render.h"

namespace pydepot::render::ui_internal {
namespace {

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// What a browser strips from both ends of a URL: C0 controls and space.
bool IsUrlTrimmed(char c) { return static_cast<unsigned char>(c) <= 0x20; }

void AppendNav(std::string& out, const PageShell& shell) {
  const std::string root = HtmlEscape(shell.root);
  out += "<nav class=\"site-nav\" aria-label=\"Account\">";
  const Viewer* viewer = shell.viewer;
  if (shell.login_page) {
    // Nothing to offer on the login page itself.
  } else if (viewer != nullptr && !viewer->user.empty()) {
    out += "<span class=\"who\" title=\"Logged in\">";
    out += HtmlEscape(viewer->user);
    out += "</span><a href=\"";
    out += root;
    out += "account/\">Account</a>";
    if (viewer->role == auth::Role::kAdmin) {
      out += "<a href=\"";
      out += root;
      out += "manage/users/\">Users</a>";
    }
  } else {
    // A cached page cannot know who is looking, so it offers both.
    out += "<a href=\"";
    out += root;
    out += "login\">Log in</a>";
    if (viewer == nullptr) {
      out += "<a href=\"";
      out += root;
      out += "account/\">Account</a>";
    }
  }
  out += "</nav>";
}

}  // namespace

void AppendPageStart(std::string& out, const PageShell& shell) {
  const std::string root = HtmlEscape(shell.root);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"color-scheme\" content=\"light dark\">\n"
      "<meta name=\"referrer\" content=\"same-origin\">\n<title>";
  if (!shell.title.empty()) {
    out += HtmlEscape(shell.title);
    out += " \xC2\xB7 ";  // U+00B7 MIDDLE DOT
  }
  out += "pydepot</title>\n<link rel=\"stylesheet\" href=\"";
  out += root;
  out += "static/style.css\">\n</head>\n<body>\n<header class=\"site-header\">\n";
  out += "<div class=\"wrap header-inner\">\n<a class=\"brand\" href=\"";
  out += root.empty() ? "./" : root;
  out += "\">pydepot</a>\n";
  if (shell.header_search) {
    AppendSearchForm(out, shell.root, "", /*large=*/false);
  }
  AppendNav(out, shell);
  out += "\n</div>\n</header>\n<main class=\"wrap\">\n";
}

void AppendPageEnd(std::string& out, std::string_view root) {
  out += "</main>\n<footer class=\"site-footer\">\n<div class=\"wrap\">\n";
  out += "<p>pydepot, a private Python package index. Installers such as pip use its <a href=\"";
  out += HtmlEscape(root);
  out += "simple/\">simple index</a>.</p>\n</div>\n</footer>\n</body>\n</html>\n";
}

void AppendSearchForm(std::string& out, std::string_view root, std::string_view query, bool large) {
  out += "<form id=\"search\" class=\"";
  out += large ? "search search-large" : "search";
  out += "\" action=\"";
  out += HtmlEscape(root);
  out += "search\" method=\"get\" role=\"search\">";
  out +=
      "<input type=\"search\" name=\"q\" placeholder=\"Search projects\" "
      "aria-label=\"Search projects\" maxlength=\"200\"";
  if (!query.empty()) {
    out += " value=\"";
    out += HtmlEscape(query);
    out += "\"";
  }
  out += "><button type=\"submit\">Search</button></form>\n";
}

void AppendMessage(std::string& out, std::string_view message) {
  if (message.empty()) {
    return;
  }
  out += "<p id=\"message\" class=\"notice\" role=\"status\">";
  out += HtmlEscape(message);
  out += "</p>\n";
}

void AppendCsrfField(std::string& out, const Viewer& viewer) {
  out += "<input type=\"hidden\" name=\"csrf\" value=\"";
  out += HtmlEscape(viewer.csrf);
  out += "\">";
}

void AppendPostFormStart(std::string& out, const Viewer& viewer, std::string_view root,
                         std::string_view path, std::string_view css_class) {
  out += "<form method=\"post\" action=\"";
  out += HtmlEscape(root);
  out += HtmlEscape(path);
  out += "\"";
  if (!css_class.empty()) {
    out += " class=\"";
    out += css_class;
    out += "\"";
  }
  out += ">";
  AppendCsrfField(out, viewer);
}

std::string HumanSize(std::int64_t bytes) {
  if (bytes < 1000) {
    return std::to_string(bytes < 0 ? 0 : bytes) + " B";
  }
  static constexpr std::string_view kUnits[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  value /= 1000.0;
  // Move up while the rounded value would show 1000 or more ("1000 kB" reads as "1.0 MB").
  while (unit + 1 < std::size(kUnits) && std::llround(value) >= 1000) {
    value /= 1000.0;
    ++unit;
  }
  const long long tenths = std::llround(value * 10.0);
  std::string text;
  if (tenths < 1000) {  // below 100: one decimal
    text = std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
  } else {
    text = std::to_string(std::llround(value));
  }
  return text + " " + std::string(kUnits[unit]);
}

void AppendSize(std::string& out, std::int64_t bytes) {
  if (bytes < 0) {
    out += "<span class=\"size\">size unknown</span>";
    return;
  }
  out += "<span class=\"size\" title=\"";
  out += std::to_string(bytes < 0 ? 0 : bytes);
  out += bytes == 1 ? " byte\">" : " bytes\">";
  out += HumanSize(bytes);
  out += "</span>";
}

void AppendTime(std::string& out, std::int64_t micros) {
  if (micros == 0) {
    return;
  }
  const std::string full = doc::FormatUploadTime(micros);
  // "YYYY-MM-DDTHH:MM:SS.ffffffZ"; other shapes (years outside 0000-9999) are shown as they are.
  if (full.size() != 27 || !IsAsciiDigit(full[0])) {
    out += "<span class=\"time\">";
    out += HtmlEscape(full);
    out += "</span>";
    return;
  }
  out += "<time datetime=\"";
  out += std::string_view(full).substr(0, 19);
  out += "Z\" title=\"";
  out += full;
  out += "\">";
  out += std::string_view(full).substr(0, 10);
  out += " ";
  out += std::string_view(full).substr(11, 5);
  out += "</time>";
}

std::string_view TrimUrl(std::string_view url) {
  while (!url.empty() && IsUrlTrimmed(url.front())) {
    url.remove_prefix(1);
  }
  while (!url.empty() && IsUrlTrimmed(url.back())) {
    url.remove_suffix(1);
  }
  return url;
}

std::string UrlScheme(std::string_view url) {
  // As the WHATWG URL parser: tabs and newlines are removed anywhere, then the scheme is an
  // ASCII letter followed by letters, digits, '+', '-' or '.', up to the first ':'.
  std::string scheme;
  bool first = true;
  for (const char c : TrimUrl(url)) {
    if (c == '\t' || c == '\n' || c == '\r') {
      continue;
    }
    if (c == ':') {
      return first ? "" : scheme;
    }
    const bool ok = first ? IsAsciiAlpha(c)
                          : IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '+' || c == '-' || c == '.';
    if (!ok) {
      return "";  // no scheme: a relative URL
    }
    scheme += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    first = false;
  }
  return "";
}

bool IsWebUrl(std::string_view url) {
  const std::string scheme = UrlScheme(url);
  return scheme == "http" || scheme == "https";
}

void AppendExternalLink(std::string& out, std::string_view url, std::string_view text) {
  const std::string_view trimmed = TrimUrl(url);
  const std::string_view shown = text.empty() ? trimmed : text;
  if (!IsWebUrl(trimmed)) {
    out += "<span class=\"url\">";
    out += HtmlEscape(shown);
    out += "</span>";
    return;
  }
  out += "<a href=\"";
  out += HtmlEscape(trimmed);
  out += "\" rel=\"nofollow noopener noreferrer\">";
  out += HtmlEscape(shown);
  out += "</a>";
}

std::string ProjectHref(std::string_view root, std::string_view project) {
  return std::string(root) + "project/" + PercentEncode(project) + "/";
}

std::string ReleaseHref(std::string_view root, std::string_view project, std::string_view version) {
  return ProjectHref(root, project) + PercentEncode(version) + "/";
}

std::string ManageProjectHref(std::string_view root, std::string_view project) {
  return std::string(root) + "manage/project/" + PercentEncode(project) + "/";
}

}  // namespace pydepot::render::ui_internal
