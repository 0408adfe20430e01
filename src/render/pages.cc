// The cached pages of the web UI (render/ui.h): the home page at /, the project page at
// /project/<p>/ and the release pages at /project/<p>/<version>/. Pure functions of the index
// data: they show nothing about who is looking.
#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "model/version.h"
#include "render/internal.h"
#include "render/render.h"
#include "render/ui.h"
#include "render/ui_layout.h"

namespace pydepot::render {
namespace {

using internal::ReleaseView;
using ui_internal::AppendExternalLink;
using ui_internal::AppendSize;
using ui_internal::AppendTime;

constexpr std::size_t kRecentProjects = 20;
// Longer licence fields (often the whole licence text) are folded into a <details>.
constexpr std::size_t kShortLicence = 100;

const std::string& ListName(const doc::ProjectListEntry& project) {
  return project.display_name.empty() ? project.name : project.display_name;
}

std::string_view Trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// At most `max` bytes of `text`, cut at a UTF-8 character boundary.
std::string_view Prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return text;
  }
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

// The release's date: when its metadata was recorded, else its first upload.
std::int64_t ReleaseTime(const ReleaseView& release) {
  if (release.info != nullptr && release.info->created_micros != 0) {
    return release.info->created_micros;
  }
  std::int64_t first = 0;
  for (const doc::FileEntry* file : release.files) {
    if (first == 0 || file->upload_time_micros < first) {
      first = file->upload_time_micros;
    }
  }
  return first;
}

std::string FileTypeLabel(std::string_view filetype) {
  if (filetype == "sdist") {
    return "Source";
  }
  if (filetype == "bdist_wheel") {
    return "Wheel";
  }
  return HtmlEscape(filetype);
}

// ---- Home page ----

void AppendProjectItem(std::string& out, const doc::ProjectListEntry& project, bool with_time) {
  out += "<li><a href=\"";
  out += HtmlEscape(ui_internal::ProjectHref("", project.name));
  out += "\">";
  out += HtmlEscape(ListName(project));
  out += "</a>";
  if (with_time && project.updated_micros != 0) {
    out += " ";
    AppendTime(out, project.updated_micros);
  }
  out += "</li>\n";
}

// ---- Project and release pages ----

// Everything a project or release page needs.
struct ProjectPage {
  const doc::ProjectDoc& doc;
  const std::vector<ReleaseView>& releases;  // ascending
  const ReleaseView* latest;                 // ChooseLatest(releases); nullptr without releases
  const ReleaseView* shown;   // the release the page is about (latest on the project page)
  bool release_page = false;  // /project/<p>/<v>/ rather than /project/<p>/
  std::string_view root;
};

void AppendYankNotice(std::string& out, const ReleaseView& release) {
  out += "<div class=\"notice warning\" role=\"note\"><p><strong>This release is yanked.</strong>";
  if (!release.yank_reason->empty()) {
    out += " Reason: ";
    out += HtmlEscape(*release.yank_reason);
  }
  out +=
      "</p><p>Installers skip it unless a requirement pins exactly this version "
      "(<code>==</code>).</p></div>\n";
}

void AppendHeader(std::string& out, const ProjectPage& page) {
  const std::string name = HtmlEscape(internal::DisplayName(page.doc));
  out += "<div class=\"project-header\">\n";
  if (page.release_page) {
    out += "<p class=\"breadcrumb\"><a href=\"";
    out += HtmlEscape(ui_internal::ProjectHref(page.root, page.doc.name));
    out += "\">";
    out += name;
    out += "</a> / ";
    out += HtmlEscape(page.shown->version);
    out += "</p>\n";
  }
  out += "<h1>";
  out += name;
  if (page.shown != nullptr) {
    out += " <span class=\"version\">";
    out += HtmlEscape(page.shown->version);
    out += "</span>";
    if (page.shown->yank_reason != nullptr) {
      out += " <span class=\"badge badge-warn\">yanked</span>";
    } else if (page.shown->parsed.IsPrerelease()) {
      out += " <span class=\"badge\">pre-release</span>";
    }
  }
  out += "</h1>\n";
  const doc::ReleaseInfo* info = page.shown != nullptr ? page.shown->info : nullptr;
  if (info != nullptr && !info->summary.empty()) {
    out += "<p class=\"summary\">";
    out += HtmlEscape(info->summary);
    out += "</p>\n";
  }
  out +=
      "<p class=\"install\"><span class=\"install-label\">Install</span><code id=\"pip-install\">";
  out += "pip install ";
  out += name;
  if (page.release_page) {
    out += "==";
    out += HtmlEscape(page.shown->version);
  }
  out += "</code></p>\n";
  if (page.shown != nullptr) {
    if (const std::int64_t when = ReleaseTime(*page.shown); when != 0) {
      out += "<p class=\"released\">Released ";
      AppendTime(out, when);
      out += "</p>\n";
    }
  }
  out += "</div>\n";
  if (page.shown != nullptr && page.shown->yank_reason != nullptr) {
    AppendYankNotice(out, *page.shown);
  }
  if (page.release_page && page.latest != nullptr && page.latest != page.shown) {
    out += "<p class=\"notice\">This is not the latest release of ";
    out += name;
    out += ": see <a href=\"";
    out += HtmlEscape(ui_internal::ReleaseHref(page.root, page.doc.name, page.latest->version));
    out += "\">";
    out += HtmlEscape(page.latest->version);
    out += "</a>.</p>\n";
  }
  out +=
      "<nav class=\"page-nav\" aria-label=\"On this page\"><a href=\"#description\">Description</a>"
      "<a href=\"#files\">Files</a><a href=\"#versions\">Versions</a>"
      "<a href=\"#metadata\">Metadata</a></nav>\n";
}

void AppendDescription(std::string& out, const ProjectPage& page) {
  out += "<section aria-labelledby=\"h-description\">\n<h2 id=\"h-description\">Description</h2>\n";
  out += "<div id=\"description\" class=\"description\">\n";
  const doc::ReleaseInfo* info = page.shown != nullptr ? page.shown->info : nullptr;
  const std::string html =
      info != nullptr ? DescriptionHtml(info->description, info->description_content_type) : "";
  if (html.empty()) {
    out += page.shown == nullptr ? "<p class=\"empty\">This project has no releases yet.</p>\n"
                                 : "<p class=\"empty\">No description was given.</p>\n";
  } else {
    out += html;
  }
  out += "</div>\n</section>\n";
}

void AppendFiles(std::string& out, const ProjectPage& page) {
  out += "<section aria-labelledby=\"h-files\">\n<h2 id=\"h-files\">Files</h2>\n";
  if (page.shown == nullptr || page.shown->files.empty()) {
    out += "<p id=\"files\" class=\"empty\">No files.</p>\n</section>\n";
    return;
  }
  out +=
      "<div class=\"table-wrap\">\n<table id=\"files\" class=\"files stack-sm\">\n<thead><tr>"
      "<th scope=\"col\">File</th><th scope=\"col\">Type</th><th scope=\"col\">Size</th>"
      "<th scope=\"col\">Uploaded</th><th scope=\"col\">SHA256</th></tr></thead>\n<tbody>\n";
  for (const doc::FileEntry* file : page.shown->files) {
    out += "<tr><td class=\"filename\"><a href=\"";
    out += HtmlEscape(std::string(page.root) + internal::FilePath(page.doc.name, file->filename));
    out += "\">";
    out += HtmlEscape(file->filename);
    out += "</a></td><td data-label=\"Type\">";
    out += FileTypeLabel(file->filetype);
    if (file->filetype == "bdist_wheel" && !file->python_version.empty()) {
      out += " <span class=\"muted\">";
      out += HtmlEscape(file->python_version);
      out += "</span>";
    }
    out += "</td><td data-label=\"Size\">";
    AppendSize(out, file->size);
    out += "</td><td data-label=\"Uploaded\">";
    AppendTime(out, file->upload_time_micros);
    out += "</td><td data-label=\"SHA256\"><code class=\"hash\">";
    out += HtmlEscape(file->sha256);
    out += "</code></td></tr>\n";
  }
  out += "</tbody>\n</table>\n</div>\n</section>\n";
}

void AppendVersions(std::string& out, const ProjectPage& page) {
  out += "<section aria-labelledby=\"h-versions\">\n<h2 id=\"h-versions\">Versions</h2>\n";
  if (page.releases.empty()) {
    out += "<p id=\"versions\" class=\"empty\">No releases.</p>\n</section>\n";
    return;
  }
  out += "<ol id=\"versions\" class=\"versions\">\n";
  for (auto it = page.releases.rbegin(); it != page.releases.rend(); ++it) {  // newest first
    const ReleaseView& release = *it;
    const bool current = page.release_page && &release == page.shown;
    out += "<li";
    if (release.yank_reason != nullptr) {
      out += " class=\"yanked\"";
    }
    out += "><a href=\"";
    out += HtmlEscape(ui_internal::ReleaseHref(page.root, page.doc.name, release.version));
    out += "\"";
    if (current) {
      out += " aria-current=\"page\"";
    }
    out += ">";
    out += HtmlEscape(release.version);
    out += "</a>";
    if (&release == page.latest) {
      out += " <span class=\"badge badge-ok\">latest</span>";
    }
    if (release.yank_reason != nullptr) {
      out += " <span class=\"badge badge-warn\">yanked</span>";
    } else if (release.parsed.IsPrerelease()) {
      out += " <span class=\"badge\">pre-release</span>";
    }
    if (const std::int64_t when = ReleaseTime(release); when != 0) {
      out += " ";
      AppendTime(out, when);
    }
    if (release.yank_reason != nullptr && !release.yank_reason->empty()) {
      out += "<div class=\"yank-reason\">Yanked: ";
      out += HtmlEscape(*release.yank_reason);
      out += "</div>";
    }
    out += "</li>\n";
  }
  out += "</ol>\n</section>\n";
}

void AppendPerson(std::string& out, std::string_view label, std::string_view name,
                  std::string_view email) {
  if (name.empty() && email.empty()) {
    return;
  }
  out += "<dt>";
  out += label;
  out += "</dt><dd>";
  out += HtmlEscape(name);
  if (!email.empty()) {
    if (!name.empty()) {
      out += "<br>";
    }
    out += "<span class=\"email\">";
    out += HtmlEscape(email);
    out += "</span>";
  }
  out += "</dd>\n";
}

void AppendLicence(std::string& out, const doc::ReleaseInfo& info) {
  const std::string_view expression = Trim(info.license_expression);
  const std::string_view text = Trim(info.license);
  if (expression.empty() && text.empty()) {
    return;
  }
  out += "<dt>License</dt><dd>";
  if (!expression.empty()) {
    out += HtmlEscape(expression);
  } else if (text.size() <= kShortLicence && text.find('\n') == std::string_view::npos) {
    out += HtmlEscape(text);
  } else {
    // Often the whole licence text: its first line as a summary, the rest folded.
    const std::string_view first_line = Trim(text.substr(0, text.find('\n')));
    out += "<details><summary>";
    out += HtmlEscape(Prefix(first_line, 60));
    if (first_line.size() > 60) {
      out += "\xE2\x80\xA6";  // U+2026 HORIZONTAL ELLIPSIS
    }
    out += "</summary><pre class=\"license-text\">";
    out += HtmlEscape(text);
    out += "</pre></details>";
  }
  out += "</dd>\n";
}

// Keywords are separated by commas, or by blanks when there is no comma.
std::vector<std::string_view> SplitKeywords(std::string_view keywords) {
  const bool commas = keywords.find(',') != std::string_view::npos;
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= keywords.size()) {
    std::size_t end = commas ? keywords.find(',', start) : keywords.find_first_of(" \t\n", start);
    if (end == std::string_view::npos) {
      end = keywords.size();
    }
    const std::string_view word = Trim(keywords.substr(start, end - start));
    if (!word.empty()) {
      out.push_back(word);
    }
    start = end + 1;
  }
  return out;
}

void AppendProjectLinks(std::string& out, const doc::ReleaseInfo& info) {
  std::vector<std::pair<std::string_view, std::string_view>> links;  // label, URL
  if (!Trim(info.home_page).empty()) {
    links.emplace_back("Homepage", Trim(info.home_page));
  }
  if (!Trim(info.download_url).empty()) {
    links.emplace_back("Download", Trim(info.download_url));
  }
  for (const std::string& entry : info.project_urls) {
    const std::size_t comma = entry.find(',');
    std::string_view label = Trim(std::string_view(entry).substr(0, comma));
    std::string_view url =
        comma == std::string::npos ? label : Trim(std::string_view(entry).substr(comma + 1));
    if (url.empty()) {
      continue;
    }
    if (label.empty()) {
      label = url;
    }
    links.emplace_back(label, url);
  }
  if (links.empty()) {
    return;
  }
  out += "<h3>Project links</h3>\n<ul class=\"links\">\n";
  for (const auto& [label, url] : links) {
    out += "<li>";
    if (ui_internal::IsWebUrl(url)) {
      AppendExternalLink(out, url, label);
    } else {
      // Not a web URL: shown as text, never as a link.
      out += HtmlEscape(label);
      if (label != url) {
        out += ": <span class=\"url\">";
        out += HtmlEscape(url);
        out += "</span>";
      }
    }
    out += "</li>\n";
  }
  out += "</ul>\n";
}

// Classifiers grouped by their first part ("Programming Language :: Python :: 3" is "Python ::
// 3" under "Programming Language"), groups in order of first appearance.
void AppendClassifiers(std::string& out, const std::vector<std::string>& classifiers) {
  if (classifiers.empty()) {
    return;
  }
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> groups;
  for (const std::string& classifier : classifiers) {
    const std::size_t separator = classifier.find("::");
    const std::string_view group = Trim(std::string_view(classifier).substr(0, separator));
    const std::string_view rest = separator == std::string::npos
                                      ? ""
                                      : Trim(std::string_view(classifier).substr(separator + 2));
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& entry) { return entry.first == group; });
    if (it == groups.end()) {
      groups.emplace_back(group, std::vector<std::string_view>{});
      it = groups.end() - 1;
    }
    if (!rest.empty()) {
      it->second.push_back(rest);
    }
  }
  out += "<h3>Classifiers</h3>\n<dl class=\"classifiers\">\n";
  for (const auto& [group, items] : groups) {
    out += "<dt>";
    out += HtmlEscape(group);
    out += "</dt>";
    for (const std::string_view item : items) {
      out += "<dd>";
      out += HtmlEscape(item);
      out += "</dd>";
    }
    out += "\n";
  }
  out += "</dl>\n";
}

void AppendMetadata(std::string& out, const ProjectPage& page) {
  out += "<section id=\"metadata\" aria-labelledby=\"h-metadata\">\n";
  out += "<h2 id=\"h-metadata\">Metadata</h2>\n";
  const doc::ReleaseInfo* info = page.shown != nullptr ? page.shown->info : nullptr;
  // Requires-Python: the release's, else its files' (imported files may have no ReleaseInfo).
  std::string_view requires_python;
  if (info != nullptr) {
    requires_python = info->requires_python;
  }
  if (requires_python.empty() && page.shown != nullptr) {
    for (const doc::FileEntry* file : page.shown->files) {
      if (!file->requires_python.empty()) {
        requires_python = file->requires_python;
        break;
      }
    }
  }
  std::string details;
  if (!requires_python.empty()) {
    details += "<dt>Requires Python</dt><dd><code>";
    details += HtmlEscape(requires_python);
    details += "</code></dd>\n";
  }
  if (info != nullptr) {
    AppendLicence(details, *info);
    AppendPerson(details, "Author", Trim(info->author), Trim(info->author_email));
    AppendPerson(details, "Maintainer", Trim(info->maintainer), Trim(info->maintainer_email));
    if (const std::vector<std::string_view> keywords = SplitKeywords(info->keywords);
        !keywords.empty()) {
      details += "<dt>Keywords</dt><dd class=\"tags\">";
      for (const std::string_view keyword : keywords) {
        details += "<span class=\"tag\">";
        details += HtmlEscape(keyword);
        details += "</span> ";
      }
      details += "</dd>\n";
    }
  }
  std::string body;
  if (!details.empty()) {
    body += "<dl class=\"meta\">\n";
    body += details;
    body += "</dl>\n";
  }
  if (info != nullptr) {
    AppendProjectLinks(body, *info);
    if (!info->requires_dist.empty()) {
      body += "<h3>Dependencies</h3>\n<ul class=\"deps\">\n";
      for (const std::string& requirement : info->requires_dist) {
        body += "<li><code>";
        body += HtmlEscape(requirement);
        body += "</code></li>\n";
      }
      body += "</ul>\n";
    }
    if (!info->provides_extra.empty()) {
      body += "<h3>Extras</h3>\n<p class=\"tags\">";
      for (const std::string& extra : info->provides_extra) {
        body += "<code>";
        body += HtmlEscape(extra);
        body += "</code> ";
      }
      body += "</p>\n";
    }
    AppendClassifiers(body, info->classifiers);
  }
  out += body.empty() ? "<p class=\"empty\">No metadata.</p>\n" : body;
  out += "</section>\n";
}

std::string RenderProjectPage(const ProjectPage& page) {
  std::string title = internal::DisplayName(page.doc);
  if (page.release_page) {
    title += " " + page.shown->version;
  }
  std::string out;
  ui_internal::AppendPageStart(out, {.root = page.root, .title = title});
  AppendHeader(out, page);
  out += "<div class=\"project-layout\">\n<div class=\"project-main\">\n";
  AppendDescription(out, page);
  AppendFiles(out, page);
  out += "</div>\n<aside class=\"project-side\">\n";
  AppendVersions(out, page);
  AppendMetadata(out, page);
  out += "<p class=\"manage-link\"><a href=\"";
  out += HtmlEscape(ui_internal::ManageProjectHref(page.root, page.doc.name));
  out += "\">Manage project</a></p>\n</aside>\n</div>\n";
  ui_internal::AppendPageEnd(out, page.root);
  return out;
}

}  // namespace

std::string HomePageHtml(const doc::ProjectList& list) {
  std::string out;
  ui_internal::AppendPageStart(out, {.root = "", .title = "", .header_search = false});
  out += "<section class=\"hero\">\n<h1>Python packages</h1>\n<p class=\"lead\">";
  const std::size_t count = list.projects.size();
  out += count == 0 ? std::string("No projects")
                    : std::to_string(count) + (count == 1 ? " project" : " projects");
  out += " in this private index.</p>\n";
  ui_internal::AppendSearchForm(out, "", "", /*large=*/true);
  out += "</section>\n";
  if (list.projects.empty()) {
    out +=
        "<p class=\"empty\">No projects yet. Upload one with twine, for example: "
        "<code>twine upload --repository-url https://&lt;this server&gt;/legacy/ "
        "dist/*</code></p>\n";
    ui_internal::AppendPageEnd(out, "");
    return out;
  }
  std::vector<const doc::ProjectListEntry*> recent;
  recent.reserve(count);
  for (const doc::ProjectListEntry& project : list.projects) {
    recent.push_back(&project);
  }
  const auto newer = [](const doc::ProjectListEntry* a, const doc::ProjectListEntry* b) {
    return a->updated_micros != b->updated_micros ? a->updated_micros > b->updated_micros
                                                  : a->name < b->name;
  };
  const std::size_t shown = std::min(kRecentProjects, recent.size());
  std::partial_sort(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(shown),
                    recent.end(), newer);
  out += "<div class=\"home-columns\">\n<section aria-labelledby=\"h-recent\">\n";
  out += "<h2 id=\"h-recent\">Recently updated</h2>\n<ol id=\"recent\" class=\"project-list\">\n";
  for (std::size_t i = 0; i < shown; ++i) {
    AppendProjectItem(out, *recent[i], /*with_time=*/true);
  }
  out += "</ol>\n</section>\n<section aria-labelledby=\"h-all\">\n";
  out += "<h2 id=\"h-all\">All projects</h2>\n<ul class=\"all-projects\">\n";
  for (const doc::ProjectListEntry& project : list.projects) {
    AppendProjectItem(out, project, /*with_time=*/false);
  }
  out += "</ul>\n</section>\n</div>\n";
  ui_internal::AppendPageEnd(out, "");
  return out;
}

std::string ProjectPageHtml(const doc::ProjectDoc& doc) {
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  const ReleaseView* latest = internal::ChooseLatest(releases);
  return RenderProjectPage({.doc = doc,
                            .releases = releases,
                            .latest = latest,
                            .shown = latest,
                            .release_page = false,
                            .root = "../../"});
}

StatusOr<std::string> ReleasePageHtml(const doc::ProjectDoc& doc, std::string_view version) {
  const std::string key = model::Version::ParseLenient(version).ReleaseKey();
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  for (const ReleaseView& release : releases) {
    if (release.key == key) {
      return RenderProjectPage({.doc = doc,
                                .releases = releases,
                                .latest = internal::ChooseLatest(releases),
                                .shown = &release,
                                .release_page = true,
                                .root = "../../../"});
    }
  }
  return NotFoundError("release " + std::string(version) + " of " + doc.name + ": not found");
}

}  // namespace pydepot::render
