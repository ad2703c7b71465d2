"""The documentation site: it builds with no warning, and a real browser shows its pages."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from browser import chromium_paths, headless_chromium
from conftest import starts_processes
from doc_pages import DOCS, ROOT, needs_mkdocs, pages


def nav_pages(entries) -> list[str]:
    """The page files a `nav:` lists, at any depth."""
    found = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += nav_pages(value) if isinstance(value, list) else [value]
    return found


def test_the_site_builds_strictly_with_every_page(built_site):
    """`mkdocs build --strict` passed (the fixture fails on any warning); every page the nav lists was written."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    for page in nav_pages(config["nav"]):
        stem = page.removesuffix(".md")
        out = f"{stem}.html" if stem == "index" or stem.endswith("/index") else f"{stem}/index.html"
        assert (built_site / out).is_file(), page


def test_every_page_is_in_the_nav():
    """A page left out of the nav can be reached only by search: every Markdown file under docs/ is listed."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    listed = set(nav_pages(config["nav"]))
    sources = {path.relative_to(DOCS).as_posix() for path in pages() if path.is_relative_to(DOCS)}
    assert sources - listed == set()


def test_the_home_page_reaches_every_guide_in_one_click(built_site):
    """From the home page a new user finds any task in two clicks: the home page links each guide directly."""
    home = (built_site / "index.html").read_text(encoding="utf-8")
    guides = {path.stem for path in (DOCS / "guides").glob("*.md") if path.stem != "index"}
    linked = set(re.findall(r'href="guides/([\w-]+)/', home))
    assert guides - linked == set()


def test_the_cli_reference_shows_every_command_and_option(built_site):
    """The generated reference names each command and, for one of them, each option its parser takes."""
    from goemox.cli import COMMANDS
    from goemox.cli.parsing import build_parser, option_names
    from goemox.cli.predict import COMMANDS as PREDICT

    html = (built_site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f'id="goemox-{name.replace(" ", "-")}"' in html, name
    options = {option for option in option_names(build_parser(PREDICT["predict"])) if "-" not in option}
    assert {option for option in options - {"help", "h"} if f"<code>--{option}</code>" not in html} == set()


def build_one_page(folder: Path, text: str) -> None:
    """Build a site of one page, `index.md` holding `text`, with the project's own configuration (hooks, plugins,
    strict validation)."""
    needs_mkdocs()
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    (folder / "docs").mkdir()
    (folder / "docs" / "index.md").write_text(f"# Home\n\n{text}\n", encoding="utf-8")
    overrides = {"docs_dir": str(folder / "docs"), "site_dir": str(folder / "site"), "nav": [{"Home": "index.md"}]}
    build(load_config(str(ROOT / "mkdocs.yml"), **overrides))


def test_a_page_with_good_links_and_references_builds(tmp_path):
    """The control of the test below: the same one-page site builds when its links and references lead somewhere."""
    build_one_page(
        tmp_path,
        "See [home](#home) and [the loader][goemox.data.loading.load_emotion_dataset].\n\n"
        "::: goemox.data.loading.load_emotion_dataset",
    )
    assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.parametrize(
    "broken",
    [
        "See [the guide](guides/missing.md).",  # a page that does not exist
        "See [the heading](#no-such-heading).",  # an anchor that does not exist
        "See [the loader][goemox.data.loading.no_such_function].",  # an API cross-reference to nothing
        "<!-- api: goemox.no_such_package -->",  # an API page marker for a package that does not exist
    ],
)
def test_the_strict_build_fails_on_a_broken_link_or_reference(broken, tmp_path):
    """The project's own configuration, on a one-page site: one broken link or reference aborts the build."""
    needs_mkdocs()
    from mkdocs.exceptions import Abort

    with pytest.raises(Abort, match="in strict mode"):
        build_one_page(tmp_path, broken)


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """A static file server for `folder` on 127.0.0.1 (a free port), stopped on exit."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format, *args):  # noqa: A002 (the signature of the method it replaces)
        pass


def visible_text(driver, url: str, wait_for: str, timeout: float = 60) -> str:
    """Open `url` and return the page's text once an element matching the CSS selector `wait_for` is visible."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(ready.visibility_of_element_located((By.CSS_SELECTOR, wait_for)))
    return driver.find_element(By.TAG_NAME, "body").text


@starts_processes
def test_a_browser_shows_the_quickstart_and_the_cli_reference(built_site, tmp_path):
    """Headless Chromium opens the built site as a reader would: the quickstart's heading, its commands and the
    site's navigation are visible, and the command line reference shows a command and its options."""
    chromium_paths()
    with serving(built_site) as base, headless_chromium(tmp_path / "profile") as driver:
        quickstart = visible_text(driver, f"{base}/quickstart/", "article h1")
        assert "Quickstart" in quickstart and "make demo" in quickstart
        assert "How-to guides" in quickstart and "Reference" in quickstart  # the navigation tabs rendered
        screenshot = tmp_path / "quickstart.png"
        assert driver.save_screenshot(str(screenshot))
        reference = visible_text(driver, f"{base}/reference/cli/#goemox-predict", "#goemox-predict")
        assert "goemox predict" in reference and "--prediction_prefix" in reference and "--long_text" in reference
    assert screenshot.stat().st_size > 20_000
