#include "archive/dist_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "model/project_name.h"

namespace pydepot::archive {
namespace {

// PATH_MAX: no distribution needs longer member paths, and the cap keeps every per-path check
// cheap.
constexpr std::size_t kMaxMemberPathBytes = 4096;
constexpr std::size_t kReadChunkBytes = std::size_t{64} * 1024;

struct ArchiveReadFree {
  void operator()(struct archive* reader) const { archive_read_free(reader); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;

// Where the archive's bytes are. Each pass over an archive opens a new reader on it.
struct Source {
  const std::filesystem::path* path = nullptr;  // a file, or else...
  std::string_view bytes;                       // ...bytes in memory
  std::int64_t packed_size = 0;
};

enum class Container { kZip, kTarOrZip };

// libarchive converts member names to the charset of the current locale, and in the "C" locale
// it cannot convert a UTF-8 name (wheels and PEP 625 sdists use UTF-8): the name reads as null.
// Switching this thread to C.UTF-8 while a reader is alive makes names read the same whatever
// the process locale is. uselocale() is per thread, so other threads are not affected.
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() : locale_(newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr)) {
    if (locale_ != nullptr) {
      previous_ = uselocale(locale_);
    }
  }
  ~ScopedUtf8Locale() {
    if (locale_ != nullptr) {
      uselocale(previous_);
      freelocale(locale_);
    }
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale(ScopedUtf8Locale&&) = delete;
  ScopedUtf8Locale& operator=(ScopedUtf8Locale&&) = delete;

 private:
  locale_t locale_;
  locale_t previous_ = nullptr;
};

// Archive member paths go into error messages that may reach clients: keep them printable and
// short.
std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 200;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte >= 0x7f || byte == '\'' || byte == '\\') {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (text.size() > kMaxShown) {
    out += "...";
  }
  out += "'";
  return out;
}

std::string ErrorText(struct archive* reader) {
  const char* text = archive_error_string(reader);
  return text != nullptr ? text : "libarchive gave no details";
}

bool IsPathSeparator(char c) { return c == '/' || c == '\\'; }

// Splits on '/' and '\\' (an extractor on Windows honours both), keeping empty parts.
std::vector<std::string_view> SplitOnSeparators(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || IsPathSeparator(path[i])) {
      parts.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool IsAbsolutePath(std::string_view path) {
  const bool drive = path.size() >= 2 && path[1] == ':' &&
                     ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'));
  return !path.empty() && (IsPathSeparator(path[0]) || drive);
}

// A member path or hard link target must name something inside the archive when extracted.
Status CheckPathStaysInside(std::string_view path, std::string_view what) {
  if (path.empty()) {
    return InvalidArgumentError(std::string(what) + " is empty");
  }
  if (path.size() > kMaxMemberPathBytes) {
    return InvalidArgumentError(std::string(what) + " " + Quote(path) + " is longer than " +
                                std::to_string(kMaxMemberPathBytes) + " bytes");
  }
  if (IsAbsolutePath(path)) {
    return InvalidArgumentError(std::string(what) + " " + Quote(path) + " is an absolute path");
  }
  for (std::string_view part : SplitOnSeparators(path)) {
    if (part == "..") {
      return InvalidArgumentError(std::string(what) + " " + Quote(path) + " has a '..' component");
    }
  }
  return OkStatus();
}

std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}

// The symbolic links seen so far, as a tree of path parts, so that finding whether a path goes
// through one costs time linear in the path.
class LinkTree {
 public:
  static constexpr int kRoot = 0;
  static constexpr int kNone = -1;

  bool empty() const { return children_.empty(); }
  int Child(int node, std::string_view part) const {
    if (node == kNone || children_.empty()) {
      return kNone;
    }
    const auto it = children_.find(Key(node, part));
    return it == children_.end() ? kNone : it->second;
  }
  bool IsLink(int node) const { return node != kNone && is_link_[static_cast<std::size_t>(node)]; }
  void AddLink(const std::vector<std::string_view>& parts) {
    int node = kRoot;
    for (std::string_view part : parts) {
      auto [it, inserted] = children_.try_emplace(Key(node, part), 0);
      if (inserted) {
        it->second = static_cast<int>(is_link_.size());
        is_link_.push_back(false);
      }
      node = it->second;
    }
    is_link_[static_cast<std::size_t>(node)] = true;
  }

 private:
  static std::string Key(int node, std::string_view part) {
    std::string key = std::to_string(node);
    key += '/';
    key += part;
    return key;
  }

  std::unordered_map<std::string, int> children_;
  std::vector<bool> is_link_ = {false};
};

// One archive member, as visitors see it. Not copyable: parts point into path.
struct Member {
  Member() = default;
  ~Member() = default;
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;
  Member(Member&&) = delete;
  Member& operator=(Member&&) = delete;

  std::string path;                     // as written in the archive
  std::vector<std::string_view> parts;  // path split on '/', without empty and "." parts
  bool is_regular = false;              // a regular file, not a hard link
  bool is_directory = false;
  std::int64_t declared_size = -1;  // -1 when the archive does not say
};

// Walks every member of an archive once, applying the checks that do not depend on the kind of
// distribution: safe paths and links, entry and size limits, corruption.
class Walker {
 public:
  Walker(struct archive* reader, std::int64_t packed_size, const ArchiveLimits& limits)
      : reader_(reader), packed_size_(packed_size), limits_(limits) {}

  // Calls `visit` for each member in archive order, after the member passed the checks. A
  // visitor may call ReadMember() for the member it is given.
  Status Run(const std::function<Status(const Member&)>& visit) {
    for (;;) {
      struct archive_entry* entry = nullptr;
      const int rc = archive_read_next_header(reader_, &entry);
      if (rc == ARCHIVE_EOF) {
        return OkStatus();
      }
      // ARCHIVE_WARN is a recoverable oddity, such as a name that could not be decoded (which
      // Describe then refuses). RETRY (a damaged header), FAILED and FATAL are corruption.
      if (rc < ARCHIVE_WARN) {
        return Corrupt();
      }
      is_zip_ = (archive_format(reader_) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
      if (++entries_ > limits_.max_entries) {
        return InvalidArgumentError("archive has more than " + std::to_string(limits_.max_entries) +
                                    " members");
      }
      Member member;
      PYDEPOT_RETURN_IF_ERROR(Describe(entry, member));
      PYDEPOT_RETURN_IF_ERROR(CheckExpansion());
      PYDEPOT_RETURN_IF_ERROR(visit(member));
      // Letting libarchive skip a tar member would decompress all of it in one call, however
      // large; draining block by block keeps the budget checks in between. The seekable zip
      // reader skips by seeking and decompresses nothing.
      if (!is_zip_) {
        PYDEPOT_RETURN_IF_ERROR(Drain());
      }
    }
  }

  // The bytes of the member being visited. Fails when it is not a regular file or holds more
  // than limits.max_metadata_bytes, whatever size the archive declares for it.
  StatusOr<std::string> ReadMember(const Member& member) {
    if (!member.is_regular) {
      return InvalidArgumentError(Quote(member.path) + " is not a regular file");
    }
    if (member.declared_size > limits_.max_metadata_bytes) {
      return TooLarge(member);
    }
    std::string contents;
    std::string chunk(kReadChunkBytes, '\0');
    for (;;) {
      const la_ssize_t n = archive_read_data(reader_, chunk.data(), chunk.size());
      if (n == 0) {
        return contents;
      }
      if (n < 0) {
        return Corrupt();
      }
      read_bytes_ = SaturatingAdd(read_bytes_, n);
      if (static_cast<std::int64_t>(contents.size()) + n > limits_.max_metadata_bytes) {
        return TooLarge(member);
      }
      contents.append(chunk.data(), static_cast<std::size_t>(n));
      PYDEPOT_RETURN_IF_ERROR(CheckExpansion());
    }
  }

 private:
  Status Corrupt() const {
    return InvalidArgumentError("corrupt or truncated archive: " + ErrorText(reader_));
  }

  Status TooLarge(const Member& member) const {
    return InvalidArgumentError(Quote(member.path) + " is larger than " +
                                std::to_string(limits_.max_metadata_bytes) + " bytes");
  }

  bool IsBomb(std::int64_t unpacked) const {
    if (unpacked <= limits_.ratio_threshold_bytes || limits_.max_ratio <= 0) {
      return false;
    }
    if (packed_size_ > 0 &&
        limits_.max_ratio > std::numeric_limits<std::int64_t>::max() / packed_size_) {
      return false;
    }
    return unpacked > limits_.max_ratio * packed_size_;
  }

  // Bytes decompressed so far. Walking a tar stream decompresses all of it; the zip reader
  // decompresses only what ReadMember asks for.
  std::int64_t Expanded() const {
    return is_zip_ ? read_bytes_ : std::max<std::int64_t>(archive_filter_bytes(reader_, 0), 0);
  }

  Status CheckExpansion() const {
    const std::int64_t expanded = Expanded();
    // A tar member is decompressed in full to walk past it, so its declared size counts too:
    // that refuses an oversized member before the work.
    const std::int64_t to_expand = is_zip_ ? expanded : std::max(expanded, declared_bytes_);
    if (to_expand > limits_.max_uncompressed_bytes) {
      return InvalidArgumentError("archive unpacks to more than " +
                                  std::to_string(limits_.max_uncompressed_bytes) + " bytes");
    }
    // Declared sizes catch a zip bomb without inflating it; actual bytes catch a compressed tar
    // stream (and sizes that lie).
    for (const std::int64_t unpacked : {declared_bytes_, expanded}) {
      if (IsBomb(unpacked)) {
        return InvalidArgumentError("archive is a decompression bomb: it unpacks to at least " +
                                    std::to_string(unpacked) + " bytes, more than " +
                                    std::to_string(limits_.max_ratio) + " times its size of " +
                                    std::to_string(packed_size_) + " bytes");
      }
    }
    return OkStatus();
  }

  Status Drain() {
    for (;;) {
      const void* block = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      const int rc = archive_read_data_block(reader_, &block, &size, &offset);
      if (rc == ARCHIVE_EOF) {
        return OkStatus();
      }
      if (rc < ARCHIVE_WARN) {
        return Corrupt();
      }
      PYDEPOT_RETURN_IF_ERROR(CheckExpansion());
    }
  }

  // Fills `member` from `entry`, rejecting what no distribution may contain.
  Status Describe(struct archive_entry* entry, Member& member) {
    // Null when the name is not valid in its declared encoding, e.g. a zip name flagged UTF-8
    // that is not: Python's zipfile refuses those too.
    const char* path = archive_entry_pathname(entry);
    if (path == nullptr) {
      return InvalidArgumentError("archive member has an undecodable path: " + ErrorText(reader_));
    }
    member.path = path;
    PYDEPOT_RETURN_IF_ERROR(CheckPathStaysInside(member.path, "archive member path"));
    // Only '/' separates parts in the archive's own structure ('\\' was checked above).
    const std::string_view view = member.path;
    std::size_t start = 0;
    while (start <= view.size()) {
      const std::size_t slash = std::min(view.find('/', start), view.size());
      const std::string_view part = view.substr(start, slash - start);
      if (!part.empty() && part != ".") {
        member.parts.push_back(part);
      }
      start = slash + 1;
    }

    if (archive_entry_is_encrypted(entry) != 0) {
      return InvalidArgumentError("archive member " + Quote(member.path) + " is encrypted");
    }
    if (archive_entry_sparse_count(entry) > 0) {
      return InvalidArgumentError("archive member " + Quote(member.path) + " is a sparse file");
    }
    if (archive_entry_size_is_set(entry) != 0) {
      member.declared_size = archive_entry_size(entry);
      if (member.declared_size < 0) {
        return InvalidArgumentError("archive member " + Quote(member.path) +
                                    " has a negative size");
      }
      declared_bytes_ = SaturatingAdd(declared_bytes_, member.declared_size);
    }

    // A member inside a directory that an earlier member made a symbolic link would be written
    // wherever that link points.
    int node = LinkTree::kRoot;
    for (std::size_t i = 0; i + 1 < member.parts.size() && !links_.empty(); ++i) {
      node = links_.Child(node, member.parts[i]);
      if (node == LinkTree::kNone) {
        break;
      }
      if (links_.IsLink(node)) {
        return InvalidArgumentError("archive member " + Quote(member.path) +
                                    " is inside a symbolic link");
      }
    }

    const char* hardlink = archive_entry_hardlink(entry);
    const auto type = archive_entry_filetype(entry);
    if (hardlink != nullptr) {
      return CheckHardLink(member, hardlink);
    }
    switch (type) {
      case AE_IFREG:
        member.is_regular = true;
        return OkStatus();
      case AE_IFDIR:
        member.is_directory = true;
        return OkStatus();
      case AE_IFLNK:
        return CheckSymlink(entry, member);
      default:
        return InvalidArgumentError("archive member " + Quote(member.path) +
                                    " is a device, FIFO or socket");
    }
  }

  Status CheckHardLink(const Member& member, std::string_view target) const {
    PYDEPOT_RETURN_IF_ERROR(
        CheckPathStaysInside(target, "hard link " + Quote(member.path) + " target"));
    int node = LinkTree::kRoot;
    for (std::string_view part : SplitOnSeparators(target)) {
      if (part.empty() || part == ".") {
        continue;
      }
      if (links_.IsLink(node)) {
        return InvalidArgumentError("hard link " + Quote(member.path) +
                                    " goes through a symbolic link");
      }
      node = links_.Child(node, part);
    }
    return OkStatus();
  }

  // A symbolic link must resolve inside the archive. Its target is resolved lexically from the
  // link's directory, which is only sound if it does not go through another link: that is
  // refused, except as the last part (a link to a link that was itself checked).
  Status CheckSymlink(struct archive_entry* entry, const Member& member) {
    const char* target_text = archive_entry_symlink(entry);
    const std::string_view target = target_text != nullptr ? target_text : "";
    const std::string what = "symbolic link " + Quote(member.path);
    if (target.empty()) {
      return InvalidArgumentError(what + " has no target");
    }
    if (target.size() > kMaxMemberPathBytes) {
      return InvalidArgumentError(what + " has a target longer than " +
                                  std::to_string(kMaxMemberPathBytes) + " bytes");
    }
    if (IsAbsolutePath(target)) {
      return InvalidArgumentError(what + " points outside the archive, to " + Quote(target));
    }
    if (member.parts.empty()) {
      return InvalidArgumentError(what + " replaces the archive root");
    }
    // (part, its node in links_) for each directory of the resolved path so far.
    std::vector<std::pair<std::string_view, int>> resolved;
    int node = LinkTree::kRoot;
    for (std::size_t i = 0; i + 1 < member.parts.size(); ++i) {
      node = links_.Child(node, member.parts[i]);
      resolved.emplace_back(member.parts[i], node);
    }
    for (std::string_view part : SplitOnSeparators(target)) {
      if (part.empty() || part == ".") {
        continue;
      }
      const int current = resolved.empty() ? LinkTree::kRoot : resolved.back().second;
      if (links_.IsLink(current)) {
        return InvalidArgumentError(what + " goes through another symbolic link");
      }
      if (part == "..") {
        if (resolved.empty()) {
          return InvalidArgumentError(what + " points outside the archive, to " + Quote(target));
        }
        resolved.pop_back();
        continue;
      }
      resolved.emplace_back(part, links_.Child(current, part));
    }
    links_.AddLink(member.parts);
    return OkStatus();
  }

  struct archive* reader_;
  const std::int64_t packed_size_;
  const ArchiveLimits& limits_;
  bool is_zip_ = false;
  std::int64_t entries_ = 0;
  std::int64_t declared_bytes_ = 0;
  std::int64_t read_bytes_ = 0;
  LinkTree links_;
};

StatusOr<ArchiveReader> OpenReader(const Source& source, Container container) {
  ArchiveReader reader(archive_read_new());
  if (reader == nullptr) {
    return InternalError("libarchive: cannot allocate a reader");
  }
  struct archive* a = reader.get();
  if (container == Container::kTarOrZip) {
    archive_read_support_format_tar(a);
    // The compressions of the sdist extensions (.tar.gz, .tar.bz2, .tar.xz, .tar.lzma, .tar.lz,
    // .tar.Z) plus zstd, all decoded in-process. archive_read_support_filter_all would also
    // enable lrzip, lzop and grzip, which libarchive runs as external programs.
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_filter_lzip(a);
    archive_read_support_filter_compress(a);
    archive_read_support_filter_zstd(a);
  }
  // The seekable zip reader works from the central directory, as Python's zipfile (and so pip
  // and PyPI) does; the streaming reader trusts local headers, which a crafted zip can make
  // disagree with it.
  archive_read_support_format_zip_seekable(a);
  const int rc = source.path != nullptr
                     ? archive_read_open_filename(a, source.path->c_str(), kReadChunkBytes)
                     : archive_read_open_memory(a, source.bytes.data(), source.bytes.size());
  if (rc != ARCHIVE_OK) {
    if (source.path != nullptr && archive_errno(a) == ENOENT) {
      return NotFoundError(source.path->string() + ": no such file");
    }
    return InvalidArgumentError(std::string(container == Container::kZip
                                                ? "not a valid zip archive: "
                                                : "not a valid tar or zip archive: ") +
                                ErrorText(a));
  }
  return reader;
}

// Opens `source` and walks all of it with `visit`, which gets the walker to read members.
Status WalkArchive(const Source& source, Container container, const ArchiveLimits& limits,
                   const std::function<Status(Walker&, const Member&)>& visit) {
  const ScopedUtf8Locale utf8_locale;  // outlives the reader
  PYDEPOT_ASSIGN_OR_RETURN(ArchiveReader reader, OpenReader(source, container));
  Walker walker(reader.get(), source.packed_size, limits);
  return walker.Run([&](const Member& member) { return visit(walker, member); });
}

StatusOr<DistMetadata> ReadWheel(const Source& source, const model::DistFilename& name,
                                 const ArchiveLimits& limits) {
  struct DistInfo {
    int metadata = 0;
    bool wheel = false;
    bool record = false;
  };
  const std::string exact_dir = name.name_part + "-" + name.version_part + ".dist-info";
  const std::string wanted = model::NormalizeProjectName(name.name_part + "-" + name.version_part);
  constexpr std::string_view kSuffix = ".dist-info";

  // Pass 1 reads only the member list (free for a zip): which .dist-info directory, and whether
  // it is complete.
  bool exact_seen = false;
  DistInfo exact;
  std::map<std::string, DistInfo> similar;
  PYDEPOT_RETURN_IF_ERROR(
      WalkArchive(source, Container::kZip, limits, [&](Walker&, const Member& member) {
        const std::string_view path = member.path;
        const std::size_t slash = path.find('/');
        const std::string_view top = path.substr(0, slash);
        DistInfo* info = nullptr;
        if (top == exact_dir) {
          exact_seen = true;
          info = &exact;
        } else if (top.size() > kSuffix.size() && top.ends_with(kSuffix) &&
                   model::NormalizeProjectName(top.substr(0, top.size() - kSuffix.size())) ==
                       wanted) {
          info = &similar[std::string(top)];
        }
        if (info == nullptr || slash == std::string_view::npos) {
          return OkStatus();
        }
        const std::string_view rest = path.substr(slash + 1);
        if (rest == "METADATA") {
          ++info->metadata;
        } else if (rest == "WHEEL") {
          info->wheel = true;
        } else if (rest == "RECORD") {
          info->record = true;
        }
        return OkStatus();
      }));

  // The directory is named from the filename's parts as written. Older tools wrote the name
  // differently (case, '-' vs '_' vs '.'), so a directory whose name normalizes the same is
  // accepted when the exact one is absent and there is only one such directory.
  std::string dir = exact_dir;
  DistInfo info = exact;
  if (!exact_seen) {
    if (similar.empty()) {
      return InvalidArgumentError("wheel has no " + exact_dir + "/METADATA");
    }
    if (similar.size() > 1) {
      std::string names;
      for (const auto& [candidate, unused] : similar) {
        names += (names.empty() ? "" : ", ") + Quote(candidate);
      }
      return InvalidArgumentError("wheel has more than one .dist-info directory for " + exact_dir +
                                  ": " + names);
    }
    dir = similar.begin()->first;
    info = similar.begin()->second;
  }
  if (info.metadata == 0) {
    return InvalidArgumentError("wheel has no " + dir + "/METADATA");
  }
  if (info.metadata > 1) {
    return InvalidArgumentError("wheel has more than one " + dir + "/METADATA");
  }
  if (!info.wheel) {
    return InvalidArgumentError("wheel has no " + dir + "/WHEEL");
  }
  if (!info.record) {
    return InvalidArgumentError("wheel has no " + dir + "/RECORD");
  }

  // Pass 2 reads the one METADATA member.
  const std::string wanted_member = dir + "/METADATA";
  bool found = false;
  DistMetadata result;
  PYDEPOT_RETURN_IF_ERROR(WalkArchive(
      source, Container::kZip, limits, [&](Walker& walker, const Member& member) -> Status {
        if (member.path != wanted_member) {
          return OkStatus();
        }
        PYDEPOT_ASSIGN_OR_RETURN(result.contents, walker.ReadMember(member));
        result.member = member.path;
        found = true;
        return OkStatus();
      }));
  if (!found) {
    return InvalidArgumentError("wheel changed while being read: no " + wanted_member);
  }
  return result;
}

StatusOr<DistMetadata> ReadSdist(const Source& source, const ArchiveLimits& limits) {
  std::string top;
  bool top_is_directory = false;
  int pkg_info_count = 0;
  DistMetadata result;
  // One pass: walking a compressed tar twice would decompress it twice. The first member names
  // the top-level directory, so at most one PKG-INFO candidate is ever read.
  PYDEPOT_RETURN_IF_ERROR(WalkArchive(
      source, Container::kTarOrZip, limits, [&](Walker& walker, const Member& member) -> Status {
        if (member.parts.empty()) {
          return OkStatus();  // "./"
        }
        if (top.empty()) {
          top = member.parts[0];
        } else if (member.parts[0] != top) {
          return InvalidArgumentError("sdist has more than one top-level directory: " + Quote(top) +
                                      " and " + Quote(member.parts[0]));
        }
        if (member.parts.size() > 1 || member.is_directory) {
          top_is_directory = true;
        }
        if (member.parts.size() != 2 || member.parts[1] != "PKG-INFO") {
          return OkStatus();
        }
        if (++pkg_info_count > 1) {
          return InvalidArgumentError("sdist has more than one " + top + "/PKG-INFO");
        }
        PYDEPOT_ASSIGN_OR_RETURN(result.contents, walker.ReadMember(member));
        result.member = member.path;
        return OkStatus();
      }));
  if (top.empty()) {
    return InvalidArgumentError("sdist has no top-level directory: the archive is empty");
  }
  if (!top_is_directory) {
    return InvalidArgumentError("sdist has no top-level directory, only the file " + Quote(top));
  }
  if (pkg_info_count == 0) {
    return InvalidArgumentError("sdist has no " + top + "/PKG-INFO");
  }
  return result;
}

std::string_view LegacyFiletype(model::DistKind kind) {
  switch (kind) {
    case model::DistKind::kEgg:
      return "bdist_egg";
    case model::DistKind::kWininst:
      return "bdist_wininst";
    case model::DistKind::kMsi:
      return "bdist_msi";
    case model::DistKind::kDmg:
      return "bdist_dmg";
    case model::DistKind::kRpm:
      return "bdist_rpm";
    case model::DistKind::kWheel:
    case model::DistKind::kSdist:
      break;
  }
  return "unknown";
}

StatusOr<DistMetadata> Read(const Source& source, const model::DistFilename& name,
                            const ArchiveLimits& limits) {
  if (name.kind != model::DistKind::kWheel && name.kind != model::DistKind::kSdist) {
    return InvalidArgumentError("cannot read metadata from " +
                                std::string(LegacyFiletype(name.kind)) + " files (" +
                                Quote(name.filename) + ")");
  }
  if (name.name_part.empty() || name.version_part.empty()) {
    return InvalidArgumentError("distribution filename " + Quote(name.filename) +
                                " has no name or version part");
  }
  return name.kind == model::DistKind::kWheel ? ReadWheel(source, name, limits)
                                              : ReadSdist(source, limits);
}

}  // namespace

StatusOr<DistMetadata> ReadDistMetadata(const std::filesystem::path& path,
                                        const model::DistFilename& name,
                                        const ArchiveLimits& limits) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    if (error == std::errc::no_such_file_or_directory) {
      return NotFoundError(path.string() + ": no such file");
    }
    return InvalidArgumentError(path.string() + ": " + error.message());
  }
  Source source;
  source.path = &path;
  source.packed_size = static_cast<std::int64_t>(size);
  return Read(source, name, limits);
}

StatusOr<DistMetadata> ReadDistMetadataFromMemory(std::string_view bytes,
                                                  const model::DistFilename& name,
                                                  const ArchiveLimits& limits) {
  Source source;
  source.bytes = bytes;
  source.packed_size = static_cast<std::int64_t>(bytes.size());
  return Read(source, name, limits);
}

}  // namespace pydepot::archive
