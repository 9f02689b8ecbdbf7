// Environment variables over the Store, sealed with the data dir's key.
#include "projects/environment.h"

namespace lathe::projects {

Status ValidateEnvName(std::string_view name) {
    bool ok = !name.empty() && name.size() <= 128 && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char c : name) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    }
    if (!ok) {
        return MakeError(ErrorCode::kBadRequest,
                         "environment variable names are 1-128 of A-Z, a-z, 0-9 and '_', not "
                         "starting with a digit");
    }
    return {};
}

Result<std::vector<EnvVar>> Environment::Load(std::int64_t project_id, bool reveal_hidden) {
    std::vector<store::Row> rows;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(rows, tx.Query("SELECT name, value_sealed, hidden FROM project_env WHERE "
                                        "project_id = ? ORDER BY name",
                                        {project_id}));
        return {};
    }));
    std::vector<EnvVar> vars;
    for (const auto& r : rows) {
        EnvVar v{r.Text(0), std::nullopt, r.Bool(2)};
        if (!v.hidden || reveal_hidden) {
            ASSIGN_OR_RETURN(v.value, box_.Open(r.Text(1)));
        }
        vars.push_back(std::move(v));
    }
    return vars;
}

Result<std::vector<EnvVar>> Environment::List(std::int64_t project_id) {
    return Load(project_id, false);
}

Result<std::vector<EnvVar>> Environment::Reveal(std::int64_t project_id) {
    return Load(project_id, true);
}

Result<EnvVar> Environment::Set(std::int64_t project_id, std::string name, std::string value,
                                bool hidden) {
    RETURN_IF_ERROR(ValidateEnvName(name));
    if (value.size() > 64 * 1024) {
        return MakeError(ErrorCode::kBadRequest, "environment variable values are at most 64 KiB");
    }
    if (value.find('\0') != std::string::npos) {
        return MakeError(ErrorCode::kBadRequest, "environment variable values cannot contain NUL");
    }
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("DELETE FROM project_env WHERE project_id = ? AND name = ?",
                                {project_id, name}));
        RETURN_IF_ERROR(tx.Exec("INSERT INTO project_env (project_id, name, value_sealed, hidden, "
                                "updated_at) VALUES (?, ?, ?, ?, ?)",
                                {project_id, name, box_.Seal(value), std::int64_t{hidden},
                                 clock_.NowMs()}));
        return {};
    }));
    return EnvVar{name, hidden ? std::nullopt : std::optional<std::string>(value), hidden};
}

Status Environment::Remove(std::int64_t project_id, std::string_view name) {
    return store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto n, tx.Exec("DELETE FROM project_env WHERE project_id = ? AND name = ?",
                                         {project_id, std::string(name)}));
        if (n == 0) {
            return MakeError(ErrorCode::kNotFound,
                             "environment variable " + std::string(name) + " does not exist");
        }
        return {};
    });
}

}  // namespace lathe::projects
