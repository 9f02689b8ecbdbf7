#!/usr/bin/python3
"""Model metrics: Lathe's embedded metrics store against MLflow and plain SQLite.

Lathe's figures:
- ingestion: prediction records (10 numeric + 2 string metrics each) per second into a fresh
  metrics store through the serving path's PredictionWriter, one Submit per record from
  --producers threads, with the drops and failures (build/lathe_metrics_bench ingest);
- read: the read_metrics answer over a window of --read-predictions predictions with delayed
  metrics merged, and a 24-hour per-minute chart over rollups (lathe_metrics_bench read);
- API writes: the latency of POST /api/v2/metrics/delayed and /api/v2/metrics/aggregates against
  a real `lathe server` (build/lathe), acknowledged answers, 8 client threads, keep-alive.

The peers, measured in the same run on the same records:
- an MLflow tracking server (bench/.venv, SQLite backend store): MlflowClient.log_batch, and for
  the API writes, POST /api/2.0/mlflow/runs/log-metric with the same client as Lathe's;
- MLflow without its server (the same SQLite store in the client's process);
- Python's sqlite3 into a naive table: one transaction per record, and executemany batches.

Standard library only, so it runs with Debian's /usr/bin/python3; MLflow lives in bench/.venv
(bench/setup.sh) and its peer runs there as a subprocess. Progress goes to stderr; stdout gets the
table to paste into bench/RESULTS.md. See bench/README.md, "Metrics".
"""

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent
BENCH_DIR = METRICS_DIR.parent
REPO_DIR = BENCH_DIR.parent
# Server start-up, clean-up and load-watching helpers are shared with http_bench.py.
sys.path.insert(0, str(BENCH_DIR))
from http_bench import (  # noqa: E402
    ADMIN_USER,
    BUSY_PCT,
    CLK_TCK,
    READY_RE,
    BenchError,
    Cleanup,
    _machine_ticks,
    expect,
    free_port,
    lathe_version,
    log,
    tail,
    wait_for_quiet,
    wait_until,
)

DEFAULT_LATHE = REPO_DIR / "build" / "lathe"
DEFAULT_BENCH_BINARY = REPO_DIR / "build" / "lathe_metrics_bench"
DEFAULT_VENV = BENCH_DIR / ".venv"
PEERS_DIR = METRICS_DIR / "peers"
POINTS_PER_RECORD = 12  # 10 numeric + 2 string metrics

# Targets from the issue.
TARGET_RECORDS_PER_S = 200_000
TARGET_API_P99_MS = 25.0
TARGET_READ_MS = 500.0
TARGET_SERIES_MS = 50.0

# The model the API figures deploy: every call is a tracked prediction with a uuid.
PREDICT_PY = """\
import cdsw


@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("x", args.get("x", 0))
    return 1
"""

PEERS = ("mlflow-server", "mlflow-sqlite", "sqlite-txn", "sqlite-many")
SYSTEM_NAMES = {
    "lathe": "Lathe: PredictionWriter (group commit)",
    "mlflow-server": "MLflow tracking server: `log_batch` over HTTP",
    "mlflow-sqlite": "MLflow, no server: `log_batch` into its SQLite store in-process",
    "sqlite-txn": "Python sqlite3: one transaction per record",
    "sqlite-many": "Python sqlite3: `executemany`, one transaction per batch",
}


# ---------------------------------------------------------------- HTTP

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(method, url, body=None, headers=None, timeout=10.0):
    """Returns (status, parsed JSON or text). body: dict/list as JSON, bytes as they are."""
    headers = dict(headers or {})
    data = None
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
        headers.setdefault("Content-Type", "application/octet-stream")
    elif body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        raise BenchError(f"{method} {url}: {getattr(err, 'reason', err)}") from None
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


@dataclass
class Latency:
    """Timed calls of one endpoint: each call's seconds and HTTP status (0: no answer)."""

    seconds: list
    statuses: list
    answers: list = field(default_factory=list)  # parsed 200 answers, when kept

    @property
    def bad(self):
        """Calls not acknowledged: no answer, or a status other than 2xx."""
        return sum(not 200 <= s < 300 for s in self.statuses)

    def quantile_ms(self, q):
        """Nearest rank over every call, answered or not."""
        ordered = sorted(self.seconds)
        rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
        return ordered[rank - 1] * 1000.0


def post_many(base, path, bodies, headers, threads, keep_answers=False, timeout=30.0):
    """POSTs each body once, from `threads` threads, each on its own keep-alive connection
    (http.client). The clock of a call runs from writing the request to reading the whole answer."""
    parsed = urllib.parse.urlsplit(base)
    encoded = [json.dumps(b).encode() for b in bodies]
    per_thread = [encoded[i::threads] for i in range(threads)]
    results = [None] * threads
    start = threading.Barrier(threads)
    first_error = []  # the first unacknowledged answer, to say what went wrong
    all_headers = {"Content-Type": "application/json", **headers}

    def worker(index):
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        seconds, statuses, answers = [], [], []
        start.wait()
        for body in per_thread[index]:
            began = time.perf_counter()
            try:
                conn.request("POST", path, body, all_headers)
                response = conn.getresponse()
                raw = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                raw, status = b"", 0
                conn.close()  # reconnects on the next request
            seconds.append(time.perf_counter() - began)
            statuses.append(status)
            if 200 <= status < 300:
                if keep_answers:
                    answers.append(json.loads(raw))
            elif not first_error:
                first_error.append(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
        conn.close()
        results[index] = (seconds, statuses, answers)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out = Latency([], [], [])
    for seconds, statuses, answers in results:
        out.seconds += seconds
        out.statuses += statuses
        out.answers += answers
    if first_error:
        log(
            f"  {out.bad} of {len(out.statuses)} calls of {path} not acknowledged; the first: "
            f"{first_error[0]}"
        )
    return out


# ---------------------------------------------------------------- other load on the machine


def _process_table():
    """pid -> (ppid, name, own CPU ticks, the same plus reaped children's), from /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 of proc(5)
        own = int(fields[11]) + int(fields[12])
        found[int(entry.name)] = (
            int(fields[1]),
            name,
            own,
            own + int(fields[13]) + int(fields[14]),
        )
    return found


def _tree(table, root):
    children = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


class CpuMeter:
    """CPU that went to anything but this script and its descendants (the servers, the benchmark
    binary, the peers; Lathe's replicas too), in % of one core."""

    def __init__(self):
        self.root = os.getpid()
        self.start = time.monotonic()
        self.busy, self.steal = _machine_ticks()
        self.table = _process_table()
        self.ours = _tree(self.table, self.root)

    def stop(self):
        ticks = max(1e-9, (time.monotonic() - self.start) * CLK_TCK)
        busy, steal = _machine_ticks()
        now = _process_table()
        ours = self.ours | _tree(now, self.root)
        own, others = 0, {}
        for pid, (_ppid, name, alone, with_children) in now.items():
            before = self.table.get(pid)
            if pid in ours:
                own += with_children - (before[3] if before else 0)
                continue
            delta = alone - (before[2] if before else 0)
            if delta > 0:
                others[name] = others.get(name, 0) + delta
        other = max(0.0, (busy - self.busy) - own)
        top = sorted(others.items(), key=lambda item: -item[1])[:3]
        return Load(
            100.0 * other / ticks,
            100.0 * (steal - self.steal) / ticks,
            [(name, 100.0 * used / ticks) for name, used in top],
        )


@dataclass
class Load:
    other_pct: float
    steal_pct: float
    busiest: list


def metered(args, what, fn):
    """Runs fn() under a CPU meter (after waiting for quiet, with --settle); returns (result, Load)."""
    if args.settle:
        wait_for_quiet(args.settle)
    meter = CpuMeter()
    result = fn()
    load = meter.stop()
    if load.other_pct > BUSY_PCT:
        names = ", ".join(f"{n} {pct:.0f}%" for n, pct in load.busiest)
        log(f"  warning: other work used {load.other_pct:.0f}% of a core during {what} ({names})")
    return result, load


# ---------------------------------------------------------------- results


@dataclass
class Ingest:
    """One system's ingestion runs: the JSON line of each timed run."""

    runs: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    error: str = ""

    def median(self, key):
        values = [r[key] for r in self.runs if isinstance(r.get(key), (int, float))]
        return statistics.median(values) if values else None


@dataclass
class Api:
    """Latency runs of one endpoint (one Latency per run)."""

    endpoint: str
    runs: list = field(default_factory=list)
    loads: list = field(default_factory=list)

    def median_ms(self, q):
        return statistics.median(r.quantile_ms(q) for r in self.runs) if self.runs else None

    @property
    def max_ms(self):
        return max(max(r.seconds) for r in self.runs) * 1000.0 if self.runs else None

    @property
    def calls(self):
        return sum(len(r.seconds) for r in self.runs)

    @property
    def bad(self):
        return sum(r.bad for r in self.runs)


@dataclass
class Results:
    ingest: dict = field(default_factory=dict)  # system -> Ingest
    read: dict = None  # lathe_metrics_bench read's JSON line
    read_load: Load = None
    read_error: str = ""
    api: dict = field(default_factory=dict)  # "delayed", "aggregates", "mlflow" -> Api
    api_error: str = ""
    versions: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)


def last_json_line(text, what):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    raise BenchError(f"{what} printed no JSON line:\n{text[-1500:]}")


def run_json(argv, what, timeout, env=None):
    """Runs a benchmark process to its end; returns its JSON line. Its stderr goes to ours."""
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish within {timeout:.0f}s") from None
    if done.returncode != 0:
        raise BenchError(
            f"{what} failed ({done.returncode}):\n{(done.stderr or done.stdout)[-2000:]}"
        )
    return last_json_line(done.stdout, what)


# ---------------------------------------------------------------- Lathe: the store in-process


def bench_binary(args):
    binary = Path(args.bench_binary)
    if not os.access(binary, os.X_OK):
        return None
    return binary


def lathe_ingest(args, cleanup, results):
    binary = bench_binary(args)
    out = results.ingest["lathe"] = Ingest()
    if binary is None:
        out.error = "lathe_metrics_bench not built"
        log(
            f"Lathe ingestion: lathe_metrics_bench not built ({args.bench_binary}); build it "
            "with `make build`, or pass --bench-binary"
        )
        return
    work = cleanup.mkdtemp("metrics-bench-lathe-")

    def once(records, run):
        argv = [binary, "ingest", "--dir", work / f"run-{run}", "--records", records]
        argv += ["--producers", args.producers]
        return run_json(argv, "lathe_metrics_bench ingest", args.run_timeout)

    try:
        warm = min(args.records, 100_000)
        log(f"Lathe ingestion: warm-up, {warm:,} records")
        once(warm, "warm-up")
        for run in range(1, args.runs + 1):
            line, load = metered(args, "Lathe ingestion", lambda: once(args.records, run))
            out.runs.append(line)
            out.loads.append(load)
            log(
                f"Lathe ingestion: run {run}: {line.get('records_per_s', 0):,.0f} records/s, "
                f"dropped {line.get('dropped')}, failed {line.get('failed')}, "
                f"{line.get('commits')} commits, longest {line.get('commit_max_us', 0) / 1000:.1f} "
                f"ms (other processes {load.other_pct:.0f}% of a core)"
            )
            shutil.rmtree(work / f"run-{run}", ignore_errors=True)
    except BenchError as err:
        out.error = "failed (see stderr)"
        results.failures.append(f"Lathe ingestion: {err}")
        log(f"Lathe ingestion: {err}")


def lathe_read(args, cleanup, results):
    binary = bench_binary(args)
    if binary is None:
        results.read_error = "lathe_metrics_bench not built"
        return
    work = cleanup.mkdtemp("metrics-bench-read-")
    argv = [binary, "read", "--dir", work / "store", "--predictions", args.read_predictions]
    argv += ["--delayed-fraction", args.delayed_fraction, "--runs", args.runs]
    log(
        f"Lathe read: filling {args.read_predictions:,} predictions over 24 hours, "
        f"{args.delayed_fraction:.0%} with delayed metrics, rolling up, then {args.runs} timed runs"
    )
    try:
        line, load = metered(
            args, "Lathe read", lambda: run_json(argv, "lathe_metrics_bench read", args.run_timeout)
        )
    except BenchError as err:
        results.read_error = "failed (see stderr)"
        results.failures.append(f"Lathe read: {err}")
        log(f"Lathe read: {err}")
        return
    results.read, results.read_load = line, load
    log(
        f"Lathe read: read_metrics {line.get('read_ms')} ms ({line.get('read_bytes', 0) / 1e6:.0f} "
        f"MB), chart {line.get('series_ms')} ms"
    )
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- Lathe: the API


class LatheApi:
    def __init__(self, base, key):
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, method, path, body=None, wanted=(200,), what=None):
        status, payload = request(method, self.base + path, body, self.headers, timeout=60.0)
        expect(status, payload, set(wanted), what or f"{method} {path}")
        return payload

    def text(self, path):
        try:
            status, payload = request("GET", self.base + path, None, self.headers)
        except BenchError as err:
            return str(err)
        return payload if isinstance(payload, str) else json.dumps(payload)


def start_lathe(args, cleanup, work):
    binary = Path(args.lathe)
    data_dir = work / "lathe-data"
    data_dir.mkdir()
    log_path = work / "lathe.log"
    password = "bench-" + os.urandom(12).hex()
    env = dict(os.environ, LATHE_ADMIN_USER=ADMIN_USER, LATHE_ADMIN_PASSWORD=password)
    argv = [str(binary), "server", "--data-dir", str(data_dir), "--host", "127.0.0.1"]
    argv += ["--port", "0", "--access-log", "off"]
    argv += args.lathe_arg
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)

    def ready():
        match = READY_RE.search(log_path.read_text(errors="replace"))
        return match.group(1) if match else None

    base = wait_until(ready, args.start_timeout, "Lathe start", proc, log_path)
    log(f"Lathe is up at {base}")
    login = urllib.request.Request(
        base + "/api/v2/auth/login",
        data=json.dumps({"username": ADMIN_USER, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with _OPENER.open(login, timeout=10) as response:
            cookies = response.headers.get_all("Set-Cookie") or []
            payload = json.loads(response.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as err:
        raise BenchError(f"Lathe login: {err}") from None
    cookie = next((c.split(";", 1)[0] for c in cookies if c.startswith("lathe_session=")), None)
    if not cookie or "csrf_token" not in payload:
        raise BenchError(f"Lathe login gave no lathe_session cookie or csrf_token: {payload}")
    status, payload = request(
        "POST",
        f"{base}/api/v2/users/{ADMIN_USER}/keys",
        {"name": "metrics-bench"},
        {"Cookie": cookie, "X-CSRF-Token": payload["csrf_token"]},
    )
    expect(status, payload, {200, 201}, "Lathe key create")
    key = payload.get("key") if isinstance(payload, dict) else None
    if not key:
        raise BenchError(f"Lathe key create answered without a key: {payload}")
    return proc, base, key, log_path


def _alive(proc, log_path, what):
    if proc.poll() is not None:
        raise BenchError(f"{what} exited with {proc.returncode}:\n{tail(log_path)}")


def lathe_build(args, api, mp, proc, log_path):
    build = api.call(
        "POST",
        f"{mp}/builds",
        {"file_path": "predict.py", "function_name": "predict", "comment": "metrics benchmark"},
        (201,),
        "Lathe build",
    )
    path = f"{mp}/builds/{build['id']}"
    deadline = time.monotonic() + args.build_timeout
    while True:
        _alive(proc, log_path, "Lathe")
        build = api.call("GET", path)
        if build["state"] == "built":
            log("Lathe: built predict.py")
            return build
        if build["state"] == "failed" or time.monotonic() > deadline:
            logs = api.text(f"{path}/logs?offset=0")
            raise BenchError(
                f"Lathe build: {build['state']} ({build.get('reason')}):\n{logs[-2000:]}"
            )
        time.sleep(0.25)


def lathe_wait_ready(args, api, dp, proc, log_path):
    deadline = time.monotonic() + args.deploy_timeout
    while True:
        _alive(proc, log_path, "Lathe")
        deployment = api.call("GET", dp)
        if deployment["state"] == "deployed" and (deployment.get("ready_replicas") or 0) >= 1:
            log(f"Lathe: deployment {deployment['id']} is ready")
            return deployment
        if deployment["state"] in ("failed", "stopped") or time.monotonic() > deadline:
            logs = []
            try:
                for replica in api.call("GET", f"{dp}/replicas").get("replicas", []):
                    text = api.text(f"{dp}/replicas/{replica['id']}/logs?offset=0")
                    logs.append(
                        f"replica {replica['id']} ({replica.get('state')}, "
                        f"{replica.get('reason')}):\n{text[-1500:]}"
                    )
            except BenchError as err:
                logs.append(str(err))
            raise BenchError(
                f"Lathe deployment: {deployment['state']} ({deployment.get('reason')})\n"
                + "\n".join(logs)
            )
        time.sleep(0.25)


def lathe_stop(api, dp, timeout=60.0):
    try:
        api.call("POST", f"{dp}:stop", None, (200, 202))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if api.call("GET", dp)["state"] in ("stopped", "failed"):
                return
            time.sleep(0.25)
        log(f"Lathe: the deployment did not stop within {timeout:.0f}s; going on")
    except BenchError as err:
        log(f"Lathe: stopping the deployment: {err}")


def lathe_api(args, cleanup, results):
    if not os.access(args.lathe, os.X_OK):
        results.api_error = "lathe not built"
        log(
            f"Lathe API: no Lathe server at {args.lathe}; build it with `make build` or pass --lathe"
        )
        return
    work = cleanup.mkdtemp("metrics-bench-api-")
    try:
        _lathe_api(args, cleanup, work, results)
    except BenchError as err:
        results.api_error = "failed (see stderr)"
        results.failures.append(f"Lathe API: {err}")
        log(f"Lathe API: {err}")


def _lathe_api(args, cleanup, work, results):
    proc, base, key, log_path = start_lathe(args, cleanup, work)
    api = LatheApi(base, key)
    dp = None
    try:
        project = api.call("POST", "/api/v2/projects", {"name": "metrics-bench"}, (201,))
        pp = f"/api/v2/projects/{project['id']}"
        api.call("PUT", f"{pp}/files/predict.py", PREDICT_PY.encode(), (201,))
        model = api.call(
            "POST", f"{pp}/models", {"name": "metrics-bench", "auth_enabled": False}, (201,)
        )
        mp = f"{pp}/models/{model['id']}"
        build = lathe_build(args, api, mp, proc, log_path)
        deployment = api.call(
            "POST",
            f"{mp}/builds/{build['id']}/deployments",
            {"cpu": 0.5, "memory": 0.5},
            (201,),
            "Lathe deploy",
        )
        dp = f"{mp}/builds/{build['id']}/deployments/{deployment['id']}"
        crn = deployment.get("crn")
        if not crn:
            raise BenchError(f"Lathe deploy answered without a crn: {deployment}")
        lathe_wait_ready(args, api, dp, proc, log_path)

        log(f"Lathe API: {args.api_calls:,} predictions through POST /model, for their uuids")
        calls = post_many(
            base,
            "/model",
            [
                {"accessKey": model["access_key"], "request": {"x": i}}
                for i in range(args.api_calls)
            ],
            {},
            2,
            keep_answers=True,
        )
        uuids = [
            a["response"]["uuid"]
            for a in calls.answers
            if isinstance(a.get("response"), dict) and a["response"].get("uuid")
        ]
        if len(uuids) != args.api_calls:
            raise BenchError(
                f"POST /model gave {len(uuids)} prediction uuids for {args.api_calls} calls "
                f"({calls.bad} answers not 2xx); an answer: {str(calls.answers[:1])[:300]}"
            )
        # POST /model answers a tracked prediction once its record is committed, so every uuid
        # can take delayed metrics at once.
        delayed = [{"predictionUuid": u, "metrics": {"label": i % 2}} for i, u in enumerate(uuids)]
        now = int(time.time() * 1000)
        aggregates = [
            {
                "modelDeploymentCrn": crn,
                "startTimeStampMs": now - 60_000 * (i + 1),
                "endTimeStampMs": now - 60_000 * i,
                "metrics": {"auc": 0.9},
            }
            for i in range(args.api_aggregates)
        ]
        headers = api.headers
        threads = args.api_threads
        log(f"Lathe API: warm-up, {min(200, len(delayed))} delayed metrics")
        post_many(base, "/api/v2/metrics/delayed", delayed[:200], headers, threads)
        results.api["delayed"] = Api("POST /api/v2/metrics/delayed")
        results.api["aggregates"] = Api("POST /api/v2/metrics/aggregates")
        for run in range(1, args.runs + 1):
            for name, path, bodies in (
                ("delayed", "/api/v2/metrics/delayed", delayed),
                ("aggregates", "/api/v2/metrics/aggregates", aggregates),
            ):
                lat, load = metered(
                    args,
                    f"Lathe {path}",
                    lambda: post_many(base, path, bodies, headers, threads),
                )
                results.api[name].runs.append(lat)
                results.api[name].loads.append(load)
                _alive(proc, log_path, "Lathe")
                log(
                    f"Lathe {path}: run {run}: {len(lat.seconds):,} calls, p50 "
                    f"{lat.quantile_ms(0.5):.2f} ms, p99 {lat.quantile_ms(0.99):.2f} ms, max "
                    f"{max(lat.seconds) * 1000:.2f} ms, {lat.bad} not 2xx (other processes "
                    f"{load.other_pct:.0f}% of a core)"
                )
        status, payload = request(
            "POST",
            base + "/api/v2/metrics:read",
            {"modelDeploymentCrn": crn, "limit": 5},
            api.headers,
        )
        expect(status, payload, {200}, "Lathe metrics:read (checking what was written)")
        log(f"Lathe API: metrics:read answers: {json.dumps(payload)[:300]}")
    finally:
        if dp:
            lathe_stop(api, dp)
        cleanup.stop(proc)


# ---------------------------------------------------------------- the peers


def venv_python(args):
    python = args.venv / "bin" / "python"
    return python if os.access(python, os.X_OK) else None


def peer_sqlite(args, cleanup, results, system):
    out = results.ingest[system] = Ingest()
    work = cleanup.mkdtemp(f"metrics-bench-{system}-")
    mode = "txn" if system == "sqlite-txn" else "executemany"
    try:
        for run in range(1, args.runs + 1):
            argv = [sys.executable, PEERS_DIR / "sqlite_peer.py", "--db", work / f"{run}.db"]
            argv += ["--mode", mode, "--records", args.records, "--seconds", args.peer_seconds]
            argv += ["--batch", args.batch]
            line, load = metered(
                args, SYSTEM_NAMES[system], lambda: run_json(argv, system, args.run_timeout)
            )
            out.runs.append(line)
            out.loads.append(load)
            results.versions["sqlite"] = line.get("sqlite")
            log_ingest(system, run, line, load)
            if line.get("stored") != line.get("records"):
                raise BenchError(f"{system}: {line.get('stored')} rows stored of {line['records']}")
            for suffix in ("", "-wal", "-shm"):
                (work / f"{run}.db{suffix}").unlink(missing_ok=True)
    except BenchError as err:
        out.error = "failed (see stderr)"
        results.failures.append(f"{system}: {err}")
        log(f"{system}: {err}")


def log_ingest(system, run, line, load):
    log(
        f"{SYSTEM_NAMES[system]}: run {run}: {line['records']:,} records in "
        f"{line['seconds']:.1f}s = {line['records_per_s']:,.0f} records/s"
        + (" (stopped by --peer-seconds)" if line.get("stopped_by_time") else "")
        + f" (other processes {load.other_pct:.0f}% of a core)"
    )


def mlflow_peer_argv(args, python, uri, db):
    argv = [python, PEERS_DIR / "mlflow_peer.py", "--tracking-uri", uri, "--db", db]
    argv += ["--records", args.records, "--seconds", args.peer_seconds]
    argv += ["--layout", args.mlflow_layout]
    return argv


def check_mlflow_stored(system, line):
    stored = (line.get("stored") or {}).get("points")
    if stored != line["points"]:
        raise BenchError(f"{system}: the store holds {stored} points of {line['points']} logged")


def peer_mlflow_sqlite(args, cleanup, results):
    system = "mlflow-sqlite"
    out = results.ingest[system] = Ingest()
    python = venv_python(args)
    if python is None:
        out.error = "no bench/.venv"
        return
    work = cleanup.mkdtemp(f"metrics-bench-{system}-")
    env = dict(os.environ, MLFLOW_TRACKING_URI="")
    try:
        for run in range(1, args.runs + 1):
            db = work / f"{run}.db"
            argv = mlflow_peer_argv(args, python, f"sqlite:///{db}", db)
            line, load = metered(
                args, SYSTEM_NAMES[system], lambda: run_json(argv, system, args.run_timeout, env)
            )
            check_mlflow_stored(system, line)
            out.runs.append(line)
            out.loads.append(load)
            results.versions["mlflow"] = line.get("mlflow")
            log_ingest(system, run, line, load)
            db.unlink(missing_ok=True)
    except BenchError as err:
        out.error = "failed (see stderr)"
        results.failures.append(f"{system}: {err}")
        log(f"{system}: {err}")


def start_mlflow(args, cleanup, work):
    mlflow = args.venv / "bin" / "mlflow"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = work / "mlflow.log"
    argv = [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--backend-store-uri", f"sqlite:///{work}/mlflow.db"]
    argv += ["--default-artifact-root", str(work / "artifacts")]
    argv += ["--workers", str(args.mlflow_workers), "--uvicorn-opts", "--no-access-log"]
    # As in http_bench.py: its background job runner (huey consumers) would compete for the
    # cores, and nothing here needs it.
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)

    def healthy():
        try:
            return request("GET", base + "/health", timeout=2.0)[0] == 200
        except BenchError:
            return False

    wait_until(healthy, args.start_timeout, "MLflow start", proc, log_path)
    return proc, base, log_path


def mlflow_latency(args, base, results):
    """The peer of Lathe's delayed metrics: one metric logged for one thing, acknowledged."""
    status, payload = request(
        "POST", base + "/api/2.0/mlflow/experiments/create", {"name": "metrics-bench-latency"}
    )
    expect(status, payload, {200}, "MLflow experiment create")
    status, run = request(
        "POST",
        base + "/api/2.0/mlflow/runs/create",
        {"experiment_id": payload["experiment_id"], "start_time": int(time.time() * 1000)},
    )
    expect(status, run, {200}, "MLflow run create")
    run_id = run["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    bodies = [
        {"run_id": run_id, "key": "label", "value": i % 2, "timestamp": now + i, "step": i}
        for i in range(args.api_calls)
    ]
    path = "/api/2.0/mlflow/runs/log-metric"
    post_many(base, path, bodies[:200], {}, args.api_threads)  # warm-up
    lat, load = metered(args, path, lambda: post_many(base, path, bodies, {}, args.api_threads))
    api = results.api.setdefault("mlflow", Api(f"POST {path}"))
    api.runs.append(lat)
    api.loads.append(load)
    log(
        f"MLflow {path}: {len(lat.seconds):,} calls, p50 {lat.quantile_ms(0.5):.2f} ms, p99 "
        f"{lat.quantile_ms(0.99):.2f} ms, max {max(lat.seconds) * 1000:.2f} ms, {lat.bad} not 2xx "
        f"(other processes {load.other_pct:.0f}% of a core)"
    )


def peer_mlflow_server(args, cleanup, results):
    """A fresh server and store per run: the API latency first (on an empty store, as Lathe's),
    then the ingestion."""
    system = "mlflow-server"
    out = results.ingest[system] = Ingest()
    python = venv_python(args)
    if python is None:
        out.error = "no bench/.venv"
        return
    env = dict(os.environ, MLFLOW_TRACKING_URI="")
    try:
        for run in range(1, args.runs + 1):
            work = cleanup.mkdtemp(f"metrics-bench-{system}-")
            proc, base, log_path = start_mlflow(args, cleanup, work)
            try:
                if not args.skip_api:
                    mlflow_latency(args, base, results)
                argv = mlflow_peer_argv(args, python, base, work / "mlflow.db")
                line, load = metered(
                    args,
                    SYSTEM_NAMES[system],
                    lambda: run_json(argv, system, args.run_timeout, env),
                )
                _alive(proc, log_path, "MLflow server")
                check_mlflow_stored(system, line)
                out.runs.append(line)
                out.loads.append(load)
                results.versions["mlflow"] = line.get("mlflow")
                log_ingest(system, run, line, load)
            finally:
                cleanup.stop(proc)
                shutil.rmtree(work, ignore_errors=True)
    except BenchError as err:
        out.error = "failed (see stderr)"
        results.failures.append(f"{system}: {err}")
        log(f"{system}: {err}")


# ---------------------------------------------------------------- report


def fmt_int(value):
    return f"{value:,.0f}"


def fmt_ms(value):
    if value is None:
        return "—"
    return f"{value * 1000:.0f} µs" if value < 1 else f"{value:,.2f} ms"


def fmt_ratio(value):
    return "—" if value is None else f"{value:,.2f}×" if value < 100 else f"{value:,.0f}×"


def ingest_cell(ing):
    if ing is None:
        return "not run"
    if not ing.runs:
        return ing.error or "not run"
    rps = ing.median("records_per_s")
    records = statistics.median(r["records"] for r in ing.runs)
    return (
        f"{fmt_int(rps)} records/s = {fmt_int(rps * POINTS_PER_RECORD)} points/s "
        f"({fmt_int(records)} records a run)"
    )


def api_cell(api, error=""):
    if api is None or not api.runs:
        return error or "not run"
    return (
        f"p50 {fmt_ms(api.median_ms(0.5))}, p99 {fmt_ms(api.median_ms(0.99))}, max "
        f"{fmt_ms(api.max_ms)}; {api.bad} of {api.calls:,} not acknowledged (2xx)"
    )


def table(args, results):
    lines = [
        "| figure | system | result | ratio |",
        "|---|---|---|---:|",
    ]
    lathe = results.ingest.get("lathe")
    lathe_rps = lathe.median("records_per_s") if lathe and lathe.runs else None
    figure = f"ingestion, {args.records:,} records of 12 metrics"
    if lathe is not None:
        lines.append(
            f"| {figure} | {SYSTEM_NAMES['lathe']}, {args.producers} producers | "
            f"{ingest_cell(lathe)} | — |"
        )
    for system in PEERS:
        ing = results.ingest.get(system)
        if ing is None:
            continue
        rps = ing.median("records_per_s") if ing.runs else None
        ratio = lathe_rps / rps if lathe_rps and rps else None
        lines.append(
            f"| {figure} | {SYSTEM_NAMES[system]} | {ingest_cell(ing)} | {fmt_ratio(ratio)} |"
        )
    if lathe is not None and lathe.runs:
        dropped = sum(r.get("dropped", 0) for r in lathe.runs)
        failed = sum(r.get("failed", 0) for r in lathe.runs)
        retried = sum(r.get("refused_then_retried", 0) for r in lathe.runs)
        longest = max(r.get("commit_max_us", 0) for r in lathe.runs) / 1000.0
        commits = statistics.median(r.get("commits", 0) for r in lathe.runs)
        lines.append(
            f"| ingestion: losses | Lathe | {dropped} dropped, {failed} failed of "
            f"{sum(r['records'] for r in lathe.runs):,} records ({retried:,} Submits refused by a "
            f"full queue and retried); {fmt_int(commits)} commits a run, the longest "
            f"{fmt_ms(longest)} | — |"
        )
    if not args.skip_api:
        delayed = results.api.get("delayed")
        mlflow = results.api.get("mlflow")
        threads = f"{args.api_threads} threads, keep-alive"
        if "lathe" in args.systems:
            lines.append(
                f"| API write: a delayed metric ({threads}) | Lathe: `POST /api/v2/metrics/delayed` "
                f"| {api_cell(delayed, results.api_error)} | — |"
            )
        if "mlflow-server" in args.systems:
            ratio = (
                mlflow.median_ms(0.99) / delayed.median_ms(0.99)
                if delayed and delayed.runs and mlflow and mlflow.runs
                else None
            )
            lines.append(
                f"| API write: a delayed metric ({threads}) | MLflow tracking server: "
                f"`POST /api/2.0/mlflow/runs/log-metric` | {api_cell(mlflow)} | "
                f"{fmt_ratio(ratio)} (p99) |"
            )
        if "lathe" in args.systems:
            lines.append(
                f"| API write: an aggregate metric ({threads}) | Lathe: "
                f"`POST /api/v2/metrics/aggregates` | "
                f"{api_cell(results.api.get('aggregates'), results.api_error)} | — |"
            )
    if "lathe" in args.systems:
        read = results.read
        window = (
            f"{args.read_predictions:,} predictions over 24 h, {args.delayed_fraction:.0%} with "
            "delayed metrics"
        )
        if read:
            read_cell = (
                f"{fmt_ms(read.get('read_ms_median'))} (median of {len(read.get('read_ms', []))}; "
                f"{read.get('read_bytes', 0) / 1e6:,.0f} MB of JSON)"
            )
            series_cell = f"{fmt_ms(read.get('series_ms_median'))} (median of {len(read.get('series_ms', []))})"
        else:
            read_cell = series_cell = results.read_error or "not run"
        lines.append(f"| `read_metrics` answer, {window} | Lathe | {read_cell} | — |")
        lines.append(
            f"| 24-hour chart, per minute, over rollups (same store) | Lathe | {series_cell} | — |"
        )
    return "\n".join(lines)


def verdict(shown, value, ok):
    if value is None:
        return "pending"
    return f"{shown}, " + ("**met**" if ok(value) else "**not met**")


def targets(args, results):
    if "lathe" not in args.systems:
        return ""
    out = []
    lathe = results.ingest.get("lathe")
    rps = lathe.median("records_per_s") if lathe and lathe.runs else None
    out.append(
        f"- ingestion ≥ {TARGET_RECORDS_PER_S:,} records/s: "
        + verdict(f"{fmt_int(rps)}" if rps else "", rps, lambda v: v >= TARGET_RECORDS_PER_S)
    )
    lost = (
        sum(r.get("dropped", 0) + r.get("failed", 0) for r in lathe.runs)
        if lathe and lathe.runs
        else None
    )
    out.append(
        "- ingestion with zero drops: "
        + verdict(f"{lost} dropped or failed", lost, lambda v: v == 0)
    )
    if not args.skip_api:
        for name in ("delayed", "aggregates"):
            api = results.api.get(name)
            p99 = api.median_ms(0.99) if api and api.runs else None
            bad = api.bad if api and api.runs else 0
            out.append(
                f"- acknowledged API write p99 ≤ {TARGET_API_P99_MS:g} ms, {name}: "
                + verdict(
                    fmt_ms(p99) + (f" ({bad} answers not 2xx)" if bad else ""),
                    p99,
                    lambda v: v <= TARGET_API_P99_MS and bad == 0,
                )
            )
    read = results.read or {}
    value = read.get("read_ms_median")
    out.append(
        f"- `read_metrics` over {args.read_predictions:,} predictions ≤ {TARGET_READ_MS:g} ms: "
        + verdict(fmt_ms(value), value, lambda v: v <= TARGET_READ_MS)
    )
    value = read.get("series_ms_median")
    out.append(
        f"- 24-hour dashboard query over rollups ≤ {TARGET_SERIES_MS:g} ms: "
        + verdict(fmt_ms(value), value, lambda v: v <= TARGET_SERIES_MS)
    )
    if args.read_predictions != 1_000_000 and value is not None:
        out.append(
            f"- (the read targets are for 1,000,000 predictions; this run read "
            f"{args.read_predictions:,})"
        )
    return "\n".join(out)


def machine():
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or platform.machine()}), Linux {platform.release()}"


def preamble(args, results, lathe_ver):
    v = results.versions
    lines = [
        f"- Machine: {machine()}, Python {platform.python_version()}.",
        f"- Each figure: the median of {args.runs} timed runs after an untimed warm-up; every run "
        "on a fresh store in a fresh temp dir.",
    ]
    if "lathe" in args.systems and bench_binary(args) is None:
        lines.append(f"- Lathe: lathe_metrics_bench not built ({args.bench_binary}).")
    elif "lathe" in args.systems:
        lines.append(
            f"- Lathe: {lathe_ver or args.lathe}. Ingestion: `lathe_metrics_bench ingest "
            f"--records {args.records} --producers {args.producers}` (records made before the "
            "clock; one `Submit` per record, as the serving path does; the clock stops when the "
            "writer has committed them all). Read: `lathe_metrics_bench read --predictions "
            f"{args.read_predictions} --delayed-fraction {args.delayed_fraction:g} --runs "
            f"{args.runs}`, the same code the API renders `read_metrics` with."
        )
    if "lathe" in args.systems and not args.skip_api:
        lines.append(
            f"- API writes: a `lathe server` ({lathe_ver or args.lathe}), one deployment "
            f"(0.5 vCPU) of a `@cdsw.model_metrics` function, {args.api_calls:,} predictions; then "
            f"per run {args.api_calls:,} delayed metrics (one per prediction, "
            f'`{{"label": 0|1}}`) and {args.api_aggregates:,} aggregates (`{{"auc": 0.9}}`), '
            f"an API key as Bearer, from {args.api_threads} Python threads with a keep-alive "
            "connection each (http.client), timed from writing the request to reading the whole "
            "answer."
        )
    peers = [s for s in PEERS if s in args.systems]
    if peers:
        lines.append(
            f"- Peers: the same records (10 floats, 2 short strings; made before the clock), "
            f"one client thread; each stops after {args.records:,} records or "
            f"{args.peer_seconds:g} s of inserting, whichever comes first, so a slow peer logs "
            "fewer records into a smaller table (if anything, that favours it)."
        )
    if any(p.startswith("mlflow") for p in peers):
        lines.append(
            f"- MLflow {v.get('mlflow', '(version unknown)')}, SQLite backend store: one run; "
            "each record is step i of the metrics `f0`..`f9`, its two string metrics are run tags "
            "`s0/<uuid>`, `s1/<uuid>` (MLflow metrics are numbers only), so 10 metrics + 2 tags "
            "= 12 points. `log_batch` allows 1,000 metrics, 100 tags and 1,000 entities a call: "
            + (
                "50 records a call (500 metrics + 100 tags)."
                if args.mlflow_layout == "shared"
                else "100 records' metrics a call (1,000) and their tags in 2 calls of 100."
            )
            + f" Server: `mlflow server --workers {args.mlflow_workers}`, job runner off, access "
            "log off, a fresh one per run; the stored metric and tag rows are counted after each "
            "run."
        )
    if any(p.startswith("sqlite") for p in peers):
        lines.append(
            f"- Python sqlite3 (SQLite {v.get('sqlite', '?')}): table `predictions(id INTEGER "
            "PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, start_ms, end_ms, metrics TEXT)`, the 12 "
            "metrics as JSON text made before the clock; WAL, synchronous=NORMAL and 64 MiB of "
            f"cache, as Lathe's store; `executemany` batches of {args.batch:,} rows."
        )
    lines.append(
        "- ratio: Lathe's records/s ÷ the peer's; for the API write, the peer's p99 ÷ Lathe's. "
        "Above 1 means Lathe is better."
    )
    loads = [l for ing in results.ingest.values() for l in ing.loads]
    loads += [l for api in results.api.values() for l in api.loads]
    if results.read_load:
        loads.append(results.read_load)
    if loads:
        worst = max(loads, key=lambda l: l.other_pct)
        quiet = worst.other_pct <= BUSY_PCT
        lines.append(
            f"- Other processes' CPU during the timed runs, worst run: {worst.other_pct:.0f}% of a "
            f"core (steal {worst.steal_pct:.0f}%)"
            + ("." if quiet else " — **the machine was busy; rerun on a quiet one.**")
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records",
        type=int,
        default=1_000_000,
        help="records per ingestion run (the peers stop earlier at --peer-seconds); "
        "default 1000000",
    )
    parser.add_argument(
        "--producers", type=int, default=4, help="Lathe's producer threads; default 4"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_REPEATS", 3)),
        help="timed runs per figure (median taken); default 3",
    )
    parser.add_argument(
        "--read-predictions",
        type=int,
        default=1_000_000,
        help="predictions in the read window; default 1000000",
    )
    parser.add_argument(
        "--delayed-fraction",
        type=float,
        default=0.5,
        help="share of them with delayed metrics; default 0.5",
    )
    parser.add_argument(
        "--only",
        choices=("lathe", "peers"),
        help="measure one side only (the other's cells read `not run`)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated, from {','.join(PEERS)}; default all",
    )
    parser.add_argument(
        "--skip-api",
        action="store_true",
        help="skip the API write latency (no `lathe server`, no MLflow log-metric)",
    )
    parser.add_argument(
        "--peer-seconds",
        type=float,
        default=20.0,
        help="a peer's run stops after this many seconds of inserting; default 20",
    )
    parser.add_argument(
        "--batch", type=int, default=1000, help="rows per sqlite3 executemany; default 1000"
    )
    parser.add_argument(
        "--mlflow-layout",
        choices=("shared", "split"),
        default="shared",
        help="shared: 50 records (500 metrics + 100 tags) a log_batch call; split: 1,000 "
        "metrics a call and the tags in calls of 100; default shared",
    )
    parser.add_argument(
        "--mlflow-workers", type=int, default=2, help="`mlflow server --workers`; default 2"
    )
    parser.add_argument(
        "--api-calls",
        type=int,
        default=2000,
        help="predictions made, and delayed metrics timed per run; default 2000",
    )
    parser.add_argument(
        "--api-aggregates", type=int, default=500, help="aggregates timed per run; default 500"
    )
    parser.add_argument(
        "--api-threads", type=int, default=8, help="client threads for the API writes; default 8"
    )
    parser.add_argument(
        "--lathe", default=str(DEFAULT_LATHE), help=f"the Lathe server; default {DEFAULT_LATHE}"
    )
    parser.add_argument(
        "--lathe-arg",
        action="append",
        default=[],
        help="extra argument for `lathe server` (repeatable)",
    )
    parser.add_argument(
        "--bench-binary",
        default=str(DEFAULT_BENCH_BINARY),
        help=f"lathe_metrics_bench; default {DEFAULT_BENCH_BINARY}",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"the virtualenv with MLflow; default {DEFAULT_VENV}",
    )
    parser.add_argument(
        "--start-timeout", type=float, default=120, help="seconds a server may take to start"
    )
    parser.add_argument(
        "--build-timeout", type=float, default=300, help="seconds a Lathe build may take"
    )
    parser.add_argument(
        "--deploy-timeout",
        type=float,
        default=180,
        help="seconds a Lathe deployment may take to be ready",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=900,
        help="seconds one benchmark process (a run) may take; default 900",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="before each timed run, wait up to this many seconds for the machine to be idle "
        "(other work under 10%% of a core); default 0",
    )
    args = parser.parse_args()
    for name in ("records", "producers", "runs", "read_predictions", "batch", "api_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.api_threads < 1 or args.api_aggregates < 1 or args.mlflow_workers < 1:
        parser.error("--api-threads, --api-aggregates and --mlflow-workers must be at least 1")
    if not 0 <= args.delayed_fraction <= 1:
        parser.error("--delayed-fraction must be between 0 and 1")
    if args.peer_seconds <= 0 or args.settle < 0:
        parser.error("--peer-seconds must be positive and --settle 0 or more")
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            parser.error(f"--peers: unknown peer {p!r}; choose from {', '.join(PEERS)}")
    args.systems = [] if args.only == "peers" else ["lathe"]
    if args.only != "lathe":
        args.systems += [p for p in PEERS if p in peers]
    args.venv = args.venv.absolute()  # not resolved: bin/python must stay the venv's symlink
    return args


def main():
    args = parse_args()
    if any(s.startswith("mlflow") for s in args.systems) and venv_python(args) is None:
        raise BenchError(f"no virtualenv at {args.venv}; run bench/setup.sh first")
    cleanup = Cleanup()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    results = Results()
    lathe_ver = ""
    try:
        if "lathe" in args.systems:
            lathe_ver = lathe_version(Path(args.lathe))
            lathe_ingest(args, cleanup, results)
            lathe_read(args, cleanup, results)
            if not args.skip_api:
                lathe_api(args, cleanup, results)
        for system in PEERS:
            if system not in args.systems:
                continue
            if system == "mlflow-server":
                peer_mlflow_server(args, cleanup, results)
            elif system == "mlflow-sqlite":
                peer_mlflow_sqlite(args, cleanup, results)
            else:
                peer_sqlite(args, cleanup, results, system)
    finally:
        cleanup.close()
    print(preamble(args, results, lathe_ver))
    print()
    print(table(args, results))
    summary = targets(args, results)
    if summary:
        print()
        print("Targets:")
        print()
        print(summary)
    if results.failures:
        for failure in results.failures:
            log(f"failed: {failure.splitlines()[0]}")
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as err:
        print(f"metrics_bench: {err}", file=sys.stderr)
        sys.exit(1)
