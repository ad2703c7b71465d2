"""Fetching real out-of-domain text (Hacker News stories, GitHub issues) through a retrying JSON client, cached
on disk so that an interrupted fetch continues where it stopped.

Example:

```python
>>> from pathlib import Path
>>> from goemox.fetch import FetchCache, JsonClient, RetryPolicy, fetch_hackernews
>>> client = JsonClient(policy=RetryPolicy(max_retries=3))
>>> rows = fetch_hackernews(client, FetchCache(Path("cache")), limit=100)  # doctest: +SKIP
```"""

from goemox.lazy_names import lazy_names

__all__ = [
    "FetchCache",
    "JsonClient",
    "RetryPolicy",
    "fetch_github_issues",
    "fetch_hackernews",
    "write_rows",
]

_LAZY = {
    "JsonClient": "goemox.fetch.http",
    "RetryPolicy": "goemox.fetch.http",
    "FetchCache": "goemox.fetch.sites",
    "fetch_hackernews": "goemox.fetch.sites",
    "fetch_github_issues": "goemox.fetch.sites",
    "write_rows": "goemox.fetch.sites",
}


__getattr__ = lazy_names(__name__, _LAZY)
