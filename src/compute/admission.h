// Admission of queued workloads against per-user and per-team quotas and the backend's capacity:
// FIFO within a priority, with the reason each waiting workload waits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace lathe::compute {

struct Resources {
    std::int64_t cpu_millicores = 0;
    std::int64_t memory_mib = 0;
    std::int64_t gpus = 0;

    Resources& operator+=(const Resources& o);
    Resources& operator-=(const Resources& o);
    // True when every dimension of `need` fits in what is left of `limit` after `used`.
    static bool Fits(const Resources& need, const Resources& used, const Resources& limit);
};

// CML's defaults: 2 vCPU and 8 GiB per user, no GPUs.
inline constexpr Resources kDefaultUserQuota{2000, 8192, 0};

struct QueuedWorkload {
    std::int64_t id = 0;
    std::string user;
    std::optional<std::string> team;  // the owning team of the project, if any
    int priority = 0;                 // higher first
    Resources request;
};

struct AdmissionDecision {
    std::int64_t id;
};

// Not thread-safe: the scheduler owns one and calls it under its own lock.
class AdmissionQueue {
public:
    void SetCapacity(const Resources& total) { capacity_ = total; }
    void SetUserQuota(const std::string& user, std::optional<Resources> quota);
    void SetTeamQuota(const std::string& team, std::optional<Resources> quota);
    void SetDefaultUserQuota(const Resources& quota) { default_user_quota_ = quota; }

    void Enqueue(QueuedWorkload w);
    // Drops a queued workload (stopped before it ran). False if it was not queued.
    bool Cancel(std::int64_t id);
    // Counts an already running workload (e.g. re-attached after a restart) against quotas.
    void MarkRunning(const QueuedWorkload& w);
    // A running workload ended: its resources return to the user, team and capacity.
    void Release(std::int64_t id);

    // Admits what fits, in order (priority, then arrival). A workload over its user's or team's
    // quota waits without holding up others; one that does not fit the free capacity holds up
    // everything behind it at its priority and below, so large requests are not starved.
    std::vector<AdmissionDecision> Admit();

    // Why a queued workload waits ("waiting for quota: user alice uses 2/2 vCPU"); "" if unknown.
    std::string Reason(std::int64_t id) const;
    std::size_t queued() const { return queue_.size(); }
    const Resources& used() const { return used_; }

private:
    struct Entry {
        QueuedWorkload w;
        std::uint64_t seq;
    };
    struct Order {
        bool operator()(const std::pair<int, std::uint64_t>& a,
                        const std::pair<int, std::uint64_t>& b) const {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        }
    };
    Resources UserQuota(const std::string& user) const;
    std::string QuotaReason(const QueuedWorkload& w) const;

    Resources capacity_;
    Resources used_;
    Resources default_user_quota_ = kDefaultUserQuota;
    std::unordered_map<std::string, Resources> user_quota_;
    std::unordered_map<std::string, Resources> team_quota_;
    std::unordered_map<std::string, Resources> user_used_;
    std::unordered_map<std::string, Resources> team_used_;
    std::map<std::pair<int, std::uint64_t>, Entry, Order> queue_;
    std::unordered_map<std::int64_t, std::pair<int, std::uint64_t>> queued_key_;
    std::unordered_map<std::int64_t, QueuedWorkload> running_;
    std::unordered_map<std::int64_t, std::string> reasons_;
    std::uint64_t next_seq_ = 0;
};

std::string FormatResources(const Resources& r);
// "2" or "0.50" (vCPU) from millicores.
std::string FormatCpu(std::int64_t millicores);

}  // namespace lathe::compute
