// Parses the workload spec the server gives the runner.
#include "runner/spec.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace lathe::runner {
namespace {

using Json = nlohmann::json;

// Bounds that keep a wrong value from the server from breaking the runner.
constexpr double kMinHeartbeatSeconds = 0.05;
constexpr double kMaxHeartbeatSeconds = 3600;
constexpr double kMaxStopGraceSeconds = 3600;
constexpr double kMinServerGoneSeconds = 0.1;
constexpr double kMaxServerGoneSeconds = 7 * 24 * 3600;
constexpr std::size_t kMinLogChunkBytes = 1024;
constexpr std::size_t kMaxLogChunkBytes = 4 * 1024 * 1024;

std::string FormatSeconds(double seconds) {
    std::string text = std::to_string(seconds);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.ends_with('.')) {
        text.pop_back();
    }
    return text;
}

// Reads an optional number of seconds into milliseconds, clamped to [min, max].
Status ReadSeconds(const Json& doc,
                   const char* field,
                   double min_seconds,
                   double max_seconds,
                   std::int64_t* out_ms,
                   std::vector<std::string>* adjustments) {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) {
        return {};
    }
    if (!it->is_number()) {
        return MakeError(ErrorCode::kBadRequest, std::string(field) + " is not a number");
    }
    double seconds = it->get<double>();
    if (!std::isfinite(seconds) || seconds < 0) {
        return MakeError(ErrorCode::kBadRequest, std::string(field) + " is negative");
    }
    double used = std::clamp(seconds, min_seconds, max_seconds);
    if (used != seconds) {
        adjustments->push_back(std::string(field) + " " + FormatSeconds(seconds) +
                               " is out of range; using " + FormatSeconds(used));
    }
    *out_ms = static_cast<std::int64_t>(std::llround(used * 1000));
    return {};
}

bool HasNul(std::string_view text) {
    return text.find('\0') != std::string_view::npos;
}

}  // namespace

const std::string* WorkloadSpec::EnvValue(std::string_view name) const {
    for (const std::string& entry : env) {
        if (entry.size() > name.size() && entry[name.size()] == '=' && entry.starts_with(name)) {
            return &entry;
        }
    }
    return nullptr;
}

Result<WorkloadSpec> ParseWorkloadSpec(std::string_view json) {
    Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return MakeError(ErrorCode::kBadRequest, "the spec is not JSON");
    }
    if (!doc.is_object()) {
        return MakeError(ErrorCode::kBadRequest, "the spec is not a JSON object");
    }
    WorkloadSpec spec;

    auto argv = doc.find("argv");
    if (argv == doc.end() || !argv->is_array() || argv->empty()) {
        return MakeError(ErrorCode::kBadRequest, "argv is missing or empty");
    }
    for (const Json& arg : *argv) {
        if (!arg.is_string() || HasNul(arg.get_ref<const std::string&>())) {
            return MakeError(ErrorCode::kBadRequest, "argv holds something other than strings");
        }
        spec.argv.push_back(arg.get<std::string>());
    }
    if (spec.argv[0].empty()) {
        return MakeError(ErrorCode::kBadRequest, "argv[0] is empty");
    }

    if (auto env = doc.find("env"); env != doc.end() && !env->is_null()) {
        if (!env->is_object()) {
            return MakeError(ErrorCode::kBadRequest, "env is not an object");
        }
        for (const auto& [name, value] : env->items()) {
            if (name.empty() || name.find('=') != std::string::npos || HasNul(name)) {
                return MakeError(ErrorCode::kBadRequest, "env holds a bad variable name");
            }
            if (!value.is_string() || HasNul(value.get_ref<const std::string&>())) {
                return MakeError(ErrorCode::kBadRequest,
                                 "env." + name + " is not a string without NUL bytes");
            }
            if (name == kRunnerTokenVariable) {
                spec.adjustments.push_back("env holds " + name + "; the kernel does not get it");
                continue;
            }
            spec.env.push_back(name + "=" + value.get<std::string>());
        }
    }

    if (auto cwd = doc.find("cwd"); cwd != doc.end() && !cwd->is_null()) {
        if (!cwd->is_string() || HasNul(cwd->get_ref<const std::string&>())) {
            return MakeError(ErrorCode::kBadRequest, "cwd is not a string");
        }
        spec.cwd = cwd->get<std::string>();
    }

    RETURN_IF_ERROR(ReadSeconds(doc, "heartbeat_seconds", kMinHeartbeatSeconds,
                                kMaxHeartbeatSeconds, &spec.heartbeat_ms, &spec.adjustments));
    RETURN_IF_ERROR(ReadSeconds(doc, "stop_grace_seconds", 0, kMaxStopGraceSeconds,
                                &spec.stop_grace_ms, &spec.adjustments));
    RETURN_IF_ERROR(ReadSeconds(doc, "server_gone_seconds", kMinServerGoneSeconds,
                                kMaxServerGoneSeconds, &spec.server_gone_ms, &spec.adjustments));
    // Heartbeats are what tells a quiet server from a gone one: at least two per window.
    if (spec.heartbeat_ms > spec.server_gone_ms / 2) {
        spec.heartbeat_ms = std::max<std::int64_t>(spec.server_gone_ms / 2, 1);
        spec.adjustments.push_back(
            "heartbeat_seconds is more than half of server_gone_seconds; "
            "using " +
            FormatSeconds(spec.heartbeat_ms / 1000.0));
    }

    if (auto chunk = doc.find("log_chunk_bytes"); chunk != doc.end() && !chunk->is_null()) {
        if (!chunk->is_number_integer() || chunk->get<std::int64_t>() <= 0) {
            return MakeError(ErrorCode::kBadRequest, "log_chunk_bytes is not a positive integer");
        }
        auto asked = chunk->get<std::uint64_t>();
        std::size_t used = static_cast<std::size_t>(
            std::clamp<std::uint64_t>(asked, kMinLogChunkBytes, kMaxLogChunkBytes));
        if (used != asked) {
            spec.adjustments.push_back("log_chunk_bytes " + std::to_string(asked) +
                                       " is out of range; using " + std::to_string(used));
        }
        spec.log_chunk_bytes = used;
    }
    return spec;
}

}  // namespace lathe::runner
