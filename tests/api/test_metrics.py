"""Model metrics over the API: tracked predictions stored with each call, delayed and aggregate
metrics, read_metrics, rollups for charts, permissions, and no acknowledged record lost to a
kill -9 of the server."""

import json
import random
import subprocess
import time
from pathlib import Path

import pytest

from conftest import assert_error, create_project
from models_helpers import Load, call, model_from, put_file

TRACKED = (
    "import cdsw\n"
    "@cdsw.model_metrics\n"
    "def predict(args):\n"
    "    cdsw.track_metric('input', args['x'])\n"
    "    cdsw.track_metric('segment', args.get('segment', 'a'))\n"
    "    return args['x'] * 2\n"
)


@pytest.fixture
def owner(lathe):
    owner = lathe.create_user("metrics")
    yield owner
    projects = owner.client.get("/api/v2/projects", params={"page_size": 100}).body["projects"]
    for p in projects:
        base = f"/api/v2/projects/{p['id']}/models"
        for m in owner.client.get(base, params={"page_size": 100}).body["models"]:
            owner.client.delete(f"{base}/{m['id']}")


@pytest.fixture
def tracked(lathe, owner):
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], TRACKED)
    return proj, model, d


def read(client, **body):
    reply = client.post("/api/v2/metrics:read", body)
    assert reply.status == 200, reply
    return reply.body


def test_each_tracked_call_is_stored_with_its_metrics(lathe, owner, tracked):
    proj, model, d = tracked
    before = int(time.time() * 1000)
    uuids = []
    for x in range(3):
        status, body, _ = call(lathe.url, model["access_key"], {"x": x, "segment": "s%d" % x})
        assert status == 200, body
        uuids.append(body["response"]["uuid"])
    after = int(time.time() * 1000)
    # The answer came after the commit: the records are there at once.
    got = read(owner.client, modelDeploymentCrn=d["crn"])
    assert got["rolledUp"] is False and got["summaries"] == []
    records = got["metrics"]
    assert [r["predictionUuid"] for r in records] == uuids
    for x, r in enumerate(records):
        assert r["modelDeploymentCrn"] == d["crn"]
        assert r["modelCrn"] == model["crn"]
        assert r["modelBuildCrn"].startswith("crn:lathe:ml:default:model-build/")
        assert r["metrics"] == {"input": x, "segment": "s%d" % x}
        assert before <= r["startTimeStampMs"] <= r["endTimeStampMs"] <= after
    # By model and by build too, and a window that holds none of them.
    assert len(read(owner.client, modelCrn=model["crn"])["metrics"]) == 3
    assert len(read(owner.client, modelBuildCrn=records[0]["modelBuildCrn"])["metrics"]) == 3
    assert read(owner.client, modelCrn=model["crn"], endTimeStampMs=before - 1)["metrics"] == []
    # Paging.
    page = read(owner.client, modelDeploymentCrn=d["crn"], limit=2)
    assert [r["predictionUuid"] for r in page["metrics"]] == uuids[:2]
    rest = read(owner.client, modelDeploymentCrn=d["crn"], pageToken=page["nextPageToken"])
    assert [r["predictionUuid"] for r in rest["metrics"]] == uuids[2:]
    assert "nextPageToken" not in rest


def test_delayed_metrics_merge_into_their_prediction(lathe, owner, tracked):
    proj, model, d = tracked
    _, body, _ = call(lathe.url, model["access_key"], {"x": 5})
    uuid = body["response"]["uuid"]
    reply = owner.client.post(
        "/api/v2/metrics/delayed", {"predictionUuid": uuid, "metrics": {"final_label": 1}}
    )
    assert reply.status == 200, reply
    assert reply.body == {"predictionUuid": uuid, "modelDeploymentCrn": d["crn"]}
    # A later delayed metric wins over an earlier one of the same name.
    owner.client.post(
        "/api/v2/metrics/delayed", {"predictionUuid": uuid, "metrics": {"final_label": 0, "n": 2}}
    )
    [r] = read(owner.client, modelDeploymentCrn=d["crn"])["metrics"]
    assert r["metrics"] == {"input": 5, "segment": "a", "final_label": 0, "n": 2}


def test_delayed_metrics_for_an_unknown_uuid_are_refused(lathe, owner, tracked):
    proj, model, d = tracked
    reply = owner.client.post(
        "/api/v2/metrics/delayed",
        {"predictionUuid": "00000000-0000-4000-8000-000000000000", "metrics": {"y": 1}},
    )
    assert_error(reply, 404, "not_found")
    assert "no prediction has uuid" in reply.body["error"]["message"]
    assert_error(
        owner.client.post("/api/v2/metrics/delayed", {"predictionUuid": "x", "metrics": [1]}),
        400,
        "bad_request",
    )
    assert read(owner.client, modelDeploymentCrn=d["crn"])["metrics"] == []


def test_aggregates_are_read_with_their_windows(lathe, owner, tracked):
    proj, model, d = tracked
    c = owner.client
    reply = c.post(
        "/api/v2/metrics/aggregates",
        {
            "modelDeploymentCrn": d["crn"],
            "startTimeStampMs": 1000,
            "endTimeStampMs": 2000,
            "metrics": {"roc_auc": 0.91},
        },
    )
    assert reply.status == 201, reply
    assert reply.body["startTimeStampMs"] == 1000 and reply.body["endTimeStampMs"] == 2000
    c.post(
        "/api/v2/metrics/aggregates",
        {"modelDeploymentCrn": d["crn"], "startTimeStampMs": 5000, "endTimeStampMs": 6000,
         "metrics": {"roc_auc": 0.7}},
    )
    got = read(c, modelDeploymentCrn=d["crn"], startTimeStampMs=1500, endTimeStampMs=4000)
    assert [(r["aggregate"], r["predictionUuid"], r["metrics"]) for r in got["metrics"]] == [
        (True, None, {"roc_auc": 0.91})
    ]
    assert len(read(c, modelDeploymentCrn=d["crn"])["metrics"]) == 2
    assert_error(
        c.post("/api/v2/metrics/aggregates",
               {"modelDeploymentCrn": d["crn"], "startTimeStampMs": 7, "endTimeStampMs": 6,
                "metrics": {}}),
        400, "bad_request")
    assert_error(
        c.post("/api/v2/metrics/aggregates",
               {"modelDeploymentCrn": d["crn"], "metrics": {"a": 1}}),
        400, "bad_request")
    assert_error(
        c.post("/api/v2/metrics/aggregates",
               {"modelDeploymentCrn": "crn:lathe:ml:default:model-deployment/nope",
                "startTimeStampMs": 1, "endTimeStampMs": 2, "metrics": {"a": 1}}),
        404, "not_found")


def test_metrics_follow_project_roles(lathe, owner, tracked):
    proj, model, d = tracked
    _, body, _ = call(lathe.url, model["access_key"], {"x": 1})
    uuid = body["response"]["uuid"]
    stranger = lathe.create_user("stranger")
    assert_error(stranger.client.post("/api/v2/metrics:read", {"modelDeploymentCrn": d["crn"]}),
                 404, "not_found")
    assert_error(
        stranger.client.post("/api/v2/metrics/delayed",
                             {"predictionUuid": uuid, "metrics": {"y": 1}}),
        404, "not_found")
    viewer = lathe.create_user("viewer")
    reply = owner.client.put(
        f"/api/v2/projects/{proj['id']}/collaborators/{viewer.username}", {"role": "Viewer"}
    )
    assert reply.status in (200, 201, 204), reply
    assert len(read(viewer.client, modelDeploymentCrn=d["crn"])["metrics"]) == 1
    assert_error(
        viewer.client.post("/api/v2/metrics/delayed", {"predictionUuid": uuid, "metrics": {"y": 1}}),
        403, "permission_denied")
    assert_error(owner.client.post("/api/v2/metrics:read", {}), 400, "bad_request")
    assert lathe.client().post("/api/v2/metrics:read", {"modelCrn": model["crn"]}).status == 401


def test_rollups_feed_chart_series(lathe_factory):
    server = lathe_factory("--metrics-rollup-seconds", "1")
    owner = server.create_user("charts")
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], TRACKED)
    xs = [1, 2, 3, 4, 100]
    for x in xs:
        assert call(server.url, model["access_key"], {"x": x})[0] == 200
    deadline = time.monotonic() + 30
    while True:
        reply = owner.client.post(
            "/api/v2/metrics:series", {"modelCrn": model["crn"], "metrics": ["input"]}
        )
        assert reply.status == 200, reply
        points = reply.body["metrics"].get("input", [])
        if sum(p["count"] for p in points) == len(xs):
            break
        assert time.monotonic() < deadline, reply.body
        time.sleep(0.3)
    assert reply.body["resolution"] == "minute"
    # Strings are not rolled up; numbers are: count, sum, min, max and quantiles.
    assert "segment" not in reply.body["metrics"]
    assert sum(p["sum"] for p in points) == sum(xs)
    assert min(p["min"] for p in points) == 1 and max(p["max"] for p in points) == 100
    hours = owner.client.post(
        "/api/v2/metrics:series", {"modelCrn": model["crn"], "resolution": "hour"}
    ).body
    assert sum(p["count"] for p in hours["metrics"]["input"]) == len(xs)
    # Prometheus shows the writer: everything committed, nothing dropped.
    text = server.admin.get("/metrics").raw.decode()
    assert "lathe_metrics_records_committed_total 5" in text
    assert "lathe_metrics_records_refused_total 0" in text


@pytest.mark.slow
def test_no_acknowledged_prediction_is_lost_to_kill_9(lathe_factory):
    server = lathe_factory()
    owner = server.create_user("durable")
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], TRACKED)

    acked = []

    class Recording(Load):
        def _run(self):
            while not self.stopping.is_set():
                try:
                    status, body, _ = call(self.base_url, self.access_key, {"x": 1}, timeout=10)
                except Exception:
                    continue  # the server went away mid-call: not acknowledged
                if status == 200:
                    with self.lock:
                        acked.append(body["response"]["uuid"])

    load = Recording(server.url, model["access_key"], threads=4)
    load.__enter__()
    deadline = time.monotonic() + 30
    while len(acked) < 300:
        assert time.monotonic() < deadline, "too few calls answered"
        time.sleep(0.05)
    server.kill9()
    load.stopping.set()
    for t in load.threads:
        t.join(timeout=30)
    server = lathe_factory(data_dir=server.data_dir)
    owner.client = server.client(owner.key)
    stored = {r["predictionUuid"] for r in read(owner.client, modelDeploymentCrn=d["crn"])["metrics"]}
    missing = [u for u in acked if u not in stored]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged predictions lost"


FEATURES = (
    "import cdsw\n"
    "@cdsw.model_metrics\n"
    "def predict(args):\n"
    "    cdsw.track_metric('age', args['age'])\n"
    "    cdsw.track_metric('plan', args['plan'])\n"
    "    return 1\n"
)
PEER = Path(__file__).resolve().parent / "drift_peer.py"
VENV_PYTHON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"


def peer_drift(kind, reference, current):
    """scipy's and Evidently's numbers for the same samples (tests/.venv)."""
    assert VENV_PYTHON.exists(), "run scripts/setup-test-venv.sh (make test does)"
    out = subprocess.run(
        [str(VENV_PYTHON), str(PEER)],
        input=json.dumps({"kind": kind, "reference": reference, "current": current}),
        capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(out.stdout)


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def test_drift_matches_scipy_and_evidently(lathe, owner):
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], FEATURES)
    rng = random.Random(11)
    plans = ["basic", "plus", "pro"]
    ref_ages = [round(rng.gauss(40, 8), 2) for _ in range(300)]
    ref_plans = [rng.choices(plans, [5, 3, 2])[0] for _ in range(300)]
    cur_ages = [round(rng.gauss(44, 9), 2) for _ in range(250)]
    cur_plans = [rng.choices(plans + ["enterprise"], [3, 3, 3, 1])[0] for _ in range(250)]

    def send(ages, plan_values):
        start = int(time.time() * 1000)
        for age, plan in zip(ages, plan_values):
            status, body, _ = call(lathe.url, model["access_key"], {"age": age, "plan": plan})
            assert status == 200, body
        end = int(time.time() * 1000)
        time.sleep(0.01)
        return {"startTimeStampMs": start, "endTimeStampMs": end}

    reference = send(ref_ages, ref_plans)
    current = send(cur_ages, cur_plans)
    reply = owner.client.post(
        "/api/v2/metrics:drift",
        {"modelDeploymentCrn": d["crn"], "reference": reference, "current": current},
    )
    assert reply.status == 200, reply
    report = reply.body
    by_name = {f["name"]: f for f in report["features"]}
    assert set(by_name) == {"age", "plan"}
    age, plan = by_name["age"], by_name["plan"]
    assert (age["kind"], age["referenceCount"], age["currentCount"]) == ("numeric", 300, 250)
    assert plan["kind"] == "categorical" and plan["method"] == "jensen_shannon"

    peer = peer_drift("numeric", ref_ages, cur_ages)
    s = age["statistics"]
    for key in ("ks_statistic", "ks_p_value", "wasserstein", "wasserstein_normed"):
        assert close(s[key], peer["scipy"][key]), (key, s[key], peer["scipy"][key])
    for key in ("wasserstein_normed", "psi", "jensen_shannon"):
        assert close(s[key], peer["evidently"][key]), (key, s[key], peer["evidently"][key])
    # Evidently's KS p-value uses the exact distribution at these sizes; the verdict agrees.
    assert ("ks" in age["driftedBy"]) == peer["evidently"]["drift"]["ks"]
    assert ("psi" in age["driftedBy"]) == peer["evidently"]["drift"]["psi"]
    assert age["method"] == "ks" and age["drifted"] == peer["evidently"]["drift"]["ks"]

    peer = peer_drift("categorical", ref_plans, cur_plans)
    assert close(plan["statistics"]["jensen_shannon"], peer["scipy"]["jensen_shannon"])
    assert close(plan["statistics"]["jensen_shannon"], peer["evidently"]["jensen_shannon"])
    assert close(plan["statistics"]["psi"], peer["evidently"]["psi"], rel=1e-12)
    assert plan["drifted"] == peer["evidently"]["drift"]["jensen_shannon"]
    assert {c["category"] for c in plan["categories"]} == set(plans + ["enterprise"])

    # A reference data file in the project gives the same numbers as the reference window.
    rows = ["age,plan"] + [f"{a},{p}" for a, p in zip(ref_ages, ref_plans)]
    put_file(owner.client, proj["id"], "data/reference.csv", "\n".join(rows) + "\n")
    from_file = owner.client.post(
        "/api/v2/metrics:drift",
        {"modelDeploymentCrn": d["crn"], "reference": {"file": "data/reference.csv"},
         "current": current, "features": ["age"]},
    ).body
    assert [f["name"] for f in from_file["features"]] == ["age"]
    assert from_file["features"][0]["statistics"] == age["statistics"]
    # Thresholds can be loosened; bad input is refused with a reason.
    loose = owner.client.post(
        "/api/v2/metrics:drift",
        {"modelDeploymentCrn": d["crn"], "reference": reference, "current": current,
         "thresholds": {"jensen_shannon": 0.99, "psi": 100, "ks_p_value": 0, "wasserstein": 100}},
    ).body
    assert loose["driftedFeatures"] == 0
    bad = owner.client.post(
        "/api/v2/metrics:drift",
        {"modelDeploymentCrn": d["crn"], "reference": {"file": "data/missing.csv"},
         "current": current},
    )
    assert_error(bad, 404, "not_found")
    put_file(owner.client, proj["id"], "data/ragged.csv", "age,plan\n1,a\n2\n")
    ragged = owner.client.post(
        "/api/v2/metrics:drift",
        {"modelDeploymentCrn": d["crn"], "reference": {"file": "data/ragged.csv"},
         "current": current},
    )
    assert_error(ragged, 400, "bad_request")
    assert "line 3" in ragged.body["error"]["message"]


REPLICA_SDK = (
    "import json, os, urllib.error, urllib.request\n"
    "import cdsw\n"
    "def predict(args):\n"
    "    out = {'key': os.environ['LATHE_API_KEY'][:4]}\n"
    "    if args.get('aggregate'):\n"
    "        cdsw.track_aggregate_metrics({'n': 1}, 1, 2)\n"
    "    try:\n"
    "        got = cdsw.read_metrics(model_deployment_crn=args.get('crn'))\n"
    "        out['read'] = len(got['metrics'])\n"
    "    except cdsw.LatheError as e:\n"
    "        out['read_error'] = [e.status, str(e)]\n"
    "    req = urllib.request.Request(os.environ['LATHE_API_URL'] + '/api/v2/projects',\n"
    "        headers={'Authorization': 'Bearer ' + os.environ['LATHE_API_KEY']})\n"
    "    try:\n"
    "        urllib.request.urlopen(req, timeout=10)\n"
    "        out['projects'] = 200\n"
    "    except urllib.error.HTTPError as e:\n"
    "        out['projects'] = e.code\n"
    "    return out\n"
)


def test_a_replica_uses_its_own_key_for_its_own_metrics(lathe, owner, tracked):
    _, other_model, other = tracked
    proj = create_project(owner.client)
    model, d = model_from(owner.client, proj["id"], REPLICA_SDK)
    status, body, _ = call(lathe.url, model["access_key"], {"aggregate": True})
    assert status == 200, body
    got = body["response"]
    # Never the owner's key: a replica key, good for its deployment's metrics only.
    assert got["key"] == "lrk_"
    assert got["read"] == 1  # the aggregate it just recorded (its deployment from the env)
    assert got["projects"] == 403
    status, body, _ = call(lathe.url, model["access_key"], {"crn": other["crn"]})
    assert body["response"]["read_error"][0] == 404, body
    # The owner sees the aggregate the replica wrote.
    [agg] = read(owner.client, modelDeploymentCrn=d["crn"])["metrics"]
    assert agg["aggregate"] is True and agg["metrics"] == {"n": 1}
