// The Store interface: the only way to persistent state. Portable SQL with '?' placeholders runs
// inside read or write transactions; SQLite is the embedded implementation, PostgreSQL can follow.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace lathe::store {

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// One result row; columns by position, in the order of the SELECT list.
class Row {
public:
    explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
    std::size_t size() const { return values_.size(); }
    bool IsNull(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(values_[i]); }
    std::int64_t Int(std::size_t i) const;
    double Double(std::size_t i) const;
    std::string Text(std::size_t i) const;  // "" for NULL
    bool Bool(std::size_t i) const { return Int(i) != 0; }

private:
    std::vector<Value> values_;
};

using Params = std::vector<Value>;

// A transaction. Statements use '?' placeholders; implementations translate where needed.
class Tx {
public:
    virtual ~Tx() = default;
    // Runs a statement; returns the number of rows changed.
    virtual Result<std::int64_t> Exec(std::string_view sql, const Params& params = {}) = 0;
    virtual Result<std::vector<Row>> Query(std::string_view sql, const Params& params = {}) = 0;
    // Like Query but expects at most one row.
    Result<std::optional<Row>> QueryOne(std::string_view sql, const Params& params = {});
    // Runs an INSERT ... RETURNING id and gives the id.
    Result<std::int64_t> InsertReturningId(std::string_view sql, const Params& params = {});
};

class Store {
public:
    virtual ~Store() = default;
    // Runs fn in a read-only transaction on one of the reader connections.
    virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
    // Runs fn in a write transaction; commits when fn succeeds (durably, before returning),
    // rolls back when it fails. Writes are serialized.
    virtual Status Write(const std::function<Status(Tx&)>& fn) = 0;
    // Cheap liveness probe for /readyz.
    virtual Status Ping() = 0;
    // Applied migration versions, oldest first.
    virtual Result<std::vector<int>> AppliedMigrations() = 0;
};

// SQL errors that mean "this row already exists" map to kConflict with this message prefix.
inline constexpr std::string_view kUniqueViolation = "unique constraint violated";

}  // namespace lathe::store
