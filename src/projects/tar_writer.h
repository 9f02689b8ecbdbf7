// Streams files and directory trees as a POSIX ustar archive, with PAX headers for long names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lathe::projects {

// Receives the archive in pieces of at most a few tens of KiB; an error stops the archive.
using ByteSink = std::function<Status(std::string_view bytes)>;

// A sink writing to out; a failed write (a closed socket, a full disk) becomes kInternal.
ByteSink StreamSink(std::ostream& out);

// Only regular files and directories are archived. Below the source everything is opened with
// O_NOFOLLOW relative to its parent's descriptor, so symlinks (and FIFOs, sockets, devices) are
// skipped and a directory swapped for a symlink mid-walk cannot lead the walk elsewhere. File
// contents are copied through a fixed buffer, never held whole. Entries come out sorted by name so
// the same tree always gives the same archive; owners are written as 0/0 because the reader's
// user ids mean nothing to ours.
class TarWriter {
public:
    explicit TarWriter(ByteSink sink);

    // Adds `source`, a regular file or a directory tree, under `archive_name` ("a/b", no trailing
    // slash). For a directory, an empty archive_name puts its contents at the top level with no
    // entry for the directory itself. The source itself is followed if it is a symlink: callers
    // vet it; nothing below it is followed.
    Status AddTree(const std::filesystem::path& source, std::string_view archive_name);

    // Writes the end-of-archive marker. No entry may be added afterwards.
    Status Finish();

private:
    Status AddDirectory(int dir_fd, const std::string& archive_dir, int depth);
    Status AddFile(int fd, const std::string& archive_name);
    // Writes the ustar header (preceded by a PAX header when the name or size does not fit).
    Status WriteHeader(const std::string& archive_name,
                       char type_flag,
                       std::uint32_t mode,
                       std::uint64_t size,
                       std::int64_t mtime);
    Status WritePadding(std::uint64_t size);

    ByteSink sink_;
    bool finished_ = false;
};

// AddTree + Finish onto a stream.
Status WriteTarArchive(const std::filesystem::path& source,
                       std::string_view archive_name,
                       std::ostream& out);

}  // namespace lathe::projects
