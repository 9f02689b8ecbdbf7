// The `lathe` binary: `lathe server` runs the control plane, `lathe runner` supervises a
// workload, everything else is the client.
#include <string>
#include <vector>

#include "cli/cli.h"
#include "runner/runner.h"
#include "server_main.h"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "server") {
        return lathe::RunServer({args.begin() + 1, args.end()});
    }
    if (!args.empty() && args[0] == "runner") {
        return lathe::runner::Main({args.begin() + 1, args.end()});
    }
    if (args.size() >= 2 && args[0] == "help" && args[1] == "server") {
        return lathe::RunServer({"--help"});
    }
    // The client parses its global flags anywhere, and answers `help` and unknown commands.
    return lathe::cli::Main(args);
}
