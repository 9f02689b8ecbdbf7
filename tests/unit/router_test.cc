// Tests for route matching: literals, {param}s, {path+}, colon verbs, 404/405/400 and HEAD.
#include "http/router.h"

#include <gtest/gtest.h>

#include <string>

namespace lathe::http {
namespace {

constexpr std::string_view kProjects = "/api/v2/projects";

class RouterTest : public ::testing::Test {
protected:
    void SetUp() override {
        AddRoute("GET", "/healthz");
        AddRoute("GET", "/api/v2/projects");
        AddRoute("POST", "/api/v2/projects");
        AddRoute("GET", "/api/v2/projects/{project_id}");
        AddRoute("DELETE", "/api/v2/projects/{project_id}");
        AddRoute("POST", "/api/v2/projects/{project_id}:stop");
        AddRoute("GET", "/api/v2/projects/{project_id}/files/{path+}:download");
        AddRoute("GET", "/api/v2/projects/{project_id}/files/{path+}");
        AddRoute("PUT", "/api/v2/projects/{project_id}/files/{path+}");
        AddRoute("POST", "/api/v2/uploads");
    }

    void AddRoute(const std::string& method, const std::string& pattern) {
        Route route;
        route.method = method;
        route.pattern = pattern;
        route.action = "public";
        route.handler = [](Request&) { return Response::NoContent(); };
        router_.Add(std::move(route));
    }

    // "METHOD pattern" of the matched route, or the error code's wire name.
    std::string Matched(std::string_view method, std::string_view path) {
        auto match = router_.Match(method, path);
        if (!match) {
            return "error:" + std::string(ErrorCodeName(match.error().code));
        }
        return match->route->method + " " + match->route->pattern;
    }

    std::map<std::string, std::string> Params(std::string_view method, std::string_view path) {
        auto match = router_.Match(method, path);
        EXPECT_TRUE(match.has_value()) << method << " " << path << ": " << match.error().message;
        return match ? match->params : std::map<std::string, std::string>{};
    }

    Router router_;
};

TEST_F(RouterTest, LiteralRoutesMatchExactly) {
    EXPECT_EQ(Matched("GET", "/healthz"), "GET /healthz");
    EXPECT_EQ(Matched("GET", "/api/v2/projects"), "GET /api/v2/projects");
    EXPECT_EQ(Matched("POST", "/api/v2/projects"), "POST /api/v2/projects");
    EXPECT_TRUE(Params("GET", "/healthz").empty());
}

TEST_F(RouterTest, ParamsArePercentDecoded) {
    EXPECT_EQ(Matched("GET", "/api/v2/projects/42"), "GET /api/v2/projects/{project_id}");
    EXPECT_EQ(Params("GET", "/api/v2/projects/42").at("project_id"), "42");
    EXPECT_EQ(Params("GET", "/api/v2/projects/my%20project").at("project_id"), "my project");
    EXPECT_EQ(Params("GET", "/api/v2/projects/caf%C3%A9").at("project_id"), "caf\xC3\xA9");
    // '+' in a path is a plus, not a space.
    EXPECT_EQ(Params("GET", "/api/v2/projects/a+b").at("project_id"), "a+b");
}

TEST_F(RouterTest, RestParamTakesTheRemainingSegmentsIncludingSlashes) {
    const std::string files = std::string(kProjects) + "/7/files/";
    EXPECT_EQ(Matched("GET", files + "data/train/part-1.csv"),
              "GET /api/v2/projects/{project_id}/files/{path+}");
    auto params = Params("GET", files + "data/train/part-1.csv");
    EXPECT_EQ(params.at("project_id"), "7");
    EXPECT_EQ(params.at("path"), "data/train/part-1.csv");
    EXPECT_EQ(Params("GET", files + "a%20dir/b%2Fc.txt").at("path"), "a dir/b/c.txt");
    EXPECT_EQ(Params("PUT", files + "x.txt").at("path"), "x.txt");
}

TEST_F(RouterTest, EmptyParamsDoNotMatch) {
    EXPECT_EQ(Matched("GET", std::string(kProjects) + "/7/files/"), "error:not_found");
    EXPECT_EQ(Matched("GET", std::string(kProjects) + "/7/files"), "error:not_found");
    EXPECT_EQ(Matched("DELETE", std::string(kProjects) + "/"), "error:not_found");
}

TEST_F(RouterTest, ColonVerbReachesTheVerbRoute) {
    const std::string files = std::string(kProjects) + "/7/files/";
    EXPECT_EQ(Matched("GET", files + "dir/model.pt:download"),
              "GET /api/v2/projects/{project_id}/files/{path+}:download");
    EXPECT_EQ(Params("GET", files + "dir/model.pt:download").at("path"), "dir/model.pt");
    EXPECT_EQ(Matched("POST", std::string(kProjects) + "/7:stop"),
              "POST /api/v2/projects/{project_id}:stop");
    EXPECT_EQ(Params("POST", std::string(kProjects) + "/7:stop").at("project_id"), "7");
}

TEST_F(RouterTest, FileNamedWithAColonReachesTheFileRouteWhenNoVerbMatches) {
    const std::string files = std::string(kProjects) + "/7/files/";
    EXPECT_EQ(Matched("GET", files + "a:b"), "GET /api/v2/projects/{project_id}/files/{path+}");
    EXPECT_EQ(Params("GET", files + "a:b").at("path"), "a:b");
    EXPECT_EQ(Params("PUT", files + "logs/12:30:00.txt").at("path"), "logs/12:30:00.txt");
    // A file literally named "x:download" is reachable by escaping the colon.
    EXPECT_EQ(Matched("GET", files + "x%3Adownload"),
              "GET /api/v2/projects/{project_id}/files/{path+}");
    EXPECT_EQ(Params("GET", files + "x%3Adownload").at("path"), "x:download");
    // And downloading it adds the verb after the escaped name.
    EXPECT_EQ(Params("GET", files + "x%3Adownload:download").at("path"), "x:download");
}

TEST_F(RouterTest, TrailingColonIsNotAVerb) {
    EXPECT_EQ(Params("GET", std::string(kProjects) + "/7/files/a:").at("path"), "a:");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
    for (const char* path : {"/nope", "/api/v2/projects/7/extra", "/api/v2", "/", "",
                             "/healthz/more", "/HEALTHZ"}) {
        auto match = router_.Match("GET", path);
        ASSERT_FALSE(match.has_value()) << path;
        EXPECT_EQ(match.error().code, ErrorCode::kNotFound) << path;
    }
    auto match = router_.Match("GET", "/nope/here");
    ASSERT_FALSE(match.has_value());
    EXPECT_NE(match.error().message.find("/nope/here"), std::string::npos)
        << match.error().message;
}

TEST_F(RouterTest, WrongMethodIsMethodNotAllowedListingTheAllowedOnes) {
    auto match = router_.Match("PATCH", "/api/v2/projects/7");
    ASSERT_FALSE(match.has_value());
    EXPECT_EQ(match.error().code, ErrorCode::kMethodNotAllowed);
    const std::string& message = match.error().message;
    EXPECT_NE(message.find("GET"), std::string::npos) << message;
    EXPECT_NE(message.find("DELETE"), std::string::npos) << message;
    EXPECT_EQ(message.find("POST"), std::string::npos) << message;  // POST is for :stop only

    match = router_.Match("DELETE", "/api/v2/projects");
    ASSERT_FALSE(match.has_value());
    EXPECT_EQ(match.error().code, ErrorCode::kMethodNotAllowed);
    EXPECT_NE(match.error().message.find("GET"), std::string::npos);
    EXPECT_NE(match.error().message.find("POST"), std::string::npos);

    match = router_.Match("GET", "/api/v2/projects/7:stop");
    ASSERT_FALSE(match.has_value());
    EXPECT_EQ(match.error().code, ErrorCode::kMethodNotAllowed);
    EXPECT_NE(match.error().message.find("POST"), std::string::npos) << match.error().message;
}

TEST_F(RouterTest, MalformedEscapeIsBadRequest) {
    for (const char* path : {"/api/v2/projects/%zz", "/api/v2/projects/%4",
                             "/api/v2/projects/abc%", "/api/v2/projects/7/files/dir/%G0.txt",
                             "/api/v2/projects/7/files/ok/%2"}) {
        auto match = router_.Match("GET", path);
        ASSERT_FALSE(match.has_value()) << path;
        EXPECT_EQ(match.error().code, ErrorCode::kBadRequest) << path;
    }
}

TEST_F(RouterTest, HeadMatchesGetRoutes) {
    EXPECT_EQ(Matched("HEAD", "/healthz"), "GET /healthz");
    EXPECT_EQ(Params("HEAD", std::string(kProjects) + "/7/files/a/b.txt").at("path"), "a/b.txt");
    // But not routes that only take other methods.
    auto match = router_.Match("HEAD", "/api/v2/uploads");
    ASSERT_FALSE(match.has_value());
    EXPECT_EQ(match.error().code, ErrorCode::kMethodNotAllowed);
}

TEST_F(RouterTest, HeadDoesNotMatchWebSocketRoutes) {
    Route ws;
    ws.method = "GET";
    ws.pattern = "/api/v2/ws";
    ws.action = "public";
    ws.ws = [](Request&, std::shared_ptr<WsChannel>) -> Result<WsCallbacks> {
        return WsCallbacks{};
    };
    router_.Add(std::move(ws));
    EXPECT_EQ(Matched("GET", "/api/v2/ws"), "GET /api/v2/ws");
    EXPECT_EQ(Matched("HEAD", "/api/v2/ws"), "error:method_not_allowed");
}

TEST(RouteTest, OpenApiPathStripsThePlus) {
    Route route;
    route.pattern = "/api/v2/projects/{project_id}/files/{path+}:download";
    EXPECT_EQ(route.OpenApiPath(), "/api/v2/projects/{project_id}/files/{path}:download");
    route.pattern = "/api/v2/projects/{project_id}/files/{path+}";
    EXPECT_EQ(route.OpenApiPath(), "/api/v2/projects/{project_id}/files/{path}");
    route.pattern = "/api/v2/projects/{project_id}";
    EXPECT_EQ(route.OpenApiPath(), "/api/v2/projects/{project_id}");
}

}  // namespace
}  // namespace lathe::http
