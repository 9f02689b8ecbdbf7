// The web UI's static files: which paths are the API's, and where the built UI is found.
#include "api/ui_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace lathe {
namespace {

namespace fs = std::filesystem;

TEST(UiApi, ApiPathsAreNeverTheUis) {
    for (const char* path : {"/api", "/api/", "/api/v3/projects", "/model", "/model/x", "/v2",
                             "/v2/models/a/infer", "/metrics", "/healthz", "/readyz"}) {
        EXPECT_TRUE(api::IsApiPath(path)) << path;
    }
    for (const char* path : {"/", "/projects", "/projects/1/jobs", "/models", "/apis", "/v2x",
                             "/metricsx", "/assets/index-abc.js", "/admin/users"}) {
        EXPECT_FALSE(api::IsApiPath(path)) << path;
    }
}

TEST(UiApi, ResolvesAnAbsoluteDirAsItIs) {
    EXPECT_EQ(api::ResolveUiDir("/srv/lathe/ui"), fs::path("/srv/lathe/ui"));
}

TEST(UiApi, ResolvesARelativeDirUnderTheWorkingDirectoryWhenBuiltThere) {
    char tmpl[] = "/tmp/lathe-ui-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const fs::path dir = tmpl;
    fs::create_directories(dir / "web" / "dist");
    std::ofstream(dir / "web" / "dist" / "index.html") << "<!doctype html>";
    const fs::path before = fs::current_path();
    fs::current_path(dir);
    EXPECT_EQ(api::ResolveUiDir("web/dist"), dir / "web" / "dist");
    // Not built anywhere: the working directory's path, for the "not built" page to name.
    EXPECT_EQ(api::ResolveUiDir("elsewhere/dist"), dir / "elsewhere" / "dist");
    fs::current_path(before);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace lathe
