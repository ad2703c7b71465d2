"""The Hub folder is built beside its destination and swapped in only once it is complete and checked."""

import shutil

import pytest

from goemox.errors import GoEmoXError, GoEmoXUsageError
from goemox.hub import folder as hub_folder
from goemox.hub.folder import build_hub_folder


def test_a_failed_parity_check_leaves_an_existing_folder_untouched(tmp_path, trained_run_factory, monkeypatch):
    out = tmp_path / "hub"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(hub_folder, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(GoEmoXError, match="not publishing it"):
        build_hub_folder(trained_run_factory("bert"), out, overwrite=True)
    assert [path.name for path in out.iterdir()] == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hub"]  # the staging folder is gone too

    monkeypatch.undo()
    folder = build_hub_folder(trained_run_factory("bert"), out, overwrite=True)
    assert folder.path == out and "notes.txt" not in folder.files
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()) == folder.files
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hub"]  # the old folder was deleted after the swap


def test_the_output_may_not_be_inside_or_hold_the_model(tmp_path, trained_run_factory):
    run_dir = tmp_path / "work" / "run"
    shutil.copytree(trained_run_factory("bert"), run_dir)
    files = sorted(path for path in run_dir.rglob("*") if path.is_file())
    for out, relation in ((run_dir, "is the input"), (run_dir.parent, "holds the input"), (run_dir / "x", "inside")):
        with pytest.raises(GoEmoXUsageError, match=relation):
            build_hub_folder(run_dir, out, overwrite=True)
    assert sorted(path for path in run_dir.rglob("*") if path.is_file()) == files
