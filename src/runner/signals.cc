// The signals the runner acts on, read from a signalfd.
#include "runner/signals.h"

#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace lathe::runner {

Result<SignalWatch> SignalWatch::Create() {
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    ::sigemptyset(&set);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) {
        ::sigaddset(&set, sig);
    }
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot block signals: ") + std::strerror(errno));
    }
    int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot make a signalfd: ") + std::strerror(errno));
    }
    return SignalWatch(UniqueFd(fd));
}

std::vector<int> SignalWatch::Drain() {
    std::vector<int> signals;
    signalfd_siginfo info;
    while (true) {
        ssize_t n = ::read(fd_.get(), &info, sizeof info);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != static_cast<ssize_t>(sizeof info)) {
            break;
        }
        signals.push_back(static_cast<int>(info.ssi_signo));
    }
    return signals;
}

std::string SignalName(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev == nullptr) {
        return "signal " + std::to_string(sig);
    }
    return std::string("SIG") + abbrev;
}

}  // namespace lathe::runner
