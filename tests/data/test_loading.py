"""Tests of goemox.data: every input format, label cell form, error message, skip report and the split."""

from __future__ import annotations

import json
import logging
import os
import pickle
from importlib import resources
from pathlib import Path

import datasets
import numpy as np
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import BertTokenizerFast

from goemox.data import (
    DataError,
    LoadReport,
    label_matrix,
    load_emotion_dataset,
    multilabel_stratified_split,
    tokenize_dataset,
)
from goemox.errors import GoEmoXError
from goemox.labels import GOEMOTIONS_LABELS, get_label_scheme

EKMAN = get_label_scheme("ekman")
GOEMOTIONS = get_label_scheme("goemotions")
ID = {label: i for i, label in enumerate(GOEMOTIONS_LABELS)}
NO_SPLIT = {"validation_size": 0, "test_size": 0}


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def hot(scheme, *names: str) -> list[float]:
    return [1.0 if label in names else 0.0 for label in scheme.labels]


def goemotions_row(text: str, names: list[str], comment_id: str) -> str:
    return f"{text}\t{','.join(str(ID[name]) for name in names)}\t{comment_id}\n"


@pytest.fixture
def goemotions_folder(tmp_path) -> Path:
    folder = tmp_path / "goemotions"
    folder.mkdir()
    write(
        folder / "train.tsv",
        goemotions_row("I love this!", ["love", "joy"], "c1")
        + goemotions_row('He said "wow" :)', ["surprise"], "c2")
        + goemotions_row("Whatever.", ["neutral"], "c3"),
    )
    write(folder / "dev.tsv", goemotions_row("So sad today", ["sadness", "grief"], "d1"))
    write(folder / "test.tsv", goemotions_row("Thanks a lot [NAME]", ["gratitude"], "t1"))
    return folder


def assert_output_features(dataset: Dataset) -> None:
    assert dataset.features["text"] == Value("string")
    assert dataset.features["labels"] == datasets.Sequence(Value("float32"))
    assert dataset.column_names[:2] == ["text", "labels"]


# ---------------------------------------------------------------------------------------------------------
# GoEmotions TSV folders
# ---------------------------------------------------------------------------------------------------------


def test_goemotions_folder(goemotions_folder):
    splits = load_emotion_dataset(goemotions_folder)
    assert list(splits) == ["train", "validation", "test"]
    train = splits["train"]
    assert_output_features(train)
    assert train.column_names == ["text", "labels", "id"]
    assert train["text"][1] == 'He said "wow" :)'
    assert train["id"][:] == ["c1", "c2", "c3"]
    assert train["labels"][0] == hot(GOEMOTIONS, "love", "joy")
    assert splits["validation"][0]["labels"] == hot(GOEMOTIONS, "sadness", "grief")
    assert splits["test"][0] == {"text": "Thanks a lot [NAME]", "labels": hot(GOEMOTIONS, "gratitude"), "id": "t1"}


def test_goemotions_folder_with_ekman_scheme(goemotions_folder):
    splits = load_emotion_dataset(goemotions_folder, scheme="ekman")
    assert splits["train"]["labels"][:] == [hot(EKMAN, "joy"), hot(EKMAN, "surprise"), hot(EKMAN, "neutral")]
    assert splits["validation"][0]["labels"] == hot(EKMAN, "sadness")


def test_goemotions_folder_with_only_train_gets_stratified_splits(tmp_path):
    folder = tmp_path / "only_train"
    folder.mkdir()
    names = ["joy", "anger", "neutral", "fear"]
    rows = [goemotions_row(f"text {i}", [names[i % 4]], f"c{i}") for i in range(40)]
    write(folder / "train.tsv", "".join(rows))
    splits, report = load_emotion_dataset(folder, validation_size=0.2, test_size=0.2, return_report=True)
    assert {name: len(split) for name, split in splits.items()} == {"train": 24, "validation": 8, "test": 8}
    assert report.created_splits == ("validation", "test")
    assert "stratified" in report.sources["validation"]
    ids = [i for split in splits.values() for i in split["id"]]
    assert sorted(ids) == sorted(f"c{i}" for i in range(40))
    for split in splits.values():
        assert label_matrix(split).sum(axis=0)[[ID[name] for name in names]].tolist() == [len(split) / 4] * 4


def test_goemotions_folder_malformed_row(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    path = write(folder / "train.tsv", goemotions_row("fine", ["joy"], "c1") + "no tabs here\n")
    with pytest.raises(DataError) as info:
        load_emotion_dataset(folder)
    assert str(info.value) == (
        f"{path}:2: found 1 tab-separated field(s); expected 3 tab-separated fields: text, comma-separated "
        "label ids, comment id"
    )


def test_folder_that_is_neither_format(tmp_path):
    with pytest.raises(DataError, match=r"neither train\.tsv, split files nor a saved dataset; expected a GoEmotions"):
        load_emotion_dataset(tmp_path)


def test_folder_of_split_files_with_a_header(tmp_path):
    folder = tmp_path / "tweets"
    folder.mkdir()
    write(folder / "train.tsv", "text\tlabel\ni feel great\tjoy\nso sad\tsadness\n")
    write(folder / "validation.tsv", "text\tlabel\ni am scared\tfear\n")
    write(folder / "test.jsonl", '{"text": "love it", "label": "love"}\n')
    write(folder / "notes.txt", "not a split\n")
    splits, report = load_emotion_dataset(folder, label_column="label", return_report=True)
    assert {name: len(split) for name, split in splits.items()} == {"train": 2, "validation": 1, "test": 1}
    assert splits["validation"][0]["labels"][ID["fear"]] == 1.0
    assert report.sources["test"] == str(folder / "test.jsonl") and report.created_splits == ()
    with pytest.raises(DataError, match=r"test\.jsonl:1: no label field 'labels' \(found fields: text, label\)"):
        load_emotion_dataset(folder)
    write(folder / "dev.csv", "text,label\nok,joy\n")
    with pytest.raises(DataError, match=r"two validation files \(dev\.csv, validation\.tsv\); expected one file per"):
        load_emotion_dataset(folder, label_column="label")


# ---------------------------------------------------------------------------------------------------------
# CSV, TSV, JSONL and JSON files and label cell forms
# ---------------------------------------------------------------------------------------------------------


def test_csv_with_label_names_keeps_extra_columns(tmp_path):
    path = write(
        tmp_path / "train.csv",
        'id,text,labels\na1,I love it,"love,joy"\na2,  What?  , surprise \na3,"Multi\nline, text",anger\n',
    )
    splits = load_emotion_dataset(path, **NO_SPLIT)
    train = splits["train"]
    assert list(splits) == ["train"]
    assert_output_features(train)
    assert train.column_names == ["text", "labels", "id"]
    assert train["text"][:] == ["I love it", "  What?  ", "Multi\nline, text"]
    assert train["id"][:] == ["a1", "a2", "a3"]
    assert train["labels"][:] == [hot(GOEMOTIONS, "love", "joy"), hot(GOEMOTIONS, "surprise"), hot(GOEMOTIONS, "anger")]


def test_csv_with_label_ids_and_custom_separator(tmp_path):
    path = write(tmp_path / "ids.csv", "text,labels\nnice one,4 | 15\nmeh,27\n")
    train = load_emotion_dataset(path, scheme="ekman", label_separator="|", **NO_SPLIT)["train"]
    assert train["labels"][:] == [hot(EKMAN, "joy"), hot(EKMAN, "neutral")]


def test_csv_with_json_list_cells(tmp_path):
    path = write(
        tmp_path / "lists.csv",
        'text,labels\nname list,"[""joy"", ""love""]"\nid list,"[3, 17]"\n'
        'multi-hot,"[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]"\nempty,[]\n',
    )
    train = load_emotion_dataset(path, scheme="ekman", **NO_SPLIT)["train"]
    expected = [hot(EKMAN, "joy"), hot(EKMAN, "anger", "joy"), hot(EKMAN, "fear"), hot(EKMAN)]
    assert train["labels"][:] == expected


def test_tsv_file_with_header_and_custom_columns(tmp_path):
    path = write(tmp_path / "data.tsv", "sentence\temotions\tsource\nGreat news!\texcitement\tweb\n")
    train = load_emotion_dataset(path, text_column="sentence", label_column="emotions", validation_size=0, test_size=0)[
        "train"
    ]
    assert train.column_names == ["text", "labels", "source"]
    assert train[0] == {"text": "Great news!", "labels": hot(GOEMOTIONS, "excitement"), "source": "web"}


def test_csv_with_bom_crlf_and_blank_lines(tmp_path):
    path = write(tmp_path / "excel.csv", b"\xef\xbb\xbftext,labels\r\nhello,joy\r\n\r\nbye,sadness\r\n")
    train = load_emotion_dataset(path, **NO_SPLIT)["train"]
    assert train["text"][:] == ["hello", "bye"]


def test_jsonl_with_real_lists_and_extra_fields(tmp_path):
    rows = [
        {"id": 1, "text": "I love it", "labels": ["love"], "meta": {"lang": "en"}},
        {"id": 2, "text": "Oh no", "labels": [14, 19]},
        {"id": 3, "text": "Eh", "labels": "neutral"},
        {"id": 4, "text": "Hot", "labels": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]},
    ]
    path = write(tmp_path / "data.jsonl", "".join(json.dumps(row) + "\n" for row in rows) + "\n")
    train = load_emotion_dataset(path, scheme="ekman", **NO_SPLIT)["train"]
    assert train.column_names == ["text", "labels", "id", "meta"]
    assert train["id"][:] == [1, 2, 3, 4]
    assert train["meta"][:] == [{"lang": "en"}, None, None, None]
    assert train["labels"][:] == [
        hot(EKMAN, "joy"),
        hot(EKMAN, "fear"),
        hot(EKMAN, "neutral"),
        hot(EKMAN, "anger", "neutral"),
    ]


def test_json_array_file(tmp_path):
    path = write(
        tmp_path / "data.json", '[\n  {"text": "yay", "labels": ["joy"]},\n  {"text": "hm", "labels": [6]}\n]\n'
    )
    train = load_emotion_dataset(path, **NO_SPLIT)["train"]
    assert train["labels"][:] == [hot(GOEMOTIONS, "joy"), hot(GOEMOTIONS, "confusion")]


def test_json_file_with_json_lines(tmp_path):
    path = write(tmp_path / "data.json", '{"text": "yay", "labels": ["joy"]}\n{"text": "hm", "labels": [6]}\n')
    assert len(load_emotion_dataset(path, **NO_SPLIT)["train"]) == 2


def test_explicit_split_files(tmp_path):
    train = write(tmp_path / "train.csv", "text,labels\na,joy\nb,anger\n")
    validation = write(tmp_path / "validation.jsonl", '{"text": "c", "labels": ["fear"]}\n')
    test = write(tmp_path / "test.tsv", "text\tlabels\nd\tgrief\n")
    splits, report = load_emotion_dataset(
        train_file=train, validation_file=validation, test_file=test, scheme="ekman", return_report=True
    )
    assert {name: len(split) for name, split in splits.items()} == {"train": 2, "validation": 1, "test": 1}
    assert splits["test"][0]["labels"] == hot(EKMAN, "sadness")
    assert report.sources == {"train": str(train), "validation": str(validation), "test": str(test)}
    assert report.created_splits == ()


def test_source_file_with_validation_file_makes_only_test(tmp_path):
    train = write(tmp_path / "train.csv", "text,labels\n" + "".join(f"t{i},{i % 28}\n" for i in range(56)))
    validation = write(tmp_path / "dev.csv", "text,labels\nv,joy\n")
    splits = load_emotion_dataset(train, validation_file=validation, test_size=0.5)
    assert len(splits["validation"]) == 1
    assert len(splits["train"]) + len(splits["test"]) == 56
    assert label_matrix(splits["test"]).sum(axis=0).tolist() == [1.0] * 28


def test_explicit_files_take_precedence_over_a_non_file_source(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise AssertionError("the Hub must not be contacted")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    train = write(tmp_path / "train.csv", "text,labels\na,joy\n")
    splits = load_emotion_dataset(
        "google-research-datasets/go_emotions", train_file=train, validation_size=0, test_size=0
    )
    assert len(splits["train"]) == 1


def test_source_file_and_train_file_conflict(tmp_path):
    path = write(tmp_path / "train.csv", "text,labels\na,joy\n")
    with pytest.raises(ValueError, match="train_file is also given"):
        load_emotion_dataset(path, train_file=path)


def test_argument_validation(tmp_path):
    path = write(tmp_path / "train.csv", "text,labels\na,joy\n")
    with pytest.raises(ValueError, match="on_bad_rows"):
        load_emotion_dataset(path, on_bad_rows="ignore")
    with pytest.raises(ValueError, match="empty_rows"):
        load_emotion_dataset(path, empty_rows="zero")
    with pytest.raises(ValueError, match="validation_size"):
        load_emotion_dataset(path, validation_size=0.6, test_size=0.5)
    with pytest.raises(ValueError, match="both 'text'"):
        load_emotion_dataset(path, label_column="text")
    with pytest.raises(ValueError, match="pass a source"):
        load_emotion_dataset()


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(DataError, match=r"notes\.txt: unsupported file type '\.txt'; expected a \.csv"):
        load_emotion_dataset(train_file=write(tmp_path / "notes.txt", "x"))
    missing = tmp_path / "missing.csv"
    with pytest.raises(DataError, match=rf"^{missing}: no such file; expected an existing data file"):
        load_emotion_dataset(missing)


# ---------------------------------------------------------------------------------------------------------
# Arrow data: save_to_disk folders and (simulated) Hub datasets
# ---------------------------------------------------------------------------------------------------------


def test_save_to_disk_round_trip(goemotions_folder, tmp_path):
    original = load_emotion_dataset(goemotions_folder, scheme="ekman")
    original.save_to_disk(tmp_path / "saved")
    reloaded = load_emotion_dataset(tmp_path / "saved", scheme="ekman")
    assert list(reloaded) == list(original)
    for split in original:
        assert reloaded[split].features == original[split].features
        assert reloaded[split].to_dict() == original[split].to_dict()


def test_saved_dataset_with_names_and_dev_split(tmp_path):
    DatasetDict(
        {
            "train": Dataset.from_dict({"sentence": ["a", "b"], "emotion": [["joy"], ["grief", "remorse"]]}),
            "dev": Dataset.from_dict({"sentence": ["c"], "emotion": [["fear"]]}),
        }
    ).save_to_disk(tmp_path / "saved")
    splits, report = load_emotion_dataset(
        tmp_path / "saved",
        scheme="ekman",
        text_column="sentence",
        label_column="emotion",
        test_size=0,
        return_report=True,
    )
    assert list(splits) == ["train", "validation"]
    assert splits["train"]["labels"][:] == [hot(EKMAN, "joy"), hot(EKMAN, "sadness")]
    assert report.sources["validation"] == f"{tmp_path / 'saved'} [dev]"


def test_saved_single_dataset_becomes_train(tmp_path):
    Dataset.from_dict({"text": [f"t{i}" for i in range(20)], "labels": [[i % 28] for i in range(20)]}).save_to_disk(
        tmp_path / "single"
    )
    splits = load_emotion_dataset(tmp_path / "single", validation_size=0.5, test_size=0)
    assert {name: len(split) for name, split in splits.items()} == {"train": 10, "validation": 10}


def test_saved_dataset_bad_row_reports_row_number(tmp_path):
    bad = Dataset.from_dict({"text": ["ok", "bad"], "labels": [[1.0] * 7, [1.0] * 3]})
    bad.save_to_disk(tmp_path / "saved")
    with pytest.raises(DataError) as info:
        load_emotion_dataset(tmp_path / "saved", scheme="ekman")
    assert str(info.value).startswith(f"{tmp_path / 'saved'}:2: multi-hot label vector has 3 values")
    assert "expected 7 values" in str(info.value)


def test_saved_dataset_missing_column(tmp_path):
    Dataset.from_dict({"text": ["a"], "label": [3]}).save_to_disk(tmp_path / "saved")
    with pytest.raises(DataError, match=r"no label column 'labels' \(found columns: text, label\); expected"):
        load_emotion_dataset(tmp_path / "saved")


def hub_like_go_emotions() -> DatasetDict:
    features = Features(
        {
            "text": Value("string"),
            "labels": datasets.Sequence(ClassLabel(names=list(GOEMOTIONS_LABELS))),
            "id": Value("string"),
        }
    )
    return DatasetDict(
        {
            "train": Dataset.from_dict({"text": ["yay", "ugh"], "labels": [[17], [2, 3]], "id": ["a", "b"]}, features),
            "validation": Dataset.from_dict({"text": ["hm"], "labels": [[27]], "id": ["c"]}, features),
            "test": Dataset.from_dict({"text": ["wow"], "labels": [[26]], "id": ["d"]}, features),
        }
    )


def test_hub_dataset_with_class_labels(monkeypatch):
    calls = []

    def fake_load_dataset(path, name=None):
        calls.append((path, name))
        return hub_like_go_emotions()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    splits = load_emotion_dataset("google-research-datasets/go_emotions", scheme="sentiment")
    assert calls == [("google-research-datasets/go_emotions", "simplified")]
    sentiment = get_label_scheme("sentiment")
    assert splits["train"]["labels"][:] == [hot(sentiment, "positive"), hot(sentiment, "negative")]
    assert splits["train"].column_names == ["text", "labels", "id"]
    assert splits["train"].features["id"] == Value("string")
    assert splits["test"][0] == {"text": "wow", "labels": hot(sentiment, "ambiguous"), "id": "d"}


@pytest.mark.parametrize(
    ("error", "start", "hint"),
    [
        (
            ConnectionError("no network"),
            "someone/emotions: the Hub could not be reached (ConnectionError: no network)",
            "; expected a network connection",
        ),
        (
            ValueError("BuilderConfig 'simplified' not found. Available: ['default']"),
            "someone/emotions: the Hub dataset has no configuration 'simplified' (BuilderConfig",
            "given with --dataset_config",
        ),
        (
            datasets.exceptions.DatasetNotFoundError("Dataset 'someone/emotions' doesn't exist on the Hub"),
            "someone/emotions: not a local file or folder, and not a Hub dataset (Dataset 'someone/emotions'",
            "; expected an existing file or folder, 'demo', or a Hub dataset id",
        ),
        (
            TypeError("the loading script broke"),
            "someone/emotions: cannot load the Hub dataset (TypeError: the loading script broke)",
            "; expected an existing file or folder",
        ),
    ],
)
def test_hub_loading_errors_say_what_went_wrong(monkeypatch, error, start, hint):
    def failing(path, name=None):
        raise error

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(DataError) as info:
        load_emotion_dataset("someone/emotions")
    message = str(info.value)
    assert message.startswith(start), message
    assert hint in message and "\n" not in message
    assert info.value.__cause__ is error


def test_train_file_too_small_for_the_derived_splits_says_the_minimum(tmp_path):
    path = write(tmp_path / "small.csv", "text,labels\nyay,joy\nugh,anger\nhm,neutral\n")
    with pytest.raises(DataError, match=r"3 rows leave the validation split empty; expected at least 10 training rows"):
        load_emotion_dataset(train_file=path)


# ---------------------------------------------------------------------------------------------------------
# Rows without labels
# ---------------------------------------------------------------------------------------------------------


def test_empty_rows_keep_and_drop(tmp_path):
    path = write(tmp_path / "train.csv", 'text,labels\nfine,neutral\ngreat,joy\nnothing,\nboth,"neutral,love"\n')
    ten = get_label_scheme("ten")
    kept = load_emotion_dataset(path, scheme="ten", **NO_SPLIT)["train"]
    assert kept["labels"][:] == [hot(ten), hot(ten, "joy"), hot(ten), hot(ten, "love")]
    dropped, report = load_emotion_dataset(path, scheme="ten", empty_rows="drop", **NO_SPLIT, return_report=True)
    assert dropped["train"]["text"][:] == ["great", "both"]
    assert report.dropped_empty == {"train": 2}
    assert report.num_skipped == 0


# ---------------------------------------------------------------------------------------------------------
# Bad input: file, line and expectation in every message
# ---------------------------------------------------------------------------------------------------------

BAD_INPUTS = [
    # (file name, content, scheme, line, problem, expected, skip reason)
    (
        "a.csv",
        "sentence,labels\nhi,joy\n",
        "goemotions",
        1,
        "no text column 'text' in the header (found columns: sentence, labels)",
        "a column named 'text'",
        None,
    ),
    (
        "a.csv",
        "text,emotion\nhi,joy\n",
        "goemotions",
        1,
        "no label column 'labels' in the header (found columns: text, emotion)",
        "a column named 'labels'",
        None,
    ),
    (
        "a.tsv",
        "hi\t17\tc1\n",
        "goemotions",
        1,
        "no text column 'text' in the header (found columns: hi, 17, c1)",
        "a column named 'text', or text_column= set to one of the columns (to read a GoEmotions TSV without "
        "header, pass its folder)",
        None,
    ),
    ("a.csv", "", "goemotions", 1, "the file is empty", "a header row", None),
    (
        "a.csv",
        "text,labels\nok,joy\nhi,joyy\n",
        "goemotions",
        3,
        "unknown label 'joyy'",
        "a label of scheme 'goemotions' (admiration, ",
        "unknown_label",
    ),
    (
        "a.csv",
        "text,labels\nhi,praise\n",
        "ekman",
        2,
        "unknown label 'praise'",
        "a label of scheme 'ekman'",
        "unknown_label",
    ),
    (
        "a.csv",
        'text,labels\nok,joy\nhi,"3,28"\n',
        "goemotions",
        3,
        "label id 28 is out of range",
        "an id in 0..27 (source labels of 'goemotions')",
        "label_id_out_of_range",
    ),
    (
        "a.csv",
        "text,labels\nhi,-1\n",
        "ekman",
        2,
        "label id -1 is out of range",
        "an id in 0..27",
        "label_id_out_of_range",
    ),
    (
        "a.csv",
        "text,labels\n,joy\n",
        "goemotions",
        2,
        "text '' is empty or only whitespace",
        "a non-empty text",
        "empty_text",
    ),
    (
        "a.csv",
        'text,labels\nok,joy\n"""multi\nline""",joy\n   ,joy\n',
        "goemotions",
        5,
        "text '   ' is empty or only whitespace",
        "a non-empty text",
        "empty_text",
    ),
    (
        "a.csv",
        b"text,labels\nok,joy\ncaf\xe9,joy\n",
        "goemotions",
        3,
        "line 3 has invalid UTF-8 (invalid continuation byte at byte 4 of the line)",
        "UTF-8 encoded text",
        "undecodable_bytes",
    ),
    (
        "a.csv",
        "text,labels,id\nok,joy\n",
        "goemotions",
        2,
        "row has 2 field(s)",
        "3 fields as in the header (text, labels, id)",
        "malformed_row",
    ),
    (
        "a.csv",
        'text,labels\nhi,"[joy"\n',
        "goemotions",
        2,
        "label cell '[joy' is not a valid JSON list",
        "label names or ids separated by ','",
        "invalid_labels",
    ),
    (
        "a.csv",
        'text,labels\nhi,"[0, 1, 0, 0]"\n',
        "goemotions",
        2,
        "label id 0 is repeated in [0, 1, 0, 0]",
        "distinct label ids (write a multi-hot vector with floats, e.g. 1.0)",
        "invalid_labels",
    ),
    (
        "a.csv",
        'text,labels\nhi,"[0.0, 1.0]"\n',
        "ekman",
        2,
        "multi-hot label vector has 2 values",
        "7 values, one per label of scheme 'ekman'",
        "invalid_labels",
    ),
    (
        "a.csv",
        'text,labels\nhi,"[0.0, 2.0, 0, 0, 0, 0, 0]"\n',
        "ekman",
        2,
        "multi-hot label vector [0.0, 2.0, 0, 0, 0, 0, 0] has values outside [0, 1]",
        "numbers between 0 and 1",
        "invalid_labels",
    ),
    (
        "a.jsonl",
        '{"text": "ok", "labels": ["joy"]}\n\n{"text": "hi", "labels": ["joy"]\n',
        "goemotions",
        3,
        "invalid JSON (Expecting ',' delimiter at column 33)",
        "one JSON object per line",
        "invalid_json",
    ),
    (
        "a.jsonl",
        '["hi", ["joy"]]\n',
        "goemotions",
        1,
        "found a JSON list, not an object",
        "a JSON object with the fields 'text' and 'labels'",
        "malformed_row",
    ),
    (
        "a.jsonl",
        '{"text": "hi", "emotions": ["joy"]}\n',
        "goemotions",
        1,
        "no label field 'labels' (found fields: text, emotions)",
        "a field named 'labels'",
        "missing_field",
    ),
    (
        "a.jsonl",
        '{"text": 42, "labels": ["joy"]}\n',
        "goemotions",
        1,
        "text is 42, not a string",
        "a non-empty string",
        "invalid_text",
    ),
    (
        "a.jsonl",
        '{"text": "hi", "labels": null}\n',
        "goemotions",
        1,
        "label cell is None",
        "label names or ids",
        "invalid_labels",
    ),
    (
        "a.jsonl",
        '{"text": "hi", "labels": [{"name": "joy"}]}\n',
        "goemotions",
        1,
        "label {'name': 'joy'} is neither a name nor an id",
        "label names or ids",
        "invalid_labels",
    ),
    (
        "a.jsonl",
        b'{"text": "ok", "labels": ["joy"]}\n{"text": "\xff", "labels": ["joy"]}\n',
        "goemotions",
        2,
        "line 2 has invalid UTF-8",
        "UTF-8 encoded text",
        "undecodable_bytes",
    ),
    (
        "a.json",
        '[\n  {"text": "ok", "labels": ["joy"]},\n  {"text": "", "labels": ["joy"]}\n]',
        "goemotions",
        3,
        "text '' is empty or only whitespace",
        "a non-empty text",
        "empty_text",
    ),
    (
        "a.json",
        '[\n  {"text": "ok", "labels": ["joy"]}\n  {"text": "x", "labels": ["joy"]}\n]',
        "goemotions",
        3,
        "invalid JSON (Expecting ',' delimiter at column 3)",
        "a JSON array of objects",
        None,
    ),
    (
        "a.json",
        '[\n  {"text": "ok", "labels": ["joy"]},\n',
        "goemotions",
        2,
        "the JSON array is not closed",
        "a JSON array of objects ending with ']'",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "scheme", "line", "problem", "expected", "reason"),
    BAD_INPUTS,
    ids=[f"{case[0]}:{case[4][:40]}" for case in BAD_INPUTS],
)
def test_bad_input_message_names_file_line_and_expectation(
    tmp_path, name, content, scheme, line, problem, expected, reason
):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as info:
        load_emotion_dataset(path, scheme=scheme)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {problem}"), message
    assert f"; expected {expected}" in message, message
    assert (info.value.source, info.value.line) == (str(path), line)


@pytest.mark.parametrize(
    ("name", "content", "scheme", "line", "problem", "expected", "reason"),
    [case for case in BAD_INPUTS if case[-1] is not None],
    ids=[f"{case[0]}:{case[-1]}" for case in BAD_INPUTS if case[-1] is not None],
)
def test_bad_row_is_skipped_and_counted(tmp_path, name, content, scheme, line, problem, expected, reason):
    path = write(tmp_path / name, content)
    splits, report = load_emotion_dataset(path, scheme=scheme, on_bad_rows="skip", **NO_SPLIT, return_report=True)
    assert report.skipped == {"train": {reason: 1}}
    assert report.first_errors[reason].startswith(f"{path}:{line}: {problem}")
    assert report.num_rows["train"] == len(splits["train"])


def test_skip_counts_per_reason_and_logs(tmp_path, caplog):
    path = write(
        tmp_path / "train.csv",
        "text,labels,id\n"
        "good one,joy,1\n"
        "bad label,joyy,2\n"
        ",joy,3\n"
        "another bad,hapy,4\n"
        "out of range,99,5\n"
        "short row\n"
        'good two,"love,joy",6\n',
    )
    with caplog.at_level(logging.WARNING, logger="goemox.data"):
        splits, report = load_emotion_dataset(path, on_bad_rows="skip", **NO_SPLIT, return_report=True)
    assert splits["train"]["id"][:] == ["1", "6"]
    assert report.skipped == {
        "train": {"unknown_label": 2, "empty_text": 1, "label_id_out_of_range": 1, "malformed_row": 1}
    }
    assert report.skipped_by_reason == report.skipped["train"]
    assert report.num_skipped == 5
    assert report.first_errors["unknown_label"].startswith(f"{path}:3: unknown label 'joyy'")
    assert any(
        "Skipped 5 bad row(s)" in record.getMessage() and "unknown_label: 2" in record.getMessage()
        for record in caplog.records
    )


def test_file_level_problems_are_errors_even_when_skipping(tmp_path):
    path = write(tmp_path / "train.csv", "sentence,labels\nhi,joy\n")
    with pytest.raises(DataError, match=r":1: no text column 'text'"):
        load_emotion_dataset(path, on_bad_rows="skip")


def test_extra_column_clashing_with_output_is_refused(tmp_path):
    path = write(tmp_path / "train.csv", "sentence,text,labels\nhi,other,joy\n")
    with pytest.raises(DataError, match=r":1: column 'text' is neither the text column 'sentence'"):
        load_emotion_dataset(path, text_column="sentence")


def test_data_error_is_a_value_error_and_pickles():
    error = DataError("f.csv", 3, "bad thing", "a good thing")
    assert str(error) == "f.csv:3: bad thing; expected a good thing"
    assert isinstance(error, ValueError) and isinstance(error, GoEmoXError)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    assert str(DataError("folder", None, "broken", "fixed")) == "folder: broken; expected fixed"


def test_load_report_defaults():
    report = LoadReport()
    assert report.num_skipped == 0 and report.skipped_by_reason == {} and report.created_splits == ()


# ---------------------------------------------------------------------------------------------------------
# Stratified split
# ---------------------------------------------------------------------------------------------------------


def synthetic_labels(n_rows: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.array([0.3, 0.15, 0.08, 0.05, 0.02, 0.01, 0.006, 0.005])
    matrix = (rng.random((n_rows, rates.size)) < rates).astype(np.float32)
    matrix[rng.random(n_rows) < 0.05] = 0.0
    return matrix


def test_stratified_split_is_deterministic_and_covers_every_row():
    matrix = synthetic_labels()
    first = multilabel_stratified_split(matrix, [0.8, 0.1, 0.1], seed=7)
    second = multilabel_stratified_split(matrix, [0.8, 0.1, 0.1], seed=7)
    other = multilabel_stratified_split(matrix, [0.8, 0.1, 0.1], seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    combined = np.concatenate(first)
    assert np.array_equal(np.sort(combined), np.arange(len(matrix)))
    assert all(np.all(np.diff(part) > 0) for part in first)


def test_stratified_split_keeps_label_proportions():
    matrix = synthetic_labels()
    parts = multilabel_stratified_split(matrix, [0.8, 0.1, 0.1], seed=42)
    assert [len(part) for part in parts] == pytest.approx([1600, 200, 200], abs=10)
    positives = matrix.sum(axis=0)
    for fraction, part in zip([0.8, 0.1, 0.1], parts, strict=True):
        counts = matrix[part].sum(axis=0)
        assert np.all(counts[positives >= 10] > 0)
        assert np.all(np.abs(counts - fraction * positives) <= 1.5)
        unlabelled = np.sum(matrix[part].sum(axis=1) == 0)
        assert unlabelled == pytest.approx(fraction * np.sum(matrix.sum(axis=1) == 0), abs=10)


def test_stratified_split_edge_cases():
    matrix = synthetic_labels(100)
    train, empty, test = multilabel_stratified_split(matrix, [3, 0, 1], seed=0)
    assert empty.size == 0 and len(train) + len(test) == 100
    unlabelled = multilabel_stratified_split(np.zeros((10, 3)), [0.5, 0.5], seed=0)
    assert [part.size for part in unlabelled] == [5, 5]
    assert [part.size for part in multilabel_stratified_split(np.zeros((0, 3)), [0.5, 0.5], seed=0)] == [0, 0]
    with pytest.raises(ValueError, match="2-D"):
        multilabel_stratified_split(np.zeros(5), [0.5, 0.5], seed=0)
    for fractions in ([], [-0.1, 1.1], [0, 0], [float("nan"), 1]):
        with pytest.raises(ValueError, match="fractions"):
            multilabel_stratified_split(matrix, fractions, seed=0)


def test_automatic_split_is_seeded(tmp_path):
    rows = "".join(f"text {i},{i % 28}\n" for i in range(280))
    path = write(tmp_path / "train.csv", "text,labels\n" + rows)
    first = load_emotion_dataset(path, seed=1)
    again = load_emotion_dataset(path, seed=1)
    other = load_emotion_dataset(path, seed=2)
    assert first["validation"]["text"][:] == again["validation"]["text"][:]
    assert first["validation"]["text"][:] != other["validation"]["text"][:]
    for split in ("validation", "test"):
        assert label_matrix(first[split]).sum(axis=0).tolist() == [1.0] * 28


# ---------------------------------------------------------------------------------------------------------
# label_matrix and tokenize_dataset
# ---------------------------------------------------------------------------------------------------------


def test_label_matrix(goemotions_folder):
    train = load_emotion_dataset(goemotions_folder, scheme="ekman")["train"]
    matrix = label_matrix(train)
    assert matrix.dtype == np.float32 and matrix.shape == (3, 7)
    assert matrix.tolist() == [hot(EKMAN, "joy"), hot(EKMAN, "surprise"), hot(EKMAN, "neutral")]
    assert label_matrix(train.select([2, 0])).tolist() == [hot(EKMAN, "neutral"), hot(EKMAN, "joy")]
    assert label_matrix(train.select([])).shape == (0, 0)
    with pytest.raises(ValueError, match="different lengths"):
        label_matrix(Dataset.from_dict({"labels": [[1.0], [1.0, 0.0]]}))


@pytest.fixture
def tiny_vocab_tokenizer(tmp_path) -> BertTokenizerFast:
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "i",
        "love",
        "this",
        "!",
        "so",
        "sad",
        "today",
        "he",
        "said",
        "wow",
        "whatever",
        ".",
        "thanks",
        "a",
        "lot",
        "[",
        "]",
        "name",
        '"',
        ":",
        ")",
    ]
    write(tmp_path / "vocab.txt", "\n".join(words) + "\n")
    # transformers 5: BertTokenizerFast(vocab_file=...) ignores the file; from_pretrained reads it.
    return BertTokenizerFast.from_pretrained(tmp_path)


def test_tokenize_dataset(goemotions_folder, tiny_vocab_tokenizer):
    raw = load_emotion_dataset(goemotions_folder, scheme="ekman")
    tokenized = tokenize_dataset(raw, tiny_vocab_tokenizer, max_length=5)
    assert list(tokenized) == list(raw)
    train = tokenized["train"]
    assert set(train.column_names) == {"input_ids", "token_type_ids", "attention_mask", "length", "labels"}
    assert train["labels"][:] == raw["train"]["labels"][:]
    assert train.features["labels"] == datasets.Sequence(Value("float32"))
    assert train["length"][:] == [len(ids) for ids in train["input_ids"]]
    expected = tiny_vocab_tokenizer("I love this!", truncation=True, max_length=5)["input_ids"]
    assert train["input_ids"][0] == expected
    assert tiny_vocab_tokenizer.unk_token_id not in train["input_ids"][0]
    assert max(train["length"]) == 5
    assert len(set(train["length"])) > 1, "no padding: lengths differ"
    assert "text" in raw["train"].column_names, "the input DatasetDict is left unchanged"


# ---------------------------------------------------------------------------------------------------------
# Packaged demo set and shared real data
# ---------------------------------------------------------------------------------------------------------


def shared_dir() -> Path:
    shared = Path(os.environ.get("GOEMOX_SHARED", "../shared"))
    return shared if shared.is_absolute() else Path(__file__).resolve().parents[2] / shared


def test_demo_source():
    if not resources.files("goemox").joinpath("resources/demo_emotions.jsonl").is_file():
        pytest.skip("goemox/resources/demo_emotions.jsonl is not there yet")
    splits = load_emotion_dataset("demo", scheme="ten")
    assert set(splits) == {"train", "validation", "test"}
    assert label_matrix(splits["train"]).shape[1] == 10


def test_real_goemotions_with_ekman():
    folder = shared_dir() / "data" / "goemotions"
    if not (folder / "train.tsv").is_file():
        pytest.skip(f"shared GoEmotions data not found at {folder} (set GOEMOX_SHARED)")
    splits, report = load_emotion_dataset(folder, scheme="ekman", return_report=True)
    sizes = {name: len(split) for name, split in splits.items()}
    assert sizes == {"train": 43410, "validation": 5426, "test": 5427}
    assert report.num_skipped == 0 and report.created_splits == ()
    matrix = label_matrix(splits["train"])
    assert matrix.shape == (43410, 7)
    assert matrix.sum(axis=1).min() >= 1
    assert EKMAN.labels[int(matrix.sum(axis=0).argmax())] == "joy"
