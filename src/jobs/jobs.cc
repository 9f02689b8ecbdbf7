// Jobs over the Store, and turning a job into a workload for the scheduler.
#include "jobs/jobs.h"

#include "core/log.h"

#include <algorithm>
#include "projects/environment.h"

namespace lathe::jobs {
namespace {

constexpr std::string_view kJobColumns =
    "j.id, j.project_id, j.name, j.script, j.arguments, j.kernel, j.cpu_millicores, j.memory_mib, "
    "j.gpus, j.timeout_seconds, j.kill_on_timeout, j.environment, j.schedule, j.timezone, "
    "j.parent_job_id, u.username, j.created_at, j.updated_at, j.overlap, j.catch_up, "
    "j.next_run_at, j.notifications, j.created_by";
constexpr std::string_view kJobFrom = " FROM jobs j JOIN users u ON u.id = j.created_by ";

Job JobFromRow(const store::Row& r) {
    Job j;
    j.id = r.Int(0);
    j.project_id = r.Int(1);
    j.name = r.Text(2);
    j.script = r.Text(3);
    j.arguments = r.Text(4);
    j.kernel = r.Text(5);
    j.resources = {r.Int(6), r.Int(7), r.Int(8)};
    j.timeout_seconds = r.Int(9);
    j.kill_on_timeout = r.Bool(10);
    auto env = nlohmann::json::parse(r.Text(11), nullptr, false);
    if (env.is_object()) {
        for (const auto& [k, v] : env.items()) {
            if (v.is_string()) {
                j.environment[k] = v.get<std::string>();
            }
        }
    }
    j.schedule = r.Text(12);
    j.timezone = r.Text(13);
    if (!r.IsNull(14)) {
        j.parent_job_id = r.Int(14);
    }
    j.created_by = r.Text(15);
    j.created_at = r.Int(16);
    j.updated_at = r.Int(17);
    j.overlap = r.Text(18);
    j.catch_up = r.Bool(19);
    if (!r.IsNull(20)) {
        j.next_run_at = r.Int(20);
    }
    auto notes = nlohmann::json::parse(r.Text(21), nullptr, false);
    if (notes.is_array()) {
        for (const auto& n : notes) {
            Notification note;
            note.url = n.value("url", "");
            note.events = n.value("events", std::vector<std::string>{});
            j.notifications.push_back(std::move(note));
        }
    }
    return j;
}

Result<Job> LoadJob(store::Tx& tx, std::int64_t project_id, std::int64_t job_id) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kJobColumns) +
                                               std::string(kJobFrom) +
                                               "WHERE j.id = ? AND j.project_id = ?",
                                           {job_id, project_id}));
    if (!row) {
        return MakeError(ErrorCode::kNotFound, "job " + std::to_string(job_id) + " does not exist");
    }
    return JobFromRow(*row);
}

void Apply(const JobFields& f, Job& j) {
    if (f.name) j.name = *f.name;
    if (f.script) j.script = *f.script;
    if (f.arguments) j.arguments = *f.arguments;
    if (f.kernel) j.kernel = *f.kernel;
    if (f.cpu_millicores) j.resources.cpu_millicores = *f.cpu_millicores;
    if (f.memory_mib) j.resources.memory_mib = *f.memory_mib;
    if (f.gpus) j.resources.gpus = *f.gpus;
    if (f.timeout_seconds) j.timeout_seconds = *f.timeout_seconds;
    if (f.kill_on_timeout) j.kill_on_timeout = *f.kill_on_timeout;
    if (f.environment) j.environment = *f.environment;
    if (f.schedule) j.schedule = *f.schedule;
    if (f.timezone) j.timezone = *f.timezone;
    if (f.parent_job_id) j.parent_job_id = *f.parent_job_id;
    if (f.overlap) j.overlap = *f.overlap;
    if (f.catch_up) j.catch_up = *f.catch_up;
    if (f.notifications) j.notifications = *f.notifications;
}

nlohmann::json NotificationsJson(const std::vector<Notification>& notes) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& n : notes) {
        out.push_back({{"url", n.url}, {"events", n.events}});
    }
    return out;
}


// The first fire time after `now`, as a store value (NULL for jobs without a schedule).
store::Value NextRun(const Job& job, std::int64_t now) {
    if (job.schedule.empty()) {
        return nullptr;
    }
    auto parsed = ParseSchedule(job.schedule, job.timezone);
    if (!parsed) {
        return nullptr;
    }
    auto next = NextFireTime(*parsed, now);
    return next ? store::Value(*next) : store::Value(nullptr);
}

}  // namespace

Result<std::vector<Kernel>> ParseKernels(std::string_view text) {
    std::vector<Kernel> out;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 >= item.size() || item[eq + 1] != '/') {
            return MakeError(ErrorCode::kBadRequest,
                             "kernels: '" + std::string(item) +
                                 "' is not name=/absolute/interpreter (e.g. python3=/usr/bin/python3)");
        }
        out.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1))});
    }
    if (out.empty()) {
        return MakeError(ErrorCode::kBadRequest, "kernels: at least one is needed");
    }
    return out;
}

const Kernel* Jobs::FindKernel(std::string_view name) const {
    for (const auto& k : options_.kernels) {
        if (k.name == name) {
            return &k;
        }
    }
    return nullptr;
}

Result<std::vector<ResourceProfile>> Jobs::Profiles() {
    std::vector<ResourceProfile> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT name, cpu_millicores, memory_mib, gpus FROM "
                                             "resource_profiles ORDER BY cpu_millicores, name"));
        for (const auto& r : rows) {
            out.push_back({r.Text(0), {r.Int(1), r.Int(2), r.Int(3)}});
        }
        return {};
    }));
    return out;
}

Status Jobs::SetProfile(const ResourceProfile& p) {
    if (p.name.empty() || p.name.size() > 64) {
        return MakeError(ErrorCode::kBadRequest, "a profile name is 1-64 characters");
    }
    if (p.resources.cpu_millicores <= 0 || p.resources.cpu_millicores > options_.max_cpu_millicores ||
        p.resources.memory_mib <= 0 || p.resources.memory_mib > options_.max_memory_mib ||
        p.resources.gpus < 0) {
        return MakeError(ErrorCode::kBadRequest,
                         "a profile needs cpu and memory above 0 and within the per-workload "
                         "maximums (" +
                             compute::FormatResources(
                                 {options_.max_cpu_millicores, options_.max_memory_mib, 0}) +
                             ")");
    }
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM resource_profiles WHERE name = ?", {p.name}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO resource_profiles (name, cpu_millicores, memory_mib, "
                                "gpus) VALUES (?, ?, ?, ?)",
                                {p.name, p.resources.cpu_millicores, p.resources.memory_mib,
                                 p.resources.gpus}));
        return {};
    });
}

Status Jobs::DeleteProfile(std::string_view name) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM resource_profiles WHERE name = ?",
                                         {std::string(name)}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound,
                             "resource profile '" + std::string(name) + "' does not exist");
        }
        return {};
    });
}

Status Jobs::ApplyProfile(const JobFields& f, Job& job) {
    if (!f.resource_profile) {
        return {};
    }
    ASSIGN_OR_RETURN(auto profiles, Profiles());
    for (const auto& p : profiles) {
        if (p.name == *f.resource_profile) {
            if (!f.cpu_millicores) {
                job.resources.cpu_millicores = p.resources.cpu_millicores;
            }
            if (!f.memory_mib) {
                job.resources.memory_mib = p.resources.memory_mib;
            }
            if (!f.gpus) {
                job.resources.gpus = p.resources.gpus;
            }
            return {};
        }
    }
    return MakeError(ErrorCode::kBadRequest,
                     "resource profile '" + *f.resource_profile + "' does not exist");
}

Result<std::vector<std::string>> SplitArguments(std::string_view text) {
    std::vector<std::string> out;
    std::string current;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
                current += text[++i];
            } else {
                current += c;
            }
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < text.size()) {
            current += text[++i];
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                out.push_back(std::move(current));
                current.clear();
                in_word = false;
            }
        } else {
            current += c;
            in_word = true;
        }
    }
    if (quote != 0) {
        return MakeError(ErrorCode::kBadRequest, "arguments have an unclosed quote");
    }
    if (in_word) {
        out.push_back(std::move(current));
    }
    return out;
}

Jobs::Jobs(store::Store& store, const Clock& clock, projects::Projects& projects,
           projects::Environment& environment, compute::Scheduler& scheduler,
           compute::WorkloadRecords& records, JobsOptions options)
    : store_(store),
      clock_(clock),
      projects_(projects),
      environment_(environment),
      scheduler_(scheduler),
      records_(records),
      options_(std::move(options)) {}

Status Jobs::Validate(std::int64_t project_id, std::int64_t job_id, Job& job) {
    auto bad = [](std::string m) { return MakeError(ErrorCode::kBadRequest, std::move(m)); };
    if (job.name.empty() || job.name.size() > 100) {
        return bad("name must be 1-100 characters");
    }
    if (job.script.empty()) {
        return bad("script is required: a file in the project, e.g. jobs/train.py");
    }
    auto entry = projects_.Files(project_id)->Stat(job.script);
    if (!entry || entry->is_dir) {
        return bad("script '" + job.script + "' is not a file in the project");
    }
    job.script = entry->path;
    if (FindKernel(job.kernel) == nullptr) {
        std::string names;
        for (const auto& k : options_.kernels) {
            names += (names.empty() ? "" : ", ") + k.name;
        }
        return bad("kernel must be one of " + names);
    }
    RETURN_IF_ERROR(SplitArguments(job.arguments));
    if (job.resources.cpu_millicores <= 0 ||
        job.resources.cpu_millicores > options_.max_cpu_millicores) {
        return bad("cpu must be more than 0 and at most " +
                   compute::FormatCpu(options_.max_cpu_millicores) + " vCPU");
    }
    if (job.resources.memory_mib <= 0 || job.resources.memory_mib > options_.max_memory_mib) {
        return bad("memory must be more than 0 and at most " +
                   std::to_string(options_.max_memory_mib / 1024) + " GiB");
    }
    if (job.resources.gpus < 0 || job.resources.gpus > options_.max_gpus) {
        return bad("nvidia_gpu must be from 0 to " + std::to_string(options_.max_gpus));
    }
    if (job.timeout_seconds < 0) {
        return bad("timeout must not be negative");
    }
    for (const auto& [k, v] : job.environment) {
        RETURN_IF_ERROR(projects::ValidateEnvName(k));
    }
    if (!job.schedule.empty() && job.parent_job_id) {
        return bad("a job runs on a schedule or after a parent job, not both");
    }
    // The time zone is checked even for manual jobs, so a later schedule can rely on it.
    ASSIGN_OR_RETURN(CronSchedule parsed,
                     ParseSchedule(job.schedule.empty() ? "* * * * *" : job.schedule, job.timezone));
    if (!job.schedule.empty()) {
        job.schedule = CronExpression(parsed);
    }
    if (job.overlap != "skip" && job.overlap != "queue") {
        return bad("overlap must be skip or queue");
    }
    if (job.notifications.size() > 10) {
        return bad("at most 10 notifications per job");
    }
    for (const auto& n : job.notifications) {
        if (!(n.url.starts_with("http://") || n.url.starts_with("https://")) || n.url.size() > 2048) {
            return bad("notification url must be an http:// or https:// URL");
        }
        if (n.events.empty()) {
            return bad("a notification needs events: succeeded, failed, timedout, stopped");
        }
        for (const auto& e : n.events) {
            if (e != "succeeded" && e != "failed" && e != "timedout" && e != "stopped") {
                return bad("notification event '" + e +
                           "' is not one of succeeded, failed, timedout, stopped");
            }
        }
    }
    if (job.parent_job_id) {
        // The parent must be in the same project, and following parents must never lead back.
        std::int64_t at = *job.parent_job_id;
        for (int depth = 0; depth < 1000; ++depth) {
            if (at == job_id) {
                return bad("parent_job_id would make a cycle of dependent jobs");
            }
            std::optional<std::int64_t> next;
            RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
                ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT parent_job_id FROM jobs WHERE id = "
                                                       "? AND project_id = ?",
                                                       {at, project_id}));
                if (!row) {
                    return MakeError(ErrorCode::kBadRequest,
                                     "parent job " + std::to_string(at) +
                                         " does not exist in this project");
                }
                if (!row->IsNull(0)) {
                    next = row->Int(0);
                }
                return {};
            }));
            if (!next) {
                break;
            }
            at = *next;
        }
    }
    return {};
}

Result<Job> Jobs::Create(const auth::Principal& caller, std::int64_t project_id,
                         const JobFields& f) {
    Job job;
    job.project_id = project_id;
    Apply(f, job);
    RETURN_IF_ERROR(ApplyProfile(f, job));
    RETURN_IF_ERROR(Validate(project_id, 0, job));
    const std::int64_t now = clock_.NowMs();
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        store::Value parent = job.parent_job_id ? store::Value(*job.parent_job_id)
                                                : store::Value(nullptr);
        auto id = tx.InsertReturningId(
            "INSERT INTO jobs (project_id, name, script, arguments, kernel, cpu_millicores, "
            "memory_mib, gpus, timeout_seconds, kill_on_timeout, environment, schedule, timezone, "
            "parent_job_id, created_by, created_at, updated_at, overlap, catch_up, next_run_at, "
            "notifications) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?) RETURNING id",
            {project_id, job.name, job.script, job.arguments, job.kernel,
             job.resources.cpu_millicores, job.resources.memory_mib, job.resources.gpus,
             job.timeout_seconds, std::int64_t{job.kill_on_timeout},
             nlohmann::json(job.environment).dump(), job.schedule, job.timezone, parent,
             caller.user_id, now, now, job.overlap, std::int64_t{job.catch_up},
             NextRun(job, now), NotificationsJson(job.notifications).dump()});
        if (!id && id.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict,
                             "the project already has a job named '" + job.name + "'");
        }
        RETURN_IF_ERROR(id);
        job.id = *id;
        return {};
    }));
    if (!job.schedule.empty() && schedule_changed_) {
        schedule_changed_();
    }
    return Get(project_id, job.id);
}

Result<Job> Jobs::Get(std::int64_t project_id, std::int64_t job_id) {
    Job job;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(job, LoadJob(tx, project_id, job_id));
        return {};
    }));
    return job;
}

const store::ListSpec& Jobs::JobListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "j.id", FieldType::kInt},
                                        {"name", "j.name", FieldType::kText},
                                        {"script", "j.script", FieldType::kText},
                                        {"kernel", "j.kernel", FieldType::kText},
                                        {"created_at", "j.created_at", FieldType::kInt, false, true},
                                        {"updated_at", "j.updated_at", FieldType::kInt, false, true}},
                                       "name",
                                       "j.id"};
    return kSpec;
}

Result<std::pair<std::vector<Job>, std::string>> Jobs::List(std::int64_t project_id,
                                                            const store::ListQuery& q) {
    std::vector<Job> jobs;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, JobListSpec(), q,
                                                     "SELECT " + std::string(kJobColumns) +
                                                         std::string(kJobFrom) +
                                                         "WHERE j.project_id = ?",
                                                     {project_id}));
        for (const auto& r : page.rows) {
            jobs.push_back(JobFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(jobs), std::move(next));
}

Result<Job> Jobs::Update(std::int64_t project_id, std::int64_t job_id, const JobFields& f) {
    ASSIGN_OR_RETURN(Job job, Get(project_id, job_id));
    Apply(f, job);
    RETURN_IF_ERROR(ApplyProfile(f, job));
    RETURN_IF_ERROR(Validate(project_id, job_id, job));
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        store::Value parent = job.parent_job_id ? store::Value(*job.parent_job_id)
                                                : store::Value(nullptr);
        auto st = tx.Exec(
            "UPDATE jobs SET name = ?, script = ?, arguments = ?, kernel = ?, cpu_millicores = ?, "
            "memory_mib = ?, gpus = ?, timeout_seconds = ?, kill_on_timeout = ?, environment = ?, "
            "schedule = ?, timezone = ?, parent_job_id = ?, updated_at = ?, overlap = ?, "
            "catch_up = ?, next_run_at = ?, notifications = ? WHERE id = ?",
            {job.name, job.script, job.arguments, job.kernel, job.resources.cpu_millicores,
             job.resources.memory_mib, job.resources.gpus, job.timeout_seconds,
             std::int64_t{job.kill_on_timeout}, nlohmann::json(job.environment).dump(),
             job.schedule, job.timezone, parent, clock_.NowMs(), job.overlap,
             std::int64_t{job.catch_up}, NextRun(job, clock_.NowMs()),
             NotificationsJson(job.notifications).dump(), job_id});
        if (!st && st.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict,
                             "the project already has a job named '" + job.name + "'");
        }
        RETURN_IF_ERROR(st);
        return {};
    }));
    if (!job.schedule.empty() && schedule_changed_) {
        schedule_changed_();
    }
    return Get(project_id, job_id);
}

Status Jobs::Delete(std::int64_t project_id, std::int64_t job_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto children, tx.QueryOne("SELECT COUNT(*) FROM jobs WHERE "
                                                    "parent_job_id = ?",
                                                    {job_id}));
        if (children && children->Int(0) > 0) {
            return MakeError(ErrorCode::kConflict,
                             "other jobs depend on job " + std::to_string(job_id) +
                                 "; change their parent first");
        }
        ASSIGN_OR_RETURN(auto active, tx.QueryOne("SELECT COUNT(*) FROM workloads WHERE job_id = ? "
                                                  "AND state IN ('scheduling', 'starting', "
                                                  "'running')",
                                                  {job_id}));
        if (active && active->Int(0) > 0) {
            return MakeError(ErrorCode::kConflict, "job " + std::to_string(job_id) +
                                                       " has runs in progress; stop them first");
        }
        RETURN_IF_ERROR(tx.Exec("DELETE FROM workloads WHERE job_id = ? AND project_id = ?",
                                {job_id, project_id}));
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM jobs WHERE id = ? AND project_id = ?",
                                         {job_id, project_id}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound,
                             "job " + std::to_string(job_id) + " does not exist");
        }
        return {};
    });
}

Result<compute::Workload> Jobs::StartRun(std::int64_t project_id, std::int64_t job_id,
                                         std::int64_t user_id, const std::string& trigger,
                                         const RunOverrides& overrides) {
    ASSIGN_OR_RETURN(Job job, Get(project_id, job_id));
    std::string project_name;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT name FROM projects WHERE id = ?",
                                               {project_id}));
        project_name = row ? row->Text(0) : "";
        return {};
    }));
    ASSIGN_OR_RETURN(auto args, SplitArguments(overrides.arguments.value_or(job.arguments)));
    for (const auto& [k, v] : overrides.environment) {
        RETURN_IF_ERROR(projects::ValidateEnvName(k));
    }
    compute::Workload w;
    w.project_id = project_id;
    w.owner_user_id = user_id;
    w.kind = compute::WorkloadKind::kJobRun;
    w.job_id = job_id;
    w.trigger = trigger;
    const Kernel* kernel = FindKernel(job.kernel);
    if (kernel == nullptr) {
        return MakeError(ErrorCode::kBadRequest,
                         "job " + std::to_string(job_id) + " uses kernel '" + job.kernel +
                             "', which this server no longer offers; change the job's kernel");
    }
    w.spec.argv = {kernel->interpreter, job.script};
    w.spec.argv.insert(w.spec.argv.end(), args.begin(), args.end());
    w.spec.resources = job.resources;
    w.spec.timeout_seconds = job.kill_on_timeout ? job.timeout_seconds : 0;
    // Later entries win: base, then the project's variables, then the job's, then the run's.
    std::map<std::string, std::string>& env = w.spec.env;
    env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
           {"HOME", "/home/cdsw"},
           {"LANG", "C.UTF-8"},
           {"PYTHONUNBUFFERED", "1"},
           {"PYTHONPATH", "/home/.lathe/sdk"},
           {"TMPDIR", "/tmp"}};
    ASSIGN_OR_RETURN(auto project_env, environment_.Reveal(project_id));
    for (const auto& v : project_env) {
        env[v.name] = v.value.value_or("");
    }
    for (const auto& [k, v] : job.environment) {
        env[k] = v;
    }
    for (const auto& [k, v] : overrides.environment) {
        env[k] = v;
    }
    // CML's names and ours, set last so user variables can't impersonate them.
    env["CDSW_PROJECT"] = project_name;
    env["CDSW_PROJECT_ID"] = std::to_string(project_id);
    env["CDSW_JOB_ID"] = std::to_string(job_id);
    // CML's CDSW_DOMAIN is a host name; CDSW_API_URL points at its (v1) API, ours is v2.
    const auto scheme_end = options_.api_url.find("://");
    env["CDSW_DOMAIN"] = scheme_end == std::string::npos ? options_.api_url
                                                         : options_.api_url.substr(scheme_end + 3);
    env["CDSW_API_URL"] = options_.api_url + "/api/v2";
    env["LATHE_API_URL"] = options_.api_url;
    env["LATHE_PROJECT_ID"] = std::to_string(project_id);
    env["LATHE_JOB_ID"] = std::to_string(job_id);
    ASSIGN_OR_RETURN(auto run, scheduler_.Submit(std::move(w)));
    return run;
}

Result<compute::Workload> Jobs::GetRun(std::int64_t project_id, std::int64_t job_id,
                                       std::int64_t run_id) {
    ASSIGN_OR_RETURN(auto w, records_.Get(run_id));
    if (w.project_id != project_id || !w.job_id || *w.job_id != job_id) {
        return MakeError(ErrorCode::kNotFound, "run " + std::to_string(run_id) +
                                                   " of job " + std::to_string(job_id) +
                                                   " does not exist");
    }
    return w;
}

std::optional<std::int64_t> Jobs::FireDueSchedules(std::int64_t now) {
    struct Due {
        Job job;
        std::int64_t creator = 0;
        bool running = false;
    };
    std::vector<Due> due;
    std::optional<std::int64_t> earliest;
    auto st = store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kJobColumns) +
                                             std::string(kJobFrom) +
                                             "WHERE j.schedule <> '' AND j.next_run_at IS NOT NULL"));
        for (const auto& r : rows) {
            Job j = JobFromRow(r);
            if (*j.next_run_at > now) {
                earliest = earliest ? std::min(*earliest, *j.next_run_at) : *j.next_run_at;
                continue;
            }
            ASSIGN_OR_RETURN(auto active, tx.QueryOne("SELECT COUNT(*) FROM workloads WHERE job_id "
                                                      "= ? AND state IN ('scheduling', "
                                                      "'starting', 'running')",
                                                      {j.id}));
            due.push_back({std::move(j), r.Int(22), active && active->Int(0) > 0});
        }
        return {};
    });
    if (!st) {
        LogWarn("cannot read job schedules", {{"error", st.error().message}});
        return std::nullopt;
    }
    for (Due& d : due) {
        const Job& j = d.job;
        // Fire times missed while the server was down are not replayed in a burst: at most one
        // catch-up run, and none when the job says so.
        const bool missed = now - *j.next_run_at > 60'000 && !(j.overlap == "queue" && d.running);
        if (missed && !j.catch_up) {
            LogInfo("skipping a missed schedule", {{"job", j.id}});
        } else if (d.running && j.overlap == "skip") {
            LogInfo("recurring job still running; this fire is skipped", {{"job", j.id}});
        } else if (d.running) {
            // "queue": the fire stays due and starts once the running one has ended (at most
            // one waits, however many fire times pass meanwhile).
            earliest = now;
            continue;
        } else {
            auto run = StartRun(j.project_id, j.id, d.creator, "schedule", {});
            if (!run) {
                LogWarn("scheduled job did not start", {{"job", j.id}, {"error", run.error().message}});
            }
        }
        store::Value next = NextRun(j, now);
        auto stored = store_.Write([&](store::Tx& tx) -> Status {
            RETURN_IF_ERROR(tx.Exec("UPDATE jobs SET next_run_at = ? WHERE id = ?", {next, j.id}));
            return {};
        });
        if (!stored) {
            LogWarn("cannot store a job's next run", {{"job", j.id}});
        }
        if (auto p = std::get_if<std::int64_t>(&next)) {
            earliest = earliest ? std::min(*earliest, *p) : *p;
        }
    }
    return earliest;
}

void Jobs::OnWorkloadFinished(const compute::Workload& w) {
    if (!w.job_id) {
        return;
    }
    if (notify_) {
        auto job = Get(w.project_id, *w.job_id);
        if (job) {
            for (const auto& n : job->notifications) {
                if (std::find(n.events.begin(), n.events.end(), compute::StateName(w.state)) !=
                    n.events.end()) {
                    notify_(n.url, *job, w);
                }
            }
        }
    }
    if (w.state != compute::WorkloadState::kSucceeded) {
        return;
    }
    std::vector<std::int64_t> children;
    auto children_read = store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT id FROM jobs WHERE parent_job_id = ? ORDER BY id",
                                             {*w.job_id}));
        for (const auto& r : rows) {
            children.push_back(r.Int(0));
        }
        return {};
    });
    if (!children_read) {
        LogWarn("cannot read dependent jobs", {{"job", *w.job_id}});
    }
    for (std::int64_t child : children) {
        auto run = StartRun(w.project_id, child, w.owner_user_id, "dependency", {});
        if (!run) {
            LogWarn("dependent job did not start",
                    {{"job", child}, {"parent_run", w.id}, {"error", run.error().message}});
        }
    }
}

}  // namespace lathe::jobs
