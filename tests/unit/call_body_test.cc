// Tests for reading a model call's body without a JSON tree.
#include "serving/call_body.h"

#include <gtest/gtest.h>

namespace lathe::serving {
namespace {

TEST(CallBodyTest, TakesTheAccessKeyAndTheRequestsExactText) {
    auto b = ParseCallBody(R"( {"accessKey": "mabc", "request": {"x": [1, 2.5e3, -0.1], "s": "a\"b"}} )");
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(*b->access_key, "mabc");
    EXPECT_EQ(*b->request, R"({"x": [1, 2.5e3, -0.1], "s": "a\"b"})");
}

TEST(CallBodyTest, AnyJsonValueIsARequest) {
    for (std::string_view v : {"1", "-3.25", "\"text\"", "[]", "{}", "null", "true", "[[1],[2]]"}) {
        const std::string body = std::string("{\"request\":") + std::string(v) + "}";
        auto b = ParseCallBody(body);  // the request is a view into `body`
        ASSERT_TRUE(b) << v;
        EXPECT_EQ(*b->request, v);
        EXPECT_FALSE(b->access_key);
    }
}

TEST(CallBodyTest, OtherMembersAreSkippedAndTheLastRepeatWins) {
    auto b = ParseCallBody(R"({"other": {"request": 1}, "request": 2, "accessKey": "k", "request": [3]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(*b->request, "[3]");
    EXPECT_EQ(*b->access_key, "k");
}

TEST(CallBodyTest, MalformedBodiesAreRefused) {
    for (std::string_view bad : {"", "[]", "not json", "{", "{\"request\": }", "{\"request\": 01x}",
                                 "{\"request\": [1,]}", "{\"request\": tru}", "{\"a\" 1}",
                                 "{\"request\": 1} trailing", "{\"request\": \"\\q\"}",
                                 "{\"request\": \"unterminated}"}) {
        auto b = ParseCallBody(bad);
        EXPECT_FALSE(b) << bad;
        if (!b) {
            EXPECT_EQ(b.error().code, ErrorCode::kBadRequest);
        }
    }
}

TEST(CallBodyTest, DeepNestingIsBounded) {
    std::string deep = "{\"request\": " + std::string(600, '[') + std::string(600, ']') + "}";
    EXPECT_FALSE(ParseCallBody(deep));
    std::string ok = "{\"request\": " + std::string(100, '[') + std::string(100, ']') + "}";
    EXPECT_TRUE(ParseCallBody(ok));
}

}  // namespace
}  // namespace lathe::serving
