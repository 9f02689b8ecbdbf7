// Structured JSON-line logging.
#include "core/log.h"

#include <atomic>
#include <memory>

#include "core/clock.h"

namespace lathe {
namespace {

std::mutex g_sink_mu;
std::shared_ptr<LogSink> g_sink;  // guarded by g_sink_mu
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug: return "debug";
        case LogLevel::kInfo: return "info";
        case LogLevel::kWarn: return "warn";
        case LogLevel::kError: return "error";
    }
    return "info";
}

}  // namespace

std::unique_ptr<LogSink> LogSink::Open(const std::string& path) {
    if (path == "off") {
        return std::unique_ptr<LogSink>(new LogSink(nullptr, false));
    }
    if (path.empty() || path == "-") {
        return std::unique_ptr<LogSink>(new LogSink(stderr, false));
    }
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) {
        return nullptr;
    }
    return std::unique_ptr<LogSink>(new LogSink(f, true));
}

LogSink::~LogSink() {
    if (owned_ && file_ != nullptr) {
        std::fclose(file_);
    }
}

void LogSink::WriteLine(std::string_view line) {
    if (file_ == nullptr) {
        return;
    }
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
}

void SetLogSink(std::unique_ptr<LogSink> sink) {
    std::lock_guard lock(g_sink_mu);
    g_sink = std::move(sink);
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
    for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
        if (text == LevelName(l)) {
            *out = l;
            return true;
        }
    }
    return false;
}

void Log(LogLevel level, std::string_view message, nlohmann::json fields) {
    if (static_cast<int>(level) < g_level.load()) {
        return;
    }
    std::shared_ptr<LogSink> sink;
    {
        std::lock_guard lock(g_sink_mu);
        if (!g_sink) {
            g_sink = LogSink::Open("-");
        }
        sink = g_sink;
    }
    nlohmann::json line = {{"time", FormatTime(SystemClock().NowMs())},
                           {"level", LevelName(level)},
                           {"msg", message}};
    if (fields.is_object()) {
        line.update(fields);
    }
    sink->WriteLine(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace lathe
