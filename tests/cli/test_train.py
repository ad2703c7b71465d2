"""`goemox train` and `goemox search` as a user runs them: option checks, resuming, run records."""

import dataclasses
import json
from pathlib import Path

import pytest

from goemox.cli.parsing import parse_command
from goemox.cli.train import COMMANDS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAINING_CONFIGS = sorted(path.name for path in CONFIGS.glob("*.yaml") if not path.name.startswith("published_"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--pos_weight_cap", "0.5"], "--pos_weight_cap must be at least 1, got 0.5"),
        (["--label_smoothing_factor", "1.5"], "--label_smoothing_factor must be at least 0 and below 1, got 1.5"),
        (["--pos_weight_strategy", "explicit"], "--pos_weight_strategy explicit needs --pos_weight_values"),
        (["--learning_rate", "0"], "--learning_rate must be above 0, got 0.0"),
        (["--num_train_epochs", "0"], "--num_train_epochs must be above 0 (or set --max_steps), got 0.0"),
        (["--max_length", "0"], "--max_length must be at least 1, got 0"),
        (["--pooling", "max"], "--pooling"),
        (["--classifier_dropout", "1"], "--classifier_dropout must be at least 0 and below 1, got 1.0"),
        (["--source", "carer"], "--source carer: expected NAME=DATASET"),
        (["--source", "a=x", "--source", "a=y"], "datasets: two sources are named 'a'"),
        (["--source", "{name: a, dataset: x, annotate: [joy]}"], "source 'a': unknown field(s) ['annotate']"),
        (["--source", "a=x", "--select_on", "b"], "--select_on b: expected 'pooled' or a source name (a)"),
        (["--source_temperature", "0"], "--source_temperature must be above 0, got 0.0"),
        (["--loss", "asymmetric", "--asl_clip", "1"], "--asl_clip must be at least 0 and below 1, got 1.0"),
        (["--asl_gamma_neg", "-2"], "--asl_gamma_neg must be at least 0 and finite, got -2.0"),
        (["--pad_to_buckets", "64", "32"], "--pad_to_buckets must be strictly increasing, got [64, 32]"),
        (["--long_text_stride", "8"], "--long_text_stride applies to --long_text window"),
        (["--long_text", "window", "--long_text_stride", "-1"], "--long_text_stride must be a whole number of at"),
        (["--long_text", "window", "--long_text_stride", "200"], "--long_text_stride 200 must be below the 128 text"),
    ],
)
def test_bad_options_stop_with_one_line_and_save_nothing(options, message, goemox_here, tmp_path):
    out = tmp_path / "run"
    result = goemox_here("train", "--dataset", "demo", "--output_dir", str(out), "--use_cpu", *options)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_max_length_above_the_encoder_limit_stops_before_any_data_is_read(goemox_here, tmp_path, tiny_encoder_factory):
    out = tmp_path / "run"
    result = goemox_here(
        "train",
        "--model_name_or_path",
        str(tiny_encoder_factory("bert")),
        "--train_file",
        str(tmp_path / "missing.csv"),
        "--max_length",
        "4096",
        "--output_dir",
        str(out),
        "--use_cpu",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"goemox: error: --max_length 4096 is above the 128 tokens of {tiny_encoder_factory('bert')}; "
        "pass --max_length 128 or less"
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("header.csv", "text,labels\n", "header.csv: 0 rows leave the validation split empty"),
        ("empty.jsonl", "", "empty.jsonl: 0 rows leave the validation split empty"),
        ("small.csv", "text,labels\nyay,joy\nugh,anger\nhm,neutral\n", "3 rows leave the validation split empty"),
    ],
)
def test_data_without_enough_rows_stops_with_the_minimum(
    name, content, message, goemox_here, tmp_path, tiny_encoder_factory
):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "run"
    encoder = str(tiny_encoder_factory("bert"))
    result = goemox_here("train", "--model_name_or_path", encoder, "--train_file", str(path), "--output_dir", str(out))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert message in lines[0] and "at least" in lines[0]
    assert not out.exists()


def test_a_header_only_split_file_stops_with_the_minimum(goemox_here, tmp_path, tiny_encoder_factory):
    train = tmp_path / "train.csv"
    train.write_text("text,labels\n" + "".join(f"text {i},joy\n" for i in range(20)), encoding="utf-8")
    validation = tmp_path / "validation.csv"
    validation.write_text("text,labels\n", encoding="utf-8")
    out = tmp_path / "run"
    result = goemox_here(
        "train",
        *("--model_name_or_path", str(tiny_encoder_factory("bert")), "--output_dir", str(out)),
        *("--train_file", str(train), "--validation_file", str(validation)),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"goemox: error: {validation}: the validation split has 0 labelled rows (a header only, an empty file, or "
        "every row skipped); expected at least 1 row per split for training"
    ]
    assert not out.exists()


def test_search_from_a_saved_goemox_model(goemox_cli, tmp_path, trained_run_factory):
    out = tmp_path / "search"
    result = goemox_cli(
        "search",
        *("--model_name_or_path", str(trained_run_factory("distilbert")), "--dataset", "demo"),
        *("--max_length", "32", "--output_dir", str(out), "--use_cpu", "--report_to", "none"),
        *("--n_trials", "1", "--sampler_seed", "0", "--max_train_samples", "64", "--max_eval_samples", "20"),
        *("--space_file", str(write_one_epoch_space(tmp_path))),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = json.loads((out / "best_params.json").read_text())
    assert best["trials"] == {"COMPLETE": 1} and best["params"]["num_train_epochs"] == 1


def write_one_epoch_space(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"num_train_epochs": {"type": "int", "low": 1, "high": 1}}), encoding="utf-8")
    return path


def test_a_source_problem_found_in_its_data_stops_before_training(goemox_here, tmp_path, tiny_encoder_factory):
    rows = "".join(f"text {i}\t{['joy', 'anger'][i % 2]}\n" for i in range(20))
    (tmp_path / "tweets.tsv").write_text("text\tlabel\n" + rows)
    out = tmp_path / "run"
    mapping = "{joy: joy, glee: joy}"
    source = f"{{name: tweets, train_file: {tmp_path / 'tweets.tsv'}, label_column: label, mapping: {mapping}}}"
    result = goemox_here(
        "train",
        "--model_name_or_path",
        str(tiny_encoder_factory("bert")),
        "--source",
        source,
        "--output_dir",
        str(out),
        "--use_cpu",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "goemox: error: datasets: source 'tweets': mapping names ['glee'], which its data never uses (it uses "
        "['anger', 'joy']); expected label names of this source"
    ]
    assert not out.exists()


@pytest.fixture
def unlabelled_file(tmp_path):
    path = tmp_path / "tweets.txt"
    path.write_text("i feel great today\nso angry at the bus\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "goemox: error: --teachers: expected at least one teacher"),
        (["--teachers", "./missing"], "goemox: error: --teachers ./missing: no such folder"),
        (["--teachers", "{encoder}"], "{encoder}: not a multi-label classifier (BertModel); expected a goemox run"),
        (["--teachers", "{model}", "--scheme", "ekman"], "its 10 labels differ from the run's 7 (lacks ['disgust', "),
        (["--teachers", "{model}", "--unlabelled_file", "{empty}"], "{empty}: no texts (an empty file, or a header"),
        (["--teachers", "{model}", "--distill_alpha", "2"], "--distill_alpha must be between 0 and 1, got 2.0"),
    ],
)
def test_distill_bad_input_stops_with_one_line_and_saves_nothing(
    options, message, goemox_here, tmp_path, model, tiny_encoder_factory
):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    names = {"encoder": str(tiny_encoder_factory("bert")), "model": str(model), "empty": str(tmp_path / "empty.txt")}
    out = tmp_path / "run"
    result = goemox_here(
        "distill",
        *("--model_name_or_path", names["encoder"], "--dataset", "demo", "--output_dir", str(out), "--use_cpu"),
        *(option.format(**names) for option in options),
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert message.format(**names) in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()


def test_distill_from_a_hub_teacher_that_cannot_be_fetched_is_one_line(goemox_cli, tmp_path, tiny_encoder_factory):
    result = goemox_cli(
        "distill",
        *("--teachers", "someone/teacher@v1", "--model_name_or_path", str(tiny_encoder_factory("bert"))),
        *("--dataset", "demo", "--output_dir", str(tmp_path / "run"), "--use_cpu"),
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "goemox: error: --teachers someone/teacher@v1: no such local folder, and the Hub model cannot be fetched ("
    ), result.stderr[-2000:]


def test_distill_from_the_command_line(goemox_here, tmp_path, model, tiny_encoder_factory, unlabelled_file, caplog):
    out = tmp_path / "student"
    arguments = (
        *("--teachers", str(model), "--model_name_or_path", str(tiny_encoder_factory("bert")), "--pooling", "mean"),
        *("--dataset", "demo", "--max_train_samples", "64", "--max_eval_samples", "20", "--max_length", "32"),
        *("--unlabelled_file", str(unlabelled_file), "--teacher_cache_dir", str(tmp_path / "cache")),
        *("--num_train_epochs", "1", "--output_dir", str(out), "--use_cpu", "--report_to", "none"),
    )
    result = goemox_here("distill", *arguments)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Distilled from 1 teacher(s): {model} (scored now)" in result.stdout
    assert "Soft targets on 64 labelled and 2 unlabelled texts (alpha 0.5, temperature 1)" in result.stdout
    assert f"Teacher {model}: scoring 66 texts (max_length 32)" in caplog.text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["distillation"]["rows"] == {"labelled": 64, "unlabelled": 2}
    result = goemox_here("distill", *arguments[:-7], "--num_train_epochs", "1", "--output_dir", str(tmp_path / "b"))
    assert result.returncode == 0 and f"{model} (cached logits)" in result.stdout, result.stderr[-3000:]


def parsed_config(name: str) -> dict:
    """The options `goemox train --config configs/NAME` runs with, by dataclass field name."""
    parsed = parse_command(COMMANDS["train"], ["--config", str(CONFIGS / name)])
    return {key: value for options in parsed for key, value in dataclasses.asdict(options).items()}


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_the_shipped_training_configs_parse(name):
    assert parsed_config(name)["output_dir"]


def test_a_diverging_training_ends_in_one_last_line(goemox_cli, tmp_path, tiny_encoder_factory):
    encoder = str(tiny_encoder_factory("bert"))
    args = ["--model_name_or_path", encoder, "--dataset", "demo", "--max_length", "32", "--max_steps", "2"]
    result = goemox_cli("train", *args, "--learning_rate", "1e30", "--output_dir", str(tmp_path / "run"), "--use_cpu")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # Nothing after the message: an evaluation bar left open would clear its line and move the cursor over it at exit.
    assert result.stderr.endswith(
        "goemox: error: the model's scores are NaN or infinite, so its training diverged; try a lower --learning_rate\n"
    ), result.stderr[-500:]
