"""Accuracy of a deployed model over time: statistics over its predictions and their ground truth.

Pure functions over two equally long sequences (no numpy needed):

- binary classification: `roc_auc`, `accuracy`, `precision`, `recall`. Labels are 0/1,
  True/False or the strings "1"/"0", "true"/"false", "yes"/"no" (any case). Predictions are
  scores: a prediction is positive when its score is >= `threshold`, so 0/1 and True/False
  predictions work with the default 0.5. Precision with no positive prediction, and recall with
  no positive label, are 0.0 (scikit-learn's `zero_division=0`).
- regression: `rmse`, `mae`.

They raise ValueError for empty or unequal inputs, or values they can't read.

`evaluate` applies them to the entries `read_metrics()` returns, and `track_accuracy` reads a
window, evaluates it and records the result as an aggregate metric of that window.
"""

import collections.abc
import math

from . import metrics as _metrics

__all__ = [
    "roc_auc",
    "accuracy",
    "precision",
    "recall",
    "rmse",
    "mae",
    "evaluate",
    "track_accuracy",
]

KINDS = ("classification", "regression")

_TRUE_WORDS = {"1", "true", "yes", "y", "t"}
_FALSE_WORDS = {"0", "false", "no", "n", "f"}


# ------------------------------------------------------------------------------------------------
# Reading values


def _label(value):
    """A binary label as 0 or 1."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return 1
        if word in _FALSE_WORDS:
            return 0
    else:
        try:
            number = float(value)  # bool, int, float, numpy scalars
        except (TypeError, ValueError):
            number = None
        if number == 1.0:
            return 1
        if number == 0.0:
            return 0
    raise ValueError("a binary label must be 0/1, True/False or yes/no, not %r" % (value,))


def _number(value):
    """A finite float; booleans count as 0 and 1, and "yes"/"no" words too (a hard prediction)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return 1.0
        if word in _FALSE_WORDS:
            return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number, not %r" % (value,)) from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number, not %r" % (value,))
    return number


def _pairs(y_true, y_pred, read_true, read_pred, function):
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            "%s: %d true values but %d predictions" % (function, len(y_true), len(y_pred))
        )
    if not y_true:
        raise ValueError("%s needs at least one value" % function)
    return [read_true(t) for t in y_true], [read_pred(p) for p in y_pred]


def _confusion(y_true, y_score, threshold, function):
    labels, scores = _pairs(y_true, y_score, _label, _number, function)
    tp = fp = fn = tn = 0
    for label, score in zip(labels, scores):
        if score >= threshold:
            if label:
                tp += 1
            else:
                fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


# ------------------------------------------------------------------------------------------------
# Statistics


def roc_auc(y_true, y_score):
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (Mann-Whitney U with average ranks). Needs both classes."""
    labels, scores = _pairs(y_true, y_score, _label, _number, "roc_auc")
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError(
            "roc_auc needs both classes in y_true; all %d labels are %d" % (len(labels), labels[0])
        )
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1  # ranks start at 1; a run of ties shares their mean
        for k in range(i, j + 1):
            ranks[order[k]] = average
        i = j + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels) if label)
    u = rank_sum - positives * (positives + 1) / 2
    return u / (positives * negatives)


def accuracy(y_true, y_pred, threshold=0.5):
    """The share of predictions on the right side of `threshold`."""
    tp, fp, fn, tn = _confusion(y_true, y_pred, threshold, "accuracy")
    return (tp + tn) / (tp + fp + fn + tn)


def precision(y_true, y_pred, threshold=0.5):
    """Of the predictions >= `threshold`, the share whose label is positive; 0.0 when none is."""
    tp, fp, _, _ = _confusion(y_true, y_pred, threshold, "precision")
    return tp / (tp + fp) if tp + fp else 0.0


def recall(y_true, y_pred, threshold=0.5):
    """Of the positive labels, the share predicted >= `threshold`; 0.0 when there is none."""
    tp, _, fn, _ = _confusion(y_true, y_pred, threshold, "recall")
    return tp / (tp + fn) if tp + fn else 0.0


def rmse(y_true, y_pred):
    """Root mean squared error."""
    truths, predictions = _pairs(y_true, y_pred, _number, _number, "rmse")
    return math.sqrt(sum((p - t) ** 2 for t, p in zip(truths, predictions)) / len(truths))


def mae(y_true, y_pred):
    """Mean absolute error."""
    truths, predictions = _pairs(y_true, y_pred, _number, _number, "mae")
    return sum(abs(p - t) for t, p in zip(truths, predictions)) / len(truths)


# ------------------------------------------------------------------------------------------------
# Over read_metrics() entries

_MISSING = object()


def _lookup(metrics, path):
    """metrics[path] if that key exists, else the dotted path walked through nested dicts (and
    lists, by index): "output.probability", "scores.1". _MISSING when absent or null."""
    if path in metrics:
        value = metrics[path]
        return _MISSING if value is None else value
    value = metrics
    for part in path.split("."):
        if isinstance(value, collections.abc.Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return _MISSING if value is None else value


def evaluate(records, label, prediction, kind="classification", threshold=0.5):
    """Statistics of the predictions in `records` against their ground truth.

    `records` is `read_metrics()["metrics"]` (or the whole answer of `read_metrics()`). For each
    prediction, `label` (the ground truth, usually tracked with `track_delayed_metrics`) and
    `prediction` (what the model predicted, tracked with `track_metric`) are looked up in its
    metrics: a key, or a dotted path into nested values such as "output.probability". A
    prediction missing either, or with a value that can't be read, is skipped and counted;
    aggregate entries are ignored.

    Returns a flat dict, ready for `track_aggregate_metrics`:
    `{"kind", "count" (predictions used), "skipped", "missing_label", "missing_prediction",
    "invalid"}` plus, for "classification", "threshold", "positives", "accuracy", "precision",
    "recall" and "roc_auc" (None with a single class), and for "regression", "rmse" and "mae".
    The statistics are None when no prediction could be used.
    """
    if kind not in KINDS:
        raise ValueError("kind must be 'classification' or 'regression', not %r" % (kind,))
    if isinstance(records, collections.abc.Mapping):
        records = records.get("metrics") or []
    read_label = _label if kind == "classification" else _number
    truths, predictions = [], []
    missing_label = missing_prediction = invalid = skipped = 0
    for record in records:
        if record.get("aggregate") or record.get("predictionUuid") is None:
            continue
        metrics = record.get("metrics") or {}
        truth = _lookup(metrics, label)
        predicted = _lookup(metrics, prediction)
        if truth is _MISSING or predicted is _MISSING:
            missing_label += truth is _MISSING
            missing_prediction += predicted is _MISSING
            skipped += 1
            continue
        try:
            truth, predicted = read_label(truth), _number(predicted)
        except ValueError:
            invalid += 1
            skipped += 1
            continue
        truths.append(truth)
        predictions.append(predicted)

    result = {
        "kind": kind,
        "count": len(truths),
        "skipped": skipped,
        "missing_label": missing_label,
        "missing_prediction": missing_prediction,
        "invalid": invalid,
    }
    if kind == "regression":
        result["rmse"] = rmse(truths, predictions) if truths else None
        result["mae"] = mae(truths, predictions) if truths else None
        return result
    positives = sum(truths)
    result["threshold"] = threshold
    result["positives"] = positives
    for name, function in (("accuracy", accuracy), ("precision", precision), ("recall", recall)):
        result[name] = function(truths, predictions, threshold) if truths else None
    both_classes = 0 < positives < len(truths)
    result["roc_auc"] = roc_auc(truths, predictions) if both_classes else None
    return result


def track_accuracy(
    label,
    prediction,
    start_timestamp_ms,
    end_timestamp_ms,
    model_deployment_crn=None,
    kind="classification",
    threshold=0.5,
    dev=False,
):
    """Evaluates a deployment's predictions made in [start, end] and records the statistics as
    aggregate metrics of that window (`track_aggregate_metrics`), e.g. from a daily job; returns
    them. `label`, `prediction`, `kind` and `threshold` are as for `evaluate`;
    `model_deployment_crn` defaults to LATHE_MODEL_DEPLOYMENT_CRN. When no prediction in the
    window has both values yet, nothing is recorded (the result has count 0).
    """
    crn = _metrics._deployment_crn(model_deployment_crn, "track_accuracy")
    answer = _metrics.read_metrics(
        model_deployment_crn=crn,
        start_timestamp_ms=start_timestamp_ms,
        end_timestamp_ms=end_timestamp_ms,
        dev=dev,
    )
    result = evaluate(answer, label, prediction, kind=kind, threshold=threshold)
    if result["count"]:
        _metrics.track_aggregate_metrics(
            result, start_timestamp_ms, end_timestamp_ms, model_deployment_crn=crn, dev=dev
        )
    return result
