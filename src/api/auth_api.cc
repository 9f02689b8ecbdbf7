// Browser sign-in: login, logout and the current session.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterAuthRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "POST", "/api/v2/auth/login", auth::Action::kPublic,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(std::string username, RequiredString(body, "username"));
                    ASSIGN_OR_RETURN(std::string password, RequiredString(body, "password"));
                    ctx.audit_actor = username.substr(0, 64);
                    ASSIGN_OR_RETURN(auth::LoginResult login,
                                     ctx.services.accounts.Login(username, password,
                                                                 ctx.request.remote_address));
                    http::Response r = http::Response::Json(
                        200, {{"user", RenderUser(login.user)}, {"csrf_token", login.csrf_token}});
                    const std::int64_t max_age =
                        std::int64_t{ctx.services.config.session_ttl_hours} * 3600;
                    r.headers.emplace_back("Set-Cookie",
                                           "lathe_session=" + login.session_token +
                                               "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                               std::to_string(max_age));
                    r.headers.emplace_back("Cache-Control", "no-store");
                    return r;
                });
    AddEndpoint(router, s, "POST", "/api/v2/auth/logout", auth::Action::kLogout,
                [](Context& ctx) -> Result<http::Response> {
                    if (ctx.principal.method != auth::AuthMethod::kSession) {
                        return MakeError(ErrorCode::kBadRequest,
                                         "logout ends a browser session; to stop using an API "
                                         "key, revoke it (DELETE /api/v2/users/{username}/keys/{id})");
                    }
                    RETURN_IF_ERROR(ctx.services.accounts.Logout(ctx.principal.session_id));
                    http::Response r = http::Response::NoContent();
                    r.headers.emplace_back(
                        "Set-Cookie", "lathe_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
                    return r;
                });
    AddEndpoint(router, s, "GET", "/api/v2/auth/session", auth::Action::kSessionRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auth::User user,
                                     ctx.services.accounts.GetUser(ctx.principal.username));
                    json body = {{"user", RenderUser(user)},
                                 {"auth", ctx.principal.method == auth::AuthMethod::kSession
                                              ? "session"
                                              : "api_key"}};
                    if (ctx.principal.method == auth::AuthMethod::kSession) {
                        body["csrf_token"] = ctx.principal.csrf_token;
                    }
                    http::Response r = http::Response::Json(200, body);
                    r.headers.emplace_back("Cache-Control", "no-store");
                    return r;
                });
}

}  // namespace lathe::api
