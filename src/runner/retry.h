// Retry timing for the runner: the monotonic clock its timers use and the backoff between tries.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace lathe::runner {

// Milliseconds on the monotonic clock: timers must not jump when the wall clock is set.
inline std::int64_t MonotonicMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Delays between tries of a failing request: 50 ms, doubling, never more than 2 s.
class Backoff {
public:
    static constexpr std::int64_t kFirstMs = 50;
    static constexpr std::int64_t kMaxMs = 2000;

    std::int64_t NextMs() {
        std::int64_t delay = next_ms_;
        next_ms_ = std::min(next_ms_ * 2, kMaxMs);
        return delay;
    }
    void Reset() { next_ms_ = kFirstMs; }

private:
    std::int64_t next_ms_ = kFirstMs;
};

}  // namespace lathe::runner
