#include <map>
#include <optional>
#include <regex>
#include <set>

#include <boost/json.hpp>

#include "gtest/gtest.h"
#include "render/render.h"
#include "render/render_test_util.h"

namespace pydepot::render {
namespace {

namespace json = boost::json;
using testing::Anchor;
using testing::ExpectGolden;
using testing::ParseAnchors;
using testing::PercentDecode;
using testing::PrettyJson;
using testing::SampleDoc;
using testing::SampleList;

json::value ParseJson(const std::string& text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << "\n" << text;
  // Compact, canonical output: what we serve is exactly what Boost.JSON would write for it.
  EXPECT_EQ(json::serialize(value), text);
  return value;
}

std::string LastSegment(std::string_view url) {
  url = url.substr(0, url.find('#'));
  return std::string(url.substr(url.rfind('/') + 1));
}

void ExpectHtmlShell(const std::string& html) {
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n"))
      << html;
  EXPECT_NE(html.find("<meta name=\"pypi:repository-version\" content=\"1.1\">"),
            std::string::npos);
  EXPECT_NE(html.find("<title>"), std::string::npos);
  EXPECT_NE(html.find("</html>\n"), std::string::npos);
  EXPECT_EQ(html.find("<base"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(SimpleRootTest, HtmlGolden) { ExpectGolden("simple_root.html", SimpleRootHtml(SampleList())); }

TEST(SimpleRootTest, JsonGolden) {
  ExpectGolden("simple_root.json", PrettyJson(SimpleRootJson(SampleList())));
}

TEST(SimpleRootTest, HtmlHasOneAnchorPerProject) {
  const doc::ProjectList list = SampleList();
  const std::string html = SimpleRootHtml(list);
  ExpectHtmlShell(html);
  EXPECT_NE(html.find("<!--SERIAL 99-->"), std::string::npos);
  const std::vector<Anchor> anchors = ParseAnchors(html);
  ASSERT_EQ(anchors.size(), list.projects.size());
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    EXPECT_EQ(anchors[i].attributes.at("href"), list.projects[i].name + "/");
    EXPECT_EQ(anchors[i].attributes.size(), 1u);
  }
  EXPECT_EQ(anchors[0].text, "Alpha");
  EXPECT_EQ(anchors[1].text, "Foo.Bar");
  EXPECT_EQ(anchors[2].text, "zeta");  // falls back to the normalized name
}

TEST(SimpleRootTest, DisplayNamesAreEscaped) {
  doc::ProjectList list;
  list.projects.push_back({"x", "<script>alert(1)</script>", 0});
  const std::string html = SimpleRootHtml(list);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find(">&lt;script&gt;alert(1)&lt;/script&gt;</a>"), std::string::npos) << html;
  const json::value root = ParseJson(SimpleRootJson(list));
  EXPECT_EQ(root.at("projects").at(0).at("name"), "<script>alert(1)</script>");
}

TEST(SimpleRootTest, JsonShape) {
  const json::value root = ParseJson(SimpleRootJson(SampleList()));
  EXPECT_EQ(root.at("meta").at("api-version"), "1.1");
  EXPECT_EQ(root.at("meta").at("_last-serial"), 99);
  const json::array& projects = root.at("projects").as_array();
  ASSERT_EQ(projects.size(), 3u);
  EXPECT_EQ(projects[0], (json::object{{"name", "Alpha"}}));
  EXPECT_EQ(projects[1], (json::object{{"name", "Foo.Bar"}}));
  EXPECT_EQ(projects[2], (json::object{{"name", "zeta"}}));
}

TEST(SimpleRootTest, EmptyList) {
  const std::string html = SimpleRootHtml(doc::ProjectList{});
  ExpectHtmlShell(html);
  EXPECT_TRUE(ParseAnchors(html).empty());
  const json::value root = ParseJson(SimpleRootJson(doc::ProjectList{}));
  EXPECT_TRUE(root.at("projects").as_array().empty());
}

TEST(SimpleProjectTest, HtmlGolden) {
  ExpectGolden("simple_project.html", SimpleProjectHtml(SampleDoc()));
}

TEST(SimpleProjectTest, JsonGolden) {
  ExpectGolden("simple_project.json", PrettyJson(SimpleProjectJson(SampleDoc())));
}

TEST(SimpleProjectTest, HtmlAnchors) {
  const doc::ProjectDoc doc = SampleDoc();
  const std::string html = SimpleProjectHtml(doc);
  ExpectHtmlShell(html);
  EXPECT_NE(html.find("<!--SERIAL 12-->"), std::string::npos);
  const std::vector<Anchor> anchors = ParseAnchors(html);
  ASSERT_EQ(anchors.size(), doc.files.size());
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    const doc::FileEntry& file = doc.files[i];
    const Anchor& anchor = anchors[i];
    SCOPED_TRACE(file.filename);
    ASSERT_TRUE(anchor.attributes.at("href").has_value());
    const std::string& href = *anchor.attributes.at("href");
    EXPECT_TRUE(href.starts_with("../../files/foo-bar/")) << href;
    EXPECT_TRUE(href.ends_with("#sha256=" + file.sha256)) << href;
    EXPECT_EQ(anchor.text, file.filename);
    EXPECT_EQ(PercentDecode(LastSegment(href)), anchor.text);

    const std::string* reason = doc.YankReason(file);
    if (reason == nullptr) {
      EXPECT_FALSE(anchor.attributes.contains("data-yanked"));
    } else {
      ASSERT_TRUE(anchor.attributes.contains("data-yanked"));
      EXPECT_EQ(anchor.attributes.at("data-yanked"), *reason);  // a value, never bare
    }

    if (file.metadata_sha256.empty()) {
      EXPECT_FALSE(anchor.attributes.contains("data-core-metadata"));
      EXPECT_FALSE(anchor.attributes.contains("data-dist-info-metadata"));
    } else {
      EXPECT_EQ(anchor.attributes.at("data-core-metadata"), "sha256=" + file.metadata_sha256);
      EXPECT_EQ(anchor.attributes.at("data-dist-info-metadata"), "sha256=" + file.metadata_sha256);
    }

    if (file.requires_python.empty()) {
      EXPECT_FALSE(anchor.attributes.contains("data-requires-python"));
    } else {
      EXPECT_EQ(anchor.attributes.at("data-requires-python"), file.requires_python);
    }
  }
}

TEST(SimpleProjectTest, HtmlEscapesAttributes) {
  const std::string html = SimpleProjectHtml(SampleDoc());
  EXPECT_NE(html.find("data-requires-python=\"&gt;=3.8,&lt;4\""), std::string::npos);
  EXPECT_NE(html.find("data-yanked=\"bad &lt;release&gt; &amp; &quot;broken&quot;\""),
            std::string::npos);
  EXPECT_NE(html.find("data-yanked=\"\""), std::string::npos);
  // Never a bare data-yanked (pip would read it as not yanked).
  EXPECT_FALSE(std::regex_search(html, std::regex("data-yanked(?!=\")")));
  EXPECT_NE(html.find("foo_bar-1.0.1%2Blocal.1-py3-none-any.whl#sha256="), std::string::npos);
  EXPECT_NE(html.find(">foo_bar-1.0.1+local.1-py3-none-any.whl</a>"), std::string::npos);
}

// A yank of one file (as upstream pages have), not of its release: only that file is yanked, in
// both formats, and a per-file reason wins over its release's.
TEST(SimpleProjectTest, PerFileYanks) {
  doc::ProjectDoc doc = SampleDoc();
  // The sdist of 1.0 stays installable.
  for (std::size_t i = 0; i < doc.files.size(); ++i) {
    if (doc.files[i].filename == "foo_bar-1.0-py3-none-any.whl") {
      doc.files[i].yanked = "bad <wheel>";
    } else if (doc.files[i].filename == "foo_bar-2.0rc1.tar.gz") {
      doc.files[i].yanked = "";
    } else if (doc.files[i].filename == "foo_bar-1.1.tar.gz") {
      doc.files[i].yanked = "file reason";  // its release is yanked too
    }
  }
  const std::string html = SimpleProjectHtml(doc);
  std::map<std::string, std::optional<std::string>> html_yanked;
  for (const Anchor& anchor : ParseAnchors(html)) {
    auto it = anchor.attributes.find("data-yanked");
    html_yanked[anchor.text] =
        it == anchor.attributes.end() ? std::nullopt : std::optional<std::string>(*it->second);
  }
  EXPECT_EQ(html_yanked.at("foo_bar-1.0-py3-none-any.whl"), "bad <wheel>");
  EXPECT_EQ(html_yanked.at("foo_bar-1.0.tar.gz"), std::nullopt);
  EXPECT_EQ(html_yanked.at("foo_bar-2.0rc1.tar.gz"), "");
  EXPECT_EQ(html_yanked.at("foo_bar-1.1.tar.gz"), "file reason");
  EXPECT_NE(html.find("data-yanked=\"bad &lt;wheel&gt;\""), std::string::npos);

  const json::value root = ParseJson(SimpleProjectJson(doc));
  std::map<std::string, json::value> json_yanked;
  for (const json::value& file : root.at("files").as_array()) {
    json_yanked[std::string(file.at("filename").as_string())] = file.at("yanked");
  }
  EXPECT_EQ(json_yanked.at("foo_bar-1.0-py3-none-any.whl"), "bad <wheel>");
  EXPECT_EQ(json_yanked.at("foo_bar-1.0.tar.gz"), false);
  EXPECT_EQ(json_yanked.at("foo_bar-2.0rc1.tar.gz"), true);  // no reason: plain true
  EXPECT_EQ(json_yanked.at("foo_bar-1.1.tar.gz"), "file reason");
}

TEST(SimpleProjectTest, DisplayNameIsEscaped) {
  doc::ProjectDoc doc = SampleDoc();
  doc.display_name = "<script>alert(1)</script>";
  const std::string html = SimpleProjectHtml(doc);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("<title>Links for &lt;script&gt;alert(1)&lt;/script&gt;</title>"),
            std::string::npos);
}

TEST(SimpleProjectTest, FilenameIsEscapedAndEncoded) {
  doc::ProjectDoc doc;
  doc.name = "x";
  doc.files.push_back(testing::SampleFile("x-1.0-\"<&'>.tar.gz", "1.0", 0));
  const std::string html = SimpleProjectHtml(doc);
  EXPECT_NE(html.find(">x-1.0-&quot;&lt;&amp;&#39;&gt;.tar.gz</a>"), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"../../files/x/x-1.0-%22%3C%26%27%3E.tar.gz#sha256="),
            std::string::npos)
      << html;
  const std::vector<Anchor> anchors = ParseAnchors(html);
  ASSERT_EQ(anchors.size(), 1u);
  EXPECT_EQ(anchors[0].text, doc.files[0].filename);
  EXPECT_EQ(PercentDecode(LastSegment(*anchors[0].attributes.at("href"))), doc.files[0].filename);
}

TEST(SimpleProjectTest, JsonShape) {
  const doc::ProjectDoc doc = SampleDoc();
  const std::string text = SimpleProjectJson(doc);
  EXPECT_EQ(text.find("dist-info-metadata"), std::string::npos);
  const json::value root = ParseJson(text);
  EXPECT_EQ(root.at("meta").at("api-version"), "1.1");
  EXPECT_EQ(root.at("meta").at("_last-serial"), 12);
  EXPECT_EQ(root.at("name"), "foo-bar");

  // versions: every file's version, once each, in PEP 440 order.
  std::vector<std::string> versions;
  for (const json::value& v : root.at("versions").as_array()) {
    versions.emplace_back(v.as_string());
  }
  EXPECT_EQ(versions, (std::vector<std::string>{"0.9", "1.0", "1.0.1+local.1", "1.1", "2.0rc1"}));

  const json::array& files = root.at("files").as_array();
  ASSERT_EQ(files.size(), doc.files.size());
  const std::regex upload_time(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
  for (std::size_t i = 0; i < files.size(); ++i) {
    const doc::FileEntry& file = doc.files[i];
    const json::object& entry = files[i].as_object();
    SCOPED_TRACE(file.filename);
    EXPECT_EQ(entry.at("filename").as_string(), file.filename);
    const std::string url(entry.at("url").as_string());
    EXPECT_EQ(url.find('#'), std::string::npos);
    EXPECT_EQ(url.find('?'), std::string::npos);
    EXPECT_TRUE(url.starts_with("../../files/foo-bar/")) << url;
    EXPECT_EQ(PercentDecode(LastSegment(url)), file.filename);
    EXPECT_EQ(entry.at("hashes"), (json::object{{"sha256", file.sha256}}));
    if (file.requires_python.empty()) {
      EXPECT_FALSE(entry.contains("requires-python"));
    } else {
      EXPECT_EQ(entry.at("requires-python").as_string(), file.requires_python);  // not HTML-escaped
    }
    if (file.metadata_sha256.empty()) {
      EXPECT_FALSE(entry.contains("core-metadata"));
    } else {
      EXPECT_EQ(entry.at("core-metadata"), (json::object{{"sha256", file.metadata_sha256}}));
    }
    const std::string* reason = doc.YankReason(file);
    if (reason == nullptr) {
      EXPECT_EQ(entry.at("yanked"), false);
    } else if (reason->empty()) {
      EXPECT_EQ(entry.at("yanked"), true);
    } else {
      EXPECT_EQ(entry.at("yanked").as_string(), *reason);
    }
    EXPECT_NE(entry.at("yanked"), "");
    ASSERT_TRUE(entry.at("size").is_int64());
    EXPECT_EQ(entry.at("size"), file.size);
    const std::string time(entry.at("upload-time").as_string());
    EXPECT_TRUE(std::regex_match(time, upload_time)) << time;
    EXPECT_EQ(time, doc::FormatUploadTime(file.upload_time_micros));
  }
}

TEST(SimpleProjectTest, VersionsAreASetOfFileVersions) {
  doc::ProjectDoc doc;
  doc.name = "x";
  doc.files.push_back(testing::SampleFile("x-1.0.0.tar.gz", "1.0.0", 0));
  doc.files.push_back(testing::SampleFile("x-1.0-py3-none-any.whl", "1.0", 0));
  doc.files.push_back(testing::SampleFile("x-1.0.tar.gz", "1.0", 0));
  doc.files.push_back(testing::SampleFile("x-0.10.tar.gz", "0.10", 0));
  doc.files.push_back(testing::SampleFile("x-0.9.tar.gz", "0.9", 0));
  const json::value root = ParseJson(SimpleProjectJson(doc));
  EXPECT_EQ(root.at("versions"), (json::array{"0.9", "0.10", "1.0", "1.0.0"}));
}

TEST(SimpleProjectTest, MetaMatchesBetweenHtmlAndJson) {
  const doc::ProjectDoc doc = SampleDoc();
  const json::value root = ParseJson(SimpleProjectJson(doc));
  const std::string html = SimpleProjectHtml(doc);
  const std::string meta =
      "content=\"" + std::string(root.at("meta").at("api-version").as_string());
  EXPECT_NE(html.find("<meta name=\"pypi:repository-version\" " + meta + "\">"), std::string::npos);
  EXPECT_EQ(root.at("meta").at("api-version").as_string(), kApiVersion);
}

TEST(SimpleProjectTest, UnknownUploadTimeIsLeftOut) {
  // Files of an upstream that serves HTML pages have no known upload time (PEP 700: optional).
  doc::ProjectDoc doc = SampleDoc();
  doc.files.front().upload_time_micros = 0;
  const json::value root = ParseJson(SimpleProjectJson(doc));
  const auto& files = root.at("files").as_array();
  EXPECT_EQ(files.front().as_object().if_contains("upload-time"), nullptr);
  EXPECT_NE(files.back().as_object().if_contains("upload-time"), nullptr);
}

TEST(SimpleProjectTest, UnknownSizeIsLeftOutNotZero) {
  // Files of an upstream that serves HTML pages have no known size: no "size" rather than a
  // size the file does not have.
  doc::ProjectDoc doc = SampleDoc();
  doc.files.front().size = -1;
  const json::value root = ParseJson(SimpleProjectJson(doc));
  const auto& files = root.at("files").as_array();
  EXPECT_EQ(files.front().as_object().if_contains("size"), nullptr);
  EXPECT_EQ(files.back().at("size"), doc.files.back().size);
}

TEST(SimpleProjectTest, ProjectWithoutFiles) {
  doc::ProjectDoc doc;
  doc.name = "empty";
  const std::string html = SimpleProjectHtml(doc);
  ExpectHtmlShell(html);
  EXPECT_TRUE(ParseAnchors(html).empty());
  EXPECT_NE(html.find("<title>Links for empty</title>"), std::string::npos);
  const json::value root = ParseJson(SimpleProjectJson(doc));
  EXPECT_TRUE(root.at("files").as_array().empty());
  EXPECT_TRUE(root.at("versions").as_array().empty());
}

TEST(SimpleProjectTest, InvalidUtf8NeverReachesTheOutput) {
  doc::ProjectDoc doc;
  doc.name = "x";
  doc.display_name = "X\xFF";
  doc.files.push_back(testing::SampleFile("x-1.0.tar.gz", "1.0", 0));
  doc.files[0].requires_python = ">=3\xC3";
  doc.yanked[doc.files[0].release_key] = "bad\xFE";
  const json::value root = ParseJson(SimpleProjectJson(doc));  // parse validates UTF-8
  EXPECT_EQ(root.at("files").at(0).at("requires-python"), ">=3\xEF\xBF\xBD");
  EXPECT_EQ(root.at("files").at(0).at("yanked"), "bad\xEF\xBF\xBD");
  const std::string html = SimpleProjectHtml(doc);
  EXPECT_EQ(html.find('\xFF'), std::string::npos);
  EXPECT_EQ(html.find('\xFE'), std::string::npos);
}

TEST(SimpleProjectTest, Deterministic) {
  EXPECT_EQ(SimpleProjectJson(SampleDoc()), SimpleProjectJson(SampleDoc()));
  EXPECT_EQ(SimpleProjectHtml(SampleDoc()), SimpleProjectHtml(SampleDoc()));
}

}  // namespace
}  // namespace pydepot::render
