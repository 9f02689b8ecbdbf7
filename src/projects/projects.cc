// Projects over the Store, with the role rules of docs/concepts.md.
#include "projects/projects.h"

#include <algorithm>

#include "core/log.h"

namespace lathe::projects {
namespace {

using auth::Role;

// Columns that describe a project for one caller; six '?' for the caller's user id.
constexpr std::string_view kProjectSelect =
    "SELECT p.id, p.name, p.description, p.owner_user_id, p.owner_team_id, p.visibility, "
    "p.created_at, p.updated_at, COALESCE(u.username, t.name), "
    "COALESCE((SELECT c.role FROM collaborators c WHERE c.project_id = p.id AND c.user_id = ?), 0), "
    "COALESCE((SELECT m.role FROM team_members m WHERE m.team_id = p.owner_team_id AND "
    "m.user_id = ?), 0), "
    "CASE WHEN EXISTS (SELECT 1 FROM team_members a JOIN team_members b ON a.team_id = b.team_id "
    "WHERE a.user_id = ? AND b.user_id = p.owner_user_id) THEN 1 ELSE 0 END "
    "FROM projects p LEFT JOIN users u ON u.id = p.owner_user_id "
    "LEFT JOIN teams t ON t.id = p.owner_team_id ";

// Visible to the caller; params: is_admin, then the user id four times.
constexpr std::string_view kVisibleWhere =
    "WHERE (? = 1 OR p.owner_user_id = ? OR p.visibility = 'public' "
    "OR EXISTS (SELECT 1 FROM collaborators c WHERE c.project_id = p.id AND c.user_id = ?) "
    "OR EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = p.owner_team_id AND m.user_id = ?) "
    "OR (p.visibility = 'team' AND EXISTS (SELECT 1 FROM team_members a JOIN team_members b ON "
    "a.team_id = b.team_id WHERE a.user_id = ? AND b.user_id = p.owner_user_id)))";

store::Params CallerParams(const auth::Principal& caller) {
    return {caller.user_id, caller.user_id, caller.user_id};
}

Project ProjectFromRow(const store::Row& r, const auth::Principal& caller) {
    Project p;
    p.id = r.Int(0);
    p.name = r.Text(1);
    p.description = r.Text(2);
    bool team_owned = r.IsNull(3);
    p.owner_type = team_owned ? "team" : "user";
    p.visibility = r.Text(5);
    p.created_at = r.Int(6);
    p.updated_at = r.Int(7);
    p.owner_name = r.Text(8);
    Role role = Role::kNone;
    auto raise = [&](Role r2) { role = std::max(role, r2); };
    if (caller.is_admin) {
        raise(Role::kAdmin);
    }
    if (!team_owned && r.Int(3) == caller.user_id) {
        raise(Role::kAdmin);
    }
    raise(static_cast<Role>(r.Int(9)));
    Role team_role = static_cast<Role>(r.Int(10));
    raise(team_role);
    if (p.visibility == "public") {
        raise(Role::kViewer);
    }
    if (p.visibility == "team" && (r.Int(11) == 1 || team_role != Role::kNone)) {
        raise(Role::kViewer);
    }
    p.my_role = role;
    return p;
}

Status ValidateName(std::string_view name) {
    if (name.empty() || name.size() > 100) {
        return MakeError(ErrorCode::kBadRequest, "project name must be 1-100 characters");
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == '/') {
            return MakeError(ErrorCode::kBadRequest,
                             "project name must not contain '/' or control characters");
        }
    }
    return {};
}

Status ValidateDescription(std::string_view d) {
    if (d.size() > 10000) {
        return MakeError(ErrorCode::kBadRequest, "description must be at most 10000 bytes");
    }
    return {};
}

Status KeepOneAdmin(store::Tx& tx, std::int64_t project_id) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT COUNT(*) FROM collaborators WHERE project_id = "
                                           "? AND role = ?",
                                           {project_id, std::int64_t{static_cast<int>(Role::kAdmin)}}));
    if (!row || row->Int(0) == 0) {
        return MakeError(ErrorCode::kConflict, "a project must keep at least one Admin");
    }
    return {};
}

Result<Project> Load(store::Tx& tx, const auth::Principal& caller, std::int64_t id) {
    store::Params params = CallerParams(caller);
    params.emplace_back(id);
    ASSIGN_OR_RETURN(auto row, tx.QueryOne(std::string(kProjectSelect) + "WHERE p.id = ?", params));
    const auto missing =
        MakeError(ErrorCode::kNotFound, "project " + std::to_string(id) + " does not exist");
    if (!row) {
        return missing;
    }
    Project p = ProjectFromRow(*row, caller);
    if (p.my_role == Role::kNone) {
        return missing;
    }
    return p;
}

Status NameConflict(const Error& e, std::string_view name) {
    if (e.code == ErrorCode::kConflict) {
        return MakeError(ErrorCode::kConflict,
                         "the owner already has a project named '" + std::string(name) + "'");
    }
    return std::unexpected(e);
}

}  // namespace

Status ValidateVisibility(std::string_view v) {
    if (v != "private" && v != "team" && v != "public") {
        return MakeError(ErrorCode::kBadRequest,
                         "visibility must be one of private, team, public");
    }
    return {};
}

Projects::Projects(store::Store& store, const Clock& clock, std::filesystem::path projects_dir,
                   ProjectLimits limits)
    : store_(store), clock_(clock), projects_dir_(std::move(projects_dir)), limits_(limits) {}

std::filesystem::path Projects::ProjectDir(std::int64_t id) const {
    return projects_dir_ / std::to_string(id);
}

std::shared_ptr<FileStore> Projects::Files(std::int64_t id) {
    std::lock_guard lock(mu_);
    auto& store = file_stores_[id];
    if (!store) {
        store = std::make_shared<FileStore>(ProjectDir(id) / "files", limits_.max_file_bytes,
                                            limits_.max_project_bytes);
    }
    return store;
}

Result<Project> Projects::Create(const auth::Principal& caller, const NewProject& np) {
    RETURN_IF_ERROR(ValidateName(np.name));
    RETURN_IF_ERROR(ValidateDescription(np.description));
    RETURN_IF_ERROR(ValidateVisibility(np.visibility));
    const std::int64_t now = clock_.NowMs();
    std::int64_t id = 0;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        store::Value owner_user = caller.user_id;
        store::Value owner_team = nullptr;
        if (np.team) {
            ASSIGN_OR_RETURN(auto team, tx.QueryOne("SELECT id FROM teams WHERE name = ?", {*np.team}));
            if (!team) {
                return MakeError(ErrorCode::kNotFound, "team '" + *np.team + "' does not exist");
            }
            owner_user = nullptr;
            owner_team = team->Int(0);
        }
        auto inserted = tx.InsertReturningId(
            "INSERT INTO projects (name, description, owner_user_id, owner_team_id, visibility, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            {np.name, np.description, owner_user, owner_team, np.visibility, now, now});
        if (!inserted) {
            return NameConflict(inserted.error(), np.name);
        }
        id = *inserted;
        RETURN_IF_ERROR(tx.Exec("INSERT INTO collaborators (project_id, user_id, role) VALUES (?, ?, ?)",
                                {id, caller.user_id, std::int64_t{static_cast<int>(Role::kAdmin)}}));
        return {};
    }));
    std::error_code ec;
    std::filesystem::create_directories(ProjectDir(id) / "files", ec);
    if (ec) {
        LogError("cannot create project directory", {{"project", id}, {"error", ec.message()}});
    }
    return Get(caller, id);
}

Result<Project> Projects::Get(const auth::Principal& caller, std::int64_t id) {
    Project p;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(p, Load(tx, caller, id));
        return {};
    }));
    return p;
}

Result<auth::Role> Projects::RoleOf(const auth::Principal& caller, std::int64_t id) {
    auto p = Get(caller, id);
    if (!p) {
        if (p.error().code == ErrorCode::kNotFound) {
            return Role::kNone;
        }
        return std::unexpected(p.error());
    }
    return p->my_role;
}

Result<std::set<std::int64_t>> Projects::ReadableIds(store::Tx& tx,
                                                     const auth::Principal& caller) {
    store::Params params{std::int64_t{caller.is_admin ? 1 : 0}};
    for (int i = 0; i < 4; ++i) {
        params.emplace_back(caller.user_id);
    }
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT p.id FROM projects p " + std::string(kVisibleWhere), params));
    std::set<std::int64_t> ids;
    for (const auto& r : rows) {
        ids.insert(r.Int(0));
    }
    return ids;
}

const store::ListSpec& Projects::ProjectListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{
        {{"id", "p.id", FieldType::kInt},
         {"name", "p.name", FieldType::kText},
         {"description", "p.description", FieldType::kText, true, false},
         {"owner", "COALESCE(u.username, t.name)", FieldType::kText},
         {"visibility", "p.visibility", FieldType::kText},
         {"created_at", "p.created_at", FieldType::kInt, false, true},
         {"updated_at", "p.updated_at", FieldType::kInt, false, true}},
        "-updated_at",
        "p.id"};
    return kSpec;
}

Result<std::pair<std::vector<Project>, std::string>> Projects::List(
    const auth::Principal& caller, const store::ListQuery& query) {
    std::vector<Project> projects;
    std::string next;
    store::Params params = CallerParams(caller);
    params.emplace_back(std::int64_t{caller.is_admin ? 1 : 0});
    for (int i = 0; i < 4; ++i) {
        params.emplace_back(caller.user_id);
    }
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page,
                         store::QueryPage(tx, ProjectListSpec(), query,
                                          std::string(kProjectSelect) + std::string(kVisibleWhere),
                                          params));
        for (const auto& r : page.rows) {
            projects.push_back(ProjectFromRow(r, caller));
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(projects), std::move(next));
}

Result<Project> Projects::Update(const auth::Principal& caller, std::int64_t id,
                                 const ProjectUpdate& u) {
    if (u.name) {
        RETURN_IF_ERROR(ValidateName(*u.name));
    }
    if (u.description) {
        RETURN_IF_ERROR(ValidateDescription(*u.description));
    }
    if (u.visibility) {
        RETURN_IF_ERROR(ValidateVisibility(*u.visibility));
    }
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        if (u.name) {
            auto st = tx.Exec("UPDATE projects SET name = ? WHERE id = ?", {*u.name, id});
            if (!st) {
                return NameConflict(st.error(), *u.name);
            }
        }
        if (u.description) {
            RETURN_IF_ERROR(
                tx.Exec("UPDATE projects SET description = ? WHERE id = ?", {*u.description, id}));
        }
        if (u.visibility) {
            RETURN_IF_ERROR(
                tx.Exec("UPDATE projects SET visibility = ? WHERE id = ?", {*u.visibility, id}));
        }
        RETURN_IF_ERROR(
            tx.Exec("UPDATE projects SET updated_at = ? WHERE id = ?", {clock_.NowMs(), id}));
        return {};
    }));
    return Get(caller, id);
}

Status Projects::Delete(std::int64_t id) {
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        // Running workloads would lose the record of their end with the project: stop them first.
        ASSIGN_OR_RETURN(auto active, tx.QueryOne("SELECT COUNT(*) FROM workloads WHERE "
                                                  "project_id = ? AND state IN ('scheduling', "
                                                  "'starting', 'running')",
                                                  {id}));
        if (active && active->Int(0) > 0) {
            return MakeError(ErrorCode::kConflict,
                             "project " + std::to_string(id) + " has " +
                                 std::to_string(active->Int(0)) +
                                 " workload(s) in progress (job runs, model builds or model "
                                 "replicas); stop them first (a model's deployment with "
                                 "POST .../deployments/{id}:stop)");
        }
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM projects WHERE id = ?", {id}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound,
                             "project " + std::to_string(id) + " does not exist");
        }
        return {};
    }));
    {
        std::lock_guard lock(mu_);
        file_stores_.erase(id);
    }
    std::error_code ec;
    std::filesystem::remove_all(ProjectDir(id), ec);
    if (ec) {
        LogError("project deleted but its files could not be removed",
                 {{"project", id}, {"dir", ProjectDir(id).string()}, {"error", ec.message()}});
    }
    return {};
}

Result<std::vector<Collaborator>> Projects::Collaborators(std::int64_t id) {
    std::vector<Collaborator> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT u.username, c.role FROM collaborators c JOIN "
                                             "users u ON u.id = c.user_id WHERE c.project_id = ? "
                                             "ORDER BY u.username",
                                             {id}));
        for (const auto& r : rows) {
            out.push_back({r.Text(0), static_cast<Role>(r.Int(1))});
        }
        return {};
    }));
    return out;
}

Result<Collaborator> Projects::SetCollaborator(std::int64_t id, std::string_view username,
                                               Role role) {
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto user, tx.QueryOne("SELECT id FROM users WHERE username = ?",
                                                {std::string(username)}));
        if (!user) {
            return MakeError(ErrorCode::kNotFound,
                             "user '" + std::string(username) + "' does not exist");
        }
        RETURN_IF_ERROR(tx.Exec("DELETE FROM collaborators WHERE project_id = ? AND user_id = ?",
                                {id, user->Int(0)}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO collaborators (project_id, user_id, role) VALUES (?, ?, ?)",
                                {id, user->Int(0), std::int64_t{static_cast<int>(role)}}));
        return KeepOneAdmin(tx, id);
    }));
    return Collaborator{std::string(username), role};
}

Status Projects::RemoveCollaborator(std::int64_t id, std::string_view username) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM collaborators WHERE project_id = ? AND "
                                         "user_id = (SELECT id FROM users WHERE username = ?)",
                                         {id, std::string(username)}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound, "'" + std::string(username) +
                                                       "' is not a collaborator on project " +
                                                       std::to_string(id));
        }
        return KeepOneAdmin(tx, id);
    });
}

}  // namespace lathe::projects
