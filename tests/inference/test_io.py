import csv
import json

import pytest

from goemox.errors import GoEmoXUsageError
from goemox.inference.io import csv_prediction_fields, format_predictions, input_columns, write_predictions
from goemox.inference.predictor import EmotionPrediction

PREDS = [
    EmotionPrediction(labels=["joy"], scores={"joy": 0.9, "anger": 0.1}),
    EmotionPrediction(labels=[], scores={"joy": 0.2, "anger": 0.3}),
]


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


@pytest.mark.parametrize("column", ["labels", "scores", "unfamiliar", "score_joy"])
def test_an_input_column_named_like_a_prediction_column_is_refused(tmp_path, column):
    rows = [{"text": "a", column: "mine"}, {"text": "b", column: "mine too"}]
    with pytest.raises(GoEmoXUsageError, match=rf"input column '{column}' .*--prediction_prefix pred_"):
        write_predictions(rows, PREDS, str(tmp_path / "out.jsonl"), "jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_prediction_prefix_keeps_input_columns(tmp_path):
    rows = [{"text": "a", "labels": "gold"}, {"text": "b", "labels": ""}]
    write_predictions(rows, PREDS, str(tmp_path / "out.jsonl"), "jsonl", prefix="pred_")
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert first == {"text": "a", "labels": "gold", "pred_labels": ["joy"], "pred_scores": {"joy": 0.9, "anger": 0.1}}
    write_predictions(rows, PREDS, str(tmp_path / "out.csv"), "csv", prefix="pred_")
    table = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert list(table[0]) == ["text", "labels", "pred_labels", "pred_score_joy", "pred_score_anger"]
    assert table[0]["labels"] == "gold" and table[0]["pred_labels"] == "joy"


def test_csv_text_without_its_header_and_the_columns_it_is_laid_out_in():
    rows = [{"text": "a"}, {"id": 8, "text": "b"}]
    flagged = [EmotionPrediction(p.labels, p.scores, unfamiliar=i == 1) for i, p in enumerate(PREDS)]
    assert input_columns(rows) == ["text", "id"]
    assert csv_prediction_fields(flagged, "p_") == ["p_labels", "p_unfamiliar", "p_score_joy", "p_score_anger"]
    assert csv_prediction_fields([], "p_") == ["p_labels"]
    whole = format_predictions(rows, flagged, "csv", prefix="p_")
    body = format_predictions(rows, flagged, "csv", prefix="p_", header=False)
    assert whole == "text,id,p_labels,p_unfamiliar,p_score_joy,p_score_anger\r\n" + body
    assert body == "a,,joy,false,0.900000,0.100000\r\nb,8,,true,0.200000,0.300000\r\n"
    assert format_predictions(rows, PREDS, "jsonl", header=False) == format_predictions(rows, PREDS, "jsonl")
