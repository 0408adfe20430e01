#include "doc/project.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"
#include "model/version.h"

namespace pydepot::doc {
namespace {

namespace json = boost::json;

FileEntry MakeFile(std::string filename, const std::string& version) {
  FileEntry file;
  file.filename = std::move(filename);
  file.version = version;
  file.release_key = model::Version::ParseLenient(version).ReleaseKey();
  file.filetype = "sdist";
  file.python_version = "source";
  file.size = 1234;
  file.sha256 = std::string(64, 'a');
  file.md5 = std::string(32, 'b');
  file.blake2b_256 = std::string(64, 'c');
  file.upload_time_micros = 1'700'000'000'123'456;
  file.uploader = "alice";
  return file;
}

ProjectDoc MakeDoc() {
  ProjectDoc doc;
  doc.name = "foo-bar";
  doc.display_name = "Foo.Bar";
  doc.serial = 7;
  doc.files.push_back(MakeFile("foo_bar-1.0.tar.gz", "1.0"));
  FileEntry wheel = MakeFile("foo_bar-1.0-py3-none-any.whl", "1.0");
  wheel.filetype = "bdist_wheel";
  wheel.python_version = "py3";
  wheel.requires_python = ">=3.8,<4";
  wheel.metadata_sha256 = std::string(64, 'd');
  doc.files.push_back(wheel);
  doc.files.push_back(MakeFile("foo_bar-2.0b1.tar.gz", "2.0b1"));
  ReleaseInfo release;
  release.version = "1.0";
  release.created_micros = 1'700'000'000'000'000;
  release.metadata_version = "2.1";
  release.summary = "A \"quoted\" summary \xC3\xA9";
  release.description = "line 1\nline 2\n";
  release.requires_python = ">=3.8,<4";
  release.classifiers = {"Programming Language :: Python :: 3", "License :: OSI Approved"};
  release.requires_dist = {"requests>=2", "rich; extra == \"cli\""};
  release.provides_extra = {"cli"};
  release.project_urls = {"Source, https://example.com/src"};
  release.dynamic = {"Requires-Dist"};
  doc.releases["1"] = release;
  ReleaseInfo beta;
  beta.version = "2.0b1";
  doc.releases["2b1"] = beta;
  doc.yanked["2b1"] = "broken build";
  doc.deleted_filenames = {"foo_bar-0.9.tar.gz"};
  return doc;
}

void ExpectFilesEqual(const FileEntry& a, const FileEntry& b) {
  EXPECT_EQ(a.filename, b.filename);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.release_key, b.release_key);
  EXPECT_EQ(a.filetype, b.filetype);
  EXPECT_EQ(a.python_version, b.python_version);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.md5, b.md5);
  EXPECT_EQ(a.blake2b_256, b.blake2b_256);
  EXPECT_EQ(a.upload_time_micros, b.upload_time_micros);
  EXPECT_EQ(a.requires_python, b.requires_python);
  EXPECT_EQ(a.metadata_sha256, b.metadata_sha256);
  EXPECT_EQ(a.uploader, b.uploader);
  EXPECT_EQ(a.yanked, b.yanked);
}

void ExpectReleasesEqual(const ReleaseInfo& a, const ReleaseInfo& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.created_micros, b.created_micros);
  EXPECT_EQ(a.metadata_version, b.metadata_version);
  EXPECT_EQ(a.summary, b.summary);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.description_content_type, b.description_content_type);
  EXPECT_EQ(a.author, b.author);
  EXPECT_EQ(a.author_email, b.author_email);
  EXPECT_EQ(a.maintainer, b.maintainer);
  EXPECT_EQ(a.maintainer_email, b.maintainer_email);
  EXPECT_EQ(a.license, b.license);
  EXPECT_EQ(a.license_expression, b.license_expression);
  EXPECT_EQ(a.keywords, b.keywords);
  EXPECT_EQ(a.home_page, b.home_page);
  EXPECT_EQ(a.download_url, b.download_url);
  EXPECT_EQ(a.requires_python, b.requires_python);
  EXPECT_EQ(a.classifiers, b.classifiers);
  EXPECT_EQ(a.requires_dist, b.requires_dist);
  EXPECT_EQ(a.provides_extra, b.provides_extra);
  EXPECT_EQ(a.project_urls, b.project_urls);
  EXPECT_EQ(a.platforms, b.platforms);
  EXPECT_EQ(a.dynamic, b.dynamic);
  EXPECT_EQ(a.license_files, b.license_files);
}

void ExpectDocsEqual(const ProjectDoc& a, const ProjectDoc& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.display_name, b.display_name);
  EXPECT_EQ(a.serial, b.serial);
  ASSERT_EQ(a.files.size(), b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    ExpectFilesEqual(a.files[i], b.files[i]);
  }
  ASSERT_EQ(a.releases.size(), b.releases.size());
  for (const auto& [key, release] : a.releases) {
    ASSERT_TRUE(b.releases.contains(key)) << key;
    ExpectReleasesEqual(release, b.releases.at(key));
  }
  EXPECT_EQ(a.yanked, b.yanked);
  EXPECT_EQ(a.deleted_filenames, b.deleted_filenames);
  EXPECT_EQ(a.upstream_allowed, b.upstream_allowed);
}

TEST(ProjectDocTest, RoundTrip) {
  const ProjectDoc doc = MakeDoc();
  const std::string encoded = EncodeProjectDoc(doc);
  auto decoded = DecodeProjectDoc(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  ExpectDocsEqual(doc, *decoded);
  // Encoding is a pure function of the value: ETags derive from these bytes.
  EXPECT_EQ(EncodeProjectDoc(*decoded), encoded);
}

TEST(ProjectDocTest, EmptyDocRoundTrips) {
  ProjectDoc doc;
  doc.name = "x";
  auto decoded = DecodeProjectDoc(EncodeProjectDoc(doc));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  ExpectDocsEqual(doc, *decoded);
}

TEST(ProjectDocTest, StableKeyOrder) {
  const std::string encoded = EncodeProjectDoc(MakeDoc());
  EXPECT_EQ(encoded.rfind(R"({"name":"foo-bar","display_name":"Foo.Bar","serial":7,"files":[)", 0),
            0u)
      << encoded;
  const std::size_t releases = encoded.find(R"("releases":)");
  const std::size_t yanked = encoded.find(R"("yanked":)");
  const std::size_t deleted = encoded.find(R"("deleted_filenames":)");
  EXPECT_NE(releases, std::string::npos);
  EXPECT_LT(releases, yanked);
  EXPECT_LT(yanked, deleted);
  // Empty release metadata is left out; it decodes as empty.
  EXPECT_NE(encoded.find(R"("2b1":{"version":"2.0b1","created_micros":0})"), std::string::npos)
      << encoded;
}

TEST(ProjectDocTest, UnknownKeysAreIgnored) {
  const std::string text = R"({
    "name": "foo", "display_name": "Foo", "serial": 3, "future_top": {"a": [1, 2]},
    "files": [{"filename": "foo-1.0.tar.gz", "size": 10, "signature": null, "extra": [true]}],
    "releases": {"1": {"version": "1.0", "new_field": 1.5}},
    "yanked": {}, "deleted_filenames": []
  })";
  auto doc = DecodeProjectDoc(text);
  ASSERT_TRUE(doc.has_value()) << doc.error();
  EXPECT_EQ(doc->name, "foo");
  EXPECT_EQ(doc->serial, 3);
  ASSERT_EQ(doc->files.size(), 1u);
  EXPECT_EQ(doc->files[0].size, 10);
  EXPECT_EQ(doc->releases.at("1").version, "1.0");
}

TEST(ProjectDocTest, MissingOptionalKeysDefault) {
  auto doc = DecodeProjectDoc(R"({"name": "foo", "files": [{"filename": "foo-1.0.tar.gz"}]})");
  ASSERT_TRUE(doc.has_value()) << doc.error();
  EXPECT_EQ(doc->display_name, "");
  EXPECT_EQ(doc->serial, 0);
  ASSERT_EQ(doc->files.size(), 1u);
  EXPECT_EQ(doc->files[0].size, 0);
  EXPECT_TRUE(doc->releases.empty());
}

void ExpectInvalid(std::string_view text, std::string_view message_part) {
  auto doc = DecodeProjectDoc(text);
  ASSERT_FALSE(doc.has_value()) << text;
  EXPECT_EQ(doc.error().code(), StatusCode::kInvalidArgument) << doc.error();
  EXPECT_NE(doc.error().message().find(message_part), std::string::npos)
      << doc.error() << " should mention " << message_part;
}

TEST(ProjectDocTest, BadJsonIsInvalidArgument) {
  ExpectInvalid("", "not valid JSON");
  ExpectInvalid("{", "not valid JSON");
  ExpectInvalid(R"({"name": "foo",})", "not valid JSON");
  ExpectInvalid("[]", "expected a JSON object, got an array");
  ExpectInvalid("null", "expected a JSON object");
  ExpectInvalid("{\"name\": \"\xFF\"}", "not valid JSON");
}

TEST(ProjectDocTest, WrongTypesAreInvalidArgument) {
  ExpectInvalid(R"({})", "name: missing");
  ExpectInvalid(R"({"name": ""})", "name: must not be empty");
  ExpectInvalid(R"({"name": 5})", "name: expected a string, got an integer");
  ExpectInvalid(R"({"name": "foo", "serial": "7"})", "serial: expected an integer, got a string");
  ExpectInvalid(R"({"name": "foo", "serial": 1.5})", "serial: expected an integer, got a number");
  ExpectInvalid(R"({"name": "foo", "serial": 18446744073709551615})",
                "serial: integer out of range");
  ExpectInvalid(R"({"name": "foo", "files": {}})", "files: expected an array, got an object");
  ExpectInvalid(R"({"name": "foo", "files": [1]})", "files[0]: expected an object");
  ExpectInvalid(R"({"name": "foo", "files": [{"filename": "a"}, {"size": 1}]})",
                "files[1].filename: missing");
  ExpectInvalid(R"({"name": "foo", "files": [{"filename": "a", "size": null}]})",
                "files[0].size: expected an integer, got null");
  ExpectInvalid(R"({"name": "foo", "releases": {"1": {"classifiers": ["a", 2]}}})",
                "releases.1.classifiers[1]: expected a string");
  ExpectInvalid(R"({"name": "foo", "releases": {"1": []}})", "releases.1: expected an object");
  ExpectInvalid(R"({"name": "foo", "yanked": {"1": false}})", "yanked.1: expected a string");
  ExpectInvalid(R"({"name": "foo", "deleted_filenames": "x"})", "deleted_filenames: expected");
}

TEST(ProjectDocTest, ErrorsNameTheDocument) {
  auto doc = DecodeProjectDoc(R"({"name": 1})");
  ASSERT_FALSE(doc.has_value());
  EXPECT_EQ(doc.error().message().rfind("project document: ", 0), 0u) << doc.error();
}

TEST(ProjectDocTest, InvalidUtf8IsReplacedSoTheDocumentStaysValid) {
  ProjectDoc doc;
  doc.name = "foo";
  doc.display_name = "Fo\xFFo";
  ReleaseInfo release;
  release.summary = "caf\xC3";         // truncated sequence
  release.author = "ok \xE2\x82\xAC";  // valid euro sign
  doc.releases["1"] = release;
  auto decoded = DecodeProjectDoc(EncodeProjectDoc(doc));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->display_name, "Fo\xEF\xBF\xBDo");
  EXPECT_EQ(decoded->releases.at("1").summary, "caf\xEF\xBF\xBD");
  EXPECT_EQ(decoded->releases.at("1").author, "ok \xE2\x82\xAC");
}

TEST(ProjectDocTest, EncodedIsValidJsonWithEscapes) {
  ProjectDoc doc;
  doc.name = "foo";
  doc.display_name = "a\"b\\c\n\x01";
  const std::string encoded = EncodeProjectDoc(doc);
  json::error_code ec;
  json::value value = json::parse(encoded, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(value.at("display_name").as_string(), "a\"b\\c\n\x01");
}

TEST(ProjectDocTest, FindFileAndYankReason) {
  const ProjectDoc doc = MakeDoc();
  const FileEntry* wheel = doc.FindFile("foo_bar-1.0-py3-none-any.whl");
  ASSERT_NE(wheel, nullptr);
  EXPECT_EQ(wheel->filetype, "bdist_wheel");
  EXPECT_EQ(doc.FindFile("nope.tar.gz"), nullptr);
  EXPECT_EQ(doc.YankReason(*wheel), nullptr);
  const FileEntry* beta = doc.FindFile("foo_bar-2.0b1.tar.gz");
  ASSERT_NE(beta, nullptr);
  const std::string* reason = doc.YankReason(*beta);
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(*reason, "broken build");
}

TEST(ProjectDocTest, YankWithoutReasonIsStillYanked) {
  ProjectDoc doc = MakeDoc();
  doc.yanked["1"] = "";
  const std::string* reason = doc.YankReason(doc.files[0]);
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(*reason, "");
}

TEST(ProjectDocTest, PerFileYankWinsOverReleaseYank) {
  ProjectDoc doc = MakeDoc();
  doc.files[0].yanked = "bad sdist";  // release "1" is not yanked
  const std::string* reason = doc.YankReason(doc.files[0]);
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(*reason, "bad sdist");
  EXPECT_EQ(doc.YankReason(doc.files[1]), nullptr);  // the same release's wheel is not
  doc.files[2].yanked = "";                          // release "2b1" is yanked too
  reason = doc.YankReason(doc.files[2]);
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(*reason, "");
}

TEST(ProjectDocTest, PerFileYankAndUpstreamAllowedRoundTrip) {
  ProjectDoc doc = MakeDoc();
  doc.files[0].yanked = "bad sdist";
  doc.files[1].yanked = "";
  doc.upstream_allowed = true;
  const std::string encoded = EncodeProjectDoc(doc);
  EXPECT_NE(encoded.find(R"("uploader":"alice","yanked":"bad sdist"})"), std::string::npos)
      << encoded;
  EXPECT_NE(encoded.find(R"("uploader":"alice","yanked":""})"), std::string::npos) << encoded;
  EXPECT_NE(encoded.find(R"(,"upstream_allowed":true})"), std::string::npos) << encoded;
  auto decoded = DecodeProjectDoc(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  ExpectDocsEqual(doc, *decoded);
  EXPECT_EQ(decoded->files[0].yanked, std::optional<std::string>("bad sdist"));
  EXPECT_EQ(decoded->files[1].yanked, std::optional<std::string>(""));
  EXPECT_FALSE(decoded->files[2].yanked.has_value());
  EXPECT_TRUE(decoded->upstream_allowed);
  EXPECT_EQ(EncodeProjectDoc(*decoded), encoded);
}

TEST(ProjectDocTest, OldDocumentsDecodeAndReencodeUnchanged) {
  // A document as written before per-file yanks and upstream_allowed existed.
  const std::string old =
      R"({"name":"foo","display_name":"Foo","serial":2,"files":[{"filename":"foo-1.0.tar.gz",)"
      R"("version":"1.0","release_key":"1","filetype":"sdist","python_version":"source",)"
      R"("size":10,"sha256":"aa","md5":"bb","blake2b_256":"cc","upload_time_micros":5,)"
      R"("requires_python":"","metadata_sha256":"","uploader":"bob"}],"releases":{"1":)"
      R"({"version":"1.0","created_micros":5}},"yanked":{"1":"old"},"deleted_filenames":[]})";
  auto decoded = DecodeProjectDoc(old);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_FALSE(decoded->files[0].yanked.has_value());
  EXPECT_FALSE(decoded->upstream_allowed);
  EXPECT_EQ(EncodeProjectDoc(*decoded), old);
  // The default values are not written, so every document without them stays as it was.
  const std::string encoded = EncodeProjectDoc(MakeDoc());
  EXPECT_EQ(encoded.find("upstream_allowed"), std::string::npos);
  EXPECT_EQ(encoded.find(R"("uploader":"alice","yanked")"), std::string::npos);
}

TEST(ProjectDocTest, PerFileYankAndUpstreamAllowedTypesChecked) {
  ExpectInvalid(R"({"name": "foo", "files": [{"filename": "foo-1.0.tar.gz", "yanked": true}]})",
                "files[0].yanked: expected a string, got a boolean");
  ExpectInvalid(R"({"name": "foo", "upstream_allowed": "yes"})",
                "upstream_allowed: expected a boolean, got a string");
}

TEST(ProjectDocTest, SortFilesUsesPep440OrderThenFilename) {
  ProjectDoc doc;
  doc.name = "foo";
  for (const char* version :
       {"1.0.post1", "1.10", "1.0", "1.0rc1", "1.0.dev1", "1.9", "1!0.1", "2.0a1", "1.0+local"}) {
    doc.files.push_back(MakeFile(std::string("foo-") + version + ".tar.gz", version));
  }
  doc.files.push_back(MakeFile("foo-1.0-py3-none-any.whl", "1.0"));
  doc.files.push_back(MakeFile("foo-1.0.0-py2-none-any.whl", "1.0.0"));  // equal to 1.0
  doc.SortFiles();
  std::vector<std::string> names;
  for (const FileEntry& file : doc.files) {
    names.push_back(file.filename);
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "foo-1.0.dev1.tar.gz",
                       "foo-1.0rc1.tar.gz",
                       "foo-1.0-py3-none-any.whl",
                       "foo-1.0.0-py2-none-any.whl",
                       "foo-1.0.tar.gz",
                       "foo-1.0+local.tar.gz",
                       "foo-1.0.post1.tar.gz",
                       "foo-1.9.tar.gz",
                       "foo-1.10.tar.gz",
                       "foo-2.0a1.tar.gz",
                       "foo-1!0.1.tar.gz",
                   }));
}

TEST(ProjectDocTest, SortFilesPutsLegacyVersionsFirst) {
  ProjectDoc doc;
  doc.name = "foo";
  doc.files.push_back(MakeFile("foo-1.0.tar.gz", "1.0"));
  doc.files.push_back(MakeFile("foo-dev-snapshot.tar.gz", "dev-snapshot"));
  doc.SortFiles();
  EXPECT_EQ(doc.files[0].filename, "foo-dev-snapshot.tar.gz");
  EXPECT_EQ(doc.files[1].filename, "foo-1.0.tar.gz");
}

TEST(ProjectListTest, RoundTrip) {
  ProjectList list;
  list.serial = 42;
  list.projects.push_back({"alpha", "Alpha", 1});
  list.projects.push_back({"beta-gamma", "Beta_Gamma", 1'700'000'000'000'000});
  const std::string encoded = EncodeProjectList(list);
  EXPECT_EQ(
      encoded,
      R"({"serial":42,"projects":[{"name":"alpha","display_name":"Alpha","updated_micros":1},)"
      R"({"name":"beta-gamma","display_name":"Beta_Gamma","updated_micros":1700000000000000}]})");
  auto decoded = DecodeProjectList(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->serial, 42);
  ASSERT_EQ(decoded->projects.size(), 2u);
  EXPECT_EQ(decoded->projects[1].name, "beta-gamma");
  EXPECT_EQ(decoded->projects[1].display_name, "Beta_Gamma");
  EXPECT_EQ(decoded->projects[1].updated_micros, 1'700'000'000'000'000);
}

TEST(ProjectListTest, UnknownKeysIgnoredAndTypesChecked) {
  auto ok = DecodeProjectList(R"({"serial": 1, "v": 2, "projects": [{"name": "a", "x": {}}]})");
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->projects.size(), 1u);
  auto empty = DecodeProjectList("{}");
  ASSERT_TRUE(empty.has_value()) << empty.error();
  EXPECT_TRUE(empty->projects.empty());

  for (std::string_view bad : {R"({"projects": [{"display_name": "A"}]})",
                               R"({"projects": [{"name": "a", "updated_micros": "1"}]})",
                               R"({"projects": "a"})", R"({"serial": true})", "nope", "[1]"}) {
    auto result = DecodeProjectList(bad);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.error().message().rfind("project list: ", 0), 0u) << result.error();
  }
}

TEST(FormatUploadTimeTest, Formats) {
  EXPECT_EQ(FormatUploadTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatUploadTime(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatUploadTime(951'782'400'000'001), "2000-02-29T00:00:00.000001Z");
  EXPECT_EQ(FormatUploadTime(4'102'444'799'999'999), "2099-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatUploadTime(-1), "1969-12-31T23:59:59.999999Z");
}

}  // namespace
}  // namespace pydepot::doc
