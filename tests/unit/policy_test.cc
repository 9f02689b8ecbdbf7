// Tests for the permission policy table: completeness, Decide's outcomes and the CML role ladder.
#include "auth/policy.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace lathe::auth {
namespace {

constexpr Role kAllRoles[] = {Role::kNone, Role::kViewer, Role::kOperator, Role::kContributor,
                              Role::kAdmin};

TEST(PolicyTableTest, EveryActionHasExactlyOneRow) {
    const auto& table = PolicyTable();
    const int first = static_cast<int>(Action::kPublic);
    const int last = static_cast<int>(kLastAction);
    for (int a = first; a <= last; ++a) {
        int rows = 0;
        for (const PolicyRule& rule : table) {
            rows += static_cast<int>(rule.action) == a ? 1 : 0;
        }
        EXPECT_EQ(rows, 1) << "Action #" << a << " must have exactly one policy row";
    }
    // No rows for actions outside the enum range either.
    EXPECT_EQ(table.size(), static_cast<std::size_t>(last - first + 1));
}

TEST(PolicyTableTest, RuleForFindsTheActionsOwnRow) {
    const int first = static_cast<int>(Action::kPublic);
    const int last = static_cast<int>(kLastAction);
    for (int a = first; a <= last; ++a) {
        const Action action = static_cast<Action>(a);
        EXPECT_EQ(RuleFor(action).action, action) << "Action #" << a;
    }
}

TEST(PolicyTableTest, NamesAreUniqueAndNonEmpty) {
    std::set<std::string_view> names;
    for (const PolicyRule& rule : PolicyTable()) {
        EXPECT_FALSE(rule.name.empty());
        EXPECT_TRUE(names.insert(rule.name).second) << "duplicate policy name " << rule.name;
    }
}

TEST(PolicyTableTest, OnlyThePublicAndModelCallActionsArePublic) {
    for (const PolicyRule& rule : PolicyTable()) {
        // Model calls are open at the table's level: each model's auth switch then decides,
        // through kModelCallAuthorized.
        EXPECT_EQ(rule.scope == Scope::kPublic,
                  rule.action == Action::kPublic || rule.action == Action::kModelCall)
            << rule.name;
        if (rule.scope != Scope::kPublic) {
            // A non-public action with min role None would let hidden resources through.
            EXPECT_NE(rule.min_role, Role::kNone) << rule.name;
        }
    }
}

TEST(PolicyDecideTest, NoRoleIsNotFoundAndNamesTheResource) {
    auto st = Decide(RuleFor(Action::kProjectRead), Role::kNone, "project 'alice/churn'");
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
    EXPECT_NE(st.error().message.find("project 'alice/churn'"), std::string::npos)
        << st.error().message;
}

TEST(PolicyDecideTest, NoRoleIsNotFoundForEveryNonPublicRule) {
    for (const PolicyRule& rule : PolicyTable()) {
        if (rule.scope == Scope::kPublic) {
            continue;
        }
        auto st = Decide(rule, Role::kNone, "team 'ml'");
        ASSERT_FALSE(st.has_value()) << rule.name;
        EXPECT_EQ(st.error().code, ErrorCode::kNotFound) << rule.name;
        // The message must not reveal that the resource exists but is forbidden.
        EXPECT_EQ(st.error().message.find(rule.name), std::string::npos) << st.error().message;
    }
}

TEST(PolicyDecideTest, BelowMinimumIsPermissionDeniedNamingTheNeededRole) {
    auto st = Decide(RuleFor(Action::kFilesWrite), Role::kViewer, "project 'alice/churn'");
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kPermissionDenied);
    const std::string& message = st.error().message;
    EXPECT_NE(message.find("Contributor"), std::string::npos) << message;
    EXPECT_NE(message.find("project 'alice/churn'"), std::string::npos) << message;
    EXPECT_NE(message.find("Viewer"), std::string::npos) << message;
}

TEST(PolicyDecideTest, SiteAdminActionsSayTheyAreForSiteAdmins) {
    auto st = Decide(RuleFor(Action::kAuditRead), Role::kViewer, "the site");
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(st.error().message.find("site admin"), std::string::npos) << st.error().message;
}

TEST(PolicyDecideTest, AtOrAboveMinimumIsAllowedBelowIsDenied) {
    for (const PolicyRule& rule : PolicyTable()) {
        if (rule.scope == Scope::kPublic) {
            continue;
        }
        for (Role role : kAllRoles) {
            if (role == Role::kNone) {
                continue;
            }
            auto st = Decide(rule, role, "thing 'x'");
            if (role >= rule.min_role) {
                EXPECT_TRUE(st.has_value()) << rule.name << " as " << RoleName(role) << ": "
                                            << st.error().message;
            } else {
                ASSERT_FALSE(st.has_value()) << rule.name << " as " << RoleName(role);
                EXPECT_EQ(st.error().code, ErrorCode::kPermissionDenied)
                    << rule.name << " as " << RoleName(role);
                EXPECT_FALSE(st.error().message.empty());
            }
        }
    }
}

TEST(PolicyDecideTest, PublicScopeIsAlwaysAllowed) {
    const PolicyRule& rule = RuleFor(Action::kPublic);
    for (Role role : kAllRoles) {
        EXPECT_TRUE(Decide(rule, role, "").has_value()) << RoleName(role);
    }
}

// The CML project role ladder, written out independently of the table: each project-scoped
// action and the lowest role that may perform it.
const std::map<std::string_view, Role>& ExpectedProjectLadder() {
    static const std::map<std::string_view, Role> kLadder = {
        {"project.read", Role::kViewer},
        {"project.collaborators.read", Role::kViewer},
        {"project.files.read", Role::kViewer},
        {"project.env.read", Role::kViewer},
        {"project.files.write", Role::kContributor},
        {"project.env.write", Role::kContributor},
        {"project.update", Role::kAdmin},
        {"project.delete", Role::kAdmin},
        {"project.collaborators.write", Role::kAdmin},
        {"project.jobs.read", Role::kViewer},
        {"project.jobs.run", Role::kOperator},
        {"project.jobs.stop", Role::kOperator},
        {"project.jobs.write", Role::kContributor},
        {"project.models.read", Role::kViewer},
        {"project.models.call", Role::kViewer},
        {"project.models.operate", Role::kOperator},
        {"project.models.write", Role::kContributor},
        {"project.metrics.read", Role::kViewer},
        {"project.metrics.write", Role::kOperator},
        {"project.lineage.write", Role::kOperator},
    };
    return kLadder;
}

TEST(PolicyLadderTest, EveryProjectRuleFollowsTheCmlRoleLadder) {
    std::set<std::string_view> seen;
    for (const PolicyRule& rule : PolicyTable()) {
        if (rule.scope != Scope::kProject) {
            continue;
        }
        seen.insert(rule.name);
        auto expected = ExpectedProjectLadder().find(rule.name);
        ASSERT_NE(expected, ExpectedProjectLadder().end())
            << "project rule " << rule.name << " is not on the expected ladder; add it here";
        for (Role role : kAllRoles) {
            auto st = Decide(rule, role, "project 'alice/churn'");
            const bool want_allowed = role != Role::kNone && role >= expected->second;
            EXPECT_EQ(st.has_value(), want_allowed)
                << rule.name << " as " << RoleName(role) << " should be "
                << (want_allowed ? "allowed" : "refused");
            if (!st.has_value()) {
                EXPECT_EQ(st.error().code, role == Role::kNone ? ErrorCode::kNotFound
                                                               : ErrorCode::kPermissionDenied)
                    << rule.name << " as " << RoleName(role);
            }
        }
    }
    // Every ladder entry is a real project-scoped rule (a renamed rule must not go untested).
    for (const auto& [name, role] : ExpectedProjectLadder()) {
        EXPECT_TRUE(seen.count(name)) << name << " is missing from the policy table";
    }
}

TEST(PolicyLadderTest, OperatorCannotWriteFilesButContributorCan) {
    const PolicyRule& rule = RuleFor(Action::kFilesWrite);
    EXPECT_FALSE(Decide(rule, Role::kOperator, "project 'p'").has_value());
    EXPECT_TRUE(Decide(rule, Role::kContributor, "project 'p'").has_value());
}

TEST(PolicyLadderTest, ContributorCannotManageCollaboratorsOrDelete) {
    for (Action action :
         {Action::kCollaboratorsWrite, Action::kProjectDelete, Action::kProjectUpdate}) {
        const PolicyRule& rule = RuleFor(action);
        EXPECT_FALSE(Decide(rule, Role::kContributor, "project 'p'").has_value()) << rule.name;
        EXPECT_TRUE(Decide(rule, Role::kAdmin, "project 'p'").has_value()) << rule.name;
    }
}

TEST(RoleNameTest, ParseRoleAcceptsExactlyTheFourRoleNames) {
    EXPECT_EQ(ParseRole("Viewer"), Role::kViewer);
    EXPECT_EQ(ParseRole("Operator"), Role::kOperator);
    EXPECT_EQ(ParseRole("Contributor"), Role::kContributor);
    EXPECT_EQ(ParseRole("Admin"), Role::kAdmin);
    for (const char* bad : {"viewer", "", "Owner", "None", "ADMIN", "Admin ", " Viewer", "admin"}) {
        EXPECT_EQ(ParseRole(bad), std::nullopt) << "'" << bad << "'";
    }
}

TEST(RoleNameTest, RoleNameRoundTripsThroughParseRole) {
    for (Role role : {Role::kViewer, Role::kOperator, Role::kContributor, Role::kAdmin}) {
        EXPECT_EQ(ParseRole(RoleName(role)), role) << RoleName(role);
    }
}

}  // namespace
}  // namespace lathe::auth
