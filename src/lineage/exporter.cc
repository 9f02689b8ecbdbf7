// The lineage outbox: a row per event or entity batch, committed before the enqueue returns,
// delivered in id order per target by one thread, retried with backoff, given up when refused.
#include "lineage/exporter.h"

#include <algorithm>

#include "core/log.h"
#include "core/webhook.h"
#include "lineage/atlas.h"

namespace lathe::lineage {

using nlohmann::json;

namespace {

// A row the receiver refused for good keeps next_attempt_at = kGaveUp, so it is neither due nor
// counted as pending, and stays for an admin to read its last_error.
constexpr std::int64_t kGaveUp = -1;
constexpr std::int64_t kBatch = 20;
constexpr std::size_t kMaxErrorBody = 300;

std::size_t TargetIndex(std::string_view target) {
    return target == kTargetAtlas ? 1 : 0;
}

std::string TrimSlashes(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

// RFC 4648 base64 with padding, as HTTP basic authentication encodes "user:password".
std::string Base64(std::string_view data) {
    constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        std::uint32_t n = static_cast<unsigned char>(data[i]) << 16;
        if (i + 1 < data.size()) {
            n |= static_cast<unsigned char>(data[i + 1]) << 8;
        }
        if (i + 2 < data.size()) {
            n |= static_cast<unsigned char>(data[i + 2]);
        }
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < data.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < data.size() ? kAlphabet[n & 63] : '=';
    }
    return out;
}

bool IsRetryable(long status) {
    return status == 408 || status == 429 || status < 400 || status >= 500;
}

}  // namespace

std::string UrlForLog(std::string_view url) {
    std::string out(url.substr(0, url.find_first_of("?#")));
    const std::size_t scheme = out.find("://");
    const std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t path = out.find('/', host);
    const std::size_t at = out.rfind('@', path == std::string::npos ? out.size() : path);
    if (at != std::string::npos && at >= host) {
        out.erase(host, at + 1 - host);
    }
    return out;
}

Exporter::Exporter(store::Store& store, const Clock& clock, ExporterOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Exporter::~Exporter() {
    Shutdown();
}

void Exporter::Start() {
    if (thread_.joinable() || (options_.atlas_url.empty() && options_.openlineage_url.empty())) {
        return;
    }
    stopping_ = false;
    thread_ = std::thread([this] { Run(); });
}

void Exporter::Shutdown() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Exporter::Wake() {
    {
        std::lock_guard lock(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

std::string Exporter::OpenLineageEndpoint() const {
    std::string base = TrimSlashes(options_.openlineage_url);
    constexpr std::string_view kPath = "/api/v1/lineage";
    return base.ends_with(kPath) ? base : base + std::string(kPath);
}

std::string Exporter::AtlasEndpoint(std::string_view path) const {
    return TrimSlashes(options_.atlas_url) + std::string(path);
}

Status Exporter::EnqueueRunEvent(const RunEventInput& in) {
    if (options_.openlineage_url.empty()) {
        return {};
    }
    RunEventInput event = in;
    if (event.job_namespace.empty()) {
        event.job_namespace = options_.openlineage_namespace;
    }
    if (event.event_time_ms == 0) {
        event.event_time_ms = clock_.NowMs();
    }
    return Enqueue(kTargetOpenLineage, RunEvent(event).dump());
}

Status Exporter::EnqueueEntities(const Graph& g) {
    if (options_.atlas_url.empty() || g.nodes.empty()) {
        return {};
    }
    return Enqueue(kTargetAtlas, AtlasEntities(g).dump());
}

Status Exporter::Enqueue(std::string_view target, const std::string& body) {
    const std::int64_t now = clock_.NowMs();
    std::int64_t dropped = 0;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
        ASSIGN_OR_RETURN(auto count,
                         tx.QueryOne("SELECT COUNT(*) FROM lineage_outbox WHERE target = ? AND "
                                     "delivered_at IS NULL",
                                     {std::string(target)}));
        const std::int64_t undelivered = count ? count->Int(0) : 0;
        if (undelivered >= options_.max_undelivered) {
            // A receiver that has been away for long must not fill the disk: the newest facts
            // are worth more than the oldest.
            dropped = undelivered - options_.max_undelivered + 1;
            RETURN_IF_ERROR(tx.Exec(
                "DELETE FROM lineage_outbox WHERE id IN (SELECT id FROM lineage_outbox WHERE "
                "target = ? AND delivered_at IS NULL ORDER BY id LIMIT ?)",
                {std::string(target), dropped}));
        }
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO lineage_outbox (target, body, attempts, "
                    "next_attempt_at, last_error, created_at) VALUES (?, ?, 0, ?, '', ?)",
                    {std::string(target), body, now, now}));
        return {};
    }));
    if (dropped > 0) {
        dropped_[TargetIndex(target)] += dropped;
        LogWarn("lineage export queue is full; dropped the oldest undelivered rows",
                {{"target", std::string(target)},
                 {"dropped", dropped},
                 {"max_undelivered", options_.max_undelivered}});
    }
    Wake();
    return {};
}

std::string Exporter::Redact(std::string text) const {
    // A receiver's error body may echo what it was sent, the basic-auth token included.
    const std::string basic = options_.atlas_password.empty()
                                  ? std::string()
                                  : Base64(options_.atlas_user + ":" + options_.atlas_password);
    for (const std::string* secret :
         {&options_.atlas_password, &options_.openlineage_api_key, &basic}) {
        if (secret->size() < 3) {
            continue;  // too short to tell apart from ordinary text; nothing real is this short
        }
        for (std::size_t pos = 0; (pos = text.find(*secret, pos)) != std::string::npos;) {
            text.replace(pos, secret->size(), "***");
            pos += 3;
        }
    }
    return text;
}

std::int64_t Exporter::RetryDelayMs(std::int64_t attempts) const {
    std::int64_t delay = options_.first_retry_ms;
    for (std::int64_t i = 1; i < attempts && delay < options_.max_retry_ms; ++i) {
        delay *= 2;
    }
    return std::min(delay, options_.max_retry_ms);
}

Exporter::Attempt Exporter::EnsureAtlasTypes() {
    if (atlas_types_) {
        return {Outcome::kDelivered, ""};
    }
    // POST creates the types; Atlas answers 409 when they exist, and then PUT brings them up
    // to this version's definitions.
    HttpRequest request;
    request.url = AtlasEndpoint("/api/atlas/v2/types/typedefs");
    request.body = AtlasTypeDefs().dump();
    request.basic_user = options_.atlas_user;
    request.basic_password = options_.atlas_password;
    request.timeout_seconds = options_.request_timeout_seconds;
    request.cancel = &stopping_;
    auto reply = SendJson(request);
    if (reply && reply->status == 409) {
        request.method = "PUT";
        reply = SendJson(request);
    }
    if (!reply) {
        return {Outcome::kRetry, Redact("Atlas type definitions: " + reply.error().message)};
    }
    if (reply->status < 200 || reply->status >= 300) {
        // Even a refusal is retried: entities cannot be created without their types, and the
        // rows must survive until an administrator fixes Atlas.
        return {Outcome::kRetry,
                Redact("Atlas did not accept the type definitions: HTTP " +
                       std::to_string(reply->status) + " " + reply->body.substr(0, kMaxErrorBody))};
    }
    atlas_types_ = true;
    LogInfo("Atlas type definitions registered",
            {{"url", UrlForLog(request.url)}, {"status", reply->status}});
    return {Outcome::kDelivered, ""};
}

Exporter::Attempt Exporter::Send(std::string_view target, const std::string& body) {
    HttpRequest request;
    request.body = body;
    request.timeout_seconds = options_.request_timeout_seconds;
    request.cancel = &stopping_;
    if (target == kTargetAtlas) {
        Attempt types = EnsureAtlasTypes();
        if (types.outcome != Outcome::kDelivered) {
            return types;
        }
        request.url = AtlasEndpoint("/api/atlas/v2/entity/bulk");
        request.basic_user = options_.atlas_user;
        request.basic_password = options_.atlas_password;
    } else {
        request.url = OpenLineageEndpoint();
        if (!options_.openlineage_api_key.empty()) {
            request.headers.push_back("Authorization: Bearer " + options_.openlineage_api_key);
        }
    }
    auto reply = SendJson(request);
    if (!reply) {
        return {Outcome::kRetry, Redact(reply.error().message)};
    }
    if (reply->status >= 200 && reply->status < 300) {
        return {Outcome::kDelivered, ""};
    }
    const std::string error = Redact("HTTP " + std::to_string(reply->status) + " " +
                                     reply->body.substr(0, kMaxErrorBody));
    return {IsRetryable(reply->status) ? Outcome::kRetry : Outcome::kRefused, error};
}

void Exporter::DeliverTarget(std::string_view target) {
    const std::string url =
        UrlForLog(target == kTargetAtlas ? AtlasEndpoint("/api/atlas/v2/entity/bulk")
                                         : OpenLineageEndpoint());
    while (!Stopping()) {
        std::vector<Due> due;
        auto read = store_.Read([&](store::Tx& tx) -> Status {
            ASSIGN_OR_RETURN(auto rows,
                             tx.Query("SELECT id, body, attempts, next_attempt_at FROM "
                                      "lineage_outbox WHERE target = ? AND delivered_at IS NULL "
                                      "AND next_attempt_at >= 0 ORDER BY id LIMIT ?",
                                      {std::string(target), kBatch}));
            for (const auto& r : rows) {
                due.push_back({r.Int(0), r.Text(1), r.Int(2), r.Int(3)});
            }
            return {};
        });
        if (!read) {
            LogWarn("cannot read the lineage outbox", {{"error", read.error().message}});
            return;
        }
        for (const Due& d : due) {
            // In order: a row waiting for its retry holds back the ones after it, so a receiver
            // sees a run's START before its COMPLETE.
            if (Stopping() || d.next_attempt_at > clock_.NowMs()) {
                return;
            }
            const Attempt a = Send(target, d.body);
            if (Stopping() && a.outcome == Outcome::kRetry) {
                return;  // cancelled by shutdown: not the receiver's fault, not an attempt
            }
            const std::int64_t attempts = d.attempts + 1;
            const std::int64_t after = clock_.NowMs();
            store::Params params;
            std::string sql;
            if (a.outcome == Outcome::kDelivered) {
                sql =
                    "UPDATE lineage_outbox SET attempts = ?, delivered_at = ?, last_error = '' "
                    "WHERE id = ?";
                params = {attempts, after, d.id};
            } else {
                sql =
                    "UPDATE lineage_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
                    "WHERE id = ?";
                params = {attempts,
                          a.outcome == Outcome::kRetry ? after + RetryDelayMs(attempts) : kGaveUp,
                          a.error, d.id};
            }
            auto written = store_.Write([&](store::Tx& tx) -> Status {
                RETURN_IF_ERROR(tx.Exec(sql, params));
                return {};
            });
            if (!written) {
                LogWarn("cannot record a lineage delivery", {{"error", written.error().message}});
                return;
            }
            if (a.outcome == Outcome::kRefused) {
                LogWarn("lineage export refused by the receiver; not retried",
                        {{"target", std::string(target)},
                         {"url", url},
                         {"row", d.id},
                         {"error", a.error}});
            } else if (a.outcome == Outcome::kRetry) {
                if (attempts == 1 || attempts % 10 == 0) {
                    LogWarn("lineage export not delivered; will retry",
                            {{"target", std::string(target)},
                             {"url", url},
                             {"attempts", attempts},
                             {"retry_in_ms", RetryDelayMs(attempts)},
                             {"error", a.error}});
                }
                return;
            }
        }
        if (static_cast<std::int64_t>(due.size()) < kBatch) {
            return;
        }
    }
}

void Exporter::DeliverDue() {
    std::lock_guard lock(deliver_mu_);
    const std::int64_t now = clock_.NowMs();
    auto pruned = store_.Write([&](store::Tx& tx) -> Status {
        RETURN_IF_ERROR(
            tx.Exec("DELETE FROM lineage_outbox WHERE delivered_at IS NOT NULL AND "
                    "delivered_at < ?",
                    {now - options_.keep_delivered_ms}));
        return {};
    });
    if (!pruned) {
        LogWarn("cannot prune the lineage outbox", {{"error", pruned.error().message}});
    }
    if (!options_.openlineage_url.empty()) {
        DeliverTarget(kTargetOpenLineage);
    }
    if (!options_.atlas_url.empty()) {
        DeliverTarget(kTargetAtlas);
    }
}

Result<std::vector<ExportStatus>> Exporter::Statuses() {
    std::vector<ExportStatus> out;
    RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
        for (std::string_view target : {kTargetOpenLineage, kTargetAtlas}) {
            ExportStatus s;
            s.target = std::string(target);
            s.configured = target == kTargetAtlas ? !options_.atlas_url.empty()
                                                  : !options_.openlineage_url.empty();
            s.dropped = dropped_[TargetIndex(target)].load();
            ASSIGN_OR_RETURN(
                auto counts,
                tx.QueryOne("SELECT "
                            "COALESCE(SUM(CASE WHEN delivered_at IS NULL AND next_attempt_at >= 0 "
                            "THEN 1 ELSE 0 END), 0), "
                            "COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), "
                            "0), "
                            "COALESCE(SUM(CASE WHEN delivered_at IS NULL AND next_attempt_at < 0 "
                            "THEN 1 ELSE 0 END), 0), "
                            "MAX(delivered_at) FROM lineage_outbox WHERE target = ?",
                            {s.target}));
            if (counts) {
                s.pending = counts->Int(0);
                s.delivered = counts->Int(1);
                s.failed = counts->Int(2);
                if (!counts->IsNull(3)) {
                    s.last_delivered_at = counts->Int(3);
                }
            }
            ASSIGN_OR_RETURN(auto last,
                             tx.QueryOne("SELECT last_error FROM lineage_outbox WHERE target = ? "
                                         "AND delivered_at IS NULL AND last_error <> '' "
                                         "ORDER BY id DESC LIMIT 1",
                                         {s.target}));
            if (last) {
                s.last_error = last->Text(0);
            }
            out.push_back(std::move(s));
        }
        return {};
    }));
    return out;
}

void Exporter::Run() {
    while (true) {
        {
            std::unique_lock lock(mu_);
            // Retries are due on the clock, so look at least once a second even without a wake.
            cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || woken_; });
            if (stopping_) {
                return;
            }
            woken_ = false;
        }
        try {
            DeliverDue();
        } catch (const std::exception& e) {
            LogError("lineage export failed", {{"error", e.what()}});
        }
    }
}

}  // namespace lathe::lineage
