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


def test_onnx_adds_the_export_for_optimum_and_transformers_js_to_a_native_folder(tmp_path, trained_run_factory):
    from goemox.inference.classifier import EmotionClassifier
    from goemox.inference.onnx import OnnxEmotionClassifier

    run = trained_run_factory("bert")
    folder = build_hub_folder(run, tmp_path / "hub", onnx=True)
    expected = {"onnx/model.onnx", "onnx/model_quantized.onnx", "onnx_export.json", "model.safetensors"}
    assert expected <= set(folder.files)
    card = (folder.path / "README.md").read_text(encoding="utf-8")
    assert "ORTModelForSequenceClassification" in card and "@huggingface/transformers" in card
    texts = ["thank you so much", "this is awful and I hate it", "ok"]
    expected = EmotionClassifier.from_pretrained(str(run), device="cpu").predict_proba(texts)
    assert abs(OnnxEmotionClassifier.from_pretrained(folder.path).predict_proba(texts) - expected).max() <= 1e-4


def test_onnx_is_refused_for_a_remote_code_folder_before_any_work(tmp_path, trained_run_factory):
    with pytest.raises(GoEmoXUsageError, match="--onnx needs a model published as a native class.*mean"):
        build_hub_folder(trained_run_factory("bert", "mean"), tmp_path / "hub", onnx=True)
    with pytest.raises(GoEmoXUsageError, match="native export was turned off"):
        build_hub_folder(trained_run_factory("bert"), tmp_path / "hub", native=False, onnx=True)
    assert not (tmp_path / "hub").exists()
