"""What logits and stored values mean: the one sigmoid, thresholds (applied, stored, defaulted) and OOD scores."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import BertConfig

from goemox.errors import GoEmoXError
from goemox.scores import apply_thresholds, has_stored_thresholds, ood_scores, sigmoid, stored_thresholds


def test_sigmoid_is_stable_for_large_logits():
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    assert values.tolist() == [0.0, 0.5, 1.0]


def test_stored_thresholds_default_to_one_half_and_must_fit_the_labels():
    config = BertConfig(num_labels=3)
    assert stored_thresholds(config) == [0.5, 0.5, 0.5] and not has_stored_thresholds(config)
    config.thresholds = [0.2, 0.4, 0.9]
    assert stored_thresholds(config) == [0.2, 0.4, 0.9] and has_stored_thresholds(config)
    config.thresholds = [0.2, 0.4]
    with pytest.raises(GoEmoXError, match="thresholds has 2 values but the model has 3 labels"):
        stored_thresholds(config)
    config.thresholds = [0.2, 0.4, 1.5]
    with pytest.raises(GoEmoXError, match="between 0 and 1"):
        stored_thresholds(config)


def test_unknown_ood_score_is_refused():
    with pytest.raises(GoEmoXError, match="unknown OOD score 'entropy'"):
        ood_scores(np.zeros((1, 2)), "entropy")


def test_apply_thresholds_and_ensure_top_label() -> None:
    probs = np.array([[0.2, 0.4, 0.1], [0.6, 0.7, 0.1], [0.3, 0.2, 0.45]])
    plain = apply_thresholds(probs, 0.5)
    assert plain.tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert plain.dtype.kind == "i"
    # Empty rows 0 and 2 get their argmax label; row 1 already has predictions and is unchanged.
    top = apply_thresholds(probs, 0.5, ensure_top_label=True)
    assert top.tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 1]]
    # Per-label thresholds; a value equal to its threshold counts as predicted (>=).
    assert apply_thresholds(probs, [0.3, 0.9, 0.45]).tolist() == [[0, 0, 0], [1, 0, 0], [1, 0, 1]]


def test_ood_scores_are_read_before_a_folded_calibration():
    from transformers import PretrainedConfig

    raw = np.array([[2.0, -1.0], [-3.0, 0.5]])
    platt = PretrainedConfig(calibration={"method": "platt", "slope": [0.5, 3.0], "intercept": [-1.0, 2.0]})
    served = raw * np.array([0.5, 3.0]) + np.array([-1.0, 2.0])
    for score in ("max_probability", "negative_energy"):
        np.testing.assert_allclose(ood_scores(served, score, platt), ood_scores(raw, score))
    older = PretrainedConfig(calibration_temperature=[2.0, 4.0])
    np.testing.assert_allclose(
        ood_scores(raw / np.array([2.0, 4.0]), "negative_energy", older), ood_scores(raw, "negative_energy")
    )
    assert not np.allclose(ood_scores(served, "negative_energy"), ood_scores(raw, "negative_energy"))
