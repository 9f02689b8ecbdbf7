// Lineage recording (from the rows other modules keep, plus what runs report) and graph reads.
#include "lineage/lineage.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <map>

#include "core/crypto.h"
#include "core/log.h"
#include "lineage/exporter.h"
#include "lineage/openlineage.h"
#include "projects/projects.h"

namespace lathe::lineage {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kBatch = 500;
constexpr std::int64_t kMaxRunDatasets = 10000;

bool IsFinalState(std::string_view state) {
    return state == "succeeded" || state == "failed" || state == "timedout" || state == "stopped";
}

std::optional<std::int64_t> OptInt(const store::Row& r, std::size_t i) {
    if (r.IsNull(i)) {
        return std::nullopt;
    }
    return r.Int(i);
}

json Parse(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

Node NodeFromRow(const store::Row& r) {
    // id, crn, kind, name, qualified_name, project_id, attributes, created_at, updated_at
    Node n;
    n.id = r.Int(0);
    n.crn = r.Text(1);
    n.kind = r.Text(2);
    n.name = r.Text(3);
    n.qualified_name = r.Text(4);
    n.project_id = OptInt(r, 5);
    n.attributes = Parse(r.Text(6));
    n.created_at = r.Int(7);
    n.updated_at = r.Int(8);
    return n;
}

constexpr std::string_view kNodeColumns =
    "id, crn, kind, name, qualified_name, project_id, attributes, created_at, updated_at";

// Inserts or refreshes a node by its CRN; gives its id.
Result<std::int64_t> Upsert(store::Tx& tx, const Node& n, std::optional<std::int64_t> ref_id,
                            std::int64_t now) {
    ASSIGN_OR_RETURN(auto existing, tx.QueryOne("SELECT id FROM lineage_nodes WHERE crn = ?",
                                                {n.crn}));
    store::Value project = n.project_id ? store::Value(*n.project_id) : store::Value(nullptr);
    if (existing) {
        RETURN_IF_ERROR(tx.Exec(
            "UPDATE lineage_nodes SET name = ?, qualified_name = ?, project_id = ?, "
            "attributes = ?, updated_at = ? WHERE id = ?",
            {n.name, n.qualified_name, project, n.attributes.dump(), now, existing->Int(0)}));
        return existing->Int(0);
    }
    store::Value ref = ref_id ? store::Value(*ref_id) : store::Value(nullptr);
    return tx.InsertReturningId(
        "INSERT INTO lineage_nodes (crn, kind, name, qualified_name, project_id, ref_id, "
        "attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        {n.crn, n.kind, n.name, n.qualified_name, project, ref, n.attributes.dump(), now, now});
}

Status Link(store::Tx& tx, std::int64_t from, std::int64_t to, std::string_view kind,
            std::int64_t now) {
    RETURN_IF_ERROR(
        tx.Exec("INSERT INTO lineage_edges (from_id, to_id, kind, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                {from, to, std::string(kind), now}));
    return {};
}

Result<std::optional<std::int64_t>> NodeOf(store::Tx& tx, std::string_view kind,
                                           std::int64_t ref_id) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT id FROM lineage_nodes WHERE kind = ? AND "
                                           "ref_id = ?",
                                           {std::string(kind), ref_id}));
    if (!row) {
        return std::optional<std::int64_t>();
    }
    return std::optional<std::int64_t>(row->Int(0));
}

std::string Trimmed(std::string path) {
    constexpr std::string_view kHome = "/home/cdsw/";
    if (path.starts_with(kHome)) {
        path.erase(0, kHome.size());
    }
    while (path.starts_with("./")) {
        path.erase(0, 2);
    }
    while (!path.empty() && path.front() == '/') {
        path.erase(0, 1);
    }
    return path;
}

bool IsHiveTable(std::string_view name) {
    auto at = name.find('@');
    return at != std::string_view::npos && name.find('.') < at && name.find('/') == name.npos;
}

}  // namespace

std::string_view CategoryName(Category c) {
    return c == Category::kEntity ? "entity" : "process";
}

std::optional<Category> CategoryOf(std::string_view kind) {
    for (std::string_view k : {"project", "dataset", "job", "job_run", "model", "model_build",
                               "model_deployment", "file_snapshot"}) {
        if (k == kind) {
            return Category::kEntity;
        }
    }
    for (std::string_view k : {"create_project", "run_job", "build_model", "deploy_model"}) {
        if (k == kind) {
            return Category::kProcess;
        }
    }
    return std::nullopt;
}

json NodeJson(const Node& n) {
    auto category = CategoryOf(n.kind);
    return {{"id", n.id},
            {"crn", n.crn},
            {"kind", n.kind},
            {"category", CategoryName(category.value_or(Category::kEntity))},
            {"name", n.name},
            {"qualified_name", n.qualified_name},
            {"project_id", n.project_id ? json(*n.project_id) : json(nullptr)},
            {"attributes", n.attributes},
            {"created_at", FormatTime(n.created_at)},
            {"updated_at", FormatTime(n.updated_at)}};
}

json GraphJson(const Graph& g) {
    std::map<std::int64_t, const Node*> by_id;
    json nodes = json::array();
    for (const auto& n : g.nodes) {
        by_id[n.id] = &n;
        nodes.push_back(NodeJson(n));
    }
    json edges = json::array();
    for (const auto& e : g.edges) {
        auto from = by_id.find(e.from);
        auto to = by_id.find(e.to);
        if (from == by_id.end() || to == by_id.end()) {
            continue;
        }
        edges.push_back({{"id", e.id},
                         {"from", e.from},
                         {"to", e.to},
                         {"from_crn", from->second->crn},
                         {"to_crn", to->second->crn},
                         {"kind", e.kind}});
    }
    return {{"nodes", std::move(nodes)}, {"edges", std::move(edges)}};
}

// ---- the service

Lineage::Lineage(store::Store& store, const Clock& clock, LineageOptions options,
                 SnapshotPaths snapshot_paths, Exporter* exporter)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      snapshot_paths_(std::move(snapshot_paths)),
      exporter_(exporter) {}

Lineage::~Lineage() { Shutdown(); }

std::string Lineage::Crn(std::string_view kind, std::string_view local) const {
    return "crn:lathe:ml:" + options_.workspace + ":" + std::string(kind) + "/" +
           std::string(local);
}

Status Lineage::Start() {
    Status caught_up = SyncAll(/*catch_up=*/true);
    thread_ = std::thread([this] { Loop(); });
    return caught_up;
}

void Lineage::Shutdown() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Lineage::Wake() {
    {
        std::lock_guard lock(mu_);
        dirty_ = true;
    }
    wake_.notify_all();
}

void Lineage::OnWorkloadStarted(const compute::Workload& w) {
    if (w.kind != compute::WorkloadKind::kJobRun && w.kind != compute::WorkloadKind::kModelBuild) {
        return;
    }
    {
        std::lock_guard lock(mu_);
        started_.insert(w.id);
        dirty_ = true;
    }
    wake_.notify_all();
}

void Lineage::OnWorkloadFinished(const compute::Workload& w) {
    if (w.kind != compute::WorkloadKind::kJobRun && w.kind != compute::WorkloadKind::kModelBuild) {
        return;
    }
    {
        std::lock_guard lock(mu_);
        finished_.insert(w.id);
        dirty_ = true;
    }
    wake_.notify_all();
}

void Lineage::Loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.poll, [this] { return stopping_ || dirty_; });
        if (stopping_) {
            break;
        }
        dirty_ = false;
        lock.unlock();
        if (auto st = SyncAll(false); !st) {
            LogWarn("cannot record lineage", {{"error", st.error().message}});
        }
        lock.lock();
    }
}

Status Lineage::SyncNow() { return SyncAll(false); }

Status Lineage::SyncAll(bool catch_up) {
    std::lock_guard sync(sync_mu_);
    std::set<std::int64_t> workloads;
    {
        std::lock_guard lock(mu_);
        workloads.insert(started_.begin(), started_.end());
        workloads.insert(finished_.begin(), finished_.end());
        started_.clear();
        finished_.clear();
    }
    std::vector<std::int64_t> touched;
    // Rows created since the last pass (all of them, at start).
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(SyncProjects(tx, catch_up, touched));
        RETURN_IF_ERROR(SyncJobs(tx, catch_up, touched));
        return SyncModels(tx, catch_up, touched);
    }));
    std::vector<std::int64_t> runs;
    std::vector<std::int64_t> builds;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        if (catch_up) {
            // Runs and builds whose start or end was not recorded before the server stopped.
            ASSIGN_OR_RETURN(auto rows, tx.Query(
                "SELECT w.id FROM workloads w WHERE w.kind = 'job_run' AND w.started_at IS NOT "
                "NULL AND (NOT EXISTS (SELECT 1 FROM lineage_nodes n WHERE n.kind = 'run_job' AND "
                "n.ref_id = w.id) OR (w.finished_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                "lineage_nodes n WHERE n.kind = 'job_run' AND n.ref_id = w.id)))"));
            for (const auto& r : rows) {
                runs.push_back(r.Int(0));
            }
            ASSIGN_OR_RETURN(auto brows, tx.Query(
                "SELECT b.id FROM model_builds b WHERE b.state IN ('building', 'built', 'failed') "
                "AND b.snapshot <> '' AND NOT EXISTS (SELECT 1 FROM lineage_nodes n WHERE n.kind "
                "= 'build_model' AND n.ref_id = b.id AND n.emitted = 'END')"));
            for (const auto& r : brows) {
                builds.push_back(r.Int(0));
            }
        }
        for (std::int64_t id : workloads) {
            ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT kind FROM workloads WHERE id = ?", {id}));
            if (!row) {
                continue;
            }
            if (row->Text(0) == "job_run") {
                runs.push_back(id);
            } else {
                ASSIGN_OR_RETURN(auto b, tx.QueryOne(
                                             "SELECT id FROM model_builds WHERE workload_id = ?",
                                             {id}));
                if (b) {
                    builds.push_back(b->Int(0));
                }
            }
        }
        return Status{};
    }));
    for (std::int64_t id : runs) {
        // The file walk happens outside the write transaction, which it would hold up.
        const std::vector<std::string> files = ProducedFiles(id);
        RETURN_IF_ERROR(store_.Write(
            [&](store::Tx& tx) -> Status { return SyncRun(tx, id, &files, false, touched); }));
    }
    for (std::int64_t id : builds) {
        RETURN_IF_ERROR(store_.Write(
            [&](store::Tx& tx) -> Status { return SyncBuild(tx, id, touched); }));
    }
    RETURN_IF_ERROR(store_.Write(
        [&](store::Tx& tx) -> Status { return SyncDeployments(tx, catch_up, touched); }));
    Emit(touched);
    return {};
}

Status Lineage::SyncProjects(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    for (;;) {
        ASSIGN_OR_RETURN(
            auto rows,
            tx.Query("SELECT p.id, p.name, p.description, p.visibility, COALESCE(u.username, "
                     "t.name), p.created_at, CASE WHEN p.owner_team_id IS NULL THEN 'user' ELSE "
                     "'team' END FROM projects p LEFT JOIN users u ON u.id = p.owner_user_id "
                     "LEFT JOIN teams t ON t.id = p.owner_team_id WHERE p.id > ? AND NOT EXISTS "
                     "(SELECT 1 FROM lineage_nodes n WHERE n.kind = 'project' AND n.ref_id = "
                     "p.id) ORDER BY p.id LIMIT " +
                         std::to_string(kBatch),
                     {catch_up ? std::int64_t{0} : last_project_}));
        for (const auto& r : rows) {
            const std::int64_t id = r.Int(0);
            Node project;
            project.crn = Crn("project", std::to_string(id));
            project.kind = "project";
            project.name = r.Text(1);
            project.qualified_name = r.Text(4) + "/" + r.Text(1);
            project.project_id = id;
            project.attributes = {{"description", r.Text(2)},
                                  {"visibility", r.Text(3)},
                                  {"owner", r.Text(4)},
                                  {"owner_type", r.Text(6)},
                                  {"project_id", id}};
            ASSIGN_OR_RETURN(auto pid, Upsert(tx, project, id, now));
            Node process;
            process.crn = Crn("process", "create-project-" + std::to_string(id));
            process.kind = "create_project";
            process.name = "create project " + r.Text(1);
            process.qualified_name = process.crn;
            process.project_id = id;
            process.attributes = {{"by", r.Text(4)}, {"at", FormatTime(r.Int(5))}};
            ASSIGN_OR_RETURN(auto proc, Upsert(tx, process, id, now));
            RETURN_IF_ERROR(Link(tx, proc, pid, "output", now));
            touched.push_back(pid);
            last_project_ = std::max(last_project_, id);
        }
        if (rows.size() < static_cast<std::size_t>(kBatch)) {
            return {};
        }
        last_project_ = std::max(last_project_, rows.back().Int(0));
        catch_up = false;
    }
}

namespace {

// The project's node, made from the projects table (or a placeholder for a deleted project).
Result<std::int64_t> ProjectNode(store::Tx& tx, const Lineage& l, std::int64_t project_id,
                                 std::int64_t now) {
    ASSIGN_OR_RETURN(auto id, NodeOf(tx, "project", project_id));
    if (id) {
        return *id;
    }
    Node project;
    project.crn = l.Crn("project", std::to_string(project_id));
    project.kind = "project";
    project.project_id = project_id;
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT name FROM projects WHERE id = ?", {project_id}));
    project.name = row ? row->Text(0) : "project " + std::to_string(project_id);
    project.qualified_name = project.crn;
    project.attributes = {{"project_id", project_id}};
    return Upsert(tx, project, project_id, now);
}

Result<std::int64_t> JobNode(store::Tx& tx, const Lineage& l, std::int64_t job_id,
                             std::int64_t project_id, std::int64_t now) {
    ASSIGN_OR_RETURN(auto id, NodeOf(tx, "job", job_id));
    if (id) {
        return *id;
    }
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT name, script, kernel, schedule, created_by "
                                           "FROM jobs WHERE id = ?",
                                           {job_id}));
    Node job;
    job.crn = l.Crn("job", std::to_string(job_id));
    job.kind = "job";
    job.project_id = project_id;
    job.name = row ? row->Text(0) : "job " + std::to_string(job_id);
    job.qualified_name = "project/" + std::to_string(project_id) + "/jobs/" + job.name;
    if (row) {
        job.attributes = {{"script", row->Text(1)},
                          {"kernel", row->Text(2)},
                          {"schedule", row->Text(3)},
                          {"created_by", row->Text(4)},
                          {"job_id", job_id}};
    } else {
        job.attributes = {{"job_id", job_id}, {"deleted", true}};
    }
    ASSIGN_OR_RETURN(auto jid, Upsert(tx, job, job_id, now));
    ASSIGN_OR_RETURN(auto pid, ProjectNode(tx, l, project_id, now));
    RETURN_IF_ERROR(Link(tx, pid, jid, "contains", now));
    return jid;
}

Result<std::int64_t> ModelNode(store::Tx& tx, const Lineage& l, std::int64_t model_id,
                               std::int64_t now) {
    ASSIGN_OR_RETURN(auto id, NodeOf(tx, "model", model_id));
    if (id) {
        return *id;
    }
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT m.uuid, m.project_id, m.name, m.description, "
                                           "u.username, m.auth_enabled FROM models m JOIN users u "
                                           "ON u.id = m.created_by WHERE m.id = ?",
                                           {model_id}));
    if (!row) {
        return MakeError(ErrorCode::kNotFound, "model " + std::to_string(model_id) + " is gone");
    }
    Node model;
    model.crn = l.Crn("model", row->Text(0));
    model.kind = "model";
    model.project_id = row->Int(1);
    model.name = row->Text(2);
    model.qualified_name = "project/" + std::to_string(row->Int(1)) + "/models/" + row->Text(2);
    model.attributes = {{"description", row->Text(3)},
                        {"created_by", row->Text(4)},
                        {"auth_enabled", row->Bool(5)},
                        {"model_id", model_id}};
    ASSIGN_OR_RETURN(auto mid, Upsert(tx, model, model_id, now));
    ASSIGN_OR_RETURN(auto pid, ProjectNode(tx, l, row->Int(1), now));
    RETURN_IF_ERROR(Link(tx, pid, mid, "contains", now));
    return mid;
}

// A dataset named by a run, a build's lineage.yaml or the SDK.
Result<std::int64_t> DatasetNode(store::Tx& tx, const Lineage& l, std::int64_t project_id,
                                 const std::string& name, std::int64_t now) {
    Node d;
    d.kind = "dataset";
    if (name.find("://") != std::string::npos || IsHiveTable(name)) {
        d.crn = l.Crn("dataset", Sha256Hex(name).substr(0, 32));
        d.name = name;
        d.qualified_name = name;
        d.attributes = {{"source", IsHiveTable(name) ? "hive" : "uri"}};
        ASSIGN_OR_RETURN(auto existing,
                         tx.QueryOne("SELECT id FROM lineage_nodes WHERE crn = ?", {d.crn}));
        if (existing) {
            return existing->Int(0);  // shared by projects: never rewritten by one of them
        }
        return Upsert(tx, d, std::nullopt, now);
    }
    const std::string path = Trimmed(name);
    d.crn = l.Crn("dataset", "project-" + std::to_string(project_id) + "-" +
                                 Sha256Hex(path).substr(0, 24));
    d.name = path;
    d.qualified_name = "project/" + std::to_string(project_id) + "/files/" + path;
    d.project_id = project_id;
    d.attributes = {{"source", "project_file"}, {"path", path}};
    ASSIGN_OR_RETURN(auto existing,
                     tx.QueryOne("SELECT id FROM lineage_nodes WHERE crn = ?", {d.crn}));
    if (existing) {
        return existing->Int(0);
    }
    ASSIGN_OR_RETURN(auto did, Upsert(tx, d, std::nullopt, now));
    ASSIGN_OR_RETURN(auto pid, ProjectNode(tx, l, project_id, now));
    RETURN_IF_ERROR(Link(tx, pid, did, "contains", now));
    return did;
}

}  // namespace

Status Lineage::SyncJobs(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    for (;;) {
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT j.id, j.project_id FROM jobs j WHERE j.id > ? AND NOT "
                                  "EXISTS (SELECT 1 FROM lineage_nodes n WHERE n.kind = 'job' AND "
                                  "n.ref_id = j.id) ORDER BY j.id LIMIT " +
                                      std::to_string(kBatch),
                                  {catch_up ? std::int64_t{0} : last_job_}));
        for (const auto& r : rows) {
            ASSIGN_OR_RETURN(auto id, JobNode(tx, *this, r.Int(0), r.Int(1), now));
            touched.push_back(id);
            last_job_ = std::max(last_job_, r.Int(0));
        }
        if (rows.size() < static_cast<std::size_t>(kBatch)) {
            return {};
        }
        catch_up = false;
    }
}

Status Lineage::SyncModels(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    for (;;) {
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT m.id FROM models m WHERE m.id > ? AND NOT EXISTS "
                                  "(SELECT 1 FROM lineage_nodes n WHERE n.kind = 'model' AND "
                                  "n.ref_id = m.id) ORDER BY m.id LIMIT " +
                                      std::to_string(kBatch),
                                  {catch_up ? std::int64_t{0} : last_model_}));
        for (const auto& r : rows) {
            ASSIGN_OR_RETURN(auto id, ModelNode(tx, *this, r.Int(0), now));
            touched.push_back(id);
            last_model_ = std::max(last_model_, r.Int(0));
        }
        if (rows.size() < static_cast<std::size_t>(kBatch)) {
            return {};
        }
        catch_up = false;
    }
}

std::vector<std::string> Lineage::ChangedFiles(std::int64_t project_id, std::int64_t from_ms,
                                               std::int64_t to_ms) {
    std::vector<std::string> out;
    const fs::path root = options_.projects_dir / std::to_string(project_id) / "files";
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    std::int64_t seen = 0;
    // From the moment the run was queued (a file uploaded before it is the user's, not the
    // run's), to a second after it ended (the runner may report the end before the last
    // writes' timestamps).
    const std::int64_t lo = from_ms;
    const std::int64_t hi = to_ms + 1000;
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (++seen > options_.max_scanned_entries) {
            break;
        }
        const auto name = it->path().filename().string();
        if (name.starts_with(".")) {
            if (it->is_directory(ec)) {
                it.disable_recursion_pending();
            }
            continue;
        }
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        const std::int64_t mtime =
            std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
        if (mtime >= lo && mtime <= hi) {
            out.push_back(fs::relative(it->path(), root, ec).generic_string());
            if (static_cast<std::int64_t>(out.size()) >= options_.max_produced_files) {
                break;
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Status Lineage::SyncRun(store::Tx& tx, std::int64_t workload_id,
                        const std::vector<std::string>* produced, bool reporting,
                        std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    ASSIGN_OR_RETURN(auto row,
                     tx.QueryOne("SELECT w.project_id, w.job_id, w.state, w.reason, w.trigger, "
                                 "w.exit_code, w.started_at, w.finished_at, u.username, "
                                 "w.created_at FROM "
                                 "workloads w JOIN users u ON u.id = w.owner_user_id WHERE w.id = "
                                 "? AND w.kind = 'job_run'",
                                 {workload_id}));
    // Gone, or never started: nothing ran, nothing to record. A run whose code reports datasets
    // runs, even if its runner's "started" has not reached the server yet.
    if (!row || (row->IsNull(6) && !reporting)) {
        return {};
    }
    const std::int64_t project_id = row->Int(0);
    const std::string state = row->Text(2);
    const bool ended = IsFinalState(state);
    std::optional<std::int64_t> job;
    std::string job_name = "run";
    if (!row->IsNull(1)) {
        ASSIGN_OR_RETURN(auto jid, JobNode(tx, *this, row->Int(1), project_id, now));
        job = jid;
        ASSIGN_OR_RETURN(auto jn, tx.QueryOne("SELECT name FROM lineage_nodes WHERE id = ?",
                                              {jid}));
        job_name = jn ? jn->Text(0) : job_name;
    }
    const std::string id = std::to_string(workload_id);
    Node process;
    process.crn = Crn("process", "run-job-" + id);
    process.kind = "run_job";
    process.name = "run " + id + " of " + job_name;
    process.qualified_name = process.crn;
    process.project_id = project_id;
    process.attributes = {{"run_id", workload_id},
                          {"job", job_name},
                          {"state", state},
                          {"trigger", row->Text(4)},
                          {"by", row->Text(8)},
                          {"started_at", FormatTime(row->IsNull(6) ? row->Int(9) : row->Int(6))}};
    if (ended) {
        process.attributes["finished_at"] =
            row->IsNull(7) ? json(nullptr) : json(FormatTime(row->Int(7)));
        process.attributes["reason"] = row->Text(3);
        process.attributes["exit_code"] = row->IsNull(5) ? json(nullptr) : json(row->Int(5));
    }
    ASSIGN_OR_RETURN(auto proc, Upsert(tx, process, workload_id, now));
    if (job) {
        RETURN_IF_ERROR(Link(tx, *job, proc, "input", now));
    }
    touched.push_back(proc);
    if (!ended) {
        return {};
    }
    Node run;
    run.crn = Crn("job-run", id);
    run.kind = "job_run";
    run.name = job_name + " run " + id;
    run.qualified_name = "project/" + std::to_string(project_id) + "/runs/" + id;
    run.project_id = project_id;
    run.attributes = process.attributes;
    ASSIGN_OR_RETURN(auto rid, Upsert(tx, run, workload_id, now));
    RETURN_IF_ERROR(Link(tx, proc, rid, "output", now));
    if (produced != nullptr) {
        for (const auto& path : *produced) {
            ASSIGN_OR_RETURN(auto did, DatasetNode(tx, *this, project_id, path, now));
            RETURN_IF_ERROR(Link(tx, proc, did, "output", now));
        }
    }
    return {};
}

std::vector<std::string> Lineage::ProducedFiles(std::int64_t workload_id) {
    std::optional<std::array<std::int64_t, 3>> run;  // project, queued, ended
    auto st = store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT project_id, created_at, finished_at, state "
                                               "FROM workloads WHERE id = ? AND kind = 'job_run'",
                                               {workload_id}));
        const std::string state = row ? row->Text(3) : "";
        // A stopped run's files are half-written at best; the others' are what they made.
        if (row && !row->IsNull(2) &&
            (state == "succeeded" || state == "failed" || state == "timedout")) {
            run = std::array<std::int64_t, 3>{row->Int(0), row->Int(1), row->Int(2)};
        }
        return Status{};
    });
    if (!st || !run) {
        return {};
    }
    // What the run wrote into the project: files modified while it ran.
    return ChangedFiles((*run)[0], (*run)[1], (*run)[2]);
}

Status Lineage::RecordRunIO(std::int64_t project_id, std::int64_t workload_id,
                            const std::vector<std::string>& used,
                            const std::vector<std::string>& produced) {
    std::vector<std::int64_t> touched;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT project_id, kind, started_at FROM workloads "
                                               "WHERE id = ?",
                                               {workload_id}));
        if (!row || row->Int(0) != project_id || row->Text(1) != "job_run") {
            return MakeError(ErrorCode::kNotFound, "run " + std::to_string(workload_id) +
                                                       " does not exist in project " +
                                                       std::to_string(project_id));
        }
        RETURN_IF_ERROR(SyncRun(tx, workload_id, nullptr, /*reporting=*/true, touched));
        ASSIGN_OR_RETURN(auto proc, NodeOf(tx, "run_job", workload_id));
        if (!proc) {
            return MakeError(ErrorCode::kConflict,
                             "run " + std::to_string(workload_id) + " has not started");
        }
        // Bounded per run, so a runaway loop in a job can't fill the graph.
        ASSIGN_OR_RETURN(auto count, tx.QueryOne("SELECT COUNT(*) FROM lineage_edges WHERE "
                                                 "from_id = ? OR to_id = ?",
                                                 {*proc, *proc}));
        if (count && count->Int(0) + static_cast<std::int64_t>(used.size() + produced.size()) >
                         kMaxRunDatasets) {
            return MakeError(ErrorCode::kConflict,
                             "a run records at most " + std::to_string(kMaxRunDatasets) +
                                 " datasets; run " + std::to_string(workload_id) + " has " +
                                 std::to_string(count->Int(0)));
        }
        const std::int64_t now = clock_.NowMs();
        for (const auto& name : used) {
            ASSIGN_OR_RETURN(auto did, DatasetNode(tx, *this, project_id, name, now));
            RETURN_IF_ERROR(Link(tx, did, *proc, "input", now));
        }
        for (const auto& name : produced) {
            ASSIGN_OR_RETURN(auto did, DatasetNode(tx, *this, project_id, name, now));
            RETURN_IF_ERROR(Link(tx, *proc, did, "output", now));
        }
        return Status{};
    }));
    return {};
}

Status Lineage::SyncBuild(store::Tx& tx, std::int64_t build_id,
                          std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    ASSIGN_OR_RETURN(auto row,
                     tx.QueryOne("SELECT b.uuid, b.model_id, b.project_id, b.state, b.snapshot, "
                                 "b.file_path, b.function_name, b.kernel, b.info, u.username, "
                                 "b.created_at, b.finished_at, b.snapshot_files, b.rebuild_of, "
                                 "b.reason FROM model_builds b JOIN users u ON u.id = b.created_by "
                                 "WHERE b.id = ?",
                                 {build_id}));
    if (!row || row->Text(4).empty()) {
        return {};
    }
    const std::int64_t project_id = row->Int(2);
    const std::string state = row->Text(3);
    const std::string snapshot = row->Text(4);
    const json info = Parse(row->Text(8));
    ASSIGN_OR_RETURN(auto model, ModelNode(tx, *this, row->Int(1), now));
    const std::string id = std::to_string(build_id);
    Node process;
    process.crn = Crn("process", "build-model-" + id);
    process.kind = "build_model";
    process.name = "build " + id;
    process.qualified_name = process.crn;
    process.project_id = project_id;
    process.attributes = {{"build_id", build_id},
                          {"state", state},
                          {"file", row->Text(5)},
                          {"function", row->Text(6)},
                          {"kernel", row->Text(7)},
                          {"snapshot", snapshot},
                          {"by", row->Text(9)},
                          {"created_at", FormatTime(row->Int(10))}};
    if (!row->IsNull(13)) {
        process.attributes["rebuild_of"] = row->Int(13);
    }
    if (state == "failed") {
        process.attributes["reason"] = row->Text(14);
    }
    for (const char* key : {"python", "interpreter"}) {
        if (info.contains(key)) {
            process.attributes[key] = info[key];
        }
    }
    ASSIGN_OR_RETURN(auto proc, Upsert(tx, process, build_id, now));
    RETURN_IF_ERROR(Link(tx, model, proc, "input", now));
    touched.push_back(proc);

    Node snap;
    snap.crn = Crn("file-snapshot", std::to_string(project_id) + "-" + snapshot);
    snap.kind = "file_snapshot";
    snap.name = "snapshot " + snapshot.substr(0, 12);
    snap.qualified_name = "project/" + std::to_string(project_id) + "/snapshots/" + snapshot;
    snap.project_id = project_id;
    snap.attributes = {{"snapshot", snapshot}, {"files", row->Int(12)}};
    ASSIGN_OR_RETURN(auto sid, Upsert(tx, snap, std::nullopt, now));
    ASSIGN_OR_RETURN(auto pid, ProjectNode(tx, *this, project_id, now));
    RETURN_IF_ERROR(Link(tx, pid, sid, "contains", now));
    RETURN_IF_ERROR(Link(tx, sid, proc, "input", now));

    // Declared training data (lineage.yaml), and files of the snapshot some run produced.
    if (info.contains("lineage") && info["lineage"].is_object()) {
        const json& decl = info["lineage"];
        for (const char* key : {"hive_table_qualified_names", "datasets"}) {
            if (!decl.contains(key) || !decl[key].is_array()) {
                continue;
            }
            for (const auto& name : decl[key]) {
                if (!name.is_string() || name.get<std::string>().empty()) {
                    continue;
                }
                ASSIGN_OR_RETURN(auto did,
                                 DatasetNode(tx, *this, project_id, name.get<std::string>(), now));
                RETURN_IF_ERROR(Link(tx, did, proc, "input", now));
            }
        }
    }
    if (snapshot_paths_ && row->Int(12) <= 20000) {
        if (auto paths = snapshot_paths_(snapshot)) {
            for (const auto& path : *paths) {
                const std::string crn = Crn("dataset", "project-" + std::to_string(project_id) +
                                                           "-" + Sha256Hex(path).substr(0, 24));
                ASSIGN_OR_RETURN(auto known,
                                 tx.QueryOne("SELECT id FROM lineage_nodes WHERE crn = ?", {crn}));
                if (known) {
                    RETURN_IF_ERROR(Link(tx, known->Int(0), proc, "input", now));
                }
            }
        }
    }
    if (state != "built") {
        return {};
    }
    Node build;
    build.crn = Crn("model-build", row->Text(0));
    build.kind = "model_build";
    build.name = "build " + id;
    build.qualified_name = build.crn;
    build.project_id = project_id;
    build.attributes = process.attributes;
    ASSIGN_OR_RETURN(auto bid, Upsert(tx, build, build_id, now));
    RETURN_IF_ERROR(Link(tx, proc, bid, "output", now));
    return {};
}

Status Lineage::SyncDeployments(store::Tx& tx, bool catch_up,
                                std::vector<std::int64_t>& touched) {
    const std::int64_t now = clock_.NowMs();
    for (;;) {
        ASSIGN_OR_RETURN(
            auto rows,
            tx.Query("SELECT d.id, d.uuid, d.build_id, d.project_id, d.config, u.username, "
                     "d.created_at, d.model_id FROM model_deployments d JOIN users u ON u.id = "
                     "d.created_by WHERE d.id > ? AND NOT EXISTS (SELECT 1 FROM lineage_nodes n "
                     "WHERE n.kind = 'deploy_model' AND n.ref_id = d.id) ORDER BY d.id LIMIT " +
                         std::to_string(kBatch),
                     {catch_up ? std::int64_t{0} : last_deployment_}));
        for (const auto& r : rows) {
            const std::int64_t dep_id = r.Int(0);
            ASSIGN_OR_RETURN(auto build, NodeOf(tx, "model_build", r.Int(2)));
            if (!build) {
                RETURN_IF_ERROR(SyncBuild(tx, r.Int(2), touched));
                ASSIGN_OR_RETURN(build, NodeOf(tx, "model_build", r.Int(2)));
            }
            const json config = Parse(r.Text(4));
            const std::string id = std::to_string(dep_id);
            Node process;
            process.crn = Crn("process", "deploy-model-" + id);
            process.kind = "deploy_model";
            process.name = "deploy " + id;
            process.qualified_name = process.crn;
            process.project_id = r.Int(3);
            process.attributes = {{"deployment_id", dep_id},
                                  {"build_id", r.Int(2)},
                                  {"model_id", r.Int(7)},
                                  {"by", r.Text(5)},
                                  {"at", FormatTime(r.Int(6))}};
            for (const char* key : {"replicas", "min_replicas", "max_replicas", "cpu_millicores",
                                    "memory_mib", "gpus"}) {
                if (config.contains(key) && !config[key].is_null()) {
                    process.attributes[key] = config[key];
                }
            }
            ASSIGN_OR_RETURN(auto proc, Upsert(tx, process, dep_id, now));
            if (build) {
                RETURN_IF_ERROR(Link(tx, *build, proc, "input", now));
            }
            Node deployment;
            deployment.crn = Crn("model-deployment", r.Text(1));
            deployment.kind = "model_deployment";
            deployment.name = "deployment " + id;
            deployment.qualified_name = deployment.crn;
            deployment.project_id = r.Int(3);
            deployment.attributes = process.attributes;
            ASSIGN_OR_RETURN(auto did, Upsert(tx, deployment, dep_id, now));
            RETURN_IF_ERROR(Link(tx, proc, did, "output", now));
            touched.push_back(proc);
            last_deployment_ = std::max(last_deployment_, dep_id);
        }
        if (rows.size() < static_cast<std::size_t>(kBatch)) {
            return {};
        }
        catch_up = false;
    }
}

// ---- export hand-off

void Lineage::Emit(const std::vector<std::int64_t>& touched) {
    if (exporter_ == nullptr || touched.empty()) {
        return;
    }
    std::set<std::int64_t> ids(touched.begin(), touched.end());
    Graph changed;
    std::vector<RunEventInput> events;
    auto st = store_.Write([&](store::Tx& tx) -> Status {
        std::set<std::int64_t> in_graph;
        auto add = [&](const Node& n) {
            if (in_graph.insert(n.id).second) {
                changed.nodes.push_back(n);
            }
        };
        for (std::int64_t id : ids) {
            ASSIGN_OR_RETURN(auto row,
                             tx.QueryOne("SELECT " + std::string(kNodeColumns) +
                                             ", emitted FROM lineage_nodes WHERE id = ?",
                                         {id}));
            if (!row) {
                continue;
            }
            Node n = NodeFromRow(*row);
            const std::string emitted = row->Text(9);
            add(n);
            ASSIGN_OR_RETURN(auto edges,
                             tx.Query("SELECT id, from_id, to_id, kind, created_at FROM "
                                      "lineage_edges WHERE from_id = ? OR to_id = ?",
                                      {id, id}));
            std::vector<Node> inputs;
            std::vector<Node> outputs;
            for (const auto& e : edges) {
                const std::int64_t other = e.Int(1) == id ? e.Int(2) : e.Int(1);
                ASSIGN_OR_RETURN(auto orow,
                                 tx.QueryOne("SELECT " + std::string(kNodeColumns) +
                                                 " FROM lineage_nodes WHERE id = ?",
                                             {other}));
                if (!orow) {
                    continue;
                }
                Node o = NodeFromRow(*orow);
                add(o);
                changed.edges.push_back({e.Int(0), e.Int(1), e.Int(2), e.Text(3), e.Int(4)});
                if (e.Text(3) == "input" && e.Int(2) == id) {
                    inputs.push_back(o);
                } else if (e.Text(3) == "output" && e.Int(1) == id) {
                    outputs.push_back(o);
                }
            }
            if (n.kind != "run_job" && n.kind != "build_model") {
                continue;
            }
            // OpenLineage: START once it runs, then COMPLETE or FAIL once it ended.
            const std::string state = n.attributes.value("state", "");
            const bool ended = IsFinalState(state) || state == "built";
            const bool running = state == "running" || state == "building";
            if (emitted == "END" || (!ended && !running) || (!ended && emitted == "START")) {
                continue;
            }
            RunEventInput base;
            base.run_crn = n.crn;
            base.job_name = n.kind == "run_job"
                                ? "project-" + std::to_string(n.project_id.value_or(0)) +
                                      ".job." + n.attributes.value("job", std::string("run"))
                                : "project-" + std::to_string(n.project_id.value_or(0)) +
                                      ".model-build";
            base.event_time_ms = n.updated_at;
            if (emitted.empty()) {
                RunEventInput start = base;
                start.event_type = "START";
                events.push_back(start);
            }
            if (ended) {
                RunEventInput end = base;
                for (const auto& o : inputs) {
                    if (o.kind == "dataset" || o.kind == "file_snapshot") {
                        end.inputs.push_back(o);
                    }
                }
                for (const auto& o : outputs) {
                    if (o.kind == "dataset" || o.kind == "model_build") {
                        end.outputs.push_back(o);
                    }
                }
                const bool ok = state == "succeeded" || state == "built";
                end.event_type = ok ? "COMPLETE" : "FAIL";
                if (!ok) {
                    std::string why = n.attributes.value("reason", std::string());
                    end.error_message = why.empty() ? "the " + n.kind + " ended " + state : why;
                    // The language of the code that failed: the job's kernel, or the model's.
                    std::string kernel = n.attributes.value("kernel", std::string());
                    for (const auto& o : inputs) {
                        if (o.kind == "job") {
                            kernel = o.attributes.value("kernel", kernel);
                        }
                    }
                    end.programming_language = kernel == "r"                  ? "R"
                                               : kernel.starts_with("python") ? "python"
                                                                              : kernel;
                }
                events.push_back(end);
            }
            RETURN_IF_ERROR(tx.Exec("UPDATE lineage_nodes SET emitted = ? WHERE id = ?",
                                    {std::string(ended ? "END" : "START"), id}));
        }
        return Status{};
    });
    if (!st) {
        LogWarn("cannot prepare lineage export", {{"error", st.error().message}});
        return;
    }
    for (const auto& e : events) {
        if (auto sent = exporter_->EnqueueRunEvent(e); !sent) {
            LogWarn("cannot queue an OpenLineage event", {{"error", sent.error().message}});
        }
    }
    if (!changed.nodes.empty()) {
        if (auto sent = exporter_->EnqueueEntities(changed); !sent) {
            LogWarn("cannot queue Atlas entities", {{"error", sent.error().message}});
        }
    }
}

// ---- reads

namespace {

struct Visibility {
    bool all = false;
    std::set<std::int64_t> projects;
    bool Sees(const Node& n) const {
        return all || (n.project_id && projects.count(*n.project_id) > 0);
    }
};

Result<Visibility> VisibilityOf(store::Tx& tx, const auth::Principal& caller) {
    Visibility v;
    if (caller.is_admin) {
        v.all = true;
        return v;
    }
    ASSIGN_OR_RETURN(v.projects, projects::Projects::ReadableIds(tx, caller));
    return v;
}

Result<std::optional<Node>> LoadNode(store::Tx& tx, std::string_view where, store::Value key) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kNodeColumns) +
                                               " FROM lineage_nodes WHERE " + std::string(where),
                                           {key}));
    if (!row) {
        return std::optional<Node>();
    }
    return std::optional<Node>(NodeFromRow(*row));
}

// A node outside projects (a shared dataset) is seen by those who see something it touches.
Result<bool> Visible(store::Tx& tx, const Visibility& v, const Node& n) {
    if (v.Sees(n)) {
        return true;
    }
    if (n.project_id) {
        return false;
    }
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT DISTINCT o.project_id FROM lineage_edges e JOIN "
                              "lineage_nodes o ON o.id = CASE WHEN e.from_id = ? THEN e.to_id "
                              "ELSE e.from_id END WHERE (e.from_id = ? OR e.to_id = ?) AND "
                              "o.project_id IS NOT NULL",
                              {n.id, n.id, n.id}));
    for (const auto& r : rows) {
        if (v.projects.count(r.Int(0)) > 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

Result<Graph> Lineage::Around(const auth::Principal& caller, const std::string& crn, int depth,
                              Direction direction, std::size_t max_nodes, bool* truncated) {
    Graph g;
    *truncated = false;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Visibility v, VisibilityOf(tx, caller));
        ASSIGN_OR_RETURN(auto start, LoadNode(tx, "crn = ?", crn));
        bool seen = false;
        if (start) {
            ASSIGN_OR_RETURN(seen, Visible(tx, v, *start));
        }
        if (!seen) {
            return MakeError(ErrorCode::kNotFound, "no lineage entity " + crn);
        }
        std::map<std::int64_t, Node> nodes{{start->id, *start}};
        std::map<std::int64_t, Edge> edges;
        std::vector<std::pair<std::int64_t, Direction>> frontier;
        if (direction == Direction::kBoth) {
            // Both ways from the start, but each path keeps its way: "both" is ancestors plus
            // descendants, not everything connected.
            frontier = {{start->id, Direction::kUp}, {start->id, Direction::kDown}};
        } else {
            frontier = {{start->id, direction}};
        }
        for (int level = 0; level < depth && !frontier.empty(); ++level) {
            std::vector<std::pair<std::int64_t, Direction>> next;
            for (const auto& [id, dir] : frontier) {
                const bool up = dir == Direction::kUp;
                ASSIGN_OR_RETURN(auto rows,
                                 tx.Query(std::string("SELECT e.id, e.from_id, e.to_id, e.kind, "
                                                      "e.created_at FROM lineage_edges e WHERE ") +
                                              (up ? "e.to_id = ?" : "e.from_id = ?") +
                                              " ORDER BY e.id",
                                          {id}));
                for (const auto& r : rows) {
                    Edge e{r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Int(4)};
                    const std::int64_t other = up ? e.from : e.to;
                    if (!nodes.count(other)) {
                        if (nodes.size() >= max_nodes) {
                            *truncated = true;
                            continue;
                        }
                        ASSIGN_OR_RETURN(auto o, LoadNode(tx, "id = ?", other));
                        if (!o) {
                            continue;
                        }
                        const Node& from_node = nodes.at(id);
                        // A shared dataset reached from a node the caller sees is visible.
                        bool ok = v.Sees(*o) || (!o->project_id && v.Sees(from_node));
                        if (!ok && !o->project_id) {
                            ASSIGN_OR_RETURN(ok, Visible(tx, v, *o));
                        }
                        if (!ok) {
                            continue;
                        }
                        nodes.emplace(other, *o);
                        next.emplace_back(other, dir);
                    }
                    edges.emplace(e.id, e);
                }
            }
            frontier = std::move(next);
        }
        for (auto& [_, n] : nodes) {
            g.nodes.push_back(std::move(n));
        }
        for (auto& [_, e] : edges) {
            g.edges.push_back(std::move(e));
        }
        return Status{};
    }));
    return g;
}

Result<std::vector<Node>> Lineage::Search(const auth::Principal& caller, const SearchQuery& q) {
    std::vector<Node> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Visibility v, VisibilityOf(tx, caller));
        std::string sql = "SELECT " + std::string(kNodeColumns) + " FROM lineage_nodes WHERE id > ?";
        store::Params params;
        std::int64_t after = q.after_id;
        std::string filters;
        store::Params filter_params;
        if (!q.text.empty()) {
            std::string like = "%";
            for (char c : q.text) {
                if (c == '%' || c == '_' || c == '\\') {
                    like += '\\';
                }
                like += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            like += "%";
            filters += " AND (LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(qualified_name) LIKE ? "
                       "ESCAPE '\\')";
            filter_params.emplace_back(like);
            filter_params.emplace_back(like);
        }
        if (!q.kind.empty()) {
            filters += " AND kind = ?";
            filter_params.emplace_back(q.kind);
        }
        if (q.project_id) {
            filters += " AND project_id = ?";
            filter_params.emplace_back(*q.project_id);
        }
        for (;;) {
            store::Params p{after};
            p.insert(p.end(), filter_params.begin(), filter_params.end());
            ASSIGN_OR_RETURN(auto rows, tx.Query(sql + filters + " ORDER BY id LIMIT 500", p));
            for (const auto& r : rows) {
                Node n = NodeFromRow(r);
                after = n.id;
                ASSIGN_OR_RETURN(bool ok, Visible(tx, v, n));
                if (ok) {
                    out.push_back(std::move(n));
                    if (static_cast<int>(out.size()) >= q.page_size) {
                        return Status{};
                    }
                }
            }
            if (rows.size() < 500) {
                return Status{};
            }
        }
    }));
    return out;
}

Result<Graph> Lineage::Everything(const auth::Principal& caller, std::size_t max_nodes,
                                  bool* truncated) {
    Graph g;
    *truncated = false;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Visibility v, VisibilityOf(tx, caller));
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kNodeColumns) +
                                             " FROM lineage_nodes ORDER BY id"));
        std::set<std::int64_t> ids;
        std::vector<Node> shared;
        for (const auto& r : rows) {
            Node n = NodeFromRow(r);
            if (v.Sees(n)) {
                if (g.nodes.size() >= max_nodes) {
                    *truncated = true;
                    break;
                }
                ids.insert(n.id);
                g.nodes.push_back(std::move(n));
            } else if (!n.project_id) {
                shared.push_back(std::move(n));
            }
        }
        ASSIGN_OR_RETURN(auto erows, tx.Query("SELECT id, from_id, to_id, kind, created_at FROM "
                                              "lineage_edges ORDER BY id"));
        std::set<std::int64_t> shared_seen;
        for (const auto& r : erows) {
            const std::int64_t from = r.Int(1);
            const std::int64_t to = r.Int(2);
            if (ids.count(from) || ids.count(to)) {
                shared_seen.insert(ids.count(from) ? to : from);
            }
        }
        for (auto& n : shared) {
            if (shared_seen.count(n.id) && g.nodes.size() < max_nodes) {
                ids.insert(n.id);
                g.nodes.push_back(std::move(n));
            }
        }
        for (const auto& r : erows) {
            if (ids.count(r.Int(1)) && ids.count(r.Int(2))) {
                g.edges.push_back({r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Int(4)});
            }
        }
        return Status{};
    }));
    return g;
}

Result<std::vector<Node>> Lineage::TrainingData(std::int64_t build_id) {
    std::vector<Node> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto proc, NodeOf(tx, "build_model", build_id));
        if (!proc) {
            return Status{};
        }
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT n.id, n.crn, n.kind, n.name, n.qualified_name, "
                                  "n.project_id, n.attributes, n.created_at, n.updated_at FROM "
                                  "lineage_edges e JOIN lineage_nodes n ON n.id = e.from_id WHERE "
                                  "e.to_id = ? AND e.kind = 'input' AND n.kind = 'dataset' ORDER "
                                  "BY n.id",
                                  {*proc}));
        for (const auto& r : rows) {
            out.push_back(NodeFromRow(r));
        }
        return Status{};
    }));
    return out;
}

}  // namespace lathe::lineage
