"""Fixtures shared by the command-line tests."""

import pytest


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if the command gets as far as loading the model."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("goemox.inference.loading.load_classifier", refuse)
