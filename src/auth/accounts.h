// Users, browser sessions and API keys: creating them, checking credentials, revoking.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/principal.h"
#include "auth/rate_limiter.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::auth {

struct User {
    std::int64_t id = 0;
    std::string username;
    std::string display_name;
    std::string email;
    bool is_admin = false;
    bool disabled = false;
    std::int64_t created_at = 0;
};

struct NewUser {
    std::string username;
    std::string password;
    std::string display_name;
    std::string email;
    bool is_admin = false;
};

struct UserUpdate {
    std::optional<std::string> display_name;
    std::optional<std::string> email;
    std::optional<std::string> password;
    std::optional<std::string> current_password;  // required when a user changes their own
    std::optional<bool> is_admin;
    std::optional<bool> disabled;
};

struct LoginResult {
    User user;
    std::string session_token;  // goes into the cookie, never stored
    std::string csrf_token;
    std::int64_t expires_at = 0;
};

struct ApiKeyInfo {
    std::int64_t id = 0;
    std::string username;
    std::string name;
    std::string prefix;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> expires_at;
    std::optional<std::int64_t> last_used_at;
    std::optional<std::int64_t> model_id;  // a model API key: it only calls this model
};

struct AccountsOptions {
    int session_ttl_hours = 12;
    int login_rate_per_user = 10;
    int login_rate_per_address = 30;
};

// Usernames and team names: 1-64 of [a-z0-9_.-], starting with a letter or digit.
Status ValidateAccountName(std::string_view name, std::string_view what);

class Accounts {
public:
    Accounts(store::Store& store, const Clock& clock, AccountsOptions options);

    // First start: creates the site admin when there are no users. Returns nullopt when users
    // already existed; else the generated password, or "" when `password` was given.
    Result<std::optional<std::string>> EnsureInitialAdmin(const std::string& username,
                                                          const std::string& password);

    Result<User> CreateUser(const NewUser& user);
    Result<User> GetUser(std::string_view username);
    static const store::ListSpec& UserListSpec();
    Result<std::pair<std::vector<User>, std::string>> ListUsers(const store::ListQuery& query);
    Result<User> UpdateUser(const Principal& caller, std::string_view username,
                            const UserUpdate& update);

    Result<LoginResult> Login(std::string_view username, std::string_view password,
                              const std::string& address);
    Status Logout(std::int64_t session_id);
    // Resolves a session cookie; kUnauthenticated when unknown, expired or the user is disabled.
    Result<Principal> AuthenticateSession(std::string_view token);
    Result<Principal> AuthenticateApiKey(std::string_view key);

    // Returns the listed info and the secret key (shown once).
    // With a model_id, a model API key: it calls that model (while its user may) and nothing
    // else.
    Result<std::pair<ApiKeyInfo, std::string>> CreateApiKey(
        std::int64_t user_id, std::string name, std::optional<int> expires_in_days,
        std::optional<std::int64_t> model_id = std::nullopt);
    Result<std::vector<ApiKeyInfo>> ListApiKeys(std::optional<std::int64_t> user_id,
                                                std::optional<std::int64_t> model_id = std::nullopt);
    Status RevokeApiKey(std::int64_t user_id, std::int64_t key_id);
    // Revokes every live key whose name matches a LIKE pattern (e.g. "workload %").
    Status RevokeKeysNamed(const std::string& pattern);

private:
    Result<User> UserByName(store::Tx& tx, std::string_view username);
    Status InsertApiKey(std::int64_t user_id, const std::string& name, const std::string& secret,
                        ApiKeyInfo& info);

    store::Store& store_;
    const Clock& clock_;
    AccountsOptions options_;
    RateLimiter user_limiter_;
    RateLimiter address_limiter_;
    std::mutex mu_;  // guards key_last_written_
    // When each key's last_used_at was last written: it is refreshed at most once a minute so
    // that authenticated reads don't turn into writes.
    std::unordered_map<std::int64_t, std::int64_t> key_last_written_;
};

}  // namespace lathe::auth
