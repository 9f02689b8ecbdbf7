// The schema, as numbered migrations. Never edit an applied migration: add a new one.
#include "store/migrations.h"

namespace lathe::store {

const std::vector<Migration>& Migrations() {
    static const std::vector<Migration> kMigrations = {
        {1, "accounts",
         R"sql(
CREATE TABLE users (
    id {{id}},
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE teams (
    id {{id}},
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE TABLE team_members (
    team_id BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    role BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);
CREATE TABLE sessions (
    id {{id}},
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    address TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id {{id}},
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);
CREATE TABLE audit_events (
    id {{id}},
    time BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    status BIGINT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_time ON audit_events(time);
)sql"},
        {2, "projects",
         R"sql(
CREATE TABLE projects (
    id {{id}},
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_user_id BIGINT REFERENCES users(id),
    owner_team_id BIGINT REFERENCES teams(id),
    visibility TEXT NOT NULL DEFAULT 'private',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_user_name ON projects(owner_user_id, name);
CREATE UNIQUE INDEX projects_team_name ON projects(owner_team_id, name);
CREATE TABLE collaborators (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    role BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX collaborators_user ON collaborators(user_id);
CREATE TABLE project_env (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value_sealed TEXT NOT NULL,
    hidden BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, name)
);
)sql"},
        {3, "workloads",
         R"sql(
CREATE TABLE workloads (
    id {{id}},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    owner_user_id BIGINT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL,
    cpu_millicores BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    gpus BIGINT NOT NULL DEFAULT 0,
    priority BIGINT NOT NULL DEFAULT 0,
    timeout_seconds BIGINT NOT NULL DEFAULT 0,
    runner_token_hash TEXT NOT NULL,
    job_id BIGINT,
    trigger TEXT NOT NULL DEFAULT 'manual',
    exit_code BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    last_heartbeat_at BIGINT
);
CREATE INDEX workloads_state ON workloads(state);
CREATE INDEX workloads_project ON workloads(project_id);
CREATE INDEX workloads_job ON workloads(job_id);
CREATE TABLE quotas (
    subject_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    cpu_millicores BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    gpus BIGINT NOT NULL,
    PRIMARY KEY (subject_type, subject)
);
CREATE TABLE jobs (
    id {{id}},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    script TEXT NOT NULL,
    arguments TEXT NOT NULL DEFAULT '',
    kernel TEXT NOT NULL DEFAULT 'python3',
    cpu_millicores BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    gpus BIGINT NOT NULL DEFAULT 0,
    timeout_seconds BIGINT NOT NULL DEFAULT 0,
    kill_on_timeout BIGINT NOT NULL DEFAULT 1,
    environment TEXT NOT NULL DEFAULT '{}',
    schedule TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    parent_job_id BIGINT REFERENCES jobs(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_project_name ON jobs(project_id, name);
)sql"},
        {4, "job_triggers",
         R"sql(
ALTER TABLE jobs ADD COLUMN overlap TEXT NOT NULL DEFAULT 'skip';
ALTER TABLE jobs ADD COLUMN catch_up BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN next_run_at BIGINT;
ALTER TABLE jobs ADD COLUMN notifications TEXT NOT NULL DEFAULT '[]';
)sql"},
        {5, "resource_profiles",
         R"sql(
CREATE TABLE resource_profiles (
    name TEXT PRIMARY KEY,
    cpu_millicores BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    gpus BIGINT NOT NULL DEFAULT 0
);
INSERT INTO resource_profiles (name, cpu_millicores, memory_mib, gpus) VALUES ('small', 1000, 2048, 0);
INSERT INTO resource_profiles (name, cpu_millicores, memory_mib, gpus) VALUES ('medium', 2000, 4096, 0);
INSERT INTO resource_profiles (name, cpu_millicores, memory_mib, gpus) VALUES ('large', 4000, 8192, 0);
)sql"},
        {6, "experiments",
         R"sql(
CREATE TABLE run_metrics (
    id {{id}},
    workload_id BIGINT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    number_value DOUBLE PRECISION,
    text_value TEXT,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX run_metrics_workload ON run_metrics(workload_id);
CREATE TABLE run_artifacts (
    workload_id BIGINT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (workload_id, path)
);
)sql"},
        {7, "models",
         R"sql(
CREATE TABLE models (
    id {{id}},
    uuid TEXT NOT NULL UNIQUE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    access_key TEXT NOT NULL UNIQUE,
    auth_enabled BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE model_builds (
    id {{id}},
    uuid TEXT NOT NULL UNIQUE,
    model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    file_path TEXT NOT NULL,
    function_name TEXT NOT NULL,
    kernel TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT '{}',
    snapshot TEXT NOT NULL DEFAULT '',
    snapshot_files BIGINT NOT NULL DEFAULT 0,
    snapshot_bytes BIGINT NOT NULL DEFAULT 0,
    workload_id BIGINT REFERENCES workloads(id) ON DELETE SET NULL,
    info TEXT NOT NULL DEFAULT '{}',
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX model_builds_model ON model_builds(model_id);
CREATE TABLE model_deployments (
    id {{id}},
    uuid TEXT NOT NULL UNIQUE,
    model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    build_id BIGINT NOT NULL REFERENCES model_builds(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    deployed_at BIGINT,
    stopped_at BIGINT
);
CREATE INDEX model_deployments_model ON model_deployments(model_id);
CREATE INDEX model_deployments_state ON model_deployments(state);
CREATE TABLE model_replicas (
    workload_id BIGINT PRIMARY KEY REFERENCES workloads(id) ON DELETE CASCADE,
    deployment_id BIGINT NOT NULL REFERENCES model_deployments(id) ON DELETE CASCADE,
    replica_id TEXT NOT NULL
);
CREATE INDEX model_replicas_deployment ON model_replicas(deployment_id);
)sql"},
        {8, "monitors",
         R"sql(
CREATE TABLE monitors (
    id {{id}},
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'pending',
    last_value DOUBLE PRECISION,
    last_message TEXT NOT NULL DEFAULT '',
    last_evaluated_at BIGINT,
    next_run_at BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (model_id, name)
);
CREATE INDEX monitors_due ON monitors(enabled, next_run_at);
CREATE TABLE alerts (
    id {{id}},
    monitor_id BIGINT NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    model_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    value DOUBLE PRECISION,
    threshold DOUBLE PRECISION NOT NULL,
    message TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX alerts_monitor ON alerts(monitor_id, id);
CREATE INDEX alerts_project ON alerts(project_id, id);
CREATE TABLE alert_deliveries (
    id {{id}},
    alert_id BIGINT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_at BIGINT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(state, next_attempt_at);
)sql"},
        {9, "model_api_keys",
         R"sql(
ALTER TABLE api_keys ADD COLUMN model_id BIGINT REFERENCES models(id) ON DELETE CASCADE;
CREATE INDEX api_keys_model ON api_keys(model_id);
)sql"},
        {10, "lineage",
         R"sql(
CREATE TABLE lineage_nodes (
    id {{id}},
    crn TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    project_id BIGINT,
    ref_id BIGINT,
    attributes TEXT NOT NULL DEFAULT '{}',
    emitted TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX lineage_nodes_ref ON lineage_nodes(kind, ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX lineage_nodes_project ON lineage_nodes(project_id);
CREATE INDEX lineage_nodes_name ON lineage_nodes(name);
CREATE TABLE lineage_edges (
    id {{id}},
    from_id BIGINT NOT NULL REFERENCES lineage_nodes(id) ON DELETE CASCADE,
    to_id BIGINT NOT NULL REFERENCES lineage_nodes(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (from_id, to_id, kind)
);
CREATE INDEX lineage_edges_to ON lineage_edges(to_id);
CREATE TABLE lineage_outbox (
    id {{id}},
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX lineage_outbox_due ON lineage_outbox(delivered_at, next_attempt_at);
CREATE TABLE model_aliases (
    model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    build_id BIGINT NOT NULL REFERENCES model_builds(id) ON DELETE CASCADE,
    set_by BIGINT NOT NULL REFERENCES users(id),
    set_at BIGINT NOT NULL,
    PRIMARY KEY (model_id, alias)
);
CREATE TABLE build_examples (
    id {{id}},
    build_id BIGINT NOT NULL REFERENCES model_builds(id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX build_examples_build ON build_examples(build_id);
ALTER TABLE model_builds ADD COLUMN rebuild_of BIGINT REFERENCES model_builds(id) ON DELETE SET NULL;
ALTER TABLE model_builds ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
UPDATE model_builds SET version = (SELECT COUNT(*) FROM model_builds b2
    WHERE b2.model_id = model_builds.model_id AND b2.id <= model_builds.id);
)sql"},
    };
    return kMigrations;
}

std::string MigrationSql(const Migration& m, Dialect dialect) {
    const std::string id = dialect == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                                       : "BIGSERIAL PRIMARY KEY";
    std::string sql = m.sql;
    for (std::size_t pos = 0; (pos = sql.find("{{id}}", pos)) != std::string::npos;) {
        sql.replace(pos, 6, id);
        pos += id.size();
    }
    return sql;
}

}  // namespace lathe::store
