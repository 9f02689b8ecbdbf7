// Users, sessions and API keys over the Store.
#include "auth/accounts.h"

#include "auth/password.h"
#include "core/crypto.h"
#include "core/log.h"

#include <sodium.h>

namespace lathe::auth {
namespace {

constexpr std::string_view kKeyPrefix = "lathe_";
constexpr std::string_view kUserColumns =
    "id, username, display_name, email, is_admin, disabled, created_at";

User UserFromRow(const store::Row& r) {
    return User{r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Bool(4), r.Bool(5), r.Int(6)};
}

Status ValidateDisplay(std::string_view value, std::string_view what, std::size_t max) {
    if (value.size() > max) {
        return MakeError(ErrorCode::kBadRequest,
                         std::string(what) + " must be at most " + std::to_string(max) + " bytes");
    }
    for (unsigned char c : value) {
        if (c < 0x20) {
            return MakeError(ErrorCode::kBadRequest,
                             std::string(what) + " must not contain control characters");
        }
    }
    return {};
}

Status ValidateEmail(std::string_view email) {
    RETURN_IF_ERROR(ValidateDisplay(email, "email", 254));
    if (!email.empty() && (email.find('@') == std::string_view::npos || email.front() == '@' ||
                           email.back() == '@')) {
        return MakeError(ErrorCode::kBadRequest, "email '" + std::string(email) +
                                                     "' is not an email address");
    }
    return {};
}

}  // namespace

Status ValidateAccountName(std::string_view name, std::string_view what) {
    auto bad = [&] {
        return MakeError(ErrorCode::kBadRequest,
                         std::string(what) +
                             " must be 1-64 characters of a-z, 0-9, '_', '.', '-', starting with "
                             "a letter or digit");
    };
    if (name.empty() || name.size() > 64) {
        return bad();
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
            return bad();
        }
    }
    return {};
}

Accounts::Accounts(store::Store& store, const Clock& clock, AccountsOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      user_limiter_(clock, options.login_rate_per_user),
      address_limiter_(clock, options.login_rate_per_address) {}

Result<std::optional<std::string>> Accounts::EnsureInitialAdmin(const std::string& username,
                                                                const std::string& password) {
    bool any = false;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT 1 FROM users LIMIT 1"));
        any = row.has_value();
        return {};
    }));
    if (any) {
        return std::optional<std::string>();
    }
    std::string generated = password.empty() ? RandomToken(15) : "";
    NewUser admin{username, password.empty() ? generated : password, "Site admin", "", true};
    RETURN_IF_ERROR(CreateUser(admin));
    return std::optional<std::string>(generated);
}

Result<User> Accounts::CreateUser(const NewUser& nu) {
    RETURN_IF_ERROR(ValidateAccountName(nu.username, "username"));
    RETURN_IF_ERROR(ValidatePassword(nu.password));
    RETURN_IF_ERROR(ValidateDisplay(nu.display_name, "display_name", 200));
    RETURN_IF_ERROR(ValidateEmail(nu.email));
    ASSIGN_OR_RETURN(std::string hash, HashPassword(nu.password));
    User user{0, nu.username, nu.display_name, nu.email, nu.is_admin, false, clock_.NowMs()};
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto team, tx.QueryOne("SELECT 1 FROM teams WHERE name = ?", {nu.username}));
        if (team) {
            return MakeError(ErrorCode::kConflict,
                             "'" + nu.username + "' is already the name of a team");
        }
        auto id = tx.InsertReturningId(
            "INSERT INTO users (username, display_name, email, password_hash, is_admin, disabled, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
            {nu.username, nu.display_name, nu.email, hash, std::int64_t{nu.is_admin},
             user.created_at, user.created_at});
        if (!id && id.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict, "user '" + nu.username + "' already exists");
        }
        RETURN_IF_ERROR(id);
        user.id = *id;
        return {};
    }));
    return user;
}

Result<User> Accounts::UserByName(store::Tx& tx, std::string_view username) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kUserColumns) +
                                               " FROM users WHERE username = ?",
                                           {std::string(username)}));
    if (!row) {
        return MakeError(ErrorCode::kNotFound, "user '" + std::string(username) + "' does not exist");
    }
    return UserFromRow(*row);
}

Result<User> Accounts::GetUser(std::string_view username) {
    User user;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(user, UserByName(tx, username));
        return {};
    }));
    return user;
}

const store::ListSpec& Accounts::UserListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{
        {{"username", "username", FieldType::kText},
         {"display_name", "display_name", FieldType::kText},
         {"email", "email", FieldType::kText},
         {"is_admin", "is_admin", FieldType::kBool},
         {"disabled", "disabled", FieldType::kBool},
         {"created_at", "created_at", FieldType::kInt, false, true}},
        "username",
        "id"};
    return kSpec;
}

Result<std::pair<std::vector<User>, std::string>> Accounts::ListUsers(
    const store::ListQuery& query) {
    std::vector<User> users;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page,
                         store::QueryPage(tx, UserListSpec(), query,
                                          "SELECT " + std::string(kUserColumns) +
                                              " FROM users WHERE 1=1",
                                          {}));
        for (const auto& r : page.rows) {
            users.push_back(UserFromRow(r));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(users), std::move(next));
}

Result<User> Accounts::UpdateUser(const Principal& caller, std::string_view username,
                                  const UserUpdate& u) {
    if (u.display_name) {
        RETURN_IF_ERROR(ValidateDisplay(*u.display_name, "display_name", 200));
    }
    if (u.email) {
        RETURN_IF_ERROR(ValidateEmail(*u.email));
    }
    std::optional<std::string> new_hash;
    if (u.password) {
        RETURN_IF_ERROR(ValidatePassword(*u.password));
        ASSIGN_OR_RETURN(new_hash, HashPassword(*u.password));
    }
    User user;
    std::string current_hash;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(user, UserByName(tx, username));
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT password_hash FROM users WHERE id = ?",
                                               {user.id}));
        current_hash = row ? row->Text(0) : "";
        return {};
    }));
    if (u.password && caller.user_id == user.id) {
        // A stolen session or key alone must not be enough to take over the account.
        if (!u.current_password) {
            return MakeError(ErrorCode::kBadRequest,
                             "changing your password needs your current_password");
        }
        if (!VerifyPassword(current_hash, *u.current_password)) {
            return MakeError(ErrorCode::kPermissionDenied, "current_password is wrong");
        }
    }
    if (caller.user_id == user.id && ((u.is_admin && !*u.is_admin) || (u.disabled && *u.disabled))) {
        return MakeError(ErrorCode::kConflict,
                         "you cannot remove your own admin rights or disable yourself");
    }
    const std::int64_t now = clock_.NowMs();
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        if (u.display_name) {
            RETURN_IF_ERROR(tx.Exec("UPDATE users SET display_name = ? WHERE id = ?",
                                    {*u.display_name, user.id}));
            user.display_name = *u.display_name;
        }
        if (u.email) {
            RETURN_IF_ERROR(tx.Exec("UPDATE users SET email = ? WHERE id = ?", {*u.email, user.id}));
            user.email = *u.email;
        }
        if (new_hash) {
            RETURN_IF_ERROR(tx.Exec("UPDATE users SET password_hash = ? WHERE id = ?",
                                    {*new_hash, user.id}));
            // A new password ends every other browser session of the user.
            RETURN_IF_ERROR(tx.Exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?",
                                    {user.id, caller.session_id}));
        }
        if (u.is_admin) {
            RETURN_IF_ERROR(tx.Exec("UPDATE users SET is_admin = ? WHERE id = ?",
                                    {std::int64_t{*u.is_admin}, user.id}));
            user.is_admin = *u.is_admin;
        }
        if (u.disabled) {
            RETURN_IF_ERROR(tx.Exec("UPDATE users SET disabled = ? WHERE id = ?",
                                    {std::int64_t{*u.disabled}, user.id}));
            if (*u.disabled) {
                RETURN_IF_ERROR(tx.Exec("DELETE FROM sessions WHERE user_id = ?", {user.id}));
            }
            user.disabled = *u.disabled;
        }
        RETURN_IF_ERROR(tx.Exec("UPDATE users SET updated_at = ? WHERE id = ?", {now, user.id}));
        return {};
    }));
    return user;
}

Result<LoginResult> Accounts::Login(std::string_view username, std::string_view password,
                                    const std::string& address) {
    int wait = user_limiter_.Attempt("u:" + std::string(username));
    wait = std::max(wait, address_limiter_.Attempt("a:" + address));
    if (wait > 0) {
        Error e{ErrorCode::kTooManyRequests,
                "too many login attempts; try again in " + std::to_string(wait) + " s"};
        e.retry_after_seconds = wait;
        return std::unexpected(e);
    }
    std::optional<User> user;
    std::string hash;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kUserColumns) +
                                                   ", password_hash FROM users WHERE username = ?",
                                               {std::string(username)}));
        if (row) {
            user = UserFromRow(*row);
            hash = row->Text(7);
        }
        return {};
    }));
    const auto wrong = MakeError(ErrorCode::kUnauthenticated, "wrong username or password");
    if (!user) {
        BurnPasswordCheck(password);
        return wrong;
    }
    if (!VerifyPassword(hash, password)) {
        return wrong;
    }
    if (user->disabled) {
        return MakeError(ErrorCode::kUnauthenticated, "this account is disabled");
    }
    LoginResult result{*user, RandomToken(32), RandomToken(24), 0};
    const std::int64_t now = clock_.NowMs();
    result.expires_at = now + std::int64_t{options_.session_ttl_hours} * 3600 * 1000;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        // Expired sessions are swept here rather than by a timer: logins are rare enough.
        RETURN_IF_ERROR(tx.Exec("DELETE FROM sessions WHERE expires_at < ?", {now}));
        RETURN_IF_ERROR(tx.Exec(
            "INSERT INTO sessions (token_hash, csrf_token, user_id, address, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            {Sha256Hex(result.session_token), result.csrf_token, user->id, address, now,
             result.expires_at}));
        return {};
    }));
    return result;
}

Status Accounts::Logout(std::int64_t session_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM sessions WHERE id = ?", {session_id}));
        return {};
    });
}

Result<Principal> Accounts::AuthenticateSession(std::string_view token) {
    std::optional<store::Row> row;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(row, tx.QueryOne(
                                  "SELECT s.id, s.csrf_token, s.expires_at, u.id, u.username, "
                                  "u.is_admin, u.disabled FROM sessions s JOIN users u ON "
                                  "u.id = s.user_id WHERE s.token_hash = ?",
                                  {Sha256Hex(token)}));
        return {};
    }));
    if (!row || row->Int(2) <= clock_.NowMs() || row->Bool(6)) {
        return MakeError(ErrorCode::kUnauthenticated,
                         "your session has ended; sign in again");
    }
    Principal p;
    p.session_id = row->Int(0);
    p.csrf_token = row->Text(1);
    p.user_id = row->Int(3);
    p.username = row->Text(4);
    p.is_admin = row->Bool(5);
    p.method = AuthMethod::kSession;
    return p;
}

Result<Principal> Accounts::AuthenticateApiKey(std::string_view key) {
    const auto invalid = MakeError(ErrorCode::kUnauthenticated,
                                   "the API key is not valid (unknown, revoked or expired)");
    // lathe_<8 hex>_<secret>
    if (!key.starts_with(kKeyPrefix) || key.size() < kKeyPrefix.size() + 10 ||
        key[kKeyPrefix.size() + 8] != '_') {
        return invalid;
    }
    std::string prefix(key.substr(0, kKeyPrefix.size() + 8));
    std::string_view secret = key.substr(kKeyPrefix.size() + 9);
    std::optional<store::Row> row;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(row, tx.QueryOne(
                                  "SELECT k.id, k.secret_hash, k.expires_at, k.revoked_at, u.id, "
                                  "u.username, u.is_admin, u.disabled, k.model_id FROM api_keys k "
                                  "JOIN users u ON u.id = k.user_id WHERE k.prefix = ?",
                                  {prefix}));
        return {};
    }));
    const std::int64_t now = clock_.NowMs();
    if (!row || !ConstantTimeEquals(row->Text(1), Sha256Hex(secret)) || !row->IsNull(3) ||
        (!row->IsNull(2) && row->Int(2) <= now)) {
        return invalid;
    }
    if (row->Bool(7)) {
        return MakeError(ErrorCode::kUnauthenticated, "this account is disabled");
    }
    Principal p;
    p.key_id = row->Int(0);
    p.user_id = row->Int(4);
    p.username = row->Text(5);
    p.is_admin = row->Bool(6);
    p.key_model_id = row->IsNull(8) ? 0 : row->Int(8);
    p.method = AuthMethod::kApiKey;
    bool write = false;
    {
        std::lock_guard lock(mu_);
        auto [it, inserted] = key_last_written_.try_emplace(p.key_id, now);
        if (inserted || now - it->second >= 60'000) {
            it->second = now;
            write = true;
        }
    }
    if (write) {
        auto st = store_.Write([&](store::Tx& tx) -> Status {
            RETURN_IF_ERROR(
                tx.Exec("UPDATE api_keys SET last_used_at = ? WHERE id = ?", {now, p.key_id}));
            return {};
        });
        if (!st) {
            LogWarn("could not record API key use", {{"error", st.error().message}});
        }
    }
    return p;
}

Result<std::pair<ApiKeyInfo, std::string>> Accounts::CreateApiKey(
    std::int64_t user_id, std::string name, std::optional<int> expires_in_days,
    std::optional<std::int64_t> model_id) {
    RETURN_IF_ERROR(ValidateDisplay(name, "name", 200));
    if (expires_in_days && (*expires_in_days < 1 || *expires_in_days > 3650)) {
        return MakeError(ErrorCode::kBadRequest, "expires_in_days must be from 1 to 3650");
    }
    ApiKeyInfo info;
    std::string secret = RandomToken(32);
    info.name = name;
    info.model_id = model_id;
    info.created_at = clock_.NowMs();
    if (expires_in_days) {
        info.expires_at = info.created_at + std::int64_t{*expires_in_days} * 86'400'000;
    }
    // The public prefix is short (4 random bytes); on the rare clash, draw another.
    for (int attempt = 0;; ++attempt) {
        unsigned char raw[4];
        randombytes_buf(raw, sizeof(raw));
        info.prefix = std::string(kKeyPrefix) +
                      HexEncode(std::string_view(reinterpret_cast<const char*>(raw), sizeof(raw)));
        auto st = InsertApiKey(user_id, name, secret, info);
        if (st || st.error().code != ErrorCode::kConflict || attempt == 4) {
            RETURN_IF_ERROR(st);
            break;
        }
    }
    return std::make_pair(info, info.prefix + "_" + secret);
}

Status Accounts::InsertApiKey(std::int64_t user_id, const std::string& name,
                              const std::string& secret, ApiKeyInfo& info) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT username FROM users WHERE id = ?", {user_id}));
        if (!row) {
            return MakeError(ErrorCode::kNotFound, "user does not exist");
        }
        info.username = row->Text(0);
        store::Value expires = info.expires_at ? store::Value(*info.expires_at) : store::Value(nullptr);
        store::Value model = info.model_id ? store::Value(*info.model_id) : store::Value(nullptr);
        ASSIGN_OR_RETURN(info.id, tx.InsertReturningId(
                                      "INSERT INTO api_keys (user_id, name, prefix, secret_hash, "
                                      "created_at, expires_at, model_id) VALUES (?, ?, ?, ?, ?, ?, "
                                      "?) RETURNING id",
                                      {user_id, name, info.prefix, Sha256Hex(secret),
                                       info.created_at, expires, model}));
        return {};
    });
}

Result<std::vector<ApiKeyInfo>> Accounts::ListApiKeys(std::optional<std::int64_t> user_id,
                                                      std::optional<std::int64_t> model_id) {
    std::vector<ApiKeyInfo> keys;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        std::string sql =
            "SELECT k.id, u.username, k.name, k.prefix, k.created_at, k.expires_at, "
            "k.last_used_at, k.model_id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE "
            "k.revoked_at IS NULL";
        store::Params params;
        if (user_id) {
            sql += " AND k.user_id = ?";
            params.emplace_back(*user_id);
        }
        if (model_id) {
            sql += " AND k.model_id = ?";
            params.emplace_back(*model_id);
        }
        ASSIGN_OR_RETURN(auto rows, tx.Query(sql + " ORDER BY k.id", params));
        for (const auto& r : rows) {
            ApiKeyInfo k{r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), {}, {}};
            if (!r.IsNull(5)) {
                k.expires_at = r.Int(5);
            }
            if (!r.IsNull(6)) {
                k.last_used_at = r.Int(6);
            }
            if (!r.IsNull(7)) {
                k.model_id = r.Int(7);
            }
            keys.push_back(std::move(k));
        }
        return {};
    }));
    return keys;
}

Status Accounts::RevokeKeysNamed(const std::string& pattern) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE api_keys SET revoked_at = ? WHERE name LIKE ? AND "
                                "revoked_at IS NULL",
                                {clock_.NowMs(), pattern}));
        return {};
    });
}

Status Accounts::RevokeApiKey(std::int64_t user_id, std::int64_t key_id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto n, tx.Exec("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND "
                                         "user_id = ? AND revoked_at IS NULL",
                                         {clock_.NowMs(), key_id, user_id}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound,
                             "API key " + std::to_string(key_id) + " does not exist");
        }
        return {};
    });
}

}  // namespace lathe::auth
