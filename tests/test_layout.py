"""The package's shape: which modules may import which, read from the code's own import statements.

The subpackages stand in layers (`LAYERS`, lowest first): a module imports modules of its own package, of the ground
floor (the modules at the top of `goemox/` and `goemox.resources`) or of a package in a lower layer, never one
beside or above it."""

from __future__ import annotations

import ast
from pathlib import Path

import goemox

PACKAGE = Path(goemox.__file__).parent
REMOTE_CODE = ("goemox.configuration_goemox", "goemox.modeling_goemox")
LAYERS = (
    ("ground",),
    ("reporting",),
    ("data", "fetch"),
    ("inference",),
    ("evaluation",),
    ("calibration",),
    ("analysis",),
    ("exporters",),
    ("hub",),
    ("training", "demo"),
    ("cli",),
)
"""The order of the packages, lowest first; the packages of one layer do not import each other. `ground` is the
modules at the top of `goemox/` (errors, labels, scores, file I/O, the run folder, the model pair...) and
`goemox.resources`; `goemox.__main__` belongs to the command line."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def goemox_imports(path: Path) -> set[str]:
    """Every goemox module a file imports, at the top or inside functions (relative imports resolved)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("goemox"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base.startswith("goemox"):
                found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in goemox_imports(path):
            # `from goemox.data import x` names a package: count it as an edge to the package module.
            while imported not in modules and "." in imported:
                imported = imported.rpartition(".")[0]
            if imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def test_nothing_outside_the_cli_imports_it():
    offenders = {
        name: sorted(t for t in targets if t == "goemox.cli" or t.startswith("goemox.cli."))
        for name, targets in import_graph().items()
        if not name.startswith("goemox.cli") and name != "goemox.__main__"
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_remote_code_pair_imports_only_itself():
    graph = import_graph()
    for name in REMOTE_CODE:
        assert graph[name] <= set(REMOTE_CODE), (name, graph[name])


def test_the_import_graph_has_no_cycle():
    """Package `__init__` re-exports aside (a package may import its own modules), no module reaches itself."""
    graph = import_graph()

    def edges(name: str) -> set[str]:
        return {t for t in graph[name] if not (graph.get(t) is not None and name.startswith(t + "."))}

    state: dict[str, int] = {}
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges(name)):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target] if target in path else [name, target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


JOBS = ("goemox.training.train", "goemox.training.search", "goemox.training.distillation", "goemox.calibration.job")
"""The modules behind `goemox train`, `search`, `distill` and `calibrate`: jobs, not libraries."""

BUILT_ON = {"goemox.training.distillation": ["goemox.training.train"]}
"""Jobs that are another job with an extension: `distill` is `run_training` with teachers' targets."""


def package_of(module: str) -> str:
    """The layer entry a module belongs to: its subpackage, or `ground` for the modules at the top of `goemox/`."""
    parts = module.split(".")
    if module == "goemox.__main__":
        return "cli"
    if len(parts) == 1 or not (PACKAGE / parts[1] / "__init__.py").is_file() or parts[1] == "resources":
        return "ground"
    return parts[1]


def test_every_package_has_a_place_in_the_layers():
    placed = [package for layer in LAYERS for package in layer]
    packages = {package_of(name) for name in import_graph()}
    assert sorted(placed) == sorted(packages)


def test_no_package_imports_one_beside_or_above_it():
    level = {package: index for index, layer in enumerate(LAYERS) for package in layer}
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        for target in targets
        if package_of(target) != package_of(name) and level[package_of(target)] >= level[package_of(name)]
    )
    assert upward == []


def test_only_the_command_line_imports_a_job():
    """What a job shares with others lives in a module of its own (e.g. `goemox.training.data_setup`)."""
    importers = {
        name: sorted(set(targets) & set(JOBS)) for name, targets in import_graph().items() if package_of(name) != "cli"
    }
    assert {name: jobs for name, jobs in importers.items() if jobs} == BUILT_ON
