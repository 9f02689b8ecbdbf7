// Starting the kernel: fork/exec into its own process group, stdin from /dev/null, stdout and
// stderr merged into one pipe, and an exec-status pipe that says why it could not start.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "runner/fd.h"
#include "runner/spec.h"

namespace lathe::runner {

// A started kernel. The child's failure to start shows up on `exec_status` (see
// ReadExecFailure); the child then exits with 127.
struct KernelLaunch {
    pid_t pid = -1;        // also the id of its process group
    UniqueFd output;       // read end of the merged stdout/stderr pipe, non-blocking
    UniqueFd exec_status;  // read end, non-blocking: EOF alone means exec succeeded
};

// What the child could not do before exec, as it reports it on the exec-status pipe.
struct ExecFailure {
    enum class Step : int { kStdin = 1, kChdir = 2, kExec = 3 };
    Step step = Step::kExec;
    int error = 0;  // errno
};
inline constexpr std::size_t kExecFailureBytes = 2 * sizeof(int);

// Where execve is tried for argv0: itself if it holds a '/', else each directory of `path`
// (an empty entry is the working directory, as in execvp).
std::vector<std::string> ExecCandidates(std::string_view argv0, std::string_view path);

// The search path for `spec`: env's PATH, or the usual default when env has none.
std::string KernelSearchPath(const WorkloadSpec& spec);

// Forks and execs spec.argv. Only fails when the runner itself cannot fork or make pipes.
Result<KernelLaunch> StartKernel(const WorkloadSpec& spec);

// Decodes the bytes read from the exec-status pipe; nullopt when they are not a full record.
std::optional<ExecFailure> DecodeExecFailure(std::string_view bytes);

// The line the kernel's log gets instead of its output: "cannot run /usr/bin/nope: No such file
// or directory\n".
std::string DescribeExecFailure(const WorkloadSpec& spec, const ExecFailure& failure);

}  // namespace lathe::runner
