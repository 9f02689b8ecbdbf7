// Content-addressed snapshots of a directory tree for model builds: capture, load, hard-link out,
// GC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace lathe::serving {

struct SnapshotFile {
    std::string path;  // relative, '/'-separated, no empty, "." or ".." components
    std::string blob;  // sha256 hex of the content
    std::int64_t size = 0;
    bool executable = false;  // the source file had any exec bit
};

struct Snapshot {
    std::string id;                   // ComputeSnapshotId(files)
    std::vector<SnapshotFile> files;  // sorted by path (byte order), paths unique
    std::int64_t total_bytes = 0;
};

struct CaptureLimits {
    std::int64_t max_files = 100000;
    std::int64_t max_bytes = 10ll << 30;
};

// What one Capture did, for build logs and tests; not part of the snapshot.
struct CaptureReport {
    std::int64_t files_hashed = 0;  // read and hashed (no usable hash-cache entry)
    std::int64_t bytes_hashed = 0;
    std::int64_t files_reused = 0;   // hash taken from the cache without reading the file
    std::int64_t blobs_written = 0;  // content the store did not hold yet
    std::int64_t bytes_written = 0;
    std::int64_t entries_skipped = 0;  // special files and symlinks that do not lead to a file
};

struct CollectStats {
    std::int64_t blobs_removed = 0;
    // Apparent size of the removed blobs: what the store no longer holds. Disk space comes back
    // only once no materialized build still hard-links the same inode.
    std::int64_t bytes_freed = 0;
};

// sha256 hex of the canonical manifest text: "lathe-snapshot-v1\n", then for each file in the
// given (sorted) order "<path>\0<blob>\0<100644|100755>\n". Paths cannot hold NUL, so the text
// parses one way only, and the same tree always gives the same id.
std::string ComputeSnapshotId(const std::vector<SnapshotFile>& files);

// How a directory differs from a snapshot now; paths sorted.
struct SnapshotDiff {
    std::vector<std::string> changed;
    std::vector<std::string> added;
    std::vector<std::string> removed;
    bool truncated = false;  // more than max_files files: the rest were not compared
};

// Compares `dir` (regular files, hidden ones included, symlinks not followed) with `snapshot`,
// hashing the files whose size matches. Blocking file I/O.
Result<SnapshotDiff> DiffWithDirectory(const Snapshot& snapshot, const std::filesystem::path& dir,
                                       std::int64_t max_files = 100000);

// sha256 hex of a file's bytes, read in chunks.
Result<std::string> FileSha256(const std::filesystem::path& path);

// The store under `root` (created 0700 on first Capture or Collect):
//   blobs/<2 hex>/<62 hex>     content stored from a non-executable file: mode 0444
//   blobs/<2 hex>/<62 hex>.x   content stored from an executable file: mode 0555
//   manifests/<id>.json        {"version", "id", "total_bytes", "files": [...]}
//   cache/<sha256 of dir>.json the hash cache of one captured directory
//   tmp/                       blobs and manifests being written, renamed into place once fsync'd
//   lock                       flock: shared while capturing or materializing, exclusive to Collect
// A blob's inode mode is what every hard link to it shows, so the same content from an executable
// and a non-executable file is kept twice (rare) rather than giving one the other's mode. Blobs
// are owned by the server's user (root in production) and never writable: they are hard-linked
// into build directories that the sandbox user writes into, and that user may replace a linked
// file but can never change the shared inode.
//
// `dir` is user-writable and may change while it is captured; the walk opens every component
// relative to its parent with O_NOFOLLOW, so it never reads anything outside `dir`. A file
// changed mid-capture lands in the snapshot either whole before or whole after (each blob is
// exactly the bytes that were hashed); a file removed mid-capture is left out.
//
// Hash cache: a file whose (size, mtime, ctime, device, inode) equal those recorded at an earlier
// capture of the same directory reuses that hash, if the blob is still stored, without being read.
// Like git's index and rsync's quick check this trusts file metadata; unlike a size+mtime check
// it also notices a rewrite that restores the mtime (`cp -p`, `touch -r`), because ctime cannot be
// set back. Entries whose ctime is not older than the start of the capture that read them are not
// recorded ("racily clean" in git's terms: a write in the same clock tick would go unnoticed), so
// a file is read again on the next capture after it changed. Assumes a local filesystem whose
// timestamps come from this kernel's clock.
//
// Thread-safe and multi-process safe: all state is on disk, temp names are unique, and the lock
// file keeps Collect from running while a Capture or Materialize is in progress. Every call does
// blocking file I/O: call from a worker thread, not an I/O thread.
class SnapshotStore {
public:
    explicit SnapshotStore(std::filesystem::path root);

    // Walks `dir`, hashes each regular file, stores blobs not yet present, writes the manifest
    // and returns the snapshot. Symlinks are followed only when they lead, inside `dir`, to a
    // regular file (stored as that file's content and exec bit); links out of `dir`, to
    // directories, dangling or looping, and FIFOs, sockets and devices are skipped. Empty
    // directories are not kept. kNotFound if `dir` does not exist, kBadRequest if it is not a
    // directory or nests more than 256 directories deep, kPayloadTooLarge over a limit (before
    // anything is stored, unless files grow during the capture); kInternal naming the path for an
    // unreadable file or a full disk. On failure no manifest is written; blobs already stored
    // stay until the next Collect. `report`, when given, is filled in.
    Result<Snapshot> Capture(const std::filesystem::path& dir,
                             const CaptureLimits& limits = {},
                             CaptureReport* report = nullptr);

    // kNotFound for an id the store does not hold, kBadRequest for a string that is not an id,
    // kInternal when the manifest does not match its id.
    Result<Snapshot> Load(const std::string& id) const;

    // Creates `target` (which must not exist; its parent must) holding the snapshot: every
    // directory owned by uid:gid with mode 0755, every file a hard link to its blob (so still
    // owned by the server's user, 0444 or 0555; files are never chowned). `target` stays 0700
    // until everything is in place. Needs the store and `target` on one filesystem. kNotFound for
    // an unknown id or a missing parent, kConflict if `target` exists; on failure `target` is
    // removed again.
    Status Materialize(const std::string& id,
                       const std::filesystem::path& target,
                       unsigned uid,
                       unsigned gid) const;

    // Removes every manifest whose id is not in `live`, every blob no live manifest references,
    // and leftover temp files. Waits for running Captures; a snapshot captured after the caller
    // computed `live` is removed, so compute it while holding off new builds. Ids in `live` the
    // store does not hold are ignored; a live manifest that cannot be read fails the call before
    // anything is removed.
    Result<CollectStats> Collect(const std::set<std::string>& live);

    // Re-reads the stored content of every file of the snapshot and checks it against its hash:
    // the paths whose stored bytes no longer match (empty when the snapshot is intact).
    Result<std::vector<std::string>> Verify(const std::string& id) const;

    const std::filesystem::path& root() const { return root_; }

private:
    std::filesystem::path root_;
};

}  // namespace lathe::serving
