// Server settings table and the precedence rules that fill a ServerConfig.
#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <sstream>

extern char** environ;

namespace lathe {
namespace {

template <typename T>
Status ParseInteger(const std::string& text, T min, T max, T* out) {
    T value{};
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        return MakeError(ErrorCode::kBadRequest, "'" + text + "' is not a whole number");
    }
    if (value < min || value > max) {
        return MakeError(ErrorCode::kBadRequest, "'" + text + "' is out of range (" +
                                                     std::to_string(min) + ".." +
                                                     std::to_string(max) + ")");
    }
    *out = value;
    return {};
}

template <typename T>
SettingSpec IntSetting(std::string name, std::string help, T ServerConfig::*field, T min, T max) {
    return SettingSpec{
        std::move(name), std::move(help),
        [field, min, max](ServerConfig& c, const std::string& v) {
            return ParseInteger<T>(v, min, max, &(c.*field));
        },
        [field](const ServerConfig& c) { return std::to_string(c.*field); }};
}

SettingSpec StringSetting(std::string name, std::string help, std::string ServerConfig::*field,
                          std::vector<std::string> allowed = {}) {
    return SettingSpec{std::move(name), std::move(help),
                       [field, allowed](ServerConfig& c, const std::string& v) -> Status {
                           if (!allowed.empty()) {
                               bool ok = false;
                               std::string list;
                               for (const auto& a : allowed) {
                                   ok = ok || a == v;
                                   list += (list.empty() ? "" : ", ") + a;
                               }
                               if (!ok) {
                                   return MakeError(ErrorCode::kBadRequest,
                                                    "'" + v + "' is not one of " + list);
                               }
                           }
                           c.*field = v;
                           return {};
                       },
                       [field](const ServerConfig& c) { return c.*field; }};
}

std::string EnvName(const std::string& name) {
    std::string out = "LATHE_";
    for (char ch : name) {
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return out;
}

std::string FlagName(const std::string& name) {
    std::string out = "--";
    for (char ch : name) {
        out += ch == '_' ? '-' : ch;
    }
    return out;
}

const SettingSpec* FindSetting(const std::string& name) {
    for (const auto& s : ServerSettings()) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

Status Apply(ServerConfig& config, const SettingSpec& spec, const std::string& value,
             const std::string& where) {
    if (auto st = spec.set(config, value); !st) {
        return MakeError(ErrorCode::kBadRequest,
                         "setting " + spec.name + " (" + where + "): " + st.error().message);
    }
    return {};
}

}  // namespace

const std::vector<SettingSpec>& ServerSettings() {
    using C = ServerConfig;
    constexpr std::uint64_t kMaxBytes = 1ull << 50;
    static const std::vector<SettingSpec> kSettings = {
        StringSetting("host", "address to listen on", &C::host),
        IntSetting<int>("port", "TCP port (0 picks a free one)", &C::port, 0, 65535),
        StringSetting("data_dir", "where the database, project files and logs live", &C::data_dir),
        StringSetting("ui_dir",
                      "the built web UI served at / (relative: under the working directory, "
                      "else beside the binary as ../web/dist)",
                      &C::ui_dir),
        IntSetting<int>("io_threads", "threads serving connections (0: half the cores, at least one)",
                        &C::io_threads, 0, 256),
        IntSetting<int>("io_spin_us",
                        "microseconds an I/O thread keeps polling after work before it sleeps, "
                        "while at most 2 requests are in flight (0: never)",
                        &C::io_spin_us, 0, 10000),
        IntSetting<int>("worker_threads",
                        "threads running request handlers and store calls (0: 4 per core)",
                        &C::worker_threads, 0, 1024),
        IntSetting<std::uint64_t>("max_body_bytes", "largest request body, except file uploads",
                                  &C::max_body_bytes, 1024, kMaxBytes),
        IntSetting<std::uint64_t>("max_header_bytes", "largest request header block",
                                  &C::max_header_bytes, 1024, 1ull << 20),
        IntSetting<int>("max_connections", "open connections before new ones get 503",
                        &C::max_connections, 1, 1000000),
        IntSetting<int>("read_timeout_seconds", "deadline to receive a request body once its headers are in",
                        &C::read_timeout_seconds, 1, 86400),
        IntSetting<int>("write_timeout_seconds", "deadline to send a whole response",
                        &C::write_timeout_seconds, 1, 86400),
        IntSetting<int>("idle_timeout_seconds", "deadline for the next request's headers (idle keep-alive connections are closed)",
                        &C::idle_timeout_seconds, 1, 86400),
        IntSetting<int>("shutdown_grace_seconds",
                        "on SIGINT/SIGTERM, how long in-flight requests may finish",
                        &C::shutdown_grace_seconds, 0, 3600),
        IntSetting<std::uint64_t>("max_file_bytes", "largest single project file upload",
                                  &C::max_file_bytes, 1, kMaxBytes),
        IntSetting<std::uint64_t>("max_project_bytes", "total size of one project's files",
                                  &C::max_project_bytes, 1, kMaxBytes),
        IntSetting<int>("session_ttl_hours", "browser sessions expire after this many hours",
                        &C::session_ttl_hours, 1, 24 * 365),
        IntSetting<int>("login_rate_per_user", "failed-or-not login attempts per minute per user",
                        &C::login_rate_per_user, 1, 1000000000),
        IntSetting<int>("login_rate_per_address", "login attempts per minute per client address",
                        &C::login_rate_per_address, 1, 1000000000),
        StringSetting("access_log", "access log: '-' for stderr, 'off', or a file path",
                      &C::access_log),
        StringSetting("log", "server log: '-' for stderr, 'off', or a file path", &C::log),
        StringSetting("log_level", "debug, info, warn or error", &C::log_level,
                      {"debug", "info", "warn", "error"}),
        IntSetting<std::uint64_t>("max_log_bytes",
                                  "largest log kept per workload; later output is dropped after a "
                                  "marker",
                                  &C::max_log_bytes, 1024, kMaxBytes),
        IntSetting<int>("stop_grace_seconds",
                        "a stopped or timed-out workload gets SIGTERM, then SIGKILL after this",
                        &C::stop_grace_seconds, 0, 3600),
        IntSetting<int>("compute_reserve_millicores",
                        "CPU (millicores) the local backend keeps back from the host's cores",
                        &C::compute_reserve_millicores, 0, 1000000),
        IntSetting<int>("compute_reserve_mib",
                        "memory (MiB) the local backend keeps back from the host's memory",
                        &C::compute_reserve_mib, 0, 100000000),
        StringSetting("workspace", "this installation's name in CRNs (crn:lathe:ml:<workspace>:...)",
                      &C::workspace),
        StringSetting("serving_host", "address of the listener model replicas dial into",
                      &C::serving_host),
        IntSetting<int>("serving_port", "port of the replica listener (0 picks a free one)",
                        &C::serving_port, 0, 65535),
        StringSetting("serving_advertise",
                      "host:port replicas dial, when not the listener's own address (NAT, clusters)",
                      &C::serving_advertise),
        StringSetting("kernels",
                      "the runtimes jobs may name, as name=interpreter pairs separated by commas",
                      &C::kernels),
        StringSetting("gpus",
                      "GPU device indices workloads may use, e.g. 0,1 (CUDA_VISIBLE_DEVICES)",
                      &C::gpus),
        IntSetting<int>("max_workload_millicores", "the most CPU one workload may ask for",
                        &C::max_workload_millicores, 1, 10000000),
        IntSetting<int>("max_workload_mib", "the most memory (MiB) one workload may ask for",
                        &C::max_workload_mib, 1, 100000000),
        IntSetting<int>("sqlite_readers", "SQLite read connections", &C::sqlite_readers, 1, 64),
        StringSetting("sqlite_synchronous",
                      "SQLite durability: full (survives power loss) or normal (survives a crash)",
                      &C::sqlite_synchronous, {"full", "normal"}),
        IntSetting<int>("metrics_retention_days",
                        "days raw prediction records are kept before only their rollups remain",
                        &C::metrics_retention_days, 1, 36500),
        IntSetting<int>("metrics_minute_rollup_days",
                        "days per-minute metric rollups are kept (per-hour ones are kept)",
                        &C::metrics_minute_rollup_days, 1, 36500),
        IntSetting<int>("metrics_queue_records",
                        "prediction records waiting to be stored before calls get 503",
                        &C::metrics_queue_records, 1000, 10000000),
        IntSetting<int>("metrics_gather_us",
                        "microseconds the metrics writer may gather records of running tracked "
                        "calls into one commit (0: commit each as it comes)",
                        &C::metrics_gather_us, 0, 100000),
        IntSetting<int>("metrics_rollup_seconds",
                        "how often new prediction records are rolled into per-minute and per-hour "
                        "summaries (charts lag by up to this much)",
                        &C::metrics_rollup_seconds, 1, 3600),
        IntSetting<int>("serving_history_flush_seconds",
                        "how often deployments' per-minute requests, errors and latency are "
                        "stored (a kill -9 of the server loses the calls since)",
                        &C::serving_history_flush_seconds, 1, 3600),
        StringSetting("metrics_synchronous",
                      "metrics store durability: normal (survives a crash of the server) or full "
                      "(also survives power loss, slower)",
                      &C::metrics_synchronous, {"full", "normal"}),
        StringSetting("lineage_atlas_url",
                      "Apache Atlas to send lineage entities to, e.g. http://atlas:21000 (empty: "
                      "off; GET /api/v2/lineage/export?format=atlas still renders them)",
                      &C::lineage_atlas_url),
        StringSetting("lineage_atlas_user", "user name for Apache Atlas (basic auth)",
                      &C::lineage_atlas_user),
        StringSetting("lineage_atlas_password",
                      "password for Apache Atlas (basic auth; never logged or shown)",
                      &C::lineage_atlas_password),
        StringSetting("lineage_openlineage_url",
                      "OpenLineage endpoint base, e.g. http://marquez:5000; run events are POSTed "
                      "to <url>/api/v1/lineage (empty: off)",
                      &C::lineage_openlineage_url),
        StringSetting("lineage_openlineage_api_key",
                      "bearer token sent to the OpenLineage endpoint (never logged or shown)",
                      &C::lineage_openlineage_api_key),
        StringSetting("lineage_openlineage_namespace",
                      "the OpenLineage job and dataset namespace (empty: lathe://<workspace>)",
                      &C::lineage_openlineage_namespace),
    };
    return kSettings;
}

Result<ServerConfig> LoadServerConfig(const ConfigSources& sources) {
    ServerConfig config;
    if (!sources.yaml_path.empty()) {
        YAML::Node root;
        try {
            root = YAML::LoadFile(sources.yaml_path);
        } catch (const YAML::Exception& e) {
            return MakeError(ErrorCode::kBadRequest,
                             "config file " + sources.yaml_path + ": " + e.what());
        }
        if (root && !root.IsNull()) {
            if (!root.IsMap()) {
                return MakeError(ErrorCode::kBadRequest,
                                 "config file " + sources.yaml_path + ": expected a mapping");
            }
            for (const auto& kv : root) {
                std::string key = kv.first.as<std::string>("");
                const SettingSpec* spec = FindSetting(key);
                if (spec == nullptr) {
                    return MakeError(ErrorCode::kBadRequest, "config file " + sources.yaml_path +
                                                                 ": unknown setting '" + key +
                                                                 "' (see lathe server --help)");
                }
                if (!kv.second.IsScalar()) {
                    return MakeError(ErrorCode::kBadRequest, "config file " + sources.yaml_path +
                                                                 ": " + key + " must be a value");
                }
                RETURN_IF_ERROR(Apply(config, *spec, kv.second.Scalar(), sources.yaml_path));
            }
        }
    }
    for (const auto& spec : ServerSettings()) {
        auto it = sources.env.find(EnvName(spec.name));
        if (it != sources.env.end()) {
            RETURN_IF_ERROR(Apply(config, spec, it->second, it->first));
        }
    }
    for (const auto& [name, value] : sources.flags) {
        const SettingSpec* spec = FindSetting(name);
        if (spec == nullptr) {
            return MakeError(ErrorCode::kBadRequest, "unknown flag " + FlagName(name));
        }
        RETURN_IF_ERROR(Apply(config, *spec, value, FlagName(name)));
    }
    return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos) {
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    return env;
}

std::string ServerSettingsHelp() {
    std::ostringstream out;
    out << "Usage: lathe server [--config FILE] [--SETTING VALUE ...]\n\n"
        << "Starts the Lathe control plane. Each setting can come from the YAML file given with\n"
        << "--config (key: value), from an environment variable, or from a flag; later sources\n"
        << "win: file < environment < flag.\n\n"
        << "The first start creates a site admin: LATHE_ADMIN_USER (default 'admin') and\n"
        << "LATHE_ADMIN_PASSWORD (default: generated and printed once).\n\nSettings:\n";
    ServerConfig defaults;
    for (const auto& s : ServerSettings()) {
        out << "  " << FlagName(s.name) << " VALUE\n      " << s.help << "\n      yaml: "
            << s.name << "   env: " << EnvName(s.name) << "   default: " << s.get(defaults)
            << "\n";
    }
    return out.str();
}

}  // namespace lathe
