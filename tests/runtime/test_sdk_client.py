"""The SDK against a server: a small real HTTP server on a port-0 socket in a thread, which records
each request (path, headers, JSON body) and answers as the Lathe API contract says."""

import http.server
import json
import socket
import sys
import threading
import time

import pytest

from conftest import SDK

sys.dont_write_bytecode = True  # nothing written into the repository's sdk/
if str(SDK) not in sys.path:
    sys.path.insert(0, str(SDK))

import cdsw  # noqa: E402
import cml.metrics_v1  # noqa: E402
import cml.models_v1  # noqa: E402
import lathe  # noqa: E402
import lathe._client  # noqa: E402

CRN = "crn:lathe:ml:default:model-deployment/2b1e6f0c-0d9e-4a5b-9a51-8f0f3c1d2e3f"
MODEL_CRN = "crn:lathe:ml:default:model/5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
UUID = "0da0af80-10ab-4d9d-abb6-06e24d6b1100"


class Request:
    def __init__(self, handler, raw):
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers)
        self.raw = raw
        self.body = json.loads(raw) if raw else None


class FakeLathe(http.server.ThreadingHTTPServer):
    """Answers POSTs from `answers[path]`: (status, JSON value) or (status, bytes)."""

    daemon_threads = True

    def __init__(self, port=0):
        super().__init__(("127.0.0.1", port), Handler)
        self.requests = []
        self.answers = {}
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(Request(self, raw))
        status, answer = self.server.answers.get(
            self.path, (404, {"error": {"code": "not_found", "message": "no route " + self.path}})
        )
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """The fake server, and a job run's environment pointing at it."""
    fake = FakeLathe()
    for name in ("CDSW_API_KEY", "LATHE_MODEL_DEPLOYMENT_CRN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LATHE_API_URL", fake.url + "/")  # a trailing slash is tolerated
    monkeypatch.setenv("LATHE_API_KEY", "replica-key")
    monkeypatch.setenv("LATHE_PROJECT_ID", "p1")
    monkeypatch.setenv("LATHE_JOB_ID", "j1")
    monkeypatch.setenv("LATHE_WORKLOAD_ID", "w1")
    yield fake
    fake.stop()


def only_request(server):
    assert len(server.requests) == 1, [r.path for r in server.requests]
    request = server.requests[0]
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    return request


def test_track_delayed_metrics(server):
    answer = {"predictionUuid": UUID, "modelDeploymentCrn": CRN}
    server.answers["/api/v2/metrics/delayed"] = (200, answer)
    assert cdsw.track_delayed_metrics({"final_label": 1}, UUID) == answer
    request = only_request(server)
    assert request.path == "/api/v2/metrics/delayed"
    assert request.headers["Authorization"] == "Bearer replica-key"
    assert request.body == {"predictionUuid": UUID, "metrics": {"final_label": 1}}


def test_track_aggregate_metrics_takes_the_replicas_crn(server, monkeypatch):
    monkeypatch.setenv("LATHE_MODEL_DEPLOYMENT_CRN", CRN)
    answer = {"id": 7, "modelDeploymentCrn": CRN, "startTimeStampMs": 10, "endTimeStampMs": 20}
    server.answers["/api/v2/metrics/aggregates"] = (201, answer)
    assert cml.metrics_v1.track_aggregate_metrics({"accuracy": 0.9}, 10, 20.7) == answer
    assert only_request(server).body == {
        "modelDeploymentCrn": CRN,
        "startTimeStampMs": 10,
        "endTimeStampMs": 20,
        "metrics": {"accuracy": 0.9},
    }


def test_read_metrics_sends_the_window_and_returns_the_answer_as_is(server, monkeypatch):
    answer = {
        "metrics": [
            {
                "modelDeploymentCrn": CRN,
                "modelBuildCrn": "crn:lathe:ml:default:model-build/b",
                "modelCrn": MODEL_CRN,
                "predictionUuid": UUID,
                "startTimeStampMs": 5,
                "endTimeStampMs": 6,
                "metrics": {"input": [1], "final_label": 1},
            }
        ],
        "rolledUp": False,
        "summaries": [],
        "somethingNew": {"kept": True},
    }
    server.answers["/api/v2/metrics:read"] = (200, answer)
    before = int(time.time() * 1000)
    assert cdsw.read_metrics(model_deployment_crn=CRN) == answer
    after = int(time.time() * 1000)
    body = only_request(server).body
    assert set(body) == {"modelDeploymentCrn", "startTimeStampMs", "endTimeStampMs"}
    assert body["modelDeploymentCrn"] == CRN and body["startTimeStampMs"] == 0
    assert before <= body["endTimeStampMs"] <= after

    server.requests.clear()
    monkeypatch.setenv("LATHE_MODEL_DEPLOYMENT_CRN", CRN)
    lathe.read_metrics(model_crn=MODEL_CRN, start_timestamp_ms=100, end_timestamp_ms=200)
    assert only_request(server).body == {
        "modelCrn": MODEL_CRN,  # a CRN was given: the environment's is not added
        "startTimeStampMs": 100,
        "endTimeStampMs": 200,
    }


def test_read_metrics_follows_the_pages(server, monkeypatch):
    pages = {
        None: {"metrics": [{"predictionUuid": "a"}, {"predictionUuid": "b"}],
               "rolledUp": False, "summaries": [], "nextPageToken": "2"},
        "2": {"metrics": [{"predictionUuid": "c"}], "rolledUp": False, "summaries": [],
              "nextPageToken": "3"},
        "3": {"metrics": [{"predictionUuid": "d"}], "rolledUp": False, "summaries": []},
    }
    seen = []

    def post(path, body, read=False):
        assert path == "/api/v2/metrics:read" and read
        seen.append(body.get("pageToken"))
        return json.loads(json.dumps(pages[body.get("pageToken")]))

    monkeypatch.setattr(lathe._client, "post", post)
    got = lathe.read_metrics(model_deployment_crn=CRN)
    assert seen == [None, "2", "3"]
    assert [m["predictionUuid"] for m in got["metrics"]] == ["a", "b", "c", "d"]
    assert "nextPageToken" not in got


def test_read_metrics_without_any_crn_says_so(server):
    with pytest.raises(lathe.LatheError, match="read_metrics needs a CRN"):
        lathe.read_metrics()
    assert server.requests == []


def test_drift(server):
    server.answers["/api/v2/metrics:drift"] = (200, {"features": {"age": {"psi": 0.01}}})
    answer = lathe.drift(
        "data/train.csv",
        (1_000, 2_000),
        model_deployment_crn=CRN,
        features=["age"],
        thresholds={"psi": 0.2},
    )
    assert answer == {"features": {"age": {"psi": 0.01}}}
    assert only_request(server).body == {
        "modelDeploymentCrn": CRN,
        "reference": {"file": "data/train.csv"},
        "current": {"startTimeStampMs": 1_000, "endTimeStampMs": 2_000},
        "features": ["age"],
        "thresholds": {"psi": 0.2},
    }
    server.requests.clear()
    lathe.drift((0, 10), {"startTimeStampMs": 10, "endTimeStampMs": 20}, CRN)
    assert only_request(server).body == {
        "modelDeploymentCrn": CRN,
        "reference": {"startTimeStampMs": 0, "endTimeStampMs": 10},
        "current": {"startTimeStampMs": 10, "endTimeStampMs": 20},
    }


def test_track_accuracy_reads_evaluates_and_records(server):
    def entry(uuid, label, score):
        return {
            "modelDeploymentCrn": CRN,
            "modelBuildCrn": None,
            "modelCrn": None,
            "predictionUuid": uuid,
            "startTimeStampMs": 1_500,
            "endTimeStampMs": 1_501,
            "metrics": {"label": label, "score": score},
        }

    read = {"metrics": [entry("a", 1, 0.8), entry("b", 0, 0.3)], "rolledUp": False}
    server.answers["/api/v2/metrics:read"] = (200, read)
    server.answers["/api/v2/metrics/aggregates"] = (201, {"id": 1})
    stats = lathe.track_accuracy("label", "score", 1_000, 2_000, model_deployment_crn=CRN)
    assert stats["accuracy"] == 1.0 and stats["roc_auc"] == 1.0
    read_request, record_request = server.requests
    assert read_request.path == "/api/v2/metrics:read"
    assert read_request.body == {
        "modelDeploymentCrn": CRN,
        "startTimeStampMs": 1_000,
        "endTimeStampMs": 2_000,
    }
    assert record_request.path == "/api/v2/metrics/aggregates"
    assert record_request.body == {
        "modelDeploymentCrn": CRN,
        "startTimeStampMs": 1_000,
        "endTimeStampMs": 2_000,
        "metrics": stats,
    }


def test_a_server_error_is_a_lathe_error_in_the_servers_words(server):
    message = "no prediction has uuid " + UUID
    server.answers["/api/v2/metrics/delayed"] = (
        404,
        {"error": {"code": "not_found", "message": message}},
    )
    with pytest.raises(cdsw.LatheError) as raised:
        cdsw.track_delayed_metrics({"final_label": 1}, UUID)
    assert str(raised.value) == message
    assert (raised.value.status, raised.value.code) == (404, "not_found")

    server.answers["/api/v2/metrics:read"] = (502, b"<html>Bad Gateway</html>")
    with pytest.raises(lathe.LatheError) as raised:
        lathe.read_metrics(CRN)
    assert raised.value.status == 502 and raised.value.code is None
    assert "HTTP 502" in str(raised.value)


def test_an_answer_that_is_not_json_is_a_lathe_error(server):
    server.answers["/api/v2/metrics/delayed"] = (200, b"OK")
    with pytest.raises(lathe.LatheError, match="not JSON"):
        lathe.track_delayed_metrics({"a": 1}, UUID)


def test_call_model_returns_the_envelope(server, monkeypatch):
    ok = {"success": True, "response": {"prediction": {"churn": 0.2}, "uuid": UUID}}
    server.answers["/model"] = (200, ok)
    assert cdsw.call_model("mkey", {"x": 1}, api_key="user-model-key") == ok
    request = only_request(server)
    assert request.path == "/model"
    assert request.body == {"accessKey": "mkey", "request": {"x": 1}}
    assert request.headers["Authorization"] == "Bearer user-model-key"

    server.requests.clear()
    refused = {"success": False, "error": {"code": "unauthenticated", "message": "bad key"}}
    server.answers["/model"] = (401, refused)
    assert cml.models_v1.call_model(model_access_key="mkey", ipt="text") == refused
    request = only_request(server)
    assert request.body == {"accessKey": "mkey", "request": "text"}
    assert request.headers["Authorization"] == "Bearer replica-key"  # LATHE_API_KEY

    server.requests.clear()
    monkeypatch.delenv("LATHE_API_KEY")
    server.answers["/model"] = (503, {"success": False, "error": {"message": "no replica"}})
    assert lathe.call_model("mkey", [1, 2])["success"] is False
    assert "Authorization" not in only_request(server).headers

    server.answers["/model"] = (502, b"Bad Gateway")
    with pytest.raises(lathe.LatheError, match="HTTP 502 with something that is not JSON"):
        lathe.call_model("mkey", 1)


def test_cdsw_api_key_is_the_fallback(server, monkeypatch):
    monkeypatch.delenv("LATHE_API_KEY")
    monkeypatch.setenv("CDSW_API_KEY", "cml-key")
    server.answers["/api/v2/metrics/delayed"] = (200, {})
    lathe.track_delayed_metrics({"a": 1}, UUID)
    assert only_request(server).headers["Authorization"] == "Bearer cml-key"


def test_track_metric_and_track_file_in_a_job_run(server):
    server.answers["/api/v2/projects/p1/jobs/j1/runs/w1/metrics"] = (201, {"key": "loss"})
    server.answers["/api/v2/projects/p1/jobs/j1/runs/w1/artifacts"] = (201, {"path": "m.pkl"})
    assert cdsw.track_metric("loss", 0.25) == {"key": "loss"}
    assert cdsw.track_file("/home/cdsw/out/m.pkl") == {"path": "m.pkl"}
    metric, artifact = server.requests
    assert metric.body == {"key": "loss", "value": 0.25}
    assert artifact.body == {"path": "out/m.pkl"}


def test_values_are_sent_as_json(server):
    class Float32:  # numpy.float32 as the SDK sees it
        def item(self):
            return 0.5

    class Array:  # a numpy array
        def tolist(self):
            return [1, 2]

    server.answers["/api/v2/metrics/delayed"] = (200, {})
    lathe.track_delayed_metrics({"score": Float32(), "input": Array(), "pair": (3, 4)}, UUID)
    assert only_request(server).body["metrics"] == {"score": 0.5, "input": [1, 2], "pair": [3, 4]}
    with pytest.raises(ValueError, match="cannot send this to the Lathe server as JSON"):
        lathe.track_delayed_metrics({"score": float("nan")}, UUID)
    assert len(server.requests) == 1  # nothing sent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_lathe_error_without_retrying_writes(monkeypatch):
    monkeypatch.setenv("LATHE_API_URL", "http://127.0.0.1:%d" % free_port())
    monkeypatch.setattr(lathe._client, "READ_RETRY_DELAYS", (5.0,))
    started = time.monotonic()
    with pytest.raises(lathe.LatheError, match="cannot reach the Lathe server") as raised:
        lathe.track_aggregate_metrics({"n": 1}, 0, 1, model_deployment_crn=CRN)
    assert raised.value.status is None
    assert time.monotonic() - started < 4  # no retry for a write


def test_reads_are_retried_when_the_connection_fails(monkeypatch):
    port = free_port()
    monkeypatch.setenv("LATHE_API_URL", "http://127.0.0.1:%d" % port)
    monkeypatch.setattr(lathe._client, "READ_RETRY_DELAYS", (0.3, 0.3, 0.3, 0.3))
    late = {}

    def start_late():  # the server comes up while the SDK is retrying
        time.sleep(0.2)
        late["server"] = FakeLathe(port)
        late["server"].answers["/api/v2/metrics:read"] = (200, {"metrics": []})

    thread = threading.Thread(target=start_late)
    thread.start()
    try:
        assert lathe.read_metrics(CRN) == {"metrics": []}
    finally:
        thread.join()
        late["server"].stop()
    assert len(late["server"].requests) == 1


def test_a_proxy_in_the_environment_is_not_used_for_lathe(server, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:%d" % free_port())  # nothing listens there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    server.answers["/api/v2/metrics/delayed"] = (200, {"predictionUuid": UUID})
    assert lathe.track_delayed_metrics({"a": 1}, UUID) == {"predictionUuid": UUID}
