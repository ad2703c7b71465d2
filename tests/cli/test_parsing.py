"""How every command reads its options: dataclasses, --config files, aliases, old positional spellings, errors."""

from __future__ import annotations

import argparse
import importlib
import json

import pytest

from goemox.cli import COMMANDS, main
from goemox.cli.parsing import build_parser, finite_float, parse_command
from goemox.errors import GoEmoXUsageError


def command(name: str):
    return importlib.import_module(f"goemox.cli.{COMMANDS[name][0]}").COMMANDS[name]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_registered_command_has_a_parser_with_help(name, capsys):
    parser = build_parser(command(name))
    assert parser.prog == f"goemox {name}"
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_each_command_is_named_and_summarised_once():
    modules = {module for module, _ in COMMANDS.values()}
    declared = {name: module for module in modules for name in importlib.import_module(f"goemox.cli.{module}").COMMANDS}
    assert declared == {name: module for name, (module, _) in COMMANDS.items()}
    for name, (_, summary) in COMMANDS.items():
        assert command(name).summary == summary and summary.endswith(".") and "\n" not in summary


def test_top_level_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in COMMANDS)
    assert main(["export"]) == 2
    assert "export hub" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_config_file_works_for_any_command_and_flags_win(tmp_path):
    (tmp_path / "eval.yaml").write_text("model: runs/x\nsplit: validation\nbatch_size: 8\n")
    model, backend, data, options = parse_command(
        command("evaluate"), ["--config", str(tmp_path / "eval.yaml"), "--batch_size", "16"]
    )
    assert (model.model, model.batch_size, options.split) == ("runs/x", 16, "validation")
    (tmp_path / "bad.json").write_text(json.dumps({"modle": "x"}))
    with pytest.raises(GoEmoXUsageError, match=r"bad.json: unknown option\(s\) \['modle'\]"):
        parse_command(command("evaluate"), ["--config", str(tmp_path / "bad.json")])
    with pytest.raises(GoEmoXUsageError, match="no such file"):
        parse_command(command("predict"), ["--config", str(tmp_path / "missing.yaml")])


def test_old_option_spellings_are_aliases(tmp_path):
    *_, options = parse_command(command("evaluate"), ["--model", "m", "--report", "r", "--overwrite_output_dir"])
    assert options.report_dir == "r" and options.overwrite is True
    *_, options = parse_command(command("analyze"), ["--model", "m", "--domain", "a=x.txt", "b=y.txt",
                                                    "--output_dir", "o", "--overwrite_output_dir"])  # fmt: skip
    assert options.domain == ["a=x.txt", "b=y.txt"] and options.overwrite is True
    *_, options = parse_command(
        command("analyze"), ["--model", "m", "--domain", "a=x.txt", "--domain", "b=y.txt", "--output_dir", "o"]
    )
    assert options.domain == ["a=x.txt", "b=y.txt"]  # repeated, as before


def test_old_positional_spellings_still_work_with_a_note(capsys):
    model, options = parse_command(command("export onnx"), ["runs/m", "out", "--quantize", "int8"])
    assert (model.model, options.output_dir, options.quantize) == ("runs/m", "out", "int8")
    assert "write --model runs/m --output_dir out" in capsys.readouterr().err
    model, push, card = parse_command(command("push"), ["runs/m", "me/name", "--private"])
    assert (model.model, card.repo_id, push.private) == ("runs/m", "me/name", True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--model", "m", "--batch_size", "0"], "--batch_size must be at least 1, got 0"),
        (["evaluate", "--model", "m", "--max_length", "0"], "--max_length must be at least 1, got 0"),
        (["predict", "--model", "m", "--precision", "int8"], "--precision int8 needs --backend onnx"),
        (["analyze", "--model", "m", "--domain", "a=x.txt", "--output_dir", "o"], "at least twice"),
        (["data", "stats", "--tokenizer", "t", "--output_dir", "o", "--test_size", "1.5"], "--test_size must be"),
        (["demo", "--model", "m", "--port", "70000"], "--port must be at most 65535"),
        (["fetch", "hackernews", "--output", "o.jsonl", "--limit", "-1"], "--limit must be at least 0"),
    ],
)
def test_bad_option_values_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_abbreviated_options_are_not_guessed():
    with pytest.raises(GoEmoXUsageError, match=r"unknown option\(s\) or extra words \['--out', 'x.json'\]"):
        parse_command(command("evaluate"), ["--model", "m", "--out", "x.json"])


def test_train_takes_overwrite_like_every_other_command(tmp_path):
    *_, training_args, _ = parse_command(command("train"), ["--output_dir", str(tmp_path), "--overwrite"])
    assert training_args.overwrite_output_dir is True


def test_config_values_are_converted_and_checked_as_flags_are(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "learning_rate: 1e-3\nnum_train_epochs: 2\nbf16: false\nreport_to: [none]\nlr_scheduler_kwargs: {power: 2}\n"
    )
    *_, training, _ = parse_command(command("train"), ["--config", str(config), "--output_dir", str(tmp_path)])
    assert (training.learning_rate, training.num_train_epochs, training.bf16) == (1e-3, 2.0, False)
    assert training.report_to == [] and training.lr_scheduler_kwargs == {"power": 2}
    config.write_text("threshold_strategy: sometimes\n")
    with pytest.raises(GoEmoXUsageError, match="run.yaml: threshold_strategy must be one of"):
        parse_command(command("train"), ["--config", str(config)])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_number_option_refuses_nan_and_infinity(name, tmp_path, capsys):
    parser = build_parser(command(name))
    numbers = [action for action in parser._actions if action.type is finite_float]
    for action in numbers:
        flag = action.option_strings[0]
        for value in ("nan", "inf", "-Infinity"):
            with pytest.raises(SystemExit) as stopped:
                parser.parse_args([f"{flag}={value}"])
            assert stopped.value.code == 2
            last = capsys.readouterr().err.strip().splitlines()[-1]
            assert f"error: argument {flag}" in last and last.endswith(f"expected a finite number, got '{value}'")
    if numbers:  # a --config file's value is refused the same way, naming the file and the key
        key = numbers[0].dest
        (tmp_path / "run.yaml").write_text(f"{key}: .inf\n")
        with pytest.raises(GoEmoXUsageError, match=rf"run.yaml: {key} must be a finite number, got inf"):
            parse_command(command(name), ["--config", str(tmp_path / "run.yaml")])


def test_number_options_still_take_numbers_and_name_what_is_not_one():
    assert finite_float("-2.5e-3") == -0.0025
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number, got '3e-5x'"):
        finite_float("3e-5x")
    assert not any(action.type is float for action in build_parser(command("train"))._actions)
