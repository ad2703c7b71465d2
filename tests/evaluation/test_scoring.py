import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import multilabel_metrics
from goemox.evaluation.scoring import evaluate_model, format_metrics_table
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import get_label_scheme


@pytest.fixture
def classifier(tmp_path, tiny_encoder_factory, tiny_tokenizer) -> EmotionClassifier:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    return EmotionClassifier.from_pretrained(str(tmp_path), device="cpu")


def test_scheme_comes_from_the_model_and_a_mismatch_is_reported(classifier):
    assert classifier.label_scheme().name == "ten"
    with pytest.raises(GoEmoXUsageError, match="label scheme 'ekman' has labels"):
        classifier.label_scheme("ekman")


def test_evaluate_model_on_the_demo_split(classifier):
    result = evaluate_model(classifier, "demo", split="test", show_progress=False)
    assert result["split"] == "test" and 30 <= result["rows"] <= 50
    assert set(result["stored_thresholds"]["per_class"]) == set(classifier.label_names)
    assert result["thresholds"] == "0.5 (none stored)"  # the untrained model stores none
    with pytest.raises(GoEmoXUsageError, match="no 'dev' split"):
        evaluate_model(classifier, "demo", split="dev", show_progress=False)


def test_table_lists_summary_and_every_class():
    metrics = multilabel_metrics([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.4, 0.8], [0.7, 0.1]], ["joy", "fear"])
    table = format_metrics_table(metrics)
    assert table.splitlines()[0].startswith("macro_f1")
    assert any(line.startswith("joy") for line in table.splitlines())
    assert any(line.startswith("fear") for line in table.splitlines())
