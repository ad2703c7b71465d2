"""Fixtures shared by the command-line tests."""

from pathlib import Path

import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.labels import get_label_scheme


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> Path:
    """A saved, untrained goemox model over the ten-label scheme (in a folder of its own)."""
    folder = tmp_path_factory.mktemp("cli-model") / "model"
    torch.manual_seed(0)
    GoEmoXForSequenceClassification.from_encoder(
        str(tiny_encoder_factory("bert")), get_label_scheme("ten")
    ).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if the command gets as far as loading the model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("goemox.inference.loading.load_classifier", refuse)
