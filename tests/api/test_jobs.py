"""Jobs end to end on the local backend: real bubblewrap sandboxes, cgroups, the runner, logs."""

import base64
import os
import socket
import struct
import time

import pytest

from conftest import assert_error, create_project, unique


def put_file(client, project_id, path, text):
    reply = client.put(f"/api/v2/projects/{project_id}/files/{path}", text.encode())
    assert reply.status == 201, reply


def create_job(client, project_id, script, **fields):
    body = {"name": unique("job"), "script": script, **fields}
    reply = client.post(f"/api/v2/projects/{project_id}/jobs", body)
    assert reply.status == 201, reply
    return reply.body


def start_run(client, project_id, job_id, **overrides):
    reply = client.post(f"/api/v2/projects/{project_id}/jobs/{job_id}/runs", overrides)
    assert reply.status == 201, reply
    return reply.body


def wait_run(client, project_id, job_id, run_id, states, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get(f"/api/v2/projects/{project_id}/jobs/{job_id}/runs/{run_id}")
        assert reply.status == 200, reply
        if reply.body["status"] in states:
            return reply.body
        assert time.monotonic() < deadline, f"run still {reply.body}"
        time.sleep(0.05)


FINAL = ("succeeded", "failed", "timedout", "stopped")


def logs(client, project_id, job_id, run_id):
    reply = client.get(f"/api/v2/projects/{project_id}/jobs/{job_id}/runs/{run_id}/logs")
    assert reply.status == 200, reply
    return reply.raw.decode()


def run_script(client, project_id, text, kernel="python3", name="script.py", **fields):
    put_file(client, project_id, name, text)
    job = create_job(client, project_id, name, kernel=kernel, **fields)
    run = start_run(client, project_id, job["id"])
    done = wait_run(client, project_id, job["id"], run["id"], FINAL)
    return job, done, logs(client, project_id, job["id"], run["id"])


@pytest.fixture
def owner(lathe):
    return lathe.create_user("jobs")


@pytest.fixture
def proj(owner):
    return create_project(owner.client)


def test_a_job_reads_a_project_file_and_writes_one(owner, proj):
    put_file(owner.client, proj["id"], "data/in.txt", "forty-two\n")
    script = (
        "import os\n"
        "print('read', open('data/in.txt').read().strip())\n"
        "open('out/result.txt', 'w').write('written by ' + str(os.getuid()))\n"
        "print('cwd', os.getcwd(), 'home', os.environ['HOME'], 'project', os.environ['CDSW_PROJECT'])\n"
    )
    put_file(owner.client, proj["id"], "out/.keep", "")
    job, run, output = run_script(owner.client, proj["id"], script)
    assert run["status"] == "succeeded", (run, output)
    assert run["exit_code"] == 0
    assert "read forty-two" in output
    assert f"cwd /home/cdsw home /home/cdsw project {proj['name']}" in output
    reply = owner.client.get(f"/api/v2/projects/{proj['id']}/files/out/result.txt:download")
    assert reply.raw == b"written by 8536"


def test_arguments_and_environment_reach_the_script(owner, proj):
    owner.client.put(f"/api/v2/projects/{proj['id']}/env/PROJECT_VAR", {"value": "p", "hidden": True})
    put_file(owner.client, proj["id"], "args.py",
             "import os, sys\nprint(sys.argv[1:], os.environ['PROJECT_VAR'], os.environ['JOB_VAR'],"
             " os.environ.get('LATHE_RUNNER_TOKEN'))\n")
    job = create_job(owner.client, proj["id"], "args.py", arguments="one 'two words'",
                     environment={"JOB_VAR": "j"})
    run = start_run(owner.client, proj["id"], job["id"], arguments="x y",
                    environment={"JOB_VAR": "override"})
    done = wait_run(owner.client, proj["id"], job["id"], run["id"], FINAL)
    assert done["status"] == "succeeded"
    assert "['x', 'y'] p override None" in logs(owner.client, proj["id"], job["id"], run["id"])


def test_failing_script_fails_with_its_exit_code(owner, proj):
    _, run, output = run_script(owner.client, proj["id"], "import sys\nprint('bye')\nsys.exit(3)\n")
    assert run["status"] == "failed"
    assert run["exit_code"] == 3
    assert run["reason"] == "exit code 3"
    assert "bye" in output


def test_timeout_ends_as_timedout(owner, proj):
    _, run, _ = run_script(owner.client, proj["id"], "import time\nprint('start')\ntime.sleep(60)\n",
                           timeout=1)
    assert run["status"] == "timedout"
    assert "timed out after 1 s" in run["reason"]


def test_stop_ends_a_running_job_as_stopped(owner, proj):
    put_file(owner.client, proj["id"], "sleep.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    job = create_job(owner.client, proj["id"], "sleep.py")
    run = start_run(owner.client, proj["id"], job["id"])
    wait_run(owner.client, proj["id"], job["id"], run["id"], ("running",))
    reply = owner.client.post(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs/{run['id']}:stop")
    assert reply.status == 200, reply
    done = wait_run(owner.client, proj["id"], job["id"], run["id"], FINAL, timeout=20)
    assert done["status"] == "stopped"
    assert done["reason"] == f"stopped by {owner.username}"
    again = owner.client.post(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs/{run['id']}:stop")
    assert_error(again, 409, "conflict")


def test_memory_limit_ends_as_out_of_memory(owner, proj):
    _, run, _ = run_script(owner.client, proj["id"], "b = bytearray(600 << 20)\nprint(len(b))\n",
                           memory=0.125)
    assert run["status"] == "failed"
    assert run["reason"] == "out of memory (limit 128 MiB)"


def test_sandbox_escapes_fail(lathe, owner, proj):
    other = create_project(owner.client)
    put_file(owner.client, other["id"], "secret.txt", "other project's secret")
    data_dir = str(lathe.data_dir)
    script = f"""
import os, subprocess
def attempt(name, fn):
    try:
        fn()
        print(name, 'ESCAPED')
    except Exception as e:
        print(name, 'blocked', type(e).__name__)
attempt('other-project', lambda: open('{data_dir}/projects/{other['id']}/files/secret.txt').read())
attempt('database', lambda: open('{data_dir}/lathe.db', 'rb').read(16))
attempt('key', lambda: open('{data_dir}/secret.key', 'rb').read())
attempt('write-etc', lambda: open('/etc/lathe-escape', 'w').write('x'))
attempt('write-usr', lambda: open('/usr/lathe-escape', 'w').write('x'))
pids = [p for p in os.listdir('/proc') if p.isdigit()]
print('processes', len(pids))
print('host-pid-visible', str({os.getpid()}) in pids and os.path.exists('/proc/{os.getpid()}/cmdline') and 'pytest' in open('/proc/{os.getpid()}/cmdline').read())
print('uid', os.getuid())
"""
    _, run, output = run_script(owner.client, proj["id"], script)
    assert run["status"] == "succeeded", output
    assert "ESCAPED" not in output, output
    for name in ("other-project", "database", "key", "write-etc", "write-usr"):
        assert f"{name} blocked" in output, output
    assert "host-pid-visible False" in output
    count = int(output.split("processes ")[1].split()[0])
    assert count < 10, output
    assert "uid 8536" in output
    assert not os.path.exists("/etc/lathe-escape")


def test_bash_and_r_kernels(owner, proj):
    _, run, output = run_script(owner.client, proj["id"], 'echo "bash says $((6*7))"\n',
                                kernel="bash", name="s.sh")
    assert run["status"] == "succeeded" and "bash says 42" in output
    _, run, output = run_script(owner.client, proj["id"], 'cat("R says", 6*7, "\\n")\n',
                                kernel="r", name="s.R")
    assert run["status"] == "succeeded", output
    assert "R says 42" in output


def test_quota_wait_then_run(lathe, admin):
    user = lathe.create_user("quota")
    p = create_project(user.client)
    reply = admin.put(f"/api/v2/quotas/user/{user.username}", {"cpu": 1, "memory": 1})
    assert reply.status == 200, reply
    put_file(user.client, p["id"], "hold.py", "import time\nprint('holding', flush=True)\ntime.sleep(1.5)\n")
    job = create_job(user.client, p["id"], "hold.py", cpu=1, memory=0.5)
    first = start_run(user.client, p["id"], job["id"])
    wait_run(user.client, p["id"], job["id"], first["id"], ("running",) + FINAL)
    second = start_run(user.client, p["id"], job["id"])
    time.sleep(0.3)
    waiting = user.client.get(f"/api/v2/projects/{p['id']}/jobs/{job['id']}/runs/{second['id']}").body
    assert waiting["status"] == "scheduling", waiting
    assert waiting["reason"] == f"waiting for quota: user {user.username} uses 1/1 vCPU and asks for 1"
    done = wait_run(user.client, p["id"], job["id"], second["id"], FINAL, timeout=30)
    assert done["status"] == "succeeded"
    # Raising the quota admits at once.
    third = start_run(user.client, p["id"], job["id"])
    fourth = start_run(user.client, p["id"], job["id"])
    admin.put(f"/api/v2/quotas/user/{user.username}", {"cpu": 4, "memory": 4})
    for r in (third, fourth):
        assert wait_run(user.client, p["id"], job["id"], r["id"], FINAL)["status"] == "succeeded"


def test_dependent_chain_stops_at_a_failure(owner, proj):
    put_file(owner.client, proj["id"], "ok.py", "print('ok')\n")
    put_file(owner.client, proj["id"], "bad.py", "raise SystemExit(1)\n")
    a = create_job(owner.client, proj["id"], "ok.py")
    b = create_job(owner.client, proj["id"], "ok.py", parent_job_id=a["id"])
    c = create_job(owner.client, proj["id"], "ok.py", parent_job_id=b["id"])
    run = start_run(owner.client, proj["id"], a["id"])
    wait_run(owner.client, proj["id"], a["id"], run["id"], FINAL)
    # The chain runs B then C.
    for job in (b, c):
        deadline = time.monotonic() + 20
        while True:
            runs = owner.client.get(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs").body["runs"]
            if runs and runs[0]["status"] in FINAL:
                assert runs[0]["status"] == "succeeded" and runs[0]["trigger"] == "dependency"
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # B now fails: C must not run again.
    reply = owner.client.patch(f"/api/v2/projects/{proj['id']}/jobs/{b['id']}", {"script": "bad.py"})
    assert reply.status == 200, reply
    run = start_run(owner.client, proj["id"], a["id"])
    wait_run(owner.client, proj["id"], a["id"], run["id"], FINAL)
    deadline = time.monotonic() + 20
    while True:
        runs = owner.client.get(f"/api/v2/projects/{proj['id']}/jobs/{b['id']}/runs").body["runs"]
        if len(runs) == 2 and runs[0]["status"] in FINAL:
            assert runs[0]["status"] == "failed"
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    runs_c = owner.client.get(f"/api/v2/projects/{proj['id']}/jobs/{c['id']}/runs").body["runs"]
    assert len(runs_c) == 1


def test_cycles_are_rejected(owner, proj):
    put_file(owner.client, proj["id"], "ok.py", "print('ok')\n")
    a = create_job(owner.client, proj["id"], "ok.py")
    b = create_job(owner.client, proj["id"], "ok.py", parent_job_id=a["id"])
    reply = owner.client.patch(f"/api/v2/projects/{proj['id']}/jobs/{a['id']}", {"parent_job_id": b["id"]})
    assert_error(reply, 400, "bad_request")
    assert "cycle" in reply.body["error"]["message"]


def test_job_validation(owner, proj):
    base = f"/api/v2/projects/{proj['id']}/jobs"
    assert_error(owner.client.post(base, {"name": "x", "script": "missing.py"}), 400, "bad_request")
    put_file(owner.client, proj["id"], "ok.py", "print(1)\n")
    for bad in ({"kernel": "cobol"}, {"cpu": 0}, {"cpu": 1000}, {"memory": -1}, {"arguments": "'open"}):
        reply = owner.client.post(base, {"name": unique("j"), "script": "ok.py", **bad})
        assert_error(reply, 400, "bad_request")


def test_operator_may_run_and_stop_but_not_edit(lathe, owner, proj):
    operator = lathe.create_user("op")
    owner.client.put(f"/api/v2/projects/{proj['id']}/collaborators/{operator.username}", {"role": "Operator"})
    put_file(owner.client, proj["id"], "ok.py", "print('ran')\n")
    job = create_job(owner.client, proj["id"], "ok.py")
    run = start_run(operator.client, proj["id"], job["id"])
    assert wait_run(operator.client, proj["id"], job["id"], run["id"], FINAL)["status"] == "succeeded"
    reply = operator.client.patch(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}", {"arguments": "x"})
    assert_error(reply, 403, "permission_denied")
    viewer = lathe.create_user("view")
    owner.client.put(f"/api/v2/projects/{proj['id']}/collaborators/{viewer.username}", {"role": "Viewer"})
    assert_error(viewer.client.post(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs", {}),
                 403, "permission_denied")
    assert viewer.client.get(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs").status == 200


def ws_follow(host, port, path, key, timeout=20.0):
    """A minimal WebSocket client: returns all text received until the server closes."""
    sock = socket.create_connection((host, port), timeout=timeout)
    nonce = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {key}\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    received = []
    stamps = []

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    try:
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
                break
            if opcode in (1, 2, 0):
                received.append(payload.decode())
                stamps.append(time.monotonic())
    except EOFError:
        pass
    sock.close()
    return "".join(received), stamps


def test_logs_are_followed_live(lathe, owner, proj):
    put_file(owner.client, proj["id"], "tick.py",
             "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n")
    job = create_job(owner.client, proj["id"], "tick.py")
    run = start_run(owner.client, proj["id"], job["id"])
    path = f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs/{run['id']}/logs:follow"
    started = time.monotonic()
    text, stamps = ws_follow(lathe.host, lathe.port, path, owner.key)
    assert text == "".join(f"tick {i}\n" for i in range(5))
    # Live, not all at the end: the first line arrived well before the last.
    assert stamps[-1] - stamps[0] > 0.8, stamps
    assert stamps[0] - started < 1.0
    # Following a finished run replays the log and closes.
    again, _ = ws_follow(lathe.host, lathe.port, path, owner.key)
    assert again == text


def test_logs_read_from_an_offset(owner, proj):
    job, run, output = run_script(owner.client, proj["id"], "print('abcdef')\n")
    reply = owner.client.get(
        f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs/{run['id']}/logs", params={"offset": 3})
    assert reply.raw == b"def\n"
    assert reply.headers["X-Log-Complete"] == "true"
    assert reply.headers["X-Log-Offset"] == "7"


def test_kill_9_while_running_is_reconciled_on_restart(lathe_factory):
    server = lathe_factory()
    admin = server.admin
    p = create_project(admin)
    put_file(admin, p["id"], "long.py", "import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    job = create_job(admin, p["id"], "long.py")
    run = start_run(admin, p["id"], job["id"])
    wait_run(admin, p["id"], job["id"], run["id"], ("running",))
    # A running job can't lose its project or job under it.
    assert_error(admin.delete(f"/api/v2/projects/{p['id']}/jobs/{job['id']}"), 409, "conflict")
    assert_error(admin.delete(f"/api/v2/projects/{p['id']}"), 409, "conflict")
    old_pid = server.proc.pid
    server.kill9()
    server.start()
    server._admin = None
    done = server.admin.get(f"/api/v2/projects/{p['id']}/jobs/{job['id']}/runs/{run['id']}").body
    assert done["status"] == "failed"
    assert done["reason"] == "server restarted"
    # The orphaned sandbox died with the server: nothing of it is left running.
    def kernels():
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if args[0] == b"/usr/bin/python3" and b"long.py" in args:
                found.append(pid)
        return found

    deadline = time.monotonic() + 5
    while kernels() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kernels() == []
    # Its cgroups are swept, and the run's API key no longer works.
    import glob
    assert glob.glob(f"/sys/fs/cgroup/*/lathe/{old_pid}-w*") == []
    keys = server.admin.get("/api/v2/users/admin/keys").body["keys"]
    assert not [k for k in keys if k["name"].startswith("workload ")]
    # With the run over, the job and the project can go.
    assert server.admin.delete(f"/api/v2/projects/{p['id']}/jobs/{job['id']}").status == 204
    assert server.admin.delete(f"/api/v2/projects/{p['id']}").status == 204


def test_a_job_whose_kernel_was_removed_is_refused_not_a_crash(lathe_factory, tmp_path):
    server = lathe_factory(data_dir=tmp_path / "k")
    admin = server.admin
    p = create_project(admin)
    put_file(admin, p["id"], "s.sh", "echo hi\n")
    job = create_job(admin, p["id"], "s.sh", kernel="bash")
    assert server.stop() == 0
    server.args += ["--kernels", "python3=/usr/bin/python3"]
    server.start()
    server._admin = None
    reply = server.admin.post(f"/api/v2/projects/{p['id']}/jobs/{job['id']}/runs", {})
    assert_error(reply, 400, "bad_request")
    assert "no longer offers" in reply.body["error"]["message"]
    assert server.client().get("/healthz").status == 200


def test_schedule_is_validated_and_described(owner, proj):
    put_file(owner.client, proj["id"], "ok.py", "print('ok')\n")
    base = f"/api/v2/projects/{proj['id']}/jobs"
    job = create_job(owner.client, proj["id"], "ok.py", schedule="0 2 * * *", timezone="Europe/Paris")
    assert job["schedule_description"] == "every day at 02:00 Europe/Paris"
    assert len(job["next_runs"]) == 5
    assert job["next_runs"][0].endswith(":00:00Z")
    for bad in ({"schedule": "61 * * * *"}, {"schedule": "* * *"},
                {"schedule": "0 2 * * *", "timezone": "Mars/Olympus"}, {"overlap": "sometimes"}):
        reply = owner.client.post(base, {"name": unique("j"), "script": "ok.py", **bad})
        assert_error(reply, 400, "bad_request")
    reply = owner.client.post(base, {"name": unique("j"), "script": "ok.py",
                                     "schedule": "@daily", "parent_job_id": job["id"]})
    assert_error(reply, 400, "bad_request")


@pytest.mark.slow
def test_recurring_job_fires_on_its_schedule(owner, proj):
    put_file(owner.client, proj["id"], "tick.py", "print('scheduled tick')\n")
    job = create_job(owner.client, proj["id"], "tick.py", schedule="* * * * *")
    deadline = time.monotonic() + 75
    while True:
        runs = owner.client.get(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs").body["runs"]
        if runs and runs[-1]["status"] in FINAL:
            break
        assert time.monotonic() < deadline, "the every-minute job did not fire"
        time.sleep(0.5)
    assert runs[-1]["trigger"] == "schedule"
    assert runs[-1]["status"] == "succeeded"
    assert "scheduled tick" in logs(owner.client, proj["id"], job["id"], runs[-1]["id"])


def test_failure_is_delivered_to_a_webhook(owner, proj):
    import http.server
    import json
    import threading

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        put_file(owner.client, proj["id"], "bad.py", "raise SystemExit(2)\n")
        put_file(owner.client, proj["id"], "good.py", "print('fine')\n")
        bad = create_job(owner.client, proj["id"], "bad.py",
                         notifications=[{"url": url, "events": ["failed", "timedout"]}])
        good = create_job(owner.client, proj["id"], "good.py",
                          notifications=[{"url": url, "events": ["failed"]}])
        run = start_run(owner.client, proj["id"], bad["id"])
        wait_run(owner.client, proj["id"], bad["id"], run["id"], FINAL)
        ok_run = start_run(owner.client, proj["id"], good["id"])
        wait_run(owner.client, proj["id"], good["id"], ok_run["id"], FINAL)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(received) == 1, received
        event = received[0]
        assert event["event"] == "failed"
        assert event["job"]["id"] == bad["id"]
        assert event["run"]["id"] == run["id"] and event["run"]["exit_code"] == 2
        reply = owner.client.patch(f"/api/v2/projects/{proj['id']}/jobs/{bad['id']}",
                                   {"notifications": [{"url": "ftp://x", "events": ["failed"]}]})
        assert_error(reply, 400, "bad_request")
    finally:
        hook.shutdown()


def test_resource_profiles_fill_a_jobs_size(lathe, admin, owner, proj):
    reply = admin.put("/api/v2/resource-profiles/tiny", {"cpu": 0.5, "memory": 0.25})
    assert reply.status == 200, reply
    assert_error(owner.client.put("/api/v2/resource-profiles/huge", {"cpu": 1, "memory": 1}),
                 403, "permission_denied")
    assert_error(admin.put("/api/v2/resource-profiles/toobig", {"cpu": 9999, "memory": 1}),
                 400, "bad_request")
    names = [p["name"] for p in owner.client.get("/api/v2/resource-profiles").body["resource_profiles"]]
    assert {"small", "medium", "large", "tiny"} <= set(names)
    put_file(owner.client, proj["id"], "ok.py", "print('ok')\n")
    job = create_job(owner.client, proj["id"], "ok.py", resource_profile="tiny")
    assert job["cpu"] == 0.5 and job["memory"] == 0.25
    reply = owner.client.post(f"/api/v2/projects/{proj['id']}/jobs",
                              {"name": unique("j"), "script": "ok.py", "resource_profile": "nope"})
    assert_error(reply, 400, "bad_request")
    assert admin.delete("/api/v2/resource-profiles/tiny").status == 204


def test_runtimes_are_listed(owner):
    reply = owner.client.get("/api/v2/runtimes")
    assert reply.status == 200
    kernels = {r["name"]: r["interpreter"] for r in reply.body["runtimes"]}
    assert kernels == {"python3": "/usr/bin/python3", "r": "/usr/bin/Rscript", "bash": "/bin/bash"}
    assert reply.body["max_workload"]["cpu"] == 8.0


def test_configured_kernels_and_gpus(lathe_factory):
    server = lathe_factory("--kernels", "python3=/usr/bin/python3,sh=/bin/sh", "--gpus", "0,1")
    admin = server.admin
    p = create_project(admin)
    _, run, output = run_script(admin, p["id"], 'echo "sh here, gpus=[$CUDA_VISIBLE_DEVICES]"\n',
                                kernel="sh", name="x.sh")
    assert run["status"] == "succeeded" and "sh here, gpus=[]" in output
    put_file(admin, p["id"], "gpu.py", "import os\nprint('gpus', os.environ['CUDA_VISIBLE_DEVICES'])\n")
    job = create_job(admin, p["id"], "gpu.py", nvidia_gpu=2)
    # As in CML, users get no GPUs until a site admin gives them a GPU quota.
    blocked = start_run(admin, p["id"], job["id"])
    time.sleep(0.3)
    waiting = admin.get(f"/api/v2/projects/{p['id']}/jobs/{job['id']}/runs/{blocked['id']}").body
    assert waiting["reason"] == "waiting for quota: user admin uses 0/0 GPUs and asks for 2"
    assert admin.put("/api/v2/quotas/user/admin", {"cpu": 2, "memory": 8, "nvidia_gpu": 2}).status == 200
    assert wait_run(admin, p["id"], job["id"], blocked["id"], FINAL)["status"] == "succeeded"
    run = start_run(admin, p["id"], job["id"])
    assert wait_run(admin, p["id"], job["id"], run["id"], FINAL)["status"] == "succeeded"
    assert "gpus 0,1" in logs(admin, p["id"], job["id"], run["id"])
    reply = admin.post(f"/api/v2/projects/{p['id']}/jobs",
                       {"name": unique("j"), "script": "gpu.py", "nvidia_gpu": 3})
    assert_error(reply, 400, "bad_request")
    reply = admin.post(f"/api/v2/projects/{p['id']}/jobs",
                       {"name": unique("j"), "script": "gpu.py", "kernel": "bash"})
    assert_error(reply, 400, "bad_request")


def test_experiment_metrics_and_files_with_import_cdsw(owner, proj):
    script = (
        "import cdsw\n"
        "for epoch, loss in enumerate([0.9, 0.5, 0.25]):\n"
        "    cdsw.track_metric('loss', loss)\n"
        "cdsw.track_metric('model', 'gbm')\n"
        "open('model.txt', 'w').write('weights v1')\n"
        "cdsw.track_file('model.txt')\n"
        "try:\n"
        "    cdsw.track_metric('bad', [1, 2])\n"
        "except TypeError as e:\n"
        "    print('refused', e)\n"
        "print('done')\n"
    )
    job, run, output = run_script(owner.client, proj["id"], script, name="train.py")
    assert run["status"] == "succeeded", output
    assert "refused" in output and "done" in output
    base = f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/runs/{run['id']}"
    metrics = owner.client.get(base + "/metrics").body["metrics"]
    assert [(m["key"], m["value"]) for m in metrics] == [
        ("loss", 0.9), ("loss", 0.5), ("loss", 0.25), ("model", "gbm")]
    artifacts = owner.client.get(base + "/artifacts").body["artifacts"]
    assert [(a["path"], a["size"]) for a in artifacts] == [("model.txt", 10)]
    # The kept copy is a snapshot: changing the project file later doesn't change it.
    put_file(owner.client, proj["id"], "model.txt", "weights v2 (edited)")
    assert owner.client.get(base + "/artifacts/model.txt:download").raw == b"weights v1"
    # Compare across runs: the last value of each metric.
    second = start_run(owner.client, proj["id"], job["id"])
    wait_run(owner.client, proj["id"], job["id"], second["id"], FINAL)
    compared = owner.client.get(f"/api/v2/projects/{proj['id']}/jobs/{job['id']}/metrics").body
    assert [r["run_id"] for r in compared["runs"]] == [second["id"], run["id"]]
    assert compared["runs"][1]["metrics"] == {"loss": 0.25, "model": "gbm"}
    # Experiments can be deleted (CML's cannot).
    assert owner.client.delete(base + "/metrics").status == 204
    assert owner.client.get(base + "/metrics").body["metrics"] == []
    assert owner.client.get(base + "/artifacts").body["artifacts"] == []
    # The workload's key was revoked when it ended.
    keys = owner.client.get(f"/api/v2/users/{owner.username}/keys").body["keys"]
    assert not [k for k in keys if k["name"].startswith("workload ")]


def test_log_is_capped_with_a_marker(lathe_factory):
    server = lathe_factory("--max-log-bytes", "4096")
    admin = server.admin
    p = create_project(admin)
    _, run, output = run_script(admin, p["id"], "for i in range(2000):\n    print('line', i)\nprint('END')\n")
    assert run["status"] == "succeeded"
    assert output.startswith("line 0\nline 1\n")
    assert output.endswith("[lathe: this log reached its size limit; later output was dropped]\n")
    assert "END" not in output
    assert len(output) < 4096 + 100
