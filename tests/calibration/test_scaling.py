import numpy as np
import pytest
import torch

from goemox.calibration.scaling import (
    TEMPERATURE_BOUNDS,
    at_bounds,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from goemox.scores import sigmoid

LABELS = ["joy", "anger", "fear"]
TEXTS = ["i am so happy today", "why would you do that", "i am scared of it", "ok"]


def synthetic(temperatures, rows=20000, seed=0):
    """Logits z and labels drawn with P(y=1) = sigmoid(z / T_c) for each column c."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 4.0, size=(rows, len(temperatures)))
    y = (rng.random(z.shape) < sigmoid(z / np.asarray(temperatures))).astype(int)
    return z, y


def test_fit_recovers_a_known_temperature():
    z, y = synthetic([2.0, 2.0, 2.0])
    assert fit_temperature(z, y) == pytest.approx(2.0, abs=0.08)
    z, y = synthetic([0.5, 0.5])
    assert fit_temperature(z, y) == pytest.approx(0.5, abs=0.03)


def test_fit_per_class_recovers_each_label_temperature():
    z, y = synthetic([0.5, 1.0, 3.0])
    fitted = fit_temperature(z, y, per_class=True)
    assert isinstance(fitted, list) and len(fitted) == 3
    assert fitted == pytest.approx([0.5, 1.0, 3.0], rel=0.06)
    # One shared temperature is a compromise between them.
    assert 0.5 < fit_temperature(z, y) < 3.0


def test_fitted_temperature_minimises_the_loss():
    z, y = synthetic([1.7])
    best = fit_temperature(z, y)
    for other in (best * 0.97, best * 1.03, 1.0):
        assert binary_nll(z, y, best)[0] < binary_nll(z, y, other)[0]


def test_label_without_positives_gets_the_shared_temperature():
    z, y = synthetic([2.0, 2.0])
    y[:, 1] = 0
    fitted = fit_temperature(z, y, per_class=True)
    assert fitted[1] == pytest.approx(fit_temperature(z, y))
    assert not at_bounds(fitted)


def test_separable_data_ends_on_the_search_bound():
    z = np.array([[-3.0], [-2.0], [2.0], [4.0]])
    y = (z > 0).astype(int)
    assert fit_temperature(z, y) == pytest.approx(TEMPERATURE_BOUNDS[0], rel=1e-3)
    assert at_bounds(fit_temperature(z, y))


def test_binary_nll_matches_torch():
    z, y = synthetic([1.0, 3.0], rows=50)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z / 2.5), torch.tensor(y, dtype=torch.float64), reduction="none"
    ).mean(dim=0)
    assert binary_nll(z, y, 2.5) == pytest.approx(expected.numpy(), rel=1e-10)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        fit_temperature(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="0/1"):
        fit_temperature(np.zeros((2, 1)), np.full((2, 1), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.array([[np.nan]]), np.array([[1]]))
    with pytest.raises(ValueError, match="at least one row"):
        fit_temperature(np.zeros((0, 2)), np.zeros((0, 2)))


def test_ece_on_a_hand_checked_example():
    # Label 0: 0.1 (negative) in bin [0.1, 0.2): gap 0.1; 0.3 (positive) in bin [0.3, 0.4): gap 0.7 -> 0.4.
    # Label 1: both 0.9 and positive, one bin: gap 0.1 -> 0.1. All four pairs: (0.1 + 0.7 + 0.1 + 0.1) / 4 = 0.25.
    ece = expected_calibration_error([[0.1, 0.9], [0.3, 0.9]], [[0, 1], [1, 1]], bins=10)
    assert ece["per_class"] == pytest.approx([0.4, 0.1])
    assert ece["class_mean"] == pytest.approx(0.25)
    assert ece["pooled"] == pytest.approx(0.25)
    # A probability of exactly 1 falls into the last bin.
    bins = reliability_bins([1.0, 0.0], [1, 0], bins=4)
    assert bins.counts.tolist() == [1, 0, 0, 1]
    assert bins.ece == 0.0


def test_ece_falls_after_scaling_miscalibrated_scores():
    z, y = synthetic([2.5, 0.6, 1.5], seed=1)  # over-confident in two labels, under-confident in one
    before = expected_calibration_error(sigmoid(z), y)
    for per_class in (False, True):
        t = fit_temperature(z, y, per_class=per_class)
        after = expected_calibration_error(sigmoid(z / np.asarray(t)), y)
        assert after["class_mean"] < before["class_mean"]
        assert after["pooled"] < before["pooled"]
    t = fit_temperature(z, y, per_class=True)
    after = expected_calibration_error(sigmoid(z / np.asarray(t)), y)
    assert max(after["per_class"]) < 0.02 < min(before["per_class"])
