import numpy as np
import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.errors import GoEmoXError
from goemox.inference.classifier import EmotionClassifier
from goemox.scores import ood_scores, stored_thresholds

LABELS = ["joy", "anger", "fear"]
TEXTS = ["a very long sentence about being happy and glad and thankful for all of it", "why", "i am scared", "ok"]


@pytest.fixture
def saved_model(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    model.config.thresholds = [0.3, 0.5, 0.99]
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_probabilities_match_unbatched_forward_in_input_order(saved_model):
    clf = EmotionClassifier.from_pretrained(str(saved_model), device="cpu", batch_size=2)
    probs = clf.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), len(LABELS))
    with torch.no_grad():
        for text, row in zip(TEXTS, probs):
            logits = clf.model(**clf.tokenizer([text], return_tensors="pt")).logits
            assert row == pytest.approx(torch.sigmoid(logits)[0].numpy(), abs=1e-5)
    assert clf.predict_proba([]).shape == (0, len(LABELS))


def test_labels_follow_stored_thresholds(saved_model):
    clf = EmotionClassifier.from_pretrained(str(saved_model), device="cpu")
    assert clf.thresholds == [0.3, 0.5, 0.99]
    probs = clf.predict_proba(TEXTS)
    for pred, row in zip(clf.predict(TEXTS), probs):
        expected = {name for name, p, t in zip(LABELS, row, clf.thresholds) if p >= t}
        assert set(pred.labels) == expected
        assert list(pred.scores) == LABELS
        assert [pred.scores[name] for name in pred.labels] == sorted(
            (pred.scores[name] for name in pred.labels), reverse=True
        )


def test_ensure_top_label_and_threshold_override(saved_model):
    clf = EmotionClassifier.from_pretrained(str(saved_model), device="cpu")
    assert all(p.labels == [] for p in clf.predict(TEXTS, thresholds=1.0))
    forced = clf.predict(TEXTS, thresholds=1.0, ensure_top_label=True)
    probs = clf.predict_proba(TEXTS)
    assert [p.labels for p in forced] == [[LABELS[int(np.argmax(row))]] for row in probs]


def test_model_without_thresholds_uses_one_half(tiny_encoder_factory):
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    assert stored_thresholds(model.config) == [0.5, 0.5, 0.5]


def test_stored_ood_cutoff_flags_texts_whose_top_probability_falls_below_it(saved_model):
    clf = EmotionClassifier.from_pretrained(str(saved_model), device="cpu")
    assert all(p.unfamiliar is None for p in clf.predict(TEXTS))
    top = clf.predict_proba(TEXTS).max(axis=1)
    cutoff = float(np.median(top))
    clf.model.config.ood_cutoff = {"score": "max_probability", "cutoff": cutoff, "source": "test"}
    clf = EmotionClassifier(clf.model, clf.tokenizer)
    assert [p.unfamiliar for p in clf.predict(TEXTS)] == [bool(t < cutoff) for t in top]
    assert any(t < cutoff for t in top) and any(t >= cutoff for t in top)


def test_ood_cutoff_on_the_negative_energy_and_unknown_scores(saved_model):
    clf = EmotionClassifier.from_pretrained(str(saved_model), device="cpu")
    logits = clf.predict_logits(TEXTS).astype(np.float64)
    negative_energy = np.log1p(np.exp(logits)).sum(axis=1)
    assert ood_scores(logits, "negative_energy") == pytest.approx(negative_energy)
    assert ood_scores(logits, "max_probability") == pytest.approx(clf.predict_proba(TEXTS).max(axis=1), abs=1e-6)
    cutoff = float(np.median(negative_energy))
    clf.model.config.ood_cutoff = {"score": "negative_energy", "cutoff": cutoff, "source": "test"}
    clf = EmotionClassifier(clf.model, clf.tokenizer)
    assert clf.ood_score == "negative_energy"
    assert [p.unfamiliar for p in clf.predict(TEXTS)] == [bool(v < cutoff) for v in negative_energy]
    clf.model.config.ood_cutoff = {"score": "entropy", "cutoff": 0.5, "source": "test"}
    with pytest.raises(GoEmoXError, match="ood_cutoff score 'entropy' is not one of max_probability, negative_energy"):
        EmotionClassifier(clf.model, clf.tokenizer)
