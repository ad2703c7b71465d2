"""Shared fixtures: tiny encoders built in code, a tokenizer over a small vocabulary, the shared data folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, BertConfig, BertTokenizerFast, DistilBertConfig, RobertaConfig

from goemox.resources import demo_texts

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def shared_dir() -> Path:
    """`$GOEMOX_SHARED`, or `../shared` beside the checkout."""
    default = Path(__file__).resolve().parents[1].parent / "shared"
    return Path(os.environ.get("GOEMOX_SHARED", default))


def write_vocab(path: Path) -> Path:
    """A WordPiece vocabulary: special tokens, every lower-cased word of the demo set, and single characters."""
    words = sorted({w for text in demo_texts() for w in re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())})
    chars = sorted({c for w in words for c in w})
    vocab = SPECIAL_TOKENS + words + [f"##{c}" for c in chars if f"##{c}" not in words]
    path.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> BertTokenizerFast:
    folder = tmp_path_factory.mktemp("tokenizer")
    write_vocab(folder / "vocab.txt")
    # transformers 5 ignores `BertTokenizerFast(vocab_file=...)`; from_pretrained reads the folder's vocab.txt.
    tokenizer = BertTokenizerFast.from_pretrained(folder)
    assert len(tokenizer) > 1000
    return tokenizer


def tiny_encoder_config(kind: str, vocab_size: int):
    if kind == "distilbert":
        return DistilBertConfig(
            vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128
        )
    if kind == "bert":
        return BertConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
    if kind == "roberta":
        return RobertaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=130,
            pad_token_id=0,
        )
    raise ValueError(kind)


@pytest.fixture(scope="session")
def tiny_encoder_factory(tmp_path_factory, tiny_tokenizer):
    """`make(kind, initializer_range=None)` -> folder with a randomly initialised tiny encoder of that family and the
    tokenizer. `initializer_range` sets the weights' std (the config's default, 0.02, when `None`): with 0.3 a tiny
    encoder's first-token output differs between texts about as a pretrained one's does, so a model trained on it
    gives each text its own scores instead of every label's base rate."""
    built: dict[tuple[str, float | None], Path] = {}

    def make(kind: str, initializer_range: float | None = None) -> Path:
        if (kind, initializer_range) not in built:
            folder = tmp_path_factory.mktemp(f"tiny-{kind}")
            config = tiny_encoder_config(kind, len(tiny_tokenizer))
            if initializer_range is not None:
                config.initializer_range = initializer_range
                torch.manual_seed(0)
            AutoModel.from_config(config).save_pretrained(folder)
            tiny_tokenizer.save_pretrained(folder)
            built[kind, initializer_range] = folder
        return built[kind, initializer_range]

    return make


@pytest.fixture(scope="session")
def shared_goemotions() -> Path:
    path = shared_dir() / "data" / "goemotions"
    if not (path / "train.tsv").is_file():
        pytest.skip(f"shared GoEmotions data not found at {path} (set GOEMOX_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared_minilm() -> Path:
    path = shared_dir() / "models" / "all-MiniLM-L6-v2"
    if not (path / "config.json").is_file():
        pytest.skip(f"shared all-MiniLM-L6-v2 not found at {path} (set GOEMOX_SHARED)")
    return path


@pytest.fixture(scope="session")
def trained_run_factory(tmp_path_factory, tiny_encoder_factory):
    """`make(kind, pooling, initializer_range=None, max_length=48)` -> output folder of a short real `run_training` on
    the demo set with a tiny encoder (`initializer_range`: see `tiny_encoder_factory`)."""
    from goemox.training.arguments import DataArguments, ModelArguments
    from goemox.training.train import run_training
    from goemox.training.training_args import GoEmoXTrainingArguments

    built: dict[tuple[str, str, float | None, int], Path] = {}

    def make(kind: str, pooling: str = "cls", initializer_range: float | None = None, max_length: int = 48) -> Path:
        key = (kind, pooling, initializer_range, max_length)
        if key not in built:
            out = tmp_path_factory.mktemp(f"run-{kind}-{pooling}")
            encoder = tiny_encoder_factory(kind, initializer_range)
            run_training(
                ModelArguments(model_name_or_path=str(encoder), pooling=pooling),
                DataArguments(dataset="demo", max_length=max_length),
                GoEmoXTrainingArguments(
                    output_dir=str(out),
                    overwrite_output_dir=True,
                    learning_rate=3e-3,
                    num_train_epochs=2,
                    report_to="none",
                    use_cpu=True,
                    disable_tqdm=True,
                    seed=3,
                ),
            )
            built[key] = out
        return built[key]

    return make


BLOCKING_PRELUDE = r"""
import importlib.abc, json, sys

class Hide(importlib.abc.MetaPathFinder):
    # Wraps each finder so that the blocked modules are found by none: `import` fails and `find_spec` says None,
    # as when they are not installed.
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in {blocked!r}):
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find else None

    def find_distributions(self, *args, **kwargs):
        return getattr(self.finder, "find_distributions", lambda *a, **k: iter(()))(*args, **kwargs)

    def invalidate_caches(self):
        getattr(self.finder, "invalidate_caches", lambda: None)()

sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
"""


def blocking_prelude(*modules: str) -> str:
    """The start of a script run in a subprocess where importing any of `modules` (or their submodules) fails as if
    they were not installed; the script has `json` and `sys` imported."""
    return BLOCKING_PRELUDE.format(blocked=modules)


BLOCK_GOEMOX = blocking_prelude("goemox")
"""Proves an exported folder loads where goemox is not installed."""

TORCH_FREE = ("torch", "transformers.models", "transformers.modeling_utils", "transformers.tokenization_utils_base")
"""What the ONNX runtime path must not import: torch, and transformers' modeling and tokenizer code."""

CLI_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}


def run_goemox(
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: dict | None = None,
    drop_env: tuple[str, ...] = (),
    timeout: float = 600,
    without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """`python -m goemox ARGS` in a subprocess, as a user runs it: offline, text output captured.

    Args:
        args: the command line after `goemox`.
        stdin: text sent to standard input.
        cwd: the working folder.
        env: variables added to the environment.
        drop_env: variables removed from it (tokens, proxies).
        timeout: seconds before the test fails.
        without: modules that cannot be imported in that process (see `blocking_prelude`).
    """
    base = {key: value for key, value in os.environ.items() if key not in drop_env}
    command = ["-m", "goemox"]
    if without:
        command = ["-c", blocking_prelude(*without) + "from goemox.cli import main\nsys.exit(main())"]
    return subprocess.run(
        [sys.executable, *command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **CLI_ENV, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def goemox_cli():
    """The `goemox` command run in a subprocess: `goemox_cli("predict", "--model", ...)` (see `run_goemox`)."""
    return run_goemox


@pytest.fixture
def goemox_here(capsys):
    """The `goemox` command run in this process (no interpreter start-up: for the many runs that stop at an error
    before any work), with the same result shape as `goemox_cli`."""
    from goemox.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["goemox", *args], code, captured.out, captured.err)

    return run


KEYWORDS = {"anger": "furious", "joy": "delighted"}
"""The keyword model's labels and the one word that decides each."""


def keyword_sentence(rng, words: list[str], labels: set[str], length: int) -> str:
    """`length` filler words with the keyword of each of `labels` put at a random place."""
    sentence = [words[i] for i in rng.integers(len(words), size=length)]
    for label in labels:
        sentence.insert(int(rng.integers(len(sentence) + 1)), KEYWORDS[label])
    return " ".join(sentence)


@pytest.fixture(scope="session")
def keyword_model(tmp_path_factory, tiny_tokenizer) -> Path:
    """Folder of a tiny goemox model trained here, in seconds, on sentences of 2-30 filler words where `furious`
    alone decides `anger` and `delighted` alone decides `joy` (`KEYWORDS`): a model whose right answer is known, for
    attributions and long texts (it finds the keywords in texts of 120 words too). Mean pooling, as the reference models
    use."""
    import numpy as np
    import torch

    from goemox.configuration_goemox import GoEmoXConfig
    from goemox.modeling_goemox import GoEmoXForSequenceClassification

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab = tiny_tokenizer.get_vocab()
    words = sorted(w for w in vocab if w.isalpha() and w not in KEYWORDS.values() and len(w) > 2)
    labels = list(KEYWORDS)
    config = GoEmoXConfig(
        encoder=tiny_encoder_config("bert", len(tiny_tokenizer)),
        pooling="mean",
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    model = GoEmoXForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(300):
        chosen = [{label for label in labels if rng.random() < 0.5} for _ in range(32)]
        texts = [keyword_sentence(rng, words, c, int(rng.integers(2, 30))) for c in chosen]
        batch = tiny_tokenizer(texts, truncation=True, max_length=128, padding=True, return_tensors="pt")
        targets = torch.tensor([[float(label in c) for label in labels] for c in chosen])
        loss = model(**batch, labels=targets).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    folder = tmp_path_factory.mktemp("keyword-model")
    model.eval().save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder
