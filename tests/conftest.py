"""Shared fixtures: tiny encoders built in code, a tokenizer over a small vocabulary, the shared data folder."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from transformers import AutoModel, BertConfig, BertTokenizerFast, DistilBertConfig, RobertaConfig

from goemox.resources import demo_texts

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def xdist_worker() -> str | None:
    """The pytest-xdist worker running this process (`gw0`, `gw1`, ...), or None in a plain `pytest` run."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def pytest_configure(config):
    """Under pytest-xdist each worker (and each process a test starts) computes on one thread: two workers share the
    cores, and torch's default of one thread per core would make them fight over them."""
    if xdist_worker():
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under `pytest -n 2 --dist loadgroup` (`make test`) the tests of one file run on one worker, so that a module
    fixture is built once, as in a plain run; a test that names its own `xdist_group` runs with that group instead (see
    `starts_processes`). On a worker the longest work comes first (the `slow` tests, then the `processes` group), so
    that it does not start last while the other worker idles: `make test` passes `--no-loadscope-reorder` to keep this
    order."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(config.rootpath).as_posix()))
    if xdist_worker():
        items.sort(key=lambda item: (item.get_closest_marker("slow") is None, not runs_in_processes_group(item)))


starts_processes = pytest.mark.xdist_group("processes")
"""Marks a test that starts several busy processes at once (launchers, search workers, benchmark scripts, a server
and a browser): under pytest-xdist they all run on one worker, one after the other, so that two of them never share
the cores."""


def runs_in_processes_group(item: pytest.Item) -> bool:
    """Whether `item` is marked `starts_processes`."""
    return any(mark.args == starts_processes.args for mark in item.iter_markers("xdist_group"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the system picks it), for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_root(tmp_path_factory) -> Path:
    """The temporary folder of the whole test run: pytest's base folder, or under pytest-xdist the folder that holds
    every worker's base folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if xdist_worker() else base


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """`built/NAME` in the run's temporary folder, made by `build(folder)` once per test run: under pytest-xdist the
    first worker to ask builds it while the others wait on a file lock, then all read it. Tests read such folders and
    never change them (they copy one to change it).

    Args:
        tmp_path_factory: pytest's `tmp_path_factory` fixture.
        name: the folder's name, unique to what `build` makes.
        build: writes the folder's files into the (new, empty) folder it is given.

    Example:
        folder = built_once(tmp_path_factory, "tokenizer", lambda folder: write_vocab(folder / "vocab.txt"))
    """
    root = run_root(tmp_path_factory) / "built"
    root.mkdir(exist_ok=True)
    folder, done = root / name, root / f"{name}.done"
    with FileLock(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


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


@pytest.fixture
def umask_027():
    """Run the test under umask 027 (new folders 0750, new files 0640)."""
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> BertTokenizerFast:
    folder = built_once(tmp_path_factory, "tokenizer", lambda folder: write_vocab(folder / "vocab.txt"))
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

    def build(kind: str, initializer_range: float | None, folder: Path) -> None:
        config = tiny_encoder_config(kind, len(tiny_tokenizer))
        if initializer_range is not None:
            config.initializer_range = initializer_range
        # Seeded: under pytest-xdist the worker that builds the folder has run other tests first, so the global
        # generator's state would differ from run to run, and so would every model trained on the encoder.
        torch.manual_seed(0)
        AutoModel.from_config(config).save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)

    def make(kind: str, initializer_range: float | None = None) -> Path:
        name = f"tiny-{kind}" + ("" if initializer_range is None else f"-init{initializer_range}")
        return built_once(tmp_path_factory, name, lambda folder: build(kind, initializer_range, folder))

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
    """`make(kind, pooling, initializer_range=None, max_length=48, calibration="platt")` -> output folder of a short
    real `run_training` on the demo set with a tiny encoder (`initializer_range`: see `tiny_encoder_factory`)."""
    from goemox.training.arguments import DataArguments, ModelArguments
    from goemox.training.train import run_training
    from goemox.training.training_args import GoEmoXTrainingArguments

    def train(encoder: Path, pooling: str, max_length: int, calibration: str, out: Path) -> None:
        run_training(
            ModelArguments(model_name_or_path=str(encoder), pooling=pooling),
            DataArguments(dataset="demo", max_length=max_length, calibration=calibration),
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

    def make(
        kind: str,
        pooling: str = "cls",
        initializer_range: float | None = None,
        max_length: int = 48,
        calibration: str = "platt",
    ) -> Path:
        encoder = tiny_encoder_factory(kind, initializer_range)
        name = f"run-{kind}-{pooling}-{max_length}" + ("" if initializer_range is None else f"-init{initializer_range}")
        name += "" if calibration == "platt" else f"-{calibration}"
        return built_once(tmp_path_factory, name, lambda out: train(encoder, pooling, max_length, calibration, out))

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

    from goemox.configuration_goemox import GoEmoXConfig
    from goemox.modeling_goemox import GoEmoXForSequenceClassification

    def train(folder: Path) -> None:
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
        model.eval().save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)

    return built_once(tmp_path_factory, "keyword-model", train)
