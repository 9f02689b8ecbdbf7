// Teams and their members with roles (Viewer/Operator/Contributor/Admin).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "core/clock.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::auth {

struct Team {
    std::int64_t id = 0;
    std::string name;
    std::string description;
    std::int64_t created_at = 0;
};

struct TeamMember {
    std::string username;
    Role role = Role::kViewer;
};

class Teams {
public:
    Teams(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    Result<Team> Create(std::int64_t creator_id, std::string name, std::string description);
    Result<Team> Get(std::string_view name);
    static const store::ListSpec& TeamListSpec();
    Result<std::pair<std::vector<Team>, std::string>> List(const store::ListQuery& query);
    Status Delete(std::string_view name);
    Result<std::vector<TeamMember>> Members(std::string_view name);
    Result<TeamMember> SetMember(std::string_view team, std::string_view username, Role role);
    Status RemoveMember(std::string_view team, std::string_view username);
    // The user's role in the team; kViewer for non-members (teams are visible to all users),
    // kNone when the team does not exist.
    Result<Role> RoleOf(std::int64_t user_id, std::string_view team);

private:
    store::Store& store_;
    const Clock& clock_;
};

}  // namespace lathe::auth
