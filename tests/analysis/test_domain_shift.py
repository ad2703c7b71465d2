import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from goemox import GoEmoXForSequenceClassification
from goemox.analysis.domain_shift import (
    DomainScores,
    TextLoader,
    analyze_domains,
    binary_entropy,
    domain_summary,
    js_divergence,
    js_matrices,
    ood_auroc,
    sample_texts,
    score_entropy,
)
from goemox.analysis.ood import store_ood_cutoff
from goemox.cli import main
from goemox.data.domains import parse_domain, parse_text_source
from goemox.errors import GoEmoXUsageError
from goemox.inference.classifier import EmotionClassifier
from goemox.scores import negative_energy

LABELS = ["joy", "anger", "neutral"]
IN_TEXTS = ["i am so happy today", "thank you so much", "this is great news", "i love it", "what a day", "so glad"]
OUT_TEXTS = ["fix typo in docs", "update dependencies", "remove unused import", "bump version"]


def logit(p: float) -> float:
    return math.log(p / (1 - p))


# ---------------------------------------------------------------------------------------------------- statistics


def test_domain_summary_counts_collapse_neutral_and_thresholded_shares_exactly():
    probs = np.array(
        [
            [0.9, 0.1, 0.2],  # top-1 joy; joy
            [0.1, 0.2, 0.8],  # top-1 neutral; neutral
            [0.3, 0.1, 0.7],  # top-1 neutral; neutral
            [0.6, 0.7, 0.1],  # top-1 anger; joy + anger
            [0.2, 0.3, 0.4],  # top-1 neutral; no label
        ]
    )
    scores = DomainScores("d", "src", np.vectorize(logit)(probs), n_available=9)
    summary = domain_summary(scores, LABELS, [0.5, 0.5, 0.5])
    assert summary["top1_mode_label"] == "neutral"
    assert summary["collapse_rate"] == pytest.approx(3 / 5)
    assert summary["neutral_share"] == pytest.approx(3 / 5)
    assert summary["neutral_share_thresholded"] == pytest.approx(2 / 5)
    assert summary["no_label_share"] == pytest.approx(1 / 5)
    assert summary["mean_labels_per_text"] == pytest.approx(5 / 5)
    assert summary["thresholded_distribution"] == pytest.approx({"joy": 2 / 5, "anger": 1 / 5, "neutral": 2 / 5})
    assert summary["top1_distribution"] == pytest.approx({"joy": 1 / 5, "anger": 1 / 5, "neutral": 3 / 5})
    assert summary["mean_max_probability"] == pytest.approx((0.9 + 0.8 + 0.7 + 0.7 + 0.4) / 5)
    assert (summary["n_texts"], summary["n_available"]) == (5, 9)
    # assignments: joy 2, anger 1, neutral 2, plus 1 text without a label -> 6
    assert scores.assignment_distribution([0.5] * 3) == pytest.approx([2 / 6, 1 / 6, 2 / 6, 1 / 6])
    # the per-label threshold decides: a 0.75 neutral threshold keeps only the 0.8 row
    assert domain_summary(scores, LABELS, [0.5, 0.5, 0.75])["neutral_share_thresholded"] == pytest.approx(1 / 5)


def test_neutral_share_is_none_without_a_neutral_label():
    scores = DomainScores("d", "src", np.array([[1.0, -1.0], [-1.0, 2.0]]), n_available=2)
    summary = domain_summary(scores, ["joy", "anger"], [0.5, 0.5])
    assert summary["neutral_share"] is None and summary["neutral_share_thresholded"] is None
    assert summary["collapse_rate"] == pytest.approx(0.5)


def test_js_divergence_matches_a_hand_computation_in_bits():
    # M = [0.25, 0.5, 0.25]; KL(p||M) = 0.5*log2(2) + 0.5*log2(1) = 0.5 = KL(q||M); JS = 0.5
    assert js_divergence([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]) == pytest.approx(0.5)
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert js_divergence([0.2, 0.8], [0.2, 0.8]) == pytest.approx(0.0, abs=1e-12)
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    m = (p + q) / 2
    expected = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    assert js_divergence(p, q) == pytest.approx(expected)


def test_js_matrices_are_symmetric_with_zero_diagonal():
    a = DomainScores("a", "x", np.array([[3.0, -3.0, -3.0], [3.0, -3.0, -3.0]]), 2)
    b = DomainScores("b", "y", np.array([[-3.0, -3.0, 3.0], [3.0, -3.0, -3.0]]), 2)
    matrices = js_matrices([a, b], [0.5, 0.5, 0.5])
    # top-1: a = [1, 0, 0], b = [0.5, 0, 0.5] -> M = [0.75, 0, 0.25]
    expected = 0.5 * np.log2(1 / 0.75) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(0.5 / 0.25))
    assert matrices["top1"]["a"]["b"] == pytest.approx(expected)
    assert matrices["top1"]["b"]["a"] == pytest.approx(expected)
    assert matrices["top1"]["a"]["a"] == 0.0 and matrices["thresholded"]["b"]["b"] == 0.0
    # both labels clear 0.5 exactly where they are top-1, so the thresholded distributions agree here
    assert matrices["thresholded"]["a"]["b"] == pytest.approx(expected)


def test_energy_entropy_and_auroc_directions():
    # softplus(0) = ln 2, softplus(ln 3) = ln 4 -> E = -ln 8
    assert negative_energy(np.array([[0.0, math.log(3)]])) == pytest.approx([math.log(8)])
    assert score_entropy(np.array([[0.5, 0.5], [0.9, 0.0], [0.2, 0.2]])) == pytest.approx([1.0, 0.0, 1.0])
    # H(0.5) = 1 bit, H(0) = H(1) = 0, H(0.25) = 2 - 0.75 log2 3
    quarter = 2 - 0.75 * math.log2(3)
    assert binary_entropy(np.array([[0.5, 0.0], [1.0, 0.0], [0.25, 0.75]])) == pytest.approx([0.5, 0.0, quarter])
    confident = np.array([[4.0, -4.0, -4.0], [-4.0, 5.0, -4.0], [-4.0, -4.0, 6.0]])
    unsure = np.array([[-1.0, -2.0, -2.0], [-2.0, -1.5, -2.0], [-3.0, -3.0, -1.0]])
    # more evidence -> lower energy; the OOD score -E is higher in-domain
    assert negative_energy(confident).min() > negative_energy(unsure).max()
    assert ood_auroc(negative_energy(confident), negative_energy(unsure)) == 1.0
    assert ood_auroc(negative_energy(unsure), negative_energy(confident)) == 0.0
    assert ood_auroc(np.array([0.9, 0.8, 0.3]), np.array([0.4, 0.2])) == pytest.approx(5 / 6)


def test_sample_texts_is_seeded_and_keeps_order():
    texts = [f"t{i}" for i in range(50)]
    first = sample_texts(texts, 10, seed=3)
    assert first == sample_texts(texts, 10, seed=3) != sample_texts(texts, 10, seed=4)
    assert len(first) == 10 and first == sorted(first, key=texts.index)
    assert sample_texts(texts, None, 0) == texts and sample_texts(texts, 80, 0) == texts


# ---------------------------------------------------------------------------------------------------- domain specs


def test_domain_specs_resolve_files_columns_and_dataset_splits(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,body,text\n1,x,y\n", encoding="utf-8")
    (tmp_path / "ge").mkdir()
    monkeypatch.chdir(tmp_path)
    txt = parse_domain("reddit=a.txt")
    assert (txt.name, txt.source.path, txt.source.column, txt.source.split) == ("reddit", "a.txt", None, None)
    assert parse_domain("x=b.csv:body").source.column == "body"
    assert parse_domain("x=b.csv").source.column == "text"
    assert parse_domain("x=b.csv", text_column="id").source.column == "id"
    folder = parse_domain(f"ge={tmp_path / 'ge'}:dev").source
    assert (folder.path, folder.split, folder.is_dataset) == (str(tmp_path / "ge"), "validation", True)
    assert parse_text_source("ge").split == "test"
    assert parse_text_source("demo:train").split == "train"
    hub = parse_text_source("google-research-datasets/go_emotions:validation")
    assert (hub.path, hub.split) == ("google-research-datasets/go_emotions", "validation")
    assert TextLoader().texts(parse_text_source("b.csv:body")) == ["x"]
    assert TextLoader().texts(txt.source) == ["one", "two"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("reddit", r"--domain 'reddit': expected NAME=SOURCE"),
        ("=a.txt", r"--domain '=a.txt': expected NAME=SOURCE"),
        ("x=", r"--domain 'x=': expected NAME=SOURCE"),
        ("a/b=a.txt", r"--domain 'a/b=a.txt': the name 'a/b' may not contain"),
        ("x=missing.txt", r"--domain 'x=missing.txt': 'missing.txt': no such file missing.txt"),
        ("x=a.txt:body", r"--domain 'x=a.txt:body': 'a.txt:body': a.txt is read as plain text .* no column 'body'"),
        ("x=ge:holdout", r"--domain 'x=ge:holdout': 'ge:holdout': unknown split 'holdout'"),
        ("x=./nowhere:test", r"--domain 'x=./nowhere:test': .*no such file or folder ./nowhere"),
        ("x=b.csv:", r"nothing after ':'"),
        ("x=zeros", r"--domain 'x=zeros': 'zeros': zeros is not a regular file \(a device"),
        ("x=zeros:test", r"'zeros:test': zeros is not a regular file"),
    ],
)
def test_bad_domain_specs_name_the_spec(tmp_path, monkeypatch, spec, message):
    (tmp_path / "a.txt").write_text("one\n", encoding="utf-8")
    (tmp_path / "zeros").symlink_to("/dev/zero")
    (tmp_path / "b.csv").write_text("text\nx\n", encoding="utf-8")
    (tmp_path / "ge").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GoEmoXUsageError, match=message):
        parse_domain(spec)


def test_loading_errors_name_the_source(tmp_path):
    (tmp_path / "b.csv").write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(GoEmoXUsageError, match=r"'.*b.csv:text': .*b.csv:1: no column 'text'"):
        TextLoader().texts(parse_text_source(f"{tmp_path / 'b.csv'}:text"))
    with pytest.raises(GoEmoXUsageError, match=r"'demo:test': .*unknown label"):
        TextLoader("goemotions").texts(parse_text_source("demo:test"))
    assert len(TextLoader("ten").texts(parse_text_source("demo:test"))) > 10


# ---------------------------------------------------------------------------------------------------- models


@pytest.fixture
def goemox_model(tmp_path, tiny_encoder_factory, tiny_tokenizer) -> Path:
    torch.manual_seed(0)
    model = GoEmoXForSequenceClassification.from_encoder(str(tiny_encoder_factory("bert")), LABELS)
    model.config.thresholds = [0.4, 0.5, 0.6]
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def native_model(tmp_path, tiny_tokenizer) -> Path:
    """A plain BertForSequenceClassification: no goemox keys, no label named neutral."""
    torch.manual_seed(1)
    config = BertConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
        id2label={0: "positive", 1: "negative"},
        label2id={"positive": 0, "negative": 1},
        problem_type="multi_label_classification",
    )
    folder = tmp_path / "native"
    BertForSequenceClassification(config).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def text_files(tmp_path) -> dict[str, Path]:
    files = {}
    for name, texts in (("in", IN_TEXTS), ("out", OUT_TEXTS), ("val", IN_TEXTS[::-1] + ["so happy", "thanks"])):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text("\n".join(texts) + "\n", encoding="utf-8")
    return files


def test_analysis_numbers_match_the_model_and_the_cutoff_round_trips(goemox_model, text_files, tmp_path):
    clf = EmotionClassifier.from_pretrained(str(goemox_model), device="cpu")
    domains = [parse_domain(f"chat={text_files['in']}"), parse_domain(f"dev={text_files['out']}")]
    result = analyze_domains(
        clf,
        domains,
        model_name=str(goemox_model),
        validation=parse_text_source(str(text_files["val"])),
        ood_quantile=0.25,
        ood_score="max_probability",
        show_progress=False,
    )
    analysis = result.analysis
    probs_in, probs_out = clf.predict_proba(IN_TEXTS), clf.predict_proba(OUT_TEXTS)
    chat, dev = analysis["domains"]["chat"], analysis["domains"]["dev"]
    assert analysis["in_domain"] == "chat" and analysis["thresholds"] == [0.4, 0.5, 0.6]
    assert chat["ood_auroc_max_probability"] is None and chat["ood_auroc_energy"] is None
    top_in, top_out = probs_in.max(axis=1), probs_out.max(axis=1)
    expected_auroc = np.mean([[float(a > b) + 0.5 * float(a == b) for b in top_out] for a in top_in])
    assert dev["ood_auroc_max_probability"] == pytest.approx(expected_auroc, abs=1e-6)
    assert chat["mean_max_probability"] == pytest.approx(top_in.mean(), abs=1e-6)
    assert dev["neutral_share"] == pytest.approx(np.mean(probs_out.argmax(axis=1) == 2))
    assert dev["long_text"] == {**clf.long_text_report.to_dict(), "texts": len(OUT_TEXTS), "windows": len(OUT_TEXTS)}
    val_top = clf.predict_proba(text_files["val"].read_text().split("\n")[:-1]).max(axis=1)
    cutoff = analysis["ood_cutoff"]
    assert cutoff["cutoff"] == pytest.approx(np.quantile(val_top, 0.25), abs=1e-6)
    assert (cutoff["score"], cutoff["quantile"], cutoff["n_texts"]) == ("max_probability", 0.25, 8)
    assert dev["flagged_share"] == pytest.approx(np.mean(top_out < cutoff["cutoff"]), abs=1e-6)
    val_logits = clf.predict_logits(text_files["val"].read_text().split("\n")[:-1]).astype(np.float64)
    energy_cutoff = analysis["ood_cutoffs"]["negative_energy"]
    assert energy_cutoff["cutoff"] == pytest.approx(np.quantile(negative_energy(val_logits), 0.25))
    out_negative_energy = negative_energy(clf.predict_logits(OUT_TEXTS))
    assert dev["flagged_shares"]["negative_energy"] == pytest.approx(
        np.mean(out_negative_energy < energy_cutoff["cutoff"])
    )
    assert analysis["ood_cutoffs"]["max_probability"] == cutoff
    assert set(analysis["js_divergence"]) == {"top1", "thresholded"}
    json.dumps(analysis)  # every number is JSON-serialisable
    default = analyze_domains(
        clf, domains, model_name="m", validation=parse_text_source(str(text_files["val"])), show_progress=False
    ).analysis
    assert default["ood_cutoff"]["quantile"] == 0.05
    assert default["ood_cutoff"]["score"] == "negative_energy"  # the default stored score

    original = (goemox_model / "config.json").read_text()
    written = store_ood_cutoff(goemox_model, cutoff, copy_to=tmp_path / "copy")
    assert written == tmp_path / "copy" / "config.json"
    assert (goemox_model / "config.json").read_text() == original
    stored = EmotionClassifier.from_pretrained(str(tmp_path / "copy"), device="cpu")
    assert stored.ood_cutoff == pytest.approx(cutoff["cutoff"])
    assert json.loads(written.read_text())["ood_cutoff"] == {
        k: cutoff[k] for k in ("score", "cutoff", "source", "quantile")
    }
    flags = [p.unfamiliar for p in stored.predict(OUT_TEXTS + IN_TEXTS)]
    assert flags == [bool(t < cutoff["cutoff"]) for t in np.r_[top_out, top_in]]
    with pytest.raises(GoEmoXUsageError, match="already holds files"):
        store_ood_cutoff(goemox_model, cutoff, copy_to=tmp_path / "copy")

    store_ood_cutoff(goemox_model, cutoff)  # in place: only ood_cutoff is added
    before, after = json.loads(original), json.loads((goemox_model / "config.json").read_text())
    assert after.pop("ood_cutoff")["cutoff"] == cutoff["cutoff"] and after == before
    assert [p.name for p in goemox_model.iterdir() if p.name.startswith(".")] == []


def test_analysis_refuses_repeated_names_and_unknown_in_domain(goemox_model, text_files):
    clf = EmotionClassifier.from_pretrained(str(goemox_model), device="cpu")
    same = [parse_domain(f"a={text_files['in']}"), parse_domain(f"a={text_files['out']}")]
    with pytest.raises(GoEmoXUsageError, match="'a' is given twice"):
        analyze_domains(clf, same, model_name="m", show_progress=False)
    with pytest.raises(GoEmoXUsageError, match="at least two domains"):
        analyze_domains(clf, same[:1], model_name="m", show_progress=False)
    pair = [parse_domain(f"a={text_files['in']}"), parse_domain(f"b={text_files['out']}")]
    with pytest.raises(GoEmoXUsageError, match="--in_domain 'c' is not one of"):
        analyze_domains(clf, pair, model_name="m", in_domain="c", show_progress=False)
    with pytest.raises(GoEmoXUsageError, match="--max_texts must be at least 1"):
        analyze_domains(clf, pair, model_name="m", max_texts=0, show_progress=False)
    with pytest.raises(GoEmoXUsageError, match="--ood_quantile must be between 0 and 1"):
        analyze_domains(clf, pair, model_name="m", ood_quantile=5, show_progress=False)


def test_cli_on_a_native_model_writes_report_plots_and_analysis(goemox_cli, native_model, text_files, tmp_path):
    out = tmp_path / "analysis"
    result = goemox_cli(
        "analyze",
        "--model",
        str(native_model),
        "--domain",
        f"chat={text_files['in']}",
        "--domain",
        f"dev={text_files['out']}",
        "--in_domain_validation",
        str(text_files["val"]),
        "--output_dir",
        str(out),
        "--bias_probe",
        "builtin",
        "--max_templates",
        "2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["label_names"] == ["positive", "negative"]
    assert analysis["thresholds"] == [0.5, 0.5] and analysis["thresholds_stored"] is False
    assert analysis["domains"]["dev"]["neutral_share"] is None
    assert 0 <= analysis["domains"]["dev"]["ood_auroc_energy"] <= 1
    assert set(analysis["bias_probe"]["placeholders"]) == {"[NAME]", "[RELIGION]", "[PERSON]"}
    report = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"label_distribution.png", "confidence_entropy.png", "js_divergence.png", "bias_name.png"} <= set(links)
    assert all((out / link).is_file() and (out / link).read_bytes()[:4] == b"\x89PNG" for link in links)
    assert "n/a" in report  # no neutral label
    rerun = goemox_cli("analyze", "--model", str(native_model), "--domain", "a=x.txt", "--output_dir", str(out))
    assert rerun.returncode == 2


def test_cli_stores_the_cutoff_into_a_copy_only_when_asked(goemox_model, text_files, tmp_path, capsys):
    common = ["analyze", "--model", str(goemox_model), "--domain", f"chat={text_files['in']}"]
    common += ["--domain", f"dev={text_files['out']}", "--in_domain_validation", str(text_files["val"])]
    original = (goemox_model / "config.json").read_text()
    assert main([*common, "--output_dir", str(tmp_path / "a")]) == 0
    assert (goemox_model / "config.json").read_text() == original
    capsys.readouterr()
    copy = tmp_path / "copy"
    store = ["--store_ood_cutoff", "--model_copy", str(copy)]  # the negative energy by default
    assert main([*common, "--output_dir", str(tmp_path / "b"), *store]) == 0
    assert "Stored ood_cutoff" in capsys.readouterr().out
    analysis = json.loads((tmp_path / "b" / "analysis.json").read_text())
    stored = json.loads((copy / "config.json").read_text())["ood_cutoff"]
    kept = ("score", "cutoff", "source", "quantile")
    assert stored == {key: analysis["ood_cutoffs"]["negative_energy"][key] for key in kept}
    assert analysis["ood_cutoff_stored_in"] == str(copy / "config.json")
    assert (goemox_model / "config.json").read_text() == original
    assert main(["predict", "--model", str(copy), "--input", str(text_files["out"]), "--output", "-"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(OUT_TEXTS)
    scores = negative_energy(EmotionClassifier.from_pretrained(str(copy), device="cpu").predict_logits(OUT_TEXTS))
    assert [row["unfamiliar"] for row in rows] == [bool(v < stored["cutoff"]) for v in scores]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--domain", "reddit"], "--domain 'reddit': expected NAME=SOURCE"),
        (["--domain", "a=nothere.txt", "--domain", "b=nothere.txt"], "no such file nothere.txt"),
        (["--model_copy", "x"], "--model_copy only applies with --store_ood_cutoff"),
        (["--store_ood_cutoff"], "--store_ood_cutoff needs in-domain validation texts"),
        (["--in_domain", "zzz"], "--in_domain 'zzz' is not one of the domains"),
    ],
)
def test_cli_usage_errors_are_one_line(goemox_model, text_files, tmp_path, capsys, extra, message):
    args = ["analyze", "--model", str(goemox_model), "--output_dir", str(tmp_path / "o")]
    domains = ["--domain", f"a={text_files['in']}", "--domain", f"b={text_files['out']}"]
    assert main([*args, *(extra if extra[0] == "--domain" else domains + extra)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_goemotions_folder_splits_as_domains(shared_goemotions, goemox_model, tmp_path):
    clf = EmotionClassifier.from_pretrained(str(goemox_model), device="cpu")
    domains = [parse_domain(f"test={shared_goemotions}:test"), parse_domain(f"dev={shared_goemotions}:dev")]
    result = analyze_domains(
        clf,
        domains,
        model_name="tiny",
        validation=parse_text_source(f"{shared_goemotions}:validation"),
        max_texts=40,
        loader=TextLoader("goemotions"),
        show_progress=False,
    )
    assert result.analysis["domains"]["test"]["n_available"] == 5427
    assert result.analysis["domains"]["dev"]["n_texts"] == 40
    assert result.analysis["ood_cutoff"]["n_texts"] == 40


def test_onnx_backend_runs_analyze_with_the_bias_probe_and_bias_probe(goemox_model, text_files, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from goemox.exporters.onnx import export_onnx

    exported = tmp_path / "onnx"
    export_onnx(goemox_model, exported)
    out = tmp_path / "analysis"
    code = main(
        ["analyze", "--model", str(exported), "--backend", "onnx", "--domain", f"chat={text_files['in']}",
         "--domain", f"dev={text_files['out']}", "--output_dir", str(out), "--bias_probe", "builtin",
         "--max_templates", "2"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["model_type"] == "bert"  # the ONNX folder names the encoder family
    assert analysis["thresholds"] == pytest.approx([0.4, 0.5, 0.6])
    assert analysis["bias_probe"]["placeholders"]
    code = main(["bias-probe", "--model", str(exported), "--backend", "onnx", "--templates", "builtin",
                 "--max_templates", "2", "--output_dir", str(tmp_path / "bias")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "bias" / "analysis.json").read_text())["bias_probe"]["placeholders"]


def test_model_copy_is_checked_like_every_output_folder(goemox_model, tmp_path):
    cutoff = {"score": "max_probability", "cutoff": 0.3, "source": "test"}
    for copy in (goemox_model / "copy", goemox_model.parent, goemox_model):
        with pytest.raises(GoEmoXUsageError, match=f"--model_copy {copy} .* the input {goemox_model}"):
            store_ood_cutoff(goemox_model, cutoff, copy_to=copy)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(GoEmoXUsageError, match=r"--model_copy .* already holds files \(notes.txt\)"):
        store_ood_cutoff(goemox_model, cutoff, copy_to=tmp_path / "taken")
    written = store_ood_cutoff(goemox_model, cutoff, copy_to=tmp_path / "copy")
    assert json.loads(written.read_text())["ood_cutoff"] == cutoff
    assert "ood_cutoff" not in json.loads((goemox_model / "config.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# ---------------------------------------------------------------------------------------------- labelled domains

TWEETS = [("i am so happy today", "joy"), ("this makes me angry", "anger"), ("thank you so much", "joy"),
          ("just a normal day", "neutral"), ("so glad", "joy")]  # fmt: skip


def test_cli_scores_labelled_domains_in_their_own_labels(goemox_model, text_files, tmp_path, capsys):
    tweets = tmp_path / "tweets.jsonl"
    tweets.write_text("".join(json.dumps({"body": t, "label": label}) + "\n" for t, label in TWEETS), encoding="utf-8")
    label_map = tmp_path / "map.yaml"
    label_map.write_text("happy: joy\nother: [anger, neutral]\n", encoding="utf-8")
    renamed = tmp_path / "renamed.csv"
    rows = [f'"{t}",{"happy" if label == "joy" else "other"}\n' for t, label in TWEETS]
    renamed.write_text("body,label\n" + "".join(rows), encoding="utf-8")
    args = ["analyze", "--model", str(goemox_model), "--domain", f"chat={text_files['in']}"]
    args += ["--domain", f"dev={text_files['out']}", "--text_column", "body", "--label_column", "label"]
    assert main([*args, "--labelled_domain", f"tweets={tweets}", "--output_dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    analysis = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert set(analysis["domains"]) == {"chat", "dev"}
    scores = analysis["labelled_domains"]["tweets"]["single_label"]
    assert scores["labels"] == ["joy", "anger", "neutral"] and scores["rows_scored"] == 5
    probs = EmotionClassifier.from_pretrained(str(goemox_model), device="cpu").predict_proba([t for t, _ in TWEETS])
    truth = [LABELS.index(label) for _, label in TWEETS]
    assert scores["accuracy"] == pytest.approx(float(np.mean(probs.argmax(axis=1) == truth)))
    assert (scores["majority_label"], scores["majority_baseline_accuracy"]) == ("joy", pytest.approx(3 / 5))
    assert re.search(rf"^tweets +5 +{scores['accuracy']:.3f} .* joy$", out, re.MULTILINE)
    report = (tmp_path / "a" / "report.md").read_text()
    assert "## Labelled domains" in report and "### tweets" in report
    assert (tmp_path / "a" / "labelled_tweets_confusion.png").read_bytes()[:4] == b"\x89PNG"

    mapped = [
        "--labelled_domain",
        f"mine={renamed}",
        "--label_map",
        str(label_map),
        "--output_dir",
        str(tmp_path / "b"),
    ]
    assert main([*args, *mapped]) == 0
    entry = json.loads((tmp_path / "b" / "analysis.json").read_text())["labelled_domains"]["mine"]
    assert entry["label_map"]["groups"] == {"happy": ["joy"], "other": ["anger", "neutral"]}
    predicted = np.where(probs[:, 0] >= probs[:, 1:].max(axis=1), 0, 1)
    truth = [0 if label == "joy" else 1 for _, label in TWEETS]
    assert entry["single_label"]["accuracy"] == pytest.approx(float(np.mean(predicted == truth)))


def test_cli_labelled_domain_errors_are_one_line(goemox_model, text_files, tmp_path, capsys):
    tweets = tmp_path / "tweets.tsv"
    tweets.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in TWEETS) + "wow\tsurprise\n")
    args = ["analyze", "--model", str(goemox_model), "--output_dir", str(tmp_path / "o"), "--label_column", "label"]
    args += ["--domain", f"a={text_files['in']}", "--domain", f"b={text_files['out']}"]
    cases = [
        (["--labelled_domain", f"t={text_files['in']}"], "is plain text without labels"),
        (["--label_map", "ekman"], "--label_map only applies with --labelled_domain"),
        (["--labelled_domain", f"t={tweets}", "--labelled_domain", f"t={tweets}"], "the name 't' is given twice"),
        (["--labelled_domain", "t"], "--labelled_domain 't': expected NAME=SOURCE"),
        (["--labelled_domain", f"t={tweets}"], f"--labelled_domain t={tweets}: {tweets}:7: unknown label 'surprise'"),
    ]
    for extra, message in cases:
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if "goemox: error:" in line]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in err, (extra, err)
