// Models, their builds (with build logs) and deployments (with replicas, replica logs and the
// serving history).
#include <charconv>

#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"
#include "core/clock.h"

namespace lathe::api {
namespace {

using serving::Build;
using serving::Deployment;
using serving::DeploymentConfig;
using serving::Model;

json OptionalId(const std::optional<std::int64_t>& id) { return id ? json(*id) : json(nullptr); }

json RenderModel(Services& s, const Model& m) {
    return {{"id", m.id},
            {"crn", serving::Crn(s.serving.workspace(), "model", m.uuid)},
            {"project_id", m.project_id},
            {"name", m.name},
            {"description", m.description},
            {"access_key", m.access_key},
            {"auth_enabled", m.auth_enabled},
            {"created_by", m.created_by_name},
            {"created_at", FormatTime(m.created_at)},
            {"updated_at", FormatTime(m.updated_at)},
            {"latest_build_id", OptionalId(m.latest_build_id)},
            {"deployment_id", OptionalId(s.serving.ServingDeployment(m.id))}};
}

// Why a build or replica has not started yet: its workload's waiting reason.
std::string WaitingReason(Services& s, std::optional<std::int64_t> workload_id) {
    if (!workload_id) {
        return "";
    }
    auto w = s.workloads.Get(*workload_id);
    return w && w->state == compute::WorkloadState::kScheduling ? w->reason : "";
}

// What rebuilding needs and what a rebuild is compared on; variable names only, never values.
json Reproducibility(const Build& b) {
    json r = {{"snapshot", b.snapshot},
              {"file", b.file_path},
              {"function", b.function_name},
              {"kernel", b.kernel}};
    for (const char* key : {"python", "interpreter", "build_script_output_sha256",
                            "environment_names", "lineage_yaml", "lineage_yaml_sha256",
                            "lineage", "lineage_problems"}) {
        r[key] = b.info.value(key, json(nullptr));
    }
    if (r["environment_names"].is_null() && b.state == serving::BuildState::kBuilt) {
        json names = json::array();
        for (const auto& [k, _] : b.environment) {
            names.push_back(k);
        }
        r["environment_names"] = names;
    }
    return r;
}

json RenderBuild(Services& s, const Build& b) {
    std::string reason = b.reason;
    if (b.state == serving::BuildState::kBuilding || b.state == serving::BuildState::kQueued) {
        if (auto waiting = WaitingReason(s, b.workload_id); !waiting.empty()) {
            reason = waiting;
        }
    }
    return {{"id", b.id},
            {"crn", serving::Crn(s.serving.workspace(), "model-build", b.uuid)},
            {"model_id", b.model_id},
            {"project_id", b.project_id},
            {"state", serving::BuildStateName(b.state)},
            {"reason", reason},
            {"file_path", b.file_path},
            {"function_name", b.function_name},
            {"kernel", b.kernel},
            {"comment", b.comment},
            {"environment", b.environment},
            {"snapshot", b.snapshot},
            {"snapshot_files", b.snapshot_files},
            {"snapshot_bytes", b.snapshot_bytes},
            {"workload_id", OptionalId(b.workload_id)},
            {"python", b.info.value("python", "")},
            {"packages", b.info.contains("packages") ? b.info["packages"] : json::array()},
            {"version", b.version},
            {"rebuild_of", OptionalId(b.rebuild_of)},
            {"reproducibility", Reproducibility(b)},
            {"created_by", b.created_by_name},
            {"created_at", FormatTime(b.created_at)},
            {"started_at", OptionalTime(b.started_at)},
            {"finished_at", OptionalTime(b.finished_at)}};
}

json Quantiles(const serving::LatencyHistogram& h) {
    return {{"p50", h.Quantile(0.5) / 1000.0},
            {"p95", h.Quantile(0.95) / 1000.0},
            {"p99", h.Quantile(0.99) / 1000.0}};
}

json RenderDeployment(Services& s, const Deployment& d) {
    const DeploymentConfig& c = d.config;
    json out = {{"id", d.id},
                {"crn", serving::Crn(s.serving.workspace(), "model-deployment", d.uuid)},
                {"model_id", d.model_id},
                {"build_id", d.build_id},
                {"project_id", d.project_id},
                {"state", serving::DeploymentStateName(d.state)},
                {"reason", d.reason},
                {"replicas", c.replicas},
                {"cpu", c.resources.cpu_millicores / 1000.0},
                {"memory", c.resources.memory_mib / 1024.0},
                {"nvidia_gpu", c.resources.gpus},
                {"environment", c.environment},
                {"concurrency", c.concurrency},
                {"pipeline_depth", c.pipeline_depth},
                {"queue_size", c.queue_size},
                {"queue_timeout_seconds", c.queue_timeout_seconds},
                {"request_timeout_seconds", c.request_timeout_seconds},
                {"max_batch_size", c.max_batch_size},
                {"max_delay_ms", c.max_delay_ms},
                {"min_replicas", c.min_replicas ? json(*c.min_replicas) : json(nullptr)},
                {"max_replicas", c.max_replicas ? json(*c.max_replicas) : json(nullptr)},
                {"idempotent", c.idempotent},
                {"scale_down_delay_seconds", c.scale_down_delay_seconds},
                {"created_by", d.created_by_name},
                {"created_at", FormatTime(d.created_at)},
                {"deployed_at", OptionalTime(d.deployed_at)},
                {"stopped_at", OptionalTime(d.stopped_at)}};
    auto live = s.serving.Live(d.id);
    out["ready_replicas"] = live ? live->ready : 0;
    if (d.state == serving::DeploymentState::kDeploying) {
        if (auto replicas = s.models.Replicas(d.id)) {
            for (const auto& [workload_id, replica_id] : *replicas) {
                if (auto waiting = WaitingReason(s, workload_id); !waiting.empty()) {
                    out["reason"] = "replica " + replica_id + " is " + waiting;
                    break;
                }
            }
        }
    }
    if (live) {
        const auto& k = live->counters;
        out["stats"] = {{"requests", k.requests},
                        {"errors", k.errors},
                        {"rejected", k.rejected},
                        {"in_flight", live->in_flight},
                        {"queued", live->queued},
                        {"latency_ms", Quantiles(k.latency)},
                        {"queue_ms", Quantiles(k.queue)},
                        {"function_ms", Quantiles(k.function)},
                        {"overhead_ms", Quantiles(k.overhead)}};
    } else {
        out["stats"] = nullptr;
    }
    return out;
}

Result<std::int64_t> IdOf(Context& ctx, const char* param, const char* what) {
    auto id = ParseId(ctx.Param(param));
    if (!id) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(what) + " " + ctx.Param(param) + " does not exist");
    }
    return *id;
}

Result<Model> ModelOf(Context& ctx) {
    ASSIGN_OR_RETURN(auto id, IdOf(ctx, "model_id", "model"));
    return ctx.services.models.GetModel(ctx.project_id, id);
}

Result<Build> BuildOf(Context& ctx) {
    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
    ASSIGN_OR_RETURN(auto id, IdOf(ctx, "build_id", "build"));
    return ctx.services.models.GetBuild(m.id, id);
}

Result<Deployment> DeploymentOf(Context& ctx) {
    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
    ASSIGN_OR_RETURN(auto id, IdOf(ctx, "deployment_id", "deployment"));
    ASSIGN_OR_RETURN(Deployment d, ctx.services.models.GetDeployment(id));
    if (d.build_id != b.id) {
        return MakeError(ErrorCode::kNotFound, "deployment " + std::to_string(id) +
                                                   " does not belong to build " +
                                                   std::to_string(b.id));
    }
    return d;
}

Result<int> BoundedInt(const json& body, const char* field, int fallback, int lo, int hi) {
    ASSIGN_OR_RETURN(auto v, OptionalInt(body, field));
    if (!v) {
        return fallback;
    }
    if (*v < lo || *v > hi) {
        return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be between " +
                                                     std::to_string(lo) + " and " +
                                                     std::to_string(hi));
    }
    return static_cast<int>(*v);
}

Result<DeploymentConfig> ConfigFrom(Context& ctx, const json& body) {
    RETURN_IF_ERROR(OnlyFields(body, {"replicas", "cpu", "memory", "nvidia_gpu",
                                      "resource_profile", "environment", "concurrency",
                                      "pipeline_depth", "queue_size", "queue_timeout_seconds",
                                      "request_timeout_seconds", "max_batch_size", "max_delay_ms",
                                      "min_replicas", "max_replicas", "idempotent",
                                      "scale_down_delay_seconds"}));
    DeploymentConfig c;
    ASSIGN_OR_RETURN(auto profile, OptionalString(body, "resource_profile"));
    if (profile) {
        ASSIGN_OR_RETURN(auto profiles, ctx.services.jobs.Profiles());
        auto it = std::find_if(profiles.begin(), profiles.end(),
                               [&](const jobs::ResourceProfile& p) { return p.name == *profile; });
        if (it == profiles.end()) {
            return MakeError(ErrorCode::kBadRequest, "no resource profile named '" + *profile + "'");
        }
        c.resources = it->resources;
    }
    ASSIGN_OR_RETURN(auto cpu, OptionalScaled(body, "cpu", 1000));
    ASSIGN_OR_RETURN(auto memory, OptionalScaled(body, "memory", 1024));
    ASSIGN_OR_RETURN(auto gpus, OptionalInt(body, "nvidia_gpu"));
    const auto& limits = ctx.services.jobs.options();
    if (cpu) {
        c.resources.cpu_millicores = *cpu;
    }
    if (memory) {
        c.resources.memory_mib = *memory;
    }
    if (gpus) {
        c.resources.gpus = *gpus;
    }
    if (c.resources.cpu_millicores < 10 || c.resources.cpu_millicores > limits.max_cpu_millicores) {
        return MakeError(ErrorCode::kBadRequest,
                         "cpu must be between 0.01 and " +
                             std::to_string(limits.max_cpu_millicores / 1000.0) + " vCPU");
    }
    if (c.resources.memory_mib < 64 || c.resources.memory_mib > limits.max_memory_mib) {
        return MakeError(ErrorCode::kBadRequest, "memory must be between 0.0625 and " +
                                                     std::to_string(limits.max_memory_mib / 1024) +
                                                     " GiB");
    }
    if (c.resources.gpus < 0 || c.resources.gpus > limits.max_gpus) {
        return MakeError(ErrorCode::kBadRequest, "nvidia_gpu must be between 0 and " +
                                                     std::to_string(limits.max_gpus));
    }
    ASSIGN_OR_RETURN(auto env, OptionalStringMap(body, "environment"));
    if (env) {
        for (const auto& [k, v] : *env) {
            RETURN_IF_ERROR(projects::ValidateEnvName(k));
        }
        c.environment = std::move(*env);
    }
    ASSIGN_OR_RETURN(c.replicas, BoundedInt(body, "replicas", 1, 1, 100));
    ASSIGN_OR_RETURN(c.concurrency, BoundedInt(body, "concurrency", 1, 1, 64));
    ASSIGN_OR_RETURN(c.pipeline_depth, BoundedInt(body, "pipeline_depth", 4, 0, 64));
    ASSIGN_OR_RETURN(c.queue_size, BoundedInt(body, "queue_size", 1024, 1, 100000));
    ASSIGN_OR_RETURN(c.queue_timeout_seconds, BoundedInt(body, "queue_timeout_seconds", 30, 1, 3600));
    ASSIGN_OR_RETURN(c.request_timeout_seconds,
                     BoundedInt(body, "request_timeout_seconds", 60, 1, 86400));
    ASSIGN_OR_RETURN(c.max_batch_size, BoundedInt(body, "max_batch_size", 0, 0, 4096));
    ASSIGN_OR_RETURN(c.max_delay_ms, BoundedInt(body, "max_delay_ms", 5, 0, 10000));
    ASSIGN_OR_RETURN(auto min_r, OptionalInt(body, "min_replicas"));
    ASSIGN_OR_RETURN(auto max_r, OptionalInt(body, "max_replicas"));
    if (min_r.has_value() != max_r.has_value()) {
        return MakeError(ErrorCode::kBadRequest,
                         "autoscaling needs both min_replicas and max_replicas");
    }
    if (min_r) {
        if (*min_r < 1 || *max_r < *min_r || *max_r > 100) {
            return MakeError(ErrorCode::kBadRequest,
                             "autoscaling needs 1 <= min_replicas <= max_replicas <= 100");
        }
        c.min_replicas = static_cast<int>(*min_r);
        c.max_replicas = static_cast<int>(*max_r);
        c.replicas = std::clamp(c.replicas, *c.min_replicas, *c.max_replicas);
    }
    ASSIGN_OR_RETURN(c.scale_down_delay_seconds,
                     BoundedInt(body, "scale_down_delay_seconds", 30, 1, 86400));
    ASSIGN_OR_RETURN(auto idempotent, OptionalBool(body, "idempotent"));
    c.idempotent = idempotent.value_or(false);
    return c;
}

json RenderAlias(const serving::ModelAlias& a) {
    return {{"alias", a.alias},
            {"build_id", a.build_id},
            {"version", a.version},
            {"set_by", a.set_by},
            {"set_at", FormatTime(a.set_at)}};
}

Status ValidateAlias(const std::string& alias) {
    bool ok = !alias.empty() && alias.size() <= 64 && std::isalpha(static_cast<unsigned char>(alias[0]));
    for (char c : alias) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    }
    if (!ok) {
        return MakeError(ErrorCode::kBadRequest,
                         "an alias is a letter then letters, digits, - or _ (at most 64), e.g. "
                         "champion");
    }
    return {};
}

json RenderExample(const serving::BuildExample& e) {
    return {{"id", e.id},
            {"build_id", e.build_id},
            {"request", json::parse(e.request, nullptr, false)},
            {"response", json::parse(e.response, nullptr, false)},
            {"created_at", FormatTime(e.created_at)}};
}

// A tracked prediction carries a fresh uuid each time: compare what the model predicted.
json ComparableAnswer(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("prediction") && j.contains("uuid") && j.size() == 2) {
        return j["prediction"];
    }
    return j;
}

}  // namespace

// A time in ms since the epoch from the query; `fallback` when absent.
Result<std::int64_t> QueryMs(Context& ctx, const char* name, std::int64_t fallback) {
    const std::string_view text = ctx.request.Query(name);
    if (text.empty()) {
        return fallback;
    }
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 0) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string(name) + " must be a time in milliseconds since the epoch, "
                                             "e.g. 1795520000000; got '" +
                             std::string(text) + "'");
    }
    return v;
}

// GET .../deployments/{id}/stats/history: the deployment's per-minute (or per-hour) requests,
// errors, rejections and latency percentiles.
Result<http::Response> ServingHistoryOf(Context& ctx, std::int64_t deployment_id) {
    constexpr std::int64_t kMinuteMs = 60'000;
    constexpr std::int64_t kMaxPoints = 100'000;
    const std::int64_t now = ctx.services.clock.NowMs();
    ASSIGN_OR_RETURN(std::int64_t to, QueryMs(ctx, "to", now));
    ASSIGN_OR_RETURN(std::int64_t from,
                     QueryMs(ctx, "from", std::max<std::int64_t>(0, to - 3'600'000)));
    if (to < from) {
        return MakeError(ErrorCode::kBadRequest, "to (" + std::to_string(to) +
                                                     ") is before from (" + std::to_string(from) +
                                                     "); swap them");
    }
    const std::string resolution(ctx.request.Query("resolution").empty()
                                     ? std::string_view("minute")
                                     : ctx.request.Query("resolution"));
    if (resolution != "minute" && resolution != "hour") {
        return MakeError(ErrorCode::kBadRequest,
                         "resolution must be minute or hour; got '" + resolution + "'");
    }
    const std::int64_t step = resolution == "hour" ? 60 * kMinuteMs : kMinuteMs;
    if ((to - from) / step > kMaxPoints) {
        return MakeError(ErrorCode::kBadRequest,
                         "the window from " + std::to_string(from) + " to " + std::to_string(to) +
                             " holds more than " + std::to_string(kMaxPoints) + " " + resolution +
                             "s; " +
                             (resolution == "minute" ? "ask for resolution=hour or a shorter window"
                                                     : "ask for a shorter window"));
    }
    serving::ServingHistory* history = ctx.services.serving.history();
    if (history == nullptr) {
        return MakeError(ErrorCode::kUnavailable, "this server keeps no serving history");
    }
    using Resolution = serving::ServingHistory::Resolution;
    ASSIGN_OR_RETURN(auto points,
                     history->Read(deployment_id, from, to,
                                   resolution == "hour" ? Resolution::kHour : Resolution::kMinute));
    json items = json::array();
    for (const auto& p : points) {
        items.push_back({{"t", p.t_ms},
                         {"requests", p.requests},
                         {"errors", p.errors},
                         {"rejected", p.rejected},
                         {"p50_ms", p.p50_ms},
                         {"p95_ms", p.p95_ms},
                         {"p99_ms", p.p99_ms}});
    }
    return http::Response::Json(
        200, {{"resolution", resolution}, {"from", from}, {"to", to}, {"points", items}});
}

void RegisterModelRoutes(http::Router& router, Services& s) {
    using auth::Action;
    const std::string models = "/api/v2/projects/{project_id}/models";
    const std::string model = models + "/{model_id}";
    const std::string builds = model + "/builds";
    const std::string build = builds + "/{build_id}";
    const std::string deployments = build + "/deployments";
    const std::string deployment = deployments + "/{deployment_id}";

    AddEndpoint(router, s, "POST", models, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"name", "description", "auth_enabled"}));
                    ASSIGN_OR_RETURN(auto name, RequiredString(body, "name"));
                    ASSIGN_OR_RETURN(auto description, OptionalString(body, "description"));
                    ASSIGN_OR_RETURN(auto auth_enabled, OptionalBool(body, "auth_enabled"));
                    ASSIGN_OR_RETURN(Model m, ctx.services.serving.CreateModel(
                                                  ctx.project_id, ctx.principal.user_id, name,
                                                  description.value_or(""),
                                                  auth_enabled.value_or(true)));
                    ctx.audit_target = "/api/v2/projects/" + std::to_string(ctx.project_id) +
                                       "/models/" + std::to_string(m.id);
                    return http::Response::Json(201, RenderModel(ctx.services, m));
                });
    AddEndpoint(router, s, "GET", models, Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request,
                                                           serving::ModelRegistry::ModelListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.models.ListModels(ctx.project_id, q));
                    json items = json::array();
                    for (const auto& m : page.first) {
                        items.push_back(RenderModel(ctx.services, m));
                    }
                    return http::Response::Json(200, ListBody("models", items, page.second));
                });
    AddEndpoint(router, s, "GET", model, Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    return http::Response::Json(200, RenderModel(ctx.services, m));
                });
    // Model API keys: a key of the caller's that calls this model and nothing else (revoked like
    // any key, under /api/v2/users/{username}/keys).
    AddEndpoint(router, s, "POST", model + "/keys", Action::kModelCallAuthorized,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"name", "expires_in_days"}));
                    ASSIGN_OR_RETURN(auto name, OptionalString(body, "name"));
                    ASSIGN_OR_RETURN(auto days, OptionalInt(body, "expires_in_days"));
                    std::optional<int> expires;
                    if (days) {
                        if (*days < 1 || *days > 3650) {
                            return MakeError(ErrorCode::kBadRequest,
                                             "expires_in_days must be from 1 to 3650");
                        }
                        expires = static_cast<int>(*days);
                    }
                    ASSIGN_OR_RETURN(auto created, ctx.services.accounts.CreateApiKey(
                                                       ctx.principal.user_id,
                                                       name.value_or("model " + m.name), expires,
                                                       m.id));
                    ctx.audit_target = "/api/v2/users/" + ctx.principal.username + "/keys/" +
                                       std::to_string(created.first.id);
                    json out = RenderKey(created.first, false);
                    out["key"] = created.second;
                    http::Response r = http::Response::Json(201, out);
                    r.headers.emplace_back("Cache-Control", "no-store");
                    return r;
                });
    AddEndpoint(router, s, "GET", model + "/keys", Action::kModelCallAuthorized,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(auto keys, ctx.services.accounts.ListApiKeys(
                                                    ctx.principal.user_id, m.id));
                    json items = json::array();
                    for (const auto& k : keys) {
                        items.push_back(RenderKey(k, false));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "keys"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PATCH", model, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"description", "auth_enabled"}));
                    ASSIGN_OR_RETURN(auto description, OptionalString(body, "description"));
                    ASSIGN_OR_RETURN(auto auth_enabled, OptionalBool(body, "auth_enabled"));
                    ASSIGN_OR_RETURN(m, ctx.services.serving.UpdateModel(
                                            ctx.project_id, m.id, description, auth_enabled));
                    return http::Response::Json(200, RenderModel(ctx.services, m));
                });
    AddEndpoint(router, s, "DELETE", model, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    RETURN_IF_ERROR(ctx.services.serving.DeleteModel(ctx.project_id, m.id,
                                                                     ctx.principal.username));
                    return http::Response::NoContent();
                });

    AddEndpoint(router, s, "POST", builds, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"file_path", "function_name", "kernel",
                                                      "comment", "environment"}));
                    serving::BuildRequest r;
                    ASSIGN_OR_RETURN(r.file_path, RequiredString(body, "file_path"));
                    ASSIGN_OR_RETURN(r.function_name, RequiredString(body, "function_name"));
                    ASSIGN_OR_RETURN(auto kernel, OptionalString(body, "kernel"));
                    r.kernel = kernel.value_or("python3");
                    ASSIGN_OR_RETURN(auto comment, OptionalString(body, "comment"));
                    r.comment = comment.value_or("");
                    ASSIGN_OR_RETURN(auto env, OptionalStringMap(body, "environment"));
                    r.environment = env.value_or(std::map<std::string, std::string>{});
                    ASSIGN_OR_RETURN(Build b, ctx.services.serving.StartBuild(
                                                  ctx.project_id, m.id, ctx.principal.user_id, r));
                    ctx.audit_target = ctx.request.path + "/" + std::to_string(b.id);
                    return http::Response::Json(201, RenderBuild(ctx.services, b));
                });
    AddEndpoint(router, s, "GET", builds, Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request,
                                                           serving::ModelRegistry::BuildListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.models.ListBuilds(m.id, q));
                    json items = json::array();
                    for (const auto& b : page.first) {
                        items.push_back(RenderBuild(ctx.services, b));
                    }
                    return http::Response::Json(200, ListBody("builds", items, page.second));
                });
    AddEndpoint(router, s, "GET", build, Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    return http::Response::Json(200, RenderBuild(ctx.services, b));
                });
    AddEndpoint(router, s, "GET", build + "/logs", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    const bool ended = b.state == serving::BuildState::kBuilt ||
                                       b.state == serving::BuildState::kFailed;
                    if (!b.workload_id) {
                        // Ended before it ran (no snapshot, no kernel, ...): the reason is its
                        // whole log, read from ?offset= like any other.
                        const std::string text = ended ? b.reason + "\n" : "";
                        std::uint64_t offset = 0;
                        if (auto it = ctx.request.query.find("offset");
                            it != ctx.request.query.end()) {
                            offset = ParseId(it->second).value_or(0);
                        }
                        offset = std::min<std::uint64_t>(offset, text.size());
                        http::Response r;
                        r.content_type = "text/plain; charset=utf-8";
                        r.body = text.substr(offset);
                        r.headers.emplace_back("X-Log-Offset", std::to_string(text.size()));
                        r.headers.emplace_back("X-Log-Size", std::to_string(text.size()));
                        r.headers.emplace_back("X-Log-Complete", ended ? "true" : "false");
                        return r;
                    }
                    // The workload ends a moment before the build's state is recorded.
                    return ReadLog(ctx, *b.workload_id, ended);
                });
    AddWsEndpoint(router, s, build + "/logs:follow", Action::kModelsRead,
                  [](Context& ctx, std::shared_ptr<http::WsChannel> channel)
                      -> Result<http::WsCallbacks> {
                      ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                      if (!b.workload_id) {
                          return MakeError(ErrorCode::kConflict,
                                           "the build has not started yet; try again shortly");
                      }
                      auto w = ctx.services.workloads.Get(*b.workload_id);
                      return FollowLog(ctx, std::move(channel), *b.workload_id,
                                       w && compute::IsFinal(w->state));
                  });

    AddEndpoint(router, s, "POST", build + ":rebuild", Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    ASSIGN_OR_RETURN(Build r, ctx.services.serving.Rebuild(
                                                  ctx.project_id, b.model_id, b.id,
                                                  ctx.principal.user_id));
                    ctx.audit_target = "/api/v2/projects/" + std::to_string(ctx.project_id) +
                                       "/models/" + std::to_string(b.model_id) + "/builds/" +
                                       std::to_string(r.id);
                    return http::Response::Json(201, RenderBuild(ctx.services, r));
                });
    AddEndpoint(router, s, "GET", build + "/verification", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    ASSIGN_OR_RETURN(json v, ctx.services.serving.Verify(ctx.project_id,
                                                                         b.model_id, b.id));
                    return http::Response::Json(200, v);
                });
    AddEndpoint(router, s, "GET", model + "/aliases", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    ASSIGN_OR_RETURN(auto aliases, ctx.services.models.Aliases(m.id));
                    json items = json::array();
                    for (const auto& a : aliases) {
                        items.push_back(RenderAlias(a));
                    }
                    return http::Response::Json(200, {{"aliases", items}});
                });
    AddEndpoint(router, s, "PUT", model + "/aliases/{alias}", Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    const std::string alias = ctx.Param("alias");
                    RETURN_IF_ERROR(ValidateAlias(alias));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"build_id"}));
                    ASSIGN_OR_RETURN(auto build_id, OptionalInt(body, "build_id"));
                    if (!build_id) {
                        return MakeError(ErrorCode::kBadRequest,
                                         "build_id is required: the build the alias names");
                    }
                    ASSIGN_OR_RETURN(Build b, ctx.services.models.GetBuild(m.id, *build_id));
                    if (b.state != serving::BuildState::kBuilt) {
                        return MakeError(ErrorCode::kConflict,
                                         "build " + std::to_string(b.id) + " is " +
                                             std::string(serving::BuildStateName(b.state)) +
                                             "; an alias names a built build");
                    }
                    RETURN_IF_ERROR(ctx.services.models.SetAlias(m.id, alias, b.id,
                                                                 ctx.principal.user_id));
                    ASSIGN_OR_RETURN(auto aliases, ctx.services.models.Aliases(m.id));
                    for (const auto& a : aliases) {
                        if (a.alias == alias) {
                            return http::Response::Json(200, RenderAlias(a));
                        }
                    }
                    return MakeError(ErrorCode::kInternal, "the alias was not kept");
                });
    AddEndpoint(router, s, "DELETE", model + "/aliases/{alias}", Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    RETURN_IF_ERROR(ctx.services.models.RemoveAlias(m.id, ctx.Param("alias")));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "POST", build + "/examples", Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"request", "response"}));
                    if (!body.contains("request")) {
                        return MakeError(ErrorCode::kBadRequest,
                                         "request is required: what the model is called with");
                    }
                    std::string response;
                    if (body.contains("response")) {
                        response = body["response"].dump();
                    } else {
                        // No answer given: ask the build itself (it must be serving).
                        ASSIGN_OR_RETURN(response, ctx.services.serving.CallBuild(
                                                       b.model_id, b.id, body["request"].dump(),
                                                       std::chrono::seconds(60)));
                    }
                    ASSIGN_OR_RETURN(auto e, ctx.services.models.AddExample(
                                                 b.id, body["request"].dump(), response));
                    return http::Response::Json(201, RenderExample(e));
                });
    AddEndpoint(router, s, "GET", build + "/examples", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    ASSIGN_OR_RETURN(auto examples, ctx.services.models.Examples(b.id));
                    json items = json::array();
                    for (const auto& e : examples) {
                        items.push_back(RenderExample(e));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "examples"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(
        router, s, "POST", build + "/examples:replay", Action::kModelsWrite,
        [](Context& ctx) -> Result<http::Response> {
            ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
            ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
            RETURN_IF_ERROR(OnlyFields(body, {"against_build_id"}));
            ASSIGN_OR_RETURN(auto against, OptionalInt(body, "against_build_id"));
            if (!against) {
                return MakeError(ErrorCode::kBadRequest,
                                 "against_build_id is required: the (deployed) build to replay "
                                 "this build's examples against");
            }
            ASSIGN_OR_RETURN(Build target, ctx.services.models.GetBuild(b.model_id, *against));
            ASSIGN_OR_RETURN(auto examples, ctx.services.models.Examples(b.id));
            json changed = json::array();
            int same = 0;
            for (const auto& e : examples) {
                ASSIGN_OR_RETURN(std::string answer,
                                 ctx.services.serving.CallBuild(b.model_id, target.id, e.request,
                                                                std::chrono::seconds(60)));
                json expected = ComparableAnswer(e.response);
                json actual = ComparableAnswer(answer);
                if (expected == actual) {
                    ++same;
                } else {
                    changed.push_back({{"example_id", e.id},
                                       {"request", json::parse(e.request, nullptr, false)},
                                       {"expected", expected},
                                       {"actual", actual}});
                }
            }
            return http::Response::Json(200, {{"build_id", b.id},
                                              {"against_build_id", target.id},
                                              {"examples", examples.size()},
                                              {"same", same},
                                              {"changed", changed}});
        });

    AddEndpoint(router, s, "POST", deployments, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(DeploymentConfig c, ConfigFrom(ctx, body));
                    ASSIGN_OR_RETURN(Deployment d,
                                     ctx.services.serving.Deploy(ctx.project_id, b.model_id, b.id,
                                                                 ctx.principal.user_id, c));
                    ctx.audit_target = ctx.request.path + "/" + std::to_string(d.id);
                    return http::Response::Json(201, RenderDeployment(ctx.services, d));
                });
    auto list_deployments = [](Context& ctx, std::optional<std::int64_t> build_id,
                               std::int64_t model_id) -> Result<http::Response> {
        ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request,
                                               serving::ModelRegistry::DeploymentListSpec()));
        ASSIGN_OR_RETURN(auto page, ctx.services.models.ListDeployments(model_id, build_id, q));
        json items = json::array();
        for (const auto& d : page.first) {
            items.push_back(RenderDeployment(ctx.services, d));
        }
        return http::Response::Json(200, ListBody("deployments", items, page.second));
    };
    AddEndpoint(router, s, "GET", model + "/deployments", Action::kModelsRead,
                [list_deployments](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Model m, ModelOf(ctx));
                    return list_deployments(ctx, std::nullopt, m.id);
                });
    AddEndpoint(router, s, "GET", deployments, Action::kModelsRead,
                [list_deployments](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Build b, BuildOf(ctx));
                    return list_deployments(ctx, b.id, b.model_id);
                });
    AddEndpoint(router, s, "GET", deployment, Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    return http::Response::Json(200, RenderDeployment(ctx.services, d));
                });
    AddEndpoint(router, s, "GET", deployment + "/stats/history", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    return ServingHistoryOf(ctx, d.id);
                });
    AddEndpoint(router, s, "POST", deployment + ":stop", Action::kModelsOperate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    ASSIGN_OR_RETURN(d, ctx.services.serving.Stop(d.id, ctx.principal.username));
                    return http::Response::Json(200, RenderDeployment(ctx.services, d));
                });
    AddEndpoint(router, s, "POST", deployment + ":restart", Action::kModelsOperate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    ASSIGN_OR_RETURN(d, ctx.services.serving.Restart(d.id));
                    return http::Response::Json(200, RenderDeployment(ctx.services, d));
                });
    AddEndpoint(router, s, "GET", deployment + "/replicas", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    ASSIGN_OR_RETURN(auto replicas, ctx.services.serving.Replicas(d.id));
                    json items = json::array();
                    for (const auto& r : replicas) {
                        items.push_back({{"id", r.workload_id},
                                         {"replica_id", r.replica_id},
                                         {"state", r.state},
                                         {"ready", r.ready},
                                         {"in_flight", r.in_flight},
                                         {"requests", r.requests},
                                         {"errors", r.errors},
                                         {"reason", r.reason},
                                         {"started_at", OptionalTime(r.started_at)},
                                         {"finished_at", OptionalTime(r.finished_at)}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "replicas"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "GET", deployment + "/replicas/{replica_id}/logs", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                    ASSIGN_OR_RETURN(auto replicas, ctx.services.models.Replicas(d.id));
                    const std::string& wanted = ctx.Param("replica_id");
                    for (const auto& [workload_id, replica_id] : replicas) {
                        if (replica_id == wanted || std::to_string(workload_id) == wanted) {
                            auto w = ctx.services.workloads.Get(workload_id);
                            return ReadLog(ctx, workload_id, w && compute::IsFinal(w->state));
                        }
                    }
                    return MakeError(ErrorCode::kNotFound, "deployment " + std::to_string(d.id) +
                                                               " has no replica " + wanted);
                });
    AddWsEndpoint(router, s, deployment + "/replicas/{replica_id}/logs:follow",
                  Action::kModelsRead,
                  [](Context& ctx, std::shared_ptr<http::WsChannel> channel)
                      -> Result<http::WsCallbacks> {
                      ASSIGN_OR_RETURN(Deployment d, DeploymentOf(ctx));
                      ASSIGN_OR_RETURN(auto replicas, ctx.services.models.Replicas(d.id));
                      const std::string& wanted = ctx.Param("replica_id");
                      for (const auto& [workload_id, replica_id] : replicas) {
                          if (replica_id == wanted || std::to_string(workload_id) == wanted) {
                              auto w = ctx.services.workloads.Get(workload_id);
                              return FollowLog(ctx, std::move(channel), workload_id,
                                               w && compute::IsFinal(w->state));
                          }
                      }
                      return MakeError(ErrorCode::kNotFound,
                                       "deployment " + std::to_string(d.id) + " has no replica " +
                                           wanted);
                  });
}

}  // namespace lathe::api
