// Users and their API keys.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterUserRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "GET", "/api/v2/users", auth::Action::kUserList,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request, auth::Accounts::UserListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.accounts.ListUsers(q));
                    json items = json::array();
                    for (const auto& u : page.first) {
                        items.push_back(RenderUser(u));
                    }
                    return http::Response::Json(200, ListBody("users", items, page.second));
                });
    AddEndpoint(router, s, "POST", "/api/v2/users", auth::Action::kUserCreate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"username", "password", "display_name",
                                                      "email", "is_admin"}));
                    auth::NewUser nu;
                    ASSIGN_OR_RETURN(nu.username, RequiredString(body, "username"));
                    ASSIGN_OR_RETURN(nu.password, RequiredString(body, "password"));
                    ASSIGN_OR_RETURN(auto display, OptionalString(body, "display_name"));
                    ASSIGN_OR_RETURN(auto email, OptionalString(body, "email"));
                    ASSIGN_OR_RETURN(auto is_admin, OptionalBool(body, "is_admin"));
                    nu.display_name = display.value_or("");
                    nu.email = email.value_or("");
                    nu.is_admin = is_admin.value_or(false);
                    ASSIGN_OR_RETURN(auth::User u, ctx.services.accounts.CreateUser(nu));
                    ctx.audit_target = "/api/v2/users/" + u.username;
                    return http::Response::Json(201, RenderUser(u));
                });
    AddEndpoint(router, s, "GET", "/api/v2/users/{username}", auth::Action::kUserRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::User u, ctx.services.accounts.GetUser(ctx.Param("username")));
                    return http::Response::Json(200, RenderUser(u));
                });
    AddEndpoint(router, s, "PATCH", "/api/v2/users/{username}", auth::Action::kUserUpdate,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    RETURN_IF_ERROR(OnlyFields(body, {"display_name", "email", "password",
                                                      "current_password", "is_admin", "disabled"}));
                    auth::UserUpdate u;
                    ASSIGN_OR_RETURN(u.display_name, OptionalString(body, "display_name"));
                    ASSIGN_OR_RETURN(u.email, OptionalString(body, "email"));
                    ASSIGN_OR_RETURN(u.password, OptionalString(body, "password"));
                    ASSIGN_OR_RETURN(u.current_password, OptionalString(body, "current_password"));
                    ASSIGN_OR_RETURN(u.is_admin, OptionalBool(body, "is_admin"));
                    ASSIGN_OR_RETURN(u.disabled, OptionalBool(body, "disabled"));
                    if (u.is_admin || u.disabled) {
                        RETURN_IF_ERROR(ctx.Require(auth::Action::kUserAdminister));
                    }
                    ASSIGN_OR_RETURN(auth::User user, ctx.services.accounts.UpdateUser(
                                                          ctx.principal, ctx.Param("username"), u));
                    return http::Response::Json(200, RenderUser(user));
                });
}

void RegisterKeyRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "POST", "/api/v2/users/{username}/keys", auth::Action::kKeyCreate,
                [](Context& ctx) -> Result<http::Response> {
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
                    ASSIGN_OR_RETURN(auto created,
                                     ctx.services.accounts.CreateApiKey(
                                         ctx.principal.user_id, name.value_or(""), expires));
                    ctx.audit_target = ctx.request.path + "/" + std::to_string(created.first.id);
                    json out = RenderKey(created.first, false);
                    out["key"] = created.second;
                    http::Response r = http::Response::Json(201, out);
                    r.headers.emplace_back("Cache-Control", "no-store");
                    return r;
                });
    AddEndpoint(router, s, "GET", "/api/v2/users/{username}/keys", auth::Action::kKeyList,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::User u, ctx.services.accounts.GetUser(ctx.Param("username")));
                    ASSIGN_OR_RETURN(auto keys, ctx.services.accounts.ListApiKeys(u.id));
                    json items = json::array();
                    for (const auto& k : keys) {
                        items.push_back(RenderKey(k, false));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "keys"));
                    return http::Response::Json(200, page);
                });
    AddEndpoint(router, s, "DELETE", "/api/v2/users/{username}/keys/{key_id}",
                auth::Action::kKeyRevoke, [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::User u, ctx.services.accounts.GetUser(ctx.Param("username")));
                    auto id = ParseId(ctx.Param("key_id"));
                    if (!id) {
                        return MakeError(ErrorCode::kNotFound,
                                         "API key " + ctx.Param("key_id") + " does not exist");
                    }
                    RETURN_IF_ERROR(ctx.services.accounts.RevokeApiKey(u.id, *id));
                    return http::Response::NoContent();
                });
    AddEndpoint(router, s, "GET", "/api/v2/keys", auth::Action::kKeyListAll,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto keys, ctx.services.accounts.ListApiKeys(std::nullopt));
                    json items = json::array();
                    for (const auto& k : keys) {
                        items.push_back(RenderKey(k, true));
                    }
                    ASSIGN_OR_RETURN(json page, PageOf(ctx.request, items, "keys"));
                    return http::Response::Json(200, page);
                });
}

}  // namespace lathe::api
