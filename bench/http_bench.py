#!/usr/bin/python3
"""HTTP throughput and latency of Lathe and of an MLflow tracking server, measured by wrk.

Standard library only, so it runs with Debian's /usr/bin/python3. Progress goes to stderr;
stdout gets one markdown table (figure | Lathe | MLflow | ratio) to paste into bench/RESULTS.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_LATHE = REPO_DIR / "build" / "lathe"
DEFAULT_MLFLOW = BENCH_DIR / ".venv" / "bin" / "mlflow"
ADMIN_USER = "admin"
READY_RE = re.compile(r"Lathe is ready at (http://127\.0\.0\.1:\d+)")


class BenchError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and temp dirs


class Cleanup:
    """Owns every server process group and temp dir this run makes; removes them on any exit."""

    def __init__(self):
        self.processes = []
        self.dirs = []

    def mkdtemp(self, prefix):
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.dirs.append(path)
        return path

    def spawn(self, argv, log_path, env=None, cwd=None):
        # A new session per server, so stopping it also stops the workers it forks (uvicorn's).
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc

    def stop(self, proc, timeout=20.0):
        if proc not in self.processes:
            return
        self.processes.remove(proc)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(proc):
                time.sleep(0.1)
            if not _group_alive(proc):
                break
        proc.poll()

    def close(self):
        for proc in list(self.processes):
            self.stop(proc)
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)
        self.dirs.clear()


def _group_alive(proc):
    proc.poll()  # reap the leader if it has exited, so only live members keep the group
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path, lines=20):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- HTTP helpers

# No proxy, whatever the environment says: every request goes straight to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=10.0):
    """Returns (status, headers, parsed JSON or raw text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, response_headers, raw = err.code, err.headers, err.read()
    except (urllib.error.URLError, OSError) as err:
        raise BenchError(f"{method} {url}: {getattr(err, 'reason', err)}") from None
    text = raw.decode(errors="replace")
    try:
        return status, response_headers, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, response_headers, text


def expect(status, payload, wanted, what):
    if status not in wanted:
        raise BenchError(f"{what}: HTTP {status}: {str(payload)[:300]}")


def wait_until(predicate, timeout, what, proc, log_path, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what}: the server exited with {proc.returncode}:\n{tail(log_path)}")
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise BenchError(f"{what}: not ready within {timeout:.0f}s:\n{tail(log_path)}")


def http_ok(url):
    try:
        status, _, _ = http("GET", url, timeout=2.0)
        return status == 200
    except BenchError:
        return False


# ---------------------------------------------------------------- other load on the machine

CLK_TCK = os.sysconf("SC_CLK_TCK")
BUSY_PCT = 10.0  # other processes using more than this share of one core make a run suspect


def _machine_ticks():
    """(busy, steal) ticks summed over all CPUs, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq, steal


def _process_ticks():
    """pid -> (process group, name, own CPU ticks, the same plus reaped children's), from /proc."""
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
        # pgrp; own time (utime + stime); with reaped children's (cutime + cstime) added
        own = int(fields[11]) + int(fields[12])
        found[int(entry.name)] = (
            int(fields[2]),
            name,
            own,
            own + int(fields[13]) + int(fields[14]),
        )
    return found


class CpuMeter:
    """How much CPU went to work that is not part of the measurement (a build, say).

    Ours: the server's process group, and this script with its reaped children (every finished
    wrk run). Everything else the machine did meanwhile, kernel threads included, is "other".
    """

    def __init__(self, server_pgid):
        self.pgid = server_pgid
        self.start = time.monotonic()
        self.busy, self.steal = _machine_ticks()
        self.processes = _process_ticks()

    def _is_ours(self, pid, pgid):
        return pgid == self.pgid or pid == os.getpid()

    def stop(self):
        """(other %, steal %, [(name, %) of the busiest other processes]), % of one core."""
        ticks = (time.monotonic() - self.start) * CLK_TCK
        busy, steal = _machine_ticks()
        now = _process_ticks()
        own = 0
        others = {}
        for pid, (pgid, name, alone, with_children) in now.items():
            before = self.processes.get(pid)
            if self._is_ours(pid, pgid):
                own += with_children - (before[3] if before else 0)
                continue
            # Named by their own time only: a parent's reaped-children time can be hours of a
            # command that merely ended during the run.
            delta = alone - (before[2] if before else 0)
            if delta > 0:
                others[name] = others.get(name, 0) + delta
        other = max(0.0, (busy - self.busy) - own)
        unnamed = other - sum(others.values())
        if unnamed > 0:
            others["processes that ended, and the kernel"] = unnamed
        top = sorted(others.items(), key=lambda item: -item[1])[:3]
        return (
            100.0 * other / ticks,
            100.0 * (steal - self.steal) / ticks,
            [(name, 100.0 * used / ticks) for name, used in top],
        )


def wait_for_quiet(timeout):
    """Waits, at most timeout seconds, until the machine is close to idle between runs."""
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        start, (busy, _) = time.monotonic(), _machine_ticks()
        time.sleep(2.0)
        pct = 100.0 * (_machine_ticks()[0] - busy) / ((time.monotonic() - start) * CLK_TCK)
        if pct <= BUSY_PCT:
            if waited:
                log("  the machine is quiet again")
            return
        if time.monotonic() >= deadline:
            log(
                f"  the machine is still busy ({pct:.0f}% of a core) after {timeout:.0f}s; going on"
            )
            return
        if not waited:
            log(f"  waiting up to {timeout:.0f}s for other work to finish ({pct:.0f}% of a core)")
            waited = True


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    # CPU used by processes other than wrk, the server and this script, and CPU stolen by the
    # hypervisor, in percent of one core; the worst run's, when this is a median.
    other_pct: float = 0.0
    steal_pct: float = 0.0


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output):
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    if not (rps and p50 and p99):
        raise BenchError(f"could not read wrk's output:\n{output}")
    bad = re.search(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", output, re.M)
    if bad:
        raise BenchError(
            f"{bad.group(1)} responses were not 2xx/3xx; the figures would be wrong:\n{output}"
        )
    errors = re.search(r"^\s+Socket errors:.*$", output, re.M)
    if errors:
        # Timeouts and resets happen under overload; keep the figure but show them.
        log(f"  wrk reported {errors.group(0).strip()}")
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=float(p50.group(1)) * _UNIT_MS[p50.group(2)],
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
    )


def run_wrk(args, url, script, seconds):
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    if script:
        argv += ["-s", str(script)]
    argv.append(url)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + 60}s: {' '.join(argv)}") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def measure(args, name, url, server, script=None):
    """Warm-up, then args.repeats timed runs; the median of each figure."""
    if args.warmup > 0:
        log(f"{name}: warm-up {args.warmup}s")
        run_wrk(args, url, script, args.warmup)
    # Runs that other work disturbed are redone, up to --busy-retries extra runs; the figure is
    # then the median of the --repeats least disturbed runs.
    runs = []
    while len(runs) < args.repeats + args.busy_retries:
        if sum(r.other_pct <= BUSY_PCT for r in runs) >= args.repeats:
            break
        if len(runs) >= args.repeats:
            log(f"  {name}: measuring again, as runs were disturbed by other work")
        if args.settle > 0:
            wait_for_quiet(args.settle)
        meter = CpuMeter(server.pid)
        result = run_wrk(args, url, script, args.duration)
        result.other_pct, result.steal_pct, busiest = meter.stop()
        runs.append(result)
        log(
            f"{name}: run {len(runs)}: {result.rps:,.0f} req/s, "
            f"p50 {result.p50_ms:.3f} ms, p99 {result.p99_ms:.3f} ms "
            f"(other processes {result.other_pct:.0f}% of a core, steal {result.steal_pct:.0f}%)"
        )
        if result.other_pct > BUSY_PCT:
            names = ", ".join(f"{name} {pct:.0f}%" for name, pct in busiest)
            log(f"  warning: the machine was busy with other work during this run ({names})")
    kept = sorted(runs, key=lambda r: r.other_pct)[: args.repeats]
    return WrkResult(
        rps=statistics.median(r.rps for r in kept),
        p50_ms=statistics.median(r.p50_ms for r in kept),
        p99_ms=statistics.median(r.p99_ms for r in kept),
        other_pct=max(r.other_pct for r in kept),
        steal_pct=max(r.steal_pct for r in kept),
    )


def auth_script(directory, key):
    path = directory / "auth.lua"
    path.write_text(f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- Lathe


def lathe_version(binary):
    """`lathe --version` and the repository's commit, as far as either is known."""
    parts = []
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10
        )
        lines = (done.stdout or done.stderr).strip().splitlines()
        if done.returncode == 0 and lines:
            parts.append(lines[0])
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if done.returncode == 0 and done.stdout.strip():
            parts.append(f"commit {done.stdout.strip()}")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ", ".join(parts)


def bench_lathe(args, cleanup):
    binary = Path(args.lathe)
    if not os.access(binary, os.X_OK):
        raise BenchError(
            f"no Lathe server at {binary}; build it with `make build` or pass --only mlflow"
        )
    work = cleanup.mkdtemp("lathe-bench-")
    data_dir = work / "data"
    data_dir.mkdir()
    log_path = work / "lathe.log"
    password = "bench-" + os.urandom(12).hex()
    env = dict(os.environ, LATHE_ADMIN_USER=ADMIN_USER, LATHE_ADMIN_PASSWORD=password)
    argv = [
        str(binary),
        "server",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    argv += ["--access-log", "off", *args.lathe_arg]
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)
    try:

        def ready():
            match = READY_RE.search(log_path.read_text(errors="replace"))
            return match.group(1) if match else None

        base = wait_until(ready, args.start_timeout, "Lathe start", proc, log_path)
        wait_until(lambda: http_ok(base + "/healthz"), 30, "Lathe /healthz", proc, log_path)
        log(f"Lathe is up at {base}")

        status, headers, payload = http(
            "POST", base + "/api/v2/auth/login", {"username": ADMIN_USER, "password": password}
        )
        expect(status, payload, {200}, "Lathe login")
        cookie = next(
            (
                c.split(";", 1)[0]
                for c in headers.get_all("Set-Cookie") or []
                if c.startswith("lathe_session=")
            ),
            None,
        )
        if not cookie or not isinstance(payload, dict) or "csrf_token" not in payload:
            raise BenchError(f"Lathe login gave no lathe_session cookie or csrf_token: {payload}")
        status, _, payload = http(
            "POST",
            f"{base}/api/v2/users/{ADMIN_USER}/keys",
            {"name": "bench"},
            {"Cookie": cookie, "X-CSRF-Token": payload["csrf_token"]},
        )
        expect(status, payload, {200, 201}, "Lathe key create")
        key = payload.get("key") if isinstance(payload, dict) else None
        if not key:
            raise BenchError(f"Lathe key create answered without a key: {payload}")
        bearer = {"Authorization": f"Bearer {key}"}
        for i in range(args.items):
            status, _, payload = http(
                "POST", base + "/api/v2/projects", {"name": f"bench-{i:02d}"}, bearer
            )
            expect(status, payload, {200, 201}, f"Lathe project create {i}")
        list_url = f"{base}/api/v2/projects?page_size={args.page_size}"
        status, _, payload = http("GET", list_url, headers=bearer)
        expect(status, payload, {200}, "Lathe project list")
        listed = len(payload.get("projects", [])) if isinstance(payload, dict) else 0
        if listed != min(args.items, args.page_size):
            raise BenchError(f"Lathe project list returned {listed} projects: {str(payload)[:300]}")

        results = {
            "health": measure(args, "Lathe GET /healthz", base + "/healthz", proc),
            "list": measure(
                args, "Lathe GET /api/v2/projects", list_url, proc, auth_script(work, key)
            ),
        }
        return results, lathe_version(binary)
    finally:
        cleanup.stop(proc)


# ---------------------------------------------------------------- MLflow (the peer)


def bench_mlflow(args, cleanup):
    mlflow = Path(args.mlflow)
    if not os.access(mlflow, os.X_OK):
        raise BenchError(
            f"no MLflow at {mlflow}; run bench/setup.sh first (it creates bench/.venv)"
        )
    work = cleanup.mkdtemp("mlflow-bench-")
    log_path = work / "mlflow.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--backend-store-uri", f"sqlite:///{work}/mlflow.db"]
    argv += ["--default-artifact-root", str(work / "artifacts")]
    argv += ["--workers", str(args.mlflow_workers), "--uvicorn-opts", "--no-access-log"]
    # Its background job runner (huey consumers) would compete for the same two cores, and Lathe
    # runs no jobs here either: turn it off to compare the HTTP paths alone.
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)
    try:
        wait_until(
            lambda: http_ok(base + "/health"), args.start_timeout, "MLflow start", proc, log_path
        )
        log(f"MLflow is up at {base}")
        for i in range(args.items):
            status, _, payload = http(
                "POST", base + "/api/2.0/mlflow/experiments/create", {"name": f"bench-{i:02d}"}
            )
            expect(status, payload, {200}, f"MLflow experiment create {i}")
        search_url = f"{base}/api/2.0/mlflow/experiments/search?max_results={args.page_size}"
        status, _, payload = http("GET", search_url)
        expect(status, payload, {200}, "MLflow experiment search")
        listed = len(payload.get("experiments", [])) if isinstance(payload, dict) else 0
        if listed != min(args.items + 1, args.page_size):  # +1: MLflow's "Default" experiment
            raise BenchError(f"MLflow search returned {listed} experiments: {str(payload)[:300]}")

        results = {
            "health": measure(args, "MLflow GET /health", base + "/health", proc),
            "list": measure(args, "MLflow GET experiments/search", search_url, proc),
        }
        done = subprocess.run(
            [str(mlflow), "--version"], capture_output=True, text=True, timeout=60
        )
        return results, done.stdout.strip().replace("mlflow, version ", "MLflow ")
    finally:
        cleanup.stop(proc)


# ---------------------------------------------------------------- report


def fmt_rps(value):
    return "pending" if value is None else f"{value:,.0f}"


def fmt_ms(value):
    if value is None:
        return "pending"
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"


def fmt_ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return "pending"
    return f"{numerator / denominator:.2f}×"


def table(lathe, peer):
    rows = []
    for endpoint, name in (("health", "health check"), ("list", "list")):
        a = lathe.get(endpoint) if lathe else None
        b = peer.get(endpoint) if peer else None
        rows.append(
            (f"{name}: requests/s", fmt_rps(a and a.rps), fmt_rps(b and b.rps))
            + (fmt_ratio(a and a.rps, b and b.rps),)
        )
        for pct in ("p50", "p99"):
            la = getattr(a, f"{pct}_ms") if a else None
            lb = getattr(b, f"{pct}_ms") if b else None
            rows.append((f"{name}: {pct} latency", fmt_ms(la), fmt_ms(lb), fmt_ratio(lb, la)))
    lines = ["| figure | Lathe | MLflow | ratio |", "|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def background(results):
    if not results:
        return "not run"
    other = max(r.other_pct for r in results.values())
    steal = max(r.steal_pct for r in results.values())
    return f"{other:.0f}% of a core (steal {steal:.0f}%)"


def preamble(args, lathe_version, peer_version, lathe, peer):
    lathe_name = lathe_version or "not run"
    peer_name = (
        f"{peer_version} ({args.mlflow_workers} workers, SQLite)" if peer_version else "not run"
    )
    quiet = all(
        r.other_pct <= BUSY_PCT for results in (lathe, peer) if results for r in results.values()
    )
    return "\n".join(
        [
            f"- Load: `wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency`, "
            f"{args.warmup}s warm-up, then the median of {args.repeats} runs.",
            f"- Lathe: {lathe_name}. Peer: {peer_name}.",
            "- health check: Lathe `GET /healthz`; MLflow `GET /health`.",
            f"- list: Lathe `GET /api/v2/projects?page_size={args.page_size}` with an API key "
            f"(`Authorization: Bearer`); MLflow `GET /api/2.0/mlflow/experiments/search"
            f"?max_results={args.page_size}` with no credentials (MLflow checks none by default). "
            f"Each side holds {args.items} projects / experiments.",
            "- ratio: Lathe/MLflow for requests/s, MLflow/Lathe for latency: above 1 means Lathe "
            "is better.",
            "- Other processes' CPU during the timed runs, worst run: "
            f"Lathe side {background(lathe)}, "
            f"MLflow side {background(peer)}"
            + ("." if quiet else " — **the machine was busy; rerun on a quiet one.**"),
        ]
    )


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=int(os.environ.get("BENCH_REPEATS", 3)),
        help="timed runs per figure (median taken); default 3",
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds per timed wrk run; default 10"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of untimed wrk before the runs; default 3"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads; default 2")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections; default 64")
    parser.add_argument(
        "--items", type=int, default=20, help="projects / experiments created first; default 20"
    )
    parser.add_argument(
        "--page-size", type=int, default=10, help="items asked per list request; default 10"
    )
    parser.add_argument(
        "--only",
        choices=("lathe", "mlflow"),
        help="measure one side; the other's cells read 'pending'",
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
        "--mlflow", default=str(DEFAULT_MLFLOW), help=f"the mlflow CLI; default {DEFAULT_MLFLOW}"
    )
    parser.add_argument(
        "--mlflow-workers", type=int, default=2, help="MLflow server worker processes; default 2"
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=120,
        help="seconds a server may take to start; default 120",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="before each timed run, wait up to this many seconds for the machine to be idle "
        "(other work under 10%% of a core); default 0, don't wait",
    )
    parser.add_argument(
        "--busy-retries",
        type=int,
        default=0,
        help="per figure, how many extra runs to make when other work disturbed some; the median "
        "is taken over the --repeats least disturbed runs; default 0",
    )
    args = parser.parse_args()
    for name in (
        "repeats",
        "duration",
        "threads",
        "connections",
        "items",
        "page_size",
        "mlflow_workers",
    ):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.settle < 0 or args.busy_retries < 0:
        parser.error("--warmup, --settle and --busy-retries must be 0 or more")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


def main():
    args = parse_args()
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed; run bench/setup.sh (or apt-get install wrk)")

    cleanup = Cleanup()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        lathe = peer = None
        lathe_ver = peer_ver = ""
        # One server at a time: wrk and the server share the same cores.
        if args.only != "mlflow":
            lathe, lathe_ver = bench_lathe(args, cleanup)
        if args.only != "lathe":
            peer, peer_ver = bench_mlflow(args, cleanup)
    finally:
        cleanup.close()

    if lathe and not lathe_ver:
        lathe_ver = f"`{args.lathe}`"
    print(preamble(args, lathe_ver, peer_ver, lathe, peer))
    print()
    print(table(lathe, peer))


if __name__ == "__main__":
    try:
        main()
    except BenchError as err:
        print(f"http_bench: {err}", file=sys.stderr)
        sys.exit(1)
