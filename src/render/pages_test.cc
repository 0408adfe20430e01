// The cached pages of the web UI: home, project and release pages (render/ui.h).
#include "gtest/gtest.h"
#include "render/render.h"
#include "render/render_test_util.h"
#include "render/ui_test_util.h"

namespace pydepot::render {
namespace {

using testing::Anchor;
using testing::ExpectUiPage;
using testing::Ids;
using testing::ParseAnchors;
using testing::SampleDoc;
using testing::SampleList;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The anchors whose href starts with `prefix`.
std::vector<Anchor> AnchorsTo(const std::string& html, std::string_view prefix) {
  std::vector<Anchor> out;
  for (Anchor& anchor : ParseAnchors(html)) {
    const auto href = anchor.attributes.find("href");
    if (href != anchor.attributes.end() && href->second && href->second->starts_with(prefix)) {
      out.push_back(std::move(anchor));
    }
  }
  return out;
}

// The text between the element with `id` and the next "</tag>" closing it (no nesting of the
// same tag inside, which holds for our lists and tables).
std::string Element(const std::string& html, std::string_view tag, std::string_view id) {
  const std::size_t start = html.find("id=\"" + std::string(id) + "\"");
  if (start == std::string::npos) {
    return "";
  }
  const std::size_t end = html.find("</" + std::string(tag) + ">", start);
  return html.substr(start, end - start);
}

// ---- Home page ----

TEST(HomePageTest, ShellAndIds) {
  const std::string html = HomePageHtml(SampleList());
  ExpectUiPage(html, "");
  EXPECT_TRUE(Contains(html, "<title>pydepot</title>"));
  const std::set<std::string> ids = Ids(html);
  EXPECT_TRUE(ids.contains("search"));
  EXPECT_TRUE(ids.contains("recent"));
  // The header has no search form here: the page's own is the one with id "search".
  EXPECT_EQ(testing::ParseForms(html).size(), 1u);
  // Links to log in and to the account page (a cached page cannot know who is looking).
  EXPECT_EQ(AnchorsTo(html, "login").size(), 1u);
  EXPECT_EQ(AnchorsTo(html, "account/").size(), 1u);
  EXPECT_EQ(AnchorsTo(html, "simple/").size(), 1u);
}

TEST(HomePageTest, LinksEveryProject) {
  const std::string html = HomePageHtml(SampleList());
  const std::string all = html.substr(html.find("class=\"all-projects\""));
  const std::vector<Anchor> anchors = AnchorsTo(all, "project/");
  ASSERT_EQ(anchors.size(), 3u);
  EXPECT_EQ(anchors[0].attributes.at("href"), "project/alpha/");
  EXPECT_EQ(anchors[0].text, "Alpha");
  EXPECT_EQ(anchors[1].attributes.at("href"), "project/foo-bar/");
  EXPECT_EQ(anchors[1].text, "Foo.Bar");
  EXPECT_EQ(anchors[2].attributes.at("href"), "project/zeta/");
  EXPECT_EQ(anchors[2].text, "zeta");
  EXPECT_TRUE(Contains(html, "3 projects in this private index."));
}

TEST(HomePageTest, RecentIsNewestFirstAndCappedAtTwenty) {
  doc::ProjectList list;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "p" + std::to_string(100 + i);
    // Uploaded in a shuffled order: p100 at 7, p101 at 14, ... (mod 30).
    list.projects.push_back({name, name, 1'700'000'000'000'000 + (i * 7 % 30) * 1'000'000});
  }
  const std::string html = HomePageHtml(list);
  ExpectUiPage(html, "");
  const std::string recent = Element(html, "ol", "recent");
  const std::vector<Anchor> anchors = AnchorsTo(recent, "project/");
  ASSERT_EQ(anchors.size(), 20u);
  std::int64_t previous = INT64_MAX;
  for (const Anchor& anchor : anchors) {
    const auto it =
        std::find_if(list.projects.begin(), list.projects.end(),
                     [&](const doc::ProjectListEntry& p) { return p.name == anchor.text; });
    ASSERT_NE(it, list.projects.end());
    EXPECT_LT(it->updated_micros, previous) << anchor.text;
    previous = it->updated_micros;
  }
  // With their upload time.
  EXPECT_TRUE(Contains(recent, "<time datetime=\"2023-11-14T22:13:49Z\""));
}

TEST(HomePageTest, EscapesDisplayNames) {
  doc::ProjectList list;
  list.projects.push_back({"x", "<script>alert(1)</script>", 1});
  const std::string html = HomePageHtml(list);
  ExpectUiPage(html, "");
  EXPECT_TRUE(Contains(html, ">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
}

TEST(HomePageTest, Empty) {
  const std::string html = HomePageHtml(doc::ProjectList{});
  ExpectUiPage(html, "");
  EXPECT_TRUE(Contains(html, "No projects yet."));
  EXPECT_FALSE(Contains(html, "id=\"recent\""));  // an empty list would be valid, but says nothing
  EXPECT_TRUE(Ids(html).contains("search"));
}

// ---- Project page ----

TEST(ProjectPageTest, ShellAndIds) {
  const std::string html = ProjectPageHtml(SampleDoc());
  ExpectUiPage(html, "../../");
  EXPECT_TRUE(Contains(html, "<title>Foo.Bar \xC2\xB7 pydepot</title>"));
  const std::set<std::string> ids = Ids(html);
  for (const char* id : {"search", "description", "versions", "files", "pip-install"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
  // The header's search form, on every page but home and search.
  const std::vector<testing::Form> forms = testing::ParseForms(html);
  ASSERT_EQ(forms.size(), 1u);
  EXPECT_EQ(forms[0].id, "search");
  EXPECT_EQ(forms[0].action, "../../search");
  EXPECT_EQ(forms[0].method, "get");
  ASSERT_NE(forms[0].Field("q"), nullptr);
  EXPECT_EQ(AnchorsTo(html, "../../login").size(), 1u);
  EXPECT_EQ(AnchorsTo(html, "../../account/").size(), 1u);
}

TEST(ProjectPageTest, HeaderShowsLatestSummaryAndInstallCommand) {
  const std::string html = ProjectPageHtml(SampleDoc());
  // 1.0.1+local.1 is the newest non-yanked final release (PJ-05).
  EXPECT_TRUE(Contains(html, "<h1>Foo.Bar <span class=\"version\">1.0.1+local.1</span></h1>"));
  EXPECT_TRUE(Contains(html, "<p class=\"summary\">Foo &amp; bar &lt;utilities&gt;</p>"));
  EXPECT_TRUE(Contains(html, "<code id=\"pip-install\">pip install Foo.Bar</code>"));
  EXPECT_TRUE(Contains(
      html, "<div id=\"description\" class=\"description\">\n<h1>Foo</h1>\n<p>Some text.</p>"));
}

TEST(ProjectPageTest, VersionsNewestFirstWithYanksAndLinks) {
  const std::string html = ProjectPageHtml(SampleDoc());
  const std::string versions = Element(html, "ol", "versions");
  const std::vector<Anchor> anchors = AnchorsTo(versions, "../../project/foo-bar/");
  ASSERT_EQ(anchors.size(), 6u);
  const char* expected[][2] = {
      {"2.0rc1", "2.0rc1"}, {"1.1", "1.1"}, {"1.0.1+local.1", "1.0.1%2Blocal.1"},
      {"1.0", "1.0"},       {"0.9", "0.9"}, {"0.5", "0.5"}};
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    EXPECT_EQ(anchors[i].text, expected[i][0]);
    EXPECT_EQ(anchors[i].attributes.at("href"),
              "../../project/foo-bar/" + std::string(expected[i][1]) + "/");
  }
  EXPECT_TRUE(Contains(versions, "Yanked: bad &lt;release&gt; &amp; &quot;broken&quot;"));
  EXPECT_TRUE(
      Contains(versions, "<li class=\"yanked\"><a href=\"../../project/foo-bar/0.9/\">0.9</a>"));
  EXPECT_TRUE(
      Contains(versions, ">1.0.1+local.1</a> <span class=\"badge badge-ok\">latest</span>"));
  EXPECT_TRUE(Contains(versions, ">2.0rc1</a> <span class=\"badge\">pre-release</span>"));
}

TEST(ProjectPageTest, FilesOfTheLatestRelease) {
  const doc::ProjectDoc doc = SampleDoc();
  const std::string html = ProjectPageHtml(doc);
  const std::string files = Element(html, "table", "files");
  const std::vector<Anchor> anchors = AnchorsTo(files, "../../files/");
  ASSERT_EQ(anchors.size(), 1u);
  EXPECT_EQ(anchors[0].attributes.at("href"),
            "../../files/foo-bar/foo_bar-1.0.1%2Blocal.1-py3-none-any.whl");
  EXPECT_EQ(anchors[0].text, "foo_bar-1.0.1+local.1-py3-none-any.whl");
  const doc::FileEntry* file = doc.FindFile(anchors[0].text);
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(Contains(files, "<code class=\"hash\">" + file->sha256 + "</code>"));
  EXPECT_TRUE(Contains(files, "<span class=\"size\" title=\"1038 bytes\">1.0 kB</span>"));
  EXPECT_TRUE(Contains(files, "Wheel <span class=\"muted\">py3</span>"));
  EXPECT_TRUE(Contains(files, "title=\"" + doc::FormatUploadTime(file->upload_time_micros) + "\""));
}

TEST(ProjectPageTest, Metadata) {
  const std::string html = ProjectPageHtml(SampleDoc());
  const std::string meta = html.substr(html.find("id=\"metadata\""));
  EXPECT_TRUE(Contains(meta, "<dt>Requires Python</dt><dd><code>&gt;=3.8,&lt;4</code></dd>"));
  EXPECT_TRUE(Contains(meta, "<dt>License</dt><dd>MIT</dd>"));
  EXPECT_TRUE(Contains(
      meta, "<dt>Author</dt><dd>Alice<br><span class=\"email\">alice@example.com</span></dd>"));
  EXPECT_TRUE(Contains(meta, "<span class=\"tag\">foo</span> <span class=\"tag\">bar</span>"));
  EXPECT_TRUE(Contains(meta, "<li><code>rich; extra == &quot;cli&quot;</code></li>"));
  EXPECT_TRUE(Contains(meta, "<code>cli</code>"));
  EXPECT_TRUE(Contains(meta, "<dt>Programming Language</dt><dd>Python :: 3</dd>"));
  const std::vector<Anchor> links = AnchorsTo(meta, "https://");
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].text, "Homepage");
  EXPECT_EQ(links[0].attributes.at("href"), "https://example.com/foo");
  EXPECT_EQ(links[0].attributes.at("rel"), "nofollow noopener noreferrer");
  EXPECT_EQ(links[1].text, "Source");
  EXPECT_EQ(links[1].attributes.at("href"), "https://example.com/src");
  EXPECT_EQ(links[2].text, "Tracker");
  EXPECT_EQ(links[2].attributes.at("href"), "https://example.com/issues");
  EXPECT_EQ(AnchorsTo(html, "../../manage/project/foo-bar/").size(), 1u);
}

TEST(ProjectPageTest, OnlyWebUrlsBecomeLinks) {
  doc::ProjectDoc doc = SampleDoc();
  for (auto& [key, info] : doc.releases) {
    info.home_page = "javascript:alert(1)";
    info.download_url = " HTTP://example.com/dl";
    info.project_urls = {"Bad, JaVaScRiPt:alert(2)",    "Data, data:text/html,<b>x</b>",
                         "Ftp, ftp://example.com/x",    "Rel, /relative",
                         "Mail, mailto:a@b.c",          "Tab, java\tscript:alert(3)",
                         "Good, https://example.com/ok"};
  }
  const std::string html = ProjectPageHtml(doc);
  for (const Anchor& anchor : ParseAnchors(html)) {
    const std::string href = *anchor.attributes.at("href");
    const std::string scheme = testing::SchemeOf(href);
    EXPECT_TRUE(scheme.empty() || scheme == "http" || scheme == "https") << href;
    if (!scheme.empty()) {
      EXPECT_TRUE(anchor.text == "Download" || anchor.text == "Good") << anchor.text;
    }
  }
  const std::string meta = html.substr(html.find("id=\"metadata\""));
  EXPECT_TRUE(Contains(meta, "Homepage: <span class=\"url\">javascript:alert(1)</span>"));
  EXPECT_TRUE(
      Contains(meta, "Data: <span class=\"url\">data:text/html,&lt;b&gt;x&lt;/b&gt;</span>"));
  EXPECT_TRUE(Contains(
      meta, "<a href=\"HTTP://example.com/dl\" rel=\"nofollow noopener noreferrer\">Download</a>"));
  EXPECT_TRUE(Contains(meta, "Rel: <span class=\"url\">/relative</span>"));
  EXPECT_TRUE(Contains(meta, "Mail: <span class=\"url\">mailto:a@b.c</span>"));
}

TEST(ProjectPageTest, LongLicenceIsFolded) {
  doc::ProjectDoc doc = SampleDoc();
  for (auto& [key, info] : doc.releases) {
    info.license_expression.clear();
    info.license =
        "Copyright (c) 2024 Somebody with a rather long name indeed, Inc.\n\nPermission is "
        "hereby granted, free of charge, <to> any person";
  }
  const std::string html = ProjectPageHtml(doc);
  EXPECT_TRUE(Contains(html,
                       "<details><summary>Copyright (c) 2024 Somebody with a rather long name "
                       "indeed, \xE2\x80\xA6</summary><pre class=\"license-text\">"));
  EXPECT_TRUE(Contains(html, "free of charge, &lt;to&gt; any person</pre></details>"));
}

TEST(ProjectPageTest, ProjectWithoutReleases) {
  doc::ProjectDoc doc;
  doc.name = "empty";
  const std::string html = ProjectPageHtml(doc);
  ExpectUiPage(html, "../../");
  EXPECT_TRUE(Contains(html, "<h1>empty</h1>"));
  EXPECT_TRUE(Contains(html, "No releases."));
  EXPECT_TRUE(Contains(html, "This project has no releases yet."));
  const std::set<std::string> ids = Ids(html);
  for (const char* id : {"description", "versions", "files", "pip-install"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
}

TEST(ProjectPageTest, ReleaseWithoutMetadataUsesItsFiles) {
  doc::ProjectDoc doc;
  doc.name = "bare";
  doc.files.push_back(testing::SampleFile("bare-1.0.tar.gz", "1.0", 1'700'000'000'000'000));
  doc.files[0].requires_python = ">=3.9";
  const std::string html = ProjectPageHtml(doc);
  ExpectUiPage(html, "../../");
  EXPECT_TRUE(Contains(html, "No description was given."));
  EXPECT_TRUE(Contains(html, "<dt>Requires Python</dt><dd><code>&gt;=3.9</code></dd>"));
  EXPECT_TRUE(Contains(html, "Released <time datetime=\"2023-11-14T22:13:20Z\""));
}

TEST(ProjectPageTest, AllYankedShowsTheNotice) {
  doc::ProjectDoc doc = SampleDoc();
  for (const auto& [key, info] : doc.releases) {
    doc.yanked[key] = "all gone";
  }
  const std::string html = ProjectPageHtml(doc);
  ExpectUiPage(html, "../../");
  EXPECT_TRUE(Contains(html, "<strong>This release is yanked.</strong> Reason: all gone"));
}

// ---- Release pages ----

TEST(ReleasePageTest, ShowsOneRelease) {
  const doc::ProjectDoc doc = SampleDoc();
  auto page = ReleasePageHtml(doc, "1.0.0");  // matched by release key
  ASSERT_TRUE(page.has_value()) << page.error();
  const std::string& html = *page;
  ExpectUiPage(html, "../../../");
  EXPECT_TRUE(Contains(html, "<title>Foo.Bar 1.0 \xC2\xB7 pydepot</title>"));
  EXPECT_TRUE(Contains(html, "<h1>Foo.Bar <span class=\"version\">1.0</span></h1>"));
  EXPECT_TRUE(Contains(html, "<code id=\"pip-install\">pip install Foo.Bar==1.0</code>"));
  const std::set<std::string> ids = Ids(html);
  for (const char* id : {"search", "description", "versions", "files", "pip-install"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
  const std::vector<Anchor> files = AnchorsTo(html, "../../../files/");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].text, "foo_bar-1.0-py3-none-any.whl");
  EXPECT_EQ(files[1].text, "foo_bar-1.0.tar.gz");
  EXPECT_EQ(files[1].attributes.at("href"), "../../../files/foo-bar/foo_bar-1.0.tar.gz");
  // The current release is marked in the versions list, and the latest is pointed to.
  EXPECT_TRUE(
      Contains(html, "<a href=\"../../../project/foo-bar/1.0/\" aria-current=\"page\">1.0</a>"));
  EXPECT_TRUE(Contains(html,
                       "This is not the latest release of Foo.Bar: see <a "
                       "href=\"../../../project/foo-bar/1.0.1%2Blocal.1/\">1.0.1+local.1</a>."));
  EXPECT_EQ(AnchorsTo(html, "../../../manage/project/foo-bar/").size(), 1u);
  // The breadcrumb, the pointer to the latest release, and the versions.
  EXPECT_EQ(AnchorsTo(html, "../../../project/foo-bar/").size(), 8u);
}

TEST(ReleasePageTest, YankedReleaseSaysSo) {
  auto page = ReleasePageHtml(SampleDoc(), "1.1");
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(Contains(*page,
                       "<h1>Foo.Bar <span class=\"version\">1.1</span> <span class=\"badge "
                       "badge-warn\">yanked</span></h1>"));
  EXPECT_TRUE(Contains(*page,
                       "<strong>This release is yanked.</strong> Reason: bad &lt;release&gt; "
                       "&amp; &quot;broken&quot;"));
}

TEST(ReleasePageTest, LatestHasNoPointerToItself) {
  auto page = ReleasePageHtml(SampleDoc(), "1.0.1+local.1");
  ASSERT_TRUE(page.has_value());
  EXPECT_FALSE(Contains(*page, "This is not the latest release"));
  EXPECT_FALSE(Contains(*page, "This release is yanked"));
}

TEST(ReleasePageTest, UnknownVersionIsNotFound) {
  auto page = ReleasePageHtml(SampleDoc(), "9.9");
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace pydepot::render
