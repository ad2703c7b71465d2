"""Publishing to the Hugging Face Hub: build the exact folder a repository will hold, then upload it in one commit.

A model whose encoder and pooling have an identical native head (BERT or RoBERTa family, first-token pooling) is
published as that native class, which the Hub widget, hosted inference and serving stacks load with no custom code.
Any other model is published with goemox's configuration and modeling files beside the weights and an `auto_map`
in `config.json`, so `pipeline(..., trust_remote_code=True)` loads it where goemox is not installed.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from .errors import GoEmoXError, GoEmoXUsageError
from .exporters.native import published_architecture, to_native_model
from .model_card import ModelCardOptions, render_model_card
from .modeling_goemox import GoEmoXForSequenceClassification

logger = logging.getLogger(__name__)

RUN_FILES = ("metrics.json", "run_config.json", "training_curve.png")
"""Files of a training run that travel with the model (the card's numbers come from metrics.json)."""

REMOTE_CODE_FILES = ("configuration_goemox.py", "modeling_goemox.py")
REMOTE_CODE_AUTO_MAP = {
    "AutoConfig": "configuration_goemox.GoEmoXConfig",
    "AutoModelForSequenceClassification": "modeling_goemox.GoEmoXForSequenceClassification",
}
"""Where `trust_remote_code=True` finds goemox's classes in a published repository (modeling_goemox.py imports
nothing from goemox except its configuration, so the two files are enough)."""

PROBE_TEXTS = (
    "Thank you so much, this made my day!",
    "I can't believe they did that again, it's infuriating.",
    "ok",
    "What do you mean? I'm not sure I follow [NAME]'s point about the new rules at all.",
)
"""Texts of varied length on which the built folder must reproduce the original model's probabilities."""

PARITY_TOLERANCE = 1e-5

AUTH_HELP = (
    "log in with `hf auth login` (or set the HF_TOKEN environment variable) using a token with write access "
    "to this repository"
)

T = TypeVar("T")


@dataclass
class HubFolder:
    """A folder ready to upload.

    Attributes:
        path: the folder.
        architecture: the class `config.json` names (e.g. `BertForSequenceClassification`).
        native: whether that class ships with transformers (no custom code needed).
        native_blocker: why a native class was not used, if it was not.
        files: every file in the folder, relative paths.
        max_abs_difference: largest probability difference between the folder, loaded back, and the original model.
    """

    path: Path
    architecture: str
    native: bool
    native_blocker: str | None
    files: list[str]
    max_abs_difference: float


def _load_goemox_model(model_dir: str | Path) -> GoEmoXForSequenceClassification:
    folder = Path(model_dir)
    if not (folder / "config.json").is_file():
        raise GoEmoXUsageError(f"{folder}: not a saved model folder (no config.json)")
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
    if not isinstance(model, GoEmoXForSequenceClassification):
        raise GoEmoXUsageError(
            f"{folder}: holds a {type(model).__name__}, not a goemox model; publish it with huggingface_hub directly"
        )
    return model.eval()


def _probabilities(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        return torch.sigmoid(model(**batch).logits.float())


def build_hub_folder(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    native: bool = True,
    card_options: ModelCardOptions | None = None,
    overwrite: bool = False,
) -> HubFolder:
    """Write the folder that `push_to_hub` uploads: weights, tokenizer, config, model card and run files.

    The folder is loaded back with `AutoModelForSequenceClassification` and must reproduce the original model's
    probabilities on probe texts (max abs difference <= 1e-5), or nothing is returned.

    Args:
        model_dir: a trained goemox model folder (`goemox train --output_dir`).
        out_dir: where to write; must not exist or be empty unless `overwrite`.
        native: publish as the encoder family's native classifier when one computes the same function.
        card_options: metadata for the model card (license, base model, dataset id, analysis folder).
        overwrite: replace the contents of a non-empty `out_dir`.

    Example:

    ```python
    >>> folder = build_hub_folder("runs/bert", "runs/bert-hub")  # doctest: +SKIP
    >>> folder.architecture, folder.native  # doctest: +SKIP
    ('BertForSequenceClassification', True)
    ```"""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise GoEmoXUsageError(f"{out} already holds files; choose another folder or pass --overwrite")
        shutil.rmtree(out)
    model = _load_goemox_model(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    architecture, blocker = published_architecture(model.config, native)
    if blocker is None:
        export = to_native_model(model)
    else:
        export = model
        export.config.auto_map = REMOTE_CODE_AUTO_MAP
    out.mkdir(parents=True, exist_ok=True)
    if blocker is not None:
        for name in REMOTE_CODE_FILES:
            shutil.copy2(Path(__file__).parent / name, out / name)
    export.save_pretrained(out)
    tokenizer.save_pretrained(out)
    for name in RUN_FILES:
        if (Path(model_dir) / name).is_file():
            shutil.copy2(Path(model_dir) / name, out / name)
    card = render_model_card(model_dir, options=card_options, native=native)
    card.save(out / "README.md")

    reloaded = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    difference = float((_probabilities(reloaded, tokenizer) - _probabilities(model, tokenizer)).abs().max())
    if difference > PARITY_TOLERANCE:
        raise GoEmoXError(
            f"{out}: the exported {architecture} differs from the goemox model by {difference:.2e} in probability "
            f"(tolerance {PARITY_TOLERANCE:.0e}); not publishing it"
        )
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return HubFolder(out, architecture, blocker is None, blocker, files, difference)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level failures of whichever HTTP client this huggingface_hub uses."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            continue
    return tuple(errors)


def _retry_after_seconds(response) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def call_with_retries(
    action: Callable[[], T],
    description: str,
    *,
    max_attempts: int = 5,
    backoff_s: float = 2.0,
    max_backoff_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run one Hub call, retrying connection errors, HTTP 429 and 5xx with exponential backoff.

    Authentication failures (401, 403) stop at once with a message on how to log in; other HTTP errors stop with
    the server's message. A `Retry-After` header, when present, sets the wait.

    Args:
        action: the call.
        description: what it does, for messages (never includes the token).
        max_attempts: tries in all.
        backoff_s: the first wait; it doubles after each failure up to `max_backoff_s`.
        sleep: the waiting function (tests pass a recorder).
    """
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    transport = _transport_errors()
    wait = backoff_s
    for attempt in range(1, max_attempts + 1):
        try:
            return action()
        except OfflineModeIsEnabled:
            raise GoEmoXUsageError(f"{description}: HF_HUB_OFFLINE is set; unset it to reach the Hub") from None
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status in (401, 403):
                refused = f"{description}: the Hub refused the credentials (HTTP {status}); {AUTH_HELP}"
                raise GoEmoXUsageError(refused) from None
            if status != 429 and (status is None or status < 500):
                answer = f"{description}: the Hub answered HTTP {status}: {err.server_message or err}"
                raise GoEmoXError(answer) from None
            reason, delay = f"HTTP {status}", _retry_after_seconds(err.response)
        except transport as err:
            reason, delay = f"{type(err).__name__}: {err}", None
        if attempt == max_attempts:
            raise GoEmoXError(f"{description}: still failing after {max_attempts} attempts ({reason})")
        delay = min(max_backoff_s, delay if delay is not None else wait)
        logger.warning("%s failed (%s); retry %d/%d in %.0f s", description, reason, attempt, max_attempts - 1, delay)
        sleep(delay)
        wait = min(max_backoff_s, wait * 2)
    raise AssertionError("unreachable")


def push_to_hub(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    native: bool = True,
    card_options: ModelCardOptions | None = None,
    token: str | None = None,
    max_attempts: int = 5,
    api=None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Publish a trained model folder to a Hub model repository in a single commit.

    The repository is created if needed (`private` applies then), the branch `revision` too. Every file of the
    folder built by `build_hub_folder` goes into one commit, so a failure leaves the repository as it was; goemox's
    remote-code files left from an earlier push are deleted in that commit when the model is now native.

    Args:
        model_dir: a trained goemox model folder.
        repo_id: `user/name` or `org/name`.
        private: make a newly created repository private.
        revision: branch to commit to (created from `main` if missing); default `main`.
        commit_message: defaults to one naming the goemox version.
        native: publish as a native transformers class when possible.
        card_options: model-card metadata.
        token: a Hub token; by default huggingface_hub's own (`HF_TOKEN` or `hf auth login`). Never printed.
        max_attempts: tries per Hub call on transient failures.
        api: an `HfApi`-like client (tests pass a fake).
        sleep: the waiting function between retries.

    Returns:
        The URL of the commit.
    """
    import tempfile

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    from . import __version__

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise GoEmoXUsageError(f"repository id {repo_id!r}: expected 'user/name' or 'org/name'")
    api = api or HfApi(token=token)
    retry = {"max_attempts": max_attempts, "sleep": sleep}
    with tempfile.TemporaryDirectory(prefix="goemox-hub-") as staging:
        folder = build_hub_folder(model_dir, Path(staging) / "repo", native=native, card_options=card_options)
        logger.info("built %s (%s) with %d files", folder.path, folder.architecture, len(folder.files))
        repo = call_with_retries(
            lambda: api.create_repo(repo_id, private=private, exist_ok=True), f"creating {repo_id}", **retry
        )
        if revision:
            call_with_retries(
                lambda: api.create_branch(repo_id, branch=revision, exist_ok=True),
                f"creating branch {revision} of {repo_id}",
                **retry,
            )
        existing = call_with_retries(
            lambda: api.list_repo_files(repo_id, revision=revision), f"listing {repo_id}", **retry
        )
        stale = [name for name in REMOTE_CODE_FILES if name in existing and name not in folder.files]
        operations = [CommitOperationAdd(name, str(folder.path / name)) for name in folder.files]
        operations += [CommitOperationDelete(name) for name in stale]
        message = commit_message or f"Upload {folder.architecture} trained with goemox {__version__}"
        commit = call_with_retries(
            lambda: api.create_commit(
                repo_id, operations=operations, commit_message=message, revision=revision, repo_type="model"
            ),
            f"uploading to {repo_id}",
            **retry,
        )
    logger.info("published %s to %s", folder.architecture, getattr(repo, "url", repo_id))
    return commit.commit_url
