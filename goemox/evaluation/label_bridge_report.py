"""The report of scoring in the data's labels: a confusion heatmap PNG and a Markdown section (see
:mod:`goemox.evaluation.label_bridge`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from goemox.evaluation.label_bridge import LabelMap
from goemox.reporting.markdown import MarkdownReport
from goemox.reporting.plots import plot_heatmap


def plot_single_label_confusion(result: dict[str, Any], path: str | Path, title: str) -> Path:
    """Heatmap of the confusion matrix normalised by true row (each row sums to 1), cells annotated with counts.

    Args:
        result: from :func:`~goemox.evaluation.label_bridge.single_label_scores`.
        path: where to write the PNG.
        title: the figure title.

    Example:
        >>> plot_single_label_confusion(result, "report/confusion.png", "carer")  # doctest: +SKIP
        PosixPath('report/confusion.png')
    """
    counts = np.asarray(result["confusion"]["counts"], dtype=float)
    support = counts.sum(axis=1, keepdims=True)
    shares = np.full_like(counts, np.nan)
    np.divide(counts, support, out=shares, where=support > 0)
    labels = result["labels"]
    return plot_heatmap(
        shares,
        [f"{name} (n={int(n)})" for name, n in zip(labels, support[:, 0])],
        labels,
        path,
        title=title,
        colorbar_label="share of the true label's rows",
        annotations=[[f"{int(v)}" if v else "" for v in row] for row in counts],
        xlabel="predicted label (highest score)",
        ylabel="true label (rows)",
        vmax=1.0,
    )


def write_single_label_section(
    report: MarkdownReport,
    result: dict[str, Any],
    label_map: LabelMap,
    image: str | Path,
    *,
    title: str,
    level: int = 2,
) -> None:
    """Add a section with the summary table, the per-label table and the confusion heatmap (written to `image`).

    Args:
        report: the report to extend; `image` should lie in its folder.
        result: from :func:`~goemox.evaluation.label_bridge.single_label_scores`.
        label_map: the map the scores were read with.
        image: where to write the heatmap PNG.
        title: the section heading (also the heatmap's title).
        level: the heading level.

    Example:
        >>> write_single_label_section(report, result, label_map, "out/c.png", title="carer")  # doctest: +SKIP
    """
    report.heading(title, level)
    skipped = result["rows"] - result["rows_scored"]
    report.text(
        f"{result['rows_scored']:,} of {result['rows']:,} rows scored (those with exactly one true label"
        + (
            f"; {result['rows_without_label']} without a label and {result['rows_with_several_labels']} with several "
            "left out)."
            if skipped
            else ")."
        )
        + f" Labels read with {label_map.source}: a data label's score is the highest probability of the model "
        "labels it gathers, and the prediction is the data label with the highest score."
    )
    report.table(
        ["accuracy", "macro-F1", "majority baseline", "majority label"],
        [[result["accuracy"], result["macro_f1"], result["majority_baseline_accuracy"], result["majority_label"]]],
    )
    report.text(
        f"macro-F1 averages the F1 of the {len(result['macro_f1_labels'])} data labels that occur as true labels. "
        "The majority baseline is the accuracy of always answering the most frequent true label."
    )
    report.table(
        ["data label", "model labels", "precision", "recall", "F1", "true rows", "predicted rows"],
        [
            [label, ", ".join(label_map.groups[label]), *(row[key] for key in ("precision", "recall", "f1")),
             row["support"], row["predicted"]]
            for label, row in result["per_label"].items()
        ],
    )  # fmt: skip
    report.text("Rows are true labels, columns predicted ones; colours are shares of the row, numbers are counts.")
    report.image(plot_single_label_confusion(result, image, f"{title}: confusion"), f"{title} confusion")
