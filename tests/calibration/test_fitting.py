import numpy as np
import pytest

from goemox.calibration import fitting
from goemox.calibration.fitting import (
    MIN_POSITIVES,
    MIN_THRESHOLD_POSITIVES,
    SLOPE_RANGE,
    Support,
    calibration_error,
    cross_fitted_probabilities,
    fit_affine,
    fit_calibration,
    fit_on_validation,
    fit_thresholds,
    smoothed_targets,
)
from goemox.calibration.logit_map import LogitMap
from goemox.calibration.scaling import expected_calibration_error
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import tune_thresholds
from goemox.scores import sigmoid


def synthetic(slopes, intercepts, rows=20000, seed=0):
    """Logits z and labels drawn with P(y=1) = sigmoid(a_c * z + b_c) for each column c."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 4.0, size=(rows, len(slopes)))
    y = (rng.random(z.shape) < sigmoid(z * np.asarray(slopes) + np.asarray(intercepts))).astype(int)
    return z, y


def test_with_plenty_of_data_platt_recovers_each_label_slope_and_intercept():
    z, y = synthetic([0.5, 2.0, 1.0], [-1.0, 0.5, 0.0])
    logit_map, rules = fit_calibration(z, y, "platt")
    assert rules == ["per_label"] * 3
    assert list(logit_map.slope) == pytest.approx([0.5, 2.0, 1.0], rel=0.08)
    assert list(logit_map.intercept) == pytest.approx([-1.0, 0.5, 0.0], abs=0.1)


def test_temperatures_are_recovered_shared_and_per_label():
    z, y = synthetic([0.5, 1.0, 1 / 3], [0.0, 0.0, 0.0])
    per_label, rules = fit_calibration(z, y, "per_label_temperature")
    assert rules == ["per_label"] * 3 and not any(per_label.intercept)
    assert per_label.temperature == pytest.approx([2.0, 1.0, 3.0], rel=0.06)
    shared, rules = fit_calibration(z, y, "temperature")
    assert rules == ["shared"] * 3 and 1.0 < shared.temperature < 3.0


def test_a_fit_minimises_its_penalised_loss():
    z, y = synthetic([0.7], [0.8], rows=300)
    prior, strength = (1.2, -0.5), 10.0
    a, b = fit_affine(z[:, 0], y[:, 0].astype(float), True, prior, strength)

    def loss(a, b):
        s = a * z[:, 0] + b
        return (np.logaddexp(0, s) - y[:, 0] * s).sum() + strength / 2 * (
            (np.log(a / prior[0])) ** 2 + (b - prior[1]) ** 2
        )

    for da, db in ((0.02, 0), (-0.02, 0), (0, 0.05), (0, -0.05)):
        assert loss(a, b) < loss(a + da, b + db)


def test_platt_beats_temperature_where_a_shift_is_needed():
    z, y = synthetic([0.5, 0.5], [-1.5, 1.0])
    eces = {
        m: expected_calibration_error(sigmoid(fit_calibration(z, y, m)[0].apply(z)), y)["class_mean"]
        for m in ("temperature", "per_label_temperature", "platt")
    }
    assert eces["platt"] < 0.02 < eces["per_label_temperature"]


def test_labels_without_the_support_take_the_pooled_map():
    z, y = synthetic([0.5, 0.5, 0.5], [0.0, 0.0, 0.0], rows=2000)
    y[:, 1] = 0  # no positives
    y[:, 2] = 0
    y[: MIN_POSITIVES - 1, 2] = 1  # one positive short of the minimum
    logit_map, rules = fit_calibration(z, y, "platt")
    assert rules == ["per_label", "pooled_slope", "pooled_slope"]
    assert logit_map.slope[1] == logit_map.slope[2] and logit_map.slope[0] == pytest.approx(0.5, rel=0.15)
    # Each keeps an intercept of its own: a label without positives is pushed down further than one with eight.
    assert logit_map.intercept[1] < logit_map.intercept[2]
    temperatures, rules = fit_calibration(z, y, "per_label_temperature")
    assert rules == ["per_label", "pooled", "pooled"] and temperatures.slope[1] == temperatures.slope[2]


def test_a_separable_label_with_few_positives_gets_no_steep_map():
    # The previous release fitted slopes of 76 here: twelve positives all above every negative.
    rng = np.random.default_rng(3)
    z = rng.normal(-2.0, 1.5, size=(60, 3))
    y = (rng.random(z.shape) < sigmoid(z)).astype(int)
    z[:, 1] = np.r_[rng.normal(3.0, 0.3, 12), rng.normal(-3.0, 0.3, 48)]
    y[:, 1] = np.r_[np.ones(12), np.zeros(48)]
    y[:, 2] = 0  # no positives: this label shows the pooled map
    logit_map, rules = fit_calibration(z, y, "platt")
    assert rules == ["per_label", "per_label", "pooled_slope"]
    assert logit_map.slope[1] <= SLOPE_RANGE * logit_map.slope[2] * 1.0001
    assert sigmoid(logit_map.apply(z))[:, 1].max() < 0.99  # smoothed targets: no certainty from 12 rows


def test_smoothed_targets_follow_platt():
    support = Support(np.array([3]), np.array([8]))
    assert smoothed_targets([[1], [0]], support)[:, 0].tolist() == pytest.approx([4 / 5, 1 / 10])


def test_a_mask_fits_each_label_on_its_annotated_rows_only():
    z, y = synthetic([0.5, 2.0], [-1.0, 0.5])
    half = len(y) // 2
    mask = np.ones_like(y)
    mask[:half, 1] = 0
    y_corrupt = y.copy()
    y_corrupt[:half, 1] = 1 - y[:half, 1]  # unannotated rows carry meaningless labels
    masked, _ = fit_calibration(z, y_corrupt, "platt", mask=mask)
    annotated = np.r_[z[:, 0], z[half:, 1]], np.r_[y[:, 0], y[half:, 1]]
    pooled_support = Support.of(annotated[1][:, None])
    pooled = fit_affine(annotated[0], smoothed_targets(annotated[1], pooled_support), True)
    own = Support.of(y[half:, 1:])
    expected = fit_affine(
        z[half:, 1], smoothed_targets(y[half:, 1], own), True, pooled, fitting.PRIOR_STRENGTH,
        (pooled[0] / SLOPE_RANGE, pooled[0] * SLOPE_RANGE),
    )  # fmt: skip
    assert (masked.slope[1], masked.intercept[1]) == pytest.approx(expected, abs=1e-5)
    assert Support.of(y_corrupt, mask).positives[1] == y[half:, 1].sum()


def test_none_fits_nothing_and_unknown_methods_are_refused():
    z, y = synthetic([1.0], [0.0], rows=100)
    assert fit_calibration(z, y, "none") == (None, ["none"])
    with pytest.raises(GoEmoXUsageError, match="calibration method must be one of none, temperature"):
        fit_calibration(z, y, "isotonic")
    with pytest.raises(ValueError, match="same shape"):
        fit_calibration(np.zeros((3, 2)), np.zeros((3, 3)), "platt")
    with pytest.raises(ValueError, match="0/1"):
        fit_calibration(np.zeros((2, 1)), np.full((2, 1), 0.5), "platt")


@pytest.mark.parametrize("strategy", ["per_class", "global"])
def test_supported_thresholds_make_the_decisions_they_made_before_calibration(strategy):
    rng = np.random.default_rng(0)
    logits = rng.normal(-1.5, 2.0, size=(2000, 6))
    labels = (rng.random(logits.shape) < sigmoid(logits / 1.7 - 0.5)).astype(int)
    maps = [LogitMap.from_temperature(0.4, 6)]
    if strategy == "per_class":  # one global threshold has an equivalent only under one map for all labels
        maps.append(LogitMap("platt", (0.3, 0.5, 0.6, 0.9, 1.5, 3.0), (-1, 0, 0.5, 1, 2, -2)))
    before = np.asarray(fit_thresholds(labels, logits, None, strategy)[0])
    for logit_map in maps:
        after = np.asarray(fit_thresholds(labels, logits, logit_map, strategy)[0])
        carried = sigmoid(logit_map.apply(np.broadcast_to(np.log(before / (1 - before)), (1, 6))))[0]
        np.testing.assert_allclose(after, carried, rtol=1e-9)
        assert fit_thresholds(labels, logits, logit_map, "fixed")[0] == [0.5] * 6


def test_labels_with_few_positives_take_the_global_threshold():
    rng = np.random.default_rng(1)
    logits = rng.normal(-2.0, 2.0, size=(300, 3))
    labels = (rng.random(logits.shape) < sigmoid(logits)).astype(int)
    labels[:, 2] = 0
    labels[: MIN_THRESHOLD_POSITIVES - 1, 2] = 1
    thresholds, shared, rules = fit_thresholds(labels, logits, None, "per_class")
    assert rules == ["per_label", "per_label", "global"]
    assert thresholds[2] == shared == tune_thresholds(labels, sigmoid(logits), "global")[0]
    assert thresholds[:2] == tune_thresholds(labels, sigmoid(logits), "per_class")[:2]


def test_forty_rows_store_no_value_fitted_from_a_handful_of_positives():
    # The demo's situation: 40 validation rows, most of ten labels with a handful of positives.
    rng = np.random.default_rng(2)
    logits = rng.normal(-4.0, 2.0, size=(40, 10))
    labels = (rng.random(logits.shape) < sigmoid(logits)).astype(int)
    labels[:6, 0] = 1
    labels[:, 1] = (logits[:, 1] > np.sort(logits[:, 1])[-8]).astype(int)  # the top 7 rows
    fitted = fit_on_validation(logits, labels, "platt", "per_class")
    own = labels.sum(axis=0) >= MIN_POSITIVES
    assert own.tolist() == [True, True] + [False] * 8 and MIN_THRESHOLD_POSITIVES == MIN_POSITIVES
    assert [r["calibration"] for r in fitted.labels] == ["per_label" if ok else "pooled_slope" for ok in own]
    assert [r["threshold"] for r in fitted.labels] == ["per_label" if ok else "global" for ok in own]
    assert len(set(fitted.logit_map.slope[2:])) == 1 and set(fitted.thresholds[2:]) == {fitted.global_threshold}
    assert fitted.fallback_counts() == {"pooled_calibration": 8, "global_threshold": 8}
    assert fitted.summary().startswith(f"8 of 10 labels have fewer than {MIN_POSITIVES} validation positives")
    assert [r["positives"] for r in fitted.labels] == labels.sum(axis=0).tolist()
    assert max(fitted.logit_map.slope) <= SLOPE_RANGE * fitted.logit_map.slope[2] * 1.0001


def test_cross_fitted_probabilities_never_come_from_a_map_that_saw_the_row():
    z, y = synthetic([0.5, 2.0], [-1.0, 0.5], rows=500)
    probs = cross_fitted_probabilities(z, y, "platt", seed=0)
    fold_of = np.random.default_rng(0).permutation(len(z)) % 5
    held = fold_of == 3
    logit_map, _ = fit_calibration(z[~held], y[~held], "platt")
    np.testing.assert_allclose(probs[held], sigmoid(logit_map.apply(z[held])))
    in_sample = sigmoid(fit_calibration(z, y, "platt")[0].apply(z))
    assert not np.allclose(probs, in_sample)


def test_calibration_error_counts_annotated_pairs_only():
    probs = np.array([[0.9, 0.2], [0.1, 0.8]])
    labels = np.array([[1, 1], [0, 0]])
    mask = np.array([[1, 0], [1, 0]])
    error = calibration_error(probs, labels, mask=mask)
    assert error["per_label"][1] is None
    assert error["ece_per_label"] == pytest.approx(0.1) and error["ece_pooled"] == pytest.approx(0.1)
    assert error["nll"] == pytest.approx(-np.log(0.9))
