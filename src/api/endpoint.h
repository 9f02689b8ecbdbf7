// How an API route is declared: its policy action, and a handler that sees an authorized caller.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "auth/policy.h"
#include "auth/principal.h"
#include "http/message.h"
#include "http/router.h"
#include "store/list_query.h"

namespace lathe::api {

using nlohmann::json;

// One request after authentication and authorization.
struct Context {
    http::Request& request;
    Services& services;
    auth::Principal principal;
    auth::Role role = auth::Role::kNone;  // the caller's role in the action's scope
    std::int64_t project_id = 0;          // for project-scoped actions
    std::int64_t workload_id = 0;         // for runner-scoped actions
    std::string audit_actor;              // overrides the actor recorded (login)
    std::string audit_target;             // overrides the target (a created resource's path)

    const std::string& Param(const std::string& name) const { return request.params.at(name); }
    // Checks a second action inside a handler (e.g. admin-only fields), through the same table.
    Status Require(auth::Action action);
};

using ApiHandler = std::function<Result<http::Response>(Context&)>;

struct EndpointOptions {
    http::BodyMode body = http::BodyMode::kBuffered;
    bool run_inline = false;
    // Data traffic (prediction metrics) is not a user's change to the workspace: not audited.
    bool audit = true;
};

// Registers a route whose every request authenticates (unless the action is public), resolves
// the caller's role in the action's scope, decides through the policy table, runs the handler,
// maps errors to the one error shape, and records state changes in the audit log.
void AddEndpoint(http::Router& router, Services& services, std::string method,
                 std::string pattern, auth::Action action, ApiHandler handler,
                 EndpointOptions options = {});

// A WebSocket route through the same guard: the handler runs after authorization.
using WsApiHandler =
    std::function<Result<http::WsCallbacks>(Context&, std::shared_ptr<http::WsChannel>)>;
void AddWsEndpoint(http::Router& router, Services& services, std::string pattern,
                   auth::Action action, WsApiHandler handler);

// Request body helpers: kBadRequest with a message naming the field.
Result<json> ParseJsonBody(const http::Request& request);
Result<std::optional<std::string>> OptionalString(const json& body, const char* field);
Result<std::string> RequiredString(const json& body, const char* field);
Result<std::optional<bool>> OptionalBool(const json& body, const char* field);
Result<std::optional<std::int64_t>> OptionalInt(const json& body, const char* field);
Status OnlyFields(const json& body, std::initializer_list<const char*> allowed);
// A number scaled to an integer unit (e.g. "cpu" in vCPU * 1000 -> millicores).
Result<std::optional<std::int64_t>> OptionalScaled(const json& body, const char* field,
                                                   double scale);
// An object of strings (environment variables).
Result<std::optional<std::map<std::string, std::string>>> OptionalStringMap(const json& body,
                                                                             const char* field);
// A workload's log from the ?offset= byte, as text with X-Log-Offset/-Size/-Complete headers.
Result<http::Response> ReadLog(Context& ctx, std::int64_t workload_id, bool workload_ended);
// Follows a workload's log over a WebSocket (binary frames), closing when it ends.
Result<http::WsCallbacks> FollowLog(Context& ctx, std::shared_ptr<http::WsChannel> channel,
                                    std::int64_t workload_id, bool workload_ended);
// A body of exactly {"role": "Viewer" | "Operator" | "Contributor" | "Admin"}.
Result<auth::Role> RoleFromBody(const http::Request& request);

// The list parameters of a request, for a SQL-backed list.
Result<store::ListQuery> ListQueryFrom(const http::Request& request, const store::ListSpec& spec);
// For lists held in memory (files, members, ...): page_size and page_token only.
Result<json> PageOf(const http::Request& request, const json& items, const char* key);
json ListBody(const char* key, json items, const std::string& next_page_token);

std::optional<std::int64_t> ParseId(std::string_view text);

}  // namespace lathe::api
