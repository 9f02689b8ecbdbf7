// Monitors: saved rules on a model's metrics or drift, evaluated on a schedule; a breach opens an
// alert (and a recovery resolves it), each sent to the monitor's webhook with retries.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "metrics/metrics_service.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::metrics {

// What a monitor watches, as the API takes it (validated by ParseMonitorSpec).
struct MonitorSpec {
    std::string kind;                     // "metric" | "drift"
    std::string metric;                   // metric: the tracked metric's name
    std::string source = "predictions";   // metric: "predictions" | "aggregates"
    std::string statistic = "mean";       // metric: mean p50 p90 p95 p99 min max sum count last
    std::string feature;                  // drift: the feature (a tracked metric)
    std::string drift_statistic = "psi";  // drift: psi jensen_shannon ks_p_value wasserstein_normed
    nlohmann::json reference;             // drift: {"file"} | {"startTimeStampMs","endTimeStampMs"}
                                          // | null: the window just before the current one
    std::int64_t window_seconds = 3600;
    std::string comparison = ">";  // > >= < <=
    double threshold = 0;
    std::int64_t interval_seconds = 60;
    std::string webhook_url;  // empty: alerts are only listed

    nlohmann::json ToJson() const;
};

// Validates a spec from the API (create, or update over `base`): kBadRequest naming the field.
Result<MonitorSpec> ParseMonitorSpec(const nlohmann::json& body, const MonitorSpec* base);

struct Monitor {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::int64_t model_id = 0;
    std::string name;
    MonitorSpec spec;
    bool enabled = true;
    std::string state;  // pending | ok | breached | no_data | error
    std::optional<double> last_value;
    std::string last_message;
    std::optional<std::int64_t> last_evaluated_at;
    std::int64_t next_run_at = 0;
    std::string created_by;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

struct Alert {
    std::int64_t id = 0;
    std::int64_t monitor_id = 0;
    std::int64_t project_id = 0;
    std::int64_t model_id = 0;
    std::string state;  // open | resolved
    std::optional<double> value;
    double threshold = 0;
    std::string message;
    std::int64_t opened_at = 0;
    std::optional<std::int64_t> resolved_at;
    std::string webhook;  // none | pending | delivered | failed (the latest delivery)
};

// Where a monitor reads from: the model's CRN (all its deployments) and its project's files.
struct MonitorTarget {
    std::string model_crn;
    std::string model_name;
    std::filesystem::path project_files;  // for drift references in a file
};
using TargetFn =
    std::function<Result<MonitorTarget>(std::int64_t project_id, std::int64_t model_id)>;

struct MonitorOptions {
    int max_delivery_attempts = 6;  // 1 s, 2 s, 4 s, ... between them
};

class Monitors {
public:
    Monitors(store::Store& store,
             MetricsService& metrics,
             const Clock& clock,
             TargetFn target,
             MonitorOptions options = {});
    ~Monitors();

    void Start();  // the evaluation and delivery thread
    void Stop();

    Result<Monitor> Create(std::int64_t project_id,
                           std::int64_t model_id,
                           std::int64_t user_id,
                           const std::string& name,
                           const MonitorSpec& spec,
                           bool enabled);
    Result<Monitor> Get(std::int64_t project_id, std::int64_t model_id, std::int64_t id);
    static const store::ListSpec& ListSpec();
    Result<std::pair<std::vector<Monitor>, std::string>> List(std::int64_t project_id,
                                                              std::int64_t model_id,
                                                              const store::ListQuery& q);
    Result<Monitor> Update(std::int64_t project_id,
                           std::int64_t model_id,
                           std::int64_t id,
                           const std::optional<std::string>& name,
                           const std::optional<MonitorSpec>& spec,
                           const std::optional<bool>& enabled);
    Status Delete(std::int64_t project_id, std::int64_t model_id, std::int64_t id);
    // Evaluates now (and schedules the next run from now); returns the monitor after.
    Result<Monitor> EvaluateNow(std::int64_t project_id, std::int64_t model_id, std::int64_t id);

    static const store::ListSpec& AlertListSpec();
    // Alerts of a project, or of one monitor when monitor_id is set.
    Result<std::pair<std::vector<Alert>, std::string>> Alerts(
        std::int64_t project_id, std::optional<std::int64_t> monitor_id, const store::ListQuery& q);

private:
    // The value a monitor watches now; nullopt when there is no data in the window.
    Result<std::optional<double>> Measure(const Monitor& m,
                                          const MonitorTarget& target,
                                          std::int64_t now,
                                          std::string* detail);
    Status Evaluate(Monitor m);
    void DeliverDue();
    void Run();
    void Wake();

    store::Store& store_;
    MetricsService& metrics_;
    const Clock& clock_;
    TargetFn target_;
    const MonitorOptions options_;

    std::mutex run_mu_;  // one evaluation at a time (thread and EvaluateNow)
    std::mutex mu_;      // guards stopping_, woken_
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace lathe::metrics
