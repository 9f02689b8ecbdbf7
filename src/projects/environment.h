// Project environment variables; every value sealed at rest, hidden ones never read back out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/secret_box.h"
#include "store/store.h"

namespace lathe::projects {

struct EnvVar {
    std::string name;
    std::optional<std::string> value;  // nullopt for hidden variables when listed
    bool hidden = false;
};

class Environment {
public:
    Environment(store::Store& store, const Clock& clock, const SecretBox& box)
        : store_(store), clock_(clock), box_(box) {}

    // For display: hidden values are left out.
    Result<std::vector<EnvVar>> List(std::int64_t project_id);
    // For workloads only (later issues): every value, hidden ones decrypted.
    Result<std::vector<EnvVar>> Reveal(std::int64_t project_id);
    Result<EnvVar> Set(std::int64_t project_id, std::string name, std::string value, bool hidden);
    Status Remove(std::int64_t project_id, std::string_view name);

private:
    Result<std::vector<EnvVar>> Load(std::int64_t project_id, bool reveal_hidden);

    store::Store& store_;
    const Clock& clock_;
    const SecretBox& box_;
};

Status ValidateEnvName(std::string_view name);

}  // namespace lathe::projects
