"""The build hook behind the Python API pages: what each package exports, where it is documented, and the docstrings'
cross-references."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import griffe
import pytest
from doc_pages import DOCS, ROOT, load_hook

api_reference = load_hook("api_reference")


@pytest.fixture(scope="module")
def package() -> griffe.Module:
    return griffe.load("goemox", search_paths=[str(ROOT)], resolve_aliases=False)


@pytest.fixture(scope="module")
def api(package):
    return api_reference.PublicApi.read(package)


def page_of(package: str) -> Path:
    return DOCS / "reference" / "api" / f"{package.rpartition('.')[2]}.md"


def test_every_package_has_its_api_page_linked_from_the_index(api):
    """A new subpackage cannot go undocumented: each has a page holding its marker, listed in the API index."""
    index = (DOCS / "reference" / "api" / "index.md").read_text(encoding="utf-8")
    for package in api.definitions:
        assert f"<!-- api: {package} -->" in page_of(package).read_text(encoding="utf-8"), package
        assert f"]({page_of(package).name})" in index, package


def test_every_public_name_has_a_docstring(package, api):
    """Every name of every `__all__` resolves to its definition, which has a docstring for its API page."""
    undocumented = [
        path
        for names in api.definitions.values()
        for path in (names or {}).values()
        if not (api_reference.lookup(package, api.definitions, path).docstring or "")
    ]
    assert undocumented == []


def test_a_name_is_rendered_on_the_page_of_the_package_that_defines_it(api):
    root, inference = api.page_markdown("goemox"), api.page_markdown("goemox.inference")
    assert "::: goemox.configuration_goemox.GoEmoXConfig" in root  # defined in the root package's own modules
    assert "::: goemox.inference.classifier.EmotionClassifier" in inference
    assert "::: goemox.inference.classifier.EmotionClassifier" not in root
    assert "[`goemox.inference`][goemox.inference.classifier.EmotionClassifier]" in root  # linked instead


def write_package(root: Path, files: dict[str, str]) -> griffe.Module:
    """A throwaway `goemox` package from `files` (path -> source), loaded with the docstring extension."""
    for name, source in files.items():
        path = root / "goemox" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    extensions = griffe.load_extensions(api_reference.DocstringMarkup)
    return griffe.load(
        "goemox", search_paths=[str(root)], resolve_aliases=False, extensions=extensions, try_relative_path=False
    )


PACKAGE = {
    "__init__.py": '''
        """A package whose names load lazily."""
        __all__ = ["thing", "Klass"]
        ''',
    "a.py": '''
        """Module a.

        Example:
            >>> thing()  # doctest: +SKIP
        """
        import json

        from goemox.b import Klass


        def thing():
            """Uses :func:`helper`, :class:`~goemox.b.Klass`, :func:`goemox.thing`, :meth:`Klass.run` and
            :class:`json.JSONDecoder`."""


        def helper():
            """Broken: :func:`missing`."""
        ''',
    "b.py": '''
        """Module b."""


        class Klass:
            """A class."""

            def run(self):
                """Run."""
        ''',
}


def test_docstring_roles_become_cross_references_and_a_broken_one_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.api_reference"):
        package = write_package(tmp_path, PACKAGE)
    text = package["a.thing"].docstring.value

    def link(path: str, title: str) -> str:
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    assert link("goemox.a.helper", "helper") in text
    assert link("goemox.b.Klass", "Klass") in text  # `~` shows the last part only
    assert link("goemox.a.thing", "goemox.thing") in text  # a lazily exported name, found in its module
    assert link("goemox.b.Klass.run", "Klass.run") in text
    assert link("json.JSONDecoder", "json.JSONDecoder") in text  # another package's object, imported here
    assert ":func:`missing`" in package["a.helper"].docstring.value
    (message,) = [record.getMessage() for record in caplog.records]
    assert message.endswith("goemox/a.py: the docstring of goemox.a.helper names 'missing', which names nothing")
    module_doc = package["a"].docstring.value
    assert "Examples:" in module_doc and "doctest" not in module_doc


def test_an_exported_name_defined_nowhere_or_twice_is_an_error(tmp_path):
    files = {
        "__init__.py": '"""Package."""\n__all__ = ["gone", "twice"]\n',
        "a.py": '"""A."""\ndef twice():\n    """One."""\n',
        "b.py": '"""B."""\ndef twice():\n    """Two."""\n',
    }
    for name, source in files.items():
        (tmp_path / "goemox").mkdir(exist_ok=True)
        (tmp_path / "goemox" / name).write_text(source, encoding="utf-8")
    package = griffe.load("goemox", search_paths=[str(tmp_path)], resolve_aliases=False, try_relative_path=False)
    with pytest.raises(LookupError, match="'gone', but none of its modules defines it"):
        api_reference.definition(package, "gone")
    with pytest.raises(LookupError, match="several modules define it: goemox.a.twice, goemox.b.twice"):
        api_reference.definition(package, "twice")


def test_the_code_map_lists_every_module(package):
    table = api_reference.code_map(package)
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "goemox").rglob("*.py")}
    listed = {line.split("`")[1] for line in table.splitlines()[2:]}
    assert {path.removesuffix("__init__.py") for path in modules} == listed
    assert "| `goemox/data/delimited.py` | The one rule by which goemox reads CSV/TSV rows" in table
