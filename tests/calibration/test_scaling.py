import pytest

from goemox.calibration.scaling import TEMPERATURE_BOUNDS, at_bounds, expected_calibration_error, reliability_bins


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


def test_a_temperature_on_an_edge_of_the_search_interval_is_reported():
    assert at_bounds(TEMPERATURE_BOUNDS[0]) and at_bounds([1.0, TEMPERATURE_BOUNDS[1]])
    assert not at_bounds([0.5, 2.0])
