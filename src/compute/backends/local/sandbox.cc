// Starting, signalling, waiting for and cleaning up bubblewrap sandboxes.
#include "compute/backends/local/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/log.h"

namespace lathe::compute::local {
std::optional<pid_t> ParentPidFromStat(std::istream& stat) {
    // getline, not istreambuf_iterator: a process that exits between the open and the read makes
    // read() fail with ESRCH, which the stream buffer throws as std::ios_failure; getline turns it
    // into a failed read (the iterator let it escape and end the server).
    std::string line;
    if (!std::getline(stat, line)) {
        return std::nullopt;
    }
    // "<pid> (<comm>) <state> <ppid> ...": comm may hold spaces and parentheses.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid) {
        return ppid;
    }
    return std::nullopt;
}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long Start waits for the child to reach exec (it never blocks on anything in between).
constexpr int kExecTimeoutMs = 10000;
constexpr auto kKillTimeout = std::chrono::seconds(10);
constexpr auto kDestructorKillTimeout = std::chrono::seconds(5);
constexpr rlim_t kMaxOpenFiles = 4096;

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) {
            Reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~UniqueFd() { Reset(); }
    int get() const { return fd_; }
    void Reset() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::unexpected<Error> StartError(const std::string& what, int err) {
    return MakeError(ErrorCode::kInternal,
                     "cannot start bwrap: " + what + ": " + std::strerror(err));
}

// A close-on-exec duplicate of `fd` numbered 3 or more, so that the child's dup2 onto 0..2 can
// never clobber another fd it still needs.
Result<UniqueFd> DupAbove2(int fd) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) {
        return StartError("dup", errno);
    }
    return UniqueFd(d);
}

// The steps the child takes between fork and exec; reported to the parent when one fails.
enum class ChildStep {
    kSetsid,
    kStdio,
    kFds,
    kRlimit,
    kSetgroups,
    kSetgid,
    kSetuid,
    kNoNewPrivs,
    kExec
};

const char* ChildStepName(ChildStep step) {
    switch (step) {
        case ChildStep::kSetsid:
            return "setsid";
        case ChildStep::kStdio:
            return "redirecting stdio";
        case ChildStep::kFds:
            return "closing fds";
        case ChildStep::kRlimit:
            return "setrlimit";
        case ChildStep::kSetgroups:
            return "setgroups";
        case ChildStep::kSetgid:
            return "setresgid";
        case ChildStep::kSetuid:
            return "setresuid";
        case ChildStep::kNoNewPrivs:
            return "PR_SET_NO_NEW_PRIVS";
        case ChildStep::kExec:
            return "execve";
    }
    return "?";
}

struct ChildReport {
    int step;
    int err;
};

// Everything the child needs, prepared before fork: after fork in a threaded server the child
// may only make async-signal-safe calls (no allocation, no locks).
struct ChildPlan {
    int go_fd;      // the parent sends one byte once the child is in its cgroup
    int report_fd;  // close-on-exec: EOF means exec succeeded, a ChildReport means it failed
    int stdin_fd;   // /dev/null
    int stdout_fd;  // also stderr
    int max_fd;     // for closing fds when close_range is missing
    uid_t uid;
    gid_t gid;
    const char* path;
    char* const* argv;
    char* const* envp;
};

[[noreturn]] void RunChild(const ChildPlan& p) {
    int report_fd = p.report_fd;
    auto fail = [&report_fd](ChildStep step) {
        ChildReport r{static_cast<int>(step), errno};
        ssize_t ignored = ::write(report_fd, &r, sizeof r);
        (void)ignored;
        ::_exit(127);
    };

    // The server's blocked and ignored signals would otherwise be inherited across exec.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for libc-reserved signals
        }
    }
    if (::setsid() < 0) {
        fail(ChildStep::kSetsid);
    }

    char go = 0;
    ssize_t n;
    do {
        n = ::read(p.go_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        ::_exit(127);  // the parent gave up before the cgroup was joined; it reports why
    }

    if (::dup2(p.stdin_fd, 0) < 0 || ::dup2(p.stdout_fd, 1) < 0 || ::dup2(p.stdout_fd, 2) < 0) {
        fail(ChildStep::kStdio);
    }
    if (report_fd != 3) {
        if (::dup3(report_fd, 3, O_CLOEXEC) < 0) {
            fail(ChildStep::kFds);
        }
        report_fd = 3;
    }
    if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
        for (int fd = 4; fd < p.max_fd; ++fd) {
            ::close(fd);
        }
    }

    struct rlimit no_core {
        0, 0
    };
    struct rlimit files {
        kMaxOpenFiles, kMaxOpenFiles
    };
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0 || ::setrlimit(RLIMIT_NOFILE, &files) != 0) {
        fail(ChildStep::kRlimit);
    }
    // Raw syscalls: glibc's wrappers synchronise credentials across threads, which is neither
    // needed nor safe in a forked child.
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
        fail(ChildStep::kSetgroups);
    }
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) {
        fail(ChildStep::kSetgid);
    }
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) {
        fail(ChildStep::kSetuid);
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fail(ChildStep::kNoNewPrivs);
    }
    ::execve(p.path, p.argv, p.envp);
    fail(ChildStep::kExec);
    ::_exit(127);  // not reached
}

bool HasNul(const std::string& s) {
    return s.find('\0') != std::string::npos;
}

std::unexpected<Error> Invalid(std::string message) {
    return MakeError(ErrorCode::kBadRequest, std::move(message));
}

// The spec's paths after validation, resolved on the host.
struct ResolvedPaths {
    fs::path project;
    std::vector<fs::path> hidden_dirs;
    std::vector<fs::path> hidden_files;
    std::vector<fs::path> readonly_binds;
};

Result<ResolvedPaths> Validate(const SandboxSpec& spec) {
    if (spec.uid == 0 || spec.gid == 0) {
        return Invalid("refusing to run a sandbox as root (uid/gid 0)");
    }
    if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
        return Invalid("the sandboxed command must be an absolute path (argv[0])");
    }
    for (const std::string& a : spec.argv) {
        if (HasNul(a)) {
            return Invalid("a command argument contains a NUL byte");
        }
    }
    for (const auto& [key, value] : spec.env) {
        if (key.empty() || key.find('=') != std::string::npos || HasNul(key) || HasNul(value)) {
            return Invalid("invalid environment variable name '" + key + "'");
        }
    }
    if (spec.stdout_fd >= 0 && ::fcntl(spec.stdout_fd, F_GETFD) < 0) {
        return Invalid("stdout_fd " + std::to_string(spec.stdout_fd) + " is not open");
    }

    ResolvedPaths out;
    std::error_code ec;
    if (spec.project_dir.empty() || !spec.project_dir.is_absolute()) {
        return Invalid("project_dir must be an absolute path");
    }
    out.project = fs::canonical(spec.project_dir, ec);
    if (ec || !fs::is_directory(out.project, ec)) {
        return Invalid("project_dir " + spec.project_dir.string() + " is not a directory");
    }
    for (const fs::path& h : spec.hidden) {
        if (!h.is_absolute() || h.relative_path().empty()) {
            return Invalid("hidden path '" + h.string() + "' must be absolute and not /");
        }
        fs::path resolved = fs::canonical(h, ec);
        if (ec) {
            continue;  // nothing there to hide
        }
        if (resolved == "/") {
            return Invalid("hidden path '" + h.string() + "' resolves to /");
        }
        (fs::is_directory(resolved, ec) ? out.hidden_dirs : out.hidden_files).push_back(resolved);
    }
    for (const auto& [host, inside] : spec.readonly_mounts) {
        if (!host.is_absolute() || !fs::exists(host, ec)) {
            return Invalid("read-only mount source " + host.string() + " does not exist");
        }
        fs::path dest(inside);
        if (!dest.is_absolute() || dest.lexically_normal() != dest ||
            (!inside.starts_with("/home/") && !inside.starts_with("/tmp/")) ||
            inside.starts_with(std::string(kSandboxHome) + "/") || inside == kSandboxHome) {
            return Invalid("read-only mount target '" + inside +
                           "' must be a normalized path under /home (not /home/cdsw) or /tmp");
        }
    }
    for (const fs::path& r : spec.readonly_binds) {
        if (!r.is_absolute()) {
            return Invalid("read-only bind '" + r.string() + "' must be an absolute path");
        }
        fs::path resolved = fs::canonical(r, ec);
        if (ec) {
            return Invalid("read-only bind " + r.string() + " does not exist");
        }
        out.readonly_binds.push_back(resolved);
    }
    return out;
}

// The bwrap command line. The order matters: later mounts cover earlier ones, so the host goes
// first, then what hides parts of it, then what is let back in.
std::vector<std::string> BwrapArgs(const SandboxSpec& spec, const ResolvedPaths& paths) {
    std::vector<std::string> a = {
        kBwrapPath,
        // bwrap is not setuid here: it builds a user namespace mapping spec.uid to itself, and
        // --disable-userns stops the workload from nesting another one.
        "--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try"};
    if (!spec.share_network) {
        a.push_back("--unshare-net");
    }
    a.insert(a.end(),
             {"--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/",
              "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/home"});
    for (const fs::path& h : paths.hidden_dirs) {
        a.insert(a.end(), {"--tmpfs", h.string()});
    }
    for (const fs::path& h : paths.hidden_files) {
        a.insert(a.end(), {"--ro-bind", "/dev/null", h.string()});
    }
    for (const fs::path& r : paths.readonly_binds) {
        a.insert(a.end(), {"--ro-bind", r.string(), r.string()});
    }
    a.insert(a.end(), {spec.project_readonly ? "--ro-bind" : "--bind", paths.project.string(),
                       kSandboxHome});
    for (const auto& [host, inside] : spec.readonly_mounts) {
        a.insert(a.end(), {"--ro-bind", host.string(), inside});
    }
    // The tmpfs layers were writable only so bwrap could create mount points in them.
    for (const fs::path& h : paths.hidden_dirs) {
        a.insert(a.end(), {"--remount-ro", h.string()});
    }
    a.insert(a.end(), {"--remount-ro", "/home", "--chdir", kSandboxHome, "--"});
    a.insert(a.end(), spec.argv.begin(), spec.argv.end());
    return a;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (std::string& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

SandboxExit DecodeStatus(int status) {
    SandboxExit e;
    if (WIFEXITED(status)) {
        e.exit_code = WEXITSTATUS(status);
        if (e.exit_code > 128 && e.exit_code <= 128 + 64) {
            e.signal = e.exit_code - 128;  // bwrap's report of a command killed by a signal
        }
    } else if (WIFSIGNALED(status)) {
        e.signal = WTERMSIG(status);  // bwrap itself was killed
        e.exit_code = 128 + e.signal;
    }
    return e;
}

// Every process descending from `root` (not root itself), from /proc. Inside a PID namespace
// orphans are re-parented to the namespace's init, which descends from bwrap, so this is the
// whole workload (minus anything forked while the table is read).
std::vector<pid_t> Descendants(pid_t root) {
    std::unordered_map<pid_t, std::vector<pid_t>> children;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        pid_t pid = 0;
        auto [p, perr] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (perr != std::errc() || p != name.data() + name.size()) {
            continue;
        }
        std::ifstream in(it->path() / "stat");
        if (std::optional<pid_t> ppid = ParentPidFromStat(in)) {
            children[*ppid].push_back(pid);
        }
    }
    std::vector<pid_t> out;
    std::deque<pid_t> queue = {root};
    while (!queue.empty()) {
        pid_t p = queue.front();
        queue.pop_front();
        auto it = children.find(p);
        if (it == children.end()) {
            continue;
        }
        for (pid_t c : it->second) {
            out.push_back(c);
            queue.push_back(c);
        }
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<Sandbox>> Sandbox::Start(const SandboxSpec& spec) {
    ASSIGN_OR_RETURN(ResolvedPaths paths, Validate(spec));
    if (::access(kBwrapPath, X_OK) != 0) {
        return MakeError(ErrorCode::kUnavailable, std::string("cannot start bwrap: ") + kBwrapPath +
                                                      ": " + std::strerror(errno) +
                                                      " (install the bubblewrap package)");
    }
    std::vector<std::string> args = BwrapArgs(spec, paths);
    std::vector<std::string> env;
    for (const auto& [key, value] : spec.env) {
        env.push_back(key + "=" + value);
    }
    std::vector<char*> argv = CStrings(args);
    std::vector<char*> envp = CStrings(env);

    ASSIGN_OR_RETURN(Cgroup cgroup, Cgroup::Create(spec.cgroup_name, spec.limits));

    int null_raw = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_raw < 0) {
        return StartError("/dev/null", errno);
    }
    UniqueFd null_tmp(null_raw);
    ASSIGN_OR_RETURN(UniqueFd null_fd, DupAbove2(null_tmp.get()));
    null_tmp.Reset();
    ASSIGN_OR_RETURN(UniqueFd out_fd,
                     DupAbove2(spec.stdout_fd >= 0 ? spec.stdout_fd : null_fd.get()));
    // The go channel is a socket so that a send to a child that already died cannot SIGPIPE us.
    int go[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
        return StartError("socketpair", errno);
    }
    UniqueFd go_parent_tmp(go[0]), go_child_tmp(go[1]);
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        return StartError("pipe", errno);
    }
    UniqueFd report_read(report[0]), report_write_tmp(report[1]);
    ASSIGN_OR_RETURN(UniqueFd go_parent, DupAbove2(go_parent_tmp.get()));
    ASSIGN_OR_RETURN(UniqueFd go_child, DupAbove2(go_child_tmp.get()));
    ASSIGN_OR_RETURN(UniqueFd report_write, DupAbove2(report_write_tmp.get()));
    go_parent_tmp.Reset();
    go_child_tmp.Reset();
    report_write_tmp.Reset();

    long open_max = ::sysconf(_SC_OPEN_MAX);
    ChildPlan plan{go_child.get(),
                   report_write.get(),
                   null_fd.get(),
                   out_fd.get(),
                   static_cast<int>(std::clamp(open_max, 1024L, 65536L)),
                   spec.uid,
                   spec.gid,
                   kBwrapPath,
                   argv.data(),
                   envp.data()};

    pid_t pid = ::fork();
    if (pid < 0) {
        return StartError("fork", errno);
    }
    if (pid == 0) {
        RunChild(plan);
    }

    go_child.Reset();
    report_write.Reset();
    null_fd.Reset();
    out_fd.Reset();
    auto abandon = [pid] {
        ::kill(pid, SIGKILL);
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    };

    // Into the cgroup before exec, so bwrap and everything it starts is limited from the start.
    if (auto st = cgroup.AddProcess(pid); !st) {
        abandon();
        return MakeError(ErrorCode::kInternal,
                         "cannot start bwrap: cannot join the cgroup: " + st.error().message);
    }
    char byte = 1;
    if (::send(go_parent.get(), &byte, 1, MSG_NOSIGNAL) != 1) {
        int err = errno;
        abandon();
        return StartError("signalling the child", err);
    }
    go_parent.Reset();

    struct pollfd pfd {
        report_read.get(), POLLIN, 0
    };
    int ready;
    do {
        ready = ::poll(&pfd, 1, kExecTimeoutMs);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        int err = ready < 0 ? errno : ETIMEDOUT;
        abandon();
        return StartError("waiting for exec", err);
    }
    ChildReport r{};
    ssize_t n;
    do {
        n = ::read(report_read.get(), &r, sizeof r);
    } while (n < 0 && errno == EINTR);
    if (n != 0) {
        abandon();
        if (n == static_cast<ssize_t>(sizeof r)) {
            std::string what = ChildStepName(static_cast<ChildStep>(r.step));
            if (static_cast<ChildStep>(r.step) == ChildStep::kExec) {
                what += std::string(" ") + kBwrapPath;
            }
            return StartError(what, r.err);
        }
        return StartError("reading the child's report", n < 0 ? errno : EIO);
    }

    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    return std::make_unique<Sandbox>(Token{}, pid, pidfd, std::move(cgroup));
}

Sandbox::Sandbox(Token, pid_t pid, int pidfd, Cgroup cgroup)
    : pid_(pid), pidfd_(pidfd), cgroup_(std::move(cgroup)) {}

Sandbox::~Sandbox() {
    std::lock_guard lock(mu_);
    if (!TryReapLocked()) {
        ::killpg(pid_, SIGKILL);
        for (pid_t p : cgroup_.Processes()) {
            ::kill(p, SIGKILL);
        }
        const auto deadline = Clock::now() + kDestructorKillTimeout;
        while (!TryReapLocked() && Clock::now() < deadline) {
            if (pidfd_ >= 0) {
                struct pollfd pfd {
                    pidfd_, POLLIN, 0
                };
                ::poll(&pfd, 1, 100);
            } else {
                std::this_thread::sleep_for(milliseconds(5));
            }
        }
        if (!exit_) {
            LogWarn("sandbox did not exit after SIGKILL; leaving it", {{"pid", pid_}});
        }
    }
    if (pidfd_ >= 0) {
        ::close(pidfd_);
    }
    // cgroup_'s destructor removes the cgroup if reaping did not.
}

bool Sandbox::TryReapLocked() {
    if (exit_) {
        return true;
    }
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return false;
    }
    SandboxExit e;
    if (r == pid_) {
        e = DecodeStatus(status);
    } else {
        LogWarn("sandbox process was reaped elsewhere; its exit status is unknown",
                {{"pid", pid_}, {"error", std::strerror(errno)}});
    }
    e.oom_killed = cgroup_.OomKilled();
    e.memory_peak_bytes = cgroup_.MemoryPeakBytes();
    if (auto st = cgroup_.Remove(); !st) {
        LogWarn("cannot remove the sandbox's cgroup",
                {{"cgroup", cgroup_.name()}, {"error", st.error().message}});
    }
    exit_ = e;
    return true;
}

Status Sandbox::Signal(int sig) {
    std::lock_guard lock(mu_);
    if (exit_) {
        return MakeError(ErrorCode::kConflict, "the sandbox has already exited");
    }
    // bwrap is not reaped while mu_ is held, so pid_ cannot have been reused.
    if (sig == SIGKILL) {
        ::killpg(pid_, SIGKILL);
        for (pid_t p : cgroup_.Processes()) {
            ::kill(p, SIGKILL);
        }
    }
    for (pid_t p : Descendants(pid_)) {
        ::kill(p, sig);
    }
    return {};
}

Result<std::optional<SandboxExit>> Sandbox::Wait(std::optional<milliseconds> timeout) {
    std::optional<Clock::time_point> deadline;
    if (timeout) {
        deadline = Clock::now() + *timeout;
    }
    while (true) {
        {
            std::lock_guard lock(mu_);
            if (TryReapLocked()) {
                return exit_;
            }
        }
        const auto now = Clock::now();
        if (deadline && now >= *deadline) {
            return std::nullopt;
        }
        int wait_ms = -1;
        if (deadline) {
            auto left = std::chrono::ceil<milliseconds>(*deadline - now).count();
            wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
        }
        if (pidfd_ >= 0) {
            struct pollfd pfd {
                pidfd_, POLLIN, 0
            };
            if (::poll(&pfd, 1, wait_ms) >= 0 || errno == EINTR) {
                continue;
            }
        }
        std::this_thread::sleep_for(wait_ms < 0 ? milliseconds(5)
                                                : std::min(milliseconds(5), milliseconds(wait_ms)));
    }
}

Result<SandboxExit> Sandbox::Stop(milliseconds grace) {
    ASSIGN_OR_RETURN(std::optional<SandboxExit> done, Wait(milliseconds(0)));
    if (done) {
        return *done;
    }
    (void)Signal(SIGTERM);  // fails only when another thread reaped it meanwhile; Wait sees that
    ASSIGN_OR_RETURN(done, Wait(grace));
    if (done) {
        return *done;
    }
    (void)Signal(SIGKILL);
    ASSIGN_OR_RETURN(done, Wait(std::chrono::duration_cast<milliseconds>(kKillTimeout)));
    if (done) {
        return *done;
    }
    return MakeError(ErrorCode::kInternal,
                     "sandbox (bwrap pid " + std::to_string(pid_) + ") did not exit after SIGKILL");
}

}  // namespace lathe::compute::local
