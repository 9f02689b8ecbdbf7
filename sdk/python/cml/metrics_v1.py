"""CML's `cml.metrics_v1`: model metrics, as `import cml.metrics_v1 as metrics`.

- `track_metric(key, value)`: a metric of the prediction in progress (or of the job run).
- `track_delayed_metrics(metrics, prediction_uuid, dev=False)`: metrics of an earlier prediction,
  e.g. its ground truth.
- `track_aggregate_metrics(metrics, start_timestamp_ms, end_timestamp_ms,
  model_deployment_crn=None, dev=False)`: metrics of a deployment over a time window.
- `read_metrics(model_deployment_crn=None, start_timestamp_ms=None, end_timestamp_ms=None,
  model_crn=None, model_build_crn=None, dev=False)`: the predictions and aggregates of a window.

With dev=True, or outside a Lathe workload, they use an in-memory store in this process (see
lathe/metrics.py). Decorate the model function with `cml.models_v1.cml_model(metrics=True)`.
"""

from lathe.metrics import (
    read_metrics,
    track_aggregate_metrics,
    track_delayed_metrics,
    track_metric,
)

__all__ = ["read_metrics", "track_aggregate_metrics", "track_delayed_metrics", "track_metric"]
