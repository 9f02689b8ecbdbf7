// Jobs: a project script with its kernel, resources, environment and trigger (manual, recurring,
// or dependent on another job), and the runs started from it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/principal.h"
#include "compute/scheduler.h"
#include "compute/workload_records.h"
#include "jobs/schedule.h"
#include "core/clock.h"
#include "projects/environment.h"
#include "projects/projects.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::jobs {

// Where to tell about a run's end: a webhook URL and the end states that trigger it.
struct Notification {
    std::string url;
    std::vector<std::string> events;  // of succeeded, failed, timedout, stopped
};

struct Job {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::string name;
    std::string script;
    std::string arguments;
    std::string kernel = "python3";
    compute::Resources resources{1000, 2048, 0};
    std::int64_t timeout_seconds = 0;
    bool kill_on_timeout = true;
    std::map<std::string, std::string> environment;
    std::string schedule;  // "" for manual (or dependent), else a cron expression
    std::string timezone = "UTC";
    std::optional<std::int64_t> parent_job_id;
    // A recurring job whose previous run is still going: "skip" this fire (default) or "queue".
    std::string overlap = "skip";
    // After the server was down across fire times: run once at start (true) or wait for the next.
    bool catch_up = true;
    std::optional<std::int64_t> next_run_at;
    std::vector<Notification> notifications;
    std::string created_by;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

// The fields a create or update may set (unset: keep, or the default on create).
struct JobFields {
    std::optional<std::string> name;
    std::optional<std::string> script;
    std::optional<std::string> arguments;
    std::optional<std::string> kernel;
    std::optional<std::int64_t> cpu_millicores;
    std::optional<std::int64_t> memory_mib;
    std::optional<std::int64_t> gpus;
    std::optional<std::int64_t> timeout_seconds;
    std::optional<bool> kill_on_timeout;
    std::optional<std::map<std::string, std::string>> environment;
    std::optional<std::string> schedule;
    std::optional<std::string> timezone;
    std::optional<std::optional<std::int64_t>> parent_job_id;  // set to nullopt to clear
    std::optional<std::string> overlap;
    std::optional<bool> catch_up;
    std::optional<std::vector<Notification>> notifications;
    std::optional<std::string> resource_profile;  // fills cpu, memory and gpus not given
};

struct RunOverrides {
    std::optional<std::string> arguments;
    std::map<std::string, std::string> environment;
};

// The interpreter each kernel name runs.
struct Kernel {
    std::string name;
    std::string interpreter;
};
// "python3=/usr/bin/python3,r=/usr/bin/Rscript" (the `kernels` setting).
Result<std::vector<Kernel>> ParseKernels(std::string_view text);

// A named size site admins define; users pick one instead of giving cpu and memory.
struct ResourceProfile {
    std::string name;
    compute::Resources resources;
};

struct JobsOptions {
    std::int64_t max_cpu_millicores = 8000;
    std::int64_t max_memory_mib = 65536;
    std::int64_t max_gpus = 0;
    std::string api_url;  // the server's URL as workloads reach it
    std::vector<Kernel> kernels = {{"python3", "/usr/bin/python3"},
                                   {"r", "/usr/bin/Rscript"},
                                   {"bash", "/bin/bash"}};
};

class Jobs {
public:
    Jobs(store::Store& store, const Clock& clock, projects::Projects& projects,
         projects::Environment& environment, compute::Scheduler& scheduler,
         compute::WorkloadRecords& records, JobsOptions options);

    Result<Job> Create(const auth::Principal& caller, std::int64_t project_id, const JobFields& f);
    Result<Job> Get(std::int64_t project_id, std::int64_t job_id);
    static const store::ListSpec& JobListSpec();
    Result<std::pair<std::vector<Job>, std::string>> List(std::int64_t project_id,
                                                          const store::ListQuery& q);
    Result<Job> Update(std::int64_t project_id, std::int64_t job_id, const JobFields& f);
    Status Delete(std::int64_t project_id, std::int64_t job_id);

    // Queues a run of the job; `trigger` is manual, api, schedule or dependency.
    Result<compute::Workload> StartRun(std::int64_t project_id, std::int64_t job_id,
                                       std::int64_t user_id, const std::string& trigger,
                                       const RunOverrides& overrides);
    // A run of this job (kNotFound if it belongs to another job or project).
    Result<compute::Workload> GetRun(std::int64_t project_id, std::int64_t job_id,
                                     std::int64_t run_id);
    void SetApiUrl(std::string url) { options_.api_url = std::move(url); }
    const std::vector<Kernel>& kernels() const { return options_.kernels; }
    const JobsOptions& options() const { return options_; }

    Result<std::vector<ResourceProfile>> Profiles();
    Status SetProfile(const ResourceProfile& profile);
    Status DeleteProfile(std::string_view name);
    // Where run-end notifications go (the notifier delivers them off this thread).
    using NotifyFn = std::function<void(const std::string& url, const Job&, const compute::Workload&)>;
    void SetNotifier(NotifyFn fn) { notify_ = std::move(fn); }
    // Called after a recurring job was created or changed (the trigger looks again at once).
    void SetScheduleChanged(std::function<void()> fn) { schedule_changed_ = std::move(fn); }

    // Called when any workload ends: starts the jobs that depend on a succeeded job.
    void OnWorkloadFinished(const compute::Workload& w);

    // Recurring jobs: those due at `now` start (or are skipped while a run is still going), and
    // each gets its next fire time. Returns when the next one is due (nullopt: none scheduled).
    std::optional<std::int64_t> FireDueSchedules(std::int64_t now);

private:
    Status Validate(std::int64_t project_id, std::int64_t job_id, Job& job);
    Status ApplyProfile(const JobFields& f, Job& job);
    const Kernel* FindKernel(std::string_view name) const;

    store::Store& store_;
    const Clock& clock_;
    projects::Projects& projects_;
    projects::Environment& environment_;
    compute::Scheduler& scheduler_;
    compute::WorkloadRecords& records_;
    JobsOptions options_;
    NotifyFn notify_;
    std::function<void()> schedule_changed_;
};

// Splits a CML job's argument string like a shell would (quotes, backslashes), no expansion.
Result<std::vector<std::string>> SplitArguments(std::string_view text);

}  // namespace lathe::jobs
