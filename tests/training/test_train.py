"""Integration tests of the training job on the packaged demo set with tiny encoders built in code."""

import json
import math
import re
import shutil

import numpy as np
import pytest
from transformers import AutoModelForSequenceClassification, pipeline

import goemox.training.trainer
from goemox import GoEmoXForSequenceClassification
from goemox.calibration.logit_map import LogitMap
from goemox.data import load_emotion_dataset
from goemox.errors import GoEmoXUsageError
from goemox.evaluation.metrics import SUMMARY_METRICS
from goemox.inference.classifier import EmotionClassifier
from goemox.training.arguments import DataArguments, ModelArguments
from goemox.training.train import run_training
from goemox.training.training_args import GoEmoXTrainingArguments

TEN = ["praise", "amusement", "anger", "disapproval", "confusion", "interest", "sadness", "fear", "joy", "love"]
METRIC_KEYS = {*SUMMARY_METRICS, "per_class"}


def training_args(output_dir, **kwargs) -> GoEmoXTrainingArguments:
    defaults = {
        "output_dir": str(output_dir),
        "learning_rate": 3e-3,
        "num_train_epochs": 3,
        "per_device_train_batch_size": 32,
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 7,
    }
    return GoEmoXTrainingArguments(**{**defaults, **kwargs})


def run(encoder_dir, output_dir, data=None, **kwargs):
    return run_training(
        ModelArguments(model_name_or_path=str(encoder_dir), pooling="mean"),
        data or DataArguments(dataset="demo", max_length=48),
        training_args(output_dir, **kwargs),
    )


@pytest.mark.parametrize("kind", ["distilbert", "bert"])
def test_train_saves_a_pipeline_ready_model_with_metrics(kind, tmp_path, tiny_encoder_factory):
    out = tmp_path / "run"
    metrics = run(tiny_encoder_factory(kind), out)
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "metrics.json",
        "run_config.json",
        "training_curve.png",
    ):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["label_names"] == TEN
    assert set(saved["validation"]["per_class_thresholds"]) >= METRIC_KEYS
    assert set(saved["test"]["tuned"]) >= METRIC_KEYS
    assert set(saved["test"]["tuned"]["per_class"]) == set(TEN)
    assert sum(saved["rows"].values()) == 403
    assert 35 <= saved["rows"]["validation"] <= 45 and 35 <= saved["rows"]["test"] <= 45

    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert isinstance(model, GoEmoXForSequenceClassification)
    assert model.config.thresholds == saved["thresholds"]
    assert model.config.label_scheme["name"] == "ten"
    scores = pipeline("text-classification", model=str(out), top_k=None)("I love you all so much")[0]
    assert {s["label"] for s in scores} == set(TEN)
    run_config = json.loads((out / "run_config.json").read_text())
    assert run_config["training"]["learning_rate"] == 3e-3
    assert "transformers" in run_config["versions"]


def test_train_calibrates_and_stores_an_ood_cutoff_by_default(tmp_path, tiny_encoder_factory):
    encoder = tiny_encoder_factory("distilbert")
    plain = run(encoder, tmp_path / "plain", data=DataArguments(dataset="demo", max_length=48, calibration="none",
                                                                 ood_score="none"))  # fmt: skip
    calibrated = run(encoder, tmp_path / "calibrated")
    assert plain["calibration"] == {"method": "none"} and plain["ood_cutoff"] is None
    record = calibrated["calibration"]
    assert record["method"] == "platt" and record["fitted_on"] == "validation"
    val, test = record["validation"], record["test"]
    assert val["after_measured"] == "cross-fitted on 5 folds" and test["after_measured"].startswith("held out")
    assert val["after"]["ece_pooled"] < val["before"]["ece_pooled"]
    assert test["after"]["ece_pooled"] < test["before"]["ece_pooled"]
    assert len(test["after"]["per_label"]) == len(TEN)
    # 40 validation rows: no label has the support for values of its own, and the run says so.
    records, rules = calibrated["fitted_per_label"], calibrated["support_rules"]
    own = [r["positives"] >= rules["min_positives"] and r["negatives"] >= rules["min_negatives"] for r in records]
    assert [r["calibration"] for r in records] == ["per_label" if ok else "pooled_slope" for ok in own]
    assert [r["threshold"] for r in records] == [
        "per_label" if r["positives"] >= rules["min_threshold_positives"] else "global" for r in records
    ]
    assert rules["summary"].startswith(f"{own.count(False)} of 10 labels have fewer than {rules['min_positives']}")
    assert (tmp_path / "calibrated" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "plain" / "reliability.png").exists()
    # The same training run: a label's own threshold makes the same decisions after calibration (the global one is
    # tuned again on the calibrated scores, where each label has its own intercept).
    for name, fitted in zip(TEN, records):
        if fitted["threshold"] == "per_label":
            before, after = plain["test"]["tuned"]["per_class"][name], calibrated["test"]["tuned"]["per_class"][name]
            assert after["f1"] == before["f1"]
    assert calibrated["validation"] == plain["validation"]

    texts = load_emotion_dataset("demo", scheme="ten")["validation"]["text"]
    before = EmotionClassifier.from_pretrained(str(tmp_path / "plain"), device="cpu")
    after = EmotionClassifier.from_pretrained(str(tmp_path / "calibrated"), device="cpu")
    logit_map = LogitMap.from_dict(record["map"])
    np.testing.assert_allclose(after.predict_logits(texts), logit_map.apply(before.predict_logits(texts)), atol=1e-4)
    config = json.loads((tmp_path / "calibrated" / "config.json").read_text())
    assert config["calibration"] == record["map"]
    cutoff = config["ood_cutoff"]
    assert (cutoff["score"], cutoff["quantile"]) == ("negative_energy", 0.05) and cutoff == calibrated["ood_cutoff"]
    assert cutoff["texts_at_or_below"] < 5 and "rests on" in cutoff["warning"]  # a quantile of 40 texts
    flagged = [p.unfamiliar for p in after.predict(texts)]
    assert 0 < sum(flagged) <= math.ceil(0.05 * len(texts))
    assert "ood_cutoff" not in json.loads((tmp_path / "plain" / "config.json").read_text())


def test_same_seed_gives_same_metrics(tmp_path, tiny_encoder_factory):
    encoder = tiny_encoder_factory("distilbert")
    first = run(encoder, tmp_path / "a", num_train_epochs=2)
    second = run(encoder, tmp_path / "b", num_train_epochs=2)
    assert first["validation"] == second["validation"]
    assert first["test"] == second["test"]
    assert first["thresholds"] == second["thresholds"]


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, tiny_encoder_factory, monkeypatch):
    encoder = tiny_encoder_factory("distilbert")
    reference = run(encoder, tmp_path / "reference")

    original_step = goemox.training.trainer.GoEmoXTrainer.training_step
    steps_per_epoch = math.ceil(reference["rows"]["train"] / 32)

    def interrupted_step(self, *args, **kwargs):
        if self.state.global_step == steps_per_epoch + 3:
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(goemox.training.trainer.GoEmoXTrainer, "training_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        run(encoder, tmp_path / "resumed")
    assert (tmp_path / "resumed" / f"checkpoint-{steps_per_epoch}").is_dir()
    monkeypatch.setattr(goemox.training.trainer.GoEmoXTrainer, "training_step", original_step)
    resumed = run(encoder, tmp_path / "resumed", resume_from_checkpoint="last")
    assert resumed["test"]["tuned"]["macro_f1"] == pytest.approx(reference["test"]["tuned"]["macro_f1"], abs=1e-9)
    assert resumed["validation"] == reference["validation"]


def test_refuses_to_overwrite_a_previous_run(tmp_path, tiny_encoder_factory):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GoEmoXUsageError, match="already holds files"):
        run(tiny_encoder_factory("distilbert"), out)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("encoder", "--output_dir {tmp}/encoder is the input {tmp}/encoder"),
        ("encoder/run", "--output_dir {tmp}/encoder/run is inside the input {tmp}/encoder"),
        ("data/train.csv", "--output_dir {tmp}/data/train.csv is the input {tmp}/data/train.csv"),
        ("data/notes.txt", "--output_dir {tmp}/data/notes.txt exists and is not a folder"),
        ("data", "--output_dir {tmp}/data holds the input {tmp}/data/train.csv"),
        (".", "--output_dir {tmp} holds the input {tmp}/encoder"),
    ],
)
def test_an_output_dir_that_collides_with_an_input_is_refused_even_when_overwriting(
    tmp_path, tiny_encoder_factory, output, message
):
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_factory("distilbert"), encoder)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine", encoding="utf-8")
    split_files = {}
    for split in ("train", "validation", "test"):
        path = tmp_path / "data" / f"{split}.csv"
        path.write_text("text,labels\nso glad,joy\n", encoding="utf-8")
        split_files[f"{split}_file"] = str(path)
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    data = DataArguments(**split_files, scheme="ten", max_length=48)
    with pytest.raises(GoEmoXUsageError, match=re.escape(message.format(tmp=tmp_path))):
        run(encoder, tmp_path / output if output != "." else tmp_path, data, overwrite_output_dir=True)
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before


def test_report_to_subsets_and_buckets_pass_through(tmp_path, tiny_encoder_factory, monkeypatch):
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    data = DataArguments(dataset="demo", max_length=32, max_train_samples=64, max_eval_samples=20)
    out = tmp_path / "run"
    metrics = run(
        tiny_encoder_factory("bert"),
        out,
        data=data,
        num_train_epochs=1,
        report_to=["tensorboard"],
        pad_to_buckets=[16, 64],
    )
    assert metrics["rows"] == {"train": 64, "validation": 20, "test": 20}
    recorded = json.loads((out / "run_config.json").read_text())["training"]
    assert recorded["report_to"] == ["tensorboard"]
    assert recorded["pad_to_buckets"] == [16, 32]  # 64 is above --max_length 32, which ends the list
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*")), "TensorBoard wrote no event file"


def test_final_training_on_train_and_validation_keeps_validated_thresholds(tmp_path, tiny_encoder_factory, caplog):
    encoder = tiny_encoder_factory("distilbert")
    validated = run(encoder, tmp_path / "validated", num_train_epochs=2)
    data = DataArguments(
        dataset="demo", max_length=48, train_on="train+validation", thresholds_from=str(tmp_path / "validated")
    )
    final = run(encoder, tmp_path / "final", data=data, num_train_epochs=2)
    assert final["rows"]["train"] == validated["rows"]["train"] + validated["rows"]["validation"]
    assert final["thresholds"] == validated["thresholds"]
    assert final["validation"] is None and final["test"]["held_out"] is True
    assert final["epochs_trained"] == 2.0
    assert final["calibration"]["method"] == "none" and final["ood_cutoff"] is None

    data.train_on = "train+validation+test"
    with caplog.at_level("WARNING", logger="goemox.training"):
        everything = run(encoder, tmp_path / "everything", data=data, num_train_epochs=1)
    assert everything["rows"] == {"train": sum(validated["rows"].values())}
    assert "NOT a held-out measurement" in caplog.text

    data.thresholds_from = None
    with pytest.raises(GoEmoXUsageError, match="pass --thresholds_from"):
        run(encoder, tmp_path / "nothresholds", data=data)


def test_push_to_hub_run_records_the_push_and_counts_cut_texts(tmp_path, tiny_encoder_factory, monkeypatch):
    pushed = {}

    def fake_push(folder, repo_id, **kwargs):
        pushed.update(repo_id=repo_id, token=kwargs.get("token"))
        return f"https://huggingface.co/{repo_id}/commit/abc"

    monkeypatch.setattr(goemox.hub.push, "push_to_hub", fake_push)
    out = tmp_path / "run"
    data = DataArguments(dataset="demo", max_length=6)
    metrics = run(
        tiny_encoder_factory("bert"),
        out,
        data=data,
        num_train_epochs=1,
        push_to_hub=True,
        hub_model_id="someone/goemox-tiny",
        hub_token="hf_secret_token",
    )
    assert pushed == {"repo_id": "someone/goemox-tiny", "token": "hf_secret_token"}
    run_config_text = (out / "run_config.json").read_text()
    assert "hf_secret_token" not in run_config_text
    training = json.loads(run_config_text)["training"]
    assert training["push_to_hub"] is True and training["hub_model_id"] == "someone/goemox-tiny"
    assert training["hub_token"] is None
    assert (
        not (out / "training_args.bin").exists() or b"hf_secret_token" not in (out / "training_args.bin").read_bytes()
    )

    saved = json.loads((out / "metrics.json").read_text())
    assert saved["duplicates_dropped"] == 0
    assert set(saved["truncated"]) == {"train", "validation", "test"}
    assert 0 < saved["truncated"]["train"] <= saved["rows"]["train"]
    assert metrics["truncated"] == saved["truncated"]
