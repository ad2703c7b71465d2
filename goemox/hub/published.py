"""Published results a model card sets beside the model's own: a YAML or JSON file of other models' test macro-F1.

The file names the label scheme its figures were measured on and lists one entry per model:

```yaml
scheme: goemotions
results:
  - model: BERT-base, the GoEmotions paper
    parameters: 110M
    test_macro_f1: 0.46
    how: one run, as published
    source: Demszky et al., ACL 2020 (arXiv 2005.00547)
```

`model`, `test_macro_f1` (between 0 and 1) and `how` (how the figure was obtained: seeds, thresholds) are required;
`parameters` and `source` are optional. `configs/published_goemotions.yaml` holds the figures the reference model's
card compares with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from goemox.errors import GoEmoXUsageError
from goemox.file_io import read_mapping_file

RESULT_FIELDS = ("model", "parameters", "test_macro_f1", "how", "source")


@dataclass(frozen=True)
class PublishedResult:
    """One model's published test macro-F1.

    Args:
        model: the model, in words.
        test_macro_f1: its test macro-F1, between 0 and 1.
        how: how the figure was obtained (seeds, thresholds, protocol).
        parameters: its size, as published (e.g. "110M"), if known.
        source: where it was published (a link or a citation), if known.

    Example:

    ```python
    >>> PublishedResult("DistilBERT", 0.518, "one run").row()[:3]
    ['DistilBERT', 'n/a', '0.518']
    ```"""

    model: str
    test_macro_f1: float
    how: str
    parameters: str | None = None
    source: str | None = None

    def row(self) -> list[str]:
        """The card's table row: model, parameters, test macro-F1, how it was obtained, source."""
        return [self.model, self.parameters or "n/a", f"{self.test_macro_f1:.3f}", self.how, self.source or "n/a"]


def _text(value, where: str, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        raise GoEmoXUsageError(f"{where} is {value!r}; expected {'a' if required else 'an optional'} non-empty text")
    return " ".join(str(value).split()).replace("|", "/")


def _result(entry, where: str) -> PublishedResult:
    if not isinstance(entry, dict):
        raise GoEmoXUsageError(f"{where} is {entry!r}; expected a mapping with model, test_macro_f1 and how")
    unknown = sorted(set(entry) - set(RESULT_FIELDS))
    if unknown:
        raise GoEmoXUsageError(f"{where}: unknown field(s) {unknown}; expected {', '.join(RESULT_FIELDS)}")
    score = entry.get("test_macro_f1")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise GoEmoXUsageError(f"{where}.test_macro_f1 is {score!r}; expected a number between 0 and 1")
    return PublishedResult(
        model=_text(entry.get("model"), f"{where}.model", required=True),
        test_macro_f1=float(score),
        how=_text(entry.get("how"), f"{where}.how", required=True),
        parameters=_text(entry.get("parameters"), f"{where}.parameters", required=False),
        source=_text(entry.get("source"), f"{where}.source", required=False),
    )


def read_published_results(path: str | Path, scheme: str) -> list[PublishedResult]:
    """The results a file of published figures lists, refusing one measured on another label scheme.

    Args:
        path: the YAML or JSON file (see the module's docstring).
        scheme: the label scheme of the model the card is for.

    Raises:
        GoEmoXUsageError: a missing or invalid file, another scheme, or an entry that lacks a field or has a wrong
            value; the message names the file, the entry and the field.

    Example:

    ```python
    >>> results = read_published_results("configs/published_goemotions.yaml", "goemotions")  # doctest: +SKIP
    >>> results[0].model  # doctest: +SKIP
    'BERT-base, the GoEmotions paper'
    ```"""
    content = read_mapping_file(path, expected="a mapping with scheme and results")
    unknown = sorted(set(content) - {"scheme", "results"})
    if unknown:
        raise GoEmoXUsageError(f"{path}: unknown field(s) {unknown}; expected scheme and results")
    if content.get("scheme") != scheme:
        raise GoEmoXUsageError(
            f"{path}: scheme is {content.get('scheme')!r}; expected {scheme!r}, the scheme this model was trained on "
            "(published figures on other labels do not compare)"
        )
    results = content.get("results")
    if not isinstance(results, list) or not results:
        raise GoEmoXUsageError(f"{path}: results is {results!r}; expected a non-empty list of published results")
    return [_result(entry, f"{path}: results[{index}]") for index, entry in enumerate(results)]
