// Workloads in the Store: creating them, their state transitions (stored before acted on),
// heartbeats, runner tokens, and per-user/per-team quotas.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compute/workload.h"
#include "core/clock.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::compute {

struct Transition {
    WorkloadState to;
    std::string reason;
    std::optional<int> exit_code;
};

class WorkloadRecords {
public:
    WorkloadRecords(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    // Stores a new workload in `scheduling`; fills id and created_at.
    Status Create(Workload& w);
    Result<Workload> Get(std::int64_t id);
    // Applies a transition if the stored state allows it; returns the workload after it.
    // kConflict when the workload is already past that point (e.g. stopping a finished run).
    Result<Workload> Apply(std::int64_t id, const Transition& t);
    // Updates the waiting reasons of workloads still in `scheduling` (no transition), in one
    // transaction however many there are.
    Status SetReasons(const std::vector<std::pair<std::int64_t, std::string>>& reasons);
    Result<std::vector<Workload>> InStates(const std::vector<WorkloadState>& states);
    static const store::ListSpec& RunListSpec();
    Result<std::pair<std::vector<Workload>, std::string>> ListForJob(std::int64_t job_id,
                                                                     const store::ListQuery& q);

    // A fresh runner token for a launch (only its hash is stored).
    Result<std::string> IssueRunnerToken(std::int64_t id);
    Result<bool> CheckRunnerToken(std::int64_t id, std::string_view token);
    Status Heartbeat(std::int64_t id);

    Result<std::optional<Resources>> Quota(std::string_view subject_type, std::string_view subject);
    Status SetQuota(std::string_view subject_type, std::string_view subject,
                    std::optional<Resources> quota);
    // Every stored quota: (type, subject, limits).
    Result<std::vector<std::tuple<std::string, std::string, Resources>>> Quotas();

private:
    store::Store& store_;
    const Clock& clock_;
};

}  // namespace lathe::compute
