"""The serving history: a deployment's requests, errors, rejections and latency per minute, read
with the current (unstored) minute merged in, at minute and hour resolution, checked parameters,
the project's permissions, and kept across a kill -9 of the server."""

import time

from conftest import assert_error, create_project
from models_helpers import call, deployment_path, model_from

SOURCE = """
def predict(args):
    if args.get("fail"):
        raise ValueError("asked to fail")
    return {"double": args.get("x", 0) * 2}
"""

FLUSH = ("--serving-history-flush-seconds", "1")


def history(client, proj, d, **params):
    return client.get(deployment_path(proj["id"], d) + "/stats/history", params=params)


def window(minutes_back=60):
    now = int(time.time() * 1000)
    return {"from": now - minutes_back * 60_000, "to": now + 60_000}


def totals(points):
    return {k: sum(p[k] for p in points) for k in ("requests", "errors", "rejected")}


def test_calls_show_per_minute_and_survive_kill_9(lathe_factory):
    server = lathe_factory(*FLUSH)
    admin = server.admin
    proj = create_project(admin, "history")
    model, d = model_from(admin, proj["id"], SOURCE)

    before = history(admin, proj, d, **window())
    assert before.status == 200, before
    assert before.body["resolution"] == "minute"
    assert before.body["points"] == []  # no calls: no rows

    for x in range(3):
        status, body, _ = call(server.url, model["access_key"], {"x": x})
        assert status == 200, body
    status, body, _ = call(server.url, model["access_key"], {"fail": True})
    assert status == 500, body

    # Read at once: the current minute is counted in memory and merged into the answer.
    reply = history(admin, proj, d, **window())
    assert reply.status == 200, reply
    points = reply.body["points"]
    assert totals(points) == {"requests": 4, "errors": 1, "rejected": 0}, points
    for p in points:
        assert p["t"] % 60_000 == 0
        assert set(p) == {"t", "requests", "errors", "rejected", "p50_ms", "p95_ms", "p99_ms"}
        assert 0 < p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"] < 30_000, p

    # Hours: the same calls, summed, in hour buckets.
    hours = history(admin, proj, d, resolution="hour", **window())
    assert hours.status == 200, hours
    assert hours.body["resolution"] == "hour"
    assert all(p["t"] % 3_600_000 == 0 for p in hours.body["points"])
    assert totals(hours.body["points"]) == {"requests": 4, "errors": 1, "rejected": 0}

    # The same through the deployment's live stats.
    live = admin.get(deployment_path(proj["id"], d)).body["stats"]
    assert (live["requests"], live["errors"]) == (4, 1)

    # Stored within a flush interval (1 s here); a kill -9 then loses nothing.
    time.sleep(2.5)
    server.kill9()
    again = lathe_factory(*FLUSH, data_dir=server.data_dir, admin_password=server.admin_password)
    after = history(again.admin, proj, d, **window())
    assert after.status == 200, after
    assert totals(after.body["points"]) == {"requests": 4, "errors": 1, "rejected": 0}
    assert [p["t"] for p in after.body["points"]] == [p["t"] for p in points]


def test_parameters_are_checked(lathe, admin):
    proj = create_project(admin, "history-params")
    model, d = model_from(admin, proj["id"], SOURCE)
    now = int(time.time() * 1000)

    # Defaults: the last hour at minute resolution.
    reply = history(admin, proj, d)
    assert reply.status == 200, reply
    assert reply.body["resolution"] == "minute"
    assert reply.body["to"] - reply.body["from"] == 3_600_000

    reply = history(admin, proj, d, **{"from": now, "to": now - 1})
    assert_error(reply, 400, "bad_request")
    assert "before" in reply.body["error"]["message"]

    reply = history(admin, proj, d, **{"from": 0, "to": now})
    assert_error(reply, 400, "bad_request")
    assert "resolution=hour" in reply.body["error"]["message"]
    assert history(admin, proj, d, **{"from": now - 30 * 86_400_000, "to": now,
                                      "resolution": "hour"}).status == 200

    for bad in ({"from": "yesterday"}, {"to": "-5"}, {"resolution": "second"}):
        reply = history(admin, proj, d, **bad)
        assert_error(reply, 400, "bad_request")


def test_readers_of_the_project_only(lathe, admin):
    proj = create_project(admin, "history-private", visibility="private")
    model, d = model_from(admin, proj["id"], SOURCE)
    outsider = lathe.create_user("outsider")
    reply = history(outsider.client, proj, d)
    assert reply.status == 404, reply

    viewer = lathe.create_user("viewer")
    path = f"/api/v2/projects/{proj['id']}/collaborators/{viewer.username}"
    assert admin.put(path, {"role": "Viewer"}).status in (200, 201)
    assert history(viewer.client, proj, d).status == 200
    # A deployment of another model of the project is not found under this one.
    other, d2 = model_from(admin, proj["id"], SOURCE)
    wrong = dict(d2, model_id=model["id"])
    assert history(admin, proj, wrong).status == 404
