"""An exported folder names no local path, and its tokenizer cuts texts at the training length."""

import json

import pytest

from goemox.errors import GoEmoXUsageError
from goemox.exporters.portable import (
    export_tokenizer,
    is_hub_id,
    local_name,
    scrub_local_paths,
    training_max_length,
)


def test_hub_ids_stay_and_local_paths_lose_their_directories(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "bert").mkdir(parents=True)
    for hub_id in ("distilbert/distilbert-base-uncased", "bert-base-uncased", "google-research-datasets/go_emotions"):
        assert is_hub_id(hub_id) and local_name(hub_id) == hub_id
    for path in (str(tmp_path / "runs" / "bert"), "runs/bert", "./runs/bert", "../x/bert", "~/bert"):
        assert not is_hub_id(path)
        assert local_name(path) == "bert (local folder)"
    assert not is_hub_id("bert (local folder)")  # a scrubbed name is never read back as a Hub id
    assert not is_hub_id("") and not is_hub_id(None)


def test_scrub_rewrites_only_the_json_values_that_name_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "goemotions").mkdir(parents=True)
    folder = tmp_path / "out"
    (folder / "onnx").mkdir(parents=True)
    config = {
        "_name_or_path": str(tmp_path / "run"),
        "encoder": {"_name_or_path": "/home/someone/models/all-MiniLM-L6-v2", "model_type": "bert"},
        "id2label": {"0": "joy"},
    }
    run_config = {
        "model": {"model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"},
        "data": {"dataset": "data/goemotions", "train_file": None, "max_length": 128, "scheme": "ekman"},
        "training": {"output_dir": "../runs/x", "lr_scheduler_type": "linear", "report_to": ["none"]},
    }
    untouched = {"labels": ["joy", "and/or"], "url": "https://huggingface.co/me/x", "note": "see /predict"}
    for name, content in (("config.json", config), ("run_config.json", run_config), ("onnx/other.json", untouched)):
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    (folder / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    before_untouched = (folder / "onnx" / "other.json").read_bytes()

    assert scrub_local_paths(folder) == ["config.json", "run_config.json"]
    config = json.loads((folder / "config.json").read_text())
    assert config["_name_or_path"] == "run (local folder)"
    assert config["encoder"] == {"_name_or_path": "all-MiniLM-L6-v2 (local folder)", "model_type": "bert"}
    assert config["id2label"] == {"0": "joy"}
    run_config = json.loads((folder / "run_config.json").read_text())
    assert run_config["model"]["model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert run_config["data"] == {
        "dataset": "goemotions (local folder)",
        "train_file": None,
        "max_length": 128,
        "scheme": "ekman",
    }
    assert run_config["training"] == {
        "output_dir": "x (local folder)",
        "lr_scheduler_type": "linear",
        "report_to": ["none"],
    }
    assert (folder / "onnx" / "other.json").read_bytes() == before_untouched
    assert scrub_local_paths(folder) == []  # nothing left to replace

    (folder / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=r"broken\.json: not valid JSON"):
        scrub_local_paths(folder)


def test_exported_tokenizer_cuts_at_the_training_length(tmp_path, trained_run_factory):
    run_dir = trained_run_factory("bert")
    assert (
        training_max_length(run_dir)
        == 48
        == json.loads((run_dir / "run_config.json").read_text())["data"]["max_length"]
    )
    tokenizer = export_tokenizer(run_dir)
    assert tokenizer.model_max_length == 48
    long_text = " ".join(["thank you so much, this made my day!"] * 20)
    assert len(tokenizer(long_text, truncation=True)["input_ids"]) == 48
    tokenizer.save_pretrained(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "tokenizer_config.json").read_text())["model_max_length"] == 48


def test_training_length_is_absent_without_a_run_and_refused_when_broken(tmp_path):
    assert training_max_length(tmp_path) is None
    for content, expected in (
        ("{", "not valid JSON"),
        ('{"data": {}}', "expected JSON with data.max_length"),
        ('{"data": {"max_length": "128"}}', "must be a positive integer, got '128'"),
        ('{"data": {"max_length": 0}}', "must be a positive integer, got 0"),
    ):
        (tmp_path / "run_config.json").write_text(content, encoding="utf-8")
        with pytest.raises(GoEmoXUsageError, match=rf"run_config\.json: .*{expected}"):
            training_max_length(tmp_path)
