// ParseSimpleJson and ParseSimpleHtml on pages shaped like PyPI's (and like the less tidy pages
// other indexes send).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kPage = "https://index.example.org/simple/sample-pkg/";

// Distinct valid digests.
const std::string kShaA = std::string(64, 'a');
const std::string kShaB = std::string(64, 'b');
const std::string kShaC = std::string(64, 'c');
const std::string kShaD = std::string(64, 'd');
const std::string kShaE = std::string(64, 'e');
const std::string kShaUpper = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
const std::string kShaLower = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kMd5 = std::string(32, 'f');

std::vector<std::string> Filenames(const UpstreamProject& project) {
  std::vector<std::string> names;
  for (const UpstreamFile& file : project.files) {
    names.push_back(file.filename);
  }
  return names;
}

// ---- JSON ----

std::string JsonPage() {
  return R"({
  "meta": {"api-version": "1.1", "_last-serial": 4242},
  "name": "sample-pkg",
  "versions": ["0.9", "1.0", "1.1"],
  "files": [
    {"filename": "sample_pkg-1.0-py3-none-any.whl",
     "url": "https://files.example.org/packages/ab/cd/sample_pkg-1.0-py3-none-any.whl",
     "hashes": {"sha256": ")" +
         kShaUpper + R"(", "blake2b_256": "00"},
     "requires-python": ">=3.8,<4", "yanked": false, "size": 12345,
     "upload-time": "2024-01-02T03:04:05.123456Z",
     "core-metadata": {"sha256": ")" +
         kShaB + R"("},
     "data-dist-info-metadata": {"sha256": ")" +
         kShaB + R"("}},
    {"filename": "sample-pkg-1.0.tar.gz", "url": "../../packages/sample-pkg-1.0.tar.gz",
     "hashes": {"sha256": ")" +
         kShaC + R"("}, "requires-python": null,
     "yanked": "broken build", "size": 99, "upload-time": "2024-01-02T03:04:05Z",
     "core-metadata": false},
    {"filename": "sample_pkg-1.1-py3-none-any.whl",
     "url": "/packages/sample_pkg-1.1-py3-none-any.whl#sha256=)" +
         kShaD + R"(",
     "hashes": {"sha256": ")" +
         kShaD + R"("}, "yanked": true, "core-metadata": true},
    {"filename": "sample_pkg-1.1-cp312-cp312-manylinux_2_17_x86_64.whl",
     "url": "sample_pkg-1.1-cp312-cp312-manylinux_2_17_x86_64.whl",
     "hashes": {"sha256": ")" +
         kShaE + R"("}, "yanked": "",
     "dist-info-metadata": {"sha256": ")" +
         kShaA + R"("}, "size": "12"},
    {"filename": "sample-pkg-0.9.tar.gz", "url": "https://files.example.org/sample-pkg-0.9.tar.gz",
     "hashes": {"md5": ")" +
         kMd5 + R"("}},
    {"filename": "sample-pkg-0.8.tar.gz", "url": "https://files.example.org/sample-pkg-0.8.tar.gz",
     "hashes": {}},
    {"filename": "sample-pkg-0.7.tar.gz", "url": "https://files.example.org/sample-pkg-0.7.tar.gz",
     "hashes": {"sha256": "not-hex"}},
    {"filename": "other-1.0.tar.gz", "url": "https://files.example.org/other-1.0.tar.gz",
     "hashes": {"sha256": ")" +
         kShaA + R"("}},
    {"filename": "sample-pkg-0.6.tar.gz", "url": "ftp://files.example.org/sample-pkg-0.6.tar.gz",
     "hashes": {"sha256": ")" +
         kShaA + R"("}},
    {"filename": "sample_pkg-1.0-py3-none-any.whl",
     "url": "https://mirror.example.org/sample_pkg-1.0-py3-none-any.whl",
     "hashes": {"sha256": ")" +
         kShaA + R"("}},
    {"filename": "README.txt", "url": "https://files.example.org/README.txt",
     "hashes": {"sha256": ")" +
         kShaA + R"("}},
    "not an object",
    {"filename": "no-url-1.0.tar.gz", "hashes": {"sha256": ")" +
         kShaA + R"("}}
  ]
})";
}

TEST(ParseSimpleJsonTest, ReadsEveryField) {
  auto project = ParseSimpleJson(JsonPage(), kPage, "Sample_Pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  EXPECT_EQ(project->name, "sample-pkg");
  ASSERT_THAT(Filenames(*project),
              ElementsAre("sample_pkg-1.0-py3-none-any.whl", "sample-pkg-1.0.tar.gz",
                          "sample_pkg-1.1-py3-none-any.whl",
                          "sample_pkg-1.1-cp312-cp312-manylinux_2_17_x86_64.whl"));

  const UpstreamFile& wheel = project->files[0];
  EXPECT_EQ(wheel.url, "https://files.example.org/packages/ab/cd/sample_pkg-1.0-py3-none-any.whl");
  EXPECT_EQ(wheel.sha256, kShaLower);
  EXPECT_EQ(wheel.requires_python, ">=3.8,<4");
  EXPECT_EQ(wheel.yanked, std::nullopt);
  EXPECT_EQ(wheel.size, 12345);
  EXPECT_EQ(wheel.upload_time_micros, 1'704'164'645'123'456);
  EXPECT_TRUE(wheel.metadata);
  EXPECT_EQ(wheel.metadata_sha256, kShaB);

  const UpstreamFile& sdist = project->files[1];
  EXPECT_EQ(sdist.url, "https://index.example.org/packages/sample-pkg-1.0.tar.gz");
  EXPECT_EQ(sdist.sha256, kShaC);
  EXPECT_EQ(sdist.requires_python, "");
  EXPECT_EQ(sdist.yanked, "broken build");
  EXPECT_EQ(sdist.size, 99);
  EXPECT_EQ(sdist.upload_time_micros, 1'704'164'645'000'000);
  EXPECT_FALSE(sdist.metadata);

  const UpstreamFile& yanked = project->files[2];
  EXPECT_EQ(yanked.url, "https://index.example.org/packages/sample_pkg-1.1-py3-none-any.whl");
  EXPECT_EQ(yanked.yanked, "");
  EXPECT_EQ(yanked.size, -1);
  EXPECT_EQ(yanked.upload_time_micros, 0);
  EXPECT_TRUE(yanked.metadata);
  EXPECT_EQ(yanked.metadata_sha256, "");

  // "yanked": "" is not a yank (as pip reads it); the deprecated dist-info-metadata key is read
  // when core-metadata is absent; a size that is not a number is unknown.
  const UpstreamFile& native = project->files[3];
  EXPECT_EQ(native.url,
            "https://index.example.org/simple/sample-pkg/"
            "sample_pkg-1.1-cp312-cp312-manylinux_2_17_x86_64.whl");
  EXPECT_EQ(native.yanked, std::nullopt);
  EXPECT_TRUE(native.metadata);
  EXPECT_EQ(native.metadata_sha256, kShaA);
  EXPECT_EQ(native.size, -1);
}

TEST(ParseSimpleJsonTest, FilenameComesFromTheUrlPercentDecoded) {
  const std::string page = R"({"meta": {"api-version": "1.0"}, "name": "sample-pkg", "files": [
    {"filename": "x", "url": "https://f.example.org/sample_pkg-1.0%2Bcpu-py3-none-any.whl",
     "hashes": {"sha256": ")" +
                           kShaA + R"("}},
    {"filename": "sample-pkg-1.0.tar.gz",
     "url": "https://f.example.org/a/..%2F..%2Fsample-pkg-1.0.tar.gz",
     "hashes": {"sha256": ")" +
                           kShaA + R"("}}]})";
  auto project = ParseSimpleJson(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  EXPECT_THAT(Filenames(*project), ElementsAre("sample_pkg-1.0+cpu-py3-none-any.whl"));
  EXPECT_EQ(project->files[0].url, "https://f.example.org/sample_pkg-1.0%2Bcpu-py3-none-any.whl");
}

TEST(ParseSimpleJsonTest, CoreMetadataVariants) {
  const std::string page = R"({"files": [
    {"url": "https://f/sample_pkg-1.0-py3-none-any.whl", "hashes": {"sha256": ")" +
                           kShaA + R"("},
     "core-metadata": true, "dist-info-metadata": {"sha256": ")" +
                           kShaB + R"("}},
    {"url": "https://f/sample_pkg-1.1-py3-none-any.whl", "hashes": {"sha256": ")" +
                           kShaA + R"("},
     "core-metadata": {"sha256": "short"}},
    {"url": "https://f/sample_pkg-1.2-py3-none-any.whl", "hashes": {"sha256": ")" +
                           kShaA + R"("},
     "core-metadata": {"md5": "x"}},
    {"url": "https://f/sample_pkg-1.3-py3-none-any.whl", "hashes": {"sha256": ")" +
                           kShaA + R"("},
     "data-dist-info-metadata": {"sha256": ")" +
                           kShaC + R"("}},
    {"url": "https://f/sample_pkg-1.4-py3-none-any.whl", "hashes": {"sha256": ")" +
                           kShaA + R"("},
     "core-metadata": "yes"}]})";
  auto project = ParseSimpleJson(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  ASSERT_EQ(project->files.size(), 5u);
  EXPECT_TRUE(project->files[0].metadata);  // core-metadata wins
  EXPECT_EQ(project->files[0].metadata_sha256, "");
  EXPECT_FALSE(project->files[1].metadata);  // a hash that is not one: not offered
  EXPECT_TRUE(project->files[2].metadata);   // offered, without a sha256
  EXPECT_EQ(project->files[2].metadata_sha256, "");
  EXPECT_TRUE(project->files[3].metadata);
  EXPECT_EQ(project->files[3].metadata_sha256, kShaC);
  EXPECT_FALSE(project->files[4].metadata);
}

TEST(ParseSimpleJsonTest, RejectsWhatIsNotAProjectPage) {
  for (const char* body :
       {"", "not json", "[]", "{}", R"({"files": {}})", R"({"name": "x", "files": 1})",
        R"({"meta": {"api-version": "2.0"}, "files": []})", "{\"files\": [", "<html></html>"}) {
    auto project = ParseSimpleJson(body, kPage, "sample-pkg");
    ASSERT_FALSE(project.has_value()) << body;
    EXPECT_EQ(project.error().code(), StatusCode::kInvalidArgument) << body;
  }
  auto empty = ParseSimpleJson(R"({"meta": {"api-version": "1.4"}, "files": []})", kPage, "x");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->files.empty());
}

// ---- HTML ----

std::string HtmlPage() {
  return R"(<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for sample-pkg</title>
  </head>
  <body>
    <h1>Links for sample-pkg</h1>
    <a href="https://files.example.org/packages/ab/cd/sample_pkg-1.0-py3-none-any.whl#sha256=)" +
         kShaUpper + R"(" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=)" +
         kShaB + R"(" data-core-metadata="sha256=)" + kShaB +
         R"(">sample_pkg-1.0-py3-none-any.whl</a><br />
    <a href="../../packages/sample-pkg-1.0.tar.gz#sha256=)" +
         kShaC +
         R"(" data-yanked="broken &amp; &quot;bad&quot; &#39;x&#x27; &#8212;">sample-pkg-1.0.tar.gz</a><br />
    <A HREF='/packages/sample_pkg-1.1-py3-none-any.whl#md5=)" +
         kMd5 + "&amp;sha256=" + kShaD +
         R"(' DATA-YANKED data-dist-info-metadata=true>no closing tag
    <a href=sample_pkg-1.2-py3-none-any.whl#sha256=)" +
         kShaE +
         R"( data-yanked="" data-requires-python=&gt;=3.9>unquoted</a>
    <a
       href="https://files.example.org/sample-pkg-0.9.tar.gz#md5=)" +
         kMd5 + R"(">md5 only</a>
    <a href="ftp://files.example.org/sample-pkg-0.8.tar.gz#sha256=)" +
         kShaA + R"(">ftp</a>
    <a href="https://files.example.org/other-1.0.tar.gz#sha256=)" +
         kShaA + R"(">other project</a>
    <a href="https://mirror.example.org/sample_pkg-1.0-py3-none-any.whl#sha256=)" +
         kShaA +
         R"(">duplicate</a>
    <!-- <a href="https://files.example.org/sample-pkg-0.1.tar.gz#sha256=)" +
         kShaA +
         R"(">commented out</a> -->
    <script>var s = '<a href="https://files.example.org/sample-pkg-0.2.tar.gz#sha256=)" +
         kShaA +
         R"(">';</SCRIPT>
    <abbr href="https://files.example.org/sample-pkg-0.3.tar.gz#sha256=)" +
         kShaA +
         R"(">not an anchor</abbr>
    <a name="top">no href</a> <a href>empty</a>
    < a href=junk> 1 < 2 <<<>>> &amp <a/ href="sample-pkg-0.4.tar.gz#sha256=)" +
         kShaA +
         R"(">slash</a>
  </body>
</html>
)";
}

TEST(ParseSimpleHtmlTest, ReadsPyPiLikePage) {
  auto project = ParseSimpleHtml(HtmlPage(), kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  EXPECT_EQ(project->name, "sample-pkg");
  ASSERT_THAT(Filenames(*project),
              ElementsAre("sample_pkg-1.0-py3-none-any.whl", "sample-pkg-1.0.tar.gz",
                          "sample_pkg-1.1-py3-none-any.whl", "sample_pkg-1.2-py3-none-any.whl",
                          "sample-pkg-0.4.tar.gz"));

  const UpstreamFile& wheel = project->files[0];
  EXPECT_EQ(wheel.url, "https://files.example.org/packages/ab/cd/sample_pkg-1.0-py3-none-any.whl");
  EXPECT_EQ(wheel.sha256, kShaLower);
  EXPECT_EQ(wheel.requires_python, ">=3.8,<4");
  EXPECT_EQ(wheel.yanked, std::nullopt);
  EXPECT_EQ(wheel.size, -1);
  EXPECT_EQ(wheel.upload_time_micros, 0);
  EXPECT_TRUE(wheel.metadata);
  EXPECT_EQ(wheel.metadata_sha256, kShaB);

  const UpstreamFile& sdist = project->files[1];
  EXPECT_EQ(sdist.url, "https://index.example.org/packages/sample-pkg-1.0.tar.gz");
  EXPECT_EQ(sdist.sha256, kShaC);
  EXPECT_EQ(sdist.yanked, "broken & \"bad\" 'x' \xE2\x80\x94");
  EXPECT_FALSE(sdist.metadata);

  // Upper-case tag and attributes, single quotes, md5 before sha256 in the fragment, a bare
  // data-yanked, the legacy metadata attribute, no closing tag.
  const UpstreamFile& upper = project->files[2];
  EXPECT_EQ(upper.url, "https://index.example.org/packages/sample_pkg-1.1-py3-none-any.whl");
  EXPECT_EQ(upper.sha256, kShaD);
  EXPECT_EQ(upper.yanked, "");
  EXPECT_TRUE(upper.metadata);
  EXPECT_EQ(upper.metadata_sha256, "");

  const UpstreamFile& unquoted = project->files[3];
  EXPECT_EQ(unquoted.url,
            "https://index.example.org/simple/sample-pkg/sample_pkg-1.2-py3-none-any.whl");
  EXPECT_EQ(unquoted.sha256, kShaE);
  EXPECT_EQ(unquoted.yanked, "");
  EXPECT_EQ(unquoted.requires_python, ">=3.9");
  EXPECT_FALSE(unquoted.metadata);
}

TEST(ParseSimpleHtmlTest, CoreMetadataAttributes) {
  const std::string page = "<a href='sample_pkg-1.0-py3-none-any.whl#sha256=" + kShaA +
                           "' data-core-metadata=true data-dist-info-metadata='sha256=" + kShaB +
                           "'>a</a>" + "<a href='sample_pkg-1.1-py3-none-any.whl#sha256=" + kShaA +
                           "' data-core-metadata=false data-dist-info-metadata=true>b</a>" +
                           "<a href='sample_pkg-1.2-py3-none-any.whl#sha256=" + kShaA +
                           "' data-core-metadata='sha256=123'>c</a>" +
                           "<a href='sample_pkg-1.3-py3-none-any.whl#sha256=" + kShaA +
                           "' data-dist-info-metadata='sha256=" + kShaUpper + "'>d</a>";
  auto project = ParseSimpleHtml(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  ASSERT_EQ(project->files.size(), 4u);
  EXPECT_TRUE(project->files[0].metadata);  // data-core-metadata wins (PEP 714)
  EXPECT_EQ(project->files[0].metadata_sha256, "");
  EXPECT_FALSE(project->files[1].metadata);
  EXPECT_FALSE(project->files[2].metadata);
  EXPECT_TRUE(project->files[3].metadata);
  EXPECT_EQ(project->files[3].metadata_sha256, kShaLower);
}

TEST(ParseSimpleHtmlTest, EntitiesInAttributes) {
  const std::string page = "<a href=\"sample-pkg-1.0.tar.gz#sha256=" + kShaA +
                           "\" data-requires-python=\"&#62;=3.8,&#x3C;4,!=3.9.*&amp;&unknown;&"
                           "\" data-yanked=\"&#128512;&#0;&#x110000;&#39\">x</a>";
  auto project = ParseSimpleHtml(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  ASSERT_EQ(project->files.size(), 1u);
  EXPECT_EQ(project->files[0].requires_python, ">=3.8,<4,!=3.9.*&&unknown;&");
  EXPECT_EQ(project->files[0].yanked, "\xF0\x9F\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD'");
}

TEST(ParseSimpleHtmlTest, EntityEncodedHrefAndFragmentPairs) {
  const std::string page = "<a href=\"/p/sample_pkg-1.0-py3-none-any.whl?a=1&amp;b=2#md5=" + kMd5 +
                           "&amp;sha256=" + kShaA + "\">x</a>";
  auto project = ParseSimpleHtml(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  ASSERT_EQ(project->files.size(), 1u);
  EXPECT_EQ(project->files[0].url,
            "https://index.example.org/p/sample_pkg-1.0-py3-none-any.whl?a=1&b=2");
  EXPECT_EQ(project->files[0].sha256, kShaA);
}

TEST(ParseSimpleHtmlTest, FirstBaseHrefIsTheBase) {
  const std::string page =
      "<html><head><base href=\"https://cdn.example.org/pkgs/\">"
      "<base href=\"https://ignored.example.org/\"></head><body>"
      "<a href=\"sample-pkg-1.0.tar.gz#sha256=" +
      kShaA + "\">x</a></body></html>";
  auto project = ParseSimpleHtml(page, kPage, "sample-pkg");
  ASSERT_TRUE(project.has_value()) << project.error();
  ASSERT_EQ(project->files.size(), 1u);
  EXPECT_EQ(project->files[0].url, "https://cdn.example.org/pkgs/sample-pkg-1.0.tar.gz");
}

TEST(ParseSimpleHtmlTest, RejectsAnotherMajorVersion) {
  auto project = ParseSimpleHtml(
      "<html><head><meta name='pypi:repository-version' content='2.0'></head></html>", kPage,
      "sample-pkg");
  ASSERT_FALSE(project.has_value());
  EXPECT_EQ(project.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(project.error().message(), HasSubstr("2.0"));
}

TEST(ParseSimpleHtmlTest, JunkNeverFailsOrCrashes) {
  for (const char* body : {"",
                           "<",
                           "<a",
                           "<a ",
                           "<a href",
                           "<a href=",
                           "<a href='",
                           "<a href=\"x",
                           "<!--",
                           "<!",
                           "</",
                           "&#",
                           "&#x;",
                           "&#99999999999999999999;",
                           "<a href='&#x'>",
                           "<<a href=>>",
                           "<script>",
                           "<style><a href='x'>",
                           "\xFF\xFE<\0a>",
                           "<a =x href=y>",
                           "<a href='x'"}) {
    auto project = ParseSimpleHtml(body, kPage, "sample-pkg");
    ASSERT_TRUE(project.has_value()) << body;
    EXPECT_TRUE(project->files.empty()) << body;
  }
  // An unterminated quote takes the rest of the page as the value, as HTML5 does.
  auto open =
      ParseSimpleHtml("<a href='sample-pkg-1.0.tar.gz#sha256=" + kShaA, kPage, "sample-pkg");
  ASSERT_TRUE(open.has_value());
  EXPECT_THAT(Filenames(*open), ElementsAre("sample-pkg-1.0.tar.gz"));
}

}  // namespace
}  // namespace pydepot::upstream
