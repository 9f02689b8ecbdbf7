// The interface every compute backend implements (local sandboxes now; Slurm and Kubernetes later).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "compute/admission.h"
#include "compute/workload.h"
#include "core/error.h"

namespace lathe::compute {

// How a workload's process ended, as the backend saw it.
struct ExitReport {
    int exit_code = -1;
    int signal = 0;
    bool oom_killed = false;
    std::string detail;  // backend-specific context, e.g. "cannot start bwrap: ..."
};

class Backend {
public:
    using ExitFn = std::function<void(std::int64_t workload_id, ExitReport report)>;
    virtual ~Backend() = default;

    virtual std::string name() const = 0;
    // What the backend can run at once (the scheduler admits against it).
    virtual Resources Capacity() const = 0;
    // Starts `lathe runner` for the workload with `runner_env`; returns once it is launched.
    // `on_exit` is called exactly once, from a backend thread, when it ends.
    virtual Status Launch(const Workload& w, const std::map<std::string, std::string>& runner_env,
                          ExitFn on_exit) = 0;
    // Asks it to stop: SIGTERM, then SIGKILL after `grace`. on_exit still reports the end.
    virtual void Stop(std::int64_t workload_id, std::chrono::milliseconds grace) = 0;
    // Whether a workload launched by an earlier server process is still alive (for re-attaching).
    virtual bool IsAlive(std::int64_t workload_id) = 0;
    virtual void Shutdown() = 0;
};

}  // namespace lathe::compute
