"""Training on several corpora at once with a tiny encoder: masking, per-source metrics, selection, sampling."""

import json
import random

import numpy as np
import pytest
import torch

from goemox.inference.classifier import EmotionClassifier
from goemox.training.arguments import DataArguments, ModelArguments
from goemox.training.train import run_training
from goemox.training.training_args import GoEmoXTrainingArguments

ENCODER_SEED = 0
FILLER = ["the", "cat", "is", "so", "really", "today", "game", "great"]


def write_tsv(path, rows):
    path.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return str(path)


def sentence(rng, keyword):
    words = rng.sample(FILLER, 4)
    words.insert(rng.randrange(5), keyword)
    return " ".join(words)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """`a` annotates joy and anger ("happy" -> joy, "angry" -> anger); `b` annotates joy only: "happy" -> joy, and
    "angry dog" rows that carry no label (b says nothing about anger)."""
    folder, rng = tmp_path_factory.mktemp("corpora"), random.Random(0)
    a = [(sentence(rng, "happy"), "joy") if i % 2 else (sentence(rng, "angry"), "anger") for i in range(120)]
    b = [(sentence(rng, "happy"), "joy") if i % 2 else (sentence(rng, "angry dog"), "") for i in range(240)]
    scheme = folder / "scheme.json"
    scheme.write_text(json.dumps({"name": "two", "labels": ["joy", "anger"]}))
    files = {}
    for name, rows, cut in (("a", a, 100), ("b", b, 200)):
        files[name] = {
            "name": name,
            "train_file": write_tsv(folder / f"{name}_train.tsv", rows[:cut]),
            "validation_file": write_tsv(folder / f"{name}_val.tsv", rows[cut:]),
        }
    return {"scheme": str(scheme), **files}


def train(encoder, out, corpora, b_changes=None, training=None, **data):
    sources = [corpora["a"], {**corpora["b"], **(b_changes or {})}]
    return run_training(
        ModelArguments(model_name_or_path=str(encoder), pooling="mean"),
        DataArguments(
            datasets=sources, scheme=corpora["scheme"], label_column="label", test_size=0.0, max_length=16, **data
        ),
        GoEmoXTrainingArguments(
            **{
                "output_dir": str(out),
                "learning_rate": 3e-3,
                "num_train_epochs": 4,
                "per_device_train_batch_size": 16,
                "report_to": "none",
                "use_cpu": True,
                "disable_tqdm": True,
                "seed": 0,
                **(training or {}),
            }
        ),
    )


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, tiny_tokenizer):
    """A tiny BERT with seeded weights: the masking comparison below depends on the starting point, and the shared
    factory's encoders start from the process's random torch seed."""
    from conftest import tiny_encoder_config
    from transformers import AutoModel

    folder = tmp_path_factory.mktemp("seeded-bert")
    torch.manual_seed(ENCODER_SEED)
    AutoModel.from_config(tiny_encoder_config("bert", len(tiny_tokenizer))).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory, encoder, corpora):
    out = tmp_path_factory.mktemp("masked")
    return out, train(encoder, out, corpora, {"single_label": True})


def test_metrics_hold_each_source_on_its_labels_and_the_pooled_figures(masked_run):
    out, metrics = masked_run
    assert [(s["name"], s["annotates"], s["rows"]["train"]) for s in metrics["sources"]] == [
        ("a", ["joy", "anger"], 100),
        ("b", ["joy"], 200),
    ]
    assert metrics["rows"] == {"train": 300, "validation": 60}
    assert "pooled over annotated" in metrics["selection"]["early_stopping_and_checkpoint"]
    pooled = metrics["validation"]["per_class_thresholds"]["per_class"]
    assert pooled["anger"]["annotated_rows"] == 20 and pooled["joy"]["annotated_rows"] == 60
    b = metrics["validation_by_source"]["b"]
    assert list(b["tuned"]["per_class"]) == ["joy"] and b["rows"] == 40
    assert b["single_label"]["rows"] == 20 and b["single_label"]["rows_left_out"] == 20  # the unlabelled rows
    assert metrics["validation_by_source"]["a"]["tuned"]["per_class"]["anger"]["support"] == 10
    assert all({"eval_macro_f1_a", "eval_macro_f1_b"} <= set(epoch) for epoch in metrics["epochs"])
    card = (out / "README.md").read_text()
    assert "Trained on 2 corpora at once" in card and "| `b` | `b_train.tsv`, `b_val.tsv` | 1: joy | 200 |" in card
    assert str(out.parent) not in card


def test_masking_keeps_a_corpus_from_teaching_what_it_does_not_annotate(masked_run, tmp_path, encoder, corpora):
    out, _ = masked_run
    naive = tmp_path / "naive"
    train(encoder, naive, corpora, {"annotates": ["joy", "anger"]})
    rng = random.Random(5)
    texts = [sentence(rng, "angry dog") for _ in range(50)]
    anger = {
        name: EmotionClassifier.from_pretrained(str(folder)).predict_proba(texts)[:, 1].mean()
        for name, folder in (("masked", out), ("naive", naive))
    }
    # Corpus b's unlabelled "angry dog" rows say nothing about anger when masked; taken as all-negative, they
    # teach the model that "angry" is not anger there (measured: 0.80 masked, 0.64 naive).
    assert anger["masked"] > 0.5 and anger["masked"] > anger["naive"] + 0.1, anger


def test_selection_on_one_source_and_temperature_sampling(tmp_path, tiny_encoder_factory, corpora):
    metrics = train(
        tiny_encoder_factory("bert"),
        tmp_path / "run",
        corpora,
        select_on="a",
        training={"source_temperature": 3.0, "num_train_epochs": 1},
    )
    assert metrics["selection"]["early_stopping_and_checkpoint"].startswith("validation macro_f1_a at 0.5 (a)")
    assert metrics["epochs"] and all("eval_macro_f1_a" in epoch for epoch in metrics["epochs"])
    assert np.isfinite(metrics["validation_by_source"]["a"]["tuned"]["macro_f1"])


def test_search_over_several_corpora_maximises_the_selected_figure(tmp_path, tiny_encoder_factory, corpora):
    from goemox.training.search import SearchArguments, run_search

    (tmp_path / "space.yaml").write_text("learning_rate: {type: float, low: 1.0e-3, high: 3.0e-3, log: true}\n")
    result = run_search(
        ModelArguments(model_name_or_path=str(tiny_encoder_factory("bert")), pooling="mean"),
        DataArguments(
            datasets=[corpora["a"], corpora["b"]],
            scheme=corpora["scheme"],
            label_column="label",
            test_size=0.0,
            max_length=16,
            select_on="a",
        ),
        GoEmoXTrainingArguments(
            output_dir=str(tmp_path / "out"), num_train_epochs=1, use_cpu=True, disable_tqdm=True, report_to="none"
        ),
        SearchArguments(n_trials=1, space_file=str(tmp_path / "space.yaml"), study_name="s", sampler_seed=0),
        progress=lambda line: None,
    )
    assert result["trials"]["COMPLETE"] == 1 and 0.0 <= result["value"] <= 1.0


def test_final_training_on_train_and_validation_keeps_the_validated_thresholds(masked_run, tmp_path, encoder, corpora):
    validated, metrics = masked_run
    final = train(
        encoder,
        tmp_path / "final",
        corpora,
        {"single_label": True},
        training={"num_train_epochs": 1},
        train_on="train+validation",
        thresholds_from=str(validated),
    )
    assert final["rows"] == {"train": 360} and final["validation"] is None
    assert final["thresholds"] == metrics["thresholds"]
    assert [source["rows"] for source in final["sources"]] == [{"train": 120}, {"train": 240}]
