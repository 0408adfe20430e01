// The web UI (render/ui.h): descriptions are rendered safely, every user field is escaped, the
// dynamic pages carry the form contract, search ranks and caps its results, and every page is a
// well-formed HTML5 shell linking the stylesheet from its root.
#include <thread>

#include "gtest/gtest.h"
#include "render/render.h"
#include "render/render_test_util.h"
#include "render/ui_layout.h"
#include "render/ui_test_util.h"

namespace pydepot::render {
namespace {

using testing::ExpectNoActiveContent;
using testing::ExpectUiPage;
using testing::Form;
using testing::Ids;
using testing::ParseAnchors;
using testing::ParseForms;
using testing::ParseTags;
using testing::SampleDoc;
using testing::SampleList;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::size_t Count(std::string_view haystack, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

std::string Markdown(std::string_view text) { return DescriptionHtml(text, "text/markdown"); }

// ---- Descriptions: hostile input ----

// Descriptions that try to run a script or smuggle a dangerous URL, each rendered as Markdown.
const char* const kHostileMarkdown[] = {
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "hello <script>alert(1)</script> world",
    "<img src=x onerror=alert(1)>",
    "text <img src=x onerror=alert(1)> inline",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"https://ok.example/\" onmouseover=\"alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<div onclick=\"alert(1)\">raw block</div>\n\n<style>body{display:none}</style>\n",
    "<details open ontoggle=alert(1)>x</details>",
    "<form action=\"https://evil.example/\"><input name=password></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<object data=\"javascript:alert(1)\"></object><embed src=\"javascript:alert(1)\">",
    "<!-- comment --><base href=\"https://evil.example/\">",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&colon;alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](<java\tscript:alert(1)>)",
    "[x](<java\nscript:alert(1)>)",
    "[x](%20javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](VBScript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml;base64,PHN2Zy8+)",
    "[x](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](javascript:alert(1) \"title\")",
    "[![img](javascript:alert(1))](javascript:alert(2))",
    "[x][r]\n\n[r]: javascript:alert(1)\n",
    "[x][r]\n\n[r]: <JAVASCRIPT:alert(1)> \"t\"\n",
    "<javascript:alert(1)>",
    "<JavaScript:alert(1)>",
    "<vbscript:alert(1)>",
    "<data:text/html,hi>",
    "www.example.com javascript:alert(1) https://ok.example/",
    "[x](https://ok.example/\" onmouseover=\"alert(1))",
    "[x](https://ok.example/ \"\\\" onclick=\\\"alert(1)\")",
    "```\" onclick=\"alert(1)\nprint(1)\n```",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "- [ ] <img src=x onerror=alert(1)>\n- [x] [y](javascript:alert(1))",
    "~~<script>alert(1)</script>~~",
    "<scr<script>ipt>alert(1)</script>",
    "<textarea><script>alert(1)</script></textarea>",
    "<xmp><script>alert(1)</script></xmp>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "\x01[x](javascript:alert(1))\x7F \xC2\x85",
    "[x](\xEF\xBC\xAA"
    "avascript:alert(1))",  // a fullwidth J: not a scheme, so a relative URL
};

TEST(DescriptionTest, HostileMarkdownNeverRunsAScript) {
  for (const char* input : kHostileMarkdown) {
    SCOPED_TRACE(input);
    const std::string html = Markdown(input);
    SCOPED_TRACE(html);
    ExpectNoActiveContent(html, /*page=*/false);
    // No tag of the input survives as a tag: every element comes from cmark's Markdown.
    for (const testing::Tag& tag : ParseTags(html)) {
      static const std::set<std::string, std::less<>> kMarkdownTags = {
          "p",  "a",     "img",   "h1",    "h2",     "h3",   "h4",  "h5",         "h6",
          "ul", "ol",    "li",    "em",    "strong", "code", "pre", "blockquote", "hr",
          "br", "table", "thead", "tbody", "tr",     "th",   "td",  "del",        "input"};
      EXPECT_TRUE(kMarkdownTags.contains(tag.name)) << tag.name;
    }
  }
}

TEST(DescriptionTest, UnsafeLinksKeepTheirTextOnly) {
  EXPECT_EQ(Markdown("[click me](javascript:alert(1))"), "<p>click me</p>\n");
  EXPECT_EQ(Markdown("[click me](&#106;avascript:alert(1))"), "<p>click me</p>\n");
  EXPECT_EQ(Markdown("[click me]( JaVaScRiPt:alert(1))"), "<p>click me</p>\n");
  EXPECT_EQ(Markdown("a ![logo](data:image/png;base64,AAAA) b"), "<p>a logo b</p>\n");
  EXPECT_EQ(Markdown("[![logo](javascript:a)](javascript:b)"), "<p>logo</p>\n");
  EXPECT_EQ(Markdown("[**bold** text](vbscript:x)"), "<p><strong>bold</strong> text</p>\n");
}

TEST(DescriptionTest, RawHtmlIsOmitted) {
  const std::string html = Markdown("<div onclick=\"alert(1)\">\n\n*hi*\n\n</div>\n\nx <b>y</b>");
  EXPECT_FALSE(Contains(html, "<div"));
  EXPECT_FALSE(Contains(html, "<b>"));
  EXPECT_TRUE(Contains(html, "<em>hi</em>"));
  EXPECT_TRUE(Contains(html, "raw HTML omitted"));
}

TEST(DescriptionTest, SafeLinksSurvive) {
  EXPECT_EQ(Markdown("[a](https://example.com/x?y=1&z=2)"),
            "<p><a href=\"https://example.com/x?y=1&amp;z=2\">a</a></p>\n");
  EXPECT_EQ(Markdown("[a](HTTP://example.com/)"), "<p><a href=\"HTTP://example.com/\">a</a></p>\n");
  EXPECT_EQ(Markdown("[a](mailto:me@example.com)"),
            "<p><a href=\"mailto:me@example.com\">a</a></p>\n");
  EXPECT_EQ(Markdown("[a](docs/usage.md#intro)"), "<p><a href=\"docs/usage.md#intro\">a</a></p>\n");
  EXPECT_EQ(Markdown("[a](/abs) [b](#frag) [c](?q)"),
            "<p><a href=\"/abs\">a</a> <a href=\"#frag\">b</a> <a href=\"?q\">c</a></p>\n");
  EXPECT_EQ(Markdown("![pic](img/x.png \"A title\")"),
            "<p><img src=\"img/x.png\" alt=\"pic\" title=\"A title\" /></p>\n");
  // A ':' after a '/' is not a scheme.
  EXPECT_EQ(Markdown("[a](./javascript:x)"), "<p><a href=\"./javascript:x\">a</a></p>\n");
}

TEST(DescriptionTest, OtherContentTypesArePreformattedAndEscaped) {
  const std::string hostile =
      "Title\n=====\n\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n"
      ".. raw:: html\n\n   <iframe src=\"javascript:alert(1)\"></iframe>\n\n`x "
      "<javascript:alert(1)>`_\n";
  for (const char* type : {"text/x-rst", "text/plain", "", "text/html", "TEXT/X-RST; charset=UTF-8",
                           "text/markdownx", "application/markdown"}) {
    SCOPED_TRACE(type);
    const std::string html = DescriptionHtml(hostile, type);
    EXPECT_TRUE(html.starts_with("<pre class=\"description-text\">")) << html;
    EXPECT_TRUE(html.ends_with("</pre>\n"));
    EXPECT_EQ(ParseTags(html).size(), 1u) << html;  // only the <pre>
    EXPECT_TRUE(
        Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;"));
    EXPECT_TRUE(Contains(html, "&lt;iframe src=&quot;javascript:alert(1)&quot;&gt;"));
  }
}

TEST(DescriptionTest, MarkdownContentTypeVariants) {
  for (const char* type : {"text/markdown", "TEXT/Markdown", "text/markdown; charset=UTF-8",
                           "text/markdown;variant=GFM", " text/markdown ; variant=CommonMark",
                           "text/markdown\t;charset=utf-8"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(DescriptionHtml("# Hi", type), "<h1>Hi</h1>\n");
  }
}

TEST(DescriptionTest, EmptyGivesNothing) {
  EXPECT_EQ(DescriptionHtml("", "text/markdown"), "");
  EXPECT_EQ(DescriptionHtml("", "text/x-rst"), "");
  EXPECT_EQ(DescriptionHtml(" \n\t\n", "text/plain"), "");
}

TEST(DescriptionTest, MarkdownFeatures) {
  const std::string html = Markdown(
      "# Heading\n\n## Second\n\nSome *emphasis* and **strong** and `code`.\n\n"
      "| Name | Value |\n|:-----|------:|\n| a | 1 |\n| b | 2 |\n\n"
      "```python\nprint(\"<hi>\")\n```\n\n"
      "Visit https://example.com/docs or www.example.org, mail me@example.com.\n\n"
      "~~old~~ new\n\n- [x] done\n- [ ] todo\n\n> quoted\n");
  SCOPED_TRACE(html);
  ExpectNoActiveContent(html, /*page=*/false);
  EXPECT_TRUE(Contains(html, "<h1>Heading</h1>\n<h2>Second</h2>"));
  EXPECT_TRUE(
      Contains(html, "<em>emphasis</em> and <strong>strong</strong> and <code>code</code>"));
  EXPECT_TRUE(Contains(html,
                       "<table>\n<thead>\n<tr>\n<th align=\"left\">Name</th>\n"
                       "<th align=\"right\">Value</th>"));
  EXPECT_TRUE(Contains(html, "<td align=\"left\">b</td>\n<td align=\"right\">2</td>"));
  EXPECT_TRUE(Contains(html,
                       "<pre><code class=\"language-python\">print(&quot;&lt;hi&gt;&quot;)\n"
                       "</code></pre>"));
  EXPECT_TRUE(Contains(html, "<a href=\"https://example.com/docs\">https://example.com/docs</a>"));
  EXPECT_TRUE(Contains(html, "<a href=\"http://www.example.org\">www.example.org</a>"));
  EXPECT_TRUE(Contains(html, "<a href=\"mailto:me@example.com\">me@example.com</a>"));
  EXPECT_TRUE(Contains(html, "<del>old</del> new"));
  EXPECT_TRUE(Contains(html, "<input type=\"checkbox\" checked=\"\" disabled=\"\" /> done"));
  EXPECT_TRUE(Contains(html, "<input type=\"checkbox\" disabled=\"\" /> todo"));
  EXPECT_TRUE(Contains(html, "<blockquote>\n<p>quoted</p>\n</blockquote>"));
}

TEST(DescriptionTest, OutputIsValidUtf8WithoutControls) {
  const std::string html = Markdown("bad \xFF\xFE bytes \x01 and \x7F and \xC2\x85 here");
  EXPECT_EQ(html,
            "<p>bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD and \xEF\xBF\xBD and "
            "\xEF\xBF\xBD here</p>\n");
}

std::string Repeat(std::string_view text, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += text;
  }
  return out;
}

// Debian's cmark-gfm pads each table row to the header's width, so a short text with a wide
// header and many short lines would take seconds and many MB (or abort on calloc failure).
TEST(DescriptionTest, TablesThatWouldExplodeAreShownAsText) {
  struct Variant {
    std::string name;
    std::string eol;
    std::string prefix;  // of every line (a container)
    std::string marker;  // one column of the delimiter row
  };
  const std::vector<Variant> variants = {
      {"lf", "\n", "", "-|"},        {"crlf", "\r\n", "", "-|"},        {"cr", "\r", "", "-|"},
      {"quote", "\n", "> ", "-|"},   {"indented", "\n", "   ", ":-:|"}, {"vtab", "\n", "", "-\v|"},
      {"nested", "\n", "> > ", "-|"}};
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    // 500 columns and 1000 rows: half a million cells from 8 KB.
    const std::string tall = v.prefix + "|" + Repeat("a|", 500) + v.eol + v.prefix + "|" +
                             Repeat(v.marker, 500) + v.eol + Repeat(v.prefix + "x" + v.eol, 1000);
    const std::string html = Markdown(tall);
    EXPECT_FALSE(Contains(html, "<table")) << html.size();
    EXPECT_LT(html.size(), 100'000u);
    // 5000 columns, a few rows: the cost of a row grows with the square of the width.
    const std::string wide = v.prefix + "|" + Repeat("a|", 5000) + v.eol + v.prefix + "|" +
                             Repeat(v.marker, 5000) + v.eol + v.prefix + "x" + v.eol;
    EXPECT_FALSE(Contains(Markdown(wide), "<table"));
    // A reasonable table in the same shape is rendered.
    const std::string small = v.prefix + "|" + Repeat("a|", 10) + v.eol + v.prefix + "|" +
                              Repeat(v.marker, 10) + v.eol + Repeat(v.prefix + "x" + v.eol, 20);
    EXPECT_TRUE(Contains(Markdown(small), "<table")) << Markdown(small);
  }
}

TEST(DescriptionTest, HugeMarkdownIsShownAsText) {
  const std::string huge = "# Title\n\n" + Repeat("Some *text*.\n", 50'000);  // 650 KB
  const std::string html = Markdown(huge);
  EXPECT_TRUE(html.starts_with("<pre class=\"description-text\"># Title\n")) << html.substr(0, 100);
  // Just below the limit, Markdown.
  EXPECT_TRUE(
      Markdown("# Title\n\n" + Repeat("Some *text*.\n", 40'000)).starts_with("<h1>Title</h1>"));
}

TEST(DescriptionTest, ConcurrentRenderingIsDeterministic) {
  // cmark-gfm keeps process-wide parser state; concurrent renders must still agree.
  const std::string text =
      "# T\n\n| a | b |\n|---|---|\n| ~~x~~ | www.example.com |\n\n- [x] y\n\n~z~ *w*\n";
  const std::string expected = Markdown(text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (Markdown(text) != expected) {
          ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(DescriptionTest, HostileDescriptionOnTheProjectPage) {
  doc::ProjectDoc doc = SampleDoc();
  for (auto& [key, info] : doc.releases) {
    info.description =
        "[x](javascript:alert(1))\n\n<script>alert(2)</script>\n\n"
        "<img src=x onerror=alert(3)>";
  }
  ExpectUiPage(ProjectPageHtml(doc), "../../");
  auto release = ReleasePageHtml(doc, "1.0");
  ASSERT_TRUE(release.has_value());
  ExpectUiPage(*release, "../../../");
}

// ---- Escaping of every user field ----

constexpr std::string_view kEvil = "<b>\"'&";
constexpr std::string_view kEvilEscaped = "&lt;b&gt;&quot;&#39;&amp;";

std::string Evil(std::string_view field) { return std::string(kEvil) + std::string(field); }
std::string EvilEscaped(std::string_view field) {
  return std::string(kEvilEscaped) + std::string(field);
}

// No raw markup of kEvil anywhere; each field shown escaped.
void ExpectEscaped(const std::string& html, const std::vector<std::string_view>& fields) {
  EXPECT_FALSE(Contains(html, "<b>"));
  EXPECT_FALSE(Contains(html, "\"'&"));
  for (const std::string_view field : fields) {
    EXPECT_TRUE(Contains(html, EvilEscaped(field))) << "field " << field << " not shown escaped";
  }
}

doc::ProjectDoc EvilDoc() {
  doc::ProjectDoc doc;
  doc.name = Evil("name");
  doc.display_name = Evil("display");
  doc::FileEntry file = testing::SampleFile(Evil("filename") + ".whl", "1.0", 1);
  file.version = Evil("fileversion");
  file.python_version = Evil("python");
  file.sha256 = Evil("sha");
  doc.files.push_back(file);
  doc::ReleaseInfo info = testing::SampleRelease(Evil("version"));
  info.summary = Evil("summary");
  info.description = Evil("description");
  info.description_content_type = "text/x-rst";
  info.author = Evil("author");
  info.author_email = Evil("authoremail");
  info.maintainer = Evil("maintainer");
  info.maintainer_email = Evil("maintaineremail");
  info.license_expression = Evil("license");
  info.keywords = Evil("keyword");
  info.home_page = "https://example.com/" + Evil("homepage");
  info.download_url = Evil("download");
  info.requires_python = Evil("requirespython");
  info.classifiers = {Evil("classgroup") + " :: " + Evil("classifier")};
  info.requires_dist = {Evil("dependency")};
  info.provides_extra = {Evil("extra")};
  info.project_urls = {Evil("urllabel") + ", https://example.com/" + Evil("url"),
                       Evil("textlabel") + ", " + Evil("texturl")};
  doc.releases[file.release_key] = info;
  doc.yanked[file.release_key] = Evil("yankreason");
  return doc;
}

TEST(EscapingTest, ProjectAndReleasePages) {
  const doc::ProjectDoc doc = EvilDoc();
  const std::vector<std::string_view> fields = {
      "display",         "filename",    "python",     "sha",         "version",
      "summary",         "description", "author",     "authoremail", "maintainer",
      "maintaineremail", "license",     "keyword",    "homepage",    "download",
      "requirespython",  "classgroup",  "classifier", "dependency",  "extra",
      "urllabel",        "url",         "textlabel",  "texturl",     "yankreason"};
  const std::string project = ProjectPageHtml(doc);
  ExpectUiPage(project, "../../");
  ExpectEscaped(project, fields);
  auto release = ReleasePageHtml(doc, "1.0");
  ASSERT_TRUE(release.has_value()) << release.error();
  ExpectUiPage(*release, "../../../");
  ExpectEscaped(*release, fields);
  // The normalized name only appears percent-encoded, in links.
  EXPECT_TRUE(Contains(project, "/project/%3Cb%3E%22%27%26name/"));
}

TEST(EscapingTest, HomeAndSearchPages) {
  doc::ProjectList list;
  list.projects.push_back({Evil("name"), Evil("display"), 1});
  const std::string home = HomePageHtml(list);
  ExpectUiPage(home, "");
  ExpectEscaped(home, {"display"});

  Viewer viewer{
      .user = Evil("viewer"), .role = auth::Role::kAdmin, .session = true, .csrf = Evil("csrf")};
  const std::string search = SearchPageHtml(list, Evil("query"), viewer);
  ExpectUiPage(search, "");
  ExpectEscaped(search, {"query", "viewer"});
  // The query is shown back in the search box.
  EXPECT_TRUE(Contains(search,
                       "name=\"q\" placeholder=\"Search projects\" aria-label=\"Search "
                       "projects\" maxlength=\"200\" value=\"" +
                           EvilEscaped("query") + "\""));
  // "<b>\"'&display" normalizes to "<b>\"'&display", which contains the query "display".
  const std::string found = SearchPageHtml(list, "display", viewer);
  ExpectEscaped(found, {"display"});
}

TEST(EscapingTest, LoginAndMessagePages) {
  const std::string login = LoginPageHtml(Evil("next"), Evil("message"));
  ExpectUiPage(login, "");
  ExpectEscaped(login, {"next", "message"});
  const std::string message = MessagePageHtml("../", Evil("title"), Evil("message"));
  ExpectUiPage(message, "../");
  ExpectEscaped(message, {"title", "message"});
}

TEST(EscapingTest, AccountAndManagePages) {
  const Viewer viewer{
      .user = Evil("viewer"), .role = auth::Role::kAdmin, .session = true, .csrf = Evil("csrf")};
  auth::TokenInfo token{.id = Evil("tokenid"),
                        .user = Evil("tokenuser"),
                        .name = Evil("tokenname"),
                        .scope = auth::Role::kUpload,
                        .projects = {Evil("tokenproject")},
                        .created_micros = 1,
                        .expires_micros = 0};
  const std::string account = AccountPageHtml(viewer, {token}, Evil("newtoken"), Evil("message"));
  ExpectUiPage(account, "../");
  ExpectEscaped(account,
                {"viewer", "csrf", "tokenid", "tokenname", "tokenproject", "newtoken", "message"});

  const std::string manage = ManageProjectPageHtml(viewer, EvilDoc(), Evil("message"));
  ExpectUiPage(manage, "../../../");
  ExpectEscaped(manage,
                {"viewer", "csrf", "display", "filename", "version", "yankreason", "message"});

  const auth::UserInfo user{.name = Evil("username"),
                            .role = auth::Role::kUpload,
                            .created_micros = 1,
                            .upload_projects = {Evil("userproject")}};
  const std::string users = ManageUsersPageHtml(viewer, {user}, {token}, Evil("message"));
  ExpectUiPage(users, "../../");
  ExpectEscaped(users, {"viewer", "csrf", "username", "userproject", "tokenid", "tokenuser",
                        "tokenname", "tokenproject", "message"});
}

// ---- Search ----

doc::ProjectList NamedList(const std::vector<std::string>& names) {
  doc::ProjectList list;
  for (const std::string& name : names) {
    list.projects.push_back({name, name, 1});
  }
  return list;
}

// The project names linked from the search results, in order.
std::vector<std::string> Results(const std::string& html) {
  std::vector<std::string> names;
  const std::size_t start = html.find("<ol id=\"results\"");
  if (start == std::string::npos) {
    return names;
  }
  const std::string list = html.substr(start, html.find("</ol>", start) - start);
  for (const testing::Anchor& anchor : ParseAnchors(list)) {
    names.push_back(anchor.text);
  }
  return names;
}

TEST(SearchTest, ExactMatchFirstThenPrefixThenTheRest) {
  const doc::ProjectList list =
      NamedList({"a-foo-bar", "bar", "foo", "foo-bar", "foo-bar-extra", "xfoo-barx"});
  const Viewer viewer;
  const std::string html = SearchPageHtml(list, "Foo_Bar", viewer);
  ExpectUiPage(html, "");
  EXPECT_EQ(Results(html),
            (std::vector<std::string>{"foo-bar", "foo-bar-extra", "a-foo-bar", "xfoo-barx"}));
  EXPECT_TRUE(Contains(html,
                       "4 projects match \xE2\x80\x9C"
                       "Foo_Bar\xE2\x80\x9D."));
  EXPECT_TRUE(Ids(html).contains("search"));
  EXPECT_EQ(ParseForms(html).size(), 1u);  // the page's search form, not the header's as well
}

TEST(SearchTest, EveryWordMustMatch) {
  const doc::ProjectList list = NamedList({"bar-foo", "foo", "foo-bar", "foobaz"});
  const Viewer viewer;
  EXPECT_EQ(Results(SearchPageHtml(list, "bar foo", viewer)),
            (std::vector<std::string>{"bar-foo", "foo-bar"}));
  EXPECT_EQ(Results(SearchPageHtml(list, "FOO, baz", viewer)),
            (std::vector<std::string>{"foobaz"}));
  EXPECT_TRUE(Contains(SearchPageHtml(list, "nothing", viewer), "No projects match"));
}

TEST(SearchTest, MatchesDisplayNames) {
  doc::ProjectList list;
  list.projects.push_back({"zope-interface", "zope.interface", 1});
  const Viewer viewer;
  EXPECT_EQ(Results(SearchPageHtml(list, "Zope.Interface", viewer)),
            (std::vector<std::string>{"zope.interface"}));
  EXPECT_EQ(Results(SearchPageHtml(list, "e.i", viewer)),
            (std::vector<std::string>{"zope.interface"}));
}

TEST(SearchTest, CapsAtOneHundred) {
  std::vector<std::string> names;
  for (int i = 0; i < 250; ++i) {
    names.push_back("pkg-" + std::to_string(1000 + i));
  }
  names.push_back("pkg");
  std::sort(names.begin(), names.end());
  const Viewer viewer;
  const std::string html = SearchPageHtml(NamedList(names), "pkg", viewer);
  const std::vector<std::string> results = Results(html);
  ASSERT_EQ(results.size(), 100u);
  EXPECT_EQ(results[0], "pkg");  // the exact match, first although 100 others sort before it
  EXPECT_TRUE(Contains(html, "251 projects match"));
  EXPECT_TRUE(Contains(html, "Showing the first 100."));
}

TEST(SearchTest, EmptyQueryShowsNoResults) {
  const Viewer viewer;
  const std::string html = SearchPageHtml(SampleList(), "  ", viewer);
  ExpectUiPage(html, "");
  EXPECT_TRUE(Results(html).empty());
  EXPECT_TRUE(Contains(html, "Type part of a project's name."));
}

// ---- Forms: the contract with the handlers ----

constexpr std::string_view kCsrf = "csrf-Token_123";

Viewer Admin() {
  return Viewer{.user = "root",
                .role = auth::Role::kAdmin,
                .session = true,
                .csrf = std::string(kCsrf),
                .now_micros = 1'800'000'000'000'000};
}

// Every POST form carries the viewer's CSRF token; returns the forms by action.
std::map<std::string, std::vector<Form>> PostForms(const std::string& html, std::string_view csrf) {
  std::map<std::string, std::vector<Form>> by_action;
  for (const Form& form : ParseForms(html)) {
    if (form.method == "get") {
      EXPECT_EQ(form.id, "search");
      continue;
    }
    EXPECT_EQ(form.method, "post") << form.action;
    const testing::Tag* field = form.Field("csrf");
    if (form.action != "login") {
      if (field == nullptr) {
        ADD_FAILURE() << form.action << " has no csrf field";
        continue;
      }
      EXPECT_EQ(field->Get("type"), "hidden");
      EXPECT_EQ(field->Get("value"), csrf);
      EXPECT_EQ(form.fields.front().Get("name"), "csrf");
    }
    // Every form can be submitted.
    EXPECT_TRUE(std::any_of(form.fields.begin(), form.fields.end(), [](const testing::Tag& tag) {
      return tag.name == "button" && tag.Get("type") == "submit";
    })) << form.action;
    by_action[form.action].push_back(form);
  }
  return by_action;
}

void ExpectFields(const Form& form, const std::vector<std::string_view>& names) {
  for (const std::string_view name : names) {
    EXPECT_NE(form.Field(name), nullptr) << form.action << " lacks " << name;
  }
}

TEST(FormsTest, LoginForm) {
  const std::string html = LoginPageHtml("/project/x/?a=1&b=2", "");
  ExpectUiPage(html, "");
  EXPECT_FALSE(Ids(html).contains("message"));
  const auto forms = PostForms(html, "");
  ASSERT_EQ(forms.size(), 1u);
  const Form& form = forms.at("login").at(0);
  ExpectFields(form, {"user", "password", "next"});
  EXPECT_EQ(form.Field("password")->Get("type"), "password");
  EXPECT_EQ(form.Field("next")->Get("type"), "hidden");
  EXPECT_EQ(form.Field("next")->Get("value"), "/project/x/?a=1&b=2");
  EXPECT_EQ(form.Field("csrf"), nullptr);
  // No link to log in on the login page itself.
  EXPECT_FALSE(Contains(html, "href=\"login\""));

  const std::string failed = LoginPageHtml("", "Wrong user name or password.");
  EXPECT_TRUE(Contains(failed, "id=\"message\""));
  EXPECT_TRUE(Contains(failed, "Wrong user name or password."));
}

TEST(FormsTest, AccountPage) {
  const Viewer viewer{.user = "alice",
                      .role = auth::Role::kUpload,
                      .session = true,
                      .csrf = std::string(kCsrf),
                      .now_micros = 1'800'000'000'000'000};
  const std::vector<auth::TokenInfo> tokens = {{.id = "0123456789abcdef",
                                                .user = "alice",
                                                .name = "ci",
                                                .scope = auth::Role::kUpload,
                                                .projects = {},
                                                .created_micros = 1'700'000'000'000'000,
                                                .expires_micros = 0},
                                               {.id = "fedcba9876543210",
                                                .user = "alice",
                                                .name = "old",
                                                .scope = auth::Role::kRead,
                                                .projects = {"a", "b"},
                                                .created_micros = 1'700'000'000'000'000,
                                                .expires_micros = 1'750'000'000'000'000}};
  const std::string html = AccountPageHtml(viewer, tokens, "pydepot-0123-secret", "Token created.");
  ExpectUiPage(html, "../");
  const auto forms = PostForms(html, kCsrf);
  ASSERT_EQ(forms.size(), 4u);
  EXPECT_EQ(forms.count("../logout"), 1u);
  EXPECT_EQ(forms.count("../account/tokens/0123456789abcdef/revoke"), 1u);
  EXPECT_EQ(forms.count("../account/tokens/fedcba9876543210/revoke"), 1u);
  const Form& create = forms.at("../account/tokens").at(0);
  ExpectFields(create, {"name", "scope", "projects", "expires_days"});
  EXPECT_TRUE(Contains(html,
                       "<option value=\"read\" selected>read</option>"
                       "<option value=\"upload\">upload</option></select>"));
  EXPECT_FALSE(Contains(html, "<option value=\"admin\""));  // tokens are read or upload

  EXPECT_TRUE(Contains(html, "<code id=\"new-token\" class=\"secret\">pydepot-0123-secret</code>"));
  EXPECT_TRUE(Contains(html, "it will not be shown again"));
  EXPECT_TRUE(
      Contains(html, "<p id=\"message\" class=\"notice\" role=\"status\">Token created.</p>"));
  EXPECT_TRUE(
      Contains(html, "Logged in as <strong>alice</strong>, with the <strong>upload</strong>"));
  EXPECT_TRUE(Contains(html, "<tr class=\"expired\">"));
  EXPECT_EQ(Count(html, "badge-warn\">expired</span>"), 1u);
  EXPECT_TRUE(Contains(html, "<td data-label=\"Projects\">a, b</td>"));
  EXPECT_TRUE(Contains(html, "<td data-label=\"Projects\">all</td>"));
  EXPECT_FALSE(Contains(html, "manage/users/"));  // not an admin
  // Without a new token, no new-token element.
  EXPECT_FALSE(Ids(AccountPageHtml(viewer, tokens, "", "")).contains("new-token"));
}

TEST(FormsTest, AccountPageWithBasicAuthAndAsAdmin) {
  Viewer viewer = Admin();
  viewer.session = false;
  viewer.csrf.clear();
  const std::string html = AccountPageHtml(viewer, {}, "", "");
  ExpectUiPage(html, "../");
  const auto forms = PostForms(html, "");
  EXPECT_EQ(forms.count("../logout"), 0u);  // nothing to log out of
  EXPECT_EQ(forms.count("../account/tokens"), 1u);
  EXPECT_TRUE(Contains(html, "HTTP basic authentication"));
  EXPECT_TRUE(Contains(html, "You have no tokens."));
  EXPECT_TRUE(Contains(html, "<a href=\"../manage/users/\">Manage users and tokens</a>"));
  EXPECT_TRUE(Contains(html, "<a href=\"../manage/users/\">Users</a>"));  // in the header
}

TEST(FormsTest, ManageProjectPage) {
  const doc::ProjectDoc doc = SampleDoc();
  const std::string html = ManageProjectPageHtml(Admin(), doc, "Yanked 1.0.");
  ExpectUiPage(html, "../../../");
  EXPECT_TRUE(Ids(html).contains("message"));
  const auto forms = PostForms(html, kCsrf);
  const std::string base = "../../../manage/project/foo-bar/";
  // Six releases: 1.1 and 0.9 are yanked.
  ASSERT_EQ(forms.at(base + "yank").size(), 4u);
  ASSERT_EQ(forms.at(base + "unyank").size(), 2u);
  ASSERT_EQ(forms.at(base + "delete-release").size(), 6u);
  ASSERT_EQ(forms.at(base + "delete-file").size(), doc.files.size());
  ASSERT_EQ(forms.at(base + "delete-project").size(), 1u);
  EXPECT_EQ(forms.size(), 5u);
  for (const Form& form : forms.at(base + "yank")) {
    ExpectFields(form, {"version", "reason"});
  }
  EXPECT_EQ(forms.at(base + "yank")[0].Field("version")->Get("value"), "2.0rc1");
  EXPECT_EQ(forms.at(base + "unyank")[0].Field("version")->Get("value"), "1.1");
  std::set<std::string> versions;
  for (const Form& form : forms.at(base + "delete-release")) {
    versions.insert(form.Field("version")->Get("value"));
  }
  EXPECT_EQ(versions,
            (std::set<std::string>{"0.5", "0.9", "1.0", "1.0.1+local.1", "1.1", "2.0rc1"}));
  std::set<std::string> filenames;
  for (const Form& form : forms.at(base + "delete-file")) {
    filenames.insert(form.Field("filename")->Get("value"));
  }
  for (const doc::FileEntry& file : doc.files) {
    EXPECT_TRUE(filenames.contains(file.filename)) << file.filename;
  }
  ExpectFields(forms.at(base + "delete-project")[0], {"confirm"});
  // Destructive forms say what cannot be undone.
  EXPECT_TRUE(Contains(html, "can never be uploaded again"));
  EXPECT_TRUE(Contains(html, "Type <code>foo-bar</code> to confirm"));
  EXPECT_TRUE(Contains(html, "<a href=\"../../../project/foo-bar/\">Foo.Bar</a>"));
}

TEST(FormsTest, ManageUsersPage) {
  const std::vector<auth::UserInfo> users = {
      {.name = "alice@corp",
       .role = auth::Role::kUpload,
       .created_micros = 1,
       .upload_projects = {"a", "b"}},
      {.name = "root", .role = auth::Role::kAdmin, .created_micros = 1, .upload_projects = {}}};
  const std::vector<auth::TokenInfo> tokens = {{.id = "0123456789abcdef",
                                                .user = "alice@corp",
                                                .name = "ci",
                                                .scope = auth::Role::kRead,
                                                .projects = {},
                                                .created_micros = 1,
                                                .expires_micros = 0}};
  const std::string html = ManageUsersPageHtml(Admin(), users, tokens, "");
  ExpectUiPage(html, "../../");
  EXPECT_FALSE(Ids(html).contains("message"));
  const auto forms = PostForms(html, kCsrf);
  ExpectFields(forms.at("../../manage/users/add").at(0), {"name", "password", "role", "projects"});
  for (const std::string user : {"alice%40corp", "root"}) {
    const std::string base = "../../manage/users/" + user + "/";
    ExpectFields(forms.at(base + "role").at(0), {"role", "projects"});
    ExpectFields(forms.at(base + "password").at(0), {"password"});
    EXPECT_EQ(forms.at(base + "delete").size(), 1u);
  }
  EXPECT_EQ(forms.at("../../account/tokens/0123456789abcdef/revoke").size(), 1u);
  EXPECT_EQ(forms.size(), 8u);
  // The current role is selected and the upload projects are filled in.
  EXPECT_EQ(forms.at("../../manage/users/alice%40corp/role")[0].Field("projects")->Get("value"),
            "a b");
  EXPECT_TRUE(Contains(html, "<option value=\"upload\" selected>upload</option>"));
  EXPECT_TRUE(Contains(html, "root <span class=\"muted\">(you)</span>"));
}

// ---- Page shells ----

TEST(ShellTest, EveryPageLinksTheStylesheetFromItsRoot) {
  const Viewer viewer = Admin();
  ExpectUiPage(HomePageHtml(SampleList()), "");
  ExpectUiPage(ProjectPageHtml(SampleDoc()), "../../");
  ExpectUiPage(*ReleasePageHtml(SampleDoc(), "1.0"), "../../../");
  ExpectUiPage(SearchPageHtml(SampleList(), "foo", viewer), "");
  ExpectUiPage(LoginPageHtml("", ""), "");
  ExpectUiPage(AccountPageHtml(viewer, {}, "", ""), "../");
  ExpectUiPage(ManageProjectPageHtml(viewer, SampleDoc(), ""), "../../../");
  ExpectUiPage(ManageUsersPageHtml(viewer, {}, {}, ""), "../../");
  ExpectUiPage(MessagePageHtml("../../", "Forbidden", "Only admins may manage projects."),
               "../../");
}

TEST(ShellTest, HeaderLinks) {
  // Dynamic pages know the viewer: an anonymous one is offered to log in.
  const std::string anonymous = SearchPageHtml(SampleList(), "x", Viewer{});
  EXPECT_TRUE(Contains(anonymous, "<a href=\"login\">Log in</a>"));
  EXPECT_FALSE(Contains(anonymous, "href=\"account/\""));
  const std::string admin = SearchPageHtml(SampleList(), "x", Admin());
  EXPECT_FALSE(Contains(admin, "href=\"login\""));
  EXPECT_TRUE(Contains(admin, "<span class=\"who\" title=\"Logged in\">root</span>"));
  EXPECT_TRUE(
      Contains(admin, "<a href=\"account/\">Account</a><a href=\"manage/users/\">Users</a>"));
  // The brand links home from every depth.
  EXPECT_TRUE(Contains(HomePageHtml(SampleList()), "<a class=\"brand\" href=\"./\">pydepot</a>"));
  EXPECT_TRUE(
      Contains(ProjectPageHtml(SampleDoc()), "<a class=\"brand\" href=\"../../\">pydepot</a>"));
}

TEST(ShellTest, MessagePage) {
  const std::string html = MessagePageHtml("", "Not found", "No such project.");
  ExpectUiPage(html, "");
  EXPECT_TRUE(Contains(html, "<title>Not found \xC2\xB7 pydepot</title>"));
  EXPECT_TRUE(
      Contains(html, "<p id=\"message\" class=\"notice\" role=\"status\">No such project.</p>"));
  EXPECT_TRUE(Contains(html, "<a href=\"./\">Back to the home page</a>"));
}

TEST(StyleSheetTest, SelfContainedLightAndDark) {
  const std::string_view css = StyleSheet();
  EXPECT_TRUE(Contains(css, "@media (prefers-color-scheme: dark)"));
  EXPECT_TRUE(Contains(css, "max-width: 72rem"));
  EXPECT_TRUE(Contains(css, "system-ui"));
  EXPECT_FALSE(Contains(css, "url("));
  EXPECT_FALSE(Contains(css, "@import"));
  EXPECT_FALSE(Contains(css, "http"));
  EXPECT_FALSE(Contains(css, "expression("));
  EXPECT_EQ(Count(css, "{"), Count(css, "}"));
  EXPECT_EQ(kContentTypeCss, "text/css; charset=utf-8");
}

// ---- Building blocks ----

TEST(LayoutTest, HumanSizes) {
  using ui_internal::HumanSize;
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(-5), "0 B");
  EXPECT_EQ(HumanSize(999), "999 B");
  EXPECT_EQ(HumanSize(1000), "1.0 kB");
  EXPECT_EQ(HumanSize(1234), "1.2 kB");
  EXPECT_EQ(HumanSize(99'949), "99.9 kB");
  EXPECT_EQ(HumanSize(99'950), "100 kB");
  EXPECT_EQ(HumanSize(999'499), "999 kB");
  EXPECT_EQ(HumanSize(999'500), "1.0 MB");
  EXPECT_EQ(HumanSize(1'234'567), "1.2 MB");
  EXPECT_EQ(HumanSize(5'000'000'000), "5.0 GB");
  EXPECT_EQ(HumanSize(INT64_MAX), "9.2 EB");
  std::string out;
  ui_internal::AppendSize(out, 1'234'567);
  EXPECT_EQ(out, "<span class=\"size\" title=\"1234567 bytes\">1.2 MB</span>");
  out.clear();
  ui_internal::AppendSize(out, -1);  // an upstream's file listed on an HTML page
  EXPECT_EQ(out, "<span class=\"size\">size unknown</span>");
}

TEST(LayoutTest, Times) {
  std::string out;
  ui_internal::AppendTime(out, 1'700'000'000'123'456);
  EXPECT_EQ(out,
            "<time datetime=\"2023-11-14T22:13:20Z\" title=\"2023-11-14T22:13:20.123456Z\">"
            "2023-11-14 22:13</time>");
  out.clear();
  ui_internal::AppendTime(out, 0);
  EXPECT_EQ(out, "");
}

TEST(LayoutTest, UrlSchemes) {
  using ui_internal::UrlScheme;
  EXPECT_EQ(UrlScheme("https://x"), "https");
  EXPECT_EQ(UrlScheme("  HTTP://x"), "http");
  EXPECT_EQ(UrlScheme("JaVaScRiPt:alert(1)"), "javascript");
  EXPECT_EQ(UrlScheme("\x01\x1F javascript:alert(1)"), "javascript");
  EXPECT_EQ(UrlScheme("java\tscr\nipt\r:alert(1)"), "javascript");
  EXPECT_EQ(UrlScheme("mailto:a@b"), "mailto");
  EXPECT_EQ(UrlScheme("git+ssh://x"), "git+ssh");
  EXPECT_EQ(UrlScheme("/a:b"), "");
  EXPECT_EQ(UrlScheme("a/b:c"), "");
  EXPECT_EQ(UrlScheme("1abc:x"), "");
  EXPECT_EQ(UrlScheme(":x"), "");
  EXPECT_EQ(UrlScheme("java%73cript:x"), "");  // '%' cannot be in a scheme
  EXPECT_EQ(UrlScheme("relative"), "");
  EXPECT_TRUE(ui_internal::IsWebUrl(" https://x "));
  EXPECT_FALSE(ui_internal::IsWebUrl("ftp://x"));
  EXPECT_FALSE(ui_internal::IsWebUrl("//x"));
}

}  // namespace
}  // namespace pydepot::render
