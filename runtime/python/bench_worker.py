"""Benchmark of the model worker: calls/s through the replica protocol vs. calling the function.

    /usr/bin/python3 runtime/python/bench_worker.py [--seconds 1] [--window 64] [--repeat 5]

An in-process fake server keeps two windows of `--window` CALL frames in flight against real
`lathe_worker.py serve` subprocesses (an echo model), and compares with a tight Python loop calling
the same function directly, with and without JSON decode/encode. Prints one table: each figure,
the peer it is compared with, and the ratio (median of `--repeat` timed runs after a warm-up).
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "lathe_worker.py")
SDK = os.path.join(os.path.dirname(os.path.dirname(HERE)), "sdk", "python")
HEADER = struct.Struct(">IBI")
CALL, WELCOME = 4, 2
REQUESTS = {
    "small": {"x": 1, "features": [0.5, 1.5, 2.5]},
    "1 KiB": {"text": "lorem ipsum " * 80, "ids": list(range(20))},
}
ECHO = "def predict(args):\n    return args\n"


def start_worker(home):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    env = {
        "PATH": "/usr/bin:/bin",
        "LATHE_HOME": home,
        "LATHE_SERVING_ADDR": "127.0.0.1:%d" % listener.getsockname()[1],
        "LATHE_REPLICA_TOKEN": "bench",
        "LATHE_MODEL_FILE": "predict.py",
        "LATHE_MODEL_FUNCTION": "predict",
        "PYTHONPATH": SDK,
    }
    process = subprocess.Popen(
        [sys.executable, WORKER, "serve"], env=env, stdout=subprocess.DEVNULL
    )
    listener.settimeout(10)
    conn, _ = listener.accept()
    listener.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.recv(65536)  # HELLO
    payload = json.dumps({"replica_id": "bench"}).encode()
    conn.sendall(HEADER.pack(len(payload) + 5, WELCOME, 0) + payload)
    return process, conn


def drive(conn, request, window, seconds):
    """Calls/s through one connection with two windows in flight: while the worker answers one
    window the next is already queued behind it, so the worker never waits for the driver."""
    payload = json.dumps(request).encode()
    blob = b"".join(HEADER.pack(len(payload) + 5, CALL, i + 1) + payload for i in range(window))
    unpack_length = struct.Struct(">I").unpack_from
    began = time.perf_counter()
    deadline = began + seconds
    conn.sendall(blob + blob)
    sent, answered, pending = 2 * window, 0, b""
    while answered < sent:
        data = pending + conn.recv(1 << 20)
        at, size = 0, len(data)
        while size - at >= 4:
            end = at + 4 + unpack_length(data, at)[0]
            if end > size:
                break
            at = end
            answered += 1
        pending = data[at:]
        while sent - answered <= window and time.perf_counter() < deadline:
            conn.sendall(blob)
            sent += window
    return answered / (time.perf_counter() - began)


def cpu_seconds(pid):
    """User + system CPU time of a live process, from /proc (clock ticks)."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_rate(request, window, seconds, repeat, home, result=None):
    """(calls/s, calls per CPU-second of the worker): medians over `repeat` runs. The second
    figure doesn't depend on what else the machine is doing."""
    process, conn = start_worker(home)
    try:
        drive(conn, request, window, 0.3)  # warm-up
        rates, per_cpu = [], []
        for _ in range(repeat):
            cpu = cpu_seconds(process.pid)
            began = time.perf_counter()
            rate = drive(conn, request, window, seconds)
            calls = rate * (time.perf_counter() - began)
            rates.append(rate)
            per_cpu.append(calls / max(cpu_seconds(process.pid) - cpu, 1e-3))
    finally:
        conn.close()
        process.wait(10)
    figures = statistics.median(rates), statistics.median(per_cpu)
    if result is not None:
        result.put(figures)
    return figures


def direct_rate(request, seconds, repeat, codec):
    """Calls/s of a tight loop calling the echo function; codec None, "json" (json.loads and
    json.dumps as a user would write them) or "worker" (the worker's own decoder and encoder)."""
    sys.path.insert(0, HERE)
    import lathe_worker

    namespace = {}
    exec(ECHO, namespace)
    fn = namespace["predict"]
    text = json.dumps(request).encode()
    dumps, loads = json.dumps, json.loads
    scan = json.JSONDecoder().scan_once
    encode = lathe_worker._make_encoder()
    rates = []
    for _ in range(repeat + 1):
        n = 0
        began = time.perf_counter()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            if codec is None:
                for _ in range(1000):
                    fn(request)
            elif codec == "json":
                for _ in range(1000):
                    dumps(fn(loads(text)), separators=(",", ":")).encode()
            else:
                for _ in range(1000):
                    "".join(encode(fn(scan(text.decode(), 0)[0]), 0)).encode()
            n += 1000
        rates.append(n / (time.perf_counter() - began))
    return statistics.median(rates[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    fork = multiprocessing.get_context("fork")

    rows = []
    with tempfile.TemporaryDirectory() as home:
        with open(os.path.join(home, "predict.py"), "w") as out:
            out.write(ECHO)
        for label, request in REQUESTS.items():
            bare = direct_rate(request, args.seconds, args.repeat, None)
            naive = direct_rate(request, args.seconds, args.repeat, "json")
            codec = direct_rate(request, args.seconds, args.repeat, "worker")
            one, one_cpu = worker_rate(request, args.window, args.seconds, args.repeat, home)
            results = fork.Queue()
            drivers = [
                fork.Process(
                    target=worker_rate,
                    args=(request, args.window, args.seconds, args.repeat, home, results),
                )
                for _ in range(2)
            ]
            for driver in drivers:
                driver.start()
            two = sum(results.get()[0] for _ in drivers)
            for driver in drivers:
                driver.join()
            name = "1 worker, %s" % label
            rows.append((name, one, "direct call, no JSON", bare))
            rows.append((name, one, "direct + json.loads/dumps", naive))
            rows.append((name, one, "direct + the worker's codec", codec))
            rows.append((name + " per CPU-s", one_cpu, "direct + the worker's codec", codec))
            rows.append(("2 workers, %s" % label, two, "1 worker", one))

    print(
        "model worker (echo), %d frames x2 in flight, %d CPUs, Python %s, load %.1f"
        % (args.window, os.cpu_count(), sys.version.split()[0], os.getloadavg()[0])
    )
    print("%-28s %10s   %-28s %10s %6s" % ("figure", "calls/s", "peer", "calls/s", "ratio"))
    for name, value, peer, peer_value in rows:
        print(
            "%-28s %10.0f   %-28s %10.0f %6.2f"
            % (name, value, peer, peer_value, value / peer_value)
        )


if __name__ == "__main__":
    main()
