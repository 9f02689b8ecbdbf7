"""The MLflow peer: prediction records logged to MLflow with `MlflowClient.log_batch`.

    bench/.venv/bin/python mlflow_peer.py --tracking-uri URI [--records N] [--seconds S]
        [--layout shared|split] [--db PATH]

URI is a tracking server (http://...) or, for MLflow without its server, a SQLite store
(sqlite:///...). One client, one thread, one experiment and one run; the records are the
run's history: each record i is step i of the metrics "f0".."f9" (timestamp: the record's start).
MLflow metrics are numbers only, so each of a record's two string metrics is a run tag, keyed by
metric and prediction (`s0/<uuid>`, `s1/<uuid>`; a tag is the only per-record string MLflow
keeps that can be overwritten, as a delayed metric would be). A record is 12 metric points:
10 metrics + 2 tags.

log_batch allows at most 1,000 metrics, 100 tags and 1,000 entities in all per call, so:
- `shared` (default): 50 records per call, 500 metrics + 100 tags, a record's points in one call;
- `split`: 100 records' metrics in one call (1,000 metrics, the limit), their 200 tags in two
  more calls of 100.
`shared` was the faster of the two for MLflow 3.17.2 here, both over HTTP and in-process.

Records and MLflow's entity objects (Metric, RunTag) are made before the clock starts, in chunks;
the clock runs around the log_batch calls only. Stops after --records or once --seconds of logging
have passed, whichever is first. With --db (the SQLite file behind the store), counts what was
stored. Prints one JSON line.
"""

import argparse
import json
import logging
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import NUMERIC, POINTS_PER_RECORD, RecordMaker  # noqa: E402

import mlflow  # noqa: E402
from mlflow.entities import Metric, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def calls_for(records, first_step, layout):
    """The log_batch keyword arguments that log these records, in order."""
    metrics, tags = [], []
    for j, (uuid, start, _end, floats, s0, s1) in enumerate(records):
        step = first_step + j
        metrics.extend(Metric(k, v, start, step) for k, v in zip(NUMERIC, floats))
        tags.append(RunTag(f"s0/{uuid}", s0))
        tags.append(RunTag(f"s1/{uuid}", s1))
    out = []
    if layout == "shared":  # 50 records a call: 500 metrics + 100 tags
        for i in range(0, len(records), 50):
            out.append(
                {"metrics": metrics[i * 10 : (i + 50) * 10], "tags": tags[i * 2 : (i + 50) * 2]}
            )
    else:  # 100 records a call: 1,000 metrics; then their 200 tags, 100 a call
        for i in range(0, len(records), 100):
            out.append({"metrics": metrics[i * 10 : (i + 100) * 10]})
            out.extend({"tags": tags[t : t + 100]} for t in range(i * 2, (i + 100) * 2, 100))
    return [c for c in out if c.get("metrics") or c.get("tags")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--layout", choices=("shared", "split"), default="shared")
    parser.add_argument("--warmup", type=int, default=500, help="untimed records first")
    parser.add_argument("--db", type=Path, help="the store's SQLite file, to count what it holds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)

    client = MlflowClient(tracking_uri=args.tracking_uri)
    experiment = client.create_experiment("metrics-bench")
    # The warm-up goes to a run of its own, so the timed run holds exactly the timed records.
    warm_run = client.create_run(experiment, run_name="warm-up").info.run_id
    maker = RecordMaker(args.seed)
    for kwargs in calls_for(maker.chunk(args.warmup), 0, args.layout):
        client.log_batch(warm_run, **kwargs)
    run = client.create_run(experiment, run_name="predictions").info.run_id

    chunk_size = 1000  # records made (and entities built) per untimed step
    done = calls = 0
    seconds = 0.0
    while done < args.records and seconds < args.seconds:
        records = maker.chunk(min(chunk_size, args.records - done))
        batch = calls_for(records, done, args.layout)
        began = time.perf_counter()
        for kwargs in batch:
            client.log_batch(run, **kwargs)
        seconds += time.perf_counter() - began
        calls += len(batch)
        done += len(records)

    stored = None
    if args.db:
        with sqlite3.connect(args.db) as conn:
            metrics = conn.execute("SELECT count(*) FROM metrics WHERE run_uuid = ?", (run,))
            metrics = metrics.fetchone()[0]
            tags = conn.execute(
                "SELECT count(*) FROM tags WHERE run_uuid = ? AND (key LIKE 's0/%' OR key LIKE "
                "'s1/%')",
                (run,),
            ).fetchone()[0]
        stored = {"metric_rows": metrics, "tag_rows": tags, "points": metrics + tags}
    print(
        json.dumps(
            {
                "records": done,
                "points": done * POINTS_PER_RECORD,
                "stored": stored,
                "seconds": seconds,
                "records_per_s": done / seconds if seconds else 0.0,
                "points_per_s": done * POINTS_PER_RECORD / seconds if seconds else 0.0,
                "calls": calls,
                "records_per_call": 50 if args.layout == "shared" else 100,
                "layout": args.layout,
                "stopped_by_time": done < args.records,
                "mlflow": mlflow.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
