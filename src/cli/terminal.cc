// Talking to the person at the terminal: hidden password prompts, confirmations, progress lines.
#include "cli/terminal.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/output.h"

namespace lathe::cli {
namespace {

// The terminal state to restore if the user presses Ctrl-C at a hidden prompt; without this the
// shell would be left not echoing what is typed.
int g_tty_fd = -1;
termios g_saved_termios{};

extern "C" void RestoreTerminalAndDie(int signal_number) {
    if (g_tty_fd >= 0) {
        tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_termios);
        static constexpr char kNewline[] = "\n";
        [[maybe_unused]] ssize_t ignored = write(g_tty_fd, kNewline, 1);
    }
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
}

bool WriteAll(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t written = write(fd, text.data(), text.size());
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

// Reads up to a newline (dropped) or end of input; false when nothing at all could be read.
bool ReadLine(int fd, std::string& line) {
    line.clear();
    bool got_any = false;
    char c = 0;
    for (;;) {
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return got_any;
        }
        got_any = true;
        if (c == '\n') {
            return true;
        }
        line.push_back(c);
    }
}

constexpr std::uint64_t kMinBytesWorthShowing = 1024 * 1024;

}  // namespace

bool StdinIsTerminal() {
    return isatty(STDIN_FILENO) == 1;
}
bool StderrIsTerminal() {
    return isatty(STDERR_FILENO) == 1;
}

Result<std::string> PromptOnTerminal(std::string_view prompt, bool hide_input) {
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return UsageError("no terminal to ask for the " +
                          std::string(hide_input ? "password" : "username") +
                          " on: " + std::strerror(errno));
    }
    termios saved{};
    bool echo_off = false;
    if (hide_input && tcgetattr(fd, &saved) == 0) {
        g_saved_termios = saved;
        g_tty_fd = fd;
        std::signal(SIGINT, RestoreTerminalAndDie);
        std::signal(SIGTERM, RestoreTerminalAndDie);
        std::signal(SIGHUP, RestoreTerminalAndDie);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
        echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    WriteAll(fd, prompt);
    std::string line;
    bool ok = ReadLine(fd, line);
    if (echo_off) {
        tcsetattr(fd, TCSAFLUSH, &saved);
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        std::signal(SIGHUP, SIG_DFL);
        g_tty_fd = -1;
    }
    close(fd);
    if (!ok) {
        return UsageError("no input read from the terminal");
    }
    if (line.ends_with('\r')) {
        line.pop_back();
    }
    return line;
}

bool Confirm(std::string_view question) {
    std::cerr << question << " [y/N] " << std::flush;
    std::string answer;
    if (!ReadLine(STDIN_FILENO, answer)) {
        std::cerr << "\n";
        return false;
    }
    std::string_view trimmed = answer;
    while (!trimmed.empty() && (trimmed.back() == '\r' || trimmed.back() == ' ')) {
        trimmed.remove_suffix(1);
    }
    while (!trimmed.empty() && trimmed.front() == ' ') {
        trimmed.remove_prefix(1);
    }
    return trimmed == "y" || trimmed == "Y" || trimmed == "yes" || trimmed == "Yes" ||
           trimmed == "YES";
}

Result<std::string> ReadSecretFromStdin(std::string_view what) {
    std::string text;
    char buffer[4096];
    for (;;) {
        ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return Fail(ExitCode::kFailure, "cannot read the " + std::string(what) +
                                                " from stdin: " + std::strerror(errno));
        }
        if (got == 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(got));
    }
    if (text.ends_with('\n')) {
        text.pop_back();
        if (text.ends_with('\r')) {
            text.pop_back();
        }
    }
    if (text.empty()) {
        return UsageError("no " + std::string(what) + " on stdin");
    }
    return text;
}

ProgressMeter::ProgressMeter(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressMeter::~ProgressMeter() {
    // An interrupted transfer must not leave the cursor at the end of a half-drawn line.
    if (drawn_) {
        std::fputs("\n", stderr);
    }
}

void ProgressMeter::Update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) {
        return;
    }
    last_done_ = done;
    last_total_ = total;
    // Small transfers finish before a progress line could tell anyone anything.
    if (!drawn_ && std::max(done, total) <= kMinBytesWorthShowing) {
        return;
    }
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) {
        return;
    }
    last_draw_ = now;
    Draw(done, total);
}

void ProgressMeter::Finish() {
    if (!enabled_ || !drawn_) {
        return;
    }
    Draw(last_total_ != 0 ? last_total_ : last_done_, last_total_);
    std::fputs("\n", stderr);
    drawn_ = false;
}

void ProgressMeter::Draw(std::uint64_t done, std::uint64_t total) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string line = "\r" + label_ + "  ";
    if (total > 0) {
        line += std::to_string(done * 100 / total) + "%  " + FormatBytes(done) + " / " +
                FormatBytes(total);
    } else {
        line += FormatBytes(done);
    }
    if (seconds > 0.2) {
        line += "  " + FormatBytes(static_cast<std::uint64_t>(done / seconds)) + "/s";
    }
    line += "\x1b[K";  // clear what a longer previous line left behind
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
}

}  // namespace lathe::cli
