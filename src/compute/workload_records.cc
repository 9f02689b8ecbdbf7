// Workload rows over the Store.
#include "compute/workload_records.h"

#include "core/crypto.h"

namespace lathe::compute {
namespace {

constexpr std::string_view kColumns =
    "w.id, w.project_id, w.owner_user_id, u.username, t.name, w.kind, w.state, w.reason, w.spec, "
    "w.job_id, w.trigger, w.exit_code, w.created_at, w.started_at, w.finished_at";
constexpr std::string_view kFrom =
    " FROM workloads w JOIN users u ON u.id = w.owner_user_id JOIN projects p ON p.id = "
    "w.project_id LEFT JOIN teams t ON t.id = p.owner_team_id ";

Result<Workload> FromRow(const store::Row& r) {
    Workload w;
    w.id = r.Int(0);
    w.project_id = r.Int(1);
    w.owner_user_id = r.Int(2);
    w.owner = r.Text(3);
    if (!r.IsNull(4)) {
        w.team = r.Text(4);
    }
    w.kind = ParseKind(r.Text(5)).value_or(WorkloadKind::kJobRun);
    w.state = ParseState(r.Text(6)).value_or(WorkloadState::kFailed);
    w.reason = r.Text(7);
    auto spec_json = nlohmann::json::parse(r.Text(8), nullptr, false);
    ASSIGN_OR_RETURN(w.spec, WorkloadSpec::FromJson(spec_json));
    if (!r.IsNull(9)) {
        w.job_id = r.Int(9);
    }
    w.trigger = r.Text(10);
    if (!r.IsNull(11)) {
        w.exit_code = static_cast<int>(r.Int(11));
    }
    w.created_at = r.Int(12);
    if (!r.IsNull(13)) {
        w.started_at = r.Int(13);
    }
    if (!r.IsNull(14)) {
        w.finished_at = r.Int(14);
    }
    return w;
}

Result<Workload> Load(store::Tx& tx, std::int64_t id) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT " + std::string(kColumns) + std::string(kFrom) +
                                               "WHERE w.id = ?",
                                           {id}));
    if (!row) {
        return MakeError(ErrorCode::kNotFound, "run " + std::to_string(id) + " does not exist");
    }
    return FromRow(*row);
}

}  // namespace

Status WorkloadRecords::Create(Workload& w) {
    w.created_at = clock_.NowMs();
    w.state = WorkloadState::kScheduling;
    return store_.Write([&](store::Tx& tx) -> Status {
        store::Value job = w.job_id ? store::Value(*w.job_id) : store::Value(nullptr);
        ASSIGN_OR_RETURN(
            w.id, tx.InsertReturningId(
                      "INSERT INTO workloads (project_id, owner_user_id, kind, state, reason, spec, "
                      "cpu_millicores, memory_mib, gpus, priority, timeout_seconds, "
                      "runner_token_hash, job_id, trigger, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                      "?, ?, ?, ?, '', ?, ?, ?) RETURNING id",
                      {w.project_id, w.owner_user_id, std::string(KindName(w.kind)),
                       std::string(StateName(w.state)), w.reason, w.spec.ToJson().dump(),
                       w.spec.resources.cpu_millicores, w.spec.resources.memory_mib,
                       w.spec.resources.gpus, std::int64_t{w.spec.priority},
                       w.spec.timeout_seconds, job, w.trigger, w.created_at}));
        ASSIGN_OR_RETURN(auto stored, Load(tx, w.id));
        w.owner = stored.owner;
        w.team = stored.team;
        return {};
    });
}

Result<Workload> WorkloadRecords::Get(std::int64_t id) {
    Workload w;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(w, Load(tx, id));
        return {};
    }));
    return w;
}

Result<Workload> WorkloadRecords::Apply(std::int64_t id, const Transition& t) {
    Workload w;
    const std::int64_t now = clock_.NowMs();
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(w, Load(tx, id));
        if (!CanTransition(w.state, t.to)) {
            return MakeError(ErrorCode::kConflict, "run " + std::to_string(id) + " is " +
                                                       std::string(StateName(w.state)) +
                                                       " and cannot become " +
                                                       std::string(StateName(t.to)));
        }
        std::string sql = "UPDATE workloads SET state = ?, reason = ?";
        store::Params params{std::string(StateName(t.to)), t.reason};
        if (t.to == WorkloadState::kRunning) {
            sql += ", started_at = ?";
            params.emplace_back(now);
            w.started_at = now;
        }
        if (IsFinal(t.to)) {
            sql += ", finished_at = ?, exit_code = ?";
            params.emplace_back(now);
            params.emplace_back(t.exit_code ? store::Value(std::int64_t{*t.exit_code})
                                            : store::Value(nullptr));
            w.finished_at = now;
            w.exit_code = t.exit_code;
        }
        sql += " WHERE id = ?";
        params.emplace_back(id);
        RETURN_IF_ERROR(tx.Exec(sql, params));
        w.state = t.to;
        w.reason = t.reason;
        return {};
    }));
    return w;
}

Status WorkloadRecords::SetReasons(
    const std::vector<std::pair<std::int64_t, std::string>>& reasons) {
    if (reasons.empty()) {
        return {};
    }
    return store_.Write([&](store::Tx& tx) -> Status {
        for (const auto& [id, reason] : reasons) {
            RETURN_IF_ERROR(tx.Exec("UPDATE workloads SET reason = ? WHERE id = ? AND state = ?",
                                    {reason, id, std::string(StateName(WorkloadState::kScheduling))}));
        }
        return {};
    });
}

Result<std::vector<Workload>> WorkloadRecords::InStates(const std::vector<WorkloadState>& states) {
    std::vector<Workload> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        for (WorkloadState s : states) {
            ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT " + std::string(kColumns) +
                                                     std::string(kFrom) +
                                                     "WHERE w.state = ? ORDER BY w.id",
                                                 {std::string(StateName(s))}));
            for (const auto& r : rows) {
                ASSIGN_OR_RETURN(auto w, FromRow(r));
                out.push_back(std::move(w));
            }
        }
        return {};
    }));
    return out;
}

const store::ListSpec& WorkloadRecords::RunListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"id", "w.id", FieldType::kInt},
                                        {"state", "w.state", FieldType::kText},
                                        {"trigger", "w.trigger", FieldType::kText},
                                        {"created_at", "w.created_at", FieldType::kInt, false, true}},
                                       "-id",
                                       "w.id"};
    return kSpec;
}

Result<std::pair<std::vector<Workload>, std::string>> WorkloadRecords::ListForJob(
    std::int64_t job_id, const store::ListQuery& q) {
    std::vector<Workload> out;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, RunListSpec(), q,
                                                     "SELECT " + std::string(kColumns) +
                                                         std::string(kFrom) + "WHERE w.job_id = ?",
                                                     {job_id}));
        for (const auto& r : page.rows) {
            ASSIGN_OR_RETURN(auto w, FromRow(r));
            out.push_back(std::move(w));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(out), std::move(next));
}

Result<std::string> WorkloadRecords::IssueRunnerToken(std::int64_t id) {
    std::string token = RandomToken(32);
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE workloads SET runner_token_hash = ? WHERE id = ?",
                                {Sha256Hex(token), id}));
        return {};
    }));
    return token;
}

Result<bool> WorkloadRecords::CheckRunnerToken(std::int64_t id, std::string_view token) {
    bool ok = false;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT runner_token_hash, state FROM workloads "
                                               "WHERE id = ?",
                                               {id}));
        ok = row && !row->Text(0).empty() && ConstantTimeEquals(row->Text(0), Sha256Hex(token)) &&
             !IsFinal(ParseState(row->Text(1)).value_or(WorkloadState::kFailed));
        return {};
    }));
    return ok;
}

Status WorkloadRecords::Heartbeat(std::int64_t id) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("UPDATE workloads SET last_heartbeat_at = ? WHERE id = ?",
                                {clock_.NowMs(), id}));
        return {};
    });
}

Result<std::optional<Resources>> WorkloadRecords::Quota(std::string_view type,
                                                        std::string_view subject) {
    std::optional<Resources> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT cpu_millicores, memory_mib, gpus FROM "
                                               "quotas WHERE subject_type = ? AND subject = ?",
                                               {std::string(type), std::string(subject)}));
        if (row) {
            out = Resources{row->Int(0), row->Int(1), row->Int(2)};
        }
        return {};
    }));
    return out;
}

Status WorkloadRecords::SetQuota(std::string_view type, std::string_view subject,
                                 std::optional<Resources> quota) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM quotas WHERE subject_type = ? AND subject = ?",
                                {std::string(type), std::string(subject)}));
        if (quota) {
            RETURN_IF_ERROR(tx.Exec("INSERT INTO quotas (subject_type, subject, cpu_millicores, "
                                    "memory_mib, gpus) VALUES (?, ?, ?, ?, ?)",
                                    {std::string(type), std::string(subject), quota->cpu_millicores,
                                     quota->memory_mib, quota->gpus}));
        }
        return {};
    });
}

Result<std::vector<std::tuple<std::string, std::string, Resources>>> WorkloadRecords::Quotas() {
    std::vector<std::tuple<std::string, std::string, Resources>> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT subject_type, subject, cpu_millicores, "
                                             "memory_mib, gpus FROM quotas ORDER BY 1, 2"));
        for (const auto& r : rows) {
            out.emplace_back(r.Text(0), r.Text(1), Resources{r.Int(2), r.Int(3), r.Int(4)});
        }
        return {};
    }));
    return out;
}

}  // namespace lathe::compute
