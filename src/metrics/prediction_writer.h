// Group commit for prediction records: the serving path queues records from any thread and one
// writer thread commits everything queued in one transaction, then tells each caller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "metrics/metrics_store.h"

namespace lathe::metrics {

struct WriterOptions {
    // The queue's bounds. When either is reached Submit refuses (the caller answers "busy")
    // instead of growing memory or dropping silently.
    std::size_t max_queue_records = 200000;
    std::size_t max_queue_bytes = 256u << 20;
    // Once a record arrives, while tracked calls are still running (BeginTrackedCall), the
    // writer gathers their records for up to this long before committing; it commits at once
    // when the last of them ends, a batch fills or nothing is running. Under load that makes
    // fewer, larger commits (each commit costs writes, locks and a wake-up of the I/O threads:
    // on 2 cores about a tenth of a tracked call's throughput); a lone call never waits. A
    // record waits at most this plus one commit.
    std::chrono::microseconds gather_delay{2000};
    // Batches are capped so one commit stays short: 5,000 records commit in ~10-15 ms here, so
    // a record waits at most about twice that (the commit in progress, then its own).
    std::size_t max_batch_records = 5000;
};

struct WriterCounters {
    std::uint64_t submitted = 0;
    std::uint64_t committed = 0;
    std::uint64_t skipped = 0;   // a deployment without a series
    std::uint64_t rejected = 0;  // refused because the queue was full (the caller was told)
    std::uint64_t failed = 0;    // the store refused the batch (the callers were told)
    std::uint64_t batches = 0;
    std::uint64_t queued = 0;  // in the queue now
    std::uint64_t commit_us_total = 0;
    std::uint64_t commit_us_max = 0;
};

class PredictionWriter {
public:
    // Called once per record from the writer thread, after its batch committed (or failed).
    using Committed = std::function<void(const Status&)>;

    PredictionWriter(MetricsStore& store, WriterOptions options);
    ~PredictionWriter();  // commits what is queued, then stops
    PredictionWriter(const PredictionWriter&) = delete;
    PredictionWriter& operator=(const PredictionWriter&) = delete;

    // Queues a record; false when the queue is full, and then neither argument was moved from
    // (the caller still has them) and `done` is not called. `ends_tracked_call`: the record is
    // what a BeginTrackedCall() was waiting for, and that call counts as ended either way.
    bool Submit(PredictionRecord&& record, Committed&& done, bool ends_tracked_call = false);
    // A call that may bring a record started: until it ends (EndTrackedCall, or Submit with
    // ends_tracked_call) the writer may gather records for up to gather_delay. Lock-free.
    void BeginTrackedCall();
    // A tracked call ended without a record.
    void EndTrackedCall();
    // Queues many records with one callback for all of them (benchmarks, imports).
    bool SubmitBatch(std::vector<PredictionRecord> records, Committed done);
    // Returns once everything queued before the call is committed.
    void Flush();
    // Where a batch's callbacks run: by default on the writer thread; the server hands them to
    // an I/O thread in one hop, since each answers a connection living there. Null: the
    // writer thread again (before the I/O threads go away).
    using Deliver = std::function<void(std::function<void()>)>;
    void SetDeliver(Deliver deliver);
    WriterCounters Counters() const;

private:
    struct Entry {
        std::vector<PredictionRecord> records;  // one, except for SubmitBatch
        Committed done;
    };
    void Run();
    // Takes the record(s) and callback out of `entry` only when it queues them.
    bool Enqueue(Entry& entry, std::size_t bytes, bool ends_tracked_call);
    // Under mu_: whether the writer, gathering, should stop waiting now.
    bool GatherDoneLocked() const;

    MetricsStore& store_;
    const WriterOptions options_;

    mutable std::mutex mu_;  // guards everything below
    std::condition_variable wake_;
    std::condition_variable flushed_;
    std::vector<Entry> queue_;
    std::size_t queued_records_ = 0;
    std::size_t queued_bytes_ = 0;
    std::uint64_t enqueued_seq_ = 0;   // entries ever queued
    std::uint64_t committed_seq_ = 0;  // entries ever finished
    bool stopping_ = false;
    bool gathering_ = false;
    int flush_waiters_ = 0;
    // Tracked calls running; changed without mu_ (each call), read under it. Reaching zero
    // while the writer gathers takes mu_ to wake it, so the wake-up can't be missed.
    std::atomic<std::int64_t> tracked_calls_{0};
    Deliver deliver_;
    WriterCounters counters_;

    std::thread thread_;  // last: starts after the members above exist
};

}  // namespace lathe::metrics
