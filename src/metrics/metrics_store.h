// The model metrics store's interface: prediction records, delayed metrics, aggregates and their
// per-minute/per-hour rollups, kept apart from the control-plane store so the prediction stream
// can move to another engine (PostgreSQL, a columnar store) without touching anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::metrics {

// One deployment's metrics, with the CRNs that name it in read_metrics answers.
struct Series {
    std::int64_t id = 0;             // the store's own id
    std::int64_t deployment_id = 0;  // the control plane's ids
    std::int64_t project_id = 0;
    std::int64_t model_id = 0;
    std::int64_t build_id = 0;
    std::string model_crn;
    std::string build_crn;
    std::string deployment_crn;
};

// One tracked prediction, as the serving path hands it over.
struct PredictionRecord {
    std::int64_t deployment_id = 0;
    std::string uuid;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    std::string metrics;  // a JSON object's text, already validated
};

// A prediction as read back; `metrics` has the delayed metrics merged in (later keys win).
struct PredictionView {
    const Series* series = nullptr;
    std::string_view uuid;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    std::string_view metrics;
};

struct AggregateView {
    const Series* series = nullptr;
    std::int64_t id = 0;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    std::string_view metrics;
};

// A rollup of one numeric metric over one minute or hour (MetricSummary's JSON).
struct SummaryView {
    const Series* series = nullptr;
    std::int64_t resolution_ms = 0;  // 60000 or 3600000
    std::int64_t bucket_ms = 0;      // start of the minute/hour
    std::string_view metric;
    std::string_view encoded;  // MetricSummary::Encode()
};

struct ReadRange {
    std::vector<std::int64_t> series;  // store ids; empty reads nothing
    std::int64_t start_ms = 0;         // a prediction is in range when start <= its start <= end
    std::int64_t end_ms = 0;
    std::size_t limit = 0;      // predictions at most; 0 = no limit
    std::int64_t after_id = 0;  // a page token: start after this record
    std::int64_t max_id = 0;    // stop after this record (0: no bound)
    bool aggregates = true;     // also read the aggregates (the first page's job)
};

struct ReadStats {
    std::size_t predictions = 0;
    std::size_t aggregates = 0;
    bool truncated = false;          // more predictions than `limit`
    std::int64_t next_after_id = 0;  // when truncated: the next page's after_id
    // Raw records before this time were deleted after their retention; only rollups remain.
    std::int64_t raw_kept_from_ms = 0;
};

// Where a range's predictions lie: an upper bound of how many, and their id bounds.
struct IdSpan {
    std::int64_t first_id = 0;
    std::int64_t last_id = 0;
    std::int64_t rows = 0;  // at most this many (other series' rows in the span are counted)
};

struct DelayedResult {
    Series series;
    std::int64_t prediction_start_ms = 0;
};

// Rollup and retention settings.
struct RetentionPolicy {
    std::int64_t raw_ms = 30LL * 24 * 3600 * 1000;     // raw predictions kept this long
    std::int64_t minute_ms = 90LL * 24 * 3600 * 1000;  // per-minute rollups kept this long
    std::int64_t rollup_lag_ms = 60 * 1000;            // a minute is rolled once this old
};

struct RollupStats {
    std::int64_t predictions_rolled = 0;
    std::int64_t delayed_rolled = 0;
    std::int64_t raw_deleted = 0;
    std::int64_t minutes_deleted = 0;
};

// One minute of a deployment's calls: the serving history behind its request, error and latency
// charts. Serving fills it; the store keeps it beside the rollups, with their retention.
struct ServingMinute {
    std::int64_t deployment_id = 0;  // the control plane's id
    std::int64_t minute_ms = 0;      // the minute's start
    std::int64_t requests = 0;
    std::int64_t errors = 0;
    std::int64_t rejected = 0;
    double p50_ms = 0;
    double p95_ms = 0;
    double p99_ms = 0;
    std::string latency;  // the minute's latency histogram, in its owner's (serving's) encoding
};

class MetricsStore {
public:
    virtual ~MetricsStore() = default;

    // Creates or updates the series of a deployment; returns it with its store id.
    virtual Result<Series> RegisterSeries(const Series& s) = 0;
    virtual Result<std::vector<Series>> FindSeries(std::optional<std::string_view> deployment_crn,
                                                   std::optional<std::string_view> model_crn,
                                                   std::optional<std::string_view> build_crn) = 0;

    // Stores a batch in one transaction, durably before returning. Records of unknown
    // deployments are skipped and counted in `*skipped`. A uuid is not checked for uniqueness
    // (model_metrics makes uuid4s); lookups by uuid find the oldest prediction that has it.
    virtual Status AppendPredictions(std::span<const PredictionRecord> records,
                                     std::size_t* skipped) = 0;
    // The series a stored prediction belongs to; kNotFound when no prediction has the uuid.
    virtual Result<Series> SeriesOfPrediction(std::string_view uuid) = 0;
    // Attaches metrics (a JSON object's text) to a stored prediction; kNotFound if none has
    // that uuid, and nothing is written.
    virtual Result<DelayedResult> AddDelayed(std::string_view uuid,
                                             std::string_view metrics,
                                             std::int64_t now_ms) = 0;
    virtual Result<std::int64_t> AddAggregate(std::int64_t series_id,
                                              std::int64_t start_ms,
                                              std::int64_t end_ms,
                                              std::string_view metrics,
                                              std::int64_t now_ms) = 0;

    // Predictions (oldest start first, delayed metrics merged) and aggregates overlapping the
    // range. The views are valid only during the callback.
    virtual Result<ReadStats> Read(const ReadRange& range,
                                   const std::function<void(const PredictionView&)>& prediction,
                                   const std::function<void(const AggregateView&)>& aggregate) = 0;
    virtual Result<IdSpan> PredictionIdSpan(const ReadRange& range) = 0;
    // Rollups of the range at a resolution, for the named metrics (all when empty).
    virtual Status ReadSummaries(const ReadRange& range,
                                 std::int64_t resolution_ms,
                                 const std::vector<std::string>& metrics,
                                 const std::function<void(const SummaryView&)>& summary) = 0;

    // Brings secondary structures (the uuid index) a step closer to the appends; the writer
    // calls it between batches, after their callers were answered. Bounded work per call.
    virtual Status CatchUp() = 0;
    // Engine housekeeping kept off the append path (SQLite: a passive WAL checkpoint, whose
    // fsync would otherwise stall a commit); called about once a second.
    virtual Status Housekeep() = 0;
    // Stores serving minutes in one transaction, replacing rows of the same deployment and
    // minute. Retention: per-minute rollups' (RetentionPolicy::minute_ms, applied by RollUp).
    virtual Status PutServingMinutes(std::span<const ServingMinute> rows) = 0;
    // A deployment's serving minutes with from_ms <= minute start <= to_ms, oldest first.
    virtual Result<std::vector<ServingMinute>> ReadServingMinutes(std::int64_t deployment_id,
                                                                  std::int64_t from_ms,
                                                                  std::int64_t to_ms) = 0;
    // Rolls up what arrived since the last call and applies retention.
    virtual Result<RollupStats> RollUp(std::int64_t now_ms, const RetentionPolicy& policy) = 0;
};

}  // namespace lathe::metrics
