// The local backend: each workload's runner in a bubblewrap sandbox on this host, with cgroup
// limits, as the unprivileged uid 8536 (CML's cdsw user), the project at /home/cdsw.
#pragma once

#include <filesystem>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "compute/backend.h"

namespace lathe::compute::local {

class Sandbox;

struct LocalBackendOptions {
    std::filesystem::path projects_dir;   // <data-dir>/projects: <id>/files is bound at /home/cdsw
    std::filesystem::path data_dir;       // hidden inside sandboxes
    std::filesystem::path runner_binary;  // this lathe binary
    std::filesystem::path logs_dir;       // runner diagnostics: <id>.runner.log
    std::int64_t reserve_millicores = 0;  // kept back from the host's cores
    std::int64_t reserve_mib = 1024;      // kept back from the host's memory
    std::int64_t gpus = 0;
    unsigned uid = 8536;
    unsigned gid = 8536;
    std::int64_t max_pids = 1024;
    std::filesystem::path staging_root = "/run/lathe";
};

class LocalBackend final : public Backend {
public:
    explicit LocalBackend(LocalBackendOptions options);
    ~LocalBackend() override;

    std::string name() const override { return "local"; }
    Resources Capacity() const override;
    Status Launch(const Workload& w, const std::map<std::string, std::string>& runner_env,
                  ExitFn on_exit) override;
    void Stop(std::int64_t workload_id, std::chrono::milliseconds grace) override;
    bool IsAlive(std::int64_t workload_id) override;
    void Shutdown() override;

private:
    // Runs fn on a detached thread counted in threads_, so Shutdown can wait for all of them
    // without keeping a finished thread's stack around until then.
    void Spawn(std::function<void()> fn);
    // <staging_root>/<server pid>/: the runner binary and one bind mount of each running
    // workload's project files. The sandbox user can reach them there (0711) wherever the data
    // dir lives (under /root, say, which it may not enter).
    std::filesystem::path StagingFor(std::int64_t workload_id) const;
    void Unstage(std::int64_t workload_id);

    LocalBackendOptions options_;
    Resources capacity_;
    std::filesystem::path staging_;
    std::filesystem::path runner_copy_;
    std::string staging_error_;  // set when staging could not be prepared: launches fail with it
    std::mutex mu_;  // guards running_, threads_
    std::condition_variable threads_done_;
    std::map<std::int64_t, std::shared_ptr<Sandbox>> running_;
    int threads_ = 0;  // waiter and stopper threads still going
};

}  // namespace lathe::compute::local
