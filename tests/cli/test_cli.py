"""The `goemox` command run as a user would: in a subprocess, on files."""

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from goemox.cli.demo import DemoArguments, demo_command
from goemox.cli.parsing import parse_command
from goemox.cli.train import COMMANDS as TRAINING_COMMANDS
from goemox.demo.logic import DemoSettings, parse_demo_args
from goemox.errors import GoEmoXUsageError

TEN = ["praise", "amusement", "anger", "disapproval", "confusion", "interest", "sadness", "fear", "joy", "love"]


@pytest.fixture(scope="module")
def trained(goemox_cli, tmp_path_factory, tiny_encoder_factory) -> Path:
    """A model trained through `goemox train --config` on a user CSV file with only a training split."""
    folder = tmp_path_factory.mktemp("cli")
    demo = Path(__file__).resolve().parents[2] / "goemox" / "resources" / "demo_emotions.jsonl"
    with (folder / "train.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "emotions"])
        for i, line in enumerate(demo.read_text(encoding="utf-8").splitlines()):
            row = json.loads(line)
            writer.writerow([f"r{i}", row["text"], "|".join(row["labels"])])
    (folder / "run.yaml").write_text(
        f"model_name_or_path: {tiny_encoder_factory('distilbert')}\n"
        f"train_file: {folder / 'train.csv'}\n"
        "label_column: emotions\nlabel_separator: '|'\nscheme: ten\npooling: mean\n"
        "learning_rate: 0.003\nnum_train_epochs: 3\nmax_length: 48\nuse_cpu: true\n"
        f"output_dir: {folder / 'model'}\n",
        encoding="utf-8",
    )
    result = goemox_cli(
        "train", "--config", str(folder / "run.yaml"), "--seed", "3", "--disable_tqdm", "true",
        "--long_text", "window", "--long_text_stride", "8",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test, thresholds tuned on validation" in result.stdout
    assert "Example, through pipeline(" in result.stdout
    # About 40 validation rows: the run says which values were pooled and how the error was measured.
    assert re.search(r"Validation support: \d+ of 10 labels have fewer than 5 validation positives", result.stdout)
    assert "(cross-fitted on 5 folds)" in result.stdout and "reliability.png" in result.stdout
    assert "Warning: the cutoff rests on" in result.stdout
    return folder


def test_train_writes_model_and_reports(trained):
    out = trained / "model"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["label_names"] == TEN
    config = json.loads((out / "run_config.json").read_text())
    assert config["training"]["seed"] == 3  # the flag overrides the config file
    assert config["data"]["label_separator"] == "|"
    model_config = json.loads((out / "config.json").read_text())
    assert (model_config["long_text"], model_config["long_text_stride"]) == ("window", 8)  # the default of predict
    assert "long_text_aggregation" not in model_config  # not given: not stored


def test_evaluate_prints_per_class_table_and_writes_json(goemox_cli, trained):
    result = goemox_cli(
        "evaluate",
        "--model",
        str(trained / "model"),
        "--train_file",
        str(trained / "train.csv"),
        "--label_column",
        "emotions",
        "--label_separator",
        "|",
        "--output",
        str(trained / "eval.json"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for label in TEN:
        assert label in result.stdout
    evaluation = json.loads((trained / "eval.json").read_text())
    training_metrics = json.loads((trained / "model" / "metrics.json").read_text())
    # The same automatic split and the same stored thresholds give the numbers `train` reported for test.
    assert evaluation["rows"] == training_metrics["rows"]["test"]
    assert evaluation["long_text"]["mode"] == "window" and evaluation["long_text"]["stride"] == 8  # stored default
    assert evaluation["stored_thresholds"]["macro_f1"] == pytest.approx(
        training_metrics["test"]["tuned"]["macro_f1"], abs=1e-6
    )


def test_predict_csv_to_jsonl_and_stdin_to_csv(goemox_cli, trained):
    (trained / "in.csv").write_text("id,text\n1,I love this so much\n2,why would you do that\n", encoding="utf-8")
    result = goemox_cli(
        "predict",
        "--model",
        str(trained / "model"),
        "--input",
        str(trained / "in.csv"),
        "--output",
        str(trained / "out.jsonl"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (trained / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2"]
    assert set(rows[0]["scores"]) == set(TEN)
    result = goemox_cli(
        "predict",
        "--model",
        str(trained / "model"),
        "--output_format",
        "csv",
        "--ensure_top_label",
        stdin="hello there\nthis is awful\n",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["text"] for r in table] == ["hello there", "this is awful"]
    assert all(r["labels"] for r in table)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "--model", "{tmp}/missing-model", "--input", "{tmp}/in.txt"], "not a saved model folder"),
        (["predict", "--model", "{model}", "--input", "{tmp}/nothing.txt"], "nothing.txt: no such file"),
        (
            [
                "train",
                "--train_file",
                "{tmp}/bad.csv",
                "--scheme",
                "ten",
                "--model_name_or_path",
                "{model}",
                "--output_dir",
                "{tmp}/o",
            ],
            "bad.csv:3: unknown label",
        ),
        (["train", "--config", "{tmp}/bad.yaml"], "bad.yaml: unknown option(s) ['learning_rat']"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(goemox_here, trained, tmp_path, args, message):
    (tmp_path / "missing-model").mkdir()
    (tmp_path / "in.txt").write_text("hello\n")
    (tmp_path / "bad.csv").write_text("text,labels\nfine,joy\nnot fine,joyy\n")
    (tmp_path / "bad.yaml").write_text("learning_rat: 0.1\n")
    filled = [a.format(tmp=tmp_path, model=trained / "model") for a in args]
    result = goemox_here(*filled)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_values_are_overridden_by_flags(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"learning_rate": 0.5, "scheme": "ekman"}))
    model_args, data_args, training_args, _ = parse_command(
        TRAINING_COMMANDS["train"],
        ["--config", str(tmp_path / "c.json"), "--learning_rate", "0.25", "--output_dir", str(tmp_path)],
    )
    assert training_args.learning_rate == 0.25
    assert data_args.scheme == "ekman"
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(GoEmoXUsageError, match="expected a mapping"):
        parse_command(TRAINING_COMMANDS["train"], ["--config", str(tmp_path / "list.yaml")])


def test_demo_runs_streamlit_on_the_packaged_app_with_the_options():
    command = demo_command(DemoArguments(model="org/model", port=9000, max_rows=7))
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(command[4]).name == "app.py" and Path(command[4]).is_file()
    separator = command.index("--")
    options = command[5:separator]
    assert dict(zip(options[::2], options[1::2])) == {
        "--server.address": "127.0.0.1",
        "--server.port": "9000",
        "--server.headless": "true",
        "--server.fileWatcherType": "none",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "viewer",
    }
    assert parse_demo_args(command[separator + 1 :]) == DemoSettings(model="org/model", max_rows=7, max_length=128)
    command = demo_command(DemoArguments(model="m", long_text="window", long_text_aggregation="mean"))
    settings = parse_demo_args(command[command.index("--") + 1 :])
    assert (settings.long_text, settings.long_text_stride, settings.long_text_aggregation) == ("window", None, "mean")


def test_demo_refuses_a_row_limit_below_one(goemox_here):
    result = goemox_here("demo", "--model", "m", "--max_rows", "0")
    assert result.returncode == 2
    assert "--max_rows must be at least 1, got 0" in result.stderr
