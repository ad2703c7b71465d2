"""What new users ran into, command by command, as they ran it: each case ends in one clear line (exit status 2) and
loses nothing the user had. Add the next round's cases under the section of their kind."""

import json
import os
import stat
from pathlib import Path

import pytest
import torch
from conftest import KEYWORDS, TORCH_FREE


@pytest.fixture(scope="module")
def onnx_model(model, tmp_path_factory) -> Path:
    """`model` exported with `goemox export onnx`."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from goemox.exporters.onnx import export_onnx

    folder = tmp_path_factory.mktemp("user-onnx") / "onnx"
    export_onnx(model, folder)
    return folder


@pytest.fixture
def texts(tmp_path) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("thank you so much\nwhy would you do that\ni am scared\n", encoding="utf-8")
    return path


def one_line(result, *parts: str) -> None:
    """The command stopped with status 2 and one error line (after any progress bar) naming each of `parts`."""
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr[-2000:]
    # An escaping exception would end the run otherwise (status 1 and its traceback last, or raised here in-process);
    # lines before the error are progress bars, and in-process the log records of earlier runs' handlers.
    assert last.startswith("goemox: error: "), result.stderr[-2000:]
    for part in parts:
        assert part in last, last


# Data loss ------------------------------------------------------------------------------------------------------------


def test_card_does_not_replace_a_file_of_the_user_without_overwrite(goemox_here, model, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("id,text\n1,keep me\n", encoding="utf-8")
    one_line(goemox_here("card", "--model", str(model), "--output", str(good)), str(good), "--overwrite")
    assert good.read_text(encoding="utf-8") == "id,text\n1,keep me\n"


def test_outputs_that_are_links_or_devices_are_refused_and_left_alone(goemox_here, no_loading, texts, tmp_path):
    target = tmp_path / "kept.jsonl"
    target.write_text("the user's file\n", encoding="utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for output, words in ((link, "symbolic link"), (fifo, "not a regular file"), (Path("/dev/null"), "not a regular")):
        result = goemox_here("predict", "--model", "m", "--input", str(texts), "--output", str(output), "--overwrite")
        one_line(result, str(output), words)
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "the user's file\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_chunked_predict_keeps_a_shard_folder_holding_the_users_files(goemox_here, no_loading, texts, tmp_path):
    folder = tmp_path / "out.jsonl.shards"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    args = ["--input", str(texts), "--output", str(tmp_path / "out.jsonl"), "--chunk_rows", "2"]
    one_line(goemox_here("predict", "--model", "m", *args), str(folder), "notes.txt")
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_chunked_predict_removes_only_its_own_shards(goemox_here, model, texts, tmp_path):
    output = tmp_path / "out.jsonl"
    args = ["--model", str(model), "--input", str(texts), "--output", str(output), "--chunk_rows", "2"]
    assert goemox_here("predict", *args).returncode == 0
    assert len(output.read_text(encoding="utf-8").splitlines()) == 3
    assert not (tmp_path / "out.jsonl.shards").exists()


# Silently wrong -------------------------------------------------------------------------------------------------------


def test_explain_with_windows_explains_the_window_that_gave_the_label(goemox_cli, keyword_model, tmp_path):
    filler = " ".join(["the", "day", "was", "long", "and", "we", "walked", "home"] * 12)
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": f"{filler} {KEYWORDS['anger']}"}) + "\n", encoding="utf-8")
    args = ["--model", str(keyword_model), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl")]
    result = goemox_cli("predict", *args, "--long_text", "window", "--max_length", "32", "--explain")
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8"))
    assert "anger" in row["labels"]
    assert row["explanation"]["anger"][0]["word"] == KEYWORDS["anger"]


def test_calibrate_keeps_the_folder_permissions_a_copy_would_have(goemox_here, model, tmp_path, umask_027):
    data = ["--dataset", "demo", "--max_length", "32"]
    result = goemox_here("calibrate", "--model", str(model), *data, "--output_dir", str(tmp_path / "calibrated"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert stat.S_IMODE((tmp_path / "calibrated").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "calibrated" / "calibration.json").stat().st_mode) == 0o640
    (tmp_path / "calibrated").chmod(0o755)
    result = goemox_here("calibrate", "--model", str(tmp_path / "calibrated"), *data, "--in_place")
    assert result.returncode == 0, result.stderr[-2000:]
    assert stat.S_IMODE((tmp_path / "calibrated").stat().st_mode) == 0o755


# One line instead of a traceback --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content"), [("test.csv", "text,labels\n"), ("test.jsonl", "")])
def test_evaluate_on_a_file_without_rows_is_one_line(goemox_here, model, tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = goemox_here("evaluate", "--model", str(model), "--test_file", str(tmp_path / name))
    one_line(result, str(tmp_path / name), "no rows")


def test_predict_with_a_max_length_above_the_encoders_is_one_line(goemox_here, model, texts):
    one_line(goemox_here("predict", "--model", str(model), "--input", str(texts), "--max_length", "100000"), "128")


@pytest.mark.parametrize(
    ("command", "line", "message"),
    [
        (["train"], "learning_rate: [1, 2]", "learning_rate must be a finite number, got list [1, 2]"),
        (["predict", "--model", "m"], "batch_size: 2.7", "batch_size must be a whole number, got 2.7"),
        (["predict"], "model: {a: 1}", "model must be text, got dict"),
    ],
)
def test_config_values_of_the_wrong_type_are_one_line(goemox_here, no_loading, tmp_path, command, line, message):
    (tmp_path / "run.yaml").write_text(line + "\n", encoding="utf-8")
    one_line(goemox_here(*command, "--config", str(tmp_path / "run.yaml")), str(tmp_path / "run.yaml"), message)


@pytest.mark.parametrize("place", ["/proc/goemox-nowhere/out", "/proc/out"])
def test_outputs_that_cannot_be_written_are_refused_before_the_work(goemox_here, no_loading, model, texts, place):
    runs = [
        ["predict", "--model", str(model), "--input", str(texts), "--output", f"{place}.jsonl"],
        ["evaluate", "--model", str(model), "--dataset", "demo", "--output", f"{place}.json"],
        ["calibrate", "--model", str(model), "--dataset", "demo", "--output_dir", place],
        ["export", "hub", "--model", str(model), "--output_dir", place],
    ]
    for args in runs:
        one_line(goemox_here(*args), place, "cannot write")


def test_onnx_predict_in_chunks_and_onnx_evaluate_run_without_torch(goemox_cli, onnx_model, texts, tmp_path):
    output = tmp_path / "out.jsonl"
    args = ["--model", str(onnx_model), "--backend", "onnx", "--max_length", "32"]
    result = goemox_cli(
        "predict", *args, "--input", str(texts), "--output", str(output), "--chunk_rows", "2", without=TORCH_FREE
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(output.read_text(encoding="utf-8").splitlines()) == 3
    # Without torch or transformers' models; its tokenizer code stays importable, as where torch is not installed:
    # once transformers is imported, the fingerprints of `datasets` look up its tokenizer class.
    without_torch = ("torch", "transformers.models", "transformers.modeling_utils")
    metrics = str(tmp_path / "m.json")
    result = goemox_cli("evaluate", *args, "--dataset", "demo", "--output", metrics, without=without_torch)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 0 <= json.loads((tmp_path / "m.json").read_text())["stored_thresholds"]["macro_f1"] <= 1


def test_calibrate_in_place_through_a_link_calibrates_the_folder_it_points_to(goemox_here, model, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    for path in model.iterdir():
        (real / path.name).write_bytes(path.read_bytes())
    link = tmp_path / "link"
    link.symlink_to(real)
    result = goemox_here("calibrate", "--model", str(link), "--dataset", "demo", "--max_length", "32", "--in_place")
    assert result.returncode == 0, result.stderr[-2000:]
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert (real / "calibration.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_pickle_weights_that_run_code_are_refused_in_one_line(goemox_here, model, texts, tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_bytes((model / "config.json").read_bytes())

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    torch.save({"weight": RunsCode()}, folder / "pytorch_model.bin")
    result = goemox_here("predict", "--model", str(folder), "--input", str(texts), "--allow_pickle_weights")
    one_line(result, str(folder), "refused")
    assert "weights_only" not in result.stderr and not (tmp_path / "ran").exists()
