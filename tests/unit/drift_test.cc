// Tests for the drift statistics: agreement with Evidently 0.7.23 / scipy 1.17.1 reference numbers
// (from tests/unit/data/drift_reference.py), and the edge cases a user would hit.
#include "metrics/drift.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lathe::metrics {
namespace {

// The generators of drift_reference.py, operation for operation, so the samples are bit-identical.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}

    uint64_t Next() {
        state_ += 0x9E3779B97F4A7C15ULL;
        uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    double Uniform() { return static_cast<double>(Next() >> 11) * 0x1p-53; }

private:
    uint64_t state_;
};

std::vector<double> Normalish(uint64_t seed, int n, double loc, double scale) {
    SplitMix64 rng(seed);
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        double s = 0.0;
        for (int k = 0; k < 12; ++k) {
            s += rng.Uniform();
        }
        s -= 6.0;
        out.push_back(loc + scale * s);
    }
    return out;
}

std::vector<double> Cubed(uint64_t seed, int n, double loc, double scale) {
    std::vector<double> out = Normalish(seed, n, loc, scale);
    for (double& v : out) {
        v = v * v * v;
    }
    return out;
}

std::vector<double> SmallInts(uint64_t seed, int n, int k) {
    SplitMix64 rng(seed);
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(std::floor(rng.Uniform() * k));
    }
    return out;
}

struct KsSfCase {
    int64_t n;
    double d;
    double sf;
};

struct NumericCase {
    const char* name;
    double ks_statistic;
    double ks_p_value;
    double wasserstein;
    double wasserstein_normed;
    double psi;
    double jensen_shannon;
    size_t bins;
};

struct CategoricalCase {
    const char* name;
    double psi;
    double jensen_shannon;
};

// Output of drift_reference.py.
// clang-format off
// scipy 1.17.1, numpy 2.4.6, pandas 3.1.1
constexpr KsSfCase kKsSfCases[] = {
    {1, 0.3, 1.0},
    {1, 0.7, 0.6000000000000001},
    {2, 0.6, 0.32000000000000006},
    {3, 0.5, 0.3333333333333333},
    {5, 0.15, 0.9988},
    {5, 0.3, 0.664},
    {5, 0.45, 0.19399374999999963},
    {5, 0.5, 0.112},
    {5, 0.85, 0.0001518750000000001},
    {50, 0.015, 1.0},
    {50, 0.1, 0.6623112704658186},
    {50, 0.2, 0.03143877776953241},
    {50, 0.35, 5.573523514803185e-06},
    {50, 0.9, 2.0160611902288146e-50},
    {140, 0.0065, 1.0},
    {140, 0.05, 0.8576480297656114},
    {140, 0.1, 0.11353657290090946},
    {140, 0.2, 2.1981563302200222e-05},
    {141, 0.005, 1.0},
    {141, 0.03, 0.9992107601012719},
    {141, 0.09, 0.19156768536655033},
    {141, 0.13, 0.015449346308454497},
    {141, 0.6, 4.550154415759682e-49},
    {171, 0.12, 0.013281389292501312},
    {1000, 0.01, 0.9999496745370611},
    {1000, 0.02, 0.8108971656895577},
    {1000, 0.05, 0.013012074781090332},
    {1000, 0.3, 2.590715705736845e-80},
    {1000, 0.5, 1.064517291557782e-231},
    {10000, 0.002, 0.9999999999991761},
    {10000, 0.005, 0.9628778025204304},
    {10000, 0.02, 0.0006616848639387309},
    {10000, 0.1, 1.6633113315950355e-87},
    {10000, 0.15, 6.919863759782816e-197},
    {10000, 0.2, 0.0},
    {100000, 0.0005, 1.0},
    {100000, 0.002, 0.8178408363081542},
    {100000, 0.006, 0.0014871489301131564},
    {100001, 0.0004, 1.0},
    {500000, 0.001, 0.6989801443663661},
    {500000, 0.0025, 0.0038544560212235442},
    {2000000, 0.0005, 0.6991771101944894},
    {2000000, 0.0012, 0.006297183259583361},
};
constexpr NumericCase kNumericCases[] = {
    // Evidently's own KS p-value (ks_2samp method='auto'): 9.877096267208374e-06
    {"shifted", 0.18750000000000006, 9.768118569671329e-06, 0.4834651981963614,
     0.4945717533156348, 0.4737166071056149, 0.20359690404097383, 11},
    // Evidently's own KS p-value (ks_2samp method='auto'): 0.5873663621864819
    {"same_distribution", 0.07199999999999998, 0.5873317200556398, 0.11773653325889123,
     0.11218260012865487, 0.11771397876717588, 0.11275438920018369, 10},
    // Evidently's own KS p-value (ks_2samp method='auto'): 1.400522600533437e-05
    {"discrete", 0.1685714285714286, 1.3812432505292257e-05, 1.0785714285714287,
     0.3823399446026343, 1.1930175124414175, 0.2561963754495263, 12},
    // Evidently's own KS p-value (ks_2samp method='auto'): 3.504796121063051e-05
    {"large", 0.04212499999999997, 3.5046278858643285e-05, 0.16689495223188366,
     0.08466789183847935, 0.011019118592930689, 0.03855862982767201, 15},
    // Evidently's own KS p-value (ks_2samp method='auto'): 0.0004984167101168975
    {"heavy_tail", 0.17145833333333338, 0.0005123370455118934, 0.6705236013425068,
     0.22263728016715892, 0.133913928166287, 0.10537646099621326, 11},
};
constexpr CategoricalCase kCategoricalCases[] = {
    {"unseen_categories", 1.9187733008112444, 0.32989564656918036},
    {"many_categories", 3.1418323124866294, 0.529794557947462},
    {"empty_string_category", 0.37582889054861035, 0.21494378144415688},
};
// clang-format on

std::pair<std::vector<double>, std::vector<double>> NumericSamples(std::string_view name) {
    if (name == "shifted") {
        return {Normalish(1, 400, 0.0, 1.0), Normalish(2, 300, 0.3, 1.2)};
    }
    if (name == "same_distribution") {
        return {Normalish(3, 250, 0.0, 1.0), Normalish(4, 200, 0.0, 1.0)};
    }
    if (name == "discrete") {
        return {SmallInts(5, 500, 10), SmallInts(6, 350, 12)};
    }
    if (name == "large") {
        return {Normalish(7, 5000, 10.0, 2.0), Normalish(8, 8000, 10.1, 2.0)};
    }
    if (name == "heavy_tail") {
        return {Cubed(9, 300, 0.0, 1.0), Cubed(10, 256, 0.2, 1.0)};
    }
    ADD_FAILURE() << "no sample named " << name;
    return {};
}

std::vector<std::string> Repeat(const std::vector<std::pair<std::string, int>>& counts) {
    std::vector<std::string> out;
    for (const auto& [category, count] : counts) {
        out.insert(out.end(), static_cast<size_t>(count), category);
    }
    return out;
}

std::pair<std::vector<std::string>, std::vector<std::string>> CategoricalSamples(
    std::string_view name) {
    if (name == "unseen_categories") {
        return {Repeat({{"a", 50}, {"b", 80}, {"c", 100}, {"d", 60}, {"e", 10}}),
                Repeat({{"b", 40}, {"c", 90}, {"d", 70}, {"e", 30}, {"f", 15}, {"g", 5}})};
    }
    if (name == "many_categories") {
        std::vector<std::pair<std::string, int>> reference;
        std::vector<std::pair<std::string, int>> current;
        for (int i = 0; i < 200; ++i) {
            reference.push_back({std::string("k").append(std::to_string(i)), i % 7 + 1});
        }
        for (int i = 50; i < 260; ++i) {
            current.push_back({std::string("k").append(std::to_string(i)), (i * 3) % 5});
        }
        return {Repeat(reference), Repeat(current)};
    }
    if (name == "empty_string_category") {
        return {Repeat({{"", 30}, {"x", 70}}), Repeat({{"", 60}, {"x", 40}})};
    }
    ADD_FAILURE() << "no sample named " << name;
    return {};
}

// |actual - expected| <= tolerance * |expected|, with both numbers in the failure message.
::testing::AssertionResult Near(double actual, double expected, double tolerance) {
    if (std::abs(actual - expected) <= tolerance * std::abs(expected)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "actual " << testing::PrintToString(actual) << " expected "
           << testing::PrintToString(expected) << " (relative error "
           << std::abs(actual - expected) / std::abs(expected) << ")";
}

const double kSqrtLn2 = std::sqrt(std::numbers::ln2);

TEST(DriftKolmogorovSf, MatchesScipyKstwoOnEveryBranch) {
    for (const KsSfCase& c : kKsSfCases) {
        EXPECT_TRUE(Near(KolmogorovSmirnovSf(c.n, c.d), c.sf, 1e-12))
            << "n=" << c.n << " d=" << c.d;
    }
    EXPECT_TRUE(std::isnan(KolmogorovSmirnovSf(0, 0.5)));
    EXPECT_EQ(KolmogorovSmirnovSf(10, 0.0), 1.0);
    EXPECT_EQ(KolmogorovSmirnovSf(10, 1.0), 0.0);
}

// The bound is 1e-12 relative; the largest error seen is ~1e-14 (KS p-value through Pomeranz'
// recursion). KS D, PSI and the std behind the normed Wasserstein reproduce numpy's arithmetic and
// summation order and usually agree to the bit; what is left comes from summation order we do not
// reproduce (scipy's Wasserstein is a BLAS dot product, Evidently orders categories by Python set
// order) and from evaluating the Smirnov sum in long double where scipy uses double-double.
TEST(DriftNumeric, MatchesEvidentlyAndScipy) {
    for (const NumericCase& c : kNumericCases) {
        SCOPED_TRACE(c.name);
        auto [reference, current] = NumericSamples(c.name);
        Result<NumericDrift> drift = NumericDriftOf(reference, current);
        ASSERT_TRUE(drift.has_value()) << drift.error().message;
        EXPECT_EQ(drift->reference_count, reference.size());
        EXPECT_EQ(drift->current_count, current.size());
        EXPECT_TRUE(Near(drift->ks_statistic, c.ks_statistic, 1e-12));
        EXPECT_TRUE(Near(drift->ks_p_value, c.ks_p_value, 1e-12));
        EXPECT_TRUE(Near(drift->wasserstein, c.wasserstein, 1e-12));
        EXPECT_TRUE(Near(drift->wasserstein_normed, c.wasserstein_normed, 1e-12));
        EXPECT_TRUE(Near(drift->psi, c.psi, 1e-12));
        EXPECT_TRUE(Near(drift->jensen_shannon, c.jensen_shannon, 1e-12));
        EXPECT_EQ(drift->reference_shares.size(), c.bins);
        EXPECT_EQ(drift->current_shares.size(), c.bins);

        DriftThresholds defaults;
        EXPECT_EQ(drift->ks_drifted, c.ks_p_value <= defaults.ks_p_value);
        EXPECT_EQ(drift->psi_drifted, c.psi >= defaults.psi);
        EXPECT_EQ(drift->jensen_shannon_drifted, c.jensen_shannon >= defaults.jensen_shannon);
        EXPECT_EQ(drift->wasserstein_drifted, c.wasserstein_normed >= defaults.wasserstein_normed);
    }
}

TEST(DriftNumeric, BinsFewDistinctValuesByValue) {
    auto [reference, current] = NumericSamples("discrete");
    Result<NumericDrift> drift = NumericDriftOf(reference, current);
    ASSERT_TRUE(drift.has_value());
    EXPECT_EQ(drift->binning, NumericBinning::kDistinctValues);
    EXPECT_TRUE(drift->bin_edges.empty());
    ASSERT_EQ(drift->bin_values.size(), 12u);
    for (size_t i = 0; i < 12; ++i) {
        EXPECT_EQ(drift->bin_values[i], static_cast<double>(i));
    }
    // 10 and 11 only occur in the current sample.
    EXPECT_EQ(drift->reference_shares[10], 0.0);
    EXPECT_EQ(drift->reference_shares[11], 0.0);
    EXPECT_GT(drift->current_shares[11], 0.0);
    EXPECT_TRUE(std::isfinite(drift->psi));
}

TEST(DriftNumeric, BinsManyDistinctValuesBySturgesHistogram) {
    auto [reference, current] = NumericSamples("shifted");
    Result<NumericDrift> drift = NumericDriftOf(reference, current);
    ASSERT_TRUE(drift.has_value());
    EXPECT_EQ(drift->binning, NumericBinning::kSturgesHistogram);
    // Sturges: ceil(log2(700) + 1) = 11 bins spanning the combined range exactly.
    ASSERT_EQ(drift->bin_edges.size(), 12u);
    double lo = std::min(*std::min_element(reference.begin(), reference.end()),
                         *std::min_element(current.begin(), current.end()));
    double hi = std::max(*std::max_element(reference.begin(), reference.end()),
                         *std::max_element(current.begin(), current.end()));
    EXPECT_EQ(drift->bin_edges.front(), lo);
    EXPECT_EQ(drift->bin_edges.back(), hi);
    double reference_total = 0;
    double current_total = 0;
    for (size_t i = 0; i < drift->reference_shares.size(); ++i) {
        reference_total += drift->reference_shares[i];
        current_total += drift->current_shares[i];
    }
    EXPECT_NEAR(reference_total, 1.0, 1e-12);
    EXPECT_NEAR(current_total, 1.0, 1e-12);
}

TEST(DriftNumeric, IdenticalSamplesShowNoDrift) {
    for (std::string_view name : {"shifted", "discrete"}) {
        SCOPED_TRACE(std::string(name));
        std::vector<double> sample = NumericSamples(name).first;
        Result<NumericDrift> drift = NumericDriftOf(sample, sample);
        ASSERT_TRUE(drift.has_value());
        EXPECT_EQ(drift->ks_statistic, 0.0);
        EXPECT_EQ(drift->ks_p_value, 1.0);
        EXPECT_EQ(drift->wasserstein, 0.0);
        EXPECT_EQ(drift->wasserstein_normed, 0.0);
        EXPECT_EQ(drift->psi, 0.0);
        EXPECT_EQ(drift->jensen_shannon, 0.0);
        EXPECT_FALSE(drift->ks_drifted || drift->wasserstein_drifted || drift->psi_drifted ||
                     drift->jensen_shannon_drifted);
    }
}

TEST(DriftNumeric, DisjointSamplesSaturate) {
    std::vector<double> reference = Normalish(11, 300, 0.0, 1.0);
    std::vector<double> current = Normalish(12, 200, 1000.0, 1.0);
    Result<NumericDrift> drift = NumericDriftOf(reference, current);
    ASSERT_TRUE(drift.has_value());
    EXPECT_EQ(drift->ks_statistic, 1.0);
    EXPECT_EQ(drift->ks_p_value, 0.0);
    EXPECT_GT(drift->wasserstein_normed, 900.0);
    EXPECT_NEAR(drift->jensen_shannon, kSqrtLn2, 1e-12);
    EXPECT_GT(drift->psi, 10.0);
    EXPECT_TRUE(drift->ks_drifted && drift->wasserstein_drifted && drift->psi_drifted &&
                drift->jensen_shannon_drifted);
}

TEST(DriftNumeric, EmptyOrAllNonFiniteSampleIsAnError) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> some = {1.0, 2.0, 3.0};
    for (auto [reference, current] :
         std::vector<std::pair<std::vector<double>, std::vector<double>>>{
             {{}, some}, {some, {}}, {{nan, inf, -inf}, some}, {some, {nan}}}) {
        Result<NumericDrift> drift = NumericDriftOf(reference, current);
        ASSERT_FALSE(drift.has_value());
        EXPECT_EQ(drift.error().code, ErrorCode::kBadRequest);
        EXPECT_NE(drift.error().message.find("sample"), std::string::npos);
    }
}

TEST(DriftNumeric, NonFiniteValuesAreDropped) {
    auto [reference, current] = NumericSamples("shifted");
    Result<NumericDrift> clean = NumericDriftOf(reference, current);
    reference.insert(reference.begin() + 7, std::numeric_limits<double>::quiet_NaN());
    current.push_back(std::numeric_limits<double>::infinity());
    current.insert(current.begin(), -std::numeric_limits<double>::infinity());
    Result<NumericDrift> dirty = NumericDriftOf(reference, current);
    ASSERT_TRUE(clean.has_value() && dirty.has_value());
    EXPECT_EQ(dirty->reference_count, 400u);
    EXPECT_EQ(dirty->current_count, 300u);
    EXPECT_EQ(dirty->ks_p_value, clean->ks_p_value);
    EXPECT_EQ(dirty->wasserstein_normed, clean->wasserstein_normed);
    EXPECT_EQ(dirty->psi, clean->psi);
    EXPECT_EQ(dirty->jensen_shannon, clean->jensen_shannon);
}

// Evidently reports drift when psi >= threshold, js >= threshold, normed wasserstein >= threshold
// and p-value <= threshold: a value exactly at the threshold counts as drift.
TEST(DriftNumeric, ThresholdsAreInclusiveLikeEvidently) {
    auto [reference, current] = NumericSamples("same_distribution");
    Result<NumericDrift> base = NumericDriftOf(reference, current);
    ASSERT_TRUE(base.has_value());
    DriftThresholds at{base->psi, base->ks_p_value, base->jensen_shannon, base->wasserstein_normed};
    Result<NumericDrift> on_threshold = NumericDriftOf(reference, current, at);
    ASSERT_TRUE(on_threshold.has_value());
    EXPECT_TRUE(on_threshold->psi_drifted);
    EXPECT_TRUE(on_threshold->ks_drifted);
    EXPECT_TRUE(on_threshold->jensen_shannon_drifted);
    EXPECT_TRUE(on_threshold->wasserstein_drifted);

    DriftThresholds past{std::nextafter(base->psi, 1.0), std::nextafter(base->ks_p_value, 0.0),
                         std::nextafter(base->jensen_shannon, 1.0),
                         std::nextafter(base->wasserstein_normed, 1.0)};
    Result<NumericDrift> below = NumericDriftOf(reference, current, past);
    ASSERT_TRUE(below.has_value());
    EXPECT_FALSE(below->psi_drifted);
    EXPECT_FALSE(below->ks_drifted);
    EXPECT_FALSE(below->jensen_shannon_drifted);
    EXPECT_FALSE(below->wasserstein_drifted);

    // The defaults: this pair of samples from one distribution must not be flagged by KS.
    EXPECT_FALSE(base->ks_drifted);
}

TEST(DriftNumeric, MillionValueSamplesAreFast) {
    std::vector<double> reference = Normalish(21, 1'000'000, 0.0, 1.0);
    std::vector<double> current = Normalish(22, 1'000'000, 0.0, 1.0);
    auto start = std::chrono::steady_clock::now();
    Result<NumericDrift> drift = NumericDriftOf(std::move(reference), std::move(current));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(drift.has_value());
    RecordProperty("seconds", std::to_string(seconds));
    // Not a benchmark: the bound only catches an accidentally quadratic step (minutes at 1e6).
    EXPECT_LT(seconds, 10.0);
    EXPECT_LT(drift->ks_statistic, 0.01);
    EXPECT_GT(drift->ks_p_value, 0.0);
    EXPECT_LT(drift->psi, 0.01);
    EXPECT_FALSE(drift->psi_drifted);
}

TEST(DriftCategorical, MatchesEvidently) {
    for (const CategoricalCase& c : kCategoricalCases) {
        SCOPED_TRACE(c.name);
        auto [reference, current] = CategoricalSamples(c.name);
        Result<CategoricalDrift> drift = CategoricalDriftOf(reference, current);
        ASSERT_TRUE(drift.has_value()) << drift.error().message;
        // Evidently sums over categories in Python set order, we in sorted order.
        EXPECT_TRUE(Near(drift->psi, c.psi, 1e-12));
        EXPECT_TRUE(Near(drift->jensen_shannon, c.jensen_shannon, 1e-12));
        EXPECT_EQ(drift->psi_drifted, c.psi >= 0.1);
        EXPECT_EQ(drift->jensen_shannon_drifted, c.jensen_shannon >= 0.1);
    }
}

TEST(DriftCategorical, ReportsSharesOverTheUnionOfCategories) {
    auto [reference, current] = CategoricalSamples("unseen_categories");
    Result<CategoricalDrift> drift = CategoricalDriftOf(reference, current);
    ASSERT_TRUE(drift.has_value());
    ASSERT_EQ(drift->categories.size(), 7u);
    EXPECT_EQ(drift->reference_count, 300u);
    EXPECT_EQ(drift->current_count, 250u);
    const std::string names = "abcdefg";
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(drift->categories[i].category, std::string(1, names[i]));
    }
    EXPECT_EQ(drift->categories[0].reference_share, 50.0 / 300);  // "a": reference only
    EXPECT_EQ(drift->categories[0].current_share, 0.0);
    EXPECT_EQ(drift->categories[5].reference_share, 0.0);  // "f": current only
    EXPECT_EQ(drift->categories[5].current_share, 15.0 / 250);
    EXPECT_TRUE(std::isfinite(drift->psi));
    EXPECT_TRUE(drift->psi_drifted);
}

TEST(DriftCategorical, IdenticalAndDisjointSamples) {
    std::vector<std::string> sample = Repeat({{"red", 3}, {"green", 5}, {"", 2}});
    Result<CategoricalDrift> same = CategoricalDriftOf(sample, sample);
    ASSERT_TRUE(same.has_value());
    EXPECT_EQ(same->psi, 0.0);
    EXPECT_EQ(same->jensen_shannon, 0.0);
    EXPECT_FALSE(same->psi_drifted || same->jensen_shannon_drifted);

    Result<CategoricalDrift> disjoint =
        CategoricalDriftOf(sample, Repeat({{"blue", 4}, {"yellow", 1}}));
    ASSERT_TRUE(disjoint.has_value());
    EXPECT_NEAR(disjoint->jensen_shannon, kSqrtLn2, 1e-12);
    EXPECT_GT(disjoint->psi, 10.0);
    EXPECT_TRUE(disjoint->psi_drifted && disjoint->jensen_shannon_drifted);
}

TEST(DriftCategorical, EmptySampleIsAnError) {
    std::vector<std::string> some = {"a", "b"};
    for (auto [reference, current] :
         std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>{{{}, some},
                                                                                    {some, {}}}) {
        Result<CategoricalDrift> drift = CategoricalDriftOf(reference, current);
        ASSERT_FALSE(drift.has_value());
        EXPECT_EQ(drift.error().code, ErrorCode::kBadRequest);
    }
}

}  // namespace
}  // namespace lathe::metrics
