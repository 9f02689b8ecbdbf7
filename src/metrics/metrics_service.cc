// The metrics service's wiring: store + writer + the periodic rollup, and replica meta parsing.
#include "metrics/metrics_service.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/crypto.h"
#include "core/log.h"
#include "metrics/json_text.h"
#include "metrics/sqlite_metrics_store.h"

namespace lathe::metrics {

using json = nlohmann::json;

namespace {

// The common case, without building a DOM: our worker's compact
// {"uuid":"...","start_ms":N,"metrics":{...},"end_ms":N}. The metrics text is kept as sent once
// it is checked to be a valid, compact JSON object. nullopt: take the general path.
std::optional<PredictionRecord> FastRecord(std::string_view meta,
                                           std::int64_t deployment_id,
                                           std::int64_t start_ms,
                                           std::int64_t fn_ns) {
    thread_local std::vector<std::pair<std::string_view, std::string_view>> members;
    members.clear();
    if (!ScanMembers(meta, members)) {
        return std::nullopt;
    }
    PredictionRecord r;
    r.deployment_id = deployment_id;
    r.start_ms = start_ms;
    r.end_ms = start_ms + fn_ns / 1'000'000;
    bool have_metrics = false;
    for (const auto& [key, value] : members) {
        if (key == "\"uuid\"") {
            // A plain string: no escapes, at most 128 characters.
            if (value.size() < 3 || value.size() > 130 || value.front() != '"' ||
                value.back() != '"' ||
                value.substr(1, value.size() - 2).find_first_of("\\\"") != std::string_view::npos) {
                return std::nullopt;
            }
            r.uuid = std::string(value.substr(1, value.size() - 2));
        } else if (key == "\"start_ms\"" || key == "\"end_ms\"") {
            std::int64_t v = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec != std::errc() || end != value.data() + value.size()) {
                return std::nullopt;
            }
            (key == "\"start_ms\"" ? r.start_ms : r.end_ms) = v;
        } else if (key == "\"metrics\"") {
            if (value.empty() || value.front() != '{' || !IsCompactJson(value) ||
                !json::accept(value)) {
                return std::nullopt;
            }
            r.metrics = std::string(value);
            have_metrics = true;
        } else {
            return std::nullopt;
        }
    }
    if (r.uuid.empty()) {
        r.uuid = RandomUuid();
    }
    if (!have_metrics) {
        r.metrics = "{}";
    }
    return r;
}

}  // namespace

Result<PredictionRecord> RecordFromMeta(std::string_view meta,
                                        std::int64_t deployment_id,
                                        std::int64_t start_ms,
                                        std::int64_t fn_ns) {
    if (auto fast = FastRecord(meta, deployment_id, start_ms, fn_ns)) {
        return std::move(*fast);
    }
    json j = json::parse(meta, nullptr, false);
    if (!j.is_object()) {
        return MakeError(ErrorCode::kBadRequest, "the replica's metrics are not a JSON object");
    }
    PredictionRecord r;
    r.deployment_id = deployment_id;
    if (auto it = j.find("uuid"); it != j.end() && it->is_string() &&
                                  !it->get_ref<const std::string&>().empty() &&
                                  it->get_ref<const std::string&>().size() <= 128) {
        r.uuid = it->get<std::string>();
    } else {
        r.uuid = RandomUuid();
    }
    auto int_of = [&](const char* key, std::int64_t fallback) {
        auto it = j.find(key);
        return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
    };
    r.start_ms = int_of("start_ms", start_ms);
    r.end_ms = int_of("end_ms", start_ms + fn_ns / 1'000'000);
    if (auto it = j.find("metrics"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) {
            return MakeError(ErrorCode::kBadRequest, "the replica's metrics are not an object");
        }
        r.metrics = it->dump();
    } else {
        r.metrics = "{}";
    }
    return r;
}

MetricsService::MetricsService(const MetricsOptions& options,
                               const Clock& clock,
                               std::unique_ptr<MetricsStore> store)
    : options_(options), clock_(clock), store_(std::move(store)) {
    writer_ = std::make_unique<PredictionWriter>(*store_, options_.writer);
    rollup_thread_ = std::thread([this] { RollupLoop(); });
}

Result<std::unique_ptr<MetricsService>> MetricsService::Open(const MetricsOptions& options,
                                                             const Clock& clock) {
    SqliteMetricsOptions sqlite;
    sqlite.path = options.path.string();
    sqlite.synchronous_full = options.synchronous_full;
    ASSIGN_OR_RETURN(auto store, SqliteMetricsStore::Open(sqlite));
    return std::unique_ptr<MetricsService>(new MetricsService(options, clock, std::move(store)));
}

MetricsService::~MetricsService() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (rollup_thread_.joinable()) {
        rollup_thread_.join();
    }
    writer_.reset();  // commits what is queued
}

Result<Series> MetricsService::RegisterDeployment(const Series& s) {
    return store_->RegisterSeries(s);
}

bool MetricsService::Record(PredictionRecord record,
                            PredictionWriter::Committed done,
                            bool ends_tracked_call) {
    return writer_->Submit(std::move(record), std::move(done), ends_tracked_call);
}

bool MetricsService::SendsRecords(std::int64_t deployment_id) const {
    const auto bit = static_cast<std::uint64_t>(deployment_id) % (kSenderWords * 64);
    return (senders_[bit / 64].load(std::memory_order_relaxed) >> (bit % 64)) & 1;
}

void MetricsService::NoteSendsRecords(std::int64_t deployment_id) {
    const auto bit = static_cast<std::uint64_t>(deployment_id) % (kSenderWords * 64);
    senders_[bit / 64].fetch_or(std::uint64_t{1} << (bit % 64), std::memory_order_relaxed);
}

Result<RollupStats> MetricsService::RollUpNow() {
    std::lock_guard run(rollup_run_mu_);
    auto stats = store_->RollUp(clock_.NowMs(), options_.retention);
    std::lock_guard lock(mu_);
    ++counters_.runs;
    if (!stats) {
        ++counters_.failures;
        return stats;
    }
    counters_.predictions_rolled += stats->predictions_rolled;
    counters_.delayed_rolled += stats->delayed_rolled;
    counters_.raw_deleted += stats->raw_deleted;
    return stats;
}

RollupCounters MetricsService::Rollups() const {
    std::lock_guard lock(mu_);
    return counters_;
}

void MetricsService::RollupLoop() {
    auto next_rollup = std::chrono::steady_clock::now() + options_.rollup_interval;
    while (true) {
        {
            std::unique_lock lock(mu_);
            if (wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
                return;
            }
        }
        if (auto st = store_->Housekeep(); !st) {
            LogWarn("metrics store housekeeping failed", {{"error", st.error().message}});
        }
        if (std::chrono::steady_clock::now() < next_rollup) {
            continue;
        }
        next_rollup = std::chrono::steady_clock::now() + options_.rollup_interval;
        if (auto st = RollUpNow(); !st) {
            LogWarn("metrics rollup failed", {{"error", st.error().message}});
        }
    }
}

std::string MetricsService::PrometheusText() const {
    const WriterCounters w = writer_->Counters();
    const RollupCounters r = Rollups();
    std::string out;
    auto counter = [&](const char* name, const char* help, std::uint64_t v, const char* type) {
        out += "# HELP ";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ";
        out += name;
        out += ' ';
        out += type;
        out += '\n';
        out += name;
        out += ' ';
        out += std::to_string(v);
        out += '\n';
    };
    counter("lathe_metrics_records_committed_total", "Prediction records stored.", w.committed,
            "counter");
    counter("lathe_metrics_records_skipped_total",
            "Prediction records not stored because their deployment has no metrics series.",
            w.skipped, "counter");
    counter("lathe_metrics_records_refused_total",
            "Prediction records refused because the writer's queue was full (back-pressure: the "
            "call was answered 503 with Retry-After; nothing is dropped silently).",
            w.rejected, "counter");
    counter("lathe_metrics_records_failed_total",
            "Prediction records whose commit failed (the call was answered 503).", w.failed,
            "counter");
    counter("lathe_metrics_commits_total", "Group commits of prediction records.", w.batches,
            "counter");
    counter("lathe_metrics_queue_records", "Prediction records waiting for the writer.", w.queued,
            "gauge");
    counter("lathe_metrics_commit_max_microseconds", "The longest group commit so far.",
            w.commit_us_max, "gauge");
    counter("lathe_metrics_rollup_runs_total", "Rollup passes.", r.runs, "counter");
    counter("lathe_metrics_rollup_failures_total", "Rollup passes that failed.", r.failures,
            "counter");
    counter("lathe_metrics_raw_deleted_total", "Raw prediction records deleted after retention.",
            r.raw_deleted, "counter");
    return out;
}

}  // namespace lathe::metrics
