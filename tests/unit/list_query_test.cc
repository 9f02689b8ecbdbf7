// Tests for list parameters (page_size, page_token, search_filter, sort) and paging over SQLite.
#include "store/list_query.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe::store {
namespace {

namespace fs = std::filesystem;

// A list of "items" like the API's project lists: text, integer and boolean fields, one field that
// can't be filtered and one that can't be sorted.
const ListSpec& ItemSpec() {
    static const ListSpec kSpec{
        {{"name", "name", FieldType::kText},
         {"size", "size", FieldType::kInt},
         {"archived", "archived", FieldType::kBool},
         {"created_at", "created_at", FieldType::kInt, /*filterable=*/false, /*sortable=*/true},
         {"notes", "notes", FieldType::kText, /*filterable=*/true, /*sortable=*/false}},
        "name",
        "id"};
    return kSpec;
}

Result<ListQuery> Parse(std::string_view page_size, std::string_view page_token = "",
                        std::string_view search_filter = "", std::string_view sort = "") {
    return ParseListQuery(ItemSpec(), page_size, page_token, search_filter, sort);
}

// The error message of a parse that should fail, or a marker when it unexpectedly succeeded.
std::string ParseError(const Result<ListQuery>& parsed) {
    if (parsed.has_value()) {
        return "<parsed successfully>";
    }
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadRequest) << parsed.error().message;
    return parsed.error().message;
}

bool Contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST(ListQueryTest, PageSizeDefaultsToTen) {
    auto q = Parse("");
    ASSERT_TRUE(q.has_value()) << q.error().message;
    EXPECT_EQ(q->page_size, 10);
    EXPECT_EQ(q->offset, 0);
    EXPECT_EQ(q->sort, "name");  // the spec's default sort
    EXPECT_TRUE(q->filter.is_object());
    EXPECT_TRUE(q->filter.empty());
}

TEST(ListQueryTest, PageSizeBounds) {
    for (const char* ok : {"1", "10", "1000"}) {
        auto q = Parse(ok);
        ASSERT_TRUE(q.has_value()) << ok << ": " << q.error().message;
        EXPECT_EQ(q->page_size, std::stoi(ok));
    }
    for (const char* bad : {"0", "1001", "abc", "5x", "-1", " 5", "+5", "1e3", "99999999999"}) {
        const std::string message = ParseError(Parse(bad));
        EXPECT_TRUE(Contains(message, "page_size")) << "'" << bad << "': " << message;
    }
}

TEST(ListQueryTest, SearchFilterMustBeAJsonObject) {
    for (const char* bad : {"[1]", "\"name\"", "{", "null", "42", "name=churn"}) {
        const std::string message = ParseError(Parse("", "", bad));
        EXPECT_TRUE(Contains(message, "search_filter")) << bad << ": " << message;
    }
}

TEST(ListQueryTest, SearchFilterRejectsUnknownAndUnfilterableFields) {
    std::string message = ParseError(Parse("", "", R"({"colour": "red"})"));
    EXPECT_TRUE(Contains(message, "colour")) << message;
    EXPECT_TRUE(Contains(message, "name")) << message;  // lists the fields one may use

    message = ParseError(Parse("", "", R"({"created_at": 5})"));
    EXPECT_TRUE(Contains(message, "created_at")) << message;
}

TEST(ListQueryTest, SearchFilterRejectsTypeMismatches) {
    for (const char* bad :
         {R"({"name": 5})", R"({"name": null})", R"({"size": "5"})", R"({"size": 1.5})",
          R"({"size": true})", R"({"archived": 1})", R"({"archived": "true"})"}) {
        EXPECT_NE(ParseError(Parse("", "", bad)), "<parsed successfully>") << bad;
    }
    const std::string message = ParseError(Parse("", "", R"({"size": "5"})"));
    EXPECT_TRUE(Contains(message, "size")) << message;
    EXPECT_TRUE(Contains(message, "integer")) << message;
}

TEST(ListQueryTest, SearchFilterAcceptsMatchingTypes) {
    auto q = Parse("", "", R"({"name": "churn", "size": 3, "archived": false})");
    ASSERT_TRUE(q.has_value()) << q.error().message;
    EXPECT_EQ(q->filter["name"], "churn");
    EXPECT_EQ(q->filter["size"], 3);
    EXPECT_EQ(q->filter["archived"], false);
}

TEST(ListQueryTest, SortAscendingDescendingAndUnknown) {
    auto asc = Parse("", "", "", "size");
    ASSERT_TRUE(asc.has_value()) << asc.error().message;
    EXPECT_EQ(asc->sort, "size");
    auto desc = Parse("", "", "", "-created_at");
    ASSERT_TRUE(desc.has_value()) << desc.error().message;
    EXPECT_EQ(desc->sort, "-created_at");

    for (const char* bad : {"colour", "-colour", "-", "--size", "notes", "-notes", "Name"}) {
        const std::string message = ParseError(Parse("", "", "", bad));
        EXPECT_TRUE(Contains(message, "sort")) << bad << ": " << message;
    }
    EXPECT_TRUE(Contains(ParseError(Parse("", "", "", "colour")), "colour"));
}

TEST(ListQueryTest, NextPageTokenRoundTripAdvancesByPageSize) {
    const std::string filter = R"({"name": "a"})";
    auto first = Parse("7", "", filter, "-size");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const std::string token = NextPageToken(*first);
    auto second = Parse("7", token, filter, "-size");
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_EQ(second->offset, 7);
    EXPECT_EQ(second->page_size, 7);
    auto third = Parse("7", NextPageToken(*second), filter, "-size");
    ASSERT_TRUE(third.has_value()) << third.error().message;
    EXPECT_EQ(third->offset, 14);
}

TEST(ListQueryTest, TokenSurvivesReformattedFilterJson) {
    // A client that re-serializes the same filter (other key order, spacing) keeps paging.
    auto first = Parse("5", "", R"({"name":"a","size":2})");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    auto second = Parse("5", NextPageToken(*first), R"({ "size" : 2, "name" : "a" })");
    ASSERT_TRUE(second.has_value()) << second.error().message;
    EXPECT_EQ(second->offset, 5);
}

TEST(ListQueryTest, TokenFromAnotherFilterOrSortIsRejected) {
    auto first = Parse("5", "", R"({"name": "a"})", "size");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    const std::string token = NextPageToken(*first);

    std::string message = ParseError(Parse("5", token, R"({"name": "b"})", "size"));
    EXPECT_TRUE(Contains(message, "page_token")) << message;
    message = ParseError(Parse("5", token, "", "size"));
    EXPECT_TRUE(Contains(message, "page_token")) << message;
    message = ParseError(Parse("5", token, R"({"name": "a"})", "-size"));
    EXPECT_TRUE(Contains(message, "page_token")) << message;
    message = ParseError(Parse("5", token, R"({"name": "a"})", ""));  // default sort is name
    EXPECT_TRUE(Contains(message, "page_token")) << message;
}

TEST(ListQueryTest, GarbageTokensAreRejected) {
    auto base = Parse("5");
    ASSERT_TRUE(base.has_value());
    // A well-formed token whose offset is tampered with keeps the fingerprint but is negative.
    auto raw = Base64UrlDecode(NextPageToken(*base));
    ASSERT_TRUE(raw.has_value());
    auto json = nlohmann::json::parse(*raw);
    json["o"] = -5;
    const std::string negative = Base64UrlEncode(json.dump());
    json["o"] = "5";
    const std::string string_offset = Base64UrlEncode(json.dump());

    for (const std::string& bad :
         {std::string("garbage!!"), std::string("abc"), Base64UrlEncode("[]"),
          Base64UrlEncode("{\"o\": 5}"), Base64UrlEncode("not json"), negative, string_offset}) {
        const std::string message = ParseError(Parse("5", bad));
        EXPECT_TRUE(Contains(message, "page_token")) << bad << ": " << message;
    }
}

TEST(ListQueryTest, BuildListSqlEscapesLikeWildcardsAndLowercases) {
    ListQuery q;
    q.filter = {{"name", "50%_Off\\"}};
    q.sort = "name";
    auto sql = BuildListSql(ItemSpec(), q);
    ASSERT_TRUE(sql.has_value()) << sql.error().message;
    EXPECT_TRUE(Contains(sql->where, "LIKE ?")) << sql->where;
    EXPECT_TRUE(Contains(sql->where, "ESCAPE")) << sql->where;
    ASSERT_EQ(sql->params.size(), 3u);  // the pattern, then LIMIT and OFFSET
    EXPECT_EQ(std::get<std::string>(sql->params[0]), "%50\\%\\_off\\\\%");
    EXPECT_EQ(std::get<std::int64_t>(sql->params[1]), q.page_size + 1);
    EXPECT_EQ(std::get<std::int64_t>(sql->params[2]), 0);
}

TEST(ListQueryTest, BuildListSqlOrdersWithTieBreakerInTheSameDirection) {
    ListQuery q;
    q.sort = "-size";
    auto sql = BuildListSql(ItemSpec(), q);
    ASSERT_TRUE(sql.has_value()) << sql.error().message;
    EXPECT_TRUE(Contains(sql->order_limit, "ORDER BY size DESC, id DESC")) << sql->order_limit;
    q.sort = "size";
    sql = BuildListSql(ItemSpec(), q);
    ASSERT_TRUE(sql.has_value());
    EXPECT_TRUE(Contains(sql->order_limit, "ORDER BY size ASC, id ASC")) << sql->order_limit;
}

// Paging over a real SQLite store.
class ListQueryStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto().has_value());
        std::string pattern = (fs::temp_directory_path() / "lathe_list_query_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        SqliteOptions options;
        options.path = (dir_ / "lathe.db").string();
        options.readers = 2;
        options.synchronous_full = false;
        auto opened = SqliteStore::Open(options, clock_);
        ASSERT_TRUE(opened.has_value()) << opened.error().message;
        store_ = std::move(*opened);
        auto st = store_->Write([](Tx& tx) -> Status {
            RETURN_IF_ERROR(tx.Exec(
                "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
                "size BIGINT NOT NULL, archived BIGINT NOT NULL, created_at BIGINT NOT NULL, "
                "notes TEXT NOT NULL DEFAULT '')"));
            return {};
        });
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }

    void TearDown() override {
        store_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    void Insert(const std::string& name, std::int64_t size, bool archived) {
        auto st = store_->Write([&](Tx& tx) -> Status {
            RETURN_IF_ERROR(tx.Exec(
                "INSERT INTO items (name, size, archived, created_at) VALUES (?, ?, ?, ?)",
                {name, size, std::int64_t{archived}, std::int64_t{1000}}));
            return {};
        });
        ASSERT_TRUE(st.has_value()) << st.error().message;
    }

    struct Item {
        std::int64_t id;
        std::string name;
        std::int64_t size;
    };

    // One page; rows as (id, name, size).
    std::pair<std::vector<Item>, std::string> Page(const ListQuery& q) {
        std::vector<Item> items;
        std::string next;
        auto st = store_->Read([&](Tx& tx) -> Status {
            auto page = QueryPage(tx, ItemSpec(), q, "SELECT id, name, size FROM items WHERE 1=1",
                                  {});
            if (!page) {
                return std::unexpected(page.error());
            }
            for (const Row& r : page->rows) {
                items.push_back(Item{r.Int(0), r.Text(1), r.Int(2)});
            }
            next = page->next_page_token;
            return {};
        });
        EXPECT_TRUE(st.has_value()) << st.error().message;
        return {items, next};
    }

    // Every page of a listing, following next_page_token as a client would.
    std::vector<std::vector<Item>> AllPages(std::string_view page_size, std::string_view filter,
                                            std::string_view sort) {
        std::vector<std::vector<Item>> pages;
        std::string token;
        for (int guard = 0; guard < 100; ++guard) {
            auto q = ParseListQuery(ItemSpec(), page_size, token, filter, sort);
            EXPECT_TRUE(q.has_value()) << q.error().message;
            if (!q) {
                break;
            }
            auto [items, next] = Page(*q);
            pages.push_back(std::move(items));
            if (next.empty()) {
                break;
            }
            token = next;
        }
        return pages;
    }

    fs::path dir_;
    FakeClock clock_{1'700'000'000'000};
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(ListQueryStoreTest, TwentyFiveRowsInThreePagesWithoutDuplicates) {
    for (int i = 0; i < 25; ++i) {
        // Only three distinct sizes, so sorting by size has many ties.
        Insert("item-" + std::to_string(100 + i), i % 3, i % 2 == 0);
    }
    for (const char* sort : {"size", "-size", "", "-name"}) {
        SCOPED_TRACE(std::string("sort '") + sort + "'");
        auto pages = AllPages("10", "", sort);
        ASSERT_EQ(pages.size(), 3u);
        EXPECT_EQ(pages[0].size(), 10u);
        EXPECT_EQ(pages[1].size(), 10u);
        EXPECT_EQ(pages[2].size(), 5u);
        std::vector<Item> all;
        for (const auto& page : pages) {
            all.insert(all.end(), page.begin(), page.end());
        }
        std::set<std::int64_t> ids;
        for (const Item& item : all) {
            EXPECT_TRUE(ids.insert(item.id).second) << "id " << item.id << " listed twice";
        }
        EXPECT_EQ(ids.size(), 25u);

        const bool desc = sort[0] == '-';
        const std::string field = desc ? sort + 1 : sort;
        for (std::size_t i = 1; i < all.size(); ++i) {
            const Item& a = all[i - 1];
            const Item& b = all[i];
            if (field == "size") {
                // Ties on size are broken by id, in the same direction.
                EXPECT_TRUE(desc ? (a.size > b.size || (a.size == b.size && a.id > b.id))
                                 : (a.size < b.size || (a.size == b.size && a.id < b.id)))
                    << "row " << i;
            } else {
                EXPECT_TRUE(desc ? a.name > b.name : a.name < b.name) << "row " << i;
            }
        }
    }
}

TEST_F(ListQueryStoreTest, SameQueryTwiceGivesTheSameOrder) {
    for (int i = 0; i < 25; ++i) {
        Insert("same", 1, false);  // every row ties on both name and size
    }
    auto once = AllPages("7", "", "size");
    auto twice = AllPages("7", "", "size");
    ASSERT_EQ(once.size(), 4u);
    ASSERT_EQ(once.size(), twice.size());
    for (std::size_t p = 0; p < once.size(); ++p) {
        ASSERT_EQ(once[p].size(), twice[p].size());
        for (std::size_t i = 0; i < once[p].size(); ++i) {
            EXPECT_EQ(once[p][i].id, twice[p][i].id);
        }
    }
}

TEST_F(ListQueryStoreTest, LastFullPageHasNoNextToken) {
    for (int i = 0; i < 20; ++i) {
        Insert("n" + std::to_string(10 + i), 0, false);
    }
    auto pages = AllPages("10", "", "");
    ASSERT_EQ(pages.size(), 2u);  // no empty third page
    EXPECT_EQ(pages[1].size(), 10u);
}

TEST_F(ListQueryStoreTest, SubstringFilterMatchesPercentAndUnderscoreLiterally) {
    Insert("50% off", 1, false);
    Insert("500 off", 2, false);
    Insert("50x off", 3, false);
    Insert("5_0 deal", 4, false);
    Insert("5x0 deal", 5, false);
    Insert("Big 50% OFF", 6, false);

    auto names = [&](std::string_view filter) {
        std::vector<std::string> out;
        for (const auto& page : AllPages("100", filter, "size")) {
            for (const Item& item : page) {
                out.push_back(item.name);
            }
        }
        return out;
    };
    EXPECT_EQ(names(R"({"name": "50%"})"), (std::vector<std::string>{"50% off", "Big 50% OFF"}));
    EXPECT_EQ(names(R"({"name": "5_0"})"), (std::vector<std::string>{"5_0 deal"}));
    EXPECT_EQ(names(R"({"name": "% off"})"), (std::vector<std::string>{"50% off", "Big 50% OFF"}));
    EXPECT_EQ(names(R"({"name": "%"})"), (std::vector<std::string>{"50% off", "Big 50% OFF"}));
    EXPECT_EQ(names(R"({"name": "DEAL"})"), (std::vector<std::string>{"5_0 deal", "5x0 deal"}));
    EXPECT_TRUE(names(R"({"name": "nothing"})").empty());
}

TEST_F(ListQueryStoreTest, IntegerAndBooleanFiltersMatchExactly) {
    for (int i = 0; i < 12; ++i) {
        Insert("r" + std::to_string(10 + i), i % 4, i % 3 == 0);
    }
    std::size_t count = 0;
    for (const auto& page : AllPages("5", R"({"size": 2, "archived": false})", "")) {
        for (const Item& item : page) {
            EXPECT_EQ(item.size, 2);
            ++count;
        }
    }
    // Sizes 2 at i = 2, 6, 10; archived (i % 3 == 0) at i = 6.
    EXPECT_EQ(count, 2u);
}

}  // namespace
}  // namespace lathe::store
