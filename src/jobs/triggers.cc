// Schedule firing and webhook delivery threads.
#include "jobs/triggers.h"

#include "core/log.h"
#include "core/webhook.h"

namespace lathe::jobs {

void ScheduleTrigger::Start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            lock.unlock();
            auto next = jobs_.FireDueSchedules(clock_.NowMs());
            lock.lock();
            // Sleep until the next fire time, but look again at least every 5 s: jobs created
            // through the API wake us, and the clock may jump.
            std::int64_t wait_ms = 5000;
            if (next) {
                wait_ms = std::clamp<std::int64_t>(*next - clock_.NowMs(), 0, 5000);
            }
            cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                         [this] { return stopping_ || woken_; });
            woken_ = false;
        }
    });
}

void ScheduleTrigger::Wake() {
    {
        std::lock_guard lock(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

void ScheduleTrigger::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void WebhookNotifier::Start() {
    thread_ = std::thread([this] {
        for (;;) {
            Delivery d;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                // At shutdown what is queued gets a few seconds, not forever.
                if (stopping_ && (queue_.empty() || std::chrono::steady_clock::now() > drain_deadline_)) {
                    if (!queue_.empty()) {
                        LogWarn("webhooks not delivered before shutdown", {{"count", queue_.size()}});
                    }
                    return;
                }
                d = std::move(queue_.front());
                queue_.pop_front();
            }
            bool delivered = false;
            for (int attempt = 0; attempt < 3 && !delivered; ++attempt) {
                if (attempt > 0) {
                    std::unique_lock lock(mu_);
                    if (stopping_ || cv_.wait_for(lock, std::chrono::seconds(attempt),
                                                  [this] { return stopping_; })) {
                        break;
                    }
                }
                delivered = Post(d);
            }
            if (!delivered) {
                LogWarn("webhook not delivered", {{"url", d.url}});
            }
        }
    });
}

void WebhookNotifier::Enqueue(const std::string& url, const Job& job,
                              const compute::Workload& run) {
    nlohmann::json body = {
        {"event", compute::StateName(run.state)},
        {"job", {{"id", job.id}, {"name", job.name}, {"project_id", job.project_id}}},
        {"run",
         {{"id", run.id},
          {"status", compute::StateName(run.state)},
          {"reason", run.reason},
          {"trigger", run.trigger},
          {"exit_code", run.exit_code ? nlohmann::json(*run.exit_code) : nlohmann::json(nullptr)}}}};
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= max_queued_) {
            queue_.pop_front();
            if (++dropped_ % 100 == 1) {
                LogWarn("webhook queue full; dropping the oldest", {{"dropped", dropped_}});
            }
        }
        queue_.push_back({url, body.dump()});
    }
    cv_.notify_all();
}

void WebhookNotifier::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

bool WebhookNotifier::Post(const Delivery& d) { return PostJson(d.url, d.body).has_value(); }

}  // namespace lathe::jobs
