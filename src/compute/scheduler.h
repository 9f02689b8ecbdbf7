// The scheduler: admits queued workloads against quotas and capacity, launches them through a
// backend, enforces timeouts and stops, and stores every state transition before acting on it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "compute/admission.h"
#include "compute/backend.h"
#include "compute/log_store.h"
#include "compute/workload_records.h"
#include "core/clock.h"

namespace lathe::compute {

struct SchedulerOptions {
    std::chrono::milliseconds stop_grace{10'000};
    int heartbeat_seconds = 5;
    std::vector<int> gpu_devices;  // device indices handed out to workloads that ask for GPUs
};

// What a launch adds for the workload's own code (e.g. an API key for the SDK), and how to take
// it back when the workload ends.
struct LaunchExtras {
    std::map<std::string, std::string> env;
    std::function<void()> cleanup;
};

class Scheduler {
public:
    using FinishFn = std::function<void(const Workload&)>;
    using LaunchHook = std::function<LaunchExtras(const Workload&)>;

    Scheduler(WorkloadRecords& records, LogStore& logs, Backend& backend, SchedulerOptions options);
    ~Scheduler();

    // Reconciles what the store says was starting/running (re-attach or fail with "server
    // restarted"), queues what was waiting, loads quotas and starts the scheduling thread.
    Status Start(std::string runner_url);
    void Shutdown();

    // Stores a new workload (scheduling) and queues it.
    Result<Workload> Submit(Workload w);
    // Stops a queued or running workload; `by` names who asked, for the reason shown.
    Result<Workload> Stop(std::int64_t id, const std::string& by);
    // Runner events.
    Status OnRunnerStarted(std::int64_t id);
    bool StopRequested(std::int64_t id);
    // Re-reads quotas from the store and re-runs admission at once.
    Status ReloadQuotas();
    // Called (from a scheduler or backend thread) after a workload reached a final state.
    void AddFinishListener(FinishFn fn);
    // Called (from the thread that got the runner's word) when a workload starts running.
    void AddStartListener(FinishFn fn);
    void SetLaunchHook(LaunchHook hook) { launch_hook_ = std::move(hook); }
    // The environment the launch hook added for a running workload (for the runner's spec).
    std::map<std::string, std::string> LaunchEnv(std::int64_t id);

    Resources Capacity() const { return backend_.Capacity(); }
    // The GPU devices given to a workload, as CUDA_VISIBLE_DEVICES wants them ("0,1"; "" none).
    std::string GpuDevices(std::int64_t id);
    Resources Used();
    int heartbeat_seconds() const { return options_.heartbeat_seconds; }
    std::chrono::milliseconds stop_grace() const { return options_.stop_grace; }

private:
    struct Active {
        std::chrono::steady_clock::time_point launched;
        std::int64_t timeout_seconds = 0;
        bool stop_requested = false;
        bool timed_out = false;
        std::string stopped_by;
    };
    void Loop();
    void Launch(const Workload& w);
    void OnExit(std::int64_t id, const ExitReport& report);
    void Finished(const Workload& w);
    void ReleaseGpusLocked(std::int64_t id);
    void ReleaseExtras(std::int64_t id);
    static QueuedWorkload Queued(const Workload& w);

    WorkloadRecords& records_;
    LogStore& logs_;
    Backend& backend_;
    SchedulerOptions options_;
    std::string runner_url_;

    std::mutex mu_;  // guards everything below
    std::condition_variable wake_;
    bool stopping_ = false;
    bool dirty_ = true;  // something changed: run admission
    AdmissionQueue queue_;
    std::map<std::int64_t, Workload> waiting_;  // queued, by id
    std::map<std::int64_t, Active> active_;     // launched, by id
    std::vector<FinishFn> finish_listeners_;
    std::vector<FinishFn> start_listeners_;
    std::set<int> free_gpus_;
    std::map<std::int64_t, LaunchExtras> extras_;
    LaunchHook launch_hook_;
    std::map<std::int64_t, std::vector<int>> gpus_of_;
    std::thread thread_;
};

}  // namespace lathe::compute
