// The serving history.
#include "serving/stats_history.h"

#include <algorithm>

#include "core/log.h"
#include "metrics/metrics_store.h"

namespace lathe::serving {
namespace {

constexpr std::int64_t kMinuteMs = MinuteAccumulator::kMinuteMs;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
// Minutes kept in memory while the store refuses them (about a week of one busy deployment).
constexpr std::size_t kMaxPending = 10'000;

std::int64_t FloorTo(std::int64_t t, std::int64_t step) {
    std::int64_t q = t / step;
    if (t % step != 0 && t < 0) {
        --q;
    }
    return q * step;
}

void Add(MinuteCounts& into, const MinuteCounts& m) {
    into.requests += m.requests;
    into.errors += m.errors;
    into.rejected += m.rejected;
    into.latency.Merge(m.latency);
}

// A stored row as counts; a histogram that doesn't decode leaves only the stored percentiles.
struct Stored {
    MinuteCounts counts;
    double p50 = 0, p95 = 0, p99 = 0;  // the row's own, used when its histogram is unreadable
    bool histogram = true;
};

Stored FromRow(const metrics::ServingMinute& r) {
    Stored s;
    s.counts.minute_ms = r.minute_ms;
    s.counts.requests = r.requests;
    s.counts.errors = r.errors;
    s.counts.rejected = r.rejected;
    if (auto h = LatencyHistogram::Decode(r.latency)) {
        s.counts.latency = *h;
    } else {
        s.histogram = false;
        s.p50 = r.p50_ms;
        s.p95 = r.p95_ms;
        s.p99 = r.p99_ms;
    }
    return s;
}

}  // namespace

ServingHistory::ServingHistory(metrics::MetricsStore& store,
                               const Clock& clock,
                               std::chrono::milliseconds flush_every)
    : store_(store), clock_(clock), flush_every_(flush_every) {}

ServingHistory::~ServingHistory() {
    Stop();
}

void ServingHistory::Track(std::shared_ptr<ReplicaPool> pool) {
    std::lock_guard lock(mu_);
    pools_.push_back(std::move(pool));
}

void ServingHistory::Start() {
    std::lock_guard lock(mu_);
    if (!thread_.joinable() && !stopping_) {
        thread_ = std::thread([this] { Loop(); });
    }
}

void ServingHistory::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            return;
        }
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
    if (auto st = Flush(); !st) {
        LogWarn("the serving history was not stored at shutdown", {{"error", st.error().message}});
    }
}

void ServingHistory::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        wake_.wait_for(lock, flush_every_, [this] { return stopping_; });
        if (stopping_) {
            break;
        }
        if (auto st = FlushLocked(); !st) {
            LogWarn("the serving history was not stored; retrying at the next flush",
                    {{"error", st.error().message}});
        }
    }
}

Status ServingHistory::Flush() {
    std::lock_guard lock(mu_);
    return FlushLocked();
}

Status ServingHistory::FlushLocked() {
    const std::int64_t now = clock_.NowMs();
    std::vector<MinuteCounts> taken;
    for (auto it = pools_.begin(); it != pools_.end();) {
        auto& pool = *it;
        // Whether it was closed is read before taking, so no call counted after is lost.
        const bool gone = pool->closed() && pool.use_count() == 1;
        taken.clear();
        pool->TakeMinutes(now, /*all=*/true, taken);
        for (auto& m : taken) {
            auto [at, fresh] = pending_.try_emplace(Key{pool->deployment_id(), m.minute_ms});
            if (fresh) {
                at->second.minute_ms = m.minute_ms;
            }
            Add(at->second, m);
        }
        it = gone ? pools_.erase(it) : it + 1;
    }
    if (pending_.empty()) {
        return {};
    }
    // Merge into the stored rows, one read per deployment.
    std::vector<metrics::ServingMinute> rows;
    for (auto it = pending_.begin(); it != pending_.end();) {
        const std::int64_t deployment = it->first.first;
        auto end = it;
        std::int64_t last_minute = it->first.second;
        while (end != pending_.end() && end->first.first == deployment) {
            last_minute = end->first.second;
            ++end;
        }
        ASSIGN_OR_RETURN(auto stored,
                         store_.ReadServingMinutes(deployment, it->first.second, last_minute));
        std::map<std::int64_t, Stored> by_minute;
        for (const auto& r : stored) {
            by_minute.emplace(r.minute_ms, FromRow(r));
        }
        for (; it != end; ++it) {
            MinuteCounts merged = it->second;
            double p50 = 0, p95 = 0, p99 = 0;
            if (auto s = by_minute.find(it->first.second); s != by_minute.end()) {
                Add(merged, s->second.counts);
                if (!s->second.histogram) {
                    p50 = s->second.p50;
                    p95 = s->second.p95;
                    p99 = s->second.p99;
                }
            }
            metrics::ServingMinute row;
            row.deployment_id = deployment;
            row.minute_ms = merged.minute_ms;
            row.requests = merged.requests;
            row.errors = merged.errors;
            row.rejected = merged.rejected;
            row.p50_ms = std::max(p50, merged.latency.Quantile(0.50) / 1000.0);
            row.p95_ms = std::max(p95, merged.latency.Quantile(0.95) / 1000.0);
            row.p99_ms = std::max(p99, merged.latency.Quantile(0.99) / 1000.0);
            row.latency = merged.latency.Encode();
            rows.push_back(std::move(row));
        }
    }
    if (auto st = store_.PutServingMinutes(rows); !st) {
        while (pending_.size() > kMaxPending) {
            pending_.erase(pending_.begin());
        }
        return st;
    }
    pending_.clear();
    return {};
}

Result<std::vector<ServingPoint>> ServingHistory::Read(std::int64_t deployment_id,
                                                       std::int64_t from_ms,
                                                       std::int64_t to_ms,
                                                       Resolution resolution) {
    const std::int64_t step = resolution == Resolution::kHour ? kHourMs : kMinuteMs;
    const std::int64_t from = FloorTo(from_ms, step);
    struct Bucket {
        MinuteCounts counts;
        double p50 = 0, p95 = 0, p99 = 0;  // of stored rows without a readable histogram
    };
    std::map<std::int64_t, Bucket> buckets;
    auto bucket_of = [&](std::int64_t minute_ms) -> Bucket* {
        const std::int64_t t = FloorTo(minute_ms, step);
        if (t < from || t > to_ms) {
            return nullptr;
        }
        Bucket& b = buckets[t];
        b.counts.minute_ms = t;
        return &b;
    };
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto stored, store_.ReadServingMinutes(deployment_id, from, to_ms));
    for (const auto& r : stored) {
        if (Bucket* b = bucket_of(r.minute_ms)) {
            const Stored s = FromRow(r);
            Add(b->counts, s.counts);
            if (!s.histogram) {
                b->p50 = std::max(b->p50, s.p50);
                b->p95 = std::max(b->p95, s.p95);
                b->p99 = std::max(b->p99, s.p99);
            }
        }
    }
    for (const auto& [key, m] : pending_) {
        if (key.first == deployment_id) {
            if (Bucket* b = bucket_of(m.minute_ms)) {
                Add(b->counts, m);
            }
        }
    }
    for (const auto& pool : pools_) {
        if (pool->deployment_id() != deployment_id) {
            continue;
        }
        for (const auto& m : pool->PeekMinutes()) {
            if (Bucket* b = bucket_of(m.minute_ms)) {
                Add(b->counts, m);
            }
        }
    }
    std::vector<ServingPoint> out;
    out.reserve(buckets.size());
    for (const auto& [t, b] : buckets) {
        if (b.counts.requests == 0) {
            continue;
        }
        ServingPoint p;
        p.t_ms = t;
        p.requests = b.counts.requests;
        p.errors = b.counts.errors;
        p.rejected = b.counts.rejected;
        p.p50_ms = std::max(b.p50, b.counts.latency.Quantile(0.50) / 1000.0);
        p.p95_ms = std::max(b.p95, b.counts.latency.Quantile(0.95) / 1000.0);
        p.p99_ms = std::max(b.p99, b.counts.latency.Quantile(0.99) / 1000.0);
        out.push_back(p);
    }
    return out;
}

}  // namespace lathe::serving
