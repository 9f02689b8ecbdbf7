// The audit log, for site admins.
#include "api/endpoint.h"
#include "api/render.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterAuditRoutes(http::Router& router, Services& s) {
    AddEndpoint(router, s, "GET", "/api/v2/audit", auth::Action::kAuditRead,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto q, ListQueryFrom(ctx.request, auth::AuditLog::ListSpec()));
                    ASSIGN_OR_RETURN(auto page, ctx.services.audit.List(q));
                    json items = json::array();
                    for (const auto& e : page.first) {
                        items.push_back(RenderAuditEvent(e));
                    }
                    return http::Response::Json(200, ListBody("events", items, page.second));
                });
}

}  // namespace lathe::api
