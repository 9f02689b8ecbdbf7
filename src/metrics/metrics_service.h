// The metrics service: opens the metrics store, runs the prediction writer (group commit) and the
// rollup/retention thread, and turns a replica's RESULT meta into a prediction record.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "metrics/metrics_store.h"
#include "metrics/prediction_writer.h"

namespace lathe::metrics {

struct MetricsOptions {
    std::filesystem::path path;  // the SQLite file, <data-dir>/metrics.db
    bool synchronous_full = false;
    RetentionPolicy retention;
    WriterOptions writer;
    std::chrono::milliseconds rollup_interval{10'000};
};

struct RollupCounters {
    std::uint64_t runs = 0;
    std::uint64_t predictions_rolled = 0;
    std::uint64_t delayed_rolled = 0;
    std::uint64_t raw_deleted = 0;
    std::uint64_t failures = 0;
};

// A prediction record from a replica's RESULT meta ({"uuid", "start_ms", "end_ms", "metrics"}).
// Missing fields are filled in (a server-made uuid, the call's times); a meta that is not a
// JSON object, or whose metrics are not an object, is an error.
Result<PredictionRecord> RecordFromMeta(std::string_view meta,
                                        std::int64_t deployment_id,
                                        std::int64_t start_ms,
                                        std::int64_t fn_ns);

class MetricsService {
public:
    static Result<std::unique_ptr<MetricsService>> Open(const MetricsOptions& options,
                                                        const Clock& clock);
    ~MetricsService();  // commits what is queued, stops the threads

    // The series a deployment's predictions go to; idempotent.
    Result<Series> RegisterDeployment(const Series& s);
    // Queues a record (group commit); `done` runs after its commit. False when the queue is
    // full: the caller must answer "busy" and `done` is not called.
    // `ends_tracked_call`: see PredictionWriter::Submit.
    bool Record(PredictionRecord record,
                PredictionWriter::Committed done,
                bool ends_tracked_call = false);

    // Calls of deployments that have sent records are tracked calls (PredictionWriter::
    // BeginTrackedCall): while they run, the writer gathers records into fewer commits.
    // Lock-free; a deployment may share its bit with others (then their calls count too, which
    // only makes commits wait up to the writer's gather_delay).
    bool SendsRecords(std::int64_t deployment_id) const;
    void NoteSendsRecords(std::int64_t deployment_id);

    // See PredictionWriter::SetDeliver.
    void SetDeliver(PredictionWriter::Deliver deliver) { writer_->SetDeliver(std::move(deliver)); }
    MetricsStore& store() { return *store_; }
    PredictionWriter& writer() { return *writer_; }
    const Clock& clock() const { return clock_; }
    const MetricsOptions& options() const { return options_; }

    // Rolls up now (tests, benchmarks); the background thread does it every rollup_interval.
    Result<RollupStats> RollUpNow();
    RollupCounters Rollups() const;
    // Prometheus text for the writer and rollup counters.
    std::string PrometheusText() const;

private:
    MetricsService(const MetricsOptions& options,
                   const Clock& clock,
                   std::unique_ptr<MetricsStore> store);
    void RollupLoop();

    const MetricsOptions options_;
    const Clock& clock_;
    std::unique_ptr<MetricsStore> store_;
    std::unique_ptr<PredictionWriter> writer_;
    static constexpr std::size_t kSenderWords = 256;  // 16,384 bits, by deployment id
    std::array<std::atomic<std::uint64_t>, kSenderWords> senders_{};

    std::mutex rollup_run_mu_;  // one rollup at a time
    mutable std::mutex mu_;     // guards stopping_ and counters_
    std::condition_variable wake_;
    bool stopping_ = false;
    RollupCounters counters_;
    std::thread rollup_thread_;
};

}  // namespace lathe::metrics
