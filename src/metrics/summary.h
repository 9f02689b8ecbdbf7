// MetricSummary: a mergeable, serializable rollup of one numeric metric with quantile estimates.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::metrics {

// Summarizes a stream of doubles (per minute, per hour, ...) in bounded memory: exact count, sum,
// sum of squares, min and max, a numerically stable mean and standard deviation, and quantiles
// from a DDSketch-style logarithmic sketch. Summaries of consecutive windows Merge() into the
// summary of the union, which is how per-minute rollups become per-hour ones.
//
// Non-finite input (NaN, +inf, -inf) is not part of the summary: it only bumps non_finite().
//
// Quantiles. A value x with |x| >= kZeroThreshold goes to bucket i = ceil(log_gamma(|x|)) of the
// store for its sign, gamma = (1 + alpha) / (1 - alpha), alpha = kRelativeAccuracy = 0.01; the
// bucket covers (gamma^(i-1), gamma^i] and is reported as 2 * gamma^i / (gamma + 1), which is
// within alpha of every value in it. Values with |x| < kZeroThreshold are counted as zero.
// Quantile(q) returns the estimate of the element of rank floor(q * (count - 1)) (0-based) of the
// sorted finite input, x_q, and guarantees |Quantile(q) - x_q| <= alpha * |x_q| (up to
// floating-point rounding, ~1e-15 relative), except in two documented cases:
//   * |x_q| < kZeroThreshold: the answer is 0 (clamped to [min, max]), an absolute error < 1e-9;
//   * x_q fell into a collapsed bucket (below).
// The answer is always clamped to [min(), max()], and the lowest and highest ranks return min()
// and max() themselves, so Quantile(0) == min() and Quantile(1) == max() exactly.
//
// Memory. Each sign keeps at most kMaxBucketsPerSign contiguous bucket indices, a dynamic range of
// gamma^2048 ~ 6e17 between its smallest and largest magnitude. When a store would exceed that,
// its lowest-magnitude buckets are collapsed into the lowest retained one (DDSketch's
// "collapsing lowest" store): counts stay exact, but quantiles that land in the collapsed bucket
// (the smallest positive values, or the negative values nearest zero) are overestimated in
// magnitude, without the alpha guarantee. High-magnitude quantiles (tail latencies) keep it.
class MetricSummary {
public:
    static constexpr double kRelativeAccuracy = 0.01;
    static constexpr double kZeroThreshold = 1e-9;
    static constexpr int kMaxBucketsPerSign = 2048;

    // Adds one observation; non-finite values are counted in non_finite() only.
    void Add(double x);
    // Folds `other` in: the result summarizes both inputs (counts exact, sums up to rounding).
    void Merge(const MetricSummary& other);

    // Number of finite values summarized.
    uint64_t count() const { return count_; }
    // Number of NaN / +-inf values seen and left out.
    uint64_t non_finite() const { return non_finite_; }
    double sum() const { return sum_; }
    double sum_squares() const { return sum_squares_; }
    // +inf / -inf when count() == 0.
    double min() const { return min_; }
    double max() const { return max_; }
    // Arithmetic mean (Welford's running mean); NaN when count() == 0.
    double mean() const;
    // Population standard deviation sqrt(sum((x - mean)^2) / count) from Welford/Chan updates,
    // which avoids the cancellation of sum_squares/count - mean^2; 0 when count() < 2.
    double stddev() const;
    // Estimate of the rank-floor(q * (count - 1)) value, see the class comment. q is clamped to
    // [0, 1]; NaN when count() == 0 or q is NaN.
    double Quantile(double q) const;

    // Non-empty buckets per sign (for tests and memory accounting); at most kMaxBucketsPerSign.
    int positive_buckets() const { return positive_.NonEmpty(); }
    int negative_buckets() const { return negative_.NonEmpty(); }

    // Compact binary form, all integers little-endian:
    //   u8      version (= 1)
    //   varint  count, non_finite            (LEB128, unsigned)
    //   f64 x6  sum, sum_squares, min, max, mean, m2   (IEEE-754 binary64, little-endian)
    //   varint  zero_count
    //   store   negative, then positive, each:
    //           varint k (non-empty buckets), then k pairs (index, count): the first index as a
    //           zigzag varint, each later one as a varint gap (index - previous - 1), counts as
    //           varints >= 1.
    std::string Encode() const;
    // Inverse of Encode(). Any malformed, truncated or inconsistent input (bad version, overlong
    // varint, bucket index out of range, more than kMaxBucketsPerSign buckets, bucket counts not
    // adding up to count, trailing bytes, ...) gives kBadRequest; never crashes.
    static Result<MetricSummary> Decode(std::string_view bytes);

    // {"count","sum","min","max","mean","stddev","p50","p90","p95","p99"}; everything but count
    // and sum is null when count is 0 (non-finite sums, after overflow, are null too).
    nlohmann::json ToJson() const;

    bool operator==(const MetricSummary& other) const = default;

private:
    // Counts of one sign, indexed by bucket index; a dense window of at most kMaxBucketsPerSign
    // indices [offset_, offset_ + counts_.size()), whose first and last entries are non-zero.
    class BucketStore {
    public:
        void Add(int32_t index, uint64_t n);
        int NonEmpty() const;
        bool empty() const { return counts_.empty(); }
        int32_t lowest() const { return offset_; }
        int32_t highest() const { return offset_ + static_cast<int32_t>(counts_.size()) - 1; }
        uint64_t at(int32_t index) const { return counts_[index - offset_]; }
        bool operator==(const BucketStore& other) const = default;

    private:
        int32_t offset_ = 0;
        std::vector<uint64_t> counts_;
    };

    uint64_t count_ = 0;
    uint64_t non_finite_ = 0;
    double sum_ = 0.0;
    double sum_squares_ = 0.0;
    double min_ = std::numeric_limits<double>::infinity();
    double max_ = -std::numeric_limits<double>::infinity();
    double mean_ = 0.0;  // Welford running mean
    double m2_ = 0.0;    // sum of squared deviations from mean_
    uint64_t zero_count_ = 0;
    BucketStore negative_;  // indexed by ceil(log_gamma(-x))
    BucketStore positive_;
};

}  // namespace lathe::metrics
