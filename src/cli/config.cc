// Where the client keeps its login (server URL, username, API key) and how it reads and writes it.
#include "cli/config.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "cli/json.h"

namespace lathe::cli {
namespace {

std::string ErrnoText(int error) {
    return std::strerror(error);
}

std::string EnvOrEmpty(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

std::filesystem::path HomeDirectory() {
    if (std::string home = EnvOrEmpty("HOME"); !home.empty()) {
        return home;
    }
    // Services and `sudo -H`-less setups may run without $HOME; the password database knows.
    if (const passwd* entry = getpwuid(getuid()); entry != nullptr && entry->pw_dir != nullptr) {
        return entry->pw_dir;
    }
    return ".";
}

// Creates `dir` and its missing parents; the directories created here get mode 0700.
Result<void> MakePrivateDirectories(const std::filesystem::path& dir) {
    std::filesystem::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
            return Fail(ExitCode::kFailure,
                        "cannot create " + partial.string() + ": " + ErrnoText(errno));
        }
    }
    struct stat info {};
    if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        return Fail(ExitCode::kFailure, dir.string() + " is not a directory");
    }
    return {};
}

Result<void> WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
    while (!data.empty()) {
        ssize_t written = write(fd, data.data(), data.size());
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written < 0) {
            return Fail(ExitCode::kFailure,
                        "cannot write " + path.string() + ": " + ErrnoText(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
}

}  // namespace

std::filesystem::path ConfigDirectory() {
    if (std::string dir = EnvOrEmpty("LATHE_CONFIG_DIR"); !dir.empty()) {
        return dir;
    }
    if (std::string xdg = EnvOrEmpty("XDG_CONFIG_HOME"); !xdg.empty()) {
        return std::filesystem::path(xdg) / "lathe";
    }
    return HomeDirectory() / ".config" / "lathe";
}

std::filesystem::path ConfigFilePath() {
    return ConfigDirectory() / "config.json";
}

Result<std::optional<StoredLogin>> LoadLogin() {
    const std::filesystem::path path = ConfigFilePath();
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return std::optional<StoredLogin>();
        }
        return Fail(ExitCode::kFailure, "cannot read " + path.string() + ": " + ErrnoText(errno));
    }
    std::string text;
    char buffer[4096];
    for (;;) {
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int error = errno;
            close(fd);
            return Fail(ExitCode::kFailure,
                        "cannot read " + path.string() + ": " + ErrnoText(error));
        }
        if (got == 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(got));
    }
    close(fd);
    Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) {
        return Fail(ExitCode::kFailure, path.string() + " is not a JSON object",
                    "run `lathe login URL` to write it again");
    }
    StoredLogin login;
    auto field = [&doc](const char* name) {
        auto it = doc.find(name);
        return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    login.url = field("url");
    login.username = field("username");
    login.api_key = field("api_key");
    return std::optional<StoredLogin>(std::move(login));
}

Result<void> SaveLogin(const StoredLogin& login) {
    const std::filesystem::path dir = ConfigDirectory();
    LATHE_CLI_RETURN_IF_ERROR(MakePrivateDirectories(dir));
    const std::filesystem::path path = dir / "config.json";
    const std::filesystem::path temp = dir / ("config.json.tmp." + std::to_string(getpid()));

    Json doc = {{"url", login.url}, {"username", login.username}, {"api_key", login.api_key}};
    const std::string text = doc.dump(2) + "\n";

    int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return Fail(ExitCode::kFailure, "cannot create " + temp.string() + ": " + ErrnoText(errno));
    }
    // A leftover temporary file from a crashed run may have other bits; the umask may too.
    Result<void> result =
        fchmod(fd, 0600) == 0
            ? WriteAll(fd, text, temp)
            : Fail(ExitCode::kFailure, "cannot chmod " + temp.string() + ": " + ErrnoText(errno));
    if (result && fsync(fd) != 0) {
        result = Fail(ExitCode::kFailure, "cannot sync " + temp.string() + ": " + ErrnoText(errno));
    }
    if (close(fd) != 0 && result) {
        result =
            Fail(ExitCode::kFailure, "cannot write " + temp.string() + ": " + ErrnoText(errno));
    }
    if (result && rename(temp.c_str(), path.c_str()) != 0) {
        result =
            Fail(ExitCode::kFailure, "cannot replace " + path.string() + ": " + ErrnoText(errno));
    }
    if (!result) {
        unlink(temp.c_str());
    }
    return result;
}

Result<void> RemoveLogin() {
    const std::filesystem::path path = ConfigFilePath();
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Fail(ExitCode::kFailure, "cannot delete " + path.string() + ": " + ErrnoText(errno));
    }
    return {};
}

}  // namespace lathe::cli
