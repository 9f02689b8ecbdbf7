// One deployment's router.
#include "serving/replica_pool.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/clock.h"

namespace lathe::serving {
namespace {

std::string Message(const std::string& text) {
    return nlohmann::json{{"message", text}}.dump();
}

int SecondsUp(double ns) { return std::max(1, static_cast<int>(ns / 1e9 + 0.999)); }

// The wall clock, for the per-minute history (the pool's other timing is steady-clock).
std::int64_t WallMs() { return SystemClock().NowMs(); }

}  // namespace

ReplicaPool::ReplicaPool(std::string name, PoolSettings settings, TimerFn timer,
                         UnhealthyFn unhealthy)
    : name_(std::move(name)),
      settings_(settings),
      timer_(std::move(timer)),
      unhealthy_(std::move(unhealthy)) {}

ReplicaPool::~ReplicaPool() { Close("the deployment is gone"); }

std::int64_t ReplicaPool::NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int ReplicaPool::Capacity() const {
    return std::max(1, settings_.concurrency) + std::max(0, settings_.pipeline_depth);
}

void ReplicaPool::Deliver(Finished& finished) {
    for (auto& [done, outcome] : finished) {
        done(std::move(outcome));
    }
    finished.clear();
}

void ReplicaPool::Submit(std::string request, CallDone done) {
    Finished finished;
    Touched touched;
    {
        std::lock_guard lock(mu_);
        const std::int64_t now = NowNs();
        if (closed_) {
            CallOutcome o;
            o.status = 503;
            o.body = closed_why_;
            finished.emplace_back(std::move(done), std::move(o));
        } else {
            int ready = 0;
            std::size_t ahead = queue_.size();
            for (const auto& [id, r] : replicas_) {
                if (!r.retiring) {
                    ++ready;
                }
                for (const auto& f : r.in_flight) {
                    ahead += f.calls.size();
                }
            }
            const double per_call = service_ns_ / std::max(1, ready);
            const double wait_ns = static_cast<double>(ahead + 1) * per_call;
            const double timeout_ns = static_cast<double>(settings_.queue_timeout.count()) * 1e6;
            std::string refusal;
            if (queue_.size() >= static_cast<std::size_t>(settings_.queue_size)) {
                refusal = "the model is busy: " + std::to_string(queue_.size()) +
                          " requests are already waiting; try again shortly";
            } else if (ready > 0 && wait_ns > timeout_ns) {
                refusal = "the model is busy: this request would wait about " +
                          std::to_string(static_cast<int>(wait_ns / 1e9)) + " s, more than its " +
                          std::to_string(settings_.queue_timeout.count() / 1000) +
                          " s queue timeout; try again shortly";
            }
            if (!refusal.empty()) {
                ++counters_.rejected;
                ++counters_.requests;
                ++counters_.errors;
                minutes_.Add(WallMs(), /*error=*/true, /*rejected=*/true, -1);
                CallOutcome o;
                o.status = 429;
                o.body = std::move(refusal);
                o.retry_after_seconds = SecondsUp(std::min(wait_ns, timeout_ns));
                finished.emplace_back(std::move(done), std::move(o));
            } else {
                queue_.push_back(Call{std::move(request), std::move(done), now, 0, 0});
                DispatchLocked(touched);
            }
        }
    }
    FlushAll(touched);
    Deliver(finished);
}

void ReplicaPool::FlushAll(Touched& touched) {
    for (auto& link : touched) {
        link->Flush();
    }
    touched.clear();
}

void ReplicaPool::DispatchLocked(Touched& touched) {
    const std::size_t cap = static_cast<std::size_t>(Capacity());
    const bool batching = settings_.max_batch_size > 1;
    while (!queue_.empty()) {
        Replica* best = nullptr;
        std::int64_t best_id = 0;
        for (auto& [id, r] : replicas_) {
            if (r.retiring || r.in_flight.size() >= cap) {
                continue;
            }
            if (best == nullptr || r.in_flight.size() < best->in_flight.size()) {
                best = &r;
                best_id = id;
            }
        }
        if (best == nullptr) {
            return;
        }
        const std::int64_t now = NowNs();
        InFlight f;
        f.id = next_id_++;
        if (next_id_ == 0) {
            next_id_ = 1;
        }
        std::string bytes;
        if (batching) {
            const std::size_t n =
                std::min(queue_.size(), static_cast<std::size_t>(settings_.max_batch_size));
            const std::int64_t waited = now - queue_.front().arrived_ns;
            const std::int64_t delay_ns = settings_.max_delay.count() * 1'000'000;
            if (n < static_cast<std::size_t>(settings_.max_batch_size) && waited < delay_ns) {
                // Wait for more to arrive, up to the delay.
                if (!batch_timer_armed_ && timer_) {
                    batch_timer_armed_ = true;
                    std::weak_ptr<ReplicaPool> weak = weak_from_this();
                    timer_(std::chrono::milliseconds((delay_ns - waited) / 1'000'000 + 1), [weak] {
                        if (auto self = weak.lock()) {
                            Touched later;
                            {
                                std::lock_guard lock(self->mu_);
                                self->batch_timer_armed_ = false;
                                self->DispatchLocked(later);
                            }
                            FlushAll(later);
                        }
                    });
                }
                return;
            }
            std::string payload = "[";
            for (std::size_t i = 0; i < n; ++i) {
                Call c = std::move(queue_.front());
                queue_.pop_front();
                if (i) {
                    payload += ',';
                }
                payload += c.request;
                c.sent_ns = now;
                f.calls.push_back(std::move(c));
            }
            payload += ']';
            f.batch = true;
            AppendFrame(bytes, FrameType::kBatch, f.id, payload);
        } else {
            Call c = std::move(queue_.front());
            queue_.pop_front();
            c.sent_ns = now;
            AppendFrame(bytes, FrameType::kCall, f.id, c.request);
            f.calls.push_back(std::move(c));
        }
        if (best->in_flight.empty()) {
            best->front_since_ns = now;
        }
        best->in_flight.push_back(std::move(f));
        best->link->Enqueue(bytes);
        if (std::find(touched.begin(), touched.end(), best->link) == touched.end()) {
            touched.push_back(best->link);
        }
        (void)best_id;
    }
}

void ReplicaPool::FinishLocked(Call& call, CallOutcome outcome, std::int64_t now,
                               Finished& finished) {
    const std::int64_t latency_us = (now - call.arrived_ns) / 1000;
    ++counters_.requests;
    if (outcome.status != 200) {
        ++counters_.errors;
    }
    counters_.latency.Add(latency_us);
    minutes_.Add(WallMs(), outcome.status != 200, outcome.status == 429, latency_us);
    if (call.sent_ns > 0) {
        counters_.queue.Add((call.sent_ns - call.arrived_ns) / 1000);
    }
    if (outcome.fn_ns > 0 || outcome.status == 200 || outcome.status == 500) {
        counters_.function.Add(outcome.fn_ns / 1000);
        counters_.overhead.Add(std::max<std::int64_t>(0, latency_us - outcome.fn_ns / 1000));
    }
    if (completed_) {
        completed_(outcome, latency_us);
    }
    finished.emplace_back(std::move(call.done), std::move(outcome));
}

void ReplicaPool::AddReplica(std::int64_t workload_id, std::string replica_id,
                             std::shared_ptr<ReplicaLink> link) {
    Finished finished;
    Touched touched;
    {
        std::lock_guard lock(mu_);
        Replica r;
        r.replica_id = std::move(replica_id);
        r.link = std::move(link);
        r.last_heard_ns = NowNs();
        replicas_[workload_id] = std::move(r);
        DispatchLocked(touched);
    }
    FlushAll(touched);
    Deliver(finished);
}

void ReplicaPool::OnFrames(std::int64_t workload_id, const std::vector<Frame>& frames) {
    Finished finished;
    Touched touched;
    std::string unhealthy;
    {
        std::lock_guard lock(mu_);
        auto it = replicas_.find(workload_id);
        if (it == replicas_.end()) {
            return;
        }
        Replica& r = it->second;
        const std::int64_t now = NowNs();
        r.last_heard_ns = now;
        for (const Frame& frame : frames) {
            if (frame.type == FrameType::kPong) {
                r.ping_sent_ns = 0;
                continue;
            }
            if (frame.type != FrameType::kResult && frame.type != FrameType::kError) {
                unhealthy = "the replica sent an unexpected frame (type " +
                            std::to_string(static_cast<int>(frame.type)) + ")";
                break;
            }
            auto f = std::find_if(r.in_flight.begin(), r.in_flight.end(),
                                  [&](const InFlight& x) { return x.id == frame.id; });
            if (f == r.in_flight.end()) {
                unhealthy = "the replica answered a call it was not given";
                break;
            }
            InFlight done = std::move(*f);
            r.in_flight.erase(f);
            r.front_since_ns = now;
            auto reply = ParseReply(frame);
            if (!reply) {
                unhealthy = "the replica sent a malformed reply: " + reply.error().message;
                for (auto& c : done.calls) {
                    CallOutcome o;
                    o.status = 502;
                    o.body = "the replica sent a malformed reply";
                    o.replica_id = r.replica_id;
                    FinishLocked(c, std::move(o), now, finished);
                }
                break;
            }
            const double per_call = static_cast<double>(reply->fn_ns) /
                                        static_cast<double>(done.calls.size()) +
                                    20'000.0;
            service_ns_ = 0.9 * service_ns_ + 0.1 * per_call;
            const bool ok = frame.type == FrameType::kResult;
            ++r.requests;
            if (!ok) {
                ++r.errors;
            }
            std::vector<std::string> bodies;
            std::string batch_error;
            if (ok && done.batch) {
                auto arr = nlohmann::json::parse(reply->body, nullptr, false);
                if (!arr.is_array() || arr.size() != done.calls.size()) {
                    batch_error = Message("the batched function must return a list of " +
                                          std::to_string(done.calls.size()) + " results");
                } else {
                    for (auto& v : arr) {
                        bodies.push_back(v.dump());
                    }
                }
            }
            for (std::size_t i = 0; i < done.calls.size(); ++i) {
                CallOutcome o;
                o.replica_id = r.replica_id;
                o.fn_ns = static_cast<std::int64_t>(reply->fn_ns);
                o.meta = std::string(reply->meta);
                if (!ok) {
                    o.status = 500;
                    o.body = std::string(reply->body);
                } else if (!batch_error.empty()) {
                    o.status = 500;
                    o.body = batch_error;
                } else {
                    o.body = done.batch ? std::move(bodies[i]) : std::string(reply->body);
                }
                FinishLocked(done.calls[i], std::move(o), now, finished);
            }
        }
        if (!unhealthy.empty()) {
            DropReplicaLocked(workload_id, unhealthy, finished);
        }
        DispatchLocked(touched);
    }
    FlushAll(touched);
    Deliver(finished);
    if (!unhealthy.empty() && unhealthy_) {
        unhealthy_(workload_id, unhealthy);
    }
}

void ReplicaPool::DropReplicaLocked(std::int64_t workload_id, const std::string& why,
                                    Finished& finished, bool front_may_have_run) {
    auto it = replicas_.find(workload_id);
    if (it == replicas_.end()) {
        return;
    }
    Replica r = std::move(it->second);
    replicas_.erase(it);
    r.link->Close();
    const std::int64_t now = NowNs();
    // The first `concurrency` calls may have been running: retried only when the function is
    // idempotent. The ones behind them never started, so they go back to the head of the queue
    // in order.
    std::deque<Call> requeue;
    int may_have_run = front_may_have_run ? std::max(1, settings_.concurrency) : 0;
    for (auto& f : r.in_flight) {
        const bool first = may_have_run > 0;
        if (first) {
            --may_have_run;
        }
        for (auto& c : f.calls) {
            if (first && !(settings_.idempotent && c.attempts == 0)) {
                CallOutcome o;
                o.status = 502;
                o.replica_id = r.replica_id;
                o.body = "the replica handling this request stopped (" + why +
                         "); it was not retried because the model is not marked idempotent";
                FinishLocked(c, std::move(o), now, finished);
                continue;
            }
            if (first) {
                ++c.attempts;
            }
            c.sent_ns = 0;
            requeue.push_back(std::move(c));
        }
    }
    while (!requeue.empty()) {
        queue_.push_front(std::move(requeue.back()));
        requeue.pop_back();
    }
}

void ReplicaPool::RemoveReplica(std::int64_t workload_id, const std::string& why) {
    Finished finished;
    Touched touched;
    {
        std::lock_guard lock(mu_);
        DropReplicaLocked(workload_id, why, finished);
        DispatchLocked(touched);
    }
    FlushAll(touched);
    Deliver(finished);
}

void ReplicaPool::Retire(std::int64_t workload_id) {
    std::lock_guard lock(mu_);
    if (auto it = replicas_.find(workload_id); it != replicas_.end()) {
        it->second.retiring = true;
    }
}

int ReplicaPool::Outstanding(std::int64_t workload_id) {
    std::lock_guard lock(mu_);
    auto it = replicas_.find(workload_id);
    if (it == replicas_.end()) {
        return -1;
    }
    int n = 0;
    for (const auto& f : it->second.in_flight) {
        n += static_cast<int>(f.calls.size());
    }
    return n;
}

bool ReplicaPool::Connected(std::int64_t workload_id) {
    std::lock_guard lock(mu_);
    return replicas_.count(workload_id) > 0;
}

void ReplicaPool::Tick() {
    Finished finished;
    Touched touched;
    std::vector<std::pair<std::int64_t, std::string>> unhealthy;
    {
        std::lock_guard lock(mu_);
        const std::int64_t now = NowNs();
        const std::int64_t queue_timeout = settings_.queue_timeout.count() * 1'000'000;
        while (!queue_.empty() && now - queue_.front().arrived_ns > queue_timeout) {
            Call c = std::move(queue_.front());
            queue_.pop_front();
            CallOutcome o;
            o.status = 429;
            o.body = "no replica of the model could take this request within " +
                     std::to_string(settings_.queue_timeout.count() / 1000) +
                     " s; try again shortly";
            o.retry_after_seconds = SecondsUp(static_cast<double>(queue_timeout));
            ++counters_.rejected;
            FinishLocked(c, std::move(o), now, finished);
        }
        const std::int64_t request_timeout = settings_.request_timeout.count() * 1'000'000;
        for (auto& [id, r] : replicas_) {
            if (!r.in_flight.empty()) {
                if (now - r.front_since_ns > request_timeout) {
                    unhealthy.emplace_back(
                        id, "the model did not answer within " +
                                std::to_string(settings_.request_timeout.count() / 1000) + " s");
                }
                continue;
            }
            if (r.ping_sent_ns != 0) {
                if (now - r.ping_sent_ns > settings_.ping_timeout.count() * 1'000'000) {
                    unhealthy.emplace_back(id, "the replica did not answer a health check within " +
                                                   std::to_string(settings_.ping_timeout.count() /
                                                                  1000) +
                                                   " s");
                }
            } else if (now - r.last_heard_ns > settings_.ping_after.count() * 1'000'000) {
                std::string bytes;
                AppendFrame(bytes, FrameType::kPing, 0, {});
                r.link->Enqueue(bytes);
                touched.push_back(r.link);
                r.ping_sent_ns = now;
            }
        }
        for (const auto& [id, why] : unhealthy) {
            // A timed-out call fails with 504 rather than being retried: it may run forever.
            auto it = replicas_.find(id);
            if (it != replicas_.end() && !it->second.in_flight.empty() &&
                now - it->second.front_since_ns > request_timeout) {
                InFlight f = std::move(it->second.in_flight.front());
                it->second.in_flight.pop_front();
                for (auto& c : f.calls) {
                    CallOutcome o;
                    o.status = 504;
                    o.replica_id = it->second.replica_id;
                    o.body = why;
                    FinishLocked(c, std::move(o), now, finished);
                }
                // The calls behind it never started: they go back to the queue.
                DropReplicaLocked(id, why, finished, false);
                continue;
            }
            DropReplicaLocked(id, why, finished);
        }
        DispatchLocked(touched);
    }
    FlushAll(touched);
    Deliver(finished);
    for (const auto& [id, why] : unhealthy) {
        if (unhealthy_) {
            unhealthy_(id, why);
        }
    }
}

void ReplicaPool::Close(const std::string& why) {
    Finished finished;
    Touched touched;
    std::vector<std::shared_ptr<ReplicaLink>> links;
    {
        std::lock_guard lock(mu_);
        if (closed_) {
            return;
        }
        closed_ = true;
        closed_why_ = why;
        const std::int64_t now = NowNs();
        while (!queue_.empty()) {
            Call c = std::move(queue_.front());
            queue_.pop_front();
            CallOutcome o;
            o.status = 503;
            o.body = why;
            FinishLocked(c, std::move(o), now, finished);
        }
        for (auto& [id, r] : replicas_) {
            for (auto& f : r.in_flight) {
                for (auto& c : f.calls) {
                    CallOutcome o;
                    o.status = 503;
                    o.replica_id = r.replica_id;
                    o.body = why;
                    FinishLocked(c, std::move(o), now, finished);
                }
            }
            r.in_flight.clear();
            links.push_back(r.link);
        }
        replicas_.clear();
    }
    FlushAll(touched);
    Deliver(finished);
    for (auto& l : links) {
        l->Close();
    }
}

void ReplicaPool::TakeMinutes(std::int64_t now_ms, bool all, std::vector<MinuteCounts>& out) {
    std::lock_guard lock(mu_);
    minutes_.Take(now_ms, all, out);
}

std::vector<MinuteCounts> ReplicaPool::PeekMinutes() {
    std::lock_guard lock(mu_);
    return minutes_.Peek();
}

bool ReplicaPool::closed() {
    std::lock_guard lock(mu_);
    return closed_;
}

PoolView ReplicaPool::View() {
    std::lock_guard lock(mu_);
    PoolView v;
    v.queued = static_cast<int>(queue_.size());
    v.counters = counters_;
    for (const auto& [id, r] : replicas_) {
        ReplicaView rv;
        rv.workload_id = id;
        rv.replica_id = r.replica_id;
        rv.retiring = r.retiring;
        for (const auto& f : r.in_flight) {
            rv.in_flight += static_cast<int>(f.calls.size());
        }
        rv.requests = r.requests;
        rv.errors = r.errors;
        v.in_flight += rv.in_flight;
        if (!r.retiring) {
            ++v.ready;
        }
        v.replicas.push_back(std::move(rv));
    }
    return v;
}

}  // namespace lathe::serving
