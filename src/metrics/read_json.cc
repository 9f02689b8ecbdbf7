// read_metrics and chart series as JSON text. read_metrics answers can hold a million records,
// so they are written by hand into one string: each series' CRNs rendered once, each record's
// metrics object spliced in as stored.
#include "metrics/read_json.h"

#include <charconv>
#include <map>
#include <thread>

#include "metrics/summary.h"

namespace lathe::metrics {
namespace {

using nlohmann::json;

void AppendJsonString(std::string& out, std::string_view s) {
    out += '"';
    std::size_t clean = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c != '"' && c != '\\' && c >= 0x20) {
            continue;
        }
        out.append(s.data() + clean, i - clean);
        clean = i + 1;
        if (c == '"' || c == '\\') {
            out += '\\';
            out += s[i];
        } else {
            static const char* kHex = "0123456789abcdef";
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    out.append(s.data() + clean, s.size() - clean);
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

json SummaryJson(const SummaryView& v) {
    auto decoded = MetricSummary::Decode(v.encoded);
    json j = decoded ? decoded->ToJson() : json::object();
    j["metric"] = std::string(v.metric);
    j["resolution"] = v.resolution_ms == kMinuteMs ? "minute" : "hour";
    j["startTimeStampMs"] = v.bucket_ms;
    j["endTimeStampMs"] = v.bucket_ms + v.resolution_ms;
    j["modelDeploymentCrn"] = v.series->deployment_crn;
    return j;
}

}  // namespace

namespace {

// Appends one part's records (comma-separated, no brackets) to `out`. Once the first thousand
// are written, reserves room for the estimated rest: a million records are ~650 MB and growing
// the string by doubling would copy it all again.
Result<ReadStats> RenderRecords(MetricsStore& store,
                                const ReadRange& range,
                                std::int64_t expected_rows,
                                std::string& out,
                                bool* first) {
    std::map<const Series*, std::string> prefixes;
    const Series* last_series = nullptr;
    const std::string* last_prefix = nullptr;
    std::size_t rendered = 0;
    const std::size_t started_at = out.size();
    auto open_record = [&](const Series* s) {
        if (!*first) {
            out += ',';
        }
        *first = false;
        if (s != last_series) {
            auto it = prefixes.find(s);
            if (it == prefixes.end()) {
                it = prefixes.emplace(s, SeriesPrefix(*s)).first;
            }
            last_series = s;
            last_prefix = &it->second;
        }
        out += *last_prefix;
    };
    return store.Read(
        range,
        [&](const PredictionView& v) {
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
            if (++rendered == 1000 && expected_rows > 2000) {
                const double per_record = static_cast<double>(out.size() - started_at) / 1000.0;
                out.reserve(out.size() +
                            static_cast<std::size_t>(per_record * 1.1 *
                                                     static_cast<double>(expected_rows - 1000)));
            }
        },
        [&](const AggregateView& v) {
            open_record(v.series);
            out += R"(,"predictionUuid":null,"aggregate":true,"startTimeStampMs":)";
            AppendInt(out, v.start_ms);
            out += R"(,"endTimeStampMs":)";
            AppendInt(out, v.end_ms);
            out += R"(,"metrics":)";
            out += v.metrics;
            out += '}';
        });
}

}  // namespace

Result<std::vector<std::string>> ReadMetricsJson(MetricsStore& store,
                                                 const ReadRange& range,
                                                 std::int64_t minute_kept_from_ms) {
    ASSIGN_OR_RETURN(IdSpan span, store.PredictionIdSpan(range));
    std::vector<std::string> parts;
    std::string out;  // the part being written
    out.reserve(1 << 16);
    out += R"({"metrics":[)";
    bool first = true;
    ReadStats stats;
    // A large read that can't be cut short by its limit is rendered in two halves at once, on
    // two reader connections (a million records take about a second on one core).
    const bool halves = span.rows >= 200'000 &&
                        (range.limit == 0 || span.rows <= static_cast<std::int64_t>(range.limit));
    if (halves) {
        const std::int64_t mid = span.first_id + (span.last_id - span.first_id) / 2;
        ReadRange low = range;
        low.max_id = mid;
        low.aggregates = false;
        ReadRange high = range;
        high.after_id = std::max(range.after_id, mid);
        std::string high_text;
        bool high_first = true;
        Result<ReadStats> high_stats = ReadStats{};
        std::thread other([&] {
            high_stats = RenderRecords(store, high, span.rows / 2, high_text, &high_first);
        });
        auto low_stats = RenderRecords(store, low, span.rows / 2, out, &first);
        other.join();
        RETURN_IF_ERROR(low_stats);
        RETURN_IF_ERROR(high_stats);
        if (!high_text.empty()) {
            if (!first) {
                out += ',';
            }
            parts.push_back(std::move(out));
            out = std::move(high_text);
        }
        stats = *high_stats;
        stats.predictions += low_stats->predictions;
        stats.raw_kept_from_ms = std::max(stats.raw_kept_from_ms, low_stats->raw_kept_from_ms);
    } else {
        ASSIGN_OR_RETURN(stats, RenderRecords(store, range, span.rows, out, &first));
    }
    out += ']';
    // Raw records older than the retention are gone: say so, and give their rollups.
    const bool rolled_up = stats.raw_kept_from_ms > range.start_ms;
    out += R"(,"rolledUp":)";
    out += rolled_up ? "true" : "false";
    json summaries = json::array();
    if (rolled_up) {
        ReadRange old = range;
        old.end_ms = std::min(range.end_ms, stats.raw_kept_from_ms - 1);
        const std::int64_t resolution = range.start_ms >= minute_kept_from_ms ? kMinuteMs : kHourMs;
        RETURN_IF_ERROR(store.ReadSummaries(old, resolution, {}, [&](const SummaryView& v) {
            summaries.push_back(SummaryJson(v));
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
    parts.push_back(std::move(out));
    return parts;
}

Result<json> MetricSeriesJson(MetricsStore& store,
                              const ReadRange& range,
                              std::int64_t resolution_ms,
                              const std::vector<std::string>& metrics) {
    std::map<std::string, std::map<std::int64_t, MetricSummary>, std::less<>> merged;
    RETURN_IF_ERROR(store.ReadSummaries(range, resolution_ms, metrics, [&](const SummaryView& v) {
        auto decoded = MetricSummary::Decode(v.encoded);
        if (!decoded) {
            return;
        }
        auto it = merged.find(v.metric);
        if (it == merged.end()) {
            it = merged.emplace(std::string(v.metric), std::map<std::int64_t, MetricSummary>())
                     .first;
        }
        it->second[v.bucket_ms].Merge(*decoded);
    }));
    json out = json::object();
    for (auto& [name, buckets] : merged) {
        json points = json::array();
        for (auto& [bucket, summary] : buckets) {
            json p = summary.ToJson();
            p["timeStampMs"] = bucket;
            points.push_back(std::move(p));
        }
        out[name] = std::move(points);
    }
    return out;
}

}  // namespace lathe::metrics
