// Starting the kernel: fork/exec with its output merged into one pipe.
#include "runner/kernel.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lathe::runner {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

std::vector<char*> NullTerminated(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (std::string& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

Status SetNonBlocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot make a pipe non-blocking: ") + std::strerror(errno));
    }
    return {};
}

// The child's side, between fork and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void RunChild(int output_fd,
                           int status_fd,
                           const char* cwd,
                           const std::vector<char*>& candidates,
                           char* const* argv,
                           char* const* envp) {
    auto fail = [&](ExecFailure::Step step, int error) {
        int record[2] = {static_cast<int>(step), error};
        ssize_t ignored = ::write(status_fd, record, sizeof record);
        (void)ignored;
        ::_exit(127);
    };

    ::setpgid(0, 0);
    // Dispositions and the mask survive exec: the kernel starts with the defaults, whatever the
    // runner blocks or ignores (SIGPIPE, and SIGINT when it was started in the background).
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        ::sigaction(sig, &default_action, nullptr);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0) {
        fail(ExecFailure::Step::kStdin, errno);
    }
    if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(output_fd, STDOUT_FILENO) < 0 ||
        ::dup2(output_fd, STDERR_FILENO) < 0) {
        fail(ExecFailure::Step::kStdin, errno);
    }
    // The status pipe moves to fd 3 (close-on-exec) and every other inherited descriptor closes,
    // so the kernel holds nothing of the runner's: no server sockets, no signalfd.
    if (status_fd != 3) {
        if (::dup2(status_fd, 3) < 0) {
            fail(ExecFailure::Step::kStdin, errno);
        }
        status_fd = 3;
    }
    ::fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    ::close_range(4, ~0U, 0);

    if (cwd[0] != '\0' && ::chdir(cwd) < 0) {
        fail(ExecFailure::Step::kChdir, errno);
    }
    // As execvp: a missing file means try the next directory; "permission denied" is kept in
    // case nothing else is found; any other error stops the search.
    int error = ENOENT;
    bool denied = false;
    for (char* candidate : candidates) {
        if (candidate == nullptr) {
            break;
        }
        ::execve(candidate, argv, envp);
        error = errno;
        if (error == EACCES) {
            denied = true;
        } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
                   error != ETIMEDOUT) {
            break;
        }
    }
    fail(ExecFailure::Step::kExec, denied && error != ENOEXEC ? EACCES : error);
    ::_exit(127);
}

}  // namespace

std::vector<std::string> ExecCandidates(std::string_view argv0, std::string_view path) {
    if (argv0.find('/') != std::string_view::npos) {
        return {std::string(argv0)};
    }
    std::vector<std::string> candidates;
    while (true) {
        std::size_t colon = path.find(':');
        std::string_view dir = path.substr(0, colon);
        std::string candidate(dir.empty() ? "." : dir);
        candidate += '/';
        candidate += argv0;
        candidates.push_back(std::move(candidate));
        if (colon == std::string_view::npos) {
            break;
        }
        path.remove_prefix(colon + 1);
    }
    return candidates;
}

std::string KernelSearchPath(const WorkloadSpec& spec) {
    if (const std::string* entry = spec.EnvValue("PATH")) {
        return entry->substr(5);
    }
    return std::string(kDefaultPath);
}

Result<KernelLaunch> StartKernel(const WorkloadSpec& spec) {
    // Everything the child needs is built before fork: it must not allocate afterwards.
    std::vector<std::string> candidates = ExecCandidates(spec.argv[0], KernelSearchPath(spec));
    std::vector<std::string> argv = spec.argv;
    std::vector<std::string> env = spec.env;
    std::vector<char*> candidate_ptrs = NullTerminated(candidates);
    std::vector<char*> argv_ptrs = NullTerminated(argv);
    std::vector<char*> env_ptrs = NullTerminated(env);

    // Close-on-exec on both ends; dup2 onto 1 and 2 clears it for the child's copies. The
    // kernel's end stays blocking: a full pipe must stop the kernel, not fail its writes.
    int output_pipe[2];
    if (::pipe2(output_pipe, O_CLOEXEC) < 0) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot make the output pipe: ") + std::strerror(errno));
    }
    UniqueFd output_read(output_pipe[0]);
    UniqueFd output_write(output_pipe[1]);
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) < 0) {
        return MakeError(ErrorCode::kInternal,
                         std::string("cannot make the exec-status pipe: ") + std::strerror(errno));
    }
    UniqueFd status_read(status_pipe[0]);
    UniqueFd status_write(status_pipe[1]);
    RETURN_IF_ERROR(SetNonBlocking(output_read.get()));
    RETURN_IF_ERROR(SetNonBlocking(status_read.get()));

    pid_t pid = ::fork();
    if (pid < 0) {
        return MakeError(ErrorCode::kInternal, std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        RunChild(output_write.get(), status_write.get(), spec.cwd.c_str(), candidate_ptrs,
                 argv_ptrs.data(), env_ptrs.data());
    }
    // Also here, so the group exists before the runner may signal it. Once the child has
    // exec'd this fails with EACCES, which is fine: the child did it itself.
    ::setpgid(pid, pid);

    KernelLaunch launch;
    launch.pid = pid;
    launch.output = std::move(output_read);
    launch.exec_status = std::move(status_read);
    return launch;
}

std::optional<ExecFailure> DecodeExecFailure(std::string_view bytes) {
    if (bytes.size() != kExecFailureBytes) {
        return std::nullopt;
    }
    int record[2];
    std::memcpy(record, bytes.data(), sizeof record);
    if (record[0] < 1 || record[0] > 3) {
        return std::nullopt;
    }
    return ExecFailure{static_cast<ExecFailure::Step>(record[0]), record[1]};
}

std::string DescribeExecFailure(const WorkloadSpec& spec, const ExecFailure& failure) {
    std::string reason = std::strerror(failure.error);
    switch (failure.step) {
        case ExecFailure::Step::kStdin:
            return "cannot set up the standard streams: " + reason + "\n";
        case ExecFailure::Step::kChdir:
            return "cannot change to directory " + spec.cwd + ": " + reason + "\n";
        case ExecFailure::Step::kExec:
            break;
    }
    const std::string& name = spec.argv[0];
    if (name.find('/') == std::string::npos && failure.error == ENOENT) {
        return "cannot run " + name + ": not found in PATH (" + KernelSearchPath(spec) + ")\n";
    }
    return "cannot run " + name + ": " + reason + "\n";
}

}  // namespace lathe::runner
