"""The retrying JSON client against a local server that fails, drops connections and rate-limits."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from local_api import LocalApi, Reply

from goemox.fetch.http import (
    FetchError,
    HttpStatusError,
    JsonClient,
    RateLimitError,
    RetryPolicy,
    parse_retry_after,
    utc_text,
)

NOW = 1_900_000_000.0  # a fixed "current time" for the fake clock (2030-03-17)
TOKEN = "ghp_SECRETtoken0123456789"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class FakeTime:
    """A clock that only moves when the client sleeps, recording every sleep."""

    def __init__(self, now: float = NOW):
        self.now = now
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_client(fake: FakeTime, headers: dict | None = None, **policy) -> JsonClient:
    policy = {"timeout": 5.0, "max_retries": 4, **policy}
    return JsonClient(headers, RetryPolicy(**policy), sleep=fake.sleep, clock=fake.clock, rng=lambda: 1.0)


def test_success_returns_json_and_headers():
    fake = FakeTime()
    with LocalApi(lambda path, nth: Reply({"id": 1, "title": "Hi"}, headers={"X-Extra": "yes"})) as api:
        response = make_client(fake).get(f"{api.url}/item/1.json", params={"print": "pretty"})
    assert response.data == {"id": 1, "title": "Hi"}
    assert response.status == 200 and response.headers["x-extra"] == "yes"
    assert api.paths() == ["/item/1.json?print=pretty"]
    assert fake.sleeps == []


def test_5xx_is_retried_with_exponential_backoff():
    fake = FakeTime()
    statuses = [500, 502, 503]
    with LocalApi(lambda path, nth: Reply({"ok": True}) if nth >= 3 else Reply({}, status=statuses[nth])) as api:
        client = make_client(fake, backoff_base=0.5)
        assert client.get(f"{api.url}/x").data == {"ok": True}
    assert [entry.status for entry in api.log] == [500, 502, 503, 200]
    assert fake.sleeps == [0.5, 1.0, 2.0]  # jitter at its maximum (rng 1.0): base * 2**retry
    assert client.requests_sent == 4


def test_backoff_is_jittered_and_capped():
    client = JsonClient(policy=RetryPolicy(backoff_base=1.0, backoff_cap=8.0), rng=lambda: 0.0)
    assert [client.backoff_delay(retry) for retry in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_retries_are_bounded():
    fake = FakeTime()
    with (
        LocalApi(lambda path, nth: Reply({"message": "boom"}, status=500)) as api,
        pytest.raises(FetchError, match=r"HTTP 500; gave up after 3 attempts"),
    ):
        make_client(fake, max_retries=2).get(f"{api.url}/x")
    assert len(api.log) == 3 and len(fake.sleeps) == 2


def test_dropped_connection_is_retried():
    fake = FakeTime()
    with LocalApi(lambda path, nth: Reply(drop=True) if nth == 0 else Reply([1, 2, 3])) as api:
        assert make_client(fake).get(f"{api.url}/topstories.json").data == [1, 2, 3]
    assert [entry.status for entry in api.log] == [None, 200]
    assert len(fake.sleeps) == 1


def test_timeout_is_retried():
    fake = FakeTime()
    with LocalApi(lambda path, nth: Reply({"slow": True}, delay=1.0) if nth == 0 else Reply({"fast": True})) as api:
        assert make_client(fake, timeout=0.2).get(f"{api.url}/x").data == {"fast": True}
    assert len(fake.sleeps) == 1


def test_connection_refused_gives_up_with_a_message():
    with LocalApi(lambda path, nth: Reply({})) as api:
        url = api.url
    fake = FakeTime()
    with pytest.raises(FetchError, match=r"connection error .*gave up after 2 attempts"):
        make_client(fake, max_retries=1).get(f"{url}/x")


def test_429_retry_after_seconds_is_honoured():
    fake = FakeTime()
    with LocalApi(lambda path, nth: Reply({}, 429, {"Retry-After": "7"}) if nth == 0 else Reply({"ok": 1})) as api:
        assert make_client(fake).get(f"{api.url}/x").data == {"ok": 1}
    assert fake.sleeps == [7.0]


def test_retry_after_as_http_date_is_honoured():
    fake = FakeTime()
    date = format_datetime(datetime.fromtimestamp(NOW + 42, tz=timezone.utc), usegmt=True)
    with LocalApi(lambda path, nth: Reply({}, 503, {"Retry-After": date}) if nth == 0 else Reply({"ok": 1})) as api:
        assert make_client(fake).get(f"{api.url}/x").data == {"ok": 1}
    assert fake.sleeps == [42.0]


def test_parse_retry_after():
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(format_datetime(datetime.fromtimestamp(NOW - 5, tz=timezone.utc), usegmt=True), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def rate_limited(reset: float) -> Reply:
    headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset))}
    return Reply({"message": "API rate limit exceeded for 127.0.0.1."}, 403, headers)


def test_github_rate_limit_waits_for_the_reset():
    fake = FakeTime()
    with LocalApi(lambda path, nth: rate_limited(NOW + 30) if nth == 0 else Reply([{"number": 1}])) as api:
        assert make_client(fake).get(f"{api.url}/repos/o/r/issues").data == [{"number": 1}]
    assert fake.sleeps == [31.0]  # until the reset, plus a second of margin


def test_github_rate_limit_far_away_stops_with_the_retry_time():
    fake = FakeTime()
    reset = NOW + 3600
    with LocalApi(lambda path, nth: rate_limited(reset)) as api, pytest.raises(RateLimitError) as caught:
        make_client(fake, max_wait=300).get(f"{api.url}/repos/o/r/issues")
    assert utc_text(reset + 1) in str(caught.value)
    assert "UTC" in str(caught.value) and "--max_wait" in str(caught.value)
    assert caught.value.retry_at == datetime.fromtimestamp(reset + 1, tz=timezone.utc)
    assert len(api.log) == 1 and fake.sleeps == []


def test_spent_quota_on_a_success_delays_the_next_request():
    fake = FakeTime()
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 20))}
    with LocalApi(lambda path, nth: Reply({"page": path}, headers=spent if path == "/a" else {})) as api:
        client = make_client(fake)
        client.get(f"{api.url}/a")
        assert fake.sleeps == []
        client.get(f"{api.url}/b")
    assert fake.sleeps == [21.0]
    assert api.paths() == ["/a", "/b"]


def test_spent_quota_with_a_far_reset_stops_before_sending():
    fake = FakeTime()
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 7200))}
    with LocalApi(lambda path, nth: Reply({}, headers=spent)) as api:
        client = make_client(fake)
        client.get(f"{api.url}/a")
        with pytest.raises(RateLimitError, match=utc_text(NOW + 7201)):
            client.get(f"{api.url}/b")
    assert api.paths() == ["/a"]


def test_secondary_rate_limit_waits_a_minute():
    fake = FakeTime()
    secondary = Reply({"message": "You have exceeded a secondary rate limit."}, 403)
    with LocalApi(lambda path, nth: secondary if nth == 0 else Reply({"ok": 1})) as api:
        assert make_client(fake).get(f"{api.url}/x").data == {"ok": 1}
    assert fake.sleeps == [60.0]


def test_secondary_rate_limit_with_retry_after_beyond_max_wait_stops():
    fake = FakeTime()
    with (
        LocalApi(lambda path, nth: Reply({"message": "slow down"}, 403, {"Retry-After": "900"})) as api,
        pytest.raises(RateLimitError, match=utc_text(NOW + 900)),
    ):
        make_client(fake, max_wait=60).get(f"{api.url}/x")
    assert len(api.log) == 1


@pytest.mark.parametrize(
    ("status", "detail"), [(401, "Bad credentials"), (403, "Resource not accessible"), (404, "Not Found")]
)
def test_client_errors_are_not_retried(status, detail):
    fake = FakeTime()
    with (
        LocalApi(lambda path, nth: Reply({"message": detail}, status)) as api,
        pytest.raises(HttpStatusError) as caught,
    ):
        make_client(fake).get(f"{api.url}/x")
    assert caught.value.status == status and caught.value.detail == detail
    assert f"HTTP {status} ({detail})" in str(caught.value)
    assert len(api.log) == 1 and fake.sleeps == []


def test_a_body_that_is_not_json_is_an_error():
    with (
        LocalApi(lambda path, nth: Reply(b"<html>maintenance</html>")) as api,
        pytest.raises(FetchError, match="the body is not JSON"),
    ):
        make_client(FakeTime()).get(f"{api.url}/x")


def test_the_token_is_sent_but_never_logged_or_shown(caplog):
    fake = FakeTime()
    replies = [Reply(drop=True), Reply({}, 502), Reply({"message": "Bad credentials"}, 401)]
    with LocalApi(lambda path, nth: replies[min(nth, 2)]) as api:
        client = make_client(fake, headers={"Authorization": f"Bearer {TOKEN}"})
        with caplog.at_level(logging.DEBUG), pytest.raises(HttpStatusError) as caught:
            client.get(f"{api.url}/repos/o/r/issues")
    assert all(entry.headers["Authorization"] == f"Bearer {TOKEN}" for entry in api.log)
    assert len(caplog.records) == 2  # the two retries were logged
    assert TOKEN not in caplog.text and TOKEN not in str(caught.value) and TOKEN not in repr(client)


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="timeout"):
        RetryPolicy(timeout=0)


def redirecting(target: str, status: int = 302):
    """A route that sends every request on to `target` (keeping the path) with a redirect status."""
    return lambda path, nth: Reply({}, status, headers={"Location": f"{target}{path}"})


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_to_another_host_never_carries_the_credential(status):
    received = []
    with LocalApi(lambda path, nth: Reply({"ok": True})) as other, LocalApi(redirecting(other.url, status)) as api:
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Api-Token": TOKEN, "User-Agent": "goemox"}
        client = JsonClient(headers, RetryPolicy(max_retries=0), credential_host=api.url)
        assert client.get(f"{api.url}/repos/o/r/issues").data == {"ok": True}
        received = other.log
    assert api.log[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert len(received) == 1 and received[0].headers["User-Agent"] == "goemox"
    assert TOKEN not in str(received[0].headers)


def test_a_redirect_on_the_api_host_keeps_the_credential():
    def route(path, nth):
        return Reply({"page": 2}) if path == "/b" else Reply({}, 302, headers={"Location": "/b"})

    with LocalApi(route) as api:
        client = JsonClient({"Authorization": f"Bearer {TOKEN}"}, RetryPolicy(max_retries=0), credential_host=api.url)
        assert client.get(f"{api.url}/a").data == {"page": 2}
    assert [entry.headers.get("Authorization") for entry in api.log] == [f"Bearer {TOKEN}"] * 2


def test_the_credential_goes_only_to_the_credential_host():
    with LocalApi(lambda path, nth: Reply({"ok": True})) as other:
        client = JsonClient({"Authorization": f"Bearer {TOKEN}"}, credential_host="https://api.github.com")
        client.get(f"{other.url}/x")
    assert "Authorization" not in other.log[0].headers
