// Jobs, their runs, run logs (read from an offset, or followed over a WebSocket), and quotas.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"
#include "core/clock.h"

namespace lathe::api {
namespace {

json Notifications(const std::vector<jobs::Notification>& notes) {
    json out = json::array();
    for (const auto& n : notes) {
        out.push_back({{"url", n.url}, {"events", n.events}});
    }
    return out;
}

json RenderJob(const jobs::Job& j) {
    json out = {{"id", j.id},
            {"project_id", j.project_id},
            {"name", j.name},
            {"script", j.script},
            {"arguments", j.arguments},
            {"kernel", j.kernel},
            {"cpu", j.resources.cpu_millicores / 1000.0},
            {"memory", j.resources.memory_mib / 1024.0},
            {"nvidia_gpu", j.resources.gpus},
            {"timeout", j.timeout_seconds},
            {"kill_on_timeout", j.kill_on_timeout},
            {"environment", j.environment},
            {"schedule", j.schedule},
            {"timezone", j.timezone},
            {"parent_job_id", j.parent_job_id ? json(*j.parent_job_id) : json(nullptr)},
            {"overlap", j.overlap},
            {"catch_up", j.catch_up},
            {"notifications", Notifications(j.notifications)},
            {"created_by", j.created_by},
            {"created_at", FormatTime(j.created_at)},
            {"updated_at", FormatTime(j.updated_at)}};
    // What the schedule means, in words and the next fire times, as the UI shows it.
    out["schedule_description"] = "manual";
    out["next_runs"] = json::array();
    if (j.parent_job_id) {
        out["schedule_description"] = "after job " + std::to_string(*j.parent_job_id) + " succeeds";
    } else if (!j.schedule.empty()) {
        if (auto parsed = jobs::ParseSchedule(j.schedule, j.timezone); parsed) {
            out["schedule_description"] = jobs::DescribeSchedule(*parsed);
            for (std::int64_t t : jobs::NextFireTimes(*parsed, SystemClock().NowMs(), 5)) {
                out["next_runs"].push_back(FormatTime(t));
            }
        }
    }
    return out;
}

json RenderRun(const compute::Workload& w) {
    json duration = nullptr;
    if (w.started_at) {
        duration = ((w.finished_at ? *w.finished_at : SystemClock().NowMs()) - *w.started_at) / 1000.0;
    }
    return {{"id", w.id},
            {"job_id", w.job_id ? json(*w.job_id) : json(nullptr)},
            {"project_id", w.project_id},
            {"status", compute::StateName(w.state)},
            {"reason", w.reason},
            {"trigger", w.trigger},
            {"owner", w.owner},
            {"arguments", w.spec.argv.size() > 2
                              ? json(std::vector<std::string>(w.spec.argv.begin() + 2,
                                                              w.spec.argv.end()))
                              : json::array()},
            {"cpu", w.spec.resources.cpu_millicores / 1000.0},
            {"memory", w.spec.resources.memory_mib / 1024.0},
            {"nvidia_gpu", w.spec.resources.gpus},
            {"exit_code", w.exit_code ? json(*w.exit_code) : json(nullptr)},
            {"created_at", FormatTime(w.created_at)},
            {"started_at", OptionalTime(w.started_at)},
            {"finished_at", OptionalTime(w.finished_at)},
            {"duration_seconds", duration}};
}

Result<jobs::JobFields> FieldsFrom(const json& body) {
    RETURN_IF_ERROR(OnlyFields(body, {"name", "script", "arguments", "kernel", "cpu", "memory",
                                      "nvidia_gpu", "timeout", "kill_on_timeout", "environment",
                                      "schedule", "timezone", "parent_job_id", "overlap",
                                      "catch_up", "notifications", "resource_profile",
                                      "runtime_identifier"}));
    jobs::JobFields f;
    ASSIGN_OR_RETURN(f.name, OptionalString(body, "name"));
    ASSIGN_OR_RETURN(f.script, OptionalString(body, "script"));
    ASSIGN_OR_RETURN(f.arguments, OptionalString(body, "arguments"));
    ASSIGN_OR_RETURN(f.kernel, OptionalString(body, "kernel"));
    ASSIGN_OR_RETURN(f.cpu_millicores, OptionalScaled(body, "cpu", 1000));
    ASSIGN_OR_RETURN(f.memory_mib, OptionalScaled(body, "memory", 1024));
    ASSIGN_OR_RETURN(f.gpus, OptionalInt(body, "nvidia_gpu"));
    ASSIGN_OR_RETURN(f.timeout_seconds, OptionalInt(body, "timeout"));
    ASSIGN_OR_RETURN(f.kill_on_timeout, OptionalBool(body, "kill_on_timeout"));
    ASSIGN_OR_RETURN(f.schedule, OptionalString(body, "schedule"));
    ASSIGN_OR_RETURN(f.timezone, OptionalString(body, "timezone"));
    ASSIGN_OR_RETURN(f.overlap, OptionalString(body, "overlap"));
    ASSIGN_OR_RETURN(f.resource_profile, OptionalString(body, "resource_profile"));
    ASSIGN_OR_RETURN(f.catch_up, OptionalBool(body, "catch_up"));
    if (auto it = body.find("notifications"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) {
            return MakeError(ErrorCode::kBadRequest,
                             "notifications must be a list of {\"url\", \"events\"}");
        }
        std::vector<jobs::Notification> notes;
        for (const auto& n : *it) {
            if (!n.is_object() || !n.contains("url") || !n["url"].is_string() ||
                !n.contains("events") || !n["events"].is_array()) {
                return MakeError(ErrorCode::kBadRequest,
                                 "each notification is {\"url\": \"https://...\", \"events\": [...]}");
            }
            jobs::Notification note;
            note.url = n["url"].get<std::string>();
            for (const auto& e : n["events"]) {
                if (!e.is_string()) {
                    return MakeError(ErrorCode::kBadRequest, "notification events are strings");
                }
                note.events.push_back(e.get<std::string>());
            }
            notes.push_back(std::move(note));
        }
        f.notifications = std::move(notes);
    }
    ASSIGN_OR_RETURN(f.environment, OptionalStringMap(body, "environment"));
    if (auto it = body.find("parent_job_id"); it != body.end()) {
        if (it->is_null()) {
            f.parent_job_id = std::optional<std::int64_t>();
        } else if (it->is_number_integer()) {
            f.parent_job_id = std::optional<std::int64_t>(it->get<std::int64_t>());
        } else {
            return MakeError(ErrorCode::kBadRequest, "parent_job_id must be a job id or null");
        }
    }
    return f;
}

Result<std::int64_t> IdParam(Context& ctx, const char* name, const char* what) {
    auto id = ParseId(ctx.Param(name));
    if (!id) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(what) + " " + ctx.Param(name) + " does not exist");
    }
    return *id;
}

// The run named by {job_id} and {run_id}, checked to belong to the project in the path.
Result<compute::Workload> RunOf(Context& ctx) {
    ASSIGN_OR_RETURN(auto job_id, IdParam(ctx, "job_id", "job"));
    ASSIGN_OR_RETURN(auto run_id, IdParam(ctx, "run_id", "run"));
    return ctx.services.jobs.GetRun(ctx.project_id, job_id, run_id);
}

Result<compute::Resources> QuotaFrom(const json& body) {
    RETURN_IF_ERROR(OnlyFields(body, {"cpu", "memory", "nvidia_gpu"}));
    ASSIGN_OR_RETURN(auto cpu, OptionalScaled(body, "cpu", 1000));
    ASSIGN_OR_RETURN(auto memory, OptionalScaled(body, "memory", 1024));
    ASSIGN_OR_RETURN(auto gpus, OptionalInt(body, "nvidia_gpu"));
    if (!cpu || !memory || *cpu < 0 || *memory < 0 || gpus.value_or(0) < 0) {
        return MakeError(ErrorCode::kBadRequest,
                         "a quota needs cpu (vCPU) and memory (GiB), both at least 0");
    }
    return compute::Resources{*cpu, *memory, gpus.value_or(0)};
}

}  // namespace

void RegisterJobRoutes(http::Router& router, Services& s) {
    const std::string jobs = "/api/v2/projects/{project_id}/jobs";
    const std::string job = jobs + "/{job_id}";
    const std::string run = job + "/runs/{run_id}";

    AddEndpoint(router, s, "GET", jobs, auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request, jobs::Jobs::JobListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.jobs.List(ctx.project_id, q));
                    json items = json::array();
                    for (const auto& j : page.first) {
                        items.push_back(RenderJob(j));
                    }
                    return http::Response::Json(200, ListBody("jobs", items, page.second));
                });
    AddEndpoint(router, s, "POST", jobs, auth::Action::kJobsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(auto fields, FieldsFrom(body));
                    if (!fields.name || !fields.script) {
                        return MakeError(ErrorCode::kBadRequest, "name and script are required");
                    }
                    ASSIGN_OR_RETURN(auto j, ctx.services.jobs.Create(ctx.principal,
                                                                      ctx.project_id, fields));
                    ctx.audit_target = ctx.request.path + "/" + std::to_string(j.id);
                    return http::Response::Json(201, RenderJob(j));
                });
    AddEndpoint(router, s, "GET", job, auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(auto j, ctx.services.jobs.Get(ctx.project_id, id));
                    return http::Response::Json(200, RenderJob(j));
                });
    AddEndpoint(router, s, "PATCH", job, auth::Action::kJobsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(auto fields, FieldsFrom(body));
                    ASSIGN_OR_RETURN(auto j, ctx.services.jobs.Update(ctx.project_id, id, fields));
                    return http::Response::Json(200, RenderJob(j));
                });
    AddEndpoint(router, s, "DELETE", job, auth::Action::kJobsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    RETURN_IF_ERROR(ctx.services.jobs.Delete(ctx.project_id, id));
                    return http::Response::NoContent();
                });

    AddEndpoint(router, s, "GET", job + "/runs", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    RETURN_IF_ERROR(ctx.services.jobs.Get(ctx.project_id, id));
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request,
                                                           compute::WorkloadRecords::RunListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.workloads.ListForJob(id, q));
                    json items = json::array();
                    for (const auto& w : page.first) {
                        items.push_back(RenderRun(w));
                    }
                    return http::Response::Json(200, ListBody("runs", items, page.second));
                });
    AddEndpoint(router, s, "POST", job + "/runs", auth::Action::kJobRunStart,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"arguments", "environment"}));
                    jobs::RunOverrides overrides;
                    ASSIGN_OR_RETURN(overrides.arguments, OptionalString(body, "arguments"));
                    if (auto it = body.find("environment"); it != body.end() && !it->is_null()) {
                        if (!it->is_object()) {
                            return MakeError(ErrorCode::kBadRequest,
                                             "environment must be an object of strings");
                        }
                        for (const auto& [k, v] : it->items()) {
                            if (!v.is_string()) {
                                return MakeError(ErrorCode::kBadRequest,
                                                 "environment." + k + " must be a string");
                            }
                            overrides.environment[k] = v.get<std::string>();
                        }
                    }
                    const bool browser = ctx.principal.method == auth::AuthMethod::kSession;
                    ASSIGN_OR_RETURN(auto w, ctx.services.jobs.StartRun(
                                                 ctx.project_id, id, ctx.principal.user_id,
                                                 browser ? "manual" : "api", overrides));
                    ctx.audit_target = ctx.request.path + "/" + std::to_string(w.id);
                    return http::Response::Json(201, RenderRun(w));
                });
    AddEndpoint(router, s, "GET", run, auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto job_id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(auto run_id, IdParam(ctx, "run_id", "run"));
                    ASSIGN_OR_RETURN(auto w, ctx.services.jobs.GetRun(ctx.project_id, job_id, run_id));
                    return http::Response::Json(200, RenderRun(w));
                });
    AddEndpoint(router, s, "POST", run + ":stop", auth::Action::kJobRunStop,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto job_id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(auto run_id, IdParam(ctx, "run_id", "run"));
                    RETURN_IF_ERROR(ctx.services.jobs.GetRun(ctx.project_id, job_id, run_id));
                    ASSIGN_OR_RETURN(auto w, ctx.services.scheduler.Stop(run_id,
                                                                         ctx.principal.username));
                    return http::Response::Json(200, RenderRun(w));
                });
    AddEndpoint(router, s, "GET", run + "/logs", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto job_id, IdParam(ctx, "job_id", "job"));
                    ASSIGN_OR_RETURN(auto run_id, IdParam(ctx, "run_id", "run"));
                    ASSIGN_OR_RETURN(auto w, ctx.services.jobs.GetRun(ctx.project_id, job_id, run_id));
                    return ReadLog(ctx, run_id, compute::IsFinal(w.state));
                });
    AddWsEndpoint(
        router, s, run + "/logs:follow", auth::Action::kJobsRead,
        [](Context& ctx, std::shared_ptr<http::WsChannel> channel) -> Result<http::WsCallbacks> {
            ASSIGN_OR_RETURN(auto job_id, IdParam(ctx, "job_id", "job"));
            ASSIGN_OR_RETURN(auto run_id, IdParam(ctx, "run_id", "run"));
            ASSIGN_OR_RETURN(auto w, ctx.services.jobs.GetRun(ctx.project_id, job_id, run_id));
            return FollowLog(ctx, std::move(channel), run_id, compute::IsFinal(w.state));
        });

    // Experiments: what a run recorded with cdsw.track_metric / cdsw.track_file.
    AddEndpoint(router, s, "GET", run + "/metrics", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    ASSIGN_OR_RETURN(auto metrics, ctx.services.experiments.Metrics(w.id));
                    json items = json::array();
                    for (const auto& m : metrics) {
                        items.push_back({{"key", m.key},
                                         {"value", m.value},
                                         {"recorded_at", FormatTime(m.recorded_at)}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "metrics"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "POST", run + "/metrics", auth::Action::kJobRunStart,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"key", "value"}));
                    ASSIGN_OR_RETURN(std::string key, RequiredString(body, "key"));
                    if (!body.contains("value")) {
                        return MakeError(ErrorCode::kBadRequest, "field 'value' is required");
                    }
                    RETURN_IF_ERROR(ctx.services.experiments.AddMetric(w.id, key, body["value"]));
                    return http::Response::Json(201, {{"key", key}, {"value", body["value"]}});
                });
    AddEndpoint(router, s, "DELETE", run + "/metrics", auth::Action::kJobsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    RETURN_IF_ERROR(ctx.services.experiments.Delete(w.id));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "GET", run + "/artifacts", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    ASSIGN_OR_RETURN(auto artifacts, ctx.services.experiments.Artifacts(w.id));
                    json items = json::array();
                    for (const auto& a : artifacts) {
                        items.push_back({{"path", a.path},
                                         {"size", a.size},
                                         {"recorded_at", FormatTime(a.recorded_at)}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "artifacts"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "POST", run + "/artifacts", auth::Action::kJobRunStart,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"path"}));
                    ASSIGN_OR_RETURN(std::string path, RequiredString(body, "path"));
                    ASSIGN_OR_RETURN(auto a, ctx.services.experiments.TrackFile(w.project_id, w.id,
                                                                                path));
                    return http::Response::Json(201, {{"path", a.path}, {"size", a.size}});
                });
    AddEndpoint(router, s, "GET", run + "/artifacts/{path+}:download", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, RunOf(ctx));
                    ASSIGN_OR_RETURN(auto file,
                                     ctx.services.experiments.ArtifactFile(w.id, ctx.Param("path")));
                    http::Response r;
                    r.content_type = "application/octet-stream";
                    r.file = file;
                    return r;
                });
    AddEndpoint(router, s, "GET", job + "/metrics", auth::Action::kJobsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "job_id", "job"));
                    RETURN_IF_ERROR(ctx.services.jobs.Get(ctx.project_id, id));
                    ASSIGN_OR_RETURN(auto compared, ctx.services.experiments.Compare(id, 100));
                    return http::Response::Json(200, compared);
                });

    AddEndpoint(router, s, "GET", "/api/v2/runtimes", auth::Action::kComputeRead,
                [](Context& ctx) -> Result<http::Response> {
                    json items = json::array();
                    for (const auto& k : ctx.services.jobs.kernels()) {
                        items.push_back({{"name", k.name}, {"interpreter", k.interpreter}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "runtimes"));
                    const auto& o = ctx.services.jobs.options();
                    page["max_workload"] = {{"cpu", o.max_cpu_millicores / 1000.0},
                                            {"memory", o.max_memory_mib / 1024.0},
                                            {"nvidia_gpu", o.max_gpus}};
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "GET", "/api/v2/resource-profiles", auth::Action::kComputeRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto profiles, ctx.services.jobs.Profiles());
                    json items = json::array();
                    for (const auto& p : profiles) {
                        items.push_back({{"name", p.name},
                                         {"cpu", p.resources.cpu_millicores / 1000.0},
                                         {"memory", p.resources.memory_mib / 1024.0},
                                         {"nvidia_gpu", p.resources.gpus}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "resource_profiles"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PUT", "/api/v2/resource-profiles/{name}", auth::Action::kProfileWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(auto r, QuotaFrom(body));
                    jobs::ResourceProfile p{ctx.Param("name"), r};
                    RETURN_IF_ERROR(ctx.services.jobs.SetProfile(p));
                    return http::Response::Json(200, {{"name", p.name},
                                                      {"cpu", r.cpu_millicores / 1000.0},
                                                      {"memory", r.memory_mib / 1024.0},
                                                      {"nvidia_gpu", r.gpus}});
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/resource-profiles/{name}",
                auth::Action::kProfileWrite, [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(ctx.services.jobs.DeleteProfile(ctx.Param("name")));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "GET", "/api/v2/quotas", auth::Action::kQuotaRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto quotas, ctx.services.workloads.Quotas());
                    json items = json::array();
                    for (const auto& [type, subject, r] : quotas) {
                        items.push_back({{"subject_type", type},
                                         {"subject", subject},
                                         {"cpu", r.cpu_millicores / 1000.0},
                                         {"memory", r.memory_mib / 1024.0},
                                         {"nvidia_gpu", r.gpus}});
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "quotas"));
                    auto used = ctx.services.scheduler.Used();
                    auto capacity = ctx.services.scheduler.Capacity();
                    page["pool"] = {{"cpu", capacity.cpu_millicores / 1000.0},
                                    {"memory", capacity.memory_mib / 1024.0},
                                    {"nvidia_gpu", capacity.gpus},
                                    {"cpu_used", used.cpu_millicores / 1000.0},
                                    {"memory_used", used.memory_mib / 1024.0},
                                    {"nvidia_gpu_used", used.gpus}};
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PUT", "/api/v2/quotas/{subject_type}/{subject}",
                auth::Action::kQuotaWrite, [](Context& ctx) -> Result<http::Response> {
                    const std::string& type = ctx.Param("subject_type");
                    if (type != "user" && type != "team" && type != "default") {
                        return MakeError(ErrorCode::kBadRequest,
                                         "subject_type must be user, team or default");
                    }
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(auto quota, QuotaFrom(body));
                    RETURN_IF_ERROR(ctx.services.workloads.SetQuota(type, ctx.Param("subject"), quota));
                    RETURN_IF_ERROR(ctx.services.scheduler.ReloadQuotas());
                    return http::Response::Json(200, {{"subject_type", type},
                                                      {"subject", ctx.Param("subject")},
                                                      {"cpu", quota.cpu_millicores / 1000.0},
                                                      {"memory", quota.memory_mib / 1024.0},
                                                      {"nvidia_gpu", quota.gpus}});
                });
}

}  // namespace lathe::api
