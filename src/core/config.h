// Server settings: defaults, then a YAML file, then LATHE_* variables, then command-line flags.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace lathe {

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string data_dir = "./lathe-data";
    // The built web UI (web/dist); a relative path is looked up under the working directory,
    // then beside the binary (<binary dir>/../web/dist).
    std::string ui_dir = "web/dist";
    int io_threads = 0;      // 0: one per core
    int io_spin_us = 250;    // see http::ServerOptions
    int worker_threads = 0;  // 0: four per core, at least 4
    std::uint64_t max_body_bytes = 5ull << 20;
    std::uint64_t max_header_bytes = 16ull << 10;
    int max_connections = 1000;
    int read_timeout_seconds = 30;
    int write_timeout_seconds = 30;
    int idle_timeout_seconds = 60;
    int shutdown_grace_seconds = 10;
    std::uint64_t max_file_bytes = 1ull << 30;
    std::uint64_t max_project_bytes = 10ull << 30;
    int session_ttl_hours = 12;
    int login_rate_per_user = 10;
    int login_rate_per_address = 30;
    std::string access_log = "-";
    std::string log = "-";
    std::string log_level = "info";
    std::uint64_t max_log_bytes = 100ull << 20;
    int stop_grace_seconds = 10;
    int compute_reserve_millicores = 0;
    int compute_reserve_mib = 1024;
    std::string kernels = "python3=/usr/bin/python3,r=/usr/bin/Rscript,bash=/bin/bash";
    std::string gpus;  // device indices the local backend may hand out, e.g. "0,1"
    int max_workload_millicores = 8000;
    int max_workload_mib = 65536;
    int sqlite_readers = 4;
    std::string sqlite_synchronous = "full";
    std::string workspace = "default";  // the <workspace> part of CRNs
    std::string serving_host = "127.0.0.1";  // where model replicas dial in
    int serving_port = 0;                     // 0: a free port
    std::string serving_advertise;            // host:port replicas dial (default: the bound one)
    int metrics_retention_days = 30;          // raw prediction records; rollups stay
    int metrics_minute_rollup_days = 90;      // per-minute rollups; per-hour ones stay
    int metrics_queue_records = 200000;       // the prediction writer's queue bound
    int metrics_gather_us = 2000;             // the prediction writer's gather_delay
    std::string metrics_synchronous = "normal";
    int metrics_rollup_seconds = 10;          // how often new records are rolled up
    int serving_history_flush_seconds = 60;   // how often the serving history is stored
    // Lineage export: Apache Atlas (entities) and OpenLineage (run events); empty URL: off.
    std::string lineage_atlas_url;
    std::string lineage_atlas_user;
    std::string lineage_atlas_password;  // secret: never logged or shown
    std::string lineage_openlineage_url;
    std::string lineage_openlineage_api_key;  // secret: never logged or shown
    std::string lineage_openlineage_namespace;  // default: lathe://<workspace>
};

// One documented setting: its YAML key, environment variable and flag are derived from `name`.
struct SettingSpec {
    std::string name;  // snake_case: YAML key; LATHE_<NAME> variable; --kebab-name flag
    std::string help;
    std::function<Status(ServerConfig&, const std::string&)> set;
    std::function<std::string(const ServerConfig&)> get;
};

const std::vector<SettingSpec>& ServerSettings();

// Where settings come from, in rising precedence. `flags` maps setting names to values.
struct ConfigSources {
    std::string yaml_path;  // empty: none
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> flags;
};

Result<ServerConfig> LoadServerConfig(const ConfigSources& sources);

// The environment as a map (for ConfigSources::env).
std::map<std::string, std::string> ProcessEnvironment();

// `lathe server --help`: every setting with its flag, variable, default and meaning.
std::string ServerSettingsHelp();

}  // namespace lathe
