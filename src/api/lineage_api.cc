// Lineage: the graph around an entity, entity search, Atlas export, a run's datasets, and the
// model catalog across every project the caller may read.
#include <algorithm>
#include <cctype>

#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"
#include "core/log.h"
#include "lineage/atlas.h"
#include "lineage/exporter.h"
#include "lineage/lineage.h"
#include "projects/projects.h"

namespace lathe::api {
namespace {

using auth::Action;

constexpr int kMaxDepth = 10;
constexpr std::size_t kMaxGraphNodes = 5000;
constexpr std::size_t kMaxExportNodes = 50000;

std::optional<std::string> Query(const http::Request& r, const std::string& name) {
    auto it = r.query.find(name);
    if (it == r.query.end()) {
        return std::nullopt;
    }
    return it->second;
}

Result<int> BoundedQueryInt(const http::Request& r, const std::string& name, int fallback,
                            int lo, int hi) {
    auto text = Query(r, name);
    if (!text) {
        return fallback;
    }
    auto value = ParseId(*text);
    if (!value && *text == "0") {
        value = 0;
    }
    if (!value || *value < lo || *value > hi) {
        return MakeError(ErrorCode::kBadRequest, name + " must be a whole number from " +
                                                     std::to_string(lo) + " to " +
                                                     std::to_string(hi));
    }
    return static_cast<int>(*value);
}

Result<lineage::Direction> DirectionOf(const http::Request& r) {
    const std::string d = Query(r, "direction").value_or("both");
    if (d == "up") {
        return lineage::Direction::kUp;
    }
    if (d == "down") {
        return lineage::Direction::kDown;
    }
    if (d == "both") {
        return lineage::Direction::kBoth;
    }
    return MakeError(ErrorCode::kBadRequest, "direction must be up, down or both");
}

Result<std::vector<std::string>> Names(const json& body, const char* field) {
    std::vector<std::string> out;
    if (!body.contains(field)) {
        return out;
    }
    const json& v = body[field];
    if (!v.is_array()) {
        return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be a list of strings");
    }
    if (v.size() > 1000) {
        return MakeError(ErrorCode::kBadRequest, std::string(field) + " has more than 1000 names");
    }
    for (const auto& item : v) {
        if (!item.is_string() || item.get<std::string>().empty() ||
            item.get<std::string>().size() > 4096) {
            return MakeError(ErrorCode::kBadRequest,
                             std::string(field) +
                                 " must hold non-empty strings of at most 4096 characters");
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

json ExportStatusJson(const lineage::ExportStatus& st) {
    return {{"target", st.target},
            {"configured", st.configured},
            {"pending", st.pending},
            {"delivered", st.delivered},
            {"failed", st.failed},
            {"dropped", st.dropped},
            {"last_error", st.last_error},
            {"last_delivered_at", OptionalTime(st.last_delivered_at)}};
}

// Records what happened since the last pass, so a read sees the newest facts. A failure to record
// (a full disk, say) must not stop anyone reading what is there: it is logged, and retried by the
// recorder's own thread.
void Refresh(Context& ctx) {
    if (auto st = ctx.services.lineage.SyncNow(); !st) {
        LogWarn("cannot record lineage before a read", {{"error", st.error().message}});
    }
}

}  // namespace

void RegisterLineageRoutes(http::Router& router, Services& s) {
    AddEndpoint(
        router, s, "GET", "/api/v2/lineage", Action::kLineageRead,
        [](Context& ctx) -> Result<http::Response> {
            auto entity = Query(ctx.request, "entity");
            if (!entity || entity->empty()) {
                return MakeError(ErrorCode::kBadRequest,
                                 "name the entity to start from: ?entity=<crn> (find CRNs with "
                                 "GET /api/v2/lineage/entities?search=...)");
            }
            ASSIGN_OR_RETURN(int depth, BoundedQueryInt(ctx.request, "depth", 3, 1, kMaxDepth));
            ASSIGN_OR_RETURN(auto direction, DirectionOf(ctx.request));
            ASSIGN_OR_RETURN(int max_nodes, BoundedQueryInt(ctx.request, "max_nodes", 1000, 1,
                                                            static_cast<int>(kMaxGraphNodes)));
            Refresh(ctx);
            bool truncated = false;
            ASSIGN_OR_RETURN(auto graph,
                             ctx.services.lineage.Around(ctx.principal, *entity, depth, direction,
                                                         static_cast<std::size_t>(max_nodes),
                                                         &truncated));
            json body = lineage::GraphJson(graph);
            body["entity"] = *entity;
            body["depth"] = depth;
            body["truncated"] = truncated;
            return http::Response::Json(200, body);
        });
    AddEndpoint(
        router, s, "GET", "/api/v2/lineage/entities", Action::kLineageRead,
        [](Context& ctx) -> Result<http::Response> {
            lineage::Lineage::SearchQuery q;
            q.text = Query(ctx.request, "search").value_or("");
            q.kind = Query(ctx.request, "kind").value_or("");
            if (!q.kind.empty() && !lineage::CategoryOf(q.kind)) {
                return MakeError(ErrorCode::kBadRequest,
                                 "unknown kind \"" + q.kind +
                                     "\"; kinds: project, dataset, job, job_run, model, "
                                     "model_build, model_deployment, file_snapshot, "
                                     "create_project, run_job, build_model, deploy_model");
            }
            if (auto p = Query(ctx.request, "project_id")) {
                auto id = ParseId(*p);
                if (!id) {
                    return MakeError(ErrorCode::kBadRequest, "project_id must be a project id");
                }
                q.project_id = *id;
            }
            ASSIGN_OR_RETURN(q.page_size, BoundedQueryInt(ctx.request, "page_size", 50, 1, 1000));
            if (auto token = Query(ctx.request, "page_token"); token && !token->empty()) {
                auto after = ParseId(*token);
                if (!after) {
                    return MakeError(ErrorCode::kBadRequest, "page_token is not one we gave out");
                }
                q.after_id = *after;
            }
            Refresh(ctx);
            ASSIGN_OR_RETURN(auto nodes, ctx.services.lineage.Search(ctx.principal, q));
            json items = json::array();
            for (const auto& n : nodes) {
                items.push_back(lineage::NodeJson(n));
            }
            std::string next;
            if (static_cast<int>(nodes.size()) == q.page_size) {
                next = std::to_string(nodes.back().id);
            }
            return http::Response::Json(200, ListBody("entities", items, next));
        });
    AddEndpoint(
        router, s, "GET", "/api/v2/lineage/export", Action::kLineageRead,
        [](Context& ctx) -> Result<http::Response> {
            const std::string format = Query(ctx.request, "format").value_or("atlas");
            if (format != "atlas" && format != "json") {
                return MakeError(ErrorCode::kBadRequest, "format must be atlas or json");
            }
            Refresh(ctx);
            bool truncated = false;
            lineage::Graph graph;
            if (auto entity = Query(ctx.request, "entity"); entity && !entity->empty()) {
                ASSIGN_OR_RETURN(int depth,
                                 BoundedQueryInt(ctx.request, "depth", 3, 1, kMaxDepth));
                ASSIGN_OR_RETURN(auto direction, DirectionOf(ctx.request));
                ASSIGN_OR_RETURN(graph, ctx.services.lineage.Around(ctx.principal, *entity, depth,
                                                                    direction, kMaxGraphNodes,
                                                                    &truncated));
            } else {
                ASSIGN_OR_RETURN(graph, ctx.services.lineage.Everything(
                                            ctx.principal, kMaxExportNodes, &truncated));
            }
            json body = format == "atlas" ? lineage::AtlasEntities(graph) : lineage::GraphJson(graph);
            body["truncated"] = truncated;
            return http::Response::Json(200, body);
        });
    AddEndpoint(router, s, "GET", "/api/v2/lineage/export/status",
                Action::kLineageExportStatus, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto statuses, ctx.services.exporter.Statuses());
                    json targets = json::array();
                    for (const auto& st : statuses) {
                        targets.push_back(ExportStatusJson(st));
                    }
                    return http::Response::Json(200, {{"targets", targets}});
                });
    AddEndpoint(
        router, s, "POST", "/api/v2/projects/{project_id}/jobs/{job_id}/runs/{run_id}/lineage",
        Action::kLineageWrite, [](Context& ctx) -> Result<http::Response> {
            auto job_id = ParseId(ctx.Param("job_id"));
            auto run_id = ParseId(ctx.Param("run_id"));
            if (!job_id || !run_id) {
                return MakeError(ErrorCode::kNotFound, "run " + ctx.Param("run_id") +
                                                           " does not exist");
            }
            ASSIGN_OR_RETURN(auto run, ctx.services.jobs.GetRun(ctx.project_id, *job_id, *run_id));
            ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
            RETURN_IF_ERROR(OnlyFields(body, {"used", "produced"}));
            ASSIGN_OR_RETURN(auto used, Names(body, "used"));
            ASSIGN_OR_RETURN(auto produced, Names(body, "produced"));
            if (used.empty() && produced.empty()) {
                return MakeError(ErrorCode::kBadRequest, "name datasets in used or produced");
            }
            RETURN_IF_ERROR(
                ctx.services.lineage.RecordRunIO(ctx.project_id, run.id, used, produced));
            return http::Response::Json(200, {{"run_id", run.id},
                                               {"used", used},
                                               {"produced", produced}});
        },
        {.audit = false});

    // The catalog: every model the caller may see, with versions, aliases, deployment and use.
    AddEndpoint(
        router, s, "GET", "/api/v2/catalog/models", Action::kLineageRead,
        [](Context& ctx) -> Result<http::Response> {
            const std::string search = Lower(Query(ctx.request, "search").value_or(""));
            std::optional<std::int64_t> project_filter;
            if (auto p = Query(ctx.request, "project_id")) {
                project_filter = ParseId(*p);
                if (!project_filter) {
                    return MakeError(ErrorCode::kBadRequest, "project_id must be a project id");
                }
            }
            const std::string state_filter = Query(ctx.request, "state").value_or("");
            if (!state_filter.empty() && state_filter != "deployed" &&
                state_filter != "not_deployed") {
                return MakeError(ErrorCode::kBadRequest, "state must be deployed or not_deployed");
            }
            ASSIGN_OR_RETURN(int page_size, BoundedQueryInt(ctx.request, "page_size", 50, 1, 500));
            std::int64_t after = 0;
            if (auto token = Query(ctx.request, "page_token"); token && !token->empty()) {
                auto id = ParseId(*token);
                if (!id) {
                    return MakeError(ErrorCode::kBadRequest, "page_token is not one we gave out");
                }
                after = *id;
            }
            struct Row {
                std::int64_t model_id, project_id;
                std::string project_name, owner;
            };
            std::vector<Row> rows;
            bool more = false;
            RETURN_IF_ERROR(ctx.services.store.Read([&](store::Tx& tx) -> Status {
                ASSIGN_OR_RETURN(auto readable,
                                 projects::Projects::ReadableIds(tx, ctx.principal));
                ASSIGN_OR_RETURN(
                    auto found,
                    tx.Query("SELECT m.id, m.project_id, p.name, COALESCE(u.username, t.name), "
                             "m.name, m.description FROM models m JOIN projects p ON p.id = "
                             "m.project_id LEFT JOIN users u ON u.id = p.owner_user_id LEFT JOIN "
                             "teams t ON t.id = p.owner_team_id WHERE m.id > ? ORDER BY m.id",
                             {after}));
                for (const auto& r : found) {
                    if (!readable.count(r.Int(1)) ||
                        (project_filter && *project_filter != r.Int(1))) {
                        continue;
                    }
                    if (!search.empty() && Lower(r.Text(4)).find(search) == std::string::npos &&
                        Lower(r.Text(5)).find(search) == std::string::npos &&
                        Lower(r.Text(2)).find(search) == std::string::npos) {
                        continue;
                    }
                    if (!state_filter.empty()) {
                        const bool deployed =
                            ctx.services.serving.ServingDeployment(r.Int(0)).has_value();
                        if (deployed != (state_filter == "deployed")) {
                            continue;
                        }
                    }
                    if (static_cast<int>(rows.size()) == page_size) {
                        more = true;
                        break;
                    }
                    rows.push_back({r.Int(0), r.Int(1), r.Text(2), r.Text(3)});
                }
                return Status{};
            }));
            Refresh(ctx);
            json items = json::array();
            const std::string ws = ctx.services.serving.workspace();
            for (const auto& row : rows) {
                auto model = ctx.services.models.GetModelById(row.model_id);
                if (!model) {
                    continue;  // deleted meanwhile
                }
                store::ListQuery all;
                all.page_size = 1000;
                ASSIGN_OR_RETURN(auto builds, ctx.services.models.ListBuilds(model->id, all));
                // Newest first.
                std::sort(builds.first.begin(), builds.first.end(),
                          [](const auto& a, const auto& b) { return a.id > b.id; });
                ASSIGN_OR_RETURN(auto aliases, ctx.services.models.Aliases(model->id));
                ASSIGN_OR_RETURN(auto deployments,
                                 ctx.services.models.ListDeployments(model->id, std::nullopt, all));
                json versions = json::array();
                for (const auto& b : builds.first) {
                    versions.push_back({{"version", b.version},
                                        {"build_id", b.id},
                                        {"crn", serving::Crn(ws, "model-build", b.uuid)},
                                        {"state", serving::BuildStateName(b.state)},
                                        {"created_by", b.created_by_name},
                                        {"created_at", FormatTime(b.created_at)}});
                }
                json alias_map = json::object();
                for (const auto& a : aliases) {
                    alias_map[a.alias] = {{"build_id", a.build_id}, {"version", a.version}};
                }
                std::optional<std::int64_t> last_deployed;
                for (const auto& d : deployments.first) {
                    if (d.deployed_at) {
                        last_deployed = std::max(last_deployed.value_or(0), *d.deployed_at);
                    }
                }
                json serving_json = nullptr;
                std::optional<std::int64_t> served_build;
                if (auto dep_id = ctx.services.serving.ServingDeployment(model->id)) {
                    auto dep = ctx.services.models.GetDeployment(*dep_id);
                    json counts = {{"requests", 0}, {"errors", 0}};
                    if (auto live = ctx.services.serving.Live(*dep_id)) {
                        counts = {{"requests", live->counters.requests},
                                  {"errors", live->counters.errors}};
                    }
                    if (dep) {
                        served_build = dep->build_id;
                        serving_json = {{"deployment_id", dep->id},
                                        {"crn", serving::Crn(ws, "model-deployment", dep->uuid)},
                                        {"state", serving::DeploymentStateName(dep->state)},
                                        {"build_id", dep->build_id},
                                        {"replicas", dep->config.replicas},
                                        {"requests", counts["requests"]},
                                        {"errors", counts["errors"]}};
                    }
                }
                // Training data of the build serving now, else of the newest built one.
                std::optional<std::int64_t> data_build = served_build;
                for (const auto& b : builds.first) {
                    if (!data_build && b.state == serving::BuildState::kBuilt) {
                        data_build = b.id;
                    }
                }
                json training = json::array();
                if (data_build) {
                    ASSIGN_OR_RETURN(auto data, ctx.services.lineage.TrainingData(*data_build));
                    for (const auto& n : data) {
                        training.push_back({{"crn", n.crn},
                                            {"name", n.name},
                                            {"qualified_name", n.qualified_name}});
                    }
                }
                items.push_back({{"model_id", model->id},
                                 {"crn", serving::Crn(ws, "model", model->uuid)},
                                 {"name", model->name},
                                 {"description", model->description},
                                 {"project_id", row.project_id},
                                 {"project_name", row.project_name},
                                 {"owner", row.owner},
                                 {"created_by", model->created_by_name},
                                 {"created_at", FormatTime(model->created_at)},
                                 {"versions", versions},
                                 {"aliases", alias_map},
                                 {"deployment", serving_json},
                                 {"last_deployed_at", OptionalTime(last_deployed)},
                                 {"endpoint",
                                  {{"cml", "/model"},
                                   {"oip_v2", "/v2/models/" + model->name + "/infer"},
                                   {"auth_enabled", model->auth_enabled}}},
                                 {"training_data", training}});
            }
            return http::Response::Json(
                200, ListBody("models", items, more ? std::to_string(rows.back().model_id) : ""));
        });
}

}  // namespace lathe::api
