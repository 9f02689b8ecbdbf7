// The serving history: per-minute requests, errors, rejections and latency percentiles of each
// deployment, counted by its replica pool and stored in the metrics store by a background thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "serving/replica_pool.h"
#include "serving/stats.h"

namespace lathe::metrics {
class MetricsStore;
}

namespace lathe::serving {

// One point of a history: a minute's or an hour's calls.
struct ServingPoint {
    std::int64_t t_ms = 0;  // the minute's (hour's) start
    std::int64_t requests = 0;
    std::int64_t errors = 0;
    std::int64_t rejected = 0;
    double p50_ms = 0;
    double p95_ms = 0;
    double p99_ms = 0;
};

class ServingHistory {
public:
    enum class Resolution { kMinute, kHour };

    // Stores into `store` every `flush_every`.
    ServingHistory(metrics::MetricsStore& store,
                   const Clock& clock,
                   std::chrono::milliseconds flush_every);
    ~ServingHistory();
    ServingHistory(const ServingHistory&) = delete;
    ServingHistory& operator=(const ServingHistory&) = delete;

    // Counts the pool's calls from now on; a closed pool is dropped once its counts are stored.
    void Track(std::shared_ptr<ReplicaPool> pool);
    void Start();
    // Stops the thread and stores everything counted.
    void Stop();
    // Stores everything counted so far (the current minute too, merged into its stored row on
    // the next flush): a kill -9 loses at most the calls since the last flush.
    Status Flush();
    // The points of a deployment with from_ms <= start <= to_ms, oldest first, minutes without
    // calls left out: what is stored merged with what is counted in memory. An hour's counts
    // are the sums of its minutes, its percentiles those of all its calls.
    Result<std::vector<ServingPoint>> Read(std::int64_t deployment_id,
                                           std::int64_t from_ms,
                                           std::int64_t to_ms,
                                           Resolution resolution);

private:
    using Key = std::pair<std::int64_t, std::int64_t>;  // deployment, minute
    void Loop();
    Status FlushLocked();

    metrics::MetricsStore& store_;
    const Clock& clock_;
    const std::chrono::milliseconds flush_every_;

    // Held through a flush and a read, so a minute is always either in memory or stored.
    std::mutex mu_;
    std::vector<std::shared_ptr<ReplicaPool>> pools_;
    std::map<Key, MinuteCounts> pending_;  // taken from pools but not stored (the store failed)
    bool stopping_ = false;
    std::condition_variable wake_;
    std::thread thread_;
};

}  // namespace lathe::serving
