// Teams over the Store.
#include "auth/teams.h"

#include "auth/accounts.h"

namespace lathe::auth {
namespace {

Result<Team> TeamByName(store::Tx& tx, std::string_view name) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT id, name, description, created_at FROM teams "
                                           "WHERE name = ?",
                                           {std::string(name)}));
    if (!row) {
        return MakeError(ErrorCode::kNotFound, "team '" + std::string(name) + "' does not exist");
    }
    return Team{row->Int(0), row->Text(1), row->Text(2), row->Int(3)};
}

// Refuses a change that would leave the team without an Admin.
Status KeepOneAdmin(store::Tx& tx, std::int64_t team_id) {
    ASSIGN_OR_RETURN(auto row, tx.QueryOne("SELECT COUNT(*) FROM team_members WHERE team_id = ? "
                                           "AND role = ?",
                                           {team_id, std::int64_t{static_cast<int>(Role::kAdmin)}}));
    if (!row || row->Int(0) == 0) {
        return MakeError(ErrorCode::kConflict, "a team must keep at least one Admin");
    }
    return {};
}

}  // namespace

Result<Team> Teams::Create(std::int64_t creator_id, std::string name, std::string description) {
    RETURN_IF_ERROR(ValidateAccountName(name, "team name"));
    if (description.size() > 2000) {
        return MakeError(ErrorCode::kBadRequest, "description must be at most 2000 bytes");
    }
    Team team{0, name, description, clock_.NowMs()};
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto user, tx.QueryOne("SELECT 1 FROM users WHERE username = ?", {name}));
        if (user) {
            return MakeError(ErrorCode::kConflict, "'" + name + "' is already the name of a user");
        }
        auto id = tx.InsertReturningId(
            "INSERT INTO teams (name, description, created_at) VALUES (?, ?, ?) RETURNING id",
            {name, description, team.created_at});
        if (!id && id.error().code == ErrorCode::kConflict) {
            return MakeError(ErrorCode::kConflict, "team '" + name + "' already exists");
        }
        RETURN_IF_ERROR(id);
        team.id = *id;
        RETURN_IF_ERROR(tx.Exec("INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, ?)",
                                {team.id, creator_id,
                                 std::int64_t{static_cast<int>(Role::kAdmin)}}));
        return {};
    }));
    return team;
}

Result<Team> Teams::Get(std::string_view name) {
    Team team;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(team, TeamByName(tx, name));
        return {};
    }));
    return team;
}

const store::ListSpec& Teams::TeamListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{
        {{"name", "name", FieldType::kText},
         {"description", "description", FieldType::kText},
         {"created_at", "created_at", FieldType::kInt, false, true}},
        "name",
        "id"};
    return kSpec;
}

Result<std::pair<std::vector<Team>, std::string>> Teams::List(const store::ListQuery& query) {
    std::vector<Team> teams;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page, store::QueryPage(tx, TeamListSpec(), query,
                                                     "SELECT id, name, description, created_at "
                                                     "FROM teams WHERE 1=1",
                                                     {}));
        for (const auto& r : page.rows) {
            teams.push_back(Team{r.Int(0), r.Text(1), r.Text(2), r.Int(3)});
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(teams), std::move(next));
}

Status Teams::Delete(std::string_view name) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Team team, TeamByName(tx, name));
        ASSIGN_OR_RETURN(auto owned,
                         tx.QueryOne("SELECT COUNT(*) FROM projects WHERE owner_team_id = ?",
                                     {team.id}));
        if (owned && owned->Int(0) > 0) {
            return MakeError(ErrorCode::kConflict,
                             "team '" + team.name + "' owns " + std::to_string(owned->Int(0)) +
                                 " project(s); delete or move them first");
        }
        RETURN_IF_ERROR(tx.Exec("DELETE FROM team_members WHERE team_id = ?", {team.id}));
        RETURN_IF_ERROR(tx.Exec("DELETE FROM teams WHERE id = ?", {team.id}));
        return {};
    });
}

Result<std::vector<TeamMember>> Teams::Members(std::string_view name) {
    std::vector<TeamMember> members;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Team team, TeamByName(tx, name));
        ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT u.username, m.role FROM team_members m JOIN "
                                             "users u ON u.id = m.user_id WHERE m.team_id = ? "
                                             "ORDER BY u.username",
                                             {team.id}));
        for (const auto& r : rows) {
            members.push_back({r.Text(0), static_cast<Role>(r.Int(1))});
        }
        return {};
    }));
    return members;
}

Result<TeamMember> Teams::SetMember(std::string_view team_name, std::string_view username,
                                    Role role) {
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Team team, TeamByName(tx, team_name));
        ASSIGN_OR_RETURN(auto user, tx.QueryOne("SELECT id FROM users WHERE username = ?",
                                                {std::string(username)}));
        if (!user) {
            return MakeError(ErrorCode::kNotFound,
                             "user '" + std::string(username) + "' does not exist");
        }
        RETURN_IF_ERROR(tx.Exec("DELETE FROM team_members WHERE team_id = ? AND user_id = ?",
                                {team.id, user->Int(0)}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, ?)",
                                {team.id, user->Int(0), std::int64_t{static_cast<int>(role)}}));
        return KeepOneAdmin(tx, team.id);
    }));
    return TeamMember{std::string(username), role};
}

Status Teams::RemoveMember(std::string_view team_name, std::string_view username) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(Team team, TeamByName(tx, team_name));
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM team_members WHERE team_id = ? AND user_id = "
                                         "(SELECT id FROM users WHERE username = ?)",
                                         {team.id, std::string(username)}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound, "'" + std::string(username) +
                                                       "' is not a member of team '" + team.name +
                                                       "'");
        }
        return KeepOneAdmin(tx, team.id);
    });
}

Result<Role> Teams::RoleOf(std::int64_t user_id, std::string_view name) {
    Role role = Role::kNone;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto row,
                         tx.QueryOne("SELECT t.id, (SELECT role FROM team_members WHERE team_id = "
                                     "t.id AND user_id = ?) FROM teams t WHERE t.name = ?",
                                     {user_id, std::string(name)}));
        if (row) {
            role = row->IsNull(1) ? Role::kViewer : static_cast<Role>(row->Int(1));
        }
        return {};
    }));
    return role;
}

}  // namespace lathe::auth
