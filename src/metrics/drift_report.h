// Drift reports: per-feature samples gathered from stored predictions' metrics (or a reference
// data file) and the drift of each feature between a reference and a current sample.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/drift.h"

namespace lathe::metrics {

// The values of each feature in one window. A value is numeric (a JSON number, or a CSV field
// that parses as one) or categorical (a string or boolean); a feature with both kinds is treated
// as categorical, numbers written as text.
class FeatureSamples {
public:
    // At most `max_values` values per feature are kept; `truncated()` says when more came.
    explicit FeatureSamples(std::size_t max_values = 2'000'000) : max_values_(max_values) {}

    // Adds the top-level members of a metrics object's JSON text; nested values are skipped.
    void AddMetricsJson(std::string_view text);
    void AddNumber(const std::string& feature, double x);
    void AddCategory(const std::string& feature, std::string value);
    std::size_t records() const { return records_; }
    bool truncated() const { return truncated_; }

    struct Values {
        std::vector<double> numbers;
        std::vector<std::string> categories;
    };
    const std::map<std::string, Values>& features() const { return features_; }

    // Reads a reference data file: CSV with a header row (RFC 4180 quoting), or JSON lines (one
    // object per line) when the name ends in .jsonl/.ndjson/.json. Errors name the line.
    static Result<FeatureSamples> FromFile(const std::filesystem::path& path,
                                           std::size_t max_rows = 2'000'000);

private:
    std::size_t max_values_;
    std::size_t records_ = 0;
    bool truncated_ = false;
    std::map<std::string, Values> features_;
};

// `{"features": [{"name", "kind", "method", "referenceCount", "currentCount", "statistics",
// "drifted", "driftedBy"}, ...], "driftedFeatures": n, "featureCount": n, "thresholds": {...}}`.
// A feature's verdict comes from one method, as Evidently's defaults choose it: numeric with at
// most 1000 values in both samples: Kolmogorov-Smirnov; numeric otherwise: normalized
// Wasserstein; categorical: Jensen-Shannon. Every statistic is reported with its own flag.
// `features` limits the report (all features of the current window when empty).
nlohmann::json DriftReport(const FeatureSamples& reference,
                           const FeatureSamples& current,
                           const std::vector<std::string>& features,
                           const DriftThresholds& thresholds);

}  // namespace lathe::metrics
