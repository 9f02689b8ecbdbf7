// The runner's own messages: "lathe runner: ..." lines on its stderr, which the backend keeps.
// They never go into the kernel's log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace lathe::runner {

// Writes "lathe runner: <message>\n" in one write, so lines never interleave.
void Say(std::string_view message);

// Reports a repeating failure without flooding stderr: the first failure, a changed reason, a
// reminder every kRepeatMs while it lasts, and the recovery.
class FailureReport {
public:
    static constexpr std::int64_t kRepeatMs = 10'000;

    // `what` names the operation: "sending the log".
    explicit FailureReport(std::string what) : what_(std::move(what)) {}

    void Failed(std::string_view reason, std::int64_t now_ms);
    void Recovered(std::int64_t now_ms);
    bool failing() const { return failures_ > 0; }

private:
    std::string what_;
    std::string last_reason_;
    std::int64_t failures_ = 0;
    std::int64_t first_failure_ms_ = 0;
    std::int64_t last_said_ms_ = 0;
};

}  // namespace lathe::runner
