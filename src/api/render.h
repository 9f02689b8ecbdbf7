// JSON shapes of API resources, in one place so every endpoint renders them the same way.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "auth/accounts.h"
#include "auth/audit.h"
#include "auth/teams.h"
#include "projects/environment.h"
#include "projects/file_store.h"
#include "projects/projects.h"

namespace lathe::api {

// An RFC 3339 time, or null.
nlohmann::json OptionalTime(const std::optional<std::int64_t>& unix_ms);
nlohmann::json RenderUser(const auth::User& u);
nlohmann::json RenderKey(const auth::ApiKeyInfo& k, bool with_username);
nlohmann::json RenderTeam(const auth::Team& t);
nlohmann::json RenderMember(const auth::TeamMember& m);
nlohmann::json RenderProject(const projects::Project& p);
nlohmann::json RenderCollaborator(const projects::Collaborator& c);
nlohmann::json RenderFile(const projects::FileEntry& f);
nlohmann::json RenderEnvVar(const projects::EnvVar& v);
nlohmann::json RenderAuditEvent(const auth::AuditEvent& e);

}  // namespace lathe::api
