// The REST API: every route, each guarded by the policy table, rendered as JSON.
#pragma once

#include <filesystem>

#include "auth/accounts.h"
#include "auth/audit.h"
#include "auth/teams.h"
#include "compute/log_store.h"
#include "compute/scheduler.h"
#include "compute/workload_records.h"
#include "core/clock.h"
#include "core/config.h"
#include "http/router.h"
#include "jobs/experiments.h"
#include "jobs/jobs.h"
#include "lineage/exporter.h"
#include "lineage/lineage.h"
#include "metrics/metrics_service.h"
#include "metrics/monitors.h"
#include "projects/environment.h"
#include "projects/projects.h"
#include "serving/model_serving.h"
#include "serving/models.h"
#include "store/store.h"

namespace lathe::api {

// The services the API calls; owned by main, outliving the server.
struct Services {
    store::Store& store;
    auth::Accounts& accounts;
    auth::Teams& teams;
    auth::AuditLog& audit;
    projects::Projects& projects;
    projects::Environment& environment;
    const ServerConfig& config;
    const Clock& clock;
    std::filesystem::path temp_dir;  // for generated downloads (archives)
    compute::WorkloadRecords& workloads;
    compute::LogStore& logs;
    compute::Scheduler& scheduler;
    jobs::Jobs& jobs;
    jobs::Experiments& experiments;
    serving::ModelRegistry& models;
    serving::ModelServing& serving;
    metrics::MetricsService& metrics;
    metrics::Monitors& monitors;
    lineage::Lineage& lineage;
    lineage::Exporter& exporter;
};

void RegisterRoutes(http::Router& router, Services& services);

}  // namespace lathe::api
