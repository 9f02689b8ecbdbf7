// Structured logging: one JSON object per line, to stderr or a file.
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lathe {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// A line sink. Thread-safe; writes whole lines so concurrent writers never interleave.
class LogSink {
public:
    // path "-" is stderr, "off" discards, anything else is appended to.
    static std::unique_ptr<LogSink> Open(const std::string& path);
    ~LogSink();
    void WriteLine(std::string_view line);
    bool enabled() const { return file_ != nullptr; }

private:
    explicit LogSink(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
    std::mutex mu_;
    std::FILE* file_;  // guarded by mu_ for writes
    bool owned_;
};

// The process log (server events, warnings, errors). Defaults to stderr at info.
void SetLogSink(std::unique_ptr<LogSink> sink);
void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* out);
void Log(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

inline void LogInfo(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    Log(LogLevel::kInfo, m, std::move(f));
}
inline void LogWarn(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    Log(LogLevel::kWarn, m, std::move(f));
}
inline void LogError(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    Log(LogLevel::kError, m, std::move(f));
}

}  // namespace lathe
