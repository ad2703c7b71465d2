import pytest

from goemox.data.arguments import DEFAULT_DATASET
from goemox.errors import GoEmoXUsageError
from goemox.training.arguments import DEFAULT_ENCODER, DataArguments, ModelArguments, check_max_length


def test_production_defaults():
    assert ModelArguments().model_name_or_path == DEFAULT_ENCODER == "distilbert-base-uncased"
    assert ModelArguments().pooling == "cls"
    assert DataArguments().dataset == DEFAULT_DATASET == "google-research-datasets/go_emotions"


def test_scheme_default_depends_on_the_dataset():
    assert DataArguments(dataset="demo").resolved_scheme() == "ten"
    assert DataArguments().resolved_scheme() == "goemotions"
    assert DataArguments(dataset="demo", scheme="ekman").resolved_scheme() == "ekman"
    assert DataArguments(dataset="demo", train_file="mine.csv").resolved_scheme() == "goemotions"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "max"}, "--pooling must be one of cls, mean, got 'max'"),
        ({"classifier_dropout": 1.0}, "--classifier_dropout must be at least 0 and below 1, got 1.0"),
        ({"classifier_dropout": -0.1}, "--classifier_dropout must be at least 0 and below 1"),
        ({"encoder_hidden_dropout": 1.5}, "--encoder_hidden_dropout must be at least 0 and below 1"),
        ({"encoder_attention_dropout": -1.0}, "--encoder_attention_dropout must be at least 0 and below 1"),
    ],
)
def test_model_options_goemox_config_would_refuse_are_usage_errors(kwargs, message):
    with pytest.raises(GoEmoXUsageError, match=f"^{message}"):
        ModelArguments(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_length": 0}, "--max_length must be at least 1, got 0"),
        ({"max_train_samples": 0}, "--max_train_samples must be at least 1, got 0"),
        ({"max_eval_samples": -2}, "--max_eval_samples must be at least 1, got -2"),
    ],
)
def test_data_options_below_one_are_usage_errors(kwargs, message):
    with pytest.raises(GoEmoXUsageError, match=f"^{message}"):
        DataArguments(dataset="demo", **kwargs)


@pytest.mark.parametrize(("kind", "limit"), [("distilbert", 128), ("bert", 128), ("roberta", 129)])
def test_max_length_above_the_encoder_position_limit_is_refused(kind, limit, tiny_encoder_factory):
    """RoBERTa's positions start after its padding id: 130 position embeddings with pad id 0 hold 129 tokens."""
    model = ModelArguments(model_name_or_path=str(tiny_encoder_factory(kind)))
    with pytest.raises(GoEmoXUsageError, match=f"^--max_length {limit + 1} is above the {limit} tokens"):
        check_max_length(model, DataArguments(dataset="demo", max_length=limit + 1))
    check_max_length(model, DataArguments(dataset="demo", max_length=limit))


def test_max_length_limit_of_a_saved_goemox_model_is_its_encoder_limit(trained_run_factory):
    model = ModelArguments(model_name_or_path=str(trained_run_factory("distilbert")))
    with pytest.raises(GoEmoXUsageError, match="^--max_length 129 is above the 128 tokens"):
        check_max_length(model, DataArguments(dataset="demo", max_length=129))


def test_an_encoder_whose_config_cannot_be_read_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in (str(tmp_path / "empty"), str(tmp_path / "missing"), "no-such-org/no-such-model"):
        with pytest.raises(GoEmoXUsageError, match=f"--model_name_or_path {name}: cannot read its config.json"):
            check_max_length(ModelArguments(model_name_or_path=name), DataArguments())
