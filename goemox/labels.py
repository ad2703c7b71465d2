"""Label schemes: which emotions a model predicts, and how dataset labels map onto them.

A :class:`LabelScheme` has an ordered tuple of target ``labels`` (the model's outputs, in order) and a
``mapping`` from source label names to target label names. Datasets store labels either as names or
as integer ids; ids index ``source_labels``, which is the 28-label GoEmotions list for every built-in
scheme. Names are resolved with :meth:`LabelScheme.map_names`: a mapped name becomes its targets, a
name that is itself a target label stands for itself, anything else is an error.

Built-in schemes (:func:`get_label_scheme`):

``"goemotions"``
    The 28 GoEmotions labels (:data:`GOEMOTIONS_LABELS`), each mapped to itself.

``"ekman"`` (Ekman's six basic emotions plus neutral, as in the GoEmotions paper)
    - anger <- anger, annoyance, disapproval
    - disgust <- disgust
    - fear <- fear, nervousness
    - joy <- joy, amusement, approval, excitement, gratitude, love, optimism, relief, pride,
      admiration, desire, caring
    - sadness <- sadness, disappointment, embarrassment, grief, remorse
    - surprise <- surprise, realization, confusion, curiosity
    - neutral <- neutral

``"sentiment"`` (the GoEmotions authors' sentiment grouping)
    - positive <- amusement, excitement, joy, love, desire, optimism, caring, pride, admiration,
      gratitude, relief, approval
    - negative <- fear, nervousness, remorse, embarrassment, disappointment, sadness, grief, disgust,
      anger, annoyance, disapproval
    - ambiguous <- realization, surprise, curiosity, confusion
    - neutral <- neutral

``"ten"`` (alias ``"emotions10"``; ten emotions, no neutral class)
    - praise <- admiration, approval, gratitude
    - amusement <- amusement
    - anger <- anger, annoyance, disgust
    - disapproval <- disapproval
    - confusion <- confusion
    - interest <- curiosity, desire, surprise, realization
    - sadness <- sadness, grief, disappointment, remorse, embarrassment
    - fear <- fear, nervousness
    - joy <- joy, excitement, optimism, relief, pride
    - love <- love, caring
    - neutral is mapped to nothing

Rows left without any label after mapping (for example a row labelled only ``neutral`` under
``"ten"``) are kept by :func:`goemox.data.load_emotion_dataset` as all-negative rows (every target is
0), which teaches the model that none of the emotions applies; pass ``empty_rows="drop"`` to remove
them instead (the count is reported).

A custom scheme is a JSON file, passed to :func:`get_label_scheme` by path::

    {
      "name": "valence",
      "labels": ["pleasant", "unpleasant"],
      "mapping": {"joy": ["pleasant"], "anger": ["unpleasant"], "neutral": []},
      "source_labels": ["joy", "anger", "neutral"]
    }

``mapping`` and ``source_labels`` are optional (defaults: no mapping, the GoEmotions labels). Every key of
``mapping`` must be one of ``source_labels`` and every target one of ``labels``; a file that breaks either is
refused, naming the file and the key.

Mappings are applied once, in parallel, never chained: each name of a row is looked up in the original
mapping. A swap ``{"pos": ["neg"], "neg": ["pos"]}`` therefore exchanges the two labels (a ``pos`` row
becomes ``neg`` and a ``neg`` row becomes ``pos``) instead of sending both to the same label.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goemox.errors import LabelSchemeError, UnknownLabelError

__all__ = [
    "BUILTIN_SCHEMES",
    "GOEMOTIONS_LABELS",
    "LabelScheme",
    "LabelSchemeError",
    "UnknownLabelError",
    "get_label_scheme",
]

NO_LABEL = "(no label)"
"""How reports name the outcome of a text whose scores reach no threshold."""

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)
"""The 28 labels of GoEmotions (27 emotions and neutral), in the data set's order."""


@dataclass(frozen=True)
class LabelScheme:
    """An ordered set of target labels and the mapping of source labels onto them.

    Args:
        name: Short identifier of the scheme, e.g. ``"ekman"``.
        labels: Target label names; their order is the order of the model outputs.
        mapping: Source label name (one of ``source_labels``) -> target label names (of ``labels``). A source
            label mapped to ``()`` is dropped. Applied once, in parallel: a swap ``a -> b, b -> a`` exchanges them.
        source_labels: The label names that integer label ids refer to (id = position).

    Example:
        >>> scheme = get_label_scheme("ekman")
        >>> scheme.map_names(["amusement", "grief", "joy"])
        ['joy', 'sadness']
        >>> scheme.label_from_id(27)
        'neutral'
    """

    name: str
    labels: tuple[str, ...]
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    source_labels: tuple[str, ...] = GOEMOTIONS_LABELS
    _lookup: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        labels = tuple(self.labels)
        source_labels = tuple(self.source_labels)
        if not isinstance(self.name, str) or not self.name:
            raise LabelSchemeError(f"name: expected a non-empty string, got {self.name!r}")
        _check_names("labels", labels)
        _check_names("source_labels", source_labels)
        if not labels:
            raise LabelSchemeError("labels: expected at least one label")
        mapping: dict[str, tuple[str, ...]] = {}
        for source, targets in dict(self.mapping).items():
            if isinstance(targets, str) or not isinstance(targets, Iterable):
                raise LabelSchemeError(f"mapping: targets of {source!r} must be a list of label names, got {targets!r}")
            targets = tuple(targets)
            unknown = [target for target in targets if target not in labels]
            if unknown:
                raise LabelSchemeError(
                    f"mapping: {source!r} maps to {unknown!r}, which are not in labels {list(labels)}"
                )
            if source not in source_labels:
                raise LabelSchemeError(
                    f"mapping: source label {source!r} is not in source_labels ({', '.join(source_labels)})"
                )
            mapping[source] = tuple(dict.fromkeys(targets))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "source_labels", source_labels)
        object.__setattr__(self, "mapping", mapping)
        object.__setattr__(self, "_lookup", {**{label: (label,) for label in labels}, **mapping})

    @property
    def num_labels(self) -> int:
        """Number of target labels (model outputs)."""
        return len(self.labels)

    @property
    def label2id(self) -> dict[str, int]:
        """Target label name -> output index, as used in a model config."""
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        """Output index -> target label name, as used in a model config."""
        return dict(enumerate(self.labels))

    @property
    def known_names(self) -> tuple[str, ...]:
        """Every name :meth:`map_names` accepts: the target labels, then the other mapped names."""
        return tuple(self._lookup)

    def map_names(self, names: Iterable[str]) -> list[str]:
        """Map label names to target labels.

        Args:
            names: Source label names or target label names.

        Returns:
            The target labels, without duplicates, in scheme order (possibly empty).

        Raises:
            UnknownLabelError: If a name is neither mapped nor a target label.
        """
        targets: set[str] = set()
        for name in names:
            try:
                targets.update(self._lookup[name])
            except (KeyError, TypeError):
                raise UnknownLabelError(
                    name,
                    self.known_names,
                    f"unknown label {name!r} for label scheme {self.name!r}; "
                    f"valid names: {', '.join(self.known_names)}",
                ) from None
        return [label for label in self.labels if label in targets]

    def label_from_id(self, label_id: int) -> str:
        """Return the source label name of an integer label id.

        Raises:
            UnknownLabelError: If ``label_id`` is not in ``range(len(source_labels))``.
        """
        try:
            index = -1 if isinstance(label_id, bool) else operator.index(label_id)
        except TypeError:
            index = -1
        if not 0 <= index < len(self.source_labels):
            raise UnknownLabelError(
                label_id,
                self.source_labels,
                f"label id {label_id!r} is out of range for label scheme {self.name!r}; "
                f"valid ids: 0..{len(self.source_labels) - 1}",
            )
        return self.source_labels[index]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict that :meth:`from_dict` turns back into this scheme."""
        return {
            "name": self.name,
            "labels": list(self.labels),
            "mapping": {source: list(targets) for source, targets in self.mapping.items()},
            "source_labels": list(self.source_labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelScheme:
        """Build a scheme from a dict such as the one written by :meth:`to_dict`.

        ``mapping`` and ``source_labels`` are optional.

        Raises:
            LabelSchemeError: Naming the field that is missing or invalid.
        """
        if not isinstance(data, Mapping):
            raise LabelSchemeError(f"expected a JSON object, got {type(data).__name__}")
        for key in ("name", "labels"):
            if key not in data:
                raise LabelSchemeError(f"{key}: missing required field")
        unknown_keys = sorted(set(data) - {"name", "labels", "mapping", "source_labels"})
        if unknown_keys:
            raise LabelSchemeError(f"{unknown_keys[0]}: unknown field; expected name, labels, mapping, source_labels")
        mapping = data.get("mapping", {})
        if not isinstance(mapping, Mapping):
            raise LabelSchemeError(f"mapping: expected an object of name -> list of labels, got {mapping!r}")
        return cls(
            name=data["name"],
            labels=_as_name_tuple("labels", data["labels"]),
            mapping=dict(mapping),
            source_labels=_as_name_tuple("source_labels", data.get("source_labels", GOEMOTIONS_LABELS)),
        )


def _as_name_tuple(field_name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise LabelSchemeError(f"{field_name}: expected a list of label names, got {value!r}")
    return tuple(value)


def _check_names(field_name: str, names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise LabelSchemeError(f"{field_name}: expected non-empty strings, got {name!r}")
        if name in seen:
            raise LabelSchemeError(f"{field_name}: duplicate label {name!r}")
        seen.add(name)


def _grouped(name: str, groups: dict[str, tuple[str, ...]]) -> LabelScheme:
    """Build a scheme over GoEmotions from ``target <- sources`` groups (sources not listed are dropped)."""
    mapping: dict[str, tuple[str, ...]] = {label: () for label in GOEMOTIONS_LABELS}
    for target, sources in groups.items():
        for source in sources:
            mapping[source] = (*mapping[source], target)
    return LabelScheme(name=name, labels=tuple(groups), mapping=mapping)


_EKMAN_GROUPS = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": (
        "joy",
        "amusement",
        "approval",
        "excitement",
        "gratitude",
        "love",
        "optimism",
        "relief",
        "pride",
        "admiration",
        "desire",
        "caring",
    ),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}

_SENTIMENT_GROUPS = {
    "positive": (
        "amusement",
        "excitement",
        "joy",
        "love",
        "desire",
        "optimism",
        "caring",
        "pride",
        "admiration",
        "gratitude",
        "relief",
        "approval",
    ),
    "negative": (
        "fear",
        "nervousness",
        "remorse",
        "embarrassment",
        "disappointment",
        "sadness",
        "grief",
        "disgust",
        "anger",
        "annoyance",
        "disapproval",
    ),
    "ambiguous": ("realization", "surprise", "curiosity", "confusion"),
    "neutral": ("neutral",),
}

_TEN_GROUPS = {
    "praise": ("admiration", "approval", "gratitude"),
    "amusement": ("amusement",),
    "anger": ("anger", "annoyance", "disgust"),
    "disapproval": ("disapproval",),
    "confusion": ("confusion",),
    "interest": ("curiosity", "desire", "surprise", "realization"),
    "sadness": ("sadness", "grief", "disappointment", "remorse", "embarrassment"),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "excitement", "optimism", "relief", "pride"),
    "love": ("love", "caring"),
}

# Names accepted by `get_label_scheme` besides file paths; "emotions10" is an alias of "ten".
BUILTIN_SCHEMES: tuple[str, ...] = ("goemotions", "ekman", "sentiment", "ten", "emotions10")
"""The label schemes `get_label_scheme` knows by name (any other name is read as a scheme JSON file)."""


def _builtin(name: str) -> LabelScheme:
    if name == "goemotions":
        return _grouped("goemotions", {label: (label,) for label in GOEMOTIONS_LABELS})
    if name == "ekman":
        return _grouped("ekman", _EKMAN_GROUPS)
    if name == "sentiment":
        return _grouped("sentiment", _SENTIMENT_GROUPS)
    return _grouped("ten", _TEN_GROUPS)


def get_label_scheme(name_or_path: str | os.PathLike[str]) -> LabelScheme:
    """Return a built-in label scheme by name, or load a custom one from a JSON file.

    Built-in names take precedence over files of the same name. A custom scheme file without a
    ``"name"`` is named after the file.

    Args:
        name_or_path: One of :data:`BUILTIN_SCHEMES`, or the path of a JSON scheme file.

    Raises:
        LabelSchemeError: If the name is unknown, or the file cannot be read or is invalid (the message
            names the file and the field).

    Example:
        >>> get_label_scheme("sentiment").labels
        ('positive', 'negative', 'ambiguous', 'neutral')
    """
    key = os.fspath(name_or_path)
    if key in BUILTIN_SCHEMES:
        return _builtin(key)
    path = Path(key).expanduser()
    if not path.is_file():
        raise LabelSchemeError(
            f"unknown label scheme {key!r}: not a built-in scheme ({', '.join(BUILTIN_SCHEMES)}) "
            "and not an existing JSON file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise LabelSchemeError(f"{path}: cannot read label scheme file ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise LabelSchemeError(f"{path}: label scheme file is not UTF-8 ({err.reason})") from err
    except json.JSONDecodeError as err:
        raise LabelSchemeError(
            f"{path}:{err.lineno}: invalid JSON ({err.msg}); expected a JSON object with "
            '"name", "labels", "mapping" and optional "source_labels"'
        ) from err
    if isinstance(data, dict):
        data = {"name": path.stem, **data}
    try:
        return LabelScheme.from_dict(data)
    except LabelSchemeError as err:
        raise LabelSchemeError(f"{path}: {err}") from err
