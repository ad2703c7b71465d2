"""Out-of-domain detection: AUROC of an OOD score, the cutoff taken from in-domain validation texts, and storing
that cutoff in a model's `config.json`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta
from sklearn.metrics import roc_auc_score

from goemox.errors import GoEmoXUsageError
from goemox.file_io import check_output_folder
from goemox.run_folder import CONFIG_FILE, check_model_folder, copy_model_files, staged_folder, update_config
from goemox.scores import ood_scores

logger = logging.getLogger(__name__)

DEFAULT_OOD_SCORE = "negative_energy"
"""The OOD score of a stored cutoff unless asked otherwise: on the project's reference model it separates other
domains from GoEmotions far better than the highest probability (docs/guides/calibration.md, "Out-of-domain flags")."""

DEFAULT_OOD_QUANTILE = 0.05
"""Share of in-domain validation texts that fall below a cutoff."""

MIN_TEXTS_BELOW = 5
"""In-domain texts a cutoff should rest on (at or below it); with fewer, the cutoff is stored with a warning that
gives the range of in-domain shares it may flag."""

STORED_KEYS = ("score", "cutoff", "source", "quantile")
"""The keys of a config's `ood_cutoff`."""


def ood_auroc(in_domain_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """AUROC of a score (higher = more in-domain) for telling in-domain texts (positive) from others."""
    labels = np.r_[np.ones(len(in_domain_scores)), np.zeros(len(other_scores))]
    return float(roc_auc_score(labels, np.r_[in_domain_scores, other_scores]))


def ood_cutoff(in_domain_scores: np.ndarray, quantile: float) -> float:
    """The `quantile` of in-domain OOD scores (higher = more in-domain): texts below it are flagged as unfamiliar."""
    if not 0 < quantile < 1:
        raise GoEmoXUsageError(f"--ood_quantile must be between 0 and 1, got {quantile}")
    return float(np.quantile(in_domain_scores, quantile))


def flag_rate_interval(texts_at_or_below: int, texts: int, level: float = 0.9) -> tuple[float, float]:
    """The range of in-domain shares a cutoff at the `k`-th lowest of `n` scores flags (`level` interval).

    For exchangeable texts the share of new in-domain texts below the `k`-th lowest score follows
    `Beta(k, n + 1 - k)`.

    Example:
        >>> [round(v, 3) for v in flag_rate_interval(2, 40)]
        [0.009, 0.113]
    """
    k = max(1, min(texts_at_or_below, texts))
    tail = (1 - level) / 2
    return float(beta.ppf(tail, k, texts + 1 - k)), float(beta.ppf(1 - tail, k, texts + 1 - k))


def validation_ood_cutoff(logits, score: str, quantile: float, source: str, config=None) -> dict[str, Any]:
    """The `ood_cutoff` entry of one OOD score on the logits of in-domain validation texts.

    The entry records how many texts the cutoff rests on and the range of in-domain shares it may flag; when fewer
    than `MIN_TEXTS_BELOW` texts lie at or below it, it carries a `warning` saying so (which `train` and `analyze`
    print).

    Args:
        logits: `(n, L)` logits of the validation texts (of the model the cutoff is for).
        score: `max_probability` or `negative_energy`.
        quantile: the share of validation texts that fall below the cutoff.
        source: where the texts came from, for the entry's `source`.
        config: the model's config; the scores are computed on the logits before its folded calibration.

    Example:
        >>> validation_ood_cutoff(np.zeros((4, 2)), "max_probability", 0.05, "validation")["cutoff"]
        0.5
    """
    scores = ood_scores(logits, score, config)
    cutoff = ood_cutoff(scores, quantile)
    below = int((scores <= cutoff).sum())
    low, high = flag_rate_interval(below, len(scores))
    entry = {
        "score": score,
        "cutoff": cutoff,
        "source": f"{quantile:g} quantile of {score} on {len(logits)} texts of {source}",
        "quantile": quantile,
        "n_texts": len(logits),
        "texts_at_or_below": below,
        "flag_rate_interval_90": [low, high],
        "validation_source": source,
    }
    if below < MIN_TEXTS_BELOW:
        entry["warning"] = (
            f"the cutoff rests on {below} of {len(scores)} in-domain texts: it may flag anywhere from {low:.0%} to "
            f"{high:.0%} of in-domain texts (90% interval); store one from more in-domain texts with "
            "`goemox analyze --store_ood_cutoff`"
        )
        logger.info("Out-of-domain cutoff: %s", entry["warning"])
    return entry


def store_ood_cutoff(model_dir: str | Path, cutoff: dict[str, Any], copy_to: str | Path | None = None) -> Path:
    """Write `ood_cutoff` = {"score", "cutoff", "source", "quantile"} into a model folder's `config.json`.

    Without `copy_to` the folder's `config.json` is rewritten in place (atomically; every other key is kept).
    With `copy_to`, the files that make the model folder (`goemox.run_folder.model_folder_files`: no checkpoints)
    are first copied there and only the copy changes.

    Args:
        model_dir: a local model folder.
        cutoff: the `ood_cutoff` entry of `analysis.json`.
        copy_to: a folder that does not exist yet (or is empty), apart from `model_dir`; the copy is built
            beside it and put in place when complete.

    Returns:
        The `config.json` that was written.

    Example:

    ```python
    >>> store_ood_cutoff("runs/demo", analysis["ood_cutoff"], copy_to="runs/demo-ood")  # doctest: +SKIP
    PosixPath('runs/demo-ood/config.json')
    ```"""
    source = check_model_folder(model_dir, "--store_ood_cutoff writes into one")
    entry = {"ood_cutoff": {key: cutoff[key] for key in STORED_KEYS if key in cutoff}}
    if copy_to is None:
        return update_config(source, entry)
    folder = check_output_folder(copy_to, False, inputs=[source], option="--model_copy")
    with staged_folder(folder) as staging:
        copy_model_files(source, staging)
        update_config(staging, entry)
    return folder / CONFIG_FILE
