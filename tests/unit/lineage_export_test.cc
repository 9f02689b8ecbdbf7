// Tests for lineage export: the Atlas and OpenLineage renderers, and the outbox delivering to a
// real local HTTP receiver from a real SQLite store (order, retries, refusals, credentials).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "lineage/atlas.h"
#include "lineage/exporter.h"
#include "lineage/openlineage.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe::lineage {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kT0 = 1'780'000'000'123;
constexpr char kUser[] = "lathe-export";
constexpr char kPassword[] = "pw-Secret-123";
constexpr char kBasic[] = "Basic bGF0aGUtZXhwb3J0OnB3LVNlY3JldC0xMjM=";  // kUser:kPassword
constexpr char kApiKey[] = "ol-key-Very-Secret-456";

Node MakeNode(std::int64_t id,
              std::string kind,
              std::string name,
              std::string qualified,
              std::optional<std::int64_t> project = 3) {
    Node n;
    n.id = id;
    n.crn = "crn:lathe:ml:default:" + kind + "/" + std::to_string(id);
    n.kind = std::move(kind);
    n.name = std::move(name);
    n.qualified_name = std::move(qualified);
    n.project_id = project;
    n.created_at = kT0;
    n.updated_at = kT0 + 5;
    return n;
}

// project 1 contains job 2 and snapshot 4; run 5 (a run_job) reads the Hive table 3 and the
// snapshot 4 and writes the project file 6.
Graph ScenarioGraph() {
    Graph g;
    g.nodes.push_back(MakeNode(1, "project", "churn", "project/3"));
    g.nodes.push_back(MakeNode(2, "job", "train", "project/3/jobs/9"));
    g.nodes.push_back(
        MakeNode(3, "dataset", "telco_churn", "default.telco_churn@cm", std::nullopt));
    g.nodes.push_back(MakeNode(4, "file_snapshot", "snapshot", "project/3/snapshots/ab12"));
    g.nodes.push_back(MakeNode(5, "run_job", "run 7", "project/3/jobs/9/runs/7"));
    g.nodes.push_back(MakeNode(6, "dataset", "model.pkl", "project/3/files/model.pkl"));
    g.nodes[4].attributes = {
        {"state", "succeeded"}, {"job", "train"},
        {"exit_code", 0},       {"metadata", {{"query", "select 1"}, {"rows", 10}}},
        {"tags", {"a", "b"}},   {"created_by", "alice"}};
    g.edges = {{1, 1, 2, "contains", kT0},
               {2, 1, 4, "contains", kT0},
               {3, 3, 5, "input", kT0},
               {4, 4, 5, "input", kT0},
               {5, 5, 6, "output", kT0}};
    return g;
}

const json* EntityByName(const json& body, const std::string& qualified) {
    for (const json& e : body["entities"]) {
        if (e["attributes"]["qualifiedName"] == qualified) {
            return &e;
        }
    }
    return nullptr;
}

TEST(AtlasExportTest, EntitiesHaveUniqueNegativeGuidsAndConsistentReferences) {
    const Graph g = ScenarioGraph();
    const json body = AtlasEntities(g);
    ASSERT_EQ(body["entities"].size(), g.nodes.size());
    std::map<std::string, const json*> by_guid;
    for (const json& e : body["entities"]) {
        const std::string guid = e["guid"];
        EXPECT_TRUE(std::regex_match(guid, std::regex("-[1-9][0-9]*"))) << guid;
        EXPECT_TRUE(by_guid.emplace(guid, &e).second) << "duplicate guid " << guid;
        EXPECT_EQ(e["typeName"].get<std::string>().rfind("ml_", 0), 0u);
    }
    // Every reference names an entity of the body by its guid, type and qualifiedName.
    auto check_ref = [&](const json& ref, const Node& target) {
        ASSERT_TRUE(by_guid.count(ref["guid"].get<std::string>())) << ref.dump();
        const json& e = *by_guid[ref["guid"].get<std::string>()];
        EXPECT_EQ(ref["typeName"], e["typeName"]);
        EXPECT_EQ(ref["uniqueAttributes"]["qualifiedName"], target.crn);
        EXPECT_EQ(e["attributes"]["qualifiedName"], target.crn);
    };
    const json* run = EntityByName(body, g.nodes[4].crn);
    ASSERT_NE(run, nullptr);
    EXPECT_EQ((*run)["typeName"], "ml_run_job");
    ASSERT_EQ((*run)["attributes"]["inputs"].size(), 2u);
    check_ref((*run)["attributes"]["inputs"][0], g.nodes[2]);
    check_ref((*run)["attributes"]["inputs"][1], g.nodes[3]);
    ASSERT_EQ((*run)["attributes"]["outputs"].size(), 1u);
    check_ref((*run)["attributes"]["outputs"][0], g.nodes[5]);

    const json* job = EntityByName(body, g.nodes[1].crn);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ((*job)["typeName"], "ml_job");
    check_ref((*job)["relationshipAttributes"]["project"], g.nodes[0]);
    EXPECT_FALSE((*job)["attributes"].contains("inputs"));
    const json* table = EntityByName(body, g.nodes[2].crn);
    ASSERT_NE(table, nullptr);
    EXPECT_FALSE(table->contains("relationshipAttributes"));
    EXPECT_FALSE((*table)["attributes"].contains("projectId"));
    EXPECT_EQ((*table)["attributes"]["latheQualifiedName"], "default.telco_churn@cm");
}

TEST(AtlasExportTest, AttributesAreFlattenedToText) {
    const json body = AtlasEntities(ScenarioGraph());
    const json& a = (*EntityByName(body, "crn:lathe:ml:default:run_job/5"))["attributes"];
    EXPECT_EQ(a["name"], "run 7");
    EXPECT_EQ(a["createTime"], kT0);
    EXPECT_EQ(a["updateTime"], kT0 + 5);
    EXPECT_EQ(a["projectId"], 3);
    EXPECT_EQ(a["owner"], "alice");
    EXPECT_EQ(a["latheKind"], "run_job");
    EXPECT_FALSE(a["description"].get<std::string>().empty());
    const json& p = a["properties"];
    EXPECT_EQ(p["state"], "succeeded");
    EXPECT_EQ(p["exit_code"], "0");
    EXPECT_EQ(p["metadata.query"], "select 1");
    EXPECT_EQ(p["metadata.rows"], "10");
    EXPECT_EQ(p["tags"], "[\"a\",\"b\"]");
    for (const auto& [k, v] : p.items()) {
        EXPECT_TRUE(v.is_string()) << k;
    }
}

TEST(AtlasExportTest, TypeDefsCoverEveryKindAndEveryRelationshipEnd) {
    const json defs = AtlasTypeDefs();
    std::map<std::string, std::string> super;
    for (const json& d : defs["entityDefs"]) {
        ASSERT_EQ(d["superTypes"].size(), 1u);
        super[d["name"]] = d["superTypes"][0];
        for (const json& a : d["attributeDefs"]) {
            EXPECT_TRUE(a.contains("name") && a.contains("typeName") && a.contains("cardinality"));
        }
    }
    for (const char* kind : {"project", "dataset", "job", "job_run", "model", "model_build",
                             "model_deployment", "file_snapshot"}) {
        EXPECT_EQ(super[AtlasTypeName(kind)], "DataSet") << kind;
    }
    for (const char* kind : {"create_project", "run_job", "build_model", "deploy_model"}) {
        EXPECT_EQ(super[AtlasTypeName(kind)], "Process") << kind;
    }
    std::set<std::string> project_ends;
    for (const json& r : defs["relationshipDefs"]) {
        EXPECT_EQ(r["endDef1"]["type"], "ml_project");
        EXPECT_TRUE(r["endDef1"]["isContainer"].get<bool>());
        EXPECT_TRUE(project_ends.insert(r["endDef1"]["name"]).second) << r.dump();
        EXPECT_TRUE(super.count(r["endDef2"]["type"])) << r.dump();
        EXPECT_EQ(r["endDef2"]["name"], "project");
    }
    EXPECT_EQ(defs["relationshipDefs"].size(), super.size() - 1);
    // Every relationship attribute the entities use is defined for their type.
    const json body = AtlasEntities(ScenarioGraph());
    for (const json& e : body["entities"]) {
        if (e.contains("relationshipAttributes")) {
            bool defined = false;
            for (const json& r : defs["relationshipDefs"]) {
                defined = defined || r["endDef2"]["type"] == e["typeName"];
            }
            EXPECT_TRUE(defined) << e["typeName"];
        }
    }
}

TEST(OpenLineageExportTest, RunUuidIsDeterministicAndRfc4122Shaped) {
    const std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string seed = "crn:lathe:ml:default:run_job/" + std::to_string(i);
        const std::string id = RunUuid(seed);
        EXPECT_TRUE(std::regex_match(id, shape)) << id;
        EXPECT_EQ(id, RunUuid(seed));
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(OpenLineageExportTest, EventTimeAlwaysHasMillisecondsAndZ) {
    EXPECT_EQ(FormatTimeMillis(1'780'000'000'000), "2026-05-28T20:26:40.000Z");
    EXPECT_EQ(FormatTimeMillis(1'780'000'000'007), "2026-05-28T20:26:40.007Z");
}

TEST(OpenLineageExportTest, DatasetNamespacesFollowTheQualifiedName) {
    const std::string ns = "lathe://default";
    auto ds = [&](const std::string& q) {
        return OpenLineageDataset(MakeNode(1, "dataset", "x", q), ns);
    };
    EXPECT_EQ(ds("default.telco_churn@cm"),
              (json{{"namespace", "hive://cm"}, {"name", "default.telco_churn"}}));
    EXPECT_EQ(ds("s3://bucket/path/data.csv"),
              (json{{"namespace", "s3://bucket"}, {"name", "path/data.csv"}}));
    EXPECT_EQ(ds("hdfs://nn:8020/warehouse/t"),
              (json{{"namespace", "hdfs://nn:8020"}, {"name", "/warehouse/t"}}));
    EXPECT_EQ(ds("file:///data/x.csv"), (json{{"namespace", "file"}, {"name", "/data/x.csv"}}));
    EXPECT_EQ(ds("project/3/files/data.csv"),
              (json{{"namespace", ns}, {"name", "project/3/files/data.csv"}}));
    EXPECT_EQ(ds("user@example.com/notes"),
              (json{{"namespace", ns}, {"name", "user@example.com/notes"}}));
}

RunEventInput MakeRunEvent(const std::string& type) {
    const Graph g = ScenarioGraph();
    RunEventInput in;
    in.event_type = type;
    in.run_crn = g.nodes[4].crn;
    in.job_name = "project-3.job.train";
    in.job_namespace = "lathe://default";
    in.event_time_ms = kT0;
    if (type != "START") {
        in.inputs = {g.nodes[2], g.nodes[3]};
        in.outputs = {g.nodes[5]};
    }
    return in;
}

TEST(OpenLineageExportTest, RunEventHasTheCoreFields) {
    const json start = RunEvent(MakeRunEvent("START"));
    EXPECT_EQ(start["eventType"], "START");
    EXPECT_EQ(start["eventTime"], "2026-05-28T20:26:40.123Z");
    EXPECT_EQ(start["producer"], "urn:lathe:server");
    EXPECT_EQ(start["schemaURL"],
              "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent");
    EXPECT_EQ(start["job"],
              (json{{"namespace", "lathe://default"}, {"name", "project-3.job.train"}}));
    EXPECT_FALSE(start["run"].contains("facets"));
    const json complete = RunEvent(MakeRunEvent("COMPLETE"));
    EXPECT_EQ(complete["run"]["runId"], start["run"]["runId"]);
    ASSERT_EQ(complete["inputs"].size(), 2u);
    EXPECT_EQ(complete["inputs"][0]["namespace"], "hive://cm");
    EXPECT_EQ(complete["inputs"][1],
              (json{{"namespace", "lathe://default"}, {"name", "project/3/snapshots/ab12"}}));
    EXPECT_EQ(complete["outputs"][0]["name"], "project/3/files/model.pkl");
}

TEST(OpenLineageExportTest, FailCarriesTheErrorMessageFacet) {
    RunEventInput in = MakeRunEvent("FAIL");
    in.error_message = "train.py exited with status 1";
    in.programming_language = "python";
    const json fail = RunEvent(in);
    EXPECT_EQ(fail["eventType"], "FAIL");
    const json& facet = fail["run"]["facets"]["errorMessage"];
    EXPECT_EQ(facet["message"], "train.py exited with status 1");
    EXPECT_EQ(facet["programmingLanguage"], "python");
    EXPECT_EQ(facet["_producer"], "urn:lathe:server");
    EXPECT_EQ(facet["_schemaURL"],
              "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
              "#/$defs/ErrorMessageRunFacet");
    in.programming_language.clear();
    EXPECT_EQ(RunEvent(in)["run"]["facets"]["errorMessage"]["programmingLanguage"], "unknown");
    EXPECT_FALSE(RunEvent(MakeRunEvent("COMPLETE"))["run"].contains("facets"));
}

TEST(OpenLineageExportTest, UrlForLogDropsCredentialsAndQuery) {
    EXPECT_EQ(UrlForLog("http://u:p@host:5000/api/v1/lineage?api_key=x#f"),
              "http://host:5000/api/v1/lineage");
    EXPECT_EQ(UrlForLog("https://host/x"), "https://host/x");
    EXPECT_EQ(UrlForLog("http://host/a@b"), "http://host/a@b");
}

// ---- the outbox against a local HTTP receiver

struct Received {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

// A tiny HTTP/1.1 server on 127.0.0.1, port 0: records every request and answers with the next
// scripted status (200 once the script runs out), closing each connection. Its error bodies echo
// the Authorization header, so the tests see that no credential reaches a log or last_error.
class Receiver {
public:
    Receiver() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
            ::listen(fd_, 16) != 0) {
            throw std::runtime_error("receiver cannot listen");
        }
        socklen_t len = sizeof(addr);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { Loop(); });
    }
    ~Receiver() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }

    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void Script(std::vector<int> statuses) {
        std::lock_guard lock(mu_);
        script_.assign(statuses.begin(), statuses.end());
    }
    std::vector<Received> Requests() {
        std::lock_guard lock(mu_);
        return requests_;
    }
    // Waits (real time) until n requests arrived.
    bool WaitFor(std::size_t n, int seconds = 10) {
        for (int i = 0; i < seconds * 100; ++i) {
            if (Requests().size() >= n) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

private:
    void Loop() {
        while (!stop_) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) {
                if (stop_) {
                    return;
                }
                continue;
            }
            timeval tv{5, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            Handle(c);
            ::close(c);
        }
    }

    void Handle(int c) {
        std::string data;
        char buf[8192];
        std::size_t head_end = std::string::npos;
        while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
            const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
            if (n <= 0) {
                return;
            }
            data.append(buf, static_cast<std::size_t>(n));
        }
        Received r;
        std::istringstream head(data.substr(0, head_end));
        std::string line;
        std::getline(head, line);
        std::istringstream request_line(line);
        request_line >> r.method >> r.path;
        while (std::getline(head, line)) {
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            const auto colon = line.find(':');
            if (colon == std::string::npos) {
                continue;
            }
            std::string name = line.substr(0, colon);
            for (char& ch : name) {
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            }
            r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
        }
        const std::size_t length =
            r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
        r.body = data.substr(head_end + 4);
        while (r.body.size() < length) {
            const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
            if (n <= 0) {
                return;
            }
            r.body.append(buf, static_cast<std::size_t>(n));
        }
        int status = 200;
        {
            std::lock_guard lock(mu_);
            if (!script_.empty()) {
                status = script_.front();
                script_.pop_front();
            }
            requests_.push_back(r);
        }
        // Error bodies echo the credentials, as a careless receiver might.
        const std::string echoed =
            r.headers.count("authorization") ? r.headers["authorization"] : std::string();
        const std::string body =
            status < 300
                ? "{}"
                : json{{"error", "scripted " + std::to_string(status)}, {"authorization", echoed}}
                      .dump();
        const std::string reply =
            "HTTP/1.1 " + std::to_string(status) +
            " Scripted\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mu_;  // guards script_, requests_
    std::deque<int> script_;
    std::vector<Received> requests_;
};

// A URL nothing listens on: a port the kernel gave and took back.
std::string DeadUrl() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

class ExporterTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto().has_value());
        std::string pattern = (fs::temp_directory_path() / "lathe_export_XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        OpenStore();
    }
    void TearDown() override {
        store_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    void OpenStore() {
        auto opened =
            store::SqliteStore::Open({(dir_ / "lathe.db").string(), 2, false, 1000}, clock_);
        ASSERT_TRUE(opened.has_value()) << opened.error().message;
        store_ = std::move(*opened);
    }
    ExporterOptions Options(const std::string& ol_url, const std::string& atlas_url) {
        ExporterOptions o;
        o.openlineage_url = ol_url;
        o.openlineage_api_key = kApiKey;
        o.atlas_url = atlas_url;
        o.atlas_user = kUser;
        o.atlas_password = kPassword;
        o.openlineage_namespace = "lathe://test";
        return o;
    }
    struct Row {
        std::int64_t attempts;
        std::int64_t next_attempt_at;
        std::string last_error;
        bool delivered;
    };
    std::vector<Row> Rows(const std::string& target) {
        std::vector<Row> out;
        auto st = store_->Read([&](store::Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT attempts, next_attempt_at, last_error, "
                                                 "delivered_at FROM lineage_outbox WHERE target = "
                                                 "? ORDER BY id",
                                                 {target}));
            for (const auto& r : rows) {
                out.push_back({r.Int(0), r.Int(1), r.Text(2), !r.IsNull(3)});
            }
            return {};
        });
        EXPECT_TRUE(st.has_value());
        return out;
    }
    ExportStatus StatusOf(Exporter& e, const std::string& target) {
        auto all = e.Statuses();
        EXPECT_TRUE(all.has_value());
        for (const auto& s : *all) {
            if (s.target == target) {
                return s;
            }
        }
        ADD_FAILURE() << "no status for " << target;
        return {};
    }

    fs::path dir_;
    FakeClock clock_{kT0};
    std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(ExporterTest, DeliversRunEventsInOrderWithTheBearerKey) {
    Receiver receiver;
    Exporter exporter(*store_, clock_, Options(receiver.Url() + "/", ""));
    RunEventInput start = MakeRunEvent("START");
    start.job_namespace.clear();  // the configured one
    ASSERT_TRUE(exporter.EnqueueRunEvent(start).has_value());
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("COMPLETE")).has_value());
    EXPECT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());  // no Atlas: nothing
    exporter.DeliverDue();
    const auto got = receiver.Requests();
    ASSERT_EQ(got.size(), 2u);
    for (const auto& r : got) {
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.path, "/api/v1/lineage");
        EXPECT_EQ(r.headers.at("authorization"), std::string("Bearer ") + kApiKey);
        EXPECT_EQ(r.headers.at("content-type"), "application/json");
    }
    const json first = json::parse(got[0].body);
    const json second = json::parse(got[1].body);
    EXPECT_EQ(first["eventType"], "START");
    EXPECT_EQ(first["job"]["namespace"], "lathe://test");
    EXPECT_EQ(second["eventType"], "COMPLETE");
    EXPECT_EQ(first["run"]["runId"], second["run"]["runId"]);
    const ExportStatus s = StatusOf(exporter, "openlineage");
    EXPECT_TRUE(s.configured);
    EXPECT_EQ(s.delivered, 2);
    EXPECT_EQ(s.pending, 0);
    EXPECT_EQ(s.last_delivered_at, kT0);
    EXPECT_FALSE(StatusOf(exporter, "atlas").configured);
    EXPECT_TRUE(Rows("atlas").empty());
}

TEST_F(ExporterTest, RetriesWithDoublingBackoffAndKeepsOrder) {
    Receiver receiver;
    receiver.Script({503, 503, 500});
    Exporter exporter(*store_, clock_, Options(receiver.Url(), ""));
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("COMPLETE")).has_value());
    exporter.DeliverDue();
    ASSERT_EQ(receiver.Requests().size(), 1u);  // the failed head holds back the rest
    auto rows = Rows("openlineage");
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_EQ(rows[0].next_attempt_at, kT0 + 1000);
    EXPECT_NE(rows[0].last_error.find("HTTP 503"), std::string::npos) << rows[0].last_error;
    EXPECT_EQ(rows[1].attempts, 0);
    ExportStatus s = StatusOf(exporter, "openlineage");
    EXPECT_EQ(s.pending, 2);
    EXPECT_NE(s.last_error.find("HTTP 503"), std::string::npos);

    exporter.DeliverDue();  // not due yet
    EXPECT_EQ(receiver.Requests().size(), 1u);
    clock_.Advance(1000);
    exporter.DeliverDue();
    EXPECT_EQ(Rows("openlineage")[0].next_attempt_at, kT0 + 1000 + 2000);
    clock_.Advance(2000);
    exporter.DeliverDue();
    EXPECT_EQ(Rows("openlineage")[0].next_attempt_at, kT0 + 3000 + 4000);
    EXPECT_EQ(receiver.Requests().size(), 3u);
    clock_.Advance(4000);
    exporter.DeliverDue();
    const auto got = receiver.Requests();
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(json::parse(got[3].body)["eventType"], "START");
    EXPECT_EQ(json::parse(got[4].body)["eventType"], "COMPLETE");
    rows = Rows("openlineage");
    EXPECT_TRUE(rows[0].delivered && rows[1].delivered);
    EXPECT_EQ(rows[0].attempts, 4);
    s = StatusOf(exporter, "openlineage");
    EXPECT_EQ(s.delivered, 2);
    EXPECT_EQ(s.pending, 0);
    EXPECT_EQ(s.last_error, "");
}

TEST_F(ExporterTest, BackoffIsCappedAtFiveMinutes) {
    Exporter exporter(*store_, clock_, Options(DeadUrl(), ""));
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    std::int64_t previous = kT0;
    for (int attempt = 1; attempt <= 12; ++attempt) {
        exporter.DeliverDue();
        const Row row = Rows("openlineage")[0];
        ASSERT_EQ(row.attempts, attempt);
        const std::int64_t delay = row.next_attempt_at - clock_.NowMs();
        EXPECT_EQ(delay, std::min<std::int64_t>(1000LL << (attempt - 1), 300000)) << attempt;
        EXPECT_GT(row.next_attempt_at, previous);
        previous = row.next_attempt_at;
        clock_.Advance(delay);
    }
    EXPECT_FALSE(Rows("openlineage")[0].last_error.empty());
}

TEST_F(ExporterTest, A4xxIsPermanentButDoesNotBlockLaterRows) {
    Receiver receiver;
    receiver.Script({400});
    Exporter exporter(*store_, clock_, Options(receiver.Url(), ""));
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("COMPLETE")).has_value());
    exporter.DeliverDue();
    EXPECT_EQ(receiver.Requests().size(), 2u);
    const auto rows = Rows("openlineage");
    EXPECT_FALSE(rows[0].delivered);
    EXPECT_NE(rows[0].last_error.find("HTTP 400"), std::string::npos);
    EXPECT_TRUE(rows[1].delivered);
    const ExportStatus s = StatusOf(exporter, "openlineage");
    EXPECT_EQ(s.failed, 1);
    EXPECT_EQ(s.pending, 0);
    EXPECT_EQ(s.delivered, 1);
    EXPECT_NE(s.last_error.find("HTTP 400"), std::string::npos);
    clock_.Advance(3'600'000);
    exporter.DeliverDue();
    EXPECT_EQ(receiver.Requests().size(), 2u);  // never tried again
}

TEST_F(ExporterTest, TimeoutAndTooManyRequestsAreRetried) {
    Receiver receiver;
    receiver.Script({408, 429});
    Exporter exporter(*store_, clock_, Options(receiver.Url(), ""));
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    exporter.DeliverDue();
    clock_.Advance(1000);
    exporter.DeliverDue();
    clock_.Advance(2000);
    exporter.DeliverDue();
    EXPECT_EQ(receiver.Requests().size(), 3u);
    EXPECT_TRUE(Rows("openlineage")[0].delivered);
}

TEST_F(ExporterTest, AtlasGetsTypeDefsOnceThenEntitiesWithBasicAuth) {
    Receiver receiver;
    Exporter exporter(*store_, clock_, Options("", receiver.Url()));
    EXPECT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());  // no OpenLineage
    ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
    ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
    EXPECT_TRUE(exporter.EnqueueEntities(Graph{}).has_value());  // nothing to send
    exporter.DeliverDue();
    const auto got = receiver.Requests();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(got[0].path, "/api/atlas/v2/types/typedefs");
    EXPECT_EQ(json::parse(got[0].body), AtlasTypeDefs());
    for (std::size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(got[i].method, "POST");
        EXPECT_EQ(got[i].path, "/api/atlas/v2/entity/bulk");
        EXPECT_EQ(json::parse(got[i].body), AtlasEntities(ScenarioGraph()));
    }
    for (const auto& r : got) {
        EXPECT_EQ(r.headers.at("authorization"), kBasic);
    }
    EXPECT_EQ(StatusOf(exporter, "atlas").delivered, 2);
    EXPECT_TRUE(Rows("openlineage").empty());
}

TEST_F(ExporterTest, ExistingAtlasTypesAreUpdatedWithPut) {
    Receiver receiver;
    receiver.Script({409});
    Exporter exporter(*store_, clock_, Options("", receiver.Url()));
    ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
    exporter.DeliverDue();
    const auto got = receiver.Requests();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].method + " " + got[0].path, "POST /api/atlas/v2/types/typedefs");
    EXPECT_EQ(got[1].method + " " + got[1].path, "PUT /api/atlas/v2/types/typedefs");
    EXPECT_EQ(got[2].method + " " + got[2].path, "POST /api/atlas/v2/entity/bulk");
}

TEST_F(ExporterTest, RefusedTypeDefsAreRetriedNotGivenUp) {
    Receiver receiver;
    receiver.Script({400});
    Exporter exporter(*store_, clock_, Options("", receiver.Url()));
    ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
    exporter.DeliverDue();
    auto rows = Rows("atlas");
    EXPECT_EQ(rows[0].attempts, 1);
    EXPECT_GE(rows[0].next_attempt_at, 0);
    EXPECT_NE(rows[0].last_error.find("type definitions"), std::string::npos);
    clock_.Advance(1000);
    exporter.DeliverDue();
    EXPECT_TRUE(Rows("atlas")[0].delivered);
    EXPECT_EQ(receiver.Requests().size(), 3u);  // typedefs (400), typedefs, entities
}

TEST_F(ExporterTest, CredentialsGoOnTheWireButNeverIntoTheLog) {
    const fs::path log_path = dir_ / "server.log";
    SetLogSink(LogSink::Open(log_path.string()));
    {
        Receiver receiver;
        receiver.Script({503, 400, 401, 503});
        ExporterOptions o = Options(receiver.Url(), receiver.Url());
        // Credentials in the URL itself are used by the client too, and must not be logged.
        o.openlineage_url = "http://olu:" + std::string(kApiKey) + "@" + receiver.Url().substr(7);
        Exporter exporter(*store_, clock_, o);
        ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
        ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("COMPLETE")).has_value());
        ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
        exporter.DeliverDue();  // OpenLineage: 503 (retry); Atlas typedefs: 400
        clock_.Advance(1000);
        exporter.DeliverDue();  // OpenLineage: 401 (refused), then 503; Atlas: typedefs 200, bulk
        const auto got = receiver.Requests();
        ASSERT_GE(got.size(), 4u);
        bool bearer = false;
        bool basic = false;
        for (const auto& r : got) {
            const auto auth = r.headers.find("authorization");
            if (auth != r.headers.end()) {
                bearer = bearer || auth->second == std::string("Bearer ") + kApiKey;
                basic = basic || auth->second == kBasic;
            }
        }
        EXPECT_TRUE(bearer);
        EXPECT_TRUE(basic);
        auto all = exporter.Statuses();
        ASSERT_TRUE(all.has_value());
        for (const auto& s : *all) {
            EXPECT_EQ(s.last_error.find(kApiKey), std::string::npos) << s.last_error;
            EXPECT_EQ(s.last_error.find(kPassword), std::string::npos) << s.last_error;
            EXPECT_EQ(s.last_error.find(kBasic + 6), std::string::npos) << s.last_error;
        }
        // What was echoed is kept, with the secrets masked.
        EXPECT_NE(StatusOf(exporter, "openlineage").last_error.find("Bearer ***"),
                  std::string::npos);
    }
    SetLogSink(LogSink::Open("-"));
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string log = text.str();
    EXPECT_NE(log.find("lineage export"), std::string::npos) << log;
    EXPECT_EQ(log.find(kApiKey), std::string::npos) << log;
    EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
    EXPECT_EQ(log.find("bGF0aGUtZXhwb3J0OnB3LVNlY3JldC0xMjM="), std::string::npos) << log;
    EXPECT_EQ(log.find("olu:"), std::string::npos) << log;
}

TEST_F(ExporterTest, AnAcknowledgedEnqueueSurvivesARestart) {
    {
        Exporter exporter(*store_, clock_, Options(DeadUrl(), ""));
        ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    }
    store_.reset();
    OpenStore();
    Receiver receiver;
    Exporter exporter(*store_, clock_, Options(receiver.Url(), ""));
    exporter.DeliverDue();
    ASSERT_EQ(receiver.Requests().size(), 1u);
    EXPECT_EQ(json::parse(receiver.Requests()[0].body)["eventType"], "START");
}

TEST_F(ExporterTest, TheOutboxDropsTheOldestPastItsBound) {
    ExporterOptions o = Options(DeadUrl(), "");
    o.max_undelivered = 3;
    Exporter exporter(*store_, clock_, o);
    for (int i = 0; i < 5; ++i) {
        RunEventInput in = MakeRunEvent("START");
        in.run_crn = "crn:lathe:ml:default:run_job/" + std::to_string(i);
        ASSERT_TRUE(exporter.EnqueueRunEvent(in).has_value());
    }
    std::vector<std::string> kept;
    ASSERT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> Status {
                        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT body FROM lineage_outbox "
                                                             "ORDER BY id"));
                        for (const auto& r : rows) {
                            kept.push_back(json::parse(r.Text(0))["run"]["runId"]);
                        }
                        return {};
                    })
                    .has_value());
    ASSERT_EQ(kept.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(kept[i], RunUuid("crn:lathe:ml:default:run_job/" + std::to_string(i + 2)));
    }
    const ExportStatus s = StatusOf(exporter, "openlineage");
    EXPECT_EQ(s.dropped, 2);
    EXPECT_EQ(s.pending, 3);
}

TEST_F(ExporterTest, DeliveredRowsArePrunedAfterAWeek) {
    Receiver receiver;
    Exporter exporter(*store_, clock_, Options(receiver.Url(), ""));
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    exporter.DeliverDue();
    EXPECT_EQ(Rows("openlineage").size(), 1u);
    clock_.Advance(8LL * 24 * 3600 * 1000);
    exporter.DeliverDue();
    EXPECT_TRUE(Rows("openlineage").empty());
}

TEST_F(ExporterTest, TheThreadDeliversSoonAfterAnEnqueue) {
    Receiver receiver;
    SystemClock real;
    Exporter exporter(*store_, real, Options(receiver.Url(), receiver.Url()));
    exporter.Start();
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    ASSERT_TRUE(exporter.EnqueueEntities(ScenarioGraph()).has_value());
    EXPECT_TRUE(receiver.WaitFor(3, 5));
    exporter.Shutdown();
    std::set<std::string> paths;
    for (const auto& r : receiver.Requests()) {
        paths.insert(r.path);
    }
    EXPECT_EQ(paths, (std::set<std::string>{"/api/v1/lineage", "/api/atlas/v2/types/typedefs",
                                            "/api/atlas/v2/entity/bulk"}));
}

TEST_F(ExporterTest, ShutdownDoesNotWaitForASlowReceiver) {
    // A listener that never accepts: the connection completes (backlog) but no answer comes.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    SystemClock real;
    ExporterOptions o = Options("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "");
    o.request_timeout_seconds = 30;
    Exporter exporter(*store_, real, o);
    exporter.Start();
    ASSERT_TRUE(exporter.EnqueueRunEvent(MakeRunEvent("START")).has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto before = std::chrono::steady_clock::now();
    exporter.Shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
    ::close(fd);
    EXPECT_EQ(Rows("openlineage")[0].attempts, 0);  // a cancelled request is not an attempt
}

}  // namespace
}  // namespace lathe::lineage
