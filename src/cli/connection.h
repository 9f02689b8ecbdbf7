// How a command finds its server and API key: flags, then environment, then the stored login.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/args.h"
#include "cli/cli_error.h"

namespace lathe::cli {

// What a subcommand runs with: the global flags and the words after the subcommand's name.
struct Invocation {
    GlobalOptions global;
    std::vector<std::string> args;
};

// An authenticated client for the chosen server.
class Connection {
public:
    Connection(std::unique_ptr<ApiClient> client, std::string username);

    ApiClient& client() { return *client_; }
    // The user the key belongs to: from the stored login, or asked of the server once when the
    // key came from $LATHE_API_KEY (whose owner we cannot know otherwise).
    Result<std::string> Username();

private:
    std::unique_ptr<ApiClient> client_;
    std::string username_;
};

// Resolves the server and API key. Not being logged in is ExitCode::kUnauthenticated. A stored
// key is only sent to the server it was made for, never to another --url.
Result<Connection> Connect(const GlobalOptions& global);

// The server URL from --url or $LATHE_URL, if either is given, normalised.
Result<std::string> UrlOverride(const GlobalOptions& global);

}  // namespace lathe::cli
