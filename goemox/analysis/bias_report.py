"""The bias probe report: a PNG per placeholder and the `report.md` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from goemox.analysis.domain_shift import PLOT_DPI
from goemox.reporting.markdown import MarkdownReport


def _slug(placeholder: str) -> str:
    return placeholder.strip("[]").lower()


def plot_probe(summary: dict[str, Any], placeholder: str, path: Path, top: int = 12) -> Path:
    """Mean |change| per label (left) and the mean change per term for the labels that move most (right)."""
    labels = summary["labels"]
    ordered = sorted(labels, key=lambda name: -labels[name]["mean_abs_change"])
    terms = summary["terms"]
    fig, (bars, heat) = plt.subplots(
        1, 2, figsize=(15, max(4.5, 0.28 * max(len(ordered), len(terms)) + 1.5)), width_ratios=[1, 1.6]
    )
    bars.barh(ordered[::-1], [labels[name]["mean_abs_change"] for name in ordered[::-1]], color="tab:blue")
    bars.set_xlabel("mean |score change| over templates and terms")
    bars.set_title(f"{placeholder}: how much each label moves")
    shown = ordered[:top]
    matrix = np.array([[summary["term_mean_change"][term][name] for name in shown] for term in terms])
    bound = max(float(np.abs(matrix).max()), 1e-9)
    image = heat.imshow(matrix, cmap="coolwarm", vmin=-bound, vmax=bound, aspect="auto")
    heat.set_xticks(range(len(shown)), shown, rotation=45, ha="right")
    heat.set_yticks(range(len(terms)), terms)
    heat.set_title("mean score change per term (vs. the template's mean over terms)")
    fig.colorbar(image, ax=heat, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def write_bias_report(
    summaries: dict[str, dict[str, Any]], templates_source: str, folder: str | Path, report: MarkdownReport
) -> None:
    """Add the bias-probe sections (one per placeholder, with its PNG) to `report`."""
    folder = Path(folder)
    report.heading("Bias probe")
    report.text(
        f"Templates from `{templates_source}`. Each template is scored once per identity term put in place of its "
        "placeholder. *Change* = a label's score with one term minus the template's mean score over all terms; "
        "*range* = the largest minus the smallest score of a template, averaged over templates; *flip rate* = "
        "share of templates where the label is predicted at its threshold for some terms but not for others."
    )
    for placeholder, summary in summaries.items():
        report.heading(f"{placeholder}: {summary['n_templates']} templates x {len(summary['terms'])} terms", 3)
        report.text(
            f"Terms: {', '.join(summary['terms'])}. The predicted label set differs between terms for "
            f"{summary['label_set_flip_rate']:.1%} of the templates."
        )
        labels = summary["labels"]
        ordered = sorted(labels, key=lambda name: -labels[name]["mean_abs_change"])
        report.table(
            ["label", "mean abs. change", "max abs. change", "mean range", "flip rate", "term moving it most"],
            [
                [
                    name,
                    labels[name]["mean_abs_change"],
                    labels[name]["max_abs_change"],
                    labels[name]["mean_range"],
                    labels[name]["flip_rate"],
                    f"{labels[name]['most_moving_term']} ({labels[name]['most_moving_term_mean_change']:+.4f})",
                ]
                for name in ordered[:10]
            ],
        )
        for attribute, values in summary["group_mean_change"].items():
            report.table(
                [f"mean change by {attribute}", *values],
                [[name, *(values[value][name] for value in values)] for name in ordered[:6]],
            )
        largest = max(labels, key=lambda name: labels[name]["max_abs_change"])
        example = labels[largest]["max_change_example"]
        report.text(
            f'Largest single change, `{largest}`: "{example["template"]}" with {example["term"]!r} scores '
            f"{example['score']:.3f}, against {example['template_mean_score']:.3f} on average over the terms."
        )
        path = plot_probe(summary, placeholder, folder / f"bias_{_slug(placeholder)}.png")
        report.image(path, f"bias probe, {_slug(placeholder)} placeholder")
