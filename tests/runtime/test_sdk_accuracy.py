"""lathe.accuracy's statistics against values worked out by hand, and evaluate() over
read_metrics() entries."""

import math
import sys

import pytest

from conftest import SDK

sys.dont_write_bytecode = True  # nothing written into the repository's sdk/
if str(SDK) not in sys.path:
    sys.path.insert(0, str(SDK))

from lathe import accuracy as acc  # noqa: E402
from lathe import evaluate  # noqa: E402

# Scores against labels, threshold 0.5: 0.9 TP, 0.6 FP, 0.4 FN, 0.7 TP, 0.2 TN, 0.5 FP (>= counts).
LABELS = [1, 0, 1, 1, 0, 0]
SCORES = [0.9, 0.6, 0.4, 0.7, 0.2, 0.5]


def test_roc_auc_counts_ties_as_half():
    # Positives score 0.4, 0.8, 0.4; negatives 0.1, 0.4, 0.9. Of the 9 pairs a positive wins
    # 0.4>0.1, 0.8>0.1, 0.8>0.4, 0.4>0.1 and ties 0.4=0.4 twice: (4 + 2 * 0.5) / 9.
    assert acc.roc_auc([0, 0, 1, 1, 1, 0], [0.1, 0.4, 0.4, 0.8, 0.4, 0.9]) == pytest.approx(5 / 9)
    assert acc.roc_auc(LABELS, SCORES) == pytest.approx(7 / 9)  # 0.4 loses to 0.6 and 0.5
    assert acc.roc_auc([0, 1], [0.2, 0.8]) == 1.0
    assert acc.roc_auc([1, 0], [0.2, 0.8]) == 0.0
    assert acc.roc_auc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]) == 0.5
    assert acc.roc_auc([True, False, "yes", "no"], [4, 1, 3, 2]) == 1.0  # scores need not be <= 1


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError, match="needs both classes"):
        acc.roc_auc([1, 1, 1], [0.2, 0.5, 0.9])


def test_accuracy_precision_recall_at_a_threshold():
    assert acc.accuracy(LABELS, SCORES) == pytest.approx(3 / 6)
    assert acc.precision(LABELS, SCORES) == pytest.approx(2 / 4)
    assert acc.recall(LABELS, SCORES) == pytest.approx(2 / 3)
    # At 0.65 only 0.9 and 0.7 are positive, both right.
    assert acc.accuracy(LABELS, SCORES, threshold=0.65) == pytest.approx(5 / 6)
    assert acc.precision(LABELS, SCORES, threshold=0.65) == 1.0
    assert acc.recall(LABELS, SCORES, threshold=0.65) == pytest.approx(2 / 3)
    # Hard predictions and other label spellings.
    assert acc.accuracy(["yes", "No", "TRUE", "0"], [True, False, 1, 1]) == 0.75


def test_zero_divisions_are_zero():
    assert acc.precision([1, 0, 1], [0.1, 0.2, 0.3]) == 0.0  # no positive prediction
    assert acc.recall([0, 0], [0.9, 0.1]) == 0.0  # no positive label
    assert acc.accuracy([0, 0], [0.9, 0.1]) == 0.5


def test_regression_errors():
    assert acc.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert acc.mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert acc.mae([1.5, -2.0], [0.5, 2.0]) == pytest.approx(2.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: acc.accuracy([], []), "at least one value"),
        (lambda: acc.rmse([1, 2], [1]), "2 true values but 1 predictions"),
        (lambda: acc.mae([1], [float("nan")]), "finite number"),
        (lambda: acc.recall([2], [0.5]), "binary label"),
        (lambda: acc.roc_auc([1, 0], ["high", 0.1]), "expected a number"),
    ],
)
def test_unreadable_inputs_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def prediction(uuid, metrics):
    return {
        "modelDeploymentCrn": "crn:lathe:ml:default:model-deployment/d",
        "modelBuildCrn": "crn:lathe:ml:default:model-build/b",
        "modelCrn": "crn:lathe:ml:default:model/m",
        "predictionUuid": uuid,
        "startTimeStampMs": 1,
        "endTimeStampMs": 2,
        "metrics": metrics,
    }


RECORDS = [
    prediction("a", {"label": 1, "output": {"probability": 0.9}}),
    prediction("b", {"label": 0, "output": {"probability": 0.6}}),
    prediction("c", {"label": "yes", "output": {"probability": 0.4}}),
    prediction("d", {"label": True, "output": {"probability": 0.7}}),
    prediction("e", {"output": {"probability": 0.2}}),  # no ground truth yet
    prediction("f", {"label": 0}),  # the model tracked no output
    prediction("g", {"label": None, "output": {"probability": 0.3}}),  # null is missing
    prediction("h", {"label": "maybe", "output": {"probability": 0.3}}),  # unreadable
    prediction("i", {"label": 1, "output": {"probability": "n/a"}}),  # unreadable
    {
        "modelDeploymentCrn": "crn:lathe:ml:default:model-deployment/d",
        "predictionUuid": None,
        "aggregate": True,
        "startTimeStampMs": 0,
        "endTimeStampMs": 5,
        "metrics": {"label": 1, "output": {"probability": 0.0}},  # not a prediction: ignored
    },
]


def test_evaluate_classification_skips_incomplete_records():
    stats = evaluate(RECORDS, "label", "output.probability")
    assert stats == {
        "kind": "classification",
        "count": 4,
        "skipped": 5,
        "missing_label": 2,
        "missing_prediction": 1,
        "invalid": 2,
        "threshold": 0.5,
        "positives": 3,
        "accuracy": 0.5,
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "roc_auc": pytest.approx(2 / 3),
    }
    # The whole read_metrics() answer works too.
    answer = {"metrics": RECORDS, "rolledUp": False, "summaries": []}
    assert evaluate(answer, "label", "output.probability") == stats


def test_evaluate_paths():
    records = [
        prediction("a", {"truth.value": 3.0, "scores": [1.0, 2.5]}),  # a key with a dot in it
        prediction("b", {"truth.value": 1.0, "scores": [0.0, 2.0]}),
        prediction("c", {"truth.value": 1.0, "scores": [0.0]}),  # no index 1
    ]
    stats = evaluate(records, "truth.value", "scores.1", kind="regression")
    assert stats["count"] == 2 and stats["missing_prediction"] == 1
    assert stats["mae"] == pytest.approx(0.75)  # |2.5 - 3| and |2 - 1|
    assert stats["rmse"] == pytest.approx(math.sqrt((0.25 + 1) / 2))


def test_evaluate_with_nothing_usable():
    stats = evaluate([prediction("a", {"score": 0.5})], "label", "score")
    assert stats["count"] == 0 and stats["missing_label"] == 1
    assert stats["accuracy"] is None and stats["roc_auc"] is None
    one_class = evaluate([prediction("a", {"label": 1, "score": 0.5})], "label", "score")
    assert one_class["accuracy"] == 1.0 and one_class["roc_auc"] is None
    with pytest.raises(ValueError, match="kind must be"):
        evaluate([], "label", "score", kind="ranking")
