import pytest

from goemox.data import load_emotion_dataset
from goemox.data.delimited import delimited_rows
from goemox.errors import DataError


def test_rows_carry_the_lines_they_span():
    rows = list(delimited_rows(["id,text\n", '1,"two\n', 'lines"\n', "\n", "2,x\n"], ","))
    assert [(row.first, row.last, row.cells) for row in rows] == [
        (1, 1, ["id", "text"]),
        (2, 3, ["1", "two\nlines"]),
        (4, 4, []),
        (5, 5, ["2", "x"]),
    ]


def test_an_open_quote_is_reported_where_it_opens():
    lines = ["a,b,c\n", '1,"x\n', 'y","z\n', "more\n"]
    (row,) = [row for row in delimited_rows(lines, ",") if row.problem]
    assert (row.first, row.line, row.problem) == (2, 3, "a quoted field starting on this line is never closed")


def test_training_reader_reports_an_open_quote_instead_of_swallowing_the_file(tmp_path):
    (tmp_path / "train.csv").write_text('labels,text\njoy,"open\nanger,second\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.csv:2: a quoted field starting on this line is never closed"):
        load_emotion_dataset(None, train_file=str(tmp_path / "train.csv"), scheme="ten")
