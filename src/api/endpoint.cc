// The guard every API route goes through: authenticate, authorize by the policy table, run,
// render errors, audit.
#include "api/endpoint.h"

#include <charconv>

#include "core/crypto.h"
#include "core/log.h"
#include "http/errors.h"

namespace lathe::api {
namespace {

using auth::Action;
using auth::Role;
using auth::Scope;

bool IsStateChanging(std::string_view method) { return method != "GET" && method != "HEAD"; }

Result<auth::Principal> Authenticate(Context& ctx) {
    const http::Request& req = ctx.request;
    std::string_view authorization = req.Header("authorization");
    if (!authorization.empty()) {
        constexpr std::string_view kBearer = "Bearer ";
        if (!authorization.starts_with(kBearer)) {
            return MakeError(ErrorCode::kUnauthenticated,
                             "the Authorization header must be 'Bearer <API key>'");
        }
        const std::string_view key = authorization.substr(kBearer.size());
        if (key.starts_with(serving::ModelServing::kReplicaKeyPrefix)) {
            ASSIGN_OR_RETURN(auto owner, ctx.services.serving.AuthenticateReplicaKey(key));
            auth::Principal p;
            p.method = auth::AuthMethod::kReplica;
            p.username = "replica:" + std::to_string(owner.workload_id);
            p.replica_deployment_id = owner.deployment_id;
            p.replica_project_id = owner.project_id;
            return p;
        }
        return ctx.services.accounts.AuthenticateApiKey(key);
    }
    std::string_view cookie = req.Cookie("lathe_session");
    if (!cookie.empty()) {
        ASSIGN_OR_RETURN(auth::Principal p, ctx.services.accounts.AuthenticateSession(cookie));
        // Browsers attach cookies to cross-site requests; the CSRF token proves the page is ours.
        if (IsStateChanging(req.method) &&
            (req.Header("x-csrf-token").empty() ||
             !ConstantTimeEquals(req.Header("x-csrf-token"), p.csrf_token))) {
            return MakeError(ErrorCode::kCsrfFailed,
                             "missing or wrong X-CSRF-Token header for a cookie-authenticated "
                             "change (the token comes with the login answer)");
        }
        return p;
    }
    return MakeError(ErrorCode::kUnauthenticated,
                     "sign in, or send 'Authorization: Bearer <API key>'");
}

Result<Role> ResolveRole(Context& ctx, const auth::PolicyRule& rule, std::string* description) {
    const auth::Principal& p = ctx.principal;
    switch (rule.scope) {
        case Scope::kPublic: return Role::kNone;
        case Scope::kSite: {
            *description = "this site";
            return p.is_admin ? Role::kAdmin : Role::kViewer;
        }
        case Scope::kUser: {
            const std::string& username = ctx.Param("username");
            *description = "user '" + username + "'";
            if (username == p.username) {
                return Role::kAdmin;
            }
            RETURN_IF_ERROR(ctx.services.accounts.GetUser(username));
            return p.is_admin && !rule.self_only ? Role::kAdmin : Role::kViewer;
        }
        case Scope::kTeam: {
            const std::string& team = ctx.Param("team");
            *description = "team '" + team + "'";
            ASSIGN_OR_RETURN(Role role, ctx.services.teams.RoleOf(p.user_id, team));
            if (role != Role::kNone && p.is_admin) {
                role = Role::kAdmin;
            }
            return role;
        }
        case Scope::kRunner: {
            const std::string& text = ctx.Param("workload_id");
            *description = "workload " + text;
            auto id = ParseId(text);
            if (!id) {
                return Role::kNone;
            }
            ctx.workload_id = *id;
            return Role::kAdmin;  // the token was checked against this workload in Authorize
        }
        case Scope::kProject: {
            const std::string& text = ctx.Param("project_id");
            *description = "project " + text;
            auto id = ParseId(text);
            if (!id) {
                return Role::kNone;
            }
            ctx.project_id = *id;
            return ctx.services.projects.RoleOf(p, *id);
        }
    }
    return Role::kNone;
}

Status Authorize(Context& ctx, Action action) {
    const auth::PolicyRule& rule = auth::RuleFor(action);
    if (rule.scope == Scope::kPublic) {
        return {};
    }
    if (rule.scope == Scope::kRunner) {
        // Runners prove themselves with their workload's token, not a user's credentials.
        std::string_view authorization = ctx.request.Header("authorization");
        auto id = ParseId(ctx.Param("workload_id"));
        if (!authorization.starts_with("Bearer ") || !id) {
            return MakeError(ErrorCode::kUnauthenticated, "runner token required");
        }
        ASSIGN_OR_RETURN(bool ok, ctx.services.workloads.CheckRunnerToken(
                                      *id, authorization.substr(7)));
        if (!ok) {
            return MakeError(ErrorCode::kUnauthenticated,
                             "the runner token is not valid for this workload (or it has ended)");
        }
        ctx.principal.method = auth::AuthMethod::kRunner;
        ctx.principal.username = "runner:" + std::to_string(*id);
    } else if (!ctx.principal.authenticated()) {
        ASSIGN_OR_RETURN(ctx.principal, Authenticate(ctx));
    }
    // A model replica's key reaches its own deployment's metrics and nothing else; the metrics
    // handlers check the deployment.
    if (ctx.principal.key_model_id != 0) {
        return MakeError(ErrorCode::kPermissionDenied,
                         "a model API key may only call its model (POST /model)");
    }
    if (ctx.principal.method == auth::AuthMethod::kReplica && action != Action::kMetricsAccess) {
        return MakeError(ErrorCode::kPermissionDenied,
                         "a model replica's key may only be used for its deployment's metrics");
    }
    std::string description;
    ASSIGN_OR_RETURN(ctx.role, ResolveRole(ctx, rule, &description));
    return auth::Decide(rule, ctx.role, description);
}

void Audit(Context& ctx, const std::string& action, int status) {
    // Runner traffic (log chunks, heartbeats) is machine bookkeeping, not a user's action.
    if (!IsStateChanging(ctx.request.method) ||
        ctx.principal.method == auth::AuthMethod::kRunner) {
        return;
    }
    auth::AuditEvent e;
    e.time = ctx.services.clock.NowMs();
    e.actor = !ctx.audit_actor.empty()        ? ctx.audit_actor
              : ctx.principal.authenticated() ? ctx.principal.username
                                              : "-";
    e.action = action;
    e.target = ctx.audit_target.empty() ? ctx.request.path : ctx.audit_target;
    e.status = status;
    e.address = ctx.request.remote_address;
    e.request_id = ctx.request.request_id;
    if (auto st = ctx.services.audit.Record(e); !st) {
        LogError("audit event lost", {{"request_id", e.request_id}, {"error", st.error().message}});
    }
}

http::Response Finish(Context& ctx, const std::string& audit_action, Result<http::Response> r,
                      bool audit = true) {
    http::Response resp = r ? std::move(*r) : http::ErrorResponse(r.error());
    if (!r && r.error().code == ErrorCode::kInternal) {
        LogError("request failed", {{"request_id", ctx.request.request_id},
                                    {"error", r.error().message}});
    }
    if (audit) {
        Audit(ctx, audit_action, resp.status);
    }
    resp.log_actor = ctx.principal.authenticated() ? ctx.principal.username : ctx.audit_actor;
    return resp;
}

}  // namespace

Status Context::Require(Action action) { return Authorize(*this, action); }

void AddEndpoint(http::Router& router, Services& services, std::string method,
                 std::string pattern, Action action, ApiHandler handler,
                 EndpointOptions options) {
    const std::string audit_action = method + " " + pattern;
    http::Route route;
    route.method = method;
    route.pattern = pattern;
    route.action = std::string(auth::RuleFor(action).name);
    route.body = options.body;
    route.run_inline = options.run_inline;
    route.handler = [&services, action, audit_action, audit = options.audit,
                     handler = std::move(handler)](http::Request& req) -> http::Response {
        Context ctx{req, services, {}, Role::kNone, 0, 0, {}, {}};
        if (auto st = Authorize(ctx, action); !st) {
            return Finish(ctx, audit_action, std::unexpected(st.error()), audit);
        }
        return Finish(ctx, audit_action, handler(ctx), audit);
    };
    if (options.body == http::BodyMode::kStreamToFile) {
        route.before_body = [&services, action,
                             audit_action](http::Request& req) -> std::optional<http::Response> {
            Context ctx{req, services, {}, Role::kNone, 0, 0, {}, {}};
            if (auto st = Authorize(ctx, action); !st) {
                return Finish(ctx, audit_action, std::unexpected(st.error()));
            }
            return std::nullopt;
        };
    }
    router.Add(std::move(route));
}

void AddWsEndpoint(http::Router& router, Services& services, std::string pattern,
                   Action action, WsApiHandler handler) {
    http::Route route;
    route.method = "GET";
    route.pattern = std::move(pattern);
    route.action = std::string(auth::RuleFor(action).name);
    route.handler = [](http::Request&) {
        return http::ErrorResponse(
            {ErrorCode::kBadRequest, "this endpoint needs a WebSocket upgrade"});
    };
    route.ws = [&services, action, handler = std::move(handler)](
                   http::Request& req,
                   std::shared_ptr<http::WsChannel> channel) -> Result<http::WsCallbacks> {
        Context ctx{req, services, {}, Role::kNone, 0, 0, {}, {}};
        RETURN_IF_ERROR(Authorize(ctx, action));
        // Browsers send cookies on cross-site WebSocket handshakes and there is no CSRF header:
        // the Origin must be this server.
        std::string_view origin = req.Header("origin");
        if (ctx.principal.method == auth::AuthMethod::kSession && !origin.empty()) {
            auto scheme_end = origin.find("://");
            std::string_view origin_host =
                scheme_end == std::string_view::npos ? origin : origin.substr(scheme_end + 3);
            if (origin_host != req.Header("host")) {
                return MakeError(ErrorCode::kPermissionDenied,
                                 "WebSocket from another origin refused");
            }
        }
        return handler(ctx, std::move(channel));
    };
    router.Add(std::move(route));
}

Result<std::optional<std::int64_t>> OptionalScaled(const json& body, const char* field,
                                                   double scale) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        return std::optional<std::int64_t>();
    }
    if (!it->is_number()) {
        return MakeError(ErrorCode::kBadRequest, std::string("field '") + field + "' must be a number");
    }
    return std::optional<std::int64_t>(static_cast<std::int64_t>(it->get<double>() * scale + 0.5));
}

Result<std::optional<std::map<std::string, std::string>>> OptionalStringMap(const json& body,
                                                                             const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        return std::optional<std::map<std::string, std::string>>();
    }
    if (!it->is_object()) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string(field) + " must be an object of strings");
    }
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : it->items()) {
        if (!v.is_string()) {
            return MakeError(ErrorCode::kBadRequest,
                             std::string(field) + "." + k + " must be a string");
        }
        out[k] = v.get<std::string>();
    }
    return std::optional<std::map<std::string, std::string>>(std::move(out));
}

Result<http::Response> ReadLog(Context& ctx, std::int64_t workload_id, bool workload_ended) {
    std::uint64_t offset = 0;
    if (auto text = ctx.request.Query("offset"); !text.empty() && text != "0") {
        auto parsed = ParseId(text);
        if (!parsed) {
            return MakeError(ErrorCode::kBadRequest, "offset must be a whole number of bytes");
        }
        offset = *parsed;
    }
    ASSIGN_OR_RETURN(auto chunk, ctx.services.logs.Read(workload_id, offset, 4 << 20));
    http::Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(chunk.data);
    r.headers.emplace_back("X-Log-Offset", std::to_string(chunk.next_offset));
    r.headers.emplace_back("X-Log-Size", std::to_string(chunk.size));
    r.headers.emplace_back("X-Log-Complete",
                           workload_ended && chunk.next_offset >= chunk.size ? "true" : "false");
    return r;
}

Result<http::WsCallbacks> FollowLog(Context& ctx, std::shared_ptr<http::WsChannel> channel,
                                    std::int64_t workload_id, bool workload_ended) {
    std::uint64_t offset = ParseId(ctx.request.Query("offset")).value_or(0);
    compute::LogStore& logs = ctx.services.logs;
    compute::WorkloadRecords& records = ctx.services.workloads;
    std::weak_ptr<http::WsChannel> weak = channel;
    std::int64_t handle = logs.Follow(
        workload_id, offset, workload_ended,
        [weak](std::string_view data) {
            if (auto c = weak.lock()) {
                c->Send(std::string(data), /*binary=*/true);
            }
        },
        [weak] {
            if (auto c = weak.lock()) {
                c->Close();
            }
        });
    // The workload may have ended between reading its state and following its log.
    if (handle != 0) {
        auto now = records.Get(workload_id);
        if (now && compute::IsFinal(now->state)) {
            logs.Finish(workload_id);
        }
    }
    return http::WsCallbacks{nullptr, [&logs, workload_id, handle] {
                                 if (handle != 0) {
                                     logs.Unfollow(workload_id, handle);
                                 }
                             }};
}

Result<json> ParseJsonBody(const http::Request& request) {
    if (request.body.empty()) {
        return json::object();
    }
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) {
        return MakeError(ErrorCode::kBadRequest, "the request body is not valid JSON");
    }
    if (!body.is_object()) {
        return MakeError(ErrorCode::kBadRequest, "the request body must be a JSON object");
    }
    return body;
}

Result<std::optional<std::string>> OptionalString(const json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        return std::optional<std::string>();
    }
    if (!it->is_string()) {
        return MakeError(ErrorCode::kBadRequest, std::string("field '") + field + "' must be a string");
    }
    return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> RequiredString(const json& body, const char* field) {
    ASSIGN_OR_RETURN(auto value, OptionalString(body, field));
    if (!value) {
        return MakeError(ErrorCode::kBadRequest, std::string("field '") + field + "' is required");
    }
    return *value;
}

Result<std::optional<bool>> OptionalBool(const json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        return std::optional<bool>();
    }
    if (!it->is_boolean()) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string("field '") + field + "' must be true or false");
    }
    return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::int64_t>> OptionalInt(const json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
        return std::optional<std::int64_t>();
    }
    if (!it->is_number_integer()) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string("field '") + field + "' must be a whole number");
    }
    return std::optional<std::int64_t>(it->get<std::int64_t>());
}

Status OnlyFields(const json& body, std::initializer_list<const char*> allowed) {
    for (const auto& [key, value] : body.items()) {
        bool known = false;
        for (const char* a : allowed) {
            known = known || key == a;
        }
        if (!known) {
            std::string list;
            for (const char* a : allowed) {
                list += (list.empty() ? "" : ", ") + std::string(a);
            }
            return MakeError(ErrorCode::kBadRequest,
                             "unknown field '" + key + "'; allowed: " + list);
        }
    }
    return {};
}

Result<auth::Role> RoleFromBody(const http::Request& request) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(request));
    RETURN_IF_ERROR(OnlyFields(body, {"role"}));
    ASSIGN_OR_RETURN(std::string name, RequiredString(body, "role"));
    auto role = auth::ParseRole(name);
    if (!role) {
        return MakeError(ErrorCode::kBadRequest,
                         "role must be Viewer, Operator, Contributor or Admin");
    }
    return *role;
}

Result<store::ListQuery> ListQueryFrom(const http::Request& request, const store::ListSpec& spec) {
    for (const char* name : {"page_size", "page_token", "search_filter", "sort"}) {
        auto it = request.query.find(name);
        if (it != request.query.end() && it->second.empty() && std::string_view(name) != "page_token") {
            return MakeError(ErrorCode::kBadRequest, std::string(name) + " is empty");
        }
    }
    return store::ParseListQuery(spec, request.Query("page_size"), request.Query("page_token"),
                                 request.Query("search_filter"), request.Query("sort"));
}

Result<json> PageOf(const http::Request& request, const json& items, const char* key) {
    static const store::ListSpec kNoFields{{}, "", ""};
    ASSIGN_OR_RETURN(store::ListQuery q, ListQueryFrom(request, kNoFields));
    json page = json::array();
    const std::size_t begin = static_cast<std::size_t>(q.offset);
    const std::size_t end = std::min(items.size(), begin + q.page_size);
    for (std::size_t i = begin; i < end; ++i) {
        page.push_back(items[i]);
    }
    return ListBody(key, std::move(page), end < items.size() ? store::NextPageToken(q) : "");
}

json ListBody(const char* key, json items, const std::string& next_page_token) {
    return json{{key, std::move(items)}, {"next_page_token", next_page_token}};
}

std::optional<std::int64_t> ParseId(std::string_view text) {
    std::int64_t id = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) {
        return std::nullopt;
    }
    return id;
}

}  // namespace lathe::api
