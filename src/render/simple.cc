// The simple repository API: PEP 503 HTML and PEP 691 JSON at api-version 1.1 (STANDARDS §3-5).
#include <algorithm>
#include <set>

#include "render/internal.h"
#include "render/render.h"

namespace pydepot::render {
namespace {

namespace json = boost::json;
using internal::DisplayName;
using internal::JsonString;

void AppendHtmlHead(std::string& out, std::string_view title) {
  out += "<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n";
  out += "    <meta name=\"pypi:repository-version\" content=\"";
  out += kApiVersion;
  out += "\">\n    <title>";
  out += title;
  out += "</title>\n  </head>\n  <body>\n";
}

void AppendHtmlTail(std::string& out, std::int64_t serial) {
  out += "  </body>\n</html>\n<!--SERIAL ";
  out += std::to_string(serial);
  out += "-->\n";
}

json::object Meta(std::int64_t serial) {
  json::object meta;
  meta["api-version"] = kApiVersion;
  meta["_last-serial"] = serial;
  return meta;
}

// The file's URL relative to /simple/<project>/, without the hash fragment.
std::string FileUrl(const doc::ProjectDoc& doc, const doc::FileEntry& file) {
  return "../../" + internal::FilePath(doc.name, file.filename);
}

}  // namespace

std::string SimpleRootHtml(const doc::ProjectList& list) {
  std::string out;
  AppendHtmlHead(out, "Simple index");
  for (const doc::ProjectListEntry& project : list.projects) {
    out += "    <a href=\"";
    out += HtmlEscape(PercentEncode(project.name));
    out += "/\">";
    out += HtmlEscape(project.display_name.empty() ? project.name : project.display_name);
    out += "</a><br>\n";
  }
  AppendHtmlTail(out, list.serial);
  return out;
}

std::string SimpleRootJson(const doc::ProjectList& list) {
  json::object root;
  root["meta"] = Meta(list.serial);
  json::array projects;
  projects.reserve(list.projects.size());
  for (const doc::ProjectListEntry& project : list.projects) {
    json::object entry;
    entry["name"] = JsonString(project.display_name.empty() ? project.name : project.display_name);
    projects.emplace_back(std::move(entry));
  }
  root["projects"] = std::move(projects);
  return internal::ToJson(root);
}

std::string SimpleProjectHtml(const doc::ProjectDoc& doc) {
  std::string out;
  const std::string title = "Links for " + HtmlEscape(DisplayName(doc));
  AppendHtmlHead(out, title);
  out += "    <h1>" + title + "</h1>\n";
  for (const doc::FileEntry& file : doc.files) {
    std::string href = FileUrl(doc, file);
    if (!file.sha256.empty()) {
      href += "#sha256=" + file.sha256;
    }
    out += "    <a href=\"" + HtmlEscape(href) + "\"";
    if (!file.requires_python.empty()) {
      out += " data-requires-python=\"" + HtmlEscape(file.requires_python) + "\"";
    }
    // Always with a value: pip reads a bare data-yanked as not yanked (STANDARDS HTML-07).
    if (const std::string* reason = doc.YankReason(file)) {
      out += " data-yanked=\"" + HtmlEscape(*reason) + "\"";
    }
    // Both names, identical values (PEP 714): older pips read only the second.
    if (!file.metadata_sha256.empty()) {
      const std::string value = HtmlEscape("sha256=" + file.metadata_sha256);
      out += " data-core-metadata=\"" + value + "\"";
      out += " data-dist-info-metadata=\"" + value + "\"";
    }
    out += ">" + HtmlEscape(file.filename) + "</a><br>\n";
  }
  AppendHtmlTail(out, doc.serial);
  return out;
}

std::string SimpleProjectJson(const doc::ProjectDoc& doc) {
  json::object root;
  root["meta"] = Meta(doc.serial);
  root["name"] = JsonString(doc.name);

  // `versions` is a set of every file's version (PEP 700), in PEP 440 order.
  std::set<std::string> distinct;
  for (const doc::FileEntry& file : doc.files) {
    distinct.insert(file.version);
  }
  std::vector<std::pair<model::Version, std::string>> versions;
  versions.reserve(distinct.size());
  for (const std::string& version : distinct) {
    versions.emplace_back(model::Version::ParseLenient(version), version);
  }
  std::stable_sort(versions.begin(), versions.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array version_array;
  version_array.reserve(versions.size());
  for (const auto& version : versions) {
    version_array.emplace_back(JsonString(version.second));
  }
  root["versions"] = std::move(version_array);

  json::array files;
  files.reserve(doc.files.size());
  for (const doc::FileEntry& file : doc.files) {
    json::object entry;
    entry["filename"] = JsonString(file.filename);
    entry["url"] = JsonString(FileUrl(doc, file));
    json::object hashes;
    if (!file.sha256.empty()) {
      hashes["sha256"] = JsonString(file.sha256);
    }
    entry["hashes"] = std::move(hashes);
    if (!file.requires_python.empty()) {
      entry["requires-python"] = JsonString(file.requires_python);
    }
    // Never "dist-info-metadata": pip 22.3-23.1 crash on it (STANDARDS JSON-05).
    if (!file.metadata_sha256.empty()) {
      json::object metadata;
      metadata["sha256"] = JsonString(file.metadata_sha256);
      entry["core-metadata"] = std::move(metadata);
    }
    if (const std::string* reason = doc.YankReason(file)) {
      // The spec forbids "" for yanked: a yank without a reason is plain true.
      if (reason->empty()) {
        entry["yanked"] = true;
      } else {
        entry["yanked"] = JsonString(*reason);
      }
    } else {
      entry["yanked"] = false;
    }
    // Required by PEP 700, but unknown for the files of an upstream that serves only HTML
    // pages: left out rather than given as a size the file does not have.
    if (file.size >= 0) {
      entry["size"] = file.size;
    }
    if (file.upload_time_micros > 0) {
      // Optional in PEP 700; unknown for files of an upstream that serves HTML pages.
      entry["upload-time"] = doc::FormatUploadTime(file.upload_time_micros);
    }
    files.emplace_back(std::move(entry));
  }
  root["files"] = std::move(files);
  return internal::ToJson(root);
}

}  // namespace pydepot::render
