// `lathe job ...`: defining jobs, starting and stopping their runs, and reading run logs.
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
#include <iostream>
#include <span>
#include <utility>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/waiting.h"
#include "cli/terminal.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kJobHelp = {
    "lathe job create|list|show|delete|run|stop|runs|logs PROJECT_ID ...",
    "Commands:\n"
    "  create PROJECT_ID NAME --script PATH [...]   define a job (see `lathe job create --help`)\n"
    "  list PROJECT_ID [--all]                      list the project's jobs\n"
    "  show PROJECT_ID JOB_ID                       show one job\n"
    "  delete PROJECT_ID JOB_ID [--yes]             delete a job\n"
    "  run PROJECT_ID JOB_ID [--wait | --follow]    start a run and print its id\n"
    "  stop PROJECT_ID JOB_ID RUN_ID                stop a run\n"
    "  runs PROJECT_ID JOB_ID [--all]               list a job's runs, newest first\n"
    "  logs PROJECT_ID JOB_ID RUN_ID [-f]           print (or follow) a run's log\n"
    "\n"
    "Run `lathe job COMMAND --help` for one command's options.\n"};

constexpr CommandHelp kCreateHelp = {
    "lathe job create PROJECT_ID NAME --script PATH [--arguments A] [--kernel python3|r|bash]\n"
    "       [--cpu N] [--memory GIB] [--gpu N] [--timeout SECONDS] [--env NAME=VALUE ...]\n"
    "       [--schedule CRON] [--timezone TZ] [--parent JOB_ID]",
    "Defines a job that runs the project file PATH. It runs when started with `lathe job run`,\n"
    "on a cron schedule, or each time its parent job succeeds.\n"
    "\n"
    "  --script PATH       the script, a file in the project (required)\n"
    "  --arguments A       command-line arguments, split like a shell does (\"a 'b c'\")\n"
    "  --kernel K          python3 (default), r or bash\n"
    "  --cpu N             vCPUs, e.g. 0.5 (the server's default is 1)\n"
    "  --memory GIB        memory in GiB, e.g. 0.25 (the server's default is 2)\n"
    "  --gpu N             NVIDIA GPUs (default 0)\n"
    "  --timeout SECONDS   end a run that takes longer (default 0: no limit)\n"
    "  --env NAME=VALUE    an environment variable for the runs; repeat for more\n"
    "  --schedule CRON     run on a 5-field cron schedule, e.g. \"0 6 * * 1-5\"\n"
    "  --timezone TZ       the schedule's time zone, e.g. Europe/Paris (default UTC)\n"
    "  --parent JOB_ID     run after job JOB_ID succeeds (not with --schedule)\n"};

constexpr CommandHelp kListHelp = {"lathe job list PROJECT_ID [--all]",
                                   "Lists the project's jobs, by name.\n"
                                   "\n"
                                   "  --all   fetch every page, not just the first\n"};

constexpr CommandHelp kShowHelp = {"lathe job show PROJECT_ID JOB_ID", "Shows one job.\n"};

constexpr CommandHelp kDeleteHelp = {
    "lathe job delete PROJECT_ID JOB_ID [--yes]",
    "Deletes a job. Asks first, unless --yes is given; without a terminal to ask on, --yes is\n"
    "required. A job that other jobs run after cannot be deleted.\n"
    "\n"
    "  --yes   do not ask for confirmation\n"};

constexpr CommandHelp kRunHelp = {
    "lathe job run PROJECT_ID JOB_ID [--arguments A] [--env NAME=VALUE ...] [--wait | --follow]",
    "Starts a run of the job and prints the run's id on stdout.\n"
    "\n"
    "  --arguments A       arguments for this run instead of the job's\n"
    "  --env NAME=VALUE    set or override an environment variable for this run; repeatable\n"
    "  --wait              wait for the run to end\n"
    "  --follow            print the run's log as it is written, until the run ends (the\n"
    "                      run's id then goes to stderr, so stdout is the log alone)\n"
    "\n"
    "With --wait or --follow the final status goes to stderr and the exit code is 0 if the\n"
    "run succeeded, 1 otherwise. Ctrl-C stops waiting, not the run. --follow does not go with\n"
    "--json; --wait --json prints the ended run.\n"};

constexpr CommandHelp kStopHelp = {
    "lathe job stop PROJECT_ID JOB_ID RUN_ID",
    "Stops a run: a queued run ends at once, a running one is sent SIGTERM (then SIGKILL after\n"
    "a grace period). It ends as `stopped`.\n"};

constexpr CommandHelp kRunsHelp = {"lathe job runs PROJECT_ID JOB_ID [--all]",
                                   "Lists the job's runs, newest first.\n"
                                   "\n"
                                   "  --all   fetch every page, not just the first\n"};

constexpr CommandHelp kLogsHelp = {
    "lathe job logs PROJECT_ID JOB_ID RUN_ID [-f | --follow]",
    "Prints the run's log (its stdout and stderr, as written so far).\n"
    "\n"
    "  -f, --follow   keep printing as the log grows, until the run ends; Ctrl-C stops\n"
    "                 following (not the run)\n"};

constexpr auto kIdlePoll = std::chrono::milliseconds(200);
constexpr auto kMaxStatusPoll = std::chrono::milliseconds(1000);

// ---------------------------------------------------------------------------------------------
// Paths

std::string JobsPath(std::int64_t project) {
    return "/api/v2/projects/" + std::to_string(project) + "/jobs";
}

std::string JobPath(std::int64_t project, std::int64_t job) {
    return JobsPath(project) + "/" + std::to_string(job);
}

std::string RunPath(std::int64_t project, std::int64_t job, std::int64_t run) {
    return JobPath(project, job) + "/runs/" + std::to_string(run);
}

// ---------------------------------------------------------------------------------------------
// Parsing

// ParseArgs keeps one value per option, so the repeatable --env is taken out first; `-f` (for
// `logs`) becomes --follow. Walks the words as ParseArgs does, so the value of another option
// ("--arguments --env") and anything after "--" are left alone.
Result<std::vector<std::string>> TakeRepeatedAndShort(std::span<const std::string> words,
                                                      std::span<const OptionSpec> options,
                                                      std::string_view repeated,
                                                      bool short_follow,
                                                      std::vector<std::string>& values,
                                                      const CommandHelp& help) {
    const std::string flag = "--" + std::string(repeated);
    std::vector<std::string> rest;
    bool after_separator = false;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (after_separator) {
            rest.push_back(word);
        } else if (word == "--") {
            after_separator = true;
            rest.push_back(word);
        } else if (short_follow && word == "-f") {
            rest.emplace_back("--follow");
        } else if (!repeated.empty() && word == flag) {
            if (i + 1 >= words.size()) {
                return UsageError("option " + flag + " needs a value", UsageLine(help));
            }
            values.push_back(words[++i]);
        } else if (!repeated.empty() && word.starts_with(flag + "=")) {
            values.push_back(word.substr(flag.size() + 1));
        } else {
            rest.push_back(word);
            if (word.starts_with("--") && word.find('=') == std::string::npos) {
                std::string_view name = std::string_view(word).substr(2);
                for (const OptionSpec& option : options) {
                    if (option.name == name && option.takes_value && i + 1 < words.size()) {
                        rest.push_back(words[++i]);
                    }
                }
            }
        }
    }
    return rest;
}

// What every job command starts with: its options, PROJECT_ID and the ids after it.
struct JobArgs {
    ParsedArgs parsed;
    std::int64_t project = 0;
    std::vector<std::int64_t> ids;  // JOB_ID, RUN_ID: the positionals after PROJECT_ID
    std::vector<std::string> env;   // the --env values, in order
};

// Parses `words`: PROJECT_ID, then `id_names.size()` ids (or, with `names_first`, the first
// positional after PROJECT_ID is a name and not parsed), checking each is a positive integer.
Result<JobArgs> ParseJobArgs(std::span<const std::string> words,
                             std::span<const OptionSpec> options,
                             const CommandHelp& help,
                             std::span<const std::string_view> id_names,
                             bool with_env = false,
                             bool short_follow = false) {
    JobArgs result;
    Result<std::vector<std::string>> rest =
        TakeRepeatedAndShort(words, options, with_env ? "env" : "", short_follow, result.env, help);
    if (!rest) {
        return std::unexpected(std::move(rest).error());
    }
    const std::size_t count = 1 + id_names.size();
    Result<ParsedArgs> parsed = ParseCommandLine(*rest, options, UsageLine(help), count, count);
    if (!parsed) {
        return std::unexpected(std::move(parsed).error());
    }
    Result<std::int64_t> project = ParseId(parsed->positionals[0], "PROJECT_ID", help);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    result.project = *project;
    for (std::size_t i = 0; i < id_names.size(); ++i) {
        Result<std::int64_t> id = ParseId(parsed->positionals[i + 1], id_names[i], help);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        result.ids.push_back(*id);
    }
    result.parsed = std::move(*parsed);
    return result;
}

// ---------------------------------------------------------------------------------------------
// Output

std::string DurationCell(const Json& run) {
    auto it = run.is_object() ? run.find("duration_seconds") : run.end();
    if (!run.is_object() || it == run.end() || !it->is_number()) {
        return "-";
    }
    const double seconds = std::max(0.0, it->get<double>());
    char text[48];
    if (seconds < 60) {
        std::snprintf(text, sizeof text, "%.1fs", seconds);
    } else if (seconds < 3600) {
        const auto whole = static_cast<long long>(seconds);
        std::snprintf(text, sizeof text, "%lldm%02llds", whole / 60, whole % 60);
    } else {
        const auto whole = static_cast<long long>(seconds);
        std::snprintf(text, sizeof text, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
    }
    return text;
}

// How a job is started: "manual", "after job 3" or its cron schedule and time zone.
std::string TriggerText(const Json& job) {
    if (std::string parent = Cell(job, "parent_job_id"); parent != "-") {
        return "after job " + parent;
    }
    if (std::string schedule = Cell(job, "schedule"); schedule != "-") {
        return schedule + " (" + Cell(job, "timezone") + ")";
    }
    return "manual";
}

std::string ResourcesText(const Json& job) {
    std::string text = NumberText(job, "cpu") + " vCPU, " + NumberText(job, "memory") + " GiB";
    if (std::string gpus = Cell(job, "nvidia_gpu"); gpus != "-" && gpus != "0") {
        text += ", " + gpus + " GPU";
    }
    return text;
}

std::string TimeoutText(const Json& job) {
    std::string timeout = Cell(job, "timeout");
    if (timeout == "-" || timeout == "0") {
        return "none";
    }
    std::string text = timeout + " s";
    auto kill = job.find("kill_on_timeout");
    if (kill != job.end() && kill->is_boolean() && !kill->get<bool>()) {
        text += " (not enforced)";
    }
    return text;
}

std::string EnvironmentText(const Json& job) {
    auto env = job.find("environment");
    if (env == job.end() || !env->is_object() || env->empty()) {
        return "-";
    }
    std::string text;
    for (const auto& [name, value] : env->items()) {
        if (!text.empty()) {
            text += ", ";
        }
        text += name + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
    }
    return text;
}

// The server's words for a schedule ("every day at 02:00 Europe/Paris") and its next fire
// time, when it sends them; "-" otherwise.
std::string ScheduleText(const Json& job) {
    std::string text = Cell(job, "schedule_description");
    if (Cell(job, "schedule") == "-" || text == "-") {
        return "-";
    }
    auto next = job.find("next_runs");
    if (next != job.end() && next->is_array() && !next->empty() && (*next)[0].is_string()) {
        text += "; next at " + TimeCell(Json{{"t", (*next)[0]}}, "t");
    }
    return text;
}

void PrintJob(const Json& job) {
    const std::pair<const char*, std::string> fields[] = {
        {"ID:", Cell(job, "id")},
        {"Name:", Cell(job, "name")},
        {"Script:", Cell(job, "script")},
        {"Arguments:", Cell(job, "arguments")},
        {"Kernel:", Cell(job, "kernel")},
        {"Resources:", ResourcesText(job)},
        {"Timeout:", TimeoutText(job)},
        {"Environment:", EnvironmentText(job)},
        {"Runs:", TriggerText(job)},
        {"Schedule:", ScheduleText(job)},
        {"Created by:", Cell(job, "created_by")},
        {"Created:", TimeCell(job, "created_at")},
        {"Updated:", TimeCell(job, "updated_at")},
    };
    PrintFields(fields);
}

void PrintJobTable(const Json& jobs) {
    Table table({"ID", "NAME", "SCRIPT", "KERNEL", "CPU", "MEMORY", "RUNS"});
    for (const Json& job : jobs) {
        table.AddRow({Cell(job, "id"), Cell(job, "name"), Cell(job, "script"), Cell(job, "kernel"),
                      NumberText(job, "cpu"), NumberText(job, "memory") + " GiB",
                      TriggerText(job)});
    }
    table.Print(std::cout);
}

void PrintRunTable(const Json& runs) {
    Table table({"ID", "STATUS", "TRIGGER", "STARTED", "DURATION", "REASON"});
    for (const Json& run : runs) {
        table.AddRow({Cell(run, "id"), Cell(run, "status"), Cell(run, "trigger"),
                      TimeCell(run, "started_at"), DurationCell(run), Cell(run, "reason")});
    }
    table.Print(std::cout);
}

// ---------------------------------------------------------------------------------------------
// Runs: their end, waiting for it, and their logs

bool IsFinalStatus(std::string_view status) {
    return status == "succeeded" || status == "failed" || status == "timedout" ||
           status == "stopped";
}

// "run 7 failed: exit code 3", "run 7 timed out: timed out after 60 s", "run 7 succeeded".
std::string RunEndText(const Json& run) {
    std::string status = Cell(run, "status");
    std::string text =
        "run " + Cell(run, "id") + " " + (status == "timedout" ? "timed out" : status);
    if (std::string reason = Cell(run, "reason"); reason != "-") {
        text += ": " + reason;
    }
    return text;
}

// The exit of `run --wait` / `run --follow`: success only for a succeeded run.
Result<void> ReportRunEnd(const Json& run) {
    if (Cell(run, "status") == "succeeded") {
        std::cerr << "Run " << Cell(run, "id") << " succeeded (" << DurationCell(run) << ").\n";
        return {};
    }
    return Fail(ExitCode::kFailure, RunEndText(run));
}

Result<std::int64_t> RunIdOf(const Json& run) {
    auto id = run.is_object() ? run.find("id") : run.end();
    if (!run.is_object() || id == run.end() || !id->is_number_integer()) {
        return Fail(ExitCode::kFailure, "the server's answer names no run id");
    }
    return id->get<std::int64_t>();
}

enum class LogEnd { kComplete, kInterrupted };

// Writes the run's log from `offset` to stdout as it arrives. Without `follow`, stops at the
// end of what is written so far; with it, polls until the server says the run ended and all
// was read: again at once while data flows, every 200 ms while nothing new comes.
Result<LogEnd> StreamLog(ApiClient& client,
                         const std::string& run_path,
                         bool follow,
                         const InterruptWatch* watch) {
    std::uint64_t offset = 0;
    for (;;) {
        Result<HttpResponse> response =
            client.Send(HttpMethod::kGet,
                        run_path + "/logs" + QueryString({{"offset", std::to_string(offset)}}));
        if (!response) {
            return std::unexpected(std::move(response).error());
        }
        if (response->status < 200 || response->status >= 300) {
            return std::unexpected(ErrorFromResponse(*response));
        }
        const std::string& data = response->body;
        if (!data.empty()) {
            if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() ||
                std::fflush(stdout) != 0) {
                return Fail(ExitCode::kFailure,
                            std::string("cannot write stdout: ") + std::strerror(errno));
            }
        }
        // The server's next offset; a server that leaves it out still moves us past the data.
        offset = std::max(offset + data.size(),
                          HeaderNumber(*response, "x-log-offset", offset + data.size()));
        if (follow) {
            if (response->Header("x-log-complete") == "true") {
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

// Polls the run until it has ended; nullopt when Ctrl-C came first.
Result<std::optional<Json>> WaitForEnd(ApiClient& client,
                                       const std::string& run_path,
                                       const InterruptWatch& watch) {
    auto interval = kIdlePoll;
    for (;;) {
        Result<Json> run = client.Call(HttpMethod::kGet, run_path);
        if (!run) {
            return std::unexpected(std::move(run).error());
        }
        if (IsFinalStatus(Cell(*run, "status"))) {
            return std::optional<Json>(std::move(*run));
        }
        Pause(interval);
        if (watch.interrupted()) {
            return std::optional<Json>();
        }
        interval = std::min(kMaxStatusPoll, interval * 3 / 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

Result<void> Create(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"script", true},   {"arguments", true}, {"kernel", true},  {"cpu", true},
        {"memory", true},   {"gpu", true},       {"timeout", true}, {"schedule", true},
        {"timezone", true}, {"parent", true}};
    std::vector<std::string> env;
    Result<std::vector<std::string>> rest =
        TakeRepeatedAndShort(words, kOptions, "env", false, env, kCreateHelp);
    if (!rest) {
        return std::unexpected(std::move(rest).error());
    }
    Result<ParsedArgs> args = ParseCommandLine(*rest, kOptions, UsageLine(kCreateHelp), 2, 2);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> project = ParseId(args->positionals[0], "PROJECT_ID", kCreateHelp);
    if (!project) {
        return std::unexpected(std::move(project).error());
    }
    std::optional<std::string> script = args->Value("script");
    if (!script) {
        return UsageError("missing --script PATH: the project file the job runs",
                          UsageLine(kCreateHelp));
    }
    Json body = {{"name", args->positionals[1]}, {"script", *script}};
    if (auto arguments = args->Value("arguments")) {
        body["arguments"] = *arguments;
    }
    if (auto kernel = args->Value("kernel")) {
        if (*kernel != "python3" && *kernel != "r" && *kernel != "bash") {
            return UsageError("--kernel must be python3, r or bash, not '" + *kernel + "'",
                              UsageLine(kCreateHelp));
        }
        body["kernel"] = *kernel;
    }
    for (const auto& [option, field] : {std::pair{"cpu", "cpu"}, std::pair{"memory", "memory"}}) {
        if (auto text = args->Value(option)) {
            Result<double> value =
                ParsePositiveNumber(*text, "--" + std::string(option), kCreateHelp);
            if (!value) {
                return std::unexpected(std::move(value).error());
            }
            body[field] = *value;
        }
    }
    for (const auto& [option, field] :
         {std::pair{"gpu", "nvidia_gpu"}, std::pair{"timeout", "timeout"}}) {
        if (auto text = args->Value(option)) {
            Result<std::int64_t> value =
                ParseInteger(*text, "--" + std::string(option), 0, INT32_MAX);
            if (!value) {
                return UsageError(value.error().message, UsageLine(kCreateHelp));
            }
            body[field] = *value;
        }
    }
    if (!env.empty()) {
        Result<Json> environment = ParseEnvironment(env, kCreateHelp);
        if (!environment) {
            return std::unexpected(std::move(environment).error());
        }
        body["environment"] = std::move(*environment);
    }
    if (auto schedule = args->Value("schedule")) {
        body["schedule"] = *schedule;
    }
    if (auto timezone = args->Value("timezone")) {
        body["timezone"] = *timezone;
    }
    if (auto parent = args->Value("parent")) {
        Result<std::int64_t> id = ParseId(*parent, "--parent", kCreateHelp);
        if (!id) {
            return std::unexpected(std::move(id).error());
        }
        body["parent_job_id"] = *id;
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> job = connection->client().Call(HttpMethod::kPost, JobsPath(*project), &body);
    if (!job) {
        return std::unexpected(std::move(job).error());
    }
    if (invocation.global.json) {
        PrintJson(*job);
    } else {
        std::cout << "Created job " << Cell(*job, "id") << " (" << Cell(*job, "name") << ", "
                  << Cell(*job, "kernel") << " " << Cell(*job, "script") << ", "
                  << TriggerText(*job) << ").\n";
    }
    return {};
}

// `list` and `runs`: one page, or all of them with --all.
Result<void> ListCommand(const Invocation& invocation,
                         std::span<const std::string> words,
                         const CommandHelp& help,
                         bool runs) {
    static constexpr OptionSpec kOptions[] = {{"all", false}};
    static constexpr std::string_view kJobId[] = {"JOB_ID"};
    Result<JobArgs> args = ParseJobArgs(
        words, kOptions, help,
        runs ? std::span<const std::string_view>(kJobId) : std::span<const std::string_view>());
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool all = args->parsed.Has("all");
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    const std::string path =
        runs ? JobPath(args->project, args->ids[0]) + "/runs" : JobsPath(args->project);
    const char* key = runs ? "runs" : "jobs";
    // Fetching everything in big pages means fewer round trips.
    Result<ListPage> page =
        FetchList(connection->client(), path, key, {{"page_size", all ? "1000" : ""}}, all);
    if (!page) {
        return std::unexpected(std::move(page).error());
    }
    if (invocation.global.json) {
        PrintJson({{key, page->items}, {"next_page_token", page->next_page_token}});
        return {};
    }
    if (page->items.empty()) {
        std::cout << (runs ? "No runs.\n" : "No jobs.\n");
        return {};
    }
    if (runs) {
        PrintRunTable(page->items);
    } else {
        PrintJobTable(page->items);
    }
    if (!page->next_page_token.empty()) {
        std::cerr << "(more " << key << " exist: use --all to list them all)\n";
    }
    return {};
}

Result<void> List(const Invocation& invocation, std::span<const std::string> words) {
    return ListCommand(invocation, words, kListHelp, /*runs=*/false);
}

Result<void> Runs(const Invocation& invocation, std::span<const std::string> words) {
    return ListCommand(invocation, words, kRunsHelp, /*runs=*/true);
}

Result<void> Show(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr std::string_view kIds[] = {"JOB_ID"};
    Result<JobArgs> args = ParseJobArgs(words, {}, kShowHelp, kIds);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> job =
        connection->client().Call(HttpMethod::kGet, JobPath(args->project, args->ids[0]));
    if (!job) {
        return std::unexpected(std::move(job).error());
    }
    if (invocation.global.json) {
        PrintJson(*job);
    } else {
        PrintJob(*job);
    }
    return {};
}

Result<void> Delete(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"yes", false}};
    static constexpr std::string_view kIds[] = {"JOB_ID"};
    Result<JobArgs> args = ParseJobArgs(words, kOptions, kDeleteHelp, kIds);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const std::int64_t id = args->ids[0];
    const bool confirmed = args->parsed.Has("yes");
    if (!confirmed && !StdinIsTerminal()) {
        return UsageError(
            "refusing to delete job " + std::to_string(id) + " without confirmation: pass --yes",
            UsageLine(kDeleteHelp));
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    const std::string path = JobPath(args->project, id);
    if (!confirmed) {
        // Naming the job in the question is what catches a mistyped id.
        Result<Json> job = client.Call(HttpMethod::kGet, path);
        if (!job) {
            return std::unexpected(std::move(job).error());
        }
        if (!Confirm("Delete job " + std::to_string(id) + " (" + Cell(*job, "name") + ")?")) {
            return Fail(ExitCode::kFailure,
                        "not confirmed; job " + std::to_string(id) + " was not deleted");
        }
    }
    Result<Json> deleted = client.Call(HttpMethod::kDelete, path);
    if (!deleted) {
        return std::unexpected(std::move(deleted).error());
    }
    if (!invocation.global.json) {
        std::cout << "Deleted job " << id << ".\n";
    }
    return {};
}

Result<void> Run(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {
        {"arguments", true}, {"wait", false}, {"follow", false}};
    static constexpr std::string_view kIds[] = {"JOB_ID"};
    Result<JobArgs> args = ParseJobArgs(words, kOptions, kRunHelp, kIds, /*with_env=*/true);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool follow = args->parsed.Has("follow");
    const bool wait = args->parsed.Has("wait") || follow;
    if (follow && invocation.global.json) {
        return UsageError(
            "--follow prints the log as text and does not go with --json; use "
            "--wait --json for the ended run",
            UsageLine(kRunHelp));
    }
    Json body = Json::object();
    if (auto arguments = args->parsed.Value("arguments")) {
        body["arguments"] = *arguments;
    }
    if (!args->env.empty()) {
        Result<Json> environment = ParseEnvironment(args->env, kRunHelp);
        if (!environment) {
            return std::unexpected(std::move(environment).error());
        }
        body["environment"] = std::move(*environment);
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    const std::int64_t job_id = args->ids[0];
    Result<Json> run =
        client.Call(HttpMethod::kPost, JobPath(args->project, job_id) + "/runs", &body);
    if (!run) {
        return std::unexpected(std::move(run).error());
    }
    Result<std::int64_t> run_id = RunIdOf(*run);
    if (!run_id) {
        return std::unexpected(std::move(run_id).error());
    }
    const std::string started =
        "Started run " + std::to_string(*run_id) + " of job " + std::to_string(job_id) + ".\n";
    if (!wait) {
        if (invocation.global.json) {
            PrintJson(*run);
        } else {
            std::cout << *run_id << '\n';
            std::cerr << started;
        }
        return {};
    }

    const std::string path = RunPath(args->project, job_id, *run_id);
    InterruptWatch watch;
    if (follow) {
        std::cerr << started << std::flush;
    } else if (!invocation.global.json) {
        std::cout << *run_id << '\n' << std::flush;
    }
    bool interrupted = false;
    if (follow) {
        Result<LogEnd> end = StreamLog(client, path, /*follow=*/true, &watch);
        if (!end) {
            return std::unexpected(std::move(end).error());
        }
        interrupted = *end == LogEnd::kInterrupted;
    }
    std::optional<Json> ended;
    if (!interrupted) {
        Result<std::optional<Json>> waited = WaitForEnd(client, path, watch);
        if (!waited) {
            return std::unexpected(std::move(waited).error());
        }
        ended = std::move(*waited);
    }
    if (!ended) {
        std::cerr << "\nStopped " << (follow ? "following" : "waiting for") << " run " << *run_id
                  << "; it goes on (`lathe job stop " << args->project << " " << job_id << " "
                  << *run_id << "` stops it).\n";
        DieOfInterrupt();
    }
    if (invocation.global.json) {
        PrintJson(*ended);
    }
    return ReportRunEnd(*ended);
}

Result<void> Stop(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr std::string_view kIds[] = {"JOB_ID", "RUN_ID"};
    Result<JobArgs> args = ParseJobArgs(words, {}, kStopHelp, kIds);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<Json> run = connection->client().Call(
        HttpMethod::kPost, RunPath(args->project, args->ids[0], args->ids[1]) + ":stop");
    if (!run) {
        return std::unexpected(std::move(run).error());
    }
    if (invocation.global.json) {
        PrintJson(*run);
    } else if (IsFinalStatus(Cell(*run, "status"))) {
        std::cout << "Stopped run " << args->ids[1] << ".\n";
    } else {
        std::cout << "Stopping run " << args->ids[1] << ".\n";
    }
    return {};
}

Result<void> Logs(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"follow", false}};
    static constexpr std::string_view kIds[] = {"JOB_ID", "RUN_ID"};
    Result<JobArgs> args =
        ParseJobArgs(words, kOptions, kLogsHelp, kIds, /*with_env=*/false, /*short_follow=*/true);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    const bool follow = args->parsed.Has("follow");
    if (follow && invocation.global.json) {
        return UsageError("--follow prints the log as text and does not go with --json",
                          UsageLine(kLogsHelp));
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    ApiClient& client = connection->client();
    const std::string path = RunPath(args->project, args->ids[0], args->ids[1]);
    if (invocation.global.json) {
        // The log so far as one JSON document: {"run_id", "log", "size", "complete"}.
        std::string log;
        std::uint64_t size = 0;
        bool complete = false;
        for (;;) {
            Result<HttpResponse> response =
                client.Send(HttpMethod::kGet,
                            path + "/logs" + QueryString({{"offset", std::to_string(log.size())}}));
            if (!response) {
                return std::unexpected(std::move(response).error());
            }
            if (response->status < 200 || response->status >= 300) {
                return std::unexpected(ErrorFromResponse(*response));
            }
            log += response->body;
            size = HeaderNumber(*response, "x-log-size", log.size());
            complete = response->Header("x-log-complete") == "true";
            if (response->body.empty() || log.size() >= size) {
                break;
            }
        }
        PrintJson({{"run_id", args->ids[1]},
                   {"log", log},
                   {"size", std::max<std::uint64_t>(size, log.size())},
                   {"complete", complete}});
        return {};
    }
    if (!follow) {
        Result<LogEnd> end = StreamLog(client, path, /*follow=*/false, nullptr);
        if (!end) {
            return std::unexpected(std::move(end).error());
        }
        return {};
    }
    InterruptWatch watch;
    Result<LogEnd> end = StreamLog(client, path, /*follow=*/true, &watch);
    if (!end) {
        return std::unexpected(std::move(end).error());
    }
    if (*end == LogEnd::kInterrupted) {
        DieOfInterrupt();
    }
    return {};
}

}  // namespace

Result<void> RunJob(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {
        {"create", &kCreateHelp, Create}, {"list", &kListHelp, List},
        {"ls", &kListHelp, List},         {"show", &kShowHelp, Show},
        {"delete", &kDeleteHelp, Delete}, {"rm", &kDeleteHelp, Delete},
        {"run", &kRunHelp, Run},          {"stop", &kStopHelp, Stop},
        {"runs", &kRunsHelp, Runs},       {"logs", &kLogsHelp, Logs}};
    return RunAction(invocation, "job", kJobHelp, kActions);
}

}  // namespace lathe::cli
