// How a command finds its server and API key: flags, then environment, then the stored login.
#include "cli/connection.h"

#include <cstdlib>
#include <utility>

#include "cli/config.h"

namespace lathe::cli {
namespace {

std::string EnvOrEmpty(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

Connection::Connection(std::unique_ptr<ApiClient> client, std::string username)
    : client_(std::move(client)), username_(std::move(username)) {}

Result<std::string> Connection::Username() {
    if (!username_.empty()) {
        return username_;
    }
    Result<Json> session = client_->Call(HttpMethod::kGet, "/api/v2/auth/session");
    if (!session) {
        return std::unexpected(std::move(session).error());
    }
    const Json& answer = *session;
    if (!answer.is_object() || !answer.contains("user") || !answer["user"].is_object() ||
        !answer["user"].contains("username") || !answer["user"]["username"].is_string()) {
        return Fail(ExitCode::kFailure, "the server's session answer names no user");
    }
    username_ = answer["user"]["username"].get<std::string>();
    return username_;
}

Result<std::string> UrlOverride(const GlobalOptions& global) {
    if (global.url) {
        return NormalizeServerUrl(*global.url);
    }
    if (std::string env = EnvOrEmpty("LATHE_URL"); !env.empty()) {
        Result<std::string> url = NormalizeServerUrl(env);
        if (!url) {
            return UsageError("$LATHE_URL: " + url.error().message);
        }
        return url;
    }
    return std::string();
}

Result<Connection> Connect(const GlobalOptions& global) {
    Result<std::string> url = UrlOverride(global);
    if (!url) {
        return std::unexpected(std::move(url).error());
    }
    std::string api_key = EnvOrEmpty("LATHE_API_KEY");
    std::string username;

    Result<std::optional<StoredLogin>> stored = LoadLogin();
    if (!stored) {
        return std::unexpected(std::move(stored).error());
    }
    if (api_key.empty()) {
        if (!stored->has_value()) {
            return Fail(ExitCode::kUnauthenticated, "not logged in",
                        "run `lathe login URL` first, or set LATHE_URL and LATHE_API_KEY");
        }
        const StoredLogin& login = **stored;
        Result<std::string> stored_url = NormalizeServerUrl(login.url);
        if (!stored_url || login.api_key.empty()) {
            return Fail(ExitCode::kUnauthenticated,
                        "the stored login in " + ConfigFilePath().string() + " is incomplete",
                        "run `lathe login URL` again");
        }
        if (!url->empty() && *url != *stored_url) {
            return Fail(ExitCode::kUnauthenticated, "not logged in to " + *url,
                        "run `lathe login " + *url + "` first, or set LATHE_API_KEY");
        }
        *url = *stored_url;
        api_key = login.api_key;
        username = login.username;
    } else if (url->empty()) {
        if (!stored->has_value()) {
            return UsageError("LATHE_API_KEY is set but no server is: set LATHE_URL or pass --url");
        }
        Result<std::string> stored_url = NormalizeServerUrl((*stored)->url);
        if (!stored_url) {
            return std::unexpected(std::move(stored_url).error());
        }
        *url = *stored_url;
    }

    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(*url);
    if (!client) {
        return std::unexpected(std::move(client).error());
    }
    (*client)->SetApiKey(api_key);
    return Connection(std::move(*client), std::move(username));
}

}  // namespace lathe::cli
