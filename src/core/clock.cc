// Time formatting.
#include "core/clock.h"

#include <cstdio>
#include <ctime>

namespace lathe {

namespace {

std::string Format(std::int64_t unix_ms, bool always_millis) {
    std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
    int ms = static_cast<int>(unix_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    if (ms != 0 || always_millis) {
        std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    } else {
        std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    return buf;
}

}  // namespace

std::string FormatTime(std::int64_t unix_ms) {
    return Format(unix_ms, false);
}

std::string FormatTimeMillis(std::int64_t unix_ms) {
    return Format(unix_ms, true);
}

}  // namespace lathe
