"""Reading a model's probabilities in the data's label vocabulary: scoring labelled texts whose labels are not the
model's (CARER's six emotions, Ekman groups, a user's own names).

Definitions:

- label map: data label -> the model labels it gathers (its *members*). It comes from a YAML/JSON file
  (``{"joy": ["joy", "amusement"], "anger": "anger"}``), from a label scheme (a built-in name such as ``ekman``, or
  a scheme JSON file) whose mapping from the model's labels is inverted into groups (ekman's ``joy`` gathers joy,
  amusement, approval, ... twelve GoEmotions labels), or, when none is given, one-to-one over the label names the
  data uses that the model also has.
- group score: the max of the members' probabilities.
- single-label scoring: over the rows with exactly one true data label, the prediction is the data label with the
  highest group score (argmax over every data label of the map; ties go to the first in map order). Accuracy; macro-F1
  over the data labels that occur as true labels among those rows (a label that never occurs has no F1 to average);
  precision / recall / F1 / support per data label; the confusion matrix (rows true, columns predicted, map order);
  and the majority baseline: the accuracy of always answering the most frequent true label.

Example:

```python
>>> import numpy as np
>>> groups = {"happy": ("joy", "love"), "sad": ("sadness",)}
>>> grouped_scores(np.array([[0.2, 0.7, 0.4]]), ["joy", "love", "sadness"], groups)
(array([[0.7, 0.4]]), ['happy', 'sad'])
```"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from goemox.data import label_matrix
from goemox.errors import DataError, GoEmoXUsageError
from goemox.evaluation.scoring import ScoredSplit, load_split
from goemox.file_io import read_mapping_file
from goemox.inference.predictor import EmotionPredictor
from goemox.labels import BUILTIN_SCHEMES, LabelScheme, get_label_scheme

logger = logging.getLogger(__name__)

SHARED_NAMES = "the label names shared by the data and the model"
"""The `source` of a label map built from the names the data and the model share."""

_SCHEME_KEYS = {"name", "labels", "mapping", "source_labels"}


@dataclass(frozen=True)
class LabelMap:
    """Data label -> the model labels it gathers, in the order the data labels are scored and reported.

    Attributes:
        groups: data label -> member model labels (at least one each).
        source: where the map came from: a file, ``label scheme 'ekman'``, or :data:`SHARED_NAMES`.

    Example:
        >>> LabelMap({"happy": ("joy",)}, "map.json").data_labels
        ('happy',)
    """

    groups: dict[str, tuple[str, ...]]
    source: str

    @property
    def data_labels(self) -> tuple[str, ...]:
        """The data labels, in map order."""
        return tuple(self.groups)

    def data_scheme(self) -> LabelScheme:
        """The scheme data files are read with: the data labels themselves (integer ids index them in map order)."""
        return LabelScheme(name=self.source, labels=self.data_labels, mapping={}, source_labels=self.data_labels)

    def to_dict(self) -> dict[str, Any]:
        """`{"source", "groups": {data label: [members]}}` for JSON outputs."""
        return {"source": self.source, "groups": {label: list(members) for label, members in self.groups.items()}}


def model_names_scheme(model_labels: Sequence[str]) -> LabelScheme:
    """The scheme data is read with when no label map is given: the model's label names, each standing for itself."""
    names = tuple(model_labels)
    return LabelScheme(name="the model's labels", labels=names, mapping={}, source_labels=names)


def read_label_map(spec: str | os.PathLike[str], model_labels: Sequence[str]) -> LabelMap:
    """A label map from a built-in scheme name, a scheme JSON file, or a YAML/JSON file of groups.

    A file is read as a label scheme when its keys are among `name`, `labels`, `mapping`, `source_labels` and include
    `labels`; otherwise each key is a data label and its value one model label name or a list of them.

    Args:
        spec: `ekman`, `sentiment`, `ten` (or another built-in scheme), or a file path.
        model_labels: the model's label names; every member must be one of them.

    Raises:
        DataError: a group that is empty or names something that is not a model label (naming the file and key).
        GoEmoXUsageError: a spec that is neither a built-in scheme nor an existing file, or a file that is not a
            mapping.

    Example:
        >>> read_label_map("ekman", GOEMOTIONS_LABELS).groups["fear"]  # doctest: +SKIP
        ('fear', 'nervousness')
    """
    key = os.fspath(spec)
    if key in BUILTIN_SCHEMES:
        return scheme_label_map(get_label_scheme(key), model_labels, f"label scheme {key!r}")
    path = Path(key).expanduser()
    if not path.is_file():
        raise GoEmoXUsageError(
            f"label map {key!r}: not a built-in scheme ({', '.join(BUILTIN_SCHEMES)}) and not an existing "
            "YAML/JSON file"
        )
    content = read_mapping_file(path, expected="a mapping of data label -> model label name(s)")
    if "labels" in content and set(content) <= _SCHEME_KEYS:
        return scheme_label_map(get_label_scheme(path), model_labels, str(path))
    if not content:
        raise DataError(path, None, "the label map is empty", "data label -> model label name(s), one entry or more")
    groups = {}
    for label, members in content.items():
        if not isinstance(label, str) or not label.strip():
            raise DataError(path, None, f"key {label!r} is not a label name", "data label names (strings) as keys")
        if isinstance(members, str):
            members = [members]
        if not isinstance(members, list) or not all(isinstance(member, str) for member in members):
            raise DataError(
                path, None, f"data label {label!r} maps to {members!r}", "a model label name or a list of them"
            )
        groups[label] = tuple(dict.fromkeys(members))
    return checked_label_map(groups, model_labels, str(path))


def scheme_label_map(scheme: LabelScheme, model_labels: Sequence[str], source: str) -> LabelMap:
    """Invert a scheme's mapping (model label -> scheme labels) into groups (scheme label -> model labels).

    A source label the mapping leaves out counts for the scheme label of the same name, as in
    :meth:`~goemox.labels.LabelScheme.map_names`.

    Args:
        scheme: the scheme; its source labels are the model's label names.
        model_labels: the model's label names.
        source: how the map is named in messages and outputs.

    Example:
        >>> scheme_label_map(get_label_scheme("ekman"), GOEMOTIONS_LABELS, "ekman").groups["neutral"]  # doctest: +SKIP
        ('neutral',)
    """

    def targets(name: str) -> tuple[str, ...]:
        return scheme.mapping.get(name, (name,) if name in scheme.labels else ())

    groups = {label: tuple(name for name in scheme.source_labels if label in targets(name)) for label in scheme.labels}
    return checked_label_map(groups, model_labels, source)


def checked_label_map(groups: Mapping[str, Sequence[str]], model_labels: Sequence[str], source: str) -> LabelMap:
    """A :class:`LabelMap` after checking that every group is non-empty and gathers only model labels.

    Args:
        groups: data label -> member model labels.
        model_labels: the model's label names.
        source: the file or scheme the groups came from (named in the errors).

    Raises:
        DataError: naming `source`, the data label and the model labels expected.

    Example:
        >>> checked_label_map({"happy": ["joy"]}, ["joy", "anger"], "map.json").groups
        {'happy': ('joy',)}
    """
    known = set(model_labels)
    checked = {}
    for label, members in groups.items():
        if not members:
            raise DataError(source, None, f"data label {label!r} gathers no model label", "at least one member")
        unknown = [member for member in members if member not in known]
        if unknown:
            raise DataError(
                source,
                None,
                f"data label {label!r} gathers {unknown[0]!r}, which is not a label of the model",
                f"model label names ({', '.join(model_labels)})",
            )
        checked[label] = tuple(members)
    return LabelMap(checked, source)


def grouped_scores(
    probs: np.ndarray, model_labels: Sequence[str], mapping: Mapping[str, Sequence[str]]
) -> tuple[np.ndarray, list[str]]:
    """Each data label's score: the max of its members' probabilities.

    Args:
        probs: `(rows, L)` model probabilities, columns in `model_labels` order.
        model_labels: the model's label names.
        mapping: data label -> member model labels (e.g. :attr:`LabelMap.groups`).

    Returns:
        `(rows, G)` group scores and the G data labels, in `mapping` order.

    Raises:
        GoEmoXUsageError: a member that is not one of `model_labels`.

    Example:
        >>> grouped_scores(np.array([[0.1, 0.9]]), ["joy", "anger"], {"mad": ["anger"]})
        (array([[0.9]]), ['mad'])
    """
    probs = np.asarray(probs, dtype=np.float64)
    column = {name: i for i, name in enumerate(model_labels)}
    members = [list(names) for names in mapping.values()]
    unknown = [name for names in members for name in names if name not in column]
    if unknown:
        raise GoEmoXUsageError(f"{unknown[0]!r} is not a model label ({', '.join(model_labels)})")
    if not members or not all(members):
        raise GoEmoXUsageError("a label map needs at least one data label, and each at least one model label")
    scores = [probs[:, [column[name] for name in names]].max(axis=1) for names in members]
    return np.column_stack(scores), list(mapping)


def score_in_data_labels(
    classifier: EmotionPredictor,
    source: str | None,
    *,
    split: str = "test",
    label_map: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    **load_kwargs,
) -> tuple[ScoredSplit, LabelMap]:
    """Load a split in the data's own labels, predict, and read the probabilities as data-label scores.

    Without `label_map` the data's label names must be model labels; the data labels are then the model labels the
    split uses (one-to-one, model order).

    Args:
        classifier: the loaded model.
        source: any source `load_emotion_dataset` takes.
        split: the split to score.
        label_map: a built-in scheme, a scheme JSON file or a label map file (see :func:`read_label_map`).
        show_progress: a progress bar while predicting.
        load_kwargs: passed to `load_emotion_dataset` (files, columns, separator, ...).

    Returns:
        The split with `y_true` and `probs` over the data labels (group scores), and the label map.

    Raises:
        DataError: a data label the map does not name (file and line), or a bad label map.

    Example:
        >>> scored, used = score_in_data_labels(
        ...     classifier, None, split="validation", validation_file="carer/validation.tsv", label_column="label"
        ... )  # doctest: +SKIP
        >>> used.data_labels  # doctest: +SKIP
        ('anger', 'fear', 'joy', 'love', 'sadness', 'surprise')
    """
    model_labels = list(classifier.label_names)
    chosen = read_label_map(label_map, model_labels) if label_map is not None else None
    scheme = chosen.data_scheme() if chosen is not None else model_names_scheme(model_labels)
    data = load_split(source, split, scheme, **load_kwargs)
    if not len(data):
        raise GoEmoXUsageError(f"the {split} split has no rows")
    y_true = label_matrix(data) > 0
    support = y_true.sum(axis=0)
    if chosen is None:
        used = [j for j in range(len(model_labels)) if support[j]]
        if not used:
            raise GoEmoXUsageError(f"no row of the {split} split has a label; single-label scoring needs labels")
        chosen = LabelMap({model_labels[j]: (model_labels[j],) for j in used}, SHARED_NAMES)
        y_true = y_true[:, used]
    else:
        unseen = [label for label, count in zip(chosen.data_labels, support) if not count]
        if unseen:
            logger.warning("Data labels of %s never seen in the %s split: %s", chosen.source, split, ", ".join(unseen))
    logger.info("Scoring %d rows of %s in %d data labels (%s)", len(data), split, len(chosen.groups), chosen.source)
    probs = classifier.predict_proba(data["text"], show_progress=show_progress)
    group_probs, _ = grouped_scores(probs, model_labels, chosen.groups)
    return ScoredSplit(split=split, texts=list(data["text"]), y_true=y_true.astype(int), probs=group_probs), chosen


def single_label_scores(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Single-label scores of the rows with exactly one true label (see the module docstring).

    Args:
        y_true: `(rows, G)` 0/1 true data labels.
        scores: `(rows, G)` data-label scores (e.g. from :func:`grouped_scores`).
        labels: the G data labels.

    Returns:
        `rows`, `rows_scored`, `rows_without_label`, `rows_with_several_labels`, `accuracy`, `macro_f1`,
        `macro_f1_labels` (the labels averaged), `majority_label`, `majority_baseline_accuracy`, `per_label`
        (precision, recall, f1, support, predicted) and `confusion` (`counts`, rows true, columns predicted).

    Raises:
        GoEmoXUsageError: no row has exactly one true label.

    Example:
        >>> single_label_scores(np.array([[1, 0], [0, 1]]), np.array([[0.9, 0.1], [0.8, 0.3]]), ["a", "b"])["accuracy"]
        0.5
    """
    truth = np.asarray(y_true) > 0
    scores = np.asarray(scores, dtype=np.float64)
    names = list(labels)
    counts = truth.sum(axis=1)
    single = counts == 1
    if not single.any():
        raise GoEmoXUsageError(
            f"none of the {len(truth)} rows has exactly one label of {', '.join(names)}; single-label scoring "
            "needs rows with one label each"
        )
    true = truth[single].argmax(axis=1)
    predicted = scores[single].argmax(axis=1)
    every = list(range(len(names)))
    present = sorted(set(true.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=every, zero_division=0)
    predicted_counts = np.bincount(predicted, minlength=len(names))
    majority = int(np.bincount(true, minlength=len(names)).argmax())
    return {
        "labels": names,
        "rows": int(len(truth)),
        "rows_scored": int(single.sum()),
        "rows_without_label": int((counts == 0).sum()),
        "rows_with_several_labels": int((counts > 1).sum()),
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(f1_score(true, predicted, labels=present, average="macro", zero_division=0)),
        "macro_f1_labels": [names[j] for j in present],
        "majority_label": names[majority],
        "majority_baseline_accuracy": float((true == majority).mean()),
        "per_label": {
            name: {
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "f1": float(f1[j]),
                "support": int(support[j]),
                "predicted": int(predicted_counts[j]),
            }
            for j, name in enumerate(names)
        },
        "confusion": {
            "definition": "rows = true data label, columns = predicted data label (argmax), counts of scored rows",
            "labels": names,
            "counts": confusion_matrix(true, predicted, labels=every).tolist(),
        },
    }


def format_single_label_table(result: dict[str, Any], label_map: LabelMap) -> str:
    """A plain-text summary: accuracy, macro-F1 and the majority baseline, then one row per data label.

    Args:
        result: from :func:`single_label_scores`.
        label_map: the map the scores were read with (its members are listed).

    Example:
        >>> print(format_single_label_table(result, label_map).splitlines()[0])  # doctest: +SKIP
        accuracy          0.4570
    """
    lines = [
        f"{'accuracy':<18}{result['accuracy']:.4f}",
        f"{'macro_f1':<18}{result['macro_f1']:.4f}  (over {len(result['macro_f1_labels'])} labels)",
        f"{'majority baseline':<18}{result['majority_baseline_accuracy']:.4f}  (always {result['majority_label']!r})",
        "",
        f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}{'predicted':>11}  members",
    ]
    for label, row in result["per_label"].items():
        lines.append(
            f"{label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>9d}"
            f"{row['predicted']:>11d}  {', '.join(label_map.groups[label])}"
        )
    return "\n".join(lines)
