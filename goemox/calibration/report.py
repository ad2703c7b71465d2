"""The calibration report: reliability diagrams before and after (PNG) and `report.md` with the expected calibration
error, NLL and the metrics at the re-tuned thresholds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from goemox.calibration.logit_map import LogitMap
from goemox.calibration.scaling import DEFAULT_BINS, reliability_bins
from goemox.reporting.markdown import MarkdownReport
from goemox.reporting.plots import plt
from goemox.run_folder import RELIABILITY_FILE

MIN_BIN_COUNT = 5
"""Bins with fewer predictions are left out of the per-label curves (their frequency is mostly noise)."""

BEFORE_STYLE = {"color": "tab:orange", "label": "before"}
AFTER_STYLE = {"color": "tab:blue", "label": "after"}


def _diagonal(ax) -> None:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def plot_overall_reliability(
    splits: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    path: str | Path,
    bins: int = DEFAULT_BINS,
    title: str = "Reliability over all (text, label) pairs",
) -> Path:
    """Reliability diagrams of all (text, label) pairs: one row per split, before (left) and after (right)
    calibration, each with its counts per bin below.

    Args:
        splits: split name -> `(labels, probabilities before, probabilities after)`, arrays of any matching shape.
        path: where to write the PNG.
        bins: number of equal-width bins.
        title: the figure title.

    Example:
        >>> plot_overall_reliability({"test": (y, p_before, p_after)}, "reliability.png")  # doctest: +SKIP
    """
    fig, axes = plt.subplots(
        2 * len(splits), 2, figsize=(11, 5.5 * len(splits)), height_ratios=(3, 1.2) * len(splits), squeeze=False
    )
    for row, (split, (labels, probs_before, probs_after)) in enumerate(splits.items()):
        for column, (probs, style) in enumerate(((probs_before, BEFORE_STYLE), (probs_after, AFTER_STYLE))):
            binned = reliability_bins(probs, labels, bins)
            centers = (binned.edges[:-1] + binned.edges[1:]) / 2
            width = 1.0 / bins
            filled = binned.counts > 0
            ax, ax_count = axes[2 * row, column], axes[2 * row + 1, column]
            _diagonal(ax)
            ax.bar(centers[filled], binned.frequency[filled], width=width * 0.9, color=style["color"], alpha=0.8)
            ax.plot(binned.confidence[filled], binned.frequency[filled], "k.", markersize=5)
            ax.set_title(f"{split}, {style['label']} calibration: ECE {binned.ece:.4f}")
            ax.set_ylabel("observed frequency of the label")
            ax_count.bar(centers, binned.counts, width=width * 0.9, color=style["color"], alpha=0.8)
            ax_count.set_yscale("log")
            ax_count.set_xlim(0, 1)
            ax_count.set_ylabel("pairs per bin")
            ax_count.set_xlabel("predicted probability")
    fig.suptitle(f"{title} (bars: frequency per bin, dots: at the bin's mean probability)")
    fig.tight_layout()
    return _save(fig, path)


def plot_class_reliability(
    labels: np.ndarray,
    probs_before: np.ndarray,
    probs_after: np.ndarray,
    label_names: Sequence[str],
    path: str | Path,
    bins: int = DEFAULT_BINS,
    columns: int = 4,
) -> Path:
    """A grid with one reliability curve per label, before and after calibration, and each label's ECE.

    Args:
        labels: `(n, L)` 0/1 labels.
        probs_before: `(n, L)` probabilities before calibration.
        probs_after: `(n, L)` probabilities after calibration.
        label_names: the `L` label names.
        path: where to write the PNG.
        bins: number of equal-width bins.
        columns: plots per row.
    """
    count = len(label_names)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.3 * columns, 2.9 * rows + 0.4), squeeze=False, layout="constrained"
    )
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.axis("off")
            continue
        _diagonal(ax)
        eces = []
        for probs, style in ((probs_before, BEFORE_STYLE), (probs_after, AFTER_STYLE)):
            binned = reliability_bins(probs[:, index], labels[:, index], bins)
            shown = binned.counts >= MIN_BIN_COUNT
            ax.plot(binned.confidence[shown], binned.frequency[shown], marker="o", markersize=3, **style)
            eces.append(binned.ece)
        positives = int(labels[:, index].sum())
        ax.set_title(f"{label_names[index]} ({positives} pos.)\nECE {eces[0]:.3f} -> {eces[1]:.3f}", fontsize=9)
        ax.tick_params(labelsize=7)
        if index % columns == 0:
            ax.set_ylabel("observed frequency", fontsize=8)
        if index >= count - columns:
            ax.set_xlabel("predicted probability", fontsize=8)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Reliability per label (bins with at least {MIN_BIN_COUNT} texts)")
    return _save(fig, path)


def plot_class_ece(
    label_names: Sequence[str],
    ece_before: Sequence[float],
    ece_after: Sequence[float],
    path: str | Path,
) -> Path:
    """Horizontal bars of each label's ECE before and after calibration, worst-calibrated label on top."""
    order = np.argsort(ece_before)
    positions = np.arange(len(label_names))
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(label_names) + 1.8), layout="constrained")
    ax.barh(positions + 0.2, np.asarray(ece_before)[order], height=0.4, **BEFORE_STYLE)
    ax.barh(positions - 0.2, np.asarray(ece_after)[order], height=0.4, **AFTER_STYLE)
    ax.set_yticks(positions, [label_names[i] for i in order], fontsize=8)
    ax.set_xlabel("expected calibration error")
    fig.legend(loc="outside lower center", ncol=2)
    ax.set_title("ECE per label")
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(
    result: dict,
    reliability: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    logit_map: LogitMap,
    report_dir: Path,
) -> Path:
    """`report.md` with the numbers of `result` and the reliability diagrams.

    Args:
        result: the content of `calibration.json`.
        reliability: split -> `(labels, probabilities before, after)`, the fit split first (its "after" cross-fitted).
        logit_map: the fitted calibration.
        report_dir: where the report and its PNGs go.
    """
    names = result["label_names"]
    fit = result["splits"][result["fit_split"]]
    labels, probs_before, probs_after = next(iter(reliability.values()))
    overall = plot_overall_reliability(reliability, report_dir / RELIABILITY_FILE, result["bins"])
    grid = plot_class_reliability(
        labels, probs_before, probs_after, names, report_dir / "reliability_per_label.png", result["bins"]
    )
    bars = plot_class_ece(
        names, fit["before"]["ece"]["per_class"], fit["after"]["ece"]["per_class"], report_dir / "ece_per_label.png"
    )

    report = MarkdownReport(report_dir, f"Calibration ({logit_map.method})")
    report.bullets(
        [
            f"model: `{result['model']}`; calibrated model written to `{result['output']}`",
            f"fitted on the `{result['fit_split']}` split ({fit['rows']} texts)",
            f"fitted map: {logit_map.describe()}; total map stored in `calibration`: "
            f"{LogitMap.from_dict(result['stored_calibration']).describe()}",
            f"thresholds re-tuned on the `{result['fit_split']}` split with the `{result['threshold_strategy']}` "
            "strategy, before and after calibration",
            f"validation support: {result['support_rules']['summary']}",
            f"the calibration error after calibration on `{result['fit_split']}` is cross-fitted: each of "
            f"{result['support_rules']['cross_fit_folds']} folds is scored by the map fitted on the other folds",
            *result["notes"],
        ]
    )
    if result["at_search_bound"]:
        report.text("**Warning:** a fitted temperature ended on the edge of its search interval [0.05, 20].")
    rows = []
    for split, scores in result["splits"].items():
        for key, label in (
            (("ece", "class_mean"), "ECE, mean over labels"),
            (("ece", "pooled"), "ECE, all (text, label) pairs"),
            (("nll",), "binary cross-entropy (NLL)"),
            (("brier",), "Brier score"),
            (("metrics", "macro_f1"), "macro-F1 at the re-tuned thresholds"),
            (("metrics", "micro_f1"), "micro-F1 at the re-tuned thresholds"),
        ):
            before, after = scores["before"], scores["after"]
            for part in key:
                before, after = before[part], after[part]
            rows.append([split, label, before, after, after - before])
    report.heading("Summary")
    report.table(["split", "measure", "before", "after", "change"], rows)
    test_splits = [s for s in result["splits"] if s != result["fit_split"]]
    if test_splits:
        report.text(
            f"The `{', '.join(test_splits)}` numbers are measured once, with the calibration and the thresholds "
            f"fitted on `{result['fit_split']}`."
        )
    report.heading("Reliability diagrams")
    report.image(overall, "reliability over all (text, label) pairs, before and after")
    report.image(bars, "ECE per label, before and after")
    report.image(grid, "reliability per label, before and after")
    report.heading(f"Per label ({result['fit_split']})")
    per_label = logit_map.method != "temperature"
    table = []
    for index, name in enumerate(names):
        before, after = fit["before"], fit["after"]
        table.append(
            [
                name,
                before["metrics"]["per_class"][name]["support"],
                result["fitted_per_label"][index]["calibration"],
                result["fitted_per_label"][index]["threshold"],
                *([logit_map.slope[index], logit_map.intercept[index]] if per_label else []),
                before["ece"]["per_class"][index],
                after["ece"]["per_class"][index],
                result["thresholds"]["before"][index],
                result["thresholds"]["after"][index],
                before["metrics"]["per_class"][name]["f1"],
                after["metrics"]["per_class"][name]["f1"],
            ]
        )
    headers = ["label", "positives", "calibration", "threshold", *(["slope a", "intercept b"] if per_label else [])]
    headers += ["ECE before", "ECE after", "threshold before", "threshold after", "F1 before", "F1 after"]
    report.table(headers, table)
    report.heading("Definitions")
    report.bullets(
        [
            f"ECE of a label: its probabilities go into {result['bins']} equal-width bins on [0, 1]; for each bin, "
            "|share of texts that carry the label - mean probability|, weighted by the bin's share of texts, summed.",
            "ECE, mean over labels: the mean of the per-label ECEs (rare labels count as much as frequent ones).",
            "ECE, all (text, label) pairs: the same binned error over every (text, label) pair at once; most pairs are "
            "negatives near probability 0, so it is small and follows the frequent labels.",
            "Calibration map: probabilities become sigmoid(a * logit + b) per label, fitted by minimising the binary "
            "cross-entropy on the fit split, with Platt's smoothed targets; a label with fewer than "
            f"{result['support_rules']['min_positives']} positives (or {result['support_rules']['min_negatives']} "
            "negatives) takes the map pooled over all labels, and the others are pulled toward it "
            "(`goemox.calibration.fitting`). Temperature scaling is a = 1 / T, b = 0 (T > 1 softens over-confident "
            "scores); Platt scaling fits a and b per label. The map is folded into the output layer (weight rows "
            "times a, bias times a plus b), so the saved model needs no extra code.",
        ]
    )
    return report.save()
