// Scheduling loop, launches, timeouts, stops and reconciliation.
#include "compute/scheduler.h"

#include <csignal>

#include "core/log.h"

namespace lathe::compute {

Scheduler::Scheduler(WorkloadRecords& records, LogStore& logs, Backend& backend,
                     SchedulerOptions options)
    : records_(records),
      logs_(logs),
      backend_(backend),
      options_(options),
      free_gpus_(options_.gpu_devices.begin(), options_.gpu_devices.end()) {}

std::string Scheduler::GpuDevices(std::int64_t id) {
    std::lock_guard lock(mu_);
    std::string out;
    auto it = gpus_of_.find(id);
    if (it != gpus_of_.end()) {
        for (int d : it->second) {
            out += (out.empty() ? "" : ",") + std::to_string(d);
        }
    }
    return out;
}

Scheduler::~Scheduler() { Shutdown(); }

QueuedWorkload Scheduler::Queued(const Workload& w) {
    return QueuedWorkload{w.id, w.owner, w.team, w.spec.priority, w.spec.resources};
}

Status Scheduler::Start(std::string runner_url) {
    runner_url_ = std::move(runner_url);
    queue_.SetCapacity(backend_.Capacity());
    RETURN_IF_ERROR(ReloadQuotas());
    ASSIGN_OR_RETURN(auto launched,
                     records_.InStates({WorkloadState::kStarting, WorkloadState::kRunning}));
    for (const Workload& w : launched) {
        if (backend_.IsAlive(w.id)) {
            std::lock_guard lock(mu_);
            queue_.MarkRunning(Queued(w));
            active_[w.id] = Active{std::chrono::steady_clock::now(), w.spec.timeout_seconds};
            continue;
        }
        auto ended = records_.Apply(w.id, {WorkloadState::kFailed, "server restarted", {}});
        if (ended) {
            logs_.Finish(w.id);
            Finished(*ended);
        }
    }
    ASSIGN_OR_RETURN(auto waiting, records_.InStates({WorkloadState::kScheduling}));
    {
        std::lock_guard lock(mu_);
        for (const Workload& w : waiting) {
            queue_.Enqueue(Queued(w));
            waiting_[w.id] = w;
        }
    }
    thread_ = std::thread([this] { Loop(); });
    return {};
}

void Scheduler::Shutdown() {
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
}

Status Scheduler::ReloadQuotas() {
    ASSIGN_OR_RETURN(auto quotas, records_.Quotas());
    std::lock_guard lock(mu_);
    for (const auto& [type, subject, limits] : quotas) {
        if (type == "user") {
            queue_.SetUserQuota(subject, limits);
        } else if (type == "team") {
            queue_.SetTeamQuota(subject, limits);
        } else if (type == "default" && subject == "user") {
            queue_.SetDefaultUserQuota(limits);
        }
    }
    dirty_ = true;
    wake_.notify_all();
    return {};
}

Result<Workload> Scheduler::Submit(Workload w) {
    RETURN_IF_ERROR(records_.Create(w));
    {
        std::lock_guard lock(mu_);
        queue_.Enqueue(Queued(w));
        waiting_[w.id] = w;
        dirty_ = true;
    }
    wake_.notify_all();
    return w;
}

Result<Workload> Scheduler::Stop(std::int64_t id, const std::string& by) {
    bool was_queued = false;
    bool launched = false;
    {
        std::lock_guard lock(mu_);
        if (queue_.Cancel(id)) {
            was_queued = true;
            waiting_.erase(id);
        } else if (auto it = active_.find(id); it != active_.end()) {
            launched = true;
            it->second.stop_requested = true;
            it->second.stopped_by = by;
        }
    }
    if (was_queued) {
        ASSIGN_OR_RETURN(auto w, records_.Apply(id, {WorkloadState::kStopped,
                                                     "stopped by " + by + " before it started",
                                                     {}}));
        logs_.Finish(id);
        Finished(w);
        return w;
    }
    ASSIGN_OR_RETURN(auto w, records_.Get(id));
    if (!launched) {
        if (IsFinal(w.state)) {
            return MakeError(ErrorCode::kConflict, "run " + std::to_string(id) + " already " +
                                                       std::string(StateName(w.state)));
        }
        return MakeError(ErrorCode::kUnavailable, "run " + std::to_string(id) +
                                                      " is being started; try again in a moment");
    }
    backend_.Stop(id, options_.stop_grace);
    return w;
}

Status Scheduler::OnRunnerStarted(std::int64_t id) {
    auto w = records_.Apply(id, {WorkloadState::kRunning, "", {}});
    if (!w && w.error().code != ErrorCode::kConflict) {
        return std::unexpected(w.error());
    }
    if (w) {
        std::vector<FinishFn> listeners;
        {
            std::lock_guard lock(mu_);
            listeners = start_listeners_;
        }
        for (const auto& fn : listeners) {
            fn(*w);
        }
    }
    return {};
}

bool Scheduler::StopRequested(std::int64_t id) {
    std::lock_guard lock(mu_);
    auto it = active_.find(id);
    return it != active_.end() && (it->second.stop_requested || it->second.timed_out);
}

void Scheduler::AddFinishListener(FinishFn fn) {
    std::lock_guard lock(mu_);
    finish_listeners_.push_back(std::move(fn));
}

void Scheduler::AddStartListener(FinishFn fn) {
    std::lock_guard lock(mu_);
    start_listeners_.push_back(std::move(fn));
}

Resources Scheduler::Used() {
    std::lock_guard lock(mu_);
    return queue_.used();
}

void Scheduler::Loop() {
    std::map<std::int64_t, std::string> stored_reasons;
    for (;;) {
        std::vector<Workload> to_launch;
        std::vector<std::pair<std::int64_t, std::string>> reasons;
        std::vector<std::int64_t> to_time_out;
        {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, std::chrono::milliseconds(500),
                           [this] { return stopping_ || dirty_; });
            if (stopping_) {
                return;
            }
            if (dirty_) {
                dirty_ = false;
                for (const auto& d : queue_.Admit()) {
                    auto it = waiting_.find(d.id);
                    if (it != waiting_.end()) {
                        // Admission counted the GPUs against capacity, so enough are free.
                        auto& devices = gpus_of_[d.id];
                        for (std::int64_t n = 0; n < it->second.spec.resources.gpus &&
                                                 !free_gpus_.empty();
                             ++n) {
                            devices.push_back(*free_gpus_.begin());
                            free_gpus_.erase(free_gpus_.begin());
                        }
                        to_launch.push_back(it->second);
                        active_[d.id] = Active{std::chrono::steady_clock::now(),
                                               it->second.spec.timeout_seconds};
                        waiting_.erase(it);
                    }
                }
                for (const auto& [id, w] : waiting_) {
                    std::string reason = queue_.Reason(id);
                    if (stored_reasons[id] != reason) {
                        stored_reasons[id] = reason;
                        reasons.emplace_back(id, reason);
                    }
                }
                // Forget runs that left the queue (launched or stopped).
                std::erase_if(stored_reasons,
                              [this](const auto& kv) { return waiting_.count(kv.first) == 0; });
            }
            const auto now = std::chrono::steady_clock::now();
            for (auto& [id, a] : active_) {
                if (a.timeout_seconds > 0 && !a.timed_out && !a.stop_requested &&
                    now - a.launched > std::chrono::seconds(a.timeout_seconds)) {
                    a.timed_out = true;
                    to_time_out.push_back(id);
                }
            }
        }
        if (auto st = records_.SetReasons(reasons); !st) {
            LogWarn("cannot store waiting reasons", {{"error", st.error().message}});
        }
        for (const Workload& w : to_launch) {
            Launch(w);
        }
        for (std::int64_t id : to_time_out) {
            backend_.Stop(id, options_.stop_grace);
        }
    }
}

void Scheduler::Launch(const Workload& w) {
    auto fail = [&](const std::string& reason) {
        LogWarn("workload failed to launch", {{"workload", w.id}, {"reason", reason}});
        {
            std::lock_guard lock(mu_);
            queue_.Release(w.id);
            ReleaseGpusLocked(w.id);
            active_.erase(w.id);
            dirty_ = true;
        }
        ReleaseExtras(w.id);
        auto ended = records_.Apply(w.id, {WorkloadState::kFailed, reason, {}});
        logs_.Finish(w.id);
        if (ended) {
            Finished(*ended);
        }
    };
    auto started = records_.Apply(w.id, {WorkloadState::kStarting, "", {}});
    if (!started) {
        fail(started.error().message);
        return;
    }
    auto token = records_.IssueRunnerToken(w.id);
    if (!token) {
        fail(token.error().message);
        return;
    }
    if (launch_hook_) {
        LaunchExtras extras = launch_hook_(w);
        std::lock_guard lock(mu_);
        extras_[w.id] = std::move(extras);
    }
    std::map<std::string, std::string> runner_env = {
        {"LATHE_RUNNER_URL", runner_url_},
        {"LATHE_WORKLOAD_ID", std::to_string(w.id)},
        {"LATHE_RUNNER_TOKEN", *token},
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
    };
    auto launched = backend_.Launch(w, runner_env, [this](std::int64_t id, ExitReport report) {
        OnExit(id, report);
    });
    if (!launched) {
        fail(launched.error().message);
    }
}

void Scheduler::OnExit(std::int64_t id, const ExitReport& report) {
    Active a;
    {
        std::lock_guard lock(mu_);
        auto it = active_.find(id);
        if (it != active_.end()) {
            a = it->second;
            active_.erase(it);
        }
        queue_.Release(id);
        ReleaseGpusLocked(id);
        dirty_ = true;
    }
    wake_.notify_all();
    ReleaseExtras(id);
    auto current = records_.Get(id);
    Transition t{WorkloadState::kFailed, "", report.exit_code >= 0
                                                 ? std::optional<int>(report.exit_code)
                                                 : std::nullopt};
    if (a.stop_requested) {
        t.to = WorkloadState::kStopped;
        t.reason = "stopped by " + a.stopped_by;
    } else if (a.timed_out) {
        t.to = WorkloadState::kTimedOut;
        t.reason = "timed out after " + std::to_string(a.timeout_seconds) + " s";
    } else if (report.oom_killed) {
        t.reason = "out of memory (limit " +
                   std::to_string(current ? current->spec.resources.memory_mib : 0) + " MiB)";
    } else if (report.exit_code == 0 && report.signal == 0) {
        t.to = WorkloadState::kSucceeded;
    } else if (report.signal != 0) {
        t.reason = "killed by signal " + std::to_string(report.signal) +
                   (report.signal > 0 && report.signal < NSIG ? std::string(" (") +
                                                                    sigabbrev_np(report.signal) + ")"
                                                              : "");
    } else {
        t.reason = "exit code " + std::to_string(report.exit_code);
    }
    if (!report.detail.empty()) {
        t.reason += (t.reason.empty() ? "" : "; ") + report.detail;
    }
    auto ended = records_.Apply(id, t);
    logs_.Finish(id);
    if (ended) {
        Finished(*ended);
    } else {
        LogWarn("cannot record the end of a workload",
                {{"workload", id}, {"error", ended.error().message}});
    }
}

std::map<std::string, std::string> Scheduler::LaunchEnv(std::int64_t id) {
    std::lock_guard lock(mu_);
    auto it = extras_.find(id);
    return it == extras_.end() ? std::map<std::string, std::string>() : it->second.env;
}

void Scheduler::ReleaseExtras(std::int64_t id) {
    std::function<void()> cleanup;
    {
        std::lock_guard lock(mu_);
        auto it = extras_.find(id);
        if (it == extras_.end()) {
            return;
        }
        cleanup = std::move(it->second.cleanup);
        extras_.erase(it);
    }
    if (cleanup) {
        cleanup();
    }
}

void Scheduler::ReleaseGpusLocked(std::int64_t id) {
    auto it = gpus_of_.find(id);
    if (it != gpus_of_.end()) {
        free_gpus_.insert(it->second.begin(), it->second.end());
        gpus_of_.erase(it);
    }
}

void Scheduler::Finished(const Workload& w) {
    std::vector<FinishFn> listeners;
    {
        std::lock_guard lock(mu_);
        listeners = finish_listeners_;
    }
    for (const auto& fn : listeners) {
        fn(w);
    }
}

}  // namespace lathe::compute
