// The signals the runner acts on, read from a signalfd in its poll loop: SIGCHLD (the kernel or
// an orphan it adopted ended) and SIGTERM, SIGINT, SIGHUP (stop the kernel).
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "runner/fd.h"

namespace lathe::runner {

class SignalWatch {
public:
    // Blocks the signals above (so only the signalfd sees them) and ignores SIGPIPE.
    static Result<SignalWatch> Create();

    int fd() const { return fd_.get(); }
    // The signals that arrived since the last call, oldest first; never blocks.
    std::vector<int> Drain();

private:
    explicit SignalWatch(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// "SIGTERM" for 15.
std::string SignalName(int sig);

}  // namespace lathe::runner
