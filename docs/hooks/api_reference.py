"""Build hook: the Python API pages show exactly the names each goemox package exports in its `__all__`.

A page holds a line `<!-- api: goemox.data -->`; the hook puts in its place the package's docstring and one
mkdocstrings block per name of the package's `__all__`, rendered from the module that defines the name (the packages
import their names lazily, so `__init__.py` itself does not hold them). A name that several packages export (the root
package re-exports a few) is rendered once, on the page of the package whose modules define it, and linked from the
others. The code is read statically with griffe, as mkdocstrings reads it: nothing is imported.

Example:

```python
>>> api = PublicApi.load(".")
>>> api.definitions["goemox.data"]["load_emotion_dataset"]
'goemox.data.loading.load_emotion_dataset'
```"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import griffe
from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- api: (?P<package>goemox(\.\w+)*) -->$", re.MULTILINE)
log = logging.getLogger("mkdocs.hooks.api_reference")


def packages(module: griffe.Module) -> list[griffe.Module]:
    """A package and every package below it (modules that are folders with an `__init__.py`), in name order."""
    found = [module]
    for name in sorted(module.modules):
        child = module.modules[name]
        if child.is_init_module:
            found += packages(child)
    return found


def definition(package: griffe.Module, name: str) -> str:
    """Where an exported name is defined: the path of the object itself, not of an import of it.

    Args:
        package: a package that lists `name` in its `__all__`.
        name: the exported name.

    Raises:
        LookupError: no module of the package defines the name, or several do.
    """
    member = package.members.get(name)
    if member is not None:
        return member.target_path if member.is_alias else member.path
    found = []

    def search(module: griffe.Module) -> None:
        candidate = module.members.get(name)
        if candidate is not None and not candidate.is_alias:
            found.append(candidate.path)
        for child in module.modules.values():
            search(child)

    for child in package.modules.values():
        search(child)
    if len(found) != 1:
        where = (
            "none of its modules defines it" if not found else f"several modules define it: {', '.join(sorted(found))}"
        )
        raise LookupError(f"{package.path}.__all__ names {name!r}, but {where}")
    return found[0]


@dataclass
class PublicApi:
    """Every package's exported names and where each is defined and documented.

    Attributes:
        definitions: package path -> {exported name -> path of its definition}; `None` for a package without `__all__`.
        homes: definition path -> the package whose page renders it.
    """

    definitions: dict[str, dict[str, str] | None]
    homes: dict[str, str]

    @classmethod
    def load(cls, root: str | Path) -> PublicApi:
        """Read the `goemox` package found in `root` (the repository).

        Raises:
            LookupError: an exported name that no module defines, or that several define.
        """
        return cls.read(griffe.load("goemox", search_paths=[str(root)], resolve_aliases=False))

    @classmethod
    def read(cls, package: griffe.Module) -> PublicApi:
        """The public API of a package griffe has loaded.

        Raises:
            LookupError: an exported name that no module defines, or that several define.
        """
        definitions: dict[str, dict[str, str] | None] = {}
        for module in packages(package):
            names = module.exports
            definitions[module.path] = None if names is None else {name: definition(module, name) for name in names}
        exporters: dict[str, list[str]] = {}
        for package_path, names in definitions.items():
            for path in (names or {}).values():
                exporters.setdefault(path, []).append(package_path)
        homes = {}
        for path, candidates in exporters.items():
            # The page of the deepest package whose modules hold the definition; else the first package to export it.
            holding = [candidate for candidate in candidates if path.startswith(candidate + ".")]
            homes[path] = max(holding, key=len) if holding else candidates[0]
        return cls(definitions, homes)

    def page_markdown(self, package: str) -> str:
        """The Markdown that replaces a page's `<!-- api: PACKAGE -->` line.

        Raises:
            KeyError: `package` is not a goemox package.
        """
        names = self.definitions[package]
        lines = [f"::: {package}", "    options:", "      members: false", "      show_root_heading: false", ""]
        if names is None:
            lines.append(f"`{package}` declares no public names (`__all__`); its modules are internal.")
            return "\n".join(lines)
        if not names:
            lines.append(f"`{package}` exports no names.")
            return "\n".join(lines)
        example = next(iter(names))
        lines += [f"Import these names from the package: `from {package} import {example}`.", ""]
        for name, path in names.items():
            if self.homes[path] == package:
                lines += [f"::: {path}", ""]
            else:
                lines += [f"## {name}", "", f"Documented under [`{self.homes[path]}`][{path}].", ""]
        return "\n".join(lines)


ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc|obj):`(?P<short>~?)(?P<target>[\w.]+)`")
"""A Sphinx cross-reference role in a docstring: :func:`name`, :class:`~goemox.x.Name`."""

EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
"""goemox's docstrings head their examples `Example:`; griffe reads doctest lines only under `Examples:`."""

DOCTEST_FLAG = re.compile(r"\s*# doctest: \+\w+")
"""A doctest directive, which a reader of the example does not need."""


def lookup(package: griffe.Module, exports: dict[str, dict[str, str] | None], path: str) -> griffe.Object | None:
    """The object a dotted path names, through imports and the packages' lazily loaded names.

    Args:
        package: the root `goemox` package.
        exports: package path -> {exported name -> definition path} (`PublicApi.definitions`).
        path: a full dotted path (`goemox.data.load_emotion_dataset`).

    Returns:
        The object, an alias of an object outside goemox (accepted as it is), or `None` when nothing has that path.
    """
    head, *rest = path.split(".")
    if head != package.name:
        return None
    found: griffe.Object = package
    for part in rest:
        member = found.members.get(part)
        if member is None and part in (exports.get(found.path) or {}):
            member = lookup(package, exports, exports[found.path][part])
        if member is not None and member.is_alias:
            if not member.target_path.startswith(package.name + "."):
                return member
            member = lookup(package, exports, member.target_path)
        if member is None:
            return None
        found = member
    return found


def resolve_role(obj: griffe.Object, exports: dict[str, dict[str, str] | None], target: str) -> str | None:
    """The path of what a role in `obj`'s docstring names, as Sphinx reads it: a full path, or a name seen from `obj`
    (its members, its module's names and imports, then its parents', including the names a package exports lazily).

    Returns:
        The path of the goemox object (where its documentation would be), the dotted path of an object of another
        package (found among the imports, or a module that is installed), or `None` when it names nothing.
    """
    package = obj.package
    head, _, rest = target.partition(".")
    if head == package.name:
        base = package.path
    else:
        try:
            base = obj.resolve(head)
        except griffe.NameResolutionError:
            scope: griffe.Object | None = obj
            while scope is not None and head not in (exports.get(scope.path) or {}):
                scope = scope.parent
            base = None if scope is None else exports[scope.path][head]
        if base is None:
            return target if importlib.util.find_spec(head) is not None else None
    full = f"{base}.{rest}" if rest else base
    if not full.startswith(package.name + ".") and full != package.name:
        return full
    found = lookup(package, exports, full)
    if found is None:
        return None
    return found.target_path if found.is_alias else found.path


def documented(obj: griffe.Object) -> list[griffe.Object]:
    """`obj` and every object defined under it (imports left out)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found += documented(member)
    return found


class DocstringMarkup(griffe.Extension):
    """A griffe extension: the Sphinx roles of goemox's docstrings become cross-references (one that names nothing
    fails the build), and their `Example:` sections are read as examples, doctest lines as code.

    A role whose target is on the site becomes a link to it; one whose target exists but is not rendered (a private
    helper) becomes plain code; one whose target does not exist is a warning, which `mkdocs build --strict` turns into
    a failed build.
    """

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        """Rewrites every docstring of the package once it is loaded (griffe event)."""
        if pkg.name != "goemox":
            return
        try:
            exports = PublicApi.read(pkg).definitions
        except LookupError as err:
            log.warning("%s", err)
            return
        for obj in documented(pkg):
            if obj.docstring is not None:
                text = DOCTEST_FLAG.sub("", EXAMPLE_HEADING.sub(r"\1Examples:", obj.docstring.value))
                obj.docstring.value = ROLE.sub(functools.partial(self.reference, obj, exports), text)

    @staticmethod
    def reference(obj: griffe.Object, exports: dict, match: re.Match) -> str:
        """The HTML that replaces one role: an optional cross-reference, or the role as it is after a warning."""
        target = match.group("target")
        path = resolve_role(obj, exports, target)
        if path is None:
            log.warning(
                "%s: the docstring of %s names %r, which names nothing", obj.relative_filepath, obj.path, target
            )
            return match.group(0)
        title = target.rpartition(".")[2] if match.group("short") else target
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'


CODE_MAP = "<!-- code-map -->"


def summary(module: griffe.Module) -> str:
    """The first paragraph of a module's docstring on one line, its Sphinx roles shown as plain code."""
    text = " ".join((module.docstring.value if module.docstring else "").strip().split("\n\n")[0].split())
    text = ROLE.sub(lambda match: f"`{match.group('target').rpartition('.')[2]}`", text)
    return text.replace("|", "\\|")


def code_map(package: griffe.Module) -> str:
    """A Markdown table of every module of the package, in name order, with its docstring's first paragraph.

    Args:
        package: the root `goemox` package.
    """
    rows = ["| module | what it holds |", "|---|---|"]

    def walk(module: griffe.Module) -> None:
        path = module.filepath.relative_to(Path(package.filepath).parent.parent).as_posix()
        path = path.removesuffix("__init__.py")
        rows.append(f"| `{path}` | {summary(module)} |")
        for name in sorted(module.modules):
            walk(module.modules[name])

    walk(package)
    return "\n".join(rows)


STATE: dict = {}
"""What the build read at its start: the public API and the code map (mkdocs hooks keep their state at module level)."""


def on_config(config):
    """Reads the package once per build (mkdocs event)."""
    package = griffe.load("goemox", search_paths=[str(Path(config.config_file_path).parent)], resolve_aliases=False)
    try:
        STATE["api"] = PublicApi.read(package)
    except LookupError as err:
        raise PluginError(str(err)) from None
    STATE["code_map"] = code_map(package)
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replaces each `<!-- api: PACKAGE -->` line of a page (mkdocs event)."""

    def expand(match: re.Match) -> str:
        package = match.group("package")
        if package not in STATE["api"].definitions:
            log.warning("%s: %s is not a goemox package", page.file.src_uri, package)
            return match.group(0)
        return STATE["api"].page_markdown(package)

    return MARKER.sub(expand, markdown).replace(CODE_MAP, STATE["code_map"])
