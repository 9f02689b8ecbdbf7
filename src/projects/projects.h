// Projects, their collaborators and the caller's role on each; owns the project directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "auth/principal.h"
#include "core/clock.h"
#include "projects/file_store.h"
#include "store/list_query.h"
#include "store/store.h"

namespace lathe::projects {

struct Project {
    std::int64_t id = 0;
    std::string name;
    std::string description;
    std::string owner_type;  // "user" | "team"
    std::string owner_name;
    std::string visibility;  // "private" | "team" | "public"
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    auth::Role my_role = auth::Role::kNone;
};

struct NewProject {
    std::string name;
    std::string description;
    std::string visibility = "private";
    std::optional<std::string> team;  // owner team; the creator otherwise
};

struct ProjectUpdate {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<std::string> visibility;
};

struct Collaborator {
    std::string username;
    auth::Role role = auth::Role::kViewer;
};

struct ProjectLimits {
    std::uint64_t max_file_bytes = 1ull << 30;
    std::uint64_t max_project_bytes = 10ull << 30;
};

class Projects {
public:
    Projects(store::Store& store, const Clock& clock, std::filesystem::path projects_dir,
             ProjectLimits limits);

    Result<Project> Create(const auth::Principal& caller, const NewProject& p);
    // kNotFound if it does not exist or the caller can't see it.
    Result<Project> Get(const auth::Principal& caller, std::int64_t id);
    static const store::ListSpec& ProjectListSpec();
    Result<std::pair<std::vector<Project>, std::string>> List(const auth::Principal& caller,
                                                              const store::ListQuery& query);
    Result<Project> Update(const auth::Principal& caller, std::int64_t id, const ProjectUpdate& u);
    Status Delete(std::int64_t id);

    // The caller's role (kNone when the project is missing or invisible to them).
    Result<auth::Role> RoleOf(const auth::Principal& caller, std::int64_t id);
    // The ids of every project the caller may read (Viewer or more), in `tx`.
    static Result<std::set<std::int64_t>> ReadableIds(store::Tx& tx, const auth::Principal& caller);

    Result<std::vector<Collaborator>> Collaborators(std::int64_t id);
    Result<Collaborator> SetCollaborator(std::int64_t id, std::string_view username,
                                         auth::Role role);
    Status RemoveCollaborator(std::int64_t id, std::string_view username);

    // The project's file store (the project must exist; callers have authorized already). One
    // instance per project, so concurrent uploads share its quota lock.
    std::shared_ptr<FileStore> Files(std::int64_t id);
    std::filesystem::path ProjectDir(std::int64_t id) const;

private:
    store::Store& store_;
    const Clock& clock_;
    std::filesystem::path projects_dir_;
    ProjectLimits limits_;
    std::mutex mu_;  // guards file_stores_
    std::unordered_map<std::int64_t, std::shared_ptr<FileStore>> file_stores_;
};

// "private", "team", "public".
Status ValidateVisibility(std::string_view visibility);

}  // namespace lathe::projects
