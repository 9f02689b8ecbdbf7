"""Lineage export end to end: a real server sends OpenLineage RunEvents and Apache Atlas entities
for job runs and model builds to receivers in this test, with their credentials, in order, valid
against the OpenLineage schema, and retried when a receiver is down at first."""

import base64
import json
import socket
import subprocess
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import create_project, unique
from models_helpers import build_log, create_model, put_file, start_build, wait_build

CHECK = Path(__file__).resolve().parent / "openlineage_check.py"
VENV_PYTHON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "openlineage" / "OpenLineage-2-0-2.json"

API_KEY = "ol-key-" + "Xq7pW2mZ9tR4"
ATLAS_USER = "lathe-export"
ATLAS_PASSWORD = "atlas-pw-" + "Kd83hQz1"
BASIC = "Basic " + base64.b64encode(f"{ATLAS_USER}:{ATLAS_PASSWORD}".encode()).decode()
FINAL = ("succeeded", "failed", "timedout", "stopped")


class Receiver:
    """An HTTP server on 127.0.0.1 standing in for Marquez and Atlas: records every request and
    answers 200 (Atlas typedefs and entity/bulk answer with bodies shaped like Atlas's)."""

    def __init__(self, port=0):
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self._record()

            def do_PUT(self):
                self._record()

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": json.loads(body) if body else None,
                        }
                    )
                reply = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def events(self):
        return [r["body"] for r in self.snapshot("/api/v1/lineage")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export_server(lathe_factory, ol_url, atlas_url):
    # The secrets go through the environment, as an operator would pass them, not argv.
    return lathe_factory(
        "--lineage-openlineage-url", ol_url,
        "--lineage-atlas-url", atlas_url,
        "--lineage-atlas-user", ATLAS_USER,
        "--lineage-openlineage-namespace", "lathe://export-test",
        env={
            "LATHE_LINEAGE_OPENLINEAGE_API_KEY": API_KEY,
            "LATHE_LINEAGE_ATLAS_PASSWORD": ATLAS_PASSWORD,
        },
    )


def run_job(client, project_id, script, name=None):
    name = name or unique("job")
    path = name + ".py"
    put_file(client, project_id, path, script)
    reply = client.post(f"/api/v2/projects/{project_id}/jobs",
                        {"name": name, "script": path, "kernel": "python3"})
    assert reply.status == 201, reply
    job = reply.body
    reply = client.post(f"/api/v2/projects/{project_id}/jobs/{job['id']}/runs", {})
    assert reply.status == 201, reply
    run = reply.body
    deadline = time.monotonic() + 60
    while True:
        reply = client.get(f"/api/v2/projects/{project_id}/jobs/{job['id']}/runs/{run['id']}")
        assert reply.status == 200, reply
        if reply.body["status"] in FINAL:
            return job, reply.body
        assert time.monotonic() < deadline, f"run still {reply.body}"
        time.sleep(0.1)


def wait_for(what, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def targets(server):
    """The export status entries ({"target", "pending", ...}) the admin API reports."""
    reply = server.admin.get("/api/v2/lineage/export/status")
    assert reply.status == 200, reply
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "target" in value:
                found.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(reply.body)
    return found


def runs_of(events, job_name):
    """{runId: [eventType, ...]} in arrival order for one OpenLineage job name."""
    out = {}
    for e in events:
        if e["job"]["name"] == job_name:
            out.setdefault(e["run"]["runId"], []).append(e["eventType"])
    return out


def ended(events, job_name):
    runs = runs_of(events, job_name)
    return runs if runs and all(len(types) >= 2 for types in runs.values()) else None


def check_against_schema(events):
    """Validates with the committed OpenLineage 2-0-2 schema in tests/.venv (jsonschema). Without
    the schema file only check_shape has run; test_the_openlineage_schema_is_committed says so."""
    if not SCHEMA.exists():
        warnings.warn(f"{SCHEMA.name} is missing: events checked for shape only")
        return
    assert VENV_PYTHON.exists(), "run scripts/setup-test-venv.sh (make test does)"
    out = subprocess.run([str(VENV_PYTHON), str(CHECK)], input=json.dumps(events),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["schema"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json", report
    assert report["errors"] == [], report["errors"]


def check_shape(event):
    """What the schema requires of a RunEvent, checked without it (the schema check may skip)."""
    assert event["eventType"] in ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
    assert event["producer"] == "urn:lathe:server"
    assert event["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    time.strptime(event["eventTime"][:19], "%Y-%m-%dT%H:%M:%S")
    assert event["eventTime"][19] == "." and event["eventTime"].endswith("Z"), event["eventTime"]
    run_id = event["run"]["runId"]
    assert len(run_id) == 36 and run_id[14] == "5" and run_id[19] in "89ab", run_id
    assert event["job"]["namespace"] == "lathe://export-test"
    for ds in event.get("inputs", []) + event.get("outputs", []):
        assert ds["namespace"] and ds["name"], ds
    for facet in event["run"].get("facets", {}).values():
        assert facet["_producer"] and facet["_schemaURL"], facet


@pytest.mark.slow
def test_runs_and_builds_reach_openlineage_and_atlas(lathe_factory):
    receiver = Receiver()
    try:
        server = export_server(lathe_factory, receiver.url, receiver.url)
        owner = server.create_user("export")
        proj = create_project(owner.client)
        pid = proj["id"]
        put_file(owner.client, pid, "data/in.csv", "a,b\n1,2\n")
        good, good_run = run_job(
            owner.client, pid,
            "open('data/out.csv', 'w').write(open('data/in.csv').read())\nprint('done')\n")
        assert good_run["status"] == "succeeded", good_run
        bad, bad_run = run_job(owner.client, pid, "raise SystemExit(3)\n")
        assert bad_run["status"] == "failed", bad_run
        put_file(owner.client, pid, "predict.py", "def predict(args):\n    return 1\n")
        model = create_model(owner.client, pid, auth_enabled=False)
        build = start_build(owner.client, pid, model["id"], "predict.py", "predict")
        build = wait_build(owner.client, pid, model["id"], build["id"])
        assert build["state"] == "built", build_log(owner.client, pid, model["id"], build["id"])

        good_name = f"project-{pid}.job.{good['name']}"
        bad_name = f"project-{pid}.job.{bad['name']}"
        build_name = f"project-{pid}.model-build"
        for name in (good_name, bad_name, build_name):
            wait_for(f"START and an end for {name}", lambda n=name: ended(receiver.events(), n))
        events = receiver.events()

        # START then COMPLETE (or FAIL) for each run, under one runId.
        (good_types,) = runs_of(events, good_name).values()
        assert good_types == ["START", "COMPLETE"], good_types
        (bad_types,) = runs_of(events, bad_name).values()
        assert bad_types == ["START", "FAIL"], bad_types
        (build_types,) = runs_of(events, build_name).values()
        assert build_types == ["START", "COMPLETE"], build_types
        fail = next(e for e in events if e["job"]["name"] == bad_name and e["eventType"] == "FAIL")
        facet = fail["run"]["facets"]["errorMessage"]
        assert facet["message"] and facet["programmingLanguage"], facet
        assert facet["_schemaURL"].startswith("https://openlineage.io/spec/facets/")

        for r in receiver.snapshot("/api/v1/lineage"):
            assert r["method"] == "POST"
            assert r["headers"]["authorization"] == f"Bearer {API_KEY}"
        for e in events:
            check_shape(e)

        # Atlas: the type definitions first, then entity/bulk bodies, all with basic auth.
        wait_for("Atlas entities for the job",
                 lambda: any(ent["typeName"] == "ml_job" and ent["attributes"]["name"] == good["name"]
                             for r in receiver.snapshot("/api/atlas/v2/entity/bulk")
                             for ent in r["body"]["entities"]))
        atlas = [r for r in receiver.snapshot() if r["path"].startswith("/api/atlas/")]
        assert atlas[0]["path"] == "/api/atlas/v2/types/typedefs" and atlas[0]["method"] == "POST"
        assert len([r for r in atlas if r["path"] == "/api/atlas/v2/types/typedefs"]) == 1
        for r in atlas:
            assert r["headers"]["authorization"] == BASIC
        type_names = {d["name"] for d in atlas[0]["body"]["entityDefs"]}
        assert {"ml_project", "ml_job", "ml_job_run", "ml_model_build", "ml_run_job",
                "ml_build_model"} <= type_names
        entities = [ent for r in atlas[1:] for ent in r["body"]["entities"]]
        for ent in entities:
            assert ent["typeName"] in type_names, ent["typeName"]
            assert ent["attributes"]["qualifiedName"].startswith("crn:lathe:ml:"), ent
        projects = [e for e in entities if e["typeName"] == "ml_project"]
        assert any(e["attributes"].get("projectId") == pid for e in projects), projects
        assert any(e["typeName"] == "ml_run_job" for e in entities)
        assert any(e["typeName"] == "ml_build_model" for e in entities)
        # In every body, a reference names an entity of that body.
        for r in atlas[1:]:
            guids = {e["guid"]: e["typeName"] for e in r["body"]["entities"]}
            for e in r["body"]["entities"]:
                refs = list(e["attributes"].get("inputs", [])) + list(e["attributes"].get("outputs", []))
                refs += list(e.get("relationshipAttributes", {}).values())
                for ref in refs:
                    assert guids.get(ref["guid"]) == ref["typeName"], (ref, guids)

        # The admin's view of the outbox, and no secret anywhere in the server's output.
        status = {t["target"]: t for t in targets(server)}
        assert status["openlineage"]["configured"] and status["atlas"]["configured"], status
        assert status["openlineage"]["delivered"] >= 6, status
        assert status["atlas"]["delivered"] >= 1, status
        assert API_KEY not in json.dumps(status) and ATLAS_PASSWORD not in json.dumps(status)
        output = server.output
        assert API_KEY not in output and ATLAS_PASSWORD not in output
        assert BASIC.split()[1] not in output

        check_against_schema(events)
    finally:
        receiver.close()


@pytest.mark.slow
def test_a_receiver_down_at_first_gets_the_events_later(lathe_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = export_server(lathe_factory, url, url)
    owner = server.create_user("export")
    proj = create_project(owner.client)
    job, run = run_job(owner.client, proj["id"], "print('hello')\n")
    assert run["status"] == "succeeded", run
    # Nothing listens yet: the events wait in the outbox with their errors.
    waiting = wait_for("the outbox to hold the run's events",
                       lambda: [t for t in targets(server) if t["target"] == "openlineage"
                                and t["pending"] >= 1 and t["last_error"]])
    assert API_KEY not in waiting[0]["last_error"]
    receiver = Receiver(port)
    try:
        name = f"project-{proj['id']}.job.{job['name']}"
        wait_for("the run's events after the receiver came up",
                 lambda: ended(receiver.events(), name), timeout=90)
        (types,) = runs_of(receiver.events(), name).values()
        assert types == ["START", "COMPLETE"], types
        wait_for("Atlas entities after the receiver came up",
                 lambda: receiver.snapshot("/api/atlas/v2/entity/bulk"), timeout=90)
        assert API_KEY not in server.output and ATLAS_PASSWORD not in server.output
        check_against_schema(receiver.events())
    finally:
        receiver.close()


def test_the_openlineage_schema_is_committed():
    """The schema the events are validated against is a verbatim copy of OpenLineage's."""
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA.name} is not in tests/data/openlineage yet (see SOURCE.md there)")
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "RunEvent" in schema["$defs"]
