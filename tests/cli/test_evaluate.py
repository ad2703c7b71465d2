"""`goemox evaluate`: what it says about the thresholds it scores at, and the options it refuses."""

import json
from pathlib import Path

import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.cli import main
from goemox.labels import get_label_scheme


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> dict[str, Path]:
    """Two saved untrained ten-label models: one without thresholds, one storing tuned ones."""
    folders = {}
    for kind, thresholds in (("none", None), ("stored", [0.4] * 10)):
        folder = tmp_path_factory.mktemp(f"evaluate-{kind}")
        torch.manual_seed(0)
        model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
        model.config.thresholds = thresholds
        model.save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)
        folders[kind] = folder
    return folders


@pytest.mark.parametrize(
    ("kind", "line", "recorded"),
    [("none", "test: 40 rows, threshold 0.5 (the model stores none)", "0.5 (none stored)"),
     ("stored", "test: 40 rows, stored thresholds", "stored")],
)  # fmt: skip
def test_the_thresholds_are_named_as_they_are(models, tmp_path, capsys, kind, line, recorded):
    output = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(models[kind]), "--dataset", "demo", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == line
    assert ("stored thresholds" in out) == (kind == "stored")
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["thresholds"] == recorded
    expected = 0.4 if kind == "stored" else 0.5
    assert {row["threshold"] for row in result["stored_thresholds"]["per_class"].values()} == {expected}


@pytest.mark.parametrize("option", ["--batch_size", "--max_length"])
def test_sizes_below_one_are_refused(tmp_path, capsys, option):
    assert main(["evaluate", "--model", str(tmp_path), "--dataset", "demo", option, "0"]) == 2
    assert f"goemox: error: {option} must be at least 1, got 0" in capsys.readouterr().err
