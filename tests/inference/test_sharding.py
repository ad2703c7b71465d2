"""Chunked prediction: shards from several processes join into what one `write_predictions` writes, a re-run predicts
only what is not complete, and a shard of other rows, another model or other options is never reused."""

import json
import shutil

import pytest

from goemox.errors import GoEmoXUsageError
from goemox.inference.io import write_predictions
from goemox.inference.predictor import EmotionPrediction
from goemox.inference.sharding import (
    ShardKey,
    ShardRecord,
    check_shard_folder,
    iter_chunks,
    merge_shards,
    predict_shards,
    read_shard_record,
    run_fingerprint,
    shard_folder,
    shard_path,
    write_shard,
)

# 11 rows: chunks of 3 rows are 3+3+3+2, shared 2+2 by two processes; the column `extra` first appears in chunk 1.
ROWS = [{"id": i, "text": f"text number {i}" + "!" * (i % 3)} for i in range(11)]
for row in ROWS[4::3]:
    row["extra"] = [row["id"], None]


class FakeClassifier:
    """Scores from the text's length; remembers every text it was asked about."""

    label_names = ["joy", "anger"]

    def __init__(self):
        self.seen = []

    def predict(self, texts, ensure_top_label=False):
        self.seen += texts
        return [
            EmotionPrediction(["joy"] if len(t) % 2 else [], {"joy": len(t) / 100, "anger": 1 / (1 + len(t))})
            for t in texts
        ]


def expected(tmp_path, rows, fmt):
    """What one `goemox predict` process writes for the rows."""
    path = tmp_path / f"expected.{fmt}"
    write_predictions(rows, FakeClassifier().predict([row["text"] for row in rows]), str(path), fmt)
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_two_processes_and_a_merge_write_what_one_process_writes(tmp_path, fmt):
    folder, output = shard_folder(tmp_path / f"out.{fmt}"), tmp_path / f"out.{fmt}"
    classifiers = [FakeClassifier(), FakeClassifier()]
    for rank in (1, 0):  # the order in which processes finish does not matter
        keys = predict_shards(
            iter(ROWS), classifiers[rank], folder, "run", chunk_rows=3, rank=rank, world_size=2, fmt=fmt
        )
    assert [len(c.seen) for c in classifiers] == [3 + 3, 3 + 2]
    assert sorted(classifiers[0].seen + classifiers[1].seen) == sorted(row["text"] for row in ROWS)
    assert merge_shards(folder, keys, output, fmt) == 11
    assert output.read_bytes() == expected(tmp_path, ROWS, fmt)
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir()) == [f"expected.{fmt}", f"out.{fmt}"]


def test_a_rerun_predicts_only_the_chunks_not_complete(tmp_path, caplog):
    folder = shard_folder(tmp_path / "out.csv")
    predict_shards(ROWS, FakeClassifier(), folder, "run", chunk_rows=3, rank=0, world_size=2, fmt="csv")  # 0 and 2
    (folder / ".chunk-000001.shard.x1y2.tmp").write_text('{"goemox_shard": 1, "key"', encoding="utf-8")  # killed write
    cut = shard_path(folder, 2).read_bytes()
    shard_path(folder, 2).write_bytes(cut[:-10])  # cut short: not a shard
    shutil.copy(shard_path(folder, 0), shard_path(folder, 3))  # another chunk's shard
    again = FakeClassifier()
    with caplog.at_level("INFO", logger="goemox.inference.sharding"):
        keys = predict_shards(ROWS, again, folder, "run", chunk_rows=3, fmt="csv")
    assert again.seen == [row["text"] for row in ROWS[3:]]  # chunk 0 is not predicted twice
    assert "chunk 0 (rows 1-3): already predicted" in caplog.text
    assert "chunk 2 (rows 7-9): " in caplog.text and "is incomplete or was made from other rows" in caplog.text
    assert "predicted 3 chunk(s), 1 already done, of 4 in all" in caplog.text
    merge_shards(folder, keys, tmp_path / "out.csv", "csv")
    assert (tmp_path / "out.csv").read_bytes() == expected(tmp_path, ROWS, "csv")


def test_shards_of_other_rows_another_model_or_other_options_are_predicted_again(tmp_path):
    folder = shard_folder(tmp_path / "out.jsonl")
    predict_shards(ROWS, FakeClassifier(), folder, "run A", chunk_rows=3)
    other_run = FakeClassifier()
    predict_shards(ROWS, other_run, folder, "run B", chunk_rows=3)
    assert len(other_run.seen) == 11
    changed = [dict(row) for row in ROWS]
    changed[4]["text"] = "a text edited since"
    edited = FakeClassifier()
    keys = predict_shards(changed, edited, folder, "run B", chunk_rows=3)
    assert edited.seen == [row["text"] for row in changed[3:6]]
    merge_shards(folder, keys, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == expected(tmp_path, changed, "jsonl")


def test_merge_names_a_missing_shard_and_writes_nothing(tmp_path):
    folder = shard_folder(tmp_path / "out.jsonl")
    keys = predict_shards(ROWS, FakeClassifier(), folder, "run", chunk_rows=3, rank=0, world_size=2)
    with pytest.raises(GoEmoXUsageError, match=r"chunk-000001\.shard: the shard of chunk 1 \(rows 4-6\) is missing"):
        merge_shards(folder, keys, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists() and shard_path(folder, 0).is_file()


def test_a_bad_row_stops_every_process_also_outside_its_own_chunks(tmp_path):
    rows = [{"text": "mine", "labels": "gold"}, {"text": "fine"}]  # chunk 0 is process 0's, not process 1's
    with pytest.raises(GoEmoXUsageError, match=r"in\.jsonl: the input column 'labels' would be replaced"):
        predict_shards(
            rows, FakeClassifier(), tmp_path / "s", "run", chunk_rows=1, rank=1, world_size=2, name="in.jsonl"
        )
    assert not (tmp_path / "s").exists()  # nothing was written, not even an empty shard folder
    with pytest.raises(GoEmoXUsageError, match="--chunk_rows must be at least 1, got 0"):
        list(iter_chunks(rows, 0))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_empty_input_is_an_empty_output(tmp_path, fmt):
    folder = shard_folder(tmp_path / "out")
    keys = predict_shards([], FakeClassifier(), folder, "run", fmt=fmt)
    assert keys == [] and merge_shards(folder, keys, tmp_path / "out", fmt) == 0
    assert (tmp_path / "out").read_bytes() == expected(tmp_path, [], fmt)
    assert not folder.exists()


def test_only_a_whole_shard_file_has_a_record(tmp_path):
    key = ShardKey(chunk=0, start=0, stop=1, rows="r", run="run")
    path = write_shard(tmp_path / "chunk-000000.shard", ShardRecord(key, ["text"], ["labels"], 6), "a,é\r\n")
    assert read_shard_record(path) == ShardRecord(key, ["text"], ["labels"], 6)
    line = path.read_bytes().split(b"\n")[0]
    for content in [b"", b"not json\n", b"[1, 2]\n", line.replace(b'"goemox_shard": 1', b'"goemox_shard": 9') + b"\n"]:
        path.write_bytes(content + "a,é\r\n".encode())
        assert read_shard_record(path) is None, content
    assert read_shard_record(tmp_path / "missing.shard") is None


def test_run_fingerprint_follows_the_model_files_and_the_settings(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"num_labels": 2}), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 100)
    first = run_fingerprint(str(tmp_path), {"max_length": 128})
    (tmp_path / ".model.safetensors.abc.tmp").write_bytes(b"a write in progress")
    (tmp_path / "checkpoint-5").mkdir()
    assert run_fingerprint(str(tmp_path), {"max_length": 128}) == first
    assert run_fingerprint(str(tmp_path), {"max_length": 64}) != first
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 99 + b"\x01")
    assert run_fingerprint(str(tmp_path), {"max_length": 128}) != first
    assert run_fingerprint("user/model", {}) != run_fingerprint("user/other", {})


def test_a_shard_folder_with_files_of_the_user_is_refused_and_only_shards_are_removed(tmp_path):
    folder = shard_folder(tmp_path / "out.jsonl")
    keys = predict_shards(ROWS, FakeClassifier(), folder, "run", chunk_rows=3)
    (folder / ".chunk-000009.shard.x1y2.tmp").write_text("a killed write", encoding="utf-8")
    assert check_shard_folder(folder) == folder  # goemox's own files: a resumed run goes on
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / "chunk-000099.shard").write_text("not a shard record\n", encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=r"out.jsonl.shards holds files goemox did not write \(chunk-000099"):
        check_shard_folder(folder)
    merge_shards(folder, keys, tmp_path / "out.jsonl")
    assert sorted(p.name for p in folder.iterdir()) == ["chunk-000099.shard", "notes.txt"]
