// SQLite implementation of the metrics store: predictions appended in id (arrival) order with a
// per-minute span index instead of a time index, rollups maintained incrementally by id.
#include "metrics/sqlite_metrics_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "metrics/json_text.h"
#include "metrics/summary.h"

namespace lathe::metrics {

using json = nlohmann::json;

namespace {

constexpr std::int64_t kMinuteMs = 60 * 1000;
constexpr std::int64_t kHourMs = 3600 * 1000;

std::int64_t FloorTo(std::int64_t t, std::int64_t step) {
    std::int64_t q = t / step;
    if (t % step != 0 && t < 0) {
        --q;
    }
    return q * step;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    deployment_id INTEGER NOT NULL UNIQUE,
    project_id INTEGER NOT NULL,
    model_id INTEGER NOT NULL,
    build_id INTEGER NOT NULL,
    model_crn TEXT NOT NULL,
    build_crn TEXT NOT NULL,
    deployment_crn TEXT NOT NULL UNIQUE,
    raw_kept_from_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS series_model ON series(model_crn);
CREATE INDEX IF NOT EXISTS series_build ON series(build_crn);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    metrics TEXT NOT NULL);
-- uuid -> prediction, filled in sorted chunks behind the appends (see IndexUuids): a uuid4 is
-- random, and a B-tree index updated on every append dirties a page per record.
CREATE TABLE IF NOT EXISTS prediction_uuids (
    uuid_key INTEGER NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (uuid_key, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prediction_spans (
    series INTEGER NOT NULL,
    minute_ms INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    PRIMARY KEY (series, minute_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delayed (
    id INTEGER PRIMARY KEY,
    prediction INTEGER NOT NULL,
    series INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    metrics TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS delayed_prediction ON delayed(prediction);
CREATE TABLE IF NOT EXISTS aggregates (
    id INTEGER PRIMARY KEY,
    series INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS aggregates_series ON aggregates(series, start_ms);
CREATE TABLE IF NOT EXISTS rollups (
    series INTEGER NOT NULL,
    resolution_ms INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    metric TEXT NOT NULL,
    summary BLOB NOT NULL,
    PRIMARY KEY (series, resolution_ms, bucket_ms, metric)) WITHOUT ROWID;
-- The serving history: one row per deployment and minute with calls (see ServingMinute).
CREATE TABLE IF NOT EXISTS serving_minutes (
    deployment_id INTEGER NOT NULL,
    minute_ms INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    p50_ms REAL NOT NULL,
    p95_ms REAL NOT NULL,
    p99_ms REAL NOT NULL,
    latency TEXT NOT NULL,
    PRIMARY KEY (deployment_id, minute_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL);
)sql";

// Merges JSON objects' texts: later keys win. Texts that are not objects are skipped. Stored
// texts are compact dumps, so this splices spans instead of parsing numbers (a read can merge a
// million of them); anything the scanner doesn't understand takes the parsing path.
std::string MergeObjects(std::string_view base, const std::vector<std::string>& more) {
    thread_local std::vector<std::pair<std::string_view, std::string_view>> members;
    // The usual case: one delayed object whose keys the prediction doesn't have — append its
    // members. A key found anywhere in the base text (even inside a string) takes the full path.
    if (more.size() == 1 && base.size() >= 2 && base.back() == '}') {
        members.clear();
        const std::string_view extra = more[0];
        bool clash = !ScanMembers(extra, members);
        for (const auto& [key, value] : members) {
            if (clash) {
                break;
            }
            for (std::size_t at = base.find(key); at != std::string_view::npos;
                 at = base.find(key, at + 1)) {
                if (at + key.size() < base.size() && base[at + key.size()] == ':') {
                    clash = true;
                    break;
                }
            }
        }
        if (!clash) {
            if (members.empty()) {
                return std::string(base);
            }
            std::string out;
            const std::size_t inner = extra.find('{') + 1;
            const std::size_t inner_end = extra.rfind('}');
            const bool base_empty = base.find_first_not_of(" {}\n\t\r") == std::string_view::npos;
            out.reserve(base.size() + extra.size());
            out.append(base.data(), base.size() - 1);
            if (!base_empty) {
                out += ',';
            } else {
                out = "{";
            }
            out.append(extra.data() + inner, inner_end - inner);
            out += '}';
            return out;
        }
    }
    members.clear();
    bool scanned = ScanMembers(base, members);
    for (const auto& m : more) {
        scanned = scanned && ScanMembers(m, members);
    }
    if (scanned) {
        std::string out;
        out.reserve(base.size() + 64 * more.size());
        out += '{';
        bool first = true;
        for (std::size_t i = 0; i < members.size(); ++i) {
            bool overridden = false;
            for (std::size_t j = i + 1; j < members.size() && !overridden; ++j) {
                overridden = members[j].first == members[i].first;
            }
            if (overridden) {
                continue;
            }
            if (!first) {
                out += ',';
            }
            first = false;
            out += members[i].first;
            out += ':';
            out += members[i].second;
        }
        out += '}';
        return out;
    }
    json merged = json::parse(base, nullptr, false);
    if (!merged.is_object()) {
        merged = json::object();
    }
    for (const auto& m : more) {
        json extra = json::parse(m, nullptr, false);
        if (!extra.is_object()) {
            continue;
        }
        for (auto& [k, v] : extra.items()) {
            merged[k] = std::move(v);
        }
    }
    return merged.dump();
}

// The 64-bit FNV-1a hash of a uuid's text: prediction_uuids' key.
std::int64_t UuidKey(std::string_view uuid) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : uuid) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return static_cast<std::int64_t>(h);
}

// Calls fn(key, value) for each top-level number (booleans excluded) of a JSON object's text.
template <typename Fn>
void ForEachNumber(std::string_view text, Fn&& fn) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) {
        return;
    }
    for (auto& [k, v] : j.items()) {
        if (v.is_number()) {
            const double x = v.template get<double>();
            if (std::isfinite(x)) {
                fn(k, x);
            }
        }
    }
}

}  // namespace

// One sqlite3 handle with its cached statements; used by one thread at a time.
class SqliteMetricsStore::Connection {
public:
    // A cached statement, reset and cleared when the Stmt goes out of scope.
    class Stmt {
    public:
        explicit Stmt(sqlite3_stmt* s) : s_(s) {}
        Stmt(const Stmt&) = delete;
        ~Stmt() {
            sqlite3_reset(s_);
            sqlite3_clear_bindings(s_);
        }
        Stmt& Bind(int i, std::int64_t v) {
            sqlite3_bind_int64(s_, i, v);
            return *this;
        }
        Stmt& Bind(int i, std::string_view v) {
            sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
            return *this;
        }
        Stmt& BindDouble(int i, double v) {
            sqlite3_bind_double(s_, i, v);
            return *this;
        }
        Stmt& BindBlob(int i, std::string_view v) {
            sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
            return *this;
        }
        // SQLITE_ROW, SQLITE_DONE or an error code.
        int Step() { return sqlite3_step(s_); }
        void Reset() { sqlite3_reset(s_); }
        std::int64_t Int(int i) const { return sqlite3_column_int64(s_, i); }
        double Double(int i) const { return sqlite3_column_double(s_, i); }
        std::string_view Text(int i) const {
            const auto* p = sqlite3_column_text(s_, i);
            return p == nullptr ? std::string_view()
                                : std::string_view(reinterpret_cast<const char*>(p),
                                                   sqlite3_column_bytes(s_, i));
        }
        std::string_view Blob(int i) const {
            const void* p = sqlite3_column_blob(s_, i);
            return p == nullptr
                       ? std::string_view()
                       : std::string_view(static_cast<const char*>(p), sqlite3_column_bytes(s_, i));
        }

    private:
        sqlite3_stmt* s_;
    };

    ~Connection() {
        for (auto& [sql, stmt] : statements_) {
            sqlite3_finalize(stmt);
        }
        sqlite3_close_v2(db_);
    }

    static Result<std::unique_ptr<Connection>> Open(const SqliteMetricsOptions& o, bool reader) {
        sqlite3* db = nullptr;
        const int rc = sqlite3_open_v2(
            o.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        auto c = std::unique_ptr<Connection>(new Connection(db));
        if (rc != SQLITE_OK) {
            return MakeError(ErrorCode::kUnavailable, "cannot open the metrics database " + o.path +
                                                          ": " + sqlite3_errstr(rc));
        }
        sqlite3_busy_timeout(db, 10000);
        // The writer never checkpoints (Housekeep does, on its own connection): a checkpoint's
        // fsync inside a commit would hold up every answer waiting for that commit.
        std::string pragmas = reader ? "PRAGMA query_only=1;"
                                     : "PRAGMA journal_mode=WAL;PRAGMA wal_autocheckpoint=0;";
        pragmas += o.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
        pragmas += reader ? "PRAGMA cache_size=-65536;" : "PRAGMA cache_size=-262144;";
        RETURN_IF_ERROR(c->Exec(pragmas));
        return c;
    }

    Status Exec(const std::string& sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            return MakeError(ErrorCode::kInternal, "metrics database: " + message);
        }
        return {};
    }

    Result<sqlite3_stmt*> Prepare(const char* sql) {
        auto it = statements_.find(sql);
        if (it != statements_.end()) {
            return it->second;
        }
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
            SQLITE_OK) {
            return MakeError(
                ErrorCode::kInternal,
                std::string("metrics database: cannot prepare: ") + sqlite3_errmsg(db_));
        }
        statements_.emplace(sql, stmt);
        return stmt;
    }

    std::unexpected<Error> StepError() {
        const int rc = sqlite3_errcode(db_);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            return MakeError(ErrorCode::kUnavailable, "the metrics database is busy, try again");
        }
        if (rc == SQLITE_FULL) {
            return MakeError(ErrorCode::kUnavailable, "the metrics database's disk is full");
        }
        return MakeError(ErrorCode::kInternal,
                         std::string("metrics database: ") + sqlite3_errmsg(db_));
    }

    // Runs a statement that returns no rows.
    Status Done(Stmt& s) {
        int rc = s.Step();
        while (rc == SQLITE_ROW) {
            rc = s.Step();
        }
        if (rc != SQLITE_DONE) {
            return StepError();
        }
        return {};
    }

    std::int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
    // Copies committed WAL pages into the database without waiting for readers or writers.
    Status Checkpoint() {
        const int rc =
            sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            return MakeError(ErrorCode::kInternal,
                             std::string("metrics database checkpoint: ") + sqlite3_errmsg(db_));
        }
        return {};
    }
    int Changes() const { return sqlite3_changes(db_); }

    // Runs fn inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails.
    template <typename Fn>
    Status Transaction(Fn&& fn) {
        RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
        Status st;
        try {
            st = fn();
        } catch (...) {
            (void)Exec("ROLLBACK");
            throw;
        }
        if (!st) {
            (void)Exec("ROLLBACK");
            return st;
        }
        if (auto commit = Exec("COMMIT"); !commit) {
            (void)Exec("ROLLBACK");
            return commit;
        }
        return {};
    }

private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> statements_;  // keyed by the literal's address
};

using Stmt = SqliteMetricsStore::Connection::Stmt;

#define PREPARE(conn, var, sql)                                     \
    ASSIGN_OR_RETURN(sqlite3_stmt* var##_raw, (conn).Prepare(sql)); \
    Stmt var(var##_raw)

namespace {

Series SeriesFrom(const Stmt& s) {
    Series out;
    out.id = s.Int(0);
    out.deployment_id = s.Int(1);
    out.project_id = s.Int(2);
    out.model_id = s.Int(3);
    out.build_id = s.Int(4);
    out.model_crn = std::string(s.Text(5));
    out.build_crn = std::string(s.Text(6));
    out.deployment_crn = std::string(s.Text(7));
    return out;
}

constexpr const char* kSeriesColumns =
    "id, deployment_id, project_id, model_id, build_id, model_crn, build_crn, deployment_crn";

}  // namespace

SqliteMetricsStore::SqliteMetricsStore(SqliteMetricsOptions options)
    : options_(std::move(options)) {}

SqliteMetricsStore::~SqliteMetricsStore() = default;

Result<std::unique_ptr<SqliteMetricsStore>> SqliteMetricsStore::Open(
    const SqliteMetricsOptions& options) {
    auto store = std::unique_ptr<SqliteMetricsStore>(new SqliteMetricsStore(options));
    ASSIGN_OR_RETURN(store->writer_, Connection::Open(options, /*reader=*/false));
    RETURN_IF_ERROR(store->writer_->Exec(kSchema));
    ASSIGN_OR_RETURN(store->checkpointer_, Connection::Open(options, /*reader=*/true));
    for (int i = 0; i < std::max(1, options.readers); ++i) {
        ASSIGN_OR_RETURN(auto reader, Connection::Open(options, /*reader=*/true));
        store->idle_readers_.push_back(reader.get());
        store->readers_.push_back(std::move(reader));
    }
    {
        PREPARE(*store->writer_, s, "SELECT value FROM rollup_state WHERE name = 'uuid_indexed'");
        if (s.Step() == SQLITE_ROW) {
            store->uuid_indexed_until_ = s.Int(0);
        }
    }
    {
        PREPARE(*store->writer_, s, "SELECT coalesce(max(id), 0) FROM predictions");
        if (s.Step() == SQLITE_ROW) {
            store->last_prediction_id_ = s.Int(0);
        }
    }
    // Deployment id -> series id, so appends never query for it.
    PREPARE(*store->writer_, s, "SELECT deployment_id, id FROM series ORDER BY deployment_id");
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
        store->series_by_deployment_.emplace_back(s.Int(0), s.Int(1));
    }
    if (rc != SQLITE_DONE) {
        return store->writer_->StepError();
    }
    return store;
}

void SqliteMetricsStore::ReturnReader::operator()(Connection* c) const {
    store->ReleaseReader(c);
}

SqliteMetricsStore::ReaderLease SqliteMetricsStore::AcquireReader() {
    std::unique_lock lock(read_mu_);
    reader_free_.wait(lock, [this] { return !idle_readers_.empty(); });
    Connection* c = idle_readers_.back();
    idle_readers_.pop_back();
    return ReaderLease(c, ReturnReader{this});
}

void SqliteMetricsStore::ReleaseReader(Connection* c) {
    {
        std::lock_guard lock(read_mu_);
        idle_readers_.push_back(c);
    }
    reader_free_.notify_one();
}

Result<Series> SqliteMetricsStore::RegisterSeries(const Series& in) {
    std::lock_guard lock(write_mu_);
    Series out = in;
    RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
        PREPARE(*writer_, s,
                "INSERT INTO series (deployment_id, project_id, model_id, build_id, model_crn, "
                "build_crn, deployment_crn) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (deployment_id) DO UPDATE SET project_id = excluded.project_id, "
                "model_id = excluded.model_id, build_id = excluded.build_id, "
                "model_crn = excluded.model_crn, build_crn = excluded.build_crn, "
                "deployment_crn = excluded.deployment_crn RETURNING id");
        s.Bind(1, in.deployment_id)
            .Bind(2, in.project_id)
            .Bind(3, in.model_id)
            .Bind(4, in.build_id)
            .Bind(5, in.model_crn)
            .Bind(6, in.build_crn)
            .Bind(7, in.deployment_crn);
        if (s.Step() != SQLITE_ROW) {
            return writer_->StepError();
        }
        out.id = s.Int(0);
        return writer_->Done(s);
    }));
    auto it = std::lower_bound(series_by_deployment_.begin(), series_by_deployment_.end(),
                               std::make_pair(in.deployment_id, std::int64_t{0}));
    if (it != series_by_deployment_.end() && it->first == in.deployment_id) {
        it->second = out.id;
    } else {
        series_by_deployment_.insert(it, {in.deployment_id, out.id});
    }
    return out;
}

Result<std::vector<Series>> SqliteMetricsStore::FindSeries(
    std::optional<std::string_view> deployment_crn,
    std::optional<std::string_view> model_crn,
    std::optional<std::string_view> build_crn) {
    const ReaderLease c = AcquireReader();
    std::string sql = std::string("SELECT ") + kSeriesColumns + " FROM series WHERE 1 = 1";
    std::vector<std::string_view> params;
    if (deployment_crn) {
        sql += " AND deployment_crn = ?";
        params.push_back(*deployment_crn);
    }
    if (model_crn) {
        sql += " AND model_crn = ?";
        params.push_back(*model_crn);
    }
    if (build_crn) {
        sql += " AND build_crn = ?";
        params.push_back(*build_crn);
    }
    sql += " ORDER BY id";
    // Eight shapes of this query at most: keep them in the statement cache by interning.
    static std::mutex intern_mu;
    static std::map<std::string, std::unique_ptr<std::string>> interned;
    const char* key;
    {
        std::lock_guard lock(intern_mu);
        auto& slot = interned[sql];
        if (!slot) {
            slot = std::make_unique<std::string>(sql);
        }
        key = slot->c_str();
    }
    PREPARE(*c, s, key);
    for (std::size_t i = 0; i < params.size(); ++i) {
        s.Bind(static_cast<int>(i) + 1, params[i]);
    }
    std::vector<Series> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
        out.push_back(SeriesFrom(s));
    }
    if (rc != SQLITE_DONE) {
        return c->StepError();
    }
    return out;
}

Result<std::int64_t> SqliteMetricsStore::SeriesIdOf(std::int64_t deployment_id) {
    auto it = std::lower_bound(series_by_deployment_.begin(), series_by_deployment_.end(),
                               std::make_pair(deployment_id, std::int64_t{0}));
    if (it == series_by_deployment_.end() || it->first != deployment_id) {
        return MakeError(ErrorCode::kNotFound,
                         "deployment " + std::to_string(deployment_id) + " has no metrics series");
    }
    return it->second;
}

Status SqliteMetricsStore::AppendPredictions(std::span<const PredictionRecord> records,
                                             std::size_t* skipped) {
    std::lock_guard lock(write_mu_);
    std::size_t skipped_here = 0;
    // (series, minute) -> first/last id, for the span index.
    std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> spans;
    Status st = writer_->Transaction([&]() -> Status {
        PREPARE(*writer_, insert,
                "INSERT INTO predictions (series, uuid, start_ms, end_ms, metrics) "
                "VALUES (?, ?, ?, ?, ?)");
        std::int64_t last_deployment = -1;
        std::int64_t series = 0;
        for (const PredictionRecord& r : records) {
            if (r.deployment_id != last_deployment) {
                auto id = SeriesIdOf(r.deployment_id);
                last_deployment = r.deployment_id;
                series = id ? *id : 0;
            }
            if (series == 0) {
                ++skipped_here;
                continue;
            }
            insert.Bind(1, series)
                .Bind(2, r.uuid)
                .Bind(3, r.start_ms)
                .Bind(4, r.end_ms)
                .Bind(5, r.metrics);
            if (insert.Step() != SQLITE_DONE) {
                return writer_->StepError();
            }
            insert.Reset();
            const std::int64_t id = writer_->LastInsertId();
            last_prediction_id_ = std::max(last_prediction_id_, id);
            auto [it, fresh] = spans.try_emplace({series, FloorTo(r.start_ms, kMinuteMs)}, id, id);
            if (!fresh) {
                it->second.second = id;
            }
        }
        PREPARE(*writer_, span,
                "INSERT INTO prediction_spans (series, minute_ms, first_id, last_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (series, minute_ms) DO UPDATE SET "
                "first_id = min(first_id, excluded.first_id), "
                "last_id = max(last_id, excluded.last_id)");
        for (const auto& [key, ids] : spans) {
            span.Bind(1, key.first).Bind(2, key.second).Bind(3, ids.first).Bind(4, ids.second);
            if (span.Step() != SQLITE_DONE) {
                return writer_->StepError();
            }
            span.Reset();
        }
        return {};
    });
    if (skipped != nullptr) {
        *skipped = skipped_here;
    }
    return st;
}

Status SqliteMetricsStore::CatchUp() {
    std::lock_guard lock(write_mu_);
    if (last_prediction_id_ - uuid_indexed_until_ < options_.uuid_index_chunk) {
        return {};
    }
    return IndexUuids();
}

// Indexes the uuids of records appended since the last call, sorted, in one transaction.
// write_mu_ held.
Status SqliteMetricsStore::IndexUuids() {
    return writer_->Transaction([&]() -> Status {
        std::vector<std::pair<std::int64_t, std::int64_t>> keys;
        std::int64_t last = uuid_indexed_until_;
        {
            PREPARE(*writer_, scan,
                    "SELECT id, uuid FROM predictions WHERE id > ? ORDER BY id LIMIT ?");
            scan.Bind(1, uuid_indexed_until_).Bind(2, options_.uuid_index_chunk);
            int rc;
            while ((rc = scan.Step()) == SQLITE_ROW) {
                last = scan.Int(0);
                keys.emplace_back(UuidKey(scan.Text(1)), last);
            }
            if (rc != SQLITE_DONE) {
                return writer_->StepError();
            }
        }
        std::sort(keys.begin(), keys.end());
        PREPARE(*writer_, put,
                "INSERT OR IGNORE INTO prediction_uuids (uuid_key, id) VALUES (?, ?)");
        for (const auto& [key, id] : keys) {
            put.Bind(1, key).Bind(2, id);
            if (put.Step() != SQLITE_DONE) {
                return writer_->StepError();
            }
            put.Reset();
        }
        PREPARE(*writer_, save,
                "INSERT OR REPLACE INTO rollup_state (name, value) "
                "VALUES ('uuid_indexed', ?)");
        save.Bind(1, last);
        RETURN_IF_ERROR(writer_->Done(save));
        uuid_indexed_until_ = last;
        return {};
    });
}

// The (id, series) of the oldest prediction with this uuid: through the uuid index, else in the
// not yet indexed tail.
Result<std::optional<std::pair<std::int64_t, std::int64_t>>> SqliteMetricsStore::FindPrediction(
    Connection& c, std::string_view uuid) {
    std::int64_t indexed_until = 0;
    {
        PREPARE(c, s, "SELECT value FROM rollup_state WHERE name = 'uuid_indexed'");
        if (s.Step() == SQLITE_ROW) {
            indexed_until = s.Int(0);
        }
    }
    {
        PREPARE(c, s,
                "SELECT p.id, p.series FROM prediction_uuids u JOIN predictions p ON "
                "p.id = u.id WHERE u.uuid_key = ? AND p.uuid = ? ORDER BY p.id LIMIT 1");
        s.Bind(1, UuidKey(uuid)).Bind(2, uuid);
        const int rc = s.Step();
        if (rc == SQLITE_ROW) {
            return std::make_pair(s.Int(0), s.Int(1));
        }
        if (rc != SQLITE_DONE) {
            return c.StepError();
        }
    }
    PREPARE(c, s,
            "SELECT id, series FROM predictions WHERE id > ? AND uuid = ? ORDER BY id "
            "LIMIT 1");
    s.Bind(1, indexed_until).Bind(2, uuid);
    const int rc = s.Step();
    if (rc == SQLITE_ROW) {
        return std::make_pair(s.Int(0), s.Int(1));
    }
    if (rc != SQLITE_DONE) {
        return c.StepError();
    }
    return std::nullopt;
}

Result<Series> SqliteMetricsStore::SeriesOfPrediction(std::string_view uuid) {
    const ReaderLease c = AcquireReader();
    RETURN_IF_ERROR(c->Exec("BEGIN"));
    struct End {
        Connection* c;
        ~End() { (void)c->Exec("COMMIT"); }
    } end{c.get()};
    ASSIGN_OR_RETURN(auto found, FindPrediction(*c, uuid));
    if (found) {
        PREPARE(*c, s,
                "SELECT id, deployment_id, project_id, model_id, build_id, model_crn, "
                "build_crn, deployment_crn FROM series WHERE id = ?");
        s.Bind(1, found->second);
        if (s.Step() == SQLITE_ROW) {
            return SeriesFrom(s);
        }
    }
    return MakeError(ErrorCode::kNotFound,
                     "no prediction has uuid " + std::string(uuid) +
                         " (it is not stored, or its raw records passed their retention)");
}

Result<DelayedResult> SqliteMetricsStore::AddDelayed(std::string_view uuid,
                                                     std::string_view metrics,
                                                     std::int64_t now_ms) {
    std::lock_guard lock(write_mu_);
    DelayedResult out;
    RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
        ASSIGN_OR_RETURN(auto found, FindPrediction(*writer_, uuid));
        PREPARE(*writer_, find,
                "SELECT p.id, p.start_ms, s.id, s.deployment_id, s.project_id, s.model_id, "
                "s.build_id, s.model_crn, s.build_crn, s.deployment_crn FROM predictions p "
                "JOIN series s ON s.id = p.series WHERE p.id = ?");
        find.Bind(1, found ? found->first : std::int64_t{-1});
        const int rc = find.Step();
        if (rc == SQLITE_DONE) {
            return MakeError(ErrorCode::kNotFound,
                             "no prediction has uuid " + std::string(uuid) +
                                 " (it is not stored, or its raw records passed their retention)");
        }
        if (rc != SQLITE_ROW) {
            return writer_->StepError();
        }
        const std::int64_t prediction = find.Int(0);
        out.prediction_start_ms = find.Int(1);
        out.series.id = find.Int(2);
        out.series.deployment_id = find.Int(3);
        out.series.project_id = find.Int(4);
        out.series.model_id = find.Int(5);
        out.series.build_id = find.Int(6);
        out.series.model_crn = std::string(find.Text(7));
        out.series.build_crn = std::string(find.Text(8));
        out.series.deployment_crn = std::string(find.Text(9));
        find.Reset();
        PREPARE(*writer_, insert,
                "INSERT INTO delayed (prediction, series, at_ms, metrics) VALUES (?, ?, ?, ?)");
        insert.Bind(1, prediction).Bind(2, out.series.id).Bind(3, now_ms).Bind(4, metrics);
        return writer_->Done(insert);
    }));
    return out;
}

Result<std::int64_t> SqliteMetricsStore::AddAggregate(std::int64_t series_id,
                                                      std::int64_t start_ms,
                                                      std::int64_t end_ms,
                                                      std::string_view metrics,
                                                      std::int64_t now_ms) {
    std::lock_guard lock(write_mu_);
    std::int64_t id = 0;
    RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
        PREPARE(*writer_, insert,
                "INSERT INTO aggregates (series, start_ms, end_ms, metrics, at_ms) "
                "VALUES (?, ?, ?, ?, ?)");
        insert.Bind(1, series_id)
            .Bind(2, start_ms)
            .Bind(3, end_ms)
            .Bind(4, metrics)
            .Bind(5, now_ms);
        RETURN_IF_ERROR(writer_->Done(insert));
        id = writer_->LastInsertId();
        return {};
    }));
    return id;
}

Result<ReadStats> SqliteMetricsStore::Read(
    const ReadRange& range,
    const std::function<void(const PredictionView&)>& prediction,
    const std::function<void(const AggregateView&)>& aggregate) {
    ReadStats stats;
    if (range.series.empty()) {
        return stats;
    }
    const ReaderLease c = AcquireReader();
    // One snapshot for the whole read: a concurrent append can't tear a merge.
    RETURN_IF_ERROR(c->Exec("BEGIN"));
    struct End {
        Connection* c;
        ~End() { (void)c->Exec("COMMIT"); }
    } end{c.get()};

    std::map<std::int64_t, Series> series;  // by store id
    {
        PREPARE(*c, s,
                "SELECT id, deployment_id, project_id, model_id, build_id, model_crn, "
                "build_crn, deployment_crn, raw_kept_from_ms FROM series WHERE id = ?");
        for (std::int64_t id : range.series) {
            s.Bind(1, id);
            if (s.Step() == SQLITE_ROW) {
                series.emplace(id, SeriesFrom(s));
                stats.raw_kept_from_ms = std::max(stats.raw_kept_from_ms, s.Int(8));
            }
            s.Reset();
        }
    }

    // Id ranges holding the window's predictions, from the per-minute spans.
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
    {
        PREPARE(*c, s,
                "SELECT first_id, last_id FROM prediction_spans "
                "WHERE series = ? AND minute_ms >= ? AND minute_ms <= ?");
        for (const auto& [id, _] : series) {
            s.Bind(1, id).Bind(2, FloorTo(range.start_ms, kMinuteMs)).Bind(3, range.end_ms);
            int rc;
            while ((rc = s.Step()) == SQLITE_ROW) {
                std::int64_t last = s.Int(1);
                if (range.max_id != 0) {
                    last = std::min(last, range.max_id);
                }
                ranges.emplace_back(std::max(s.Int(0), range.after_id + 1), last);
            }
            if (rc != SQLITE_DONE) {
                return c->StepError();
            }
            s.Reset();
        }
    }
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<std::int64_t, std::int64_t>> merged;
    for (const auto& r : ranges) {
        if (r.first > r.second) {
            continue;
        }
        if (!merged.empty() && r.first <= merged.back().second + 1) {
            merged.back().second = std::max(merged.back().second, r.second);
        } else {
            merged.push_back(r);
        }
    }

    PREPARE(*c, scan,
            "SELECT id, series, uuid, start_ms, end_ms, metrics FROM predictions "
            "WHERE id >= ? AND id <= ? ORDER BY id");
    PREPARE(*c, late,
            "SELECT prediction, metrics FROM delayed "
            "WHERE prediction >= ? AND prediction <= ? ORDER BY prediction, id");
    std::vector<std::string> extra;
    std::string merged_metrics;
    bool stop = false;
    for (const auto& [first, last] : merged) {
        if (stop) {
            break;
        }
        scan.Bind(1, first).Bind(2, last);
        late.Bind(1, first).Bind(2, last);
        int late_rc = late.Step();
        int rc;
        while ((rc = scan.Step()) == SQLITE_ROW) {
            const std::int64_t id = scan.Int(0);
            // Advance the delayed cursor to this prediction, collecting its rows.
            extra.clear();
            while (late_rc == SQLITE_ROW && late.Int(0) < id) {
                late_rc = late.Step();
            }
            while (late_rc == SQLITE_ROW && late.Int(0) == id) {
                extra.emplace_back(late.Text(1));
                late_rc = late.Step();
            }
            auto it = series.find(scan.Int(1));
            const std::int64_t start = scan.Int(3);
            if (it == series.end() || start < range.start_ms || start > range.end_ms) {
                continue;
            }
            if (range.limit != 0 && stats.predictions == range.limit) {
                stats.truncated = true;
                stats.next_after_id = id - 1;
                stop = true;
                break;
            }
            PredictionView v;
            v.series = &it->second;
            v.uuid = scan.Text(2);
            v.start_ms = start;
            v.end_ms = scan.Int(4);
            if (extra.empty()) {
                v.metrics = scan.Text(5);
            } else {
                merged_metrics = MergeObjects(scan.Text(5), extra);
                v.metrics = merged_metrics;
            }
            prediction(v);
            ++stats.predictions;
        }
        if (!stop && rc != SQLITE_DONE) {
            return c->StepError();
        }
        scan.Reset();
        late.Reset();
    }

    // Aggregates whose window overlaps the range (first page only).
    if (range.aggregates) {
        PREPARE(*c, s,
                "SELECT id, series, start_ms, end_ms, metrics FROM aggregates "
                "WHERE series = ? AND start_ms <= ? AND end_ms >= ? ORDER BY start_ms, id");
        for (const auto& [id, se] : series) {
            s.Bind(1, id).Bind(2, range.end_ms).Bind(3, range.start_ms);
            int rc;
            while ((rc = s.Step()) == SQLITE_ROW) {
                AggregateView v;
                v.series = &se;
                v.id = s.Int(0);
                v.start_ms = s.Int(2);
                v.end_ms = s.Int(3);
                v.metrics = s.Text(4);
                aggregate(v);
                ++stats.aggregates;
            }
            if (rc != SQLITE_DONE) {
                return c->StepError();
            }
            s.Reset();
        }
    }
    return stats;
}

Result<IdSpan> SqliteMetricsStore::PredictionIdSpan(const ReadRange& range) {
    IdSpan span;
    const ReaderLease c = AcquireReader();
    PREPARE(*c, s,
            "SELECT min(first_id), max(last_id), sum(last_id - first_id + 1) FROM "
            "prediction_spans WHERE series = ? AND minute_ms >= ? AND minute_ms <= ?");
    for (std::int64_t id : range.series) {
        s.Bind(1, id).Bind(2, FloorTo(range.start_ms, kMinuteMs)).Bind(3, range.end_ms);
        if (s.Step() == SQLITE_ROW && sqlite3_column_type(s_raw, 0) != SQLITE_NULL) {
            span.first_id = span.rows == 0 ? s.Int(0) : std::min(span.first_id, s.Int(0));
            span.last_id = std::max(span.last_id, s.Int(1));
            span.rows += s.Int(2);
        }
        s.Reset();
    }
    span.first_id = std::max(span.first_id, range.after_id + 1);
    if (range.max_id != 0) {
        span.last_id = std::min(span.last_id, range.max_id);
    }
    span.rows = std::min(span.rows, std::max<std::int64_t>(0, span.last_id - span.first_id + 1));
    return span;
}

Status SqliteMetricsStore::ReadSummaries(const ReadRange& range,
                                         std::int64_t resolution_ms,
                                         const std::vector<std::string>& metrics,
                                         const std::function<void(const SummaryView&)>& summary) {
    const ReaderLease c = AcquireReader();
    std::map<std::int64_t, Series> series;
    {
        PREPARE(*c, s,
                "SELECT id, deployment_id, project_id, model_id, build_id, model_crn, "
                "build_crn, deployment_crn FROM series WHERE id = ?");
        for (std::int64_t id : range.series) {
            s.Bind(1, id);
            if (s.Step() == SQLITE_ROW) {
                series.emplace(id, SeriesFrom(s));
            }
            s.Reset();
        }
    }
    PREPARE(*c, s,
            "SELECT bucket_ms, metric, summary FROM rollups WHERE series = ? AND "
            "resolution_ms = ? AND bucket_ms >= ? AND bucket_ms <= ? "
            "ORDER BY bucket_ms, metric");
    for (const auto& [id, se] : series) {
        s.Bind(1, id)
            .Bind(2, resolution_ms)
            .Bind(3, FloorTo(range.start_ms, resolution_ms))
            .Bind(4, range.end_ms);
        int rc;
        while ((rc = s.Step()) == SQLITE_ROW) {
            const std::string_view metric = s.Text(1);
            if (!metrics.empty() &&
                std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
                continue;
            }
            SummaryView v;
            v.series = &se;
            v.resolution_ms = resolution_ms;
            v.bucket_ms = s.Int(0);
            v.metric = metric;
            v.encoded = s.Blob(2);
            summary(v);
        }
        if (rc != SQLITE_DONE) {
            return c->StepError();
        }
        s.Reset();
    }
    return {};
}

// Rolls the next chunk of predictions (or delayed rows) past the last one rolled into the
// minute and hour summaries of their prediction's start time. Runs inside one transaction.
Result<std::int64_t> SqliteMetricsStore::RollChunk(std::int64_t now_ms, bool delayed) {
    const char* state_name = delayed ? "delayed" : "predictions";
    std::int64_t rolled = 0;
    std::int64_t last = 0;
    std::int64_t max_id = 0;
    // (series, resolution, bucket, metric) -> summary of this chunk.
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::string>, MetricSummary>
        pending;
    {
        // Read and summarize on a reader connection: appends go on meanwhile. Only this
        // (serialized) rollup moves rollup_state, so `last` is still current when we write.
        const ReaderLease c = AcquireReader();
        RETURN_IF_ERROR(c->Exec("BEGIN"));
        struct End {
            Connection* c;
            ~End() { (void)c->Exec("COMMIT"); }
        } end{c.get()};
        {
            PREPARE(*c, s, "SELECT value FROM rollup_state WHERE name = ?");
            s.Bind(1, state_name);
            if (s.Step() == SQLITE_ROW) {
                last = s.Int(0);
            }
        }
        max_id = last;
        PREPARE(*c, scan,
                delayed ? "SELECT d.id, d.series, p.start_ms, d.metrics FROM delayed d "
                          "JOIN predictions p ON p.id = d.prediction "
                          "WHERE d.id > ? ORDER BY d.id LIMIT ?"
                        : "SELECT id, series, start_ms, metrics FROM predictions "
                          "WHERE id > ? ORDER BY id LIMIT ?");
        scan.Bind(1, last).Bind(2, options_.rollup_chunk);
        int rc;
        while ((rc = scan.Step()) == SQLITE_ROW) {
            max_id = scan.Int(0);
            const std::int64_t series = scan.Int(1);
            const std::int64_t start = scan.Int(2);
            ForEachNumber(scan.Text(3), [&](const std::string& key, double x) {
                pending[{series, kMinuteMs, FloorTo(start, kMinuteMs), key}].Add(x);
                pending[{series, kHourMs, FloorTo(start, kHourMs), key}].Add(x);
            });
            ++rolled;
        }
        if (rc != SQLITE_DONE) {
            return c->StepError();
        }
    }
    if (rolled == 0) {
        return 0;
    }
    std::lock_guard lock(write_mu_);
    RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
        PREPARE(*writer_, get,
                "SELECT summary FROM rollups WHERE series = ? AND "
                "resolution_ms = ? AND bucket_ms = ? AND metric = ?");
        PREPARE(*writer_, put,
                "INSERT OR REPLACE INTO rollups (series, resolution_ms, "
                "bucket_ms, metric, summary) VALUES (?, ?, ?, ?, ?)");
        for (auto& [key, summary] : pending) {
            const auto& [series, resolution, bucket, metric] = key;
            get.Bind(1, series).Bind(2, resolution).Bind(3, bucket).Bind(4, metric);
            if (get.Step() == SQLITE_ROW) {
                if (auto old = MetricSummary::Decode(get.Blob(0))) {
                    summary.Merge(*old);
                }
            }
            get.Reset();
            const std::string blob = summary.Encode();
            put.Bind(1, series)
                .Bind(2, resolution)
                .Bind(3, bucket)
                .Bind(4, metric)
                .BindBlob(5, blob);
            if (put.Step() != SQLITE_DONE) {
                return writer_->StepError();
            }
            put.Reset();
        }
        PREPARE(*writer_, save, "INSERT OR REPLACE INTO rollup_state (name, value) VALUES (?, ?)");
        save.Bind(1, state_name).Bind(2, max_id);
        return writer_->Done(save);
    }));
    (void)now_ms;
    return rolled;
}

Status SqliteMetricsStore::Housekeep() {
    std::lock_guard lock(checkpoint_mu_);
    return checkpointer_->Checkpoint();
}

Result<RollupStats> SqliteMetricsStore::RollUp(std::int64_t now_ms, const RetentionPolicy& policy) {
    RollupStats stats;
    // Predictions first, then their delayed metrics, in chunks so appends get the writer
    // between them.
    for (bool delayed : {false, true}) {
        while (true) {
            ASSIGN_OR_RETURN(std::int64_t n, RollChunk(now_ms, delayed));
            (delayed ? stats.delayed_rolled : stats.predictions_rolled) += n;
            if (n < options_.rollup_chunk) {
                break;
            }
        }
    }
    // Retention: raw rows (already rolled) whose minute is past raw_ms, then old minute rollups.
    const std::int64_t raw_cutoff = FloorTo(now_ms - policy.raw_ms, kMinuteMs);
    std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>> spans;
    {
        std::lock_guard lock(write_mu_);
        PREPARE(*writer_, s,
                "SELECT series, minute_ms, first_id, last_id FROM prediction_spans "
                "WHERE minute_ms < ? AND last_id <= (SELECT coalesce(min(value), 0) "
                "FROM rollup_state WHERE name IN ('predictions'))");
        s.Bind(1, raw_cutoff);
        int rc;
        while ((rc = s.Step()) == SQLITE_ROW) {
            spans.emplace_back(s.Int(0), s.Int(1), s.Int(2), s.Int(3));
        }
        if (rc != SQLITE_DONE) {
            return writer_->StepError();
        }
    }
    for (const auto& [series, minute, first, last] : spans) {
        std::lock_guard lock(write_mu_);
        RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
            PREPARE(*writer_, del_late,
                    "DELETE FROM delayed WHERE prediction IN (SELECT id FROM predictions WHERE "
                    "id >= ? AND id <= ? AND series = ? AND start_ms < ?)");
            del_late.Bind(1, first).Bind(2, last).Bind(3, series).Bind(4, minute + kMinuteMs);
            RETURN_IF_ERROR(writer_->Done(del_late));
            PREPARE(*writer_, keys,
                    "SELECT id, uuid FROM predictions WHERE id >= ? AND "
                    "id <= ? AND series = ? AND start_ms < ?");
            keys.Bind(1, first).Bind(2, last).Bind(3, series).Bind(4, minute + kMinuteMs);
            std::vector<std::pair<std::int64_t, std::int64_t>> gone;
            while (keys.Step() == SQLITE_ROW) {
                gone.emplace_back(UuidKey(keys.Text(1)), keys.Int(0));
            }
            keys.Reset();
            std::sort(gone.begin(), gone.end());
            PREPARE(*writer_, unindex,
                    "DELETE FROM prediction_uuids WHERE uuid_key = ? AND id = ?");
            for (const auto& [key, id] : gone) {
                unindex.Bind(1, key).Bind(2, id);
                RETURN_IF_ERROR(writer_->Done(unindex));
                unindex.Reset();
            }
            PREPARE(*writer_, del,
                    "DELETE FROM predictions WHERE id >= ? AND id <= ? AND "
                    "series = ? AND start_ms < ?");
            del.Bind(1, first).Bind(2, last).Bind(3, series).Bind(4, minute + kMinuteMs);
            RETURN_IF_ERROR(writer_->Done(del));
            stats.raw_deleted += writer_->Changes();
            PREPARE(*writer_, span,
                    "DELETE FROM prediction_spans WHERE series = ? AND "
                    "minute_ms = ?");
            span.Bind(1, series).Bind(2, minute);
            RETURN_IF_ERROR(writer_->Done(span));
            PREPARE(*writer_, kept,
                    "UPDATE series SET raw_kept_from_ms = max(raw_kept_from_ms, "
                    "?) WHERE id = ?");
            kept.Bind(1, minute + kMinuteMs).Bind(2, series);
            return writer_->Done(kept);
        }));
    }
    {
        std::lock_guard lock(write_mu_);
        RETURN_IF_ERROR(writer_->Transaction([&]() -> Status {
            PREPARE(*writer_, del, "DELETE FROM rollups WHERE resolution_ms = ? AND bucket_ms < ?");
            del.Bind(1, kMinuteMs).Bind(2, now_ms - policy.minute_ms);
            RETURN_IF_ERROR(writer_->Done(del));
            stats.minutes_deleted = writer_->Changes();
            PREPARE(*writer_, del_serving, "DELETE FROM serving_minutes WHERE minute_ms < ?");
            del_serving.Bind(1, now_ms - policy.minute_ms);
            return writer_->Done(del_serving);
        }));
    }
    return stats;
}

Status SqliteMetricsStore::PutServingMinutes(std::span<const ServingMinute> rows) {
    if (rows.empty()) {
        return {};
    }
    std::lock_guard lock(write_mu_);
    return writer_->Transaction([&]() -> Status {
        PREPARE(*writer_, put,
                "INSERT OR REPLACE INTO serving_minutes (deployment_id, minute_ms, requests, "
                "errors, rejected, p50_ms, p95_ms, p99_ms, latency) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        for (const auto& r : rows) {
            put.Bind(1, r.deployment_id)
                .Bind(2, r.minute_ms)
                .Bind(3, r.requests)
                .Bind(4, r.errors)
                .Bind(5, r.rejected)
                .BindDouble(6, r.p50_ms)
                .BindDouble(7, r.p95_ms)
                .BindDouble(8, r.p99_ms)
                .Bind(9, std::string_view(r.latency));
            RETURN_IF_ERROR(writer_->Done(put));
            put.Reset();
        }
        return {};
    });
}

Result<std::vector<ServingMinute>> SqliteMetricsStore::ReadServingMinutes(
    std::int64_t deployment_id, std::int64_t from_ms, std::int64_t to_ms) {
    const ReaderLease c = AcquireReader();
    PREPARE(*c, s,
            "SELECT minute_ms, requests, errors, rejected, p50_ms, p95_ms, p99_ms, latency "
            "FROM serving_minutes WHERE deployment_id = ? AND minute_ms >= ? AND minute_ms <= ? "
            "ORDER BY minute_ms");
    s.Bind(1, deployment_id).Bind(2, from_ms).Bind(3, to_ms);
    std::vector<ServingMinute> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
        ServingMinute m;
        m.deployment_id = deployment_id;
        m.minute_ms = s.Int(0);
        m.requests = s.Int(1);
        m.errors = s.Int(2);
        m.rejected = s.Int(3);
        m.p50_ms = s.Double(4);
        m.p95_ms = s.Double(5);
        m.p99_ms = s.Double(6);
        m.latency = std::string(s.Text(7));
        out.push_back(std::move(m));
    }
    if (rc != SQLITE_DONE) {
        return c->StepError();
    }
    return out;
}

}  // namespace lathe::metrics
