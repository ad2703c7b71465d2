"""Out-of-domain detection: AUROC of an OOD score, the cutoff taken from in-domain validation texts, and storing
that cutoff in a model's `config.json`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from goemox.errors import GoEmoXUsageError
from goemox.reporting.files import check_output_folder, write_json_atomically


def ood_auroc(in_domain_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """AUROC of a score (higher = more in-domain) for telling in-domain texts (positive) from others."""
    labels = np.r_[np.ones(len(in_domain_scores)), np.zeros(len(other_scores))]
    return float(roc_auc_score(labels, np.r_[in_domain_scores, other_scores]))


def ood_cutoff(in_domain_scores: np.ndarray, quantile: float) -> float:
    """The `quantile` of in-domain OOD scores (higher = more in-domain): texts below it are flagged as unfamiliar."""
    if not 0 < quantile < 1:
        raise GoEmoXUsageError(f"--ood_quantile must be between 0 and 1, got {quantile}")
    return float(np.quantile(in_domain_scores, quantile))


def store_ood_cutoff(model_dir: str | Path, cutoff: dict[str, Any], copy_to: str | Path | None = None) -> Path:
    """Write `ood_cutoff` = {"score", "cutoff", "source"} into a model folder's `config.json`.

    Without `copy_to` the folder's `config.json` is rewritten in place (atomically; every other key is kept).
    With `copy_to`, the folder is first copied there (without `checkpoint-*` folders) and only the copy changes.

    Args:
        model_dir: a local model folder.
        cutoff: the `ood_cutoff` entry of `analysis.json`.
        copy_to: a folder that does not exist yet (or is empty), apart from `model_dir`; the copy is built
            beside it and renamed into place.

    Returns:
        The `config.json` that was written.
    """
    source = Path(model_dir)
    if not (source / "config.json").is_file():
        raise GoEmoXUsageError(f"{model_dir}: storing the OOD cutoff needs a local model folder with a config.json")
    entry = {key: cutoff[key] for key in ("score", "cutoff", "source")}
    if copy_to is None:
        return _write_cutoff(source / "config.json", entry)
    folder = check_output_folder(copy_to, False, inputs=[source], option="--model_copy")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.copying-"))
    try:
        copy = staging / "model"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("checkpoint-*"))
        _write_cutoff(copy / "config.json", entry)
        if folder.exists():
            folder.rmdir()  # checked empty above
        os.replace(copy, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / "config.json"


def _write_cutoff(config_path: Path, entry: dict[str, Any]) -> Path:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["ood_cutoff"] = entry
    write_json_atomically(config_path, config, sort_keys=True)  # as transformers writes config.json
    return config_path
