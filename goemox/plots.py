"""Plots: training curves written next to a trained model, and the heatmaps of the analysis reports."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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


def plot_heatmap(
    matrix,
    row_labels: list[str],
    column_labels: list[str],
    path: str | Path,
    *,
    title: str,
    colorbar_label: str,
    annotations=None,
    xlabel: str = "",
    ylabel: str = "",
    vmax: float | None = None,
) -> Path:
    """Save a labelled heatmap sized to its number of rows and columns (readable with 28+ labels).

    Args:
        matrix: `(rows, columns)` values; NaN cells are left blank.
        row_labels: names down the left side.
        column_labels: names along the bottom (rotated).
        path: where to write the PNG.
        title: figure title.
        colorbar_label: what the colours measure.
        annotations: optional `(rows, columns)` strings written in the cells ("" for none).
        xlabel: axis title under the columns.
        ylabel: axis title beside the rows.
        vmax: top of the colour scale (default: the largest value).
    """
    values = np.asarray(matrix, dtype=float)
    n_rows, n_columns = values.shape
    width = min(4.0 + 0.42 * n_columns, 24.0)
    height = min(2.5 + 0.36 * n_rows, 20.0)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_columns), column_labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(range(n_rows), row_labels, fontsize=9)
    ax.set_xticks(np.arange(-0.5, n_columns, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if annotations is not None:
        top = vmax if vmax is not None else np.nanmax(values) if np.isfinite(values).any() else 1.0
        for i in range(n_rows):
            for j in range(n_columns):
                if annotations[i][j]:
                    dark = np.isfinite(values[i, j]) and values[i, j] > 0.6 * top
                    ax.text(
                        j,
                        i,
                        annotations[i][j],
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
    fig.colorbar(image, ax=ax, label=colorbar_label, fraction=0.03, pad=0.02)
    ax.set_title(title)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Lay out, save as PNG and close a figure."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
