// The runner's main loop for one workload: starts the kernel, streams its output to the server,
// sends heartbeats, stops the kernel when asked (or when the server is gone), reports its exit.
#pragma once

#include "runner/server_link.h"
#include "runner/signals.h"
#include "runner/spec.h"

namespace lathe::runner {

// Exit status of the runner when the server stayed unreachable (EX_TEMPFAIL).
inline constexpr int kExitServerGone = 75;

// The buffer between the kernel's pipe and the server. When it is full the runner stops reading
// the pipe, which blocks the kernel's writes: output is never dropped and memory stays bounded.
inline constexpr std::size_t kLogBufferBytes = 8 * 1024 * 1024;

// Runs the workload to its end and returns the runner's exit status: the kernel's exit code,
// 128+N if signal N ended it, or kExitServerGone.
int Supervise(const WorkloadSpec& spec, ServerLink& link, SignalWatch& signals);

}  // namespace lathe::runner
