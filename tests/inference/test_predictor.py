"""Texts longer than max_length: `truncate` (counted) and `window` (overlapping windows, logits aggregated), on the
keyword model, whose right answer is known wherever the keyword stands."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from conftest import KEYWORDS, keyword_sentence
from transformers import AutoModelForSequenceClassification, AutoTokenizer, CTRLTokenizer

from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.predictor import LongText, LongTextReport
from goemox.inference.windows import aggregate_windows

MAX_LENGTH = 128  # the tiny encoder's position limit


@pytest.fixture(scope="module")
def filler(tiny_tokenizer) -> list[str]:
    """Words of one token each that decide no label (as in the keyword model's training sentences)."""
    return sorted(w for w in tiny_tokenizer.get_vocab() if w.isalpha() and w not in KEYWORDS.values() and len(w) > 2)


def late_keyword_text(rng, filler: list[str], label: str, before: int = 320, after: int = 40) -> str:
    """`before` filler words, the label's keyword, `after` more: the keyword sits after token 300."""
    return " ".join([*rng.choice(filler, before), KEYWORDS[label], *rng.choice(filler, after)])


def today_logits(model_dir, texts: list[str], batch_size: int) -> np.ndarray:
    """The logits as prediction computed them before `long_text`: truncated texts, length-sorted batches."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    encoded = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    logits = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad([{k: encoded[k][i] for k in encoded} for i in rows], return_tensors="pt")
        with torch.inference_mode():
            logits[rows] = model(**batch).logits.numpy()
    return logits


def classifier(model_dir, long_text=None, batch_size: int = 8) -> EmotionClassifier:
    return EmotionClassifier.from_pretrained(
        str(model_dir), device="cpu", max_length=MAX_LENGTH, batch_size=batch_size, long_text=long_text
    )


def test_a_keyword_after_token_300_is_found_with_window_and_missed_with_truncate(keyword_model, filler):
    rng = np.random.default_rng(1)
    labels = ["anger", "joy"] * 6
    texts = [late_keyword_text(rng, filler, label) for label in labels]
    found = {}
    for mode in ("truncate", "window"):
        clf = classifier(keyword_model, mode)
        predictions = clf.predict(texts)
        found[mode] = np.mean([label in p.labels for label, p in zip(labels, predictions)])
        assert clf.long_text_report.long_texts == len(texts)
    assert found["window"] >= 0.9
    assert found["truncate"] <= 0.1
    assert clf.long_text_report.windows >= 4 * len(texts)  # 360 words in windows of 126 tokens moving by 94


def test_short_texts_get_exactly_todays_scores_with_either_setting(keyword_model, filler):
    rng = np.random.default_rng(2)
    texts = [keyword_sentence(rng, filler, {"anger"} if i % 3 else set(), int(rng.integers(2, 60))) for i in range(20)]
    expected = today_logits(keyword_model, texts, batch_size=8)
    for long_text in ("truncate", "window", LongText("window", 8, "mean")):
        assert np.array_equal(classifier(keyword_model, long_text).predict_logits(texts), expected), long_text
    long_ones = [late_keyword_text(rng, filler, "joy") for _ in range(3)]
    assert np.array_equal(
        classifier(keyword_model, "truncate").predict_logits(texts + long_ones),
        today_logits(keyword_model, texts + long_ones, batch_size=8),
    )  # truncate is today's behaviour for long texts too


def test_windows_are_batched_together_and_aggregated_by_max_or_mean(keyword_model, filler):
    rng = np.random.default_rng(3)
    texts = [late_keyword_text(rng, filler, "anger", before=150, after=10), "so delighted", ""]
    texts.append(late_keyword_text(rng, filler, "joy", before=30, after=250))
    tokenizer = AutoTokenizer.from_pretrained(keyword_model)
    model = AutoModelForSequenceClassification.from_pretrained(keyword_model).eval()
    windows = tokenizer(texts, truncation=True, max_length=MAX_LENGTH, stride=16, return_overflowing_tokens=True)
    with torch.inference_mode():
        per_window = np.concatenate([model(torch.tensor([ids])).logits.numpy() for ids in windows["input_ids"]])
    mapping = np.asarray(windows["overflow_to_sample_mapping"])
    assert np.bincount(mapping).tolist() == [2, 1, 1, 3]
    for aggregation, reduce in (("max", np.max), ("mean", np.mean)):
        clf = classifier(keyword_model, LongText("window", 16, aggregation), batch_size=2)  # 7 windows, 4 batches
        got = clf.predict_logits(texts)
        expected = np.stack([reduce(per_window[mapping == i], axis=0) for i in range(len(texts))])
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert clf.long_text_report == LongTextReport("window", 16, aggregation, 128, texts=4, long_texts=2, windows=7)
    assert aggregate_windows(per_window, mapping, "max")[3, 1] > aggregate_windows(per_window, mapping, "mean")[3, 1]


def test_mixed_texts_keep_input_order_with_one_row_each(keyword_model, filler):
    rng = np.random.default_rng(4)
    texts = []
    for i in range(9):
        label = "anger" if i % 2 else "joy"
        texts.append(late_keyword_text(rng, filler, label) if i % 3 == 0 else keyword_sentence(rng, filler, {label}, 5))
    clf = classifier(keyword_model, "window", batch_size=3)
    together = clf.predict_logits(texts)
    assert together.shape == (len(texts), len(KEYWORDS))
    alone = np.concatenate([clf.predict_logits([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    predictions = clf.predict(texts)
    assert [("anger" if i % 2 else "joy") in p.labels for i, p in enumerate(predictions)] == [True] * len(texts)


def copy_with_config(model_dir, tmp_path, **settings):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **settings}))
    return folder


def test_the_stored_default_is_read_from_the_config_and_can_be_overridden(keyword_model, tmp_path):
    folder = copy_with_config(keyword_model, tmp_path, long_text="window", long_text_stride=16)
    assert classifier(folder).long_text == LongText("window", 16, "max")
    assert classifier(folder, LongText(aggregation="mean")).long_text == LongText("window", 16, "mean")
    assert classifier(folder, "truncate").long_text == LongText("truncate")
    assert classifier(keyword_model).long_text == LongText("truncate")
    assert classifier(keyword_model, "window").long_text == LongText("window", 32, "max")
    assert LongText("window", 16).stored_settings() == {"long_text": "window", "long_text_stride": 16}


@pytest.mark.parametrize(
    ("long_text", "message"),
    [
        (LongText("windows"), "--long_text must be one of truncate, window, got 'windows'"),
        (LongText("window", aggregation="median"), "--long_text_aggregation must be one of max, mean, got 'median'"),
        (LongText("window", -1), "--long_text_stride must be a whole number of at least 0, got -1"),
        (LongText("window", 126), "--long_text_stride 126 must be below the 126 text tokens of a window"),
        (LongText("truncate", 16), "--long_text_stride applies to --long_text window, but this model truncates"),
        (LongText(aggregation="mean"), "--long_text_aggregation applies to --long_text window"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_option(keyword_model, long_text, message):
    with pytest.raises(GoEmoXUsageError, match=message.replace("(", r"\(")) as caught:
        classifier(keyword_model, long_text)
    assert "\n" not in str(caught.value)


def test_a_bad_stored_setting_names_the_config(keyword_model, tmp_path):
    folder = copy_with_config(keyword_model, tmp_path, long_text="sliding")
    with pytest.raises(GoEmoXUsageError, match="config.json long_text must be one of truncate, window"):
        classifier(folder)
    assert classifier(folder, "truncate").long_text.mode == "truncate"  # an explicit setting wins
    with pytest.raises(GoEmoXUsageError, match="--max_length 2 leaves no token of text"):
        EmotionClassifier.from_pretrained(str(keyword_model), device="cpu", max_length=2)


def test_truncate_counts_and_logs_the_texts_it_cuts(keyword_model, filler, caplog):
    rng = np.random.default_rng(5)
    texts = [late_keyword_text(rng, filler, "joy") for _ in range(3)] + ["so furious", "fine"]
    clf = classifier(keyword_model)
    with caplog.at_level(logging.INFO, logger="goemox.inference"):
        clf.predict(texts)
    expected = {"mode": "truncate", "stride": None, "aggregation": None, "max_length": 128, "texts": 5}
    assert clf.long_text_report.to_dict() == {**expected, "long_texts": 3, "windows": 5}
    assert "3 of 5 texts are longer than 128 tokens and were cut" in caplog.text
    assert "--long_text window" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="goemox.inference"):
        clf.predict(["so furious"])
    assert caplog.text == ""  # nothing long, nothing said
    assert clf.long_text_report.long_texts == 0
    clf.predict([])
    assert clf.long_text_report == LongTextReport("truncate", None, None, 128, 0, 0, 0)


def test_a_slow_tokenizer_truncates_and_counts_but_refuses_windows(keyword_model, tmp_path):
    vocab = {word: i for i, word in enumerate(["a", "b", "c", "d", "<unk>"])}  # one-letter words: one token each
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    slow = CTRLTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    slow.pad_token = "<unk>"
    assert not slow.is_fast
    model = AutoModelForSequenceClassification.from_pretrained(keyword_model)
    clf = EmotionClassifier(model, slow, max_length=3)
    assert clf.predict_logits(["a b c d", "a b"]).shape == (2, 2)
    assert clf.long_text_report.long_texts == 1
    with pytest.raises(GoEmoXUsageError, match="--long_text window needs a fast tokenizer"):
        EmotionClassifier(model, slow, max_length=3, long_text="window")
