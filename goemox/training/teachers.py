"""The teachers of a distillation run: each one found (a goemox run folder, a native export, or a Hub id with an
optional `@revision`), checked in one line, identified by the content of its files, and scored once per set of texts,
with its logits cached on disk under a key of (teacher content, texts, max length). Runs that need the same logits at
the same time (several processes, several jobs) wait on a file lock while one of them computes them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from goemox.configuration_goemox import GoEmoXConfig
from goemox.errors import GoEmoXUsageError, first_line
from goemox.inference.classifier import EmotionClassifier, check_model_source, looks_local
from goemox.scores import sigmoid

logger = logging.getLogger(__name__)

SCORING_FILES = (
    "config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
)
"""The files of a model folder that decide its scores (its config, weights and tokenizer): a teacher's identity is
their content, and only they are fetched for a Hub teacher."""

CACHE_ENV = "GOEMOX_CACHE"
"""The environment variable naming goemox's cache folder (default `$XDG_CACHE_HOME/goemox`, else `~/.cache/goemox`)."""


@dataclass(frozen=True)
class Teacher:
    """A teacher model, found and checked.

    Attributes:
        source: what the user gave (`--teachers`): a folder, or a Hub id with an optional `@revision`.
        folder: the local folder it is read from (for a Hub id, the downloaded snapshot).
        kind: `"goemox"` (a saved goemox model) or `"native"` (a transformers `*ForSequenceClassification` with
            `problem_type="multi_label_classification"`, e.g. a `goemox export hub` folder).
        revision: the Hub commit of a Hub teacher (`None` for a local folder).
        fingerprint: SHA-256 over the names and contents of its :data:`SCORING_FILES`.
        labels: its label names, in output order.
    """

    source: str
    folder: Path
    kind: str
    revision: str | None
    fingerprint: str
    labels: tuple[str, ...]

    def to_dict(self) -> dict:
        """What `metrics.json` records of it (the local folder is left out: `source` names it)."""
        record = asdict(self)
        del record["folder"]
        record["labels"] = list(self.labels)
        return record


def fingerprint_files(folder: Path) -> str:
    """SHA-256 over the names and contents of a folder's :data:`SCORING_FILES` (top level, sorted by name).

    Args:
        folder: a model folder.

    Example:

    ```python
    >>> fingerprint_files(Path("runs/demo"))[:12]  # doctest: +SKIP
    '4f1c0a9e27b3'
    ```"""
    names = sorted({path.name for pattern in SCORING_FILES for path in folder.glob(pattern) if path.is_file()})
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8") + b"\0")
        with open(folder / name, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def hub_snapshot(source: str) -> tuple[Path, str]:
    """The local snapshot of a Hub teacher `OWNER/NAME[@REVISION]` (its scoring files only) and its commit.

    Raises:
        GoEmoXUsageError: in one line, when the repository or revision cannot be fetched (or is not cached offline).
    """
    from huggingface_hub import snapshot_download

    repo_id, _, revision = source.partition("@")
    try:
        folder = Path(snapshot_download(repo_id, revision=revision or None, allow_patterns=list(SCORING_FILES)))
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(
            f"--teachers {source}: no such local folder, and the Hub model cannot be fetched ({first_line(err)}); "
            "expected a goemox run folder, a native export of one, or a Hub id (OWNER/NAME[@REVISION])"
        ) from None
    return folder, folder.name


def is_multilabel_classifier(config) -> bool:
    """Whether a transformers config is a `*ForSequenceClassification` with sigmoid (multi-label) outputs: a native
    export of a goemox model, or any other such classifier (a teacher is only scored, never converted)."""
    heads = [name for name in config.architectures or [] if name.endswith("ForSequenceClassification")]
    return bool(heads) and config.problem_type == "multi_label_classification"


def resolve_teacher(source: str) -> Teacher:
    """Find and check one teacher: a multi-label classifier that goemox can score.

    Args:
        source: a goemox run folder, a native export (`goemox export hub`), or a Hub id with an optional `@revision`.

    Raises:
        GoEmoXUsageError: in one line, for a missing folder, pickle-only weights, an unreadable config, or a model
            that is not a multi-label classifier (a bare encoder, a single-label classifier).

    Example:

    ```python
    >>> resolve_teacher("runs/teacher").kind  # doctest: +SKIP
    'goemox'
    ```"""
    from transformers import AutoConfig

    path = Path(source).expanduser()
    if path.is_dir() or looks_local(source):
        try:
            check_model_source(source)
        except GoEmoXUsageError as err:
            raise GoEmoXUsageError(f"--teachers {err}") from None
        folder, revision = path, None
    else:
        folder, revision = hub_snapshot(source)
    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(f"--teachers {source}: cannot read its config.json ({first_line(err)})") from None
    if isinstance(config, GoEmoXConfig):
        kind = "goemox"
    elif is_multilabel_classifier(config):
        kind = "native"
    else:
        what = ", ".join(config.architectures or []) or f"a {config.model_type} model without a classifier head"
        raise GoEmoXUsageError(
            f"--teachers {source}: not a multi-label classifier ({what}); expected a goemox run folder, a native "
            "export of one (problem_type multi_label_classification), or a Hub id of either"
        )
    labels = tuple(config.id2label[i] for i in range(config.num_labels))
    return Teacher(source, folder, kind, revision, fingerprint_files(folder), labels)


def check_teacher_labels(teachers: Sequence[Teacher], labels: Sequence[str]) -> None:
    """Refuse, in one line, a teacher whose labels are not the run's (by name; their order may differ).

    Args:
        teachers: the run's teachers.
        labels: the labels of the run's scheme.

    Raises:
        GoEmoXUsageError: naming the first teacher that lacks a label or has one more.
    """
    wanted = set(labels)
    for teacher in teachers:
        if set(teacher.labels) == wanted and len(teacher.labels) == len(wanted):
            continue
        missing = sorted(wanted - set(teacher.labels))
        extra = sorted(set(teacher.labels) - wanted)
        parts = ([f"lacks {missing}"] if missing else []) + ([f"also predicts {extra}"] if extra else [])
        raise GoEmoXUsageError(
            f"--teachers {teacher.source}: its {len(teacher.labels)} labels differ from the run's {len(labels)} "
            f"({', '.join(parts) or 'a label twice'}); expected a teacher of the run's labels (choose them with "
            "--scheme)"
        )


def default_cache_dir() -> Path:
    """Where teachers' logits are cached unless `--teacher_cache_dir` says: `$GOEMOX_CACHE/teacher_logits`, else
    under `$XDG_CACHE_HOME/goemox` or `~/.cache/goemox`."""
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base).expanduser() / "teacher_logits"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "goemox" / "teacher_logits"


def texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 of a list of texts in order (each length-prefixed, so that no two lists share a digest by joining).

    Example:

    ```python
    >>> texts_digest(["a", "bc"]) != texts_digest(["ab", "c"])
    True
    ```"""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def cache_key(teacher: Teacher, texts: Sequence[str], max_length: int) -> str:
    """The cache key of a teacher's logits on `texts` cut at `max_length` tokens."""
    content = {
        "teacher": teacher.fingerprint,
        "texts": texts_digest(texts),
        "rows": len(texts),
        "max_length": max_length,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def save_atomically(path: Path, array: np.ndarray) -> None:
    """Write `array` to `path` (`.npy`) through a temporary file renamed into place, so that a reader never sees a
    partial file (a run killed while writing leaves none)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def teacher_logits(
    teacher: Teacher,
    texts: Sequence[str],
    max_length: int,
    cache_dir: Path,
    batch_size: int = 64,
    device: str | None = None,
) -> tuple[np.ndarray, bool]:
    """A teacher's logits on `texts` (each cut at `max_length` tokens, as the student reads it), from the cache when
    this teacher has scored these texts before, else computed with `EmotionClassifier` and cached.

    Args:
        teacher: the teacher.
        texts: the texts, in order.
        max_length: the longest input in tokens.
        cache_dir: the cache folder (created when first written).
        batch_size: texts per forward pass.
        device: where the teacher runs (default: CUDA when available).

    Returns:
        The logits, shape (len(texts), len(teacher.labels)) in the teacher's label order, and whether they came from
        the cache.

    Example:

    ```python
    >>> teacher = resolve_teacher("runs/teacher")  # doctest: +SKIP
    >>> logits, cached = teacher_logits(teacher, ["so happy"], 64, default_cache_dir())  # doctest: +SKIP
    ```"""
    path = cache_dir / f"{cache_key(teacher, texts, max_length)}.npy"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):  # a run that needs the same logits meanwhile waits for them, then reads them
        logits = cached_logits(path, (len(texts), len(teacher.labels)))
        if logits is not None:
            logger.info(
                "Teacher %s: logits of %d texts read from the cache (%s)", teacher.source, len(texts), path.name
            )
            return logits, True
        logger.info("Teacher %s: scoring %d texts (max_length %d)", teacher.source, len(texts), max_length)
        classifier = EmotionClassifier.from_pretrained(
            str(teacher.folder), device=device, max_length=max_length, batch_size=batch_size, long_text="truncate"
        )
        logits = classifier.predict_logits(list(texts)).astype(np.float32)
        del classifier
        save_atomically(path, logits)
    return logits, False


def cached_logits(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The logits cached at `path`, or `None` when there are none of that shape (a damaged file counts as none)."""
    if not path.is_file():
        return None
    try:
        logits = np.load(path)
    except (OSError, ValueError):
        return None
    return logits if logits.shape == shape else None


def soft_targets(
    teachers: Sequence[Teacher],
    texts: Sequence[str],
    labels: Sequence[str],
    max_length: int,
    temperature: float,
    cache_dir: Path,
    batch_size: int = 64,
    device: str | None = None,
) -> tuple[np.ndarray, list[dict]]:
    """The mean over teachers of their probabilities at `temperature`, `sigmoid(logits / T)`, in the run's label order.

    Args:
        teachers: the teachers (each with the run's labels, in any order).
        texts: the texts to score.
        labels: the run's labels, the columns of the result.
        max_length: the longest input in tokens.
        temperature: `T` (1: the teachers' probabilities).
        cache_dir: where teachers' logits are cached.
        batch_size: texts per forward pass.
        device: where the teachers run.

    Returns:
        The soft targets, shape (len(texts), len(labels)), float32, and per teacher its record with whether its
        logits came from the cache.

    Example:

    ```python
    >>> targets, records = soft_targets(teachers, ["so happy"], scheme.labels, 64, 1.0, cache_dir)  # doctest: +SKIP
    ```"""
    total = np.zeros((len(texts), len(labels)), dtype=np.float64)
    records = []
    for teacher in teachers:
        logits, cached = teacher_logits(teacher, texts, max_length, cache_dir, batch_size, device)
        order = [teacher.labels.index(name) for name in labels]
        total += sigmoid(logits[:, order].astype(np.float64) / temperature)
        records.append({**teacher.to_dict(), "logits_from_cache": cached})
    return (total / len(teachers)).astype(np.float32), records
