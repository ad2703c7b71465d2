"""Fixtures of the client tests: the third-party clients that `make clients` builds (transformers 4.57 + optimum in a
venv, transformers.js under Node), runs of them on a folder, and the comparison of their scores with goemox's.

Where a client is missing, its tests skip with the reason on a developer's machine and fail in CI (`CI` set), which
builds the clients in `.ci/run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from goemox.resources import demo_texts
from goemox.scores import apply_thresholds

HERE = Path(__file__).resolve().parent
WIDE_INIT = 0.3
"""`initializer_range` of the tiny encoders under the client tests' models (see `tiny_encoder_factory`)."""
FP32_TOLERANCE = 1e-4
"""Largest difference in probability allowed between a client's fp32 scores and goemox's."""
LABEL_MARGIN = 1e-4
"""Scores closer than this to a threshold are left out of the label-set comparison (see `assert_same_label_sets`):
the fp32 tolerance, and for int8 far more than clients running the same statically quantized graph differ by."""
CLIENT_TIMEOUT_S = 300


def clients_dir() -> Path:
    """`$GOEMOX_CLIENTS`, or `.clients` in the checkout (where `make clients` builds them)."""
    return Path(os.environ.get("GOEMOX_CLIENTS", HERE.parents[1] / ".clients"))


def missing_client(reason: str):
    """Fail in CI, which must run every client test; skip elsewhere, saying how to build the client."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}: CI runs the client tests (`make clients` in .ci/run builds them)", pytrace=False)
    pytest.skip(f"{reason} (build the clients with `make clients`)")


def texts_file(folder: Path, texts: list[str]) -> str:
    """Write `texts` as the JSON list a client script reads; returns the file's path."""
    path = folder / "texts.json"
    path.write_text(json.dumps(texts), encoding="utf-8")
    return str(path)


def run_client(command: list[str], cwd: Path) -> dict:
    """Run a client script and return the JSON object it prints last; a failed run fails the test with its stderr."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(cwd / "modules"), TOKENIZERS_PARALLELISM="false")
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=CLIENT_TIMEOUT_S)
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def client_run(trained_run_factory):
    """`make(pooling)` -> a short real training run of a tiny BERT goemox model on the demo set, whose scores and
    stored thresholds give the texts varied label sets (`WIDE_INIT`). It is left uncalibrated: calibration would
    squeeze this barely trained model's scores into a band a few hundredths wide, where many texts sit within the
    fp32 tolerance of a threshold (that calibration folds into exports is checked in `tests/calibration`)."""
    return lambda pooling: trained_run_factory("bert", pooling, WIDE_INIT, calibration="none")


@pytest.fixture(scope="session")
def client_texts() -> list[str]:
    """41 of goemox's packaged demo sentences (every tenth): real short texts of varied length."""
    return demo_texts()[::10]


@pytest.fixture(scope="session")
def python_client(tmp_path_factory):
    """`run(model_dir, texts, *options)` -> the JSON of `python_client.py` run by the side venv's Python
    (transformers 4.57, optimum), where goemox cannot be imported."""
    python = clients_dir() / "python" / "bin" / "python"
    if not python.is_file():
        missing_client(f"no transformers 4.57 client venv at {python.parent.parent}")
    work = tmp_path_factory.mktemp("python-client")

    def run(model_dir: Path, texts: list[str], *options: str) -> dict:
        script = HERE / "python_client.py"
        return run_client([str(python), str(script), str(model_dir), texts_file(work, texts), *options], work)

    return run


@pytest.fixture(scope="session")
def node_client(tmp_path_factory):
    """`run(model_dir, texts, dtype)` -> the JSON of `node_client.mjs` (transformers.js under Node)."""
    node = shutil.which("node")
    node_dir = clients_dir() / "node"
    if node is None:
        missing_client("node is not installed (Debian: apt-get install nodejs npm)")
    if not (node_dir / "node_modules" / "@huggingface" / "transformers").is_dir():
        missing_client(f"no transformers.js client at {node_dir}")
    work = tmp_path_factory.mktemp("node-client")

    def run(model_dir: Path, texts: list[str], dtype: str) -> dict:
        script = HERE / "node_client.mjs"
        return run_client([node, str(script), str(node_dir), str(model_dir), texts_file(work, texts), dtype], work)

    return run


def client_matrix(scores: list[dict[str, float]], label_names: list[str]) -> np.ndarray:
    """A client's scores (one `{label: score}` per text) as an (n, L) array in the model's label order, after
    checking that every text got a score for each label and for nothing else."""
    for row in scores:
        assert sorted(row) == sorted(label_names), f"the client scored {sorted(row)}, the model has {label_names}"
    return np.array([[row[name] for name in label_names] for row in scores])


def assert_same_label_sets(client: np.ndarray, goemox: np.ndarray, thresholds: list[float], margin: float) -> None:
    """The labels chosen at the stored thresholds from the client's scores are goemox's, on every text none of whose
    scores lies within `margin` of its threshold (there, a difference the score check allows may tip either way);
    those texts are at most a tenth, so that the comparison cannot come out empty."""
    clear = (np.abs(goemox - np.asarray(thresholds)) >= margin).all(axis=1)
    assert clear.mean() >= 0.9, f"{int((~clear).sum())} of {len(clear)} texts lie within {margin} of a threshold"
    ours, theirs = apply_thresholds(goemox, thresholds), apply_thresholds(client, thresholds)
    differ = np.flatnonzero(clear & (ours != theirs).any(axis=1))
    assert differ.size == 0, f"label sets differ on texts {differ.tolist()}"
    assert len({tuple(row) for row in ours}) > 1, "every text got the same label set: the check would show nothing"


@pytest.fixture(scope="session")
def agrees_with_goemox():
    """`check(result, predictor, goemox_probs, precision)`: a client's `result` scores every label of goemox's
    `predictor` and chooses goemox's label sets at the predictor's stored thresholds (see `assert_same_label_sets`);
    in fp32 its scores are also within `FP32_TOLERANCE` of `goemox_probs`. Returns the largest score difference."""

    def check(result: dict, predictor, goemox_probs: np.ndarray, precision: str) -> float:
        scores = client_matrix(result["scores"], predictor.label_names)
        difference = float(np.abs(scores - goemox_probs).max())
        print(f"{result['client']} {precision}: largest score difference from goemox {difference:.2e}")
        if precision == "fp32":
            assert difference <= FP32_TOLERANCE, f"{result['client']}: scores differ from goemox's by {difference:.2e}"
        assert_same_label_sets(scores, goemox_probs, predictor.thresholds, LABEL_MARGIN)
        return difference

    return check
