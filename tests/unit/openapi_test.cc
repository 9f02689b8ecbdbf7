// Keeps the OpenAPI document true: every routed (method, path) is documented and vice versa, and
// every route is guarded by a policy action.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "api/api.h"
#include "api/routes.h"
#include "auth/policy.h"
#include "core/crypto.h"
#include "core/secret_box.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;

class ApiRoutesTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto());
        char tmpl[] = "/tmp/lathe-openapi-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        auto store = store::SqliteStore::Open({(dir_ / "lathe.db").string(), 1, false, 1000}, clock_);
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(*store);
        auto box = SecretBox::OpenOrCreate(dir_ / "secret.key");
        ASSERT_TRUE(box);
        box_ = std::make_unique<SecretBox>(*box);
        accounts_ = std::make_unique<auth::Accounts>(*store_, clock_, auth::AccountsOptions{});
        teams_ = std::make_unique<auth::Teams>(*store_, clock_);
        audit_ = std::make_unique<auth::AuditLog>(*store_);
        projects_ = std::make_unique<projects::Projects>(*store_, clock_, dir_ / "projects",
                                                         projects::ProjectLimits{});
        env_ = std::make_unique<projects::Environment>(*store_, clock_, *box_);
        workloads_ = std::make_unique<compute::WorkloadRecords>(*store_, clock_);
        logs_ = std::make_unique<compute::LogStore>(dir_, 1 << 20);
        scheduler_ = std::make_unique<compute::Scheduler>(*workloads_, *logs_, backend_,
                                                          compute::SchedulerOptions{});
        jobs_ = std::make_unique<jobs::Jobs>(*store_, clock_, *projects_, *env_, *scheduler_,
                                             *workloads_, jobs::JobsOptions{});
        experiments_ = std::make_unique<jobs::Experiments>(*store_, clock_, *projects_, dir_);
        models_ = std::make_unique<serving::ModelRegistry>(*store_, clock_);
        serving::ServingOptions serving_options;
        serving_options.data_dir = dir_;
        serving_ = std::make_unique<serving::ModelServing>(*models_, *scheduler_, *workloads_,
                                                           *logs_, *env_, *jobs_, clock_,
                                                           serving_options);
        metrics::MetricsOptions metrics_options;
        metrics_options.path = dir_ / "metrics.db";
        auto metrics = metrics::MetricsService::Open(metrics_options, clock_);
        ASSERT_TRUE(metrics) << metrics.error().message;
        metrics_ = std::move(*metrics);
        monitors_ = std::make_unique<metrics::Monitors>(
            *store_, *metrics_, clock_,
            [](std::int64_t, std::int64_t) -> Result<metrics::MonitorTarget> {
                return MakeError(ErrorCode::kNotFound, "no models here");
            });
        exporter_ = std::make_unique<lineage::Exporter>(*store_, clock_, lineage::ExporterOptions{});
        lineage_ = std::make_unique<lineage::Lineage>(*store_, clock_, lineage::LineageOptions{},
                                                      nullptr, exporter_.get());
        services_ = std::make_unique<api::Services>(
            api::Services{*store_, *accounts_, *teams_, *audit_, *projects_, *env_, config_, clock_,
                          dir_, *workloads_, *logs_, *scheduler_, *jobs_, *experiments_, *models_,
                          *serving_, *metrics_, *monitors_, *lineage_, *exporter_});
        api::RegisterRoutes(router_, *services_);
    }
    void TearDown() override {
        services_.reset();
        lineage_.reset();
        exporter_.reset();
        monitors_.reset();
        metrics_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path dir_;
    SystemClock clock_;
    ServerConfig config_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<metrics::MetricsService> metrics_;
    std::unique_ptr<metrics::Monitors> monitors_;
    std::unique_ptr<lineage::Exporter> exporter_;
    std::unique_ptr<lineage::Lineage> lineage_;
    std::unique_ptr<SecretBox> box_;
    std::unique_ptr<auth::Accounts> accounts_;
    std::unique_ptr<auth::Teams> teams_;
    std::unique_ptr<auth::AuditLog> audit_;
    std::unique_ptr<projects::Projects> projects_;
    std::unique_ptr<projects::Environment> env_;
    // Routes are only listed here, never called: a backend that runs nothing is enough.
    struct IdleBackend final : compute::Backend {
        std::string name() const override { return "idle"; }
        compute::Resources Capacity() const override { return {}; }
        Status Launch(const compute::Workload&, const std::map<std::string, std::string>&,
                      ExitFn) override {
            return MakeError(ErrorCode::kUnavailable, "idle backend");
        }
        void Stop(std::int64_t, std::chrono::milliseconds) override {}
        bool IsAlive(std::int64_t) override { return false; }
        void Shutdown() override {}
    } backend_;
    std::unique_ptr<compute::WorkloadRecords> workloads_;
    std::unique_ptr<compute::LogStore> logs_;
    std::unique_ptr<compute::Scheduler> scheduler_;
    std::unique_ptr<jobs::Jobs> jobs_;
    std::unique_ptr<jobs::Experiments> experiments_;
    std::unique_ptr<serving::ModelRegistry> models_;
    std::unique_ptr<serving::ModelServing> serving_;
    std::unique_ptr<api::Services> services_;
    http::Router router_;
};

std::string Lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

TEST_F(ApiRoutesTest, EveryRouteIsInTheOpenApiDocumentAndViceVersa) {
    nlohmann::json doc = nlohmann::json::parse(api::OpenApiJson());
    ASSERT_TRUE(doc.contains("paths"));
    EXPECT_TRUE(doc["openapi"].get<std::string>().starts_with("3."));
    std::set<std::string> documented;
    for (const auto& [path, item] : doc["paths"].items()) {
        for (const auto& [method, op] : item.items()) {
            if (method == "get" || method == "post" || method == "put" || method == "patch" ||
                method == "delete") {
                documented.insert(method + " " + path);
            }
        }
    }
    std::set<std::string> routed;
    for (const auto& route : router_.routes()) {
        routed.insert(Lower(route->method) + " " + route->OpenApiPath());
    }
    for (const auto& r : routed) {
        EXPECT_TRUE(documented.count(r)) << "routed but not in src/api/openapi.yaml: " << r;
    }
    for (const auto& d : documented) {
        EXPECT_TRUE(routed.count(d)) << "documented but not routed: " << d;
    }
    EXPECT_GT(routed.size(), 30u);
}

TEST_F(ApiRoutesTest, EveryRouteNamesAPolicyAction) {
    std::set<std::string> actions;
    for (const auto& rule : auth::PolicyTable()) {
        actions.insert(std::string(rule.name));
    }
    for (const auto& route : router_.routes()) {
        EXPECT_TRUE(actions.count(route->action))
            << route->method << " " << route->pattern << " has action '" << route->action << "'";
    }
}

TEST_F(ApiRoutesTest, OnlyHealthDocsAndLoginArePublic) {
    std::set<std::string> public_routes;
    for (const auto& route : router_.routes()) {
        if (route->action == "public") {
            public_routes.insert(route->method + " " + route->pattern);
        }
    }
    // The web UI's static files (GET / and the SPA's paths) hold no data: the API calls they make do.
    EXPECT_EQ(public_routes, (std::set<std::string>{"GET /healthz", "GET /readyz",
                                                     "GET /api/v2/openapi.json",
                                                     "POST /api/v2/auth/login", "GET /",
                                                     "GET /{path+}"}));
}

TEST_F(ApiRoutesTest, ModelCallsAreTheOnlyRoutesLeftToTheModelsAuthSwitch) {
    std::set<std::string> routes;
    for (const auto& route : router_.routes()) {
        if (route->action == "model.call") {
            routes.insert(route->method + " " + route->pattern);
        }
    }
    EXPECT_EQ(routes, (std::set<std::string>{
                          "POST /model", "GET /v2/health/live", "GET /v2/health/ready",
                          "GET /v2/models/{name}", "GET /v2/models/{name}/ready",
                          "POST /v2/models/{name}/infer"}));
}

}  // namespace
}  // namespace lathe
