#!/usr/bin/python3
"""Trigger-to-first-line latency of a Lathe job run, against a plain fork/exec of the same Python.

Lathe: a job whose script is `print("hi")`; each sample sends POST .../jobs/{id}/runs and times
until the run's log, polled every --poll-ms on a keep-alive connection, first answers non-empty
(the sandbox started, the kernel printed, the runner shipped the line to the server). Each run is
waited for before the next. The floor: /usr/bin/python3 -c 'print("hi")' started from this script
with a pipe, timed to its first line.

Standard library only, so it runs with Debian's /usr/bin/python3. Progress goes to stderr; stdout
gets one markdown table (figure | Lathe | floor | ratio) to paste into bench/RESULTS.md.
"""

import argparse
import base64
import http.client
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
# Server start-up, clean-up and load-watching helpers are shared with the HTTP benchmark.
sys.path.insert(0, str(REPO_DIR / "bench"))
from http_bench import (  # noqa: E402
    ADMIN_USER,
    BUSY_PCT,
    CLK_TCK,
    READY_RE,
    BenchError,
    Cleanup,
    expect,
    lathe_version,
    log,
    tail,
    wait_until,
)

DEFAULT_LATHE = REPO_DIR / "build" / "lathe"
PYTHON = "/usr/bin/python3"
SCRIPT = 'print("hi")\n'
FINAL = ("succeeded", "failed", "timedout", "stopped")
TARGET_P50_MS = 100.0
# More unattributed CPU than this (% of one core) cannot be our sandboxes alone (one at a time,
# about half a core on the machine this was written on): then it counts as other work.
MAX_SANDBOX_PCT = 100.0


# ---------------------------------------------------------------- processes and temp dirs
# (as in ../http_bench.py; copied rather than imported so that this script does not break when
# that one changes)


# ---------------------------------------------------------------- other load on the machine


def _busy_ticks():
    """user + nice + system ticks summed over all CPUs, from /proc/stat: the same kinds of time as
    a process's utime + stime, so the two can be subtracted."""
    user, nice, system = (int(x) for x in Path("/proc/stat").read_text().split()[1:4])
    return user + nice + system


def _ticks(pgid):
    """(ours, unattributed) CPU ticks. Ours: this process and process group pgid, reaped children's
    included. Unattributed: the kernel's own threads, and the processes init (pid 1) reaped."""
    ours = unattributed = 0
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 of proc(5)
        pid, ppid, group = int(entry.name), int(fields[1]), int(fields[2])
        if group == pgid or pid == me:
            ours += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif pid == 2 or ppid == 2:
            unattributed += int(fields[11]) + int(fields[12])
        elif pid == 1:
            unattributed += int(fields[13]) + int(fields[14])
    return ours, unattributed


class CpuMeter:
    """Where the machine's CPU went besides this script, its children and the server's process
    group (sandboxes included: the server reaps them).

    Two kinds of time cannot be told apart from other work, so they are counted apart, shown, and
    do not make a series suspect: kernel threads (they tear down a sandbox's namespaces), and the
    processes init reaps (bwrap's namespace init outlives bwrap, so init reaps it, and the time of
    the runner and kernel it reaped goes with it: most of a sandbox's CPU).
    """

    def __init__(self, pgid):
        self.pgid = pgid
        self.start = time.monotonic()
        self.busy = _busy_ticks()
        self.ours, self.unattributed = _ticks(pgid)

    def stop(self):
        """(other processes, unattributed), in % of one core."""
        ticks = (time.monotonic() - self.start) * CLK_TCK
        ours, unattributed = _ticks(self.pgid)
        unattributed -= self.unattributed
        other = (_busy_ticks() - self.busy) - (ours - self.ours) - unattributed
        return max(0.0, 100.0 * other / ticks), max(0.0, 100.0 * unattributed / ticks)


def drain_orphans(timeout=3.0):
    """Waits, at most timeout seconds, until init has reaped the bwrap processes left to it (see
    CpuMeter), so that a chunk's sandboxes are counted in that chunk, not in the next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if (
                fields[0] == "Z"
                and fields[1] == "1"
                and text[text.index("(") + 1 :].startswith("bwrap)")
            ):
                waiting = True
                break
        if not waiting:
            return
        time.sleep(0.02)


def wait_for_quiet(timeout):
    """Waits, at most timeout seconds, until the machine is close to idle."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        start, busy = time.monotonic(), _busy_ticks()
        time.sleep(2.0)
        pct = 100.0 * (_busy_ticks() - busy) / ((time.monotonic() - start) * CLK_TCK)
        if pct <= BUSY_PCT:
            return
        if time.monotonic() >= deadline:
            log(
                f"  the machine is still busy ({pct:.0f}% of a core) after {timeout:.0f}s; going on"
            )
            return
        if not said:
            log(f"  waiting up to {timeout:.0f}s for other work to finish ({pct:.0f}% of a core)")
            said = True


@dataclass
class Series:
    """One side's samples, in milliseconds."""

    first_line: list = field(default_factory=list)  # trigger -> "hi" visible
    answered: list = field(default_factory=list)  # trigger -> POST answered (Lathe only)
    finished: list = field(default_factory=list)  # trigger -> the run / process has ended
    # Other processes' CPU and unattributed CPU (see CpuMeter) during the timed samples, % of one
    # core; the busiest chunk's.
    other_pct: float = 0.0
    unattributed_pct: float = 0.0
    discarded: int = 0  # chunks measured again because other work disturbed them


def percentile(values, pct):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]


def summary(values):
    if not values:
        return None
    return {
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


# ---------------------------------------------------------------- Lathe


class Api:
    """A keep-alive connection to the server with an API key; reconnects if the server closes it."""

    def __init__(self, base, timeout, key=None):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers, raw bytes). body: a dict is sent as JSON, bytes as they are."""
        headers = {**self.headers, **(headers or {})}
        payload = None
        if isinstance(body, dict):
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif body is not None:
            payload = body
            headers["Content-Type"] = "application/octet-stream"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or method != "GET":
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, response.headers, raw
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, headers=None):
        status, _, parsed = self.json_with_headers(method, path, body, headers)
        return status, parsed

    def json_with_headers(self, method, path, body=None, headers=None):
        status, response_headers, raw = self.request(method, path, body, headers)
        try:
            return status, response_headers, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return status, response_headers, raw.decode(errors="replace")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def ws_first_frame(host, port, path, key, timeout):
    """Opens a WebSocket to `path`; returns (monotonic time of the first data frame, its text)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        nonce = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {key}\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise BenchError("the log WebSocket closed during the handshake")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise BenchError(f"the log WebSocket was refused: {head[:200]!r}")

        def need(n):
            nonlocal buf
            while len(buf) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    raise BenchError("the log WebSocket closed before any output")
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        while True:
            b0, b1 = need(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", need(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", need(8))[0]
            payload = need(length)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise BenchError("the log WebSocket closed before any output")
            if opcode in (0, 1, 2) and payload:
                return time.monotonic(), payload.decode(errors="replace")


def start_lathe(args, cleanup):
    binary = Path(args.lathe)
    if not os.access(binary, os.X_OK):
        raise BenchError(f"no Lathe server at {binary}; build it with `make build` or pass --lathe")
    work = cleanup.mkdtemp("lathe-first-line-")
    data_dir = work / "data"
    data_dir.mkdir()
    log_path = work / "lathe.log"
    password = "bench-" + os.urandom(12).hex()
    env = dict(os.environ, LATHE_ADMIN_USER=ADMIN_USER, LATHE_ADMIN_PASSWORD=password)
    argv = [str(binary), "server", "--data-dir", str(data_dir), "--host", "127.0.0.1"]
    argv += ["--port", "0", "--access-log", "off", *args.lathe_arg]
    log(f"starting {' '.join(argv)}")
    proc = cleanup.spawn(argv, log_path, env=env, cwd=work)

    def ready():
        match = READY_RE.search(log_path.read_text(errors="replace"))
        return match.group(1) if match else None

    base = wait_until(ready, args.start_timeout, "Lathe start", proc, log_path, interval=0.1)
    anonymous = Api(base, timeout=10.0)

    def healthy():
        try:
            return anonymous.request("GET", "/healthz")[0] == 200
        except OSError:
            anonymous.close()
            return False

    wait_until(healthy, 30, "Lathe /healthz", proc, log_path, interval=0.1)
    log(f"Lathe is up at {base}")

    status, headers, payload = anonymous.json_with_headers(
        "POST", "/api/v2/auth/login", {"username": ADMIN_USER, "password": password}
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
    status, payload = anonymous.json(
        "POST",
        f"/api/v2/users/{ADMIN_USER}/keys",
        {"name": "bench"},
        {"Cookie": cookie, "X-CSRF-Token": payload["csrf_token"]},
    )
    anonymous.close()
    expect(status, payload, {200, 201}, "Lathe key create")
    key = payload.get("key") if isinstance(payload, dict) else None
    if not key:
        raise BenchError(f"Lathe key create answered without a key: {payload}")
    return proc, base, key, log_path


def bench_lathe(args, cleanup):
    proc, base, key, log_path = start_lathe(args, cleanup)
    api = Api(base, timeout=args.run_timeout, key=key)
    try:
        status, project = api.json("POST", "/api/v2/projects", {"name": "first-line"})
        expect(status, project, {201}, "create project")
        project_path = f"/api/v2/projects/{project['id']}"
        status, _, raw = api.request("PUT", f"{project_path}/files/hi.py", SCRIPT.encode())
        expect(status, raw, {201}, "upload hi.py")
        status, job = api.json(
            "POST", f"{project_path}/jobs", {"name": "hi", "script": "hi.py", "kernel": "python3"}
        )
        expect(status, job, {201}, "create job")
        runs_path = f"{project_path}/jobs/{job['id']}/runs"
        how = "WebSocket" if args.watch == "ws" else f"polling every {args.poll_ms:g} ms"
        log(f"job {job['id']}: {job['cpu']} vCPU, {job['memory']} GiB; watching the log by {how}")

        def one_run():
            """(first line ms, POST answered ms, run final ms) of one run."""
            t0 = time.monotonic()
            status, run = api.json("POST", runs_path, {})
            answered = time.monotonic()
            expect(status, run, {201}, "start run")
            run_path = f"{runs_path}/{run['id']}"
            deadline = t0 + args.run_timeout
            if args.watch == "ws":
                first, text = ws_first_frame(
                    api.host, api.port, f"{run_path}/logs:follow", key, args.run_timeout
                )
            else:
                while True:
                    status, _, raw = api.request("GET", f"{run_path}/logs")
                    first = time.monotonic()
                    expect(status, raw, {200}, "read the run's log")
                    if raw:
                        text = raw.decode(errors="replace")
                        break
                    if first > deadline:
                        raise BenchError(
                            f"run {run['id']} printed nothing within {args.run_timeout:g} s"
                        )
                    time.sleep(args.poll_ms / 1000.0)
            # Then until the run is recorded as ended, polled less eagerly (a secondary figure).
            while True:
                status, state = api.json("GET", run_path)
                now = time.monotonic()
                expect(status, state, {200}, "read the run")
                if state["status"] in FINAL:
                    break
                if now > deadline:
                    raise BenchError(f"run {run['id']} did not end within {args.run_timeout:g} s")
                time.sleep(0.002)
            if state["status"] != "succeeded" or not text.startswith("hi"):
                status, _, raw = api.request("GET", f"{run_path}/logs")
                raise BenchError(
                    f"run {run['id']} ended {state['status']} ({state.get('reason')}); "
                    f"log: {raw[:500]!r}"
                )
            return (first - t0) * 1000, (answered - t0) * 1000, (now - t0) * 1000

        return sample("Lathe", args, one_run, proc.pid, True), lathe_version(args.lathe)
    except Exception:
        log(f"the server's log ends with:\n{tail(log_path)}")
        raise
    finally:
        api.close()
        cleanup.stop(proc)


# ---------------------------------------------------------------- the floor


def bench_floor(args):
    argv = [PYTHON, "-c", SCRIPT.strip()]
    log(f"floor: {' '.join(argv)} with a pipe")

    def one_run():
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        deadline = t0 + args.run_timeout
        output, first = b"", None
        try:
            fd = proc.stdout.fileno()
            while True:  # to the end of the output, noting when the first line is complete
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise BenchError(f"{' '.join(argv)} did not end within {args.run_timeout:g} s")
                chunk = os.read(fd, 65536)
                if first is None and b"\n" in output + chunk:
                    first = time.monotonic()
                if not chunk:
                    break
                output += chunk
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            ended = time.monotonic()
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"{' '.join(argv)} did not end within {args.run_timeout:g} s"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if output != b"hi\n" or code != 0:
            raise BenchError(f"{' '.join(argv)} printed {output[:200]!r} and exited {code}")
        return (first - t0) * 1000, None, (ended - t0) * 1000

    return sample("floor", args, one_run, os.getpid(), False)


# ---------------------------------------------------------------- the timed series


def sample(name, args, one_run, pgid, sandboxes):
    """Warm-up, then args.runs timed runs in chunks of args.chunk. A chunk during which other
    processes used more than BUSY_PCT of a core is redone (at most args.busy_retries times).
    Without sandboxes of ours, unattributed CPU (see CpuMeter) is other work too."""
    for _ in range(args.warmup):
        one_run()
    log(f"{name}: {args.warmup} warm-up runs done; timing {args.runs}")
    series = Series()
    retries = args.busy_retries
    while len(series.first_line) < args.runs:
        if args.settle > 0:
            wait_for_quiet(args.settle)
        chunk = Series()
        if sandboxes:
            drain_orphans()
        meter = CpuMeter(pgid)
        for _ in range(min(args.chunk, args.runs - len(series.first_line))):
            first, answered, finished = one_run()
            chunk.first_line.append(first)
            if answered is not None:
                chunk.answered.append(answered)
            chunk.finished.append(finished)
        if sandboxes:
            drain_orphans()
        other, unattributed = meter.stop()
        # Without sandboxes of ours, or more than ours could use, unattributed CPU is other work.
        if not sandboxes or unattributed > MAX_SANDBOX_PCT:
            other, unattributed = other + unattributed, 0.0
        log(
            f"{name}: {len(series.first_line) + len(chunk.first_line)}/{args.runs}: chunk's first "
            f"line p50 {statistics.median(chunk.first_line):.1f} ms (other processes {other:.0f}% "
            f"of a core, unattributed {unattributed:.0f}%)"
        )
        if other > BUSY_PCT:
            log("  warning: the machine was busy with other work during this chunk")
            if retries > 0:
                retries -= 1
                series.discarded += 1
                log(f"  discarded; measuring it again ({retries} more retries)")
                continue
        series.first_line += chunk.first_line
        series.answered += chunk.answered
        series.finished += chunk.finished
        series.other_pct = max(series.other_pct, other)
        series.unattributed_pct = max(series.unattributed_pct, unattributed)
    return series


# ---------------------------------------------------------------- report


def fmt_ms(value):
    if value is None:
        return "—"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def fmt_ratio(lathe, floor):
    if lathe is None or floor is None or floor == 0:
        return "—"
    return f"{lathe / floor:.1f}×"


def table(lathe, floor):
    lines = ["| figure | Lathe | floor | ratio |", "|---|---:|---:|---:|"]
    rows = [("trigger → first line", "first_line"), ("trigger → run ended", "finished")]
    for label, attr in rows:
        a = summary(getattr(lathe, attr))
        b = summary(getattr(floor, attr))
        for stat in ("p50", "p95", "mean"):
            lines.append(
                f"| {label}: {stat} | {fmt_ms(a[stat])} | {fmt_ms(b[stat])} | "
                f"{fmt_ratio(a[stat], b[stat])} |"
            )
    a = summary(lathe.answered)
    lines.append(f"| POST …/runs answered: p50 | {fmt_ms(a['p50'])} | — | — |")
    return "\n".join(lines)


def preamble(args, version, lathe, floor):
    p50 = statistics.median(lathe.first_line)
    if args.watch == "ws":
        watch = (
            "the run's `…/logs:follow` WebSocket, opened as soon as the POST answers, until its "
            "first frame"
        )
    else:
        watch = (
            f"`GET …/runs/{{run}}/logs` every {args.poll_ms:g} ms on the same keep-alive "
            "connection, until the answer is non-empty"
        )
    quiet = max(lathe.other_pct, floor.other_pct) <= BUSY_PCT
    return "\n".join(
        [
            f"- Lathe: {version or args.lathe}; a job running `hi.py` = `{SCRIPT.strip()}` "
            "(python3 kernel, the default 1 vCPU / 2 GiB) in a bubblewrap sandbox as uid 8536.",
            f"- Each sample: `POST …/jobs/{{id}}/runs` sent → {watch}; then the run is waited for "
            "(run ended: its status is final, polled every 2 ms) before the next.",
            f"- Floor: `{PYTHON} -c '{SCRIPT.strip()}'` started with `subprocess.Popen` and a "
            "pipe, timed to its first line (run ended: the process reaped).",
            f"- {args.warmup} warm-up runs, then {args.runs} timed runs per side in chunks of "
            f"{args.chunk}, on one fresh server; p50, p95 (nearest rank) and mean of the samples.",
            "- ratio: Lathe ÷ floor, the sandboxed run's latency in multiples of a bare fork/exec.",
            f"- Target: p50 ≤ {TARGET_P50_MS:.0f} ms including the sandbox — "
            + (
                f"**met** ({p50:.1f} ms)."
                if p50 <= TARGET_P50_MS
                else f"**not met** ({p50:.1f} ms)."
            ),
            f"- Other processes' CPU during the timed runs, busiest chunk: Lathe side "
            f"{lathe.other_pct:.0f}% of a core, floor side {floor.other_pct:.0f}% (plus, on the "
            f"Lathe side, {lathe.unattributed_pct:.0f}% that cannot be told from the sandboxes' "
            "own: kernel threads, processes init reaped); chunks discarded as disturbed: "
            f"{lathe.discarded} and {floor.discarded}"
            + ("." if quiet else " — **the machine was busy; rerun on a quiet one.**"),
        ]
    )


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="timed runs per side; default 200")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first; default 10")
    parser.add_argument(
        "--watch",
        choices=("poll", "ws"),
        default="poll",
        help="how the first line is seen: poll GET …/logs (default) or the logs:follow WebSocket",
    )
    parser.add_argument(
        "--poll-ms", type=float, default=1.0, help="log polling interval; default 1 ms"
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=30.0,
        help="seconds one run may take to print and end; default 30",
    )
    parser.add_argument(
        "--lathe", default=str(DEFAULT_LATHE), help=f"the Lathe binary; default {DEFAULT_LATHE}"
    )
    parser.add_argument(
        "--lathe-arg", action="append", default=[], help="extra argument for `lathe server`"
    )
    parser.add_argument(
        "--start-timeout", type=float, default=60, help="seconds the server may take to start"
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=50,
        help="timed runs per chunk; the machine's load is checked per chunk; default 50",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="before each chunk, wait up to this many seconds for the machine to be idle (under "
        "10%% of a core); default 0, don't wait",
    )
    parser.add_argument(
        "--busy-retries",
        type=int,
        default=0,
        help="per side, how many chunks disturbed by other work may be discarded and redone; "
        "default 0",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.chunk < 1 or args.run_timeout <= 0:
        parser.error("--runs and --chunk must be at least 1, --run-timeout above 0")
    if args.warmup < 0 or args.poll_ms < 0 or args.settle < 0 or args.busy_retries < 0:
        parser.error("--warmup, --poll-ms, --settle and --busy-retries must be 0 or more")
    return args


def main():
    args = parse_args()
    cleanup = Cleanup()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        lathe, version = bench_lathe(args, cleanup)
        floor = bench_floor(args)
    finally:
        cleanup.close()
    print(preamble(args, version, lathe, floor))
    print()
    print(table(lathe, floor))


if __name__ == "__main__":
    try:
        main()
    except (BenchError, OSError) as err:  # OSError: the server stopped answering, or timed out
        print(f"first_line: {err}", file=sys.stderr)
        sys.exit(1)
