// The runner's main loop for one workload: one thread, one poll over the kernel's pipe, the
// signalfd and libcurl's sockets, so reading the kernel and talking to the server never wait on
// each other.
#include "runner/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "runner/diagnostics.h"
#include "runner/fd.h"
#include "runner/kernel.h"
#include "runner/log_buffer.h"
#include "runner/retry.h"

namespace lathe::runner {
namespace {

using Json = nlohmann::json;

// How much of the pipe one turn of the loop reads before it lets the network move.
constexpr std::size_t kMaxReadPerTurn = 1024 * 1024;
// The smallest log chunk a 413 answer can shrink uploads to.
constexpr std::size_t kMinLogChunkBytes = 1024;
// Once the kernel has exited, processes it started may hold its output open this long before
// its process group is killed, and then this much longer before the runner stops waiting for
// the pipe to close (a process that left the group may hold it forever).
constexpr std::int64_t kOrphanGraceMs = 1000;
constexpr std::int64_t kOrphanAbandonMs = 1000;
// The loop wakes at least this often, whatever its timers say.
constexpr std::int64_t kMaxWaitMs = 1000;

enum class ControlKind { kStarted, kHeartbeat, kExited };

const char* ControlName(ControlKind kind) {
    switch (kind) {
        case ControlKind::kStarted:
            return "the started event";
        case ControlKind::kHeartbeat:
            return "the heartbeat";
        case ControlKind::kExited:
            return "the exited event";
    }
    return "a request";
}

bool IsSuccess(const HttpAnswer& answer) {
    return answer.status >= 200 && answer.status < 300;
}

// Worth sending again: no answer, a server error, or "too busy / too slow".
bool IsRetriable(const HttpAnswer& answer) {
    return !answer.answered() || answer.status >= 500 || answer.status == 408 ||
           answer.status == 429;
}

Json ParseObject(const std::string& body) {
    Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    return doc.is_object() ? doc : Json();
}

// {"size": N} from a log upload's answer.
std::optional<std::uint64_t> ReadLogSize(const std::string& body) {
    Json doc = ParseObject(body);
    if (!doc.is_object()) {
        return std::nullopt;
    }
    auto size = doc.find("size");
    if (size == doc.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0) {
        return std::nullopt;
    }
    return size->get<std::uint64_t>();
}

// {"stop": bool} from a heartbeat's answer.
std::optional<bool> ReadStop(const std::string& body) {
    Json doc = ParseObject(body);
    if (!doc.is_object()) {
        return std::nullopt;
    }
    auto stop = doc.find("stop");
    if (stop == doc.end() || !stop->is_boolean()) {
        return std::nullopt;
    }
    return stop->get<bool>();
}

std::string Seconds(std::int64_t ms) {
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    return std::to_string(ms) + " ms";
}

class Supervisor {
public:
    Supervisor(const WorkloadSpec& spec, ServerLink& link, SignalWatch& signals)
        : spec_(spec),
          link_(link),
          signals_(signals),
          log_exchange_(link.NewExchange()),
          control_exchange_(link.NewExchange()),
          buffer_(kLogBufferBytes),
          chunk_limit_(std::min(spec.log_chunk_bytes, kLogBufferBytes)) {}

    int Run();

private:
    void Launch(std::int64_t now);
    void HandleSignals(std::int64_t now);
    void ReapChildren(std::int64_t now);
    void ReadExecStatus();
    void ReadOutput();
    void CloseOutput();
    void RunTimers(std::int64_t now);
    void Talk(std::int64_t now);
    void QueueExitedWhenDone();
    bool StartLogUpload(std::int64_t now);
    void OnLogAnswer(const HttpAnswer& answer, std::int64_t now);
    void LogUploadFailed(const std::string& reason, std::int64_t now);
    bool StartControl(std::int64_t now);
    void OnControlAnswer(const HttpAnswer& answer, std::int64_t now);
    void ControlFailed(ControlKind kind, const std::string& reason, std::int64_t now);
    void StopKernel(const std::string& reason, std::int64_t now);
    void SignalKernelGroup(int sig);
    int WaitMs(std::int64_t now) const;
    int Finish(int status);

    const WorkloadSpec& spec_;
    ServerLink& link_;
    SignalWatch& signals_;
    Exchange& log_exchange_;
    Exchange& control_exchange_;

    // The kernel.
    pid_t kernel_pid_ = -1;  // also its process group; -1 when it could not be started
    bool kernel_running_ = false;
    int exit_code_ = 0;  // 128+N when signal N ended it
    int exit_signal_ = 0;
    UniqueFd output_;
    UniqueFd exec_status_;
    std::string exec_status_bytes_;
    bool stopping_ = false;
    std::optional<std::int64_t> kill_at_ms_;
    std::optional<std::int64_t> orphan_kill_at_ms_;
    std::optional<std::int64_t> orphan_abandon_at_ms_;
    int signals_after_exit_ = 0;
    bool abandon_ = false;

    // The log: bytes below buffer_.head_offset() the server has accepted.
    LogBuffer buffer_;
    std::size_t chunk_limit_;
    std::uint64_t sent_high_ = 0;  // the end of the furthest range ever sent
    Backoff log_backoff_;
    std::int64_t log_retry_at_ms_ = 0;
    FailureReport log_report_{"sending the log"};

    // Events and heartbeats, one at a time and in order.
    std::deque<ControlKind> control_queue_;
    Backoff control_backoff_;
    std::int64_t control_retry_at_ms_ = 0;
    std::int64_t next_heartbeat_ms_ = 0;
    bool heartbeat_queued_ = false;
    bool exited_queued_ = false;
    bool exited_reported_ = false;
    FailureReport control_report_{"reporting to the server"};

    // When the server last answered as it should; silence past server_gone_ms means it is gone.
    std::int64_t last_ok_ms_ = 0;
    std::string last_problem_;
    bool server_gone_ = false;
};

int Supervisor::Run() {
    std::int64_t now = MonotonicMs();
    last_ok_ms_ = now;
    Launch(now);
    while (true) {
        pollfd fds[3];
        std::size_t count = 0;
        fds[count++] = pollfd{signals_.fd(), POLLIN, 0};
        // A full buffer leaves the pipe unread, so the kernel blocks on its next write.
        if (output_.valid() && buffer_.room() > 0) {
            fds[count++] = pollfd{output_.get(), POLLIN, 0};
        }
        if (exec_status_.valid()) {
            fds[count++] = pollfd{exec_status_.get(), POLLIN, 0};
        }
        if (Status waited = link_.Wait({fds, count}, WaitMs(now)); !waited) {
            Say(waited.error().message);
            ::poll(nullptr, 0, 10);  // keep a broken poll from spinning
        }
        now = MonotonicMs();
        ReadExecStatus();
        HandleSignals(now);
        ReadOutput();
        RunTimers(now);
        if (abandon_) {
            return Finish(exit_code_);
        }
        if (server_gone_ && !kernel_running_) {
            return Finish(kExitServerGone);
        }
        Talk(now);
        if (exited_reported_) {
            return Finish(exit_code_);
        }
    }
}

void Supervisor::Launch(std::int64_t now) {
    next_heartbeat_ms_ = now + spec_.heartbeat_ms;
    Result<KernelLaunch> launch = StartKernel(spec_);
    if (!launch) {
        // Reported like a kernel that could not exec: the user sees why in the log.
        std::string text = "cannot start the kernel: " + launch.error().message;
        Say(text);
        buffer_.Append(text + "\n");
        exit_code_ = 127;
        return;
    }
    kernel_pid_ = launch->pid;
    kernel_running_ = true;
    output_ = std::move(launch->output);
    exec_status_ = std::move(launch->exec_status);
    control_queue_.push_back(ControlKind::kStarted);
}

void Supervisor::HandleSignals(std::int64_t now) {
    for (int sig : signals_.Drain()) {
        if (sig == SIGCHLD) {
            ReapChildren(now);
            continue;
        }
        if (kernel_running_) {
            if (!stopping_) {
                StopKernel("received " + SignalName(sig), now);
            } else {
                Say("received " + SignalName(sig) + " again; sending SIGKILL to the kernel now");
                SignalKernelGroup(SIGKILL);
                kill_at_ms_.reset();
            }
            continue;
        }
        if (++signals_after_exit_ == 1) {
            Say("received " + SignalName(sig) +
                "; the kernel has exited, finishing sending its output and status");
        } else {
            Say("received " + SignalName(sig) +
                " again; exiting without reporting the rest to the server");
            abandon_ = true;
        }
    }
}

void Supervisor::ReapChildren(std::int64_t now) {
    // Any child: as a container's PID 1 the runner also inherits the kernel's orphans.
    while (true) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            return;
        }
        if (pid != kernel_pid_ || !kernel_running_) {
            continue;
        }
        kernel_running_ = false;
        if (WIFSIGNALED(status)) {
            exit_signal_ = WTERMSIG(status);
            exit_code_ = 128 + exit_signal_;
            Say("the kernel (pid " + std::to_string(pid) + ") was ended by " +
                SignalName(exit_signal_));
        } else {
            exit_code_ = WEXITSTATUS(status);
            Say("the kernel (pid " + std::to_string(pid) + ") exited with code " +
                std::to_string(exit_code_));
        }
        if (output_.valid()) {
            orphan_kill_at_ms_ = now + kOrphanGraceMs;
        }
    }
}

void Supervisor::ReadExecStatus() {
    if (!exec_status_.valid()) {
        return;
    }
    char bytes[64];
    while (true) {
        ssize_t n = ::read(exec_status_.get(), bytes, sizeof bytes);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n > 0) {
            if (exec_status_bytes_.size() < sizeof bytes) {
                exec_status_bytes_.append(bytes, static_cast<std::size_t>(n));
            }
            continue;
        }
        break;  // EOF: exec succeeded, or the child wrote why it did not and exited
    }
    exec_status_.Reset();
    if (exec_status_bytes_.empty()) {
        return;
    }
    std::optional<ExecFailure> failure = DecodeExecFailure(exec_status_bytes_);
    std::string text = failure ? DescribeExecFailure(spec_, *failure)
                               : "cannot run " + spec_.argv[0] + ": it failed before exec\n";
    Say(text.substr(0, text.size() - 1));
    // The child wrote nothing to the pipe, so this is in its place in the log.
    buffer_.Append(text);
}

void Supervisor::ReadOutput() {
    std::size_t total = 0;
    while (output_.valid() && total < kMaxReadPerTurn) {
        std::span<char> tail = buffer_.WritableTail();
        if (tail.empty()) {
            return;
        }
        ssize_t n = ::read(output_.get(), tail.data(), tail.size());
        if (n > 0) {
            buffer_.Commit(static_cast<std::size_t>(n));
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n < 0) {
            Say(std::string("reading the kernel's output failed: ") + std::strerror(errno));
        }
        CloseOutput();
    }
}

void Supervisor::CloseOutput() {
    output_.Reset();
    orphan_kill_at_ms_.reset();
    orphan_abandon_at_ms_.reset();
}

void Supervisor::RunTimers(std::int64_t now) {
    if (kill_at_ms_ && now >= *kill_at_ms_) {
        kill_at_ms_.reset();
        if (kernel_running_) {
            Say("the kernel did not stop within " + Seconds(spec_.stop_grace_ms) +
                " of SIGTERM; sending SIGKILL");
        }
        SignalKernelGroup(SIGKILL);
    }
    if (orphan_kill_at_ms_ && now >= *orphan_kill_at_ms_) {
        orphan_kill_at_ms_.reset();
        Say("the kernel has exited but processes it started still hold its output; killing its "
            "process group");
        SignalKernelGroup(SIGKILL);
        orphan_abandon_at_ms_ = now + kOrphanAbandonMs;
    }
    if (orphan_abandon_at_ms_ && now >= *orphan_abandon_at_ms_) {
        ReadOutput();
        if (output_.valid() && buffer_.room() > 0) {
            Say("processes outside the kernel's group still hold its output; not waiting for it");
            CloseOutput();
        } else if (output_.valid()) {
            orphan_abandon_at_ms_ = now + 100;  // the pipe may still hold output: read it first
        }
    }
    if (!heartbeat_queued_ && now >= next_heartbeat_ms_) {
        control_queue_.push_back(ControlKind::kHeartbeat);
        heartbeat_queued_ = true;
        next_heartbeat_ms_ = now + spec_.heartbeat_ms;
    }
    if (!server_gone_ && now - last_ok_ms_ > spec_.server_gone_ms) {
        server_gone_ = true;
        Say("the server has not answered for " + Seconds(now - last_ok_ms_) +
            (last_problem_.empty() ? "" : " (last problem: " + last_problem_ + ")") +
            "; giving up on it");
        StopKernel("the server is gone", now);
    }
}

void Supervisor::Talk(std::int64_t now) {
    // Start what can start, move the transfers, handle what ended; again while that started
    // something new, so a request never waits for the next wake-up to go out.
    for (int round = 0; round < 8; ++round) {
        QueueExitedWhenDone();
        bool started = StartLogUpload(now);
        started = StartControl(now) || started;
        std::vector<FinishedExchange> finished = link_.Perform();
        now = MonotonicMs();
        for (FinishedExchange& done : finished) {
            if (done.exchange == &log_exchange_) {
                OnLogAnswer(done.answer, now);
            } else if (done.exchange == &control_exchange_) {
                OnControlAnswer(done.answer, now);
            }
        }
        if (!started && finished.empty()) {
            return;
        }
    }
}

void Supervisor::QueueExitedWhenDone() {
    if (exited_queued_ || kernel_running_ || output_.valid() || exec_status_.valid() ||
        buffer_.size() > 0 || log_exchange_.in_flight()) {
        return;
    }
    exited_queued_ = true;
    control_queue_.push_back(ControlKind::kExited);
}

bool Supervisor::StartLogUpload(std::int64_t now) {
    if (server_gone_ || log_exchange_.in_flight() || buffer_.size() == 0 ||
        now < log_retry_at_ms_) {
        return false;
    }
    std::string chunk;
    buffer_.CopyHead(chunk_limit_, chunk);
    std::uint64_t offset = buffer_.head_offset();
    std::size_t bytes = chunk.size();
    Status started = link_.Start(log_exchange_, "/logs?offset=" + std::to_string(offset),
                                 std::move(chunk), "application/octet-stream");
    if (!started) {
        LogUploadFailed(started.error().message, now);
        return false;
    }
    sent_high_ = std::max<std::uint64_t>(sent_high_, offset + bytes);
    return true;
}

void Supervisor::OnLogAnswer(const HttpAnswer& answer, std::int64_t now) {
    if (answer.status == 413 && chunk_limit_ > kMinLogChunkBytes) {
        last_ok_ms_ = now;
        chunk_limit_ = std::max(kMinLogChunkBytes, chunk_limit_ / 2);
        Say("the server refused a log chunk as too large; sending at most " +
            std::to_string(chunk_limit_) + " bytes at a time");
        return;
    }
    if (!IsSuccess(answer) && answer.status != 409) {
        LogUploadFailed(answer.Describe(), now);
        return;
    }
    std::optional<std::uint64_t> size = ReadLogSize(answer.body);
    if (!size) {
        LogUploadFailed("the answer has no valid \"size\" (" + answer.Describe() + ")", now);
        return;
    }
    last_ok_ms_ = now;
    // The server's count is the truth. Within what was sent, the bytes below it are done with
    // (409: it already had them; resend from there). Outside, it has lost bytes or invented
    // some: say so, and carry on from its count so the log goes on rather than stalls.
    const std::uint64_t head = buffer_.head_offset();
    const std::uint64_t known_end = std::min<std::uint64_t>(sent_high_, head + buffer_.size());
    bool progress = false;
    if (*size >= head && *size <= known_end) {
        buffer_.Drop(static_cast<std::size_t>(*size - head));
        progress = *size != head;
    } else {
        if (*size < head) {
            Say("the server has only " + std::to_string(*size) + " log bytes of the " +
                std::to_string(head) + " it accepted; the bytes in between are lost");
        } else {
            Say("the server counts " + std::to_string(*size) + " log bytes but only " +
                std::to_string(known_end) + " were sent; going on from its count");
        }
        buffer_.Rebase(*size);
        sent_high_ = *size;
        progress = true;
    }
    if (progress) {
        log_backoff_.Reset();
        log_retry_at_ms_ = 0;
        log_report_.Recovered(now);
    } else {
        LogUploadFailed("the server took none of the bytes sent (" + answer.Describe() + ")", now);
    }
}

void Supervisor::LogUploadFailed(const std::string& reason, std::int64_t now) {
    last_problem_ = reason;
    log_report_.Failed(reason, now);
    log_retry_at_ms_ = now + log_backoff_.NextMs();
}

bool Supervisor::StartControl(std::int64_t now) {
    if (server_gone_ || control_exchange_.in_flight() || control_queue_.empty() ||
        now < control_retry_at_ms_) {
        return false;
    }
    ControlKind kind = control_queue_.front();
    std::string path = "/events";
    Json body;
    switch (kind) {
        case ControlKind::kStarted:
            body = {{"event", "started"}, {"pid", kernel_pid_}};
            break;
        case ControlKind::kHeartbeat:
            path = "/heartbeat";
            body = Json::object();
            break;
        case ControlKind::kExited:
            body = {{"event", "exited"}, {"exit_code", exit_code_}, {"signal", exit_signal_}};
            break;
    }
    Status started = link_.Start(control_exchange_, path, body.dump(), "application/json");
    if (!started) {
        ControlFailed(kind, started.error().message, now);
        return false;
    }
    return true;
}

void Supervisor::OnControlAnswer(const HttpAnswer& answer, std::int64_t now) {
    if (control_queue_.empty()) {
        return;
    }
    ControlKind kind = control_queue_.front();
    // 409 to an event: the server has it already.
    if (IsSuccess(answer) || (answer.status == 409 && kind != ControlKind::kHeartbeat)) {
        std::optional<bool> stop;
        if (kind == ControlKind::kHeartbeat) {
            stop = ReadStop(answer.body);
            if (!stop) {
                ControlFailed(kind, "the answer has no \"stop\" (" + answer.Describe() + ")", now);
                return;
            }
            heartbeat_queued_ = false;
        }
        control_queue_.pop_front();
        last_ok_ms_ = now;
        control_backoff_.Reset();
        control_retry_at_ms_ = 0;
        control_report_.Recovered(now);
        if (kind == ControlKind::kExited) {
            exited_reported_ = true;
        }
        if (stop && *stop) {
            StopKernel("the server asked to stop the kernel", now);
        }
        return;
    }
    if (!IsRetriable(answer) && kind != ControlKind::kHeartbeat) {
        // Sending the same event again would get the same refusal.
        Say(std::string("the server refused ") + ControlName(kind) + " (" + answer.Describe() +
            "); not sending it again");
        control_queue_.pop_front();
        if (kind == ControlKind::kExited) {
            exited_reported_ = true;
        }
        return;
    }
    ControlFailed(kind, answer.Describe(), now);
}

void Supervisor::ControlFailed(ControlKind kind, const std::string& reason, std::int64_t now) {
    last_problem_ = reason;
    control_report_.Failed(std::string(ControlName(kind)) + ": " + reason, now);
    std::int64_t delay = control_backoff_.NextMs();
    if (kind == ControlKind::kHeartbeat) {
        // A heartbeat is not resent as such: the next one comes sooner.
        control_queue_.pop_front();
        heartbeat_queued_ = false;
        next_heartbeat_ms_ = std::min(next_heartbeat_ms_, now + delay);
    } else {
        control_retry_at_ms_ = now + delay;
    }
}

void Supervisor::StopKernel(const std::string& reason, std::int64_t now) {
    if (!kernel_running_ || stopping_) {
        return;
    }
    stopping_ = true;
    Say(reason + "; sending SIGTERM to the kernel's process group, SIGKILL in " +
        Seconds(spec_.stop_grace_ms));
    SignalKernelGroup(SIGTERM);
    kill_at_ms_ = now + spec_.stop_grace_ms;
}

void Supervisor::SignalKernelGroup(int sig) {
    if (kernel_pid_ > 0) {
        ::kill(-kernel_pid_, sig);  // ESRCH: nobody left in the group, which is fine
    }
}

int Supervisor::WaitMs(std::int64_t now) const {
    std::int64_t deadline = now + kMaxWaitMs;
    auto consider = [&](std::optional<std::int64_t> at) {
        if (at) {
            deadline = std::min(deadline, *at);
        }
    };
    consider(kill_at_ms_);
    consider(orphan_kill_at_ms_);
    consider(orphan_abandon_at_ms_);
    if (!heartbeat_queued_) {
        consider(next_heartbeat_ms_);
    }
    if (!server_gone_) {
        if (!log_exchange_.in_flight() && buffer_.size() > 0) {
            consider(log_retry_at_ms_);
        }
        if (!control_exchange_.in_flight() && !control_queue_.empty()) {
            consider(control_retry_at_ms_);
        }
        consider(last_ok_ms_ + spec_.server_gone_ms + 1);
    }
    return static_cast<int>(std::max<std::int64_t>(deadline - now, 0));
}

int Supervisor::Finish(int status) {
    // The workload is over: whatever the kernel left behind in its group goes with it.
    SignalKernelGroup(SIGKILL);
    if (status == kExitServerGone) {
        Say("exiting with " + std::to_string(status) + ": the server is gone");
    }
    return status;
}

}  // namespace

int Supervise(const WorkloadSpec& spec, ServerLink& link, SignalWatch& signals) {
    Supervisor supervisor(spec, link, signals);
    return supervisor.Run();
}

}  // namespace lathe::runner
