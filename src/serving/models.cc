// Models, builds and deployments in the Store.
#include "serving/models.h"

#include "core/crypto.h"

namespace lathe::serving {
namespace {

using nlohmann::json;

constexpr std::string_view kBuildStates[] = {"queued", "building", "built", "failed"};
constexpr std::string_view kDeploymentStates[] = {"pending",  "deploying", "deployed",
                                                  "stopping", "stopped",   "failed"};

std::optional<BuildState> ParseBuildState(std::string_view s) {
    for (int i = 0; i < 4; ++i) {
        if (kBuildStates[i] == s) {
            return static_cast<BuildState>(i);
        }
    }
    return std::nullopt;
}

std::optional<DeploymentState> ParseDeploymentState(std::string_view s) {
    for (int i = 0; i < 6; ++i) {
        if (kDeploymentStates[i] == s) {
            return static_cast<DeploymentState>(i);
        }
    }
    return std::nullopt;
}

store::Value OptionalValue(const std::optional<std::int64_t>& v) {
    return v ? store::Value(*v) : store::Value(nullptr);
}

std::optional<std::int64_t> OptionalInt(const store::Row& r, std::size_t i) {
    return r.IsNull(i) ? std::nullopt : std::optional<std::int64_t>(r.Int(i));
}

json ParseOr(const std::string& text, json fallback) {
    auto j = json::parse(text, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

constexpr std::string_view kModelColumns =
    "m.id, m.uuid, m.project_id, m.name, m.description, m.access_key, m.auth_enabled, "
    "m.created_by, u.username, m.created_at, m.updated_at, "
    "(SELECT MAX(b.id) FROM model_builds b WHERE b.model_id = m.id)";
constexpr std::string_view kModelFrom = " FROM models m JOIN users u ON u.id = m.created_by ";

Model ModelFromRow(const store::Row& r) {
    Model m;
    m.id = r.Int(0);
    m.uuid = r.Text(1);
    m.project_id = r.Int(2);
    m.name = r.Text(3);
    m.description = r.Text(4);
    m.access_key = r.Text(5);
    m.auth_enabled = r.Bool(6);
    m.created_by = r.Int(7);
    m.created_by_name = r.Text(8);
    m.created_at = r.Int(9);
    m.updated_at = r.Int(10);
    m.latest_build_id = OptionalInt(r, 11);
    return m;
}

constexpr std::string_view kBuildColumns =
    "b.id, b.uuid, b.model_id, b.project_id, b.state, b.reason, b.file_path, b.function_name, "
    "b.kernel, b.comment, b.environment, b.snapshot, b.snapshot_files, b.snapshot_bytes, "
    "b.workload_id, b.info, b.created_by, u.username, b.created_at, b.started_at, b.finished_at, "
    "b.rebuild_of, b.version";
constexpr std::string_view kBuildFrom = " FROM model_builds b JOIN users u ON u.id = b.created_by ";

Build BuildFromRow(const store::Row& r) {
    Build b;
    b.id = r.Int(0);
    b.uuid = r.Text(1);
    b.model_id = r.Int(2);
    b.project_id = r.Int(3);
    b.state = ParseBuildState(r.Text(4)).value_or(BuildState::kFailed);
    b.reason = r.Text(5);
    b.file_path = r.Text(6);
    b.function_name = r.Text(7);
    b.kernel = r.Text(8);
    b.comment = r.Text(9);
    json env = ParseOr(r.Text(10), json::object());
    if (env.is_object()) {
        for (auto& [k, v] : env.items()) {
            if (v.is_string()) {
                b.environment[k] = v.get<std::string>();
            }
        }
    }
    b.snapshot = r.Text(11);
    b.snapshot_files = r.Int(12);
    b.snapshot_bytes = r.Int(13);
    b.workload_id = OptionalInt(r, 14);
    b.info = ParseOr(r.Text(15), json::object());
    b.created_by = r.Int(16);
    b.created_by_name = r.Text(17);
    b.created_at = r.Int(18);
    b.started_at = OptionalInt(r, 19);
    b.finished_at = OptionalInt(r, 20);
    b.rebuild_of = OptionalInt(r, 21);
    b.version = r.Int(22);
    return b;
}

constexpr std::string_view kDeploymentColumns =
    "d.id, d.uuid, d.model_id, d.build_id, d.project_id, d.state, d.reason, d.config, "
    "d.created_by, u.username, d.created_at, d.deployed_at, d.stopped_at";
constexpr std::string_view kDeploymentFrom =
    " FROM model_deployments d JOIN users u ON u.id = d.created_by ";

Deployment DeploymentFromRow(const store::Row& r) {
    Deployment d;
    d.id = r.Int(0);
    d.uuid = r.Text(1);
    d.model_id = r.Int(2);
    d.build_id = r.Int(3);
    d.project_id = r.Int(4);
    d.state = ParseDeploymentState(r.Text(5)).value_or(DeploymentState::kFailed);
    d.reason = r.Text(6);
    d.config = DeploymentConfig::FromJson(ParseOr(r.Text(7), json::object()));
    d.created_by = r.Int(8);
    d.created_by_name = r.Text(9);
    d.created_at = r.Int(10);
    d.deployed_at = OptionalInt(r, 11);
    d.stopped_at = OptionalInt(r, 12);
    return d;
}

std::string InList(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += i ? ", ?" : "?";
    }
    return s;
}

}  // namespace

std::string_view BuildStateName(BuildState s) { return kBuildStates[static_cast<int>(s)]; }
std::string_view DeploymentStateName(DeploymentState s) {
    return kDeploymentStates[static_cast<int>(s)];
}
bool IsFinal(DeploymentState s) {
    return s == DeploymentState::kStopped || s == DeploymentState::kFailed;
}

std::string Crn(const std::string& workspace, std::string_view kind, const std::string& uuid) {
    return "crn:lathe:ml:" + workspace + ":" + std::string(kind) + "/" + uuid;
}

json DeploymentConfig::ToJson() const {
    json j = {{"replicas", replicas},
              {"cpu_millicores", resources.cpu_millicores},
              {"memory_mib", resources.memory_mib},
              {"gpus", resources.gpus},
              {"environment", environment},
              {"concurrency", concurrency},
              {"pipeline_depth", pipeline_depth},
              {"queue_size", queue_size},
              {"queue_timeout_seconds", queue_timeout_seconds},
              {"request_timeout_seconds", request_timeout_seconds},
              {"max_batch_size", max_batch_size},
              {"max_delay_ms", max_delay_ms},
              {"idempotent", idempotent},
              {"scale_down_delay_seconds", scale_down_delay_seconds}};
    j["min_replicas"] = min_replicas ? json(*min_replicas) : json(nullptr);
    j["max_replicas"] = max_replicas ? json(*max_replicas) : json(nullptr);
    return j;
}

DeploymentConfig DeploymentConfig::FromJson(const json& j) {
    DeploymentConfig c;
    auto get_int = [&j](const char* k, int fallback) {
        auto it = j.find(k);
        return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
    };
    auto get_i64 = [&j](const char* k, std::int64_t fallback) {
        auto it = j.find(k);
        return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
    };
    c.replicas = get_int("replicas", c.replicas);
    c.resources.cpu_millicores = get_i64("cpu_millicores", c.resources.cpu_millicores);
    c.resources.memory_mib = get_i64("memory_mib", c.resources.memory_mib);
    c.resources.gpus = get_i64("gpus", c.resources.gpus);
    if (auto it = j.find("environment"); it != j.end() && it->is_object()) {
        for (auto& [k, v] : it->items()) {
            if (v.is_string()) {
                c.environment[k] = v.get<std::string>();
            }
        }
    }
    c.concurrency = get_int("concurrency", c.concurrency);
    c.pipeline_depth = get_int("pipeline_depth", c.pipeline_depth);
    c.queue_size = get_int("queue_size", c.queue_size);
    c.queue_timeout_seconds = get_int("queue_timeout_seconds", c.queue_timeout_seconds);
    c.request_timeout_seconds = get_int("request_timeout_seconds", c.request_timeout_seconds);
    c.max_batch_size = get_int("max_batch_size", c.max_batch_size);
    c.max_delay_ms = get_int("max_delay_ms", c.max_delay_ms);
    if (auto it = j.find("min_replicas"); it != j.end() && it->is_number_integer()) {
        c.min_replicas = it->get<int>();
    }
    if (auto it = j.find("max_replicas"); it != j.end() && it->is_number_integer()) {
        c.max_replicas = it->get<int>();
    }
    c.idempotent = j.value("idempotent", false);
    c.scale_down_delay_seconds = get_int("scale_down_delay_seconds", c.scale_down_delay_seconds);
    return c;
}

// ---- models

Result<Model> ModelRegistry::CreateModel(std::int64_t project_id, std::int64_t user_id,
                                         const std::string& name, const std::string& description,
                                         bool auth_enabled) {
    const std::int64_t now = clock_.NowMs();
    // CML's access keys are 32 lowercase alphanumerics starting with "m"; ours look alike.
    std::string key = "m" + HexEncode(RandomToken(24)).substr(0, 31);
    std::int64_t id = 0;
    auto st = store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(id, tx.InsertReturningId(
                                 "INSERT INTO models (uuid, project_id, name, description, "
                                 "access_key, auth_enabled, created_by, created_at, updated_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                 {RandomUuid(), project_id, name, description, key,
                                  std::int64_t{auth_enabled}, user_id, now, now}));
        return {};
    });
    if (!st) {
        if (st.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict,
                             "this project already has a model named '" + name + "'");
        }
        return std::unexpected(st.error());
    }
    return GetModel(project_id, id);
}

Result<Model> ModelRegistry::GetModelById(std::int64_t model_id) {
    std::optional<Model> m;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kModelColumns) +
                                                   std::string(kModelFrom) + "WHERE m.id = ?",
                                               {model_id}));
        if (row) {
            m = ModelFromRow(*row);
        }
        return {};
    }));
    if (!m) {
        return MakeError(ErrorCode::kNotFound,
                         "model " + std::to_string(model_id) + " does not exist");
    }
    return *m;
}

Result<Model> ModelRegistry::GetModel(std::int64_t project_id, std::int64_t model_id) {
    auto m = GetModelById(model_id);
    if (m && m->project_id != project_id) {
        return MakeError(ErrorCode::kNotFound,
                         "model " + std::to_string(model_id) + " does not exist in this project");
    }
    return m;
}

const store::ListSpec& ModelRegistry::ModelListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "m.id", FieldType::kInt},
                                        {"name", "m.name", FieldType::kText},
                                        {"description", "m.description", FieldType::kText},
                                        {"created_at", "m.created_at", FieldType::kInt, false, true},
                                        {"updated_at", "m.updated_at", FieldType::kInt, false, true}},
                                       "name",
                                       "m.id"};
    return kSpec;
}

Result<std::pair<std::vector<Model>, std::string>> ModelRegistry::ListModels(
    std::int64_t project_id, const store::ListQuery& q) {
    std::vector<Model> out;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, ModelListSpec(), q,
                                                     "SELECT " + std::string(kModelColumns) +
                                                         std::string(kModelFrom) +
                                                         "WHERE m.project_id = ?",
                                                     {project_id}));
        for (const auto& r : page.rows) {
            out.push_back(ModelFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::vector<Model>> ModelRegistry::AllModels() {
    std::vector<Model> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kModelColumns) +
                                             std::string(kModelFrom) + "ORDER BY m.id"));
        for (const auto& r : rows) {
            out.push_back(ModelFromRow(r));
        }
        return {};
    }));
    return out;
}

Result<Model> ModelRegistry::UpdateModel(std::int64_t project_id, std::int64_t model_id,
                                         std::optional<std::string> description,
                                         std::optional<bool> auth_enabled) {
    ASSIGN_OR_RETURN(Model m, GetModel(project_id, model_id));
    if (description) {
        m.description = *description;
    }
    if (auth_enabled) {
        m.auth_enabled = *auth_enabled;
    }
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec(
            "UPDATE models SET description = ?, auth_enabled = ?, updated_at = ? WHERE id = ?",
            {m.description, std::int64_t{m.auth_enabled}, clock_.NowMs(), model_id}));
        return {};
    }));
    return GetModel(project_id, model_id);
}

Status ModelRegistry::DeleteModel(std::int64_t project_id, std::int64_t model_id) {
    RETURN_IF_ERROR(GetModel(project_id, model_id));
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM models WHERE id = ?", {model_id}));
        return {};
    });
}

// ---- builds

Result<Build> ModelRegistry::CreateBuild(Build b) {
    const std::int64_t now = clock_.NowMs();
    json env = b.environment;
    std::int64_t id = 0;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            id, tx.InsertReturningId(
                    "INSERT INTO model_builds (uuid, model_id, project_id, state, file_path, "
                    "function_name, kernel, comment, environment, created_by, created_at, "
                    "rebuild_of, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "(SELECT COALESCE(MAX(version), 0) + 1 FROM model_builds WHERE model_id = ?)) "
                    "RETURNING id",
                    {RandomUuid(), b.model_id, b.project_id,
                     std::string(BuildStateName(BuildState::kQueued)), b.file_path,
                     b.function_name, b.kernel, b.comment, env.dump(), b.created_by, now,
                     OptionalValue(b.rebuild_of),
                     b.model_id}));
        RETURN_IF_ERROR(
            tx.Exec("UPDATE models SET updated_at = ? WHERE id = ?", {now, b.model_id}));
        return {};
    }));
    return GetBuildById(id);
}

Result<Build> ModelRegistry::GetBuildById(std::int64_t build_id) {
    std::optional<Build> b;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kBuildColumns) +
                                                   std::string(kBuildFrom) + "WHERE b.id = ?",
                                               {build_id}));
        if (row) {
            b = BuildFromRow(*row);
        }
        return {};
    }));
    if (!b) {
        return MakeError(ErrorCode::kNotFound, "build " + std::to_string(build_id) + " does not exist");
    }
    return *b;
}

Result<Build> ModelRegistry::GetBuild(std::int64_t model_id, std::int64_t build_id) {
    auto b = GetBuildById(build_id);
    if (b && b->model_id != model_id) {
        return MakeError(ErrorCode::kNotFound, "build " + std::to_string(build_id) +
                                                   " does not exist for this model");
    }
    return b;
}

Result<std::optional<Build>> ModelRegistry::BuildOfWorkload(std::int64_t workload_id) {
    std::optional<Build> b;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row,
                         tx.QueryOne("SELECT " + std::string(kBuildColumns) +
                                         std::string(kBuildFrom) + "WHERE b.workload_id = ?",
                                     {workload_id}));
        if (row) {
            b = BuildFromRow(*row);
        }
        return {};
    }));
    return b;
}

const store::ListSpec& ModelRegistry::BuildListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "b.id", FieldType::kInt},
                                        {"state", "b.state", FieldType::kText},
                                        {"created_at", "b.created_at", FieldType::kInt, false, true}},
                                       "-id",
                                       "b.id"};
    return kSpec;
}

Result<std::pair<std::vector<Build>, std::string>> ModelRegistry::ListBuilds(
    std::int64_t model_id, const store::ListQuery& q) {
    std::vector<Build> out;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, BuildListSpec(), q,
                                                     "SELECT " + std::string(kBuildColumns) +
                                                         std::string(kBuildFrom) +
                                                         "WHERE b.model_id = ?",
                                                     {model_id}));
        for (const auto& r : page.rows) {
            out.push_back(BuildFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::vector<Build>> ModelRegistry::BuildsInStates(const std::vector<BuildState>& states) {
    std::vector<Build> out;
    store::Params params;
    for (auto s : states) {
        params.emplace_back(std::string(BuildStateName(s)));
    }
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kBuildColumns) +
                                                 std::string(kBuildFrom) + "WHERE b.state IN (" +
                                                 InList(states.size()) + ") ORDER BY b.id",
                                             params));
        for (const auto& r : rows) {
            out.push_back(BuildFromRow(r));
        }
        return {};
    }));
    return out;
}

Status ModelRegistry::SetBuildSnapshot(std::int64_t build_id, const std::string& snapshot,
                                       std::int64_t files, std::int64_t bytes) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE model_builds SET snapshot = ?, snapshot_files = ?, "
                                "snapshot_bytes = ? WHERE id = ?",
                                {snapshot, files, bytes, build_id}));
        return {};
    });
}

Status ModelRegistry::SetBuildWorkload(std::int64_t build_id, std::int64_t workload_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE model_builds SET workload_id = ? WHERE id = ?",
                                {workload_id, build_id}));
        return {};
    });
}

Status ModelRegistry::SetBuildState(std::int64_t build_id, BuildState state,
                                    const std::string& reason, const json* info) {
    const std::int64_t now = clock_.NowMs();
    return store_.Write([&](store::Tx& tx) -> Status {
        const bool final = state == BuildState::kBuilt || state == BuildState::kFailed;
        std::string sql = "UPDATE model_builds SET state = ?, reason = ?";
        store::Params params{std::string(BuildStateName(state)), reason};
        if (state == BuildState::kBuilding) {
            sql += ", started_at = COALESCE(started_at, ?)";
            params.emplace_back(now);
        }
        if (final) {
            sql += ", finished_at = ?";
            params.emplace_back(now);
        }
        if (info) {
            sql += ", info = ?";
            params.emplace_back(info->dump());
        }
        sql += " WHERE id = ? AND state NOT IN ('built', 'failed')";
        params.emplace_back(build_id);
        RETURN_IF_ERROR(tx.Exec(sql, params));
        return {};
    });
}

// ---- deployments

Result<Deployment> ModelRegistry::CreateDeployment(Deployment d) {
    const std::int64_t now = clock_.NowMs();
    std::int64_t id = 0;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            id, tx.InsertReturningId(
                    "INSERT INTO model_deployments (uuid, model_id, build_id, project_id, state, "
                    "config, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    {RandomUuid(), d.model_id, d.build_id, d.project_id,
                     std::string(DeploymentStateName(DeploymentState::kPending)),
                     d.config.ToJson().dump(), d.created_by, now}));
        RETURN_IF_ERROR(
            tx.Exec("UPDATE models SET updated_at = ? WHERE id = ?", {now, d.model_id}));
        return {};
    }));
    return GetDeployment(id);
}

Result<Deployment> ModelRegistry::GetDeployment(std::int64_t deployment_id) {
    std::optional<Deployment> d;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row,
                         tx.QueryOne("SELECT " + std::string(kDeploymentColumns) +
                                         std::string(kDeploymentFrom) + "WHERE d.id = ?",
                                     {deployment_id}));
        if (row) {
            d = DeploymentFromRow(*row);
        }
        return {};
    }));
    if (!d) {
        return MakeError(ErrorCode::kNotFound,
                         "deployment " + std::to_string(deployment_id) + " does not exist");
    }
    return *d;
}

const store::ListSpec& ModelRegistry::DeploymentListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "d.id", FieldType::kInt},
                                        {"state", "d.state", FieldType::kText},
                                        {"build_id", "d.build_id", FieldType::kInt},
                                        {"created_at", "d.created_at", FieldType::kInt, false, true}},
                                       "-id",
                                       "d.id"};
    return kSpec;
}

Result<std::pair<std::vector<Deployment>, std::string>> ModelRegistry::ListDeployments(
    std::int64_t model_id, std::optional<std::int64_t> build_id, const store::ListQuery& q) {
    std::vector<Deployment> out;
    std::string next;
    std::string where = "WHERE d.model_id = ?";
    store::Params params{model_id};
    if (build_id) {
        where += " AND d.build_id = ?";
        params.emplace_back(*build_id);
    }
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, DeploymentListSpec(), q,
                                                     "SELECT " + std::string(kDeploymentColumns) +
                                                         std::string(kDeploymentFrom) + where,
                                                     params));
        for (const auto& r : page.rows) {
            out.push_back(DeploymentFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::vector<Deployment>> ModelRegistry::DeploymentsInStates(
    const std::vector<DeploymentState>& states) {
    std::vector<Deployment> out;
    store::Params params;
    for (auto s : states) {
        params.emplace_back(std::string(DeploymentStateName(s)));
    }
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kDeploymentColumns) +
                                                 std::string(kDeploymentFrom) +
                                                 "WHERE d.state IN (" + InList(states.size()) +
                                                 ") ORDER BY d.id",
                                             params));
        for (const auto& r : rows) {
            out.push_back(DeploymentFromRow(r));
        }
        return {};
    }));
    return out;
}

Status ModelRegistry::SetDeploymentState(std::int64_t deployment_id, DeploymentState state,
                                         const std::string& reason) {
    const std::int64_t now = clock_.NowMs();
    return store_.Write([&](store::Tx& tx) -> Status {
        std::string sql = "UPDATE model_deployments SET state = ?, reason = ?";
        store::Params params{std::string(DeploymentStateName(state)), reason};
        if (state == DeploymentState::kDeployed) {
            sql += ", deployed_at = COALESCE(deployed_at, ?)";
            params.emplace_back(now);
        }
        if (IsFinal(state)) {
            sql += ", stopped_at = ?";
            params.emplace_back(now);
        }
        sql += " WHERE id = ? AND state NOT IN ('stopped', 'failed')";
        params.emplace_back(deployment_id);
        RETURN_IF_ERROR(tx.Exec(sql, params));
        return {};
    });
}

Status ModelRegistry::SetDeploymentConfig(std::int64_t deployment_id,
                                          const DeploymentConfig& config) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE model_deployments SET config = ? WHERE id = ?",
                                {config.ToJson().dump(), deployment_id}));
        return {};
    });
}

Status ModelRegistry::AddReplica(std::int64_t workload_id, std::int64_t deployment_id,
                                 const std::string& replica_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("INSERT INTO model_replicas (workload_id, deployment_id, "
                                "replica_id) VALUES (?, ?, ?)",
                                {workload_id, deployment_id, replica_id}));
        return {};
    });
}

Result<std::vector<std::pair<std::int64_t, std::string>>> ModelRegistry::Replicas(
    std::int64_t deployment_id) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT workload_id, replica_id FROM model_replicas "
                                             "WHERE deployment_id = ? ORDER BY workload_id",
                                             {deployment_id}));
        for (const auto& r : rows) {
            out.emplace_back(r.Int(0), r.Text(1));
        }
        return {};
    }));
    return out;
}

// ---- aliases and examples

Status ModelRegistry::SetAlias(std::int64_t model_id, const std::string& alias,
                               std::int64_t build_id, std::int64_t user_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM model_aliases WHERE model_id = ? AND alias = ?",
                                {model_id, alias}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO model_aliases (model_id, alias, build_id, set_by, "
                                "set_at) VALUES (?, ?, ?, ?, ?)",
                                {model_id, alias, build_id, user_id, clock_.NowMs()}));
        return {};
    });
}

Status ModelRegistry::RemoveAlias(std::int64_t model_id, const std::string& alias) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM model_aliases WHERE model_id = ? AND "
                                         "alias = ?",
                                         {model_id, alias}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound, "the model has no alias \"" + alias + "\"");
        }
        return {};
    });
}

Result<std::vector<ModelAlias>> ModelRegistry::Aliases(std::int64_t model_id) {
    std::vector<ModelAlias> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT a.alias, a.build_id, b.version, u.username, a.set_at "
                                  "FROM model_aliases a JOIN model_builds b ON b.id = a.build_id "
                                  "JOIN users u ON u.id = a.set_by WHERE a.model_id = ? ORDER BY "
                                  "a.alias",
                                  {model_id}));
        for (const auto& r : rows) {
            out.push_back({r.Text(0), r.Int(1), r.Int(2), r.Text(3), r.Int(4)});
        }
        return {};
    }));
    return out;
}

Result<BuildExample> ModelRegistry::AddExample(std::int64_t build_id, const std::string& request,
                                               const std::string& response) {
    BuildExample e{0, build_id, request, response, clock_.NowMs()};
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto count, tx.QueryOne("SELECT COUNT(*) FROM build_examples WHERE "
                                                 "build_id = ?",
                                                 {build_id}));
        if (count && count->Int(0) >= kMaxExamplesPerBuild) {
            return MakeError(ErrorCode::kConflict,
                             "a build keeps at most " + std::to_string(kMaxExamplesPerBuild) +
                                 " examples");
        }
        ASSIGN_OR_RETURN(e.id, tx.InsertReturningId(
                                   "INSERT INTO build_examples (build_id, request, response, "
                                   "created_at) VALUES (?, ?, ?, ?) RETURNING id",
                                   {build_id, request, response, e.created_at}));
        return {};
    }));
    return e;
}

Result<std::vector<BuildExample>> ModelRegistry::Examples(std::int64_t build_id) {
    std::vector<BuildExample> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT id, build_id, request, response, created_at "
                                             "FROM build_examples WHERE build_id = ? ORDER BY id",
                                             {build_id}));
        for (const auto& r : rows) {
            out.push_back({r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Int(4)});
        }
        return {};
    }));
    return out;
}

Result<std::vector<std::pair<std::int64_t, std::string>>> ModelRegistry::BuildSnapshots() {
    std::vector<std::pair<std::int64_t, std::string>> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT id, snapshot FROM model_builds"));
        for (const auto& r : rows) {
            out.emplace_back(r.Int(0), r.Text(1));
        }
        return {};
    }));
    return out;
}

}  // namespace lathe::serving
