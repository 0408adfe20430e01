#include "storage/keys.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage.h"
#include "storage/storage_test_util.h"

namespace pydepot::storage {
namespace {

using ::pydepot::storage::testing::HasCode;
using ::pydepot::storage::testing::IsOk;

TEST(KeysTest, BuildsTheDocumentedKeys) {
  auto file = FileKey("foo-bar", "foo_bar-1.0-py3-none-any.whl");
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(*file, "files/foo-bar/foo_bar-1.0-py3-none-any.whl");
  auto metadata = MetadataKey("foo-bar", "foo_bar-1.0-py3-none-any.whl");
  ASSERT_THAT(metadata, IsOk());
  EXPECT_EQ(*metadata, "files/foo-bar/foo_bar-1.0-py3-none-any.whl.metadata");
  auto doc = ProjectDocKey("foo-bar");
  ASSERT_THAT(doc, IsOk());
  EXPECT_EQ(*doc, "index/projects/foo-bar.json");
  EXPECT_EQ(ProjectListKey(), "index/projects.json");
  EXPECT_EQ(UsersKey(), "auth/users.json");
  EXPECT_EQ(AllFilesPrefix(), "files/");
  EXPECT_EQ(ProjectDocsPrefix(), "index/projects/");
  auto prefix = ProjectFilesPrefix("foo-bar");
  ASSERT_THAT(prefix, IsOk());
  EXPECT_EQ(*prefix, "files/foo-bar/");
}

TEST(KeysTest, EveryBuiltKeyIsValid) {
  for (const StatusOr<std::string>& key :
       {FileKey("a", "a-1.0.tar.gz"), MetadataKey("a", "a-1.0-py3-none-any.whl"),
        ProjectDocKey("a"), StatusOr<std::string>(ProjectListKey()),
        StatusOr<std::string>(UsersKey())}) {
    ASSERT_THAT(key, IsOk());
    EXPECT_TRUE(IsValidKey(*key)) << *key;
  }
}

TEST(KeysTest, LocalVersionsAndEpochsAreKeyCharacters) {
  auto key = FileKey("torch", "torch-2.1.0+cu121-cp311-cp311-linux_x86_64.whl");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(*key, "files/torch/torch-2.1.0+cu121-cp311-cp311-linux_x86_64.whl");
  auto epoch = FileKey("foo", "foo-1!2.0.tar.gz");
  ASSERT_THAT(epoch, IsOk());
  EXPECT_TRUE(IsValidKey(*epoch));
}

TEST(KeysTest, ProjectMustBeNormalized) {
  for (const char* project :
       {"", "Foo", "foo_bar", "foo.bar", "foo--bar", "-foo", "foo-", "foo/bar", "..", "foo bar"}) {
    EXPECT_THAT(FileKey(project, "x-1.0.tar.gz"), HasCode(StatusCode::kInvalidArgument)) << project;
    EXPECT_THAT(MetadataKey(project, "x-1.0.tar.gz"), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(ProjectDocKey(project), HasCode(StatusCode::kInvalidArgument));
    EXPECT_THAT(ProjectFilesPrefix(project), HasCode(StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(ProjectDocKey(std::string(kMaxProjectLength, 'a')), IsOk());
  EXPECT_THAT(ProjectDocKey(std::string(kMaxProjectLength + 1, 'a')),
              HasCode(StatusCode::kInvalidArgument));
}

TEST(KeysTest, FilenameMustBeOneSegment) {
  for (const std::string& filename :
       {std::string(), std::string("a/b.whl"), std::string(".."), std::string(".hidden.whl"),
        std::string("a\\b.whl"), std::string("a b.whl"), std::string("a\0b", 3),
        std::string("x.whl.metadata")}) {
    EXPECT_THAT(FileKey("foo", filename), HasCode(StatusCode::kInvalidArgument)) << filename;
    EXPECT_THAT(MetadataKey("foo", filename), HasCode(StatusCode::kInvalidArgument));
  }
}

TEST(KeysTest, FilenameLengthLeavesRoomForMetadata) {
  std::string longest = std::string(kMaxFilenameLength - 4, 'a') + ".whl";
  auto metadata = MetadataKey("foo", longest);
  ASSERT_THAT(metadata, IsOk());
  EXPECT_TRUE(IsValidKey(*metadata));
  auto too_long = FileKey("foo", "a" + longest);
  EXPECT_THAT(too_long, HasCode(StatusCode::kInvalidArgument));
  EXPECT_THAT(too_long.error().message(), ::testing::HasSubstr("too long"));
}

TEST(KeysTest, ParsersInvertBuilders) {
  auto file = ParseFileKey("files/foo/foo-1.0+local-py3-none-any.whl");
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->project, "foo");
  EXPECT_EQ(file->filename, "foo-1.0+local-py3-none-any.whl");

  auto metadata = ParseMetadataKey("files/foo/foo-1.0-py3-none-any.whl.metadata");
  ASSERT_THAT(metadata, IsOk());
  EXPECT_EQ(metadata->project, "foo");
  EXPECT_EQ(metadata->filename, "foo-1.0-py3-none-any.whl");

  auto project = ParseProjectDocKey("index/projects/foo-bar.json");
  ASSERT_THAT(project, IsOk());
  EXPECT_EQ(*project, "foo-bar");

  for (const char* filename : {"a-1.0.tar.gz", "a-1!2.0+x.y-py3-none-any.whl", "a.zip"}) {
    auto key = FileKey("a-b", filename);
    ASSERT_THAT(key, IsOk());
    auto parsed = ParseFileKey(*key);
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(parsed->project, "a-b");
    EXPECT_EQ(parsed->filename, filename);
    auto meta_key = MetadataKey("a-b", filename);
    ASSERT_THAT(meta_key, IsOk());
    auto meta = ParseMetadataKey(*meta_key);
    ASSERT_THAT(meta, IsOk());
    EXPECT_EQ(meta->filename, filename);
  }
}

TEST(KeysTest, ParsersRejectOtherKeys) {
  for (const char* key :
       {"files/foo", "files/foo/", "files/foo/a/b.whl", "files/Foo/a.whl", "index/projects.json",
        "files/foo/a.whl.metadata", "other/foo/a.whl", "files//a.whl", "files/foo/.metadata"}) {
    EXPECT_THAT(ParseFileKey(key), HasCode(StatusCode::kInvalidArgument)) << key;
  }
  for (const char* key : {"files/foo/a.whl", "files/foo/.metadata", "files/foo/a.whl.metadata/x",
                          "files/Foo/a.whl.metadata", "files/foo/x.metadata.metadata"}) {
    EXPECT_THAT(ParseMetadataKey(key), HasCode(StatusCode::kInvalidArgument)) << key;
  }
  for (const char* key : {"index/projects.json", "index/projects/.json", "index/projects/Foo.json",
                          "index/projects/a/b.json", "index/projects/foo.JSON"}) {
    EXPECT_THAT(ParseProjectDocKey(key), HasCode(StatusCode::kInvalidArgument)) << key;
  }
}

TEST(KeysTest, ClassifyKey) {
  EXPECT_EQ(ClassifyKey("files/foo/foo-1.0.tar.gz"), KeyKind::kFile);
  EXPECT_EQ(ClassifyKey("files/foo/foo-1.0-py3-none-any.whl.metadata"), KeyKind::kMetadata);
  EXPECT_EQ(ClassifyKey("index/projects/foo.json"), KeyKind::kProjectDoc);
  EXPECT_EQ(ClassifyKey("index/projects.json"), KeyKind::kProjectList);
  EXPECT_EQ(ClassifyKey("auth/users.json"), KeyKind::kUsers);
  EXPECT_EQ(ClassifyKey("files/foo/a/b"), KeyKind::kUnknown);
  EXPECT_EQ(ClassifyKey("stray.txt"), KeyKind::kUnknown);
  EXPECT_EQ(ClassifyKey("upstream/projects/foo.json"), KeyKind::kUpstream);
  EXPECT_EQ(ClassifyKey("upstream/files/foo/foo-1.0.tar.gz"), KeyKind::kUpstream);
  EXPECT_EQ(ClassifyKey("upstream/files/foo/foo-1.0-py3-none-any.whl.metadata"),
            KeyKind::kUpstream);
  // The whole namespace is the proxy's cache, whatever is in it.
  EXPECT_EQ(ClassifyKey("upstream/something-else"), KeyKind::kUpstream);
  EXPECT_EQ(ClassifyKey("upstreamx/foo"), KeyKind::kUnknown);
}

TEST(KeysTest, UpstreamKeys) {
  auto page = UpstreamPageKey("foo-bar");
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(*page, "upstream/projects/foo-bar.json");
  auto file = UpstreamFileKey("foo-bar", "foo_bar-1.0-py3-none-any.whl");
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(*file, "upstream/files/foo-bar/foo_bar-1.0-py3-none-any.whl");
  auto metadata = UpstreamFileKey("foo-bar", "foo_bar-1.0-py3-none-any.whl.metadata");
  ASSERT_THAT(metadata, IsOk());
  EXPECT_EQ(*metadata, "upstream/files/foo-bar/foo_bar-1.0-py3-none-any.whl.metadata");
  EXPECT_EQ(UpstreamPrefix(), "upstream/");
  for (const StatusOr<std::string>& key : {page, file, metadata}) {
    EXPECT_TRUE(IsValidKey(*key)) << *key;
    EXPECT_EQ(ClassifyKey(*key), KeyKind::kUpstream) << *key;
  }
  for (const char* project : {"", "Foo", "foo_bar", "foo--bar", "-foo", "foo/bar", ".."}) {
    EXPECT_THAT(UpstreamPageKey(project), HasCode(StatusCode::kInvalidArgument)) << project;
    EXPECT_THAT(UpstreamFileKey(project, "x-1.0.tar.gz"), HasCode(StatusCode::kInvalidArgument))
        << project;
  }
  const std::string long_name(kMaxFilenameLength + 1, 'a');
  for (const std::string& filename :
       {std::string(""), std::string("a/b.tar.gz"), std::string(".."), std::string(".metadata"),
        std::string("x-1.0.tar.gz.metadata.metadata"), long_name, long_name + ".metadata"}) {
    EXPECT_THAT(UpstreamFileKey("foo", filename), HasCode(StatusCode::kInvalidArgument))
        << filename;
  }
  EXPECT_THAT(UpstreamFileKey("foo", std::string(kMaxFilenameLength, 'a') + ".metadata"), IsOk());
}

}  // namespace
}  // namespace pydepot::storage
