import numpy as np
import pytest
from conftest import KEYWORDS, keyword_sentence
from transformers import AutoTokenizer

from goemox.errors import GoEmoXUsageError
from goemox.inference.attribution import WordAttribution, merge_into_words, word_spans
from goemox.inference.classifier import EmotionClassifier
from goemox.inference.predictor import LongText

STEPS = 50
COMPLETENESS_TOLERANCE = 0.05
"""Largest completeness error allowed, as a share of the logit's change from baseline to input (at 50 steps)."""


@pytest.fixture(scope="module")
def keyword_classifier(keyword_model):
    return EmotionClassifier.from_pretrained(str(keyword_model), device="cpu", batch_size=16)


@pytest.fixture(scope="module")
def filler_words(tiny_tokenizer) -> list[str]:
    return sorted(w for w in tiny_tokenizer.get_vocab() if w.isalpha() and w not in KEYWORDS.values() and len(w) > 2)


@pytest.fixture(scope="module")
def anger_sentences(filler_words) -> list[str]:
    rng = np.random.default_rng(11)
    return [keyword_sentence(rng, filler_words, {"anger"}, int(rng.integers(3, 25))) for _ in range(60)]


@pytest.fixture(scope="module")
def anger_explanations(keyword_classifier, anger_sentences):
    return [row["anger"] for row in keyword_classifier.explain(anger_sentences, labels=["anger"], n_steps=STEPS)]


def test_word_spans_split_on_any_whitespace():
    assert word_spans(" so\tfurious!!\n 😡 ") == [(1, 3), (4, 13), (15, 16)]
    assert word_spans("   ") == []


def test_merge_into_words_sums_the_tokens_of_each_word_and_skips_special_tokens():
    words = merge_into_words("so furious", [(0, 0), (0, 2), (3, 7), (7, 10), (0, 0)], [9.0, 0.1, 1.0, 0.5, 9.0])
    assert words == [WordAttribution("so", 0, 2, 0.1), WordAttribution("furious", 3, 10, 1.5)]


@pytest.mark.parametrize("tokenizer_source", ["tiny", "minilm"])
@pytest.mark.parametrize(
    "text",
    [
        "I'm SO furious!!! 😡😡 right now...",
        "naïve café-goers, unbelievably rude: “why?”",
        "  spaces\tand\nnewlines  between   words ",
        "emoji🙂glued to words and #hashtags @people",
    ],
)
def test_words_are_reassembled_as_written(tokenizer_source, text, tiny_tokenizer, request):
    if tokenizer_source == "tiny":
        tokenizer = tiny_tokenizer
    else:
        tokenizer = AutoTokenizer.from_pretrained(str(request.getfixturevalue("shared_minilm")))
    encoded = tokenizer(text, return_offsets_mapping=True)
    values = np.arange(len(encoded["input_ids"]), dtype=float)
    words = merge_into_words(text, encoded["offset_mapping"], values)
    assert [(w.start, w.end) for w in words] == word_spans(text)
    assert [w.word for w in words] == text.split()
    assert all(w.word == text[w.start : w.end] for w in words)
    special = sum(v for v, (s, e) in zip(values, encoded["offset_mapping"]) if e <= s)
    assert sum(w.attribution for w in words) == pytest.approx(values.sum() - special)


def test_the_keyword_gets_the_highest_attribution(anger_explanations):
    top = [explanation.top(1)[0].word if explanation.top(1) else None for explanation in anger_explanations]
    share = np.mean([word == KEYWORDS["anger"] for word in top])
    assert share >= 0.95, top


def test_attributions_are_complete(anger_explanations):
    for explanation in anger_explanations:
        total = sum(w.attribution for w in explanation.words)
        gap = explanation.logit - explanation.baseline_logit
        assert total - gap == pytest.approx(explanation.completeness_error, abs=1e-4)
        assert abs(explanation.completeness_error) <= COMPLETENESS_TOLERANCE * abs(gap)


def test_explanations_do_not_depend_on_the_batch(keyword_classifier, anger_sentences, anger_explanations):
    alone = keyword_classifier.explain(anger_sentences[:1], labels=["anger"], n_steps=STEPS)[0]["anger"]
    batched = anger_explanations[0]
    assert [w.word for w in alone.words] == [w.word for w in batched.words]
    np.testing.assert_allclose(
        [w.attribution for w in alone.words], [w.attribution for w in batched.words], rtol=1e-3, atol=1e-4
    )


def test_default_labels_are_the_predicted_ones(keyword_classifier, filler_words):
    rng = np.random.default_rng(3)
    texts = [
        keyword_sentence(rng, filler_words, {"anger", "joy"}, 8),
        keyword_sentence(rng, filler_words, {"joy"}, 8),
        keyword_sentence(rng, filler_words, set(), 8),
    ]
    predicted = [p.labels for p in keyword_classifier.predict(texts)]
    explained = keyword_classifier.explain(texts, n_steps=8)
    assert [list(row) for row in explained] == predicted
    assert predicted[1] == ["joy"] and predicted[2] == []
    assert explained[1]["joy"].top(1)[0].word == KEYWORDS["joy"]


def test_a_text_longer_than_max_length_is_flagged_cut(keyword_model, filler_words):
    classifier = EmotionClassifier.from_pretrained(str(keyword_model), device="cpu", max_length=12)
    rng = np.random.default_rng(4)
    long_text, short_text = keyword_sentence(rng, filler_words, set(), 30), "furious"
    long_row, short_row = classifier.explain([long_text, short_text], labels=["anger"], n_steps=4)
    assert long_row["anger"].cut and not short_row["anger"].cut
    assert len(long_row["anger"].words) == 10  # 12 tokens less [CLS] and [SEP]: the words after are not read


def test_bad_requests_are_one_line_errors(keyword_classifier):
    with pytest.raises(GoEmoXUsageError, match=r"unknown label\(s\) \['rage'\]; the model predicts \['anger', 'joy'\]"):
        keyword_classifier.explain(["so furious"], labels=["rage"])
    with pytest.raises(GoEmoXUsageError, match="n_steps must be at least 1, got 0"):
        keyword_classifier.explain(["so furious"], n_steps=0)


@pytest.mark.parametrize("aggregation", ["max", "mean"])
def test_a_text_read_in_windows_is_explained_on_the_window_that_gave_the_label(
    keyword_model, filler_words, aggregation
):
    classifier = EmotionClassifier.from_pretrained(
        str(keyword_model), device="cpu", max_length=16, long_text=LongText("window", 4, aggregation)
    )
    rng = np.random.default_rng(5)
    text = keyword_sentence(rng, filler_words, set(), 40) + " " + KEYWORDS["anger"]
    explanation = classifier.explain([text], labels=["anger"], n_steps=STEPS)[0]["anger"]
    assert explanation.window > 0 and explanation.cut
    assert explanation.top(1)[0].word == KEYWORDS["anger"]
    assert explanation.top(1)[0].start == text.rindex(KEYWORDS["anger"])  # offsets are the whole text's
    truncated = EmotionClassifier.from_pretrained(str(keyword_model), device="cpu", max_length=16)
    assert truncated.explain([text], labels=["anger"], n_steps=4)[0]["anger"].window == 0
