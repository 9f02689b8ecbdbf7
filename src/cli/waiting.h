// What the commands that wait or follow share (job run --follow, model build --wait, logs -f):
// Ctrl-C handling, pauses, log headers, and the options they all parse (--env, sizes).
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_error.h"
#include "cli/commands.h"
#include "cli/json.h"

namespace lathe::cli {

// Ctrl-C while waiting or following: the handler only notes it, so the loop can stop between
// two requests, with everything received written out. One at a time.
class InterruptWatch {
public:
    InterruptWatch();
    ~InterruptWatch();
    InterruptWatch(const InterruptWatch&) = delete;
    InterruptWatch& operator=(const InterruptWatch&) = delete;

    bool interrupted() const;

private:
    struct sigaction previous_ {};
    bool installed_ = false;
};

// Ends the process as interrupted by Ctrl-C (killed by SIGINT, which a calling shell or
// script loop recognises), once what was received is written out.
[[noreturn]] void DieOfInterrupt();

// Sleeps, unless Ctrl-C comes (or came) first.
void Pause(std::chrono::milliseconds duration);

// A response header as a whole number, or `fallback` when absent or malformed.
std::uint64_t HeaderNumber(const HttpResponse& response,
                           std::string_view name,
                           std::uint64_t fallback);

// "NAME=VALUE" words as the JSON object the API takes for `environment`.
Result<Json> ParseEnvironment(const std::vector<std::string>& assignments,
                              const CommandHelp& help);

// A number > 0 (vCPUs, GiB), else a usage error naming `what`.
Result<double> ParsePositiveNumber(std::string_view text,
                                   std::string_view what,
                                   const CommandHelp& help);

// A number field as the user would write it ("0.5"), else the field as a table cell.
std::string NumberText(const Json& object, std::string_view field);

// "label  value" lines, the values aligned.
void PrintFields(std::span<const std::pair<const char*, std::string>> fields);

}  // namespace lathe::cli
