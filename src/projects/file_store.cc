// Path-safe storage of one project's files: validation, listing, uploads, moves, quotas and tars.
#include "projects/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>

namespace lathe::projects {
namespace fs = std::filesystem;

namespace {

std::string OsMessage(int err) { return std::generic_category().message(err); }

// Error messages quote user paths; an over-long one is cut so the message stays readable.
std::string Quoted(std::string_view path) {
    constexpr std::size_t kShown = 80;
    if (path.size() <= kShown) {
        return "'" + std::string(path) + "'";
    }
    return "'" + std::string(path.substr(0, kShown)) + "...'";
}

std::string LastComponent(const std::string& rel) {
    const std::size_t slash = rel.rfind('/');
    return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string ParentOf(const std::string& rel) {
    const std::size_t slash = rel.rfind('/');
    return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

// Both paths must be absolute and canonical (no ".", "..", symlinks or trailing separator).
bool IsWithin(const fs::path& path, const fs::path& root) {
    auto [root_it, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
    return root_it == root.end();
}

std::int64_t ModifiedUnixMs(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

std::unexpected<Error> NotFound(const std::string& rel) {
    if (rel.empty()) {
        return MakeError(ErrorCode::kNotFound, "the project directory does not exist");
    }
    return MakeError(ErrorCode::kNotFound, "file " + Quoted(rel) + " does not exist");
}

std::unexpected<Error> OsFailure(std::string_view action, const std::string& rel, int err) {
    return MakeError(ErrorCode::kInternal, std::string(action) + " " +
                                               (rel.empty() ? "the project root" : Quoted(rel)) +
                                               " failed: " + OsMessage(err));
}

// Removes a staging file unless the commit that was to consume it succeeded.
class RemoveUnlessCommitted {
public:
    explicit RemoveUnlessCommitted(const fs::path& path) : path_(path) {}
    RemoveUnlessCommitted(const RemoveUnlessCommitted&) = delete;
    RemoveUnlessCommitted& operator=(const RemoveUnlessCommitted&) = delete;
    ~RemoveUnlessCommitted() {
        if (!committed_) {
            std::error_code ignored;
            fs::remove(path_, ignored);
        }
    }
    void Commit() { committed_ = true; }

private:
    const fs::path& path_;
    bool committed_ = false;
};

Status WriteAll(int fd, std::string_view content) {
    while (!content.empty()) {
        const ssize_t written = ::write(fd, content.data(), content.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return MakeError(ErrorCode::kInternal,
                             "writing a staging file failed: " + OsMessage(errno));
        }
        content.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
}

}  // namespace

FileStore::FileStore(fs::path root, std::uint64_t max_file_bytes, std::uint64_t max_project_bytes)
    : max_file_bytes_(max_file_bytes), max_project_bytes_(max_project_bytes) {
    std::error_code ec;
    if (root.is_relative()) {
        root = fs::absolute(root, ec);
    }
    root_ = root.lexically_normal();
    // "/data/p/" has an empty filename; drop it so parent_path() is the real parent.
    if (!root_.has_filename() && root_ != root_.root_path()) {
        root_ = root_.parent_path();
    }
    staging_dir_ = root_.parent_path() / ".lathe-staging";
    canonical_root_ = root_;
    fs::create_directories(root_, ec);
    if (ec) {
        init_error_ = Error{ErrorCode::kInternal,
                            "creating the project directory failed: " + ec.message()};
        return;
    }
    canonical_root_ = fs::canonical(root_, ec);
    if (ec) {
        init_error_ = Error{ErrorCode::kInternal,
                            "resolving the project directory failed: " + ec.message()};
        canonical_root_ = root_;
    }
}

Result<std::string> FileStore::NormalizePath(std::string_view user_path) {
    if (user_path.size() > kMaxPathBytes) {
        return MakeError(ErrorCode::kBadRequest, "path is longer than " +
                                                     std::to_string(kMaxPathBytes) + " bytes");
    }
    for (char c : user_path) {
        if (c == '\0') {
            return MakeError(ErrorCode::kBadRequest, "path contains a NUL byte");
        }
        // Control bytes in names break terminals, logs and tar listings; no one needs them.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return MakeError(ErrorCode::kBadRequest, "path contains a control character");
        }
    }
    if (!user_path.empty() && user_path.front() == '/') {
        return MakeError(ErrorCode::kBadRequest,
                         "path " + Quoted(user_path) +
                             " is absolute; paths are relative to the project root");
    }
    std::string normalized;
    normalized.reserve(user_path.size());
    std::size_t start = 0;
    while (start <= user_path.size()) {
        std::size_t end = user_path.find('/', start);
        if (end == std::string_view::npos) {
            end = user_path.size();
        }
        const std::string_view component = user_path.substr(start, end - start);
        start = end + 1;
        if (component.empty() || component == ".") {
            continue;
        }
        if (component == "..") {
            return MakeError(ErrorCode::kBadRequest,
                             "path " + Quoted(user_path) + " contains '..', which is not allowed");
        }
        if (component.size() > kMaxComponentBytes) {
            return MakeError(ErrorCode::kBadRequest, "path component " + Quoted(component) +
                                                         " is longer than " +
                                                         std::to_string(kMaxComponentBytes) +
                                                         " bytes");
        }
        if (!normalized.empty()) {
            normalized += '/';
        }
        normalized += component;
    }
    return normalized;
}

Result<fs::path> FileStore::Resolve(std::string_view user_path) const {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(user_path, /*check_last=*/true));
    return Absolute(rel);
}

Result<FileEntry> FileStore::Stat(std::string_view path) const {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(path, /*check_last=*/true));
    return EntryFor(rel);
}

Result<std::vector<FileEntry>> FileStore::List(std::string_view dir) const {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(dir, /*check_last=*/true));
    ASSIGN_OR_RETURN(FileEntry self, EntryFor(rel));
    if (!self.is_dir) {
        return MakeError(ErrorCode::kBadRequest, Quoted(rel) + " is a file, not a directory");
    }

    std::vector<FileEntry> entries;
    std::error_code ec;
    fs::directory_iterator it(Absolute(rel), ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const std::string child = rel.empty() ? name : rel + "/" + name;
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0) {
            continue;  // removed since the listing
        }
        if (S_ISLNK(st.st_mode) && !LinkStaysInside(it->path())) {
            continue;  // never show what lies outside the project
        }
        auto entry = EntryFor(child);
        if (entry) {
            entries.push_back(std::move(*entry));
        }
    }
    if (ec) {
        return OsFailure("listing", rel, ec.value());
    }
    std::sort(entries.begin(), entries.end(), [](const FileEntry& a, const FileEntry& b) {
        if (a.is_dir != b.is_dir) {
            return a.is_dir;
        }
        return a.name < b.name;
    });
    return entries;
}

Result<FileEntry> FileStore::CommitUpload(std::string_view path, const fs::path& temp_file) {
    RemoveUnlessCommitted staging(temp_file);
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(path, /*check_last=*/true));
    if (rel.empty()) {
        return MakeError(ErrorCode::kBadRequest,
                         "the project root is a directory; give the path of a file");
    }
    std::scoped_lock lock(mu_);
    auto entry = CommitLocked(rel, temp_file);
    if (entry) {
        staging.Commit();
    }
    return entry;
}

Result<FileEntry> FileStore::CommitLocked(const std::string& rel, const fs::path& temp_file) {
    struct stat temp_st {};
    if (::lstat(temp_file.c_str(), &temp_st) != 0 || !S_ISREG(temp_st.st_mode)) {
        return MakeError(ErrorCode::kInternal, "the upload's staging file " +
                                                   Quoted(temp_file.string()) +
                                                   " is missing or not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(temp_st.st_size);
    if (size > max_file_bytes_) {
        return MakeError(ErrorCode::kPayloadTooLarge,
                         "file " + Quoted(rel) + " is " + std::to_string(size) +
                             " bytes, over the limit of " + std::to_string(max_file_bytes_) +
                             " bytes per file");
    }

    const fs::path target = Absolute(rel);
    std::uint64_t replaced_bytes = 0;
    struct stat old_st {};
    // stat, not lstat: a symlink to a directory is a directory to the user.
    if (::stat(target.c_str(), &old_st) == 0) {
        if (S_ISDIR(old_st.st_mode)) {
            return MakeError(ErrorCode::kConflict,
                             Quoted(rel) + " is a directory; a file cannot replace it");
        }
        // rename() replaces a symlink itself, which the usage count never included.
        struct stat link_st {};
        if (::lstat(target.c_str(), &link_st) == 0 && S_ISREG(link_st.st_mode)) {
            replaced_bytes = static_cast<std::uint64_t>(link_st.st_size);
        }
    }
    const std::uint64_t usage = UsageBytes();
    const std::uint64_t projected = usage - std::min(usage, replaced_bytes) + size;
    if (projected > max_project_bytes_) {
        return MakeError(ErrorCode::kPayloadTooLarge,
                         "writing " + Quoted(rel) + " would bring the project to " +
                             std::to_string(projected) + " bytes, over its limit of " +
                             std::to_string(max_project_bytes_) + " bytes");
    }

    RETURN_IF_ERROR(EnsureDirectories(ParentOf(rel)));
    if (::rename(temp_file.c_str(), target.c_str()) != 0) {
        const int err = errno;
        if (err == EISDIR || err == ENOTDIR || err == ENOTEMPTY || err == EEXIST) {
            return MakeError(ErrorCode::kConflict,
                             Quoted(rel) + " changed to a directory while it was written");
        }
        if (err == EXDEV) {
            return MakeError(ErrorCode::kInternal,
                             "the staging file is on another filesystem than the project");
        }
        return OsFailure("writing", rel, err);
    }
    return EntryFor(rel);
}

Result<FileEntry> FileStore::WriteString(std::string_view path, std::string_view content) {
    ASSIGN_OR_RETURN(std::string rel, NormalizePath(path));
    // Refused before staging so an oversized body never touches the disk.
    if (content.size() > max_file_bytes_) {
        return MakeError(ErrorCode::kPayloadTooLarge,
                         "file " + Quoted(rel) + " is " + std::to_string(content.size()) +
                             " bytes, over the limit of " + std::to_string(max_file_bytes_) +
                             " bytes per file");
    }
    ASSIGN_OR_RETURN(fs::path staging, CreateStagingFile());
    {
        RemoveUnlessCommitted cleanup(staging);
        const int fd = ::open(staging.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0) {
            return MakeError(ErrorCode::kInternal,
                             "opening a staging file failed: " + OsMessage(errno));
        }
        Status written = WriteAll(fd, content);
        if (::close(fd) != 0 && written) {
            written = MakeError(ErrorCode::kInternal,
                                "writing a staging file failed: " + OsMessage(errno));
        }
        if (!written) {
            return std::unexpected(written.error());
        }
        cleanup.Commit();  // from here on CommitUpload owns the staging file
    }
    return CommitUpload(rel, staging);
}

Result<FileEntry> FileStore::MakeDirectory(std::string_view path) {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(path, /*check_last=*/true));
    RETURN_IF_ERROR(EnsureDirectories(rel));
    return EntryFor(rel);
}

Result<FileEntry> FileStore::Rename(std::string_view from, std::string_view to) {
    ASSIGN_OR_RETURN(std::string from_rel, NormalizeAndCheck(from, /*check_last=*/false));
    ASSIGN_OR_RETURN(std::string to_rel, NormalizeAndCheck(to, /*check_last=*/false));
    if (from_rel.empty()) {
        return MakeError(ErrorCode::kBadRequest, "the project root cannot be renamed");
    }
    if (to_rel.empty()) {
        return MakeError(ErrorCode::kBadRequest, "nothing can be moved onto the project root");
    }
    const fs::path source = Absolute(from_rel);
    const fs::path target = Absolute(to_rel);
    struct stat st {};
    if (::lstat(source.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            return NotFound(from_rel);
        }
        return OsFailure("renaming", from_rel, err);
    }
    if (to_rel.starts_with(from_rel + "/")) {
        return MakeError(ErrorCode::kBadRequest, "cannot move " + Quoted(from_rel) +
                                                     " into its own subtree " + Quoted(to_rel));
    }
    if (to_rel == from_rel || ::lstat(target.c_str(), &st) == 0) {
        return MakeError(ErrorCode::kConflict, Quoted(to_rel) + " already exists");
    }
    RETURN_IF_ERROR(EnsureDirectories(ParentOf(to_rel)));
    // RENAME_NOREPLACE closes the gap between the existence check above and the rename.
    int result = ::renameat2(AT_FDCWD, source.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
    if (result != 0 && (errno == EINVAL || errno == ENOSYS)) {
        // Either the filesystem lacks RENAME_NOREPLACE or the move is into the source's own
        // subtree (through a symlink); plain rename() tells the two apart.
        result = ::rename(source.c_str(), target.c_str());
    }
    if (result != 0) {
        const int err = errno;
        switch (err) {
            case EEXIST:
            case ENOTEMPTY:
                return MakeError(ErrorCode::kConflict, Quoted(to_rel) + " already exists");
            case EINVAL:
                return MakeError(ErrorCode::kBadRequest, "cannot move " + Quoted(from_rel) +
                                                             " into its own subtree " +
                                                             Quoted(to_rel));
            case ENOENT:
                return NotFound(from_rel);
            case ENOTDIR:
            case EISDIR:
                return MakeError(ErrorCode::kConflict, "cannot replace " + Quoted(to_rel) +
                                                           " with " + Quoted(from_rel));
            case EXDEV:
                return MakeError(ErrorCode::kBadRequest,
                                 Quoted(from_rel) + " and " + Quoted(to_rel) +
                                     " are on different filesystems");
            default:
                return OsFailure("renaming", from_rel, err);
        }
    }
    // A moved symlink that points outside is reported as what it is to the store: an opaque entry.
    if (::lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && !LinkStaysInside(target)) {
        return FileEntry{to_rel, LastComponent(to_rel), false, 0, ModifiedUnixMs(st)};
    }
    return EntryFor(to_rel);
}

Status FileStore::Remove(std::string_view path) {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(path, /*check_last=*/false));
    if (rel.empty()) {
        return MakeError(ErrorCode::kBadRequest, "the project root cannot be removed");
    }
    const fs::path target = Absolute(rel);
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            return NotFound(rel);
        }
        return OsFailure("removing", rel, err);
    }
    std::error_code ec;
    // remove_all does not follow symlinks inside the tree: a link is removed, never its target.
    if (S_ISDIR(st.st_mode)) {
        fs::remove_all(target, ec);
    } else {
        fs::remove(target, ec);
    }
    if (ec) {
        return OsFailure("removing", rel, ec.value());
    }
    return {};
}

std::uint64_t FileStore::UsageBytes() const {
    std::uint64_t total = 0;
    std::error_code ec;
    // The default options do not follow directory symlinks, so usage never counts outside files.
    fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            total += static_cast<std::uint64_t>(st.st_size);
        }
    }
    return total;
}

Status FileStore::WriteTar(std::string_view path, std::ostream& out) const {
    return WriteTar(path, StreamSink(out));
}

Status FileStore::WriteTar(std::string_view path, const ByteSink& sink) const {
    ASSIGN_OR_RETURN(std::string rel, NormalizeAndCheck(path, /*check_last=*/true));
    ASSIGN_OR_RETURN(FileEntry entry, EntryFor(rel));
    TarWriter writer(sink);
    RETURN_IF_ERROR(writer.AddTree(Absolute(rel), entry.name));
    return writer.Finish();
}

Result<fs::path> FileStore::CreateStagingFile() const {
    std::error_code ec;
    fs::create_directories(staging_dir_, ec);
    if (ec) {
        return MakeError(ErrorCode::kInternal,
                         "creating the upload staging directory failed: " + ec.message());
    }
    std::string name = (staging_dir_ / "upload-XXXXXX").string();
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) {
        return MakeError(ErrorCode::kInternal,
                         "creating an upload staging file failed: " + OsMessage(errno));
    }
    // mkostemp makes 0600; the committed file should read like any other file in the project.
    ::fchmod(fd, 0644);
    ::close(fd);
    return fs::path(std::move(name));
}

Result<std::string> FileStore::NormalizeAndCheck(std::string_view user_path,
                                                 bool check_last) const {
    ASSIGN_OR_RETURN(std::string rel, NormalizePath(user_path));
    RETURN_IF_ERROR(CheckPrefixes(rel, check_last));
    return rel;
}

Status FileStore::CheckPrefixes(const std::string& rel, bool check_last) const {
    if (init_error_) {
        return std::unexpected(*init_error_);
    }
    fs::path current = root_;
    std::size_t start = 0;
    while (start < rel.size()) {
        std::size_t end = rel.find('/', start);
        const bool last = end == std::string::npos;
        if (last) {
            end = rel.size();
        }
        if (last && !check_last) {
            break;
        }
        current /= rel.substr(start, end - start);
        start = end + 1;
        struct stat st {};
        if (::lstat(current.c_str(), &st) != 0) {
            // Nothing exists below a missing prefix, so no further symlink can be crossed; any
            // other failure (a file used as a directory, no permission) makes the operation
            // itself fail the same way later.
            break;
        }
        if (S_ISLNK(st.st_mode) && !LinkStaysInside(current)) {
            return MakeError(ErrorCode::kBadRequest,
                             "path " + Quoted(rel) + " goes through the symlink " +
                                 Quoted(rel.substr(0, end)) +
                                 ", which points outside the project or to nothing");
        }
    }
    return {};
}

bool FileStore::LinkStaysInside(const fs::path& abs) const {
    std::error_code ec;
    const fs::path resolved = fs::canonical(abs, ec);
    return !ec && IsWithin(resolved, canonical_root_);
}

fs::path FileStore::Absolute(const std::string& rel) const {
    return rel.empty() ? root_ : root_ / rel;
}

Status FileStore::EnsureDirectories(const std::string& rel) const {
    fs::path current = root_;
    std::size_t start = 0;
    while (start < rel.size()) {
        std::size_t end = rel.find('/', start);
        if (end == std::string::npos) {
            end = rel.size();
        }
        current /= rel.substr(start, end - start);
        start = end + 1;
        if (::mkdir(current.c_str(), 0755) == 0) {
            continue;
        }
        const int err = errno;
        const std::string prefix = rel.substr(0, end);
        if (err != EEXIST) {
            if (err == ENOTDIR) {
                return MakeError(ErrorCode::kConflict,
                                 "a parent of " + Quoted(prefix) + " is a file, not a directory");
            }
            return OsFailure("creating directory", prefix, err);
        }
        struct stat st {};
        if (::stat(current.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return MakeError(ErrorCode::kConflict,
                             Quoted(prefix) + " is a file, not a directory");
        }
    }
    return {};
}

Result<FileEntry> FileStore::EntryFor(const std::string& rel) const {
    struct stat st {};
    // Follows a final symlink: callers have checked that it stays inside the root.
    if (::stat(Absolute(rel).c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            return NotFound(rel);
        }
        return OsFailure("reading", rel, err);
    }
    FileEntry entry;
    entry.path = rel;
    entry.name = LastComponent(rel);
    entry.is_dir = S_ISDIR(st.st_mode);
    entry.size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
    entry.modified_unix_ms = ModifiedUnixMs(st);
    return entry;
}

}  // namespace lathe::projects
