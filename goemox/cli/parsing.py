"""How a command's options are read: its dataclasses, through one `HfArgumentParser`, from an optional
`--config FILE` (YAML/JSON) and then the command line (flags win).

Every command is a :class:`Command`: a tuple of dataclasses whose fields are its options (help, choices and
aliases in the field metadata), and the function that runs it. `__post_init__` checks of the dataclasses raise
:class:`~goemox.errors.GoEmoXUsageError` naming the option; `ValueError`s of other dataclasses (transformers'
`TrainingArguments`) are turned into the same one-line error.

Example:

```python
>>> from dataclasses import dataclass
>>> @dataclass
... class Greeting:
...     name: str = "world"
>>> command = Command("greet", (Greeting,), lambda options: 0, description="Say hello.")
>>> parse_command(command, ["--name", "you"])
(Greeting(name='you'),)
```"""

from __future__ import annotations

import argparse
import json
import math
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from goemox.errors import GoEmoXUsageError
from goemox.file_io import read_mapping_file


@dataclass(frozen=True)
class Command:
    """One `goemox` command.

    Attributes:
        name: the words that select it (`"evaluate"`, `"export onnx"`), a key of `goemox.cli.COMMANDS`, which
            holds its one-line summary.
        arguments: the dataclasses whose fields are its options, in the order `run` takes them (or a function
            returning them, for dataclasses whose import is slow).
        run: takes one instance of each dataclass and returns the exit status.
        description: the text of `goemox NAME --help` (default: `summary`).
        legacy_positionals: options that older releases took as positional words, in order (`"model"`,
            `"output_dir"`); leading words are still read as them, with a note to use the option instead.
        extra_files: `(flag, reader)` pairs of option files read after `--config` and before the rest of the command
            line (e.g. the `--params` of `goemox train`); `reader(path)` returns a mapping of option names to values.
            A dataclass field declares the flag itself.
    """

    name: str
    arguments: tuple[type, ...] | Callable[[], tuple[type, ...]]
    run: Callable[..., int]
    description: str | None = None
    legacy_positionals: tuple[str, ...] = ()
    extra_files: tuple[tuple[str, Callable[[str], dict]], ...] = ()

    @property
    def summary(self) -> str:
        """The one line `goemox --help` shows, declared beside the command's name in `goemox.cli.COMMANDS`."""
        from goemox.cli import COMMANDS

        return COMMANDS[self.name][1]

    def dataclasses(self) -> tuple[type, ...]:
        """The option dataclasses, in the order `run` takes them."""
        return self.arguments() if callable(self.arguments) else self.arguments


def by_name(*commands: Command) -> dict[str, Command]:
    """A command module's `COMMANDS`: its commands by name (each one a key of `goemox.cli.COMMANDS`).

    Example:

    ```python
    >>> sorted(by_name(Command("greet", (), lambda: 0), Command("wave", (), lambda: 0)))
    ['greet', 'wave']
    ```"""
    return {command.name: command for command in commands}


def finite_float(text: str) -> float:
    """A number option's value: `float` refuses `abc` but takes `nan` and `inf`, which no option can use.

    Example:
        >>> finite_float("2e-5")
        2e-05
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser(command: Command):
    """The `HfArgumentParser` over a command's dataclasses, with `--config`; its number options take finite
    numbers only."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(
        command.dataclasses(),
        prog=f"goemox {command.name}",
        description=command.description or command.summary,
        allow_abbrev=False,  # `--out` must not silently mean `--output_dir` (or fail as ambiguous)
    )
    for action in parser._actions:
        if action.type is float:
            action.type = finite_float
    parser.add_argument("--config", help="YAML/JSON file of options (flags on the command line win).")
    return parser


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Every spelling of every option (without dashes, aliases included) -> the option's field name."""
    names = {}
    for action in parser._actions:
        for option in action.option_strings:
            names[option.lstrip("-")] = action.dest
    return names


def legacy_to_options(command: Command, argv: list[str]) -> list[str]:
    """Read leading positional words as the options older releases took positionally, with a note on stderr."""
    words = []
    while len(words) < len(command.legacy_positionals) and len(words) < len(argv) and argv[len(words)][:1] != "-":
        words.append(argv[len(words)])
    if not words:
        return argv
    given = [f"--{name} {word}" for name, word in zip(command.legacy_positionals, words)]
    print(
        f"goemox {command.name}: note: positional arguments are deprecated and go away in the next release; "
        f"write {' '.join(given)}",
        file=sys.stderr,
    )
    options = [part for name, word in zip(command.legacy_positionals, words) for part in (f"--{name}", word)]
    return options + argv[len(words) :]


TYPE_NAMES = {int: "a whole number", finite_float: "a finite number", str: "text"}
"""How a message names the type of an option's value."""


def file_value(parser: argparse.ArgumentParser, command: Command, dest: str, value: Any, where: str) -> Any:
    """An option's value read from a file, checked and converted as the command line converts a flag's words: YAML
    gives it a type already, which argparse never checks for a default (`batch_size: 2.7` would reach the run as a
    float, `learning_rate: [1, 2]` as a list).

    Args:
        parser: the command's parser.
        command: the command (its dataclasses say which options take a mapping or a list).
        dest: the option's field name.
        value: the value from the file.
        where: the file and key, for the message.

    Raises:
        GoEmoXUsageError: a value of the wrong type, or not one of the option's choices.
    """
    action = next(action for action in parser._actions if action.dest == dest)
    # The annotation as written: HfArgumentParser replaces a field's `type` by the one argparse converts with.
    declared = " ".join(str(typing.get_type_hints(kind).get(dest, "")) for kind in command.dataclasses())
    if value is None or (isinstance(value, dict) and "dict" in declared):
        return value
    if isinstance(value, list) and (action.nargs in ("+", "*") or "list" in declared):
        # A mapping in a list of text options (a `datasets:` entry) becomes the text its flag takes (`--source
        # '{name: a, dataset: d1}'`: JSON is YAML), so the option reads it as it reads the flag.
        items = [json.dumps(item) if isinstance(item, dict) and action.type is str else item for item in value]
        return [file_value(parser, command, dest, item, where) for item in items]
    kind = action.type
    expected = TYPE_NAMES.get(kind, "true or false" if getattr(kind, "__name__", "") == "string_to_bool" else "a value")
    if isinstance(value, (dict, list)):
        raise GoEmoXUsageError(f"{where} must be {expected}, got {type(value).__name__} {value!r}")
    try:
        converted = value if kind is None else kind(str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise GoEmoXUsageError(f"{where} must be {expected}, got {value!r}") from None
    if action.choices is not None and converted not in action.choices:
        raise GoEmoXUsageError(f"{where} must be one of {', '.join(map(str, action.choices))}, got {value!r}")
    return converted


def parse_command(command: Command, argv: Sequence[str]) -> tuple[Any, ...]:
    """A command's dataclass instances from `--config FILE`, its extra files, then the command line.

    Args:
        command: the command.
        argv: the words after the command's name.

    Raises:
        GoEmoXUsageError: an unknown option in a file, or a value a dataclass refuses.
    """
    argv = legacy_to_options(command, list(argv))
    parser = build_parser(command)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    for flag, _ in command.extra_files:
        pre.add_argument(flag)
    known, _ = pre.parse_known_args(argv)
    names = option_names(parser)
    readers = [("--config", read_mapping_file), *command.extra_files]
    for flag, reader in readers:
        path = getattr(known, flag.lstrip("-"))
        if not path:
            continue
        values = reader(path)
        files = {"config", "help", "h", *(name.lstrip("-") for name, _ in readers)}
        unknown = sorted(key for key in values if key not in names or key in files)
        if unknown:
            raise GoEmoXUsageError(f"{path}: unknown option(s) {unknown}; see `goemox {command.name} --help`")
        defaults = {}
        for key, value in values.items():
            defaults[names[key]] = file_value(parser, command, names[key], value, f"{path}: {key}")
        parser.set_defaults(**defaults)
        for action in parser._actions:
            if action.dest in defaults:
                action.required = False  # a value from the file counts as given
    try:
        *parsed, remaining = parser.parse_args_into_dataclasses(
            argv, look_for_args_file=False, return_remaining_strings=True
        )
    except GoEmoXUsageError:
        raise
    except ValueError as err:  # a check inside a dataclass that is not goemox's (TrainingArguments)
        raise GoEmoXUsageError(" ".join(str(err).split())) from None
    if remaining:
        raise GoEmoXUsageError(f"unknown option(s) or extra words {remaining}; see `goemox {command.name} --help`")
    return tuple(item for item in parsed if not isinstance(item, argparse.Namespace))
