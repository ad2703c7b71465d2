"""The run folder's one owner: light to import, its reader, the rule of what a model folder holds, `config.json`
entries, and the all-or-nothing folder swap that every writer goes through."""

import json
import os
import stat
import subprocess
import sys

import pytest

from goemox import run_folder
from goemox.errors import GoEmoXUsageError
from goemox.file_io import plain_mode
from goemox.run_folder import (
    CONFIG_FILE,
    METRICS_FILE,
    RUN_CONFIG_FILE,
    RUN_FILES,
    StartingPoint,
    check_model_folder,
    check_no_leftovers,
    copy_model_files,
    model_folder_files,
    read_run_file,
    staged_folder,
    staging_folder,
    update_config,
)


@pytest.fixture
def run(tmp_path):
    """A folder shaped like a training run's: model files, run records, Trainer state, a checkpoint, a hidden file."""
    folder = tmp_path / "run"
    (folder / "checkpoint-4").mkdir(parents=True)
    (folder / "checkpoint-4" / "model.safetensors").write_text("older weights")
    for name in ("config.json", "model.safetensors", "tokenizer.json", *RUN_FILES, "README.md", "training_args.bin"):
        (folder / name).write_text("{}" if name.endswith(".json") else name)
    (folder / ".notes").write_text("hidden")
    return folder


def test_importing_the_run_folder_loads_no_training_stack():
    code = "import sys, goemox.run_folder; print(sorted({'torch', 'transformers', 'datasets'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_records_of_a_run_are_named_once():
    assert run_folder.METRICS_SCHEMA_VERSION == 3
    assert {"torch", "transformers", "goemox"} <= set(run_folder.library_versions())
    start = StartingPoint("native", "runs/hub", carried=["joy"], new=[], dropped=["love", "fear"])
    assert StartingPoint(**json.loads(json.dumps(start.to_dict()))) == start
    assert start.summary() == "native model runs/hub, output rows: carried 1 (joy), new 0, dropped 2 (love, fear)"


def test_the_reader_says_which_file_is_missing_or_broken_and_for_what(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"threshold_strategy": "global"}')
    assert read_run_file(tmp_path, METRICS_FILE) == {"threshold_strategy": "global"}
    assert read_run_file(tmp_path, RUN_CONFIG_FILE, required=False) is None
    with pytest.raises(GoEmoXUsageError, match="run_config.json: missing; the model card needs the options of a"):
        read_run_file(tmp_path, RUN_CONFIG_FILE, needed_by="the model card")
    (tmp_path / RUN_CONFIG_FILE).write_text("{")
    with pytest.raises(GoEmoXUsageError, match="run_config.json: not valid JSON"):
        read_run_file(tmp_path, RUN_CONFIG_FILE)
    (tmp_path / CONFIG_FILE).write_text("[1]")
    with pytest.raises(GoEmoXUsageError, match="config.json: expected a JSON object, got list"):
        read_run_file(tmp_path, CONFIG_FILE)


def test_a_model_folder_is_one_with_a_config(tmp_path):
    with pytest.raises(GoEmoXUsageError, match=r"not a saved model folder \(no config.json\); --x writes into one$"):
        check_model_folder(tmp_path, "--x writes into one")
    (tmp_path / CONFIG_FILE).write_text("{}")
    assert check_model_folder(tmp_path) == tmp_path


def test_config_entries_are_set_with_every_other_key_kept(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"b": 1, "a": {"x": 2}, "ood_cutoff": None}))
    written = update_config(tmp_path, {"ood_cutoff": {"score": "negative_energy", "cutoff": 3.0}})
    assert written == tmp_path / CONFIG_FILE
    text = written.read_text()
    assert json.loads(text) == {"a": {"x": 2}, "b": 1, "ood_cutoff": {"score": "negative_energy", "cutoff": 3.0}}
    assert text.index('"a"') < text.index('"b"') < text.index('"ood_cutoff"')  # sorted, as transformers writes it
    assert sorted(path.name for path in tmp_path.iterdir()) == [CONFIG_FILE]


def test_a_model_folder_holds_its_top_level_files_without_trainer_state_checkpoints_or_hidden_files(run):
    names = [path.name for path in model_folder_files(run)]
    assert names == sorted(["README.md", "config.json", "model.safetensors", "tokenizer.json", *RUN_FILES])


def test_a_copy_takes_the_model_files_and_a_new_model_no_old_weights(run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    assert copy_model_files(run, copy) == [path.name for path in model_folder_files(run)]
    assert (copy / "model.safetensors").read_text() == "model.safetensors"

    saved = tmp_path / "saved"  # a new model is saved first: its own weights and config stay
    saved.mkdir()
    (saved / "model.safetensors").write_text("new weights")
    (saved / "config.json").write_text('{"new": true}')
    (run / "pytorch_model.bin").write_text("old pickle weights")
    copied = copy_model_files(run, saved, skip={"README.md"})
    assert copied == ["metrics.json", "run_config.json", "tokenizer.json", "training_curve.png"]
    assert (saved / "model.safetensors").read_text() == "new weights" and not (saved / "pytorch_model.bin").exists()

    published = tmp_path / "published"
    published.mkdir()
    assert copy_model_files(run, published, only=RUN_FILES) == sorted(RUN_FILES)


def test_a_folder_replacing_its_source_keeps_every_other_entry_linked(run, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    (new / "model.safetensors").write_text("new weights")
    kept = copy_model_files(run, new, whole_folder=True)
    assert {".notes", "checkpoint-4", "training_args.bin", "config.json"} <= set(kept)
    assert "model.safetensors" not in kept
    assert os.path.samefile(new / "checkpoint-4" / "model.safetensors", run / "checkpoint-4" / "model.safetensors")


def test_staged_folders_get_the_mode_of_the_folder_they_replace_or_of_a_new_one(tmp_path, umask_027):
    assert stat.S_IMODE(staging_folder(tmp_path / "new").stat().st_mode) == 0o750 == plain_mode(folder=True)
    (tmp_path / "old").mkdir(mode=0o755)
    (tmp_path / "old").chmod(0o755)
    with staged_folder(tmp_path / "old") as staging:
        (staging / "a.txt").write_text("new")
    assert stat.S_IMODE((tmp_path / "old").stat().st_mode) == 0o755
    with staged_folder(tmp_path / "fresh") as staging:
        (staging / "a.txt").write_text("new")
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o750


def test_a_staged_folder_replaces_the_old_one_whole_or_merges_into_it(tmp_path):
    for merge, expected in ((False, ["new.txt", "same.txt"]), (True, ["new.txt", "old.txt", "same.txt"])):
        folder = tmp_path / f"merge-{merge}"
        folder.mkdir()
        (folder / "old.txt").write_text("old")
        (folder / "same.txt").write_text("old")
        with staged_folder(folder, merge=merge) as staging:
            (staging / "new.txt").write_text("new")
            (staging / "same.txt").write_text("new")
        assert sorted(path.name for path in folder.iterdir()) == expected
        assert (folder / "same.txt").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["merge-False", "merge-True"]  # nothing left beside


def test_a_failed_staged_folder_leaves_the_old_one_and_nothing_beside_it(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(tmp_path / "out") as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


def test_a_staged_folder_behind_a_link_replaces_the_folder_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "old.txt").write_text("old")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with staged_folder(tmp_path / "link") as staging:
        (staging / "new.txt").write_text("new")
    assert (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["new.txt"]


def test_leftovers_of_an_interrupted_writer_stop_the_next_one_with_what_to_do(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    staging = tmp_path / f".out{run_folder.STAGING_INFIX}x1"
    staging.mkdir()
    with pytest.raises(GoEmoXUsageError, match=f"{staging}: left by an interrupted goemox command .* delete {staging}"):
        check_no_leftovers(folder)
    with pytest.raises(GoEmoXUsageError, match="left by an interrupted"), staged_folder(folder) as new:
        (new / "new.txt").write_text("new")
    assert list(folder.iterdir()) == []
    staging.rmdir()
    old = tmp_path / f".out{run_folder.OLD_INFIX}12"
    old.mkdir()
    folder.rmdir()
    with pytest.raises(GoEmoXUsageError, match=f"{folder} is missing: {old} holds the model as it was .* rename it"):
        check_no_leftovers(folder)
