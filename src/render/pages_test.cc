#include "gtest/gtest.h"
#include "render/render.h"
#include "render/render_test_util.h"

namespace pydepot::render {
namespace {

using testing::Anchor;
using testing::ExpectGolden;
using testing::ParseAnchors;
using testing::SampleDoc;
using testing::SampleList;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Plain pages: a valid HTML5 shell, nothing loaded from elsewhere, no scripts.
void ExpectPlainPage(const std::string& html) {
  EXPECT_TRUE(
      html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"))
      << html;
  EXPECT_TRUE(html.ends_with("</body>\n</html>\n"));
  EXPECT_TRUE(Contains(html, "<title>"));
  for (std::string_view forbidden :
       {"<script", "<link", "<img", "<iframe", "src=", "http://", "https://", "<base", "style="}) {
    EXPECT_FALSE(Contains(html, forbidden)) << forbidden;
  }
}

TEST(HomePageTest, Golden) { ExpectGolden("home.html", HomePageHtml(SampleList())); }

TEST(HomePageTest, LinksEveryProject) {
  const std::string html = HomePageHtml(SampleList());
  ExpectPlainPage(html);
  const std::vector<Anchor> anchors = ParseAnchors(html);
  ASSERT_EQ(anchors.size(), 4u);  // three projects and the simple index
  EXPECT_EQ(anchors[0].attributes.at("href"), "project/alpha/");
  EXPECT_EQ(anchors[0].text, "Alpha");
  EXPECT_EQ(anchors[1].attributes.at("href"), "project/foo-bar/");
  EXPECT_EQ(anchors[1].text, "Foo.Bar");
  EXPECT_EQ(anchors[2].text, "zeta");
  EXPECT_EQ(anchors[3].attributes.at("href"), "simple/");
}

TEST(HomePageTest, EscapesDisplayNames) {
  doc::ProjectList list;
  list.projects.push_back({"x", "<script>alert(1)</script>", 0});
  const std::string html = HomePageHtml(list);
  ExpectPlainPage(html);
  EXPECT_TRUE(Contains(html, ">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
}

TEST(HomePageTest, Empty) {
  const std::string html = HomePageHtml(doc::ProjectList{});
  ExpectPlainPage(html);
  EXPECT_TRUE(Contains(html, "No projects yet."));
  EXPECT_FALSE(Contains(html, "<ul>"));  // an empty list would be valid, but says nothing
}

TEST(ProjectPageTest, Golden) { ExpectGolden("project.html", ProjectPageHtml(SampleDoc())); }

TEST(ProjectPageTest, ShowsVersionsFilesAndInstallLine) {
  const doc::ProjectDoc doc = SampleDoc();
  const std::string html = ProjectPageHtml(doc);
  ExpectPlainPage(html);
  EXPECT_TRUE(Contains(html, "<title>Foo.Bar</title>"));
  EXPECT_TRUE(Contains(html, "<h1>Foo.Bar 1.0.1+local.1</h1>"));
  EXPECT_TRUE(Contains(html, "<p>Foo &amp; bar &lt;utilities&gt;</p>"));
  EXPECT_TRUE(Contains(html, "<code>pip install Foo.Bar</code>"));
  EXPECT_TRUE(Contains(html,
                       "<h3>1.1 (yanked)</h3>\n<p>Yanked: bad &lt;release&gt; &amp; "
                       "&quot;broken&quot;</p>"));
  EXPECT_TRUE(Contains(html, "<h3>0.9 (yanked)</h3>\n<p>Yanked</p>"));
  EXPECT_TRUE(Contains(html, "<h3>0.5</h3>\n<p>No files.</p>"));
  // Newest first.
  EXPECT_LT(html.find("<h3>2.0rc1</h3>"), html.find("<h3>1.1 (yanked)</h3>"));
  EXPECT_LT(html.find("<h3>1.1 (yanked)</h3>"), html.find("<h3>1.0</h3>"));
  for (const doc::FileEntry& file : doc.files) {
    SCOPED_TRACE(file.filename);
    EXPECT_TRUE(Contains(html, "<td>" + std::to_string(file.size) + "</td>"));
    EXPECT_TRUE(Contains(html, "<code>" + file.sha256 + "</code>"));
    EXPECT_TRUE(Contains(html, doc::FormatUploadTime(file.upload_time_micros)));
  }
  const std::vector<Anchor> anchors = ParseAnchors(html);
  ASSERT_EQ(anchors.size(), doc.files.size() + 1);
  EXPECT_EQ(anchors[0].attributes.at("href"), "../../");
  for (std::size_t i = 1; i < anchors.size(); ++i) {
    const std::string& href = *anchors[i].attributes.at("href");
    EXPECT_TRUE(href.starts_with("../../files/foo-bar/")) << href;
    EXPECT_NE(doc.FindFile(anchors[i].text), nullptr) << anchors[i].text;
  }
}

TEST(ProjectPageTest, EscapesEverythingUserControlled) {
  doc::ProjectDoc doc;
  doc.name = "x";
  doc.display_name = "<script>alert(1)</script>";
  doc.files.push_back(testing::SampleFile("x-1.0-<b>.tar.gz", "1.0", 0));
  doc.releases["1"] = testing::SampleRelease("1.0");
  doc.releases["1"].summary = "<img onerror=alert(1)>";
  doc.yanked["1"] = "</p><script>";
  const std::string html = ProjectPageHtml(doc);
  ExpectPlainPage(html);
  EXPECT_FALSE(Contains(html, "<b>"));
  EXPECT_TRUE(Contains(html, "pip install &lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(Contains(html, "<p>&lt;img onerror=alert(1)&gt;</p>"));
  EXPECT_TRUE(Contains(html, "Yanked: &lt;/p&gt;&lt;script&gt;"));
}

TEST(ProjectPageTest, ProjectWithoutReleases) {
  doc::ProjectDoc doc;
  doc.name = "empty";
  const std::string html = ProjectPageHtml(doc);
  ExpectPlainPage(html);
  EXPECT_TRUE(Contains(html, "<h1>empty</h1>"));
  EXPECT_TRUE(Contains(html, "No releases."));
}

}  // namespace
}  // namespace pydepot::render
