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
from goemox.calibration.scaling import (
    TEMPERATURE_BOUNDS,
    at_bounds,
    binary_nll,
    compose_temperatures,
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
    output_layer,
    reliability_bins,
    threshold_grid_after_scaling,
)
from goemox.errors import GoEmoXUsageError
from goemox.scores import sigmoid

LABELS = ["joy", "anger", "fear"]
TEXTS = ["i am so happy today", "why would you do that", "i am scared of it", "ok"]


def synthetic(temperatures, rows=20000, seed=0):
    """Logits z and labels drawn with P(y=1) = sigmoid(z / T_c) for each column c."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.0, 4.0, size=(rows, len(temperatures)))
    y = (rng.random(z.shape) < sigmoid(z / np.asarray(temperatures))).astype(int)
    return z, y


def test_fit_recovers_a_known_temperature():
    z, y = synthetic([2.0, 2.0, 2.0])
    assert fit_temperature(z, y) == pytest.approx(2.0, abs=0.08)
    z, y = synthetic([0.5, 0.5])
    assert fit_temperature(z, y) == pytest.approx(0.5, abs=0.03)


def test_fit_per_class_recovers_each_label_temperature():
    z, y = synthetic([0.5, 1.0, 3.0])
    fitted = fit_temperature(z, y, per_class=True)
    assert isinstance(fitted, list) and len(fitted) == 3
    assert fitted == pytest.approx([0.5, 1.0, 3.0], rel=0.06)
    # One shared temperature is a compromise between them.
    assert 0.5 < fit_temperature(z, y) < 3.0


def test_fitted_temperature_minimises_the_loss():
    z, y = synthetic([1.7])
    best = fit_temperature(z, y)
    for other in (best * 0.97, best * 1.03, 1.0):
        assert binary_nll(z, y, best)[0] < binary_nll(z, y, other)[0]


def test_label_without_positives_gets_the_shared_temperature():
    z, y = synthetic([2.0, 2.0])
    y[:, 1] = 0
    fitted = fit_temperature(z, y, per_class=True)
    assert fitted[1] == pytest.approx(fit_temperature(z, y))
    assert not at_bounds(fitted)


def test_separable_data_ends_on_the_search_bound():
    z = np.array([[-3.0], [-2.0], [2.0], [4.0]])
    y = (z > 0).astype(int)
    assert fit_temperature(z, y) == pytest.approx(TEMPERATURE_BOUNDS[0], rel=1e-3)
    assert at_bounds(fit_temperature(z, y))


def test_binary_nll_matches_torch():
    z, y = synthetic([1.0, 3.0], rows=50)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z / 2.5), torch.tensor(y, dtype=torch.float64), reduction="none"
    ).mean(dim=0)
    assert binary_nll(z, y, 2.5) == pytest.approx(expected.numpy(), rel=1e-10)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        fit_temperature(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="0/1"):
        fit_temperature(np.zeros((2, 1)), np.full((2, 1), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.array([[np.nan]]), np.array([[1]]))
    with pytest.raises(ValueError, match="at least one row"):
        fit_temperature(np.zeros((0, 2)), np.zeros((0, 2)))


def test_ece_on_a_hand_checked_example():
    # Label 0: 0.1 (negative) in bin [0.1, 0.2): gap 0.1; 0.3 (positive) in bin [0.3, 0.4): gap 0.7 -> 0.4.
    # Label 1: both 0.9 and positive, one bin: gap 0.1 -> 0.1. All four pairs: (0.1 + 0.7 + 0.1 + 0.1) / 4 = 0.25.
    ece = expected_calibration_error([[0.1, 0.9], [0.3, 0.9]], [[0, 1], [1, 1]], bins=10)
    assert ece["per_class"] == pytest.approx([0.4, 0.1])
    assert ece["class_mean"] == pytest.approx(0.25)
    assert ece["pooled"] == pytest.approx(0.25)
    # A probability of exactly 1 falls into the last bin.
    bins = reliability_bins([1.0, 0.0], [1, 0], bins=4)
    assert bins.counts.tolist() == [1, 0, 0, 1]
    assert bins.ece == 0.0


def test_ece_falls_after_scaling_miscalibrated_scores():
    z, y = synthetic([2.5, 0.6, 1.5], seed=1)  # over-confident in two labels, under-confident in one
    before = expected_calibration_error(sigmoid(z), y)
    for per_class in (False, True):
        t = fit_temperature(z, y, per_class=per_class)
        after = expected_calibration_error(sigmoid(z / np.asarray(t)), y)
        assert after["class_mean"] < before["class_mean"]
        assert after["pooled"] < before["pooled"]
    t = fit_temperature(z, y, per_class=True)
    after = expected_calibration_error(sigmoid(z / np.asarray(t)), y)
    assert max(after["per_class"]) < 0.02 < min(before["per_class"])


def test_carried_grid_reproduces_every_old_decision_rule():
    z, _ = synthetic([1.0, 1.0], rows=500)
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    temperatures = [1 / 3, 2.0]
    carried = threshold_grid_after_scaling(grid, temperatures)
    assert carried.size == 2 * grid.size - 1  # 0.5 stays 0.5 under every temperature
    assert carried.max() > 0.99 and carried.min() < 0.01
    for column, t in enumerate(temperatures):
        old, new = sigmoid(z[:, column]), sigmoid(z[:, column] / t)
        for g in grid:
            rule = sigmoid(np.log(g / (1 - g)) / t)
            assert rule in carried
            assert np.array_equal(old >= g, new >= rule)


def test_compose_temperatures():
    assert compose_temperatures(None, 2.0) == 2.0
    assert compose_temperatures(1.5, 2.0) == pytest.approx(3.0)
    assert compose_temperatures([1.0, 2.0], 3.0) == pytest.approx([3.0, 6.0])
    assert compose_temperatures(2.0, [1.0, 0.5]) == pytest.approx([2.0, 1.0])


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


@pytest.mark.parametrize("temperature", [1.7, [0.5, 2.0, 3.0]])
def test_folding_divides_the_logits_exactly(any_model, tiny_tokenizer, temperature):
    original = logits_of(any_model, tiny_tokenizer)
    stored = fold_temperature(any_model, temperature)
    assert stored == temperature
    assert any_model.config.calibration_temperature == temperature
    expected = original / torch.tensor(temperature)
    torch.testing.assert_close(logits_of(any_model, tiny_tokenizer), expected, atol=1e-5, rtol=1e-5)


def test_folding_twice_composes(tiny_encoder_factory, tiny_tokenizer):
    model = goemox_model(tiny_encoder_factory("bert"))
    original = logits_of(model, tiny_tokenizer)
    fold_temperature(model, 2.0)
    assert fold_temperature(model, [1.0, 0.5, 4.0]) == pytest.approx([2.0, 1.0, 8.0])
    expected = original / torch.tensor([2.0, 1.0, 8.0])
    torch.testing.assert_close(logits_of(model, tiny_tokenizer), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["goemox", "bert"])
def test_saved_calibrated_model_gives_calibrated_scores_through_pipeline(
    kind, tmp_path, tiny_encoder_factory, tiny_tokenizer
):
    folder = tiny_encoder_factory("bert")
    model = goemox_model(folder) if kind == "goemox" else native_model(folder, kind)
    original = logits_of(model, tiny_tokenizer)
    fold_temperature(model, [3.0, 0.5, 1.25])
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert reloaded.config.calibration_temperature == [3.0, 0.5, 1.25]
    scores = pipeline("text-classification", model=str(tmp_path), top_k=None)(TEXTS)
    expected = torch.sigmoid(original / torch.tensor([3.0, 0.5, 1.25])).numpy()
    for row, row_expected in zip(scores, expected):
        by_label = {s["label"]: s["score"] for s in row}
        assert [by_label[name] for name in LABELS] == pytest.approx(row_expected.tolist(), abs=1e-5)


def test_unsupported_architecture_is_named(tiny_tokenizer):
    config = ElectraConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_labels=3
    )
    with pytest.raises(GoEmoXUsageError, match="ElectraForSequenceClassification.*supported architectures: GoEmoX"):
        fold_temperature(ElectraForSequenceClassification(config), 2.0)


def test_bad_temperatures_are_rejected(tiny_encoder_factory):
    model = native_model(tiny_encoder_factory("bert"), "bert")
    assert isinstance(output_layer(model), torch.nn.Linear)
    weight = output_layer(model).weight.clone()
    with pytest.raises(ValueError, match="finite and positive"):
        fold_temperature(model, [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="one temperature or 3"):
        fold_temperature(model, [1.0, 2.0])
    assert torch.equal(output_layer(model).weight, weight)
    assert getattr(model.config, "calibration_temperature", None) is None


def test_native_config_keeps_the_temperature_key(tmp_path):
    config = BertConfig(num_labels=2)
    config.calibration_temperature = 1.5
    config.save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path).calibration_temperature == 1.5
