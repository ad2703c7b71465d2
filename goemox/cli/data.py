"""`goemox data stats` (describe a labelled data set) and `goemox fetch` (download out-of-domain text)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from goemox.cli.options import check_at_least, overwrite_field
from goemox.cli.parsing import Command, by_name
from goemox.data.arguments import DataSourceArguments
from goemox.errors import GoEmoXUsageError
from goemox.fetch.sites import GITHUB_STATES, HN_LISTS, OUTPUT_FORMATS


@dataclass
class StatsArguments:
    """What `goemox data stats` describes and where it writes.

    Args:
        tokenizer: the tokenizer folder or Hub id (the model's encoder).
        output_dir: the folder for report.md, stats.json and the PNGs.
        splits: comma-separated splits to describe (default: all).
        max_length: the training max_length; longer rows are counted as truncated.
        top_emoji: how many of the most frequent emoji to describe.
        overwrite: allow writing into a folder that holds files.
    """

    tokenizer: str = field(metadata={"help": "Tokenizer folder or Hub id (the model's encoder)."})
    output_dir: str = field(metadata={"help": "Folder for report.md, stats.json and the PNGs."})
    splits: str | None = field(default=None, metadata={"help": "Comma-separated splits to describe (default: all)."})
    max_length: int = field(default=128, metadata={"help": "Training max_length; longer rows are truncated."})
    top_emoji: int = field(default=15, metadata={"help": "How many of the most frequent emoji to describe."})
    overwrite: bool = overwrite_field("--output_dir")

    def __post_init__(self) -> None:
        check_at_least("max_length", self.max_length, 1)
        check_at_least("top_emoji", self.top_emoji, 0)


def load_tokenizer(name_or_path: str):
    """`AutoTokenizer.from_pretrained`, with a missing or incomplete folder reported in one line."""
    from transformers import AutoTokenizer

    folder = Path(name_or_path)
    if folder.exists() and not any((folder / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise GoEmoXUsageError(f"{name_or_path}: not a tokenizer folder (no tokenizer.json or tokenizer_config.json)")
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise GoEmoXUsageError(f"could not load the tokenizer {name_or_path!r}: {' '.join(str(err).split())}") from None


def run_stats(data: DataSourceArguments, options: StatsArguments) -> int:
    from goemox.data import load_emotion_dataset
    from goemox.data.stats import dataset_statistics
    from goemox.data.stats_report import write_stats_report
    from goemox.file_io import prepare_output_folder
    from goemox.labels import get_label_scheme

    inputs = [data.dataset, *data.split_files().values(), options.tokenizer]
    folder = prepare_output_folder(options.output_dir, options.overwrite, inputs=inputs)
    scheme = get_label_scheme(data.resolved_scheme())
    tokenizer = load_tokenizer(options.tokenizer)
    splits = load_emotion_dataset(scheme=scheme, **data.load_options())
    wanted = [name.strip() for name in options.splits.split(",") if name.strip()] if options.splits else None
    stats = dataset_statistics(
        splits, scheme.labels, tokenizer, max_length=options.max_length, top_emoji=options.top_emoji, split_names=wanted
    )
    stats["options"] = {
        "data": {"dataset": data.dataset, **data.split_files()},
        "scheme": scheme.name,
        "tokenizer": options.tokenizer,
        "empty_rows": data.empty_rows,
    }
    path = write_stats_report(
        stats,
        folder,
        [
            f"data: {data.source_name()}",
            f"label scheme: `{scheme.name}` ({scheme.num_labels} labels), rows without a label: {data.empty_rows}",
            f"tokenizer: `{options.tokenizer}`, max_length {options.max_length}",
        ],
    )
    print(f"Wrote {path}, stats.json and the plots to {folder}")
    return 0


@dataclass
class FetchArguments:
    """Options every `goemox fetch` source shares."""

    output: str = field(metadata={"help": "JSONL or CSV file to write (a `text` column + metadata)."})
    format: str | None = field(
        default=None, metadata={"help": "Default: csv for *.csv, else jsonl.", "choices": list(OUTPUT_FORMATS)}
    )
    limit: int = field(default=1000, metadata={"help": "Most texts to write (default 1000; 0: no limit)."})
    titles_only: bool = field(default=False, metadata={"help": "Use only titles as texts (not the bodies)."})
    overwrite: bool = overwrite_field("--output")
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where fetched items/pages are kept (default OUTPUT.cache)."}
    )
    refresh: bool = field(default=False, metadata={"help": "Fetch the story list / issue pages again."})
    api_url: str | None = field(default=None, metadata={"help": "API base URL (tests, mirrors, GitHub Enterprise)."})
    timeout: float = field(default=30.0, metadata={"help": "Seconds to wait for a connection or data."})
    max_retries: int = field(default=5, metadata={"help": "Retries per request (errors, 5xx, limits)."})
    max_wait: float = field(
        default=300.0, metadata={"help": "Longest rate-limit wait in seconds; longer ones stop the run."}
    )
    no_progress: bool = field(default=False, metadata={"help": "Hide the progress bar."})

    def __post_init__(self) -> None:
        check_at_least("limit", self.limit, 0)
        check_at_least("max_retries", self.max_retries, 0)
        if self.timeout <= 0 or self.max_wait < 0:
            raise GoEmoXUsageError(
                f"--timeout must be above 0 and --max_wait 0 or more, got {self.timeout}, {self.max_wait}"
            )


@dataclass
class HackerNewsArguments:
    """Which Hacker News stories to fetch."""

    story_list: str = field(
        default="top", metadata={"help": "Which story list.", "choices": list(HN_LISTS), "aliases": ["--list"]}
    )
    workers: int = field(default=8, metadata={"help": "Items fetched in parallel (default 8)."})

    def __post_init__(self) -> None:
        check_at_least("workers", self.workers, 1)


@dataclass
class GithubArguments:
    """Which GitHub issues to fetch (token from $GITHUB_TOKEN/$GH_TOKEN)."""

    repo: str = field(metadata={"help": "OWNER/REPO, e.g. huggingface/transformers", "metavar": "OWNER/REPO"})
    state: str = field(default="all", metadata={"help": "Issue state (default all).", "choices": list(GITHUB_STATES)})
    include_pulls: bool = field(default=False, metadata={"help": "Keep pull requests too."})


def fetch_rows(fetch, source, cache, policy):
    """Rows, their columns, what they are, and the number of HTTP requests sent, for either source."""
    from goemox.fetch import sites as fetching
    from goemox.fetch.http import JsonClient

    if isinstance(source, HackerNewsArguments):
        client = JsonClient({"User-Agent": "goemox", "Accept": "application/json"}, policy)
        rows = fetching.fetch_hackernews(
            client,
            cache,
            fetching.api_url(fetch.api_url, fetching.HN_API_ENV, fetching.DEFAULT_HN_API),
            story_list=source.story_list,
            limit=fetch.limit or None,
            titles_only=fetch.titles_only,
            workers=source.workers,
            refresh=fetch.refresh,
            show_progress=not fetch.no_progress,
        )
        return rows, fetching.HN_COLUMNS, f"Hacker News {source.story_list} stories", client.requests_sent
    token, variable = fetching.github_token()
    api = fetching.api_url(fetch.api_url, fetching.GITHUB_API_ENV, fetching.DEFAULT_GITHUB_API)
    client = JsonClient(fetching.github_headers(token), policy, credential_host=api)
    rows = fetching.fetch_github_issues(
        client,
        cache,
        source.repo,
        api,
        state=source.state,
        limit=fetch.limit or None,
        include_pulls=source.include_pulls,
        titles_only=fetch.titles_only,
        refresh=fetch.refresh,
        token_source=f"${variable}" if variable else None,
        show_progress=not fetch.no_progress,
    )
    return rows, fetching.GITHUB_COLUMNS, f"{source.repo} issues ({source.state})", client.requests_sent


def run_fetch(fetch: FetchArguments, source) -> int:
    import logging

    from tqdm.contrib.logging import logging_redirect_tqdm

    from goemox.fetch.http import RetryPolicy
    from goemox.fetch.sites import FetchCache, output_format, resumable, write_rows
    from goemox.file_io import check_output_file

    fmt = output_format(fetch.output, fetch.format)
    output = check_output_file(fetch.output, fetch.overwrite, inputs=[fetch.cache_dir])
    cache = FetchCache(Path(fetch.cache_dir) if fetch.cache_dir else output.with_name(output.name + ".cache"))
    policy = RetryPolicy(timeout=fetch.timeout, max_retries=fetch.max_retries, max_wait=fetch.max_wait)
    logging.basicConfig(format="goemox fetch: %(message)s")
    try:
        with logging_redirect_tqdm(), resumable(cache):  # retry messages go above the progress bar
            rows, columns, what, requests = fetch_rows(fetch, source, cache, policy)
    except KeyboardInterrupt:
        note = cache.resume_note()
        print(f"\ngoemox: interrupted{'; ' + note if note else ' before anything was fetched'}", file=sys.stderr)
        return 130
    if not rows:
        raise GoEmoXUsageError(f"no texts found among the {what}; nothing written to {fetch.output}")
    write_rows(rows, output, fmt, columns, overwrite=fetch.overwrite)
    print(f"Wrote {len(rows)} {what} to {fetch.output} ({requests} requests; cache: {cache.root}/)")
    return 0


COMMANDS = by_name(
    Command(
        "data stats",
        (DataSourceArguments, StatsArguments),
        run_stats,
        description="Write report.md, stats.json and PNGs describing each split of a labelled data set.",
    ),
    Command(
        "fetch hackernews",
        (FetchArguments, HackerNewsArguments),
        run_fetch,
    ),
    Command(
        "fetch github-issues",
        (FetchArguments, GithubArguments),
        run_fetch,
        legacy_positionals=("repo",),
    ),
)
