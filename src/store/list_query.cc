// Pagination tokens and filter/sort SQL.
#include "store/list_query.h"

#include <charconv>

#include "core/crypto.h"

namespace lathe::store {
namespace {

constexpr int kMaxPageSize = 1000;

const ListField* FindField(const ListSpec& spec, std::string_view name) {
    for (const auto& f : spec.fields) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

// Binds a token to the query that issued it, so a token can't be replayed on another filter.
std::string QueryFingerprint(const ListQuery& q) {
    return Sha256Hex(q.filter.dump() + "|" + q.sort).substr(0, 16);
}

std::string FieldList(const ListSpec& spec, bool sortable) {
    std::string out;
    for (const auto& f : spec.fields) {
        if (sortable ? f.sortable : f.filterable) {
            out += (out.empty() ? "" : ", ") + f.name;
        }
    }
    return out;
}

}  // namespace

Result<ListQuery> ParseListQuery(const ListSpec& spec, std::string_view page_size,
                                 std::string_view page_token, std::string_view search_filter,
                                 std::string_view sort) {
    ListQuery q;
    if (!page_size.empty()) {
        int n = 0;
        auto [ptr, ec] = std::from_chars(page_size.data(), page_size.data() + page_size.size(), n);
        if (ec != std::errc() || ptr != page_size.data() + page_size.size() || n < 1 ||
            n > kMaxPageSize) {
            return MakeError(ErrorCode::kBadRequest,
                             "page_size must be a whole number from 1 to 1000");
        }
        q.page_size = n;
    }
    if (!search_filter.empty()) {
        auto parsed = nlohmann::json::parse(search_filter, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) {
            return MakeError(ErrorCode::kBadRequest,
                             "search_filter must be a JSON object, e.g. {\"name\": \"churn\"}");
        }
        for (const auto& [key, value] : parsed.items()) {
            const ListField* f = FindField(spec, key);
            if (f == nullptr || !f->filterable) {
                return MakeError(ErrorCode::kBadRequest, "search_filter: unknown field '" + key +
                                                             "'; fields: " + FieldList(spec, false));
            }
            bool ok = (f->type == FieldType::kText && value.is_string()) ||
                      (f->type == FieldType::kInt && value.is_number_integer()) ||
                      (f->type == FieldType::kBool && value.is_boolean());
            if (!ok) {
                const char* want = f->type == FieldType::kText  ? "a string"
                                   : f->type == FieldType::kInt ? "an integer"
                                                                : "true or false";
                return MakeError(ErrorCode::kBadRequest,
                                 "search_filter: " + key + " must be " + want);
            }
        }
        q.filter = std::move(parsed);
    }
    q.sort = spec.default_sort;
    if (!sort.empty()) {
        std::string_view name = sort.front() == '-' ? sort.substr(1) : sort;
        const ListField* f = FindField(spec, name);
        if (f == nullptr || !f->sortable) {
            return MakeError(ErrorCode::kBadRequest, "sort: unknown field '" + std::string(name) +
                                                         "'; fields: " + FieldList(spec, true));
        }
        q.sort = std::string(sort);
    }
    if (!page_token.empty()) {
        auto raw = Base64UrlDecode(page_token);
        nlohmann::json token =
            raw ? nlohmann::json::parse(*raw, nullptr, false) : nlohmann::json();
        if (!raw || token.is_discarded() || !token.is_object() || !token.contains("o") ||
            !token["o"].is_number_integer() || token["o"].get<std::int64_t>() < 0 ||
            !token.contains("q") || !token["q"].is_string()) {
            return MakeError(ErrorCode::kBadRequest, "page_token is not valid");
        }
        if (token["q"].get<std::string>() != QueryFingerprint(q)) {
            return MakeError(ErrorCode::kBadRequest,
                             "page_token belongs to a different search_filter or sort");
        }
        q.offset = token["o"].get<std::int64_t>();
    }
    return q;
}

std::string NextPageToken(const ListQuery& query) {
    nlohmann::json token = {{"o", query.offset + query.page_size}, {"q", QueryFingerprint(query)}};
    return Base64UrlEncode(token.dump());
}

Result<ListSql> BuildListSql(const ListSpec& spec, const ListQuery& query) {
    ListSql out;
    for (const auto& [key, value] : query.filter.items()) {
        const ListField* f = FindField(spec, key);
        if (f == nullptr) {
            return MakeError(ErrorCode::kBadRequest, "search_filter: unknown field '" + key + "'");
        }
        switch (f->type) {
            case FieldType::kText: {
                // Case-insensitive substring; LIKE wildcards in the user's text are escaped.
                std::string pattern = "%";
                for (char c : value.get<std::string>()) {
                    if (c == '%' || c == '_' || c == '\\') {
                        pattern += '\\';
                    }
                    pattern += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                pattern += '%';
                out.where += " AND LOWER(" + f->column + ") LIKE ? ESCAPE '\\'";
                out.params.emplace_back(std::move(pattern));
                break;
            }
            case FieldType::kInt:
                out.where += " AND " + f->column + " = ?";
                out.params.emplace_back(value.get<std::int64_t>());
                break;
            case FieldType::kBool:
                out.where += " AND " + f->column + " = ?";
                out.params.emplace_back(std::int64_t{value.get<bool>() ? 1 : 0});
                break;
        }
    }
    std::string_view sort = query.sort;
    bool desc = !sort.empty() && sort.front() == '-';
    if (desc) {
        sort.remove_prefix(1);
    }
    const ListField* f = FindField(spec, sort);
    out.order_limit = " ORDER BY ";
    if (f != nullptr) {
        out.order_limit += f->column + (desc ? " DESC, " : " ASC, ");
    }
    out.order_limit += spec.tie_breaker + (desc ? " DESC" : " ASC") + " LIMIT ? OFFSET ?";
    out.params.emplace_back(std::int64_t{query.page_size + 1});
    out.params.emplace_back(query.offset);
    return out;
}

Result<Page> QueryPage(Tx& tx, const ListSpec& spec, const ListQuery& query,
                       const std::string& select_sql, Params base_params) {
    ASSIGN_OR_RETURN(ListSql sql, BuildListSql(spec, query));
    for (auto& p : sql.params) {
        base_params.push_back(std::move(p));
    }
    ASSIGN_OR_RETURN(auto rows, tx.Query(select_sql + sql.where + sql.order_limit, base_params));
    Page page;
    if (rows.size() > static_cast<std::size_t>(query.page_size)) {
        rows.erase(rows.begin() + query.page_size, rows.end());
        page.next_page_token = NextPageToken(query);
    }
    page.rows = std::move(rows);
    return page;
}

}  // namespace lathe::store
