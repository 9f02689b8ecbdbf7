// Per-workload cgroups: detection of the usable hierarchies, limits, OOM/peak accounting, cleanup.
#include "compute/backends/local/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include "core/log.h"

namespace lathe::compute::local {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kParentName = "lathe";
constexpr std::size_t kMaxNameLength = 128;
constexpr std::int64_t kCpuPeriodUs = 100000;
constexpr std::int64_t kMinCpuQuotaUs = 1000;  // the kernel refuses less than 1 ms per period
// How long KillAll and Remove keep trying before they report the cgroup as stuck.
constexpr auto kCleanupDeadline = std::chrono::seconds(3);

std::string ErrnoText(int err) {
    return std::strerror(err);
}

// What the mounted cgroup file systems offer this process right now.
struct Hierarchies {
    CgroupMode mode = CgroupMode::kNone;
    fs::path v2_root;
    fs::path v1_memory, v1_cpu, v1_pids;
};

std::optional<std::string> ReadSmallFile(const fs::path& path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> SplitWords(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find(sep, start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        if (end > start) {
            out.emplace_back(text.substr(start, end - start));
        }
        start = end + 1;
    }
    return out;
}

// mountinfo escapes blanks and backslashes in paths as \ooo.
std::string UnescapeMountPath(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\\' && i + 3 < in.size() &&
            std::all_of(in.begin() + i + 1, in.begin() + i + 4,
                        [](char c) { return c >= '0' && c <= '7'; })) {
            out.push_back(static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 +
                                            (in[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

bool HasWord(const std::vector<std::string>& words, std::string_view w) {
    return std::find(words.begin(), words.end(), w) != words.end();
}

bool Writable(const fs::path& dir) {
    return ::access(dir.c_str(), W_OK) == 0;
}

Hierarchies Probe() {
    Hierarchies h;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // id parent maj:min root mount-point options [optional...] - type source super-options
        std::vector<std::string> f = SplitWords(line, ' ');
        auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) {
            continue;
        }
        const std::string& type = dash[1];
        fs::path mount_point = UnescapeMountPath(f[4]);
        if (type == "cgroup2" && h.v2_root.empty()) {
            auto controllers = ReadSmallFile(mount_point / "cgroup.controllers");
            if (!controllers) {
                continue;
            }
            std::vector<std::string> c = SplitWords(*controllers, ' ');
            for (auto& w : c) {
                w.erase(std::remove(w.begin(), w.end(), '\n'), w.end());
            }
            if (HasWord(c, "memory") && HasWord(c, "cpu") && HasWord(c, "pids") &&
                Writable(mount_point)) {
                h.v2_root = mount_point;
            }
        } else if (type == "cgroup" && Writable(mount_point)) {
            std::vector<std::string> opts = SplitWords(dash[3], ',');
            if (HasWord(opts, "memory") && h.v1_memory.empty()) {
                h.v1_memory = mount_point;
            }
            if (HasWord(opts, "cpu") && h.v1_cpu.empty()) {
                h.v1_cpu = mount_point;
            }
            if (HasWord(opts, "pids") && h.v1_pids.empty()) {
                h.v1_pids = mount_point;
            }
        }
    }
    if (!h.v2_root.empty()) {
        h.mode = CgroupMode::kV2;
    } else if (!h.v1_memory.empty() && !h.v1_cpu.empty() && !h.v1_pids.empty()) {
        h.mode = CgroupMode::kV1;
    }
    return h;
}

// Control files take one value per write(2); a short or failed write is an error.
Status WriteControl(const fs::path& path, std::string_view value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return MakeError(ErrorCode::kInternal,
                         "cannot open " + path.string() + ": " + ErrnoText(errno));
    }
    ssize_t n;
    do {
        n = ::write(fd, value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size())) {
        return MakeError(ErrorCode::kInternal, "cannot write '" + std::string(value) + "' to " +
                                                   path.string() + ": " +
                                                   ErrnoText(n < 0 ? err : EIO));
    }
    return {};
}

// mkdir that accepts an existing directory.
Status EnsureDir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return MakeError(ErrorCode::kInternal,
                         "cannot create cgroup " + dir.string() + ": " + ErrnoText(errno));
    }
    return {};
}

// The value of `key` in a "key value" per line file (memory.events, memory.oom_control).
std::optional<std::int64_t> ReadKeyed(const fs::path& path, std::string_view key) {
    auto text = ReadSmallFile(path);
    if (!text) {
        return std::nullopt;
    }
    for (const std::string& line : SplitWords(*text, '\n')) {
        std::vector<std::string> w = SplitWords(line, ' ');
        if (w.size() == 2 && w[0] == key) {
            std::int64_t v = 0;
            auto [p, ec] = std::from_chars(w[1].data(), w[1].data() + w[1].size(), v);
            if (ec == std::errc()) {
                return v;
            }
        }
    }
    return std::nullopt;
}

std::optional<std::int64_t> ReadNumber(const fs::path& path) {
    auto text = ReadSmallFile(path);
    if (!text) {
        return std::nullopt;
    }
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc()) {
        return std::nullopt;
    }
    return v;
}

// Enables the controllers the workload cgroups need in `dir`'s children (v2 only).
Status EnableV2Controllers(const fs::path& dir) {
    auto enabled = ReadSmallFile(dir / "cgroup.subtree_control");
    std::vector<std::string> have =
        enabled ? SplitWords(*enabled, ' ') : std::vector<std::string>{};
    for (auto& w : have) {
        w.erase(std::remove(w.begin(), w.end(), '\n'), w.end());
    }
    for (std::string_view c : {"+memory", "+cpu", "+pids"}) {
        if (HasWord(have, c.substr(1))) {
            continue;
        }
        auto st = WriteControl(dir / "cgroup.subtree_control", c);
        if (!st) {
            return MakeError(ErrorCode::kInternal,
                             st.error().message +
                                 " (cgroup v2 needs the memory, cpu and pids controllers delegated "
                                 "to the server's cgroup)");
        }
    }
    return {};
}

bool ValidName(const std::string& name) {
    return !name.empty() && name.size() <= kMaxNameLength &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
           });
}

}  // namespace

CgroupMode Cgroup::Detect() {
    return Probe().mode;
}

Result<Cgroup> Cgroup::Create(const std::string& name, const ResourceLimits& limits) {
    if (!ValidName(name)) {
        return MakeError(ErrorCode::kBadRequest,
                         "invalid cgroup name '" + name + "': use 1-128 of [a-zA-Z0-9_-]");
    }
    if (limits.memory_mib < 0 || limits.cpu_millicores < 0 || limits.max_pids < 0) {
        return MakeError(ErrorCode::kBadRequest, "resource limits must not be negative");
    }
    if (limits.memory_mib > (std::int64_t{1} << 40)) {
        return MakeError(ErrorCode::kBadRequest, "memory limit is too large");
    }
    const std::int64_t memory_bytes = limits.memory_mib << 20;
    const std::int64_t cpu_quota_us =
        std::max(kMinCpuQuotaUs, limits.cpu_millicores * kCpuPeriodUs / 1000);

    Hierarchies h = Probe();
    Cgroup cg(h.mode, name, limits);
    if (h.mode == CgroupMode::kNone) {
        LogWarn(
            "no usable cgroups: workload limits are weaker (memory via RLIMIT_AS only, no cpu "
            "or pids limit)",
            {{"cgroup", name}});
        return cg;
    }

    // Makes <hierarchy>/lathe/<name>; a name that exists belongs to another (or a leftover)
    // workload, and sharing it would mix their limits and accounting.
    auto make_child = [&](const fs::path& hierarchy) -> Result<fs::path> {
        fs::path parent = hierarchy / kParentName;
        RETURN_IF_ERROR(EnsureDir(parent));
        if (h.mode == CgroupMode::kV2) {
            RETURN_IF_ERROR(EnableV2Controllers(hierarchy));
            RETURN_IF_ERROR(EnableV2Controllers(parent));
        }
        fs::path dir = parent / name;
        if (std::find(cg.dirs_.begin(), cg.dirs_.end(), dir) != cg.dirs_.end()) {
            return dir;  // co-mounted v1 controllers share one directory
        }
        if (::mkdir(dir.c_str(), 0755) != 0) {
            int err = errno;
            if (err == EEXIST) {
                return MakeError(ErrorCode::kConflict,
                                 "cgroup " + dir.string() +
                                     " already exists (a workload with this name is running or "
                                     "was left behind)");
            }
            return MakeError(ErrorCode::kInternal,
                             "cannot create cgroup " + dir.string() + ": " + ErrnoText(err));
        }
        cg.dirs_.push_back(dir);
        return dir;
    };

    if (h.mode == CgroupMode::kV2) {
        ASSIGN_OR_RETURN(fs::path dir, make_child(h.v2_root));
        cg.memory_dir_ = dir;
        if (limits.memory_mib > 0) {
            RETURN_IF_ERROR(WriteControl(dir / "memory.max", std::to_string(memory_bytes)));
        }
        if (limits.cpu_millicores > 0) {
            RETURN_IF_ERROR(WriteControl(dir / "cpu.max", std::to_string(cpu_quota_us) + " " +
                                                              std::to_string(kCpuPeriodUs)));
        }
        if (limits.max_pids > 0) {
            RETURN_IF_ERROR(WriteControl(dir / "pids.max", std::to_string(limits.max_pids)));
        }
        return cg;
    }

    ASSIGN_OR_RETURN(fs::path memory_dir, make_child(h.v1_memory));
    ASSIGN_OR_RETURN(fs::path cpu_dir, make_child(h.v1_cpu));
    ASSIGN_OR_RETURN(fs::path pids_dir, make_child(h.v1_pids));
    cg.memory_dir_ = memory_dir;
    if (limits.memory_mib > 0) {
        RETURN_IF_ERROR(
            WriteControl(memory_dir / "memory.limit_in_bytes", std::to_string(memory_bytes)));
    }
    if (limits.cpu_millicores > 0) {
        RETURN_IF_ERROR(WriteControl(cpu_dir / "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)));
        RETURN_IF_ERROR(WriteControl(cpu_dir / "cpu.cfs_quota_us", std::to_string(cpu_quota_us)));
    }
    if (limits.max_pids > 0) {
        RETURN_IF_ERROR(WriteControl(pids_dir / "pids.max", std::to_string(limits.max_pids)));
    }
    return cg;
}

Cgroup::Cgroup(Cgroup&& other) noexcept
    : mode_(other.mode_),
      name_(std::move(other.name_)),
      limits_(other.limits_),
      dirs_(std::exchange(other.dirs_, {})),
      memory_dir_(std::exchange(other.memory_dir_, {})) {}

Cgroup& Cgroup::operator=(Cgroup&& other) noexcept {
    if (this != &other) {
        if (auto st = Remove(); !st) {
            LogWarn("cannot remove cgroup", {{"cgroup", name_}, {"error", st.error().message}});
        }
        mode_ = other.mode_;
        name_ = std::move(other.name_);
        limits_ = other.limits_;
        dirs_ = std::exchange(other.dirs_, {});
        memory_dir_ = std::exchange(other.memory_dir_, {});
    }
    return *this;
}

Cgroup::~Cgroup() {
    if (dirs_.empty()) {
        return;
    }
    if (auto st = Remove(); !st) {
        LogWarn("cannot remove cgroup", {{"cgroup", name_}, {"error", st.error().message}});
    }
}

Status Cgroup::AddProcess(pid_t pid) {
    if (mode_ == CgroupMode::kNone) {
        if (limits_.memory_mib <= 0) {
            return {};
        }
        rlim_t bytes = static_cast<rlim_t>(limits_.memory_mib) << 20;
        struct rlimit lim {
            bytes, bytes
        };
        if (::prlimit(pid, RLIMIT_AS, &lim, nullptr) != 0) {
            return MakeError(
                ErrorCode::kInternal,
                "cannot set RLIMIT_AS of pid " + std::to_string(pid) + ": " + ErrnoText(errno));
        }
        return {};
    }
    if (dirs_.empty()) {
        return MakeError(ErrorCode::kInternal, "cgroup " + name_ + " was removed");
    }
    for (const fs::path& dir : dirs_) {
        RETURN_IF_ERROR(WriteControl(dir / "cgroup.procs", std::to_string(pid)));
    }
    return {};
}

bool Cgroup::OomKilled() const {
    if (memory_dir_.empty()) {
        return false;
    }
    auto n = mode_ == CgroupMode::kV2 ? ReadKeyed(memory_dir_ / "memory.events", "oom_kill")
                                      : ReadKeyed(memory_dir_ / "memory.oom_control", "oom_kill");
    return n.value_or(0) > 0;
}

std::int64_t Cgroup::MemoryPeakBytes() const {
    if (memory_dir_.empty()) {
        return 0;
    }
    auto n = mode_ == CgroupMode::kV2 ? ReadNumber(memory_dir_ / "memory.peak")
                                      : ReadNumber(memory_dir_ / "memory.max_usage_in_bytes");
    return n.value_or(0);
}

std::vector<pid_t> Cgroup::Processes() const {
    std::set<pid_t> pids;
    for (const fs::path& dir : dirs_) {
        auto text = ReadSmallFile(dir / "cgroup.procs");
        if (!text) {
            continue;
        }
        for (const std::string& line : SplitWords(*text, '\n')) {
            pid_t pid = 0;
            auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
            if (ec == std::errc() && pid > 0) {
                pids.insert(pid);
            }
        }
    }
    return {pids.begin(), pids.end()};
}

Status Cgroup::KillAll() {
    if (dirs_.empty()) {
        return {};
    }
    if (mode_ == CgroupMode::kV2 && fs::exists(dirs_.front() / "cgroup.kill")) {
        RETURN_IF_ERROR(WriteControl(dirs_.front() / "cgroup.kill", "1"));
    }
    // v1 has no atomic kill: kill what is listed until nothing is (a pids limit bounds a fork
    // bomb, and the sandbox's PID namespace dies with its init anyway). v2 just waits here.
    const auto deadline = Clock::now() + kCleanupDeadline;
    while (true) {
        std::vector<pid_t> pids = Processes();
        if (pids.empty()) {
            return {};
        }
        if (Clock::now() >= deadline) {
            return MakeError(ErrorCode::kInternal, "cgroup " + name_ + " still has " +
                                                       std::to_string(pids.size()) +
                                                       " processes after SIGKILL");
        }
        for (pid_t pid : pids) {
            ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

Status Cgroup::Remove() {
    if (dirs_.empty()) {
        return {};
    }
    RETURN_IF_ERROR(KillAll());
    const auto deadline = Clock::now() + kCleanupDeadline;
    while (true) {
        std::vector<fs::path> left;
        int last_err = 0;
        for (const fs::path& dir : dirs_) {
            if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
                last_err = errno;
                left.push_back(dir);
            }
        }
        dirs_ = std::move(left);
        if (dirs_.empty()) {
            memory_dir_.clear();
            return {};
        }
        // EBUSY while the kernel finishes tearing down killed processes; anything else is final.
        if (last_err != EBUSY || Clock::now() >= deadline) {
            return MakeError(
                ErrorCode::kInternal,
                "cannot remove cgroup " + dirs_.front().string() + ": " + ErrnoText(last_err));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void Cgroup::SweepOrphans() {
    Hierarchies h = Probe();
    std::vector<fs::path> roots;
    if (h.mode == CgroupMode::kV2) {
        roots = {h.v2_root};
    } else if (h.mode == CgroupMode::kV1) {
        roots = {h.v1_memory, h.v1_cpu, h.v1_pids};
    }
    for (const fs::path& root : roots) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(root / kParentName, ec)) {
            const std::string name = entry.path().filename().string();
            char* end = nullptr;
            long pid = std::strtol(name.c_str(), &end, 10);
            if (end == name.c_str() || *end != '-' || pid <= 0 ||
                ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) {
                continue;
            }
            // Its processes may still be dying (they were SIGKILLed with their server): kill
            // what is left and give the kernel a moment to empty the group.
            for (int attempt = 0; attempt < 50 && ::rmdir(entry.path().c_str()) != 0; ++attempt) {
                std::ifstream procs(entry.path() / "cgroup.procs");
                for (pid_t p; procs >> p;) {
                    ::kill(p, SIGKILL);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
    }
}

}  // namespace lathe::compute::local
