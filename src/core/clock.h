// Injectable wall clock, so tests of expiry and rate limits never sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace lathe {

class Clock {
public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch.
    virtual std::int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
public:
    std::int64_t NowMs() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

class FakeClock final : public Clock {
public:
    explicit FakeClock(std::int64_t now_ms) : now_ms_(now_ms) {}
    std::int64_t NowMs() const override { return now_ms_.load(); }
    void Advance(std::int64_t ms) { now_ms_ += ms; }

private:
    std::atomic<std::int64_t> now_ms_;
};

// "2026-11-24T07:00:00Z" (with ".123" when the milliseconds are not zero).
std::string FormatTime(std::int64_t unix_ms);
// "2026-11-24T07:00:00.000Z": always with milliseconds (fixed width, for other systems' events).
std::string FormatTimeMillis(std::int64_t unix_ms);

}  // namespace lathe
