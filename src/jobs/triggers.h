// Background threads around jobs: firing recurring schedules, and delivering run-end webhooks
// without ever blocking the scheduler.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "jobs/jobs.h"

namespace lathe::jobs {

// Wakes when the earliest recurring job is due (or at least every few seconds), fires it.
class ScheduleTrigger {
public:
    ScheduleTrigger(Jobs& jobs, const Clock& clock) : jobs_(jobs), clock_(clock) {}
    ~ScheduleTrigger() { Stop(); }
    void Start();
    // A job's schedule changed: look again now.
    void Wake();
    void Stop();

private:
    Jobs& jobs_;
    const Clock& clock_;
    std::mutex mu_;  // guards stopping_, woken_
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
};

// Posts {"event", "job", "run"} JSON to webhook URLs from one thread, with a bounded queue
// (a flood of ends drops the oldest, counted in the log) and a short timeout plus retries.
class WebhookNotifier {
public:
    explicit WebhookNotifier(std::size_t max_queued = 1000) : max_queued_(max_queued) {}
    ~WebhookNotifier() { Stop(); }
    void Start();
    void Enqueue(const std::string& url, const Job& job, const compute::Workload& run);
    void Stop();

private:
    struct Delivery {
        std::string url;
        std::string body;
    };
    bool Post(const Delivery& d);

    const std::size_t max_queued_;
    std::mutex mu_;  // guards queue_, stopping_, dropped_
    std::condition_variable cv_;
    std::deque<Delivery> queue_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point drain_deadline_;
    std::uint64_t dropped_ = 0;
    std::thread thread_;
};

}  // namespace lathe::jobs
