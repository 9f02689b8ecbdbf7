// The lineage graph's vocabulary: entities (nouns) and processes (verbs) as nodes, and the edges
// between them, as the store keeps them and the API, Atlas and OpenLineage render them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lathe::lineage {

// Entities: "project", "dataset", "job", "job_run", "model", "model_build", "model_deployment",
// "file_snapshot". Processes: "create_project", "run_job", "build_model", "deploy_model".
enum class Category { kEntity, kProcess };

std::string_view CategoryName(Category c);
// The category of a kind; nullopt for a kind that is not one of the above.
std::optional<Category> CategoryOf(std::string_view kind);

struct Node {
    std::int64_t id = 0;
    std::string crn;             // crn:lathe:ml:<workspace>:<kind with '-'>/<local id>
    std::string kind;            // one of the kinds above
    std::string name;            // what a person calls it ("train.py", "Churn Model", "run 7")
    std::string qualified_name;  // unique and stable: "default.telco_churn@cm", "project/3/files/x"
    std::optional<std::int64_t> project_id;  // nullopt: a dataset outside any project
    nlohmann::json attributes = nlohmann::json::object();  // kind-specific, safe to show
    std::int64_t created_at = 0;  // ms since the epoch
    std::int64_t updated_at = 0;
};

// Edge kinds: "input" (entity -> process it feeds), "output" (process -> entity it made),
// "contains" (project -> job | model | file_snapshot | dataset of its files).
struct Edge {
    std::int64_t id = 0;
    std::int64_t from = 0;  // node ids
    std::int64_t to = 0;
    std::string kind;
    std::int64_t created_at = 0;
};

struct Graph {
    std::vector<Node> nodes;
    std::vector<Edge> edges;  // both ends are in nodes
};

// {"id", "crn", "kind", "category", "name", "qualified_name", "project_id", "attributes",
//  "created_at", "updated_at"} with times as RFC 3339 strings.
nlohmann::json NodeJson(const Node& n);
// {"id", "from", "to", "from_crn", "to_crn", "kind"}; needs the graph for the crns.
nlohmann::json GraphJson(const Graph& g);

}  // namespace lathe::lineage
