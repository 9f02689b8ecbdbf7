"""End-to-end tests of `lathe job ...` against a real `lathe server` that runs jobs for real
(bubblewrap sandboxes): scripts are uploaded with `lathe files put` and really execute."""

import json
import os
import signal
import subprocess
import time

import pytest

# The server, the CLI runner and the login are test_cli.py's, so both suites drive the client
# the same way (own config dir, no terminal, no LATHE_* from the caller's environment).
from test_cli import LATHE_BIN, CliServer, login, run_cli, unique

pytestmark = pytest.mark.skipif(
    not (LATHE_BIN.is_file() and os.access(LATHE_BIN, os.X_OK)),
    reason=f"lathe binary not found at {LATHE_BIN}: run `make build` or set LATHE_BIN",
)

FINAL = ("succeeded", "failed", "timedout", "stopped")

TICK = "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
ECHO = (
    "import os, sys\n"
    "print('args', sys.argv[1:], 'X', os.environ.get('X'), 'Y', os.environ.get('Y'))\n"
)
FAIL = "import sys\nprint('bye', flush=True)\nsys.exit(3)\n"
SLEEP = "import time\nprint('up', flush=True)\ntime.sleep(60)\n"


# ----------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CliServer(tmp_path_factory.mktemp("cli-jobs-server-data"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_dir(server, tmp_path_factory):
    config_dir = tmp_path_factory.mktemp("cli-jobs-admin")
    result = login(server, config_dir)
    assert result.code == 0, result
    return config_dir


def cli(admin_dir, *args, **kw):
    return run_cli(admin_dir, *args, **kw)


@pytest.fixture(scope="module")
def project(admin_dir, tmp_path_factory):
    """A project holding the test scripts; yields its id as a string."""
    created = cli(admin_dir, "project", "create", unique("jobs"), "--json")
    assert created.code == 0, created
    pid = str(created.json()["id"])
    scripts = tmp_path_factory.mktemp("cli-jobs-scripts")
    for name, text in [
        ("tick.py", TICK),
        ("echo.py", ECHO),
        ("fail.py", FAIL),
        ("sleep.py", SLEEP),
        ("hello.sh", 'echo "bash says $((6 * 7))"\n'),
    ]:
        (scripts / name).write_text(text)
        put = cli(admin_dir, "files", "put", pid, scripts / name, f"jobs/{name}")
        assert put.code == 0, put
    return pid


def create_job(admin_dir, project, script, *extra, name=None):
    name = name or unique("job")
    result = cli(admin_dir, "job", "create", project, name, "--script", script, *extra, "--json")
    assert result.code == 0, result
    job = result.json()
    assert job["name"] == name
    return job


def start_run(admin_dir, project, job_id, *extra):
    """`lathe job run` without waiting: the run id alone on stdout."""
    result = cli(admin_dir, "job", "run", project, job_id, *extra)
    assert result.code == 0, result
    assert result.out.strip().isdigit(), result
    return result.out.strip()


def runs_of(admin_dir, project, job_id):
    result = cli(admin_dir, "job", "runs", project, job_id, "--all", "--json")
    assert result.code == 0, result
    return result.json()["runs"]


def run_of(admin_dir, project, job_id, run_id):
    [run] = [r for r in runs_of(admin_dir, project, job_id) if str(r["id"]) == str(run_id)]
    return run


def wait_for(admin_dir, project, job_id, run_id, states, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        run = run_of(admin_dir, project, job_id, run_id)
        if run["status"] in states:
            return run
        assert time.monotonic() < deadline, f"run still {run}"
        time.sleep(0.1)


def wait_for_log(admin_dir, project, job_id, run_id, text, timeout=30.0):
    """Waits until the run's log holds `text` (the script is then surely running)."""
    deadline = time.monotonic() + timeout
    while True:
        logs = cli(admin_dir, "job", "logs", project, job_id, run_id)
        assert logs.code == 0, logs
        if text in logs.out:
            return
        assert time.monotonic() < deadline, f"no {text!r} in the log yet: {logs}"
        time.sleep(0.1)


def popen_cli(admin_dir, *args):
    """Starts the CLI in the background (for Ctrl-C and streaming tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATHE_")}
    env.update(LATHE_CONFIG_DIR=str(admin_dir), HOME=str(admin_dir))
    return subprocess.Popen(
        [str(LATHE_BIN), *[str(a) for a in args]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


# ----------------------------------------------------------------------------------------------
# create, list, show, delete


def test_job_create_show_list_delete(admin_dir, project):
    name = unique("train")
    created = cli(
        admin_dir,
        "job",
        "create",
        project,
        name,
        "--script",
        "jobs/echo.py",
        "--arguments",
        "one 'two words'",
        "--kernel",
        "python3",
        "--cpu",
        "0.5",
        "--memory",
        "0.25",
        "--timeout",
        "120",
        "--env",
        "X=1",
        "--env=Y=a=b",
    )
    assert created.code == 0, created
    assert created.out.startswith("Created job "), created
    job_id = created.out.split()[2]

    shown = cli(admin_dir, "job", "show", project, job_id, "--json")
    assert shown.code == 0, shown
    job = shown.json()
    assert job["name"] == name and job["script"] == "jobs/echo.py"
    assert job["arguments"] == "one 'two words'" and job["kernel"] == "python3"
    assert job["cpu"] == 0.5 and job["memory"] == 0.25 and job["timeout"] == 120
    assert job["environment"] == {"X": "1", "Y": "a=b"}
    assert job["schedule"] == "" and job["parent_job_id"] is None

    text = cli(admin_dir, "job", "show", project, job_id)
    assert text.code == 0, text
    assert f"Name:         {name}" in text.out
    assert "Resources:    0.5 vCPU, 0.25 GiB" in text.out
    assert "Timeout:      120 s" in text.out

    table = cli(admin_dir, "job", "list", project, "--all")
    assert table.code == 0, table
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "NAME", "SCRIPT", "KERNEL", "CPU", "MEMORY", "RUNS"]
    [row] = [r for r in rows if name in r.split()]
    assert row.split()[:5] == [job_id, name, "jobs/echo.py", "python3", "0.5"]
    assert row.index(name) == header.index("NAME")
    assert row.endswith("manual")
    listed = cli(admin_dir, "job", "list", project, "--all", "--json")
    assert listed.code == 0, listed
    assert name in [j["name"] for j in listed.json()["jobs"]]

    # No terminal and no --yes: refused as a usage error, and nothing is deleted.
    refused = cli(admin_dir, "job", "delete", project, job_id)
    assert refused.code == 2, refused
    assert cli(admin_dir, "job", "show", project, job_id).code == 0
    deleted = cli(admin_dir, "job", "delete", project, job_id, "--yes")
    assert deleted.code == 0, deleted
    assert deleted.out.strip() == f"Deleted job {job_id}."
    gone = cli(admin_dir, "job", "show", project, job_id)
    assert gone.code == 4 and gone.err.startswith("error: "), gone


def test_job_create_schedule_parent_and_kernel(admin_dir, project):
    parent = create_job(admin_dir, project, "jobs/hello.sh", "--kernel", "bash")
    assert parent["kernel"] == "bash"
    child = create_job(admin_dir, project, "jobs/echo.py", "--parent", str(parent["id"]))
    assert child["parent_job_id"] == parent["id"]
    nightly = create_job(
        admin_dir, project, "jobs/echo.py", "--schedule", "0 3 * * *", "--timezone", "Europe/Paris"
    )
    assert nightly["schedule"] == "0 3 * * *" and nightly["timezone"] == "Europe/Paris"
    shown = cli(admin_dir, "job", "show", project, nightly["id"])
    assert shown.code == 0, shown
    assert "Runs:         0 3 * * * (Europe/Paris)\n" in shown.out, shown
    assert "Schedule:     every day at 03:00 Europe/Paris; next at " in shown.out, shown

    table = cli(admin_dir, "job", "list", project, "--all")
    assert table.code == 0, table
    [row] = [r for r in table.out.splitlines() if r.split()[0] == str(child["id"])]
    assert row.endswith(f"after job {parent['id']}")
    [row] = [r for r in table.out.splitlines() if r.split()[0] == str(nightly["id"])]
    assert row.endswith("0 3 * * * (Europe/Paris)")

    # The server's refusals are errors (1), not usage errors.
    both = cli(
        admin_dir,
        "job",
        "create",
        project,
        unique("x"),
        "--script",
        "jobs/echo.py",
        "--schedule",
        "0 3 * * *",
        "--parent",
        str(parent["id"]),
    )
    assert both.code == 1 and both.err.startswith("error: "), both
    missing = cli(admin_dir, "job", "create", project, unique("x"), "--script", "nope.py")
    assert missing.code == 1 and "nope.py" in missing.err, missing
    # A job others run after cannot be deleted.
    refused = cli(admin_dir, "job", "delete", project, parent["id"], "--yes")
    assert refused.code == 1, refused


def test_job_in_a_missing_project_or_job_exits_4(admin_dir, project):
    assert cli(admin_dir, "job", "list", "999999").code == 4
    assert cli(admin_dir, "job", "show", project, "999999").code == 4
    assert cli(admin_dir, "job", "run", project, "999999").code == 4
    assert cli(admin_dir, "job", "logs", project, "999999", "1").code == 4


# ----------------------------------------------------------------------------------------------
# run, runs, logs


def test_run_follow_prints_the_output_and_exits_0(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/tick.py")
    result = cli(admin_dir, "job", "run", project, job["id"], "--follow")
    assert result.code == 0, result
    # stdout is the script's output alone; the run id and the end go to stderr.
    assert result.out == "".join(f"tick {i}\n" for i in range(5)), result
    [run] = runs_of(admin_dir, project, job["id"])
    assert run["status"] == "succeeded" and run["exit_code"] == 0
    assert f"Started run {run['id']} of job {job['id']}." in result.err
    assert f"Run {run['id']} succeeded" in result.err


def test_run_follow_streams_as_the_script_writes(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/tick.py")
    started = time.monotonic()
    proc = popen_cli(admin_dir, "job", "run", project, job["id"], "--follow")
    stamps = []
    lines = []
    for line in proc.stdout:
        lines.append(line.decode())
        stamps.append(time.monotonic())
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert lines == [f"tick {i}\n" for i in range(5)]
    # Live, not all at the end: the first line came well before the last.
    assert stamps[-1] - stamps[0] > 0.8, stamps
    assert stamps[0] - started < 10, stamps  # the first line did not wait for the run's end


def test_run_follow_of_a_failing_script_exits_1_with_the_reason(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/fail.py")
    result = cli(admin_dir, "job", "run", project, job["id"], "--follow")
    assert result.code == 1, result
    assert result.out == "bye\n", result
    [run] = runs_of(admin_dir, project, job["id"])
    assert run["status"] == "failed"
    assert f"error: run {run['id']} failed: exit code 3" in result.err, result

    waited = cli(admin_dir, "job", "run", project, job["id"], "--wait")
    assert waited.code == 1, waited
    run_id = waited.out.strip()
    assert run_id.isdigit(), waited
    assert f"error: run {run_id} failed: exit code 3" in waited.err


def test_run_wait_arguments_and_environment(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/echo.py", "--arguments", "a 'b c'", "--env", "X=1")
    result = cli(admin_dir, "job", "run", project, job["id"], "--wait")
    assert result.code == 0, result
    run_id = result.out.strip()
    assert run_id.isdigit(), result
    assert "succeeded" in result.err
    logs = cli(admin_dir, "job", "logs", project, job["id"], run_id)
    assert logs.code == 0, logs
    assert logs.out == "args ['a', 'b c'] X 1 Y None\n", logs

    # Per-run overrides; a value after --arguments is never taken for an option.
    result = cli(
        admin_dir,
        "job",
        "run",
        project,
        job["id"],
        "--arguments",
        "--env",
        "--env",
        "X=2",
        "--env",
        "Y=3",
        "--follow",
    )
    assert result.code == 0, result
    assert result.out == "args ['--env'] X 2 Y 3\n", result


def test_runs_lists_the_runs_newest_first(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/fail.py")
    assert cli(admin_dir, "job", "run", project, job["id"], "--wait").code == 1
    bash = create_job(admin_dir, project, "jobs/hello.sh", "--kernel", "bash")
    ok = cli(admin_dir, "job", "run", project, bash["id"], "--follow")
    assert ok.code == 0 and ok.out == "bash says 42\n", ok

    table = cli(admin_dir, "job", "runs", project, job["id"])
    assert table.code == 0, table
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "STATUS", "TRIGGER", "STARTED", "DURATION", "REASON"]
    [run] = runs_of(admin_dir, project, job["id"])
    [row] = rows
    assert row.split()[:3] == [str(run["id"]), "failed", "api"]
    assert row.endswith("exit code 3")
    assert row.index("failed") == header.index("STATUS")
    assert row.split()[4].endswith("s")  # a duration such as 0.9s

    second = start_run(admin_dir, project, job["id"])
    wait_for(admin_dir, project, job["id"], second, FINAL)
    ids = [str(r["id"]) for r in runs_of(admin_dir, project, job["id"])]
    assert ids == [second, str(run["id"])]

    empty = create_job(admin_dir, project, "jobs/echo.py")
    none = cli(admin_dir, "job", "runs", project, empty["id"])
    assert none.code == 0 and none.out == "No runs.\n", none


def test_logs_prints_the_log_and_follows_to_the_end(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/tick.py")
    run_id = start_run(admin_dir, project, job["id"])
    # Following a run from its start prints everything, then exits when the run has ended.
    followed = cli(admin_dir, "job", "logs", project, job["id"], run_id, "-f")
    assert followed.code == 0, followed
    expected = "".join(f"tick {i}\n" for i in range(5))
    assert followed.out == expected, followed
    assert run_of(admin_dir, project, job["id"], run_id)["status"] == "succeeded"

    logs = cli(admin_dir, "job", "logs", project, job["id"], run_id)
    assert logs.code == 0 and logs.out == expected, logs
    again = cli(admin_dir, "job", "logs", project, job["id"], run_id, "--follow")
    assert again.code == 0 and again.out == expected, again
    as_json = cli(admin_dir, "job", "logs", project, job["id"], run_id, "--json")
    assert as_json.code == 0, as_json
    assert as_json.json() == {
        "run_id": int(run_id),
        "log": expected,
        "size": len(expected),
        "complete": True,
    }


def test_stop_ends_a_sleeping_run_as_stopped(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/sleep.py")
    run_id = start_run(admin_dir, project, job["id"])
    wait_for_log(admin_dir, project, job["id"], run_id, "up\n")
    stopped = cli(admin_dir, "job", "stop", project, job["id"], run_id)
    assert stopped.code == 0, stopped
    assert stopped.out.strip() in (f"Stopping run {run_id}.", f"Stopped run {run_id}."), stopped
    run = wait_for(admin_dir, project, job["id"], run_id, FINAL, timeout=30)
    assert run["status"] == "stopped", run
    assert run["reason"] == "stopped by admin"
    # Stopping it again is refused by the server (409).
    again = cli(admin_dir, "job", "stop", project, job["id"], run_id)
    assert again.code == 1 and again.err.startswith("error: "), again
    table = cli(admin_dir, "job", "runs", project, job["id"])
    assert "stopped by admin" in table.out


def test_ctrl_c_stops_following_not_the_run(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/sleep.py")
    proc = popen_cli(admin_dir, "job", "run", project, job["id"], "--follow")
    assert proc.stdout.readline() == b"up\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    # Ended by the interrupt, as an interrupted program should be, without an error report.
    assert proc.returncode == -signal.SIGINT, (proc.returncode, out, err)
    assert out == b"", out
    assert b"error:" not in err, err
    [run] = runs_of(admin_dir, project, job["id"])
    assert run["status"] == "running", run
    assert f"Stopped following run {run['id']}".encode() in err

    logs = popen_cli(admin_dir, "job", "logs", project, job["id"], run["id"], "-f")
    assert logs.stdout.readline() == b"up\n"
    logs.send_signal(signal.SIGINT)
    out, err = logs.communicate(timeout=30)
    assert logs.returncode == -signal.SIGINT, (logs.returncode, out, err)
    assert err == b"", err

    assert cli(admin_dir, "job", "stop", project, job["id"], run["id"]).code == 0
    assert wait_for(admin_dir, project, job["id"], run["id"], FINAL)["status"] == "stopped"


# ----------------------------------------------------------------------------------------------
# --json, usage, help


def test_json_output_parses(admin_dir, project):
    job = create_job(admin_dir, project, "jobs/echo.py")
    jid = str(job["id"])
    started = cli(admin_dir, "job", "run", project, jid, "--json")
    assert started.code == 0, started
    run = started.json()
    assert run["job_id"] == job["id"] and run["status"] not in FINAL + ("",)
    waited = cli(admin_dir, "job", "run", project, jid, "--wait", "--json")
    assert waited.code == 0, waited
    assert waited.json()["status"] == "succeeded"
    wait_for(admin_dir, project, jid, run["id"], FINAL)
    for args in [
        ["job", "list", project],
        ["job", "show", project, jid],
        ["job", "runs", project, jid],
        ["job", "logs", project, jid, run["id"]],
    ]:
        result = cli(admin_dir, *args, "--json")
        assert result.code == 0, (args, result)
        assert isinstance(result.json(), dict), (args, result)
    # --json anywhere after the command's name.
    assert cli(admin_dir, "job", "--json", "show", project, jid).json()["id"] == job["id"]

    sleeper = create_job(admin_dir, project, "jobs/sleep.py")
    run_id = start_run(admin_dir, project, sleeper["id"])
    wait_for_log(admin_dir, project, sleeper["id"], run_id, "up")
    stopped = cli(admin_dir, "job", "stop", project, sleeper["id"], run_id, "--json")
    assert stopped.code == 0, stopped
    assert stopped.json()["id"] == int(run_id)
    wait_for(admin_dir, project, sleeper["id"], run_id, FINAL)


@pytest.mark.parametrize(
    "args",
    [
        ["job"],
        ["job", "frobnicate"],
        ["job", "list"],
        ["job", "list", "x"],
        ["job", "list", "1", "2"],
        ["job", "list", "1", "--page"],
        ["job", "show", "1"],
        ["job", "show", "1", "abc"],
        ["job", "show", "0", "1"],
        ["job", "create", "1"],
        ["job", "create", "1", "name"],
        ["job", "create", "1", "name", "--script"],
        ["job", "create", "1", "name", "--script", "a.py", "--kernel", "ruby"],
        ["job", "create", "1", "name", "--script", "a.py", "--cpu", "0"],
        ["job", "create", "1", "name", "--script", "a.py", "--cpu", "lots"],
        ["job", "create", "1", "name", "--script", "a.py", "--memory", "-1"],
        ["job", "create", "1", "name", "--script", "a.py", "--gpu", "x"],
        ["job", "create", "1", "name", "--script", "a.py", "--timeout", "-5"],
        ["job", "create", "1", "name", "--script", "a.py", "--env", "NOVALUE"],
        ["job", "create", "1", "name", "--script", "a.py", "--env", "=v"],
        ["job", "create", "1", "name", "--script", "a.py", "--env"],
        ["job", "create", "1", "name", "--script", "a.py", "--parent", "first"],
        ["job", "delete", "1"],
        ["job", "delete", "1", "2"],
        ["job", "run", "1"],
        ["job", "run", "1", "2", "--env", "X"],
        ["job", "run", "1", "2", "--follow", "--json"],
        ["job", "run", "1", "2", "-f"],
        ["job", "stop", "1", "2"],
        ["job", "stop", "1", "2", "x"],
        ["job", "runs", "1"],
        ["job", "logs", "1", "2"],
        ["job", "logs", "1", "2", "3", "-x"],
        ["job", "logs", "1", "2", "3", "-f", "--json"],
    ],
)
def test_bad_usage_exits_2(admin_dir, args):
    result = cli(admin_dir, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: "), result
    assert "usage: lathe job" in result.err, result
    assert result.out == ""


@pytest.mark.parametrize(
    "args",
    [
        ["job", "--help"],
        ["job", "help"],
        ["job", "create", "--help"],
        ["job", "run", "--help"],
        ["job", "logs", "-h"],
        ["help", "job", "runs"],
    ],
)
def test_help_prints_usage(tmp_path, args):
    result = run_cli(tmp_path, *args)
    assert result.code == 0, result
    assert result.out.startswith("usage: lathe job"), result


def test_top_level_help_lists_job(tmp_path):
    result = run_cli(tmp_path, "help")
    assert result.code == 0 and "  job ..." in result.out, result


def test_job_commands_without_a_login_exit_3(tmp_path):
    result = run_cli(tmp_path, "job", "list", "1")
    assert result.code == 3, result
    assert result.err.startswith("error: not logged in")
