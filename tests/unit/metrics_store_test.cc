// The metrics store and its writer on a real SQLite file: appends, delayed merges, windows,
// paging, rollups against the raw data, retention, and the writer's queue bound.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "metrics/metrics_service.h"
#include "metrics/prediction_writer.h"
#include "metrics/read_json.h"
#include "metrics/sqlite_metrics_store.h"
#include "metrics/summary.h"

namespace lathe::metrics {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 3'600'000;

class MetricsStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lathe-metrics-XXXXXX";
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
        SqliteMetricsOptions o;
        o.path = (dir_ / "metrics.db").string();
        o.rollup_chunk = 1000;  // several chunks per rollup in the tests below
        auto s = SqliteMetricsStore::Open(o);
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
    }
    Series Register(std::int64_t deployment) {
        Series s;
        s.deployment_id = deployment;
        s.project_id = 7;
        s.model_id = 100 + deployment;
        s.build_id = 200 + deployment;
        s.model_crn = "crn:lathe:ml:test:model/m" + std::to_string(deployment);
        s.build_crn = "crn:lathe:ml:test:model-build/b" + std::to_string(deployment);
        s.deployment_crn = "crn:lathe:ml:test:model-deployment/d" + std::to_string(deployment);
        auto r = store_->RegisterSeries(s);
        EXPECT_TRUE(r) << r.error().message;
        return *r;
    }
    static PredictionRecord Record(std::int64_t deployment,
                                   std::string uuid,
                                   std::int64_t start,
                                   json metrics) {
        return {deployment, std::move(uuid), start, start + 3, metrics.dump()};
    }
    struct Seen {
        std::vector<std::string> uuids;
        std::vector<json> metrics;
        std::vector<json> aggregates;
    };
    Seen ReadAll(const ReadRange& range, ReadStats* stats = nullptr) {
        Seen seen;
        auto r = store_->Read(
            range,
            [&](const PredictionView& v) {
                seen.uuids.emplace_back(v.uuid);
                seen.metrics.push_back(json::parse(v.metrics));
            },
            [&](const AggregateView& v) { seen.aggregates.push_back(json::parse(v.metrics)); });
        EXPECT_TRUE(r) << r.error().message;
        if (stats != nullptr && r) {
            *stats = *r;
        }
        return seen;
    }

    fs::path dir_;
    std::unique_ptr<SqliteMetricsStore> store_;
};

TEST_F(MetricsStoreTest, AppendsAndReadsAWindowWithDelayedMetricsMerged) {
    Series a = Register(1);
    Series b = Register(2);
    std::vector<PredictionRecord> batch = {
        Record(1, "u1", 1000, {{"x", 1}}),
        Record(2, "other", 1500, {{"x", 9}}),
        Record(1, "u2", 2000, {{"x", 2}, {"s", "yes"}}),
        Record(1, "u3", 5 * kMinute, {{"x", 3}}),
        Record(99, "unknown-deployment", 1000, {{"x", 0}}),
    };
    std::size_t skipped = 0;
    ASSERT_TRUE(store_->AppendPredictions(batch, &skipped));
    EXPECT_EQ(skipped, 1u);

    ASSERT_TRUE(store_->AddDelayed("u2", R"({"label":1})", 10));
    ASSERT_TRUE(store_->AddDelayed("u2", R"({"label":0,"late":true})", 11));
    auto missing = store_->AddDelayed("nope", R"({"label":1})", 12);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    ASSERT_TRUE(store_->AddAggregate(a.id, 0, 3000, R"({"auc":0.9})", 13));
    ASSERT_TRUE(store_->AddAggregate(a.id, 10 * kMinute + 1, 11 * kMinute, R"({"auc":0.5})", 13));

    Seen all = ReadAll({{a.id}, 0, 10 * kMinute});
    EXPECT_EQ(all.uuids, (std::vector<std::string>{"u1", "u2", "u3"}));
    EXPECT_EQ(all.metrics[1], (json{{"x", 2}, {"s", "yes"}, {"label", 0}, {"late", true}}));
    EXPECT_EQ(all.aggregates, (std::vector<json>{{{"auc", 0.9}}}));

    // The window is on the start time, both ends included.
    EXPECT_EQ(ReadAll({{a.id}, 1000, 2000}).uuids, (std::vector<std::string>{"u1", "u2"}));
    EXPECT_EQ(ReadAll({{a.id}, 1001, 4 * kMinute}).uuids, (std::vector<std::string>{"u2"}));
    EXPECT_EQ(ReadAll({{a.id, b.id}, 0, 2000}).uuids,
              (std::vector<std::string>{"u1", "other", "u2"}));

    auto series = store_->SeriesOfPrediction("other");
    ASSERT_TRUE(series);
    EXPECT_EQ(series->deployment_crn, b.deployment_crn);
    auto by_model = store_->FindSeries(std::nullopt, a.model_crn, std::nullopt);
    ASSERT_TRUE(by_model);
    ASSERT_EQ(by_model->size(), 1u);
    EXPECT_EQ((*by_model)[0].id, a.id);
}

TEST_F(MetricsStoreTest, UuidsAreFoundBeforeAndAfterTheyAreIndexed) {
    // A small index chunk: some lookups go through the index, the newest through the tail.
    store_.reset();
    SqliteMetricsOptions o;
    o.path = (dir_ / "metrics.db").string();
    o.uuid_index_chunk = 100;
    auto s = SqliteMetricsStore::Open(o);
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    Series a = Register(1);
    for (int batch = 0; batch < 5; ++batch) {
        std::vector<PredictionRecord> records;
        for (int i = 0; i < 70; ++i) {
            const std::string uuid =
                std::string("b") + std::to_string(batch) + "-" + std::to_string(i);
            records.push_back(Record(1, uuid, 1000 + i, {{"i", i}}));
        }
        ASSERT_TRUE(store_->AppendPredictions(records, nullptr));
        ASSERT_TRUE(store_->CatchUp());  // as the writer does between batches
    }
    for (int batch = 0; batch < 5; ++batch) {
        for (int i : {0, 33, 69}) {
            const std::string uuid =
                std::string("b") + std::to_string(batch) + "-" + std::to_string(i);
            auto found = store_->SeriesOfPrediction(uuid);
            ASSERT_TRUE(found) << uuid;
            EXPECT_EQ(found->id, a.id);
            ASSERT_TRUE(store_->AddDelayed(uuid, R"({"y":1})", 5)) << uuid;
        }
    }
    EXPECT_FALSE(store_->SeriesOfPrediction("b9-0"));
    // Survives reopening (the index position is stored).
    Open();
    EXPECT_TRUE(store_->SeriesOfPrediction("b4-69"));
    EXPECT_TRUE(store_->SeriesOfPrediction("b0-0"));
}

TEST_F(MetricsStoreTest, LateRecordsAndPagesAreFound) {
    Series a = Register(1);
    std::vector<PredictionRecord> batch;
    for (int i = 0; i < 50; ++i) {
        batch.push_back(
            Record(1, std::string("n") + std::to_string(i), 10 * kMinute + i, {{"i", i}}));
    }
    ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
    // A slow call's record arrives after newer ones, with an older start.
    std::vector<PredictionRecord> late = {Record(1, "late", 2 * kMinute, {{"i", -1}})};
    ASSERT_TRUE(store_->AppendPredictions(late, nullptr));
    EXPECT_EQ(ReadAll({{a.id}, 0, 3 * kMinute}).uuids, (std::vector<std::string>{"late"}));

    ReadRange page{{a.id}, 0, 20 * kMinute, 20};
    std::vector<std::string> got;
    for (int pages = 0; pages < 10; ++pages) {
        ReadStats stats;
        Seen seen = ReadAll(page, &stats);
        got.insert(got.end(), seen.uuids.begin(), seen.uuids.end());
        if (!stats.truncated) {
            break;
        }
        EXPECT_EQ(seen.uuids.size(), 20u);
        page.after_id = stats.next_after_id;
    }
    ASSERT_EQ(got.size(), 51u);
    EXPECT_EQ(got.back(), "late");
}

TEST_F(MetricsStoreTest, RollupsMatchTheRawDataAndSurviveRetention) {
    Series a = Register(1);
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal(50, 10);
    const std::int64_t t0 = 1'700'000'000'000 - 1'700'000'000'000 % kHour;
    std::map<std::int64_t, std::vector<double>> by_minute;
    std::vector<double> all;
    std::vector<PredictionRecord> batch;
    for (int i = 0; i < 5000; ++i) {
        const std::int64_t start = t0 + (i * 7919) % (3 * kHour);  // spread over 3 hours
        const double x = normal(rng);
        by_minute[start - start % kMinute].push_back(x);
        all.push_back(x);
        batch.push_back(Record(1, std::string("r") + std::to_string(i), start,
                               {{"x", x}, {"label", "s"}, {"flag", true}}));
    }
    ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
    // Delayed ground truth for some: rolled into their prediction's minute.
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(store_->AddDelayed(std::string("r") + std::to_string(i), R"({"y":1.5})", 0));
    }
    RetentionPolicy keep_all;
    keep_all.raw_ms = 1000LL * 365 * 86'400'000;
    auto stats = store_->RollUp(t0 + 4 * kHour, keep_all);
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->predictions_rolled, 5000);
    EXPECT_EQ(stats->delayed_rolled, 100);
    EXPECT_EQ(stats->raw_deleted, 0);
    // A second pass has nothing new.
    EXPECT_EQ(store_->RollUp(t0 + 4 * kHour, keep_all)->predictions_rolled, 0);

    std::map<std::int64_t, MetricSummary> minutes;
    std::map<std::string, std::uint64_t> counts;
    ASSERT_TRUE(
        store_->ReadSummaries({{a.id}, t0, t0 + 3 * kHour}, kMinute, {}, [&](const SummaryView& v) {
            auto s = MetricSummary::Decode(v.encoded);
            ASSERT_TRUE(s);
            counts[std::string(v.metric)] += s->count();
            if (v.metric == "x") {
                minutes[v.bucket_ms] = *s;
            }
        }));
    // Numbers only: strings and booleans are not rolled up.
    EXPECT_EQ(counts, (std::map<std::string, std::uint64_t>{{"x", 5000}, {"y", 100}}));
    ASSERT_EQ(minutes.size(), by_minute.size());
    for (const auto& [minute, xs] : by_minute) {
        const MetricSummary& s = minutes.at(minute);
        double sum = 0;
        for (double x : xs) {
            sum += x;
        }
        EXPECT_EQ(s.count(), xs.size());
        EXPECT_NEAR(s.sum(), sum, 1e-9 * std::abs(sum));
        EXPECT_EQ(s.min(), *std::min_element(xs.begin(), xs.end()));
        EXPECT_EQ(s.max(), *std::max_element(xs.begin(), xs.end()));
    }
    // Hours merge to the same totals; the median is within the sketch's 1% bound.
    MetricSummary hours;
    ASSERT_TRUE(store_->ReadSummaries(
        {{a.id}, t0, t0 + 3 * kHour}, kHour, {"x"},
        [&](const SummaryView& v) { hours.Merge(*MetricSummary::Decode(v.encoded)); }));
    EXPECT_EQ(hours.count(), 5000u);
    std::sort(all.begin(), all.end());
    const double median = all[static_cast<std::size_t>(0.5 * (all.size() - 1))];
    EXPECT_NEAR(hours.Quantile(0.5), median, 0.01 * median);

    // Retention: everything is older than a 1-hour raw retention 4 hours later.
    RetentionPolicy short_raw;
    short_raw.raw_ms = kHour;
    auto retained = store_->RollUp(t0 + 4 * kHour, short_raw);
    ASSERT_TRUE(retained) << retained.error().message;
    EXPECT_EQ(retained->raw_deleted, 5000);
    ReadStats after;
    Seen none = ReadAll({{a.id}, t0, t0 + 3 * kHour}, &after);
    EXPECT_TRUE(none.uuids.empty());
    EXPECT_GT(after.raw_kept_from_ms, t0 + 2 * kHour);
    auto gone = store_->AddDelayed("r1", R"({"y":2})", 0);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
    std::uint64_t rolled = 0;
    ASSERT_TRUE(store_->ReadSummaries(
        {{a.id}, t0, t0 + 3 * kHour}, kMinute, {"x"},
        [&](const SummaryView& v) { rolled += MetricSummary::Decode(v.encoded)->count(); }));
    EXPECT_EQ(rolled, 5000u);
}

TEST_F(MetricsStoreTest, ALargeReadRenderedInHalvesIsOneValidAnswer) {
    Series a = Register(1);
    constexpr int kRecords = 210'000;  // past the size rendered on two threads
    std::vector<PredictionRecord> batch;
    for (int i = 0; i < kRecords; ++i) {
        batch.push_back(Record(1, std::string("r") + std::to_string(i), 1'000'000 + i, {{"i", i}}));
        if (batch.size() == 50'000) {
            ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
            batch.clear();
        }
    }
    ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
    ASSERT_TRUE(store_->AddDelayed("r0", R"({"label":1})", 0));
    ASSERT_TRUE(store_->AddDelayed("r150000", R"({"i":-1,"label":0})", 0));
    ASSERT_TRUE(store_->AddAggregate(a.id, 0, 2'000'000, R"({"auc":0.5})", 0));
    auto parts = ReadMetricsJson(*store_, {{a.id}, 0, 2'000'000}, 0);
    ASSERT_TRUE(parts) << parts.error().message;
    EXPECT_GT(parts->size(), 1u);
    std::string joined;
    for (const auto& p : *parts) {
        joined += p;
    }
    json answer = json::parse(joined);
    const json& records = answer["metrics"];
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kRecords + 1));
    for (int i = 0; i < kRecords; i += 997) {
        EXPECT_EQ(records[i]["predictionUuid"], std::string("r") + std::to_string(i));
    }
    EXPECT_EQ(records[0]["metrics"], (json{{"i", 0}, {"label", 1}}));
    EXPECT_EQ(records[150000]["metrics"], (json{{"i", -1}, {"label", 0}}));
    EXPECT_EQ(records[kRecords]["aggregate"], true);
    EXPECT_EQ(records[kRecords - 1]["predictionUuid"],
              std::string("r") + std::to_string(kRecords - 1));
    EXPECT_EQ(answer["rolledUp"], false);
}

TEST_F(MetricsStoreTest, HousekeepingCheckpointsTheWal) {
    Register(1);
    std::vector<PredictionRecord> batch;
    for (int i = 0; i < 2000; ++i) {
        batch.push_back(Record(1, std::string("h") + std::to_string(i), 1000 + i, {{"i", i}}));
    }
    ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
    const auto wal = dir_ / "metrics.db-wal";
    ASSERT_GT(fs::file_size(wal), 0u);
    const auto db_before = fs::file_size(dir_ / "metrics.db");
    auto st = store_->Housekeep();
    ASSERT_TRUE(st) << st.error().message;
    // The pages went into the database file.
    EXPECT_GT(fs::file_size(dir_ / "metrics.db"), db_before);
}

TEST_F(MetricsStoreTest, DataSurvivesReopening) {
    Series a = Register(3);
    std::vector<PredictionRecord> batch = {Record(3, "kept", 1000, {{"x", 1}})};
    ASSERT_TRUE(store_->AppendPredictions(batch, nullptr));
    Open();
    // The deployment -> series map is reloaded: appends still land.
    std::vector<PredictionRecord> more = {Record(3, "after", 1001, {{"x", 2}})};
    std::size_t skipped = 9;
    ASSERT_TRUE(store_->AppendPredictions(more, &skipped));
    EXPECT_EQ(skipped, 0u);
    EXPECT_EQ(ReadAll({{a.id}, 0, 2000}).uuids, (std::vector<std::string>{"kept", "after"}));
}

TEST_F(MetricsStoreTest, TheWriterCommitsInGroupsAndRefusesWhenFull) {
    Register(1);
    {
        WriterOptions options;
        options.max_queue_records = 1000;
        PredictionWriter writer(*store_, options);
        std::atomic<int> committed{0};
        std::atomic<int> refused{0};
        std::vector<std::thread> producers;
        for (int t = 0; t < 4; ++t) {
            producers.emplace_back([&, t] {
                for (int i = 0; i < 2000; ++i) {
                    PredictionRecord r = Record(1, std::to_string(t) + "-" + std::to_string(i),
                                                1000 + i, {{"x", i}});
                    if (!writer.Submit(std::move(r), [&](const Status& st) {
                            EXPECT_TRUE(st);
                            ++committed;
                        })) {
                        ++refused;
                    }
                }
            });
        }
        for (auto& p : producers) {
            p.join();
        }
        writer.Flush();
        const WriterCounters c = writer.Counters();
        EXPECT_EQ(committed.load() + refused.load(), 8000);
        EXPECT_EQ(c.committed, static_cast<std::uint64_t>(committed.load()));
        EXPECT_EQ(c.rejected, static_cast<std::uint64_t>(refused.load()));
        EXPECT_EQ(c.queued, 0u);
        // Group commit: far fewer transactions than records.
        EXPECT_LT(c.batches, c.committed);
    }
    std::size_t n = 0;
    auto r = store_->Read(
        {{1}, 0, 100'000}, [&](const PredictionView&) { ++n; }, [](const AggregateView&) {});
    ASSERT_TRUE(r);
    EXPECT_GT(n, 0u);
}

// While tracked calls run the writer gathers their records into one commit; the last call's
// end commits at once; a lone record (nothing running) never waits for the gather delay.
TEST_F(MetricsStoreTest, TheWriterGathersRecordsOfRunningCallsIntoOneCommit) {
    Register(1);
    using Clock = std::chrono::steady_clock;
    WriterOptions options;
    options.gather_delay = std::chrono::seconds(5);  // far longer than any wait we accept
    PredictionWriter writer(*store_, options);
    std::atomic<int> committed{0};
    auto submit = [&](const std::string& uuid, bool ends_call) {
        ASSERT_TRUE(writer.Submit(Record(1, uuid, 1000, {{"x", 1}}),
                                  [&](const Status& st) {
                                      EXPECT_TRUE(st);
                                      ++committed;
                                  },
                                  ends_call));
    };
    auto wait_committed = [&](int n) {
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        while (committed.load() < n && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return committed.load() >= n;
    };

    // Nothing running: committed at once.
    auto began = Clock::now();
    submit("lone", false);
    ASSERT_TRUE(wait_committed(1));
    EXPECT_LT(Clock::now() - began, std::chrono::seconds(2));
    EXPECT_EQ(writer.Counters().batches, 1u);

    // Three calls running: the first two records wait for the third call.
    for (int i = 0; i < 3; ++i) {
        writer.BeginTrackedCall();
    }
    submit("a", true);
    submit("b", true);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(committed.load(), 1);  // still gathering
    began = Clock::now();
    submit("c", true);  // the last call ends with its record: all three commit together
    ASSERT_TRUE(wait_committed(4));
    EXPECT_LT(Clock::now() - began, std::chrono::seconds(2));
    EXPECT_EQ(writer.Counters().batches, 2u);

    // A call that ends without a record ends the gathering too.
    writer.BeginTrackedCall();
    writer.BeginTrackedCall();
    submit("d", true);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(committed.load(), 4);
    began = Clock::now();
    writer.EndTrackedCall();
    ASSERT_TRUE(wait_committed(5));
    EXPECT_LT(Clock::now() - began, std::chrono::seconds(2));
    EXPECT_EQ(writer.Counters().batches, 3u);
}

// A call that never ends holds a record back for at most the gather delay.
TEST_F(MetricsStoreTest, TheWriterGathersForAtMostItsDelay) {
    Register(1);
    WriterOptions options;
    options.gather_delay = std::chrono::milliseconds(200);
    PredictionWriter writer(*store_, options);
    writer.BeginTrackedCall();  // never ends
    std::atomic<bool> done{false};
    const auto began = std::chrono::steady_clock::now();
    ASSERT_TRUE(writer.Submit(Record(1, "x", 1000, {{"x", 1}}), [&](const Status&) { done = true; }));
    writer.Flush();  // a flush doesn't wait for the delay either
    EXPECT_TRUE(done.load());
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(150));
    const auto again = std::chrono::steady_clock::now();
    done = false;
    ASSERT_TRUE(writer.Submit(Record(1, "y", 1000, {{"x", 1}}), [&](const Status&) { done = true; }));
    while (!done.load() && std::chrono::steady_clock::now() - again < std::chrono::seconds(5)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(done.load());
    EXPECT_GE(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(190));
}

TEST(RecordFromMetaTest, FillsWhatTheReplicaLeftOut) {
    auto full = RecordFromMeta(R"({"uuid":"abc","start_ms":5,"end_ms":9,"metrics":{"a":1}})", 3,
                               100, 2'000'000);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->uuid, "abc");
    EXPECT_EQ(full->start_ms, 5);
    EXPECT_EQ(full->end_ms, 9);
    EXPECT_EQ(full->metrics, R"({"a":1})");
    auto bare = RecordFromMeta(R"({"metrics":{"a":1}})", 3, 100, 2'000'000);
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->uuid.size(), 36u);
    EXPECT_EQ(bare->start_ms, 100);
    EXPECT_EQ(bare->end_ms, 102);
    // What the worker sends is kept as sent; anything else is normalized or refused.
    auto worker = RecordFromMeta(
        R"({"uuid":"u-1","start_ms":5,"metrics":{"a":[1,{"b":"x y"}],"s":"q\"t"},"end_ms":7})", 3,
        100, 0);
    ASSERT_TRUE(worker);
    EXPECT_EQ(worker->uuid, "u-1");
    EXPECT_EQ(worker->metrics, R"({"a":[1,{"b":"x y"}],"s":"q\"t"})");
    EXPECT_EQ(worker->end_ms, 7);
    auto spaced = RecordFromMeta(R"({"uuid": "u-2", "metrics": {"a": 1}})", 3, 100, 0);
    ASSERT_TRUE(spaced);
    EXPECT_EQ(spaced->metrics, R"({"a":1})");
    auto escaped = RecordFromMeta(R"({"uuid":"u\u002d3","metrics":{}})", 3, 100, 0);
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->uuid, "u-3");
    EXPECT_FALSE(RecordFromMeta(R"({"uuid":"u","metrics":{"a":}})", 3, 0, 0));
    EXPECT_FALSE(RecordFromMeta(R"({"uuid":"u","metrics":{"a":1}, "x")", 3, 0, 0));
    EXPECT_FALSE(RecordFromMeta("[1]", 3, 0, 0));
    EXPECT_FALSE(RecordFromMeta(R"({"metrics":[1]})", 3, 0, 0));
    EXPECT_FALSE(RecordFromMeta("not json", 3, 0, 0));
}

}  // namespace
}  // namespace lathe::metrics
