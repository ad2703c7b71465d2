import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import BLOCK_GOEMOX
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DistilBertTokenizer, ElectraConfig

from goemox import GoEmoXConfig, GoEmoXForSequenceClassification
from goemox.exporters.native import native_export_blocker, published_architecture, to_native_model
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.predictor import LongText

LABELS = ["joy", "anger", "fear", "love"]
TEXTS = ["a very long sentence about being happy and glad and thankful for all of it", "why", "i am scared", "ok"]

LOAD_WITHOUT_GOEMOX = (
    BLOCK_GOEMOX
    + r"""
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

folder, texts = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
tokenizer = AutoTokenizer.from_pretrained(folder)
batch = tokenizer(texts, padding=True, return_tensors="pt")
with torch.no_grad():
    probs = torch.sigmoid(model(**batch).logits).tolist()
    batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
    probs_with_zero_types = torch.sigmoid(model(**batch).logits).tolist()
classifier = pipeline("text-classification", model=folder, top_k=None)
print(json.dumps({
    "class": type(model).__name__,
    "model_type": model.config.model_type,
    "thresholds": model.config.thresholds,
    "tokenizer": type(tokenizer).__name__,
    "input_ids": batch["input_ids"].tolist(),
    "tokenizer_emits_token_types": "token_type_ids" in tokenizer(texts[0]),
    "auto_model": probs,
    "auto_model_zero_token_types": probs_with_zero_types,
    "pipeline": classifier(texts),
    "pipeline_padded": classifier(texts, batch_size=len(texts)),
    "goemox_imported": any(name.split(".")[0] == "goemox" for name in sys.modules),
}))
"""
)


def goemox_model(encoder_dir, pooling="cls") -> GoEmoXForSequenceClassification:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), LABELS, pooling=pooling).eval()
    with torch.no_grad():  # weights far from their initialisation, so a wrong mapping cannot pass by accident
        for layer in (model.classifier.dense, model.classifier.out_proj):
            layer.weight.normal_(0, 0.5)
            layer.bias.normal_(0, 0.5)
        for module in model.encoder.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
    model.config.thresholds = [0.2, 0.4, 0.6, 0.8]
    model.config.update(LongText("window", 16).stored_settings())
    return model


def encoder_with_its_own_tokenizer(kind, tiny_encoder_factory, tmp_path):
    """The tiny encoder folder; a DistilBERT one gets a `DistilBertTokenizer` (no token_type_ids), as
    distilbert-base-uncased has, on the same vocabulary."""
    encoder_dir = tiny_encoder_factory(kind)
    if kind != "distilbert":
        return encoder_dir
    folder = tmp_path / "distilbert-encoder"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((encoder_dir / name).read_bytes())
    DistilBertTokenizer.from_pretrained(encoder_dir).save_pretrained(folder)
    return folder


def load_without_goemox(folder, texts) -> dict:
    """What `AutoModelForSequenceClassification` and `pipeline()` give in a process where goemox cannot be
    imported, with no `trust_remote_code`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_GOEMOX, str(folder), json.dumps(texts)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def pipeline_max_difference(rows, expected: torch.Tensor) -> float:
    return max(
        abs(score["score"] - probs[LABELS.index(score["label"])].item())
        for row, probs in zip(rows, expected)
        for score in row
    )


@pytest.mark.parametrize(
    ("kind", "model_type", "native_class"),
    [
        ("bert", "bert", "BertForSequenceClassification"),
        ("roberta", "roberta", "RobertaForSequenceClassification"),
        ("distilbert", "bert", "BertForSequenceClassification"),
    ],
)
def test_native_checkpoint_gives_the_goemox_probabilities(
    kind, model_type, native_class, tmp_path, tiny_encoder_factory
):
    encoder_dir = encoder_with_its_own_tokenizer(kind, tiny_encoder_factory, tmp_path)
    model = goemox_model(encoder_dir)
    assert published_architecture(model.config) == (native_class, None)
    out = tmp_path / "native"
    to_native_model(model).save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    tokenizer.save_pretrained(out)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # a padded batch
    with torch.no_grad():
        expected = torch.sigmoid(model(**batch).logits)
    assert expected.std() > 0.05  # scores differ across texts and labels

    loaded = load_without_goemox(out, TEXTS)
    assert not loaded["goemox_imported"]
    assert (loaded["class"], loaded["model_type"]) == (native_class, model_type)
    assert loaded["thresholds"] == [0.2, 0.4, 0.6, 0.8]
    assert loaded["input_ids"] == batch["input_ids"].tolist()
    assert loaded["tokenizer"] == type(tokenizer).__name__  # DistilBertTokenizer stays one (see hub/folder.py)
    assert loaded["tokenizer_emits_token_types"] == (kind != "distilbert")
    for key in ("auto_model", "auto_model_zero_token_types"):
        assert (torch.tensor(loaded[key]) - expected).abs().max().item() <= 1e-5, key
    for key in ("pipeline", "pipeline_padded"):
        assert pipeline_max_difference(loaded[key], expected) <= 1e-5, key
    config = AutoModelForSequenceClassification.from_pretrained(out).config
    assert config.problem_type == "multi_label_classification"
    classifier = EmotionClassifier.from_pretrained(str(out), device="cpu")
    assert classifier.thresholds == [0.2, 0.4, 0.6, 0.8]
    assert classifier.long_text == LongText("window", 16, "max")  # the stored long-text default travels too


def test_distilbert_export_is_a_plain_bert_config_that_ignores_segments(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    model = goemox_model(tiny_encoder_factory("distilbert"))
    native = to_native_model(model)
    encoder = model.config.encoder
    config = native.config
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("bert", encoder.dim, encoder.n_layers)
    assert (config.num_attention_heads, config.intermediate_size) == (encoder.n_heads, encoder.hidden_dim)
    assert (config.hidden_act, config.layer_norm_eps, config.max_position_embeddings) == ("gelu", 1e-12, 128)
    assert (config.hidden_dropout_prob, config.attention_probs_dropout_prob) == (
        encoder.dropout,
        encoder.attention_dropout,
    )
    assert config.pad_token_id == encoder.pad_token_id and config.vocab_size == encoder.vocab_size
    assert not hasattr(config, "sinusoidal_pos_embds") and not hasattr(config, "n_layers")
    assert torch.count_nonzero(native.bert.embeddings.token_type_embeddings.weight) == 0
    # BertTokenizerFast gives sentence pairs segment id 1; DistilBERT ignores segments, so does the export
    pairs = tiny_tokenizer(TEXTS, TEXTS[::-1], padding=True, return_tensors="pt")
    assert pairs["token_type_ids"].max() == 1
    with torch.no_grad():
        expected = model(**pairs).logits
        assert (native(**pairs).logits - expected).abs().max().item() <= 1e-5
        del pairs["token_type_ids"]
        assert (native(**pairs).logits - expected).abs().max().item() <= 1e-5


def test_sinusoidal_distilbert_positions_move_over_as_weights(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    encoder_dir = tiny_encoder_factory("distilbert")
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), LABELS, sinusoidal_pos_embds=True).eval()
    assert model.config.encoder.sinusoidal_pos_embds
    native = to_native_model(model)
    positions = model.encoder.embeddings.position_embeddings.weight
    assert torch.equal(native.bert.embeddings.position_embeddings.weight, positions)
    batch = tiny_tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert (native(**batch).logits - model(**batch).logits).abs().max().item() <= 1e-5


@pytest.mark.parametrize(("kind", "pooling"), [("distilbert", "mean"), ("bert", "mean")])
def test_mean_pooling_is_refused(kind, pooling, tiny_encoder_factory):
    model = goemox_model(tiny_encoder_factory(kind), pooling=pooling)
    assert "'mean'" in native_export_blocker(model.config)
    assert published_architecture(model.config)[0] == "GoEmoXForSequenceClassification"
    with pytest.raises(ValueError, match="no native export"):
        to_native_model(model)


def test_encoders_without_an_identical_native_head_are_refused():
    encoder = ElectraConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    model = GoEmoXForSequenceClassification(GoEmoXConfig(encoder=encoder, id2label=dict(enumerate(LABELS))))
    reason = native_export_blocker(model.config)
    assert "'electra' encoder's native classification head differs" in reason
    assert "bert, distilbert, roberta, xlm-roberta" in reason
    with pytest.raises(ValueError, match="no native export"):
        to_native_model(model)


def test_the_folded_calibration_and_the_ood_cutoff_travel_to_the_native_config(tiny_encoder_factory):
    """The OOD score is read from the logits before the folded calibration: a native config without its `calibration`
    entry would compare calibrated logits with a cutoff set on uncalibrated ones."""
    model = goemox_model(tiny_encoder_factory("bert"))
    model.config.calibration = {"method": "platt", "slope": [2.0] * 4, "intercept": [0.5] * 4}
    model.config.ood_cutoff = {"score": "negative_energy", "cutoff": 1.5}
    native = to_native_model(model).config
    assert native.calibration == model.config.calibration
    assert native.ood_cutoff == model.config.ood_cutoff
