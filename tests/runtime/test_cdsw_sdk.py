"""The cdsw module's model helpers outside a replica (a session or a test): run in a fresh
interpreter with no Lathe environment variables, as a user's notebook would."""

import json
import subprocess

from conftest import PYTHON, SDK


def run_python(code):
    result = subprocess.run(
        [PYTHON, "-c", code],
        env={"PYTHONPATH": str(SDK), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_model_metrics_outside_a_replica_keeps_records_in_process():
    out = run_python(
        """
import json, cdsw

@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("input", args)
    cdsw.track_metric("label", "cat")
    return args["x"] * 2

first = predict({"x": 2})
second = predict({"x": 3})
records = list(cdsw._local_metrics)
print(json.dumps({"first": first, "second": second, "records": records,
                  "name": predict.__name__}))
"""
    )
    result = json.loads(out)
    first, second, records = result["first"], result["second"], result["records"]
    assert set(first) == {"prediction", "uuid"} and first["prediction"] == 4
    assert second["prediction"] == 6 and second["uuid"] != first["uuid"]
    assert [r["uuid"] for r in records] == [first["uuid"], second["uuid"]]
    assert records[0]["metrics"] == {"input": {"x": 2}, "label": "cat"}
    assert records[0]["start_ms"] <= records[0]["end_ms"]
    assert result["name"] == "predict"  # functools.wraps


def test_track_metric_outside_any_run_keeps_the_job_behaviour():
    out = run_python(
        """
import cdsw
try:
    cdsw.track_metric("loss", [1, 2])
except TypeError as e:
    print("type:", e)
try:
    cdsw.track_metric("loss", 0.5)
except cdsw.LatheError as e:
    print("lathe:", e)
"""
    )
    assert "type: track_metric value must be a number or a string" in out
    assert "lathe: track_metric and track_file work inside a Lathe job run" in out


def test_importing_cdsw_is_cheap():
    out = run_python("import sys, cdsw\nprint('urllib.request' in sys.modules)")
    assert out.strip() == "False"
