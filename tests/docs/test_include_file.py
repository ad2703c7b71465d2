"""The build hook that shows repository files kept outside docs/ (BENCHMARKS.md, the model card) as site pages."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from doc_pages import load_hook

include_file = load_hook("include_file")


def test_links_are_rebased_from_the_file_to_the_page():
    text = "[report](docs/domain_shift/report.md#summary), ![plot](docs/x.png), [web](https://example.org/a.md)"
    assert include_file.rebase_links(text, Path("."), Path("docs/benchmarks")) == (
        "[report](../domain_shift/report.md#summary), ![plot](../x.png), [web](https://example.org/a.md)"
    )


def page_and_config(root: Path, page: str):
    config = SimpleNamespace(config_file_path=str(root / "mkdocs.yml"), docs_dir=str(root / "docs"))
    return SimpleNamespace(file=SimpleNamespace(src_uri=page)), config


def test_a_marker_becomes_the_file_without_its_front_matter(tmp_path):
    (tmp_path / "CARD.md").write_text("---\nlicense: mit\n---\n# Card\n\nSee [data](docs/data.md).\n", encoding="utf-8")
    page, config = page_and_config(tmp_path, "benchmarks/card.md")
    text = include_file.on_page_markdown("<!-- include: CARD.md -->\n", page, config, None)
    assert text == "# Card\n\nSee [data](../data.md).\n\n"


def test_a_marker_naming_no_file_warns(tmp_path, caplog):
    page, config = page_and_config(tmp_path, "benchmarks/card.md")
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.include_file"):
        text = include_file.on_page_markdown("<!-- include: GONE.md -->\n", page, config, None)
    assert text == "<!-- include: GONE.md -->\n"
    assert (
        caplog.records[0].getMessage()
        == "benchmarks/card.md: <!-- include: GONE.md --> names no file of the repository"
    )
