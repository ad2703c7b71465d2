import html
import io
import re

import numpy as np
import pandas as pd
import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.demo.logic import (
    ATTRIBUTION_ELEMENT_ID,
    DemoSettings,
    attribution_html,
    check_text,
    count_tokens,
    csv_columns,
    long_text_note,
    long_texts_note,
    model_facts,
    parse_demo_args,
    passing_labels,
    probabilities_in_chunks,
    read_upload,
    results_csv,
    results_frame,
    scores_frame,
    unfamiliar_note,
)
from goemox.errors import GoEmoXUsageError
from goemox.inference.attribution import LabelExplanation, WordAttribution
from goemox.inference.classifier import EmotionClassifier, EmotionPrediction
from goemox.labels import get_label_scheme

LABELS = ["joy", "anger", "fear"]
TEXTS = ["i am so happy today", "why", "i am scared of the dark house", "ok then", "the dinner was lovely"]


@pytest.fixture(scope="module")
def classifier(tiny_encoder_factory, tiny_tokenizer) -> EmotionClassifier:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    return EmotionClassifier(model, tiny_tokenizer, batch_size=2)


def test_settings_round_trip_through_script_arguments():
    settings = DemoSettings(model="org/model", max_rows=50, max_length=64)
    assert parse_demo_args(settings.script_args()) == settings
    windows = DemoSettings(model="m", long_text="window", long_text_stride=8, long_text_aggregation="mean")
    assert parse_demo_args(windows.script_args()) == windows
    assert parse_demo_args(["--model", "runs/demo"]) == DemoSettings(model="runs/demo")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --model"),
        (["--model", "m", "--max_rows", "0"], "expected at least 1, got 0"),
        (["--model", "m", "--max_len", "5"], "unrecognized arguments: --max_len"),
        (["--model", "m", "--long_text", "all"], "argument --long_text: invalid choice: 'all'"),
    ],
)
def test_bad_script_arguments_raise_a_usage_error(argv, message):
    with pytest.raises(GoEmoXUsageError, match=message):
        parse_demo_args(argv)


def test_model_facts_without_the_optional_config_keys(classifier):
    facts = model_facts(classifier, "some/model")
    assert facts == {
        "Model": "some/model",
        "Label scheme": "not stored",
        "Labels": "3: joy, anger, fear",
        "Thresholds": "0.5 for every label (the model stores none)",
        "Long texts": "cut to their first 128 tokens",
    }


def test_model_facts_with_scheme_thresholds_temperature_and_ood_cutoff(tiny_encoder_factory, tiny_tokenizer):
    scheme = get_label_scheme("sentiment")
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), scheme)
    model.config.thresholds = [0.3, 0.4, 0.5, 0.6]
    model.config.calibration_temperature = [1.5, 0.8, 1.0, 2.25]
    model.config.ood_cutoff = {"score": "max_probability", "cutoff": 0.42, "source": "validation"}
    facts = model_facts(EmotionClassifier(model, tiny_tokenizer), "dir")
    assert facts["Label scheme"] == "sentiment"
    assert facts["Thresholds"] == "tuned per label, stored with the model"
    assert facts["Calibration"] == "per_label_temperature: T = 4 per-label values, 0.800 to 2.250"
    assert facts["Out-of-domain check"] == "highest probability below 0.420 (set on validation)"
    model.config.calibration = {"method": "platt", "slope": [0.5, 1, 1, 2], "intercept": [-1, 0, 0, 0.5]}
    model.config.ood_cutoff = {"score": "negative_energy", "cutoff": 2.5, "source": "validation"}
    facts = model_facts(EmotionClassifier(model, tiny_tokenizer), "dir")
    assert facts["Calibration"].startswith("platt: slope a = 4 per-label values, 0.500 to 2.000")
    assert facts["Out-of-domain check"] == "negative energy below 2.500 (set on validation)"


def test_check_text_strips_and_refuses_empty_text():
    assert check_text("  hello \n") == "hello"
    for empty in ("", "  \n\t", None):
        with pytest.raises(GoEmoXUsageError, match="Enter a text"):
            check_text(empty)


def test_long_text_notes_say_how_a_long_text_was_read(classifier, tiny_tokenizer):
    short, long = count_tokens(classifier, ["happy", " ".join(["happy"] * 200)])
    assert short == 3  # [CLS] happy [SEP]
    assert long == 202
    assert long_text_note(short, classifier) is None
    note = long_text_note(long, classifier)
    assert "202 tokens long; the model reads only the first 128" in note and "--long_text window" in note
    assert long_texts_note(0, 5, classifier) is None
    assert long_texts_note(2, 5, classifier).endswith("2 of 5; the model read only their beginning.")
    windows = EmotionClassifier(classifier.model, tiny_tokenizer, long_text="window")
    windows.predict([" ".join(["happy"] * 200)])
    assert "it was read whole, in 2 overlapping windows, each label's score the max" in long_text_note(long, windows)
    assert "2 of 5; read whole, in overlapping windows (max of each label's score)." in long_texts_note(2, 5, windows)
    assert model_facts(windows, "m")["Long texts"].startswith("read whole, in windows of 128 tokens sharing 32")


def test_unfamiliar_note_follows_the_prediction_flag():
    scores = {"joy": 0.2, "anger": 0.1}
    assert unfamiliar_note(EmotionPrediction([], scores, unfamiliar=None), None) is None
    assert unfamiliar_note(EmotionPrediction([], scores, unfamiliar=False), 0.1) is None
    note = unfamiliar_note(EmotionPrediction([], scores, unfamiliar=True), 0.35)
    assert "highest probability, 0.200, is below the cutoff 0.350" in note


def test_passing_labels_agree_with_predict(classifier):
    probabilities = classifier.predict_proba(TEXTS)
    thresholds = list(np.median(probabilities, axis=0))
    predictions = classifier.predict(TEXTS, thresholds=thresholds)
    assert [passing_labels(row, LABELS, thresholds) for row in probabilities] == [p.labels for p in predictions]
    assert any(p.labels for p in predictions) and any(len(p.labels) < len(LABELS) for p in predictions)


def test_scores_frame_sorts_by_probability_and_marks_predicted_labels():
    prediction = EmotionPrediction(["fear"], {"joy": 0.2, "anger": 0.1, "fear": 0.7})
    frame = scores_frame(prediction, [0.3, 0.05, 0.5])
    assert frame.to_dict("records") == [
        {"label": "fear", "probability": 0.7, "threshold": 0.5, "passes": True},
        {"label": "joy", "probability": 0.2, "threshold": 0.3, "passes": False},
        {"label": "anger", "probability": 0.1, "threshold": 0.05, "passes": False},
    ]


def test_read_upload_csv_keeps_other_columns_and_drops_a_byte_order_mark():
    data = '\ufeffid,body,note\n1,hello there,a\n2,"quoted, text",b\n'.encode()
    assert csv_columns(data.decode("utf-8-sig"), "f.csv") == ["id", "body", "note"]
    batch = read_upload(data, "F.CSV", "body", max_rows=2)
    assert batch.texts == ["hello there", "quoted, text"]
    assert batch.rows[1] == {"id": "2", "body": "quoted, text", "note": "b"}


def test_read_upload_txt_skips_blank_lines():
    batch = read_upload(b"first\n\n  second  \r\n", "lines.txt", None, max_rows=2)
    assert batch.text_column == "text"
    assert batch.texts == ["first", "second"]


@pytest.mark.parametrize(
    ("data", "name", "column", "message"),
    [
        (b"id,text\n1,hi\n", "f.csv", "body", "f.csv:1: no column 'body'; the header has ['id', 'text']"),
        (b"a\n\xff\n", "f.txt", None, "f.txt:2: bytes that are not UTF-8"),
        (b"a\nb\nc\n", "f.txt", None, "f.txt: 3 rows, more than this demo's limit of 2"),
        (b"\n\n", "f.txt", None, "f.txt: no texts found"),
        (b"text\n", "f.csv", "text", "f.csv: no texts found"),
        (b'text\nhi\n""\n', "f.csv", "text", "f.csv:3: empty or missing 'text'"),
        (b",\n", "f.csv", "text", "f.csv:1: no header row"),
        (b'text\nhi\n"a, b",c\n', "f.csv", "text", "f.csv:3: more cells than the header's 1 columns"),
        (b"{}", "f.json", "text", "f.json: expected a .csv or .txt file"),
    ],
)
def test_read_upload_refuses_bad_files_with_a_message(data, name, column, message):
    with pytest.raises(GoEmoXUsageError) as caught:
        read_upload(data, name, column, max_rows=2)
    assert str(caught.value).startswith(message)


def test_probabilities_in_chunks_report_progress_and_match_one_call(classifier):
    seen = []
    probabilities = probabilities_in_chunks(classifier, TEXTS, 2, lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert probabilities == pytest.approx(classifier.predict_proba(TEXTS), abs=1e-6)
    assert probabilities_in_chunks(classifier, [], 2, lambda *_: None).shape == (0, 3)


def test_results_frame_and_csv(classifier):
    batch = read_upload(
        b"id,text,labels\n" + "".join(f"{i},{t},old\n" for i, t in enumerate(TEXTS)).encode(),
        "in.csv",
        "text",
        max_rows=10,
    )
    probabilities = classifier.predict_proba(batch.texts)
    thresholds = list(np.median(probabilities, axis=0))
    frame = results_frame(batch, probabilities, LABELS, thresholds, ood_cutoff=float(np.median(probabilities.max(1))))
    assert list(frame.columns) == ["id", "text", "labels", "unfamiliar", "score_joy", "score_anger", "score_fear"]
    expected = classifier.predict(batch.texts, thresholds=thresholds)
    assert list(frame["labels"]) == [";".join(p.labels) for p in expected]
    assert frame["unfamiliar"].any() and not frame["unfamiliar"].all()
    assert "unfamiliar" not in results_frame(batch, probabilities, LABELS, thresholds)
    back = pd.read_csv(io.BytesIO(results_csv(frame)), keep_default_na=False)
    assert list(back["labels"]) == list(frame["labels"])
    assert back["score_fear"].tolist() == pytest.approx(frame["score_fear"].tolist(), abs=1e-6)


def test_attribution_html_shades_each_word_and_keeps_the_text_as_typed():
    text = "so <b>furious</b>\n  not calm"
    words = [
        WordAttribution("so", 0, 2, 0.5),
        WordAttribution("<b>furious</b>", 3, 17, 2.0),
        WordAttribution("not", 20, 23, -1.0),
        WordAttribution("calm", 24, 28, 0.0),
    ]
    explanation = LabelExplanation("anger", 1.5, -2.0, words, completeness_error=0.0)
    page = attribution_html(text, explanation)
    assert page.startswith(f'<div id="{ATTRIBUTION_ELEMENT_ID}" data-label="anger">')
    assert "<b>furious" not in page and "&lt;b&gt;furious&lt;/b&gt;" in page  # the text is escaped, never markup
    spans = re.findall(r'data-attribution="([^"]+)"[^>]*style="background:rgba\(([\d,]+),([\d.]+)\)', page)
    assert [(float(value), rgb, float(alpha)) for value, rgb, alpha in spans] == [
        (0.5, "214,39,40", pytest.approx(0.2125, abs=1e-3)),
        (2.0, "214,39,40", 0.85),
        (-1.0, "31,119,180", 0.425),
        (0.0, "214,39,40", 0.0),
    ]
    body = re.search(r"pre-wrap[^>]*>(.*?)</div>", page, re.S).group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", body)) == text
    assert "red</span> pushed towards it" in page and "-2.00" in page and "not read" not in page
    cut = attribution_html(text, LabelExplanation("anger", 1.5, -2.0, words[:1], 0.0, cut=True))
    assert "past the model's length limit were not read" in cut
