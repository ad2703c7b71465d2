"""Declaring and reading several labelled corpora: entries, label mappings, annotated labels and their checks."""

import json

import numpy as np
import pytest

from goemox.cli.parsing import parse_command
from goemox.cli.train import COMMANDS
from goemox.data.arguments import DataSourceArguments
from goemox.data.corpora import (
    MASK_COLUMN,
    SOURCE_COLUMN,
    combine_sources,
    load_source,
    parse_sources,
    read_source_entry,
    source_summary,
)
from goemox.errors import GoEmoXUsageError
from goemox.labels import LabelScheme, get_label_scheme

FIVE = LabelScheme(name="five", labels=("joy", "anger", "sadness", "fear", "neutral"))


def write_tsv(path, rows):
    path.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def corpora(tmp_path):
    """Two small corpora: `reddit` (joy/anger/neutral) and `tweets` (joy/sadness/fear, one label per row)."""
    reddit = [(f"reddit text {i}", ["joy", "anger", "neutral"][i % 3]) for i in range(30)]
    tweets = [(f"tweet text {i}", ["joy", "sadness", "fear"][i % 3]) for i in range(30)]
    return {
        "reddit": {
            "name": "reddit",
            "train_file": write_tsv(tmp_path / "reddit_train.tsv", reddit[:20]),
            "validation_file": write_tsv(tmp_path / "reddit_val.tsv", reddit[20:]),
        },
        "tweets": {
            "name": "tweets",
            "train_file": write_tsv(tmp_path / "tweets_train.tsv", tweets[:20]),
            "validation_file": write_tsv(tmp_path / "tweets_val.tsv", tweets[20:]),
        },
    }


def defaults(**changes) -> DataSourceArguments:
    return DataSourceArguments(label_column="label", test_size=0.0, **changes)


def test_an_entry_is_a_short_form_an_inline_mapping_or_a_file(tmp_path):
    assert read_source_entry("carer=../data/carer") == {"name": "carer", "dataset": "../data/carer"}
    assert read_source_entry("{name: x, dataset: d, annotates: [joy]}") == {
        "name": "x",
        "dataset": "d",
        "annotates": ["joy"],
    }
    listing = tmp_path / "sources.yaml"
    listing.write_text("datasets:\n  - {name: a, dataset: d1}\n  - {name: b, dataset: d2}\n")
    assert [entry["name"] for entry in read_source_entry(str(listing))] == ["a", "b"]
    (tmp_path / "broken.yaml").write_text("datasets: [\n")
    for bad in ("carer", "{name: [", str(tmp_path / "missing.yaml"), str(tmp_path / "broken.yaml")):
        with pytest.raises(GoEmoXUsageError, match="--source"):
            read_source_entry(bad)


def test_a_source_inherits_the_run_options_but_not_where_the_rows_are():
    run = DataSourceArguments(dataset="elsewhere", label_column="label", on_bad_rows="skip", split_seed=3)
    [spec] = parse_sources([{"name": "tweets", "train_file": "t.tsv", "text_column": "body"}], run)
    assert spec.options.dataset is None and spec.options.train_file == "t.tsv"
    assert (spec.options.label_column, spec.options.on_bad_rows, spec.options.split_seed) == ("label", "skip", 3)
    assert spec.options.text_column == "body"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "a", "dataset": "d", "colour": 1}], r"source 'a': unknown field\(s\) \['colour'\]"),
        ([{"name": "a", "dataset": "d"}, {"name": "a", "dataset": "e"}], "two sources are named 'a'"),
        ([{"name": "a b", "dataset": "d"}], "name is 'a b'"),
        ([{"name": "a"}], "source 'a': no dataset or train_file"),
        ([{"name": "a", "dataset": "d", "annotates": 3}], "source 'a': annotates is 3"),
        (
            [{"name": "a", "dataset": "d", "mapping": {"happy": 1}}],
            "source 'a': mapping: 'happy' maps to 1; expected a label name",
        ),
        ([{"name": "a", "dataset": "d", "max_train_samples": 0}], "source 'a': max_train_samples is 0"),
        ([{"name": "a", "dataset": "d", "validation_size": 2}], "source 'a': --validation_size must be"),
        (["not a mapping"], "--source not a mapping: expected NAME=DATASET"),
    ],
)
def test_bad_entries_name_the_source_and_the_field(entries, message):
    with pytest.raises(GoEmoXUsageError, match=message):
        parse_sources(entries, defaults())


def test_annotated_labels_default_to_the_image_of_the_labels_used(corpora):
    reddit, tweets = parse_sources(
        [corpora["reddit"], {**corpora["tweets"], "known_negative": ["neutral"]}], defaults()
    )
    assert load_source(reddit, FIVE, True).annotated == ("joy", "anger", "neutral")
    assert load_source(tweets, FIVE, True).annotated == ("joy", "sadness", "fear", "neutral")


def test_a_source_mapping_renames_its_labels_and_builtin_schemes_map_the_rest(corpora, tmp_path):
    mapping = tmp_path / "tweets_to_ekman.json"
    mapping.write_text(json.dumps({"joy": "joy", "sadness": ["sadness"], "fear": "fear"}))
    [tweets] = parse_sources([{**corpora["tweets"], "mapping": str(mapping)}], defaults())
    loaded = load_source(tweets, get_label_scheme("ekman"), True)
    assert loaded.annotated == ("fear", "joy", "sadness")
    labels = np.array(loaded.splits["train"]["labels"])
    assert labels.sum() == 20 and labels[:, get_label_scheme("ekman").labels.index("sadness")].sum() == 7


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mapping": {"joy": "joy", "grief": "sadness"}}, r"mapping names \['grief'\], which its data never uses"),
        ({"mapping": {"joy": "elation"}}, "maps to .*'elation'.*not in labels"),
        ({"annotates": ["joy", "pride"]}, r"annotates names \['pride'\], which are not labels of the target"),
        ({"annotates": ["joy"]}, r"its rows are labelled \['fear', 'sadness'\], which annotates leaves out"),
        (
            {"mapping": {"joy": [], "sadness": [], "fear": []}, "empty_rows": "drop"},
            "its train split has no rows left after reading and mapping",
        ),
        ({"validation_file": None, "validation_size": 0.0}, "no validation split, and selection needs one"),
        ({"train_file": "missing.tsv"}, "missing.tsv: no such file; expected an existing data file"),
    ],
)
def test_a_bad_source_stops_before_training_with_one_line(corpora, changes, message):
    [spec] = parse_sources([{**corpora["tweets"], **changes}], defaults())
    with pytest.raises(GoEmoXUsageError, match=f"source 'tweets'.*{message}"):
        load_source(spec, FIVE, needs_validation=True)


def test_pooled_splits_carry_each_rows_label_mask_and_source(corpora):
    specs = parse_sources([corpora["reddit"], corpora["tweets"]], defaults())
    loaded = [load_source(spec, FIVE, True) for spec in specs]
    pooled = combine_sources(loaded, FIVE)
    train = pooled["train"]
    assert train.column_names == ["text", "labels", MASK_COLUMN, SOURCE_COLUMN]
    ids, mask = np.array(train[SOURCE_COLUMN]), np.array(train[MASK_COLUMN])
    assert (ids == 0).sum() == 20 and (ids == 1).sum() == 20
    assert mask[ids == 0].tolist() == [[1, 1, 0, 0, 1]] * 20
    assert mask[ids == 1].tolist() == [[1, 0, 1, 1, 0]] * 20
    summary = source_summary(specs, pooled, FIVE.labels)
    assert summary[1]["annotates"] == ["joy", "sadness", "fear"]
    assert summary[1]["rows"] == {"train": 20, "validation": 10} and summary[1]["files"]["train_file"].endswith(".tsv")


def test_a_label_no_source_annotates_is_refused(corpora):
    [reddit] = parse_sources([corpora["reddit"]], defaults())
    with pytest.raises(GoEmoXUsageError, match=r"no source annotates \['sadness', 'fear'\]"):
        combine_sources([load_source(reddit, FIVE, True)], FIVE)


def test_command_line_sources_replace_those_of_the_config_file(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("datasets:\n  - {name: a, dataset: d1}\n  - {name: b, dataset: d2}\n")
    _, from_file, *_ = parse_command(COMMANDS["train"], ["--config", str(config)])
    assert [spec.name for spec in from_file.source_specs()] == ["a", "b"]
    _, from_flags, *_ = parse_command(
        COMMANDS["train"], ["--config", str(config), "--source", "c=d3", "--source", "{name: e, dataset: d4}"]
    )
    assert [spec.name for spec in from_flags.source_specs()] == ["c", "e"]
    with pytest.raises(GoEmoXUsageError, match="--select_on f: expected 'pooled' or a source name"):
        parse_command(COMMANDS["train"], ["--config", str(config), "--select_on", "f"])
