// SQLite implementation of the Store: WAL, busy timeout, cached prepared statements.
#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <unordered_map>

#include "core/log.h"
#include "store/migrations.h"

namespace lathe::store {

// One sqlite3 handle with its prepared-statement cache; used by one thread at a time.
class SqliteConnection final : public Tx {
public:
    ~SqliteConnection() override {
        for (auto& [sql, stmt] : statements_) {
            sqlite3_finalize(stmt);
        }
        sqlite3_close_v2(db_);
    }

    static Result<std::unique_ptr<SqliteConnection>> Open(const SqliteOptions& options,
                                                          bool reader) {
        sqlite3* db = nullptr;
        int rc = sqlite3_open_v2(options.path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        auto conn = std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
        if (rc != SQLITE_OK) {
            return MakeError(ErrorCode::kUnavailable, "cannot open database " + options.path +
                                                          ": " + sqlite3_errstr(rc));
        }
        sqlite3_busy_timeout(db, options.busy_timeout_ms);
        std::string pragmas = "PRAGMA foreign_keys=ON;";
        if (!reader) {
            pragmas += "PRAGMA journal_mode=WAL;";
        }
        pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
        if (reader) {
            pragmas += "PRAGMA query_only=1;";
        }
        RETURN_IF_ERROR(conn->ExecScript(pragmas));
        return conn;
    }

    Status ExecScript(const std::string& sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            return MakeError(ErrorCode::kInternal, "database: " + message);
        }
        return {};
    }

    Result<std::int64_t> Exec(std::string_view sql, const Params& params) override {
        ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) {
            return StepError(rc);
        }
        return static_cast<std::int64_t>(sqlite3_changes(db_));
    }

    Result<std::vector<Row>> Query(std::string_view sql, const Params& params) override {
        ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql, params));
        std::vector<Row> rows;
        int columns = sqlite3_column_count(stmt);
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            std::vector<Value> values;
            values.reserve(columns);
            for (int i = 0; i < columns; ++i) {
                switch (sqlite3_column_type(stmt, i)) {
                    case SQLITE_INTEGER: values.emplace_back(sqlite3_column_int64(stmt, i)); break;
                    case SQLITE_FLOAT: values.emplace_back(sqlite3_column_double(stmt, i)); break;
                    case SQLITE_NULL: values.emplace_back(nullptr); break;
                    default: {
                        const auto* text = sqlite3_column_text(stmt, i);
                        int n = sqlite3_column_bytes(stmt, i);
                        values.emplace_back(std::string(reinterpret_cast<const char*>(text), n));
                    }
                }
            }
            rows.emplace_back(std::move(values));
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) {
            return StepError(rc);
        }
        return rows;
    }

private:
    explicit SqliteConnection(sqlite3* db) : db_(db) {}

    Result<sqlite3_stmt*> Prepare(std::string_view sql, const Params& params) {
        sqlite3_stmt* stmt = nullptr;
        auto it = statements_.find(std::string(sql));
        if (it != statements_.end()) {
            stmt = it->second;
        } else {
            int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
            if (rc != SQLITE_OK) {
                return MakeError(ErrorCode::kInternal,
                                 std::string("database: cannot prepare: ") + sqlite3_errmsg(db_));
            }
            statements_.emplace(std::string(sql), stmt);
        }
        sqlite3_clear_bindings(stmt);
        for (std::size_t i = 0; i < params.size(); ++i) {
            int idx = static_cast<int>(i) + 1;
            const Value& v = params[i];
            if (auto p = std::get_if<std::int64_t>(&v)) {
                sqlite3_bind_int64(stmt, idx, *p);
            } else if (auto p = std::get_if<double>(&v)) {
                sqlite3_bind_double(stmt, idx, *p);
            } else if (auto p = std::get_if<std::string>(&v)) {
                sqlite3_bind_text(stmt, idx, p->data(), static_cast<int>(p->size()),
                                  SQLITE_TRANSIENT);
            } else {
                sqlite3_bind_null(stmt, idx);
            }
        }
        return stmt;
    }

    std::unexpected<Error> StepError(int rc) {
        int extended = sqlite3_extended_errcode(db_);
        if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return MakeError(ErrorCode::kConflict, std::string(kUniqueViolation));
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            return MakeError(ErrorCode::kUnavailable, "database is busy, try again");
        }
        return MakeError(ErrorCode::kInternal, std::string("database: ") + sqlite3_errmsg(db_));
    }

    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options,
                                                        const Clock& clock) {
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore());
    ASSIGN_OR_RETURN(store->writer_, SqliteConnection::Open(options, /*reader=*/false));
    RETURN_IF_ERROR(store->Migrate(clock));
    for (int i = 0; i < options.readers; ++i) {
        ASSIGN_OR_RETURN(auto reader, SqliteConnection::Open(options, /*reader=*/true));
        store->idle_readers_.push_back(reader.get());
        store->readers_.push_back(std::move(reader));
    }
    return store;
}

SqliteStore::~SqliteStore() = default;

Status SqliteStore::Migrate(const Clock& clock) {
    RETURN_IF_ERROR(writer_->ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"));
    ASSIGN_OR_RETURN(auto applied, AppliedMigrations());
    int latest = applied.empty() ? 0 : applied.back();
    const int known = Migrations().empty() ? 0 : Migrations().back().version;
    if (latest > known) {
        return MakeError(ErrorCode::kUnavailable,
                         "the database has schema version " + std::to_string(latest) +
                             ", written by a newer Lathe; this binary knows up to " +
                             std::to_string(known) + ". Run the newer version.");
    }
    for (const Migration& m : Migrations()) {
        if (m.version <= latest) {
            continue;
        }
        RETURN_IF_ERROR(Write([&](Tx& tx) -> Status {
            RETURN_IF_ERROR(writer_->ExecScript(MigrationSql(m, Dialect::kSqlite)));
            RETURN_IF_ERROR(tx.Exec(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                {std::int64_t{m.version}, m.name, clock.NowMs()}));
            return {};
        }));
        LogInfo("applied migration", {{"version", m.version}, {"name", m.name}});
    }
    return {};
}

Result<std::vector<int>> SqliteStore::AppliedMigrations() {
    std::lock_guard lock(write_mu_);
    ASSIGN_OR_RETURN(auto rows,
                     writer_->Query("SELECT version FROM schema_migrations ORDER BY version", {}));
    std::vector<int> versions;
    for (const auto& r : rows) {
        versions.push_back(static_cast<int>(r.Int(0)));
    }
    return versions;
}

SqliteConnection* SqliteStore::AcquireReader() {
    std::unique_lock lock(mu_);
    reader_free_.wait(lock, [this] { return !idle_readers_.empty(); });
    SqliteConnection* conn = idle_readers_.back();
    idle_readers_.pop_back();
    return conn;
}

void SqliteStore::ReleaseReader(SqliteConnection* conn) {
    {
        std::lock_guard lock(mu_);
        idle_readers_.push_back(conn);
    }
    reader_free_.notify_one();
}

Status SqliteStore::Read(const std::function<Status(Tx&)>& fn) {
    SqliteConnection* conn = AcquireReader();
    struct Release {
        SqliteStore* store;
        SqliteConnection* conn;
        ~Release() { store->ReleaseReader(conn); }
    } release{this, conn};
    RETURN_IF_ERROR(conn->ExecScript("BEGIN"));
    Status st;
    try {
        st = fn(*conn);
    } catch (...) {
        // The connection goes back to the pool: it must not stay inside this transaction.
        (void)conn->ExecScript("ROLLBACK");
        throw;
    }
    (void)conn->ExecScript("COMMIT");
    return st;
}

Status SqliteStore::Write(const std::function<Status(Tx&)>& fn) {
    std::lock_guard lock(write_mu_);
    RETURN_IF_ERROR(writer_->ExecScript("BEGIN IMMEDIATE"));
    Status st;
    try {
        st = fn(*writer_);
    } catch (...) {
        // One stray exception must not leave every later write "within a transaction".
        (void)writer_->ExecScript("ROLLBACK");
        throw;
    }
    if (!st) {
        (void)writer_->ExecScript("ROLLBACK");
        return st;
    }
    if (auto commit = writer_->ExecScript("COMMIT"); !commit) {
        (void)writer_->ExecScript("ROLLBACK");
        return commit;
    }
    return {};
}

Status SqliteStore::Ping() {
    return Read([](Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Query("SELECT 1", {}));
        return {};
    });
}

}  // namespace lathe::store
