// Export of lineage to Apache Atlas and OpenLineage receivers through an outbox in the store: an
// acknowledged enqueue survives a crash, and a thread delivers rows in order with retries.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "lineage/graph.h"
#include "lineage/openlineage.h"
#include "store/store.h"

namespace lathe::lineage {

// lineage_outbox.target values.
inline constexpr std::string_view kTargetOpenLineage = "openlineage";
inline constexpr std::string_view kTargetAtlas = "atlas";

struct ExporterOptions {
    std::string atlas_url;  // base URL, "http://atlas:21000"; empty: no Atlas export
    std::string atlas_user;
    std::string atlas_password;       // secret: never logged
    std::string openlineage_url;      // base URL, events go to <url>/api/v1/lineage; empty: none
    std::string openlineage_api_key;  // secret: sent as a Bearer token, never logged
    std::string openlineage_namespace = "lathe://default";  // jobs and project files
    // Undelivered rows kept per target; past it the oldest are dropped (with a warning).
    std::int64_t max_undelivered = 100000;
    std::int64_t first_retry_ms = 1000;                       // doubles after each failure ...
    std::int64_t max_retry_ms = 300000;                       // ... up to this
    std::int64_t keep_delivered_ms = 7LL * 24 * 3600 * 1000;  // then delivered rows are deleted
    long request_timeout_seconds = 10;
};

struct ExportStatus {
    std::string target;  // "openlineage" | "atlas"
    bool configured = false;
    std::int64_t pending = 0;    // not delivered yet, will be tried (again)
    std::int64_t delivered = 0;  // delivered and still kept
    std::int64_t failed = 0;     // refused by the receiver (a 4xx): kept, not tried again
    std::int64_t dropped = 0;    // since start, to stay within max_undelivered
    std::string last_error;      // of the newest undelivered row that has one
    std::optional<std::int64_t> last_delivered_at;  // ms since the epoch
};

class Exporter {
public:
    Exporter(store::Store& store, const Clock& clock, ExporterOptions options);
    ~Exporter();

    // The delivery thread.
    void Start();
    void Shutdown();

    // One outbox row for the configured OpenLineage receiver (a no-op without one);
    // in.job_namespace defaults to the configured namespace and in.event_time_ms to now. Durable
    // when it returns.
    Status EnqueueRunEvent(const RunEventInput& in);
    // One entity/bulk body with the graph's nodes for the configured Atlas (a no-op without one).
    Status EnqueueEntities(const Graph& g);

    // Per target, for the admin API.
    Result<std::vector<ExportStatus>> Statuses();

    // Delivers what is due now on the caller's thread (tests, without Start()).
    void DeliverDue();
    // Makes the thread look for due rows now.
    void Wake();

    // The URLs requests go to.
    std::string OpenLineageEndpoint() const;
    std::string AtlasEndpoint(std::string_view path) const;

private:
    enum class Outcome { kDelivered, kRetry, kRefused };
    struct Attempt {
        Outcome outcome;
        std::string error;  // already stripped of secrets
    };
    struct Due {
        std::int64_t id;
        std::string body;
        std::int64_t attempts;
        std::int64_t next_attempt_at;
    };

    Status Enqueue(std::string_view target, const std::string& body);
    // Delivers one target's due rows in id order; stops at the first one that must wait.
    void DeliverTarget(std::string_view target);
    Attempt Send(std::string_view target, const std::string& body);
    Attempt EnsureAtlasTypes();
    std::string Redact(std::string text) const;
    std::int64_t RetryDelayMs(std::int64_t attempts) const;
    void Run();
    bool Stopping() const { return stopping_.load(); }

    store::Store& store_;
    const Clock& clock_;
    const ExporterOptions options_;

    std::mutex deliver_mu_;     // one delivery pass at a time (thread or DeliverDue)
    bool atlas_types_ = false;  // guarded by deliver_mu_: typedefs accepted since start

    std::array<std::atomic<std::int64_t>, 2> dropped_{};  // openlineage, atlas
    std::atomic<bool> stopping_{false};

    std::mutex mu_;  // guards woken_
    std::condition_variable cv_;
    bool woken_ = false;
    std::thread thread_;
};

// A URL without its user information, query and fragment, fit for a log line.
std::string UrlForLog(std::string_view url);

}  // namespace lathe::lineage
