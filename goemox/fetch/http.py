"""A JSON-over-HTTP GET client for flaky networks and rate-limited APIs.

Built on the standard library (`urllib.request`): goemox only needs GET requests returning JSON, and the retry
rules (exponential backoff, `Retry-After`, GitHub's `X-RateLimit-*` headers, a bound on how long to wait) are
ours to write whichever transport is used, so no extra dependency is worth it.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from goemox.errors import FetchError, GoEmoXError, HttpStatusError, RateLimitError

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: wait at least a minute after a secondary rate limit that names no time


@dataclass
class RetryPolicy:
    """How hard to try.

    Args:
        timeout: seconds to wait for the connection and for each read from the socket.
        max_retries: retries after the first attempt (for connection errors, 5xx and rate limits alike).
        backoff_base: the first backoff delay in seconds; it doubles with each retry.
        backoff_cap: the longest backoff delay in seconds.
        max_wait: the longest single wait in seconds that a rate limit (`Retry-After`, `X-RateLimit-Reset`) may
            impose; a longer one stops with a `RateLimitError` naming the time to retry.
    """

    timeout: float = 30.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_wait: float = 300.0

    def __post_init__(self):
        if self.timeout <= 0 or self.max_retries < 0 or self.backoff_base < 0 or self.max_wait < 0:
            raise GoEmoXError(
                f"retry settings must be non-negative (and the timeout positive), got timeout={self.timeout}, "
                f"max_retries={self.max_retries}, backoff_base={self.backoff_base}, max_wait={self.max_wait}"
            )


@dataclass
class JsonResponse:
    """A successful answer: the decoded JSON body, the status and the headers (names in lower case)."""

    url: str
    status: int
    data: object
    headers: dict[str, str] = field(repr=False)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: a number of seconds or an HTTP-date; `None` if absent/invalid.

    Args:
        value: the header value.
        now: the current time (seconds since the epoch).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def utc_text(timestamp: float) -> str:
    """A timestamp as `2026-05-01 13:45:00 UTC`."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class JsonClient:
    """GET JSON documents with timeouts, retries, backoff with jitter, and rate-limit handling.

    Retried: connection errors (refused, reset, dropped without an answer, timeouts, truncated bodies), HTTP 5xx
    (honouring `Retry-After`), HTTP 429, and 403 when it is a rate limit (GitHub: `X-RateLimit-Remaining: 0`
    with `X-RateLimit-Reset`, or a secondary limit with `Retry-After`). A rate limit that asks for a wait longer
    than `policy.max_wait` stops at once with a `RateLimitError`. After a success announcing
    `X-RateLimit-Remaining: 0`, the next request first waits for the reset (within the same bound).

    The headers given (e.g. `Authorization`) are sent with every request and never appear in messages or logs.
    Credential headers (`Authorization`, `Cookie`, any name holding `token` or `key`) go only to the origin
    (scheme, host and port) of `credential_host`, or of the requested URL when it is `None`: a redirect elsewhere
    is followed without them. The client is safe to share between threads.

    Args:
        headers: headers for every request.
        policy: timeouts, retries and waits.
        credential_host: the API base URL the credential headers belong to (e.g. `https://api.github.com`).
        sleep: the function that waits (tests pass a recorder).
        clock: the current time in seconds since the epoch.
        rng: returns a float in [0, 1) for the jitter.

    Example:
        >>> client = JsonClient({"User-Agent": "goemox"}, RetryPolicy(max_retries=3))
        >>> client.get("https://hacker-news.firebaseio.com/v0/item/8863.json").data["title"]  # doctest: +SKIP
    """

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        credential_host: str | None = None,
    ):
        self._headers = dict(headers or {})
        self._credential_origin = _origin(credential_host) if credential_host else None
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._blocked_until: float | None = None
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"JsonClient(policy={self.policy!r})"

    def backoff_delay(self, retry: int) -> float:
        """The delay before retry number `retry` (0-based): `base * 2**retry` capped, then jittered to 50-100%."""
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2**retry)
        return delay * (0.5 + 0.5 * self._rng())

    def get(self, url: str, params: Mapping[str, object] | None = None) -> JsonResponse:
        """GET `url` (with `params` added to its query) and decode the JSON body.

        Args:
            url: an absolute http(s) URL.
            params: query parameters.

        Raises:
            HttpStatusError: an error status that is not retried (e.g. 401, 404, a 403 that is no rate limit).
            RateLimitError: the server asks to wait longer than `policy.max_wait`.
            FetchError: retries exhausted, or a body that is not JSON.
        """
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"
        retries = self.policy.max_retries
        for attempt in range(retries + 1):
            self._wait_for_reset(url)
            last_try = attempt == retries
            try:
                status, headers, body = self._request(url)
            except urllib.error.HTTPError as err:
                headers = {key.lower(): value for key, value in err.headers.items()} if err.headers else {}
                body = _read_error_body(err)
                wait, reason = self._wait_for_error(err.code, headers, body, url, attempt)
                if last_try:
                    raise FetchError(f"GET {url}: {reason}; gave up after {attempt + 1} attempts") from None
                self._pause(wait, f"{reason}; retry {attempt + 1}/{retries} of {url}")
                continue
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                reason = _describe_connection_error(err)
                if last_try:
                    raise FetchError(f"GET {url}: {reason}; gave up after {attempt + 1} attempts") from None
                self._pause(self.backoff_delay(attempt), f"{reason}; retry {attempt + 1}/{retries} of {url}")
                continue
            self._note_rate_limit(headers)
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise FetchError(f"GET {url}: HTTP {status} but the body is not JSON ({err})") from None
            return JsonResponse(url=url, status=status, data=data, headers=headers)
        raise AssertionError("unreachable: the loop returns or raises")

    def _request(self, url: str) -> tuple[int, dict[str, str], bytes]:
        allowed = self._credential_origin or _origin(url)
        headers = self._headers if _origin(url) == allowed else _without_credentials(self._headers)
        request = urllib.request.Request(url, headers=headers, method="GET")
        opener = urllib.request.build_opener(_CredentialKeepingRedirects(allowed))
        with self._lock:
            self.requests_sent += 1
        with opener.open(request, timeout=self.policy.timeout) as response:
            body = response.read()
            headers = {key.lower(): value for key, value in response.headers.items()}
            return response.status, headers, body

    def _wait_for_error(
        self, status: int, headers: dict[str, str], body: bytes, url: str, attempt: int
    ) -> tuple[float, str]:
        """How long to wait before retrying after an error status, and why; raises when retrying cannot help."""
        now = self._clock()
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        reset = _rate_limit_reset(headers)
        detail = _error_detail(body)
        secondary = status == 403 and "rate limit" in detail.lower()
        if status == 429 or (status == 403 and (retry_after is not None or reset is not None or secondary)):
            if retry_after is not None:
                wait, why = retry_after, f"Retry-After {headers['retry-after']}"
            elif reset is not None:
                wait, why = max(0.0, reset - now) + 1.0, "X-RateLimit-Remaining 0"
            elif secondary:
                wait, why = max(SECONDARY_LIMIT_WAIT, self.backoff_delay(attempt)), detail
            else:
                wait, why = self.backoff_delay(attempt), "no Retry-After"
            self._check_wait(wait, now, url, f"HTTP {status}, {why}")
            return wait, f"rate limited (HTTP {status}, {why})"
        if status in RETRYABLE_STATUSES:
            if retry_after is not None:
                self._check_wait(retry_after, now, url, f"HTTP {status}, Retry-After {headers['retry-after']}")
                return retry_after, f"HTTP {status}"
            return self.backoff_delay(attempt), f"HTTP {status}"
        raise HttpStatusError(status, url, detail)

    def _check_wait(self, wait: float, now: float, url: str, why: str) -> None:
        """Raise a `RateLimitError` naming the time to retry when `wait` (from `now`) exceeds `max_wait`."""
        if wait > self.policy.max_wait:
            retry_at = now + wait
            raise RateLimitError(
                f"GET {url}: rate limited ({why}); retry after {utc_text(retry_at)} "
                f"(in {_duration(wait)}, longer than --max_wait {self.policy.max_wait:g} s)",
                datetime.fromtimestamp(retry_at, tz=timezone.utc),
            )

    def _note_rate_limit(self, headers: dict[str, str]) -> None:
        """Remember that the quota is spent, so that the next request waits for the reset instead of failing."""
        reset = _rate_limit_reset(headers)
        if reset is not None:
            with self._lock:
                self._blocked_until = reset + 1.0

    def _wait_for_reset(self, url: str) -> None:
        with self._lock:
            until, self._blocked_until = self._blocked_until, None
        if until is None:
            return
        now = self._clock()
        wait = until - now
        if wait <= 0:
            return
        self._check_wait(wait, now, url, "X-RateLimit-Remaining 0")
        self._pause(wait, f"rate limit quota spent; waiting for its reset before {url}")

    def _pause(self, seconds: float, why: str) -> None:
        logger.warning("%s: waiting %.1f s", why, seconds)
        self._sleep(seconds)


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, with the default port of http/https filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def is_credential_header(name: str) -> bool:
    """Whether a header carries a credential: `Authorization`, `Cookie`, or a name holding `token` or `key`.

    Example:
        >>> is_credential_header("X-Api-Token"), is_credential_header("Accept")
        (True, False)
    """
    lowered = name.lower()
    return lowered in CREDENTIAL_HEADERS or "token" in lowered or "key" in lowered


def _without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if not is_credential_header(name)}


class _CredentialKeepingRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects like urllib, but drops credential headers when the target leaves the allowed origin."""

    def __init__(self, allowed: tuple[str, str, int | None]):
        self.allowed = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != self.allowed:
            for name in [name for name in new.headers if is_credential_header(name)]:
                new.remove_header(name)
            for name in [name for name in new.unredirected_hdrs if is_credential_header(name)]:
                del new.unredirected_hdrs[name]
        return new


def _rate_limit_reset(headers: dict[str, str]) -> float | None:
    """The `X-RateLimit-Reset` time (epoch seconds) when `X-RateLimit-Remaining` is 0, else `None`."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    try:
        return float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None


def _read_error_body(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read() or b""
    except (http.client.HTTPException, OSError):
        return b""


def _error_detail(body: bytes) -> str:
    """The `message` of a JSON error body (GitHub's style), else the first 200 characters of the body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        content = json.loads(text)
    except json.JSONDecodeError:
        return " ".join(text.split())[:200]
    if isinstance(content, dict) and isinstance(content.get("message"), str):
        return content["message"]
    return " ".join(text.split())[:200]


def _describe_connection_error(err: BaseException) -> str:
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, http.client.IncompleteRead):
        return "answer cut short"
    return f"connection error ({type(reason).__name__}: {reason})"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
