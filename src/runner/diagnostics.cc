// The runner's own messages: "lathe runner: ..." lines on its stderr.
#include "runner/diagnostics.h"

#include <unistd.h>

#include <cerrno>

namespace lathe::runner {

void Say(std::string_view message) {
    std::string line = "lathe runner: ";
    line.append(message);
    line.push_back('\n');
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;  // nowhere left to complain to
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

void FailureReport::Failed(std::string_view reason, std::int64_t now_ms) {
    ++failures_;
    if (failures_ == 1) {
        first_failure_ms_ = now_ms;
    }
    if (failures_ == 1 || reason != last_reason_ || now_ms - last_said_ms_ >= kRepeatMs) {
        std::string message = what_ + " failed: " + std::string(reason);
        if (failures_ > 1) {
            message += " (" + std::to_string(failures_) + " tries in " +
                       std::to_string((now_ms - first_failure_ms_) / 1000) + " s)";
        }
        Say(message + "; retrying");
        last_said_ms_ = now_ms;
        last_reason_ = std::string(reason);
    }
}

void FailureReport::Recovered(std::int64_t now_ms) {
    if (failures_ > 0) {
        Say(what_ + " works again after " + std::to_string(failures_) + " failed tries in " +
            std::to_string((now_ms - first_failure_ms_) / 1000) + " s");
    }
    failures_ = 0;
    last_reason_.clear();
}

}  // namespace lathe::runner
