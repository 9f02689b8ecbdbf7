// Resource limits for one local workload, enforced with a cgroup (v2 or v1, whichever the host
// delegates) or, when neither is usable, with a weaker RLIMIT_AS.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace lathe::compute::local {

enum class CgroupMode {
    kV2,    // the unified tree has the memory, cpu and pids controllers and is writable
    kV1,    // memory, cpu and pids v1 hierarchies are mounted and writable (hybrid hosts)
    kNone,  // no usable cgroups: memory is limited with RLIMIT_AS only, cpu and pids not at all
};

// 0 means unlimited.
struct ResourceLimits {
    std::int64_t memory_mib = 0;
    std::int64_t cpu_millicores = 0;
    std::int64_t max_pids = 0;
};

// One cgroup per workload, named <mount>/lathe/<name> in each hierarchy it uses. The `lathe`
// parent is created on demand and kept. Movable, not copyable; the destructor kills what is left
// in it and removes it (best effort: failures are logged).
//
// Not thread-safe: its owner (a Sandbox) serialises calls.
class Cgroup {
public:
    // Looks at the mounted hierarchies now (never cached, never hard-coded).
    static CgroupMode Detect();
    // Removes leftover cgroups named "<pid>-..." whose server process <pid> is gone (after a
    // kill -9 the sandboxes died with it, but their empty cgroups stay).
    static void SweepOrphans();
    // Creates the cgroup and writes the limits. `name` is [a-zA-Z0-9_-]+ (at most 128 chars) and
    // must not exist yet. With CgroupMode::kNone this succeeds with a warning in the log.
    static Result<Cgroup> Create(const std::string& name, const ResourceLimits& limits);

    Cgroup(Cgroup&& other) noexcept;
    Cgroup& operator=(Cgroup&& other) noexcept;
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;
    ~Cgroup();

    // Moves `pid` (and, since children inherit it, everything it starts later) into the cgroup;
    // call it before the process execs untrusted code. kNone: applies RLIMIT_AS to `pid`.
    Status AddProcess(pid_t pid);
    // Whether the kernel's OOM killer killed a process in this cgroup (false for kNone).
    bool OomKilled() const;
    // The highest memory use seen, in bytes; 0 when the host does not record it.
    std::int64_t MemoryPeakBytes() const;
    // The processes in the cgroup now (empty for kNone).
    std::vector<pid_t> Processes() const;
    // SIGKILLs every process in it until it is empty (v2: cgroup.kill). Bounded: gives up with an
    // error after a few seconds (e.g. a process stuck in the kernel).
    Status KillAll();
    // KillAll, then removes the directories (retrying while the kernel lets go of the dying
    // processes). Idempotent.
    Status Remove();

    CgroupMode mode() const { return mode_; }
    const std::string& name() const { return name_; }
    // The cgroup's directory in each hierarchy it uses (one for v2, up to three for v1; none for
    // kNone or once removed).
    const std::vector<std::filesystem::path>& directories() const { return dirs_; }

private:
    Cgroup(CgroupMode mode, std::string name, ResourceLimits limits)
        : mode_(mode), name_(std::move(name)), limits_(limits) {}

    CgroupMode mode_;
    std::string name_;
    ResourceLimits limits_;
    std::vector<std::filesystem::path> dirs_;  // every hierarchy's directory, no duplicates
    std::filesystem::path memory_dir_;         // where the memory controller's files are
};

}  // namespace lathe::compute::local
