"""CML-compatible helpers for code running in a Lathe workload: experiment and model metrics.

Inside a job run, `track_metric` records a run metric (a number or a string) and `track_file`
keeps a copy of a project file with the run, so runs can be compared later.

Inside a model replica, `track_metric` attaches the metric to the prediction being computed, and
`@model_metrics` gives each prediction a uuid and start/end times; the model worker sends them to
the server with the call's result. Outside a replica (a session, a test) `@model_metrics` works the
same and keeps the records in this process (`_local_metrics`, newest last). Standard library only.
"""

import collections
import functools
import json
import os
import threading
import time
import uuid

__all__ = ["track_metric", "track_file", "model_metrics"]

# Set by the model worker (runtime/python/lathe_worker.py) to the dict that becomes the RESULT
# meta of the call in progress. The worker only looks at it after a call when it is non-empty, so
# a call that tracks nothing costs one truth test. None outside a replica.
_replica_meta = None

# Outside a replica: the records of finished @model_metrics calls, oldest first, bounded so a
# long session can't grow without limit; and the record of the call in progress, per thread.
_local_metrics = collections.deque(maxlen=10000)
_local = threading.local()


class LatheError(RuntimeError):
    """The server refused a call; the message is the server's."""


def _run_path():
    try:
        return "/api/v2/projects/{}/jobs/{}/runs/{}".format(
            os.environ["LATHE_PROJECT_ID"],
            os.environ["LATHE_JOB_ID"],
            os.environ["LATHE_WORKLOAD_ID"],
        )
    except KeyError as missing:
        raise LatheError(
            "track_metric and track_file work inside a Lathe job run ({} is not set)".format(
                missing
            )
        ) from None


def _post(path, body):
    # Imported here: a model replica imports cdsw at start-up and never posts, and urllib.request
    # pulls in http.client and ssl.
    import urllib.error
    import urllib.request

    url = os.environ.get("LATHE_API_URL", "").rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + os.environ.get("LATHE_API_KEY", ""),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except Exception:  # the body was not ours: report the status
            message = "HTTP {}".format(error.code)
        raise LatheError(message) from None


def _now_ms():
    return time.time_ns() // 1_000_000


def track_metric(key, value):
    """Records a metric.

    In a model replica, or during a `@model_metrics` call, the metric belongs to the current
    prediction and may be any JSON value. In a job run it is a run metric: a number or a string.
    """
    meta = _replica_meta
    if meta is not None:
        metrics = meta.get("metrics")
        if metrics is None:
            metrics = meta["metrics"] = {}
        metrics[str(key)] = value
        return None
    record = getattr(_local, "call", None)
    if record is not None:
        record["metrics"][str(key)] = value
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("track_metric value must be a number or a string")
    return _post(_run_path() + "/metrics", {"key": str(key), "value": value})


def track_file(path):
    """Keeps a copy of a project file (a path relative to /home/cdsw) with this run."""
    path = os.fspath(path)
    if os.path.isabs(path):
        path = os.path.relpath(path, "/home/cdsw")
    return _post(_run_path() + "/artifacts", {"path": path})


def model_metrics(fn):
    """Decorates a model function so each call is a tracked prediction, as in CML.

    Each call gets a uuid4 and start/end times in milliseconds since the epoch; metrics recorded
    with `track_metric` during the call belong to it. The decorated function answers
    `{"prediction": <what fn returned>, "uuid": <the call's uuid>}`.
    """

    @functools.wraps(fn)
    def tracked(*args, **kwargs):
        call_uuid = str(uuid.uuid4())
        meta = _replica_meta
        if meta is not None:
            meta["uuid"] = call_uuid
            meta["start_ms"] = _now_ms()
            meta.setdefault("metrics", {})
            prediction = fn(*args, **kwargs)
            meta["end_ms"] = _now_ms()
            return {"prediction": prediction, "uuid": call_uuid}
        record = {"uuid": call_uuid, "start_ms": _now_ms(), "end_ms": None, "metrics": {}}
        outer = getattr(_local, "call", None)
        _local.call = record
        try:
            prediction = fn(*args, **kwargs)
        finally:
            _local.call = outer
        record["end_ms"] = _now_ms()
        _local_metrics.append(record)
        return {"prediction": prediction, "uuid": call_uuid}

    return tracked
