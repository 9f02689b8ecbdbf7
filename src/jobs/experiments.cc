// Run metrics and artifacts over the Store and <data-dir>/artifacts/<run>/.
#include "jobs/experiments.h"

#include "core/clock.h"

namespace lathe::jobs {
namespace {

namespace fs = std::filesystem;

nlohmann::json ValueOf(const store::Row& r, std::size_t number_col) {
    return r.IsNull(number_col) ? nlohmann::json(r.Text(number_col + 1))
                                : nlohmann::json(r.Double(number_col));
}

}  // namespace

Status Experiments::AddMetric(std::int64_t run_id, const std::string& key,
                              const nlohmann::json& value) {
    if (key.empty() || key.size() > 200) {
        return MakeError(ErrorCode::kBadRequest, "a metric key is 1-200 characters");
    }
    store::Value number = nullptr;
    store::Value text = nullptr;
    if (value.is_number()) {
        number = value.get<double>();
    } else if (value.is_string() && value.get<std::string>().size() <= 4096) {
        text = value.get<std::string>();
    } else {
        return MakeError(ErrorCode::kBadRequest,
                         "a metric value is a number or a string of at most 4096 bytes");
    }
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto count, tx.QueryOne("SELECT COUNT(*) FROM run_metrics WHERE "
                                                 "workload_id = ?",
                                                 {run_id}));
        if (count && count->Int(0) >= kMaxMetricsPerRun) {
            return MakeError(ErrorCode::kConflict, "a run keeps at most 10000 metric values");
        }
        RETURN_IF_ERROR(tx.Exec("INSERT INTO run_metrics (workload_id, key, number_value, "
                                "text_value, recorded_at) VALUES (?, ?, ?, ?, ?)",
                                {run_id, key, number, text, clock_.NowMs()}));
        return {};
    });
}

Result<std::vector<RunMetric>> Experiments::Metrics(std::int64_t run_id) {
    std::vector<RunMetric> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT key, number_value, text_value, recorded_at "
                                             "FROM run_metrics WHERE workload_id = ? ORDER BY id",
                                             {run_id}));
        for (const auto& r : rows) {
            out.push_back({r.Text(0), ValueOf(r, 1), r.Int(3)});
        }
        return {};
    }));
    return out;
}

Result<RunArtifact> Experiments::TrackFile(std::int64_t project_id, std::int64_t run_id,
                                           const std::string& path) {
    auto files = projects_.Files(project_id);
    ASSIGN_OR_RETURN(auto entry, files->Stat(path));
    if (entry.is_dir) {
        return MakeError(ErrorCode::kBadRequest, "track_file takes a file, not a directory");
    }
    ASSIGN_OR_RETURN(fs::path source, files->Resolve(entry.path));
    const fs::path target = dir_ / std::to_string(run_id) / entry.path;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    if (ec) {
        return MakeError(ErrorCode::kInternal, "cannot keep " + entry.path + ": " + ec.message());
    }
    RunArtifact a{entry.path, entry.size, clock_.NowMs()};
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM run_artifacts WHERE workload_id = ? AND path = ?",
                                {run_id, a.path}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO run_artifacts (workload_id, path, size, recorded_at) "
                                "VALUES (?, ?, ?, ?)",
                                {run_id, a.path, static_cast<std::int64_t>(a.size), a.recorded_at}));
        return {};
    }));
    return a;
}

Result<std::vector<RunArtifact>> Experiments::Artifacts(std::int64_t run_id) {
    std::vector<RunArtifact> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT path, size, recorded_at FROM run_artifacts "
                                             "WHERE workload_id = ? ORDER BY path",
                                             {run_id}));
        for (const auto& r : rows) {
            out.push_back({r.Text(0), static_cast<std::uint64_t>(r.Int(1)), r.Int(2)});
        }
        return {};
    }));
    return out;
}

Result<fs::path> Experiments::ArtifactFile(std::int64_t run_id, const std::string& path) {
    bool known = false;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT 1 FROM run_artifacts WHERE workload_id = ? "
                                               "AND path = ?",
                                               {run_id, path}));
        known = row.has_value();
        return {};
    }));
    if (!known) {
        return MakeError(ErrorCode::kNotFound, "the run has no file '" + path + "'");
    }
    // `path` matched a row we wrote from a normalized project path, so it stays inside.
    return dir_ / std::to_string(run_id) / path;
}

Status Experiments::Delete(std::int64_t run_id) {
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM run_metrics WHERE workload_id = ?", {run_id}));
        RETURN_IF_ERROR(tx.Exec("DELETE FROM run_artifacts WHERE workload_id = ?", {run_id}));
        return {};
    }));
    std::error_code ec;
    fs::remove_all(dir_ / std::to_string(run_id), ec);
    return {};
}

Result<nlohmann::json> Experiments::Compare(std::int64_t job_id, int limit) {
    nlohmann::json runs = nlohmann::json::array();
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT id, state, created_at FROM workloads WHERE "
                                             "job_id = ? ORDER BY id DESC LIMIT ?",
                                             {job_id, std::int64_t{limit}}));
        for (const auto& r : rows) {
            nlohmann::json metrics = nlohmann::json::object();
            ASSIGN_OR_RETURN(auto values, tx.Query("SELECT key, number_value, text_value FROM "
                                                   "run_metrics WHERE workload_id = ? ORDER BY id",
                                                   {r.Int(0)}));
            for (const auto& v : values) {
                metrics[v.Text(0)] = ValueOf(v, 1);  // later values of a key win
            }
            runs.push_back({{"run_id", r.Int(0)},
                            {"status", r.Text(1)},
                            {"created_at", FormatTime(r.Int(2))},
                            {"metrics", std::move(metrics)}});
        }
        return {};
    }));
    return nlohmann::json{{"runs", std::move(runs)}};
}

}  // namespace lathe::jobs
