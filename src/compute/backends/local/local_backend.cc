// Local backend: launches `lathe runner` in a Sandbox per workload and waits for it on a thread.
#include "compute/backends/local/local_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "compute/backends/local/sandbox.h"
#include "core/embedded.h"
#include "core/log.h"

#include <cerrno>
#include <cstring>

extern const lathe::EmbeddedFile kSdkFiles[];
extern const std::size_t kSdkFilesCount;
extern const unsigned char kLatheWorkerPy[];
extern const std::size_t kLatheWorkerPySize;

namespace lathe::compute::local {
namespace {

namespace fs = std::filesystem;

// Where the runner (this binary) appears inside the sandbox, whatever its host path.
constexpr const char* kRunnerInside = "/home/.lathe/lathe";
// Where the SDK appears (on PYTHONPATH).
constexpr const char* kSdkInside = "/home/.lathe/sdk";
// Where the model worker appears (runtime/python).
constexpr const char* kRuntimeInside = "/home/.lathe/runtime";

std::int64_t HostMemoryMib() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::int64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit) {
        if (key == "MemTotal:") {
            return kib / 1024;
        }
    }
    return 0;
}

// The sandbox user must own what it may change. New uploads are written by the server as root,
// so ownership is brought up to date before each launch (cheap: only entries not yet owned).
void OwnProjectFiles(const fs::path& dir, unsigned uid, unsigned gid) {
    std::error_code ec;
    ::lchown(dir.c_str(), uid, gid);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && (st.st_uid != uid || st.st_gid != gid)) {
            ::lchown(it->path().c_str(), uid, gid);
        }
    }
}

// Writes an embedded file readable by the sandbox user.
void WriteEmbedded(const fs::path& path, const unsigned char* data, std::size_t size,
                   std::error_code& ec) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
        return;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
        ec = std::make_error_code(std::errc::io_error);
        return;
    }
    ::chmod(path.parent_path().c_str(), 0755);
    ::chmod(path.c_str(), 0644);
}

// A build's directories belong to the sandbox user so the build script can add files; the files
// captured in the snapshot stay root's and read-only (they are hard links to shared blobs).
void OwnDirectories(const fs::path& dir, unsigned uid, unsigned gid) {
    std::error_code ec;
    ::lchown(dir.c_str(), uid, gid);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            ::lchown(it->path().c_str(), uid, gid);
        }
    }
}

// Removes what a server process that is gone left in the staging root (after a kill -9).
void SweepStaleStaging(const fs::path& root) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        char* end = nullptr;
        long pid = std::strtol(name.c_str(), &end, 10);
        if (end == name.c_str() || *end != '\0' || pid <= 0 || ::kill(pid, 0) == 0 || errno == EPERM) {
            continue;
        }
        std::error_code inner;
        for (const auto& stage : fs::directory_iterator(entry.path(), inner)) {
            ::umount2(stage.path().c_str(), MNT_DETACH);
        }
        fs::remove_all(entry.path(), inner);
    }
}

}  // namespace

LocalBackend::LocalBackend(LocalBackendOptions options) : options_(std::move(options)) {
    const std::int64_t cores = std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN));
    capacity_.cpu_millicores = std::max<std::int64_t>(0, cores * 1000 - options_.reserve_millicores);
    capacity_.memory_mib = std::max<std::int64_t>(0, HostMemoryMib() - options_.reserve_mib);
    capacity_.gpus = options_.gpus;

    std::error_code ec;
    staging_ = options_.staging_root / std::to_string(::getpid());
    fs::create_directories(staging_, ec);
    if (!ec) {
        SweepStaleStaging(options_.staging_root);
        Cgroup::SweepOrphans();
        ::chmod(options_.staging_root.c_str(), 0711);
        ::chmod(staging_.c_str(), 0711);
        runner_copy_ = staging_ / "lathe";
        fs::copy_file(options_.runner_binary, runner_copy_, fs::copy_options::overwrite_existing, ec);
        ::chmod(runner_copy_.c_str(), 0755);
    }
    if (!ec) {
        // The SDK that workloads import (`import cdsw`) and the model worker, from the copies
        // built into this binary.
        for (std::size_t i = 0; i < kSdkFilesCount && !ec; ++i) {
            WriteEmbedded(staging_ / "sdk" / kSdkFiles[i].path, kSdkFiles[i].data,
                          kSdkFiles[i].size, ec);
        }
        ::chmod((staging_ / "sdk").c_str(), 0755);
    }
    if (!ec) {
        WriteEmbedded(staging_ / "runtime" / "lathe_worker.py", kLatheWorkerPy, kLatheWorkerPySize,
                      ec);
    }
    if (ec) {
        staging_error_ = "cannot prepare " + staging_.string() + " for sandboxes: " + ec.message();
        LogError("local backend unavailable", {{"error", staging_error_}});
    }
}

fs::path LocalBackend::StagingFor(std::int64_t workload_id) const {
    return staging_ / ("w" + std::to_string(workload_id));
}

void LocalBackend::Unstage(std::int64_t workload_id) {
    const fs::path stage = StagingFor(workload_id);
    ::umount2(stage.c_str(), MNT_DETACH);
    ::rmdir(stage.c_str());
}

LocalBackend::~LocalBackend() {
    Shutdown();
    std::error_code ec;
    fs::remove_all(staging_, ec);
}

Resources LocalBackend::Capacity() const { return capacity_; }

Status LocalBackend::Launch(const Workload& w, const std::map<std::string, std::string>& runner_env,
                            ExitFn on_exit) {
    if (!staging_error_.empty()) {
        return MakeError(ErrorCode::kUnavailable, staging_error_);
    }
    std::error_code ec;
    fs::path files;
    if (!w.spec.home_dir.empty()) {
        files = w.spec.home_dir;
        if (!fs::is_directory(files, ec)) {
            return MakeError(ErrorCode::kUnavailable, "the workload's files are missing: " +
                                                          files.string());
        }
        if (!w.spec.home_readonly) {
            OwnDirectories(files, options_.uid, options_.gid);
        }
    } else {
        files = options_.projects_dir / std::to_string(w.project_id) / "files";
        fs::create_directories(files, ec);
        OwnProjectFiles(files, options_.uid, options_.gid);
    }
    const fs::path stage = StagingFor(w.id);
    fs::create_directory(stage, ec);
    if (::mount(files.c_str(), stage.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        int err = errno;
        ::rmdir(stage.c_str());
        return MakeError(ErrorCode::kUnavailable, "cannot stage the project for the sandbox: " +
                                                      std::string(std::strerror(err)));
    }

    const fs::path diag = options_.logs_dir / (std::to_string(w.id) + ".runner.log");
    int diag_fd = ::open(diag.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

    SandboxSpec spec;
    spec.argv = {kRunnerInside, "runner"};
    spec.env = runner_env;
    spec.project_dir = stage;
    spec.project_readonly = w.spec.home_readonly;
    spec.hidden = {options_.data_dir, options_.staging_root};
    spec.readonly_mounts = {{runner_copy_, kRunnerInside},
                            {staging_ / "sdk", kSdkInside},
                            {staging_ / "runtime", kRuntimeInside}};
    spec.uid = options_.uid;
    spec.gid = options_.gid;
    spec.limits = ResourceLimits{w.spec.resources.memory_mib, w.spec.resources.cpu_millicores,
                                 options_.max_pids};
    // Unique per server process: several servers (tests, say) may run workloads with equal ids.
    spec.cgroup_name = std::to_string(::getpid()) + "-w" + std::to_string(w.id);
    spec.stdout_fd = diag_fd;
    auto started = Sandbox::Start(spec);
    if (diag_fd >= 0) {
        ::close(diag_fd);
    }
    if (!started) {
        Unstage(w.id);
        return std::unexpected(started.error());
    }
    std::shared_ptr<Sandbox> sandbox = std::move(*started);
    const std::int64_t id = w.id;
    {
        std::lock_guard lock(mu_);
        running_[id] = sandbox;
    }
    Spawn([this, id, sandbox, on_exit = std::move(on_exit)] {
        ExitReport report;
        auto exit = sandbox->Wait(std::nullopt);
        if (exit && *exit) {
            report.exit_code = (*exit)->exit_code;
            report.signal = (*exit)->signal;
            report.oom_killed = (*exit)->oom_killed;
        } else if (!exit) {
            report.detail = exit.error().message;
        }
        Unstage(id);
        {
            std::lock_guard lock(mu_);
            running_.erase(id);
        }
        on_exit(id, report);
    });
    return {};
}

void LocalBackend::Spawn(std::function<void()> fn) {
    {
        std::lock_guard lock(mu_);
        ++threads_;
    }
    std::thread([this, fn = std::move(fn)] {
        fn();
        std::lock_guard lock(mu_);
        if (--threads_ == 0) {
            threads_done_.notify_all();
        }
    }).detach();
}

void LocalBackend::Stop(std::int64_t workload_id, std::chrono::milliseconds grace) {
    std::shared_ptr<Sandbox> sandbox;
    {
        std::lock_guard lock(mu_);
        auto it = running_.find(workload_id);
        if (it == running_.end()) {
            return;
        }
        sandbox = it->second;
    }
    // Stop blocks for the grace period: do it off the caller's thread. The waiter thread reports
    // the exit as usual.
    Spawn([sandbox, grace] { (void)sandbox->Stop(grace); });
}

bool LocalBackend::IsAlive(std::int64_t workload_id) {
    // Sandboxes die with the server that started them (bwrap --die-with-parent), so a workload
    // from an earlier server process is never alive here.
    std::lock_guard lock(mu_);
    return running_.count(workload_id) > 0;
}

void LocalBackend::Shutdown() {
    std::vector<std::shared_ptr<Sandbox>> sandboxes;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, sandbox] : running_) {
            sandboxes.push_back(sandbox);
        }
    }
    for (auto& s : sandboxes) {
        (void)s->Signal(SIGKILL);
    }
    std::unique_lock lock(mu_);
    threads_done_.wait(lock, [this] { return threads_ == 0; });
}

}  // namespace lathe::compute::local
