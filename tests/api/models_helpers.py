"""Helpers for the model tests: create, build, deploy and call models over the API."""

import json
import threading
import time
import urllib.error
import urllib.request

from conftest import create_project, unique


def put_file(client, project_id, path, text):
    reply = client.put(f"/api/v2/projects/{project_id}/files/{path}", text.encode())
    assert reply.status == 201, reply


def create_model(client, project_id, **fields):
    body = {"name": unique("model"), **fields}
    reply = client.post(f"/api/v2/projects/{project_id}/models", body)
    assert reply.status == 201, reply
    return reply.body


def start_build(client, project_id, model_id, file_path="predict.py", function_name="predict", **fields):
    reply = client.post(
        f"/api/v2/projects/{project_id}/models/{model_id}/builds",
        {"file_path": file_path, "function_name": function_name, **fields},
    )
    assert reply.status == 201, reply
    return reply.body


def wait_build(client, project_id, model_id, build_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get(f"/api/v2/projects/{project_id}/models/{model_id}/builds/{build_id}")
        assert reply.status == 200, reply
        if reply.body["state"] in ("built", "failed"):
            return reply.body
        assert time.monotonic() < deadline, f"build still {reply.body}"
        time.sleep(0.1)


def build_log(client, project_id, model_id, build_id):
    reply = client.get(f"/api/v2/projects/{project_id}/models/{model_id}/builds/{build_id}/logs")
    assert reply.status == 200, reply
    return reply.raw.decode()


def deploy(client, project_id, model_id, build_id, **config):
    reply = client.post(
        f"/api/v2/projects/{project_id}/models/{model_id}/builds/{build_id}/deployments",
        {"cpu": 0.1, "memory": 0.25, **config},
    )
    assert reply.status == 201, reply
    return reply.body


def deployment_path(project_id, d):
    return (
        f"/api/v2/projects/{project_id}/models/{d['model_id']}/builds/{d['build_id']}"
        f"/deployments/{d['id']}"
    )


def wait_deployment(client, project_id, d, states=("deployed",), timeout=60.0, ready=None):
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get(deployment_path(project_id, d))
        assert reply.status == 200, reply
        body = reply.body
        if body["state"] in states and (ready is None or body["ready_replicas"] == ready):
            return body
        assert body["state"] != "failed" or "failed" in states, body
        assert time.monotonic() < deadline, f"deployment still {body}"
        time.sleep(0.1)


def model_from(client, project_id, source, function_name="predict", file_path="predict.py",
               build_fields=None, **config):
    """Uploads `source`, creates a model, builds it and deploys it; returns (model, deployment)."""
    put_file(client, project_id, file_path, source)
    model = create_model(client, project_id, auth_enabled=False)
    build = start_build(client, project_id, model["id"], file_path, function_name,
                        **(build_fields or {}))
    build = wait_build(client, project_id, model["id"], build["id"])
    assert build["state"] == "built", (build, build_log(client, project_id, model["id"], build["id"]))
    d = deploy(client, project_id, model["id"], build["id"], **config)
    d = wait_deployment(client, project_id, d)
    return model, d


def call(base_url, access_key, request, api_key=None, timeout=30.0, raw_body=None):
    """POST /model; returns (status, parsed body, headers)."""
    data = raw_body if raw_body is not None else json.dumps(
        {"accessKey": access_key, "request": request}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(base_url + "/model", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        return e.code, parsed, dict(e.headers)


class Load:
    """Calls a model from several threads until stopped; counts outcomes."""

    def __init__(self, base_url, access_key, threads=4, request=None):
        self.base_url = base_url
        self.access_key = access_key
        self.request = request if request is not None else {"x": 1}
        self.counts = {}
        self.failures = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while not self.stopping.is_set():
            try:
                status, body, _ = call(self.base_url, self.access_key, self.request, timeout=60)
            except Exception as e:  # a hung or reset connection is a failure too
                status, body = "exception", repr(e)
            with self.lock:
                self.counts[status] = self.counts.get(status, 0) + 1
                if status != 200 and len(self.failures) < 20:
                    self.failures.append((status, body))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in self.threads), "a call never returned"

    def total(self):
        with self.lock:
            return sum(self.counts.values())
