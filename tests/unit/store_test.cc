// Tests for the SQLite store on a real file: migrations, transactions, conflicts and concurrency.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/migrations.h"

namespace lathe::store {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::vector<int> MigrationVersions() {
    std::vector<int> versions;
    for (const Migration& m : Migrations()) {
        versions.push_back(m.version);
    }
    return versions;
}

std::size_t CountOccurrences(const std::string& text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

// Runs fn on its own thread and waits at most `seconds`. A store that deadlocks must fail the
// test rather than hang the suite; the stuck thread still holds the store, so the only safe way
// out is to stop the process.
void RunWithDeadline(const char* what, int seconds, const std::function<void()>& fn) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread worker([&] {
        fn();
        std::lock_guard lock(mu);
        done = true;
        cv.notify_all();
    });
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(seconds), [&] { return done; })) {
        std::cerr << what << ": deadlock (not finished within " << seconds << " s)\n";
        std::abort();
    }
    lock.unlock();
    worker.join();
}

class SqliteStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lathe_store_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }

    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    std::unique_ptr<SqliteStore> OpenStore(int readers = 2, bool synchronous_full = true) {
        SqliteOptions options;
        options.path = (dir_ / "lathe.db").string();
        options.readers = readers;
        options.synchronous_full = synchronous_full;
        auto opened = SqliteStore::Open(options, clock_);
        EXPECT_TRUE(opened.has_value()) << opened.error().message;
        return opened ? std::move(*opened) : nullptr;
    }

    // Inserts a user row directly (the accounts module is tested elsewhere).
    static Status InsertUser(Tx& tx, const std::string& username) {
        RETURN_IF_ERROR(tx.Exec(
            "INSERT INTO users (username, password_hash, created_at, updated_at) "
            "VALUES (?, 'x', 1, 1)",
            {username}));
        return {};
    }

    static std::int64_t CountUsers(Store& store) {
        std::int64_t n = -1;
        auto st = store.Read([&](Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT COUNT(*) FROM users"));
            n = row ? row->Int(0) : -1;
            return {};
        });
        EXPECT_TRUE(st.has_value()) << st.error().message;
        return n;
    }

    fs::path dir_;
    FakeClock clock_{kT0};
};

TEST_F(SqliteStoreTest, FreshFileAppliesAndRecordsEveryMigration) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto applied = store->AppliedMigrations();
    ASSERT_TRUE(applied.has_value()) << applied.error().message;
    EXPECT_EQ(*applied, MigrationVersions());
    EXPECT_FALSE(applied->empty());

    // Recorded with names and the time they were applied.
    auto st = store->Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT version, name, applied_at FROM schema_migrations "
                                  "ORDER BY version"));
        EXPECT_EQ(rows.size(), Migrations().size());
        for (std::size_t i = 0; i < rows.size() && i < Migrations().size(); ++i) {
            EXPECT_EQ(rows[i].Int(0), Migrations()[i].version);
            EXPECT_EQ(rows[i].Text(1), Migrations()[i].name);
            EXPECT_EQ(rows[i].Int(2), kT0);
        }
        // The schema is usable: tables from the first and the last migration exist.
        RETURN_IF_ERROR(tx.Query("SELECT COUNT(*) FROM users"));
        RETURN_IF_ERROR(tx.Query("SELECT COUNT(*) FROM project_env"));
        return {};
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST_F(SqliteStoreTest, ReopeningAppliesNothingNewAndKeepsData) {
    {
        auto store = OpenStore();
        ASSERT_NE(store, nullptr);
        auto st = store->Write([](Tx& tx) { return InsertUser(tx, "alice"); });
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }
    clock_.Advance(3'600'000);
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto applied = store->AppliedMigrations();
    ASSERT_TRUE(applied.has_value()) << applied.error().message;
    EXPECT_EQ(*applied, MigrationVersions());
    EXPECT_EQ(CountUsers(*store), 1);
    auto st = store->Read([&](Tx& tx) -> Status {
        // Nothing re-applied: every migration still carries the first start's time.
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT applied_at FROM schema_migrations"));
        EXPECT_EQ(rows.size(), Migrations().size());
        for (const Row& r : rows) {
            EXPECT_EQ(r.Int(0), kT0);
        }
        return {};
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST_F(SqliteStoreTest, OpenInMissingDirectoryIsAClearError) {
    SqliteOptions options;
    options.path = (dir_ / "no" / "such" / "dir" / "lathe.db").string();
    auto opened = SqliteStore::Open(options, clock_);
    ASSERT_FALSE(opened.has_value());
    EXPECT_NE(opened.error().message.find(options.path), std::string::npos)
        << opened.error().message;
}

TEST_F(SqliteStoreTest, FailedWriteRollsBackAndReturnsTheError) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto st = store->Write([](Tx& tx) -> Status {
        RETURN_IF_ERROR(InsertUser(tx, "alice"));
        RETURN_IF_ERROR(InsertUser(tx, "bob"));
        return MakeError(ErrorCode::kBadRequest, "changed my mind");
    });
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(st.error().message, "changed my mind");
    EXPECT_EQ(CountUsers(*store), 0);

    // The writer is usable afterwards (no transaction left open).
    st = store->Write([](Tx& tx) { return InsertUser(tx, "carol"); });
    ASSERT_TRUE(st.has_value()) << st.error().message;
    EXPECT_EQ(CountUsers(*store), 1);
}

TEST_F(SqliteStoreTest, UniqueViolationIsConflictAndRollsBackTheWholeWrite) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write([](Tx& tx) { return InsertUser(tx, "alice"); }).has_value());

    auto st = store->Write([](Tx& tx) -> Status {
        RETURN_IF_ERROR(InsertUser(tx, "bob"));
        RETURN_IF_ERROR(InsertUser(tx, "alice"));
        return {};
    });
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kConflict);
    EXPECT_EQ(st.error().message, kUniqueViolation);
    EXPECT_EQ(CountUsers(*store), 1);  // bob was rolled back with the failed insert
}

TEST_F(SqliteStoreTest, CompositePrimaryKeyViolationIsConflict) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto st = store->Write([](Tx& tx) -> Status {
        RETURN_IF_ERROR(InsertUser(tx, "alice"));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO teams (name, created_at) VALUES ('ml', 1)"));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO team_members (team_id, user_id, role) VALUES (1, 1, 1)"));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO team_members (team_id, user_id, role) VALUES (1, 1, 2)"));
        return {};
    });
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kConflict);
}

TEST_F(SqliteStoreTest, ForeignKeysAreEnforced) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    // A membership for a user that does not exist must not be stored.
    auto st = store->Write([](Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("INSERT INTO teams (name, created_at) VALUES ('ml', 1)"));
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO team_members (team_id, user_id, role) VALUES (1, 999, 1)"));
        return {};
    });
    EXPECT_FALSE(st.has_value());
}

// Handler code running inside a transaction can throw (a JSON accessor, std::bad_alloc); the
// server's backstop turns that into one 500. The store must come out of it usable: the writer
// rolled back and free for the next write, rather than every later write failing until restart.
TEST_F(SqliteStoreTest, WriteThatThrowsRollsBackAndLeavesTheStoreWritable) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_THROW(store->Write([](Tx& tx) -> Status {
        RETURN_IF_ERROR(InsertUser(tx, "half-done"));
        throw std::runtime_error("handler bug");
    }),
                 std::runtime_error);
    auto st = store->Write([](Tx& tx) { return InsertUser(tx, "alice"); });
    EXPECT_TRUE(st.has_value()) << "a write after a throwing write failed: " << st.error().message;
    EXPECT_EQ(CountUsers(*store), st.has_value() ? 1 : 0);
}

TEST_F(SqliteStoreTest, ReadThatThrowsLeavesTheReaderUsable) {
    auto store = OpenStore(/*readers=*/1);
    ASSERT_NE(store, nullptr);
    EXPECT_THROW(store->Read([](Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Query("SELECT COUNT(*) FROM users"));
        throw std::runtime_error("handler bug");
    }),
                 std::runtime_error);
    ASSERT_TRUE(store->Write([](Tx& tx) { return InsertUser(tx, "alice"); }).has_value());
    // The only reader must start a fresh transaction and see the new row, not fail or read a
    // snapshot left open by the throwing call.
    std::int64_t n = -1;
    auto st = store->Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT COUNT(*) FROM users"));
        n = row ? row->Int(0) : -1;
        return {};
    });
    EXPECT_TRUE(st.has_value()) << "a read after a throwing read failed: " << st.error().message;
    EXPECT_EQ(n, 1);
}

TEST_F(SqliteStoreTest, ReadSeesCommittedData) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(CountUsers(*store), 0);
    std::int64_t id = 0;
    auto st = store->Write([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(id, tx.InsertReturningId(
                                 "INSERT INTO users (username, password_hash, created_at, "
                                 "updated_at) VALUES ('alice', 'h', 5, 5) RETURNING id"));
        return {};
    });
    ASSERT_TRUE(st.has_value()) << st.error().message;
    EXPECT_GT(id, 0);
    st = store->Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row,
                         tx.QueryOne("SELECT username, created_at, email FROM users WHERE id = ?",
                                     {id}));
        EXPECT_TRUE(row.has_value());
        if (row) {
            EXPECT_EQ(row->Text(0), "alice");
            EXPECT_EQ(row->Int(1), 5);
            EXPECT_EQ(row->Text(2), "");
        }
        ASSIGN_OR_RETURN(auto missing, tx.QueryOne("SELECT id FROM users WHERE id = ?", {id + 1}));
        EXPECT_FALSE(missing.has_value());
        return {};
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST_F(SqliteStoreTest, ReadTransactionsCannotWrite) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto st = store->Read([](Tx& tx) { return InsertUser(tx, "sneaky"); });
    EXPECT_FALSE(st.has_value());
    EXPECT_EQ(CountUsers(*store), 0);
}

TEST_F(SqliteStoreTest, ValuesRoundTripWithTheirTypes) {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const std::string with_nul("a\0b", 3);
    auto st = store->Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT ?, ?, ?, ?",
                                               {std::int64_t{-42}, 2.5, with_nul, nullptr}));
        EXPECT_TRUE(row.has_value());
        if (row) {
            EXPECT_EQ(row->Int(0), -42);
            EXPECT_DOUBLE_EQ(row->Double(1), 2.5);
            EXPECT_EQ(row->Text(2), with_nul);
            EXPECT_TRUE(row->IsNull(3));
            EXPECT_EQ(row->Text(3), "");
        }
        return {};
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

// Writers add users two at a time while readers count them: a reader must never see half a
// write (odd count) or a count going backwards, and nothing may deadlock, with more reader
// threads than pooled reader connections.
TEST_F(SqliteStoreTest, ConcurrentReadersAndWritersSeeConsistentCounts) {
    auto store = OpenStore(/*readers=*/2, /*synchronous_full=*/false);
    ASSERT_NE(store, nullptr);
    constexpr int kWriters = 2;
    constexpr int kWritesPerWriter = 40;
    constexpr int kReaders = 6;

    std::atomic<int> writers_running{kWriters};
    std::atomic<int> write_failures{0};
    std::atomic<int> inconsistent{0};
    std::atomic<int> read_failures{0};
    std::atomic<int> reads{0};

    RunWithDeadline("ConcurrentReadersAndWritersSeeConsistentCounts", 30, [&] {
        std::vector<std::thread> threads;
        for (int w = 0; w < kWriters; ++w) {
            threads.emplace_back([&, w] {
                for (int i = 0; i < kWritesPerWriter; ++i) {
                    auto st = store->Write([&](Tx& tx) -> Status {
                        const std::string base = "w" + std::to_string(w) + "-" + std::to_string(i);
                        RETURN_IF_ERROR(InsertUser(tx, base + "-a"));
                        RETURN_IF_ERROR(InsertUser(tx, base + "-b"));
                        return {};
                    });
                    if (!st) {
                        ++write_failures;
                    }
                }
                --writers_running;
            });
        }
        for (int r = 0; r < kReaders; ++r) {
            threads.emplace_back([&] {
                std::int64_t last = 0;
                // Keep reading while the writers run, plus one read after they finish.
                for (bool last_round = false; !last_round;) {
                    last_round = writers_running.load() == 0;
                    auto st = store->Read([&](Tx& tx) -> Status {
                        ASSIGN_OR_RETURN(auto a, tx.QueryOne("SELECT COUNT(*) FROM users"));
                        ASSIGN_OR_RETURN(auto b, tx.QueryOne("SELECT COUNT(*) FROM users"));
                        const std::int64_t n = a ? a->Int(0) : -1;
                        // Within one read transaction the snapshot doesn't move.
                        if (n % 2 != 0 || n < last || !b || b->Int(0) != n) {
                            ++inconsistent;
                        }
                        last = n;
                        return {};
                    });
                    if (!st) {
                        ++read_failures;
                    }
                    ++reads;
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
    });
    EXPECT_EQ(write_failures.load(), 0);
    EXPECT_EQ(read_failures.load(), 0);
    EXPECT_EQ(inconsistent.load(), 0);
    EXPECT_GE(reads.load(), kReaders);
    EXPECT_EQ(CountUsers(*store), 2 * kWriters * kWritesPerWriter);
}

TEST_F(SqliteStoreTest, PingWorksRepeatedlyWithOneReader) {
    auto store = OpenStore(/*readers=*/1);
    ASSERT_NE(store, nullptr);
    RunWithDeadline("PingWorksRepeatedlyWithOneReader", 10, [&] {
        // Each call must hand the single reader back to the pool, or the next one waits forever.
        for (int i = 0; i < 3; ++i) {
            EXPECT_TRUE(store->Ping().has_value()) << "ping " << i;
        }
        // Also after a read whose function failed.
        auto failed = store->Read([](Tx&) -> Status {
            return MakeError(ErrorCode::kInternal, "boom");
        });
        EXPECT_FALSE(failed.has_value());
        EXPECT_TRUE(store->Ping().has_value());
    });
}

TEST(MigrationsTest, VersionsStartAtOneAndIncreaseWithoutGaps) {
    const auto versions = MigrationVersions();
    ASSERT_FALSE(versions.empty());
    for (std::size_t i = 0; i < versions.size(); ++i) {
        EXPECT_EQ(versions[i], static_cast<int>(i) + 1);
    }
}

TEST(MigrationsTest, MigrationSqlExpandsIdPerDialect) {
    const Migration m{99, "test", "CREATE TABLE a (id {{id}}); CREATE TABLE b (id {{id}}, x INT);"};
    EXPECT_EQ(MigrationSql(m, Dialect::kSqlite),
              "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT); "
              "CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT, x INT);");
    EXPECT_EQ(MigrationSql(m, Dialect::kPostgres),
              "CREATE TABLE a (id BIGSERIAL PRIMARY KEY); "
              "CREATE TABLE b (id BIGSERIAL PRIMARY KEY, x INT);");
    const Migration plain{100, "plain", "SELECT 1"};
    EXPECT_EQ(MigrationSql(plain, Dialect::kPostgres), "SELECT 1");
}

TEST(MigrationsTest, RealMigrationsLeaveNoPlaceholders) {
    for (const Migration& m : Migrations()) {
        for (Dialect d : {Dialect::kSqlite, Dialect::kPostgres}) {
            const std::string sql = MigrationSql(m, d);
            EXPECT_EQ(sql.find("{{"), std::string::npos) << m.name;
            const std::string_view id = d == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                                              : "BIGSERIAL PRIMARY KEY";
            EXPECT_EQ(CountOccurrences(sql, id), CountOccurrences(m.sql, "{{id}}")) << m.name;
        }
    }
}

}  // namespace
}  // namespace lathe::store
