// Test support for the web UI tests (header-only; not part of the module): a small tokenizer
// for the start tags of HTML, a check that HTML holds nothing that could run a script, and a
// reader for forms. Enough HTML for our own output and cmark-gfm's: quoted or bare attribute
// values, comments, and text in which '<' is always escaped.
#pragma once

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "render/render_test_util.h"

namespace pydepot::render::testing {

inline std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

struct Tag {
  std::string name;                                             // lowercased
  std::vector<std::pair<std::string, std::string>> attributes;  // name lowercased, value unescaped
  std::size_t offset = 0;                                       // of the '<' in the document

  const std::string* Find(std::string_view attribute) const {
    for (const auto& [key, value] : attributes) {
      if (key == attribute) {
        return &value;
      }
    }
    return nullptr;
  }
  std::string Get(std::string_view attribute) const {
    const std::string* value = Find(attribute);
    return value == nullptr ? "" : *value;
  }
};

// Every start tag of `html`, in order. Comments, doctypes and end tags are skipped.
inline std::vector<Tag> ParseTags(std::string_view html) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
  };
  std::vector<Tag> tags;
  std::size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    if (html.substr(i).starts_with("<!--")) {
      const std::size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    if (i + 1 >= html.size() || !std::isalpha(static_cast<unsigned char>(html[i + 1]))) {
      ++i;  // "</x>", "<!DOCTYPE", or a stray '<' (not a tag for an HTML parser either)
      continue;
    }
    Tag tag;
    tag.offset = i;
    std::size_t p = i + 1;
    while (p < html.size() && !is_space(html[p]) && html[p] != '>' && html[p] != '/') {
      tag.name += html[p++];
    }
    tag.name = AsciiLower(tag.name);
    while (p < html.size() && html[p] != '>') {
      if (is_space(html[p]) || html[p] == '/') {
        ++p;
        continue;
      }
      std::string name;
      while (p < html.size() && !is_space(html[p]) && html[p] != '=' && html[p] != '>' &&
             html[p] != '/') {
        name += html[p++];
      }
      std::string value;
      if (p < html.size() && html[p] == '=') {
        ++p;
        if (p < html.size() && (html[p] == '"' || html[p] == '\'')) {
          const char quote = html[p];
          const std::size_t end = html.find(quote, p + 1);
          value = HtmlUnescape(html.substr(p + 1, end - p - 1));
          p = end == std::string_view::npos ? html.size() : end + 1;
        } else {
          const std::size_t start = p;
          while (p < html.size() && !is_space(html[p]) && html[p] != '>') {
            ++p;
          }
          value = HtmlUnescape(html.substr(start, p - start));
        }
      }
      tag.attributes.emplace_back(AsciiLower(name), std::move(value));
    }
    tags.push_back(std::move(tag));
    i = p;
  }
  return tags;
}

// `text` lowercased, without any blank or control character.
inline std::string Squeeze(std::string_view text) {
  std::string squeezed;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) > 0x20) {
      squeezed += c;
    }
  }
  return AsciiLower(squeezed);
}

// The scheme a browser would see in `url` (every blank and control character dropped, which is
// stricter than a browser), or "" for a relative URL.
inline std::string SchemeOf(std::string_view url) {
  const std::string squeezed = Squeeze(url);
  const std::size_t colon = squeezed.find(':');
  if (colon == std::string::npos || colon == 0 ||
      !std::isalpha(static_cast<unsigned char>(squeezed[0]))) {
    return "";
  }
  const std::string scheme = squeezed.substr(0, colon);
  for (const char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return "";  // not a scheme: a relative URL
    }
  }
  return scheme;
}

// Checks that `html` holds no element or attribute that could run a script or load something
// from elsewhere, and no URL with a scheme other than http, https or mailto. `page` allows what
// the page shell itself uses (the stylesheet link, meta tags and forms).
inline void ExpectNoActiveContent(std::string_view html, bool page) {
  static const std::set<std::string, std::less<>> kForbidden = {
      "script", "iframe", "frame",    "frameset", "object", "embed", "applet", "svg",   "math",
      "style",  "base",   "noscript", "template", "portal", "video", "audio",  "source"};
  for (const Tag& tag : ParseTags(html)) {
    SCOPED_TRACE("<" + tag.name + "> at " + std::to_string(tag.offset));
    EXPECT_FALSE(kForbidden.contains(tag.name));
    if (tag.name == "link") {
      EXPECT_TRUE(page);
      EXPECT_EQ(tag.Get("rel"), "stylesheet");
      EXPECT_TRUE(tag.Get("href").ends_with("static/style.css")) << tag.Get("href");
    }
    if (tag.name == "meta") {
      EXPECT_TRUE(page);
      EXPECT_EQ(tag.Find("http-equiv"), nullptr);
    }
    if (!page) {
      EXPECT_NE(tag.name, "form");
      EXPECT_NE(tag.name, "button");
      if (tag.name == "input") {  // task list items only
        EXPECT_EQ(tag.Get("type"), "checkbox");
        EXPECT_NE(tag.Find("disabled"), nullptr);
      }
    }
    for (const auto& [name, value] : tag.attributes) {
      SCOPED_TRACE(name + "=\"" + value + "\"");
      EXPECT_FALSE(name.starts_with("on"));
      const std::string squeezed = Squeeze(value);
      EXPECT_FALSE(squeezed.starts_with("javascript:") || squeezed.starts_with("vbscript:") ||
                   squeezed.starts_with("data:"));
      EXPECT_NE(name, "style");
      EXPECT_NE(name, "srcset");
      EXPECT_NE(name, "formaction");
      if (name == "href" || name == "src" || name == "action" || name == "poster" ||
          name == "data" || name == "xlink:href" || name == "background") {
        const std::string scheme = SchemeOf(value);
        EXPECT_TRUE(scheme.empty() || scheme == "http" || scheme == "https" || scheme == "mailto")
            << scheme;
      }
    }
  }
  // Text may mention "javascript:" (an unwrapped link keeps its text), but never as a tag.
  EXPECT_EQ(AsciiLower(html).find("<script"), std::string::npos);
}

// One <form> of a page.
struct Form {
  std::string method;
  std::string action;
  std::string id;
  std::vector<Tag> fields;  // input, select, textarea and button elements, in order

  const Tag* Field(std::string_view name) const {
    for (const Tag& field : fields) {
      if (field.Get("name") == name) {
        return &field;
      }
    }
    return nullptr;
  }
};

inline std::vector<Form> ParseForms(std::string_view html) {
  std::vector<Form> forms;
  const std::vector<Tag> tags = ParseTags(html);
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (tags[i].name != "form") {
      continue;
    }
    Form form;
    form.method = AsciiLower(tags[i].Get("method"));
    form.action = tags[i].Get("action");
    form.id = tags[i].Get("id");
    const std::size_t end = html.find("</form>", tags[i].offset);
    for (std::size_t j = i + 1; j < tags.size() && tags[j].offset < end; ++j) {
      EXPECT_NE(tags[j].name, "form") << "nested form";
      if (tags[j].name == "input" || tags[j].name == "select" || tags[j].name == "textarea" ||
          tags[j].name == "button") {
        form.fields.push_back(tags[j]);
      }
    }
    forms.push_back(std::move(form));
  }
  return forms;
}

// Every id in `html`, each once.
inline void ExpectUniqueIds(std::string_view html) {
  std::set<std::string> seen;
  for (const Tag& tag : ParseTags(html)) {
    if (const std::string* id = tag.Find("id")) {
      EXPECT_TRUE(seen.insert(*id).second) << "duplicate id " << *id;
    }
  }
}

inline std::set<std::string> Ids(std::string_view html) {
  std::set<std::string> ids;
  for (const Tag& tag : ParseTags(html)) {
    if (const std::string* id = tag.Find("id")) {
      ids.insert(*id);
    }
  }
  return ids;
}

// A page of the UI: HTML5 shell, the stylesheet linked from `root`, nothing active, unique ids,
// label `for` targets that exist.
inline void ExpectUiPage(const std::string& html, std::string_view root) {
  EXPECT_TRUE(
      html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"))
      << html.substr(0, 200);
  EXPECT_TRUE(html.ends_with("</body>\n</html>\n"));
  EXPECT_NE(html.find("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
            std::string::npos);
  EXPECT_NE(
      html.find("<link rel=\"stylesheet\" href=\"" + std::string(root) + "static/style.css\">"),
      std::string::npos);
  EXPECT_NE(html.find("<title>"), std::string::npos);
  EXPECT_NE(html.find("<main"), std::string::npos);
  EXPECT_NE(html.find("<footer"), std::string::npos);
  ExpectNoActiveContent(html, /*page=*/true);
  ExpectUniqueIds(html);
  const std::set<std::string> ids = Ids(html);
  for (const Tag& tag : ParseTags(html)) {
    if (tag.name == "label" && tag.Find("for") != nullptr) {
      EXPECT_TRUE(ids.contains(tag.Get("for"))) << "label for missing id " << tag.Get("for");
    }
  }
}

}  // namespace pydepot::render::testing
