"""Markdown reports: one `report.md` per output folder, with the PNG plots beside it linked by relative path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from goemox.errors import GoEmoXUsageError
from goemox.reporting.files import write_text_atomically


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


class MarkdownReport:
    """Builds a Markdown document section by section and writes it atomically.

    Args:
        folder: the output folder; images are linked relative to it.
        title: the top-level heading.

    Example:

    ```python
    >>> report = MarkdownReport("runs/analysis", "Domain shift")  # doctest: +SKIP
    >>> report.table(["domain", "neutral share"], [["reddit", 0.31]])  # doctest: +SKIP
    >>> report.save()  # doctest: +SKIP
    PosixPath('runs/analysis/report.md')
    ```"""

    def __init__(self, folder: str | Path, title: str):
        self.folder = Path(folder)
        self.lines: list[str] = [f"# {title}", ""]

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += ["#" * level + " " + text, ""]

    def text(self, paragraph: str) -> None:
        self.lines += [paragraph, ""]

    def bullets(self, items: Sequence[str]) -> None:
        self.lines += [f"- {item}" for item in items] + [""]

    def table(self, headers: Sequence[str], rows: Sequence[Sequence]) -> None:
        """A table; floats are shown with 4 significant digits."""
        self.lines.append("| " + " | ".join(_cell(h) for h in headers) + " |")
        self.lines.append("|" + "---|" * len(headers))
        self.lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
        self.lines.append("")

    def image(self, path: str | Path, caption: str) -> None:
        """Link a PNG that lives inside the report's folder."""
        relative = Path(os.path.relpath(Path(path), self.folder)).as_posix()
        self.lines += [f"![{caption}]({relative})", ""]

    def render(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"

    def save(self, name: str = "report.md") -> Path:
        """Write the report into its folder (through a temporary file, so a reader never sees half of it)."""
        return write_text_atomically(self.folder / name, self.render())


def prepare_report_folder(folder: str | Path, overwrite: bool = False, flag: str = "--overwrite") -> Path:
    """Create the output folder of a report, refusing one that already holds files unless `overwrite` is set.

    Args:
        folder: the folder to write into.
        overwrite: allow writing into a non-empty folder (files of the same name are replaced).
        flag: the command's option that sets `overwrite`, named in the message.

    Raises:
        GoEmoXUsageError: the path is a file, cannot be created or written, or already holds files.
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise GoEmoXUsageError(f"{folder}: exists and is not a folder; give a folder for the report")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GoEmoXUsageError(f"{folder}: cannot create the report folder ({err.strerror or err})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise GoEmoXUsageError(f"{folder}: the report folder is not writable")
    existing = sorted(entry.name for entry in path.iterdir())
    if existing and not overwrite:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise GoEmoXUsageError(
            f"{folder}: already holds files ({shown}); pass {flag} to replace them, or choose an empty folder"
        )
    return path
