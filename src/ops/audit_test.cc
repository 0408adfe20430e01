#include "ops/audit.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/log.h"
#include "storage/keys.h"
#include "storage/storage_wrapper.h"

namespace pydepot::ops {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::int64_t kDay1 = 1714564800123456;           // 2024-05-01T12:00:00.123456Z
constexpr std::int64_t kDay2 = kDay1 + 86400LL * 1000000;  // 2024-05-02

// Records which writes the audit trail makes; can refuse every write.
class RecordingStorage : public storage::StorageWrapper {
 public:
  RecordingStorage() : StorageWrapper(storage::NewMemStorage()) {}
  StatusOr<storage::ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    put_if_absent.emplace_back(key);
    if (fail) {
      return UnavailableError("bucket unreachable");
    }
    return StorageWrapper::PutIfAbsent(key, data);
  }
  StatusOr<storage::ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view etag) override {
    ++put_if_match;
    return StorageWrapper::PutIfMatch(key, data, etag);
  }
  std::vector<std::string> put_if_absent;
  int put_if_match = 0;
  bool fail = false;
};

TEST(AuditKeyTest, DayDirectoryAndSortableTime) {
  auto key = storage::AuditKey(kDay1, "00ff");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(*key, "audit/2024-05-01/2024-05-01T120000.123456Z-00ff.json");
  EXPECT_TRUE(storage::IsValidKey(*key));
  EXPECT_EQ(storage::ClassifyKey(*key), storage::KeyKind::kAudit);
  EXPECT_FALSE(storage::AuditKey(kDay1, "").has_value());
  EXPECT_FALSE(storage::AuditKey(kDay1, "XYZ").has_value());
  EXPECT_FALSE(storage::AuditKey(-1, "00").has_value());
  EXPECT_EQ(*storage::AuditDayPrefix("2024-05-01"), "audit/2024-05-01/");
  EXPECT_FALSE(storage::AuditDayPrefix("2024-5-1").has_value());
  EXPECT_FALSE(storage::AuditDayPrefix("../../x/").has_value());
  EXPECT_EQ(storage::AuditPrefix(), "audit/");
}

TEST(AuditTest, EventsAreWrittenCreateOnlyAndListed) {
  RecordingStorage store;
  ASSERT_TRUE(WriteAuditEvent(store, {.time_micros = kDay1,
                                      .actor = "alice",
                                      .action = "upload",
                                      .target = "foo/foo-1.0.tar.gz",
                                      .address = "10.0.0.1"})
                  .ok());
  ASSERT_TRUE(WriteAuditEvent(store, {.time_micros = kDay2,
                                      .actor = AuditActor("bob", "0123456789abcdef"),
                                      .action = "yank",
                                      .target = "foo 1.0",
                                      .address = ""})
                  .ok());
  // Two events in the same microsecond get two keys.
  ASSERT_TRUE(
      WriteAuditEvent(
          store,
          {.time_micros = kDay2, .actor = "c", .action = "claim", .target = "bar", .address = ""})
          .ok());
  EXPECT_EQ(store.put_if_match, 0);
  ASSERT_EQ(store.put_if_absent.size(), 3u);
  for (const std::string& key : store.put_if_absent) {
    EXPECT_EQ(storage::ClassifyKey(key), storage::KeyKind::kAudit) << key;
  }
  auto object = store.Get(store.put_if_absent[0]);
  ASSERT_TRUE(object.has_value());
  json::value v = json::parse(object->data);
  EXPECT_EQ(v.at("time").as_string(), "2024-05-01T12:00:00.123456Z");
  EXPECT_EQ(v.at("actor").as_string(), "alice");
  EXPECT_EQ(v.at("action").as_string(), "upload");
  EXPECT_EQ(v.at("target").as_string(), "foo/foo-1.0.tar.gz");
  EXPECT_EQ(v.at("address").as_string(), "10.0.0.1");

  auto all = ListAuditEvents(store, "");
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].action, "upload");
  EXPECT_EQ((*all)[1].time_micros, kDay2);
  auto since = ListAuditEvents(store, "2024-05-02");
  ASSERT_TRUE(since.has_value());
  ASSERT_EQ(since->size(), 2u);
  std::vector<std::string> actors = {(*since)[0].actor, (*since)[1].actor};
  std::sort(actors.begin(), actors.end());
  EXPECT_THAT(actors, ElementsAre("__token__:0123456789abcdef", "c"));
  EXPECT_FALSE(ListAuditEvents(store, "yesterday").has_value());
}

TEST(AuditTest, UnreadableEventsAreSkipped) {
  RecordingStorage store;
  ASSERT_TRUE(store.PutIfAbsent("audit/2024-05-01/junk.json", "not json").has_value());
  ASSERT_TRUE(
      WriteAuditEvent(store, {.actor = "a", .action = "claim", .target = "x", .address = ""}).ok());
  int skipped = 0;
  auto events = ListAuditEvents(store, "", &skipped);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->size(), 1u);
  EXPECT_EQ(skipped, 1);
}

TEST(AuditTest, RecordingFailureOnlyWarns) {
  RecordingStorage store;
  store.fail = true;
  std::vector<std::string> lines;
  SetLogSinkForTesting([&](std::string_view line) { lines.emplace_back(line); });
  RecordAudit(store, {.actor = "alice", .action = "upload", .target = "foo/x.whl", .address = ""});
  SetLogSinkForTesting(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("WARNING"));
  EXPECT_THAT(lines[0], HasSubstr("upload foo/x.whl by alice"));
  EXPECT_FALSE(
      WriteAuditEvent(store, {.actor = "a", .action = "b", .target = "c", .address = ""}).ok());
}

TEST(AuditTest, CliActor) {
  EXPECT_THAT(CliActor(), ::testing::StartsWith("cli:"));
  EXPECT_EQ(AuditActor("alice", ""), "alice");
}

}  // namespace
}  // namespace pydepot::ops
