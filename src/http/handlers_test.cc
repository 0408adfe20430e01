#include "http/handlers.h"

#include <sodium.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "auth/auth.h"
#include "base/gzip.h"
#include "base/hash.h"
#include "doc/project.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/index.h"
#include "index/index_test_util.h"
#include "storage/keys.h"
#include "storage/storage.h"

namespace pydepot::http {
namespace {

namespace json = boost::json;
using index::testing::MakeForm;
using index::testing::Metadata;
using index::testing::ReservedPhraseIn;
using index::testing::Sdist;
using index::testing::TempDir;
using index::testing::Wheel;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kWheelName[] = "foo-1.0-py3-none-any.whl";
constexpr char kSdistName[] = "foo-1.0.tar.gz";
constexpr char kJsonType[] = "application/vnd.pypi.simple.v1+json";
constexpr char kHtmlV1Type[] = "application/vnd.pypi.simple.v1+html";
constexpr char kHtmlType[] = "text/html; charset=utf-8";
constexpr char kPipAccept[] =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01";

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string BasicAuth(std::string_view user, std::string_view password) {
  return "Basic " + Base64(std::string(user) + ":" + std::string(password));
}

// A response header's value, or nullopt.
std::optional<std::string> HeaderOf(const Response& res, std::string_view name) {
  for (const auto& [key, value] : res.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return std::nullopt;
}

std::string Header(const Response& res, std::string_view name) {
  return HeaderOf(res, name).value_or("");
}

// The bytes the server would send as the body (a stream is read to its end).
std::string BodyOf(Response& res) {
  if (res.file.valid()) {
    std::string out(static_cast<std::size_t>(res.stream_length), '\0');
    const ssize_t n = ::pread(res.file.get(), out.data(), out.size(), res.file_offset);
    EXPECT_EQ(n, res.stream_length);
    return out;
  }
  if (res.stream) {
    std::string out;
    std::string buffer(4096, '\0');
    while (true) {
      auto n = res.stream->Read(buffer.data(), buffer.size());
      EXPECT_TRUE(n.has_value());
      if (!n.has_value() || *n == 0) {
        break;
      }
      out.append(buffer.data(), *n);
    }
    EXPECT_EQ(static_cast<std::int64_t>(out.size()), res.stream_length);
    return out;
  }
  if (res.page_owner) {
    return std::string(res.page);
  }
  return res.body;
}

auth::AuthenticatorOptions FastAuthOptions() {
  auth::AuthenticatorOptions options;
  options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
  options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
  return options;
}

// One multipart/form-data body: text fields, then the content part (when `filename` is set).
struct MultipartForm {
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::string> filename;
  std::string content;

  std::string Body(std::string_view boundary) const {
    std::string out;
    for (const auto& [name, value] : fields) {
      out.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"");
      out.append(name).append("\"\r\n\r\n").append(value).append("\r\n");
    }
    if (filename) {
      out += "--" + std::string(boundary) +
             "\r\nContent-Disposition: form-data; name=\"content\"; filename=\"" + *filename +
             "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + "\r\n";
    }
    out += "--" + std::string(boundary) + "--\r\n";
    return out;
  }
};

// What twine sends for `filename` holding `bytes`.
MultipartForm TwineForm(const std::string& filename, const std::string& bytes,
                        std::string_view name = "foo", std::string_view version = "1.0") {
  const Digests digests = ComputeDigests(bytes);
  const bool wheel = filename.ends_with(".whl");
  MultipartForm form;
  form.fields = {
      {":action", "file_upload"},
      {"protocol_version", "1"},
      {"metadata_version", "2.1"},
      {"name", std::string(name)},
      {"version", std::string(version)},
      {"filetype", wheel ? "bdist_wheel" : "sdist"},
      {"pyversion", wheel ? "py3" : "source"},
      {"sha256_digest", digests.sha256},
      {"blake2_256_digest", digests.blake2b_256},
      {"requires_python", ""},
  };
  form.filename = filename;
  form.content = bytes;
  return form;
}

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto authenticator = auth::Authenticator::Create(*storage_, FastAuthOptions());
    ASSERT_TRUE(authenticator.has_value()) << authenticator.error();
    auth_ = *std::move(authenticator);
    ASSERT_TRUE(auth_->AddUser("reader", "reader-password", auth::Role::kRead).ok());
    ASSERT_TRUE(auth_->AddUser("uploader", "uploader-password", auth::Role::kUpload).ok());
    ASSERT_TRUE(auth_->AddUser("admin", "admin-password", auth::Role::kAdmin).ok());
    MakeHandlers(HandlerOptions{});
  }

  void MakeHandlers(HandlerOptions options) {
    if (options.temp_dir.empty()) {
      options.temp_dir = spool_.path();
    }
    handlers_ = std::make_unique<Handlers>(*index_, *auth_, std::move(options));
  }

  // Stores foo 1.0 (a wheel and an sdist) through the index.
  void UploadFoo() {
    wheel_ = Wheel("foo", "1.0", Metadata("Foo", "1.0", "Requires-Python: >=3.8\n"));
    sdist_ = Sdist("foo-1.0", Metadata("Foo", "1.0"));
    for (const auto& [filename, bytes] : {std::pair{kWheelName, wheel_}, {kSdistName, sdist_}}) {
      auto outcome = index_->Upload(MakeForm(dir_, filename, bytes, "foo", "1.0"), "uploader");
      ASSERT_TRUE(outcome.has_value()) << outcome.error();
    }
  }

  static RequestHead Head(std::string method, std::string target,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    RequestHead head;
    head.method = std::move(method);
    head.target = std::move(target);
    head.headers = std::move(headers);
    head.remote_address = "127.0.0.1";
    return head;
  }

  // A request as `reader`, with extra headers.
  static RequestHead ReaderGet(std::string target,
                               std::vector<std::pair<std::string, std::string>> headers = {},
                               std::string method = "GET") {
    headers.emplace_back("Authorization", BasicAuth("reader", "reader-password"));
    return Head(std::move(method), std::move(target), std::move(headers));
  }

  Response Get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return handlers_->Handle(ReaderGet(std::move(target), std::move(headers)));
  }

  // Sends `form` as an upload by `user` through BeginUpload / FeedUpload (in small chunks) /
  // FinishUpload, as the server does.
  Response PostUpload(const MultipartForm& form, const std::string& user = "uploader",
                      const std::string& password = "", std::string target = "/legacy/",
                      std::vector<std::pair<std::string, std::string>> extra = {}) {
    const std::string boundary = "----pydepot-test-boundary";
    const std::string body = form.Body(boundary);
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "multipart/form-data; boundary=" + boundary},
        {"Content-Length", std::to_string(body.size())},
    };
    if (!user.empty()) {
      headers.emplace_back("Authorization",
                           BasicAuth(user, password.empty() ? user + "-password" : password));
    }
    for (auto& header : extra) {
      headers.push_back(std::move(header));
    }
    RequestHead head = Head("POST", std::move(target), std::move(headers));
    EXPECT_TRUE(Handlers::IsUpload(head));
    auto start = handlers_->BeginUpload(head);
    if (start.reject) {
      return std::move(*start.reject);
    }
    EXPECT_NE(start.body, nullptr);
    const std::size_t chunk = body.size() > 100000 ? 65536 : 7;  // odd splits, but not slow
    const std::string_view rest = body;
    for (std::size_t i = 0; i < body.size(); i += chunk) {
      if (auto refused = handlers_->FeedUpload(*start.body, rest.substr(i, chunk))) {
        return std::move(*refused);
      }
    }
    return handlers_->FinishUpload(*start.body, head);
  }

  TempDir dir_;
  TempDir spool_;
  std::unique_ptr<storage::Storage> storage_ = storage::NewMemStorage();
  std::unique_ptr<index::Index> index_ = index::Index::Create(*storage_);
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<Handlers> handlers_;
  std::string wheel_;
  std::string sdist_;
};

// Reason phrases go into the status line: printable ASCII only (no CR, LF or UTF-8).
void ExpectSafeReason(const Response& res) {
  for (unsigned char c : res.reason) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in " << res.reason;
  }
}

// --- Authentication ---------------------------------------------------------------------------

TEST_F(HandlersTest, NoCredentialsIs401WithChallenge) {
  UploadFoo();
  for (const char* target : {"/simple/", "/simple/foo/", "/files/foo/foo-1.0.tar.gz",
                             "/files/foo/foo-1.0-py3-none-any.whl.metadata", "/pypi/foo/json"}) {
    SCOPED_TRACE(target);
    Response res = handlers_->Handle(Head("GET", target));
    EXPECT_EQ(res.status, 401U);
    EXPECT_THAT(Header(res, "WWW-Authenticate"), StartsWith("Basic realm=\""));
    EXPECT_EQ(res.stream, nullptr);
  }
  // The pages people visit send them to the login form instead.
  for (const char* target : {"/", "/project/foo/", "/project/foo/1.0/", "/search?q=foo"}) {
    SCOPED_TRACE(target);
    Response res = handlers_->Handle(Head("GET", target));
    EXPECT_EQ(res.status, 303U);
    EXPECT_THAT(Header(res, "Location"), HasSubstr("login?next="));
    EXPECT_TRUE(res.body.find("foo-1.0") == std::string::npos);
  }
}

TEST_F(HandlersTest, BadCredentialsAre401) {
  for (const std::string& authorization :
       {BasicAuth("reader", "wrong-password"), BasicAuth("nobody", "reader-password"),
        std::string("Basic !!!"), std::string("Bearer abc"), BasicAuth("reader", "")}) {
    SCOPED_TRACE(authorization);
    Response res = handlers_->Handle(Head("GET", "/simple/", {{"Authorization", authorization}}));
    EXPECT_EQ(res.status, 401U);
    EXPECT_THAT(Header(res, "WWW-Authenticate"), StartsWith("Basic realm=\""));
    EXPECT_EQ(ReservedPhraseIn(res.reason), "");
  }
  EXPECT_EQ(Get("/simple/").status, 200U);
}

TEST_F(HandlersTest, ReadUserCannotUpload) {
  Response res =
      PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0"))), "reader");
  EXPECT_EQ(res.status, 403U);
  EXPECT_EQ(ReservedPhraseIn(res.body), "");
  EXPECT_EQ(ReservedPhraseIn(res.reason), "");
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
}

TEST_F(HandlersTest, UploadWithoutCredentialsIs401) {
  Response res = PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0"))), "");
  EXPECT_EQ(res.status, 401U);
  EXPECT_THAT(Header(res, "WWW-Authenticate"), StartsWith("Basic realm=\""));
}

TEST_F(HandlersTest, PublicReadAllowsAnonymousReadsOnly) {
  UploadFoo();
  HandlerOptions options;
  options.public_read = true;
  MakeHandlers(options);
  for (const char* target :
       {"/simple/", "/simple/foo/", "/files/foo/foo-1.0.tar.gz", "/pypi/foo/json", "/"}) {
    SCOPED_TRACE(target);
    Response res = handlers_->Handle(Head("GET", target));
    EXPECT_EQ(res.status, 200U);
    // Anonymous answers may be cached publicly; nothing private is in them.
    EXPECT_THAT(Header(res, "Cache-Control"), StartsWith("public"));
  }
  Response upload = PostUpload(
      TwineForm("foo-1.1.tar.gz", Sdist("foo-1.1", Metadata("foo", "1.1")), "foo", "1.1"), "");
  EXPECT_EQ(upload.status, 401U);
  // Wrong credentials are still refused, even where anonymous reads are allowed.
  Response wrong = handlers_->Handle(
      Head("GET", "/simple/", {{"Authorization", BasicAuth("reader", "wrong-password")}}));
  EXPECT_EQ(wrong.status, 401U);
}

// --- Routes -----------------------------------------------------------------------------------

TEST_F(HandlersTest, SimpleRedirects) {
  UploadFoo();
  struct Case {
    const char* target;
    const char* location;
  };
  for (const Case& c : {Case{"/simple", "/simple/"}, Case{"/simple/Foo_Bar/", "/simple/foo-bar/"},
                        Case{"/simple/foo", "/simple/foo/"}, Case{"/simple/FOO", "/simple/foo/"},
                        Case{"/simple/Foo.Bar", "/simple/foo-bar/"}}) {
    SCOPED_TRACE(c.target);
    Response res = Get(c.target);
    EXPECT_EQ(res.status, 301U);
    EXPECT_EQ(Header(res, "Location"), c.location);
  }
  EXPECT_EQ(Get("/simple/foo/").status, 200U);
  EXPECT_EQ(Get("/simple/").status, 200U);
}

TEST_F(HandlersTest, UnknownIs404) {
  UploadFoo();
  for (const char* target :
       {"/simple/does-not-exist/", "/simple/foo/extra/", "/nothing", "/files/foo/nope.whl",
        "/files/bar/foo-1.0.tar.gz", "/pypi/nope/json", "/pypi/foo/9.9/json", "/project/nope/"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(Get(target).status, 404U);
  }
}

TEST_F(HandlersTest, PypiJsonRoutes) {
  UploadFoo();
  struct Case {
    const char* target;
    const char* location;
  };
  for (const Case& c : {Case{"/pypi/Foo/json", "/pypi/foo/json"},
                        Case{"/pypi/Foo_Bar/1.0/json", "/pypi/foo-bar/1.0/json"}}) {
    SCOPED_TRACE(c.target);
    Response res = Get(c.target);
    EXPECT_EQ(res.status, 301U);
    EXPECT_EQ(Header(res, "Location"), c.location);
  }
  for (const char* target :
       {"/pypi/foo/json", "/pypi/foo/json/", "/pypi/foo/1.0/json", "/pypi/foo/1.0.0/json"}) {
    SCOPED_TRACE(target);
    Response res = Get(target);
    EXPECT_EQ(res.status, 200U);
    EXPECT_EQ(Header(res, "Content-Type"), "application/json");
    EXPECT_EQ(Header(res, "X-PyPI-Last-Serial"), "2");
    auto parsed = json::parse(BodyOf(res));
    EXPECT_EQ(parsed.at("info").at("version").as_string(), "1.0");
  }
}

TEST_F(HandlersTest, PypiJsonOfProjectWithoutReleasesIs404) {
  doc::ProjectDoc empty;
  empty.name = "empty";
  empty.display_name = "Empty";
  ASSERT_TRUE(
      storage_->PutIfMatch(*storage::ProjectDocKey("empty"), doc::EncodeProjectDoc(empty), "")
          .has_value());
  EXPECT_EQ(Get("/pypi/empty/json").status, 404U);
  // A project without files or releases is what deleting a project leaves: not found.
  EXPECT_EQ(Get("/simple/empty/").status, 404U);
}

TEST_F(HandlersTest, ReleaseUrlOfPypiJsonIsServed) {
  UploadFoo();
  Response res = Get("/pypi/foo/json");
  ASSERT_EQ(res.status, 200U);
  auto parsed = json::parse(BodyOf(res));
  const std::string release_url(parsed.at("info").at("release_url").as_string());
  const std::string project_url(parsed.at("info").at("project_url").as_string());
  EXPECT_EQ(release_url, "/project/foo/1.0/");
  Response release = Get(release_url);
  EXPECT_EQ(release.status, 200U);
  EXPECT_EQ(Header(release, "Content-Type"), kHtmlType);
  EXPECT_THAT(BodyOf(release), HasSubstr(kWheelName));
  EXPECT_EQ(Get(project_url).status, 200U);

  Response slashless = Get("/project/foo/1.0");
  EXPECT_EQ(slashless.status, 301U);
  EXPECT_EQ(Header(slashless, "Location"), "/project/foo/1.0/");
  Response spelled = Get("/project/Foo/1.0/");
  EXPECT_EQ(spelled.status, 301U);
  EXPECT_EQ(Header(spelled, "Location"), "/project/foo/1.0/");
  EXPECT_EQ(Get("/project/foo/1.0.0/").status, 200U);
  EXPECT_EQ(Get("/project/foo/9.9/").status, 404U);
  EXPECT_EQ(Get("/project/nope/1.0/").status, 404U);
}

TEST_F(HandlersTest, MethodNotAllowed) {
  struct Case {
    const char* method;
    const char* target;
  };
  for (const Case& c :
       {Case{"POST", "/simple/"}, Case{"POST", "/simple/foo/"}, Case{"DELETE", "/simple/foo/"},
        Case{"DELETE", "/files/foo/x.whl"}, Case{"DELETE", "/"}, Case{"PUT", "/legacy/"},
        Case{"DELETE", "/pypi/foo/json"}, Case{"OPTIONS", "/simple/"},
        Case{"PATCH", "/project/foo/"}}) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    RequestHead head = ReaderGet(c.target, {}, c.method);
    EXPECT_FALSE(Handlers::IsUpload(head));
    Response res = handlers_->Handle(head);
    EXPECT_EQ(res.status, 405U);
    const std::string allow = Header(res, "Allow");
    EXPECT_THAT(allow, HasSubstr("GET"));
    EXPECT_THAT(allow, HasSubstr("HEAD"));
    EXPECT_THAT(allow, Not(HasSubstr(c.method)));
  }
  EXPECT_TRUE(Handlers::IsUpload(Head("POST", "/legacy/")));
  EXPECT_TRUE(Handlers::IsUpload(Head("POST", "/legacy")));
  EXPECT_TRUE(Handlers::IsUpload(Head("POST", "/")));
  EXPECT_TRUE(Handlers::IsUpload(Head("POST", "/legacy/?:action=file_upload")));
  EXPECT_FALSE(Handlers::IsUpload(Head("GET", "/legacy/")));
}

// --- Negotiation and conditional requests -----------------------------------------------------

TEST_F(HandlersTest, NegotiationPicksPageAndContentType) {
  UploadFoo();
  auto view = index_->GetProject("foo");
  ASSERT_TRUE(view.has_value());
  auto root = index_->GetRoot();
  ASSERT_TRUE(root.has_value());
  struct Case {
    const char* accept;
    const char* type;
  };
  for (const Case& c :
       {Case{"", kHtmlType}, Case{"*/*", kHtmlType}, Case{"text/html", kHtmlType},
        Case{kPipAccept, kJsonType},
        Case{"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
             "text/html;q=0.01",
             kJsonType},
        Case{"application/vnd.pypi.simple.v1+html", kHtmlV1Type},
        Case{"application/vnd.pypi.simple.latest+json", kJsonType},
        Case{"application/vnd.pypi.simple.latest+html", kHtmlV1Type},
        Case{"application/vnd.pypi.simple.v1+json;q=0, text/html", kHtmlType},
        Case{"application/json", kHtmlType}, Case{"image/png", kHtmlType}}) {
    SCOPED_TRACE(c.accept);
    std::vector<std::pair<std::string, std::string>> headers;
    if (*c.accept != '\0') {
      headers.emplace_back("Accept", c.accept);
    }
    for (const bool project : {true, false}) {
      Response res = Get(project ? "/simple/foo/" : "/simple/", headers);
      ASSERT_EQ(res.status, 200U);
      EXPECT_EQ(Header(res, "Content-Type"), c.type);
      EXPECT_THAT(Header(res, "Vary"), HasSubstr("Accept"));
      EXPECT_FALSE(Header(res, "ETag").empty());
      EXPECT_FALSE(Header(res, "Cache-Control").empty());
      const bool json_page = std::string_view(c.type) == kJsonType;
      const index::Page& page = project ? (json_page ? (*view)->simple_json : (*view)->simple_html)
                                        : (json_page ? (*root)->simple_json : (*root)->simple_html);
      EXPECT_EQ(BodyOf(res), page.body);
      EXPECT_EQ(Header(res, "ETag"), page.etag);
    }
  }
}

TEST_F(HandlersTest, HeadOfPageMatchesGet) {
  UploadFoo();
  for (const char* accept : {"text/html", kPipAccept}) {
    Response get = Get("/simple/foo/", {{"Accept", accept}});
    Response head = handlers_->Handle(ReaderGet("/simple/foo/", {{"Accept", accept}}, "HEAD"));
    EXPECT_EQ(head.status, get.status);
    EXPECT_TRUE(head.head_only);
    EXPECT_FALSE(get.head_only);
    EXPECT_EQ(Header(head, "Content-Type"), Header(get, "Content-Type"));
    EXPECT_EQ(Header(head, "ETag"), Header(get, "ETag"));
    EXPECT_EQ(head.ContentLength(), get.ContentLength());
  }
}

TEST_F(HandlersTest, IfNoneMatchGives304) {
  UploadFoo();
  for (const char* target : {"/simple/", "/simple/foo/", "/pypi/foo/json", "/project/foo/",
                             "/files/foo/foo-1.0.tar.gz"}) {
    SCOPED_TRACE(target);
    Response first = Get(target);
    ASSERT_EQ(first.status, 200U);
    const std::string etag = Header(first, "ETag");
    ASSERT_FALSE(etag.empty());
    for (const std::string& condition : {etag, "W/" + etag, "\"other\", " + etag,
                                         "\"a\",W/" + etag + " , \"b\"", std::string("*")}) {
      SCOPED_TRACE(condition);
      Response res = Get(target, {{"If-None-Match", condition}});
      EXPECT_EQ(res.status, 304U);
      EXPECT_EQ(Header(res, "ETag"), etag);
      EXPECT_EQ(res.ContentLength(), 0);
      EXPECT_EQ(res.stream, nullptr);
    }
    EXPECT_EQ(Get(target, {{"If-None-Match", "\"other\""}}).status, 200U);
  }
  // A change makes the old tag stale.
  const std::string old = Header(Get("/simple/foo/"), "ETag");
  ASSERT_TRUE(index_->Yank("foo", "1.0", "bad").ok());
  Response changed = Get("/simple/foo/", {{"If-None-Match", old}});
  EXPECT_EQ(changed.status, 200U);
  EXPECT_NE(Header(changed, "ETag"), old);
  EXPECT_THAT(BodyOf(changed), HasSubstr("data-yanked=\"bad\""));
}

// --- Files ------------------------------------------------------------------------------------

TEST_F(HandlersTest, FileIsServedExactly) {
  UploadFoo();
  for (const auto& [filename, bytes] : {std::pair{kWheelName, &wheel_}, {kSdistName, &sdist_}}) {
    SCOPED_TRACE(filename);
    Response res = Get(std::string("/files/foo/") + filename, {{"Accept-Encoding", "gzip"}});
    ASSERT_EQ(res.status, 200U);
    EXPECT_EQ(res.ContentLength(), static_cast<std::int64_t>(bytes->size()));
    EXPECT_EQ(BodyOf(res), *bytes);
    EXPECT_THAT(Header(res, "Cache-Control"), HasSubstr("immutable"));
    EXPECT_THAT(Header(res, "Cache-Control"), HasSubstr("max-age="));
    EXPECT_FALSE(HeaderOf(res, "Content-Encoding").has_value());
    EXPECT_EQ(Header(res, "Accept-Ranges"), "bytes");
    EXPECT_EQ(Header(res, "Content-Type"), "application/octet-stream");
    EXPECT_EQ(Header(res, "ETag"), "\"" + ComputeDigests(*bytes).sha256 + "\"");
  }
}

TEST_F(HandlersTest, FileNameIsPercentDecoded) {
  const std::string wheel = Wheel("foo", "1.0+local", Metadata("foo", "1.0+local"));
  const std::string filename = "foo-1.0+local-py3-none-any.whl";
  ASSERT_TRUE(index_->Upload(MakeForm(dir_, filename, wheel, "foo", "1.0+local"), "x").has_value());
  Response encoded = Get("/files/foo/foo-1.0%2Blocal-py3-none-any.whl");
  ASSERT_EQ(encoded.status, 200U);
  EXPECT_EQ(BodyOf(encoded), wheel);
  Response plain = Get("/files/foo/" + filename);
  ASSERT_EQ(plain.status, 200U);
  EXPECT_EQ(BodyOf(plain), wheel);
}

TEST_F(HandlersTest, HeadOfFileDeclaresLengthWithoutBody) {
  UploadFoo();
  Response res = handlers_->Handle(ReaderGet("/files/foo/foo-1.0.tar.gz", {}, "HEAD"));
  ASSERT_EQ(res.status, 200U);
  EXPECT_TRUE(res.head_only);
  EXPECT_EQ(res.stream, nullptr);
  EXPECT_TRUE(res.body.empty());
  EXPECT_EQ(res.ContentLength(), static_cast<std::int64_t>(sdist_.size()));
  EXPECT_EQ(Header(res, "Accept-Ranges"), "bytes");
}

TEST_F(HandlersTest, Ranges) {
  UploadFoo();
  const std::string target = "/files/foo/foo-1.0.tar.gz";
  const std::string size = std::to_string(sdist_.size());
  const std::string etag = "\"" + ComputeDigests(sdist_).sha256 + "\"";

  Response first = Get(target, {{"Range", "bytes=0-9"}});
  ASSERT_EQ(first.status, 206U);
  EXPECT_EQ(Header(first, "Content-Range"), "bytes 0-9/" + size);
  EXPECT_EQ(first.ContentLength(), 10);
  EXPECT_EQ(BodyOf(first), sdist_.substr(0, 10));

  Response suffix = Get(target, {{"Range", "bytes=-5"}});
  ASSERT_EQ(suffix.status, 206U);
  EXPECT_EQ(Header(suffix, "Content-Range"), "bytes " + std::to_string(sdist_.size() - 5) + "-" +
                                                 std::to_string(sdist_.size() - 1) + "/" + size);
  EXPECT_EQ(BodyOf(suffix), sdist_.substr(sdist_.size() - 5));

  Response open_ended = Get(target, {{"Range", "bytes=10-"}});
  ASSERT_EQ(open_ended.status, 206U);
  EXPECT_EQ(BodyOf(open_ended), sdist_.substr(10));

  Response beyond = Get(target, {{"Range", "bytes=5-100000000"}});
  ASSERT_EQ(beyond.status, 206U);
  EXPECT_EQ(BodyOf(beyond), sdist_.substr(5));

  Response unsatisfiable = Get(target, {{"Range", "bytes=100000-"}});
  EXPECT_EQ(unsatisfiable.status, 416U);
  EXPECT_EQ(Header(unsatisfiable, "Content-Range"), "bytes */" + size);
  EXPECT_EQ(unsatisfiable.stream, nullptr);

  // If-Range: a matching validator gives the range, anything else the whole file.
  Response matching = Get(target, {{"Range", "bytes=0-9"}, {"If-Range", etag}});
  EXPECT_EQ(matching.status, 206U);
  for (const std::string& validator :
       {std::string("\"stale\""), "W/" + etag, std::string("Wed, 21 Oct 2015 07:28:00 GMT")}) {
    SCOPED_TRACE(validator);
    Response full = Get(target, {{"Range", "bytes=0-9"}, {"If-Range", validator}});
    EXPECT_EQ(full.status, 200U);
    EXPECT_FALSE(HeaderOf(full, "Content-Range").has_value());
    EXPECT_EQ(BodyOf(full), sdist_);
  }

  // Multi-range and malformed ranges: the whole file.
  for (const char* range : {"bytes=0-1,5-6", "bytes=5-2", "bytes=abc", "items=0-1", "bytes=-",
                            "bytes=--1", "bytes=1-2-3"}) {
    SCOPED_TRACE(range);
    Response full = Get(target, {{"Range", range}});
    EXPECT_EQ(full.status, 200U);
    EXPECT_EQ(BodyOf(full), sdist_);
  }

  // HEAD with a range declares the range's length.
  Response head = handlers_->Handle(ReaderGet(target, {{"Range", "bytes=0-9"}}, "HEAD"));
  EXPECT_EQ(head.status, 206U);
  EXPECT_EQ(head.ContentLength(), 10);
}

TEST_F(HandlersTest, MetadataForWheelsOnly) {
  UploadFoo();
  Response res = Get("/files/foo/foo-1.0-py3-none-any.whl.metadata");
  ASSERT_EQ(res.status, 200U);
  const std::string metadata = Metadata("Foo", "1.0", "Requires-Python: >=3.8\n");
  EXPECT_EQ(BodyOf(res), metadata);
  EXPECT_EQ(Header(res, "ETag"), "\"" + Sha256Hex(metadata) + "\"");
  EXPECT_EQ(res.ContentLength(), static_cast<std::int64_t>(metadata.size()));

  Response head =
      handlers_->Handle(ReaderGet("/files/foo/foo-1.0-py3-none-any.whl.metadata", {}, "HEAD"));
  EXPECT_EQ(head.ContentLength(), static_cast<std::int64_t>(metadata.size()));

  EXPECT_EQ(Get("/files/foo/foo-1.0.tar.gz.metadata").status, 404U);
  EXPECT_EQ(Get("/files/foo/nope-1.0-py3-none-any.whl.metadata").status, 404U);
  EXPECT_THAT(Get("/files/foo/.metadata").status, AnyOf(400U, 404U));
}

TEST_F(HandlersTest, PathTraversalNeverReachesStoreInternals) {
  UploadFoo();
  // A project called "index" and one called "auth": their files are served, nothing else.
  ASSERT_TRUE(index_
                  ->Upload(MakeForm(dir_, "index-1.0.tar.gz",
                                    Sdist("index-1.0", Metadata("index", "1.0")), "index", "1.0"),
                           "x")
                  .has_value());
  const std::string users = storage_->Get(storage::UsersKey())->data;
  const std::string project_doc = storage_->Get(*storage::ProjectDocKey("foo"))->data;
  const std::string project_list = storage_->Get(storage::ProjectListKey())->data;
  for (const char* target : {
           "/files/foo/..%2F..%2Fetc%2Fpasswd",
           "/files/../index/projects.json",
           "/files/foo/%00",
           "/files/foo/foo-1.0.tar.gz%00",
           "/files/foo/foo-1.0.tar.gz%00.metadata",
           "/files/index/projects.json",
           "/files/index/projects/foo.json",
           "/files/index/projects",
           "/files/auth/users.json",
           "/files/foo/..%2F..%2Findex%2Fprojects%2Ffoo.json",
           "/files/foo/%2e%2e/x",
           "/files/foo/%2E%2E",
           "/files/%2e%2e/auth/users.json",
           "/files/%2e%2e/%2e%2e/auth/users.json",
           "/files//foo/foo-1.0.tar.gz",
           "/files/foo/./foo-1.0.tar.gz",
           "/files/foo/..",
           "/files/foo/x%2",
           "/files/foo/x%zz",
           "/files/foo/x%-1",
           "/files/foo/x%+1",
           "/files/foo/foo-1.0.tar.gz/",
           "/files/foo/foo-1.0.tar.gz/..",
           "/files/Foo/foo-1.0.tar.gz",
           "/files/index/..%2fprojects.json",
           "/files/index/projects.json.metadata",
           "/simple/../auth/users.json",
           "/simple/%2e%2e/",
           "/pypi/..%2Fauth/json",
           "/project/../auth/",
       }) {
    SCOPED_TRACE(target);
    for (const char* method : {"GET", "HEAD"}) {
      Response res = handlers_->Handle(ReaderGet(target, {}, method));
      EXPECT_GE(res.status, 300U);
      EXPECT_LT(res.status, 500U);
      const std::string body = BodyOf(res);
      EXPECT_THAT(body, Not(HasSubstr("argon2id")));
      EXPECT_NE(body, users);
      EXPECT_NE(body, project_doc);
      EXPECT_NE(body, project_list);
      if (res.status == 301U) {
        // Redirects stay on normalized, encoded paths: no traversal there either.
        EXPECT_THAT(Header(res, "Location"), Not(HasSubstr("/../")));
      }
    }
  }
  EXPECT_EQ(Get("/files/index/index-1.0.tar.gz").status, 200U);
}

TEST_F(HandlersTest, MalformedTargets) {
  for (const char* target : {"", "*", "simple/", "http://host/simple/"}) {
    SCOPED_TRACE(target);
    Response res = Get(target);
    EXPECT_EQ(res.status, 400U);
    ExpectSafeReason(res);
  }
}

// --- Uploads ----------------------------------------------------------------------------------

TEST_F(HandlersTest, UploadThroughTheBodyStream) {
  const std::string sdist = Sdist("foo-1.0", Metadata("Foo", "1.0"));
  Response res = PostUpload(TwineForm(kSdistName, sdist));
  ASSERT_EQ(res.status, 200U) << res.body;
  EXPECT_TRUE(res.reason.empty());
  EXPECT_EQ(res.stream, nullptr);

  // Listed at once, with its hash (uv --check-url relies on it).
  Response page = Get("/simple/foo/", {{"Accept", kPipAccept}});
  ASSERT_EQ(page.status, 200U);
  EXPECT_THAT(BodyOf(page), HasSubstr(ComputeDigests(sdist).sha256));
  Response file = Get("/files/foo/foo-1.0.tar.gz");
  ASSERT_EQ(file.status, 200U);
  EXPECT_EQ(BodyOf(file), sdist);
  // The spool directory is left empty.
  EXPECT_TRUE(std::filesystem::is_empty(spool_.path()));

  // The same bytes again: 200, nothing changes.
  const std::string etag = Header(page, "ETag");
  Response again = PostUpload(TwineForm(kSdistName, sdist));
  EXPECT_EQ(again.status, 200U) << again.body;
  EXPECT_EQ(Header(Get("/simple/foo/", {{"Accept", kPipAccept}}), "ETag"), etag);

  // Other bytes under the same name: 400 "File already exists" in reason and body.
  Response other = PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("Foo", "1.0"), "x")));
  EXPECT_EQ(other.status, 400U);
  EXPECT_THAT(other.reason, StartsWith("File already exists"));
  EXPECT_THAT(other.body, StartsWith("File already exists"));
}

TEST_F(HandlersTest, UploadToEveryUploadPath) {
  int n = 0;
  for (const char* target : {"/", "/legacy", "/legacy/", "/legacy/?x=1"}) {
    SCOPED_TRACE(target);
    const std::string version = "1." + std::to_string(n++);
    Response res =
        PostUpload(TwineForm("foo-" + version + ".tar.gz",
                             Sdist("foo-" + version, Metadata("foo", version)), "foo", version),
                   "uploader", "", target);
    EXPECT_EQ(res.status, 200U) << res.body;
  }
}

TEST_F(HandlersTest, ActionDispatch) {
  const std::string sdist = Sdist("foo-1.0", Metadata("foo", "1.0"));
  MultipartForm missing = TwineForm(kSdistName, sdist);
  missing.fields.erase(missing.fields.begin());  // :action
  Response res = PostUpload(missing);
  EXPECT_EQ(res.status, 400U);
  EXPECT_THAT(res.body, HasSubstr(":action"));

  // :action in the query string is accepted.
  Response query = PostUpload(missing, "uploader", "", "/legacy/?:action=file_upload");
  EXPECT_EQ(query.status, 200U) << query.body;

  for (const char* action : {"submit", "submit_pkg_info", "doc_upload"}) {
    SCOPED_TRACE(action);
    MultipartForm form = TwineForm(kSdistName, sdist);
    form.fields[0].second = action;
    Response gone = PostUpload(form);
    EXPECT_EQ(gone.status, 410U);
    EXPECT_EQ(ReservedPhraseIn(gone.body), "");
  }
  MultipartForm unknown = TwineForm(kSdistName, sdist);
  unknown.fields[0].second = "remove_pkg";
  EXPECT_EQ(PostUpload(unknown).status, 400U);
}

TEST_F(HandlersTest, OversizedUploadIsRefusedBeforeTheBody) {
  HandlerOptions options;
  options.max_upload_bytes = 1000;
  MakeHandlers(options);
  RequestHead head = Head("POST", "/legacy/",
                          {{"Content-Type", "multipart/form-data; boundary=xyz"},
                           {"Content-Length", std::to_string(1000 + (1 << 20) + 1)},
                           {"Authorization", BasicAuth("uploader", "uploader-password")}});
  auto start = handlers_->BeginUpload(head);
  ASSERT_TRUE(start.reject.has_value());
  EXPECT_EQ(start.body, nullptr);
  EXPECT_EQ(start.reject->status, 413U);
  ExpectSafeReason(*start.reject);
  EXPECT_EQ(ReservedPhraseIn(start.reject->body), "");

  // Without a Content-Length (chunked), the limit holds as the body arrives.
  RequestHead chunked = Head("POST", "/legacy/",
                             {{"Content-Type", "multipart/form-data; boundary=xyz"},
                              {"Transfer-Encoding", "chunked"},
                              {"Authorization", BasicAuth("uploader", "uploader-password")}});
  auto streaming = handlers_->BeginUpload(chunked);
  ASSERT_FALSE(streaming.reject.has_value());
  ASSERT_NE(streaming.body, nullptr);
  std::optional<Response> refused;
  const std::string chunk =
      "--xyz\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + std::string(64 << 10, 'a');
  for (int i = 0; i < 64 && !refused; ++i) {
    refused = handlers_->FeedUpload(*streaming.body, i == 0 ? chunk : std::string(64 << 10, 'a'));
  }
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 413U);
  EXPECT_THAT(refused->reason, StartsWith("File too large."));
}

TEST_F(HandlersTest, AuthIsCheckedBeforeSize) {
  HandlerOptions options;
  options.max_upload_bytes = 1000;
  MakeHandlers(options);
  auto start = handlers_->BeginUpload(Head(
      "POST", "/legacy/",
      {{"Content-Type", "multipart/form-data; boundary=xyz"}, {"Content-Length", "99999999"}}));
  ASSERT_TRUE(start.reject.has_value());
  EXPECT_EQ(start.reject->status, 401U);
}

TEST_F(HandlersTest, NonMultipartUploadIs400) {
  for (const char* type : {"application/x-www-form-urlencoded", "", "multipart/form-data",
                           "multipart/mixed; boundary=x", "text/plain"}) {
    SCOPED_TRACE(type);
    auto start = handlers_->BeginUpload(
        Head("POST", "/legacy/",
             {{"Content-Type", type},
              {"Content-Length", "10"},
              {"Authorization", BasicAuth("uploader", "uploader-password")}}));
    ASSERT_TRUE(start.reject.has_value());
    EXPECT_EQ(start.reject->status, 400U);
    ExpectSafeReason(*start.reject);
  }
  for (const char* length : {"-1", "abc", "1e3", "99999999999999999999999"}) {
    SCOPED_TRACE(length);
    auto start = handlers_->BeginUpload(
        Head("POST", "/legacy/",
             {{"Content-Type", "multipart/form-data; boundary=x"},
              {"Content-Length", length},
              {"Authorization", BasicAuth("uploader", "uploader-password")}}));
    ASSERT_TRUE(start.reject.has_value());
    EXPECT_EQ(start.reject->status, 400U);
  }
}

TEST_F(HandlersTest, JsonErrorsWhenPreferred) {
  MultipartForm form = TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0")));
  form.fields[3].second = "-bad-";  // name
  for (const char* accept : {"application/json",
                             "application/json;q=0.9, text/plain;q=0.8, "
                             "text/html;q=0.7"}) {
    SCOPED_TRACE(accept);
    Response res = PostUpload(form, "uploader", "", "/legacy/", {{"Accept", accept}});
    ASSERT_EQ(res.status, 400U);
    EXPECT_EQ(Header(res, "Content-Type"), "application/json");
    auto parsed = json::parse(res.body).as_object();
    EXPECT_THAT(std::string(parsed.at("message").as_string()),
                HasSubstr("is an invalid value for Name"));
    EXPECT_THAT(std::string(parsed.at("code").as_string()), StartsWith("400 "));
    EXPECT_EQ(parsed.at("title").as_string(), "Bad Request");
    EXPECT_THAT(res.reason, HasSubstr("is an invalid value for Name"));
  }
  Response text = PostUpload(form, "uploader", "", "/legacy/", {{"Accept", "text/plain"}});
  EXPECT_EQ(text.status, 400U);
  EXPECT_THAT(Header(text, "Content-Type"), StartsWith("text/plain"));

  // Errors before the body is read (auth, size) and while it is read follow the same rule.
  auto start =
      handlers_->BeginUpload(Head("POST", "/legacy/",
                                  {{"Content-Type", "text/plain"},
                                   {"Accept", "application/json"},
                                   {"Authorization", BasicAuth("uploader", "uploader-password")}}));
  ASSERT_TRUE(start.reject.has_value());
  EXPECT_EQ(Header(*start.reject, "Content-Type"), "application/json");
  RequestHead head = Head("POST", "/legacy/",
                          {{"Content-Type", "multipart/form-data; boundary=xyz"},
                           {"Accept", "application/json"},
                           {"Authorization", BasicAuth("uploader", "uploader-password")}});
  auto streaming = handlers_->BeginUpload(head);
  ASSERT_NE(streaming.body, nullptr);
  auto refused = handlers_->FeedUpload(*streaming.body, "--xyz\r\nNo-Disposition: x\r\n\r\n");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 400U);
  EXPECT_EQ(Header(*refused, "Content-Type"), "application/json");
}

TEST_F(HandlersTest, ReasonPhrasesAreSafe) {
  std::vector<Response> responses;
  for (const char* name : {"f\xc3\xb6", "foo\r\nX-Injected: 1", "foo\n", "a\tb", "\x7f"}) {
    MultipartForm form = TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0")));
    form.fields[3].second = name;
    responses.push_back(PostUpload(form));
  }
  MultipartForm bad_version = TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0")));
  bad_version.fields[4].second = "1.0\r\n\r\n<html>";
  responses.push_back(PostUpload(bad_version));
  responses.push_back(ErrorResponse(400, std::string(1000, 'x') + "\r\n\xe2\x82\xac"));
  for (const Response& res : responses) {
    EXPECT_GE(res.status, 400U);
    EXPECT_FALSE(res.reason.empty());
    ExpectSafeReason(res);
    EXPECT_LE(res.reason.size(), 400U);
  }
}

TEST_F(HandlersTest, Up14NoOtherUploadErrorReadsAsAlreadyExists) {
  ASSERT_EQ(PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0")))).status,
            200U);
  const std::string wheel = Wheel("foo", "2.0", Metadata("foo", "2.0"));
  std::vector<MultipartForm> forms;
  for (const std::string& phrase : index::testing::ReservedPhrases()) {
    MultipartForm version = TwineForm("foo-2.0-py3-none-any.whl", wheel, "foo", "2.0");
    version.fields[4].second = "2.0 " + phrase;
    forms.push_back(version);
    MultipartForm action = version;
    action.fields[0].second = phrase;
    forms.push_back(action);
    MultipartForm field = TwineForm("foo-2.0-py3-none-any.whl", wheel, "foo", "2.0");
    field.fields.emplace_back(phrase, std::string(5 << 20, 'x'));  // too large a field
    forms.push_back(field);
  }
  forms.push_back(TwineForm("foo-1.0.zip", "zip", "foo", "1.0"));  // second sdist
  forms.push_back(TwineForm("foo-2.0.tar.gz", "not a tar"));       // version mismatch
  for (const MultipartForm& form : forms) {
    for (const char* user : {"uploader", "reader", "nobody"}) {
      Response res = PostUpload(form, user);
      EXPECT_GE(res.status, 400U);
      EXPECT_NE(res.status, 409U);
      EXPECT_EQ(ReservedPhraseIn(res.reason), "") << res.reason;
      EXPECT_EQ(ReservedPhraseIn(res.body), "") << res.body.substr(0, 200);
    }
  }
  // Multipart framing errors, fed straight in.
  for (const std::string& phrase : index::testing::ReservedPhrases()) {
    auto start = handlers_->BeginUpload(
        Head("POST", "/legacy/",
             {{"Content-Type", "multipart/form-data; boundary=xyz"},
              {"Authorization", BasicAuth("uploader", "uploader-password")}}));
    ASSERT_NE(start.body, nullptr);
    auto refused =
        handlers_->FeedUpload(*start.body, "--xyz\r\nContent-Disposition: form-data; name=\"" +
                                               phrase + "\"; name=\"x\"\r\n\r\nv\r\n--xyz--\r\n");
    Response res = refused ? std::move(*refused)
                           : handlers_->FinishUpload(*start.body, Head("POST", "/legacy/"));
    EXPECT_GE(res.status, 400U);
    EXPECT_EQ(ReservedPhraseIn(res.reason), "") << res.reason;
    EXPECT_EQ(ReservedPhraseIn(res.body), "") << res.body;
  }
}

TEST_F(HandlersTest, ServerFailuresDoNotLeakDetails) {
  HandlerOptions options;
  options.temp_dir = "/nonexistent-pydepot-spool/dir";
  MakeHandlers(options);
  Response res = PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0"))));
  EXPECT_GE(res.status, 500U);
  EXPECT_THAT(res.body, Not(HasSubstr("nonexistent-pydepot-spool")));
  EXPECT_THAT(res.reason, Not(HasSubstr("nonexistent-pydepot-spool")));
}

TEST_F(HandlersTest, HttpStatusMapping) {
  EXPECT_EQ(HttpStatusFor(OkStatus()), 200U);
  EXPECT_EQ(HttpStatusFor(InvalidArgumentError("x")), 400U);
  EXPECT_EQ(HttpStatusFor(AlreadyExistsError("x")), 400U);  // never 409 (UP-14)
  EXPECT_EQ(HttpStatusFor(FailedPreconditionError("x")), 400U);
  EXPECT_EQ(HttpStatusFor(UnauthenticatedError("x")), 401U);
  EXPECT_EQ(HttpStatusFor(PermissionDeniedError("x")), 403U);
  EXPECT_EQ(HttpStatusFor(NotFoundError("x")), 404U);
  EXPECT_EQ(HttpStatusFor(UnavailableError("x")), 503U);
  EXPECT_EQ(HttpStatusFor(InternalError("x")), 500U);
}

// --- Performance paths: gzip, answers from memory, local files ------------------------------

TEST_F(HandlersTest, PagesAreGzippedWhenTheClientAcceptsIt) {
  // Enough releases that the page is worth compressing.
  for (int i = 0; i < 30; ++i) {
    const std::string version = "1." + std::to_string(i);
    auto outcome =
        index_->Upload(MakeForm(dir_, "foo-" + version + ".tar.gz",
                                Sdist("foo-" + version, Metadata("Foo", version)), "foo", version),
                       "uploader");
    ASSERT_TRUE(outcome.has_value()) << outcome.error();
  }
  Response plain = Get("/simple/foo/");
  ASSERT_EQ(plain.status, 200U);
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  EXPECT_THAT(Header(plain, "Vary"), HasSubstr("Accept-Encoding"));
  const std::string identity = BodyOf(plain);

  Response packed = Get("/simple/foo/", {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_EQ(packed.status, 200U);
  EXPECT_EQ(Header(packed, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(packed, "Content-Type"), Header(plain, "Content-Type"));
  EXPECT_THAT(Header(packed, "Vary"), HasSubstr("Accept-Encoding"));
  EXPECT_NE(Header(packed, "ETag"), Header(plain, "ETag")) << "another representation";
  const std::string compressed = BodyOf(packed);
  EXPECT_LT(compressed.size(), identity.size());
  auto unpacked = GzipDecompress(compressed, identity.size());
  ASSERT_TRUE(unpacked.has_value());
  EXPECT_EQ(*unpacked, identity);

  Response again =
      Get("/simple/foo/", {{"Accept-Encoding", "gzip"}, {"If-None-Match", Header(packed, "ETag")}});
  EXPECT_EQ(again.status, 304U);
  Response refused = Get("/simple/foo/", {{"Accept-Encoding", "gzip;q=0"}});
  EXPECT_EQ(Header(refused, "Content-Encoding"), "");

  // The root list and the JSON form too.
  Response json = Get("/simple/foo/", {{"Accept", kJsonType}, {"Accept-Encoding", "gzip"}});
  EXPECT_EQ(Header(json, "Content-Encoding"), "gzip");
  auto parsed = json::parse(*GzipDecompress(BodyOf(json), 1 << 20));
  EXPECT_EQ(parsed.at("name"), "foo");
}

TEST_F(HandlersTest, InMemoryAnswersOnlyWhatNeedsNoStoreAndNoHash) {
  UploadFoo();
  // The index cached foo when it stored it; the reader's password was never verified.
  EXPECT_EQ(handlers_->TryHandleInMemory(ReaderGet("/simple/foo/")), std::nullopt);
  Response verified = Get("/simple/foo/");
  ASSERT_EQ(verified.status, 200U);
  auto fast = handlers_->TryHandleInMemory(ReaderGet("/simple/foo/"));
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->status, 200U);
  EXPECT_EQ(BodyOf(*fast), BodyOf(verified));
  EXPECT_EQ(Header(*fast, "ETag"), Header(verified, "ETag"));
  // A wrong password is never decided from memory (it costs a full hash on the slow path).
  EXPECT_EQ(handlers_->TryHandleInMemory(Head(
                "GET", "/simple/foo/", {{"Authorization", BasicAuth("reader", "wrong-password")}})),
            std::nullopt);
  // Refusals that need nothing are answered at once.
  auto anonymous = handlers_->TryHandleInMemory(Head("GET", "/simple/foo/"));
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401U);
  // A project never asked for is not in memory; once asked, its absence is.
  EXPECT_EQ(handlers_->TryHandleInMemory(ReaderGet("/simple/nothing/")), std::nullopt);
  EXPECT_EQ(Get("/simple/nothing/").status, 404U);
  auto missing = handlers_->TryHandleInMemory(ReaderGet("/simple/nothing/"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404U);
  // Files of a store without local paths need the store.
  EXPECT_EQ(handlers_->TryHandleInMemory(ReaderGet(std::string("/files/foo/") + kSdistName)),
            std::nullopt);
}

TEST(HandlersLocalStoreTest, FilesAreSentFromAnOpenDescriptorWithRanges) {
  TempDir root;
  TempDir dir;
  auto storage = storage::NewLocalStorage(root.path());
  ASSERT_TRUE(storage.has_value()) << storage.error();
  auto index = index::Index::Create(**storage);
  auto authenticator = auth::Authenticator::Create(**storage, FastAuthOptions());
  ASSERT_TRUE(authenticator.has_value());
  HandlerOptions options;
  options.public_read = true;
  options.temp_dir = dir.path();
  Handlers handlers(*index, **authenticator, options);
  const std::string sdist = Sdist("foo-1.0", Metadata("Foo", "1.0"));
  auto outcome = index->Upload(MakeForm(dir, kSdistName, sdist, "foo", "1.0"), "uploader");
  ASSERT_TRUE(outcome.has_value()) << outcome.error();

  RequestHead get;
  get.method = "GET";
  get.target = std::string("/files/foo/") + kSdistName;
  auto whole = handlers.TryHandleInMemory(get);
  ASSERT_TRUE(whole.has_value()) << "a local file needs no store round trip";
  ASSERT_EQ(whole->status, 200U);
  EXPECT_TRUE(whole->file.valid());
  EXPECT_EQ(whole->stream, nullptr);
  EXPECT_EQ(whole->ContentLength(), static_cast<std::int64_t>(sdist.size()));
  EXPECT_EQ(BodyOf(*whole), sdist);

  get.headers = {{"Range", "bytes=10-19"}};
  Response part = handlers.Handle(get);
  ASSERT_EQ(part.status, 206U);
  EXPECT_EQ(part.file_offset, 10);
  EXPECT_EQ(part.ContentLength(), 10);
  EXPECT_EQ(BodyOf(part), sdist.substr(10, 10));

  get.method = "HEAD";
  get.headers.clear();
  Response head = handlers.Handle(get);
  EXPECT_EQ(head.status, 200U);
  EXPECT_FALSE(head.file.valid());
  EXPECT_EQ(head.ContentLength(), static_cast<std::int64_t>(sdist.size()));
}

// --- Hostile input ----------------------------------------------------------------------------

TEST_F(HandlersTest, HostilePathsAre400WithAReason) {
  UploadFoo();
  struct Case {
    const char* target;
    const char* reason;
  };
  for (const Case& c : {
           Case{"/simple/foo%01/", "control characters"},
           Case{"/simple/foo%00/", "control characters"},
           Case{"/simple/foo%7f/", "control characters"},
           Case{"/files/foo/foo-1.0.tar.gz%0d%0aX-Injected:%201", "control characters"},
           Case{"/files/foo/..%5c..%5cauth%5cusers.json", "'\\'"},
           Case{"/files/foo/..\\..\\auth\\users.json", "'\\'"},
           Case{"/files/foo/..%2f..%2fauth%2fusers.json", "encoded '/'"},
           Case{"/files/foo/..%2F..%2Fauth%2Fusers.json", "encoded '/'"},
           Case{"/simple/%ff%fe/", "UTF-8"},
           Case{"/simple/%c0%af/", "UTF-8"},     // an overlong '/'
           Case{"/simple/%ed%a0%80/", "UTF-8"},  // a surrogate
           Case{"/simple/%e2%82/", "UTF-8"},     // truncated
           Case{"/simple/%2e%2e/", "'..'"},
           Case{"/files/foo/%2E%2E", "'..'"},
           Case{"/files/foo/.", "'.'"},
           Case{"//etc/passwd", "empty segment"},
           Case{"/files//foo/foo-1.0.tar.gz", "empty segment"},
           Case{"/simple/x%2", "%XX"},
           Case{"/simple/x%g0/", "%XX"},
       }) {
    SCOPED_TRACE(c.target);
    for (const char* method : {"GET", "HEAD"}) {
      Response res = handlers_->Handle(ReaderGet(c.target, {}, method));
      EXPECT_EQ(res.status, 400U);
      EXPECT_THAT(res.reason, HasSubstr("Malformed path"));
      EXPECT_THAT(res.reason, HasSubstr(c.reason));
      ExpectSafeReason(res);
      EXPECT_EQ(res.stream, nullptr);
      EXPECT_FALSE(res.file.valid());
    }
  }
  // Valid UTF-8 that names nothing is simply not found.
  EXPECT_THAT(Get("/simple/caf%c3%a9/").status, AnyOf(301U, 404U));
  EXPECT_THAT(Get("/pypi/caf%c3%a9/json").status, AnyOf(301U, 404U));
}

TEST_F(HandlersTest, OverlongNamesInUrlsAre4xxWithABoundedReason) {
  UploadFoo();
  const std::string name(5000, 'a');
  for (const std::string& target :
       {"/simple/" + name + "/", "/pypi/" + name + "/json", "/files/" + name + "/x.whl",
        "/files/foo/" + name + ".whl", "/project/" + name + "/"}) {
    SCOPED_TRACE(target.substr(0, 40));
    Response res = Get(target);
    EXPECT_GE(res.status, 400U);
    EXPECT_LT(res.status, 500U);
    EXPECT_LE(res.reason.size(), 400U);
    ExpectSafeReason(res);
  }
}

TEST_F(HandlersTest, ConflictingRepeatsOfSingleValuedFieldsAreRefused) {
  const std::string sdist = Sdist("foo-1.0", Metadata("foo", "1.0"));
  for (const char* field : {"name", "version", "filetype", "pyversion", "sha256_digest", ":action",
                            "metadata_version", "requires_python"}) {
    SCOPED_TRACE(field);
    MultipartForm form = TwineForm(kSdistName, sdist);
    form.fields.emplace_back(field, std::string(field) == "requires_python" ? ">=3" : "other");
    // requires_python is sent empty by twine: add a second non-empty one to conflict.
    if (std::string(field) == "requires_python") {
      form.fields.emplace_back(field, ">=3.8");
    }
    Response res = PostUpload(form);
    EXPECT_EQ(res.status, 400U) << res.body;
    EXPECT_THAT(res.body, HasSubstr(std::string("Field '") + field + "'"));
    EXPECT_THAT(res.body, HasSubstr("more than once"));
    EXPECT_EQ(ReservedPhraseIn(res.body), "");
  }
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  // The same value twice, or an empty repeat, is harmless.
  MultipartForm same = TwineForm(kSdistName, sdist);
  same.fields.emplace_back("name", "foo");
  same.fields.emplace_back("version", "");
  same.fields.emplace_back("requires_python", "");
  Response ok = PostUpload(same);
  EXPECT_EQ(ok.status, 200U) << ok.body;
}

TEST_F(HandlersTest, MissingFieldsAreNamed) {
  const std::string sdist = Sdist("foo-1.0", Metadata("foo", "1.0"));
  struct Case {
    const char* field;
    const char* message;
  };
  for (const Case& c : {Case{"name", "invalid value for Name. Error: This field is required."},
                        Case{"version", "invalid value for Version. Error: This field is required"},
                        Case{"filetype", "Use a known file type."}}) {
    SCOPED_TRACE(c.field);
    MultipartForm form = TwineForm(kSdistName, sdist);
    std::erase_if(form.fields, [&](const auto& f) { return f.first == c.field; });
    Response res = PostUpload(form);
    EXPECT_EQ(res.status, 400U);
    EXPECT_THAT(res.body, HasSubstr(c.message));
  }
}

// --- Caching of authenticated answers -------------------------------------------------------

TEST_F(HandlersTest, AuthenticatedAnswersArePrivateAndErrorsAreNotStored) {
  UploadFoo();
  const std::string etag = Header(Get("/files/foo/foo-1.0.tar.gz"), "ETag");
  std::vector<std::pair<std::string, Response>> answers;
  for (const char* target :
       {"/simple/", "/simple/foo/", "/simple/Foo/", "/simple", "/", "/project/foo/",
        "/pypi/foo/json", "/pypi/foo/1.0/json", "/files/foo/foo-1.0.tar.gz",
        "/files/foo/foo-1.0-py3-none-any.whl.metadata", "/simple/nope/", "/files/foo/nope.whl",
        "/simple/%00/", "/nothing"}) {
    answers.emplace_back(target, Get(target));
  }
  answers.emplace_back("304", Get("/files/foo/foo-1.0.tar.gz", {{"If-None-Match", etag}}));
  answers.emplace_back("206", Get("/files/foo/foo-1.0.tar.gz", {{"Range", "bytes=0-9"}}));
  answers.emplace_back("416", Get("/files/foo/foo-1.0.tar.gz", {{"Range", "bytes=99999-"}}));
  answers.emplace_back(
      "401", handlers_->Handle(Head("GET", "/simple/", {{"Authorization", BasicAuth("x", "y")}})));
  answers.emplace_back("405", handlers_->Handle(ReaderGet("/simple/", {}, "DELETE")));
  answers.emplace_back(
      "403", PostUpload(TwineForm(kSdistName, Sdist("foo-1.0", Metadata("foo", "1.0"))), "reader"));
  for (const auto& [what, res] : answers) {
    SCOPED_TRACE(what);
    const std::string cache_control = Header(res, "Cache-Control");
    EXPECT_THAT(cache_control, HasSubstr("private"));
    EXPECT_THAT(cache_control, Not(HasSubstr("public")));
    if (res.status >= 400) {
      EXPECT_THAT(cache_control, HasSubstr("no-store"));
    }
  }
  EXPECT_EQ(Header(ErrorResponse(404, "x"), "Cache-Control"), "private, no-store");
}

// --- Brute-force throttling -----------------------------------------------------------------

// Counts the password checks that reach the authenticator (each a full argon2id verify unless
// the credential is remembered).
class CountingAuthenticator final : public auth::Authenticator {
 public:
  explicit CountingAuthenticator(auth::Authenticator& inner) : inner_(inner) {}
  StatusOr<auth::Access> Authenticate(std::string_view user, std::string_view password) override {
    ++checks;
    return inner_.Authenticate(user, password);
  }
  std::optional<StatusOr<auth::Access>> AuthenticateCached(std::string_view user,
                                                           std::string_view password) override {
    ++cached_checks;
    return inner_.AuthenticateCached(user, password);
  }
  StatusOr<std::string> StartSession(std::string_view user, std::string_view password,
                                     std::chrono::seconds lifetime) override {
    ++checks;
    return inner_.StartSession(user, password, lifetime);
  }
  StatusOr<auth::Access> AuthenticateSession(std::string_view cookie) override {
    return inner_.AuthenticateSession(cookie);
  }
  std::optional<StatusOr<auth::Access>> AuthenticateSessionCached(
      std::string_view cookie) override {
    return inner_.AuthenticateSessionCached(cookie);
  }
  StatusOr<std::string> CsrfToken(std::string_view cookie) override {
    return inner_.CsrfToken(cookie);
  }
  Status EndSessions(std::string_view user) override { return inner_.EndSessions(user); }
  Status AddUser(std::string_view name, std::string_view password, auth::Role role,
                 std::vector<std::string> projects) override {
    return inner_.AddUser(name, password, role, std::move(projects));
  }
  Status RemoveUser(std::string_view name) override { return inner_.RemoveUser(name); }
  Status SetPassword(std::string_view name, std::string_view password) override {
    return inner_.SetPassword(name, password);
  }
  Status SetRole(std::string_view name, auth::Role role,
                 std::vector<std::string> projects) override {
    return inner_.SetRole(name, role, std::move(projects));
  }
  StatusOr<std::vector<auth::UserInfo>> ListUsers() override { return inner_.ListUsers(); }
  StatusOr<bool> NoUsers() override { return inner_.NoUsers(); }
  StatusOr<auth::NewToken> CreateToken(std::string_view user, std::string_view name,
                                       auth::Role scope, std::vector<std::string> projects,
                                       std::int64_t expires_micros) override {
    return inner_.CreateToken(user, name, scope, std::move(projects), expires_micros);
  }
  StatusOr<std::vector<auth::TokenInfo>> ListTokens(std::string_view user) override {
    return inner_.ListTokens(user);
  }
  StatusOr<auth::TokenInfo> GetToken(std::string_view id) override { return inner_.GetToken(id); }
  Status RevokeToken(std::string_view id) override { return inner_.RevokeToken(id); }

  int checks = 0;
  int cached_checks = 0;

 private:
  auth::Authenticator& inner_;
};

class ThrottledHandlersTest : public HandlersTest {
 protected:
  void SetUp() override {
    HandlersTest::SetUp();
    counting_ = std::make_unique<CountingAuthenticator>(*auth_);
    HandlerOptions options;
    options.temp_dir = spool_.path();
    options.throttle = auth::ThrottleLimits{.per_address = 10, .per_user = 5};
    handlers_ = std::make_unique<Handlers>(*index_, *counting_, options);
  }

  Response From(std::string address, std::string user, std::string password,
                std::string target = "/simple/") {
    RequestHead head =
        Head("GET", std::move(target), {{"Authorization", BasicAuth(user, password)}});
    head.remote_address = std::move(address);
    return handlers_->Handle(head);
  }

  std::unique_ptr<CountingAuthenticator> counting_;
};

TEST_F(ThrottledHandlersTest, UserIsRefusedWith429AfterFiveFailuresWithoutCheckingAgain) {
  // The reader's password is verified (and remembered) before the attack.
  ASSERT_EQ(From("192.0.2.1", "reader", "reader-password").status, 200U);
  const int before = counting_->checks;
  for (int i = 0; i < 5; ++i) {
    Response res = From("198.51.100." + std::to_string(i), "reader", "guess-" + std::to_string(i));
    EXPECT_EQ(res.status, 401U) << i;
  }
  EXPECT_EQ(counting_->checks, before + 5);
  Response refused = From("198.51.100.77", "reader", "guess-6");
  EXPECT_EQ(refused.status, 429U);
  EXPECT_EQ(Header(refused, "Retry-After"), "12");
  EXPECT_THAT(refused.reason, HasSubstr("Too many failed logins for this user name"));
  EXPECT_THAT(Header(refused, "Cache-Control"), HasSubstr("no-store"));
  EXPECT_EQ(Header(refused, "WWW-Authenticate"), "");
  // The right password too, remembered or not, from anywhere, and from memory: no check ran.
  EXPECT_EQ(From("192.0.2.1", "reader", "reader-password").status, 429U);
  RequestHead head = ReaderGet("/simple/");
  head.remote_address = "192.0.2.1";
  auto fast = handlers_->TryHandleInMemory(head);
  ASSERT_TRUE(fast.has_value()) << "a refusal needs neither the store nor a hash";
  EXPECT_EQ(fast->status, 429U);
  EXPECT_EQ(counting_->checks, before + 5);
  // Uploads are checked by the same throttle, before the body.
  RequestHead upload = Head("POST", "/legacy/",
                            {{"Content-Type", "multipart/form-data; boundary=xyz"},
                             {"Authorization", BasicAuth("reader", "reader-password")}});
  auto start = handlers_->BeginUpload(upload);
  ASSERT_TRUE(start.reject.has_value());
  EXPECT_EQ(start.reject->status, 429U);
  EXPECT_EQ(counting_->checks, before + 5);
  // Other users are not affected.
  EXPECT_EQ(From("198.51.100.1", "admin", "admin-password").status, 200U);
}

TEST_F(ThrottledHandlersTest, AddressIsRefusedWith429AfterTenFailures) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(From("203.0.113.9", "nobody-" + std::to_string(i), "pw-" + std::to_string(i)).status,
              401U);
  }
  const int checks = counting_->checks;
  Response refused = From("203.0.113.9", "admin", "admin-password");
  EXPECT_EQ(refused.status, 429U);
  EXPECT_EQ(Header(refused, "Retry-After"), "6");
  EXPECT_THAT(refused.body, HasSubstr("Too many failed logins from your address"));
  EXPECT_EQ(counting_->checks, checks);
  // JSON clients get the JSON error form.
  RequestHead head = Head(
      "GET", "/simple/",
      {{"Authorization", BasicAuth("admin", "admin-password")}, {"Accept", "application/json"}});
  head.remote_address = "203.0.113.9";
  Response json_refused = handlers_->Handle(head);
  EXPECT_EQ(json_refused.status, 429U);
  EXPECT_EQ(json::parse(json_refused.body).at("title").as_string(), "Too Many Requests");
  EXPECT_EQ(From("203.0.113.10", "admin", "admin-password").status, 200U);
}

TEST_F(ThrottledHandlersTest, SuccessesDoNotCount) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(From("192.0.2.5", "reader", "reader-password").status, 200U);
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(From("192.0.2.5", "reader", "wrong").status, 401U);
  }
  EXPECT_EQ(From("192.0.2.5", "reader", "reader-password").status, 200U);
  EXPECT_EQ(From("192.0.2.5", "reader", "wrong").status, 401U);  // the fifth failure
  EXPECT_EQ(From("192.0.2.5", "reader", "reader-password").status, 429U);
}

TEST_F(ThrottledHandlersTest, UnknownAndKnownUsersAreIndistinguishable) {
  Response known = From("192.0.2.20", "reader", "wrong-password");
  const int after_known = counting_->checks;
  Response unknown = From("192.0.2.21", "no-such-user", "wrong-password");
  EXPECT_EQ(counting_->checks, after_known + 1) << "an unknown user costs one check too";
  EXPECT_EQ(known.status, unknown.status);
  EXPECT_EQ(known.reason, unknown.reason);
  EXPECT_EQ(known.body, unknown.body);
  EXPECT_EQ(known.headers, unknown.headers);
  // And the throttle treats them alike: 429 after five, with the same message.
  for (int i = 0; i < 4; ++i) {
    From("192.0.2.3" + std::to_string(i), "reader", "wrong");
    From("192.0.2.4" + std::to_string(i), "no-such-user", "wrong");
  }
  Response known_refused = From("192.0.2.50", "reader", "wrong");
  Response unknown_refused = From("192.0.2.51", "no-such-user", "wrong");
  EXPECT_EQ(known_refused.status, 429U);
  EXPECT_EQ(known_refused.reason, unknown_refused.reason);
  EXPECT_EQ(known_refused.headers, unknown_refused.headers);
}

TEST_F(ThrottledHandlersTest, MalformedCredentialsCostNothingAndAreNotThrottled) {
  for (int i = 0; i < 30; ++i) {
    RequestHead head = Head("GET", "/simple/", {{"Authorization", "Basic !!!"}});
    head.remote_address = "192.0.2.99";
    EXPECT_EQ(handlers_->Handle(head).status, 401U);
  }
  EXPECT_EQ(counting_->checks, 0);
  EXPECT_EQ(From("192.0.2.99", "reader", "reader-password").status, 200U);
}

TEST_F(HandlersTest, LargePagesAreSentFromASealedMemfd) {
  // A 100 KB summary makes the human project page larger than 64 KiB.
  const std::string summary(100000, 'x');
  auto outcome = index_->Upload(
      MakeForm(dir_, kSdistName,
               Sdist("foo-1.0", Metadata("Foo", "1.0", "Summary: " + summary + "\n")), "foo",
               "1.0"),
      "uploader");
  ASSERT_TRUE(outcome.has_value()) << outcome.error();
  Response res = Get("/project/foo/");
  ASSERT_EQ(res.status, 200U);
  ASSERT_TRUE(res.file.valid());
  const std::string body = BodyOf(res);
  EXPECT_THAT(body, HasSubstr(summary));
  EXPECT_EQ(res.ContentLength(), static_cast<std::int64_t>(body.size()));
  Response head = handlers_->Handle(ReaderGet("/project/foo/", {}, "HEAD"));
  EXPECT_EQ(head.ContentLength(), static_cast<std::int64_t>(body.size()));
}

// --- Web UI: login, sessions, CSRF, manage pages, tokens, admin API ------------------------

class UiTest : public HandlersTest {
 protected:
  // Logs `user` in through the form; returns the session cookie value.
  std::string Login(const std::string& user, const std::string& password) {
    RequestHead head =
        Head("POST", "/login", {{"Content-Type", "application/x-www-form-urlencoded"}});
    head.body = "user=" + user + "&password=" + password + "&next=project%2Ffoo%2F";
    Response res = handlers_->Handle(head);
    EXPECT_EQ(res.status, 303U) << res.body;
    EXPECT_EQ(Header(res, "Location"), "project/foo/");
    const std::string cookie = Header(res, "Set-Cookie");
    EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
    EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
    const std::size_t eq = cookie.find('=');
    const std::size_t semi = cookie.find(';');
    return cookie.substr(eq + 1, semi - eq - 1);
  }

  RequestHead WithSession(std::string method, std::string target, const std::string& cookie,
                          std::string body = "") {
    RequestHead head = Head(std::move(method), std::move(target),
                            {{"Cookie", "other=1; pydepot_session=" + cookie},
                             {"Host", "index.example"},
                             {"Content-Type", "application/x-www-form-urlencoded"}});
    head.body = std::move(body);
    return head;
  }

  std::string Csrf(const std::string& cookie) {
    auto token = auth_->CsrfToken(cookie);
    EXPECT_TRUE(token.has_value());
    return token.has_value() ? *token : "";
  }

  bool Yanked() {
    auto view = index_->GetProject("foo");
    return view.has_value() && !(*view)->doc.yanked.empty();
  }

  static std::string TokenIn(const std::string& body) {
    const std::size_t at = body.find("pydepot-");
    return at == std::string::npos ? "" : body.substr(at, 8 + 16 + 1 + 64);
  }

  // A form post with the session `cookie` and its CSRF token (`fields` URL-encoded, without it).
  Response SessionPost(const std::string& cookie, std::string target, const std::string& fields) {
    return handlers_->Handle(
        WithSession("POST", std::move(target), cookie,
                    fields + (fields.empty() ? "" : "&") + "csrf=" + Csrf(cookie)));
  }

  // A form post authenticated by basic auth (no session), as a browser that answered the
  // prompt of the simple API sends it, with `extra` headers (Origin, Sec-Fetch-Site).
  Response BasicFormPost(std::string target, std::string fields,
                         std::vector<std::pair<std::string, std::string>> extra = {},
                         bool secure = false) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", BasicAuth("admin", "admin-password")},
        {"Host", "index.example"},
        {"Content-Type", "application/x-www-form-urlencoded"}};
    for (auto& header : extra) {
      headers.push_back(std::move(header));
    }
    RequestHead head = Head("POST", std::move(target), std::move(headers));
    head.body = std::move(fields);
    head.secure = secure;
    return handlers_->Handle(head);
  }

  // A JSON admin API call with basic auth, as curl sends it (no Origin, no Sec-Fetch-Site).
  Response Api(std::string method, std::string target, std::string body = "",
               const std::string& user = "admin", const std::string& password = "admin-password") {
    RequestHead head =
        Head(std::move(method), std::move(target),
             {{"Authorization", BasicAuth(user, password)}, {"Content-Type", "application/json"}});
    head.body = std::move(body);
    return handlers_->Handle(head);
  }

  // foo's filenames in the index, in document order (empty when foo serves nothing).
  std::vector<std::string> FooFiles() {
    std::vector<std::string> names;
    auto view = index_->GetProject("foo");
    if (view.has_value()) {
      for (const doc::FileEntry& file : (*view)->doc.files) {
        names.push_back(file.filename);
      }
    }
    return names;
  }

  // The stored project document of `project`, read past every cache; nullopt when none.
  std::optional<doc::ProjectDoc> StoredDoc(std::string_view project) {
    auto object = storage_->Get(*storage::ProjectDocKey(project));
    if (!object.has_value()) {
      EXPECT_EQ(object.error().code(), StatusCode::kNotFound) << object.error();
      return std::nullopt;
    }
    auto decoded = doc::DecodeProjectDoc(object->data);
    EXPECT_TRUE(decoded.has_value());
    return decoded.has_value() ? std::optional<doc::ProjectDoc>(*decoded) : std::nullopt;
  }

  // Stores foo 2.0 (a wheel) beside UploadFoo's 1.0.
  void UploadFoo2() {
    auto outcome = index_->Upload(
        MakeForm(dir_, kWheel2Name, Wheel("foo", "2.0", Metadata("Foo", "2.0")), "foo", "2.0"),
        "uploader");
    ASSERT_TRUE(outcome.has_value()) << outcome.error();
  }

  // The account `name` as stored, or nullopt.
  std::optional<auth::UserInfo> UserNamed(std::string_view name) {
    auto users = auth_->ListUsers();
    EXPECT_TRUE(users.has_value());
    if (users.has_value()) {
      for (const auth::UserInfo& user : *users) {
        if (user.name == name) {
          return user;
        }
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> UserNames() {
    std::vector<std::string> names;
    auto users = auth_->ListUsers();
    EXPECT_TRUE(users.has_value());
    if (users.has_value()) {
      for (const auth::UserInfo& user : *users) {
        names.push_back(user.name);
      }
    }
    return names;
  }

  // The status of GET /simple/ with these basic credentials (200: they work; 401: they do not).
  unsigned SimpleRootAs(const std::string& user, const std::string& password) {
    return handlers_
        ->Handle(Head("GET", "/simple/", {{"Authorization", BasicAuth(user, password)}}))
        .status;
  }

  static constexpr char kWheel2Name[] = "foo-2.0-py3-none-any.whl";
};

TEST_F(UiTest, AnonymousVisitorsOfPagesAreSentToTheLoginForm) {
  Response res = handlers_->Handle(Head("GET", "/project/foo/"));
  EXPECT_EQ(res.status, 303U);
  EXPECT_EQ(Header(res, "Location"), "../../login?next=project%2Ffoo%2F");
  // The simple API keeps answering 401 with a challenge (pip asks its keyring then).
  EXPECT_EQ(handlers_->Handle(Head("GET", "/simple/")).status, 401U);
  Response login = handlers_->Handle(Head("GET", "/login?next=project%2Ffoo%2F"));
  EXPECT_EQ(login.status, 200U);
  EXPECT_THAT(login.body, HasSubstr("project/foo/"));
  Response css = handlers_->Handle(Head("GET", "/static/style.css"));
  EXPECT_EQ(css.status, 200U);
  EXPECT_EQ(Header(css, "Content-Type"), "text/css; charset=utf-8");
}

TEST_F(UiTest, LoginSetsASessionThatReadsTheIndex) {
  UploadFoo();
  const std::string cookie = Login("reader", "reader-password");
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/project/foo/", cookie, "")).status, 200U);
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/simple/foo/", cookie, "")).status, 200U);
  // A forged cookie is no session.
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/simple/foo/", cookie + "x", "")).status, 401U);
}

TEST_F(UiTest, WrongPasswordShowsTheFormAgain) {
  RequestHead head = Head("POST", "/login");
  head.body = "user=reader&password=wrong-password";
  Response res = handlers_->Handle(head);
  EXPECT_EQ(res.status, 403U);
  EXPECT_THAT(res.body, HasSubstr("Invalid user name or password."));
  EXPECT_TRUE(Header(res, "WWW-Authenticate").empty());  // no browser prompt over the form
  EXPECT_TRUE(Header(res, "Set-Cookie").empty());
}

TEST_F(UiTest, LoginFormIsThrottledLikeBasicAuth) {
  HandlerOptions options;
  options.throttle = auth::ThrottleLimits{.per_address = 10, .per_user = 5};
  MakeHandlers(options);
  unsigned last = 0;
  for (int i = 0; i < 6; ++i) {
    RequestHead head = Head("POST", "/login");
    head.body = "user=reader&password=wrong-password";
    last = handlers_->Handle(head).status;
  }
  EXPECT_EQ(last, 429U);
  RequestHead right = Head("POST", "/login");
  right.body = "user=reader&password=reader-password";
  EXPECT_EQ(handlers_->Handle(right).status, 429U);  // not even the right password, for now
}

TEST_F(UiTest, LoginNeverRedirectsOffTheSite) {
  for (const std::string next : {"%2F%2Fevil.example%2F", "https%3A%2F%2Fevil.example",
                                 "javascript%3Aalert(1)", "%2Fabsolute", "%5C%5Cevil"}) {
    RequestHead head = Head("POST", "/login");
    head.body = "user=reader&password=reader-password&next=" + next;
    Response res = handlers_->Handle(head);
    EXPECT_EQ(res.status, 303U);
    EXPECT_EQ(Header(res, "Location"), "./") << next;
  }
}

TEST_F(UiTest, SecureRequestsGetSecureCookies) {
  RequestHead head = Head("POST", "/login");
  head.body = "user=reader&password=reader-password";
  head.secure = true;
  EXPECT_THAT(Header(handlers_->Handle(head), "Set-Cookie"), HasSubstr("; Secure"));
}

TEST_F(UiTest, YankFromTheManagePageNeedsTheCsrfToken) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  Response page = handlers_->Handle(WithSession("GET", "/manage/project/foo/", cookie));
  ASSERT_EQ(page.status, 200U);
  EXPECT_THAT(page.body, HasSubstr(Csrf(cookie)));

  // No token, a wrong token, or another site's origin: refused, nothing changes.
  EXPECT_EQ(handlers_
                ->Handle(WithSession("POST", "/manage/project/foo/yank", cookie,
                                     "version=1.0&reason=broken"))
                .status,
            403U);
  EXPECT_EQ(handlers_
                ->Handle(WithSession("POST", "/manage/project/foo/yank", cookie,
                                     "version=1.0&reason=broken&csrf=AAAA"))
                .status,
            403U);
  RequestHead cross = WithSession("POST", "/manage/project/foo/yank", cookie,
                                  "version=1.0&reason=broken&csrf=" + Csrf(cookie));
  cross.headers.emplace_back("Origin", "https://evil.example");
  EXPECT_EQ(handlers_->Handle(cross).status, 403U);
  EXPECT_FALSE(Yanked());

  RequestHead ok = WithSession("POST", "/manage/project/foo/yank", cookie,
                               "version=1.0&reason=broken&csrf=" + Csrf(cookie));
  ok.headers.emplace_back("Origin", "http://index.example");
  Response res = handlers_->Handle(ok);
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "./?done=yanked");
  EXPECT_TRUE(Yanked());
  EXPECT_EQ(handlers_
                ->Handle(WithSession("POST", "/manage/project/foo/unyank", cookie,
                                     "version=1.0&csrf=" + Csrf(cookie)))
                .status,
            303U);
  EXPECT_FALSE(Yanked());
}

TEST_F(UiTest, ManagePagesAreForAdministrators) {
  UploadFoo();
  const std::string cookie = Login("uploader", "uploader-password");
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/manage/project/foo/", cookie)).status, 403U);
  EXPECT_EQ(handlers_
                ->Handle(WithSession("POST", "/manage/project/foo/yank", cookie,
                                     "version=1.0&csrf=" + Csrf(cookie)))
                .status,
            403U);
  EXPECT_FALSE(Yanked());
}

// --- Manage pages: deleting -----------------------------------------------------------------

TEST_F(UiTest, DeleteFileFromTheManagePageRemovesItForGood) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  Response res =
      SessionPost(cookie, "/manage/project/foo/delete-file", "filename=" + std::string(kSdistName));
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "./?done=deleted-file");
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName));
  ASSERT_TRUE(StoredDoc("foo").has_value());
  EXPECT_THAT(StoredDoc("foo")->deleted_filenames, ::testing::ElementsAre(kSdistName));
  EXPECT_THAT(Get("/simple/foo/").body, Not(HasSubstr(kSdistName)));
  EXPECT_EQ(Get(std::string("/files/foo/") + kSdistName).status, 404U);
  Response page =
      handlers_->Handle(WithSession("GET", "/manage/project/foo/?done=deleted-file", cookie));
  EXPECT_THAT(page.body, HasSubstr("File deleted."));

  // The same filename, even with the same bytes, is refused from now on.
  Response again = PostUpload(TwineForm(kSdistName, sdist_));
  EXPECT_EQ(again.status, 400U);
  EXPECT_THAT(again.body, HasSubstr("previously used by a file that has since been deleted"));
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName));

  // A file that is not there: 404, nothing else changes.
  Response missing =
      SessionPost(cookie, "/manage/project/foo/delete-file", "filename=foo-9.9-py3-none-any.whl");
  EXPECT_EQ(missing.status, 404U);
  EXPECT_THAT(missing.body, HasSubstr("foo-9.9-py3-none-any.whl"));
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName));
}

TEST_F(UiTest, DeleteReleaseFromTheManagePageRemovesEveryFileOfIt) {
  UploadFoo();
  UploadFoo2();
  const std::string cookie = Login("admin", "admin-password");
  Response res = SessionPost(cookie, "/manage/project/foo/delete-release", "version=1.0");
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "./?done=deleted-release");
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));
  ASSERT_TRUE(StoredDoc("foo").has_value());
  EXPECT_THAT(StoredDoc("foo")->deleted_filenames,
              ::testing::UnorderedElementsAre(kWheelName, kSdistName));
  EXPECT_EQ(Get("/project/foo/1.0/").status, 404U);
  EXPECT_EQ(PostUpload(TwineForm(kWheelName, wheel_)).status, 400U);
  EXPECT_EQ(PostUpload(TwineForm(kSdistName, sdist_)).status, 400U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));

  Response missing = SessionPost(cookie, "/manage/project/foo/delete-release", "version=9.9");
  EXPECT_EQ(missing.status, 404U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));
}

TEST_F(UiTest, DeleteProjectNeedsItsNameTypedToConfirm) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  const std::int64_t serial = StoredDoc("foo")->serial;
  // A wrong name, or none: 400 with the page saying what to type, and nothing changes.
  for (const std::string fields : {"confirm=bar", "confirm=", "confirm=foo-1.0", ""}) {
    Response res = SessionPost(cookie, "/manage/project/foo/delete-project", fields);
    EXPECT_EQ(res.status, 400U) << fields;
    EXPECT_THAT(res.body, HasSubstr("To delete the project, type its name (foo) in the box."))
        << fields;
    EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName)) << fields;
    EXPECT_EQ(StoredDoc("foo")->serial, serial) << fields;
  }
  EXPECT_EQ(Get("/simple/foo/").status, 200U);

  // Any spelling of the name confirms.
  Response res = SessionPost(cookie, "/manage/project/foo/delete-project", "confirm=Foo");
  EXPECT_EQ(res.status, 200U) << res.body;
  EXPECT_THAT(res.body, HasSubstr("Project foo was deleted."));
  EXPECT_TRUE(FooFiles().empty());
  EXPECT_EQ(index_->GetProject("foo").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(Get("/simple/foo/").status, 404U);
  EXPECT_THAT(Get("/simple/").body, Not(HasSubstr("foo")));
  // The name stays private (never served from an upstream); the filenames stay refused.
  auto still_private = index_->IsPrivateName("foo");
  ASSERT_TRUE(still_private.has_value());
  EXPECT_TRUE(*still_private);
  EXPECT_EQ(PostUpload(TwineForm(kWheelName, wheel_)).status, 400U);
  // Deleting it again: there is nothing left.
  EXPECT_EQ(SessionPost(cookie, "/manage/project/foo/delete-project", "confirm=foo").status, 404U);
}

TEST_F(UiTest, DeleteFormsWithoutTheCsrfTokenChangeNothing) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  const std::int64_t serial = StoredDoc("foo")->serial;
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"/manage/project/foo/delete-file", "filename=" + std::string(kSdistName)},
      {"/manage/project/foo/delete-release", "version=1.0"},
      {"/manage/project/foo/delete-project", "confirm=foo"},
  };
  for (const auto& [target, fields] : forms) {
    for (const std::string& csrf :
         std::vector<std::string>{"", "&csrf=AAAA", "&csrf=" + Csrf(cookie) + "x"}) {
      Response res = handlers_->Handle(WithSession("POST", target, cookie, fields + csrf));
      EXPECT_EQ(res.status, 403U) << target << csrf;
      EXPECT_THAT(res.body, HasSubstr("reload the page and try again")) << target;
    }
    // The right token, but another site's origin.
    RequestHead cross = WithSession("POST", target, cookie, fields + "&csrf=" + Csrf(cookie));
    cross.headers.emplace_back("Origin", "https://evil.example");
    EXPECT_EQ(handlers_->Handle(cross).status, 403U) << target;
  }
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName));
  EXPECT_EQ(StoredDoc("foo")->serial, serial);
  EXPECT_TRUE(StoredDoc("foo")->deleted_filenames.empty());
}

// --- Manage pages: users --------------------------------------------------------------------

TEST_F(UiTest, AdminsAddUsersOnTheUsersPage) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  Response res = SessionPost(cookie, "/manage/users/add",
                             "name=carol&password=carol-password&role=upload&projects=Foo");
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "./?done=user-added");
  auto carol = UserNamed("carol");
  ASSERT_TRUE(carol.has_value());
  EXPECT_EQ(carol->role, auth::Role::kUpload);
  EXPECT_THAT(carol->upload_projects, ::testing::ElementsAre("foo"));
  EXPECT_EQ(SimpleRootAs("carol", "carol-password"), 200U);
  const std::string bar = Wheel("bar", "1.0", Metadata("bar", "1.0"));
  EXPECT_EQ(PostUpload(TwineForm("bar-1.0-py3-none-any.whl", bar, "bar"), "carol").status, 403U);
  Response page = handlers_->Handle(WithSession("GET", "/manage/users/?done=user-added", cookie));
  EXPECT_THAT(page.body, HasSubstr("User added."));
  EXPECT_THAT(page.body, HasSubstr("carol"));

  // Refused with the reason on the page, and no account changes: a name taken, a short
  // password, an unknown role, a project limit on a reader.
  const std::vector<std::string> before = UserNames();
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"name=carol&password=another-password&role=read", "already exists"},
      {"name=dave&password=short&role=read", "password: must be 8 to 1024 bytes long"},
      {"name=dave&password=dave-password&role=boss", "role: must be read, upload or admin"},
      {"name=dave&password=dave-password&role=read&projects=foo",
       "only a user with the upload role can be limited to projects"},
  };
  for (const auto& [fields, why] : refused) {
    Response bad = SessionPost(cookie, "/manage/users/add", fields);
    EXPECT_EQ(bad.status, 400U) << fields;
    EXPECT_THAT(bad.body, HasSubstr(why)) << fields;
  }
  EXPECT_EQ(UserNames(), before);
  EXPECT_EQ(SimpleRootAs("carol", "carol-password"), 200U);
}

TEST_F(UiTest, AdminsChangeRolesOnTheUsersPage) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  const std::string reader_cookie = Login("reader", "reader-password");
  const std::string wheel = Wheel("foo", "3.0", Metadata("Foo", "3.0"));
  EXPECT_EQ(PostUpload(TwineForm("foo-3.0-py3-none-any.whl", wheel, "foo", "3.0"), "reader").status,
            403U);

  Response res = SessionPost(cookie, "/manage/users/reader/role", "role=upload&projects=Foo");
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "../?done=user-updated");
  auto reader = UserNamed("reader");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, auth::Role::kUpload);
  EXPECT_THAT(reader->upload_projects, ::testing::ElementsAre("foo"));
  EXPECT_EQ(PostUpload(TwineForm("foo-3.0-py3-none-any.whl", wheel, "foo", "3.0"), "reader").status,
            200U);
  // The reader's browser session ended with the old role.
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/account/", reader_cookie)).status, 303U);

  // Refused: no change.
  Response limited_admin =
      SessionPost(cookie, "/manage/users/reader/role", "role=admin&projects=foo");
  EXPECT_EQ(limited_admin.status, 400U);
  EXPECT_THAT(limited_admin.body, HasSubstr("only a user with the upload role"));
  EXPECT_EQ(SessionPost(cookie, "/manage/users/reader/role", "role=boss").status, 400U);
  EXPECT_EQ(SessionPost(cookie, "/manage/users/nobody/role", "role=read").status, 404U);
  reader = UserNamed("reader");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, auth::Role::kUpload);
  EXPECT_THAT(reader->upload_projects, ::testing::ElementsAre("foo"));
  EXPECT_FALSE(UserNamed("nobody").has_value());

  // Back to read, and the limit goes with the upload role.
  EXPECT_EQ(SessionPost(cookie, "/manage/users/reader/role", "role=read&projects=").status, 303U);
  reader = UserNamed("reader");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, auth::Role::kRead);
  EXPECT_TRUE(reader->upload_projects.empty());
}

TEST_F(UiTest, AdminsSetPasswordsOnTheUsersPage) {
  const std::string cookie = Login("admin", "admin-password");
  const std::string reader_cookie = Login("reader", "reader-password");
  ASSERT_EQ(handlers_->Handle(WithSession("GET", "/account/", reader_cookie)).status, 200U);

  // Too short: refused, the old password still works.
  Response short_one = SessionPost(cookie, "/manage/users/reader/password", "password=short");
  EXPECT_EQ(short_one.status, 400U);
  EXPECT_THAT(short_one.body, HasSubstr("password: must be 8 to 1024 bytes long"));
  EXPECT_EQ(SimpleRootAs("reader", "reader-password"), 200U);

  Response res =
      SessionPost(cookie, "/manage/users/reader/password", "password=a-new-reader-password");
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "../?done=password-set");
  EXPECT_EQ(SimpleRootAs("reader", "reader-password"), 401U);
  EXPECT_EQ(SimpleRootAs("reader", "a-new-reader-password"), 200U);
  // The reader's browser session ended with it.
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/account/", reader_cookie)).status, 303U);

  EXPECT_EQ(
      SessionPost(cookie, "/manage/users/nobody/password", "password=long-enough-password").status,
      404U);
  EXPECT_FALSE(UserNamed("nobody").has_value());
}

TEST_F(UiTest, AdminsDeleteUsersButNotThemselves) {
  auto token = auth_->CreateToken("uploader", "ci", auth::Role::kUpload, {}, 0);
  ASSERT_TRUE(token.has_value());
  ASSERT_EQ(SimpleRootAs("__token__", token->secret), 200U);
  const std::string cookie = Login("admin", "admin-password");

  Response res = SessionPost(cookie, "/manage/users/uploader/delete", "");
  EXPECT_EQ(res.status, 303U) << res.body;
  EXPECT_EQ(Header(res, "Location"), "../?done=user-deleted");
  EXPECT_FALSE(UserNamed("uploader").has_value());
  EXPECT_EQ(SimpleRootAs("uploader", "uploader-password"), 401U);
  EXPECT_EQ(SimpleRootAs("__token__", token->secret), 401U);  // its tokens went with it
  auto gone = auth_->GetToken(token->info.id);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code(), StatusCode::kNotFound);

  // Not the account doing it: 400 with the reason, and the admin can still log in.
  Response self = SessionPost(cookie, "/manage/users/admin/delete", "");
  EXPECT_EQ(self.status, 400U);
  EXPECT_THAT(self.body, HasSubstr("You cannot delete your own account while logged in with it."));
  ASSERT_TRUE(UserNamed("admin").has_value());
  EXPECT_EQ(UserNamed("admin")->role, auth::Role::kAdmin);
  EXPECT_EQ(SimpleRootAs("admin", "admin-password"), 200U);
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/manage/users/", cookie)).status, 200U);

  EXPECT_EQ(SessionPost(cookie, "/manage/users/nobody/delete", "").status, 404U);
  EXPECT_THAT(UserNames(), ::testing::UnorderedElementsAre("reader", "admin"));
}

TEST_F(UiTest, UserFormsWithoutTheCsrfTokenChangeNothing) {
  const std::string cookie = Login("admin", "admin-password");
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"/manage/users/add", "name=carol&password=carol-password&role=admin"},
      {"/manage/users/reader/role", "role=admin"},
      {"/manage/users/reader/password", "password=a-new-reader-password"},
      {"/manage/users/reader/delete", ""},
  };
  for (const auto& [target, fields] : forms) {
    for (const std::string csrf : {"", "csrf=AAAA"}) {
      const std::string body = fields.empty() || csrf.empty() ? fields + csrf : fields + "&" + csrf;
      EXPECT_EQ(handlers_->Handle(WithSession("POST", target, cookie, body)).status, 403U)
          << target << " " << csrf;
    }
  }
  EXPECT_THAT(UserNames(), ::testing::UnorderedElementsAre("reader", "uploader", "admin"));
  ASSERT_TRUE(UserNamed("reader").has_value());
  EXPECT_EQ(UserNamed("reader")->role, auth::Role::kRead);
  EXPECT_EQ(SimpleRootAs("reader", "reader-password"), 200U);
}

TEST_F(UiTest, NonAdminsCannotManageUsersOrDelete) {
  UploadFoo();
  const std::string cookie = Login("uploader", "uploader-password");
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"/manage/users/add", "name=carol&password=carol-password&role=admin"},
      {"/manage/users/uploader/role", "role=admin"},
      {"/manage/users/reader/password", "password=a-new-reader-password"},
      {"/manage/users/reader/delete", ""},
      {"/manage/project/foo/delete-file", "filename=" + std::string(kSdistName)},
      {"/manage/project/foo/delete-release", "version=1.0"},
      {"/manage/project/foo/delete-project", "confirm=foo"},
  };
  for (const auto& [target, fields] : forms) {
    Response res = SessionPost(cookie, target, fields);
    EXPECT_EQ(res.status, 403U) << target;
    EXPECT_THAT(res.body, HasSubstr("Only administrators can manage the index.")) << target;
  }
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/manage/users/", cookie)).status, 403U);
  EXPECT_THAT(UserNames(), ::testing::UnorderedElementsAre("reader", "uploader", "admin"));
  EXPECT_EQ(UserNamed("uploader")->role, auth::Role::kUpload);
  EXPECT_EQ(SimpleRootAs("reader", "reader-password"), 200U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName));
}

// --- Form posts with basic auth: only from pydepot's own pages -------------------------------

TEST_F(UiTest, BasicAuthFormPostFromAnotherSiteIsRefused) {
  UploadFoo();
  const std::string fields = "filename=" + std::string(kSdistName);
  const std::vector<std::vector<std::pair<std::string, std::string>>> cross_site = {
      {{"Origin", "https://evil.example"}},
      {{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}},
      {{"Sec-Fetch-Site", "cross-site"}},
      {{"Sec-Fetch-Site", "same-site"}},  // a sibling host is another origin
      {{"Origin", "null"}},
      {{"Origin", "https://index.example.evil.example"}},
  };
  for (const auto& headers : cross_site) {
    Response res = BasicFormPost("/manage/project/foo/delete-file", fields, headers);
    EXPECT_EQ(res.status, 403U) << headers.front().first << ": " << headers.front().second;
  }
  // Over HTTPS, the page itself came over HTTPS: a plain-http origin is not this site.
  EXPECT_EQ(BasicFormPost("/manage/project/foo/delete-file", fields,
                          {{"Origin", "http://index.example"}}, /*secure=*/true)
                .status,
            403U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName));
  EXPECT_TRUE(StoredDoc("foo")->deleted_filenames.empty());
}

TEST_F(UiTest, BasicAuthFormPostWithoutOriginIsRefusedWithAWayForward) {
  UploadFoo();
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"/manage/project/foo/delete-file", "filename=" + std::string(kSdistName)},
      {"/manage/project/foo/delete-project", "confirm=foo"},
      {"/manage/project/foo/yank", "version=1.0&reason=x"},
      {"/manage/users/add", "name=carol&password=carol-password&role=admin"},
      {"/manage/users/reader/delete", ""},
      {"/account/tokens", "name=ci&scope=read"},
  };
  for (const auto& [target, fields] : forms) {
    Response res = BasicFormPost(target, fields);
    EXPECT_EQ(res.status, 403U) << target;
    EXPECT_THAT(res.body, HasSubstr("Log in with the form at /login")) << target;
    EXPECT_TRUE(TokenIn(res.body).empty());
  }
  // A token sent as basic credentials is no better.
  auto token = auth_->CreateToken("admin", "ci", auth::Role::kUpload, {}, 0);
  ASSERT_TRUE(token.has_value());
  RequestHead with_token =
      Head("POST", "/manage/project/foo/delete-file",
           {{"Authorization", BasicAuth("__token__", token->secret)}, {"Host", "index.example"}});
  with_token.body = "filename=" + std::string(kSdistName);
  EXPECT_EQ(handlers_->Handle(with_token).status, 403U);

  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName));
  EXPECT_FALSE(Yanked());
  EXPECT_THAT(UserNames(), ::testing::UnorderedElementsAre("reader", "uploader", "admin"));
  auto tokens = auth_->ListTokens("admin");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->size(), 1U);  // only the one made above
  // GET pages keep working with basic auth.
  RequestHead page = Head("GET", "/manage/project/foo/",
                          {{"Authorization", BasicAuth("admin", "admin-password")}});
  EXPECT_EQ(handlers_->Handle(page).status, 200U);
}

TEST_F(UiTest, BasicAuthFormPostFromOwnPagesWorks) {
  UploadFoo();
  UploadFoo2();
  Response by_origin =
      BasicFormPost("/manage/project/foo/delete-file", "filename=" + std::string(kSdistName),
                    {{"Origin", "http://index.example"}});
  EXPECT_EQ(by_origin.status, 303U) << by_origin.body;
  EXPECT_EQ(Header(by_origin, "Location"), "./?done=deleted-file");
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kWheel2Name));

  Response by_fetch_site = BasicFormPost("/manage/project/foo/delete-release", "version=1.0",
                                         {{"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(by_fetch_site.status, 303U) << by_fetch_site.body;
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));

  Response over_https = BasicFormPost(
      "/manage/users/add", "name=carol&password=carol-password&role=read",
      {{"Origin", "https://INDEX.example"}, {"Sec-Fetch-Site", "same-origin"}}, /*secure=*/true);
  EXPECT_EQ(over_https.status, 303U) << over_https.body;
  EXPECT_TRUE(UserNamed("carol").has_value());
}

TEST_F(UiTest, AdminApiTakesBasicAuthWithoutOriginButNotFromAnotherSite) {
  UploadFoo();
  // curl: basic auth, no Origin, no Sec-Fetch-Site.
  EXPECT_EQ(Api("POST", "/api/projects/foo/releases/1.0/yank", R"({"reason":"bad"})").status, 204U);
  EXPECT_TRUE(Yanked());
  // A browser posting from another site says so: refused, nothing changes.
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}}) {
    RequestHead head = Head("DELETE", "/api/projects/foo/files/" + std::string(kSdistName),
                            {{"Authorization", BasicAuth("admin", "admin-password")},
                             {"Host", "index.example"},
                             {name, value}});
    EXPECT_EQ(handlers_->Handle(head).status, 403U) << name;
  }
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName));
}

TEST_F(UiTest, LogoutEndsTheSessionEverywhere) {
  const std::string cookie = Login("reader", "reader-password");
  Response res = handlers_->Handle(WithSession("POST", "/logout", cookie, "csrf=" + Csrf(cookie)));
  EXPECT_EQ(res.status, 303U);
  EXPECT_THAT(Header(res, "Set-Cookie"), HasSubstr("Max-Age=0"));
  // The old cookie (say, a stolen copy) no longer works.
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/account/", cookie)).status, 303U);
}

TEST_F(UiTest, TokensCreatedOnTheAccountPageUploadOnlyWhereScoped) {
  const std::string cookie = Login("uploader", "uploader-password");
  Response res = handlers_->Handle(
      WithSession("POST", "/account/tokens", cookie,
                  "name=ci&scope=upload&projects=foo&expires_days=&csrf=" + Csrf(cookie)));
  ASSERT_EQ(res.status, 200U) << res.body;
  const std::string token = TokenIn(res.body);
  ASSERT_EQ(token.size(), 89U) << res.body;

  const std::string wheel = Wheel("foo", "1.0", Metadata("Foo", "1.0"));
  EXPECT_EQ(PostUpload(TwineForm(kWheelName, wheel), "__token__", token).status, 200U);
  const std::string bar = Wheel("bar", "1.0", Metadata("bar", "1.0"));
  Response refused =
      PostUpload(TwineForm("bar-1.0-py3-none-any.whl", bar, "bar"), "__token__", token);
  EXPECT_EQ(refused.status, 403U);
  EXPECT_THAT(refused.body, HasSubstr("token"));
  // Limited to foo: nothing else can be read either, not even the project list.
  RequestHead list = Head("GET", "/simple/", {{"Authorization", BasicAuth("__token__", token)}});
  EXPECT_EQ(handlers_->Handle(list).status, 403U);
  RequestHead page =
      Head("GET", "/simple/foo/", {{"Authorization", BasicAuth("__token__", token)}});
  EXPECT_EQ(handlers_->Handle(page).status, 200U);
  // A token cannot manage tokens or use the admin API.
  RequestHead api = Head("GET", "/api/tokens", {{"Authorization", BasicAuth("__token__", token)}});
  EXPECT_EQ(handlers_->Handle(api).status, 403U);

  // Revoked from the account page: refused at once on this instance.
  auto tokens = auth_->ListTokens("uploader");
  ASSERT_TRUE(tokens.has_value());
  ASSERT_EQ(tokens->size(), 1U);
  Response revoked = handlers_->Handle(WithSession(
      "POST", "/account/tokens/" + tokens->front().id + "/revoke", cookie, "csrf=" + Csrf(cookie)));
  EXPECT_EQ(revoked.status, 303U);
  EXPECT_EQ(handlers_->Handle(page).status, 401U);
}

TEST_F(UiTest, ReadersCannotMakeUploadTokens) {
  const std::string cookie = Login("reader", "reader-password");
  Response res = handlers_->Handle(
      WithSession("POST", "/account/tokens", cookie, "name=ci&scope=upload&csrf=" + Csrf(cookie)));
  EXPECT_EQ(res.status, 403U);
  EXPECT_TRUE(TokenIn(res.body).empty());
}

TEST_F(UiTest, UsersLimitedToProjectsUploadOnlyThere) {
  ASSERT_TRUE(auth_->AddUser("limited", "limited-password", auth::Role::kUpload, {"Foo"}).ok());
  const std::string wheel = Wheel("foo", "1.0", Metadata("Foo", "1.0"));
  EXPECT_EQ(PostUpload(TwineForm(kWheelName, wheel), "limited").status, 200U);
  const std::string bar = Wheel("bar", "1.0", Metadata("bar", "1.0"));
  EXPECT_EQ(PostUpload(TwineForm("bar-1.0-py3-none-any.whl", bar, "bar"), "limited").status, 403U);
  // ... and read everything.
  RequestHead list =
      Head("GET", "/simple/", {{"Authorization", BasicAuth("limited", "limited-password")}});
  EXPECT_EQ(handlers_->Handle(list).status, 200U);
}

TEST_F(UiTest, AdminApiManagesUsersTokensAndReleases) {
  UploadFoo();
  auto admin = [&](std::string method, std::string target, std::string body = "") {
    RequestHead head = Head(std::move(method), std::move(target),
                            {{"Authorization", BasicAuth("admin", "admin-password")},
                             {"Content-Type", "application/json"}});
    head.body = std::move(body);
    return handlers_->Handle(head);
  };
  Response created = admin("POST", "/api/users",
                           R"({"name":"ci-bot","password":"ci-bot-password","role":"upload",)"
                           R"("upload_projects":["Foo"]})");
  EXPECT_EQ(created.status, 201U) << created.body;
  Response users = admin("GET", "/api/users");
  EXPECT_EQ(users.status, 200U);
  EXPECT_THAT(users.body,
              HasSubstr(R"("name":"ci-bot","role":"upload","upload_projects":["foo"])"));
  EXPECT_EQ(admin("POST", "/api/users", R"({"name":"ci-bot","password":"x"})").status, 400U);

  Response token = admin(
      "POST", "/api/tokens",
      R"({"user":"ci-bot","name":"main","scope":"upload","projects":["foo"],"expires_days":30})");
  ASSERT_EQ(token.status, 201U) << token.body;
  const auto parsed = boost::json::parse(token.body).as_object();
  const std::string secret(parsed.at("token").as_string());
  const std::string id(parsed.at("id").as_string());
  EXPECT_EQ(TokenIn(secret), secret);
  EXPECT_NE(parsed.at("expires"), nullptr);
  EXPECT_EQ(admin("GET", "/api/tokens?user=ci-bot").status, 200U);

  EXPECT_EQ(admin("POST", "/api/projects/foo/releases/1.0/yank", R"({"reason":"bad"})").status,
            204U);
  EXPECT_TRUE(Yanked());
  EXPECT_EQ(admin("POST", "/api/projects/foo/releases/1.0/unyank").status, 204U);
  EXPECT_FALSE(Yanked());
  EXPECT_EQ(admin("POST", "/api/projects/foo/releases/9.9/yank").status, 404U);

  EXPECT_EQ(admin("DELETE", "/api/projects/foo/files/" + std::string(kSdistName)).status, 204U);
  Response again = PostUpload(TwineForm(kSdistName, sdist_));
  EXPECT_EQ(again.status, 400U);
  EXPECT_EQ(admin("DELETE", "/api/tokens/" + id).status, 204U);
  EXPECT_EQ(admin("DELETE", "/api/users/ci-bot").status, 204U);
  EXPECT_EQ(admin("DELETE", "/api/users/admin").status, 400U);
  EXPECT_EQ(admin("DELETE", "/api/projects/foo").status, 204U);
  EXPECT_EQ(Get("/simple/foo/").status, 404U);

  // Readers may not.
  RequestHead reader = ReaderGet("/api/users");
  EXPECT_EQ(handlers_->Handle(reader).status, 403U);
  EXPECT_EQ(admin("PUT", "/api/nothing").status, 404U);
  EXPECT_EQ(admin("POST", "/api/users", "not json").status, 400U);
}

TEST_F(UiTest, AdminApiClaimsNamesBeforeTheirFirstUpload) {
  Response created = Api("POST", "/api/projects/Internal.Tool/claim");
  EXPECT_EQ(created.status, 201U) << created.body;
  EXPECT_EQ(json::parse(created.body), json::parse(R"({"name":"internal-tool","claimed":true})"));
  auto claimed = index_->IsPrivateName("internal-tool");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_TRUE(*claimed);
  const auto doc = StoredDoc("internal-tool");
  ASSERT_TRUE(doc.has_value());
  EXPECT_TRUE(doc->files.empty());
  EXPECT_EQ(doc->display_name, "Internal.Tool");
  // It serves nothing until its first upload, and is not listed.
  EXPECT_EQ(Get("/simple/internal-tool/").status, 404U);
  EXPECT_EQ(Api("GET", "/api/projects/internal-tool").status, 404U);
  EXPECT_THAT(Get("/simple/").body, Not(HasSubstr("internal")));

  // Claimed already, in any spelling: 200 with false, and the document is left alone.
  Response again = Api("POST", "/api/projects/internal_tool/claim");
  EXPECT_EQ(again.status, 200U) << again.body;
  EXPECT_EQ(json::parse(again.body), json::parse(R"({"name":"internal-tool","claimed":false})"));
  EXPECT_EQ(StoredDoc("internal-tool")->serial, doc->serial);
  EXPECT_EQ(StoredDoc("internal-tool")->display_name, "Internal.Tool");
  // An uploaded project's name is private already.
  UploadFoo();
  const std::int64_t foo_serial = StoredDoc("foo")->serial;
  Response uploaded = Api("POST", "/api/projects/Foo/claim");
  EXPECT_EQ(uploaded.status, 200U);
  EXPECT_EQ(json::parse(uploaded.body), json::parse(R"({"name":"foo","claimed":false})"));
  EXPECT_EQ(StoredDoc("foo")->serial, foo_serial);

  // Refused: an invalid name (400, saying why), a reader (403), a GET (not a route).
  Response bad = Api("POST", "/api/projects/-bad-/claim");
  EXPECT_EQ(bad.status, 400U);
  EXPECT_THAT(bad.body, HasSubstr("not a valid project name"));
  EXPECT_EQ(Api("POST", "/api/projects/other/claim", "", "reader", "reader-password").status, 403U);
  EXPECT_EQ(Api("GET", "/api/projects/other/claim").status, 404U);
  auto other = index_->IsPrivateName("other");
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(*other);
}

TEST_F(UiTest, AdminApiAllowsAndDeniesUpstreamPerProject) {
  UploadFoo();
  const std::int64_t serial = StoredDoc("foo")->serial;
  EXPECT_EQ(Api("POST", "/api/projects/Foo/upstream", R"({"allowed":true})").status, 204U);
  EXPECT_TRUE(StoredDoc("foo")->upstream_allowed);
  EXPECT_EQ(StoredDoc("foo")->serial, serial + 1);
  auto view = index_->GetProject("foo");
  ASSERT_TRUE(view.has_value());
  EXPECT_TRUE((*view)->doc.upstream_allowed);
  EXPECT_THAT(Api("GET", "/api/projects/foo").body, HasSubstr(R"("upstream_allowed":true)"));
  // Setting what is set changes nothing.
  EXPECT_EQ(Api("PUT", "/api/projects/foo/upstream", R"({"allowed":true})").status, 204U);
  EXPECT_EQ(StoredDoc("foo")->serial, serial + 1);

  EXPECT_EQ(Api("POST", "/api/projects/foo/upstream", R"({"allowed":false})").status, 204U);
  EXPECT_FALSE(StoredDoc("foo")->upstream_allowed);
  EXPECT_EQ(StoredDoc("foo")->serial, serial + 2);
  EXPECT_THAT(Api("GET", "/api/projects/foo").body, Not(HasSubstr("upstream_allowed")));

  // A body that is not {"allowed": true|false}: 400 saying what to send; nothing changes.
  for (const std::string body :
       {"", "{}", R"({"allowed":"yes"})", R"({"allowed":1})", R"({"allowed":null})"}) {
    Response bad = Api("POST", "/api/projects/foo/upstream", body);
    EXPECT_EQ(bad.status, 400U) << body;
    EXPECT_THAT(bad.body, HasSubstr(R"(Send {\"allowed\": true} or {\"allowed\": false}.)"))
        << body;
  }
  EXPECT_EQ(Api("POST", "/api/projects/foo/upstream", "[true]").status, 400U);
  EXPECT_EQ(
      Api("POST", "/api/projects/foo/upstream", R"({"allowed":true})", "reader", "reader-password")
          .status,
      403U);
  EXPECT_FALSE(StoredDoc("foo")->upstream_allowed);
  EXPECT_EQ(StoredDoc("foo")->serial, serial + 2);

  // A name nobody uploaded or claimed: 404 (claim it first), and it stays public.
  Response unknown = Api("POST", "/api/projects/nothing-here/upstream", R"({"allowed":true})");
  EXPECT_EQ(unknown.status, 404U);
  EXPECT_THAT(unknown.body, HasSubstr("claim the name"));
  auto still_public = index_->IsPrivateName("nothing-here");
  ASSERT_TRUE(still_public.has_value());
  EXPECT_FALSE(*still_public);
  // A claimed name can be opened to the upstream before its first upload.
  ASSERT_EQ(Api("POST", "/api/projects/nothing-here/claim").status, 201U);
  EXPECT_EQ(Api("POST", "/api/projects/nothing-here/upstream", R"({"allowed":true})").status, 204U);
  EXPECT_TRUE(StoredDoc("nothing-here")->upstream_allowed);
}

TEST_F(UiTest, AdminApiPatchesUsers) {
  EXPECT_EQ(
      Api("PATCH", "/api/users/reader", R"({"role":"upload","upload_projects":["Foo"]})").status,
      204U);
  auto reader = UserNamed("reader");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, auth::Role::kUpload);
  EXPECT_THAT(reader->upload_projects, ::testing::ElementsAre("foo"));

  // Only the password: the old one stops working, the new one works, the role stays, and the
  // user's browser sessions end.
  const std::string reader_cookie = Login("reader", "reader-password");
  EXPECT_EQ(Api("PATCH", "/api/users/reader", R"({"password":"a-new-reader-password"})").status,
            204U);
  EXPECT_EQ(SimpleRootAs("reader", "reader-password"), 401U);
  EXPECT_EQ(SimpleRootAs("reader", "a-new-reader-password"), 200U);
  EXPECT_EQ(handlers_->Handle(WithSession("GET", "/account/", reader_cookie)).status, 303U);
  reader = UserNamed("reader");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, auth::Role::kUpload);
  EXPECT_THAT(reader->upload_projects, ::testing::ElementsAre("foo"));

  // Only the role: a field left out keeps its value while the role is upload; another role
  // drops the project limit.
  EXPECT_EQ(Api("PATCH", "/api/users/reader", R"({"role":"upload"})").status, 204U);
  EXPECT_THAT(UserNamed("reader")->upload_projects, ::testing::ElementsAre("foo"));
  EXPECT_EQ(Api("PATCH", "/api/users/reader", R"({"upload_projects":[]})").status, 204U);
  EXPECT_TRUE(UserNamed("reader")->upload_projects.empty());
  EXPECT_EQ(Api("PATCH", "/api/users/reader", R"({"upload_projects":["foo"]})").status, 204U);
  EXPECT_THAT(UserNamed("reader")->upload_projects, ::testing::ElementsAre("foo"));
  EXPECT_EQ(Api("PATCH", "/api/users/reader", R"({"role":"admin"})").status, 204U);
  EXPECT_EQ(UserNamed("reader")->role, auth::Role::kAdmin);
  EXPECT_TRUE(UserNamed("reader")->upload_projects.empty());

  // Refused with 400 and nothing changes: an unknown role, wrong types, a short password.
  for (const std::string body :
       {R"({"role":"boss"})", R"({"role":3})", R"({"upload_projects":"foo"})",
        R"({"password":"short"})", R"({"password":12345678})", "not json"}) {
    Response bad = Api("PATCH", "/api/users/reader", body);
    EXPECT_EQ(bad.status, 400U) << body;
    EXPECT_EQ(Header(bad, "Content-Type"), "application/json") << body;
  }
  EXPECT_EQ(UserNamed("reader")->role, auth::Role::kAdmin);
  EXPECT_EQ(SimpleRootAs("reader", "a-new-reader-password"), 200U);
  // A good password beside a bad field is refused as a whole: the password stays as it was.
  EXPECT_EQ(
      Api("PATCH", "/api/users/reader", R"({"password":"a-third-reader-password","role":"boss"})")
          .status,
      400U);
  EXPECT_EQ(SimpleRootAs("reader", "a-new-reader-password"), 200U);
  EXPECT_EQ(SimpleRootAs("reader", "a-third-reader-password"), 401U);

  // An unknown user: 404, and no account appears.
  EXPECT_EQ(Api("PATCH", "/api/users/nobody", R"({"role":"read"})").status, 404U);
  EXPECT_EQ(Api("PATCH", "/api/users/nobody", R"({"password":"long-enough-password"})").status,
            404U);
  EXPECT_FALSE(UserNamed("nobody").has_value());
  // Only admins, even for their own account.
  EXPECT_EQ(
      Api("PATCH", "/api/users/uploader", R"({"role":"admin"})", "uploader", "uploader-password")
          .status,
      403U);
  EXPECT_EQ(UserNamed("uploader")->role, auth::Role::kUpload);
}

// A form another site posts carries the browser's remembered basic credentials and a form
// media type (text/plain can hold a body shaped like JSON): the API takes changes only as JSON.
TEST_F(UiTest, AdminApiTakesChangesOnlyAsJson) {
  auto post = [&](std::string target, std::string content_type, std::string body) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", BasicAuth("admin", "admin-password")}};
    if (!content_type.empty()) {
      headers.emplace_back("Content-Type", std::move(content_type));
    }
    RequestHead head = Head("POST", std::move(target), std::move(headers));
    head.body = std::move(body);
    return handlers_->Handle(head);
  };
  const std::string user = R"({"name":"mallory","password":"mallory-password-1","role":"admin"})";
  for (const std::string type : {"text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/jsonx"}) {
    Response refused = post("/api/users", type, user);
    EXPECT_EQ(refused.status, 415U) << type;
    EXPECT_THAT(refused.body, ::testing::HasSubstr("Content-Type: application/json")) << type;
  }
  EXPECT_FALSE(UserNamed("mallory").has_value());

  // JSON in any spelling of its media type; no media type at all for a change without a body.
  EXPECT_EQ(post("/api/users", "Application/JSON; charset=utf-8", user).status, 201U);
  EXPECT_TRUE(UserNamed("mallory").has_value());
  EXPECT_EQ(post("/api/projects/private-name/claim", "", "").status, 201U);
  EXPECT_EQ(post("/api/projects/other-name/claim", "text/plain", "").status, 415U);
}

TEST_F(UiTest, AdminApiDeletesReleases) {
  UploadFoo();
  UploadFoo2();
  EXPECT_EQ(Api("DELETE", "/api/projects/foo/releases/1.0", "", "reader", "reader-password").status,
            403U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheelName, kSdistName, kWheel2Name));

  // Any spelling of the project; the version matched by release key (1.0.0 is 1.0).
  EXPECT_EQ(Api("DELETE", "/api/projects/Foo/releases/1.0.0").status, 204U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));
  EXPECT_THAT(StoredDoc("foo")->deleted_filenames,
              ::testing::UnorderedElementsAre(kWheelName, kSdistName));
  EXPECT_EQ(PostUpload(TwineForm(kWheelName, wheel_)).status, 400U);
  EXPECT_EQ(PostUpload(TwineForm(kSdistName, sdist_)).status, 400U);

  Response again = Api("DELETE", "/api/projects/foo/releases/1.0");
  EXPECT_EQ(again.status, 404U);
  EXPECT_THAT(again.body, HasSubstr("no release 1.0"));
  EXPECT_EQ(Api("DELETE", "/api/projects/nothing/releases/1.0").status, 404U);
  EXPECT_THAT(FooFiles(), ::testing::ElementsAre(kWheel2Name));
}

TEST_F(UiTest, AdminApiShowsOneToken) {
  auto token = auth_->CreateToken("uploader", "ci main", auth::Role::kUpload, {"Foo"}, 0);
  ASSERT_TRUE(token.has_value());
  const std::string id = token->info.id;
  const std::string secret_part = token->secret.substr(token->secret.rfind('-') + 1);

  Response shown = Api("GET", "/api/tokens/" + id);
  ASSERT_EQ(shown.status, 200U) << shown.body;
  const json::object fields = json::parse(shown.body).as_object();
  EXPECT_EQ(json::value_to<std::string>(fields.at("id")), id);
  EXPECT_EQ(json::value_to<std::string>(fields.at("user")), "uploader");
  EXPECT_EQ(json::value_to<std::string>(fields.at("name")), "ci main");
  EXPECT_EQ(json::value_to<std::string>(fields.at("scope")), "upload");
  EXPECT_EQ(json::value_to<std::vector<std::string>>(fields.at("projects")),
            std::vector<std::string>{"foo"});
  EXPECT_TRUE(fields.at("created").is_string());
  EXPECT_TRUE(fields.at("expires").is_null());
  EXPECT_FALSE(fields.contains("token"));
  EXPECT_THAT(shown.body, Not(HasSubstr(secret_part)));

  // Its owner sees it (with a password); another account cannot tell it from none.
  EXPECT_EQ(Api("GET", "/api/tokens/" + id, "", "uploader", "uploader-password").status, 200U);
  Response others = Api("GET", "/api/tokens/" + id, "", "reader", "reader-password");
  Response none = Api("GET", "/api/tokens/0123456789abcdef");
  EXPECT_EQ(others.status, 404U);
  EXPECT_EQ(none.status, 404U);
  EXPECT_EQ(others.body, none.body);
  // Errors are JSON: the message, the status with the message as its reason, the title.
  EXPECT_EQ(json::parse(none.body),
            json::parse(R"({"message":"No such token.","code":"404 No such token.",)"
                        R"("title":"Not Found"})"));
  // The token itself cannot look.
  EXPECT_EQ(Api("GET", "/api/tokens/" + id, "", "__token__", token->secret).status, 403U);

  ASSERT_EQ(Api("DELETE", "/api/tokens/" + id).status, 204U);
  EXPECT_EQ(Api("GET", "/api/tokens/" + id).status, 404U);
}

TEST_F(UiTest, SessionApiCallsNeedTheCsrfHeader) {
  UploadFoo();
  const std::string cookie = Login("admin", "admin-password");
  RequestHead head = WithSession("POST", "/api/projects/foo/releases/1.0/yank", cookie, "{}");
  for (auto& [name, value] : head.headers) {
    if (name == "Content-Type") {
      value = "application/json";
    }
  }
  EXPECT_EQ(handlers_->Handle(head).status, 403U);
  head.headers.emplace_back("X-CSRF-Token", Csrf(cookie));
  EXPECT_EQ(handlers_->Handle(head).status, 204U);
}

TEST_F(UiTest, ReleasePagesAndSearchRender) {
  UploadFoo();
  Response release = Get("/project/foo/1.0/");
  EXPECT_EQ(release.status, 200U);
  EXPECT_THAT(release.body, HasSubstr(kWheelName));
  EXPECT_EQ(Get("/project/foo/9.9/").status, 404U);
  Response search = Get("/search?q=fo");
  EXPECT_EQ(search.status, 200U);
  EXPECT_THAT(search.body, HasSubstr("project/foo/"));
}

TEST_F(UiTest, FormBodiesAreOnlyTakenWhereFormsGo) {
  EXPECT_TRUE(Handlers::TakesBody(Head("POST", "/login")));
  EXPECT_TRUE(Handlers::TakesBody(Head("DELETE", "/api/users/x")));
  EXPECT_TRUE(Handlers::TakesBody(Head("POST", "/manage/project/foo/yank")));
  EXPECT_FALSE(Handlers::TakesBody(Head("POST", "/simple/")));
  EXPECT_FALSE(Handlers::TakesBody(Head("GET", "/login")));
  EXPECT_FALSE(Handlers::TakesBody(Head("POST", "/legacy/")));
  EXPECT_EQ(handlers_->Handle(Head("POST", "/simple/")).status, 405U);
}

}  // namespace
}  // namespace pydepot::http
