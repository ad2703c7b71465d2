from goemox.data.arguments import DEFAULT_DATASET
from goemox.training.arguments import DEFAULT_ENCODER, DataArguments, ModelArguments


def test_production_defaults():
    assert ModelArguments().model_name_or_path == DEFAULT_ENCODER == "distilbert-base-uncased"
    assert ModelArguments().pooling == "cls"
    assert DataArguments().dataset == DEFAULT_DATASET == "google-research-datasets/go_emotions"


def test_scheme_default_depends_on_the_dataset():
    assert DataArguments(dataset="demo").resolved_scheme() == "ten"
    assert DataArguments().resolved_scheme() == "goemotions"
    assert DataArguments(dataset="demo", scheme="ekman").resolved_scheme() == "ekman"
    assert DataArguments(dataset="demo", train_file="mine.csv").resolved_scheme() == "goemotions"
