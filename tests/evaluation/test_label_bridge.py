"""Scoring in the data's labels: label maps from files and schemes, grouped max scores, single-label scores and
the report section, on hand-made numbers and a tiny untrained model."""

import json
import logging

import numpy as np
import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.errors import DataError, GoEmoXUsageError
from goemox.evaluation.label_bridge import (
    SHARED_NAMES,
    LabelMap,
    format_single_label_table,
    grouped_scores,
    read_label_map,
    score_in_data_labels,
    single_label_scores,
)
from goemox.evaluation.label_bridge_report import write_single_label_section
from goemox.inference.classifier import EmotionClassifier
from goemox.labels import GOEMOTIONS_LABELS, get_label_scheme
from goemox.reporting.markdown import MarkdownReport

MODEL_LABELS = ["joy", "amusement", "anger", "sadness", "neutral"]
GROUPS = {"happy": ("joy", "amusement"), "mad": ("anger",), "sad": ("sadness",), "none": ("neutral",)}
PROBS = np.array(
    [
        [0.2, 0.7, 0.1, 0.3, 0.4],  # happy 0.7 (amusement) -> happy
        [0.6, 0.1, 0.65, 0.2, 0.1],  # happy 0.6, mad 0.65 -> mad
        [0.1, 0.1, 0.2, 0.5, 0.6],  # -> none
        [0.3, 0.2, 0.1, 0.8, 0.2],  # -> sad
        [0.9, 0.1, 0.1, 0.1, 0.1],  # -> happy
        [0.9, 0.1, 0.1, 0.1, 0.1],  # two true labels: left out
        [0.1, 0.1, 0.9, 0.1, 0.1],  # no true label: left out
    ]
)
# true labels: happy, happy, happy, sad, mad, happy+sad, nothing
Y_TRUE = np.array(
    [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
)  # fmt: skip


def test_grouped_scores_take_the_max_of_the_members():
    scores, names = grouped_scores(PROBS, MODEL_LABELS, GROUPS)
    assert names == ["happy", "mad", "sad", "none"]
    assert scores[:5].tolist() == [
        [0.7, 0.1, 0.3, 0.4],
        [0.6, 0.65, 0.2, 0.1],
        [0.1, 0.2, 0.5, 0.6],
        [0.3, 0.1, 0.8, 0.2],
        [0.9, 0.1, 0.1, 0.1],
    ]
    with pytest.raises(GoEmoXUsageError, match="'love' is not a model label"):
        grouped_scores(PROBS, MODEL_LABELS, {"happy": ["love"]})


def test_single_label_scores_match_a_hand_computation():
    scores, names = grouped_scores(PROBS, MODEL_LABELS, GROUPS)
    result = single_label_scores(Y_TRUE, scores, names)
    assert (result["rows"], result["rows_scored"]) == (7, 5)
    assert (result["rows_without_label"], result["rows_with_several_labels"]) == (1, 1)
    # predictions happy, mad, none, sad, happy against happy, happy, happy, sad, mad: rows 1 and 4 right
    assert result["accuracy"] == pytest.approx(2 / 5)
    happy, mad, sad, none = (result["per_label"][name] for name in names)
    assert (happy["precision"], happy["recall"], happy["f1"]) == pytest.approx((1 / 2, 1 / 3, 0.4))
    assert (mad["f1"], sad["f1"], none["f1"]) == (0.0, 1.0, 0.0)
    assert [row["support"] for row in (happy, mad, sad, none)] == [3, 1, 1, 0]
    assert [row["predicted"] for row in (happy, mad, sad, none)] == [2, 1, 1, 1]
    # `none` never occurs as a true label, so it is not averaged
    assert result["macro_f1_labels"] == ["happy", "mad", "sad"]
    assert result["macro_f1"] == pytest.approx((0.4 + 0.0 + 1.0) / 3)
    assert (result["majority_label"], result["majority_baseline_accuracy"]) == ("happy", pytest.approx(3 / 5))
    assert result["confusion"]["counts"] == [[1, 1, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    table = format_single_label_table(result, LabelMap(GROUPS, "map.yaml"))
    assert table.splitlines()[2] == "majority baseline 0.6000  (always 'happy')"
    assert any(line.startswith("happy") and line.endswith("joy, amusement") for line in table.splitlines())


def test_rows_without_exactly_one_label_cannot_be_scored():
    with pytest.raises(GoEmoXUsageError, match="none of the 2 rows has exactly one label of a, b"):
        single_label_scores(np.array([[1, 1], [0, 0]]), np.array([[0.1, 0.2], [0.3, 0.4]]), ["a", "b"])


def test_the_ekman_scheme_inverts_into_its_groups():
    groups = read_label_map("ekman", GOEMOTIONS_LABELS).groups
    assert list(groups) == ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    joy = {"joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride"}
    assert set(groups["joy"]) == joy | {"admiration", "desire", "caring"} and len(groups["joy"]) == 12
    assert groups["fear"] == ("fear", "nervousness") and groups["neutral"] == ("neutral",)
    assert sorted(member for members in groups.values() for member in members) == sorted(GOEMOTIONS_LABELS)
    ten = read_label_map("ten", GOEMOTIONS_LABELS).groups
    assert "neutral" not in {member for members in ten.values() for member in members}
    assert ten["love"] == ("caring", "love")


def test_label_map_files_and_scheme_files(tmp_path):
    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text("happy: [joy, amusement, joy]\nmad: anger\n", encoding="utf-8")
    label_map = read_label_map(yaml_map, MODEL_LABELS)
    assert label_map.groups == {"happy": ("joy", "amusement"), "mad": ("anger",)}
    assert label_map.source == str(yaml_map) and label_map.data_scheme().labels == ("happy", "mad")
    scheme_file = tmp_path / "valence.json"
    scheme = {"labels": ["pleasant", "unpleasant"], "mapping": {"amusement": ["pleasant"], "anger": ["unpleasant"]}}
    scheme_file.write_text(json.dumps({**scheme, "source_labels": MODEL_LABELS}), encoding="utf-8")
    # `joy` is not in the mapping and is no scheme label: it is dropped, as when the scheme reads data
    assert read_label_map(scheme_file, MODEL_LABELS).groups == {"pleasant": ("amusement",), "unpleasant": ("anger",)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("happy: [joy, love]\n", "map.yaml: data label 'happy' gathers 'love', which is not a label of the model; "
         "expected model label names (joy, amusement, anger, sadness, neutral)"),
        ("happy: []\n", "map.yaml: data label 'happy' gathers no model label; expected at least one member"),
        ("happy: 3\n", "map.yaml: data label 'happy' maps to 3; expected a model label name or a list of them"),
        ("1: joy\n", "map.yaml: key 1 is not a label name"),
        ("", "map.yaml: the label map is empty"),
        ("- joy\n", "map.yaml: expected a mapping of data label -> model label name(s), got list"),
    ],
)  # fmt: skip
def test_bad_label_map_files_name_the_file_and_key(tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "map.yaml").write_text(content, encoding="utf-8")
    with pytest.raises((DataError, GoEmoXUsageError)) as caught:
        read_label_map("map.yaml", MODEL_LABELS)
    assert message in str(caught.value)


def test_a_scheme_over_other_labels_and_an_unknown_name_are_refused():
    with pytest.raises(DataError, match="label scheme 'ekman': data label 'anger' gathers 'annoyance'"):
        read_label_map("ekman", MODEL_LABELS)
    with pytest.raises(GoEmoXUsageError, match="label map 'ekmann': not a built-in scheme"):
        read_label_map("ekmann", MODEL_LABELS)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tiny_encoder_factory, tiny_tokenizer) -> EmotionClassifier:
    folder = tmp_path_factory.mktemp("bridge-model")
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), get_label_scheme("ten"))
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return EmotionClassifier.from_pretrained(str(folder), device="cpu")


TEXTS = ["i feel so happy", "this is awful", "i am scared", "i love you", "so sad today", "great news"]


def test_scoring_in_data_labels_reads_the_files_labels(classifier, tmp_path, caplog):
    data = tmp_path / "tweets.tsv"
    rows = zip(TEXTS, ["joy", "anger", "fear", "love", "sadness", "joy"])
    data.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows), encoding="utf-8")
    scored, label_map = score_in_data_labels(
        classifier, str(data), split="train", label_column="label", validation_size=0, test_size=0, show_progress=False
    )
    # the names the file uses, in the model's label order
    assert label_map.source == SHARED_NAMES and label_map.data_labels == ("anger", "sadness", "fear", "joy", "love")
    probs = classifier.predict_proba(TEXTS)
    columns = [classifier.label_names.index(name) for name in label_map.data_labels]
    assert np.allclose(scored.probs, probs[:, columns])
    assert scored.y_true.argmax(axis=1).tolist() == [3, 0, 2, 4, 1, 3]

    happy = tmp_path / "map.json"
    happy.write_text(json.dumps({"happy": ["joy", "love"], "down": "sadness", "angry": "anger", "calm": []}))
    with pytest.raises(DataError, match="data label 'calm' gathers no model label"):
        score_in_data_labels(classifier, str(data), split="train", label_map=happy, label_column="label")
    happy.write_text(json.dumps({"happy": ["joy", "love"], "down": "sadness", "angry": "anger", "scared": "fear"}))
    unmapped = r"tweets.tsv:2: unknown label 'joy'; expected a label of scheme '.*map.json' \(happy, down"
    with pytest.raises(DataError, match=unmapped):
        score_in_data_labels(classifier, str(data), split="train", label_map=happy, label_column="label")
    renamed = tmp_path / "renamed.tsv"
    data_rows = zip(TEXTS, ["happy", "angry", "scared", "happy", "down", "happy"])
    renamed.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in data_rows), encoding="utf-8")
    happy.write_text(json.dumps({"happy": ["joy", "love"], "down": "sadness", "angry": "anger", "bored": "fear"}))
    with pytest.raises(DataError, match="renamed.tsv:4: unknown label 'scared'"):
        score_in_data_labels(classifier, str(renamed), split="train", label_map=happy, label_column="label")
    happy.write_text(json.dumps({"happy": ["joy", "love"], "down": "sadness", "angry": "anger", "scared": "fear",
                                 "bored": "confusion"}))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="goemox.evaluation.label_bridge"):
        scored, label_map = score_in_data_labels(
            classifier, None, split="train", train_file=renamed, label_map=happy, label_column="label",
            validation_size=0, test_size=0, show_progress=False,
        )  # fmt: skip
    assert "never seen in the train split: bored" in caplog.text
    assert label_map.data_labels == ("happy", "down", "angry", "scared", "bored")
    joy, love = (classifier.label_names.index(name) for name in ("joy", "love"))
    assert np.allclose(scored.probs[:, 0], np.maximum(probs[:, joy], probs[:, love]))


def test_the_report_section_has_the_tables_and_the_heatmap(tmp_path):
    scores, names = grouped_scores(PROBS, MODEL_LABELS, GROUPS)
    result = single_label_scores(Y_TRUE, scores, names)
    report = MarkdownReport(tmp_path, "Scores")
    write_single_label_section(report, result, LabelMap(GROUPS, "map.yaml"), tmp_path / "c.png", title="tweets")
    text = report.render()
    assert "5 of 7 rows scored (those with exactly one true label; 1 without a label and 1 with several" in text
    assert "| 0.4 | 0.4667 | 0.6 | happy |" in text
    assert "| happy | joy, amusement | 0.5 | 0.3333 | 0.4 | 3 | 2 |" in text
    assert "![tweets confusion](c.png)" in text
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
