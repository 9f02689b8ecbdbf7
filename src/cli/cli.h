// Entry point of the `lathe` command-line client (login, project, files, key, job, model, lineage,
// catalog, logout).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe::cli {

// Runs a client subcommand; args[0] is the subcommand ("login", "project", "files", "key",
// "job", "logout"; "help", "--help" and "-h" print usage). Returns the process exit code: 0 ok,
// 1 server or request error, 2 usage error, 3 not logged in or unauthenticated, 4 not found,
// 5 permission denied. Reads stdin and writes stdout and stderr itself.
int Main(const std::vector<std::string>& args);

// True for the client subcommands above (not for "help").
bool IsCliCommand(std::string_view name);

}  // namespace lathe::cli
