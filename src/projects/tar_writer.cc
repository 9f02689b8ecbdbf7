// Streams files and directory trees as a POSIX ustar archive, with PAX headers for long names.
#include "projects/tar_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

namespace lathe::projects {
namespace {

constexpr std::size_t kBlockSize = 512;
constexpr std::size_t kCopyBufferSize = 64 * 1024;
// Each level of the walk holds one open directory; this keeps a hostile tree from exhausting the
// process's descriptors.
constexpr int kMaxDepth = 256;
// The largest value an 11-digit octal field (size, mtime) holds; larger sizes go in a PAX record.
constexpr std::uint64_t kMaxOctal11 = 077777777777ULL;
constexpr std::size_t kNameFieldBytes = 100;
constexpr std::array<char, kBlockSize> kZeros{};

// Field offsets of the ustar header (POSIX.1-2001, pax "ustar Interchange Format").
constexpr std::size_t kNameOffset = 0;
constexpr std::size_t kModeOffset = 100;
constexpr std::size_t kUidOffset = 108;
constexpr std::size_t kGidOffset = 116;
constexpr std::size_t kSizeOffset = 124;
constexpr std::size_t kMtimeOffset = 136;
constexpr std::size_t kChecksumOffset = 148;
constexpr std::size_t kTypeFlagOffset = 156;
constexpr std::size_t kMagicOffset = 257;
constexpr std::size_t kVersionOffset = 263;

class UniqueFd {
public:
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }

private:
    int fd_;
};

std::unexpected<Error> OsError(std::string_view action, std::string_view name, int err) {
    return MakeError(ErrorCode::kInternal,
                     std::string(action) + " '" + std::string(name) +
                         "' for the archive failed: " + std::generic_category().message(err));
}

// Writes value as zero-padded octal into a field of `width` bytes, the last one NUL. Callers keep
// value within width - 1 digits.
void PutOctal(char* field, std::size_t width, std::uint64_t value) {
    field[width - 1] = '\0';
    for (std::size_t i = width - 1; i > 0; --i) {
        field[i - 1] = static_cast<char>('0' + (value & 7));
        value >>= 3;
    }
}

// One "<length> <key>=<value>\n" record, where length counts the whole record including itself.
std::string PaxRecord(std::string_view key, std::string_view value) {
    const std::size_t base = key.size() + value.size() + 3;  // ' ', '=' and '\n'
    std::size_t length = base + 1;
    while (length != base + std::to_string(length).size()) {
        length = base + std::to_string(length).size();
    }
    return std::to_string(length) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

std::int64_t ClampMtime(std::int64_t mtime) {
    // ustar cannot hold times before 1970 or after 2242; neither is worth a PAX record.
    return std::clamp<std::int64_t>(mtime, 0, static_cast<std::int64_t>(kMaxOctal11));
}

}  // namespace

ByteSink StreamSink(std::ostream& out) {
    return [&out](std::string_view bytes) -> Status {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            return MakeError(ErrorCode::kInternal, "writing the archive to its stream failed");
        }
        return {};
    };
}

TarWriter::TarWriter(ByteSink sink) : sink_(std::move(sink)) {}

Status TarWriter::AddTree(const std::filesystem::path& source, std::string_view archive_name) {
    if (finished_) {
        return MakeError(ErrorCode::kInternal, "entry added to a finished tar archive");
    }
    const std::string name(archive_name);
    const std::string shown = name.empty() ? "." : name;
    // O_NONBLOCK so that a FIFO given as the source is refused below instead of hanging open().
    UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            return MakeError(ErrorCode::kNotFound, "'" + shown + "' does not exist");
        }
        return OsError("opening", shown, err);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return OsError("reading", shown, errno);
    }
    if (S_ISDIR(st.st_mode)) {
        return AddDirectory(fd.get(), name.empty() ? std::string() : name + "/", 0);
    }
    if (S_ISREG(st.st_mode)) {
        if (name.empty()) {
            return MakeError(ErrorCode::kInternal, "a file needs a name in the archive");
        }
        return AddFile(fd.get(), name);
    }
    return MakeError(ErrorCode::kBadRequest,
                     "'" + shown + "' is neither a regular file nor a directory");
}

Status TarWriter::Finish() {
    if (finished_) {
        return {};
    }
    finished_ = true;
    for (int i = 0; i < 2; ++i) {
        RETURN_IF_ERROR(sink_({kZeros.data(), kZeros.size()}));
    }
    return {};
}

Status TarWriter::AddDirectory(int dir_fd, const std::string& archive_dir, int depth) {
    if (depth > kMaxDepth) {
        return MakeError(ErrorCode::kBadRequest, "'" + archive_dir + "' is nested more than " +
                                                     std::to_string(kMaxDepth) +
                                                     " directories deep to be archived");
    }
    struct stat st {};
    if (::fstat(dir_fd, &st) != 0) {
        return OsError("reading", archive_dir, errno);
    }
    if (!archive_dir.empty()) {
        RETURN_IF_ERROR(WriteHeader(archive_dir, '5', st.st_mode & 0777, 0, st.st_mtim.tv_sec));
    }

    // A separate open file description, so readdir's offset is not shared with dir_fd.
    const int list_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (list_fd < 0) {
        return OsError("listing", archive_dir, errno);
    }
    DIR* dir = ::fdopendir(list_fd);
    if (dir == nullptr) {
        const int err = errno;
        ::close(list_fd);
        return OsError("listing", archive_dir, err);
    }
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view entry_name(entry->d_name);
        if (entry_name != "." && entry_name != "..") {
            names.emplace_back(entry_name);
        }
    }
    const int read_error = errno;
    ::closedir(dir);
    if (read_error != 0) {
        return OsError("listing", archive_dir, read_error);
    }
    std::sort(names.begin(), names.end());

    for (const std::string& child : names) {
        const std::string child_name = archive_dir + child;
        struct stat child_st {};
        if (::fstatat(dir_fd, child.c_str(), &child_st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                continue;  // removed since the listing
            }
            return OsError("reading", child_name, errno);
        }
        const bool is_dir = S_ISDIR(child_st.st_mode);
        if (!is_dir && !S_ISREG(child_st.st_mode)) {
            continue;  // symlinks, FIFOs, sockets and devices are not archived
        }
        const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
                          (is_dir ? O_DIRECTORY : O_NONBLOCK);
        UniqueFd child_fd(::openat(dir_fd, child.c_str(), flags));
        if (child_fd.get() < 0) {
            const int err = errno;
            // Removed, or swapped for a symlink or another type since the fstatat: skip it as
            // if the walk had seen the new state.
            if (err == ENOENT || err == ELOOP || err == ENOTDIR) {
                continue;
            }
            return OsError("opening", child_name, err);
        }
        Status status = is_dir ? AddDirectory(child_fd.get(), child_name + "/", depth + 1)
                               : AddFile(child_fd.get(), child_name);
        if (!status) {
            return status;
        }
    }
    return {};
}

Status TarWriter::AddFile(int fd, const std::string& archive_name) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return OsError("reading", archive_name, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return {};  // swapped for a FIFO or the like after it was listed
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    RETURN_IF_ERROR(WriteHeader(archive_name, '0', st.st_mode & 0777, size, st.st_mtim.tv_sec));
    std::vector<char> buffer(kCopyBufferSize);
    std::uint64_t remaining = size;
    while (remaining > 0) {
        const std::size_t want = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining, static_cast<std::uint64_t>(buffer.size())));
        const ssize_t got = ::read(fd, buffer.data(), want);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return OsError("reading", archive_name, errno);
        }
        if (got == 0) {
            break;  // truncated while we read it; padded below
        }
        RETURN_IF_ERROR(sink_({buffer.data(), static_cast<std::size_t>(got)}));
        remaining -= static_cast<std::uint64_t>(got);
    }
    // The header promised `size` bytes: a file that shrank under us is padded with zeros, and one
    // that grew is cut at the size it had, so the archive stays readable either way.
    while (remaining > 0) {
        const std::size_t chunk = static_cast<std::size_t>(
            std::min<std::uint64_t>(remaining, static_cast<std::uint64_t>(kZeros.size())));
        RETURN_IF_ERROR(sink_({kZeros.data(), chunk}));
        remaining -= chunk;
    }
    return WritePadding(size);
}

Status TarWriter::WriteHeader(const std::string& archive_name,
                              char type_flag,
                              std::uint32_t mode,
                              std::uint64_t size,
                              std::int64_t mtime) {
    std::string pax;
    if (archive_name.size() > kNameFieldBytes) {
        pax += PaxRecord("path", archive_name);
    }
    if (size > kMaxOctal11) {
        pax += PaxRecord("size", std::to_string(size));
    }
    if (!pax.empty()) {
        // Readers that know PAX take path/size from these records; older ones see a file with
        // this name followed by an entry whose name is cut at 100 bytes.
        RETURN_IF_ERROR(WriteHeader("././@PaxHeader", 'x', 0644, pax.size(), mtime));
        RETURN_IF_ERROR(sink_(pax));
        RETURN_IF_ERROR(WritePadding(pax.size()));
    }

    std::array<char, kBlockSize> header{};
    std::memcpy(header.data() + kNameOffset, archive_name.data(),
                std::min(archive_name.size(), kNameFieldBytes));
    PutOctal(header.data() + kModeOffset, 8, mode);
    PutOctal(header.data() + kUidOffset, 8, 0);
    PutOctal(header.data() + kGidOffset, 8, 0);
    PutOctal(header.data() + kSizeOffset, 12, size > kMaxOctal11 ? 0 : size);
    PutOctal(header.data() + kMtimeOffset, 12, static_cast<std::uint64_t>(ClampMtime(mtime)));
    header[kTypeFlagOffset] = type_flag;
    std::memcpy(header.data() + kMagicOffset, "ustar", 6);  // with its NUL
    std::memcpy(header.data() + kVersionOffset, "00", 2);

    // The checksum is computed with its own field read as eight spaces.
    std::memset(header.data() + kChecksumOffset, ' ', 8);
    unsigned int checksum = 0;
    for (char byte : header) {
        checksum += static_cast<unsigned char>(byte);
    }
    PutOctal(header.data() + kChecksumOffset, 7, checksum);  // six digits, NUL, then a space
    header[kChecksumOffset + 7] = ' ';
    return sink_({header.data(), header.size()});
}

Status TarWriter::WritePadding(std::uint64_t size) {
    const auto padding =
        static_cast<std::size_t>((kBlockSize - size % kBlockSize) % kBlockSize);
    if (padding == 0) {
        return {};
    }
    return sink_({kZeros.data(), padding});
}

Status WriteTarArchive(const std::filesystem::path& source,
                       std::string_view archive_name,
                       std::ostream& out) {
    TarWriter writer(StreamSink(out));
    RETURN_IF_ERROR(writer.AddTree(source, archive_name));
    return writer.Finish();
}

}  // namespace lathe::projects
