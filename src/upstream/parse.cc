// Parsing upstream project pages: PEP 691 JSON (Boost.JSON) and PEP 503 HTML.
//
// The HTML reader is a small hand-written scanner for start tags and their attributes, not an
// HTML5 parser: a project page is a flat list of anchors, pip itself reads it with Python's
// simple html.parser, and no well-kept C++ HTML5 parser packaged in Debian is worth the
// dependency for that. The scanner follows the HTML5 tokenizer where it matters for anchors
// (case-insensitive names, double-, single- or un-quoted values, valueless attributes, the
// first of duplicate attributes wins, comments, <script> and <style> contents skipped) and never
// needs closing tags.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include <boost/json.hpp>

#include "model/filename.h"
#include "model/project_name.h"
#include "upstream/upstream.h"

namespace pydepot::upstream {
namespace {

namespace json = boost::json;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The lower-cased digest when `hex` is 64 hex digits, else "".
std::string NormalizeSha256(std::string_view hex) {
  if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return "";
  }
  return Lower(hex);
}

// A filename that is safe to use as the last part of a storage key and a URL path.
bool IsPlainFilename(std::string_view filename) {
  if (filename.empty() || filename == "." || filename == "..") {
    return false;
  }
  return std::none_of(filename.begin(), filename.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '/' || c == '\\';
  });
}

// Collects the files of one page, dropping those pydepot cannot serve (see upstream.h).
class Collector {
 public:
  explicit Collector(std::string_view name) { project_.name = model::NormalizeProjectName(name); }

  // `file.url` is absolute and without a fragment; the filename is taken from it.
  void Add(UpstreamFile file) {
    if (file.sha256.empty() || !HttpOrigin(file.url)) {
      return;
    }
    file.filename = UrlFilename(file.url);
    if (!IsPlainFilename(file.filename) ||
        !model::ParseDistFilename(file.filename, project_.name).has_value() ||
        !seen_.insert(file.filename).second) {
      return;
    }
    project_.files.push_back(std::move(file));
  }

  UpstreamProject Take() { return std::move(project_); }

 private:
  UpstreamProject project_;
  std::unordered_set<std::string> seen_;
};

// "1.x" is the only major version a client may read (PEP 629); a missing version means 1.0.
bool IsSupportedApiVersion(std::string_view version) {
  std::string_view major = version.substr(0, version.find('.'));
  return major == "1";
}

// ---- JSON ----

// core-metadata / dist-info-metadata: true, false, or {"sha256": "<hex>"}.
void ReadJsonMetadata(const json::value& value, UpstreamFile& file) {
  if (const bool* flag = value.if_bool()) {
    file.metadata = *flag;
  } else if (const json::object* hashes = value.if_object()) {
    file.metadata = true;
    if (const json::value* sha = hashes->if_contains("sha256")) {
      if (const json::string* text = sha->if_string()) {
        file.metadata_sha256 = NormalizeSha256(*text);
      }
      // A hash that is not one cannot be checked: do not offer the metadata at all.
      file.metadata = !file.metadata_sha256.empty();
    }
  }
}

std::optional<UpstreamFile> ReadJsonFile(const json::value& value, std::string_view page_url) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    return std::nullopt;
  }
  UpstreamFile file;
  const json::value* url = object->if_contains("url");
  if (url == nullptr || !url->is_string()) {
    return std::nullopt;
  }
  file.url = ResolveUrl(page_url, url->get_string());
  if (const json::value* hashes = object->if_contains("hashes"); hashes && hashes->is_object()) {
    if (const json::value* sha = hashes->get_object().if_contains("sha256");
        sha && sha->is_string()) {
      file.sha256 = NormalizeSha256(sha->get_string());
    }
  }
  if (const json::value* rp = object->if_contains("requires-python"); rp && rp->is_string()) {
    file.requires_python = std::string(rp->get_string());
  }
  // As pip reads it: true (or a non-string truthy value) is yanked without a reason, a
  // non-empty string is the reason, false, null and "" are not yanked.
  if (const json::value* yanked = object->if_contains("yanked")) {
    if (const json::string* reason = yanked->if_string()) {
      if (!reason->empty()) {
        file.yanked = std::string(*reason);
      }
    } else if (const bool* flag = yanked->if_bool(); flag && *flag) {
      file.yanked = "";
    }
  }
  if (const json::value* size = object->if_contains("size")) {
    if (const std::int64_t* n = size->if_int64(); n && *n >= 0) {
      file.size = *n;
    } else if (const std::uint64_t* u = size->if_uint64();
               u && *u <= static_cast<std::uint64_t>(INT64_MAX)) {
      file.size = static_cast<std::int64_t>(*u);
    }
  }
  if (const json::value* time = object->if_contains("upload-time"); time && time->is_string()) {
    file.upload_time_micros = ParseRfc3339Micros(time->get_string()).value_or(0);
  }
  // PEP 714: core-metadata, else the deprecated dist-info-metadata, else the key PyPI sent
  // while pip could not read the other two.
  for (std::string_view key : {"core-metadata", "dist-info-metadata", "data-dist-info-metadata"}) {
    if (const json::value* metadata = object->if_contains(key)) {
      ReadJsonMetadata(*metadata, file);
      break;
    }
  }
  return file;
}

// ---- HTML ----

void AppendUtf8(std::string& out, std::uint32_t code) {
  if (code == 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    code = 0xFFFD;
  }
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Decodes the character references an attribute value of an index page may hold: &amp; &lt;
// &gt; &quot; &apos; and numeric ones (&#39; &#x27;, the ';' optional as in HTML5). Anything
// else is kept as written.
std::string DecodeEntities(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '&') {
      out.push_back(text[i++]);
      continue;
    }
    std::string_view rest = text.substr(i + 1);
    bool decoded = false;
    for (const auto& [entity, c] : kNamed) {
      if (rest.starts_with(entity)) {  // named references are case-sensitive
        out.push_back(c);
        i += 1 + entity.size();
        decoded = true;
        break;
      }
    }
    if (!decoded && !rest.empty() && rest[0] == '#') {
      const bool hex = rest.size() > 1 && (rest[1] == 'x' || rest[1] == 'X');
      std::size_t j = hex ? 2 : 1;
      const std::size_t start = j;
      std::uint32_t code = 0;
      bool overflow = false;
      while (j < rest.size() && (hex ? std::isxdigit(static_cast<unsigned char>(rest[j])) != 0
                                     : std::isdigit(static_cast<unsigned char>(rest[j])) != 0)) {
        const char c = rest[j];
        const std::uint32_t digit =
            std::isdigit(static_cast<unsigned char>(c)) != 0
                ? static_cast<std::uint32_t>(c - '0')
                : static_cast<std::uint32_t>(std::tolower(static_cast<unsigned char>(c)) - 'a' +
                                             10);
        if (code > 0x10FFFF) {
          overflow = true;
        } else {
          code = code * (hex ? 16 : 10) + digit;
        }
        ++j;
      }
      if (j > start) {
        if (j < rest.size() && rest[j] == ';') {
          ++j;
        }
        AppendUtf8(out, overflow ? 0xFFFD : code);
        i += 1 + j;
        decoded = true;
      }
    }
    if (!decoded) {
      out.push_back(text[i++]);
    }
  }
  return out;
}

bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// One start tag: its lower-cased name and attributes (values entity-decoded; nullopt for an
// attribute written without a value).
struct Tag {
  std::string name;
  std::map<std::string, std::optional<std::string>, std::less<>> attributes;

  const std::optional<std::string>* Find(std::string_view key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? nullptr : &it->second;
  }
  // The attribute's value; "" when it is missing or has none.
  std::string Value(std::string_view key) const {
    const std::optional<std::string>* value = Find(key);
    return value != nullptr && *value ? **value : std::string();
  }
};

class HtmlScanner {
 public:
  explicit HtmlScanner(std::string_view body) : body_(body) {}

  // The next start tag, or nullopt at the end of the body.
  std::optional<Tag> Next() {
    while (true) {
      std::size_t lt = body_.find('<', pos_);
      if (lt == std::string_view::npos || lt + 1 >= body_.size()) {
        pos_ = body_.size();
        return std::nullopt;
      }
      pos_ = lt + 1;
      const char c = body_[pos_];
      if (body_.substr(pos_).starts_with("!--")) {
        std::size_t end = body_.find("-->", pos_ + 3);
        pos_ = end == std::string_view::npos ? body_.size() : end + 3;
      } else if (c == '!' || c == '?' || c == '/') {  // doctype, processing instruction, end tag
        std::size_t end = body_.find('>', pos_);
        pos_ = end == std::string_view::npos ? body_.size() : end + 1;
      } else if (std::isalpha(static_cast<unsigned char>(c)) != 0) {
        Tag tag = ReadTag();
        if (tag.name == "script" || tag.name == "style") {
          SkipRawText(tag.name);
        }
        return tag;
      }
      // Anything else: a '<' in text.
    }
  }

 private:
  Tag ReadTag() {
    Tag tag;
    std::size_t start = pos_;
    while (pos_ < body_.size() && !IsHtmlSpace(body_[pos_]) && body_[pos_] != '/' &&
           body_[pos_] != '>') {
      ++pos_;
    }
    tag.name = Lower(body_.substr(start, pos_ - start));
    while (pos_ < body_.size()) {
      const char c = body_[pos_];
      if (IsHtmlSpace(c) || c == '/') {
        ++pos_;
        continue;
      }
      if (c == '>') {
        ++pos_;
        break;
      }
      // An attribute name runs to a space, '/', '>' or '=' (a leading '=' belongs to it).
      start = pos_++;
      while (pos_ < body_.size() && !IsHtmlSpace(body_[pos_]) && body_[pos_] != '/' &&
             body_[pos_] != '>' && body_[pos_] != '=') {
        ++pos_;
      }
      std::string name = Lower(body_.substr(start, pos_ - start));
      SkipSpaces();
      std::optional<std::string> value;
      if (pos_ < body_.size() && body_[pos_] == '=') {
        ++pos_;
        SkipSpaces();
        value = DecodeEntities(ReadValue());
      }
      tag.attributes.emplace(std::move(name), std::move(value));  // the first one wins
    }
    return tag;
  }

  std::string_view ReadValue() {
    if (pos_ >= body_.size()) {
      return {};
    }
    const char quote = body_[pos_];
    if (quote == '"' || quote == '\'') {
      std::size_t end = body_.find(quote, pos_ + 1);
      std::string_view value = body_.substr(
          pos_ + 1, end == std::string_view::npos ? std::string_view::npos : end - pos_ - 1);
      pos_ = end == std::string_view::npos ? body_.size() : end + 1;
      return value;
    }
    std::size_t start = pos_;
    while (pos_ < body_.size() && !IsHtmlSpace(body_[pos_]) && body_[pos_] != '>') {
      ++pos_;
    }
    return body_.substr(start, pos_ - start);
  }

  void SkipSpaces() {
    while (pos_ < body_.size() && IsHtmlSpace(body_[pos_])) {
      ++pos_;
    }
  }

  // Skips to the end tag of a raw-text element (<script>, <style>), case-insensitively.
  void SkipRawText(std::string_view name) {
    const std::string lower_body = Lower(body_.substr(pos_));
    std::size_t end = lower_body.find("</" + std::string(name));
    pos_ = end == std::string::npos ? body_.size() : pos_ + end;
  }

  std::string_view body_;
  std::size_t pos_ = 0;
};

// The sha256 from an href fragment: "sha256=<hex>", possibly among other "k=v" pairs joined
// by '&' (pip looks for the first [#&]sha256=).
std::string FragmentSha256(std::string_view href) {
  std::size_t hash = href.find('#');
  if (hash == std::string_view::npos) {
    return "";
  }
  std::string_view fragment = href.substr(hash + 1);
  while (!fragment.empty()) {
    std::size_t amp = fragment.find('&');
    std::string_view pair = fragment.substr(0, amp);
    if (pair.starts_with("sha256=")) {
      return NormalizeSha256(pair.substr(7));
    }
    fragment = amp == std::string_view::npos ? std::string_view() : fragment.substr(amp + 1);
  }
  return "";
}

// data-core-metadata / data-dist-info-metadata: "true" or "sha256=<hex>".
void ReadHtmlMetadata(std::string_view value, UpstreamFile& file) {
  if (EqualsIgnoreCase(value, "true")) {
    file.metadata = true;
  } else if (value.starts_with("sha256=")) {
    file.metadata_sha256 = NormalizeSha256(value.substr(7));
    file.metadata = !file.metadata_sha256.empty();
  }
}

}  // namespace

StatusOr<UpstreamProject> ParseSimpleJson(std::string_view body, std::string_view page_url,
                                          std::string_view name) {
  boost::system::error_code ec;
  json::value root = json::parse(body, ec);
  if (ec) {
    return InvalidArgumentError("upstream JSON page: " + ec.message());
  }
  const json::object* object = root.if_object();
  if (object == nullptr) {
    return InvalidArgumentError("upstream JSON page: not an object");
  }
  if (const json::value* meta = object->if_contains("meta"); meta && meta->is_object()) {
    if (const json::value* version = meta->get_object().if_contains("api-version");
        version && version->is_string() && !IsSupportedApiVersion(version->get_string())) {
      return InvalidArgumentError("upstream JSON page: unsupported api-version " +
                                  std::string(version->get_string()));
    }
  }
  const json::value* files = object->if_contains("files");
  if (files == nullptr || !files->is_array()) {
    return InvalidArgumentError("upstream JSON page: no \"files\" array");
  }
  Collector collector(name);
  for (const json::value& entry : files->get_array()) {
    if (std::optional<UpstreamFile> file = ReadJsonFile(entry, page_url)) {
      collector.Add(*std::move(file));
    }
  }
  return collector.Take();
}

StatusOr<UpstreamProject> ParseSimpleHtml(std::string_view body, std::string_view page_url,
                                          std::string_view name) {
  Collector collector(name);
  HtmlScanner scanner(body);
  std::optional<std::string> base;  // pip resolves against the first <base href>, if any
  while (std::optional<Tag> tag = scanner.Next()) {
    if (tag->name == "base") {
      if (const std::optional<std::string>* href = tag->Find("href"); !base && href && *href) {
        base = ResolveUrl(page_url, **href);
      }
      continue;
    }
    if (tag->name == "meta") {
      if (tag->Value("name") == "pypi:repository-version" &&
          !IsSupportedApiVersion(tag->Value("content"))) {
        return InvalidArgumentError("upstream HTML page: unsupported repository-version " +
                                    tag->Value("content"));
      }
      continue;
    }
    if (tag->name != "a") {
      continue;
    }
    const std::optional<std::string>* href = tag->Find("href");
    if (href == nullptr || !*href) {
      continue;
    }
    UpstreamFile file;
    file.url = ResolveUrl(base ? std::string_view(*base) : page_url, **href);
    file.sha256 = FragmentSha256(**href);
    file.requires_python = tag->Value("data-requires-python");
    // PEP 592: the value is the reason; a valueless attribute is an empty one, so still a yank
    // (pip would read it as not yanked; keeping the marker is the safe side).
    if (tag->Find("data-yanked") != nullptr) {
      file.yanked = tag->Value("data-yanked");
    }
    // PEP 714: data-core-metadata wins over the older data-dist-info-metadata.
    if (tag->Find("data-core-metadata") != nullptr) {
      ReadHtmlMetadata(tag->Value("data-core-metadata"), file);
    } else if (tag->Find("data-dist-info-metadata") != nullptr) {
      ReadHtmlMetadata(tag->Value("data-dist-info-metadata"), file);
    }
    collector.Add(std::move(file));
  }
  return collector.Take();
}

}  // namespace pydepot::upstream
