// OpenLineage RunEvents (core spec 2-0-2) for job runs and model builds, and the run ids that tie
// a run's START to its COMPLETE or FAIL.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lineage/graph.h"

namespace lathe::lineage {

// What every event and facet names as its producer: a URI (the schema checks the format) that
// identifies Lathe without pretending to be a web address.
inline constexpr std::string_view kOpenLineageProducer = "urn:lathe:server";
inline constexpr std::string_view kRunEventSchemaUrl =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
inline constexpr std::string_view kErrorMessageFacetSchemaUrl =
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
    "#/$defs/ErrorMessageRunFacet";

struct RunEventInput {
    std::string event_type;  // START | COMPLETE | FAIL (OpenLineage also has RUNNING, ABORT, OTHER)
    std::string run_crn;     // the run's CRN: the same CRN always gives the same runId
    std::string job_name;    // "project-3.job.train"
    std::string job_namespace;                 // empty: the exporter's configured namespace
    std::vector<Node> inputs;                  // datasets (and snapshots) the run read
    std::vector<Node> outputs;                 // datasets (and builds) the run made
    std::int64_t event_time_ms = 0;            // 0: the exporter's clock at enqueue time
    std::optional<std::string> error_message;  // FAIL: why, shown as the errorMessage facet
    std::string programming_language;          // of the failed code; empty: "unknown"
    // Extra facets, merged in as given; each needs its own "_producer" and "_schemaURL".
    nlohmann::json run_facets = nlohmann::json::object();
    nlohmann::json job_facets = nlohmann::json::object();
};

// A UUID made from sha256(seed): the RFC 4122 variant, version nibble 5 (name-based), so a
// run's events agree on its id without storing one.
std::string RunUuid(std::string_view seed);

// An OpenLineage dataset {"namespace", "name"} for a node, following OpenLineage's naming: a URI
// splits into scheme://authority and path, a Hive name "db.table@cluster" into "hive://cluster"
// and "db.table", and anything else (a project's files, builds) lives in lathe_namespace under
// its qualified name.
nlohmann::json OpenLineageDataset(const Node& n, const std::string& lathe_namespace);

// The RunEvent JSON. in.job_namespace must be set (the exporter fills it in).
nlohmann::json RunEvent(const RunEventInput& in);

}  // namespace lathe::lineage
