"""Bias probe: the same sentences with identity terms swapped in, and how much each label's score moves.

A template is a sentence with a placeholder such as `[NAME]` or `[RELIGION]` (GoEmotions replaced names and
religions with these) or `[PERSON]` (gendered family words, in the packaged templates). For each placeholder,
every template is scored once per identity term put in its place (every occurrence gets the same term; other
placeholders stay as they are). For template `t`, term `a` and label `k`, with `s_k(t, a)` the label's sigmoid
score, the *change* is the score minus the template's mean over all terms:

    change_k(t, a) = s_k(t, a) - mean_b s_k(t, b)

Per label the probe reports the mean and the maximum of `|change|` over templates and terms, the mean range
(`max_a s - min_a s` per template, averaged), the term whose mean change is largest in absolute value, the mean
change per group of terms (e.g. gender, origin), and the flip rate: the share of templates where the label is
predicted (at its threshold) for some terms and not for others.

The default terms (`goemox/resources/bias_terms.json`): 24 first names (female and male; Anglo-American,
African-American, Hispanic, South Asian, Arabic, East Asian origin, two of each), 9 religious identities, and
14 gendered family words (7 female, 7 male). A terms file has the same shape: placeholder -> a list of terms,
each a string or an object `{"term": ..., ATTRIBUTE: GROUP, ...}`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from goemox.data.domains import TextLoader, parse_text_source, sample_texts
from goemox.errors import GoEmoXUsageError
from goemox.resources import read_resource
from goemox.scores import apply_thresholds

if TYPE_CHECKING:
    from goemox.inference.classifier import EmotionClassifier

BUILTIN_TEMPLATES = "builtin"
PLACEHOLDER_PATTERN = re.compile(r"\[[A-Z][A-Z_]*\]")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityTerm:
    """A term put in place of a placeholder, with the groups it belongs to (e.g. {"gender": "female"})."""

    text: str
    groups: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


def _parse_term(where: str, entry: Any) -> IdentityTerm:
    if isinstance(entry, str) and entry.strip():
        return IdentityTerm(entry.strip())
    if isinstance(entry, dict) and isinstance(entry.get("term"), str) and entry["term"].strip():
        groups = {key: value for key, value in entry.items() if key != "term"}
        if not all(isinstance(value, str) for value in groups.values()):
            raise GoEmoXUsageError(f"{where}: group values must be strings, got {groups}")
        return IdentityTerm(entry["term"].strip(), groups)
    raise GoEmoXUsageError(f"{where}: expected a term string or an object with a 'term' string, got {entry!r}")


def load_terms(path: str | Path | None = None) -> dict[str, list[IdentityTerm]]:
    """Placeholder -> identity terms, from a JSON file or (`None`) the packaged defaults.

    Args:
        path: a JSON object mapping placeholders like `"[NAME]"` to lists of at least two distinct terms.

    Example:
        >>> [term.text for term in load_terms()["[RELIGION]"]][:3]
        ['Christian', 'Catholic', 'Mormon']
    """
    name = "the default terms" if path is None else str(path)
    if path is None:
        content = json.loads(read_resource("bias_terms.json"))
    else:
        try:
            content = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GoEmoXUsageError(f"{path}: no such terms file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise GoEmoXUsageError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(content, dict) or not content:
        raise GoEmoXUsageError(f'{name}: expected a JSON object mapping placeholders like "[NAME]" to term lists')
    terms = {}
    for placeholder, entries in content.items():
        if not PLACEHOLDER_PATTERN.fullmatch(placeholder):
            raise GoEmoXUsageError(f'{name}: {placeholder!r} is not a placeholder; expected e.g. "[NAME]"')
        if not isinstance(entries, list) or len(entries) < 2:
            raise GoEmoXUsageError(f"{name}: {placeholder} needs a list of at least two terms")
        parsed = [_parse_term(f"{name}: {placeholder}[{i}]", entry) for i, entry in enumerate(entries)]
        texts = [term.text for term in parsed]
        repeated = sorted({text for text in texts if texts.count(text) > 1})
        if repeated:
            raise GoEmoXUsageError(f"{name}: {placeholder} lists the term {repeated[0]!r} twice")
        terms[placeholder] = parsed
    return terms


def load_templates(source: str, loader: TextLoader | None = None, text_column: str = "text") -> list[str]:
    """Sentences with at least one placeholder, deduplicated, from `builtin` or any source `goemox analyze` takes.

    Args:
        source: `builtin` (the packaged templates), a TXT / CSV / JSONL file, or `DATASET:SPLIT`
            (e.g. the GoEmotions folder with `:test`); see `goemox.domain_shift.parse_text_source`.
        loader: reads dataset sources.
        text_column: the text column of CSV / TSV / JSONL files.
    """
    if source == BUILTIN_TEMPLATES:
        texts = [line.strip() for line in read_resource("bias_templates.txt").splitlines() if line.strip()]
    else:
        texts = (loader or TextLoader()).texts(parse_text_source(source, text_column))
    return list(dict.fromkeys(text for text in texts if PLACEHOLDER_PATTERN.search(text)))


@dataclass
class PlaceholderProbe:
    """Scores of every template with every term of one placeholder.

    Attributes:
        placeholder: e.g. `[NAME]`.
        terms: the identity terms.
        templates: the sentences holding the placeholder.
        scores: `(templates, terms, labels)` sigmoid probabilities.
    """

    placeholder: str
    terms: list[IdentityTerm]
    templates: list[str]
    scores: np.ndarray


def run_bias_probe(
    classifier: EmotionClassifier,
    templates: list[str],
    terms: dict[str, list[IdentityTerm]],
    *,
    max_templates: int | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> list[PlaceholderProbe]:
    """Score every template with every term of each placeholder it contains.

    Args:
        classifier: the loaded model.
        templates: sentences with placeholders.
        terms: placeholder -> terms (see :func:`load_terms`).
        max_templates: at most this many templates per placeholder (seeded sample).
        seed: the sampling seed.
        show_progress: progress bars while predicting.

    Example:
        >>> probes = run_bias_probe(clf, load_templates("builtin"), load_terms())  # doctest: +SKIP
        >>> summary = summarise_probe(probes[0], clf.label_names, clf.thresholds)  # doctest: +SKIP
        >>> summary["labels"]["joy"]["mean_abs_change"]  # doctest: +SKIP
        0.004
    """
    if max_templates is not None and max_templates < 1:
        raise GoEmoXUsageError(f"--max_templates must be at least 1, got {max_templates}")
    probes = []
    for placeholder, placeholder_terms in terms.items():
        chosen = sample_texts([t for t in templates if placeholder in t], max_templates, seed)
        if not chosen:
            continue
        texts = [template.replace(placeholder, term.text) for template in chosen for term in placeholder_terms]
        logger.info("%s: %d templates x %d terms", placeholder, len(chosen), len(placeholder_terms))
        probs = classifier.predict_proba(texts, show_progress=show_progress)
        scores = probs.reshape(len(chosen), len(placeholder_terms), probs.shape[1])
        probes.append(PlaceholderProbe(placeholder, list(placeholder_terms), chosen, scores))
    if not probes:
        raise GoEmoXUsageError(f"no template holds any of the placeholders {list(terms)}")
    return probes


def summarise_probe(probe: PlaceholderProbe, label_names: list[str], thresholds: list[float]) -> dict[str, Any]:
    """The numbers of one placeholder's probe (see the module docstring), as stored in `analysis.json`."""
    scores = probe.scores
    n_templates, n_terms, n_labels = scores.shape
    change = scores - scores.mean(axis=1, keepdims=True)
    magnitude = np.abs(change)
    term_shift = change.mean(axis=0)
    chosen = apply_thresholds(scores.reshape(-1, n_labels), thresholds).reshape(scores.shape)
    flips = chosen.max(axis=1) != chosen.min(axis=1)
    labels = {}
    for k, label in enumerate(label_names):
        t, a = np.unravel_index(magnitude[:, :, k].argmax(), (n_templates, n_terms))
        mover = int(np.abs(term_shift[:, k]).argmax())
        labels[label] = {
            "mean_abs_change": float(magnitude[:, :, k].mean()),
            "max_abs_change": float(magnitude[t, a, k]),
            "mean_range": float((scores[:, :, k].max(axis=1) - scores[:, :, k].min(axis=1)).mean()),
            "flip_rate": float(flips[:, k].mean()),
            "most_moving_term": probe.terms[mover].text,
            "most_moving_term_mean_change": float(term_shift[mover, k]),
            "max_change_example": {
                "template": probe.templates[t],
                "term": probe.terms[a].text,
                "score": float(scores[t, a, k]),
                "template_mean_score": float(scores[t, :, k].mean()),
            },
        }
    groups: dict[str, dict[str, dict[str, float]]] = {}
    for attribute in dict.fromkeys(key for term in probe.terms for key in term.groups):
        values = dict.fromkeys(term.groups[attribute] for term in probe.terms if attribute in term.groups)
        groups[attribute] = {}
        for value in values:
            members = [i for i, term in enumerate(probe.terms) if term.groups.get(attribute) == value]
            groups[attribute][value] = dict(zip(label_names, map(float, change[:, members, :].mean(axis=(0, 1)))))
    return {
        "n_templates": n_templates,
        "terms": [term.text for term in probe.terms],
        "label_set_flip_rate": float(flips.any(axis=1).mean()),
        "labels": labels,
        "term_mean_change": {
            term.text: dict(zip(label_names, map(float, term_shift[i]))) for i, term in enumerate(probe.terms)
        },
        "group_mean_change": groups,
    }
