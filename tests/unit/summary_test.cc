// Tests for MetricSummary: exact moments, the quantile error bound, merging rollups, the codec.
#include "metrics/summary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace lathe::metrics {
namespace {

constexpr double kAlpha = MetricSummary::kRelativeAccuracy;
constexpr double kQuantiles[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0};

struct Series {
    std::string name;
    std::vector<double> values;
};

std::vector<Series> TestSeries() {
    std::mt19937_64 rng(20240611);
    std::vector<Series> out;
    std::normal_distribution<double> normal(250.0, 40.0);
    std::lognormal_distribution<double> lognormal(0.0, 2.0);
    std::normal_distribution<double> centered(0.0, 100.0);
    std::bernoulli_distribution zero(0.3);

    Series s{"normal", {}};
    for (int i = 0; i < 5000; ++i) {
        s.values.push_back(normal(rng));
    }
    out.push_back(s);
    s = {"lognormal", {}};
    for (int i = 0; i < 5000; ++i) {
        s.values.push_back(lognormal(rng));
    }
    out.push_back(s);
    s = {"mixed_sign", {}};
    for (int i = 0; i < 5000; ++i) {
        s.values.push_back(centered(rng));
    }
    out.push_back(s);
    s = {"mixed_sign_with_zeros", {}};
    for (int i = 0; i < 5000; ++i) {
        s.values.push_back(zero(rng) ? 0.0 : centered(rng));
    }
    out.push_back(s);
    out.push_back({"all_equal", std::vector<double>(1000, 3.7)});
    out.push_back({"single", {42.5}});
    out.push_back({"empty", {}});
    return out;
}

MetricSummary Summarize(const std::vector<double>& values) {
    MetricSummary s;
    for (double v : values) {
        s.Add(v);
    }
    return s;
}

// The documented bound: relative error alpha against the rank-floor(q*(n-1)) value, up to
// floating-point rounding; values counted as zero are off by less than the zero threshold.
::testing::AssertionResult WithinBound(double estimate, double exact) {
    double bound = kAlpha * std::abs(exact) * (1 + 1e-12);
    if (std::abs(exact) < MetricSummary::kZeroThreshold) {
        bound = MetricSummary::kZeroThreshold;
    }
    if (std::abs(estimate - exact) <= bound) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "estimate " << estimate << " exact " << exact << " relative error "
           << std::abs(estimate - exact) / std::abs(exact);
}

double ExactQuantile(std::vector<double> sorted, double q) {
    std::sort(sorted.begin(), sorted.end());
    auto rank = static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)));
    return sorted[rank];
}

void ExpectQuantilesWithinBound(const MetricSummary& summary, const std::vector<double>& values) {
    for (double q : kQuantiles) {
        EXPECT_TRUE(WithinBound(summary.Quantile(q), ExactQuantile(values, q))) << "q=" << q;
    }
}

TEST(SummaryMoments, ExactAgainstRawData) {
    for (const Series& series : TestSeries()) {
        SCOPED_TRACE(series.name);
        MetricSummary s = Summarize(series.values);
        double sum = 0;
        double sum_squares = 0;
        for (double v : series.values) {
            sum += v;
            sum_squares += v * v;
        }
        EXPECT_EQ(s.count(), series.values.size());
        EXPECT_EQ(s.non_finite(), 0u);
        EXPECT_EQ(s.sum(), sum);
        EXPECT_EQ(s.sum_squares(), sum_squares);
        if (series.values.empty()) {
            EXPECT_EQ(s.min(), std::numeric_limits<double>::infinity());
            EXPECT_EQ(s.max(), -std::numeric_limits<double>::infinity());
            EXPECT_TRUE(std::isnan(s.mean()));
            EXPECT_EQ(s.stddev(), 0.0);
            continue;
        }
        EXPECT_EQ(s.min(), *std::min_element(series.values.begin(), series.values.end()));
        EXPECT_EQ(s.max(), *std::max_element(series.values.begin(), series.values.end()));
        double n = static_cast<double>(series.values.size());
        double mean = sum / n;
        double squared_deviations = 0;
        for (double v : series.values) {
            squared_deviations += (v - mean) * (v - mean);
        }
        EXPECT_NEAR(s.mean(), mean, 1e-12 * std::max(1.0, std::abs(mean)));
        EXPECT_NEAR(s.stddev(), std::sqrt(squared_deviations / n),
                    1e-9 * std::max(1.0, std::sqrt(squared_deviations / n)));
    }
}

TEST(SummaryMoments, AllEqualValuesHaveZeroSpread) {
    MetricSummary s = Summarize(std::vector<double>(1000, 3.7));
    EXPECT_EQ(s.mean(), 3.7);
    EXPECT_EQ(s.stddev(), 0.0);
    for (double q : kQuantiles) {
        EXPECT_EQ(s.Quantile(q), 3.7);
    }
}

TEST(SummaryMoments, NonFiniteValuesAreCountedApart) {
    MetricSummary s;
    s.Add(1.0);
    s.Add(std::numeric_limits<double>::quiet_NaN());
    s.Add(std::numeric_limits<double>::infinity());
    s.Add(-std::numeric_limits<double>::infinity());
    s.Add(3.0);
    EXPECT_EQ(s.count(), 2u);
    EXPECT_EQ(s.non_finite(), 3u);
    EXPECT_EQ(s.sum(), 4.0);
    EXPECT_EQ(s.min(), 1.0);
    EXPECT_EQ(s.max(), 3.0);
    EXPECT_EQ(s.stddev(), 1.0);
    EXPECT_EQ(s.Quantile(1.0), 3.0);
}

TEST(SummaryQuantile, WithinRelativeAccuracyOfExactRank) {
    for (const Series& series : TestSeries()) {
        SCOPED_TRACE(series.name);
        MetricSummary s = Summarize(series.values);
        if (series.values.empty()) {
            for (double q : kQuantiles) {
                EXPECT_TRUE(std::isnan(s.Quantile(q)));
            }
            continue;
        }
        ExpectQuantilesWithinBound(s, series.values);
        EXPECT_EQ(s.Quantile(0.0), s.min());
        EXPECT_EQ(s.Quantile(1.0), s.max());
    }
}

TEST(SummaryQuantile, OutOfRangeQIsClampedAndNanQIsNan) {
    MetricSummary s = Summarize({1.0, 2.0, 3.0});
    EXPECT_EQ(s.Quantile(-1.0), 1.0);
    EXPECT_EQ(s.Quantile(7.0), 3.0);
    EXPECT_TRUE(std::isnan(s.Quantile(std::numeric_limits<double>::quiet_NaN())));
}

TEST(SummaryMerge, PerMinutePiecesEqualOneSummary) {
    for (const Series& series : TestSeries()) {
        SCOPED_TRACE(series.name);
        MetricSummary whole = Summarize(series.values);
        // Sixty "minutes" of uneven size, some of them empty, rolled up into one "hour".
        MetricSummary hour;
        size_t begin = 0;
        for (int minute = 0; minute < 60; ++minute) {
            size_t end = minute == 59 ? series.values.size()
                                      : std::min(series.values.size(), begin + minute * 3);
            MetricSummary piece;
            for (size_t i = begin; i < end; ++i) {
                piece.Add(series.values[i]);
            }
            hour.Merge(piece);
            begin = end;
        }
        EXPECT_EQ(hour.count(), whole.count());
        EXPECT_EQ(hour.min(), whole.min());
        EXPECT_EQ(hour.max(), whole.max());
        EXPECT_NEAR(hour.sum(), whole.sum(), 1e-12 * std::max(1.0, std::abs(whole.sum())));
        EXPECT_NEAR(hour.sum_squares(), whole.sum_squares(), 1e-12 * whole.sum_squares());
        if (whole.count() > 0) {
            EXPECT_NEAR(hour.mean(), whole.mean(), 1e-9 * std::max(1.0, std::abs(whole.mean())));
        }
        EXPECT_NEAR(hour.stddev(), whole.stddev(), 1e-9 * std::max(1.0, whole.stddev()));
        // Same buckets, so the same answers, and so within the bound of the raw data.
        for (double q : kQuantiles) {
            if (whole.count() > 0) {
                EXPECT_EQ(hour.Quantile(q), whole.Quantile(q)) << "q=" << q;
            }
        }
        if (!series.values.empty()) {
            ExpectQuantilesWithinBound(hour, series.values);
        }
    }
}

TEST(SummaryMerge, CarriesNonFiniteCountsAndEmptySides) {
    MetricSummary a;
    a.Add(std::numeric_limits<double>::quiet_NaN());
    MetricSummary b = Summarize({5.0, 6.0});
    b.Add(std::numeric_limits<double>::infinity());
    a.Merge(b);
    EXPECT_EQ(a.count(), 2u);
    EXPECT_EQ(a.non_finite(), 2u);
    EXPECT_EQ(a.Quantile(0.0), 5.0);
    a.Merge(MetricSummary());
    EXPECT_EQ(a.count(), 2u);
    EXPECT_EQ(a.non_finite(), 2u);
}

// Values from 1e-300 to 1e300 need ~35,000 buckets per sign at alpha = 1%; the cap keeps 2048 and
// folds the smallest magnitudes together. Counts stay exact, the high tail keeps its accuracy.
TEST(SummaryBuckets, CapHoldsAcrossThe600DecadeRange) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> exponent(-300.0, 300.0);
    std::bernoulli_distribution negative(0.5);
    std::vector<double> values;
    std::vector<double> positives;
    MetricSummary s;
    for (int i = 0; i < 100000; ++i) {
        double v = std::pow(10.0, exponent(rng));
        if (negative(rng)) {
            v = -v;
        } else {
            positives.push_back(v);
        }
        values.push_back(v);
        s.Add(v);
    }
    EXPECT_EQ(s.count(), values.size());
    EXPECT_LE(s.positive_buckets(), MetricSummary::kMaxBucketsPerSign);
    EXPECT_LE(s.negative_buckets(), MetricSummary::kMaxBucketsPerSign);
    // Largest magnitudes on both ends keep the guarantee.
    for (double q : {0.0, 0.001, 0.999, 1.0}) {
        EXPECT_TRUE(WithinBound(s.Quantile(q), ExactQuantile(values, q))) << "q=" << q;
    }
    // Small positives were folded into the lowest kept bucket: overestimated, but still clamped
    // into [min, max].
    double low = s.Quantile(0.5 + 0.01);
    EXPECT_GE(low, s.min());
    EXPECT_LE(low, s.max());

    MetricSummary merged;
    for (size_t begin = 0; begin < values.size(); begin += 1000) {
        MetricSummary piece;
        for (size_t i = begin; i < begin + 1000; ++i) {
            piece.Add(values[i]);
        }
        merged.Merge(piece);
        EXPECT_LE(merged.positive_buckets(), MetricSummary::kMaxBucketsPerSign);
        EXPECT_LE(merged.negative_buckets(), MetricSummary::kMaxBucketsPerSign);
    }
    for (double q : kQuantiles) {
        EXPECT_EQ(merged.Quantile(q), s.Quantile(q)) << "q=" << q;
    }
    Result<MetricSummary> decoded = MetricSummary::Decode(s.Encode());
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(*decoded, s);
}

TEST(SummaryCodec, RoundTripIsEqual) {
    std::vector<MetricSummary> summaries;
    for (const Series& series : TestSeries()) {
        summaries.push_back(Summarize(series.values));
    }
    MetricSummary with_non_finite = Summarize({-0.0, 0.0, 1e-12, -5.5, 1e300});
    with_non_finite.Add(std::numeric_limits<double>::quiet_NaN());
    summaries.push_back(with_non_finite);
    MetricSummary merged = summaries[0];
    merged.Merge(summaries[2]);
    summaries.push_back(merged);
    for (const MetricSummary& s : summaries) {
        std::string blob = s.Encode();
        Result<MetricSummary> decoded = MetricSummary::Decode(blob);
        ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
        EXPECT_EQ(*decoded, s);
        EXPECT_EQ(decoded->Encode(), blob);
        for (double q : kQuantiles) {
            double a = s.Quantile(q);
            double b = decoded->Quantile(q);
            EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b)));
        }
    }
    // Compact: an empty summary is 54 bytes (mostly the six doubles), 5000 normal values < 1 KiB.
    EXPECT_EQ(MetricSummary().Encode().size(), 54u);
    EXPECT_LT(summaries[0].Encode().size(), 1024u);
}

TEST(SummaryCodec, TruncatedInputIsAnError) {
    MetricSummary s = Summarize(TestSeries()[2].values);
    std::string blob = s.Encode();
    for (size_t length = 0; length < blob.size(); ++length) {
        Result<MetricSummary> decoded = MetricSummary::Decode(blob.substr(0, length));
        ASSERT_FALSE(decoded.has_value()) << "prefix of " << length << " bytes";
        EXPECT_EQ(decoded.error().code, ErrorCode::kBadRequest);
    }
    EXPECT_FALSE(MetricSummary::Decode(blob + '\0').has_value());  // trailing byte
}

TEST(SummaryCodec, GarbageNeverCrashes) {
    std::mt19937_64 rng(99);
    MetricSummary s = Summarize(TestSeries()[1].values);
    std::string blob = s.Encode();
    auto exercise = [](const Result<MetricSummary>& decoded) {
        if (decoded.has_value()) {
            // Whatever decodes is a usable summary.
            for (double q : kQuantiles) {
                double v = decoded->Quantile(q);
                EXPECT_TRUE(std::isnan(v) || (v >= decoded->min() && v <= decoded->max()));
            }
            (void)decoded->ToJson().dump();
        } else {
            EXPECT_EQ(decoded.error().code, ErrorCode::kBadRequest);
        }
    };
    for (int trial = 0; trial < 20000; ++trial) {
        std::string garbage(rng() % 200, '\0');
        for (char& c : garbage) {
            c = static_cast<char>(rng());
        }
        if (trial % 2 == 0 && !garbage.empty()) {
            garbage[0] = '\x01';  // past the version check
        }
        exercise(MetricSummary::Decode(garbage));
    }
    for (int trial = 0; trial < 20000; ++trial) {
        std::string mutated = blob;
        for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
            mutated[rng() % mutated.size()] ^= static_cast<char>(1 + rng() % 255);
        }
        exercise(MetricSummary::Decode(mutated));
    }
}

std::string Bytes(std::initializer_list<uint8_t> bytes) {
    return std::string(bytes.begin(), bytes.end());
}

TEST(SummaryCodec, RejectsForgedBuckets) {
    // Version 1, `count`, no non-finite, six doubles of 0.0, no zeros, no negative buckets.
    auto header = [](uint8_t count) {
        return Bytes({1, count, 0}) + std::string(48, '\0') + Bytes({0}) + Bytes({0});
    };
    // One positive bucket far beyond any double (zigzag 2097150 -> index 1048575).
    EXPECT_FALSE(MetricSummary::Decode(header(1) + Bytes({1, 0xfe, 0xff, 0x7f, 1})).has_value());
    // Two buckets 5000 indices apart: wider than the cap, would need a huge dense window.
    EXPECT_FALSE(MetricSummary::Decode(header(2) + Bytes({2, 0, 1, 0x87, 0x27, 1})).has_value());
    // More buckets than the cap (4097).
    EXPECT_FALSE(MetricSummary::Decode(header(1) + Bytes({0x81, 0x20})).has_value());
    // Bucket counts that do not add up to count.
    EXPECT_FALSE(MetricSummary::Decode(header(3) + Bytes({1, 0, 1})).has_value());
    // An empty bucket.
    EXPECT_FALSE(MetricSummary::Decode(header(0) + Bytes({1, 0, 0})).has_value());
    // min > max.
    std::string inverted = Summarize({1.0, 2.0}).Encode();
    std::swap_ranges(inverted.begin() + 19, inverted.begin() + 27, inverted.begin() + 27);
    EXPECT_FALSE(MetricSummary::Decode(inverted).has_value());
    // An eleven-byte varint.
    EXPECT_FALSE(
        MetricSummary::Decode(Bytes({1}) + std::string(10, '\xff') + Bytes({1})).has_value());
    // Unknown version.
    std::string blob = Summarize({1.0}).Encode();
    blob[0] = '\x02';
    EXPECT_FALSE(MetricSummary::Decode(blob).has_value());
    // The same frame with a sane bucket decodes.
    Result<MetricSummary> ok = MetricSummary::Decode(header(1) + Bytes({1, 0, 1}));
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_EQ(ok->count(), 1u);
}

TEST(SummaryJson, FieldsAndNullsForEmpty) {
    nlohmann::json empty = MetricSummary().ToJson();
    EXPECT_EQ(empty["count"], 0);
    EXPECT_EQ(empty["sum"], 0.0);
    for (const char* key : {"min", "max", "mean", "stddev", "p50", "p90", "p95", "p99"}) {
        EXPECT_TRUE(empty.contains(key)) << key;
        EXPECT_TRUE(empty[key].is_null()) << key;
    }

    std::vector<double> values;
    for (int i = 1; i <= 100; ++i) {
        values.push_back(i);
    }
    nlohmann::json j = Summarize(values).ToJson();
    EXPECT_EQ(j.size(), 10u);
    EXPECT_EQ(j["count"], 100);
    EXPECT_EQ(j["sum"], 5050.0);
    EXPECT_EQ(j["min"], 1.0);
    EXPECT_EQ(j["max"], 100.0);
    EXPECT_EQ(j["mean"], 50.5);
    EXPECT_NEAR(j["stddev"].get<double>(), std::sqrt(833.25), 1e-12);
    EXPECT_TRUE(WithinBound(j["p50"].get<double>(), 50.0));
    EXPECT_TRUE(WithinBound(j["p90"].get<double>(), 90.0));
    EXPECT_TRUE(WithinBound(j["p95"].get<double>(), 95.0));
    EXPECT_TRUE(WithinBound(j["p99"].get<double>(), 99.0));
}

}  // namespace
}  // namespace lathe::metrics
