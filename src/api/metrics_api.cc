// The model metrics API: delayed and aggregate metrics, read_metrics, rollup series for charts.
// Routes are site-wide (a CRN names the deployment); each handler checks the caller's role on
// the deployment's project through the policy table.
#include <algorithm>
#include <map>

#include "api/endpoint.h"
#include "api/routes.h"
#include "metrics/drift_report.h"
#include "metrics/read_json.h"

namespace lathe::api {
namespace {

using auth::Action;
using metrics::Series;

constexpr std::size_t kMaxReadRecords = 1'000'000;
constexpr std::size_t kMaxMetricKeys = 1000;
using metrics::kHourMs;
using metrics::kMinuteMs;

// Whether the caller may read or write a deployment's metrics. Callers who can't see the
// project get the same 404 as for a CRN that doesn't exist.
Status MayUse(Context& ctx, const Series& s, Action action) {
    const std::string what = "deployment " + s.deployment_crn;
    if (ctx.principal.method == auth::AuthMethod::kReplica) {
        if (s.deployment_id == ctx.principal.replica_deployment_id) {
            return {};
        }
        return MakeError(ErrorCode::kNotFound, what + " does not exist");
    }
    ASSIGN_OR_RETURN(auth::Role role, ctx.services.projects.RoleOf(ctx.principal, s.project_id));
    return auth::Decide(auth::RuleFor(action), role, what);
}

// A metrics object from a body: an object with at most kMaxMetricKeys keys, as compact text.
Result<std::string> MetricsField(const json& body) {
    auto it = body.find("metrics");
    if (it == body.end() || !it->is_object()) {
        return MakeError(ErrorCode::kBadRequest,
                         "\"metrics\" must be an object of metric names to values");
    }
    if (it->size() > kMaxMetricKeys) {
        return MakeError(ErrorCode::kBadRequest, "\"metrics\" may hold at most " +
                                                     std::to_string(kMaxMetricKeys) + " keys");
    }
    return it->dump();
}

// The deployments a read names (one of the three CRNs at least), keeping those the caller may
// read; 404 when none is left.
Result<std::vector<Series>> SeriesFor(Context& ctx, const json& body) {
    ASSIGN_OR_RETURN(auto deployment, OptionalString(body, "modelDeploymentCrn"));
    ASSIGN_OR_RETURN(auto model, OptionalString(body, "modelCrn"));
    ASSIGN_OR_RETURN(auto build, OptionalString(body, "modelBuildCrn"));
    if (!deployment && !model && !build) {
        return MakeError(ErrorCode::kBadRequest,
                         "name what to read: \"modelDeploymentCrn\", \"modelCrn\" or "
                         "\"modelBuildCrn\"");
    }
    auto opt = [](const std::optional<std::string>& s) {
        return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    ASSIGN_OR_RETURN(
        auto all, ctx.services.metrics.store().FindSeries(opt(deployment), opt(model), opt(build)));
    std::vector<Series> allowed;
    for (auto& s : all) {
        if (MayUse(ctx, s, Action::kProjectMetricsRead)) {
            allowed.push_back(std::move(s));
        }
    }
    if (allowed.empty()) {
        const std::string& crn = deployment ? *deployment : model ? *model : *build;
        return MakeError(ErrorCode::kNotFound,
                         "no deployment you can read matches " + crn +
                             " (a deployment has metrics once it has been deployed)");
    }
    return allowed;
}

struct Window {
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
};

Result<Window> WindowOf(Context& ctx, const json& body) {
    ASSIGN_OR_RETURN(auto start, OptionalInt(body, "startTimeStampMs"));
    ASSIGN_OR_RETURN(auto end, OptionalInt(body, "endTimeStampMs"));
    Window w{start.value_or(0), end.value_or(ctx.services.clock.NowMs())};
    if (w.start_ms > w.end_ms) {
        return MakeError(ErrorCode::kBadRequest,
                         "startTimeStampMs must not be after endTimeStampMs");
    }
    return w;
}

Result<http::Response> ReadMetrics(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(OnlyFields(body, {"modelDeploymentCrn", "modelCrn", "modelBuildCrn",
                                      "startTimeStampMs", "endTimeStampMs", "limit", "pageToken"}));
    ASSIGN_OR_RETURN(auto series, SeriesFor(ctx, body));
    ASSIGN_OR_RETURN(Window w, WindowOf(ctx, body));
    ASSIGN_OR_RETURN(auto limit, OptionalInt(body, "limit"));
    if (limit && (*limit < 1 || *limit > static_cast<std::int64_t>(kMaxReadRecords))) {
        return MakeError(ErrorCode::kBadRequest,
                         "limit must be between 1 and " + std::to_string(kMaxReadRecords));
    }
    ASSIGN_OR_RETURN(auto page_token, OptionalString(body, "pageToken"));
    metrics::ReadRange range;
    for (const auto& s : series) {
        range.series.push_back(s.id);
    }
    range.start_ms = w.start_ms;
    range.end_ms = w.end_ms;
    range.limit = limit ? static_cast<std::size_t>(*limit) : kMaxReadRecords;
    if (page_token) {
        auto after = ParseId(*page_token);
        if (!after) {
            return MakeError(ErrorCode::kBadRequest, "pageToken is not one this server gave");
        }
        range.after_id = *after;
        range.aggregates = false;  // the first page had them
    }

    const std::int64_t minute_kept_from =
        ctx.services.clock.NowMs() - ctx.services.metrics.options().retention.minute_ms;
    ASSIGN_OR_RETURN(auto parts, metrics::ReadMetricsJson(ctx.services.metrics.store(), range,
                                                          minute_kept_from));
    http::Response r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = std::move(parts.front());
    r.body_parts.assign(std::make_move_iterator(parts.begin() + 1),
                        std::make_move_iterator(parts.end()));
    return r;
}

Result<http::Response> TrackDelayed(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(OnlyFields(body, {"predictionUuid", "metrics"}));
    ASSIGN_OR_RETURN(std::string uuid, RequiredString(body, "predictionUuid"));
    ASSIGN_OR_RETURN(std::string metrics, MetricsField(body));
    auto& store = ctx.services.metrics.store();
    ASSIGN_OR_RETURN(Series s, store.SeriesOfPrediction(uuid));
    RETURN_IF_ERROR(MayUse(ctx, s, Action::kProjectMetricsWrite));
    ASSIGN_OR_RETURN(auto added, store.AddDelayed(uuid, metrics, ctx.services.clock.NowMs()));
    return http::Response::Json(
        200, {{"predictionUuid", uuid}, {"modelDeploymentCrn", added.series.deployment_crn}});
}

Result<http::Response> TrackAggregate(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(
        OnlyFields(body, {"modelDeploymentCrn", "startTimeStampMs", "endTimeStampMs", "metrics"}));
    ASSIGN_OR_RETURN(std::string crn, RequiredString(body, "modelDeploymentCrn"));
    ASSIGN_OR_RETURN(auto start, OptionalInt(body, "startTimeStampMs"));
    ASSIGN_OR_RETURN(auto end, OptionalInt(body, "endTimeStampMs"));
    if (!start || !end) {
        return MakeError(ErrorCode::kBadRequest,
                         "an aggregate needs its window: startTimeStampMs and endTimeStampMs");
    }
    if (*start > *end) {
        return MakeError(ErrorCode::kBadRequest,
                         "startTimeStampMs must not be after endTimeStampMs");
    }
    ASSIGN_OR_RETURN(std::string metrics, MetricsField(body));
    auto& store = ctx.services.metrics.store();
    ASSIGN_OR_RETURN(auto found, store.FindSeries(crn, std::nullopt, std::nullopt));
    if (found.empty()) {
        return MakeError(ErrorCode::kNotFound, "deployment " + crn + " does not exist");
    }
    RETURN_IF_ERROR(MayUse(ctx, found[0], Action::kProjectMetricsWrite));
    ASSIGN_OR_RETURN(std::int64_t id, store.AddAggregate(found[0].id, *start, *end, metrics,
                                                         ctx.services.clock.NowMs()));
    return http::Response::Json(201, {{"id", id},
                                      {"modelDeploymentCrn", crn},
                                      {"startTimeStampMs", *start},
                                      {"endTimeStampMs", *end}});
}

// Chart data: per-minute or per-hour summaries of numeric metrics, merged across the named
// deployments.
Result<http::Response> MetricSeries(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(
        OnlyFields(body, {"modelDeploymentCrn", "modelCrn", "modelBuildCrn", "startTimeStampMs",
                          "endTimeStampMs", "metrics", "resolution"}));
    ASSIGN_OR_RETURN(auto series, SeriesFor(ctx, body));
    ASSIGN_OR_RETURN(Window w, WindowOf(ctx, body));
    if (!body.contains("startTimeStampMs")) {
        w.start_ms = std::max<std::int64_t>(0, w.end_ms - 24 * kHourMs);  // charts: the last day
    }
    ASSIGN_OR_RETURN(auto resolution_name, OptionalString(body, "resolution"));
    std::int64_t resolution = w.end_ms - w.start_ms <= 48 * kHourMs ? kMinuteMs : kHourMs;
    if (resolution_name) {
        if (*resolution_name == "minute") {
            resolution = kMinuteMs;
        } else if (*resolution_name == "hour") {
            resolution = kHourMs;
        } else {
            return MakeError(ErrorCode::kBadRequest, "resolution must be \"minute\" or \"hour\"");
        }
    }
    if (resolution == kMinuteMs && (w.end_ms - w.start_ms) / kMinuteMs > 100'000) {
        return MakeError(ErrorCode::kBadRequest,
                         "that window has more than 100000 minutes; ask for \"hour\" resolution");
    }
    std::vector<std::string> names;
    if (auto it = body.find("metrics"); it != body.end()) {
        if (!it->is_array()) {
            return MakeError(ErrorCode::kBadRequest, "\"metrics\" must be a list of names");
        }
        for (const auto& n : *it) {
            if (!n.is_string()) {
                return MakeError(ErrorCode::kBadRequest, "\"metrics\" must be a list of names");
            }
            names.push_back(n.get<std::string>());
        }
    }
    metrics::ReadRange range;
    for (const auto& s : series) {
        range.series.push_back(s.id);
    }
    range.start_ms = w.start_ms;
    range.end_ms = w.end_ms;
    ASSIGN_OR_RETURN(json out_metrics, metrics::MetricSeriesJson(ctx.services.metrics.store(),
                                                                 range, resolution, names));
    return http::Response::Json(200, {{"resolution", resolution == kMinuteMs ? "minute" : "hour"},
                                      {"startTimeStampMs", w.start_ms},
                                      {"endTimeStampMs", w.end_ms},
                                      {"metrics", std::move(out_metrics)}});
}

// A window object of a drift body: {"startTimeStampMs", "endTimeStampMs"}.
Result<Window> WindowField(const json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_object()) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string("\"") + field +
                             "\" must be {\"startTimeStampMs\": ..., \"endTimeStampMs\": ...}");
    }
    RETURN_IF_ERROR(OnlyFields(*it, {"startTimeStampMs", "endTimeStampMs", "file"}));
    ASSIGN_OR_RETURN(auto start, OptionalInt(*it, "startTimeStampMs"));
    ASSIGN_OR_RETURN(auto end, OptionalInt(*it, "endTimeStampMs"));
    if (!start || !end || *start > *end) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string("\"") + field +
                             "\" needs startTimeStampMs and endTimeStampMs, start first");
    }
    return Window{*start, *end};
}

// The features' values in a window of the named deployments' predictions.
Result<metrics::FeatureSamples> SamplesOf(Context& ctx,
                                          const std::vector<Series>& series,
                                          Window w) {
    metrics::FeatureSamples samples;
    metrics::ReadRange range;
    for (const auto& s : series) {
        range.series.push_back(s.id);
    }
    range.start_ms = w.start_ms;
    range.end_ms = w.end_ms;
    range.limit = 2'000'000;
    ASSIGN_OR_RETURN(
        auto stats,
        ctx.services.metrics.store().Read(
            range, [&](const metrics::PredictionView& v) { samples.AddMetricsJson(v.metrics); },
            [](const metrics::AggregateView&) {}));
    if (stats.truncated) {
        return MakeError(ErrorCode::kBadRequest,
                         "a drift window may hold at most 2000000 predictions; narrow it");
    }
    return samples;
}

Result<http::Response> Drift(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(OnlyFields(body, {"modelDeploymentCrn", "modelCrn", "modelBuildCrn",
                                      "reference", "current", "features", "thresholds"}));
    ASSIGN_OR_RETURN(auto series, SeriesFor(ctx, body));
    std::vector<std::string> features;
    if (auto it = body.find("features"); it != body.end()) {
        if (!it->is_array()) {
            return MakeError(ErrorCode::kBadRequest, "\"features\" must be a list of names");
        }
        for (const auto& n : *it) {
            if (!n.is_string()) {
                return MakeError(ErrorCode::kBadRequest, "\"features\" must be a list of names");
            }
            features.push_back(n.get<std::string>());
        }
    }
    metrics::DriftThresholds thresholds;
    if (auto it = body.find("thresholds"); it != body.end()) {
        if (!it->is_object()) {
            return MakeError(ErrorCode::kBadRequest, "\"thresholds\" must be an object");
        }
        RETURN_IF_ERROR(OnlyFields(*it, {"psi", "ks_p_value", "jensen_shannon", "wasserstein"}));
        for (auto& [key, target] : std::initializer_list<std::pair<const char*, double*>>{
                 {"psi", &thresholds.psi},
                 {"ks_p_value", &thresholds.ks_p_value},
                 {"jensen_shannon", &thresholds.jensen_shannon},
                 {"wasserstein", &thresholds.wasserstein_normed}}) {
            if (auto v = it->find(key); v != it->end()) {
                if (!v->is_number() || v->get<double>() < 0) {
                    return MakeError(ErrorCode::kBadRequest,
                                     std::string("thresholds.") + key + " must be a number >= 0");
                }
                *target = v->get<double>();
            }
        }
    }
    ASSIGN_OR_RETURN(Window current_window, WindowField(body, "current"));
    ASSIGN_OR_RETURN(auto current, SamplesOf(ctx, series, current_window));
    metrics::FeatureSamples reference;
    json reference_echo;
    const json* ref = body.contains("reference") ? &body["reference"] : nullptr;
    if (ref != nullptr && ref->is_object() && ref->contains("file")) {
        if (!(*ref)["file"].is_string() || ref->size() != 1) {
            return MakeError(ErrorCode::kBadRequest,
                             "a file reference is {\"file\": \"<path in the project>\"}");
        }
        const std::string path = (*ref)["file"].get<std::string>();
        auto files = ctx.services.projects.Files(series[0].project_id);
        ASSIGN_OR_RETURN(auto host_path, files->Resolve(path));
        ASSIGN_OR_RETURN(reference, metrics::FeatureSamples::FromFile(host_path));
        reference_echo = {{"file", path}};
    } else {
        ASSIGN_OR_RETURN(Window w, WindowField(body, "reference"));
        ASSIGN_OR_RETURN(reference, SamplesOf(ctx, series, w));
        reference_echo = {{"startTimeStampMs", w.start_ms}, {"endTimeStampMs", w.end_ms}};
    }
    json report = metrics::DriftReport(reference, current, features, thresholds);
    report["reference"] = std::move(reference_echo);
    report["current"] = {{"startTimeStampMs", current_window.start_ms},
                         {"endTimeStampMs", current_window.end_ms}};
    return http::Response::Json(200, report);
}

}  // namespace

void RegisterMetricsRoutes(http::Router& router, Services& s) {
    const EndpointOptions data{.audit = false};
    AddEndpoint(router, s, "POST", "/api/v2/metrics/delayed", Action::kMetricsAccess, TrackDelayed,
                data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics/aggregates", Action::kMetricsAccess,
                TrackAggregate, data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics:read", Action::kMetricsAccess, ReadMetrics,
                data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics:series", Action::kMetricsAccess, MetricSeries,
                data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics:drift", Action::kMetricsAccess, Drift, data);
}

}  // namespace lathe::api
