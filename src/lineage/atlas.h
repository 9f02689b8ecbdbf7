// Apache Atlas v2 rendering of the lineage graph: the type definitions Lathe's entities need and
// the entity/bulk body for a set of nodes and edges.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lineage/graph.h"

namespace lathe::lineage {

// The Atlas type of a lineage kind: "ml_" + kind ("job_run" -> "ml_job_run"); processes are
// "ml_create_project", "ml_run_job", "ml_build_model", "ml_deploy_model".
std::string AtlasTypeName(std::string_view kind);

// An AtlasTypesDef for POST (create) or PUT (update) /api/atlas/v2/types/typedefs: entity types
// for every entity kind (superType DataSet) and process kind (superType Process), and one
// relationship per contained kind ("project" on the child, a set on ml_project).
nlohmann::json AtlasTypeDefs();

// An AtlasEntitiesWithExtInfo for POST /api/atlas/v2/entity/bulk: one AtlasEntity per node, with
// qualifiedName = the node's CRN, negative guids ("-1", "-2", ...) unique in the body, processes'
// inputs/outputs from "input"/"output" edges and the project from "contains" edges, both as
// AtlasObjectIds of entities in the same body.
nlohmann::json AtlasEntities(const Graph& g);

}  // namespace lathe::lineage
