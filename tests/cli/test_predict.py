"""`goemox predict`: what it refuses before any work, how it names its columns, and what an interrupt leaves."""

import csv
import json
from pathlib import Path

import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.cli import main
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import get_label_scheme


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> Path:
    """A saved, untrained goemox model over the ten-label scheme."""
    folder = tmp_path_factory.mktemp("predict-model")
    torch.manual_seed(0)
    GoEmoXForSequenceClassification.from_encoder(
        str(tiny_encoder_factory("bert")), get_label_scheme("ten")
    ).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if the command gets as far as loading the model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("goemox.inference.loading.load_classifier", refuse)


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        ("data.jsonl", [], "--output {tmp}/data.jsonl is the input {tmp}/data.jsonl"),
        ("data.jsonl", ["--overwrite"], "--output {tmp}/data.jsonl is the input {tmp}/data.jsonl"),
        ("folder", [], "--output {tmp}/folder is a folder; give a file name"),
        ("old.jsonl", [], "--output {tmp}/old.jsonl already exists; pass --overwrite"),
    ],
)
def test_outputs_are_checked_before_the_model_is_loaded(tmp_path, capsys, no_loading, output, extra, message):
    (tmp_path / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.jsonl").write_text("mine\n", encoding="utf-8")
    args = ["--model", str(tmp_path / "model"), "--input", str(tmp_path / "data.jsonl")]
    assert main(["predict", *args, "--output", str(tmp_path / output), *extra]) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert (tmp_path / "data.jsonl").read_text(encoding="utf-8") == '{"text": "hello"}\n'
    assert (tmp_path / "old.jsonl").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("option", ["--batch_size", "--max_length"])
def test_sizes_below_one_are_refused(tmp_path, capsys, no_loading, option):
    assert main(["predict", "--model", str(tmp_path), option, "0"]) == 2
    assert f"goemox: error: {option} must be at least 1, got 0" in capsys.readouterr().err


def test_an_input_column_a_prediction_would_replace_is_refused_unless_prefixed(model, tmp_path, capsys):
    (tmp_path / "gold.csv").write_text("text,labels\nI love it,joy\nso sad,sadness\n", encoding="utf-8")
    args = ["predict", "--model", str(model), "--input", str(tmp_path / "gold.csv")]
    assert main([*args, "--output", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "input column 'labels' would be replaced by a prediction column; pass --prediction_prefix pred_" in err
    assert "Traceback" not in err and not (tmp_path / "out.csv").exists()
    assert main([*args, "--output", str(tmp_path / "out.csv"), "--prediction_prefix", "pred_"]) == 0
    table = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [row["labels"] for row in table] == ["joy", "sadness"]
    assert {"pred_labels", "pred_score_joy"} <= set(table[0])


def test_interrupt_during_prediction_leaves_no_partial_output(model, tmp_path, capsys, monkeypatch):
    def interrupted(self, texts, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(EmotionClassifier, "predict", interrupted)
    (tmp_path / "in.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "kept.jsonl").write_text("earlier predictions\n", encoding="utf-8")
    args = ["predict", "--model", str(model), "--input", str(tmp_path / "in.txt")]
    assert main([*args, "--output", str(tmp_path / "new.jsonl")]) == 130
    assert main([*args, "--output", str(tmp_path / "kept.jsonl"), "--overwrite"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.txt", "kept.jsonl"]
    assert (tmp_path / "kept.jsonl").read_text(encoding="utf-8") == "earlier predictions\n"


def test_txt_lines_end_at_newline_and_blank_lines_are_noted(goemox_cli, model, tmp_path):
    (tmp_path / "in.txt").write_text("one\u2028a\r\n\ntwo\x0cb\n  \nthree\x85c\n", encoding="utf-8", newline="")
    result = goemox_cli("predict", "--model", str(model), "--input", str(tmp_path / "in.txt"))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.split("\n") if line]
    assert [row["text"] for row in rows] == ["one\u2028a", "two\x0cb", "three\x85c"]
    assert "skipped 2 blank line(s)" in result.stderr
