"""Temperature sampling over corpora."""

import numpy as np
import pytest

from goemox.errors import GoEmoXUsageError
from goemox.training.sampling import MEGABATCH_BATCHES, SourceTemperatureSampler, sampling_weights


def test_source_shares_follow_n_to_the_power_one_over_t():
    ids = np.array([0] * 900 + [1] * 100)
    for temperature, expected in ((1.0, 0.1), (2.0, 10 / 40), (1e9, 0.5)):
        weights = sampling_weights(ids, temperature)
        assert weights.sum() == pytest.approx(1.0)
        assert weights[ids == 1].sum() == pytest.approx(expected, rel=1e-6)
        assert len(set(weights[ids == 0].round(12))) == 1  # rows of one source are equally likely
    with pytest.raises(GoEmoXUsageError, match="--source_temperature must be above 0"):
        sampling_weights(ids, 0.0)


def test_the_sampler_draws_each_epoch_anew_and_reproducibly():
    ids = [0] * 900 + [1] * 100
    first = SourceTemperatureSampler(ids, temperature=2.0, batch_size=8, seed=1)
    epoch0, epoch1 = list(first), list(first)
    again = SourceTemperatureSampler(ids, temperature=2.0, batch_size=8, seed=1)
    again.set_epoch(1)
    assert epoch0 != epoch1 and list(again) == epoch1 and len(epoch0) == 1000
    small_share = np.mean([i >= 900 for i in epoch0 + epoch1])
    assert 0.2 < small_share < 0.3  # 0.25 expected at T = 2


def test_length_grouping_sorts_within_windows_of_batches():
    lengths = np.random.default_rng(0).integers(1, 100, size=1200)
    sampler = SourceTemperatureSampler([0] * 600 + [1] * 600, 1.5, batch_size=4, lengths=lengths, seed=0)
    drawn = np.array(list(sampler))
    window = 4 * MEGABATCH_BATCHES
    for start in range(0, len(drawn), window):
        part = lengths[drawn[start : start + window]]
        assert (np.diff(part) <= 0).all()
