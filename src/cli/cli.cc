// Entry point of the `lathe` command-line client: global flags, dispatch, help and exit codes.
#include "cli/cli.h"

#include <curl/curl.h>

#include <cstdlib>
#include <exception>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace lathe::cli {
namespace {

constexpr std::string_view kGeneralHelp =
    "usage: lathe <command> [arguments] [--json] [--url URL]\n"
    "\n"
    "Commands:\n"
    "  login URL          sign in and store an API key for the other commands\n"
    "  logout             revoke the stored API key and forget it\n"
    "  project ...        create, list, show and delete projects\n"
    "  files ...          list, upload, download, move and remove project files\n"
    "  job ...            define jobs, run and stop them, read their logs\n"
    "  model ...          build and deploy models, read their logs, call them\n"
    "  lineage ...        show, search and export the lineage graph\n"
    "  catalog            list the models of every project you can see\n"
    "  key ...            create, list and revoke API keys\n"
    "  server ...         run the Lathe server (see `lathe server --help`)\n"
    "  help [COMMAND]     show help for a command\n"
    "\n"
    "Options (anywhere on the command line):\n"
    "  --json             print the server's JSON instead of tables\n"
    "  --url URL          the server to talk to, instead of the stored login's\n"
    "  -h, --help         show help\n"
    "\n"
    "Environment:\n"
    "  LATHE_URL          the server, unless --url is given\n"
    "  LATHE_API_KEY      an API key to use instead of the stored login\n"
    "  LATHE_CONFIG_DIR   where the login is stored (default ~/.config/lathe)\n"
    "  LATHE_PROJECT      the project of `lathe model` commands, unless --project is given\n"
    "\n"
    "Exit codes: 0 ok, 1 error, 2 usage error, 3 not logged in, 4 not found,\n"
    "5 permission denied.\n";

// libcurl wants one global initialisation before any handle and one cleanup after the last.
class CurlGlobal {
public:
    CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
    ~CurlGlobal() {
        if (ok_) {
            curl_global_cleanup();
        }
    }
    bool ok() const { return ok_; }

private:
    bool ok_;
};

using CommandFunction = Result<void> (*)(const Invocation&);

CommandFunction FindCommand(std::string_view name) {
    if (name == "login") {
        return RunLogin;
    }
    if (name == "logout") {
        return RunLogout;
    }
    if (name == "project" || name == "projects") {
        return RunProject;
    }
    if (name == "files" || name == "file") {
        return RunFiles;
    }
    if (name == "key" || name == "keys") {
        return RunKey;
    }
    if (name == "job" || name == "jobs") {
        return RunJob;
    }
    if (name == "model" || name == "models") {
        return RunModel;
    }
    if (name == "lineage") {
        return RunLineage;
    }
    if (name == "catalog") {
        return RunCatalog;
    }
    return nullptr;
}

Result<void> Run(std::vector<std::string> words) {
    Result<GlobalOptions> global = ExtractGlobalOptions(words);
    if (!global) {
        return std::unexpected(std::move(global).error());
    }
    if (words.empty() || words[0] == "--") {
        if (global->help) {
            std::cout << kGeneralHelp;
            return {};
        }
        return UsageError("missing command", "run `lathe help` for the list of commands");
    }
    std::string command = words[0];
    words.erase(words.begin());
    if (command == "help") {
        // `lathe help project create` is `lathe project create --help`.
        if (words.empty() || FindCommand(words[0]) == nullptr) {
            std::cout << kGeneralHelp;
            return {};
        }
        command = words[0];
        words.erase(words.begin());
        global->help = true;
    }
    CommandFunction run = FindCommand(command);
    if (run == nullptr) {
        return UsageError("unknown command '" + command + "'",
                          "run `lathe help` for the list of commands");
    }
    Result<void> result = run(Invocation{*global, std::move(words)});
    if (!result && result.error().exit_code == ExitCode::kUnauthenticated &&
        result.error().hint.empty() && command != "login" && command != "logout") {
        const char* env_key = std::getenv("LATHE_API_KEY");
        result.error().hint = env_key != nullptr && env_key[0] != '\0'
                                  ? "the server refused the API key in LATHE_API_KEY"
                                  : "run `lathe login URL` to sign in again";
    }
    return result;
}

}  // namespace

void PrintHelp(const CommandHelp& help) {
    std::cout << UsageLine(help) << "\n\n" << help.details;
}

std::string UsageLine(const CommandHelp& help) {
    return "usage: " + std::string(help.synopsis);
}

Result<std::int64_t> ParseId(std::string_view text,
                             std::string_view what,
                             const CommandHelp& help) {
    Result<std::int64_t> id = ParseInteger(text, what, 1, INT64_MAX);
    if (!id) {
        return UsageError(
            std::string(what) + " must be a positive integer, not '" + std::string(text) + "'",
            UsageLine(help));
    }
    return id;
}

Result<void> RunAction(const Invocation& invocation,
                       std::string_view group,
                       const CommandHelp& group_help,
                       std::span<const CommandAction> actions) {
    const std::vector<std::string>& words = invocation.args;
    std::string_view name = words.empty() ? std::string_view() : std::string_view(words[0]);
    for (const CommandAction& action : actions) {
        if (action.name != name) {
            continue;
        }
        if (invocation.global.help) {
            PrintHelp(*action.help);
            return {};
        }
        return action.run(invocation, std::span(words).subspan(1));
    }
    if (invocation.global.help || name == "help") {
        PrintHelp(group_help);
        return {};
    }
    if (name.empty()) {
        return UsageError("missing " + std::string(group) + " command", UsageLine(group_help));
    }
    return UsageError("unknown " + std::string(group) + " command '" + std::string(name) + "'",
                      UsageLine(group_help));
}

bool IsCliCommand(std::string_view name) {
    return name == "login" || name == "logout" || name == "project" || name == "files" ||
           name == "key" || name == "job" || name == "model" || name == "lineage" ||
           name == "catalog";
}

int Main(const std::vector<std::string>& args) {
    CurlGlobal curl;
    if (!curl.ok()) {
        return ReportError({ExitCode::kFailure, "cannot initialise libcurl", ""});
    }
    int code = 0;
    // The backstop: a server answer of an unexpected shape must end in a message, not abort().
    try {
        Result<void> result = Run(args);
        code = result ? 0 : ReportError(result.error());
    } catch (const std::exception& error) {
        code = ReportError({ExitCode::kFailure,
                            std::string("unexpected answer from the server: ") + error.what(), ""});
    }
    std::cout.flush();
    if (!std::cout && code == 0) {
        std::cerr << "error: cannot write to stdout\n";
        code = static_cast<int>(ExitCode::kFailure);
    }
    return code;
}

}  // namespace lathe::cli
