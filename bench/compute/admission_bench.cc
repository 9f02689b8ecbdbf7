// Admission throughput and memory of compute::AdmissionQueue, against a floor: the least work that
// makes the same decisions (a plain vector of the same records and a per-user check, no reasons).
//
// Scenario: N queued workloads (1 vCPU each) spread round-robin over U users, every user's quota
// (1 vCPU) already used by a running workload, so nothing fits. Measured:
//   - one Admit() pass while nothing fits: what every scheduler wake-up costs with that queue;
//   - the quotas raised so that everything fits, then the Admit() call that admits all N;
//   - the memory the queue holds (VmRSS delta from /proc/self/status).
// Each trial runs in a fresh child process, so the RSS delta is not hidden by memory an earlier
// trial freed (this program runs itself again with --trial). One untimed warm-up trial, then
// --repeats trials; the table shows the medians.
//
// Built and run by bench/compute/admission.sh. Progress on stderr; stdout gets one markdown table.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "compute/admission.h"

namespace {

using lathe::compute::AdmissionQueue;
using lathe::compute::QueuedWorkload;
using lathe::compute::Resources;
using Clock = std::chrono::steady_clock;

struct Options {
    int workloads = 10000;
    int users = 100;
    int repeats = 5;
    int passes = 11;  // timed nothing-fits passes per trial; the trial's figure is their median
};

// What one trial measured. Plain data: a child process writes it to a pipe.
struct Trial {
    double blocked_pass_s = 0;  // one Admit() pass that admits nothing, median of --passes
    double admit_all_s = 0;     // the Admit() call(s) that admit all workloads
    long rss_queued_kib = 0;    // VmRSS after enqueueing (and one pass), minus before
    long admitted = 0;
    bool ok = false;
    char error[200] = {};
};

constexpr Resources kRequest{1000, 1024, 0};       // each workload: 1 vCPU, 1 GiB
constexpr Resources kFullQuota{1000, 1 << 20, 0};  // 1 vCPU: used up by the running workload
// The pool is never what blocks: quotas are.
constexpr Resources kCapacity{std::int64_t{1} << 40, std::int64_t{1} << 40, 0};

long VmRssKib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string UserName(int i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "u%03d", i);
    return buf;
}

// The queued workloads, ids users+1.. (ids 1..users are the running ones holding the quotas).
std::vector<QueuedWorkload> Inputs(const Options& o) {
    std::vector<QueuedWorkload> in;
    in.reserve(o.workloads);
    for (int i = 0; i < o.workloads; ++i) {
        in.push_back(
            QueuedWorkload{o.users + 1 + i, UserName(i % o.users), std::nullopt, 0, kRequest});
    }
    return in;
}

Resources RaisedQuota(const Options& o) {
    // The running workload plus every queued one of the user's.
    const std::int64_t per_user = (o.workloads + o.users - 1) / o.users + 1;
    return Resources{per_user * kRequest.cpu_millicores, std::int64_t{1} << 40, 0};
}

void Fail(Trial& t, const std::string& why) {
    std::snprintf(t.error, sizeof(t.error), "%s", why.c_str());
    t.ok = false;
}

// ---------------------------------------------------------------- Lathe: compute::AdmissionQueue

Trial LatheTrial(const Options& o) {
    Trial t;
    const std::vector<QueuedWorkload> in = Inputs(o);
    AdmissionQueue q;
    q.SetCapacity(kCapacity);
    for (int u = 0; u < o.users; ++u) {
        q.SetUserQuota(UserName(u), kFullQuota);
        q.MarkRunning(QueuedWorkload{u + 1, UserName(u), std::nullopt, 0, kRequest});
    }

    const long rss_before = VmRssKib();
    for (const QueuedWorkload& w : in) {
        q.Enqueue(w);
    }
    // The first pass replaces every "waiting to be scheduled" with the quota reason: from then on
    // the queue holds what it holds while users wait.
    if (!q.Admit().empty()) {
        Fail(t, "a workload was admitted although every quota is used");
        return t;
    }
    t.rss_queued_kib = VmRssKib() - rss_before;
    const std::string want =
        "waiting for quota: user " + UserName(0) + " uses 1/1 vCPU and asks for 1";
    if (q.Reason(o.users + 1) != want) {
        Fail(t, "unexpected reason: " + q.Reason(o.users + 1));
        return t;
    }

    std::vector<double> passes;
    for (int p = 0; p < o.passes; ++p) {
        const auto start = Clock::now();
        const auto admitted = q.Admit();
        const auto end = Clock::now();
        if (!admitted.empty()) {
            Fail(t, "a nothing-fits pass admitted a workload");
            return t;
        }
        passes.push_back(Seconds(start, end));
    }
    t.blocked_pass_s = Median(passes);

    const Resources raised = RaisedQuota(o);
    for (int u = 0; u < o.users; ++u) {
        q.SetUserQuota(UserName(u), raised);
    }
    const auto start = Clock::now();
    std::size_t admitted = 0;
    while (q.queued() > 0) {
        const std::size_t n = q.Admit().size();
        if (n == 0) {
            break;
        }
        admitted += n;
    }
    const auto end = Clock::now();
    t.admit_all_s = Seconds(start, end);
    t.admitted = static_cast<long>(admitted);
    if (admitted != in.size()) {
        Fail(t, "admitted " + std::to_string(admitted) + " of " + std::to_string(in.size()));
        return t;
    }
    t.ok = true;
    return t;
}

// ---------------------------------------------------------------- the floor

// The same decisions with the least machinery: the records in arrival order in a vector, used and
// quota per user in hash maps, admitted ones compacted out. No priorities, no capacity order, no
// reasons for those that wait.
class FloorQueue {
public:
    void SetQuota(const std::string& user, const Resources& r) { quota_[user] = r; }
    void MarkRunning(const QueuedWorkload& w) { used_[w.user] += w.request; }
    void Enqueue(const QueuedWorkload& w) { queue_.push_back(w); }
    std::size_t queued() const { return queue_.size(); }

    std::vector<std::int64_t> Admit() {
        std::vector<std::int64_t> admitted;
        std::size_t kept = 0;
        for (std::size_t i = 0; i < queue_.size(); ++i) {
            QueuedWorkload& w = queue_[i];
            Resources& used = used_[w.user];
            if (Resources::Fits(w.request, used, quota_[w.user])) {
                used += w.request;
                admitted.push_back(w.id);
            } else {
                if (kept != i) {
                    queue_[kept] = std::move(w);
                }
                ++kept;
            }
        }
        queue_.resize(kept);
        return admitted;
    }

private:
    std::vector<QueuedWorkload> queue_;
    std::unordered_map<std::string, Resources> quota_;
    std::unordered_map<std::string, Resources> used_;
};

Trial FloorTrial(const Options& o) {
    Trial t;
    const std::vector<QueuedWorkload> in = Inputs(o);
    FloorQueue q;
    for (int u = 0; u < o.users; ++u) {
        q.SetQuota(UserName(u), kFullQuota);
        q.MarkRunning(QueuedWorkload{u + 1, UserName(u), std::nullopt, 0, kRequest});
    }
    const long rss_before = VmRssKib();
    for (const QueuedWorkload& w : in) {
        q.Enqueue(w);
    }
    if (!q.Admit().empty()) {
        Fail(t, "floor: a workload was admitted although every quota is used");
        return t;
    }
    t.rss_queued_kib = VmRssKib() - rss_before;

    std::vector<double> passes;
    for (int p = 0; p < o.passes; ++p) {
        const auto start = Clock::now();
        const auto admitted = q.Admit();
        const auto end = Clock::now();
        if (!admitted.empty()) {
            Fail(t, "floor: a nothing-fits pass admitted a workload");
            return t;
        }
        passes.push_back(Seconds(start, end));
    }
    t.blocked_pass_s = Median(passes);

    const Resources raised = RaisedQuota(o);
    for (int u = 0; u < o.users; ++u) {
        q.SetQuota(UserName(u), raised);
    }
    const auto start = Clock::now();
    const std::size_t admitted = q.Admit().size();
    const auto end = Clock::now();
    t.admit_all_s = Seconds(start, end);
    t.admitted = static_cast<long>(admitted);
    if (admitted != in.size() || q.queued() != 0) {
        Fail(t, "floor: admitted " + std::to_string(admitted) + " of " + std::to_string(in.size()));
        return t;
    }
    t.ok = true;
    return t;
}

// ---------------------------------------------------------------- trials in child processes

// A trial runs in a fresh process: this program again, with --trial; it writes its Trial to fd.
int RunTrial(const std::string& kind, int fd, const Options& o) {
    const Trial t = kind == "lathe" ? LatheTrial(o) : FloorTrial(o);
    const char* p = reinterpret_cast<const char*>(&t);
    std::size_t left = sizeof(t);
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n <= 0) {
            return 1;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return 0;
}

Trial InChild(const char* kind, const Options& o) {
    int fds[2];
    if (::pipe(fds) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    std::fflush(nullptr);
    const std::vector<std::string> args = {"admission_bench",
                                           "--trial",
                                           kind,
                                           "--trial-fd",
                                           std::to_string(fds[1]),
                                           "--workloads",
                                           std::to_string(o.workloads),
                                           "--users",
                                           std::to_string(o.users),
                                           "--passes",
                                           std::to_string(o.passes)};
    std::vector<char*> argv;
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        ::close(fds[0]);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    Trial t;
    char* p = reinterpret_cast<char*>(&t);
    std::size_t got = 0;
    while (got < sizeof(t)) {
        const ssize_t n = ::read(fds[0], p + got, sizeof(t) - got);
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (got != sizeof(t) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "admission_bench: a trial process failed (status %d)\n", status);
        std::exit(1);
    }
    if (!t.ok) {
        std::fprintf(stderr, "admission_bench: %s\n", t.error);
        std::exit(1);
    }
    return t;
}

// ---------------------------------------------------------------- other load on the machine

constexpr double kBusyPct = 10.0;  // other processes over this share of one core: suspect

// user + nice + system seconds of the whole machine, from /proc/stat.
double MachineBusySeconds() {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    long long user = 0, nice = 0, system = 0;
    stat >> cpu >> user >> nice >> system;
    return static_cast<double>(user + nice + system) / ::sysconf(_SC_CLK_TCK);
}

// CPU seconds of this process and its reaped children (the trials).
double OwnSeconds() {
    auto seconds = [](int who) {
        rusage u{};
        ::getrusage(who, &u);
        return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    return seconds(RUSAGE_SELF) + seconds(RUSAGE_CHILDREN);
}

// CPU used by other processes while the trials ran, in % of one core.
class CpuMeter {
public:
    CpuMeter() : start_(Clock::now()), busy_(MachineBusySeconds()), own_(OwnSeconds()) {}
    double OtherPct() const {
        const double wall = Seconds(start_, Clock::now());
        const double other = (MachineBusySeconds() - busy_) - (OwnSeconds() - own_);
        return std::max(0.0, 100.0 * other / wall);
    }

private:
    Clock::time_point start_;
    double busy_, own_;
};

struct Summary {
    double blocked_pass_s, admit_all_s, rss_kib, other_pct;
};

Summary Measure(const char* name, const char* kind, const Options& o) {
    std::fprintf(stderr, "[bench] %s: warm-up trial\n", name);
    InChild(kind, o);
    std::vector<double> blocked, admit, rss;
    const CpuMeter meter;
    for (int r = 0; r < o.repeats; ++r) {
        const Trial t = InChild(kind, o);
        std::fprintf(stderr,
                     "[bench] %s: trial %d/%d: nothing-fits pass %.3f ms, admit all %.3f ms "
                     "(%.0f decisions/s), queue RSS %ld KiB\n",
                     name, r + 1, o.repeats, t.blocked_pass_s * 1e3, t.admit_all_s * 1e3,
                     t.admitted / t.admit_all_s, t.rss_queued_kib);
        blocked.push_back(t.blocked_pass_s);
        admit.push_back(t.admit_all_s);
        rss.push_back(static_cast<double>(t.rss_queued_kib));
    }
    const double other = meter.OtherPct();
    if (other > kBusyPct) {
        std::fprintf(stderr,
                     "[bench]   warning: other processes used %.0f%% of a core during the %s "
                     "trials; the figures are suspect\n",
                     other, name);
    }
    return {Median(blocked), Median(admit), Median(rss), other};
}

std::string Ms(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), s * 1e3 < 1 ? "%.3f ms" : "%.2f ms", s * 1e3);
    return buf;
}

std::string Count(double v) {
    // Thousands separated by commas, as the other benchmarks print rates.
    std::string digits = std::to_string(static_cast<long long>(v + 0.5));
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return out;
}

std::string Ratio(double lathe_cost, double floor_cost) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f×", lathe_cost / floor_cost);
    return buf;
}

std::string MemoryCell(double kib, int workloads) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.2f MiB (%.0f B each)", kib / 1024, kib * 1024 / workloads);
    return buf;
}

int Usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--workloads N] [--users N] [--repeats N] [--passes N]\n"
                 "  --workloads  queued workloads, 1 vCPU each (default 10000)\n"
                 "  --users      users they are spread over, round-robin (default 100)\n"
                 "  --repeats    timed trials, each in a fresh process; medians (default 5)\n"
                 "  --passes     nothing-fits Admit() passes timed per trial (default 11)\n",
                 argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    std::string trial;  // set in a trial's own process: "lathe" or "floor"
    int trial_fd = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--trial" && i + 1 < argc) {
            trial = argv[++i];
            continue;
        }
        int* target = arg == "--workloads"  ? &o.workloads
                      : arg == "--users"    ? &o.users
                      : arg == "--repeats"  ? &o.repeats
                      : arg == "--passes"   ? &o.passes
                      : arg == "--trial-fd" ? &trial_fd
                                            : nullptr;
        if (target == nullptr || i + 1 >= argc) {
            return Usage(argv[0]);
        }
        char* end = nullptr;
        const long v = std::strtol(argv[++i], &end, 10);
        if (*end != '\0' || v < 0 || v > 10'000'000) {
            return Usage(argv[0]);
        }
        *target = static_cast<int>(v);
    }
    if (o.workloads < 1 || o.users < 1 || o.repeats < 1 || o.passes < 1) {
        return Usage(argv[0]);
    }
    if (o.users > o.workloads || o.users > 999) {
        std::fprintf(stderr, "admission_bench: --users must be at most --workloads and 999\n");
        return 2;
    }
    if (!trial.empty()) {
        if ((trial != "lathe" && trial != "floor") || trial_fd < 0) {
            return Usage(argv[0]);
        }
        return RunTrial(trial, trial_fd, o);
    }

    const Summary lathe = Measure("AdmissionQueue", "lathe", o);
    const Summary floor = Measure("floor", "floor", o);

    std::printf(
        "- Queue: %s workloads of 1 vCPU / 1 GiB, round-robin over %d users; each user's quota "
        "(1 vCPU) already used by a running workload; the pool never binds.\n",
        Count(o.workloads).c_str(), o.users);
    std::printf(
        "- Each trial in a fresh process; one warm-up trial, then the median of %d. "
        "Nothing-fits pass: median of %d Admit() calls per trial.\n",
        o.repeats, o.passes);
    std::printf(
        "- Floor: the same records in a std::vector, per-user used/quota in hash maps, "
        "admitted ones compacted out; no priority order, no capacity order, no wait reasons.\n");
    std::printf("- ratio: Lathe's cost in multiples of the floor's (1× is the floor).\n");
    const bool quiet = std::max(lathe.other_pct, floor.other_pct) <= kBusyPct;
    std::printf(
        "- Other processes' CPU during the timed trials: Lathe side %.0f%% of a core, floor side "
        "%.0f%%%s\n\n",
        lathe.other_pct, floor.other_pct,
        quiet ? "." : " — **the machine was busy; rerun on a quiet one.**");
    std::printf("| figure | Lathe | floor | ratio |\n|---|---:|---:|---:|\n");
    std::printf("| Admit() pass when nothing fits (%s waiting) | %s | %s | %s |\n",
                Count(o.workloads).c_str(), Ms(lathe.blocked_pass_s).c_str(),
                Ms(floor.blocked_pass_s).c_str(),
                Ratio(lathe.blocked_pass_s, floor.blocked_pass_s).c_str());
    std::printf("| quotas raised: Admit() that admits all %s | %s | %s | %s |\n",
                Count(o.workloads).c_str(), Ms(lathe.admit_all_s).c_str(),
                Ms(floor.admit_all_s).c_str(), Ratio(lathe.admit_all_s, floor.admit_all_s).c_str());
    std::printf("| admission decisions/s | %s | %s | %s |\n",
                Count(o.workloads / lathe.admit_all_s).c_str(),
                Count(o.workloads / floor.admit_all_s).c_str(),
                Ratio(lathe.admit_all_s, floor.admit_all_s).c_str());
    std::printf("| memory of the queue (RSS delta, %s waiting) | %s | %s | %s |\n",
                Count(o.workloads).c_str(), MemoryCell(lathe.rss_kib, o.workloads).c_str(),
                MemoryCell(floor.rss_kib, o.workloads).c_str(),
                floor.rss_kib > 0 ? Ratio(lathe.rss_kib, floor.rss_kib).c_str() : "n/a");
    return 0;
}
