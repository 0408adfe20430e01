#include <algorithm>
#include <regex>

#include <boost/json.hpp>

#include "gtest/gtest.h"
#include "render/render.h"
#include "render/render_test_util.h"

namespace pydepot::render {
namespace {

namespace json = boost::json;
using testing::ExpectGolden;
using testing::PrettyJson;
using testing::SampleDoc;
using testing::SampleFile;
using testing::SampleRelease;

constexpr std::string_view kOrigin = "http://localhost:8080";

json::object ParseObject(const std::string& text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(json::serialize(value), text);
  EXPECT_TRUE(value.is_object());
  return value.is_object() ? value.as_object() : json::object();
}

std::vector<std::string> Keys(const json::object& object) {
  std::vector<std::string> keys;
  for (const auto& entry : object) {
    keys.emplace_back(entry.key());
  }
  return keys;
}

// A project with 1.0, 2.0rc1 and a yanked 1.1 (STANDARDS PJ-05's example) plus what a test adds.
doc::ProjectDoc Pj05Doc() {
  doc::ProjectDoc doc;
  doc.name = "foo";
  doc.display_name = "Foo";
  for (const char* version : {"1.0", "1.1", "2.0rc1"}) {
    doc.files.push_back(SampleFile(std::string("foo-") + version + ".tar.gz", version, 0));
    doc.releases[doc.files.back().release_key] = SampleRelease(version);
  }
  doc.yanked["1.1"] = "";
  return doc;
}

std::string LatestVersion(const doc::ProjectDoc& doc) {
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  return std::string(root.at("info").at("version").as_string());
}

TEST(PypiJsonTest, ProjectGolden) {
  ExpectGolden("pypi_project.json", PrettyJson(PypiProjectJson(SampleDoc(), kOrigin)));
}

TEST(PypiJsonTest, ReleaseGolden) {
  auto release = PypiReleaseJson(SampleDoc(), "1.1", kOrigin);
  ASSERT_TRUE(release.has_value()) << release.error();
  ExpectGolden("pypi_release.json", PrettyJson(*release));
}

TEST(PypiJsonTest, TopLevelAndInfoKeys) {
  const json::object root = ParseObject(PypiProjectJson(SampleDoc(), kOrigin));
  EXPECT_EQ(Keys(root), (std::vector<std::string>{"info", "last_serial", "releases", "urls",
                                                  "vulnerabilities"}));
  EXPECT_EQ(root.at("last_serial"), 12);
  EXPECT_EQ(root.at("vulnerabilities"), json::array());
  const json::object& info = root.at("info").as_object();
  EXPECT_EQ(Keys(info), (std::vector<std::string>{"author",           "author_email",
                                                  "bugtrack_url",     "classifiers",
                                                  "description",      "description_content_type",
                                                  "docs_url",         "download_url",
                                                  "downloads",        "dynamic",
                                                  "home_page",        "keywords",
                                                  "license",          "license_expression",
                                                  "license_files",    "maintainer",
                                                  "maintainer_email", "name",
                                                  "package_url",      "platform",
                                                  "project_url",      "project_urls",
                                                  "provides_extra",   "release_url",
                                                  "requires_dist",    "requires_python",
                                                  "summary",          "version",
                                                  "yanked",           "yanked_reason"}));
  EXPECT_EQ(info.at("name"), "Foo.Bar");
  EXPECT_EQ(info.at("version"), "1.0.1+local.1");  // newest non-yanked final release
  EXPECT_EQ(info.at("summary"), "Foo & bar <utilities>");
  EXPECT_EQ(info.at("author"), "Alice");
  EXPECT_EQ(info.at("maintainer"), nullptr);
  EXPECT_EQ(info.at("bugtrack_url"), nullptr);
  EXPECT_EQ(info.at("classifiers"), (json::array{"Programming Language :: Python :: 3"}));
  EXPECT_EQ(info.at("requires_dist"), (json::array{"requests>=2", "rich; extra == \"cli\""}));
  EXPECT_EQ(info.at("provides_extra"), (json::array{"cli"}));
  EXPECT_EQ(info.at("dynamic"), nullptr);
  EXPECT_EQ(info.at("requires_python"), ">=3.8,<4");
  EXPECT_EQ(info.at("downloads"),
            (json::object{{"last_day", -1}, {"last_month", -1}, {"last_week", -1}}));
  EXPECT_EQ(info.at("project_urls"), (json::object{{"Homepage", "https://example.com/foo"},
                                                   {"Source", "https://example.com/src"},
                                                   {"Tracker", "https://example.com/issues"}}));
  EXPECT_EQ(info.at("package_url"), "http://localhost:8080/project/foo-bar/");
  EXPECT_EQ(info.at("project_url"), "http://localhost:8080/project/foo-bar/");
  EXPECT_EQ(info.at("release_url"), "http://localhost:8080/project/foo-bar/1.0.1%2Blocal.1/");
  EXPECT_EQ(info.at("yanked"), false);
  EXPECT_EQ(info.at("yanked_reason"), nullptr);
}

TEST(PypiJsonTest, ReleasesHoldEveryReleaseAndItsFiles) {
  const doc::ProjectDoc doc = SampleDoc();
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  const json::object& releases = root.at("releases").as_object();
  EXPECT_EQ(Keys(releases),
            (std::vector<std::string>{"0.5", "0.9", "1.0", "1.0.1+local.1", "1.1", "2.0rc1"}));
  EXPECT_EQ(releases.at("0.5"), json::array());  // a release without files
  std::size_t total = 0;
  for (const auto& entry : releases) {
    for (const json::value& file : entry.value().as_array()) {
      ++total;
      const doc::FileEntry* stored = doc.FindFile(file.at("filename").as_string());
      ASSERT_NE(stored, nullptr);
      EXPECT_EQ(stored->version, entry.key());
    }
  }
  EXPECT_EQ(total, doc.files.size());
  EXPECT_EQ(root.at("urls"), releases.at("1.0.1+local.1"));
}

TEST(PypiJsonTest, FileObject) {
  const doc::ProjectDoc doc = SampleDoc();
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  const json::array& files = root.at("releases").at("1.0").as_array();
  ASSERT_EQ(files.size(), 2u);
  const json::object& wheel = files[0].as_object();  // sorted by filename
  const doc::FileEntry& stored = *doc.FindFile("foo_bar-1.0-py3-none-any.whl");
  EXPECT_EQ(Keys(wheel),
            (std::vector<std::string>{"comment_text", "core-metadata", "digests", "downloads",
                                      "filename", "has_sig", "md5_digest", "packagetype",
                                      "python_version", "requires_python", "size", "upload_time",
                                      "upload_time_iso_8601", "url", "yanked", "yanked_reason"}));
  EXPECT_EQ(wheel.at("filename").as_string(), stored.filename);
  EXPECT_EQ(wheel.at("digests"), (json::object{{"blake2b_256", stored.blake2b_256},
                                               {"md5", stored.md5},
                                               {"sha256", stored.sha256}}));
  EXPECT_EQ(wheel.at("md5_digest").as_string(), stored.md5);
  EXPECT_EQ(wheel.at("core-metadata"), (json::object{{"sha256", stored.metadata_sha256}}));
  EXPECT_EQ(wheel.at("packagetype"), "bdist_wheel");
  EXPECT_EQ(wheel.at("python_version"), "py3");
  EXPECT_EQ(wheel.at("requires_python"), ">=3.8,<4");
  EXPECT_EQ(wheel.at("size"), stored.size);
  EXPECT_EQ(wheel.at("upload_time"), "2023-11-14T22:13:21");
  EXPECT_EQ(wheel.at("upload_time_iso_8601"), "2023-11-14T22:13:21.000001Z");
  EXPECT_EQ(wheel.at("url"), "http://localhost:8080/files/foo-bar/foo_bar-1.0-py3-none-any.whl");
  EXPECT_EQ(wheel.at("has_sig"), false);
  EXPECT_EQ(wheel.at("downloads"), -1);
  EXPECT_EQ(wheel.at("yanked"), false);
  EXPECT_EQ(wheel.at("yanked_reason"), nullptr);

  const json::object& sdist = files[1].as_object();
  EXPECT_EQ(sdist.at("core-metadata"), false);
  EXPECT_EQ(sdist.at("packagetype"), "sdist");
  EXPECT_EQ(sdist.at("python_version"), "source");

  const json::object& local = root.at("urls").at(0).as_object();
  EXPECT_EQ(local.at("url"),
            "http://localhost:8080/files/foo-bar/foo_bar-1.0.1%2Blocal.1-py3-none-any.whl");
  EXPECT_EQ(local.at("requires_python"), nullptr);
}

// An upstream's file, listed on an HTML page: only its sha256 is known. What is not known is
// null, never "", 0 or the epoch.
TEST(PypiJsonTest, WhatIsNotKnownOfAFileIsNull) {
  doc::ProjectDoc doc = SampleDoc();
  auto it = std::find_if(doc.files.begin(), doc.files.end(), [](const doc::FileEntry& f) {
    return f.filename == "foo_bar-1.0-py3-none-any.whl";
  });
  ASSERT_NE(it, doc.files.end());
  doc::FileEntry& file = *it;
  file.md5.clear();
  file.blake2b_256.clear();
  file.size = -1;
  file.upload_time_micros = 0;
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  const json::object& wheel = root.at("releases").at("1.0").as_array()[0].as_object();
  ASSERT_EQ(wheel.at("filename"), "foo_bar-1.0-py3-none-any.whl");
  EXPECT_EQ(wheel.at("digests"),
            (json::object{{"blake2b_256", nullptr}, {"md5", nullptr}, {"sha256", file.sha256}}));
  EXPECT_EQ(wheel.at("md5_digest"), nullptr);
  EXPECT_EQ(wheel.at("size"), nullptr);
  EXPECT_EQ(wheel.at("upload_time"), nullptr);
  EXPECT_EQ(wheel.at("upload_time_iso_8601"), nullptr);
}

TEST(PypiJsonTest, YankedFilesAndInfo) {
  const json::object root = ParseObject(PypiProjectJson(SampleDoc(), kOrigin));
  const json::object& yanked = root.at("releases").at("1.1").at(0).as_object();
  EXPECT_EQ(yanked.at("yanked"), true);
  EXPECT_EQ(yanked.at("yanked_reason"), "bad <release> & \"broken\"");
  const json::object& no_reason = root.at("releases").at("0.9").at(0).as_object();
  EXPECT_EQ(no_reason.at("yanked"), true);
  EXPECT_EQ(no_reason.at("yanked_reason"), nullptr);

  auto release = PypiReleaseJson(SampleDoc(), "1.1", kOrigin);
  ASSERT_TRUE(release.has_value()) << release.error();
  const json::object one = ParseObject(*release);
  EXPECT_EQ(one.at("info").at("yanked"), true);
  EXPECT_EQ(one.at("info").at("yanked_reason"), "bad <release> & \"broken\"");
}

// Upstream files carry their own PEP 592 yanks (FileEntry::yanked): each file says so, and a
// release whose files are all yanked is a yanked release (not the latest while another is not).
TEST(PypiJsonTest, PerFileYanks) {
  doc::ProjectDoc doc = Pj05Doc();
  doc.files.push_back(SampleFile("foo-1.0-py3-none-any.whl", "1.0", 0));
  doc.SortFiles();
  auto file = [&](std::string_view filename) -> doc::FileEntry& {
    for (doc::FileEntry& entry : doc.files) {
      if (entry.filename == filename) {
        return entry;
      }
    }
    ADD_FAILURE() << filename;
    return doc.files.front();
  };
  file("foo-1.0.tar.gz").yanked = "sdist broken upstream";
  {
    const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
    EXPECT_EQ(root.at("info").at("version"), "1.0");  // one 1.0 file is still good
    EXPECT_EQ(root.at("info").at("yanked"), false);
    for (const json::value& entry : root.at("releases").at("1.0").as_array()) {
      const json::object& f = entry.as_object();
      const bool sdist = f.at("filename") == "foo-1.0.tar.gz";
      EXPECT_EQ(f.at("yanked"), sdist) << f.at("filename");
      EXPECT_EQ(f.at("yanked_reason"),
                sdist ? json::value("sdist broken upstream") : json::value(nullptr));
    }
  }
  file("foo-1.0-py3-none-any.whl").yanked = "";
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  EXPECT_EQ(root.at("info").at("version"), "2.0rc1");  // the only release not yanked
  auto release = PypiReleaseJson(doc, "1.0", kOrigin);
  ASSERT_TRUE(release.has_value()) << release.error();
  const json::object one = ParseObject(*release);
  EXPECT_EQ(one.at("info").at("yanked"), true);
  for (const json::value& entry : one.at("urls").as_array()) {
    EXPECT_EQ(entry.at("yanked"), true);
  }
}

TEST(PypiJsonTest, LatestPrefersNonYankedThenFinal) {
  EXPECT_EQ(LatestVersion(Pj05Doc()), "1.0");

  doc::ProjectDoc only_pre = Pj05Doc();
  only_pre.yanked["1"] = "";
  EXPECT_EQ(LatestVersion(only_pre), "2.0rc1");  // the only non-yanked release

  doc::ProjectDoc all_yanked = Pj05Doc();
  all_yanked.yanked["1"] = "";
  all_yanked.yanked["2rc1"] = "";
  EXPECT_EQ(LatestVersion(all_yanked), "1.1");  // all yanked: newest final

  doc::ProjectDoc newer = Pj05Doc();
  newer.files.push_back(SampleFile("foo-1.0.post1.tar.gz", "1.0.post1", 0));
  EXPECT_EQ(LatestVersion(newer), "1.0.post1");  // post releases are final

  doc::ProjectDoc dev = Pj05Doc();
  dev.files.push_back(SampleFile("foo-1.5.dev0.tar.gz", "1.5.dev0", 0));
  EXPECT_EQ(LatestVersion(dev), "1.0");  // dev releases are pre-releases

  doc::ProjectDoc tens = Pj05Doc();
  tens.files.push_back(SampleFile("foo-1.10.tar.gz", "1.10", 0));
  tens.files.push_back(SampleFile("foo-1.9.tar.gz", "1.9", 0));
  EXPECT_EQ(LatestVersion(tens), "1.10");  // PEP 440, not string order
}

TEST(PypiJsonTest, ReleaseLookupByReleaseKey) {
  doc::ProjectDoc doc = Pj05Doc();
  for (const char* query : {"1.0", "1.0.0", "1", "v1.0", "1.0.0.0"}) {
    auto release = PypiReleaseJson(doc, query, kOrigin);
    ASSERT_TRUE(release.has_value()) << query << ": " << release.error();
    const json::object root = ParseObject(*release);
    EXPECT_FALSE(root.contains("releases"));
    EXPECT_EQ(Keys(root),
              (std::vector<std::string>{"info", "last_serial", "urls", "vulnerabilities"}));
    EXPECT_EQ(root.at("info").at("version"), "1.0");
    ASSERT_EQ(root.at("urls").as_array().size(), 1u);
    EXPECT_EQ(root.at("urls").at(0).at("filename"), "foo-1.0.tar.gz");
  }
  auto pre = PypiReleaseJson(doc, "2.0c1", kOrigin);
  ASSERT_TRUE(pre.has_value()) << pre.error();
  EXPECT_EQ(ParseObject(*pre).at("info").at("version"), "2.0rc1");
}

TEST(PypiJsonTest, UnknownReleaseIsNotFound) {
  for (const char* query : {"3.0", "1.0.1", "", "not a version"}) {
    auto release = PypiReleaseJson(Pj05Doc(), query, kOrigin);
    ASSERT_FALSE(release.has_value()) << query;
    EXPECT_EQ(release.error().code(), StatusCode::kNotFound);
  }
}

TEST(PypiJsonTest, EmptyOriginGivesHostRelativeUrls) {
  const json::object root = ParseObject(PypiProjectJson(Pj05Doc(), ""));
  EXPECT_EQ(root.at("urls").at(0).at("url"), "/files/foo/foo-1.0.tar.gz");
  EXPECT_EQ(root.at("info").at("package_url"), "/project/foo/");
}

TEST(PypiJsonTest, ReleaseWithoutMetadataAndProjectWithoutReleases) {
  doc::ProjectDoc doc;
  doc.name = "bare";
  doc.files.push_back(SampleFile("bare-1.0.tar.gz", "1.0", 0));  // no ReleaseInfo stored
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  EXPECT_EQ(root.at("info").at("name"), "bare");
  EXPECT_EQ(root.at("info").at("version"), "1.0");
  EXPECT_EQ(root.at("info").at("summary"), nullptr);
  EXPECT_EQ(root.at("info").at("classifiers"), json::array());
  EXPECT_EQ(root.at("urls").as_array().size(), 1u);

  doc::ProjectDoc empty;
  empty.name = "empty";
  const json::object none = ParseObject(PypiProjectJson(empty, kOrigin));
  EXPECT_EQ(none.at("info").at("version"), "");
  EXPECT_EQ(none.at("releases"), json::object());
  EXPECT_EQ(none.at("urls"), json::array());
}

TEST(PypiJsonTest, ProjectUrlsParsing) {
  doc::ProjectDoc doc = Pj05Doc();
  for (auto& [key, release] : doc.releases) {
    release.home_page.clear();
    release.download_url = "https://example.com/dl";
    release.project_urls = {"  Docs ,  https://docs.example.com  ", "NoComma", "Docs, https://b"};
  }
  const json::object root = ParseObject(PypiProjectJson(doc, kOrigin));
  EXPECT_EQ(root.at("info").at("project_urls"),
            (json::object{
                {"Download", "https://example.com/dl"}, {"Docs", "https://b"}, {"NoComma", ""}}));
  EXPECT_EQ(root.at("info").at("download_url"), "https://example.com/dl");
  EXPECT_EQ(root.at("info").at("home_page"), nullptr);

  for (auto& [key, release] : doc.releases) {
    release.download_url.clear();
    release.project_urls.clear();
  }
  EXPECT_EQ(ParseObject(PypiProjectJson(doc, kOrigin)).at("info").at("project_urls"), nullptr);
}

}  // namespace
}  // namespace pydepot::render
