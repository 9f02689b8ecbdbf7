// Admission decisions: quotas, capacity, FIFO within a priority, and the reasons users see.
#include "compute/admission.h"

#include <gtest/gtest.h>

#include <chrono>

namespace lathe::compute {
namespace {

QueuedWorkload W(std::int64_t id, std::string user, Resources r, int priority = 0,
                 std::optional<std::string> team = std::nullopt) {
    return QueuedWorkload{id, std::move(user), std::move(team), priority, r};
}

std::vector<std::int64_t> Ids(const std::vector<AdmissionDecision>& d) {
    std::vector<std::int64_t> out;
    for (const auto& x : d) {
        out.push_back(x.id);
    }
    return out;
}

TEST(AdmissionTest, UserQuotaHoldsAWorkloadWithAReasonAndReleaseLetsItRun) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 0});
    q.Enqueue(W(1, "alice", {2000, 1024, 0}));
    q.Enqueue(W(2, "alice", {1000, 1024, 0}));
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(q.Reason(2), "waiting for quota: user alice uses 2/2 vCPU and asks for 1");
    EXPECT_TRUE(q.Admit().empty());
    q.Release(1);
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{2}));
    EXPECT_EQ(q.Reason(2), "");
}

TEST(AdmissionTest, OneUserOverQuotaDoesNotBlockOthers) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 0});
    q.Enqueue(W(1, "alice", {2000, 1024, 0}));
    q.Enqueue(W(2, "alice", {2000, 1024, 0}));
    q.Enqueue(W(3, "bob", {2000, 1024, 0}));
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{1, 3}));
}

TEST(AdmissionTest, RaisingAQuotaAdmitsAtOnce) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 0});
    q.Enqueue(W(1, "alice", {2000, 8192, 0}));
    q.Enqueue(W(2, "alice", {2000, 8192, 0}));
    EXPECT_EQ(q.Admit().size(), 1u);
    q.SetUserQuota("alice", Resources{4000, 16384, 0});
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{2}));
}

TEST(AdmissionTest, MemoryAndGpuQuotasAreEnforcedToo) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 4});
    q.Enqueue(W(1, "alice", {100, 9000, 0}));
    EXPECT_TRUE(q.Admit().empty());
    EXPECT_EQ(q.Reason(1),
              "waiting for quota: user alice uses 0/8192 MiB memory and asks for 9000");
    q.Enqueue(W(2, "bob", {100, 100, 1}));
    EXPECT_TRUE(q.Admit().empty());
    EXPECT_EQ(q.Reason(2), "waiting for quota: user bob uses 0/0 GPUs and asks for 1");
}

TEST(AdmissionTest, TeamQuotaAppliesAcrossItsMembers) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 0});
    q.SetTeamQuota("ml", Resources{3000, 65536, 0});
    q.Enqueue(W(1, "alice", {2000, 1024, 0}, 0, "ml"));
    q.Enqueue(W(2, "bob", {2000, 1024, 0}, 0, "ml"));
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(q.Reason(2), "waiting for quota: team ml uses 2/3 vCPU and asks for 2");
}

TEST(AdmissionTest, CapacityIsFifoWithinPriorityAndHigherPriorityGoesFirst) {
    AdmissionQueue q;
    q.SetCapacity({3000, 65536, 0});
    q.SetDefaultUserQuota({100000, 100000, 0});
    q.Enqueue(W(1, "a", {2000, 1, 0}));
    q.Enqueue(W(2, "b", {2000, 1, 0}));
    q.Enqueue(W(3, "c", {500, 1, 0}));    // would fit, but waits behind 2 (no starvation of 2)
    q.Enqueue(W(4, "d", {1000, 1, 0}, 5));  // higher priority jumps ahead
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{4, 1}));
    EXPECT_EQ(q.Reason(2), "waiting for capacity: the pool uses 3/3 vCPU and asks for 2");
    EXPECT_EQ(q.Reason(3), "waiting for capacity: queued behind workload 2");
    q.Release(1);
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{2}));
    q.Release(4);
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{3}));
}

TEST(AdmissionTest, ARequestLargerThanThePoolWaitsWithoutBlockingOthers) {
    AdmissionQueue q;
    q.SetCapacity({2000, 4096, 0});
    q.SetDefaultUserQuota({100000, 100000, 0});
    q.Enqueue(W(1, "a", {8000, 1, 0}));
    q.Enqueue(W(2, "b", {1000, 1, 0}));
    EXPECT_EQ(Ids(q.Admit()), (std::vector<std::int64_t>{2}));
    EXPECT_NE(q.Reason(1).find("in all"), std::string::npos) << q.Reason(1);
}

TEST(AdmissionTest, CancelRemovesAQueuedWorkload) {
    AdmissionQueue q;
    q.SetCapacity({16000, 65536, 0});
    q.Enqueue(W(1, "alice", {3000, 1, 0}));
    EXPECT_TRUE(q.Admit().empty());
    EXPECT_TRUE(q.Cancel(1));
    EXPECT_FALSE(q.Cancel(1));
    EXPECT_EQ(q.queued(), 0u);
}

TEST(AdmissionTest, TenThousandQueuedAdmitQuicklyWhenTheQuotaRises) {
    AdmissionQueue q;
    q.SetCapacity({1'000'000'000, 1'000'000'000, 0});
    for (int i = 1; i <= 10000; ++i) {
        q.Enqueue(W(i, "alice", {1000, 100, 0}));
    }
    EXPECT_EQ(q.Admit().size(), 2u);
    q.SetUserQuota("alice", Resources{1'000'000'000, 1'000'000'000, 0});
    auto start = std::chrono::steady_clock::now();
    auto admitted = q.Admit();
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    EXPECT_EQ(admitted.size(), 9998u);
    EXPECT_LT(ms.count(), 1000.0);
}

}  // namespace
}  // namespace lathe::compute
