import numpy as np
import pytest

from goemox.analysis.ood import MIN_TEXTS_BELOW, flag_rate_interval, validation_ood_cutoff


def test_a_cutoff_from_few_texts_says_how_little_it_rests_on():
    logits = np.random.default_rng(0).normal(size=(40, 4))
    entry = validation_ood_cutoff(logits, "negative_energy", 0.05, "the validation split")
    assert entry["n_texts"] == 40 and entry["texts_at_or_below"] < MIN_TEXTS_BELOW
    low, high = entry["flag_rate_interval_90"]
    assert low < 0.05 < high and high > 0.1
    assert f"rests on {entry['texts_at_or_below']} of 40 in-domain texts" in entry["warning"]


def test_a_cutoff_from_many_texts_carries_no_warning_and_a_narrow_interval():
    logits = np.random.default_rng(0).normal(size=(4000, 4))
    entry = validation_ood_cutoff(logits, "max_probability", 0.05, "the validation split")
    assert "warning" not in entry and entry["texts_at_or_below"] == pytest.approx(200, abs=2)
    low, high = entry["flag_rate_interval_90"]
    assert 0.04 < low < 0.05 < high < 0.06


def test_the_flag_rate_interval_matches_simulation():
    # The share of new in-domain texts below the 2nd lowest of 40 scores, over many draws.
    rng = np.random.default_rng(1)
    shares = [np.mean(rng.random(20000) <= np.sort(rng.random(40))[1]) for _ in range(2000)]
    low, high = flag_rate_interval(2, 40)
    assert np.quantile(shares, 0.05) == pytest.approx(low, abs=0.004)
    assert np.quantile(shares, 0.95) == pytest.approx(high, abs=0.008)
