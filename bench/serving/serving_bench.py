#!/usr/bin/python3
"""Model serving throughput and latency: Lathe against the stacks users would otherwise pick.

The same model functions (bench/serving/model/predict.py: `echo`, and `predict` of a small
scikit-learn LogisticRegression), 2 Python worker processes each, loaded by wrk with keep-alive
connections (2 threads, 64 connections), one stack at a time:

- Lathe: `POST /model` of a deployment with 2 replicas (also `predict` with model metrics on, and
  with auth on);
- FastAPI on uvicorn with uvloop and httptools, `--workers 2`;
- MLflow's model server, `mlflow models serve --workers 2` of the functions as pyfunc models;
- Flask on gunicorn, `-w 2`.

Beside them, the physical ceiling: calls/s of the same function in a tight loop in one Python
process, times 2. And each stack's overhead per request: the p50 latency with one connection,
minus the median time of one call of the function.

Standard library only, so it runs with Debian's /usr/bin/python3; the peers and scikit-learn live
in bench/.venv (bench/setup.sh). Progress goes to stderr; stdout gets the table to paste into
bench/RESULTS.md. See bench/README.md, "Serving".
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SERVING_DIR = Path(__file__).resolve().parent
BENCH_DIR = SERVING_DIR.parent
REPO_DIR = BENCH_DIR.parent
# Server start-up, clean-up, wrk parsing and load-watching helpers are shared with http_bench.py.
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
    parse_wrk,
    tail,
    wait_for_quiet,
    wait_until,
)

DEFAULT_LATHE = REPO_DIR / "build" / "lathe"
DEFAULT_VENV = BENCH_DIR / ".venv"
MODEL_SRC = SERVING_DIR / "model"
PEERS_DIR = SERVING_DIR / "peers"
LUA = SERVING_DIR / "post.lua"
# Lathe's Python SDK: the `cdsw` module replicas import (for predict_metrics in the tight loop).
LATHE_SDK = REPO_DIR / "sdk" / "python"
SANDBOX_UID = 8536  # Lathe's local backend runs workloads (model replicas too) as this uid
WORKERS = 2

STACKS = ("lathe", "fastapi", "mlflow", "flask")
STACK_NAMES = {
    "lathe": "Lathe",
    "fastapi": "FastAPI on uvicorn (uvloop, httptools)",
    "mlflow": "MLflow `models serve`",
    "flask": "Flask on gunicorn",
}
# What each stack serves. "metrics" and "auth" are Lathe's alone: predict with model metrics on
# (`predict_metrics`, `@cdsw.model_metrics`), and predict with the model's auth switch on.
FUNCTIONS = ("echo", "predict", "metrics", "auth")
FUNCTION_NAMES = {
    "echo": "echo",
    "predict": "predict",
    "metrics": "predict, metrics on",
    "auth": "predict, auth on",
}

# Targets from the issue.
TARGET_VS_BEST = 1.5  # Lathe requests/s >= 1.5x the best peer's, per function
TARGET_P99_SHARE = 0.5  # Lathe p99 <= half the best peer's p99
TARGET_VS_FLASK = 3.0  # Lathe requests/s >= 3x Flask on gunicorn
TARGET_OVERHEAD_US = 50.0  # Lathe's own overhead per request at p50
TARGET_METRICS_SHARE = 0.9  # with model metrics on, >= 90% of the requests/s with them off


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
    """root and every process descended from it (Lathe's replicas run in their own sessions, so a
    process group would miss them)."""
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
    """CPU that went to anything but the server's process tree and this script (wrk included, as
    a reaped child), in % of one core."""

    def __init__(self, root_pid):
        self.root = root_pid
        self.start = time.monotonic()
        self.busy, self.steal = _machine_ticks()
        self.table = _process_table()
        self.ours = _tree(self.table, root_pid) | {os.getpid()}

    def stop(self):
        ticks = (time.monotonic() - self.start) * CLK_TCK
        busy, steal = _machine_ticks()
        now = _process_table()
        ours = self.ours | _tree(now, self.root) | {os.getpid()}
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
        return (
            100.0 * other / ticks,
            100.0 * (steal - self.steal) / ticks,
            [(name, 100.0 * used / ticks) for name, used in top],
        )


# ---------------------------------------------------------------- wrk


@dataclass
class Endpoint:
    """One function served by one stack, ready to be loaded."""

    stack: str
    function: str
    url: str
    body: bytes
    check: object  # callable(parsed JSON answer) -> bool
    proc: object  # the server (root of its process tree, for the CPU meter)
    log_path: Path  # its log, quoted if it dies
    auth: str = ""  # Authorization header value, if any
    # Lathe: () -> (µs inside the function, µs of the server's own overhead), p50s as the server
    # measured them, or None when it does not say (see lathe_server_stats).
    server_stats: object = None


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    other_pct: float = 0.0
    steal_pct: float = 0.0
    single_p50_ms: float = None  # p50 with one connection
    server_fn_p50_us: float = None  # time inside the function as the server measured it
    server_overhead_p50_us: float = None  # the server's own: arrival to answer minus the function
    runs: list = field(default_factory=list)


def run_wrk(endpoint, body_file, threads, connections, seconds):
    try:
        return _run_wrk(endpoint, body_file, threads, connections, seconds)
    finally:
        time.sleep(0.05)
        _alive(endpoint.proc, endpoint.log_path, STACK_NAMES[endpoint.stack])


def _run_wrk(endpoint, body_file, threads, connections, seconds):
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["-s", str(LUA), endpoint.url]
    env = dict(os.environ, WRK_BODY_FILE=str(body_file), WRK_AUTH=endpoint.auth)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + 60}s: {' '.join(argv)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def verify(endpoint, timeout):
    """One request, answer compared with the expected one; retried while the server comes up."""
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": "application/json"}
    if endpoint.auth:
        headers["Authorization"] = endpoint.auth
    last = None
    while True:
        try:
            status, payload = request("POST", endpoint.url, endpoint.body, headers)
            if status == 200 and endpoint.check(payload):
                return
            last = f"HTTP {status}: {str(payload)[:400]}"
            if status not in (502, 503, 404):
                break
        except BenchError as err:
            last = str(err)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    raise BenchError(f"{endpoint.stack} {endpoint.function}: wrong answer or none: {last}")


def measure(args, endpoint, work):
    """Verify; one run with a single connection (the overhead); warm-up; args.runs timed runs,
    of which the median."""
    name = f"{STACK_NAMES[endpoint.stack]}, {FUNCTION_NAMES[endpoint.function]}"
    verify(endpoint, args.start_timeout)
    body_file = work / f"body-{endpoint.stack}-{endpoint.function}.json"
    body_file.write_bytes(endpoint.body)
    log(f"{name}: answers correctly")
    single = server = None
    if args.single_duration:
        # First, so that the server's own statistics (Lathe's deployment stats, which cover every
        # request since the deployment started) are those of this run: under the full load the
        # function shares the cores with everything else and takes longer.
        if args.settle:
            wait_for_quiet(args.settle)
        single = run_wrk(endpoint, body_file, 1, 1, args.single_duration)
        server = endpoint.server_stats() if endpoint.server_stats else None
        log(
            f"{name}: one connection: p50 {single.p50_ms * 1000:.0f} µs, {single.rps:,.0f} req/s"
            + (
                f"; the server says: inside the function {fmt_us(server[0])}, its own overhead "
                f"{fmt_us(server[1])} (p50)"
                if server
                else ""
            )
        )
    if args.warmup:
        log(f"{name}: warming up for {args.warmup}s")
        run_wrk(endpoint, body_file, args.threads, args.connections, args.warmup)
    runs = []
    while len(runs) < args.runs + args.busy_retries:
        if (
            len(runs) >= args.runs
            and sum(r.other_pct > BUSY_PCT for r in runs) <= len(runs) - args.runs
        ):
            break  # enough undisturbed runs
        if args.settle:
            wait_for_quiet(args.settle)
        meter = CpuMeter(endpoint.proc.pid)
        result = run_wrk(endpoint, body_file, args.threads, args.connections, args.duration)
        other, steal, busiest = meter.stop()
        runs.append(Figures(result.rps, result.p50_ms, result.p99_ms, other, steal))
        log(
            f"{name}: run {len(runs)}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.3f} ms, "
            f"p99 {result.p99_ms:.3f} ms (other processes {other:.0f}% of a core, "
            f"steal {steal:.0f}%)"
        )
        if other > BUSY_PCT:
            names = ", ".join(f"{n} {pct:.0f}%" for n, pct in busiest)
            log(f"  warning: the machine was busy with other work during this run ({names})")
    kept = sorted(runs, key=lambda r: r.other_pct)[: args.runs]
    return Figures(
        rps=statistics.median(r.rps for r in kept),
        p50_ms=statistics.median(r.p50_ms for r in kept),
        p99_ms=statistics.median(r.p99_ms for r in kept),
        other_pct=max(r.other_pct for r in kept),
        steal_pct=max(r.steal_pct for r in kept),
        single_p50_ms=single.p50_ms if single else None,
        server_fn_p50_us=server[0] if server else None,
        server_overhead_p50_us=server[1] if server else None,
        runs=runs,
    )


# ---------------------------------------------------------------- the model and the ceiling


@dataclass
class Model:
    dir: Path  # predict.py and model.pkl, as every stack gets them
    request: dict  # the request every call sends (before a stack's own wrapping)
    answers: dict  # function -> its answer to request
    ceiling: dict  # function -> {"calls_per_s", "p50_us"}
    versions: dict  # package -> version, in the virtualenv


def prepare_model(args, work):
    """Copies predict.py, fits and pickles the model, and runs the tight loops (the ceiling)."""
    model_dir = work / "model"
    model_dir.mkdir()
    shutil.copy2(MODEL_SRC / "predict.py", model_dir / "predict.py")
    python = str(args.venv / "bin" / "python")
    done = subprocess.run(
        [python, str(MODEL_SRC / "train.py"), "--out", str(model_dir / "model.pkl")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise BenchError(f"training the model failed:\n{done.stderr or done.stdout}")
    log(done.stdout.strip())
    argv = [python, str(SERVING_DIR / "ceiling.py"), "--model-dir", str(model_dir)]
    argv += ["--seconds", str(args.ceiling_seconds)]
    if (LATHE_SDK / "cdsw" / "__init__.py").exists():
        argv += ["--cdsw-path", str(LATHE_SDK)]
    if args.settle:
        wait_for_quiet(args.settle)
    log(f"ceiling: calling each function in a tight loop ({args.ceiling_seconds:g}s per loop)")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BenchError(f"the tight-loop measurement failed:\n{done.stderr or done.stdout}")
    if done.stderr.strip():
        log(done.stderr.strip())
    out = json.loads(done.stdout)
    functions = out["functions"]
    for fn, figures in functions.items():
        log(
            f"ceiling: {fn}: {figures['calls_per_s']:,.0f} calls/s in one process, "
            f"{figures['p50_us']:.2f} µs per call (p50)"
        )
    return Model(
        dir=model_dir,
        request=out["request"],
        answers={fn: f["answer"] for fn, f in functions.items()},
        ceiling={fn: f for fn, f in functions.items()},
        versions=out["versions"],
    )


def venv_env(args, model):
    """The environment the peers run in: the virtualenv first on PATH, the model importable."""
    env = dict(os.environ)
    env["PATH"] = f"{args.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONPATH"] = f"{model.dir}:{PEERS_DIR}"
    env["VIRTUAL_ENV"] = str(args.venv)
    env.pop("PYTHONHOME", None)
    return env


def peer_functions(args):
    return [fn for fn in args.functions if fn in ("echo", "predict")]


# ---------------------------------------------------------------- the peers


def fastapi_endpoints(args, cleanup, work, model):
    port = free_port()
    argv = [str(args.venv / "bin" / "uvicorn"), "fastapi_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(WORKERS), "--loop", "uvloop"]
    argv += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    log_path = work / "fastapi.log"
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=venv_env(args, model), cwd=work)
    try:
        body = json.dumps(model.request).encode()
        for fn in peer_functions(args):
            answer = model.answers[fn]
            yield Endpoint(
                "fastapi",
                fn,
                f"http://127.0.0.1:{port}/{fn}",
                body,
                lambda p, a=answer: p == a,
                proc,
                log_path,
            )
            _alive(proc, log_path, "FastAPI")
    finally:
        cleanup.stop(proc)


def flask_endpoints(args, cleanup, work, model):
    argv = [str(args.venv / "bin" / "gunicorn"), "-w", str(WORKERS), "-b", "127.0.0.1:0"]
    argv += ["--no-control-socket", "flask_app:app"]
    log_path = work / "flask.log"
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=venv_env(args, model), cwd=work)
    try:
        # gunicorn binds port 0 and says where: "Listening at: http://127.0.0.1:PORT (PID)".
        def listening():
            for line in log_path.read_text(errors="replace").splitlines():
                if "Listening at: http://" in line:
                    return line.split("Listening at: ", 1)[1].split()[0]
            return None

        base = wait_until(listening, args.start_timeout, "gunicorn start", proc, log_path)
        body = json.dumps(model.request).encode()
        for fn in peer_functions(args):
            answer = model.answers[fn]
            yield Endpoint(
                "flask", fn, f"{base}/{fn}", body, lambda p, a=answer: p == a, proc, log_path
            )
            _alive(proc, log_path, "gunicorn")
    finally:
        cleanup.stop(proc)


def mlflow_endpoints(args, cleanup, work, model):
    """One `mlflow models serve` per function: a served model is one pyfunc."""
    env = venv_env(args, model)
    # uvicorn (which MLflow 3 runs) reads its options from UVICORN_* too: no access log, as for
    # every other stack.
    env["UVICORN_ACCESS_LOG"] = "false"
    for fn in peer_functions(args):
        saved = work / f"mlflow-{fn}"
        done = subprocess.run(
            [
                str(args.venv / "bin" / "python"),
                str(PEERS_DIR / "mlflow_model.py"),
                str(model.dir),
                str(saved),
                fn,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=300,
        )
        if done.returncode != 0:
            raise BenchError(f"saving the MLflow {fn} model failed:\n{done.stderr or done.stdout}")
        port = free_port()
        argv = [str(args.venv / "bin" / "mlflow"), "models", "serve", "-m", str(saved)]
        argv += ["--env-manager", "local", "--workers", str(WORKERS)]
        argv += ["-h", "127.0.0.1", "-p", str(port)]
        log_path = work / f"mlflow-{fn}.log"
        log(f"starting {' '.join(argv)}")
        proc = cleanup.spawn(argv, log_path, env=env, cwd=work)
        try:
            # MLflow's request format: {"inputs": ...} (the functions get it as a numpy array)
            # and its answer: {"predictions": <what the function returned>}.
            body = json.dumps({"inputs": model.request["x"]}).encode()
            expected = {"predictions": model.answers[fn] if fn == "predict" else model.request["x"]}
            yield Endpoint(
                "mlflow",
                fn,
                f"http://127.0.0.1:{port}/invocations",
                body,
                lambda p, e=expected: p == e,
                proc,
                log_path,
            )
            _alive(proc, log_path, "MLflow")
        finally:
            cleanup.stop(proc)


def _alive(proc, log_path, what):
    if proc.poll() is not None:
        raise BenchError(f"{what} exited with {proc.returncode} during the runs:\n{tail(log_path)}")


# ---------------------------------------------------------------- Lathe


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


def check_sandbox_can_read(python):
    """Replicas run as uid 8536 in a sandbox that sees the host's / read-only: the virtualenv must
    be readable, and its parents searchable, by that uid."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return
    probe = [
        "setpriv",
        f"--reuid={SANDBOX_UID}",
        f"--regid={SANDBOX_UID}",
        "--clear-groups",
        str(python),
        "-c",
        "import sklearn, numpy",
    ]
    done = subprocess.run(probe, capture_output=True, text=True, cwd="/", timeout=120)
    if done.returncode != 0:
        raise BenchError(
            f"uid {SANDBOX_UID} (the sandbox's) cannot use {python}, so model replicas could not "
            f"import scikit-learn: {done.stderr.strip()[-300:]}\nMake the path readable "
            "(chmod o+rx on each parent directory) or make the virtualenv under a readable "
            "directory and pass it with --venv."
        )


def start_lathe(args, cleanup, work):
    binary = Path(args.lathe)
    if not os.access(binary, os.X_OK):
        raise BenchError(
            f"no Lathe server at {binary}; build it with `make build`, pass --lathe, "
            "or measure the peers only with --stacks fastapi,mlflow,flask"
        )
    python = args.venv / "bin" / "python"
    check_sandbox_can_read(python)
    data_dir = work / "lathe-data"
    data_dir.mkdir()
    log_path = work / "lathe.log"
    password = "bench-" + os.urandom(12).hex()
    env = dict(os.environ, LATHE_ADMIN_USER=ADMIN_USER, LATHE_ADMIN_PASSWORD=password)
    argv = [str(binary), "server", "--data-dir", str(data_dir), "--host", "127.0.0.1"]
    argv += ["--port", "0", "--access-log", "off"]
    # The replicas' interpreter: the virtualenv's Python, so they have scikit-learn. It is run by
    # this path (a symlink to /usr/bin/python3), which is how Python finds the virtualenv.
    argv += ["--kernels", f"python3=/usr/bin/python3,{args.lathe_kernel}={python}"]
    argv += args.lathe_arg
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)

    def ready():
        match = READY_RE.search(log_path.read_text(errors="replace"))
        return match.group(1) if match else None

    base = wait_until(ready, args.start_timeout, "Lathe start", proc, log_path)
    wait_until(
        lambda: _status("GET", base + "/healthz") == 200, 30, "Lathe /healthz", proc, log_path
    )
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
        {"name": "serving-bench"},
        {"Cookie": cookie, "X-CSRF-Token": payload["csrf_token"]},
    )
    expect(status, payload, {200, 201}, "Lathe key create")
    key = payload.get("key") if isinstance(payload, dict) else None
    if not key:
        raise BenchError(f"Lathe key create answered without a key: {payload}")
    return proc, base, key, log_path


def _status(method, url):
    try:
        return request(method, url, timeout=2.0)[0]
    except BenchError:
        return None


def lathe_endpoints(args, cleanup, work, model):
    """For each function: a model, a build, a deployment of 2 replicas; loaded; then stopped."""
    proc, base, key, log_path = start_lathe(args, cleanup, work)
    api = LatheApi(base, key)
    try:
        # The default user quota (2 vCPU) fits one deployment of 2 x 1 vCPU; a stopping one must
        # not hold up the next, so the admin gets room for two.
        status, payload = request(
            "PUT",
            f"{base}/api/v2/quotas/user/{ADMIN_USER}",
            {"cpu": 4, "memory": 16},
            api.headers,
        )
        if status != 200:
            log(f"Lathe: could not raise the admin's quota (HTTP {status}); going on")
        project = api.call("POST", "/api/v2/projects", {"name": "serving-bench"}, (201,))
        pp = f"/api/v2/projects/{project['id']}"
        for name in ("predict.py", "model.pkl"):
            api.call("PUT", f"{pp}/files/{name}", (model.dir / name).read_bytes(), (201,))
        for fn in args.functions:
            function_name = {"metrics": "predict_metrics", "auth": "predict"}.get(fn, fn)
            auth_on = fn == "auth"
            m = api.call(
                "POST",
                f"{pp}/models",
                {
                    "name": f"bench-{fn}",
                    "description": f"serving benchmark: {function_name}",
                    "auth_enabled": auth_on,
                },
                (201,),
                f"Lathe create model bench-{fn}",
            )
            mp = f"{pp}/models/{m['id']}"
            build = lathe_build(args, api, mp, function_name, proc, log_path)
            dp = f"{mp}/builds/{build['id']}/deployments"
            deployment = api.call(
                "POST",
                dp,
                {"replicas": WORKERS, "cpu": 1, "memory": 2},
                (201,),
                f"Lathe deploy {function_name}",
            )
            dp = f"{dp}/{deployment['id']}"
            try:
                lathe_wait_ready(args, api, dp, proc, log_path)
                expected = model.answers["predict" if fn != "echo" else "echo"]
                body = json.dumps({"accessKey": m["access_key"], "request": model.request})
                yield Endpoint(
                    "lathe",
                    fn,
                    f"{base}/model",
                    body.encode(),
                    lambda p, e=expected: _lathe_answer_ok(p, e),
                    proc,
                    log_path,
                    auth=f"Bearer {key}" if auth_on else "",
                    server_stats=lambda dp=dp: lathe_server_stats(api, dp),
                )
                _alive(proc, log_path, "Lathe")
                stats = api.call("GET", dp).get("stats") or {}
                log(f"Lathe {fn}: deployment stats after the runs: {json.dumps(stats)}")
            finally:
                lathe_stop(api, dp)
    finally:
        cleanup.stop(proc)


def _lathe_answer_ok(payload, expected):
    """`POST /model` answers {"success": true, "response": <the function's answer>, ...}; with
    model metrics on, the response is {"prediction": <answer>, "uuid": ...} (as in CML)."""
    if not isinstance(payload, dict) or payload.get("success") is not True:
        return False
    response = payload.get("response")
    if response == expected:
        return True
    return isinstance(response, dict) and response.get("prediction") == expected


def lathe_build(args, api, mp, function_name, proc, log_path):
    build = api.call(
        "POST",
        f"{mp}/builds",
        {
            "file_path": "predict.py",
            "function_name": function_name,
            "kernel": args.lathe_kernel,
            "comment": "serving benchmark",
        },
        (201,),
        f"Lathe build {function_name}",
    )
    path = f"{mp}/builds/{build['id']}"
    deadline = time.monotonic() + args.build_timeout
    while True:
        _alive(proc, log_path, "Lathe")
        build = api.call("GET", path)
        if build["state"] == "built":
            log(f"Lathe: built {function_name} ({build.get('snapshot_files')} files)")
            return build
        if build["state"] == "failed" or time.monotonic() > deadline:
            logs = api.text(f"{path}/logs?offset=0")
            raise BenchError(
                f"Lathe build of {function_name}: {build['state']} ({build.get('reason')}):\n"
                f"{logs[-2000:]}"
            )
        time.sleep(0.25)


def lathe_wait_ready(args, api, dp, proc, log_path):
    deadline = time.monotonic() + args.deploy_timeout
    while True:
        _alive(proc, log_path, "Lathe")
        deployment = api.call("GET", dp)
        if deployment["state"] == "deployed" and deployment.get("ready_replicas") == WORKERS:
            log(f"Lathe: deployment {deployment['id']} is ready ({WORKERS} replicas)")
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
                f"Lathe deployment: {deployment['state']} ({deployment.get('reason')}), "
                f"{deployment.get('ready_replicas')} of {WORKERS} replicas ready\n"
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


def lathe_server_stats(api, dp):
    """(time inside the function, the server's own overhead), in µs at p50, from the deployment's
    live `stats` (`function_ms`, `overhead_ms`: histograms over every request since the deployment
    started; replicas time the function and send it back with each answer, see
    src/serving/PROTOCOL.md); None when the server does not give them."""
    try:
        stats = api.call("GET", dp).get("stats") or {}
    except BenchError:
        return None

    def p50_us(name):
        value = stats.get(name)
        value = value.get("p50") if isinstance(value, dict) else None
        return value * 1000.0 if isinstance(value, (int, float)) and value > 0 else None

    function = p50_us("function_ms")
    return (function, p50_us("overhead_ms")) if function is not None else None


# ---------------------------------------------------------------- report

SOURCES = {
    "lathe": lathe_endpoints,
    "fastapi": fastapi_endpoints,
    "mlflow": mlflow_endpoints,
    "flask": flask_endpoints,
}


def fmt_rps(value):
    return "—" if value is None else f"{value:,.0f}"


def fmt_ms(value):
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} µs"
    return f"{value:.2f} ms"


def fmt_us(value):
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value:.0f} µs" if abs(value) >= 10 else f"{value:.1f} µs"


def fmt_ratio(value):
    return "pending" if value is None else f"{value:.2f}×"


def overhead_us(figures, fn_us):
    if figures is None or figures.single_p50_ms is None or fn_us is None:
        return None
    return figures.single_p50_ms * 1000.0 - fn_us


def function_us(model, fn, figures=None):
    """Time inside the function: the server's own figure when it gives one, else the tight loop's."""
    if figures is not None and figures.server_fn_p50_us is not None:
        return figures.server_fn_p50_us
    key = {"metrics": "predict_metrics", "auth": "predict"}.get(fn, fn)
    if key not in model.ceiling:  # no cdsw module to run predict_metrics outside a replica
        key = "predict"
    return (model.ceiling.get(key) or {}).get("p50_us")


def best_peer(results, fn, pick):
    found = [(s, results[(s, fn)]) for s in ("fastapi", "mlflow", "flask") if (s, fn) in results]
    return (
        pick(found, key=lambda item: item[1].rps if pick is max else item[1].p99_ms)
        if found
        else None
    )


def table(args, results, model):
    lines = [
        "| function | stack | requests/s | p50 | p99 | overhead p50 | Lathe ÷ this: req/s "
        "| this ÷ Lathe: p99 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fn in args.functions:
        if fn in ("metrics", "auth") and "lathe" not in args.stacks:
            continue  # Lathe's rows alone
        lathe = results.get(("lathe", fn))
        stacks = (
            ("lathe", "fastapi", "mlflow", "flask") if fn in ("echo", "predict") else ("lathe",)
        )
        for stack in stacks:
            if stack not in args.stacks:
                continue
            figures = results.get((stack, fn))
            if figures is None:
                cells = ["pending"] * 4
            else:
                cells = [
                    fmt_rps(figures.rps),
                    fmt_ms(figures.p50_ms),
                    fmt_ms(figures.p99_ms),
                    fmt_us(overhead_us(figures, function_us(model, fn, figures))),
                ]
            if stack == "lathe":
                ratios = ["—", "—"]
            else:
                ratios = [
                    fmt_ratio(lathe.rps / figures.rps if lathe and figures else None),
                    fmt_ratio(figures.p99_ms / lathe.p99_ms if lathe and figures else None),
                ]
            lines.append(
                f"| {FUNCTION_NAMES[fn]} | {STACK_NAMES[stack]} | "
                + " | ".join(cells + ratios)
                + " |"
            )
        key = {"metrics": "predict_metrics", "auth": None}.get(fn, fn)
        ceiling = model.ceiling.get(key) if key else None
        if ceiling:
            ratio = lathe.rps / (ceiling["calls_per_s"] * WORKERS) if lathe else None
            lines.append(
                f"| {FUNCTION_NAMES[fn]} | ceiling: tight loop × {WORKERS} | "
                f"{fmt_rps(ceiling['calls_per_s'] * WORKERS)} | {fmt_us(ceiling['p50_us'])} per call "
                f"| — | — | {fmt_ratio(ratio)} | — |"
            )
    return "\n".join(lines)


def verdict(shown, value, ok):
    """`<shown>, met` / `<shown>, not met`, or `pending` when Lathe was not measured."""
    if value is None:
        return "pending"
    return f"{shown}, " + ("**met**" if ok(value) else "**not met**")


def targets(args, results, model):
    out = []
    for fn in ("echo", "predict"):
        if fn not in args.functions:
            continue
        lathe = results.get(("lathe", fn))
        best = best_peer(results, fn, max)
        if best:
            ratio = lathe.rps / best[1].rps if lathe else None
            out.append(
                f"- {fn}: requests/s ≥ {TARGET_VS_BEST}× the best peer's ({STACK_NAMES[best[0]]}, "
                f"{fmt_rps(best[1].rps)}): "
                + verdict(fmt_ratio(ratio), ratio, lambda r: r >= TARGET_VS_BEST)
            )
        best = best_peer(results, fn, min)
        if best:
            share = lathe.p99_ms / best[1].p99_ms if lathe else None
            out.append(
                f"- {fn}: p99 ≤ {TARGET_P99_SHARE:g} of the best peer's ({STACK_NAMES[best[0]]}, "
                f"{fmt_ms(best[1].p99_ms)}): "
                + verdict(
                    f"{fmt_ms(lathe.p99_ms)}, {share:.2f}× it" if lathe else "",
                    share,
                    lambda v: v <= TARGET_P99_SHARE,
                )
            )
        flask = results.get(("flask", fn))
        if flask:
            ratio = lathe.rps / flask.rps if lathe else None
            out.append(
                f"- {fn}: requests/s ≥ {TARGET_VS_FLASK:g}× Flask on gunicorn's: "
                + verdict(fmt_ratio(ratio), ratio, lambda r: r >= TARGET_VS_FLASK)
            )
        if "lathe" in args.stacks:
            overhead = overhead_us(lathe, function_us(model, fn, lathe))
            out.append(
                f"- {fn}: Lathe's overhead per request at p50 ≤ {TARGET_OVERHEAD_US:g} µs: "
                + verdict(fmt_us(overhead), overhead, lambda v: v <= TARGET_OVERHEAD_US)
            )
    if "lathe" in args.stacks and "metrics" in args.functions and "predict" in args.functions:
        on, off = results.get(("lathe", "metrics")), results.get(("lathe", "predict"))
        share = on.rps / off.rps if on and off else None
        out.append(
            f"- predict with model metrics on ≥ {TARGET_METRICS_SHARE:.0%} of the requests/s with "
            "them off: "
            + verdict(f"{share:.0%}" if share else "", share, lambda v: v >= TARGET_METRICS_SHARE)
        )
    return "\n".join(out)


def preamble(args, results, model, lathe_ver):
    v = model.versions
    worst = max(results.values(), key=lambda f: f.other_pct, default=None)
    quiet = all(f.other_pct <= BUSY_PCT for f in results.values())
    lathe_fn = [f.server_fn_p50_us for (stack, _), f in results.items() if stack == "lathe"]
    lines = [
        f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency` with "
        f"`post.lua` (keep-alive), {args.warmup}s warm-up, then the median of {args.runs} runs; "
        f"then {args.single_duration}s with one connection (`-t1 -c1`) for the overhead.",
        f"- {WORKERS} Python worker processes per stack, Python {v.get('python')}, "
        f"scikit-learn {v.get('scikit-learn')}, numpy {v.get('numpy')}; nothing pinned to a core.",
    ]
    if "lathe" in args.stacks:
        lines.append(
            f"- Lathe: {lathe_ver or args.lathe}; `POST /model` "
            f'`{{"accessKey": K, "request": {json.dumps(model.request)}}}`, a deployment of '
            f"{WORKERS} replicas (1 vCPU each) of a build run by the virtualenv's Python; the "
            "model's auth off, except in the auth row (an API key as Bearer)."
        )
    if "fastapi" in args.stacks:
        lines.append(
            f"- FastAPI {v.get('fastapi')} on uvicorn {v.get('uvicorn')} (uvloop "
            f"{v.get('uvloop')}, httptools {v.get('httptools')}), `--workers {WORKERS}`: "
            f"`POST /echo`, `POST /predict` with `{json.dumps(model.request)}`."
        )
    if "mlflow" in args.stacks:
        lines.append(
            f"- MLflow {v.get('mlflow')} `models serve --env-manager local --workers {WORKERS}` "
            f"(FastAPI on uvicorn), a pyfunc model per function: `POST /invocations` "
            f"`{json.dumps({'inputs': model.request['x']})}`."
        )
    if "flask" in args.stacks:
        lines.append(
            f"- Flask {v.get('Flask')} on gunicorn {v.get('gunicorn')} `-w {WORKERS}` (sync "
            "workers, which close the connection after each answer): as FastAPI."
        )
    lathe_fn_known = any(x is not None for x in lathe_fn)
    lines += [
        "- Access logs off everywhere. Ratios: above 1 means Lathe is better.",
        "- overhead p50: the p50 latency with one connection (as wrk sees it: client and loopback "
        "included) minus the time inside the function: the median of one call in the tight loop"
        + (
            "; for Lathe, the p50 its replicas measured (the deployment's `stats.function_ms`)"
            if lathe_fn_known
            else ""
        )
        + "."
        + (
            ""
            if "lathe" not in args.stacks or lathe_fn_known
            else " Lathe's own measure of the time inside the function: n/a (its deployment "
            "stats have no `function_ms`)."
        ),
    ]
    own = [
        f"{FUNCTION_NAMES[fn]} {fmt_us(f.server_overhead_p50_us)}"
        for (stack, fn), f in results.items()
        if stack == "lathe" and f.server_overhead_p50_us is not None
    ]
    if own:
        lines.append(
            "- Lathe's overhead as the server itself measures it (`stats.overhead_ms` p50: arrival "
            "to answer minus the function, one connection): " + ", ".join(own) + "."
        )
    lines += [
        f"- ceiling: calls/s of the function in a tight loop in one Python process × {WORKERS}.",
    ]
    if worst is not None:
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
        "--stacks",
        default=",".join(STACKS),
        help=f"comma-separated, from {','.join(STACKS)}; default all",
    )
    parser.add_argument(
        "--functions",
        default=",".join(FUNCTIONS),
        help="comma-separated, from echo,predict,metrics,auth (metrics and auth: Lathe only); "
        "default all",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_REPEATS", 3)),
        help="timed runs per figure (median taken); default 3",
    )
    parser.add_argument(
        "--duration", type=int, default=30, help="seconds per timed run; default 30"
    )
    parser.add_argument("--warmup", type=int, default=5, help="seconds of untimed load; default 5")
    parser.add_argument(
        "--single-duration",
        type=int,
        default=5,
        help="seconds of the one-connection run for the overhead; 0 skips; default 5",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads; default 2")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections; default 64")
    parser.add_argument(
        "--ceiling-seconds",
        type=float,
        default=3.0,
        help="seconds per tight loop for the ceiling; default 3",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"the virtualenv with the peers and scikit-learn; default {DEFAULT_VENV}",
    )
    parser.add_argument(
        "--lathe", default=str(DEFAULT_LATHE), help=f"the Lathe binary; default {DEFAULT_LATHE}"
    )
    parser.add_argument(
        "--lathe-arg",
        action="append",
        default=[],
        help="extra argument for `lathe server` (repeatable)",
    )
    parser.add_argument(
        "--lathe-kernel",
        default="bench",
        help="name of the kernel (the virtualenv's Python) the builds use; " "default bench",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=120,
        help="seconds a server may take to start; default 120",
    )
    parser.add_argument(
        "--build-timeout",
        type=float,
        default=300,
        help="seconds a Lathe build may take; default 300",
    )
    parser.add_argument(
        "--deploy-timeout",
        type=float,
        default=180,
        help="seconds a Lathe deployment may take to be ready; default 180",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temp dir (servers' logs, Lathe's data dir) and print where it is",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="before each timed run, wait up to this many seconds for the machine "
        "to be idle (other work under 10%% of a core); default 0",
    )
    parser.add_argument(
        "--busy-retries",
        type=int,
        default=0,
        help="extra runs per figure when other work disturbed some; default 0",
    )
    args = parser.parse_args()
    args.stacks = [s for s in args.stacks.split(",") if s]
    args.functions = [f for f in args.functions.split(",") if f]
    for s in args.stacks:
        if s not in STACKS:
            parser.error(f"--stacks: unknown stack {s!r}; choose from {', '.join(STACKS)}")
    for f in args.functions:
        if f not in FUNCTIONS:
            parser.error(f"--functions: unknown {f!r}; choose from {', '.join(FUNCTIONS)}")
    for name in ("runs", "duration", "threads", "connections"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if min(args.warmup, args.single_duration, args.settle, args.busy_retries) < 0:
        parser.error("--warmup, --single-duration, --settle and --busy-retries must be 0 or more")
    args.venv = args.venv.absolute()  # not resolved: bin/python must stay the venv's symlink
    return args


def main():
    args = parse_args()
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed; run bench/setup.sh (or apt-get install wrk)")
    if not os.access(args.venv / "bin" / "python", os.X_OK):
        raise BenchError(f"no virtualenv at {args.venv}; run bench/setup.sh first")
    cleanup = Cleanup()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    results = {}
    lathe_ver = ""
    try:
        work = cleanup.mkdtemp("serving-bench-")
        if args.keep:
            cleanup.dirs.remove(work)
            log(f"keeping {work} (--keep)")
        work.chmod(0o755)  # the model files are read by the servers (Lathe copies them anyway)
        model = prepare_model(args, work)
        # One stack at a time: wrk and the servers share the same cores.
        for stack in STACKS:
            if stack not in args.stacks:
                continue
            if stack == "lathe":
                lathe_ver = lathe_version(Path(args.lathe))
            endpoints = SOURCES[stack](args, cleanup, work, model)
            try:
                for endpoint in endpoints:
                    results[(stack, endpoint.function)] = measure(args, endpoint, work)
            finally:
                endpoints.close()  # stops that stack's servers now, even on an error
    finally:
        cleanup.close()
    print(preamble(args, results, model, lathe_ver))
    print()
    print(table(args, results, model))
    summary = targets(args, results, model)
    if summary:
        print()
        print("Targets:")
        print()
        print(summary)


if __name__ == "__main__":
    try:
        main()
    except BenchError as err:
        print(f"serving_bench: {err}", file=sys.stderr)
        sys.exit(1)
