// Workload logs: appended by runners at known offsets (retries are idempotent), capped in size,
// read back from any offset, and followed live.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"

namespace lathe::compute {

class LogStore {
public:
    // max_bytes: the cap per workload (default 100 MiB); past it output is dropped after a marker.
    LogStore(std::filesystem::path dir, std::uint64_t max_bytes);
    ~LogStore();

    struct AppendResult {
        bool accepted = true;      // false: offset is ahead of what we have (resend from size)
        std::uint64_t size = 0;    // bytes of the runner's stream accepted so far
    };
    // `offset` is where `data` starts in the runner's stream; bytes we already have are skipped.
    Result<AppendResult> Append(std::int64_t id, std::uint64_t offset, std::string_view data);

    struct Chunk {
        std::string data;
        std::uint64_t next_offset = 0;
        std::uint64_t size = 0;  // the stored log's size now
    };
    Result<Chunk> Read(std::int64_t id, std::uint64_t offset, std::size_t max_bytes);

    // The workload ended: followers get their end-of-log and its state is released.
    void Finish(std::int64_t id);

    // Calls `on_data` with everything from `offset` on, then with each new piece, and `on_end`
    // once the log is finished (at once if it already is). Returns a handle for Unfollow.
    using DataFn = std::function<void(std::string_view)>;
    using EndFn = std::function<void()>;
    std::int64_t Follow(std::int64_t id, std::uint64_t offset, bool finished, DataFn on_data,
                        EndFn on_end);
    void Unfollow(std::int64_t id, std::int64_t handle);

    std::filesystem::path PathOf(std::int64_t id) const;

private:
    struct Follower {
        DataFn on_data;
        EndFn on_end;
    };
    struct Open {
        int fd = -1;
        std::uint64_t accepted = 0;  // runner stream bytes taken (≥ stored when truncated)
        std::uint64_t stored = 0;    // bytes in the file
        bool truncated = false;
        std::map<std::int64_t, Follower> followers;
    };
    Result<Open*> OpenLocked(std::int64_t id);

    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
    std::mutex mu_;  // guards open_, next_handle_ (and serializes appends)
    std::map<std::int64_t, std::unique_ptr<Open>> open_;
    std::int64_t next_handle_ = 1;
};

}  // namespace lathe::compute
