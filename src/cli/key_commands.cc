// `lathe key ...`: creating, listing and revoking the caller's API keys.
#include <iostream>
#include <span>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kKeyHelp = {
    "lathe key create|list|revoke ...",
    "Commands:\n"
    "  create [--name N] [--expires-in-days D]   create a key (shown once)\n"
    "  list                                      list your keys\n"
    "  revoke ID                                 revoke a key\n"};

constexpr CommandHelp kCreateHelp = {
    "lathe key create [--name N] [--expires-in-days D]",
    "Creates an API key for you and prints it on stdout; it cannot be shown again.\n"
    "Use it as `Authorization: Bearer KEY`, or as LATHE_API_KEY for this CLI.\n"
    "\n"
    "  --name N              a name to recognise the key by\n"
    "  --expires-in-days D   make the key stop working after D days\n"};

constexpr CommandHelp kListHelp = {"lathe key list", "Lists your API keys (never the keys).\n"};

constexpr CommandHelp kRevokeHelp = {"lathe key revoke ID",
                                     "Revokes one of your API keys; it stops working at once.\n"};

std::string KeysPath(const std::string& username) {
    return "/api/v2/users/" + PercentEncode(username) + "/keys";
}

Result<void> Create(const Invocation& invocation, std::span<const std::string> words) {
    static constexpr OptionSpec kOptions[] = {{"name", true}, {"expires-in-days", true}};
    Result<ParsedArgs> args = ParseCommandLine(words, kOptions, UsageLine(kCreateHelp), 0, 0);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Json body = Json::object();
    if (auto name = args->Value("name")) {
        body["name"] = *name;
    }
    if (auto days = args->Value("expires-in-days")) {
        Result<std::int64_t> count = ParseInteger(*days, "--expires-in-days", 1, 3650);
        if (!count) {
            return UsageError(count.error().message, UsageLine(kCreateHelp));
        }
        body["expires_in_days"] = *count;
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<std::string> username = connection->Username();
    if (!username) {
        return std::unexpected(std::move(username).error());
    }
    Result<Json> key = connection->client().Call(HttpMethod::kPost, KeysPath(*username), &body);
    if (!key) {
        return std::unexpected(std::move(key).error());
    }
    if (invocation.global.json) {
        PrintJson(*key);
        return {};
    }
    // The key alone on stdout, so `KEY=$(lathe key create)` works; the rest is for the reader.
    std::cerr << "Created API key " << Cell(*key, "id") << " (" << Cell(*key, "name") << ")";
    if (std::string expires = TimeCell(*key, "expires_at"); expires != "-") {
        std::cerr << ", expiring " << expires;
    }
    std::cerr << ":\n" << std::flush;
    std::cout << Cell(*key, "key") << '\n' << std::flush;
    std::cerr << "Store it now: it will not be shown again.\n";
    return {};
}

Result<void> List(const Invocation& invocation, std::span<const std::string> words) {
    Result<ParsedArgs> args = ParseCommandLine(words, {}, UsageLine(kListHelp), 0, 0);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<std::string> username = connection->Username();
    if (!username) {
        return std::unexpected(std::move(username).error());
    }
    Result<ListPage> keys = FetchList(connection->client(), KeysPath(*username), "keys",
                                      {{"page_size", "1000"}}, /*all_pages=*/true);
    if (!keys) {
        return std::unexpected(std::move(keys).error());
    }
    if (invocation.global.json) {
        PrintJson({{"keys", keys->items}, {"next_page_token", ""}});
        return {};
    }
    if (keys->items.empty()) {
        std::cout << "No API keys.\n";
        return {};
    }
    Table table({"ID", "NAME", "PREFIX", "CREATED", "EXPIRES", "LAST USED"});
    for (const Json& key : keys->items) {
        table.AddRow({Cell(key, "id"), Cell(key, "name"), Cell(key, "prefix"),
                      TimeCell(key, "created_at"), TimeCell(key, "expires_at"),
                      TimeCell(key, "last_used_at")});
    }
    table.Print(std::cout);
    return {};
}

Result<void> Revoke(const Invocation& invocation, std::span<const std::string> words) {
    Result<ParsedArgs> args = ParseCommandLine(words, {}, UsageLine(kRevokeHelp), 1, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::int64_t> id = ParseId(args->positionals[0], "key ID", kRevokeHelp);
    if (!id) {
        return std::unexpected(std::move(id).error());
    }
    Result<Connection> connection = Connect(invocation.global);
    if (!connection) {
        return std::unexpected(std::move(connection).error());
    }
    Result<std::string> username = connection->Username();
    if (!username) {
        return std::unexpected(std::move(username).error());
    }
    Result<Json> revoked = connection->client().Call(
        HttpMethod::kDelete, KeysPath(*username) + "/" + std::to_string(*id));
    if (!revoked) {
        return std::unexpected(std::move(revoked).error());
    }
    if (!invocation.global.json) {
        std::cout << "Revoked API key " << *id << ".\n";
    }
    return {};
}

}  // namespace

Result<void> RunKey(const Invocation& invocation) {
    static constexpr CommandAction kActions[] = {{"create", &kCreateHelp, Create},
                                                 {"list", &kListHelp, List},
                                                 {"ls", &kListHelp, List},
                                                 {"revoke", &kRevokeHelp, Revoke},
                                                 {"delete", &kRevokeHelp, Revoke}};
    return RunAction(invocation, "key", kKeyHelp, kActions);
}

}  // namespace lathe::cli
