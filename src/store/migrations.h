// Numbered schema migrations, applied in order at start and recorded in schema_migrations.
#pragma once

#include <string>
#include <vector>

namespace lathe::store {

enum class Dialect { kSqlite, kPostgres };

struct Migration {
    int version;
    std::string name;
    std::string sql;  // portable SQL; "{{id}}" stands for the dialect's auto-increment primary key
};

const std::vector<Migration>& Migrations();

// The migration's SQL for a dialect (placeholders expanded).
std::string MigrationSql(const Migration& m, Dialect dialect);

}  // namespace lathe::store
