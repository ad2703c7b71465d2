import csv
import json

import pytest

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionPrediction
from goemox.inference.io import read_inputs, write_predictions

PREDS = [
    EmotionPrediction(labels=["joy"], scores={"joy": 0.9, "anger": 0.1}),
    EmotionPrediction(labels=[], scores={"joy": 0.2, "anger": 0.3}),
]


def test_reads_txt_csv_tsv_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("first text\n\n  second text  \n", encoding="utf-8")
    assert read_inputs(str(tmp_path / "a.txt")) == [{"text": "first text"}, {"text": "second text"}]
    (tmp_path / "a.csv").write_text('id,body\n7,"hello, world"\n8,bye\n', encoding="utf-8")
    assert read_inputs(str(tmp_path / "a.csv"), "body") == [
        {"id": "7", "body": "hello, world"},
        {"id": "8", "body": "bye"},
    ]
    (tmp_path / "a.tsv").write_text("id\ttext\n1\thi there\n", encoding="utf-8")
    assert read_inputs(str(tmp_path / "a.tsv")) == [{"id": "1", "text": "hi there"}]
    (tmp_path / "a.jsonl").write_text('{"text": "x", "id": 3}\n{"text": "y", "id": 4}\n', encoding="utf-8")
    assert read_inputs(str(tmp_path / "a.jsonl")) == [{"text": "x", "id": 3}, {"text": "y", "id": 4}]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"id,body\n1,hi\n", r"bad.csv:1: no column 'text'; the header has \['id', 'body'\]"),
        ("bad2.csv", b"id,text\n1,hi\n2,\n", r"bad2.csv:3: empty or missing 'text'"),
        ("bad3.csv", b"id,text\n1,hi\n2,a,b\n", r"bad3.csv:3: more cells than the header's 2 columns"),
        ("bad.jsonl", b'{"text": "a"}\n{"text": \n', r"bad.jsonl:2: invalid JSON"),
        ("bad2.jsonl", b'{"text": "a"}\n[1, 2]\n', r"bad2.jsonl:2: expected a JSON object"),
        ("bad.txt", b"fine\ncaf\xe9\n", r"bad.txt:2: bytes that are not UTF-8"),
    ],
)
def test_bad_inputs_name_file_and_line(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(GoEmoXUsageError, match=message):
        read_inputs(str(tmp_path / name))


def test_missing_file(tmp_path):
    with pytest.raises(GoEmoXUsageError, match="no such file"):
        read_inputs(str(tmp_path / "nope.txt"))


def test_writes_jsonl_and_csv_keeping_columns(tmp_path):
    rows = [{"id": "7", "text": "a"}, {"id": "8", "text": "b"}]
    write_predictions(rows, PREDS, str(tmp_path / "out.jsonl"), "jsonl")
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines[0] == {"id": "7", "text": "a", "labels": ["joy"], "scores": {"joy": 0.9, "anger": 0.1}}
    write_predictions(rows, PREDS, str(tmp_path / "out.csv"), "csv")
    table = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert table[0]["id"] == "7" and table[0]["labels"] == "joy" and float(table[0]["score_joy"]) == 0.9
    assert table[1]["labels"] == ""
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind
