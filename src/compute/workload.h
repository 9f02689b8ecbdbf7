// What a workload is: its spec, its states and the transitions between them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "compute/admission.h"
#include "core/error.h"

namespace lathe::compute {

enum class WorkloadKind { kJobRun, kSession, kModelBuild, kReplica, kWorker };

// scheduling -> starting -> running -> succeeded | failed | timedout | stopped. A workload may
// also end from scheduling or starting (stopped, failed). Every transition is stored first.
enum class WorkloadState { kScheduling, kStarting, kRunning, kSucceeded, kFailed, kTimedOut, kStopped };

std::string_view KindName(WorkloadKind kind);
std::optional<WorkloadKind> ParseKind(std::string_view name);
std::string_view StateName(WorkloadState state);
std::optional<WorkloadState> ParseState(std::string_view name);
bool IsFinal(WorkloadState state);
bool CanTransition(WorkloadState from, WorkloadState to);

// Everything needed to start the workload's kernel; stored as JSON with the workload.
struct WorkloadSpec {
    std::vector<std::string> argv;              // the kernel command, argv[0] an absolute path
    std::map<std::string, std::string> env;     // LATHE_*, CDSW_*, project and job variables
    Resources resources;
    std::int64_t timeout_seconds = 0;           // 0: none
    int priority = 0;
    // Host directory mounted at /home/cdsw instead of the project's files (model builds and
    // replicas run from a build's snapshot), and whether it is mounted read-only.
    std::string home_dir;
    bool home_readonly = false;

    nlohmann::json ToJson() const;
    static Result<WorkloadSpec> FromJson(const nlohmann::json& j);
};

struct Workload {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::int64_t owner_user_id = 0;
    std::string owner;                 // username
    std::optional<std::string> team;   // the owning team of the project, for team quotas
    WorkloadKind kind = WorkloadKind::kJobRun;
    WorkloadState state = WorkloadState::kScheduling;
    std::string reason;                // why it waits or how it ended
    WorkloadSpec spec;
    std::optional<std::int64_t> job_id;
    std::string trigger;               // manual, api, schedule, dependency
    std::optional<int> exit_code;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> finished_at;
};

}  // namespace lathe::compute
