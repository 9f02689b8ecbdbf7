// What the server tells the runner to run: the answer to GET /api/v2/runner/workloads/{id}.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::runner {

// The variable that carries the runner's secret; the kernel never gets it.
inline constexpr std::string_view kRunnerTokenVariable = "LATHE_RUNNER_TOKEN";

struct WorkloadSpec {
    std::vector<std::string> argv;  // argv[0]: an absolute path, or a name looked up in env's PATH
    std::vector<std::string> env;   // "NAME=value": exactly the kernel's environment
    std::string cwd;                // empty: the runner's own working directory
    std::int64_t heartbeat_ms = 5'000;
    std::int64_t stop_grace_ms = 10'000;
    std::int64_t server_gone_ms = 60'000;
    std::size_t log_chunk_bytes = 64 * 1024;
    // Values the runner changed to keep itself working ("heartbeat_seconds 90 is more than ..."),
    // for its stderr.
    std::vector<std::string> adjustments;

    // The value of `name` in env, if it is there.
    const std::string* EnvValue(std::string_view name) const;
};

// Parses and checks the server's JSON. Missing numbers take the defaults above; numbers out of
// range are brought into range and noted in `adjustments`. A wrong shape is kBadRequest.
Result<WorkloadSpec> ParseWorkloadSpec(std::string_view json);

}  // namespace lathe::runner
