// Append-only log files under <data-dir>/logs/.
#include "compute/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lathe::compute {
namespace {

constexpr std::string_view kTruncatedMarker =
    "\n[lathe: this log reached its size limit; later output was dropped]\n";

Status WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return MakeError(ErrorCode::kInternal, std::string("cannot write log: ") +
                                                       std::strerror(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

LogStore::LogStore(std::filesystem::path dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

LogStore::~LogStore() {
    for (auto& [id, open] : open_) {
        if (open->fd >= 0) {
            ::close(open->fd);
        }
    }
}

std::filesystem::path LogStore::PathOf(std::int64_t id) const {
    return dir_ / (std::to_string(id) + ".log");
}

Result<LogStore::Open*> LogStore::OpenLocked(std::int64_t id) {
    auto it = open_.find(id);
    if (it != open_.end()) {
        return it->second.get();
    }
    auto open = std::make_unique<Open>();
    open->fd = ::open(PathOf(id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (open->fd < 0) {
        return MakeError(ErrorCode::kInternal, "cannot open log " + PathOf(id).string() + ": " +
                                                   std::strerror(errno));
    }
    struct stat st {};
    ::fstat(open->fd, &st);
    open->stored = static_cast<std::uint64_t>(st.st_size);
    open->accepted = open->stored;
    Open* raw = open.get();
    open_.emplace(id, std::move(open));
    return raw;
}

Result<LogStore::AppendResult> LogStore::Append(std::int64_t id, std::uint64_t offset,
                                                std::string_view data) {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(Open * open, OpenLocked(id));
    if (offset > open->accepted) {
        return AppendResult{false, open->accepted};
    }
    std::uint64_t skip = open->accepted - offset;
    if (skip >= data.size()) {
        return AppendResult{true, open->accepted};
    }
    data.remove_prefix(skip);
    open->accepted += data.size();
    std::string_view keep = data;
    std::string tail;
    if (!open->truncated && open->stored + data.size() > max_bytes_) {
        keep = data.substr(0, max_bytes_ > open->stored ? max_bytes_ - open->stored : 0);
        tail = std::string(keep) + std::string(kTruncatedMarker);
        keep = tail;
        open->truncated = true;
    } else if (open->truncated) {
        keep = {};
    }
    if (!keep.empty()) {
        RETURN_IF_ERROR(WriteAll(open->fd, keep));
        open->stored += keep.size();
        for (auto& [h, f] : open->followers) {
            f.on_data(keep);
        }
    }
    return AppendResult{true, open->accepted};
}

Result<LogStore::Chunk> LogStore::Read(std::int64_t id, std::uint64_t offset,
                                       std::size_t max_bytes) {
    Chunk chunk;
    int fd = ::open(PathOf(id).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            chunk.next_offset = offset;
            return chunk;  // nothing written yet
        }
        return MakeError(ErrorCode::kInternal, std::string("cannot read log: ") + std::strerror(errno));
    }
    struct stat st {};
    ::fstat(fd, &st);
    chunk.size = static_cast<std::uint64_t>(st.st_size);
    if (offset < chunk.size) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max_bytes, chunk.size - offset));
        chunk.data.resize(n);
        ssize_t got = ::pread(fd, chunk.data.data(), n, static_cast<off_t>(offset));
        chunk.data.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    }
    ::close(fd);
    chunk.next_offset = offset + chunk.data.size();
    return chunk;
}

void LogStore::Finish(std::int64_t id) {
    std::map<std::int64_t, Follower> followers;
    {
        std::lock_guard lock(mu_);
        auto it = open_.find(id);
        if (it == open_.end()) {
            return;
        }
        followers = std::move(it->second->followers);
        if (it->second->fd >= 0) {
            ::close(it->second->fd);
        }
        open_.erase(it);
    }
    for (auto& [h, f] : followers) {
        f.on_end();
    }
}

std::int64_t LogStore::Follow(std::int64_t id, std::uint64_t offset, bool finished, DataFn on_data,
                              EndFn on_end) {
    // Catch up under the lock, so no appended piece falls between the catch-up and the follow.
    std::unique_lock lock(mu_);
    std::uint64_t at = offset;
    for (;;) {
        auto chunk = Read(id, at, 1 << 20);
        if (!chunk || chunk->data.empty()) {
            break;
        }
        on_data(chunk->data);
        at = chunk->next_offset;
    }
    if (finished) {
        lock.unlock();
        on_end();
        return 0;
    }
    auto open = OpenLocked(id);
    if (!open) {
        lock.unlock();
        on_end();
        return 0;
    }
    std::int64_t handle = next_handle_++;
    (*open)->followers.emplace(handle, Follower{std::move(on_data), std::move(on_end)});
    return handle;
}

void LogStore::Unfollow(std::int64_t id, std::int64_t handle) {
    std::lock_guard lock(mu_);
    auto it = open_.find(id);
    if (it != open_.end()) {
        it->second->followers.erase(handle);
    }
}

}  // namespace lathe::compute
