import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    RobertaForSequenceClassification,
    pipeline,
)

from goemox import GoEmoXForSequenceClassification
from goemox.calibration.logit_map import LogitMap, fold_logit_map
from goemox.calibration.scaling import output_layer
from goemox.errors import GoEmoXUsageError
from goemox.scores import sigmoid

LABELS = ["joy", "anger", "fear"]
TEXTS = ["i am so happy today", "why would you do that", "i am scared of it", "ok"]


def test_maps_need_positive_slopes_and_one_value_per_label():
    with pytest.raises(ValueError, match="finite and positive"):
        LogitMap("platt", (1.0, -0.5), (0.0, 0.0))
    with pytest.raises(ValueError, match="one value per label"):
        LogitMap("platt", (1.0, 0.5), (0.0,))
    with pytest.raises(ValueError, match="one temperature or 3"):
        LogitMap.from_temperature([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="finite and positive"):
        LogitMap.from_temperature([1.0, 0.0, 2.0], 3)


def test_carried_grid_reproduces_every_old_decision_rule():
    z = np.random.default_rng(0).normal(-1.0, 4.0, size=(500, 2))
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    for logit_map in (LogitMap.from_temperature([1 / 3, 2.0], 2), LogitMap("platt", (0.4, 1.7), (-2.0, 0.6))):
        mapped = logit_map.apply(z)
        for column in range(2):
            carried = logit_map.carried_grid(grid, column)
            old, new = sigmoid(z[:, column]), sigmoid(mapped[:, column])
            for g, rule in zip(grid, carried):
                assert np.array_equal(old >= g, new >= rule)


def test_composition_applies_one_map_after_the_other():
    z = np.random.default_rng(0).normal(-1.0, 4.0, size=(50, 2))
    first, second = LogitMap.from_temperature(2.0, 2), LogitMap("platt", (0.5, 3.0), (1.0, -1.0))
    np.testing.assert_allclose(first.then(second).apply(z), second.apply(first.apply(z)))
    assert LogitMap.from_temperature(1.5, 2).then(LogitMap.from_temperature([2.0, 1.0], 2)).temperature == (
        pytest.approx([3.0, 1.5])
    )


def goemox_model(encoder_folder) -> GoEmoXForSequenceClassification:
    torch.manual_seed(0)
    return GoEmoXForSequenceClassification.from_encoder(str(encoder_folder), LABELS).eval()


NATIVE_CLASSES = {
    "bert": BertForSequenceClassification,
    "roberta": RobertaForSequenceClassification,
    "distilbert": DistilBertForSequenceClassification,
}


def native_model(encoder_folder, kind: str):
    """A native multi-label sequence classifier on a tiny encoder of that family."""
    torch.manual_seed(0)
    return (
        NATIVE_CLASSES[kind]
        .from_pretrained(
            encoder_folder,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={name: i for i, name in enumerate(LABELS)},
            problem_type="multi_label_classification",
        )
        .eval()
    )


def logits_of(model, tokenizer) -> torch.Tensor:
    with torch.no_grad():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


@pytest.fixture(params=["goemox", "bert", "roberta", "distilbert"])
def any_model(request, tiny_encoder_factory):
    if request.param == "goemox":
        return goemox_model(tiny_encoder_factory("bert"))
    return native_model(tiny_encoder_factory(request.param), request.param)


PLATT = LogitMap("platt", (0.5, 2.0, 1.25), (-1.0, 0.3, 0.0))


@pytest.mark.parametrize(
    "logit_map", [LogitMap.from_temperature(1.7, 3), LogitMap.from_temperature([0.5, 2.0, 3.0], 3), PLATT]
)
def test_folding_maps_the_logits_exactly(any_model, tiny_tokenizer, logit_map):
    original = logits_of(any_model, tiny_tokenizer)
    stored = fold_logit_map(any_model, logit_map)
    assert stored == logit_map
    assert any_model.config.calibration == logit_map.to_dict()
    assert getattr(any_model.config, "calibration_temperature", None) == logit_map.temperature
    expected = torch.from_numpy(logit_map.apply(original.numpy())).float()
    torch.testing.assert_close(logits_of(any_model, tiny_tokenizer), expected, atol=1e-5, rtol=1e-5)


def test_folding_twice_composes(tiny_encoder_factory, tiny_tokenizer):
    model = goemox_model(tiny_encoder_factory("bert"))
    original = logits_of(model, tiny_tokenizer)
    fold_logit_map(model, LogitMap.from_temperature(2.0, 3))
    assert fold_logit_map(model, LogitMap.from_temperature([1.0, 0.5, 4.0], 3)).temperature == pytest.approx(
        [2.0, 1.0, 8.0]
    )
    assert model.config.calibration_temperature == pytest.approx([2.0, 1.0, 8.0])
    total = fold_logit_map(model, PLATT)
    assert total.method == "temperature+per_label_temperature+platt"
    assert getattr(model.config, "calibration_temperature", None) is None  # no longer a temperature scaling
    expected = PLATT.apply(original.numpy() / np.array([2.0, 1.0, 8.0]))
    torch.testing.assert_close(
        logits_of(model, tiny_tokenizer), torch.from_numpy(expected).float(), atol=1e-5, rtol=1e-5
    )


def test_an_older_model_calibration_temperature_is_composed(tiny_encoder_factory):
    model = goemox_model(tiny_encoder_factory("bert"))
    model.config.calibration_temperature = 2.0  # as goemox calibrate wrote it before the calibration key
    total = fold_logit_map(model, LogitMap.from_temperature(1.5, 3))
    assert total.temperature == pytest.approx(3.0)


@pytest.mark.parametrize("kind", ["goemox", "bert"])
def test_saved_calibrated_model_gives_calibrated_scores_through_pipeline(
    kind, tmp_path, tiny_encoder_factory, tiny_tokenizer
):
    folder = tiny_encoder_factory("bert")
    model = goemox_model(folder) if kind == "goemox" else native_model(folder, kind)
    original = logits_of(model, tiny_tokenizer)
    fold_logit_map(model, PLATT)
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert LogitMap.stored(reloaded.config) == PLATT
    scores = pipeline("text-classification", model=str(tmp_path), top_k=None)(TEXTS)
    expected = sigmoid(PLATT.apply(original.numpy()))
    for row, row_expected in zip(scores, expected):
        by_label = {s["label"]: s["score"] for s in row}
        assert [by_label[name] for name in LABELS] == pytest.approx(row_expected.tolist(), abs=1e-5)


def test_unsupported_architecture_is_named(tiny_tokenizer):
    config = ElectraConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_labels=3
    )
    with pytest.raises(GoEmoXUsageError, match="ElectraForSequenceClassification.*supported architectures: GoEmoX"):
        fold_logit_map(ElectraForSequenceClassification(config), LogitMap.from_temperature(2.0, 3))


def test_a_map_of_the_wrong_size_changes_nothing(tiny_encoder_factory):
    model = native_model(tiny_encoder_factory("bert"), "bert")
    assert isinstance(output_layer(model), torch.nn.Linear)
    weight = output_layer(model).weight.clone()
    with pytest.raises(ValueError, match="the map has 2 labels, the output layer 3"):
        fold_logit_map(model, LogitMap.from_temperature(2.0, 2))
    assert torch.equal(output_layer(model).weight, weight)
    assert getattr(model.config, "calibration", None) is None


def test_native_config_keeps_the_calibration_key(tmp_path):
    config = BertConfig(num_labels=2)
    config.calibration = PLATT.to_dict()
    config.save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path).calibration == PLATT.to_dict()
