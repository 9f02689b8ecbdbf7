// lineage.yaml: what a project declares about each model's training data, in CML's format.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lathe::lineage {

// One model's entry:
//   "Churn Model":
//     hive_table_qualified_names: ["default.telco_churn@cm"]
//     datasets: ["data/churn.csv", "s3://bucket/churn.parquet"]
//     metadata: {query: "select * from telco_churn", training_file: "train.py"}
struct ModelDeclaration {
    std::vector<std::string> hive_tables;
    std::vector<std::string> datasets;  // project file paths or URIs
    nlohmann::json metadata = nlohmann::json::object();
};

struct LineageFile {
    std::map<std::string, ModelDeclaration> models;
    // Problems, each "lineage.yaml:<line>:<column>: <what>", in file order. A problem in one
    // entry leaves the others usable; a syntax error leaves none.
    std::vector<std::string> problems;
};

// Never throws, whatever the text; files over kMaxLineageYamlBytes are refused with a problem.
inline constexpr std::size_t kMaxLineageYamlBytes = 1 << 20;
LineageFile ParseLineageYaml(std::string_view text);

nlohmann::json DeclarationJson(const ModelDeclaration& d);

// `text` with every byte that is not valid UTF-8 replaced by U+FFFD.
std::string ValidUtf8(std::string_view text);

}  // namespace lathe::lineage
