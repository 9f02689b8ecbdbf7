"""Monitors: rules on a model's metrics, aggregates or drift, evaluated on a schedule or on demand;
breaches open alerts and recoveries resolve them, each delivered to a webhook with retries."""

import http.server
import json
import threading
import time

import pytest

from conftest import assert_error, create_project
from models_helpers import call, model_from, put_file

TRACKED = (
    "import cdsw\n"
    "@cdsw.model_metrics\n"
    "def predict(args):\n"
    "    cdsw.track_metric('input', args['x'])\n"
    "    cdsw.track_metric('plan', args.get('plan', 'basic'))\n"
    "    return args['x']\n"
)


class Receiver:
    """A webhook receiver on a port-0 socket; the first `fail_first` posts get HTTP 500."""

    def __init__(self, fail_first=0):
        self.posts = []
        self.attempts = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.posts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, timeout=40):
        deadline = time.monotonic() + timeout
        while len(self.posts) < n:
            assert time.monotonic() < deadline, (self.attempts, self.posts)
            time.sleep(0.1)
        return self.posts

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def owner(lathe):
    owner = lathe.create_user("monitors")
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


def monitors_path(proj, model):
    return f"/api/v2/projects/{proj['id']}/models/{model['id']}/monitors"


def create(client, proj, model, **fields):
    reply = client.post(monitors_path(proj, model), fields)
    assert reply.status == 201, reply
    return reply.body


def evaluate(client, proj, model, monitor):
    reply = client.post(f"{monitors_path(proj, model)}/{monitor['id']}:evaluate")
    assert reply.status == 200, reply
    return reply.body


def alerts(client, proj, model, monitor):
    reply = client.get(f"{monitors_path(proj, model)}/{monitor['id']}/alerts")
    assert reply.status == 200, reply
    return reply.body["alerts"]


def test_a_breach_opens_an_alert_and_recovery_resolves_it(lathe, owner, tracked, receiver):
    proj, model, d = tracked
    c = owner.client
    m = create(c, proj, model, name="input mean", kind="metric", metric="input",
               statistic="mean", comparison=">", threshold=10, window_seconds=600,
               interval_seconds=3600, webhook_url=receiver.url)
    assert m["state"] == "pending" and m["enabled"] is True
    # No data yet: nothing to alert on.
    m = evaluate(c, proj, model, m)
    assert m["state"] == "no_data" and "no values of input" in m["last_message"]
    for x in (1, 2, 3):
        assert call(lathe.url, model["access_key"], {"x": x})[0] == 200
    m = evaluate(c, proj, model, m)
    assert (m["state"], m["last_value"]) == ("ok", 2)
    assert alerts(c, proj, model, m) == []
    for _ in range(3):
        assert call(lathe.url, model["access_key"], {"x": 100})[0] == 200
    m = evaluate(c, proj, model, m)
    assert (m["state"], m["last_value"]) == ("breached", 51)
    [alert] = alerts(c, proj, model, m)
    assert alert["state"] == "open" and alert["value"] == 51 and alert["threshold"] == 10
    assert "mean of input over 6 values" in alert["message"]
    [opened] = receiver.wait(1)
    assert opened["event"] == "alert.opened"
    assert opened["alert"]["id"] == alert["id"] and opened["alert"]["value"] == 51
    assert opened["model"] == {"id": model["id"], "name": model["name"], "crn": model["crn"]}
    assert opened["monitor"]["name"] == "input mean"
    # Still breached: no second alert.
    evaluate(c, proj, model, m)
    assert len(alerts(c, proj, model, m)) == 1
    # The rule changes; the next evaluation finds it fine and resolves the alert.
    reply = c.patch(f"{monitors_path(proj, model)}/{m['id']}", {"threshold": 1000})
    assert reply.status == 200 and reply.body["threshold"] == 1000
    m = evaluate(c, proj, model, m)
    assert m["state"] == "ok"
    [alert] = alerts(c, proj, model, m)
    assert alert["state"] == "resolved" and alert["resolved_at"] is not None
    resolved = receiver.wait(2)[1]
    assert resolved["event"] == "alert.resolved" and resolved["alert"]["id"] == alert["id"]
    deadline = time.monotonic() + 10
    while alerts(c, proj, model, m)[0]["webhook"] != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    project_alerts = c.get(f"/api/v2/projects/{proj['id']}/alerts").body["alerts"]
    assert [a["id"] for a in project_alerts] == [alert["id"]]


def test_monitors_run_on_their_schedule_and_webhooks_are_retried(lathe, owner, tracked):
    proj, model, d = tracked
    flaky = Receiver(fail_first=2)
    try:
        for _ in range(3):
            assert call(lathe.url, model["access_key"], {"x": 7})[0] == 200
        m = create(owner.client, proj, model, name="count", kind="metric", metric="input",
                   statistic="count", comparison=">=", threshold=3, window_seconds=600,
                   interval_seconds=1, webhook_url=flaky.url)
        # No :evaluate call: the scheduler evaluates it, and the delivery is retried past the
        # receiver's two failures.
        [opened] = flaky.wait(1, timeout=30)
        assert opened["event"] == "alert.opened" and opened["alert"]["value"] == 3
        assert flaky.attempts == 3
        got = owner.client.get(f"{monitors_path(proj, model)}/{m['id']}").body
        assert got["state"] == "breached" and got["last_evaluated_at"] is not None
    finally:
        flaky.close()


def test_accuracy_aggregates_and_drift_can_be_watched(lathe, owner, tracked):
    proj, model, d = tracked
    c = owner.client
    now = int(time.time() * 1000)
    reply = c.post("/api/v2/metrics/aggregates",
                   {"modelDeploymentCrn": d["crn"], "startTimeStampMs": now - 60_000,
                    "endTimeStampMs": now, "metrics": {"roc_auc": 0.62}})
    assert reply.status == 201, reply
    auc = create(c, proj, model, name="auc", kind="metric", metric="roc_auc",
                 source="aggregates", statistic="last", comparison="<", threshold=0.7,
                 window_seconds=3600, interval_seconds=3600)
    auc = evaluate(c, proj, model, auc)
    assert (auc["state"], auc["last_value"]) == ("breached", 0.62)

    # Drift of a categorical feature against a reference file in the project.
    put_file(c, proj["id"], "ref.csv", "plan\n" + "basic\n" * 80 + "pro\n" * 20)
    for i in range(40):
        plan = "pro" if i % 2 else "enterprise"
        assert call(lathe.url, model["access_key"], {"x": 1, "plan": plan})[0] == 200
    drift = create(c, proj, model, name="plan drift", kind="drift", feature="plan",
                   drift_statistic="jensen_shannon", reference={"file": "ref.csv"},
                   comparison=">=", threshold=0.1, window_seconds=600, interval_seconds=3600)
    drift = evaluate(c, proj, model, drift)
    assert drift["state"] == "breached", drift
    assert "jensen_shannon of plan" in drift["last_message"]
    assert drift["last_value"] > 0.3
    # A monitor on a statistic that does not apply to the feature says so, without alerting.
    ks = create(c, proj, model, name="plan ks", kind="drift", feature="plan",
                drift_statistic="ks_p_value", reference={"file": "ref.csv"}, threshold=0.05,
                comparison="<", interval_seconds=3600)
    ks = evaluate(c, proj, model, ks)
    assert ks["state"] == "no_data" and "does not apply" in ks["last_message"]


def test_monitor_definitions_are_validated_and_follow_roles(lathe, owner, tracked):
    proj, model, d = tracked
    c = owner.client
    path = monitors_path(proj, model)
    cases = [
        ({"name": "a", "kind": "nope", "threshold": 1}, "kind"),
        ({"name": "a", "kind": "metric", "threshold": 1}, "metric"),
        ({"name": "a", "kind": "metric", "metric": "x"}, "threshold"),
        ({"name": "a", "kind": "metric", "metric": "x", "threshold": 1, "statistic": "p42"},
         "statistic"),
        ({"name": "a", "kind": "metric", "metric": "x", "threshold": 1, "comparison": "=="},
         "comparison"),
        ({"name": "a", "kind": "metric", "metric": "x", "threshold": 1,
          "webhook_url": "file:///etc/passwd"}, "webhook_url"),
        ({"name": "a", "kind": "metric", "metric": "x", "threshold": 1, "window_seconds": 1},
         "window_seconds"),
        ({"name": "a", "kind": "drift", "feature": "f", "threshold": 1,
          "reference": {"file": 3}}, "reference"),
        ({"name": "a", "kind": "metric", "metric": "x", "threshold": 1, "colour": "red"},
         "colour"),
    ]
    for body, word in cases:
        reply = c.post(path, body)
        assert_error(reply, 400, "bad_request")
        assert word in reply.body["error"]["message"], (body, reply.body)
    m = create(c, proj, model, name="dup", kind="metric", metric="x", threshold=1)
    assert_error(c.post(path, {"name": "dup", "kind": "metric", "metric": "x", "threshold": 1}),
                 409, "conflict")
    viewer = lathe.create_user("viewer")
    c.put(f"/api/v2/projects/{proj['id']}/collaborators/{viewer.username}", {"role": "Viewer"})
    assert viewer.client.get(path).body["monitors"][0]["id"] == m["id"]
    assert_error(viewer.client.post(path, {"name": "v", "kind": "metric", "metric": "x",
                                           "threshold": 1}), 403, "permission_denied")
    assert_error(viewer.client.post(f"{path}/{m['id']}:evaluate"), 403, "permission_denied")
    stranger = lathe.create_user("stranger")
    assert_error(stranger.client.get(path), 404, "not_found")
    assert c.delete(f"{path}/{m['id']}").status == 204
    assert_error(c.get(f"{path}/{m['id']}"), 404, "not_found")
