"""Build hook: the command-line reference, generated from the commands' option dataclasses, never written by hand.

A page that holds the line `<!-- cli-reference -->` gets, in its place, one section per `goemox` command (in the order
of `goemox --help`): its description, the option files it reads, and a table per option dataclass with each option's
spellings, type, default and help, as the command's own `HfArgumentParser` reads them.

Example:

```python
>>> "| `--model` |" in command_section("predict")
True
```"""

from __future__ import annotations

import dataclasses
import html
import importlib
import re
import typing
from typing import Any

MARKER = "<!-- cli-reference -->"
MAX_REPEATED_ROWS = 12
"""An options table longer than this (the training and data options) is shown once, and later commands that take the
same dataclass link to it; shorter ones are repeated, so that each command's section stands alone."""


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell: whitespace collapsed, HTML and pipes escaped.

    Args:
        text: any text (argparse help, a default's repr).
    """
    text = html.escape(" ".join(str(text).split()), quote=False)
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]").replace("*", "\\*")


def code(text: str) -> str:
    """Text as inline code in a table cell (backticks inside it widen the fence)."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def type_name(annotation: Any) -> str:
    """A field's annotation as a reader writes it: `str | None`, `list[str]`, `float`.

    Args:
        annotation: `dataclasses.Field.type` (a string under `from __future__ import annotations`, else a type).
    """
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    text = re.sub(r"\btyping\.", "", text)
    text = re.sub(r"Optional\[(.*)\]$", r"\1 | None", text)
    return re.sub(r"<class '([\w.]+)'>", r"\1", text)


def default_text(action) -> str:
    """What the option is when not given: `required`, or its default as code."""
    if action.required:
        return "required"
    default = action.default
    if default is dataclasses.MISSING:
        return "required"
    if isinstance(default, str) and not default:
        return '`""`'
    if default is None or default == []:
        return "not set"
    if hasattr(default, "value") and not isinstance(default, (int, float, str)):  # an enum
        default = default.value
    return code(default if isinstance(default, str) else repr(default))


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring (up to the first full stop that ends a line or is followed by a space)."""
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return match.group(1) if match else text


def spellings(actions: list) -> list[str]:
    """An option's spellings, without the dashed copies HfArgumentParser adds (`--max-length` for `--max_length`)."""
    names = [option for action in actions for option in action.option_strings]
    return [name for name in names if not ("-" in name[2:] and "--" + name[2:].replace("-", "_") in names)]


def options_table(parser, kind: type) -> str:
    """A Markdown table of the options one dataclass gives a command.

    Args:
        parser: the command's parser (`goemox.cli.parsing.build_parser`).
        kind: one of the command's option dataclasses.
    """
    actions: dict[str, list] = {}
    for action in parser._actions:
        actions.setdefault(action.dest, []).append(action)
    # The annotations as written: HfArgumentParser replaces a field's `type` by the one argparse converts with.
    hints = typing.get_type_hints(kind)
    rows = ["| option | type | default | description |", "|---|---|---|---|"]
    for field in dataclasses.fields(kind):
        if not field.init or field.name not in actions:
            continue
        main = actions[field.name][0]
        help_text = cell(main.help or "")
        if main.choices:
            stop = "" if not help_text or help_text.endswith(".") else "."
            help_text = f"{help_text}{stop} One of {', '.join(code(choice) for choice in main.choices)}.".strip()
        rows.append(
            f"| {' '.join(code(option) for option in spellings(actions[field.name]))} "
            f"| {code(type_name(hints.get(field.name, field.type)))} | {default_text(main)} | {help_text} |"
        )
    return "\n".join(rows)


def command_section(name: str, shown: dict[type, tuple[str, str]] | None = None) -> str:
    """The reference section of one command: heading, description, option files and option tables.

    Args:
        name: a key of `goemox.cli.COMMANDS` (`"train"`, `"export onnx"`).
        shown: option dataclass -> (command, anchor) of its table in an earlier section; a dataclass found there
            gets a link instead of a second table, and the long ones this section shows are added to it.
    """
    shown = {} if shown is None else shown
    from goemox.cli import COMMANDS
    from goemox.cli.parsing import build_parser

    module, summary = COMMANDS[name]
    command = importlib.import_module(f"goemox.cli.{module}").COMMANDS[name]
    parser = build_parser(command)
    lines = [f"## goemox {name}", "", " ".join((command.description or summary).split()), ""]
    lines += [f"```text\ngoemox {name} [--config FILE] [options]\n```", ""]
    files = ["`--config FILE`: a YAML or JSON mapping of option names to values; flags on the command line win."]
    files += [f"`{flag} FILE`: an option file read after `--config`." for flag, _ in command.extra_files]
    lines += [f"- {item}" for item in files]
    if command.legacy_positionals:
        words = " ".join(name.upper() for name in command.legacy_positionals)
        lines.append(
            f"- The previous release's positional form `goemox {name} {words}` still works for this release, with a "
            f"note giving the spelling with options."
        )
    lines.append("")
    for kind in command.dataclasses():
        anchor = f"goemox-{name.replace(' ', '-')}-{kind.__name__.lower()}"
        lines += [f"### {kind.__name__} {{#{anchor}}}", "", first_sentence(kind.__doc__), ""]
        if kind in shown:
            first = shown[kind]
            lines += [f"The same options as for [`goemox {first[0]}`](#{first[1]}).", ""]
            continue
        if len([field for field in dataclasses.fields(kind) if field.init]) > MAX_REPEATED_ROWS:
            shown[kind] = (name, anchor)
        lines += [options_table(parser, kind), ""]
    return "\n".join(lines)


def render() -> str:
    """Every command's section, with a table of the commands first."""
    from goemox.cli import COMMANDS

    table = ["| command | what it does |", "|---|---|"]
    table += [
        f"| [`goemox {name}`](#goemox-{name.replace(' ', '-')}) | {cell(summary)} |"
        for name, (_, summary) in COMMANDS.items()
    ]
    shown: dict[type, tuple[str, str]] = {}
    return "\n".join(["\n".join(table), "", *(command_section(name, shown) for name in COMMANDS)])


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replaces the marker line of the CLI reference page (mkdocs event)."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
