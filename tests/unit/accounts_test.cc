// Tests for users, sessions, API keys and login throttling, on a real SQLite store and a fake clock.
#include "auth/accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr int kTtlHours = 2;
constexpr int kPerUser = 3;
constexpr int kPerAddress = 100;

template <typename T>
std::optional<ErrorCode> CodeOf(const std::expected<T, Error>& result) {
    if (result.has_value()) {
        return std::nullopt;
    }
    return result.error().code;
}

class AccountsTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto().has_value());
        std::string pattern = (fs::temp_directory_path() / "lathe_accounts_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        store::SqliteOptions options;
        options.path = (dir_ / "lathe.db").string();
        options.readers = 2;
        options.synchronous_full = false;
        auto opened = store::SqliteStore::Open(options, clock_);
        ASSERT_TRUE(opened.has_value()) << opened.error().message;
        store_ = std::move(*opened);
        accounts_ = MakeAccounts(kPerUser, kPerAddress);
    }

    void TearDown() override {
        accounts_.reset();
        store_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    std::unique_ptr<Accounts> MakeAccounts(int per_user, int per_address) {
        AccountsOptions options;
        options.session_ttl_hours = kTtlHours;
        options.login_rate_per_user = per_user;
        options.login_rate_per_address = per_address;
        return std::make_unique<Accounts>(*store_, clock_, options);
    }

    User MustCreate(const std::string& username, const std::string& password,
                    bool is_admin = false) {
        auto user = accounts_->CreateUser(NewUser{username, password, "", "", is_admin});
        EXPECT_TRUE(user.has_value()) << user.error().message;
        return user ? *user : User{};
    }

    // Every column of every row of a table, as text.
    std::vector<std::string> AllCells(const std::string& table) {
        std::vector<std::string> cells;
        auto st = store_->Read([&](store::Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT * FROM " + table));
            for (const auto& row : rows) {
                for (std::size_t i = 0; i < row.size(); ++i) {
                    cells.push_back(row.Text(i));
                }
            }
            return {};
        });
        EXPECT_TRUE(st.has_value()) << st.error().message;
        return cells;
    }

    // An admin acting on someone else's account.
    static Principal SiteAdmin() {
        Principal p;
        p.user_id = 999'999;
        p.username = "root";
        p.is_admin = true;
        p.method = AuthMethod::kSession;
        return p;
    }

    fs::path dir_;
    FakeClock clock_{kT0};
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<Accounts> accounts_;
};

TEST_F(AccountsTest, CreatedUserCanSignInAndTheSessionIdentifiesThem) {
    const User alice = MustCreate("alice", "correct horse");
    EXPECT_GT(alice.id, 0);
    EXPECT_EQ(alice.created_at, kT0);

    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    EXPECT_EQ(login->user.username, "alice");
    EXPECT_FALSE(login->session_token.empty());
    EXPECT_FALSE(login->csrf_token.empty());
    EXPECT_EQ(login->expires_at, kT0 + kTtlHours * kHourMs);

    auto principal = accounts_->AuthenticateSession(login->session_token);
    ASSERT_TRUE(principal.has_value()) << principal.error().message;
    EXPECT_EQ(principal->user_id, alice.id);
    EXPECT_EQ(principal->username, "alice");
    EXPECT_EQ(principal->method, AuthMethod::kSession);
    EXPECT_EQ(principal->csrf_token, login->csrf_token);
    EXPECT_FALSE(principal->is_admin);

    EXPECT_EQ(CodeOf(accounts_->AuthenticateSession("not-a-token")), ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, GetUserReturnsTheStoredUser) {
    const User alice = MustCreate("alice", "correct horse", /*is_admin=*/true);
    auto got = accounts_->GetUser("alice");
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->id, alice.id);
    EXPECT_TRUE(got->is_admin);
    EXPECT_EQ(CodeOf(accounts_->GetUser("bob")), ErrorCode::kNotFound);
}

TEST_F(AccountsTest, DuplicateUsernameIsConflict) {
    MustCreate("alice", "correct horse");
    auto again = accounts_->CreateUser(NewUser{"alice", "another pass", "", "", false});
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    EXPECT_NE(again.error().message.find("alice"), std::string::npos) << again.error().message;
}

TEST_F(AccountsTest, InvalidNewUsersAreRejectedBeforeHashing) {
    for (const NewUser& bad : {NewUser{"Alice", "correct horse", "", "", false},
                               NewUser{"alice", "short", "", "", false},
                               NewUser{"alice", "correct horse", "", "no-at-sign", false},
                               NewUser{"alice", "correct horse", "bad\nname", "", false}}) {
        EXPECT_EQ(CodeOf(accounts_->CreateUser(bad)), ErrorCode::kBadRequest) << bad.username;
    }
}

TEST(ValidateAccountNameTest, AcceptsLowercaseNamesAndRejectsOthers) {
    const std::string longest(64, 'a');
    for (const std::string& ok : {std::string("alice"), std::string("a"), std::string("bob.smith"),
                                  std::string("x_1-2"), std::string("9lives"), longest}) {
        EXPECT_TRUE(ValidateAccountName(ok, "username").has_value()) << ok;
    }
    const std::string too_long(65, 'a');
    for (const std::string& bad : {std::string(""), std::string("Alice"), std::string("-bob"),
                                   std::string(".hidden"), std::string("_x"),
                                   std::string("a b"), std::string("a/b"), too_long}) {
        auto st = ValidateAccountName(bad, "username");
        ASSERT_FALSE(st.has_value()) << "'" << bad << "'";
        EXPECT_EQ(st.error().code, ErrorCode::kBadRequest);
        EXPECT_NE(st.error().message.find("username"), std::string::npos);
    }
}

TEST_F(AccountsTest, WrongPasswordAndUnknownUserAreTheSameUnauthenticated) {
    MustCreate("alice", "correct horse");
    auto wrong = accounts_->Login("alice", "wrong horse", "10.0.0.1");
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
    auto unknown = accounts_->Login("nobody", "wrong horse", "10.0.0.1");
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthenticated);
    // The message must not tell which usernames exist.
    EXPECT_EQ(wrong.error().message, unknown.error().message);
}

TEST_F(AccountsTest, SessionExpiresAfterTheTtl) {
    MustCreate("alice", "correct horse");
    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;

    clock_.Advance(kTtlHours * kHourMs - 1);
    EXPECT_TRUE(accounts_->AuthenticateSession(login->session_token).has_value());
    clock_.Advance(2);
    auto expired = accounts_->AuthenticateSession(login->session_token);
    ASSERT_FALSE(expired.has_value());
    EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, LogoutEndsTheSession) {
    MustCreate("alice", "correct horse");
    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    auto principal = accounts_->AuthenticateSession(login->session_token);
    ASSERT_TRUE(principal.has_value());
    ASSERT_TRUE(accounts_->Logout(principal->session_id).has_value());
    EXPECT_EQ(CodeOf(accounts_->AuthenticateSession(login->session_token)),
              ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, SessionTokenIsNotStoredInPlainText) {
    MustCreate("alice", "correct horse");
    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    const auto cells = AllCells("sessions");
    ASSERT_FALSE(cells.empty());
    for (const std::string& cell : cells) {
        EXPECT_EQ(cell.find(login->session_token), std::string::npos) << cell;
    }
}

TEST_F(AccountsTest, PasswordIsNotStoredInPlainText) {
    MustCreate("alice", "correct horse battery");
    for (const std::string& cell : AllCells("users")) {
        EXPECT_EQ(cell.find("correct horse battery"), std::string::npos) << cell;
    }
}

TEST_F(AccountsTest, ApiKeyWithOneDayExpiryWorksThenExpires) {
    const User alice = MustCreate("alice", "correct horse");
    auto created = accounts_->CreateApiKey(alice.id, "laptop", 1);
    ASSERT_TRUE(created.has_value()) << created.error().message;
    const auto& [info, key] = *created;
    EXPECT_EQ(info.username, "alice");
    EXPECT_EQ(info.name, "laptop");
    ASSERT_TRUE(info.expires_at.has_value());
    EXPECT_EQ(*info.expires_at, kT0 + kDayMs);
    EXPECT_TRUE(key.starts_with(info.prefix + "_")) << key;

    auto principal = accounts_->AuthenticateApiKey(key);
    ASSERT_TRUE(principal.has_value()) << principal.error().message;
    EXPECT_EQ(principal->user_id, alice.id);
    EXPECT_EQ(principal->username, "alice");
    EXPECT_EQ(principal->method, AuthMethod::kApiKey);
    EXPECT_EQ(principal->key_id, info.id);

    clock_.Advance(kDayMs - 1);
    EXPECT_TRUE(accounts_->AuthenticateApiKey(key).has_value());
    clock_.Advance(2);  // one day and one millisecond after creation
    EXPECT_EQ(CodeOf(accounts_->AuthenticateApiKey(key)), ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, ApiKeyWithoutExpiryKeepsWorking) {
    const User alice = MustCreate("alice", "correct horse");
    auto created = accounts_->CreateApiKey(alice.id, "ci", std::nullopt);
    ASSERT_TRUE(created.has_value()) << created.error().message;
    EXPECT_FALSE(created->first.expires_at.has_value());
    clock_.Advance(3650 * kDayMs);
    EXPECT_TRUE(accounts_->AuthenticateApiKey(created->second).has_value());
}

TEST_F(AccountsTest, ApiKeyExpiryMustBeInRange) {
    const User alice = MustCreate("alice", "correct horse");
    EXPECT_EQ(CodeOf(accounts_->CreateApiKey(alice.id, "k", 0)), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(accounts_->CreateApiKey(alice.id, "k", 3651)), ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(accounts_->CreateApiKey(alice.id, "k", -1)), ErrorCode::kBadRequest);
    EXPECT_TRUE(accounts_->CreateApiKey(alice.id, "k", 3650).has_value());
    EXPECT_EQ(CodeOf(accounts_->CreateApiKey(alice.id + 100, "k", 1)), ErrorCode::kNotFound);
}

TEST_F(AccountsTest, MalformedOrAlteredKeysAreRejected) {
    const User alice = MustCreate("alice", "correct horse");
    auto created = accounts_->CreateApiKey(alice.id, "k", std::nullopt);
    ASSERT_TRUE(created.has_value()) << created.error().message;
    const std::string& key = created->second;
    std::string altered = key;
    altered.back() = altered.back() == 'A' ? 'B' : 'A';
    const std::string prefix_only = created->first.prefix + "_";
    for (const std::string& bad :
         {std::string(""), std::string("lathe_"), prefix_only, altered, key.substr(1),
          std::string("lathe_12345678x") + key.substr(15), key + "x"}) {
        EXPECT_EQ(CodeOf(accounts_->AuthenticateApiKey(bad)), ErrorCode::kUnauthenticated)
            << "'" << bad << "'";
    }
    EXPECT_TRUE(accounts_->AuthenticateApiKey(key).has_value());
}

TEST_F(AccountsTest, RevokedKeyFailsAndOnlyItsOwnerCanRevokeIt) {
    const User alice = MustCreate("alice", "correct horse");
    const User bob = MustCreate("bob", "correct horse");
    auto created = accounts_->CreateApiKey(alice.id, "laptop", std::nullopt);
    ASSERT_TRUE(created.has_value()) << created.error().message;
    const std::int64_t key_id = created->first.id;
    const std::string& key = created->second;

    // Bob can't revoke Alice's key, and trying doesn't reveal it exists.
    EXPECT_EQ(CodeOf(accounts_->RevokeApiKey(bob.id, key_id)), ErrorCode::kNotFound);
    EXPECT_TRUE(accounts_->AuthenticateApiKey(key).has_value());

    ASSERT_TRUE(accounts_->RevokeApiKey(alice.id, key_id).has_value());
    EXPECT_EQ(CodeOf(accounts_->AuthenticateApiKey(key)), ErrorCode::kUnauthenticated);
    EXPECT_EQ(CodeOf(accounts_->RevokeApiKey(alice.id, key_id)), ErrorCode::kNotFound);

    auto listed = accounts_->ListApiKeys(alice.id);
    ASSERT_TRUE(listed.has_value()) << listed.error().message;
    EXPECT_TRUE(listed->empty());  // revoked keys are no longer listed
}

TEST_F(AccountsTest, ListApiKeysShowsOwnKeysWithoutSecrets) {
    const User alice = MustCreate("alice", "correct horse");
    const User bob = MustCreate("bob", "correct horse");
    auto a1 = accounts_->CreateApiKey(alice.id, "a1", std::nullopt);
    auto b1 = accounts_->CreateApiKey(bob.id, "b1", 30);
    ASSERT_TRUE(a1.has_value() && b1.has_value());

    auto mine = accounts_->ListApiKeys(alice.id);
    ASSERT_TRUE(mine.has_value()) << mine.error().message;
    ASSERT_EQ(mine->size(), 1u);
    EXPECT_EQ((*mine)[0].name, "a1");
    EXPECT_EQ((*mine)[0].prefix, a1->first.prefix);
    EXPECT_FALSE((*mine)[0].last_used_at.has_value());

    clock_.Advance(5'000);
    ASSERT_TRUE(accounts_->AuthenticateApiKey(a1->second).has_value());
    mine = accounts_->ListApiKeys(alice.id);
    ASSERT_TRUE(mine.has_value() && mine->size() == 1u);
    ASSERT_TRUE((*mine)[0].last_used_at.has_value());
    EXPECT_EQ(*(*mine)[0].last_used_at, kT0 + 5'000);

    auto all = accounts_->ListApiKeys(std::nullopt);
    ASSERT_TRUE(all.has_value()) << all.error().message;
    EXPECT_EQ(all->size(), 2u);
}

TEST_F(AccountsTest, KeySecretIsNotStoredInPlainText) {
    const User alice = MustCreate("alice", "correct horse");
    auto created = accounts_->CreateApiKey(alice.id, "laptop", 30);
    ASSERT_TRUE(created.has_value()) << created.error().message;
    const std::string& key = created->second;
    const std::string secret = key.substr(created->first.prefix.size() + 1);
    ASSERT_GE(secret.size(), 32u);
    const auto cells = AllCells("api_keys");
    ASSERT_FALSE(cells.empty());
    for (const std::string& cell : cells) {
        EXPECT_EQ(cell.find(secret), std::string::npos) << "api_keys holds the secret: " << cell;
        EXPECT_EQ(cell.find(key), std::string::npos) << "api_keys holds the key: " << cell;
    }
}

TEST_F(AccountsTest, DisabledUsersKeyAndSessionStopWorking) {
    const User alice = MustCreate("alice", "correct horse");
    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    auto key = accounts_->CreateApiKey(alice.id, "laptop", std::nullopt);
    ASSERT_TRUE(key.has_value()) << key.error().message;
    ASSERT_TRUE(accounts_->AuthenticateSession(login->session_token).has_value());
    ASSERT_TRUE(accounts_->AuthenticateApiKey(key->second).has_value());

    UserUpdate disable;
    disable.disabled = true;
    auto updated = accounts_->UpdateUser(SiteAdmin(), "alice", disable);
    ASSERT_TRUE(updated.has_value()) << updated.error().message;
    EXPECT_TRUE(updated->disabled);

    EXPECT_EQ(CodeOf(accounts_->AuthenticateSession(login->session_token)),
              ErrorCode::kUnauthenticated);
    EXPECT_EQ(CodeOf(accounts_->AuthenticateApiKey(key->second)), ErrorCode::kUnauthenticated);
    auto relogin = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_FALSE(relogin.has_value());
    EXPECT_EQ(relogin.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(relogin.error().message.find("disabled"), std::string::npos)
        << relogin.error().message;
}

// The disabled flag is checked on every request, not only when the admin's update deletes the
// sessions (e.g. a flag set while a session was being created).
TEST_F(AccountsTest, SessionOfAUserDisabledInTheDatabaseFails) {
    const User alice = MustCreate("alice", "correct horse");
    auto login = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    auto st = store_->Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE users SET disabled = 1 WHERE id = ?", {alice.id}));
        return {};
    });
    ASSERT_TRUE(st.has_value()) << st.error().message;
    EXPECT_EQ(CodeOf(accounts_->AuthenticateSession(login->session_token)),
              ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, UsersCannotDisableThemselvesOrDropTheirOwnAdmin) {
    const User root = MustCreate("root", "correct horse", /*is_admin=*/true);
    Principal self;
    self.user_id = root.id;
    self.username = "root";
    self.is_admin = true;
    self.method = AuthMethod::kSession;
    UserUpdate disable;
    disable.disabled = true;
    EXPECT_EQ(CodeOf(accounts_->UpdateUser(self, "root", disable)), ErrorCode::kConflict);
    UserUpdate demote;
    demote.is_admin = false;
    EXPECT_EQ(CodeOf(accounts_->UpdateUser(self, "root", demote)), ErrorCode::kConflict);
    auto still = accounts_->GetUser("root");
    ASSERT_TRUE(still.has_value());
    EXPECT_TRUE(still->is_admin);
    EXPECT_FALSE(still->disabled);
}

TEST_F(AccountsTest, ChangingOwnPasswordNeedsTheCurrentOne) {
    const User alice = MustCreate("alice", "correct horse");
    Principal self;
    self.user_id = alice.id;
    self.username = "alice";
    self.method = AuthMethod::kApiKey;
    UserUpdate change;
    change.password = "new password!";
    change.current_password = "guessed wrong";
    EXPECT_EQ(CodeOf(accounts_->UpdateUser(self, "alice", change)), ErrorCode::kPermissionDenied);
    // The old password still works; the attempted one doesn't.
    EXPECT_TRUE(accounts_->Login("alice", "correct horse", "10.0.0.1").has_value());
}

TEST_F(AccountsTest, LoginIsRateLimitedPerUserAndRecoversAfterAMinute) {
    MustCreate("alice", "correct horse");
    for (int i = 0; i < kPerUser; ++i) {
        EXPECT_EQ(CodeOf(accounts_->Login("alice", "wrong horse", "10.0.0.1")),
                  ErrorCode::kUnauthenticated)
            << "attempt " << i + 1;
    }
    // Even the right password is refused now, with a hint when to retry.
    auto limited = accounts_->Login("alice", "correct horse", "10.0.0.1");
    ASSERT_FALSE(limited.has_value());
    EXPECT_EQ(limited.error().code, ErrorCode::kTooManyRequests);
    EXPECT_GT(limited.error().retry_after_seconds, 0);
    EXPECT_LE(limited.error().retry_after_seconds, 60);

    // From another address too: the limit is on the account.
    EXPECT_EQ(CodeOf(accounts_->Login("alice", "correct horse", "10.0.0.2")),
              ErrorCode::kTooManyRequests);

    clock_.Advance(60'000);
    auto after = accounts_->Login("alice", "correct horse", "10.0.0.1");
    EXPECT_TRUE(after.has_value()) << after.error().message;
}

TEST_F(AccountsTest, LoginIsRateLimitedPerAddress) {
    accounts_ = MakeAccounts(/*per_user=*/100, /*per_address=*/2);
    EXPECT_EQ(CodeOf(accounts_->Login("ann", "wrong horse", "10.0.0.9")),
              ErrorCode::kUnauthenticated);
    EXPECT_EQ(CodeOf(accounts_->Login("ben", "wrong horse", "10.0.0.9")),
              ErrorCode::kUnauthenticated);
    auto limited = accounts_->Login("cat", "wrong horse", "10.0.0.9");
    ASSERT_FALSE(limited.has_value());
    EXPECT_EQ(limited.error().code, ErrorCode::kTooManyRequests);
    EXPECT_GT(limited.error().retry_after_seconds, 0);
    // Another address is not affected.
    EXPECT_EQ(CodeOf(accounts_->Login("cat", "wrong horse", "10.0.0.10")),
              ErrorCode::kUnauthenticated);
}

TEST_F(AccountsTest, EnsureInitialAdminCreatesOnceAndGeneratesAPasswordOnlyTheFirstTime) {
    auto first = accounts_->EnsureInitialAdmin("admin", "");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_TRUE(first->has_value()) << "the first start must create the admin";
    const std::string generated = **first;
    ASSERT_GE(generated.size(), 8u);  // a usable password, not an empty one

    auto admin = accounts_->GetUser("admin");
    ASSERT_TRUE(admin.has_value()) << admin.error().message;
    EXPECT_TRUE(admin->is_admin);
    auto login = accounts_->Login("admin", generated, "127.0.0.1");
    EXPECT_TRUE(login.has_value()) << login.error().message;

    // Later starts create nothing and show no password.
    auto second = accounts_->EnsureInitialAdmin("admin", "");
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_FALSE(second->has_value());
    auto third = accounts_->EnsureInitialAdmin("other", "");
    ASSERT_TRUE(third.has_value()) << third.error().message;
    EXPECT_FALSE(third->has_value());
    EXPECT_EQ(CodeOf(accounts_->GetUser("other")), ErrorCode::kNotFound);
}

TEST_F(AccountsTest, EnsureInitialAdminGeneratesDifferentPasswordsOnDifferentSites) {
    auto first = accounts_->EnsureInitialAdmin("admin", "");
    ASSERT_TRUE(first.has_value() && first->has_value());
    // A second, fresh site (its own store) gets its own password.
    accounts_.reset();
    store_.reset();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store::SqliteOptions options;
    options.path = (dir_ / "lathe.db").string();
    options.synchronous_full = false;
    auto opened = store::SqliteStore::Open(options, clock_);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(*opened);
    accounts_ = MakeAccounts(kPerUser, kPerAddress);
    auto other = accounts_->EnsureInitialAdmin("admin", "");
    ASSERT_TRUE(other.has_value() && other->has_value());
    EXPECT_NE(**first, **other);
}

TEST_F(AccountsTest, EnsureInitialAdminUsesAGivenPassword) {
    auto first = accounts_->EnsureInitialAdmin("root", "given password");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_TRUE(first->has_value()) << "the admin was created";
    EXPECT_EQ(**first, "");  // nothing generated to show
    auto login = accounts_->Login("root", "given password", "127.0.0.1");
    ASSERT_TRUE(login.has_value()) << login.error().message;
    EXPECT_TRUE(login->user.is_admin);
}

TEST_F(AccountsTest, EnsureInitialAdminRejectsAnInvalidGivenPassword) {
    auto first = accounts_->EnsureInitialAdmin("root", "short");
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(CodeOf(accounts_->GetUser("root")), ErrorCode::kNotFound);
}

TEST(RateLimiterTest, AllowsPerMinuteThenTellsWhenToRetry) {
    FakeClock clock(kT0);
    RateLimiter limiter(clock, 3);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_EQ(limiter.Attempt("k"), 60);
    clock.Advance(30'000);
    EXPECT_EQ(limiter.Attempt("k"), 30);
    clock.Advance(29'500);
    EXPECT_EQ(limiter.Attempt("k"), 1);  // rounds up: never tells a client to retry in 0 s
    clock.Advance(499);
    EXPECT_EQ(limiter.Attempt("k"), 1);
    clock.Advance(1);  // the window has ended
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    EXPECT_GT(limiter.Attempt("k"), 0);
}

TEST(RateLimiterTest, KeysAreIndependent) {
    FakeClock clock(kT0);
    RateLimiter limiter(clock, 1);
    EXPECT_EQ(limiter.Attempt("u:alice"), 0);
    EXPECT_GT(limiter.Attempt("u:alice"), 0);
    EXPECT_EQ(limiter.Attempt("u:bob"), 0);
}

TEST(RateLimiterTest, RefusedAttemptsDoNotExtendTheWindow) {
    FakeClock clock(kT0);
    RateLimiter limiter(clock, 1);
    EXPECT_EQ(limiter.Attempt("k"), 0);
    for (int i = 0; i < 5; ++i) {
        clock.Advance(10'000);
        EXPECT_GT(limiter.Attempt("k"), 0);
    }
    clock.Advance(10'000);  // 60 s after the first attempt
    EXPECT_EQ(limiter.Attempt("k"), 0);
}

TEST(RateLimiterTest, ConcurrentAttemptsAllowExactlyTheLimit) {
    FakeClock clock(kT0);
    constexpr int kLimit = 50;
    RateLimiter limiter(clock, kLimit);
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                if (limiter.Attempt("shared") == 0) {
                    ++allowed;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(allowed.load(), kLimit);
}

}  // namespace
}  // namespace lathe::auth
