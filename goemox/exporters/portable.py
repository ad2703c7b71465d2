"""What an exported folder stores must hold on any machine: no path of the machine that built it, and a tokenizer
that cuts texts where the model was trained to read them.

`goemox export hub`, `goemox push` and `goemox export onnx` write the folder, then call `scrub_local_paths` on it; they
save the tokenizer that `export_tokenizer` returns, whose `model_max_length` is the training `--max_length`, so that
`pipeline(..., truncation=True)` and transformers.js read a long text as goemox does.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from goemox.errors import GoEmoXUsageError
from goemox.run_folder import RUN_CONFIG_FILE, read_run_file

logger = logging.getLogger(__name__)

LOCAL_SUFFIX = " (local folder)"
"""Marks a local path shown by its base name: a space is never part of a Hub id, so the result is never read as one."""


def is_hub_id(name: str | None) -> bool:
    """Whether `name` reads as a Hub repository id (`user/name` or a legacy `name`) rather than a local path.

    Args:
        name: a model, dataset or file name as a run recorded it.

    Example:

    ```python
    >>> is_hub_id("google-research-datasets/go_emotions"), is_hub_id("/data/goemotions"), is_hub_id("../runs/x")
    (True, False, False)
    ```"""
    if not name or name.startswith((".", "/", "~")) or os.path.exists(name):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def marked_local(path: str) -> str:
    """A local path as its base name, marked as local (`LOCAL_SUFFIX`)."""
    return Path(path).name + LOCAL_SUFFIX


def local_name(path: str) -> str:
    """A local path shown without the machine's directories: its base name, marked as local; a Hub id as it is.

    Args:
        path: a Hub id or a local path.

    Example:

    ```python
    >>> local_name("/home/me/models/all-MiniLM-L6-v2"), local_name("distilbert/distilbert-base-uncased")
    ('all-MiniLM-L6-v2 (local folder)', 'distilbert/distilbert-base-uncased')
    ```"""
    return path if is_hub_id(path) else marked_local(path)


def is_local_path(value: str) -> bool:
    """Whether a stored string names a path of this machine: absolute, home- or dot-relative, or an existing path
    with a directory part. Plain words (`"linear"`, `"demo"`) and Hub ids are not."""
    if value.startswith(("/", "~", "./", "../")) or Path(value).is_absolute():
        return True
    return "/" in value and not value.endswith(LOCAL_SUFFIX) and os.path.exists(value)  # False on any OSError


def _portable(value):
    """`value` (any JSON value) with every string that names a local path replaced by its `local_name`."""
    if isinstance(value, dict):
        return {key: _portable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_portable(item) for item in value]
    if isinstance(value, str) and is_local_path(value):
        return marked_local(value)
    return value


def scrub_local_paths(folder: str | Path) -> list[str]:
    """Rewrite the JSON files of an exported folder so that none names a path of this machine.

    Every string value that is a local path (`_name_or_path` of `config.json` and of its nested encoder, the
    data, model and output paths of `run_config.json`, the checkpoint and starting point of `metrics.json`, ...)
    becomes its base name marked `(local folder)`; Hub ids and other values stay as they are. Files without such a
    path are left untouched.

    Args:
        folder: the exported folder (searched recursively for `*.json`).

    Returns:
        The rewritten files, relative to `folder`.

    Example:

    ```python
    >>> scrub_local_paths("runs/bert-hub")  # doctest: +SKIP
    ['config.json', 'metrics.json', 'run_config.json']
    ```"""
    folder, changed = Path(folder), []
    for path in sorted(folder.rglob("*.json")):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise GoEmoXUsageError(f"{path}: not valid JSON ({err})") from None
        portable = _portable(content)
        if portable != content:
            path.write_text(json.dumps(portable, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path.relative_to(folder).as_posix())
    logger.debug("local paths replaced in %s: %s", folder, changed or "none")
    return changed


def training_max_length(model_dir: str | Path) -> int | None:
    """The `--max_length` a goemox run trained with (`run_config.json`), or `None` for a folder without one.

    Args:
        model_dir: a trained goemox model folder.

    Example:

    ```python
    >>> training_max_length("runs/bert")  # doctest: +SKIP
    128
    ```"""
    run_config = read_run_file(model_dir, RUN_CONFIG_FILE, required=False)
    if run_config is None:
        return None
    path = Path(model_dir) / RUN_CONFIG_FILE
    try:
        value = run_config["data"]["max_length"]
    except (KeyError, TypeError) as err:
        raise GoEmoXUsageError(f"{path}: expected JSON with data.max_length, the training length ({err!r})") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise GoEmoXUsageError(f"{path}: data.max_length must be a positive integer, got {value!r}")
    return value


def export_tokenizer(model_dir: str | Path, **kwargs):
    """The tokenizer of a model folder, its `model_max_length` set to the training `--max_length`.

    A folder without `run_config.json` keeps the tokenizer's own `model_max_length`. Saved with the model, the
    tokenizer then cuts a text where goemox does whenever a client asks for truncation (`pipeline(...,
    truncation=True)`; transformers.js truncates always).

    Args:
        model_dir: a trained goemox model folder.
        kwargs: passed to `AutoTokenizer.from_pretrained`.

    Example:

    ```python
    >>> export_tokenizer("runs/bert").model_max_length  # doctest: +SKIP
    128
    ```"""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, **kwargs)
    max_length = training_max_length(model_dir)
    if max_length is not None:
        tokenizer.model_max_length = max_length
    return tokenizer
