// `lathe runner`: the supervisor inside every workload (bubblewrap sandbox, Pod, Slurm node).
#pragma once

#include <string>
#include <vector>

namespace lathe::runner {

// Runs `lathe runner` with the words after "runner"; returns the process exit status.
int Main(const std::vector<std::string>& args);

}  // namespace lathe::runner
