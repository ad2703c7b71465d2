"""The data statistics report of `goemox data stats`: PNG plots per split and `report.md`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from goemox.data.stats import CARDINALITY_BUCKETS, top_pairs
from goemox.file_io import write_json_atomically
from goemox.reporting.markdown import MarkdownReport
from goemox.reporting.plots import plot_heatmap, save_figure


def percent(share: float) -> str:
    """A share as a percentage with two decimals, or two significant digits below 0.1% (never a misleading 0.00%)."""
    if share == 0 or share >= 0.001:
        return f"{share:.2%}"
    return f"{100 * share:.2g}%"


def rows_text(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_label_frequencies(stats: dict, label_names: Sequence[str], path: Path, split: str) -> Path:
    """Horizontal bars: rows per label, most frequent on top, annotated with the share of rows."""
    order = sorted(label_names, key=lambda name: -stats["label_counts"][name])
    counts = [stats["label_counts"][name] for name in order]
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.28 * len(order)))
    bars = ax.barh(range(len(order)), counts, color="tab:blue")
    ax.set_yticks(range(len(order)), order, fontsize=9)
    ax.invert_yaxis()
    for bar, name in zip(bars, order):
        share = stats["label_shares"][name]
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {bar.get_width():,.0f} ({share:.1%})",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, max(counts + [1]) * 1.22)
    ax.set_xlabel("rows with the label")
    ax.set_title(f"{split}: label frequencies ({stats['rows']:,} rows)")
    return save_figure(fig, path)


def plot_cardinality(stats: dict, path: Path, split: str) -> Path:
    """Bars: share of rows with 0, 1, 2 and 3+ labels."""
    shares = [stats["cardinality"][bucket]["share"] for bucket in CARDINALITY_BUCKETS]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    bars = ax.bar(CARDINALITY_BUCKETS, shares, color="tab:purple")
    for bar, bucket in zip(bars, CARDINALITY_BUCKETS):
        rows = stats["cardinality"][bucket]["rows"]
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height(),
            f"{bar.get_height():.1%}\n({rows:,})",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, max(shares + [0.01]) * 1.3)
    ax.set_xlabel("labels per row")
    ax.set_ylabel("share of rows")
    ax.set_title(f"{split}: label cardinality (mean {stats['mean_labels_per_row']:.2f})")
    return save_figure(fig, path)


def plot_cooccurrence(stats: dict, label_names: Sequence[str], path: Path, split: str) -> Path:
    """Heatmap of P(column label | row label): of the rows with the row's label, the share also carrying the column's.

    The diagonal is left blank; cells are annotated with the rounded percentage when it is at least 1%.
    """
    counts = np.asarray(stats["cooccurrence"], dtype=float)
    totals = np.diag(counts).copy()
    conditional = np.divide(counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0)
    np.fill_diagonal(conditional, np.nan)
    annotations = [[f"{100 * v:.0f}" if np.isfinite(v) and v >= 0.01 else "" for v in row] for row in conditional]
    return plot_heatmap(
        conditional,
        [f"{name} ({int(total):,})" for name, total in zip(label_names, totals)],
        list(label_names),
        path,
        title=f"{split}: label co-occurrence, % of the row label's rows that also carry the column label",
        colorbar_label="share of the row label's rows",
        annotations=annotations,
        xlabel="also labelled",
        ylabel="rows labelled (rows)",
    )


def plot_token_lengths(stats: dict, path: Path, split: str) -> Path:
    """Histogram of tokens per text with the `max_length` cut-off marked."""
    summary = stats["token_length"]
    lengths = np.array([int(k) for k in summary["histogram"]])
    counts = np.array(list(summary["histogram"].values()))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(lengths, counts, width=1.0, color="tab:green")
    max_length = summary.get("max_length")
    if max_length is not None:
        ax.axvline(max_length + 0.5, color="tab:red", linestyle="--", label=f"max_length {max_length}")
        ax.legend(loc="upper center")
    ax.set_xlabel("tokens per text (special tokens included)")
    ax.set_ylabel("rows")
    ax.set_title(
        f"{split}: token lengths (median {summary.get('median', 0):.0f}, max {summary.get('max', 0)}); "
        f"{rows_text(summary['truncated_rows'])} ({percent(summary['truncated_share'])}) truncated"
    )
    return save_figure(fig, path)


def plot_emoji_labels(stats: dict, label_names: Sequence[str], path: Path, split: str) -> Path | None:
    """Heatmap: for each frequent emoji (rows), the share of its rows carrying each label; None if no emoji."""
    top = stats["emoji"]["top"]
    if not top:
        return None
    shares = np.array([[entry["label_counts"][name] / entry["rows"] for name in label_names] for entry in top])
    annotations = [[f"{100 * v:.0f}" if v >= 0.01 else "" for v in row] for row in shares]
    return plot_heatmap(
        shares,
        [f"{_shorten(entry['name'], 44)} ({entry['rows']})" for entry in top],
        list(label_names),
        path,
        title=f"{split}: labels of the rows holding each frequent emoji (%)",
        colorbar_label="share of the emoji's rows",
        annotations=annotations,
        ylabel="emoji (rows holding it)",
        vmax=1.0,
    )


def write_stats_report(stats: dict, folder: Path, description: Sequence[str]) -> Path:
    """Write stats.json, the PNGs and report.md into `folder` (which must exist); return the report's path.

    Args:
        stats: as returned by `dataset_statistics`.
        folder: the output folder.
        description: lines describing the data and options (shown at the top of the report).
    """
    write_json_atomically(folder / "stats.json", stats)
    names = stats["labels"]
    report = MarkdownReport(folder, "Data statistics")
    report.bullets(description)
    report.text(
        "Numbers: `stats.json`. Co-occurrence cells read as P(column label | row label): of the rows carrying the "
        "row's label, the percentage that also carry the column's label. Token lengths count the tokenizer's "
        "special tokens; rows longer than `max_length` are cut when training."
    )
    report.table(
        [
            "split",
            "rows",
            "0 labels",
            "1 label",
            "2 labels",
            "3+ labels",
            "mean labels",
            "truncated",
            "rows with emoji",
        ],
        [
            [
                split,
                s["rows"],
                *(f"{s['cardinality'][b]['share']:.2%}" for b in CARDINALITY_BUCKETS),
                round(s["mean_labels_per_row"], 3),
                percent(s["token_length"]["truncated_share"]),
                f"{s['emoji']['share_rows_with_emoji']:.2%}",
            ]
            for split, s in stats["splits"].items()
        ],
    )
    for split, s in stats["splits"].items():
        _split_section(report, folder, split, s, names)
    return report.save()


def _split_section(report: MarkdownReport, folder: Path, split: str, s: dict, names: Sequence[str]) -> None:
    report.heading(f"{split} ({s['rows']:,} rows)")
    report.heading("Labels", 3)
    report.image(
        plot_label_frequencies(s, names, folder / f"{split}_label_frequencies.png", split), "label frequencies"
    )
    report.image(plot_cardinality(s, folder / f"{split}_cardinality.png", split), "label cardinality")
    report.heading("Label co-occurrence", 3)
    report.image(plot_cooccurrence(s, names, folder / f"{split}_cooccurrence.png", split), "label co-occurrence")
    pairs = top_pairs(np.asarray(s["cooccurrence"]), names)
    if pairs:
        report.table(
            ["label", "label", "rows with both", "% of rows"],
            [[a, b, n, f"{n / s['rows']:.2%}"] for a, b, n in pairs],
        )
    report.heading("Token lengths", 3)
    lengths = s["token_length"]
    report.image(plot_token_lengths(s, folder / f"{split}_token_lengths.png", split), "token lengths")
    if lengths["rows"]:
        report.text(
            f"Mean {lengths['mean']:.1f}, median {lengths['median']:.0f}, 90th percentile {lengths['p90']:.0f}, "
            f"99th percentile {lengths['p99']:.0f}, longest {lengths['max']} tokens; "
            f"{rows_text(lengths['truncated_rows'])} ({percent(lengths['truncated_share'])}) longer than max_length "
            f"{lengths['max_length']}."
        )
    report.heading("Emoji", 3)
    emoji = s["emoji"]
    report.text(
        f"{emoji['rows_with_emoji']:,} rows ({emoji['share_rows_with_emoji']:.2%}) hold {emoji['occurrences']:,} emoji "
        f"({emoji['distinct']} distinct)."
    )
    image = plot_emoji_labels(s, names, folder / f"{split}_emoji_labels.png", split)
    if image is None:
        return
    report.image(image, "labels of the rows holding each frequent emoji")
    report.table(
        ["emoji", "name", "rows", "occurrences", "most frequent labels (% of its rows)", "tokenizer reads it as"],
        [
            [
                entry["emoji"],
                entry["name"],
                entry["rows"],
                entry["occurrences"],
                ", ".join(
                    f"{label} {count / entry['rows']:.0%}"
                    for label, count in sorted(entry["label_counts"].items(), key=lambda item: -item[1])[:3]
                    if count
                ),
                "unknown token" if entry.get("tokenizer_unknown") else "known tokens",
            ]
            for entry in emoji["top"]
        ],
    )
