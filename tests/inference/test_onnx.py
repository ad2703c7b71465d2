"""The torch-free pieces of the ONNX runtime: the tokenizer file run by `tokenizers`, the JSON config view.

The graph itself, and the whole path in a process where torch cannot be imported, are tested with real exports in
tests/exporters/test_onnx.py."""

import json
import shutil

import numpy as np
import pytest
from transformers import AutoTokenizer

from goemox.errors import GoEmoXUsageError
from goemox.inference.onnx import StoredConfig, TokenizerFile

TRICKY = [
    "ok",
    "Wow!!! That's... unbelievable?! 😂😂",
    "I can't believe it — naïve café déjà vu",
    "unbelievably overthinking antidisestablishmentarianism",
    "",
    "   spaces   everywhere   ",
    "emoji only 🎉🔥💯",
    " ".join(["so glad and thankful"] * 40),
]


def transformers_windows(tokenizer, texts, max_length, stride=0):
    return tokenizer(texts, truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_token_ids_and_padding_match_the_transformers_tokenizer(tiny_tokenizer, tmp_path, padding_side):
    tiny_tokenizer.save_pretrained(tmp_path)
    settings = json.loads((tmp_path / "tokenizer_config.json").read_text())
    settings["padding_side"] = padding_side
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    reference = AutoTokenizer.from_pretrained(tmp_path)
    assert reference.padding_side == padding_side
    light = TokenizerFile.from_folder(tmp_path)
    encoded = light.encode(TRICKY, max_length=24)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    rows = len(encoded["input_ids"])
    batch = light.pad([{name: encoded[name][i] for name in names} for i in range(rows)], names)
    expected = reference.pad(transformers_windows(reference, TRICKY, 24), return_tensors="np")
    assert set(expected) == {*names, "overflow_to_sample_mapping"}
    for name in names:
        np.testing.assert_array_equal(batch[name], expected[name], err_msg=name)
    assert batch["input_ids"].dtype == np.int64
    assert max(len(ids) for ids in encoded["input_ids"]) == 24  # the long text is cut into windows
    assert encoded["overflow_to_sample_mapping"] == list(expected["overflow_to_sample_mapping"])
    assert rows > len(TRICKY)


@pytest.mark.parametrize("stride", [0, 8])
def test_the_real_minilm_tokenizer_gives_the_same_windows(shared_minilm, stride):
    reference = AutoTokenizer.from_pretrained(shared_minilm)
    light = TokenizerFile.from_folder(shared_minilm)
    assert light.special_tokens() == reference.num_special_tokens_to_add(pair=False) == 2
    long_texts = [*TRICKY, " ".join(TRICKY * 12)]
    for max_length in (16, 128):
        expected = transformers_windows(reference, long_texts, max_length, stride)
        got = light.encode(long_texts, max_length=max_length, stride=stride)
        assert got == {name: expected[name] for name in got}
        assert len(got["input_ids"]) > len(long_texts)


def test_a_folder_without_a_usable_tokenizer_is_a_clear_error(tiny_tokenizer, tmp_path):
    tiny_tokenizer.save_pretrained(tmp_path / "ok")
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "ok", broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(GoEmoXUsageError, match="tokenizer.json: missing"):
        TokenizerFile.from_folder(broken)
    shutil.copy(tmp_path / "ok" / "tokenizer.json", broken / "tokenizer.json")
    settings = json.loads((broken / "tokenizer_config.json").read_text())
    settings["pad_token"] = "<not-in-vocab>"
    (broken / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(GoEmoXUsageError, match="tokenizer_config.json: no pad_token"):
        TokenizerFile.from_folder(broken)
    (broken / "tokenizer_config.json").write_text("[1, 2]")
    with pytest.raises(GoEmoXUsageError, match="tokenizer_config.json: expected a JSON object"):
        TokenizerFile.from_folder(broken)


def test_stored_config_reads_labels_and_refuses_what_is_not_a_classifier(tmp_path):
    config = StoredConfig({"id2label": {"1": "anger", "0": "joy"}, "thresholds": [0.3, 0.6]})
    assert [config.id2label[i] for i in range(config.num_labels)] == ["joy", "anger"]
    assert config.thresholds == [0.3, 0.6]
    with pytest.raises(GoEmoXUsageError, match="no id2label"):
        StoredConfig({"model_type": "bert"})
    with pytest.raises(GoEmoXUsageError, match="id2label keys must be label indices"):
        StoredConfig({"id2label": {"first": "joy"}})
    with pytest.raises(GoEmoXUsageError, match=r"number the labels 0\.\.1"):
        StoredConfig({"id2label": {"0": "joy", "2": "anger"}})
    (tmp_path / "config.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match="config.json: not valid JSON"):
        StoredConfig.from_folder(tmp_path)
