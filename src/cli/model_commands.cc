// `lathe model ...`: models, their builds and deployments, their logs, and calling them.
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <utility>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/waiting.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kModelHelp = {
    "lathe model create|list|show|build|builds|deploy|deployments|stop|restart|logs|call|\n"
    "       rebuild|alias|examples ...",
    "Commands:\n"
    "  create NAME [--description D] [--no-auth]       create a model; prints its access key\n"
    "  list [--all]                                     list the project's models\n"
    "  show MODEL                                       show a model, its builds, its deployment\n"
    "  build MODEL --file F --function FN [--wait]      build it from a project file\n"
    "  builds MODEL [--all]                             list its builds, newest first\n"
    "  deploy MODEL [--build ID] [...] [--wait]         deploy a build as replicas\n"
    "  deployments MODEL [--all]                        list its deployments, newest first\n"
    "  stop MODEL [--wait]                              stop its deployment\n"
    "  restart MODEL                                    replace its replicas one at a time\n"
    "  logs MODEL [--build ID | --replica ID] [-f]      print (or follow) a build or replica log\n"
    "  call MODEL [REQUEST | --data @FILE | -] [--raw]  call the deployed model\n"
    "  rebuild MODEL BUILD [--verify] [--wait]          rebuild a build from its snapshot and\n"
    "                                                   check that it reproduces\n"
    "  alias MODEL [NAME [BUILD | --delete]]            list, set or remove aliases (champion)\n"
    "  examples MODEL BUILD [--add REQUEST]             list or keep a build's example calls,\n"
    "           [--replay-against BUILD2]               or replay them against another build\n"
    "\n"
    "Every command takes --project P: the project's id, its name, or OWNER/NAME. Without it the\n"
    "project is $LATHE_PROJECT (the same forms), else $LATHE_PROJECT_ID (set inside job runs).\n"
    "MODEL is the model's id or its name in the project.\n"
    "\n"
    "Run `lathe model COMMAND --help` for one command's options.\n"};

constexpr CommandHelp kCreateHelp = {
    "lathe model create NAME [--project P] [--description D] [--no-auth]",
    "Creates a model: a named endpoint in the project. Prints its access key alone on stdout\n"
    "(the rest goes to stderr), so KEY=$(lathe model create churn) captures it. Build it with\n"
    "`lathe model build` and deploy it with `lathe model deploy` before calling it.\n"
    "\n"
    "  --project P       the project (see `lathe model --help`)\n"
    "  --description D   what the model does\n"
    "  --no-auth         callers need only the access key; by default they must also send an\n"
    "                    API key of a user who may read the project\n"};

constexpr CommandHelp kListHelp = {
    "lathe model list [--project P] [--all]",
    "Lists the project's models: their access keys, whether calls need an API key, the state\n"
    "of each one's latest build and of its deployment.\n"
    "\n"
    "  --project P   the project (see `lathe model --help`)\n"
    "  --all         fetch every page, not just the first\n"};

constexpr CommandHelp kShowHelp = {
    "lathe model show MODEL [--project P]",
    "Shows a model: its CRN, access key and endpoint, a summary of its builds, and the\n"
    "deployment serving it with its replicas and live request counts.\n"};

constexpr CommandHelp kBuildHelp = {
    "lathe model build MODEL --file PATH --function NAME [--project P] [--kernel K]\n"
    "       [--comment C] [--env NAME=VALUE ...] [--wait]",
    "Builds the model: snapshots the project's files, runs its cdsw-build.sh if there is one,\n"
    "then imports PATH and checks that it defines the function NAME. Prints the build's id on\n"
    "stdout.\n"
    "\n"
    "  --file PATH         the Python file holding the function, a file in the project\n"
    "  --function NAME     the function each call runs with the request as its argument\n"
    "  --kernel K          the runtime to call it with (the server's default is python3)\n"
    "  --comment C         a note kept with the build\n"
    "  --env NAME=VALUE    an environment variable for the build; repeat for more\n"
    "  --wait              print the build log on stderr as it is written, until the build\n"
    "                      ends; the exit code is then 0 if it was built, 1 if it failed\n"
    "\n"
    "Ctrl-C stops waiting, not the build. --wait --json prints the ended build.\n"};

constexpr CommandHelp kBuildsHelp = {
    "lathe model builds MODEL [--project P] [--all]",
    "Lists the model's builds, newest first, with their versions (1, 2, ... in the order they\n"
    "were made; a rebuild says which build it repeats).\n"
    "\n"
    "  --all   fetch every page, not just the first\n"};

constexpr CommandHelp kDeployHelp = {
    "lathe model deploy MODEL [--project P] [--build ID] [--replicas N] [--cpu N] [--memory GIB]\n"
    "       [--gpus N] [--env NAME=VALUE ...] [--min-replicas N --max-replicas N]\n"
    "       [--concurrency N] [--max-batch-size N [--max-delay-ms MS]] [--idempotent] [--wait]",
    "Deploys a build of the model as replicas and prints the deployment's id on stdout. A new\n"
    "deployment replaces the model's current one without downtime.\n"
    "\n"
    "  --build ID          the build to deploy (default: the newest one that was built)\n"
    "  --replicas N        how many replicas (the server's default is 1)\n"
    "  --cpu N             vCPUs per replica, e.g. 0.5 (the server's default is 1)\n"
    "  --memory GIB        memory per replica in GiB, e.g. 0.5 (the server's default is 2)\n"
    "  --gpus N            NVIDIA GPUs per replica (default 0)\n"
    "  --env NAME=VALUE    an environment variable for the replicas; repeat for more\n"
    "  --min-replicas N    with --max-replicas: scale between N and M replicas with the load\n"
    "  --max-replicas M\n"
    "  --concurrency N     calls one replica handles at a time (default 1)\n"
    "  --max-batch-size N  call the function with lists of up to N requests at once\n"
    "  --max-delay-ms MS   how long a batch waits to fill (the server's default is 5)\n"
    "  --idempotent        calls may be retried on another replica if one dies mid-call\n"
    "  --wait              wait until the deployment is deployed, showing replicas as they\n"
    "                      become ready; exit code 1 if it fails\n"
    "\n"
    "Ctrl-C stops waiting, not the deployment. --wait --json prints the deployed deployment.\n"};

constexpr CommandHelp kDeploymentsHelp = {
    "lathe model deployments MODEL [--project P] [--all]",
    "Lists the deployments of every build of the model, newest first.\n"
    "\n"
    "  --all   fetch every page, not just the first\n"};

constexpr CommandHelp kStopHelp = {
    "lathe model stop MODEL [--project P] [--wait]",
    "Stops the model's deployment (the one serving it, or else the newest one still starting):\n"
    "its replicas end and calls to the model fail until it is deployed again.\n"
    "\n"
    "  --wait   wait until the deployment has stopped\n"};

constexpr CommandHelp kRestartHelp = {
    "lathe model restart MODEL [--project P]",
    "Restarts the model's deployment: every replica is replaced, one at a time, so the model\n"
    "keeps answering.\n"};

constexpr CommandHelp kLogsHelp = {
    "lathe model logs MODEL [--project P] [--build ID | --replica ID] [-f | --follow]",
    "Prints a build's log (by default the model's latest build) or a replica's log (its\n"
    "output, kept after it ends).\n"
    "\n"
    "  --build ID      the build whose log to print\n"
    "  --replica ID    the replica whose log to print, by the id `lathe model show` lists\n"
    "  -f, --follow    keep printing as the log grows, until the build or the replica ends;\n"
    "                  Ctrl-C stops following\n"};

constexpr CommandHelp kCallHelp = {
    "lathe model call MODEL [REQUEST | - | --data JSON | --data @FILE] [--project P] [--raw]",
    "Calls the deployed model with a JSON request and prints its response as JSON. REQUEST is\n"
    "the JSON text; `-` or `--data @-` reads it from stdin, `--data @FILE` from a file. The\n"
    "call sends your API key, which a model with auth on requires.\n"
    "\n"
    "  --data D   the request: JSON text, @FILE or @- (instead of REQUEST)\n"
    "  --raw      print the whole answer ({\"success\", \"response\", \"ReplicaID\", ...})\n"
    "\n"
    "When the model fails (its function raised, or no replica could answer) the error and the\n"
    "traceback go to stderr and the exit code is 1.\n"};

constexpr CommandHelp kRebuildHelp = {
    "lathe model rebuild MODEL BUILD [--project P] [--verify] [--wait]",
    "Rebuilds BUILD from its own snapshot of the project's files, with its file, function,\n"
    "kernel and build-time variables, whatever the project holds now, to check that it still\n"
    "builds the same. Prints the new build's id on stdout.\n"
    "\n"
    "  --wait     print the rebuild's log on stderr as it is written, until it ends; the exit\n"
    "             code is then 0 if it was built, 1 if it failed\n"
    "  --verify   wait (as --wait does), then print how the rebuild compares with BUILD: the\n"
    "             Python version and interpreter, every package, the build script's output, the\n"
    "             environment variable names and lineage.yaml; whether the stored snapshot is\n"
    "             intact; and which project files changed since BUILD. The exit code is 0 when\n"
    "             the rebuild reproduced BUILD and the snapshot is intact, 1 otherwise\n"
    "\n"
    "--verify --json prints the comparison as the server gives it; --wait --json the ended\n"
    "rebuild. Ctrl-C stops waiting, not the rebuild.\n"};

constexpr CommandHelp kAliasHelp = {
    "lathe model alias MODEL [NAME BUILD | NAME --delete] [--project P]",
    "Aliases name a model's builds for the people and code that use them (champion,\n"
    "challenger, ...), where other tools have stages. With MODEL alone, lists the aliases;\n"
    "with NAME BUILD, points NAME at BUILD (a build that was built), moving it if it pointed\n"
    "elsewhere; with NAME --delete, removes it.\n"
    "\n"
    "NAME is a letter, then letters, digits, - or _ (at most 64). BUILD is a build id.\n"
    "\n"
    "  --delete   remove the alias NAME\n"};

constexpr CommandHelp kExamplesHelp = {
    "lathe model examples MODEL BUILD [--project P] [--add REQUEST [--response RESPONSE]]\n"
    "       [--replay-against BUILD2]",
    "Example calls kept with a build: a request and the answer the build gave. Without options,\n"
    "lists BUILD's examples.\n"
    "\n"
    "  --add REQUEST        keep REQUEST (JSON text, or @FILE) as an example of BUILD; prints\n"
    "                       its id. Without --response the build is called for the answer,\n"
    "                       which needs it to be the one serving the model\n"
    "  --response RESPONSE  the answer to keep with --add (JSON text, or @FILE)\n"
    "  --replay-against B2  call build B2 (it must be serving the model) with each of BUILD's\n"
    "                       examples and list the answers that changed; the exit code is 1\n"
    "                       when any did\n"};

constexpr OptionSpec kProjectOption = {"project", true};

constexpr auto kIdlePoll = std::chrono::milliseconds(200);
constexpr auto kMaxStatusPoll = std::chrono::milliseconds(1000);
// Enough for any real model in one request; lists that hold more are followed page by page.
constexpr const char* kBigPage = "1000";

// ---------------------------------------------------------------------------------------------
// Paths

std::string ProjectPath(std::int64_t project) {
    return "/api/v2/projects/" + std::to_string(project);
}

std::string ModelsPath(std::int64_t project) {
    return ProjectPath(project) + "/models";
}

std::string ModelPath(std::int64_t project, std::int64_t model) {
    return ModelsPath(project) + "/" + std::to_string(model);
}

std::string BuildPath(std::int64_t project, std::int64_t model, std::int64_t build) {
    return ModelPath(project, model) + "/builds/" + std::to_string(build);
}

std::string DeploymentPath(std::int64_t project,
                           std::int64_t model,
                           std::int64_t build,
                           std::int64_t deployment) {
    return BuildPath(project, model, build) + "/deployments/" + std::to_string(deployment);
}

// ---------------------------------------------------------------------------------------------
// Parsing

// The words of a command with the repeatable --env taken out (ParseArgs keeps one value per
// option) and `-f` turned into --follow. Walks the words as ParseArgs does, so the value of
// another option ("--comment --env") and anything after "--" are left alone.
struct SplitWords {
    std::vector<std::string> rest;
    std::vector<std::string> env;
};

Result<SplitWords> SplitRepeated(std::span<const std::string> words,
                                 std::span<const OptionSpec> options,
                                 bool with_env,
                                 bool short_follow,
                                 const CommandHelp& help) {
    SplitWords split;
    bool after_separator = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (after_separator) {
            split.rest.push_back(word);
        } else if (word == "--") {
            after_separator = true;
            split.rest.push_back(word);
        } else if (short_follow && word == "-f") {
            split.rest.emplace_back("--follow");
        } else if (with_env && word == "--env") {
            if (i + 1 >= words.size()) {
                return UsageError("option --env needs a value", UsageLine(help));
            }
            split.env.push_back(words[++i]);
        } else if (with_env && word.starts_with("--env=")) {
            split.env.push_back(word.substr(6));
        } else {
            split.rest.push_back(word);
            if (word.starts_with("--") && word.find('=') == std::string::npos) {
                std::string_view name = std::string_view(word).substr(2);
                for (const OptionSpec& option : options) {
                    if (option.name == name && option.takes_value && i + 1 < words.size()) {
                        split.rest.push_back(words[++i]);
                    }
                }
            }
        }
    }
    return split;
}

// What every model command starts with: its options, positionals and --env values.
struct ModelArgs {
    ParsedArgs parsed;
    std::vector<std::string> env;
    std::string project;  // --project, or the environment's default
};

// The project a command acts in, as the user wrote it: --project, else $LATHE_PROJECT, else
// $LATHE_PROJECT_ID (which job runs get), so `lathe model` inside a run means its project.
Result<std::string> ProjectSpec(const ParsedArgs& parsed, const CommandHelp& help) {
    if (auto project = parsed.Value("project")) {
        if (project->empty()) {
            return UsageError("--project needs a project id or name", UsageLine(help));
        }
        return *project;
    }
    for (const char* name : {"LATHE_PROJECT", "LATHE_PROJECT_ID"}) {
        if (const char* value = std::getenv(name); value != nullptr && value[0] != '\0') {
            return std::string(value);
        }
    }
    return UsageError("missing --project: the project's id or name (or set LATHE_PROJECT)",
                      UsageLine(help));
}

// Parses `words` for a command with `options` (plus --project) and between `min` and `max`
// positionals.
Result<ModelArgs> ParseModelArgs(std::span<const std::string> words,
                                 std::span<const OptionSpec> options,
                                 const CommandHelp& help,
                                 std::size_t min_positionals,
                                 std::size_t max_positionals,
                                 bool with_env = false,
                                 bool short_follow = false) {
    std::vector<OptionSpec> all(options.begin(), options.end());
    all.push_back(kProjectOption);
    Result<SplitWords> split = SplitRepeated(words, all, with_env, short_follow, help);
    if (!split) {
        return std::unexpected(std::move(split).error());
    }
    Result<ParsedArgs> parsed =
        ParseCommandLine(split->rest, all, UsageLine(help), min_positionals, max_positionals);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    Result<std::string> project = ProjectSpec(*parsed, help);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    return ModelArgs{std::move(*parsed), std::move(split->env), std::move(*project)};
}

// An integer option in [min, max], when given.
Result<std::optional<std::int64_t>> IntegerOption(const ParsedArgs& parsed,
                                                  std::string_view name,
                                                  std::int64_t min,
                                                  const CommandHelp& help) {
    std::optional<std::string> text = parsed.Value(name);
    if (!text) {
        return std::optional<std::int64_t>();
    }
    Result<std::int64_t> value = ParseInteger(*text, "--" + std::string(name), min, INT32_MAX);
    if (!value) {
        return UsageError(value.error().message, UsageLine(help));
    }
    return std::optional<std::int64_t>(*value);
}

// A whole id when `text` is all digits (ids are never written otherwise), else nullopt.
std::optional<std::int64_t> AsId(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return value;
}

// ---------------------------------------------------------------------------------------------
// Fields of the server's answers

std::optional<std::int64_t> IntField(const Json& object, std::string_view field) {
    auto it = object.is_object() ? object.find(field) : object.end();
    if (!object.is_object() || it == object.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    return it->get<std::int64_t>();
}

Result<std::int64_t> IdOf(const Json& object, std::string_view what) {
    std::optional<std::int64_t> id = IntField(object, "id");
    if (!id) {
        return Fail(ExitCode::kFailure,
                    "the server's answer names no " + std::string(what) + " id");
    }
    return *id;
}

std::string StringField(const Json& object, std::string_view field) {
    auto it = object.is_object() ? object.find(field) : object.end();
    if (!object.is_object() || it == object.end() || !it->is_string()) {
        return {};
    }
    return it->get<std::string>();
}

std::string AuthText(const Json& model) {
    auto it = model.find("auth_enabled");
    if (it == model.end() || !it->is_boolean()) {
        return "-";
    }
    return it->get<bool>() ? "on" : "off";
}

// "predict.py:predict", as the build's file and function are usually spoken of together.
std::string FunctionText(const Json& build) {
    return Cell(build, "file_path") + ":" + Cell(build, "function_name");
}

// "2/3" ready replicas out of those asked for, with the autoscaling range when there is one.
std::string ReplicasText(const Json& deployment) {
    std::string text = Cell(deployment, "ready_replicas");
    if (std::string wanted = Cell(deployment, "replicas"); wanted != "-") {
        text += "/" + wanted;
    }
    std::string min = Cell(deployment, "min_replicas");
    std::string max = Cell(deployment, "max_replicas");
    if (min != "-" && max != "-") {
        text += " (" + min + "-" + max + ")";
    }
    return text;
}

std::string ResourcesText(const Json& deployment) {
    std::string text =
        NumberText(deployment, "cpu") + " vCPU, " + NumberText(deployment, "memory") + " GiB";
    if (std::string gpus = Cell(deployment, "nvidia_gpu"); gpus != "-" && gpus != "0") {
        text += ", " + gpus + " GPU";
    }
    return text;
}

std::string SecondsBetween(const Json& object, std::string_view from, std::string_view to) {
    // RFC 3339 UTC "2026-11-24T07:00:00.123Z": parsed by hand, as std::chrono::parse is not in
    // g++ 12's library.
    auto parse = [&](std::string_view field) -> std::optional<double> {
        std::string text = StringField(object, field);
        std::tm tm{};
        double fraction = 0;
        int consumed = 0;
        if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
            return std::nullopt;
        }
        if (text.size() > static_cast<std::size_t>(consumed) && text[consumed] == '.') {
            fraction = std::atof(("0" + text.substr(consumed)).c_str());
        }
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return static_cast<double>(timegm(&tm)) + fraction;
    };
    std::optional<double> start = parse(from);
    std::optional<double> end = parse(to);
    if (!start || !end || *end < *start) {
        return {};
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", *end - *start);
    return text;
}

void PrintBuildTable(const Json& builds) {
    Table table(
        {"ID", "VERSION", "STATE", "FUNCTION", "KERNEL", "CREATED", "BY", "COMMENT", "REASON"});
    for (const Json& build : builds) {
        std::string version = Cell(build, "version");
        if (std::string of = Cell(build, "rebuild_of"); of != "-") {
            version += " (rebuild of " + of + ")";
        }
        table.AddRow({Cell(build, "id"), version, Cell(build, "state"), FunctionText(build),
                      Cell(build, "kernel"), TimeCell(build, "created_at"),
                      Cell(build, "created_by"), Cell(build, "comment"), Cell(build, "reason")});
    }
    table.Print(std::cout);
}

void PrintDeploymentTable(const Json& deployments) {
    Table table({"ID", "BUILD", "STATE", "REPLICAS", "RESOURCES", "CREATED", "REASON"});
    for (const Json& deployment : deployments) {
        table.AddRow({Cell(deployment, "id"), Cell(deployment, "build_id"),
                      Cell(deployment, "state"), ReplicasText(deployment),
                      ResourcesText(deployment), TimeCell(deployment, "created_at"),
                      Cell(deployment, "reason")});
    }
    table.Print(std::cout);
}

// ---------------------------------------------------------------------------------------------
// Finding projects, models and deployments

std::string ProjectOwner(const Json& project) {
    auto owner = project.find("owner");
    return owner != project.end() && owner->is_object() ? StringField(*owner, "name") : "";
}

// The project named by `spec`: an id, a name, or OWNER/NAME (names hold no '/').
Result<std::int64_t> ResolveProject(ApiClient& client, const std::string& spec) {
    if (std::optional<std::int64_t> id = AsId(spec)) {
        return *id;
    }
    std::string owner;
    std::string name = spec;
    if (std::size_t slash = spec.find('/'); slash != std::string::npos) {
        owner = spec.substr(0, slash);
        name = spec.substr(slash + 1);
    }
    Json filter = {{"name", name}};
    Result<ListPage> page = FetchList(client, "/api/v2/projects", "projects",
                                      {{"page_size", kBigPage}, {"search_filter", filter.dump()}},
                                      /*all_pages=*/true);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    std::vector<const Json*> matches;
    for (const Json& project : page->items) {
        // The filter matches substrings, ignoring case; a name given in full means that name.
        if (StringField(project, "name") == name &&
            (owner.empty() || ProjectOwner(project) == owner)) {
            matches.push_back(&project);
        }
    }
    if (matches.empty()) {
        return Fail(ExitCode::kNotFound, "no project '" + spec + "' (or not one you may see)",
                    "`lathe project list --search " + name + "` lists the projects you can see");
    }
    if (matches.size() > 1) {
        std::string which;
        for (const Json* project : matches) {
            which += (which.empty() ? "" : ", ") + Cell(*project, "id") + " (owned by " +
                     ProjectOwner(*project) + ")";
        }
        return Fail(ExitCode::kFailure, "more than one project is named '" + name + "': " + which,
                    "name it by id, or as OWNER/NAME, with --project");
    }
    return IdOf(*matches.front(), "project");
}

// A command's connection and the project it acts in.
struct ModelScope {
    Connection connection;
    std::int64_t project = 0;

    ApiClient& client() { return connection.client(); }
};

Result<ModelScope> Open(const Invocation& invocation, const ModelArgs& args) {
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<std::int64_t> project = ResolveProject(connection->client(), args.project);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    return ModelScope{std::move(*connection), *project};
}

// The model named by `text`: an id (all digits), or else a name in the project. An all-digit
// text that is no model's id is still tried as a name.
Result<Json> ResolveModel(ModelScope& scope, const std::string& text) {
    std::optional<CliError> by_id;
    if (std::optional<std::int64_t> id = AsId(text)) {
        Result<Json> model = scope.client().Call(HttpMethod::kGet, ModelPath(scope.project, *id));
        if (model || model.error().exit_code != ExitCode::kNotFound) {
            return model;
        }
        by_id = std::move(model).error();
    }
    Result<ListPage> page = FetchList(scope.client(), ModelsPath(scope.project), "models",
                                      {{"page_size", kBigPage}}, /*all_pages=*/true);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    std::vector<Json*> matches;
    for (Json& model : page->items) {
        if (StringField(model, "name") == text) {
            matches.push_back(&model);
        }
    }
    if (matches.size() == 1) {
        return std::move(*matches.front());
    }
    if (matches.size() > 1) {
        std::string ids;
        for (const Json* model : matches) {
            ids += (ids.empty() ? "" : ", ") + Cell(*model, "id");
        }
        return Fail(ExitCode::kFailure,
                    "more than one model in project " + std::to_string(scope.project) +
                        " is named '" + text + "': " + ids,
                    "name the model by its id");
    }
    if (by_id) {
        return std::unexpected(std::move(*by_id));
    }
    return Fail(ExitCode::kNotFound,
                "no model '" + text + "' in project " + std::to_string(scope.project),
                "`lathe model list --project " + std::to_string(scope.project) + "` lists them");
}

// What most model commands start from: the connection and project, the model the command
// names (see ResolveModel) and its id.
struct ModelTarget {
    ModelScope scope;
    Json model;
    std::int64_t model_id = 0;
};

Result<ModelTarget> OpenModel(const Invocation& invocation,
                              const ModelArgs& args,
                              const std::string& model_text) {
    Result<ModelScope> scope = Open(invocation, args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<Json> model = ResolveModel(*scope, model_text);
    if (!model) {
        return std::unexpected(std::move(model).error());
    }
    Result<std::int64_t> model_id = IdOf(*model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    return ModelTarget{std::move(*scope), std::move(*model), *model_id};
}

// How messages name a model: "churn" (people name models, ids are for scripts).
std::string ModelLabel(const Json& model) {
    return "model " + Cell(model, "name");
}

Result<Json> ModelDeployments(ModelScope& scope, std::int64_t model_id) {
    Result<ListPage> page =
        FetchList(scope.client(), ModelPath(scope.project, model_id) + "/deployments",
                  "deployments", {{"page_size", kBigPage}}, /*all_pages=*/true);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    return std::move(page->items);
}

bool IsStarting(std::string_view state) {
    return state == "pending" || state == "deploying";
}

// The deployment "the model's deployment" means: the one serving it, else the newest one still
// starting; null when there is none. With `any_state`, else the newest one whatever its state.
Result<Json> CurrentDeployment(ModelScope& scope, const Json& model, bool any_state) {
    Result<std::int64_t> model_id = IdOf(model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    Result<Json> deployments = ModelDeployments(scope, *model_id);
    if (!deployments) {
        return std::unexpected(std::move(deployments).error());
    }
    if (std::optional<std::int64_t> serving = IntField(model, "deployment_id")) {
        for (Json& deployment : *deployments) {
            if (IntField(deployment, "id") == serving) {
                return std::move(deployment);
            }
        }
    }
    for (Json& deployment : *deployments) {
        if (IsStarting(Cell(deployment, "state"))) {
            return std::move(deployment);
        }
    }
    if (any_state && !deployments->empty()) {
        return std::move(deployments->front());
    }
    return Json();
}

Result<std::string> PathOfDeployment(const ModelScope& scope, const Json& deployment) {
    std::optional<std::int64_t> model = IntField(deployment, "model_id");
    std::optional<std::int64_t> build = IntField(deployment, "build_id");
    std::optional<std::int64_t> id = IntField(deployment, "id");
    if (!model || !build || !id) {
        return Fail(ExitCode::kFailure,
                    "the server's answer does not name the deployment's model, build and id");
    }
    return DeploymentPath(scope.project, *model, *build, *id);
}

// ---------------------------------------------------------------------------------------------
// Waiting and logs

Result<HttpResponse> GetLogPiece(ApiClient& client, const std::string& log_path, std::size_t at) {
    Result<HttpResponse> response =
        client.Send(HttpMethod::kGet, log_path + QueryString({{"offset", std::to_string(at)}}));
    if (!response) {
        return std::unexpected(std::move(response).error());
    }
    if (response->status < 200 || response->status >= 300) {
        return std::unexpected(ErrorFromResponse(*response));
    }
    return response;
}

enum class LogEnd { kComplete, kInterrupted };

// Writes the log at `log_path` to `out` as it arrives. Without `follow`, stops at the end of
// what is written so far; with it, polls until the server says the log is complete and all was
// read: again at once while data flows, every 200 ms while nothing new comes.
Result<LogEnd> StreamLog(ApiClient& client,
                         const std::string& log_path,
                         std::FILE* out,
                         bool follow,
                         const InterruptWatch* watch) {
    std::uint64_t offset = 0;
    for (;;) {
        Result<HttpResponse> response = GetLogPiece(client, log_path, offset);
        if (!response) {
            return std::unexpected(std::move(response).error());
        }
        const std::string& data = response->body;
        if (!data.empty()) {
            if (std::fwrite(data.data(), 1, data.size(), out) != data.size() ||
                std::fflush(out) != 0) {
                return Fail(ExitCode::kFailure, std::string("cannot write ") +
                                                    (out == stdout ? "stdout" : "stderr") + ": " +
                                                    std::strerror(errno));
            }
        }
        // The server's next offset; a server that leaves it out still moves us past the data.
        offset = std::max(offset + data.size(),
                          HeaderNumber(*response, "x-log-offset", offset + data.size()));
        if (follow) {
            if (response->Header("x-log-complete") == "true" && data.empty()) {
                return LogEnd::kComplete;
            }
        } else if (data.empty() || offset >= HeaderNumber(*response, "x-log-size", 0)) {
            return LogEnd::kComplete;
        }
        if (watch != nullptr && watch->interrupted()) {
            return LogEnd::kInterrupted;
        }
        if (data.empty()) {
            Pause(kIdlePoll);
            if (watch != nullptr && watch->interrupted()) {
                return LogEnd::kInterrupted;
            }
        }
    }
}

// Polls `path` until `done` says so of the answer, calling `progress` with each answer; nullopt
// when Ctrl-C came first.
Result<std::optional<Json>> WaitUntil(ApiClient& client,
                                      const std::string& path,
                                      const std::function<bool(const Json&)>& done,
                                      const std::function<void(const Json&)>& progress,
                                      const InterruptWatch& watch) {
    auto interval = kIdlePoll;
    for (;;) {
        Result<Json> object = client.Call(HttpMethod::kGet, path);
        if (!object) {
            return std::unexpected(std::move(object).error());
        }
        if (progress) {
            progress(*object);
        }
        if (done(*object)) {
            return std::optional<Json>(std::move(*object));
        }
        Pause(interval);
        if (watch.interrupted()) {
            return std::optional<Json>();
        }
        interval = std::min(kMaxStatusPoll, interval * 3 / 2);
    }
}

bool IsBuildEnded(const Json& build) {
    std::string state = Cell(build, "state");
    return state == "built" || state == "failed";
}

// A deployment `deploy --wait` stops waiting for: up, or never going to be.
bool IsDeploymentSettled(const Json& deployment) {
    std::string state = Cell(deployment, "state");
    return state == "deployed" || state == "failed" || state == "stopping" || state == "stopped";
}

// "build 7 failed: ModuleNotFoundError: ...", "deployment 4 stopped".
std::string EndText(std::string_view what, const Json& object) {
    std::string text = std::string(what) + " " + Cell(object, "id") + " " + Cell(object, "state");
    if (std::string reason = Cell(object, "reason"); reason != "-") {
        text += ": " + reason;
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// Commands

Result<void> Create(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"description", true}, {"no-auth", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kCreateHelp, 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Json body = {{"name", args->parsed.positionals[0]}};
    if (auto description = args->parsed.Value("description")) {
        body["description"] = *description;
    }
    if (args->parsed.Has("no-auth")) {
        body["auth_enabled"] = false;
    }
    Result<ModelScope> scope = Open(invocation, *args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<Json> model = scope->client().Call(HttpMethod::kPost, ModelsPath(scope->project), &body);
    if (!model) {
        return std::unexpected(std::move(model).error());
    }
    if (invocation.global.json) {
        PrintJson(*model);
        return {};
    }
    std::cerr << "Created model " << Cell(*model, "id") << " (" << Cell(*model, "name")
              << ") in project " << scope->project << ", auth " << AuthText(*model)
              << "; its access key:\n"
              << std::flush;
    std::cout << Cell(*model, "access_key") << '\n';
    return {};
}

// The state of a model's latest build and of its deployment, for `list`.
Result<std::pair<std::string, std::string>> ModelStates(ModelScope& scope, const Json& model) {
    std::string build_state = "-";
    Result<std::int64_t> model_id = IdOf(model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    if (std::optional<std::int64_t> build = IntField(model, "latest_build_id")) {
        Result<Json> latest =
            scope.client().Call(HttpMethod::kGet, BuildPath(scope.project, *model_id, *build));
        if (!latest) {
            return std::unexpected(std::move(latest).error());
        }
        build_state = Cell(*latest, "state");
    }
    Result<Json> deployment = CurrentDeployment(scope, model, /*any_state=*/true);
    if (!deployment) {
        return std::unexpected(std::move(deployment).error());
    }
    return std::pair{build_state, Cell(*deployment, "state")};
}

Result<void> List(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"all", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kListHelp, 0, 0);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool all = args->parsed.Has("all");
    Result<ModelScope> scope = Open(invocation, *args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<ListPage> page = FetchList(scope->client(), ModelsPath(scope->project), "models",
                                      {{"page_size", all ? kBigPage : ""}}, all);
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
    Table table({"ID", "NAME", "AUTH", "BUILD", "DEPLOYMENT", "ACCESS KEY"});
    for (const Json& model : page->items) {
        Result<std::pair<std::string, std::string>> states = ModelStates(*scope, model);
        if (!states) {
            return std::unexpected(std::move(states).error());
        }
        table.AddRow({Cell(model, "id"), Cell(model, "name"), AuthText(model), states->first,
                      states->second, Cell(model, "access_key")});
    }
    table.Print(std::cout);
    if (!page->next_page_token.empty()) {
        std::cerr << "(more models exist: use --all to list them all)\n";
    }
    return {};
}

// "3: 2 built, 1 failed; latest 7 (built, predict.py:predict, 2026-11-24T07:00:00Z)".
std::string BuildsSummary(const Json& builds) {
    if (builds.empty()) {
        return "none";
    }
    std::map<std::string, int> counts;
    for (const Json& build : builds) {
        ++counts[Cell(build, "state")];
    }
    std::string text = std::to_string(builds.size()) + ":";
    bool first = true;
    for (const char* state : {"built", "failed", "building", "queued"}) {
        if (auto it = counts.find(state); it != counts.end()) {
            text += std::string(first ? " " : ", ") + std::to_string(it->second) + " " + state;
            first = false;
            counts.erase(it);
        }
    }
    for (const auto& [state, count] : counts) {
        text += std::string(first ? " " : ", ") + std::to_string(count) + " " + state;
        first = false;
    }
    const Json& latest = builds.front();
    return text + "; latest " + Cell(latest, "id") + " (" + Cell(latest, "state") + ", " +
           FunctionText(latest) + ", " + TimeCell(latest, "created_at") + ")";
}

std::string DeploymentSummary(const Json& deployment, bool serving) {
    if (deployment.is_null()) {
        return "none";
    }
    std::string text = Cell(deployment, "id") + " of build " + Cell(deployment, "build_id") + ": " +
                       Cell(deployment, "state");
    if (std::string reason = Cell(deployment, "reason"); reason != "-") {
        text += " (" + reason + ")";
    }
    text += ", " + ReplicasText(deployment) + " replicas ready, " + ResourcesText(deployment);
    return serving ? text : "none serving; latest " + text;
}

// "0.19 ms", "12.5 ms", "340 ms": three significant digits at most, as latencies are read.
std::string MillisecondsText(const Json& latency, std::string_view field) {
    auto it = latency.find(field);
    if (it == latency.end() || !it->is_number()) {
        return Cell(latency, field);
    }
    const double ms = it->get<double>();
    char text[32];
    std::snprintf(text, sizeof text, ms < 10 ? "%.2f ms" : ms < 100 ? "%.1f ms" : "%.0f ms", ms);
    return text;
}

std::string StatsSummary(const Json& deployment) {
    auto stats = deployment.find("stats");
    if (stats == deployment.end() || !stats->is_object()) {
        return "-";
    }
    std::string text = Cell(*stats, "requests") + " requests, " + Cell(*stats, "errors") +
                       " errors, " + Cell(*stats, "in_flight") + " in flight, " +
                       Cell(*stats, "queued") + " queued";
    auto latency = stats->find("latency_ms");
    if (latency != stats->end() && latency->is_object()) {
        text += "; latency p50 " + MillisecondsText(*latency, "p50") + ", p95 " +
                MillisecondsText(*latency, "p95") + ", p99 " + MillisecondsText(*latency, "p99");
    }
    return text;
}

Result<void> Show(const Invocation& invocation, std::span<const std::string> words) {
    Result<ModelArgs> args = ParseModelArgs(words, {}, kShowHelp, 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<ModelScope> scope = Open(invocation, *args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<Json> model = ResolveModel(*scope, args->parsed.positionals[0]);
    if (!model) {
        return std::unexpected(std::move(model).error());
    }
    if (invocation.global.json) {
        PrintJson(*model);
        return {};
    }
    Result<std::int64_t> model_id = IdOf(*model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    Result<ListPage> builds =
        FetchList(scope->client(), ModelPath(scope->project, *model_id) + "/builds", "builds",
                  {{"page_size", kBigPage}}, /*all_pages=*/true);
    if (!builds) {
        return std::unexpected(std::move(builds).error());
    }
    Result<Json> deployment = CurrentDeployment(*scope, *model, /*any_state=*/true);
    if (!deployment) {
        return std::unexpected(std::move(deployment).error());
    }
    // The list leaves out the live counters; the deployment itself has them.
    Json replicas = Json::array();
    if (!deployment->is_null()) {
        Result<std::string> path = PathOfDeployment(*scope, *deployment);
        if (!path) {
            return std::unexpected(std::move(path).error());
        }
        Result<Json> live = scope->client().Call(HttpMethod::kGet, *path);
        if (!live) {
            return std::unexpected(std::move(live).error());
        }
        *deployment = std::move(*live);
        Result<ListPage> listed = FetchList(scope->client(), *path + "/replicas", "replicas",
                                            {{"page_size", kBigPage}}, /*all_pages=*/true);
        if (!listed) {
            return std::unexpected(std::move(listed).error());
        }
        replicas = std::move(listed->items);
    }
    const bool serving =
        !deployment->is_null() && IntField(*model, "deployment_id") == IntField(*deployment, "id");
    const std::pair<const char*, std::string> fields[] = {
        {"ID:", Cell(*model, "id")},
        {"Name:", Cell(*model, "name")},
        {"Project:", std::to_string(scope->project)},
        {"Description:", Cell(*model, "description")},
        {"CRN:", Cell(*model, "crn")},
        {"Access key:", Cell(*model, "access_key")},
        {"Auth:", AuthText(*model) == "on" ? "on (callers send an API key too)" : AuthText(*model)},
        {"Endpoint:", "POST " + scope->client().base_url() + "/model"},
        {"Builds:", BuildsSummary(builds->items)},
        {"Deployment:", DeploymentSummary(*deployment, serving)},
        // What read_metrics, drift and track_aggregate_metrics take.
        {"Deployment CRN:", deployment->is_null() ? "-" : Cell(*deployment, "crn")},
        {"Requests:", deployment->is_null() ? "-" : StatsSummary(*deployment)},
        {"Created by:", Cell(*model, "created_by")},
        {"Created:", TimeCell(*model, "created_at")},
        {"Updated:", TimeCell(*model, "updated_at")},
    };
    PrintFields(fields);
    if (!replicas.empty()) {
        std::cout << "\nReplicas of deployment " << Cell(*deployment, "id") << ":\n";
        Table table(
            {"ID", "STATE", "READY", "IN FLIGHT", "REQUESTS", "ERRORS", "STARTED", "REASON"});
        for (const Json& replica : replicas) {
            std::string id = Cell(replica, "replica_id");
            table.AddRow({id == "-" ? Cell(replica, "id") : id, Cell(replica, "state"),
                          Cell(replica, "ready") == "true" ? "yes" : "no",
                          Cell(replica, "in_flight"), Cell(replica, "requests"),
                          Cell(replica, "errors"), TimeCell(replica, "started_at"),
                          Cell(replica, "reason")});
        }
        table.Print(std::cout);
    }
    return {};
}

// Streams a build's log to stderr until the build has ended; gives the ended build. Ctrl-C stops
// following (the build goes on) and exits.
Result<Json> FollowBuild(ApiClient& client, const std::string& path, std::int64_t build_id) {
    InterruptWatch watch;
    Result<LogEnd> end = StreamLog(client, path + "/logs", stderr, /*follow=*/true, &watch);
    if (!end) {
        return std::unexpected(std::move(end).error());
    }
    std::optional<Json> ended;
    if (*end == LogEnd::kComplete) {
        Result<std::optional<Json>> waited = WaitUntil(client, path, IsBuildEnded, {}, watch);
        if (!waited) {
            return std::unexpected(std::move(waited).error());
        }
        ended = std::move(*waited);
    }
    if (!ended) {
        std::cerr << "\nStopped following build " << build_id << "; it goes on.\n";
        DieOfInterrupt();
    }
    return std::move(*ended);
}

// The end of `build --wait` and `rebuild --wait`: the build as JSON with --json, how it ended,
// and exit code 1 unless it was built.
Result<void> ReportBuilt(const Invocation& invocation, const Json& ended, std::int64_t build_id,
                         const Json& model) {
    if (invocation.global.json) {
        PrintJson(ended);
    }
    if (Cell(ended, "state") != "built") {
        return Fail(ExitCode::kFailure, EndText("build", ended));
    }
    std::string took = SecondsBetween(ended, "started_at", "finished_at");
    std::cerr << "Build " << build_id << " of " << ModelLabel(model) << " built"
              << (took.empty() ? "" : " in " + took) << ".\n";
    return {};
}

Result<void> Build(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"file", true}, {"function", true}, {"kernel", true}, {"comment", true}, {"wait", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kBuildHelp, 1, 1, /*with_env=*/true);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    std::optional<std::string> file = args->parsed.Value("file");
    if (!file || file->empty()) {
        return UsageError("missing --file PATH: the project file holding the function",
                          UsageLine(kBuildHelp));
    }
    std::optional<std::string> function = args->parsed.Value("function");
    if (!function || function->empty()) {
        return UsageError("missing --function NAME: the function each call runs",
                          UsageLine(kBuildHelp));
    }
    Json body = {{"file_path", *file}, {"function_name", *function}};
    if (auto kernel = args->parsed.Value("kernel")) {
        body["kernel"] = *kernel;
    }
    if (auto comment = args->parsed.Value("comment")) {
        body["comment"] = *comment;
    }
    if (!args->env.empty()) {
        Result<Json> environment = ParseEnvironment(args->env, kBuildHelp);
        if (!environment) {
            return std::unexpected(std::move(environment).error());
        }
        body["environment"] = std::move(*environment);
    }
    const bool wait = args->parsed.Has("wait");
    Result<ModelTarget> target = OpenModel(invocation, *args, args->parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    ApiClient& client = scope.client();
    Result<Json> build =
        client.Call(HttpMethod::kPost, ModelPath(scope.project, model_id) + "/builds", &body);
    if (!build) {
        return std::unexpected(std::move(build).error());
    }
    Result<std::int64_t> build_id = IdOf(*build, "build");
    if (!build_id) {
        return std::unexpected(std::move(build_id).error());
    }
    const std::string started = "Started build " + std::to_string(*build_id) + " of " +
                                ModelLabel(model) + " (" + *file + ":" + *function + ").\n";
    if (!wait) {
        if (invocation.global.json) {
            PrintJson(*build);
        } else {
            std::cout << *build_id << '\n';
            std::cerr << started;
        }
        return {};
    }

    // The id on stdout, the log on stderr: BUILD=$(lathe model build ... --wait) shows the log
    // as it is written and still captures just the id.
    if (!invocation.global.json) {
        std::cout << *build_id << '\n' << std::flush;
    }
    std::cerr << started << std::flush;
    const std::string path = BuildPath(scope.project, model_id, *build_id);
    Result<Json> ended = FollowBuild(client, path, *build_id);
    if (!ended) {
        return std::unexpected(std::move(ended).error());
    }
    return ReportBuilt(invocation, *ended, *build_id, model);
}

// `builds` and `deployments`: one page, or all of them with --all.
Result<void> ListChildren(const Invocation& invocation,
                          std::span<const std::string> words,
                          const CommandHelp& help,
                          bool deployments) {
    static constexpr OptionSpec kOptions[] = {{"all", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, help, 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool all = args->parsed.Has("all");
    Result<ModelTarget> target = OpenModel(invocation, *args, args->parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    const char* key = deployments ? "deployments" : "builds";
    Result<ListPage> page =
        FetchList(scope.client(), ModelPath(scope.project, model_id) + "/" + key, key,
                  {{"page_size", all ? kBigPage : ""}}, all);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    if (invocation.global.json) {
        PrintJson({{key, page->items}, {"next_page_token", page->next_page_token}});
        return {};
    }
    if (page->items.empty()) {
        std::cout << (deployments ? "No deployments.\n" : "No builds.\n");
        return {};
    }
    if (deployments) {
        PrintDeploymentTable(page->items);
    } else {
        PrintBuildTable(page->items);
    }
    if (!page->next_page_token.empty()) {
        std::cerr << "(more " << key << " exist: use --all to list them all)\n";
    }
    return {};
}

Result<void> Builds(const Invocation& invocation, std::span<const std::string> words) {
    return ListChildren(invocation, words, kBuildsHelp, /*deployments=*/false);
}

Result<void> Deployments(const Invocation& invocation, std::span<const std::string> words) {
    return ListChildren(invocation, words, kDeploymentsHelp, /*deployments=*/true);
}

// The deployment body from deploy's options; usage errors before anything is sent.
Result<Json> DeploymentBody(const ModelArgs& args) {
    const ParsedArgs& parsed = args.parsed;
    Json body = Json::object();
    for (const auto& [option, field] : {std::pair{"cpu", "cpu"}, std::pair{"memory", "memory"}}) {
        if (auto text = parsed.Value(option)) {
            Result<double> value =
                ParsePositiveNumber(*text, "--" + std::string(option), kDeployHelp);
            if (!value) {
                return std::unexpected(std::move(value).error());
            }
            body[field] = *value;
        }
    }
    struct IntegerField {
        const char* option;
        const char* field;
        std::int64_t min;
    };
    static constexpr IntegerField kIntegers[] = {
        {"replicas", "replicas", 1},         {"gpus", "nvidia_gpu", 0},
        {"min-replicas", "min_replicas", 0}, {"max-replicas", "max_replicas", 1},
        {"concurrency", "concurrency", 1},   {"max-batch-size", "max_batch_size", 0},
        {"max-delay-ms", "max_delay_ms", 0}};
    for (const IntegerField& integer : kIntegers) {
        Result<std::optional<std::int64_t>> value =
            IntegerOption(parsed, integer.option, integer.min, kDeployHelp);
        if (!value) {
            return std::unexpected(std::move(value).error());
        }
        if (*value) {
            body[integer.field] = **value;
        }
    }
    if (parsed.Has("min-replicas") != parsed.Has("max-replicas")) {
        return UsageError("--min-replicas and --max-replicas go together: they turn autoscaling on",
                          UsageLine(kDeployHelp));
    }
    if (parsed.Has("min-replicas") &&
        body["min_replicas"].get<std::int64_t>() > body["max_replicas"].get<std::int64_t>()) {
        return UsageError("--min-replicas must not be more than --max-replicas",
                          UsageLine(kDeployHelp));
    }
    if (parsed.Has("max-delay-ms") && !parsed.Has("max-batch-size")) {
        return UsageError("--max-delay-ms only matters with --max-batch-size",
                          UsageLine(kDeployHelp));
    }
    if (parsed.Has("idempotent")) {
        body["idempotent"] = true;
    }
    if (!args.env.empty()) {
        Result<Json> environment = ParseEnvironment(args.env, kDeployHelp);
        if (!environment) {
            return std::unexpected(std::move(environment).error());
        }
        body["environment"] = std::move(*environment);
    }
    return body;
}

// The newest build of the model that was built.
Result<std::int64_t> LatestBuiltBuild(ModelScope& scope, const Json& model) {
    Result<std::int64_t> model_id = IdOf(model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    Result<ListPage> builds =
        FetchList(scope.client(), ModelPath(scope.project, *model_id) + "/builds", "builds",
                  {{"page_size", kBigPage}}, /*all_pages=*/true);
    if (!builds) {
        return std::unexpected(std::move(builds).error());
    }
    for (const Json& build : builds->items) {
        if (Cell(build, "state") == "built") {
            return IdOf(build, "build");
        }
    }
    return Fail(ExitCode::kFailure, ModelLabel(model) + " has no successful build to deploy",
                "build it with `lathe model build " + Cell(model, "name") +
                    " --file PATH --function NAME --wait`");
}

Result<void> Deploy(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"build", true},        {"replicas", true},    {"cpu", true},
        {"memory", true},       {"gpus", true},        {"min-replicas", true},
        {"max-replicas", true}, {"concurrency", true}, {"max-batch-size", true},
        {"max-delay-ms", true}, {"idempotent", false}, {"wait", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kDeployHelp, 1, 1, /*with_env=*/true);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<Json> body = DeploymentBody(*args);
    if (!body) {
        return std::unexpected(std::move(body).error());
    }
    std::optional<std::int64_t> chosen_build;
    if (auto text = args->parsed.Value("build")) {
        Result<std::int64_t> id = ParseId(*text, "--build", kDeployHelp);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        chosen_build = *id;
    }
    const bool wait = args->parsed.Has("wait");
    Result<ModelTarget> target = OpenModel(invocation, *args, args->parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    if (!chosen_build) {
        Result<std::int64_t> latest = LatestBuiltBuild(scope, model);
        if (!latest) {
            return std::unexpected(std::move(latest).error());
        }
        chosen_build = *latest;
    }
    ApiClient& client = scope.client();
    Result<Json> deployment =
        client.Call(HttpMethod::kPost,
                    BuildPath(scope.project, model_id, *chosen_build) + "/deployments", &*body);
    if (!deployment) {
        return std::unexpected(std::move(deployment).error());
    }
    Result<std::int64_t> deployment_id = IdOf(*deployment, "deployment");
    if (!deployment_id) {
        return std::unexpected(std::move(deployment_id).error());
    }
    const std::string started = "Deploying build " + std::to_string(*chosen_build) + " of " +
                                ModelLabel(model) + " as deployment " +
                                std::to_string(*deployment_id) + ".\n";
    if (!wait) {
        if (invocation.global.json) {
            PrintJson(*deployment);
        } else {
            std::cout << *deployment_id << '\n';
            std::cerr << started;
        }
        return {};
    }

    if (!invocation.global.json) {
        std::cout << *deployment_id << '\n' << std::flush;
    }
    std::cerr << started << std::flush;
    // One line each time the state or the number of ready replicas changes.
    std::string shown;
    auto progress = [&](const Json& current) {
        std::string line = Cell(current, "state") + ", " + ReplicasText(current) + " ready";
        if (line != shown) {
            std::cerr << "deployment " << *deployment_id << ": " << line << '\n' << std::flush;
            shown = std::move(line);
        }
    };
    InterruptWatch watch;
    Result<std::optional<Json>> settled =
        WaitUntil(client, DeploymentPath(scope.project, model_id, *chosen_build, *deployment_id),
                  IsDeploymentSettled, progress, watch);
    if (!settled) {
        return std::unexpected(std::move(settled).error());
    }
    if (!*settled) {
        std::cerr << "\nStopped waiting for deployment " << *deployment_id
                  << "; it goes on (`lathe model stop " << Cell(model, "name") << " --project "
                  << scope.project << "` stops it).\n";
        DieOfInterrupt();
    }
    const Json& ended = **settled;
    if (invocation.global.json) {
        PrintJson(ended);
    }
    if (Cell(ended, "state") != "deployed") {
        return Fail(ExitCode::kFailure, EndText("deployment", ended));
    }
    std::cerr << "Deployment " << *deployment_id << " of " << ModelLabel(model)
              << " deployed: " << ReplicasText(ended) << " replicas ready.\n";
    return {};
}

// `stop` and `restart`: an action on the model's current deployment.
Result<void> DeploymentAction(const Invocation& invocation,
                              std::span<const std::string> words,
                              const CommandHelp& help,
                              bool stop) {
    static constexpr OptionSpec kStopOptions[] = {{"wait", false}};
    Result<ModelArgs> args = ParseModelArgs(
        words, stop ? std::span<const OptionSpec>(kStopOptions) : std::span<const OptionSpec>(),
        help, 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool wait = args->parsed.Has("wait");
    Result<ModelScope> scope = Open(invocation, *args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<Json> model = ResolveModel(*scope, args->parsed.positionals[0]);
    if (!model) {
        return std::unexpected(std::move(model).error());
    }
    Result<Json> deployment = CurrentDeployment(*scope, *model, /*any_state=*/false);
    if (!deployment) {
        return std::unexpected(std::move(deployment).error());
    }
    if (deployment->is_null()) {
        return Fail(ExitCode::kFailure,
                    ModelLabel(*model) + " has no deployment to " + (stop ? "stop" : "restart"),
                    "`lathe model deployments " + Cell(*model, "name") + "` lists its deployments");
    }
    Result<std::string> path = PathOfDeployment(*scope, *deployment);
    if (!path) {
        return std::unexpected(std::move(path).error());
    }
    ApiClient& client = scope->client();
    Result<Json> answer = client.Call(HttpMethod::kPost, *path + (stop ? ":stop" : ":restart"));
    if (!answer) {
        return std::unexpected(std::move(answer).error());
    }
    const std::string id = Cell(*deployment, "id");
    if (!stop) {
        if (invocation.global.json) {
            PrintJson(*answer);
        } else {
            std::cout << "Restarting deployment " << id << " of " << ModelLabel(*model)
                      << ": its replicas are replaced one at a time.\n";
        }
        return {};
    }
    if (wait && Cell(*answer, "state") != "stopped") {
        InterruptWatch watch;
        Result<std::optional<Json>> stopped = WaitUntil(
            client, *path,
            [](const Json& d) {
                std::string state = Cell(d, "state");
                return state == "stopped" || state == "failed";
            },
            {}, watch);
        if (!stopped) {
            return std::unexpected(std::move(stopped).error());
        }
        if (!*stopped) {
            std::cerr << "\nStopped waiting for deployment " << id << " to stop.\n";
            DieOfInterrupt();
        }
        *answer = std::move(**stopped);
    }
    if (invocation.global.json) {
        PrintJson(*answer);
    } else if (Cell(*answer, "state") == "stopped") {
        std::cout << "Stopped deployment " << id << " of " << ModelLabel(*model) << ".\n";
    } else {
        std::cout << "Stopping deployment " << id << " of " << ModelLabel(*model) << ".\n";
    }
    return {};
}

Result<void> Stop(const Invocation& invocation, std::span<const std::string> words) {
    return DeploymentAction(invocation, words, kStopHelp, /*stop=*/true);
}

Result<void> Restart(const Invocation& invocation, std::span<const std::string> words) {
    return DeploymentAction(invocation, words, kRestartHelp, /*stop=*/false);
}

// The log path of the replica the user named (by replica id or workload id), searching the
// model's current deployment first, then the others, newest first.
Result<std::string> ReplicaLogPath(ModelScope& scope,
                                   const Json& model,
                                   const std::string& wanted) {
    Result<std::int64_t> model_id = IdOf(model, "model");
    if (!model_id) {
        return std::unexpected(std::move(model_id).error());
    }
    Result<Json> deployments = ModelDeployments(scope, *model_id);
    if (!deployments) {
        return std::unexpected(std::move(deployments).error());
    }
    std::optional<std::int64_t> serving = IntField(model, "deployment_id");
    std::stable_partition(deployments->begin(), deployments->end(),
                          [&](const Json& d) { return serving && IntField(d, "id") == serving; });
    for (const Json& deployment : *deployments) {
        Result<std::string> path = PathOfDeployment(scope, deployment);
        if (!path) {
            return std::unexpected(std::move(path).error());
        }
        Result<ListPage> replicas = FetchList(scope.client(), *path + "/replicas", "replicas",
                                              {{"page_size", kBigPage}}, /*all_pages=*/true);
        if (!replicas) {
            return std::unexpected(std::move(replicas).error());
        }
        for (const Json& replica : replicas->items) {
            std::string replica_id = Cell(replica, "replica_id");
            if (replica_id == wanted || Cell(replica, "id") == wanted) {
                std::string key = replica_id != "-" ? replica_id : Cell(replica, "id");
                return *path + "/replicas/" + PercentEncode(key) + "/logs";
            }
        }
    }
    return Fail(ExitCode::kNotFound,
                "no replica '" + wanted + "' in the deployments of " + ModelLabel(model),
                "`lathe model show " + Cell(model, "name") + "` lists the current replicas");
}

Result<void> Logs(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"build", true}, {"replica", true}, {"follow", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kLogsHelp, 1, 1,
                                            /*with_env=*/false, /*short_follow=*/true);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool follow = args->parsed.Has("follow");
    if (follow && invocation.global.json) {
        return UsageError("--follow prints the log as text and does not go with --json",
                          UsageLine(kLogsHelp));
    }
    std::optional<std::string> replica = args->parsed.Value("replica");
    std::optional<std::int64_t> build_id;
    if (auto text = args->parsed.Value("build")) {
        if (replica) {
            return UsageError("--build and --replica name different logs: give one of them",
                              UsageLine(kLogsHelp));
        }
        Result<std::int64_t> id = ParseId(*text, "--build", kLogsHelp);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        build_id = *id;
    }
    if (replica && replica->empty()) {
        return UsageError("--replica needs a replica id", UsageLine(kLogsHelp));
    }
    Result<ModelTarget> target = OpenModel(invocation, *args, args->parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    std::string path;
    if (replica) {
        Result<std::string> found = ReplicaLogPath(scope, model, *replica);
        if (!found) {
            return std::unexpected(std::move(found).error());
        }
        path = std::move(*found);
    } else {
        if (!build_id) {
            build_id = IntField(model, "latest_build_id");
        }
        if (!build_id) {
            return Fail(ExitCode::kFailure, ModelLabel(model) + " has no builds yet");
        }
        path = BuildPath(scope.project, model_id, *build_id) + "/logs";
    }
    ApiClient& client = scope.client();
    if (invocation.global.json) {
        // The log so far as one JSON document, as `lathe job logs --json` prints a run's.
        std::string log;
        std::uint64_t size = 0;
        bool complete = false;
        for (;;) {
            Result<HttpResponse> response = GetLogPiece(client, path, log.size());
            if (!response) {
                return std::unexpected(std::move(response).error());
            }
            log += response->body;
            size = HeaderNumber(*response, "x-log-size", log.size());
            complete = response->Header("x-log-complete") == "true";
            if (response->body.empty() || log.size() >= size) {
                break;
            }
        }
        Json doc = replica ? Json{{"replica_id", *replica}} : Json{{"build_id", *build_id}};
        doc["log"] = log;
        doc["size"] = std::max<std::uint64_t>(size, log.size());
        doc["complete"] = complete;
        PrintJson(doc);
        return {};
    }
    if (!follow) {
        Result<LogEnd> end = StreamLog(client, path, stdout, /*follow=*/false, nullptr);
        if (!end) {
            return std::unexpected(std::move(end).error());
        }
        return {};
    }
    InterruptWatch watch;
    Result<LogEnd> end = StreamLog(client, path, stdout, /*follow=*/true, &watch);
    if (!end) {
        return std::unexpected(std::move(end).error());
    }
    if (*end == LogEnd::kInterrupted) {
        DieOfInterrupt();
    }
    return {};
}

// The request text of `call`: REQUEST, `-`, or --data's JSON, @FILE or @-.
Result<std::string> RequestText(const ParsedArgs& parsed) {
    std::optional<std::string> data = parsed.Value("data");
    if (data && parsed.positionals.size() > 1) {
        return UsageError("give the request once: as REQUEST or with --data", UsageLine(kCallHelp));
    }
    if (!data && parsed.positionals.size() < 2) {
        return UsageError("missing the request: give its JSON, - for stdin, or --data @FILE",
                          UsageLine(kCallHelp));
    }
    std::string source = data ? *data : parsed.positionals[1];
    if (source == "-" || source == "@-") {
        std::string text{std::istreambuf_iterator<char>(std::cin),
                         std::istreambuf_iterator<char>()};
        if (std::cin.bad()) {
            return Fail(ExitCode::kFailure, "cannot read the request from stdin");
        }
        return text;
    }
    if (data && source.starts_with("@")) {
        const std::string name = source.substr(1);
        std::ifstream file(name, std::ios::binary);
        if (!file) {
            return Fail(ExitCode::kFailure,
                        "cannot read " + name + ": " + std::string(std::strerror(errno)));
        }
        std::ostringstream text;
        text << file.rdbuf();
        if (file.bad()) {
            return Fail(ExitCode::kFailure, "cannot read " + name);
        }
        return text.str();
    }
    return source;
}

// The error of a call the model did not answer: the envelope's message (with the exception's
// type) when there is one, after its traceback on stderr.
CliError CallError(const HttpResponse& response, const Json& envelope, const Json& model) {
    CliError error = ErrorFromResponse(response);
    if (response.status >= 200 && response.status < 300) {
        error.exit_code = ExitCode::kFailure;
    }
    auto body = envelope.is_object() ? envelope.find("error") : envelope.end();
    if (!envelope.is_object() || body == envelope.end() || !body->is_object()) {
        if (error.message.empty() || (response.status >= 200 && response.status < 300)) {
            error.message = ModelLabel(model) + " failed without saying why";
        }
        return error;
    }
    if (std::string traceback = StringField(*body, "traceback"); !traceback.empty()) {
        std::cerr << traceback << (traceback.ends_with('\n') ? "" : "\n");
    }
    std::string message = StringField(*body, "message");
    std::string type = StringField(*body, "type");
    if (type.empty()) {
        // The server's own refusal ("no running deployment", a full queue): its words suffice.
        return error;
    }
    // The user's function raised: the traceback says where; a request id would not help.
    error.hint.clear();
    if (!message.starts_with(type)) {
        message = type + ": " + message;
    }
    error.message = ModelLabel(model) + ": " + message;
    return error;
}

Result<void> Call(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"data", true}, {"raw", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kCallHelp, 1, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::string> text = RequestText(args->parsed);
    if (!text) {
        return std::unexpected(std::move(text).error());
    }
    Json request = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded()) {
        return UsageError(
            "the request is not JSON: " + (text->size() > 80 ? text->substr(0, 80) + "..." : *text),
            UsageLine(kCallHelp));
    }
    const bool raw = args->parsed.Has("raw") || invocation.global.json;
    Result<ModelScope> scope = Open(invocation, *args);
    if (!scope) {
        return std::unexpected(std::move(scope).error());
    }
    Result<Json> model = ResolveModel(*scope, args->parsed.positionals[0]);
    if (!model) {
        return std::unexpected(std::move(model).error());
    }
    const std::string access_key = StringField(*model, "access_key");
    if (access_key.empty()) {
        return Fail(ExitCode::kFailure,
                    "the server's answer has no access key for " + ModelLabel(*model));
    }
    const Json body = {{"accessKey", access_key}, {"request", std::move(request)}};
    // The stored API key goes along as the Bearer token, which a model with auth on requires.
    Result<HttpResponse> response = scope->client().Send(HttpMethod::kPost, "/model", &body);
    if (!response) {
        return std::unexpected(std::move(response).error());
    }
    Json envelope = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    const bool ok = response->status >= 200 && response->status < 300 && envelope.is_object() &&
                    envelope.value("success", false) == true && envelope.contains("response");
    if (raw && envelope.is_object()) {
        PrintJson(envelope);
    } else if (ok) {
        PrintJson(envelope["response"]);
    }
    if (ok) {
        return {};
    }
    return std::unexpected(CallError(*response, envelope, *model));
}

// ---------------------------------------------------------------------------------------------
// Governance: rebuild and verify, aliases, examples

// A value as a report shows it: strings bare, null as "(none)", the rest as compact JSON.
std::string ValueText(const Json& value) {
    if (value.is_null()) {
        return "(none)";
    }
    if (value.is_string()) {
        return value.get<std::string>();
    }
    return value.dump();
}

std::vector<std::string> StringList(const Json& object, std::string_view field) {
    std::vector<std::string> out;
    auto it = object.is_object() ? object.find(field) : object.end();
    if (it != object.end() && it->is_array()) {
        for (const Json& item : *it) {
            out.push_back(ValueText(item));
        }
    }
    return out;
}

bool TrueField(const Json& object, std::string_view field) {
    auto it = object.is_object() ? object.find(field) : object.end();
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

// The readable report of a rebuild's verification, on stdout.
void PrintVerification(const Json& v, const Json& model) {
    const std::string rebuild = Cell(v, "build_id");
    const std::string original = Cell(v, "rebuild_of");
    const bool reproduced = TrueField(v, "reproduced");
    const bool intact = TrueField(v, "snapshot_intact");
    std::string state = Cell(v, "state");
    if (std::string reason = Cell(v, "reason"); reason != "-") {
        state += ": " + reason;
    }
    std::string snapshot = Cell(v, "snapshot");
    if (snapshot.size() > 12) {
        snapshot = snapshot.substr(0, 12);
    }
    std::vector<std::string> corrupted = StringList(v, "corrupted_files");
    std::string snapshot_text = snapshot + (intact ? ", intact" : ", CORRUPTED");
    if (!intact && !corrupted.empty()) {
        snapshot_text += " (" + std::to_string(corrupted.size()) + " file" +
                         (corrupted.size() == 1 ? "" : "s") + " differ from their hashes)";
    }
    const std::pair<const char*, std::string> fields[] = {
        {"Model:", Cell(model, "name")},
        {"Build:", original},
        {"Rebuild:", rebuild + " (" + state + ")"},
        {"Reproduced:", reproduced ? "yes" : "no"},
        {"Snapshot:", snapshot_text},
    };
    PrintFields(fields);
    for (const std::string& file : corrupted) {
        std::cout << "  corrupted  " << file << '\n';
    }

    // Differences: the build's own fields, then the packages, each as original -> rebuild.
    std::vector<std::pair<std::string, std::string>> fields_changed;
    std::vector<std::pair<std::string, std::string>> packages_changed;
    auto differences = v.find("differences");
    if (differences != v.end() && differences->is_array()) {
        for (const Json& d : *differences) {
            std::string field = StringField(d, "field");
            Json before = d.is_object() && d.contains("original") ? d["original"] : Json();
            Json after = d.is_object() && d.contains("rebuild") ? d["rebuild"] : Json();
            if (field.starts_with("package ")) {
                std::string change = before.is_null() ? "added " + ValueText(after)
                                     : after.is_null()
                                         ? "removed (was " + ValueText(before) + ")"
                                         : ValueText(before) + " -> " + ValueText(after);
                packages_changed.emplace_back(field.substr(8), std::move(change));
            } else {
                fields_changed.emplace_back(field, ValueText(before) + " -> " + ValueText(after));
            }
        }
    }
    auto print_pairs = [](const char* title,
                          const std::vector<std::pair<std::string, std::string>>& rows) {
        std::cout << '\n' << title << " (" << rows.size() << "):\n";
        Table table({"  WHAT", "ORIGINAL -> REBUILD"});
        for (const auto& [what, change] : rows) {
            table.AddRow({"  " + what, change});
        }
        table.Print(std::cout);
    };
    if (Cell(v, "state") == "built") {
        if (fields_changed.empty() && packages_changed.empty()) {
            std::cout << "\nDifferences: none (same Python, packages, build script output,\n"
                         "environment variable names and lineage.yaml)\n";
        }
        if (!fields_changed.empty()) {
            print_pairs("Differences", fields_changed);
        }
        if (!packages_changed.empty()) {
            print_pairs("Package changes", packages_changed);
        }
    } else {
        std::cout << "\nDifferences: not compared, as the rebuild was not built\n";
    }

    // What the project holds now against the snapshot: why a new build might differ.
    auto changes = v.find("project_changes");
    if (changes == v.end() || !changes->is_object()) {
        return;
    }
    std::vector<std::string> changed = StringList(*changes, "changed");
    std::vector<std::string> added = StringList(*changes, "added");
    std::vector<std::string> removed = StringList(*changes, "removed");
    std::cout << "\nProject files since build " << original << ": ";
    if (changed.empty() && added.empty() && removed.empty()) {
        std::cout << "unchanged\n";
        return;
    }
    std::cout << changed.size() << " changed, " << added.size() << " added, " << removed.size()
              << " removed" << (TrueField(*changes, "truncated") ? " (list truncated)" : "")
              << '\n';
    for (const auto& [label, files] : {std::pair{"changed", &changed}, std::pair{"added  ", &added},
                                       std::pair{"removed", &removed}}) {
        for (const std::string& file : *files) {
            std::cout << "  " << label << "  " << file << '\n';
        }
    }
}

Result<void> Rebuild(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"verify", false}, {"wait", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kRebuildHelp, 2, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> original = ParseId(args->parsed.positionals[1], "BUILD", kRebuildHelp);
    if (!original) {
        return std::unexpected(std::move(original).error());
    }
    const bool verify = args->parsed.Has("verify");
    const bool wait = verify || args->parsed.Has("wait");
    Result<ModelTarget> target = OpenModel(invocation, *args, args->parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    ApiClient& client = scope.client();
    Result<Json> build = client.Call(HttpMethod::kPost,
                                     BuildPath(scope.project, model_id, *original) + ":rebuild");
    if (!build) {
        return std::unexpected(std::move(build).error());
    }
    Result<std::int64_t> build_id = IdOf(*build, "build");
    if (!build_id) {
        return std::unexpected(std::move(build_id).error());
    }
    const std::string started = "Started build " + std::to_string(*build_id) + ", a rebuild of " +
                                std::to_string(*original) + " of " + ModelLabel(model) +
                                " from its snapshot.\n";
    if (!wait) {
        if (invocation.global.json) {
            PrintJson(*build);
        } else {
            std::cout << *build_id << '\n';
            std::cerr << started;
        }
        return {};
    }
    // With --verify stdout is the report, which names the rebuild; else the id, as build's.
    if (!verify && !invocation.global.json) {
        std::cout << *build_id << '\n' << std::flush;
    }
    std::cerr << started << std::flush;
    const std::string path = BuildPath(scope.project, model_id, *build_id);
    Result<Json> ended = FollowBuild(client, path, *build_id);
    if (!ended) {
        return std::unexpected(std::move(ended).error());
    }
    if (!verify) {
        return ReportBuilt(invocation, *ended, *build_id, model);
    }
    Result<Json> verification = client.Call(HttpMethod::kGet, path + "/verification");
    if (!verification) {
        return std::unexpected(std::move(verification).error());
    }
    if (invocation.global.json) {
        PrintJson(*verification);
    } else {
        PrintVerification(*verification, model);
    }
    const bool reproduced = TrueField(*verification, "reproduced");
    const bool intact = TrueField(*verification, "snapshot_intact");
    if (reproduced && intact) {
        std::cerr << "Build " << *build_id << " reproduces build " << *original << ".\n";
        return {};
    }
    std::string why;
    if (!reproduced) {
        why = Cell(*ended, "state") != "built" ? "the rebuild " + Cell(*ended, "state")
                                               : "the rebuild differs";
    }
    if (!intact) {
        why += std::string(why.empty() ? "" : "; ") + "the stored snapshot is corrupted";
    }
    return Fail(ExitCode::kFailure, "build " + std::to_string(*build_id) +
                                        " does not reproduce build " + std::to_string(*original) +
                                        ": " + why);
}

std::string AliasesPath(const ModelScope& scope, std::int64_t model_id) {
    return ModelPath(scope.project, model_id) + "/aliases";
}

Result<void> Alias(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"delete", false}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kAliasHelp, 1, 3);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::vector<std::string>& positionals = args->parsed.positionals;
    const bool remove = args->parsed.Has("delete");
    std::optional<std::int64_t> build_id;
    if (remove && positionals.size() != 2) {
        return UsageError(positionals.size() < 2 ? "--delete needs the NAME of the alias to remove"
                                                 : "--delete takes the alias NAME, not a BUILD",
                          UsageLine(kAliasHelp));
    }
    if (!remove && positionals.size() == 2) {
        return UsageError("missing BUILD: the build to point alias '" + positionals[1] +
                              "' at (or --delete to remove it)",
                          UsageLine(kAliasHelp));
    }
    if (positionals.size() == 3) {
        Result<std::int64_t> id = ParseId(positionals[2], "BUILD", kAliasHelp);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        build_id = *id;
    }
    if (positionals.size() >= 2 && positionals[1].empty()) {
        return UsageError("the alias NAME must not be empty", UsageLine(kAliasHelp));
    }
    Result<ModelTarget> target = OpenModel(invocation, *args, positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    ApiClient& client = scope.client();
    const std::string base = AliasesPath(scope, model_id);
    if (positionals.size() == 1) {
        Result<Json> listed = client.Call(HttpMethod::kGet, base);
        if (!listed) {
            return std::unexpected(std::move(listed).error());
        }
        if (invocation.global.json) {
            PrintJson(*listed);
            return {};
        }
        auto aliases = listed->find("aliases");
        if (aliases == listed->end() || !aliases->is_array()) {
            return Fail(ExitCode::kFailure, "the server's answer has no list of aliases");
        }
        if (aliases->empty()) {
            std::cout << "No aliases.\n";
            return {};
        }
        Table table({"ALIAS", "BUILD", "VERSION", "SET BY", "SET AT"});
        for (const Json& alias : *aliases) {
            table.AddRow({Cell(alias, "alias"), Cell(alias, "build_id"), Cell(alias, "version"),
                          Cell(alias, "set_by"), TimeCell(alias, "set_at")});
        }
        table.Print(std::cout);
        return {};
    }
    const std::string path = base + "/" + PercentEncode(positionals[1]);
    if (remove) {
        Result<Json> removed = client.Call(HttpMethod::kDelete, path);
        if (!removed) {
            return std::unexpected(std::move(removed).error());
        }
        if (!invocation.global.json) {
            std::cout << "Removed alias " << positionals[1] << " of " << ModelLabel(model)
                      << ".\n";
        }
        return {};
    }
    const Json body = {{"build_id", *build_id}};
    Result<Json> alias = client.Call(HttpMethod::kPut, path, &body);
    if (!alias) {
        return std::unexpected(std::move(alias).error());
    }
    if (invocation.global.json) {
        PrintJson(*alias);
    } else {
        std::cout << "Alias " << Cell(*alias, "alias") << " of " << ModelLabel(model)
                  << " is build " << Cell(*alias, "build_id") << " (version "
                  << Cell(*alias, "version") << ").\n";
    }
    return {};
}

// JSON given on the command line: the text itself, or @FILE; `what` names it in errors.
Result<Json> JsonArgument(const std::string& text, std::string_view what, const CommandHelp& help) {
    std::string source = text;
    if (text.starts_with("@")) {
        const std::string name = text.substr(1);
        std::ifstream file(name, std::ios::binary);
        if (!file) {
            return Fail(ExitCode::kFailure,
                        "cannot read " + name + ": " + std::string(std::strerror(errno)));
        }
        std::ostringstream read;
        read << file.rdbuf();
        source = read.str();
    }
    Json value = Json::parse(source, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return UsageError(std::string(what) + " is not JSON: " +
                              (source.size() > 80 ? source.substr(0, 80) + "..." : source),
                          UsageLine(help));
    }
    return value;
}

// A JSON value in a table cell: compact, and cut short past `width` characters.
std::string JsonCell(const Json& object, std::string_view field, std::size_t width = 48) {
    auto it = object.is_object() ? object.find(field) : object.end();
    if (it == object.end()) {
        return "-";
    }
    std::string text = it->dump();
    if (text.size() > width) {
        text = text.substr(0, width - 3) + "...";
    }
    return text;
}

Result<void> Examples(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"add", true}, {"response", true}, {"replay-against", true}};
    Result<ModelArgs> args = ParseModelArgs(words, kOptions, kExamplesHelp, 2, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const ParsedArgs& parsed = args->parsed;
    Result<std::int64_t> build_id = ParseId(parsed.positionals[1], "BUILD", kExamplesHelp);
    if (!build_id) {
        return std::unexpected(std::move(build_id).error());
    }
    if (parsed.Has("add") && parsed.Has("replay-against")) {
        return UsageError("--add keeps an example and --replay-against replays them: give one",
                          UsageLine(kExamplesHelp));
    }
    if (parsed.Has("response") && !parsed.Has("add")) {
        return UsageError("--response is the answer of the example --add keeps",
                          UsageLine(kExamplesHelp));
    }
    Json body = Json::object();
    if (auto request = parsed.Value("add")) {
        Result<Json> value = JsonArgument(*request, "the request of --add", kExamplesHelp);
        if (!value) {
            return std::unexpected(std::move(value).error());
        }
        body["request"] = std::move(*value);
        if (auto response = parsed.Value("response")) {
            Result<Json> answer = JsonArgument(*response, "--response", kExamplesHelp);
            if (!answer) {
                return std::unexpected(std::move(answer).error());
            }
            body["response"] = std::move(*answer);
        }
    }
    std::optional<std::int64_t> against;
    if (auto text = parsed.Value("replay-against")) {
        Result<std::int64_t> id = ParseId(*text, "--replay-against", kExamplesHelp);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        against = *id;
    }
    Result<ModelTarget> target = OpenModel(invocation, *args, parsed.positionals[0]);
    if (!target) {
        return std::unexpected(std::move(target).error());
    }
    auto& [scope, model, model_id] = *target;
    ApiClient& client = scope.client();
    const std::string path = BuildPath(scope.project, model_id, *build_id) + "/examples";
    if (body.contains("request")) {
        Result<Json> example = client.Call(HttpMethod::kPost, path, &body);
        if (!example) {
            return std::unexpected(std::move(example).error());
        }
        if (invocation.global.json) {
            PrintJson(*example);
        } else {
            std::cout << Cell(*example, "id") << '\n';
            std::cerr << "Kept example " << Cell(*example, "id") << " of build " << *build_id
                      << " of " << ModelLabel(model)
                      << ", answered: " << JsonCell(*example, "response", 200) << '\n';
        }
        return {};
    }
    if (against) {
        const Json replay_body = {{"against_build_id", *against}};
        Result<Json> replay = client.Call(HttpMethod::kPost, path + ":replay", &replay_body);
        if (!replay) {
            return std::unexpected(std::move(replay).error());
        }
        auto changed = replay->find("changed");
        const std::size_t changes =
            changed != replay->end() && changed->is_array() ? changed->size() : 0;
        if (invocation.global.json) {
            PrintJson(*replay);
        } else {
            std::cout << "Replayed " << Cell(*replay, "examples") << " examples of build "
                      << *build_id << " against build " << *against << ": " << Cell(*replay, "same")
                      << " same, " << changes << " changed.\n";
            if (changes > 0) {
                std::cout << '\n';
                Table table({"EXAMPLE", "REQUEST", "EXPECTED", "ACTUAL"});
                for (const Json& c : *changed) {
                    table.AddRow({Cell(c, "example_id"), JsonCell(c, "request"),
                                  JsonCell(c, "expected"), JsonCell(c, "actual")});
                }
                table.Print(std::cout);
            }
        }
        if (changes > 0) {
            return Fail(ExitCode::kFailure, std::to_string(changes) +
                                                " of the answers changed in build " +
                                                std::to_string(*against));
        }
        return {};
    }
    Result<ListPage> page =
        FetchList(client, path, "examples", {{"page_size", kBigPage}}, /*all_pages=*/true);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    if (invocation.global.json) {
        PrintJson({{"examples", page->items}, {"next_page_token", ""}});
        return {};
    }
    if (page->items.empty()) {
        std::cout << "No examples.\n";
        return {};
    }
    Table table({"ID", "REQUEST", "RESPONSE", "CREATED"});
    for (const Json& example : page->items) {
        table.AddRow({Cell(example, "id"), JsonCell(example, "request"),
                      JsonCell(example, "response"), TimeCell(example, "created_at")});
    }
    table.Print(std::cout);
    return {};
}

}  // namespace

Result<void> RunModel(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {{"create", &kCreateHelp, Create},
                                                 {"list", &kListHelp, List},
                                                 {"ls", &kListHelp, List},
                                                 {"show", &kShowHelp, Show},
                                                 {"build", &kBuildHelp, Build},
                                                 {"builds", &kBuildsHelp, Builds},
                                                 {"deploy", &kDeployHelp, Deploy},
                                                 {"deployments", &kDeploymentsHelp, Deployments},
                                                 {"stop", &kStopHelp, Stop},
                                                 {"restart", &kRestartHelp, Restart},
                                                 {"logs", &kLogsHelp, Logs},
                                                 {"call", &kCallHelp, Call},
                                                 {"rebuild", &kRebuildHelp, Rebuild},
                                                 {"alias", &kAliasHelp, Alias},
                                                 {"aliases", &kAliasHelp, Alias},
                                                 {"examples", &kExamplesHelp, Examples}};
    return RunAction(invocation, "model", kModelHelp, kActions);
}

Result<std::int64_t> FindProject(ApiClient& client, const std::string& spec) {
    return ResolveProject(client, spec);
}

}  // namespace lathe::cli
