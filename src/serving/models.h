// Models, builds and deployments in the Store: CML's three objects, their CRNs and state fields.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/admission.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::serving {

enum class BuildState { kQueued, kBuilding, kBuilt, kFailed };
enum class DeploymentState { kPending, kDeploying, kDeployed, kStopping, kStopped, kFailed };

std::string_view BuildStateName(BuildState s);
std::string_view DeploymentStateName(DeploymentState s);
bool IsFinal(DeploymentState s);

struct Model {
    std::int64_t id = 0;
    std::string uuid;
    std::int64_t project_id = 0;
    std::string name;
    std::string description;
    std::string access_key;
    bool auth_enabled = true;
    std::int64_t created_by = 0;
    std::string created_by_name;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::optional<std::int64_t> latest_build_id;
};

struct Build {
    std::int64_t id = 0;
    std::string uuid;
    std::int64_t model_id = 0;
    std::int64_t project_id = 0;
    BuildState state = BuildState::kQueued;
    std::string reason;
    std::string file_path;
    std::string function_name;
    std::string kernel;
    std::string comment;
    std::map<std::string, std::string> environment;
    std::string snapshot;
    std::int64_t snapshot_files = 0;
    std::int64_t snapshot_bytes = 0;
    std::optional<std::int64_t> workload_id;
    nlohmann::json info = nlohmann::json::object();  // what the worker found (python, packages)
    std::int64_t created_by = 0;
    std::string created_by_name;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> rebuild_of;  // rebuilt from that build's snapshot
    std::int64_t version = 0;                // 1, 2, ... per model, in creation order
};

// A name ("champion", "challenger") pointing at one build of a model.
struct ModelAlias {
    std::string alias;
    std::int64_t build_id = 0;
    std::int64_t version = 0;
    std::string set_by;
    std::int64_t set_at = 0;
};

// A request and the answer a build gave, replayed against later builds.
struct BuildExample {
    std::int64_t id = 0;
    std::int64_t build_id = 0;
    std::string request;   // JSON text
    std::string response;  // JSON text
    std::int64_t created_at = 0;
};

inline constexpr std::int64_t kMaxExamplesPerBuild = 1000;

// How a deployment runs and serves; stored as JSON.
struct DeploymentConfig {
    int replicas = 1;
    compute::Resources resources{1000, 2048, 0};
    std::map<std::string, std::string> environment;
    int concurrency = 1;       // calls a replica runs at once
    int pipeline_depth = 4;    // further calls queued at a replica, hiding the round trip
    int queue_size = 1024;     // requests waiting for a replica, per deployment
    int queue_timeout_seconds = 30;
    int request_timeout_seconds = 60;
    int max_batch_size = 0;    // 0: no batching
    int max_delay_ms = 5;
    std::optional<int> min_replicas;  // both set: autoscaling
    std::optional<int> max_replicas;
    bool idempotent = false;   // a call lost with its replica may be retried once elsewhere
    int scale_down_delay_seconds = 30;  // autoscaling: how long load must stay low to remove one

    bool Autoscaling() const { return min_replicas.has_value() && max_replicas.has_value(); }
    nlohmann::json ToJson() const;
    static DeploymentConfig FromJson(const nlohmann::json& j);
};

struct Deployment {
    std::int64_t id = 0;
    std::string uuid;
    std::int64_t model_id = 0;
    std::int64_t build_id = 0;
    std::int64_t project_id = 0;
    DeploymentState state = DeploymentState::kPending;
    std::string reason;
    DeploymentConfig config;
    std::int64_t created_by = 0;
    std::string created_by_name;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> deployed_at;
    std::optional<std::int64_t> stopped_at;
};

// crn:lathe:ml:<workspace>:<kind>/<uuid>
std::string Crn(const std::string& workspace, std::string_view kind, const std::string& uuid);

// The stored records. Thread-safe (the Store is).
class ModelRegistry {
public:
    ModelRegistry(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    Result<Model> CreateModel(std::int64_t project_id, std::int64_t user_id, const std::string& name,
                              const std::string& description, bool auth_enabled);
    Result<Model> GetModel(std::int64_t project_id, std::int64_t model_id);
    Result<Model> GetModelById(std::int64_t model_id);
    static const store::ListSpec& ModelListSpec();
    Result<std::pair<std::vector<Model>, std::string>> ListModels(std::int64_t project_id,
                                                                  const store::ListQuery& q);
    // Every model, for the serving index at start.
    Result<std::vector<Model>> AllModels();
    Result<Model> UpdateModel(std::int64_t project_id, std::int64_t model_id,
                              std::optional<std::string> description,
                              std::optional<bool> auth_enabled);
    Status DeleteModel(std::int64_t project_id, std::int64_t model_id);

    Result<Build> CreateBuild(Build b);
    Result<Build> GetBuild(std::int64_t model_id, std::int64_t build_id);
    Result<Build> GetBuildById(std::int64_t build_id);
    Result<std::optional<Build>> BuildOfWorkload(std::int64_t workload_id);
    static const store::ListSpec& BuildListSpec();
    Result<std::pair<std::vector<Build>, std::string>> ListBuilds(std::int64_t model_id,
                                                                  const store::ListQuery& q);
    Result<std::vector<Build>> BuildsInStates(const std::vector<BuildState>& states);
    Status SetBuildSnapshot(std::int64_t build_id, const std::string& snapshot, std::int64_t files,
                            std::int64_t bytes);
    Status SetBuildWorkload(std::int64_t build_id, std::int64_t workload_id);
    // Moves the build to `state` unless it already ended; sets started/finished times.
    Status SetBuildState(std::int64_t build_id, BuildState state, const std::string& reason,
                         const nlohmann::json* info = nullptr);

    Result<Deployment> CreateDeployment(Deployment d);
    Result<Deployment> GetDeployment(std::int64_t deployment_id);
    static const store::ListSpec& DeploymentListSpec();
    // Of a model (build_id nullopt) or of one build.
    Result<std::pair<std::vector<Deployment>, std::string>> ListDeployments(
        std::int64_t model_id, std::optional<std::int64_t> build_id, const store::ListQuery& q);
    Result<std::vector<Deployment>> DeploymentsInStates(const std::vector<DeploymentState>& states);
    Status SetDeploymentState(std::int64_t deployment_id, DeploymentState state,
                              const std::string& reason);
    Status SetDeploymentConfig(std::int64_t deployment_id, const DeploymentConfig& config);

    Status SetAlias(std::int64_t model_id, const std::string& alias, std::int64_t build_id,
                    std::int64_t user_id);
    Status RemoveAlias(std::int64_t model_id, const std::string& alias);
    Result<std::vector<ModelAlias>> Aliases(std::int64_t model_id);
    Result<BuildExample> AddExample(std::int64_t build_id, const std::string& request,
                                    const std::string& response);
    Result<std::vector<BuildExample>> Examples(std::int64_t build_id);
    // (build id, snapshot id) of every build, for garbage collection.
    Result<std::vector<std::pair<std::int64_t, std::string>>> BuildSnapshots();

    Status AddReplica(std::int64_t workload_id, std::int64_t deployment_id,
                      const std::string& replica_id);
    // (workload id, replica id) of a deployment, oldest first.
    Result<std::vector<std::pair<std::int64_t, std::string>>> Replicas(std::int64_t deployment_id);

private:
    store::Store& store_;
    const Clock& clock_;
};

}  // namespace lathe::serving
