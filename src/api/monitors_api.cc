// Monitors on a model's metrics or drift, and the alerts they open.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"
#include "core/clock.h"
#include "metrics/monitors.h"

namespace lathe::api {
namespace {

using auth::Action;
using metrics::Alert;
using metrics::Monitor;

json RenderMonitor(const Monitor& m) {
    json j = m.spec.ToJson();
    j["id"] = m.id;
    j["project_id"] = m.project_id;
    j["model_id"] = m.model_id;
    j["name"] = m.name;
    j["enabled"] = m.enabled;
    j["state"] = m.state;
    j["last_value"] = m.last_value ? json(*m.last_value) : json(nullptr);
    j["last_message"] = m.last_message;
    j["last_evaluated_at"] = OptionalTime(m.last_evaluated_at);
    j["next_run_at"] = m.enabled ? json(FormatTime(m.next_run_at)) : json(nullptr);
    j["created_by"] = m.created_by;
    j["created_at"] = FormatTime(m.created_at);
    j["updated_at"] = FormatTime(m.updated_at);
    return j;
}

json RenderAlert(const Alert& a) {
    return {{"id", a.id},
            {"monitor_id", a.monitor_id},
            {"project_id", a.project_id},
            {"model_id", a.model_id},
            {"state", a.state},
            {"value", a.value ? json(*a.value) : json(nullptr)},
            {"threshold", a.threshold},
            {"message", a.message},
            {"opened_at", FormatTime(a.opened_at)},
            {"resolved_at", OptionalTime(a.resolved_at)},
            {"webhook", a.webhook}};
}

Result<std::int64_t> IdParam(Context& ctx, const char* name, const char* what) {
    auto id = ParseId(ctx.Param(name));
    if (!id) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(what) + " " + ctx.Param(name) + " does not exist");
    }
    return *id;
}

// The model in the path, checked to be in the project.
Result<serving::Model> ModelIn(Context& ctx) {
    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "model_id", "model"));
    return ctx.services.models.GetModel(ctx.project_id, id);
}

constexpr std::initializer_list<const char*> kSpecFields = {
    "kind",      "metric",         "source",     "statistic", "feature",          "drift_statistic",
    "reference", "window_seconds", "comparison", "threshold", "interval_seconds", "webhook_url"};

Status OnlyMonitorFields(const json& body) {
    for (auto& [key, _] : body.items()) {
        bool known = key == "name" || key == "enabled";
        for (const char* f : kSpecFields) {
            known = known || key == f;
        }
        if (!known) {
            return MakeError(ErrorCode::kBadRequest, "unknown field \"" + key + "\"");
        }
    }
    return {};
}

}  // namespace

void RegisterMonitorRoutes(http::Router& router, Services& s) {
    const std::string monitors = "/api/v2/projects/{project_id}/models/{model_id}/monitors";
    const std::string monitor = monitors + "/{monitor_id}";

    AddEndpoint(router, s, "POST", monitors, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyMonitorFields(body));
                    ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
                    ASSIGN_OR_RETURN(auto enabled, OptionalBool(body, "enabled"));
                    ASSIGN_OR_RETURN(auto spec, metrics::ParseMonitorSpec(body, nullptr));
                    ASSIGN_OR_RETURN(Monitor m, ctx.services.monitors.Create(
                                                    ctx.project_id, model.id, ctx.principal.user_id,
                                                    name, spec, enabled.value_or(true)));
                    ctx.audit_target = "/api/v2/projects/" + std::to_string(ctx.project_id) +
                                       "/models/" + std::to_string(model.id) + "/monitors/" +
                                       std::to_string(m.id);
                    return http::Response::Json(201, RenderMonitor(m));
                });
    AddEndpoint(
        router, s, "GET", monitors, Action::kModelsRead,
        [](Context& ctx) -> Result<http::Response> {
            ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
            ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request, metrics::Monitors::ListSpec()));
            ASSIGN_OR_RETURN(auto page, ctx.services.monitors.List(ctx.project_id, model.id, q));
            json items = json::array();
            for (const auto& m : page.first) {
                items.push_back(RenderMonitor(m));
            }
            return http::Response::Json(200, ListBody("monitors", items, page.second));
        });
    AddEndpoint(
        router, s, "GET", monitor, Action::kModelsRead, [](Context& ctx) -> Result<http::Response> {
            ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
            ASSIGN_OR_RETURN(auto id, IdParam(ctx, "monitor_id", "monitor"));
            ASSIGN_OR_RETURN(Monitor m, ctx.services.monitors.Get(ctx.project_id, model.id, id));
            return http::Response::Json(200, RenderMonitor(m));
        });
    AddEndpoint(
        router, s, "PATCH", monitor, Action::kModelsWrite,
        [](Context& ctx) -> Result<http::Response> {
            ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
            ASSIGN_OR_RETURN(auto id, IdParam(ctx, "monitor_id", "monitor"));
            ASSIGN_OR_RETURN(Monitor m, ctx.services.monitors.Get(ctx.project_id, model.id, id));
            ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
            RETURN_IF_ERROR(OnlyMonitorFields(body));
            ASSIGN_OR_RETURN(auto name, OptionalString(body, "name"));
            ASSIGN_OR_RETURN(auto enabled, OptionalBool(body, "enabled"));
            std::optional<metrics::MonitorSpec> spec;
            bool touches_spec = false;
            for (const char* f : kSpecFields) {
                touches_spec = touches_spec || body.contains(f);
            }
            if (touches_spec) {
                ASSIGN_OR_RETURN(spec, metrics::ParseMonitorSpec(body, &m.spec));
            }
            ASSIGN_OR_RETURN(
                m, ctx.services.monitors.Update(ctx.project_id, model.id, id, name, spec, enabled));
            return http::Response::Json(200, RenderMonitor(m));
        });
    AddEndpoint(router, s, "DELETE", monitor, Action::kModelsWrite,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "monitor_id", "monitor"));
                    RETURN_IF_ERROR(ctx.services.monitors.Delete(ctx.project_id, model.id, id));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "POST", monitor + ":evaluate", Action::kModelsOperate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "monitor_id", "monitor"));
                    ASSIGN_OR_RETURN(
                        Monitor m, ctx.services.monitors.EvaluateNow(ctx.project_id, model.id, id));
                    return http::Response::Json(200, RenderMonitor(m));
                });
    AddEndpoint(router, s, "GET", monitor + "/alerts", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto model, ModelIn(ctx));
                    ASSIGN_OR_RETURN(auto id, IdParam(ctx, "monitor_id", "monitor"));
                    RETURN_IF_ERROR(ctx.services.monitors.Get(ctx.project_id, model.id, id));
                    ASSIGN_OR_RETURN(
                        auto q, ListQueryFrom(ctx.request, metrics::Monitors::AlertListSpec()));
                    ASSIGN_OR_RETURN(auto page,
                                     ctx.services.monitors.Alerts(ctx.project_id, id, q));
                    json items = json::array();
                    for (const auto& a : page.first) {
                        items.push_back(RenderAlert(a));
                    }
                    return http::Response::Json(200, ListBody("alerts", items, page.second));
                });
    AddEndpoint(router, s, "GET", "/api/v2/projects/{project_id}/alerts", Action::kModelsRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(
                        auto q, ListQueryFrom(ctx.request, metrics::Monitors::AlertListSpec()));
                    ASSIGN_OR_RETURN(auto page,
                                     ctx.services.monitors.Alerts(ctx.project_id, std::nullopt, q));
                    json items = json::array();
                    for (const auto& a : page.first) {
                        items.push_back(RenderAlert(a));
                    }
                    return http::Response::Json(200, ListBody("alerts", items, page.second));
                });
}

}  // namespace lathe::api
