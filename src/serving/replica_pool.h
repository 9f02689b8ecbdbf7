// One deployment's router: a bounded queue, the replicas connected to it, least-outstanding
// dispatch, pipelining, dynamic batching, timeouts, health pings and retries of lost calls.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serving/frame.h"
#include "serving/stats.h"

namespace lathe::serving {

// How one call ended.
struct CallOutcome {
    int status = 200;  // 200 answered; 500 the function raised; 502 replica lost; 504 timed out;
                       // 429 busy; 503 nothing to serve it
    std::string body;  // 200: response JSON; 500: the worker's error JSON; else a message
    std::string meta;  // the worker's meta JSON for metrics (may be empty)
    std::string replica_id;
    std::int64_t fn_ns = 0;           // time inside the function
    std::int64_t start_ms = 0;        // wall clock when the call reached the replica
    int retry_after_seconds = 0;      // for 429/503
};
// Called exactly once per call, from any thread, without the pool's lock held.
using CallDone = std::function<void(CallOutcome&&)>;

// The server's end of one replica's connection; implemented by the listener.
class ReplicaLink {
public:
    virtual ~ReplicaLink() = default;
    // Queues bytes, in order; cheap (no system call), never calls back into the pool.
    virtual void Enqueue(std::string_view bytes) = 0;
    // Sends what is queued, from the calling thread when the socket takes it; never blocks.
    virtual void Flush() = 0;
    void Send(std::string_view bytes) {
        Enqueue(bytes);
        Flush();
    }
    virtual void Close() = 0;
};

struct PoolSettings {
    std::int64_t deployment_id = 0;  // whose calls these are (metrics records name it)
    int concurrency = 1;
    int pipeline_depth = 4;
    int queue_size = 1024;
    std::chrono::milliseconds queue_timeout{30'000};
    std::chrono::milliseconds request_timeout{60'000};
    int max_batch_size = 0;
    std::chrono::milliseconds max_delay{5};
    bool idempotent = false;
    std::chrono::milliseconds ping_after{5'000};    // idle this long: send a ping
    std::chrono::milliseconds ping_timeout{10'000};  // no pong this long: unhealthy
};

struct ReplicaView {
    std::int64_t workload_id = 0;
    std::string replica_id;
    bool retiring = false;
    int in_flight = 0;
    std::int64_t requests = 0;
    std::int64_t errors = 0;
};

struct PoolView {
    int ready = 0;      // connected and taking calls
    int in_flight = 0;  // calls sent to replicas
    int queued = 0;     // calls waiting for one
    ServingCounters counters;
    std::vector<ReplicaView> replicas;
};

class ReplicaPool : public std::enable_shared_from_this<ReplicaPool> {
public:
    // Arms a one-shot timer (for batching delays).
    using TimerFn = std::function<void(std::chrono::milliseconds, std::function<void()>)>;
    // A replica stopped answering (timeout, missed pings, protocol error): the caller replaces it.
    using UnhealthyFn = std::function<void(std::int64_t workload_id, const std::string& reason)>;
    // Every answered call, for the metrics store.
    using CompletedFn = std::function<void(const CallOutcome&, std::int64_t latency_us)>;

    ReplicaPool(std::string name, PoolSettings settings, TimerFn timer, UnhealthyFn unhealthy);
    ~ReplicaPool();

    const std::string& name() const { return name_; }
    std::int64_t deployment_id() const { return settings_.deployment_id; }
    void SetCompleted(CompletedFn fn) { completed_ = std::move(fn); }

    // Routes a request (JSON text). `done` gets the outcome; 429 at once when the queue is full
    // or the call could not start within the queue timeout.
    void Submit(std::string request, CallDone done);

    void AddReplica(std::int64_t workload_id, std::string replica_id,
                    std::shared_ptr<ReplicaLink> link);
    // Frames from a replica's connection (RESULT, ERROR, PONG).
    void OnFrames(std::int64_t workload_id, const std::vector<Frame>& frames);
    // The replica's connection closed or its workload ended: its calls go elsewhere or fail.
    void RemoveReplica(std::int64_t workload_id, const std::string& why);
    // Stops giving the replica new calls (it is being replaced); see Outstanding.
    void Retire(std::int64_t workload_id);
    // Calls still at the replica (-1 when it is not connected).
    int Outstanding(std::int64_t workload_id);
    bool Connected(std::int64_t workload_id);

    // Expires queued calls, times out stuck ones, pings idle replicas. Call a few times a second.
    void Tick();
    // Fails everything queued and refuses new calls (the deployment stopped).
    void Close(const std::string& why);

    PoolView View();

    // Per-minute counts for the serving history (wall-clock minutes): Take moves out the
    // minutes that ended (every one when `all`), Peek copies what was not taken yet.
    void TakeMinutes(std::int64_t now_ms, bool all, std::vector<MinuteCounts>& out);
    std::vector<MinuteCounts> PeekMinutes();
    bool closed();

private:
    struct Call {
        std::string request;
        CallDone done;
        std::int64_t arrived_ns = 0;
        std::int64_t sent_ns = 0;
        int attempts = 0;
    };
    struct InFlight {
        std::uint32_t id = 0;
        bool batch = false;
        std::vector<Call> calls;
    };
    struct Replica {
        std::string replica_id;
        std::shared_ptr<ReplicaLink> link;
        std::deque<InFlight> in_flight;  // in the order sent; the worker answers in order
        std::int64_t front_since_ns = 0;  // when the front call could have started
        std::int64_t last_heard_ns = 0;
        std::int64_t ping_sent_ns = 0;
        bool retiring = false;
        std::int64_t requests = 0;
        std::int64_t errors = 0;
    };
    using Finished = std::vector<std::pair<CallDone, CallOutcome>>;
    // Links given frames under the lock, flushed after it is released.
    using Touched = std::vector<std::shared_ptr<ReplicaLink>>;

    static std::int64_t NowNs();
    void DispatchLocked(Touched& touched);
    static void FlushAll(Touched& touched);
    void FinishLocked(Call& call, CallOutcome outcome, std::int64_t now, Finished& finished);
    // Disconnects a replica; its calls are requeued, except the front one (which may have run)
    // when `front_may_have_run`: that one fails with 502 unless the model is idempotent.
    void DropReplicaLocked(std::int64_t workload_id, const std::string& why, Finished& finished,
                           bool front_may_have_run = true);
    void Deliver(Finished& finished);
    int Capacity() const;

    const std::string name_;
    const PoolSettings settings_;
    TimerFn timer_;
    UnhealthyFn unhealthy_;
    CompletedFn completed_;

    std::mutex mu_;  // guards everything below
    std::deque<Call> queue_;
    std::map<std::int64_t, Replica> replicas_;
    std::uint32_t next_id_ = 1;
    bool closed_ = false;
    std::string closed_why_;
    bool batch_timer_armed_ = false;
    double service_ns_ = 1e6;  // moving average of a call's time at a replica
    ServingCounters counters_;
    MinuteAccumulator minutes_;
};

}  // namespace lathe::serving
