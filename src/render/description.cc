// Package descriptions as safe HTML (render/ui.h DescriptionHtml): Markdown through cmark-gfm,
// everything else escaped in <pre>.
//
// Safety, in layers: cmark-gfm runs without CMARK_OPT_UNSAFE, so raw HTML (blocks and inline
// tags) is omitted and its renderer blanks javascript:, vbscript:, file: and most data: URLs;
// the tag filter is attached as well; and before rendering, every link and image whose URL (as
// cmark decoded it: entities and backslash escapes resolved) has a scheme other than http, https
// or mailto is replaced by its text. The scheme is read as a browser would (render/ui_layout.h
// UrlScheme), so "JaVaScRiPt:", "&#106;avascript:", " javascript:" and "java\tscript:" all
// count as javascript.
//
// Cost: Debian 12's cmark-gfm (0.29.0.gfm.6) pads every table row with empty cells up to the
// header's width, in time that grows faster than the cells: a 40 KB description with a
// 20000-column header and 20000 short lines asks for 400 million cells, and cmark aborts the
// process when calloc fails. So before parsing, TableCellBound bounds the cells the text could
// make, and above kMaxTableCells (or kMaxTableColumns in one table) the table extension is left
// out (tables show as text). And descriptions over kMaxMarkdownBytes are shown as preformatted
// text: cmark is linear on everything else we tried, but at up to ~2 ms per KB (autolinks), and
// release pages are rendered per request.
//
// cmark-gfm is not thread-safe: parsing with extensions updates a process-wide table of special
// characters (inlines.c SPECIAL_CHARS), and two concurrent parses could see each other's
// changes and render differently. So one mutex serializes every parse and render; descriptions
// are rendered once per change of a project (and per release page view), which is rare enough.
#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "render/internal.h"
#include "render/render.h"
#include "render/ui.h"
#include "render/ui_layout.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

namespace pydepot::render {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The GFM extensions we render with (cmark-gfm's registry names); "table" only when
// TableCellBound allows.
constexpr const char* kExtensions[] = {"strikethrough", "autolink", "tagfilter", "tasklist"};

constexpr std::size_t kMaxMarkdownBytes = 512 * 1024;
constexpr std::size_t kMaxTableCells = 50'000;
// Parsing a row costs about the square of the header's width (16000 columns: 2 s).
constexpr std::size_t kMaxTableColumns = 1000;

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The media type of a Content-Type value, lowercased, without parameters and blanks.
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!type.empty() && blank(type.front())) {
    type.remove_prefix(1);
  }
  while (!type.empty() && blank(type.back())) {
    type.remove_suffix(1);
  }
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), AsciiLower);
  return out;
}

bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

// An upper bound of the table cells cmark-gfm would make of `text`, or anything above `limit`
// once it is exceeded or when a table could be wider than kMaxTableColumns. A table's delimiter row
// (after any blockquote markers and indentation) holds only '|', ':', '-' and blanks; its table has
// at most one column more than the row has pipes, and rows up to the next blank line, each padded
// to that width. One pass: every line adds the columns of the delimiter rows seen since the last
// blank line.
std::size_t TableCellBound(std::string_view text, std::size_t limit) {
  std::size_t cells = 0;
  std::size_t open_columns = 0;  // of the delimiter rows since the last blank line
  std::size_t start = 0;
  while (start <= text.size() && cells <= limit) {
    // Lines end at LF, CR or CR LF, as for cmark.
    std::size_t end = std::min(text.find_first_of("\r\n", start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + (text.substr(end).starts_with("\r\n") ? 2 : 1);
    // A blank line (only spaces and tabs, as cmark sees it) ends every table. Lines holding
    // blockquote markers count as rows, even where they end a table in a quote: overcounting
    // is safe.
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      open_columns = 0;
      continue;
    }
    // A delimiter row, after container prefixes (blockquote markers, indentation).
    line.remove_prefix(std::min(line.find_first_not_of(" \t>"), line.size()));
    if (line.find('-') != std::string_view::npos &&
        line.find_first_not_of("|:- \t\v\f") == std::string_view::npos) {  // \v\f: spacechar
      const auto pipes = static_cast<std::size_t>(std::count(line.begin(), line.end(), '|'));
      if (pipes + 1 > kMaxTableColumns) {
        return limit + 1;
      }
      open_columns += pipes + 1;
      cells += pipes + 1;  // the header row
    }
    cells += open_columns;
  }
  return cells;
}

bool IsAllowedUrl(const char* url) {
  if (url == nullptr) {
    return true;
  }
  const std::string scheme = ui_internal::UrlScheme(url);
  return scheme.empty() || scheme == "http" || scheme == "https" || scheme == "mailto";
}

// Replaces `node` by its children (a link by its text, an image by its alt text).
void Unwrap(cmark_node* node) {
  while (cmark_node* child = cmark_node_first_child(node)) {
    if (cmark_node_insert_before(node, child) == 0) {
      // The parent cannot hold the child (never for an inline's children): keep the node, with
      // nothing to follow.
      cmark_node_set_url(node, "");
      return;
    }
  }
  cmark_node_free(node);  // unlinks it
}

// Drops every link and image whose URL scheme is not allowed.
void DropUnsafeLinks(cmark_node* document) {
  std::vector<cmark_node*> unsafe;
  cmark_iter* iter = cmark_iter_new(document);
  cmark_event_type event;
  while ((event = cmark_iter_next(iter)) != CMARK_EVENT_DONE) {
    cmark_node* node = cmark_iter_get_node(iter);
    const cmark_node_type type = cmark_node_get_type(node);
    if (event == CMARK_EVENT_ENTER && (type == CMARK_NODE_LINK || type == CMARK_NODE_IMAGE) &&
        !IsAllowedUrl(cmark_node_get_url(node))) {
      unsafe.push_back(node);
    }
  }
  cmark_iter_free(iter);
  // The tree may not change while iterating. Outer nodes come first; unwrapping one moves its
  // children but frees only the node itself, so the pointers to inner ones stay valid.
  for (cmark_node* node : unsafe) {
    Unwrap(node);
  }
}

// C0 controls (but tab, LF, CR and FF), DEL and C1 controls are parse errors in HTML; cmark
// passes them through from the source.
std::string ReplaceControls(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  for (std::size_t i = 0; i < html.size(); ++i) {
    const char c = html[i];
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || byte == 0x7F) {
      out += kReplacement;
    } else if (byte == 0xC2 && i + 1 < html.size() &&
               static_cast<unsigned char>(html[i + 1]) <= 0x9F) {
      out += kReplacement;
      ++i;
    } else {
      out += c;
    }
  }
  return out;
}

struct ParserFree {
  void operator()(cmark_parser* parser) const { cmark_parser_free(parser); }
};
struct NodeFree {
  void operator()(cmark_node* node) const { cmark_node_free(node); }
};
struct HtmlFree {
  void operator()(char* html) const { cmark_get_default_mem_allocator()->free(html); }
};

std::mutex& CmarkMutex() {
  static std::mutex mutex;
  return mutex;
}

std::string RenderMarkdown(std::string_view text) {
  // Safe by default: without CMARK_OPT_UNSAFE, raw HTML is omitted and dangerous URLs blanked.
  constexpr int kOptions = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8;
  const bool with_tables = TableCellBound(text, kMaxTableCells) <= kMaxTableCells;
  std::lock_guard<std::mutex> lock(CmarkMutex());
  static const bool registered = [] {
    cmark_gfm_core_extensions_ensure_registered();
    return true;
  }();
  (void)registered;

  std::unique_ptr<cmark_parser, ParserFree> parser(cmark_parser_new(kOptions));
  const auto attach = [&](const char* name) {
    if (cmark_syntax_extension* extension = cmark_find_syntax_extension(name)) {
      cmark_parser_attach_syntax_extension(parser.get(), extension);
    }
  };
  if (with_tables) {
    attach("table");
  }
  for (const char* name : kExtensions) {
    attach(name);
  }
  cmark_parser_feed(parser.get(), text.data(), text.size());
  std::unique_ptr<cmark_node, NodeFree> document(cmark_parser_finish(parser.get()));
  if (document == nullptr) {
    return "";
  }
  DropUnsafeLinks(document.get());
  std::unique_ptr<char, HtmlFree> html(cmark_render_html(
      document.get(), kOptions, cmark_parser_get_syntax_extensions(parser.get())));
  if (html == nullptr) {
    return "";
  }
  return ReplaceControls(internal::ValidUtf8(html.get()));
}

}  // namespace

std::string DescriptionHtml(std::string_view text, std::string_view content_type) {
  if (IsBlank(text)) {
    return "";
  }
  if (MediaType(content_type) == "text/markdown" && text.size() <= kMaxMarkdownBytes) {
    return RenderMarkdown(text);
  }
  std::string out = "<pre class=\"description-text\">";
  out += HtmlEscape(text);
  out += "</pre>\n";
  return out;
}

}  // namespace pydepot::render
