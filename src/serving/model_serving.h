// Model serving: builds (snapshot, then the build check in a sandbox), deployments (replica
// workloads, supervision, zero-downtime replacement, autoscaling) and the index the /model
// endpoint routes through.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "compute/log_store.h"
#include "compute/scheduler.h"
#include "compute/workload_records.h"
#include "core/clock.h"
#include "jobs/jobs.h"
#include "projects/environment.h"
#include "serving/models.h"
#include "serving/replica_listener.h"
#include "serving/replica_pool.h"
#include "serving/snapshot.h"
#include "serving/stats_history.h"

namespace lathe::metrics {
class MetricsService;
}

namespace lathe::serving {

struct ServingOptions {
    std::string workspace = "default";
    std::filesystem::path data_dir;  // builds/ and snapshots/ go here
    std::filesystem::path projects_dir;
    std::string listen_host = "127.0.0.1";
    int listen_port = 0;
    std::string advertise;  // host:port replicas dial; empty: the bound address
    unsigned sandbox_uid = 8536;
    unsigned sandbox_gid = 8536;
    compute::Resources build_resources{1000, 2048, 0};
    std::int64_t build_timeout_seconds = 3600;
    std::int64_t max_snapshot_bytes = 10ll << 30;
    // Periods of the control loop and health checks (tests shorten them).
    std::chrono::milliseconds tick{200};
    std::chrono::milliseconds ping_after{5'000};
    std::chrono::milliseconds ping_timeout{10'000};
    // How often the serving history is stored (a kill -9 loses the calls since).
    std::chrono::milliseconds history_flush{60'000};
};

// What a build request names.
struct BuildRequest {
    std::string file_path;
    std::string function_name;
    std::string kernel = "python3";
    std::string comment;
    std::map<std::string, std::string> environment;
};

// Where a model call goes: the model and the pool of its serving deployment (null: none).
struct ServingTarget {
    std::int64_t model_id = 0;
    std::int64_t project_id = 0;
    std::string name;
    std::string access_key;
    bool auth_enabled = true;
    std::int64_t deployment_id = 0;
    std::shared_ptr<ReplicaPool> pool;
};

// A replica as the API shows it.
struct ReplicaInfo {
    std::int64_t workload_id = 0;
    std::string replica_id;
    std::string state;  // the workload's state, or "ready" when connected
    bool ready = false;
    int in_flight = 0;
    std::int64_t requests = 0;
    std::int64_t errors = 0;
    std::string reason;
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> finished_at;
};

class ModelServing {
public:
    ModelServing(ModelRegistry& registry, compute::Scheduler& scheduler,
                 compute::WorkloadRecords& records, compute::LogStore& logs,
                 projects::Environment& environment, jobs::Jobs& jobs, const Clock& clock,
                 ServingOptions options);
    ~ModelServing();

    // Starts the replica listener and control loop, resumes builds and deployments that were
    // under way when the server stopped. `api_url` is the server's URL as workloads reach it;
    // replica connections are served on `io` (the HTTP server's threads) when given.
    Status Start(const std::string& api_url, boost::asio::io_context* io = nullptr);
    // Where tracked predictions go. Set before Start; without it metrics are answered but not
    // stored.
    void SetMetrics(metrics::MetricsService* m);
    // Deployments' per-minute requests, errors and latency; null without metrics.
    ServingHistory* history() { return history_.get(); }
    // Lets calls in flight finish (a few seconds at most), answers the rest with 503, closes the
    // replica connections. Call it while the HTTP server's threads still run.
    void Shutdown();
    const std::string& workspace() const { return options_.workspace; }
    int listener_port() const { return listener_port_; }

    // ---- the API's operations
    Result<Model> CreateModel(std::int64_t project_id, std::int64_t user_id, const std::string& name,
                              const std::string& description, bool auth_enabled);
    Result<Model> UpdateModel(std::int64_t project_id, std::int64_t model_id,
                              std::optional<std::string> description,
                              std::optional<bool> auth_enabled);
    Status DeleteModel(std::int64_t project_id, std::int64_t model_id, const std::string& by);
    // A deleted project's models (gone from the store with it) stop answering to their keys.
    void ForgetProject(std::int64_t project_id);
    Result<Build> StartBuild(std::int64_t project_id, std::int64_t model_id, std::int64_t user_id,
                             const BuildRequest& request);
    // A new build from the very snapshot of `build_id` (same file, function, kernel and
    // build-time variables), to check that it reproduces.
    Result<Build> Rebuild(std::int64_t project_id, std::int64_t model_id, std::int64_t build_id,
                          std::int64_t user_id);
    // How a rebuild differs from the build it repeats, whether that build's stored files are
    // intact, and what changed in the project since: {"build_id", "rebuild_of", "state",
    // "reproduced", "differences": [...], "snapshot_intact", "corrupted_files", "project_changes"}.
    Result<nlohmann::json> Verify(std::int64_t project_id, std::int64_t model_id,
                                  std::int64_t build_id);
    // Calls the model's serving deployment and waits for the answer (body as the replica gave
    // it); kConflict when no deployment serves `build_id`.
    Result<std::string> CallBuild(std::int64_t model_id, std::int64_t build_id,
                                  const std::string& request, std::chrono::milliseconds timeout);
    Result<Deployment> Deploy(std::int64_t project_id, std::int64_t model_id,
                              std::int64_t build_id, std::int64_t user_id,
                              const DeploymentConfig& config);
    Result<Deployment> Stop(std::int64_t deployment_id, const std::string& by);
    Result<Deployment> Restart(std::int64_t deployment_id);
    // The deployment serving the model now, if any.
    std::optional<std::int64_t> ServingDeployment(std::int64_t model_id);
    // Live numbers of a running deployment (nullopt once it ended).
    std::optional<PoolView> Live(std::int64_t deployment_id);
    Result<std::vector<ReplicaInfo>> Replicas(std::int64_t deployment_id);
    const std::vector<jobs::Kernel>& kernels() const { return jobs_.kernels(); }

    // ---- the serving path
    std::optional<ServingTarget> FindByKey(std::string_view access_key);
    // By name, id or access key (the OIP v2 {name}); kConflict when a name is ambiguous.
    Result<ServingTarget> FindModel(std::string_view name);
    // Routes one call to the model's serving deployment; `done` gets the outcome.
    void Call(const ServingTarget& target, std::string request, CallDone done);
    bool AnyDeployed();
    // Prometheus text for every running deployment and replica.
    std::string PrometheusText();

    // ---- scheduler hooks
    // What a replica's launch adds: its token for the listener.
    compute::LaunchExtras ReplicaLaunchExtras(const compute::Workload& w);
    // The per-replica API key the SDK inside a replica uses (LATHE_API_KEY there): valid while
    // the replica's deployment runs, and only for that deployment's metrics.
    struct ReplicaKeyOwner {
        std::int64_t workload_id = 0;
        std::int64_t deployment_id = 0;
        std::int64_t project_id = 0;
    };
    static constexpr std::string_view kReplicaKeyPrefix = "lrk_";
    Result<ReplicaKeyOwner> AuthenticateReplicaKey(std::string_view key);
    void OnWorkloadFinished(const compute::Workload& w);
    // The "<why>" of the last "build failed: <why>" line of a build's log; empty if none.
    std::string LastBuildFailure(std::int64_t workload_id);

private:
    struct ReplicaState {
        std::string replica_id;
        bool ready = false;
        bool retiring = false;   // replaced: stopped once its calls are done
        bool stop_sent = false;
        bool restart_old = false;  // part of a restart's old generation
        std::chrono::steady_clock::time_point submitted;
        std::chrono::steady_clock::time_point ready_at;
    };
    struct Runtime {
        Deployment record;
        Model model;
        Build build;
        std::shared_ptr<ReplicaPool> pool;
        std::map<std::int64_t, ReplicaState> replicas;  // by workload id, live ones
        int desired = 1;
        bool stopping = false;
        DeploymentState final_state = DeploymentState::kStopped;
        std::string stop_reason;
        std::chrono::steady_clock::time_point stop_after;  // drain: wait until then at least
        std::chrono::steady_clock::time_point drain_deadline;
        int failures_before_ready = 0;
        std::string last_failure;
        std::chrono::steady_clock::time_point next_start;
        std::chrono::milliseconds backoff{0};
        // autoscaling
        std::deque<std::pair<std::chrono::steady_clock::time_point, double>> load;
        std::chrono::steady_clock::time_point last_scale;
        std::string scale_note;
    };

    void ControlLoop();
    void TickDeployment(Runtime& rt, std::vector<std::int64_t>& to_stop,
                        std::vector<std::int64_t>& finished);
    void Autoscale(Runtime& rt);
    Status SubmitReplica(Runtime& rt);
    // Also registers the deployment's metrics series.
    Result<std::shared_ptr<ReplicaPool>> NewPool(const Deployment& d, const Model& model,
                                                 const Build& build);
    Runtime* RuntimeOfWorkload(std::int64_t workload_id);
    void BeginStop(Runtime& rt, DeploymentState final_state, const std::string& reason,
                   std::chrono::milliseconds drain_grace);
    void PromoteLocked(Runtime& rt);
    void BuildLoop();
    void RunBuild(std::int64_t build_id);
    void FailBuild(std::int64_t build_id, const std::string& reason);
    // Stores a new build and queues it for the build thread.
    Result<Build> QueueBuild(Build b);
    // Parses the build's lineage.yaml and leaves what the build log should say in
    // .lathe/lineage-check.txt (the worker prints it).
    void WriteLineageCheck(const std::filesystem::path& dir, const std::string& model_name);
    // Adds to a successful build's record what reproducing it needs.
    void AddReproducibility(const Build& build, nlohmann::json& info);
    std::map<std::string, std::string> BaseEnv(std::int64_t project_id);
    std::filesystem::path BuildDir(std::int64_t build_id) const;
    std::string Token(std::int64_t workload_id) const;
    Result<ReplicaListener::Admission> Admit(std::string_view hello);
    void IndexModel(const Model& m);

    ModelRegistry& registry_;
    compute::Scheduler& scheduler_;
    compute::WorkloadRecords& records_;
    compute::LogStore& logs_;
    projects::Environment& environment_;
    jobs::Jobs& jobs_;
    const Clock& clock_;
    metrics::MetricsService* metrics_ = nullptr;
    std::unique_ptr<ServingHistory> history_;
    ServingOptions options_;
    SnapshotStore snapshots_;
    ReplicaListener listener_;
    std::string api_url_;
    std::string advertise_;
    int listener_port_ = 0;
    const std::string token_key_;

    std::mutex mu_;  // guards deployments_, replica_of_, stopping_ (and each Runtime)
    std::condition_variable wake_;
    bool stopping_ = false;
    std::map<std::int64_t, std::unique_ptr<Runtime>> deployments_;
    std::map<std::int64_t, std::int64_t> replica_of_;  // workload id -> deployment id
    std::thread control_;

    // Removes snapshots and build folders no build row needs any more (on the build thread, so
    // no capture is under way and every snapshot captured so far is recorded in its row).
    void CollectGarbage();
    void RequestCollect();

    std::mutex build_mu_;  // guards build_queue_, collect_requested_, collect_retry_
    std::condition_variable build_wake_;
    std::deque<std::int64_t> build_queue_;
    bool collect_requested_ = true;  // once at start, then after deletions
    std::optional<std::chrono::steady_clock::time_point> collect_retry_;
    std::thread builder_;

    std::shared_mutex index_mu_;  // guards the index
    std::map<std::string, ServingTarget, std::less<>> by_key_;
    std::map<std::int64_t, std::string> key_of_model_;
};

}  // namespace lathe::serving
