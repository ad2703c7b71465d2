"""Reading texts to label: TXT, CSV/TSV and JSONL, line endings, quoting, errors that name the file and line."""

from __future__ import annotations

import pytest

from goemox.data.text_files import iter_inputs, read_inputs
from goemox.errors import GoEmoXUsageError


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


def test_txt_lines_end_at_newline_only_and_blank_lines_are_counted(tmp_path, caplog):
    content = "one\u2028still one\r\ntwo\x0cstill two\n\n   \nthree\x85still three\n"
    (tmp_path / "a.txt").write_text(content, encoding="utf-8", newline="")
    with caplog.at_level("INFO", logger="goemox.data.text_files"):
        rows = read_inputs(str(tmp_path / "a.txt"))
    assert rows == [{"text": "one\u2028still one"}, {"text": "two\x0cstill two"}, {"text": "three\x85still three"}]
    assert "skipped 2 blank line(s)" in caplog.text


def test_jsonl_line_may_hold_a_raw_line_separator_inside_a_string(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "a\u2028b"}\r\n{"text": "c\x85d"}\n', encoding="utf-8", newline="")
    assert read_inputs(str(tmp_path / "a.jsonl")) == [{"text": "a\u2028b"}, {"text": "c\x85d"}]


@pytest.mark.parametrize(
    ("content", "line"),
    [('id,text\n1,"open quote\n2,second\n3,third\n', 2), ('id,text\n1,fine\n2,"a\nb"\n3,"never closed\n', 5)],
)
def test_csv_unterminated_quote_names_the_line_where_it_starts(tmp_path, content, line):
    (tmp_path / "a.csv").write_text(content, encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=rf"a\.csv:{line}: a quoted field starting on this line is never closed"):
        read_inputs(str(tmp_path / "a.csv"))


def test_csv_field_longer_than_the_csv_module_default_limit(tmp_path):
    long_text = "word " * 40_000
    (tmp_path / "a.csv").write_text(f'id,text\n1,"{long_text}"\n', encoding="utf-8")
    assert read_inputs(str(tmp_path / "a.csv")) == [{"id": "1", "text": long_text}]


def test_rows_are_streamed_and_a_bad_line_stops_the_stream_where_it_is(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n\n{"text": "two"}\n{"text": \n')
    rows = iter_inputs(str(tmp_path / "a.jsonl"))
    assert [next(rows), next(rows)] == [{"text": "one"}, {"text": "two"}]
    with pytest.raises(GoEmoXUsageError, match=r"a\.jsonl:4: invalid JSON"):
        next(rows)
    (tmp_path / "b.csv").write_bytes(b'id,text\r1,"a\r\nb"\n2,caf\xe9\n')
    rows = iter_inputs(str(tmp_path / "b.csv"))
    assert next(rows) == {"id": "1", "text": "a\r\nb"}
    with pytest.raises(GoEmoXUsageError, match=r"b\.csv:3: bytes that are not UTF-8"):
        next(rows)


def test_a_missing_file_is_refused_before_the_first_row_is_asked_for(tmp_path):
    with pytest.raises(GoEmoXUsageError, match="nope.csv: no such file"):
        iter_inputs(str(tmp_path / "nope.csv"))
