"""Publishing to the Hugging Face Hub: build the exact folder a repository will hold, then upload it in one commit.

A model whose encoder and pooling have an identical native head (DistilBERT, BERT, RoBERTa or XLM-R encoder,
first-token pooling; DistilBERT as `BertForSequenceClassification`) is published as that native class, which the
Hub widget, hosted inference and serving stacks load with no custom code.
Any other model is published with goemox's configuration and modeling files beside the weights and an `auto_map`
in `config.json`, so `pipeline(..., trust_remote_code=True)` loads it where goemox is not installed.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.hub.folder import GOEMOX_WRITTEN_FILES, build_hub_folder
from goemox.hub.model_card import ModelCardOptions

logger = logging.getLogger(__name__)


AUTH_HELP = (
    "log in with `hf auth login` (or set the HF_TOKEN environment variable) using a token with write access "
    "to this repository"
)

T = TypeVar("T")


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


def check_repo_id(repo_id: str | None, option: str = "repository id") -> str:
    """Refuse a Hub model repository id that is not `user/name` or `org/name`, before any work.

    Args:
        repo_id: the id.
        option: how the message names it (e.g. `--hub_model_id`).

    Example:

    ```python
    >>> check_repo_id("me/goemox-minilm")
    'me/goemox-minilm'
    ```"""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        valid = isinstance(repo_id, str) and repo_id.count("/") == 1 and validate_repo_id(repo_id) is None
    except HFValidationError:
        valid = False
    if not valid:
        raise GoEmoXUsageError(
            f"{option} {repo_id!r}: expected user/name or org/name (letters, digits, '-', '_' and '.'; no '--' or "
            "'..'; not starting or ending with '-' or '.'; at most 96 characters)"
        )
    return repo_id


def push_to_hub(
    model_dir: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    native: bool = True,
    card_options: ModelCardOptions | None = None,
    onnx: bool = False,
    token: str | None = None,
    max_attempts: int = 5,
    api=None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Publish a trained model folder to a Hub model repository in a single commit.

    The repository is created if needed (`private` applies then), the branch `revision` too. Every file of the
    folder built by `build_hub_folder` goes into one commit, so a failure leaves the repository as it was; goemox's
    remote-code and ONNX files left from an earlier push are deleted in that commit when this push has none.

    Args:
        model_dir: a trained goemox model folder.
        repo_id: `user/name` or `org/name`.
        private: make a newly created repository private.
        revision: branch to commit to (created from `main` if missing); default `main`.
        commit_message: defaults to one naming the goemox version.
        native: publish as a native transformers class when possible.
        card_options: model-card metadata.
        onnx: also publish the ONNX export (fp32 and int8) for optimum and transformers.js (native classes only).
        token: a Hub token; by default huggingface_hub's own (`HF_TOKEN` or `hf auth login`). Never printed.
        max_attempts: tries per Hub call on transient failures.
        api: an `HfApi`-like client (tests pass a fake).
        sleep: the waiting function between retries.

    Returns:
        The URL of the commit.
    """
    import tempfile

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    from goemox import __version__

    check_repo_id(repo_id)
    api = api or HfApi(token=token)
    retry = {"max_attempts": max_attempts, "sleep": sleep}
    with tempfile.TemporaryDirectory(prefix="goemox-hub-") as staging:
        folder = build_hub_folder(
            model_dir, Path(staging) / "repo", native=native, card_options=card_options, onnx=onnx
        )
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
        stale = [name for name in GOEMOX_WRITTEN_FILES if name in existing and name not in folder.files]
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
