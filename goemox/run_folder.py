"""The folder a training run writes, and that `calibrate`, `analyze --store_ood_cutoff`, `card`, `push`, `export` and
`train --thresholds_from` read or rewrite: its file names and schema version, the records written into it, the one
reader of its JSON files, the one rule for which files make a model folder, the one way to rewrite `config.json`
entries, and the one all-or-nothing way to replace a whole folder.

Light on purpose (no torch or transformers import at module level), so that readers of run folders need not load
the training stack.

Example:

```python
>>> from goemox.run_folder import METRICS_FILE, METRICS_SCHEMA_VERSION
>>> METRICS_FILE, METRICS_SCHEMA_VERSION
('metrics.json', 3)
```"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from goemox import __version__
from goemox.errors import GoEmoXUsageError
from goemox.file_io import plain_mode, read_json_object, write_json_atomically

__all__ = [
    "CALIBRATION_FILE",
    "CARD_FILE",
    "CONFIG_FILE",
    "CURVE_FILE",
    "METRICS_FILE",
    "METRICS_SCHEMA_VERSION",
    "RELIABILITY_FILE",
    "RUN_CONFIG_FILE",
    "RUN_FILES",
    "StartingPoint",
    "check_model_folder",
    "check_no_leftovers",
    "copy_model_files",
    "library_versions",
    "model_folder_files",
    "read_run_file",
    "staged_folder",
    "update_config",
]

CONFIG_FILE = "config.json"
"""The model's configuration (transformers'), with goemox's entries: thresholds, calibration, OOD cutoff."""
METRICS_FILE = "metrics.json"
"""What the run measured and chose (thresholds, calibration, per-split metrics); its schema is
`METRICS_SCHEMA_VERSION`."""
METRICS_SCHEMA_VERSION = 3
"""3: `calibration.<split>` holds `before` / `after` errors measured out of sample, with `fitted_per_label` and
`support_rules` beside it (2: in-sample `ece_before` / `ece_after`); 2: validation threshold strategies under
`global_threshold` / `per_class_thresholds` (1: `global` / `per_class`)."""
RUN_CONFIG_FILE = "run_config.json"
"""The options the run trained with (`model`, `data`, `training`), the library versions and the search summary."""
CURVE_FILE = "training_curve.png"
"""The per-epoch training curve."""
RELIABILITY_FILE = "reliability.png"
"""Reliability diagram of the calibration, pooled over labels, before and after, per split."""
CARD_FILE = "README.md"
"""The model card."""
CALIBRATION_FILE = "calibration.json"
"""What `goemox calibrate` fitted and measured, in the calibrated model folder (and its report folder)."""

RUN_FILES = (METRICS_FILE, RUN_CONFIG_FILE, CURVE_FILE)
"""Files of a training run that travel with the model to the Hub (the card's numbers come from metrics.json)."""

RECORDS = {
    CONFIG_FILE: "model configuration",
    METRICS_FILE: "metrics",
    RUN_CONFIG_FILE: "options",
    CALIBRATION_FILE: "calibration record",
}
"""What each JSON file of a run folder holds, as messages name it."""

WEIGHT_FILE_PATTERNS = ("model*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin*")
"""Files that hold a model's weights: a new folder whose model is saved anew takes none of the old ones (one left
beside the new weights could be loaded instead)."""

TRAINER_STATE_PATTERNS = (
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "trainer_state.json",
    "training_args.bin",
)
"""Files of a Trainer that describe the optimisation, not the model; no copy of a model folder takes them."""

STAGING_INFIX = ".new-"
"""Marks the folder a new one is built in, beside it (`.NAME.new-XXXX`)."""
OLD_INFIX = ".old-"
"""Marks a replaced folder moved aside (`.NAME.old-<pid>`) where two folders cannot be exchanged in one step."""
RENAME_EXCHANGE = 2
"""The `renameat2()` flag of Linux that swaps two paths atomically."""
AT_FDCWD = -100
"""`renameat2()`'s "relative to the working folder"."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a run depends on, as `run_config.json` and `calibration.json` record them.

    Example:

    ```python
    >>> sorted(library_versions())
    ['accelerate', 'datasets', 'goemox', 'python', 'torch', 'transformers']
    ```"""
    import accelerate
    import datasets
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "goemox": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "accelerate": accelerate.__version__,
    }


@dataclass
class StartingPoint:
    """Where a run's model came from, and which output rows it took over (`metrics.json` under `initialised_from`).

    Attributes:
        kind: `"encoder"` (a fresh head on any AutoModel), `"goemox"` (a saved goemox model) or `"native"` (a
            native BERT/RoBERTa multi-label classifier, e.g. a `goemox export hub` folder).
        source: the `--model_name_or_path` it was loaded from.
        carried: the run's labels whose output row (weights and bias) comes from the trained model.
        new: the run's labels whose output row starts from the fresh initialisation.
        dropped: the trained model's labels that the run's scheme does not have.

    Example:

    ```python
    >>> StartingPoint("goemox", "runs/ten", carried=["joy"], new=["neutral"], dropped=["love"]).summary()
    'goemox model runs/ten, output rows: carried 1 (joy), new 1 (neutral), dropped 1 (love)'
    ```"""

    kind: str
    source: str
    carried: list[str]
    new: list[str]
    dropped: list[str]

    def summary(self) -> str:
        """One line saying what the run started from."""
        if self.kind == "encoder":
            return f"encoder {self.source} with a fresh head"
        parts = [
            f"{what} {len(names)}" + (f" ({', '.join(names)})" if names else "")
            for what, names in (("carried", self.carried), ("new", self.new), ("dropped", self.dropped))
        ]
        return f"{self.kind} model {self.source}, output rows: {', '.join(parts)}"

    def to_dict(self) -> dict:
        """The JSON form written to `metrics.json` under `initialised_from`."""
        return asdict(self)


def read_run_file(
    folder: str | Path, name: str, *, needed_by: str = "this command", required: bool = True
) -> dict | None:
    """A JSON file of a run folder (`config.json`, `metrics.json`, `run_config.json`, `calibration.json`).

    Args:
        folder: the run (or model) folder.
        name: the file's name in it.
        needed_by: what reads it, for the message when it is missing.
        required: refuse a missing file (otherwise `None`).

    Raises:
        GoEmoXUsageError: a missing file (when `required`), invalid JSON, or anything but an object at the top.

    Example:

    ```python
    >>> read_run_file("runs/demo", METRICS_FILE)["threshold_strategy"]  # doctest: +SKIP
    'per_class'
    ```"""
    path = Path(folder) / name
    if not path.is_file():
        if not required:
            return None
        raise GoEmoXUsageError(
            f"{path}: missing; {needed_by} needs the {RECORDS.get(name, name)} of a goemox training run"
        )
    return read_json_object(path)


def check_model_folder(folder: str | Path, purpose: str | None = None) -> Path:
    """Refuse a path that is not a saved model folder (one holding `config.json`).

    Args:
        folder: the folder.
        purpose: what needs the folder, added to the message (e.g. `--store_ood_cutoff writes into one`).

    Example:

    ```python
    >>> check_model_folder("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo')
    ```"""
    path = Path(folder)
    if not (path / CONFIG_FILE).is_file():
        raise GoEmoXUsageError(
            f"{folder}: not a saved model folder (no {CONFIG_FILE})" + (f"; {purpose}" if purpose else "")
        )
    return path


def update_config(folder: str | Path, entries: Mapping[str, Any]) -> Path:
    """Set `entries` in a model folder's `config.json`, every other key kept, rewritten atomically with sorted keys
    (as transformers writes it).

    Args:
        folder: a saved model folder.
        entries: the keys to set (e.g. `{"ood_cutoff": {...}}`).

    Returns:
        The `config.json` written.

    Example:

    ```python
    >>> update_config("runs/demo", {"ood_cutoff": {"score": "negative_energy", "cutoff": 3.2}})  # doctest: +SKIP
    PosixPath('runs/demo/config.json')
    ```"""
    path = check_model_folder(folder) / CONFIG_FILE
    config = read_json_object(path)
    config.update(entries)
    return write_json_atomically(path, config, sort_keys=True)


def _matches(name: str, patterns: Collection[str]) -> bool:
    return any(fnmatch(name, pattern) for pattern in patterns)


def model_folder_files(folder: str | Path) -> list[Path]:
    """The files that make a model folder, the one rule of what a copy of it holds: its top-level files (config,
    weights, tokenizer, the run's records and plots, the card), not its folders (checkpoints, reports), a Trainer's
    optimisation state (`TRAINER_STATE_PATTERNS`) or hidden files.

    Args:
        folder: a saved model folder.

    Example:

    ```python
    >>> [path.name for path in model_folder_files("runs/demo")][:3]  # doctest: +SKIP
    ['README.md', 'config.json', 'metrics.json']
    ```"""
    return [
        path
        for path in sorted(Path(folder).iterdir())
        if path.is_file() and not path.name.startswith(".") and not _matches(path.name, TRAINER_STATE_PATTERNS)
    ]


def copy_model_files(
    source: str | Path,
    target: str | Path,
    *,
    only: Collection[str] | None = None,
    skip: Collection[str] = (),
    whole_folder: bool = False,
) -> list[str]:
    """Bring into `target` (a new model folder being built) what of the model folder `source` belongs in it, and
    return the names brought.

    `target` takes the files that make a model folder (:func:`model_folder_files`), never one of a name it holds
    already; once it holds a model's weights, none of `source`'s weight files (`WEIGHT_FILE_PATTERNS`). With
    `whole_folder` (the new folder replaces `source` itself) every other entry of `source` stays, folders and
    Trainer state included, hard-linked where possible.

    Args:
        source: the model folder the new one is made from.
        target: the new folder.
        only: take only these names (e.g. `RUN_FILES`).
        skip: never take these names (e.g. a record the new folder gets anew).
        whole_folder: keep every entry of `source` (see above).

    Example:

    ```python
    >>> copy_model_files("runs/demo", "runs/demo-copy")  # doctest: +SKIP
    ['README.md', 'config.json', 'metrics.json', 'model.safetensors', ...]
    ```"""
    source, target = Path(source), Path(target)
    held = {path.name for path in target.iterdir()}
    has_weights = any(_matches(name, WEIGHT_FILE_PATTERNS) for name in held)
    entries = sorted(source.iterdir()) if whole_folder else model_folder_files(source)
    copied = []
    for path in entries:
        name = path.name
        if name in held or name in skip or (only is not None and name not in only):
            continue
        if has_weights and _matches(name, WEIGHT_FILE_PATTERNS):
            continue
        if not whole_folder:
            shutil.copy2(path, target / name)
        elif path.is_dir():
            shutil.copytree(path, target / name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(path, target / name)
        copied.append(name)
    return copied


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    """A hard link (no data copied; neither name is ever written again), or a copy where links are impossible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def leftovers(folder: Path) -> list[Path]:
    """Staging (`.NAME.new-*`) and old (`.NAME.old-*`) folders an interrupted command left beside `folder`."""
    parent = folder.parent
    if not parent.is_dir():
        return []
    patterns = (f".{folder.name}{STAGING_INFIX}*", f".{folder.name}{OLD_INFIX}*")
    return sorted(path for pattern in patterns for path in parent.glob(pattern) if path.is_dir())


def check_no_leftovers(folder: str | Path) -> None:
    """Refuse to start while an interrupted command's folder lies beside `folder`, saying what it is and what to do.

    Args:
        folder: the folder a command is about to read or replace.

    Raises:
        GoEmoXUsageError: naming the leftover, and whether `folder` is complete or must be renamed back.

    Example:

    ```python
    >>> check_no_leftovers("runs/demo")  # doctest: +SKIP
    ```"""
    folder = Path(folder)
    found = leftovers(folder)
    if not found:
        return
    old = [path for path in found if OLD_INFIX in path.name]
    if not folder.exists() and old:
        raise GoEmoXUsageError(
            f"{folder} is missing: {old[0]} holds the model as it was before an interrupted goemox command replaced "
            f"it; rename it back to {folder.name}, delete the other leftovers beside it and run again"
        )
    raise GoEmoXUsageError(
        f"{found[0]}: left by an interrupted goemox command (a partial new folder, or the folder as it was before); "
        f"{folder} itself is complete: delete {found[0]} and run again"
    )


def staging_folder(destination: Path) -> Path:
    """A new empty folder beside `destination` (`.NAME.new-XXXX`) to build it in, with the permissions `destination`
    has, or a new folder would have under the umask (see `goemox.file_io.plain_mode`)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}{STAGING_INFIX}"))
    os.chmod(staging, destination.stat().st_mode & 0o7777 if destination.is_dir() else plain_mode(folder=True))
    return staging


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`); `False` where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def swap_folders(new: Path, current: Path) -> None:
    """Put the folder `new` at the existing `current` and delete what was there, never leaving `current` half-written.

    On Linux the two paths are exchanged in one atomic step; then the old folder (now at `new`) is deleted.
    Elsewhere `current` is renamed to `.NAME.old-<pid>`, `new` to `current`, and the old one deleted: a kill
    between the two renames leaves `current` missing, which `check_no_leftovers` explains on the next run.
    """
    if exchange_paths(new, current):
        shutil.rmtree(new)
        return
    old = current.parent / f".{current.name}{OLD_INFIX}{os.getpid()}"
    os.rename(current, old)
    try:
        os.rename(new, current)
    except BaseException:
        os.rename(old, current)
        raise
    shutil.rmtree(old)


def move_into(staging: Path, destination: Path) -> None:
    """Move every entry of `staging` into the existing `destination`, merging folders, replacing files."""
    for path in staging.iterdir():
        target = destination / path.name
        if path.is_dir() and target.is_dir():
            move_into(path, target)
        else:
            os.replace(path, target)


@contextmanager
def staged_folder(destination: str | Path, *, merge: bool = False) -> Iterator[Path]:
    """An empty folder beside `destination` to build a command's output in, put in place when the block ends
    without an error and deleted otherwise, so that `destination` holds either what it held or the complete new
    folder.

    A missing `destination` receives the new folder by one rename; an existing one is exchanged with it in one
    atomic step (see `swap_folders`) and the old one deleted. A `destination` that is a symbolic link to a folder
    stays one: the folder it points to is replaced. A leftover of an interrupted command beside `destination`
    stops the command first (`check_no_leftovers`).

    Args:
        destination: the folder the command writes (check it first with `goemox.file_io.check_output_folder`).
        merge: an existing, non-empty `destination` receives the new folder's entries (files of the same name
            replaced, every other entry kept) instead of being replaced.

    Example:

    ```python
    >>> with staged_folder("runs/bert-hub") as staging:  # doctest: +SKIP
    ...     (staging / "README.md").write_text("# bert")
    ```"""
    destination = Path(os.path.realpath(destination))
    check_no_leftovers(destination)
    staging = staging_folder(destination)
    try:
        yield staging
        if not destination.exists():
            os.rename(staging, destination)
        elif merge and any(destination.iterdir()):
            move_into(staging, destination)
        else:
            swap_folders(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
