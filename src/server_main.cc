// `lathe server`: configuration, data directory, first admin, then serve until a signal.
#include "server_main.h"

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "api/api.h"
#include "compute/backends/local/local_backend.h"
#include "compute/log_store.h"
#include "compute/scheduler.h"
#include "compute/workload_records.h"
#include "jobs/experiments.h"
#include "jobs/jobs.h"
#include "jobs/triggers.h"
#include "lineage/exporter.h"
#include "lineage/lineage.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/secret_box.h"
#include "http/server.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& message) {
    std::fprintf(stderr, "lathe server: %s\n", message.c_str());
    return 1;
}

// Lets the server hold max_connections sockets plus its files.
void RaiseFileLimit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

Result<ConfigSources> ParseServerArgs(const std::vector<std::string>& args, bool* help) {
    ConfigSources sources;
    sources.env = ProcessEnvironment();
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "-h" || arg == "--help") {
            *help = true;
            return sources;
        }
        if (!arg.starts_with("--")) {
            return MakeError(ErrorCode::kBadRequest, "unexpected argument '" + arg + "'");
        }
        std::string name = arg.substr(2);
        std::string value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return MakeError(ErrorCode::kBadRequest, "flag " + arg + " needs a value");
        }
        for (char& c : name) {
            c = c == '-' ? '_' : c;
        }
        if (name == "config") {
            sources.yaml_path = value;
        } else {
            sources.flags[name] = value;
        }
    }
    if (sources.yaml_path.empty()) {
        if (auto it = sources.env.find("LATHE_CONFIG"); it != sources.env.end()) {
            sources.yaml_path = it->second;
        }
    }
    return sources;
}

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

int RunServer(const std::vector<std::string>& args) {
    bool help = false;
    auto sources = ParseServerArgs(args, &help);
    if (help) {
        std::cout << ServerSettingsHelp();
        return 0;
    }
    if (!sources) {
        return Fail(sources.error().message + " (see lathe server --help)");
    }
    auto loaded = LoadServerConfig(*sources);
    if (!loaded) {
        return Fail(loaded.error().message);
    }
    const ServerConfig config = *loaded;

    auto log_sink = LogSink::Open(config.log);
    if (!log_sink) {
        return Fail("cannot open log file " + config.log);
    }
    SetLogSink(std::move(log_sink));
    LogLevel level = LogLevel::kInfo;
    ParseLogLevel(config.log_level, &level);
    SetLogLevel(level);
    std::shared_ptr<LogSink> access_sink = LogSink::Open(config.access_log);
    if (!access_sink) {
        return Fail("cannot open access log " + config.access_log);
    }
    if (auto st = InitCrypto(); !st) {
        return Fail(st.error().message);
    }
    RaiseFileLimit();

    const fs::path data_dir = fs::absolute(config.data_dir).lexically_normal();
    const fs::path temp_dir = data_dir / "tmp";
    std::error_code ec;
    for (const auto& dir : {data_dir, data_dir / "projects", data_dir / "logs", temp_dir}) {
        fs::create_directories(dir, ec);
        if (ec) {
            return Fail("cannot create " + dir.string() + ": " + ec.message());
        }
    }
    fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    // Uploads and archives left by a previous run that was killed.
    for (const auto& entry : fs::directory_iterator(temp_dir, ec)) {
        fs::remove_all(entry.path(), ec);
    }

    SystemClock clock;
    store::SqliteOptions store_options{(data_dir / "lathe.db").string(), config.sqlite_readers,
                                       config.sqlite_synchronous == "full", 5000};
    auto store = store::SqliteStore::Open(store_options, clock);
    if (!store) {
        return Fail(store.error().message);
    }
    // Without its key, every stored environment variable is unreadable: refuse to start rather
    // than silently create a new key.
    if (!fs::exists(data_dir / "secret.key")) {
        bool sealed_values = false;
        auto st = (*store)->Read([&](store::Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT 1 FROM project_env LIMIT 1"));
            sealed_values = row.has_value();
            return {};
        });
        if (!st || sealed_values) {
            return Fail((data_dir / "secret.key").string() +
                        " is missing but the database holds values sealed with it; restore the "
                        "key file from your backup (see docs/install.md)");
        }
    }
    auto box = SecretBox::OpenOrCreate(data_dir / "secret.key");
    if (!box) {
        return Fail(box.error().message);
    }

    auth::Accounts accounts(**store, clock,
                            {config.session_ttl_hours, config.login_rate_per_user,
                             config.login_rate_per_address});
    auth::Teams teams(**store, clock);
    auth::AuditLog audit(**store);
    projects::Projects projects(**store, clock, data_dir / "projects",
                                {config.max_file_bytes, config.max_project_bytes});
    projects::Environment environment(**store, clock, *box);

    const char* admin_user_env = std::getenv("LATHE_ADMIN_USER");
    const char* admin_password_env = std::getenv("LATHE_ADMIN_PASSWORD");
    const std::string admin_user = admin_user_env && *admin_user_env ? admin_user_env : "admin";
    auto generated = accounts.EnsureInitialAdmin(admin_user,
                                                 admin_password_env ? admin_password_env : "");
    if (!generated) {
        return Fail("cannot create the first admin: " + generated.error().message);
    }

    auto kernels = jobs::ParseKernels(config.kernels);
    if (!kernels) {
        return Fail(kernels.error().message);
    }
    std::vector<int> gpu_devices;
    for (std::string_view rest = config.gpus; !rest.empty();) {
        auto comma = rest.find(',');
        std::string item(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        char* end = nullptr;
        long index = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || index < 0) {
            return Fail("gpus: '" + item + "' is not a device index (e.g. --gpus 0,1)");
        }
        gpu_devices.push_back(static_cast<int>(index));
    }
    compute::WorkloadRecords workloads(**store, clock);
    compute::LogStore logs(data_dir / "logs", config.max_log_bytes);
    std::error_code exe_ec;
    compute::local::LocalBackendOptions backend_options;
    backend_options.projects_dir = data_dir / "projects";
    backend_options.data_dir = data_dir;
    backend_options.runner_binary = fs::read_symlink("/proc/self/exe", exe_ec);
    backend_options.logs_dir = data_dir / "logs";
    backend_options.reserve_millicores = config.compute_reserve_millicores;
    backend_options.reserve_mib = config.compute_reserve_mib;
    backend_options.gpus = static_cast<std::int64_t>(gpu_devices.size());
    compute::local::LocalBackend backend(backend_options);
    compute::Scheduler scheduler(workloads, logs, backend,
                                 {std::chrono::seconds(config.stop_grace_seconds), 5, gpu_devices});
    jobs::JobsOptions jobs_options;
    jobs_options.max_cpu_millicores = config.max_workload_millicores;
    jobs_options.max_memory_mib = config.max_workload_mib;
    jobs_options.max_gpus = static_cast<std::int64_t>(gpu_devices.size());
    jobs_options.kernels = *kernels;
    jobs::Jobs jobs(**store, clock, projects, environment, scheduler, workloads, jobs_options);
    scheduler.AddFinishListener([&jobs](const compute::Workload& w) { jobs.OnWorkloadFinished(w); });
    jobs::Experiments experiments(**store, clock, projects, data_dir / "artifacts");
    // No workload outlives the server that launched it, so no workload key from an earlier
    // process (killed before it could revoke them) may stay valid.
    if (auto st = accounts.RevokeKeysNamed("workload %"); !st) {
        LogWarn("cannot revoke old workload keys", {{"error", st.error().message}});
    }
    // The workload's own code gets an API key of its owner (CML's CDSW_API_KEY), for the SDK;
    // it is revoked when the workload ends.
    serving::ModelRegistry model_registry(**store, clock);
    serving::ServingOptions serving_options;
    serving_options.workspace = config.workspace;
    serving_options.data_dir = data_dir;
    serving_options.projects_dir = data_dir / "projects";
    serving_options.listen_host = config.serving_host;
    serving_options.listen_port = config.serving_port;
    serving_options.advertise = config.serving_advertise;
    serving_options.max_snapshot_bytes = static_cast<std::int64_t>(config.max_project_bytes);
    serving_options.history_flush = std::chrono::seconds(config.serving_history_flush_seconds);
    metrics::MetricsOptions metrics_options;
    metrics_options.path = data_dir / "metrics.db";
    metrics_options.synchronous_full = config.metrics_synchronous == "full";
    metrics_options.retention.raw_ms = std::int64_t{config.metrics_retention_days} * 86'400'000;
    metrics_options.retention.minute_ms =
        std::int64_t{config.metrics_minute_rollup_days} * 86'400'000;
    metrics_options.rollup_interval = std::chrono::seconds(config.metrics_rollup_seconds);
    metrics_options.writer.max_queue_records =
        static_cast<std::size_t>(config.metrics_queue_records);
    metrics_options.writer.gather_delay = std::chrono::microseconds(config.metrics_gather_us);
    auto metrics_service = metrics::MetricsService::Open(metrics_options, clock);
    if (!metrics_service) {
        return Fail(metrics_service.error().message);
    }
    serving::ModelServing serving(model_registry, scheduler, workloads, logs, environment, jobs,
                                  clock, serving_options);
    serving.SetMetrics(metrics_service->get());
    metrics::Monitors monitors(
        **store, **metrics_service, clock,
        [&model_registry, &serving_options](
            std::int64_t project_id, std::int64_t model_id) -> Result<metrics::MonitorTarget> {
            ASSIGN_OR_RETURN(auto model, model_registry.GetModel(project_id, model_id));
            return metrics::MonitorTarget{
                serving::Crn(serving_options.workspace, "model", model.uuid), model.name,
                serving_options.projects_dir / std::to_string(project_id) / "files"};
        });
    scheduler.AddFinishListener(
        [&serving](const compute::Workload& w) { serving.OnWorkloadFinished(w); });
    scheduler.SetLaunchHook([&accounts, &serving](const compute::Workload& w) {
        // Model replicas get only their own token, never their owner's key.
        if (w.kind == compute::WorkloadKind::kReplica) {
            return serving.ReplicaLaunchExtras(w);
        }
        compute::LaunchExtras extras;
        auto key = accounts.CreateApiKey(w.owner_user_id, "workload " + std::to_string(w.id), 2);
        if (!key) {
            LogWarn("no API key for a workload", {{"workload", w.id}, {"error", key.error().message}});
            return extras;
        }
        for (const char* name : {"CDSW_API_KEY", "CDSW_APIV2_KEY", "LATHE_API_KEY"}) {
            extras.env[name] = key->second;
        }
        extras.cleanup = [&accounts, user = w.owner_user_id, key_id = key->first.id] {
            (void)accounts.RevokeApiKey(user, key_id);
        };
        return extras;
    });
    // Lineage: recorded from what the other services store, exported to Atlas / OpenLineage.
    lineage::ExporterOptions export_options;
    export_options.atlas_url = config.lineage_atlas_url;
    export_options.atlas_user = config.lineage_atlas_user;
    export_options.atlas_password = config.lineage_atlas_password;
    export_options.openlineage_url = config.lineage_openlineage_url;
    export_options.openlineage_api_key = config.lineage_openlineage_api_key;
    export_options.openlineage_namespace = config.lineage_openlineage_namespace.empty()
                                               ? "lathe://" + config.workspace
                                               : config.lineage_openlineage_namespace;
    lineage::Exporter exporter(**store, clock, export_options);
    lineage::LineageOptions lineage_options;
    lineage_options.workspace = config.workspace;
    lineage_options.projects_dir = data_dir / "projects";
    serving::SnapshotStore lineage_snapshots(data_dir / "snapshots");
    lineage::Lineage lineage_service(
        **store, clock, lineage_options,
        [&lineage_snapshots](const std::string& id) -> Result<std::vector<std::string>> {
            ASSIGN_OR_RETURN(auto snapshot, lineage_snapshots.Load(id));
            std::vector<std::string> paths;
            for (const auto& f : snapshot.files) {
                paths.push_back(f.path);
            }
            return paths;
        },
        &exporter);
    scheduler.AddStartListener(
        [&lineage_service](const compute::Workload& w) { lineage_service.OnWorkloadStarted(w); });
    // After serving's listener: a build's record is complete before lineage reads it.
    scheduler.AddFinishListener(
        [&lineage_service](const compute::Workload& w) { lineage_service.OnWorkloadFinished(w); });
    jobs::WebhookNotifier notifier;
    jobs.SetNotifier([&notifier](const std::string& url, const jobs::Job& job,
                                 const compute::Workload& run) { notifier.Enqueue(url, job, run); });
    jobs::ScheduleTrigger schedules(jobs, clock);
    jobs.SetScheduleChanged([&schedules] { schedules.Wake(); });

    api::Services services{**store,   accounts,  teams,     audit,     projects, environment,
                           config,    clock,     temp_dir,  workloads, logs,     scheduler,
                           jobs,      experiments, model_registry, serving,
                           **metrics_service, monitors, lineage_service, exporter};
    http::Router router;
    api::RegisterRoutes(router, services);

    http::ServerOptions options;
    options.host = config.host;
    options.port = config.port;
    // Half the cores by default: the other half runs the workloads (model replicas above all)
    // on this same host, and one I/O thread per connection chain avoids cross-thread hops.
    options.io_threads =
        config.io_threads > 0 ? config.io_threads : std::max(1, HardwareThreads() / 2);
    options.io_spin_us = config.io_spin_us;
    options.worker_threads =
        config.worker_threads > 0 ? config.worker_threads : std::max(4, 4 * HardwareThreads());
    options.max_body_bytes = config.max_body_bytes;
    options.max_header_bytes = config.max_header_bytes;
    options.max_upload_bytes = config.max_file_bytes;
    options.max_connections = config.max_connections;
    options.read_timeout_seconds = config.read_timeout_seconds;
    options.write_timeout_seconds = config.write_timeout_seconds;
    options.idle_timeout_seconds = config.idle_timeout_seconds;
    options.shutdown_grace_seconds = config.shutdown_grace_seconds;
    options.upload_dir = temp_dir;

    http::AccessLogFn access_log;
    if (access_sink->enabled()) {
        access_log = [access_sink](const http::AccessRecord& r) {
            nlohmann::json line = {{"time", FormatTime(SystemClock().NowMs())},
                                   {"msg", "request"},
                                   {"request_id", r.request->request_id},
                                   {"method", r.request->method},
                                   {"path", r.request->path},
                                   {"status", r.status},
                                   {"bytes", r.bytes_sent},
                                   {"ms", std::round(r.duration_ms * 1000) / 1000},
                                   {"user", r.actor},
                                   {"remote", r.request->remote_address}};
            access_sink->WriteLine(
                line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        };
    }
    http::Server server(options, router, access_log);
    auto port = server.Start();
    if (!port) {
        return Fail(port.error().message);
    }
    LogInfo("server started", {{"port", *port}, {"data_dir", data_dir.string()},
                               {"io_threads", options.io_threads},
                               {"worker_threads", options.worker_threads}});
    std::string url = "http://" + config.host + ":" + std::to_string(*port);
    // Runners on this host reach the server on loopback whatever address it listens on.
    const std::string local_url =
        "http://" +
        std::string(config.host == "0.0.0.0" || config.host == "::" ? "127.0.0.1" : config.host) +
        ":" + std::to_string(*port);
    jobs.SetApiUrl(local_url);
    if (auto st = scheduler.Start(local_url); !st) {
        server.Shutdown();
        return Fail("cannot start the scheduler: " + st.error().message);
    }
    // Replica connections share the HTTP server's threads; they close before those stop.
    server.SetShutdownHook([&serving] { serving.Shutdown(); });
    // A commit completes many calls at once: their answers go to the I/O threads in one hop.
    (*metrics_service)->SetDeliver(
        [&server](std::function<void()> fn) { server.Post(std::move(fn)); });
    if (auto st = serving.Start(local_url, &server.io_context()); !st) {
        scheduler.Shutdown();
        server.Shutdown();
        return Fail("cannot start model serving: " + st.error().message);
    }
    notifier.Start();
    schedules.Start();
    monitors.Start();
    exporter.Start();
    if (auto st = lineage_service.Start(); !st) {
        LogWarn("cannot record lineage; the graph may miss what happened while the server was "
                "down",
                {{"error", st.error().message}});
    }
    std::cout << "Lathe is ready at " << url << "\n";
    if (generated->has_value() && !(*generated)->empty()) {
        std::cout << "First start: created the site admin.\n"
                  << "  username: " << admin_user << "\n"
                  << "  password: " << **generated << "\n"
                  << "This password is shown once; change it after signing in.\n";
    } else if (generated->has_value()) {
        std::cout << "First start: created the site admin '" << admin_user
                  << "' with the password from LATHE_ADMIN_PASSWORD.\n";
    }
    std::cout << "Data in " << data_dir.string() << ". Press Ctrl-C to stop." << std::endl;
    server.RunUntilSignal();
    (*metrics_service)->SetDeliver(nullptr);
    schedules.Stop();
    monitors.Stop();
    serving.Shutdown();
    scheduler.Shutdown();
    lineage_service.Shutdown();
    exporter.Shutdown();
    // Runs still going are killed (their ends are recorded) before webhooks get their last
    // chance to go out.
    backend.Shutdown();
    notifier.Stop();
    LogInfo("server stopped");
    return 0;
}

}  // namespace lathe
