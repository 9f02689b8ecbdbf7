// Serving statistics.
#include "serving/stats.h"

#include <charconv>
#include <cmath>
#include <cstdio>

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

std::string LatencyHistogram::Encode() const {
    char num[64];
    std::snprintf(num, sizeof num, "%.17g;", sum_);
    std::string out = num;
    bool first = true;
    for (int i = 0; i < kBuckets; ++i) {
        if (buckets_[i] == 0) {
            continue;
        }
        if (!first) {
            out += ',';
        }
        first = false;
        out += std::to_string(i) + ":" + std::to_string(buckets_[i]);
    }
    return out;
}

std::optional<LatencyHistogram> LatencyHistogram::Decode(std::string_view text) {
    LatencyHistogram h;
    const auto semi = text.find(';');
    if (semi == std::string_view::npos) {
        return std::nullopt;
    }
    try {
        h.sum_ = std::stod(std::string(text.substr(0, semi)));
    } catch (...) {
        return std::nullopt;
    }
    std::string_view rest = text.substr(semi + 1);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        const auto colon = item.find(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        int i = -1;
        std::int64_t n = -1;
        const auto a = std::from_chars(item.data(), item.data() + colon, i);
        const auto b = std::from_chars(item.data() + colon + 1, item.data() + item.size(), n);
        if (a.ec != std::errc() || b.ec != std::errc() || i < 0 || i >= kBuckets || n < 0) {
            return std::nullopt;
        }
        h.buckets_[i] += n;
        h.count_ += n;
    }
    return h;
}

std::int64_t MinuteAccumulator::MinuteOf(std::int64_t ms) {
    std::int64_t q = ms / kMinuteMs;
    if (ms % kMinuteMs != 0 && ms < 0) {
        --q;
    }
    return q * kMinuteMs;
}

void MinuteAccumulator::Add(std::int64_t now_ms,
                            bool error,
                            bool rejected,
                            std::int64_t latency_us) {
    const std::int64_t minute = MinuteOf(now_ms);
    // Calls finish in about arrival order; one that ends in an earlier minute than the newest
    // (a wall clock stepped back) is counted in the newest rather than reordering.
    if (minutes_.empty() || minutes_.back().minute_ms < minute) {
        minutes_.emplace_back();
        minutes_.back().minute_ms = minute;
    }
    MinuteCounts& m = minutes_.back();
    ++m.requests;
    if (error) {
        ++m.errors;
    }
    if (rejected) {
        ++m.rejected;
    }
    if (latency_us >= 0) {
        m.latency.Add(latency_us);
    }
}

void MinuteAccumulator::Take(std::int64_t now_ms, bool all, std::vector<MinuteCounts>& out) {
    const std::int64_t current = MinuteOf(now_ms);
    while (!minutes_.empty() && (all || minutes_.front().minute_ms < current)) {
        out.push_back(std::move(minutes_.front()));
        minutes_.pop_front();
    }
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
