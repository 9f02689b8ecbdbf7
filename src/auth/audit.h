// The audit log: who changed what, when, from where, and how it ended.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/list_query.h"
#include "store/store.h"

namespace lathe::auth {

struct AuditEvent {
    std::int64_t id = 0;
    std::int64_t time = 0;
    std::string actor;   // username, or the name tried for a failed login, or "-"
    std::string action;  // "POST /api/v2/projects" style: method and route pattern
    std::string target;  // the request path
    int status = 0;      // HTTP status of the outcome
    std::string address;
    std::string request_id;
};

class AuditLog {
public:
    explicit AuditLog(store::Store& store) : store_(store) {}
    Status Record(const AuditEvent& event);
    static const store::ListSpec& ListSpec();
    Result<std::pair<std::vector<AuditEvent>, std::string>> List(const store::ListQuery& query);

private:
    store::Store& store_;
};

}  // namespace lathe::auth
