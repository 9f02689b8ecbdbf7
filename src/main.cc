// The `lathe` binary: `lathe server` runs the control plane; everything else is the client.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "server_main.h"

namespace {

constexpr const char* kUsage =
    "Usage: lathe <command> [options]\n\n"
    "Server:\n"
    "  server     run the Lathe server (lathe server --help lists every setting)\n\n"
    "Client (talks to a server over HTTP; start with `lathe login URL`):\n"
    "  login      sign in and store an API key in ~/.config/lathe/\n"
    "  logout     revoke the stored API key and forget it\n"
    "  project    create, list, show, delete projects\n"
    "  files      ls, put, get, rm, mkdir, mv project files\n"
    "  key        create, list, revoke API keys\n\n"
    "Run `lathe <command> --help` for a command's options.\n";

// Client flags may come before the command (`lathe --json project list`): the command is moved
// to the front, everything else keeps its order. Returns false when there is no client command.
bool ReorderClientArgs(std::vector<std::string>& args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--url") {
            ++i;  // its value
            continue;
        }
        if (lathe::cli::IsCliCommand(args[i])) {
            std::string command = args[i];
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
            args.insert(args.begin(), command);
            return true;
        }
        if (!args[i].starts_with("--")) {
            return false;
        }
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        if (args.size() > 1 && args[0] == "help" && lathe::cli::IsCliCommand(args[1])) {
            return lathe::cli::Main({args[1], "--help"});
        }
        if (args.size() > 1 && args[0] == "help" && args[1] == "server") {
            return lathe::RunServer({"--help"});
        }
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (args[0] == "server") {
        return lathe::RunServer({args.begin() + 1, args.end()});
    }
    if (ReorderClientArgs(args)) {
        return lathe::cli::Main(args);
    }
    std::fprintf(stderr, "lathe: unknown command '%s'\n\n%s", args[0].c_str(), kUsage);
    return 2;
}
