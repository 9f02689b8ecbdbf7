// Audit events over the Store.
#include "auth/audit.h"

namespace lathe::auth {

Status AuditLog::Record(const AuditEvent& e) {
    return store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(tx.Exec("INSERT INTO audit_events (time, actor, action, target, status, "
                                "address, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                {e.time, e.actor, e.action, e.target, std::int64_t{e.status},
                                 e.address, e.request_id}));
        return {};
    });
}

const store::ListSpec& AuditLog::ListSpec() {
    using store::FieldType;
    static const store::ListSpec kSpec{{{"actor", "actor", FieldType::kText},
                                        {"action", "action", FieldType::kText},
                                        {"target", "target", FieldType::kText},
                                        {"status", "status", FieldType::kInt},
                                        {"time", "time", FieldType::kInt, false, true}},
                                       "-time",
                                       "id"};
    return kSpec;
}

Result<std::pair<std::vector<AuditEvent>, std::string>> AuditLog::List(
    const store::ListQuery& query) {
    std::vector<AuditEvent> events;
    std::string next;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto page,
                         store::QueryPage(tx, ListSpec(), query,
                                          "SELECT id, time, actor, action, target, status, "
                                          "address, request_id FROM audit_events WHERE 1=1",
                                          {}));
        for (const auto& r : page.rows) {
            events.push_back({r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4),
                              static_cast<int>(r.Int(5)), r.Text(6), r.Text(7)});
        }
        next = page.next_page_token;
        return {};
    }));
    return std::make_pair(std::move(events), std::move(next));
}

}  // namespace lathe::auth
