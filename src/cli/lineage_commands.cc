// `lathe lineage ...` and `lathe catalog`: the lineage graph and the catalog of models.
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kLineageHelp = {
    "lathe lineage show|search|export ...",
    "Commands:\n"
    "  show CRN [--depth N] [--direction up|down|both]   the graph around an entity\n"
    "  search [TEXT] [--kind K] [--project P] [--all]    find entities and their CRNs\n"
    "  export [--format atlas|json] [--entity CRN]       the graph as Atlas entities or JSON\n"
    "\n"
    "Lineage is recorded as projects, jobs, builds and deployments do their work: which\n"
    "datasets a run read and wrote, which snapshot and training data a build came from, which\n"
    "build a deployment serves. You see only the nodes of projects you may read.\n"
    "\n"
    "Run `lathe lineage COMMAND --help` for one command's options.\n"};

constexpr CommandHelp kShowHelp = {
    "lathe lineage show CRN [--depth N] [--direction up|down|both]",
    "Shows the lineage graph around the entity CRN: its nodes grouped by kind, with their\n"
    "names and CRNs, then its edges as `FROM --KIND--> TO`. Edges are `input` (an entity a\n"
    "process used), `output` (what a process made) and `contains` (a project's jobs, models,\n"
    "files and snapshots). `lathe model show` prints a model's and its deployment's CRN;\n"
    "`lathe lineage search` finds the others.\n"
    "\n"
    "  --depth N        how many steps to follow from CRN, 1 to 10 (default 3)\n"
    "  --direction D    up: what it came from; down: what came from it; both (default)\n"};

constexpr CommandHelp kSearchHelp = {
    "lathe lineage search [TEXT] [--kind K] [--project P] [--all]",
    "Finds lineage entities whose name or qualified name holds TEXT (ignoring case) and prints\n"
    "their kind, name, project and CRN.\n"
    "\n"
    "  --kind K      only this kind: project, dataset, job, job_run, model, model_build,\n"
    "                model_deployment, file_snapshot, or a process: create_project, run_job,\n"
    "                build_model, deploy_model\n"
    "  --project P   only in this project: its id, its name, or OWNER/NAME\n"
    "  --all         fetch every page, not just the first\n"};

constexpr CommandHelp kExportHelp = {
    "lathe lineage export [--format atlas|json] [--entity CRN [--depth N] [--direction D]]",
    "Prints the lineage graph as JSON: by default everything you may see, with --entity the\n"
    "graph around one entity.\n"
    "\n"
    "  --format F      atlas (default): Apache Atlas entities, the body\n"
    "                  `POST /api/atlas/v2/entity/bulk` takes; json: nodes and edges\n"
    "  --entity CRN    export the graph around this entity only\n"
    "  --depth N       with --entity: how many steps to follow, 1 to 10 (default 3)\n"
    "  --direction D   with --entity: up, down or both (default)\n"};

constexpr CommandHelp kCatalogHelp = {
    "lathe catalog [--search TEXT] [--project P] [--deployed | --not-deployed] [--all]",
    "Lists the models of every project you may read: their project, how many versions\n"
    "(builds) they have, their aliases, the build deployed, its requests and errors, when it\n"
    "was last deployed and how many datasets trained it.\n"
    "\n"
    "  --search TEXT    only models whose name or description, or whose project's name,\n"
    "                   holds TEXT (ignoring case)\n"
    "  --project P      only in this project: its id, its name, or OWNER/NAME\n"
    "  --deployed       only models a deployment is serving\n"
    "  --not-deployed   only models no deployment is serving\n"
    "  --all            fetch every page, not just the first\n"
    "\n"
    "--json prints the catalog's entries with their versions, aliases, deployment, endpoint\n"
    "and training data.\n"};

constexpr const char* kMaxPage = "500";

// The kinds of node, in the order `show` groups them, with the heading of each group.
struct KindHeading {
    std::string_view kind;
    std::string_view heading;
};
constexpr KindHeading kKinds[] = {
    {"project", "Projects"},
    {"dataset", "Datasets"},
    {"job", "Jobs"},
    {"job_run", "Job runs"},
    {"model", "Models"},
    {"model_build", "Model builds"},
    {"model_deployment", "Model deployments"},
    {"file_snapshot", "File snapshots"},
    {"create_project", "Processes: create project"},
    {"run_job", "Processes: run job"},
    {"build_model", "Processes: build model"},
    {"deploy_model", "Processes: deploy model"},
};

Result<ParsedArgs> Parse(std::span<const std::string> words,
                         std::span<const OptionSpec> options,
                         const CommandHelp& help,
                         std::size_t min_positionals,
                         std::size_t max_positionals) {
    return ParseCommandLine(words, options, UsageLine(help), min_positionals, max_positionals);
}

// --depth and --direction, checked before anything is sent, as query parameters.
Result<QueryParams> WalkParams(const ParsedArgs& parsed, const CommandHelp& help) {
    QueryParams params;
    if (auto depth = parsed.Value("depth")) {
        Result<std::int64_t> value = ParseInteger(*depth, "--depth", 1, 10);
        if (!value) {
            return UsageError(value.error().message, UsageLine(help));
        }
        params.emplace_back("depth", std::to_string(*value));
    }
    if (auto direction = parsed.Value("direction")) {
        if (*direction != "up" && *direction != "down" && *direction != "both") {
            return UsageError("--direction must be up, down or both, not '" + *direction + "'",
                              UsageLine(help));
        }
        params.emplace_back("direction", *direction);
    }
    return params;
}

Result<void> CheckCrn(const std::string& crn, const CommandHelp& help) {
    if (!crn.starts_with("crn:")) {
        return UsageError("'" + crn + "' is not a CRN (crn:lathe:ml:...): `lathe lineage search " +
                              crn + "` finds one",
                          UsageLine(help));
    }
    return {};
}

std::size_t TextWidth(std::string_view text) {
    std::size_t width = 0;
    for (char c : text) {
        width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return width;
}

std::string Padded(const std::string& text, std::size_t width) {
    std::size_t have = TextWidth(text);
    return have >= width ? text : text + std::string(width - have, ' ');
}

// How `show` names a node: by its name, with its kind when another node has the same name
// ("build 7 (model_build)" and "build 7 (build_model)").
std::map<std::string, std::string> NodeLabels(const Json& nodes) {
    std::map<std::string, int> uses;
    for (const Json& node : nodes) {
        ++uses[Cell(node, "name")];
    }
    std::map<std::string, std::string> labels;
    for (const Json& node : nodes) {
        std::string name = Cell(node, "name");
        labels[Cell(node, "id")] = uses[name] > 1 ? name + " (" + Cell(node, "kind") + ")" : name;
    }
    return labels;
}

void PrintGraph(const Json& graph) {
    const Json empty = Json::array();
    const Json& nodes =
        graph.contains("nodes") && graph["nodes"].is_array() ? graph["nodes"] : empty;
    const Json& edges =
        graph.contains("edges") && graph["edges"].is_array() ? graph["edges"] : empty;
    std::map<std::string, std::string> labels = NodeLabels(nodes);
    std::size_t width = 0;
    for (const Json& node : nodes) {
        width = std::max(width, TextWidth(Cell(node, "name")));
    }
    std::string start_label = Cell(graph, "entity");
    for (const Json& node : nodes) {
        if (Cell(node, "crn") == Cell(graph, "entity")) {
            start_label = Cell(node, "name") + " (" + Cell(node, "kind") + ")";
        }
    }
    const std::string depth = Cell(graph, "depth");
    std::cout << "Lineage of " << start_label << ", " << depth << " step"
              << (depth == "1" ? "" : "s") << ": " << nodes.size() << " node"
              << (nodes.size() == 1 ? "" : "s") << ", " << edges.size() << " edge"
              << (edges.size() == 1 ? "" : "s") << "\n";
    // Known kinds in their order, then any other kind a newer server has, by name.
    std::vector<std::pair<std::string, std::string>> groups;
    std::set<std::string> known;
    for (const KindHeading& k : kKinds) {
        groups.emplace_back(std::string(k.kind), std::string(k.heading));
        known.emplace(k.kind);
    }
    std::set<std::string> others;
    for (const Json& node : nodes) {
        if (std::string kind = Cell(node, "kind"); !known.contains(kind)) {
            others.insert(kind);
        }
    }
    for (const std::string& kind : others) {
        groups.emplace_back(kind, kind);
    }
    for (const auto& [kind, heading] : groups) {
        std::vector<const Json*> members;
        for (const Json& node : nodes) {
            if (Cell(node, "kind") == kind) {
                members.push_back(&node);
            }
        }
        if (members.empty()) {
            continue;
        }
        std::cout << '\n' << heading << ":\n";
        for (const Json* node : members) {
            std::cout << "  " << Padded(Cell(*node, "name"), width) << "  " << Cell(*node, "crn")
                      << '\n';
        }
    }
    if (!edges.empty()) {
        std::cout << "\nEdges:\n";
        for (const Json& edge : edges) {
            auto label = [&](std::string_view end) {
                auto it = labels.find(Cell(edge, end));
                return it != labels.end() ? it->second : Cell(edge, std::string(end) + "_crn");
            };
            std::cout << "  " << label("from") << " --" << Cell(edge, "kind") << "--> "
                      << label("to") << '\n';
        }
    }
}

Result<void> Show(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"depth", true}, {"direction", true}};
    Result<ParsedArgs> parsed = Parse(words, kOptions, kShowHelp, 1, 1);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    const std::string& crn = parsed->positionals[0];
    LATHE_CLI_RETURN_IF_ERROR(CheckCrn(crn, kShowHelp));
    Result<QueryParams> params = WalkParams(*parsed, kShowHelp);
    if (!params) {
        return std::unexpected(std::move(params).error());
    }
    params->emplace(params->begin(), "entity", crn);
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> graph =
        connection->client().Call(HttpMethod::kGet, "/api/v2/lineage" + QueryString(*params));
    if (!graph) {
        return std::unexpected(std::move(graph).error());
    }
    if (invocation.global.json) {
        PrintJson(*graph);
        return {};
    }
    PrintGraph(*graph);
    if (graph->value("truncated", false)) {
        std::cerr << "(the graph was cut short at the server's node limit: use a smaller "
                     "--depth or a --direction)\n";
    }
    return {};
}

Result<void> Search(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"kind", true}, {"project", true}, {"all", false}};
    Result<ParsedArgs> parsed = Parse(words, kOptions, kSearchHelp, 0, 1);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    std::string text = parsed->positionals.empty() ? "" : parsed->positionals[0];
    std::string kind = parsed->Value("kind").value_or("");
    std::optional<std::string> project = parsed->Value("project");
    if (text.empty() && kind.empty() && !project) {
        return UsageError("say what to look for: TEXT, --kind K or --project P",
                          UsageLine(kSearchHelp));
    }
    if (project && project->empty()) {
        return UsageError("--project needs a project id or name", UsageLine(kSearchHelp));
    }
    const bool all = parsed->Has("all");
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    std::string project_id;
    if (project) {
        Result<std::int64_t> id = FindProject(client, *project);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        project_id = std::to_string(*id);
    }
    Result<ListPage> page = FetchList(client, "/api/v2/lineage/entities", "entities",
                                      {{"search", text},
                                       {"kind", kind},
                                       {"project_id", project_id},
                                       {"page_size", all ? "1000" : ""}},
                                      all);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    if (invocation.global.json) {
        PrintJson({{"entities", page->items}, {"next_page_token", page->next_page_token}});
        return {};
    }
    if (page->items.empty()) {
        std::cout << "No entities found.\n";
        return {};
    }
    Table table({"KIND", "NAME", "PROJECT", "CRN"});
    for (const Json& entity : page->items) {
        table.AddRow({Cell(entity, "kind"), Cell(entity, "name"), Cell(entity, "project_id"),
                      Cell(entity, "crn")});
    }
    table.Print(std::cout);
    if (!page->next_page_token.empty()) {
        std::cerr << "(more entities match: use --all to list them all)\n";
    }
    return {};
}

Result<void> Export(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"format", true}, {"entity", true}, {"depth", true}, {"direction", true}};
    Result<ParsedArgs> parsed = Parse(words, kOptions, kExportHelp, 0, 0);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    std::string format = parsed->Value("format").value_or("atlas");
    if (format != "atlas" && format != "json") {
        return UsageError("--format must be atlas or json, not '" + format + "'",
                          UsageLine(kExportHelp));
    }
    QueryParams params = {{"format", format}};
    if (auto entity = parsed->Value("entity")) {
        LATHE_CLI_RETURN_IF_ERROR(CheckCrn(*entity, kExportHelp));
        params.emplace_back("entity", *entity);
        Result<QueryParams> walk = WalkParams(*parsed, kExportHelp);
        if (!walk) {
            return std::unexpected(std::move(walk).error());
        }
        params.insert(params.end(), walk->begin(), walk->end());
    } else if (parsed->Has("depth") || parsed->Has("direction")) {
        return UsageError("--depth and --direction go with --entity", UsageLine(kExportHelp));
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> exported =
        connection->client().Call(HttpMethod::kGet, "/api/v2/lineage/export" + QueryString(params));
    if (!exported) {
        return std::unexpected(std::move(exported).error());
    }
    PrintJson(*exported);
    if (exported->value("truncated", false)) {
        std::cerr << "(the export was cut short at the server's node limit: export around one "
                     "--entity instead)\n";
    }
    return {};
}

// "champion=v2, challenger=v3".
std::string AliasesText(const Json& entry) {
    auto aliases = entry.find("aliases");
    if (aliases == entry.end() || !aliases->is_object() || aliases->empty()) {
        return "-";
    }
    std::string text;
    for (const auto& [name, alias] : aliases->items()) {
        text += (text.empty() ? "" : ", ") + name + "=v" + Cell(alias, "version");
    }
    return text;
}

std::size_t ArraySize(const Json& entry, std::string_view field) {
    auto it = entry.find(field);
    return it != entry.end() && it->is_array() ? it->size() : 0;
}

// "v2 (build 9)" for the build the serving deployment runs, "-" when none serves.
std::string DeployedText(const Json& entry) {
    auto deployment = entry.find("deployment");
    if (deployment == entry.end() || !deployment->is_object()) {
        return "-";
    }
    const std::string build = Cell(*deployment, "build_id");
    auto versions = entry.find("versions");
    if (versions != entry.end() && versions->is_array()) {
        for (const Json& version : *versions) {
            if (Cell(version, "build_id") == build) {
                return "v" + Cell(version, "version") + " (build " + build + ")";
            }
        }
    }
    return "build " + build;
}

std::string DeploymentCount(const Json& entry, std::string_view field) {
    auto deployment = entry.find("deployment");
    return deployment != entry.end() && deployment->is_object() ? Cell(*deployment, field) : "-";
}

}  // namespace

Result<void> RunLineage(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {{"show", &kShowHelp, Show},
                                                 {"search", &kSearchHelp, Search},
                                                 {"export", &kExportHelp, Export}};
    return RunAction(invocation, "lineage", kLineageHelp, kActions);
}

Result<void> RunCatalog(const Invocation& invocation) {
    if (invocation.global.help || (!invocation.args.empty() && invocation.args.front() == "help")) {
        PrintHelp(kCatalogHelp);
        return {};
    }
    static constexpr OptionSpec kOptions[] = {{"search", true},
                                              {"project", true},
                                              {"deployed", false},
                                              {"not-deployed", false},
                                              {"all", false}};
    Result<ParsedArgs> parsed = Parse(invocation.args, kOptions, kCatalogHelp, 0, 0);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    if (parsed->Has("deployed") && parsed->Has("not-deployed")) {
        return UsageError("--deployed and --not-deployed exclude each other: give one",
                          UsageLine(kCatalogHelp));
    }
    std::optional<std::string> project = parsed->Value("project");
    if (project && project->empty()) {
        return UsageError("--project needs a project id or name", UsageLine(kCatalogHelp));
    }
    const bool all = parsed->Has("all");
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    std::string project_id;
    if (project) {
        Result<std::int64_t> id = FindProject(client, *project);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        project_id = std::to_string(*id);
    }
    const std::string state = parsed->Has("deployed")       ? "deployed"
                              : parsed->Has("not-deployed") ? "not_deployed"
                                                            : "";
    Result<ListPage> page = FetchList(client, "/api/v2/catalog/models", "models",
                                      {{"search", parsed->Value("search").value_or("")},
                                       {"project_id", project_id},
                                       {"state", state},
                                       {"page_size", all ? kMaxPage : ""}},
                                      all);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    if (invocation.global.json) {
        PrintJson({{"models", page->items}, {"next_page_token", page->next_page_token}});
        return {};
    }
    if (page->items.empty()) {
        std::cout << "No models.\n";
        return {};
    }
    Table table({"MODEL", "PROJECT", "VERSIONS", "ALIASES", "DEPLOYED", "REQUESTS", "ERRORS",
                 "LAST DEPLOYED", "TRAINING DATA"});
    for (const Json& entry : page->items) {
        table.AddRow({Cell(entry, "name"), Cell(entry, "project_name"),
                      std::to_string(ArraySize(entry, "versions")), AliasesText(entry),
                      DeployedText(entry), DeploymentCount(entry, "requests"),
                      DeploymentCount(entry, "errors"), TimeCell(entry, "last_deployed_at"),
                      std::to_string(ArraySize(entry, "training_data"))});
    }
    table.Print(std::cout);
    if (!page->next_page_token.empty()) {
        std::cerr << "(more models exist: use --all to list them all)\n";
    }
    return {};
}

}  // namespace lathe::cli
