"""Plot helpers every report shares: matplotlib without a display, heatmaps, and saving a figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
