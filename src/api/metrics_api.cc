// The model metrics API: delayed and aggregate metrics, read_metrics, rollup series for charts.
// Routes are site-wide (a CRN names the deployment); each handler checks the caller's role on
// the deployment's project through the policy table.
#include <algorithm>
#include <charconv>
#include <map>

#include "api/endpoint.h"
#include "api/routes.h"
#include "metrics/summary.h"

namespace lathe::api {
namespace {

using auth::Action;
using metrics::Series;

constexpr std::size_t kMaxReadRecords = 1'000'000;
constexpr std::size_t kMaxMetricKeys = 1000;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;

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
    ASSIGN_OR_RETURN(auto all, ctx.services.metrics.store().FindSeries(opt(deployment), opt(model),
                                                                       opt(build)));
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

void AppendJsonString(std::string& out, std::string_view s) {
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            static const char* kHex = "0123456789abcdef";
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
        }
    }
    out += '"';
}

void AppendInt(std::string& out, std::int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

// The CRN part of each record of a series, rendered once.
std::string SeriesPrefix(const Series& s) {
    std::string out = R"({"modelDeploymentCrn":)";
    AppendJsonString(out, s.deployment_crn);
    out += R"(,"modelBuildCrn":)";
    AppendJsonString(out, s.build_crn);
    out += R"(,"modelCrn":)";
    AppendJsonString(out, s.model_crn);
    return out;
}

json SummaryJson(const metrics::SummaryView& v) {
    auto decoded = metrics::MetricSummary::Decode(v.encoded);
    json j = decoded ? decoded->ToJson() : json::object();
    j["metric"] = std::string(v.metric);
    j["resolution"] = v.resolution_ms == kMinuteMs ? "minute" : "hour";
    j["startTimeStampMs"] = v.bucket_ms;
    j["endTimeStampMs"] = v.bucket_ms + v.resolution_ms;
    return j;
}

Result<http::Response> ReadMetrics(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(OnlyFields(body, {"modelDeploymentCrn", "modelCrn", "modelBuildCrn",
                                      "startTimeStampMs", "endTimeStampMs", "limit",
                                      "pageToken"}));
    ASSIGN_OR_RETURN(auto series, SeriesFor(ctx, body));
    ASSIGN_OR_RETURN(Window w, WindowOf(ctx, body));
    ASSIGN_OR_RETURN(auto limit, OptionalInt(body, "limit"));
    if (limit && (*limit < 1 || *limit > static_cast<std::int64_t>(kMaxReadRecords))) {
        return MakeError(ErrorCode::kBadRequest, "limit must be between 1 and " +
                                                     std::to_string(kMaxReadRecords));
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
    }

    std::map<const Series*, std::string> prefixes;
    auto prefix_of = [&](const Series* s) -> const std::string& {
        auto it = prefixes.find(s);
        if (it == prefixes.end()) {
            it = prefixes.emplace(s, SeriesPrefix(*s)).first;
        }
        return it->second;
    };
    http::Response r;
    r.status = 200;
    r.content_type = "application/json";
    std::string& out = r.body;
    out.reserve(4096);
    out += R"({"metrics":[)";
    bool first = true;
    auto open_record = [&](const Series* s) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += prefix_of(s);
    };
    ASSIGN_OR_RETURN(
        metrics::ReadStats stats,
        ctx.services.metrics.store().Read(
            range,
            [&](const metrics::PredictionView& v) {
                open_record(v.series);
                out += R"(,"predictionUuid":)";
                AppendJsonString(out, v.uuid);
                out += R"(,"startTimeStampMs":)";
                AppendInt(out, v.start_ms);
                out += R"(,"endTimeStampMs":)";
                AppendInt(out, v.end_ms);
                out += R"(,"metrics":)";
                out += v.metrics;
                out += '}';
            },
            [&](const metrics::AggregateView& v) {
                open_record(v.series);
                out += R"(,"predictionUuid":null,"aggregate":true,"startTimeStampMs":)";
                AppendInt(out, v.start_ms);
                out += R"(,"endTimeStampMs":)";
                AppendInt(out, v.end_ms);
                out += R"(,"metrics":)";
                out += v.metrics;
                out += '}';
            }));
    out += ']';
    // Raw records older than the retention are gone: say so, and give their rollups.
    const bool rolled_up = stats.raw_kept_from_ms > w.start_ms;
    out += R"(,"rolledUp":)";
    out += rolled_up ? "true" : "false";
    json summaries = json::array();
    if (rolled_up) {
        metrics::ReadRange old = range;
        old.end_ms = std::min(w.end_ms, stats.raw_kept_from_ms - 1);
        const std::int64_t minute_kept_from =
            ctx.services.clock.NowMs() - ctx.services.metrics.options().retention.minute_ms;
        const std::int64_t resolution = w.start_ms >= minute_kept_from ? kMinuteMs : kHourMs;
        RETURN_IF_ERROR(ctx.services.metrics.store().ReadSummaries(
            old, resolution, {}, [&](const metrics::SummaryView& v) {
                json j = SummaryJson(v);
                j["modelDeploymentCrn"] = v.series->deployment_crn;
                summaries.push_back(std::move(j));
            }));
        out += R"(,"rawKeptFromMs":)";
        AppendInt(out, stats.raw_kept_from_ms);
    }
    out += R"(,"summaries":)";
    out += summaries.dump();
    if (stats.truncated) {
        out += R"(,"nextPageToken":")";
        AppendInt(out, stats.next_after_id);
        out += '"';
    }
    out += '}';
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
    return http::Response::Json(200, {{"predictionUuid", uuid},
                                      {"modelDeploymentCrn", added.series.deployment_crn}});
}

Result<http::Response> TrackAggregate(Context& ctx) {
    ASSIGN_OR_RETURN(json body, ParseJsonBody(ctx.request));
    RETURN_IF_ERROR(OnlyFields(body, {"modelDeploymentCrn", "startTimeStampMs", "endTimeStampMs",
                                      "metrics"}));
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
    ASSIGN_OR_RETURN(std::int64_t id,
                     store.AddAggregate(found[0].id, *start, *end, metrics,
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
    RETURN_IF_ERROR(OnlyFields(body, {"modelDeploymentCrn", "modelCrn", "modelBuildCrn",
                                      "startTimeStampMs", "endTimeStampMs", "metrics",
                                      "resolution"}));
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
    std::map<std::string, std::map<std::int64_t, metrics::MetricSummary>> merged;
    RETURN_IF_ERROR(ctx.services.metrics.store().ReadSummaries(
        range, resolution, names, [&](const metrics::SummaryView& v) {
            auto decoded = metrics::MetricSummary::Decode(v.encoded);
            if (decoded) {
                merged[std::string(v.metric)][v.bucket_ms].Merge(*decoded);
            }
        }));
    json out_metrics = json::object();
    for (auto& [name, buckets] : merged) {
        json points = json::array();
        for (auto& [bucket, summary] : buckets) {
            json p = summary.ToJson();
            p["timeStampMs"] = bucket;
            points.push_back(std::move(p));
        }
        out_metrics[name] = std::move(points);
    }
    return http::Response::Json(200, {{"resolution", resolution == kMinuteMs ? "minute" : "hour"},
                                      {"startTimeStampMs", w.start_ms},
                                      {"endTimeStampMs", w.end_ms},
                                      {"metrics", std::move(out_metrics)}});
}

}  // namespace

void RegisterMetricsRoutes(http::Router& router, Services& s) {
    const EndpointOptions data{.audit = false};
    AddEndpoint(router, s, "POST", "/api/v2/metrics/delayed", Action::kMetricsAccess,
                TrackDelayed, data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics/aggregates", Action::kMetricsAccess,
                TrackAggregate, data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics:read", Action::kMetricsAccess, ReadMetrics,
                data);
    AddEndpoint(router, s, "POST", "/api/v2/metrics:series", Action::kMetricsAccess,
                MetricSeries, data);
}

}  // namespace lathe::api
