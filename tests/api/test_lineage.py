"""Governance end to end: the lineage graph recorded without user action, lineage.yaml, the SDK's
lineage calls, permission filtering, Atlas export, the catalog, aliases, rebuild-verify and
example replay."""

import json
import sqlite3
import time

import pytest

from conftest import assert_error, create_project, unique
from models_helpers import (
    build_log,
    call,
    create_model,
    deploy,
    put_file,
    start_build,
    wait_build,
    wait_deployment,
)

TRAIN = """import lathe
lathe.lineage.used("data/churn.csv", "default.telco_churn@cm")
with open("model.pkl", "w") as out:
    out.write("weights")
print("trained")
"""

PREDICT = "def predict(args):\n    return {'churn': 0.25}\n"

LINEAGE_YAML = """"{model}":
  hive_table_qualified_names: ["default.telco_churn@cm"]
  datasets: ["data/churn.csv"]
  metadata: {{query: "select * from telco_churn", training_file: "train.py"}}
"""


@pytest.fixture
def owner(lathe):
    owner = lathe.create_user("gov")
    yield owner
    projects = owner.client.get("/api/v2/projects", params={"page_size": 100}).body["projects"]
    for p in projects:
        base = f"/api/v2/projects/{p['id']}/models"
        for m in owner.client.get(base, params={"page_size": 100}).body["models"]:
            owner.client.delete(f"{base}/{m['id']}")


def run_job(client, project_id, name, script):
    job = client.post(f"/api/v2/projects/{project_id}/jobs", {"name": name, "script": script})
    assert job.status == 201, job
    job = job.body
    run = client.post(f"/api/v2/projects/{project_id}/jobs/{job['id']}/runs", {}).body
    deadline = time.monotonic() + 60
    while True:
        r = client.get(f"/api/v2/projects/{project_id}/jobs/{job['id']}/runs/{run['id']}").body
        if r["status"] in ("succeeded", "failed", "timedout", "stopped"):
            return job, r
        assert time.monotonic() < deadline, r
        time.sleep(0.05)


def build_and_deploy(client, project_id, model, **build_fields):
    b = start_build(client, project_id, model["id"], **build_fields)
    b = wait_build(client, project_id, model["id"], b["id"])
    assert b["state"] == "built", (b, build_log(client, project_id, model["id"], b["id"]))
    d = deploy(client, project_id, model["id"], b["id"])
    return b, wait_deployment(client, project_id, d)


def scenario(client, model_name=None):
    """create project -> run a job that reads a dataset and writes a model file -> build ->
    deploy. Returns (project, job, run, model, build, deployment)."""
    p = create_project(client)
    pid = p["id"]
    put_file(client, pid, "data/churn.csv", "tenure,churn\n1,0\n")
    put_file(client, pid, "train.py", TRAIN)
    job, run = run_job(client, pid, "train", "train.py")
    assert run["status"] == "succeeded", run
    model_name = model_name or unique("Churn Model ")
    put_file(client, pid, "predict.py", PREDICT)
    put_file(client, pid, "lineage.yaml", LINEAGE_YAML.format(model=model_name))
    model = create_model(client, pid, name=model_name, auth_enabled=False)
    b, d = build_and_deploy(client, pid, model)
    return p, job, run, model, b, d


def graph(client, crn, **params):
    reply = client.get("/api/v2/lineage", params={"entity": crn, **params})
    assert reply.status == 200, reply
    return reply.body


def labelled(g):
    """(nodes as "kind:name", edges as (from, kind, to)) of a graph."""
    names = {n["id"]: f"{n['kind']}:{n['name']}" for n in g["nodes"]}
    edges = {(names[e["from"]], e["kind"], names[e["to"]]) for e in g["edges"]}
    return set(names.values()), edges


def test_the_scenario_is_recorded_exactly(owner):
    c = owner.client
    p, job, run, model, b, d = scenario(c)
    proj = f"project:{p['name']}"
    run_node = f"run_job:run {run['id']} of train"
    build_proc = f"build_model:build {b['id']}"
    build_ent = f"model_build:build {b['id']}"
    snapshot = f"file_snapshot:snapshot {b['snapshot'][:12]}"
    csv, table, pkl = "dataset:data/churn.csv", "dataset:default.telco_churn@cm", "dataset:model.pkl"
    model_node = f"model:{model['name']}"
    expected_edges = {
        (f"create_project:create project {p['name']}", "output", proj),
        (proj, "contains", "job:train"),
        (proj, "contains", csv),
        (proj, "contains", pkl),
        (proj, "contains", model_node),
        (proj, "contains", snapshot),
        ("job:train", "input", run_node),
        (csv, "input", run_node),
        (table, "input", run_node),
        (run_node, "output", pkl),
        (model_node, "input", build_proc),
        (snapshot, "input", build_proc),
        (csv, "input", build_proc),
        (table, "input", build_proc),
        (pkl, "input", build_proc),
        (build_proc, "output", build_ent),
        (build_ent, "input", f"deploy_model:deploy {d['id']}"),
        (f"deploy_model:deploy {d['id']}", "output", f"model_deployment:deployment {d['id']}"),
    }
    g = graph(c, d["crn"], direction="up", depth=10)
    nodes, edges = labelled(g)
    assert edges == expected_edges
    assert nodes == {x for e in expected_edges for x in (e[0], e[2])}
    assert g["truncated"] is False
    # Downstream of the dataset: both processes that read it, what they made, and so on.
    table_crn = next(n["crn"] for n in g["nodes"] if n["name"] == "default.telco_churn@cm")
    down_nodes, _ = labelled(graph(c, table_crn, direction="down", depth=10))
    assert {run_node, build_proc, build_ent, pkl, f"job_run:train run {run['id']}",
            f"model_deployment:deployment {d['id']}"} <= down_nodes
    # Depth bounds the walk.
    shallow, _ = labelled(graph(c, d["crn"], direction="up", depth=1))
    assert shallow == {f"model_deployment:deployment {d['id']}", f"deploy_model:deploy {d['id']}"}
    # The run's own entity carries how it ended.
    run_entity = next(
        n for n in graph(c, table_crn, direction="down", depth=2)["nodes"]
        if n["kind"] == "job_run"
    )
    assert run_entity["attributes"]["state"] == "succeeded"
    assert run_entity["project_id"] == p["id"]


def test_search_finds_entities_by_name_and_kind(owner):
    c = owner.client
    p = create_project(c)
    put_file(c, p["id"], "w.py", "open('findme-out.csv', 'w').write('x')\n")
    _, run = run_job(c, p["id"], unique("writer"), "w.py")
    assert run["status"] == "succeeded"
    found = c.get("/api/v2/lineage/entities", params={"search": "FINDME", "kind": "dataset"})
    assert found.status == 200, found
    assert [e["name"] for e in found.body["entities"]] == ["findme-out.csv"]
    assert found.body["entities"][0]["qualified_name"] == f"project/{p['id']}/files/findme-out.csv"
    projects = c.get("/api/v2/lineage/entities", params={"kind": "project", "page_size": 1})
    assert projects.status == 200 and len(projects.body["entities"]) == 1
    assert projects.body["next_page_token"]
    assert_error(c.get("/api/v2/lineage/entities", params={"kind": "spaceship"}), 400,
                 "bad_request")
    assert_error(c.get("/api/v2/lineage", params={}), 400, "bad_request")
    assert_error(c.get("/api/v2/lineage", params={"entity": "crn:nope", "depth": 99}), 400,
                 "bad_request")
    assert_error(c.get("/api/v2/lineage", params={"entity": "crn:lathe:ml:default:project/999999"}),
                 404, "not_found")


def test_a_user_never_sees_nodes_of_projects_they_cannot_read(lathe, owner):
    c = owner.client
    secret_name = unique("Secret Model ")
    p, job, run, model, b, d = scenario(c, model_name=secret_name)
    other = lathe.create_user("outsider")
    oc = other.client
    # Not the graph, not by search, not in the export, not in the catalog.
    assert_error(oc.get("/api/v2/lineage", params={"entity": d["crn"]}), 404, "not_found")
    for text in (p["name"], secret_name, "churn.csv", "model.pkl", "telco_churn"):
        found = oc.get("/api/v2/lineage/entities", params={"search": text}).body["entities"]
        assert found == [], (text, found)
    exported = json.dumps(oc.get("/api/v2/lineage/export", params={"format": "json"}).body)
    for text in (p["name"], secret_name, "telco_churn", str(d["crn"])):
        assert text not in exported
    catalog = oc.get("/api/v2/catalog/models", params={"search": secret_name}).body["models"]
    assert catalog == []
    # The outsider's own run reads the same shared table: they see the table and their own
    # side of the graph, never the owner's processes behind it.
    op = create_project(oc)
    put_file(oc, op["id"], "t.py", "import lathe\nlathe.lineage.used('default.telco_churn@cm')\n")
    _, orun = run_job(oc, op["id"], "mine", "t.py")
    assert orun["status"] == "succeeded"
    table = oc.get("/api/v2/lineage/entities",
                   params={"search": "default.telco_churn@cm"}).body["entities"]
    assert [t["name"] for t in table] == ["default.telco_churn@cm"]
    seen = graph(oc, table[0]["crn"], direction="both", depth=10)
    assert {n["project_id"] for n in seen["nodes"]} <= {op["id"], None}
    assert not any(secret_name in n["name"] or n["name"] == p["name"] for n in seen["nodes"])
    # A Viewer of the project sees it all.
    assert c.put(f"/api/v2/projects/{p['id']}/collaborators/{other.username}",
                 {"role": "Viewer"}).status in (200, 201)
    nodes, _ = labelled(graph(oc, d["crn"], direction="up", depth=10))
    assert f"model:{secret_name}" in nodes


def test_atlas_export_references_are_consistent(owner):
    c = owner.client
    p, job, run, model, b, d = scenario(c)
    body = c.get("/api/v2/lineage/export",
                 params={"format": "atlas", "entity": d["crn"], "direction": "up", "depth": 10})
    assert body.status == 200, body
    entities = body.body["entities"]
    by_guid = {e["guid"]: e for e in entities}
    assert len(by_guid) == len(entities)
    qualified = {e["attributes"]["qualifiedName"] for e in entities}
    types = {e["typeName"] for e in entities}
    assert {"ml_project", "ml_model_build", "ml_model_deployment", "ml_run_job", "ml_build_model",
            "ml_deploy_model", "ml_dataset"} <= types
    assert d["crn"] in qualified and model["crn"] in qualified
    for e in entities:
        assert e["guid"].startswith("-")
        for ref in e["attributes"].get("inputs", []) + e["attributes"].get("outputs", []):
            if "guid" in ref:
                assert ref["guid"] in by_guid
                assert by_guid[ref["guid"]]["typeName"] == ref["typeName"]
            assert ref["uniqueAttributes"]["qualifiedName"] in qualified
    deploy_proc = next(e for e in entities if e["typeName"] == "ml_deploy_model")
    assert [r["uniqueAttributes"]["qualifiedName"] for r in deploy_proc["attributes"]["outputs"]] \
        == [d["crn"]]
    assert_error(c.get("/api/v2/lineage/export", params={"format": "xml"}), 400, "bad_request")
    # Delivery status is for site admins.
    assert_error(c.get("/api/v2/lineage/export/status"), 403, "permission_denied")


def test_malformed_lineage_yaml_is_reported_in_the_build_log(owner):
    c = owner.client
    p = create_project(c)
    pid = p["id"]
    put_file(c, pid, "predict.py", PREDICT)
    model = create_model(c, pid, name="m", auth_enabled=False)
    cases = [
        ("m:\n  datasets: [a.csv\n  metadata: {}\n", "lineage.yaml:3:"),
        ("m:\n  hive_table_qualified_names: {a: 1}\n", "lineage.yaml:2:"),
        ("m: just text\n", "lineage.yaml:1:"),
        ("- a list\n", "must map model names"),
        ("other:\n  datasets: [x.csv]\n", 'lineage.yaml has no entry for "m"'),
        ("\x00\xff\xfe garbage: [[[", "lineage.yaml"),
    ]
    for text, expected in cases:
        reply = c.put(f"/api/v2/projects/{pid}/files/lineage.yaml", text.encode("latin-1"))
        assert reply.status == 201, reply
        b = wait_build(c, pid, model["id"], start_build(c, pid, model["id"])["id"])
        log = build_log(c, pid, model["id"], b["id"])
        assert b["state"] == "built", (text, log)
        assert expected in log, (text, log)
        declared = b["reproducibility"]["lineage"] or {}
        assert not declared.get("hive_table_qualified_names") and not declared.get("datasets")
    # A good file after bad ones: the declaration is kept with the build.
    put_file(c, pid, "lineage.yaml", LINEAGE_YAML.format(model="m"))
    b = wait_build(c, pid, model["id"], start_build(c, pid, model["id"])["id"])
    r = b["reproducibility"]
    assert r["lineage"]["hive_table_qualified_names"] == ["default.telco_churn@cm"]
    assert r["lineage"]["metadata"]["training_file"] == "train.py"
    assert r["lineage_problems"] == []
    assert 'trained on 2 dataset(s)' in build_log(c, pid, model["id"], b["id"])


def test_sdk_lineage_calls_are_checked(lathe, owner):
    c = owner.client
    p = create_project(c)
    put_file(c, p["id"], "bad.py", "import lathe\nlathe.lineage.used('')\n")
    _, run = run_job(c, p["id"], "bad", "bad.py")
    assert run["status"] == "failed"
    put_file(c, p["id"], "ok.py", "import lathe\nprint(lathe.lineage.produced('s3://b/out.parquet'))\n")
    job, run = run_job(c, p["id"], "ok", "ok.py")
    assert run["status"] == "succeeded"
    path = f"/api/v2/projects/{p['id']}/jobs/{job['id']}/runs/{run['id']}/lineage"
    assert_error(c.post(path, {}), 400, "bad_request")
    assert_error(c.post(path, {"used": "x"}), 400, "bad_request")
    assert_error(c.post(path, {"used": ["x"], "extra": 1}), 400, "bad_request")
    assert_error(c.post(path.replace(f"/runs/{run['id']}/", "/runs/999999/"), {"used": ["x"]}),
                 404, "not_found")
    viewer = lathe.create_user("viewer")
    c.put(f"/api/v2/projects/{p['id']}/collaborators/{viewer.username}", {"role": "Viewer"})
    assert_error(viewer.client.post(path, {"used": ["x"]}), 403, "permission_denied")
    ok = c.post(path, {"used": ["/home/cdsw/data/in.csv"]})
    assert ok.status == 200, ok
    g = graph(c, f"crn:lathe:ml:default:process/run-job-{run['id']}", direction="both", depth=1)
    names = {n["name"] for n in g["nodes"]}
    assert {"s3://b/out.parquet", "data/in.csv"} <= names


def test_catalog_versions_and_aliases(lathe, owner):
    c = owner.client
    p, job, run, model, b1, d = scenario(c)
    pid, mid = p["id"], model["id"]
    b2 = wait_build(c, pid, mid, start_build(c, pid, mid)["id"])
    assert (b1["version"], b2["version"]) == (1, 2)
    base = f"/api/v2/projects/{pid}/models/{mid}/aliases"
    reply = c.put(f"{base}/champion", {"build_id": b1["id"]})
    assert reply.status == 200, reply
    assert reply.body["version"] == 1
    assert c.put(f"{base}/challenger", {"build_id": b2["id"]}).status == 200
    assert c.put(f"{base}/champion", {"build_id": b2["id"]}).body["version"] == 2
    assert_error(c.put(f"{base}/9bad", {"build_id": b1["id"]}), 400, "bad_request")
    assert_error(c.put(f"{base}/x", {"build_id": 999999}), 404, "not_found")
    items = c.get("/api/v2/catalog/models", params={"search": model["name"]}).body["models"]
    assert len(items) == 1
    item = items[0]
    assert item["aliases"] == {"champion": {"build_id": b2["id"], "version": 2},
                               "challenger": {"build_id": b2["id"], "version": 2}}
    assert [v["version"] for v in item["versions"]] == [2, 1]
    assert item["deployment"]["build_id"] == b1["id"]
    assert item["deployment"]["state"] == "deployed"
    assert item["last_deployed_at"]
    assert {t["name"] for t in item["training_data"]} == {
        "data/churn.csv", "default.telco_churn@cm", "model.pkl"}
    assert item["project_name"] == p["name"]
    status, body, _ = call(lathe.url, model["access_key"], {"x": 1})
    assert status == 200, body
    again = c.get("/api/v2/catalog/models", params={"search": model["name"]}).body["models"][0]
    assert again["deployment"]["requests"] >= 1
    deployed = c.get("/api/v2/catalog/models",
                     params={"project_id": pid, "state": "not_deployed"}).body["models"]
    assert deployed == []
    assert c.delete(f"{base}/challenger").status == 204
    assert_error(c.delete(f"{base}/challenger"), 404, "not_found")
    viewer = lathe.create_user("cat-viewer")
    c.put(f"/api/v2/projects/{pid}/collaborators/{viewer.username}", {"role": "Viewer"})
    assert_error(viewer.client.put(f"{base}/x", {"build_id": b1["id"]}), 403, "permission_denied")
    assert viewer.client.get("/api/v2/catalog/models",
                             params={"search": model["name"]}).body["models"][0]["name"] == \
        model["name"]


def test_rebuild_verify_reproduces_and_reports_changes(lathe, owner):
    c = owner.client
    p = create_project(c)
    pid = p["id"]
    marker = unique("marker")
    source = PREDICT + f"# {marker}\n"
    put_file(c, pid, "predict.py", source)
    put_file(c, pid, "cdsw-build.sh", "echo preparing\n")
    model = create_model(c, pid, auth_enabled=False)
    b = wait_build(c, pid, model["id"], start_build(c, pid, model["id"])["id"])
    assert b["state"] == "built"
    r = b["reproducibility"]
    assert r["python"] and r["interpreter"].endswith("python3")
    assert len(r["build_script_output_sha256"]) == 64
    assert r["snapshot"] == b["snapshot"]
    # The project moves on; the rebuild uses the build's own files all the same.
    put_file(c, pid, "predict.py", "raise SystemExit('this file would not build')\n")
    put_file(c, pid, "new.txt", "x")
    base = f"/api/v2/projects/{pid}/models/{model['id']}/builds"
    rb = c.post(f"{base}/{b['id']}:rebuild")
    assert rb.status == 201, rb
    assert rb.body["rebuild_of"] == b["id"]
    rb = wait_build(c, pid, model["id"], rb.body["id"])
    assert rb["state"] == "built", build_log(c, pid, model["id"], rb["id"])
    assert rb["snapshot"] == b["snapshot"]
    v = c.get(f"{base}/{rb['id']}/verification")
    assert v.status == 200, v
    v = v.body
    assert v["reproduced"] is True, v
    assert v["differences"] == []
    assert v["snapshot_intact"] is True
    assert v["project_changes"]["changed"] == ["predict.py"]
    assert v["project_changes"]["added"] == ["new.txt"]
    assert_error(c.get(f"{base}/{b['id']}/verification"), 400, "bad_request")
    # A stored file that changed on disk is caught.
    manifest = json.loads((lathe.data_dir / "snapshots" / "manifests" /
                           f"{b['snapshot']}.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "predict.py")
    blob = lathe.data_dir / "snapshots" / "blobs" / entry["blob"][:2] / entry["blob"][2:]
    blob.chmod(0o644)
    blob.write_text(source.replace(marker, "tampered"))
    v = c.get(f"{base}/{rb['id']}/verification").body
    assert v["snapshot_intact"] is False
    assert v["corrupted_files"] == ["predict.py"]


def test_examples_replayed_against_a_new_build(owner):
    c = owner.client
    p = create_project(c)
    pid = p["id"]
    put_file(c, pid, "predict.py", "def predict(a):\n    return {'y': a['x'] * 2}\n")
    model = create_model(c, pid, auth_enabled=False)
    b1, d1 = build_and_deploy(c, pid, model)
    base = f"/api/v2/projects/{pid}/models/{model['id']}/builds"
    # Recorded from the serving build itself, or given.
    e = c.post(f"{base}/{b1['id']}/examples", {"request": {"x": 2}})
    assert e.status == 201, e
    assert e.body["response"] == {"y": 4}
    assert c.post(f"{base}/{b1['id']}/examples",
                  {"request": {"x": 3}, "response": {"y": 6}}).status == 201
    listed = c.get(f"{base}/{b1['id']}/examples").body["examples"]
    assert [x["request"] for x in listed] == [{"x": 2}, {"x": 3}]
    put_file(c, pid, "predict.py",
             "def predict(a):\n    return {'y': a['x'] * 2 if a['x'] < 3 else 0}\n")
    b2 = wait_build(c, pid, model["id"], start_build(c, pid, model["id"])["id"])
    assert_error(c.post(f"{base}/{b1['id']}/examples:replay", {"against_build_id": b2["id"]}),
                 409, "conflict")
    wait_deployment(c, pid, deploy(c, pid, model["id"], b2["id"]))
    replay = c.post(f"{base}/{b1['id']}/examples:replay", {"against_build_id": b2["id"]})
    assert replay.status == 200, replay
    assert replay.body["same"] == 1
    assert replay.body["changed"] == [{"example_id": listed[1]["id"], "request": {"x": 3},
                                       "expected": {"y": 6}, "actual": {"y": 0}}]
    assert_error(c.post(f"{base}/{b1['id']}/examples", {"response": 1}), 400, "bad_request")


def test_lineage_is_rebuilt_from_the_store_after_a_restart(lathe_factory, tmp_path):
    server = lathe_factory()
    user = server.create_user("restart")
    c = user.client
    p = create_project(c)
    put_file(c, p["id"], "w.py", "open('out.csv', 'w').write('1')\n")
    job, run = run_job(c, p["id"], "writer", "w.py")
    assert run["status"] == "succeeded"
    before = labelled(graph(c, f"crn:lathe:ml:default:job-run/{run['id']}", direction="up",
                            depth=5))
    server.kill9()
    # Lose every lineage row: a restart records it again from what the other tables hold.
    db = sqlite3.connect(server.data_dir / "lathe.db")
    db.execute("DELETE FROM lineage_edges")
    db.execute("DELETE FROM lineage_nodes")
    db.commit()
    db.close()
    server.start()
    c = server.client(user.key)
    after = labelled(graph(c, f"crn:lathe:ml:default:job-run/{run['id']}", direction="up",
                           depth=5))
    assert after == before
    assert "dataset:out.csv" in labelled(
        graph(c, f"crn:lathe:ml:default:process/run-job-{run['id']}", direction="down"))[0]


def test_a_project_file_where_the_build_writes_its_check_stays_untouched(lathe, owner):
    """The build writes .lathe/lineage-check.txt into its folder; a project file of that name is
    a hard link to a shared stored blob, which must never be written through."""
    c = owner.client
    p = create_project(c)
    pid = p["id"]
    original = unique("mine") + "\n"
    put_file(c, pid, ".lathe/lineage-check.txt", original)
    put_file(c, pid, "predict.py", PREDICT)
    model = create_model(c, pid, auth_enabled=False)
    b = wait_build(c, pid, model["id"], start_build(c, pid, model["id"])["id"])
    assert b["state"] == "built"
    assert "no lineage.yaml" in build_log(c, pid, model["id"], b["id"])
    manifest = json.loads((lathe.data_dir / "snapshots" / "manifests" /
                           f"{b['snapshot']}.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == ".lathe/lineage-check.txt")
    blob = lathe.data_dir / "snapshots" / "blobs" / entry["blob"][:2] / entry["blob"][2:]
    assert blob.read_text() == original
