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
    // Once a record arrives the writer may gather more for up to this long before committing
    // (unless a batch fills first): fewer, larger commits, for that much added latency. Off by
    // default: a commit already takes whatever arrived during the previous one, and a lone
    // call should not wait. A record waits at most this plus one commit.
    std::chrono::microseconds commit_delay{0};
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
    // (the caller still has them) and `done` is not called.
    bool Submit(PredictionRecord&& record, Committed&& done);
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
    bool Enqueue(Entry& entry, std::size_t bytes);

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
    int flush_waiters_ = 0;
    Deliver deliver_;
    WriterCounters counters_;

    std::thread thread_;  // last: starts after the members above exist
};

}  // namespace lathe::metrics
