"""What a training run draws: the per-epoch training curve (`training_curve.png`)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt


def training_curves(log_history: list[dict]) -> dict[str, dict[float, float]]:
    """Per-epoch training loss, validation loss and validation macro-F1 from `Trainer.state.log_history`."""
    curves: dict[str, dict[float, float]] = defaultdict(dict)
    for entry in log_history:
        epoch = entry.get("epoch")
        if epoch is None:
            continue
        if "loss" in entry:
            curves["train_loss"][epoch] = entry["loss"]
        if "eval_loss" in entry:
            curves["eval_loss"][epoch] = entry["eval_loss"]
        if "eval_macro_f1" in entry:
            curves["eval_macro_f1"][epoch] = entry["eval_macro_f1"]
    return dict(curves)


def plot_training_curve(log_history: list[dict], path: str | Path, best_epoch: float | None = None) -> Path:
    """Save a PNG with train / validation loss (left) and validation macro-F1 (right) per epoch.

    Args:
        log_history: `trainer.state.log_history`.
        path: where to write the PNG.
        best_epoch: marks the selected checkpoint, if given.
    """
    curves = training_curves(log_history)
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train loss"), ("eval_loss", "validation loss")):
        points = sorted(curves.get(key, {}).items())
        if points:
            ax_loss.plot(*zip(*points), marker="o", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (smoothed, weighted BCE)")
    ax_loss.legend()
    points = sorted(curves.get("eval_macro_f1", {}).items())
    if points:
        ax_f1.plot(*zip(*points), marker="o", color="tab:green", label="validation macro-F1 (threshold 0.5)")
    if best_epoch is not None:
        for ax in (ax_loss, ax_f1):
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label="selected checkpoint")
    ax_f1.set_xlabel("epoch")
    ax_f1.set_ylabel("macro-F1")
    if ax_f1.get_legend_handles_labels()[0]:  # a final run on all data has no validation curve
        ax_f1.legend()
    fig.suptitle("goemox training curve")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
