// lathe_metrics_bench: the metrics store's figures, measured in-process through the same code the
// server runs — ingestion through the PredictionWriter (group commit) and read_metrics / chart
// queries rendered by metrics/read_json.cc. Prints one JSON line; bench/metrics/metrics_bench.py
// runs it beside the peers and prints the table.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.h"
#include "metrics/prediction_writer.h"
#include "metrics/read_json.h"
#include "metrics/sqlite_metrics_store.h"

namespace {

namespace fs = std::filesystem;
using namespace lathe;
using namespace lathe::metrics;
using Clock = std::chrono::steady_clock;

struct Args {
    std::string mode;
    fs::path dir;
    std::int64_t records = 1'000'000;
    int producers = 4;
    std::int64_t predictions = 1'000'000;
    double delayed_fraction = 0.5;
    int runs = 3;
};

[[noreturn]] void Usage(const std::string& why) {
    std::fprintf(stderr,
                 "lathe_metrics_bench: %s\n"
                 "usage: lathe_metrics_bench ingest --dir DIR [--records N] [--producers P]\n"
                 "       lathe_metrics_bench read --dir DIR [--predictions N] "
                 "[--delayed-fraction F] [--runs R]\n",
                 why.c_str());
    std::exit(2);
}

Args Parse(int argc, char** argv) {
    if (argc < 2) {
        Usage("name a mode");
    }
    Args a;
    a.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            Usage(flag + " needs a value");
        }
        const std::string v = argv[++i];
        if (flag == "--dir") {
            a.dir = v;
        } else if (flag == "--records") {
            a.records = std::stoll(v);
        } else if (flag == "--producers") {
            a.producers = std::stoi(v);
        } else if (flag == "--predictions") {
            a.predictions = std::stoll(v);
        } else if (flag == "--delayed-fraction") {
            a.delayed_fraction = std::stod(v);
        } else if (flag == "--runs") {
            a.runs = std::stoi(v);
        } else {
            Usage("unknown flag " + flag);
        }
    }
    if (a.dir.empty() || (a.mode != "ingest" && a.mode != "read")) {
        Usage("need a mode (ingest|read) and --dir");
    }
    return a;
}

std::unique_ptr<SqliteMetricsStore> OpenStore(const fs::path& dir) {
    fs::create_directories(dir);
    fs::remove(dir / "metrics.db");
    fs::remove(dir / "metrics.db-wal");
    fs::remove(dir / "metrics.db-shm");
    SqliteMetricsOptions o;
    o.path = (dir / "metrics.db").string();
    auto s = SqliteMetricsStore::Open(o);
    if (!s) {
        Usage(s.error().message);
    }
    return std::move(*s);
}

Series Register(MetricsStore& store) {
    Series s;
    s.deployment_id = 1;
    s.project_id = 1;
    s.model_id = 1;
    s.build_id = 1;
    auto crn = [](std::string_view kind) {
        std::string out = "crn:lathe:ml:bench:";
        out += kind;
        out += '/';
        out += RandomUuid();
        return out;
    };
    s.model_crn = crn("model");
    s.build_crn = crn("model-build");
    s.deployment_crn = crn("model-deployment");
    auto r = store.RegisterSeries(s);
    if (!r) {
        Usage(r.error().message);
    }
    return *r;
}

// A record of the benchmark's shape: 10 numeric and 2 string metrics, as a replica sends them.
std::string MetricsText(std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0, 100);
    nlohmann::json m = nlohmann::json::object();
    static const char* kNames[] = {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"};
    static const char* kSegments[] = {"segment-0", "segment-1", "segment-2", "segment-3",
                                      "segment-4", "segment-5", "segment-6", "segment-7"};
    for (const char* name : kNames) {
        m[name] = u(rng);
    }
    m["s0"] = rng() % 2 ? "churn" : "stay";
    m["s1"] = kSegments[rng() % 8];
    return m.dump();
}

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int Ingest(const Args& a) {
    auto store = OpenStore(a.dir);
    Register(*store);
    // Records are made before the clock starts: the figure is the store's, not JSON encoding's.
    std::vector<std::vector<PredictionRecord>> per_producer(a.producers);
    const std::int64_t now = NowMs();
    for (int p = 0; p < a.producers; ++p) {
        std::mt19937_64 rng(p + 1);
        const std::int64_t n = a.records / a.producers + (p < a.records % a.producers ? 1 : 0);
        per_producer[p].reserve(n);
        for (std::int64_t i = 0; i < n; ++i) {
            per_producer[p].push_back(
                {1, RandomUuid(), now + i / 100, now + i / 100 + 1, MetricsText(rng)});
        }
    }
    WriterOptions options;
    PredictionWriter writer(*store, options);
    std::atomic<std::int64_t> dropped{0};
    // As in the server: WAL checkpoints once a second off the append path.
    std::atomic<bool> done{false};
    std::thread housekeeper([&] {
        while (!done) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            (void)store->Housekeep();
        }
    });
    const auto began = Clock::now();
    std::vector<std::thread> producers;
    for (int p = 0; p < a.producers; ++p) {
        producers.emplace_back([&, p] {
            for (auto& r : per_producer[p]) {
                // As the serving path does: one Submit per call; a full queue is back-pressure
                // the caller sees, so the producer retries after a pause rather than losing it.
                while (!writer.Submit(std::move(r), [](const Status&) {})) {
                    ++dropped;
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
            }
        });
    }
    for (auto& t : producers) {
        t.join();
    }
    writer.Flush();
    done = true;
    housekeeper.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
    const WriterCounters c = writer.Counters();
    nlohmann::json out = {{"records", a.records},
                          {"seconds", seconds},
                          {"records_per_s", static_cast<double>(c.committed) / seconds},
                          {"points_per_s", 12.0 * static_cast<double>(c.committed) / seconds},
                          {"committed", c.committed},
                          {"dropped", c.committed == static_cast<std::uint64_t>(a.records)
                                          ? 0
                                          : a.records - static_cast<std::int64_t>(c.committed)},
                          {"refused_then_retried", dropped.load()},
                          {"failed", c.failed},
                          {"commits", c.batches},
                          {"commit_max_us", c.commit_us_max}};
    std::cout << out.dump() << std::endl;
    return 0;
}

double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

int Read(const Args& a) {
    auto store = OpenStore(a.dir);
    Series s = Register(*store);
    const std::int64_t end = NowMs();
    const std::int64_t start = end - kHourMs * 24;
    std::mt19937_64 rng(7);
    std::vector<std::string> uuids;
    uuids.reserve(a.predictions);
    std::vector<PredictionRecord> batch;
    std::fprintf(stderr, "filling %lld predictions...\n", static_cast<long long>(a.predictions));
    for (std::int64_t i = 0; i < a.predictions; ++i) {
        const std::int64_t t =
            start + (i * (end - start)) / std::max<std::int64_t>(1, a.predictions);
        uuids.push_back(RandomUuid());
        batch.push_back({1, uuids.back(), t, t + 2, MetricsText(rng)});
        if (batch.size() == 50'000) {
            if (auto st = store->AppendPredictions(batch, nullptr); !st) {
                Usage(st.error().message);
            }
            batch.clear();
        }
    }
    if (auto st = store->AppendPredictions(batch, nullptr); !st) {
        Usage(st.error().message);
    }
    // The uuid index, as the writer builds it between batches.
    for (std::int64_t i = 0; i <= a.predictions / 10'000; ++i) {
        if (auto st = store->CatchUp(); !st) {
            Usage(st.error().message);
        }
    }
    (void)store->Housekeep();
    const std::int64_t delayed =
        static_cast<std::int64_t>(a.delayed_fraction * static_cast<double>(a.predictions));
    for (std::int64_t i = 0; i < delayed; ++i) {
        auto r = store->AddDelayed(uuids[static_cast<std::size_t>(i * a.predictions / delayed)],
                                   i % 2 ? R"({"label":1})" : R"({"label":0})", end);
        if (!r) {
            Usage(r.error().message);
        }
        if (i % 20'000 == 0) {
            (void)store->Housekeep();  // the server checkpoints every second
        }
    }
    std::fprintf(stderr, "rolling up...\n");
    RetentionPolicy keep;
    if (auto r = store->RollUp(end, keep); !r) {
        Usage(r.error().message);
    }
    // As the server's housekeeping does every second: the WAL goes into the database file.
    if (auto st = store->Housekeep(); !st) {
        Usage(st.error().message);
    }
    ReadRange range{{s.id}, start, end};
    // One untimed read first (page cache, allocator), then the timed runs.
    (void)ReadMetricsJson(*store, range, 0);
    std::vector<double> read_ms;
    std::vector<double> series_ms;
    std::vector<double> scan_ms;  // the store's part: the same read without rendering
    std::size_t bytes = 0;
    for (int run = 0; run < a.runs; ++run) {
        auto t0 = Clock::now();
        std::size_t seen = 0;
        (void)store->Read(
            range, [&](const PredictionView& v) { seen += v.metrics.size(); },
            [](const AggregateView&) {});
        scan_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        t0 = Clock::now();
        auto parts = ReadMetricsJson(*store, range, 0);
        read_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!parts) {
            Usage(parts.error().message);
        }
        bytes = 0;
        for (const auto& part : *parts) {
            bytes += part.size();  // sent one after the other, as the server does
        }
        t0 = Clock::now();
        auto chart = MetricSeriesJson(*store, range, kMinuteMs, {"f0", "f1", "label"});
        std::string rendered = chart ? chart->dump() : "";
        series_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!chart) {
            Usage(chart.error().message);
        }
    }
    nlohmann::json out = {{"predictions", a.predictions}, {"delayed", delayed},
                          {"read_ms", read_ms},           {"read_ms_median", Median(read_ms)},
                          {"read_bytes", bytes},          {"scan_ms_median", Median(scan_ms)},
                          {"series_ms", series_ms},       {"series_ms_median", Median(series_ms)}};
    std::cout << out.dump() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = Parse(argc, argv);
    return a.mode == "ingest" ? Ingest(a) : Read(a);
}
