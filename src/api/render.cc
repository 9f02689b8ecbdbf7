// JSON rendering of API resources.
#include "api/render.h"

#include "core/clock.h"

namespace lathe::api {

using nlohmann::json;

json OptionalTime(const std::optional<std::int64_t>& unix_ms) {
    return unix_ms ? json(FormatTime(*unix_ms)) : json(nullptr);
}

json RenderUser(const auth::User& u) {
    return {{"username", u.username}, {"display_name", u.display_name}, {"email", u.email},
            {"is_admin", u.is_admin}, {"disabled", u.disabled},
            {"created_at", FormatTime(u.created_at)}};
}

json RenderKey(const auth::ApiKeyInfo& k, bool with_username) {
    json j = {{"id", k.id},
              {"name", k.name},
              {"prefix", k.prefix},
              {"created_at", FormatTime(k.created_at)},
              {"expires_at", k.expires_at ? json(FormatTime(*k.expires_at)) : json(nullptr)},
              {"last_used_at", k.last_used_at ? json(FormatTime(*k.last_used_at)) : json(nullptr)}};
    if (with_username) {
        j["username"] = k.username;
    }
    j["model_id"] = k.model_id ? json(*k.model_id) : json(nullptr);
    return j;
}

json RenderTeam(const auth::Team& t) {
    return {{"name", t.name}, {"description", t.description},
            {"created_at", FormatTime(t.created_at)}};
}

json RenderMember(const auth::TeamMember& m) {
    return {{"username", m.username}, {"role", auth::RoleName(m.role)}};
}

json RenderProject(const projects::Project& p) {
    return {{"id", p.id},
            {"name", p.name},
            {"description", p.description},
            {"owner", {{"type", p.owner_type}, {"name", p.owner_name}}},
            {"visibility", p.visibility},
            {"created_at", FormatTime(p.created_at)},
            {"updated_at", FormatTime(p.updated_at)},
            {"my_role", auth::RoleName(p.my_role)}};
}

json RenderCollaborator(const projects::Collaborator& c) {
    return {{"username", c.username}, {"role", auth::RoleName(c.role)}};
}

json RenderFile(const projects::FileEntry& f) {
    return {{"path", f.path},
            {"name", f.name},
            {"type", f.is_dir ? "directory" : "file"},
            {"size", f.size},
            {"modified_at", FormatTime(f.modified_unix_ms)}};
}

json RenderEnvVar(const projects::EnvVar& v) {
    return {{"name", v.name}, {"value", v.value ? json(*v.value) : json(nullptr)},
            {"hidden", v.hidden}};
}

json RenderAuditEvent(const auth::AuditEvent& e) {
    return {{"id", e.id},         {"time", FormatTime(e.time)}, {"actor", e.actor},
            {"action", e.action}, {"target", e.target},         {"status", e.status},
            {"address", e.address}, {"request_id", e.request_id}};
}

}  // namespace lathe::api
