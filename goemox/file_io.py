"""The file I/O every command builds on: option files (YAML/JSON mappings) and JSON records read with one-line
errors, atomic writes so that a reader never sees half a file, and checks of output paths before any work starts, so
that nothing a command writes replaces one of its inputs or a file the user did not ask to replace.

A whole folder is replaced all at once by `goemox.run_folder.staged_folder`.

Example:

```python
>>> from goemox.file_io import write_json_atomically
>>> write_json_atomically("metrics.json", {"macro_f1": 0.5})  # doctest: +SKIP
```"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import yaml

from goemox.errors import GoEmoXUsageError

__all__ = [
    "check_apart_from_inputs",
    "check_can_create",
    "check_output_file",
    "check_output_folder",
    "check_regular_or_new",
    "open_atomically",
    "plain_mode",
    "prepare_output_folder",
    "read_json_object",
    "read_mapping_file",
    "write_json_atomically",
    "write_text_atomically",
]


def read_mapping_file(path: str | Path, expected: str = "a mapping of option names to values") -> dict:
    """A YAML or JSON file holding one mapping (option name -> value); an empty file is an empty mapping.

    Args:
        path: the file.
        expected: what the file should hold, for the message when it holds something else.

    Raises:
        GoEmoXUsageError: a missing file, invalid YAML/JSON or anything but a mapping at the top.

    Example:

    ```python
    >>> read_mapping_file("configs/demo.yaml")["dataset"]  # doctest: +SKIP
    'demo'
    ```"""
    file = Path(path)
    if not file.is_file():
        if not file.exists():
            raise GoEmoXUsageError(f"{path}: no such file")
        kind = "a folder" if file.is_dir() else "not a regular file"
        raise GoEmoXUsageError(f"{path}: {kind}; expected a YAML or JSON file")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise GoEmoXUsageError(f"{path}: not valid YAML/JSON ({' '.join(str(err).split())})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise GoEmoXUsageError(f"{path}: expected {expected}, got {type(content).__name__}")
    return content


def read_json_object(path: str | Path) -> dict:
    """The JSON object (a mapping at the top) an existing file holds.

    Args:
        path: the file; check that it exists first, to say what it should have been.

    Raises:
        GoEmoXUsageError: invalid UTF-8 or JSON, or anything but an object at the top.

    Example:

    ```python
    >>> read_json_object("runs/demo/config.json")["model_type"]  # doctest: +SKIP
    'goemox'
    ```"""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise GoEmoXUsageError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(values, dict):
        raise GoEmoXUsageError(f"{path}: expected a JSON object, got {type(values).__name__}")
    return values


def plain_mode(folder: bool = False) -> int:
    """The permission bits a new file (or folder) gets under the process's umask, as `cp` or `mkdir` would give it
    (`tempfile` creates 0600 files and 0700 folders, which goemox never leaves in place).

    Args:
        folder: the bits of a folder (0777 less the umask) rather than a file (0666 less the umask).

    Example:

    ```python
    >>> oct(plain_mode(folder=True))  # under umask 022  # doctest: +SKIP
    '0o755'
    ```"""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def check_regular_or_new(path: str | Path, option: str | None = "--output") -> None:
    """Refuse to replace anything but a regular file: a symbolic link, a device, a pipe or a socket would be replaced
    by the rename that writes a file atomically (run as root, `--output /dev/null` would replace the system's).

    Args:
        path: the file about to be written.
        option: the option that named it, for the message (`None`: the path alone).

    Raises:
        GoEmoXUsageError: `path` is a symbolic link (even a broken one) or exists and is not a regular file.
    """
    file = Path(path)
    named = f"{option} {path}" if option else str(path)
    if file.is_symlink():
        raise GoEmoXUsageError(
            f"{named} is a symbolic link; goemox writes a new file in its place rather than through it, so "
            "give the path it points to (or a new name)"
        )
    if file.exists() and not file.is_file() and not file.is_dir():
        raise GoEmoXUsageError(
            f"{named} is not a regular file (a device, pipe or socket); give the name of a regular file"
        )


def check_can_create(path: str | Path, option: str) -> None:
    """Check that `path` (a file or folder not yet written) can be created, by creating and removing a temporary file
    in its folder, or in the nearest existing folder above a missing one.

    Args:
        path: the file or folder to write.
        option: the option that named it, for the message.

    Raises:
        GoEmoXUsageError: the folder is read-only, not a folder, or refuses new files (as `/proc` does).
    """
    place = Path(path).absolute().parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise GoEmoXUsageError(f"{option} {path}: {place} is not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=place, prefix=".goemox-write-check-")
    except OSError as err:
        raise GoEmoXUsageError(f"{option} {path}: cannot write in {place} ({err.strerror or err})") from None
    os.close(handle)
    os.unlink(probe)


@contextmanager
def open_atomically(path: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text stream (no newline translation) to a temporary file in the same folder as `path`, renamed over
    `path` when the block ends without an error, so that a reader never sees half a file; the content may be written
    piece by piece (a file larger than memory).

    A file that already exists keeps its permissions; a new one gets those of a new file under the umask
    (:func:`plain_mode`). On any failure the temporary file is removed and `path` is left as it was.

    Args:
        path: the file to write (its folder is created).

    Raises:
        GoEmoXUsageError: `path` is a symbolic link, a device, a pipe or a socket (see :func:`check_regular_or_new`).

    Example:

    ```python
    >>> with open_atomically("predictions.jsonl") as stream:  # doctest: +SKIP
    ...     stream.write('{"text": "hi"}\\n')
    ```"""
    path = Path(path)
    check_regular_or_new(path, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else plain_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | Path, content: str) -> Path:
    """Write `content` (UTF-8) to a temporary file in the same folder, then rename it over `path`
    (see :func:`open_atomically`)."""
    with open_atomically(path) as stream:
        stream.write(content)
    return Path(path)


def write_json_atomically(path: str | Path, content: Any, sort_keys: bool = False) -> Path:
    """Write `content` as indented JSON (UTF-8 text, non-ASCII kept as is, ending in a newline) with
    :func:`write_text_atomically`.

    Args:
        path: the file to write.
        content: anything `json.dumps` takes.
        sort_keys: sort object keys (as transformers writes `config.json`).

    Example:

    ```python
    >>> write_json_atomically("metrics.json", {"macro_f1": 0.5})  # doctest: +SKIP
    ```"""
    return write_text_atomically(path, json.dumps(content, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def _overlap(output: Path, source: Path) -> str | None:
    """How `output` collides with `source`: the same path, inside it, or holding it (`None` if apart)."""
    output, source = output.resolve(), source.resolve()
    if output == source:
        return "is"
    if source in output.parents:
        return "is inside"
    if output in source.parents:
        return "holds"
    return None


def check_apart_from_inputs(output: str | Path, inputs: Iterable[str | Path | None], option: str) -> None:
    """Refuse an output path that is one of the inputs, lies inside one, or holds one.

    Args:
        output: the file or folder a command is about to write (or replace).
        inputs: the files and folders it reads; `None` entries and names that are not local paths are ignored.
        option: the option that named `output`, for the message.

    Raises:
        GoEmoXUsageError: naming the option and the input it collides with.
    """
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        relation = _overlap(Path(output), Path(source))
        if relation is not None:
            raise GoEmoXUsageError(
                f"{option} {output} {relation} the input {source}; writing there would destroy what the command "
                "reads: choose another path"
            )


def check_output_file(
    path: str | Path,
    overwrite: bool,
    inputs: Iterable[str | Path | None] = (),
    option: str = "--output",
    stdout: bool = True,
) -> Path:
    """Check, before any work, that a file can be written at `path` (`-` is standard output).

    Args:
        path: the file to write.
        overwrite: allow replacing an existing file.
        inputs: what the command reads (the file may not be or hold one of them).
        option: the option that named `path`, for the messages.
        stdout: whether the command can write to standard output (`-`).

    Raises:
        GoEmoXUsageError: a folder, a symbolic link, device or other file that is not regular, an existing file
            without `overwrite`, a place where no file can be created (a read-only folder, `/proc`), a path that
            collides with an input, or `-` for a command that cannot write to standard output.
    """
    file = Path(path)
    if str(path) == "-":
        if not stdout:
            raise GoEmoXUsageError(f"{option} -: this command writes a file, not standard output; give a file name")
        return file
    check_apart_from_inputs(file, inputs, option)
    if file.is_dir():
        raise GoEmoXUsageError(f"{option} {path} is a folder; give a file name")
    check_regular_or_new(file, option)
    if file.exists() and not overwrite:
        raise GoEmoXUsageError(f"{option} {path} already exists; pass --overwrite to replace it, or choose another")
    check_can_create(file, option)
    return file


def check_output_folder(
    folder: str | Path, overwrite: bool, inputs: Iterable[str | Path | None] = (), option: str = "--output_dir"
) -> Path:
    """Check, before any work, that a command may write into `folder` (without creating it).

    Args:
        folder: the folder to write.
        overwrite: allow a folder that already holds files (files of the same name are replaced).
        inputs: what the command reads (the folder may not be, lie inside or hold one of them).
        option: the option that named `folder`, for the messages.

    Raises:
        GoEmoXUsageError: a file, a folder holding files without `overwrite`, a folder (or the place of a new one)
            where nothing can be written, or a folder that collides with an input.
    """
    path = Path(folder)
    check_apart_from_inputs(path, inputs, option)
    if path.exists() and not path.is_dir():
        raise GoEmoXUsageError(f"{option} {folder} exists and is not a folder")
    check_can_create(path / "x" if path.is_dir() else path, option)
    if path.is_dir():
        existing = sorted(entry.name for entry in path.iterdir())
        if existing and not overwrite:
            shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
            raise GoEmoXUsageError(
                f"{option} {folder} already holds files ({shown}); pass --overwrite to replace them, or choose an "
                "empty folder"
            )
    return path


def prepare_output_folder(
    folder: str | Path, overwrite: bool, inputs: Iterable[str | Path | None] = (), option: str = "--output_dir"
) -> Path:
    """:func:`check_output_folder`, then create the folder.

    Example:

    ```python
    >>> prepare_output_folder("reports/eval", overwrite=False, inputs=["runs/demo"])  # doctest: +SKIP
    ```"""
    path = check_output_folder(folder, overwrite, inputs, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GoEmoXUsageError(f"{option} {folder}: cannot create the folder ({err.strerror or err})") from None
    return path
