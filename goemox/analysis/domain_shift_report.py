"""The domain shift report: PNG plots and `report.md` sections drawn from a :class:`DomainShiftResult`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from goemox.analysis.domain_shift import PLOT_DPI, DomainShiftResult
from goemox.reporting.markdown import MarkdownReport


def _colors(count: int) -> list:
    return [plt.get_cmap("tab10")(i % 10) for i in range(count)]


def plot_label_distributions(result: DomainShiftResult, path: Path) -> Path:
    """Grouped bars: per label, each domain's top-1 share (top) and thresholded share (bottom)."""
    labels = result.label_names
    width = 0.8 / len(result.domains)
    positions = np.arange(len(labels))
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.45 * len(labels) + 2), 7), sharex=True)
    for i, (scores, color) in enumerate(zip(result.domains, _colors(len(result.domains)))):
        offset = positions - 0.4 + width * (i + 0.5)
        axes[0].bar(offset, scores.top1_distribution(), width, color=color, label=scores.name)
        axes[1].bar(offset, scores.thresholded_shares(result.thresholds), width, color=color, label=scores.name)
    axes[0].set_ylabel("share of texts (top-1 label)")
    axes[1].set_ylabel("share of texts (label at threshold)")
    axes[1].set_xticks(positions, labels, rotation=60, ha="right")
    axes[0].legend()
    axes[0].set_title("Predicted label distribution per domain")
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def plot_score_histograms(result: DomainShiftResult, path: Path) -> Path:
    """Overlaid density histograms per domain: max probability (with the cutoff), the two entropies, -energy."""
    panels = [
        ("max probability", lambda d: d.max_probability),
        ("entropy over labels (bits)", lambda d: d.entropy),
        ("mean binary entropy per label (bits)", lambda d: d.binary_entropy),
        ("negative energy  sum_k softplus(z_k)", lambda d: -d.energy),
    ]
    fig, grid = plt.subplots(2, 2, figsize=(12, 8))
    axes = grid.ravel()
    colors = _colors(len(result.domains))
    for ax, (title, values) in zip(axes, panels):
        every = np.concatenate([values(d) for d in result.domains])
        bins = np.linspace(0, 1, 41) if title == "max probability" else np.linspace(every.min(), every.max(), 41)
        for scores, color in zip(result.domains, colors):
            ax.hist(values(scores), bins=bins, density=True, alpha=0.45, color=color, label=scores.name)
        ax.set_xlabel(title)
        ax.set_ylabel("density")
    for ax, score in ((axes[0], "max_probability"), (axes[3], "negative_energy")):
        cutoff = result.analysis["ood_cutoffs"].get(score)
        if cutoff is not None:
            ax.axvline(cutoff["cutoff"], color="black", linestyle="--", linewidth=1, label="OOD cutoff")
    axes[0].legend()
    fig.suptitle("Confidence and score spread per domain (density-normalised)")
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def plot_js_heatmaps(result: DomainShiftResult, path: Path) -> Path:
    """Heatmaps of the JS divergence between domains, top-1 (left) and thresholded (right)."""
    names = [d.name for d in result.domains]
    fig, axes = plt.subplots(1, 2, figsize=(5 + 1.6 * len(names), 2 + 0.8 * len(names)))
    for ax, kind in zip(axes, ("top1", "thresholded")):
        matrix = np.array([[result.analysis["js_divergence"][kind][a][b] for b in names] for a in names])
        image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=max(matrix.max(), 1e-9))
        for (row, col), value in np.ndenumerate(matrix):
            ax.text(
                col,
                row,
                f"{value:.3f}",
                ha="center",
                va="center",
                color="white" if value < matrix.max() / 2 else "black",
            )
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_title(f"JS divergence, {'top-1' if kind == 'top1' else 'thresholded'} labels")
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_domain_shift_report(result: DomainShiftResult, folder: str | Path, report: MarkdownReport) -> None:
    """Add the domain-shift sections (tables, definitions, plots) to `report`; the PNGs go into `folder`."""
    folder = Path(folder)
    analysis = result.analysis
    domains = analysis["domains"]
    in_domain = analysis["in_domain"]
    report.text(
        f"Model `{analysis['model']}` ({analysis['model_type']}, {len(result.label_names)} labels, "
        + ("thresholds stored with the model" if analysis["thresholds_stored"] else "no stored thresholds: 0.5")
        + f"). In-domain: **{in_domain}**. All numbers are also in `analysis.json`."
    )
    if analysis["problem_type"] not in (None, "multi_label_classification"):
        report.text(
            f"Note: the model's config says problem_type={analysis['problem_type']!r}; this analysis treats every "
            "output as an independent sigmoid score, as for multi-label models."
        )
    report.heading("Summary")
    rows = [
        [
            name,
            f"{d['n_texts']}" + (f" of {d['n_available']}" if d["n_available"] != d["n_texts"] else ""),
            d["top1_mode_label"],
            _share(d["collapse_rate"]),
            _share(d["neutral_share"]),
            _share(d["neutral_share_thresholded"]),
            _share(d["no_label_share"]),
            _share(d["mean_max_probability"]),
            f"{d['mean_entropy_bits']:.2f}",
            _share(d["mean_binary_entropy_bits"]),
            "in-domain" if name == in_domain else _share(d["ood_auroc_max_probability"]),
            "in-domain" if name == in_domain else _share(d["ood_auroc_energy"]),
            _share(d["flagged_share"]),
        ]
        for name, d in domains.items()
    ]
    report.table(
        [
            "domain",
            "texts",
            "top-1 mode",
            "collapse rate",
            "neutral (top-1)",
            "neutral (threshold)",
            "no label",
            "mean max prob.",
            "mean entropy over labels (bits)",
            "mean binary entropy (bits)",
            "OOD AUROC max prob.",
            "OOD AUROC energy",
            "flagged unfamiliar",
        ],
        rows,
    )
    report.bullets(
        [
            "**collapse rate**: share of texts whose top-1 label is the domain's most frequent top-1 label "
            "(the *top-1 mode*).",
            "**neutral (top-1)**: share of texts whose top-1 label is `neutral`; **neutral (threshold)**: share "
            "where `neutral` reaches its threshold; n/a when the model has no `neutral` label.",
            "**no label**: share of texts where no label reaches its threshold.",
            "**entropy over labels**: of the sigmoid scores normalised to sum to one, in bits "
            f"(maximum log2({len(result.label_names)}) = {np.log2(len(result.label_names)):.2f}): how spread the "
            "scores are over labels. **binary entropy**: the mean over labels of `-p log2 p - (1-p) log2(1-p)` "
            "(0 = every score at 0 or 1, 1 = every score 0.5): how unsure the yes/no decisions are.",
            "**OOD AUROC**: in-domain texts are the positive class, the other domain's texts the negative class; "
            "the scores are the max probability and the negative energy `-E(x) = sum_k softplus(z_k)` "
            "(`E(x) = -sum_k log(1 + exp(z_k))`, the joint energy of Wang et al., NeurIPS 2021), both higher = "
            "more in-domain. 0.5 is chance; above 0.5 the score ranks in-domain texts higher, as intended.",
            "**flagged unfamiliar**: share of texts whose OOD score falls below the stored-score cutoff "
            "(see *OOD cutoff*).",
        ]
    )
    report.heading("Predicted labels")
    report.image(plot_label_distributions(result, folder / "label_distribution.png"), "label distribution per domain")
    report.table(
        ["domain", "most frequent top-1 labels (share of texts)"],
        [
            [name, ", ".join(f"{label} {share:.3f}" for label, share in _top(d["top1_distribution"], 5))]
            for name, d in domains.items()
        ],
    )
    report.heading("Confidence and score spread")
    report.image(plot_score_histograms(result, folder / "confidence_entropy.png"), "confidence histograms")
    report.heading("Jensen-Shannon divergence between domains")
    report.text(
        "Base-2 JS divergence (0 = the same distribution, 1 = disjoint). *Top-1*: the distributions of texts' "
        "most probable label. *Thresholded*: the distributions of label assignments at the thresholds, with one "
        "`(no label)` assignment per text where no label reaches its threshold."
    )
    report.image(plot_js_heatmaps(result, folder / "js_divergence.png"), "JS divergence heatmaps")
    names = list(domains)
    for kind, title in (("top1", "top-1"), ("thresholded", "thresholded")):
        matrix = analysis["js_divergence"][kind]
        report.table([f"JS ({title})", *names], [[a, *(matrix[a][b] for b in names)] for a in names])
    report.heading("OOD cutoff")
    write_cutoff_section(analysis, report)


def write_cutoff_section(analysis: dict[str, Any], report: MarkdownReport) -> None:
    """The cutoffs of both OOD scores, the share of each domain they flag, and which score separates better."""
    cutoffs = analysis["ood_cutoffs"]
    if not cutoffs:
        report.text(
            "No cutoff was computed: give in-domain validation texts (`--in_domain_validation SOURCE`, or a "
            "dataset in-domain source with `--calibration_split`)."
        )
    else:
        chosen = analysis["ood_cutoff"]
        report.text(
            f"Cutoffs at the {chosen['quantile']:g} quantile of each score over {chosen['n_texts']} in-domain "
            f"validation texts (`{chosen['validation_source']}`); a text below the cutoff is flagged as unfamiliar. "
            f"`analysis.json` keeps both; `ood_cutoff` (the one `--store_ood_cutoff` writes into config.json, "
            f"chosen with `--ood_score`) is **{chosen['score']}**."
        )
        names = list(analysis["domains"])
        auroc_keys = {"max_probability": "ood_auroc_max_probability", "negative_energy": "ood_auroc_energy"}
        report.table(
            ["score", "cutoff", *(f"flagged: {name}" for name in names)],
            [
                [score, cutoff["cutoff"], *(analysis["domains"][n]["flagged_shares"][score] for n in names)]
                for score, cutoff in cutoffs.items()
            ],
        )
        others = [n for n in names if n != analysis["in_domain"]]
        mean_auroc = {s: float(np.mean([analysis["domains"][n][auroc_keys[s]] for n in others])) for s in cutoffs}
        best = max(mean_auroc, key=mean_auroc.get)
        report.text(
            "Mean OOD AUROC over the other domains: "
            + ", ".join(f"{score} {value:.3f}" for score, value in mean_auroc.items())
            + f". On these domains **{best}** separates in-domain from other text better"
            + ("." if best == chosen["score"] else f"; consider `--ood_score {best}`.")
        )
    stored = analysis.get("stored_ood_cutoff")
    if stored:
        report.text(
            f"The model already stores an `ood_cutoff`: {stored.get('score', 'max_probability')} "
            f"{stored['cutoff']:.4f} ({stored.get('source', 'no source given')})."
        )


def _top(distribution: dict[str, float], count: int) -> list[tuple[str, float]]:
    return sorted(distribution.items(), key=lambda item: -item[1])[:count]
