"""`goemox calibrate`: the job on tiny models and the packaged demo data, and the command in a subprocess."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CLI_ENV
from transformers import BertForSequenceClassification, ElectraConfig, ElectraForSequenceClassification, pipeline

from goemox import GoEmoXForSequenceClassification
from goemox.calibration.fitting import MIN_NEGATIVES, MIN_POSITIVES
from goemox.calibration.job import CalibrationRequest, calibrate
from goemox.calibration.logit_map import LogitMap
from goemox.cli import main
from goemox.data import label_matrix, load_emotion_dataset
from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import get_label_scheme
from goemox.run_folder import STAGING_INFIX
from goemox.scores import ood_scores, sigmoid

TEXTS = ["thank you so much, this is wonderful", "why would anyone do that", "i am scared", "ok then"]
DEMO = {"source": "demo"}


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def make_overconfident(model) -> None:
    """Push the random output layer's logits to about -6: every label below 1% where the demo data has 10-15%."""
    layer = model.classifier.out_proj if hasattr(model.classifier, "out_proj") else model.classifier
    with torch.no_grad():
        layer.weight.mul_(25.0)
        layer.bias.fill_(-6.0)


@pytest.fixture
def goemox_folder(tmp_path, tiny_encoder_factory, tiny_tokenizer) -> Path:
    """A saved goemox model (ten labels) with the files a training run leaves next to it."""
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(
        str(tiny_encoder_factory("bert")), get_label_scheme("ten"), pooling="mean"
    )
    make_overconfident(model)
    model.config.thresholds = [0.5] * 10
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    (folder / "metrics.json").write_text(json.dumps({"threshold_strategy": "global"}))
    (folder / "training_curve.png").write_bytes(b"not really a png")
    (folder / "optimizer.pt").write_bytes(b"optimiser state of the uncalibrated model")
    (folder / "checkpoint-7").mkdir()
    (folder / "checkpoint-7" / "trainer_state.json").write_text("{}")
    return folder


@pytest.fixture
def native_folder(tmp_path, tiny_encoder_factory, tiny_tokenizer) -> Path:
    """A saved native BertForSequenceClassification with the ten labels and no training files."""
    torch.manual_seed(1)
    names = list(get_label_scheme("ten").labels)
    model = BertForSequenceClassification.from_pretrained(
        tiny_encoder_factory("bert"),
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        problem_type="multi_label_classification",
    )
    make_overconfident(model)
    folder = tmp_path / "native"
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def validation_logits(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    splits = load_emotion_dataset("demo", scheme="ten")
    classifier = EmotionClassifier.from_pretrained(str(folder), device="cpu")
    return classifier.predict_logits(splits["validation"]["text"]), label_matrix(splits["validation"])


def run(model: Path, **options) -> dict:
    return calibrate(CalibrationRequest(model=str(model), device="cpu", data=DEMO, **options))


def test_new_folder_holds_the_calibrated_model_and_the_input_is_untouched(goemox_folder, tmp_path):
    before = folder_digest(goemox_folder)
    logits, labels = validation_logits(goemox_folder)
    result = run(goemox_folder, output_dir=str(tmp_path / "out"), test_split="test", method="temperature")
    assert folder_digest(goemox_folder) == before

    out = tmp_path / "out"
    t = result["temperature"]
    assert isinstance(t, float) and t > 2 and not result["at_search_bound"]
    config = json.loads((out / "config.json").read_text())
    assert config["calibration_temperature"] == pytest.approx(t)
    # The training run tuned one global threshold, so the re-tuned thresholds are one global threshold too.
    assert result["threshold_strategy"] == "global"
    assert config["thresholds"] == result["thresholds"]["after"] and len(set(config["thresholds"])) == 1
    # Files of the training run come along unchanged; checkpoints and optimiser state do not.
    assert sorted(result["copied_files"]) == ["metrics.json", "training_curve.png"]
    assert (out / "metrics.json").read_bytes() == (goemox_folder / "metrics.json").read_bytes()
    assert not (out / "checkpoint-7").exists() and not (out / "optimizer.pt").exists()
    assert json.loads((out / "calibration.json").read_text())["temperature"] == pytest.approx(t)

    fit = result["splits"]["validation"]
    assert fit["rows"] == len(labels)
    assert fit["after"]["nll"] < fit["before"]["nll"]
    assert fit["after"]["ece"]["class_mean"] < fit["before"]["ece"]["class_mean"]
    # Re-tuned on the training grid carried through T: the same rule as before, so the same labels.
    before_t, after_t = np.asarray(result["thresholds"]["before"]), np.asarray(result["thresholds"]["after"])
    np.testing.assert_allclose(after_t, sigmoid(np.log(before_t / (1 - before_t)) / t), rtol=1e-9)
    assert fit["after"]["metrics"]["macro_f1"] == pytest.approx(fit["before"]["metrics"]["macro_f1"], abs=1e-12)
    assert "test" in result["splits"]
    report = (out / "calibration" / "report.md").read_text()
    for image in ("reliability.png", "reliability_per_label.png", "ece_per_label.png"):
        assert f"]({image})" in report
        assert (out / "calibration" / image).read_bytes()[:4] == b"\x89PNG"
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"  # beside calibration.json
    assert "| test | ECE, mean over labels |" in report
    assert fit["after"]["calibration_measured"] == "cross-fitted on 5 folds of this split"
    assert "cross-fitted" in report and "validation support:" in report
    records = result["fitted_per_label"]
    assert [r["label"] for r in records] == result["label_names"]
    assert all(r["threshold"] == "global" and r["calibration"] == "shared" for r in records)

    # The saved model scores sigmoid(original logits / T) with no extra code.
    calibrated = EmotionClassifier.from_pretrained(str(out), device="cpu")
    texts = load_emotion_dataset("demo", scheme="ten")["validation"]["text"]
    np.testing.assert_allclose(calibrated.predict_logits(texts), logits / t, atol=1e-4, rtol=1e-5)


def add_ood_cutoff(folder: Path, cutoff: float, score: str = "max_probability", quantile: float | None = None) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["ood_cutoff"] = {"score": score, "cutoff": cutoff, "source": "test"}
    if quantile is not None:
        config["ood_cutoff"]["quantile"] = quantile
    (folder / "config.json").write_text(json.dumps(config))


def test_native_model_round_trip_through_pipeline_per_class(native_folder, tmp_path):
    logits, _ = validation_logits(native_folder)
    add_ood_cutoff(native_folder, 0.01)
    result = run(native_folder, output_dir=str(tmp_path / "out"), method="per_label_temperature")
    # 40 validation rows: a label takes a temperature of its own only with the support for it, else the pooled one.
    records = result["fitted_per_label"]
    own = [r["positives"] >= MIN_POSITIVES and r["negatives"] >= MIN_NEGATIVES for r in records]
    assert [r["calibration"] for r in records] == ["per_label" if ok else "pooled" for ok in own] and not all(own)
    t = np.broadcast_to(np.asarray(result["temperature"]), (10,))
    assert len({value for value, ok in zip(t, own) if not ok}) == 1 and result["threshold_strategy"] == "per_class"
    assert result["copied_files"] == []
    fit = result["splits"]["validation"]
    for name in result["label_names"]:
        before, after = fit["before"]["metrics"]["per_class"][name], fit["after"]["metrics"]["per_class"][name]
        assert after["f1"] == pytest.approx(before["f1"], abs=1e-12)
    assert json.loads((tmp_path / "out" / "config.json").read_text())["ood_cutoff"]["cutoff"] == 0.01
    texts = load_emotion_dataset("demo", scheme="ten")["validation"]["text"][:8]
    scores = pipeline("text-classification", model=str(tmp_path / "out"), top_k=None)(texts)
    names = result["label_names"]
    for row, expected in zip(scores, sigmoid(logits[:8] / t)):
        by_label = {s["label"]: s["score"] for s in row}
        assert [by_label[n] for n in names] == pytest.approx(expected.tolist(), abs=1e-5)


def test_in_place_replaces_files_and_composes_temperatures(goemox_folder, tmp_path):
    first = run(goemox_folder, output_dir=str(tmp_path / "once"), method="temperature")
    once = tmp_path / "once"
    (once / "pytorch_model.bin").write_bytes(b"stale weights of an older save")
    second = run(once, in_place=True, method="per_label_temperature")
    config = json.loads((once / "config.json").read_text())
    expected = first["temperature"] * np.asarray(second["temperature"])
    np.testing.assert_allclose(config["calibration_temperature"], expected, rtol=1e-9)
    assert config["calibration"]["method"] == "temperature+per_label_temperature"
    assert second["previous_calibration"] == "temperature"
    assert any("already calibrated" in note for note in second["notes"])
    assert not (once / "pytorch_model.bin").exists()
    assert (once / "metrics.json").is_file() and (once / "calibration" / "report.md").is_file()
    assert not [p for p in tmp_path.iterdir() if STAGING_INFIX in p.name]


def test_platt_scaling_folds_into_the_model_and_keeps_every_decision(goemox_folder, tmp_path):
    logits, labels = validation_logits(goemox_folder)
    result = run(goemox_folder, output_dir=str(tmp_path / "out"), threshold_strategy="per_class")
    assert result["method"] == "platt" and result["temperature"] is None
    logit_map = LogitMap.from_dict(result["calibration"])
    assert all(a > 0 for a in logit_map.slope) and any(logit_map.intercept)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["calibration"] == logit_map.to_dict() and "calibration_temperature" not in config
    fit = result["splits"]["validation"]
    assert fit["after"]["ece"]["class_mean"] < fit["before"]["ece"]["class_mean"]
    for name in result["label_names"]:  # the carried thresholds make the same decisions
        before, after = fit["before"]["metrics"]["per_class"][name], fit["after"]["metrics"]["per_class"][name]
        assert after["f1"] == pytest.approx(before["f1"], abs=1e-12)
    calibrated = EmotionClassifier.from_pretrained(str(tmp_path / "out"), device="cpu")
    texts = load_emotion_dataset("demo", scheme="ten")["validation"]["text"]
    np.testing.assert_allclose(calibrated.predict_logits(texts), logit_map.apply(logits), atol=1e-4, rtol=1e-5)
    assert "platt: slope a = " in (tmp_path / "out" / "calibration" / "report.md").read_text()


def test_failed_in_place_save_leaves_the_model_folder_intact(goemox_folder, monkeypatch):
    before = folder_digest(goemox_folder)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(GoEmoXForSequenceClassification, "save_pretrained", fail)
    with pytest.raises(OSError, match="disk full"):
        run(goemox_folder, in_place=True)
    assert folder_digest(goemox_folder) == before
    assert not [p for p in goemox_folder.parent.iterdir() if STAGING_INFIX in p.name]


KILL_SCRIPT = """
import os, shutil, signal, sys
from pathlib import Path
from goemox import run_folder
from goemox.calibration import job

model, point = Path(sys.argv[1]), sys.argv[2]
real_exchange, real_rename, real_rmtree = run_folder.exchange_paths, os.rename, shutil.rmtree

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def exchange_then_die(first, second):
    real_exchange(first, second)
    die()

def rename(source, target):
    real_rename(source, target)
    if Path(source) == model:  # the model folder was moved away, the staged one not yet in
        die()

def rmtree(path, *args, **kwargs):
    if run_folder.OLD_INFIX in Path(path).name:  # kill halfway through deleting the old model
        os.remove(Path(path) / "config.json")
        die()
    real_rmtree(path, *args, **kwargs)

if point == "staging":
    job.write_report = die
elif point == "exchanged":
    run_folder.exchange_paths = exchange_then_die
else:  # where the system cannot exchange two folders: two renames
    run_folder.exchange_paths = lambda first, second: False
    if point == "renamed_away":
        os.rename = rename
    else:
        shutil.rmtree = rmtree
job.calibrate(job.CalibrationRequest(model=str(model), in_place=True, device="cpu", data={"source": "demo"}))
"""


def model_state(folder: Path, old_digest: dict, old_logits: np.ndarray) -> str:
    """'old' when `folder` is byte for byte the model before calibration; 'new' when it is the whole calibrated one."""
    if folder_digest(folder) == old_digest:
        return "old"
    logit_map = LogitMap.from_dict(json.loads((folder / "config.json").read_text())["calibration"])
    scored = EmotionClassifier.from_pretrained(str(folder), device="cpu").predict_logits(TEXTS)
    np.testing.assert_allclose(scored, logit_map.apply(old_logits), atol=1e-4, rtol=1e-5)  # weights match the config
    for name in ("metrics.json", "calibration.json", "calibration/report.md", "checkpoint-7/trainer_state.json"):
        assert (folder / name).is_file(), name
    return "new"


@pytest.mark.parametrize(
    ("point", "expected"),
    [("staging", "old"), ("exchanged", "new"), ("renamed_away", "missing"), ("deleting_old", "new")],
)
def test_killed_in_place_calibration_leaves_the_old_or_the_new_model(goemox_folder, tmp_path, point, expected):
    model = tmp_path / point / "model"
    shutil.copytree(goemox_folder, model)
    old_digest = folder_digest(model)
    old_logits = EmotionClassifier.from_pretrained(str(model), device="cpu").predict_logits(TEXTS)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(model), point],
        env={**os.environ, **CLI_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    leftover = sorted(path for path in model.parent.iterdir() if path.name != "model")
    if expected == "missing":  # only where the system cannot swap two folders in one step
        staged, previous = leftover  # ".model.new-*" sorts before ".model.old-*"
        with pytest.raises(GoEmoXUsageError, match=f"{model} is missing: {previous} holds the model as it was"):
            run(model, in_place=True)
        previous.rename(model)  # what the message says to do
        assert model_state(model, old_digest, old_logits) == "old"
        assert model_state(staged, old_digest, old_logits) == "new"  # the staged folder was complete
        return
    assert len(leftover) == 1 and leftover[0].name.startswith(".model.")
    assert model_state(model, old_digest, old_logits) == expected
    with pytest.raises(GoEmoXUsageError, match=f"{leftover[0]}: left by an interrupted .* delete {leftover[0]}"):
        run(model, in_place=True)
    shutil.rmtree(leftover[0])
    run(model, in_place=True)
    assert model_state(model, old_digest, old_logits) == "new"


def test_output_and_report_folders_may_not_overlap_the_model(goemox_folder, tmp_path):
    for option, path in [("output_dir", goemox_folder / "sub"), ("output_dir", goemox_folder.parent)]:
        with pytest.raises(GoEmoXUsageError, match=f"--{option} .* the input {goemox_folder}"):
            run(goemox_folder, **{option: str(path)})
    for report in (goemox_folder, goemox_folder / "calibration", goemox_folder.parent):
        with pytest.raises(GoEmoXUsageError, match=f"--report_dir .* the input {goemox_folder}"):
            run(goemox_folder, in_place=True, report_dir=str(report))
    assert not (goemox_folder / "sub").exists()


@pytest.mark.parametrize(("method", "score"), [("platt", "negative_energy"), ("temperature", "max_probability")])
def test_a_stored_ood_cutoff_flags_the_same_texts_after_calibration(goemox_folder, tmp_path, method, score):
    classifier = EmotionClassifier.from_pretrained(str(goemox_folder), device="cpu")
    cutoff = float(np.median(ood_scores(classifier.predict_logits(TEXTS), score)))
    add_ood_cutoff(goemox_folder, cutoff, score=score)
    flags = [p.unfamiliar for p in EmotionClassifier.from_pretrained(str(goemox_folder)).predict(TEXTS)]
    assert any(flags) and not all(flags)

    run(goemox_folder, output_dir=str(tmp_path / "one"), method=method)
    calibrated = EmotionClassifier.from_pretrained(str(tmp_path / "one"), device="cpu")
    assert calibrated.ood_cutoff == pytest.approx(cutoff)  # kept: the scores are read before the calibration
    assert not np.allclose(calibrated.predict_logits(TEXTS), classifier.predict_logits(TEXTS))
    assert [p.unfamiliar for p in calibrated.predict(TEXTS)] == flags


def test_a_report_in_the_model_folder_itself_is_written_once(goemox_folder, tmp_path, monkeypatch):
    import goemox.calibration.job as job_module
    import goemox.calibration.report as report_module

    drawn = []
    for module in (job_module, report_module):
        original = module.plot_overall_reliability
        monkeypatch.setattr(
            module, "plot_overall_reliability", lambda *a, _draw=original, **k: drawn.append(a[1]) or _draw(*a, **k)
        )
    out = tmp_path / "out"
    result = run(goemox_folder, output_dir=str(out), report_dir=str(out), test_split="test")
    assert drawn == [drawn[0]] and Path(drawn[0]).name == "reliability.png"  # drawn once, not once per writer
    assert result["report"] == str(out / "report.md")
    assert {"report.md", "reliability.png", "reliability_per_label.png", "calibration.json"} <= set(os.listdir(out))
    assert "training_curve.png" in result["copied_files"]
    assert json.loads((out / "calibration.json").read_text())["copied_files"] == result["copied_files"]


def test_refuses_to_overwrite_unless_told(goemox_folder, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(GoEmoXUsageError, match=r"--output_dir .* already holds files \(notes.txt\); pass --overwrite"):
        run(goemox_folder, output_dir=str(tmp_path / "taken"))
    with pytest.raises(GoEmoXUsageError, match="--report_dir .* already holds files"):
        run(goemox_folder, output_dir=str(tmp_path / "new"), report_dir=str(tmp_path / "taken"))
    assert not (tmp_path / "new").exists()
    run(goemox_folder, output_dir=str(tmp_path / "taken"), overwrite=True)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "taken" / "config.json").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give either --output_dir NEW_FOLDER or --in_place"),
        ({"output_dir": "{out}", "in_place": True}, "give either --output_dir"),
        ({"output_dir": "{model}"}, "is the model folder itself; use --in_place"),
        ({"output_dir": "{out}", "split": "dev"}, "the data has no 'dev' split"),
        ({"output_dir": "{out}", "scheme": "ekman"}, "label scheme 'ekman' has labels"),
        ({"output_dir": "{out}", "bins": 0}, "--bins must be at least 1"),
        ({"output_dir": "{out}", "method": "isotonic"}, "--method must be one of temperature, per_label_temperature"),
    ],
)
def test_bad_requests_are_plain_errors(goemox_folder, tmp_path, options, message):
    filled = {
        k: v.format(out=tmp_path / "out", model=goemox_folder) if isinstance(v, str) else v for k, v in options.items()
    }
    with pytest.raises(GoEmoXUsageError, match=message):
        run(goemox_folder, **filled)
    assert not (tmp_path / "out").exists()


def test_unsupported_or_single_label_models_are_refused(native_folder, tmp_path, tiny_tokenizer):
    config = json.loads((native_folder / "config.json").read_text())
    config["problem_type"] = "single_label_classification"
    (native_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(GoEmoXUsageError, match="problem_type is 'single_label_classification'"):
        run(native_folder, output_dir=str(tmp_path / "out"))

    electra = ElectraForSequenceClassification(
        ElectraConfig(
            vocab_size=len(tiny_tokenizer),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_labels=3,
            problem_type="multi_label_classification",
        )
    )
    electra.save_pretrained(tmp_path / "electra")
    tiny_tokenizer.save_pretrained(tmp_path / "electra")
    with pytest.raises(GoEmoXUsageError, match="cannot fold a calibration into ElectraForSequenceClassification"):
        run(tmp_path / "electra", output_dir=str(tmp_path / "out"))
    with pytest.raises(GoEmoXUsageError, match="not a saved model folder"):
        run(tmp_path, output_dir=str(tmp_path / "out"))


def test_command_line(goemox_cli, goemox_folder, tmp_path, capsys):
    out, report = tmp_path / "out", tmp_path / "report"
    result = goemox_cli(
        "calibrate", "--model", str(goemox_folder), "--dataset", "demo", "--output_dir", str(out),
        "--report_dir", str(report), "--test_split", "test", "--threshold_strategy", "per_class",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "platt: slope a = " in result.stdout
        and "validation, before" in result.stdout
        and "test, after" in result.stdout
    )
    assert re.search(r"Validation support: \d+ of 10 labels have fewer than 5 validation positives", result.stdout)
    assert "cross-fitted, each of 5 folds" in result.stdout
    assert (out / "reliability.png").is_file() and (report / "reliability.png").is_file()
    calibration = json.loads((report / "calibration.json").read_text())
    assert calibration["threshold_strategy"] == "per_class"
    assert (report / "report.md").is_file() and (out / "config.json").is_file()
    assert not (out / "calibration").exists()

    assert main(["calibrate", "--model", str(goemox_folder), "--dataset", "demo", "--output_dir", str(out)]) == 2
    assert "goemox: error: --output_dir" in capsys.readouterr().err
