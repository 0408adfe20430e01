// HtmlEscape, PercentEncode, and the UTF-8 repair and JSON helpers shared by the renderers.
#include <algorithm>
#include <map>

#include "render/internal.h"
#include "render/render.h"

namespace pydepot::render {
namespace internal {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at text[i] (Unicode table 3-7), or 0.
std::size_t SequenceLength(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u;
  };
  const unsigned b0 = at(0);
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return at(k) >= lo && at(k) <= hi;
  };
  if (b0 < 0x80) {
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (b0 == 0xE0) {
    return cont(1, 0xA0) && cont(2) ? 3 : 0;
  }
  if (b0 == 0xED) {  // no surrogates
    return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xE1 && b0 <= 0xEF) {
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (b0 == 0xF0) {
    return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  }
  if (b0 >= 0xF1 && b0 <= 0xF3) {
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  if (b0 == 0xF4) {
    return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = SequenceLength(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

boost::json::string JsonString(std::string_view text) {
  return boost::json::string(ValidUtf8(text));
}

boost::json::value JsonStringOrNull(std::string_view text) {
  if (text.empty()) {
    return nullptr;
  }
  return JsonString(text);
}

std::string ToJson(const boost::json::value& value) { return boost::json::serialize(value); }

std::string FilePath(std::string_view project, std::string_view filename) {
  return "files/" + PercentEncode(project) + "/" + PercentEncode(filename);
}

const std::string& DisplayName(const doc::ProjectDoc& doc) {
  return doc.display_name.empty() ? doc.name : doc.display_name;
}

std::vector<ReleaseView> CollectReleases(const doc::ProjectDoc& doc) {
  std::map<std::string, ReleaseView> by_key;
  for (const auto& [key, info] : doc.releases) {
    ReleaseView& view = by_key[key];
    view.info = &info;
    view.version = info.version;
  }
  for (const doc::FileEntry& file : doc.files) {
    ReleaseView& view = by_key[file.release_key];
    if (view.version.empty()) {
      view.version = file.version;
    }
    view.files.push_back(&file);
  }
  std::vector<ReleaseView> releases;
  releases.reserve(by_key.size());
  for (auto& [key, view] : by_key) {
    view.key = key;
    if (view.version.empty()) {
      view.version = key;
    }
    view.parsed = model::Version::ParseLenient(view.version);
    if (auto it = doc.yanked.find(key); it != doc.yanked.end()) {
      view.yank_reason = &it->second;
    } else if (!view.files.empty() &&
               std::all_of(view.files.begin(), view.files.end(),
                           [](const doc::FileEntry* file) { return file->yanked.has_value(); })) {
      // Files yanked one by one (an upstream's PEP 592 yanks): when every file of the release
      // is, the release is (with the first file's reason), as the simple API's clients see it.
      view.yank_reason = &*view.files.front()->yanked;
    }
    std::sort(
        view.files.begin(), view.files.end(),
        [](const doc::FileEntry* a, const doc::FileEntry* b) { return a->filename < b->filename; });
    releases.push_back(std::move(view));
  }
  std::stable_sort(releases.begin(), releases.end(),
                   [](const ReleaseView& a, const ReleaseView& b) { return a.parsed < b.parsed; });
  return releases;
}

const ReleaseView* ChooseLatest(const std::vector<ReleaseView>& releases) {
  const ReleaseView* best = nullptr;
  const auto rank = [](const ReleaseView& r) {
    return std::make_pair(r.yank_reason == nullptr, !r.parsed.IsPrerelease());
  };
  for (const ReleaseView& release : releases) {
    // `releases` is ascending, so a later release of equal rank is newer.
    if (best == nullptr || rank(release) >= rank(*best)) {
      best = &release;
    }
  }
  return best;
}

}  // namespace internal

std::string HtmlEscape(std::string_view text) {
  const std::string valid = internal::ValidUtf8(text);
  std::string out;
  out.reserve(valid.size() + valid.size() / 8);
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const char c = valid[i];
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than whitespace are parse errors in HTML5 (C0, DEL, and C1
        // as U+0080..U+009F, which UTF-8 encodes as C2 80..C2 9F).
        if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || byte == 0x7F) {
          out += internal::kReplacement;
        } else if (byte == 0xC2 && i + 1 < valid.size() &&
                   static_cast<unsigned char>(valid[i + 1]) <= 0x9F) {
          out += internal::kReplacement;
          ++i;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string PercentEncode(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

}  // namespace pydepot::render
