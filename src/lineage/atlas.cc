// Atlas v2 JSON for the lineage graph: types (AtlasTypesDef) and entities
// (AtlasEntitiesWithExtInfo).
#include "lineage/atlas.h"

#include <cctype>
#include <map>
#include <vector>

namespace lathe::lineage {

using nlohmann::json;

namespace {

constexpr std::string_view kServiceType = "lathe";
constexpr std::string_view kTypeVersion = "1.0";

const std::vector<std::string_view>& EntityKinds() {
    static const std::vector<std::string_view> kinds = {
        "project",     "dataset",          "job",          "job_run", "model",
        "model_build", "model_deployment", "file_snapshot"};
    return kinds;
}

const std::vector<std::string_view>& ProcessKinds() {
    static const std::vector<std::string_view> kinds = {"create_project", "run_job", "build_model",
                                                        "deploy_model"};
    return kinds;
}

// "model_build" -> "modelBuilds": the name of a project's side of its relationship to that kind.
std::string PluralCamel(std::string_view kind) {
    std::string out;
    bool upper = false;
    for (char c : kind) {
        if (c == '_') {
            upper = true;
            continue;
        }
        out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        upper = false;
    }
    return out + "s";
}

json AttributeDef(std::string_view name, std::string_view type) {
    return {{"name", name},         {"typeName", type},   {"cardinality", "SINGLE"},
            {"isIndexable", false}, {"isOptional", true}, {"isUnique", false}};
}

// Attributes every Lathe type has beyond Referenceable's qualifiedName and Asset's name,
// description and owner.
json CommonAttributeDefs() {
    return json::array(
        {AttributeDef("latheKind", "string"), AttributeDef("latheQualifiedName", "string"),
         AttributeDef("projectId", "long"), AttributeDef("createTime", "date"),
         AttributeDef("updateTime", "date"), AttributeDef("properties", "map<string,string>")});
}

// Kind-specific attributes, kept as text: Atlas cannot hold arbitrary JSON, and a catalog search
// wants "metadata.query" = "select ..." rather than a nested document.
void Flatten(const json& value,
             const std::string& prefix,
             std::map<std::string, std::string>* out) {
    if (value.is_object()) {
        for (const auto& [key, v] : value.items()) {
            Flatten(v, prefix.empty() ? key : prefix + "." + key, out);
        }
    } else if (value.is_string()) {
        (*out)[prefix] = value.get<std::string>();
    } else if (!value.is_null() && !prefix.empty()) {
        (*out)[prefix] = value.dump();
    }
}

json ObjectId(const std::string& guid, const Node& n) {
    return {{"guid", guid},
            {"typeName", AtlasTypeName(n.kind)},
            {"uniqueAttributes", {{"qualifiedName", n.crn}}}};
}

}  // namespace

std::string AtlasTypeName(std::string_view kind) {
    return "ml_" + std::string(kind);
}

json AtlasTypeDefs() {
    json entity_defs = json::array();
    json relationship_defs = json::array();
    for (std::string_view kind : EntityKinds()) {
        entity_defs.push_back({{"name", AtlasTypeName(kind)},
                               {"description", "Lathe " + std::string(kind)},
                               {"superTypes", json::array({"DataSet"})},
                               {"serviceType", kServiceType},
                               {"typeVersion", kTypeVersion},
                               {"attributeDefs", CommonAttributeDefs()}});
    }
    for (std::string_view kind : ProcessKinds()) {
        entity_defs.push_back({{"name", AtlasTypeName(kind)},
                               {"description", "Lathe " + std::string(kind)},
                               {"superTypes", json::array({"Process"})},
                               {"serviceType", kServiceType},
                               {"typeVersion", kTypeVersion},
                               {"attributeDefs", CommonAttributeDefs()}});
    }
    // A project aggregates what it contains; the child carries the single "project" end, which
    // is what AtlasEntities fills in from "contains" edges.
    auto contained = EntityKinds();
    contained.insert(contained.end(), ProcessKinds().begin(), ProcessKinds().end());
    for (std::string_view kind : contained) {
        if (kind == "project") {
            continue;
        }
        relationship_defs.push_back(
            {{"name", "ml_project_" + PluralCamel(kind)},
             {"description", "a Lathe project and the " + std::string(kind) + "s in it"},
             {"serviceType", kServiceType},
             {"typeVersion", kTypeVersion},
             {"relationshipCategory", "AGGREGATION"},
             {"propagateTags", "NONE"},
             {"endDef1",
              {{"type", "ml_project"},
               {"name", PluralCamel(kind)},
               {"isContainer", true},
               {"cardinality", "SET"}}},
             {"endDef2",
              {{"type", AtlasTypeName(kind)},
               {"name", "project"},
               {"isContainer", false},
               {"cardinality", "SINGLE"}}}});
    }
    return {{"enumDefs", json::array()},
            {"structDefs", json::array()},
            {"classificationDefs", json::array()},
            {"entityDefs", entity_defs},
            {"relationshipDefs", relationship_defs}};
}

json AtlasEntities(const Graph& g) {
    // Negative guids name entities of this body only; references between them use these.
    std::map<std::int64_t, std::string> guid_of;
    std::map<std::int64_t, const Node*> node_of;
    for (const Node& n : g.nodes) {
        if (!CategoryOf(n.kind) || guid_of.count(n.id) > 0) {
            continue;
        }
        guid_of[n.id] = "-" + std::to_string(guid_of.size() + 1);
        node_of[n.id] = &n;
    }
    std::map<std::int64_t, json> inputs;
    std::map<std::int64_t, json> outputs;
    std::map<std::int64_t, json> project;
    for (const Edge& e : g.edges) {
        auto from = node_of.find(e.from);
        auto to = node_of.find(e.to);
        if (from == node_of.end() || to == node_of.end()) {
            continue;
        }
        const Node& f = *from->second;
        const Node& t = *to->second;
        if (e.kind == "input" && CategoryOf(f.kind) == Category::kEntity &&
            CategoryOf(t.kind) == Category::kProcess) {
            inputs[t.id].push_back(ObjectId(guid_of[f.id], f));
        } else if (e.kind == "output" && CategoryOf(f.kind) == Category::kProcess &&
                   CategoryOf(t.kind) == Category::kEntity) {
            outputs[f.id].push_back(ObjectId(guid_of[t.id], t));
        } else if (e.kind == "contains" && f.kind == "project" && t.kind != "project") {
            project[t.id] = ObjectId(guid_of[f.id], f);
        }
    }
    json entities = json::array();
    for (const Node& n : g.nodes) {
        auto it = node_of.find(n.id);
        if (it == node_of.end() || it->second != &n) {
            continue;
        }
        std::map<std::string, std::string> properties;
        Flatten(n.attributes, "", &properties);
        std::string description;
        if (auto d = n.attributes.find("description"); d != n.attributes.end() && d->is_string()) {
            description = d->get<std::string>();
        } else {
            description = "Lathe " + n.kind + " " + n.name;
        }
        json attributes = {{"qualifiedName", n.crn},
                           {"name", n.name.empty() ? n.crn : n.name},
                           {"description", description},
                           {"latheKind", n.kind},
                           {"latheQualifiedName", n.qualified_name},
                           {"createTime", n.created_at},
                           {"updateTime", n.updated_at},
                           {"properties", properties}};
        if (n.project_id) {
            attributes["projectId"] = *n.project_id;
        }
        for (const char* key : {"owner", "created_by"}) {
            if (auto o = n.attributes.find(key); o != n.attributes.end() && o->is_string()) {
                attributes["owner"] = o->get<std::string>();
                break;
            }
        }
        if (CategoryOf(n.kind) == Category::kProcess) {
            attributes["inputs"] = inputs.count(n.id) ? inputs[n.id] : json::array();
            attributes["outputs"] = outputs.count(n.id) ? outputs[n.id] : json::array();
        }
        json entity = {{"typeName", AtlasTypeName(n.kind)},
                       {"guid", guid_of[n.id]},
                       {"attributes", attributes}};
        if (auto p = project.find(n.id); p != project.end()) {
            entity["relationshipAttributes"] = {{"project", p->second}};
        }
        entities.push_back(std::move(entity));
    }
    return {{"entities", entities}};
}

}  // namespace lathe::lineage
