"""Build hook: a page shows a Markdown file of the repository that lives outside `docs/` (BENCHMARKS.md), so that the
file stays where the scripts and tests that name it expect it, and the site never holds a stale copy.

A page holds a line `<!-- include: BENCHMARKS.md -->` (a path from the repository root); the hook puts the file's text
in its place, with each relative link and image rewritten to be relative to the page, so that the strict build checks
them like any other. A file's YAML front matter (the metadata block of a model card) is left out: it is for the Hub.

Example:

```python
>>> rebase_links("See [the report](docs/domain_shift/report.md#top).", Path("."), Path("docs/benchmarks"))
'See [the report](../domain_shift/report.md#top).'
```"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

MARKER = re.compile(r"^<!-- include: (?P<path>[\w./-]+) -->$", re.MULTILINE)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
LINK = re.compile(r"(?P<start>!?\[[^\]]*\]\()(?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")
log = logging.getLogger("mkdocs.hooks.include_file")


def rebase_links(text: str, source_dir: Path, page_dir: Path) -> str:
    """Rewrite the relative links of Markdown written in `source_dir` to work from a page in `page_dir`.

    Args:
        text: the Markdown.
        source_dir: the folder the links are relative to.
        page_dir: the folder of the page that shows the text.
    """

    def rebase(match: re.Match) -> str:
        target = match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return match.group(0)  # a URL or an absolute path: not a file of the repository
        moved = Path(os.path.relpath(source_dir / target, page_dir)).as_posix()
        return f"{match.group('start')}{moved}{match.group('anchor') or ''})"

    return LINK.sub(rebase, text)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replaces each `<!-- include: PATH -->` line of a page (mkdocs event)."""
    root = Path(config.config_file_path).parent
    docs = Path(config.docs_dir)
    page_dir = (docs / page.file.src_uri).parent

    def include(match: re.Match) -> str:
        path = root / match.group("path")
        if not path.is_file():
            log.warning("%s: %s names no file of the repository", page.file.src_uri, match.group(0))
            return match.group(0)
        text = FRONT_MATTER.sub("", path.read_text(encoding="utf-8"), count=1)
        return rebase_links(text, path.parent, page_dir)

    return MARKER.sub(include, markdown)
