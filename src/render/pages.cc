// The human pages: the project list at / and one project at /project/<project>/. Plain HTML5,
// no scripts and no external resources. Links are relative, so a path prefix added by a reverse
// proxy keeps working.
#include "render/internal.h"
#include "render/render.h"

namespace pydepot::render {
namespace {

using internal::ReleaseView;

void AppendHead(std::string& out, std::string_view escaped_title) {
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>";
  out += escaped_title;
  out += "</title>\n</head>\n<body>\n";
}

void AppendTail(std::string& out) { out += "</body>\n</html>\n"; }

void AppendFileRow(std::string& out, const doc::ProjectDoc& doc, const doc::FileEntry& file) {
  out += "<tr><td><a href=\"";
  out += HtmlEscape("../../" + internal::FilePath(doc.name, file.filename));
  out += "\">";
  out += HtmlEscape(file.filename);
  out += "</a></td><td>";
  out += std::to_string(file.size);
  out += "</td><td><code>";
  out += HtmlEscape(file.sha256);
  out += "</code></td><td>";
  out += doc::FormatUploadTime(file.upload_time_micros);
  out += "</td></tr>\n";
}

void AppendRelease(std::string& out, const doc::ProjectDoc& doc, const ReleaseView& release) {
  out += "<h3>";
  out += HtmlEscape(release.version);
  if (release.yank_reason != nullptr) {
    out += " (yanked)";
  }
  out += "</h3>\n";
  if (release.yank_reason != nullptr) {
    out += "<p>Yanked";
    if (!release.yank_reason->empty()) {
      out += ": ";
      out += HtmlEscape(*release.yank_reason);
    }
    out += "</p>\n";
  }
  if (release.files.empty()) {
    out += "<p>No files.</p>\n";
    return;
  }
  out +=
      "<table>\n<thead><tr><th>File</th><th>Size (bytes)</th><th>SHA256</th>"
      "<th>Uploaded (UTC)</th></tr></thead>\n<tbody>\n";
  for (const doc::FileEntry* file : release.files) {
    AppendFileRow(out, doc, *file);
  }
  out += "</tbody>\n</table>\n";
}

}  // namespace

std::string HomePageHtml(const doc::ProjectList& list) {
  std::string out;
  AppendHead(out, "pydepot");
  out += "<h1>Projects</h1>\n";
  if (list.projects.empty()) {
    out += "<p>No projects yet.</p>\n";
  } else {
    out += "<ul>\n";
    for (const doc::ProjectListEntry& project : list.projects) {
      out += "<li><a href=\"project/";
      out += HtmlEscape(PercentEncode(project.name));
      out += "/\">";
      out += HtmlEscape(project.display_name.empty() ? project.name : project.display_name);
      out += "</a></li>\n";
    }
    out += "</ul>\n";
  }
  out += "<p>Package installers use the <a href=\"simple/\">simple index</a>.</p>\n";
  AppendTail(out);
  return out;
}

std::string ProjectPageHtml(const doc::ProjectDoc& doc) {
  const std::vector<ReleaseView> releases = internal::CollectReleases(doc);
  const ReleaseView* latest = internal::ChooseLatest(releases);
  const std::string name = HtmlEscape(internal::DisplayName(doc));

  std::string out;
  AppendHead(out, name);
  out += "<p><a href=\"../../\">All projects</a></p>\n<h1>";
  out += name;
  if (latest != nullptr) {
    out += " ";
    out += HtmlEscape(latest->version);
  }
  out += "</h1>\n";
  if (latest != nullptr && latest->info != nullptr && !latest->info->summary.empty()) {
    out += "<p>";
    out += HtmlEscape(latest->info->summary);
    out += "</p>\n";
  }
  out += "<pre><code>pip install ";
  out += name;
  out += "</code></pre>\n<h2>Versions</h2>\n";
  if (releases.empty()) {
    out += "<p>No releases.</p>\n";
  }
  for (auto it = releases.rbegin(); it != releases.rend(); ++it) {  // newest first
    AppendRelease(out, doc, *it);
  }
  AppendTail(out);
  return out;
}

}  // namespace pydepot::render
