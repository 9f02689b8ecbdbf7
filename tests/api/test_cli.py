"""End-to-end tests of the `lathe` command-line client against a real `lathe server` on port 0."""

import json
import os
import pty
import queue
import re
import secrets
import select
import signal
import socket
import stat
import subprocess
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LATHE_BIN = Path(os.environ.get("LATHE_BIN") or REPO_ROOT / "build" / "lathe")
READY_RE = re.compile(r"Lathe is ready at (http://\S+)")
ADMIN_PASSWORD = "cli-admin-" + secrets.token_hex(8)
READY_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    not (LATHE_BIN.is_file() and os.access(LATHE_BIN, os.X_OK)),
    reason=f"lathe binary not found at {LATHE_BIN}: run `make build` or set LATHE_BIN",
)


# ----------------------------------------------------------------------------------------------
# Helpers (kept here rather than in conftest.py, which is shared with other suites)


class CliServer:
    """A `lathe server` process with its own data directory, stopped with SIGTERM."""

    def __init__(self, data_dir):
        env = dict(os.environ, LATHE_ADMIN_USER="admin", LATHE_ADMIN_PASSWORD=ADMIN_PASSWORD)
        self.stderr_path = data_dir.parent / (data_dir.name + "-server.log")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [
                str(LATHE_BIN),
                "server",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--access-log",
                "off",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
        )
        lines = queue.Queue()

        def drain():
            # Keep reading after "ready", so a chatty server never blocks on a full pipe.
            for line in self.proc.stdout:
                lines.put(line.decode(errors="replace"))
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        self.url = None
        while self.url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                pytest.fail(f"lathe server not ready after {READY_TIMEOUT}s: {self.log()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                pytest.fail(f"lathe server exited before it was ready: {self.log()}")
            match = READY_RE.search(line)
            if match:
                self.url = match.group(1).rstrip("/")

    def log(self):
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def api(self, method, path, body=None, api_key=None):
        """A direct API call, for setting up what the CLI itself does not do (other users)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if api_key:
            request.add_header("Authorization", f"Bearer {api_key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None


class CliResult:
    def __init__(self, proc):
        self.code = proc.returncode
        self.raw = proc.stdout
        self.out = proc.stdout.decode(errors="replace")
        self.err = proc.stderr.decode(errors="replace")

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<exit {self.code} stdout={self.out[:500]!r} stderr={self.err[:500]!r}>"


def run_cli(config_dir, *args, stdin=None, env=None, cwd=None):
    """Runs `lathe ARGS...` with its own config dir and no terminal; stdin is bytes/str or none."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LATHE_")}
    clean["LATHE_CONFIG_DIR"] = str(config_dir)
    clean["HOME"] = str(config_dir)
    clean.update(env or {})
    if isinstance(stdin, str):
        stdin = stdin.encode()
    proc = subprocess.run(
        [str(LATHE_BIN), *[str(a) for a in args]],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=clean,
        cwd=cwd,
        timeout=CLI_TIMEOUT,
        # No controlling terminal: a prompt must fail fast, never hang the suite.
        start_new_session=True,
    )
    return CliResult(proc)


def run_cli_on_terminal(config_dir, *args, answers=()):
    """Runs the CLI on a pseudo-terminal, typing each answer once the output goes quiet.
    Returns (exit code, everything the terminal showed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATHE_")}
    env.update(LATHE_CONFIG_DIR=str(config_dir), HOME=str(config_dir), TERM="dumb")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(str(LATHE_BIN), [str(LATHE_BIN), *[str(a) for a in args]], env)
        finally:
            os._exit(127)
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + CLI_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.3)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            shown += data
        elif pending:
            os.write(fd, pending.pop(0).encode() + b"\n")
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def login(server, config_dir, username="admin", password=ADMIN_PASSWORD):
    return run_cli(
        config_dir,
        "login",
        server.url,
        "--username",
        username,
        "--password-stdin",
        stdin=password + "\n",
    )


def stored_config(config_dir):
    return json.loads((Path(config_dir) / "config.json").read_text())


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CliServer(tmp_path_factory.mktemp("cli-server-data"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_dir(server, tmp_path_factory):
    """A config dir logged in as admin, shared by the tests that only need a signed-in CLI."""
    config_dir = tmp_path_factory.mktemp("cli-admin")
    result = login(server, config_dir)
    assert result.code == 0, result
    return config_dir


def cli(admin_dir, *args, **kw):
    return run_cli(admin_dir, *args, **kw)


def create_project(admin_dir, name=None, *extra):
    result = cli(admin_dir, "project", "create", name or unique("proj"), *extra, "--json")
    assert result.code == 0, result
    return result.json()


# ----------------------------------------------------------------------------------------------
# login / logout


def test_login_with_password_stdin_stores_a_private_config(server, tmp_path):
    config_dir = tmp_path / "cfg"
    result = login(server, config_dir)
    assert result.code == 0, result
    assert result.out.strip() == f"Logged in to {server.url} as admin."

    path = config_dir / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    stored = stored_config(config_dir)
    assert stored["url"] == server.url
    assert stored["username"] == "admin"
    assert stored["api_key"].startswith("lathe_")
    assert ADMIN_PASSWORD not in path.read_text()
    # No temporary file is left next to it.
    assert sorted(p.name for p in config_dir.iterdir()) == ["config.json"]

    # The stored key works, and is named after this machine.
    keys = run_cli(config_dir, "key", "list", "--json")
    assert keys.code == 0, keys
    assert any(k["name"] == f"cli@{socket.gethostname()}" for k in keys.json()["keys"])


def test_login_with_a_wrong_password_exits_3_and_stores_nothing(server, tmp_path):
    result = login(server, tmp_path, password="not-the-password")
    assert result.code == 3, result
    assert result.err.startswith("error: ")
    assert not (tmp_path / "config.json").exists()


def test_login_with_api_key_stdin(server, admin_dir, tmp_path):
    created = cli(admin_dir, "key", "create", "--name", "for-login", "--json")
    assert created.code == 0, created
    key = created.json()["key"]

    result = run_cli(tmp_path, "login", server.url, "--api-key-stdin", stdin=key + "\n")
    assert result.code == 0, result
    assert result.out.strip() == f"Logged in to {server.url} as admin."
    assert stored_config(tmp_path) == {"url": server.url, "username": "admin", "api_key": key}

    bad = run_cli(tmp_path / "other", "login", server.url, "--api-key-stdin", stdin="lathe_nope\n")
    assert bad.code == 3, bad


def test_login_prompts_on_the_terminal_without_echo(server, tmp_path):
    code, shown = run_cli_on_terminal(
        tmp_path, "login", server.url, answers=["admin", ADMIN_PASSWORD]
    )
    assert code == 0, shown
    assert "Username:" in shown and "Password:" in shown
    assert ADMIN_PASSWORD not in shown
    assert stored_config(tmp_path)["username"] == "admin"


def test_logout_revokes_the_key_and_forgets_it(server, tmp_path):
    assert login(server, tmp_path).code == 0
    key = stored_config(tmp_path)["api_key"]
    env = {"LATHE_URL": server.url, "LATHE_API_KEY": key}
    assert run_cli(tmp_path / "env", "project", "list", env=env).code == 0

    result = run_cli(tmp_path, "logout")
    assert result.code == 0, result
    assert not (tmp_path / "config.json").exists()
    revoked = run_cli(tmp_path / "env", "project", "list", env=env)
    assert revoked.code == 3, revoked

    again = run_cli(tmp_path, "logout")
    assert again.code == 3, again


def test_commands_without_a_login_exit_3(server, tmp_path):
    result = run_cli(tmp_path, "project", "list")
    assert result.code == 3, result
    assert result.err.startswith("error: not logged in")
    # A stored key is never sent to another server than the one it was made for.
    result = run_cli(tmp_path, "project", "list", "--url", server.url)
    assert result.code == 3, result


# ----------------------------------------------------------------------------------------------
# projects


def list_all_projects(admin_dir):
    result = cli(admin_dir, "project", "list", "--all", "--json")
    assert result.code == 0, result
    return result.json()["projects"]


def test_project_create_list_show_delete(admin_dir):
    name = unique("churn")
    created = cli(admin_dir, "project", "create", name, "--description", "churn model")
    assert created.code == 0, created
    [project] = [p for p in list_all_projects(admin_dir) if p["name"] == name]
    assert project["description"] == "churn model"
    project_id = str(project["id"])

    table = cli(admin_dir, "project", "list", "--all")
    assert table.code == 0, table
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "NAME", "OWNER", "VISIBILITY", "ROLE", "UPDATED"]
    [row] = [r for r in rows if name in r.split()]
    assert row.split()[:5] == [project_id, name, "admin", "private", "Admin"]
    # Columns line up: every value starts under its header.
    assert row.index(name) == header.index("NAME")
    assert row.index("private") == header.index("VISIBILITY")

    shown = cli(admin_dir, "project", "show", project_id)
    assert shown.code == 0, shown
    assert name in shown.out and "churn model" in shown.out

    # No terminal and no --yes: refused as a usage error, and nothing is deleted.
    refused = cli(admin_dir, "project", "delete", project_id)
    assert refused.code == 2, refused
    assert cli(admin_dir, "project", "show", project_id).code == 0

    deleted = cli(admin_dir, "project", "delete", project_id, "--yes")
    assert deleted.code == 0, deleted
    gone = cli(admin_dir, "project", "show", project_id)
    assert gone.code == 4, gone
    assert gone.err.startswith("error: ")


def test_project_list_search(admin_dir):
    wanted = unique("needle")
    create_project(admin_dir, wanted)
    create_project(admin_dir, unique("hay"))
    found = cli(admin_dir, "project", "list", "--search", wanted.upper(), "--json")
    assert found.code == 0, found
    assert [p["name"] for p in found.json()["projects"]] == [wanted]


def test_project_delete_asks_on_a_terminal(admin_dir):
    project = create_project(admin_dir)
    pid = str(project["id"])
    code, shown = run_cli_on_terminal(admin_dir, "project", "delete", pid, answers=["n"])
    assert code != 0 and project["name"] in shown, shown
    assert cli(admin_dir, "project", "show", pid).code == 0
    code, shown = run_cli_on_terminal(admin_dir, "project", "delete", pid, answers=["y"])
    assert code == 0, shown
    assert cli(admin_dir, "project", "show", pid).code == 4


def test_project_create_options(admin_dir):
    project = create_project(admin_dir, None, "--visibility", "public", "--description", "d")
    assert project["visibility"] == "public" and project["description"] == "d"


def test_project_list_all_follows_pages(admin_dir):
    names = [unique("paged") for _ in range(3)]
    for name in names:
        create_project(admin_dir, name)
    first = cli(admin_dir, "project", "list", "--page-size", "1", "--json")
    assert first.code == 0, first
    assert len(first.json()["projects"]) == 1
    assert first.json()["next_page_token"]
    table = cli(admin_dir, "project", "list", "--page-size", "1")
    assert table.code == 0 and len(table.out.splitlines()) == 2, table
    assert "--all" in table.err

    every = cli(admin_dir, "project", "list", "--page-size", "1", "--all", "--json")
    assert every.code == 0, every
    ids = [p["id"] for p in every.json()["projects"]]
    assert len(ids) == len(set(ids)) == len(list_all_projects(admin_dir))
    assert set(names) <= {p["name"] for p in every.json()["projects"]}


def test_permission_denied_exits_5(server, admin_dir, tmp_path):
    admin_key = stored_config(admin_dir)["api_key"]
    username = unique("viewer")
    password = "pw-" + secrets.token_hex(8)
    server.api("POST", "/api/v2/users", {"username": username, "password": password}, admin_key)
    assert login(server, tmp_path, username, password).code == 0

    project = create_project(admin_dir, None, "--visibility", "public")
    result = run_cli(tmp_path, "project", "delete", project["id"], "--yes")
    assert result.code == 5, result
    assert result.err.startswith("error: ")
    private = create_project(admin_dir)
    assert run_cli(tmp_path, "project", "show", private["id"]).code == 4


# ----------------------------------------------------------------------------------------------
# files


def test_files_put_ls_get_round_trip_3_mib(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    data = os.urandom(3 * 1024 * 1024)
    local = tmp_path / "weights.bin"
    local.write_bytes(data)

    put = cli(admin_dir, "files", "put", project, local, "models/weights.bin")
    assert put.code == 0, put
    assert put.err == ""  # no progress line when stderr is not a terminal

    listed = cli(admin_dir, "files", "ls", project, "models", "--json")
    assert listed.code == 0, listed
    [entry] = listed.json()["files"]
    assert entry["name"] == "weights.bin" and entry["size"] == len(data)
    table = cli(admin_dir, "files", "ls", project)
    assert table.code == 0, table
    assert "models/" in table.out

    target = tmp_path / "copy.bin"
    got = cli(admin_dir, "files", "get", project, "models/weights.bin", target)
    assert got.code == 0, got
    assert target.read_bytes() == data

    # Into an existing local directory, under the remote name; and to stdout.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert cli(admin_dir, "files", "get", project, "models/weights.bin", out_dir).code == 0
    assert (out_dir / "weights.bin").read_bytes() == data
    piped = cli(admin_dir, "files", "get", project, "models/weights.bin", "-")
    assert piped.code == 0 and piped.raw == data


def test_files_progress_line_on_a_terminal_for_big_files(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    small = tmp_path / "small.bin"
    small.write_bytes(b"tiny")
    code, shown = run_cli_on_terminal(admin_dir, "files", "put", project, big)
    assert code == 0 and "Uploading big.bin" in shown and "100%" in shown, shown
    code, shown = run_cli_on_terminal(admin_dir, "files", "put", project, small)
    assert code == 0 and "Uploading" not in shown, shown
    code, shown = run_cli_on_terminal(admin_dir, "files", "get", project, "big.bin", tmp_path / "b")
    assert code == 0 and "Downloading big.bin" in shown, shown
    assert (tmp_path / "b").read_bytes() == big.read_bytes()


def test_files_put_into_a_remote_directory_keeps_the_name(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    local = tmp_path / "notes.txt"
    local.write_text("hello\n")
    assert cli(admin_dir, "files", "mkdir", project, "docs").code == 0
    assert cli(admin_dir, "files", "put", project, local, "docs").code == 0
    assert cli(admin_dir, "files", "put", project, local).code == 0
    shown = cli(admin_dir, "files", "ls", project, "docs/notes.txt", "--json")
    assert shown.code == 0, shown
    assert shown.json()["path"] == "docs/notes.txt"
    root = cli(admin_dir, "files", "ls", project, "--json").json()["files"]
    assert sorted(e["name"] for e in root) == ["docs", "notes.txt"]


def test_files_get_of_a_directory_is_a_tar(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    local = tmp_path / "train.csv"
    local.write_bytes(b"a,b\n1,2\n")
    assert cli(admin_dir, "files", "put", project, local, "data/train.csv").code == 0

    work = tmp_path / "work"
    work.mkdir()
    got = cli(admin_dir, "files", "get", project, "data", cwd=work)
    assert got.code == 0, got
    archive = work / "data.tar"
    assert archive.is_file(), got
    with tarfile.open(archive) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        [name] = [n for n in members if n.endswith("train.csv")]
        assert tar.extractfile(members[name]).read() == b"a,b\n1,2\n"


def test_files_paths_with_special_characters(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    local = tmp_path / "x"
    local.write_bytes(b"odd")
    remote = "dir with space/a:b#c?d%e ü.txt"
    put = cli(admin_dir, "files", "put", project, local, remote)
    assert put.code == 0, put
    shown = cli(admin_dir, "files", "ls", project, remote, "--json")
    assert shown.code == 0, shown
    assert shown.json()["path"] == remote
    got = cli(admin_dir, "files", "get", project, remote, "-")
    assert got.code == 0 and got.raw == b"odd", got


def test_files_mkdir_mv_rm(admin_dir, tmp_path):
    project = str(create_project(admin_dir)["id"])
    local = tmp_path / "a.txt"
    local.write_text("A")
    assert cli(admin_dir, "files", "mkdir", project, "x/y").code == 0
    assert cli(admin_dir, "files", "put", project, local, "x/y/a.txt").code == 0
    moved = cli(admin_dir, "files", "mv", project, "x/y/a.txt", "x/b.txt")
    assert moved.code == 0, moved
    names = [
        e["name"] for e in cli(admin_dir, "files", "ls", project, "x", "--json").json()["files"]
    ]
    assert sorted(names) == ["b.txt", "y"]

    assert cli(admin_dir, "files", "rm", project, "x").code == 0
    missing = cli(admin_dir, "files", "get", project, "x/b.txt", tmp_path / "never")
    assert missing.code == 4, missing
    assert not (tmp_path / "never").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no partial download left behind

    bad = cli(admin_dir, "files", "ls", project, "../etc")
    assert bad.code == 1 and bad.err.startswith("error: "), bad


# ----------------------------------------------------------------------------------------------
# keys


def test_key_create_list_revoke(server, admin_dir):
    name = unique("ci")
    created = cli(admin_dir, "key", "create", "--name", name, "--expires-in-days", "7")
    assert created.code == 0, created
    key = created.out.strip()  # the key alone on stdout
    assert key.startswith("lathe_") and "\n" not in key
    assert "not be shown again" in created.err

    env = {"LATHE_URL": server.url, "LATHE_API_KEY": key}
    assert run_cli(Path("/nonexistent-lathe-config"), "project", "list", env=env).code == 0

    listed = cli(admin_dir, "key", "list", "--json")
    assert listed.code == 0, listed
    [entry] = [k for k in listed.json()["keys"] if k["name"] == name]
    assert key.startswith(entry["prefix"])
    assert entry["expires_at"]
    table = cli(admin_dir, "key", "list")
    assert table.code == 0 and name in table.out

    revoked = cli(admin_dir, "key", "revoke", entry["id"])
    assert revoked.code == 0, revoked
    after = run_cli(Path("/nonexistent-lathe-config"), "project", "list", env=env)
    assert after.code == 3, after
    assert after.err.startswith("error: ")
    assert cli(admin_dir, "key", "revoke", entry["id"]).code == 4


# ----------------------------------------------------------------------------------------------
# usage, errors, output


@pytest.mark.parametrize(
    "args",
    [
        ["project"],
        ["project", "frobnicate"],
        ["project", "create"],
        ["project", "create", "a", "b"],
        ["project", "create", "a", "--visibility", "secret"],
        ["project", "show", "abc"],
        ["project", "list", "--page-size", "0"],
        ["project", "list", "--no-such-flag"],
        ["files", "put", "1"],
        ["files", "get", "1"],
        ["files", "ls", "x"],
        ["key", "revoke"],
        ["key", "create", "--expires-in-days", "soon"],
        ["login"],
        ["login", "not-a-url"],
        ["login", "http://127.0.0.1:1", "--password-stdin"],
        ["logout", "extra"],
    ],
)
def test_bad_usage_exits_2(admin_dir, args):
    result = cli(admin_dir, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: "), result
    assert result.out == ""


def test_unreachable_server_exits_1(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(tmp_path, "project", "list", env={"LATHE_URL": url, "LATHE_API_KEY": "x"})
    assert result.code == 1, result
    assert result.err.startswith(f"error: cannot reach {url}: "), result
    login_result = run_cli(
        tmp_path, "login", url, "--username", "a", "--password-stdin", stdin="pw"
    )
    assert login_result.code == 1, login_result


@pytest.mark.parametrize(
    "args",
    [
        ["login", "--help"],
        ["project", "--help"],
        ["project", "create", "--help"],
        ["files", "put", "--help"],
        ["files", "help"],
        ["key", "revoke", "-h"],
    ],
)
def test_help_prints_usage(tmp_path, args):
    result = run_cli(tmp_path, *args)
    assert result.code == 0, result
    assert result.out.startswith(f"usage: lathe {args[0]}"), result


def test_top_level_help_lists_the_client_commands(tmp_path):
    result = run_cli(tmp_path, "help")
    assert result.code == 0, result
    for command in ["login", "logout", "project", "files", "key"]:
        assert command in result.out


def test_json_output_parses(admin_dir, tmp_path):
    project = create_project(admin_dir)
    pid = str(project["id"])
    local = tmp_path / "f.txt"
    local.write_text("x")
    for args in [
        ["project", "list"],
        ["project", "show", pid],
        ["files", "put", pid, local],
        ["files", "mkdir", pid, "d"],
        ["files", "ls", pid],
        ["files", "ls", pid, "f.txt"],
        ["key", "list"],
    ]:
        result = cli(admin_dir, *args, "--json")
        assert result.code == 0, (args, result)
        assert isinstance(result.json(), dict), (args, result)
    # --json works anywhere after the command's name.
    assert cli(admin_dir, "project", "--json", "show", pid).json()["id"] == project["id"]
