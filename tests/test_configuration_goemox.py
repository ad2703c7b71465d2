import pytest
from transformers import AutoConfig, BertConfig, DistilBertConfig

import goemox  # registers the Auto classes
from goemox import GoEmoXConfig
from goemox.scores import stored_thresholds


def tiny_distilbert() -> DistilBertConfig:
    return DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64)


def test_defaults_are_multilabel_cls_and_fill_label2id():
    config = GoEmoXConfig(encoder=tiny_distilbert(), id2label={0: "joy", 1: "anger"})
    assert config.problem_type == "multi_label_classification"
    assert config.pooling == "cls"
    assert config.label2id == {"joy": 0, "anger": 1}
    assert config.hidden_size == 32
    assert stored_thresholds(config) == [0.5, 0.5]


def test_nested_encoder_round_trips_through_auto_config(tmp_path):
    config = GoEmoXConfig(
        encoder=BertConfig(hidden_size=48, num_hidden_layers=1, num_attention_heads=2, intermediate_size=96),
        pooling="mean",
        id2label={0: "a", 1: "b", 2: "c"},
        thresholds=[0.3, 0.5, 0.7],
        classifier_dropout=0.2,
    )
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, GoEmoXConfig)
    assert isinstance(loaded.encoder, BertConfig)
    assert loaded.encoder.hidden_size == 48
    assert loaded.pooling == "mean"
    assert loaded.thresholds == [0.3, 0.5, 0.7]
    assert loaded.id2label == {0: "a", 1: "b", 2: "c"}
    assert loaded.classifier_dropout == 0.2


def test_encoder_given_as_dict_is_resolved_by_model_type():
    config = GoEmoXConfig(encoder=BertConfig(hidden_size=32).to_dict())
    assert isinstance(config.encoder, BertConfig)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "max"}, "pooling must be one of"),
        ({"classifier_dropout": 1.5}, "classifier_dropout"),
        ({"thresholds": [0.5]}, "thresholds has 1 values but the model has 2 labels"),
    ],
)
def test_invalid_values_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GoEmoXConfig(encoder=tiny_distilbert(), id2label={0: "joy", 1: "anger"}, **kwargs)


def test_remote_code_files_import_nothing_from_goemox_and_both_config_bases():
    import ast
    from pathlib import Path

    package = Path(goemox.__file__).parent
    for name in ("configuration_goemox.py", "modeling_goemox.py"):
        tree = ast.parse((package / name).read_text(encoding="utf-8"))
        modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
        modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {module for module in modules if module.split(".")[0] == "goemox"}, name
    source = (package / "configuration_goemox.py").read_text(encoding="utf-8")
    assert "from transformers import PreTrainedConfig" in source  # transformers 5.x
    assert "from transformers import PretrainedConfig as PreTrainedConfig" in source  # transformers 4.x
