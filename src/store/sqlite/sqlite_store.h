// The embedded Store: one SQLite file in WAL mode, one serialized writer and a pool of readers.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace lathe::store {

struct SqliteOptions {
    std::string path;
    int readers = 4;
    bool synchronous_full = true;  // FULL survives power loss; NORMAL survives a process crash
    int busy_timeout_ms = 5000;
};

class SqliteConnection;

class SqliteStore final : public Store {
public:
    // Opens (creating if needed) the database and applies pending migrations.
    static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options,
                                                      const Clock& clock);
    ~SqliteStore() override;

    Status Read(const std::function<Status(Tx&)>& fn) override;
    Status Write(const std::function<Status(Tx&)>& fn) override;
    Status Ping() override;
    Result<std::vector<int>> AppliedMigrations() override;

private:
    SqliteStore() = default;
    Status Migrate(const Clock& clock);
    SqliteConnection* AcquireReader();
    void ReleaseReader(SqliteConnection* conn);

    std::mutex write_mu_;  // serializes writers; guards writer_
    std::unique_ptr<SqliteConnection> writer_;

    std::mutex mu_;  // guards idle_readers_
    std::condition_variable reader_free_;
    std::vector<std::unique_ptr<SqliteConnection>> readers_;
    std::vector<SqliteConnection*> idle_readers_;
};

}  // namespace lathe::store
