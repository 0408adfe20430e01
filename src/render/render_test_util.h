// Test support for render_test (header-only; not part of the module): a sample project, golden
// files under tests/testdata/render/ (PYDEPOT_UPDATE_GOLDEN=1 rewrites them), a readable JSON
// printer for goldens, and a small parser for the anchors of our own HTML output.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "base/hash.h"
#include "doc/project.h"
#include "gtest/gtest.h"
#include "model/version.h"

namespace pydepot::render::testing {

inline doc::FileEntry SampleFile(std::string filename, std::string_view version,
                                 std::int64_t upload_time_micros) {
  doc::FileEntry file;
  const bool wheel = filename.ends_with(".whl");
  file.filename = std::move(filename);
  file.version = model::Version::ParseLenient(version).Canonical();
  file.release_key = model::Version::ParseLenient(version).ReleaseKey();
  file.filetype = wheel ? "bdist_wheel" : "sdist";
  file.python_version = wheel ? "py3" : "source";
  file.size = static_cast<std::int64_t>(1000 + file.filename.size());
  const Digests digests = ComputeDigests(file.filename);
  file.sha256 = digests.sha256;
  file.md5 = digests.md5;
  file.blake2b_256 = digests.blake2b_256;
  file.upload_time_micros = upload_time_micros;
  file.uploader = "alice";
  if (wheel) {
    file.metadata_sha256 = Sha256Hex("METADATA of " + file.filename);
  }
  return file;
}

inline doc::ReleaseInfo SampleRelease(std::string version) {
  doc::ReleaseInfo release;
  release.version = std::move(version);
  release.created_micros = 1'700'000'000'000'000;
  release.metadata_version = "2.1";
  release.summary = "Foo & bar <utilities>";
  release.description = "# Foo\n\nSome text.\n";
  release.description_content_type = "text/markdown";
  release.author = "Alice";
  release.author_email = "alice@example.com";
  release.license_expression = "MIT";
  release.keywords = "foo,bar";
  release.home_page = "https://example.com/foo";
  release.requires_python = ">=3.8,<4";
  release.classifiers = {"Programming Language :: Python :: 3"};
  release.requires_dist = {"requests>=2", "rich; extra == \"cli\""};
  release.provides_extra = {"cli"};
  release.project_urls = {"Source, https://example.com/src", "Tracker,https://example.com/issues"};
  return release;
}

// A project with: an sdist and a wheel of 1.0 (the wheel with metadata), a local-version wheel
// (a '+' in its filename), a yanked 1.1 with a reason that needs escaping, a pre-release, a
// 0.9 yanked without a reason, and a release 0.5 without files.
inline doc::ProjectDoc SampleDoc() {
  doc::ProjectDoc doc;
  doc.name = "foo-bar";
  doc.display_name = "Foo.Bar";
  doc.serial = 12;
  constexpr std::int64_t kT = 1'700'000'000'000'000;
  doc.files.push_back(SampleFile("foo_bar-0.9.tar.gz", "0.9", kT));
  doc.files.push_back(SampleFile("foo_bar-1.0-py3-none-any.whl", "1.0", kT + 1'000'001));
  doc.files.push_back(SampleFile("foo_bar-1.0.tar.gz", "1.0", kT + 2'000'000));
  doc.files.push_back(
      SampleFile("foo_bar-1.0.1+local.1-py3-none-any.whl", "1.0.1+local.1", kT + 3));
  doc.files.push_back(SampleFile("foo_bar-1.1.tar.gz", "1.1", kT + 4'000'000));
  doc.files.push_back(SampleFile("foo_bar-2.0rc1.tar.gz", "2.0rc1", kT + 5'000'000));
  for (doc::FileEntry& file : doc.files) {
    if (file.version == "1.0" || file.version == "1.1") {
      file.requires_python = ">=3.8,<4";
    }
  }
  for (const char* version : {"0.5", "0.9", "1.0", "1.0.1+local.1", "1.1", "2.0rc1"}) {
    doc.releases[model::Version::ParseLenient(version).ReleaseKey()] = SampleRelease(version);
  }
  doc.yanked["0.9"] = "";
  doc.yanked["1.1"] = "bad <release> & \"broken\"";
  doc.SortFiles();
  return doc;
}

inline doc::ProjectList SampleList() {
  doc::ProjectList list;
  list.serial = 99;
  list.projects.push_back({"alpha", "Alpha", 1});
  list.projects.push_back({"foo-bar", "Foo.Bar", 2});
  list.projects.push_back({"zeta", "", 3});  // no display name recorded
  return list;
}

// Readable, stable JSON for golden files: two-space indent, keys in document order.
inline void AppendPretty(std::string& out, const boost::json::value& value, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<std::size_t>(indent + 1) * 2, ' ');
  if (const boost::json::object* object = value.if_object()) {
    if (object->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& entry : *object) {
      out += first ? "" : ",\n";
      first = false;
      out += inner + boost::json::serialize(boost::json::string(entry.key())) + ": ";
      AppendPretty(out, entry.value(), indent + 1);
    }
    out += "\n" + pad + "}";
  } else if (const boost::json::array* array = value.if_array()) {
    if (array->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < array->size(); ++i) {
      out += i == 0 ? "" : ",\n";
      out += inner;
      AppendPretty(out, (*array)[i], indent + 1);
    }
    out += "\n" + pad + "]";
  } else {
    out += boost::json::serialize(value);
  }
}

inline std::string PrettyJson(std::string_view compact) {
  boost::json::error_code ec;
  const boost::json::value value = boost::json::parse(compact, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON: " << ec.message();
    return "";
  }
  std::string out;
  AppendPretty(out, value, 0);
  return out + "\n";
}

// Compares `actual` with tests/testdata/render/<name>; with PYDEPOT_UPDATE_GOLDEN=1 in the
// environment, writes it there instead.
inline void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(PYDEPOT_SOURCE_DIR) + "/tests/testdata/render/" + name;
  const char* update = std::getenv("PYDEPOT_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << actual;
    ASSERT_TRUE(file.good()) << "cannot write " << path;
    return;
  }
  std::ifstream file(path, std::ios::binary);
  ASSERT_TRUE(file.good()) << "missing golden file " << path
                           << " (run with PYDEPOT_UPDATE_GOLDEN=1 to create it)";
  std::stringstream expected;
  expected << file.rdbuf();
  EXPECT_EQ(actual, expected.str())
      << "output differs from " << path << " (PYDEPOT_UPDATE_GOLDEN=1 rewrites it)";
}

// Reverses HtmlEscape plus the numeric references it does not emit, as html.parser would.
inline std::string HtmlUnescape(std::string_view text) {
  static const std::map<std::string, std::string, std::less<>> kEntities = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"#39", "'"}, {"#x27", "'"}};
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const std::size_t semi = text.find(';', i);
      if (semi != std::string_view::npos) {
        auto it = kEntities.find(text.substr(i + 1, semi - i - 1));
        if (it != kEntities.end()) {
          out += it->second;
          i = semi;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

inline std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct Anchor {
  // Attribute name -> unescaped value; std::nullopt for an attribute written without a value
  // (what html.parser reports as None).
  std::map<std::string, std::optional<std::string>> attributes;
  std::string text;  // unescaped
};

// The <a> elements of `html`. Enough HTML for our own output: double-quoted or bare attributes,
// no '>' inside attribute values (HtmlEscape guarantees that).
inline std::vector<Anchor> ParseAnchors(std::string_view html) {
  std::vector<Anchor> anchors;
  std::size_t pos = 0;
  while ((pos = html.find("<a ", pos)) != std::string_view::npos) {
    const std::size_t tag_end = html.find('>', pos);
    const std::size_t close = html.find("</a>", tag_end);
    if (tag_end == std::string_view::npos || close == std::string_view::npos) {
      ADD_FAILURE() << "unterminated anchor at " << pos;
      break;
    }
    Anchor anchor;
    std::string_view attrs = html.substr(pos + 3, tag_end - pos - 3);
    while (!attrs.empty()) {
      attrs.remove_prefix(std::min(attrs.find_first_not_of(' '), attrs.size()));
      if (attrs.empty()) {
        break;
      }
      const std::size_t name_end = std::min(attrs.find_first_of(" ="), attrs.size());
      const std::string name(attrs.substr(0, name_end));
      attrs.remove_prefix(name_end);
      if (attrs.starts_with("=\"")) {
        const std::size_t value_end = attrs.find('"', 2);
        anchor.attributes[name] = HtmlUnescape(attrs.substr(2, value_end - 2));
        attrs.remove_prefix(value_end + 1);
      } else {
        anchor.attributes[name] = std::nullopt;
      }
    }
    anchor.text = HtmlUnescape(html.substr(tag_end + 1, close - tag_end - 1));
    anchors.push_back(std::move(anchor));
    pos = close;
  }
  return anchors;
}

}  // namespace pydepot::render::testing
