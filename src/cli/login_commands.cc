// `lathe login` and `lathe logout`: turning a password into a stored API key and revoking it.
#include <unistd.h>

#include <iostream>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/output.h"
#include "cli/terminal.h"

namespace lathe::cli {
namespace {

constexpr CommandHelp kLoginHelp = {
    "lathe login URL [--username U] [--password-stdin | --api-key-stdin]",
    "Signs in to the Lathe server at URL and stores an API key for the other commands in\n"
    "$LATHE_CONFIG_DIR/config.json (else $XDG_CONFIG_HOME/lathe, else ~/.config/lathe), readable\n"
    "only by you. The password is used once, to create a key named cli@<hostname>.\n"
    "\n"
    "  --username U       the user to sign in as (asked on the terminal if missing)\n"
    "  --password-stdin   read the password from stdin instead of asking for it\n"
    "  --api-key-stdin    store an existing API key read from stdin instead of a password\n"};

constexpr CommandHelp kLogoutHelp = {
    "lathe logout", "Revokes the stored API key on the server and deletes the stored login.\n"};

std::string HostName() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
        return "localhost";
    }
    return name;
}

// The member `field`, or null: server answers are read without trusting their shape.
const Json& Member(const Json& object, std::string_view field) {
    static const Json kNull;
    if (!object.is_object()) {
        return kNull;
    }
    auto it = object.find(field);
    return it != object.end() ? *it : kNull;
}

std::string StringField(const Json& object, std::string_view field) {
    if (!object.is_object()) {
        return {};
    }
    auto it = object.find(field);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "a=1; b=2" from the Set-Cookie headers: the session cookie, whatever the server names it.
std::string CookiesFrom(const HttpResponse& response) {
    std::string cookies;
    for (const auto& [name, value] : response.headers) {
        if (name != "set-cookie") {
            continue;
        }
        std::string pair = value.substr(0, value.find(';'));
        if (pair.find('=') == std::string::npos) {
            continue;
        }
        if (!cookies.empty()) {
            cookies += "; ";
        }
        cookies += pair;
    }
    return cookies;
}

void PrintLoggedIn(const Invocation& invocation, const StoredLogin& login) {
    if (invocation.global.json) {
        PrintJson({{"url", login.url}, {"username", login.username}});
        return;
    }
    std::cout << "Logged in to " << login.url << " as " << login.username << ".\n";
}

Result<void> LoginWithApiKey(const Invocation& invocation,
                             ApiClient& client,
                             const std::optional<std::string>& username) {
    Result<std::string> key = ReadSecretFromStdin("API key");
    if (!key) {
        return std::unexpected(std::move(key).error());
    }
    client.SetApiKey(*key);
    Result<Json> session = client.Call(HttpMethod::kGet, "/api/v2/auth/session");
    if (!session) {
        return std::unexpected(std::move(session).error());
    }
    std::string owner = StringField(Member(*session, "user"), "username");
    if (owner.empty()) {
        return Fail(ExitCode::kFailure, "the server's session answer names no user");
    }
    if (username && *username != owner) {
        return Fail(ExitCode::kFailure,
                    "the API key belongs to " + owner + ", not to " + *username);
    }
    StoredLogin login{client.base_url(), owner, *key};
    LATHE_CLI_RETURN_IF_ERROR(SaveLogin(login));
    PrintLoggedIn(invocation, login);
    return {};
}

Result<void> LoginWithPassword(const Invocation& invocation,
                               ApiClient& client,
                               std::string username,
                               bool password_from_stdin) {
    Result<std::string> password = password_from_stdin ? ReadSecretFromStdin("password")
                                                       : PromptOnTerminal("Password: ", true);
    if (!password) {
        return std::unexpected(std::move(password).error());
    }
    Json credentials = {{"username", username}, {"password", *password}};
    Result<HttpResponse> answer =
        client.Send(HttpMethod::kPost, "/api/v2/auth/login", &credentials);
    if (!answer) {
        return std::unexpected(std::move(answer).error());
    }
    if (answer->status < 200 || answer->status >= 300) {
        return std::unexpected(ErrorFromResponse(*answer));
    }
    Json body = Json::parse(answer->body, nullptr, false);
    std::string csrf_token = StringField(body, "csrf_token");
    std::string cookies = CookiesFrom(*answer);
    if (csrf_token.empty() || cookies.empty()) {
        return Fail(ExitCode::kFailure,
                    "the server's login answer has no session cookie or CSRF token");
    }
    // The server spells the name canonically (e.g. lower case); store it as it does.
    if (std::string canonical = StringField(Member(body, "user"), "username"); !canonical.empty()) {
        username = canonical;
    }
    client.SetSession(cookies, csrf_token);

    Json key_request = {{"name", "cli@" + HostName()}};
    Result<Json> key = client.Call(
        HttpMethod::kPost, "/api/v2/users/" + PercentEncode(username) + "/keys", &key_request);
    // The session was only a means to the key: end it whether or not the key was made.
    Result<HttpResponse> logout = client.Send(HttpMethod::kPost, "/api/v2/auth/logout");
    if (!key) {
        return std::unexpected(std::move(key).error());
    }
    if (!logout || logout->status >= 300) {
        std::cerr << "warning: could not end the login session; it expires on its own\n";
    }
    std::string api_key = StringField(*key, "key");
    if (api_key.empty()) {
        return Fail(ExitCode::kFailure, "the server's answer to creating a key has no \"key\"");
    }
    StoredLogin login{client.base_url(), username, api_key};
    LATHE_CLI_RETURN_IF_ERROR(SaveLogin(login));
    PrintLoggedIn(invocation, login);
    return {};
}

}  // namespace

Result<void> RunLogin(const Invocation& invocation) {
    if (invocation.global.help) {
        PrintHelp(kLoginHelp);
        return {};
    }
    static constexpr OptionSpec kOptions[] = {
        {"username", true}, {"password-stdin", false}, {"api-key-stdin", false}};
    Result<ParsedArgs> args =
        ParseCommandLine(invocation.args, kOptions, UsageLine(kLoginHelp), 0, 1);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    std::string url;
    if (!args->positionals.empty()) {
        Result<std::string> given = NormalizeServerUrl(args->positionals[0]);
        if (!given) {
            return UsageError(given.error().message, UsageLine(kLoginHelp));
        }
        url = *given;
    } else {
        Result<std::string> given = UrlOverride(invocation.global);
        if (!given) {
            return std::unexpected(std::move(given).error());
        }
        url = *given;
    }
    if (url.empty()) {
        return UsageError("missing the server URL", UsageLine(kLoginHelp));
    }
    const bool password_stdin = args->Has("password-stdin");
    const bool key_stdin = args->Has("api-key-stdin");
    if (password_stdin && key_stdin) {
        return UsageError("--password-stdin and --api-key-stdin cannot be used together",
                          UsageLine(kLoginHelp));
    }
    std::optional<std::string> username = args->Value("username");
    if (username && username->empty()) {
        return UsageError("--username must not be empty", UsageLine(kLoginHelp));
    }

    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(url);
    if (!client) {
        return std::unexpected(std::move(client).error());
    }
    if (key_stdin) {
        return LoginWithApiKey(invocation, **client, username);
    }
    if (!username) {
        // stdin holds the password then, and a script must not hang on a terminal prompt.
        if (password_stdin) {
            return UsageError("--password-stdin needs --username", UsageLine(kLoginHelp));
        }
        Result<std::string> typed = PromptOnTerminal("Username: ", false);
        if (!typed) {
            return std::unexpected(std::move(typed).error());
        }
        if (typed->empty()) {
            return UsageError("no username given", UsageLine(kLoginHelp));
        }
        username = *typed;
    }
    return LoginWithPassword(invocation, **client, *username, password_stdin);
}

Result<void> RunLogout(const Invocation& invocation) {
    if (invocation.global.help) {
        PrintHelp(kLogoutHelp);
        return {};
    }
    Result<ParsedArgs> args = ParseCommandLine(invocation.args, {}, UsageLine(kLogoutHelp), 0, 0);
    if (!args) {
        return std::unexpected(std::move(args).error());
    }
    Result<std::optional<StoredLogin>> stored = LoadLogin();
    if (!stored) {
        return std::unexpected(std::move(stored).error());
    }
    if (!stored->has_value()) {
        return Fail(ExitCode::kUnauthenticated,
                    "not logged in (no " + ConfigFilePath().string() + ")");
    }
    const StoredLogin& login = **stored;
    Result<std::string> url = NormalizeServerUrl(login.url);
    if (!url || login.api_key.empty() || login.username.empty()) {
        // Nothing usable to revoke; forgetting it is all logout can do.
        LATHE_CLI_RETURN_IF_ERROR(RemoveLogin());
        std::cout << "Removed an incomplete stored login.\n";
        return {};
    }
    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(*url);
    if (!client) {
        return std::unexpected(std::move(client).error());
    }
    (*client)->SetApiKey(login.api_key);

    const std::string keys_path = "/api/v2/users/" + PercentEncode(login.username) + "/keys";
    Result<ListPage> keys = FetchList(**client, keys_path, "keys", {{"page_size", "1000"}}, true);
    bool revoked = false;
    if (!keys) {
        // A key the server no longer accepts needs no revoking; anything else (the server is
        // down) must not leave a live key behind that the user believes is gone.
        if (keys.error().exit_code != ExitCode::kUnauthenticated) {
            CliError error = std::move(keys).error();
            error.hint = "the stored key was not revoked and is kept; try again later, or delete " +
                         ConfigFilePath().string() + " to forget it anyway";
            return std::unexpected(std::move(error));
        }
    } else {
        // The longest matching prefix wins, should one key's prefix be a prefix of another's.
        const Json* match = nullptr;
        std::size_t match_length = 0;
        for (const Json& key : keys->items) {
            std::string prefix = StringField(key, "prefix");
            if (!prefix.empty() && login.api_key.starts_with(prefix) &&
                prefix.size() > match_length) {
                match = &key;
                match_length = prefix.size();
            }
        }
        if (match != nullptr && match->contains("id")) {
            const Json& id_value = match->at("id");
            std::string id = id_value.is_string() ? id_value.get<std::string>() : id_value.dump();
            Result<Json> deleted =
                (*client)->Call(HttpMethod::kDelete, keys_path + "/" + PercentEncode(id));
            if (!deleted && deleted.error().exit_code != ExitCode::kUnauthenticated &&
                deleted.error().exit_code != ExitCode::kNotFound) {
                CliError error = std::move(deleted).error();
                error.hint = "the stored key was not revoked and is kept; try again later";
                return std::unexpected(std::move(error));
            }
            revoked = static_cast<bool>(deleted);
        }
    }
    LATHE_CLI_RETURN_IF_ERROR(RemoveLogin());
    std::cout << "Logged out of " << *url << (revoked ? " (API key revoked)" : "") << ".\n";
    return {};
}

}  // namespace lathe::cli
