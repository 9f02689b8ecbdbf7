"""Fixtures for the model worker tests: a fake serving listener speaking src/serving/PROTOCOL.md
on a port-0 socket, and the real worker (runtime/python/lathe_worker.py) as a subprocess."""

import json
import os
import queue
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = REPO_ROOT / "runtime" / "python" / "lathe_worker.py"
SDK = REPO_ROOT / "sdk" / "python"
PYTHON = "/usr/bin/python3"
TIMEOUT = 10.0

HELLO, WELCOME, REFUSED, CALL, BATCH, RESULT, ERROR, PING, PONG = range(1, 10)
HEADER = struct.Struct(">IBI")


def frame(frame_type, frame_id=0, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return HEADER.pack(len(payload) + 5, frame_type, frame_id) + payload


class Answer:
    """One frame from the worker, with RESULT and ERROR payloads unpacked."""

    def __init__(self, frame_type, frame_id, payload):
        self.type, self.id, self.payload = frame_type, frame_id, payload
        self.fn_ns = self.meta = self.body = self.error = None
        if frame_type == RESULT:
            self.fn_ns, meta_len = struct.unpack_from(">QI", payload)
            self.meta = json.loads(payload[12 : 12 + meta_len]) if meta_len else None
            self.body = json.loads(payload[12 + meta_len :])
        elif frame_type == ERROR:
            (self.fn_ns,) = struct.unpack_from(">Q", payload)
            self.error = json.loads(payload[8:])

    def __repr__(self):
        return f"Answer(type={self.type}, id={self.id}, body={self.body!r}, error={self.error!r})"


class Output:
    """Collects a pipe's lines on a thread, so tests can wait for a line while the process runs."""

    def __init__(self, pipe):
        self.lines = queue.Queue()
        self.seen = []
        self.thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self.thread.start()

    def _pump(self, pipe):
        for line in iter(pipe.readline, ""):
            self.lines.put(line)
        pipe.close()

    def text(self):
        self.thread.join(TIMEOUT)
        self._drain()
        return "".join(self.seen)

    def _drain(self):
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return

    def wait_for(self, needle, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; output so far: {''.join(self.seen)!r}")
            try:
                self.seen.append(self.lines.get(timeout=left))
            except queue.Empty:
                pass


class Worker:
    """A worker process and, once it said HELLO, the server's end of its connection."""

    def __init__(self, process, listener):
        self.process = process
        self.listener = listener
        self.stdout = Output(process.stdout)
        self.stderr = Output(process.stderr)
        self.conn = None
        self.hello = None
        self._buffer = b""

    # -- the connection, as the server sees it

    def accept(self):
        self.listener.settimeout(TIMEOUT)
        try:
            self.conn, _ = self.listener.accept()
        except socket.timeout:
            raise AssertionError(
                f"the worker did not connect; stderr: {self.stderr.text()!r}"
            ) from None
        self.conn.settimeout(TIMEOUT)
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = self.recv()
        assert hello.type == HELLO
        self.hello = json.loads(hello.payload)
        return self.hello

    def send(self, data):
        self.conn.sendall(data)

    def call(self, request, call_id=1):
        """One CALL, and its answer."""
        self.send(frame(CALL, call_id, json.dumps(request)))
        answer = self.recv()
        assert answer.id == call_id
        return answer

    def recv(self):
        while True:
            if len(self._buffer) >= 9:
                length, frame_type, frame_id = HEADER.unpack_from(self._buffer)
                if len(self._buffer) >= length + 4:
                    payload = self._buffer[9 : length + 4]
                    self._buffer = self._buffer[length + 4 :]
                    return Answer(frame_type, frame_id, payload)
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                raise AssertionError(f"connection closed; stderr: {self.stderr.text()!r}")
            self._buffer += chunk

    # -- the process

    def wait(self, timeout=TIMEOUT):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the worker did not exit") from None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def write_files(home, files):
    for name, text in files.items():
        path = Path(home) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def worker_env(home, extra=None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LATHE_HOME": str(home),
        "PYTHONPATH": str(SDK),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the repository's sdk/
    }
    env.update(extra or {})
    return env


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def start_worker(home):
    """start_worker(files, function="predict", file="predict.py", env=None, connect=True):
    writes the files into a temp home, starts `lathe_worker.py serve` against a fresh listener
    and, with connect=True, accepts the connection and answers HELLO with WELCOME."""
    started = []

    def start(files, function="predict", file="predict.py", env=None, connect=True):
        write_files(home, files)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        extra = {
            "LATHE_SERVING_ADDR": "127.0.0.1:%d" % listener.getsockname()[1],
            "LATHE_REPLICA_TOKEN": "secret-token",
            "LATHE_MODEL_FILE": file,
            "LATHE_MODEL_FUNCTION": function,
            "LATHE_MAX_BATCH_SIZE": "8",
        }
        extra.update(env or {})
        process = subprocess.Popen(
            [PYTHON, str(WORKER), "serve"],
            cwd="/",
            env=worker_env(home, extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        worker = Worker(process, listener)
        started.append(worker)
        if connect:
            worker.accept()
            worker.send(frame(WELCOME, 0, json.dumps({"replica_id": "r-1"})))
        return worker

    yield start
    for worker in started:
        worker.close()
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
        worker.listener.close()


@pytest.fixture
def run_build(home):
    """run_build(files, function="predict", file="predict.py", env=None) -> CompletedProcess
    of `lathe_worker.py build` in a temp home (stdout and stderr merged, as in a build log)."""

    def run(files, function="predict", file="predict.py", env=None):
        write_files(home, files)
        extra = {"LATHE_MODEL_FILE": file, "LATHE_MODEL_FUNCTION": function}
        extra.update(env or {})
        return subprocess.run(
            [PYTHON, str(WORKER), "build"],
            cwd=home,
            env=worker_env(home, extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )

    return run


def pytest_report_header(config):
    return f"worker: {WORKER} (python {PYTHON}, test runner {sys.executable})"
