// MetricSummary: exact moments plus a DDSketch-style log-bucket quantile sketch, and its codec.
#include "metrics/summary.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

namespace lathe::metrics {
namespace {

constexpr double kAlpha = MetricSummary::kRelativeAccuracy;
constexpr double kGamma = (1.0 + kAlpha) / (1.0 - kAlpha);
const double kLogGamma = std::log(kGamma);
constexpr uint8_t kEncodingVersion = 1;

// Index range reachable from finite doubles with |x| >= kZeroThreshold, with one spare each side;
// Decode rejects anything outside so a forged blob cannot describe impossible buckets.
const int32_t kMinIndex =
    static_cast<int32_t>(std::ceil(std::log(MetricSummary::kZeroThreshold) / kLogGamma)) - 1;
const int32_t kMaxIndex =
    static_cast<int32_t>(std::ceil(std::log(std::numeric_limits<double>::max()) / kLogGamma)) + 1;

int32_t BucketIndex(double magnitude) {
    return static_cast<int32_t>(std::ceil(std::log(magnitude) / kLogGamma));
}

// The point of bucket `index` within relative distance alpha of all of (gamma^(i-1), gamma^i].
double BucketValue(int32_t index) {
    return std::exp(static_cast<double>(index) * kLogGamma) * (2.0 / (1.0 + kGamma));
}

void PutVarint(std::string& out, uint64_t value) {
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7f) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

void PutDouble(std::string& out, double value) {
    uint64_t bits = std::bit_cast<uint64_t>(value);
    for (int i = 0; i < 8; ++i) {
        out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    }
}

uint64_t ZigZag(int64_t value) {
    return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

int64_t UnZigZag(uint64_t value) {
    return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

// Bounds-checked reader over untrusted bytes; every getter fails instead of reading past the end.
class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    bool Byte(uint8_t& out) {
        if (pos_ >= bytes_.size()) {
            return false;
        }
        out = static_cast<uint8_t>(bytes_[pos_++]);
        return true;
    }

    bool Varint(uint64_t& out) {
        out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            uint8_t byte = 0;
            if (!Byte(byte)) {
                return false;
            }
            // The tenth byte may only carry the top bit of a 64-bit value.
            if (shift == 63 && byte > 1) {
                return false;
            }
            out |= static_cast<uint64_t>(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0) {
                return true;
            }
        }
        return false;
    }

    bool Double(double& out) {
        if (bytes_.size() - pos_ < 8) {
            return false;
        }
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) {
            bits |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[pos_ + i])) << (8 * i);
        }
        pos_ += 8;
        out = std::bit_cast<double>(bits);
        return true;
    }

    bool AtEnd() const { return pos_ == bytes_.size(); }

private:
    std::string_view bytes_;
    size_t pos_ = 0;
};

std::unexpected<Error> Malformed(std::string_view what) {
    return MakeError(ErrorCode::kBadRequest, "malformed metric summary: " + std::string(what));
}

}  // namespace

void MetricSummary::BucketStore::Add(int32_t index, uint64_t n) {
    if (counts_.empty()) {
        offset_ = index;
        counts_.assign(1, n);
        return;
    }
    int32_t high = highest();
    if (index < offset_) {
        // Below the window: widen it down, unless that breaks the cap, in which case the value
        // joins the lowest bucket the cap allows (the collapse keeps the high-magnitude tail).
        index = std::max(index, high - kMaxBucketsPerSign + 1);
        if (index < offset_) {
            counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - index), 0);
            offset_ = index;
        }
        counts_[index - offset_] += n;
        return;
    }
    if (index > high) {
        int32_t new_low = index - kMaxBucketsPerSign + 1;
        if (new_low > offset_) {
            // Collapse everything below new_low into new_low.
            size_t fold = static_cast<size_t>(std::min(new_low, high + 1) - offset_);
            uint64_t folded = std::accumulate(counts_.begin(), counts_.begin() + fold, uint64_t{0});
            counts_.erase(counts_.begin(), counts_.begin() + fold);
            if (counts_.empty()) {
                counts_.push_back(0);
            }
            counts_.front() += folded;
            offset_ = new_low;
        }
        counts_.resize(static_cast<size_t>(index - offset_ + 1), 0);
        counts_.back() += n;
        return;
    }
    counts_[index - offset_] += n;
}

int MetricSummary::BucketStore::NonEmpty() const {
    return static_cast<int>(
        std::count_if(counts_.begin(), counts_.end(), [](uint64_t c) { return c != 0; }));
}

void MetricSummary::Add(double x) {
    if (!std::isfinite(x)) {
        ++non_finite_;
        return;
    }
    ++count_;
    sum_ += x;
    sum_squares_ += x * x;
    min_ = std::min(min_, x);
    max_ = std::max(max_, x);
    double delta = x - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (x - mean_);
    double magnitude = std::abs(x);
    if (magnitude < kZeroThreshold) {
        ++zero_count_;
    } else if (x > 0) {
        positive_.Add(BucketIndex(magnitude), 1);
    } else {
        negative_.Add(BucketIndex(magnitude), 1);
    }
}

void MetricSummary::Merge(const MetricSummary& other) {
    non_finite_ += other.non_finite_;
    if (other.count_ == 0) {
        return;
    }
    if (count_ == 0) {
        uint64_t non_finite = non_finite_;
        *this = other;
        non_finite_ = non_finite;
        return;
    }
    // Chan et al.'s pairwise update keeps m2_ accurate where sum_squares would cancel.
    double n_a = static_cast<double>(count_);
    double n_b = static_cast<double>(other.count_);
    double n = n_a + n_b;
    double delta = other.mean_ - mean_;
    mean_ += delta * (n_b / n);
    m2_ += other.m2_ + delta * delta * (n_a * n_b / n);
    count_ += other.count_;
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    zero_count_ += other.zero_count_;
    for (const auto& [mine, theirs] :
         {std::pair{&negative_, &other.negative_}, std::pair{&positive_, &other.positive_}}) {
        if (theirs->empty()) {
            continue;
        }
        // Where a bucket ends up depends only on the final highest index (everything below
        // highest - cap + 1 is folded there), so the merged sketch equals the sketch of the
        // concatenated input, whatever the order.
        for (int32_t i = theirs->highest(); i >= theirs->lowest(); --i) {
            if (uint64_t c = theirs->at(i); c != 0) {
                mine->Add(i, c);
            }
        }
    }
}

double MetricSummary::mean() const {
    return count_ == 0 ? std::numeric_limits<double>::quiet_NaN() : mean_;
}

double MetricSummary::stddev() const {
    if (count_ < 2) {
        return 0.0;
    }
    return std::sqrt(std::max(0.0, m2_) / static_cast<double>(count_));
}

double MetricSummary::Quantile(double q) const {
    if (count_ == 0 || std::isnan(q)) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
    rank = std::min(rank, count_ - 1);
    // The extremes are tracked exactly, so the ends of the range need no estimate.
    if (rank == 0) {
        return min_;
    }
    if (rank == count_ - 1) {
        return max_;
    }
    uint64_t seen = 0;
    auto answer = [&](double v) { return std::clamp(v, min_, max_); };
    if (!negative_.empty()) {
        for (int32_t i = negative_.highest(); i >= negative_.lowest(); --i) {
            seen += negative_.at(i);
            if (seen > rank) {
                return answer(-BucketValue(i));
            }
        }
    }
    seen += zero_count_;
    if (seen > rank) {
        return answer(0.0);
    }
    if (!positive_.empty()) {
        for (int32_t i = positive_.lowest(); i <= positive_.highest(); ++i) {
            seen += positive_.at(i);
            if (seen > rank) {
                return answer(BucketValue(i));
            }
        }
    }
    // Unreachable while the bucket counts add up to count_ (Add and Decode keep that invariant).
    return max_;
}

std::string MetricSummary::Encode() const {
    std::string out;
    out.push_back(static_cast<char>(kEncodingVersion));
    PutVarint(out, count_);
    PutVarint(out, non_finite_);
    for (double v : {sum_, sum_squares_, min_, max_, mean_, m2_}) {
        PutDouble(out, v);
    }
    PutVarint(out, zero_count_);
    for (const BucketStore* store : {&negative_, &positive_}) {
        PutVarint(out, static_cast<uint64_t>(store->NonEmpty()));
        if (store->empty()) {
            continue;
        }
        bool first = true;
        int32_t previous = 0;
        for (int32_t i = store->lowest(); i <= store->highest(); ++i) {
            uint64_t c = store->at(i);
            if (c == 0) {
                continue;
            }
            PutVarint(out, first ? ZigZag(i) : static_cast<uint64_t>(i - previous - 1));
            PutVarint(out, c);
            first = false;
            previous = i;
        }
    }
    return out;
}

Result<MetricSummary> MetricSummary::Decode(std::string_view bytes) {
    Reader in(bytes);
    uint8_t version = 0;
    if (!in.Byte(version)) {
        return Malformed("empty input");
    }
    if (version != kEncodingVersion) {
        return Malformed("unsupported version " + std::to_string(version));
    }
    MetricSummary s;
    if (!in.Varint(s.count_) || !in.Varint(s.non_finite_)) {
        return Malformed("truncated counts");
    }
    for (double* v : {&s.sum_, &s.sum_squares_, &s.min_, &s.max_, &s.mean_, &s.m2_}) {
        if (!in.Double(*v)) {
            return Malformed("truncated moments");
        }
    }
    if (!in.Varint(s.zero_count_)) {
        return Malformed("truncated zero count");
    }
    uint64_t total = s.zero_count_;
    for (BucketStore* store : {&s.negative_, &s.positive_}) {
        uint64_t k = 0;
        if (!in.Varint(k)) {
            return Malformed("truncated bucket count");
        }
        if (k > static_cast<uint64_t>(kMaxBucketsPerSign)) {
            return Malformed("too many buckets");
        }
        int64_t first_index = 0;
        int64_t index = 0;
        for (uint64_t j = 0; j < k; ++j) {
            uint64_t raw = 0;
            uint64_t c = 0;
            if (!in.Varint(raw) || !in.Varint(c)) {
                return Malformed("truncated bucket");
            }
            if (j == 0) {
                index = UnZigZag(raw);
                first_index = index;
            } else {
                if (raw > static_cast<uint64_t>(kMaxBucketsPerSign)) {
                    return Malformed("bucket window wider than the cap");
                }
                index += static_cast<int64_t>(raw) + 1;
            }
            if (index < kMinIndex || index > kMaxIndex) {
                return Malformed("bucket index out of range");
            }
            if (index - first_index >= kMaxBucketsPerSign) {
                return Malformed("bucket window wider than the cap");
            }
            if (c == 0) {
                return Malformed("empty bucket");
            }
            if (total + c < total) {
                return Malformed("bucket counts overflow");
            }
            total += c;
            store->Add(static_cast<int32_t>(index), c);
        }
    }
    if (!in.AtEnd()) {
        return Malformed("trailing bytes");
    }
    if (total != s.count_) {
        return Malformed("bucket counts do not add up to count");
    }
    if (s.count_ > 0) {
        if (!std::isfinite(s.min_) || !std::isfinite(s.max_) || s.min_ > s.max_) {
            return Malformed("bad min/max");
        }
    } else {
        if (s.min_ != std::numeric_limits<double>::infinity() ||
            s.max_ != -std::numeric_limits<double>::infinity()) {
            return Malformed("min/max set on an empty summary");
        }
    }
    return s;
}

nlohmann::json MetricSummary::ToJson() const {
    nlohmann::json j = nlohmann::json::object();
    auto number = [](double v) -> nlohmann::json {
        return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    };
    j["count"] = count_;
    j["sum"] = number(sum_);
    if (count_ == 0) {
        for (const char* key : {"min", "max", "mean", "stddev", "p50", "p90", "p95", "p99"}) {
            j[key] = nullptr;
        }
        return j;
    }
    j["min"] = number(min_);
    j["max"] = number(max_);
    j["mean"] = number(mean());
    j["stddev"] = number(stddev());
    j["p50"] = number(Quantile(0.50));
    j["p90"] = number(Quantile(0.90));
    j["p95"] = number(Quantile(0.95));
    j["p99"] = number(Quantile(0.99));
    return j;
}

}  // namespace lathe::metrics
