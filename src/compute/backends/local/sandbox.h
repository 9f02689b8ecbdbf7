// Runs one workload's command inside bubblewrap as an unprivileged uid, with the project at
// /home/cdsw, the host read-only, private PID/IPC/UTS namespaces and a per-workload cgroup.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compute/backends/local/cgroups.h"
#include "core/error.h"

namespace lathe::compute::local {

inline constexpr const char* kBwrapPath = "/usr/bin/bwrap";
inline constexpr const char* kSandboxHome = "/home/cdsw";

struct SandboxSpec {
    // argv[0] is an absolute path inside the sandbox; nothing looks up PATH.
    std::vector<std::string> argv;
    // The complete environment of the command: nothing is inherited from the server (bwrap only
    // adds PWD=/home/cdsw).
    std::map<std::string, std::string> env;
    // Bound read-write at /home/cdsw, also the working directory. The caller owns it and must make
    // it writable by `uid` (this module never chowns user data), and every ancestor must be
    // searchable by `uid` (bwrap opens it as that uid), even when the ancestor is `hidden`.
    std::filesystem::path project_dir;
    bool project_readonly = false;  // bound read-only instead (a model replica's build)
    // Host paths made invisible inside: an empty read-only tmpfs over a directory, /dev/null over
    // a file. Paths that do not exist when the sandbox starts are skipped.
    std::vector<std::filesystem::path> hidden;
    // Host paths bound read-only at the same place, even when under a `hidden` path (e.g. the
    // lathe binary in the data dir). Must exist.
    std::vector<std::filesystem::path> readonly_binds;
    // Host paths bound read-only at a new place inside /home or /tmp (e.g. the lathe binary at
    // /home/.lathe/lathe). Like project_dir, their ancestors must be searchable by `uid`.
    std::vector<std::pair<std::filesystem::path, std::string>> readonly_mounts;
    uid_t uid = 8536;  // never 0: Start refuses root
    gid_t gid = 8536;
    bool share_network = true;  // the runner must reach the server on 127.0.0.1
    ResourceLimits limits;
    std::string cgroup_name;  // unique per workload, [a-zA-Z0-9_-]+
    // Where the command's stdout and stderr go (dup'ed; the caller keeps its fd); -1: /dev/null.
    // bwrap's own errors (e.g. a bind that fails) arrive here too. stdin is always /dev/null.
    int stdout_fd = -1;
};

struct SandboxExit {
    // The command's exit status. bwrap reports a command killed by signal N as 128+N, as a shell
    // does, so a code in 129..192 is also reported as `signal` (a command that itself exits 130
    // is indistinguishable from one killed by SIGINT).
    int exit_code = -1;
    int signal = 0;
    bool oom_killed = false;             // the cgroup's OOM killer killed a process in it
    std::int64_t memory_peak_bytes = 0;  // 0 when the host does not record it
};

// One running sandbox. Thread-safe: Wait may block in one thread while another calls Signal or
// Stop. The server must not reap children it did not start (no waitpid(-1) elsewhere).
class Sandbox {
    struct Token {};  // keeps construction to Start

public:
    // Validates the spec, creates the cgroup, forks, puts the child into the cgroup, drops it to
    // spec.uid/gid and execs bwrap. Returns once bwrap runs, or a clear error
    // ("cannot start bwrap: ...") without leaving a process or cgroup behind. Needs root (to
    // switch uid and write cgroups). Forks and may block for a moment (at most ~10 s): call it,
    // like Wait, Stop and the destructor, from a worker thread, never an I/O thread.
    static Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);

    Sandbox(Token, pid_t pid, int pidfd, Cgroup cgroup);
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;
    // Kills what is left (bounded wait) and removes the cgroup.
    ~Sandbox();

    // The bwrap process: leader of its own session and process group.
    pid_t pid() const { return pid_; }
    CgroupMode cgroup_mode() const { return cgroup_.mode(); }

    // Sends `sig` to every process of the workload. bwrap forwards no signals, and one that
    // kills bwrap kills everything inside with SIGKILL, so any signal other than SIGKILL goes to
    // bwrap's descendants (the command and its children) but not to bwrap itself; SIGKILL goes
    // to bwrap's process group and to everything in the cgroup. kConflict once it was reaped.
    Status Signal(int sig);
    // Waits up to `timeout` (nullopt: forever) for the exit; reaps bwrap, reads the OOM and peak
    // memory from the cgroup and removes the cgroup. nullopt while it still runs.
    Result<std::optional<SandboxExit>> Wait(std::optional<std::chrono::milliseconds> timeout);
    // SIGTERM to the workload, SIGKILL after `grace`, then the exit (at most ~10 s more).
    Result<SandboxExit> Stop(std::chrono::milliseconds grace);

private:
    // Reaps bwrap if it has exited; the caller holds mu_.
    bool TryReapLocked();

    const pid_t pid_;
    const int pidfd_;  // -1 when pidfd_open is unavailable: Wait polls instead

    std::mutex mu_;
    Cgroup cgroup_;                    // guarded by mu_
    std::optional<SandboxExit> exit_;  // guarded by mu_; set once bwrap was reaped
};

// The parent pid in a /proc/<pid>/stat stream; nullopt if it can't be read (the process may have
// gone between the open and the read) or parsed.
std::optional<pid_t> ParentPidFromStat(std::istream& stat);

}  // namespace lathe::compute::local
