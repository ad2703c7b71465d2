"""Hacker News and GitHub issue fetching against local servers that answer like the real APIs, and fail like them."""

from __future__ import annotations

import json
import re
import time
import urllib.parse

import pytest
from conftest import run_goemox
from local_api import LocalApi, Reply

import goemox.fetch.sites as fetch_module
from goemox.cli import main
from goemox.data.text_files import read_inputs
from goemox.errors import GoEmoXUsageError
from goemox.fetch.http import FetchError, JsonClient, RateLimitError, RetryPolicy, utc_text
from goemox.fetch.sites import (
    GITHUB_COLUMNS,
    FetchCache,
    fetch_github_issues,
    fetch_hackernews,
    github_headers,
    html_to_text,
    markdown_to_text,
    next_link,
    parse_repo,
    resumable,
    write_rows,
)

TOKEN = "ghp_TOPsecret0123456789abcdef"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def quick_client(headers: dict | None = None, max_retries: int = 1, sleeps: list | None = None) -> JsonClient:
    """A client whose waits are recorded instead of slept."""
    record = sleeps if sleeps is not None else []
    return JsonClient(headers, RetryPolicy(timeout=5, max_retries=max_retries), sleep=record.append)


# --- text cleaning ---------------------------------------------------------------------------------------------


def test_html_to_text_unescapes_and_keeps_paragraphs():
    html = 'I&#x27;m <i>so</i> tired of this.<p>Code:<pre><code>x = 1\n</code></pre>See <a href="https://x.y">this</a>'
    assert html_to_text(html) == "I'm so tired of this.\n\nCode:\n\nSee this"
    assert html_to_text("") == ""


def test_markdown_to_text_strips_template_noise():
    body = (
        "<!-- Please fill in the template -->\r\n### Describe the bug\r\n"
        "I'm **really** frustrated: `model.generate()` crashes with my_var_name set.\r\n\r\n"
        "- [x] I searched the issues\r\n> quoted reply\r\n![screenshot](https://i.example/a.png)\r\n"
        "See https://github.com/acme/widgets/issues/1 and [the docs](https://docs.example).\r\n\r\n"
        "```python\r\nimport torch\r\n```\r\n<details><summary>Log</summary>\r\n\r\nTrace &amp; more\r\n</details>\r\n"
    )
    assert markdown_to_text(body) == (
        "Describe the bug\nI'm really frustrated: model.generate() crashes with my_var_name set.\n\n"
        "I searched the issues\nquoted reply\n\nSee and the docs.\n\nLog\n\nTrace & more"
    )


@pytest.mark.parametrize("repo", ["huggingface/transformers", "a/b.c_d-e", "user-1/.github"])
def test_parse_repo_accepts_owner_slash_name(repo):
    assert "/".join(parse_repo(repo)) == repo


@pytest.mark.parametrize("repo", ["transformers", "a/b/c", "-x/y", "o/..", "o/", "https://github.com/o/r", "o/r x"])
def test_parse_repo_rejects_anything_else(repo):
    with pytest.raises(GoEmoXUsageError, match="expected OWNER/REPO"):
        parse_repo(repo)


def test_next_link_follows_rel_next_on_the_same_host_only():
    api = "https://api.github.com"
    header = (
        '<https://api.github.com/repositories/1/issues?page=2>; rel="next", '
        '<https://api.github.com/x?page=5>; rel="last"'
    )
    assert next_link(header, api) == "https://api.github.com/repositories/1/issues?page=2"
    assert next_link('<https://api.github.com/x?page=1>; rel="prev"', api) is None
    assert next_link(None, api) is None
    with pytest.raises(FetchError, match="another host"):
        next_link('<https://evil.example/x?page=2>; rel="next"', api)


# --- Hacker News -----------------------------------------------------------------------------------------------

T0 = 1_714_000_000  # 2024-04-24T23:06:40Z
HN_ITEMS = {
    101: {"id": 101, "type": "story", "by": "pg", "time": T0, "title": "Show HN: A tiny emotion classifier",
          "url": "https://example.com/emo", "score": 120, "descendants": 31},
    102: {"id": 102, "type": "story", "by": "someone", "time": T0 + 60, "score": 45,
          "title": "Ask HN: How do you deal with burnout?",
          "text": "I&#x27;m burned out.<p>What do you do when <i>nothing</i> works?<pre><code>x = 1</code></pre>"},
    103: {"id": 103, "deleted": True, "type": "story", "time": T0 + 120},
    104: {"id": 104, "dead": True, "type": "story", "by": "spam", "time": T0 + 180, "title": "Buy cheap pills"},
    105: None,
    106: {"id": 106, "type": "job", "by": "acme", "time": T0 + 240, "title": "Acme (YC W24) is hiring",
          "text": "We&#x27;re hiring engineers &amp; designers.", "score": 1},
    **{i: {"id": i, "type": "story", "by": f"u{i}", "time": T0 + i, "title": f"Story number {i}", "score": i}
       for i in range(107, 113)},
}  # fmt: skip
HN_IDS = list(HN_ITEMS)


class HackerNews:
    """Routes like the Firebase API; `broken_after` successful item answers, every item request gets a 503."""

    def __init__(self, broken_after: int | None = None):
        self.broken_after = broken_after
        self.served: list[int] = []

    def __call__(self, path: str, nth: int) -> Reply:
        if path == "/v0/topstories.json":
            return Reply(HN_IDS)
        match = re.fullmatch(r"/v0/item/(\d+)\.json", path)
        if not match:
            return Reply({"error": "Permission denied"}, 401)
        if self.broken_after is not None and len(self.served) >= self.broken_after:
            return Reply({"error": "service unavailable"}, 503)
        self.served.append(int(match.group(1)))
        return Reply(HN_ITEMS.get(int(match.group(1))))


def item_ids(paths: list[str]) -> list[int]:
    return [int(m.group(1)) for p in paths if (m := re.fullmatch(r"/v0/item/(\d+)\.json", p))]


def test_hackernews_rows_follow_the_list_and_skip_deleted_dead_and_missing(tmp_path):
    with LocalApi(HackerNews()) as api:
        rows = fetch_hackernews(quick_client(), FetchCache(tmp_path), f"{api.url}/v0", limit=5, show_progress=False)
    assert [row["id"] for row in rows] == ["101", "102", "106", "107", "108"]
    assert (
        rows[1]["text"]
        == "Ask HN: How do you deal with burnout?\n\nI'm burned out.\n\nWhat do you do when nothing works?"
    )
    assert rows[0]["text"] == "Show HN: A tiny emotion classifier" and rows[0]["link"] == "https://example.com/emo"
    assert rows[0]["created_at"] == "2024-04-24T23:06:40Z" and rows[0]["score"] == 120
    assert rows[0]["url"] == "https://news.ycombinator.com/item?id=101" and rows[2]["type"] == "job"
    assert api.paths()[0] == "/v0/topstories.json"
    assert sorted(item_ids(api.paths())) == list(range(101, 109))  # no more items than the limit needed


def test_hackernews_titles_only(tmp_path):
    with LocalApi(HackerNews()) as api:
        rows = fetch_hackernews(
            quick_client(), FetchCache(tmp_path), f"{api.url}/v0", limit=3, titles_only=True, show_progress=False
        )
    assert [row["text"] for row in rows] == [
        "Show HN: A tiny emotion classifier",
        "Ask HN: How do you deal with burnout?",
        "Acme (YC W24) is hiring",
    ]


def test_hackernews_resumes_after_the_server_breaks(tmp_path):
    server = HackerNews(broken_after=4)
    cache = FetchCache(tmp_path / "cache")
    sleeps: list[float] = []
    with LocalApi(server) as api:
        with pytest.raises(FetchError, match="HTTP 503"):
            fetch_hackernews(quick_client(sleeps=sleeps), cache, f"{api.url}/v0", workers=3, show_progress=False)
        assert sleeps, "the 503s were retried after a backoff"
        first_run = set(server.served)
        assert len(first_run) == 4
        assert len(list((tmp_path / "cache" / "hackernews" / "items").glob("*.json"))) == 4
        server.broken_after = None
        done = len(api.log)
        rows = fetch_hackernews(quick_client(), cache, f"{api.url}/v0", workers=3, show_progress=False)
        second_run = api.paths()[done:]
    assert "/v0/topstories.json" not in second_run  # the list was cached
    assert sorted(item_ids(second_run)) == sorted(set(HN_IDS) - first_run)  # only what was missing
    assert [row["id"] for row in rows] == ["101", "102", "106"] + [str(i) for i in range(107, 113)]


def test_hackernews_rerun_uses_the_cache_and_refresh_refetches_only_the_list(tmp_path):
    cache = FetchCache(tmp_path)
    with LocalApi(HackerNews()) as api:
        first = fetch_hackernews(quick_client(), cache, f"{api.url}/v0", show_progress=False)
        count = len(api.log)
        assert count == 1 + len(HN_IDS)
        assert fetch_hackernews(quick_client(), cache, f"{api.url}/v0", show_progress=False) == first
        assert len(api.log) == count
        fetch_hackernews(quick_client(), cache, f"{api.url}/v0", refresh=True, show_progress=False)
        assert api.paths()[count:] == ["/v0/topstories.json"]


def test_hackernews_checks_its_options_before_any_request(tmp_path):
    with LocalApi(HackerNews()) as api:
        for options, message in (({"workers": 0}, "--workers must be at least 1"), ({"story_list": "ask"}, "--list")):
            with pytest.raises(GoEmoXUsageError, match=message):
                fetch_hackernews(quick_client(), FetchCache(tmp_path), f"{api.url}/v0", show_progress=False, **options)
    assert api.log == []


def test_hackernews_rejects_a_list_that_is_not_ids(tmp_path):
    with LocalApi(lambda path, nth: Reply({"not": "a list"})) as api, pytest.raises(FetchError, match="list of item"):
        fetch_hackernews(quick_client(), FetchCache(tmp_path), f"{api.url}/v0", show_progress=False)


# --- GitHub ----------------------------------------------------------------------------------------------------

BODIES = [
    None,
    "<!-- Thanks for reporting! -->\r\n## Bug\r\nThis is **so annoying**, it crashes every time.\r\n"
    "```\r\nTraceback\r\n```",
    "Love this library :heart: thank you for the [great work](https://example.com)!",
    "",
]


def github_item(number: int) -> dict:
    item = {
        "url": f"https://api.github.com/repos/acme/widgets/issues/{number}",
        "html_url": f"https://github.com/acme/widgets/issues/{number}",
        "id": 9_000_000 + number,
        "number": number,
        "title": f"Issue {number}: widget  breaks",
        "user": {"login": f"user{number}"},
        "state": "open" if number % 3 else "closed",
        "created_at": f"2024-01-{1 + number % 28:02d}T10:00:00Z",
        "body": BODIES[number % len(BODIES)],
    }
    if number % 5 == 0:
        item["pull_request"] = {"url": f"https://api.github.com/repos/acme/widgets/pulls/{number}"}
        item["html_url"] = f"https://github.com/acme/widgets/pull/{number}"
    return item


GITHUB_ITEMS = [github_item(n) for n in range(250, 0, -1)]  # newest first, 50 pull requests


class GitHub:
    """Routes like the REST API: `per_page`/`page` pagination with `Link` headers (on /repositories/ID, as GitHub
    does), a rate-limit header budget, and a page that can be made to fail or to be rate-limited."""

    def __init__(self, url: str = "", failing_page: int | None = None, limited_page: int | None = None):
        self.url = url
        self.failing_page = failing_page
        self.limited_page = limited_page
        self.reset = int(time.time()) + 3600

    def __call__(self, path: str, nth: int) -> Reply:
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        if parts.path not in ("/repos/acme/widgets/issues", "/repositories/42/issues"):
            return Reply({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        limits = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": str(self.reset)}
        if page == self.failing_page:
            return Reply({"message": "Server Error"}, 500)
        if page == self.limited_page:
            limits["X-RateLimit-Remaining"] = "0"
            return Reply({"message": "API rate limit exceeded"}, 403, limits)
        last = -(-len(GITHUB_ITEMS) // per_page)
        links = []
        base = f"{self.url}/repositories/42/issues?state={query.get('state', 'open')}&per_page={per_page}"
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
        links.append(f'<{base}&page={last}>; rel="last"')
        body = GITHUB_ITEMS[(page - 1) * per_page : page * per_page]
        return Reply(body, headers={**limits, "Link": ", ".join(links)})


def github_server(**options) -> tuple[LocalApi, GitHub]:
    routes = GitHub(**options)
    api = LocalApi(routes)
    routes.url = api.url
    return api, routes


def test_github_issues_follow_link_pages_skip_pulls_and_send_the_token(tmp_path):
    api, _ = github_server()
    with api:
        client = quick_client(github_headers(TOKEN))
        rows = fetch_github_issues(
            client, FetchCache(tmp_path), "acme/widgets", api.url, limit=None, show_progress=False
        )
    assert api.paths() == [
        "/repos/acme/widgets/issues?state=all&per_page=100",
        "/repositories/42/issues?state=all&per_page=100&page=2",
        "/repositories/42/issues?state=all&per_page=100&page=3",
    ]
    assert all(entry.headers["Authorization"] == f"Bearer {TOKEN}" for entry in api.log)
    assert all(entry.headers["Accept"] == "application/vnd.github+json" for entry in api.log)
    assert len(rows) == 200 and {row["kind"] for row in rows} == {"issue"}
    assert [row["id"] for row in rows[:3]] == ["acme/widgets#249", "acme/widgets#248", "acme/widgets#247"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["acme/widgets#248"]["text"] == "Issue 248: widget breaks"  # no body
    assert (
        by_id["acme/widgets#249"]["text"]
        == "Issue 249: widget breaks\n\nBug\nThis is so annoying, it crashes every time."
    )
    assert by_id["acme/widgets#246"]["text"] == (
        "Issue 246: widget breaks\n\nLove this library :heart: thank you for the great work!"
    )
    assert by_id["acme/widgets#249"]["url"] == "https://github.com/acme/widgets/issues/249"
    assert list(rows[0]) == list(GITHUB_COLUMNS)


def test_github_pull_requests_on_request_and_titles_only(tmp_path):
    api, _ = github_server()
    with api:
        rows = fetch_github_issues(
            quick_client(), FetchCache(tmp_path), "acme/widgets", api.url, limit=None, include_pulls=True,
            titles_only=True, show_progress=False,
        )  # fmt: skip
    assert len(rows) == 250 and sum(row["kind"] == "pull_request" for row in rows) == 50
    assert all(row["text"] == row["title"] for row in rows)


def test_github_limit_stops_paging_early(tmp_path):
    api, _ = github_server()
    with api:
        rows = fetch_github_issues(quick_client(), FetchCache(tmp_path), "acme/widgets", api.url, limit=30,
                                   state="open", show_progress=False)  # fmt: skip
    assert len(rows) == 30 and api.paths() == ["/repos/acme/widgets/issues?state=open&per_page=100"]


def test_github_resumes_from_the_first_missing_page(tmp_path):
    api, routes = github_server(failing_page=3)
    cache = FetchCache(tmp_path / "cache")
    with api:
        with pytest.raises(FetchError, match=r"HTTP 500") as caught, resumable(cache):
            fetch_github_issues(quick_client(), cache, "acme/widgets", api.url, limit=None, show_progress=False)
        assert f"kept in {cache.root}/" in str(caught.value)
        routes.failing_page = None
        done = len(api.log)
        rows = fetch_github_issues(quick_client(), cache, "acme/widgets", api.url, limit=None, show_progress=False)
        assert api.paths()[done:] == ["/repositories/42/issues?state=all&per_page=100&page=3"]
    assert len(rows) == 200


def test_github_rate_limit_stops_with_the_retry_time_and_resumes(tmp_path):
    api, routes = github_server(limited_page=2)
    cache = FetchCache(tmp_path)
    with api:
        with pytest.raises(FetchError) as caught, resumable(cache):
            fetch_github_issues(quick_client(), cache, "acme/widgets", api.url, limit=None, show_progress=False)
        message = str(caught.value)
        assert f"retry after {utc_text(routes.reset + 1)}" in message and "run the same command again" in message
        assert len(api.log) == 2  # no retries against a limit an hour away
        routes.limited_page = None
        rows = fetch_github_issues(quick_client(), cache, "acme/widgets", api.url, limit=None, show_progress=False)
        assert [p.rsplit("page=", 1)[-1] for p in api.paths()[2:]] == ["2", "3"]
    assert len(rows) == 200


def test_github_rate_limit_error_is_a_rate_limit_error_without_the_wrapper(tmp_path):
    api, routes = github_server(limited_page=1)
    with api, pytest.raises(RateLimitError) as caught:
        fetch_github_issues(quick_client(), FetchCache(tmp_path), "acme/widgets", api.url, show_progress=False)
    assert caught.value.retry_at.timestamp() == routes.reset + 1


def test_github_401_and_404_messages(tmp_path):
    bad_token = LocalApi(lambda path, nth: Reply({"message": "Bad credentials"}, 401))
    with bad_token, pytest.raises(FetchError) as caught:
        fetch_github_issues(quick_client(github_headers(TOKEN)), FetchCache(tmp_path), "acme/widgets", bad_token.url,
                            token_source="$GITHUB_TOKEN", show_progress=False)  # fmt: skip
    assert "401 Unauthorized (Bad credentials)" in str(caught.value) and "$GITHUB_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)
    api, _ = github_server()
    with api, pytest.raises(FetchError, match="no repository acme/gone visible without a token"):
        fetch_github_issues(quick_client(), FetchCache(tmp_path), "acme/gone", api.url, show_progress=False)


# --- output ----------------------------------------------------------------------------------------------------

ROWS = [{"text": "first, with a comma", "source": "s", "id": "1"}, {"text": "second\n\nline", "source": "s", "id": "2"}]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_written_rows_are_read_back_as_texts(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    write_rows(ROWS, path, fmt, ("text", "source", "id", "url"))
    assert [row["text"] for row in read_inputs(str(path))] == ["first, with a comma", "second\n\nline"]
    assert list(read_inputs(str(path))[0]) == ["text", "source", "id", "url"]


def test_output_is_never_partial_nor_silently_replaced(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    path.write_text("precious\n")
    with pytest.raises(GoEmoXUsageError, match="already exists; pass --overwrite"):
        write_rows(ROWS, path, "jsonl", ("text",))

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fetch_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_rows(ROWS, path, "jsonl", ("text",), overwrite=True)
    assert path.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temporary file left behind


def test_a_damaged_cache_entry_is_fetched_again(tmp_path):
    cache = FetchCache(tmp_path)
    cache.write({"id": 1}, "hackernews", "items", "1.json")
    assert cache.read("hackernews", "items", "1.json") == {"id": 1}
    (tmp_path / "hackernews" / "items" / "1.json").write_text('{"id": ')
    assert cache.read("hackernews", "items", "1.json") is FetchCache.MISSING


# --- command line ----------------------------------------------------------------------------------------------


def goemox(*args: str, env: dict | None = None):
    """`goemox fetch ARGS` through the shared CLI runner, without proxies or GitHub tokens of the machine."""
    return run_goemox("fetch", *args, env=env, drop_env=(*PROXY_VARIABLES, "GITHUB_TOKEN", "GH_TOKEN"), timeout=120)


def test_cli_hackernews_writes_csv_and_a_rerun_fetches_nothing(tmp_path):
    out = tmp_path / "hn.csv"
    with LocalApi(HackerNews()) as api:
        env = {"GOEMOX_HN_API": f"{api.url}/v0"}
        first = goemox("hackernews", "--list", "top", "--limit", "4", "--output", str(out), env=env)
        assert first.returncode == 0, first.stderr
        assert f"Wrote 4 Hacker News top stories to {out} (8 requests; cache: {out}.cache/)" in first.stdout
        rerun = goemox("hackernews", "--limit", "4", "--output", str(out), "--overwrite", env=env)
        assert rerun.returncode == 0 and "(0 requests" in rerun.stdout
        assert len(api.log) == 8
    rows = read_inputs(str(out))
    assert [row["id"] for row in rows] == ["101", "102", "106", "107"]
    assert rows[1]["text"].startswith("Ask HN: How do you deal with burnout?\n\nI'm burned out.")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`goemox fetch ARGS` in this process (quicker than a subprocess): exit code, stdout, stderr."""
    code = main(["fetch", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GOEMOX_GITHUB_API", "GOEMOX_HN_API"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_cli_refuses_to_replace_an_output(tmp_path, capsys, clean_env):
    out = tmp_path / "hn.jsonl"
    out.write_text("mine\n")
    code, _, err = run_cli(capsys, "hackernews", "--output", str(out), "--api_url", "http://127.0.0.1:9/v0")
    assert code == 2 and f"--output {out} already exists; pass --overwrite to replace it" in err
    assert out.read_text() == "mine\n"


def test_cli_github_rate_limit_leaves_no_output_and_never_shows_the_token(tmp_path, capsys, clean_env, caplog):
    out = tmp_path / "issues.jsonl"
    api, routes = github_server(limited_page=2)
    clean_env.setenv("GITHUB_TOKEN", TOKEN)
    with api:
        clean_env.setenv("GOEMOX_GITHUB_API", api.url)
        code, stopped_out, stopped_err = run_cli(capsys, "github-issues", "acme/widgets", "--limit", "0", "--output",
                                                 str(out))  # fmt: skip
        assert code == 2
        assert f"retry after {utc_text(routes.reset + 1)}" in stopped_err
        assert f"kept in {out}.cache/" in stopped_err
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["issues.jsonl.cache"]
        routes.limited_page = None
        done = len(api.log)
        code, ok_out, ok_err = run_cli(capsys, "github-issues", "acme/widgets", "--limit", "0", "--output", str(out))
        assert code == 0, ok_err
        assert len(api.log) == done + 2  # pages 2 and 3
        assert {entry.headers.get("Authorization") for entry in api.log} == {f"Bearer {TOKEN}"}
    assert TOKEN not in stopped_out + stopped_err + ok_out + ok_err + caplog.text
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 200 and rows[0]["source"] == "github:acme/widgets"


def test_cli_github_bad_token_and_bad_repo(tmp_path, capsys, clean_env):
    clean_env.setenv("GH_TOKEN", TOKEN)
    with LocalApi(lambda path, nth: Reply({"message": "Bad credentials"}, 401)) as api:
        clean_env.setenv("GOEMOX_GITHUB_API", api.url)
        code, out, err = run_cli(capsys, "github-issues", "acme/widgets", "--output", str(tmp_path / "o.jsonl"))
    assert code == 2 and "it rejected the token from $GH_TOKEN" in err
    assert TOKEN not in out + err
    code, _, err = run_cli(capsys, "github-issues", "--repo", "acme", "--output", str(tmp_path / "o.jsonl"))
    assert code == 2 and "repository 'acme': expected OWNER/REPO" in err and err.count("\n") == 1


def test_a_failure_before_anything_was_fetched_does_not_mention_the_cache(tmp_path):
    cache = FetchCache(tmp_path / "never-written")
    with pytest.raises(FetchError) as caught, resumable(cache):
        raise FetchError("GET http://127.0.0.1:9/x: connection refused; gave up after 1 attempts")
    assert "kept in" not in str(caught.value) and str(cache.root) not in str(caught.value)
    (cache.root / "hackernews").mkdir(parents=True)  # an empty folder holds nothing either
    assert not cache.holds_data()
    cache.write({"id": 1}, "hackernews", "items", "1.json")
    assert cache.holds_data()


def test_cli_offline_failure_names_no_cache_that_does_not_exist(tmp_path, capsys, clean_env):
    out = tmp_path / "hn.jsonl"
    code, _, err = run_cli(capsys, "hackernews", "--output", str(out), "--api_url", "http://127.0.0.1:9/v0",
                           "--max_retries", "0", "--no_progress")  # fmt: skip
    assert code == 2 and "gave up after 1 attempts" in err and err.count("\n") == 1
    assert ".cache" not in err and "kept in" not in err
    assert list(tmp_path.iterdir()) == []
