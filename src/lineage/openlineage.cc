// OpenLineage RunEvents: the JSON shape of core spec 2-0-2 and the deterministic run ids.
#include "lineage/openlineage.h"

#include <cctype>

#include "core/clock.h"
#include "core/crypto.h"

namespace lathe::lineage {

using nlohmann::json;

namespace {

// Object stores name a dataset by its key without the leading '/', file systems by their path.
bool IsObjectStore(std::string_view scheme) {
    for (std::string_view s : {"s3", "s3a", "s3n", "gs", "wasb", "wasbs", "abfs", "abfss"}) {
        if (scheme == s) {
            return true;
        }
    }
    return false;
}

bool IsUriScheme(std::string_view s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) {
        return false;
    }
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string RunUuid(std::string_view seed) {
    const std::string hex = Sha256Hex(seed);
    std::string b = hex.substr(0, 32);
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    constexpr char kHex[] = "0123456789abcdef";
    // Version 5 (name-based, SHA) in the high nibble of byte 6; variant 10xx in byte 8.
    b[12] = '5';
    b[16] = kHex[(nibble(b[16]) & 0x3) | 0x8];
    return b.substr(0, 8) + "-" + b.substr(8, 4) + "-" + b.substr(12, 4) + "-" + b.substr(16, 4) +
           "-" + b.substr(20, 12);
}

json OpenLineageDataset(const Node& n, const std::string& lathe_namespace) {
    const std::string& q = n.qualified_name.empty() ? n.crn : n.qualified_name;
    if (auto sep = q.find("://"); sep != std::string::npos && IsUriScheme(q.substr(0, sep))) {
        const std::string scheme = q.substr(0, sep);
        const std::size_t host_start = sep + 3;
        std::size_t path_start = q.find('/', host_start);
        if (path_start == std::string::npos) {
            path_start = q.size();
        }
        const std::string authority = q.substr(host_start, path_start - host_start);
        const std::string path = path_start < q.size() ? q.substr(path_start) : std::string("/");
        if (authority.empty()) {  // file:///data/x.csv
            return {{"namespace", scheme}, {"name", path}};
        }
        const bool key = IsObjectStore(scheme) && path.size() > 1;
        return {{"namespace", scheme + "://" + authority}, {"name", key ? path.substr(1) : path}};
    }
    // Hive tables as CML's lineage.yaml and Atlas name them: "db.table@cluster".
    if (auto at = q.rfind('@'); at != std::string::npos && at > 0 && at + 1 < q.size() &&
                                q.find('/') == std::string::npos && q.find('.') < at) {
        return {{"namespace", "hive://" + q.substr(at + 1)}, {"name", q.substr(0, at)}};
    }
    return {{"namespace", lathe_namespace}, {"name", q}};
}

json RunEvent(const RunEventInput& in) {
    const std::string producer(kOpenLineageProducer);
    json run = {{"runId", RunUuid(in.run_crn)}};
    json run_facets = in.run_facets.is_object() ? in.run_facets : json::object();
    if (in.event_type == "FAIL") {
        run_facets["errorMessage"] = {
            {"_producer", producer},
            {"_schemaURL", std::string(kErrorMessageFacetSchemaUrl)},
            {"message", in.error_message.value_or("the run failed")},
            {"programmingLanguage",
             in.programming_language.empty() ? "unknown" : in.programming_language}};
    }
    if (!run_facets.empty()) {
        run["facets"] = run_facets;
    }
    json job = {{"namespace", in.job_namespace}, {"name", in.job_name}};
    if (in.job_facets.is_object() && !in.job_facets.empty()) {
        job["facets"] = in.job_facets;
    }
    json inputs = json::array();
    for (const Node& n : in.inputs) {
        inputs.push_back(OpenLineageDataset(n, in.job_namespace));
    }
    json outputs = json::array();
    for (const Node& n : in.outputs) {
        outputs.push_back(OpenLineageDataset(n, in.job_namespace));
    }
    return {{"eventType", in.event_type},
            {"eventTime", FormatTimeMillis(in.event_time_ms)},
            {"run", run},
            {"job", job},
            {"inputs", inputs},
            {"outputs", outputs},
            {"producer", producer},
            {"schemaURL", std::string(kRunEventSchemaUrl)}};
}

}  // namespace lathe::lineage
