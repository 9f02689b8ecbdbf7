// Gathering feature samples from metrics JSON and data files, and the per-feature drift report.
#include "metrics/drift_report.h"

#include <charconv>
#include <cmath>
#include <fstream>

namespace lathe::metrics {

using nlohmann::json;

namespace {

// A number when the whole field is one (CSV cells are text).
std::optional<double> ParseNumber(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    if (s.empty()) {
        return std::nullopt;
    }
    if (s.front() == '+') {
        s.remove_prefix(1);
    }
    double x = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return x;
}

// Splits one CSV record (RFC 4180: quoted fields may hold commas, doubled quotes and newlines).
// Reads more lines from `in` while a quote is open. False at a quote left open at the end.
bool ReadCsvRecord(std::istream& in, std::vector<std::string>& fields, std::size_t& line_no) {
    fields.clear();
    std::string line;
    if (!std::getline(in, line)) {
        return false;
    }
    ++line_no;
    std::string field;
    bool quoted = false;
    std::size_t i = 0;
    while (true) {
        if (i == line.size()) {
            if (quoted) {
                std::string more;
                if (!std::getline(in, more)) {
                    fields.push_back(field);
                    return true;  // the caller sees a short record
                }
                ++line_no;
                field += '\n';
                line = more;
                i = 0;
                continue;
            }
            break;
        }
        const char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.push_back(field);
            field.clear();
        } else if (c != '\r') {
            field += c;
        }
        ++i;
    }
    fields.push_back(field);
    return true;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void FeatureSamples::AddNumber(const std::string& feature, double x) {
    Values& v = features_[feature];
    if (v.numbers.size() + v.categories.size() >= max_values_) {
        truncated_ = true;
        return;
    }
    v.numbers.push_back(x);
}

void FeatureSamples::AddCategory(const std::string& feature, std::string value) {
    Values& v = features_[feature];
    if (v.numbers.size() + v.categories.size() >= max_values_) {
        truncated_ = true;
        return;
    }
    v.categories.push_back(std::move(value));
}

void FeatureSamples::AddMetricsJson(std::string_view text) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) {
        return;
    }
    ++records_;
    for (auto& [k, v] : j.items()) {
        if (v.is_number()) {
            AddNumber(k, v.get<double>());
        } else if (v.is_string()) {
            AddCategory(k, v.get<std::string>());
        } else if (v.is_boolean()) {
            AddCategory(k, v.get<bool>() ? "true" : "false");
        }
    }
}

Result<FeatureSamples> FeatureSamples::FromFile(const std::filesystem::path& path,
                                                std::size_t max_rows) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return MakeError(ErrorCode::kNotFound,
                         "cannot open the reference file " + path.filename().string());
    }
    FeatureSamples out;
    const std::string name = path.filename().string();
    std::size_t line_no = 0;
    if (EndsWith(name, ".jsonl") || EndsWith(name, ".ndjson") || EndsWith(name, ".json")) {
        std::string line;
        while (std::getline(in, line)) {
            ++line_no;
            if (line.find_first_not_of(" \t\r") == std::string::npos) {
                continue;
            }
            json j = json::parse(line, nullptr, false);
            if (!j.is_object()) {
                return MakeError(ErrorCode::kBadRequest, name + " line " + std::to_string(line_no) +
                                                             ": expected one JSON object per line");
            }
            if (out.records_ == max_rows) {
                out.truncated_ = true;
                break;
            }
            out.AddMetricsJson(line);
        }
        return out;
    }
    std::vector<std::string> header;
    if (!ReadCsvRecord(in, header, line_no) || header.empty() ||
        (header.size() == 1 && header[0].empty())) {
        return MakeError(ErrorCode::kBadRequest,
                         name + " is empty; a CSV reference needs a header row of feature names");
    }
    if (!header[0].empty() && header[0].starts_with("\xEF\xBB\xBF")) {
        header[0].erase(0, 3);  // a byte order mark
    }
    std::vector<std::string> fields;
    while (ReadCsvRecord(in, fields, line_no)) {
        if (fields.size() == 1 && fields[0].empty()) {
            continue;  // a blank line
        }
        if (fields.size() != header.size()) {
            return MakeError(ErrorCode::kBadRequest, name + " line " + std::to_string(line_no) +
                                                         " has " + std::to_string(fields.size()) +
                                                         " fields; the header has " +
                                                         std::to_string(header.size()));
        }
        if (out.records_ == max_rows) {
            out.truncated_ = true;
            break;
        }
        ++out.records_;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (fields[i].empty()) {
                continue;  // missing
            }
            if (auto x = ParseNumber(fields[i])) {
                out.AddNumber(header[i], *x);
            } else {
                out.AddCategory(header[i], fields[i]);
            }
        }
    }
    return out;
}

json DriftReport(const FeatureSamples& reference,
                 const FeatureSamples& current,
                 const std::vector<std::string>& features,
                 const DriftThresholds& thresholds) {
    std::vector<std::string> names = features;
    if (names.empty()) {
        for (const auto& [name, _] : current.features()) {
            names.push_back(name);
        }
    }
    json out_features = json::array();
    int drifted_count = 0;
    static const FeatureSamples::Values kNone;
    for (const std::string& name : names) {
        auto rit = reference.features().find(name);
        auto cit = current.features().find(name);
        const auto& ref = rit == reference.features().end() ? kNone : rit->second;
        const auto& cur = cit == current.features().end() ? kNone : cit->second;
        json f = {{"name", name},
                  {"referenceCount", ref.numbers.size() + ref.categories.size()},
                  {"currentCount", cur.numbers.size() + cur.categories.size()}};
        const bool numeric = ref.categories.empty() && cur.categories.empty();
        if (f["referenceCount"] == 0 || f["currentCount"] == 0) {
            f["kind"] = numeric ? "numeric" : "categorical";
            f["error"] = f["referenceCount"] == 0 ? "no values in the reference"
                                                  : "no values in the current window";
            f["drifted"] = nullptr;
            out_features.push_back(std::move(f));
            continue;
        }
        if (numeric) {
            auto d = NumericDriftOf(ref.numbers, cur.numbers, thresholds);
            f["kind"] = "numeric";
            if (!d) {
                f["error"] = d.error().message;
                f["drifted"] = nullptr;
                out_features.push_back(std::move(f));
                continue;
            }
            const bool small = d->reference_count <= 1000 && d->current_count <= 1000;
            f["method"] = small ? "ks" : "wasserstein";
            f["statistics"] = {{"ks_statistic", d->ks_statistic},
                               {"ks_p_value", d->ks_p_value},
                               {"wasserstein", d->wasserstein},
                               {"wasserstein_normed", d->wasserstein_normed},
                               {"psi", d->psi},
                               {"jensen_shannon", d->jensen_shannon}};
            json by = json::array();
            if (d->ks_drifted)
                by.push_back("ks");
            if (d->wasserstein_drifted)
                by.push_back("wasserstein");
            if (d->psi_drifted)
                by.push_back("psi");
            if (d->jensen_shannon_drifted)
                by.push_back("jensen_shannon");
            f["driftedBy"] = by;
            f["drifted"] = small ? d->ks_drifted : d->wasserstein_drifted;
        } else {
            std::vector<std::string> r = ref.categories;
            std::vector<std::string> c = cur.categories;
            auto as_text = [](double x) {
                json j = x;
                return j.dump();
            };
            for (double x : ref.numbers) {
                r.push_back(as_text(x));
            }
            for (double x : cur.numbers) {
                c.push_back(as_text(x));
            }
            auto d = CategoricalDriftOf(r, c, thresholds);
            f["kind"] = "categorical";
            if (!d) {
                f["error"] = d.error().message;
                f["drifted"] = nullptr;
                out_features.push_back(std::move(f));
                continue;
            }
            f["method"] = "jensen_shannon";
            f["statistics"] = {{"psi", d->psi}, {"jensen_shannon", d->jensen_shannon}};
            json by = json::array();
            if (d->psi_drifted)
                by.push_back("psi");
            if (d->jensen_shannon_drifted)
                by.push_back("jensen_shannon");
            f["driftedBy"] = by;
            f["drifted"] = d->jensen_shannon_drifted;
            json shares = json::array();
            for (const auto& s : d->categories) {
                shares.push_back({{"category", s.category},
                                  {"reference", s.reference_share},
                                  {"current", s.current_share}});
            }
            f["categories"] = std::move(shares);
        }
        if (f["drifted"] == true) {
            ++drifted_count;
        }
        out_features.push_back(std::move(f));
    }
    return {{"features", std::move(out_features)},
            {"featureCount", names.size()},
            {"driftedFeatures", drifted_count},
            {"referenceRecords", reference.records()},
            {"currentRecords", current.records()},
            {"truncated", reference.truncated() || current.truncated()},
            {"thresholds",
             {{"psi", thresholds.psi},
              {"ks_p_value", thresholds.ks_p_value},
              {"jensen_shannon", thresholds.jensen_shannon},
              {"wasserstein", thresholds.wasserstein_normed}}}};
}

}  // namespace lathe::metrics
