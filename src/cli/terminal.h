// Talking to the person at the terminal: hidden password prompts, confirmations, progress lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/cli_error.h"

namespace lathe::cli {

bool StdinIsTerminal();
bool StderrIsTerminal();

// Prompts on the controlling terminal (not stdin/stdout, which may be redirected) and reads a
// line; with `hide_input`, echo is off while it is typed, as for a password.
Result<std::string> PromptOnTerminal(std::string_view prompt, bool hide_input);

// Asks a yes/no question on stderr and reads the answer from stdin (a terminal); only "y" or
// "yes" is a yes.
bool Confirm(std::string_view question);

// Reads all of stdin, minus one trailing line break (as `echo secret |` adds one).
Result<std::string> ReadSecretFromStdin(std::string_view what);

// A one-line transfer progress display on stderr, redrawn at most ten times a second, for
// transfers over 1 MiB. Disabled meters do nothing, so callers need not check.
class ProgressMeter {
public:
    ProgressMeter(std::string label, bool enabled);
    ~ProgressMeter();
    ProgressMeter(const ProgressMeter&) = delete;
    ProgressMeter& operator=(const ProgressMeter&) = delete;

    void Update(std::uint64_t done, std::uint64_t total);
    // Draws the final state and ends the line.
    void Finish();

private:
    void Draw(std::uint64_t done, std::uint64_t total);

    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
    std::uint64_t last_done_ = 0;
    std::uint64_t last_total_ = 0;
};

}  // namespace lathe::cli
