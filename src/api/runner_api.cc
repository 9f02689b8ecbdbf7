// What runners call: their spec, log chunks, events and heartbeats (token-authenticated).
#include "api/endpoint.h"
#include "api/routes.h"

namespace lathe::api {

void RegisterRunnerRoutes(http::Router& router, Services& s) {
    const std::string base = "/api/v2/runner/workloads/{workload_id}";
    AddEndpoint(router, s, "GET", base, auth::Action::kRunnerAccess,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(auto w, ctx.services.workloads.Get(ctx.workload_id));
                    // Devices are chosen at admission; a workload without GPUs sees none.
                    auto env = w.spec.env;
                    for (auto& [k, v] : ctx.services.scheduler.LaunchEnv(w.id)) {
                        env[k] = v;
                    }
                    env["LATHE_WORKLOAD_ID"] = std::to_string(w.id);
                    env["CDSW_ENGINE_ID"] = std::to_string(w.id);
                    env["CUDA_VISIBLE_DEVICES"] = ctx.services.scheduler.GpuDevices(w.id);
                    env["NVIDIA_VISIBLE_DEVICES"] =
                        env["CUDA_VISIBLE_DEVICES"].empty() ? "void" : env["CUDA_VISIBLE_DEVICES"];
                    json spec = {
                        {"argv", w.spec.argv},
                        {"env", env},
                        {"cwd", "/home/cdsw"},
                        {"heartbeat_seconds", ctx.services.scheduler.heartbeat_seconds()},
                        {"stop_grace_seconds", ctx.services.scheduler.stop_grace().count() / 1000},
                        {"server_gone_seconds", 60},
                        {"log_chunk_bytes", 65536}};
                    http::Response r = http::Response::Json(200, spec);
                    r.headers.emplace_back("Cache-Control", "no-store");
                    return r;
                });
    AddEndpoint(router, s, "POST", base + "/logs", auth::Action::kRunnerAccess,
                [](Context& ctx) -> Result<http::Response> {
                    std::uint64_t offset = 0;
                    std::string_view text = ctx.request.Query("offset");
                    if (!text.empty()) {
                        auto parsed = ParseId(text);
                        if (!parsed && text != "0") {
                            return MakeError(ErrorCode::kBadRequest, "offset must be a number");
                        }
                        offset = parsed.value_or(0);
                    }
                    ASSIGN_OR_RETURN(auto result, ctx.services.logs.Append(
                                                      ctx.workload_id, offset, ctx.request.body));
                    return http::Response::Json(result.accepted ? 200 : 409,
                                                {{"size", result.size}});
                });
    AddEndpoint(router, s, "POST", base + "/events", auth::Action::kRunnerAccess,
                [](Context& ctx) -> Result<http::Response> {
                    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
                    ASSIGN_OR_RETURN(std::string event, RequiredString(body, "event"));
                    if (event == "started") {
                        RETURN_IF_ERROR(ctx.services.scheduler.OnRunnerStarted(ctx.workload_id));
                    } else if (event != "exited") {
                        // The exit itself is observed by the backend; the runner's report is
                        // accepted for the record but not needed.
                        return MakeError(ErrorCode::kBadRequest, "unknown event '" + event + "'");
                    }
                    return http::Response::Json(200, {{"ok", true}});
                });
    AddEndpoint(router, s, "POST", base + "/heartbeat", auth::Action::kRunnerAccess,
                [](Context& ctx) -> Result<http::Response> {
                    RETURN_IF_ERROR(ctx.services.workloads.Heartbeat(ctx.workload_id));
                    return http::Response::Json(
                        200, {{"stop", ctx.services.scheduler.StopRequested(ctx.workload_id)}});
                });
}

}  // namespace lathe::api
