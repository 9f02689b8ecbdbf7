"""CML's `cdsw` module for code running in Lathe: experiment and model metrics, model calls.

The same functions as `lathe` under CML's names, so code written for CML runs unchanged:

- `track_metric(key, value)`, `track_file(path)`: run metrics and files in a job run; during a
  prediction, `track_metric` attaches the metric to it.
- `@model_metrics`: each call of the model function is a tracked prediction with a uuid.
- `track_delayed_metrics(metrics, prediction_uuid, dev=False)`,
  `track_aggregate_metrics(metrics, start_timestamp_ms, end_timestamp_ms,
  model_deployment_crn=None, dev=False)`, `read_metrics(model_deployment_crn=None,
  start_timestamp_ms=None, end_timestamp_ms=None, model_crn=None, model_build_crn=None,
  dev=False)`: ground truth, window metrics and reading them back; with dev=True or outside a
  Lathe workload they use an in-memory store in this process (see lathe/metrics.py).
- `call_model(model_access_key, ipt, api_key=None)`: calls a deployed model.

Importing it is cheap (a model replica imports it at start-up): no network code is loaded until a
function needs the server.
"""

from lathe.errors import LatheError
from lathe.metrics import (
    _local_metrics,
    model_metrics,
    read_metrics,
    track_aggregate_metrics,
    track_delayed_metrics,
    track_file,
    track_metric,
)
from lathe.models import call_model

__all__ = [
    "LatheError",
    "call_model",
    "model_metrics",
    "read_metrics",
    "track_aggregate_metrics",
    "track_delayed_metrics",
    "track_file",
    "track_metric",
]
