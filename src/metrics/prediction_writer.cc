// The prediction writer thread: swap the queue out, commit it in one transaction, answer callers.
#include "metrics/prediction_writer.h"

#include <chrono>

#include "core/log.h"

namespace lathe::metrics {

namespace {

std::size_t BytesOf(const PredictionRecord& r) {
    return sizeof(PredictionRecord) + r.uuid.size() + r.metrics.size();
}

}  // namespace

PredictionWriter::PredictionWriter(MetricsStore& store, WriterOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

PredictionWriter::~PredictionWriter() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void PredictionWriter::BeginTrackedCall() {
    tracked_calls_.fetch_add(1, std::memory_order_relaxed);
}

void PredictionWriter::EndTrackedCall() {
    if (tracked_calls_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mu_);
        if (gathering_) {
            wake_.notify_one();
        }
    }
}

bool PredictionWriter::GatherDoneLocked() const {
    return stopping_ || queued_records_ >= options_.max_batch_records || flush_waiters_ > 0 ||
           tracked_calls_.load(std::memory_order_acquire) <= 0;
}

bool PredictionWriter::Enqueue(Entry& entry, std::size_t bytes, bool ends_tracked_call) {
    const std::size_t n = entry.records.size();
    bool wake = false;
    {
        std::lock_guard lock(mu_);
        if (ends_tracked_call) {
            tracked_calls_.fetch_sub(1, std::memory_order_acq_rel);
        }
        if (stopping_ ||
            (queued_records_ > 0 && (queued_records_ + n > options_.max_queue_records ||
                                     queued_bytes_ + bytes > options_.max_queue_bytes))) {
            counters_.rejected += n;
            if (ends_tracked_call && gathering_ && GatherDoneLocked()) {
                wake_.notify_one();
            }
            return false;
        }
        // The writer needs waking for the first record (it then decides whether to gather),
        // when a batch is full, or when it gathers and the last tracked call just ended.
        wake = queue_.empty() || queued_records_ + n >= options_.max_batch_records;
        queued_records_ += n;
        queued_bytes_ += bytes;
        counters_.submitted += n;
        ++enqueued_seq_;
        queue_.push_back(std::move(entry));
        wake = wake || (gathering_ && GatherDoneLocked());
    }
    if (wake) {
        wake_.notify_one();
    }
    return true;
}

bool PredictionWriter::Submit(PredictionRecord&& record, Committed&& done, bool ends_tracked_call) {
    Entry e;
    e.records.push_back(std::move(record));
    e.done = std::move(done);
    if (Enqueue(e, BytesOf(e.records.front()), ends_tracked_call)) {
        return true;
    }
    record = std::move(e.records.front());  // refused: the caller keeps what it gave
    done = std::move(e.done);
    return false;
}

bool PredictionWriter::SubmitBatch(std::vector<PredictionRecord> records, Committed done) {
    std::size_t bytes = 0;
    for (const auto& r : records) {
        bytes += BytesOf(r);
    }
    Entry e{std::move(records), std::move(done)};
    return Enqueue(e, bytes, false);
}

void PredictionWriter::SetDeliver(Deliver deliver) {
    std::lock_guard lock(mu_);
    deliver_ = std::move(deliver);
}

void PredictionWriter::Flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = enqueued_seq_;
    ++flush_waiters_;
    wake_.notify_one();  // no need to gather any longer
    flushed_.wait(lock, [&] { return committed_seq_ >= target; });
    --flush_waiters_;
}

WriterCounters PredictionWriter::Counters() const {
    std::lock_guard lock(mu_);
    WriterCounters c = counters_;
    c.queued = queued_records_;
    return c;
}

void PredictionWriter::Run() {
    std::vector<Entry> taken;
    std::vector<PredictionRecord> batch;
    while (true) {
        taken.clear();
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;  // stopping, and everything is committed
            }
            if (options_.gather_delay.count() > 0 && !GatherDoneLocked()) {
                gathering_ = true;
                wake_.wait_for(lock, options_.gather_delay, [this] { return GatherDoneLocked(); });
                gathering_ = false;
            }
            // Take whole entries up to the batch cap (at least one).
            std::size_t records = 0;
            std::size_t bytes = 0;
            std::size_t n = 0;
            while (n < queue_.size() &&
                   (n == 0 || records + queue_[n].records.size() <= options_.max_batch_records)) {
                records += queue_[n].records.size();
                for (const auto& r : queue_[n].records) {
                    bytes += BytesOf(r);
                }
                ++n;
            }
            taken.assign(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
            queued_records_ -= records;
            queued_bytes_ -= bytes;
        }
        Status st;
        std::size_t skipped = 0;
        std::size_t records = 0;
        const auto began = std::chrono::steady_clock::now();
        if (taken.size() == 1) {
            records = taken[0].records.size();
            st = store_.AppendPredictions(taken[0].records, &skipped);
        } else {
            batch.clear();
            for (auto& e : taken) {
                for (auto& r : e.records) {
                    batch.push_back(std::move(r));
                }
            }
            records = batch.size();
            st = store_.AppendPredictions(batch, &skipped);
        }
        const auto us =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - began)
                                           .count());
        if (!st) {
            LogWarn("prediction records not stored",
                    {{"records", records}, {"error", st.error().message}});
        }
        Deliver deliver;
        {
            std::lock_guard lock(mu_);
            deliver = deliver_;
        }
        if (deliver) {
            auto callbacks = std::make_shared<std::vector<Committed>>();
            callbacks->reserve(taken.size());
            for (auto& e : taken) {
                if (e.done) {
                    callbacks->push_back(std::move(e.done));
                }
            }
            if (!callbacks->empty()) {
                deliver([callbacks, st] {
                    for (auto& done : *callbacks) {
                        done(st);
                    }
                });
            }
        } else {
            for (auto& e : taken) {
                if (e.done) {
                    e.done(st);
                }
            }
        }
        {
            std::lock_guard lock(mu_);
            committed_seq_ += taken.size();
            ++counters_.batches;
            counters_.commit_us_total += us;
            counters_.commit_us_max = std::max(counters_.commit_us_max, us);
            if (st) {
                counters_.committed += records - skipped;
                counters_.skipped += skipped;
            } else {
                counters_.failed += records;
            }
        }
        flushed_.notify_all();
        // Between batches, after the callers were answered: index what was just appended.
        if (auto caught_up = store_.CatchUp(); !caught_up) {
            LogWarn("metrics store could not index new records",
                    {{"error", caught_up.error().message}});
        }
    }
}

}  // namespace lathe::metrics
