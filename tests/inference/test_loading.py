"""Loading a saved model: every way a folder can be wrong is one line naming it."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from goemox import GoEmoXForSequenceClassification
from goemox.cli.options import SavedModelArguments
from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.loading import load_classifier
from goemox.inference.onnx import OnnxEmotionClassifier
from goemox.labels import get_label_scheme


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def copy_of(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def rewrite_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, **changes}), encoding="utf-8")


def test_damaged_weights_are_one_line(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(GoEmoXUsageError, match=r"model\.safetensors cannot be read .*damaged or incomplete") as err:
        load_classifier(str(folder))
    assert "\n" not in str(err.value)


def test_thresholds_that_do_not_match_the_labels_are_one_line(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    rewrite_config(folder, thresholds=[0.5, 0.5, 0.5])
    with pytest.raises(GoEmoXUsageError, match=r"model: .*thresholds has 3 values but the model has 10 labels"):
        load_classifier(str(folder))


def test_thresholds_of_a_native_model_that_do_not_match_the_labels(tmp_path, tiny_tokenizer):
    config = BertConfig(
        vocab_size=tiny_tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=2, problem_type="multi_label_classification",
    )  # fmt: skip
    config.thresholds = [0.5]
    BertForSequenceClassification(config).save_pretrained(tmp_path / "native")
    tiny_tokenizer.save_pretrained(tmp_path / "native")
    with pytest.raises(GoEmoXUsageError, match=r"native: .*thresholds has 1 values but the model has 2 labels"):
        EmotionClassifier.from_pretrained(str(tmp_path / "native"), device="cpu")


@pytest.mark.parametrize("name", ["./runs/x", "runs/x", "{tmp}/abs/x", "runs/deeper/x", "~/no-such-goemox-run"])
def test_a_missing_local_folder_is_no_such_folder(tmp_path, monkeypatch, name):
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    model = name.format(tmp=tmp_path)
    with pytest.raises(GoEmoXUsageError, match=rf"^{model}: no such folder$"):
        load_classifier(model)


def test_a_hub_id_that_cannot_be_fetched_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GoEmoXUsageError, match="could not load the model 'nobody/no-such-model'") as err:
        load_classifier("nobody/no-such-model")
    assert "\n" not in str(err.value)


def test_pickle_weights_are_refused_unless_allowed(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    model = GoEmoXForSequenceClassification.from_pretrained(str(saved))
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(GoEmoXUsageError, match=r"only pickle weights \(pytorch_model\.bin\).*--allow_pickle_weights"):
        SavedModelArguments(model=str(folder)).load()
    classifier = SavedModelArguments(model=str(folder), allow_pickle_weights=True).load(device="cpu")
    assert classifier.label_names == list(get_label_scheme("ten").labels)
    assert classifier.model.device.type == "cpu"


def test_onnx_folder_missing_or_with_bad_thresholds(saved, tmp_path):
    with pytest.raises(GoEmoXUsageError, match=r"nothing: no such folder"):
        OnnxEmotionClassifier.from_pretrained(str(tmp_path / "nothing"))
    folder = copy_of(saved, tmp_path)
    rewrite_config(folder, thresholds=[0.5])
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    (folder / "onnx_export.json").write_text(json.dumps({"files": {"fp32": "model.onnx"}}), encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=r"thresholds has 1 values but the model has 10 labels"):
        load_classifier(str(folder), backend="onnx")
