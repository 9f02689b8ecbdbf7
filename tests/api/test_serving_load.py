"""Serving under load: zero-downtime redeploys and restarts, replicas killed with kill -9,
overload (429), request timeouts, autoscaling, and deployments that survive a server restart."""

import concurrent.futures
import os
import signal
import time

import pytest

from conftest import create_project
from models_helpers import (
    Load,
    call,
    create_model,
    deploy,
    deployment_path,
    model_from,
    put_file,
    start_build,
    wait_build,
    wait_deployment,
)

pytestmark = pytest.mark.slow

VERSIONED = "def predict(args):\n    return {'version': %r, 'x': args}\n"


@pytest.fixture
def owner(lathe):
    owner = lathe.create_user("serving")
    # Room for several replicas at once.
    admin = lathe.admin
    reply = admin.put(f"/api/v2/quotas/user/{owner.username}", {"cpu": 8, "memory": 16})
    assert reply.status in (200, 204), reply
    yield owner
    projects = owner.client.get("/api/v2/projects", params={"page_size": 100}).body["projects"]
    for p in projects:
        base = f"/api/v2/projects/{p['id']}/models"
        for m in owner.client.get(base, params={"page_size": 100}).body["models"]:
            owner.client.delete(f"{base}/{m['id']}")


@pytest.fixture
def proj(owner):
    return create_project(owner.client)


def replicas(client, project_id, d):
    reply = client.get(deployment_path(project_id, d) + "/replicas", params={"page_size": 100})
    assert reply.status == 200, reply
    return reply.body["replicas"]


def worker_pids(deployment_id):
    """Host pids of the model workers serving a deployment (read from /proc, as root)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            if b"lathe_worker.py\0serve" not in cmdline:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"LATHE_MODEL_DEPLOYMENT_ID={deployment_id}".encode() in env:
            pids.append(int(entry))
    return pids


def new_build(client, project_id, model_id, source):
    put_file(client, project_id, "predict.py", source)
    build = start_build(client, project_id, model_id)
    build = wait_build(client, project_id, model_id, build["id"])
    assert build["state"] == "built", build
    return build


def test_redeploy_under_load_loses_no_request(lathe, owner, proj):
    model, d1 = model_from(owner.client, proj["id"], VERSIONED % "v1")
    b2 = new_build(owner.client, proj["id"], model["id"], VERSIONED % "v2")
    with Load(lathe.url, model["access_key"], threads=4) as load:
        time.sleep(0.5)
        d2 = deploy(owner.client, proj["id"], model["id"], b2["id"])
        wait_deployment(owner.client, proj["id"], d2)
        wait_deployment(owner.client, proj["id"], d1, states=("stopped",))
        time.sleep(0.5)
    assert load.counts.get(200, 0) > 20, load.counts
    assert set(load.counts) == {200}, (load.counts, load.failures)
    status, body, _ = call(lathe.url, model["access_key"], 1)
    assert body["response"]["version"] == "v2"
    stopped = owner.client.get(deployment_path(proj["id"], d1)).body
    assert stopped["reason"] == f"replaced by deployment {d2['id']}"


def test_restart_replaces_every_replica_without_failures(lathe, owner, proj):
    model, d = model_from(owner.client, proj["id"], VERSIONED % "v1", replicas=2)
    before = {r["replica_id"] for r in replicas(owner.client, proj["id"], d) if r["ready"]}
    assert len(before) == 2
    with Load(lathe.url, model["access_key"], threads=4) as load:
        reply = owner.client.post(deployment_path(proj["id"], d) + ":restart")
        assert reply.status == 200, reply
        deadline = time.monotonic() + 60
        while True:
            ready = {r["replica_id"] for r in replicas(owner.client, proj["id"], d) if r["ready"]}
            if len(ready) == 2 and not ready & before:
                break
            assert time.monotonic() < deadline, ready
            time.sleep(0.2)
    assert set(load.counts) == {200}, (load.counts, load.failures)


def test_replica_killed_under_load_is_replaced_and_no_call_hangs(lathe, owner, proj):
    model, d = model_from(owner.client, proj["id"], VERSIONED % "v1", replicas=2,
                          idempotent=True)
    pids = worker_pids(d["id"])
    assert len(pids) == 2, pids
    with Load(lathe.url, model["access_key"], threads=4) as load:
        time.sleep(0.5)
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(0.5)
    # The function is idempotent: a call lost with the replica was retried on the other one.
    assert set(load.counts) == {200}, (load.counts, load.failures)
    deadline = time.monotonic() + 60
    while True:
        now = replicas(owner.client, proj["id"], d)
        ready = [r for r in now if r["ready"]]
        if len(ready) == 2 and len(now) == 3:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    dead = [r for r in now if not r["ready"]][0]
    assert dead["state"] in ("failed", "succeeded", "stopped"), dead
    # Its log is kept after it died.
    log = owner.client.get(deployment_path(proj["id"], d) + f"/replicas/{dead['replica_id']}/logs")
    assert log.status == 200 and "model ready" in log.raw.decode()


def test_a_lost_call_of_a_non_idempotent_model_is_a_clear_502(lathe, owner, proj):
    source = "import time\ndef predict(args):\n    time.sleep(args)\n    return 'slept'\n"
    model, d = model_from(owner.client, proj["id"], source)
    [pid] = worker_pids(d["id"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call, lathe.url, model["access_key"], 5)
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        status, body, _ = pending.result(timeout=30)
    assert status == 502, body
    assert "not marked idempotent" in body["error"]["message"]


def test_overload_answers_429_with_retry_after(lathe, owner, proj):
    source = "import time\ndef predict(args):\n    time.sleep(0.3)\n    return args\n"
    model, d = model_from(owner.client, proj["id"], source, queue_size=2, pipeline_depth=0)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda i: call(lathe.url, model["access_key"], i), range(12)))
    statuses = [s for s, _, _ in results]
    assert 200 in statuses and 429 in statuses, statuses
    refused = [(b, h) for s, b, h in results if s == 429]
    body, headers = refused[0]
    assert int(headers["Retry-After"]) >= 1
    assert body["success"] is False and "busy" in body["error"]["message"]


def test_a_call_that_runs_too_long_gets_504_and_the_replica_is_replaced(lathe, owner, proj):
    source = "import time\ndef predict(args):\n    time.sleep(args)\n    return 'done'\n"
    model, d = model_from(owner.client, proj["id"], source, request_timeout_seconds=1)
    [first] = [r["replica_id"] for r in replicas(owner.client, proj["id"], d)]
    started = time.monotonic()
    status, body, _ = call(lathe.url, model["access_key"], 30)
    assert status == 504, body
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 60
    while True:
        ready = [r["replica_id"] for r in replicas(owner.client, proj["id"], d) if r["ready"]]
        if ready and first not in ready:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, body, _ = call(lathe.url, model["access_key"], 0)
    assert status == 200 and body["response"] == "done"


def test_autoscaling_follows_the_load_up_and_down(lathe, owner, proj):
    source = "import time\ndef predict(args):\n    time.sleep(0.05)\n    return args\n"
    model, d = model_from(owner.client, proj["id"], source, min_replicas=1, max_replicas=3,
                          scale_down_delay_seconds=3, pipeline_depth=0)
    assert d["ready_replicas"] == 1
    with Load(lathe.url, model["access_key"], threads=8) as load:
        deadline = time.monotonic() + 60
        while owner.client.get(deployment_path(proj["id"], d)).body["ready_replicas"] < 2:
            assert time.monotonic() < deadline, "never scaled up"
            time.sleep(0.2)
    assert set(load.counts) == {200}, (load.counts, load.failures)
    deadline = time.monotonic() + 60
    while owner.client.get(deployment_path(proj["id"], d)).body["ready_replicas"] > 1:
        assert time.monotonic() < deadline, "never scaled down"
        time.sleep(0.2)


def test_a_deployment_serves_again_after_the_server_is_killed(lathe_factory, tmp_path):
    server = lathe_factory()
    owner = server.create_user("restart")
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], VERSIONED % "v1")
    server.kill9()
    server = lathe_factory(data_dir=server.data_dir)
    owner.client = server.client(owner.key)
    deadline = time.monotonic() + 60
    while True:
        status, body, _ = call(server.url, model["access_key"], 7)
        if status == 200:
            break
        assert status == 503, body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert body["response"] == {"version": "v1", "x": 7}
    again = owner.client.get(deployment_path(proj["id"], d)).body
    assert again["state"] == "deployed"


def test_concurrency_runs_a_thread_safe_models_calls_at_once(lathe, owner, proj):
    source = "import time\ndef predict(args):\n    time.sleep(0.5)\n    return args\n"
    model, d = model_from(owner.client, proj["id"], source, concurrency=4, pipeline_depth=0)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: call(lathe.url, model["access_key"], i), range(4)))
    assert [s for s, _, _ in results] == [200] * 4
    assert sorted(b["response"] for _, b, _ in results) == [0, 1, 2, 3]
    # One replica; one call at a time would take 2 s.
    assert time.monotonic() - started < 1.5
