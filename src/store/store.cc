// Row accessors and Tx conveniences shared by every Store implementation.
#include "store/store.h"

#include <optional>

namespace lathe::store {

std::int64_t Row::Int(std::size_t i) const {
    const Value& v = values_[i];
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<double>(&v)) {
        return static_cast<std::int64_t>(*p);
    }
    if (auto p = std::get_if<std::string>(&v)) {
        return std::strtoll(p->c_str(), nullptr, 10);
    }
    return 0;
}

double Row::Double(std::size_t i) const {
    const Value& v = values_[i];
    if (auto p = std::get_if<double>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return static_cast<double>(*p);
    }
    if (auto p = std::get_if<std::string>(&v)) {
        return std::strtod(p->c_str(), nullptr);
    }
    return 0;
}

std::string Row::Text(std::size_t i) const {
    const Value& v = values_[i];
    if (auto p = std::get_if<std::string>(&v)) {
        return *p;
    }
    if (auto p = std::get_if<std::int64_t>(&v)) {
        return std::to_string(*p);
    }
    if (auto p = std::get_if<double>(&v)) {
        return std::to_string(*p);
    }
    return "";
}

Result<std::optional<Row>> Tx::QueryOne(std::string_view sql, const Params& params) {
    ASSIGN_OR_RETURN(auto rows, Query(sql, params));
    if (rows.empty()) {
        return std::optional<Row>();
    }
    return std::optional<Row>(std::move(rows.front()));
}

Result<std::int64_t> Tx::InsertReturningId(std::string_view sql, const Params& params) {
    ASSIGN_OR_RETURN(auto rows, Query(sql, params));
    if (rows.empty() || rows.front().size() == 0) {
        return MakeError(ErrorCode::kInternal, "insert returned no id");
    }
    return rows.front().Int(0);
}

}  // namespace lathe::store
