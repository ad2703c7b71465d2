"""The documentation's sources for the tests of tests/docs: its pages, and its build hooks loaded as modules."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """Every Markdown page of the site's sources (the build hooks' folder left out) and the README."""
    found = [path for path in DOCS.rglob("*.md") if "hooks" not in path.relative_to(DOCS).parts]
    return sorted(found) + [ROOT / "README.md"]


def load_hook(name: str) -> ModuleType:
    """A build hook of `docs/hooks/` as a module, loaded as mkdocs loads it (by path)."""
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as mkdocs does: a dataclass in the hook looks its module up there
    spec.loader.exec_module(module)
    return module


def needs_mkdocs() -> None:
    """Skip without MkDocs (install the `docs` extra), except in CI, where a missing tool fails the test."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None:
        if os.environ.get("CI"):
            pytest.fail("MkDocs is not installed: `make install` installs the `docs` extra")
        pytest.skip("needs MkDocs (pip install -e '.[docs]')")
