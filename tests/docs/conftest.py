"""The strict build of the documentation site, shared by the tests that read the built pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_pages import ROOT, needs_mkdocs


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site built strictly from the repository into a temporary folder, as `make docs` builds it; fails the tests
    that use it, with mkdocs' messages, on any warning."""
    needs_mkdocs()
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    messages = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert done.returncode == 0, "\n".join(messages) or done.stderr[-3000:]
    return site
