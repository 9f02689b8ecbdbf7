// Path-safe storage of one project's files: validation, listing, uploads, moves, quotas and tars.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "projects/tar_writer.h"

namespace lathe::projects {

struct FileEntry {
    std::string path;  // normalized, relative to the project root; "" is the root itself
    std::string name;  // last component of path; "" for the root
    bool is_dir = false;
    std::uint64_t size = 0;  // bytes for a file, 0 for a directory
    std::int64_t modified_unix_ms = 0;
};

// Every user-supplied path goes through NormalizePath and then a symlink check, so nothing the
// store does reads, writes, lists or archives anything outside `root`. Symlinks inside the root
// that resolve inside it are followed like the entries they point to; symlinks that resolve
// outside (or do not resolve) make a path a kBadRequest, except as the last component of Remove
// and Rename, which act on the link itself. Listings and archives skip such links.
//
// Uploads are staged outside the root, in staging_dir() = root.parent_path()/".lathe-staging",
// which is on the same filesystem as the root in any sane layout, so CommitUpload is one
// rename(2); keeping the staging files outside the root keeps half-written uploads out of listings
// and out of the quota. Several stores with the same parent share that directory, which is fine
// because every staging file has a unique name.
//
// Thread-safe: all state is on disk; the quota check and the rename that follows it in
// CommitUpload are serialized by mu_ so two concurrent uploads cannot both squeeze under the limit.
// Another process writing into the root (user code) could swap a checked directory for a symlink
// between a check and its use; WriteTar is immune (it walks with O_NOFOLLOW), the rest of this
// path-based API is not, so the root must only be writable by code the server trusts that far.
class FileStore {
public:
    static constexpr std::size_t kMaxComponentBytes = 255;
    static constexpr std::size_t kMaxPathBytes = 4096;

    // root: absolute directory holding this project's files (created if missing). A failure to
    // create it is reported by every later call rather than thrown.
    FileStore(std::filesystem::path root,
              std::uint64_t max_file_bytes,
              std::uint64_t max_project_bytes);

    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;

    // Validates a user path (relative, '/'-separated, as it came from a URL after percent-decoding)
    // and returns the normalized relative path ("" = the root). "." and empty components are
    // dropped; "..", a leading '/', NUL and other control bytes, a component over 255 bytes or a
    // path over 4096 bytes are a kBadRequest.
    static Result<std::string> NormalizePath(std::string_view user_path);

    // NormalizePath plus: every existing prefix that is a symlink must resolve inside the root.
    // Returns the absolute path (root / normalized path).
    Result<std::filesystem::path> Resolve(std::string_view user_path) const;

    Result<FileEntry> Stat(std::string_view path) const;
    // Directories first, then files, each by name (byte order). kBadRequest if not a directory.
    Result<std::vector<FileEntry>> List(std::string_view dir) const;

    // Moves an already-written temp file (same filesystem) into place atomically, creating
    // parents. kPayloadTooLarge over max_file_bytes or when the project would exceed
    // max_project_bytes (counting the replaced file as gone); kConflict onto a directory or when a
    // parent is a file. temp_file is removed on any failure.
    Result<FileEntry> CommitUpload(std::string_view path, const std::filesystem::path& temp_file);
    // Same checks as CommitUpload; the content goes through a staging file.
    Result<FileEntry> WriteString(std::string_view path, std::string_view content);
    // mkdir -p: an existing directory is fine; kConflict if a file is in the way.
    Result<FileEntry> MakeDirectory(std::string_view path);
    // Moves a file or directory, creating the target's parents. kNotFound, kConflict if the target
    // exists, kBadRequest for the root or a move into its own subtree.
    Result<FileEntry> Rename(std::string_view from, std::string_view to);
    // Removes a file or a whole tree; a symlink is removed, never its target.
    Status Remove(std::string_view path);
    // Total apparent size of the regular files under the root (symlinks are not followed).
    std::uint64_t UsageBytes() const;

    // Writes a tar of a directory (or of a single file) to out. A directory "a/b" is archived as
    // "b/..."; the root's contents are archived at the top level. On an error after the first
    // byte the stream holds a truncated archive: the caller must abort the response, not end it.
    Status WriteTar(std::string_view path, std::ostream& out) const;
    Status WriteTar(std::string_view path, const ByteSink& sink) const;

    // Creates an empty file (mode 0644) in staging_dir() for an upload to be streamed into and
    // then passed to CommitUpload.
    Result<std::filesystem::path> CreateStagingFile() const;

    const std::filesystem::path& root() const { return root_; }
    const std::filesystem::path& staging_dir() const { return staging_dir_; }
    std::uint64_t max_file_bytes() const { return max_file_bytes_; }
    std::uint64_t max_project_bytes() const { return max_project_bytes_; }

private:
    // Normalizes and checks the symlinks along the path; the last component is checked only when
    // check_last is set (Remove and Rename act on a link itself, which is safe wherever it points).
    Result<std::string> NormalizeAndCheck(std::string_view user_path, bool check_last) const;
    Status CheckPrefixes(const std::string& rel, bool check_last) const;
    // Whether the symlink at abs resolves to somewhere inside the root.
    bool LinkStaysInside(const std::filesystem::path& abs) const;
    std::filesystem::path Absolute(const std::string& rel) const;
    // Creates the directories of rel one by one, reporting a file in the way as kConflict.
    Status EnsureDirectories(const std::string& rel) const;
    Result<FileEntry> EntryFor(const std::string& rel) const;
    Result<FileEntry> CommitLocked(const std::string& rel, const std::filesystem::path& temp_file);

    std::filesystem::path root_;
    std::filesystem::path canonical_root_;  // root_ with every symlink resolved, for containment
    std::filesystem::path staging_dir_;
    std::optional<Error> init_error_;  // set when the root could not be created
    std::uint64_t max_file_bytes_;
    std::uint64_t max_project_bytes_;

    std::mutex mu_;  // serializes CommitUpload's quota check with its rename; guards no members
};

}  // namespace lathe::projects
