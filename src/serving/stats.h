// Serving statistics: counters and latency histograms per deployment and replica, with
// quantiles for the API and Prometheus text exposition.
#pragma once

#include <array>
#include <cstdint>
#include <string>

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

// Appends one Prometheus histogram (seconds) named `name` with `labels` ("a=\"b\",...").
void AppendPrometheusHistogram(std::string& out, const std::string& name,
                               const std::string& labels, const LatencyHistogram& h);

}  // namespace lathe::serving
