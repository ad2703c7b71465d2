"""Markdown reports: one `report.md` per output folder, with the PNG plots beside it linked by relative path."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from goemox.file_io import write_text_atomically

MARKDOWN_MARKUP = re.compile(r"([\\`*_\[\]<>#~])")
"""Characters that Markdown may read as markup in running text (a table's `|` is escaped by the table itself)."""


def plain_text(text: str) -> str:
    r"""Text from the data (a comment, a tweet) escaped so that Markdown shows it as typed: `[NAME]`, `*sigh*` and
    `<3` stay text instead of becoming a link reference, emphasis or HTML.

    Args:
        text: the text.

    Example:

    ```python
    >>> print(plain_text("[NAME] said *what*?"))
    \[NAME\] said \*what\*?

    ```"""
    return MARKDOWN_MARKUP.sub(r"\\\1", text)


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
