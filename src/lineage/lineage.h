// Lineage: records who made what from what — projects, jobs and their runs, datasets, models,
// builds and deployments — as a graph in the store, without any user action, and answers graph
// queries filtered by what the caller may read.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/principal.h"
#include "compute/workload.h"
#include "core/clock.h"
#include "core/error.h"
#include "lineage/graph.h"
#include "store/store.h"

namespace lathe::lineage {

class Exporter;

struct LineageOptions {
    std::string workspace = "default";
    std::filesystem::path projects_dir;  // <data>/projects; a project's files are <id>/files
    // Files a finished run changed are found by their modification time; bounds on that walk.
    std::int64_t max_scanned_entries = 100000;
    std::int64_t max_produced_files = 200;
    std::chrono::milliseconds poll{2000};  // how often new rows are looked for without a wake
};

enum class Direction { kUp, kDown, kBoth };

// The paths of a build's snapshot, for linking a build to the files it was made from.
using SnapshotPaths = std::function<Result<std::vector<std::string>>(const std::string& id)>;

class Lineage {
public:
    Lineage(store::Store& store, const Clock& clock, LineageOptions options,
            SnapshotPaths snapshot_paths, Exporter* exporter);
    ~Lineage();

    // Records what happened while the server was down, then follows changes on a thread.
    Status Start();
    void Shutdown();

    // Something was created (a project, job, model, build, deployment): record it soon.
    void Wake();
    // Scheduler hooks; cheap, never block on the store.
    void OnWorkloadStarted(const compute::Workload& w);
    void OnWorkloadFinished(const compute::Workload& w);
    // Records everything pending now, on the caller's thread (tests, and before answering a
    // graph query so it sees the newest facts).
    Status SyncNow();

    // Datasets a job run says it read or wrote (the SDK's lathe.lineage.used/produced). A name
    // with "://" is a URI; "db.table@cluster" a Hive table; anything else a path in the project
    // (absolute /home/cdsw/... paths are made relative).
    Status RecordRunIO(std::int64_t project_id, std::int64_t workload_id,
                       const std::vector<std::string>& used,
                       const std::vector<std::string>& produced);

    // ---- reads, filtered for `caller`: a node of a project they can't read is never shown,
    // nor a dataset outside projects unless it touches a node they can see.
    Result<Graph> Around(const auth::Principal& caller, const std::string& crn, int depth,
                         Direction direction, std::size_t max_nodes, bool* truncated);
    struct SearchQuery {
        std::string text;  // substring of name or qualified name, case-insensitive
        std::string kind;
        std::optional<std::int64_t> project_id;
        int page_size = 50;
        std::int64_t after_id = 0;
    };
    Result<std::vector<Node>> Search(const auth::Principal& caller, const SearchQuery& q);
    // Every node the caller may see with the edges among them (export), up to max_nodes.
    Result<Graph> Everything(const auth::Principal& caller, std::size_t max_nodes,
                             bool* truncated);
    // The datasets (and project files) that fed a build, for the catalog.
    Result<std::vector<Node>> TrainingData(std::int64_t build_id);

    std::string Crn(std::string_view kind, std::string_view local) const;

private:
    Status SyncAll(bool catch_up);
    Status SyncProjects(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched);
    Status SyncJobs(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched);
    Status SyncModels(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched);
    // `produced`: files the run wrote (nullptr: leave its outputs as they are). `reporting`: the
    // run's code is calling in, so it runs even if the runner's "started" is still on its way.
    Status SyncRun(store::Tx& tx, std::int64_t workload_id,
                   const std::vector<std::string>* produced, bool reporting,
                   std::vector<std::int64_t>& touched);
    std::vector<std::string> ProducedFiles(std::int64_t workload_id);
    Status SyncBuild(store::Tx& tx, std::int64_t build_id, std::vector<std::int64_t>& touched);
    Status SyncDeployments(store::Tx& tx, bool catch_up, std::vector<std::int64_t>& touched);
    std::vector<std::string> ChangedFiles(std::int64_t project_id, std::int64_t from_ms,
                                          std::int64_t to_ms);
    void Loop();
    void Emit(const std::vector<std::int64_t>& touched);

    store::Store& store_;
    const Clock& clock_;
    LineageOptions options_;
    SnapshotPaths snapshot_paths_;
    Exporter* exporter_;

    std::mutex mu_;  // guards everything below
    std::condition_variable wake_;
    bool stopping_ = false;
    bool dirty_ = false;
    std::set<std::int64_t> started_;   // workloads that started running, for START events
    std::set<std::int64_t> finished_;  // workloads that ended
    std::thread thread_;

    std::mutex sync_mu_;  // one sync at a time; guards the high-water marks
    std::int64_t last_project_ = 0;
    std::int64_t last_job_ = 0;
    std::int64_t last_model_ = 0;
    std::int64_t last_deployment_ = 0;
};

}  // namespace lathe::lineage
