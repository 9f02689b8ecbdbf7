// Who is calling: the authenticated user and how they proved it.
#pragma once

#include <cstdint>
#include <string>

namespace lathe::auth {

enum class AuthMethod { kNone, kSession, kApiKey, kRunner, kReplica };

struct Principal {
    std::int64_t user_id = 0;
    std::string username;
    bool is_admin = false;
    AuthMethod method = AuthMethod::kNone;
    std::int64_t session_id = 0;  // kSession
    std::string csrf_token;       // kSession
    std::int64_t key_id = 0;      // kApiKey
    std::int64_t key_model_id = 0;  // kApiKey: a model API key, good only for calling this model
    std::int64_t replica_deployment_id = 0;  // kReplica: the only deployment it may touch
    std::int64_t replica_project_id = 0;     // kReplica

    bool authenticated() const { return method != AuthMethod::kNone; }
};

}  // namespace lathe::auth
