"""Fixtures of the Hub tests: a real run that records the shared folder's paths."""

from pathlib import Path

import pytest
from conftest import built_once


@pytest.fixture(scope="session")
def minilm_goemotions_run(tmp_path_factory, shared_minilm, shared_goemotions):
    """A short real run of the shared MiniLM (mean pooling: remote code) on shared GoEmotions rows, trained at the
    default 128 tokens, so its files record the shared folder's paths."""
    from goemox.training.arguments import DataArguments, ModelArguments
    from goemox.training.train import run_training
    from goemox.training.training_args import GoEmoXTrainingArguments

    def train(out: Path) -> None:
        run_training(
            ModelArguments(model_name_or_path=str(shared_minilm), pooling="mean"),
            DataArguments(dataset=str(shared_goemotions), max_train_samples=160, max_eval_samples=96),
            GoEmoXTrainingArguments(
                output_dir=str(out),
                overwrite_output_dir=True,
                learning_rate=1e-3,
                num_train_epochs=1,
                report_to="none",
                use_cpu=True,
                disable_tqdm=True,
                seed=3,
            ),
        )

    return built_once(tmp_path_factory, "run-minilm", train)
