// The embedded metrics store: its own SQLite file (WAL) beside the control-plane database, so the
// prediction stream never queues behind control-plane writes or their fsyncs.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics_store.h"

struct sqlite3;

namespace lathe::metrics {

struct SqliteMetricsOptions {
    std::string path;
    // NORMAL: a commit survives a crash of the process (kill -9), not a power cut; FULL also
    // survives power loss at the price of an fsync per commit.
    bool synchronous_full = false;
    int readers = 4;
    std::int64_t rollup_chunk = 20000;  // rows per rollup transaction, to keep writers' waits short
    // The uuid index is brought up to date once this many records are unindexed; lookups scan
    // that tail.
    std::int64_t uuid_index_chunk = 10000;
};

class SqliteMetricsStore final : public MetricsStore {
public:
    static Result<std::unique_ptr<SqliteMetricsStore>> Open(const SqliteMetricsOptions& options);
    ~SqliteMetricsStore() override;

    Result<Series> RegisterSeries(const Series& s) override;
    Result<std::vector<Series>> FindSeries(std::optional<std::string_view> deployment_crn,
                                           std::optional<std::string_view> model_crn,
                                           std::optional<std::string_view> build_crn) override;
    Status AppendPredictions(std::span<const PredictionRecord> records,
                             std::size_t* skipped) override;
    Result<Series> SeriesOfPrediction(std::string_view uuid) override;
    Result<DelayedResult> AddDelayed(std::string_view uuid,
                                     std::string_view metrics,
                                     std::int64_t now_ms) override;
    Result<std::int64_t> AddAggregate(std::int64_t series_id,
                                      std::int64_t start_ms,
                                      std::int64_t end_ms,
                                      std::string_view metrics,
                                      std::int64_t now_ms) override;
    Result<ReadStats> Read(const ReadRange& range,
                           const std::function<void(const PredictionView&)>& prediction,
                           const std::function<void(const AggregateView&)>& aggregate) override;
    Result<IdSpan> PredictionIdSpan(const ReadRange& range) override;
    Status ReadSummaries(const ReadRange& range,
                         std::int64_t resolution_ms,
                         const std::vector<std::string>& metrics,
                         const std::function<void(const SummaryView&)>& summary) override;
    Result<RollupStats> RollUp(std::int64_t now_ms, const RetentionPolicy& policy) override;
    Status PutServingMinutes(std::span<const ServingMinute> rows) override;
    Result<std::vector<ServingMinute>> ReadServingMinutes(std::int64_t deployment_id,
                                                          std::int64_t from_ms,
                                                          std::int64_t to_ms) override;
    Status Housekeep() override;
    Status CatchUp() override;

    class Connection;

private:
    explicit SqliteMetricsStore(SqliteMetricsOptions options);
    // A reader connection for one read, back in the pool when the lease goes.
    struct ReturnReader {
        SqliteMetricsStore* store;
        void operator()(Connection* c) const;
    };
    using ReaderLease = std::unique_ptr<Connection, ReturnReader>;
    ReaderLease AcquireReader();
    void ReleaseReader(Connection* c);
    Result<std::int64_t> SeriesIdOf(std::int64_t deployment_id);        // writer_ held
    Result<std::int64_t> RollChunk(std::int64_t now_ms, bool delayed);  // rows rolled
    Status IndexUuids();                                                // write_mu_ held
    static Result<std::optional<std::pair<std::int64_t, std::int64_t>>> FindPrediction(
        Connection& c, std::string_view uuid);

    SqliteMetricsOptions options_;

    std::mutex write_mu_;  // serializes writes; guards writer_ and series_by_deployment_
    std::unique_ptr<Connection> writer_;
    std::vector<std::pair<std::int64_t, std::int64_t>> series_by_deployment_;  // sorted
    std::int64_t uuid_indexed_until_ = 0;  // the last prediction id in prediction_uuids
    std::int64_t last_prediction_id_ = 0;  // the newest prediction appended

    std::mutex checkpoint_mu_;  // guards checkpointer_
    std::unique_ptr<Connection> checkpointer_;

    std::mutex read_mu_;  // guards idle_readers_
    std::condition_variable reader_free_;
    std::vector<std::unique_ptr<Connection>> readers_;
    std::vector<Connection*> idle_readers_;
};

}  // namespace lathe::metrics
