"""The build hook that writes the command line reference from the commands' option dataclasses."""

from __future__ import annotations

import importlib
import re

import pytest
from doc_pages import load_hook

from goemox.cli import COMMANDS
from goemox.cli.parsing import build_parser

reference = load_hook("cli_reference")


@pytest.fixture(scope="module")
def rendered() -> str:
    return reference.render()


def command(name: str):
    return importlib.import_module(f"goemox.cli.{COMMANDS[name][0]}").COMMANDS[name]


def section(text: str, name: str) -> str:
    """One command's section of the rendered reference."""
    start = text.index(f"\n## goemox {name}\n")
    end = text.find("\n## goemox ", start + 1)
    return text[start : end if end > 0 else None]


def table_rows(text: str) -> dict[str, list[str]]:
    """Option table rows of a section: first spelling -> the cells."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `(--[\w-]+)`", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
    return rows


def test_every_command_has_a_section_with_every_option_of_its_parser(rendered):
    """Each command's section heads each of its option dataclasses, and every option of its parser has a row (in
    its section, or in the earlier table a shared dataclass links to)."""
    spellings = {
        spelling for cells in table_rows(rendered).values() for spelling in re.findall(r"`(--[\w-]+)`", cells[0])
    }
    for name in COMMANDS:
        text = section(rendered, name)
        for kind in command(name).dataclasses():
            assert f"### {kind.__name__} {{#goemox-{name.replace(' ', '-')}-{kind.__name__.lower()}}}" in text
        for action in build_parser(command(name))._actions:
            main = next(
                (option for option in action.option_strings if "-" not in option[2:] and option[:2] == "--"), None
            )
            if main not in (None, "--help", "--config"):
                assert main in spellings, (name, main)


def test_a_row_gives_the_spellings_type_default_and_help(rendered):
    rows = table_rows(section(rendered, "predict"))
    spellings, kind, default, help_text = rows["--overwrite"]
    assert spellings == "`--overwrite` `--overwrite_output_dir`"  # the alias, not the dashed copies of the parser
    assert kind == "`bool`" and default == "`False`" and help_text.startswith("Allow replacing")
    assert rows["--model"][2] == "required"
    assert rows["--long_text"][1] == "`str \\| None`" and rows["--long_text"][2] == "not set"
    assert rows["--backend"][3].endswith("One of `torch`, `onnx`.")


def test_a_long_table_shared_by_commands_is_shown_once_and_linked(rendered):
    """The training options are tabled under `goemox train` and linked from `goemox search`; the short table of the
    saved-model options is repeated in each command that takes it."""
    train, search = section(rendered, "train"), section(rendered, "search")
    assert "| `--learning_rate` |" in train and "| `--learning_rate` |" not in search
    assert "The same options as for [`goemox train`](#goemox-train-goemoxtrainingarguments)." in search
    assert all("| `--model` |" in section(rendered, name) for name in ("evaluate", "predict", "calibrate"))


def test_option_files_and_the_old_positional_form_are_said(rendered):
    assert "`--params FILE`" in section(rendered, "train")
    assert "goemox push MODEL REPO_ID" in section(rendered, "push")


def test_cells_cannot_break_the_table_or_the_page():
    assert reference.cell("a | b <c> [d] *e*") == "a \\| b &lt;c&gt; \\[d\\] \\*e\\*"
    assert reference.code("x | y") == "`x \\| y`"
    assert reference.type_name("Optional[str]") == "str | None"
    assert reference.first_sentence("Options of a run. More here.\n\nArgs: ...") == "Options of a run."


def test_the_marker_is_replaced_only_on_its_page():
    text = reference.on_page_markdown("# CLI\n\n<!-- cli-reference -->\n", None, None, None)
    assert "<!-- cli-reference -->" not in text and "## goemox train" in text
    assert reference.on_page_markdown("# Other page\n", None, None, None) == "# Other page\n"
