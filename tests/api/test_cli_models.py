"""End-to-end tests of `lathe model ...` against a real `lathe server` that builds and serves
models for real: predict.py is uploaded with `lathe files put`, built, deployed and called."""

import json
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

# The server, the CLI runner and the login are test_cli.py's, so every CLI suite drives the
# client the same way (own config dir, no terminal, no LATHE_* from the caller's environment).
from test_cli import LATHE_BIN, CliServer, login, run_cli, stored_config, unique

PREDICT = """\
print("predict.py imported", flush=True)


def predict(args):
    print("called with", args, flush=True)
    if isinstance(args, dict) and args.get("fail"):
        raise ValueError("asked to fail: " + str(args["fail"]))
    return {"echo": args}
"""
BROKEN = "import no_such_module_for_lathe_tests\n"
# A build script that takes a while and says so, to see the log arrive while the build runs.
SLOW_BUILD = 'for i in 1 2 3 4; do echo "build step $i"; sleep 0.5; done\n'

SMALL = ("--cpu", "0.5", "--memory", "0.5")


# ----------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = CliServer(tmp_path_factory.mktemp("cli-models-server-data"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_dir(server, tmp_path_factory):
    config_dir = tmp_path_factory.mktemp("cli-models-admin")
    result = login(server, config_dir)
    assert result.code == 0, result
    return config_dir


def cli(admin_dir, *args, **kw):
    return run_cli(admin_dir, *args, **kw)


def make_project(admin_dir, tmp_path_factory, files):
    """A project holding `files` ({path: text}); returns its id (a string) and name."""
    name = unique("models")
    created = cli(admin_dir, "project", "create", name, "--json")
    assert created.code == 0, created
    pid = str(created.json()["id"])
    local = tmp_path_factory.mktemp("cli-models-files")
    for path, text in files.items():
        (local / path).write_text(text)
        put = cli(admin_dir, "files", "put", pid, local / path, path)
        assert put.code == 0, put
    return SimpleNamespace(id=pid, name=name)


@pytest.fixture(scope="module")
def project(admin_dir, tmp_path_factory):
    return make_project(admin_dir, tmp_path_factory, {"predict.py": PREDICT, "broken.py": BROKEN})


@pytest.fixture(scope="module")
def slow_project(admin_dir, tmp_path_factory):
    """A project whose builds run a cdsw-build.sh that prints a line every half second."""
    return make_project(
        admin_dir, tmp_path_factory, {"predict.py": PREDICT, "cdsw-build.sh": SLOW_BUILD}
    )


def model(admin_dir, project, *args, **kw):
    """`lathe model ARGS... --project ID`."""
    return cli(admin_dir, "model", *args, "--project", project.id, **kw)


def create_model(admin_dir, project, *extra, name=None):
    name = name or unique("m")
    created = model(admin_dir, project, "create", name, *extra, "--json")
    assert created.code == 0, created
    assert created.json()["name"] == name
    return created.json()


def show(admin_dir, project, name):
    shown = model(admin_dir, project, "show", name, "--json")
    assert shown.code == 0, shown
    return shown.json()


def build(admin_dir, project, name, *extra, file="predict.py", function="predict"):
    return model(admin_dir, project, "build", name, "--file", file, "--function", function, *extra)


def deployments_of(admin_dir, project, name):
    listed = model(admin_dir, project, "deployments", name, "--all", "--json")
    assert listed.code == 0, listed
    return listed.json()["deployments"]


def wait_for_deployment(admin_dir, project, name, deployment_id, states, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        [deployment] = [
            d for d in deployments_of(admin_dir, project, name) if d["id"] == int(deployment_id)
        ]
        if deployment["state"] in states:
            return deployment
        assert time.monotonic() < deadline, f"deployment still {deployment}"
        time.sleep(0.2)


def api_key(admin_dir):
    return stored_config(admin_dir)["api_key"]


def post_model(server, body, key=None):
    """POST /model directly; returns (status, parsed body)."""
    request = urllib.request.Request(
        server.url + "/model", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw


@pytest.fixture(scope="module")
def echo(admin_dir, project):
    """A model built from predict.py and deployed with one small replica, shared by the tests
    that call it. Keeps the outputs of the commands that made it, for the tests of those."""
    name = unique("echo")
    created = model(admin_dir, project, "create", name, "--description", "echoes its input")
    assert created.code == 0, created
    built = build(admin_dir, project, name, "--comment", "first", "--wait")
    assert built.code == 0, built
    deployed = model(admin_dir, project, "deploy", name, *SMALL, "--env", "GREETING=hi", "--wait")
    assert deployed.code == 0, deployed
    return SimpleNamespace(
        name=name,
        key=created.out.strip(),
        created=created,
        built=built,
        build_id=built.out.strip(),
        deployed=deployed,
        deployment_id=deployed.out.strip(),
    )


# ----------------------------------------------------------------------------------------------
# create, list, show


def test_create_prints_the_access_key_and_list_and_show_find_the_model(admin_dir, project):
    name = unique("churn")
    created = model(admin_dir, project, "create", name, "--description", "Churn score")
    assert created.code == 0, created
    # The access key alone on stdout, so KEY=$(lathe model create ...) captures it.
    key = created.out.strip()
    assert created.out == key + "\n" and key and " " not in key, created
    assert f"Created model " in created.err and f"({name})" in created.err, created

    shown = show(admin_dir, project, name)
    assert shown["name"] == name and shown["description"] == "Churn score"
    assert shown["access_key"] == key and shown["auth_enabled"] is True
    assert shown["crn"].startswith("crn:lathe:ml:") and ":model/" in shown["crn"]
    assert shown["latest_build_id"] is None and shown["deployment_id"] is None
    # By id too.
    assert show(admin_dir, project, str(shown["id"]))["name"] == name

    text = model(admin_dir, project, "show", name)
    assert text.code == 0, text
    assert re.search(rf"^Name:\s+{name}$", text.out, re.M), text
    assert re.search(rf"^Access key:\s+{key}$", text.out, re.M), text
    assert re.search(r"^CRN:\s+crn:lathe:ml:\S+:model/\S+$", text.out, re.M), text
    assert re.search(r"^Auth:\s+on", text.out, re.M), text
    assert re.search(r"^Builds:\s+none$", text.out, re.M), text
    assert re.search(r"^Deployment:\s+none$", text.out, re.M), text
    assert re.search(r"^Deployment CRN:\s+-$", text.out, re.M), text
    assert re.search(r"^Endpoint:\s+POST http://\S+/model$", text.out, re.M), text

    open_model = create_model(admin_dir, project, "--no-auth")
    assert open_model["auth_enabled"] is False

    table = model(admin_dir, project, "list", "--all")
    assert table.code == 0, table
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "NAME", "AUTH", "BUILD", "DEPLOYMENT", "ACCESS", "KEY"]
    [row] = [r for r in rows if r.split()[1] == name]
    assert row.split() == [str(shown["id"]), name, "on", "-", "-", key]
    assert row.index(key) == header.index("ACCESS KEY")
    [row] = [r for r in rows if r.split()[1] == open_model["name"]]
    assert row.split()[2] == "off"
    listed = model(admin_dir, project, "list", "--all", "--json")
    assert listed.code == 0, listed
    assert {name, open_model["name"]} <= {m["name"] for m in listed.json()["models"]}


def test_a_missing_model_exits_4(admin_dir, project):
    missing = model(admin_dir, project, "show", "no-such-model")
    assert missing.code == 4, missing
    assert missing.err.startswith("error: no model 'no-such-model'"), missing
    assert model(admin_dir, project, "show", "999999").code == 4
    assert model(admin_dir, project, "builds", "no-such-model").code == 4
    assert model(admin_dir, project, "call", "no-such-model", "{}").code == 4
    in_missing_project = cli(admin_dir, "model", "list", "--project", "999999")
    assert in_missing_project.code == 4, in_missing_project


def test_the_project_by_name_owner_name_or_environment(server, admin_dir, project, tmp_path):
    name = create_model(admin_dir, project)["name"]

    def names(*args, **kw):
        result = cli(admin_dir, "model", "list", "--all", "--json", *args, **kw)
        assert result.code == 0, (args, kw, result)
        return {m["name"] for m in result.json()["models"]}

    assert name in names("--project", project.name)
    assert name in names("--project", f"admin/{project.name}")
    assert name in names(env={"LATHE_PROJECT": project.name})
    assert name in names(env={"LATHE_PROJECT_ID": project.id})
    # --project wins over the environment.
    assert name in names("--project", project.id, env={"LATHE_PROJECT": "no-such-project"})

    missing = cli(admin_dir, "model", "list")
    assert missing.code == 2 and "--project" in missing.err, missing
    unknown = cli(admin_dir, "model", "list", "--project", "no-such-project-" + unique("x"))
    assert unknown.code == 4 and unknown.err.startswith("error: no project"), unknown

    # Another user's public project of the same name makes the bare name ambiguous.
    username = unique("other")
    password = "pw-" + secrets.token_hex(8)
    server.api(
        "POST", "/api/v2/users", {"username": username, "password": password}, api_key(admin_dir)
    )
    assert login(server, tmp_path, username, password).code == 0
    twin = run_cli(tmp_path, "project", "create", project.name, "--visibility", "public", "--json")
    assert twin.code == 0, twin
    ambiguous = cli(admin_dir, "model", "list", "--project", project.name)
    assert ambiguous.code == 1, ambiguous
    assert "more than one project is named" in ambiguous.err, ambiguous
    assert project.id in ambiguous.err and str(twin.json()["id"]) in ambiguous.err
    assert name in names("--project", f"admin/{project.name}")
    assert names("--project", f"{username}/{project.name}") == set()


# ----------------------------------------------------------------------------------------------
# build, builds, logs of builds


def test_build_wait_follows_the_log_as_it_is_written_and_exits_0(admin_dir, slow_project):
    name = create_model(admin_dir, slow_project)["name"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATHE_")}
    env.update(LATHE_CONFIG_DIR=str(admin_dir), HOME=str(admin_dir))
    proc = subprocess.Popen(
        [
            str(LATHE_BIN),
            "model",
            "build",
            name,
            "--project",
            slow_project.id,
            "--file",
            "predict.py",
            "--function",
            "predict",
            "--comment",
            "slow one",
            "--wait",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    stamps = {}
    err = []
    for line in proc.stderr:
        text = line.decode(errors="replace")
        err.append(text)
        if text.startswith("build step "):
            stamps[text.strip()] = time.monotonic()
    out = proc.stdout.read().decode()
    assert proc.wait(timeout=120) == 0, (out, "".join(err))
    err = "".join(err)
    # The build's id alone on stdout; the log and the outcome on stderr.
    build_id = out.strip()
    assert out == build_id + "\n" and build_id.isdigit(), out
    assert f"Started build {build_id} of model {name}" in err, err
    assert list(stamps) == [f"build step {i}" for i in range(1, 5)], err
    # Live, not all at the end: the first step was shown well before the last.
    assert stamps["build step 4"] - stamps["build step 1"] > 1.0, stamps
    assert "predict.py imported" in err, err
    assert f"Build {build_id} of model {name} built" in err, err

    builds = model(admin_dir, slow_project, "builds", name, "--json")
    assert builds.code == 0, builds
    [done] = builds.json()["builds"]
    assert done["id"] == int(build_id) and done["state"] == "built"
    assert done["file_path"] == "predict.py" and done["function_name"] == "predict"
    assert done["comment"] == "slow one"


def test_build_without_wait_prints_the_id_and_logs_follow_it(admin_dir, project):
    name = create_model(admin_dir, project)["name"]
    started = build(admin_dir, project, name)
    assert started.code == 0, started
    build_id = started.out.strip()
    assert build_id.isdigit() and started.out == build_id + "\n", started
    assert f"Started build {build_id} of model {name}" in started.err

    # Following the latest build's log prints all of it and ends with the build.
    followed = model(admin_dir, project, "logs", name, "-f")
    assert followed.code == 0, followed
    assert "predict.py imported" in followed.out, followed
    [done] = model(admin_dir, project, "builds", name, "--json").json()["builds"]
    assert done["state"] == "built", done

    again = model(admin_dir, project, "logs", name, "--build", build_id)
    assert again.code == 0 and again.out == followed.out, again
    as_json = model(admin_dir, project, "logs", name, "--json")
    assert as_json.code == 0, as_json
    assert as_json.json() == {
        "build_id": int(build_id),
        "log": followed.out,
        "size": len(followed.out.encode()),
        "complete": True,
    }


def test_a_failing_build_exits_1_with_the_traceback(admin_dir, project):
    name = create_model(admin_dir, project)["name"]
    broken = build(admin_dir, project, name, "--wait", file="broken.py")
    assert broken.code == 1, broken
    build_id = broken.out.strip()
    assert build_id.isdigit(), broken
    assert "Traceback" in broken.err, broken
    assert "ModuleNotFoundError" in broken.err, broken
    assert "no_such_module_for_lathe_tests" in broken.err, broken
    assert f"error: build {build_id} failed" in broken.err, broken

    missing = build(admin_dir, project, name, "--wait", function="nope")
    assert missing.code == 1, missing
    missing_id = missing.out.strip()
    assert f"error: build {missing_id} failed" in missing.err, missing
    assert "nope" in missing.err, missing

    table = model(admin_dir, project, "builds", name)
    assert table.code == 0, table
    header, *rows = table.out.splitlines()
    assert header.split() == [
        "ID",
        "VERSION",
        "STATE",
        "FUNCTION",
        "KERNEL",
        "CREATED",
        "BY",
        "COMMENT",
        "REASON",
    ]
    # Newest first.
    assert [r.split()[:4] for r in rows] == [
        [missing_id, "2", "failed", "predict.py:nope"],
        [build_id, "1", "failed", "broken.py:predict"],
    ]
    assert rows[0].index("failed") == header.index("STATE")

    log = model(admin_dir, project, "logs", name, "--build", build_id)
    assert log.code == 0 and "ModuleNotFoundError" in log.out, log
    shown = model(admin_dir, project, "show", name)
    assert re.search(r"^Builds:\s+2: 2 failed; latest " + missing_id, shown.out, re.M), shown

    # Nothing was built, so there is nothing to deploy.
    refused = model(admin_dir, project, "deploy", name, *SMALL)
    assert refused.code == 1, refused
    assert "has no successful build to deploy" in refused.err, refused


# ----------------------------------------------------------------------------------------------
# deploy, deployments, call


def test_deploy_wait_waits_until_deployed(admin_dir, project, echo):
    deployed = echo.deployed
    assert deployed.out == echo.deployment_id + "\n" and echo.deployment_id.isdigit(), deployed
    assert (
        f"Deploying build {echo.build_id} of model {echo.name} as deployment {echo.deployment_id}"
        in deployed.err
    ), deployed
    assert f"Deployment {echo.deployment_id} of model {echo.name} deployed: 1/1" in deployed.err

    [deployment] = deployments_of(admin_dir, project, echo.name)
    assert deployment["id"] == int(echo.deployment_id)
    assert deployment["build_id"] == int(echo.build_id)
    assert deployment["state"] == "deployed" and deployment["ready_replicas"] == 1
    assert deployment["cpu"] == 0.5 and deployment["memory"] == 0.5
    assert deployment["environment"] == {"GREETING": "hi"}

    table = model(admin_dir, project, "deployments", echo.name)
    assert table.code == 0, table
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "BUILD", "STATE", "REPLICAS", "RESOURCES", "CREATED", "REASON"]
    assert row.split()[:4] == [echo.deployment_id, echo.build_id, "deployed", "1/1"]
    assert "0.5 vCPU, 0.5 GiB" in row

    shown = model(admin_dir, project, "show", echo.name)
    assert shown.code == 0, shown
    assert re.search(
        rf"^Deployment:\s+{echo.deployment_id} of build {echo.build_id}: deployed, 1/1 replicas",
        shown.out,
        re.M,
    ), shown
    assert re.search(
        r"^Deployment CRN:\s+crn:lathe:ml:\S+:model-deployment/\S+$", shown.out, re.M
    ), shown
    assert "Replicas of deployment " + echo.deployment_id in shown.out, shown
    listed = model(admin_dir, project, "list", "--all")
    [row] = [r for r in listed.out.splitlines()[1:] if r.split()[1] == echo.name]
    assert row.split()[2:5] == ["on", "built", "deployed"], listed


def test_call_prints_the_response(admin_dir, project, echo, tmp_path):
    called = model(admin_dir, project, "call", echo.name, '{"x": 1, "name": "ada"}')
    assert called.code == 0, called
    assert json.loads(called.out) == {"echo": {"x": 1, "name": "ada"}}, called
    assert called.out.startswith("{\n"), called  # pretty, for people

    request = tmp_path / "request.json"
    request.write_text('{"from": "file"}')
    from_file = model(admin_dir, project, "call", echo.name, "--data", f"@{request}")
    assert from_file.code == 0 and json.loads(from_file.out) == {"echo": {"from": "file"}}
    from_stdin = model(admin_dir, project, "call", echo.name, "-", stdin='[1, 2, "three"]')
    assert from_stdin.code == 0 and json.loads(from_stdin.out) == {"echo": [1, 2, "three"]}
    data = model(admin_dir, project, "call", echo.name, "--data", "@-", stdin="42")
    assert data.code == 0 and json.loads(data.out) == {"echo": 42}, data
    by_id = model(admin_dir, project, "call", str(show(admin_dir, project, echo.name)["id"]), "7")
    assert by_id.code == 0 and json.loads(by_id.out) == {"echo": 7}, by_id

    raw = model(admin_dir, project, "call", echo.name, '{"x": 2}', "--raw")
    assert raw.code == 0, raw
    envelope = raw.json()
    assert envelope["success"] is True and envelope["response"] == {"echo": {"x": 2}}
    assert "ReplicaID" in envelope
    assert model(admin_dir, project, "call", echo.name, "{}", "--json").json()["success"] is True


def test_a_model_error_exits_1_with_its_message(admin_dir, project, echo):
    failed = model(admin_dir, project, "call", echo.name, '{"fail": "boom"}')
    assert failed.code == 1, failed
    assert failed.out == "", failed
    assert f"error: model {echo.name}: ValueError: asked to fail: boom" in failed.err, failed
    # The traceback of the user's function comes first, pointing at their line.
    assert failed.err.startswith("Traceback (most recent call last):\n"), failed
    assert 'raise ValueError("asked to fail: "' in failed.err, failed
    assert "request id" not in failed.err, failed

    raw = model(admin_dir, project, "call", echo.name, '{"fail": "again"}', "--raw")
    assert raw.code == 1, raw
    assert raw.json()["success"] is False, raw
    assert "asked to fail: again" in raw.json()["error"]["message"]


def test_call_sends_the_api_key_a_model_with_auth_needs(server, admin_dir, project, echo):
    assert show(admin_dir, project, echo.name)["auth_enabled"] is True
    body = {"accessKey": echo.key, "request": {"x": 3}}
    status, _ = post_model(server, body)
    assert status in (401, 403), status
    status, answer = post_model(server, body, api_key(admin_dir))
    assert status == 200 and answer["response"] == {"echo": {"x": 3}}, answer
    # The CLI sends the stored key: the call above with `lathe model call` works.
    called = model(admin_dir, project, "call", echo.name, '{"x": 3}')
    assert called.code == 0 and json.loads(called.out) == {"echo": {"x": 3}}, called


def test_logs_of_a_replica(server, admin_dir, project, echo):
    marker = "marker-" + secrets.token_hex(4)
    assert model(admin_dir, project, "call", echo.name, json.dumps(marker)).code == 0
    shown = show(admin_dir, project, echo.name)
    replicas = server.api(
        "GET",
        f"/api/v2/projects/{project.id}/models/{shown['id']}/builds/{echo.build_id}"
        f"/deployments/{echo.deployment_id}/replicas",
        api_key=api_key(admin_dir),
    )["replicas"]
    [replica] = [r for r in replicas if r["state"] not in ("stopped", "failed")]
    deadline = time.monotonic() + 30
    while True:
        log = model(admin_dir, project, "logs", echo.name, "--replica", replica["replica_id"])
        assert log.code == 0, log
        if marker in log.out:
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.2)
    assert "predict.py imported" in log.out, log
    as_json = model(
        admin_dir, project, "logs", echo.name, "--replica", replica["replica_id"], "--json"
    )
    assert as_json.code == 0 and marker in as_json.json()["log"], as_json
    assert as_json.json()["complete"] is False  # the replica is still running

    unknown = model(admin_dir, project, "logs", echo.name, "--replica", "no-such-replica")
    assert unknown.code == 4 and unknown.err.startswith("error: no replica"), unknown


# ----------------------------------------------------------------------------------------------
# restart, stop


def test_restart_then_stop(admin_dir, project):
    name = create_model(admin_dir, project)["name"]
    assert build(admin_dir, project, name, "--wait").code == 0
    deployed = model(admin_dir, project, "deploy", name, *SMALL, "--wait")
    assert deployed.code == 0, deployed
    deployment_id = deployed.out.strip()

    restarted = model(admin_dir, project, "restart", name)
    assert restarted.code == 0, restarted
    assert restarted.out.startswith(f"Restarting deployment {deployment_id} of model {name}")
    wait_for_deployment(admin_dir, project, name, deployment_id, ("deployed",))
    called = model(admin_dir, project, "call", name, '"still here"')
    assert called.code == 0 and json.loads(called.out) == {"echo": "still here"}, called

    stopped = model(admin_dir, project, "stop", name, "--wait")
    assert stopped.code == 0, stopped
    assert stopped.out == f"Stopped deployment {deployment_id} of model {name}.\n", stopped
    [deployment] = deployments_of(admin_dir, project, name)
    assert deployment["state"] == "stopped", deployment
    assert show(admin_dir, project, name)["deployment_id"] is None

    # Nothing serves the model now: calls fail, and there is nothing left to stop.
    refused = model(admin_dir, project, "call", name, "{}")
    assert refused.code != 0 and refused.err.startswith("error: "), refused
    again = model(admin_dir, project, "stop", name)
    assert again.code == 1 and "has no deployment to stop" in again.err, again


def test_stop_without_wait_says_stopping(admin_dir, project):
    name = create_model(admin_dir, project)["name"]
    assert build(admin_dir, project, name, "--wait").code == 0
    deployed = model(admin_dir, project, "deploy", name, *SMALL, "--wait", "--json")
    assert deployed.code == 0, deployed
    deployment = deployed.json()
    assert deployment["state"] == "deployed", deployment
    stopping = model(admin_dir, project, "stop", name, "--json")
    assert stopping.code == 0, stopping
    assert stopping.json()["id"] == deployment["id"]
    assert stopping.json()["state"] in ("stopping", "stopped")
    wait_for_deployment(admin_dir, project, name, deployment["id"], ("stopped",))


# ----------------------------------------------------------------------------------------------
# --json, usage, help


def test_json_output_parses(admin_dir, project, echo):
    for args in [
        ["list"],
        ["show", echo.name],
        ["builds", echo.name],
        ["deployments", echo.name],
        ["logs", echo.name],
    ]:
        result = model(admin_dir, project, *args, "--json")
        assert result.code == 0, (args, result)
        assert isinstance(result.json(), dict), (args, result)
    # --json anywhere after the command's name.
    shown = cli(admin_dir, "model", "--json", "show", echo.name, "--project", project.id)
    assert shown.json()["name"] == echo.name

    built = build(admin_dir, project, echo.name, "--wait", "--json")
    assert built.code == 0, built
    assert built.json()["state"] == "built", built


@pytest.mark.parametrize(
    "args",
    [
        ["model"],
        ["model", "frobnicate"],
        ["model", "list"],
        ["model", "list", "x", "--project", "1"],
        ["model", "list", "--project"],
        ["model", "create", "--project", "1"],
        ["model", "create", "a", "b", "--project", "1"],
        ["model", "create", "a", "--auth", "--project", "1"],
        ["model", "show", "--project", "1"],
        ["model", "build", "m", "--project", "1"],
        ["model", "build", "m", "--file", "predict.py", "--project", "1"],
        ["model", "build", "m", "--function", "predict", "--project", "1"],
        ["model", "build", "m", "--file=p.py", "--function=f", "--env", "X", "--project", "1"],
        ["model", "build", "m", "--file=p.py", "--function=f", "--project", "1", "--env"],
        ["model", "deploy", "m", "--build", "x", "--project", "1"],
        ["model", "deploy", "m", "--replicas", "0", "--project", "1"],
        ["model", "deploy", "m", "--cpu", "lots", "--project", "1"],
        ["model", "deploy", "m", "--memory", "-1", "--project", "1"],
        ["model", "deploy", "m", "--gpus", "x", "--project", "1"],
        ["model", "deploy", "m", "--min-replicas", "1", "--project", "1"],
        ["model", "deploy", "m", "--min-replicas", "3", "--max-replicas", "2", "--project", "1"],
        ["model", "deploy", "m", "--max-delay-ms", "5", "--project", "1"],
        ["model", "deploy", "m", "--env", "=v", "--project", "1"],
        ["model", "builds", "--project", "1"],
        ["model", "deployments", "--project", "1"],
        ["model", "stop", "--project", "1"],
        ["model", "restart", "m", "--wait", "--project", "1"],
        ["model", "logs", "m", "--build", "1", "--replica", "r", "--project", "1"],
        ["model", "logs", "m", "-f", "--json", "--project", "1"],
        ["model", "logs", "m", "-x", "--project", "1"],
        ["model", "call", "m", "--project", "1"],
        ["model", "call", "m", "{not json", "--project", "1"],
        ["model", "call", "m", "{}", "--data", "{}", "--project", "1"],
    ],
)
def test_bad_usage_exits_2(admin_dir, args):
    result = cli(admin_dir, *args)
    assert result.code == 2, result
    assert result.err.startswith("error: "), result
    assert "usage: lathe model" in result.err, result
    assert result.out == ""


def test_a_request_file_that_cannot_be_read_exits_1(admin_dir, project, tmp_path):
    result = model(admin_dir, project, "call", "m", "--data", f"@{tmp_path / 'missing.json'}")
    assert result.code == 1 and "missing.json" in result.err, result


@pytest.mark.parametrize(
    "args",
    [
        ["model", "--help"],
        ["model", "help"],
        ["model", "create", "--help"],
        ["model", "build", "--help"],
        ["model", "deploy", "--help"],
        ["model", "logs", "-h"],
        ["model", "call", "--help"],
        ["help", "model", "deployments"],
    ],
)
def test_help_prints_usage(tmp_path, args):
    result = run_cli(tmp_path, *args)
    assert result.code == 0, result
    assert result.out.startswith("usage: lathe model"), result


def test_top_level_help_lists_model(tmp_path):
    result = run_cli(tmp_path, "help")
    assert result.code == 0 and "  model ..." in result.out, result


def test_model_commands_without_a_login_exit_3(tmp_path):
    result = run_cli(tmp_path, "model", "list", "--project", "1")
    assert result.code == 3, result
    assert result.err.startswith("error: not logged in")
