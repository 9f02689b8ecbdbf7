"""Metrics for code running in Lathe: run metrics, per-prediction metrics, delayed ground truth,
aggregates over a time window, reading them back, and drift between two windows.

Where a metric goes:

- In a model replica the worker (runtime/python/lathe_worker.py) sets `_replica_meta` to the dict
  it sends back as the call's RESULT meta; `track_metric` and `@model_metrics` fill it, and the
  prediction reaches the server with the call's answer, with no request of its own.
- Inside a `@model_metrics` call elsewhere (a session, a job, a test), the prediction is recorded
  in this process: the dev store.
- Otherwise, in a job run, `track_metric` and `track_file` record run metrics and files.

Dev mode: with `dev=True`, or when LATHE_API_URL is not set (not a Lathe workload),
`track_delayed_metrics`, `track_aggregate_metrics` and `read_metrics` use the dev store instead of
the server, and answer in the server's shapes:

- predictions come from `@model_metrics` calls in this process; they carry no CRNs (null), so they
  match whatever CRN is asked for, as CML's dev mode does;
- aggregates keep the deployment CRN they were tracked with, and match a read for that deployment
  (a model or build CRN can't be checked in dev mode: a null CRN matches anything);
- the window [start, end] holds the predictions whose startTimeStampMs is >= start and <= end,
  and the aggregates whose own window overlaps it, as on the server; predictions come first, in
  the order they were made, then aggregates (`"aggregate": true`) by startTimeStampMs;
- delayed metrics are merged into their prediction's metrics (a key tracked again is replaced);
  an unknown uuid is a LatheError with status 404, as from the server;
- the store keeps the newest 10,000 predictions and 10,000 aggregates, and is gone with the process.
"""

import collections
import collections.abc
import functools
import operator
import os
import threading
import time

from . import _client
from .errors import LatheError

__all__ = [
    "track_metric",
    "track_file",
    "model_metrics",
    "track_delayed_metrics",
    "track_aggregate_metrics",
    "read_metrics",
    "drift",
]

# Set by the model worker to the dict that becomes the RESULT meta of the call in progress (with
# LATHE_CONCURRENCY > 1, an object giving each thread its own dict). The worker only looks at it
# after a call when it is non-empty, so a call that tracks nothing costs one truth test. None
# outside a replica.
_replica_meta = None

DEV_STORE_SIZE = 10000

# The dev store. Predictions of finished @model_metrics calls, oldest first, and an index by uuid
# for delayed metrics; aggregates, oldest first. Bounded so a long session can't grow without
# limit. _store_lock guards the three and _next_aggregate_id.
_local_metrics = collections.deque(maxlen=DEV_STORE_SIZE)
_local_index = {}
_aggregates = collections.deque(maxlen=DEV_STORE_SIZE)
_next_aggregate_id = 1
_store_lock = threading.Lock()

# The record of the @model_metrics call in progress outside a replica, per thread.
_local = threading.local()


def _now_ms():
    return time.time_ns() // 1_000_000


# Random (version 4) UUIDs as text, like str(uuid.uuid4()) at a third of its cost: a model
# replica makes one per prediction. Made 256 at a time from one os.urandom call; a forked child
# drops what its parent had made, so the two never hand out the same one.
_uuid_pool = []
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuid4():
    try:
        return _uuid_pool.pop()
    except IndexError:
        pass
    raw = os.urandom(16 * 256).hex()
    made = []
    for i in range(0, len(raw), 32):
        h = raw[i : i + 32]
        made.append(
            "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], _VARIANT[h[16]], h[17:20], h[20:])
        )
    _uuid_pool.extend(made)
    return _uuid_pool.pop()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_uuid_pool.clear)


# ------------------------------------------------------------------------------------------------
# Tracking during a prediction or a run


def _run_path():
    return _client.run_path("track_metric and track_file")


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
    return _client.post(_run_path() + "/metrics", {"key": str(key), "value": value})


def track_file(path):
    """Keeps a copy of a project file (a path relative to /home/cdsw) with this job run."""
    path = os.fspath(path)
    if os.path.isabs(path):
        path = os.path.relpath(path, "/home/cdsw")
    return _client.post(_run_path() + "/artifacts", {"path": path})


def model_metrics(fn):
    """Decorates a model function so each call is a tracked prediction, as in CML.

    Each call gets a uuid4 and start/end times in milliseconds since the epoch; metrics recorded
    with `track_metric` during the call belong to it. The decorated function answers
    `{"prediction": <what fn returned>, "uuid": <the call's uuid>}`. Outside a model replica the
    prediction is kept in this process (see "Dev mode" above); a call that raises keeps nothing.
    """

    @functools.wraps(fn)
    def tracked(*args, **kwargs):
        call_uuid = _uuid4()
        meta = _replica_meta
        if meta is not None:  # in a replica: the hot path, kept short
            meta["uuid"] = call_uuid
            meta["start_ms"] = time.time_ns() // 1_000_000
            meta.setdefault("metrics", {})  # meta may be the worker's per-thread mapping
            prediction = fn(*args, **kwargs)
            meta["end_ms"] = time.time_ns() // 1_000_000
            return {"prediction": prediction, "uuid": call_uuid}
        record = {"uuid": call_uuid, "start_ms": _now_ms(), "end_ms": None, "metrics": {}}
        outer = getattr(_local, "call", None)
        _local.call = record
        try:
            prediction = fn(*args, **kwargs)
        finally:
            _local.call = outer
        record["end_ms"] = _now_ms()
        with _store_lock:
            if len(_local_metrics) == _local_metrics.maxlen:
                _local_index.pop(_local_metrics[0]["uuid"], None)
            _local_metrics.append(record)
            _local_index[call_uuid] = record
        return {"prediction": prediction, "uuid": call_uuid}

    return tracked


# ------------------------------------------------------------------------------------------------
# After the prediction: ground truth, aggregates, reading back


def track_delayed_metrics(metrics, prediction_uuid, dev=False):
    """Adds metrics to a prediction made earlier, typically its ground truth once known.

    `prediction_uuid` is the "uuid" the `@model_metrics` function answered. Returns
    `{"predictionUuid", "modelDeploymentCrn"}`. A uuid no prediction has raises LatheError with
    status 404.
    """
    metrics = _metrics_dict(metrics, "track_delayed_metrics")
    prediction_uuid = str(prediction_uuid)
    if not _client.dev_mode(dev):
        return _client.post(
            "/api/v2/metrics/delayed", {"predictionUuid": prediction_uuid, "metrics": metrics}
        )
    metrics = _client.jsonable(metrics)
    with _store_lock:
        record = _local_index.get(prediction_uuid)
        if record is None:
            raise LatheError(
                "no prediction has uuid %s (dev mode: only the predictions of @model_metrics "
                "functions called in this process are known)" % prediction_uuid,
                status=404,
                code="not_found",
            )
        record["metrics"].update(metrics)
    return {"predictionUuid": prediction_uuid, "modelDeploymentCrn": None}


def track_aggregate_metrics(
    metrics, start_timestamp_ms, end_timestamp_ms, model_deployment_crn=None, dev=False
):
    """Records metrics about a deployment over a time window rather than one prediction, e.g.
    accuracy over the last day.

    `model_deployment_crn` defaults to LATHE_MODEL_DEPLOYMENT_CRN (set in model replicas).
    Returns `{"id", "modelDeploymentCrn", "startTimeStampMs", "endTimeStampMs"}`.
    """
    global _next_aggregate_id

    crn = _deployment_crn(model_deployment_crn, "track_aggregate_metrics")
    start, end = _window(start_timestamp_ms, end_timestamp_ms)
    metrics = _metrics_dict(metrics, "track_aggregate_metrics")
    if not _client.dev_mode(dev):
        return _client.post(
            "/api/v2/metrics/aggregates",
            {
                "modelDeploymentCrn": crn,
                "startTimeStampMs": start,
                "endTimeStampMs": end,
                "metrics": metrics,
            },
        )
    metrics = _client.jsonable(metrics)
    with _store_lock:
        aggregate_id = _next_aggregate_id
        _next_aggregate_id += 1
        _aggregates.append(
            {
                "id": aggregate_id,
                "modelDeploymentCrn": crn,
                "startTimeStampMs": start,
                "endTimeStampMs": end,
                "metrics": metrics,
            }
        )
    return {
        "id": aggregate_id,
        "modelDeploymentCrn": crn,
        "startTimeStampMs": start,
        "endTimeStampMs": end,
    }


def read_metrics(
    model_deployment_crn=None,
    start_timestamp_ms=None,
    end_timestamp_ms=None,
    model_crn=None,
    model_build_crn=None,
    dev=False,
):
    """Reads the predictions and aggregates of a deployment, build or model made in a window.

    The window defaults to [0, now]; with no CRN given, LATHE_MODEL_DEPLOYMENT_CRN is used.
    Returns `{"metrics": [...], "rolledUp": bool, "summaries": [...]}` (every page of it); each
    entry has
    modelDeploymentCrn, modelBuildCrn, modelCrn, predictionUuid, startTimeStampMs,
    endTimeStampMs and metrics (delayed metrics merged in); aggregates have a null predictionUuid
    and `"aggregate": true`.
    """
    start, end = _window(
        0 if start_timestamp_ms is None else start_timestamp_ms,
        _now_ms() if end_timestamp_ms is None else end_timestamp_ms,
    )
    crns = {
        name: str(value)
        for name, value in (
            ("modelDeploymentCrn", model_deployment_crn),
            ("modelCrn", model_crn),
            ("modelBuildCrn", model_build_crn),
        )
        if value
    }
    if not crns and os.environ.get("LATHE_MODEL_DEPLOYMENT_CRN"):
        crns["modelDeploymentCrn"] = os.environ["LATHE_MODEL_DEPLOYMENT_CRN"]
    if _client.dev_mode(dev):
        return _dev_read(crns, start, end)
    if not crns:
        raise LatheError(
            "read_metrics needs a CRN: pass model_deployment_crn=, model_build_crn= or "
            "model_crn= (they are on the model's page; in a model replica "
            "LATHE_MODEL_DEPLOYMENT_CRN is used)"
        )
    body = dict(crns, startTimeStampMs=start, endTimeStampMs=end)
    answer = _client.post("/api/v2/metrics:read", body, read=True)
    # The server answers at most a million predictions per page: follow the pages, so the caller
    # gets the whole window as CML's read_metrics does (aggregates and summaries come once).
    while answer.get("nextPageToken"):
        page = _client.post(
            "/api/v2/metrics:read", dict(body, pageToken=answer.pop("nextPageToken")), read=True
        )
        answer["metrics"].extend(page.get("metrics", []))
        if page.get("nextPageToken"):
            answer["nextPageToken"] = page["nextPageToken"]
    return answer


def drift(reference, current, model_deployment_crn=None, features=None, thresholds=None):
    """Compares the inputs a deployment saw in a window with a reference; computed by the server.

    `reference` is a (start_ms, end_ms) window, or the path of a CSV or JSON-lines file in the
    project; `current` is a (start_ms, end_ms) window. Either may also be the API's own object
    (`{"startTimeStampMs", "endTimeStampMs"}` or `{"file"}`). `features` limits the comparison to
    those names; `thresholds` overrides the server's "psi", "ks_p_value", "jensen_shannon" and
    "wasserstein" limits. Returns the server's answer as it is.
    """
    body = {
        "modelDeploymentCrn": _deployment_crn(model_deployment_crn, "drift"),
        "reference": _drift_side(reference, "reference", file_allowed=True),
        "current": _drift_side(current, "current", file_allowed=False),
    }
    if features is not None:
        body["features"] = [features] if isinstance(features, str) else [str(f) for f in features]
    if thresholds is not None:
        body["thresholds"] = {str(name): float(limit) for name, limit in dict(thresholds).items()}
    return _client.post("/api/v2/metrics:drift", body, read=True)


# ------------------------------------------------------------------------------------------------
# Helpers


def _deployment_crn(crn, function):
    crn = crn or os.environ.get("LATHE_MODEL_DEPLOYMENT_CRN")
    if not crn:
        raise LatheError(
            "%s needs a model deployment CRN: pass model_deployment_crn= (it is on the "
            "deployment's page; in a model replica LATHE_MODEL_DEPLOYMENT_CRN is used)" % function
        )
    return str(crn)


def _metrics_dict(metrics, function):
    if not isinstance(metrics, collections.abc.Mapping):
        raise TypeError(
            "%s takes the metrics as a dict of name -> value, not %s"
            % (function, type(metrics).__name__)
        )
    return {str(name): value for name, value in metrics.items()}


def _timestamp(value, name):
    if isinstance(value, bool):
        raise TypeError("%s must be milliseconds since the epoch, not a bool" % name)
    try:
        ms = operator.index(value)  # int, numpy integers
    except TypeError:
        if not isinstance(value, float):
            raise TypeError(
                "%s must be milliseconds since the epoch (an int), not %s"
                % (name, type(value).__name__)
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("%s must be a finite number of milliseconds" % name) from None
        ms = int(value)
    if ms < 0:
        raise ValueError("%s must not be negative" % name)
    return ms


def _window(start, end):
    start = _timestamp(start, "start_timestamp_ms")
    end = _timestamp(end, "end_timestamp_ms")
    if start > end:
        raise ValueError("start_timestamp_ms (%d) is after end_timestamp_ms (%d)" % (start, end))
    return start, end


def _drift_side(value, name, file_allowed):
    if isinstance(value, collections.abc.Mapping):
        return dict(value)
    if isinstance(value, (str, os.PathLike)):
        if not file_allowed:
            raise TypeError("drift's %s must be a (start_ms, end_ms) window" % name)
        return {"file": os.fspath(value)}
    try:
        start, end = value
    except (TypeError, ValueError):
        raise TypeError(
            "drift's %s must be a (start_ms, end_ms) window%s, not %r"
            % (name, " or a project file" if file_allowed else "", value)
        ) from None
    start, end = _window(start, end)
    return {"startTimeStampMs": start, "endTimeStampMs": end}


def _matches(entry, crns):
    # A null CRN matches anything: dev predictions don't know which deployment they belong to.
    return all(entry.get(name) is None or entry[name] == value for name, value in crns.items())


def _dev_read(crns, start, end):
    with _store_lock:
        predictions = list(_local_metrics)
        aggregates = list(_aggregates)
    entries = []
    for record in predictions:  # no CRNs, so every CRN filter matches
        if not start <= record["start_ms"] <= end:
            continue
        try:
            metrics = _client.jsonable(record["metrics"])
        except (TypeError, ValueError) as error:
            raise TypeError(
                "prediction %s: a tracked metric is not JSON serializable (a deployed model would "
                "fail this call): %s" % (record["uuid"], error)
            ) from None
        entries.append(
            {
                "modelDeploymentCrn": None,
                "modelBuildCrn": None,
                "modelCrn": None,
                "predictionUuid": record["uuid"],
                "startTimeStampMs": record["start_ms"],
                "endTimeStampMs": record["end_ms"],
                "metrics": metrics,
            }
        )
    overlapping = []
    for aggregate in aggregates:
        entry = {
            "modelDeploymentCrn": aggregate["modelDeploymentCrn"],
            "modelBuildCrn": None,
            "modelCrn": None,
            "predictionUuid": None,
            "aggregate": True,
            "startTimeStampMs": aggregate["startTimeStampMs"],
            "endTimeStampMs": aggregate["endTimeStampMs"],
            "metrics": _client.jsonable(aggregate["metrics"]),
        }
        if (
            entry["startTimeStampMs"] <= end
            and entry["endTimeStampMs"] >= start
            and _matches(entry, crns)
        ):
            overlapping.append(entry)
    overlapping.sort(key=lambda entry: entry["startTimeStampMs"])  # stable: ties keep their order
    return {"metrics": entries + overlapping, "rolledUp": False, "summaries": []}


def _clear_dev_store():
    """Forgets every dev prediction and aggregate (for tests)."""
    with _store_lock:
        _local_metrics.clear()
        _local_index.clear()
        _aggregates.clear()
