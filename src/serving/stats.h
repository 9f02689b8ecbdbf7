// Serving statistics: counters and latency histograms per deployment and replica, with
// quantiles for the API and Prometheus text exposition.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lathe::serving {

// Log-scale buckets of microseconds: bucket i holds values below 2^((i+1)/4) µs, so any quantile
// is within 19% of the truth; 0.1 µs to ~1 hour. Not thread-safe: its owner locks.
class LatencyHistogram {
public:
    static constexpr int kBuckets = 130;
    void Add(std::int64_t micros);
    std::int64_t count() const { return count_; }
    double sum_micros() const { return sum_; }
    // The q-quantile in microseconds (0 when empty).
    double Quantile(double q) const;
    // How many values are at most `micros` (for Prometheus' cumulative buckets).
    std::int64_t CountAtMost(double micros) const;
    void Merge(const LatencyHistogram& other);
    // A compact text form for storage ("<sum>;<bucket>:<count>,..."), and back; Decode gives
    // nullopt for text Encode did not make.
    std::string Encode() const;
    static std::optional<LatencyHistogram> Decode(std::string_view text);

private:
    std::array<std::int64_t, kBuckets> buckets_{};
    std::int64_t count_ = 0;
    double sum_ = 0;
};

struct ServingCounters {
    std::int64_t requests = 0;  // answered, whatever the outcome
    std::int64_t errors = 0;    // not 200
    std::int64_t rejected = 0;  // 429/503 without reaching a replica
    LatencyHistogram latency;   // from arrival to answer
    LatencyHistogram queue;     // waiting for a replica
    LatencyHistogram function;  // inside the user's function
    LatencyHistogram overhead;  // latency minus time inside the function
};

// One minute of a deployment's calls, counted as ServingCounters counts them.
struct MinuteCounts {
    std::int64_t minute_ms = 0;  // the minute's start, ms since the epoch
    std::int64_t requests = 0;
    std::int64_t errors = 0;
    std::int64_t rejected = 0;
    LatencyHistogram latency;
};

// Per-minute counts of calls not yet taken for storage, oldest first. Not thread-safe: its
// owner (the replica pool) locks, so the hot path takes no other lock.
class MinuteAccumulator {
public:
    static constexpr std::int64_t kMinuteMs = 60'000;
    static std::int64_t MinuteOf(std::int64_t ms);
    // One answered call at wall time `now_ms`; latency_us < 0: refused before it was timed.
    void Add(std::int64_t now_ms, bool error, bool rejected, std::int64_t latency_us);
    // Moves what was counted since the last take into `out`: every minute when `all`, else
    // only the minutes that ended before now_ms. What stays keeps counting.
    void Take(std::int64_t now_ms, bool all, std::vector<MinuteCounts>& out);
    // A copy of what is not taken yet.
    std::vector<MinuteCounts> Peek() const { return {minutes_.begin(), minutes_.end()}; }
    bool empty() const { return minutes_.empty(); }

private:
    std::deque<MinuteCounts> minutes_;
};

// Appends one Prometheus histogram (seconds) named `name` with `labels` ("a=\"b\",...").
void AppendPrometheusHistogram(std::string& out, const std::string& name,
                               const std::string& labels, const LatencyHistogram& h);

}  // namespace lathe::serving
