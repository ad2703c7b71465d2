"""The public API: every module that declares `__all__` names only what it can import and documents; the package root
exports the headline names without importing them; the benchmarks and scripts use public names only."""

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import goemox

PACKAGE = Path(goemox.__file__).parent
REPO = PACKAGE.parent
HEADLINE = {
    "GoEmoXConfig",
    "GoEmoXForSequenceClassification",
    "GoEmoXTrainer",
    "GoEmoXTrainingArguments",
    "ModelArguments",
    "DataArguments",
    "run_training",
    "EmotionClassifier",
    "EmotionPrediction",
    "OnnxEmotionClassifier",
    "load_emotion_dataset",
    "LabelScheme",
    "get_label_scheme",
}
"""What the root exports: model and config, trainer and its arguments, the classifiers, loading data, label schemes."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declared_all(path: Path) -> list[str] | None:
    """The literal `__all__` a file assigns, read without importing it (`None` when it has none)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


PUBLIC_MODULES = {
    module_name(path): names for path in sorted(PACKAGE.rglob("*.py")) if (names := declared_all(path)) is not None
}


def attribute_docstrings(module) -> set[str]:
    """Module-level names assigned with a string literal right after them (their docstring)."""
    body = ast.parse(inspect.getsource(module)).body
    documented = set()
    for node, following in zip(body, body[1:]):
        is_doc = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
        if not (is_doc and isinstance(following.value.value, str)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        documented.update(target.id for target in targets if isinstance(target, ast.Name))
    return documented


def defining_module(package, name: str, value):
    """Where a public name is defined: a class or function's own module; a constant's lazy source or the module."""
    if inspect.isclass(value) or inspect.isfunction(value):
        return importlib.import_module(value.__module__)
    lazy = getattr(package, "_LAZY", {})
    return importlib.import_module(lazy[name]) if name in lazy else package


def test_public_names_are_declared_by_every_package_and_ground_module_and_nowhere_else():
    packages = {module_name(path.parent) for path in PACKAGE.glob("*/__init__.py")}
    ground = {module_name(path) for path in PACKAGE.glob("*.py") if path.name != "__main__.py"}
    assert set(PUBLIC_MODULES) == packages | ground  # a module inside a subpackage leaves it to its package


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_name_resolves_and_has_a_docstring(module):
    imported = importlib.import_module(module)
    assert imported.__all__ == PUBLIC_MODULES[module] and len(set(imported.__all__)) == len(imported.__all__)
    undocumented = []
    for name in imported.__all__:
        value = getattr(imported, name)  # raises for a name that does not resolve
        if inspect.isclass(value) or inspect.isfunction(value):
            if not (value.__doc__ or "").strip():
                undocumented.append(name)
        elif name not in attribute_docstrings(defining_module(imported, name, value)):
            undocumented.append(name)
    assert undocumented == []


LAZY_MODULES = sorted(name for name in PUBLIC_MODULES if hasattr(importlib.import_module(name), "_LAZY"))


@pytest.mark.parametrize("module", LAZY_MODULES)
def test_lazy_packages_load_exactly_their_public_names(module):
    imported = importlib.import_module(module)
    eager = {name for name in imported.__all__ if name in vars(imported)}
    assert set(imported._LAZY) | eager == set(imported.__all__)
    with pytest.raises(AttributeError, match=f"module {module!r} has no attribute 'not_public'"):
        imported.not_public  # noqa: B018


def test_no_public_name_is_also_a_submodule_name():
    """Importing `goemox.pkg.name` sets the package attribute `name` to the module, hiding a lazy name `name`."""
    clashes = [
        f"{module}.{name}"
        for module, names in PUBLIC_MODULES.items()
        for name in names
        if (PACKAGE.parent / module.replace(".", "/") / f"{name}.py").exists()
        or (PACKAGE.parent / module.replace(".", "/") / name / "__init__.py").exists()
    ]
    assert clashes == []


def test_the_root_exports_the_headline_names_without_importing_them():
    assert set(goemox.__all__) == HEADLINE
    code = (
        "import sys, goemox\n"
        "heavy = {'torch', 'transformers', 'datasets', 'onnxruntime'} & set(sys.modules)\n"
        "print(sorted(heavy), goemox.GoEmoXTrainer.__module__, goemox.LabelScheme.__name__)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert loaded.stdout.split() == ["[]", "goemox.training.trainer", "LabelScheme"]


USERS = sorted(path.relative_to(REPO).as_posix() for path in [*REPO.glob("bench/*.py"), *REPO.glob("scripts/*.py")])


@pytest.mark.parametrize("path", USERS)
def test_benchmarks_and_scripts_use_public_names_only(path):
    private = []
    for node in ast.walk(ast.parse((REPO / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            private += [alias.name for alias in node.names if alias.name.startswith("goemox.")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "goemox":
            public = PUBLIC_MODULES.get(node.module, [])
            private += [f"{node.module}.{alias.name}" for alias in node.names if alias.name not in public]
    assert private == []
