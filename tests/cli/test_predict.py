"""`goemox predict`: what it refuses before any work, how it names its columns, what an interrupt leaves, and runs in
chunks (resumable, shared by the processes of `accelerate launch scripts/predict.py`)."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CLI_ENV, KEYWORDS, free_port, starts_processes

from goemox.cli import main
from goemox.cli.predict import PROCESS_COUNT_VARIABLES, several_processes
from goemox.inference.classifier import EmotionClassifier
from goemox.resources import demo_texts

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        ("data.jsonl", [], "--output {tmp}/data.jsonl is the input {tmp}/data.jsonl"),
        ("data.jsonl", ["--overwrite"], "--output {tmp}/data.jsonl is the input {tmp}/data.jsonl"),
        ("folder", [], "--output {tmp}/folder is a folder; give a file name"),
        ("old.jsonl", [], "--output {tmp}/old.jsonl already exists; pass --overwrite"),
    ],
)
def test_outputs_are_checked_before_the_model_is_loaded(tmp_path, capsys, no_loading, output, extra, message):
    (tmp_path / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.jsonl").write_text("mine\n", encoding="utf-8")
    args = ["--model", str(tmp_path / "model"), "--input", str(tmp_path / "data.jsonl")]
    assert main(["predict", *args, "--output", str(tmp_path / output), *extra]) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert (tmp_path / "data.jsonl").read_text(encoding="utf-8") == '{"text": "hello"}\n'
    assert (tmp_path / "old.jsonl").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("option", ["--batch_size", "--max_length"])
def test_sizes_below_one_are_refused(tmp_path, capsys, no_loading, option):
    assert main(["predict", "--model", str(tmp_path), option, "0"]) == 2
    assert f"goemox: error: {option} must be at least 1, got 0" in capsys.readouterr().err


def test_an_input_column_a_prediction_would_replace_is_refused_unless_prefixed(model, tmp_path, capsys):
    (tmp_path / "gold.csv").write_text("text,labels\nI love it,joy\nso sad,sadness\n", encoding="utf-8")
    args = ["predict", "--model", str(model), "--input", str(tmp_path / "gold.csv")]
    assert main([*args, "--output", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "input column 'labels' would be replaced by a prediction column; pass --prediction_prefix pred_" in err
    assert "Traceback" not in err and not (tmp_path / "out.csv").exists()
    assert main([*args, "--output", str(tmp_path / "out.csv"), "--prediction_prefix", "pred_"]) == 0
    table = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [row["labels"] for row in table] == ["joy", "sadness"]
    assert {"pred_labels", "pred_score_joy"} <= set(table[0])


def test_interrupt_during_prediction_leaves_no_partial_output(model, tmp_path, capsys, monkeypatch):
    def interrupted(self, texts, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(EmotionClassifier, "predict", interrupted)
    (tmp_path / "in.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "kept.jsonl").write_text("earlier predictions\n", encoding="utf-8")
    args = ["predict", "--model", str(model), "--input", str(tmp_path / "in.txt")]
    assert main([*args, "--output", str(tmp_path / "new.jsonl")]) == 130
    assert main([*args, "--output", str(tmp_path / "kept.jsonl"), "--overwrite"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.txt", "kept.jsonl"]
    assert (tmp_path / "kept.jsonl").read_text(encoding="utf-8") == "earlier predictions\n"


def test_txt_lines_end_at_newline_and_blank_lines_are_noted(goemox_cli, model, tmp_path):
    (tmp_path / "in.txt").write_text("one\u2028a\r\n\ntwo\x0cb\n  \nthree\x85c\n", encoding="utf-8", newline="")
    result = goemox_cli("predict", "--model", str(model), "--input", str(tmp_path / "in.txt"))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.split("\n") if line]
    assert [row["text"] for row in rows] == ["one\u2028a", "two\x0cb", "three\x85c"]
    assert "skipped 2 blank line(s)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chunk_rows", "0"], "--chunk_rows must be at least 1, got 0"),
        (["--output", "-"], "--output -: predicting in chunks (--chunk_rows, or several processes) needs files"),
        (["--input", "-"], "--input -: predicting in chunks (--chunk_rows, or several processes) needs files"),
        (["--output", "{tmp}/data.jsonl"], "--output {tmp}/data.jsonl is the input {tmp}/data.jsonl"),
        (["--output", "{tmp}/taken.jsonl"], "--output {tmp}/taken.jsonl.shards exists and is not a folder"),
        (["--input", "{tmp}/in.shards/data.jsonl", "--output", "{tmp}/in"], "--output {tmp}/in.shards holds the input"),
    ],
)
def test_chunked_runs_check_their_paths_before_the_model_is_loaded(goemox_here, tmp_path, no_loading, args, message):
    (tmp_path / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    (tmp_path / "taken.jsonl.shards").write_text("not a folder", encoding="utf-8")
    (tmp_path / "in.shards").mkdir()
    (tmp_path / "in.shards" / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    base = ["--model", str(tmp_path / "model"), "--input", str(tmp_path / "data.jsonl")]
    base += ["--output", str(tmp_path / "out.jsonl")]
    result = goemox_here("predict", *base, "--chunk_rows", "2", *(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode == 2
    assert f"goemox: error: {message.format(tmp=tmp_path)}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.jsonl").exists()


def test_a_chunked_csv_run_writes_what_one_pass_writes(model, tmp_path, goemox_here):
    texts = ['id,text\n1,"I love it,\nreally"\n2,so sad\n3,what?\n', "4,no way\n5,thanks a lot\n"]
    (tmp_path / "in.csv").write_text("".join(texts), encoding="utf-8")
    args = ["predict", "--model", str(model), "--input", str(tmp_path / "in.csv"), "--batch_size", "1"]
    assert goemox_here(*args, "--output", str(tmp_path / "whole.csv")).returncode == 0
    result = goemox_here(*args, "--output", str(tmp_path / "chunked.csv"), "--chunk_rows", "2")
    assert result.returncode == 0, result.stderr
    assert f"Wrote 5 predictions to {tmp_path / 'chunked.csv'}" in result.stderr
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["chunked.csv", "in.csv", "whole.csv"]


def test_a_process_that_dies_stops_the_others_with_one_line_and_keeps_the_chunks(
    model, tmp_path, goemox_here, monkeypatch
):
    def peer_died(self):
        raise RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:35564.\nCheck the logs")

    monkeypatch.setattr("accelerate.PartialState.wait_for_everyone", peer_died)
    (tmp_path / "in.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    args = ["--model", str(model), "--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "out.jsonl")]
    result = goemox_here("predict", *args, "--chunk_rows", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "goemox: error: another process stopped before it finished its chunks ([pair.cc:553] Connection closed by "
        f"peer [127.0.0.1]:35564.); the chunks done are kept in {tmp_path / 'out.jsonl.shards'}: run the same "
        "command again to predict the rest"
    )
    assert not (tmp_path / "out.jsonl").exists()
    assert sorted(path.name for path in (tmp_path / "out.jsonl.shards").iterdir()) == [
        "chunk-000000.shard",
        "chunk-000001.shard",
    ]


@starts_processes
@pytest.mark.skipif(
    shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
    reason="accelerate's launcher is not installed",
)
def test_two_processes_under_accelerate_launch_finish_a_killed_run(model, tmp_path, caplog, monkeypatch):
    """A run killed after its first chunk is finished by two gloo processes (`--multi_gpu` without GPUs: see
    tests/training/test_multiprocess.py); the output is byte for byte that of one plain `goemox predict`."""
    rows = [{"id": i, "text": text} for i, text in enumerate(demo_texts()[:11])]  # 4 chunks of 3, 3, 3 and 2 rows
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    # --batch_size 1: no padding, so that the scores do not depend on which texts share a batch.
    args = ["--model", str(model), "--input", str(tmp_path / "in.jsonl"), "--batch_size", "1"]
    # One thread here as in the launched processes (OMP_NUM_THREADS=1 below): with another thread count torch sums
    # in another order and the last digits of a score can differ.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["predict", *args, "--output", str(tmp_path / "whole.jsonl")]) == 0
        run_killed_then_launched(args, model, tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)


def run_killed_then_launched(args: list[str], model, tmp_path, monkeypatch) -> None:

    chunked = [*args, "--output", str(tmp_path / "out.jsonl"), "--chunk_rows", "3"]
    predict, calls = EmotionClassifier.predict, []

    def killed_in_the_second_chunk(self, texts, **kwargs):
        calls.append(texts)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return predict(self, texts, **kwargs)

    monkeypatch.setattr(EmotionClassifier, "predict", killed_in_the_second_chunk)
    assert main(["predict", *chunked]) == 130
    shards = tmp_path / "out.jsonl.shards"
    assert sorted(path.name for path in shards.iterdir()) == ["chunk-000000.shard"]
    (shards / ".chunk-000001.shard.k1ll3d.tmp").write_text('{"goemox_shard": 1, "ke', encoding="utf-8")

    launch = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(free_port()), str(REPO / "scripts" / "predict.py"), *chunked]
    env = {**os.environ, **CLI_ENV, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "chunk 0 (rows 1-3): already predicted" in result.stderr
    assert "process 1 of 2: predicted 1 chunk(s), 1 already done, of 4 in all" in result.stderr
    assert "process 2 of 2: predicted 2 chunk(s), 0 already done, of 4 in all" in result.stderr
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "whole.jsonl"]


def test_a_launcher_of_several_processes_is_recognised(monkeypatch):
    for name in PROCESS_COUNT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not several_processes()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not several_processes()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert several_processes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--explain", "--backend", "onnx"], "--explain needs --backend torch: integrated gradients need the network"),
        (["--explain", "--explain_top", "0"], "--explain_top must be at least 1, got 0"),
        (["--explain", "--explain_steps", "0"], "--explain_steps must be at least 1, got 0"),
    ],
)
def test_explain_options_are_checked_before_the_model_is_loaded(goemox_here, tmp_path, no_loading, args, message):
    (tmp_path / "data.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    base = ["--model", str(tmp_path / "model"), "--input", str(tmp_path / "data.jsonl")]
    base += ["--output", str(tmp_path / "o.jsonl")]
    result = goemox_here("predict", *base, *args)
    assert result.returncode == 2
    assert f"goemox: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o.jsonl").exists()


def test_explain_adds_the_words_behind_each_predicted_label(keyword_model, tmp_path, goemox_here):
    texts = ["the cat was furious again", "we were delighted and furious", "nothing much here"]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    args = ["predict", "--model", str(keyword_model), "--input", str(tmp_path / "in.jsonl"), "--explain"]
    args += ["--explain_top", "2", "--explain_steps", "16"]
    result = goemox_here(*args, "--output", str(tmp_path / "o.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [sorted(row["explanation"]) for row in rows] == [["anger"], ["anger", "joy"], []]
    assert [sorted(row["labels"]) for row in rows] == [["anger"], ["anger", "joy"], []]
    first = rows[0]["explanation"]["anger"]
    assert first[0] == {
        "word": "furious",
        "start": 12,
        "end": 19,
        "attribution": pytest.approx(first[0]["attribution"]),
    }
    assert len(first) <= 2 and first[0]["attribution"] > 0
    assert rows[1]["explanation"]["joy"][0]["word"] == "delighted"

    result = goemox_here(*args, "--output", str(tmp_path / "o.csv"), "--prediction_prefix", "p_")
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader((tmp_path / "o.csv").open(encoding="utf-8")))
    assert [json.loads(row["p_explanation"]) for row in table] == [row["explanation"] for row in rows]


def test_explained_chunks_write_what_one_pass_writes(keyword_model, tmp_path, goemox_here):
    (tmp_path / "in.txt").write_text(
        "so furious\ndelighted now\nplain words\nfurious and delighted\n", encoding="utf-8"
    )
    args = ["predict", "--model", str(keyword_model), "--input", str(tmp_path / "in.txt"), "--batch_size", "1"]
    args += ["--explain", "--explain_steps", "8"]
    assert goemox_here(*args, "--output", str(tmp_path / "whole.jsonl")).returncode == 0
    result = goemox_here(*args, "--output", str(tmp_path / "chunked.jsonl"), "--chunk_rows", "3")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chunked.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert '"explanation"' in (tmp_path / "whole.jsonl").read_text(encoding="utf-8")


@pytest.fixture
def long_texts(tmp_path, tiny_tokenizer) -> tuple[Path, list[str]]:
    """A JSONL file of texts of 360 filler words with a keyword after the 320th, a short one, and their labels."""
    rng = np.random.default_rng(0)
    filler = sorted(w for w in tiny_tokenizer.get_vocab() if w.isalpha() and w not in KEYWORDS.values() and len(w) > 2)
    labels = ["anger", "joy", "anger", "joy"]
    texts = [" ".join([*rng.choice(filler, 320), KEYWORDS[label], *rng.choice(filler, 40)]) for label in labels]
    texts.append("so delighted")
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path, [*labels, "joy"]


def test_long_text_window_reads_long_texts_whole_and_says_so(goemox_cli, keyword_model, long_texts, tmp_path):
    path, labels = long_texts
    args = ["predict", "--model", str(keyword_model), "--input", str(path)]
    found = {}
    for mode in ("truncate", "window"):
        result = goemox_cli(*args, "--long_text", mode, "--output", str(tmp_path / f"{mode}.jsonl"))
        assert result.returncode == 0, result.stderr[-3000:]
        rows = [json.loads(line) for line in (tmp_path / f"{mode}.jsonl").read_text().splitlines()]
        assert len(rows) == len(labels)
        found[mode] = [label in row["labels"] for label, row in zip(labels, rows)]
        if mode == "truncate":
            assert "4 of 5 texts are longer than 128 tokens and were cut to their beginning" in result.stderr
            assert "--long_text window reads them whole" in result.stderr
        else:
            assert "4 of 5 texts are longer than 128 tokens and were read in overlapping windows" in result.stderr
    assert found == {"truncate": [False] * 4 + [True], "window": [True] * 5}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--long_text", "window", "--long_text_stride", "500"], "--long_text_stride 500 must be below the 126 text"),
        (["--long_text_stride", "8"], "--long_text_stride applies to --long_text window, but this model truncates"),
        (["--long_text", "window", "--max_length", "2"], "--max_length 2 leaves no token of text after the"),
    ],
)
def test_bad_long_text_settings_are_one_line(goemox_here, keyword_model, long_texts, args, message):
    result = goemox_here("predict", "--model", str(keyword_model), "--input", str(long_texts[0]), *args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("goemox") and message in last, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("option", "value"), [("--long_text", "windows"), ("--long_text_aggregation", "sum")])
def test_a_long_text_value_that_is_no_choice_is_refused_by_the_parser(tmp_path, capsys, no_loading, option, value):
    with pytest.raises(SystemExit) as stopped:
        main(["predict", "--model", str(tmp_path), option, value])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: argument {option}" in last and f"invalid choice: '{value}'" in last


def test_a_chunked_run_fingerprints_the_long_text_settings(
    goemox_here, keyword_model, long_texts, tmp_path, monkeypatch
):
    from goemox.inference import sharding

    seen = []
    fingerprint = sharding.run_fingerprint
    monkeypatch.setattr(
        sharding, "run_fingerprint", lambda model, settings: seen.append(settings) or fingerprint(model, settings)
    )
    args = ["predict", "--model", str(keyword_model), "--input", str(long_texts[0]), "--chunk_rows", "2"]
    result = goemox_here(*args, "--long_text", "window", "--output", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    assert {key: seen[0][key] for key in ("long_text", "long_text_stride", "long_text_aggregation")} == {
        "long_text": "window", "long_text_stride": None, "long_text_aggregation": None
    }  # fmt: skip
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [label in row["labels"] for label, row in zip(long_texts[1], rows)] == [True] * 5
