// Experiments: metrics a run records with track_metric, and project files it keeps with
// track_file, listed per run, compared across a job's runs, and deletable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "projects/projects.h"
#include "store/store.h"

namespace lathe::jobs {

struct RunMetric {
    std::string key;
    nlohmann::json value;  // a number or a string
    std::int64_t recorded_at = 0;
};

struct RunArtifact {
    std::string path;
    std::uint64_t size = 0;
    std::int64_t recorded_at = 0;
};

class Experiments {
public:
    static constexpr std::int64_t kMaxMetricsPerRun = 10'000;

    Experiments(store::Store& store, const Clock& clock, projects::Projects& projects,
                std::filesystem::path artifacts_dir)
        : store_(store), clock_(clock), projects_(projects), dir_(std::move(artifacts_dir)) {}

    Status AddMetric(std::int64_t run_id, const std::string& key, const nlohmann::json& value);
    Result<std::vector<RunMetric>> Metrics(std::int64_t run_id);
    // Copies a project file into the run's artifacts (a snapshot: later edits don't change it).
    Result<RunArtifact> TrackFile(std::int64_t project_id, std::int64_t run_id,
                                  const std::string& path);
    Result<std::vector<RunArtifact>> Artifacts(std::int64_t run_id);
    Result<std::filesystem::path> ArtifactFile(std::int64_t run_id, const std::string& path);
    // Drops a run's metrics and artifacts.
    Status Delete(std::int64_t run_id);
    // Each run of the job with the last value of each of its metrics, newest run first.
    Result<nlohmann::json> Compare(std::int64_t job_id, int limit);

private:
    store::Store& store_;
    const Clock& clock_;
    projects::Projects& projects_;
    std::filesystem::path dir_;
};

}  // namespace lathe::jobs
