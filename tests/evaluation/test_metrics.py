"""Tests for goemox.metrics on small hand-checkable cases."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import f1_score
from transformers import EvalPrediction

from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import (
    DEFAULT_GRID,
    SUMMARY_METRICS,
    annotated_metrics,
    apply_thresholds,
    check_finite_logits,
    make_compute_metrics,
    multilabel_metrics,
    threshold_report,
    tune_global_threshold,
    tune_per_class_thresholds,
    tune_thresholds,
)

NAMES = ["joy", "anger", "fear"]

# 4 rows x 3 labels. At threshold 0.5 the predictions are:
#   row 0: true {joy, fear}   pred {joy}
#   row 1: true {anger}       pred {anger, fear}
#   row 2: true {joy, anger}  pred {joy}
#   row 3: true {}            pred {}
Y_TRUE = np.array(
    [
        [1, 0, 1],
        [0, 1, 0],
        [1, 1, 0],
        [0, 0, 0],
    ]
)
PROBS = np.array(
    [
        [0.9, 0.2, 0.4],
        [0.1, 0.8, 0.6],
        [0.7, 0.3, 0.1],
        [0.2, 0.1, 0.3],
    ]
)


def _assert_plain_json(obj: Any) -> None:
    """Assert ``obj`` is built only from plain Python JSON types (no numpy scalars)."""
    assert type(obj) in (dict, list, str, int, float, bool, type(None)), type(obj)
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert type(key) is str
            _assert_plain_json(value)
    elif isinstance(obj, list):
        for value in obj:
            _assert_plain_json(value)


def test_hand_computed_metrics_at_half() -> None:
    m = multilabel_metrics(Y_TRUE, PROBS, NAMES)
    # Per label (TP, FP, FN): joy (2, 0, 0) -> F1 1; anger (1, 0, 1) -> F1 2/3; fear (0, 1, 1) -> F1 0.
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)  # 5/9
    # Pooled TP=3, FP=1, FN=2 -> 2*3 / (2*3 + 1 + 2) = 2/3.
    assert m["micro_f1"] == pytest.approx(2 / 3)
    # Rows 0-2 each have F1 2/3; row 3 (nothing true, nothing predicted) scores 0 with zero_division=0.
    assert m["samples_f1"] == pytest.approx(3 * (2 / 3) / 4)  # 0.5
    # Wrong decisions: (0, fear), (1, fear), (2, anger) -> 3 of 12 wrong -> 9/12 correct.
    assert m["hamming_score"] == pytest.approx(0.75)
    # Only row 3 matches its whole label set exactly.
    assert m["subset_accuracy"] == pytest.approx(0.25)
    # Per-row IoU: 1/2, 1/2, 1/2, and 0 for the empty row (zero_division=0).
    assert m["jaccard_samples"] == pytest.approx(1.5 / 4)
    # Predicted labels per row: 1, 2, 1, 0.
    assert m["label_cardinality_pred"] == pytest.approx(1.0)
    assert m["rows_without_prediction"] == pytest.approx(0.25)
    # ROC-AUC: joy 1, anger 1 (0.8 and 0.3 beat 0.2 and 0.1), fear 2/3 (0.4 beats 0.1 and 0.3, not 0.6).
    assert m["roc_auc_macro"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert m["roc_auc_labels_skipped"] == []
    assert m["per_class"]["anger"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
        "threshold": 0.5,
    }
    assert m["per_class"]["fear"]["f1"] == 0.0
    assert m["per_class"]["joy"]["support"] == 2
    assert m["thresholds"] == [0.5, 0.5, 0.5]


def test_per_label_thresholds_are_used_and_reported() -> None:
    # Lowering fear's threshold to 0.35 adds row 0's fear (0.4) and keeps row 1's false positive (0.6):
    # fear becomes TP=1, FP=1, FN=0 -> F1 2/3, so macro = (1 + 2/3 + 2/3) / 3 = 7/9.
    m = multilabel_metrics(Y_TRUE, PROBS, NAMES, thresholds=[0.5, 0.5, 0.35])
    assert m["macro_f1"] == pytest.approx(7 / 9)
    assert m["per_class"]["fear"]["threshold"] == 0.35
    assert m["thresholds"] == [0.5, 0.5, 0.35]


def test_roc_auc_skips_labels_without_both_classes() -> None:
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    probs = np.array([[0.9, 0.1, 0.2], [0.2, 0.3, 0.4], [0.6, 0.2, 0.9], [0.4, 0.1, 0.5]])
    m = multilabel_metrics(y, probs, NAMES)
    # anger has no positives, fear has no negatives; joy separates perfectly (0.9, 0.6 > 0.4, 0.2).
    assert m["roc_auc_labels_skipped"] == ["anger", "fear"]
    assert m["roc_auc_macro"] == pytest.approx(1.0)


def test_roc_auc_none_when_no_label_qualifies() -> None:
    m = multilabel_metrics(np.zeros((3, 2), dtype=int), np.full((3, 2), 0.3), ["a", "b"])
    assert m["roc_auc_macro"] is None
    assert m["roc_auc_labels_skipped"] == ["a", "b"]
    json.dumps(m)


def test_tune_per_class_thresholds_finds_separating_thresholds() -> None:
    y = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
    probs = np.array([[0.35, 0.9, 0.6], [0.325, 0.8, 0.7], [0.2, 0.1, 0.1], [0.1, 0.1, 0.9]])
    t = tune_per_class_thresholds(y, probs)
    # joy: F1 = 1 for t in (0.2, 0.325] -> grid 0.21..0.32; closest to 0.5 is 0.32.
    # anger: F1 = 1 for t in (0.8, 0.9] -> grid 0.81..0.90; closest to 0.5 is 0.81.
    # fear: no positives -> stays at 0.5.
    assert t == pytest.approx([0.32, 0.81, 0.5])
    assert all(type(x) is float for x in t)
    # Even with a grid that excludes 0.5, a positive-less class keeps 0.5.
    assert tune_per_class_thresholds(y, probs, grid=[0.2, 0.9])[2] == 0.5


def test_tie_breaking_prefers_threshold_closest_to_half() -> None:
    y = np.array([[1], [0]])
    probs = np.array([[0.95], [0.05]])
    # Every grid value in [0.06, 0.95] separates perfectly; 0.5 itself is on the grid.
    assert tune_per_class_thresholds(y, probs) == [0.5]
    assert tune_global_threshold(y, probs) == 0.5
    # Equal distance (0.4 vs 0.6): the lower one wins deterministically.
    assert tune_per_class_thresholds(y, probs, grid=[0.1, 0.4, 0.6]) == [0.4]


def test_tune_global_threshold_hand_case() -> None:
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    probs = np.array([[0.35, 0.15], [0.305, 0.4], [0.2, 0.38], [0.1, 0.25]])
    # joy separates for t in (0.2, 0.305], anger for t in (0.25, 0.38]; both for t in (0.25, 0.305]
    # -> grid 0.26..0.30 all give macro-F1 1; the closest to 0.5 is 0.30.
    assert tune_global_threshold(y, probs) == pytest.approx(0.30)


def test_tuned_thresholds_are_optimal_per_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < 0.3).astype(int)
    probs = np.clip(0.35 * y + rng.random((200, 5)) * 0.65, 0, 1)
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2)

    per_t = tune_per_class_thresholds(y, probs, grid=grid)
    per_class_f1 = np.array([f1_score(y, probs >= g, average=None, zero_division=0) for g in grid])
    chosen_f1 = f1_score(y, apply_thresholds(probs, per_t), average=None, zero_division=0)
    np.testing.assert_allclose(chosen_f1, per_class_f1.max(axis=0))

    global_t = tune_global_threshold(y, probs, grid=grid)
    macro = [f1_score(y, probs >= g, average="macro", zero_division=0) for g in grid]
    assert f1_score(y, probs >= global_t, average="macro", zero_division=0) == pytest.approx(max(macro))


def test_threshold_report_structure_and_json() -> None:
    report = threshold_report(Y_TRUE, PROBS, NAMES)
    assert set(report) == {"fixed_0.5", "global_threshold", "per_class_thresholds"}
    assert report["fixed_0.5"] == multilabel_metrics(Y_TRUE, PROBS, NAMES, 0.5)
    global_t = tune_global_threshold(Y_TRUE, PROBS)
    assert report["global_threshold"]["threshold"] == global_t
    assert report["global_threshold"]["thresholds"] == [global_t] * 3
    assert report["per_class_thresholds"]["thresholds"] == tune_per_class_thresholds(Y_TRUE, PROBS)
    # Tuned on the same data, per-class thresholds cannot do worse than 0.5 on macro-F1.
    assert report["per_class_thresholds"]["macro_f1"] >= report["fixed_0.5"]["macro_f1"]
    json.dumps(report)
    _assert_plain_json(report)


def test_multilabel_metrics_plain_json_from_numpy_inputs() -> None:
    m = multilabel_metrics(Y_TRUE.astype(np.int32), PROBS.astype(np.float32), np.array(NAMES))
    json.dumps(m)
    _assert_plain_json(m)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scores_of_a_diverged_training_are_one_line_before_any_metric(bad: float) -> None:
    logits = np.log(PROBS / (1 - PROBS))
    assert check_finite_logits(logits) is logits
    logits[2, 1] = bad
    with pytest.raises(GoEmoXUsageError, match=r"^the model's scores are NaN or infinite, so its training diverged"):
        check_finite_logits(logits)
    with pytest.raises(GoEmoXUsageError, match="try a lower --learning_rate"):
        make_compute_metrics(NAMES)(EvalPrediction(predictions=(logits,), label_ids=Y_TRUE.astype(np.float32)))


def test_make_compute_metrics_with_tuple_logits() -> None:
    logits = np.log(PROBS / (1 - PROBS)).astype(np.float32)
    hidden = np.zeros((4, 7), dtype=np.float32)
    pred = EvalPrediction(predictions=(logits, hidden), label_ids=Y_TRUE.astype(np.float32))
    out = make_compute_metrics(NAMES)(pred)
    assert set(out) == {*SUMMARY_METRICS, "macro_f1_tuned"}
    assert all(type(v) is float for v in out.values())
    assert out["macro_f1"] == pytest.approx(5 / 9)
    assert out["roc_auc_macro"] == pytest.approx(8 / 9)
    # Per-class tuning on the same data: joy and anger separate (F1 1); fear's best is 2/3
    # (predict 0.4 and 0.6: TP=1, FP=1), so macro = (1 + 1 + 2/3) / 3 = 8/9.
    assert out["macro_f1_tuned"] == pytest.approx(8 / 9)
    json.dumps(out)


def test_make_compute_metrics_stable_sigmoid_and_nan_auc() -> None:
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    pred = EvalPrediction(predictions=logits, label_ids=np.array([[1, 0], [1, 0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = make_compute_metrics(["a", "b"])(pred)
    # Label a has no negatives and b no positives, so no ROC-AUC: NaN keeps the value a float.
    assert np.isnan(out["roc_auc_macro"])
    assert out["hamming_score"] == pytest.approx(0.5)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="shape"):
        multilabel_metrics(Y_TRUE, PROBS[:, :2], NAMES)
    with pytest.raises(ValueError, match="label names"):
        multilabel_metrics(Y_TRUE, PROBS, NAMES[:2])
    with pytest.raises(ValueError, match="0/1"):
        multilabel_metrics(Y_TRUE * 2, PROBS, NAMES)
    with pytest.raises(ValueError, match="thresholds"):
        apply_thresholds(PROBS, [0.5, 0.5])


def test_tune_per_class_thresholds_large_random() -> None:
    rng = np.random.default_rng(42)
    y = (rng.random((5000, 28)) < 0.08).astype(int)
    probs = rng.random((5000, 28))
    t = tune_per_class_thresholds(y, probs)
    assert len(t) == 28
    assert all(type(x) is float and x in DEFAULT_GRID for x in t)


def test_annotated_metrics_with_every_pair_annotated_equal_scikit_learns():
    from sklearn.metrics import accuracy_score, hamming_loss, jaccard_score, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    y = (rng.random((60, 5)) < 0.3).astype(int)
    probs = np.clip(y * 0.4 + rng.random((60, 5)) * 0.6, 0, 1)
    thresholds = [0.3, 0.4, 0.5, 0.6, 0.7]
    pred = (probs >= np.array(thresholds)).astype(int)
    masked = annotated_metrics(y, probs, np.ones_like(y), list("abcde"), thresholds)
    for key, average in (("macro_f1", "macro"), ("micro_f1", "micro"), ("samples_f1", "samples")):
        assert masked[key] == pytest.approx(f1_score(y, pred, average=average, zero_division=0)), key
    assert masked["jaccard_samples"] == pytest.approx(jaccard_score(y, pred, average="samples", zero_division=0))
    assert masked["hamming_score"] == pytest.approx(1 - hamming_loss(y, pred))
    assert masked["subset_accuracy"] == pytest.approx(accuracy_score(y, pred))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    for j, name in enumerate("abcde"):
        scores = masked["per_class"][name]
        assert (scores["precision"], scores["recall"], scores["f1"]) == pytest.approx((precision[j], recall[j], f1[j]))
        assert scores["support"] == support[j] and scores["annotated_rows"] == 60


def test_annotated_metrics_score_each_label_on_the_rows_that_annotate_it():
    y = np.array([[1, 0], [0, 1], [0, 0]])
    probs = np.array([[0.9, 0.9], [0.1, 0.8], [0.2, 0.9]])
    mask = np.array([[1, 0], [1, 1], [1, 0]])  # label b: only row 1 annotates it, and it is right there
    scores = annotated_metrics(y, probs, mask, ["a", "b"])
    assert scores["per_class"]["b"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
        "threshold": 0.5,
        "annotated_rows": 1,
    }
    assert scores["macro_f1"] == 1.0 and scores["hamming_score"] == 1.0
    assert multilabel_metrics(y, probs, ["a", "b"])["per_class"]["b"]["precision"] == pytest.approx(1 / 3)


def test_masked_threshold_tuning_looks_only_at_annotating_rows():
    # Label b: positives at 0.3 and 0.6; five rows that do not annotate b score 0.27 on it. Counted as negatives
    # they make 0.25 a poor threshold (F1 4/9 against 2/3 at 0.4); masked, 0.25 catches both positives (F1 1).
    y = np.array([[1, 1], [0, 1]] + [[0, 0]] * 5)
    probs = np.array([[0.9, 0.3], [0.1, 0.6]] + [[0.1, 0.27]] * 5)
    mask = np.array([[1, 1], [1, 1]] + [[1, 0]] * 5)
    grid = [0.25, 0.4, 0.95]
    assert tune_thresholds(y, probs, "per_class", grids=[grid, grid], mask=mask)[1] == 0.25
    assert tune_thresholds(y, probs, "per_class", grids=[grid, grid])[1] == 0.4
    assert tune_thresholds(y, probs, "global", grids=[grid, grid], mask=mask) == [0.25, 0.25]
    assert tune_thresholds(y, probs, "global", grids=[grid, grid]) == [0.4, 0.4]
    assert tune_thresholds(y, probs, "per_class", mask=np.array([[1, 0]] * 7))[1] == 0.5  # no annotating row
