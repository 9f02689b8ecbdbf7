// Model serving: builds, deployments, replica supervision, autoscaling and the serving index.
#include "serving/model_serving.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/log.h"
#include "lineage/lineage_yaml.h"
#include "metrics/metrics_service.h"

namespace lathe::serving {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

constexpr const char* kWorkerInside = "/home/.lathe/runtime/lathe_worker.py";
constexpr int kMaxFailuresBeforeReady = 3;
constexpr auto kMaxBackoff = std::chrono::milliseconds(30'000);
constexpr auto kScaleUpCooldown = std::chrono::seconds(5);

std::string Plural(std::int64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

ModelServing::ModelServing(ModelRegistry& registry, compute::Scheduler& scheduler,
                           compute::WorkloadRecords& records, compute::LogStore& logs,
                           projects::Environment& environment, jobs::Jobs& jobs,
                           const Clock& clock, ServingOptions options)
    : registry_(registry),
      scheduler_(scheduler),
      records_(records),
      logs_(logs),
      environment_(environment),
      jobs_(jobs),
      clock_(clock),
      options_(std::move(options)),
      snapshots_(options_.data_dir / "snapshots"),
      token_key_(RandomToken(32)) {}

ModelServing::~ModelServing() { Shutdown(); }

fs::path ModelServing::BuildDir(std::int64_t build_id) const {
    return options_.data_dir / "builds" / std::to_string(build_id);
}

std::string ModelServing::Token(std::int64_t workload_id) const {
    const std::string id = std::to_string(workload_id);
    return id + "." + HmacSha256Hex(token_key_, "replica:" + id);
}

Status ModelServing::Start(const std::string& api_url, boost::asio::io_context* io) {
    api_url_ = api_url;
    std::error_code ec;
    fs::create_directories(options_.data_dir / "builds", ec);
    if (ec) {
        return MakeError(ErrorCode::kUnavailable,
                         "cannot create " + (options_.data_dir / "builds").string() + ": " +
                             ec.message());
    }
    auto port = listener_.Start(
        options_.listen_host, options_.listen_port,
        [this](std::string_view hello) { return Admit(hello); },
        [this](std::int64_t workload_id) {
            std::lock_guard lock(mu_);
            if (Runtime* rt = RuntimeOfWorkload(workload_id)) {
                auto it = rt->replicas.find(workload_id);
                if (it != rt->replicas.end()) {
                    it->second.ready = true;
                    it->second.ready_at = Steady::now();
                    rt->failures_before_ready = 0;
                    rt->backoff = std::chrono::milliseconds(0);
                }
            }
            wake_.notify_all();
        },
        [this](std::int64_t, const std::string&) { wake_.notify_all(); }, io);
    if (!port) {
        return std::unexpected(port.error());
    }
    listener_port_ = *port;
    advertise_ = options_.advertise.empty()
                     ? options_.listen_host + ":" + std::to_string(listener_port_)
                     : options_.advertise;

    ASSIGN_OR_RETURN(auto models, registry_.AllModels());
    for (const auto& m : models) {
        IndexModel(m);
    }
    // Builds that were under way: their sandboxes died with the old server.
    ASSIGN_OR_RETURN(auto builds,
                     registry_.BuildsInStates({BuildState::kQueued, BuildState::kBuilding}));
    for (const auto& b : builds) {
        if (b.workload_id) {
            FailBuild(b.id, "the server restarted during the build; start a new build");
        } else {
            std::lock_guard lock(build_mu_);
            build_queue_.push_back(b.id);
        }
    }
    // Deployments that were serving come back: their replicas start again.
    ASSIGN_OR_RETURN(auto deps, registry_.DeploymentsInStates(
                                    {DeploymentState::kPending, DeploymentState::kDeploying,
                                     DeploymentState::kDeployed, DeploymentState::kStopping}));
    for (const auto& d : deps) {
        if (d.state == DeploymentState::kStopping) {
            (void)registry_.SetDeploymentState(d.id, DeploymentState::kStopped,
                                               d.reason.empty() ? "stopped" : d.reason);
            continue;
        }
        auto model = registry_.GetModelById(d.model_id);
        auto build = registry_.GetBuildById(d.build_id);
        auto pool = model && build ? NewPool(d, *model, *build)
                                   : Result<std::shared_ptr<ReplicaPool>>(std::shared_ptr<ReplicaPool>());
        if (!model || !build || !pool || !*pool) {
            (void)registry_.SetDeploymentState(d.id, DeploymentState::kFailed,
                                               "could not resume after a restart");
            continue;
        }
        auto rt = std::make_unique<Runtime>();
        rt->record = d;
        rt->model = *model;
        rt->build = *build;
        rt->pool = *pool;
        rt->desired = d.config.Autoscaling() ? *d.config.min_replicas : d.config.replicas;
        (void)registry_.SetDeploymentState(d.id, DeploymentState::kDeploying,
                                           "resuming after a server restart");
        rt->record.state = DeploymentState::kDeploying;
        std::lock_guard lock(mu_);
        deployments_[d.id] = std::move(rt);
    }
    control_ = std::thread([this] { ControlLoop(); });
    builder_ = std::thread([this] { BuildLoop(); });
    if (history_) {
        history_->Start();
    }
    return {};
}

void ModelServing::SetMetrics(metrics::MetricsService* m) {
    metrics_ = m;
    history_ = m == nullptr ? nullptr
                            : std::make_unique<ServingHistory>(m->store(), clock_,
                                                               options_.history_flush);
}

void ModelServing::Shutdown() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            return;
        }
        stopping_ = true;
    }
    wake_.notify_all();
    {
        std::lock_guard lock(build_mu_);
        build_queue_.clear();
    }
    build_wake_.notify_all();
    if (control_.joinable()) {
        control_.join();
    }
    if (builder_.joinable()) {
        builder_.join();
    }
    std::vector<std::shared_ptr<ReplicaPool>> pools;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, rt] : deployments_) {
            pools.push_back(rt->pool);
        }
    }
    // Calls already at a replica usually finish in milliseconds: give them a moment.
    const auto deadline = Steady::now() + std::chrono::seconds(3);
    for (auto& p : pools) {
        while (Steady::now() < deadline) {
            const PoolView v = p->View();
            if (v.in_flight == 0 && v.queued == 0) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    for (auto& p : pools) {
        p->Close("the server is shutting down; try again shortly");
    }
    listener_.Shutdown();
    if (history_) {
        history_->Stop();
    }
}

// ---- the index

void ModelServing::IndexModel(const Model& m) {
    std::unique_lock lock(index_mu_);
    if (auto old = key_of_model_.find(m.id); old != key_of_model_.end()) {
        auto it = by_key_.find(old->second);
        ServingTarget keep;
        if (it != by_key_.end()) {
            keep = it->second;
            by_key_.erase(it);
        }
        keep.model_id = m.id;
        keep.project_id = m.project_id;
        keep.name = m.name;
        keep.access_key = m.access_key;
        keep.auth_enabled = m.auth_enabled;
        by_key_[m.access_key] = keep;
    } else {
        by_key_[m.access_key] =
            ServingTarget{m.id, m.project_id, m.name, m.access_key, m.auth_enabled, 0, nullptr};
    }
    key_of_model_[m.id] = m.access_key;
}

std::optional<ServingTarget> ModelServing::FindByKey(std::string_view access_key) {
    std::shared_lock lock(index_mu_);
    auto it = by_key_.find(access_key);
    if (it == by_key_.end()) {
        return std::nullopt;
    }
    return it->second;
}

Result<ServingTarget> ModelServing::FindModel(std::string_view name) {
    if (auto t = FindByKey(name)) {
        return *t;
    }
    std::shared_lock lock(index_mu_);
    std::vector<const ServingTarget*> found;
    for (const auto& [key, t] : by_key_) {
        if (t.name == name || std::to_string(t.model_id) == name) {
            found.push_back(&t);
        }
    }
    if (found.empty()) {
        return MakeError(ErrorCode::kNotFound, "no model named '" + std::string(name) + "'");
    }
    if (found.size() > 1) {
        return MakeError(ErrorCode::kConflict,
                         "several models are named '" + std::string(name) +
                             "'; use the model's id or access key instead of its name");
    }
    return *found.front();
}

void ModelServing::Call(const ServingTarget& target, std::string request, CallDone done) {
    if (!target.pool) {
        CallOutcome o;
        o.status = 503;
        o.body = "model '" + target.name + "' has no running deployment; deploy a build first";
        done(std::move(o));
        return;
    }
    // A deployment being replaced keeps taking calls for a grace period after the switch, so a
    // call that looked it up just before still lands.
    if (metrics_ == nullptr) {
        target.pool->Submit(std::move(request), std::move(done));
        return;
    }
    // A tracked prediction is answered once its record is committed, so a caller that got a
    // uuid can always attach delayed metrics to it, even across a crash of the server. Calls
    // of deployments that send records are tracked calls: while some run, the writer gathers
    // their records into one commit.
    const std::int64_t deployment = target.pool->deployment_id();
    const bool tracked = metrics_->SendsRecords(deployment);
    if (tracked) {
        metrics_->writer().BeginTrackedCall();
    }
    target.pool->Submit(
        std::move(request),
        [metrics = metrics_, deployment, tracked,
         done = std::move(done)](CallOutcome&& o) mutable {
            if (o.status != 200 || o.meta.empty()) {
                if (tracked) {
                    metrics->writer().EndTrackedCall();
                }
                done(std::move(o));
                return;
            }
            if (!tracked) {
                metrics->NoteSendsRecords(deployment);
            }
            auto record = metrics::RecordFromMeta(o.meta, deployment, o.start_ms, o.fn_ns);
            if (!record) {
                if (tracked) {
                    metrics->writer().EndTrackedCall();
                }
                LogWarn("a replica sent metrics that are not stored",
                        {{"deployment", deployment}, {"error", record.error().message}});
                done(std::move(o));
                return;
            }
            auto shared = std::make_shared<std::pair<CallOutcome, CallDone>>(std::move(o),
                                                                             std::move(done));
            const bool queued = metrics->Record(std::move(*record), [shared](const Status& st) {
                CallOutcome& out = shared->first;
                if (!st) {
                    out.status = 503;
                    out.body = "the prediction's metrics could not be stored: " +
                               st.error().message;
                    out.retry_after_seconds = 1;
                }
                shared->second(std::move(out));
            }, tracked);
            if (!queued) {
                CallOutcome& out = shared->first;
                out.status = 503;
                out.body = "the metrics store is behind; retry shortly";
                out.retry_after_seconds = 1;
                shared->second(std::move(out));
            }
        });
}

bool ModelServing::AnyDeployed() {
    std::shared_lock lock(index_mu_);
    for (const auto& [key, t] : by_key_) {
        if (t.pool) {
            return true;
        }
    }
    return false;
}

// ---- models

Result<Model> ModelServing::CreateModel(std::int64_t project_id, std::int64_t user_id,
                                        const std::string& name, const std::string& description,
                                        bool auth_enabled) {
    if (name.empty() || name.size() > 200) {
        return MakeError(ErrorCode::kBadRequest, "a model needs a name of 1 to 200 characters");
    }
    if (description.size() > 10000) {
        return MakeError(ErrorCode::kBadRequest, "a model's description is at most 10000 characters");
    }
    ASSIGN_OR_RETURN(Model m,
                     registry_.CreateModel(project_id, user_id, name, description, auth_enabled));
    IndexModel(m);
    return m;
}

Result<Model> ModelServing::UpdateModel(std::int64_t project_id, std::int64_t model_id,
                                        std::optional<std::string> description,
                                        std::optional<bool> auth_enabled) {
    if (description && description->size() > 10000) {
        return MakeError(ErrorCode::kBadRequest, "a model's description is at most 10000 characters");
    }
    ASSIGN_OR_RETURN(Model m, registry_.UpdateModel(project_id, model_id, std::move(description),
                                                    auth_enabled));
    IndexModel(m);
    return m;
}

Status ModelServing::DeleteModel(std::int64_t project_id, std::int64_t model_id,
                                 const std::string& by) {
    ASSIGN_OR_RETURN(Model m, registry_.GetModel(project_id, model_id));
    {
        std::unique_lock lock(index_mu_);
        by_key_.erase(m.access_key);
        key_of_model_.erase(m.id);
    }
    std::vector<std::int64_t> deps;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, rt] : deployments_) {
            if (rt->record.model_id == model_id) {
                deps.push_back(id);
            }
        }
    }
    for (auto id : deps) {
        (void)Stop(id, by);
    }
    // The replicas' workloads end in the background; the model's records go now (deployments
    // still stopping keep their runtime until their replicas are gone), its files soon after.
    RETURN_IF_ERROR(registry_.DeleteModel(project_id, model_id));
    RequestCollect();
    return {};
}

void ModelServing::ForgetProject(std::int64_t project_id) {
    {
        std::unique_lock lock(index_mu_);
        for (auto it = by_key_.begin(); it != by_key_.end();) {
            if (it->second.project_id == project_id) {
                key_of_model_.erase(it->second.model_id);
                it = by_key_.erase(it);
            } else {
                ++it;
            }
        }
    }
    RequestCollect();
}

// ---- builds

std::map<std::string, std::string> ModelServing::BaseEnv(std::int64_t project_id) {
    std::map<std::string, std::string> env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                              {"HOME", "/home/cdsw"},
                                              {"LANG", "C.UTF-8"},
                                              {"PYTHONUNBUFFERED", "1"},
                                              {"PYTHONPATH", "/home/.lathe/sdk"},
                                              {"TMPDIR", "/tmp"}};
    auto project_env = environment_.Reveal(project_id);
    if (project_env) {
        for (const auto& v : *project_env) {
            env[v.name] = v.value.value_or("");
        }
    }
    return env;
}

Result<Build> ModelServing::StartBuild(std::int64_t project_id, std::int64_t model_id,
                                       std::int64_t user_id, const BuildRequest& request) {
    ASSIGN_OR_RETURN(Model model, registry_.GetModel(project_id, model_id));
    const std::string& file = request.file_path;
    fs::path rel = fs::path(file).lexically_normal();
    if (file.empty() || rel.is_absolute() || rel.string().starts_with("..") ||
        rel.extension() != ".py") {
        return MakeError(ErrorCode::kBadRequest,
                         "file_path must name a .py file in the project, e.g. predict.py");
    }
    const fs::path host_file = options_.projects_dir / std::to_string(project_id) / "files" / rel;
    std::error_code ec;
    if (!fs::is_regular_file(host_file, ec)) {
        return MakeError(ErrorCode::kBadRequest,
                         "the project has no file " + rel.generic_string() + "; upload it first");
    }
    const std::string& fn = request.function_name;
    bool identifier = !fn.empty() && (std::isalpha(static_cast<unsigned char>(fn[0])) || fn[0] == '_');
    for (char c : fn) {
        identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    }
    if (!identifier) {
        return MakeError(ErrorCode::kBadRequest,
                         "function_name must be a Python function name, e.g. predict");
    }
    const auto& kernels = jobs_.kernels();
    auto kernel = std::find_if(kernels.begin(), kernels.end(),
                               [&](const jobs::Kernel& k) { return k.name == request.kernel; });
    if (kernel == kernels.end()) {
        std::string names;
        for (const auto& k : kernels) {
            names += (names.empty() ? "" : ", ") + k.name;
        }
        return MakeError(ErrorCode::kBadRequest,
                         "unknown kernel '" + request.kernel + "'; this server offers " + names);
    }
    for (const auto& [k, v] : request.environment) {
        RETURN_IF_ERROR(projects::ValidateEnvName(k));
    }
    Build b;
    b.model_id = model.id;
    b.project_id = project_id;
    b.file_path = rel.generic_string();
    b.function_name = fn;
    b.kernel = request.kernel;
    b.comment = request.comment;
    b.environment = request.environment;
    b.created_by = user_id;
    return QueueBuild(std::move(b));
}

Result<Build> ModelServing::QueueBuild(Build b) {
    ASSIGN_OR_RETURN(Build created, registry_.CreateBuild(std::move(b)));
    {
        std::lock_guard lock(build_mu_);
        build_queue_.push_back(created.id);
    }
    build_wake_.notify_all();
    return created;
}

Result<Build> ModelServing::Rebuild(std::int64_t project_id, std::int64_t model_id,
                                    std::int64_t build_id, std::int64_t user_id) {
    ASSIGN_OR_RETURN(Build source, registry_.GetBuild(model_id, build_id));
    if (source.project_id != project_id) {
        return MakeError(ErrorCode::kNotFound, "build " + std::to_string(build_id) +
                                                   " does not exist");
    }
    if (source.snapshot.empty()) {
        return MakeError(ErrorCode::kConflict, "build " + std::to_string(build_id) +
                                                   " has no snapshot yet; wait until it ran");
    }
    Build b;
    b.model_id = model_id;
    b.project_id = project_id;
    b.file_path = source.file_path;
    b.function_name = source.function_name;
    b.kernel = source.kernel;
    b.comment = "rebuild of build " + std::to_string(build_id);
    b.environment = source.environment;
    b.created_by = user_id;
    b.rebuild_of = build_id;
    return QueueBuild(std::move(b));
}

void ModelServing::WriteLineageCheck(const fs::path& dir, const std::string& model_name) {
    std::ifstream in(dir / "lineage.yaml", std::ios::binary);
    std::string text;
    if (in) {
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::string report;
    if (!in) {
        report = "no lineage.yaml: the build's training data is what jobs recorded\n";
    } else {
        auto file = lineage::ParseLineageYaml(text);
        for (const auto& p : file.problems) {
            report += "warning: " + p + "\n";
        }
        auto entry = file.models.find(model_name);
        if (entry == file.models.end()) {
            report += "lineage.yaml has no entry for \"" + model_name + "\"";
            if (!file.models.empty()) {
                report += " (it names";
                int shown = 0;
                for (const auto& [name, _] : file.models) {
                    if (shown++ == 5) {
                        report += " ...";
                        break;
                    }
                    report += " \"" + name + "\"";
                }
                report += ")";
            }
            report += "\n";
        } else {
            report += "lineage.yaml: \"" + model_name + "\" trained on " +
                      std::to_string(entry->second.hive_tables.size() +
                                     entry->second.datasets.size()) +
                      " dataset(s)\n";
        }
    }
    std::error_code ec;
    fs::create_directories(dir / ".lathe", ec);
    // A project file of that name is a hard link to a shared, content-addressed blob: writing
    // through it would change every build holding that content. Replace it, never open it.
    const fs::path target = dir / ".lathe" / "lineage-check.txt";
    fs::remove(target, ec);
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        LogWarn("cannot write the build's lineage check", {{"path", target.string()}});
        return;
    }
    std::string_view rest = report;
    while (!rest.empty()) {
        const ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(fd);
}

void ModelServing::AddReproducibility(const Build& build, json& info) {
    const fs::path dir = BuildDir(build.id);
    std::ifstream in(dir / "lineage.yaml", std::ios::binary);
    if (in) {
        std::string text(std::istreambuf_iterator<char>(in), {});
        info["lineage_yaml"] = text.size() <= 65536 ? json(lineage::ValidUtf8(text)) : json(nullptr);
        info["lineage_yaml_sha256"] = Sha256Hex(text);
        auto file = lineage::ParseLineageYaml(text);
        info["lineage_problems"] = file.problems;
        auto model = registry_.GetModelById(build.model_id);
        if (model) {
            auto entry = file.models.find(model->name);
            if (entry != file.models.end()) {
                info["lineage"] = lineage::DeclarationJson(entry->second);
            }
        }
    }
    // Names only: values may be secrets.
    std::set<std::string> names;
    for (const auto& [k, _] : build.environment) {
        names.insert(k);
    }
    if (auto project_env = environment_.List(build.project_id)) {
        for (const auto& v : *project_env) {
            names.insert(v.name);
        }
    }
    info["environment_names"] = names;
    info["snapshot"] = build.snapshot;
    info["kernel"] = build.kernel;
}

Result<json> ModelServing::Verify(std::int64_t project_id, std::int64_t model_id,
                                  std::int64_t build_id) {
    ASSIGN_OR_RETURN(Build rebuilt, registry_.GetBuild(model_id, build_id));
    if (rebuilt.project_id != project_id) {
        return MakeError(ErrorCode::kNotFound, "build " + std::to_string(build_id) +
                                                   " does not exist");
    }
    if (!rebuilt.rebuild_of) {
        return MakeError(ErrorCode::kBadRequest,
                         "build " + std::to_string(build_id) +
                             " is not a rebuild; start one with POST .../builds/" +
                             std::to_string(build_id) + ":rebuild and verify that");
    }
    ASSIGN_OR_RETURN(Build source, registry_.GetBuildById(*rebuilt.rebuild_of));
    json out = {{"build_id", build_id},
                {"rebuild_of", source.id},
                {"state", BuildStateName(rebuilt.state)},
                {"snapshot", source.snapshot}};
    json differences = json::array();
    auto differ = [&](const std::string& what, const json& before, const json& after) {
        if (before != after) {
            differences.push_back({{"field", what}, {"original", before}, {"rebuild", after}});
        }
    };
    if (rebuilt.state == BuildState::kBuilt) {
        const json& a = source.info;
        const json& b = rebuilt.info;
        for (const char* key : {"python", "interpreter", "file", "function", "kernel",
                                "build_script_output_sha256", "environment_names",
                                "lineage_yaml_sha256"}) {
            differ(key, a.value(key, json(nullptr)), b.value(key, json(nullptr)));
        }
        // Packages compared by name, so one added or changed version reads as such.
        std::map<std::string, std::string> pa;
        std::map<std::string, std::string> pb;
        for (const auto& [src, dst] : {std::pair{&a, &pa}, std::pair{&b, &pb}}) {
            if (src->contains("packages") && (*src)["packages"].is_array()) {
                for (const auto& p : (*src)["packages"]) {
                    if (p.is_object()) {
                        (*dst)[p.value("name", "")] = p.value("version", "");
                    }
                }
            }
        }
        for (const auto& [name, version] : pa) {
            auto other = pb.find(name);
            differ("package " + name, version,
                   other == pb.end() ? json(nullptr) : json(other->second));
        }
        for (const auto& [name, version] : pb) {
            if (!pa.count(name)) {
                differ("package " + name, nullptr, version);
            }
        }
    }
    out["differences"] = differences;
    if (rebuilt.state == BuildState::kFailed) {
        out["reason"] = rebuilt.reason;
    }
    ASSIGN_OR_RETURN(auto corrupted, snapshots_.Verify(source.snapshot));
    // Built from stored files that no longer match their hashes is not a reproduction.
    out["reproduced"] =
        rebuilt.state == BuildState::kBuilt && differences.empty() && corrupted.empty();
    out["snapshot_intact"] = corrupted.empty();
    out["corrupted_files"] = corrupted;
    ASSIGN_OR_RETURN(Snapshot snap, snapshots_.Load(source.snapshot));
    const fs::path files = options_.projects_dir / std::to_string(project_id) / "files";
    ASSIGN_OR_RETURN(SnapshotDiff diff, DiffWithDirectory(snap, files));
    out["project_changes"] = {{"changed", diff.changed},
                              {"added", diff.added},
                              {"removed", diff.removed},
                              {"truncated", diff.truncated}};
    return out;
}

Result<std::string> ModelServing::CallBuild(std::int64_t model_id, std::int64_t build_id,
                                            const std::string& request,
                                            std::chrono::milliseconds timeout) {
    std::optional<ServingTarget> target;
    {
        std::shared_lock lock(index_mu_);
        auto key = key_of_model_.find(model_id);
        if (key != key_of_model_.end()) {
            auto t = by_key_.find(key->second);
            if (t != by_key_.end()) {
                target = t->second;
            }
        }
    }
    if (!target || !target->pool) {
        return MakeError(ErrorCode::kConflict, "the model has no running deployment; deploy build " +
                                                   std::to_string(build_id) + " first");
    }
    {
        std::lock_guard lock(mu_);
        auto rt = deployments_.find(target->deployment_id);
        if (rt == deployments_.end() || rt->second->build.id != build_id) {
            return MakeError(ErrorCode::kConflict,
                             "the model's running deployment serves another build; deploy build " +
                                 std::to_string(build_id) + " first");
        }
    }
    auto promise = std::make_shared<std::promise<CallOutcome>>();
    auto future = promise->get_future();
    Call(*target, request, [promise](CallOutcome outcome) { promise->set_value(std::move(outcome)); });
    if (future.wait_for(timeout) != std::future_status::ready) {
        return MakeError(ErrorCode::kUnavailable, "the model did not answer in time");
    }
    CallOutcome outcome = future.get();
    if (outcome.status != 200) {
        return MakeError(outcome.status == 500 ? ErrorCode::kBadRequest : ErrorCode::kUnavailable,
                         "the model answered " + std::to_string(outcome.status) + ": " +
                             outcome.body.substr(0, 2000));
    }
    return std::move(outcome.body);
}

void ModelServing::FailBuild(std::int64_t build_id, const std::string& reason) {
    auto st = registry_.SetBuildState(build_id, BuildState::kFailed, reason);
    if (!st) {
        LogWarn("cannot record a failed build", {{"build", build_id}, {"error", st.error().message}});
    }
}

void ModelServing::BuildLoop() {
    for (;;) {
        std::int64_t id = 0;
        bool collect = false;
        {
            std::unique_lock lock(build_mu_);
            auto ready = [this] {
                std::lock_guard inner(mu_);
                return stopping_ || !build_queue_.empty() || collect_requested_ ||
                       (collect_retry_ && Steady::now() >= *collect_retry_);
            };
            if (collect_retry_) {
                build_wake_.wait_until(lock, *collect_retry_, ready);
            } else {
                build_wake_.wait(lock, ready);
            }
            {
                std::lock_guard inner(mu_);
                if (stopping_) {
                    return;
                }
            }
            if (!build_queue_.empty()) {
                id = build_queue_.front();
                build_queue_.pop_front();
            } else if (collect_requested_ || (collect_retry_ && Steady::now() >= *collect_retry_)) {
                collect_requested_ = false;
                collect_retry_.reset();
                collect = true;
            } else {
                continue;
            }
        }
        if (collect) {
            CollectGarbage();
        } else {
            RunBuild(id);
        }
    }
}

void ModelServing::RequestCollect() {
    {
        std::lock_guard lock(build_mu_);
        collect_requested_ = true;
    }
    build_wake_.notify_all();
}

void ModelServing::CollectGarbage() {
    auto rows = registry_.BuildSnapshots();
    if (!rows) {
        LogWarn("cannot collect unused build files", {{"error", rows.error().message}});
        return;
    }
    std::set<std::string> live;
    std::set<std::int64_t> builds;
    for (const auto& [build_id, snapshot] : *rows) {
        builds.insert(build_id);
        if (!snapshot.empty()) {
            live.insert(snapshot);
        }
    }
    std::set<std::int64_t> in_use;  // replicas of a deleted model may still run from its folder
    {
        std::lock_guard lock(mu_);
        for (const auto& [_, rt] : deployments_) {
            in_use.insert(rt->build.id);
        }
    }
    auto stats = snapshots_.Collect(live);
    if (!stats) {
        LogWarn("cannot collect unused snapshots", {{"error", stats.error().message}});
    }
    std::int64_t removed = 0;
    bool busy = false;
    std::error_code ec;
    for (fs::directory_iterator it(options_.data_dir / "builds", ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::int64_t id = 0;
        auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), id);
        if (err != std::errc() || ptr != name.data() + name.size() || builds.count(id)) {
            continue;
        }
        if (in_use.count(id)) {
            busy = true;
            continue;
        }
        std::error_code rm;
        fs::remove_all(it->path(), rm);
        if (rm) {
            LogWarn("cannot remove a deleted build's folder",
                    {{"dir", it->path().string()}, {"error", rm.message()}});
        } else {
            ++removed;
        }
    }
    if (removed > 0 || (stats && stats->blobs_removed > 0)) {
        LogInfo("collected unused build files",
                {{"build_folders", removed},
                 {"blobs", stats ? stats->blobs_removed : 0},
                 {"bytes", stats ? stats->bytes_freed : 0}});
    }
    if (busy) {
        std::lock_guard lock(build_mu_);
        collect_retry_ = Steady::now() + std::chrono::seconds(30);
    }
}

void ModelServing::RunBuild(std::int64_t build_id) {
    auto build = registry_.GetBuildById(build_id);
    if (!build) {
        return;  // the model was deleted meanwhile
    }
    const fs::path files = options_.projects_dir / std::to_string(build->project_id) / "files";
    Result<Snapshot> snapshot = MakeError(ErrorCode::kInternal, "no snapshot");
    if (build->rebuild_of) {
        // A rebuild uses the very files of the build it repeats, whatever the project holds now.
        auto source = registry_.GetBuildById(*build->rebuild_of);
        if (!source || source->snapshot.empty()) {
            FailBuild(build_id, "build " + std::to_string(*build->rebuild_of) +
                                    " has no snapshot to rebuild from");
            return;
        }
        snapshot = snapshots_.Load(source->snapshot);
        if (!snapshot) {
            FailBuild(build_id, "the snapshot of build " + std::to_string(*build->rebuild_of) +
                                    " is gone: " + snapshot.error().message);
            return;
        }
        auto corrupted = snapshots_.Verify(source->snapshot);
        if (!corrupted || !corrupted->empty()) {
            std::string names;
            for (const auto& path : corrupted ? *corrupted : std::vector<std::string>{}) {
                names += (names.empty() ? "" : ", ") + path;
            }
            FailBuild(build_id, "the stored files of build " +
                                    std::to_string(*build->rebuild_of) +
                                    (corrupted ? " changed on disk since it was built: " + names
                                               : " cannot be checked: " +
                                                     corrupted.error().message));
            return;
        }
    } else {
        CaptureLimits limits;
        limits.max_bytes = options_.max_snapshot_bytes;
        snapshot = snapshots_.Capture(files, limits);
        if (!snapshot) {
            FailBuild(build_id, "cannot snapshot the project's files: " + snapshot.error().message);
            return;
        }
    }
    (void)registry_.SetBuildSnapshot(build_id, snapshot->id,
                                     static_cast<std::int64_t>(snapshot->files.size()),
                                     snapshot->total_bytes);
    const fs::path dir = BuildDir(build_id);
    std::error_code ec;
    fs::remove_all(dir, ec);
    auto made = snapshots_.Materialize(snapshot->id, dir, options_.sandbox_uid,
                                       options_.sandbox_gid);
    if (!made) {
        FailBuild(build_id, "cannot prepare the build's files: " + made.error().message);
        return;
    }
    const auto& kernels = jobs_.kernels();
    auto kernel = std::find_if(kernels.begin(), kernels.end(),
                               [&](const jobs::Kernel& k) { return k.name == build->kernel; });
    if (kernel == kernels.end()) {
        FailBuild(build_id, "the kernel '" + build->kernel + "' is no longer offered");
        return;
    }
    auto model = registry_.GetModelById(build->model_id);
    if (!model) {
        return;
    }
    WriteLineageCheck(dir, model->name);
    compute::Workload w;
    w.project_id = build->project_id;
    w.owner_user_id = build->created_by;
    w.kind = compute::WorkloadKind::kModelBuild;
    w.trigger = "build";
    w.spec.argv = {kernel->interpreter, kWorkerInside, "build"};
    w.spec.env = BaseEnv(build->project_id);
    for (const auto& [k, v] : build->environment) {
        w.spec.env[k] = v;
    }
    w.spec.env["LATHE_MODEL_FILE"] = build->file_path;
    w.spec.env["LATHE_MODEL_FUNCTION"] = build->function_name;
    w.spec.env["LATHE_API_URL"] = api_url_;
    w.spec.env["LATHE_PROJECT_ID"] = std::to_string(build->project_id);
    w.spec.env["CDSW_PROJECT_ID"] = std::to_string(build->project_id);
    w.spec.env["LATHE_MODEL_ID"] = std::to_string(build->model_id);
    w.spec.env["LATHE_MODEL_BUILD_ID"] = std::to_string(build_id);
    w.spec.env["LATHE_MODEL_CRN"] = Crn(options_.workspace, "model", model->uuid);
    w.spec.env["LATHE_MODEL_BUILD_CRN"] = Crn(options_.workspace, "model-build", build->uuid);
    w.spec.resources = options_.build_resources;
    w.spec.timeout_seconds = options_.build_timeout_seconds;
    w.spec.home_dir = dir.string();
    w.spec.home_readonly = false;
    auto submitted = scheduler_.Submit(std::move(w));
    if (!submitted) {
        FailBuild(build_id, "cannot start the build: " + submitted.error().message);
        return;
    }
    (void)registry_.SetBuildWorkload(build_id, submitted->id);
    (void)registry_.SetBuildState(build_id, BuildState::kBuilding, "");
}

// ---- deployments

Result<std::shared_ptr<ReplicaPool>> ModelServing::NewPool(const Deployment& d,
                                                          const Model& model,
                                                          const Build& build) {
    if (metrics_ != nullptr) {
        metrics::Series series;
        series.deployment_id = d.id;
        series.project_id = d.project_id;
        series.model_id = d.model_id;
        series.build_id = d.build_id;
        series.model_crn = Crn(options_.workspace, "model", model.uuid);
        series.build_crn = Crn(options_.workspace, "model-build", build.uuid);
        series.deployment_crn = Crn(options_.workspace, "model-deployment", d.uuid);
        RETURN_IF_ERROR(metrics_->RegisterDeployment(series));
    }
    PoolSettings s;
    s.deployment_id = d.id;
    s.concurrency = d.config.concurrency;
    s.pipeline_depth = d.config.pipeline_depth;
    s.queue_size = d.config.queue_size;
    s.queue_timeout = std::chrono::seconds(d.config.queue_timeout_seconds);
    s.request_timeout = std::chrono::seconds(d.config.request_timeout_seconds);
    s.max_batch_size = d.config.max_batch_size;
    s.max_delay = std::chrono::milliseconds(d.config.max_delay_ms);
    s.idempotent = d.config.idempotent;
    s.ping_after = options_.ping_after;
    s.ping_timeout = options_.ping_timeout;
    auto pool = std::make_shared<ReplicaPool>(
        "deployment " + std::to_string(d.id), s,
        [this](std::chrono::milliseconds delay, std::function<void()> fn) {
            listener_.After(delay, std::move(fn));
        },
        [this](std::int64_t workload_id, const std::string& reason) {
            LogWarn("replacing an unhealthy model replica",
                    {{"workload", workload_id}, {"reason", reason}});
            (void)scheduler_.Stop(workload_id, "serving (" + reason + ")");
        });
    if (history_) {
        history_->Track(pool);
    }
    return pool;
}

Result<Deployment> ModelServing::Deploy(std::int64_t project_id, std::int64_t model_id,
                                        std::int64_t build_id, std::int64_t user_id,
                                        const DeploymentConfig& config) {
    ASSIGN_OR_RETURN(Model model, registry_.GetModel(project_id, model_id));
    ASSIGN_OR_RETURN(Build build, registry_.GetBuild(model_id, build_id));
    if (build.state != BuildState::kBuilt) {
        return MakeError(ErrorCode::kConflict,
                         "build " + std::to_string(build_id) + " is " +
                             std::string(BuildStateName(build.state)) +
                             "; only a built build can be deployed");
    }
    std::error_code ec;
    if (!fs::is_directory(BuildDir(build_id), ec)) {
        return MakeError(ErrorCode::kConflict, "build " + std::to_string(build_id) +
                                                   "'s files are gone; start a new build");
    }
    Deployment d;
    d.model_id = model_id;
    d.build_id = build_id;
    d.project_id = project_id;
    d.config = config;
    d.created_by = user_id;
    ASSIGN_OR_RETURN(Deployment created, registry_.CreateDeployment(std::move(d)));
    ASSIGN_OR_RETURN(auto pool, NewPool(created, model, build));
    auto rt = std::make_unique<Runtime>();
    rt->record = created;
    rt->model = model;
    rt->build = build;
    rt->pool = pool;
    rt->desired = config.Autoscaling() ? *config.min_replicas : config.replicas;
    rt->last_scale = Steady::now();
    RETURN_IF_ERROR(registry_.SetDeploymentState(created.id, DeploymentState::kDeploying,
                                                 "starting " + Plural(rt->desired, "replica")));
    rt->record.state = DeploymentState::kDeploying;
    rt->record.reason = "starting " + Plural(rt->desired, "replica");
    {
        std::lock_guard lock(mu_);
        deployments_[created.id] = std::move(rt);
    }
    wake_.notify_all();
    return registry_.GetDeployment(created.id);
}

Result<Deployment> ModelServing::Stop(std::int64_t deployment_id, const std::string& by) {
    ASSIGN_OR_RETURN(Deployment d, registry_.GetDeployment(deployment_id));
    {
        std::lock_guard lock(mu_);
        auto it = deployments_.find(deployment_id);
        if (it == deployments_.end() || IsFinal(d.state)) {
            return d;
        }
        if (!it->second->stopping) {
            BeginStop(*it->second, DeploymentState::kStopped, "stopped by " + by,
                      std::chrono::milliseconds(0));
        }
    }
    wake_.notify_all();
    return registry_.GetDeployment(deployment_id);
}

Result<Deployment> ModelServing::Restart(std::int64_t deployment_id) {
    ASSIGN_OR_RETURN(Deployment d, registry_.GetDeployment(deployment_id));
    {
        std::lock_guard lock(mu_);
        auto it = deployments_.find(deployment_id);
        if (it == deployments_.end() || it->second->stopping) {
            return MakeError(ErrorCode::kConflict, "deployment " + std::to_string(deployment_id) +
                                                       " is not running; deploy the build again");
        }
        for (auto& [id, r] : it->second->replicas) {
            r.restart_old = true;
        }
        it->second->record.reason = "restarting: replacing replicas one at a time";
    }
    wake_.notify_all();
    return d;
}

// Called with mu_ held. Removes the deployment from the index if it serves, lets calls already
// routed to it finish (up to the request timeout), then stops its replicas.
void ModelServing::BeginStop(Runtime& rt, DeploymentState final_state, const std::string& reason,
                             std::chrono::milliseconds drain_grace) {
    rt.stopping = true;
    rt.final_state = final_state;
    rt.stop_reason = reason;
    rt.stop_after = Steady::now() + drain_grace;
    rt.drain_deadline =
        rt.stop_after + std::chrono::seconds(rt.record.config.request_timeout_seconds);
    {
        std::unique_lock lock(index_mu_);
        auto key = key_of_model_.find(rt.record.model_id);
        if (key != key_of_model_.end()) {
            auto it = by_key_.find(key->second);
            if (it != by_key_.end() && it->second.deployment_id == rt.record.id) {
                it->second.deployment_id = 0;
                it->second.pool = nullptr;
            }
        }
    }
    (void)registry_.SetDeploymentState(rt.record.id, DeploymentState::kStopping, reason);
    rt.record.state = DeploymentState::kStopping;
    rt.record.reason = reason;
}

// Called with mu_ held, when the deployment has its replicas ready: it takes the model's traffic,
// and the deployment it replaces drains and stops.
void ModelServing::PromoteLocked(Runtime& rt) {
    std::int64_t previous = 0;
    {
        std::unique_lock lock(index_mu_);
        auto key = key_of_model_.find(rt.record.model_id);
        if (key != key_of_model_.end()) {
            auto it = by_key_.find(key->second);
            if (it != by_key_.end()) {
                previous = it->second.deployment_id;
                it->second.deployment_id = rt.record.id;
                it->second.pool = rt.pool;
            }
        }
    }
    (void)registry_.SetDeploymentState(rt.record.id, DeploymentState::kDeployed, "");
    rt.record.state = DeploymentState::kDeployed;
    rt.record.reason.clear();
    LogInfo("model deployment serving",
            {{"deployment", rt.record.id}, {"model", rt.model.name}, {"replaced", previous}});
    if (previous != 0 && previous != rt.record.id) {
        auto it = deployments_.find(previous);
        if (it != deployments_.end() && !it->second->stopping) {
            // Calls that looked up the old pool just before the switch still reach it: give them
            // a moment, then drain.
            BeginStop(*it->second, DeploymentState::kStopped,
                      "replaced by deployment " + std::to_string(rt.record.id),
                      std::chrono::milliseconds(1000));
        }
    }
}

Status ModelServing::SubmitReplica(Runtime& rt) {
    const auto& kernels = jobs_.kernels();
    auto kernel = std::find_if(kernels.begin(), kernels.end(),
                               [&](const jobs::Kernel& k) { return k.name == rt.build.kernel; });
    if (kernel == kernels.end()) {
        return MakeError(ErrorCode::kConflict,
                         "the build's kernel '" + rt.build.kernel + "' is no longer offered");
    }
    const Deployment& d = rt.record;
    compute::Workload w;
    w.project_id = d.project_id;
    w.owner_user_id = d.created_by;
    w.kind = compute::WorkloadKind::kReplica;
    w.trigger = "deployment";
    w.spec.argv = {kernel->interpreter, kWorkerInside, "serve"};
    w.spec.env = BaseEnv(d.project_id);
    for (const auto& [k, v] : rt.build.environment) {
        w.spec.env[k] = v;
    }
    for (const auto& [k, v] : d.config.environment) {
        w.spec.env[k] = v;
    }
    w.spec.env["LATHE_SERVING_ADDR"] = advertise_;
    w.spec.env["LATHE_MODEL_FILE"] = rt.build.file_path;
    w.spec.env["LATHE_MODEL_FUNCTION"] = rt.build.function_name;
    w.spec.env["LATHE_MAX_BATCH_SIZE"] =
        std::to_string(d.config.max_batch_size > 1 ? d.config.max_batch_size : 0);
    w.spec.env["LATHE_CONCURRENCY"] = std::to_string(d.config.concurrency);
    w.spec.env["LATHE_API_URL"] = api_url_;
    w.spec.env["LATHE_PROJECT_ID"] = std::to_string(d.project_id);
    w.spec.env["CDSW_PROJECT_ID"] = std::to_string(d.project_id);
    w.spec.env["LATHE_MODEL_ID"] = std::to_string(d.model_id);
    w.spec.env["LATHE_MODEL_BUILD_ID"] = std::to_string(d.build_id);
    w.spec.env["LATHE_MODEL_DEPLOYMENT_ID"] = std::to_string(d.id);
    w.spec.env["LATHE_MODEL_CRN"] = Crn(options_.workspace, "model", rt.model.uuid);
    w.spec.env["LATHE_MODEL_BUILD_CRN"] = Crn(options_.workspace, "model-build", rt.build.uuid);
    w.spec.env["LATHE_MODEL_DEPLOYMENT_CRN"] = Crn(options_.workspace, "model-deployment", d.uuid);
    w.spec.resources = d.config.resources;
    w.spec.priority = 10;  // serving comes before batch work in the queue
    w.spec.home_dir = BuildDir(d.build_id).string();
    w.spec.home_readonly = true;
    ASSIGN_OR_RETURN(auto submitted, scheduler_.Submit(std::move(w)));
    const std::string replica_id = "d" + std::to_string(d.id) + "-r" + std::to_string(submitted.id);
    RETURN_IF_ERROR(registry_.AddReplica(submitted.id, d.id, replica_id));
    ReplicaState r;
    r.replica_id = replica_id;
    r.submitted = Steady::now();
    rt.replicas[submitted.id] = r;
    replica_of_[submitted.id] = d.id;
    return {};
}

ModelServing::Runtime* ModelServing::RuntimeOfWorkload(std::int64_t workload_id) {
    auto it = replica_of_.find(workload_id);
    if (it == replica_of_.end()) {
        return nullptr;
    }
    auto d = deployments_.find(it->second);
    return d == deployments_.end() ? nullptr : d->second.get();
}

Result<ReplicaListener::Admission> ModelServing::Admit(std::string_view hello) {
    auto j = json::parse(hello, nullptr, false);
    if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
        return MakeError(ErrorCode::kUnauthenticated, "HELLO carries no replica token");
    }
    const std::string token = j["token"].get<std::string>();
    const auto dot = token.find('.');
    std::int64_t id = 0;
    try {
        id = std::stoll(token.substr(0, dot));
    } catch (...) {
        return MakeError(ErrorCode::kUnauthenticated, "the replica token is malformed");
    }
    if (dot == std::string::npos || !ConstantTimeEquals(token, Token(id))) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "the replica token is not valid (was the replica started by another "
                         "server process?)");
    }
    std::lock_guard lock(mu_);
    Runtime* rt = RuntimeOfWorkload(id);
    if (rt == nullptr || rt->stopping) {
        return MakeError(ErrorCode::kNotFound, "this replica's deployment is no longer running");
    }
    auto it = rt->replicas.find(id);
    if (it == rt->replicas.end() || it->second.retiring) {
        return MakeError(ErrorCode::kNotFound, "this replica is no longer wanted");
    }
    if (rt->pool->Connected(id)) {
        return MakeError(ErrorCode::kConflict, "this replica is already connected");
    }
    return ReplicaListener::Admission{rt->pool, id, it->second.replica_id};
}

compute::LaunchExtras ModelServing::ReplicaLaunchExtras(const compute::Workload& w) {
    compute::LaunchExtras extras;
    extras.env["LATHE_REPLICA_TOKEN"] = Token(w.id);
    // The SDK's key inside the replica: this replica's own, never its owner's.
    const std::string key = std::string(kReplicaKeyPrefix) + Token(w.id);
    for (const char* name : {"LATHE_API_KEY", "CDSW_API_KEY", "CDSW_APIV2_KEY"}) {
        extras.env[name] = key;
    }
    return extras;
}

Result<ModelServing::ReplicaKeyOwner> ModelServing::AuthenticateReplicaKey(std::string_view key) {
    auto invalid = [] {
        return MakeError(ErrorCode::kUnauthenticated,
                         "this model replica key is not valid (its replica has ended)");
    };
    if (!key.starts_with(kReplicaKeyPrefix)) {
        return invalid();
    }
    const std::string token(key.substr(kReplicaKeyPrefix.size()));
    const auto dot = token.find('.');
    std::int64_t id = 0;
    try {
        id = std::stoll(token.substr(0, dot));
    } catch (...) {
        return invalid();
    }
    if (dot == std::string::npos || !ConstantTimeEquals(token, Token(id))) {
        return invalid();
    }
    std::lock_guard lock(mu_);
    Runtime* rt = RuntimeOfWorkload(id);
    if (rt == nullptr) {
        return invalid();
    }
    return ReplicaKeyOwner{id, rt->record.id, rt->record.project_id};
}

std::string ModelServing::LastBuildFailure(std::int64_t workload_id) {
    constexpr std::size_t kTail = 16 << 10;
    constexpr std::string_view kPrefix = "build failed: ";
    auto size = logs_.Read(workload_id, 0, 0);
    if (!size) {
        return {};
    }
    const std::uint64_t from = size->size > kTail ? size->size - kTail : 0;
    auto tail = logs_.Read(workload_id, from, kTail);
    if (!tail) {
        return {};
    }
    const std::string_view text = tail->data;
    const auto at = text.rfind(kPrefix);
    if (at == std::string_view::npos || (at > 0 && text[at - 1] != '\n')) {
        return {};
    }
    std::string_view line = text.substr(at + kPrefix.size());
    line = line.substr(0, line.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.remove_suffix(1);
    }
    return lineage::ValidUtf8(line.substr(0, 500));
}

void ModelServing::OnWorkloadFinished(const compute::Workload& w) {
    if (w.kind == compute::WorkloadKind::kModelBuild) {
        auto build = registry_.BuildOfWorkload(w.id);
        if (!build || !*build) {
            return;
        }
        if (w.state == compute::WorkloadState::kSucceeded) {
            json info = json::object();
            std::ifstream in(BuildDir((*build)->id) / ".lathe" / "build.json");
            if (in) {
                info = json::parse(in, nullptr, false);
                if (info.is_discarded() || !info.is_object()) {
                    info = json::object();
                }
            }
            AddReproducibility(**build, info);
            (void)registry_.SetBuildState((*build)->id, BuildState::kBuilt, "", &info);
        } else {
            std::string reason = w.reason.empty() ? std::string(compute::StateName(w.state))
                                                  : w.reason;
            // The worker ends a failed build's log with "build failed: <why>" (a missing
            // function, the import's exception, cdsw-build.sh's status): that says more than
            // the process's exit code.
            if (auto why = LastBuildFailure(w.id); !why.empty()) {
                reason = std::move(why);
            }
            FailBuild((*build)->id, "the build failed: " + reason + "; see the build log");
        }
        return;
    }
    if (w.kind != compute::WorkloadKind::kReplica) {
        return;
    }
    std::shared_ptr<ReplicaPool> pool;
    {
        std::lock_guard lock(mu_);
        Runtime* rt = RuntimeOfWorkload(w.id);
        replica_of_.erase(w.id);
        if (rt == nullptr) {
            return;
        }
        auto it = rt->replicas.find(w.id);
        if (it != rt->replicas.end()) {
            const ReplicaState r = it->second;
            rt->replicas.erase(it);
            if (!rt->stopping && !r.retiring && !stopping_) {
                // It ended on its own: replaced after a backoff that grows while replicas keep
                // failing before they are ready.
                const std::string why = w.reason.empty() ? std::string(compute::StateName(w.state))
                                                         : w.reason;
                if (!r.ready) {
                    ++rt->failures_before_ready;
                    rt->last_failure = why;
                } else if (Steady::now() - r.ready_at > std::chrono::seconds(60)) {
                    rt->backoff = std::chrono::milliseconds(0);
                }
                rt->backoff = std::min<std::chrono::milliseconds>(
                    kMaxBackoff, rt->backoff.count() == 0 ? std::chrono::milliseconds(1000)
                                                          : rt->backoff * 2);
                rt->next_start = Steady::now() + rt->backoff;
                LogWarn("model replica ended; replacing it",
                        {{"deployment", rt->record.id}, {"workload", w.id}, {"reason", why},
                         {"backoff_ms", rt->backoff.count()}});
            }
        }
        pool = rt->pool;
    }
    pool->RemoveReplica(w.id, "the replica ended");
    wake_.notify_all();
}

// ---- the control loop

void ModelServing::ControlLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.tick);
        if (stopping_) {
            break;
        }
        std::vector<std::int64_t> to_stop;
        std::vector<std::int64_t> finished;
        std::vector<std::shared_ptr<ReplicaPool>> pools;
        for (auto& [id, rt] : deployments_) {
            TickDeployment(*rt, to_stop, finished);
            pools.push_back(rt->pool);
        }
        for (auto id : finished) {
            auto it = deployments_.find(id);
            if (it != deployments_.end()) {
                pools.push_back(it->second->pool);
                it->second->pool->Close("the deployment stopped");
                deployments_.erase(it);
            }
        }
        lock.unlock();
        std::vector<std::int64_t> retry;
        for (auto id : to_stop) {
            auto st = scheduler_.Stop(id, "serving");
            // A replica in the middle of its launch can't be stopped yet: ask again next tick.
            if (!st && st.error().code == ErrorCode::kUnavailable) {
                retry.push_back(id);
            }
        }
        for (auto& p : pools) {
            p->Tick();
        }
        lock.lock();
        for (auto id : retry) {
            if (Runtime* rt = RuntimeOfWorkload(id)) {
                if (auto it = rt->replicas.find(id); it != rt->replicas.end()) {
                    it->second.stop_sent = false;
                }
            }
        }
    }
}

void ModelServing::TickDeployment(Runtime& rt, std::vector<std::int64_t>& to_stop,
                                  std::vector<std::int64_t>& finished) {
    const auto now = Steady::now();
    if (rt.stopping) {
        if (now < rt.stop_after) {
            return;
        }
        const PoolView v = rt.pool->View();
        const bool drained = v.in_flight == 0 && v.queued == 0;
        if (!drained && now < rt.drain_deadline) {
            return;
        }
        for (auto& [id, r] : rt.replicas) {
            if (!r.stop_sent) {
                r.stop_sent = true;
                to_stop.push_back(id);
            }
        }
        if (rt.replicas.empty()) {
            (void)registry_.SetDeploymentState(rt.record.id, rt.final_state, rt.stop_reason);
            finished.push_back(rt.record.id);
        }
        return;
    }
    if (rt.failures_before_ready >= kMaxFailuresBeforeReady &&
        rt.record.state != DeploymentState::kDeployed) {
        BeginStop(rt, DeploymentState::kFailed,
                  "replicas exited before they were ready " +
                      std::to_string(rt.failures_before_ready) + " times (last: " +
                      rt.last_failure + "); see the replica logs",
                  std::chrono::milliseconds(0));
        return;
    }
    if (rt.record.config.Autoscaling()) {
        Autoscale(rt);
    }
    int ready = 0;
    int live = 0;       // not retiring
    int fresh_live = 0;  // not retiring, not of a restart's old generation
    int old_live = 0;
    bool fresh_all_ready = true;
    for (auto& [id, r] : rt.replicas) {
        if (r.retiring) {
            continue;
        }
        ++live;
        if (r.ready) {
            ++ready;
        }
        if (r.restart_old) {
            ++old_live;
        } else {
            ++fresh_live;
            fresh_all_ready = fresh_all_ready && r.ready;
        }
    }
    // Retire replicas beyond what is wanted: a restart's old generation first, once the fresh
    // ones are ready; otherwise (scaling down) the newest.
    if (live > rt.desired && fresh_all_ready) {
        for (auto it = rt.replicas.rbegin(); it != rt.replicas.rend() && live > rt.desired; ++it) {
            if (!it->second.retiring && (it->second.restart_old || old_live == 0)) {
                it->second.retiring = true;
                rt.pool->Retire(it->first);
                --live;
                if (it->second.restart_old) {
                    --old_live;
                }
            }
        }
    }
    // Start what is missing (one surge replica at a time during a restart).
    const int want = old_live > 0 ? std::max(rt.desired, fresh_live + old_live + 1)
                                  : rt.desired;
    if (live < want && now >= rt.next_start && (old_live == 0 || fresh_all_ready)) {
        const int missing = old_live > 0 ? 1 : want - live;
        for (int i = 0; i < missing; ++i) {
            auto st = SubmitReplica(rt);
            if (!st) {
                BeginStop(rt, DeploymentState::kFailed, "cannot start a replica: " + st.error().message,
                          std::chrono::milliseconds(0));
                return;
            }
        }
    }
    // Stop retired replicas once nothing of theirs is in flight.
    for (auto& [id, r] : rt.replicas) {
        if (r.retiring && !r.stop_sent && rt.pool->Outstanding(id) <= 0) {
            r.stop_sent = true;
            to_stop.push_back(id);
        }
    }
    if (old_live == 0 && rt.record.reason.starts_with("restarting")) {
        rt.record.reason.clear();
    }
    if (rt.record.state == DeploymentState::kDeploying && ready >= rt.desired && rt.desired > 0) {
        PromoteLocked(rt);
    }
}

void ModelServing::Autoscale(Runtime& rt) {
    const auto now = Steady::now();
    const DeploymentConfig& c = rt.record.config;
    const PoolView v = rt.pool->View();
    rt.load.emplace_back(now, static_cast<double>(v.in_flight + v.queued));
    const auto scale_down_delay = std::chrono::seconds(c.scale_down_delay_seconds);
    while (!rt.load.empty() && now - rt.load.front().first > scale_down_delay) {
        rt.load.pop_front();
    }
    auto average_since = [&](Steady::duration window) {
        double sum = 0;
        int n = 0;
        for (const auto& [t, l] : rt.load) {
            if (now - t <= window) {
                sum += l;
                ++n;
            }
        }
        return n ? sum / n : 0.0;
    };
    const int per_replica = std::max(1, c.concurrency);
    const double recent = average_since(std::chrono::seconds(2));
    const int ready = v.ready;
    int starting = 0;
    for (const auto& [id, r] : rt.replicas) {
        if (!r.retiring && !r.ready) {
            ++starting;
        }
    }
    // Up: the replicas are busy and calls wait, and nothing is still starting.
    if (recent > 0.8 * per_replica * std::max(1, ready) && v.queued > 0 && starting == 0 &&
        rt.desired < *c.max_replicas && now - rt.last_scale >= kScaleUpCooldown) {
        const int want = std::min(*c.max_replicas,
                                  std::max(rt.desired + 1,
                                           static_cast<int>(std::ceil(recent / per_replica))));
        rt.desired = want;
        rt.last_scale = now;
        rt.scale_note = "scaled up to " + Plural(want, "replica") + " (load " +
                        std::to_string(static_cast<int>(recent)) + ")";
        LogInfo("autoscaling", {{"deployment", rt.record.id}, {"replicas", want}});
        return;
    }
    // Down: over the whole window the load would fit in one replica fewer, at half utilization.
    const double window = average_since(scale_down_delay);
    if (rt.desired > *c.min_replicas && now - rt.last_scale >= scale_down_delay &&
        rt.load.size() > 2 && window < 0.5 * per_replica * (rt.desired - 1)) {
        --rt.desired;
        rt.last_scale = now;
        rt.scale_note = "scaled down to " + Plural(rt.desired, "replica");
        LogInfo("autoscaling", {{"deployment", rt.record.id}, {"replicas", rt.desired}});
    }
}

std::optional<std::int64_t> ModelServing::ServingDeployment(std::int64_t model_id) {
    std::shared_lock lock(index_mu_);
    auto key = key_of_model_.find(model_id);
    if (key == key_of_model_.end()) {
        return std::nullopt;
    }
    auto it = by_key_.find(key->second);
    if (it == by_key_.end() || it->second.deployment_id == 0) {
        return std::nullopt;
    }
    return it->second.deployment_id;
}

std::optional<PoolView> ModelServing::Live(std::int64_t deployment_id) {
    std::shared_ptr<ReplicaPool> pool;
    {
        std::lock_guard lock(mu_);
        auto it = deployments_.find(deployment_id);
        if (it == deployments_.end()) {
            return std::nullopt;
        }
        pool = it->second->pool;
    }
    return pool->View();
}

Result<std::vector<ReplicaInfo>> ModelServing::Replicas(std::int64_t deployment_id) {
    ASSIGN_OR_RETURN(auto stored, registry_.Replicas(deployment_id));
    std::optional<PoolView> view = Live(deployment_id);
    std::vector<ReplicaInfo> out;
    for (const auto& [workload_id, replica_id] : stored) {
        ReplicaInfo info;
        info.workload_id = workload_id;
        info.replica_id = replica_id;
        auto w = records_.Get(workload_id);
        if (w) {
            info.state = std::string(compute::StateName(w->state));
            info.reason = w->reason;
            info.started_at = w->started_at;
            info.finished_at = w->finished_at;
        }
        if (view) {
            for (const auto& r : view->replicas) {
                if (r.workload_id == workload_id) {
                    info.ready = !r.retiring;
                    info.in_flight = r.in_flight;
                    info.requests = r.requests;
                    info.errors = r.errors;
                    if (r.retiring) {
                        info.reason = "draining: being replaced";
                    }
                }
            }
        }
        out.push_back(std::move(info));
    }
    std::reverse(out.begin(), out.end());  // newest first
    return out;
}

std::string ModelServing::PrometheusText() {
    struct Row {
        std::int64_t deployment_id;
        std::string model;
        PoolView view;
    };
    std::vector<Row> rows;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, rt] : deployments_) {
            rows.push_back({id, rt->model.name, rt->pool->View()});
        }
    }
    auto escape = [](const std::string& s) {
        std::string out;
        for (char c : s) {
            if (c == '\\' || c == '"') {
                out += '\\';
            }
            out += c == '\n' ? ' ' : c;
        }
        return out;
    };
    std::string out;
    out += "# HELP lathe_model_requests_total Model calls answered, by deployment.\n"
           "# TYPE lathe_model_requests_total counter\n";
    for (const auto& r : rows) {
        out += "lathe_model_requests_total{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " + std::to_string(r.view.counters.requests) +
               "\n";
    }
    out += "# HELP lathe_model_errors_total Model calls not answered with 200.\n"
           "# TYPE lathe_model_errors_total counter\n";
    for (const auto& r : rows) {
        out += "lathe_model_errors_total{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " + std::to_string(r.view.counters.errors) +
               "\n";
    }
    out += "# HELP lathe_model_rejected_total Model calls refused with 429/503 before a replica.\n"
           "# TYPE lathe_model_rejected_total counter\n";
    for (const auto& r : rows) {
        out += "lathe_model_rejected_total{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " +
               std::to_string(r.view.counters.rejected) + "\n";
    }
    out += "# HELP lathe_model_in_flight Calls at replicas now.\n# TYPE lathe_model_in_flight gauge\n";
    for (const auto& r : rows) {
        out += "lathe_model_in_flight{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " + std::to_string(r.view.in_flight) + "\n";
    }
    out += "# HELP lathe_model_queued Calls waiting for a replica now.\n# TYPE lathe_model_queued gauge\n";
    for (const auto& r : rows) {
        out += "lathe_model_queued{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " + std::to_string(r.view.queued) + "\n";
    }
    out += "# HELP lathe_model_ready_replicas Replicas taking calls.\n"
           "# TYPE lathe_model_ready_replicas gauge\n";
    for (const auto& r : rows) {
        out += "lathe_model_ready_replicas{deployment=\"" + std::to_string(r.deployment_id) +
               "\",model=\"" + escape(r.model) + "\"} " + std::to_string(r.view.ready) + "\n";
    }
    out += "# HELP lathe_replica_requests_total Model calls answered, by replica.\n"
           "# TYPE lathe_replica_requests_total counter\n";
    for (const auto& r : rows) {
        for (const auto& rep : r.view.replicas) {
            out += "lathe_replica_requests_total{deployment=\"" +
                   std::to_string(r.deployment_id) + "\",replica=\"" + rep.replica_id + "\"} " +
                   std::to_string(rep.requests) + "\n";
        }
    }
    out += "# HELP lathe_replica_errors_total Model calls that failed, by replica.\n"
           "# TYPE lathe_replica_errors_total counter\n";
    for (const auto& r : rows) {
        for (const auto& rep : r.view.replicas) {
            out += "lathe_replica_errors_total{deployment=\"" + std::to_string(r.deployment_id) +
                   "\",replica=\"" + rep.replica_id + "\"} " + std::to_string(rep.errors) + "\n";
        }
    }
    out += "# HELP lathe_replica_in_flight Calls at the replica now.\n"
           "# TYPE lathe_replica_in_flight gauge\n";
    for (const auto& r : rows) {
        for (const auto& rep : r.view.replicas) {
            out += "lathe_replica_in_flight{deployment=\"" + std::to_string(r.deployment_id) +
                   "\",replica=\"" + rep.replica_id + "\"} " + std::to_string(rep.in_flight) + "\n";
        }
    }
    const std::pair<const char*, const char*> histograms[] = {
        {"lathe_model_request_seconds", "Time from a call's arrival to its answer."},
        {"lathe_model_queue_seconds", "Time a call waited for a replica."},
        {"lathe_model_function_seconds", "Time inside the model's function."},
        {"lathe_model_overhead_seconds", "Call time outside the model's function."}};
    for (int h = 0; h < 4; ++h) {
        out += std::string("# HELP ") + histograms[h].first + " " + histograms[h].second + "\n" +
               "# TYPE " + histograms[h].first + " histogram\n";
        for (const auto& r : rows) {
            const LatencyHistogram& hist = h == 0   ? r.view.counters.latency
                                           : h == 1 ? r.view.counters.queue
                                           : h == 2 ? r.view.counters.function
                                                    : r.view.counters.overhead;
            AppendPrometheusHistogram(out, histograms[h].first,
                                      "deployment=\"" + std::to_string(r.deployment_id) +
                                          "\",model=\"" + escape(r.model) + "\"",
                                      hist);
        }
    }
    return out;
}

}  // namespace lathe::serving
