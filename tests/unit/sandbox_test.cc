// Local sandboxes against the real bubblewrap and the host's real cgroups: isolation, limits,
// signals, exit reporting and cleanup.
#include "compute/backends/local/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "compute/backends/local/cgroups.h"

namespace lathe::compute::local {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr uid_t kUid = 8536;

std::string UniqueName(const std::string& what) {
    static std::atomic<int> counter{0};
    return "test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Why these tests cannot run here, or "" when they can.
std::string SandboxUnavailableReason() {
    if (::access(kBwrapPath, X_OK) != 0) {
        return std::string(kBwrapPath) + " is missing (scripts/install-deps.sh installs it)";
    }
    if (::geteuid() != 0) {
        return "starting sandboxes as another uid needs root";
    }
    return "";
}

#define SKIP_UNLESS_SANDBOX_AVAILABLE()                                   \
    do {                                                                  \
        if (std::string why = SandboxUnavailableReason(); !why.empty()) { \
            GTEST_SKIP() << why;                                          \
        }                                                                 \
    } while (0)

#define SKIP_UNLESS_CGROUPS()                                                              \
    do {                                                                                   \
        if (Cgroup::Detect() == CgroupMode::kNone) {                                       \
            GTEST_SKIP() << "no writable cgroup v1/v2 hierarchies with memory, cpu, pids"; \
        }                                                                                  \
        if (::geteuid() != 0) {                                                            \
            GTEST_SKIP() << "creating cgroups needs root";                                 \
        }                                                                                  \
    } while (0)

std::string ReadFile(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A temporary tree under /var/tmp (not /tmp: the sandbox has its own /tmp, which would hide a
// test's files whether or not `hidden` works). Traversable by the sandbox uid, like a data dir.
class TempTree {
public:
    TempTree() {
        std::string templ = "/var/tmp/lathe-sandbox-test-XXXXXX";
        char* made = ::mkdtemp(templ.data());
        EXPECT_NE(made, nullptr);
        root_ = templ;
        ::chmod(root_.c_str(), 0755);
    }
    ~TempTree() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    // A directory owned by the sandbox uid, as the caller of Start must provide.
    fs::path ProjectDir(const fs::path& rel) {
        fs::path p = root_ / rel;
        fs::create_directories(p);
        for (fs::path q = p; q != root_; q = q.parent_path()) {
            ::chmod(q.c_str(), 0755);
        }
        EXPECT_EQ(::chown(p.c_str(), kUid, kUid), 0);
        return p;
    }
    const fs::path& root() const { return root_; }

private:
    fs::path root_;
};

// Collects what the sandbox writes to its stdout/stderr through a pipe.
class Capture {
public:
    Capture() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        read_fd_ = fds[0];
        write_fd_ = fds[1];
        reader_ = std::thread([this] {
            char buf[4096];
            ssize_t n;
            while ((n = ::read(read_fd_, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
                if (n > 0) {
                    std::lock_guard lock(mu_);
                    text_.append(buf, static_cast<std::size_t>(n));
                }
            }
        });
    }
    ~Capture() {
        CloseWriteEnd();
        // EOF comes once every sandboxed process is gone.
        if (reader_.joinable()) {
            reader_.join();
        }
        ::close(read_fd_);
    }
    int fd() const { return write_fd_; }
    // Start dups the fd; closing ours lets EOF arrive when the sandbox ends.
    void CloseWriteEnd() {
        if (write_fd_ >= 0) {
            ::close(write_fd_);
            write_fd_ = -1;
        }
    }
    std::string Text() {
        std::lock_guard lock(mu_);
        return text_;
    }
    // Everything, once the sandbox has closed its end.
    std::string Finish() {
        CloseWriteEnd();
        if (reader_.joinable()) {
            reader_.join();
        }
        return Text();
    }
    bool WaitFor(const std::string& needle, milliseconds timeout) {
        auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            if (Text().find(needle) != std::string::npos) {
                return true;
            }
            std::this_thread::sleep_for(milliseconds(10));
        }
        return false;
    }

private:
    int read_fd_ = -1;
    int write_fd_ = -1;
    std::mutex mu_;
    std::string text_;
    std::thread reader_;
};

SandboxSpec BaseSpec(const fs::path& project, int stdout_fd, std::vector<std::string> argv) {
    SandboxSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", kSandboxHome}, {"LANG", "C.UTF-8"}};
    spec.project_dir = project;
    spec.cgroup_name = UniqueName("sbx");
    spec.stdout_fd = stdout_fd;
    return spec;
}

std::vector<std::string> Python(const std::string& code) {
    return {"/usr/bin/python3", "-c", code};
}

// Starts the spec, waits up to `timeout` and returns the exit and the output.
struct Finished {
    SandboxExit exit;
    std::string output;
};
Finished RunToEnd(SandboxSpec spec, Capture& out, milliseconds timeout = milliseconds(10000)) {
    auto sandbox = Sandbox::Start(spec);
    EXPECT_TRUE(sandbox.has_value()) << sandbox.error().message;
    if (!sandbox) {
        return {};
    }
    out.CloseWriteEnd();
    auto done = (*sandbox)->Wait(timeout);
    EXPECT_TRUE(done.has_value());
    EXPECT_TRUE(done && done->has_value()) << "still running after " << timeout.count() << " ms";
    Finished f;
    if (done && *done) {
        f.exit = **done;
    }
    sandbox->reset();
    f.output = out.Finish();
    return f;
}

// Where the sandbox with cgroup `name` has its cgroup directories (found with a probe cgroup, so
// the test does not hard-code the host's layout either).
std::vector<fs::path> CgroupDirsFor(const std::string& name) {
    auto probe = Cgroup::Create(UniqueName("probe"), {});
    EXPECT_TRUE(probe.has_value());
    std::vector<fs::path> dirs;
    if (probe) {
        for (const fs::path& d : probe->directories()) {
            dirs.push_back(d.parent_path() / name);
        }
    }
    return dirs;
}

// --- Cgroup -----------------------------------------------------------------------------------

TEST(CgroupTest, CreateWritesTheLimitsIntoTheDetectedHierarchy) {
    SKIP_UNLESS_CGROUPS();
    auto cg = Cgroup::Create(UniqueName("limits"), {64, 200, 32});
    ASSERT_TRUE(cg.has_value()) << cg.error().message;
    ASSERT_EQ(cg->mode(), Cgroup::Detect());
    ASSERT_FALSE(cg->directories().empty());
    std::string memory, cpu, pids;
    for (const fs::path& d : cg->directories()) {
        EXPECT_EQ(d.parent_path().filename(), "lathe");
        if (cg->mode() == CgroupMode::kV2) {
            memory += ReadFile(d / "memory.max");
            cpu += ReadFile(d / "cpu.max");
        } else {
            memory += ReadFile(d / "memory.limit_in_bytes");
            cpu += ReadFile(d / "cpu.cfs_quota_us");
        }
        pids += ReadFile(d / "pids.max");
    }
    EXPECT_NE(memory.find(std::to_string(64 << 20)), std::string::npos) << memory;
    EXPECT_NE(cpu.find("20000"), std::string::npos) << cpu;
    EXPECT_NE(pids.find("32"), std::string::npos) << pids;
    auto dirs = cg->directories();
    ASSERT_TRUE(cg->Remove());
    for (const fs::path& d : dirs) {
        EXPECT_FALSE(fs::exists(d)) << d;
    }
}

TEST(CgroupTest, AddProcessKillAllAndRemove) {
    SKIP_UNLESS_CGROUPS();
    auto cg = Cgroup::Create(UniqueName("kill"), {});
    ASSERT_TRUE(cg.has_value()) << cg.error().message;
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ASSERT_TRUE(cg->AddProcess(child));
    auto procs = cg->Processes();
    EXPECT_NE(std::find(procs.begin(), procs.end(), child), procs.end());
    ASSERT_TRUE(cg->KillAll());
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_TRUE(cg->Processes().empty());
    auto dirs = cg->directories();
    ASSERT_TRUE(cg->Remove());
    ASSERT_TRUE(cg->Remove());  // idempotent
    for (const fs::path& d : dirs) {
        EXPECT_FALSE(fs::exists(d)) << d;
    }
}

TEST(CgroupTest, RejectsBadNamesAndAnExistingCgroup) {
    for (const std::string& bad :
         std::vector<std::string>{"", "a/b", "..", "x y", std::string(129, 'a')}) {
        auto cg = Cgroup::Create(bad, {});
        ASSERT_FALSE(cg.has_value()) << bad;
        EXPECT_EQ(cg.error().code, ErrorCode::kBadRequest);
    }
    EXPECT_FALSE(Cgroup::Create("ok", {-1, 0, 0}).has_value());
    SKIP_UNLESS_CGROUPS();
    std::string name = UniqueName("dup");
    auto first = Cgroup::Create(name, {});
    ASSERT_TRUE(first.has_value()) << first.error().message;
    auto second = Cgroup::Create(name, {});
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, ErrorCode::kConflict);
    // The failed attempt must not have removed the first one's directories.
    for (const fs::path& d : first->directories()) {
        EXPECT_TRUE(fs::exists(d)) << d;
    }
}

TEST(CgroupTest, MovedFromCgroupLeavesTheDirectoriesToItsSuccessor) {
    SKIP_UNLESS_CGROUPS();
    auto cg = Cgroup::Create(UniqueName("move"), {});
    ASSERT_TRUE(cg.has_value()) << cg.error().message;
    std::vector<fs::path> dirs = cg->directories();
    {
        Cgroup moved(std::move(*cg));
        EXPECT_TRUE(cg->directories().empty());
        for (const fs::path& d : dirs) {
            EXPECT_TRUE(fs::exists(d)) << d;
        }
    }
    for (const fs::path& d : dirs) {
        EXPECT_FALSE(fs::exists(d)) << d;
    }
}

// --- Sandbox ----------------------------------------------------------------------------------

TEST(SandboxTest, RunsAsTheUnprivilegedUidInHomeCdsw) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    auto f = RunToEnd(BaseSpec(tree.ProjectDir("p"), out.fd(),
                               Python("import os; print(os.getuid(), os.getcwd())")),
                      out);
    EXPECT_EQ(f.output, "8536 /home/cdsw\n");
    EXPECT_EQ(f.exit.exit_code, 0);
    EXPECT_EQ(f.exit.signal, 0);
    EXPECT_FALSE(f.exit.oom_killed);
}

TEST(SandboxTest, NoServerFdsCapabilitiesOrCoreDumpsLeakIn) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    // An fd the test holds open without close-on-exec must not reach the workload.
    int leaked = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(leaked, 0);
    Capture out;
    auto f = RunToEnd(BaseSpec(tree.ProjectDir("p"), out.fd(),
                               Python("import os, resource\n"
                                      "print(sorted(int(x) for x in os.listdir('/proc/self/fd')))\n"
                                      "print([l.split()[1] for l in open('/proc/self/status') "
                                      "if l.startswith('CapEff')][0])\n"
                                      "print(resource.getrlimit(resource.RLIMIT_CORE), "
                                      "resource.getrlimit(resource.RLIMIT_NOFILE))")),
                      out);
    ::close(leaked);
    // 3 is listdir's own fd.
    EXPECT_EQ(f.output, "[0, 1, 2, 3]\n0000000000000000\n(0, 0) (4096, 4096)\n");
    EXPECT_EQ(f.exit.signal, 0);
    EXPECT_FALSE(f.exit.oom_killed);
}

TEST(SandboxTest, ProjectIsWritableHostIsReadOnlyAndHiddenPathsAreInvisible) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    // The server's layout: projects live inside the data dir, which the sandbox must not see.
    TempTree tree;
    fs::path data = tree.root() / "data";
    fs::path project = tree.ProjectDir("data/projects/p1");
    fs::path sibling = tree.ProjectDir("data/projects/p2");
    std::ofstream(data / "secret") << "token";
    std::ofstream(sibling / "theirs.txt") << "private";
    fs::create_directories(data / "bin");
    ::chmod((data / "bin").c_str(), 0755);
    std::ofstream(data / "bin" / "tool") << "tool-binary";
    ::chmod((data / "bin" / "tool").c_str(), 0755);
    fs::create_directories(tree.root() / "visible");
    ::chmod((tree.root() / "visible").c_str(), 0755);
    std::ofstream(tree.root() / "visible" / "file") << "x";

    const char* script = R"(
import os
def can_write(p):
    try:
        with open(p, 'w') as f:
            f.write('written')
        return True
    except OSError:
        return False
e = os.environ
print('project', can_write('/home/cdsw/out.txt'))
print('etc', can_write('/etc/lathe-probe'))
print('usr', can_write('/usr/lathe-probe'))
print('root', can_write('/lathe-probe'))
print('hidden_dir', can_write(e['DATA'] + '/new'))
print('secret', os.path.exists(e['DATA'] + '/secret'))
print('sibling', os.path.exists(e['SIBLING']))
print('tool', open(e['TOOL']).read())
print('tool_write', can_write(e['TOOL']))
print('control', os.path.exists(e['VISIBLE']))
print('env', sorted(e))
)";
    Capture out;
    SandboxSpec spec = BaseSpec(project, out.fd(), Python(script));
    spec.env["DATA"] = data.string();
    spec.env["SIBLING"] = sibling.string();
    spec.env["TOOL"] = (data / "bin" / "tool").string();
    spec.env["VISIBLE"] = (tree.root() / "visible" / "file").string();
    spec.hidden = {data};
    spec.readonly_binds = {data / "bin" / "tool"};
    auto f = RunToEnd(spec, out);
    EXPECT_EQ(f.exit.exit_code, 0) << f.output;
    EXPECT_EQ(f.output,
              "project True\n"
              "etc False\n"
              "usr False\n"
              "root False\n"
              "hidden_dir False\n"
              "secret False\n"
              "sibling False\n"
              "tool tool-binary\n"
              "tool_write False\n"
              "control True\n"
              // PWD is bwrap's (--chdir); nothing comes from the server's environment.
              "env ['DATA', 'HOME', 'LANG', 'PATH', 'PWD', 'SIBLING', 'TOOL', 'VISIBLE']\n");
    EXPECT_EQ(ReadFile(project / "out.txt"), "written");
    EXPECT_FALSE(fs::exists("/etc/lathe-probe"));
    EXPECT_EQ(ReadFile(data / "bin" / "tool"), "tool-binary");
}

TEST(SandboxTest, PidNamespaceShowsOnlyTheSandboxsProcesses) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    SandboxSpec spec =
        BaseSpec(tree.ProjectDir("p"), out.fd(),
                 Python("import os; pids = [int(d) for d in os.listdir('/proc') if d.isdigit()]; "
                        "print(len(pids), int(os.environ['HOST_PID']) in pids, os.getpid())"));
    spec.env["HOST_PID"] = std::to_string(::getpid());
    auto f = RunToEnd(spec, out);
    int count = 0, own_pid = 0;
    std::string host_pid_visible;
    std::istringstream(f.output) >> count >> host_pid_visible >> own_pid;
    EXPECT_GE(count, 1) << f.output;
    EXPECT_LE(count, 3) << f.output;  // bwrap's init and python
    EXPECT_EQ(host_pid_visible, ::getpid() > 3 ? "False" : host_pid_visible) << f.output;
    EXPECT_LE(own_pid, 3) << f.output;
}

TEST(SandboxTest, IsolatedNetworkHasOnlyLoopback) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    SandboxSpec spec =
        BaseSpec(tree.ProjectDir("p"), out.fd(),
                 Python("import socket; print(sorted(n for _, n in socket.if_nameindex()))"));
    spec.share_network = false;
    auto f = RunToEnd(spec, out);
    EXPECT_EQ(f.output, "['lo']\n");
}

TEST(SandboxTest, MemoryLimitEndsInAnOomKill) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    SandboxSpec spec =
        BaseSpec(tree.ProjectDir("p"), out.fd(), Python("b = bytearray(400 << 20); print('fit')"));
    spec.limits.memory_mib = 64;
    auto f = RunToEnd(spec, out);
    EXPECT_EQ(f.output.find("fit"), std::string::npos);
    EXPECT_TRUE(f.exit.oom_killed || f.exit.exit_code != 0);
    if (Cgroup::Detect() != CgroupMode::kNone) {
        EXPECT_TRUE(f.exit.oom_killed) << f.output;
        EXPECT_EQ(f.exit.signal, SIGKILL);
        EXPECT_GT(f.exit.memory_peak_bytes, 32 << 20);
        EXPECT_LE(f.exit.memory_peak_bytes, 64 << 20);
    }
}

TEST(SandboxTest, PidsLimitContainsAForkBombAndTheCgroupGoesAway) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    SKIP_UNLESS_CGROUPS();
    TempTree tree;
    Capture out;
    SandboxSpec spec =
        BaseSpec(tree.ProjectDir("p"), out.fd(),
                 // The sleep keeps the bomb going until timeout ends it.
                 {"/usr/bin/timeout", "3", "/bin/bash", "-c", ":(){ :|:& };:; sleep 10"});
    spec.limits.max_pids = 32;
    std::vector<fs::path> dirs = CgroupDirsFor(spec.cgroup_name);
    auto start = Clock::now();
    auto sandbox = Sandbox::Start(spec);
    ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
    out.CloseWriteEnd();
    for (const fs::path& d : dirs) {
        EXPECT_TRUE(fs::exists(d)) << d;
    }
    // While it runs, the bomb is held at the limit.
    auto running = (*sandbox)->Wait(milliseconds(1500));
    ASSERT_TRUE(running.has_value());
    EXPECT_FALSE(running->has_value()) << "the fork bomb did not get going";
    for (const fs::path& d : dirs) {
        if (fs::exists(d / "pids.current")) {
            int current = std::stoi(ReadFile(d / "pids.current"));
            EXPECT_GE(current, 16);
            EXPECT_LE(current, 32);
        }
    }
    auto done = (*sandbox)->Wait(milliseconds(12000));
    ASSERT_TRUE(done.has_value());
    ASSERT_TRUE(done->has_value()) << "the fork bomb outlived its timeout";
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(12));
    EXPECT_NE((*done)->exit_code, 0);
    for (const fs::path& d : dirs) {
        EXPECT_FALSE(fs::exists(d)) << d;
    }
    // The test process (outside the limit) can still start processes.
    EXPECT_EQ(std::system("/bin/true"), 0);
    sandbox->reset();
    out.Finish();
}

TEST(SandboxTest, StopSendsSigtermThenSigkillAfterTheGrace) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    auto sandbox = Sandbox::Start(
        BaseSpec(tree.ProjectDir("p"), out.fd(),
                 {"/bin/bash", "-c",
                  "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.05; done"}));
    ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
    out.CloseWriteEnd();
    ASSERT_TRUE(out.WaitFor("ready", milliseconds(5000)));
    auto start = Clock::now();
    auto stopped = (*sandbox)->Stop(milliseconds(800));
    auto took = Clock::now() - start;
    ASSERT_TRUE(stopped.has_value()) << stopped.error().message;
    EXPECT_GE(took, milliseconds(800));
    EXPECT_LT(took, milliseconds(5000));
    EXPECT_EQ(stopped->signal, SIGKILL);
    sandbox->reset();
    EXPECT_NE(out.Finish().find("got TERM"), std::string::npos);
}

TEST(SandboxTest, StopEndsAProcessThatHonoursSigtermWithoutWaitingForTheGrace) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    Capture out;
    auto sandbox = Sandbox::Start(BaseSpec(tree.ProjectDir("p"), out.fd(), {"/bin/sleep", "30"}));
    ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
    out.CloseWriteEnd();
    // Wait until sleep runs inside (bwrap's init and sleep are descendants of bwrap).
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline &&
           std::system(("pgrep -P $(pgrep -P " + std::to_string((*sandbox)->pid()) +
                        ") -x sleep >/dev/null")
                           .c_str()) != 0) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    auto start = Clock::now();
    auto stopped = (*sandbox)->Stop(milliseconds(5000));
    ASSERT_TRUE(stopped.has_value()) << stopped.error().message;
    EXPECT_LT(Clock::now() - start, milliseconds(2000));
    EXPECT_EQ(stopped->signal, SIGTERM);
    // Signalling a reaped sandbox is refused rather than hitting a reused pid.
    auto again = (*sandbox)->Signal(SIGTERM);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST(SandboxTest, CpuLimitThrottlesABusyLoop) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    SKIP_UNLESS_CGROUPS();
    TempTree tree;
    Capture out;
    SandboxSpec spec =
        BaseSpec(tree.ProjectDir("p"), out.fd(),
                 Python("import time\nt = time.time()\nwhile time.time() - t < 1: pass\n"
                        "print(time.process_time())"));
    spec.limits.cpu_millicores = 200;
    auto f = RunToEnd(spec, out);
    ASSERT_EQ(f.exit.exit_code, 0) << f.output;
    double cpu_seconds = std::stod(f.output);
    EXPECT_LT(cpu_seconds, 0.35) << "a 200-millicore workload used " << cpu_seconds
                                 << " s of CPU in 1 s";
    EXPECT_GT(cpu_seconds, 0.05);
}

TEST(SandboxTest, ExitCodesAndSignalDeathsPassThrough) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    fs::path project = tree.ProjectDir("p");
    {
        Capture out;
        auto f = RunToEnd(BaseSpec(project, out.fd(), {"/bin/sh", "-c", "exit 3"}), out);
        EXPECT_EQ(f.exit.exit_code, 3);
        EXPECT_EQ(f.exit.signal, 0);
    }
    {
        Capture out;
        auto f = RunToEnd(BaseSpec(project, out.fd(), {"/bin/sh", "-c", "kill -SEGV $$"}), out);
        EXPECT_EQ(f.exit.signal, SIGSEGV);
        EXPECT_FALSE(f.exit.oom_killed);
    }
    {
        // A missing command is bwrap's error, reported in the output with a failing exit.
        Capture out;
        auto f = RunToEnd(BaseSpec(project, -1, {"/no/such/command"}), out);
        EXPECT_NE(f.exit.exit_code, 0);
    }
}

TEST(SandboxTest, DestroyingASandboxKillsItAndRemovesTheCgroup) {
    SKIP_UNLESS_SANDBOX_AVAILABLE();
    TempTree tree;
    SandboxSpec spec = BaseSpec(tree.ProjectDir("p"), -1, {"/bin/sleep", "30"});
    std::vector<fs::path> dirs = Cgroup::Detect() == CgroupMode::kNone
                                     ? std::vector<fs::path>{}
                                     : CgroupDirsFor(spec.cgroup_name);
    auto sandbox = Sandbox::Start(spec);
    ASSERT_TRUE(sandbox.has_value()) << sandbox.error().message;
    pid_t pid = (*sandbox)->pid();
    for (const fs::path& d : dirs) {
        EXPECT_TRUE(fs::exists(d)) << d;
    }
    auto done = (*sandbox)->Wait(milliseconds(100));
    ASSERT_TRUE(done.has_value());
    EXPECT_FALSE(done->has_value());
    auto start = Clock::now();
    sandbox->reset();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(6));
    for (const fs::path& d : dirs) {
        EXPECT_FALSE(fs::exists(d)) << d;
    }
    EXPECT_NE(::kill(pid, 0), 0);  // reaped, not a zombie
}

TEST(SandboxTest, StartRefusesRootRelativeCommandsAndBadPaths) {
    TempTree tree;
    fs::path project = tree.root();
    auto expect_bad_request = [](SandboxSpec spec, const std::string& needle) {
        auto s = Sandbox::Start(spec);
        ASSERT_FALSE(s.has_value()) << needle;
        EXPECT_EQ(s.error().code, ErrorCode::kBadRequest);
        EXPECT_NE(s.error().message.find(needle), std::string::npos) << s.error().message;
    };
    SandboxSpec root = BaseSpec(project, -1, {"/bin/true"});
    root.uid = 0;
    expect_bad_request(root, "root");
    SandboxSpec root_group = BaseSpec(project, -1, {"/bin/true"});
    root_group.gid = 0;
    expect_bad_request(root_group, "root");
    expect_bad_request(BaseSpec(project, -1, {"python3", "-c", "1"}), "absolute");
    expect_bad_request(BaseSpec(project, -1, {}), "absolute");
    expect_bad_request(BaseSpec(tree.root() / "missing", -1, {"/bin/true"}), "not a directory");
    SandboxSpec bad_bind = BaseSpec(project, -1, {"/bin/true"});
    bad_bind.readonly_binds = {tree.root() / "missing"};
    expect_bad_request(bad_bind, "does not exist");
    SandboxSpec bad_env = BaseSpec(project, -1, {"/bin/true"});
    bad_env.env["A=B"] = "c";
    expect_bad_request(bad_env, "environment");
    SandboxSpec bad_name = BaseSpec(project, -1, {"/bin/true"});
    bad_name.cgroup_name = "../escape";
    auto s = Sandbox::Start(bad_name);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, ErrorCode::kBadRequest);
}

// A process reaped between the open of its /proc stat and the read: the read fails with
// ESRCH, which must be a missing entry, not an exception (it once ended the server while it
// stopped a deployment's replicas).
TEST(ParentPidFromStatTest, AProcessGoneBeforeTheReadIsNoEntryNotAnException) {
    std::ifstream self("/proc/self/stat");
    EXPECT_EQ(ParentPidFromStat(self), getppid());

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    std::ifstream gone("/proc/" + std::to_string(child) + "/stat");
    ASSERT_TRUE(gone.is_open());
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::optional<pid_t> ppid;
    EXPECT_NO_THROW(ppid = ParentPidFromStat(gone));
    EXPECT_FALSE(ppid.has_value());

    std::istringstream odd("42 (a) b) c) S 7 42 42");  // comm with spaces and parentheses
    EXPECT_EQ(ParentPidFromStat(odd), 7);
    std::istringstream junk("not a stat line");
    EXPECT_FALSE(ParentPidFromStat(junk).has_value());
}

}  // namespace
}  // namespace lathe::compute::local
