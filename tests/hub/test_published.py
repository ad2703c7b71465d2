"""Files of published results: the shipped one reads, a wrong one stops with one message naming entry and field."""

import re
from pathlib import Path

import pytest
import yaml

from goemox.errors import GoEmoXUsageError
from goemox.hub.published import read_published_results

SHIPPED = Path(__file__).resolve().parents[2] / "configs" / "published_goemotions.yaml"
GOOD_ENTRY = {"model": "BERT-base", "test_macro_f1": 0.46, "how": "one run", "parameters": "110M"}


def write(tmp_path, content) -> Path:
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(content) if not isinstance(content, str) else content, encoding="utf-8")
    return path


def test_the_shipped_file_lists_every_goemotions_figure_the_benchmarks_quote():
    results = read_published_results(SHIPPED, "goemotions")
    by_model = {result.model: result for result in results}
    assert by_model["BERT-base, the GoEmotions paper"].test_macro_f1 == 0.46
    assert by_model["RoBERTa-large with a focal loss"].how == "one seed, per-label thresholds tuned on validation"
    assert all(result.how and 0 < result.test_macro_f1 < 1 for result in results)
    assert len(by_model) == len(results)


def test_texts_are_read_so_that_a_row_keeps_the_table_intact(tmp_path):
    entry = {"model": "A | B", "test_macro_f1": 0.5, "how": "one run,\n  0.5 | tuned", "parameters": 66}
    (result,) = read_published_results(write(tmp_path, {"scheme": "goemotions", "results": [entry]}), "goemotions")
    assert result.row() == ["A / B", "66", "0.500", "one run, 0.5 / tuned", "n/a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"scheme": "ekman", "results": [GOOD_ENTRY]}, "scheme is 'ekman'; expected 'goemotions'"),
        ({"results": [GOOD_ENTRY]}, "scheme is None; expected 'goemotions'"),
        ({"scheme": "goemotions", "results": []}, "results is []; expected a non-empty list"),
        ({"scheme": "goemotions", "results": "BERT 0.46"}, "results is 'BERT 0.46'; expected a non-empty list"),
        ({"scheme": "goemotions", "results": [GOOD_ENTRY], "metric": "f1"}, "unknown field(s) ['metric']"),
        ({"scheme": "goemotions", "results": ["BERT 0.46"]}, "results[0] is 'BERT 0.46'; expected a mapping"),
        (
            {"scheme": "goemotions", "results": [GOOD_ENTRY, {**GOOD_ENTRY, "test_macro_f1": "high"}]},
            "results[1].test_macro_f1 is 'high'; expected a number between 0 and 1",
        ),
        (
            {"scheme": "goemotions", "results": [{**GOOD_ENTRY, "test_macro_f1": 46}]},
            "results[0].test_macro_f1 is 46; expected a number between 0 and 1",
        ),
        (
            {"scheme": "goemotions", "results": [{**GOOD_ENTRY, "test_macro_f1": True}]},
            "results[0].test_macro_f1 is True",
        ),
        (
            {"scheme": "goemotions", "results": [{k: v for k, v in GOOD_ENTRY.items() if k != "how"}]},
            "results[0].how is None; expected a non-empty text",
        ),
        ({"scheme": "goemotions", "results": [{**GOOD_ENTRY, "model": "  "}]}, "results[0].model is '  '"),
        ({"scheme": "goemotions", "results": [{**GOOD_ENTRY, "source": ["a"]}]}, "results[0].source is ['a']"),
        ({"scheme": "goemotions", "results": [{**GOOD_ENTRY, "seeds": 3}]}, "results[0]: unknown field(s) ['seeds']"),
        ("- one\n- two\n", "expected a mapping with scheme and results, got list"),
        ("scheme: [unclosed\n", "not valid YAML/JSON"),
    ],
)
def test_a_wrong_file_stops_with_one_message_naming_the_file_and_field(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(GoEmoXUsageError, match=re.escape(message)) as caught:
        read_published_results(path, "goemotions")
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope.yaml", "no such file"),
        (".", "a folder; expected a YAML or JSON file"),
        ("/dev/null", "not a regular file; expected a YAML or JSON file"),
    ],
)
def test_a_path_that_is_no_file_is_named(tmp_path, name, message):
    path = tmp_path / name
    with pytest.raises(GoEmoXUsageError, match=re.escape(f"{path}: {message}")):
        read_published_results(path, "goemotions")
