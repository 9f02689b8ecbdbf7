// The serving endpoints: POST /model (CML's request format), the Open Inference Protocol v2
// (/v2/...) and the Prometheus exposition of serving metrics (/metrics).
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "api/endpoint.h"
#include "api/routes.h"
#include "core/crypto.h"
#include "http/errors.h"
#include "serving/call_body.h"

namespace lathe::api {
namespace {

using serving::CallOutcome;
using serving::ServingTarget;

// Who may call which model: a short-lived cache of (API key, project) -> role, so the hot path
// reads no store. A revoked key or removed collaborator loses access within kTtlMs.
class CallerCache {
public:
    static constexpr std::int64_t kTtlMs = 5000;
    static constexpr std::size_t kMaxEntries = 10000;

    std::optional<auth::Role> Get(const std::string& key, std::int64_t now) {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (it == entries_.end() || it->second.expires <= now) {
            return std::nullopt;
        }
        return it->second.role;
    }
    void Put(const std::string& key, auth::Role role, std::int64_t now) {
        std::lock_guard lock(mu_);
        if (entries_.size() >= kMaxEntries) {
            entries_.clear();
        }
        entries_[key] = {role, now + kTtlMs};
    }

private:
    struct Entry {
        auth::Role role;
        std::int64_t expires;
    };
    std::mutex mu_;  // guards entries_
    std::unordered_map<std::string, Entry> entries_;
};

CallerCache& Callers() {
    static CallerCache cache;
    return cache;
}

// The caller's role in the model's project from `Authorization: Bearer <key>`; kNone without
// a key. Errors when a key is sent but not valid.
Result<auth::Role> CallerRole(Services& s, const http::Request& req, const ServingTarget& t) {
    std::string_view authorization = req.Header("authorization");
    if (authorization.empty()) {
        return auth::Role::kNone;
    }
    if (!authorization.starts_with("Bearer ")) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "the Authorization header must be 'Bearer <API key>'");
    }
    const std::string_view key = authorization.substr(7);
    const std::int64_t now = s.clock.NowMs();
    const std::string cache_key =
        Sha256Hex(key) + ":" + std::to_string(t.project_id) + ":" + std::to_string(t.model_id);
    if (auto role = Callers().Get(cache_key, now)) {
        return *role;
    }
    ASSIGN_OR_RETURN(auth::Principal p, s.accounts.AuthenticateApiKey(key));
    ASSIGN_OR_RETURN(auth::Role role, s.projects.RoleOf(p, t.project_id));
    if (p.key_model_id != 0) {
        // A model API key calls its own model, as long as its user may, and sees no more than
        // a Viewer would (no tracebacks).
        role = p.key_model_id == t.model_id ? std::min(role, auth::Role::kViewer)
                                             : auth::Role::kNone;
    }
    Callers().Put(cache_key, role, now);
    return role;
}

// Checks the model's auth switch; returns the caller's role (kNone when auth is off and no key).
Result<auth::Role> AuthorizeCall(Services& s, const http::Request& req, const ServingTarget& t) {
    auto role = CallerRole(s, req, t);
    if (!t.auth_enabled) {
        return role ? *role : auth::Role::kNone;
    }
    if (!role) {
        return std::unexpected(role.error());
    }
    if (req.Header("authorization").empty()) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "model '" + t.name +
                             "' requires authentication: send 'Authorization: Bearer <API key>' "
                             "of a user who may read its project");
    }
    RETURN_IF_ERROR(auth::Decide(auth::RuleFor(auth::Action::kModelCallAuthorized), *role,
                                 "model '" + t.name + "'"));
    return *role;
}

std::string_view CodeFor(int status) {
    switch (status) {
        case 429: return "too_many_requests";
        case 502: return "bad_gateway";
        case 503: return "unavailable";
        case 504: return "timeout";
        default: return "internal";
    }
}

// CML's envelope for an error that is not the function's: {"success": false, "error": {...}}.
http::Response EnvelopeError(const Error& e) {
    http::Response r = http::ErrorResponse(e);
    json body = json::parse(r.body, nullptr, false);
    if (body.is_object()) {
        body["success"] = false;
        body["StatusCode"] = r.status;
        r.body = body.dump();
    }
    return r;
}

http::Response Envelope(const CallOutcome& o, bool show_traceback) {
    http::Response r;
    r.status = o.status;
    if (o.status == 200) {
        r.body.reserve(o.body.size() + o.replica_id.size() + 80);
        r.body += R"({"success":true,"response":)";
        r.body += o.body;
        r.body += R"(,"ReplicaID":")";
        r.body += o.replica_id;
        r.body += R"(","Size":)";
        r.body += std::to_string(o.body.size());
        r.body += R"(,"StatusCode":200})";
        return r;
    }
    json error;
    if (o.status == 500) {
        error = json::parse(o.body, nullptr, false);
        if (!error.is_object()) {
            error = {{"message", o.body}};
        }
        if (!show_traceback) {
            error.erase("traceback");
        }
    } else {
        error = {{"code", CodeFor(o.status)}, {"message", o.body}};
    }
    json body = {{"success", false}, {"error", error}, {"StatusCode", o.status}};
    if (!o.replica_id.empty()) {
        body["ReplicaID"] = o.replica_id;
    }
    r.body = body.dump();
    if (o.retry_after_seconds > 0) {
        r.headers.emplace_back("Retry-After", std::to_string(o.retry_after_seconds));
    }
    return r;
}

// ---- Open Inference Protocol v2

void Flatten(const json& v, json& out, std::vector<std::int64_t>& shape, std::size_t depth,
             bool* ragged) {
    if (v.is_array()) {
        if (shape.size() <= depth) {
            shape.push_back(static_cast<std::int64_t>(v.size()));
        } else if (shape[depth] != static_cast<std::int64_t>(v.size())) {
            *ragged = true;
        }
        for (const auto& x : v) {
            Flatten(x, out, shape, depth + 1, ragged);
        }
    } else {
        out.push_back(v);
    }
}

json OipTensor(const std::string& name, const json& value) {
    json data = json::array();
    std::vector<std::int64_t> shape;
    bool ragged = false;
    Flatten(value, data, shape, 0, &ragged);
    if (!value.is_array()) {
        shape = {1};
    }
    bool all_bool = true;
    bool all_int = true;
    bool all_num = true;
    for (const auto& x : data) {
        all_bool = all_bool && x.is_boolean();
        all_int = all_int && x.is_number_integer();
        all_num = all_num && x.is_number();
    }
    std::string type = "BYTES";
    if (ragged) {
        data = json::array({value.dump()});
        shape = {1};
    } else if (!data.empty() && all_bool) {
        type = "BOOL";
    } else if (!data.empty() && all_int) {
        type = "INT64";
    } else if (!data.empty() && all_num) {
        type = "FP64";
    } else {
        for (auto& x : data) {
            if (!x.is_string()) {
                x = x.dump();
            }
        }
    }
    return {{"name", name}, {"datatype", type}, {"shape", shape}, {"data", data}};
}

json OipError(const std::string& message) { return {{"error", message}}; }

http::Response OipErrorResponse(int status, const std::string& message) {
    return http::Response::Json(status, OipError(message));
}

// Maps an Error to OIP's {"error": "..."} with the usual status.
http::Response OipFromError(const Error& e) {
    http::Response r = http::ErrorResponse(e);
    return OipErrorResponse(r.status, e.message);
}

}  // namespace

void RegisterServingRoutes(http::Router& router, Services& s) {
    // POST /model: the hot path. Runs on the I/O thread and answers when the replica does.
    http::Route model;
    model.method = "POST";
    model.pattern = "/model";
    model.action = std::string(auth::RuleFor(auth::Action::kModelCall).name);
    model.async_handler = [&s](http::Request& req, http::Responder respond) {
        auto body = serving::ParseCallBody(req.body);
        if (!body) {
            respond(EnvelopeError(body.error()));
            return;
        }
        std::string key = body->access_key ? *body->access_key : std::string(req.Query("accessKey"));
        if (key.empty()) {
            respond(EnvelopeError({ErrorCode::kUnauthenticated,
                                   "send the model's access key as \"accessKey\" in the body or "
                                   "?accessKey= in the URL"}));
            return;
        }
        if (!body->request) {
            respond(EnvelopeError(
                {ErrorCode::kBadRequest, "the body needs a \"request\" field with the input"}));
            return;
        }
        auto target = s.serving.FindByKey(key);
        if (!target) {
            respond(EnvelopeError({ErrorCode::kNotFound, "no model has this access key"}));
            return;
        }
        auto role = AuthorizeCall(s, req, *target);
        if (!role) {
            respond(EnvelopeError(role.error()));
            return;
        }
        const bool traceback = *role >= auth::Role::kContributor;
        s.serving.Call(*target, std::string(*body->request),
                       [respond, traceback](CallOutcome&& o) { respond(Envelope(o, traceback)); });
    };
    router.Add(std::move(model));

    AddEndpoint(router, s, "GET", "/v2/health/live", auth::Action::kModelCall,
                [](Context&) -> Result<http::Response> {
                    return http::Response::Json(200, {{"live", true}});
                },
                {.run_inline = true});
    AddEndpoint(router, s, "GET", "/v2/health/ready", auth::Action::kModelCall,
                [](Context& ctx) -> Result<http::Response> {
                    const bool ready = ctx.services.serving.AnyDeployed();
                    return http::Response::Json(ready ? 200 : 503, {{"ready", ready}});
                },
                {.run_inline = true});
    AddEndpoint(router, s, "GET", "/v2/models/{name}", auth::Action::kModelCall,
                [](Context& ctx) -> Result<http::Response> {
                    auto t = ctx.services.serving.FindModel(ctx.Param("name"));
                    if (!t) {
                        return OipFromError(t.error());
                    }
                    if (auto role = AuthorizeCall(ctx.services, ctx.request, *t); !role) {
                        return OipFromError(role.error());
                    }
                    json versions = json::array();
                    if (t->deployment_id) {
                        versions.push_back(std::to_string(t->deployment_id));
                    }
                    return http::Response::Json(200, {{"name", t->name},
                                                      {"versions", versions},
                                                      {"platform", "lathe_python"},
                                                      {"inputs", json::array()},
                                                      {"outputs", json::array()}});
                });
    AddEndpoint(router, s, "GET", "/v2/models/{name}/ready", auth::Action::kModelCall,
                [](Context& ctx) -> Result<http::Response> {
                    auto t = ctx.services.serving.FindModel(ctx.Param("name"));
                    if (!t) {
                        return OipFromError(t.error());
                    }
                    if (auto role = AuthorizeCall(ctx.services, ctx.request, *t); !role) {
                        return OipFromError(role.error());
                    }
                    const bool ready = t->pool && t->pool->View().ready > 0;
                    return http::Response::Json(ready ? 200 : 503,
                                                {{"name", t->name}, {"ready", ready}});
                });

    http::Route infer;
    infer.method = "POST";
    infer.pattern = "/v2/models/{name}/infer";
    infer.action = std::string(auth::RuleFor(auth::Action::kModelCall).name);
    infer.async_handler = [&s](http::Request& req, http::Responder respond) {
        auto target = s.serving.FindModel(req.params.at("name"));
        if (!target) {
            respond(OipFromError(target.error()));
            return;
        }
        auto role = AuthorizeCall(s, req, *target);
        if (!role) {
            respond(OipFromError(role.error()));
            return;
        }
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("inputs") ||
            !body["inputs"].is_array()) {
            respond(OipErrorResponse(400, "the body must be {\"inputs\": [{\"name\", \"shape\", "
                                          "\"datatype\", \"data\"}, ...]}"));
            return;
        }
        // The function gets {input name: data} (data as sent), like a CML request.
        json request = json::object();
        for (const auto& input : body["inputs"]) {
            if (!input.is_object() || !input.contains("name") || !input["name"].is_string() ||
                !input.contains("data")) {
                respond(OipErrorResponse(400, "each input needs a \"name\" and \"data\""));
                return;
            }
            request[input["name"].get<std::string>()] = input["data"];
        }
        if (body.contains("parameters")) {
            request["parameters"] = body["parameters"];
        }
        std::string id;
        if (auto it = body.find("id"); it != body.end()) {
            id = it->is_string() ? it->get<std::string>() : it->dump();
        }
        const bool traceback = *role >= auth::Role::kContributor;
        s.serving.Call(*target, request.dump(),
                       [respond, id, name = target->name, deployment = target->deployment_id,
                        traceback](CallOutcome&& o) {
                           if (o.status != 200) {
                               http::Response env = Envelope(o, traceback);
                               json b = json::parse(env.body, nullptr, false);
                               std::string message = "the model failed";
                               if (b.is_object() && b.contains("error") &&
                                   b["error"].contains("message")) {
                                   message = b["error"]["message"].get<std::string>();
                               }
                               http::Response r = OipErrorResponse(o.status, message);
                               r.headers = env.headers;
                               respond(std::move(r));
                               return;
                           }
                           json value = json::parse(o.body, nullptr, false);
                           json outputs = json::array();
                           if (value.is_object()) {
                               for (auto& [k, v] : value.items()) {
                                   outputs.push_back(OipTensor(k, v));
                               }
                           } else {
                               outputs.push_back(OipTensor("output0", value));
                           }
                           json out = {{"model_name", name},
                                       {"model_version", std::to_string(deployment)},
                                       {"outputs", outputs}};
                           if (!id.empty()) {
                               out["id"] = id;
                           }
                           respond(http::Response::Json(200, out));
                       });
    };
    router.Add(std::move(infer));

    AddEndpoint(router, s, "GET", "/metrics", auth::Action::kServingMetricsRead,
                [](Context& ctx) -> Result<http::Response> {
                    http::Response r;
                    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                    r.body = ctx.services.serving.PrometheusText();
                    r.body += ctx.services.metrics.PrometheusText();
                    return r;
                });
}

}  // namespace lathe::api
