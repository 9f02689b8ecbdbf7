// Data-drift statistics between a reference and a current sample of one feature, as Evidently
// computes them (KS, Wasserstein, PSI, Jensen-Shannon).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace lathe::metrics {

// The level at which each statistic reports drift. Defaults are Evidently's (0.7.x) default
// thresholds, and so is the direction of every comparison, equality included:
//   PSI                        drift when psi >= psi              (default 0.1)
//   Kolmogorov-Smirnov         drift when p-value <= ks_p_value   (default 0.05)
//   Jensen-Shannon distance    drift when distance >= jensen_shannon       (default 0.1)
//   normed Wasserstein         drift when normed distance >= wasserstein_normed (default 0.1)
struct DriftThresholds {
    double psi = 0.1;
    double ks_p_value = 0.05;
    double jensen_shannon = 0.1;
    double wasserstein_normed = 0.1;
};

// How NumericDriftOf binned the data for PSI and Jensen-Shannon (Evidently's get_binned_data):
enum class NumericBinning {
    // The reference has more than 20 distinct values: equal-width bins over the combined
    // (reference + current) range, their number from Sturges' rule on the combined size,
    // exactly numpy.histogram_bin_edges(combined, bins="sturges"). Bin i is
    // [bin_edges[i], bin_edges[i+1]), the last bin also holds its right edge.
    kSturgesHistogram,
    // The reference has at most 20 distinct values: one bin per distinct value of either
    // sample (listed in bin_values), as for categories.
    kDistinctValues,
};

// Drift of a numeric feature. Non-finite values (NaN, +-inf) are dropped first, as Evidently does.
struct NumericDrift {
    size_t reference_count = 0;  // finite values used
    size_t current_count = 0;

    // Two-sample Kolmogorov-Smirnov: D = sup_x |F_ref(x) - F_cur(x)| over the empirical CDFs
    // (0 = same sample, 1 = disjoint), and its two-sided p-value, which is
    // scipy.stats.ks_2samp(reference, current, method="asymp"): the Kolmogorov distribution of
    // D_n (KolmogorovSmirnovSf) at n = round(m*k/(m+k)) for sample sizes m and k (n >= 1; scipy
    // gives NaN for two single values). A small p-value means the samples are unlikely to come
    // from one distribution. Evidently calls ks_2samp with its default method="auto", which is
    // the exact two-sample distribution when both samples have at most 10,000 values; there our
    // p-value differs slightly (by up to 3% relative on the test samples), above 10,000 it is
    // the same computation.
    double ks_statistic = 0.0;
    double ks_p_value = 1.0;
    bool ks_drifted = false;

    // Wasserstein-1 (earth mover's) distance between the empirical distributions, in the
    // feature's units (scipy.stats.wasserstein_distance), and that distance divided by
    // max(std(reference), 0.001), std being the population (ddof=0) standard deviation: how far,
    // in reference standard deviations, the mass moved on average.
    double wasserstein = 0.0;
    double wasserstein_normed = 0.0;
    bool wasserstein_drifted = false;

    // Population Stability Index, sum over bins of (r - c) * ln(r / c) with r, c the reference
    // and current shares of the bin; an empty bin's share is replaced by min(non-zero
    // shares) / 1e6 when that minimum is <= 1e-4, else by 1e-4 (per sample, as Evidently does).
    // Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    double psi = 0.0;
    bool psi_drifted = false;

    // Jensen-Shannon distance on the same bins, natural log, without the empty-bin replacement:
    // sqrt((KL(r || m) + KL(c || m)) / 2) with m = (r + c) / 2, as
    // scipy.spatial.distance.jensenshannon(r, c). 0 = same shares, sqrt(ln 2) ~ 0.8326 = disjoint.
    double jensen_shannon = 0.0;
    bool jensen_shannon_drifted = false;

    // The bins behind psi and jensen_shannon, for charts. Shares are the raw fractions (before
    // the empty-bin replacement) and each sums to 1 up to rounding.
    NumericBinning binning = NumericBinning::kSturgesHistogram;
    std::vector<double> bin_edges;   // kSturgesHistogram: bins + 1 increasing edges
    std::vector<double> bin_values;  // kDistinctValues: the distinct values, increasing
    std::vector<double> reference_shares;
    std::vector<double> current_shares;
};

// One category's share of each sample (0 when absent from that sample).
struct CategoryShare {
    std::string category;
    double reference_share = 0.0;
    double current_share = 0.0;
};

// Drift of a categorical feature. PSI and Jensen-Shannon are computed over the union of the
// categories of both samples, with the definitions above (including PSI's empty-category
// replacement, which is what keeps a category seen in only one sample finite).
struct CategoricalDrift {
    size_t reference_count = 0;
    size_t current_count = 0;
    double psi = 0.0;
    bool psi_drifted = false;
    double jensen_shannon = 0.0;
    bool jensen_shannon_drifted = false;
    std::vector<CategoryShare> categories;  // sorted by category (byte order)
};

// Computes all numeric drift statistics in O(n log n) (the samples are sorted in place, hence
// by value). kBadRequest if either sample has no finite value.
Result<NumericDrift> NumericDriftOf(std::vector<double> reference,
                                    std::vector<double> current,
                                    const DriftThresholds& thresholds = {});

// Computes categorical drift statistics; every string, the empty one included, is a category.
// kBadRequest if either sample is empty.
Result<CategoricalDrift> CategoricalDriftOf(const std::vector<std::string>& reference,
                                            const std::vector<std::string>& current,
                                            const DriftThresholds& thresholds = {});

// P(D_n > d) for the two-sided one-sample Kolmogorov-Smirnov statistic D_n of n observations,
// i.e. scipy.stats.kstwo.sf(d, n), by the same Simard-L'Ecuyer choice of exact and asymptotic
// methods as scipy 1.17. NaN when n < 1.
double KolmogorovSmirnovSf(int64_t n, double d);

}  // namespace lathe::metrics
