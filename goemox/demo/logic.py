"""The web demo's work apart from drawing: its settings, checking input, reading uploads, building result tables.

`goemox/demo_app.py` draws the page with Streamlit and calls these plain functions, which are tested directly.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from goemox.calibration.logit_map import LogitMap
from goemox.data.text_files import decode_utf8, parse_inputs
from goemox.errors import GoEmoXUsageError
from goemox.inference.attribution import LabelExplanation
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.predictor import LONG_TEXT_AGGREGATIONS, LONG_TEXT_MODES, EmotionPrediction
from goemox.scores import apply_thresholds, stored_ood_score

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_LENGTH = 128
UPLOAD_TYPES = ("csv", "txt")
TXT_COLUMN = "text"
LABEL_SEPARATOR = ";"


@dataclass(frozen=True)
class DemoSettings:
    """What the demo serves, from the script's arguments (`goemox demo` passes them after `--`).

    Attributes:
        model: saved model folder or Hub id.
        max_rows: the most rows an uploaded file may have.
        max_length: the longest input in tokens (of each window, with `--long_text window`).
        long_text: how longer texts are read, `truncate` or `window` (`None`: the model's stored setting).
        long_text_stride: tokens shared by consecutive windows (`None`: the model's, else 32).
        long_text_aggregation: `max` or `mean` over a text's windows (`None`: the model's, else max).
    """

    model: str
    max_rows: int = DEFAULT_MAX_ROWS
    max_length: int = DEFAULT_MAX_LENGTH
    long_text: str | None = None
    long_text_stride: int | None = None
    long_text_aggregation: str | None = None

    def script_args(self) -> list[str]:
        """The arguments that make :func:`parse_demo_args` return these settings."""
        args = ["--model", self.model, "--max_rows", str(self.max_rows), "--max_length", str(self.max_length)]
        for name in ("long_text", "long_text_stride", "long_text_aggregation"):
            if getattr(self, name) is not None:
                args += [f"--{name}", str(getattr(self, name))]
        return args


class _RaisingParser(argparse.ArgumentParser):
    """An argument parser that raises `GoEmoXUsageError` instead of exiting (the page shows the message)."""

    def error(self, message: str):
        raise GoEmoXUsageError(f"demo arguments: {message}; start it with `goemox demo --model PATH_OR_HUB_ID`")


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


def parse_demo_args(argv: Sequence[str]) -> DemoSettings:
    """Demo settings from the script's arguments: `--model` (required), `--max_rows`, `--max_length`, `--long_text`,
    `--long_text_stride`, `--long_text_aggregation`.

    Args:
        argv: the arguments after the script name.

    Example:
        >>> parse_demo_args(["--model", "runs/demo", "--max_rows", "500"]).max_rows
        500
    """
    parser = _RaisingParser(prog="demo_app.py", add_help=False, allow_abbrev=False)
    parser.add_argument("--model", required=True)
    parser.add_argument("--max_rows", type=positive_int, default=DEFAULT_MAX_ROWS)
    parser.add_argument("--max_length", type=positive_int, default=DEFAULT_MAX_LENGTH)
    parser.add_argument("--long_text", choices=LONG_TEXT_MODES)
    parser.add_argument("--long_text_stride", type=int)
    parser.add_argument("--long_text_aggregation", choices=LONG_TEXT_AGGREGATIONS)
    return DemoSettings(**vars(parser.parse_args(list(argv))))


def model_facts(classifier: EmotionClassifier, model: str) -> dict[str, str]:
    """What the page says about the model in use: name, label scheme, thresholds, calibration, OOD check.

    Args:
        classifier: the loaded classifier.
        model: the folder or Hub id it was loaded from.
    """
    config = classifier.config
    scheme = getattr(config, "label_scheme", None)
    stored = getattr(config, "thresholds", None)
    facts = {
        "Model": model,
        "Label scheme": f"{scheme['name']}" if isinstance(scheme, dict) and scheme.get("name") else "not stored",
        "Labels": f"{len(classifier.label_names)}: {', '.join(classifier.label_names)}",
        "Thresholds": (
            "tuned per label, stored with the model" if stored else "0.5 for every label (the model stores none)"
        ),
    }
    facts["Long texts"] = long_text_fact(classifier)
    logit_map = LogitMap.stored(config)
    if logit_map is not None:
        facts["Calibration"] = logit_map.describe()
    if classifier.ood_cutoff is not None:
        source = (getattr(config, "ood_cutoff", None) or {}).get("source")
        score = {"max_probability": "highest probability", "negative_energy": "negative energy"}[
            stored_ood_score(config)
        ]
        facts["Out-of-domain check"] = f"{score} below {classifier.ood_cutoff:.3f}" + (
            f" (set on {source})" if source else ""
        )
    return facts


def check_text(text: str | None) -> str:
    """The text to classify, stripped; an empty one is refused.

    Args:
        text: what was typed.
    """
    stripped = (text or "").strip()
    if not stripped:
        raise GoEmoXUsageError("Enter a text to classify.")
    return stripped


def count_tokens(classifier: EmotionClassifier, texts: Sequence[str]) -> list[int]:
    """Each text's length in tokens as the model sees it (special tokens included, before truncation)."""
    return [len(ids) for ids in classifier.tokenizer(list(texts), truncation=False)["input_ids"]]


def long_text_fact(classifier: EmotionClassifier) -> str:
    """How the classifier reads a text longer than its `max_length`, in words.

    Args:
        classifier: the loaded classifier.
    """
    settings = classifier.long_text
    if settings.mode == "truncate":
        return f"cut to their first {classifier.max_length} tokens"
    return (
        f"read whole, in windows of {classifier.max_length} tokens sharing {settings.stride}; each label's score is "
        f"the {settings.aggregation} over the windows"
    )


def long_text_note(tokens: int, classifier: EmotionClassifier) -> str | None:
    """A note for a text longer than the model reads at once, saying how it was read, or `None`.

    Args:
        tokens: the text's length in tokens.
        classifier: the classifier that has just predicted the text alone (its `long_text_report` counts its
            windows).
    """
    max_length = classifier.max_length
    if tokens <= max_length:
        return None
    if classifier.long_text.mode == "truncate":
        return (
            f"This text is {tokens} tokens long; the model reads only the first {max_length}, so the scores ignore "
            "the rest (start the demo with --long_text window to read it whole)."
        )
    return (
        f"This text is {tokens} tokens long, more than the {max_length} the model reads at once: it was read whole, "
        f"in {classifier.long_text_report.windows} overlapping windows, each label's score the "
        f"{classifier.long_text.aggregation} over them."
    )


def long_texts_note(long_texts: int, texts: int, classifier: EmotionClassifier) -> str | None:
    """A note for a file with texts longer than the model reads at once, or `None` when it has none.

    Args:
        long_texts: the texts longer than `max_length` tokens.
        texts: all the file's texts.
        classifier: the classifier that predicted them.
    """
    if not long_texts:
        return None
    how = (
        "the model read only their beginning"
        if classifier.long_text.mode == "truncate"
        else f"read whole, in overlapping windows ({classifier.long_text.aggregation} of each label's score)"
    )
    return f"Texts longer than {classifier.max_length} tokens: {long_texts} of {texts}; {how}."


def unfamiliar_note(prediction: EmotionPrediction, ood_cutoff: float | None) -> str | None:
    """A note for a text the model flags as unlike its training data (`prediction.unfamiliar`), else `None`.

    Args:
        prediction: the model's prediction for the text.
        ood_cutoff: the model's cutoff (`None` when it stores none: then there is never a note).
    """
    if ood_cutoff is None or not prediction.unfamiliar:
        return None
    return (
        f"This text looks unlike the model's training data (its highest probability, "
        f"{max(prediction.scores.values()):.3f}, is below the cutoff {ood_cutoff:.3f}): read the scores with care."
    )


def passing_labels(probabilities: np.ndarray, label_names: Sequence[str], thresholds: Sequence[float]) -> list[str]:
    """The labels whose probability reaches their threshold, most probable first (as `EmotionClassifier.predict`).

    Args:
        probabilities: one text's probabilities, in label order.
        label_names: the model's labels.
        thresholds: one threshold per label.
    """
    chosen = np.flatnonzero(apply_thresholds(probabilities[None, :], list(thresholds))[0])
    return [label_names[i] for i in sorted(chosen, key=lambda i: -probabilities[i])]


def scores_frame(prediction: EmotionPrediction, thresholds: Sequence[float]) -> pd.DataFrame:
    """One row per label: its probability, threshold and whether it was predicted, most probable first.

    Args:
        prediction: the model's prediction for one text (made with `thresholds`).
        thresholds: one threshold per label, in the model's label order.
    """
    frame = pd.DataFrame(
        {
            "label": list(prediction.scores),
            "probability": list(prediction.scores.values()),
            "threshold": [float(t) for t in thresholds],
            "passes": [name in prediction.labels for name in prediction.scores],
        }
    )
    return frame.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


@dataclass
class BatchInput:
    """The texts of an uploaded file and its other columns.

    Attributes:
        rows: one dict per text, holding `text_column` and any other column of the file.
        text_column: the column with the text.
    """

    rows: list[dict]
    text_column: str

    @property
    def texts(self) -> list[str]:
        return [row[self.text_column] for row in self.rows]


def upload_format(name: str) -> str:
    """`csv` or `txt` from the file name; anything else is refused.

    Args:
        name: the uploaded file's name.
    """
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise GoEmoXUsageError(f"{name}: expected a .csv or .txt file")
    return suffix


def csv_columns(content: str, name: str) -> list[str]:
    """The column names in a CSV file's header row.

    Args:
        content: the decoded file.
        name: the file's name, for messages.
    """
    header = next(csv.reader(io.StringIO(content)), None)
    columns = [column for column in header or [] if column.strip()]
    if not columns:
        raise GoEmoXUsageError(f"{name}:1: no header row; expected a first line naming the columns")
    return columns


def read_upload(data: bytes, name: str, text_column: str | None, max_rows: int) -> BatchInput:
    """The rows of an uploaded CSV (with a header row) or TXT file (one text per line, blank lines skipped).

    Args:
        data: the file's bytes.
        name: the file's name (its extension picks the format).
        text_column: the CSV column with the texts (ignored for TXT).
        max_rows: the most rows accepted.

    Example:
        >>> read_upload(b"id,text\\n1,hello there\\n", "a.csv", "text", 10).texts
        ['hello there']
    """
    fmt = upload_format(name)
    content = decode_utf8(data, name)
    if fmt == "csv":
        columns = csv_columns(content, name)
        if text_column not in columns:
            raise GoEmoXUsageError(f"{name}:1: no column {text_column!r}; the header has {columns}")
    else:
        text_column = TXT_COLUMN
    rows = parse_inputs(content, name, text_column, fmt)
    if not rows:
        raise GoEmoXUsageError(f"{name}: no texts found")
    if len(rows) > max_rows:
        raise GoEmoXUsageError(
            f"{name}: {len(rows)} rows, more than this demo's limit of {max_rows} "
            "(split the file, use `goemox predict`, or start the demo with a higher --max_rows)"
        )
    return BatchInput(rows=rows, text_column=text_column)


def probabilities_in_chunks(
    classifier: EmotionClassifier,
    texts: Sequence[str],
    chunk_size: int,
    on_progress: Callable[[int, int], None],
) -> np.ndarray:
    """Probabilities for many texts, `chunk_size` at a time, reporting `(done, total)` after each chunk.

    Args:
        classifier: the loaded classifier.
        texts: the texts.
        chunk_size: texts per call to `predict_proba`.
        on_progress: called with the number of texts done and the total.
    """
    parts = []
    for start in range(0, len(texts), chunk_size):
        parts.append(classifier.predict_proba(texts[start : start + chunk_size]))
        on_progress(min(start + chunk_size, len(texts)), len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, len(classifier.label_names)), dtype=np.float32)


def results_frame(
    batch: BatchInput,
    probabilities: np.ndarray,
    label_names: Sequence[str],
    thresholds: Sequence[float],
    ood_cutoff: float | None = None,
) -> pd.DataFrame:
    """The batch results: the file's columns, `labels` (joined by `;`, most probable first), `unfamiliar` (when
    the model has an OOD cutoff) and one `score_<label>` column per label, as `goemox predict` writes CSV.

    Args:
        batch: the uploaded rows.
        probabilities: shape (rows, labels).
        label_names: the model's labels.
        thresholds: one threshold per label.
        ood_cutoff: the model's cutoff, or `None`.
    """
    score_columns = [f"score_{name}" for name in label_names]
    added = ["labels", "unfamiliar", *score_columns]
    kept = [column for column in batch.rows[0] if column not in added] if batch.rows else []
    frame = pd.DataFrame([{column: row.get(column) for column in kept} for row in batch.rows], columns=kept)
    frame["labels"] = [
        LABEL_SEPARATOR.join(passing_labels(row, label_names, thresholds)) for row in probabilities.astype(float)
    ]
    if ood_cutoff is not None:
        frame["unfamiliar"] = probabilities.max(axis=1) < ood_cutoff
    for column, values in zip(score_columns, probabilities.T):
        frame[column] = values.astype(float)
    return frame


def results_csv(frame: pd.DataFrame) -> bytes:
    """The results table as UTF-8 CSV bytes for the download button (scores with 6 decimals)."""
    return frame.to_csv(index=False, float_format="%.6f").encode("utf-8")


ATTRIBUTION_ELEMENT_ID = "goemox-attributions"
TOWARDS_RGB = (214, 39, 40)
"""Shading of a word that pushed towards the label (the red of the predicted-label badges)."""
AGAINST_RGB = (31, 119, 180)
"""Shading of a word that pushed against it."""


def attribution_html(text: str, explanation: LabelExplanation) -> str:
    """The text with each word's background shaded by its attribution for one label, and a legend.

    Red words pushed towards the label, blue ones against it; the opacity is the word's share of the strongest push
    in the text. Whitespace stays as typed; words the model did not read (past `max_length`) are left unshaded. Each
    word is a `span` whose `data-attribution` holds its value, inside an element with id `goemox-attributions` whose
    `data-label` names the label.

    Args:
        text: the text explained.
        explanation: its explanation for the label (`EmotionClassifier.explain`).

    Example:

    ```python
    >>> html = attribution_html("so furious", clf.explain(["so furious"], ["anger"])[0]["anger"])  # doctest: +SKIP
    ```"""
    strongest = max((abs(w.attribution) for w in explanation.words), default=0.0) or 1.0
    parts, position = [], 0
    for word in explanation.words:
        rgb = TOWARDS_RGB if word.attribution >= 0 else AGAINST_RGB
        alpha = 0.85 * abs(word.attribution) / strongest
        parts.append(html.escape(text[position : word.start]))
        parts.append(
            f'<span class="goemox-word" data-attribution="{word.attribution:.6g}" title="{word.attribution:+.3f}" '
            f'style="background:rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f});border-radius:0.25rem;padding:0 0.1rem">'
            f"{html.escape(word.word)}</span>"
        )
        position = word.end
    parts.append(html.escape(text[position:]))
    label = html.escape(explanation.label)
    swatch = 'style="background:rgba({},{},{},0.85);border-radius:0.25rem;padding:0 0.3rem;color:white"'
    legend = (
        f"Shading: how much each word moved the score of <b>{label}</b>. "
        f"<span {swatch.format(*TOWARDS_RGB)}>red</span> pushed towards it, "
        f"<span {swatch.format(*AGAINST_RGB)}>blue</span> against it; the stronger the colour, the stronger the push "
        "(relative to the strongest word of this text). Hover a word for its value: together they add up to the "
        f"change of the label's logit from the text without its words ({explanation.baseline_logit:.2f}) to the text "
        f"({explanation.logit:.2f})."
    )
    if explanation.cut:
        legend += " The words past the model's length limit were not read, so they are not shaded."
    return (
        f'<div id="{ATTRIBUTION_ELEMENT_ID}" data-label="{html.escape(explanation.label, quote=True)}">'
        f'<div style="white-space:pre-wrap;line-height:1.9;font-size:1.05rem">{"".join(parts)}</div>'
        f'<div style="font-size:0.85rem;opacity:0.8;margin-top:0.4rem">{legend}</div></div>'
    )
