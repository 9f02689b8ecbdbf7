"""The SDK's dev mode (no server): predictions, delayed and aggregate metrics and read_metrics kept
in the process, reached through `lathe`, `cdsw` and `cml.metrics_v1` alike; and `cml.models_v1`
in a real model replica."""

import importlib
import subprocess
import sys

import pytest

from conftest import PYTHON, RESULT, SDK

sys.dont_write_bytecode = True  # nothing written into the repository's sdk/
if str(SDK) not in sys.path:
    sys.path.insert(0, str(SDK))

import cdsw  # noqa: E402
import cml.metrics_v1  # noqa: E402
import cml.models_v1  # noqa: E402
import lathe  # noqa: E402
import lathe.metrics  # noqa: E402

CRN = "crn:lathe:ml:default:model-deployment/2b1e6f0c-0d9e-4a5b-9a51-8f0f3c1d2e3f"
OTHER_CRN = "crn:lathe:ml:default:model-deployment/7c3a9d11-5e2b-4f8a-b6c4-1d2e3f4a5b6c"
PREDICTION_KEYS = {
    "modelDeploymentCrn",
    "modelBuildCrn",
    "modelCrn",
    "predictionUuid",
    "startTimeStampMs",
    "endTimeStampMs",
    "metrics",
}


@pytest.fixture(autouse=True)
def dev_process(monkeypatch):
    """A notebook outside Lathe: no LATHE_* variables, an empty dev store."""
    for name in (
        "LATHE_API_URL",
        "LATHE_API_KEY",
        "CDSW_API_KEY",
        "LATHE_MODEL_DEPLOYMENT_CRN",
        "LATHE_PROJECT_ID",
        "LATHE_JOB_ID",
        "LATHE_WORKLOAD_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    lathe.metrics._clear_dev_store()
    yield
    lathe.metrics._clear_dev_store()


@pytest.fixture
def clock(monkeypatch):
    """Sets the milliseconds @model_metrics stamps predictions with: clock.now = 1000."""

    class Clock:
        now = 1_000

    monkeypatch.setattr(lathe.metrics, "_now_ms", lambda: Clock.now)
    return Clock


def test_round_trip_through_cdsw_cml_and_lathe_shares_one_store():
    @cml.models_v1.cml_model(metrics=True)
    def predict(args):
        cml.metrics_v1.track_metric("input", args)
        cml.metrics_v1.track_metric("score", args["x"] / 10)
        return args["x"] > 5

    @cdsw.model_metrics
    def predict_cdsw(args):
        cdsw.track_metric("score", 0.25)
        return "cdsw"

    first, second, third = predict({"x": 7}), predict({"x": 2}), predict_cdsw(None)
    assert first["prediction"] is True and second["prediction"] is False
    assert third == {"prediction": "cdsw", "uuid": third["uuid"]}

    # Ground truth arrives later, through each module in turn.
    assert cdsw.track_delayed_metrics({"label": 1}, first["uuid"]) == {
        "predictionUuid": first["uuid"],
        "modelDeploymentCrn": None,
    }
    cml.metrics_v1.track_delayed_metrics({"label": 0}, second["uuid"], dev=True)
    lathe.track_delayed_metrics({"label": 1, "note": "late"}, third["uuid"])

    created = lathe.track_aggregate_metrics({"accuracy": 0.5}, 0, 2**41, model_deployment_crn=CRN)
    assert created == {
        "id": created["id"],
        "modelDeploymentCrn": CRN,
        "startTimeStampMs": 0,
        "endTimeStampMs": 2**41,
    }

    via_cml = cml.metrics_v1.read_metrics(model_deployment_crn=CRN, dev=True)
    via_cdsw = cdsw.read_metrics(model_deployment_crn=CRN)
    via_lathe = lathe.read_metrics(CRN, 0, None)
    assert via_cml == via_cdsw == via_lathe
    assert via_cml["rolledUp"] is False and via_cml["summaries"] == []
    predictions, aggregates = via_cml["metrics"][:3], via_cml["metrics"][3:]
    assert [p["predictionUuid"] for p in predictions] == [r["uuid"] for r in (first, second, third)]
    for entry in predictions:
        assert set(entry) == PREDICTION_KEYS
        assert entry["modelDeploymentCrn"] is None  # a dev prediction belongs to no deployment
        assert entry["startTimeStampMs"] <= entry["endTimeStampMs"]
    assert predictions[0]["metrics"] == {"input": {"x": 7}, "score": 0.7, "label": 1}
    assert predictions[1]["metrics"] == {"input": {"x": 2}, "score": 0.2, "label": 0}
    assert predictions[2]["metrics"] == {"score": 0.25, "label": 1, "note": "late"}
    assert aggregates == [
        {
            "modelDeploymentCrn": CRN,
            "modelBuildCrn": None,
            "modelCrn": None,
            "predictionUuid": None,
            "aggregate": True,
            "startTimeStampMs": 0,
            "endTimeStampMs": 2**41,
            "metrics": {"accuracy": 0.5},
        }
    ]


def test_dev_true_never_calls_the_server(monkeypatch):
    monkeypatch.setenv("LATHE_API_URL", "http://127.0.0.1:9")  # nothing listens there

    @lathe.model_metrics
    def predict(args):
        return args

    uuid = predict(1)["uuid"]
    lathe.track_delayed_metrics({"label": 1}, uuid, dev=True)
    lathe.track_aggregate_metrics({"n": 1}, 0, 10, model_deployment_crn=CRN, dev=True)
    answer = lathe.read_metrics(model_deployment_crn=CRN, dev=True)
    assert [e["predictionUuid"] for e in answer["metrics"]] == [uuid, None]
    with pytest.raises(lathe.LatheError, match="cannot reach the Lathe server"):
        lathe.track_delayed_metrics({"label": 1}, uuid)  # dev=False: the server, which is absent


def test_unknown_uuid_is_a_404_like_the_server():
    with pytest.raises(cdsw.LatheError) as raised:
        cdsw.track_delayed_metrics({"label": 1}, "0da0af80-10ab-4d9d-abb6-06e24d6b1100")
    assert raised.value.status == 404 and raised.value.code == "not_found"
    assert "no prediction has uuid 0da0af80-10ab-4d9d-abb6-06e24d6b1100" in str(raised.value)
    assert cdsw.LatheError is lathe.LatheError  # one class to catch, whichever module raised


def test_predictions_are_in_a_window_by_their_start(clock):
    @lathe.model_metrics
    def predict(args):
        clock.now += 50  # the call takes 50 ms
        return args

    uuids = []
    for start in (1_000, 2_000, 3_000):
        clock.now = start
        uuids.append(predict(start)["uuid"])

    def window(start, end):
        entries = lathe.read_metrics(start_timestamp_ms=start, end_timestamp_ms=end)["metrics"]
        return [uuids.index(e["predictionUuid"]) for e in entries]

    assert window(0, 10_000) == [0, 1, 2]
    assert window(1_000, 2_000) == [0, 1]  # both ends included
    assert window(1_001, 2_999) == [1]
    assert window(1_010, 1_060) == []  # inside the first call, but after its start
    assert window(4_000, 5_000) == []
    entry = lathe.read_metrics(start_timestamp_ms=2_000, end_timestamp_ms=2_000)["metrics"][0]
    assert (entry["startTimeStampMs"], entry["endTimeStampMs"]) == (2_000, 2_050)


def test_aggregates_are_in_a_window_when_they_overlap_it(clock):
    clock.now = 10_000  # read_metrics' default end
    for start, end in ((100, 200), (300, 400), (500, 600)):
        lathe.track_aggregate_metrics({"from": start}, start, end, model_deployment_crn=CRN)
    lathe.track_aggregate_metrics({"from": "other"}, 100, 600, model_deployment_crn=OTHER_CRN)

    def window(start, end, crn=CRN):
        answer = lathe.read_metrics(crn, start, end)
        assert all(e["aggregate"] and e["predictionUuid"] is None for e in answer["metrics"])
        return [e["metrics"]["from"] for e in answer["metrics"]]

    assert window(0, 1_000) == [100, 300, 500]
    assert window(250, 450) == [300]
    assert window(150, 350) == [100, 300]
    assert window(200, 300) == [100, 300]  # touching ends overlap
    assert window(201, 299) == []
    assert window(0, 1_000, OTHER_CRN) == ["other"]
    assert window(None, None) == [100, 300, 500]  # defaults: [0, now]


def test_missing_crn_and_bad_windows_are_clear_errors():
    with pytest.raises(lathe.LatheError, match="track_aggregate_metrics needs a model deployment"):
        lathe.track_aggregate_metrics({"n": 1}, 0, 1)
    with pytest.raises(ValueError, match=r"start_timestamp_ms \(5\) is after end_timestamp_ms"):
        lathe.track_aggregate_metrics({"n": 1}, 5, 1, model_deployment_crn=CRN)
    with pytest.raises(TypeError, match="milliseconds since the epoch"):
        lathe.read_metrics(CRN, "yesterday")
    with pytest.raises(TypeError, match="metrics as a dict"):
        lathe.track_delayed_metrics([("label", 1)], "uuid")
    # Dev mode reads without a CRN: everything this process recorded.
    assert lathe.read_metrics() == {"metrics": [], "rolledUp": False, "summaries": []}


def test_deployment_crn_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LATHE_MODEL_DEPLOYMENT_CRN", CRN)
    assert lathe.track_aggregate_metrics({"n": 1}, 0, 1)["modelDeploymentCrn"] == CRN
    lathe.track_aggregate_metrics({"n": 2}, 0, 1, model_deployment_crn=OTHER_CRN)
    assert [e["metrics"]["n"] for e in lathe.read_metrics()["metrics"]] == [1]


def test_reads_are_copies_in_json_form():
    class Scalar:  # what numpy.float32(0.5) looks like to the SDK
        def item(self):
            return 0.5

    @lathe.model_metrics
    def predict(args):
        lathe.track_metric("pair", (1, 2))
        lathe.track_metric("score", Scalar())
        return 0

    predict(None)
    entry = lathe.read_metrics()["metrics"][0]
    assert entry["metrics"] == {"pair": [1, 2], "score": 0.5}
    entry["metrics"]["pair"].append(3)
    assert lathe.read_metrics()["metrics"][0]["metrics"]["pair"] == [1, 2]


def test_track_accuracy_evaluates_a_window_and_records_it(clock):
    @cml.models_v1.cml_model(metrics=True)
    def predict(args):
        cml.metrics_v1.track_metric("output", {"probability": args})
        return args >= 0.5

    truth = {0.9: 1, 0.6: 0, 0.4: 1, 0.7: 1, 0.2: 0}
    uuids = {}
    for i, score in enumerate(truth):
        clock.now = 1_000 + i
        uuids[score] = predict(score)["uuid"]
    for score, label in truth.items():
        if score != 0.2:  # its ground truth is not known yet
            cdsw.track_delayed_metrics({"label": label}, uuids[score])

    clock.now = 5_000
    stats = lathe.track_accuracy("label", "output.probability", 1_000, 2_000, CRN, dev=True)
    assert stats["count"] == 4 and stats["skipped"] == 1 and stats["missing_label"] == 1
    assert stats["accuracy"] == 0.5  # 0.9 and 0.7 right, 0.6 and 0.4 wrong
    assert stats["precision"] == pytest.approx(2 / 3)
    assert stats["recall"] == pytest.approx(2 / 3)
    assert stats["roc_auc"] == pytest.approx(2 / 3)  # of (0.9, 0.7, 0.4) vs (0.6,): 2 of 3 pairs

    recorded = [e for e in lathe.read_metrics(CRN, 1_000, 2_000)["metrics"] if e.get("aggregate")]
    assert len(recorded) == 1 and recorded[0]["metrics"] == stats
    assert (recorded[0]["startTimeStampMs"], recorded[0]["endTimeStampMs"]) == (1_000, 2_000)
    # Evaluating again ignores the aggregate just recorded.
    assert lathe.track_accuracy("label", "output.probability", 1_000, 2_000, CRN) == stats


def test_track_accuracy_records_nothing_without_ground_truth():
    @lathe.model_metrics
    def predict(args):
        lathe.track_metric("score", 0.3)
        return 0

    predict(None)
    stats = lathe.track_accuracy("label", "score", 0, 2**41, model_deployment_crn=CRN)
    assert stats["count"] == 0 and stats["accuracy"] is None and stats["missing_label"] == 1
    assert [e for e in lathe.read_metrics(CRN)["metrics"] if e.get("aggregate")] == []


def test_cml_model_forms():
    def plain(args):
        return args

    assert cml.models_v1.cml_model(plain) is plain
    assert cml.models_v1.cml_model()(plain) is plain
    assert cml.models_v1.cml_model(metrics=False)(plain) is plain
    tracked = cml.models_v1.cml_model(metrics=True)(plain)
    assert tracked.__name__ == "plain" and tracked(3)["prediction"] == 3
    with pytest.raises(TypeError, match="decorates a function"):
        cml.models_v1.cml_model(True)


def test_module_layout_matches_cml():
    for module, names in (
        (cdsw, {"track_metric", "track_file", "model_metrics", "track_delayed_metrics"}),
        (cdsw, {"track_aggregate_metrics", "read_metrics", "call_model"}),
        (cml.metrics_v1, {"track_metric", "track_delayed_metrics", "track_aggregate_metrics"}),
        (cml.metrics_v1, {"read_metrics"}),
        (cml.models_v1, {"cml_model", "call_model"}),
    ):
        assert names <= set(dir(module)), names - set(dir(module))
    assert cdsw.read_metrics is cml.metrics_v1.read_metrics is lathe.read_metrics
    with pytest.raises(ImportError):  # workers need interactive sessions, which Lathe lacks yet
        importlib.import_module("cml.workers_v1")


def test_importing_the_sdk_loads_no_network_code():
    code = (
        "import sys, cdsw, cml.metrics_v1, cml.models_v1, lathe\n"
        "print([m for m in ('urllib.request', 'http.client', 'ssl', 'email') if m in sys.modules])"
    )
    result = subprocess.run(
        [PYTHON, "-c", code],
        env={"PYTHONPATH": str(SDK), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cml_model_with_metrics_in_a_replica(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import cml.metrics_v1 as metrics
            import cml.models_v1 as models

            @models.cml_model(metrics=True)
            def predict(args):
                metrics.track_metric("input", args)
                return args["x"] * 2
            """
        }
    )
    answer = worker.call({"x": 4})
    assert answer.type == RESULT
    assert answer.body == {"prediction": 8, "uuid": answer.meta["uuid"]}
    assert answer.meta["metrics"] == {"input": {"x": 4}}
    assert answer.meta["start_ms"] <= answer.meta["end_ms"]


def test_lathe_track_metric_in_a_threaded_replica(start_worker):
    worker = start_worker(
        {
            "predict.py": """\
            import lathe

            def predict(args):
                lathe.track_metric("i", args)
                return args
            """
        },
        env={"LATHE_CONCURRENCY": "2"},
    )
    answers = {a.id: a for a in (worker.call(i, call_id=i) for i in (1, 2, 3))}
    assert {i: a.meta for i, a in answers.items()} == {i: {"metrics": {"i": i}} for i in (1, 2, 3)}
    assert [answers[i].body for i in (1, 2, 3)] == [1, 2, 3]


def test_prediction_uuids_are_random_version_4_and_never_repeat_across_a_fork():
    import os
    import uuid

    made = [lathe.metrics._uuid4() for _ in range(3000)]  # several refills of the pool
    assert len(set(made)) == len(made)
    for text in made[:600]:
        u = uuid.UUID(text)
        assert str(u) == text
        assert u.version == 4 and u.variant == uuid.RFC_4122
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its uuids must not be the parent's pool
        os.close(read)
        os.write(write, "\n".join(lathe.metrics._uuid4() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    child = set(os.read(read, 1 << 16).decode().split("\n"))
    os.close(read)
    os.waitpid(pid, 0)
    parent = {lathe.metrics._uuid4() for _ in range(50)}
    assert len(child) == 50
    assert not child & parent
