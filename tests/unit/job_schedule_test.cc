// Recurring jobs firing: one run per due fire time, overlap skip/queue, and at most one catch-up
// run after the server was down (or none when the job says so). Time is passed in, never slept.
#include <gtest/gtest.h>

#include <filesystem>

#include "auth/accounts.h"
#include "compute/scheduler.h"
#include "core/crypto.h"
#include "core/secret_box.h"
#include "jobs/jobs.h"
#include "store/sqlite/sqlite_store.h"

namespace lathe::jobs {
namespace {

namespace fs = std::filesystem;

// 2026-11-24T10:00:00Z: a whole hour, so "0 * * * *" fires exactly here.
constexpr std::int64_t kTen = 1795514400000;
constexpr std::int64_t kHour = 3'600'000;

// Runs are only queued in these tests (the scheduler is never started), so nothing is launched.
struct IdleBackend final : compute::Backend {
    std::string name() const override { return "idle"; }
    compute::Resources Capacity() const override { return {}; }
    Status Launch(const compute::Workload&, const std::map<std::string, std::string>&,
                  ExitFn) override {
        return MakeError(ErrorCode::kUnavailable, "idle backend");
    }
    void Stop(std::int64_t, std::chrono::milliseconds) override {}
    bool IsAlive(std::int64_t) override { return false; }
    void Shutdown() override {}
};

class JobScheduleTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(InitCrypto());
        char tmpl[] = "/tmp/lathe-jobsched-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        auto store = store::SqliteStore::Open({(dir_ / "lathe.db").string(), 1, false, 1000}, clock_);
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(*store);
        auto box = SecretBox::OpenOrCreate(dir_ / "secret.key");
        ASSERT_TRUE(box);
        box_ = std::make_unique<SecretBox>(*box);
        accounts_ = std::make_unique<auth::Accounts>(*store_, clock_, auth::AccountsOptions{});
        projects_ = std::make_unique<projects::Projects>(*store_, clock_, dir_ / "projects",
                                                         projects::ProjectLimits{});
        env_ = std::make_unique<projects::Environment>(*store_, clock_, *box_);
        records_ = std::make_unique<compute::WorkloadRecords>(*store_, clock_);
        logs_ = std::make_unique<compute::LogStore>(dir_, 1 << 20);
        scheduler_ = std::make_unique<compute::Scheduler>(*records_, *logs_, backend_,
                                                          compute::SchedulerOptions{});
        jobs_ = std::make_unique<Jobs>(*store_, clock_, *projects_, *env_, *scheduler_, *records_,
                                       JobsOptions{});
        auto user = accounts_->CreateUser({"alice", "password-123", "", "", false});
        ASSERT_TRUE(user) << user.error().message;
        caller_.user_id = user->id;
        caller_.username = "alice";
        caller_.method = auth::AuthMethod::kApiKey;
        auto project = projects_->Create(caller_, {"p", "", "private", std::nullopt});
        ASSERT_TRUE(project) << project.error().message;
        project_id_ = project->id;
        ASSERT_TRUE(projects_->Files(project_id_)->WriteString("tick.py", "print(1)\n"));
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    Job MakeJob(std::string overlap, bool catch_up) {
        JobFields f;
        f.name = "hourly-" + overlap + (catch_up ? "-c" : "");
        f.script = "tick.py";
        f.schedule = "0 * * * *";
        f.overlap = overlap;
        f.catch_up = catch_up;
        auto job = jobs_->Create(caller_, project_id_, f);
        EXPECT_TRUE(job) << job.error().message;
        return *job;
    }

    std::vector<compute::Workload> Runs(std::int64_t job_id) {
        auto page = records_->ListForJob(job_id, store::ListQuery{});
        EXPECT_TRUE(page);
        return page->first;
    }

    fs::path dir_;
    FakeClock clock_{kTen - 30 * 60'000};  // 09:30: the next fire time is 10:00
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<SecretBox> box_;
    std::unique_ptr<auth::Accounts> accounts_;
    std::unique_ptr<projects::Projects> projects_;
    std::unique_ptr<projects::Environment> env_;
    std::unique_ptr<compute::WorkloadRecords> records_;
    std::unique_ptr<compute::LogStore> logs_;
    IdleBackend backend_;
    std::unique_ptr<compute::Scheduler> scheduler_;
    std::unique_ptr<Jobs> jobs_;
    auth::Principal caller_;
    std::int64_t project_id_ = 0;
};

TEST_F(JobScheduleTest, FiresOnceWhenDueAndSaysWhenTheNextIsDue) {
    Job job = MakeJob("skip", true);
    ASSERT_TRUE(job.next_run_at.has_value());
    EXPECT_EQ(*job.next_run_at, kTen);
    EXPECT_EQ(jobs_->FireDueSchedules(kTen - 1), std::optional<std::int64_t>(kTen));
    EXPECT_TRUE(Runs(job.id).empty());
    EXPECT_EQ(jobs_->FireDueSchedules(kTen + 5), std::optional<std::int64_t>(kTen + kHour));
    auto runs = Runs(job.id);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].trigger, "schedule");
    EXPECT_EQ(runs[0].owner, "alice");
    // The same moment again starts nothing more.
    jobs_->FireDueSchedules(kTen + 10);
    EXPECT_EQ(Runs(job.id).size(), 1u);
}

TEST_F(JobScheduleTest, SkipLeavesOutAFireWhileARunIsGoing) {
    Job job = MakeJob("skip", true);
    jobs_->FireDueSchedules(kTen + 5);
    ASSERT_EQ(Runs(job.id).size(), 1u);  // queued, never launched: still "scheduling"
    jobs_->FireDueSchedules(kTen + kHour + 5);
    EXPECT_EQ(Runs(job.id).size(), 1u);
    EXPECT_EQ(jobs_->Get(project_id_, job.id)->next_run_at, kTen + 2 * kHour);
}

TEST_F(JobScheduleTest, QueueKeepsTheFireWaitingUntilTheRunEnds) {
    Job job = MakeJob("queue", true);
    jobs_->FireDueSchedules(kTen + 5);
    auto runs = Runs(job.id);
    ASSERT_EQ(runs.size(), 1u);
    // Fire times pass while the first run goes on: one fire waits, and none is dropped or doubled.
    jobs_->FireDueSchedules(kTen + kHour + 5);
    jobs_->FireDueSchedules(kTen + 3 * kHour + 5);
    EXPECT_EQ(Runs(job.id).size(), 1u);
    ASSERT_TRUE(scheduler_->Stop(runs[0].id, "test"));
    jobs_->FireDueSchedules(kTen + 3 * kHour + 10);
    EXPECT_EQ(Runs(job.id).size(), 2u);
    EXPECT_EQ(jobs_->Get(project_id_, job.id)->next_run_at, kTen + 4 * kHour);
}

TEST_F(JobScheduleTest, MissedFireTimesGiveOneCatchUpRunNotABurst) {
    Job job = MakeJob("skip", true);
    // The server was down from 09:30 until 15:20: five fire times passed.
    jobs_->FireDueSchedules(kTen + 5 * kHour + 20 * 60'000);
    EXPECT_EQ(Runs(job.id).size(), 1u);
    EXPECT_EQ(jobs_->Get(project_id_, job.id)->next_run_at, kTen + 6 * kHour);
}

TEST_F(JobScheduleTest, WithoutCatchUpMissedFireTimesWaitForTheNext) {
    Job job = MakeJob("skip", false);
    jobs_->FireDueSchedules(kTen + 5 * kHour + 20 * 60'000);
    EXPECT_TRUE(Runs(job.id).empty());
    EXPECT_EQ(jobs_->Get(project_id_, job.id)->next_run_at, kTen + 6 * kHour);
    // On time it fires as usual.
    jobs_->FireDueSchedules(kTen + 6 * kHour + 5);
    EXPECT_EQ(Runs(job.id).size(), 1u);
}

}  // namespace
}  // namespace lathe::jobs
