// Fixed-window rate limiting.
#include "auth/rate_limiter.h"

namespace lathe::auth {

int RateLimiter::Attempt(const std::string& key) {
    constexpr std::int64_t kWindowMs = 60'000;
    constexpr std::size_t kMaxKeys = 100'000;
    const std::int64_t now = clock_.NowMs();
    std::lock_guard lock(mu_);
    if (windows_.size() > kMaxKeys) {
        // Bounded memory under a flood of distinct keys: forget finished windows.
        std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.start_ms >= kWindowMs; });
    }
    Window& w = windows_.try_emplace(key, Window{now, 0}).first->second;
    if (now - w.start_ms >= kWindowMs) {
        w = Window{now, 0};
    }
    if (w.count >= per_minute_) {
        return static_cast<int>((w.start_ms + kWindowMs - now + 999) / 1000);
    }
    ++w.count;
    return 0;
}

}  // namespace lathe::auth
