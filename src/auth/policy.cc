// The policy table. Changing who may do what means changing a row here, nowhere else.
#include "auth/policy.h"

#include <string>

namespace lathe::auth {

std::string_view RoleName(Role role) {
    switch (role) {
        case Role::kNone: return "None";
        case Role::kViewer: return "Viewer";
        case Role::kOperator: return "Operator";
        case Role::kContributor: return "Contributor";
        case Role::kAdmin: return "Admin";
    }
    return "None";
}

std::optional<Role> ParseRole(std::string_view name) {
    for (Role r : {Role::kViewer, Role::kOperator, Role::kContributor, Role::kAdmin}) {
        if (RoleName(r) == name) {
            return r;
        }
    }
    return std::nullopt;
}

const std::vector<PolicyRule>& PolicyTable() {
    using A = Action;
    using S = Scope;
    using R = Role;
    static const std::vector<PolicyRule> kTable = {
        {A::kPublic, "public", S::kPublic, R::kNone},
        {A::kSessionRead, "session.read", S::kSite, R::kViewer},
        {A::kLogout, "session.logout", S::kSite, R::kViewer},
        {A::kUserList, "user.list", S::kSite, R::kViewer},
        {A::kUserRead, "user.read", S::kUser, R::kViewer},
        {A::kUserCreate, "user.create", S::kSite, R::kAdmin},
        {A::kUserUpdate, "user.update", S::kUser, R::kAdmin},
        {A::kUserAdminister, "user.administer", S::kSite, R::kAdmin},
        {A::kKeyCreate, "key.create", S::kUser, R::kAdmin, /*self_only=*/true},
        {A::kKeyList, "key.list", S::kUser, R::kAdmin},
        {A::kKeyRevoke, "key.revoke", S::kUser, R::kAdmin},
        {A::kKeyListAll, "key.list_all", S::kSite, R::kAdmin},
        {A::kTeamList, "team.list", S::kSite, R::kViewer},
        {A::kTeamCreate, "team.create", S::kSite, R::kViewer},
        {A::kTeamRead, "team.read", S::kTeam, R::kViewer},
        {A::kTeamDelete, "team.delete", S::kTeam, R::kAdmin},
        {A::kTeamMembersRead, "team.members.read", S::kTeam, R::kViewer},
        {A::kTeamMembersWrite, "team.members.write", S::kTeam, R::kAdmin},
        {A::kTeamProjectCreate, "team.project.create", S::kTeam, R::kContributor},
        {A::kProjectList, "project.list", S::kSite, R::kViewer},
        {A::kProjectCreate, "project.create", S::kSite, R::kViewer},
        {A::kProjectRead, "project.read", S::kProject, R::kViewer},
        {A::kProjectUpdate, "project.update", S::kProject, R::kAdmin},
        {A::kProjectDelete, "project.delete", S::kProject, R::kAdmin},
        {A::kCollaboratorsRead, "project.collaborators.read", S::kProject, R::kViewer},
        {A::kCollaboratorsWrite, "project.collaborators.write", S::kProject, R::kAdmin},
        {A::kFilesRead, "project.files.read", S::kProject, R::kViewer},
        {A::kFilesWrite, "project.files.write", S::kProject, R::kContributor},
        {A::kEnvRead, "project.env.read", S::kProject, R::kViewer},
        {A::kEnvWrite, "project.env.write", S::kProject, R::kContributor},
        {A::kAuditRead, "audit.read", S::kSite, R::kAdmin},
        {A::kQuotaRead, "quota.read", S::kSite, R::kViewer},
        {A::kQuotaWrite, "quota.write", S::kSite, R::kAdmin},
        {A::kJobsRead, "project.jobs.read", S::kProject, R::kViewer},
        {A::kJobsWrite, "project.jobs.write", S::kProject, R::kContributor},
        {A::kJobRunStart, "project.jobs.run", S::kProject, R::kOperator},
        {A::kJobRunStop, "project.jobs.stop", S::kProject, R::kOperator},
        {A::kRunnerAccess, "runner", S::kRunner, R::kAdmin},
        {A::kComputeRead, "compute.read", S::kSite, R::kViewer},
        {A::kProfileWrite, "compute.profiles.write", S::kSite, R::kAdmin},
        {A::kModelsRead, "project.models.read", S::kProject, R::kViewer},
        {A::kModelsWrite, "project.models.write", S::kProject, R::kContributor},
        {A::kModelsOperate, "project.models.operate", S::kProject, R::kOperator},
        {A::kModelCall, "model.call", S::kPublic, R::kNone},
        {A::kModelCallAuthorized, "project.models.call", S::kProject, R::kViewer},
        {A::kServingMetricsRead, "serving.metrics.read", S::kSite, R::kAdmin},
        {A::kMetricsAccess, "metrics.access", S::kSite, R::kViewer},
        {A::kProjectMetricsRead, "project.metrics.read", S::kProject, R::kViewer},
        {A::kProjectMetricsWrite, "project.metrics.write", S::kProject, R::kOperator},
        {A::kLineageRead, "lineage.read", S::kSite, R::kViewer},
        {A::kLineageWrite, "project.lineage.write", S::kProject, R::kOperator},
        {A::kLineageExportStatus, "lineage.export.status", S::kSite, R::kAdmin},
    };
    return kTable;
}

const PolicyRule& RuleFor(Action action) {
    for (const auto& rule : PolicyTable()) {
        if (rule.action == action) {
            return rule;
        }
    }
    // Every Action has a row (a unit test checks); reaching here is our bug, not the caller's.
    std::abort();
}

Status Decide(const PolicyRule& rule, Role role, std::string_view resource_description) {
    if (rule.scope == Scope::kPublic) {
        return {};
    }
    if (role == Role::kNone) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(resource_description) + " does not exist");
    }
    if (role < rule.min_role) {
        std::string message = std::string(rule.name) + " needs the " +
                              std::string(RoleName(rule.min_role)) + " role";
        if (rule.scope == Scope::kProject || rule.scope == Scope::kTeam) {
            message += " on " + std::string(resource_description) + "; you have " +
                       std::string(RoleName(role));
        } else if (rule.scope == Scope::kSite && rule.min_role == Role::kAdmin) {
            message = std::string(rule.name) + " is for site admins";
        } else if (rule.scope == Scope::kUser) {
            message = std::string(rule.name) + " is only allowed for " +
                      std::string(resource_description) + " themselves" +
                      (rule.self_only ? "" : " or a site admin");
        }
        return MakeError(ErrorCode::kPermissionDenied, message);
    }
    return {};
}

}  // namespace lathe::auth
