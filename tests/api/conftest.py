"""Fixtures for the API tests: a real `lathe server` on port 0, an HTTP client and data helpers."""

import http.client
import itertools
import json
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"Lathe is ready at (http://\S+)")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
ADMIN_USER = "admin"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

# The shared server must not rate-limit the many logins the suite makes from 127.0.0.1; the
# rate-limit tests start servers of their own with small limits.
RELAXED_LOGIN_LIMITS = ("--login-rate-per-user", "100000", "--login-rate-per-address", "1000000")


def lathe_binary():
    path = Path(os.environ.get("LATHE_BIN") or REPO_ROOT / "build" / "lathe")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"lathe binary not found at {path}: run `make build` or set LATHE_BIN")
    return path


_counter = itertools.count(1)


def unique(prefix="t"):
    """A fresh lowercase name valid as a username, team, project or file name."""
    return f"{prefix}{next(_counter)}-{secrets.token_hex(3)}"


def parse_time(text):
    """Parses the API's RFC 3339 UTC timestamps ("2026-11-24T07:00:00Z")."""
    assert isinstance(text, str) and text.endswith("Z"), f"not an RFC 3339 UTC time: {text!r}"
    return datetime.fromisoformat(text[:-1] + "+00:00")


# ----------------------------------------------------------------------------------------------
# HTTP client


class Reply:
    """One answer: unpacks as (status, headers, body); body is parsed JSON or raw bytes."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = raw
        if raw and "json" in (headers.get("Content-Type") or ""):
            try:
                self.body = json.loads(raw)
            except ValueError:
                pass

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    @property
    def error_code(self):
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    def __repr__(self):
        return f"<Reply {self.status} {self.raw[:300]!r}>"


class Client:
    """A tiny HTTP client for the API: an optional API key, a cookie jar and the CSRF token."""

    def __init__(self, base_url, api_key=None, cookies=None, timeout=60.0):
        parts = urllib.parse.urlsplit(base_url)
        self.base_url = base_url
        self.host = parts.hostname
        self.port = parts.port
        self.api_key = api_key
        self.cookies = dict(cookies or {})
        self.csrf_token = None
        self.timeout = timeout
        self.last_set_cookies = []

    def connection(self, timeout=None):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)

    def auth_headers(self, method="GET", csrf=True):
        headers = {}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if csrf and self.csrf_token and method in STATE_CHANGING:
            headers["X-CSRF-Token"] = self.csrf_token
        return headers

    def request(self, method, path, body=None, *, params=None, headers=None, csrf=True, conn=None):
        """Sends one request. body: dict/list → JSON; str/bytes → raw; an iterable → streamed
        (chunked unless headers carry Content-Length). A header set to None is left out."""
        url = path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        hdrs = self.auth_headers(method, csrf)
        payload = None
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            payload = body.encode()
            hdrs["Content-Type"] = "application/json"
        elif body is not None:
            payload = body
            hdrs["Content-Type"] = "application/octet-stream"
        for name, value in (headers or {}).items():
            for existing in [k for k in hdrs if k.lower() == name.lower()]:
                del hdrs[existing]
            if value is not None:
                hdrs[name] = value
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.request(method, url, body=payload, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            if own:
                conn.close()
        self._remember_cookies(resp.headers.get_all("Set-Cookie") or [])
        return Reply(resp.status, resp.headers, raw)

    def _remember_cookies(self, set_cookies):
        if set_cookies:
            self.last_set_cookies = list(set_cookies)
        for line in set_cookies:
            first, *attrs = [p.strip() for p in line.split(";")]
            name, _, value = first.partition("=")
            attrs_l = [a.lower() for a in attrs]
            if not value or "max-age=0" in attrs_l:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, username, password):
        """Signs in with a browser session; on success keeps the cookie and the CSRF token."""
        reply = self.post("/api/v2/auth/login", {"username": username, "password": password})
        if reply.status == 200 and isinstance(reply.body, dict):
            self.csrf_token = reply.body.get("csrf_token")
        return reply


def assert_error(reply, status, code):
    """The documented error shape: {"error": {"code", "message"}} with a matching status."""
    assert reply.status == status, f"expected {status} {code}, got {reply!r}"
    body = reply.body
    assert isinstance(body, dict) and isinstance(
        body.get("error"), dict
    ), f"bad error body {reply!r}"
    assert body["error"].get("code") == code, f"expected code {code}, got {reply!r}"
    message = body["error"].get("message")
    assert isinstance(message, str) and message.strip(), f"error without a message: {reply!r}"


def assert_status(reply, *statuses):
    assert reply.status in statuses, f"expected {statuses}, got {reply!r}"
    return reply.body


def list_all(client, path, key, params=None):
    """Follows next_page_token through every page of a list endpoint."""
    items, token = [], None
    query = dict(params or {})
    query["page_size"] = 1000
    for _ in range(1000):
        if token:
            query["page_token"] = token
        reply = client.get(path, params=query)
        assert reply.status == 200, reply
        items.extend(reply.body[key])
        token = reply.body.get("next_page_token")
        if not token:
            return items
    raise AssertionError(f"{path}: pagination never ended")


# ----------------------------------------------------------------------------------------------
# Raw sockets, for what http.client refuses to send or cannot survive


def raw_exchange(host, port, head, body=b"", piece=8192, timeout=15.0):
    """Writes head then body in pieces, stopping early if the server answers first (a server may
    refuse a request before reading all of it), then reads one response.
    Returns (status, headers, body bytes) or None when the connection closed without an answer."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        data = head + body
        sent = 0
        while sent < len(data):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sent += sock.send(data[sent : sent + piece])
            except (BrokenPipeError, ConnectionResetError):
                break
        resp = http.client.HTTPResponse(sock, method="GET")
        try:
            resp.begin()
            raw = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        reply = Reply(resp.status, resp.headers, raw)
        return reply
    finally:
        sock.close()


# ----------------------------------------------------------------------------------------------
# The server


class LatheServer:
    """One `lathe server` process on 127.0.0.1, port 0, with its own data dir."""

    def __init__(self, data_dir, args=(), admin_password=None, env=None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.admin_user = ADMIN_USER
        self.admin_password = admin_password or "admin-" + secrets.token_urlsafe(12)
        self.extra_env = dict(env or {})
        self.proc = None
        self.url = None
        self.lines = []
        self._admin = None
        self._threads = []

    # -- process

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            LATHE_ADMIN_USER=self.admin_user,
            LATHE_ADMIN_PASSWORD=self.admin_password,
        )
        env.update(self.extra_env)
        cmd = [str(lathe_binary()), "server", "--data-dir", str(self.data_dir)]
        cmd += ["--host", "127.0.0.1", "--port", "0"]
        if "--access-log" not in self.args:
            cmd += ["--access-log", "off"]
        cmd += self.args
        self.lines = []
        self.url = None
        ready = threading.Event()
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )

        def drain(stream, watch):
            for line in stream:
                self.lines.append(line.rstrip("\n"))
                match = watch and READY_RE.search(line)
                if match and not ready.is_set():
                    self.url = match.group(1).rstrip("/")
                    ready.set()

        self._threads = [
            threading.Thread(target=drain, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=drain, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.wait(0.05):
            if self.proc.poll() is not None:
                self._join_drains()
                pytest.fail(
                    f"lathe exited with {self.proc.returncode} before ready:\n{self.output}"
                )
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"lathe not ready within {READY_TIMEOUT}s:\n{self.output}")
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port
        return self

    def _join_drains(self):
        for t in self._threads:
            t.join(timeout=5)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def output(self):
        return "\n".join(self.lines)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then waits; returns the exit code (None when it had to be killed)."""
        if not self.running:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self._join_drains()
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._join_drains()
        self._admin = None

    # -- clients and data

    def client(self, api_key=None):
        return Client(self.url, api_key=api_key)

    @property
    def admin(self):
        """A Client authenticated as the site admin with an API key (made on first use)."""
        if self._admin is None:
            self._admin = self.client(self.api_key(self.admin_user, self.admin_password))
        return self._admin

    def session(self, username, password):
        client = self.client()
        reply = client.login(username, password)
        assert reply.status == 200, f"login as {username}: {reply!r}"
        return client

    def create_key(self, username, password, **fields):
        """Logs in as the user and creates an API key; returns the 201 reply."""
        client = self.session(username, password)
        reply = client.post(f"/api/v2/users/{username}/keys", fields or {"name": "tests"})
        assert reply.status == 201, f"create key for {username}: {reply!r}"
        return reply

    def api_key(self, username, password, **fields):
        return self.create_key(username, password, **fields).body["key"]

    def add_user(self, prefix="u", is_admin=False, password=None, **fields):
        """Creates a user as the site admin without signing in as them: (username, password)."""
        username = unique(prefix)
        password = password or "pw-" + secrets.token_urlsafe(12)
        body = {"username": username, "password": password, **fields}
        if is_admin:
            body["is_admin"] = True
        reply = self.admin.post("/api/v2/users", body)
        assert reply.status == 201, f"create user {username}: {reply!r}"
        return username, password

    def create_user(self, prefix="u", is_admin=False, password=None, **fields):
        """Creates a user as the site admin; returns a User with an API-key client."""
        username, password = self.add_user(prefix, is_admin, password, **fields)
        key = self.api_key(username, password)
        return User(username, password, key, self.client(key))


class User:
    def __init__(self, username, password, key, client):
        self.username = username
        self.password = password
        self.key = key
        self.client = client

    def __repr__(self):
        return f"<User {self.username}>"


def create_project(client, name=None, **fields):
    """Creates a project as the client; returns the project object."""
    body = {"name": name or unique("proj"), **fields}
    reply = client.post("/api/v2/projects", body)
    assert reply.status == 201, f"create project {body}: {reply!r}"
    return reply.body


def create_team(client, name=None, members=None):
    """Creates a team (the caller becomes its Admin) and adds {username: role} members."""
    name = name or unique("team")
    reply = client.post("/api/v2/teams", {"name": name})
    assert reply.status == 201, f"create team {name}: {reply!r}"
    for username, role in (members or {}).items():
        reply = client.put(f"/api/v2/teams/{name}/members/{username}", {"role": role})
        assert reply.status in (200, 201), f"add {username} to {name}: {reply!r}"
    return name


def start_server(data_dir, *args, **kw):
    return LatheServer(data_dir, args, **kw).start()


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def lathe(tmp_path_factory):
    """The shared server for tests that don't need one of their own."""
    server = start_server(tmp_path_factory.mktemp("lathe-data"), *RELAXED_LOGIN_LIMITS)
    yield server
    code = server.stop()
    assert code == 0, f"shared lathe server did not exit cleanly ({code}):\n{server.output}"


@pytest.fixture(scope="session")
def admin(lathe):
    return lathe.admin


@pytest.fixture
def lathe_factory(tmp_path):
    """Starts dedicated servers: factory(*flags, data_dir=None, **kw). Stopped (and checked for a
    clean exit) at the end of the test unless the test already stopped or killed them."""
    servers = []

    def factory(*args, data_dir=None, relaxed_logins=True, **kw):
        data_dir = data_dir or tmp_path / f"data{len(servers)}"
        flags = tuple(args)
        if relaxed_logins:
            relaxed = RELAXED_LOGIN_LIMITS
            pairs = [relaxed[i : i + 2] for i in range(0, len(relaxed), 2)]
            flags = tuple(x for flag, v in pairs if flag not in args for x in (flag, v)) + flags
        server = start_server(data_dir, *flags, **kw)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        if server.running:
            code = server.stop()
            assert code == 0, f"lathe did not exit cleanly ({code}):\n{server.output}"


@pytest.fixture
def user(lathe):
    """A fresh non-admin user with an API key."""
    return lathe.create_user("user")


@pytest.fixture
def project(user):
    return create_project(user.client, visibility="private")
