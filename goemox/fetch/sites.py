"""Fetch real out-of-domain text: Hacker News stories and GitHub issues, cached on disk and written as JSONL/CSV.

Every item or page is stored in a cache folder as soon as it arrives, so a run that stops (network failure, rate
limit, Ctrl-C) continues where it stopped when the same command is run again. The output file is written at the
end, atomically, with a `text` column that `goemox predict` and `goemox analyze --domain` read directly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

from tqdm.auto import tqdm

from goemox.errors import GoEmoXUsageError
from goemox.fetch.http import FetchError, HttpStatusError, JsonClient
from goemox.file_io import check_output_file, write_text_atomically

DEFAULT_HN_API = "https://hacker-news.firebaseio.com/v0"
DEFAULT_GITHUB_API = "https://api.github.com"
HN_API_ENV = "GOEMOX_HN_API"
GITHUB_API_ENV = "GOEMOX_GITHUB_API"
GITHUB_TOKEN_ENVS = ("GITHUB_TOKEN", "GH_TOKEN")
HN_LISTS = ("top", "new", "best")
GITHUB_STATES = ("open", "closed", "all")
OUTPUT_FORMATS = ("jsonl", "csv")
HN_COLUMNS = ("text", "source", "id", "url", "created_at", "title", "type", "score", "link")
GITHUB_COLUMNS = ("text", "source", "id", "url", "created_at", "title", "kind", "state")
GITHUB_PAGE_SIZE = 100
REPO_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")


class FetchCache:
    """JSON documents stored one per file under `root`, each written atomically.

    Args:
        root: the cache folder (created on the first write).

    Example:
        >>> cache = FetchCache(Path("hn.jsonl.cache"))
        >>> cache.write({"id": 1}, "hackernews", "items", "1.json")  # doctest: +SKIP
        >>> cache.read("hackernews", "items", "1.json")  # doctest: +SKIP
        {'id': 1}
    """

    MISSING = object()

    def __init__(self, root: Path):
        self.root = Path(root)

    def read(self, *parts: str) -> object:
        """The stored document, or `FetchCache.MISSING` (also for an unreadable file, which is then fetched anew)."""
        path = self.root.joinpath(*parts)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return self.MISSING

    def write(self, document: object, *parts: str) -> None:
        """Store `document` as JSON at `root/parts...`."""
        write_text_atomically(self.root.joinpath(*parts), json.dumps(document, ensure_ascii=False))

    def holds_data(self) -> bool:
        """Whether any document is stored (a missing or empty folder holds nothing)."""
        if not self.root.is_dir():
            return False
        return any(path.is_file() and not path.name.startswith(".") for path in self.root.rglob("*"))

    def resume_note(self) -> str:
        """Where the fetched part is kept and how to continue, or `""` when nothing was stored yet."""
        if not self.holds_data():
            return ""
        return f"what was fetched is kept in {self.root}/: run the same command again to continue from there"


class _PlainTextParser(HTMLParser):
    """Collects the text of an HTML fragment: paragraphs and line breaks become newlines, code blocks are dropped."""

    BREAKS = {"br": "\n", "p": "\n\n", "div": "\n", "li": "\n", "tr": "\n", "blockquote": "\n\n", "summary": "\n"}
    SKIPPED = {"pre", "script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
            self.parts.append("\n")
        elif tag in self.BREAKS:
            self.parts.append(self.BREAKS[tag])

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
            self.parts.append("\n")
        elif tag in self.BREAKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def tidy_whitespace(text: str) -> str:
    """Collapse runs of spaces, strip every line, and keep at most one blank line between paragraphs."""
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (Hacker News' `text`): tags removed, entities unescaped, `<pre>` code dropped.

    Example:
        >>> html_to_text("I&#x27;m <i>so</i> glad.<p>Second <a href=\\"x\\">link</a>")
        "I'm so glad.\\n\\nSecond link"
    """
    parser = _PlainTextParser()
    parser.feed(html)
    parser.close()
    return tidy_whitespace("".join(parser.parts))


MARKDOWN_RULES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"<!--.*?(?:-->|\Z)", re.S), ""),  # comments (issue templates are full of them)
    (re.compile(r"^[ \t]*(`{3,}|~{3,}).*?(?:^[ \t]*\1[^\n]*$|\Z)", re.M | re.S), ""),  # fenced code blocks
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their words
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code keeps its words
    (re.compile(r"https?://\S+"), ""),  # bare URLs
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M), ""),  # heading markers
    (re.compile(r"^[ \t]*>[ \t]?", re.M), ""),  # quote markers
    (re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.M), ""),  # list and task markers
    (re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.M), ""),  # horizontal rules
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italics with *
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1"),  # italics with _ (not snake_case)
)


def markdown_to_text(markdown: str) -> str:
    """Plain text of a GitHub Markdown body: comments, code blocks, images and URLs dropped, markup removed.

    Example:
        >>> markdown_to_text("<!-- template -->\\n## Bug\\nIt **crashes**, see [log](http://x).\\n```\\ntrace\\n```")
        'Bug\\nIt crashes, see log.'
    """
    text = markdown.replace("\r\n", "\n")
    for pattern, replacement in MARKDOWN_RULES:
        text = pattern.sub(replacement, text)
    return html_to_text(text)


def join_text(title: str, body: str, titles_only: bool) -> str:
    """`title`, or `title` and `body` separated by a blank line (either may be empty)."""
    parts = [title.strip()] if titles_only else [title.strip(), body.strip()]
    return "\n\n".join(part for part in parts if part)


def api_url(option: str | None, env_name: str, default: str) -> str:
    """The API base URL: the option, else the environment variable, else the public default (no trailing `/`)."""
    url = (option or os.environ.get(env_name) or default).rstrip("/")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise GoEmoXUsageError(f"API URL {url!r} (from --api_url or ${env_name}): expected an http:// or https:// URL")
    return url


def _progress(total: int | None, desc: str, unit: str, show: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, dynamic_ncols=True)


def hackernews_row(item: object, titles_only: bool = False) -> dict | None:
    """One output row for a Hacker News item, or `None` for a missing, deleted or dead item, or one with no text."""
    if not isinstance(item, dict) or item.get("deleted") or item.get("dead") or "id" not in item:
        return None
    title = html_to_text(item.get("title") or "")
    text = join_text(title, html_to_text(item.get("text") or ""), titles_only)
    if not text:
        return None
    created = item.get("time")
    return {
        "text": text,
        "source": "hackernews",
        "id": str(item["id"]),
        "url": f"https://news.ycombinator.com/item?id={item['id']}",
        "created_at": _iso_utc(created) if isinstance(created, (int, float)) else "",
        "title": title,
        "type": item.get("type") or "",
        "score": item.get("score", ""),
        "link": item.get("url") or "",
    }


def fetch_hackernews(
    client: JsonClient,
    cache: FetchCache,
    api: str = DEFAULT_HN_API,
    story_list: str = "top",
    limit: int | None = None,
    titles_only: bool = False,
    workers: int = 8,
    refresh: bool = False,
    show_progress: bool = True,
) -> list[dict]:
    """Rows (see `HN_COLUMNS`) for the stories of a Hacker News list, in the list's order.

    The list of ids is cached too, so that a re-run completes the same set; `refresh=True` fetches it anew
    (stored items are still reused). Deleted and dead items are skipped.

    Args:
        client: the HTTP client.
        cache: where ids and items are stored as they arrive.
        api: the API base URL (ending in `/v0`).
        story_list: `top`, `new` or `best`.
        limit: the most rows to return (`None`: the whole list, up to 500).
        titles_only: `text` is the title alone (else the title, a blank line and the item's text).
        workers: items fetched in parallel.
        refresh: fetch the list of ids again even if cached.
        show_progress: show a tqdm bar.

    Example:
        >>> rows = fetch_hackernews(JsonClient(), FetchCache(Path("cache")), limit=50)  # doctest: +SKIP
    """
    if story_list not in HN_LISTS:
        raise GoEmoXUsageError(f"--list must be one of {HN_LISTS}, got {story_list!r}")
    if workers < 1:
        raise GoEmoXUsageError(f"--workers must be at least 1, got {workers}")
    list_url = f"{api}/{story_list}stories.json"
    stored = None if refresh else cache.read("hackernews", f"{story_list}stories.json")
    if isinstance(stored, dict) and stored.get("url") == list_url and isinstance(stored.get("ids"), list):
        ids = stored["ids"]
    else:
        ids = client.get(list_url).data
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise FetchError(f"GET {list_url}: expected a JSON list of item ids, got {_preview(ids)}")
        cache.write({"url": list_url, "ids": ids}, "hackernews", f"{story_list}stories.json")

    def load_item(item_id: int) -> object:
        item = cache.read("hackernews", "items", f"{item_id}.json")
        if item is FetchCache.MISSING:
            item = client.get(f"{api}/item/{item_id}.json").data
            cache.write(item, "hackernews", "items", f"{item_id}.json")
        return item

    wanted = len(ids) if limit is None else min(limit, len(ids))
    rows: list[dict] = []
    position = 0
    with (
        _progress(wanted, f"Hacker News {story_list}", "story", show_progress) as bar,
        _thread_pool(workers) as pool,
    ):
        while position < len(ids) and len(rows) < wanted:
            window = ids[position : position + wanted - len(rows)]
            position += len(window)
            for item in pool.map(load_item, window):
                row = hackernews_row(item, titles_only)
                if row is not None:
                    rows.append(row)
                    bar.update(1)
    return rows


def parse_repo(repo: str) -> tuple[str, str]:
    """`(owner, name)` from `OWNER/REPO`, with a clear message for anything else."""
    if not REPO_PATTERN.fullmatch(repo or "") or repo.split("/")[1] in (".", ".."):
        raise GoEmoXUsageError(
            f"repository {repo!r}: expected OWNER/REPO, e.g. huggingface/transformers "
            "(letters, digits and '-' in the owner; letters, digits, '.', '_' and '-' in the name)"
        )
    owner, name = repo.split("/")
    return owner, name


def github_token(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """`(token, variable name)` from `GITHUB_TOKEN` or `GH_TOKEN`, or `(None, None)`."""
    environ = os.environ if environ is None else environ
    for name in GITHUB_TOKEN_ENVS:
        if environ.get(name, "").strip():
            return environ[name].strip(), name
    return None, None


def github_headers(token: str | None) -> dict[str, str]:
    """The headers GitHub's REST API expects, with `Authorization: Bearer` when a token is given."""
    from goemox import __version__

    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": f"goemox/{__version__}",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def next_link(link_header: str | None, api: str) -> str | None:
    """The `rel="next"` URL of a `Link` header, refusing one on another host (the token must not leave the API).

    Example:
        >>> next_link('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=9>; rel="last"',
        ...           "https://api.github.com")
        'https://api.github.com/x?page=2'
    """
    if not link_header:
        return None
    for part in link_header.split(","):
        match = re.fullmatch(r"\s*<([^>]*)>\s*;(.*)", part)
        if match and re.search(r'\brel="?([^"]*\s)?next(\s[^"]*)?"?', match.group(2)):
            url = match.group(1)
            if _origin(url) != _origin(api):
                raise FetchError(f"the API's Link header points to another host ({_origin(url)}); not following it")
            return url
    return None


def github_issue_row(issue: object, repo: str, titles_only: bool = False) -> dict | None:
    """One output row for a GitHub issue (or pull request), or `None` when it has no text."""
    if not isinstance(issue, dict) or "number" not in issue:
        return None
    title = tidy_whitespace(issue.get("title") or "")
    text = join_text(title, markdown_to_text(issue.get("body") or ""), titles_only)
    if not text:
        return None
    return {
        "text": text,
        "source": f"github:{repo}",
        "id": f"{repo}#{issue['number']}",
        "url": issue.get("html_url") or "",
        "created_at": issue.get("created_at") or "",
        "title": title,
        "kind": "pull_request" if "pull_request" in issue else "issue",
        "state": issue.get("state") or "",
    }


def fetch_github_issues(
    client: JsonClient,
    cache: FetchCache,
    repo: str,
    api: str = DEFAULT_GITHUB_API,
    state: str = "all",
    limit: int | None = None,
    include_pulls: bool = False,
    titles_only: bool = False,
    refresh: bool = False,
    token_source: str | None = None,
    show_progress: bool = True,
) -> list[dict]:
    """Rows (see `GITHUB_COLUMNS`) for the issues of a GitHub repository, newest first, following `Link` pages.

    Each page is cached as it arrives (with the URL of the next one), so a re-run continues from the first page
    not stored yet; `refresh=True` fetches every page again. Pull requests are skipped unless `include_pulls`.

    Args:
        client: the HTTP client (with the token in its headers, if any).
        cache: where pages are stored.
        repo: `OWNER/REPO`.
        api: the API base URL.
        state: `open`, `closed` or `all`.
        limit: the most rows to return (`None`: every issue).
        include_pulls: keep pull requests too.
        titles_only: `text` is the title alone (else the title, a blank line and the body as plain text).
        refresh: fetch pages again even if cached.
        token_source: where the client's token came from (e.g. `$GITHUB_TOKEN`), for messages; `None`: no token.
        show_progress: show a tqdm bar.

    Example:
        >>> client = JsonClient(github_headers(None))
        >>> rows = fetch_github_issues(client, FetchCache(Path("c")), "psf/requests", limit=200)  # doctest: +SKIP
    """
    owner, name = parse_repo(repo)
    if state not in GITHUB_STATES:
        raise GoEmoXUsageError(f"--state must be one of {GITHUB_STATES}, got {state!r}")
    url: str | None = f"{api}/repos/{owner}/{name}/issues?state={state}&per_page={GITHUB_PAGE_SIZE}"
    folder = ("github", owner, name, f"issues-{state}")
    rows: list[dict] = []
    seen: set[str] = set()
    visited: set[str] = set()
    page = 0
    with _progress(limit, f"GitHub {repo}", "issue", show_progress) as bar:
        while url and (limit is None or len(rows) < limit):
            if url in visited:
                raise FetchError(f"GitHub's Link header leads back to {url}; stopping")
            visited.add(url)
            page += 1
            stored = None if refresh else cache.read(*folder, f"page-{page:05d}.json")
            if not (isinstance(stored, dict) and stored.get("url") == url and isinstance(stored.get("items"), list)):
                stored = _github_page(client, url, api, repo, token_source)
                cache.write(stored, *folder, f"page-{page:05d}.json")
            for issue in stored["items"]:
                if limit is not None and len(rows) >= limit:
                    break
                if "pull_request" in issue and not include_pulls:
                    continue
                row = github_issue_row(issue, f"{owner}/{name}", titles_only)
                if row is not None and row["id"] not in seen:
                    seen.add(row["id"])
                    rows.append(row)
                    bar.update(1)
            url = stored["next"]
    return rows


def _github_page(client: JsonClient, url: str, api: str, repo: str, token_source: str | None) -> dict:
    """One page of issues as `{"url", "next", "items"}`, with GitHub's errors turned into plain advice."""
    try:
        response = client.get(url)
    except HttpStatusError as err:
        if err.status == 401:
            who = f"the token from {token_source}" if token_source else "the request (no token was sent)"
            raise FetchError(
                f"GitHub answered 401 Unauthorized ({err.detail or 'no detail'}): it rejected {who}; "
                f"set a valid token in {' or '.join(GITHUB_TOKEN_ENVS)}, or unset it for public repositories"
            ) from None
        if err.status == 404:
            raise FetchError(
                f"GitHub has no repository {repo} visible "
                + ("to the token" if token_source else "without a token")
                + f" (HTTP 404); check the name, or set {GITHUB_TOKEN_ENVS[0]} for a private repository"
            ) from None
        if err.status == 410:
            raise FetchError(f"{repo} has issues disabled (HTTP 410: {err.detail})") from None
        raise
    if not isinstance(response.data, list) or not all(isinstance(item, dict) for item in response.data):
        raise FetchError(f"GET {url}: expected a JSON list of issues, got {_preview(response.data)}")
    return {"url": url, "next": next_link(response.headers.get("link"), api), "items": response.data}


def output_format(path: str, fmt: str | None) -> str:
    """`fmt`, or `csv` for a `.csv` output and `jsonl` otherwise."""
    if fmt is None:
        return "csv" if path.lower().endswith(".csv") else "jsonl"
    if fmt not in OUTPUT_FORMATS:
        raise GoEmoXUsageError(f"--format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    return fmt


def write_rows(rows: Sequence[dict], path: Path, fmt: str, columns: Sequence[str], overwrite: bool = False) -> None:
    """Write the rows as JSONL or CSV (a header row), atomically; an existing file only with `overwrite`."""
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row in rows:
            buffer.write(json.dumps({key: row.get(key, "") for key in columns}, ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    check_output_file(path, overwrite)
    write_text_atomically(path, buffer.getvalue())


@contextlib.contextmanager
def resumable(cache: FetchCache) -> Iterator[None]:
    """Add to a fetch error where the fetched part is kept and that re-running the command continues from it.

    The cache is named only when it holds something: after a failure before the first answer, the error is
    raised as it was.
    """
    try:
        yield
    except FetchError as err:
        note = cache.resume_note()
        if not note:
            raise
        raise FetchError(f"{err}. {note[0].upper()}{note[1:]}") from None


@contextlib.contextmanager
def _thread_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that cancels its queued work when the caller stops early (an error or Ctrl-C)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="goemox-fetch")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _iso_utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _preview(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
