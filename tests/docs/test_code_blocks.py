"""The code the documentation shows: its Python runs, and its commands name only commands and options that exist.

Each page's `python` blocks run in order in one namespace, in a folder where `runs/demo` is a tiny goemox model
trained on the packaged demo set (so the examples that read the quickstart's model run as written). A block that
cannot run here says why in an HTML comment on the line above it, `<!-- needs: hub -->`, with one of `NEEDS`."""

from __future__ import annotations

import importlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from doc_pages import ROOT, pages

NEEDS = {
    "hub": "downloads from or uploads to the Hugging Face Hub",
    "gpu": "needs a CUDA GPU",
    "onnx export": "reads a folder written by `goemox export onnx`",
}
"""Why a block may be left out, and what that means."""

FENCE = re.compile(r"^```(?P<language>\w*)\s*$")
NEEDS_MARK = re.compile(r"^<!-- needs: (?P<reason>[^>]*?) -->\s*$")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
OPTION = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")
FOREIGN_OPTIONS = {
    "accelerate launch": {"config_file", "cpu", "machine_rank", "main_process_ip", "main_process_port", "multi_gpu"}
    | {"num_machines", "num_processes"},
    "pip install": {"index-url", "no-deps"},
}
"""Options of other tools that the pages show beside goemox's."""
SCRIPTS = {"scripts/train.py": "train", "scripts/predict.py": "predict", "scripts/search.py": "search"}
"""The launcher scripts and the command each runs."""


@dataclass
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int
    language: str
    code: str
    needs: str | None


def code_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, each with the `needs:` mark of the line above it."""
    blocks, lines = [], page.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines):
        fence = FENCE.match(line)
        if fence and start is None:
            start, language = number, fence.group("language")
        elif line.strip() == "```" and start is not None:
            above = NEEDS_MARK.match(lines[start - 1]) if start else None
            code = "\n".join(lines[start + 1 : number])
            blocks.append(Block(page, start + 1, language, code, above.group("reason") if above else None))
            start = None
    return blocks


def label(page: Path) -> str:
    """A page's path from the repository root (or its name, for a page outside it)."""
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


def where(block: Block) -> str:
    return f"{label(block.page)}:{block.line}"


PYTHON_PAGES = [page for page in pages() if any(block.language == "python" for block in code_blocks(page))]


@pytest.fixture(scope="module")
def demo_model(trained_run_factory) -> Path:
    """A tiny goemox model trained on the packaged demo set: the stand-in for `make demo`'s `runs/demo`."""
    return trained_run_factory("bert")


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=label)
def test_python_blocks_run(page, demo_model, tmp_path, monkeypatch):
    blocks = [block for block in code_blocks(page) if block.language == "python"]
    unknown = {where(block): block.needs for block in blocks if block.needs and block.needs not in NEEDS}
    assert unknown == {}, f"unknown `needs:` reasons; use one of {sorted(NEEDS)}"
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "demo").symlink_to(demo_model, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        if block.needs is None:
            exec(compile(block.code, where(block), "exec"), namespace)  # noqa: S102 (the page's own example)
    skipped = [f"{where(block)} ({NEEDS[block.needs]})" for block in blocks if block.needs]
    if len(skipped) == len(blocks):
        pytest.skip("every block needs what this machine lacks: " + "; ".join(skipped))


def command_lines(page: Path) -> list[tuple[str, str]]:
    """Every shell command a page shows: the lines of its `bash` blocks (continuations joined) and its inline code
    that starts with `goemox`, each with where it is."""
    found = []
    for block in code_blocks(page):
        if block.language in ("bash", "sh", "shell"):
            for offset, line in enumerate(block.code.replace("\\\n", " ").splitlines()):
                found.append((f"{where(block)}+{offset}", line.split(" #")[0]))
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for code in INLINE_CODE.findall(line):
            if code.startswith(("goemox ", "accelerate launch")):
                found.append((f"{label(page)}:{number}", code))
    return found


def invoked_command(words: list[str]) -> tuple[str | None, list[str]]:
    """The goemox command a shell segment runs and the words given to it, or `(None, [])` when it runs none."""
    from goemox.cli import COMMANDS, find_command

    for index, word in enumerate(words):
        if word in SCRIPTS:
            return SCRIPTS[word], words[index + 1 :]
        if word == "goemox" and index + 1 < len(words) and re.fullmatch(r"[a-z][a-z-]*", words[index + 1]):
            name, rest = find_command(words[index + 1 :])
            group = words[index + 1 :] == [words[index + 1]] and any(
                command.startswith(words[index + 1] + " ") for command in COMMANDS
            )
            return (None, []) if name is None and group else (name or words[index + 1], rest)
    return None, []


def parser_options(name: str) -> set[str]:
    """Every spelling of every option of a goemox command, without dashes."""
    from goemox.cli import COMMANDS
    from goemox.cli.parsing import build_parser, option_names

    command = importlib.import_module(f"goemox.cli.{COMMANDS[name][0]}").COMMANDS[name]
    return set(option_names(build_parser(command)))


def every_option() -> set[str]:
    from goemox.cli import COMMANDS

    return set().union(*(parser_options(name) for name in COMMANDS))


SHOWN_PAGES = [*pages(), ROOT / "BENCHMARKS.md"]


def command_problems(page: Path) -> list[str]:
    """Each `goemox COMMAND --option` of a page whose command does not exist or does not take the option."""
    from goemox.cli import COMMANDS

    wrong = []
    for place, line in command_lines(page):
        for segment in re.split(r"\s(?:\||&&|;)\s", line):
            try:
                words = shlex.split(segment)
            except ValueError:  # an unclosed quote in prose
                words = segment.split()
            name, rest = invoked_command(words)
            if name is None:
                continue
            if name not in COMMANDS:
                wrong.append(f"{place}: no command `goemox {name}`")
                continue
            given = {match.strip("[]").split("=")[0] for word in rest for match in OPTION.findall(word)}
            wrong += [
                f"{place}: `goemox {name}` has no option --{option}" for option in sorted(given - parser_options(name))
            ]
    return wrong


@pytest.mark.parametrize("page", SHOWN_PAGES, ids=label)
def test_commands_name_real_commands_and_their_options(page):
    """`goemox COMMAND --option` anywhere in a page, in a block or in the prose: the command exists and takes that
    option."""
    assert command_problems(page) == []


@pytest.mark.parametrize("page", pages(), ids=label)
def test_every_option_a_page_names_exists(page):
    """An `--option` in the prose or code of a page is an option of some goemox command (or of the other tool the
    page shows running, from `FOREIGN_OPTIONS`): a renamed or removed option cannot linger in the docs."""
    foreign = set().union(*FOREIGN_OPTIONS.values())
    named = set(OPTION.findall(page.read_text(encoding="utf-8")))
    assert named - every_option() - foreign == set()


def test_needs_marks_stand_above_a_python_block():
    """A `needs:` mark that no longer stands right above a block would silently stop meaning anything."""
    stray = []
    for page in pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if NEEDS_MARK.match(line) and not (number + 1 < len(lines) and lines[number + 1].startswith("```python")):
                stray.append(f"{label(page)}:{number + 1}")
    assert stray == []


def test_the_command_check_finds_a_wrong_option_and_a_wrong_command(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Run `goemox predict --model m --ensure_top_label`.\n\n```bash\n"
        "goemox predict --model m --no_such_option 1 \\\n  --output out.jsonl | head\ngoemox frobnicate --x\n```\n",
        encoding="utf-8",
    )
    assert [problem.split(": ", 1)[1] for problem in command_problems(page)] == [
        "`goemox predict` has no option --no_such_option",
        "no command `goemox frobnicate`",
    ]
