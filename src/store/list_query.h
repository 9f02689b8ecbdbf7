// Paginated, filtered, sorted lists: parsing the API's page_size/page_token/search_filter/sort
// and turning them into portable SQL over a whitelist of fields.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/store.h"

namespace lathe::store {

enum class FieldType { kText, kInt, kBool };

struct ListField {
    std::string name;    // as the API names it
    std::string column;  // SQL expression
    FieldType type = FieldType::kText;
    bool filterable = true;
    bool sortable = true;
};

struct ListSpec {
    std::vector<ListField> fields;
    std::string default_sort;  // field name, "-" prefix for descending
    std::string tie_breaker;   // unique SQL column appended to ORDER BY for a stable order
};

struct ListQuery {
    int page_size = 10;
    std::int64_t offset = 0;
    nlohmann::json filter = nlohmann::json::object();
    std::string sort;  // validated field name with optional "-"
};

// Parses the request's raw query parameters (absent ones are empty strings).
Result<ListQuery> ParseListQuery(const ListSpec& spec, std::string_view page_size,
                                 std::string_view page_token, std::string_view search_filter,
                                 std::string_view sort);

// The token for the page after `query`'s, bound to its filter and sort.
std::string NextPageToken(const ListQuery& query);

struct ListSql {
    std::string where;     // " AND (...)" clauses to append after the caller's own WHERE
    std::string order_limit;  // " ORDER BY ... LIMIT ? OFFSET ?"
    Params params;         // for `where` then `order_limit`, in order
};

Result<ListSql> BuildListSql(const ListSpec& spec, const ListQuery& query);

// Runs a page query: `select_sql` must end in a WHERE clause (e.g. "... WHERE 1=1") taking
// `base_params`. Fetches one extra row to know whether there is a next page.
struct Page {
    std::vector<Row> rows;
    std::string next_page_token;
};
Result<Page> QueryPage(Tx& tx, const ListSpec& spec, const ListQuery& query,
                       const std::string& select_sql, Params base_params);

}  // namespace lathe::store
