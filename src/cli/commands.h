// The client's subcommands. Each prints its own output and returns an error for Main to report.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cli/api_client.h"
#include "cli/cli_error.h"
#include "cli/connection.h"

namespace lathe::cli {

Result<void> RunLogin(const Invocation& invocation);
Result<void> RunLogout(const Invocation& invocation);
Result<void> RunProject(const Invocation& invocation);
Result<void> RunFiles(const Invocation& invocation);
Result<void> RunKey(const Invocation& invocation);
Result<void> RunJob(const Invocation& invocation);
Result<void> RunModel(const Invocation& invocation);
Result<void> RunLineage(const Invocation& invocation);
Result<void> RunCatalog(const Invocation& invocation);

// Help for one command: `synopsis` is the usage line, shown alone after a usage error;
// `details` follows it for --help.
struct CommandHelp {
    std::string_view synopsis;
    std::string_view details;
};

// Prints "usage: <synopsis>" and the details to stdout (for --help).
void PrintHelp(const CommandHelp& help);

// "usage: <synopsis>", the hint of a usage error.
std::string UsageLine(const CommandHelp& help);

// One word of a command group ("create" in `lathe project create`).
struct CommandAction {
    std::string_view name;
    const CommandHelp* help;
    Result<void> (*run)(const Invocation& invocation, std::span<const std::string> args);
};

// Runs the action named by the first word of `invocation.args`, or prints help: the action's
// with --help, the group's for `help`, --help or no word at all (then as a usage error).
Result<void> RunAction(const Invocation& invocation,
                       std::string_view group,
                       const CommandHelp& group_help,
                       std::span<const CommandAction> actions);

// The project named by `spec`: its id, its name, or OWNER/NAME, as `--project` takes it.
Result<std::int64_t> FindProject(ApiClient& client, const std::string& spec);

// Parses a positive integer id (project, key, job, run) given on the command line.
Result<std::int64_t> ParseId(std::string_view text, std::string_view what, const CommandHelp& help);

}  // namespace lathe::cli
