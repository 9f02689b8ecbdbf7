"""Lathe's Python SDK: metrics for runs and models, model calls, and accuracy over time.

    import lathe

    @lathe.model_metrics                  # each call is a prediction with a uuid and metrics
    def predict(args):
        lathe.track_metric("input", args)
        return model.predict(args)

    lathe.track_delayed_metrics({"label": 1}, uuid)      # ground truth, later
    lathe.track_accuracy("label", "score", start_ms, end_ms)   # evaluate a window, record it
    lathe.read_metrics(start_timestamp_ms=start_ms)
    lathe.lineage.used("default.telco_churn@cm")          # lineage from a job run

`cdsw` and `cml` (`cml.metrics_v1`, `cml.models_v1`) are CML's names for the same functions, so
code written for CML runs unchanged. Standard library only; nothing here touches the network at
import time. See sdk/python/README.md for the environment variables and dev mode.
"""

from . import accuracy, lineage
from .accuracy import evaluate, track_accuracy
from .errors import LatheError
from .metrics import (
    drift,
    model_metrics,
    read_metrics,
    track_aggregate_metrics,
    track_delayed_metrics,
    track_file,
    track_metric,
)
from .models import call_model

__version__ = "0.1.0"

__all__ = [
    "LatheError",
    "accuracy",
    "call_model",
    "drift",
    "evaluate",
    "lineage",
    "model_metrics",
    "read_metrics",
    "track_accuracy",
    "track_aggregate_metrics",
    "track_delayed_metrics",
    "track_file",
    "track_metric",
]
