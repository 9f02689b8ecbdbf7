"""Models end to end: build in a sandbox, deploy replicas, call /model, OIP v2, failures."""

import json
import threading
import time
import urllib.request

import pytest

from conftest import assert_error, create_project, unique
from models_helpers import (
    build_log,
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

ECHO = "def predict(args):\n    return {'echo': args}\n"


@pytest.fixture
def owner(lathe):
    owner = lathe.create_user("models")
    yield owner
    # Deleting the models stops their replicas, so the shared server's capacity is free again.
    projects = owner.client.get("/api/v2/projects", params={"page_size": 100}).body["projects"]
    for p in projects:
        base = f"/api/v2/projects/{p['id']}/models"
        for m in owner.client.get(base, params={"page_size": 100}).body["models"]:
            owner.client.delete(f"{base}/{m['id']}")


@pytest.fixture
def proj(owner):
    return create_project(owner.client)


def test_a_function_becomes_an_endpoint(lathe, owner, proj):
    model, d = model_from(owner.client, proj["id"], ECHO)
    assert model["crn"].startswith("crn:lathe:ml:default:model/")
    assert d["crn"].startswith("crn:lathe:ml:default:model-deployment/")
    assert d["state"] == "deployed" and d["ready_replicas"] == 1
    status, body, _ = call(lathe.url, model["access_key"], {"x": [1, 2]})
    assert status == 200, body
    assert body["success"] is True
    assert body["response"] == {"echo": {"x": [1, 2]}}
    assert body["StatusCode"] == 200
    assert body["ReplicaID"].startswith(f"d{d['id']}-r")
    assert body["Size"] == len(json.dumps({"echo": {"x": [1, 2]}}, separators=(",", ":")))
    # The access key may also come in the URL.
    req = urllib.request.Request(
        f"{lathe.url}/model?accessKey={model['access_key']}",
        data=json.dumps({"request": 5}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())["response"] == {"echo": 5}
    got = owner.client.get(f"/api/v2/projects/{proj['id']}/models/{model['id']}").body
    assert got["deployment_id"] == d["id"]


def test_build_failure_shows_the_traceback(owner, proj):
    put_file(owner.client, proj["id"], "broken.py", "import no_such_module_here\n")
    model = create_model(owner.client, proj["id"])
    build = start_build(owner.client, proj["id"], model["id"], "broken.py", "predict")
    build = wait_build(owner.client, proj["id"], model["id"], build["id"])
    assert build["state"] == "failed"
    # The reason is the worker's own last line, not an exit code.
    assert "build log" in build["reason"]
    assert "no_such_module_here" in build["reason"], build["reason"]
    log = build_log(owner.client, proj["id"], model["id"], build["id"])
    assert "Traceback" in log and "no_such_module_here" in log, log
    # A typo in the function's name says which functions the file has.
    put_file(owner.client, proj["id"], "fine.py", "def predict(args):\n    return args\n")
    build = start_build(owner.client, proj["id"], model["id"], "fine.py", "predcit")
    build = wait_build(owner.client, proj["id"], model["id"], build["id"])
    assert build["state"] == "failed"
    assert "no function named 'predcit'" in build["reason"], build["reason"]
    assert "it defines: predict" in build["reason"], build["reason"]


def test_build_runs_cdsw_build_sh_and_records_the_snapshot(owner, proj):
    put_file(owner.client, proj["id"], "cdsw-build.sh", "echo building-now\necho extra > made.txt\n")
    put_file(owner.client, proj["id"], "predict.py",
             "def predict(args):\n    return open('made.txt').read().strip()\n")
    model = create_model(owner.client, proj["id"], auth_enabled=False)
    build = start_build(owner.client, proj["id"], model["id"])
    build = wait_build(owner.client, proj["id"], model["id"], build["id"])
    log = build_log(owner.client, proj["id"], model["id"], build["id"])
    assert build["state"] == "built", (build, log)
    assert "building-now" in log
    assert len(build["snapshot"]) == 64 and build["snapshot_files"] >= 2
    assert build["python"].startswith("3.")


def test_build_input_is_checked(owner, proj):
    model = create_model(owner.client, proj["id"])
    base = f"/api/v2/projects/{proj['id']}/models/{model['id']}/builds"
    assert_error(owner.client.post(base, {"file_path": "missing.py", "function_name": "f"}),
                 400, "bad_request")
    put_file(owner.client, proj["id"], "ok.py", ECHO)
    assert_error(owner.client.post(base, {"file_path": "../ok.py", "function_name": "f"}),
                 400, "bad_request")
    assert_error(owner.client.post(base, {"file_path": "ok.py", "function_name": "not a name"}),
                 400, "bad_request")
    assert_error(owner.client.post(base, {"file_path": "ok.py", "function_name": "predict",
                                          "kernel": "cobol"}), 400, "bad_request")


def test_a_raising_function_answers_500_with_the_error(lathe, owner, proj):
    source = "def predict(args):\n    raise ValueError('bad input: ' + str(args))\n"
    model, d = model_from(owner.client, proj["id"], source)
    status, body, _ = call(lathe.url, model["access_key"], {"a": 1})
    assert status == 500
    assert body["success"] is False
    assert "ValueError" in body["error"]["message"] and "bad input" in body["error"]["message"]
    # No credentials, so no traceback.
    assert "traceback" not in body["error"]
    status, body, _ = call(lathe.url, model["access_key"], {"a": 1}, api_key=owner.key)
    assert status == 500 and "Traceback" in body["error"]["traceback"]


def test_access_key_and_auth_switch(lathe, owner, proj, user):
    put_file(owner.client, proj["id"], "predict.py", ECHO)
    model = create_model(owner.client, proj["id"])  # auth on by default
    assert model["auth_enabled"] is True
    build = wait_build(owner.client, proj["id"], model["id"],
                       start_build(owner.client, proj["id"], model["id"])["id"])
    d = wait_deployment(owner.client, proj["id"],
                        deploy(owner.client, proj["id"], model["id"], build["id"]))
    key = model["access_key"]
    status, body, _ = call(lathe.url, "m" + "0" * 31, 1, api_key=owner.key)
    assert status == 404 and body["success"] is False
    status, body, _ = call(lathe.url, None, None, raw_body=b'{"request": 1}')
    assert status == 401
    status, body, _ = call(lathe.url, key, 1)
    assert status == 401 and "Bearer" in body["error"]["message"]
    status, body, _ = call(lathe.url, key, 1, api_key="lathe_00000000_nope")
    assert status == 401
    status, body, _ = call(lathe.url, key, 1, api_key=user.key)  # can't read the project
    assert status in (403, 404)
    status, body, _ = call(lathe.url, key, 1, api_key=owner.key)
    assert status == 200 and body["response"] == {"echo": 1}
    # Auth off: anyone with the access key.
    reply = owner.client.patch(f"/api/v2/projects/{proj['id']}/models/{model['id']}",
                               {"auth_enabled": False})
    assert reply.status == 200 and reply.body["auth_enabled"] is False
    status, body, _ = call(lathe.url, key, 2)
    assert status == 200 and body["response"] == {"echo": 2}
    assert d["id"]


def test_model_api_keys_call_their_model_only(lathe, owner, proj, user):
    RAISES = "def predict(args):\n    raise ValueError('nope')\n"
    put_file(owner.client, proj["id"], "predict.py", ECHO)
    put_file(owner.client, proj["id"], "other.py", RAISES)
    model = create_model(owner.client, proj["id"])
    other = create_model(owner.client, proj["id"])
    for m, file in ((model, "predict.py"), (other, "other.py")):
        b = wait_build(owner.client, proj["id"], m["id"],
                       start_build(owner.client, proj["id"], m["id"], file)["id"])
        wait_deployment(owner.client, proj["id"], deploy(owner.client, proj["id"], m["id"], b["id"]))
    keys = f"/api/v2/projects/{proj['id']}/models/{model['id']}/keys"
    reply = owner.client.post(keys, {"name": "for the billing team", "expires_in_days": 30})
    assert reply.status == 201, reply
    created = reply.body
    assert created["model_id"] == model["id"] and created["key"].startswith("lathe_")
    assert reply.headers.get("Cache-Control") == "no-store"
    model_key = created["key"]
    listed = owner.client.get(keys).body["keys"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    # It calls its model...
    status, body, _ = call(lathe.url, model["access_key"], 5, api_key=model_key)
    assert status == 200 and body["response"] == {"echo": 5}
    # ... not another one, and nothing else of the API.
    status, body, _ = call(lathe.url, other["access_key"], 5, api_key=model_key)
    assert status == 404, body
    assert_error(lathe.client(model_key).get("/api/v2/projects"), 403, "permission_denied")
    assert_error(lathe.client(model_key).post(keys, {}), 403, "permission_denied")
    # No tracebacks through a model key, even for the project's owner.
    owner_key = f"/api/v2/projects/{proj['id']}/models/{other['id']}/keys"
    other_key = owner.client.post(owner_key, {}).body["key"]
    status, body, _ = call(lathe.url, other["access_key"], 1, api_key=other_key)
    assert status == 500 and "traceback" not in body["error"], body
    status, body, _ = call(lathe.url, other["access_key"], 1, api_key=owner.key)
    assert status == 500 and "traceback" in body["error"], body
    # A user who can't see the project can't make one; revoking ends it (within the 5 s cache).
    assert_error(lathe.client(user.key).post(keys, {}), 404, "not_found")
    reply = owner.client.delete(f"/api/v2/users/{owner.username}/keys/{created['id']}")
    assert reply.status == 204, reply
    deadline = time.monotonic() + 15
    while call(lathe.url, model["access_key"], 5, api_key=model_key)[0] != 401:
        assert time.monotonic() < deadline, "a revoked model key still calls"
        time.sleep(0.5)


def test_bad_bodies(lathe, owner, proj):
    model, _ = model_from(owner.client, proj["id"], ECHO)
    status, body, _ = call(lathe.url, None, None, raw_body=b"not json")
    assert status == 400 and body["success"] is False
    status, body, _ = call(lathe.url, None, None,
                           raw_body=json.dumps({"accessKey": model["access_key"]}).encode())
    assert status == 400 and "request" in body["error"]["message"]
    big = json.dumps({"accessKey": model["access_key"], "request": "x" * (6 << 20)}).encode()
    status, _, _ = call(lathe.url, None, None, raw_body=big)
    assert status == 413


def test_oip_v2_round_trip(lathe, owner, proj):
    source = (
        "def predict(args):\n"
        "    xs = args['x']\n"
        "    return {'doubled': [[2 * v for v in row] for row in xs], 'label': ['a', 'b']}\n"
    )
    model, d = model_from(owner.client, proj["id"], source)
    c = owner.client
    assert c.get("/v2/health/live").body == {"live": True}
    assert c.get("/v2/health/ready").status == 200
    meta = c.get(f"/v2/models/{model['name']}")
    assert meta.status == 200 and meta.body["name"] == model["name"], meta
    assert c.get(f"/v2/models/{model['access_key']}/ready").body["ready"] is True
    reply = c.post(f"/v2/models/{model['id']}/infer", {
        "id": "req-1",
        "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}],
    })
    assert reply.status == 200, reply
    assert reply.body["id"] == "req-1" and reply.body["model_name"] == model["name"]
    outputs = {o["name"]: o for o in reply.body["outputs"]}
    assert outputs["doubled"] == {"name": "doubled", "datatype": "INT64", "shape": [2, 2],
                                  "data": [2, 4, 6, 8]}
    assert outputs["label"]["datatype"] == "BYTES" and outputs["label"]["data"] == ["a", "b"]
    bad = c.post(f"/v2/models/{model['id']}/infer", {"nope": 1})
    assert bad.status == 400 and "inputs" in bad.body["error"]
    missing = c.get("/v2/models/no-such-model-anywhere")
    assert missing.status == 404 and "error" in missing.body


def test_batching_hands_the_function_a_list(lathe, owner, proj):
    source = (
        "def predict(batch):\n"
        "    assert isinstance(batch, list), batch\n"
        "    return [{'n': len(batch), 'x': item} for item in batch]\n"
    )
    model, d = model_from(owner.client, proj["id"], source, max_batch_size=8, max_delay_ms=50)
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: call(lathe.url, model["access_key"], i), range(16)))
    assert all(s == 200 for s, _, _ in results), results
    assert sorted(b["response"]["x"] for _, b, _ in results) == list(range(16))
    assert max(b["response"]["n"] for _, b, _ in results) > 1


def test_metrics_on_response_shape(lathe, owner, proj):
    source = (
        "import cdsw\n"
        "@cdsw.model_metrics\n"
        "def predict(args):\n"
        "    cdsw.track_metric('input', args['x'])\n"
        "    return args['x'] * 2\n"
    )
    model, _ = model_from(owner.client, proj["id"], source)
    status, body, _ = call(lathe.url, model["access_key"], {"x": 21})
    assert status == 200, body
    assert body["response"]["prediction"] == 42
    assert len(body["response"]["uuid"]) == 36


def test_models_are_listed_and_deleted(owner, proj):
    model, d = model_from(owner.client, proj["id"], ECHO)
    c = owner.client
    base = f"/api/v2/projects/{proj['id']}/models"
    assert [m["id"] for m in c.get(base).body["models"]] == [model["id"]]
    assert c.get(f"{base}/{model['id']}/builds").body["builds"][0]["state"] == "built"
    assert c.get(f"{base}/{model['id']}/deployments").body["deployments"][0]["id"] == d["id"]
    replicas = c.get(deployment_path(proj["id"], d) + "/replicas").body["replicas"]
    assert len(replicas) == 1 and replicas[0]["ready"] is True
    log = c.get(deployment_path(proj["id"], d) + f"/replicas/{replicas[0]['replica_id']}/logs")
    assert log.status == 200 and "model ready" in log.raw.decode()
    assert_error(c.post(base, {"name": model["name"]}), 409, "conflict")
    assert c.delete(f"{base}/{model['id']}").status == 204
    assert c.get(f"{base}/{model['id']}").status == 404


def test_stop_then_calls_get_503(lathe, owner, proj):
    model, d = model_from(owner.client, proj["id"], ECHO)
    reply = owner.client.post(deployment_path(proj["id"], d) + ":stop")
    assert reply.status == 200, reply
    wait_deployment(owner.client, proj["id"], d, states=("stopped",))
    status, body, _ = call(lathe.url, model["access_key"], 1)
    assert status == 503 and "no running deployment" in body["error"]["message"]


def test_a_deleted_projects_models_no_longer_answer(lathe, owner):
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], ECHO)
    reply = owner.client.post(deployment_path(proj["id"], d) + ":stop")
    assert reply.status == 200, reply
    wait_deployment(owner.client, proj["id"], d, states=("stopped",))
    assert owner.client.delete(f"/api/v2/projects/{proj['id']}").status == 204
    status, body, _ = call(lathe.url, model["access_key"], 1)
    assert status == 404, body
    assert "no model has this access key" in body["error"]["message"]


def test_a_deleted_models_files_are_collected(lathe, owner):
    proj = create_project(owner.client)
    c = owner.client
    marker = unique("blob")
    put_file(c, proj["id"], "predict.py", ECHO + f"# {marker}\n")
    model = create_model(c, proj["id"], auth_enabled=False)
    b = wait_build(c, proj["id"], model["id"], start_build(c, proj["id"], model["id"])["id"])
    assert b["state"] == "built"
    folder = lathe.data_dir / "builds" / str(b["id"])
    manifest = lathe.data_dir / "snapshots" / "manifests" / f"{b['snapshot']}.json"
    assert folder.is_dir() and manifest.is_file()
    assert c.delete(f"/api/v2/projects/{proj['id']}/models/{model['id']}").status == 204
    deadline = time.monotonic() + 30
    while folder.exists() or manifest.exists():
        assert time.monotonic() < deadline, "the deleted model's build files are still there"
        time.sleep(0.1)


def test_a_replicas_log_is_followed_live(lathe, owner):
    from test_jobs import ws_follow

    proj = create_project(owner.client)
    source = "def predict(args):\n    print('called with', args, flush=True)\n    return 1\n"
    model, d = model_from(owner.client, proj["id"], source)
    base = deployment_path(proj["id"], d)
    replica = owner.client.get(base + "/replicas").body["replicas"][0]
    path = f"{base}/replicas/{replica['replica_id']}/logs:follow"
    result = {}
    follower = threading.Thread(
        target=lambda: result.update(text=ws_follow(lathe.host, lathe.port, path, owner.key,
                                                     timeout=60)[0]))
    follower.start()
    status, body, _ = call(lathe.url, model["access_key"], "live-marker")
    assert status == 200, body
    time.sleep(0.5)
    assert owner.client.post(base + ":stop").status == 200
    follower.join(60)
    assert not follower.is_alive(), "the follow did not end with the replica"
    assert "model ready" in result["text"] and "called with live-marker" in result["text"]
    assert_error(owner.client.get(f"{base}/replicas/r-none/logs"), 404, "not_found")
