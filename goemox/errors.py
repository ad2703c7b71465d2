"""Every goemox exception: errors that goemox reports to users as plain messages (the CLI prints them without a
traceback)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

__all__ = [
    "DataError",
    "FetchError",
    "GoEmoXError",
    "GoEmoXUsageError",
    "HttpStatusError",
    "LabelSchemeError",
    "RateLimitError",
    "TrainingDivergedError",
    "UnknownLabelError",
    "first_line",
]


class GoEmoXError(ValueError):
    """Base class of every error caused by the user's input, files or options."""


class GoEmoXUsageError(GoEmoXError):
    """Options that cannot work together, or a path or model that is not what was expected."""


class TrainingDivergedError(GoEmoXUsageError):
    """A training whose model scores NaN or infinity: options (a learning rate far too high) that cannot train."""


class DataError(GoEmoXError):
    """Input data that cannot be loaded, e.g. ``"train.csv:17: unknown label 'joyy'; expected ..."``.

    Attributes:
        source: The file, folder or dataset the problem is in.
        line: 1-based line of the file (a CSV header is line 1), or row number of Arrow / Hub data;
            ``None`` when the problem concerns the whole source.
        problem: What was wrong.
        expected: What was expected instead.
    """

    def __init__(self, source: str | os.PathLike[str], line: int | None, problem: str, expected: str) -> None:
        self.source = os.fspath(source)
        self.line = line
        self.problem = problem
        self.expected = expected
        location = self.source if line is None else f"{self.source}:{line}"
        super().__init__(f"{location}: {problem}; expected {expected}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.line, self.problem, self.expected))


class LabelSchemeError(GoEmoXError):
    """A label scheme definition is invalid or cannot be found."""


class UnknownLabelError(GoEmoXError):
    """A label name or id is not part of a label scheme.

    Attributes:
        label: The offending name or id.
        valid: The names (or id range) that would have been accepted.
    """

    def __init__(self, label: str | int, valid: Iterable[str], message: str) -> None:
        super().__init__(message)
        self.label = label
        self.valid = tuple(valid)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.label, self.valid, str(self)))


class FetchError(GoEmoXError):
    """A request that failed for good (after retries, or with an answer that retrying cannot change)."""


class HttpStatusError(FetchError):
    """The server answered with an error status that is not worth retrying (401, 403, 404...).

    Attributes:
        status: the HTTP status code.
        url: the URL requested.
        detail: the `message` field of a JSON error body, or the start of the body.
    """

    def __init__(self, status: int, url: str, detail: str):
        super().__init__(f"GET {url}: HTTP {status}" + (f" ({detail})" if detail else ""))
        self.status = status
        self.url = url
        self.detail = detail


class RateLimitError(FetchError):
    """The server asks to wait longer than allowed (`max_wait`).

    Attributes:
        retry_at: when the server says requests will be accepted again (UTC).
    """

    def __init__(self, message: str, retry_at: datetime):
        super().__init__(message)
        self.retry_at = retry_at


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (library messages often add hints on further lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
