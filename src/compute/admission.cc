// Quota- and capacity-aware FIFO admission.
#include "compute/admission.h"

#include <cstdio>

namespace lathe::compute {

std::string FormatCpu(std::int64_t millicores) {
    char buf[32];
    if (millicores % 1000 == 0) {
        std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(millicores / 1000));
    } else {
        std::snprintf(buf, sizeof(buf), "%.2f", millicores / 1000.0);
    }
    return buf;
}

namespace {

// The first dimension in which `need` does not fit, phrased "uses 2/2 vCPU".
std::string Shortfall(const Resources& need, const Resources& used, const Resources& limit) {
    if (used.cpu_millicores + need.cpu_millicores > limit.cpu_millicores) {
        return "uses " + FormatCpu(used.cpu_millicores) + "/" + FormatCpu(limit.cpu_millicores) +
               " vCPU and asks for " + FormatCpu(need.cpu_millicores);
    }
    if (used.memory_mib + need.memory_mib > limit.memory_mib) {
        return "uses " + std::to_string(used.memory_mib) + "/" + std::to_string(limit.memory_mib) +
               " MiB memory and asks for " + std::to_string(need.memory_mib);
    }
    return "uses " + std::to_string(used.gpus) + "/" + std::to_string(limit.gpus) +
           " GPUs and asks for " + std::to_string(need.gpus);
}

}  // namespace

Resources& Resources::operator+=(const Resources& o) {
    cpu_millicores += o.cpu_millicores;
    memory_mib += o.memory_mib;
    gpus += o.gpus;
    return *this;
}

Resources& Resources::operator-=(const Resources& o) {
    cpu_millicores -= o.cpu_millicores;
    memory_mib -= o.memory_mib;
    gpus -= o.gpus;
    return *this;
}

bool Resources::Fits(const Resources& need, const Resources& used, const Resources& limit) {
    return used.cpu_millicores + need.cpu_millicores <= limit.cpu_millicores &&
           used.memory_mib + need.memory_mib <= limit.memory_mib &&
           used.gpus + need.gpus <= limit.gpus;
}

std::string FormatResources(const Resources& r) {
    return FormatCpu(r.cpu_millicores) + " vCPU, " + std::to_string(r.memory_mib) + " MiB, " +
           std::to_string(r.gpus) + " GPU";
}

void AdmissionQueue::SetUserQuota(const std::string& user, std::optional<Resources> quota) {
    if (quota) {
        user_quota_[user] = *quota;
    } else {
        user_quota_.erase(user);
    }
}

void AdmissionQueue::SetTeamQuota(const std::string& team, std::optional<Resources> quota) {
    if (quota) {
        team_quota_[team] = *quota;
    } else {
        team_quota_.erase(team);
    }
}

Resources AdmissionQueue::UserQuota(const std::string& user) const {
    auto it = user_quota_.find(user);
    return it == user_quota_.end() ? default_user_quota_ : it->second;
}

void AdmissionQueue::Enqueue(QueuedWorkload w) {
    auto key = std::make_pair(w.priority, next_seq_++);
    queued_key_[w.id] = key;
    reasons_[w.id] = "waiting to be scheduled";
    queue_.emplace(key, Entry{std::move(w), key.second});
}

bool AdmissionQueue::Cancel(std::int64_t id) {
    auto it = queued_key_.find(id);
    if (it == queued_key_.end()) {
        return false;
    }
    queue_.erase(it->second);
    queued_key_.erase(it);
    reasons_.erase(id);
    return true;
}

void AdmissionQueue::MarkRunning(const QueuedWorkload& w) {
    used_ += w.request;
    user_used_[w.user] += w.request;
    if (w.team) {
        team_used_[*w.team] += w.request;
    }
    running_[w.id] = w;
}

void AdmissionQueue::Release(std::int64_t id) {
    auto it = running_.find(id);
    if (it == running_.end()) {
        return;
    }
    const QueuedWorkload& w = it->second;
    used_ -= w.request;
    user_used_[w.user] -= w.request;
    if (w.team) {
        team_used_[*w.team] -= w.request;
    }
    running_.erase(it);
}

std::string AdmissionQueue::QuotaReason(const QueuedWorkload& w) const {
    auto used_of = [](const auto& map, const std::string& key) {
        auto it = map.find(key);
        return it == map.end() ? Resources{} : it->second;
    };
    Resources user_used = used_of(user_used_, w.user);
    Resources user_quota = UserQuota(w.user);
    if (!Resources::Fits(w.request, user_used, user_quota)) {
        return "waiting for quota: user " + w.user + " " +
               Shortfall(w.request, user_used, user_quota);
    }
    if (w.team) {
        auto q = team_quota_.find(*w.team);
        if (q != team_quota_.end()) {
            Resources team_used = used_of(team_used_, *w.team);
            if (!Resources::Fits(w.request, team_used, q->second)) {
                return "waiting for quota: team " + *w.team + " " +
                       Shortfall(w.request, team_used, q->second);
            }
        }
    }
    return "";
}

std::vector<AdmissionDecision> AdmissionQueue::Admit() {
    std::vector<AdmissionDecision> admitted;
    bool capacity_blocked = false;
    std::string blocked_reason;
    for (auto it = queue_.begin(); it != queue_.end();) {
        const QueuedWorkload& w = it->second.w;
        if (capacity_blocked) {
            reasons_[w.id] = blocked_reason;
            ++it;
            continue;
        }
        std::string quota = QuotaReason(w);
        if (!quota.empty()) {
            reasons_[w.id] = std::move(quota);
            ++it;
            continue;
        }
        if (!Resources::Fits(w.request, used_, capacity_)) {
            if (!Resources::Fits(w.request, Resources{}, capacity_)) {
                // Larger than the whole pool: it can never run; don't let it block the queue.
                reasons_[w.id] = "waiting for capacity: asks for " + FormatResources(w.request) +
                                 " but the pool has " + FormatResources(capacity_) + " in all";
                ++it;
                continue;
            }
            reasons_[w.id] = "waiting for capacity: the pool " +
                             Shortfall(w.request, used_, capacity_);
            capacity_blocked = true;
            blocked_reason = "waiting for capacity: queued behind workload " + std::to_string(w.id);
            ++it;
            continue;
        }
        MarkRunning(w);
        admitted.push_back({w.id});
        reasons_.erase(w.id);
        queued_key_.erase(w.id);
        it = queue_.erase(it);
    }
    return admitted;
}

std::string AdmissionQueue::Reason(std::int64_t id) const {
    auto it = reasons_.find(id);
    return it == reasons_.end() ? "" : it->second;
}

}  // namespace lathe::compute
