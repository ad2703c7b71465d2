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

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import entr
from scipy.stats import entropy as scipy_entropy

from goemox.analysis.ood import DEFAULT_OOD_SCORE, ood_auroc, validation_ood_cutoff
from goemox.data.domains import Domain, TextLoader, TextSource, sample_texts
from goemox.errors import GoEmoXUsageError
from goemox.file_io import write_json_atomically
from goemox.inference.classifier import EmotionClassifier
from goemox.scores import OOD_SCORES, apply_thresholds, negative_energy, ood_scores, sigmoid, uncalibrated_logits

logger = logging.getLogger(__name__)

NEUTRAL = "neutral"
ANALYSIS_SCHEMA_VERSION = 1
PLOT_DPI = 100


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


@dataclass
class DomainScores:
    """A domain's texts and the model's logits for them.

    Attributes:
        name: the domain's name.
        source: the source spec.
        logits: `(n, L)` logits.
        n_available: texts in the source before sampling.
        raw_logits: the logits before the model's folded calibration, which the OOD scores and the energy are
            computed on (default: `logits`; see `goemox.scores.uncalibrated_logits`).
    """

    name: str
    source: str
    logits: np.ndarray
    n_available: int
    raw_logits: np.ndarray | None = None
    probs: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.probs = sigmoid(self.logits)
        if self.raw_logits is None:
            self.raw_logits = np.asarray(self.logits, dtype=np.float64)

    @property
    def max_probability(self) -> np.ndarray:
        return self.probs.max(axis=1)

    def ood_score(self, score: str) -> np.ndarray:
        """`max_probability` or `negative_energy` per text (higher = more in-domain)."""
        return ood_scores(self.raw_logits, score)

    @property
    def entropy(self) -> np.ndarray:
        return score_entropy(self.probs)

    @property
    def binary_entropy(self) -> np.ndarray:
        return binary_entropy(self.probs)

    @property
    def energy(self) -> np.ndarray:
        return -negative_energy(self.raw_logits)

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
    ood_score: str = DEFAULT_OOD_SCORE,
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

    scored, long_texts = [], {}
    for domain in domains:
        texts = loader.texts(domain.source)
        if not texts:
            raise GoEmoXUsageError(f"--domain {domain.name}={domain.source.spec}: no texts")
        sample = sample_texts(texts, max_texts, seed)
        logger.info("%s: %d texts from %s", domain.name, len(sample), domain.source.spec)
        logits = classifier.predict_logits(sample, show_progress=show_progress)
        long_texts[domain.name] = classifier.long_text_report.to_dict()
        raw = uncalibrated_logits(logits, classifier.config)
        scored.append(DomainScores(domain.name, domain.source.spec, logits, len(texts), raw))
    reference = scored[names.index(in_domain)]

    cutoffs = validation_cutoffs(classifier, loader, validation, ood_quantile, max_texts, seed, show_progress)

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
        summary["long_text"] = long_texts[scores.name]
        summaries[scores.name] = summary

    config = classifier.config  # the ONNX classifier has no torch model, only its config
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


def validation_cutoffs(
    classifier: EmotionClassifier,
    loader: TextLoader,
    validation: TextSource | None,
    quantile: float,
    max_texts: int | None,
    seed: int,
    show_progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """The OOD cutoff of every OOD score on in-domain validation texts (`{}` without `validation`).

    Args:
        classifier: the loaded model.
        loader: reads the source.
        validation: in-domain validation texts.
        quantile: the share of validation texts that fall below each cutoff.
        max_texts: sample at most this many texts (seeded).
        seed: the sampling seed.
        show_progress: a progress bar while predicting.
    """
    if validation is None:
        return {}
    texts = sample_texts(loader.texts(validation), max_texts, seed)
    logger.info("OOD cutoff: %d in-domain validation texts from %s", len(texts), validation.spec)
    logits = classifier.predict_logits(texts, show_progress=show_progress)
    return {
        score: validation_ood_cutoff(logits, score, quantile, validation.spec, classifier.config)
        for score in OOD_SCORES
    }


def save_analysis(analysis: dict[str, Any], folder: str | Path) -> Path:
    """Write `analysis.json` into the folder (atomically)."""
    path = Path(folder) / "analysis.json"
    write_json_atomically(path, analysis)
    return path
