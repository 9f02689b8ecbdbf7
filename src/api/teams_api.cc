// Teams and team members.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterTeamRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "GET", "/api/v2/teams", auth::Action::kTeamList,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request, auth::Teams::TeamListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.teams.List(q));
                    json items = json::array();
                    for (const auto& t : page.first) {
                        items.push_back(RenderTeam(t));
                    }
                    return http::Response::Json(200, ListBody("teams", items, page.second));
                });
    AddEndpoint(router, s, "POST", "/api/v2/teams", auth::Action::kTeamCreate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"name", "description"}));
                    ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
                    ASSIGN_OR_RETURN(auto description, OptionalString(body, "description"));
                    ASSIGN_OR_RETURN(auth::Team t,
                                     ctx.services.teams.Create(ctx.principal.user_id, name,
                                                               description.value_or("")));
                    ctx.audit_target = "/api/v2/teams/" + t.name;
                    return http::Response::Json(201, RenderTeam(t));
                });
    AddEndpoint(router, s, "GET", "/api/v2/teams/{team}", auth::Action::kTeamRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::Team t, ctx.services.teams.Get(ctx.Param("team")));
                    return http::Response::Json(200, RenderTeam(t));
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/teams/{team}", auth::Action::kTeamDelete,
                [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(ctx.services.teams.Delete(ctx.Param("team")));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "GET", "/api/v2/teams/{team}/members", auth::Action::kTeamMembersRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto members, ctx.services.teams.Members(ctx.Param("team")));
                    json items = json::array();
                    for (const auto& m : members) {
                        items.push_back(RenderMember(m));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "members"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PUT", "/api/v2/teams/{team}/members/{username}",
                auth::Action::kTeamMembersWrite, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::Role role, RoleFromBody(ctx.request));
                    ASSIGN_OR_RETURN(auto m, ctx.services.teams.SetMember(
                                                 ctx.Param("team"), ctx.Param("username"), role));
                    return http::Response::Json(200, RenderMember(m));
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/teams/{team}/members/{username}",
                auth::Action::kTeamMembersWrite, [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(
                        ctx.services.teams.RemoveMember(ctx.Param("team"), ctx.Param("username")));
                    return http::Response::NoContent();
                });
}

}  // namespace lathe::api
