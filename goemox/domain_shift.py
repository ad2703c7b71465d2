"""Domain shift analysis: how a multi-label classifier's predictions change from its training domain to others.

For each named domain (a set of texts) the analysis measures the distribution of predicted labels, how much
the predictions collapse onto one label, the model's confidence and the spread of its scores, the
Jensen-Shannon divergence between the domains' label distributions, and how well two scores tell the
in-domain texts from each other domain's (AUROC). It writes PNG plots, `report.md` and `analysis.json`.

Definitions (for logits `z_1..z_L` of one text, sigmoid probabilities `p_k = sigmoid(z_k)`):

- max probability: `max_k p_k`.
- entropy over labels: the entropy in bits of the scores normalised to sum to one, `q_k = p_k / sum_j p_j`; 0 when
  one label holds all the mass, `log2(L)` when the scores are equal (how spread the scores are over labels).
- binary entropy: the mean over labels of each decision's entropy in bits, `H(p_k) = -p_k log2 p_k -
  (1 - p_k) log2(1 - p_k)`, between 0 (every score at 0 or 1) and 1 (every score 0.5): how unsure the model is
  about the yes/no decisions.
- energy: `E(x) = -sum_k softplus(z_k) = -sum_k log(1 + exp(z_k))`, the joint energy of a multi-label
  sigmoid classifier (Wang et al., "Can multi-label classification networks know what they don't know?",
  NeurIPS 2021). Low energy means the model puts evidence on some labels; the OOD score used for AUROC is the
  negative energy `-E(x)`, higher = more in-domain.
- OOD cutoff: the `quantile` (default 0.05) of an OOD score over in-domain validation texts, for the max
  probability and for the negative energy; texts scoring below it are flagged as unfamiliar.
- OOD AUROC: the area under the ROC curve for telling in-domain texts (positive class) from one other
  domain's texts with a score where higher means more in-domain; 0.5 is chance, above 0.5 the score ranks
  in-domain texts higher as intended, below 0.5 it ranks them lower.
- top-1 distribution: the share of texts whose most probable label is each label.
- thresholded distribution: per label, the share of texts where the label reaches its threshold (labels are
  independent, so the shares need not sum to one). For the JS divergence it is turned into a distribution
  over label assignments: each label's count of assignments plus one `(no label)` count per text with no label,
  divided by the total.
- JS divergence: Jensen-Shannon divergence with base-2 logarithms (between 0 and 1), the square of
  `scipy.spatial.distance.jensenshannon(p, q, base=2)`, for the top-1 and for the thresholded distributions.
- collapse rate: the share of texts whose top-1 label is the domain's most frequent top-1 label.
- neutral share: the share of texts whose top-1 label is `neutral` (`neutral_share_thresholded`: the share
  where `neutral` reaches its threshold); `None` when the model has no label named `neutral`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import entr
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import roc_auc_score

from .data import load_emotion_dataset
from .errors import GoEmoXError, GoEmoXUsageError
from .files import write_text_atomically
from .inference import OOD_SCORES, EmotionClassifier, ood_scores
from .labels import LabelScheme
from .metrics import apply_thresholds
from .plots import plt
from .predict_io import read_inputs
from .report import MarkdownReport, prepare_report_folder

FILE_SUFFIXES = (".txt", ".csv", ".tsv", ".jsonl", ".json")
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation", "test": "test"}
DEFAULT_DATASET_SPLIT = "test"
NEUTRAL = "neutral"
NO_LABEL = "(no label)"
ANALYSIS_SCHEMA_VERSION = 1
PLOT_DPI = 100


# ----------------------------------------------------------------------------------------------------
# Where texts come from
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSource:
    """A set of texts: a file, or one split of a dataset that `load_emotion_dataset` reads.

    Attributes:
        spec: the source as the user wrote it.
        path: the file, folder, `demo` or Hub dataset id.
        column: for a CSV / TSV / JSONL file, the column with the text (`None` for a TXT file or a dataset).
        split: for a dataset, the split (`train`, `validation` or `test`).
    """

    spec: str
    path: str
    column: str | None = None
    split: str | None = None

    @property
    def is_dataset(self) -> bool:
        return self.split is not None


@dataclass(frozen=True)
class Domain:
    """A named domain of texts (`--domain NAME=SOURCE`)."""

    name: str
    source: TextSource


def _is_local_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or (os.sep in text and Path(text).expanduser().parent.exists())


def _file_source(spec: str, path: Path, column: str | None, text_column: str) -> TextSource:
    if path.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json"):
        return TextSource(spec=spec, path=str(path), column=column or text_column)
    if column is not None:
        raise GoEmoXUsageError(
            f"{spec!r}: {path} is read as plain text (one text per line) and has no column {column!r}; "
            "columns apply to .csv, .tsv, .jsonl and .json files"
        )
    return TextSource(spec=spec, path=str(path))


def _split_name(spec: str, split: str) -> str:
    if split.lower() not in SPLIT_NAMES:
        raise GoEmoXUsageError(
            f"{spec!r}: unknown split {split!r}; expected one of train, validation (or dev, valid), test"
        )
    return SPLIT_NAMES[split.lower()]


def parse_text_source(spec: str, text_column: str = "text") -> TextSource:
    """Read a source of texts, in one of these forms:

    - `PATH.txt` (or any file not named below): one text per line, blank lines skipped.
    - `PATH.csv`, `PATH.tsv`, `PATH.jsonl`, `PATH.json` (JSON Lines): the column `text_column`;
      `PATH.csv:COLUMN` names the column.
    - `DATASET:SPLIT`: the split (`train`, `validation`/`dev`/`valid`, `test`) of anything
      `goemox.data.load_emotion_dataset` reads that is not a single file: a GoEmotions TSV folder, a
      `save_to_disk` folder, `demo`, or a Hub dataset id. `DATASET` alone means its `test` split.

    The part after the last `:` is a column or split only when the whole spec is not an existing file.

    Args:
        spec: the source.
        text_column: the text column of CSV / TSV / JSONL files given without `:COLUMN`.

    Example:
        >>> parse_text_source("../shared/data/goemotions:dev").split  # doctest: +SKIP
        'validation'
    """
    if not spec.strip():
        raise GoEmoXUsageError("an empty source; expected a file, or a dataset with :SPLIT")
    whole = Path(spec).expanduser()
    if whole.is_file():
        return _file_source(spec, whole, None, text_column)
    base, colon, suffix = spec.rpartition(":")
    if not colon:
        base, suffix = spec, None
    elif not suffix:
        raise GoEmoXUsageError(f"{spec!r}: nothing after ':'; expected a column (files) or a split (datasets)")
    path = Path(base).expanduser()
    if path.is_file():
        return _file_source(spec, path, suffix, text_column)
    if path.suffix.lower() in FILE_SUFFIXES:
        raise GoEmoXUsageError(f"{spec!r}: no such file {base}")
    if not path.is_dir() and base != "demo" and _is_local_path(base):
        raise GoEmoXUsageError(f"{spec!r}: no such file or folder {base}")
    return TextSource(spec=spec, path=base, split=_split_name(spec, suffix or DEFAULT_DATASET_SPLIT))


def parse_domain(spec: str, text_column: str = "text") -> Domain:
    """A `NAME=SOURCE` domain; SOURCE as in :func:`parse_text_source`.

    Example:
        >>> parse_domain("hackernews=../shared/data/ood/hackernews_titles.txt").name  # doctest: +SKIP
        'hackernews'
    """
    name, sep, source = spec.partition("=")
    name = name.strip()
    if not sep or not name or not source.strip():
        raise GoEmoXUsageError(f"--domain {spec!r}: expected NAME=SOURCE, e.g. hackernews=titles.txt")
    if any(char in name for char in ":/\\"):
        raise GoEmoXUsageError(f"--domain {spec!r}: the name {name!r} may not contain ':', '/' or '\\'")
    try:
        return Domain(name=name, source=parse_text_source(source.strip(), text_column))
    except GoEmoXError as err:
        raise GoEmoXUsageError(f"--domain {spec!r}: {err}") from None


class TextLoader:
    """Loads the texts of sources, reading each dataset once.

    Args:
        scheme: the label scheme `load_emotion_dataset` parses a dataset's labels with (only the texts are used).
    """

    def __init__(self, scheme: str | LabelScheme = "goemotions"):
        self.scheme = scheme
        self._datasets: dict[str, Any] = {}

    def texts(self, source: TextSource) -> list[str]:
        try:
            if not source.is_dataset:
                column = source.column or "text"
                return [row[column] for row in read_inputs(source.path, column)]
            if source.path not in self._datasets:
                self._datasets[source.path] = load_emotion_dataset(source.path, scheme=self.scheme)
            splits = self._datasets[source.path]
        except GoEmoXError as err:
            raise GoEmoXUsageError(f"{source.spec!r}: {err}") from None
        if source.split not in splits:
            raise GoEmoXUsageError(f"{source.spec!r}: the dataset has no {source.split!r} split; it has {list(splits)}")
        return list(splits[source.split]["text"])


def sample_texts(texts: list[str], max_texts: int | None, seed: int) -> list[str]:
    """At most `max_texts` texts drawn without replacement (seeded), in their original order; all when `None`."""
    if max_texts is None or len(texts) <= max_texts:
        return texts
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=max_texts, replace=False))
    return [texts[i] for i in chosen]


# ----------------------------------------------------------------------------------------------------
# Scores and statistics
# ----------------------------------------------------------------------------------------------------


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def energy(logits: np.ndarray) -> np.ndarray:
    """`E(x) = -sum_k softplus(z_k)` per row (lower = more evidence for some label)."""
    return -np.logaddexp(0.0, np.asarray(logits, dtype=np.float64)).sum(axis=1)


def score_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row's probabilities normalised to sum to one."""
    return scipy_entropy(np.asarray(probs, dtype=np.float64), base=2, axis=1)


def binary_entropy(probs: np.ndarray) -> np.ndarray:
    """Mean over labels of each label's binary entropy in bits, per row."""
    probs = np.asarray(probs, dtype=np.float64)
    return ((entr(probs) + entr(1.0 - probs)) / np.log(2)).mean(axis=1)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two distributions (normalised first)."""
    return float(jensenshannon(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64), base=2) ** 2)


def ood_auroc(in_domain_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """AUROC of a score (higher = more in-domain) for telling in-domain texts (positive) from others."""
    labels = np.r_[np.ones(len(in_domain_scores)), np.zeros(len(other_scores))]
    return float(roc_auc_score(labels, np.r_[in_domain_scores, other_scores]))


@dataclass
class DomainScores:
    """A domain's texts and the model's logits for them.

    Attributes:
        name: the domain's name.
        source: the source spec.
        logits: `(n, L)` logits.
        n_available: texts in the source before sampling.
    """

    name: str
    source: str
    logits: np.ndarray
    n_available: int
    probs: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.probs = sigmoid(self.logits)

    @property
    def max_probability(self) -> np.ndarray:
        return self.probs.max(axis=1)

    def ood_score(self, score: str) -> np.ndarray:
        """`max_probability` or `negative_energy` per text (higher = more in-domain)."""
        return ood_scores(self.logits, score)

    @property
    def entropy(self) -> np.ndarray:
        return score_entropy(self.probs)

    @property
    def binary_entropy(self) -> np.ndarray:
        return binary_entropy(self.probs)

    @property
    def energy(self) -> np.ndarray:
        return energy(self.logits)

    def top1_distribution(self) -> np.ndarray:
        """Share of texts per top-1 label, shape `(L,)`."""
        return np.bincount(self.probs.argmax(axis=1), minlength=self.probs.shape[1]) / len(self.probs)

    def thresholded_shares(self, thresholds: list[float]) -> np.ndarray:
        """Per label, the share of texts where it reaches its threshold, shape `(L,)`."""
        return apply_thresholds(self.probs, thresholds).mean(axis=0)

    def assignment_distribution(self, thresholds: list[float]) -> np.ndarray:
        """Label assignments at the thresholds plus a `(no label)` count per empty text, normalised; `(L + 1,)`."""
        chosen = apply_thresholds(self.probs, thresholds)
        counts = np.r_[chosen.sum(axis=0), (chosen.sum(axis=1) == 0).sum()].astype(np.float64)
        return counts / counts.sum()


def domain_summary(scores: DomainScores, label_names: list[str], thresholds: list[float]) -> dict[str, Any]:
    """The per-domain numbers of `analysis.json` (without the OOD ones, which need the in-domain texts)."""
    top1 = scores.top1_distribution()
    shares = scores.thresholded_shares(thresholds)
    chosen = apply_thresholds(scores.probs, thresholds)
    mode = int(top1.argmax())
    neutral = label_names.index(NEUTRAL) if NEUTRAL in label_names else None
    return {
        "source": scores.source,
        "n_texts": len(scores.probs),
        "n_available": scores.n_available,
        "top1_mode_label": label_names[mode],
        "collapse_rate": float(top1[mode]),
        "neutral_share": None if neutral is None else float(top1[neutral]),
        "neutral_share_thresholded": None if neutral is None else float(shares[neutral]),
        "no_label_share": float((chosen.sum(axis=1) == 0).mean()),
        "mean_labels_per_text": float(chosen.sum(axis=1).mean()),
        "mean_max_probability": float(scores.max_probability.mean()),
        "median_max_probability": float(np.median(scores.max_probability)),
        "mean_entropy_bits": float(scores.entropy.mean()),
        "mean_binary_entropy_bits": float(scores.binary_entropy.mean()),
        "mean_energy": float(scores.energy.mean()),
        "top1_distribution": dict(zip(label_names, map(float, top1))),
        "thresholded_distribution": dict(zip(label_names, map(float, shares))),
    }


def js_matrices(domains: list[DomainScores], thresholds: list[float]) -> dict[str, dict[str, dict[str, float]]]:
    """`{"top1": {A: {B: JS}}, "thresholded": {...}}` over every pair of domains."""
    distributions = {
        "top1": [d.top1_distribution() for d in domains],
        "thresholded": [d.assignment_distribution(thresholds) for d in domains],
    }
    return {
        kind: {a.name: {b.name: js_divergence(p, q) for b, q in zip(domains, dists)} for a, p in zip(domains, dists)}
        for kind, dists in distributions.items()
    }


def ood_cutoff(in_domain_scores: np.ndarray, quantile: float) -> float:
    """The `quantile` of in-domain OOD scores (higher = more in-domain): texts below it are flagged as unfamiliar."""
    if not 0 < quantile < 1:
        raise GoEmoXUsageError(f"--ood_quantile must be between 0 and 1, got {quantile}")
    return float(np.quantile(in_domain_scores, quantile))


# ----------------------------------------------------------------------------------------------------
# Running the analysis
# ----------------------------------------------------------------------------------------------------


@dataclass
class DomainShiftResult:
    """Everything one analysis measured; `analysis` is what `analysis.json` holds."""

    analysis: dict[str, Any]
    domains: list[DomainScores]
    label_names: list[str]
    thresholds: list[float]


def analyze_domains(
    classifier: EmotionClassifier,
    domains: list[Domain],
    *,
    model_name: str,
    in_domain: str | None = None,
    validation: TextSource | None = None,
    ood_quantile: float = 0.05,
    ood_score: str = "max_probability",
    max_texts: int | None = None,
    seed: int = 0,
    loader: TextLoader | None = None,
    show_progress: bool = True,
) -> DomainShiftResult:
    """Score every domain with the model and compute the statistics (see the module docstring).

    Args:
        classifier: the loaded model.
        domains: at least two named domains with distinct names.
        model_name: how the model is named in the results (its folder or Hub id).
        in_domain: the in-domain domain's name; the first domain by default.
        validation: in-domain validation texts for the OOD cutoff; no cutoff when `None`.
        ood_quantile: the share of validation texts that fall below the cutoff.
        ood_score: the score of the cutoff meant for storing (`ood_cutoff`): `max_probability` or
            `negative_energy`; cutoffs for both are computed (`ood_cutoffs`).
        max_texts: sample at most this many texts per domain (and of the validation texts), seeded.
        seed: the sampling seed.
        loader: reads the sources (a default `TextLoader` when `None`).
        show_progress: progress bars while predicting.

    Example:
        >>> result = analyze_domains(clf, [parse_domain("reddit=test.txt"), parse_domain("hn=hn.txt")],
        ...                          model_name="runs/model")  # doctest: +SKIP
        >>> result.analysis["domains"]["hn"]["ood_auroc_max_probability"]  # doctest: +SKIP
        0.81
    """
    names = [domain.name for domain in domains]
    if len(domains) < 2:
        raise GoEmoXUsageError("give at least two domains (--domain NAME=SOURCE twice or more)")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise GoEmoXUsageError(f"the domain name {repeated[0]!r} is given twice; domain names must differ")
    if max_texts is not None and max_texts < 1:
        raise GoEmoXUsageError(f"--max_texts must be at least 1, got {max_texts}")
    if not 0 < ood_quantile < 1:
        raise GoEmoXUsageError(f"--ood_quantile must be between 0 and 1, got {ood_quantile}")
    if ood_score not in OOD_SCORES:
        raise GoEmoXUsageError(f"--ood_score must be one of {', '.join(OOD_SCORES)}, got {ood_score!r}")
    in_domain = in_domain or names[0]
    if in_domain not in names:
        raise GoEmoXUsageError(f"--in_domain {in_domain!r} is not one of the domains {names}")
    loader = loader or TextLoader()
    label_names = list(classifier.label_names)
    thresholds = list(classifier.thresholds)

    scored = []
    for domain in domains:
        texts = loader.texts(domain.source)
        if not texts:
            raise GoEmoXUsageError(f"--domain {domain.name}={domain.source.spec}: no texts")
        sample = sample_texts(texts, max_texts, seed)
        print(f"{domain.name}: {len(sample)} texts from {domain.source.spec}")
        logits = classifier.predict_logits(sample, show_progress=show_progress)
        scored.append(DomainScores(domain.name, domain.source.spec, logits, len(texts)))
    reference = scored[names.index(in_domain)]

    cutoffs = {}
    if validation is not None:
        texts = sample_texts(loader.texts(validation), max_texts, seed)
        print(f"OOD cutoff: {len(texts)} in-domain validation texts from {validation.spec}")
        logits = classifier.predict_logits(texts, show_progress=show_progress)
        for score in OOD_SCORES:
            cutoffs[score] = {
                "score": score,
                "cutoff": ood_cutoff(ood_scores(logits, score), ood_quantile),
                "source": f"{ood_quantile:g} quantile of {score} on {len(texts)} texts of {validation.spec}",
                "quantile": ood_quantile,
                "n_texts": len(texts),
                "validation_source": validation.spec,
            }

    summaries = {}
    for scores in scored:
        summary = domain_summary(scores, label_names, thresholds)
        is_reference = scores is reference
        for score, key in (("max_probability", "ood_auroc_max_probability"), ("negative_energy", "ood_auroc_energy")):
            summary[key] = None if is_reference else ood_auroc(reference.ood_score(score), scores.ood_score(score))
        summary["flagged_shares"] = {
            score: float((scores.ood_score(score) < cutoff["cutoff"]).mean()) for score, cutoff in cutoffs.items()
        }
        summary["flagged_share"] = summary["flagged_shares"].get(ood_score)
        summaries[scores.name] = summary

    config = classifier.model.config
    analysis = {
        "schema_version": ANALYSIS_SCHEMA_VERSION,
        "model": model_name,
        "model_type": config.model_type,
        "problem_type": getattr(config, "problem_type", None),
        "label_names": label_names,
        "thresholds": thresholds,
        "thresholds_stored": bool(getattr(config, "thresholds", None)),
        "stored_ood_cutoff": getattr(config, "ood_cutoff", None),
        "in_domain": in_domain,
        "max_texts": max_texts,
        "seed": seed,
        "domains": summaries,
        "js_divergence": js_matrices(scored, thresholds),
        "ood_cutoff": cutoffs.get(ood_score),
        "ood_cutoffs": cutoffs,
    }
    return DomainShiftResult(analysis=analysis, domains=scored, label_names=label_names, thresholds=thresholds)


# ----------------------------------------------------------------------------------------------------
# Storing the cutoff in a model's config.json
# ----------------------------------------------------------------------------------------------------


def _write_json(path: Path, content: dict, sort_keys: bool = False) -> None:
    """Write JSON atomically; an existing file keeps its permissions."""
    write_text_atomically(path, json.dumps(content, indent=2, sort_keys=sort_keys) + "\n")


def store_ood_cutoff(model_dir: str | Path, cutoff: dict[str, Any], copy_to: str | Path | None = None) -> Path:
    """Write `ood_cutoff` = {"score", "cutoff", "source"} into a model folder's `config.json`.

    Without `copy_to` the folder's `config.json` is rewritten in place (atomically; every other key is kept).
    With `copy_to`, the folder is first copied there (without `checkpoint-*` folders) and only the copy changes.

    Args:
        model_dir: a local model folder.
        cutoff: the `ood_cutoff` entry of `analysis.json`.
        copy_to: a folder that does not exist yet (or is empty).

    Returns:
        The `config.json` that was written.
    """
    source = Path(model_dir)
    if not (source / "config.json").is_file():
        raise GoEmoXUsageError(f"{model_dir}: storing the OOD cutoff needs a local model folder with a config.json")
    folder = source
    if copy_to is not None:
        folder = Path(copy_to)
        if folder.exists() and any(folder.iterdir()):
            raise GoEmoXUsageError(f"{copy_to}: the model copy's folder already holds files; choose a new folder")
        if folder.resolve() == source.resolve():
            raise GoEmoXUsageError(f"{copy_to}: the copy must go to another folder than the model")
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("checkpoint-*"), dirs_exist_ok=True)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["ood_cutoff"] = {key: cutoff[key] for key in ("score", "cutoff", "source")}
    _write_json(config_path, config, sort_keys=True)  # as transformers writes config.json
    return config_path


# ----------------------------------------------------------------------------------------------------
# Plots and report
# ----------------------------------------------------------------------------------------------------


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


def prepare_output_dir(folder: str | Path, overwrite: bool) -> Path:
    """Create the output folder; refuse one that already holds files unless `overwrite`."""
    return prepare_report_folder(folder, overwrite, flag="--overwrite_output_dir")


def save_analysis(analysis: dict[str, Any], folder: str | Path) -> Path:
    """Write `analysis.json` into the folder (atomically)."""
    path = Path(folder) / "analysis.json"
    _write_json(path, analysis)
    return path
