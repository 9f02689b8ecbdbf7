// Fixed-window attempt counters (per minute), for login throttling.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace lathe::auth {

class RateLimiter {
public:
    RateLimiter(const Clock& clock, int per_minute) : clock_(clock), per_minute_(per_minute) {}
    // Counts an attempt for key; returns 0 if allowed, else seconds until the window resets.
    int Attempt(const std::string& key);

private:
    struct Window {
        std::int64_t start_ms;
        int count;
    };
    const Clock& clock_;
    const int per_minute_;
    std::mutex mu_;  // guards windows_
    std::unordered_map<std::string, Window> windows_;
};

}  // namespace lathe::auth
