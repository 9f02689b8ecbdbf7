// `lathe project ...`: creating, listing, showing and deleting projects.
#include <algorithm>
#include <iostream>
#include <span>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/terminal.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kProjectHelp = {
    "lathe project create|list|show|delete ...",
    "Commands:\n"
    "  create NAME [--description D] [--visibility private|team|public] [--team T]\n"
    "  list [--search S] [--page-size N] [--all]\n"
    "  show ID\n"
    "  delete ID [--yes]\n"
    "\n"
    "Run `lathe project COMMAND --help` for one command's options.\n"};

constexpr CommandHelp kCreateHelp = {
    "lathe project create NAME [--description D] [--visibility private|team|public] [--team T]",
    "Creates a project owned by you, or by team T (you need Contributor in it).\n"
    "\n"
    "  --description D   what the project is for\n"
    "  --visibility V    private (default), team or public\n"
    "  --team T          make the team T the owner\n"};

constexpr CommandHelp kListHelp = {
    "lathe project list [--search S] [--page-size N] [--all]",
    "Lists the projects you can see.\n"
    "\n"
    "  --search S       only projects whose name contains S (case-insensitive)\n"
    "  --page-size N    projects per page, 1 to 1000 (the server's default is 10)\n"
    "  --all            fetch every page, not just the first\n"};

constexpr CommandHelp kShowHelp = {"lathe project show ID", "Shows one project.\n"};

constexpr CommandHelp kDeleteHelp = {
    "lathe project delete ID [--yes]",
    "Deletes a project and all its files. Asks first, unless --yes is given; without a\n"
    "terminal to ask on, --yes is required.\n"
    "\n"
    "  --yes   do not ask for confirmation\n"};

std::string ProjectPath(std::int64_t id) {
    return "/api/v2/projects/" + std::to_string(id);
}

std::string OwnerText(const Json& project) {
    auto owner = project.find("owner");
    if (owner == project.end() || !owner->is_object()) {
        return "-";
    }
    std::string name = Cell(*owner, "name");
    return Cell(*owner, "type") == "team" ? name + " (team)" : name;
}

void PrintProjectTable(const Json& projects) {
    Table table({"ID", "NAME", "OWNER", "VISIBILITY", "ROLE", "UPDATED"});
    for (const Json& project : projects) {
        table.AddRow({Cell(project, "id"), Cell(project, "name"), OwnerText(project),
                      Cell(project, "visibility"), Cell(project, "my_role"),
                      TimeCell(project, "updated_at")});
    }
    table.Print(std::cout);
}

void PrintProject(const Json& project) {
    const std::pair<const char*, std::string> fields[] = {
        {"ID:", Cell(project, "id")},
        {"Name:", Cell(project, "name")},
        {"Description:", Cell(project, "description")},
        {"Owner:", OwnerText(project)},
        {"Visibility:", Cell(project, "visibility")},
        {"Your role:", Cell(project, "my_role")},
        {"Created:", TimeCell(project, "created_at")},
        {"Updated:", TimeCell(project, "updated_at")},
    };
    std::size_t width = 0;
    for (const auto& [label, value] : fields) {
        width = std::max(width, std::string_view(label).size());
    }
    for (const auto& [label, value] : fields) {
        std::string_view name(label);
        std::cout << name << std::string(width - name.size() + 2, ' ') << value << '\n';
    }
}

Result<void> Create(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"description", true}, {"visibility", true}, {"team", true}};
    Result<ParsedArgs> args = ParseCommandLine(words, kOptions, UsageLine(kCreateHelp), 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Json body = {{"name", args->positionals[0]}};
    if (auto description = args->Value("description")) {
        body["description"] = *description;
    }
    if (auto visibility = args->Value("visibility")) {
        if (*visibility != "private" && *visibility != "team" && *visibility != "public") {
            return UsageError(
                "--visibility must be private, team or public, not '" + *visibility + "'",
                UsageLine(kCreateHelp));
        }
        body["visibility"] = *visibility;
    }
    if (auto team = args->Value("team")) {
        body["team"] = *team;
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> project = connection->client().Call(HttpMethod::kPost, "/api/v2/projects", &body);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    if (invocation.global.json) {
        PrintJson(*project);
    } else {
        std::cout << "Created project " << Cell(*project, "id") << " (" << Cell(*project, "name")
                  << ", " << Cell(*project, "visibility") << ").\n";
    }
    return {};
}

Result<void> List(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"search", true}, {"page-size", true}, {"all", false}};
    Result<ParsedArgs> args = ParseCommandLine(words, kOptions, UsageLine(kListHelp), 0, 0);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool all = args->Has("all");
    // Fetching everything in big pages means fewer round trips.
    std::string page_size = all ? "1000" : "";
    if (auto text = args->Value("page-size")) {
        Result<std::int64_t> size = ParseInteger(*text, "--page-size", 1, 1000);
        if (!size) {
            return UsageError(size.error().message, UsageLine(kListHelp));
        }
        page_size = std::to_string(*size);
    }
    std::string filter;
    if (auto search = args->Value("search")) {
        filter = Json{{"name", *search}}.dump();
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<ListPage> projects =
        FetchList(connection->client(), "/api/v2/projects", "projects",
                  {{"page_size", page_size}, {"search_filter", filter}}, all);
    if (!projects) {
        return std::unexpected(std::move(projects).error());
    }
    if (invocation.global.json) {
        PrintJson({{"projects", projects->items}, {"next_page_token", projects->next_page_token}});
        return {};
    }
    if (projects->items.empty()) {
        std::cout << "No projects.\n";
        return {};
    }
    PrintProjectTable(projects->items);
    if (!projects->next_page_token.empty()) {
        std::cerr << "(more projects exist: use --all to list them all)\n";
    }
    return {};
}

Result<void> Show(const Invocation& invocation, std::span<const std::string> words) {
    Result<ParsedArgs> args = ParseCommandLine(words, {}, UsageLine(kShowHelp), 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> id = ParseId(args->positionals[0], "project ID", kShowHelp);
    if (!id) {
        return std::unexpected(std::move(id).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> project = connection->client().Call(HttpMethod::kGet, ProjectPath(*id));
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    if (invocation.global.json) {
        PrintJson(*project);
    } else {
        PrintProject(*project);
    }
    return {};
}

Result<void> Delete(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"yes", false}};
    Result<ParsedArgs> args = ParseCommandLine(words, kOptions, UsageLine(kDeleteHelp), 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> id = ParseId(args->positionals[0], "project ID", kDeleteHelp);
    if (!id) {
        return std::unexpected(std::move(id).error());
    }
    const bool confirmed = args->Has("yes");
    if (!confirmed && !StdinIsTerminal()) {
        return UsageError("refusing to delete project " + std::to_string(*id) +
                              " without confirmation: pass --yes",
                          UsageLine(kDeleteHelp));
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    if (!confirmed) {
        // Naming the project in the question is what catches a mistyped id.
        Result<Json> project = client.Call(HttpMethod::kGet, ProjectPath(*id));
        if (!project) {
            return std::unexpected(std::move(project).error());
        }
        if (!Confirm("Delete project " + std::to_string(*id) + " (" + Cell(*project, "name") +
                     ") and all its files?")) {
            return Fail(ExitCode::kFailure,
                        "not confirmed; project " + std::to_string(*id) + " was not deleted");
        }
    }
    Result<Json> deleted = client.Call(HttpMethod::kDelete, ProjectPath(*id));
    if (!deleted) {
        return std::unexpected(std::move(deleted).error());
    }
    if (!invocation.global.json) {
        std::cout << "Deleted project " << *id << ".\n";
    }
    return {};
}

}  // namespace

Result<void> RunProject(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {
        {"create", &kCreateHelp, Create}, {"list", &kListHelp, List},
        {"ls", &kListHelp, List},         {"show", &kShowHelp, Show},
        {"delete", &kDeleteHelp, Delete}, {"rm", &kDeleteHelp, Delete}};
    return RunAction(invocation, "project", kProjectHelp, kActions);
}

}  // namespace lathe::cli
