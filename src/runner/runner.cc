// `lathe runner`: reads its environment, fetches the workload spec, then supervises the kernel.
#include "runner/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <string_view>

#include "runner/diagnostics.h"
#include "runner/retry.h"
#include "runner/server_link.h"
#include "runner/signals.h"
#include "runner/spec.h"
#include "runner/supervisor.h"

namespace lathe::runner {
namespace {

constexpr int kExitUsage = 64;    // EX_USAGE: started without its environment
constexpr int kExitRefused = 70;  // the server refused the token or has no such workload
// Until the spec says otherwise, how long an unreachable server is waited for.
constexpr std::int64_t kDefaultServerGoneMs = 60'000;

constexpr std::string_view kUsage = R"(usage: lathe runner

Runs one workload: fetches its spec from the server, starts the kernel, streams the kernel's
output (stdout and stderr merged) to the server, sends heartbeats, stops the kernel when the
server asks, and reports how it ended. A backend starts it inside the workload's sandbox, Pod
or Slurm allocation; people do not run it by hand.

Environment:
  LATHE_RUNNER_URL     the server's base URL, e.g. http://127.0.0.1:8080
  LATHE_WORKLOAD_ID    the workload to run
  LATHE_RUNNER_TOKEN   the workload's secret; the kernel never sees it

The kernel gets exactly the environment in the spec. The runner's own messages go to its
stderr, never into the kernel's log. SIGTERM stops the kernel (SIGTERM to its process group,
SIGKILL after the spec's grace period); a second one sends SIGKILL at once.

Exit status:
  the kernel's exit code, or 128+N when signal N ended it (127: it could not be started)
  64   the environment above is incomplete, or an unknown argument
  70   the server refused the token, knows no such workload, or sent an unusable spec
  75   the server stayed unreachable for server_gone_seconds (the kernel is stopped first)
)";

struct RunnerEnvironment {
    std::string url;
    std::string workload_id;
    std::string token;
};

// Descriptors 0-2 closed by whoever started us would be handed out as pipes and sockets, and
// then written over by stray writes to stdout or stderr.
void EnsureStandardStreams() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            ::open("/dev/null", O_RDWR);  // takes the lowest free descriptor: this one
        }
    }
}

std::string Getenv(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

// Takes the token out of the process: the kernel runs as the same user and could otherwise read
// it from /proc/<runner>/environ (which shows the original block even after unsetenv) or from
// the runner's memory.
std::string TakeToken() {
    std::string token;
    if (char* value = std::getenv(std::string(kRunnerTokenVariable).c_str())) {
        token = value;
        std::memset(value, 0, std::strlen(value));
    }
    ::unsetenv(std::string(kRunnerTokenVariable).c_str());
    // Not dumpable: /proc/<pid>/{environ,mem} and ptrace are closed to other processes of the
    // same user. exec resets this, so the kernel itself stays debuggable.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return token;
}

std::expected<RunnerEnvironment, std::string> ReadEnvironment() {
    RunnerEnvironment env;
    env.url = Getenv("LATHE_RUNNER_URL");
    env.workload_id = Getenv("LATHE_WORKLOAD_ID");
    env.token = TakeToken();
    std::string missing;
    for (auto [name, value] :
         {std::pair{"LATHE_RUNNER_URL", &env.url}, std::pair{"LATHE_WORKLOAD_ID", &env.workload_id},
          std::pair{"LATHE_RUNNER_TOKEN", &env.token}}) {
        if (value->empty()) {
            missing += missing.empty() ? name : std::string(", ") + name;
        }
    }
    if (!missing.empty()) {
        return std::unexpected("not set: " + missing +
                               " (a backend starts the runner; see "
                               "`lathe runner --help`)");
    }
    if (!env.url.starts_with("http://") && !env.url.starts_with("https://")) {
        return std::unexpected("LATHE_RUNNER_URL must start with http:// or https://, not '" +
                               env.url + "'");
    }
    while (env.url.ends_with('/')) {
        env.url.pop_back();
    }
    return env;
}

std::string PercentEncode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string encoded;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            encoded.push_back(static_cast<char>(c));
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[c >> 4]);
            encoded.push_back(kHex[c & 15]);
        }
    }
    return encoded;
}

// GET the spec, retrying while the server is unreachable or failing; the runner's exit status
// when there is no spec to run.
std::expected<WorkloadSpec, int> FetchSpec(ServerLink& link,
                                           SignalWatch& signals,
                                           const std::string& workload_id) {
    Exchange& exchange = link.NewExchange();
    const std::int64_t start_ms = MonotonicMs();
    Backoff backoff;
    FailureReport report("fetching the workload spec");
    std::string last_problem;
    std::int64_t retry_at_ms = start_ms;
    while (true) {
        std::int64_t now = MonotonicMs();
        if (now - start_ms > kDefaultServerGoneMs) {
            Say("the server at " + link.base_url() + " has not answered for " +
                std::to_string((now - start_ms) / 1000) + " s" +
                (last_problem.empty() ? "" : " (" + last_problem + ")") + "; giving up");
            return std::unexpected(kExitServerGone);
        }
        if (!exchange.in_flight() && now >= retry_at_ms) {
            if (Status started = link.Start(exchange, "", "", ""); !started) {
                Say("cannot fetch the workload spec: " + started.error().message);
                return std::unexpected(kExitRefused);
            }
        }
        pollfd signal_fd{signals.fd(), POLLIN, 0};
        std::int64_t wake_ms = exchange.in_flight() ? now + 1000 : retry_at_ms;
        wake_ms = std::min(wake_ms, start_ms + kDefaultServerGoneMs + 1);
        int wait_ms = static_cast<int>(std::max<std::int64_t>(wake_ms - now, 0));
        if (Status waited = link.Wait({&signal_fd, 1}, wait_ms); !waited) {
            Say(waited.error().message);
            ::poll(nullptr, 0, 10);
        }
        for (int sig : signals.Drain()) {
            if (sig != SIGCHLD) {
                Say("received " + SignalName(sig) + " before the kernel started; exiting");
                return std::unexpected(128 + sig);
            }
        }
        for (FinishedExchange& done : link.Perform()) {
            const HttpAnswer& answer = done.answer;
            now = MonotonicMs();
            if (answer.status >= 200 && answer.status < 300) {
                Result<WorkloadSpec> spec = ParseWorkloadSpec(answer.body);
                if (!spec) {
                    Say("the server's spec for workload " + workload_id +
                        " is unusable: " + spec.error().message);
                    return std::unexpected(kExitRefused);
                }
                report.Recovered(now);
                return std::move(*spec);
            }
            if (answer.status == 401 || answer.status == 403) {
                Say("the server refused the runner token for workload " + workload_id + " (" +
                    answer.Describe() + ")");
                return std::unexpected(kExitRefused);
            }
            if (answer.status == 404) {
                Say("the server knows no workload " + workload_id + " (" + answer.Describe() + ")");
                return std::unexpected(kExitRefused);
            }
            if (answer.answered() && answer.status < 500 && answer.status != 408 &&
                answer.status != 429) {
                Say("the server refused to give the spec of workload " + workload_id + " (" +
                    answer.Describe() + ")");
                return std::unexpected(kExitRefused);
            }
            last_problem = answer.Describe();
            report.Failed(last_problem, now);
            retry_at_ms = now + backoff.NextMs();
        }
    }
}

}  // namespace

int Main(const std::vector<std::string>& args) {
    for (const std::string& arg : args) {
        if (arg == "--help" || arg == "-h" || arg == "help") {
            std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
            return 0;
        }
        Say("unknown argument '" + arg + "'; see `lathe runner --help`");
        return kExitUsage;
    }
    EnsureStandardStreams();
    std::expected<RunnerEnvironment, std::string> env = ReadEnvironment();
    if (!env) {
        Say(env.error());
        return kExitUsage;
    }
    Result<SignalWatch> signals = SignalWatch::Create();
    if (!signals) {
        Say(signals.error().message);
        return kExitRefused;
    }
    Result<std::unique_ptr<ServerLink>> link = ServerLink::Create(
        env->url + "/api/v2/runner/workloads/" + PercentEncode(env->workload_id), env->token);
    if (!link) {
        Say(link.error().message);
        return kExitRefused;
    }
    std::expected<WorkloadSpec, int> spec = FetchSpec(**link, *signals, env->workload_id);
    if (!spec) {
        return spec.error();
    }
    for (const std::string& adjustment : spec->adjustments) {
        Say(adjustment);
    }
    return Supervise(*spec, **link, *signals);
}

}  // namespace lathe::runner
