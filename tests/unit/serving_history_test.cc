// The serving history: per-minute counts in the pool's accumulator, latency histograms stored
// as text, flushing into a real metrics.db (merging into rows already there, surviving a
// reopen), and reading minutes and hours back with the unstored counts merged in.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "core/clock.h"
#include "metrics/sqlite_metrics_store.h"
#include "serving/replica_pool.h"
#include "serving/stats.h"
#include "serving/stats_history.h"

namespace lathe::serving {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kT0 = 1'795'520'040'000;  // a minute's start

TEST(MinuteAccumulatorTest, CountsEachMinuteAndTakesTheEndedOnes) {
    MinuteAccumulator acc;
    acc.Add(kT0 + 5, false, false, 1000);
    acc.Add(kT0 + 59'999, true, false, 3000);
    acc.Add(kT0 + kMinute, true, true, -1);  // refused: no latency
    acc.Add(kT0 + kMinute + 10, false, false, 2000);

    auto peek = acc.Peek();
    ASSERT_EQ(peek.size(), 2u);
    EXPECT_EQ(peek[0].minute_ms, kT0);
    EXPECT_EQ(peek[0].requests, 2);
    EXPECT_EQ(peek[0].errors, 1);
    EXPECT_EQ(peek[0].rejected, 0);
    EXPECT_EQ(peek[0].latency.count(), 2);
    EXPECT_EQ(peek[1].requests, 2);
    EXPECT_EQ(peek[1].errors, 1);
    EXPECT_EQ(peek[1].rejected, 1);
    EXPECT_EQ(peek[1].latency.count(), 1);

    // During the second minute only the first has ended.
    std::vector<MinuteCounts> out;
    acc.Take(kT0 + kMinute + 30'000, /*all=*/false, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].minute_ms, kT0);
    // Taking everything empties it; later calls start again from zero.
    acc.Take(kT0 + kMinute + 30'000, /*all=*/true, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(acc.empty());
    acc.Add(kT0 + kMinute + 40'000, false, false, 500);
    ASSERT_EQ(acc.Peek().size(), 1u);
    EXPECT_EQ(acc.Peek()[0].requests, 1);
    EXPECT_EQ(MinuteAccumulator::MinuteOf(-1), -kMinute);
}

TEST(LatencyHistogramTest, EncodesAndDecodesExactly) {
    LatencyHistogram h;
    for (int i = 1; i <= 1000; ++i) {
        h.Add(i * 100);  // 0.1 ms .. 100 ms
    }
    auto back = LatencyHistogram::Decode(h.Encode());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->count(), 1000);
    EXPECT_DOUBLE_EQ(back->sum_micros(), h.sum_micros());
    for (double q : {0.5, 0.95, 0.99}) {
        EXPECT_DOUBLE_EQ(back->Quantile(q), h.Quantile(q));
    }
    // Within the histogram's 19%.
    EXPECT_NEAR(h.Quantile(0.5) / 1000, 50, 50 * 0.19);
    EXPECT_NEAR(h.Quantile(0.99) / 1000, 99, 99 * 0.19);
    EXPECT_TRUE(LatencyHistogram::Decode("0;")) << "an empty histogram";
    for (const char* bad : {"", "x;1:2", "1;1", "1;999:1", "1;1:-2", "1;a:b"}) {
        EXPECT_FALSE(LatencyHistogram::Decode(bad)) << bad;
    }
}

class ServingHistoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lathe-history-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        Open();
    }
    void TearDown() override {
        store_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    void Open() {
        store_.reset();
        metrics::SqliteMetricsOptions o;
        o.path = (dir_ / "metrics.db").string();
        auto s = metrics::SqliteMetricsStore::Open(o);
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
    }
    // A pool that refuses every call (no queue): each Submit is a request, an error and a
    // rejection in the current wall-clock minute.
    static std::shared_ptr<ReplicaPool> RefusingPool(std::int64_t deployment) {
        PoolSettings s;
        s.deployment_id = deployment;
        s.queue_size = 0;
        return std::make_shared<ReplicaPool>(
            "test", s, [](std::chrono::milliseconds, std::function<void()>) {},
            [](std::int64_t, const std::string&) {});
    }
    static void Refuse(ReplicaPool& pool, int n) {
        for (int i = 0; i < n; ++i) {
            pool.Submit("{}", [](CallOutcome&& o) { EXPECT_EQ(o.status, 429); });
        }
    }
    metrics::ServingMinute Row(std::int64_t deployment,
                               std::int64_t minute,
                               std::vector<std::int64_t> latencies_us,
                               std::int64_t errors) {
        LatencyHistogram h;
        for (auto us : latencies_us) {
            h.Add(us);
        }
        metrics::ServingMinute r;
        r.deployment_id = deployment;
        r.minute_ms = minute;
        r.requests = static_cast<std::int64_t>(latencies_us.size());
        r.errors = errors;
        r.p50_ms = h.Quantile(0.5) / 1000;
        r.p95_ms = h.Quantile(0.95) / 1000;
        r.p99_ms = h.Quantile(0.99) / 1000;
        r.latency = h.Encode();
        return r;
    }

    fs::path dir_;
    std::unique_ptr<metrics::SqliteMetricsStore> store_;
    SystemClock clock_;
};

TEST_F(ServingHistoryTest, FlushesMergesAndReadsUnflushedCallsToo) {
    const std::int64_t now = clock_.NowMs();
    const std::int64_t minute = MinuteAccumulator::MinuteOf(now);
    auto pool = RefusingPool(7);
    auto other = RefusingPool(8);
    {
        ServingHistory history(*store_, clock_, std::chrono::hours(1));
        history.Track(pool);
        history.Track(other);
        Refuse(*pool, 3);
        Refuse(*other, 1);
        // Not stored yet, but read: the current minute is what a chart watcher wants.
        auto points =
            history.Read(7, now - 3'600'000, now + kMinute, ServingHistory::Resolution::kMinute);
        ASSERT_TRUE(points) << points.error().message;
        ASSERT_EQ(points->size(), 1u);
        EXPECT_EQ((*points)[0].t_ms, minute);
        EXPECT_EQ((*points)[0].requests, 3);
        EXPECT_EQ((*points)[0].errors, 3);
        EXPECT_EQ((*points)[0].rejected, 3);
        ASSERT_TRUE(history.Flush());
        auto rows = store_->ReadServingMinutes(7, minute, minute);
        ASSERT_TRUE(rows);
        ASSERT_EQ(rows->size(), 1u);
        EXPECT_EQ((*rows)[0].requests, 3);
        // More calls in the same minute are added to the stored row, not replacing it.
        Refuse(*pool, 2);
        ASSERT_TRUE(history.Flush());
        rows = store_->ReadServingMinutes(7, minute, minute);
        ASSERT_EQ(rows->size(), 1u);
        EXPECT_EQ((*rows)[0].requests, 5);
        Refuse(*pool, 1);  // stored by Stop (the destructor)
    }
    Open();  // as after a restart
    ServingHistory history(*store_, clock_, std::chrono::hours(1));
    auto points =
        history.Read(7, now - 3'600'000, now + kMinute, ServingHistory::Resolution::kMinute);
    ASSERT_TRUE(points) << points.error().message;
    ASSERT_EQ(points->size(), 1u);
    EXPECT_EQ((*points)[0].requests, 6);
    EXPECT_EQ((*points)[0].rejected, 6);
    auto others = history.Read(8, 0, now + kMinute, ServingHistory::Resolution::kMinute);
    ASSERT_EQ(others->size(), 1u);
    EXPECT_EQ((*others)[0].requests, 1);
}

TEST_F(ServingHistoryTest, PercentilesPerMinuteAndPerHour) {
    // Two minutes of one hour, stored: 100 calls of 10 ms, then 100 calls of 100 ms.
    std::vector<std::int64_t> fast(100, 10'000), slow(100, 100'000);
    std::vector<metrics::ServingMinute> rows = {Row(3, kT0, fast, 1),
                                                Row(3, kT0 + kMinute, slow, 4)};
    ASSERT_TRUE(store_->PutServingMinutes(rows));
    ServingHistory history(*store_, clock_, std::chrono::hours(1));

    auto minutes = history.Read(3, kT0, kT0 + 10 * kMinute, ServingHistory::Resolution::kMinute);
    ASSERT_TRUE(minutes);
    ASSERT_EQ(minutes->size(), 2u);
    EXPECT_NEAR((*minutes)[0].p50_ms, 10, 10 * 0.19);
    EXPECT_NEAR((*minutes)[1].p99_ms, 100, 100 * 0.19);
    EXPECT_EQ((*minutes)[1].errors, 4);
    // A window starting inside a minute includes that minute.
    auto inside = history.Read(3, kT0 + 30'000, kT0 + 30'000, ServingHistory::Resolution::kMinute);
    ASSERT_EQ(inside->size(), 1u);
    // Outside the window: nothing.
    auto none =
        history.Read(3, kT0 + 5 * kMinute, kT0 + 9 * kMinute, ServingHistory::Resolution::kMinute);
    EXPECT_TRUE(none->empty());

    // The hour: sums, and percentiles of all its calls (half fast, half slow).
    auto hours = history.Read(3, kT0, kT0 + 10 * kMinute, ServingHistory::Resolution::kHour);
    ASSERT_TRUE(hours);
    ASSERT_EQ(hours->size(), 1u);
    const ServingPoint& h = (*hours)[0];
    EXPECT_EQ(h.t_ms % 3'600'000, 0);
    EXPECT_EQ(h.requests, 200);
    EXPECT_EQ(h.errors, 5);
    EXPECT_NEAR(h.p95_ms, 100, 100 * 0.19);
    EXPECT_LT(h.p50_ms, 100 * 0.81);

    // Retention: minutes older than the minute rollups' retention go with them.
    metrics::RetentionPolicy policy;
    policy.minute_ms = 30 * kMinute;
    ASSERT_TRUE(store_->RollUp(kT0 + kMinute + 30 * kMinute, policy));
    auto left = store_->ReadServingMinutes(3, 0, kT0 + 100 * kMinute);
    ASSERT_TRUE(left);
    ASSERT_EQ(left->size(), 1u);
    EXPECT_EQ((*left)[0].minute_ms, kT0 + kMinute);
}

}  // namespace
}  // namespace lathe::serving
