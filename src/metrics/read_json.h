// The JSON answers of read_metrics and of chart series, rendered straight from the store (the API
// and the benchmark use the same code).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/metrics_store.h"

namespace lathe::metrics {

inline constexpr std::int64_t kMinuteMs = 60'000;
inline constexpr std::int64_t kHourMs = 3'600'000;

// `{"metrics": [...], "rolledUp": bool, "summaries": [...], "rawKeptFromMs"?, "nextPageToken"?}`.
// Summaries of rolled-up parts come per minute when the window starts after
// `minute_kept_from_ms`, else per hour.
// The answer comes in parts to be sent one after the other (a large one is rendered in halves
// on two threads, and joining them would copy hundreds of megabytes once more).
Result<std::vector<std::string>> ReadMetricsJson(MetricsStore& store,
                                                 const ReadRange& range,
                                                 std::int64_t minute_kept_from_ms);

// `{"<metric>": [{"timeStampMs", "count", "sum", ...}, ...]}` for the range at a resolution,
// merged across its series.
Result<nlohmann::json> MetricSeriesJson(MetricsStore& store,
                                        const ReadRange& range,
                                        std::int64_t resolution_ms,
                                        const std::vector<std::string>& metrics);

}  // namespace lathe::metrics
