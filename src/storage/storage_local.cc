// NewLocalStorage: objects are files under a root directory.
//
// On-disk format (shared by every process using the directory, so keep it stable):
//   <root>/<key>            the objects
//   <root>/.tmp/<random>    files being written; never visible as objects
//   <root>/.locks/<name>    one lock file per key ever replaced or deleted (see LockName)
//
// Create-only writes need no lock: link(2) of the finished temp file fails with EEXIST when the
// key exists, atomically, across processes. Compare-and-swap takes an exclusive flock on the
// key's lock file, compares the etag and renames the temp file over the key; Delete takes the
// same lock, so a swap never revives a key deleted between its compare and its rename. A link
// cannot slip into that window either, because the key exists throughout it.
//
// Etags are (inode, size, mtime in ns). Inode numbers are reused at once on ext4, and kernel
// timestamps are tick-coarse, so a rewrite within one tick could repeat an old etag and let a
// stale compare-and-swap succeed. Every write therefore sets the mtime itself from the precise
// clock, and a swap sets it past the replaced version's, so a key's etags never repeat.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "base/status_macros.h"
#include "storage/storage.h"

namespace pydepot::storage {
namespace {

constexpr std::string_view kTmpDir = ".tmp";
constexpr std::string_view kLocksDir = ".locks";
constexpr std::size_t kCopyChunk = std::size_t{1} << 20;
// Temp files older than this are left by crashed writers; live ones are written within seconds.
constexpr std::int64_t kStaleTmpNanos = std::int64_t{24} * 3600 * 1000 * 1000 * 1000;
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// "<op> <object>: strerror". Transient conditions become kUnavailable so callers may retry.
// Callers pass errno read before anything that allocates (string_views do not).
Status ErrnoStatus(std::string_view op, std::string_view object, int err) {
  std::string message = std::string(op) + " " + std::string(object) + ": " + ErrnoMessage(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return ResourceExhaustedError(std::move(message));
    case EIO:
    case EAGAIN:
    case EINTR:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ETIMEDOUT:
    case ESTALE:
    case EBUSY:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

Status CheckKey(std::string_view key) {
  if (!IsValidKey(key)) {
    return InvalidArgumentError("invalid storage key \"" + std::string(key) + "\"");
  }
  return OkStatus();
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string ParentDir(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }

 private:
  void Reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  int fd_ = -1;
};

// open(2) with O_CLOEXEC, retried on EINTR. On failure the descriptor is invalid and errno set.
UniqueFd OpenRaw(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return UniqueFd(fd);
}

StatusOr<UniqueFd> OpenFd(const std::string& path, int flags, mode_t mode = 0) {
  UniqueFd fd = OpenRaw(path, flags, mode);
  if (fd.get() < 0) {
    return ErrnoStatus("open", path, errno);
  }
  return fd;
}

Status SyncFd(int fd, std::string_view what) {
  if (::fsync(fd) != 0) {
    return ErrnoStatus("fsync", what, errno);
  }
  return OkStatus();
}

// Makes the directory's entries (a new link, rename or unlink) durable.
Status SyncDir(const std::string& dir) {
  PYDEPOT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(dir, O_RDONLY | O_DIRECTORY));
  return SyncFd(fd.get(), dir);
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return ErrnoStatus("write", what, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return OkStatus();
}

// Fills `buf` from `fd` at `offset`. kInternal when the file ends first: objects are never
// truncated in place, so that means someone edited the store by hand.
Status PreadAll(int fd, char* buf, std::size_t n, std::int64_t offset, std::string_view what) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      return ErrnoStatus("read", what, errno);
    }
    if (r == 0) {
      return InternalError("read " + std::string(what) + ": file is shorter than its size");
    }
    buf += r;
    n -= static_cast<std::size_t>(r);
    offset += r;
  }
  return OkStatus();
}

std::int64_t NowNanos() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

std::int64_t MtimeNanos(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * kNanosPerSecond + st.st_mtim.tv_nsec;
}

Status SetMtime(int fd, std::int64_t nanos, std::string_view what) {
  struct timespec times[2] = {};
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(nanos / kNanosPerSecond);
  times[1].tv_nsec = static_cast<decltype(times[1].tv_nsec)>(nanos % kNanosPerSecond);
  if (::futimens(fd, times) != 0) {
    return ErrnoStatus("set mtime of", what, errno);
  }
  return OkStatus();
}

std::string Hex(std::uint64_t value) {
  char buf[16];
  auto result = std::to_chars(buf, buf + sizeof(buf), value, 16);
  return std::string(buf, result.ptr);
}

ObjectInfo InfoFromStat(const struct stat& st) {
  ObjectInfo info;
  info.size = static_cast<std::int64_t>(st.st_size);
  std::int64_t mtime = MtimeNanos(st);
  info.etag = Hex(static_cast<std::uint64_t>(st.st_ino)) + "-" +
              Hex(static_cast<std::uint64_t>(st.st_size)) + "-" +
              Hex(static_cast<std::uint64_t>(mtime));
  info.modified_micros = mtime / 1000;
  return info;
}

StatusOr<struct stat> Fstat(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return ErrnoStatus("stat", what, errno);
  }
  return st;
}

// The object file's stat, kNotFound when there is no object at `path` (nothing there, or a
// directory, which only holds other keys).
StatusOr<struct stat> StatObject(const std::string& path, std::string_view key) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    return ErrnoStatus("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return NotFoundError(std::string(key) + ": no such object");
  }
  return st;
}

StatusOr<UniqueFd> OpenObject(const std::string& path, std::string_view key) {
  UniqueFd fd = OpenRaw(path, O_RDONLY);
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    return ErrnoStatus("open", path, errno);
  }
  return fd;
}

// A name no other writer picks, even across fork() or hosts (getrandom has no state to copy).
std::string RandomName() {
  std::uint64_t bits[2] = {};
  if (::getrandom(bits, sizeof(bits), 0) != static_cast<ssize_t>(sizeof(bits))) {
    static std::atomic<std::uint64_t> counter{0};
    bits[0] = static_cast<std::uint64_t>(NowNanos());
    bits[1] = (static_cast<std::uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1);
  }
  return Hex(bits[0]) + Hex(bits[1]);
}

// FNV-1a: stable across builds and hosts, which the lock file names must be.
std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// The key with '/' as '%' (not a key character, so distinct keys get distinct names). Names
// longer than a directory entry allows are cut and suffixed with a hash; two keys sharing a
// lock file would only serialise more, never less.
std::string LockName(std::string_view key) {
  std::string name(key);
  std::replace(name.begin(), name.end(), '/', '%');
  if (name.size() > 200) {
    name.resize(180);
    name += "%" + Hex(Fnv1a64(key));
  }
  return name;
}

// A file in .tmp being written; its name is removed on destruction unless the file was
// renamed away. Not thread-safe.
class TempFile {
 public:
  static StatusOr<TempFile> Create(const std::string& tmp_dir) {
    for (int attempt = 0;; ++attempt) {
      std::string path = tmp_dir + "/" + RandomName();
      int fd;
      do {
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      } while (fd < 0 && errno == EINTR);
      if (fd >= 0) {
        return TempFile(UniqueFd(fd), std::move(path));
      }
      if (errno != EEXIST || attempt >= 8) {
        return ErrnoStatus("create temp file", path, errno);
      }
    }
  }

  TempFile(TempFile&& other) noexcept
      : fd_(std::move(other.fd_)), path_(std::exchange(other.path_, std::string())) {}
  TempFile& operator=(TempFile&& other) = delete;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { RemoveName(); }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Unlinks the temp name (the inode lives on if linked elsewhere).
  void RemoveName() {
    if (!path_.empty()) {
      ::unlink(path_.c_str());
      path_.clear();
    }
  }
  // After a successful rename the name is gone already.
  void ForgetName() { path_.clear(); }

 private:
  TempFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

// Copies `source` into `dest` with copy_file_range (in-kernel), falling back to read/write
// where the kernel or filesystem cannot (EXDEV before 5.3 and again since 5.19, ENOSYS, ...).
Status CopyFileContents(int source, int dest, const std::string& source_name) {
  bool kernel_copy = true;
  std::string buffer;
  while (true) {
    if (kernel_copy) {
      ssize_t n = ::copy_file_range(source, nullptr, dest, nullptr, kCopyChunk, 0);
      if (n > 0) {
        continue;
      }
      if (n == 0) {
        return OkStatus();
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL &&
          errno != EPERM) {
        return ErrnoStatus("copy", source_name, errno);
      }
      // With null offsets the file positions tell how far the kernel got.
      kernel_copy = false;
      buffer.resize(kCopyChunk);
    }
    ssize_t n = ::read(source, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      return InvalidArgumentError("read source " + source_name + ": " + ErrnoMessage(err));
    }
    if (n == 0) {
      return OkStatus();
    }
    PYDEPOT_RETURN_IF_ERROR(WriteAll(dest, std::string_view(buffer.data(), n), "temp file"));
  }
}

class LocalReadStream final : public ReadStream {
 public:
  LocalReadStream(UniqueFd fd, std::string path, std::int64_t offset, std::int64_t end)
      : fd_(std::move(fd)), path_(std::move(path)), position_(offset), end_(end) {}

  StatusOr<std::size_t> Read(char* buf, std::size_t n) override {
    std::size_t count = std::min(n, static_cast<std::size_t>(end_ - position_));
    if (count == 0) {
      return std::size_t{0};
    }
    while (true) {
      ssize_t r = ::pread(fd_.get(), buf, count, static_cast<off_t>(position_));
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r < 0) {
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) {
        return InternalError("read " + path_ + ": file is shorter than its size");
      }
      position_ += r;
      return static_cast<std::size_t>(r);
    }
  }

 private:
  UniqueFd fd_;
  std::string path_;
  std::int64_t position_;
  std::int64_t end_;
};

// Thread-safe without locks of its own: every method works on the filesystem alone.
class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::string root)
      : root_(std::move(root)),
        root_slash_(root_ == "/" ? root_ : root_ + "/"),
        tmp_dir_(root_slash_ + std::string(kTmpDir)),
        locks_dir_(root_slash_ + std::string(kLocksDir)) {}

  // Prepares the directory: creates it and .tmp / .locks, checks that it is writable and keeps
  // nanosecond mtimes (the etags need them), and removes stale temp files.
  Status Init() {
    for (const std::string& dir : {root_, tmp_dir_, locks_dir_}) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      std::error_code type_ec;
      if (!std::filesystem::is_directory(dir, type_ec)) {
        return InvalidArgumentError("local storage " + root_ + ": " + dir + " is not a directory" +
                                    (ec ? ": " + ec.message() : std::string()));
      }
    }
    auto probe = TempFile::Create(tmp_dir_);
    if (!probe.has_value()) {
      return InvalidArgumentError("local storage " + root_ +
                                  " is not writable: " + probe.error().message());
    }
    // An odd nanosecond count survives only where the filesystem stores nanoseconds.
    std::int64_t stamp = NowNanos() / kNanosPerSecond * kNanosPerSecond + 123456789;
    PYDEPOT_RETURN_IF_ERROR(SetMtime(probe->fd(), stamp, probe->path()));
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(probe->fd(), probe->path()));
    if (MtimeNanos(st) != stamp) {
      return InvalidArgumentError("local storage " + root_ +
                                  ": the filesystem does not keep nanosecond timestamps, which "
                                  "the etags rely on; use ext4, xfs, btrfs or tmpfs");
    }
    RemoveStaleTempFiles();
    return OkStatus();
  }

  std::string Describe() const override { return "file://" + root_; }

  StatusOr<ObjectInfo> Head(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, StatObject(PathOf(key), key));
    return InfoFromStat(st);
  }

  StatusOr<Object> Get(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = PathOf(key);
    PYDEPOT_ASSIGN_OR_RETURN(UniqueFd fd, OpenObject(path, key));
    // The descriptor pins one version: its stat and its bytes belong together.
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(fd.get(), path));
    if (!S_ISREG(st.st_mode)) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    Object object;
    object.info = InfoFromStat(st);
    object.data.resize(static_cast<std::size_t>(st.st_size));
    PYDEPOT_RETURN_IF_ERROR(PreadAll(fd.get(), object.data.data(), object.data.size(), 0, path));
    return object;
  }

  StatusOr<std::unique_ptr<ReadStream>> Open(std::string_view key, std::int64_t offset,
                                             std::int64_t length) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = PathOf(key);
    PYDEPOT_ASSIGN_OR_RETURN(UniqueFd fd, OpenObject(path, key));
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(fd.get(), path));
    if (!S_ISREG(st.st_mode)) {
      return NotFoundError(std::string(key) + ": no such object");
    }
    std::int64_t size = static_cast<std::int64_t>(st.st_size);
    if (offset < 0 || offset > size || length < -1) {
      return InvalidArgumentError("open " + std::string(key) + ": range " + std::to_string(offset) +
                                  "+" + std::to_string(length) + " is outside the object's " +
                                  std::to_string(size) + " bytes");
    }
    std::int64_t end = (length == -1 || length > size - offset) ? size : offset + length;
    return std::unique_ptr<ReadStream>(
        std::make_unique<LocalReadStream>(std::move(fd), std::move(path), offset, end));
  }

  StatusOr<ObjectInfo> PutIfAbsent(std::string_view key, std::string_view data) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    PYDEPOT_RETURN_IF_ERROR(FailIfExists(key, StatusCode::kAlreadyExists));
    PYDEPOT_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(tmp_dir_));
    PYDEPOT_RETURN_IF_ERROR(WriteAll(temp.fd(), data, temp.path()));
    return LinkIntoPlace(temp, key, StatusCode::kAlreadyExists);
  }

  StatusOr<ObjectInfo> PutFileIfAbsent(std::string_view key,
                                       const std::filesystem::path& source) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    UniqueFd source_fd = OpenRaw(source.string(), O_RDONLY);
    if (source_fd.get() < 0) {
      int err = errno;
      return InvalidArgumentError("source " + source.string() + ": " + ErrnoMessage(err));
    }
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(source_fd.get(), source.string()));
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("source " + source.string() + " is not a regular file");
    }
    // A duplicate upload should not pay for a multi-megabyte copy; the link decides anyway.
    PYDEPOT_RETURN_IF_ERROR(FailIfExists(key, StatusCode::kAlreadyExists));
    PYDEPOT_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(tmp_dir_));
    PYDEPOT_RETURN_IF_ERROR(CopyFileContents(source_fd.get(), temp.fd(), source.string()));
    return LinkIntoPlace(temp, key, StatusCode::kAlreadyExists);
  }

  StatusOr<ObjectInfo> MoveFileIfAbsent(std::string_view key,
                                        const std::filesystem::path& source) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    UniqueFd source_fd = OpenRaw(source.string(), O_RDONLY | O_NOFOLLOW);
    if (source_fd.get() < 0) {
      int err = errno;
      return InvalidArgumentError("source " + source.string() + ": " + ErrnoMessage(err));
    }
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(source_fd.get(), source.string()));
    if (!S_ISREG(st.st_mode)) {
      return InvalidArgumentError("source " + source.string() + " is not a regular file");
    }
    PYDEPOT_RETURN_IF_ERROR(FailIfExists(key, StatusCode::kAlreadyExists));
    // The same steps as LinkIntoPlace, on the caller's file: stamp, fsync, link(2).
    PYDEPOT_RETURN_IF_ERROR(SetMtime(source_fd.get(), NowNanos(), source.string()));
    PYDEPOT_RETURN_IF_ERROR(SyncFd(source_fd.get(), source.string()));
    PYDEPOT_ASSIGN_OR_RETURN(st, Fstat(source_fd.get(), source.string()));
    PYDEPOT_RETURN_IF_ERROR(MakeParentDirs(key));
    std::string path = PathOf(key);
    if (::link(source.c_str(), path.c_str()) != 0) {
      if (errno == EXDEV || errno == EPERM || errno == EMLINK) {
        return PutFileIfAbsent(key, source);  // another filesystem, or no hard links: copy
      }
      if (errno == EEXIST) {
        Status exists = FailIfExists(key, StatusCode::kAlreadyExists);
        return exists.ok() ? Conflict(key, StatusCode::kAlreadyExists) : exists;
      }
      int err = errno;
      return ErrnoStatus("link", source.string() + " to " + path, err);
    }
    PYDEPOT_RETURN_IF_ERROR(SyncDir(ParentDir(path)));
    return InfoFromStat(st);
  }

  std::optional<std::filesystem::path> SpoolDirectory() override { return tmp_dir_; }

  StatusOr<ObjectInfo> PutIfMatch(std::string_view key, std::string_view data,
                                  std::string_view expected_etag) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    if (expected_etag.empty()) {
      // "Only if absent" is a create-only write: link(2) decides, no lock needed.
      PYDEPOT_RETURN_IF_ERROR(FailIfExists(key, StatusCode::kFailedPrecondition));
      PYDEPOT_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(tmp_dir_));
      PYDEPOT_RETURN_IF_ERROR(WriteAll(temp.fd(), data, temp.path()));
      return LinkIntoPlace(temp, key, StatusCode::kFailedPrecondition);
    }
    std::string path = PathOf(key);
    // Checked before writing too, so a writer that lost a race fails without an fsync.
    PYDEPOT_RETURN_IF_ERROR(CheckEtag(path, key, expected_etag).status);
    PYDEPOT_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(tmp_dir_));
    PYDEPOT_RETURN_IF_ERROR(WriteAll(temp.fd(), data, temp.path()));
    // The slow fsync happens outside the lock; only the compare and the rename are inside.
    PYDEPOT_RETURN_IF_ERROR(SyncFd(temp.fd(), temp.path()));
    {
      PYDEPOT_ASSIGN_OR_RETURN(UniqueFd lock, LockKey(key));
      EtagCheck check = CheckEtag(path, key, expected_etag);
      PYDEPOT_RETURN_IF_ERROR(check.status);
      PYDEPOT_RETURN_IF_ERROR(
          SetMtime(temp.fd(), std::max(NowNanos(), check.mtime_nanos + 1), temp.path()));
      if (::rename(temp.path().c_str(), path.c_str()) != 0) {
        int err = errno;
        return ErrnoStatus("rename", temp.path() + " to " + path, err);
      }
      temp.ForgetName();
    }
    // The new mtime (part of the etag) and the directory entry, after the lock is released.
    PYDEPOT_RETURN_IF_ERROR(SyncFd(temp.fd(), path));
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(temp.fd(), path));
    PYDEPOT_RETURN_IF_ERROR(SyncDir(ParentDir(path)));
    return InfoFromStat(st);
  }

  Status Delete(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = PathOf(key);
    {
      PYDEPOT_ASSIGN_OR_RETURN(UniqueFd lock, LockKey(key));
      if (::unlink(path.c_str()) != 0) {
        // EISDIR: a directory holds other keys, it is no object.
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
          return NotFoundError(std::string(key) + ": no such object");
        }
        return ErrnoStatus("unlink", path, errno);
      }
    }
    // Empty directories stay: removing them would race with writers creating keys in them.
    return SyncDir(ParentDir(path));
  }

  StatusOr<std::vector<std::string>> List(std::string_view prefix) override {
    if (!IsValidKeyPrefix(prefix)) {
      return InvalidArgumentError("invalid storage key prefix \"" + std::string(prefix) + "\"");
    }
    // Only the directory named by the prefix's complete segments can hold matches.
    std::size_t slash = prefix.rfind('/');
    std::string start = slash == std::string_view::npos
                            ? root_
                            : root_slash_ + std::string(prefix.substr(0, slash));
    std::vector<std::string> keys;
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::recursive_directory_iterator it(start, ec);
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      return keys;
    }
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string path = it->path().string();
      std::string key = path.substr(root_slash_.size());
      std::error_code type_ec;
      bool is_dir = it->is_directory(type_ec);
      std::string name = it->path().filename().string();
      if (!name.empty() && name.front() == '.') {
        // .tmp, .locks and anything else hidden: never objects, and keys cannot name them.
        if (is_dir) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (is_dir) {
        std::string dir_prefix = key + "/";
        if (!StartsWith(dir_prefix, prefix) && !StartsWith(prefix, dir_prefix)) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (it->is_regular_file(type_ec) && StartsWith(key, prefix) && IsValidKey(key)) {
        keys.push_back(std::move(key));
      }
    }
    if (ec) {
      return ErrnoStatus("list", start, ec.value());
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  StatusOr<std::filesystem::path> LocalPath(std::string_view key) override {
    PYDEPOT_RETURN_IF_ERROR(CheckKey(key));
    std::string path = PathOf(key);
    PYDEPOT_RETURN_IF_ERROR(StatObject(path, key));
    return std::filesystem::path(path);
  }

 private:
  struct EtagCheck {
    Status status;
    std::int64_t mtime_nanos = 0;
  };

  std::string PathOf(std::string_view key) const { return root_slash_ + std::string(key); }

  // OK with the current mtime when `key` exists with `expected_etag`, else kFailedPrecondition.
  static EtagCheck CheckEtag(const std::string& path, std::string_view key,
                             std::string_view expected_etag) {
    auto st = StatObject(path, key);
    if (!st.has_value()) {
      if (st.error().code() != StatusCode::kNotFound) {
        return {st.error()};
      }
      return {FailedPreconditionError(std::string(key) + ": does not exist, expected etag \"" +
                                      std::string(expected_etag) + "\"")};
    }
    std::string etag = InfoFromStat(*st).etag;
    if (etag != expected_etag) {
      return {FailedPreconditionError(std::string(key) + ": etag \"" + etag +
                                      "\" does not match the expected \"" +
                                      std::string(expected_etag) + "\"")};
    }
    return {OkStatus(), MtimeNanos(*st)};
  }

  // The conflict error of a create-only write when something is at `key` already.
  static Status Conflict(std::string_view key, StatusCode conflict) {
    return Status(conflict, std::string(key) + " already exists");
  }

  Status FailIfExists(std::string_view key, StatusCode conflict) const {
    struct stat st {};
    if (::lstat(PathOf(key).c_str(), &st) == 0) {
      return S_ISDIR(st.st_mode) ? DirectoryConflict(key) : Conflict(key, conflict);
    }
    return OkStatus();
  }

  static Status DirectoryConflict(std::string_view key) {
    return FailedPreconditionError(std::string(key) +
                                   " is a directory holding other keys, it cannot be an object");
  }

  // Creates the directories above `key`, making each new entry durable before anything is
  // linked into it.
  Status MakeParentDirs(std::string_view key) const {
    std::size_t last = key.rfind('/');
    if (last == std::string_view::npos) {
      return OkStatus();
    }
    struct stat st {};
    if (::stat(PathOf(key.substr(0, last)).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return OkStatus();
    }
    for (std::size_t slash = key.find('/'); slash != std::string_view::npos;
         slash = key.find('/', slash + 1)) {
      std::string dir = PathOf(key.substr(0, slash));
      if (::mkdir(dir.c_str(), 0777) == 0) {
        PYDEPOT_RETURN_IF_ERROR(SyncDir(ParentDir(dir)));
        continue;
      }
      if (errno != EEXIST) {
        return ErrnoStatus("mkdir", dir, errno);
      }
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return FailedPreconditionError(std::string(key.substr(0, slash)) +
                                       " is an object, it cannot hold " + std::string(key));
      }
    }
    return OkStatus();
  }

  // Makes the fully written `temp` the object `key` unless one exists: stamps and fsyncs it,
  // link(2)s it (atomic create-only), drops the temp name and fsyncs the directory.
  StatusOr<ObjectInfo> LinkIntoPlace(TempFile& temp, std::string_view key, StatusCode conflict) {
    PYDEPOT_RETURN_IF_ERROR(SetMtime(temp.fd(), NowNanos(), temp.path()));
    PYDEPOT_RETURN_IF_ERROR(SyncFd(temp.fd(), temp.path()));
    PYDEPOT_ASSIGN_OR_RETURN(struct stat st, Fstat(temp.fd(), temp.path()));
    PYDEPOT_RETURN_IF_ERROR(MakeParentDirs(key));
    std::string path = PathOf(key);
    if (::link(temp.path().c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) {
        Status exists = FailIfExists(key, conflict);
        return exists.ok() ? Conflict(key, conflict) : exists;
      }
      int err = errno;
      return ErrnoStatus("link", temp.path() + " to " + path, err);
    }
    temp.RemoveName();
    PYDEPOT_RETURN_IF_ERROR(SyncDir(ParentDir(path)));
    return InfoFromStat(st);
  }

  // Holds the exclusive lock of `key` until the returned descriptor closes. flock locks belong
  // to the open file description, so threads of one process exclude each other too.
  StatusOr<UniqueFd> LockKey(std::string_view key) const {
    std::string path = locks_dir_ + "/" + LockName(key);
    PYDEPOT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFd(path, O_RDWR | O_CREAT, 0666));
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) {
        return ErrnoStatus("lock", path, errno);
      }
    }
    return fd;
  }

  // Best effort: a failure here only leaves garbage that is never visible.
  void RemoveStaleTempFiles() const {
    DIR* dir = ::opendir(tmp_dir_.c_str());
    if (dir == nullptr) {
      return;
    }
    std::int64_t cutoff = NowNanos() - kStaleTmpNanos;
    while (const struct dirent* entry = ::readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      struct stat st {};
      if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode) && MtimeNanos(st) < cutoff) {
        ::unlinkat(::dirfd(dir), entry->d_name, 0);
      }
    }
    ::closedir(dir);
  }

  const std::string root_;        // absolute, no trailing '/' (unless it is "/")
  const std::string root_slash_;  // root_ ending in '/': root_slash_ + key is the object
  const std::string tmp_dir_;
  const std::string locks_dir_;
};

}  // namespace

StatusOr<std::unique_ptr<Storage>> NewLocalStorage(const std::filesystem::path& root) {
  if (root.empty()) {
    return InvalidArgumentError("local storage: empty directory path");
  }
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(root, ec);
  if (ec) {
    return InvalidArgumentError("local storage " + root.string() + ": " + ec.message());
  }
  std::string normal = absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') {
    normal.pop_back();
  }
  auto storage = std::make_unique<LocalStorage>(std::move(normal));
  PYDEPOT_RETURN_IF_ERROR(storage->Init());
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace pydepot::storage
