"""`goemox evaluate`: what it says about the thresholds it scores at, and the options it refuses."""

import json
from pathlib import Path

import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.cli import main
from goemox.labels import get_label_scheme


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> dict[str, Path]:
    """Two saved untrained ten-label models: one without thresholds, one storing tuned ones."""
    folders = {}
    for kind, thresholds in (("none", None), ("stored", [0.4] * 10)):
        folder = tmp_path_factory.mktemp(f"evaluate-{kind}")
        torch.manual_seed(0)
        model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
        model.config.thresholds = thresholds
        model.save_pretrained(folder)
        tiny_tokenizer.save_pretrained(folder)
        folders[kind] = folder
    return folders


@pytest.mark.parametrize(
    ("kind", "line", "recorded"),
    [("none", "test: 40 rows, threshold 0.5 (the model stores none)", "0.5 (none stored)"),
     ("stored", "test: 40 rows, stored thresholds", "stored")],
)  # fmt: skip
def test_the_thresholds_are_named_as_they_are(models, tmp_path, capsys, kind, line, recorded):
    output = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(models[kind]), "--dataset", "demo", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == line
    assert ("stored thresholds" in out) == (kind == "stored")
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["thresholds"] == recorded
    expected = 0.4 if kind == "stored" else 0.5
    assert {row["threshold"] for row in result["stored_thresholds"]["per_class"].values()} == {expected}
    assert result["long_text"] == {
        "mode": "truncate", "stride": None, "aggregation": None, "max_length": 128, "texts": 40, "long_texts": 0,
        "windows": 40,
    }  # fmt: skip
    assert "Note:" not in out  # no text is long


@pytest.mark.parametrize("option", ["--batch_size", "--max_length"])
def test_sizes_below_one_are_refused(tmp_path, capsys, option):
    assert main(["evaluate", "--model", str(tmp_path), "--dataset", "demo", option, "0"]) == 2
    assert f"goemox: error: {option} must be at least 1, got 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ scoring in the data's labels

TWEETS = [
    ("i am so happy today", "joy"),
    ("this makes me angry", "anger"),
    ("i feel sad and alone", "sadness"),
    ("i am scared of the dark", "fear"),
    ("i love my family", "love"),
    ("what a great day", "joy"),
    ("so sad to hear that", "sadness"),
    ("i am really happy for you", "joy"),
]


def write_tsv(path: Path, rows) -> Path:
    path.write_text("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(trained_run_factory) -> Path:
    return trained_run_factory("bert")


def test_single_label_scores_a_file_by_the_shared_names(trained, tmp_path, capsys):
    from goemox.inference.classifier import EmotionClassifier

    data = write_tsv(tmp_path / "validation.tsv", TWEETS)
    output, report = tmp_path / "scores.json", tmp_path / "report"
    args = ["evaluate", "--model", str(trained), "--validation_file", str(data), "--label_column", "label"]
    args += ["--split", "validation", "--single_label", "--output", str(output), "--report_dir", str(report)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "validation: 8 rows, 8 with exactly one label, scored in 5 data labels "
        "(the label names shared by the data and the model)"
    )
    result = json.loads(output.read_text(encoding="utf-8"))
    names = result["single_label"]["labels"]
    assert names == ["anger", "sadness", "fear", "joy", "love"]  # the model's ("ten") order
    classifier = EmotionClassifier.from_pretrained(str(trained), device="cpu")
    probs = classifier.predict_proba([text for text, _ in TWEETS])
    predicted = probs[:, [classifier.label_names.index(name) for name in names]].argmax(axis=1)
    truth = [names.index(label) for _, label in TWEETS]
    accuracy = sum(int(p == t) for p, t in zip(predicted, truth)) / len(TWEETS)
    assert result["single_label"]["accuracy"] == pytest.approx(accuracy)
    assert f"accuracy          {accuracy:.4f}" in out
    assert result["single_label"]["majority_label"] == "joy"
    assert result["single_label"]["majority_baseline_accuracy"] == pytest.approx(3 / 8)
    assert sum(map(sum, result["single_label"]["confusion"]["counts"])) == 8
    assert result["label_map"]["groups"]["joy"] == ["joy"]
    assert sorted(p.name for p in report.iterdir()) == ["analysis.json", "confusion_single_label.png", "report.md"]
    assert "![Scores in the data's labels confusion](confusion_single_label.png)" in (report / "report.md").read_text()


def test_a_label_map_file_groups_model_labels_by_their_max(trained, tmp_path, capsys):
    from goemox.inference.classifier import EmotionClassifier

    renamed = {"joy": "good", "love": "good", "anger": "bad", "sadness": "bad", "fear": "bad"}
    data = write_tsv(tmp_path / "mine.tsv", [(text, renamed[label]) for text, label in TWEETS])
    label_map = tmp_path / "valence.yaml"
    label_map.write_text("good: [joy, love, praise]\nbad: [anger, sadness, fear]\n", encoding="utf-8")
    output = tmp_path / "scores.json"
    args = ["evaluate", "--model", str(trained), "--test_file", str(data), "--label_column", "label"]
    assert main([*args, "--single_label", "--label_map", str(label_map), "--output", str(output)]) == 0
    result = json.loads(output.read_text(encoding="utf-8"))
    classifier = EmotionClassifier.from_pretrained(str(trained), device="cpu")
    probs = classifier.predict_proba([text for text, _ in TWEETS])
    column = classifier.label_names.index
    good = probs[:, [column("joy"), column("love"), column("praise")]].max(axis=1)
    bad = probs[:, [column("anger"), column("sadness"), column("fear")]].max(axis=1)
    truth = [0 if renamed[label] == "good" else 1 for _, label in TWEETS]
    expected = sum(int((0 if g >= b else 1) == t) for g, b, t in zip(good, bad, truth)) / len(TWEETS)
    assert result["single_label"]["accuracy"] == pytest.approx(expected)
    groups = {"good": ["joy", "love", "praise"], "bad": ["anger", "sadness", "fear"]}
    assert result["label_map"] == {"source": str(label_map), "groups": groups}
    assert "good            " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "rows", "map_text", "message"),
    [
        (["--label_map", "ekman"], TWEETS, None, "--label_map needs --single_label"),
        (["--single_label", "--scheme", "ekman"], TWEETS, None, "--scheme does not apply with --single_label"),
        (["--single_label"], [*TWEETS, ("what a surprise", "surprise")], None,
         "data.tsv:10: unknown label 'surprise'; expected a label of scheme \"the model's labels\""),
        (["--single_label", "--label_map", "ekman"], TWEETS, None,
         "label scheme 'ekman': data label 'anger' gathers 'annoyance', which is not a label of the model"),
        (["--single_label", "--label_map", "MAP"], TWEETS, "joy: [joy]\nsadness: sadness\n",
         "data.tsv:3: unknown label 'anger'; expected a label of scheme"),
        (["--single_label", "--label_map", "MAP"], TWEETS, "joy: [happiness]\n",
         "map.yaml: data label 'joy' gathers 'happiness', which is not a label of the model"),
    ],
)  # fmt: skip
def test_bad_single_label_input_is_one_line(trained, tmp_path, goemox_here, extra, rows, map_text, message):
    data = write_tsv(tmp_path / "data.tsv", rows)
    if map_text is not None:
        (tmp_path / "map.yaml").write_text(map_text, encoding="utf-8")
    extra = [str(tmp_path / "map.yaml") if word == "MAP" else word for word in extra]
    args = ["evaluate", "--model", str(trained), "--test_file", str(data), "--label_column", "label", *extra]
    result = goemox_here(*args)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "goemox: error:" in line]  # after any loading bars
    assert len(errors) == 1 and message in errors[0] and result.stderr.rstrip().endswith(errors[0])
    if map_text is not None:
        assert "map.yaml" in errors[0]
