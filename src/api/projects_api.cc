// Projects and collaborators.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterProjectRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "GET", "/api/v2/projects", auth::Action::kProjectList,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request,
                                                           projects::Projects::ProjectListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.projects.List(ctx.principal, q));
                    json items = json::array();
                    for (const auto& p : page.first) {
                        items.push_back(RenderProject(p));
                    }
                    return http::Response::Json(200, ListBody("projects", items, page.second));
                });
    AddEndpoint(router, s, "POST", "/api/v2/projects", auth::Action::kProjectCreate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"name", "description", "visibility", "team"}));
                    projects::NewProject np;
                    ASSIGN_OR_RETURN(np.name, RequiredString(body, "name"));
                    ASSIGN_OR_RETURN(auto description, OptionalString(body, "description"));
                    ASSIGN_OR_RETURN(auto visibility, OptionalString(body, "visibility"));
                    ASSIGN_OR_RETURN(np.team, OptionalString(body, "team"));
                    np.description = description.value_or("");
                    np.visibility = visibility.value_or("private");
                    if (np.team) {
                        // Creating in a team's name is the team's decision: checked on the team.
                        ctx.request.params["team"] = *np.team;
                        RETURN_IF_ERROR(ctx.Require(auth::Action::kTeamProjectCreate));
                    }
                    ASSIGN_OR_RETURN(auto p, ctx.services.projects.Create(ctx.principal, np));
                    ctx.audit_target = "/api/v2/projects/" + std::to_string(p.id);
                    return http::Response::Json(201, RenderProject(p));
                });
    AddEndpoint(router, s, "GET", "/api/v2/projects/{project_id}", auth::Action::kProjectRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto p, ctx.services.projects.Get(ctx.principal, ctx.project_id));
                    return http::Response::Json(200, RenderProject(p));
                });
    AddEndpoint(router, s, "PATCH", "/api/v2/projects/{project_id}", auth::Action::kProjectUpdate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"name", "description", "visibility"}));
                    projects::ProjectUpdate u;
                    ASSIGN_OR_RETURN(u.name, OptionalString(body, "name"));
                    ASSIGN_OR_RETURN(u.description, OptionalString(body, "description"));
                    ASSIGN_OR_RETURN(u.visibility, OptionalString(body, "visibility"));
                    ASSIGN_OR_RETURN(auto p, ctx.services.projects.Update(ctx.principal,
                                                                          ctx.project_id, u));
                    return http::Response::Json(200, RenderProject(p));
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/projects/{project_id}", auth::Action::kProjectDelete,
                [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(ctx.services.projects.Delete(ctx.project_id));
                    ctx.services.serving.ForgetProject(ctx.project_id);
                    return http::Response::NoContent();
                });

    AddEndpoint(router, s, "GET", "/api/v2/projects/{project_id}/collaborators",
                auth::Action::kCollaboratorsRead, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto list, ctx.services.projects.Collaborators(ctx.project_id));
                    json items = json::array();
                    for (const auto& c : list) {
                        items.push_back(RenderCollaborator(c));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "collaborators"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "PUT", "/api/v2/projects/{project_id}/collaborators/{username}",
                auth::Action::kCollaboratorsWrite, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::Role role, RoleFromBody(ctx.request));
                    ASSIGN_OR_RETURN(auto c, ctx.services.projects.SetCollaborator(
                                                 ctx.project_id, ctx.Param("username"), role));
                    return http::Response::Json(200, RenderCollaborator(c));
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/projects/{project_id}/collaborators/{username}",
                auth::Action::kCollaboratorsWrite, [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(ctx.services.projects.RemoveCollaborator(ctx.project_id,
                                                                             ctx.Param("username")));
                    return http::Response::NoContent();
                });
}

}  // namespace lathe::api
