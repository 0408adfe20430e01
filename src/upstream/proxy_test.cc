#include "upstream/proxy.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/hash.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "storage/storage.h"

namespace pydepot::upstream {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kIndexUrl = "https://upstream.example/simple/";
constexpr std::string_view kFilesUrl = "https://files.example/packages/";
constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t kStart = 1'700'000'000 * kSecond;

template <typename T>
std::string ErrorOf(const StatusOr<T>& value) {
  return value.has_value() ? std::string("ok") : value.error().ToString();
}

// A file as the fake upstream lists and serves it.
struct FakeFile {
  std::string filename;
  std::string bytes;
  std::string requires_python;
  std::optional<std::string> yanked;
  // Metadata: nullopt: not offered; "": offered without a sha256; else its bytes, offered with
  // their sha256.
  std::optional<std::string> metadata;
  bool metadata_without_hash = false;
  std::string listed_sha256;  // "" for the bytes' own sha256
};

FakeFile F(std::string filename, std::string bytes, std::string requires_python = "",
           std::optional<std::string> yanked = std::nullopt,
           std::optional<std::string> metadata = std::nullopt) {
  FakeFile file;
  file.filename = std::move(filename);
  file.bytes = std::move(bytes);
  file.requires_python = std::move(requires_python);
  file.yanked = std::move(yanked);
  file.metadata = std::move(metadata);
  return file;
}

std::string PageJson(const std::string& name, const std::vector<FakeFile>& files) {
  json::object root;
  root["meta"] = {{"api-version", "1.1"}};
  root["name"] = name;
  json::array entries;
  for (const FakeFile& file : files) {
    json::object entry;
    entry["filename"] = file.filename;
    entry["url"] = std::string(kFilesUrl) + file.filename;
    entry["hashes"] = {
        {"sha256", file.listed_sha256.empty() ? Sha256Hex(file.bytes) : file.listed_sha256}};
    if (!file.requires_python.empty()) {
      entry["requires-python"] = file.requires_python;
    }
    if (file.yanked.has_value()) {
      entry["yanked"] = file.yanked->empty() ? json::value(true) : json::value(*file.yanked);
    } else {
      entry["yanked"] = false;
    }
    entry["size"] = static_cast<std::int64_t>(file.bytes.size());
    entry["upload-time"] = "2024-01-02T03:04:05.000000Z";
    if (file.metadata.has_value()) {
      if (file.metadata_without_hash) {
        entry["core-metadata"] = true;
      } else {
        entry["core-metadata"] = {{"sha256", Sha256Hex(*file.metadata)}};
      }
    }
    entries.emplace_back(std::move(entry));
  }
  root["files"] = std::move(entries);
  return json::serialize(root);
}

// Serves canned pages (with ETags, answering 304 to a matching If-None-Match) and file bytes,
// counts calls, and can be switched to fail.
class FakeClient : public Client {
 public:
  void SetProject(const std::string& name, const std::vector<FakeFile>& files,
                  const std::string& etag) {
    std::lock_guard lock(mu_);
    PageFetch page;
    page.status = 200;
    page.etag = etag;
    page.body = PageJson(name, files);
    page.json = true;
    page.url = std::string(kIndexUrl) + name + "/";
    pages_[name] = page;
    for (const FakeFile& file : files) {
      const std::string url = std::string(kFilesUrl) + file.filename;
      files_[url] = file.bytes;
      if (file.metadata.has_value()) {
        files_[url + ".metadata"] = *file.metadata;
      }
    }
  }
  void SetFileBytes(const std::string& filename, const std::string& bytes) {
    std::lock_guard lock(mu_);
    files_[std::string(kFilesUrl) + filename] = bytes;
  }

  StatusOr<PageFetch> FetchPage(std::string_view name, std::string_view etag) override {
    {
      std::lock_guard lock(mu_);
      ++page_calls;
      sent_etags.emplace_back(etag);
    }
    if (page_delay.count() > 0) {
      std::this_thread::sleep_for(page_delay);
    }
    std::lock_guard lock(mu_);
    if (down) {
      return UnavailableError("upstream.example: connection refused");
    }
    auto it = pages_.find(std::string(name));
    if (it == pages_.end()) {
      PageFetch missing;
      missing.status = 404;
      return missing;
    }
    if (!etag.empty() && etag == it->second.etag) {
      PageFetch not_modified;
      not_modified.status = 304;
      not_modified.etag = std::string(etag);
      return not_modified;
    }
    return it->second;
  }

  StatusOr<std::string> FetchFile(std::string_view url, const fs::path& dest,
                                  std::int64_t max_bytes) override {
    std::string bytes;
    {
      std::lock_guard lock(mu_);
      ++file_calls;
      fetched_urls.emplace_back(url);
      if (down) {
        return UnavailableError("files.example: connection refused");
      }
      auto it = files_.find(std::string(url));
      if (it == files_.end()) {
        return NotFoundError("404 for " + std::string(url));
      }
      bytes = it->second;
    }
    if (static_cast<std::int64_t>(bytes.size()) > max_bytes) {
      return ResourceExhaustedError("larger than " + std::to_string(max_bytes));
    }
    if (fs::exists(dest)) {
      return InternalError("dest exists");
    }
    std::ofstream out(dest, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    return Sha256Hex(bytes);
  }

  const std::string& index_url() const override { return index_url_; }

  int PageCalls() {
    std::lock_guard lock(mu_);
    return page_calls;
  }
  int FileCalls() {
    std::lock_guard lock(mu_);
    return file_calls;
  }
  std::string LastSentEtag() {
    std::lock_guard lock(mu_);
    return sent_etags.empty() ? "(none)" : sent_etags.back();
  }

  std::atomic<bool> down{false};
  std::chrono::milliseconds page_delay{0};

 private:
  std::mutex mu_;
  int page_calls = 0;
  int file_calls = 0;
  std::vector<std::string> sent_etags;
  std::vector<std::string> fetched_urls;
  std::map<std::string, PageFetch> pages_;
  std::map<std::string, std::string> files_;
  const std::string index_url_{kIndexUrl};
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("proxy_test-" + HexEncode(RandomBytes(8)));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const std::string kWheel = "requests-2.31.0-py3-none-any.whl";
const std::string kSdist = "requests-2.31.0.tar.gz";
const std::string kOld = "requests-2.0.0.tar.gz";

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() {
    files_ = {F(kWheel, "wheel bytes", ">=3.7", std::nullopt, "Metadata-Version: 2.1\n"),
              F(kSdist, "sdist bytes", ">=3.7"), F(kOld, "old bytes", "", "insecure <old>")};
    client_.SetProject("requests", files_, "\"v1\"");
    proxy_ = MakeProxy();
  }

  std::unique_ptr<Proxy> MakeProxy() {
    ProxyOptions options;
    options.ttl = std::chrono::seconds(600);
    options.temp_dir = temp_.path();
    options.now_micros = [this] { return now_.load(); };
    return Proxy::Create(*storage_, client_, options);
  }

  void Advance(std::int64_t seconds) { now_ += seconds * kSecond; }

  std::shared_ptr<const index::ProjectView> MustGet(Proxy& proxy, std::string_view name) {
    auto view = proxy.GetProject(name);
    EXPECT_TRUE(view.has_value()) << ErrorOf(view);
    return view.has_value() ? *view : nullptr;
  }

  std::string Stored(const std::string& key) {
    auto object = storage_->Get(key);
    return object.has_value() ? object->data : "(absent)";
  }

  bool TempDirEmpty() { return fs::is_empty(temp_.path()); }

  std::atomic<std::int64_t> now_{kStart};
  TempDir temp_;
  std::unique_ptr<storage::Storage> storage_ = storage::NewMemStorage();
  FakeClient client_;
  std::vector<FakeFile> files_;
  std::unique_ptr<Proxy> proxy_;
};

TEST_F(ProxyTest, FirstFetchBuildsTheProjectAndStoresThePage) {
  auto view = MustGet(*proxy_, "requests");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(client_.PageCalls(), 1);
  EXPECT_EQ(client_.LastSentEtag(), "");
  const doc::ProjectDoc& doc = view->doc;
  EXPECT_EQ(doc.name, "requests");
  ASSERT_EQ(doc.files.size(), 3u);
  // Sorted as local documents are: by version, then filename.
  EXPECT_EQ(doc.files[0].filename, kOld);
  EXPECT_EQ(doc.files[1].filename, kWheel);
  EXPECT_EQ(doc.files[2].filename, kSdist);
  const doc::FileEntry* wheel = doc.FindFile(kWheel);
  ASSERT_NE(wheel, nullptr);
  EXPECT_EQ(wheel->version, "2.31.0");
  EXPECT_EQ(wheel->release_key, "2.31");
  EXPECT_EQ(wheel->filetype, "bdist_wheel");
  EXPECT_EQ(wheel->python_version, "py3");
  EXPECT_EQ(wheel->sha256, Sha256Hex("wheel bytes"));
  EXPECT_EQ(wheel->size, 11);
  EXPECT_EQ(wheel->upload_time_micros, 1'704'164'645 * kSecond);
  EXPECT_EQ(wheel->requires_python, ">=3.7");
  EXPECT_EQ(wheel->metadata_sha256, Sha256Hex("Metadata-Version: 2.1\n"));
  EXPECT_FALSE(wheel->yanked.has_value());
  const doc::FileEntry* sdist = doc.FindFile(kSdist);
  ASSERT_NE(sdist, nullptr);
  EXPECT_EQ(sdist->filetype, "sdist");
  EXPECT_EQ(sdist->python_version, "source");
  EXPECT_EQ(sdist->metadata_sha256, "");
  EXPECT_EQ(doc.FindFile(kOld)->yanked, std::optional<std::string>("insecure <old>"));
  EXPECT_TRUE(doc.releases.contains("2.31"));
  EXPECT_FALSE(view->simple_html.body.empty());
  EXPECT_FALSE(view->simple_json.body.empty());
  EXPECT_FALSE(view->simple_json.etag.empty());

  // Stored for other instances and restarts, with the ETag.
  const std::string stored = Stored(*storage::UpstreamPageKey("requests"));
  EXPECT_NE(stored.find("\"etag\":\"\\\"v1\\\"\""), std::string::npos) << stored;
  EXPECT_NE(stored.find(kWheel), std::string::npos);
}

TEST_F(ProxyTest, YanksRequiresPythonAndMetadataReachTheSimplePages) {
  auto view = MustGet(*proxy_, "requests");
  ASSERT_NE(view, nullptr);
  const json::value root = json::parse(view->simple_json.body);
  std::map<std::string, json::object> by_name;
  for (const json::value& file : root.at("files").as_array()) {
    by_name[std::string(file.at("filename").as_string())] = file.as_object();
  }
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_EQ(by_name[kOld].at("yanked"), "insecure <old>");
  EXPECT_EQ(by_name[kWheel].at("yanked"), false);
  EXPECT_EQ(by_name[kWheel].at("requires-python"), ">=3.7");
  EXPECT_EQ(by_name[kWheel].at("core-metadata"),
            (json::object{{"sha256", Sha256Hex("Metadata-Version: 2.1\n")}}));
  EXPECT_FALSE(by_name[kSdist].contains("core-metadata"));
  EXPECT_EQ(std::string(by_name[kWheel].at("url").as_string()), "../../files/requests/" + kWheel);
  EXPECT_EQ(by_name[kWheel].at("hashes"), (json::object{{"sha256", Sha256Hex("wheel bytes")}}));
  EXPECT_EQ(by_name[kWheel].at("size"), 11);

  const std::string& html = view->simple_html.body;
  EXPECT_NE(html.find("data-yanked=\"insecure &lt;old&gt;\""), std::string::npos) << html;
  EXPECT_NE(html.find("data-requires-python=\"&gt;=3.7\""), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"../../files/requests/" + kWheel + "#sha256="), std::string::npos);
}

TEST_F(ProxyTest, YankWithoutReasonIsPlainTrue) {
  files_[1].yanked = "";
  client_.SetProject("requests", files_, "\"v2\"");
  auto view = MustGet(*proxy_, "requests");
  ASSERT_NE(view, nullptr);
  EXPECT_NE(view->simple_json.body.find("\"filename\":\"" + kSdist), std::string::npos);
  const json::value root = json::parse(view->simple_json.body);
  for (const json::value& file : root.at("files").as_array()) {
    if (std::string_view(file.at("filename").as_string()) == kSdist) {
      EXPECT_EQ(file.at("yanked"), true);
    }
  }
}

TEST_F(ProxyTest, ServedFromMemoryWithinTtl) {
  ASSERT_NE(MustGet(*proxy_, "requests"), nullptr);
  Advance(599);
  auto again = MustGet(*proxy_, "requests");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(client_.PageCalls(), 1);
}

TEST_F(ProxyTest, RevalidatesAfterTtlWithTheEtag) {
  auto first = MustGet(*proxy_, "requests");
  Advance(601);
  auto second = MustGet(*proxy_, "requests");
  EXPECT_EQ(client_.PageCalls(), 2);
  EXPECT_EQ(client_.LastSentEtag(), "\"v1\"");
  EXPECT_EQ(second, first);  // 304: the same view
  // Fresh again for a ttl.
  Advance(300);
  MustGet(*proxy_, "requests");
  EXPECT_EQ(client_.PageCalls(), 2);

  // A change upstream replaces the page at the next revalidation.
  files_.push_back(F("requests-2.32.0.tar.gz", "new bytes"));
  client_.SetProject("requests", files_, "\"v2\"");
  Advance(601);
  auto third = MustGet(*proxy_, "requests");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(client_.PageCalls(), 3);
  EXPECT_EQ(third->doc.files.size(), 4u);
  EXPECT_NE(Stored(*storage::UpstreamPageKey("requests")).find("requests-2.32.0.tar.gz"),
            std::string::npos);
}

TEST_F(ProxyTest, UpstreamDownServesTheStoredPageAlsoAfterARestart) {
  auto first = MustGet(*proxy_, "requests");
  client_.down = true;
  Advance(3600);
  auto stale = MustGet(*proxy_, "requests");
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(stale->doc.files.size(), 3u);
  EXPECT_EQ(client_.PageCalls(), 2);
  // Not asked again at every request while it is down.
  MustGet(*proxy_, "requests");
  EXPECT_EQ(client_.PageCalls(), 2);

  // Another instance, or this one after a restart: the stored page, however old.
  Advance(24 * 3600);
  auto restarted = MakeProxy();
  auto view = MustGet(*restarted, "requests");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.files.size(), 3u);
  EXPECT_EQ(view->simple_json.body, first->simple_json.body);
  EXPECT_EQ(client_.LastSentEtag(), "\"v1\"");  // it tried to revalidate the stored page

  // Back up: revalidated (304), fresh again.
  client_.down = false;
  Advance(3600);
  ASSERT_NE(MustGet(*restarted, "requests"), nullptr);
  EXPECT_EQ(client_.LastSentEtag(), "\"v1\"");
  const int calls = client_.PageCalls();
  MustGet(*restarted, "requests");
  EXPECT_EQ(client_.PageCalls(), calls);
}

TEST_F(ProxyTest, ASecondInstanceUsesAFreshStoredPageWithoutAsking) {
  ASSERT_NE(MustGet(*proxy_, "requests"), nullptr);
  Advance(60);
  auto other = MakeProxy();
  ASSERT_NE(MustGet(*other, "requests"), nullptr);
  EXPECT_EQ(client_.PageCalls(), 1);
}

TEST_F(ProxyTest, NothingFetchedAndDownIsUnavailable) {
  client_.down = true;
  auto view = proxy_->GetProject("requests");
  ASSERT_FALSE(view.has_value());
  EXPECT_EQ(view.error().code(), StatusCode::kUnavailable) << view.error();
  EXPECT_NE(view.error().message().find("connection refused"), std::string::npos);
  client_.down = false;
  EXPECT_NE(MustGet(*proxy_, "requests"), nullptr);
}

TEST_F(ProxyTest, NotFoundIsRememberedForTtl) {
  auto view = proxy_->GetProject("no-such");
  ASSERT_FALSE(view.has_value());
  EXPECT_EQ(view.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_.PageCalls(), 1);
  Advance(100);
  EXPECT_EQ(proxy_->GetProject("no-such").error().code(), StatusCode::kNotFound);
  auto peek = proxy_->PeekProject("no-such");
  ASSERT_TRUE(peek.has_value());
  EXPECT_EQ(peek->error().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_.PageCalls(), 1);
  // Published meanwhile: seen once the ttl is over.
  client_.SetProject("no-such", {F("no_such-1.0.tar.gz", "x")}, "\"n1\"");
  Advance(501);
  EXPECT_TRUE(proxy_->GetProject("no-such").has_value());
  EXPECT_EQ(client_.PageCalls(), 2);
}

TEST_F(ProxyTest, ProjectGoneUpstreamIsNotServedFromTheStoreLater) {
  ASSERT_NE(MustGet(*proxy_, "requests"), nullptr);
  auto other = std::make_unique<FakeClient>();  // the same upstream, without the project
  ProxyOptions options;
  options.temp_dir = temp_.path();
  options.now_micros = [this] { return now_.load(); };
  Advance(601);
  auto proxy = Proxy::Create(*storage_, *other, options);
  EXPECT_EQ(proxy->GetProject("requests").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(Stored(*storage::UpstreamPageKey("requests")), "(absent)");
}

TEST_F(ProxyTest, InvalidNamesAreRejected) {
  EXPECT_EQ(proxy_->GetProject("Requests").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(proxy_->GetProject("../x").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(proxy_->EnsureFile("requests", "../x").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_.PageCalls(), 0);
}

TEST_F(ProxyTest, PeekProjectNeverCallsTheClient) {
  EXPECT_FALSE(proxy_->PeekProject("requests").has_value());
  EXPECT_EQ(client_.PageCalls(), 0);
  auto view = MustGet(*proxy_, "requests");
  auto peek = proxy_->PeekProject("requests");
  ASSERT_TRUE(peek.has_value());
  ASSERT_TRUE(peek->has_value());
  EXPECT_EQ(**peek, view);
  Advance(601);
  EXPECT_FALSE(proxy_->PeekProject("requests").has_value());  // stale: would revalidate
  // A stored page is not in memory either.
  auto other = MakeProxy();
  EXPECT_FALSE(other->PeekProject("requests").has_value());
  EXPECT_EQ(client_.PageCalls(), 1);
}

TEST_F(ProxyTest, EnsureFileFetchesOnceThenServesFromTheStore) {
  auto key = proxy_->EnsureFile("requests", kWheel);
  ASSERT_TRUE(key.has_value()) << ErrorOf(key);
  EXPECT_EQ(*key, *storage::UpstreamFileKey("requests", kWheel));
  EXPECT_EQ(Stored(*key), "wheel bytes");
  EXPECT_EQ(client_.FileCalls(), 1);
  EXPECT_TRUE(TempDirEmpty());
  auto again = proxy_->EnsureFile("requests", kWheel);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *key);
  EXPECT_EQ(client_.FileCalls(), 1);
  // Also while the upstream is down, and from another instance.
  client_.down = true;
  Advance(24 * 3600);
  auto other = MakeProxy();
  auto stored = other->EnsureFile("requests", kWheel);
  ASSERT_TRUE(stored.has_value()) << ErrorOf(stored);
  EXPECT_EQ(client_.FileCalls(), 1);
  // A file never fetched is not.
  auto sdist = other->EnsureFile("requests", kSdist);
  ASSERT_FALSE(sdist.has_value());
  EXPECT_EQ(sdist.error().code(), StatusCode::kUnavailable);
}

TEST_F(ProxyTest, WrongBytesAreRefusedAndNothingIsStored) {
  client_.SetFileBytes(kWheel, "tampered bytes");
  auto key = proxy_->EnsureFile("requests", kWheel);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(key.error().message().find("sha256"), std::string::npos) << key.error();
  EXPECT_EQ(Stored(*storage::UpstreamFileKey("requests", kWheel)), "(absent)");
  EXPECT_TRUE(TempDirEmpty());
  // Fixed upstream: fetched again and stored.
  client_.SetFileBytes(kWheel, "wheel bytes");
  ASSERT_TRUE(proxy_->EnsureFile("requests", kWheel).has_value());
  EXPECT_EQ(client_.FileCalls(), 2);
}

TEST_F(ProxyTest, UnlistedFilesAreNotFound) {
  auto key = proxy_->EnsureFile("requests", "requests-9.9.9.tar.gz");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(proxy_->EnsureFile("no-such", "no_such-1.0.tar.gz").error().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(client_.FileCalls(), 0);
}

TEST_F(ProxyTest, MetadataWithSha256IsFetchedAndChecked) {
  auto key = proxy_->EnsureFile("requests", kWheel + ".metadata");
  ASSERT_TRUE(key.has_value()) << ErrorOf(key);
  EXPECT_EQ(*key, *storage::UpstreamFileKey("requests", kWheel + ".metadata"));
  EXPECT_EQ(Stored(*key), "Metadata-Version: 2.1\n");
  // The sdist offers none.
  auto none = proxy_->EnsureFile("requests", kSdist + ".metadata");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_.FileCalls(), 1);
}

TEST_F(ProxyTest, MetadataWithWrongBytesIsRefused) {
  client_.SetFileBytes(kWheel + ".metadata", "Metadata-Version: 9\n");
  auto key = proxy_->EnsureFile("requests", kWheel + ".metadata");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Stored(*storage::UpstreamFileKey("requests", kWheel + ".metadata")), "(absent)");
}

TEST_F(ProxyTest, MetadataWithoutSha256IsNotOffered) {
  files_[0].metadata_without_hash = true;
  client_.SetProject("requests", files_, "\"v2\"");
  auto view = MustGet(*proxy_, "requests");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->doc.FindFile(kWheel)->metadata_sha256, "");
  EXPECT_EQ(view->simple_json.body.find("core-metadata"), std::string::npos);
  EXPECT_EQ(view->simple_html.body.find("data-core-metadata"), std::string::npos);
  auto key = proxy_->EnsureFile("requests", kWheel + ".metadata");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_.FileCalls(), 0);
}

TEST_F(ProxyTest, FilesLargerThanTheLimitAreRefused) {
  ProxyOptions options;
  options.temp_dir = temp_.path();
  options.max_file_bytes = 5;
  options.now_micros = [this] { return now_.load(); };
  auto proxy = Proxy::Create(*storage_, client_, options);
  auto key = proxy->EnsureFile("requests", kWheel);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Stored(*storage::UpstreamFileKey("requests", kWheel)), "(absent)");
}

TEST_F(ProxyTest, ConcurrentColdRequestsFetchOnce) {
  client_.page_delay = std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (proxy_->GetProject("requests").has_value() &&
          proxy_->EnsureFile("requests", kSdist).has_value()) {
        ++ok;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(client_.PageCalls(), 1);
  EXPECT_EQ(client_.FileCalls(), 1);
}

doc::FileEntry LocalFile(const std::string& filename, const std::string& version) {
  doc::FileEntry file;
  file.filename = filename;
  file.version = version;
  file.release_key = version == "2.31.0" ? "2.31" : version;
  file.filetype = "sdist";
  file.python_version = "source";
  file.sha256 = Sha256Hex("local " + filename);
  file.size = 5;
  return file;
}

std::shared_ptr<const index::ProjectView> LocalView(std::int64_t serial, bool allowed) {
  doc::ProjectDoc doc;
  doc.name = "requests";
  doc.display_name = "Requests";
  doc.serial = serial;
  doc.upstream_allowed = allowed;
  doc.files.push_back(LocalFile(kSdist, "2.31.0"));  // clashes with upstream's
  doc.files.push_back(LocalFile("requests-3.0.tar.gz", "3.0"));
  doc.releases["2.31"].version = "2.31.0";
  doc.releases["3"].version = "3.0";
  doc.SortFiles();
  return index::MakeProjectView(std::move(doc));
}

TEST_F(ProxyTest, MergeKeepsLocalFilesAndAddsUpstreamOnes) {
  auto local = LocalView(4, true);
  auto merged = proxy_->Merge(local);
  ASSERT_NE(merged, nullptr);
  const doc::ProjectDoc& doc = merged->doc;
  EXPECT_EQ(doc.display_name, "Requests");
  EXPECT_EQ(doc.serial, 4);
  std::vector<std::string> names;
  for (const doc::FileEntry& file : doc.files) {
    names.push_back(file.filename);
  }
  EXPECT_EQ(names, (std::vector<std::string>{kOld, kWheel, kSdist, "requests-3.0.tar.gz"}));
  // Local wins on the clash.
  EXPECT_EQ(doc.FindFile(kSdist)->sha256, Sha256Hex("local " + kSdist));
  EXPECT_EQ(doc.FindFile(kWheel)->sha256, Sha256Hex("wheel bytes"));
  EXPECT_EQ(doc.FindFile(kOld)->yanked, std::optional<std::string>("insecure <old>"));
  EXPECT_TRUE(doc.releases.contains("2"));
  EXPECT_NE(merged->simple_json.body.find(kWheel), std::string::npos);
  EXPECT_NE(merged->simple_html.body.find("requests-3.0.tar.gz"), std::string::npos);

  // Cached until either side changes.
  EXPECT_EQ(proxy_->Merge(local), merged);
  EXPECT_EQ(proxy_->Merge(LocalView(4, true)), merged);
  auto changed = proxy_->Merge(LocalView(5, true));
  EXPECT_NE(changed, merged);
  EXPECT_EQ(changed->doc.serial, 5);
  files_.push_back(F("requests-2.32.0.tar.gz", "new bytes"));
  client_.SetProject("requests", files_, "\"v2\"");
  Advance(601);
  auto newer = proxy_->Merge(LocalView(5, true));
  EXPECT_NE(newer, changed);
  EXPECT_NE(newer->doc.FindFile("requests-2.32.0.tar.gz"), nullptr);
  EXPECT_EQ(client_.PageCalls(), 2);
}

TEST_F(ProxyTest, MergeNeverFails) {
  // Not allowed: the local view as it is, and the upstream is not asked.
  auto denied = LocalView(1, false);
  EXPECT_EQ(proxy_->Merge(denied), denied);
  EXPECT_EQ(client_.PageCalls(), 0);
  // Upstream down and nothing known: the local view.
  client_.down = true;
  auto local = LocalView(1, true);
  EXPECT_EQ(proxy_->Merge(local), local);
  // Upstream has no such project: the local view.
  client_.down = false;
  FakeClient empty;
  ProxyOptions options;
  options.temp_dir = temp_.path();
  auto proxy = Proxy::Create(*storage_, empty, options);
  EXPECT_EQ(proxy->Merge(local), local);
  EXPECT_EQ(proxy->Merge(nullptr), nullptr);
}

TEST_F(ProxyTest, DeletedLocalFilenamesAreNotMergedBackIn) {
  doc::ProjectDoc doc = LocalView(2, true)->doc;
  doc.deleted_filenames.push_back(kWheel);
  auto merged = proxy_->Merge(index::MakeProjectView(doc));
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->doc.FindFile(kWheel), nullptr);
  EXPECT_NE(merged->doc.FindFile(kOld), nullptr);
}

TEST_F(ProxyTest, SmallCacheStillServes) {
  ProxyOptions options;
  options.temp_dir = temp_.path();
  options.cache_bytes = 1;  // everything is evicted but the entry just used
  options.now_micros = [this] { return now_.load(); };
  auto proxy = Proxy::Create(*storage_, client_, options);
  client_.SetProject("other", {F("other-1.0.tar.gz", "o")}, "\"o1\"");
  ASSERT_NE(MustGet(*proxy, "requests"), nullptr);
  ASSERT_NE(MustGet(*proxy, "other"), nullptr);
  // "requests" was dropped from memory; the stored page is fresh, so no upstream call.
  ASSERT_NE(MustGet(*proxy, "requests"), nullptr);
  EXPECT_EQ(client_.PageCalls(), 2);
}

TEST_F(ProxyTest, UnreadableStoredPageIsFetchedAgainAndOverwritten) {
  const std::string key = *storage::UpstreamPageKey("requests");
  ASSERT_TRUE(storage_->PutIfAbsent(key, "{not json").has_value());
  auto view = MustGet(*proxy_, "requests");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(client_.PageCalls(), 1);
  EXPECT_NE(Stored(key).find(kWheel), std::string::npos);
}

TEST_F(ProxyTest, UsesALocalStoresSpoolDirectory) {
  TempDir root;
  auto local = storage::NewLocalStorage(root.path() / "store");
  ASSERT_TRUE(local.has_value()) << ErrorOf(local);
  ProxyOptions options;  // no temp_dir: the store's own
  auto proxy = Proxy::Create(**local, client_, options);
  auto key = proxy->EnsureFile("requests", kWheel);
  ASSERT_TRUE(key.has_value()) << ErrorOf(key);
  auto object = (*local)->Get(*key);
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ(object->data, "wheel bytes");
}

}  // namespace
}  // namespace pydepot::upstream
