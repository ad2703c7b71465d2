import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, pipeline
from transformers.modeling_outputs import SequenceClassifierOutput

import goemox  # noqa: F401  (registers the Auto classes)
from goemox import GoEmoXForSequenceClassification
from goemox.modeling_goemox import pool_hidden_states

LABELS = ["joy", "anger", "fear", "love"]
TEXTS = ["thank you so much, this is wonderful", "why would anyone do that", "hi"]


@pytest.fixture(params=["distilbert", "bert", "roberta"])
def encoder_dir(request, tiny_encoder_factory):
    return tiny_encoder_factory(request.param)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_forward_save_reload_and_pipeline(encoder_dir, pooling, tmp_path):
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), LABELS, pooling=pooling).eval()
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    labels = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0]])
    out = model(**batch, labels=labels)
    assert isinstance(out, SequenceClassifierOutput)
    assert out.logits.shape == (3, len(LABELS))
    assert out.loss is not None and out.loss.ndim == 0

    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, GoEmoXForSequenceClassification)
    with torch.no_grad():
        expected = torch.sigmoid(model(**batch).logits)
        assert torch.allclose(torch.sigmoid(reloaded(**batch).logits), expected, atol=1e-6)

    classifier = pipeline("text-classification", model=str(tmp_path), top_k=None)
    results = classifier(TEXTS)
    for row, probs in zip(results, expected):
        scores = {r["label"]: r["score"] for r in row}
        assert set(scores) == set(LABELS)
        for i, name in enumerate(LABELS):
            assert scores[name] == pytest.approx(probs[i].item(), abs=1e-5)  # sigmoid, not softmax
    assert sum(r["score"] for r in results[0]) != pytest.approx(1.0, abs=1e-3)


def test_from_encoder_keeps_pretrained_weights_and_padding_does_not_change_outputs(encoder_dir):
    reference = AutoModel.from_pretrained(encoder_dir)
    model = GoEmoXForSequenceClassification.from_encoder(str(encoder_dir), LABELS, pooling="mean").eval()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[name], tensor), name
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    with torch.no_grad():
        padded = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits
        for i, text in enumerate(TEXTS):
            alone = model(**tokenizer([text], return_tensors="pt")).logits
            assert torch.allclose(padded[i], alone[0], atol=1e-5), text


def test_head_shape(tiny_encoder_factory):
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    head = model.classifier
    assert (head.dense.in_features, head.dense.out_features) == (32, 32)
    assert (head.out_proj.in_features, head.out_proj.out_features) == (32, len(LABELS))
    assert head.dropout.p == pytest.approx(0.1)
    assert model.config.label2id == {name: i for i, name in enumerate(LABELS)}


def test_pooling_modes():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool_hidden_states(states, mask, "cls"), torch.tensor([[1.0, 2.0]]))
    assert torch.equal(pool_hidden_states(states, mask, "mean"), torch.tensor([[2.0, 3.0]]))
    assert torch.allclose(pool_hidden_states(states, None, "mean"), states.mean(dim=1))
