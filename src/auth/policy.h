// The permission policy: one table of (action -> scope, minimum role) that every endpoint uses.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lathe::auth {

// CML's project roles, also used for teams. kNone: the caller can't even see the resource.
enum class Role { kNone = 0, kViewer = 1, kOperator = 2, kContributor = 3, kAdmin = 4 };

std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);  // exactly "Viewer", "Operator", ...

// Where an action's role comes from.
enum class Scope {
    kPublic,   // no caller needed
    kSite,     // any signed-in user is Viewer; site admins are Admin
    kUser,     // the {username} in the path: self is Admin, site admins Admin, others Viewer
    kTeam,     // the {team} in the path: the member's role, Viewer for everyone else
    kProject,  // the {project_id} in the path: the caller's project role (kNone hides it)
    kRunner,   // the {workload_id} in the path: Admin for the runner holding its token, else kNone
};

enum class Action {
    kPublic,
    kSessionRead,
    kLogout,
    kUserList,
    kUserRead,
    kUserCreate,
    kUserUpdate,
    kUserAdminister,  // is_admin / disabled flags
    kKeyCreate,
    kKeyList,
    kKeyRevoke,
    kKeyListAll,
    kTeamList,
    kTeamCreate,
    kTeamRead,
    kTeamDelete,
    kTeamMembersRead,
    kTeamMembersWrite,
    kTeamProjectCreate,
    kProjectList,
    kProjectCreate,
    kProjectRead,
    kProjectUpdate,
    kProjectDelete,
    kCollaboratorsRead,
    kCollaboratorsWrite,
    kFilesRead,
    kFilesWrite,
    kEnvRead,
    kEnvWrite,
    kAuditRead,
    kQuotaRead,
    kQuotaWrite,
    kJobsRead,
    kJobsWrite,
    kJobRunStart,
    kJobRunStop,
    kRunnerAccess,
    kComputeRead,
    kProfileWrite,
    kModelsRead,
    kModelsWrite,
    kModelsOperate,
    kModelCall,            // POST /model: open; the model's auth switch decides (next rule)
    kModelCallAuthorized,  // a caller of a model whose auth is on
    kServingMetricsRead,
    kMetricsAccess,        // /api/v2/metrics...: signed in; the handler checks the next two
    kProjectMetricsRead,   // on the project of the deployment whose metrics are read
    kProjectMetricsWrite,  // ... or written (delayed and aggregate metrics)
    kLineageRead,          // the lineage graph and the catalog, filtered to readable projects
    kLineageWrite,         // a run's datasets (the SDK's lathe.lineage.used/produced)
    kLineageExportStatus,  // the Atlas/OpenLineage delivery queue
};

// The last enumerator, so tests can walk every Action.
inline constexpr Action kLastAction = Action::kLineageExportStatus;

struct PolicyRule {
    Action action;
    std::string_view name;  // "project.files.write": shown in audit events and route tables
    Scope scope;
    Role min_role;
    bool self_only = false;  // kUser scope: site admins don't act for others
};

const std::vector<PolicyRule>& PolicyTable();
const PolicyRule& RuleFor(Action action);

// Decides given the caller's role in the action's scope: kNotFound when the caller can't see
// the resource (existence is not leaked), kPermissionDenied when they can but lack the role.
Status Decide(const PolicyRule& rule, Role role, std::string_view resource_description);

}  // namespace lathe::auth
