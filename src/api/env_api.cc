// Project environment variables.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterEnvRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "GET", "/api/v2/projects/{project_id}/env", auth::Action::kEnvRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto vars, ctx.services.environment.List(ctx.project_id));
                    json items = json::array();
                    for (const auto& v : vars) {
                        items.push_back(RenderEnvVar(v));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "environment"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PUT", "/api/v2/projects/{project_id}/env/{name}",
                auth::Action::kEnvWrite, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"value", "hidden"}));
                    ASSIGN_OR_RETURN(std::string value, RequiredString(body, "value"));
                    ASSIGN_OR_RETURN(auto hidden, OptionalBool(body, "hidden"));
                    ASSIGN_OR_RETURN(auto v, ctx.services.environment.Set(
                                                 ctx.project_id, ctx.Param("name"),
                                                 std::move(value), hidden.value_or(false)));
                    return http::Response::Json(200, RenderEnvVar(v));
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/projects/{project_id}/env/{name}",
                auth::Action::kEnvWrite, [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(
                        ctx.services.environment.Remove(ctx.project_id, ctx.Param("name")));
                    return http::Response::NoContent();
                });
}

}  // namespace lathe::api
