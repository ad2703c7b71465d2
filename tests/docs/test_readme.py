"""The README: short, with the quickstart commands that exist, and links that lead somewhere on GitHub and here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_pages import ROOT, pages

README = ROOT / "README.md"
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
MAX_LINES = 200


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_readme_quickstart_runs_targets_the_makefile_has():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"^make (\w+)", README.read_text(encoding="utf-8"), re.MULTILINE):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_the_readme_states_no_count_that_goes_stale():
    """The number of tests changes with every commit: the README does not say it."""
    assert not re.search(r"\b\d[\d,]* (tests|test cases)\b", README.read_text(encoding="utf-8"))


def heading_slugs(page: Path) -> set[str]:
    """The anchors GitHub (and the site, which slugs the same way) gives a page's headings."""
    from pymdownx.slugs import slugify

    slug = slugify(case="lower")
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+?)(?: \{#[\w-]+\})?$", text, re.MULTILINE)
    return {slug(re.sub(r"`([^`]*)`", r"<code>\1</code>", heading), "-") for heading in headings}


LOCAL_LINKS = sorted({target for target in LINK.findall(README.read_text(encoding="utf-8")) if "://" not in target})


@pytest.mark.parametrize("target", LOCAL_LINKS)
def test_each_readme_link_leads_to_a_file_and_heading(target):
    """On GitHub the README's links are repository files: each exists, and an anchor names one of its headings."""
    pytest.importorskip("pymdownx", reason="needs pymdown-extensions (pip install -e '.[docs]')")
    path, _, anchor = target.partition("#")
    file = ROOT / path
    assert file.exists(), target
    if anchor:
        assert anchor in heading_slugs(file), target


def test_the_readme_links_into_every_guide():
    """A reader of the README reaches each how-to guide in one click."""
    text = README.read_text(encoding="utf-8")
    guides = [page for page in pages() if page.parent.name == "guides" and page.stem != "index"]
    assert [page.name for page in guides if f"docs/guides/{page.name}" not in text] == []
