"""Error analysis: exact confusion cells and chosen errors on hand-made scores; `goemox evaluate --report`."""

import csv
import json
import re

import numpy as np
import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.cli import main
from goemox.evaluation.error_analysis import confident_errors, multilabel_confusion, top_confusions
from goemox.evaluation.error_report import write_error_report
from goemox.evaluation.scoring import ScoredSplit
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import get_label_scheme

LABELS = ["joy", "anger", "fear"]
Y_TRUE = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
PROBS = np.array(
    [
        [0.9, 0.6, 0.1],  # joy right, anger false positive (0.6)
        [0.2, 0.8, 0.1],  # joy missed (0.2), anger right
        [0.7, 0.9, 0.2],  # joy false positive (0.7)
        [0.1, 0.1, 0.3],  # fear missed (0.3), nothing predicted
        [0.45, 0.2, 0.1],  # joy missed (0.45), nothing predicted
    ]
)
THRESHOLDS = [0.5, 0.5, 0.5]
SCORED = ScoredSplit("test", ["a", "b", "c", "d", "e"], Y_TRUE, PROBS)


def test_confusion_cells_are_row_normalised_by_true_label():
    confusion = multilabel_confusion(Y_TRUE, (PROBS >= 0.5).astype(int))
    assert confusion["support"].tolist() == [3, 2, 1]
    # joy rows a, b, e: joy predicted in a, anger in a and b, nothing in e; anger rows b, c: joy predicted in c.
    assert confusion["counts"].tolist() == [[1, 2, 0], [1, 2, 0], [0, 0, 0]]
    assert confusion["no_prediction"].tolist() == [1, 0, 1]
    assert confusion["shares"][0].tolist() == pytest.approx([1 / 3, 2 / 3, 0, 1 / 3])
    assert confusion["shares"][1].tolist() == pytest.approx([0.5, 1, 0, 0])
    assert confusion["shares"][2].tolist() == pytest.approx([0, 0, 0, 1])
    assert top_confusions(confusion, LABELS) == [("joy", "anger", 2 / 3, 2, 3), ("anger", "joy", 0.5, 1, 2)]


def test_confident_errors_are_the_highest_false_positives_and_lowest_false_negatives():
    errors = confident_errors(SCORED, LABELS, THRESHOLDS, per_class=1)
    chosen = [(e["label"], e["kind"], e["row"], e["score"]) for e in errors]
    assert chosen == [
        ("joy", "false positive", 2, 0.7),
        ("joy", "false negative", 1, 0.2),
        ("anger", "false positive", 0, 0.6),
        ("fear", "false negative", 3, 0.3),
    ]
    first = errors[0]
    assert (first["text"], first["true_labels"], first["predicted_labels"]) == ("c", ["anger"], ["anger", "joy"])
    all_joy_misses = [e["row"] for e in confident_errors(SCORED, LABELS, THRESHOLDS, 5) if e["label"] == "joy"]
    assert all_joy_misses == [2, 1, 4]
    stricter = confident_errors(SCORED, LABELS, [0.95, 0.5, 0.5], per_class=5)
    assert [e["row"] for e in stricter if e["label"] == "joy"] == [1, 4, 0]  # joy is never predicted at 0.95


def test_report_files_and_links(tmp_path):
    path = write_error_report(SCORED, LABELS, THRESHOLDS, tmp_path, errors_per_class=2, description=["model: `m`"])
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8"))
    assert images == ["per_class_metrics.png", "confusion.png"]
    for image in images:
        assert (tmp_path / image).read_bytes()[:4] == b"\x89PNG"
    analysis = json.loads((tmp_path / "analysis.json").read_text())
    assert analysis["confusion"]["counts"] == [[1, 2, 0], [1, 2, 0], [0, 0, 0]]
    assert analysis["metrics"]["per_class"]["joy"]["recall"] == pytest.approx(1 / 3)
    rows = list(csv.DictReader((tmp_path / "errors.csv").open(encoding="utf-8")))
    assert len(rows) == len(analysis["errors"]) == 5  # joy: 1 false positive, 2 false negatives; anger 1; fear 1
    assert rows[0]["true_labels"] == "anger" and rows[0]["predicted_labels"] == "anger;joy"
    text = path.read_text(encoding="utf-8")
    assert "### joy (threshold 0.50)" in text and "| 0.700 | c | anger | anger, joy |" in text


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer):
    """A randomly initialised goemox model over the `ten` scheme (its scores are arbitrary but deterministic)."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
    model.config.thresholds = [0.3, 0.4, 0.45, 0.5, 0.55, 0.5, 0.6, 0.5, 0.5, 0.5]
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


TEXTS = [
    ("i love this so much", "love|joy"),
    ("why would you do that", "anger|disapproval"),
    ("thank you for the help", "praise"),
    ("that is so funny", "amusement"),
    ("i am worried about tomorrow", "fear"),
    ("what does that mean", "confusion|interest"),
    ("i miss her every day", "sadness"),
    ("what a great idea", "praise|joy"),
]


def test_evaluate_report_matches_the_model_scores(tiny_model, tmp_path, capsys):
    data = tmp_path / "test.csv"
    data.write_text("text,labels\n" + "".join(f"{t},{labels}\n" for t, labels in TEXTS), encoding="utf-8")
    report = tmp_path / "report"
    args = ["evaluate", "--model", str(tiny_model), "--test_file", str(data), "--label_separator", "|"]
    args += ["--report", str(report), "--errors_per_class", "2", "--output", str(tmp_path / "m.json")]
    assert main(args) == 0, capsys.readouterr().err
    assert "Wrote the error analysis" in capsys.readouterr().out
    analysis = json.loads((report / "analysis.json").read_text())
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert analysis["metrics"]["macro_f1"] == pytest.approx(metrics["stored_thresholds"]["macro_f1"])

    assert {e["kind"] for e in analysis["errors"]} == {"false positive", "false negative"}
    classifier = EmotionClassifier.from_pretrained(str(tiny_model), device="cpu")
    probs = classifier.predict_proba([t for t, _ in TEXTS])
    names = classifier.label_names
    truth = np.array([[name in labels.split("|") for name in names] for _, labels in TEXTS])
    predicted = probs >= np.array(classifier.thresholds)
    assert analysis["confusion"]["counts"] == (truth.T.astype(int) @ predicted.astype(int)).tolist()
    for j, name in enumerate(names):
        false_positives = np.flatnonzero(predicted[:, j] & ~truth[:, j])
        expected = false_positives[np.argsort(-probs[false_positives, j], kind="stable")][:2].tolist()
        chosen = [e["row"] for e in analysis["errors"] if e["label"] == name and e["kind"] == "false positive"]
        assert chosen == expected
        false_negatives = np.flatnonzero(~predicted[:, j] & truth[:, j])
        expected = false_negatives[np.argsort(probs[false_negatives, j], kind="stable")][:2].tolist()
        chosen = [e["row"] for e in analysis["errors"] if e["label"] == name and e["kind"] == "false negative"]
        assert chosen == expected
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (report / "report.md").read_text(encoding="utf-8")):
        assert (report / image).is_file()

    assert main(args) == 2  # the metrics file exists now, and the report folder holds files
    assert "m.json already exists; pass --overwrite" in capsys.readouterr().err
    assert main(args[:-2]) == 2
    assert "report already holds files" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_evaluate_report_bad_split_is_a_message(tiny_model, tmp_path, capsys):
    data = tmp_path / "test.csv"
    data.write_text("text,labels\nhello,joy\n", encoding="utf-8")
    args = ["evaluate", "--model", str(tiny_model), "--test_file", str(data), "--split", "validation"]
    assert main([*args, "--report", str(tmp_path / "r")]) == 2
    assert "the data has no 'validation' split; it has ['test']" in capsys.readouterr().err


def test_report_shows_error_texts_as_typed(tmp_path):
    """A text's `[NAME]` placeholders stay text in report.md instead of reading as a Markdown link reference."""
    scored = ScoredSplit("test", ["a", "b", "[NAME] [NAME] Bros", "d", "e"], Y_TRUE, PROBS)
    text = write_error_report(scored, LABELS, THRESHOLDS, tmp_path, errors_per_class=2).read_text(encoding="utf-8")
    assert "| 0.700 | \\[NAME\\] \\[NAME\\] Bros | anger | anger, joy |" in text
