// What the commands that wait or follow share.
#include "cli/waiting.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/output.h"

namespace lathe::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void NoteInterrupt(int) {
    g_interrupted = 1;
}

}  // namespace

InterruptWatch::InterruptWatch() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = NoteInterrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a pause ends as soon as Ctrl-C is pressed
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
}

InterruptWatch::~InterruptWatch() {
    if (installed_) {
        sigaction(SIGINT, &previous_, nullptr);
    }
}

bool InterruptWatch::interrupted() const { return g_interrupted != 0; }

[[noreturn]] void DieOfInterrupt() {
    std::cout.flush();
    std::fflush(stdout);
    std::cerr.flush();
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    std::_Exit(128 + SIGINT);
}

void Pause(std::chrono::milliseconds duration) {
    if (g_interrupted != 0) {
        return;
    }
    timespec request{};
    request.tv_sec = static_cast<time_t>(duration.count() / 1000);
    request.tv_nsec = static_cast<long>(duration.count() % 1000) * 1000000L;
    nanosleep(&request, nullptr);  // EINTR ends it early, which is the point
}

std::uint64_t HeaderNumber(const HttpResponse& response,
                           std::string_view name,
                           std::uint64_t fallback) {
    std::string text = response.Header(name);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return fallback;
    }
    return value;
}

Result<Json> ParseEnvironment(const std::vector<std::string>& assignments,
                              const CommandHelp& help) {
    Json environment = Json::object();
    for (const std::string& assignment : assignments) {
        std::size_t eq = assignment.find('=');
        if (eq == std::string::npos || eq == 0) {
            return UsageError("--env needs NAME=VALUE, not '" + assignment + "'", UsageLine(help));
        }
        environment[assignment.substr(0, eq)] = assignment.substr(eq + 1);
    }
    return environment;
}

Result<double> ParsePositiveNumber(std::string_view text,
                                   std::string_view what,
                                   const CommandHelp& help) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value) || value <= 0) {
        return UsageError(
            std::string(what) + " must be a number greater than 0, not '" + std::string(text) + "'",
            UsageLine(help));
    }
    return value;
}

std::string NumberText(const Json& object, std::string_view field) {
    auto it = object.is_object() ? object.find(field) : object.end();
    if (!object.is_object() || it == object.end() || !it->is_number()) {
        return Cell(object, field);
    }
    char text[32];
    std::snprintf(text, sizeof text, "%g", it->get<double>());
    return text;
}

void PrintFields(std::span<const std::pair<const char*, std::string>> fields) {
    std::size_t width = 0;
    for (const auto& [label, value] : fields) {
        width = std::max(width, std::string_view(label).size());
    }
    for (const auto& [label, value] : fields) {
        std::string_view name(label);
        std::cout << name << std::string(width - name.size() + 2, ' ') << value << '\n';
    }
}

}  // namespace lathe::cli
