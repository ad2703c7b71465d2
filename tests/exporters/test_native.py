import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from goemox import GoEmoXForSequenceClassification
from goemox.exporters.native import native_export_blocker, to_native_model
from goemox.inference.classifier import EmotionClassifier

LABELS = ["joy", "anger", "fear", "love"]
TEXTS = ["a very long sentence about being happy and glad and thankful for all of it", "why", "i am scared", "ok"]


def goemox_model(encoder_dir, pooling="cls") -> GoEmoXForSequenceClassification:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), LABELS, pooling=pooling).eval()
    with torch.no_grad():  # a head far from its initialisation, so a wrong mapping cannot pass by accident
        for layer in (model.classifier.dense, model.classifier.out_proj):
            layer.weight.normal_(0, 0.5)
            layer.bias.normal_(0, 0.5)
    model.config.thresholds = [0.2, 0.4, 0.6, 0.8]
    return model


@pytest.mark.parametrize(
    ("kind", "native_class"),
    [("bert", "BertForSequenceClassification"), ("roberta", "RobertaForSequenceClassification")],
)
def test_native_checkpoint_gives_the_goemox_probabilities(kind, native_class, tmp_path, tiny_encoder_factory):
    encoder_dir = tiny_encoder_factory(kind)
    model = goemox_model(encoder_dir)
    native = to_native_model(model)
    native.save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    tokenizer.save_pretrained(tmp_path)

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded).__name__ == native_class
    assert loaded.config.model_type == kind
    assert loaded.config.problem_type == "multi_label_classification"
    assert loaded.config.thresholds == [0.2, 0.4, 0.6, 0.8]
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.sigmoid(model(**batch).logits)
        got = torch.sigmoid(loaded(**batch).logits)
    assert (expected - got).abs().max().item() <= 1e-5
    assert expected.std() > 0.05  # scores differ across texts and labels

    scores = pipeline("text-classification", model=str(tmp_path), top_k=None)(TEXTS)
    for row, probs in zip(scores, expected):
        assert {s["label"]: s["score"] for s in row} == pytest.approx(dict(zip(LABELS, probs.tolist())), abs=1e-5)
    assert EmotionClassifier.from_pretrained(str(tmp_path), device="cpu").thresholds == [0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize(
    ("kind", "pooling", "reason"),
    [("distilbert", "cls", "'distilbert' encoder's native classification head differs"), ("bert", "mean", "'mean'")],
)
def test_models_without_an_identical_native_head_are_refused(kind, pooling, reason, tiny_encoder_factory):
    model = goemox_model(tiny_encoder_factory(kind), pooling=pooling)
    assert reason in native_export_blocker(model.config)
    with pytest.raises(ValueError, match="no native export"):
        to_native_model(model)
