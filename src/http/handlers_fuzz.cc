// libFuzzer target: request handling (Handlers::Handle, TryHandleInMemory, and uploads through
// BeginUpload / FeedUpload / FinishUpload) on hostile request heads and bodies, against an index
// holding one project (foo 1.0: a wheel, its .metadata, an sdist) and three users.
//
// Input: byte 0 is a set of flags, the rest an HTTP-like request:
//     bit 0     the store is a local directory (else memory)
//     bit 1     --public-read
//     bit 2     password checks are throttled (the server's default limits); else unlimited,
//               so that the fuzzer's wrong passwords do not lock the users out of later inputs
//     bits 3-7  the chunk size an upload body is fed in (0: one chunk)
//     METHOD SP TARGET LF, then "Name: value" LF lines up to an empty line, then the body
// (a CR before an LF is dropped, so seeds may use CRLF). Seeds: tests/fuzz/corpus/handlers_fuzz/.
// With HANDLERS_FUZZ_VERBOSE=1 in the environment each input's request line and answer are
// printed to stderr (run the binary on single files to see what a seed does).
//
// Checked on every response:
//  - a status of 200..499 (these stores never fail, so never 5xx), a reason phrase and header
//    fields of printable ASCII (no CR/LF: no response splitting), one body at most, and a
//    Content-Length equal to the bytes sent;
//  - without valid credentials (and without --public-read) nothing is served but the login form
//    and the stylesheet: no 200, 206 or 304; a 401 carries WWW-Authenticate, a 429 (only when
//    throttled) Retry-After in seconds;
//  - a file body (stream or descriptor) is exactly one stored file (200) or a piece of one
//    (206): a path can never reach the users document, an index document or anything else;
//  - no response holds a stored password hash (unless the request itself carried it);
//  - TryHandleInMemory, when it answers, answers as Handle does;
//  - a request that is not an accepted upload leaves the store exactly as it was, except a form
//    post or admin API call (Handlers::TakesBody) with valid credentials, and a login, which may
//    only add the session key;
//  - an upload answered 200 came from a user with the upload role and its file is listed with
//    the sha256 of the bytes sent; any upload leaves no temp file behind.
#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "base/check.h"
#include "base/hash.h"
#include "base/status.h"
#include "http/handlers.h"
#include "index/index.h"
#include "model/project_name.h"
#include "storage/keys.h"
#include "storage/storage.h"

namespace {

namespace fs = std::filesystem;
using pydepot::http::HandlerOptions;
using pydepot::http::Handlers;
using pydepot::http::RequestHead;
using pydepot::http::Response;

struct Account {
  const char* user;
  const char* password;
  pydepot::auth::Role role;
};
constexpr Account kAccounts[] = {
    {"reader", "reader-password", pydepot::auth::Role::kRead},
    {"uploader", "uploader-password", pydepot::auth::Role::kUpload},
    {"admin", "admin-password", pydepot::auth::Role::kAdmin},
};

constexpr char kMetadata[] =
    "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nSummary: The fuzz world's package\n"
    "Requires-Python: >=3.8\n\nA description.\n";

la_ssize_t AppendToString(struct archive* /*writer*/, void* client, const void* buffer,
                          size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

// A zip or a pax tar.gz of (path, bytes) members, with fixed times.
std::string MakeArchive(bool zip, const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  struct archive* writer = archive_write_new();
  if (zip) {
    PYDEPOT_CHECK(archive_write_set_format_zip(writer) == ARCHIVE_OK);
  } else {
    PYDEPOT_CHECK(archive_write_set_format_pax_restricted(writer) == ARCHIVE_OK);
    PYDEPOT_CHECK(archive_write_add_filter_gzip(writer) == ARCHIVE_OK);
  }
  PYDEPOT_CHECK(archive_write_set_bytes_in_last_block(writer, 1) == ARCHIVE_OK);
  PYDEPOT_CHECK(archive_write_open(writer, &out, nullptr, AppendToString, nullptr) == ARCHIVE_OK);
  for (const auto& [path, bytes] : files) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, path.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    PYDEPOT_CHECK(archive_write_header(writer, entry) == ARCHIVE_OK);
    PYDEPOT_CHECK(archive_write_data(writer, bytes.data(), bytes.size()) ==
                  static_cast<la_ssize_t>(bytes.size()));
    archive_entry_free(entry);
  }
  PYDEPOT_CHECK(archive_write_close(writer) == ARCHIVE_OK);
  archive_write_free(writer);
  return out;
}

struct Blobs {
  std::string wheel = MakeArchive(true, {{"foo/__init__.py", "VALUE = 1\n"},
                                         {"foo-1.0.dist-info/METADATA", kMetadata},
                                         {"foo-1.0.dist-info/WHEEL",
                                          "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n"},
                                         {"foo-1.0.dist-info/RECORD", ""}});
  std::string sdist = MakeArchive(false, {{"foo-1.0/PKG-INFO", kMetadata},
                                          {"foo-1.0/pyproject.toml", "[project]\nname = \"foo\"\n"},
                                          {"foo-1.0/foo/__init__.py", "VALUE = 1\n"}});
  std::string metadata = kMetadata;
};

const Blobs& KnownBlobs() {
  static const Blobs* const kBlobs = new Blobs();
  return *kBlobs;
}

std::string Base64(std::string_view in) {
  std::string out(sodium_base64_ENCODED_LEN(in.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(in.data()),
                    in.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

// A twine-like multipart body uploading `bytes` as `filename` of foo 1.0.
std::string UploadBody(std::string_view boundary, const std::string& filename,
                       const std::string& bytes) {
  const pydepot::Digests digests = pydepot::ComputeDigests(bytes);
  const bool wheel = filename.ends_with(".whl");
  const std::pair<const char*, std::string> fields[] = {
      {":action", "file_upload"},
      {"protocol_version", "1"},
      {"metadata_version", "2.1"},
      {"name", "foo"},
      {"version", "1.0"},
      {"filetype", wheel ? "bdist_wheel" : "sdist"},
      {"pyversion", wheel ? "py3" : "source"},
      {"sha256_digest", digests.sha256},
      {"md5_digest", digests.md5},
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    out += "--" + std::string(boundary) + "\r\nContent-Disposition: form-data; name=\"" + name +
           "\"\r\n\r\n" + value + "\r\n";
  }
  out += "--" + std::string(boundary) +
         "\r\nContent-Disposition: form-data; name=\"content\"; filename=\"" + filename +
         "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + bytes + "\r\n--" +
         std::string(boundary) + "--\r\n";
  return out;
}

// The store, index, accounts and handlers one input runs against.
class World {
 public:
  explicit World(bool local) : local_(local) {
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("pydepot_handlers_fuzz_" + std::to_string(::getpid())) /
           std::to_string(counter++);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec);
    PYDEPOT_CHECK(!ec);
    if (local_) {
      auto store = pydepot::storage::NewLocalStorage(dir_ / "store");
      PYDEPOT_CHECK(store.has_value());
      storage_ = *std::move(store);
    } else {
      storage_ = pydepot::storage::NewMemStorage();
    }
    spool_ = storage_->SpoolDirectory().value_or(dir_ / "spool");
    fs::create_directories(spool_, ec);
    PYDEPOT_CHECK(!ec);

    pydepot::index::IndexOptions index_options;
    index_options.cache_ttl = std::chrono::hours(1);  // answers do not depend on the clock
    index_ = pydepot::index::Index::Create(*storage_, index_options);
    pydepot::auth::AuthenticatorOptions auth_options;
    auth_options.argon2_ops_limit = crypto_pwhash_OPSLIMIT_MIN;
    auth_options.argon2_mem_limit = crypto_pwhash_MEMLIMIT_MIN;
    auth_options.users_ttl = std::chrono::hours(1);
    auto authenticator = pydepot::auth::Authenticator::Create(*storage_, auth_options);
    PYDEPOT_CHECK(authenticator.has_value());
    auth_ = *std::move(authenticator);
    for (const Account& account : kAccounts) {
      PYDEPOT_CHECK(auth_->AddUser(account.user, account.password, account.role).ok());
    }
    for (bool public_read : {false, true}) {
      for (bool throttled : {false, true}) {
        HandlerOptions options;
        options.public_read = public_read;
        options.temp_dir = spool_;
        options.max_upload_bytes = 64 << 10;
        if (!throttled) {
          options.throttle.per_address = 0;
          options.throttle.per_user = 0;
        }
        handlers_[public_read][throttled] = std::make_unique<Handlers>(*index_, *auth_, options);
      }
    }

    const Blobs& blobs = KnownBlobs();
    const std::pair<const char*, const std::string*> files[] = {
        {"foo-1.0-py3-none-any.whl", &blobs.wheel}, {"foo-1.0.tar.gz", &blobs.sdist}};
    for (const auto& [filename, bytes] : files) {
      RequestHead head;
      head.method = "POST";
      head.target = "/legacy/";
      head.remote_address = "127.0.0.1";
      head.headers = {{"Content-Type", "multipart/form-data; boundary=world"},
                      {"Authorization", "Basic " + Base64("uploader:uploader-password")}};
      auto start = handlers(false, false).BeginUpload(head);
      PYDEPOT_CHECK(start.body != nullptr);
      PYDEPOT_CHECK(
          !handlers(false, false).FeedUpload(*start.body, UploadBody("world", filename, *bytes)));
      PYDEPOT_CHECK(handlers(false, false).FinishUpload(*start.body, head).status == 200);
    }

    // The password hashes in the users document: "$argon2id$...", up to the closing quote.
    auto users = storage_->Get(pydepot::storage::UsersKey());
    PYDEPOT_CHECK(users.has_value());
    for (std::size_t at = users->data.find("$argon2id$"); at != std::string::npos;
         at = users->data.find("$argon2id$", at + 1)) {
      secrets_.push_back(users->data.substr(at, users->data.find('"', at) - at));
    }
    PYDEPOT_CHECK(secrets_.size() == std::size(kAccounts));
  }

  ~World() {
    for (auto& row : handlers_) {
      for (auto& handlers : row) {
        handlers.reset();
      }
    }
    auth_.reset();
    index_.reset();
    storage_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  World(const World&) = delete;
  World& operator=(const World&) = delete;
  World(World&&) = delete;
  World& operator=(World&&) = delete;

  Handlers& handlers(bool public_read, bool throttled) {
    return *handlers_[public_read][throttled];
  }
  pydepot::index::Index& index() { return *index_; }
  const fs::path& spool() const { return spool_; }
  const std::vector<std::string>& secrets() const { return secrets_; }

  // Every key with its etag.
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> out;
    auto keys = storage_->List("");
    PYDEPOT_CHECK(keys.has_value());
    for (const std::string& key : *keys) {
      auto info = storage_->Head(key);
      PYDEPOT_CHECK(info.has_value());
      out[key] = info->etag;
    }
    return out;
  }

 private:
  bool local_;
  fs::path dir_;
  fs::path spool_;
  std::unique_ptr<pydepot::storage::Storage> storage_;
  std::unique_ptr<pydepot::index::Index> index_;
  std::unique_ptr<pydepot::auth::Authenticator> auth_;
  std::unique_ptr<Handlers> handlers_[2][2];  // [public_read][throttled]
  std::vector<std::string> secrets_;          // the stored password hashes
};

std::unique_ptr<World> worlds[2];  // [local]: built on first use, rebuilt after a change

World& GetWorld(bool local) {
  if (!worlds[local]) {
    worlds[local] = std::make_unique<World>(local);
  }
  return *worlds[local];
}

void RemoveTempRoot() {
  worlds[0].reset();
  worlds[1].reset();
  std::error_code ec;
  fs::remove_all(
      fs::temp_directory_path() / ("pydepot_handlers_fuzz_" + std::to_string(::getpid())), ec);
}

struct Input {
  bool local = false;
  bool public_read = false;
  bool throttled = false;
  std::size_t chunk = 0;
  RequestHead head;
  std::string_view body;
  std::string_view raw;  // everything after the flags byte
};

// The role the request's credentials hold, or nullopt when they are missing or wrong.
std::optional<pydepot::auth::Role> CredentialRole(const RequestHead& head) {
  auto credentials = pydepot::auth::ParseBasicAuthorization(head.Header("Authorization"));
  if (!credentials.has_value()) {
    return std::nullopt;
  }
  for (const Account& account : kAccounts) {
    if (credentials->user == account.user && credentials->password == account.password) {
      return account.role;
    }
  }
  return std::nullopt;
}

bool PrintableAscii(std::string_view text, bool allow_tab) {
  for (unsigned char c : text) {
    if (!((c >= 0x20 && c < 0x7f) || (allow_tab && c == '\t'))) {
      return false;
    }
  }
  return true;
}

bool IsTokenChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string HeaderValue(const Response& res, std::string_view name) {
  for (const auto& [key, value] : res.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

// The bytes the server would send as the body (a stream is consumed).
std::string BodyBytes(Response& res) {
  int kinds = (res.body.empty() ? 0 : 1) + (res.page_owner ? 1 : 0) + (res.stream ? 1 : 0) +
              (res.file.valid() ? 1 : 0);
  PYDEPOT_CHECK(kinds <= 1);
  if (res.file.valid()) {
    PYDEPOT_CHECK(res.stream_length >= 0 && res.file_offset >= 0);
    std::string out(static_cast<std::size_t>(res.stream_length), '\0');
    const ssize_t n = ::pread(res.file.get(), out.data(), out.size(), res.file_offset);
    PYDEPOT_CHECK(n == res.stream_length);
    return out;
  }
  if (res.stream) {
    std::string out;
    char buffer[4096];
    while (true) {
      auto n = res.stream->Read(buffer, sizeof buffer);
      PYDEPOT_CHECK(n.has_value());
      if (*n == 0) {
        break;
      }
      out.append(buffer, *n);
    }
    PYDEPOT_CHECK(static_cast<std::int64_t>(out.size()) == res.stream_length);
    return out;
  }
  if (res.page_owner) {
    return std::string(res.page);
  }
  return res.body;
}

// True when `text` holds `secret`. A plain byte loop: libFuzzer watches memcmp and
// std::string::find, and would learn the secret from the comparison itself.
bool Holds(std::string_view text, std::string_view secret) {
  for (std::size_t at = 0; at + secret.size() <= text.size(); ++at) {
    std::size_t n = 0;
    while (n < secret.size() && text[at + n] == secret[n]) {
      ++n;
    }
    if (n == secret.size()) {
      return true;
    }
  }
  return false;
}

// The checks every response to `in` passes; returns its body bytes.
std::string CheckResponse(Response& res, const Input& in, const World& world) {
  const RequestHead& head = in.head;
  PYDEPOT_CHECK(res.status >= 200 && res.status < 500);
  PYDEPOT_CHECK(PrintableAscii(res.reason, false));
  for (const auto& [name, value] : res.headers) {
    PYDEPOT_CHECK(!name.empty());
    for (unsigned char c : name) {
      PYDEPOT_CHECK(IsTokenChar(c));
    }
    PYDEPOT_CHECK(PrintableAscii(value, true));
  }
  const bool file_body = res.stream != nullptr || res.file.valid();
  const std::int64_t declared = res.ContentLength();
  std::string bytes = BodyBytes(res);
  if (res.declared_length) {
    PYDEPOT_CHECK(head.method == "HEAD" && bytes.empty() && *res.declared_length >= 0);
  } else {
    PYDEPOT_CHECK(declared == static_cast<std::int64_t>(bytes.size()));
  }
  if (res.head_only) {
    PYDEPOT_CHECK(head.method == "HEAD");
  }
  if (res.status == 304) {
    PYDEPOT_CHECK(bytes.empty());
  }

  const std::optional<pydepot::auth::Role> role = CredentialRole(head);
  std::string_view path = head.target;
  path = path.substr(0, path.find('?'));
  const bool public_page = path == "/login" || path == "/static/style.css";
  if (!role && !public_page && !(in.public_read && head.Header("Authorization").empty())) {
    PYDEPOT_CHECK(res.status != 200 && res.status != 206 && res.status != 304);
  }
  if (res.status == 401) {
    PYDEPOT_CHECK(!HeaderValue(res, "WWW-Authenticate").empty());
  }
  if (res.status == 429) {
    PYDEPOT_CHECK(in.throttled);
    const std::string retry_after = HeaderValue(res, "Retry-After");
    PYDEPOT_CHECK(!retry_after.empty() && retry_after.size() <= 6 && retry_after != "0");
    for (char c : retry_after) {
      PYDEPOT_CHECK(c >= '0' && c <= '9');
    }
  }

  const Blobs& blobs = KnownBlobs();
  if (file_body) {
    PYDEPOT_CHECK(res.status == 200 || res.status == 206);
    if (res.status == 200) {
      PYDEPOT_CHECK(bytes == blobs.wheel || bytes == blobs.sdist || bytes == blobs.metadata);
    } else {
      PYDEPOT_CHECK(!bytes.empty());
      PYDEPOT_CHECK(blobs.wheel.find(bytes) != std::string::npos ||
                    blobs.sdist.find(bytes) != std::string::npos ||
                    blobs.metadata.find(bytes) != std::string::npos);
    }
  }
  for (const std::string& secret : world.secrets()) {
    if (!Holds(in.raw, secret)) {  // an echo of the request reveals nothing
      PYDEPOT_CHECK(!Holds(bytes, secret) && !Holds(res.reason, secret));
      for (const auto& [name, value] : res.headers) {
        PYDEPOT_CHECK(!Holds(value, secret));
      }
    }
  }
  return bytes;
}

Input ParseInput(std::string_view data) {
  Input in;
  const auto flags = static_cast<unsigned char>(data[0]);
  in.local = (flags & 1) != 0;
  in.public_read = (flags & 2) != 0;
  in.throttled = (flags & 4) != 0;
  in.chunk = flags >> 3;
  data.remove_prefix(1);
  in.raw = data;
  in.head.remote_address = "127.0.0.1";

  auto next_line = [&data]() {
    const std::size_t lf = data.find('\n');
    std::string_view line = data.substr(0, lf);
    data.remove_prefix(lf == std::string_view::npos ? data.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    return line;
  };
  const std::string_view request_line = next_line();
  const std::size_t space = request_line.find(' ');
  in.head.method = std::string(request_line.substr(0, space));
  if (space != std::string_view::npos) {
    in.head.target = std::string(request_line.substr(space + 1));
  }
  while (!data.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) {
      break;
    }
    const std::size_t colon = line.find(':');
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    in.head.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  in.body = data;
  return in;
}

void Trace(const Input& in, const char* what, const Response& res) {
  static const bool kVerbose = std::getenv("HANDLERS_FUZZ_VERBOSE") != nullptr;
  if (kVerbose) {
    std::cerr << (in.local ? "local " : "memory ") << (in.public_read ? "public " : "")
              << (in.throttled ? "throttled " : "") << in.head.method << " " << in.head.target
              << " -> " << what << " " << res.status << " " << res.reason << "\n";
  }
}

bool SpoolIsEmpty(const fs::path& spool) {
  std::error_code ec;
  return fs::directory_iterator(spool, ec) == fs::directory_iterator() && !ec;
}

void RunUpload(const Input& in, World& world) {
  Handlers& handlers = world.handlers(in.public_read, in.throttled);
  const auto before = world.Snapshot();
  auto start = handlers.BeginUpload(in.head);
  const std::optional<pydepot::auth::Role> role = CredentialRole(in.head);
  if (start.reject) {
    PYDEPOT_CHECK(start.body == nullptr);
    Trace(in, "BeginUpload", *start.reject);
    CheckResponse(*start.reject, in, world);
    PYDEPOT_CHECK(start.reject->status >= 400);
    PYDEPOT_CHECK(world.Snapshot() == before);
    return;
  }
  PYDEPOT_CHECK(start.body != nullptr);
  PYDEPOT_CHECK(role.has_value() && *role >= pydepot::auth::Role::kUpload);

  std::optional<Response> res;
  const std::size_t chunk = in.chunk == 0 ? in.body.size() + 1 : in.chunk;
  for (std::size_t at = 0; at < in.body.size() && !res; at += chunk) {
    res = handlers.FeedUpload(*start.body, in.body.substr(at, chunk));
  }
  if (!res) {
    res = handlers.FinishUpload(*start.body, in.head);
  }
  Trace(in, "upload", *res);
  CheckResponse(*res, in, world);
  bool created = false;
  if (res->status == 200) {
    const pydepot::doc::UploadForm& form = start.body->collector.form();
    PYDEPOT_CHECK(form.content.has_value());
    auto view = world.index().GetProject(pydepot::model::NormalizeProjectName(form.Get("name")));
    PYDEPOT_CHECK(view.has_value());
    const pydepot::doc::FileEntry* entry = (*view)->doc.FindFile(form.content->filename);
    PYDEPOT_CHECK(entry != nullptr);
    PYDEPOT_CHECK(entry->sha256 == form.content->digests.sha256);
    created = world.Snapshot() != before;
  } else {
    PYDEPOT_CHECK(res->status >= 400);
    PYDEPOT_CHECK(world.Snapshot() == before);
  }
  start.body.reset();
  PYDEPOT_CHECK(SpoolIsEmpty(world.spool()));
  if (created) {
    worlds[in.local].reset();  // the next input starts from foo 1.0 alone again
  }
}

void RunRequest(const Input& raw_in, World& world) {
  Input in = raw_in;
  const bool takes_body = Handlers::TakesBody(in.head);
  if (takes_body) {
    in.head.body = in.body.substr(0, Handlers::kMaxFormBytes);
  }
  Handlers& handlers = world.handlers(in.public_read, in.throttled);
  const auto before = world.Snapshot();
  Response full = handlers.Handle(in.head);
  Trace(in, "Handle", full);
  const unsigned full_status = full.status;
  const std::string full_bytes = CheckResponse(full, in, world);
  const auto after = world.Snapshot();
  if (after != before) {
    // Only a form post or an API call changes anything: with valid credentials, or a login
    // (which may create the shared session key, nothing else).
    PYDEPOT_CHECK(takes_body);
    std::string_view path = in.head.target;
    path = path.substr(0, path.find('?'));
    if (path == "/login") {
      auto expected = before;
      expected[pydepot::storage::SessionKeyKey()] = after.at(pydepot::storage::SessionKeyKey());
      PYDEPOT_CHECK(after == expected);
    } else {
      PYDEPOT_CHECK(CredentialRole(in.head).has_value());
    }
    worlds[in.local].reset();  // the next input starts from foo 1.0 alone again
    return;
  }
  std::optional<Response> fast = handlers.TryHandleInMemory(in.head);
  if (fast) {
    Trace(in, "TryHandleInMemory", *fast);
    const std::string fast_bytes = CheckResponse(*fast, in, world);
    if (fast->status != 429 && full_status != 429) {
      PYDEPOT_CHECK(fast->status == full_status);
      PYDEPOT_CHECK(fast_bytes == full_bytes);
    }
  }
  PYDEPOT_CHECK(world.Snapshot() == before);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool kInitialized = [] {
    PYDEPOT_CHECK(sodium_init() >= 0);
    std::atexit(RemoveTempRoot);
    return true;
  }();
  (void)kInitialized;
  if (size == 0) {
    return 0;
  }
  const Input in = ParseInput(std::string_view(reinterpret_cast<const char*>(data), size));
  World& world = GetWorld(in.local);
  if (Handlers::IsUpload(in.head)) {
    RunUpload(in, world);
  } else {
    RunRequest(in, world);
  }
  return 0;
}
