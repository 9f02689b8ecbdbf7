"""The physical ceiling: each model function called in a tight loop in this one process.

Run by serving_bench.py with the benchmark virtualenv's Python (the functions need scikit-learn):

    bench/.venv/bin/python ceiling.py --model-dir DIR [--seconds S] [--cdsw-path DIR]

Prints one JSON object: per function, calls/s of a bare loop and the median time of one call
(timed call by call in a second loop), the answer to the benchmark's request (so the driver can
check every server against it), and the versions of the packages the peers run on.
"""

import argparse
import importlib.metadata
import json
import statistics
import sys
import time

REQUEST = {"x": [[5.1, 3.5, 1.4, 0.2]]}
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "Flask",
    "Werkzeug",
    "gunicorn",
    "mlflow",
    "scikit-learn",
    "numpy",
    "pandas",
)


def calls_per_second(fn, args, seconds):
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            fn(args)
        calls += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed


def median_call_ns(fn, args, seconds):
    clock, samples = time.perf_counter_ns, []
    deadline = clock() + int(seconds * 1e9)
    while clock() < deadline:
        t0 = clock()
        fn(args)
        samples.append(clock() - t0)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True, help="holds predict.py and model.pkl")
    parser.add_argument("--seconds", type=float, default=3.0, help="per loop; default 3")
    parser.add_argument(
        "--cdsw-path",
        help="a directory holding Lathe's cdsw module, to measure predict_metrics too",
    )
    args = parser.parse_args()
    sys.path.insert(0, args.model_dir)
    if args.cdsw_path:
        sys.path.insert(1, args.cdsw_path)
    import predict as functions

    out = {"request": REQUEST, "functions": {}, "versions": {}}
    for name in ("echo", "predict", "predict_metrics"):
        fn = getattr(functions, name, None)
        if fn is None:
            continue
        try:
            answer = fn(REQUEST)
            calls_per_second(fn, REQUEST, min(0.5, args.seconds))  # warm-up
        except Exception as err:  # e.g. a cdsw that needs a running replica
            print(f"ceiling: {name} cannot run outside a replica: {err!r}", file=sys.stderr)
            continue
        out["functions"][name] = {
            "answer": answer,
            "calls_per_s": calls_per_second(fn, REQUEST, args.seconds),
            "p50_us": median_call_ns(fn, REQUEST, args.seconds) / 1000.0,
        }
    for package in PACKAGES:
        try:
            out["versions"][package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    out["versions"]["python"] = sys.version.split()[0]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
