// Serving statistics.
#include "serving/stats.h"

#include <cmath>

namespace lathe::serving {
namespace {

// Upper bound (exclusive) of bucket i in microseconds.
double BucketBound(int i) { return 0.1 * std::exp2((i + 1) / 4.0); }

int BucketOf(double micros) {
    if (micros < 0.1) {
        return 0;
    }
    int i = static_cast<int>(std::floor(std::log2(micros / 0.1) * 4.0));
    return std::min(std::max(i, 0), LatencyHistogram::kBuckets - 1);
}

}  // namespace

void LatencyHistogram::Add(std::int64_t micros) {
    ++buckets_[BucketOf(static_cast<double>(micros))];
    ++count_;
    sum_ += static_cast<double>(micros);
}

double LatencyHistogram::Quantile(double q) const {
    if (count_ == 0) {
        return 0;
    }
    const double target = q * static_cast<double>(count_);
    double seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
        if (buckets_[i] == 0) {
            continue;
        }
        if (seen + static_cast<double>(buckets_[i]) >= target) {
            // Interpolate inside the bucket, geometrically.
            const double lo = i == 0 ? 0.0 : BucketBound(i - 1);
            const double hi = BucketBound(i);
            const double frac = (target - seen) / static_cast<double>(buckets_[i]);
            return lo + (hi - lo) * frac;
        }
        seen += static_cast<double>(buckets_[i]);
    }
    return BucketBound(kBuckets - 1);
}

std::int64_t LatencyHistogram::CountAtMost(double micros) const {
    std::int64_t n = 0;
    for (int i = 0; i < kBuckets && BucketBound(i) <= micros * 1.0000001; ++i) {
        n += buckets_[i];
    }
    return n;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBuckets; ++i) {
        buckets_[i] += other.buckets_[i];
    }
    count_ += other.count_;
    sum_ += other.sum_;
}

void AppendPrometheusHistogram(std::string& out, const std::string& name,
                               const std::string& labels, const LatencyHistogram& h) {
    static constexpr double kBoundsSeconds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                0.0025,  0.005,  0.01,    0.025,  0.05,
                                                0.1,     0.25,   0.5,     1,      2.5,
                                                5,       10,     30,      60};
    const std::string sep = labels.empty() ? "" : ",";
    char num[64];
    for (double b : kBoundsSeconds) {
        std::snprintf(num, sizeof num, "%g", b);
        out += name + "_bucket{" + labels + sep + "le=\"" + num + "\"} " +
               std::to_string(h.CountAtMost(b * 1e6)) + "\n";
    }
    out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count()) + "\n";
    std::snprintf(num, sizeof num, "%.6f", h.sum_micros() / 1e6);
    out += name + "_sum{" + labels + "} " + num + "\n";
    out += name + "_count{" + labels + "} " + std::to_string(h.count()) + "\n";
}

}  // namespace lathe::serving
