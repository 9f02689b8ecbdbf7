// `lathe files ...`: listing, uploading, downloading, moving and removing a project's files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <utility>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/terminal.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kFilesHelp = {
    "lathe files ls|put|get|rm|mkdir|mv PROJECT_ID ...",
    "Commands:\n"
    "  ls PROJECT_ID [PATH]                       list a directory (the root by default)\n"
    "  put PROJECT_ID LOCAL_FILE [REMOTE_PATH]    upload a file\n"
    "  get PROJECT_ID REMOTE_PATH [LOCAL_PATH]    download a file, or a directory as a .tar\n"
    "  rm PROJECT_ID REMOTE_PATH                  delete a file or a directory tree\n"
    "  mkdir PROJECT_ID PATH                      create a directory and its parents\n"
    "  mv PROJECT_ID FROM TO                      rename or move a file or directory\n"
    "\n"
    "Paths are relative to the project's root.\n"};

constexpr CommandHelp kLsHelp = {"lathe files ls PROJECT_ID [PATH]",
                                 "Lists a directory of the project (the root by default), or "
                                 "shows one file.\n"};

constexpr CommandHelp kPutHelp = {
    "lathe files put PROJECT_ID LOCAL_FILE [REMOTE_PATH]",
    "Uploads LOCAL_FILE, streaming it. REMOTE_PATH defaults to the file's name in the root;\n"
    "when it names a directory (or ends with '/') the file keeps its name inside it.\n"
    "Parent directories are created.\n"};

constexpr CommandHelp kGetHelp = {
    "lathe files get PROJECT_ID REMOTE_PATH [LOCAL_PATH]",
    "Downloads a file, or a directory as a .tar archive. LOCAL_PATH defaults to the remote\n"
    "name in the current directory (plus .tar for a directory); when it is a directory the\n"
    "download goes inside it; '-' writes to stdout. An existing file is replaced only once the\n"
    "download is complete.\n"};

constexpr CommandHelp kRmHelp = {"lathe files rm PROJECT_ID REMOTE_PATH",
                                 "Deletes a file, or a directory and everything in it.\n"};

constexpr CommandHelp kMkdirHelp = {"lathe files mkdir PROJECT_ID PATH",
                                    "Creates a directory and any missing parents.\n"};

constexpr CommandHelp kMvHelp = {"lathe files mv PROJECT_ID FROM TO",
                                 "Renames or moves a file or directory within the project.\n"};

// "a//b/./c/" -> "a/b/c": users type paths the way their shell lets them, and an empty or "."
// segment means nothing to the server. ".." is kept, for the server to refuse.
std::string NormalizeRemotePath(std::string_view path) {
    std::string normalized;
    while (!path.empty()) {
        std::size_t slash = path.find('/');
        std::string_view segment = path.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
        if (segment.empty() || segment == ".") {
            continue;
        }
        if (!normalized.empty()) {
            normalized += '/';
        }
        normalized += segment;
    }
    return normalized;
}

std::string FilesPath(std::int64_t project, std::string_view remote, std::string_view action = {}) {
    std::string path = "/api/v2/projects/" + std::to_string(project) + "/files";
    if (!remote.empty()) {
        path += "/" + PercentEncode(remote, /*keep_slash=*/true);
    }
    return path + std::string(action);
}

std::string BaseName(std::string_view path) {
    std::size_t slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool IsListing(const Json& answer) {
    return answer.is_object() && answer.contains("files") && answer["files"].is_array();
}

std::string EntrySize(const Json& entry) {
    if (Cell(entry, "type") == "directory") {
        return "-";
    }
    auto size = entry.find("size");
    if (size == entry.end() || !size->is_number_unsigned()) {
        return Cell(entry, "size");
    }
    return FormatBytes(size->get<std::uint64_t>());
}

void PrintEntries(const Json& entries, bool show_path) {
    Table table({"TYPE", "SIZE", "MODIFIED", "NAME"});
    for (const Json& entry : entries) {
        std::string type = Cell(entry, "type");
        std::string name = Cell(entry, show_path ? "path" : "name");
        if (type == "directory") {
            name += "/";
        }
        table.AddRow({type == "directory" ? "dir" : type, EntrySize(entry),
                      TimeCell(entry, "modified_at"), name});
    }
    table.Print(std::cout);
}

struct FileArgs {
    Connection connection;
    std::int64_t project;
    std::vector<std::string> positionals;  // after PROJECT_ID
};

// The parsing every files command starts with: its positionals, the project id, a connection.
Result<FileArgs> ParseFileArgs(const Invocation& invocation,
                               std::span<const std::string> words,
                               const CommandHelp& help,
                               std::size_t min_positionals,
                               std::size_t max_positionals) {
    Result<ParsedArgs> args =
        ParseCommandLine(words, {}, UsageLine(help), min_positionals, max_positionals);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> project = ParseId(args->positionals[0], "PROJECT_ID", help);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    std::vector<std::string> rest(args->positionals.begin() + 1, args->positionals.end());
    return FileArgs{std::move(*connection), *project, std::move(rest)};
}

// The temporary file of the download in progress, so Ctrl-C does not leave it behind. A plain
// array because the signal handler may only call async-signal-safe functions such as unlink.
char g_pending_path[4096] = {};

extern "C" void RemovePendingFileAndDie(int signal_number) {
    if (g_pending_path[0] != '\0') {
        unlink(g_pending_path);
    }
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
}

void WatchPendingFile(const std::string& path) {
    if (path.size() >= sizeof g_pending_path) {
        return;  // too long to remember; an interrupted download then leaves it, nothing worse
    }
    std::memcpy(g_pending_path, path.c_str(), path.size() + 1);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
        std::signal(signal_number, RemovePendingFileAndDie);
    }
}

void ForgetPendingFile() {
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
        std::signal(signal_number, SIG_DFL);
    }
    g_pending_path[0] = '\0';
}

// A download's destination is written as a temporary file beside it and renamed into place
// once complete, so a failed or refused download never leaves a truncated file behind nor
// destroys the file it would have replaced.
class PendingFile {
public:
    static Result<std::unique_ptr<PendingFile>> Create(std::filesystem::path destination) {
        std::filesystem::path dir = destination.parent_path();
        std::string pattern =
            (dir / ("." + destination.filename().string() + ".part-XXXXXX")).string();
        int fd = mkstemp(pattern.data());
        if (fd < 0) {
            return Fail(ExitCode::kFailure, "cannot write in " +
                                                (dir.empty() ? std::string(".") : dir.string()) +
                                                ": " + std::strerror(errno));
        }
        // mkstemp makes 0600 files; a downloaded file should look like any other new file.
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
        std::FILE* file = fdopen(fd, "wb");
        if (file == nullptr) {
            int error = errno;
            close(fd);
            unlink(pattern.c_str());
            return Fail(ExitCode::kFailure,
                        "cannot write " + pattern + ": " + std::strerror(error));
        }
        WatchPendingFile(pattern);
        return std::unique_ptr<PendingFile>(
            new PendingFile(std::move(destination), std::move(pattern), file));
    }

    ~PendingFile() {
        if (file_ != nullptr) {
            std::fclose(file_);
            unlink(temp_path_.c_str());
            ForgetPendingFile();
        }
    }

    std::FILE* file() { return file_; }

    Result<void> Commit() {
        std::FILE* file = std::exchange(file_, nullptr);
        // Past this point the temporary file is removed or renamed here, never by the handler.
        ForgetPendingFile();
        if (std::fclose(file) != 0) {
            int error = errno;
            unlink(temp_path_.c_str());
            return Fail(ExitCode::kFailure,
                        "cannot write " + destination_.string() + ": " + std::strerror(error));
        }
        if (std::rename(temp_path_.c_str(), destination_.c_str()) != 0) {
            int error = errno;
            unlink(temp_path_.c_str());
            return Fail(ExitCode::kFailure,
                        "cannot create " + destination_.string() + ": " + std::strerror(error));
        }
        return {};
    }

private:
    PendingFile(std::filesystem::path destination, std::string temp_path, std::FILE* file)
        : destination_(std::move(destination)), temp_path_(std::move(temp_path)), file_(file) {}

    std::filesystem::path destination_;
    std::string temp_path_;
    std::FILE* file_;
};

// Closes an upload's source however the command ends.
struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};

Result<void> Ls(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kLsHelp, 1, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    std::string remote = args->positionals.empty() ? "" : NormalizeRemotePath(args->positionals[0]);
    ApiClient& client = args->connection.client();
    // The first answer tells a directory (a page of entries) from a file (one entry).
    Result<Json> first = client.Call(
        HttpMethod::kGet, FilesPath(args->project, remote) + QueryString({{"page_size", "1000"}}));
    if (!first) {
        return std::unexpected(std::move(first).error());
    }
    if (!IsListing(*first)) {
        if (invocation.global.json) {
            PrintJson(*first);
        } else {
            PrintEntries(Json::array({*first}), /*show_path=*/true);
        }
        return {};
    }
    Json entries = std::move((*first)["files"]);
    std::string token = first->value("next_page_token", "");
    if (!token.empty()) {
        Result<ListPage> rest =
            FetchList(client, FilesPath(args->project, remote), "files",
                      {{"page_size", "1000"}, {"page_token", token}}, /*all_pages=*/true);
        if (!rest) {
            return std::unexpected(std::move(rest).error());
        }
        for (auto& entry : rest->items) {
            entries.push_back(std::move(entry));
        }
    }
    if (invocation.global.json) {
        PrintJson({{"files", entries}, {"next_page_token", ""}});
    } else if (!entries.empty()) {
        PrintEntries(entries, /*show_path=*/false);
    }
    return {};
}

Result<void> Put(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kPutHelp, 2, 3);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::string& local = args->positionals[0];
    std::unique_ptr<std::FILE, FileCloser> source(std::fopen(local.c_str(), "rb"));
    if (!source) {
        return Fail(ExitCode::kFailure, "cannot open " + local + ": " + std::strerror(errno));
    }
    struct stat info {};
    if (fstat(fileno(source.get()), &info) != 0) {
        return Fail(ExitCode::kFailure, "cannot read " + local + ": " + std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) {
        return UsageError(local + " is not a regular file", UsageLine(kPutHelp));
    }
    const std::string name = BaseName(local);
    ApiClient& client = args->connection.client();

    std::string remote;
    if (args->positionals.size() < 2) {
        remote = name;
    } else {
        const std::string& given = args->positionals[1];
        remote = NormalizeRemotePath(given);
        if (remote.empty() || given.ends_with('/')) {
            remote = NormalizeRemotePath(remote + "/" + name);
        } else {
            // Like cp: naming an existing directory puts the file inside it.
            Result<Json> existing =
                client.Call(HttpMethod::kGet,
                            FilesPath(args->project, remote) + QueryString({{"page_size", "1"}}));
            if (existing && IsListing(*existing)) {
                remote += "/" + name;
            } else if (!existing && existing.error().exit_code != ExitCode::kNotFound) {
                return std::unexpected(std::move(existing).error());
            }
        }
    }

    const auto size = static_cast<std::uint64_t>(info.st_size);
    ProgressMeter meter("Uploading " + name, StderrIsTerminal());
    ProgressCallback progress = [&meter](std::uint64_t done, std::uint64_t total) {
        meter.Update(done, total);
    };
    Result<Json> entry =
        client.Upload(FilesPath(args->project, remote), source.get(), size, progress);
    if (!entry) {
        return std::unexpected(std::move(entry).error());
    }
    meter.Finish();
    if (invocation.global.json) {
        PrintJson(*entry);
    } else {
        std::cout << "Uploaded " << local << " to " << remote << " (" << FormatBytes(size)
                  << ").\n";
    }
    return {};
}

Result<void> Get(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kGetHelp, 2, 3);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::string remote = NormalizeRemotePath(args->positionals[0]);
    if (remote.empty()) {
        return UsageError("name a file or directory to download, not the project root",
                          UsageLine(kGetHelp));
    }
    ApiClient& client = args->connection.client();
    // Knowing first whether it is a directory decides the local name (".tar") before any byte
    // arrives, and a missing path is reported without touching the local disk.
    Result<Json> entry = client.Call(
        HttpMethod::kGet, FilesPath(args->project, remote) + QueryString({{"page_size", "1"}}));
    if (!entry) {
        return std::unexpected(std::move(entry).error());
    }
    const bool is_directory = IsListing(*entry) || Cell(*entry, "type") == "directory";
    const std::string default_name = BaseName(remote) + (is_directory ? ".tar" : "");

    const std::string download_path = FilesPath(args->project, remote, ":download");
    ProgressMeter meter("Downloading " + default_name, StderrIsTerminal());
    ProgressCallback progress = [&meter](std::uint64_t done, std::uint64_t total) {
        meter.Update(done, total);
    };

    if (args->positionals.size() > 1 && args->positionals[1] == "-") {
        LATHE_CLI_RETURN_IF_ERROR(client.Download(download_path, stdout, "stdout", progress));
        meter.Finish();
        if (std::fflush(stdout) != 0) {
            return Fail(ExitCode::kFailure,
                        std::string("cannot write stdout: ") + std::strerror(errno));
        }
        return {};
    }

    std::filesystem::path destination = default_name;
    if (args->positionals.size() > 1) {
        const std::string& given = args->positionals[1];
        std::error_code error;
        if (std::filesystem::is_directory(given, error)) {
            destination = std::filesystem::path(given) / default_name;
        } else if (given.ends_with('/')) {
            return Fail(ExitCode::kFailure, "no such directory: " + given);
        } else {
            destination = given;
        }
    }
    Result<std::unique_ptr<PendingFile>> pending = PendingFile::Create(destination);
    if (!pending) {
        return std::unexpected(std::move(pending).error());
    }
    LATHE_CLI_RETURN_IF_ERROR(
        client.Download(download_path, (*pending)->file(), destination.string(), progress));
    const auto bytes = static_cast<std::uint64_t>(std::max<off_t>(0, ftello((*pending)->file())));
    LATHE_CLI_RETURN_IF_ERROR((*pending)->Commit());
    meter.Finish();
    if (invocation.global.json) {
        PrintJson({{"path", remote},
                   {"type", is_directory ? "directory" : "file"},
                   {"local_path", destination.string()},
                   {"bytes", bytes}});
    } else {
        std::cout << "Downloaded " << remote << (is_directory ? "/" : "") << " to "
                  << destination.string() << " (" << FormatBytes(bytes) << ").\n";
    }
    return {};
}

Result<void> Rm(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kRmHelp, 2, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::string remote = NormalizeRemotePath(args->positionals[0]);
    if (remote.empty()) {
        return UsageError("refusing to delete the project root", UsageLine(kRmHelp));
    }
    Result<Json> deleted =
        args->connection.client().Call(HttpMethod::kDelete, FilesPath(args->project, remote));
    if (!deleted) {
        return std::unexpected(std::move(deleted).error());
    }
    if (!invocation.global.json) {
        std::cout << "Removed " << remote << ".\n";
    }
    return {};
}

Result<void> Mkdir(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kMkdirHelp, 2, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::string remote = NormalizeRemotePath(args->positionals[0]);
    if (remote.empty()) {
        return UsageError("name the directory to create", UsageLine(kMkdirHelp));
    }
    Result<Json> entry = args->connection.client().Call(HttpMethod::kPost,
                                                        FilesPath(args->project, remote, ":mkdir"));
    if (!entry) {
        return std::unexpected(std::move(entry).error());
    }
    if (invocation.global.json) {
        PrintJson(*entry);
    } else {
        std::cout << "Created directory " << remote << ".\n";
    }
    return {};
}

Result<void> Mv(const Invocation& invocation, std::span<const std::string> words) {
    Result<FileArgs> args = ParseFileArgs(invocation, words, kMvHelp, 3, 3);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::string from = NormalizeRemotePath(args->positionals[0]);
    const std::string to = NormalizeRemotePath(args->positionals[1]);
    if (from.empty() || to.empty()) {
        return UsageError("the project root cannot be moved or replaced", UsageLine(kMvHelp));
    }
    Json body = {{"path", to}};
    Result<Json> entry =
        args->connection.client().Call(HttpMethod::kPatch, FilesPath(args->project, from), &body);
    if (!entry) {
        return std::unexpected(std::move(entry).error());
    }
    if (invocation.global.json) {
        PrintJson(*entry);
    } else {
        std::cout << "Moved " << from << " to " << to << ".\n";
    }
    return {};
}

}  // namespace

Result<void> RunFiles(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {
        {"ls", &kLsHelp, Ls},    {"list", &kLsHelp, Ls}, {"put", &kPutHelp, Put},
        {"get", &kGetHelp, Get}, {"rm", &kRmHelp, Rm},   {"mkdir", &kMkdirHelp, Mkdir},
        {"mv", &kMvHelp, Mv}};
    return RunAction(invocation, "files", kFilesHelp, kActions);
}

}  // namespace lathe::cli
