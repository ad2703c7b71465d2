"""The error analysis report of `goemox evaluate --report_dir`: per-class metrics and confusion plots, the most
confident errors, `report.md`, `analysis.json` and `errors.csv`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from goemox.evaluation.error_analysis import (
    FALSE_NEGATIVE,
    FALSE_POSITIVE,
    REPORT_TEXT_CHARS,
    confident_errors,
    multilabel_confusion,
    top_confusions,
)
from goemox.evaluation.metrics import multilabel_metrics
from goemox.evaluation.scoring import ScoredSplit
from goemox.file_io import write_json_atomically, write_text_atomically
from goemox.labels import NO_LABEL
from goemox.reporting.markdown import MarkdownReport, plain_text
from goemox.reporting.plots import plot_heatmap, save_figure
from goemox.scores import apply_thresholds


def plot_per_class_metrics(per_class: dict[str, dict], path: Path, title: str) -> Path:
    """Precision, recall and F1 per label (sorted by F1) beside each label's decision threshold."""
    order = sorted(per_class, key=lambda name: -per_class[name]["f1"])
    positions = np.arange(len(order))
    fig, (ax, ax_threshold) = plt.subplots(
        1, 2, figsize=(11, 1.8 + 0.4 * len(order)), sharey=True, gridspec_kw={"width_ratios": [3, 1]}
    )
    for offset, (key, color) in enumerate((("precision", "tab:blue"), ("recall", "tab:orange"), ("f1", "tab:green"))):
        values = [per_class[name][key] for name in order]
        ax.barh(positions + (offset - 1) * 0.27, values, height=0.27, color=color, label=key)
    ax.set_yticks(positions, [f"{name} (n={per_class[name]['support']})" for name in order], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("score at the stored thresholds")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)  # above the bars, never on them
    thresholds = [per_class[name]["threshold"] for name in order]
    ax_threshold.barh(positions, thresholds, height=0.6, color="tab:gray")
    for position, value in zip(positions, thresholds):
        ax_threshold.text(value, position, f" {value:.2f}", va="center", fontsize=8)
    ax_threshold.axvline(0.5, color="black", linewidth=0.8, linestyle=":")
    ax_threshold.set_xlim(0, 1.05)
    ax_threshold.set_xlabel("decision threshold")
    ax_threshold.set_title("per-class thresholds")
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_confusion(confusion: dict[str, np.ndarray], label_names: Sequence[str], path: Path, title: str) -> Path:
    """Heatmap of the row-normalised multi-label confusion matrix, cells annotated in percent (1% and more)."""
    shares = confusion["shares"]
    annotations = [[f"{100 * v:.0f}" if np.isfinite(v) and v >= 0.01 else "" for v in row] for row in shares]
    return plot_heatmap(
        shares,
        [f"{name} (n={n})" for name, n in zip(label_names, confusion["support"])],
        [*label_names, NO_LABEL],
        path,
        title=title,
        colorbar_label="share of the true label's rows",
        annotations=annotations,
        xlabel="predicted label",
        ylabel="true label (rows)",
        vmax=1.0,
    )


def write_error_report(
    scored: ScoredSplit,
    label_names: Sequence[str],
    thresholds: Sequence[float],
    folder: Path,
    *,
    errors_per_class: int = 5,
    description: Sequence[str] = (),
) -> Path:
    """Write report.md, per_class_metrics.png, confusion.png, analysis.json and errors.csv into `folder`.

    Args:
        scored: the split with texts, true labels and probabilities.
        label_names: the model's labels in column order.
        thresholds: the decision thresholds (one per label) the analysis uses.
        folder: an existing output folder.
        errors_per_class: false positives and false negatives kept per label.
        description: lines about the model and data, shown at the top of the report.

    Returns:
        The path of report.md.

    Example:
        >>> scored = score_split(classifier, "goemotions/", split="test")  # doctest: +SKIP
        >>> write_error_report(scored, classifier.label_names, classifier.thresholds, Path("report"))  # doctest: +SKIP
        PosixPath('report/report.md')
    """
    names = list(label_names)
    metrics = multilabel_metrics(scored.y_true, scored.probs, names, list(thresholds))
    confusion = multilabel_confusion(scored.y_true, apply_thresholds(scored.probs, list(thresholds)))
    errors = confident_errors(scored, names, thresholds, errors_per_class)
    _write_json(folder / "analysis.json", scored, names, metrics, confusion, errors)
    _write_errors_csv(folder / "errors.csv", errors)

    report = MarkdownReport(folder, f"Error analysis: {scored.split} split")
    report.bullets([*description, f"{len(scored.texts):,} rows, {len(names)} labels, the model's stored thresholds"])
    report.text("Numbers: `analysis.json`; every chosen error: `errors.csv`.")
    report.table(
        ["macro-F1", "micro-F1", "samples-F1", "ROC-AUC (macro)", "subset accuracy", "rows without a label"],
        [
            [
                metrics["macro_f1"],
                metrics["micro_f1"],
                metrics["samples_f1"],
                "n/a" if metrics["roc_auc_macro"] is None else metrics["roc_auc_macro"],
                metrics["subset_accuracy"],
                f"{metrics['rows_without_prediction']:.2%}",
            ]
        ],
    )
    report.heading("Per-class precision, recall, F1 and thresholds")
    plot = plot_per_class_metrics(
        metrics["per_class"], folder / "per_class_metrics.png", f"{scored.split}: precision, recall and F1 per class"
    )
    report.image(plot, "per-class precision, recall, F1 and thresholds")
    predicted_counts = apply_thresholds(scored.probs, list(thresholds)).sum(axis=0)
    report.table(
        ["label", "threshold", "precision", "recall", "F1", "true rows", "predicted rows"],
        [
            [name, row["threshold"], row["precision"], row["recall"], row["f1"], row["support"], int(predicted)]
            for (name, row), predicted in zip(metrics["per_class"].items(), predicted_counts)
        ],
    )
    report.heading("Multi-label confusion matrix")
    report.text(
        "Rows are true labels, columns predicted labels. A cell is the share of the rows carrying the row's true "
        "label whose predicted label set contains the column's label (row-normalised). The diagonal is therefore "
        f"each label's recall; a row can sum to more than 100% because a text may get several labels. The last "
        f"column, `{NO_LABEL}`, is the share of those rows that got no label at all."
    )
    report.image(plot_confusion(confusion, names, folder / "confusion.png", _confusion_title(scored)), "confusion")
    confusions = top_confusions(confusion, names)
    if confusions:
        report.text("The largest off-diagonal cells:")
        report.table(
            ["true label", "also or instead predicted", "share of its rows", "rows", "true rows"],
            [[a, b, f"{share:.1%}", rows, support] for a, b, share, rows, support in confusions],
        )
    report.heading("Most confident errors per class")
    report.text(
        f"For each label, up to {errors_per_class} false positives with the highest probability for that label and "
        f"up to {errors_per_class} false negatives with the lowest. `score` is the label's probability."
    )
    for name in names:
        _errors_section(report, name, [error for error in errors if error["label"] == name])
    return report.save()


def _confusion_title(scored: ScoredSplit) -> str:
    return f"{scored.split}: multi-label confusion, % of each true label's rows whose prediction holds the column"


def _errors_section(report: MarkdownReport, label: str, errors: list[dict[str, Any]]) -> None:
    if not errors:
        return
    report.heading(f"{label} (threshold {errors[0]['threshold']:.2f})", 3)
    for kind in (FALSE_POSITIVE, FALSE_NEGATIVE):
        rows = [error for error in errors if error["kind"] == kind]
        if not rows:
            continue
        report.text(f"{kind.capitalize()}s:")
        report.table(
            ["score", "text", "true labels", "predicted labels"],
            [
                [
                    f"{error['score']:.3f}",
                    plain_text(_shorten(error["text"])),
                    ", ".join(error["true_labels"]) or "-",
                    ", ".join(error["predicted_labels"]) or "-",
                ]
                for error in rows
            ],
        )


def _shorten(text: str) -> str:
    return text if len(text) <= REPORT_TEXT_CHARS else text[: REPORT_TEXT_CHARS - 1] + "…"


def _write_json(
    path: Path,
    scored: ScoredSplit,
    names: list[str],
    metrics: dict,
    confusion: dict[str, np.ndarray],
    errors: list[dict[str, Any]],
) -> None:
    shares = [[None if not np.isfinite(v) else float(v) for v in row] for row in confusion["shares"]]
    content = {
        "split": scored.split,
        "rows": len(scored.texts),
        "labels": names,
        "metrics": metrics,
        "confusion": {
            "definition": "rows = true label, columns = predicted labels then 'no label'; "
            "share = rows with the true label whose prediction holds the column / rows with the true label",
            "columns": [*names, NO_LABEL],
            "counts": confusion["counts"].tolist(),
            "no_prediction": confusion["no_prediction"].tolist(),
            "support": confusion["support"].tolist(),
            "shares": shares,
        },
        "errors": errors,
    }
    write_json_atomically(path, content)


def _write_errors_csv(path: Path, errors: list[dict[str, Any]]) -> None:
    columns = ["label", "kind", "rank", "score", "threshold", "row", "text", "true_labels", "predicted_labels"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for error in errors:
        joined = {key: ";".join(error[key]) for key in ("true_labels", "predicted_labels")}
        writer.writerow({**error, **joined})
    write_text_atomically(path, buffer.getvalue())
