import json
import re

import numpy as np
import pytest
import torch

from goemox import GoEmoXForSequenceClassification
from goemox.analysis.bias_probe import (
    IdentityTerm,
    PlaceholderProbe,
    load_templates,
    load_terms,
    run_bias_probe,
    summarise_probe,
)
from goemox.cli import main
from goemox.errors import GoEmoXUsageError

LABELS = ["joy", "anger"]


class KeywordClassifier:
    """Scores joy 0.9 for texts mentioning Emily (0.1 otherwise) and anger 0.5: a model with one known bias."""

    label_names = LABELS
    thresholds = [0.5, 0.5]

    def predict_proba(self, texts, show_progress=False):
        return np.array([[0.9 if "Emily" in text else 0.1, 0.5] for text in texts])


def test_default_terms_cover_names_religions_and_gendered_words():
    terms = load_terms()
    assert list(terms) == ["[NAME]", "[RELIGION]", "[PERSON]"]
    names = terms["[NAME]"]
    assert len(names) == 24
    assert sum(t.groups["gender"] == "female" for t in names) == 12
    assert len({t.groups["origin"] for t in names}) == 6
    assert {t.groups["gender"] for t in terms["[PERSON]"]} == {"female", "male"}
    assert "Muslim" in [t.text for t in terms["[RELIGION]"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"NAME": ["a", "b"]}', r"'NAME' is not a placeholder"),
        ('{"[NAME]": ["a"]}', r"\[NAME\] needs a list of at least two terms"),
        ('{"[NAME]": ["a", "a"]}', r"\[NAME\] lists the term 'a' twice"),
        ('{"[NAME]": ["a", {"name": "b"}]}', r"\[NAME\]\[1\]: expected a term string"),
        ('{"[NAME]": ["a", {"term": "b", "gender": 1}]}', r"group values must be strings"),
        ("[1, 2]", r"expected a JSON object mapping placeholders"),
        ("{not json", r"not valid JSON"),
    ],
)
def test_bad_terms_files_are_named(tmp_path, content, message):
    path = tmp_path / "terms.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=re.escape(str(path)) + ".*" + message):
        load_terms(path)
    with pytest.raises(GoEmoXUsageError, match="no such terms file"):
        load_terms(tmp_path / "missing.json")


def test_templates_keep_only_sentences_with_placeholders(tmp_path):
    builtin = load_templates("builtin")
    assert len(builtin) >= 30 and all(re.search(r"\[[A-Z]+\]", t) for t in builtin)
    assert {p for p in ("[NAME]", "[RELIGION]", "[PERSON]") if any(p in t for t in builtin)} == {
        "[NAME]",
        "[RELIGION]",
        "[PERSON]",
    }
    path = tmp_path / "t.txt"
    path.write_text("no placeholder here\n[NAME] is here\n[NAME] is here\nI am [RELIGION]\n", encoding="utf-8")
    assert load_templates(str(path)) == ["[NAME] is here", "I am [RELIGION]"]


def test_summary_numbers_match_a_hand_computation():
    # 2 templates x 3 terms x 2 labels
    scores = np.array(
        [
            [[0.9, 0.2], [0.3, 0.2], [0.3, 0.2]],  # joy mean 0.5: changes +0.4, -0.2, -0.2; anger constant
            [[0.6, 0.1], [0.6, 0.7], [0.6, 0.4]],  # joy constant; anger mean 0.4: changes -0.3, +0.3, 0
        ]
    )
    terms = [IdentityTerm("Emily", {"gender": "female"}), IdentityTerm("Greg", {"gender": "male"})]
    terms.append(IdentityTerm("Jamal", {"gender": "male"}))
    probe = PlaceholderProbe("[NAME]", terms, ["[NAME] won", "[NAME] lost"], scores)
    summary = summarise_probe(probe, LABELS, [0.5, 0.5])
    joy, anger = summary["labels"]["joy"], summary["labels"]["anger"]
    assert joy["mean_abs_change"] == pytest.approx((0.4 + 0.2 + 0.2) / 6)
    assert joy["max_abs_change"] == pytest.approx(0.4)
    assert joy["mean_range"] == pytest.approx((0.6 + 0.0) / 2)
    assert joy["most_moving_term"] == "Emily"
    assert joy["most_moving_term_mean_change"] == pytest.approx(0.2)
    assert joy["max_change_example"] == {
        "template": "[NAME] won",
        "term": "Emily",
        "score": pytest.approx(0.9),
        "template_mean_score": pytest.approx(0.5),
    }
    assert joy["flip_rate"] == pytest.approx(0.5)  # template 1: 0.9 vs 0.3 at threshold 0.5
    assert anger["mean_abs_change"] == pytest.approx(0.6 / 6)
    assert anger["most_moving_term"] in ("Emily", "Greg")
    assert abs(anger["most_moving_term_mean_change"]) == pytest.approx(0.15)
    assert anger["flip_rate"] == pytest.approx(0.5)
    assert summary["label_set_flip_rate"] == pytest.approx(1.0)
    female, male = summary["group_mean_change"]["gender"]["female"], summary["group_mean_change"]["gender"]["male"]
    assert female["joy"] == pytest.approx((0.4 + 0.0) / 2)
    assert male["joy"] == pytest.approx((-0.2 - 0.2 + 0 + 0) / 4)
    assert summary["term_mean_change"]["Jamal"]["anger"] == pytest.approx(0.0)


def test_run_substitutes_every_term_and_finds_the_biased_one():
    terms = {
        "[NAME]": [IdentityTerm("Emily", {"gender": "female"}), IdentityTerm("Greg", {"gender": "male"})],
        "[TEAM]": [IdentityTerm("a"), IdentityTerm("b")],
    }
    templates = ["[NAME] called [NAME]", "Hi [NAME], I am [RELIGION]", "[NAME] won", "no placeholder"]
    probes = run_bias_probe(KeywordClassifier(), templates, terms, show_progress=False)
    assert [p.placeholder for p in probes] == ["[NAME]"]  # no template holds [TEAM]
    probe = probes[0]
    assert probe.templates == templates[:3] and probe.scores.shape == (3, 2, 2)
    summary = summarise_probe(probe, LABELS, [0.5, 0.5])
    assert summary["labels"]["joy"]["mean_abs_change"] == pytest.approx(0.4)
    assert summary["labels"]["joy"]["most_moving_term"] == "Emily"
    assert summary["labels"]["joy"]["flip_rate"] == 1.0
    assert summary["labels"]["anger"]["max_abs_change"] == 0.0
    assert summary["group_mean_change"]["gender"]["female"]["joy"] == pytest.approx(0.4)
    limited = run_bias_probe(KeywordClassifier(), templates, terms, max_templates=2, show_progress=False)
    assert len(limited[0].templates) == 2
    with pytest.raises(GoEmoXUsageError, match="--max_templates must be at least 1"):
        run_bias_probe(KeywordClassifier(), templates, terms, max_templates=0, show_progress=False)
    with pytest.raises(GoEmoXUsageError, match="no template holds any of the placeholders"):
        run_bias_probe(KeywordClassifier(), ["plain text"], terms, show_progress=False)


def test_bias_probe_command_writes_report_and_plots(tmp_path, tiny_encoder_factory, tiny_tokenizer):
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    model.save_pretrained(tmp_path / "model")
    tiny_tokenizer.save_pretrained(tmp_path / "model")
    terms = tmp_path / "terms.json"
    terms.write_text(json.dumps({"[PERSON]": ["mother", "father"], "[NAME]": ["Emily", "Greg", "Jamal"]}))
    command = ["bias-probe", "--model", str(tmp_path / "model"), "--templates", "builtin"]
    assert main([*command, "--bias_terms", str(terms), "--output_dir", str(tmp_path / "out")]) == 0
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert analysis["bias_probe"]["placeholders"]["[NAME]"]["terms"] == ["Emily", "Greg", "Jamal"]
    assert analysis["bias_probe"]["placeholders"]["[PERSON]"]["n_templates"] == 12
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### [PERSON]: 12 templates x 2 terms" in report
    person = analysis["bias_probe"]["placeholders"]["[PERSON]"]["labels"]
    largest = max(person, key=lambda name: person[name]["max_abs_change"])
    assert f'Largest single change, `{largest}`: "{person[largest]["max_change_example"]["template"]}"' in report
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        assert (tmp_path / "out" / link).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "bias_person.png").is_file() and (tmp_path / "out" / "bias_name.png").is_file()
