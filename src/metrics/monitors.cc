// Monitors: their rows, the evaluation of a rule over stored records, alerts on state changes,
// and webhook deliveries kept in the store so a restart resumes them.
#include "metrics/monitors.h"

#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "core/webhook.h"
#include "metrics/drift_report.h"
#include "metrics/summary.h"

namespace lathe::metrics {

using nlohmann::json;

namespace {

constexpr std::string_view kMonitorColumns =
    "m.id, m.project_id, m.model_id, m.name, m.spec, m.enabled, m.state, m.last_value, "
    "m.last_message, m.last_evaluated_at, m.next_run_at, u.username, m.created_at, m.updated_at";
constexpr std::string_view kMonitorFrom = " FROM monitors m JOIN users u ON u.id = m.created_by ";

constexpr std::string_view kAlertColumns =
    "a.id, a.monitor_id, a.project_id, a.model_id, a.state, a.value, a.threshold, a.message, "
    "a.opened_at, a.resolved_at, (SELECT d.state FROM alert_deliveries d WHERE d.alert_id = a.id "
    "ORDER BY d.id DESC LIMIT 1)";

const std::vector<std::string> kStatistics = {"mean", "p50", "p90", "p95",   "p99",
                                              "min",  "max", "sum", "count", "last"};
const std::vector<std::string> kDriftStatistics = {"psi", "jensen_shannon", "ks_p_value",
                                                   "ks_statistic", "wasserstein_normed"};

bool OneOf(const std::string& v, const std::vector<std::string>& options) {
    return std::find(options.begin(), options.end(), v) != options.end();
}

std::string Joined(const std::vector<std::string>& options) {
    std::string out;
    for (const auto& o : options) {
        out += out.empty() ? o : ", " + o;
    }
    return out;
}

MonitorSpec SpecFromJson(const std::string& text) {
    MonitorSpec s;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) {
        return s;
    }
    s.kind = j.value("kind", "");
    s.metric = j.value("metric", "");
    s.source = j.value("source", "predictions");
    s.statistic = j.value("statistic", "mean");
    s.feature = j.value("feature", "");
    s.drift_statistic = j.value("drift_statistic", "psi");
    s.reference = j.contains("reference") ? j["reference"] : json(nullptr);
    s.window_seconds = j.value("window_seconds", std::int64_t{3600});
    s.comparison = j.value("comparison", ">");
    s.threshold = j.value("threshold", 0.0);
    s.interval_seconds = j.value("interval_seconds", std::int64_t{60});
    s.webhook_url = j.value("webhook_url", "");
    return s;
}

Monitor MonitorFromRow(const store::Row& r) {
    Monitor m;
    m.id = r.Int(0);
    m.project_id = r.Int(1);
    m.model_id = r.Int(2);
    m.name = r.Text(3);
    m.spec = SpecFromJson(r.Text(4));
    m.enabled = r.Bool(5);
    m.state = r.Text(6);
    if (!r.IsNull(7)) {
        m.last_value = r.Double(7);
    }
    m.last_message = r.Text(8);
    if (!r.IsNull(9)) {
        m.last_evaluated_at = r.Int(9);
    }
    m.next_run_at = r.Int(10);
    m.created_by = r.Text(11);
    m.created_at = r.Int(12);
    m.updated_at = r.Int(13);
    return m;
}

Alert AlertFromRow(const store::Row& r) {
    Alert a;
    a.id = r.Int(0);
    a.monitor_id = r.Int(1);
    a.project_id = r.Int(2);
    a.model_id = r.Int(3);
    a.state = r.Text(4);
    if (!r.IsNull(5)) {
        a.value = r.Double(5);
    }
    a.threshold = r.Double(6);
    a.message = r.Text(7);
    a.opened_at = r.Int(8);
    if (!r.IsNull(9)) {
        a.resolved_at = r.Int(9);
    }
    a.webhook = r.IsNull(10) ? "none" : r.Text(10);
    return a;
}

bool Breached(double value, const std::string& comparison, double threshold) {
    if (comparison == ">")
        return value > threshold;
    if (comparison == ">=")
        return value >= threshold;
    if (comparison == "<")
        return value < threshold;
    return value <= threshold;
}

std::string Number(double v) {
    json j = v;
    return j.dump();
}

}  // namespace

json MonitorSpec::ToJson() const {
    json j = {{"kind", kind},
              {"window_seconds", window_seconds},
              {"comparison", comparison},
              {"threshold", threshold},
              {"interval_seconds", interval_seconds},
              {"webhook_url", webhook_url}};
    if (kind == "metric") {
        j["metric"] = metric;
        j["source"] = source;
        j["statistic"] = statistic;
    } else {
        j["feature"] = feature;
        j["drift_statistic"] = drift_statistic;
        j["reference"] = reference;
    }
    return j;
}

Result<MonitorSpec> ParseMonitorSpec(const json& body, const MonitorSpec* base) {
    MonitorSpec s = base != nullptr ? *base : MonitorSpec{};
    auto text = [&](const char* field, std::string* out) -> Status {
        if (auto it = body.find(field); it != body.end()) {
            if (!it->is_string()) {
                return MakeError(ErrorCode::kBadRequest, std::string(field) + " must be a string");
            }
            *out = it->get<std::string>();
        }
        return {};
    };
    auto integer = [&](const char* field, std::int64_t* out, std::int64_t lo,
                       std::int64_t hi) -> Status {
        if (auto it = body.find(field); it != body.end()) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < lo ||
                it->get<std::int64_t>() > hi) {
                return MakeError(ErrorCode::kBadRequest,
                                 std::string(field) + " must be a whole number from " +
                                     std::to_string(lo) + " to " + std::to_string(hi));
            }
            *out = it->get<std::int64_t>();
        }
        return {};
    };
    RETURN_IF_ERROR(text("kind", &s.kind));
    RETURN_IF_ERROR(text("metric", &s.metric));
    RETURN_IF_ERROR(text("source", &s.source));
    RETURN_IF_ERROR(text("statistic", &s.statistic));
    RETURN_IF_ERROR(text("feature", &s.feature));
    RETURN_IF_ERROR(text("drift_statistic", &s.drift_statistic));
    RETURN_IF_ERROR(text("comparison", &s.comparison));
    RETURN_IF_ERROR(text("webhook_url", &s.webhook_url));
    RETURN_IF_ERROR(integer("window_seconds", &s.window_seconds, 10, 366LL * 86400));
    RETURN_IF_ERROR(integer("interval_seconds", &s.interval_seconds, 1, 7LL * 86400));
    if (auto it = body.find("threshold"); it != body.end()) {
        if (!it->is_number() || !std::isfinite(it->get<double>())) {
            return MakeError(ErrorCode::kBadRequest, "threshold must be a number");
        }
        s.threshold = it->get<double>();
    } else if (base == nullptr) {
        return MakeError(ErrorCode::kBadRequest, "a monitor needs a threshold");
    }
    if (auto it = body.find("reference"); it != body.end()) {
        const json& r = *it;
        const bool file = r.is_object() && r.size() == 1 && r.contains("file") &&
                          r["file"].is_string() && !r["file"].get<std::string>().empty();
        const bool window =
            r.is_object() && r.size() == 2 && r.contains("startTimeStampMs") &&
            r.contains("endTimeStampMs") && r["startTimeStampMs"].is_number_integer() &&
            r["endTimeStampMs"].is_number_integer() &&
            r["startTimeStampMs"].get<std::int64_t>() <= r["endTimeStampMs"].get<std::int64_t>();
        if (!r.is_null() && !file && !window) {
            return MakeError(ErrorCode::kBadRequest,
                             "reference must be {\"file\": \"<path in the project>\"}, "
                             "{\"startTimeStampMs\", \"endTimeStampMs\"}, or null for the window "
                             "just before the current one");
        }
        s.reference = r;
    }
    if (s.kind != "metric" && s.kind != "drift") {
        return MakeError(ErrorCode::kBadRequest, "kind must be \"metric\" or \"drift\"");
    }
    if (s.kind == "metric") {
        if (s.metric.empty()) {
            return MakeError(ErrorCode::kBadRequest, "a metric monitor names its \"metric\"");
        }
        if (s.source != "predictions" && s.source != "aggregates") {
            return MakeError(ErrorCode::kBadRequest,
                             "source must be \"predictions\" or \"aggregates\"");
        }
        if (!OneOf(s.statistic, kStatistics)) {
            return MakeError(ErrorCode::kBadRequest,
                             "statistic must be one of " + Joined(kStatistics));
        }
    } else {
        if (s.feature.empty()) {
            return MakeError(ErrorCode::kBadRequest, "a drift monitor names its \"feature\"");
        }
        if (!OneOf(s.drift_statistic, kDriftStatistics)) {
            return MakeError(ErrorCode::kBadRequest,
                             "drift_statistic must be one of " + Joined(kDriftStatistics));
        }
    }
    if (!OneOf(s.comparison, {">", ">=", "<", "<="})) {
        return MakeError(ErrorCode::kBadRequest, "comparison must be one of >, >=, <, <=");
    }
    if (!s.webhook_url.empty() && !s.webhook_url.starts_with("http://") &&
        !s.webhook_url.starts_with("https://")) {
        return MakeError(ErrorCode::kBadRequest, "webhook_url must be an http:// or https:// URL");
    }
    if (s.webhook_url.size() > 2048) {
        return MakeError(ErrorCode::kBadRequest, "webhook_url is too long");
    }
    return s;
}

Monitors::Monitors(store::Store& store,
                   MetricsService& metrics,
                   const Clock& clock,
                   TargetFn target,
                   MonitorOptions options)
    : store_(store),
      metrics_(metrics),
      clock_(clock),
      target_(std::move(target)),
      options_(options) {}

Monitors::~Monitors() {
    Stop();
}

void Monitors::Start() {
    thread_ = std::thread([this] { Run(); });
}

void Monitors::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Monitors::Wake() {
    {
        std::lock_guard lock(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

Result<Monitor> Monitors::Create(std::int64_t project_id,
                                 std::int64_t model_id,
                                 std::int64_t user_id,
                                 const std::string& name,
                                 const MonitorSpec& spec,
                                 bool enabled) {
    if (name.empty() || name.size() > 200) {
        return MakeError(ErrorCode::kBadRequest, "a monitor needs a name of 1 to 200 characters");
    }
    const std::int64_t now = clock_.NowMs();
    std::int64_t id = 0;
    auto st = store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(id, tx.InsertReturningId(
                                 "INSERT INTO monitors (project_id, model_id, name, spec, enabled, "
                                 "next_run_at, created_by, created_at, updated_at) VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                 {project_id, model_id, name, spec.ToJson().dump(),
                                  std::int64_t{enabled}, now, user_id, now, now}));
        return {};
    });
    if (!st) {
        if (st.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict,
                             "this model already has a monitor named '" + name + "'");
        }
        return std::unexpected(st.error());
    }
    Wake();
    return Get(project_id, model_id, id);
}

Result<Monitor> Monitors::Get(std::int64_t project_id, std::int64_t model_id, std::int64_t id) {
    std::optional<Monitor> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kMonitorColumns) +
                                                   std::string(kMonitorFrom) +
                                                   "WHERE m.id = ? AND m.project_id = ? AND "
                                                   "m.model_id = ?",
                                               {id, project_id, model_id}));
        if (row) {
            out = MonitorFromRow(*row);
        }
        return {};
    }));
    if (!out) {
        return MakeError(ErrorCode::kNotFound, "monitor " + std::to_string(id) + " does not exist");
    }
    return *out;
}

const store::ListSpec& Monitors::ListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{
        {{"id", "m.id", FieldType::kInt},
         {"name", "m.name", FieldType::kText},
         {"state", "m.state", FieldType::kText},
         {"enabled", "m.enabled", FieldType::kBool},
         {"created_at", "m.created_at", FieldType::kInt, false, true}},
        "name",
        "m.id"};
    return kSpec;
}

Result<std::pair<std::vector<Monitor>, std::string>> Monitors::List(std::int64_t project_id,
                                                                    std::int64_t model_id,
                                                                    const store::ListQuery& q) {
    std::vector<Monitor> out;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, ListSpec(), q,
                                                     "SELECT " + std::string(kMonitorColumns) +
                                                         std::string(kMonitorFrom) +
                                                         "WHERE m.project_id = ? AND "
                                                         "m.model_id = ?",
                                                     {project_id, model_id}));
        for (const auto& r : page.rows) {
            out.push_back(MonitorFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<Monitor> Monitors::Update(std::int64_t project_id,
                                 std::int64_t model_id,
                                 std::int64_t id,
                                 const std::optional<std::string>& name,
                                 const std::optional<MonitorSpec>& spec,
                                 const std::optional<bool>& enabled) {
    ASSIGN_OR_RETURN(Monitor m, Get(project_id, model_id, id));
    if (name && (name->empty() || name->size() > 200)) {
        return MakeError(ErrorCode::kBadRequest, "a monitor needs a name of 1 to 200 characters");
    }
    const std::int64_t now = clock_.NowMs();
    auto st = store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(
            tx.Exec("UPDATE monitors SET name = ?, spec = ?, enabled = ?, next_run_at = ?, "
                    "updated_at = ? WHERE id = ?",
                    {name.value_or(m.name), (spec ? *spec : m.spec).ToJson().dump(),
                     std::int64_t{enabled.value_or(m.enabled)}, now, now, id}));
        return {};
    });
    if (!st) {
        if (st.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict,
                             "this model already has a monitor named '" + *name + "'");
        }
        return std::unexpected(st.error());
    }
    Wake();
    return Get(project_id, model_id, id);
}

Status Monitors::Delete(std::int64_t project_id, std::int64_t model_id, std::int64_t id) {
    RETURN_IF_ERROR(Get(project_id, model_id, id));
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM monitors WHERE id = ?", {id}));
        return {};
    });
}

Result<Monitor> Monitors::EvaluateNow(std::int64_t project_id,
                                      std::int64_t model_id,
                                      std::int64_t id) {
    ASSIGN_OR_RETURN(Monitor m, Get(project_id, model_id, id));
    RETURN_IF_ERROR(Evaluate(m));
    Wake();  // deliver what it opened without waiting for the next tick
    return Get(project_id, model_id, id);
}

const store::ListSpec& Monitors::AlertListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "a.id", FieldType::kInt},
                                        {"state", "a.state", FieldType::kText},
                                        {"monitor_id", "a.monitor_id", FieldType::kInt},
                                        {"model_id", "a.model_id", FieldType::kInt},
                                        {"opened_at", "a.opened_at", FieldType::kInt, false, true}},
                                       "-id",
                                       "a.id"};
    return kSpec;
}

Result<std::pair<std::vector<Alert>, std::string>> Monitors::Alerts(
    std::int64_t project_id, std::optional<std::int64_t> monitor_id, const store::ListQuery& q) {
    std::vector<Alert> out;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        std::string sql =
            "SELECT " + std::string(kAlertColumns) + " FROM alerts a WHERE a.project_id = ?";
        store::Params params = {project_id};
        if (monitor_id) {
            sql += " AND a.monitor_id = ?";
            params.push_back(*monitor_id);
        }
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, AlertListSpec(), q, sql, params));
        for (const auto& r : page.rows) {
            out.push_back(AlertFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::optional<double>> Monitors::Measure(const Monitor& m,
                                                const MonitorTarget& target,
                                                std::int64_t now,
                                                std::string* detail) {
    const MonitorSpec& s = m.spec;
    ASSIGN_OR_RETURN(auto series,
                     metrics_.store().FindSeries(std::nullopt, target.model_crn, std::nullopt));
    ReadRange current;
    for (const auto& x : series) {
        current.series.push_back(x.id);
    }
    current.end_ms = now;
    current.start_ms = now - s.window_seconds * 1000;
    current.limit = 2'000'000;
    const std::string window = "the last " + std::to_string(s.window_seconds) + " s";
    if (current.series.empty()) {
        *detail = "the model has never been deployed";
        return std::nullopt;
    }
    if (s.kind == "metric") {
        MetricSummary summary;
        std::optional<double> last;
        std::int64_t last_end = 0;
        ASSIGN_OR_RETURN(auto stats,
                         metrics_.store().Read(
                             current,
                             [&](const PredictionView& v) {
                                 if (s.source != "predictions") {
                                     return;
                                 }
                                 json j = json::parse(v.metrics, nullptr, false);
                                 if (auto it = j.find(s.metric); it != j.end() && it->is_number()) {
                                     summary.Add(it->get<double>());
                                     if (v.start_ms >= last_end) {
                                         last_end = v.start_ms;
                                         last = it->get<double>();
                                     }
                                 }
                             },
                             [&](const AggregateView& v) {
                                 if (s.source != "aggregates") {
                                     return;
                                 }
                                 json j = json::parse(v.metrics, nullptr, false);
                                 if (auto it = j.find(s.metric); it != j.end() && it->is_number()) {
                                     summary.Add(it->get<double>());
                                     if (v.end_ms >= last_end) {
                                         last_end = v.end_ms;
                                         last = it->get<double>();
                                     }
                                 }
                             }));
        if (stats.truncated) {
            *detail = "over 2000000 predictions in the window; measured the first 2000000";
        }
        if (s.statistic == "count") {
            *detail = std::to_string(summary.count()) + " values of " + s.metric + " in " + window;
            return static_cast<double>(summary.count());
        }
        if (summary.count() == 0) {
            *detail = "no values of " + s.metric + " in " + window;
            return std::nullopt;
        }
        double v = 0;
        if (s.statistic == "mean")
            v = summary.mean();
        else if (s.statistic == "p50")
            v = summary.Quantile(0.5);
        else if (s.statistic == "p90")
            v = summary.Quantile(0.9);
        else if (s.statistic == "p95")
            v = summary.Quantile(0.95);
        else if (s.statistic == "p99")
            v = summary.Quantile(0.99);
        else if (s.statistic == "min")
            v = summary.min();
        else if (s.statistic == "max")
            v = summary.max();
        else if (s.statistic == "sum")
            v = summary.sum();
        else
            v = *last;
        *detail = s.statistic + " of " + s.metric + " over " + std::to_string(summary.count()) +
                  " values in " + window;
        return v;
    }
    // Drift of one feature: the current window against a file, a fixed window, or the window of
    // the same length just before.
    FeatureSamples cur;
    ASSIGN_OR_RETURN(auto cs,
                     metrics_.store().Read(
                         current, [&](const PredictionView& v) { cur.AddMetricsJson(v.metrics); },
                         [](const AggregateView&) {}));
    (void)cs;
    FeatureSamples ref;
    if (s.reference.is_object() && s.reference.contains("file")) {
        const std::string path = s.reference["file"].get<std::string>();
        auto normalized = std::filesystem::path(path).lexically_normal();
        if (normalized.is_absolute() || normalized.string().starts_with("..")) {
            return MakeError(ErrorCode::kBadRequest, "the reference file must be in the project");
        }
        ASSIGN_OR_RETURN(ref, FeatureSamples::FromFile(target.project_files / normalized));
    } else {
        ReadRange previous = current;
        if (s.reference.is_object()) {
            previous.start_ms = s.reference["startTimeStampMs"].get<std::int64_t>();
            previous.end_ms = s.reference["endTimeStampMs"].get<std::int64_t>();
        } else {
            previous.end_ms = current.start_ms - 1;
            previous.start_ms = current.start_ms - s.window_seconds * 1000;
        }
        ASSIGN_OR_RETURN(
            auto rs, metrics_.store().Read(
                         previous, [&](const PredictionView& v) { ref.AddMetricsJson(v.metrics); },
                         [](const AggregateView&) {}));
        (void)rs;
    }
    json report = DriftReport(ref, cur, {s.feature}, DriftThresholds{});
    const json& f = report["features"][0];
    if (f.contains("error")) {
        *detail = s.feature + ": " + f["error"].get<std::string>();
        return std::nullopt;
    }
    if (!f["statistics"].contains(s.drift_statistic)) {
        *detail = s.drift_statistic + " does not apply to the " + f["kind"].get<std::string>() +
                  " feature " + s.feature;
        return std::nullopt;
    }
    *detail = s.drift_statistic + " of " + s.feature + " in " + window + " (" +
              std::to_string(f["currentCount"].get<std::int64_t>()) + " values) against " +
              std::to_string(f["referenceCount"].get<std::int64_t>()) + " reference values";
    return f["statistics"][s.drift_statistic].get<double>();
}

Status Monitors::Evaluate(Monitor m) {
    std::lock_guard run(run_mu_);
    const std::int64_t now = clock_.NowMs();
    std::string detail;
    std::optional<double> value;
    std::string state;
    std::string error;
    auto target = target_(m.project_id, m.model_id);
    if (!target) {
        state = "error";
        error = target.error().message;
    } else {
        auto measured = Measure(m, *target, now, &detail);
        if (!measured) {
            state = "error";
            error = measured.error().message;
        } else if (!*measured) {
            state = "no_data";
        } else {
            value = **measured;
            state = Breached(*value, m.spec.comparison, m.spec.threshold) ? "breached" : "ok";
        }
    }
    const std::string message =
        state == "error" ? error
        : value ? detail + " = " + Number(*value) + " (" + (state == "breached" ? "" : "not ") +
                      m.spec.comparison + " " + Number(m.spec.threshold) + ")"
                : detail;
    const std::string model_name = target ? target->model_name : "";
    const std::string model_crn = target ? target->model_crn : "";
    return store_.Write([&](store::Tx& tx) -> Status {
        // The monitor may have been edited or deleted since it was read.
        ASSIGN_OR_RETURN(auto still,
                         tx.QueryOne("SELECT state FROM monitors WHERE id = ?", {m.id}));
        if (!still) {
            return {};
        }
        const std::string previous = still->Text(0);
        RETURN_IF_ERROR(
            tx.Exec("UPDATE monitors SET state = ?, last_value = ?, last_message = ?, "
                    "last_evaluated_at = ?, next_run_at = ? WHERE id = ?",
                    {state, value ? store::Value(*value) : store::Value(nullptr), message, now,
                     now + m.spec.interval_seconds * 1000, m.id}));
        // Alerts follow state changes: breached opens one, leaving breached resolves it (an
        // evaluation that finds no data or fails leaves an open alert open).
        std::optional<std::int64_t> alert_id;
        std::string event;
        if (state == "breached" && previous != "breached") {
            ASSIGN_OR_RETURN(alert_id,
                             tx.InsertReturningId(
                                 "INSERT INTO alerts (monitor_id, project_id, model_id, state, "
                                 "value, threshold, message, opened_at) VALUES (?, ?, ?, 'open', "
                                 "?, ?, ?, ?) RETURNING id",
                                 {m.id, m.project_id, m.model_id, *value, m.spec.threshold,
                                  "monitor '" + m.name + "': " + message, now}));
            event = "alert.opened";
        } else if (state == "ok" && previous == "breached") {
            ASSIGN_OR_RETURN(auto open, tx.QueryOne("SELECT id FROM alerts WHERE monitor_id = ? "
                                                    "AND state = 'open' ORDER BY id DESC LIMIT 1",
                                                    {m.id}));
            if (open) {
                alert_id = open->Int(0);
                RETURN_IF_ERROR(
                    tx.Exec("UPDATE alerts SET state = 'resolved', resolved_at = ? "
                            "WHERE monitor_id = ? AND state = 'open'",
                            {now, m.id}));
                event = "alert.resolved";
            }
        }
        if (alert_id && !m.spec.webhook_url.empty()) {
            json body = {{"event", event},
                         {"alert",
                          {{"id", *alert_id},
                           {"state", event == "alert.opened" ? "open" : "resolved"},
                           {"value", value ? json(*value) : json(nullptr)},
                           {"threshold", m.spec.threshold},
                           {"comparison", m.spec.comparison},
                           {"message", "monitor '" + m.name + "': " + message},
                           {"time", now}}},
                         {"monitor", {{"id", m.id}, {"name", m.name}, {"spec", m.spec.ToJson()}}},
                         {"model", {{"id", m.model_id}, {"name", model_name}, {"crn", model_crn}}},
                         {"project_id", m.project_id}};
            RETURN_IF_ERROR(
                tx.Exec("INSERT INTO alert_deliveries (alert_id, event, url, body, state, "
                        "next_attempt_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                        {*alert_id, event, m.spec.webhook_url, body.dump(), now}));
        }
        return {};
    });
}

void Monitors::DeliverDue() {
    struct Due {
        std::int64_t id;
        std::string url;
        std::string body;
        std::int64_t attempts;
    };
    std::vector<Due> due;
    const std::int64_t now = clock_.NowMs();
    auto st = store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT id, url, body, attempts FROM alert_deliveries WHERE "
                                  "state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT 20",
                                  {now}));
        for (const auto& r : rows) {
            due.push_back({r.Int(0), r.Text(1), r.Text(2), r.Int(3)});
        }
        return {};
    });
    if (!st) {
        LogWarn("cannot read alert deliveries", {{"error", st.error().message}});
        return;
    }
    for (const Due& d : due) {
        {
            std::lock_guard lock(mu_);
            if (stopping_) {
                return;
            }
        }
        const Status posted = PostJson(d.url, d.body);
        const std::int64_t attempts = d.attempts + 1;
        const bool give_up = !posted && attempts >= options_.max_delivery_attempts;
        const std::string state = posted ? "delivered" : give_up ? "failed" : "pending";
        const std::int64_t after = clock_.NowMs();
        const std::int64_t next =
            after + (std::int64_t{1000} << std::min<std::int64_t>(attempts - 1, 10));
        auto w = store_.Write([&](store::Tx& tx) -> Status {
            RETURN_IF_ERROR(
                tx.Exec("UPDATE alert_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, "
                        "last_error = ?, delivered_at = ? WHERE id = ?",
                        {state, attempts, next, posted ? std::string() : posted.error().message,
                         posted ? store::Value(after) : store::Value(nullptr), d.id}));
            return {};
        });
        if (!w) {
            LogWarn("cannot record an alert delivery", {{"error", w.error().message}});
        }
        if (give_up) {
            LogWarn("alert webhook not delivered",
                    {{"url", d.url}, {"attempts", attempts}, {"error", posted.error().message}});
        }
    }
}

void Monitors::Run() {
    while (true) {
        {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || woken_; });
            if (stopping_) {
                return;
            }
            woken_ = false;
        }
        std::vector<Monitor> due;
        const std::int64_t now = clock_.NowMs();
        auto st = store_.Read([&](store::Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kMonitorColumns) +
                                                     std::string(kMonitorFrom) +
                                                     "WHERE m.enabled = 1 AND m.next_run_at <= ? "
                                                     "ORDER BY m.next_run_at LIMIT 50",
                                                 {now}));
            for (const auto& r : rows) {
                due.push_back(MonitorFromRow(r));
            }
            return {};
        });
        if (!st) {
            LogWarn("cannot read due monitors", {{"error", st.error().message}});
        }
        for (const Monitor& m : due) {
            if (auto e = Evaluate(m); !e) {
                LogWarn("monitor evaluation not stored",
                        {{"monitor", m.id}, {"error", e.error().message}});
            }
        }
        DeliverDue();
    }
}

}  // namespace lathe::metrics
