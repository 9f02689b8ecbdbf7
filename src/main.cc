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

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::fputs(kUsage, args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "server") {
        return lathe::RunServer({args.begin() + 1, args.end()});
    }
    if (lathe::cli::IsCliCommand(args[0])) {
        return lathe::cli::Main(args);
    }
    std::fprintf(stderr, "lathe: unknown command '%s'\n\n%s", args[0].c_str(), kUsage);
    return 2;
}
