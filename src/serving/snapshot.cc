// The snapshot store: an O_NOFOLLOW tree walk, hashing behind a stat cache, atomic blob writes.
#include "serving/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "core/crypto.h"
#include "core/log.h"

namespace lathe::serving {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Each level of the walk holds one open directory; this keeps a hostile tree from exhausting the
// process's descriptors.
constexpr int kMaxDepth = 256;
// As the kernel's MAXSYMLINKS: more hops than this is a loop.
constexpr int kMaxLinkHops = 40;
constexpr std::size_t kCopyBufferBytes = 1 << 20;
constexpr mode_t kStoreDirMode = 0700;  // the store is the server's alone
constexpr mode_t kBuildDirMode = 0755;
constexpr int kManifestVersion = 1;
constexpr int kCacheVersion = 1;
constexpr std::string_view kManifestHeader = "lathe-snapshot-v1\n";

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            Reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { Reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void Reset(int fd = -1) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }
    // Closes now, reporting the error close(2) gives (a delayed write error on some filesystems).
    int Close() {
        const int result = ::close(std::exchange(fd_, -1));
        return result == 0 ? 0 : errno;
    }

private:
    int fd_ = -1;
};

std::unexpected<Error> OsError(std::string_view action, std::string_view path, int err) {
    std::string message = std::string(action) + " '" + std::string(path) +
                          "' failed: " + std::error_code(err, std::generic_category()).message();
    if (err == ENOSPC || err == EDQUOT) {
        message += " (the disk holding the snapshot store is full)";
    }
    return MakeError(ErrorCode::kInternal, std::move(message));
}

bool IsSha256Hex(std::string_view text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// "ab/cdef...", plus ".x" for content stored from an executable file.
std::string BlobName(std::string_view hex, bool executable) {
    std::string name;
    name.reserve(hex.size() + 3);
    name.append(hex.substr(0, 2)).append("/").append(hex.substr(2));
    if (executable) {
        name += ".x";
    }
    return name;
}

std::vector<std::string> SplitPath(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        if (end > start) {
            parts.emplace_back(path.substr(start, end - start));
        }
        start = end + 1;
    }
    return parts;
}

std::string JoinPath(const std::vector<std::string>& parts) {
    std::string joined;
    for (const std::string& part : parts) {
        if (!joined.empty()) {
            joined += '/';
        }
        joined += part;
    }
    return joined;
}

// "1.5 GiB (1610612736 bytes)".
std::string FormatBytes(std::int64_t bytes) {
    static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    if (unit == 0) {
        return std::to_string(bytes) + " bytes";
    }
    char text[64];
    std::snprintf(text, sizeof(text), "%.1f %s (%lld bytes)", value, kUnits[unit],
                  static_cast<long long>(bytes));
    return text;
}

std::int64_t Nanoseconds(const timespec& ts) {
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The kernel's coarse wall clock, the one inode timestamps are taken from (or, with fine-grained
// timestamps, a value never above them), so any change made after this call gets a ctime at or
// above it. Not the injectable Clock: this is compared with timestamps the kernel wrote.
std::int64_t FilesystemNowNs() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    return Nanoseconds(now);
}

UniqueFd OpenDirectoryAt(int at, const char* name) {
    return UniqueFd(::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// Opens the file at rel below root_fd, every component opened relative to the one before with
// O_NOFOLLOW, so a symlink anywhere (even one swapped in since the walk) fails the open instead of
// leading out. Invalid with errno set on failure.
UniqueFd OpenFileBeneath(int root_fd, const std::string& rel) {
    const std::vector<std::string> parts = SplitPath(rel);
    if (parts.empty()) {
        errno = ENOENT;
        return UniqueFd();
    }
    UniqueFd dir;
    int at = root_fd;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        UniqueFd next = OpenDirectoryAt(at, parts[i].c_str());
        if (!next.valid()) {
            return next;
        }
        dir = std::move(next);
        at = dir.get();
    }
    // O_NONBLOCK: a FIFO swapped in since the walk must not block the open.
    return UniqueFd(::openat(at, parts.back().c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
}

// Names in a directory other than "." and "..", unsorted.
Result<std::vector<std::string>> ListNames(int dir_fd, std::string_view what) {
    // A separate open file description, so readdir's offset is not shared with dir_fd.
    const int list_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (list_fd < 0) {
        return OsError("listing", what, errno);
    }
    DIR* dir = ::fdopendir(list_fd);
    if (dir == nullptr) {
        const int err = errno;
        ::close(list_fd);
        return OsError("listing", what, err);
    }
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name(entry->d_name);
        if (name != "." && name != "..") {
            names.emplace_back(name);
        }
    }
    const int read_error = errno;
    ::closedir(dir);
    if (read_error != 0) {
        return OsError("listing", what, read_error);
    }
    return names;
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
    while (!data.empty()) {
        const ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OsError("writing", what, errno);
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
}

Result<std::string> ReadAll(int fd, std::string_view what) {
    std::string content;
    char buffer[64 * 1024];
    while (true) {
        const ssize_t got = ::read(fd, buffer, sizeof(buffer));
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OsError("reading", what, errno);
        }
        if (got == 0) {
            return content;
        }
        content.append(buffer, static_cast<std::size_t>(got));
    }
}

// A file created under a unique name in the store's tmp/, removed again unless committed.
class TempFile {
public:
    static Result<TempFile> Create(const fs::path& tmp_dir, std::string_view prefix) {
        std::string pattern = (tmp_dir / (std::string(prefix) + "XXXXXX")).string();
        const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd < 0) {
            return OsError("creating a temp file in", tmp_dir.string(), errno);
        }
        return TempFile(std::move(pattern), UniqueFd(fd));
    }
    TempFile(TempFile&&) = default;
    TempFile& operator=(TempFile&&) = delete;
    ~TempFile() {
        if (!path_.empty()) {
            ::unlink(path_.c_str());
        }
    }

    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

    // Sets the final mode, optionally makes the content durable, and closes the file.
    Status Finish(mode_t mode, bool durable) {
        if (::fchmod(fd_.get(), mode) != 0) {
            return OsError("setting the mode of", path_, errno);
        }
        if (durable && ::fsync(fd_.get()) != 0) {
            return OsError("syncing", path_, errno);
        }
        if (const int err = fd_.Close(); err != 0) {
            return OsError("closing", path_, err);
        }
        return {};
    }

    // Renames the file to name under dir_fd, replacing whatever is there.
    Status RenameTo(int dir_fd, const std::string& name) {
        if (::renameat(AT_FDCWD, path_.c_str(), dir_fd, name.c_str()) != 0) {
            return OsError("renaming into place", path_, errno);
        }
        path_.clear();
        return {};
    }

private:
    TempFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

    std::string path_;  // empty once renamed into place
    UniqueFd fd_;
};

// flock(2) on <root>/lock for as long as this lives. Each holder opens its own descriptor, so the
// lock also orders threads of one process.
class StoreLock {
public:
    static Result<StoreLock> Acquire(const fs::path& root, int operation) {
        const fs::path path = root / "lock";
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid()) {
            return OsError("opening", path.string(), errno);
        }
        while (::flock(fd.get(), operation) != 0) {
            if (errno != EINTR) {
                return OsError("locking", path.string(), errno);
            }
        }
        return StoreLock(std::move(fd));
    }

private:
    explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;  // closing it releases the lock
};

// Descriptors of the store's directories, created when asked.
struct StoreDirs {
    UniqueFd blobs;
    UniqueFd manifests;
    UniqueFd cache;
    fs::path tmp;
};

Result<StoreDirs> OpenStoreDirs(const fs::path& root, bool create) {
    if (create) {
        std::error_code ec;
        fs::create_directories(root, ec);
        if (ec) {
            return OsError("creating", root.string(), ec.value());
        }
    }
    UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd.valid()) {
        if (errno == ENOENT) {
            return MakeError(ErrorCode::kNotFound,
                             "the snapshot store '" + root.string() + "' does not exist");
        }
        return OsError("opening", root.string(), errno);
    }
    if (create) {
        ::fchmod(root_fd.get(), kStoreDirMode);
    }
    StoreDirs dirs;
    const std::pair<const char*, UniqueFd*> subdirs[] = {{"blobs", &dirs.blobs},
                                                         {"manifests", &dirs.manifests},
                                                         {"cache", &dirs.cache},
                                                         {"tmp", nullptr}};
    for (const auto& [name, slot] : subdirs) {
        if (create && ::mkdirat(root_fd.get(), name, kStoreDirMode) != 0 && errno != EEXIST) {
            return OsError("creating", (root / name).string(), errno);
        }
        if (slot == nullptr) {
            continue;
        }
        *slot = OpenDirectoryAt(root_fd.get(), name);
        if (!slot->valid()) {
            if (errno == ENOENT) {
                return MakeError(ErrorCode::kNotFound, "the snapshot store '" + root.string() +
                                                           "' has no " + name + " directory");
            }
            return OsError("opening", (root / name).string(), errno);
        }
    }
    dirs.tmp = root / "tmp";
    return dirs;
}

// Whether blob_name is stored as a regular file of the given size.
bool BlobStored(int blobs_fd, const std::string& blob_name, std::int64_t size) {
    struct stat st {};
    return ::fstatat(blobs_fd, blob_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode) && st.st_size == size;
}

// Whether text is valid UTF-8: nlohmann refuses to serialize other bytes as a string, and
// replacing them would change the name, so such paths go into manifests hex-encoded.
bool IsUtf8(const std::string& text) {
    try {
        (void)json(text).dump();
        return true;
    } catch (const json::exception&) {
        return false;
    }
}

// ---- The hash cache -------------------------------------------------------------------------

// What identifies one state of a file's content without reading it.
struct FileState {
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    bool operator==(const FileState&) const = default;
};

FileState StateOf(const struct stat& st) {
    return FileState{static_cast<std::int64_t>(st.st_size), Nanoseconds(st.st_mtim),
                     Nanoseconds(st.st_ctim), static_cast<std::uint64_t>(st.st_dev),
                     static_cast<std::uint64_t>(st.st_ino)};
}

struct CachedHash {
    FileState state;
    std::string blob;
};

using HashCache = std::unordered_map<std::string, CachedHash>;

// {"version": 1, "dir": str, "files": {path: [size, mtime_ns, ctime_ns, dev, ino, blob]}}. A cache
// that cannot be read is treated as empty: it only saves time.
HashCache ParseHashCache(std::string_view text) {
    HashCache cache;
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || doc.value("version", 0) != kCacheVersion || !doc.contains("files") ||
        !doc["files"].is_object()) {
        return cache;
    }
    try {
        for (const auto& [path, entry] : doc["files"].items()) {
            if (!entry.is_array() || entry.size() != 6 || !entry[5].is_string() ||
                !IsSha256Hex(entry[5].get_ref<const std::string&>())) {
                continue;
            }
            cache[path] =
                CachedHash{FileState{entry[0].get<std::int64_t>(), entry[1].get<std::int64_t>(),
                                     entry[2].get<std::int64_t>(), entry[3].get<std::uint64_t>(),
                                     entry[4].get<std::uint64_t>()},
                           entry[5].get<std::string>()};
        }
    } catch (const json::exception&) {
        cache.clear();
    }
    return cache;
}

std::string SerializeHashCache(const std::string& dir, const HashCache& cache) {
    json files = json::object();
    for (const auto& [path, entry] : cache) {
        files[path] = json::array({entry.state.size, entry.state.mtime_ns, entry.state.ctime_ns,
                                   entry.state.dev, entry.state.ino, entry.blob});
    }
    const json doc = {{"version", kCacheVersion}, {"dir", dir}, {"files", std::move(files)}};
    // A name that is not UTF-8 gets a mangled key; the entry still only matches its own inode.
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- Walking the captured directory ---------------------------------------------------------

struct WalkEntry {
    std::string path;       // in the snapshot
    std::string real_path;  // the regular file read for it; differs from path for a symlink
    struct stat st {};
};

// Lists every regular file under a directory (and every symlink that leads, inside it, to one)
// with its stat, enforcing the file limit as it goes.
class TreeWalk {
public:
    TreeWalk(int root_fd, const fs::path& root, const CaptureLimits& limits)
        : root_fd_(root_fd), root_(root), root_parts_(SplitPath(root.string())), limits_(limits) {}

    Status Run() { return WalkDirectory(root_fd_, "", 0); }

    std::vector<WalkEntry>& entries() { return entries_; }
    std::int64_t bytes() const { return bytes_; }
    std::int64_t skipped() const { return skipped_; }

private:
    Status WalkDirectory(int dir_fd, const std::string& prefix, int depth) {
        if (depth > kMaxDepth) {
            return MakeError(ErrorCode::kBadRequest,
                             "'" + (root_ / prefix).string() + "' is nested more than " +
                                 std::to_string(kMaxDepth) + " directories deep to be snapshotted");
        }
        ASSIGN_OR_RETURN(const std::vector<std::string> names,
                         ListNames(dir_fd, (root_ / prefix).string()));
        for (const std::string& name : names) {
            const std::string path = prefix + name;
            struct stat st {};
            if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) {
                    continue;  // removed since the listing
                }
                return OsError("reading", (root_ / path).string(), errno);
            }
            if (S_ISDIR(st.st_mode)) {
                UniqueFd child = OpenDirectoryAt(dir_fd, name.c_str());
                if (!child.valid()) {
                    // Removed, or swapped for a symlink or a file since the fstatat.
                    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
                        continue;
                    }
                    return OsError("opening", (root_ / path).string(), errno);
                }
                RETURN_IF_ERROR(WalkDirectory(child.get(), path + "/", depth + 1));
            } else if (S_ISREG(st.st_mode)) {
                RETURN_IF_ERROR(Add(WalkEntry{path, path, st}));
            } else if (S_ISLNK(st.st_mode)) {
                if (std::optional<WalkEntry> target = ResolveLink(path)) {
                    RETURN_IF_ERROR(Add(std::move(*target)));
                } else {
                    ++skipped_;
                }
            } else {
                ++skipped_;  // FIFOs, sockets, devices
            }
        }
        return {};
    }

    Status Add(WalkEntry entry) {
        if (static_cast<std::int64_t>(entries_.size()) >= limits_.max_files) {
            return MakeError(ErrorCode::kPayloadTooLarge,
                             "'" + root_.string() + "' holds more than " +
                                 std::to_string(limits_.max_files) +
                                 " files; a model build snapshot may hold at most " +
                                 std::to_string(limits_.max_files));
        }
        bytes_ += static_cast<std::int64_t>(entry.st.st_size);
        entries_.push_back(std::move(entry));
        return {};
    }

    // The components of an absolute link target below the root, or nullopt if it does not
    // name the root's own (real) path or something under it.
    std::optional<std::vector<std::string>> BelowRoot(std::string_view target) const {
        std::vector<std::string> parts = SplitPath(target);
        if (parts.size() < root_parts_.size() ||
            !std::equal(root_parts_.begin(), root_parts_.end(), parts.begin())) {
            return std::nullopt;
        }
        parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(root_parts_.size()));
        return parts;
    }

    // Resolves the symlink at link_path (whose parents are real directories) as the kernel would,
    // but one component at a time from the root with O_NOFOLLOW and ".." applied to the resolved
    // path, so resolution can never step outside the root. Returns the regular file it leads to,
    // or nullopt for a link that leaves the root, dangles, loops or ends at anything else.
    std::optional<WalkEntry> ResolveLink(const std::string& link_path) const {
        std::deque<std::string> pending;
        for (std::string& part : SplitPath(link_path)) {
            pending.push_back(std::move(part));
        }
        std::vector<std::string> resolved;
        std::vector<UniqueFd> dir_fds;  // dir_fds[i] is the directory resolved[0..i]
        int hops = 0;
        while (!pending.empty()) {
            const std::string part = std::move(pending.front());
            pending.pop_front();
            if (part == ".") {
                continue;
            }
            if (part == "..") {
                if (resolved.empty()) {
                    return std::nullopt;  // above the root
                }
                resolved.pop_back();
                dir_fds.pop_back();
                continue;
            }
            const int at = dir_fds.empty() ? root_fd_ : dir_fds.back().get();
            struct stat st {};
            if (::fstatat(at, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                return std::nullopt;
            }
            if (S_ISLNK(st.st_mode)) {
                if (++hops > kMaxLinkHops) {
                    return std::nullopt;
                }
                char buffer[PATH_MAX];
                const ssize_t length = ::readlinkat(at, part.c_str(), buffer, sizeof(buffer));
                if (length <= 0 || static_cast<std::size_t>(length) >= sizeof(buffer)) {
                    return std::nullopt;
                }
                const std::string_view target(buffer, static_cast<std::size_t>(length));
                std::vector<std::string> target_parts;
                if (target.front() == '/') {
                    std::optional<std::vector<std::string>> below = BelowRoot(target);
                    if (!below) {
                        return std::nullopt;
                    }
                    target_parts = std::move(*below);
                    resolved.clear();
                    dir_fds.clear();
                } else {
                    target_parts = SplitPath(target);
                }
                pending.insert(pending.begin(), std::make_move_iterator(target_parts.begin()),
                               std::make_move_iterator(target_parts.end()));
                continue;
            }
            if (S_ISDIR(st.st_mode) && !pending.empty()) {
                UniqueFd dir = OpenDirectoryAt(at, part.c_str());
                if (!dir.valid()) {
                    return std::nullopt;
                }
                resolved.push_back(part);
                dir_fds.push_back(std::move(dir));
                continue;
            }
            if (S_ISREG(st.st_mode) && pending.empty()) {
                resolved.push_back(part);
                return WalkEntry{link_path, JoinPath(resolved), st};
            }
            return std::nullopt;  // a directory, a special file, or a file used as a directory
        }
        return std::nullopt;  // ended on "." or "..": a directory
    }

    int root_fd_;
    fs::path root_;
    std::vector<std::string> root_parts_;
    const CaptureLimits& limits_;
    std::vector<WalkEntry> entries_;
    std::int64_t bytes_ = 0;
    std::int64_t skipped_ = 0;
};

// ---- Storing content ------------------------------------------------------------------------

struct StoredContent {
    std::string blob;
    std::int64_t size = 0;
    FileState state_before;  // fstat before reading
    FileState state_after;   // and after: different if the file changed while it was read
};

// The fan-out directories (blobs/<2 hex>) that got new blobs during one Capture, synced once each
// before the manifest that needs their entries is written.
class FanoutSync {
public:
    void Touch(std::string fanout) { fanouts_.insert(std::move(fanout)); }

    Status Sync(int blobs_fd, const fs::path& root) const {
        if (fanouts_.empty()) {
            return {};
        }
        const std::string blobs_what = (root / "blobs").string();
        for (const std::string& fanout : fanouts_) {
            UniqueFd fanout_fd = OpenDirectoryAt(blobs_fd, fanout.c_str());
            if (!fanout_fd.valid() || ::fsync(fanout_fd.get()) != 0) {
                return OsError("syncing", blobs_what + "/" + fanout, errno);
            }
        }
        if (::fsync(blobs_fd) != 0) {
            return OsError("syncing", blobs_what, errno);
        }
        return {};
    }

private:
    std::set<std::string> fanouts_;
};

// Reads src_fd to its end, hashing it and copying it into a temp file in the store, which is then
// fsync'd and renamed to its blob name unless that blob is already stored. So a blob holds exactly
// the bytes its name was computed from, even when the source changes while it is read, and a crash
// leaves a whole blob or a temp file (removed by the next Collect), never a partial blob under its
// name. byte_budget: how many more bytes the snapshot may take.
Result<StoredContent> StoreContent(int src_fd,
                                   const std::string& what,
                                   bool executable,
                                   std::int64_t byte_budget,
                                   const CaptureLimits& limits,
                                   StoreDirs& store,
                                   FanoutSync& fanouts,
                                   CaptureReport& report) {
    StoredContent stored;
    struct stat st {};
    if (::fstat(src_fd, &st) != 0) {
        return OsError("reading", what, errno);
    }
    stored.state_before = StateOf(st);
    ::posix_fadvise(src_fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(store.tmp, "blob-"));
    crypto_hash_sha256_state hash;
    crypto_hash_sha256_init(&hash);
    std::vector<char> buffer(kCopyBufferBytes);
    while (true) {
        const ssize_t got = ::read(src_fd, buffer.data(), buffer.size());
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OsError("reading", what, errno);
        }
        if (got == 0) {
            break;
        }
        stored.size += got;
        if (stored.size > byte_budget) {
            return MakeError(ErrorCode::kPayloadTooLarge,
                             "'" + what + "' grew while it was captured; the snapshot would " +
                                 "exceed the limit of " + FormatBytes(limits.max_bytes));
        }
        crypto_hash_sha256_update(&hash, reinterpret_cast<const unsigned char*>(buffer.data()),
                                  static_cast<unsigned long long>(got));
        if (Status written =
                WriteAll(temp.fd(), {buffer.data(), static_cast<std::size_t>(got)}, temp.path());
            !written) {
            return MakeError(written.error().code,
                             "storing '" + what + "': " + written.error().message);
        }
    }
    if (::fstat(src_fd, &st) != 0) {
        return OsError("reading", what, errno);
    }
    stored.state_after = StateOf(st);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&hash, digest);
    stored.blob = HexEncode({reinterpret_cast<const char*>(digest), sizeof(digest)});
    report.files_hashed += 1;
    report.bytes_hashed += stored.size;

    const std::string blob_name = BlobName(stored.blob, executable);
    if (BlobStored(store.blobs.get(), blob_name, stored.size)) {
        return stored;  // the temp copy goes away with `temp`
    }
    RETURN_IF_ERROR(temp.Finish(executable ? 0555 : 0444, /*durable=*/true));
    std::string fanout = blob_name.substr(0, 2);
    if (::mkdirat(store.blobs.get(), fanout.c_str(), kStoreDirMode) != 0 && errno != EEXIST) {
        return OsError("creating", (store.tmp.parent_path() / "blobs" / fanout).string(), errno);
    }
    RETURN_IF_ERROR(temp.RenameTo(store.blobs.get(), blob_name));
    fanouts.Touch(std::move(fanout));
    report.blobs_written += 1;
    report.bytes_written += stored.size;
    return stored;
}

// ---- Manifests --------------------------------------------------------------------------------

std::string ManifestText(const Snapshot& snapshot) {
    json files = json::array();
    for (const SnapshotFile& file : snapshot.files) {
        json entry = json::object();
        if (IsUtf8(file.path)) {
            entry["path"] = file.path;
        } else {
            entry["path_hex"] = HexEncode(file.path);
        }
        entry["blob"] = file.blob;
        entry["size"] = file.size;
        entry["executable"] = file.executable;
        files.push_back(std::move(entry));
    }
    const json doc = {{"version", kManifestVersion},
                      {"id", snapshot.id},
                      {"total_bytes", snapshot.total_bytes},
                      {"files", std::move(files)}};
    return doc.dump(1) + "\n";
}

std::optional<std::string> HexDecode(std::string_view hex) {
    if (hex.size() % 2 != 0) {
        return std::nullopt;
    }
    std::string out(hex.size() / 2, '\0');
    std::size_t length = 0;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                       hex.size(), nullptr, &length, nullptr) != 0 ||
        length != out.size()) {
        return std::nullopt;
    }
    return out;
}

bool IsValidSnapshotPath(std::string_view path) {
    if (path.empty() || path.front() == '/' || path.back() == '/' ||
        path.find('\0') != std::string_view::npos || path.find("//") != std::string_view::npos) {
        return false;
    }
    for (const std::string& part : SplitPath(path)) {
        if (part == "." || part == "..") {
            return false;
        }
    }
    return true;
}

// Parses and checks a manifest: every field, the order of paths, and the id against the content.
Result<Snapshot> ParseManifest(const std::string& id, std::string_view text) {
    auto corrupt = [&](const std::string& why) {
        return MakeError(ErrorCode::kInternal,
                         "the manifest of snapshot " + id + " is corrupt: " + why);
    };
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("files") || !doc["files"].is_array()) {
        return corrupt("not a manifest");
    }
    if (doc.value("version", 0) != kManifestVersion) {
        return corrupt("unknown version");
    }
    Snapshot snapshot;
    snapshot.id = id;
    try {
        for (const json& entry : doc["files"]) {
            SnapshotFile file;
            if (entry.contains("path_hex")) {
                std::optional<std::string> path =
                    HexDecode(entry.at("path_hex").get<std::string>());
                if (!path) {
                    return corrupt("bad path_hex");
                }
                file.path = std::move(*path);
            } else {
                file.path = entry.at("path").get<std::string>();
            }
            file.blob = entry.at("blob").get<std::string>();
            file.size = entry.at("size").get<std::int64_t>();
            file.executable = entry.at("executable").get<bool>();
            if (!IsValidSnapshotPath(file.path) || !IsSha256Hex(file.blob) || file.size < 0) {
                return corrupt("bad entry for '" + file.path + "'");
            }
            if (!snapshot.files.empty() && !(snapshot.files.back().path < file.path)) {
                return corrupt("paths out of order at '" + file.path + "'");
            }
            snapshot.total_bytes += file.size;
            snapshot.files.push_back(std::move(file));
        }
    } catch (const json::exception& e) {
        return corrupt(e.what());
    }
    if (ComputeSnapshotId(snapshot.files) != id) {
        return corrupt("its content does not hash to its id");
    }
    return snapshot;
}

// ---- Materializing -------------------------------------------------------------------------

// A fresh copy of a blob at name under dir_fd, for when the blob's inode has as many hard links
// as its filesystem allows (ext4: 65000).
Status CopyBlob(int blobs_fd,
                const std::string& blob_name,
                int dir_fd,
                const std::string& name,
                mode_t mode,
                const std::string& what) {
    UniqueFd src(::openat(blobs_fd, blob_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src.valid()) {
        return OsError("opening the blob for", what, errno);
    }
    UniqueFd dst(
        ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst.valid()) {
        return OsError("creating", what, errno);
    }
    std::vector<char> buffer(kCopyBufferBytes);
    while (true) {
        const ssize_t got = ::read(src.get(), buffer.data(), buffer.size());
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OsError("reading the blob for", what, errno);
        }
        if (got == 0) {
            break;
        }
        RETURN_IF_ERROR(WriteAll(dst.get(), {buffer.data(), static_cast<std::size_t>(got)}, what));
    }
    if (::fchmod(dst.get(), mode) != 0) {
        return OsError("setting the mode of", what, errno);
    }
    if (const int err = dst.Close(); err != 0) {
        return OsError("closing", what, err);
    }
    return {};
}

// The directory rel below root_fd, creating missing components (0700 until the end of
// Materialize) and recording the ones created.
Result<UniqueFd> MakeDirectories(int root_fd,
                                 const std::string& rel,
                                 const fs::path& target,
                                 std::vector<std::string>& created) {
    UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!dir.valid()) {
        return OsError("opening", target.string(), errno);
    }
    std::string so_far;
    for (const std::string& part : SplitPath(rel)) {
        so_far += so_far.empty() ? part : "/" + part;
        if (::mkdirat(dir.get(), part.c_str(), kStoreDirMode) == 0) {
            created.push_back(so_far);
        } else if (errno != EEXIST) {
            return OsError("creating", (target / so_far).string(), errno);
        }
        UniqueFd next = OpenDirectoryAt(dir.get(), part.c_str());
        if (!next.valid()) {
            return OsError("opening", (target / so_far).string(), errno);
        }
        dir = std::move(next);
    }
    return dir;
}

}  // namespace

std::string ComputeSnapshotId(const std::vector<SnapshotFile>& files) {
    std::string text(kManifestHeader);
    for (const SnapshotFile& file : files) {
        text.append(file.path).push_back('\0');
        text.append(file.blob).push_back('\0');
        text.append(file.executable ? "100755" : "100644").push_back('\n');
    }
    return Sha256Hex(text);
}

SnapshotStore::SnapshotStore(std::filesystem::path root) : root_(std::move(root)) {}

Result<Snapshot> SnapshotStore::Capture(const std::filesystem::path& dir,
                                        const CaptureLimits& limits,
                                        CaptureReport* report_out) {
    CaptureReport report;
    const std::int64_t started_ns = FilesystemNowNs();

    std::error_code ec;
    const fs::path real_dir = fs::canonical(dir, ec);
    if (ec) {
        if (ec == std::errc::no_such_file_or_directory) {
            return MakeError(ErrorCode::kNotFound, "'" + dir.string() + "' does not exist");
        }
        return OsError("resolving", dir.string(), ec.value());
    }
    UniqueFd root_fd(::open(real_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd.valid()) {
        if (errno == ENOTDIR) {
            return MakeError(ErrorCode::kBadRequest, "'" + dir.string() + "' is not a directory");
        }
        return OsError("opening", dir.string(), errno);
    }

    ASSIGN_OR_RETURN(StoreDirs store, OpenStoreDirs(root_, /*create=*/true));
    ASSIGN_OR_RETURN(StoreLock lock, StoreLock::Acquire(root_, LOCK_SH));

    // 1. Walk and stat everything, so limits are refused before anything is read or stored.
    TreeWalk walk(root_fd.get(), real_dir, limits);
    RETURN_IF_ERROR(walk.Run());
    report.entries_skipped = walk.skipped();
    if (walk.bytes() > limits.max_bytes) {
        return MakeError(ErrorCode::kPayloadTooLarge,
                         "'" + dir.string() + "' holds " + FormatBytes(walk.bytes()) + " in " +
                             std::to_string(walk.entries().size()) +
                             " files; a model build snapshot may hold at most " +
                             FormatBytes(limits.max_bytes));
    }

    // 2. Hash what the cache cannot vouch for, storing new content.
    const std::string cache_name = Sha256Hex(real_dir.string()) + ".json";
    HashCache old_cache;
    if (UniqueFd cache_fd(
            ::openat(store.cache.get(), cache_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        cache_fd.valid()) {
        if (Result<std::string> text = ReadAll(cache_fd.get(), cache_name)) {
            old_cache = ParseHashCache(*text);
        }
    }
    HashCache new_cache;
    FanoutSync fanouts;
    Snapshot snapshot;
    snapshot.files.reserve(walk.entries().size());
    for (WalkEntry& entry : walk.entries()) {
        const std::string what = (real_dir / entry.path).string();
        const FileState state = StateOf(entry.st);
        bool executable = (entry.st.st_mode & 0111) != 0;
        if (auto it = old_cache.find(entry.path);
            it != old_cache.end() && it->second.state == state &&
            BlobStored(store.blobs.get(), BlobName(it->second.blob, executable), state.size)) {
            if (snapshot.total_bytes + state.size > limits.max_bytes) {
                return MakeError(ErrorCode::kPayloadTooLarge,
                                 "'" + dir.string() + "' grew while it was captured; the " +
                                     "snapshot would exceed the limit of " +
                                     FormatBytes(limits.max_bytes));
            }
            snapshot.files.push_back(
                SnapshotFile{entry.path, it->second.blob, state.size, executable});
            snapshot.total_bytes += state.size;
            report.files_reused += 1;
            new_cache.insert(old_cache.extract(it));
            continue;
        }
        UniqueFd fd = OpenFileBeneath(root_fd.get(), entry.real_path);
        if (!fd.valid()) {
            if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
                report.entries_skipped += 1;  // removed or replaced by a link since the walk
                continue;
            }
            return OsError("opening", what, errno);
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            return OsError("reading", what, errno);
        }
        if (!S_ISREG(st.st_mode)) {
            report.entries_skipped += 1;  // replaced by a FIFO or the like since the walk
            continue;
        }
        executable = (st.st_mode & 0111) != 0;
        ASSIGN_OR_RETURN(StoredContent stored, StoreContent(fd.get(), what, executable,
                                                            limits.max_bytes - snapshot.total_bytes,
                                                            limits, store, fanouts, report));
        snapshot.files.push_back(SnapshotFile{entry.path, stored.blob, stored.size, executable});
        snapshot.total_bytes += stored.size;
        // Remember the hash only if the file did not change while it was read and no later
        // change could keep its ctime (see the header).
        if (stored.state_before == stored.state_after && stored.state_before.size == stored.size &&
            stored.state_before.ctime_ns < started_ns) {
            new_cache[entry.path] = CachedHash{stored.state_before, stored.blob};
        }
    }
    std::sort(snapshot.files.begin(), snapshot.files.end(),
              [](const SnapshotFile& a, const SnapshotFile& b) { return a.path < b.path; });
    snapshot.id = ComputeSnapshotId(snapshot.files);

    // 3. Blobs durable under their names before the manifest that needs them; then the manifest.
    RETURN_IF_ERROR(fanouts.Sync(store.blobs.get(), root_));
    const std::string manifest_name = snapshot.id + ".json";
    struct stat manifest_st {};
    if (::fstatat(store.manifests.get(), manifest_name.c_str(), &manifest_st,
                  AT_SYMLINK_NOFOLLOW) != 0) {
        ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(store.tmp, "manifest-"));
        RETURN_IF_ERROR(WriteAll(temp.fd(), ManifestText(snapshot), temp.path()));
        RETURN_IF_ERROR(temp.Finish(0444, /*durable=*/true));
        RETURN_IF_ERROR(temp.RenameTo(store.manifests.get(), manifest_name));
        if (::fsync(store.manifests.get()) != 0) {
            return OsError("syncing", (root_ / "manifests").string(), errno);
        }
    }

    // 4. The hash cache, best effort: losing it only costs time.
    // Entries still in old_cache were not reused: their files changed or are gone.
    if (report.files_hashed > 0 || !old_cache.empty()) {
        Status written = [&]() -> Status {
            ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(store.tmp, "cache-"));
            RETURN_IF_ERROR(
                WriteAll(temp.fd(), SerializeHashCache(real_dir.string(), new_cache), temp.path()));
            RETURN_IF_ERROR(temp.Finish(0600, /*durable=*/false));
            return temp.RenameTo(store.cache.get(), cache_name);
        }();
        if (!written) {
            LogWarn("snapshot hash cache not written",
                    {{"dir", real_dir.string()}, {"error", written.error().message}});
        }
    }
    if (report_out != nullptr) {
        *report_out = report;
    }
    return snapshot;
}

Result<Snapshot> SnapshotStore::Load(const std::string& id) const {
    if (!IsSha256Hex(id)) {
        return MakeError(ErrorCode::kBadRequest, "'" + id + "' is not a snapshot id");
    }
    const fs::path path = root_ / "manifests" / (id + ".json");
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return MakeError(ErrorCode::kNotFound, "no snapshot " + id);
        }
        return OsError("opening", path.string(), errno);
    }
    ASSIGN_OR_RETURN(const std::string text, ReadAll(fd.get(), path.string()));
    return ParseManifest(id, text);
}

Status SnapshotStore::Materialize(const std::string& id,
                                  const std::filesystem::path& target,
                                  unsigned uid,
                                  unsigned gid) const {
    ASSIGN_OR_RETURN(const Snapshot snapshot, Load(id));
    ASSIGN_OR_RETURN(StoreDirs store, OpenStoreDirs(root_, /*create=*/false));
    ASSIGN_OR_RETURN(StoreLock lock, StoreLock::Acquire(root_, LOCK_SH));

    if (::mkdir(target.c_str(), kStoreDirMode) != 0) {
        if (errno == EEXIST) {
            return MakeError(ErrorCode::kConflict, "'" + target.string() + "' already exists");
        }
        if (errno == ENOENT) {
            return MakeError(ErrorCode::kNotFound,
                             "the parent of '" + target.string() + "' does not exist");
        }
        return OsError("creating", target.string(), errno);
    }
    Status status = [&]() -> Status {
        UniqueFd target_fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!target_fd.valid()) {
            return OsError("opening", target.string(), errno);
        }
        std::vector<std::string> created;
        std::string parent_rel;
        UniqueFd parent_fd;
        for (const SnapshotFile& file : snapshot.files) {
            const std::size_t slash = file.path.rfind('/');
            const std::string dir_rel =
                slash == std::string::npos ? std::string() : file.path.substr(0, slash);
            const std::string name = file.path.substr(slash == std::string::npos ? 0 : slash + 1);
            if (!parent_fd.valid() || dir_rel != parent_rel) {
                ASSIGN_OR_RETURN(parent_fd,
                                 MakeDirectories(target_fd.get(), dir_rel, target, created));
                parent_rel = dir_rel;
            }
            const std::string blob_name = BlobName(file.blob, file.executable);
            const std::string what = (target / file.path).string();
            if (::linkat(store.blobs.get(), blob_name.c_str(), parent_fd.get(), name.c_str(), 0) ==
                0) {
                continue;
            }
            const int err = errno;
            if (err == EMLINK) {
                RETURN_IF_ERROR(CopyBlob(store.blobs.get(), blob_name, parent_fd.get(), name,
                                         file.executable ? 0555 : 0444, what));
            } else if (err == ENOENT) {
                return MakeError(
                    ErrorCode::kNotFound,
                    "snapshot " + id + " lacks the content of '" + file.path + "' (collected?)");
            } else if (err == EXDEV) {
                return MakeError(ErrorCode::kInternal,
                                 "'" + target.string() + "' is not on the filesystem of the " +
                                     "snapshot store '" + root_.string() + "'");
            } else {
                return OsError("linking", what, err);
            }
        }
        // Deepest first, the target last: until then nobody but us can enter it.
        created.push_back("");
        for (auto it = created.rbegin(); it != created.rend(); ++it) {
            const char* rel = it->empty() ? "." : it->c_str();
            const std::string what = (target / *it).string();
            if (::fchownat(target_fd.get(), rel, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
                return OsError("changing the owner of", what, errno);
            }
            if (::fchmodat(target_fd.get(), rel, kBuildDirMode, 0) != 0) {
                return OsError("setting the mode of", what, errno);
            }
        }
        return {};
    }();
    if (!status) {
        std::error_code ignored;
        fs::remove_all(target, ignored);
    }
    return status;
}

Result<CollectStats> SnapshotStore::Collect(const std::set<std::string>& live) {
    ASSIGN_OR_RETURN(StoreDirs store, OpenStoreDirs(root_, /*create=*/true));
    ASSIGN_OR_RETURN(StoreLock lock, StoreLock::Acquire(root_, LOCK_EX));

    std::set<std::string> keep_blobs;
    for (const std::string& id : live) {
        Result<Snapshot> snapshot = Load(id);
        if (!snapshot) {
            if (snapshot.error().code == ErrorCode::kNotFound ||
                snapshot.error().code == ErrorCode::kBadRequest) {
                continue;  // nothing stored under it
            }
            return std::unexpected(std::move(snapshot).error());
        }
        for (const SnapshotFile& file : snapshot->files) {
            keep_blobs.insert(BlobName(file.blob, file.executable));
        }
    }

    CollectStats stats;
    ASSIGN_OR_RETURN(const std::vector<std::string> manifests,
                     ListNames(store.manifests.get(), (root_ / "manifests").string()));
    for (const std::string& name : manifests) {
        const bool is_live =
            name.size() == 69 && name.ends_with(".json") && live.contains(name.substr(0, 64));
        if (!is_live && ::unlinkat(store.manifests.get(), name.c_str(), 0) != 0 &&
            errno != ENOENT) {
            return OsError("removing", (root_ / "manifests" / name).string(), errno);
        }
    }

    ASSIGN_OR_RETURN(const std::vector<std::string> fanouts,
                     ListNames(store.blobs.get(), (root_ / "blobs").string()));
    for (const std::string& fanout : fanouts) {
        const std::string fanout_what = (root_ / "blobs" / fanout).string();
        UniqueFd fanout_fd = OpenDirectoryAt(store.blobs.get(), fanout.c_str());
        if (!fanout_fd.valid()) {
            return OsError("opening", fanout_what, errno);
        }
        ASSIGN_OR_RETURN(const std::vector<std::string> blobs,
                         ListNames(fanout_fd.get(), fanout_what));
        std::size_t kept = 0;
        for (const std::string& blob : blobs) {
            if (keep_blobs.contains(fanout + "/" + blob)) {
                ++kept;
                continue;
            }
            struct stat st {};
            const bool have_size =
                ::fstatat(fanout_fd.get(), blob.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
            if (::unlinkat(fanout_fd.get(), blob.c_str(), 0) != 0) {
                if (errno == ENOENT) {
                    continue;
                }
                return OsError("removing", fanout_what + "/" + blob, errno);
            }
            stats.blobs_removed += 1;
            stats.bytes_freed += have_size ? static_cast<std::int64_t>(st.st_size) : 0;
        }
        if (kept == 0) {
            ::unlinkat(store.blobs.get(), fanout.c_str(), AT_REMOVEDIR);  // fine if not empty
        }
    }

    // Temp files: with the exclusive lock held no Capture is writing any, so they are left over
    // from a crash.
    UniqueFd tmp_fd(::open(store.tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (tmp_fd.valid()) {
        ASSIGN_OR_RETURN(const std::vector<std::string> temps,
                         ListNames(tmp_fd.get(), store.tmp.string()));
        for (const std::string& name : temps) {
            ::unlinkat(tmp_fd.get(), name.c_str(), 0);
        }
    }
    return stats;
}


Result<std::string> FileSha256(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        return OsError("open", path.string(), errno);
    }
    crypto_hash_sha256_state hash;
    crypto_hash_sha256_init(&hash);
    std::vector<char> buffer(1 << 16);
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return OsError("read", path.string(), errno);
        }
        if (n == 0) {
            break;
        }
        crypto_hash_sha256_update(&hash, reinterpret_cast<const unsigned char*>(buffer.data()),
                                  static_cast<unsigned long long>(n));
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&hash, digest);
    return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Result<std::vector<std::string>> SnapshotStore::Verify(const std::string& id) const {
    ASSIGN_OR_RETURN(Snapshot snapshot, Load(id));
    std::vector<std::string> bad;
    for (const auto& f : snapshot.files) {
        auto hex = FileSha256(root_ / "blobs" / BlobName(f.blob, f.executable));
        if (!hex || *hex != f.blob) {
            bad.push_back(f.path);
        }
    }
    return bad;
}

Result<SnapshotDiff> DiffWithDirectory(const Snapshot& snapshot, const std::filesystem::path& dir,
                                       std::int64_t max_files) {
    std::map<std::string, const SnapshotFile*> before;
    for (const auto& f : snapshot.files) {
        before[f.path] = &f;
    }
    SnapshotDiff diff;
    std::set<std::string> present;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        return MakeError(ErrorCode::kNotFound, "cannot read " + dir.string() + ": " + ec.message());
    }
    std::int64_t files = 0;
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec) || it->is_symlink(ec)) {
            continue;
        }
        if (++files > max_files) {
            diff.truncated = true;
            break;
        }
        const std::string rel = fs::relative(it->path(), dir, ec).generic_string();
        present.insert(rel);
        auto found = before.find(rel);
        if (found == before.end()) {
            diff.added.push_back(rel);
            continue;
        }
        const auto size = static_cast<std::int64_t>(it->file_size(ec));
        if (size != found->second->size) {
            diff.changed.push_back(rel);
            continue;
        }
        auto hex = FileSha256(it->path());
        if (!hex || *hex != found->second->blob) {
            diff.changed.push_back(rel);
        }
    }
    if (!diff.truncated) {
        for (const auto& [path, _] : before) {
            if (!present.count(path)) {
                diff.removed.push_back(path);
            }
        }
    }
    std::sort(diff.changed.begin(), diff.changed.end());
    std::sort(diff.added.begin(), diff.added.end());
    return diff;
}

}  // namespace lathe::serving
