// Workload kinds, states and the spec's JSON form.
#include "compute/workload.h"

namespace lathe::compute {
namespace {

constexpr std::pair<WorkloadKind, std::string_view> kKinds[] = {
    {WorkloadKind::kJobRun, "job_run"}, {WorkloadKind::kSession, "session"},
    {WorkloadKind::kModelBuild, "model_build"}, {WorkloadKind::kReplica, "replica"},
    {WorkloadKind::kWorker, "worker"}};

constexpr std::pair<WorkloadState, std::string_view> kStates[] = {
    {WorkloadState::kScheduling, "scheduling"}, {WorkloadState::kStarting, "starting"},
    {WorkloadState::kRunning, "running"},       {WorkloadState::kSucceeded, "succeeded"},
    {WorkloadState::kFailed, "failed"},         {WorkloadState::kTimedOut, "timedout"},
    {WorkloadState::kStopped, "stopped"}};

}  // namespace

std::string_view KindName(WorkloadKind kind) {
    for (auto [k, n] : kKinds) {
        if (k == kind) {
            return n;
        }
    }
    return "job_run";
}

std::optional<WorkloadKind> ParseKind(std::string_view name) {
    for (auto [k, n] : kKinds) {
        if (n == name) {
            return k;
        }
    }
    return std::nullopt;
}

std::string_view StateName(WorkloadState state) {
    for (auto [s, n] : kStates) {
        if (s == state) {
            return n;
        }
    }
    return "failed";
}

std::optional<WorkloadState> ParseState(std::string_view name) {
    for (auto [s, n] : kStates) {
        if (n == name) {
            return s;
        }
    }
    return std::nullopt;
}

bool IsFinal(WorkloadState s) {
    return s == WorkloadState::kSucceeded || s == WorkloadState::kFailed ||
           s == WorkloadState::kTimedOut || s == WorkloadState::kStopped;
}

bool CanTransition(WorkloadState from, WorkloadState to) {
    using S = WorkloadState;
    switch (from) {
        case S::kScheduling: return to == S::kStarting || to == S::kStopped || to == S::kFailed;
        case S::kStarting:
            return to == S::kRunning || to == S::kFailed || to == S::kStopped ||
                   to == S::kTimedOut || to == S::kSucceeded;
        case S::kRunning:
            return to == S::kSucceeded || to == S::kFailed || to == S::kTimedOut ||
                   to == S::kStopped;
        default: return false;
    }
}

nlohmann::json WorkloadSpec::ToJson() const {
    return {{"argv", argv},
            {"env", env},
            {"cpu_millicores", resources.cpu_millicores},
            {"memory_mib", resources.memory_mib},
            {"gpus", resources.gpus},
            {"timeout_seconds", timeout_seconds},
            {"priority", priority},
            {"home_dir", home_dir},
            {"home_readonly", home_readonly}};
}

Result<WorkloadSpec> WorkloadSpec::FromJson(const nlohmann::json& j) {
    try {
        WorkloadSpec s;
        s.argv = j.at("argv").get<std::vector<std::string>>();
        s.env = j.at("env").get<std::map<std::string, std::string>>();
        s.resources.cpu_millicores = j.at("cpu_millicores").get<std::int64_t>();
        s.resources.memory_mib = j.at("memory_mib").get<std::int64_t>();
        s.resources.gpus = j.value("gpus", std::int64_t{0});
        s.timeout_seconds = j.value("timeout_seconds", std::int64_t{0});
        s.priority = j.value("priority", 0);
        s.home_dir = j.value("home_dir", std::string());
        s.home_readonly = j.value("home_readonly", false);
        return s;
    } catch (const nlohmann::json::exception& e) {
        return MakeError(ErrorCode::kInternal, std::string("stored workload spec is damaged: ") +
                                                   e.what());
    }
}

}  // namespace lathe::compute
